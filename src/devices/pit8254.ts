// The Intel 8254 programmable interval timer at ports 0x40-0x43 (counters 0-2, control word at 0x43), and
// the PC's port 0x61 (system control port B) that gates counter 2 and reads its output.
//
// No per-tick work: every counter is a function of a virtual clock in nanoseconds supplied by the VM. The
// 1.193182 MHz CLK input pulses on a fixed grid (pulse n happens at ceil(n * 1e9 / 1193182) ns), and each
// counter keeps a "segment": what its counting element (CE) and OUT do from some CLK pulse on, in closed
// form. Writes and GATE changes start new segments; the datasheet's "loaded on the next CLK pulse" is a
// segment that starts one pulse later.
//
// Timing follows the 8254 datasheet mode descriptions (N = initial count, 0 meaning 65536, or 10000 in BCD;
// the count is written at a time when p pulses have elapsed, so CE holds N from pulse L = p + 1):
//   mode 0  OUT low from the write; CE = N - k at pulse L + k; OUT rises at L + N and stays high; CE wraps.
//   mode 1  (GATE trigger) as mode 0 with OUT low from the pulse after the trigger; retriggerable.
//   mode 2  OUT low for the one pulse where CE = 1 (L + kN - 1), high again at L + kN when N is reloaded.
//   mode 3  OUT high for ceil(N/2) pulses, low for floor(N/2); CE counts down by two (odd N: the first
//           pulse of the high half takes 1, of the low half 3), so it reads N, N-2, ... (odd: N, N-1, N-3, ...).
//   mode 4  OUT low for the single pulse where CE reaches 0 (L + N), once.
//   mode 5  (GATE trigger) as mode 4.
// A new count written in mode 2 takes effect at the end of the current period, in mode 3 at the end of
// the current half cycle; in modes 0 and 4 at the next pulse (mode 0: OUT falls at once); in modes 1 and
// 5 at the next trigger. GATE low stops counting in modes 0, 2, 3, 4 (2 and 3 also force OUT high; their
// rising GATE reloads N at the next pulse); a rising GATE triggers modes 1 and 5. Counters 0 and 1 have
// GATE tied high, so modes 1 and 5 never start on them (as on a PC). The illegal count 1 in modes 2 and 3
// keeps OUT high and counts as a rising edge on every CLK pulse.
//
// IRQ0 follows counter 0's OUT, sampled whenever the VM calls update() (and on every port access). Each
// rising edge since the last sample is delivered as onIrq0(true) (preceded by onIrq0(false) if the line was
// reported high); if several periods passed between samples only one edge is delivered (lost ticks, as
// with a CPU that kept interrupts off). After an edge the reported level stays high until a later CLK
// pulse is sampled, even if OUT has fallen meanwhile (mode 3), because the 8259A drops a request whose
// line falls before it is acknowledged.

