// The x87's architectural state in the CPU-state block (slots in src/cpu/state.ts, so snapshots carry
// it with the other slots): the register stack addressed through TOP, the tag word kept in step with the
// registers' contents, and the RESET and FNINIT states.
import { FPU_CW, FPU_FCS, FPU_FDP, FPU_FDS, FPU_FIP, FPU_FOP, FPU_REG_SLOT, FPU_SW, FPU_TW } from '../state.ts';
import { Float80, Kind, kindOf } from './float80.ts';

export const TAG_VALID = 0, TAG_ZERO = 1, TAG_SPECIAL = 2, TAG_EMPTY = 3;

/** The tag FNSTENV reports for a value: zero, special (NaN, ∞, denormal, unsupported) or valid. */
export function tagOf(v: Float80): number {
  const k = kindOf(v);
  return k === Kind.Normal ? TAG_VALID : k === Kind.Zero ? TAG_ZERO : TAG_SPECIAL;
}

export const top = (s: Int32Array): number => (s[FPU_SW] >>> 11) & 7;
export function setTop(s: Int32Array, t: number): void { s[FPU_SW] = (s[FPU_SW] & ~0x3800) | ((t & 7) << 11); }

/** The physical register number of ST(i). */
export const physical = (s: Int32Array, i: number): number => (top(s) + i) & 7;

export const tag = (s: Int32Array, phys: number): number => (s[FPU_TW] >>> (2 * phys)) & 3;
function setTag(s: Int32Array, phys: number, t: number): void {
  s[FPU_TW] = (s[FPU_TW] & ~(3 << (2 * phys))) | (t << (2 * phys));
}

export function readPhysical(s: Int32Array, phys: number): Float80 {
  const o = FPU_REG_SLOT + 3 * phys;
  return new Float80(s[o] & 0xffff, s[o + 1] >>> 0, s[o + 2] >>> 0);
}
/** Writes physical register `phys` and its tag. */
export function writePhysical(s: Int32Array, phys: number, v: Float80): void {
  const o = FPU_REG_SLOT + 3 * phys;
  s[o] = v.se; s[o + 1] = v.hi | 0; s[o + 2] = v.lo | 0;
  setTag(s, phys, tagOf(v));
}

export const isEmpty = (s: Int32Array, i: number): boolean => tag(s, physical(s, i)) === TAG_EMPTY;
export const readST = (s: Int32Array, i: number): Float80 => readPhysical(s, physical(s, i));
export const writeST = (s: Int32Array, i: number, v: Float80): void => writePhysical(s, physical(s, i), v);

/** Decrements TOP and writes the new ST(0) (the caller has checked it was empty: stack overflow otherwise). */
export function push(s: Int32Array, v: Float80): void {
  setTop(s, top(s) - 1);
  writeST(s, 0, v);
}
/** Marks ST(0) empty and increments TOP. */
export function pop(s: Int32Array): void {
  setTag(s, physical(s, 0), TAG_EMPTY);
  setTop(s, top(s) + 1);
}
/** FFREE: marks ST(i) empty. */
export const free = (s: Int32Array, i: number): void => setTag(s, physical(s, i), TAG_EMPTY);

function clearPointers(s: Int32Array): void {
  s[FPU_FIP] = 0; s[FPU_FCS] = 0; s[FPU_FOP] = 0; s[FPU_FDP] = 0; s[FPU_FDS] = 0;
}

/** The state after RESET (SDM vol. 3 table 9-1): CW 0040h, SW 0, TW 5555h, registers +0, pointers 0. */
export function fpuReset(s: Int32Array): void {
  for (let i = 0; i < 24; i++) s[FPU_REG_SLOT + i] = 0;
  s[FPU_CW] = 0x0040; s[FPU_SW] = 0; s[FPU_TW] = 0x5555;
  clearPointers(s);
}

/** FNINIT: CW 037Fh (all exceptions masked, 64-bit precision, round to nearest), SW 0, all registers
 * empty, pointers 0; the register contents stay. */
export function fpuInit(s: Int32Array): void {
  s[FPU_CW] = 0x037f; s[FPU_SW] = 0; s[FPU_TW] = 0xffff;
  clearPointers(s);
}
