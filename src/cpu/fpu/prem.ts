// FPREM (remainder of the truncated quotient) and FPREM1 (of the quotient rounded to nearest, IEEE 754),
// exact, with the quotient's low bits in C0/C3/C1 and C2 set when the reduction is only partial.
import { Float80, isNaNKind, Kind, kindOf } from './float80.ts';
import { denormalStop, invalid, nanResult, unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { cmp64, normalize, W } from './significand.ts';
import { C0, C1, C2, C3, CONDITION_CODES, DE, Rounding } from './status.ts';

/** How far one partial FPREM step reduces the exponent when the difference is 64 or more. */
export const partialBits = (d: number): number => 32 + ((d - 64) % 32);

export function prem(a: Float80, b: Float80, ieee: boolean, cw: number): FpuResult {
  const ka = kindOf(a), kb = kindOf(b);
  const nan = nanResult(a, ka, b, kb);
  if (nan) return nan;
  if (ka === Kind.Infinity || kb === Kind.Zero) return invalid();
  const flags = ka === Kind.Denormal || kb === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  if (ka === Kind.Zero) return { value: a, flags };
  const ua = unpack(a);
  // x rem ∞ = x, normalised like any result (pseudo-denormals; unmasked UE for denormals)
  if (kb === Kind.Infinity) return withFlags(cw, ua.sign, ua.exp, ua.hi, ua.lo, 0, flags);
  const ub = unpack(b);
  const d = ua.exp - ub.exp;
  if (d < -1 || (d === -1 && !ieee)) return withFlags(cw, ua.sign, ua.exp, ua.hi, ua.lo, 0, flags);
  let sign = ua.sign;
  if (d === -1) { // |a| ≥ |b|/2: FPREM1's quotient may round up to 1
    if (cmp64(ua.hi, ua.lo, ub.hi, ub.lo) <= 0) return withFlags(cw, ua.sign, ua.exp, ua.hi, ua.lo, 0, flags);
    // |a| − |b| = −(2·mb − ma) at a's exponent
    let l = ub.lo * 2 - ua.lo, h = ub.hi * 2 - ua.hi;
    while (l < 0) { l += 0x100000000; h -= 1; }
    while (l >= 0x100000000) { l -= 0x100000000; h += 1; }
    return withFlags(cw, sign ^ 1, ua.exp, h, l, C1, flags); // h may have 33 bits: withFlags normalises
  }
  const partial = d >= 64;
  const steps = partial ? partialBits(d) : d;
  // remainder r2:r1:r0 and the quotient's last bits
  let r2 = 0, r1 = ua.hi, r0 = ua.lo, q = 0;
  for (let i = 0; i <= steps; i++) {
    if (i > 0) { r2 = r1 >>> 31; r1 = ((r1 << 1) | (r0 >>> 31)) >>> 0; r0 = (r0 << 1) >>> 0; }
    q = (q << 1) & 0xff;
    if (r2 || cmp64(r1, r0, ub.hi, ub.lo) >= 0) {
      let l = r0 - ub.lo, h = r1 - ub.hi;
      if (l < 0) { l += 0x100000000; h -= 1; }
      if (h < 0) h += 0x100000000;
      r2 = 0; r1 = h; r0 = l; q |= 1;
    }
  }
  const exp = ub.exp + (d - steps);
  if (ieee && !partial) {
    // round the quotient to nearest even: compare 2r with b
    const c = r1 >>> 31 ? 1 : cmp64(((r1 << 1) | (r0 >>> 31)) >>> 0, (r0 << 1) >>> 0, ub.hi, ub.lo);
    if (c > 0 || (c === 0 && q & 1)) {
      q++;
      let l = ub.lo - r0, h = ub.hi - r1;
      if (l < 0) { l += 0x100000000; h -= 1; }
      r1 = h; r0 = l; sign ^= 1;
    }
  }
  const codes = partial ? C2 : (q & 4 ? C0 : 0) | (q & 2 ? C3 : 0) | (q & 1 ? C1 : 0);
  return withFlags(cw, sign, exp, r1, r0, codes, flags);
}

/** The condition codes a remainder writes: all four, except that a NaN result (a NaN operand or an
 * invalid operation) clears C1 and C2 and keeps C0 and C3 (measured on the host). */
export const premCodesWritten = (r: FpuResult): number => (isNaNKind(kindOf(r.value)) ? C1 | C2 : CONDITION_CODES);

/** The exact sign × (hi, lo) × 2^(exp − bias − 63) (hi may carry a 33rd bit), with the codes and flags. */
function withFlags(cw: number, sign: number, exp: number, hi: number, lo: number, codes: number, flags: number): FpuResult {
  if (hi > 0xffffffff) { // one bit too many: shift right (exact, the low bit is zero when it occurs)
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0; hi = Math.floor(hi / 2); exp++;
  }
  const n = normalize(hi >>> 0, lo >>> 0, 0);
  const r = roundPack80(sign, exp - n, W.h, W.l, W.x, 64, Rounding.Nearest, cw);
  r.flags = (r.flags & ~C1) | codes | flags;
  if ((hi | lo) === 0) r.value = new Float80(sign << 15, 0, 0);
  return r;
}
