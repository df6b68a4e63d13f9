// Lazy flags in WebAssembly: the formulas of src/cpu/flag-semantics.ts built as WebAssembly expressions,
// over the record (LAZY_OP, DST, SRC, RES, SIZE, MASK plus the EFLAGS word) held in locals of a region
// function. When the translator knows which instruction wrote the record (same block, so op and size are
// compile-time constants) a flag or a condition is a few inline operations — CMP + Jcc is one comparison;
// otherwise a `$condN` function evaluates it from the record.
import type { WasmBackend, WasmModule } from './wasm-backend.ts';
import { ARITH_FLAGS } from '../src/cpu/state.ts';
import {
  auxFlag, carryFlag, condition, conditionOf, type FlagAlgebra, flagsOf, type KnownWriter, lift, overflowFlag, parityFlag, signFlag, zeroFlag,
} from '../src/cpu/flag-semantics.ts';

type Module = WasmModule;
type Expr = number;

/** What the translator knows about the record at a point: who wrote it (op kind, size, mask), or null (unknown). */
export type KnownFlags = KnownWriter;

/** Local indices of the record (the translator owns the numbering). */
export interface FlagLocals { op: number; dst: number; src: number; res: number; size: number; mask: number; efl: number }

/** bits - 1 (the sign bit's number) of a record of `size` bytes. */
const topBitOf = (m: Module, size: Expr): Expr => m.i32.sub(m.i32.shl(size, m.i32.const(3)), m.i32.const(1));

/**
 * The JIT's FlagAlgebra: i32 expressions over the record's locals, truths as 0/1. `top`, when given, is a
 * local holding the record's bits - 1 (`$condN` and `$eflags` compute it once).
 */
class WasmFlags implements FlagAlgebra<Expr> {
  constructor(private readonly m: Module, private readonly L: FlagLocals, private readonly i32: number, private readonly top?: number) {}

  private g(l: number): Expr { return this.m.local.get(l, this.i32); }
  private c(v: number): Expr { return this.m.i32.const(v | 0); }
  /** bits - 1 of the record's size, at run time. */
  private topBit(): Expr { return this.top !== undefined ? this.g(this.top) : topBitOf(this.m, this.g(this.L.size)); }

