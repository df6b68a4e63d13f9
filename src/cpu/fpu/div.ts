// FDIV: the quotient of the significands by long division in 16-bit digits (Knuth's algorithm D: every
// intermediate stays an exact double), 80 bits and a sticky remainder bit, rounded once.
import { BIAS, Float80, infinity, Kind, kindOf, zero } from './float80.ts';
import { denormalStop, invalid, nanResult, unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { normalize, W } from './significand.ts';
import { DE, precisionOf, roundingOf, ZE } from './status.ts';

export function div(a: Float80, b: Float80, cw: number): FpuResult {
  const ka = kindOf(a), kb = kindOf(b);
  const nan = nanResult(a, ka, b, kb);
  if (nan) return nan;
  const sign = a.sign ^ b.sign;
  if (kb === Kind.Zero) return ka === Kind.Zero ? invalid() : { value: infinity(sign), flags: ka === Kind.Infinity ? 0 : ZE };
  const flags = ka === Kind.Denormal || kb === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  if (ka === Kind.Infinity) return kb === Kind.Infinity ? invalid() : { value: infinity(sign), flags };
  if (kb === Kind.Infinity) return { value: zero(sign), flags };
  if (ka === Kind.Zero) return { value: zero(sign), flags };
  const ua = unpack(a), ub = unpack(b);
  // Q = floor(ma × 2^80 / mb) (80 or 81 bits), a sticky bit for the remainder, and Q's top moved to bit 95
  const sticky = divide(ua.hi, ua.lo, ub.hi, ub.lo);
  const n = normalize(Q[2], Q[1], Q[0]);
  const exp = ua.exp - ub.exp + BIAS + 15 - n;
  const qh = W.h, ql = W.l, qx = (W.x | sticky) >>> 0;
  const r = roundPack80(sign, exp, qh, ql, qx >>> 0, precisionOf(cw), roundingOf(cw), cw);
  r.flags |= flags;
  return r;
}

const U = new Int32Array(10), V = new Int32Array(4);
/** The quotient as three 32-bit words, least significant first. */
const Q = new Uint32Array(3);
const DIGITS = new Int32Array(6);

/** Q = floor((ah, al) × 2^80 / (bh, bl)) for a normalised divisor; returns 1 when the remainder is non-zero.
 * Digit products stay below 2^32, so `>>> 16` and `& 0xffff` split them exactly. */
function divide(ah: number, al: number, bh: number, bl: number): number {
  U.fill(0);
  U[5] = al & 0xffff; U[6] = al >>> 16; U[7] = ah & 0xffff; U[8] = ah >>> 16;
  V[0] = bl & 0xffff; V[1] = bl >>> 16; V[2] = bh & 0xffff; V[3] = bh >>> 16;
  const v3 = V[3], v2 = V[2];
  for (let j = 5; j >= 0; j--) {
    const num = U[j + 4] * 0x10000 + U[j + 3];
    let qhat = (num / v3) >>> 0, rhat = num - qhat * v3;
    while (qhat > 0xffff || qhat * v2 > rhat * 0x10000 + U[j + 2]) {
      qhat--; rhat += v3;
      if (rhat > 0xffff) break;
    }
    // U[j…j+4] −= qhat × V
    let carry = 0, borrow = 0;
    for (let i = 0; i < 4; i++) {
      const p = qhat * V[i] + carry;
      carry = p >>> 16;
      const t = U[i + j] - (p & 0xffff) - borrow;
      borrow = t >>> 31;
      U[i + j] = t & 0xffff;
    }
    let t = U[j + 4] - carry - borrow;
    if (t < 0) { // qhat was one too large: add V back
      qhat--;
      let c = 0;
      for (let i = 0; i < 4; i++) {
        const sum = U[i + j] + V[i] + c;
        c = sum >>> 16;
        U[i + j] = sum & 0xffff;
      }
      t = (t + c) & 0xffff;
    }
    U[j + 4] = t;
    DIGITS[j] = qhat;
  }
  Q[0] = (DIGITS[1] << 16) | DIGITS[0];
  Q[1] = (DIGITS[3] << 16) | DIGITS[2];
  Q[2] = (DIGITS[5] << 16) | DIGITS[4];
  return U[0] | U[1] | U[2] | U[3] ? 1 : 0;
}
