// Random guest programs for the JIT-vs-interpreter test (jit-random.test.ts): flat 32-bit code built from
// what a compiling JIT handles natively and from its edges — every ALU form and size, shifts and rotates
// by 1/imm/CL (0 and > 31 included), the multiplies and guarded (or not: then #DE reaches a handler that
// halts) divides, SETcc/CMOVcc/BT*/BSF/BSR, XADD/CMPXCHG/CMPXCHG8B (LOCK on memory now and then), LEA over
// every ModRM/SIB form, stack and flag instructions, string instructions, forward branches, bounded
// backward loops (counter registers, LOOP), calls to local subroutines, self-modifying stores, and memory
// beyond the end of RAM — mixed with instructions a JIT leaves to the interpreter so that lazy-flag state
// crosses between compiled and interpreted code.
//
// A program is a tree of items, each drawn from the PRNG when it is generated and emitted (assembled)
// later, so that a failing program can be shrunk by dropping items. Every program ends in `jmp $` and
// runs with an instruction budget that covers its worst case; the budget ends the run there.
import type { RegisterName, VM } from '../src/index.ts';

// ---- guest layout (1 MiB of RAM) ----
export const RAM = 1 << 20;
/** IDT (vector 0 = #DE, an interrupt gate to HANDLER) and GDT (0x08 code, 0x10 data) share address 0. */
export const HANDLER = 0x800;
/** The code area (rewritten for every program); code starts at CODE, 1 KiB into its first page. */
export const CODE_AREA = 0x10000;
export const CODE_AREA_SIZE = 0x8000;
export const CODE = 0x10400;
/** The scratch area EBP points into (EBP = scratch + 128): SCRATCH, or SCRATCH_IN_CODE, in the code's first page. */
export const SCRATCH = 0x20000;
export const SCRATCH_IN_CODE = 0x10040;
export const SCRATCH_SIZE = 0x200;
export const STACK_TOP = 0x30000;
/** ESP at entry: the 128 bytes above it hold random data that [esp+d8] reads. */
export const ESP0 = STACK_TOP - 0x80;

// ---- PRNG ----
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed >>> 0) || 0x9e3779b9; }
  next(): number { let x = this.s; x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (this.s = x >>> 0); }
  int(n: number): number { return this.next() % n; }
  bool(pTrue = 0.5): boolean { return this.next() / 2 ** 32 < pTrue; }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]; }
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
}

/** A 32-bit mix (for per-program seeds). */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

// ---- assembler ----
interface Fixup { at: number; size: 1 | 4; label: string; rel: boolean; add: number }

export class Asm {
  readonly b: number[] = [];
  readonly labels = new Map<string, number>();
  readonly fix: Fixup[] = [];
  get pos(): number { return this.b.length; }
  put(...x: number[]): void { for (const v of x) this.b.push(v & 0xff); }
  label(n: string): void { this.labels.set(n, this.pos); }
  /** A rel8/rel32 field relative to its own end (the last field of jumps, calls and LOOP). */
  rel(n: string, size: 1 | 4): void { this.fix.push({ at: this.pos, size, label: n, rel: true, add: 0 }); this.put(...new Array(size).fill(0)); }
  /** A 32-bit absolute guest address: the label's address plus `add`. */
  abs(n: string, add = 0): void { this.fix.push({ at: this.pos, size: 4, label: n, rel: false, add }); this.put(0, 0, 0, 0); }
  finish(base: number): Uint8Array {
    const out = Uint8Array.from(this.b);
    for (const f of this.fix) {
      const t = this.labels.get(f.label);
      if (t === undefined) throw new Error(`asm: undefined label ${f.label}`);
      let v = f.rel ? t - (f.at + f.size) : base + t + f.add;
      if (f.size === 1) {
        if (v < -128 || v > 127) throw new Error(`asm: rel8 to ${f.label} out of range (${v})`);
        out[f.at] = v & 0xff;
      } else { v >>>= 0; out[f.at] = v; out[f.at + 1] = v >>> 8; out[f.at + 2] = v >>> 16; out[f.at + 3] = v >>> 24; }
    }
    return out;
  }
}

// ---- items ----
export interface Item {
  emit(a: Asm): void;
  /** Worst-case instructions it executes. */
  count(): number;
  /** Nested items (loop bodies, skipped code): the shrinker drops these too. */
  children?: Item[];
}

const ins = (...bytes: number[]): Item => ({ emit: (a) => a.put(...bytes), count: () => 1 });
/** Items emitted as one (not split by the shrinker). */
const seq = (items: Item[]): Item => ({ emit: (a) => { for (const i of items) i.emit(a); }, count: () => sum(items) });
const sum = (items: Item[]): number => items.reduce((n, i) => n + i.count(), 0);
/** Size in bytes of items as emitted (fixups have fixed sizes, so it does not depend on the address). */
const sizeOf = (items: Item[]): number => { const a = new Asm(); for (const i of items) i.emit(a); return a.pos; };
const le = (v: number, size: number): number[] => [v, v >>> 8, v >>> 16, v >>> 24].slice(0, size).map((x) => x & 0xff);

const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
const OPSIZE = 0x66, ADSIZE = 0x67;
const pre = (size: number): number[] => (size === 2 ? [OPSIZE] : []);

const EDGE = [0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x55555555, 0xaaaaaaaa];

interface Ctx {
  r: Rng;
  /** Registers the current code must not write (loop counters), besides ESP and EBP. */
  reserved: Set<number>;
  inSub: boolean;
  /** Self-modifying code allowed (a third of the programs: every code write costs the JIT a retranslation). */
  smc: boolean;
  /** Nothing of ours is saved on the stack (so `pop esp` may move it). */
  stackFree: boolean;
  depth: number;
  /** Subroutines callable from here (labels), and how many instructions each runs at most. */
  subs: { label: string; count: number; args: number }[];
  /** Scratch base (EBP - 128): SCRATCH, or SCRATCH_IN_CODE. */
  scratch: number;
  /** Label numbers; set when RDTSC is used (its result depends on the VM's instruction count since creation). */
  shared: { n: number; tsc: boolean };
}

const label = (c: Ctx, what: string): string => `${what}${c.shared.n++}`;
const writable = (c: Ctx): number[] => [EAX, ECX, EDX, EBX, ESI, EDI].filter((r) => !c.reserved.has(r));
const wr = (c: Ctx): number => c.r.pick(writable(c));
const wr8 = (c: Ctx): number => { const w = writable(c).filter((r) => r < 4); const r = c.r.pick(w); return r + (c.r.bool() ? 4 : 0); };
const canWrite = (c: Ctx, ...regs: number[]): boolean => regs.every((r) => r !== ESP && r !== EBP && !c.reserved.has(r));

