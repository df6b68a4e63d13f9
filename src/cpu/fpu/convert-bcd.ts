// FBLD and FBSTP: 18-digit packed BCD (9 bytes of digit pairs, sign in bit 79), held in a Float80's bits.
import { Float80, Kind, kindOf } from './float80.ts';
import { I, integerValue, roundMagnitude } from './integer.ts';
import type { FpuResult } from './round.ts';
import { C1, IE, PE, roundingOf } from './status.ts';

/** The BCD indefinite FBSTP stores for NaNs, infinities and values of 10^18 or more. */
export const BCD_INDEFINITE = new Float80(0xffff, 0xc0000000, 0);

/** FBLD: exact (digits above 9 are undefined on the x87; here they count with their binary weight). */
export function fromBcd(v: Float80): Float80 {
  let hi = 0, lo = 0;
  const digit = (i: number): number => { // i = 17 … 0, most significant first
    if (i >= 16) return (v.se >>> ((i - 16) * 4)) & 0xf;
    return i >= 8 ? (v.hi >>> ((i - 8) * 4)) & 0xf : (v.lo >>> (i * 4)) & 0xf;
  };
  for (let i = 17; i >= 0; i--) {
    const l = lo * 10 + digit(i);
    lo = l % 0x100000000;
    hi = hi * 10 + Math.floor(l / 0x100000000);
  }
  return integerValue(v.se >>> 15, hi >>> 0, lo >>> 0);
}

/** FBSTP: rounded to an integer by the rounding control. */
export function toBcd(a: Float80, cw: number): FpuResult {
  const k = kindOf(a);
  if (k === Kind.Zero) return { value: new Float80(a.sign << 15, 0, 0), flags: 0 };
  if (k !== Kind.Normal && k !== Kind.Denormal) return { value: BCD_INDEFINITE, flags: IE };
  roundMagnitude(a, roundingOf(cw));
  // 10^18 = 0x0de0b6b3_a7640000
  if (I.big || I.hi > 0x0de0b6b3 || (I.hi === 0x0de0b6b3 && I.lo >= 0xa7640000)) return { value: BCD_INDEFINITE, flags: IE };
  let hi = I.hi, lo = I.lo;
  const digits: number[] = [];
  for (let i = 0; i < 18; i++) {
    const qh = Math.floor(hi / 10), rh = hi % 10;
    const wide = rh * 0x100000000 + lo;
    const ql = Math.floor(wide / 10);
    digits.push(wide % 10);
    hi = qh; lo = ql;
  }
  let se = a.sign << 15, dh = 0, dl = 0;
  for (let i = 0; i < 18; i++) {
    if (i < 8) dl |= digits[i] << (i * 4);
    else if (i < 16) dh |= digits[i] << ((i - 8) * 4);
    else se |= digits[i] << ((i - 16) * 4);
  }
  return { value: new Float80(se, dh >>> 0, dl >>> 0), flags: (I.inexact ? PE : 0) | (I.up ? C1 : 0) };
}
