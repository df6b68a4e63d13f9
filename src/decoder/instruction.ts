// The decoded instruction: a plain value with no behaviour (iced's habit). The decoder produces it; the
// interpreter, the JIT, the disassembler and the profiler consume it. Names follow the Intel SDM.

/** Segment register numbers, in the SDM's Sreg encoding order. */
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

/** Prefix bits recorded in Instruction.prefixes. */
export const PREFIX_LOCK = 1;     // F0
export const PREFIX_REP = 2;      // F3 (REP / REPE / REPZ)
export const PREFIX_REPNE = 4;    // F2 (REPNE / REPNZ)
export const PREFIX_OPSIZE = 8;   // 66
export const PREFIX_ADSIZE = 16;  // 67
export const PREFIX_SEG = 32;     // any segment override (which one: Instruction.segOverride)

/** Condition codes (tttn) in SDM order: O NO B AE E NE BE A S NS P NP L GE LE G. */
export const CONDITION_NAMES = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'] as const;

export type OperandSize = 1 | 2 | 4;

/** A general-purpose register; size 1 uses the byte encoding (0..3 = AL CL DL BL, 4..7 = AH CH DH BH). */
export interface RegOperand { kind: 'reg'; size: OperandSize; reg: number }
/** A segment register (Sreg). */
export interface SregOperand { kind: 'sreg'; reg: number }
/** A control (CRn) or debug (DRn) register. */
export interface CtrlOperand { kind: 'creg' | 'dreg'; reg: number }
/** An x87 stack register ST(i) (decoded for length and formatting only). */
export interface StOperand { kind: 'st'; reg: number }
/**
 * A memory operand. size is the access size in bytes (1, 2, 4, 6 for a far pointer or descriptor-table
 * pseudo-descriptor, 8 for CMPXCHG8B/BOUND-32, 10/14/28/94/108 for x87 forms; 0 where no access happens: LEA,
 * INVLPG). seg is the effective segment (override, or SS for BP/ESP/EBP-based forms, else DS).
 * base/index are register numbers or -1; with 16-bit addressing base/index are BX/BP/SI/DI numbers.
 * disp is the sign-extended displacement (0 if none), already a signed 32-bit number.
 */
export interface MemOperand {
  kind: 'mem'; size: number; seg: number;
  base: number; index: number; scale: 1 | 2 | 4 | 8; disp: number;
}
/** An immediate, sign- or zero-extended to the operand size as the SDM says, as a uint32 (>>> 0). */
export interface ImmOperand { kind: 'imm'; size: OperandSize; value: number }
/** A relative branch target, already resolved to an offset: target = (next EIP + disp) masked to opsize. */
export interface RelOperand { kind: 'rel'; disp: number }
/** A direct far pointer ptr16:16 / ptr16:32. */
export interface FarOperand { kind: 'far'; selector: number; offset: number }

export type Operand = RegOperand | SregOperand | CtrlOperand | StOperand | MemOperand | ImmOperand | RelOperand | FarOperand;

export interface Instruction {
  /** SDM mnemonic in upper case ('ADD', 'MOVZX', 'JCC', 'SETCC', 'CMOVCC', 'INVALID', ...). */
  op: string;
  /** Condition code 0..15 for JCC/SETCC/CMOVCC (and -1 otherwise). */
  cond: number;
  /** Total length in bytes, prefixes included. */
  length: number;
  /** Effective operand size in bits (16 or 32) after the 66 prefix. */
  opsize: 16 | 32;
  /** Effective address size in bits (16 or 32) after the 67 prefix. */
  adsize: 16 | 32;
  /** Operation size in bytes: 1 for byte forms, otherwise opsize / 8 (string ops, ALU, ...). */
  size: OperandSize;
  /** PREFIX_* bits. */
  prefixes: number;
  /** Segment override register number or -1. */
  segOverride: number;
  /** Operands in Intel order (destination first); implicit operands are omitted where the SDM omits them. */
  operands: Operand[];
  /** The primary opcode: 0x00..0xFF, or 0x0F00 | byte for the two-byte map. */
  opcode: number;
  /** The ModRM byte, or -1 if the instruction has none. */
  modrm: number;
  /** Set on an INVALID instruction that would exceed 15 bytes: the processor raises #GP(0) rather than #UD. */
  overlong?: true;
}
