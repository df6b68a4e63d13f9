// The I/O APIC driven through its MMIO window as Linux's io_apic.c drives it (writel of the register to
// IOREGSEL at 0x00, readl/writel of IOWIN at 0x10, writel of a vector to the EOI register at 0x40). Expected
// values follow the 82093AA datasheet (register layout, reset state, mask and Remote IRR semantics) and the
// version QEMU's ioapic reports (0x20, 24 entries: Linux logs "IOAPIC[0]: apic_id 0, version 32, ... GSI 0-23").
import { beforeEach, describe, expect, it } from 'vitest';
import { checkState, StateError } from '../src/machine/device-state.ts';
import { IoApic } from '../src/devices/io-apic.ts';

type Sent = ['fixed', number, boolean, number, boolean] | ['extint'];

let ioapic: IoApic;
let sent: Sent[];

function make(): IoApic {
  return new IoApic({
    deliver: (vector, level, dest, logical) => sent.push(['fixed', vector, level, dest, logical]),
    deliverExtInt: () => sent.push(['extint']),
  });
}

const readReg = (index: number, dev = ioapic): number => { dev.write(0x00, 4, index); return dev.read(0x10, 4); };
const writeReg = (index: number, value: number, dev = ioapic): void => { dev.write(0x00, 4, index); dev.write(0x10, 4, value); };
/** Program redirection entry `n` as Linux does: high word first, then low. */
const program = (n: number, low: number, high = 0, dev = ioapic): void => { writeReg(0x11 + 2 * n, high, dev); writeReg(0x10 + 2 * n, low, dev); };
const low = (n: number, dev = ioapic): number => readReg(0x10 + 2 * n, dev);
const take = (): Sent[] => sent.splice(0);

const MASKED = 1 << 16, LEVEL = 1 << 15, REMOTE_IRR = 1 << 14, ACTIVE_LOW = 1 << 13, LOGICAL = 1 << 11;
const LOWEST = 1 << 8, SMI = 2 << 8, NMI = 4 << 8, INIT = 5 << 8, EXTINT = 7 << 8;

beforeEach(() => {
  sent = [];
  ioapic = make();
});

describe('identification registers', () => {
  it('IOAPICVER reads 0x00170020: 24 entries (maximum redirection entry 23), version 0x20; writes are ignored', () => {
    expect(readReg(0x01)).toBe(0x0017_0020);
    writeReg(0x01, 0xffff_ffff);
    expect(readReg(0x01)).toBe(0x0017_0020);
  });

  it('IOAPICID holds bits 27:24 only; IOAPICARB reads the same ID bits and is read-only', () => {
    expect(readReg(0x00)).toBe(0);
    writeReg(0x00, 0xffff_ffff);
    expect(readReg(0x00)).toBe(0x0f00_0000);
    expect(readReg(0x02)).toBe(0x0f00_0000);
    writeReg(0x00, 0x0200_0000);
    writeReg(0x02, 0x0f00_0000);
    expect([readReg(0x00), readReg(0x02)]).toEqual([0x0200_0000, 0x0200_0000]);
  });

  it('IOREGSEL reads back its 8 bits; registers that do not exist read 0 and ignore writes', () => {
    ioapic.write(0x00, 4, 0x1234_5642);
    expect(ioapic.read(0x00, 4)).toBe(0x42);
    for (const index of [0x03, 0x0f, 0x40, 0x41, 0xff]) {
      writeReg(index, 0xffff_ffff);
      expect(readReg(index)).toBe(0);
    }
  });

  it('offsets other than IOREGSEL and IOWIN read 0 (the EOI register is write-only)', () => {
    writeReg(0x01, 0);
    for (const offset of [0x04, 0x08, 0x0c, 0x14, 0x20, 0x40, 0xff0]) expect(ioapic.read(offset, 4)).toBe(0);
  });

  it('narrow reads return the bytes of the 32-bit register they cover; narrow IOWIN writes are ignored', () => {
    ioapic.write(0x00, 4, 0x01);
    expect([ioapic.read(0x10, 1), ioapic.read(0x12, 1), ioapic.read(0x10, 2), ioapic.read(0x12, 2)]).toEqual([0x20, 0x17, 0x0020, 0x0017]);
    ioapic.write(0x00, 1, 0x11); // a byte write to IOREGSEL selects (as QEMU)
    ioapic.write(0x10, 1, 0xff);
    ioapic.write(0x10, 2, 0xffff);
    expect(ioapic.read(0x10, 4)).toBe(0);
  });
});

