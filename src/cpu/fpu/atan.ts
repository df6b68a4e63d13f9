// FPATAN: ST(1) ← arctan(ST(1) / ST(0)) in the quadrant of the point (ST(0), ST(1)), pop. The quotient's
// arctangent from a table of atan(j/8) and a short Taylor series, summed to WIDE bits and rounded once.
import { Float80, Kind, kindOf, zero } from './float80.ts';
import { denormalStop, nanResult } from './operand.ts';
import { type FpuResult } from './round.ts';
import { DE, PE } from './status.ts';
import { type Rounded, abs, add, atanEuler, div, fromFloat80, half, int, mul, neg, ONE, PI, series, sub, toFloat80, top, type Wide } from './wide-float.ts';

/** atan(j/8), j = 0 … 8, computed on first use. */
let table: Wide[] | undefined;

/** atan z for 0 ≤ z ≤ 1: z = c + d with c = j/8 nearest, atan z = atan c + atan((z − c)/(1 + zc)). */
function atanUnit(z: Wide): Wide {
  table ??= Array.from({ length: 9 }, (_, j) => atanEuler(div(int(j), int(8))));
  const j = top(z) < -4 ? 0 : Number((z.m * 16n + (1n << BigInt(-z.e))) >> BigInt(1 - z.e)); // round(8z), z.e < 0 here
  const c = div(int(j), int(8));
  const t = j === 0 ? z : div(sub(z, c), add(ONE, mul(z, c)));
  // atan t = t − t³/3 + t⁵/5 …, |t| ≤ 1/16
  const t2 = neg(mul(t, t));
  let power = t;
  return add(table[j], series(t, (_u, k) => { power = mul(power, t2); return div(power, int(2 * k + 1)); }));
}

/** y = ST(1), x = ST(0). SDM's FPATAN table for zeros and infinities; the result has y's sign. */
export function atan2(y: Float80, x: Float80, cw: number): FpuResult {
  const ky = kindOf(y), kx = kindOf(x);
  const nan = nanResult(y, ky, x, kx);
  if (nan) return nan;
  const flags = ky === Kind.Denormal || kx === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  const rounded = (v: Wide): Rounded => {
    const r = toFloat80(y.sign ? neg(v) : v, cw);
    return { ...r, flags: r.flags | flags | PE };
  };
  const halfPi = half(PI), quarterPi = half(halfPi);
  if (ky === Kind.Infinity) {
    if (kx === Kind.Infinity) return rounded(x.sign ? add(halfPi, quarterPi) : quarterPi);
    return rounded(halfPi);
  }
  if (ky === Kind.Zero) return x.sign ? rounded(PI) : { value: zero(y.sign), flags };
  if (kx === Kind.Zero) return rounded(halfPi);
  if (kx === Kind.Infinity) return x.sign ? rounded(PI) : { value: zero(y.sign), flags };
  const ay = abs(fromFloat80(y)), ax = abs(fromFloat80(x));
  // the first quadrant's angle, from the smaller of |y|/|x| and |x|/|y|
  const steep = sub(ay, ax).m > 0n;
  let angle = steep ? sub(halfPi, atanUnit(div(ax, ay))) : atanUnit(div(ay, ax));
  if (x.sign) angle = sub(PI, angle);
  return rounded(angle);
}
