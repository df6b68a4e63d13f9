// Compact forms: the commonest instructions as four int32 words in the code cache's record arena
// (code-cache.ts), run through a table of small handlers (HANDLERS) by the interpreter's loop instead of a
// closure each. Cold code is where the interpreter spends a boot (~370 k distinct instructions run a few
// dozen times each), and there its time goes in cache misses: a block's closures, their contexts and the
// operand closures they call are objects scattered over the heap, where a block's records are 16 bytes
// each, next to one another. A record is [kind, registers, displacement or immediate, next EIP]; kind 0
// (R_CLOSURE) runs the instruction's closure. The semantics are the chapter files' own functions, called
// by both forms.
import { type Instruction, type Operand } from '../../decoder/instruction.ts';
import type { Cpu } from '../cpu.ts';
import { conditionTest, type Writer } from '../flags.ts';
import { CF, ESP } from '../state.ts';
import {
  add32, and32, cmp32, dec32, inc32, or32, recordWriter, sub32, test32, xor32,
} from './alu.ts';
import { callNear, jumpNear, returnNear, takeBranch } from './control.ts';
import { isBasePlusDisp, leaBaseDisp32, movLoad32, movStore32 } from './data.ts';
import { popReg32Exec, pushReg32Exec } from './stack.ts';

/** Words per record, and the word of each record that holds the next instruction's EIP. */
export const RECORD_WORDS = 4;
export const RECORD_NEXT = 3;

export const R_CLOSURE = 0;
const R_MOV_LOAD = 1, R_MOV_STORE = 2, R_MOV_RR = 3, R_MOV_RI = 4, R_LEA = 5, R_PUSH = 6, R_POP = 7;
const R_INC = 8, R_DEC = 9, R_JMP = 10, R_CALL = 12, R_RET = 13;
/** The kind of a Jcc's record: the one kind whose record depends on the instruction before it (placeRecord's writer key). */
export const R_JCC = 11;
// Two-operand ALU forms: register-register, then register-immediate, in this order of operations.
const R_ALU_RR = 16, R_ALU_RI = 24;
const ALU_OPS = 7;
const A_ADD = 0, A_SUB = 1, A_CMP = 2, A_AND = 3, A_OR = 4, A_XOR = 5, A_TEST = 6;

const isReg = (o: Operand | undefined): o is Operand & { kind: 'reg' } => o !== undefined && o.kind === 'reg';

/**
 * The condition tests of Jcc records, by index (a record holds the index): one per condition and writer of
 * the record it tests (the instruction before it in its block, when known: the fused forms, flags-js.ts).
 */
const TESTS: ((s: Int32Array) => boolean)[] = [];
/** TESTS's index by condition and writer key (cc + 16 * key; writerKeyOf's keys are below 17), -1 until made. */
const testByKey = new Int16Array(16 * 17).fill(-1);
/** The writer of each writer key (writerKeyOf), as conditionTest takes it. */
const WRITERS: Writer[] = [null];

/**
 * A small number naming what `ins` is to a Jcc after it (alu.ts recordWriter), 0 for no fusable writer:
 * writers differ in op (1-3), the mask's CF and plainSub, and all are 32-bit.
 */
export function writerKeyOf(ins: Instruction | undefined): number {
  const w = recordWriter(ins);
  if (w === null) return 0;
  const key = 1 + w.op * 4 + (w.mask & CF ? 0 : 2) + (w.plainSub ? 1 : 0);
  WRITERS[key] ??= w;
  return key;
}

function testOf(cc: number, writerKey: number): number {
  const key = cc + 16 * writerKey;
  let i = testByKey[key];
  if (i < 0) { testByKey[key] = i = TESTS.length; TESTS.push(conditionTest(cc, WRITERS[writerKey])); }
  return i;
}

/**
 * The part of the record of `ins` that its bytes alone decide, at t[o], t[o + 1], t[o + 2]: its kind
 * (returned; R_CLOSURE, nothing written, when it has no compact form) and two words, which for a relative
 * transfer hold its displacement (and a Jcc's condition) until placeRecord places it in a block. (Relative
 * transfers with a 16-bit operand size, whose targets wrap, keep their closures.)
 */