function imm(c: Ctx, size: number): number {
  const v = c.r.bool(0.45) ? c.r.pick(EDGE) : c.r.next();
  return size === 4 ? v >>> 0 : v & ((1 << (8 * size)) - 1);
}
const rndSize = (c: Ctx, sizes: number[] = [1, 2, 4, 4]): number => c.r.pick(sizes);

// ---- operands ----
/** An r/m operand: the ModRM (with its SIB and displacement) for a given reg field, prefixes, setup code. */
interface Rm { pre: number[]; modrm(reg: number): number[]; setup: Item[]; isMem: boolean }

const regRm = (r: number): Rm => ({ pre: [], modrm: (reg) => [0xc0 | (reg << 3) | r], setup: [], isMem: false });

/** `mov esi, v` (ESI is an index register here; nothing reserves it). */
const setEsi = (v: number): Item => ins(0xbe, ...le(v, 4));

/**
 * A memory operand the program may read (write = false) or write: scratch through EBP (disp8, disp32,
 * SIB with ESI as index, no base), absolute scratch, [esp+d8] (read only), 16-bit addressing (67), memory
 * beyond RAM (reads give all-ones, writes go nowhere), a dword straddling the end of RAM, segment
 * overrides. `near` keeps it within 64 bytes of the scratch middle (BT with a register bit offset).
 */
function mem(c: Ctx, write: boolean, near = false): Rm {
  const r = c.r, ebp = c.scratch + 128;
  let m: Rm;
  const kind = near ? r.pick([0, 0, 2, 3]) : r.int(100);
  const d8 = (lo: number, hi: number) => r.range(lo, hi);
  if (near && kind === 0) { const d = d8(-64, 64); m = { pre: [], modrm: (g) => [0x45 | (g << 3), d & 0xff], setup: [], isMem: true }; }
  else if (near && kind === 2) { const a = ebp + d8(-64, 64); m = { pre: [], modrm: (g) => [0x05 | (g << 3), ...le(a, 4)], setup: [], isMem: true }; }
  else if (near) { const j = r.int(8), s = r.int(4); m = { pre: [], modrm: (g) => [0x44 | (g << 3), (s << 6) | (ESI << 3) | EBP, (-(j << s)) & 0xff], setup: [setEsi(j)], isMem: true }; }
  else if (kind < 30) { const d = d8(-128, 124); m = { pre: [], modrm: (g) => [0x45 | (g << 3), d & 0xff], setup: [], isMem: true }; }
  else if (kind < 38) { const d = d8(-128, 380); m = { pre: [], modrm: (g) => [0x85 | (g << 3), ...le(d, 4)], setup: [], isMem: true }; }
  else if (kind < 50) { const a = c.scratch + r.int(SCRATCH_SIZE - 4); m = { pre: [], modrm: (g) => [0x05 | (g << 3), ...le(a, 4)], setup: [], isMem: true }; }
  else if (kind < 62) {
    // [ebp + esi*scale + disp8]
    const s = r.int(4), j = r.int(16), d = d8(-128, Math.max(-128, 124 - (j << s)));
    m = { pre: [], modrm: (g) => [0x44 | (g << 3), (s << 6) | (ESI << 3) | EBP, d & 0xff], setup: [setEsi(j)], isMem: true };
  } else if (kind < 67) {
    // [esi*scale + disp32] (no base)
    const s = r.int(4), j = r.int(16), a = c.scratch + r.int(200);
    m = { pre: [], modrm: (g) => [0x04 | (g << 3), (s << 6) | (ESI << 3) | 5, ...le(a, 4)], setup: [setEsi(j)], isMem: true };
  } else if (kind < 71) {
    // [esi + disp32]
    const j = r.int(64), a = c.scratch + r.int(300);
    m = { pre: [], modrm: (g) => [0x86 | (g << 3), ...le(a, 4)], setup: [setEsi(j)], isMem: true };
  } else if (kind < 74) {
    // [ebp + disp8] through a SIB without index
    const d = d8(-128, 124), s = r.int(4);
    m = { pre: [], modrm: (g) => [0x44 | (g << 3), (s << 6) | (4 << 3) | EBP, d & 0xff], setup: [], isMem: true };
  } else if (kind < 79 && !write) {
    const d = r.int(32) * 4 + r.int(2); // the random stack area above ESP (ESP moves, so it reads what is there)
    m = { pre: [], modrm: (g) => [0x44 | (g << 3), 0x24, d & 0xff], setup: [], isMem: true };
  } else if (kind < 84) {
    // beyond RAM: just above it, far above it, or a dword straddling its end
    const a = r.pick([RAM, RAM + r.int(0x1000), 0xf0000000 + r.int(0x10000) * 4, 0xfffff000 + r.int(0xf00), RAM - 1, RAM - 2, RAM - 3]);
    m = { pre: [], modrm: (g) => [0x05 | (g << 3), ...le(a, 4)], setup: [], isMem: true };
  } else if (kind < 90) {
    // 16-bit addressing: [bp+d8], [bp+si+d8], [bp+di+d8]: BP is EBP's low half (0x80 or 0xc0), so these
    // land in the low page below HANDLER
    const form = r.int(canWrite(c, EDI) ? 3 : 2), d = r.int(128), j = r.int(64);
    const rmf = [6, 2, 3][form];
    const setup = form === 1 ? [setEsi(j)] : form === 2 ? [ins(0xbf, ...le(j, 4))] : [];
    m = { pre: [ADSIZE], modrm: (g) => [0x40 | (g << 3) | rmf, d], setup, isMem: true };
  } else {
    const d = d8(-128, 124);
    m = { pre: [], modrm: (g) => [0x45 | (g << 3), d & 0xff], setup: [], isMem: true };
  }
  // a segment override now and then (all flat here; CS is execute/read, so reads only)
  if (r.bool(0.08)) m = { ...m, pre: [r.pick(write ? [0x26, 0x36, 0x3e, 0x64, 0x65] : [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]), ...m.pre] };
  return m;
}

/** A register (writable when `write`) or, with probability pMem, a memory operand. */
function rm(c: Ctx, size: number, write: boolean, pMem = 0.35): Rm {
  if (c.r.bool(pMem)) return mem(c, write);
  if (!write) return regRm(c.r.int(8));
  if (size === 1) return regRm(wr8(c));
  return regRm(wr(c));
}

/** A LOCK prefix, now and then, on a memory operand an instruction writes (LOCK on anything else is #UD). */
const lockOn = (c: Ctx, m: Rm, writes: boolean): Rm => (m.isMem && writes && c.r.bool(0.3) ? { ...m, pre: [0xf0, ...m.pre] } : m);

