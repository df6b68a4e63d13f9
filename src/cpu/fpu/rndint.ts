// FRNDINT: round to an integer by the rounding control, at full precision (precision control does not apply).
import { Float80, Kind, kindOf } from './float80.ts';
import { I, integerValue, roundMagnitude } from './integer.ts';
import { denormalStop, nanResult } from './operand.ts';
import type { FpuResult } from './round.ts';
import { C1, DE, PE, roundingOf } from './status.ts';

export function roundToInteger(a: Float80, cw: number): FpuResult {
  const ka = kindOf(a);
  const nan = nanResult(a, ka, a, Kind.Zero);
  if (nan) return nan;
  if (ka === Kind.Zero || ka === Kind.Infinity) return { value: a, flags: 0 };
  const flags = ka === Kind.Denormal ? DE : 0;
  const stop = denormalStop(flags, cw);
  if (stop) return stop;
  roundMagnitude(a, roundingOf(cw));
  if (I.big) return { value: a, flags }; // already an integer
  return { value: integerValue(a.sign, I.hi, I.lo), flags: flags | (I.inexact ? PE : 0) | (I.up ? C1 : 0) };
}