export function recordTemplate(ins: Instruction, t: Int32Array, o: number): number {
  const x = ins.operands[0] as Operand | undefined, y = ins.operands[1] as Operand | undefined;
  let kind = R_CLOSURE, w1 = 0, w2 = 0, alu = -1;
  switch (ins.op) {
    case 'MOV':
      if (ins.size !== 4) break;
      if (isReg(x)) {
        if (isReg(y)) { kind = R_MOV_RR; w1 = x.reg | (y.reg << 8); }
        else if (y?.kind === 'imm') { kind = R_MOV_RI; w1 = x.reg; w2 = y.value | 0; }
        else if (isBasePlusDisp(y, ins.adsize)) { kind = R_MOV_LOAD; w1 = x.reg | (y.seg << 8) | (y.base << 16); w2 = y.disp | 0; }
      } else if (isReg(y) && isBasePlusDisp(x, ins.adsize)) { kind = R_MOV_STORE; w1 = x.seg | (x.base << 8) | (y.reg << 16); w2 = x.disp | 0; }
      break;
    case 'LEA':
      if (ins.opsize === 32 && isReg(x) && isBasePlusDisp(y, ins.adsize)) { kind = R_LEA; w1 = x.reg | (y.base << 8); w2 = y.disp | 0; }
      break;
    case 'PUSH':
      if (ins.opsize === 32 && isReg(x) && x.reg !== ESP) { kind = R_PUSH; w1 = x.reg; }
      break;
    case 'POP':
      if (ins.opsize === 32 && isReg(x)) { kind = R_POP; w1 = x.reg; }
      break;
    case 'JMP':
      if (x?.kind === 'rel' && ins.opsize === 32) { kind = R_JMP; w2 = x.disp | 0; }
      break;
    case 'CALL':
      if (x?.kind === 'rel' && ins.opsize === 32) { kind = R_CALL; w1 = 4; w2 = x.disp | 0; }
      break;
    case 'RET':
      if (ins.opcode === 0xc3 || ins.opcode === 0xc2) { kind = R_RET; w1 = ins.opsize >> 3; w2 = x?.kind === 'imm' ? x.value & 0xffff : 0; }
      break;
    case 'JCC':
      if (x?.kind === 'rel' && ins.opsize === 32) { kind = R_JCC; w1 = ins.cond; w2 = x.disp | 0; }
      break;
    case 'INC': case 'DEC':
      if (ins.size === 4 && isReg(x)) { kind = ins.op === 'INC' ? R_INC : R_DEC; w1 = x.reg; }
      break;
    case 'ADD': alu = A_ADD; break;
    case 'SUB': alu = A_SUB; break;
    case 'CMP': alu = A_CMP; break;
    case 'AND': alu = A_AND; break;
    case 'OR': alu = A_OR; break;
    case 'XOR': alu = A_XOR; break;
    case 'TEST': alu = A_TEST; break;
  }
  if (alu >= 0 && ins.size === 4 && isReg(x)) {
    if (isReg(y)) { kind = R_ALU_RR + alu; w1 = x.reg | (y.reg << 8); }
    else if (y?.kind === 'imm') { kind = R_ALU_RI + alu; w1 = x.reg; w2 = y.value | 0; }
  }
  if (kind !== R_CLOSURE) { t[o] = kind; t[o + 1] = w1; t[o + 2] = w2; }
  return kind;
}

/**
 * Write the record of template t[o..o+2] (a kind other than R_CLOSURE) at a[j..j+3], for an instruction
 * followed by `next` and preceded in its block by an instruction of writer key `prevWriter` (0: none).
 */
export function placeRecord(t: Int32Array, o: number, next: number, prevWriter: number, a: Int32Array, j: number): void {
  const kind = t[o];
  a[j] = kind;
  if (kind === R_JMP || kind === R_CALL || kind === R_JCC) {
    a[j + 1] = kind === R_JCC ? testOf(t[o + 1], prevWriter) : t[o + 1];
    a[j + 2] = (next + t[o + 2]) | 0;
  } else { a[j + 1] = t[o + 1]; a[j + 2] = t[o + 2]; }
  a[j + RECORD_NEXT] = next;
}

/** A record's semantics: the instruction of the record at a[j]. */
export type RecordHandler = (cpu: Cpu, s: Int32Array, a: Int32Array, j: number) => void;
const reg0 = (a: Int32Array, j: number): number => a[j + 1] & 7;
const reg1 = (a: Int32Array, j: number): number => (a[j + 1] >> 8) & 7;
const reg2 = (a: Int32Array, j: number): number => (a[j + 1] >> 16) & 7;
const unknownRecord: RecordHandler = (_cpu, _s, a, j) => { throw new Error(`interpreter: record kind ${a[j]} has no semantics`); };

