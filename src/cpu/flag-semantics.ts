// The lazy-flag semantics, written once: how CF OF AF ZF SF PF follow from a lazy record (the state
// block's LAZY_OP/DST/SRC/RES/SIZE/MASK slots and the EFLAGS word, state.ts), the SDM's condition table,
// and compare-and-branch fusion. The formulas are generic over a FlagAlgebra, so each engine derives its own
// form from them: the interpreter's (flags-js.ts) renders them as JavaScript source compiled once per form,
// the JIT's (jit/flags-wasm.ts) as WebAssembly expressions. tests/flag-semantics.test.ts checks both forms
// against a bit-level reference.
//
// A record says what an ALU instruction did — op, operands, result, size — and LAZY_MASK which flags it
// defines; the others are plain bits of EFLAGS. The carry and overflow formulas recover carry-outs from
// the operands and the result alone, so ADC/SBB (carry-in) and INC/DEC (src = 1) share the ADD/SUB records.
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from './state.ts';

/** Lazy operation kinds (LAZY_OP). */
export const OP_ADD = 1;    // res = dst + src (+ carry-in): ADD ADC INC XADD
export const OP_SUB = 2;    // res = dst - src (- borrow-in): SUB SBB CMP DEC NEG CMPXCHG SCAS CMPS
export const OP_LOGIC = 3;  // CF = OF = AF = 0; SF ZF PF from res: AND OR XOR TEST
export const OP_RESULT = 4; // SF ZF PF from res; the other flags were written to EFLAGS directly (shifts, ...)

/**
 * The operations the formulas are built from. `E` is an engine's expression. Words are 32-bit integers;
 * truths are 0/1 (or, in JavaScript, booleans). The leaves read the record; every call makes a fresh
 * expression (a WebAssembly expression can be used only once).
 */
export interface FlagAlgebra<E> {
  op(): E; dst(): E; src(): E; res(): E; mask(): E; efl(): E;
  word(v: number): E;
  truth(v: boolean): E;
  and(a: E, b: E): E;
  or(a: E, b: E): E;
  xor(a: E, b: E): E;
  not(a: E): E;
  /** Bit n of a word, as a truth. */
  bit(w: E, n: number): E;
  /** The sign bit of the low `size` bytes of w (size null: the record's LAZY_SIZE). */
  signBit(w: E, size: number | null): E;
  /** Are the low `size` bytes of w all zero (size null: the record's LAZY_SIZE)? */
  isZero(w: E, size: number | null): E;
  /** The low `size` bytes of w, sign-extended. */
  signExtend(w: E, size: number): E;
  /** Does the low byte of w have an even number of one bits? */
  evenParity(w: E): E;
  eq(a: E, b: E): E;
  ne(a: E, b: E): E;
  /** Orders, unsigned (U) and signed (S), as truths. */
  ltU(a: E, b: E): E; leU(a: E, b: E): E; gtU(a: E, b: E): E; geU(a: E, b: E): E;
  ltS(a: E, b: E): E; leS(a: E, b: E): E; gtS(a: E, b: E): E; geS(a: E, b: E): E;
  /** Truths: a or b; a differs from b; not a. */
  either(a: E, b: E): E;
  differ(a: E, b: E): E;
  negate(a: E): E;
  /** `cond` (a truth, or a word: nonzero is true) ? t : f — evaluating only the arm chosen. */
  choose(cond: E, t: E, f: E): E;
}

/** The record's writer as known when a form is built (the same block wrote it). */
export interface KnownWriter {
  op: number;
  size: number;
  /** LAZY_MASK as the writer left it (INC/DEC keep CF out of it). */
  mask: number;
  /** res = dst - src exactly (SUB, CMP, NEG: no borrow-in): the flags are then the order of dst and src. */
  plainSub: boolean;
}

/** A known writer, or null: any writer (op, size and mask are read from the record at run time). */
export type Writer = KnownWriter | null;

/** A truth, or a boolean when it is known as the form is built (CF and OF after a logic op are 0). */
export type Truth<E> = E | boolean;