/** A reg-field register: writable (its low byte for size 1) or any. */
const regField = (c: Ctx, size: number, write: boolean): number => (!write ? c.r.int(8) : size === 1 ? wr8(c) : wr(c));

/** One instruction with an r/m operand: setup, prefixes, opcode bytes, ModRM..., trailing bytes. */
function withRm(m: Rm, size: number, opcode: number[], reg: number, tail: number[] = []): Item {
  return seq([...m.setup, ins(...pre(size), ...m.pre, ...opcode, ...m.modrm(reg), ...tail)]);
}

// ---- instruction families ----
function alu(c: Ctx): Item {
  const r = c.r, size = rndSize(c), w = size === 1 ? 0 : 1;
  const op = r.int(9); // 8 = TEST
  const writes = op !== 7 && op !== 8;
  if (op === 8) {
    switch (r.int(3)) {
      case 0: return withRm(rm(c, size, false), size, [0x84 + w], r.int(8));
      case 1: return ins(...pre(size), size === 1 ? 0xa8 : 0xa9, ...le(imm(c, size), size));
      default: return withRm(rm(c, size, false), size, [0xf6 + w], 0, le(imm(c, size), size));
    }
  }
  switch (r.int(6)) {
    case 0: return withRm(lockOn(c, rm(c, size, writes), writes), size, [op * 8 + w], r.int(8));
    case 1: return withRm(rm(c, size, false), size, [op * 8 + 2 + w], regField(c, size, writes));
    case 2: return ins(...pre(size), op * 8 + 4 + w, ...le(imm(c, size), size));
    case 3: return withRm(lockOn(c, rm(c, size, writes), writes), size, [size === 1 ? r.pick([0x80, 0x80, 0x80, 0x82]) : 0x81], op, le(imm(c, size), size));
    case 4: if (size !== 1) return withRm(lockOn(c, rm(c, size, writes), writes), size, [0x83], op, [imm(c, 1)]);
    // fall through
    default: return withRm(regRm(regField(c, size, writes)), size, [op * 8 + w], r.int(8));
  }
}

function mov(c: Ctx): Item {
  const r = c.r, size = rndSize(c), w = size === 1 ? 0 : 1;
  switch (r.int(12)) {
    case 0: case 1: return withRm(rm(c, size, true), size, [0x88 + w], r.int(8));
    case 2: case 3: return withRm(rm(c, size, false), size, [0x8a + w], regField(c, size, true));
    case 4: return size === 1 ? ins(0xb0 + wr8(c), imm(c, 1)) : ins(...pre(size), 0xb8 + wr(c), ...le(imm(c, size), size));
    case 5: return withRm(rm(c, size, true), size, [0xc6 + w], 0, le(imm(c, size), size));
    case 6: { // moffs forms
      const a = r.bool(0.8) ? c.scratch + r.int(SCRATCH_SIZE - 4) : r.pick([RAM, RAM - 2, 0xf0000000, 0xffffff00]);
      return ins(...pre(size), (r.bool() ? 0xa0 : 0xa2) + w, ...le(a, 4));
    }
    case 7: { // mov r/m16, sreg
      const m = rm(c, 2, true);
      return withRm(m, m.isMem ? 4 : r.pick([2, 4]), [0x8c], r.int(6));
    }
    case 8: if (r.bool(0.25) && canWrite(c, EAX)) { // reload a data segment register from the GDT (flat 0x10)
      return seq([ins(0xb8, 0x10, 0, 0, 0), ins(0x8e, 0xc0 | (r.pick([0, 3, 4, 5]) << 3))]);
    } // fall through
    default: return withRm(regRm(regField(c, size, true)), size, [0x88 + w], r.int(8));
  }
}

function movx(c: Ctx): Item {
  const r = c.r, src = r.bool() ? 1 : 2, dst = src === 2 ? 4 : r.pick([2, 4, 4]);
  const op = (r.bool() ? 0xb6 : 0xbe) + (src === 2 ? 1 : 0);
  return withRm(rm(c, src, false), dst, [0x0f, op], wr(c));
}

/** LEA over every ModRM/SIB form (32- and 16-bit addressing): no memory access, any registers. */
function lea(c: Ctx): Item {
  const r = c.r, dst = wr(c), size = r.bool(0.8) ? 4 : 2;
  if (r.bool(0.15)) { // 16-bit addressing
    const mod = r.int(3), rmf = r.int(8);
    const disp = mod === 1 ? [r.int(256)] : mod === 2 || (mod === 0 && rmf === 6) ? le(r.next(), 2) : [];
    return ins(...pre(size), ADSIZE, 0x8d, (mod << 6) | (dst << 3) | rmf, ...disp);
  }
  const mod = r.int(3), rmf = r.int(8);
  const bytes = [(mod << 6) | (dst << 3) | rmf];
  let base = rmf;
  if (rmf === 4) { const sib = r.int(256); bytes.push(sib); base = sib & 7; }
  if (mod === 1) bytes.push(r.int(256));
  else if (mod === 2 || (mod === 0 && base === 5)) bytes.push(...le(imm(c, 4), 4));
  return ins(...pre(size), 0x8d, ...bytes);
}

function xchg(c: Ctx): Item {
  const r = c.r, size = rndSize(c), w = size === 1 ? 0 : 1;
  switch (r.int(3)) {
    case 0: if (size !== 1) return ins(...pre(size), 0x90 + wr(c)); // xchg eax, r (0x90 itself is NOP)
    // fall through
    case 1: return withRm(regRm(regField(c, size, true)), size, [0x86 + w], regField(c, size, true));
    default: return withRm(mem(c, true), size, [0x86 + w], regField(c, size, true));
  }
}

function unary(c: Ctx): Item {
  const r = c.r, size = rndSize(c), w = size === 1 ? 0 : 1;
  switch (r.int(4)) {
    case 0: if (size !== 1) return ins(...pre(size), (r.bool() ? 0x40 : 0x48) + wr(c)); // INC/DEC r
    // fall through
    case 1: return withRm(lockOn(c, rm(c, size, true), true), size, [0xfe + w], r.int(2)); // INC/DEC r/m (LOCK now and then)
    default: return withRm(lockOn(c, rm(c, size, true), true), size, [0xf6 + w], r.bool() ? 2 : 3); // NOT/NEG
  }
}

