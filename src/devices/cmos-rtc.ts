// The Motorola MC146818 real-time clock and its 128 bytes of CMOS RAM, behind the PC's index port 0x70
// (bits 0-6: register, bit 7: NMI disable) and data port 0x71.
//
// The clock is not a set of registers that tick: it is the time source (`nowMs`, UTC milliseconds) plus an
// offset the guest sets by writing the time registers, and every read formats that time in the mode
// register B asks for (BCD or binary, 12 or 24 hour). So switching DM or 24/12 reformats the time at once
// (the chip would keep the old bytes until they are rewritten; drivers rewrite them anyway). Register
// 0x32 is the century (as QEMU's CMOS maps it). Day of week (1 = Sunday) follows the date; writing it
// shifts it relative to the date.
//
// Register A: bit 7 UIP is set during the last 244 µs of every second (QEMU's window) while the clock
// runs; bits 6-0 are stored. Bits 6-4 = 11x (divider reset) or B.SET stop the clock; leaving divider
// reset starts the second 500 ms later, as on the chip. Register C's flags are derived from elapsed time
// when C is read (and on update()): PF (periodic rate from A bits 3-0), AF (alarm registers 1/3/5, with
// 0xC0-0xFF as "any"), UF (a second boundary passed); reading C clears them. IRQ8 (onIrq8) is IRQF =
// (PF & PIE) | (AF & AIE) | (UF & UIE), held until C is read. Square-wave output and daylight saving
// (B bits 3 and 0) are stored only.

export const RTC_SECONDS = 0x00, RTC_SECONDS_ALARM = 0x01, RTC_MINUTES = 0x02, RTC_MINUTES_ALARM = 0x03;
export const RTC_HOURS = 0x04, RTC_HOURS_ALARM = 0x05, RTC_DAY_OF_WEEK = 0x06, RTC_DAY_OF_MONTH = 0x07;
export const RTC_MONTH = 0x08, RTC_YEAR = 0x09, RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d;
export const RTC_CENTURY = 0x32;

export const REG_A_UIP = 0x80;
export const REG_B_SET = 0x80, REG_B_PIE = 0x40, REG_B_AIE = 0x20, REG_B_UIE = 0x10, REG_B_SQWE = 0x08, REG_B_DM_BINARY = 0x04, REG_B_24H = 0x02, REG_B_DSE = 0x01;
export const REG_C_IRQF = 0x80, REG_C_PF = 0x40, REG_C_AF = 0x20, REG_C_UF = 0x10;
export const REG_D_VRT = 0x80;

import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';

/** The last 244.14 µs (8 cycles of the 32.768 kHz time base) of each second. */
const UIP_MS = 8000 / 32768;
const DAY_MS = 86_400_000;

const RTC_STATE = {
  ram: { bytes: 128 }, index: 'u8', nmiDisabled: 'bool', regA: 'u8', regB: 'u8', flags: 'u8', irq: 'bool', alarm: { bytes: 3 },
  offset: 'num', frozen: { nullable: 'num' }, dowShift: 'int', lastEval: 'num',
} as const satisfies StateSchema;

export interface CmosRtcOptions {
  /** Current time in UTC milliseconds since 1970 (may be fractional). */
  nowMs: () => number;
  /** IRQ8 output level. */
  onIrq8?: (level: boolean) => void;
  /** The board's time in ns, for nextEventNs() (default: nowMs() × 10^6). */
  nowNs?: () => number;
}

export class CmosRtc {
  readonly accessWidth = 1;
  /** CMOS RAM; the clock and status registers (0x00-0x0D, 0x32) are not kept here. */
  readonly ram = new Uint8Array(128);
  private readonly nowMs: () => number;
  private readonly onIrq8: ((level: boolean) => void) | undefined;
  private readonly nowNs: () => number;
  private index = 0;
  /** Port 0x70 bit 7, for the VM's NMI logic. */
  nmiDisabled = false;
  private regA = 0x26; // divider 010 (32.768 kHz), rate 0110 (1024 Hz): what QEMU and BIOSes set
  private regB = REG_B_24H;
  private flags = 0;
  private irq = false;
  private alarm = [0, 0, 0]; // seconds, minutes, hours, as written
  /** RTC time = nowMs() + offset while running. */
  private offset = 0;
  /** RTC time while stopped (SET or divider reset), else null. */
  private frozen: number | null = null;
  /** Days added to the date's weekday. */
  private dowShift = 0;
  /** nowMs() at which flags were last brought up to date. */
  private lastEval: number;

