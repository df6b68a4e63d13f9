// FMUL: the 128-bit product of the significands, rounded once.
import { BIAS, Float80, infinity, Kind, kindOf, zero } from './float80.ts';
import { denormalStop, invalid, nanResult, unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { M, mul32, normalize, W } from './significand.ts';
import { DE, precisionOf, roundingOf } from './status.ts';

export function mul(a: Float80, b: Float80, cw: number): FpuResult {
  const ka = kindOf(a), kb = kindOf(b);
  const nan = nanResult(a, ka, b, kb);
  if (nan) return nan;
  const sign = a.sign ^ b.sign;
  const flags = ka === Kind.Denormal || kb === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  if (ka === Kind.Infinity || kb === Kind.Infinity) {
    if (ka === Kind.Zero || kb === Kind.Zero) return invalid();
    return { value: infinity(sign), flags };
  }
  if (ka === Kind.Zero || kb === Kind.Zero) return { value: zero(sign), flags };
  const ua = unpack(a), ub = unpack(b);
  mul32(ua.lo, ub.lo); const p0 = M.l; let c1 = M.h;
  mul32(ua.lo, ub.hi); let c2 = M.h; c1 += M.l;
  mul32(ua.hi, ub.lo); c2 += M.h; c1 += M.l;
  mul32(ua.hi, ub.hi); let c3 = M.h; c2 += M.l;
  // propagate the column carries (each column sum stays below 2^53)
  c2 += Math.floor(c1 / 0x100000000); c1 >>>= 0;
  c3 += Math.floor(c2 / 0x100000000); c2 >>>= 0;
  const exp = ua.exp + ub.exp - BIAS + 1 - normalize(c3 >>> 0, c2, (c1 | (p0 !== 0 ? 1 : 0)) >>> 0);
  const r = roundPack80(sign, exp, W.h, W.l, W.x, precisionOf(cw), roundingOf(cw), cw);
  r.flags |= flags;
  return r;
}