const SHIFT_COUNTS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 0x80, 0xff];
function shift(c: Ctx): Item {
  const r = c.r, size = rndSize(c), w = size === 1 ? 0 : 1;
  const op = r.pick([0, 1, 2, 3, 4, 5, 7]);
  const count = (): number => (r.bool(0.6) ? r.pick(SHIFT_COUNTS) : r.int(256));
  const m = rm(c, size, true, 0.25);
  switch (r.int(5)) {
    case 0: return withRm(m, size, [0xd0 + w], op);
    case 1: case 2: return withRm(m, size, [0xc0 + w], op, [count()]);
    default: {
      const setCl = canWrite(c, ECX) && r.bool(0.8) ? [ins(0xb1, count())] : [];
      if (size !== 1 && r.bool(0.2)) { // SHLD/SHRD by imm or CL
        const byCl = r.bool();
        return seq([...(byCl ? setCl : []), withRm(m, size, [0x0f, (r.bool() ? 0xa4 : 0xac) + (byCl ? 1 : 0)], r.int(8), byCl ? [] : [count()])]);
      }
      return seq([...setCl, withRm(m, size, [0xd2 + w], op)]);
    }
  }
}

function multiply(c: Ctx): Item {
  const r = c.r, size = rndSize(c), w = size === 1 ? 0 : 1;
  switch (size === 1 ? 0 : r.int(4)) {
    case 0: return withRm(rm(c, size, false), size, [0xf6 + w], r.bool() ? 4 : 5); // MUL / IMUL r/m
    case 1: return withRm(rm(c, size, false), size, [0x0f, 0xaf], wr(c)); // IMUL r, r/m
    case 2: return withRm(rm(c, size, false), size, [0x69], wr(c), le(imm(c, size), size));
    default: return withRm(rm(c, size, false), size, [0x6b], wr(c), [imm(c, 1)]);
  }
}

/** DIV/IDIV with operands set up so that no #DE happens (or, one time in ten, whatever is there). */
function divide(c: Ctx): Item {
  const r = c.r, size = rndSize(c), w = size === 1 ? 0 : 1, signed = r.bool();
  const op = signed ? 7 : 6;
  if (r.bool(0.1)) return withRm(rm(c, size, false), size, [0xf6 + w], op);
  const items: Item[] = [];
  const top = size === 4 ? 0x80000000 : size === 2 ? 0x8000 : 0x80;
  // the dividend's high half: below the divisor (DIV) or the dividend's sign (IDIV)
  if (signed) items.push(size === 1 ? ins(OPSIZE, 0x98) : ins(...pre(size), 0x99));
  else if (size === 1) items.push(ins(0xb4, r.int(0x80)));
  else items.push(ins(...pre(size), 0xba, ...le(r.bool(0.3) ? 0 : r.int(top), size)));
  // a divisor: top bit set (DIV), |d| >= 2 (IDIV)
  const divisor = (): number => {
    if (!signed) return (r.bool(0.4) ? r.pick(EDGE) : r.next()) | top;
    const v = size === 4 ? r.pick([2, 3, 7, 10, 0x7fffffff, 0x80000000, 0xfffffffe, 0xfffffff9, r.next()]) : r.pick([2, 3, 10, top - 1, top, 2 * top - 2, 2 * top - 7, r.next()]);
    const sv = size === 4 ? v | 0 : ((v & (2 * top - 1)) ^ top) - top; // signed value of the operand
    return sv < -1 || sv > 1 ? v : 2;
  };
  if (r.bool(0.3)) {
    const m = mem(c, true);
    if (m.pre.includes(0x2e) || !m.isMem) return seq(items);
    items.push(withRm(m, size, [0xc6 + w], 0, le(divisor(), size)));
    items.push(withRm({ ...m, setup: [] }, size, [0xf6 + w], op));
  } else {
    const regs = size === 1 ? [ECX, EBX, EDX + 4, ECX + 4, EBX + 4].filter((x) => canWrite(c, x & 3)) : [ECX, EBX, ESI, EDI].filter((x) => canWrite(c, x));
    if (regs.length === 0) return seq(items);
    const d = r.pick(regs);
    items.push(size === 1 ? ins(0xb0 + d, divisor()) : ins(...pre(size), 0xb8 + d, ...le(divisor(), size)));
    items.push(withRm(regRm(d), size, [0xf6 + w], op));
  }
  return seq(items);
}

function convert(c: Ctx): Item {
  const r = c.r;
  return r.pick([ins(0x98), ins(OPSIZE, 0x98), ins(0x99), ins(OPSIZE, 0x99)]); // CWDE CBW CDQ CWD
}

function condMove(c: Ctx): Item {
  const r = c.r, cc = r.int(16);
  if (r.bool()) return withRm(rm(c, 1, true), 1, [0x0f, 0x90 + cc], 0); // SETcc
  const size = r.pick([2, 4, 4]);
  return withRm(rm(c, size, false), size, [0x0f, 0x40 + cc], wr(c)); // CMOVcc
}

function bits(c: Ctx): Item {
  const r = c.r, size = r.pick([2, 4, 4]);
  switch (r.int(4)) {
    case 0: { // BT/BTS/BTR/BTC r/m, imm8 (LOCK now and then on a memory BTS/BTR/BTC)
      const k = r.int(4), m = rm(c, size, k !== 0);
      return withRm(lockOn(c, m, k !== 0), size, [0x0f, 0xba], 4 + k, [r.bool(0.7) ? r.int(size * 8) : r.int(256)]);
    }
    case 1: { // with a register bit offset: into memory only with a small offset (it can address beyond the operand)
      const k = r.int(4), op = [0xa3, 0xab, 0xb3, 0xbb][k];
      if (r.bool()) return withRm(regRm(k === 0 ? r.int(8) : wr(c)), size, [0x0f, op], r.int(8));
      const b = wr(c), m = mem(c, k !== 0, true);
      return seq([ins(0xb8 + b, ...le(r.range(-64, 255), 4)), withRm(lockOn(c, m, k !== 0), size, [0x0f, op], b)]);
    }
    default: { // BSF/BSR, sometimes of zero (the destination is left alone)
      const src = rm(c, size, false);
      const zero = !src.isMem && canWrite(c, (src.modrm(0)[0] & 7)) && r.bool(0.25) ? [ins(0x31, 0xc0 | ((src.modrm(0)[0] & 7) * 9))] : [];
      return seq([...zero, withRm(src, size, [0x0f, r.bool() ? 0xbc : 0xbd], wr(c))]);
    }
  }
}

