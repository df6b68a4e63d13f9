// FDIV: the quotient of the significands bit by bit (66 bits and a sticky remainder bit), rounded once.
import { BIAS, Float80, infinity, Kind, kindOf, zero } from './float80.ts';
import { denormalStop, invalid, nanResult, unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { cmp64 } from './significand.ts';
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
  let exp = ua.exp - ub.exp + BIAS;
  // remainder r2:r1:r0 (65 bits); start with a's significand, doubled when it is below b's
  let r2 = 0, r1 = ua.hi, r0 = ua.lo;
  const b1 = ub.hi, b0 = ub.lo;
  if (cmp64(r1, r0, b1, b0) < 0) {
    r2 = r1 >>> 31; r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0; r0 = (r0 << 1) >>> 0; exp--;
  }
  let qh = 0, ql = 0, qx = 0;
  for (let i = 0; i < 66; i++) {
    let bit = 0;
    if (r2 || cmp64(r1, r0, b1, b0) >= 0) {
      bit = 1;
      let l = r0 - b0, h = r1 - b1;
      if (l < 0) { l += 0x100000000; h -= 1; }
      if (h < 0) h += 0x100000000; // borrow taken from r2
      r2 = 0; r1 = h; r0 = l;
    }
    if (i < 32) qh = (qh | (bit << (31 - i))) >>> 0;
    else if (i < 64) ql = (ql | (bit << (63 - i))) >>> 0;
    else qx = (qx | (bit << (95 - i))) >>> 0;
    r2 = r1 >>> 31; r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0; r0 = (r0 << 1) >>> 0;
  }
  if (r2 | r1 | r0) qx |= 1;
  const r = roundPack80(sign, exp, qh, ql, qx >>> 0, precisionOf(cw), roundingOf(cw), cw);
  r.flags |= flags;
  return r;
}