/** A truth as an expression. */
export const lift = <E>(A: FlagAlgebra<E>, t: Truth<E>): E => (typeof t === 'boolean' ? A.truth(t) : t);

// Truth combinators that fold known values, so that e.g. L after TEST is SF alone.
const either = <E>(A: FlagAlgebra<E>, a: Truth<E>, b: Truth<E>): Truth<E> =>
  a === true || b === true ? true : a === false ? b : b === false ? a : A.either(a, b);
const negate = <E>(A: FlagAlgebra<E>, a: Truth<E>): Truth<E> => (typeof a === 'boolean' ? !a : A.negate(a));
const differ = <E>(A: FlagAlgebra<E>, a: Truth<E>, b: Truth<E>): Truth<E> => {
  if (typeof a === 'boolean') return a ? negate(A, b) : b;
  if (typeof b === 'boolean') return b ? A.negate(a) : a;
  return A.differ(a, b);
};

/** Flag `flag` from the record when LAZY_MASK has it, else its bit of EFLAGS. */
function fromRecordOrEflags<E>(A: FlagAlgebra<E>, w: Writer, flag: number, fromRecord: () => Truth<E>): Truth<E> {
  const bitNo = 31 - Math.clz32(flag);
  if (w !== null) return w.mask & flag ? fromRecord() : A.bit(A.efl(), bitNo);
  return A.choose(A.and(A.mask(), A.word(flag)), lift(A, fromRecord()), A.bit(A.efl(), bitNo));
}

/** The form for the writer's operation: after ADD, after SUB, or 0 (CF OF AF after a logic op). */
function byOp<E>(A: FlagAlgebra<E>, w: Writer, add: () => Truth<E>, sub: () => Truth<E>): Truth<E> {
  if (w !== null) return w.op === OP_ADD ? add() : w.op === OP_SUB ? sub() : false;
  const isOp = (op: number): E => A.eq(A.op(), A.word(op));
  return A.choose(isOp(OP_ADD), lift(A, add()), A.choose(isOp(OP_SUB), lift(A, sub()), A.truth(false)));
}

const sizeOf = (w: Writer): number | null => (w === null ? null : w.size);

/**
 * CF: the carry out of the top bit. After an addition a bit carries out where both operands have it, or
 * either has it and the result does not; after a subtraction the borrow mirrors that with dst inverted.
 * Without a borrow-in the borrow is simply dst < src.
 */
export function carryFlag<E>(A: FlagAlgebra<E>, w: Writer): Truth<E> {
  const size = sizeOf(w), a = (): E => A.dst(), b = (): E => A.src(), r = (): E => A.res();
  return fromRecordOrEflags(A, w, CF, () => byOp(A, w,
    () => A.signBit(A.or(A.and(a(), b()), A.and(A.or(a(), b()), A.not(r()))), size),
    () => (w !== null && w.plainSub ? A.ltU(a(), b())
      : A.signBit(A.or(A.and(A.not(a()), b()), A.and(A.or(A.not(a()), b()), r())), size))));
}

/** OF: the operands' signs agree (ADD) or differ (SUB) and the result's sign differs from dst's. */
export function overflowFlag<E>(A: FlagAlgebra<E>, w: Writer): Truth<E> {
  const size = sizeOf(w), a = (): E => A.dst(), b = (): E => A.src(), r = (): E => A.res();
  return fromRecordOrEflags(A, w, OF, () => byOp(A, w,
    () => A.signBit(A.and(A.xor(a(), r()), A.xor(b(), r())), size),
    () => A.signBit(A.and(A.xor(a(), b()), A.xor(a(), r())), size)));
}

/** AF: the carry or borrow out of bit 3, which shows in bit 4 of dst ^ src ^ res. */
export function auxFlag<E>(A: FlagAlgebra<E>, w: Writer): Truth<E> {
  const carry4 = (): E => A.bit(A.xor(A.xor(A.dst(), A.src()), A.res()), 4);
  return fromRecordOrEflags(A, w, AF, () => byOp(A, w, carry4, carry4));
}