const FLAG_BITS = 0x8d5 | 0x400 | 0x40000 | 0x200000 | 0x4000 | 0x3000; // arithmetic, DF, AC, ID, NT, IOPL (never TF, IF)
function stack(c: Ctx): Item {
  const r = c.r;
  switch (r.int(9)) {
    case 0: return seq([ins(0x50 + r.int(8)), ins(0x58 + wr(c))]);
    case 1: return seq([r.bool() ? ins(0x6a, r.int(256)) : ins(0x68, ...le(imm(c, 4), 4)), ins(0x58 + wr(c))]);
    case 2: return seq([withRm(mem(c, false), 4, [0xff], 6), withRm(mem(c, true), 4, [0x8f], 0)]); // push m; pop m
    case 3: return seq([ins(OPSIZE, 0x50 + r.int(8)), ins(OPSIZE, 0x58 + wr(c))]);
    case 4: return seq([ins(0x9c), ins(0x58 + wr(c))]); // pushf; pop r
    case 5: return seq([ins(0x68, ...le((r.next() & FLAG_BITS) | 2, 4)), ins(0x9d)]); // push imm; popf
    case 6: { // pushf; pop; xor; push; popf — flip random flags
      const t = wr(c);
      return seq([ins(0x9c), ins(0x58 + t), ins(0x81, 0xf0 | t, ...le(r.next() & FLAG_BITS, 4)), ins(0x50 + t), ins(0x9d)]);
    }
    case 7: { // PUSHA, change a saved writable register, POPA (16- or 32-bit)
      const o16 = r.bool(0.25), slot = r.pick(writable(c)), w = o16 ? 2 : 4;
      const off = (7 - slot) * w;
      const body = o16 ? ins(OPSIZE, 0xc7, 0x44, 0x24, off, ...le(imm(c, 2), 2)) : ins(0xc7, 0x44, 0x24, off, ...le(imm(c, 4), 4));
      return seq([ins(...(o16 ? [OPSIZE] : []), 0x60), ...(r.bool(0.8) ? [body] : []), ins(...(o16 ? [OPSIZE] : []), 0x61)]);
    }
    default:
      if (c.stackFree) return seq([ins(0x68, ...le(ESP0 - 4 * r.int(16), 4)), ins(0x5c)]); // push imm; pop esp
      return seq([ins(0x50 + r.int(8)), ins(0x58 + wr(c))]);
  }
}

/** Instructions the JIT leaves (or used to leave) to the interpreter: flag edits, BCD, RDTSC, XADD, CMPXCHG, CMPXCHG8B, CLI, ... */
function misc(c: Ctx): Item {
  const r = c.r;
  switch (r.int(15)) {
    case 0: return ins(r.pick([0xf8, 0xf9, 0xf5])); // CLC STC CMC
    case 1: return ins(0x9e); // SAHF
    case 2: return ins(0x9f); // LAHF
    case 3: return ins(r.pick([0x27, 0x2f, 0x37, 0x3f])); // DAA DAS AAA AAS
    case 4: return ins(r.pick([0xd4, 0xd5]), r.pick([10, 16, 7, 1])); // AAM/AAD
    case 5: c.shared.tsc = true; return r.bool(0.3) ? seq([ins(0xf3, 0x90), ins(0x0f, 0x31)]) : ins(0x0f, 0x31); // RDTSC, after a PAUSE (time spent: cpu.ts PAUSE_NS)
    case 6: return ins(...(r.bool(0.2) ? [OPSIZE] : []), 0x0f, 0xc8 + wr(c)); // BSWAP (16-bit: the low word cleared)
    case 7: { const size = rndSize(c); return withRm(lockOn(c, rm(c, size, true), true), size, [0x0f, size === 1 ? 0xc0 : 0xc1], regField(c, size, true)); } // XADD
    case 8: { // CMPXCHG, often with the accumulator loaded from the destination first (the equal case)
      const size = rndSize(c), m = rm(c, size, true), w = size === 1 ? 0 : 1;
      const load = canWrite(c, EAX) && r.bool(0.5) && !m.pre.includes(ADSIZE) ? [withRm({ ...m, pre: m.pre.filter((p) => p !== 0xf0) }, size, [0x8a + w], EAX)] : [];
      return seq([...load, withRm(lockOn(c, { ...m, setup: load.length ? [] : m.setup }, true), size, [0x0f, 0xb0 + w], r.int(8))]);
    }
    case 12: { // CMPXCHG8B, often with EDX:EAX loaded from the destination first (the equal case)
      if (!canWrite(c, EAX, EDX)) return ins(0x90);
      const m = mem(c, true), d = m.modrm(0);
      const load = r.bool(0.5) && !m.pre.includes(ADSIZE) && (d[0] & 0xc7) === 0x45 ? [ins(...m.pre, 0x8b, d[0] | (EAX << 3), d[1]), ins(...m.pre, 0x8b, d[0] | (EDX << 3), (d[1] + 4) & 0xff)] : [];
      return seq([...m.setup, ...load, ins(...(r.bool(0.3) ? [0xf0] : []), ...m.pre, 0x0f, 0xc7, ...m.modrm(1))]);
    }
    case 13: return ins(0xfa); // CLI (IF is 0 here: only the check and the write)
    case 14: return seq([ins(OPSIZE, 0x9c), ins(OPSIZE, 0x58 + wr(c))]); // PUSHF; POP r16
    case 9: if (canWrite(c, EBX, ECX)) return ins(0x0f, 0xa2); // CPUID
      return ins(0x90);
    case 10: return ins(r.pick([0xfc, 0xfd])); // CLD / STD
    default: return seq([...(canWrite(c, EBX) && r.bool(0.7) ? [ins(0xbb, ...le(c.scratch + r.int(256), 4))] : []), ins(0xd7)]); // XLAT
  }
}

/** Save/restore around code that writes registers reserved here (ECX/ESI/EDI for string instructions). */
function preserving(c: Ctx, regs: number[], body: Item[]): Item {
  const keep = regs.filter((x) => c.reserved.has(x));
  return seq([...keep.map((x) => ins(0x50 + x)), ...body, ...[...keep].reverse().map((x) => ins(0x58 + x))]);
}

function stringOp(c: Ctx): Item {
  const r = c.r, n = r.pick([0, 1, 2, 3, 4, 5, 8, 9]), down = r.bool(0.2);
  const op = r.pick(['movsb', 'movsd', 'movsw', 'stosb', 'stosd', 'stosw', 'lodsb', 'lodsw', 'lodsd', 'cmpsb', 'cmpsw', 'scasb', 'scasw', 'cmpsd', 'scasd']);
  const base = c.scratch + (down ? 300 : 0);
  const si = base + r.int(160) + (down ? 0 : 0), di = base + r.int(160);
  const opcode = {
    movsb: [0xa4], movsd: [0xa5], movsw: [OPSIZE, 0xa5], stosb: [0xaa], stosd: [0xab], stosw: [OPSIZE, 0xab], lodsb: [0xac], lodsw: [OPSIZE, 0xad],
    lodsd: [0xad], cmpsb: [0xa6], cmpsw: [OPSIZE, 0xa7], scasb: [0xae], scasw: [OPSIZE, 0xaf], cmpsd: [0xa7], scasd: [0xaf],
  }[op]!;
  const rep = op.startsWith('cmps') || op.startsWith('scas') ? r.pick([[0xf3], [0xf2], []]) : op.startsWith('lods') ? r.pick([[0xf3], [], []]) : r.pick([[0xf3], [0xf3], []]);
  // a segment override on the source now and then (flat here; the destination is always ES)
  const seg = r.bool(0.2) ? [r.pick([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65])] : [];
  const body: Item[] = [ins(down ? 0xfd : 0xfc), ins(0xb9, ...le(n, 4)), setEsi(si), ins(0xbf, ...le(di, 4)), { emit: (a) => a.put(...seg, ...rep, ...opcode), count: () => n + 2 }];
  if (down) body.push(ins(0xfc));
  return preserving(c, [ECX, ESI, EDI], body);
}

