// Which arithmetic flags (CF PF AF ZF SF OF) an instruction reads and which it writes, by mnemonic, as the
// SDM lists them (Vol. 1 Appendix A, "EFLAGS Cross-Reference"; "undefined" counts as written). Used for
// flag liveness: a flag result no later instruction can observe need not be computed. Mnemonics not in
// the table are taken to read every flag and write none (always safe).
import type { Instruction } from '../decoder/instruction.ts';
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from './state.ts';

export interface FlagEffect {
  /** Flags the instruction may read. */
  reads: number;
  /** Flags it always writes (an instruction that may leave a flag unchanged does not write it). */
  writes: number;
}

const ALL = ARITH_FLAGS, OSZAP = OF | SF | ZF | AF | PF;
const NONE: FlagEffect = { reads: 0, writes: 0 };
const UNKNOWN: FlagEffect = { reads: ALL, writes: 0 };

/** Flags condition code cc (SDM tttn) tests: O, B, Z, BE, S, P, L, LE — each with its negation. */
const CONDITION_READS = [OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF];
export const conditionReads = (cc: number): number => CONDITION_READS[(cc >> 1) & 7];

const TABLE: Record<string, FlagEffect> = {
  ADD: { reads: 0, writes: ALL }, SUB: { reads: 0, writes: ALL }, CMP: { reads: 0, writes: ALL }, NEG: { reads: 0, writes: ALL },
  AND: { reads: 0, writes: ALL }, OR: { reads: 0, writes: ALL }, XOR: { reads: 0, writes: ALL }, TEST: { reads: 0, writes: ALL },
  ADC: { reads: CF, writes: ALL }, SBB: { reads: CF, writes: ALL },
  // INC/DEC leave CF as it was.
  INC: { reads: 0, writes: OSZAP }, DEC: { reads: 0, writes: OSZAP },
  MOV: NONE, MOVZX: NONE, MOVSX: NONE, LEA: NONE, XCHG: NONE, NOT: NONE, NOP: NONE, CBW: NONE, CWD: NONE,
  PUSH: NONE, POP: NONE, CALL: NONE, JMP: NONE, RET: NONE, BSWAP: NONE,
};

/**
 * The flag effect of one decoded instruction. Shifts and rotates by a count that may be zero leave every
 * flag unchanged then, so they count as writing none (a masked immediate count ≠ 0 writes them all).
 */
export function flagEffect(ins: Instruction): FlagEffect {
  const op = ins.op;
  if (op === 'JCC' || op === 'SETCC' || op === 'CMOVCC') return { reads: conditionReads(ins.cond), writes: 0 };
  if (op === 'SHL' || op === 'SAL' || op === 'SHR' || op === 'SAR') {
    const cnt = ins.operands[1];
    const n = cnt === undefined ? 1 : cnt.kind === 'imm' ? cnt.value & 31 : 0;
    return { reads: 0, writes: n !== 0 ? ALL : 0 };
  }
  return TABLE[op] ?? UNKNOWN;
}