describe('redirection table', () => {
  it('reset masks all 24 entries: low 0x00010000, high 0', () => {
    for (let n = 0; n < 24; n++) expect([readReg(0x10 + 2 * n), readReg(0x11 + 2 * n)]).toEqual([0x0001_0000, 0]);
  });

  it('an entry reads back what was written; delivery status and Remote IRR are read-only, reserved bits read 0', () => {
    program(5, 0xffff_ffff, 0xffff_ffff);
    // vector, delivery mode, destination mode, polarity, trigger, mask; not 12 (delivery status), 14, 31:17
    expect(low(5)).toBe(0x0001_afff);
    expect(readReg(0x11 + 2 * 5)).toBe(0xff00_0000);
    program(23, ACTIVE_LOW | LOGICAL | LOWEST | 0x3a, 0x0300_0000);
    expect([low(23), readReg(0x11 + 2 * 23)]).toEqual([ACTIVE_LOW | LOGICAL | LOWEST | 0x3a, 0x0300_0000]);
    expect(low(22)).toBe(MASKED); // its neighbour is untouched
    expect(sent).toEqual([]);
  });

  it('the polarity bit is stored only: the board gives setIrq the asserted state', () => {
    program(3, ACTIVE_LOW | 0x33, 0x0100_0000);
    ioapic.setIrq(3, true);
    expect(take()).toEqual([['fixed', 0x33, false, 1, false]]);
  });

  it('reset() masks every entry again and clears the ID, keeping the pins as driven', () => {
    writeReg(0x00, 0x0500_0000);
    program(9, LEVEL | 0x39);
    ioapic.setIrq(9, true);
    expect(take()).toHaveLength(1);
    ioapic.reset();
    expect([readReg(0x00), low(9)]).toEqual([0, MASKED]);
    program(9, LEVEL | 0x39); // the pin is still asserted: unmasking sends it
    expect(take()).toEqual([['fixed', 0x39, true, 0, false]]);
  });

  it('setIrq refuses a pin that does not exist', () => {
    expect(() => ioapic.setIrq(24, true)).toThrow(RangeError);
    expect(() => ioapic.setIrq(-1, true)).toThrow(RangeError);
  });
});

describe('edge-triggered entries', () => {
  it('a rising edge sends once, with the vector, edge, destination and destination mode', () => {
    program(2, 0x30, 0x0700_0000);
    ioapic.setIrq(2, true);
    expect(take()).toEqual([['fixed', 0x30, false, 7, false]]);
    ioapic.setIrq(2, true); // held high: no new edge
    expect(take()).toEqual([]);
    ioapic.setIrq(2, false);
    expect(take()).toEqual([]);
    ioapic.setIrq(2, true);
    expect(take()).toEqual([['fixed', 0x30, false, 7, false]]);
  });

  it('lowest priority and logical destination go to deliver() as well', () => {
    program(4, LOWEST | LOGICAL | 0x34, 0x0f00_0000);
    ioapic.setIrq(4, true);
    expect(take()).toEqual([['fixed', 0x34, false, 0x0f, true]]);
  });

  it('an edge while masked is lost, and unmasking does not bring it back', () => {
    program(1, MASKED | 0x31);
    ioapic.setIrq(1, true);
    program(1, 0x31);
    expect(take()).toEqual([]);
    ioapic.setIrq(1, false); ioapic.setIrq(1, true);
    expect(take()).toEqual([['fixed', 0x31, false, 0, false]]);
  });

  it('no Remote IRR and no need for an EOI', () => {
    program(1, 0x31);
    ioapic.setIrq(1, true);
    expect(low(1) & REMOTE_IRR).toBe(0);
    ioapic.setIrq(1, false); ioapic.setIrq(1, true);
    expect(take()).toHaveLength(2);
  });

  it('an ExtINT entry calls deliverExtInt (the vector comes from the 8259)', () => {
    program(0, EXTINT);
    ioapic.setIrq(0, true);
    expect(take()).toEqual([['extint']]);
  });

  it('SMI, NMI and INIT entries send nothing on this board', () => {
    program(6, SMI); program(7, NMI); program(8, INIT);
    for (const pin of [6, 7, 8]) ioapic.setIrq(pin, true);
    expect(take()).toEqual([]);
  });
});

