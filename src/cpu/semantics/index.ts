// The one table from mnemonic to emitter, merged from the per-chapter files, plus the rule for which
// instructions end a decoded block.
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
import { SYSTEM, x87 } from './system.ts';

const EMITTERS: Record<string, Emitter> = { ...ALU, ...BCD, ...BITS, ...DATA, ...MULDIV, ...SHIFT, ...STRING, ...STACK, ...CONTROL, ...SYSTEM };

/** The emitter for a decoded instruction, or undefined when it is invalid (#UD). */
export function emitterFor(ins: Instruction): Emitter | undefined {
  if (ins.op === 'INVALID') return undefined;
  if (ins.opcode >= 0xd8 && ins.opcode <= 0xdf) return x87;
  if (ins.op === 'MOV') {
    for (const o of ins.operands) {
      if (o.kind === 'sreg') return SYSTEM.MOV_SREG;
      if (o.kind === 'creg') return SYSTEM.MOV_CR;
      if (o.kind === 'dreg') return SYSTEM.MOV_DR;
    }
  }
  return EMITTERS[ins.op];
}

/**
 * Mnemonics after which the block ends: unconditional control transfers and anything that changes how
 * code runs. Conditional branches (Jcc, LOOPcc, JCXZ) do not end a block: decoding continues on the
 * fall-through path and a taken branch leaves the block as a side exit (a superblock), which keeps the
 * run loop's per-block work off short loop bodies.
 */
const BLOCK_ENDERS = new Set([
  'JMP', 'CALL', 'RET', 'RETF', 'IRET', 'IRETD', 'INT', 'INT1', 'INT3', 'INTO',
  'HLT', 'POPF', 'STI', 'CLI', 'LMSW', 'LGDT', 'LIDT', 'LLDT', 'LTR', 'UD2', 'VMCALL', 'LSS', 'BOUND', 'INVLPG',
]);

export function endsBlock(ins: Instruction): boolean {
  if (BLOCK_ENDERS.has(ins.op)) return true;
  if (ins.op === 'MOV') return ins.operands.some((o) => o.kind === 'creg' || (o.kind === 'sreg' && o.reg === 2));
  if (ins.op === 'POP') return ins.operands[0]?.kind === 'sreg' && ins.operands[0].reg === 2;
  return false;
}
