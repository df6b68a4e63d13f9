// Rounding a finite value to an integer by the rounding control (FRNDINT, FIST, FBSTP share it).
import { f80, Float80, BIAS } from './float80.ts';
import { unpack } from './operand.ts';
import { normalize, shiftRightJam, W } from './significand.ts';
import { Rounding } from './status.ts';

/** The rounded magnitude as 64 bits (I.hi, I.lo); `big` when it does not fit in 64 bits. */
export const I = { hi: 0, lo: 0, inexact: false, up: false, big: false };

/** Rounds the finite non-zero v to an integer magnitude in I. */
export function roundMagnitude(v: Float80, rc: Rounding): void {
  const u = unpack(v), e = u.exp - BIAS;
  I.inexact = I.up = I.big = false;
  if (e > 63) { I.big = true; I.hi = u.hi; I.lo = u.lo; return; }
  shiftRightJam(u.hi, u.lo, 0, 63 - e);
  // (hi, lo, 0) shifted right by 63 − e: the integer part is (W.h, W.l), the fraction W.x (jammed)
  const round = W.x >>> 31, sticky = (W.x & 0x7fffffff) !== 0;
  let ih = W.h, il = W.l;
  I.inexact = round !== 0 || sticky;
  const inc = rc === Rounding.Nearest ? round !== 0 && (sticky || (il & 1) !== 0)
    : rc === Rounding.Down ? u.sign !== 0 && I.inexact
    : rc === Rounding.Up ? u.sign === 0 && I.inexact
    : false;
  if (inc) {
    I.up = true;
    il += 1;
    if (il > 0xffffffff) { il = 0; ih += 1; if (ih > 0xffffffff) { ih = 0; I.big = true; } }
  }
  I.hi = ih >>> 0; I.lo = il >>> 0;
}

/** The integer sign × (hi, lo) as an exact 80-bit value. */
export function integerValue(sign: number, hi: number, lo: number): Float80 {
  if ((hi | lo) === 0) return f80(sign, 0, 0, 0);
  const n = normalize(hi, lo, 0);
  return f80(sign, BIAS + 63 - n, W.h, W.l);
}
