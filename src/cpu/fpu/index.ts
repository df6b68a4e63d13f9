// The x87's arithmetic core: 80-bit values and the operations with the FPU's exact semantics.
export { Float80, f80, INDEFINITE, Kind, kindOf } from './float80.ts';
export { IE, DE, ZE, OE, UE, PE, C0, C1, C2, C3, CONDITION_CODES, precisionOf, roundingOf, Rounding, type Precision, unmasked, writesMemory, writesRegister } from './status.ts';
export type { FpuResult } from './round.ts';
export { add, sub } from './add.ts';
export { mul } from './mul.ts';
export { div } from './div.ts';
export { sqrt } from './sqrt.ts';
export { roundToInteger } from './rndint.ts';
export { scale } from './scale.ts';
export { xtract, type Extracted } from './xtract.ts';
export { prem, premCodesWritten } from './prem.ts';
export { compare, examine } from './compare.ts';
export { fromF32, fromF64, toF32, toF64, type Stored } from './convert-float.ts';
export { fromInt, toInt } from './convert-int.ts';
export { fromBcd, toBcd, BCD_INDEFINITE } from './convert-bcd.ts';
export { trig, Trig, type TrigResult } from './trig.ts';
export { twoToXMinus1, yLog2X, yLog2XPlus1 } from './exp-log.ts';
export { atan2 } from './atan.ts';
