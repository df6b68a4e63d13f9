// FSCALE: ST0 × 2^trunc(ST1), rounded at full precision.
import { Float80, infinity, Kind, kindOf, zero, BIAS } from './float80.ts';
import { denormalStop, invalid, nanResult, unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { DE, roundingOf } from './status.ts';

export function scale(a: Float80, b: Float80, cw: number): FpuResult {
  const ka = kindOf(a), kb = kindOf(b);
  const nan = nanResult(a, ka, b, kb);
  if (nan) return nan;
  const flags = ka === Kind.Denormal || kb === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  if (kb === Kind.Infinity) {
    if (b.sign === 0) return ka === Kind.Zero ? invalid() : { value: infinity(a.sign), flags };
    return ka === Kind.Infinity ? invalid() : { value: zero(a.sign), flags };
  }
  if (ka === Kind.Zero || ka === Kind.Infinity) return { value: a, flags };
  // trunc(ST1), clamped far beyond any exponent that can still matter
  let n = 0;
  if (kb !== Kind.Zero) {
    const ub = unpack(b), e = ub.exp - BIAS;
    n = e >= 20 ? 1 << 20 : e < 0 ? 0 : ub.hi >>> (31 - e);
    if (b.sign) n = -n;
  }
  const ua = unpack(a);
  const r = roundPack80(a.sign, ua.exp + n, ua.hi, ua.lo, 0, 64, roundingOf(cw), cw);
  r.flags |= flags;
  return r;
}
