// FSIN, FCOS, FSINCOS, FPTAN: the argument reduced modulo π/2 with the x87's own 66-bit π (SDM vol. 1
// 8.3.8, "Pi = 0.C90FDAA2 2168C234 C × 2^2": the FPU really computes sin(x × π/Pi)), the reduced argument
// kept exactly, its sine and cosine summed to WIDE bits and rounded once.
import { BIAS, f80, Float80, Kind, kindOf } from './float80.ts';
import { denormalStop, invalid, nanResult } from './operand.ts';
import { type FpuResult } from './round.ts';
import { C1, DE } from './status.ts';
import { type Rounded, abs, add, div, fromFloat80, int, mul, neg, ONE, series, toFloat80, type Wide } from './wide-float.ts';

export const enum Trig { Sin, Cos, Tan, SinCos }

/** `value` replaces ST(0); `pushed` (FPTAN's 1.0, FSINCOS's cosine) is pushed after it. Out of range
 * (|x| ≥ 2^63): C2 set, nothing written. */
export interface TrigResult { outOfRange: boolean; value: Float80; pushed?: Float80; flags: number; margin?: number }

/** The FPU's π/2: its 66-bit Pi / 2 = PI66 × 2^-65. */
const PI66 = 0x3243f6a8885a308d3n;
const ONE80 = f80(0, BIAS, 0x80000000, 0);

export function trig(a: Float80, cw: number, fn: Trig): TrigResult {
  const twoResults = fn === Trig.Tan || fn === Trig.SinCos;
  const ka = kindOf(a);
  const special = (r: FpuResult, pushed = r.value): TrigResult => ({ outOfRange: false, value: r.value, pushed: twoResults ? pushed : undefined, flags: r.flags });
  const nan = nanResult(a, ka, a, Kind.Zero);
  if (nan) return special(nan);
  if (ka === Kind.Infinity) return special(invalid());
  const stop = denormalStop(ka === Kind.Denormal ? DE : 0, cw);
  if (stop) return special(stop);
  if (ka === Kind.Zero) {
    // sin ±0 = ±0, tan ±0 = ±0 (and 1.0 pushed), cos ±0 = 1, exactly
    if (fn === Trig.Cos) return special({ value: ONE80, flags: 0 });
    return special({ value: a, flags: 0 }, ONE80);
  }
  if (a.exp >= BIAS + 63) return { outOfRange: true, value: a, flags: 0 };
  const flags = ka === Kind.Denormal ? DE : 0;
  const { r, quadrant } = reduce(abs(fromFloat80(a)));
  // sin, cos of |x| from those of r by quadrant (each summed only if needed); sin and tan are odd, cos even
  let sr: Wide | undefined, cr: Wide | undefined;
  const s = () => (sr ??= sinOf(r)), c = () => (cr ??= cosOf(r));
  const sinX = () => [s, c, () => neg(s()), () => neg(c())][quadrant]();
  const cosX = () => [c, () => neg(s()), () => neg(c()), s][quadrant]();
  const odd = (v: Wide): Wide => (a.sign ? neg(v) : v);
  const round = (v: Wide): Rounded => toFloat80(v, cw);
  let first: Rounded, second: FpuResult | undefined;
  if (fn === Trig.Sin) first = round(odd(sinX()));
  else if (fn === Trig.Cos) first = round(cosX());
  else if (fn === Trig.Tan) { first = round(odd(quadrant & 1 ? neg(div(ONE, tanOf(r, c()))) : tanOf(r, c()))); second = { value: ONE80, flags: 0 }; }
  else { first = round(odd(sinX())); second = round(cosX()); }
  // FSINCOS rounds twice: the flags of both, C1 from the sine's rounding (host-measured)
  return { outOfRange: false, value: first.value, pushed: second?.value, flags: flags | first.flags | ((second?.flags ?? 0) & ~C1), margin: first.margin };
}

/** x ≥ 0 (below 2^63) as k × Pi/2 + r, |r| ≤ Pi/4 exactly; quadrant = k mod 4. */
function reduce(x: Wide): { r: Wide; quadrant: number } {
  if (x.e + 65 < 0) {
    // below 2^-1 (64-bit significand): already reduced
    return { r: x, quadrant: 0 };
  }
  const X = x.m << BigInt(x.e + 65); // x × 2^65, an integer
  const k = (2n * X + PI66) / (2n * PI66);
  return { r: { m: X - k * PI66, e: -65 }, quadrant: Number(k & 3n) };
}

/** sin r = r − r³/3! + r⁵/5! … */
function sinOf(r: Wide): Wide {
  const r2 = neg(mul(r, r));
  return series(r, (t, k) => div(mul(t, r2), int(2 * k * (2 * k + 1))));
}

/** tan r = r + (sin r − r cos r) / cos r, the difference summed on its own: r³/3 − r⁵/30 … (sin/cos, and
 * cos/sin for the cotangent, would lose on which side of r or 1/r a tiny r's tangent lies) */
function tanOf(r: Wide, cos: Wide): Wide {
  const r2 = neg(mul(r, r));
  const d = series(div(mul(r, neg(r2)), int(3)), (t, k) => div(mul(mul(t, r2), int(k + 1)), int(k * (2 * k + 2) * (2 * k + 3))));
  return add(r, div(d, cos));
}

/** cos r = 1 − r²/2! + r⁴/4! … */
function cosOf(r: Wide): Wide {
  const r2 = neg(mul(r, r));
  return series(ONE, (t, k) => div(mul(t, r2), int((2 * k - 1) * 2 * k)));
}
