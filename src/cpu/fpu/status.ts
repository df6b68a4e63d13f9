// Exception flags and condition codes as the status word holds them, and the control word's fields.

export const IE = 0x01, DE = 0x02, ZE = 0x04, OE = 0x08, UE = 0x10, PE = 0x20;
export const C0 = 0x0100, C1 = 0x0200, C2 = 0x0400, C3 = 0x4000;
/**
 * The condition codes. Arithmetic results carry only C1 (rounded up): the host keeps C0, C2 and C3 as they
 * were across FADD, FRNDINT, FSQRT, FLD, FST…; compares, FXAM and FPREM/FPREM1 return all four (a partial
 * FPREM clears C0, C1 and C3; a NaN remainder keeps C0 and C3: premCodesWritten), measured on the host
 * (tests/oracle/x87-oracle.c sets all four before every instruction).
 */
export const CONDITION_CODES = C0 | C1 | C2 | C3;

/** Precision control as the number of significand bits it keeps. */
export type Precision = 24 | 53 | 64;
export const enum Rounding { Nearest = 0, Down = 1, Up = 2, Zero = 3 }

export function precisionOf(cw: number): Precision {
  const pc = (cw >>> 8) & 3;
  return pc === 0 ? 24 : pc === 2 ? 53 : 64; // 1 is reserved; the x87 treats it as 64
}
/** The unmasked exceptions among `flags`: the x87 sets ES and B and reports them (#MF, or FERR# → IRQ13)
 * at the next waiting FPU instruction. */
export const unmasked = (flags: number, cw: number): number => flags & ~cw & 0x3f;
/** Whether the result goes to a register destination: not after an unmasked IE, DE or ZE (OE and UE
 * unmasked store the exponent-wrapped result). */
export const writesRegister = (flags: number, cw: number): boolean => (flags & ~cw & (IE | DE | ZE)) === 0;
/** Whether the result goes to a memory destination (FST, FIST, FBSTP): not after an unmasked IE, OE or UE. */
export const writesMemory = (flags: number, cw: number): boolean => (flags & ~cw & (IE | OE | UE)) === 0;

export const roundingOf = (cw: number): Rounding => ((cw >>> 10) & 3) as Rounding;
