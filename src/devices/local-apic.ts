// The local APIC (xAPIC) of a P6-family processor (Pentium II), Intel SDM Vol. 3A chapter 10: the one the
// CPU takes every maskable interrupt from. Its registers are memory-mapped at 0xFEE00000 (4 KiB; the board
// maps them there); one CPU, APIC ID 0, the bootstrap processor.
//
// The INTR the CPU sees (hasInterrupt(); the CPU still gates it with EFLAGS.IF) is QEMU's rule
// (apic_accept_pic_intr, then the APIC before the PIC in cpu_get_pic_interrupt): (a) the APIC is enabled
// (IA32_APIC_BASE bit 11 and SVR bit 8) and the highest vector in IRR has a priority class (vector >> 4)
// above the PPR's (SDM 10.8.3.1), or (b) the 8259 pair behind LINT0 has an interrupt and LINT0 passes it:
// the APIC is globally disabled (the 8259 then reaches the CPU as on a processor without an APIC), or LINT0's
// LVT is unmasked with delivery mode ExtINT. The INTA cycle (acknowledge()) moves (a)'s vector from IRR to
// ISR, or takes (b)'s from the 8259 (which keeps its own ISR; nothing enters this one), or gives the
// spurious vector (SVR bits 7:0) when the request went away (a TPR raised in between, SDM 10.9); with the
// APIC globally disabled every INTA is the 8259's.
//
// Power-on state: SDM 10.4.7.1 (SVR 0xFF: software-disabled, TPR/ISR/IRR 0, DFR all ones), except LINT0 =
// 0x700 (ExtINT, unmasked) and LINT1 = 0x400 (NMI, unmasked), the MP specification's virtual wire mode as a
// PC BIOS leaves it (QEMU's and KVM's reset of the BSP set LINT0 so too): this machine boots Linux without a
// BIOS, and the 8259 must still reach the CPU through LINT0. So software-disabled forces the LVT mask bits
// (SDM 10.4.7.2) when SVR is written with bit 8 clear and on every LVT write while it is clear, not at
// power-on (as KVM does).
//
// IA32_APIC_BASE (baseMsr): bits 8 (BSP) and 35:12 (the base, 0xFEE00000) stay as they are — relocation is
// not modelled; the board keeps the registers at 0xFEE00000. Clearing bit 11 disables the APIC globally
// (SDM 10.4.3): it goes back to its power-on state, its registers read all ones and drop writes (the range
// is then unassigned, as on a processor without an APIC; KVM does the same), it accepts no message and its
// timer stops. Setting bit 11 again enables it in that state. (The SDM says an APIC on the P6's 3-wire APIC
// bus cannot in general be re-enabled before a reset; Linux re-enables one a BIOS disabled, as on later
// processors, so this one can.)
//
// Registers (SDM Table 10-1) are 32 bits wide at 16-byte-aligned offsets. Reads of another size or at an
// unaligned offset return the bytes of the 32-bit register they start in (the 12 bytes after each register
// read 0); such writes are ignored, as their effect on a real APIC is undefined. Offsets of reserved registers
// read 0, ignore writes and set ESR bit 7 (illegal register address; P6, SDM 10.5.3). Read-only registers
// ignore writes. Writable bits are as on the P6: the 4-bit APIC ID (bits 27:24); SVR bits 3:0 read as 1s and
// bit 9 (focus processor checking) is stored only; the LVT timer has one mode bit (17: periodic), bit 18 is
// reserved (TSC-deadline mode does not exist on the P6); the version register reads 0x00040011 (integrated
// APIC, version 0x11, five LVT entries: timer, performance counter, LINT0, LINT1, error — no thermal LVT).
// APR (SDM 10.8.3.1, for P6 lowest-priority arbitration) and PPR are computed from TPR, ISR and IRR.
//
// Errors (ESR, SDM 10.5.3): bit 5 (send illegal vector: an IPI with a vector below 16), bit 6 (receive
// illegal vector: a fixed message, LVT interrupt or self IPI with a vector below 16, which is dropped) and
// bit 7 accumulate; writing ESR latches them into the readable value and clears the accumulator. The first
// error after an ESR write raises the LVT error interrupt if that is unmasked (the write "rearms" it; the
// SDM does not say whether an error while the LVT is masked uses up the arming — here it does). The P6's
// APIC-bus errors (bits 0-3: checksum and accept errors) are not modelled: messages travel on no bus here,
// and an IPI that no APIC accepts (a send accept error on a P6) is just lost.
//
// Timer (SDM 10.5.4): counts at the bus clock (1 GHz: one count per ns, as QEMU) divided by the divide
// configuration. No per-tick work: the count is a closed-form function of virtual time from the last
// "segment" (the time counting started and the count then). Writing the initial count starts a segment at
// nowNs() (0 stops the timer); the count reaches 0 after count × divisor ns, where the timer interrupt is
// raised; one-shot, it stays 0; periodic, it reloads the initial count at that instant (the current count
// reads initial count..1, never 0). A divide change mid-count continues from the current count at the new
// rate (the partial count in progress is lost). Changing the LVT timer's mode disarms the timer (current
// count 0; SDM 10.5.4.1) until the initial count is written again. The expiry not yet delivered is kept
// (`timerNext`): update() delivers it if due — several periods that passed since the last update() give one
// interrupt (lost ticks, as with the PIT) — and nextEventNs() names it (Infinity while the LVT is masked:
// the count still runs, its expiries deliver nothing). Every register access first brings the timer up to
// the present, so an expiry is raised with the LVT as it was then whatever the update() calls in between.
//
// Not modelled: interrupts the board never produces here — LINT0 in a delivery mode other than ExtINT, LINT1
// (nothing is wired to it; its NMI would be the CPU's), the performance-counter LVT (no counter overflows);
// remote IRR (LVT bit 14) and the delivery-status bits (12) read 0: delivery is instantaneous. IPIs (ICR):
// fixed and lowest-priority messages are delivered to this APIC when the destination shorthand (bits
// 19:18) is self or all-including-self, or none with a destination that matches this APIC; all-excluding-
// self and unmatched destinations reach no one. NMI, SMI, INIT and start-up IPIs are ignored (a
// uniprocessor guest sends none to itself), as is remote read (delivery mode 011: RRD reads 0, ICR bits
// 17:16 read 00, invalid).

