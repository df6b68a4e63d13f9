// The ACPI fixed-feature power-management registers (ACPI 1.0b §4.7, chapter 4.7.3), laid out as the PIIX4's
// power-management function has them and as QEMU's pc machine places them (PMBASE 0x600):
//   offset 0  PM1a_STS (16 bits): TMR_STS (bit 0), BM_STS (4), GBL_STS (5), PWRBTN_STS (8), SLPBTN_STS (9),
//             RTC_STS (10), WAK_STS (15) — write 1 to clear;
//   offset 2  PM1a_EN  (16 bits): TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN at the same bits;
//   offset 4  PM1a_CNT (16 bits): SCI_EN (bit 0), BM_RLD (1), GBL_RLS (2, write-only, ignored: no firmware
//             waits for the global lock), SLP_TYP (12-10), SLP_EN
//             (13, write-only: enter the sleep state SLP_TYP names);
//   offset 8  PM_TMR   (32 bits, read-only): a 24-bit counter at 3.579545 MHz, TMR_STS set each time its bit 23
//             changes.
// The SCI (ACPI's interrupt, on the FADT's SCI_INT line) is a level: high while SCI_EN is set and a status bit
// is set with its enable bit. SLP_TYP encodings are the PIIX4's (datasheet 7.2.2, and QEMU's acpi_pm1_cnt_write):
// 0 is soft-off (S5), which ends the run as QEMU's ACPI power-off ends QEMU; the DSDT's \_S5 names it. The other
// types (S1–S4, and 5, "working") are not modelled: the write is taken and the machine runs on, and the DSDT
// advertises none of them. The timer is not state: it is the board's virtual time, so a restored VM counts on.
//
// There is no SMI_CMD port: the FADT's SMI_CMD is 0, which tells the OS that the machine is always in ACPI
// mode, so SCI_EN is set from reset.

import type { StateOf, StateSchema } from '../machine/device-state.ts';

/** Offsets of the registers in the device's window (the FADT's PM1a_EVT_BLK, PM1a_CNT_BLK and PM_TMR_BLK). */
export const PM1_EVT = 0, PM1_CNT = 4, PM_TMR = 8;
/** Ports the window takes: PM1_EVT_LEN 4, PM1_CNT_LEN 2, 2 unused, PM_TMR_LEN 4. */
export const ACPI_PM_PORTS = 12;

export const TMR_STS = 1 << 0, BM_STS = 1 << 4, GBL_STS = 1 << 5, PWRBTN_STS = 1 << 8, SLPBTN_STS = 1 << 9, RTC_STS = 1 << 10, WAK_STS = 1 << 15;
export const TMR_EN = TMR_STS, GBL_EN = GBL_STS, PWRBTN_EN = PWRBTN_STS, SLPBTN_EN = SLPBTN_STS, RTC_EN = RTC_STS;
export const SCI_EN = 1 << 0, BM_RLD = 1 << 1, GBL_RLS = 1 << 2, SLP_EN = 1 << 13;
export const SLP_TYP_SHIFT = 10;
/** The SLP_TYP that powers off (PIIX4's "soft off"): what the DSDT's \_S5 package holds. */
export const SLP_TYP_S5 = 0;

/** The PM timer's rate: the PC's 14.31818 MHz crystal divided by 4. */
export const PM_TIMER_HZ = 3_579_545;
/** The counter is 24 bits wide (the FADT's TMR_VAL_EXT is clear): TMR_STS on every change of bit 23. */
const TIMER_MASK = 0xff_ffff;
const TIMER_HALF = 0x80_0000;

const STS_BITS = TMR_STS | BM_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS | WAK_STS;
const EN_BITS = TMR_EN | GBL_EN | PWRBTN_EN | SLPBTN_EN | RTC_EN;
/** PM1_CNT bits that read back (GBL_RLS and SLP_EN are write-only and read as 0). */
const CNT_BITS = SCI_EN | BM_RLD | (7 << SLP_TYP_SHIFT);

const PM_STATE = { sts: 'u16', en: 'u16', cnt: 'u16', timerChecked: 'num', sci: 'bool' } as const satisfies StateSchema;

/** PM timer ticks elapsed at virtual time `ns` (exact integer arithmetic for any run up to ~80 years). */
export function pmTimerTicks(ns: number): number {
  const s = Math.floor(ns / 1e9);
  return s * PM_TIMER_HZ + Math.floor(((ns - s * 1e9) * PM_TIMER_HZ) / 1e9);
}

/** The first virtual time (ns) at which pmTimerTicks() reaches `ticks`. */
function ticksToNs(ticks: number): number {
  const s = Math.floor(ticks / PM_TIMER_HZ);
  return s * 1e9 + Math.ceil(((ticks - s * PM_TIMER_HZ) * 1e9) / PM_TIMER_HZ);
}

