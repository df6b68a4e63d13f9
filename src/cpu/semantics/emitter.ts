// What a semantic emitter is: given one decoded instruction, build the closure that executes it.
// The run loop has already set EIP to `next` before calling the closure, so CALL pushes the right
// return address and a fault rolls back to `eip`. Emitters are grouped by SDM chapter, one file each,
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
}

export type Emitter = (c: EmitContext) => Exec;
export type EmitterTable = Record<string, Emitter>;
