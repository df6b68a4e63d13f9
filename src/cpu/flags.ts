// Lazy arithmetic flags. An ALU instruction records what it did (operation, operands, result, size) and
// which of CF PF AF ZF SF OF that record defines (LAZY_MASK); a flag is computed only when something reads
// it (Jcc, SETcc, ADC, PUSHF ...). Flags outside the mask live in the EFLAGS slot as plain bits.
// The carry/borrow/overflow formulas below recover carry-outs from operands and result alone, so ADC/SBB
// and INC/DEC share the ADD/SUB records.
import { AF, ARITH_FLAGS, CF, EFLAGS, LAZY_DST, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, OF, PF, SF, ZF } from './state.ts';

/** Lazy operation kinds (LAZY_OP). */
export const OP_ADD = 1;    // res = dst + src (+ carry-in): ADD ADC INC XADD
export const OP_SUB = 2;    // res = dst - src (- borrow-in): SUB SBB CMP DEC NEG CMPXCHG SCAS CMPS
export const OP_LOGIC = 3;  // CF = OF = AF = 0; SF ZF PF from res: AND OR XOR TEST
export const OP_RESULT = 4; // SF ZF PF from res; the other flags were written to EFLAGS directly (shifts, ...)

/** PF: set when the low byte of the result has an even number of 1 bits. */
const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let bits = 0;
  for (let v = i; v; v >>= 1) bits += v & 1;
  PARITY[i] = bits & 1 ? 0 : PF;
}

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

/** Bit number of the sign bit, and the value mask, of an operand of `size` bytes. */
export const topShift = (size: number): number => size * 8 - 1;
export const sizeMask = (size: number): number => (size === 4 ? -1 : (1 << (size * 8)) - 1);

export function getCF(s: Int32Array): number {
  if (!(s[LAZY_MASK] & CF)) return s[EFLAGS] & CF;
  const a = s[LAZY_DST], b = s[LAZY_SRC], r = s[LAZY_RES], sh = topShift(s[LAZY_SIZE]);
  switch (s[LAZY_OP]) {
    case OP_ADD: return (((a & b) | ((a | b) & ~r)) >>> sh) & 1;
    case OP_SUB: return (((~a & b) | ((~a | b) & r)) >>> sh) & 1;
    default: return 0;
  }
}

export function getOF(s: Int32Array): boolean {
  if (!(s[LAZY_MASK] & OF)) return (s[EFLAGS] & OF) !== 0;
  const a = s[LAZY_DST], b = s[LAZY_SRC], r = s[LAZY_RES], sh = topShift(s[LAZY_SIZE]);
  switch (s[LAZY_OP]) {
    case OP_ADD: return ((((a ^ r) & (b ^ r)) >>> sh) & 1) !== 0;
    case OP_SUB: return ((((a ^ b) & (a ^ r)) >>> sh) & 1) !== 0;
    default: return false;
  }
}

export function getAF(s: Int32Array): boolean {
  if (!(s[LAZY_MASK] & AF)) return (s[EFLAGS] & AF) !== 0;
  const op = s[LAZY_OP];
  if (op === OP_ADD || op === OP_SUB) return ((s[LAZY_DST] ^ s[LAZY_SRC] ^ s[LAZY_RES]) & 0x10) !== 0;
  return false;
}

export function getZF(s: Int32Array): boolean {
  if (!(s[LAZY_MASK] & ZF)) return (s[EFLAGS] & ZF) !== 0;
  return (s[LAZY_RES] & sizeMask(s[LAZY_SIZE])) === 0;
}

export function getSF(s: Int32Array): boolean {
  if (!(s[LAZY_MASK] & SF)) return (s[EFLAGS] & SF) !== 0;
  return ((s[LAZY_RES] >>> topShift(s[LAZY_SIZE])) & 1) !== 0;
}

export function getPF(s: Int32Array): boolean {
  if (!(s[LAZY_MASK] & PF)) return (s[EFLAGS] & PF) !== 0;
  return PARITY[s[LAZY_RES] & 0xff] !== 0;
}

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

/** Evaluate condition code cc (0..15, the SDM's tttn encoding). */
export function testCondition(s: Int32Array, cc: number): boolean {
  let r: boolean;
  switch (cc >> 1) {
    case 0: r = getOF(s); break;
    case 1: r = getCF(s) !== 0; break;
    case 2: r = getZF(s); break;
    case 3: r = getCF(s) !== 0 || getZF(s); break;
    case 4: r = getSF(s); break;
    case 5: r = getPF(s); break;
    case 6: r = getSF(s) !== getOF(s); break;
    default: r = getZF(s) || getSF(s) !== getOF(s); break;
  }
  return (cc & 1) ? !r : r;
}

/**
 * A closure testing condition cc, chosen once at decode time so a Jcc/SETcc/CMOVcc does not dispatch
 * on the condition each time it runs.
 */
export function conditionFor(s: Int32Array, cc: number): () => boolean {
  switch (cc) {
    case 0x0: return () => getOF(s);
    case 0x1: return () => !getOF(s);
    case 0x2: return () => getCF(s) !== 0;
    case 0x3: return () => getCF(s) === 0;
    case 0x4: return () => getZF(s);
    case 0x5: return () => !getZF(s);
    case 0x6: return () => getCF(s) !== 0 || getZF(s);
    case 0x7: return () => getCF(s) === 0 && !getZF(s);
    case 0x8: return () => getSF(s);
    case 0x9: return () => !getSF(s);
    case 0xa: return () => getPF(s);
    case 0xb: return () => !getPF(s);
    case 0xc: return () => getSF(s) !== getOF(s);
    case 0xd: return () => getSF(s) === getOF(s);
    case 0xe: return () => getZF(s) || getSF(s) !== getOF(s);
    default: return () => !getZF(s) && getSF(s) === getOF(s);
  }
}