/** A stack frame torn down by LEAVE: PUSH EBP; MOV EBP, ESP; PUSH imm; LEAVE (EBP and ESP as before). */
function frame(c: Ctx): Item {
  return seq([ins(0x55), ins(0x89, 0xe5), ins(0x6a, c.r.int(256)), ins(0xc9)]);
}

/** A straight-line item (no control flow): what skipped code, loop bodies and subroutines are made of. */
function simple(c: Ctx): Item {
  const r = c.r.int(100);
  if (r < 22) return alu(c);
  if (r < 36) return mov(c);
  if (r < 41) return movx(c);
  if (r < 46) return lea(c);
  if (r < 49) return xchg(c);
  if (r < 55) return unary(c);
  if (r < 64) return shift(c);
  if (r < 69) return multiply(c);
  if (r < 72) return divide(c);
  if (r < 74) return convert(c);
  if (r < 79) return condMove(c);
  if (r < 84) return bits(c);
  if (r < 90) return stack(c);
  if (r < 96) return misc(c);
  if (r < 98) return frame(c);
  return stringOp(c);
}

// ---- control flow ----
/** Jcc/JMP/JECXZ forward over a few items (JMP: over bytes that are never executed, sometimes junk). */
function forward(c: Ctx): Item {
  const r = c.r, skip = label(c, 'f');
  const kind = r.int(10);
  if (kind === 0) { // jmp over junk
    const junk = Array.from({ length: r.range(1, 12) }, () => r.int(256));
    const near = r.bool(0.3);
    return { emit: (a) => { a.put(near ? 0xe9 : 0xeb); a.rel(skip, near ? 4 : 1); a.put(...junk); a.label(skip); }, count: () => 1 };
  }
  const body = Array.from({ length: r.range(1, 3) }, () => simple(c));
  if (kind === 1 && canWrite(c, EAX)) { // mov eax, target; jmp eax
    return { emit: (a) => { a.put(0xb8); a.abs(skip); a.put(0xff, 0xe0); for (const i of body) i.emit(a); a.label(skip); }, count: () => 2, children: body };
  }
  const near = sizeOf(body) > 120 || r.bool(0.2);
  const cc = r.int(16);
  const jecxz = kind === 2 && !near;
  return {
    emit: (a) => {
      if (jecxz) a.put(0xe3); else if (near) a.put(0x0f, 0x80 + cc); else a.put(0x70 + cc);
      a.rel(skip, near ? 4 : 1);
      for (const i of body) i.emit(a);
      a.label(skip);
    },
    count: () => 1 + sum(body), children: body,
  };
}

/** A bounded loop: counter = 1..6 in ECX/EBX/EDI; DEC + JNZ (rel8 or rel32) or LOOP/LOOPE/LOOPNE. */
function loop(c: Ctx): Item | null {
  const r = c.r;
  const counters = [ECX, EBX, EDI].filter((x) => canWrite(c, x));
  if (counters.length === 0 || c.depth >= 2) return null;
  const cnt = r.pick(counters), n = r.range(1, 6), top = label(c, 'l');
  const inner: Ctx = { ...c, reserved: new Set([...c.reserved, cnt]), depth: c.depth + 1 };
  const body = Array.from({ length: r.range(1, 6) }, () => item(inner));
  const useLoop = cnt === ECX && r.bool(0.4), loopOp = r.pick([0xe2, 0xe2, 0xe1, 0xe0]);
  const tight = r.bool(0.5);
  return {
    emit: (a) => {
      a.put(0xb8 + cnt, ...le(n, 4));
      a.label(top);
      const start = a.pos;
      for (const i of body) i.emit(a);
      if (useLoop && a.pos - start + 2 <= 128) { a.put(loopOp); a.rel(top, 1); return; }
      if (tight) a.put(0x48 + cnt); else a.put(0x83, 0xe8 | cnt, 1); // dec / sub 1
      if (a.pos - start + 2 <= 128) { a.put(0x75); a.rel(top, 1); } else { a.put(0x0f, 0x85); a.rel(top, 4); }
    },
    count: () => 1 + n * (sum(body) + 2), children: body,
  };
}

function call(c: Ctx): Item | null {
  if (c.subs.length === 0 || c.inSub) return null;
  const r = c.r, sub = r.pick(c.subs);
  const args = sub.args ? [ins(0x68, ...le(imm(c, 4), 4))] : [];
  const count = () => sub.args + 1 + sub.count;
  switch (r.int(4)) {
    case 0: if (canWrite(c, EAX)) return { emit: (a) => { for (const i of args) i.emit(a); a.put(0xb8); a.abs(sub.label); a.put(0xff, 0xd0); }, count: () => count() + 1 };
    // fall through
    case 1: { // call [ebp+d8] after storing the address there
      const d = c.r.range(-128, 124);
      return { emit: (a) => { a.put(0xc7, 0x45, d & 0xff); a.abs(sub.label); for (const i of args) i.emit(a); a.put(0xff, 0x55, d & 0xff); }, count: () => count() + 1 };
    }
    default: return { emit: (a) => { for (const i of args) i.emit(a); a.put(0xe8); a.rel(sub.label, 4); }, count };
  }
}

/**
 * Self-modifying code: a store into an instruction ahead (often the very next one), an instruction in a
 * loop patched for its next trip (immediate or opcode: ADD <-> SUB, Jcc <-> its inverse), a string
 * copy of new code over a NOP sled ahead, a REP STOSB of NOPs over 1-byte instructions ahead.
 */
