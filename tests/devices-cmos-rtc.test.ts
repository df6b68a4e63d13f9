// The MC146818 RTC / CMOS through ports 0x70/0x71, on a controlled clock. Lines marked "QEMU 7.2" were
// read from QEMU (-rtc base=2026-01-01T13:05:09,clock=vm) by tests/fixtures/devices/probe.c with the same
// register sequence (output-qemu-7.2.txt).
import { beforeEach, describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { CmosRtc } from '../src/devices/cmos-rtc.ts';

const BASE = Date.UTC(2026, 0, 1, 13, 5, 9); // Thursday
let bus: IoBus;
let rtc: CmosRtc;
let now: number;
let irq8: boolean[];
const reg = (r: number): number => { bus.out(0x70, 1, r); return bus.in(0x71, 1); };
const set = (r: number, v: number): void => { bus.out(0x70, 1, r); bus.out(0x71, 1, v); };
/** seconds, minutes, hours, weekday, day, month, year, century */
const fields = (): number[] => [0, 2, 4, 6, 7, 8, 9, 0x32].map(reg);

beforeEach(() => {
  bus = new IoBus();
  now = BASE;
  irq8 = [];
  rtc = new CmosRtc({ nowMs: () => now, onIrq8: (l) => irq8.push(l) });
  bus.register(0x70, 2, rtc, 'cmos');
});

describe('registers', () => {
  it('status registers as QEMU and BIOSes leave them (QEMU 7.2: 26 02 00 80), index port reads ff', () => {
    expect([reg(0x0a), reg(0x0b), reg(0x0c), reg(0x0d)]).toEqual([0x26, 0x02, 0x00, 0x80]);
    expect(bus.in(0x70, 1)).toBe(0xff); // QEMU 7.2: ff
  });

  it('reads the date in BCD, 24 hour (QEMU 7.2: 09 05 13 05 01 01 26 20)', () => {
    expect(fields()).toEqual([0x09, 0x05, 0x13, 0x05, 0x01, 0x01, 0x26, 0x20]);
    now += 2500;
    expect(reg(0)).toBe(0x11);
  });

  it('binary and 12 hour formats (QEMU 7.2: binary 12h 81 05 14; BCD 12h 81)', () => {
    set(0x0b, 0x04);
    expect([reg(4), reg(2), reg(0x32)]).toEqual([0x81, 5, 20]);
    set(0x0b, 0x00);
    expect(reg(4)).toBe(0x81);
    now = Date.UTC(2026, 0, 1, 0, 30);
    expect(reg(4)).toBe(0x12); // 12 AM
    now = Date.UTC(2026, 0, 1, 12, 30);
    expect(reg(4)).toBe(0x92); // 12 PM
    now = Date.UTC(2026, 0, 1, 23, 59);
    expect(reg(4)).toBe(0x91);
    set(0x0b, 0x06);
    expect([reg(4), reg(2), reg(9)]).toEqual([23, 59, 26]);
  });

  it('the guest sets the clock with SET and it runs on from there (QEMU 7.2: 58 59 23 31 12 99 20, then 01 00 00 01 01 00 21)', () => {
    set(0x0b, 0x82);
    set(4, 0x23); set(2, 0x59); set(0, 0x58); set(7, 0x31); set(8, 0x12); set(9, 0x99); set(0x32, 0x20);
    now += 5000; // stopped while SET
    expect([0, 2, 4, 7, 8, 9, 0x32].map(reg)).toEqual([0x58, 0x59, 0x23, 0x31, 0x12, 0x99, 0x20]);
    set(0x0b, 0x02);
    now += 3000;
    expect([0, 2, 4, 7, 8, 9, 0x32].map(reg)).toEqual([0x01, 0x00, 0x00, 0x01, 0x01, 0x00, 0x21]);
    expect(rtc.timeMs()).toBe(Date.UTC(2100, 0, 1, 0, 0, 1));
  });

  it('hours written in 12 hour binary mode', () => {
    set(0x0b, 0x84); // SET, binary, 12h
    set(4, 0x80 | 12); // 12 PM
    set(0x0b, 0x06);
    expect(reg(4)).toBe(12);
    set(0x0b, 0x84);
    set(4, 12); // 12 AM
    set(0x0b, 0x06);
    expect(reg(4)).toBe(0);
  });

  it('day of week can be set apart from the date', () => {
    set(6, 0x02);
    expect(reg(6)).toBe(0x02);
    now += 86_400_000;
    expect(reg(6)).toBe(0x03);
  });

  it('UIP in the last 244 µs of each second, not while SET', () => {
    now = BASE + 999.7;
    expect(reg(0x0a)).toBe(0x26);
    now = BASE + 999.8;
    expect(reg(0x0a)).toBe(0xa6);
    set(0x0b, 0x82);
    expect(reg(0x0a)).toBe(0x26);
  });

  it('RAM, read-only bits (QEMU 7.2: a5, 26, 80) and the NMI-disable bit', () => {
    set(0x40, 0xa5);
    expect(reg(0x40)).toBe(0xa5);
    set(0x0a, 0xa6);
    expect(reg(0x0a) & 0x7f).toBe(0x26);
    set(0x0d, 0);
    expect(reg(0x0d)).toBe(0x80);
    bus.out(0x70, 1, 0x8f);
    expect(rtc.nmiDisabled).toBe(true);
    bus.out(0x70, 1, 0x0f);
    expect(rtc.nmiDisabled).toBe(false);
  });

  it('divider reset stops the clock; the next second starts 500 ms after it is released', () => {
    set(0x0a, 0x76);
    now += 10_000;
    expect(reg(0)).toBe(0x09);
    set(0x0a, 0x26);
    now += 499;
    expect(reg(0)).toBe(0x09);
    now += 1;
    expect(reg(0)).toBe(0x10);
  });
});

describe('register C and IRQ8', () => {
  it('UF after a second boundary, cleared by reading (QEMU 7.2 with no enables: 10 00; PF is set too per the datasheet)', () => {
    reg(0x0c);
    now += 1000;
    expect(reg(0x0c)).toBe(0x50); // PF | UF: the datasheet sets PF regardless of PIE (QEMU 7.2 does not)
    expect(reg(0x0c)).toBe(0x00);
    set(0x0a, 0x20); // rate 0: no periodic flag
    now += 1000;
    expect(reg(0x0c)).toBe(0x10);
  });

  it('periodic interrupt at 1024 Hz (QEMU 7.2 with PIE: c0 00)', () => {
    now = BASE + 0.5;
    set(0x0b, 0x42);
    expect(rtc.nextEventMs()).toBeCloseTo(BASE + 1000 / 1024, 2);
    now = BASE + 0.97;
    rtc.update();
    expect(irq8).toEqual([]);
    now = rtc.nextEventMs();
    rtc.update();
    expect(irq8).toEqual([true]);
    expect(rtc.nextEventMs()).toBe(Infinity); // held until C is read
    expect(reg(0x0c)).toBe(0xc0);
    expect(irq8).toEqual([true, false]);
    expect(reg(0x0c)).toBe(0x00);
  });

  it('update-ended interrupt (QEMU 7.2: 90 00)', () => {
    set(0x0b, 0x12);
    expect(rtc.nextEventMs()).toBeCloseTo(BASE + 1000, 2);
    now = BASE + 1000.01;
    rtc.update();
    expect(irq8).toEqual([true]);
    expect(reg(0x0c) & 0xb0).toBe(0x90);
  });

  it('alarm at a fixed time, and with "don\'t care" hours and minutes', () => {
    set(0x0a, 0x20); // no periodic flag
    set(1, 0x30); set(3, 0x05); set(5, 0x13);
    set(0x0b, 0x22);
    expect(rtc.nextEventMs()).toBeCloseTo(Date.UTC(2026, 0, 1, 13, 5, 30), 2);
    now = Date.UTC(2026, 0, 1, 13, 5, 29, 500);
    rtc.update();
    expect(irq8).toEqual([]);
    now = Date.UTC(2026, 0, 1, 13, 5, 30, 1);
    rtc.update();
    expect(irq8).toEqual([true]);
    expect(reg(0x0c)).toBe(0xb0); // IRQF | AF | UF
    set(1, 0x00); set(3, 0xc0); set(5, 0xc0);
    expect(rtc.nextEventMs()).toBeCloseTo(Date.UTC(2026, 0, 1, 13, 6, 0), 2);
    set(1, 0x00); set(3, 0x00); set(5, 0x07); // 07:00:00 tomorrow
    expect(rtc.nextEventMs()).toBeCloseTo(Date.UTC(2026, 0, 2, 7, 0, 0), 2);
  });

  it('no flags while the clock is stopped by SET', () => {
    set(0x0a, 0x20);
    reg(0x0c);
    set(0x0b, 0x82);
    now += 5000;
    expect(reg(0x0c)).toBe(0x00);
  });
});
