// What the engines and region discovery need to know about a decoded instruction, from one table keyed
// by mnemonic: whether the decoded block ends after it, how it transfers control, whether control can
// continue at the next instruction, and which arithmetic flags (CF PF AF ZF SF OF) it reads and writes.
// Every mnemonic the decoder produces has an entry (tests/instruction-meta.test.ts walks the opcode maps);
// forms whose facts depend on the operands (MOV to CR/SS, POP SS, JMP/CALL rel vs r/m vs far, shifts by
// a count that may be zero, REP CMPS/SCAS) are small functions of the Instruction.
//
// Flags follow the SDM (Vol. 1 Appendix A, "EFLAGS Cross-Reference"), with one rule for what the SDM
// calls undefined: it counts as written only where src/cpu/semantics writes it whatever the inputs (MUL,
// BSF, the decimal group), and as unchanged where they leave it (DIV, BT's OF SF AF PF). Flag liveness
// drops a flag computation no later instruction observes, so a wrong "writes" breaks guests; "reads"
// may say more than needed (an instruction that saves EFLAGS — PUSHF, INT n, an exception it always
// raises — reads all six).
import { GROUPS } from '../decoder/opcodes.ts';
import type { Instruction } from '../decoder/instruction.ts';
import { PREFIX_REP, PREFIX_REPNE, SS } from '../decoder/instruction.ts';
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from './state.ts';

/** How an instruction transfers control ('interrupt': through the IDT, INT n or an exception it always raises). */
export type Branch = 'none' | 'conditional' | 'jump' | 'call' | 'return' | 'interrupt' | 'halt';
/** Where the target comes from: the instruction itself (relative), a register/memory/the stack (indirect), or a new CS. */
export type Target = 'none' | 'relative' | 'indirect' | 'far';

export interface InstructionMeta {
  /** The decoded block ends after it (a control transfer, or a change to how the following code runs). */
  readonly endsBlock: boolean;
  readonly branch: Branch;
  readonly target: Target;
  /** Control may go on to the next instruction directly (not only as a return address). */
  readonly fallsThrough: boolean;
  /** Arithmetic flags it may read. */
  readonly reads: number;
  /** Arithmetic flags it always writes when it completes (one it may leave unchanged is not written). */
  readonly writes: number;
}

type Control = Partial<Pick<InstructionMeta, 'endsBlock' | 'branch' | 'target' | 'fallsThrough'>>;

function meta(reads: number, writes: number, control: Control = {}): InstructionMeta {
  return Object.freeze({ endsBlock: false, branch: 'none' as Branch, target: 'none' as Target, fallsThrough: true, reads, writes, ...control });
}

const ALL = ARITH_FLAGS, OSZAP = OF | SF | ZF | AF | PF, AH_FLAGS = SF | ZF | AF | PF | CF;
const NONE = meta(0, 0);
const ENDS = meta(0, 0, { endsBlock: true });
/** Not in the table (never from the decoder): every consumer's safe side. */
const UNKNOWN = meta(ALL, 0, { endsBlock: true, fallsThrough: false });

/** Flags condition code cc (SDM tttn) tests: O, B, Z, BE, S, P, L, LE — each with its negation. */
const CONDITION_READS = [OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF];
export const conditionReads = (cc: number): number => CONDITION_READS[(cc >> 1) & 7];

// Conditional branches do not end a block: decoding continues on the fall-through path and a taken
// branch leaves the block as a side exit (a superblock), which keeps the run loop's per-block work off
// short loop bodies.
const branchIf = (reads: number): InstructionMeta => meta(reads, 0, { branch: 'conditional', target: 'relative' });
const JCC = Array.from({ length: 16 }, (_, cc) => branchIf(conditionReads(cc)));
const BY_CONDITION = Array.from({ length: 16 }, (_, cc) => meta(conditionReads(cc), 0));

const transfer = (branch: Branch, target: Target, reads = 0, writes = 0): InstructionMeta =>
  meta(reads, writes, { endsBlock: true, branch, target, fallsThrough: false });
const JMP = { relative: transfer('jump', 'relative'), indirect: transfer('jump', 'indirect'), far: transfer('jump', 'far') };
const CALL = { relative: transfer('call', 'relative'), indirect: transfer('call', 'indirect'), far: transfer('call', 'far') };
/** INT n, INT3, INT1 (only the handler's IRET leads past them), and UD2 or an invalid encoding (always #UD). */
const INTERRUPT = transfer('interrupt', 'far', ALL);

/** JMP/CALL: rel (E8 E9 EB), far (9A EA ptr16:32, FF /3 /5 m16:32), else near r/m (FF /2 /4). */
function nearOrFar(ins: Instruction): 'relative' | 'indirect' | 'far' {
  const o = ins.operands[0];
  if (o?.kind === 'rel') return 'relative';
  const reg = (ins.modrm >> 3) & 7;
  return o?.kind === 'far' || (ins.opcode === 0xff && (reg === 3 || reg === 5)) ? 'far' : 'indirect';
}