function selfModify(c: Ctx): Item | null {
  const r = c.r, t = label(c, 's');
  const dst = wr(c), v = imm(c, 4);
  switch (r.int(5)) {
    case 0: { // patch the imm32 of `mov dst, imm32` ahead (byte, word or dword store; through a register sometimes)
      const size = rndSize(c), off = r.int(5 - size), val = imm(c, size);
      const gap = Array.from({ length: r.bool(0.5) ? 0 : r.range(1, 3) }, () => simple(c));
      const viaReg = canWrite(c, EAX) && dst !== EAX && r.bool(0.3) && !gap.length;
      return {
        emit: (a) => {
          if (viaReg) { a.put(0xb8, ...le(val, 4)); a.put(...pre(size), size === 1 ? 0x88 : 0x89, 0x05); a.abs(t, 1 + off); }
          else { a.put(...pre(size), size === 1 ? 0xc6 : 0xc7, 0x05); a.abs(t, 1 + off); a.put(...le(val, size)); }
          for (const i of gap) i.emit(a);
          a.label(t); a.put(0xb8 + dst, ...le(v, 4));
        },
        count: () => 2 + (viaReg ? 1 : 0) + sum(gap), children: gap,
      };
    }
    case 1: case 2: { // in a loop: patch an instruction of the body for the next trip
      const counters = [ECX, EBX, EDI].filter((x) => canWrite(c, x) && x !== dst);
      if (counters.length === 0 || c.depth >= 2) return null;
      const cnt = r.pick(counters), n = r.range(2, 5), top = label(c, 'L');
      const inner: Ctx = { ...c, reserved: new Set([...c.reserved, cnt, dst]), depth: c.depth + 1 };
      const filler = Array.from({ length: r.range(0, 2) }, () => simple(inner));
      const kind = r.int(3), src = r.int(8);
      // kind 0: add dst, imm32 (81 C0+dst imm32), patch imm; 1: add/sub dst, src (01/29), toggle; 2: jz/jnz +2 over inc dst
      const target = (a: Asm) => {
        a.label(t);
        if (kind === 0) a.put(0x81, 0xc0 | dst, ...le(v, 4));
        else if (kind === 1) a.put(0x01, 0xc0 | (src << 3) | dst);
        else a.put(0x74, 0x01, 0x40 + dst);
      };
      const patch = (a: Asm) => {
        if (kind === 0) { a.put(0x81, 0x05); a.abs(t, 2); a.put(...le(imm(c, 4), 4)); } // add dword [t+2], imm
        else if (kind === 1) { a.put(0x80, 0x35); a.abs(t, 0); a.put(0x28); } // xor byte [t], 0x28
        else { a.put(0x80, 0x35); a.abs(t, 0); a.put(0x01); } // xor byte [t], 1: jz <-> jnz
      };
      const patchFirst = r.bool();
      return {
        emit: (a) => {
          a.put(0xb8 + cnt, ...le(n, 4));
          a.label(top);
          if (patchFirst) patch(a);
          target(a);
          for (const i of filler) i.emit(a);
          if (!patchFirst) patch(a);
          a.put(0x48 + cnt, 0x0f, 0x85); a.rel(top, 4);
        },
        count: () => 1 + n * (sum(filler) + 5), children: filler,
      };
    }
    case 3: { // REP MOVSB new code (kept inline, jumped over) over a NOP sled ahead
      const code = Array.from({ length: r.range(1, 3) }, () => simple({ ...c, reserved: new Set([...c.reserved, ECX, ESI, EDI]), stackFree: false }));
      const src = label(c, 'src'), sled = label(c, 'sled'), over = label(c, 'over');
      const len = sizeOf(code), copy = len, sledLen = len + r.int(3);
      const body: Item = {
        emit: (a) => {
          a.put(0xeb); a.rel(over, 1);
          a.label(src); for (const i of code) i.emit(a);
          a.label(over);
          a.put(0xfc, 0xb9, ...le(copy, 4), 0xbe); a.abs(src); a.put(0xbf); a.abs(sled); a.put(0xf3, 0xa4);
          a.label(sled); a.put(...new Array(sledLen).fill(0x90));
        },
        count: () => 6 + copy + sledLen + sum(code), children: code,
      };
      return len > 100 ? null : preserving(c, [ECX, ESI, EDI], [body]);
    }
    default: { // REP STOSB of NOPs over 1-byte instructions ahead (INC/DEC of a writable register)
      if (!canWrite(c, EAX)) return null;
      const k = r.range(1, 8), m = r.range(0, k), ops = Array.from({ length: k }, () => (r.bool() ? 0x40 : 0x48) + r.pick(writable(c).filter((x) => x !== EAX && x !== ECX && x !== EDI).concat([EDX])));
      const body: Item = {
        emit: (a) => { a.put(0xfc, 0xb0, 0x90, 0xb9, ...le(m, 4), 0xbf); a.abs(t); a.put(0xf3, 0xaa); a.label(t); a.put(...ops); },
        count: () => 5 + m + k,
      };
      return preserving(c, [ECX, EDI], [body]);
    }
  }
}

/** One item of a program body (or of a loop body when `inLoop`). */
/** One item of a program or loop body. Self-modifying code only in the programs meant for it (c.smc). */
function item(c: Ctx): Item {
  const r = c.r.int(100);
  if (r < 60) return simple(c);
  if (r < 72) return forward(c);
  const x = r < 84 ? loop(c) : r < 92 ? call(c) : c.smc ? selfModify(c) : forward(c);
  return x ?? simple(c);
}

// ---- programs ----
export interface Program {
  seed: number;
  index: number;
  /** Top-level items, subroutines (label, items, ret imm16). */
  main: Item[];
  subs: { label: string; items: Item[]; args: number }[];
  regs: Partial<Record<RegisterName, number>>;
  scratch: number;
  /** Initial bytes of the scratch area, the random stack area above ESP0, 0x80..0x17f and the last 16 bytes of RAM. */
  data: { scratch: Uint8Array; stack: Uint8Array; low: Uint8Array; top: Uint8Array };
  /** Uses RDTSC: the result depends on how many instructions the VM ran before (not comparable across VMs with different histories). */
  tsc: boolean;
  /**
   * How it runs: most programs in one run() to the end; some stop part-way (a fraction of the budget,
   * so the budget runs out inside compiled code), some in slices of a few instructions (run() re-entered
   * in the middle of compiled code).
   */
  schedule: { fraction: number; slice: number };
  /**
   * Where the subroutines start: 0 right after main's `jmp $`; else at this offset from CODE_AREA (if main
   * ends below it), int3 fill between: on a page of their own or straddling two in main's 16 KiB span (one
   * region: jit/region.ts's FLAT_SPAN_SHIFT), or in the next span or straddling into it, so calls and
   * returns cross spans — regions chained to one another.
   */
  subsAt: number;
}

