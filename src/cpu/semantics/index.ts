// The one table from mnemonic to emitter, merged from the per-chapter files (what ends a decoded block
// and the other per-instruction facts are in ../instruction-meta.ts).
import type { Instruction } from '../../decoder/instruction.ts';
import { ALU } from './alu.ts';
import { BCD } from './bcd.ts';
import { BITS } from './bits.ts';
import { CONTROL } from './control.ts';
import { DATA } from './data.ts';
import type { Emitter } from './emitter.ts';
import { MULDIV } from './muldiv.ts';
import { SHIFT } from './shift.ts';
import { STACK } from './stack.ts';
import { STRING } from './string.ts';
import { SYSTEM } from './system.ts';
import { fpuEmitter } from './fpu.ts';

const EMITTERS: Record<string, Emitter> = { ...ALU, ...BCD, ...BITS, ...DATA, ...MULDIV, ...SHIFT, ...STRING, ...STACK, ...CONTROL, ...SYSTEM };
/** The emitters of the place-free tables (emitter.ts PlaceFreeTable), by identity. */
const PLACE_FREE = new Set<Emitter>([ALU, DATA, MULDIV, SHIFT, STACK].flatMap((t) => Object.values(t)));

/** Is the closure `e` builds the same wherever its instruction is (emitter.ts PlaceFreeTable)? */
export const placeFree = (e: Emitter): boolean => PLACE_FREE.has(e);

/** The emitter for a decoded instruction, or undefined when it is invalid (#UD). */
export function emitterFor(ins: Instruction): Emitter | undefined {
  if (ins.op === 'INVALID') return undefined;
  if (ins.opcode >= 0xd8 && ins.opcode <= 0xdf) return fpuEmitter(ins);
  if (ins.op === 'MOV') {
    for (const o of ins.operands) {
      if (o.kind === 'sreg') return SYSTEM.MOV_SREG;
      if (o.kind === 'creg') return SYSTEM.MOV_CR;
      if (o.kind === 'dreg') return SYSTEM.MOV_DR;
    }
  }
  return EMITTERS[ins.op];
}
