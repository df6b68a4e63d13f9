// The 8042 keyboard controller with its PS/2 keyboard and mouse, driven through the I/O bus as Linux's
// i8042, atkbd and psmouse drivers drive it. Expected values are QEMU 7.2's (hw/input/pckbd.c, ps2.c);
// "QEMU 7.2:" marks values also read from qemu-system-i386 by a probe kernel. test-roms/src/i8042-pci.c checks
// the same protocol against a live QEMU, interrupts included.
import { beforeEach, describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { checkState, StateError } from '../src/machine/device-state.ts';
import { I8042 } from '../src/devices/i8042.ts';
import { VM } from '../src/machine/vm.ts';
import { loadRaw } from '../src/loader/raw.ts';

const DATA = 0x60, STATUS = 0x64;
const OBF = 0x01, SYS = 0x04, AUXDATA = 0x20;

let bus: IoBus;
let kbc: I8042;
let irq1: boolean[];
let irq12: boolean[];
let resets: string[];
const inb = (port: number): number => bus.in(port, 1);
const outb = (port: number, v: number): void => bus.out(port, 1, v);
const command = (c: number): void => outb(STATUS, c);
const data = (d: number): void => outb(DATA, d);
/** Every byte waiting, each tagged 'k' (keyboard or controller) or 'a' (AUXDATA), until OBF clears. */
function drain(): string[] {
  const out: string[] = [];
  for (let i = 0; i < 64 && inb(STATUS) & OBF; i++) {
    const aux = (inb(STATUS) & AUXDATA) !== 0;
    out.push(`${aux ? 'a' : 'k'}${inb(DATA).toString(16).padStart(2, '0')}`);
  }
  return out;
}

function attach(dev: I8042): void {
  bus = new IoBus();
  bus.register(DATA, 1, dev.dataPort, 'i8042-data');
  bus.register(STATUS, 1, dev.commandPort, 'i8042-command');
}

beforeEach(() => {
  irq1 = [];
  irq12 = [];
  resets = [];
  kbc = new I8042({ onIrq1: (l) => irq1.push(l), onIrq12: (l) => irq12.push(l), onReset: (how) => resets.push(how) });
  attach(kbc);
});

describe('8042 controller', () => {
  it('powers on as QEMU resets it: status 0x18, command byte 0x03, output port 0xCF', () => {
    expect(inb(STATUS)).toBe(0x18); // command/data and unlocked; no SYS before a self-test
    command(0x20);
    expect(drain()).toEqual(['k03']);
    command(0xd0);
    expect(drain()).toEqual(['kcf']);
  });

  it('self-test answers 0x55 and sets SYS; an empty buffer reads its last byte again', () => {
    command(0xaa);
    expect(inb(STATUS)).toBe(0x18 | SYS | OBF);
    expect(inb(DATA)).toBe(0x55);
    expect(inb(STATUS)).toBe(0x18 | SYS);
    expect(inb(DATA)).toBe(0x55);
    expect(inb(STATUS) & OBF).toBe(0);
  });

  it('keeps the command byte; 0xAD/0xAE and 0xA7/0xA8 flip its disable bits; interface tests answer 0', () => {
    command(0x60); data(0x65);
    command(0x20); expect(drain()).toEqual(['k65']);
    command(0xad); command(0x20); expect(drain()).toEqual(['k75']);
    command(0xae); command(0xa7); command(0x20); expect(drain()).toEqual(['k65']);
    command(0xa8); command(0x20); expect(drain()).toEqual(['k45']);
    command(0xab); command(0xa9); command(0xc0);
    expect(drain()).toEqual(['k80']); // replies not read in between: the last one replaced the others (QEMU keeps one controller byte)
    command(0xab); expect(drain()).toEqual(['k00']);
    command(0xa9); expect(drain()).toEqual(['k00']);
    command(0xc0); expect(drain()).toEqual(['k80']);
  });

  it('0xD2 / 0xD3 put a byte in the output buffer as keyboard or mouse data; 0xD1 writes the output port', () => {
    command(0xd2); data(0xab);
    expect(drain()).toEqual(['kab']);
    command(0xd3); data(0x5a);
    expect(drain()).toEqual(['a5a']);
    command(0xd1); data(0xdf);
    command(0xd0); expect(drain()).toEqual(['kdf']);
    // Bit 4 mirrors OBF: set while 0xD0's own reply waited, clear once it was read.
    command(0xdd); command(0xd0); expect(drain()).toEqual(['kcd']); // A20 off: bit 1 only
    command(0xdf); command(0xd0); expect(drain()).toEqual(['kcf']);
    expect(resets).toEqual([]);
  });

  it('raises IRQ1 for keyboard bytes and IRQ12 for mouse bytes only when the command byte enables them', () => {
    command(0x60); data(0x44); // interrupts off
    command(0xd2); data(0x11);
    expect(irq1).toEqual([]);
    command(0x60); data(0x45); // IRQ1 on while a keyboard byte waits: the line rises at once
    expect(irq1).toEqual([true]);
    expect(inb(DATA)).toBe(0x11);
    expect(irq1).toEqual([true, false]);
    command(0xd3); data(0x22);
    expect(irq12).toEqual([]); // IRQ12 not enabled
    expect(irq1).toEqual([true, false]); // and mouse data never raises IRQ1
    command(0x60); data(0x47);
    expect(irq12).toEqual([true]);
    expect(inb(DATA)).toBe(0x22);
    expect(irq12).toEqual([true, false]);
  });

  it('lowers and raises IRQ1 again for each byte of a multi-byte reply: one edge per byte', () => {
    command(0x60); data(0x45);
    data(0xf2); // identify: ACK, 0xAB, 0x41
    expect(irq1).toEqual([true]);
    expect([inb(DATA), inb(DATA), inb(DATA)]).toEqual([0xfa, 0xab, 0x41]);
    expect(irq1).toEqual([true, false, true, false, true, false]);
  });

  it('gates IRQ1 with the keyboard-disable bit; a disabled port keeps its bytes until enabled', () => {
    command(0x60); data(0x45);
    command(0xad);
    kbc.keyScancodes([0x1c]);
    expect(inb(STATUS) & OBF).toBe(0);
    expect(irq1).toEqual([]);
    command(0xae);
    expect(irq1).toEqual([true]);
    expect(drain()).toEqual(['k1e']);
  });

  it('a controller reply asked for while a keyboard byte waits comes after that byte, before the rest', () => {
    data(0xf2);
    command(0x20);
    expect(drain()).toEqual(['kfa', 'k03', 'kab', 'k83']);
  });

  it('a write to the keyboard re-enables its interface, a write to the mouse the aux interface (QEMU 7.2)', () => {
    command(0xad); command(0xa7);
    data(0xee);
    command(0xd4); data(0xf2);
    command(0x20);
    expect(drain()).toEqual(['kee', 'k03', 'afa', 'a00']);
  });

  it('resets the machine on 0xFE, on any pulse of output port bit 0, and on an output port write with bit 0 clear', () => {
    command(0xfe);
    command(0xf0);
    command(0xff); // pulses nothing
    command(0xf1); // bit 0 not pulsed
    command(0xd1); data(0xce);
    expect(resets).toEqual(['8042 command 0xFE', '8042 command 0xF0', '8042 output port written with bit 0 clear']);
  });

  it('ignores commands it does not know (0xA1 version, 0xC1) and port 0x60 data no command asked for goes to the keyboard', () => {
    command(0xa1); command(0xc1);
    expect(inb(STATUS) & OBF).toBe(0);
    data(0xee);
    expect(drain()).toEqual(['kee']);
  });
});

describe('PS/2 keyboard', () => {
  /** Each byte sent once the answer to the previous one was read, as a driver waits for its ACK. */
  const ask = (...bytes: number[]): string[] => bytes.flatMap((b) => { data(b); return drain(); });

  it('answers reset, identify, echo, LEDs, rate, scancode set and enable as QEMU 7.2 does', () => {
    expect(ask(0xff)).toEqual(['kfa', 'kaa']);
    expect(ask(0xf2)).toEqual(['kfa', 'kab', 'k83']); // untranslated at power-on
    command(0x60); data(0x40);
    expect(ask(0xf2)).toEqual(['kfa', 'kab', 'k41']);
    expect(ask(0xee)).toEqual(['kee']);
    expect(ask(0xed)).toEqual(['kfa']);
    expect(ask(0x07)).toEqual(['kfa']);
    expect(kbc.keyboard.leds).toBe(7);
    expect(ask(0xf3)).toEqual(['kfa']);
    expect(ask(0x00)).toEqual(['kfa']);
    expect(ask(0xf0, 0x00)).toEqual(['kfa', 'kfa', 'k41']); // translated set 2 reads 0x41
    expect(ask(0xf0, 0x01)).toEqual(['kfa', 'kfa']);
    expect(ask(0xf0, 0x00)).toEqual(['kfa', 'kfa', 'k43']);
    expect(ask(0xf0, 0x05)).toEqual(['kfa', 'kfe']);
    command(0x60); data(0x00);
    expect(ask(0xf0, 0x00)).toEqual(['kfa', 'kfa', 'k01']); // untranslated: the set's number (QEMU 7.2: 0xFA 0x02 for set 2)
    expect(ask(0xf4, 0xf5, 0xf6, 0xfa, 0x00)).toEqual(Array(5).fill('kfa'));
    expect(ask(0xfc, 0x1c)).toEqual(['kfa', 'kfa']);
  });

  it('answers an unknown command and 0x05 with 0xFE (resend)', () => {
    expect(ask(0xe8)).toEqual(['kfe']);
    expect(ask(0x05)).toEqual(['kfe']);
    expect(ask(0xf7)).toEqual(['kfe']);
  });

  it('drops unread replies when the next command arrives (QEMU\'s command reply queue)', () => {
    data(0xf2);
    expect(inb(DATA)).toBe(0xfa);
    data(0xee);
    expect(drain()).toEqual(['kee']);
  });

  it('sends host keys as set 1 while the controller translates, set 2 otherwise; none while scanning is off', () => {
    kbc.keyScancodes([0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75]); // A down, up; cursor up down, up
    expect(drain()).toEqual(['k1c', 'kf0', 'k1c', 'ke0', 'k75', 'ke0', 'kf0', 'k75']);
    command(0x60); data(0x40);
    kbc.keyScancodes([0x1c, 0xf0, 0x1c, 0xe0, 0x75, 0xe0, 0xf0, 0x75, 0x5a]);
    expect(drain()).toEqual(['k1e', 'k9e', 'ke0', 'k48', 'ke0', 'kc8', 'k1c']);
    expect(ask(0xf5)).toEqual(['kfa']);
    kbc.keyScancodes([0x1c]);
    expect(drain()).toEqual([]);
  });

  it('holds at most 16 bytes of key data', () => {
    kbc.keyScancodes(Array.from({ length: 20 }, () => 0x1c));
    expect(drain()).toHaveLength(16);
  });
});

describe('PS/2 mouse', () => {
  const aux = (...bytes: number[]): string[] => { for (const b of bytes) { command(0xd4); data(b); } return drain(); };

  it('answers reset with ACK, 0xAA, ID 0, all as mouse data; status before and after', () => {
    expect(aux(0xe9)).toEqual(['afa', 'a00', 'a00', 'a00']); // power-on: resolution and rate 0 (QEMU's device reset)
    expect(aux(0xff)).toEqual(['afa', 'aaa', 'a00']);
    expect(aux(0xe9)).toEqual(['afa', 'a00', 'a02', 'a64']);
    expect(aux(0xf2)).toEqual(['afa', 'a00']);
  });

  it('becomes an IntelliMouse (ID 3) after rates 200, 100, 80 and an Explorer (ID 4) after 200, 200, 80', () => {
    aux(0xff);
    aux(0xf3, 200, 0xf3, 100, 0xf3, 80);
    expect(aux(0xf2)).toEqual(['afa', 'a03']);
    aux(0xf3, 200, 0xf3, 200, 0xf3, 80);
    expect(aux(0xf2)).toEqual(['afa', 'a04']);
    expect(aux(0xeb)).toEqual(['afa', 'a08', 'a00', 'a00', 'a00']); // poll: a packet with no motion, wheel byte included
    expect(aux(0xff)).toEqual(['afa', 'aaa', 'a00']);
  });

  it('sets and reports status bits, resolution and rate; wrap mode echoes until 0xEC; unknown commands get no answer', () => {
    aux(0xff);
    expect(aux(0xe8, 3, 0xf3, 40, 0xe7, 0xf0, 0xf4)).toEqual(Array(7).fill('afa'));
    expect(aux(0xe9)).toEqual(['afa', 'a70', 'a03', 'a28']);
    expect(aux(0xe6, 0xea, 0xf5, 0xe9)).toEqual(['afa', 'afa', 'afa', 'afa', 'a00', 'a03', 'a28']);
    expect(aux(0xee, 0x12, 0xe9, 0xec, 0xf2)).toEqual(['afa', 'a12', 'ae9', 'afa', 'afa', 'a00']);
    expect(aux(0xe1)).toEqual([]);
    expect(aux(0xf6, 0xe9)).toEqual(['afa', 'afa', 'a00', 'a02', 'a64']);
  });
});

describe('8042 saved state', () => {
  it('restores bytes waiting in the output buffer, in the keyboard and in the mouse, and continues identically', () => {
    command(0x60); data(0x47);
    data(0xf2);
    command(0xd4); data(0xff);
    kbc.keyScancodes([0x1c]);
    expect(inb(DATA)).toBe(0xfa); // the keyboard's ACK
    const saved = JSON.parse(JSON.stringify(kbc.save())) as ReturnType<I8042['save']>;
    checkState(kbc.stateSchema, saved, 'i8042');
    const rest = drain();
    // Interleaved, as QEMU 7.2 interleaves them: reading a device's byte lowers its line before raising it
    // again, and in between the other device's byte takes the empty buffer.
    expect(rest).toEqual(['afa', 'kab', 'aaa', 'k41', 'a00', 'k1e']);

    const copy = new I8042();
    copy.load(saved);
    attach(copy);
    expect(drain()).toEqual(rest);
    expect(inb(DATA)).toBe(0x1e); // the last byte again
  });

  it('refuses states its own code could not reach', () => {
    const good = kbc.save();
    expect(() => new I8042().load({ ...good, awaiting: 0x20 })).toThrow(StateError);
    expect(() => new I8042().load({ ...good, status: good.status | 0x02 })).toThrow(StateError); // IBF never stays set
    expect(() => new I8042().load({ ...good, mode: 0x40 })).toThrow(StateError); // translate bit without a translating keyboard
    expect(() => new I8042().load({ ...good, keyboard: { ...good.keyboard, scancodeSet: 7 } })).toThrow(StateError);
    expect(() => new I8042().load({ ...good, mouse: { ...good.mouse, command: 0xf4 } })).toThrow(StateError);
  });
});

describe('8042 on the PC board', () => {
  it('after a 32-bit load is as SeaBIOS leaves it (QEMU 7.2: status 0x1C, command byte 0x61, keyboard translated)', () => {
    const vm = new VM({ memory: 1 << 20 });
    loadRaw(vm, Uint8Array.of(0xf4), { load: 0x1000, entry: 0x1000 });
    attach(vm.i8042);
    expect(inb(STATUS)).toBe(0x1c);
    command(0x20);
    expect(drain()).toEqual(['k61']);
    data(0xf2);
    expect(drain()).toEqual(['kfa', 'kab', 'k41']);
  });

  it('is at ports 0x60 and 0x64 with IRQ1 and IRQ12 on the PICs; 0xFE ends the run with reason reset', () => {
    // out 0x64, 0xAA; in al, 0x60 (0x55) → port 0xE9; out 0x64, 0xFE; hlt
    const code = [0xb0, 0xaa, 0xe6, 0x64, 0xe4, 0x60, 0xe6, 0xe9, 0xb0, 0xfe, 0xe6, 0x64, 0xf4];
    const debug: number[] = [];
    const vm = new VM({ memory: 1 << 20, debugcon: (b) => debug.push(...b) });
    loadRaw(vm, Uint8Array.from(code), { load: 0x1000, entry: 0x1000 });
    const exit = vm.run({ maxInstructions: 100 });
    expect(exit.reason).toBe('reset');
    expect(exit.message).toBe('the guest reset the machine (8042 command 0xFE)');
    expect(exit.eip).toBe(0x1000 + 12); // stopped after the OUT, before the HLT
    expect(debug).toEqual([0x55]);
    expect(vm.exitStats().find((s) => s.reason === 'RESET')?.count).toBe(1);
    expect(vm.board.slots.find((s) => s.name === 'i8042')?.ports.map((p) => p.base)).toEqual([0x60, 0x64]);
  });
});
