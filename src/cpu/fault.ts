// Guest exceptions raised while executing an instruction. Thrown as a JS exception from deep inside
// semantics (a memory access, a segment load) and caught by the run loop, which rolls EIP back to the
// faulting instruction and delivers the vector through the guest's IDT/IVT.

export const DE = 0, DB = 1, NMI = 2, BP = 3, OF_ = 4, BR = 5, UD = 6, NM = 7, DF = 8, TS = 10, NP = 11,
  SS_ = 12, GP = 13, PF_ = 14, MF = 16, AC_ = 17;

export const VECTOR_NAMES: Record<number, string> = {
  0: '#DE', 1: '#DB', 2: 'NMI', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS',
  11: '#NP', 12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC',
};

/** Vectors that push an error code (SDM Vol. 3, Table 6-1). */
export const HAS_ERROR_CODE = new Set([DF, TS, NP, SS_, GP, PF_, AC_]);

export class CpuFault {
  /** For #PF: the linear address, loaded into CR2 when the fault is delivered (not when it is detected). */
  address = 0;
  /**
   * Set when the fault arose in a new task's context, after a task switch committed (SDM 7.3 step 13): the
   * frame saves this EIP (the new task's), not the one of the instruction or event that switched tasks.
   */
  resumeEip: number | undefined = undefined;
  constructor(readonly vector: number, readonly errorCode: number = -1) {}
  get name(): string { return VECTOR_NAMES[this.vector] ?? `vector ${this.vector}`; }
}

/** Raise a fault: `throw fault(GP, sel & ~3)`. */
export const fault = (vector: number, errorCode = 0): CpuFault => new CpuFault(vector, HAS_ERROR_CODE.has(vector) ? errorCode >>> 0 : -1);

/** A guest state the emulator does not model (a write to the TSC): the run ends with this reason. */
export class Unsupported extends Error {}
