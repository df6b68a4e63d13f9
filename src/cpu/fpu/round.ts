// Rounding a wide significand to a precision and an exponent range: the one place where PE, UE, OE and
// C1 (rounded up) arise. Used for the 80-bit register format (with precision control) and, with their own
// exponent ranges, for the single and double memory formats.
import { f80, Float80 } from './float80.ts';
import { shiftRightJam, W } from './significand.ts';
import { C1, OE, PE, type Precision, Rounding, UE } from './status.ts';

/** The rounded value, in the destination format's terms: biased exponent and a 64-bit significand with
 * the integer bit explicit (exp 0 = zero or denormal). */
export const P = { exp: 0, hi: 0, lo: 0 };

let rHi = 0, rLo = 0, rCarry = 0, rInexact = false, rUp = false;

/** Rounds (h, l, x) to its top p bits by rc; sets rHi/rLo (truncated + increment), rCarry (out of bit 63). */
function roundBits(sign: number, h: number, l: number, x: number, p: Precision, rc: Rounding): void {
  let lsb: number, round: number, sticky: boolean;
  if (p === 64) {
    lsb = l & 1; round = x >>> 31; sticky = (x & 0x7fffffff) !== 0;
  } else if (p === 53) {
    lsb = (l >>> 11) & 1; round = (l >>> 10) & 1; sticky = (l & 0x3ff) !== 0 || x !== 0; l = (l & ~0x7ff) >>> 0;
  } else {
    lsb = (h >>> 8) & 1; round = (h >>> 7) & 1; sticky = (h & 0x7f) !== 0 || l !== 0 || x !== 0; h = (h & ~0xff) >>> 0; l = 0;
  }
  rInexact = round !== 0 || sticky;
  const inc = rc === Rounding.Nearest ? round !== 0 && (sticky || lsb !== 0)
    : rc === Rounding.Down ? sign !== 0 && rInexact
    : rc === Rounding.Up ? sign === 0 && rInexact
    : false;
  rUp = inc; rCarry = 0;
  if (inc) {
    const unit = p === 64 ? 1 : p === 53 ? 0x800 : 0;
    if (unit) {
      l += unit;
      if (l > 0xffffffff) { l -= 0x100000000; h += 1; }
    } else {
      h += 0x100;
    }
    if (h > 0xffffffff) { h -= 0x100000000; rCarry = 1; }
  }
  rHi = h >>> 0; rLo = l >>> 0;
}

/**
 * Rounds sign × (h, l, x) / 2^95 × 2^(exp − bias), where bit 95 of (h, l, x) is set (or all are zero) and
 * exp is the destination's biased exponent (any integer), to p bits within exponents 1 … expMax − 1.
 * Writes the result to P and returns the flags: PE; UE when tiny after rounding and inexact (masked
 * response); OE with ∞ or the largest finite value by rounding mode; C1 when rounded up.
 * With UE or OE unmasked (in `masks`, the control word's mask bits) a tiny or overflowing result is
 * rounded at the unbounded exponent and its exponent wrapped into range by the format's bias adjustment
 * (24576 for the register format), UE raised whether exact or not; results beyond the wrap (FSCALE)
 * become 0 or ∞ whatever the rounding mode.
 */
export function roundPack(sign: number, exp: number, h: number, l: number, x: number, p: Precision, rc: Rounding, expMax: number, masks: number): number {
  if ((h | l | x) === 0) { P.exp = 0; P.hi = 0; P.lo = 0; return 0; }
  let flags = 0;
  if (exp <= 0) {
    let tiny = true;
    if (exp === 0) { roundBits(sign, h, l, x, p, rc); tiny = rCarry === 0; }
    if (tiny && !(masks & UE)) {
      if (exp + biasAdjust(expMax) <= 0) { P.exp = 0; P.hi = 0; P.lo = 0; return UE | PE; } // beyond the wrap (FSCALE): 0
      roundBits(sign, h, l, x, p, rc);
      if (rCarry) { rHi = 0x80000000; exp++; }
      P.exp = exp + biasAdjust(expMax); P.hi = rHi; P.lo = rLo;
      return UE | (rInexact ? PE : 0) | (rUp ? C1 : 0);
    }
    shiftRightJam(h, l, x, 1 - exp);
    roundBits(sign, W.h, W.l, W.x, p, rc);
    if (rInexact) flags |= PE | (tiny ? UE : 0) | (rUp ? C1 : 0);
    P.exp = rHi >>> 31; P.hi = rHi; P.lo = rLo;
    return flags;
  }
  roundBits(sign, h, l, x, p, rc);
  if (rCarry) { rHi = 0x80000000; exp++; }
  if (exp >= expMax) {
    if (!(masks & OE)) {
      if (exp - biasAdjust(expMax) >= expMax) { P.exp = expMax; P.hi = 0x80000000; P.lo = 0; return OE | PE | C1; } // beyond: ∞
      P.exp = exp - biasAdjust(expMax); P.hi = rHi; P.lo = rLo;
      return OE | (rInexact ? PE : 0) | (rUp ? C1 : 0);
    }
    const toInfinity = rc === Rounding.Nearest || (rc === Rounding.Up && !sign) || (rc === Rounding.Down && sign !== 0);
    if (toInfinity) { P.exp = expMax; P.hi = 0x80000000; P.lo = 0; return OE | PE | C1; }
    P.exp = expMax - 1;
    P.hi = p === 24 ? 0xffffff00 : 0xffffffff;
    P.lo = p === 64 ? 0xffffffff : p === 53 ? 0xfffff800 : 0;
    return OE | PE;
  }
  if (rInexact) flags |= PE | (rUp ? C1 : 0);
  P.exp = exp; P.hi = rHi; P.lo = rLo;
  return flags;
}

/** The exponent wrap of unmasked overflow and underflow results: 3 × 2^(exponent bits − 2). */
const biasAdjust = (expMax: number): number => (expMax === 0x7fff ? 0x6000 : expMax === 0x7ff ? 0x600 : 0xc0);

/** The result of an operation on 80-bit values: the value and the flags (exceptions | C1) it raised. */
export interface FpuResult { value: Float80; flags: number }

/** roundPack into the 80-bit register format. */
export function roundPack80(sign: number, exp: number, h: number, l: number, x: number, p: Precision, rc: Rounding, cw: number): FpuResult {
  const flags = roundPack(sign, exp, h, l, x, p, rc, 0x7fff, cw & 0x3f);
  return { value: f80(sign, P.exp, P.hi, P.lo), flags };
}