export interface AcpiPmOptions {
  /** The board's virtual time in ns. */
  nowNs: () => number;
  /** SCI output level (the FADT's SCI_INT: ISA IRQ 9). */
  onSci?: (level: boolean) => void;
  /** The guest entered S5 (SLP_EN with SLP_TYP soft-off). */
  onPowerOff: () => void;
}

export class AcpiPm {
  readonly accessWidth = 4;
  private readonly nowNs: () => number;
  private readonly onSci: ((level: boolean) => void) | undefined;
  private readonly onPowerOff: () => void;
  private sts = 0;
  private en = 0;
  private cnt = SCI_EN;
  /** PM timer ticks at which TMR_STS was last brought up to date. */
  private timerChecked: number;
  private sci = false;

  constructor(opts: AcpiPmOptions) {
    this.nowNs = opts.nowNs;
    this.onSci = opts.onSci;
    this.onPowerOff = opts.onPowerOff;
    this.timerChecked = pmTimerTicks(this.nowNs());
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = PM_STATE;
  save(): StateOf<typeof PM_STATE> {
    const { sts, en, cnt, timerChecked, sci } = this;
    return { sts, en, cnt, timerChecked, sci };
  }

  load(v: StateOf<typeof PM_STATE>): void {
    this.sts = v.sts & STS_BITS;
    this.en = v.en & EN_BITS;
    this.cnt = v.cnt & CNT_BITS;
    this.timerChecked = v.timerChecked;
    this.sci = v.sci;
  }

  /** The PM timer's current value (24 bits). */
  timer(): number { return pmTimerTicks(this.nowNs()) & TIMER_MASK; }

  /** The power button was pressed (a host's "ACPI shutdown" request): PWRBTN_STS, and the SCI if enabled. */
  pressPowerButton(): void {
    this.sts |= PWRBTN_STS;
    this.syncSci();
  }

  read(offset: number, size: 1 | 2 | 4): number {
    this.checkTimer();
    // The registers as one little-endian byte image, read from `offset` on.
    const t = this.timer();
    const image = [this.sts, this.sts >> 8, this.en, this.en >> 8, this.cnt, this.cnt >> 8, 0, 0, t, t >> 8, t >> 16, 0];
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + ((image[offset + i] ?? 0) & 0xff);
    return v;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    this.checkTimer();
    // Byte by byte, as the registers decode them: a word write to PM1_CNT sets SLP_TYP and SLP_EN together.
    for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
    this.syncSci();
  }

  private writeByte(offset: number, b: number): void {
    const shift = (offset & 1) * 8;
    const bits = b << shift;
    switch (offset & ~1) {
      case PM1_EVT: this.sts &= ~(bits & STS_BITS); break; // write 1 to clear
      case PM1_EVT + 2: this.en = ((this.en & ~(0xff << shift)) | bits) & EN_BITS; break;
      case PM1_CNT: {
        this.cnt = ((this.cnt & ~(0xff << shift)) | bits) & CNT_BITS;
        // GBL_RLS would tell the firmware that the OS released the global lock: there is no firmware to tell.
        if (bits & SLP_EN) this.sleep((this.cnt >> SLP_TYP_SHIFT) & 7);
        break;
      }
      default: break; // the timer is read-only; the gap at 6-7 decodes nothing
    }
  }

  private sleep(type: number): void {
    if (type === SLP_TYP_S5) this.onPowerOff();
    // Waking from a sleep state that was not entered: WAK_STS, as the chipset sets it on resume, so an OS
    // polling for it after an unsupported SLP_TYP does not wait forever.
    else this.sts |= WAK_STS;
  }

  /** Bring TMR_STS and the SCI up to the current virtual time (the VM calls this when time has advanced). */
  update(): void {
    this.checkTimer();
    this.syncSci();
  }

  /** Virtual time (ns) at which TMR_STS will raise the SCI, or Infinity (no timer interrupt enabled, or one pending). */
  nextEventNs(): number {
    this.checkTimer();
    if (!(this.cnt & SCI_EN) || !(this.en & TMR_EN) || this.sts & TMR_STS) return Infinity;
    const next = (Math.floor(this.timerChecked / TIMER_HALF) + 1) * TIMER_HALF;
    return ticksToNs(next);
  }

  private checkTimer(): void {
    const now = pmTimerTicks(this.nowNs());
    if (Math.floor(now / TIMER_HALF) > Math.floor(this.timerChecked / TIMER_HALF)) this.sts |= TMR_STS;
    if (now > this.timerChecked) this.timerChecked = now;
  }

  private syncSci(): void {
    const level = (this.cnt & SCI_EN) !== 0 && (this.sts & this.en & EN_BITS) !== 0;
    if (level !== this.sci) { this.sci = level; this.onSci?.(level); }
  }
}