/** CLK input frequency in Hz. */
import { type FieldType, StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';

export const PIT_HZ = 1_193_182;
const NS_PER_S = 1_000_000_000;

/** Number of CLK pulses that have happened by virtual time `ns` (pulse n at ceil(n * 1e9 / PIT_HZ)). */
export function pulsesAt(ns: number): number {
  const t = Math.floor(ns);
  const s = Math.floor(t / NS_PER_S);
  const r = t - s * NS_PER_S;
  return s * PIT_HZ + Math.floor((r * PIT_HZ) / NS_PER_S);
}

/** Virtual time (ns, integer) of CLK pulse `n`: the least t with pulsesAt(t) >= n. */
export function pulseTime(n: number): number {
  if (n === Infinity) return Infinity;
  const s = Math.floor(n / PIT_HZ);
  const r = n - s * PIT_HZ;
  const num = r * NS_PER_S;
  let q = Math.floor(num / PIT_HZ);
  while (q * PIT_HZ < num) q++;
  while (q > 0 && (q - 1) * PIT_HZ >= num) q--;
  return s * NS_PER_S + q;
}

/** What a counter does from pulse `start` on. */
type Segment =
  /** CE frozen at `value`, OUT constant (waiting for a count, a trigger or GATE). */
  | { kind: 'hold'; start: number; value: number; out: boolean; loadsCount: boolean }
  /** Modes 0, 1, 4, 5: CE = value - (p - start), wrapping; `edge` = pulse where CE reaches 0, or -1 if it will not matter. */
  | { kind: 'oneshot'; start: number; value: number; out: boolean; edge: number; loadsCount: boolean }
  /** Modes 2, 3: N reloaded at origin + kN; OUT rises there (mode 3 `origin` may precede `start`: a segment entered at a half cycle). */
  | { kind: 'periodic'; start: number; origin: number; n: number; loadsCount: boolean };

const SEGMENT = {
  union: 'kind',
  cases: {
    hold: { start: 'int', value: 'int', out: 'bool', loadsCount: 'bool' },
    oneshot: { start: 'int', value: 'int', out: 'bool', edge: 'int', loadsCount: 'bool' },
    periodic: { start: 'int', origin: 'int', n: 'int', loadsCount: 'bool' },
  },
} as const satisfies FieldType;
const COUNTER_STATE = {
  modeBits: 'u8', bcd: 'bool', rw: 'u8', gate: 'bool', count: 'u32', nullCount: 'bool', seg: SEGMENT, next: { nullable: SEGMENT },
  writeMsbNext: 'bool', lsbWritten: 'u8', readMsbNext: 'bool', latchedCount: { list: 'u8', max: 2 }, latchedStatus: 'i32',
} as const satisfies StateSchema;
const PIT_STATE = { counters: { list: { struct: COUNTER_STATE }, max: 3 }, synced: 'int', irqLevel: 'bool', holdHigh: 'bool' } as const satisfies StateSchema;

/** Read/write access modes of the control word (RW1 RW0). */
const RW_LSB = 1, RW_MSB = 2, RW_WORD = 3;

export class PitCounter {
  /** Control word bits 3-1 as written (status reports them; 6 and 7 act as 2 and 3). */
  modeBits = 3;
  bcd = false;
  rw = RW_WORD;
  gate: boolean;
  /** The count register: the last initial count written (1..modulus), or 0 if none since the control word. */
  private count = 0;
  private nullCount = true;
  private seg: Segment;
  /** A segment that starts at a later pulse (the next CLK, the end of a period or half cycle). */
  private next: Segment | null = null;
  /** Write sequence (RW_WORD): the LSB has been written, the MSB is next. */
  private writeMsbNext = false;
  private lsbWritten = 0;
  /** Read sequence of the live CE (RW_WORD): MSB next. */
  private readMsbNext = false;
  /** Bytes of a latched count / status still to be read, in order. */
  private latchedCount: number[] = [];
  private latchedStatus = -1;

  constructor(gate: boolean) {
    this.gate = gate;
    this.seg = { kind: 'hold', start: 0, value: 0, out: true, loadsCount: false };
  }

  snapshot(): StateOf<typeof COUNTER_STATE> {
    const { modeBits, bcd, rw, gate, count, nullCount, writeMsbNext, lsbWritten, readMsbNext, latchedStatus } = this;
    return { modeBits, bcd, rw, gate, count, nullCount, seg: { ...this.seg }, next: this.next && { ...this.next }, writeMsbNext, lsbWritten, readMsbNext, latchedCount: [...this.latchedCount], latchedStatus };
  }

  restore(v: StateOf<typeof COUNTER_STATE>): void {
    if (v.modeBits > 7 || v.rw < 1 || v.rw > 3 || v.count > 0x10000 || v.latchedStatus < -1 || v.latchedStatus > 0xff) throw new StateError('pit: counter register out of range');
    Object.assign(this, v, { seg: { ...v.seg }, next: v.next && { ...v.next }, latchedCount: [...v.latchedCount] });
  }

  get mode(): number { return this.modeBits >= 6 ? this.modeBits - 4 : this.modeBits; }
  private get modulus(): number { return this.bcd ? 10000 : 0x10000; }

  /** Power-on state as QEMU's: mode 3, binary, LSB-then-MSB, count 65536 loaded at pulse p (counting if GATE is high). */
  reset(p: number): void {
    this.modeBits = 3; this.bcd = false; this.rw = RW_WORD;
    this.count = 0x10000; this.nullCount = false;
    this.writeMsbNext = false; this.readMsbNext = false; this.latchedCount = []; this.latchedStatus = -1;
    this.next = null;
    this.seg = this.gate
      ? { kind: 'periodic', start: p, origin: p, n: this.count, loadsCount: false }
      : { kind: 'hold', start: p, value: this.count, out: true, loadsCount: false };
  }

  /** Promote the pending segment once pulse `p` has reached it. */
  private advance(p: number): void {
    if (this.next !== null && this.next.start <= p) {
      this.seg = this.next;
      this.next = null;
      if (this.seg.loadsCount) this.nullCount = false;
    }
  }

  /** CE (binary, 0..modulus-1) at pulse p. */
  ce(p: number): number {
    this.advance(p);
    const s = this.seg, m = this.modulus;
    switch (s.kind) {
      case 'hold': return s.value % m;
      case 'oneshot': return (((s.value - (p - s.start)) % m) + m) % m;
      case 'periodic': {
        const n = s.n, k = (p - s.origin) % n;
        if (this.mode === 2) return (n - k) % m;
        const high = Math.ceil(n / 2);
        // Even N: N, N-2, ..., 2 in each half. Odd N: N, N-1, N-3, ..., 2 (high), N, N-3, ..., 2 (low).
        const j = k < high ? k : k - high;
        let v: number;
        if (j === 0 || (n & 1) === 0) v = n - 2 * j;
        else v = k < high ? n + 1 - 2 * j : n - 1 - 2 * j;
        return v % m;
      }
    }
  }

  /** OUT at pulse p. */
  out(p: number): boolean {
    this.advance(p);
    const s = this.seg;
    switch (s.kind) {
      case 'hold': return s.out;
      case 'oneshot': {
        if (s.edge < 0 || p < s.edge - 1) return s.out;
        const mode = this.mode;
        if (mode === 4 || mode === 5) return p !== s.edge - 1; // the strobe: low for one pulse before `edge`
        return p >= s.edge ? true : s.out;
      }
      case 'periodic': {
        const k = (s.n === 1) ? 0 : (p - s.origin) % s.n;
        if (this.mode === 2) return k !== s.n - 1 || s.n === 1;
        return k < Math.ceil(s.n / 2);
      }
    }
  }

  /** The first pulse after `after` at which OUT rises, or Infinity. */
  nextRisingEdge(after: number): number {
    const first = this.edgeIn(this.seg, after, this.next ? this.next.start : Infinity);
    if (first !== Infinity || this.next === null) return first;
    return this.edgeIn(this.next, Math.max(after, this.next.start), Infinity);
  }

  /** First rising edge of segment `s` in (after, limit]. */
  private edgeIn(s: Segment, after: number, limit: number): number {
    let e = Infinity;
    if (s.kind === 'oneshot') {
      if (s.edge > after && (!s.out || this.mode === 4 || this.mode === 5)) e = s.edge;
    } else if (s.kind === 'periodic') {
      const from = Math.max(after, s.start);
      e = s.origin + (Math.floor((from - s.origin) / s.n) + 1) * s.n;
    }
    return e <= limit ? e : Infinity;
  }

  // ---- programming (p = pulses elapsed at the time of the access) ----

  control(p: number, value: number): void {
    this.advance(p);
    this.rw = (value >>> 4) & 3;
    this.modeBits = (value >>> 1) & 7;
    this.bcd = (value & 1) !== 0;
    this.writeMsbNext = false;
    this.readMsbNext = false;
    // A count or status latched and not yet read survives the control word (QEMU 7.2 agrees).
    this.count = 0;
    this.nullCount = true;
    // All control logic resets, counting stops, OUT takes the mode's initial level (low in mode 0).
    this.seg = { kind: 'hold', start: p, value: this.ce(p), out: this.mode !== 0, loadsCount: false };
    this.next = null;
  }

  writeCount(p: number, byte: number): void {
    this.advance(p);
    let value: number;
    if (this.rw === RW_LSB) value = byte;
    else if (this.rw === RW_MSB) value = byte << 8;
    else if (!this.writeMsbNext) {
      this.writeMsbNext = true;
      this.lsbWritten = byte;
      // Mode 0: writing the first byte stops counting and drives OUT low at once.
      if (this.mode === 0) { this.seg = { kind: 'hold', start: p, value: this.ce(p), out: false, loadsCount: false }; this.next = null; }
      return;
    } else {
      this.writeMsbNext = false;
      value = this.lsbWritten | (byte << 8);
    }
    this.load(p, value);
  }

  private load(p: number, raw: number): void {
    const n = this.decode(raw);
    this.count = n;
    this.nullCount = true;
    const mode = this.mode;
    if (mode === 0 || mode === 4) {
      const out = mode === 4;
      this.seg = { kind: 'hold', start: p, value: this.ce(p), out: mode === 0 ? false : this.out(p), loadsCount: false };
      this.next = this.gate ? this.oneshotFrom(p + 1, n, out, true) : { kind: 'hold', start: p + 1, value: n, out, loadsCount: true };
      return;
    }
    if (mode === 1 || mode === 5) return; // loaded at the next GATE trigger
    // Modes 2 and 3. A load already pending takes the newer count.
    const nx = this.next;
    if (nx !== null && nx.loadsCount) {
      if (nx.kind === 'periodic') this.next = this.periodicFrom(nx.start, nx.origin === nx.start);
      else if (nx.kind === 'hold') this.next = { ...nx, value: n };
      return;
    }
    if (this.seg.kind !== 'periodic') {
      this.next = this.gate ? this.periodicFrom(p + 1, true) : { kind: 'hold', start: p + 1, value: n, out: true, loadsCount: true };
      return;
    }
    // Counting: the new count waits for the end of the period (mode 2) or half cycle (mode 3).
    const s = this.seg, k = (p - s.origin) % s.n, periodEnd = p - k + s.n;
    if (mode === 2) { this.next = this.periodicFrom(periodEnd, true); return; }
    const highEnd = p - k + Math.ceil(s.n / 2);
    if (k < Math.ceil(s.n / 2) && highEnd > p) this.next = this.periodicFrom(highEnd, false);
    else this.next = this.periodicFrom(periodEnd, true);
  }

  /** Mode 0/1/4/5 counting from pulse `start` with CE = v (0 meaning the modulus): where OUT rises. */
  private oneshotFrom(start: number, v: number, out: boolean, loadsCount: boolean): Segment {
    if (v === 0) v = this.modulus;
    const mode = this.mode;
    // Modes 0/1: OUT rises when CE reaches 0 (if it is still low). Modes 4/5: OUT is low during that pulse.
    const edge = mode === 4 || mode === 5 ? start + v + 1 : out ? -1 : start + v;
    return { kind: 'oneshot', start, value: v, out, edge, loadsCount };
  }

  /** Mode 2/3 segment from pulse `start` with the current count, beginning a high (true) or low half. */
  private periodicFrom(start: number, high: boolean): Segment {
    const n = this.count;
    return { kind: 'periodic', start, origin: high ? start : start - Math.ceil(n / 2), n, loadsCount: true };
  }

  setGate(p: number, level: boolean): void {
    this.advance(p);
    if (level === this.gate) return;
    this.gate = level;
    const mode = this.mode;
    if (level) {
      if (this.count === 0) return; // nothing written since the control word
      if (mode === 1 || mode === 5) {
        // A trigger: load N on the next pulse; mode 1 drives OUT low from there.
        this.next = this.oneshotFrom(p + 1, this.count, mode === 5, true);
      } else if (mode === 2 || mode === 3) {
        this.next = this.periodicFrom(p + 1, true);
      } else if (this.next !== null && this.next.kind === 'hold') {
        // Modes 0 / 4: the load pending for the next pulse will count.
        this.next = this.oneshotFrom(this.next.start, this.next.value, this.next.out, this.next.loadsCount);
      } else if (this.seg.kind === 'hold') {
        // Modes 0 / 4: counting resumes from the frozen value.
        this.seg = this.oneshotFrom(p, this.seg.value, this.seg.out, false);
      }
      return;
    }
    if (mode === 1 || mode === 5) return; // GATE level does not matter once triggered
    // Counting stops (modes 2 and 3 also force OUT high); a load due on the next pulse still happens.
    const out = mode === 2 || mode === 3 ? true : this.out(p);
    const nx = this.next;
    this.seg = { kind: 'hold', start: p, value: this.ce(p), out, loadsCount: false };
    this.next = nx !== null && nx.loadsCount && nx.start === p + 1
      ? { kind: 'hold', start: nx.start, value: nx.kind === 'periodic' ? nx.n : nx.value, out: mode !== 0, loadsCount: true }
      : null;
  }

  latchCount(p: number): void {
    if (this.latchedCount.length > 0) return; // the first latch holds until read
    const v = this.encode(this.ce(p));
    if (this.rw === RW_LSB) this.latchedCount = [v & 0xff];
    else if (this.rw === RW_MSB) this.latchedCount = [v >>> 8];
    else this.latchedCount = [v & 0xff, v >>> 8];
  }

  latchStatus(p: number): void {
    if (this.latchedStatus >= 0) return;
    this.latchedStatus = this.status(p);
  }

  /** Read-back status byte: OUT, null count, RW, mode, BCD. */
  status(p: number): number {
    this.advance(p);
    return (this.out(p) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.rw << 4) | (this.modeBits << 1) | (this.bcd ? 1 : 0);
  }

  read(p: number): number {
    if (this.latchedStatus >= 0) { const v = this.latchedStatus; this.latchedStatus = -1; return v; }
    if (this.latchedCount.length > 0) return this.latchedCount.shift()!;
    const v = this.encode(this.ce(p));
    if (this.rw === RW_LSB) return v & 0xff;
    if (this.rw === RW_MSB) return v >>> 8;
    this.readMsbNext = !this.readMsbNext;
    return this.readMsbNext ? v & 0xff : v >>> 8;
  }

  /** Initial count as written (binary or BCD) to 1..modulus. */
  private decode(raw: number): number {
    let n = raw;
    if (this.bcd) n = ((raw >>> 12) & 15) * 1000 + ((raw >>> 8) & 15) * 100 + ((raw >>> 4) & 15) * 10 + (raw & 15);
    return n === 0 ? this.modulus : n;
  }

  private encode(v: number): number {
    if (!this.bcd) return v;
    return (Math.floor(v / 1000) % 10) << 12 | (Math.floor(v / 100) % 10) << 8 | (Math.floor(v / 10) % 10) << 4 | v % 10;
  }
}

export interface Pit8254Options {
  /** Virtual time in nanoseconds (monotonic). */
  now: () => number;
  /** Counter 0's OUT, wired to IRQ0. */
  onIrq0: (level: boolean) => void;
}

/** Ports 0x40-0x43: offsets 0-2 are counters 0-2, offset 3 the control word register (write-only). */
export class Pit8254 {
  readonly accessWidth = 1;
  readonly counters: readonly [PitCounter, PitCounter, PitCounter];
  private readonly now: () => number;
  private readonly onIrq0: (level: boolean) => void;
  /** Pulse up to which counter 0's edges have been delivered. */
  private synced: number;
  private irqLevel = false;
  /** An edge was delivered at pulse `synced`: keep the line high until a later pulse is sampled. */
  private holdHigh = false;

  constructor(opts: Pit8254Options) {
    this.now = opts.now;
    this.onIrq0 = opts.onIrq0;
    this.counters = [new PitCounter(true), new PitCounter(true), new PitCounter(false)];
    this.synced = pulsesAt(this.now());
    this.reset();
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = PIT_STATE;
  save(): StateOf<typeof PIT_STATE> { return { counters: this.counters.map((c) => c.snapshot()), synced: this.synced, irqLevel: this.irqLevel, holdHigh: this.holdHigh }; }
  /** As saved; IRQ0's level is the PIC's to restore (it saves its input lines). */
  load(v: StateOf<typeof PIT_STATE>): void {
    if (v.counters.length !== 3) throw new StateError('pit: expected 3 counters');
    v.counters.forEach((c, i) => this.counters[i].restore(c));
    this.synced = v.synced; this.irqLevel = v.irqLevel; this.holdHigh = v.holdHigh;
  }

  /** QEMU's power-on state (the datasheet leaves it undefined): every counter in mode 3 with count 65536, counting where GATE is high. */
  reset(): void {
    this.update();
    for (const c of this.counters) c.reset(this.synced);
    this.update();
  }

  /** CLK pulses elapsed at the current virtual time. */
  pulses(): number { return pulsesAt(this.now()); }

  /** Deliver counter 0's IRQ0 edges up to the current virtual time. */
  update(): void {
    const p = this.pulses();
    const c0 = this.counters[0];
    if (p > this.synced) {
      const edge = c0.nextRisingEdge(this.synced);
      this.synced = p;
      this.holdHigh = false;
      if (edge <= p) {
        if (this.irqLevel) this.onIrq0(false);
        this.irqLevel = true;
        this.holdHigh = true;
        this.onIrq0(true);
        return;
      }
    }
    if (this.holdHigh) return; // held high until a later pulse (see the file comment)
    const level = c0.out(p);
    if (level !== this.irqLevel) { this.irqLevel = level; this.onIrq0(level); }
  }

  /** Virtual time (ns) of the next rising edge of counter 0's OUT not yet delivered, or Infinity. */
  nextEventNs(): number {
    return pulseTime(this.counters[0].nextRisingEdge(this.synced));
  }

  /** Counter `i`'s OUT now (counter 2's is read through port 0x61). */
  outLevel(i: 0 | 1 | 2): boolean {
    this.update();
    return this.counters[i].out(this.synced);
  }

  /** Counter 2's GATE (port 0x61 bit 0); counters 0 and 1 are tied high on a PC but can be driven too. */
  setGate(i: 0 | 1 | 2, level: boolean): void {
    this.update();
    this.counters[i].setGate(this.synced, level);
    this.update();
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    this.update();
    if ((offset & 3) === 3) return 0; // the control word register cannot be read (datasheet: 3-state); QEMU 7.2 reads 0
    return this.counters[offset & 3].read(this.synced);
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    this.update();
    const p = this.synced;
    value &= 0xff;
    const reg = offset & 3;
    if (reg !== 3) {
      this.counters[reg].writeCount(p, value);
    } else if ((value & 0xc0) === 0xc0) {
      // Read-back: bit 5 = 0 latches counts, bit 4 = 0 latches status, bits 1-3 select counters 0-2.
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        const c = this.counters[i];
        if (!(value & 0x10)) c.latchStatus(p);
        if (!(value & 0x20)) c.latchCount(p);
      }
    } else {
      const c = this.counters[value >>> 6];
      if ((value & 0x30) === 0) c.latchCount(p); // counter latch command
      else c.control(p, value);
    }
    this.update();
  }
}

const PORT_B_STATE = { value: 'u8' } as const satisfies StateSchema;

/**
 * Port 0x61, system control port B (register at offset 0): bit 0 = counter 2 GATE, bit 1 = speaker data
 * enable, bits 2-3 = parity / channel check enables (stored only), read-only bit 4 = refresh request
 * (toggles every 15.085 µs of virtual time, as QEMU derives it), bit 5 = counter 2 OUT; bits 6-7 read 0.
 */
export class SystemControlPortB {
  readonly accessWidth = 1;
  private value = 0;
  private readonly pit: Pit8254;
  private readonly now: () => number;

  constructor(pit: Pit8254, now: () => number) {
    this.pit = pit;
    this.now = now;
  }

  readonly stateVersion = 1;
  readonly stateSchema = PORT_B_STATE;
  save(): StateOf<typeof PORT_B_STATE> { return { value: this.value }; }
  load(v: StateOf<typeof PORT_B_STATE>): void { this.value = v.value & 0x0f; }

  read(_offset: number, _size: 1 | 2 | 4): number {
    const refresh = Math.floor(Math.floor(this.now()) / 15085) & 1;
    return (this.value & 0x0f) | (refresh << 4) | (this.pit.outLevel(2) ? 0x20 : 0);
  }

  write(_offset: number, _size: 1 | 2 | 4, value: number): void {
    this.value = value & 0x0f;
    this.pit.setGate(2, (value & 1) !== 0);
  }
}