/** An immediate count as the emitters mask it (5 bits), or -1 for CL. */
function countOf(ins: Instruction, index: number): number {
  const o = ins.operands[index];
  return o === undefined ? 1 : o.kind === 'imm' ? o.value & 31 : -1;
}

// Shifts and rotates change no flag when the masked count is 0, so a CL count writes none (shift.ts).
const SHIFT_WRITES_ALL = meta(0, ALL);
const shift = (index: number) => (ins: Instruction): InstructionMeta => (countOf(ins, index) > 0 ? SHIFT_WRITES_ALL : NONE);
// ROL/ROR write CF and OF, except that a register rotated by an immediate count above 1 keeps OF (as the
// host Intel CPU does, shift.ts).
const ROTATE_CF = meta(0, CF), ROTATE_CF_OF = meta(0, CF | OF);
function rotate(ins: Instruction): InstructionMeta {
  const k = countOf(ins, 1);
  return k <= 0 ? NONE : k > 1 && ins.operands[0].kind === 'reg' ? ROTATE_CF : ROTATE_CF_OF;
}
// RCL/RCR rotate through CF; 8/16-bit counts are taken mod 9/17 and a count of 0 changes nothing.
const CARRY_ROTATE_NONE = meta(CF, 0), CARRY_ROTATE = meta(CF, CF | OF);
function rotateCarry(ins: Instruction): InstructionMeta {
  const k = countOf(ins, 1);
  if (k <= 0) return CARRY_ROTATE_NONE;
  return (ins.size === 4 ? k : k % (ins.size * 8 + 1)) !== 0 ? CARRY_ROTATE : CARRY_ROTATE_NONE;
}
// REP CMPS/SCAS with a zero count compare nothing and leave the flags.
const COMPARES = meta(0, ALL);
const stringCompare = (ins: Instruction): InstructionMeta => ((ins.prefixes & (PREFIX_REP | PREFIX_REPNE)) !== 0 ? NONE : COMPARES);

// MOV or POP to SS (the next instruction runs in its interrupt shadow) and MOV with a control register
// end the block; the MOV test is on either operand, as the interpreter has always cut blocks.
// (A loop, not operands.some: metaOf runs for every instruction decoded and translated, MOV the commonest.)
function mov(ins: Instruction): InstructionMeta {
  const ops = ins.operands;
  for (let k = 0; k < ops.length; k++) {
    const o = ops[k];
    if (o.kind === 'creg' || (o.kind === 'sreg' && o.reg === SS)) return ENDS;
  }
  return NONE;
}
const pop = (ins: Instruction): InstructionMeta => (ins.operands[0]?.kind === 'sreg' && ins.operands[0].reg === SS ? ENDS : NONE);

type Entry = InstructionMeta | ((ins: Instruction) => InstructionMeta);