import type { Device } from '../machine/device.ts';
import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';
import type { MmioDevice } from '../machine/memory.ts';

/** IA32_APIC_BASE (MSR 0x1B) bits: the base address, BSP, APIC global enable (SDM Figure 10-5). */
export const APIC_BASE_ADDRESS = 0xfee00000, APIC_BASE_BSP = 1 << 8, APIC_BASE_ENABLE = 1 << 11;
const BASE_MSR_RESET = APIC_BASE_ADDRESS + APIC_BASE_BSP + APIC_BASE_ENABLE;

// Register offsets (SDM Table 10-1).
export const APIC_ID = 0x020, APIC_VERSION = 0x030, APIC_TPR = 0x080, APIC_APR = 0x090, APIC_PPR = 0x0a0;
export const APIC_EOI = 0x0b0, APIC_RRD = 0x0c0, APIC_LDR = 0x0d0, APIC_DFR = 0x0e0, APIC_SVR = 0x0f0;
export const APIC_ISR = 0x100, APIC_TMR = 0x180, APIC_IRR = 0x200, APIC_ESR = 0x280;
export const APIC_ICR_LOW = 0x300, APIC_ICR_HIGH = 0x310;
export const APIC_LVT_TIMER = 0x320, APIC_LVT_PERF = 0x340, APIC_LVT_LINT0 = 0x350, APIC_LVT_LINT1 = 0x360, APIC_LVT_ERROR = 0x370;
export const APIC_TIMER_INITIAL = 0x380, APIC_TIMER_CURRENT = 0x390, APIC_TIMER_DIVIDE = 0x3e0;

/** P6 integrated APIC: version 0x11, max LVT entry 4. */
export const APIC_VERSION_VALUE = 0x00040011;

