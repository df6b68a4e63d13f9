// FILD (exact) and FIST/FISTP of 16-, 32- and 64-bit integers: rounded by the rounding control; NaNs,
// infinities and out-of-range values store the integer indefinite (the most negative integer) with IE.
import { Float80, Kind, kindOf } from './float80.ts';
import { I, integerValue, roundMagnitude } from './integer.ts';
import type { Stored } from './convert-float.ts';
import { C1, IE, PE, roundingOf } from './status.ts';

/** FILD: the 64-bit two's-complement integer (hi, lo) (sign-extend narrower ones) as an exact value. */
export function fromInt(hi: number, lo: number): Float80 {
  hi >>>= 0; lo >>>= 0;
  if (hi >>> 31) { // negate
    lo = (~lo + 1) >>> 0;
    hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    return integerValue(1, hi, lo);
  }
  return integerValue(0, hi, lo);
}

export function toInt(a: Float80, cw: number, bits: 16 | 32 | 64): Stored {
  const indefinite: Stored = bits === 64 ? { hi: 0x80000000, lo: 0, flags: IE } : { hi: 0, lo: bits === 32 ? 0x80000000 : 0x8000, flags: IE };
  const k = kindOf(a);
  if (k === Kind.Zero) return { hi: 0, lo: 0, flags: 0 };
  if (k !== Kind.Normal && k !== Kind.Denormal) return indefinite;
  roundMagnitude(a, roundingOf(cw));
  if (I.big) return indefinite;
  // the largest magnitude: 2^(bits−1) − 1, or 2^(bits−1) for negative values
  const limitHi = bits === 64 ? 0x80000000 : 0, limitLo = bits === 64 ? 0 : bits === 32 ? 0x80000000 : 0x8000;
  const over = I.hi > limitHi || (I.hi === limitHi && I.lo >= limitLo);
  if (over && !(a.sign && I.hi === limitHi && I.lo === limitLo)) return indefinite;
  let hi = I.hi, lo = I.lo;
  if (a.sign) { lo = (~lo + 1) >>> 0; hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0; }
  const flags = (I.inexact ? PE : 0) | (I.up ? C1 : 0);
  if (bits === 16) return { hi: 0, lo: lo & 0xffff, flags };
  if (bits === 32) return { hi: 0, lo, flags };
  return { hi, lo, flags };
}
