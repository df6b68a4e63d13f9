// FCOM/FUCOM/FTST (condition codes C3 C2 C0) and FXAM (the class of a value in C3 C2 C0, its sign in C1).
import { Float80, Kind, kindOf } from './float80.ts';
import { unpack } from './operand.ts';
import { C0, C1, C2, C3, DE, IE } from './status.ts';

/** The status bits for comparing a with b: > 000, < C0, = C3, unordered C3 C2 C0. FCOM (unordered =
 * false) raises IE for any NaN, FUCOM only for an SNaN; unsupported operands raise IE for both.
 * An unmasked DE still sets the codes (nothing is stored). */
export function compare(a: Float80, b: Float80, unordered: boolean): number {
  const ka = kindOf(a), kb = kindOf(b);
  if (ka === Kind.Unsupported || kb === Kind.Unsupported) return IE | C3 | C2 | C0;
  const an = ka === Kind.QNaN || ka === Kind.SNaN, bn = kb === Kind.QNaN || kb === Kind.SNaN;
  if (an || bn) return (!unordered || ka === Kind.SNaN || kb === Kind.SNaN ? IE : 0) | C3 | C2 | C0;
  const flags = ka === Kind.Denormal || kb === Kind.Denormal ? DE : 0;
  const c = order(a, ka, b, kb);
  return flags | (c < 0 ? C0 : c === 0 ? C3 : 0);
}

function order(a: Float80, ka: Kind, b: Float80, kb: Kind): number {
  if (ka === Kind.Zero && kb === Kind.Zero) return 0;
  if (ka === Kind.Zero) return b.sign ? 1 : -1;
  if (kb === Kind.Zero) return a.sign ? -1 : 1;
  if (a.sign !== b.sign) return a.sign ? -1 : 1;
  const m = magnitude(a, ka, b, kb);
  return a.sign ? -m : m;
}

function magnitude(a: Float80, ka: Kind, b: Float80, kb: Kind): number {
  if (ka === Kind.Infinity || kb === Kind.Infinity) return ka === kb ? 0 : ka === Kind.Infinity ? 1 : -1;
  const ua = unpack(a), ub = unpack(b);
  if (ua.exp !== ub.exp) return ua.exp < ub.exp ? -1 : 1;
  if (ua.hi !== ub.hi) return ua.hi < ub.hi ? -1 : 1;
  if (ua.lo !== ub.lo) return ua.lo < ub.lo ? -1 : 1;
  return 0;
}

/** FXAM: C1 = sign; C3 C2 C0 = unsupported 000, NaN 001, normal 010, ∞ 011, zero 100, empty 101, denormal 110. */
export function examine(a: Float80, empty: boolean): number {
  const sign = a.sign ? C1 : 0;
  if (empty) return sign | C3 | C0;
  switch (kindOf(a)) {
    case Kind.Unsupported: return sign;
    case Kind.QNaN: case Kind.SNaN: return sign | C0;
    case Kind.Normal: return sign | C2;
    case Kind.Infinity: return sign | C2 | C0;
    case Kind.Zero: return sign | C3;
    case Kind.Denormal: return sign | C3 | C2;
  }
  return sign;
}