/** SVR bit 8: APIC software enable. */
export const SVR_ENABLE = 1 << 8;
/** LVT bit 16: masked. */
export const LVT_MASKED = 1 << 16;
/** LVT timer bit 17: periodic mode (clear: one-shot). */
export const LVT_TIMER_PERIODIC = 1 << 17;
/** LVT delivery modes (bits 10:8). */
export const DELIVERY_FIXED = 0, DELIVERY_LOWEST = 1, DELIVERY_NMI = 4, DELIVERY_EXTINT = 7;
/** ESR bits (SDM Figure 10-9). */
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5, ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6, ESR_ILLEGAL_REGISTER = 1 << 7;
/** ICR bit 11: logical destination mode. */
export const ICR_LOGICAL = 1 << 11;

// Writable bits of each register as the P6 has them.
const ID_BITS = 0x0f000000, LDR_BITS = 0xff000000, DFR_BITS = 0xf0000000, SVR_BITS = 0x3f0, SVR_ONES = 0x0f;
const LVT_TIMER_BITS = 0x000300ff, LVT_PERF_BITS = 0x000107ff, LVT_LINT_BITS = 0x0001a7ff, LVT_ERROR_BITS = 0x000100ff;
const ICR_LOW_BITS = 0x000ccfff, ICR_HIGH_BITS = 0xff000000, DIVIDE_BITS = 0x0b, ESR_BITS = 0xe0;
const LVT_TIMER_RESET = LVT_MASKED, LINT0_RESET = DELIVERY_EXTINT << 8, LINT1_RESET = DELIVERY_NMI << 8;

const APIC_STATE = {
  baseMsr: 'u32', id: 'u32', tpr: 'u8', ldr: 'u32', dfr: 'u32', svr: 'u32',
  isr: { list: 'u32', max: 8 }, tmr: { list: 'u32', max: 8 }, irr: { list: 'u32', max: 8 },
  esr: 'u8', esrPending: 'u8', icrLow: 'u32', icrHigh: 'u32',
  lvtTimer: 'u32', lvtPerf: 'u32', lvtLint0: 'u32', lvtLint1: 'u32', lvtError: 'u32',
  divideConfig: 'u8', initialCount: 'u32', timerStart: 'int', timerCount: 'u32', timerNext: { nullable: 'int' },
} as const satisfies StateSchema;

export interface LocalApicOptions {
  /** Virtual time in ns. */
  nowNs: () => number;
  /** The INTR output to the CPU may have changed: the board re-reads hasInterrupt(). */
  onChange: () => void;
  /** The 8259 pair behind LINT0 (ExtINT delivery). */
  extInt: { hasInterrupt(): boolean; acknowledge(): number };
  /** EOI of a level-triggered vector (its TMR bit set): broadcast to the I/O APIC. */
  onEoi: (vector: number) => void;
}

/** Divide configuration bits 3, 1, 0 (SDM Figure 10-10): 000 divides by 2, ... 110 by 128, 111 by 1. */
function divisorOf(config: number): number {
  const code = ((config >>> 1) & 4) | (config & 3);
  return code === 7 ? 1 : 2 << code;
}

/** The highest vector set in a 256-bit register (8 words, bit n of word k = vector 32k + n), or -1. */
function highest(words: Uint32Array): number {
  for (let i = 7; i >= 0; i--) if (words[i] !== 0) return i * 32 + 31 - Math.clz32(words[i]);
  return -1;
}
const has = (words: Uint32Array, v: number): boolean => (words[v >>> 5] & (1 << (v & 31))) !== 0;
const set = (words: Uint32Array, v: number): void => { words[v >>> 5] |= 1 << (v & 31); };
const clear = (words: Uint32Array, v: number): void => { words[v >>> 5] &= ~(1 << (v & 31)); };

export class LocalApic implements Device, MmioDevice {
  private readonly nowNs: () => number;
  private readonly onChange: () => void;
  private readonly extInt: { hasInterrupt(): boolean; acknowledge(): number };
  private readonly onEoi: (vector: number) => void;

