// What a semantic emitter is: given one decoded instruction, build the closure that executes it.
// A closure must not read EIP (the run loop updates it only at block exits): return addresses and the
// like come from `next`, and a fault rolls back to `eip`. Control transfers write EIP. Emitters are grouped by SDM chapter, one file each,
// and merged into one table keyed by mnemonic (index.ts).
import type { Instruction } from '../../decoder/instruction.ts';
import type { Cpu } from '../cpu.ts';
import type { Exec } from '../operands.ts';

export interface EmitContext {
  cpu: Cpu;
  ins: Instruction;
  /** Offset in CS of this instruction and of the next one (masked to 16 bits in 16-bit code). */
  eip: number;
  next: number;
  /** Position in its block: the instructions before it in the block have run but are not yet counted. */
  index: number;
  /**
   * The instruction just before this one in the same block, if any. Inside a block an instruction only
   * ever runs right after its predecessor, so an emitter may rely on the state the predecessor leaves
   * (a Jcc after a 32-bit CMP can compare the recorded operands directly).
   */
  prev?: Instruction;
}

export type Emitter = (c: EmitContext) => Exec;
export type EmitterTable = Record<string, Emitter>;

/**
 * What an emitter may read when its closure does not depend on where the instruction is (its eip, next,
 * index or prev): the vCPU and the instruction. A table of such emitters (PlaceFreeTable) is checked for it
 * by the compiler, and the decoded-code cache builds one closure per instruction and reuses it wherever the
 * same bytes are decoded again (code-cache.ts execOf): most of a Linux boot's 530 k decoded instructions.
 */
export type InstructionContext = Pick<EmitContext, 'cpu' | 'ins'>;
export type PlaceFreeEmitter = (c: InstructionContext) => Exec;
export type PlaceFreeTable = Record<string, PlaceFreeEmitter>;
