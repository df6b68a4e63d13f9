// FLD and FST of the single (m32) and double (m64) formats, through integers so that rounding,
// denormals and NaN payloads are exact.
import { BIAS, f80, Float80, Kind, kindOf } from './float80.ts';
import { unpack } from './operand.ts';
import { P, roundPack, type FpuResult } from './round.ts';
import { DE, IE, OE, roundingOf, UE } from './status.ts';

/** A memory operand as the FPU stores it: up to 64 bits in (hi, lo), and the flags raised. */
export interface Stored { hi: number; lo: number; flags: number }

/** FLD m32: exact; an SNaN is quieted with IE, a denormal raises DE and is normalised. */
export function fromF32(bits: number): FpuResult {
  const sign = bits >>> 31, e = (bits >>> 23) & 0xff, f = bits & 0x7fffff;
  return widen(sign, e, 0xff, 127, (f << 9) >>> 0, 0, (f & 0x400000) !== 0, f === 0);
}

/** FLD m64 from its high and low 32 bits. */
export function fromF64(hi: number, lo: number): FpuResult {
  const sign = hi >>> 31, e = (hi >>> 20) & 0x7ff, fh = hi & 0xfffff;
  const sh = ((fh << 12) | (lo >>> 20)) >>> 0, sl = (lo << 12) >>> 0;
  return widen(sign, e, 0x7ff, 1023, sh, sl, (fh & 0x80000) !== 0, (fh | lo) === 0);
}

/** The fraction (sh, sl) is left-aligned below the integer bit. */
function widen(sign: number, e: number, eMax: number, bias: number, sh: number, sl: number, quietBit: boolean, fracZero: boolean): FpuResult {
  if (e === eMax) {
    if (fracZero) return { value: f80(sign, 0x7fff, 0x80000000, 0), flags: 0 };
    return { value: f80(sign, 0x7fff, (sh >>> 1) | 0xc0000000, ((sh << 31) | (sl >>> 1)) >>> 0), flags: quietBit ? 0 : IE };
  }
  if (e === 0) {
    if (fracZero) return { value: f80(sign, 0, 0, 0), flags: 0 };
    // denormal: 0.fraction × 2^(1 − bias); normalise with the 80-bit format's wider range
    let h = sh, l = sl, exp = 1 - bias + BIAS;
    while (!(h >>> 31)) { h = ((h << 1) | (l >>> 31)) >>> 0; l = (l << 1) >>> 0; exp--; }
    return { value: f80(sign, exp - 1, h, l), flags: DE };
  }
  return { value: f80(sign, e - bias + BIAS, (sh >>> 1 | 0x80000000) >>> 0, ((sh << 31) | (sl >>> 1)) >>> 0), flags: 0 };
}

/** FST m32: rounded to 24 bits within the single exponent range. */
export function toF32(a: Float80, cw: number): Stored {
  const s = narrow(a, cw, 24, 127, 0xff);
  if (s.special !== undefined) return { hi: 0, lo: s.special, flags: s.flags };
  return { hi: 0, lo: ((a.sign << 31) | (P.exp << 23) | ((P.hi >>> 8) & 0x7fffff)) >>> 0, flags: s.flags };
}

/** FST m64: rounded to 53 bits within the double exponent range. */
export function toF64(a: Float80, cw: number): Stored {
  const s = narrow(a, cw, 53, 1023, 0x7ff);
  if (s.special !== undefined) return { hi: s.special, lo: s.specialLo, flags: s.flags };
  const hi = ((a.sign << 31) | (P.exp << 20) | ((P.hi >>> 11) & 0xfffff)) >>> 0;
  return { hi, lo: ((P.hi << 21) | (P.lo >>> 11)) >>> 0, flags: s.flags };
}

/** Rounds into P, or gives the special encoding (high word for m64 in `special`, low in `specialLo`). */
function narrow(a: Float80, cw: number, p: 24 | 53, bias: number, eMax: number): { special?: number; specialLo: number; flags: number } {
  const k = kindOf(a), sign = a.sign << 31, single = p === 24;
  const expField = single ? eMax << 23 : eMax << 20;
  switch (k) {
    case Kind.Unsupported: return { special: (single ? 0xffc00000 : 0xfff80000) >>> 0, specialLo: 0, flags: IE };
    case Kind.QNaN: case Kind.SNaN: {
      const flags = k === Kind.SNaN ? IE : 0;
      if (single) return { special: (sign | expField | 0x400000 | ((a.hi >>> 8) & 0x7fffff)) >>> 0, specialLo: 0, flags };
      return { special: (sign | expField | 0x80000 | ((a.hi >>> 11) & 0xfffff)) >>> 0, specialLo: ((a.hi << 21) | (a.lo >>> 11)) >>> 0, flags };
    }
    case Kind.Infinity: return { special: (sign | expField) >>> 0, specialLo: 0, flags: 0 };
    case Kind.Zero: return { special: sign >>> 0, specialLo: 0, flags: 0 };
  }
  // (a denormal source raises no DE here: the host's FST does not)
  const u = unpack(a);
  const flags = roundPack(a.sign, u.exp - BIAS + bias, u.hi, u.lo, 0, p, roundingOf(cw), eMax, cw & 0x3f);
  // unmasked OE or UE: nothing is stored, and that exception is all the x87 reports
  const stop = flags & ~cw & (OE | UE);
  return { specialLo: 0, flags: stop || flags };
}
