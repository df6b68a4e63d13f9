// Lazy arithmetic flags, the interpreter's side. An ALU instruction records what it did (operation,
// operands, result, size) and which of CF PF AF ZF SF OF that record defines (LAZY_MASK); a flag is computed
// only when something reads it (Jcc, SETcc, ADC, PUSHF ...). Flags outside the mask live in the EFLAGS slot
// as plain bits. What a record means is flag-semantics.ts; the readers here are compiled from it (flags-js.ts).
import { auxFlag, carryFlag, OP_RESULT, overflowFlag, parityFlag, signFlag, zeroFlag } from './flag-semantics.ts';
import { flagReader } from './flags-js.ts';
import { AF, ARITH_FLAGS, CF, EFLAGS, LAZY_DST, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, OF, PF, SF, ZF } from './state.ts';

export { OP_ADD, OP_LOGIC, OP_RESULT, OP_SUB, type Writer } from './flag-semantics.ts';
export { branchIf, conditionFor, conditionTest } from './flags-js.ts';

/** Record an arithmetic result whose six flags all follow from (op, dst, src, res, size). */
export function setLazy(s: Int32Array, op: number, dst: number, src: number, res: number, size: number): void {
  s[LAZY_OP] = op; s[LAZY_DST] = dst; s[LAZY_SRC] = src; s[LAZY_RES] = res; s[LAZY_SIZE] = size;
  s[LAZY_MASK] = ARITH_FLAGS;
}

/** As setLazy, but CF keeps its current value (INC, DEC). */
export function setLazyKeepCF(s: Int32Array, op: number, dst: number, src: number, res: number, size: number): void {
  if (s[LAZY_MASK] & CF) s[EFLAGS] = (s[EFLAGS] & ~CF) | getCF(s); // materialise CF once, then it stays put
  s[LAZY_OP] = op; s[LAZY_DST] = dst; s[LAZY_SRC] = src; s[LAZY_RES] = res; s[LAZY_SIZE] = size;
  s[LAZY_MASK] = ARITH_FLAGS & ~CF;
}

/** SF ZF PF from res; `flags` (a subset of CF AF OF) replaces those bits of EFLAGS directly. */
export function setResultFlags(s: Int32Array, res: number, size: number, flags: number, flagsMask: number): void {
  s[EFLAGS] = (s[EFLAGS] & ~(flagsMask | SF | ZF | PF)) | (flags & flagsMask);
  s[LAZY_OP] = OP_RESULT; s[LAZY_RES] = res; s[LAZY_SIZE] = size;
  s[LAZY_MASK] = SF | ZF | PF;
}

/** The flags of the record in `s`, whatever wrote it: CF as 0/1, the others as booleans. */
export const getCF = flagReader('getCF', carryFlag, 'bit');
export const getOF = flagReader('getOF', overflowFlag, 'bool');
export const getAF = flagReader('getAF', auxFlag, 'bool');
export const getZF = flagReader('getZF', zeroFlag, 'bool');
export const getSF = flagReader('getSF', signFlag, 'bool');
export const getPF = flagReader('getPF', parityFlag, 'bool');

/**
 * Set the flags in `mask` to `bits` directly (BT's CF, SAHF, ...): they stop being lazy; the other
 * lazy flags keep their record.
 */
export function setFlagBits(s: Int32Array, mask: number, bits: number): void {
  s[EFLAGS] = (s[EFLAGS] & ~mask) | (bits & mask);
  s[LAZY_MASK] &= ~mask;
}

/** The full EFLAGS value with every lazy flag computed (bit 1 always set). */
export function getEflags(s: Int32Array): number {
  let f = s[EFLAGS] & ~ARITH_FLAGS;
  if (getCF(s)) f |= CF;
  if (getPF(s)) f |= PF;
  if (getAF(s)) f |= AF;
  if (getZF(s)) f |= ZF;
  if (getSF(s)) f |= SF;
  if (getOF(s)) f |= OF;
  return (f | 2) >>> 0;
}

/** Store a complete EFLAGS value (POPF, IRET, SAHF after merging): nothing stays lazy. */
export function setEflags(s: Int32Array, value: number): void {
  s[EFLAGS] = value | 2;
  s[LAZY_MASK] = 0;
}

/** Materialise the lazy flags into EFLAGS (before code that edits EFLAGS bits directly). */
export function flushFlags(s: Int32Array): void {
  if (s[LAZY_MASK] !== 0) setEflags(s, getEflags(s));
}