export function zeroFlag<E>(A: FlagAlgebra<E>, w: Writer): Truth<E> {
  return fromRecordOrEflags(A, w, ZF, () => A.isZero(A.res(), sizeOf(w)));
}

export function signFlag<E>(A: FlagAlgebra<E>, w: Writer): Truth<E> {
  return fromRecordOrEflags(A, w, SF, () => A.signBit(A.res(), sizeOf(w)));
}

export function parityFlag<E>(A: FlagAlgebra<E>, w: Writer): Truth<E> {
  return fromRecordOrEflags(A, w, PF, () => A.evenParity(A.res()));
}

/** The flags a condition reads, built on demand. */
export interface Flags<E> { cf(): Truth<E>; of(): Truth<E>; zf(): Truth<E>; sf(): Truth<E>; pf(): Truth<E> }

export const flagsOf = <E>(A: FlagAlgebra<E>, w: Writer): Flags<E> => ({
  cf: () => carryFlag(A, w), of: () => overflowFlag(A, w), zf: () => zeroFlag(A, w), sf: () => signFlag(A, w), pf: () => parityFlag(A, w),
});

/** Condition cc (0..15, the SDM's tttn encoding) from the flags: an odd cc negates the one before it. */
export function conditionOf<E>(A: FlagAlgebra<E>, cc: number, f: Flags<E>): Truth<E> {
  let r: Truth<E>;
  switch (cc >> 1) {
    case 0: r = f.of(); break;                                          // O
    case 1: r = f.cf(); break;                                          // B
    case 2: r = f.zf(); break;                                          // E
    case 3: r = either(A, f.cf(), f.zf()); break;                       // BE
    case 4: r = f.sf(); break;                                          // S
    case 5: r = f.pf(); break;                                          // P
    case 6: r = differ(A, f.sf(), f.of()); break;                       // L
    default: r = either(A, f.zf(), differ(A, f.sf(), f.of())); break;   // LE
  }
  return cc & 1 ? negate(A, r) : r;
}

/**
 * Compare-and-branch fusion: for a known writer with all six flags in its record, the conditions that are
 * one comparison of the record. After a plain SUB/CMP they are the unsigned and signed order of dst and src
 * (zero-extended operands of the writer's size; B is carryFlag's dst < src already); after a 32-bit logic
 * op (CF = OF = 0) the sign and zero of res. Null: no such form, use the table.
 */
function fusedCondition<E>(A: FlagAlgebra<E>, w: KnownWriter, cc: number): E | null {
  if (w.mask !== ARITH_FLAGS) return null;
  if (w.op === OP_SUB && w.plainSub) {
    const d = (): E => A.dst(), s = (): E => A.src();
    const sd = (): E => A.signExtend(A.dst(), w.size), ss = (): E => A.signExtend(A.src(), w.size);
    switch (cc) {
      case 0x3: return A.geU(d(), s());    // AE
      case 0x6: return A.leU(d(), s());    // BE
      case 0x7: return A.gtU(d(), s());    // A
      case 0xc: return A.ltS(sd(), ss());  // L
      case 0xd: return A.geS(sd(), ss());  // GE
      case 0xe: return A.leS(sd(), ss());  // LE
      case 0xf: return A.gtS(sd(), ss());  // G
      default: return null;
    }
  }
  if (w.op === OP_LOGIC && w.size === 4) {
    const r = (): E => A.res(), zero = (): E => A.word(0);
    switch (cc) {
      case 0x5: return A.ne(r(), zero());                 // NE
      case 0x9: case 0xd: return A.geS(r(), zero());      // NS, GE
      case 0xe: return A.leS(r(), zero());                // LE: ZF or SF
      case 0xf: return A.gtS(r(), zero());                // G
      default: return null;
    }
  }
  return null;
}

/** Condition cc on the record: fused when the writer allows it, else from the flags. */
export function condition<E>(A: FlagAlgebra<E>, w: Writer, cc: number): Truth<E> {
  const fused = w === null ? null : fusedCondition(A, w, cc);
  return fused !== null ? fused : conditionOf(A, cc, flagsOf(A, w));
}
