// FADD and FSUB: the exact sum rounded once, by precision and rounding control.
import { Float80, infinity, Kind, kindOf, zero } from './float80.ts';
import { denormalStop, invalid, nanResult, signed, unpack } from './operand.ts';
import { type FpuResult, roundPack80 } from './round.ts';
import { normalize, shiftRightJam, W } from './significand.ts';
import { DE, IE, precisionOf, Rounding, roundingOf } from './status.ts';

export const add = (a: Float80, b: Float80, cw: number): FpuResult => addSigned(a, b, 0, cw);
export const sub = (a: Float80, b: Float80, cw: number): FpuResult => addSigned(a, b, 1, cw);

function addSigned(a: Float80, b: Float80, negateB: number, cw: number): FpuResult {
  const ka = kindOf(a), kb = kindOf(b);
  const nan = nanResult(a, ka, b, kb);
  if (nan) return nan;
  const rc = roundingOf(cw), p = precisionOf(cw);
  const sa = a.sign, sb = b.sign ^ negateB;
  let flags = ka === Kind.Denormal || kb === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  if (ka === Kind.Infinity || kb === Kind.Infinity) {
    if (ka === Kind.Infinity && kb === Kind.Infinity && sa !== sb) return { ...invalid(), flags: flags | IE };
    return { value: infinity(ka === Kind.Infinity ? sa : sb), flags };
  }
  if (ka === Kind.Zero && kb === Kind.Zero) return { value: zero(sa === sb ? sa : rc === Rounding.Down ? 1 : 0), flags };
  if (ka === Kind.Zero || kb === Kind.Zero) {
    const u = unpack(ka === Kind.Zero ? signed(sb, b) : a);
    const r = roundPack80(u.sign, u.exp, u.hi, u.lo, 0, p, rc, cw);
    r.flags |= flags;
    return r;
  }
  let big = unpack(a), small = unpack(b);
  big.sign = sa; small.sign = sb;
  if (small.exp > big.exp || (small.exp === big.exp && (small.hi > big.hi || (small.hi === big.hi && small.lo > big.lo)))) {
    const t = big; big = small; small = t;
  }
  shiftRightJam(small.hi, small.lo, 0, big.exp - small.exp);
  let h: number, l: number, x: number, exp = big.exp;
  if (sa === sb) {
    x = W.x; l = big.lo + W.l; h = big.hi + W.h;
    if (l > 0xffffffff) { l -= 0x100000000; h += 1; }
    if (h > 0xffffffff) { // carry out: one more bit of exponent
      shiftRightJam(h - 0x100000000, l, x, 1);
      h = W.h | 0x80000000; l = W.l; x = W.x; exp++;
    }
  } else {
    x = -W.x; l = big.lo - W.l; h = big.hi - W.h;
    if (x < 0) { x += 0x100000000; l -= 1; }
    if (l < 0) { l += 0x100000000; h -= 1; }
    if ((h | l | x) === 0) return { value: zero(rc === Rounding.Down ? 1 : 0), flags };
    exp -= normalize(h >>> 0, l >>> 0, x >>> 0);
    h = W.h; l = W.l; x = W.x;
  }
  const r = roundPack80(big.sign, exp, h >>> 0, l >>> 0, x >>> 0, p, rc, cw);
  r.flags |= flags;
  return r;
}
