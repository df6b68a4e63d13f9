// F2XM1, FYL2X, FYL2XP1: 2^x − 1 and y × log2 x, y × log2(1 + x) summed to WIDE bits and rounded once.
// The host (an AMD EPYC's x87) reports PE for every finite non-zero result, exact ones (2^1 − 1,
// log2 of a power of two) included, and answers F2XM1 outside its domain −1 … +1 with x itself.
import { BIAS, f80, Float80, infinity, isNaNKind, Kind, kindOf, zero } from './float80.ts';
import { denormalStop, invalid, nanResult } from './operand.ts';
import { type FpuResult } from './round.ts';
import { C1, DE, PE, UE, ZE } from './status.ts';
import { type Rounded, add, atanh, div, fromFloat80, int, LN2, mul, ONE, series, sub, toFloat80, top, type Wide } from './wide-float.ts';

/** Every finite non-zero result is reported inexact, and so tiny ones underflow (host-measured). */
const inexact = (r: Rounded, flags: number): Rounded => {
  const tiny = r.value.exp === 0 && (r.value.hi | r.value.lo) !== 0;
  return { ...r, flags: r.flags | flags | PE | (tiny ? UE : 0) };
};

/** F2XM1: ST(0) ← 2^ST(0) − 1. */
export function twoToXMinus1(a: Float80, cw: number): FpuResult {
  const ka = kindOf(a);
  const nan = nanResult(a, ka, a, Kind.Zero);
  if (nan) return nan;
  if (ka === Kind.Infinity) return { value: a.sign ? f80(1, BIAS, 0x80000000, 0) : a, flags: 0 }; // −1, +∞
  const flags = ka === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  if (ka === Kind.Zero) return { value: a, flags: 0 };
  if (a.exp >= BIAS) {
    if (a.exp === BIAS && a.hi === 0x80000000 && a.lo === 0) {
      return { value: toFloat80(a.sign ? { m: -1n, e: -1 } : ONE, cw, true).value, flags: flags | PE | (a.sign ? 0 : C1) }; // exactly −1/2, 1 (C1 for 1: host-measured)
    }
    return { value: a, flags: flags | PE }; // beyond ±1: x itself (host-measured)
  }
  // e^y − 1 with y = x ln 2: y + y²/2! + y³/3! …
  const y = mul(fromFloat80(a), LN2);
  return inexact(toFloat80(series(y, (t, k) => div(mul(t, y), int(k + 1))), cw), flags);
}

/** log2 of a positive value, and whether it is exact (a power of two). */
function log2(v: Wide): { value: Wide; exact: boolean } {
  // v = m × 2^e with m in [√½, √2): ln m = 2 atanh((m − 1)/(m + 1))
  let e = top(v) - 1;
  let m: Wide = { m: v.m, e: v.e - e };
  if (sub(mul(m, m), int(2)).m >= 0n) { e += 1; m = { m: m.m, e: m.e - 1 }; }
  const s = div(sub(m, ONE), add(m, ONE));
  if (s.m === 0n) return { value: int(e), exact: true };
  return { value: add(int(e), div(mul(int(2), atanh(s)), LN2)), exact: false };
}

/** Classifies the operands of FYL2X and FYL2XP1: NaN, unsupported and denormal-stop answers, or undefined. */
function twoOperands(x: Float80, y: Float80, cw: number): FpuResult | { flags: number } {
  const kx = kindOf(x), ky = kindOf(y);
  const nan = nanResult(x, kx, y, ky);
  if (nan) return nan;
  const flags = kx === Kind.Denormal || ky === Kind.Denormal ? DE : 0;
  return denormalStop(flags, cw) ?? { flags };
}

/** FYL2X: ST(1) ← ST(1) × log2 ST(0); x = ST(0), y = ST(1). SDM's FYL2X table: log2 of a negative → IE,
 * of ±0 → ∓∞ (ZE for finite y), 0 × ∞ → IE. */
export function yLog2X(x: Float80, y: Float80, cw: number): FpuResult {
  const kx = kindOf(x), ky = kindOf(y);
  const nan = nanResult(x, kx, y, ky);
  if (nan) return nan;
  // invalid and zero-divide answers come before the denormal check: no DE with them (host-measured)
  if (x.sign && kx !== Kind.Zero) return invalid();
  if (kx === Kind.Zero) {
    if (ky === Kind.Zero) return invalid();
    return { value: infinity(y.sign ^ 1), flags: ky === Kind.Infinity ? 0 : ZE };
  }
  const pre = twoOperands(x, y, cw);
  if ('value' in pre) return pre;
  const flags = pre.flags;
  if (kx === Kind.Infinity) return ky === Kind.Zero ? invalid() : { value: infinity(y.sign), flags };
  // x finite positive: log2 x < 0 below 1, 0 at 1, > 0 above
  const below = x.exp < BIAS;
  if (x.exp === BIAS && x.hi === 0x80000000 && x.lo === 0) return ky === Kind.Infinity ? invalid() : { value: zero(y.sign), flags };
  if (ky === Kind.Infinity) return { value: infinity(y.sign ^ (below ? 1 : 0)), flags };
  if (ky === Kind.Zero) return { value: zero(y.sign ^ (below ? 1 : 0)), flags };
  const l = log2(fromFloat80(x));
  return inexact(toFloat80(mul(fromFloat80(y), l.value), cw, l.exact), flags);
}

/** FYL2XP1: ST(1) ← ST(1) × log2(ST(0) + 1), for |x| < 1 − √2/2 (log2(1 + x) = 2 atanh(x/(2 + x)) / ln 2,
 * accurate however small x is). */
export function yLog2XPlus1(x: Float80, y: Float80, cw: number): FpuResult {
  const kx = kindOf(x), ky = kindOf(y);
  if (!isNaNKind(ky) && ky !== Kind.Unsupported && kx === Kind.Infinity && (x.sign || ky === Kind.Zero)) return invalid(); // before DE
  const pre = twoOperands(x, y, cw);
  if ('value' in pre) return pre;
  const flags = pre.flags;
  if (kx === Kind.Infinity) return { value: infinity(y.sign), flags };
  if (kx === Kind.Zero) return ky === Kind.Infinity ? invalid() : { value: zero(x.sign ^ y.sign), flags };
  if (ky === Kind.Infinity) return { value: infinity(y.sign ^ x.sign), flags };
  if (ky === Kind.Zero) return { value: zero(y.sign ^ x.sign), flags };
  const wx = fromFloat80(x), onePlusX = add(ONE, wx);
  if (onePlusX.m <= 0n) return { value: x, flags: flags | PE }; // x ≤ −1, outside the domain: x itself (host-measured)
  const m = onePlusX.m;
  if ((m & (m - 1n)) === 0n) return inexact(toFloat80(mul(fromFloat80(y), log2(onePlusX).value), cw, true), flags); // 1 + x = 2^k: exact
  const s = div(wx, add(int(2), wx));
  const l = top(s) < 0 ? div(mul(int(2), atanh(s)), LN2) : log2(onePlusX).value; // |s| < 1/2: the series converges fast
  return inexact(toFloat80(mul(fromFloat80(y), l), cw), flags);
}