const TABLE: Record<string, Entry> = {
  // Binary arithmetic and logic; INC/DEC leave CF as it was.
  ADD: meta(0, ALL), SUB: meta(0, ALL), CMP: meta(0, ALL), NEG: meta(0, ALL),
  AND: meta(0, ALL), OR: meta(0, ALL), XOR: meta(0, ALL), TEST: meta(0, ALL),
  ADC: meta(CF, ALL), SBB: meta(CF, ALL), INC: meta(0, OSZAP), DEC: meta(0, OSZAP), NOT: NONE,
  XADD: meta(0, ALL), CMPXCHG: meta(0, ALL), CMPXCHG8B: meta(0, ZF),
  // MUL/IMUL set all six (SF ZF AF PF as the host CPU does); DIV/IDIV leave them all (muldiv.ts).
  MUL: meta(0, ALL), IMUL: meta(0, ALL), DIV: NONE, IDIV: NONE,
  // Decimal arithmetic replaces all six (bcd.ts).
  DAA: meta(AF | CF, ALL), DAS: meta(AF | CF, ALL), AAA: meta(AF, ALL), AAS: meta(AF, ALL), AAM: meta(0, ALL), AAD: meta(0, ALL),
  // Shifts and rotates.
  SHL: shift(1), SHR: shift(1), SAR: shift(1), SHLD: shift(2), SHRD: shift(2),
  ROL: rotate, ROR: rotate, RCL: rotateCarry, RCR: rotateCarry,
  // Bits and bytes: BT* write CF only; BSF/BSR record all six (bits.ts).
  BT: meta(0, CF), BTS: meta(0, CF), BTR: meta(0, CF), BTC: meta(0, CF), BSF: meta(0, ALL), BSR: meta(0, ALL),
  BSWAP: NONE, SETCC: (ins) => BY_CONDITION[ins.cond], CMOVCC: (ins) => BY_CONDITION[ins.cond],
  // Data movement; LSS ends the block as MOV SS does.
  MOV: mov, MOVZX: NONE, MOVSX: NONE, LEA: NONE, XCHG: NONE, CBW: NONE, CWD: NONE, XLAT: NONE, NOP: NONE,
  LDS: NONE, LES: NONE, LFS: NONE, LGS: NONE, LSS: ENDS,
  PUSH: NONE, POP: pop, PUSHA: NONE, POPA: NONE, ENTER: NONE, LEAVE: NONE,
  // Strings.
  MOVS: NONE, STOS: NONE, LODS: NONE, INS: NONE, OUTS: NONE, CMPS: stringCompare, SCAS: stringCompare,
  // EFLAGS itself; CLI/STI/POPF change whether interrupts come (the run loop checks between blocks).
  LAHF: meta(AH_FLAGS, 0), SAHF: meta(0, AH_FLAGS), CLC: meta(0, CF), STC: meta(0, CF), CMC: meta(CF, CF),
  CLD: NONE, STD: NONE, CLI: ENDS, STI: ENDS, PUSHF: meta(ALL, 0), POPF: meta(0, ALL, { endsBlock: true }),
  // Control transfer.
  JCC: (ins) => JCC[ins.cond], LOOP: branchIf(0), LOOPE: branchIf(ZF), LOOPNE: branchIf(ZF), JCXZ: branchIf(0),
  JMP: (ins) => JMP[nearOrFar(ins)], CALL: (ins) => CALL[nearOrFar(ins)],
  RET: transfer('return', 'indirect'), RETF: transfer('return', 'far'), IRET: transfer('return', 'far', 0, ALL),
  INT: INTERRUPT, INT1: INTERRUPT, INT3: INTERRUPT, UD2: INTERRUPT, INVALID: INTERRUPT,
  // INTO traps only when OF = 1; BOUND raises #BR only out of bounds.
  INTO: meta(ALL, 0, { endsBlock: true, branch: 'interrupt', target: 'far' }), BOUND: ENDS,
  // The interrupt that ends HLT saves EFLAGS.
  HLT: meta(ALL, 0, { endsBlock: true, branch: 'halt', fallsThrough: false }),
  // System: descriptor tables, task register, CR0 and the TLB end the block (the mode may change).
  LGDT: ENDS, LIDT: ENDS, LLDT: ENDS, LTR: ENDS, LMSW: ENDS, INVLPG: ENDS,
  SGDT: NONE, SIDT: NONE, SLDT: NONE, STR: NONE, SMSW: NONE, CLTS: NONE, INVD: NONE, WBINVD: NONE, WAIT: NONE,
  LAR: meta(0, ZF), LSL: meta(0, ZF), VERR: meta(0, ZF), VERW: meta(0, ZF), ARPL: meta(0, ZF),
  IN: NONE, OUT: NONE, CPUID: NONE, RDTSC: NONE, RDMSR: NONE, WRMSR: NONE,
  // The hypervisor call hands the guest's state to the host.
  VMCALL: meta(ALL, 0, { endsBlock: true }),
};
// The x87 escapes (D8-DF): no control transfer, and no EFLAGS effect except the P6 forms: FCOMI/FUCOMI
// write ZF PF CF and clear OF SF AF; FCMOVcc reads its condition's flags.
for (const [name, g] of Object.entries(GROUPS)) {
  if (name.startsWith('x87')) for (const e of [...g.mem, ...g.reg]) if (e.op !== 'INVALID') TABLE[e.op] = NONE;
}
for (const op of ['FCOMI', 'FCOMIP', 'FUCOMI', 'FUCOMIP']) TABLE[op] = meta(0, ALL);
for (const [op, cc] of Object.entries({ FCMOVB: 2, FCMOVNB: 3, FCMOVE: 4, FCMOVNE: 5, FCMOVBE: 6, FCMOVNBE: 7, FCMOVU: 10, FCMOVNU: 11 })) TABLE[op] = BY_CONDITION[cc];

/** The table's mnemonics (for the completeness test). */
export const META_MNEMONICS: readonly string[] = Object.keys(TABLE);

/** The facts about one decoded instruction. */
export function metaOf(ins: Instruction): InstructionMeta {
  const e = TABLE[ins.op];
  return e === undefined ? UNKNOWN : typeof e === 'function' ? e(ins) : e;
}

export const endsBlock = (ins: Instruction): boolean => metaOf(ins).endsBlock;
export const fallsThrough = (ins: Instruction): boolean => metaOf(ins).fallsThrough;
/** PAUSE: F3 90 (a NOP with REP; cpu.ts PAUSE_NS). Not F3 0F 1F, a multi-byte NOP. */
export const isPause = (ins: Instruction): boolean => ins.op === 'NOP' && ins.opcode === 0x90 && (ins.prefixes & PREFIX_REP) !== 0;

/**
 * The target of a direct relative branch (Jcc, LOOPcc, JCXZ, JMP/CALL rel): the offset after it plus the
 * displacement, masked to the operand size as the branch does. null for every other instruction.
 */
export function directTarget(op: { readonly ins: Instruction; readonly next: number }): number | null {
  const o = op.ins.operands[0];
  if (o?.kind !== 'rel' || metaOf(op.ins).target !== 'relative') return null;
  const t = (op.next + o.disp) | 0;
  return op.ins.opsize === 16 ? t & 0xffff : t;
}
