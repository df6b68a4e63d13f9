import { describe, expect, it } from 'vitest';
import { IoBus, type PortDevice } from '../src/machine/io-bus.ts';

/** A device that logs every access and reads back (base-relative offset, size) encoded in the value. */
class Recorder implements PortDevice {
  log: string[] = [];
  constructor(readonly accessWidth: 1 | 2 | 4 = 1, private readonly readValue?: (offset: number, size: number) => number) {}
  read(offset: number, size: 1 | 2 | 4): number {
    this.log.push(`r${size}@${offset}`);
    return this.readValue ? this.readValue(offset, size) : 0xa0 + offset;
  }
  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.log.push(`w${size}@${offset}=${value.toString(16)}`);
  }
}

describe('IoBus', () => {
  it('routes accesses to the device with base-relative offsets', () => {
    const bus = new IoBus();
    const dev = new Recorder();
    bus.register(0x3f8, 8, dev, 'COM1');
    expect(bus.in(0x3fd, 1)).toBe(0xa5);
    bus.out(0x3f8, 1, 0x41);
    expect(dev.log).toEqual(['r1@5', 'w1@0=41']);
    expect(bus.lookup(0x3ff)).toEqual({ name: 'COM1', base: 0x3f8, count: 8 });
    expect(bus.lookup(0x400)).toBeUndefined();
  });

  it('reads all-ones from unassigned ports and drops writes there', () => {
    const bus = new IoBus();
    const dev = new Recorder(4);
    bus.register(0x10, 4, dev, 'd');
    expect(bus.in(0x2f0, 1)).toBe(0xff);
    expect(bus.in(0x2f0, 2)).toBe(0xffff);
    expect(bus.in(0x2f0, 4)).toBe(0xffffffff);
    expect(bus.in(0xf, 1)).toBe(0xff);
    expect(bus.in(0x14, 1)).toBe(0xff);
    bus.out(0x2f0, 4, 0x12345678);
    bus.out(0xf, 1, 1);
    expect(dev.log).toEqual([]);
  });

  it('splits a word or dword access to a byte-wide device into byte accesses at consecutive ports (ISA)', () => {
    const bus = new IoBus();
    const dev = new Recorder(1);
    bus.register(0x3f8, 8, dev, 'COM1');
    // in ax, 0x3fc: MCR in AL, LSR in AH (QEMU 7.2 reads 0x6008 from its 16550 this way)
    expect(bus.in(0x3fc, 2)).toBe(0xa5a4);
    expect(bus.in(0x3fc, 4)).toBe(0xa7a6a5a4);
    bus.out(0x3f8, 4, 0x44434241);
    expect(dev.log).toEqual(['r1@4', 'r1@5', 'r1@4', 'r1@5', 'r1@6', 'r1@7', 'w1@0=41', 'w1@1=42', 'w1@2=43', 'w1@3=44']);
  });

  it('decodes each byte of a split access separately: the part past the device floats high', () => {
    const bus = new IoBus();
    const dev = new Recorder(1);
    bus.register(0xe9, 1, dev, 'debugcon');
    expect(bus.in(0xe9, 2)).toBe(0xffa0);
    expect(bus.in(0xe8, 2)).toBe(0xa0ff);
    expect(bus.in(0xe9, 4)).toBe(0xffffffa0);
    bus.out(0xe9, 2, 0x4241);
    bus.out(0xe8, 4, 0x44434241);
    expect(dev.log).toEqual(['r1@0', 'r1@0', 'r1@0', 'w1@0=41', 'w1@0=42']);
  });

  it('gives a wide device the whole access, and splits only what runs past its end', () => {
    const bus = new IoBus();
    const dev = new Recorder(4, (o, s) => (s === 4 ? 0x11223344 : s === 2 ? 0x5566 + o : 0x70 + o));
    bus.register(0xf4, 4, dev, 'isa-debug-exit');
    expect(bus.in(0xf4, 4)).toBe(0x11223344);
    expect(bus.in(0xf5, 2)).toBe(0x5567);
    bus.out(0xf4, 4, 0xdeadbeef);
    bus.out(0xf6, 4, 0xcafef00d); // ports f6-f7 belong to the device, f8-f9 to nobody
    expect(dev.log).toEqual(['r4@0', 'r2@1', 'w4@0=deadbeef', 'w2@2=f00d']);
  });

  it('masks values to the access size in both directions', () => {
    const bus = new IoBus();
    bus.register(0x60, 1, new Recorder(1, () => 0x12345678), 'b');
    bus.register(0x70, 2, new Recorder(2, () => -1), 'w');
    const d4 = new Recorder(4, () => -2);
    bus.register(0x80, 4, d4, 'd');
    expect(bus.in(0x60, 1)).toBe(0x78);
    expect(bus.in(0x70, 2)).toBe(0xffff);
    expect(bus.in(0x80, 4)).toBe(0xfffffffe); // uint32, not -2
    bus.out(0x80, 1, 0x1ff);
    bus.out(0x80, 2, -1);
    bus.out(0x80, 4, -1);
    expect(d4.log.slice(1)).toEqual(['w1@0=ff', 'w2@0=ffff', 'w4@0=ffffffff']);
  });

  it('wraps port numbers at 16 bits, including the second half of a split access at 0xffff', () => {
    const bus = new IoBus();
    const lo = new Recorder(1), hi = new Recorder(1);
    bus.register(0, 1, lo, 'port0');
    bus.register(0xffff, 1, hi, 'portffff');
    expect(bus.in(0x10000, 1)).toBe(0xa0);
    expect(bus.in(0xffff, 2)).toBe(0xa0a0);
    expect(hi.log).toEqual(['r1@0']);
    expect(lo.log).toEqual(['r1@0', 'r1@0']);
  });

  it('refuses overlapping and out-of-range registrations', () => {
    const bus = new IoBus();
    bus.register(0x3f8, 8, new Recorder(), 'COM1');
    expect(() => bus.register(0x3ff, 2, new Recorder(), 'other')).toThrow('io-bus: other (0x3ff-0x400) overlaps COM1 (0x3f8-0x3ff)');
    expect(() => bus.register(0x3f0, 9, new Recorder(), 'x')).toThrow(/overlaps COM1/);
    expect(() => bus.register(0xfffe, 3, new Recorder(), 'y')).toThrow(/do not fit/);
    expect(() => bus.register(0x100, 0, new Recorder(), 'z')).toThrow(/do not fit/);
    expect(() => bus.register(-1, 1, new Recorder(), 'n')).toThrow(/do not fit/);
    // a failed registration claims nothing
    bus.register(0x3f0, 8, new Recorder(), 'ok');
    expect(bus.lookup(0x3f7)?.name).toBe('ok');
  });
});
