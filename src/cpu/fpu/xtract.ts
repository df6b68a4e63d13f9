// FXTRACT: split ST0 into its unbiased exponent (as a real) and its significand (exponent 0).
import { BIAS, f80, Float80, infinity, INDEFINITE, Kind, kindOf, zero } from './float80.ts';
import { integerValue } from './integer.ts';
import { quiet, unpack } from './operand.ts';
import { DE, IE, ZE } from './status.ts';

export interface Extracted { significand: Float80; exponent: Float80; flags: number }

export function xtract(a: Float80, cw: number): Extracted {
  const ka = kindOf(a);
  switch (ka) {
    case Kind.Unsupported: return { significand: INDEFINITE, exponent: INDEFINITE, flags: IE };
    case Kind.QNaN: case Kind.SNaN: {
      const q = quiet(a);
      return { significand: q, exponent: q, flags: ka === Kind.SNaN ? IE : 0 };
    }
    case Kind.Zero: return { significand: a, exponent: infinity(1), flags: ZE };
    case Kind.Infinity: return { significand: a, exponent: infinity(0), flags: 0 };
  }
  if (ka === Kind.Denormal && !(cw & DE)) return { significand: INDEFINITE, exponent: INDEFINITE, flags: DE };
  const u = unpack(a), e = u.exp - BIAS;
  const exponent = e === 0 ? zero(0) : integerValue(e < 0 ? 1 : 0, 0, Math.abs(e));
  return { significand: f80(a.sign, BIAS, u.hi, u.lo), exponent, flags: ka === Kind.Denormal ? DE : 0 };
}