  private baseMsr = BASE_MSR_RESET;
  /** The registers as they read (reserved bits 0, read-as-one bits 1). */
  private idReg = 0;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffffffff;
  private svr = 0xff;
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private readonly irr = new Uint32Array(8);
  /** ESR as read (latched by the last ESR write) and the errors since then. */
  private esr = 0;
  private esrPending = 0;
  private icrLow = 0;
  private icrHigh = 0;
  private lvtTimer = LVT_TIMER_RESET;
  private lvtPerf = LVT_MASKED;
  private lvtLint0 = LINT0_RESET;
  private lvtLint1 = LINT1_RESET;
  private lvtError = LVT_MASKED;
  private divideConfig = 0;
  private initialCount = 0;
  /** The timer's segment: counting from `timerCount` at `timerStart` (ns); 0 = stopped. */
  private timerStart: number;
  private timerCount = 0;
  /** The first expiry (ns) not yet delivered, or null. */
  private timerNext: number | null = null;

  constructor(opts: LocalApicOptions) {
    this.nowNs = opts.nowNs;
    this.onChange = opts.onChange;
    this.extInt = opts.extInt;
    this.onEoi = opts.onEoi;
    this.timerStart = this.now();
    this.reset();
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = APIC_STATE;

  save(): StateOf<typeof APIC_STATE> {
    const { baseMsr, tpr, ldr, dfr, svr, esr, esrPending, icrLow, icrHigh, lvtTimer, lvtPerf, lvtLint0, lvtLint1, lvtError, divideConfig, initialCount, timerStart, timerCount, timerNext } = this;
    return {
      baseMsr, id: this.idReg, tpr, ldr, dfr, svr, isr: [...this.isr], tmr: [...this.tmr], irr: [...this.irr],
      esr, esrPending, icrLow, icrHigh, lvtTimer, lvtPerf, lvtLint0, lvtLint1, lvtError, divideConfig, initialCount, timerStart, timerCount, timerNext,
    };
  }

  /** As saved; raises nothing (the board re-reads hasInterrupt()). Throws StateError for a state no guest could reach. */
  load(v: StateOf<typeof APIC_STATE>): void {
    const bad = (what: string): never => { throw new StateError(`local-apic: ${what}`); };
    if ((v.baseMsr & ~APIC_BASE_ENABLE) >>> 0 !== (BASE_MSR_RESET & ~APIC_BASE_ENABLE) >>> 0) bad('IA32_APIC_BASE other than 0xFEE00900 or 0xFEE00100');
    if ((v.id & ~ID_BITS) !== 0 || (v.ldr & ~LDR_BITS) !== 0 || (v.dfr & ~DFR_BITS) !== ~DFR_BITS) bad('ID, LDR or DFR reserved bits');
    if ((v.svr & ~(SVR_BITS | SVR_ONES)) !== 0 || (v.svr & SVR_ONES) !== SVR_ONES) bad('SVR reserved bits');
    for (const [name, words] of [['ISR', v.isr], ['TMR', v.tmr], ['IRR', v.irr]] as const) {
      if (words.length !== 8) bad(`${name} is not 8 words`);
      if ((words[0] & 0xffff) !== 0) bad(`${name} holds a vector below 16`);
    }
    if ((v.esr & ~ESR_BITS) !== 0 || (v.esrPending & ~ESR_BITS) !== 0) bad('ESR reserved bits');
    if ((v.icrLow & ~ICR_LOW_BITS) !== 0 || (v.icrHigh & ~ICR_HIGH_BITS) !== 0) bad('ICR reserved bits');
    if ((v.lvtTimer & ~LVT_TIMER_BITS) !== 0 || (v.lvtPerf & ~LVT_PERF_BITS) !== 0 || (v.lvtLint0 & ~LVT_LINT_BITS) !== 0
      || (v.lvtLint1 & ~LVT_LINT_BITS) !== 0 || (v.lvtError & ~LVT_ERROR_BITS) !== 0) bad('LVT reserved bits');
    if ((v.divideConfig & ~DIVIDE_BITS) !== 0) bad('divide configuration reserved bits');
    // The timer's segment: a count no larger than the initial count, and the next expiry one of its own.
    if (v.timerStart < 0 || v.timerCount > v.initialCount) bad('timer count above the initial count');
    if (v.timerCount === 0 ? v.timerNext !== null : !this.isExpiryOf(v, v.timerNext)) bad('timer expiry inconsistent with its count');
    if ((v.baseMsr & APIC_BASE_ENABLE) === 0 && ([...v.isr, ...v.tmr, ...v.irr].some((w) => w !== 0) || v.timerCount !== 0)) {
      bad('globally disabled with interrupts pending or the timer running');
    }
    this.baseMsr = v.baseMsr; this.idReg = v.id; this.tpr = v.tpr; this.ldr = v.ldr; this.dfr = v.dfr; this.svr = v.svr;
    this.isr.set(v.isr); this.tmr.set(v.tmr); this.irr.set(v.irr);
    this.esr = v.esr; this.esrPending = v.esrPending; this.icrLow = v.icrLow; this.icrHigh = v.icrHigh;
    this.lvtTimer = v.lvtTimer; this.lvtPerf = v.lvtPerf; this.lvtLint0 = v.lvtLint0; this.lvtLint1 = v.lvtLint1; this.lvtError = v.lvtError;
    this.divideConfig = v.divideConfig; this.initialCount = v.initialCount;
    this.timerStart = v.timerStart; this.timerCount = v.timerCount; this.timerNext = v.timerNext;
  }

  /** Is `next` an expiry of the running segment in `v` (periodic: any; one-shot: the only one, or null once delivered)? */
  private isExpiryOf(v: StateOf<typeof APIC_STATE>, next: number | null): boolean {
    const periodic = (v.lvtTimer & LVT_TIMER_PERIODIC) !== 0;
    if (next === null) return !periodic;
    const div = divisorOf(v.divideConfig), elapsed = next - v.timerStart;
    if (elapsed < 0 || elapsed % div !== 0) return false;
    const counts = elapsed / div - v.timerCount;
    return periodic ? counts >= 0 && counts % v.initialCount === 0 : counts === 0;
  }

  /** Power-on state (see the header: the LVTs as a BIOS leaves them). Calls nothing: the board re-reads hasInterrupt(). */
  reset(): void {
    this.baseMsr = BASE_MSR_RESET;
    this.powerOn();
  }

  /** Every register but IA32_APIC_BASE to its power-on value; the timer stopped. */
  private powerOn(): void {
    this.idReg = 0; this.tpr = 0; this.ldr = 0; this.dfr = 0xffffffff; this.svr = 0xff;
    this.isr.fill(0); this.tmr.fill(0); this.irr.fill(0);
    this.esr = 0; this.esrPending = 0; this.icrLow = 0; this.icrHigh = 0;
    this.lvtTimer = LVT_TIMER_RESET; this.lvtPerf = LVT_MASKED; this.lvtLint0 = LINT0_RESET; this.lvtLint1 = LINT1_RESET; this.lvtError = LVT_MASKED;
    this.divideConfig = 0; this.initialCount = 0;
    this.timerStart = this.now(); this.timerCount = 0; this.timerNext = null;
  }

  // ---- the processor's side ----

  /** IA32_APIC_BASE (MSR 0x1B). */
  readBaseMsr(): number { return this.baseMsr; }

  /** WRMSR IA32_APIC_BASE: only bit 11 (global enable) takes effect (see the header). */
  writeBaseMsr(value: number): void {
    const enable = (value & APIC_BASE_ENABLE) !== 0;
    if (enable === this.globallyEnabled) return;
    if (enable) {
      this.baseMsr = BASE_MSR_RESET;
    } else {
      this.baseMsr = BASE_MSR_RESET - APIC_BASE_ENABLE;
      this.powerOn();
    }
    this.onChange();
  }

  /** The APIC ID (bits 27:24 of the ID register), for the I/O APIC's destination matching. */
  get id(): number { return this.idReg >>> 24; }

  private get globallyEnabled(): boolean { return (this.baseMsr & APIC_BASE_ENABLE) !== 0; }
  private get softwareEnabled(): boolean { return (this.svr & SVR_ENABLE) !== 0; }

  /**
   * Is this APIC a destination of a message (SDM 10.6.2)? Physical: the P6's 4-bit APIC ID, 0xF the
   * broadcast (so 0xFF too). Logical: 0xFF is the broadcast; else the flat model (DFR bits 31:28 = 1111b)
   * matches if LDR bits 31:24 AND `dest` is non-zero, the cluster model (0000b) if the high nibbles (the
   * cluster) are equal and the low nibbles share a bit; other models are reserved and match nothing.
   */
  matchesDestination(dest: number, logical: boolean): boolean {
    if (!this.globallyEnabled) return false;
    dest &= 0xff;
    if (!logical) return (dest & 0xf) === 0xf || (dest & 0xf) === this.id;
    if (dest === 0xff) return true;
    const ldr = this.ldr >>> 24;
    switch (this.dfr >>> 28) {
      case 0xf: return (ldr & dest) !== 0;
      case 0x0: return (ldr >>> 4) === (dest >>> 4) && (ldr & dest & 0xf) !== 0;
      default: return false;
    }
  }

  /** The INTR the CPU sees (it gates it with EFLAGS.IF itself): see the header, (a) or (b). */
  hasInterrupt(): boolean {
    return this.deliverable() >= 0 || (this.lint0PassesExtInt() && this.extInt.hasInterrupt());
  }

  /** The INTA cycle: the vector the CPU takes. */
  acknowledge(): number {
    const v = this.deliverable();
    if (v >= 0) {
      clear(this.irr, v);
      set(this.isr, v); // TMR already says how it was accepted
      this.onChange();
      return v;
    }
    if (!this.globallyEnabled || (this.lint0PassesExtInt() && this.extInt.hasInterrupt())) return this.extInt.acknowledge();
    return this.svr & 0xff;
  }

  /**
   * A fixed-mode interrupt message arrives (from the I/O APIC, or this APIC's own timer, error LVT or IPI):
   * latched in IRR, its trigger mode in TMR (SDM 10.8.4). A vector below 16 is illegal: dropped, ESR bit 6.
   * A globally disabled APIC accepts nothing.
   */
  acceptInterrupt(vector: number, level: boolean): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 0xff) throw new RangeError(`local-apic: no vector ${vector}`);
    if (!this.globallyEnabled) return;
    if (vector < 16) { this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR); return; }
    set(this.irr, vector);
    if (level) set(this.tmr, vector); else clear(this.tmr, vector);
    this.onChange();
  }

  /** The vector (a) would deliver now, or -1. */
  private deliverable(): number {
    if (!this.globallyEnabled || !this.softwareEnabled) return -1;
    const v = highest(this.irr);
    return v >= 0 && (v >>> 4) > (this.ppr() >>> 4) ? v : -1;
  }

  private lint0PassesExtInt(): boolean {
    return !this.globallyEnabled || ((this.lvtLint0 & LVT_MASKED) === 0 && ((this.lvtLint0 >>> 8) & 7) === DELIVERY_EXTINT);
  }

  /** PPR (SDM 10.8.3.1): TPR, or the class of the highest vector in service if that is higher. */
  private ppr(): number {
    const isrv = Math.max(highest(this.isr), 0);
    return (this.tpr >>> 4) >= (isrv >>> 4) ? this.tpr : isrv & 0xf0;
  }

  /** APR (SDM 10.8.3.1, P6 lowest-priority arbitration): TPR, or the highest class of TPR, ISR and IRR. */
  private apr(): number {
    const tprClass = this.tpr >>> 4, isrClass = Math.max(highest(this.isr), 0) >>> 4, irrClass = Math.max(highest(this.irr), 0) >>> 4;
    if (tprClass >= irrClass && tprClass > isrClass) return this.tpr;
    return Math.max(tprClass, isrClass, irrClass) << 4;
  }

  /** An error: accumulated for the next ESR write; the first since that write raises the error LVT's interrupt. */
  private raiseError(bit: number): void {
    const armed = this.esrPending === 0;
    this.esrPending |= bit;
    // An illegal error vector adds bit 6 to a non-zero accumulator: it raises nothing more.
    if (armed && (this.lvtError & LVT_MASKED) === 0) this.acceptInterrupt(this.lvtError & 0xff, false);
  }

  // ---- registers ----

  read(offset: number, size: 1 | 2 | 4): number {
    if (!this.globallyEnabled) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    this.update();
    const byte = offset & 0xf;
    if (byte >= 4) return 0;
    const v = this.readRegister(offset & 0xff0) >>> (byte * 8);
    return size === 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (!this.globallyEnabled || size !== 4 || (offset & 0xf) !== 0) return;
    this.update();
    this.writeRegister(offset & 0xff0, value >>> 0);
  }

  private readRegister(reg: number): number {
    if (reg >= APIC_ISR && reg < APIC_ISR + 0x80) return this.isr[(reg - APIC_ISR) >>> 4];
    if (reg >= APIC_TMR && reg < APIC_TMR + 0x80) return this.tmr[(reg - APIC_TMR) >>> 4];
    if (reg >= APIC_IRR && reg < APIC_IRR + 0x80) return this.irr[(reg - APIC_IRR) >>> 4];
    switch (reg) {
      case APIC_ID: return this.idReg;
      case APIC_VERSION: return APIC_VERSION_VALUE;
      case APIC_TPR: return this.tpr;
      case APIC_APR: return this.apr();
      case APIC_PPR: return this.ppr();
      case APIC_EOI: return 0; // write-only
      case APIC_RRD: return 0; // remote read is not modelled
      case APIC_LDR: return this.ldr;
      case APIC_DFR: return this.dfr;
      case APIC_SVR: return this.svr;
      case APIC_ESR: return this.esr;
      case APIC_ICR_LOW: return this.icrLow; // delivery status (bit 12) 0: idle
      case APIC_ICR_HIGH: return this.icrHigh;
      case APIC_LVT_TIMER: return this.lvtTimer;
      case APIC_LVT_PERF: return this.lvtPerf;
      case APIC_LVT_LINT0: return this.lvtLint0;
      case APIC_LVT_LINT1: return this.lvtLint1;
      case APIC_LVT_ERROR: return this.lvtError;
      case APIC_TIMER_INITIAL: return this.initialCount;
      case APIC_TIMER_CURRENT: return this.currentCount(this.now());
      case APIC_TIMER_DIVIDE: return this.divideConfig;
      default: this.raiseError(ESR_ILLEGAL_REGISTER); return 0;
    }
  }

  private writeRegister(reg: number, value: number): void {
    if (reg >= APIC_ISR && reg < APIC_IRR + 0x80) return; // ISR, TMR, IRR: read-only
    const lvt = (v: number, bits: number): number => (v & bits) | (this.softwareEnabled ? 0 : LVT_MASKED);
    switch (reg) {
      case APIC_ID: this.idReg = value & ID_BITS; return;
      case APIC_TPR: this.tpr = value & 0xff; this.onChange(); return;
      case APIC_EOI: this.eoi(); return;
      case APIC_LDR: this.ldr = (value & LDR_BITS) >>> 0; return;
      case APIC_DFR: this.dfr = (value | ~DFR_BITS) >>> 0; return;
      case APIC_SVR: {
        this.svr = (value & SVR_BITS) | SVR_ONES;
        if (!this.softwareEnabled) {
          // SDM 10.4.7.2: every LVT masked; IRR and ISR keep their bits.
          this.lvtTimer |= LVT_MASKED; this.lvtPerf |= LVT_MASKED; this.lvtLint0 |= LVT_MASKED; this.lvtLint1 |= LVT_MASKED; this.lvtError |= LVT_MASKED;
        }
        this.onChange();
        return;
      }
      case APIC_ESR: this.esr = this.esrPending; this.esrPending = 0; return;
      case APIC_ICR_LOW: this.icrLow = value & ICR_LOW_BITS; this.sendIpi(); return;
      case APIC_ICR_HIGH: this.icrHigh = (value & ICR_HIGH_BITS) >>> 0; return;
      case APIC_LVT_TIMER: {
        const next = lvt(value, LVT_TIMER_BITS);
        if (((next ^ this.lvtTimer) & LVT_TIMER_PERIODIC) !== 0) this.stopTimer(); // a mode change disarms the timer
        this.lvtTimer = next;
        return;
      }
      case APIC_LVT_PERF: this.lvtPerf = lvt(value, LVT_PERF_BITS); return;
      case APIC_LVT_LINT0: this.lvtLint0 = lvt(value, LVT_LINT_BITS); this.onChange(); return;
      case APIC_LVT_LINT1: this.lvtLint1 = lvt(value, LVT_LINT_BITS); return;
      case APIC_LVT_ERROR: this.lvtError = lvt(value, LVT_ERROR_BITS); return;
      case APIC_TIMER_INITIAL: this.startTimer(value); return;
      case APIC_TIMER_DIVIDE: this.setDivide(value & DIVIDE_BITS); return;
      case APIC_VERSION: case APIC_APR: case APIC_PPR: case APIC_RRD: case APIC_TIMER_CURRENT: return; // read-only
      default: this.raiseError(ESR_ILLEGAL_REGISTER);
    }
  }

  /** EOI (SDM 10.8.5): the highest vector in service ends; a level-triggered one is broadcast to the I/O APIC. */
  private eoi(): void {
    const v = highest(this.isr);
    if (v < 0) return;
    clear(this.isr, v);
    if (has(this.tmr, v)) this.onEoi(v);
    this.onChange();
  }

  /** Writing ICR low sends the IPI it describes (see the header for what is modelled). */
  private sendIpi(): void {
    const low = this.icrLow, vector = low & 0xff, mode = (low >>> 8) & 7;
    if (mode !== DELIVERY_FIXED && mode !== DELIVERY_LOWEST) return;
    let self: boolean;
    switch ((low >>> 18) & 3) {
      case 0: self = this.matchesDestination(this.icrHigh >>> 24, (low & ICR_LOGICAL) !== 0); break;
      case 3: self = false; break; // all excluding self
      default: self = true; // self, all including self
    }
    if (vector < 16) this.raiseError(ESR_SEND_ILLEGAL_VECTOR);
    if (self) this.acceptInterrupt(vector, false);
  }

  // ---- timer ----

  /** Virtual time as integer ns. */
  private now(): number { return Math.floor(this.nowNs()); }
  private get periodic(): boolean { return (this.lvtTimer & LVT_TIMER_PERIODIC) !== 0; }

  /** The current-count register at time t (>= the segment's start). */
  private currentCount(t: number): number {
    if (this.timerCount === 0) return 0;
    const d = Math.floor(Math.max(0, t - this.timerStart) / divisorOf(this.divideConfig));
    if (d < this.timerCount) return this.timerCount - d;
    if (!this.periodic) return 0;
    return this.initialCount - ((d - this.timerCount) % this.initialCount);
  }

  /** A new segment at `t` from count `count` at the current rate. */
  private segment(t: number, count: number): void {
    this.timerStart = t;
    this.timerCount = count;
    this.timerNext = count === 0 ? null : t + count * divisorOf(this.divideConfig);
  }

  private startTimer(count: number): void {
    this.initialCount = count;
    this.segment(this.now(), count);
  }

  private stopTimer(): void { this.segment(this.now(), 0); }

  private setDivide(config: number): void {
    const t = this.now(), count = this.currentCount(t);
    const changed = divisorOf(config) !== divisorOf(this.divideConfig);
    this.divideConfig = config;
    // Same rate: the count in progress goes on undisturbed.
    if (changed) this.segment(t, count);
  }

  /** Deliver the timer expiry that is due (one, however many periods passed), as the LVT timer says now. */
  update(): void {
    const t = this.now();
    const due = this.timerNext;
    if (due === null || due > t) return;
    if (this.periodic) {
      const div = divisorOf(this.divideConfig), period = this.initialCount * div;
      this.timerNext = due + (Math.floor((t - due) / period) + 1) * period;
    } else {
      this.timerNext = null;
    }
    if ((this.lvtTimer & LVT_MASKED) === 0) this.acceptInterrupt(this.lvtTimer & 0xff, false);
  }

  /** Virtual time (ns) of the next timer interrupt, or Infinity (stopped, or the LVT timer masked). */
  nextEventNs(): number {
    if (this.timerNext === null || (this.lvtTimer & LVT_MASKED) !== 0) return Infinity;
    return this.timerNext;
  }
}
