// Flag liveness over one segment (a straight run of a region): which flag records no later instruction
// can observe. Compiled code holds the lazy-flag record in locals; a record overwritten before anything
// reads it — and before any point where compiled code may leave (a memory access's slow path, a helper
// call, the segment's end) — need not be written. Liftoff, V8's first tier, compiles every local.set it is
// given, so the record writes of an `inc; cmp; jcc` loop cost real time until TurboFan arrives.
//
// Only instructions that the native semantics translate without any exit count as transparent: register
// and immediate operands only (LEA's memory operand is not an access). The translator checks that
// assumption while it emits and retranslates the segment without liveness if it ever fails.
import type { Instruction } from '../src/decoder/instruction.ts';
import { metaOf } from '../src/cpu/instruction-meta.ts';
import { ARITH_FLAGS, CF } from '../src/cpu/state.ts';
import { plain } from './semantics-wasm.ts';

/** Mnemonics whose native forms on registers and immediates never leave compiled code. */
const EXIT_FREE = new Set([
  'ADD', 'ADC', 'SUB', 'SBB', 'CMP', 'AND', 'OR', 'XOR', 'TEST', 'INC', 'DEC', 'NEG', 'NOT', 'MOV', 'MOVZX', 'MOVSX',
  'XCHG', 'LEA', 'CBW', 'CWD', 'SHL', 'SAL', 'SHR', 'SAR', 'SETCC', 'CMOVCC', 'BSWAP', 'IMUL',
]);
/**
 * Mnemonics whose emitters write no flag when told the flags are dead (Tx.recordDead): the ALU ops' record
 * (Tx.record), and the shifts' and IMUL's flags, which they compute at once (CF and OF of a shift, all six
 * after IMUL: a multiply, a popcount and the merge into EFLAGS that a multiprecision loop pays per IMUL).
 */
const FLAGS_SKIPPABLE = new Set(['ADD', 'ADC', 'SUB', 'SBB', 'CMP', 'AND', 'OR', 'XOR', 'TEST', 'INC', 'DEC', 'NEG', 'SHL', 'SAL', 'SHR', 'SAR', 'IMUL']);

/** Does the native translation of `ins` surely run without leaving compiled code? */
export function exitFree(ins: Instruction): boolean {
  const op = ins.op;
  if (!EXIT_FREE.has(op) || !plain(ins)) return false;
  if (op === 'LEA') return true;
  if (!ins.operands.every((o) => o.kind === 'reg' || o.kind === 'imm')) return false;
  // (IMUL natively: the 32-bit two- and three-operand forms, semantics-wasm.ts.)
  if (op === 'IMUL') return ins.size === 4 && ins.operands.length >= 2 && ins.opcode !== 0xf7;
  // (The native shifts take every register form: by 1, by an immediate, by CL.)
  return true;
}

export interface SegmentLiveness {
  /** The flags the instruction writes are never observed: only its result is needed. */
  recordDead: boolean[];
  /** INC/DEC: the CF it carries over is never observed (no need to materialise it). */
  carryDead: boolean[];
  /** What the analysis assumed ran without an exit (the translator verifies it). */
  exitFree: boolean[];
}

/** Backward liveness over `ins` (one segment, in order); every flag is live at the segment's end. */
export function segmentLiveness(ins: Instruction[]): SegmentLiveness {
  const n = ins.length;
  const recordDead = new Array<boolean>(n).fill(false), carryDead = new Array<boolean>(n).fill(false), free = new Array<boolean>(n).fill(false);
  let live = ARITH_FLAGS;
  for (let j = n - 1; j >= 0; j--) {
    const x = ins[j], eff = metaOf(x);
    free[j] = exitFree(x);
    if (!free[j]) { live = ARITH_FLAGS; continue; }
    const incDec = x.op === 'INC' || x.op === 'DEC';
    if (incDec) carryDead[j] = (live & CF) === 0;
    // (A shift by CL writes no flag as metaOf tells it, a count of 0 keeping them all: never dead then.)
    if (FLAGS_SKIPPABLE.has(x.op)) recordDead[j] = eff.writes !== 0 && (live & eff.writes) === 0 && (!incDec || carryDead[j]);
    live = (live & ~eff.writes) | eff.reads;
  }
  return { recordDead, carryDead, exitFree: free };
}
