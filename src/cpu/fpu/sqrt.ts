// FSQRT: the square root digit by digit (66 bits and a sticky remainder bit), rounded once.
import { BIAS, Float80, Kind, kindOf } from './float80.ts';
import { denormalStop, invalid, nanResult, unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { DE, precisionOf, roundingOf } from './status.ts';

export function sqrt(a: Float80, cw: number): FpuResult {
  const ka = kindOf(a);
  const nan = nanResult(a, ka, a, Kind.Zero);
  if (nan) return nan;
  if (ka === Kind.Zero) return { value: a, flags: 0 };
  if (a.sign) return invalid(); // negative non-zero, ∞ included
  if (ka === Kind.Infinity) return { value: a, flags: 0 };
  const stop = denormalStop(ka === Kind.Denormal ? DE : 0, cw);
  if (stop) return stop;
  const u = unpack(a);
  // a = m × 2^(e − 63); take M = m × 2^s with e − 63 − s even, so √a = √M × 2^((e − 63 − s) / 2)
  const e = u.exp - BIAS;
  const s = ((e - 63 - 68) & 1) === 0 ? 68 : 67;
  const bitOfM = (i: number): number => {
    const j = i - s;
    if (j < 0 || j > 63) return 0;
    return j >= 32 ? (u.hi >>> (j - 32)) & 1 : (u.lo >>> j) & 1;
  };
  // remainder (r2, r1, r0) and root (t2, t1, t0) as 32-bit words, most significant first (below 2^70)
  let r2 = 0, r1 = 0, r0 = 0, t2 = 0, t1 = 0, t0 = 0;
  for (let k = 65; k >= 0; k--) {
    r2 = (r2 << 2) | (r1 >>> 30); r1 = ((r1 << 2) | (r0 >>> 30)) >>> 0;
    r0 = ((r0 << 2) | (bitOfM(2 * k + 1) << 1) | bitOfM(2 * k)) >>> 0;
    // trial = 4 × root + 1; root doubles
    const s2 = (t2 << 2) | (t1 >>> 30), s1 = ((t1 << 2) | (t0 >>> 30)) >>> 0, s0 = ((t0 << 2) | 1) >>> 0;
    t2 = (t2 << 1) | (t1 >>> 31); t1 = ((t1 << 1) | (t0 >>> 31)) >>> 0; t0 = (t0 << 1) >>> 0;
    if (r2 > s2 || (r2 === s2 && (r1 > s1 || (r1 === s1 && r0 >= s0)))) {
      let d0 = r0 - s0, d1 = r1 - s1, d2 = r2 - s2;
      if (d0 < 0) { d0 += 0x100000000; d1 -= 1; }
      if (d1 < 0) { d1 += 0x100000000; d2 -= 1; }
      r2 = d2; r1 = d1; r0 = d0; t0 = (t0 | 1) >>> 0;
    }
  }
  // root has 66 bits (bit 65 set): move it to bit 95 of (h, l, x)
  const h = ((t2 << 30) | (t1 >>> 2)) >>> 0;
  const l = ((t1 << 30) | (t0 >>> 2)) >>> 0;
  const x = ((t0 << 30) | (r2 | r1 | r0 ? 1 : 0)) >>> 0;
  const exp = (e - 63 - s) / 2 - 30 + BIAS + 95;
  const r = roundPack80(0, exp, h, l, x, precisionOf(cw), roundingOf(cw), cw);
  if (ka === Kind.Denormal) r.flags |= DE;
  return r;
}
