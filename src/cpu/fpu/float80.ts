// The x87's 80-bit extended real: sign and 15-bit exponent in one 16-bit field, a 64-bit significand with
// an explicit integer bit, kept as two 32-bit halves so arithmetic never needs BigInt.

export const EXP_MAX = 0x7fff;
export const BIAS = 0x3fff;

export class Float80 {
  constructor(
    /** sign (bit 15) and biased exponent (bits 0–14) */
    readonly se: number,
    /** significand bits 63–32 (bit 31 of this is the explicit integer bit) */
    readonly hi: number,
    /** significand bits 31–0 */
    readonly lo: number,
  ) {}
  get sign(): number { return this.se >>> 15; }
  get exp(): number { return this.se & EXP_MAX; }
  /** From the 20-hex-digit form "SSSSHHHHHHHHLLLLLLLL" used by the oracle and the vector file. */
  static fromHex(s: string): Float80 {
    return new Float80(parseInt(s.slice(0, 4), 16), parseInt(s.slice(4, 12), 16) >>> 0, parseInt(s.slice(12, 20), 16) >>> 0);
  }
  toHex(): string {
    return this.se.toString(16).padStart(4, '0') + this.hi.toString(16).padStart(8, '0') + this.lo.toString(16).padStart(8, '0');
  }
  /** An approximate JS number, for messages only. */
  toNumber(): number {
    const e = this.exp, m = this.hi * 2 ** 32 + this.lo;
    const s = this.sign ? -1 : 1;
    if (e === EXP_MAX) return (this.hi & 0x7fffffff) === 0 && this.lo === 0 ? s * Infinity : NaN;
    return s * m * 2 ** (Math.max(e, 1) - BIAS - 63);
  }
}

export function f80(sign: number, exp: number, hi: number, lo: number): Float80 {
  return new Float80(((sign & 1) << 15) | (exp & EXP_MAX), hi >>> 0, lo >>> 0);
}

/** The default QNaN ("real indefinite") the x87 returns for masked invalid operations. */
export const INDEFINITE = f80(1, EXP_MAX, 0xc0000000, 0);
export const zero = (sign: number): Float80 => f80(sign, 0, 0, 0);
export const infinity = (sign: number): Float80 => f80(sign, EXP_MAX, 0x80000000, 0);

/** How the x87 sees an operand (a P6: unnormals, pseudo-NaNs and pseudo-infinities are unsupported). */
export const enum Kind { Zero, Denormal, Normal, Infinity, QNaN, SNaN, Unsupported }

export function kindOf(v: Float80): Kind {
  const e = v.exp, integer = v.hi >>> 31;
  if (e === EXP_MAX) {
    if (!integer) return Kind.Unsupported;
    if ((v.hi & 0x7fffffff) === 0 && v.lo === 0) return Kind.Infinity;
    return v.hi & 0x40000000 ? Kind.QNaN : Kind.SNaN;
  }
  if (e === 0) return v.hi === 0 && v.lo === 0 ? Kind.Zero : Kind.Denormal; // pseudo-denormals too
  return integer ? Kind.Normal : Kind.Unsupported;
}

export const isNaNKind = (k: Kind): boolean => k === Kind.QNaN || k === Kind.SNaN;
