// The 16550A model, driven through the I/O bus as a driver would. Expected values come from the
// PC16550D datasheet; where the test says "QEMU 7.2", the value was also read from QEMU's 16550 by a
// probe kernel (qemu-system-i386 -kernel, same register sequence).
import { beforeEach, describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { Uart16550 } from '../src/devices/uart16550.ts';

const COM1 = 0x3f8;
const THR = 0, RBR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

let bus: IoBus;
let uart: Uart16550;
let sent: number[];
let irqEdges: boolean[];
const inb = (reg: number): number => bus.in(COM1 + reg, 1);
const outb = (reg: number, v: number): void => bus.out(COM1 + reg, 1, v);

beforeEach(() => {
  bus = new IoBus();
  sent = [];
  irqEdges = [];
  uart = new Uart16550({ onTransmit: (b) => sent.push(b), onIrq: (l) => irqEdges.push(l) });
  bus.register(COM1, 8, uart, 'COM1');
});

describe('16550A reset state', () => {
  it('has the datasheet reset values', () => {
    expect(inb(IER)).toBe(0x00);
    expect(inb(IIR)).toBe(0x01);
    expect(inb(LCR)).toBe(0x00);
    expect(inb(MCR)).toBe(0x00);
    expect(inb(LSR)).toBe(0x60); // THRE | TEMT
    expect(inb(MSR)).toBe(0xb0); // bits 4-7 follow the inputs: CTS, DSR, DCD of a ready terminal (QEMU 7.2: 0xb0)
    expect(uart.irqLevel()).toBe(false);
  });

  it('is byte-wide on the bus: in ax, 0x3fc reads MCR and LSR (QEMU 7.2: 0x6008 after setting OUT2)', () => {
    outb(MCR, 0x08);
    expect(bus.in(COM1 + MCR, 2)).toBe(0x6008);
    expect(bus.in(COM1 + MCR, 4)).toBe(0x00b06008);
  });
});

describe('Linux 8250 autoconfig probe', () => {
  it('passes the IER test, the loopback test, FIFO detection as a 16550A and the scratch test', () => {
    // IER: only bits 0-3 exist
    outb(IER, 0);
    const scratch2 = inb(IER) & 0x0f;
    outb(IER, 0x0f);
    const scratch3 = inb(IER) & 0x0f;
    outb(IER, 0);
    expect([scratch2, scratch3]).toEqual([0, 0x0f]);
    outb(IER, 0xff);
    expect(inb(IER)).toBe(0x0f); // QEMU 7.2: 0x0f
    outb(IER, 0);

    // loopback: MCR = LOOP | RTS | OUT2 reads back CTS | DCD in MSR bits 4-7
    outb(MCR, 0x1a);
    expect(inb(MSR) & 0xf0).toBe(0x90); // QEMU 7.2: 0x90
    outb(MCR, 0);

    // FIFO detection: IIR bits 6-7 = 3 after enabling the FIFOs
    outb(FCR, 0x01);
    expect(inb(IIR) >> 6).toBe(3);
    outb(FCR, 0xc7);
    expect(inb(IIR)).toBe(0xc1); // QEMU 7.2: 0xc1
    // LCR = 0xBF / 0x80 "EFR" probes read IIR on a 16550A: non-zero, so not a 16650/16C660
    outb(LCR, 0xbf);
    expect(inb(2)).toBe(0xc1);
    outb(LCR, 0x80);
    expect(inb(2)).toBe(0xc1);
    outb(LCR, 0);
    // XScale UUE probe: IER bit 6 does not stick
    outb(IER, 0x40);
    expect(inb(IER) & 0x40).toBe(0);
    outb(IER, 0);
    outb(FCR, 0);
    expect(inb(IIR)).toBe(0x01);

    // scratch register
    outb(SCR, 0xa5);
    expect(inb(SCR)).toBe(0xa5);
    outb(SCR, 0x5a);
    expect(inb(SCR)).toBe(0x5a); // QEMU 7.2: 0x5a
  });

  it('programs the divisor latch through DLAB without disturbing THR/IER', () => {
    outb(IER, 0x05);
    outb(LCR, 0x83); // DLAB, 8N1
    outb(DLL, 0x34);
    outb(DLM, 0x12);
    expect([inb(DLL), inb(DLM), inb(IIR), inb(LCR)]).toEqual([0x34, 0x12, 0x01, 0x83]); // QEMU 7.2: 34 12 01 83
    expect(sent).toEqual([]); // the DLL write did not transmit
    outb(LCR, 0x03);
    expect([inb(IER), inb(LCR)]).toEqual([0x05, 0x03]);
    outb(LCR, 0x80);
    expect([inb(DLL), inb(DLM)]).toEqual([0x34, 0x12]); // the latch keeps its value
  });
});

describe('transmitter', () => {
  it('hands bytes to onTransmit at once and is always ready', () => {
    for (const c of 'Hi\n') {
      expect(inb(LSR) & 0x20).toBe(0x20);
      outb(THR, c.charCodeAt(0));
    }
    expect(String.fromCharCode(...sent)).toBe('Hi\n');
    expect(inb(LSR)).toBe(0x60);
  });

  it('raises the THRE interrupt on enabling ETBEI (rising edge only) and after each byte; IIR read acknowledges it', () => {
    outb(FCR, 0xc7);
    outb(IER, 0x02);
    expect(uart.irqLevel()).toBe(true);
    expect(inb(IIR)).toBe(0xc2); // QEMU 7.2: c2, then c1
    expect(inb(IIR)).toBe(0xc1);
    expect(uart.irqLevel()).toBe(false);
    outb(IER, 0x02); // unchanged: no new interrupt (QEMU 7.2: c1)
    expect(inb(IIR)).toBe(0xc1);
    outb(IER, 0);
    outb(IER, 0x02); // toggled: a new one (QEMU 7.2: c2)
    expect(inb(IIR)).toBe(0xc2);
    outb(THR, 0x41); // THR empties again at once
    expect(inb(IIR)).toBe(0xc2);
    expect(irqEdges).toEqual([true, false, true, false, true, false]);
  });

  it('drops a pending THRE interrupt when ETBEI is cleared', () => {
    outb(IER, 0x02);
    outb(IER, 0x00);
    outb(IER, 0x01);
    expect(inb(IIR)).toBe(0x01);
  });
});

describe('receiver', () => {
  it('16450 mode: one holding register, DR, a new byte overwrites an unread one and sets OE', () => {
    uart.receive(new Uint8Array([0x31]));
    expect(inb(LSR)).toBe(0x61);
    uart.receive(new Uint8Array([0x32, 0x33]));
    expect(inb(LSR)).toBe(0x63); // QEMU 7.2: 63
    expect(inb(LSR)).toBe(0x61); // OE is cleared by reading LSR
    expect(inb(RBR)).toBe(0x33); // QEMU 7.2: the last byte
    expect(inb(LSR)).toBe(0x60);
    expect(inb(RBR)).toBe(0x33); // RBR keeps the last byte (QEMU 7.2: 33)
  });

  it('FIFO mode: holds 16 bytes, keeps them and loses the rest on overflow', () => {
    outb(FCR, 0x07);
    uart.receive(new Uint8Array(20).map((_, i) => 0x61 + i));
    expect(inb(LSR)).toBe(0x63); // QEMU 7.2 (20 bytes in loopback): 63, then 61
    expect(inb(LSR)).toBe(0x61);
    const got: number[] = [];
    while (inb(LSR) & 1) got.push(inb(RBR));
    expect(got).toEqual(Array.from({ length: 16 }, (_, i) => 0x61 + i)); // QEMU 7.2: 16 bytes, last 'p'
    expect(inb(RBR)).toBe(0); // empty FIFO reads 0 (QEMU 7.2: 00)
  });

  it('reports received data at the trigger level, and a character timeout below it', () => {
    outb(FCR, 0x41); // FIFO on, trigger level 4
    outb(IER, 0x01);
    uart.receive(new Uint8Array([0x78, 0x79]));
    expect(inb(IIR)).toBe(0xcc); // below the trigger: timeout (QEMU 7.2 shows cc after four character times)
    uart.receive(new Uint8Array([0x7a, 0x7b]));
    expect(inb(IIR)).toBe(0xc4);
    expect(uart.irqLevel()).toBe(true);
    inb(RBR);
    expect(inb(IIR)).toBe(0xcc);
    inb(RBR); inb(RBR); inb(RBR);
    expect(inb(IIR)).toBe(0xc1);
    expect(uart.irqLevel()).toBe(false);
  });

  it('uses the trigger levels 1, 4, 8, 14 from FCR bits 6-7', () => {
    for (const [fcr, level] of [[0x01, 1], [0x41, 4], [0x81, 8], [0xc1, 14]]) {
      outb(FCR, fcr | 0x02); // also clears the receive FIFO
      outb(IER, 0x01);
      uart.receive(new Uint8Array(level - 1));
      expect(inb(IIR)).toBe(level === 1 ? 0xc1 : 0xcc);
      uart.receive(new Uint8Array(1));
      expect(inb(IIR)).toBe(0xc4);
    }
  });

  it('FCR: toggling bit 0 or writing bit 1 clears the receive FIFO; other bits need bit 0', () => {
    outb(FCR, 0x01);
    uart.receive(new Uint8Array([1]));
    outb(FCR, 0x00);
    expect(inb(LSR)).toBe(0x60); // QEMU 7.2: 60
    outb(FCR, 0x01);
    uart.receive(new Uint8Array([2]));
    outb(FCR, 0x03);
    expect(inb(LSR)).toBe(0x60); // QEMU 7.2: 60
    expect(inb(IIR)).toBe(0xc1);
    outb(FCR, 0x06); // bit 0 clear: FIFOs off (QEMU 7.2: IIR 01)
    expect(inb(IIR)).toBe(0x01);
    outb(FCR, 0xc0); // trigger bits without bit 0 are not programmed, FIFO stays off
    expect(uart.canReceive()).toBe(1);
  });

  it('line status interrupt on overrun has the highest priority and is cleared by reading LSR', () => {
    outb(IER, 0x07);
    uart.receive(new Uint8Array([0x31, 0x32]));
    expect(inb(IIR)).toBe(0x06); // QEMU 7.2: 06
    expect(inb(LSR)).toBe(0x63);
    expect(inb(IIR)).toBe(0x04); // then the data
    expect(inb(RBR)).toBe(0x32);
    expect(inb(IIR)).toBe(0x02); // then THRE (pending since ETBEI was enabled)
    expect(inb(IIR)).toBe(0x01);
  });
});

describe('loopback (MCR bit 4)', () => {
  it('loops transmitted bytes to the receiver instead of the line', () => {
    outb(FCR, 0x07);
    outb(MCR, 0x10);
    for (const b of [0x55, 0xaa, 0x00, 0xff]) outb(THR, b);
    expect(sent).toEqual([]);
    const got: number[] = [];
    while (inb(LSR) & 1) got.push(inb(RBR));
    expect(got).toEqual([0x55, 0xaa, 0x00, 0xff]);
    outb(MCR, 0x00);
    outb(THR, 0x42);
    expect(sent).toEqual([0x42]);
    expect(inb(LSR)).toBe(0x60);
  });

  it('wires DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD, and MCR keeps 5 bits', () => {
    outb(MCR, 0xff);
    expect(inb(MCR)).toBe(0x1f); // QEMU 7.2: 1f
    expect(inb(MSR) & 0xf0).toBe(0xf0);
    for (const [mcr, msr] of [[0x11, 0x20], [0x12, 0x10], [0x14, 0x40], [0x18, 0x80], [0x10, 0x00], [0x1a, 0x90]]) {
      outb(MCR, mcr);
      expect(inb(MSR) & 0xf0).toBe(msr);
    }
    outb(MCR, 0x00); // back to the external lines
    expect(inb(MSR) & 0xf0).toBe(0xb0); // QEMU 7.2: b0
  });

  it('latches MSR deltas (DCTS, DDSR, TERI on the trailing edge of RI, DDCD) and clears them on read', () => {
    outb(MCR, 0x10); // loopback, all outputs off: CTS DSR DCD drop
    expect(inb(MSR)).toBe(0x0b); // DDCD | DDSR | DCTS
    expect(inb(MSR)).toBe(0x00);
    outb(MCR, 0x14); // OUT1 → RI rises: no TERI yet
    expect(inb(MSR)).toBe(0x40);
    outb(MCR, 0x10); // RI falls: TERI
    expect(inb(MSR)).toBe(0x04);
    outb(MCR, 0x13); // DTR, RTS
    expect(inb(MSR)).toBe(0x33);
  });

  it('raises the modem status interrupt (lowest priority) when EDSSI is set', () => {
    outb(IER, 0x08);
    outb(MCR, 0x11); // DSR from DTR; CTS, DCD drop
    expect(inb(IIR)).toBe(0x00);
    expect(uart.irqLevel()).toBe(true);
    expect(inb(MSR)).toBe(0x29); // DSR, DDCD | DCTS
    expect(inb(IIR)).toBe(0x01);
    expect(uart.irqLevel()).toBe(false);
  });
});

describe('host input', () => {
  it('queueInput paces bytes into the FIFO as the guest reads them (no overrun)', () => {
    outb(FCR, 0x07);
    const text = 'the quick brown fox jumps over the lazy dog';
    uart.queueInput(new TextEncoder().encode(text));
    expect(uart.canReceive()).toBe(0);
    expect(uart.pendingInput).toBe(text.length - 16);
    let got = '';
    while (inb(LSR) & 1) got += String.fromCharCode(inb(RBR));
    expect(got).toBe(text);
    expect(inb(LSR)).toBe(0x60);
    expect(uart.pendingInput).toBe(0);
  });

  it('queueInput works in 16450 mode, one byte at a time', () => {
    uart.queueInput(new Uint8Array([1, 2, 3]));
    expect(uart.canReceive()).toBe(0);
    expect([inb(RBR), inb(RBR), inb(RBR)]).toEqual([1, 2, 3]);
    expect(inb(LSR)).toBe(0x60);
  });

  it('raises the receive interrupt when queued input arrives', () => {
    outb(IER, 0x01);
    expect(uart.irqLevel()).toBe(false);
    uart.queueInput(new Uint8Array([0x0d]));
    expect(uart.irqLevel()).toBe(true);
    expect(irqEdges).toEqual([true]);
    expect(inb(IIR)).toBe(0x04);
    inb(RBR);
    expect(uart.irqLevel()).toBe(false);
  });
});

it('reset() restores the reset state but keeps the divisor latch', () => {
  outb(LCR, 0x80); outb(DLL, 1); outb(LCR, 0x03);
  outb(IER, 0x0f); outb(MCR, 0x1f); outb(FCR, 0x01);
  uart.receive(new Uint8Array([1]));
  uart.reset();
  expect([inb(IER), inb(IIR), inb(LCR), inb(MCR), inb(LSR), inb(MSR)]).toEqual([0, 0x01, 0, 0, 0x60, 0xb0]);
  outb(LCR, 0x80);
  expect(inb(DLL)).toBe(1);
});