  constructor(opts: CmosRtcOptions) {
    this.nowMs = opts.nowMs;
    this.onIrq8 = opts.onIrq8;
    this.nowNs = opts.nowNs ?? (() => this.nowMs() * 1e6);
    this.lastEval = this.nowMs();
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = RTC_STATE;
  /** The clock as an offset from the VM's time (virtual, or the host's in the real-time clock), so it runs on after a restore. */
  save(): StateOf<typeof RTC_STATE> {
    const { index, nmiDisabled, regA, regB, flags, irq, offset, frozen, dowShift, lastEval } = this;
    return { ram: [...this.ram], index, nmiDisabled, regA, regB, flags, irq, alarm: [...this.alarm], offset, frozen, dowShift, lastEval };
  }

  load(v: StateOf<typeof RTC_STATE>): void {
    if (v.index > 0x7f) throw new StateError('cmos: index register out of range');
    this.ram.set(v.ram);
    Object.assign(this, v, { ram: this.ram, alarm: [...v.alarm] });
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    if ((offset & 1) === 0) return 0xff; // the index register is write-only
    return this.readRegister(this.index);
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    if ((offset & 1) === 0) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & 0x80) !== 0;
    } else {
      this.writeRegister(this.index, value);
    }
  }

  /** Bring register C and IRQ8 up to the current time (the VM calls this when time has advanced). */
  update(): void {
    this.evaluate();
    this.syncIrq();
  }

  /** nowMs() value at (or up to 1 µs after) which update() will raise IRQ8, or Infinity. */
  nextEventMs(): number {
    this.evaluate();
    if (this.irq) return Infinity; // stays high until register C is read
    const now = this.lastEval;
    let next = Infinity;
    const rate = this.periodicHz();
    if (this.regB & REG_B_PIE && rate > 0) {
      const i = tickIndex(now, rate) + 1;
      let t = Math.floor(i / rate) * 1000 + ((i % rate) * 1000) / rate;
      while (tickIndex(t, rate) < i) t += 1e-4;
      next = Math.min(next, t + 1e-3);
    }
    if (this.frozen === null && this.regB & (REG_B_UIE | REG_B_AIE)) {
      const rtc = now + this.offset;
      let at = Infinity;
      if (this.regB & REG_B_UIE) at = (Math.floor(rtc / 1000) + 1) * 1000;
      if (this.regB & REG_B_AIE) at = Math.min(at, this.nextAlarm(rtc));
      next = Math.min(next, at - this.offset + 1e-3);
    }
    return next;
  }

  /** nextEventMs() on the board's clock: the time in ns at which update() will raise IRQ8, or Infinity. */
  nextEventNs(): number {
    const ms = this.nextEventMs();
    return ms === Infinity ? Infinity : this.nowNs() + Math.ceil(Math.max(0, ms - this.nowMs()) * 1e6);
  }

  /** The RTC's current time in UTC milliseconds. */
  timeMs(): number { return this.frozen ?? this.nowMs() + this.offset; }

  // ---- registers ----

  private readRegister(r: number): number {
    switch (r) {
      case RTC_SECONDS: return this.encode(new Date(this.timeMs()).getUTCSeconds());
      case RTC_MINUTES: return this.encode(new Date(this.timeMs()).getUTCMinutes());
      case RTC_HOURS: return this.encodeHours(new Date(this.timeMs()).getUTCHours());
      case RTC_DAY_OF_WEEK: return this.encode(((new Date(this.timeMs()).getUTCDay() + this.dowShift) % 7) + 1);
      case RTC_DAY_OF_MONTH: return this.encode(new Date(this.timeMs()).getUTCDate());
      case RTC_MONTH: return this.encode(new Date(this.timeMs()).getUTCMonth() + 1);
      case RTC_YEAR: return this.encode(new Date(this.timeMs()).getUTCFullYear() % 100);
      case RTC_CENTURY: return this.encode(Math.floor(new Date(this.timeMs()).getUTCFullYear() / 100) % 100);
      case RTC_SECONDS_ALARM: return this.alarm[0];
      case RTC_MINUTES_ALARM: return this.alarm[1];
      case RTC_HOURS_ALARM: return this.alarm[2];
      case RTC_REG_A: return this.regA | (this.updateInProgress() ? REG_A_UIP : 0);
      case RTC_REG_B: return this.regB;
      case RTC_REG_C: {
        this.evaluate();
        const v = this.flags | (this.irqf() ? REG_C_IRQF : 0);
        this.flags = 0;
        this.syncIrq();
        return v;
      }
      case RTC_REG_D: return REG_D_VRT;
      default: return this.ram[r];
    }
  }

  private writeRegister(r: number, v: number): void {
    switch (r) {
      case RTC_SECONDS: this.setField((d) => d.setUTCSeconds(this.decode(v))); break;
      case RTC_MINUTES: this.setField((d) => d.setUTCMinutes(this.decode(v))); break;
      case RTC_HOURS: this.setField((d) => d.setUTCHours(this.decodeHours(v))); break;
      case RTC_DAY_OF_WEEK: {
        const day = new Date(this.timeMs()).getUTCDay();
        this.dowShift = ((((this.decode(v) - 1 - day) % 7) + 7) % 7);
        break;
      }
      case RTC_DAY_OF_MONTH: this.setField((d) => d.setUTCDate(this.decode(v))); break;
      case RTC_MONTH: this.setField((d) => d.setUTCMonth(this.decode(v) - 1)); break;
      case RTC_YEAR: this.setField((d) => d.setUTCFullYear(Math.floor(d.getUTCFullYear() / 100) * 100 + this.decode(v))); break;
      case RTC_CENTURY: this.setField((d) => d.setUTCFullYear(this.decode(v) * 100 + (d.getUTCFullYear() % 100))); break;
      case RTC_SECONDS_ALARM: this.alarm[0] = v; break;
      case RTC_MINUTES_ALARM: this.alarm[1] = v; break;
      case RTC_HOURS_ALARM: this.alarm[2] = v; break;
      case RTC_REG_A: {
        this.evaluate();
        const wasReset = (this.regA & 0x60) === 0x60;
        this.regA = v & 0x7f;
        const isReset = (this.regA & 0x60) === 0x60;
        if (wasReset && !isReset && this.frozen !== null && !(this.regB & REG_B_SET)) {
          // Leaving divider reset: the first update comes 500 ms later.
          this.run(Math.floor(this.frozen / 1000) * 1000 + 500);
        } else this.applyRunState();
        this.syncIrq();
        break;
      }
      case RTC_REG_B: {
        this.evaluate();
        this.regB = v;
        this.applyRunState();
        this.syncIrq();
        break;
      }
      case RTC_REG_C: case RTC_REG_D: break; // read-only
      default: this.ram[r] = v;
    }
  }

  /** Change one date/time field of the clock, keeping the others and the position within the second. */
  private setField(change: (d: Date) => void): void {
    this.evaluate();
    const d = new Date(this.timeMs());
    change(d);
    const t = d.getTime();
    if (Number.isNaN(t)) return;
    if (this.frozen !== null) this.frozen = t;
    else this.offset = t - this.nowMs();
    this.lastEval = this.nowMs(); // flags do not fire for the jump itself
  }

  private stopped(): boolean { return (this.regB & REG_B_SET) !== 0 || (this.regA & 0x60) === 0x60; }

  private applyRunState(): void {
    if (this.stopped() && this.frozen === null) this.frozen = this.nowMs() + this.offset;
    else if (!this.stopped() && this.frozen !== null) this.run(this.frozen);
  }

  private run(from: number): void {
    this.offset = from - this.nowMs();
    this.frozen = null;
    this.lastEval = this.nowMs();
  }

  private updateInProgress(): boolean {
    if (this.frozen !== null) return false;
    const t = this.timeMs();
    return t - Math.floor(t / 1000) * 1000 >= 1000 - UIP_MS;
  }

  // ---- interrupts ----

  /** Periodic interrupt rate in Hz from register A bits 3-0 (0 = off; 1 and 2 alias 256 and 128 Hz). */
  private periodicHz(): number {
    const rs = this.regA & 0x0f;
    if (rs === 0 || (this.regA & 0x60) === 0x60) return 0;
    return rs <= 2 ? 256 >> (rs - 1) : 32768 >> (rs - 1);
  }

  /** Set PF / UF / AF for what happened between the last evaluation and now. */
  private evaluate(): void {
    const now = this.nowMs();
    const last = this.lastEval;
    if (now <= last) return;
    const rate = this.periodicHz();
    if (rate > 0 && tickIndex(now, rate) > tickIndex(last, rate)) this.flags |= REG_C_PF;
    if (this.frozen === null) {
      const a = last + this.offset, b = now + this.offset;
      if (Math.floor(b / 1000) > Math.floor(a / 1000)) {
        this.flags |= REG_C_UF;
        if (this.nextAlarm(a) <= b) this.flags |= REG_C_AF;
      }
    }
    this.lastEval = now;
  }

  /** The first second boundary after RTC time `t` whose time matches the alarm registers, or Infinity. */
  private nextAlarm(t: number): number {
    const first = (Math.floor(t / 1000) + 1) * 1000;
    const day0 = Math.floor(first / DAY_MS) * DAY_MS;
    const any = (a: number): boolean => (a & 0xc0) === 0xc0;
    const [as, am, ah] = this.alarm;
    for (let day = day0; day <= day0 + DAY_MS; day += DAY_MS) {
      for (let h = 0; h < 24; h++) {
        if (!any(ah) && this.encodeHours(h) !== ah) continue;
        if (day + (h + 1) * 3_600_000 <= first) continue;
        for (let m = 0; m < 60; m++) {
          if (!any(am) && this.encode(m) !== am) continue;
          const base = day + h * 3_600_000 + m * 60_000;
          if (base + 60_000 <= first) continue;
          for (let s = 0; s < 60; s++) {
            if (!any(as) && this.encode(s) !== as) continue;
            const at = base + s * 1000;
            if (at >= first) return at;
          }
        }
      }
    }
    return Infinity;
  }

  private irqf(): boolean {
    const b = this.regB;
    return ((this.flags & REG_C_PF && b & REG_B_PIE) || (this.flags & REG_C_AF && b & REG_B_AIE) || (this.flags & REG_C_UF && b & REG_B_UIE)) !== 0;
  }

  private syncIrq(): void {
    const level = this.irqf();
    if (level !== this.irq) { this.irq = level; this.onIrq8?.(level); }
  }

  // ---- data formats ----

  private encode(v: number): number {
    return this.regB & REG_B_DM_BINARY ? v : (Math.floor(v / 10) % 10) * 16 + (v % 10);
  }

  private decode(v: number): number {
    return this.regB & REG_B_DM_BINARY ? v : (v >>> 4) * 10 + (v & 15);
  }

  private encodeHours(h: number): number {
    if (this.regB & REG_B_24H) return this.encode(h);
    return this.encode(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
  }

  private decodeHours(v: number): number {
    if (this.regB & REG_B_24H) return this.decode(v);
    return (this.decode(v & 0x7f) % 12) + (v & 0x80 ? 12 : 0);
  }
}

/** Index of the last periodic tick at or before `ms` (ticks at multiples of 1000 / rate ms). */
function tickIndex(ms: number, rate: number): number {
  const s = Math.floor(ms / 1000);
  return s * rate + Math.floor(((ms - s * 1000) * rate) / 1000);
}
