// Intel-syntax text of a decoded instruction, in GNU objdump's `-M intel` dialect (operands separated by
// ',' without a space, `DWORD PTR es:[ebx+ecx*4+0x10]`, hex immediates, branch targets as addresses), so
// that `x86jit disasm` can be diffed against objdump. Where the SDM names the instruction by its size
// the SDM name is used instead (PUSHAD, POPFD, IRETD, CWDE, CDQ, JECXZ: objdump writes PUSHA, POPF, IRET
// in 32-bit code); tests/decoder-normalise.ts lists every difference from objdump.
import { CONDITION_NAMES, type Instruction, type MemOperand, type Operand, PREFIX_LOCK, PREFIX_OPSIZE, PREFIX_REP, PREFIX_REPNE, SEG_NAMES } from './instruction.ts';

const REG_NAMES: Record<number, readonly string[]> = {
  1: ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'],
  2: ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'],
  4: ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'],
};
const PTR: Record<number, string> = { 1: 'BYTE PTR ', 2: 'WORD PTR ', 4: 'DWORD PTR ', 6: 'FWORD PTR ', 8: 'QWORD PTR ', 10: 'TBYTE PTR ' };

/** String instructions: objdump spells out their implicit operands; `src` is the overridable DS:[(E)SI]. */
const STRING_OPERANDS: Record<string, (p: string, src: string, dst: string, acc: string) => string> = {
  MOVS: (p, src, dst) => `${p}${dst},${p}${src}`,
  CMPS: (p, src, dst) => `${p}${src},${p}${dst}`,
  STOS: (p, _src, dst, acc) => `${p}${dst},${acc}`,
  LODS: (p, src, _dst, acc) => `${acc},${p}${src}`,
  SCAS: (p, _src, dst, acc) => `${acc},${p}${dst}`,
  INS: (p, _src, dst) => `${p}${dst},dx`,
  OUTS: (p, src) => `dx,${p}${src}`,
};
/** F3 reads as REP on these, as REPZ elsewhere. */
const REP_STRING = new Set(['MOVS', 'STOS', 'LODS', 'INS', 'OUTS']);
/** Instructions whose segment override shows in an operand (the rest print it as a prefix word). */
const SHOWS_SOURCE_SEGMENT = new Set(['MOVS', 'CMPS', 'LODS', 'OUTS', 'XLAT']);

/** SDM names that depend on the operand or address size. */
const SIZE_NAMED: Record<string, (ins: Instruction) => string> = {
  CBW: (i) => (i.opsize === 32 ? 'cwde' : 'cbw'),
  CWD: (i) => (i.opsize === 32 ? 'cdq' : 'cwd'),
  PUSHA: (i) => (i.opsize === 32 ? 'pushad' : 'pusha'),
  POPA: (i) => (i.opsize === 32 ? 'popad' : 'popa'),
  PUSHF: (i) => (i.opsize === 32 ? 'pushfd' : 'pushf'),
  POPF: (i) => (i.opsize === 32 ? 'popfd' : 'popf'),
  IRET: (i) => (i.opsize === 32 ? 'iretd' : 'iret'),
  JCXZ: (i) => (i.adsize === 32 ? 'jecxz' : 'jcxz'),
  JCC: (i) => `j${CONDITION_NAMES[i.cond]}`,
  SETCC: (i) => `set${CONDITION_NAMES[i.cond]}`,
  CMOVCC: (i) => `cmov${CONDITION_NAMES[i.cond]}`,
  WAIT: () => 'fwait',
};
/**
 * objdump's habit of marking an operand size that no operand shows: a 'w'/'d' suffix when it differs from
 * the code size (callw, pushw 0x1, retd, enterw), always for the descriptor-table instructions (lgdtd).
 */
const SUFFIX_WHEN_NOT_DEFAULT = new Set(['RET', 'RETF', 'ENTER', 'LEAVE', 'FLDENV', 'FNSTENV', 'FRSTOR', 'FNSAVE']);
const SUFFIX_ALWAYS = new Set(['LGDT', 'LIDT', 'SGDT', 'SIDT']);
/** Memory operands printed without a size (objdump): LEA's address, the descriptor-table pseudo-descriptor. */
const NO_PTR = new Set(['LEA', 'LGDT', 'LIDT', 'SGDT', 'SIDT']);

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** The code size the instruction was decoded in: the operand size, undone by a 66 prefix. */
const codeBits = (ins: Instruction): number => ((ins.prefixes & PREFIX_OPSIZE) ? 48 - ins.opsize : ins.opsize);

function mnemonic(ins: Instruction): string {
  const named = SIZE_NAMED[ins.op];
  if (named !== undefined) return named(ins);
  const base = ins.op.toLowerCase();
  const sfx = ins.opsize === 16 ? 'w' : 'd';
  if (SUFFIX_ALWAYS.has(ins.op)) return base + sfx;
  if (ins.opsize !== codeBits(ins)) {
    const first = ins.operands[0];
    if (SUFFIX_WHEN_NOT_DEFAULT.has(ins.op)) return base + sfx;
    if (ins.opcode === 0xe8 || ins.opcode === 0xe9) return base + sfx; // CALL/JMP rel16/32, not JMP rel8
    if ((ins.op === 'PUSH' || ins.op === 'POP') && (first?.kind === 'imm' || first?.kind === 'sreg')) return base + sfx;
  }
  return base;
}

