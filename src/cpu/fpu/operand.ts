// What every arithmetic operation does first: classify its operands, answer invalid and NaN operands the
// x87's way, and unpack finite ones into a normalised significand with an unbounded exponent.
import { f80, Float80, INDEFINITE, Kind } from './float80.ts';
import type { FpuResult } from './round.ts';
import { DE, IE } from './status.ts';

/** The NaN with its quiet bit set (SNaNs are quieted when they pass through an operation). */
export const quiet = (v: Float80): Float80 => (v.hi & 0x40000000 ? v : new Float80(v.se, (v.hi | 0x40000000) >>> 0, v.lo));

/** With DE unmasked, a denormal operand stops the operation before it raises anything else. */
export const denormalStop = (flags: number, cw: number): FpuResult | undefined => (flags & DE & ~cw ? { value: INDEFINITE, flags: DE } : undefined);

export const invalid = (): FpuResult => ({ value: INDEFINITE, flags: IE });

/**
 * The result when either operand is a NaN or unsupported, else undefined. Unsupported operands give the
 * indefinite; a QNaN wins over an SNaN, else of two NaNs the one with the larger significand (the first on
 * a tie); the result is quieted; an SNaN raises IE.
 */
export function nanResult(a: Float80, ka: Kind, b: Float80, kb: Kind): FpuResult | undefined {
  if (ka === Kind.Unsupported || kb === Kind.Unsupported) return invalid();
  const an = ka === Kind.QNaN || ka === Kind.SNaN, bn = kb === Kind.QNaN || kb === Kind.SNaN;
  if (!an && !bn) return undefined;
  const flags = ka === Kind.SNaN || kb === Kind.SNaN ? IE : 0;
  if (an && bn && ka !== kb) return { value: quiet(ka === Kind.QNaN ? a : b), flags };
  if (an && bn) {
    const ah = (a.hi | 0x40000000) >>> 0, bh = (b.hi | 0x40000000) >>> 0;
    const pickA = ah > bh || (ah === bh && (a.lo > b.lo || (a.lo === b.lo && a.sign <= b.sign)));
    return { value: quiet(pickA ? a : b), flags };
  }
  return { value: quiet(an ? a : b), flags };
}

/** A finite non-zero operand as sign × (hi, lo) × 2^(exp − 0x3fff − 63) with bit 63 set (exp may be < 1). */
export interface Unpacked { sign: number; exp: number; hi: number; lo: number }

export function unpack(v: Float80): Unpacked {
  let e = v.exp, hi = v.hi, lo = v.lo;
  if (e === 0) {
    e = 1; // denormals and pseudo-denormals have the smallest normal exponent
    if (hi === 0) { hi = lo; lo = 0; e -= 32; }
    const z = Math.clz32(hi);
    if (z) { hi = ((hi << z) | (lo >>> (32 - z))) >>> 0; lo = (lo << z) >>> 0; e -= z; }
  }
  return { sign: v.sign, exp: e, hi, lo };
}

export const signed = (sign: number, v: Float80): Float80 => f80(sign, v.exp, v.hi, v.lo);