  op(): Expr { return this.g(this.L.op); }
  dst(): Expr { return this.g(this.L.dst); }
  src(): Expr { return this.g(this.L.src); }
  res(): Expr { return this.g(this.L.res); }
  mask(): Expr { return this.g(this.L.mask); }
  efl(): Expr { return this.g(this.L.efl); }
  word(v: number): Expr { return this.c(v); }
  truth(v: boolean): Expr { return this.c(v ? 1 : 0); }
  and(a: Expr, b: Expr): Expr { return this.m.i32.and(a, b); }
  or(a: Expr, b: Expr): Expr { return this.m.i32.or(a, b); }
  xor(a: Expr, b: Expr): Expr { return this.m.i32.xor(a, b); }
  not(a: Expr): Expr { return this.m.i32.xor(a, this.c(-1)); }
  bit(w: Expr, n: number): Expr {
    const i = this.m.i32;
    return n === 0 ? i.and(w, this.c(1)) : n === 31 ? i.shr_u(w, this.c(31)) : i.and(i.shr_u(w, this.c(n)), this.c(1));
  }
  signBit(w: Expr, size: number | null): Expr {
    // A 32-bit sign is a comparison with 0, which a branch on it compiles best.
    if (size === 4) return this.m.i32.lt_s(w, this.c(0));
    return size === null ? this.m.i32.and(this.m.i32.shr_u(w, this.topBit()), this.c(1)) : this.bit(w, size * 8 - 1);
  }
  isZero(w: Expr, size: number | null): Expr {
    const i = this.m.i32;
    if (size === 4) return i.eqz(w);
    // Shifting the bits above the size out: 32 - bits = 31 - (bits - 1).
    if (size === null) return i.eqz(i.shl(w, i.sub(this.c(31), this.topBit())));
    return i.eqz(i.and(w, this.c(size === 2 ? 0xffff : 0xff)));
  }
  signExtend(w: Expr, size: number): Expr { return size === 4 ? w : size === 2 ? this.m.i32.extend16_s(w) : this.m.i32.extend8_s(w); }
  evenParity(w: Expr): Expr { const i = this.m.i32; return i.eqz(i.and(i.popcnt(i.and(w, this.c(0xff))), this.c(1))); }
  eq(a: Expr, b: Expr): Expr { return this.m.i32.eq(a, b); }
  ne(a: Expr, b: Expr): Expr { return this.m.i32.ne(a, b); }
  ltU(a: Expr, b: Expr): Expr { return this.m.i32.lt_u(a, b); }
  leU(a: Expr, b: Expr): Expr { return this.m.i32.le_u(a, b); }
  gtU(a: Expr, b: Expr): Expr { return this.m.i32.gt_u(a, b); }
  geU(a: Expr, b: Expr): Expr { return this.m.i32.ge_u(a, b); }
  ltS(a: Expr, b: Expr): Expr { return this.m.i32.lt_s(a, b); }
  leS(a: Expr, b: Expr): Expr { return this.m.i32.le_s(a, b); }
  gtS(a: Expr, b: Expr): Expr { return this.m.i32.gt_s(a, b); }
  geS(a: Expr, b: Expr): Expr { return this.m.i32.ge_s(a, b); }
  either(a: Expr, b: Expr): Expr { return this.m.i32.or(a, b); }
  differ(a: Expr, b: Expr): Expr { return this.m.i32.ne(a, b); }
  negate(a: Expr): Expr { return this.m.i32.eqz(a); }
  choose(cond: Expr, t: Expr, f: Expr): Expr { return this.m.if(cond, t, f); }
}

/** The record's flags and conditions as WebAssembly for the translator: inline for a known writer, else through a `$condN` function. */
export class FlagsWasm {
  private readonly A: WasmFlags;
  /** Did eflags() call `$eflags`? Then the module needs it (addEflagsFunction): most regions never do. */
  callsEflags = false;
  constructor(private readonly m: Module, private readonly L: FlagLocals, private readonly i32: number) {
    this.A = new WasmFlags(m, L, i32);
  }

  /** CF of a known record, 0/1. */
  cf(k: KnownFlags): Expr { return lift(this.A, carryFlag(this.A, k)); }
  of(k: KnownFlags): Expr { return lift(this.A, overflowFlag(this.A, k)); }
  zf(k: KnownFlags): Expr { return lift(this.A, zeroFlag(this.A, k)); }
  sf(k: KnownFlags): Expr { return lift(this.A, signFlag(this.A, k)); }
  pf(k: KnownFlags): Expr { return lift(this.A, parityFlag(this.A, k)); }

  /** Condition cc (SDM tttn) from a known record, as 0/1 (fused with the writer where it can be). */
  condition(k: KnownFlags, cc: number): Expr { return lift(this.A, condition(this.A, k, cc)); }

  /** Rows (cc >> 1) of the condition table dynamicCondition called: the module needs their functions (addConditionFunctions). */
  readonly conditionRows = new Set<number>();

  /** Condition cc from the record whatever wrote it: a call of the module's `$condN` for its row (odd cc negated here). */
  dynamicCondition(cc: number): Expr {
    const L = this.L, row = cc >> 1;
    this.conditionRows.add(row);
    const call = this.m.call(`cond${row}`, [L.op, L.dst, L.src, L.res, L.size, L.mask, L.efl].map((l) => this.m.local.get(l, this.i32)), this.i32);
    return cc & 1 ? this.m.i32.xor(call, this.m.i32.const(1)) : call;
  }

