// The 8254 driven through the I/O bus at chosen virtual times. Expected counts and edge times come from the
// 8254 datasheet's mode descriptions (count written with p CLK pulses elapsed is loaded at pulse L = p + 1;
// see the header of src/devices/pit8254.ts); pulse n happens at ceil(n * 1e9 / 1193182) ns. Lines marked
// "QEMU 7.2" were also read from QEMU by tests/fixtures/devices/probe.c (output-qemu-7.2.txt).
import { beforeEach, describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { Pit8254, PIT_HZ, SystemControlPortB, pulseTime, pulsesAt } from '../src/devices/pit8254.ts';

let bus: IoBus;
let pit: Pit8254;
let now: number;
let irq: boolean[];
const outb = (port: number, v: number): void => bus.out(port, 1, v);
const inb = (port: number): number => bus.in(port, 1);
/** Set virtual time to CLK pulse n. */
const at = (n: number): void => { now = pulseTime(n); };
const status = (ch: number): number => { outb(0x43, 0xe0 | (2 << ch)); return inb(0x40 + ch); };
const latch = (ch: number): number => { outb(0x43, ch << 6); return inb(0x40 + ch) | (inb(0x40 + ch) << 8); };

beforeEach(() => {
  bus = new IoBus();
  now = 0;
  irq = [];
  pit = new Pit8254({ now: () => now, onIrq0: (l) => irq.push(l) });
  bus.register(0x40, 4, pit, 'pit');
  bus.register(0x61, 1, new SystemControlPortB(pit, () => now), 'port61');
});

describe('virtual time base', () => {
  it('pulse n is the first ns with n pulses elapsed', () => {
    for (const n of [0, 1, 2, 11932, 1193181, 1193182, 1193183, 123456789, 5e12]) {
      const t = pulseTime(n);
      expect(pulsesAt(t)).toBe(n);
      if (n > 0) expect(pulsesAt(t - 1)).toBe(n - 1);
    }
    expect(pulsesAt(1e9)).toBe(PIT_HZ);
    expect(pulseTime(1)).toBe(839); // 1e9 / 1193182 = 838.09
  });
});

describe('channel 0, mode 2 at 100 Hz (Linux: 0x34, divisor 11932)', () => {
  beforeEach(() => {
    outb(0x43, 0x34); outb(0x40, 11932 & 0xff); outb(0x40, 11932 >> 8); // at pulse 0: L = 1
    pit.update();
    irq = [];
  });

  it('raises IRQ0 once per 11932 pulses, at L + k * N', () => {
    for (let k = 1; k <= 3; k++) {
      const edge = 1 + k * 11932;
      expect(pit.nextEventNs()).toBe(pulseTime(edge));
      now = pulseTime(edge) - 1;
      pit.update();
      expect(irq).toEqual([false]); // OUT low for the one pulse where CE = 1
      irq = [];
      now = pulseTime(edge);
      pit.update();
      expect(irq).toEqual([true]);
      irq = [];
    }
    expect(pulseTime(1 + 11932) - pulseTime(1)).toBe(10_000_150); // 11932 / 1193182 s = 10.00015 ms
  });

  it('counts down from N and reads back with the latch command', () => {
    at(1); expect(latch(0)).toBe(11932);
    at(2); expect(latch(0)).toBe(11931);
    at(1 + 11931); expect(latch(0)).toBe(1);
    expect(status(0) & 0x80).toBe(0); // OUT low while CE = 1
    at(1 + 11932); expect(latch(0)).toBe(11932);
    expect(status(0)).toBe(0xb4); // OUT, RW = 3, mode 2, binary
  });

  it('several periods between samples deliver one edge (lost ticks)', () => {
    now = pulseTime(1 + 5 * 11932 + 100);
    pit.update();
    expect(irq).toEqual([false, true]); // IRQ0 was high (mode 2 OUT idles high): one falling and one rising edge
    irq = [];
    pit.update();
    expect(irq).toEqual([]);
    expect(pit.nextEventNs()).toBe(pulseTime(1 + 6 * 11932));
  });

  it('a new count takes effect at the end of the current period', () => {
    at(5000);
    outb(0x40, 100); outb(0x40, 0);
    expect(status(0) & 0x40).toBe(0x40); // null count until the reload
    expect(pit.nextEventNs()).toBe(pulseTime(11933));
    at(11933); expect(latch(0)).toBe(100);
    expect(status(0) & 0x40).toBe(0);
    expect(pit.nextEventNs()).toBe(pulseTime(11933 + 100));
  });
});

describe('control word and status (read-back)', () => {
  it('status after control word and count writes (null count per the datasheet; QEMU 7.2 never sets it: 34 34 34)', () => {
    at(1000);
    outb(0x43, 0x34);
    expect(status(0)).toBe(0xf4); // OUT high, null count, RW 3, mode 2
    outb(0x40, 0x9c);
    expect(status(0)).toBe(0xf4);
    outb(0x40, 0x2e);
    expect(status(0)).toBe(0xf4); // loaded on the next pulse
    at(1001);
    expect(status(0)).toBe(0xb4);
  });

  it('reports the mode bits as written: 6 and 7 act as 2 and 3 (QEMU 7.2: 3c 3e)', () => {
    outb(0x43, 0x3c); expect(status(0) & 0x3f).toBe(0x3c);
    outb(0x43, 0x3e); expect(status(0) & 0x3f).toBe(0x3e);
    outb(0x43, 0x1a); expect(status(0) & 0x3f).toBe(0x1a); // QEMU 7.2: 1a
    outb(0x43, 0x30); expect(status(0) & 0xbf).toBe(0x30); // mode 0: OUT low at once (QEMU 7.2: 30)
  });

  it('mode 6 runs as mode 2', () => {
    outb(0x43, 0x3c); outb(0x40, 10); outb(0x40, 0);
    expect(pit.nextEventNs()).toBe(pulseTime(11));
  });

  it('the control word register reads 0 (QEMU 7.2: 00)', () => {
    expect(inb(0x43)).toBe(0);
  });

  it('read-back of count and status: status first, a second latch is ignored until read (QEMU 7.2 order)', () => {
    outb(0x43, 0x34); outb(0x40, 0x00); outb(0x40, 0x10); // 4096 at L = 1
    at(15);
    outb(0x43, 0xc2); // latch count and status of counter 0
    at(500);
    outb(0x43, 0x00); // counter latch: ignored, a count is latched
    outb(0x43, 0xe2); // status latch: ignored
    expect([inb(0x40), inb(0x40), inb(0x40)]).toEqual([0xb4, 4096 - 14 & 0xff, (4096 - 14) >> 8]);
    expect(latch(0)).toBe(4096 - 499); // live again
  });

  it('a latched status survives a control word (QEMU 7.2: 34 then live)', () => {
    outb(0x43, 0x34); outb(0x40, 0); outb(0x40, 0x10);
    at(20);
    outb(0x43, 0xe2);
    outb(0x43, 0x16); // counter 0: LSB only, mode 3
    outb(0x43, 0xe2);
    expect(inb(0x40)).toBe(0xb4);
    expect(status(0)).toBe(0xd6); // OUT high, null count, RW 1, mode 3
  });

  it('LSB-only and MSB-only access', () => {
    outb(0x43, 0x14); outb(0x40, 0x50); // LSB only, mode 2, count 0x50
    at(3); expect(inb(0x40)).toBe(0x50 - 2);
    outb(0x43, 0x00); expect(inb(0x40)).toBe(0x50 - 2); // latch: one byte
    outb(0x43, 0x24); outb(0x40, 0x02); // MSB only: count 0x200, written at pulse 3, L = 4
    at(4 + 0x100); expect(inb(0x40)).toBe(0x01);
  });

  it('an unlatched LSB/MSB read takes each byte from the live count', () => {
    outb(0x43, 0x34); outb(0x40, 0x00); outb(0x40, 0x02); // 0x200 at L = 1
    at(2); const lo = inb(0x40); // CE = 0x1ff
    at(3); const hi = inb(0x40); // CE = 0x1fe
    expect([lo, hi]).toEqual([0xff, 0x01]);
  });
});

describe('mode 0: interrupt on terminal count (one-shot)', () => {
  it('OUT rises N + 1 pulses after the count is written and stays high; CE wraps', () => {
    at(777);
    outb(0x43, 0x30);
    pit.update();
    expect(irq.at(-1)).toBe(false);
    irq = [];
    outb(0x40, 1000 & 0xff); outb(0x40, 1000 >> 8);
    expect(pit.nextEventNs()).toBe(pulseTime(777 + 1001));
    at(777 + 1000); pit.update(); expect(irq).toEqual([]);
    expect(latch(0)).toBe(1);
    at(777 + 1001); pit.update(); expect(irq).toEqual([true]);
    expect(latch(0)).toBe(0);
    at(777 + 1003); expect(latch(0)).toBe(0xfffe);
    expect(pit.nextEventNs()).toBe(Infinity);
    expect(status(0)).toBe(0xb0); // QEMU 7.2 after expiry: b0
  });

  it('writing the first byte of a new count stops counting and drives OUT low; re-arms the one-shot', () => {
    outb(0x43, 0x30); outb(0x40, 10); outb(0x40, 0);
    at(20); pit.update(); expect(irq.at(-1)).toBe(true);
    irq = [];
    at(30); outb(0x40, 50);
    expect(irq).toEqual([false]);
    at(40); expect(latch(0)).toBe(0x10000 - (30 - 11)); // frozen at the value it had at pulse 30
    outb(0x40, 0); // loaded at pulse 41
    expect(pit.nextEventNs()).toBe(pulseTime(41 + 50));
  });

  it('BCD counting', () => {
    outb(0x43, 0x31); outb(0x40, 0x00); outb(0x40, 0x10); // 1000 decimal
    at(4); expect(latch(0)).toBe(0x0997);
    at(1001); expect(latch(0)).toBe(0x0000);
    at(1002); expect(latch(0)).toBe(0x9999);
    expect(status(0)).toBe(0xb1);
  });
});

describe('mode 3: square wave', () => {
  it('even count: high N/2, low N/2, CE counts by two', () => {
    outb(0x43, 0x36); outb(0x40, 1000 & 0xff); outb(0x40, 1000 >> 8); // L = 1
    const reads: number[] = [];
    for (const p of [1, 2, 3, 500, 501, 502, 1000, 1001]) { at(p); reads.push(latch(0), status(0) >>> 7); }
    expect(reads).toEqual([1000, 1, 998, 1, 996, 1, 2, 1, 1000, 0, 998, 0, 2, 0, 1000, 1]);
    expect(pit.nextEventNs()).toBe(pulseTime(2001)); // the edge at 1001 was delivered by the accesses there
  });

  it('odd count: high (N+1)/2 reading N, N-1, N-3, ...; low (N-1)/2 reading N, N-3, ...', () => {
    outb(0x43, 0x36); outb(0x40, 7); outb(0x40, 0); // L = 1
    const seq: string[] = [];
    for (let p = 1; p <= 15; p++) { at(p); seq.push(`${latch(0)}${status(0) & 0x80 ? 'H' : 'L'}`); }
    expect(seq.join(' ')).toBe('7H 6H 4H 2H 7L 4L 2L 7H 6H 4H 2H 7L 4L 2L 7H');
  });

  it('a late sample during the low half still delivers the edge and holds IRQ0 high until a later pulse', () => {
    outb(0x43, 0x36); outb(0x40, 100); outb(0x40, 0);
    pit.update(); irq = [];
    at(1 + 50); pit.update(); // low half of the first period
    expect(irq).toEqual([false]);
    at(1 + 100 + 70); // past the edge at 101, in the low half (151..200)
    pit.update();
    expect(irq).toEqual([false, true]);
    outb(0x43, 0x00); inb(0x40); inb(0x40); // a port access at the same pulse keeps it high
    expect(irq).toEqual([false, true]);
    at(1 + 100 + 71); pit.update();
    expect(irq).toEqual([false, true, false]);
  });

  it('a new count waits for the end of the half cycle', () => {
    outb(0x43, 0x36); outb(0x40, 100); outb(0x40, 0); // L = 1, high 1..50, low 51..100
    at(20); outb(0x40, 10); outb(0x40, 0);
    at(50); expect(latch(0)).toBe(2);
    at(51); expect([latch(0), status(0) & 0xc0]).toEqual([10, 0x00]); // low half of the new count
    expect(pit.nextEventNs()).toBe(pulseTime(56));
  });
});

describe('mode 4 and the GATE of counter 2 (port 0x61)', () => {
  it('mode 4: OUT low for one pulse N + 1 pulses after the write', () => {
    outb(0x43, 0x38); outb(0x40, 5); outb(0x40, 0);
    pit.update(); irq = [];
    expect(pit.nextEventNs()).toBe(pulseTime(7));
    at(6); pit.update(); expect(irq).toEqual([false]);
    at(7); pit.update(); expect(irq).toEqual([false, true]);
    expect(pit.nextEventNs()).toBe(Infinity);
  });

  it('mode 0 with GATE low loads but does not count (QEMU 7.2 ignores GATE and BCD here)', () => {
    outb(0x61, 0);
    outb(0x43, 0xb1); outb(0x42, 0x34); outb(0x42, 0x12);
    at(1000);
    expect(status(2)).toBe(0x31);
    outb(0x43, 0x80); expect([inb(0x42), inb(0x42)]).toEqual([0x34, 0x12]);
    expect(inb(0x61) & 0x23).toBe(0x00); // QEMU 7.2: 00
    outb(0x61, 0x01); // GATE high at pulse 1000: 1234 more pulses to terminal count
    at(1000 + 1233); expect(inb(0x61) & 0x21).toBe(0x01);
    at(1000 + 1234); expect(inb(0x61) & 0x21).toBe(0x21);
    expect(status(2)).toBe(0xb1);
  });

  it('mode 1: retriggerable one-shot started by the GATE', () => {
    outb(0x61, 0);
    outb(0x43, 0xb2); outb(0x42, 10); outb(0x42, 0);
    at(100);
    expect(inb(0x61) & 0x20).toBe(0x20);
    expect(status(2) & 0x40).toBe(0x40); // null count until the trigger loads it
    outb(0x61, 1); // trigger at 100: OUT low from 101, high at 111
    at(101); expect(inb(0x61) & 0x20).toBe(0);
    at(110); expect(inb(0x61) & 0x20).toBe(0);
    at(111); expect(inb(0x61) & 0x20).toBe(0x20);
  });

  it('mode 2 with GATE low forces OUT high; a rising GATE reloads', () => {
    outb(0x61, 1);
    outb(0x43, 0xb4); outb(0x42, 10); outb(0x42, 0); // L = 1
    at(10); expect(inb(0x61) & 0x20).toBe(0); // CE = 1
    outb(0x61, 0); expect(inb(0x61) & 0x20).toBe(0x20);
    at(30); expect(latch(2)).toBe(1); // stopped
    outb(0x61, 1);
    at(31); expect(latch(2)).toBe(10);
    at(40); expect(inb(0x61) & 0x20).toBe(0);
  });

  it('port 0x61 keeps bits 0-3 and toggles bit 4 every 15085 ns', () => {
    outb(0x61, 0xff);
    now = 0; expect(inb(0x61) & 0xdf).toBe(0x0f);
    now = 15085; expect(inb(0x61) & 0xdf).toBe(0x1f);
  });
});

describe('power-on state', () => {
  it('is QEMU\'s: counter 0 in mode 3 with 65536, IRQ0 at 18.2 Hz', () => {
    expect(status(0) & 0x3f).toBe(0x36);
    expect(pit.nextEventNs()).toBe(pulseTime(65536));
  });
});