export function generateProgram(seed: number, index: number): Program {
  const r = new Rng(mix32(seed ^ mix32(index + 1)));
  const shared = { n: 0, tsc: false };
  const scratchInCode = r.bool(0.1), smc = r.bool(0.35);
  const c: Ctx = { r, reserved: new Set(), inSub: false, smc, stackFree: true, depth: 0, subs: [], scratch: SCRATCH, shared };
  // subroutines first (so calls can pick them); they write only EAX/EDX/ESI and return with RET or RET 4
  const subs: Program['subs'] = [];
  for (let i = 0, n = r.int(3); i < n; i++) {
    const sc: Ctx = { ...c, reserved: new Set([EBX, ECX, EDI]), inSub: true, stackFree: false };
    const items = Array.from({ length: r.range(1, 5) }, () => (r.bool(0.8) ? simple(sc) : forward(sc)));
    const s = { label: `sub${i}`, items, args: r.bool(0.3) ? 1 : 0 };
    subs.push(s);
    c.subs.push({ label: s.label, get count() { return sum(s.items) + 1; }, args: s.args } as { label: string; count: number; args: number });
  }
  // scratch in the code's first page: data stores hit a page that holds code
  if (scratchInCode) c.scratch = SCRATCH_IN_CODE;
  const main = Array.from({ length: r.range(4, 28) }, () => item(c));
  const rnd = (n: number) => Uint8Array.from({ length: n }, () => (r.bool(0.1) ? r.pick([0, 0xff, 0x80]) : r.int(256)));
  const regs: Partial<Record<RegisterName, number>> = {
    eax: imm(c, 4), ecx: imm(c, 4), edx: imm(c, 4), ebx: imm(c, 4), esi: imm(c, 4), edi: imm(c, 4),
    esp: ESP0, ebp: c.scratch + 128, eip: CODE, eflags: 2 | (r.next() & 0x8d5) | (r.bool(0.1) ? 0x400 : 0),
  };
  const schedule = r.bool(0.8) ? { fraction: 1, slice: Infinity } : r.bool() ? { fraction: r.next() / 2 ** 32, slice: Infinity } : { fraction: 1, slice: r.pick([1, 2, 3, 5, 7, 13, 31]) };
  // (Drawn last: the programs of a seed stay what they were before subroutines could move.)
  const subsAt = subs.length > 0 && r.bool(0.4) ? r.pick([0x2000, 0x2000 + r.int(0x800), 0x2ff0 - r.int(16), 0x4000 + r.int(0x800), 0x3ff0 - r.int(16)]) : 0;
  return { seed, index, main, subs, regs, scratch: c.scratch, data: { scratch: rnd(SCRATCH_SIZE), stack: rnd(0x80), low: rnd(0x100), top: rnd(16) }, tsc: shared.tsc, schedule, subsAt };
}

/** The program's code (at CODE): main, `jmp $`, then the subroutines. */
export function assemble(p: Program): Uint8Array {
  const a = new Asm();
  for (const i of p.main) i.emit(a);
  a.label('end'); a.put(0xeb, 0xfe);
  if (p.subsAt !== 0) {
    const at = CODE_AREA + p.subsAt - CODE;
    while (a.pos < at) a.put(0xcc);
  }
  for (const s of p.subs) {
    a.label(s.label);
    for (const i of s.items) i.emit(a);
    if (s.args) a.put(0xc2, 4, 0); else a.put(0xc3);
  }
  const code = a.finish(CODE);
  if (code.length > CODE_AREA + CODE_AREA_SIZE - CODE) throw new Error(`program ${p.index}: ${code.length} bytes of code do not fit`);
  return code;
}

/** Where the program's `jmp $` is (a run that went as planned ends there, or at HANDLER + 1 after a #DE). */
export function endAddress(p: Program): number {
  const a = new Asm();
  for (const i of p.main) i.emit(a);
  return CODE + a.pos;
}

/** Instructions the run may take (worst case), plus a few trips around `jmp $`. */
export function budget(p: Program): number {
  return sum(p.main) + 16;
}

/** The instructions the program is run for (its schedule's fraction of the budget). */
export function limit(p: Program): number {
  return Math.max(1, Math.floor(budget(p) * p.schedule.fraction));
}


/** The low page: #DE gate at IDT[0] (address 0), GDT[1] flat code, GDT[2] flat data, HLT at HANDLER. */
function lowPage(p: Program): Uint8Array {
  const page = new Uint8Array(0x1000);
  page.set([HANDLER & 0xff, (HANDLER >> 8) & 0xff, 0x08, 0x00, 0x00, 0x8e, (HANDLER >>> 16) & 0xff, HANDLER >>> 24], 0);
  page.set([0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0], 8);
  page.set([0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0], 16);
  page.set(p.data.low, 0x80);
  page[HANDLER] = 0xf4; // hlt (IF = 0: the run ends with 'halt')
  return page;
}

/**
 * Put the program into `vm` (fresh, or reused: every page a program may write is rewritten through
 * vm.memory.writeBytes, which must invalidate code compiled from the previous program).
 */
export function loadProgram(vm: VM, p: Program, code = assemble(p)): void {
  const m = vm.memory;
  m.writeBytes(0, lowPage(p));
  const area = new Uint8Array(CODE_AREA_SIZE);
  area.set(code, CODE - CODE_AREA);
  if (p.scratch !== SCRATCH) area.set(p.data.scratch, p.scratch - CODE_AREA);
  m.writeBytes(CODE_AREA, area);
  const scratchPage = new Uint8Array(0x1000);
  if (p.scratch === SCRATCH) scratchPage.set(p.data.scratch);
  m.writeBytes(SCRATCH, scratchPage);
  const stackPage = new Uint8Array(0x1000);
  stackPage.set(p.data.stack, 0x1000 - 0x80);
  m.writeBytes(STACK_TOP - 0x1000, stackPage);
  const topPage = new Uint8Array(0x1000);
  topPage.set(p.data.top, 0x1000 - 16);
  m.writeBytes(RAM - 0x1000, topPage);
  vm.setFlat32();
  vm.setRegisters(p.regs);
}

/** Drop items (one at a time, repeatedly) while `fails` still holds: a smaller program that fails the same way. */
export async function shrink(p: Program, fails: (q: Program) => Promise<boolean>, maxChecks = 400): Promise<Program> {
  let checks = 0;
  const lists = (): Item[][] => {
    const out: Item[][] = [p.main, ...p.subs.map((s) => s.items)];
    const walk = (items: Item[]) => { for (const i of items) if (i.children) { out.push(i.children); walk(i.children); } };
    for (const l of [...out]) walk(l);
    return out;
  };
  for (let changed = true; changed && checks < maxChecks;) {
    changed = false;
    for (const list of lists()) {
      for (let k = list.length - 1; k >= 0 && checks < maxChecks; k--) {
        const [removed] = list.splice(k, 1);
        checks++;
        let ok = false;
        try { ok = await fails(p); } catch { ok = false; }
        if (ok) changed = true; else list.splice(k, 0, removed);
      }
    }
  }
  return p;
}
