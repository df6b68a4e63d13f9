// PCI configuration mechanism #1 and the two functions on bus 0, driven through the I/O bus as Linux's
// arch/x86/pci/direct.c drives them. Values are QEMU 7.2's `-M pc` (i440FX + PIIX3); "QEMU 7.2:" marks
// values read from qemu-system-i386 by a probe kernel. test-roms/src/i8042-pci.c checks the same against a live QEMU.
import { beforeEach, describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { checkState, StateError } from '../src/machine/device-state.ts';
import { PciHost } from '../src/devices/pci-host.ts';
import { VM } from '../src/machine/vm.ts';
import { loadRaw } from '../src/loader/raw.ts';

let bus: IoBus;
let pci: PciHost;
let resets: string[];
const address = (bus_: number, dev: number, fn: number, reg: number): number => (0x80000000 | (bus_ << 16) | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;
/** Linux's pci_conf1_read: CONFIG_ADDRESS, then an access of `size` at 0xCFC + (reg & 3). */
function read(dev: number, fn: number, reg: number, size: 1 | 2 | 4, busNo = 0): number {
  bus.out(0xcf8, 4, address(busNo, dev, fn, reg));
  return bus.in(0xcfc + (reg & (size === 2 ? 2 : 3)), size);
}
function write(dev: number, fn: number, reg: number, size: 1 | 2 | 4, v: number): void {
  bus.out(0xcf8, 4, address(0, dev, fn, reg));
  bus.out(0xcfc + (reg & (size === 2 ? 2 : 3)), size, v);
}

function attach(p: PciHost): void {
  bus = new IoBus();
  bus.register(0xcf8, 8, p, 'pci-config');
}

beforeEach(() => {
  resets = [];
  pci = new PciHost({ onReset: (how) => resets.push(how) });
  attach(pci);
});

describe('configuration mechanism #1', () => {
  it('passes Linux\'s pci_check_type1: outb 0x01 to 0xCFB, then 0x80000000 at 0xCF8 reads back', () => {
    bus.out(0xcfb, 1, 0x01);
    bus.out(0xcf8, 4, 0x80000000);
    expect(bus.in(0xcf8, 4)).toBe(0x80000000);
  });

  it('passes pci_sanity_check: some function on bus 0 is a host bridge (class 0x0600) or Intel', () => {
    const found = Array.from({ length: 256 }, (_, devfn) => read(devfn >> 3, devfn & 7, 0x0a, 2)).filter((c) => c === 0x0600);
    expect(found).toHaveLength(1);
  });

  it('writes CONFIG_ADDRESS only with a dword; narrower reads see it cut to their size, unshifted (QEMU 7.2)', () => {
    bus.out(0xcf8, 4, 0x8000abcd);
    bus.out(0xcf8, 1, 0x12); bus.out(0xcfa, 2, 0x3456); bus.out(0xcfb, 1, 0x00);
    expect(bus.in(0xcf8, 4)).toBe(0x8000abcd);
    // QEMU 7.2: inb 0xCF8/0xCFA/0xCFB → 0xCD, inw 0xCF8/0xCFA → 0xABCD; 0xCF9 is the reset control register
    expect([bus.in(0xcf8, 1), bus.in(0xcfa, 1), bus.in(0xcfb, 1), bus.in(0xcf8, 2), bus.in(0xcfa, 2)]).toEqual([0xcd, 0xcd, 0xcd, 0xabcd, 0xabcd]);
    expect(bus.in(0xcf9, 1)).toBe(0);
  });

  it('reads all ones with bit 31 clear, for absent devices, functions and buses; writes there change nothing', () => {
    bus.out(0xcf8, 4, 0x00000000);
    expect(bus.in(0xcfc, 4)).toBe(0xffffffff);
    bus.out(0xcfc, 4, 0);
    expect(read(0, 0, 0, 4)).toBe(0x12378086);
    expect(read(2, 0, 0, 4)).toBe(0xffffffff);
    expect(read(31, 7, 0xfc, 4)).toBe(0xffffffff);
    expect(read(0, 1, 0, 4)).toBe(0xffffffff);
    expect(read(1, 1, 0, 4)).toBe(0xffffffff); // QEMU's IDE is not modelled
    expect(read(0, 0, 0, 4, 1)).toBe(0xffffffff);
    expect(read(2, 0, 0x0e, 1)).toBe(0xff);
    expect(read(2, 0, 0x02, 2)).toBe(0xffff);
  });

  it('ignores CONFIG_ADDRESS bits 30-24 and 1-0 (QEMU 7.2: 0x81000000 selects 00:00.0)', () => {
    bus.out(0xcf8, 4, 0x81000000);
    expect(bus.in(0xcfc, 4)).toBe(0x12378086);
    bus.out(0xcf8, 4, 0x80000003);
    expect(bus.in(0xcfc, 4)).toBe(0x12378086);
  });

  it('reaches every byte and word of a register through 0xCFC-0xCFF', () => {
    expect([0, 1, 2, 3].map((r) => read(0, 0, r, 1))).toEqual([0x86, 0x80, 0x37, 0x12]);
    expect([read(0, 0, 0, 2), read(0, 0, 2, 2)]).toEqual([0x8086, 0x1237]);
  });
});

describe('00:00.0 i440FX and 00:01.0 PIIX3', () => {
  it('identify as QEMU\'s: IDs, class, revision, header type, subsystem', () => {
    expect([read(0, 0, 0x00, 4), read(0, 0, 0x08, 4), read(0, 0, 0x0e, 1), read(0, 0, 0x2c, 4)]).toEqual([0x12378086, 0x06000002, 0x00, 0x11001af4]);
    expect([read(1, 0, 0x00, 4), read(1, 0, 0x08, 4), read(1, 0, 0x0e, 1), read(1, 0, 0x2c, 4)]).toEqual([0x70008086, 0x06010000, 0x80, 0x11001af4]);
  });

  it('have QEMU\'s power-on command and status, and the PIIX3 its datasheet defaults', () => {
    expect([read(0, 0, 0x04, 2), read(0, 0, 0x06, 2), read(0, 0, 0x72, 1)]).toEqual([0x0000, 0x0000, 0x02]);
    expect([read(1, 0, 0x04, 2), read(1, 0, 0x06, 2)]).toEqual([0x0007, 0x0200]);
    expect([0x60, 0x61, 0x62, 0x63].map((r) => read(1, 0, r, 1))).toEqual([0x80, 0x80, 0x80, 0x80]);
  });

  it('keep read-only registers; command bits 0x0507, cache line, interrupt line and 0x40-0xFF are writable', () => {
    for (const dev of [0, 1]) {
      const before = [0x00, 0x08, 0x0c, 0x10, 0x2c, 0x34, 0x3c].map((r) => read(dev, 0, r, 4));
      for (let r = 0; r < 0x40; r += 4) write(dev, 0, r, 4, 0xffffffff);
      write(dev, 0, 0x06, 2, 0xffff);
      expect(read(dev, 0, 0x00, 4)).toBe(before[0]);
      expect(read(dev, 0, 0x08, 4)).toBe(before[1]);
      expect(read(dev, 0, 0x04, 2)).toBe(0x0507);
      expect(read(dev, 0, 0x0c, 4)).toBe((before[2] & 0xffffff00 | 0xff) >>> 0); // cache line size only
      expect(read(dev, 0, 0x10, 4)).toBe(0); // no BARs
      expect(read(dev, 0, 0x2c, 4)).toBe(before[4]);
      expect(read(dev, 0, 0x34, 4)).toBe(0);
      expect(read(dev, 0, 0x3c, 4)).toBe(0x000000ff); // interrupt line; pin 0
      write(dev, 0, 0x40, 4, 0x12345678);
      write(dev, 0, 0xfd, 1, 0x9a);
      expect([read(dev, 0, 0x40, 4), read(dev, 0, 0xfc, 4)]).toEqual([0x12345678, 0x00009a00]);
    }
  });

  it('a word write in the middle of a dword changes only its two bytes', () => {
    write(1, 0, 0x62, 2, 0x0b0a);
    expect(read(1, 0, 0x60, 4)).toBe(0x0b0a8080);
  });
});

describe('PIIX3 reset control register (0xCF9)', () => {
  it('keeps bit 1; writing bit 2 resets the machine and changes nothing else (QEMU 7.2: 0x0B reads back 0x02)', () => {
    bus.out(0xcf9, 1, 0x0b);
    expect(bus.in(0xcf9, 1)).toBe(0x02);
    expect(resets).toEqual([]);
    bus.out(0xcf9, 1, 0x06);
    expect(resets).toEqual(['PIIX3 reset control register 0xCF9']);
    expect(bus.in(0xcf9, 1)).toBe(0x02);
  });

  it('ends a VM\'s run with reason reset', () => {
    // mov al, 6; out 0xcf9, al (through dx); hlt
    const vm = new VM({ memory: 1 << 20 });
    loadRaw(vm, Uint8Array.from([0xb0, 0x06, 0x66, 0xba, 0xf9, 0x0c, 0xee, 0xf4]), { load: 0x1000, entry: 0x1000 });
    const exit = vm.run({ maxInstructions: 100 });
    expect([exit.reason, exit.message]).toEqual(['reset', 'the guest reset the machine (PIIX3 reset control register 0xCF9)']);
  });
});

describe('PCI saved state', () => {
  it('restores CONFIG_ADDRESS, the reset control register and both configuration spaces', () => {
    write(1, 0, 0x60, 1, 0x0b);
    write(0, 0, 0x04, 2, 0x0006);
    bus.out(0xcf9, 1, 0x02);
    bus.out(0xcf8, 4, address(1, 0, 0, 0x08)); // bus 1: CONFIG_ADDRESS need not select anything
    const saved = JSON.parse(JSON.stringify(pci.save())) as ReturnType<PciHost['save']>;
    checkState(pci.stateSchema, saved, 'pci');
    const copy = new PciHost();
    copy.load(saved);
    attach(copy);
    expect(bus.in(0xcf8, 4)).toBe(address(1, 0, 0, 0x08));
    expect(bus.in(0xcf9, 1)).toBe(0x02);
    expect([read(1, 0, 0x60, 1), read(0, 0, 0x04, 2)]).toEqual([0x0b, 0x0006]);
  });

  it('refuses a saved configuration space whose read-only registers differ (a snapshot cannot change what the device is)', () => {
    const good = pci.save();
    const forged = [...good.isaBridge];
    forged[2] = 0x11; // device ID
    expect(() => new PciHost().load({ ...good, isaBridge: forged })).toThrow(StateError);
    const bar = [...good.hostBridge];
    bar[0x10] = 0x01;
    expect(() => new PciHost().load({ ...good, hostBridge: bar })).toThrow(StateError);
  });
});