function memory(ins: Instruction, m: MemOperand): string {
  let ptr = PTR[m.size] ?? '';
  if (NO_PTR.has(ins.op) || (ins.opcode >= 0xa0 && ins.opcode <= 0xa3)) ptr = '';
  else if (ins.op === 'INVLPG') ptr = 'BYTE PTR ';
  const seg = SEG_NAMES[m.seg];
  const explicitSeg = ins.segOverride >= 0 ? `${seg}:` : '';
  const mod = ins.modrm >> 6;
  const sib = ins.adsize === 32 && ins.modrm >= 0 && (ins.modrm & 7) === 4;
  const base = m.base, index = m.index;
  const names = REG_NAMES[ins.adsize >> 3];
  let expr = base >= 0 ? names[base] : '';
  if (sib) {
    // objdump shows a SIB byte's index even when it is 4 ("eiz") unless the encoding is the plain [esp]
    // form, or (in 16-bit code) a bare displacement.
    if (index >= 0 || m.scale !== 1 || (base < 0 && codeBits(ins) === 32) || (base >= 0 && base !== 4)) {
      expr += `${expr ? '+' : ''}${index >= 0 ? names[index] : 'eiz'}*${m.scale}`;
    }
  } else if (index >= 0) expr += `+${names[index]}`;
  // A bare displacement (moffs, ModRM or SIB without registers): objdump writes `ds:0x1234`.
  if (expr === '') return `${ptr}${seg}:${hex(ins.adsize === 16 ? m.disp & 0xffff : m.disp)}`;
  if (mod === 1 || mod === 2 || base < 0) expr += m.disp < 0 ? `-${hex(-m.disp)}` : `+${hex(m.disp)}`;
  return `${ptr}${explicitSeg}[${expr}]`;
}

function operand(ins: Instruction, op: Operand, i: number, address: number | undefined): string {
  switch (op.kind) {
    case 'reg': return REG_NAMES[op.size][op.reg];
    case 'sreg': return SEG_NAMES[op.reg] ?? '?';
    case 'creg': return `cr${op.reg}`;
    case 'dreg': return `dr${op.reg}`;
    case 'st': {
      // In the two-operand x87 forms one side is the fixed ST(0), written `st`: the first for D8 and the P6
      // FCMOVcc/FCOMI forms (DA, DB, DF), the second for DC/DE.
      const fixed = ins.operands.length === 2 && (ins.opcode === 0xdc || ins.opcode === 0xde ? i === 1 : i === 0);
      return fixed ? 'st' : `st(${op.reg})`;
    }
    case 'imm': return ins.opcode >= 0xd0 && ins.opcode <= 0xd3 ? '1' : hex(op.value);
    case 'rel': {
      if (address === undefined) { const d = ins.length + op.disp; return d < 0 ? `$-${hex(-d)}` : `$+${hex(d)}`; }
      const t = address + ins.length + op.disp;
      return hex(ins.opsize === 16 ? t & 0xffff : t);
    }
    case 'far': return `${hex(op.selector)}:${hex(op.offset)}`;
    case 'mem': return memory(ins, op);
  }
}

/** Intel-syntax text of `ins`; with `address` (of the instruction's first byte) branch targets are absolute. */
export function formatIntel(ins: Instruction, address?: number): string {
  if (ins.op === 'INVALID') return '(bad)';
  let pre = '';
  const string = STRING_OPERANDS[ins.op];
  const showsSegment = ins.operands.some((o) => o.kind === 'mem') || SHOWS_SOURCE_SEGMENT.has(ins.op);
  if (ins.segOverride >= 0 && !showsSegment) pre += `${SEG_NAMES[ins.segOverride]} `;
  if (ins.prefixes & PREFIX_LOCK) pre += 'lock ';
  if (ins.prefixes & PREFIX_REP) pre += REP_STRING.has(ins.op) ? 'rep ' : 'repz ';
  if (ins.prefixes & PREFIX_REPNE) pre += 'repnz ';
  let text: string;
  if (string !== undefined || ins.op === 'XLAT') {
    const p = PTR[ins.size], a = ins.adsize === 32 ? 'e' : '';
    const src = `${ins.segOverride >= 0 ? SEG_NAMES[ins.segOverride] : 'ds'}:[${a}${ins.op === 'XLAT' ? 'bx' : 'si'}]`;
    text = string !== undefined ? string(p, src, `es:[${a}di]`, REG_NAMES[ins.size][0]) : `${p}${src}`;
  } else {
    text = ins.operands.map((o, i) => operand(ins, o, i, address)).join(',');
  }
  return text ? `${pre}${mnemonic(ins)} ${text}` : `${pre}${mnemonic(ins)}`;
}
