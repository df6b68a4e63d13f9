// Multiply and divide (SDM Vol. 2 MUL, IMUL, DIV, IDIV). 32x32→64 products and 64/32 quotients are exact
// with plain numbers: the high half of a product from 16-bit partial products, a 64-bit dividend divided
// in two 16-bit steps (every intermediate stays below 2^48). #DE is raised before any register changes.
// Flags the SDM leaves undefined follow the host Intel CPU: after MUL/IMUL, SF is the sign of the low half,
// PF its low byte's parity, ZF and AF are clear; DIV/IDIV leave all flags unchanged.
import { DE, fault } from '../fault.ts';
import { setEflags } from '../flags.ts';
import { reader, signExtend, type Getter } from '../operands.ts';
import { ARITH_FLAGS, CF, EAX, EDX, EFLAGS, OF, PF, SF } from '../state.ts';
import type { InstructionContext, PlaceFreeTable } from './emitter.ts';

/** High 32 bits (as int32) of the unsigned 64-bit product of two uint32 values. */
export function mulHighU32(a: number, b: number): number {
  a >>>= 0; b >>>= 0;
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const lh = al * bh, hl = ah * bl;
  const mid = ((al * bl) >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (ah * bh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) | 0;
}

/** High 32 bits (as int32) of the signed 64-bit product of two 32-bit values (read as int32). */
export function mulHighS32(a: number, b: number): number {
  a |= 0; b |= 0;
  // The unsigned product counts a negative factor as factor + 2^32: subtract the other factor * 2^32.
  return (mulHighU32(a, b) - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
}

/** Quotient and remainder of the uint64 hi:lo by d, all uint32 and hi < d (so the quotient fits 32 bits). */
let quotient = 0, remainder = 0;
function divide64(hi: number, lo: number, d: number): void {
  if (hi === 0) {
    quotient = Math.floor(lo / d);
    remainder = lo - quotient * d;
    return;
  }
  // Long division by 16-bit digits: each partial dividend is below d * 2^16 <= 2^48, so the double
  // quotient is correctly floored and the products are exact.
  let t = hi * 65536 + (lo >>> 16);
  const q1 = Math.floor(t / d);
  t = (t - q1 * d) * 65536 + (lo & 0xffff);
  const q0 = Math.floor(t / d);
  remainder = t - q0 * d;
  quotient = q1 * 65536 + q0;
}

/** PF for the low byte of v. */
function parity(v: number): number {
  v &= 0xff; v ^= v >>> 4; v ^= v >>> 2; v ^= v >>> 1;
  return v & 1 ? 0 : PF;
}

/** Flags after MUL/IMUL: CF = OF = overflow; SF, PF from the low half (size bytes); ZF = AF = 0. */
function mulFlags(s: Int32Array, low: number, size: number, overflow: boolean): void {
  let f = overflow ? CF | OF : 0;
  if ((low >>> (size * 8 - 1)) & 1) f |= SF;
  setEflags(s, (s[EFLAGS] & ~ARITH_FLAGS) | f | parity(low));
}

/** The explicit r/m source of the one-operand forms (the decoder omits the implicit accumulator). */
function source(c: InstructionContext): Getter {
  const ops = c.ins.operands;
  return reader(c.cpu, ops[ops.length - 1], c.ins.size, c.ins.adsize);
}

export const MULDIV: PlaceFreeTable = {
  MUL: (c) => {
    const { cpu, ins } = c, s = cpu.s, r16 = cpu.r16, src = source(c);
    switch (ins.size) {
      case 1: return () => {
        const p = (r16[EAX << 1] & 0xff) * src();
        r16[EAX << 1] = p;
        mulFlags(s, p, 1, p > 0xff);
      };
      case 2: return () => {
        const p = r16[EAX << 1] * src();
        r16[EAX << 1] = p; r16[EDX << 1] = p >>> 16;
        mulFlags(s, p, 2, p > 0xffff);
      };
      default: return () => {
        const a = s[EAX], b = src(), hi = mulHighU32(a, b), lo = Math.imul(a, b);
        s[EAX] = lo; s[EDX] = hi;
        mulFlags(s, lo, 4, hi !== 0);
      };
    }
  },

  IMUL: (c) => {
    const { cpu, ins } = c, s = cpu.s, r16 = cpu.r16, size = ins.size, ops = ins.operands;
    if (ins.opcode === 0xf6 || ins.opcode === 0xf7 || ops.length === 1) {
      // One operand: AX / DX:AX / EDX:EAX = accumulator * r/m.
      const src = source(c);
      switch (size) {
        case 1: return () => {
          const p = signExtend(r16[EAX << 1], 1) * signExtend(src(), 1);
          r16[EAX << 1] = p;
          mulFlags(s, p, 1, p < -0x80 || p > 0x7f);
        };
        case 2: return () => {
          const p = signExtend(r16[EAX << 1], 2) * signExtend(src(), 2);
          r16[EAX << 1] = p; r16[EDX << 1] = p >> 16;
          mulFlags(s, p, 2, p < -0x8000 || p > 0x7fff);
        };
        default: return () => {
          const a = s[EAX], b = src() | 0, hi = mulHighS32(a, b), lo = Math.imul(a, b);
          s[EAX] = lo; s[EDX] = hi;
          mulFlags(s, lo, 4, hi !== lo >> 31);
        };
      }
    }
    // Two operands (0F AF: r = r * r/m) or three (69/6B: r = r/m * imm); the product is truncated.
    const d = ops[0];
    if (d.kind !== 'reg') throw new Error('IMUL: the destination must be a register');
    const dst = d.reg;
    const a = ops.length === 3 ? reader(cpu, ops[1], size, ins.adsize) : reader(cpu, d, size, ins.adsize);
    const b = reader(cpu, ops[ops.length - 1], size, ins.adsize);
    if (size === 2) {
      return () => {
        const p = signExtend(a(), 2) * signExtend(b(), 2);
        r16[dst << 1] = p;
        mulFlags(s, p, 2, p < -0x8000 || p > 0x7fff);
      };
    }
    return () => {
      const x = a() | 0, y = b() | 0, lo = Math.imul(x, y);
      s[dst] = lo;
      // The double product is exact below 2^53; beyond that it cannot equal a 32-bit value either.
      mulFlags(s, lo, 4, x * y !== lo);
    };
  },

  DIV: (c) => {
    const { cpu, ins } = c, s = cpu.s, r16 = cpu.r16, src = source(c);
    switch (ins.size) {
      case 1: return () => {
        const n = r16[EAX << 1], d = src();
        if (d === 0) throw fault(DE);
        const q = Math.floor(n / d);
        if (q > 0xff) throw fault(DE);
        r16[EAX << 1] = ((n - q * d) << 8) | q;
      };
      case 2: return () => {
        const n = ((r16[EDX << 1] << 16) | r16[EAX << 1]) >>> 0, d = src();
        if (d === 0) throw fault(DE);
        const q = Math.floor(n / d);
        if (q > 0xffff) throw fault(DE);
        r16[EAX << 1] = q; r16[EDX << 1] = n - q * d;
      };
      default: return () => {
        const hi = s[EDX] >>> 0, lo = s[EAX] >>> 0, d = src() >>> 0;
        if (d === 0 || hi >= d) throw fault(DE);
        divide64(hi, lo, d);
        s[EAX] = quotient; s[EDX] = remainder;
      };
    }
  },

  IDIV: (c) => {
    const { cpu, ins } = c, s = cpu.s, r16 = cpu.r16, src = source(c);
    switch (ins.size) {
      case 1: return () => {
        const n = signExtend(r16[EAX << 1], 2), d = signExtend(src(), 1);
        if (d === 0) throw fault(DE);
        const q = Math.trunc(n / d);
        if (q > 0x7f || q < -0x80) throw fault(DE);
        r16[EAX << 1] = (((n - q * d) & 0xff) << 8) | (q & 0xff);
      };
      case 2: return () => {
        const n = (r16[EDX << 1] << 16) | r16[EAX << 1], d = signExtend(src(), 2);
        if (d === 0) throw fault(DE);
        const q = Math.trunc(n / d);
        if (q > 0x7fff || q < -0x8000) throw fault(DE);
        r16[EAX << 1] = q; r16[EDX << 1] = n - q * d;
      };
      default: return () => {
        const hi = s[EDX], lo = s[EAX], d = src() | 0;
        if (d === 0) throw fault(DE);
        if (hi === lo >> 31) {
          // The dividend fits in 32 bits: only -2^31 / -1 overflows.
          const q = Math.trunc(lo / d);
          if (q > 0x7fff_ffff) throw fault(DE);
          s[EAX] = q; s[EDX] = lo - q * d;
          return;
        }
        const negative = hi < 0;
        // |dividend| as uint32 halves (two's-complement negation of the 64-bit value).
        const mlo = negative ? (-lo) >>> 0 : lo >>> 0;
        const mhi = negative ? (~hi + (lo === 0 ? 1 : 0)) >>> 0 : hi >>> 0;
        const md = Math.abs(d);
        if (mhi >= md) throw fault(DE);
        divide64(mhi, mlo, md);
        const qNegative = negative !== d < 0;
        if (quotient > (qNegative ? 0x8000_0000 : 0x7fff_ffff)) throw fault(DE);
        s[EAX] = qNegative ? -quotient : quotient;
        s[EDX] = negative ? -remainder : remainder;
      };
    }
  },
};
