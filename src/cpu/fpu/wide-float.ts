// Wide binary floating point for the transcendentals: m × 2^e with m a BigInt kept to WIDE bits, far more
// than the 64 the x87 rounds to, so one final rounding (round.ts) gives flags and C1 as the basic
// operations do. BigInt is fine here, the transcendentals are not the hot path; the basic operations
// stay on 32-bit limbs and must not use this.
import { BIAS, Float80 } from './float80.ts';
import { unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { roundingOf, UE } from './status.ts';

/** Significand bits kept: the series' rounding errors stay near 2^-120, far below the 2^-64 ulp. */
const WIDE = 128;

/** (m × 2^e): m signed; 0 is m = 0n. */
export interface Wide { m: bigint; e: number }

/** 2^n for n < 1024, made on first use. */
const POW2: bigint[] = [];
const pow2 = (n: number): bigint => (POW2[n] ??= 1n << BigInt(n));

/** The number of bits of |m| (0 for 0). BigInt has no bit length and formatting one costs far more: the
 * double nearest m gives it to within one, two comparisons settle it. */
function bitLength(m: bigint): number {
  if (m < 0n) m = -m;
  if (m === 0n) return 0;
  const d = Number(m);
  if (d === Infinity) { const h = m.toString(16); return h.length * 4 - Math.clz32(parseInt(h[0], 16)) + 28; }
  let n = Math.floor(Math.log2(d)) + 1;
  if (n < 1024 && m >= pow2(n)) n++;
  else if (m < pow2(n - 1)) n--;
  return n;
}

/** m × 2^e cut to WIDE bits; bits cut off are jammed into the last bit (in magnitude), so a later
 * rounding still sees them and on which side of the cut the value lies. */
export function wide(m: bigint, e: number): Wide {
  if (m === 0n) return { m, e: 0 };
  const neg = m < 0n, a = neg ? -m : m;
  const n = bitLength(a) - WIDE;
  if (n <= 0) return { m, e };
  let q = a >> BigInt(n);
  if ((q << BigInt(n)) !== a) q |= 1n;
  return { m: neg ? -q : q, e: e + n };
}

export const ZERO: Wide = { m: 0n, e: 0 };
export const ONE: Wide = { m: 1n, e: 0 };
export const int = (n: number): Wide => ({ m: BigInt(n), e: 0 });
/** The position of the top bit plus one: |v| < 2^top(v). */
export const top = (v: Wide): number => (v.m === 0n ? -Infinity : v.e + bitLength(v.m));
export const neg = (v: Wide): Wide => ({ m: -v.m, e: v.e });
export const abs = (v: Wide): Wide => (v.m < 0n ? neg(v) : v);
export const sign = (v: Wide): number => (v.m < 0n ? 1 : 0);

export function add(a: Wide, b: Wide): Wide {
  if (a.m === 0n) return wide(b.m, b.e);
  if (b.m === 0n) return wide(a.m, a.e);
  // an addend entirely below the other's kept bits only tells on which side: a one far below stands in
  const ta = top(a), tb = top(b);
  if (tb < ta - WIDE - 4) b = { m: b.m < 0n ? -1n : 1n, e: ta - WIDE - 8 };
  else if (ta < tb - WIDE - 4) a = { m: a.m < 0n ? -1n : 1n, e: tb - WIDE - 8 };
  const e = Math.min(a.e, b.e);
  return wide((a.m << BigInt(a.e - e)) + (b.m << BigInt(b.e - e)), e);
}
export const sub = (a: Wide, b: Wide): Wide => add(a, neg(b));
export const mul = (a: Wide, b: Wide): Wide => wide(a.m * b.m, a.e + b.e);

export function div(a: Wide, b: Wide): Wide {
  if (a.m === 0n) return ZERO;
  const am = a.m < 0n ? -a.m : a.m, bm = b.m < 0n ? -b.m : b.m;
  const s = Math.max(0, WIDE + 2 - bitLength(am) + bitLength(bm));
  const n = am << BigInt(s);
  let q = n / bm;
  if (q * bm !== n) q |= 1n; // the remainder, jammed
  return wide((a.m < 0n) !== (b.m < 0n) ? -q : q, a.e - s - b.e);
}
export const half = (v: Wide): Wide => ({ m: v.m, e: v.e - 1 });

/** A finite non-zero register value, exactly. */
export function fromFloat80(v: Float80): Wide {
  const u = unpack(v);
  const m = (BigInt(u.hi) << 32n) | BigInt(u.lo);
  return { m: u.sign ? -m : m, e: u.exp - BIAS - 63 };
}

/**
 * Rounds v to the register format at 64 bits (precision control does not apply to the transcendentals,
 * SDM 8.1.5.2) by the control word's rounding mode. `exact`: v is the true result; otherwise v stands
 * for a transcendental value, never representable, so the rounding is inexact whatever v's bits.
 */
export function toFloat80(v: Wide, cw: number, exact = false): Rounded {
  if (v.m === 0n) return { ...roundPack80(0, 0, 0, 0, 0, 64, roundingOf(cw), cw), margin: 0 };
  const s = sign(v), a = s ? -v.m : v.m;
  const n = bitLength(a) - 96;
  let m96 = n > 0 ? a >> BigInt(n) : a << BigInt(-n);
  if (n > 0 && (m96 << BigInt(n)) !== a) m96 |= 1n;
  if (!exact) m96 |= 1n;
  const h = Number(m96 >> 64n), l = Number((m96 >> 32n) & 0xffffffffn), x = Number(m96 & 0xffffffffn);
  // value = m96 × 2^(e + n) = (m96 / 2^95) × 2^(e + n + 95)
  const exp = v.e + n + 95 + BIAS;
  // the bits below the last one kept: 32, or more for a denormal result (masked underflow)
  const cut = 32 + (exp <= 0 && cw & UE ? 1 - exp : 0);
  const below = cut >= 96 ? Number(m96) / 2 ** cut : Number(m96 & (pow2(cut) - 1n)) / 2 ** cut;
  return { ...roundPack80(s, exp, h, l, x, 64, roundingOf(cw), cw), margin: Math.min(below, 1 - below) };
}

/**
 * A rounded result and its `margin`: how far (in ulps of the result, 0 … 1/2) the value rounded lay
 * from a representable number. The host rounds its own approximation of some 68 bits, so where the margin
 * is tiny its C1 (rounded up) can fall either way while its result is the same: the oracle test uses this.
 */
export interface Rounded extends FpuResult { margin: number }

/** Σ terms until they fall below the sum's kept bits: next(term, k) gives term k from term k − 1. The
 * first term below still goes in (as a jammed bit), so the sum shows which side the tail lies on. */
export function series(first: Wide, next: (term: Wide, k: number) => Wide): Wide {
  let sum = first, term = first;
  for (let k = 1; ; k++) {
    term = next(term, k);
    if (term.m === 0n) return sum;
    sum = add(sum, term);
    if (top(term) < top(sum) - WIDE - 4) return sum;
  }
}

/** atanh(s) = s + s³/3 + s⁵/5 …, for |s| well below 1. */
export function atanh(s: Wide): Wide {
  const s2 = mul(s, s);
  let power = s;
  return series(s, (_t, k) => { power = mul(power, s2); return div(power, int(2 * k + 1)); });
}

/** atan(z) by Euler's series z/(1+z²) × Σ ∏ 2k z² / ((2k+1)(1+z²)), which converges for every z (for
 * |z| ≤ 1 at least a bit a term): used for the constants and a small table, not per instruction. */
export function atanEuler(z: Wide): Wide {
  const z2 = mul(z, z), q = add(ONE, z2), ratio = div(z2, q);
  const first = div(z, q);
  return series(first, (t, k) => div(mul(mul(t, ratio), int(2 * k)), int(2 * k + 1)));
}

/** π and ln 2 to WIDE bits, computed once. */
export const PI: Wide = mul(int(4), atanEuler(ONE));
export const LN2: Wide = mul(int(2), atanh(div(ONE, int(3))));