  /**
   * getCF from the record whatever wrote it, inline: INC/DEC keep CF, ADC/SBB read it, often at a segment's
   * start (after a return), where a call of `$cond1` cost more than these few operations.
   */
  dynamicCF(): Expr { return lift(this.A, carryFlag(this.A, null)); }

  /**
   * The whole EFLAGS word as flags.ts's getEflags gives it (every lazy flag computed, bit 1 set): inline
   * for a known writer, else a call of the module's `$eflags`.
   */
  eflags(k: KnownFlags | null): Expr {
    if (k === null) {
      const L = this.L;
      this.callsEflags = true;
      return this.m.call('eflags', [L.op, L.dst, L.src, L.res, L.size, L.mask, L.efl].map((l) => this.m.local.get(l, this.i32)), this.i32);
    }
    const A = this.A;
    return eflagsWord(this.m, A, [lift(A, carryFlag(A, k)), lift(A, parityFlag(A, k)), lift(A, auxFlag(A, k)), lift(A, zeroFlag(A, k)), lift(A, signFlag(A, k)), lift(A, overflowFlag(A, k))]);
  }
}

/** EFLAGS from the record's plain bits and the six arithmetic flags (0/1, in the order CF PF AF ZF SF OF). */
function eflagsWord(m: Module, A: WasmFlags, [cf, pf, af, zf, sf, of]: Expr[]): Expr {
  const i = m.i32, c = (v: number): Expr => i.const(v);
  let w = i.or(i.and(A.efl(), c(~ARITH_FLAGS)), c(2));
  const bits: [Expr, number][] = [[cf, 0], [pf, 2], [af, 4], [zf, 6], [sf, 7], [of, 11]];
  for (const [f, n] of bits) w = i.or(w, n === 0 ? f : i.shl(f, c(n)));
  return w;
}

/** Add `$eflags(op, dst, src, res, size, mask, eflags) -> EFLAGS` to the module: getEflags on a record passed by value. */
export function addEflagsFunction(bn: WasmBackend, m: Module): void {
  const i32 = bn.i32, TOP = 7;
  const L: FlagLocals = { op: 0, dst: 1, src: 2, res: 3, size: 4, mask: 5, efl: 6 };
  const A = new WasmFlags(m, L, i32, TOP);
  const fn = m.block(null, [
    m.local.set(TOP, topBitOf(m, m.local.get(L.size, i32))),
    eflagsWord(m, A, [carryFlag, parityFlag, auxFlag, zeroFlag, signFlag, overflowFlag].map((f) => lift(A, f(A, null)))),
  ], i32);
  m.addFunction('eflags', bn.createType([i32, i32, i32, i32, i32, i32, i32]), i32, [i32], fn);
}

/**
 * Add `$condN(op, dst, src, res, size, mask, eflags) -> 0/1` to the module for each row N (cc >> 1) of the
 * condition table that `flags` called: condition 2N on a record passed by value, whatever wrote it (the
 * slow path, for records written outside the current block). Each computes only the flags its row reads
 * (one `$cond` for every row, computing all five flags first, was ~10 % slower on a call/ret loop whose
 * DEC keeps CF: README, "Where the boot's time goes").
 */
export function addConditionFunctions(bn: WasmBackend, m: Module, flags: FlagsWasm): void {
  const i32 = bn.i32, TOP = 7;
  const L: FlagLocals = { op: 0, dst: 1, src: 2, res: 3, size: 4, mask: 5, efl: 6 };
  const A = new WasmFlags(m, L, i32, TOP);
  for (const row of [...flags.conditionRows].sort((a, b) => a - b)) {
    const fn = m.block(null, [
      m.local.set(TOP, topBitOf(m, m.local.get(L.size, i32))),
      lift(A, conditionOf(A, 2 * row, flagsOf(A, null))),
    ], i32);
    m.addFunction(`cond${row}`, bn.createType([i32, i32, i32, i32, i32, i32, i32]), i32, [i32], fn);
  }
}
