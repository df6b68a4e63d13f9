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
  // remainder and root as three little-endian 32-bit limbs (they stay below 2^68)
  const rem = [0, 0, 0], root = [0, 0, 0], trial = [0, 0, 0];
  for (let k = 65; k >= 0; k--) {
    shiftLeft(rem, 2); rem[0] = (rem[0] | (bitOfM(2 * k + 1) << 1) | bitOfM(2 * k)) >>> 0;
    trial[0] = root[0]; trial[1] = root[1]; trial[2] = root[2];
    shiftLeft(trial, 2); trial[0] = (trial[0] | 1) >>> 0;
    shiftLeft(root, 1);
    if (compare(rem, trial) >= 0) { subtract(rem, trial); root[0] = (root[0] | 1) >>> 0; }
  }
  // root has 66 bits (bit 65 set): move it to bit 95 of (h, l, x)
  const h = ((root[2] << 30) | (root[1] >>> 2)) >>> 0;
  const l = ((root[1] << 30) | (root[0] >>> 2)) >>> 0;
  const x = ((root[0] << 30) | (rem[0] | rem[1] | rem[2] ? 1 : 0)) >>> 0;
  const exp = (e - 63 - s) / 2 - 30 + BIAS + 95;
  const r = roundPack80(0, exp, h, l, x, precisionOf(cw), roundingOf(cw), cw);
  if (ka === Kind.Denormal) r.flags |= DE;
  return r;
}

function shiftLeft(v: number[], n: number): void {
  v[2] = ((v[2] << n) | (v[1] >>> (32 - n))) >>> 0;
  v[1] = ((v[1] << n) | (v[0] >>> (32 - n))) >>> 0;
  v[0] = (v[0] << n) >>> 0;
}
function compare(a: number[], b: number[]): number {
  for (let i = 2; i >= 0; i--) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
function subtract(a: number[], b: number[]): void {
  let borrow = 0;
  for (let i = 0; i < 3; i++) {
    let d = a[i] - b[i] - borrow;
    borrow = d < 0 ? 1 : 0;
    if (d < 0) d += 0x100000000;
    a[i] = d;
  }
}