/**
 * The handler of each record kind (the run loop calls HANDLERS[kind]: one small function per kind, each
 * calling its chapter's semantics, which V8 inlines into it — a switch over all kinds was too big to inline
 * anywhere, and cost a second call per instruction).
 */
export const HANDLERS: readonly RecordHandler[] = (() => {
  const h: RecordHandler[] = new Array<RecordHandler>(R_ALU_RI + ALU_OPS).fill(unknownRecord);
  h[R_MOV_LOAD] = (cpu, s, a, j) => movLoad32(cpu, s, reg0(a, j), reg1(a, j), reg2(a, j), a[j + 2]);
  h[R_MOV_STORE] = (cpu, s, a, j) => movStore32(cpu, s, reg0(a, j), reg1(a, j), a[j + 2], reg2(a, j));
  h[R_MOV_RR] = (_cpu, s, a, j) => { s[reg0(a, j)] = s[reg1(a, j)]; };
  h[R_MOV_RI] = (_cpu, s, a, j) => { s[reg0(a, j)] = a[j + 2]; };
  h[R_LEA] = (_cpu, s, a, j) => leaBaseDisp32(s, reg0(a, j), reg1(a, j), a[j + 2]);
  h[R_PUSH] = (cpu, s, a, j) => pushReg32Exec(cpu, s, reg0(a, j));
  h[R_POP] = (cpu, s, a, j) => popReg32Exec(cpu, s, reg0(a, j));
  h[R_INC] = (_cpu, s, a, j) => inc32(s, reg0(a, j));
  h[R_DEC] = (_cpu, s, a, j) => dec32(s, reg0(a, j));
  h[R_JMP] = (cpu, _s, a, j) => jumpNear(cpu, a[j + 2]);
  h[R_JCC] = (cpu, s, a, j) => { if (TESTS[a[j + 1]](s)) takeBranch(cpu, a[j + 2]); };
  h[R_CALL] = (cpu, _s, a, j) => callNear(cpu, a[j + 1], a[j + 2], a[j + RECORD_NEXT]);
  h[R_RET] = (cpu, _s, a, j) => returnNear(cpu, a[j + 1], a[j + 2]);
  // (Each its own function literal, so that V8 inlines its one operation into it.)
  h[R_ALU_RR + A_ADD] = (_cpu, s, a, j) => add32(s, reg0(a, j), s[reg1(a, j)]);
  h[R_ALU_RI + A_ADD] = (_cpu, s, a, j) => add32(s, reg0(a, j), a[j + 2]);
  h[R_ALU_RR + A_SUB] = (_cpu, s, a, j) => sub32(s, reg0(a, j), s[reg1(a, j)]);
  h[R_ALU_RI + A_SUB] = (_cpu, s, a, j) => sub32(s, reg0(a, j), a[j + 2]);
  h[R_ALU_RR + A_CMP] = (_cpu, s, a, j) => cmp32(s, reg0(a, j), s[reg1(a, j)]);
  h[R_ALU_RI + A_CMP] = (_cpu, s, a, j) => cmp32(s, reg0(a, j), a[j + 2]);
  h[R_ALU_RR + A_AND] = (_cpu, s, a, j) => and32(s, reg0(a, j), s[reg1(a, j)]);
  h[R_ALU_RI + A_AND] = (_cpu, s, a, j) => and32(s, reg0(a, j), a[j + 2]);
  h[R_ALU_RR + A_OR] = (_cpu, s, a, j) => or32(s, reg0(a, j), s[reg1(a, j)]);
  h[R_ALU_RI + A_OR] = (_cpu, s, a, j) => or32(s, reg0(a, j), a[j + 2]);
  h[R_ALU_RR + A_XOR] = (_cpu, s, a, j) => xor32(s, reg0(a, j), s[reg1(a, j)]);
  h[R_ALU_RI + A_XOR] = (_cpu, s, a, j) => xor32(s, reg0(a, j), a[j + 2]);
  h[R_ALU_RR + A_TEST] = (_cpu, s, a, j) => test32(s, reg0(a, j), s[reg1(a, j)]);
  h[R_ALU_RI + A_TEST] = (_cpu, s, a, j) => test32(s, reg0(a, j), a[j + 2]);
  return h;
})();