describe('level-triggered entries and EOI', () => {
  beforeEach(() => program(10, LEVEL | 0x41, 0x0100_0000));

  it('an asserted pin sends once and sets Remote IRR; nothing more until the EOI', () => {
    ioapic.setIrq(10, true);
    expect(take()).toEqual([['fixed', 0x41, true, 1, false]]);
    expect(low(10)).toBe(LEVEL | REMOTE_IRR | 0x41);
    ioapic.setIrq(10, false); ioapic.setIrq(10, true);
    expect(take()).toEqual([]);
  });

  it('an EOI with the pin still asserted sends it again (and sets Remote IRR again)', () => {
    ioapic.setIrq(10, true);
    take();
    ioapic.eoi(0x41);
    expect(take()).toEqual([['fixed', 0x41, true, 1, false]]);
    expect(low(10) & REMOTE_IRR).toBe(REMOTE_IRR);
  });

  it('an EOI after the pin fell clears Remote IRR and sends nothing; the next assertion sends', () => {
    ioapic.setIrq(10, true);
    take();
    ioapic.setIrq(10, false);
    ioapic.eoi(0x41);
    expect(take()).toEqual([]);
    expect(low(10) & REMOTE_IRR).toBe(0);
    ioapic.setIrq(10, true);
    expect(take()).toEqual([['fixed', 0x41, true, 1, false]]);
  });

  it('an EOI for another vector does nothing', () => {
    ioapic.setIrq(10, true);
    take();
    ioapic.eoi(0x42);
    expect(take()).toEqual([]);
    expect(low(10) & REMOTE_IRR).toBe(REMOTE_IRR);
  });

  it('the EOI register at 0x40 acts as eoi(vector)', () => {
    ioapic.setIrq(10, true);
    take();
    ioapic.write(0x40, 4, 0x42);
    expect(take()).toEqual([]);
    ioapic.write(0x40, 4, 0x41);
    expect(take()).toEqual([['fixed', 0x41, true, 1, false]]);
  });

  it('an EOI serves every level entry with that vector and Remote IRR set', () => {
    program(11, LEVEL | 0x41, 0x0200_0000);
    ioapic.setIrq(10, true); ioapic.setIrq(11, true);
    expect(take()).toHaveLength(2);
    ioapic.setIrq(11, false);
    ioapic.eoi(0x41);
    expect(take()).toEqual([['fixed', 0x41, true, 1, false]]);
    expect([low(10) & REMOTE_IRR, low(11) & REMOTE_IRR]).toEqual([REMOTE_IRR, 0]);
  });

  it('a masked level pin sends nothing; unmasking it while asserted sends it', () => {
    program(10, MASKED | LEVEL | 0x41, 0x0100_0000);
    ioapic.setIrq(10, true);
    expect(take()).toEqual([]);
    expect(low(10) & REMOTE_IRR).toBe(0);
    program(10, LEVEL | 0x41, 0x0100_0000);
    expect(take()).toEqual([['fixed', 0x41, true, 1, false]]);
    expect(low(10) & REMOTE_IRR).toBe(REMOTE_IRR);
  });

  it('unmasking a level pin that fell while masked sends nothing', () => {
    program(10, MASKED | LEVEL | 0x41);
    ioapic.setIrq(10, true); ioapic.setIrq(10, false);
    program(10, LEVEL | 0x41);
    expect(take()).toEqual([]);
  });

  it('masking keeps Remote IRR; an EOI while masked clears it and sends nothing until unmasked', () => {
    ioapic.setIrq(10, true);
    take();
    program(10, MASKED | LEVEL | 0x41, 0x0100_0000);
    expect(low(10)).toBe(MASKED | LEVEL | REMOTE_IRR | 0x41);
    ioapic.eoi(0x41);
    expect(take()).toEqual([]);
    program(10, LEVEL | 0x41, 0x0100_0000);
    expect(take()).toEqual([['fixed', 0x41, true, 1, false]]);
  });

  it('switching the entry to edge clears Remote IRR (as QEMU, which older Linux relies on)', () => {
    ioapic.setIrq(10, true);
    take();
    program(10, MASKED | 0x41);
    expect(low(10) & REMOTE_IRR).toBe(0);
  });
});

describe('I/O APIC saved state', () => {
  it('restores IOREGSEL, the ID, the entries with Remote IRR and the pins, and continues identically', () => {
    writeReg(0x00, 0x0300_0000);
    program(10, LEVEL | 0x41, 0x0100_0000);
    program(2, 0x30, 0x0200_0000);
    program(0, EXTINT | MASKED);
    ioapic.setIrq(10, true);
    ioapic.setIrq(2, true);
    take();
    ioapic.write(0x00, 4, 0x21); // IOREGSEL left at entry 8's high word
    const saved = JSON.parse(JSON.stringify(ioapic.save())) as ReturnType<IoApic['save']>;
    checkState(ioapic.stateSchema, saved, 'ioapic');

    const copy = make();
    copy.load(saved);
    expect(take()).toEqual([]); // load raises nothing
    expect(copy.read(0x00, 4)).toBe(0x21);
    /** Every register, then what a few more pin changes and an EOI send. */
    const drive = (dev: IoApic): { regs: number[]; sends: Sent[] } => {
      const regs = [0x00, 0x01, 0x02, ...Array.from({ length: 48 }, (_, i) => 0x10 + i)].map((r) => readReg(r, dev));
      dev.setIrq(2, true); // still high: no edge
      dev.eoi(0x41); // pin 10 still asserted: sent again
      dev.setIrq(2, false); dev.setIrq(2, true);
      program(0, EXTINT, 0, dev); dev.setIrq(0, true);
      return { regs, sends: take() };
    };
    const restored = drive(copy);
    expect(restored.sends).toEqual([['fixed', 0x41, true, 1, false], ['fixed', 0x30, false, 2, false], ['extint']]);
    expect(restored).toEqual(drive(ioapic));
    expect(copy.save()).toEqual(ioapic.save());
  });

  it('refuses states its own code could not reach, and leaves the device as it was', () => {
    program(10, LEVEL | 0x41);
    const good = ioapic.save();
    const entry = (n: number, v: number): number[] => good.low.map((w, i) => (i === n ? v : w));
    const copy = make();
    expect(() => copy.load({ ...good, low: entry(3, REMOTE_IRR | 0x33) })).toThrow(StateError); // Remote IRR on an edge entry
    expect(() => copy.load({ ...good, low: entry(3, (1 << 12) | MASKED) })).toThrow(StateError); // delivery status never stays set
    expect(() => copy.load({ ...good, low: entry(3, (1 << 20) | MASKED) })).toThrow(StateError); // reserved bits
    expect(() => copy.load({ ...good, high: good.high.map((w, i) => (i === 3 ? 0x0000_0001 : w)) })).toThrow(StateError);
    expect(() => copy.load({ ...good, pins: 1 << 10 })).toThrow(StateError); // asserted, unmasked, Remote IRR clear: would have been sent
    expect(() => copy.load({ ...good, low: good.low.slice(0, 23) })).toThrow(StateError);
    expect(() => copy.load({ ...good, high: good.high.slice(0, 23) })).toThrow(StateError);
    expect(() => copy.load({ ...good, pins: 1 << 24 })).toThrow(StateError);
    expect(() => copy.load({ ...good, id: 0x10 })).toThrow(StateError);
    expect(copy.save()).toEqual(make().save()); // nothing of a refused state was taken
    expect(sent).toEqual([]);
    copy.load({ ...good, pins: 1 << 10, low: entry(10, LEVEL | REMOTE_IRR | 0x41) }); // the same, with the message sent
    copy.eoi(0x41);
    expect(take()).toEqual([['fixed', 0x41, true, 0, false]]);
  });
});
