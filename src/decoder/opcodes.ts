// The i386/i486 opcode maps as data, in the vocabulary of the Intel SDM Vol. 2 Appendix A (one-byte map
// A-2, two-byte map A-3, ModRM groups A-6, x87 escape maps A-7..A-22). Each row lists eight entries
// (opcode row+0 .. row+7); an entry is `MNEMONIC operands flags`:
//   operands  SDM operand codes, Intel order, comma-separated (Eb,Gb  Ev,Iz  Gv,M  Jz  Ap  Ob  Sw  Rd,Cd ...)
//   flags     lock  LOCK (F0) allowed, and then only with a memory destination
//             b     byte form (Instruction.size = 1) where the operands alone do not say so (string ops, OUT)
//             cc    condition code in the opcode's low nibble (JCC, SETCC, CMOVCC)
//   -         invalid opcode (#UD): decodes as op 'INVALID'
//   @name     a ModRM group: the ModRM byte selects the entry (GROUPS below); a group entry without operands
//             takes the operands written after @name
//   prefix / 0F   prefix bytes and the two-byte escape (handled by the decoder itself)
//
// Operand codes beyond the SDM's letters (the SDM puts these in footnotes):
//   Ibs     imm8 sign-extended to the operand size (83 /x, 6A PUSH, 6B IMUL)
//   Mw/Rv   a 16-bit memory operand, or a register of the operand size (SLDT, STR, SMSW, LAR, LSL, MOV Sreg)
//   Zb, Zv  the register in the opcode's low three bits (40+r, 50+r, 90+r, B0+r, B8+r, 0F C8+r), after QEMU
//   Mt Me Mf  x87 memory: 80-bit (m80fp/m80bcd), environment (m14/28byte), state (m94/108byte)
//   1       the constant 1 of the D0-D3 shifts;  ST, STi  x87 ST(0) and ST(i) from ModRM.rm
// Everything outside the i386/i486 integer set + x87 (MMX, SSE, 3DNow!, VMX/SVM, SYSENTER, RSM, SSE3
// FISTTP, ...) is '-' and therefore #UD, except the P6 x87 FCMOVcc/FCOMI/FUCOMI, CMOVcc, CPUID, RDTSC,
// RDMSR/WRMSR, CMPXCHG8B, the 0F 1E/1F NOPs (F3 0F 1E FB is ENDBR32, a NOP without CET: glibc's code is
// full of it) and VMCALL, which the rest of x86jit wants.

/** Operand kinds (the letter of an SDM operand code). */
export const K_E = 1, K_G = 2, K_M = 3, K_MWRV = 4, K_R = 5, K_C = 6, K_D = 7, K_S = 8, K_I = 9, K_IS = 10, K_J = 11,
  K_A = 12, K_O = 13, K_Z = 14, K_FIX = 15, K_SEG = 16, K_ONE = 17, K_ST0 = 18, K_STI = 19;

/** Operand size classes (the lower-case letters): how many bytes the operand has, given the operand size. */
export const S_NONE = 0, S_B = 1, S_W = 2, S_D = 3, S_V = 4, S_Z = 5, S_P = 6, S_A = 7, S_Q = 8, S_S = 9, S_T = 10, S_ENV = 11, S_STATE = 12;

/** A compiled operand: kind | size class << 5 | fixed register << 9. */
export const operandKind = (c: number): number => c & 31;
export const operandSize = (c: number): number => (c >> 5) & 15;
export const operandReg = (c: number): number => c >> 9;
const opnd = (kind: number, size: number, reg = 0): number => kind | (size << 5) | (reg << 9);

const SIZE_LETTERS: Record<string, number> = { b: S_B, w: S_W, d: S_D, v: S_V, z: S_Z, p: S_P, a: S_A, q: S_Q, s: S_S, t: S_T, e: S_ENV, f: S_STATE };
const GPR = ['AX', 'CX', 'DX', 'BX', 'SP', 'BP', 'SI', 'DI'];
const GPR8 = ['AL', 'CL', 'DL', 'BL', 'AH', 'CH', 'DH', 'BH'];
const SREG = ['ES', 'CS', 'SS', 'DS', 'FS', 'GS'];

/** SDM operand code → compiled operand. */
function compileOperand(code: string): number {
  const fixed8 = GPR8.indexOf(code);
  if (fixed8 >= 0) return opnd(K_FIX, S_B, fixed8);
  if (code.length === 3 && code[0] === 'e' && GPR.includes(code.slice(1))) return opnd(K_FIX, S_V, GPR.indexOf(code.slice(1)));
  if (code === 'AX' || code === 'DX') return opnd(K_FIX, S_W, GPR.indexOf(code));
  if (SREG.includes(code)) return opnd(K_SEG, S_W, SREG.indexOf(code));
  switch (code) {
    case '1': return opnd(K_ONE, S_B);
    case 'ST': return opnd(K_ST0, S_NONE);
    case 'STi': return opnd(K_STI, S_NONE);
    case 'M': return opnd(K_M, S_NONE);
    case 'Mw/Rv': return opnd(K_MWRV, S_W);
    case 'Ibs': return opnd(K_IS, S_V);
  }
  const kind = { E: K_E, G: K_G, M: K_M, R: K_R, C: K_C, D: K_D, S: K_S, I: K_I, J: K_J, A: K_A, O: K_O, Z: K_Z }[code[0]];
  const size = SIZE_LETTERS[code.slice(1)];
  if (kind === undefined || size === undefined || code.length !== 2) throw new Error(`opcode map: unknown operand code '${code}'`);
  return opnd(kind, size);
}

/** Entry flags. */
export const F_LOCK = 1;        // LOCK allowed (with a memory destination)
export const F_BYTE = 2;        // byte form: Instruction.size = 1
export const F_CC = 4;          // condition code = opcode & 15
export const F_MODRM = 8;       // a ModRM byte follows the opcode
export const F_MEM_ONLY = 16;   // the ModRM operand must be memory (LEA, LES, BOUND, LGDT, CMPXCHG8B, far CALL/JMP m)
export const F_REG_ONLY = 32;   // ModRM.mod is ignored and rm names a register (MOV CRn/DRn)
export const F_INVALID = 64;    // #UD
export const F_PREFIX = 128;    // a prefix byte
export const F_ESCAPE = 256;    // 0F: the two-byte map follows

export interface OpcodeEntry {
  /** SDM mnemonic ('INVALID' for #UD, 'PREFIX', 'ESCAPE'). */
  readonly op: string;
  /** The SDM operand codes as written in the map (for documentation and tests). */
  readonly operandCodes: readonly string[];
  /** Compiled operands (see operandKind/operandSize/operandReg). */
  readonly operands: readonly number[];
  readonly flags: number;
  /** The ModRM group this opcode dispatches through, or null. */
  readonly group: OpcodeGroup | null;
}

/**
 * A ModRM group (SDM Table A-6, and the x87 escapes): `mem` is indexed by ModRM.reg when mod != 3; `reg` by
 * ModRM.reg (8 entries) or by ModRM & 0x3F (64 entries, where single register forms are distinct opcodes).
 */
export interface OpcodeGroup {
  readonly name: string;
  readonly mem: readonly OpcodeEntry[];
  readonly reg: readonly OpcodeEntry[];
}

// ---------------------------------------------------------------------------------------------------
// One-byte opcode map (SDM Table A-2).
const ONE_BYTE_ROWS = `
00 ADD Eb,Gb lock | ADD Ev,Gv lock | ADD Gb,Eb | ADD Gv,Ev | ADD AL,Ib | ADD eAX,Iz | PUSH ES | POP ES
08 OR Eb,Gb lock | OR Ev,Gv lock | OR Gb,Eb | OR Gv,Ev | OR AL,Ib | OR eAX,Iz | PUSH CS | 0F
10 ADC Eb,Gb lock | ADC Ev,Gv lock | ADC Gb,Eb | ADC Gv,Ev | ADC AL,Ib | ADC eAX,Iz | PUSH SS | POP SS
18 SBB Eb,Gb lock | SBB Ev,Gv lock | SBB Gb,Eb | SBB Gv,Ev | SBB AL,Ib | SBB eAX,Iz | PUSH DS | POP DS
20 AND Eb,Gb lock | AND Ev,Gv lock | AND Gb,Eb | AND Gv,Ev | AND AL,Ib | AND eAX,Iz | prefix | DAA
28 SUB Eb,Gb lock | SUB Ev,Gv lock | SUB Gb,Eb | SUB Gv,Ev | SUB AL,Ib | SUB eAX,Iz | prefix | DAS
30 XOR Eb,Gb lock | XOR Ev,Gv lock | XOR Gb,Eb | XOR Gv,Ev | XOR AL,Ib | XOR eAX,Iz | prefix | AAA
38 CMP Eb,Gb | CMP Ev,Gv | CMP Gb,Eb | CMP Gv,Ev | CMP AL,Ib | CMP eAX,Iz | prefix | AAS
40 INC Zv | INC Zv | INC Zv | INC Zv | INC Zv | INC Zv | INC Zv | INC Zv
48 DEC Zv | DEC Zv | DEC Zv | DEC Zv | DEC Zv | DEC Zv | DEC Zv | DEC Zv
50 PUSH Zv | PUSH Zv | PUSH Zv | PUSH Zv | PUSH Zv | PUSH Zv | PUSH Zv | PUSH Zv
58 POP Zv | POP Zv | POP Zv | POP Zv | POP Zv | POP Zv | POP Zv | POP Zv
60 PUSHA | POPA | BOUND Gv,Ma | ARPL Ew,Gw | prefix | prefix | prefix | prefix
68 PUSH Iz | IMUL Gv,Ev,Iz | PUSH Ibs | IMUL Gv,Ev,Ibs | INS b | INS | OUTS b | OUTS
70 JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc
78 JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc | JCC Jb cc
80 @grp1 Eb,Ib | @grp1 Ev,Iz | @grp1 Eb,Ib | @grp1 Ev,Ibs | TEST Eb,Gb | TEST Ev,Gv | XCHG Eb,Gb lock | XCHG Ev,Gv lock
88 MOV Eb,Gb | MOV Ev,Gv | MOV Gb,Eb | MOV Gv,Ev | MOV Mw/Rv,Sw | LEA Gv,M | MOV Sw,Mw/Rv | @grp1a Ev
90 NOP | XCHG Zv,eAX | XCHG Zv,eAX | XCHG Zv,eAX | XCHG Zv,eAX | XCHG Zv,eAX | XCHG Zv,eAX | XCHG Zv,eAX
98 CBW | CWD | CALL Ap | WAIT | PUSHF | POPF | SAHF | LAHF
A0 MOV AL,Ob | MOV eAX,Ov | MOV Ob,AL | MOV Ov,eAX | MOVS b | MOVS | CMPS b | CMPS
A8 TEST AL,Ib | TEST eAX,Iz | STOS b | STOS | LODS b | LODS | SCAS b | SCAS
B0 MOV Zb,Ib | MOV Zb,Ib | MOV Zb,Ib | MOV Zb,Ib | MOV Zb,Ib | MOV Zb,Ib | MOV Zb,Ib | MOV Zb,Ib
B8 MOV Zv,Iv | MOV Zv,Iv | MOV Zv,Iv | MOV Zv,Iv | MOV Zv,Iv | MOV Zv,Iv | MOV Zv,Iv | MOV Zv,Iv
C0 @grp2 Eb,Ib | @grp2 Ev,Ib | RET Iw | RET | LES Gv,Mp | LDS Gv,Mp | @grp11 Eb,Ib | @grp11 Ev,Iz
C8 ENTER Iw,Ib | LEAVE | RETF Iw | RETF | INT3 | INT Ib | INTO | IRET
D0 @grp2 Eb,1 | @grp2 Ev,1 | @grp2 Eb,CL | @grp2 Ev,CL | AAM Ib | AAD Ib | - | XLAT b
D8 @x87d8 | @x87d9 | @x87da | @x87db | @x87dc | @x87dd | @x87de | @x87df
E0 LOOPNE Jb | LOOPE Jb | LOOP Jb | JCXZ Jb | IN AL,Ib | IN eAX,Ib | OUT Ib,AL b | OUT Ib,eAX
E8 CALL Jz | JMP Jz | JMP Ap | JMP Jb | IN AL,DX | IN eAX,DX | OUT DX,AL b | OUT DX,eAX
F0 prefix | INT1 | prefix | prefix | HLT | CMC | @grp3b | @grp3v
F8 CLC | STC | CLI | STI | CLD | STD | @grp4 | @grp5
`;
// D6 (SALC) is left invalid: GNU objdump decodes it as (bad), and the SDM does not define it.

// ---------------------------------------------------------------------------------------------------
// Two-byte opcode map, 0F xx (SDM Table A-3).
const TWO_BYTE_ROWS = `
00 @grp6 | @grp7 | LAR Gv,Mw/Rv | LSL Gv,Mw/Rv | - | - | CLTS | -
08 INVD | WBINVD | - | UD2 | - | - | - | -
10 - | - | - | - | - | - | - | -
18 - | - | - | - | - | - | NOP Ev | NOP Ev
20 MOV Rd,Cd | MOV Rd,Dd | MOV Cd,Rd | MOV Dd,Rd | - | - | - | -
28 - | - | - | - | - | - | - | -
30 WRMSR | RDTSC | RDMSR | - | - | - | - | -
38 - | - | - | - | - | - | - | -
40 CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc
48 CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc | CMOVCC Gv,Ev cc
50 - | - | - | - | - | - | - | -
58 - | - | - | - | - | - | - | -
60 - | - | - | - | - | - | - | -
68 - | - | - | - | - | - | - | -
70 - | - | - | - | - | - | - | -
78 - | - | - | - | - | - | - | -
80 JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc
88 JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc | JCC Jz cc
90 SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc
98 SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc | SETCC Eb cc
A0 PUSH FS | POP FS | CPUID | BT Ev,Gv | SHLD Ev,Gv,Ib | SHLD Ev,Gv,CL | - | -
A8 PUSH GS | POP GS | - | BTS Ev,Gv lock | SHRD Ev,Gv,Ib | SHRD Ev,Gv,CL | - | IMUL Gv,Ev
B0 CMPXCHG Eb,Gb lock | CMPXCHG Ev,Gv lock | LSS Gv,Mp | BTR Ev,Gv lock | LFS Gv,Mp | LGS Gv,Mp | MOVZX Gv,Eb | MOVZX Gv,Ew
B8 - | - | @grp8 Ev,Ib | BTC Ev,Gv lock | BSF Gv,Ev | BSR Gv,Ev | MOVSX Gv,Eb | MOVSX Gv,Ew
C0 XADD Eb,Gb lock | XADD Ev,Gv lock | - | - | - | - | - | @grp9
C8 BSWAP Zv | BSWAP Zv | BSWAP Zv | BSWAP Zv | BSWAP Zv | BSWAP Zv | BSWAP Zv | BSWAP Zv
D0 - | - | - | - | - | - | - | -
D8 - | - | - | - | - | - | - | -
E0 - | - | - | - | - | - | - | -
E8 - | - | - | - | - | - | - | -
F0 - | - | - | - | - | - | - | -
F8 - | - | - | - | - | - | - | -
`;

// ---------------------------------------------------------------------------------------------------
// ModRM groups (SDM Table A-6). `mem:` lists ModRM.reg = 0..7 for mod != 3; `reg:` the same for mod = 3
// (omitted: same as mem); `reg64:` eight rows of eight, indexed by ModRM & 0x3F, for mod = 3.
const GROUP_ROWS: Record<string, { mem: string; reg?: string; reg64?: string }> = {
  grp1: { mem: 'ADD lock | OR lock | ADC lock | SBB lock | AND lock | SUB lock | XOR lock | CMP' },
  grp1a: { mem: 'POP | - | - | - | - | - | - | -' },
  grp2: { mem: 'ROL | ROR | RCL | RCR | SHL | SHR | SHL | SAR' }, // /6 is an undocumented SHL alias
  grp3b: { mem: 'TEST Eb,Ib | TEST Eb,Ib | NOT Eb lock | NEG Eb lock | MUL Eb | IMUL Eb | DIV Eb | IDIV Eb' }, // /1: TEST alias
  grp3v: { mem: 'TEST Ev,Iz | TEST Ev,Iz | NOT Ev lock | NEG Ev lock | MUL Ev | IMUL Ev | DIV Ev | IDIV Ev' },
  grp4: { mem: 'INC Eb lock | DEC Eb lock | - | - | - | - | - | -' },
  grp5: { mem: 'INC Ev lock | DEC Ev lock | CALL Ev | CALL Mp | JMP Ev | JMP Mp | PUSH Ev | -' },
  grp6: { mem: 'SLDT Mw/Rv | STR Mw/Rv | LLDT Ew | LTR Ew | VERR Ew | VERW Ew | - | -' },
  grp7: {
    mem: 'SGDT Ms | SIDT Ms | LGDT Ms | LIDT Ms | SMSW Mw/Rv | - | LMSW Ew | INVLPG M',
    reg64: `
      - | VMCALL | - | - | - | - | - | -
      - | - | - | - | - | - | - | -
      - | - | - | - | - | - | - | -
      - | - | - | - | - | - | - | -
      SMSW Mw/Rv | SMSW Mw/Rv | SMSW Mw/Rv | SMSW Mw/Rv | SMSW Mw/Rv | SMSW Mw/Rv | SMSW Mw/Rv | SMSW Mw/Rv
      - | - | - | - | - | - | - | -
      LMSW Ew | LMSW Ew | LMSW Ew | LMSW Ew | LMSW Ew | LMSW Ew | LMSW Ew | LMSW Ew
      - | - | - | - | - | - | - | -`,
  },
  grp8: { mem: '- | - | - | - | BT | BTS lock | BTR lock | BTC lock' },
  grp9: { mem: '- | CMPXCHG8B Mq lock | - | - | - | - | - | -' },
  grp11: { mem: 'MOV | - | - | - | - | - | - | -' },

  // x87 escapes (SDM Tables A-7..A-22): memory forms by ModRM.reg, register forms by ModRM & 0x3F.
  x87d8: {
    mem: 'FADD Md | FMUL Md | FCOM Md | FCOMP Md | FSUB Md | FSUBR Md | FDIV Md | FDIVR Md',
    reg: 'FADD ST,STi | FMUL ST,STi | FCOM STi | FCOMP STi | FSUB ST,STi | FSUBR ST,STi | FDIV ST,STi | FDIVR ST,STi',
  },
  x87d9: {
    mem: 'FLD Md | - | FST Md | FSTP Md | FLDENV Me | FLDCW Mw | FNSTENV Me | FNSTCW Mw',
    reg64: `
      FLD STi | FLD STi | FLD STi | FLD STi | FLD STi | FLD STi | FLD STi | FLD STi
      FXCH STi | FXCH STi | FXCH STi | FXCH STi | FXCH STi | FXCH STi | FXCH STi | FXCH STi
      FNOP | - | - | - | - | - | - | -
      - | - | - | - | - | - | - | -
      FCHS | FABS | - | - | FTST | FXAM | - | -
      FLD1 | FLDL2T | FLDL2E | FLDPI | FLDLG2 | FLDLN2 | FLDZ | -
      F2XM1 | FYL2X | FPTAN | FPATAN | FXTRACT | FPREM1 | FDECSTP | FINCSTP
      FPREM | FYL2XP1 | FSQRT | FSINCOS | FRNDINT | FSCALE | FSIN | FCOS`,
  },
  x87da: {
    mem: 'FIADD Md | FIMUL Md | FICOM Md | FICOMP Md | FISUB Md | FISUBR Md | FIDIV Md | FIDIVR Md',
    reg64: `
      FCMOVB ST,STi | FCMOVB ST,STi | FCMOVB ST,STi | FCMOVB ST,STi | FCMOVB ST,STi | FCMOVB ST,STi | FCMOVB ST,STi | FCMOVB ST,STi
      FCMOVE ST,STi | FCMOVE ST,STi | FCMOVE ST,STi | FCMOVE ST,STi | FCMOVE ST,STi | FCMOVE ST,STi | FCMOVE ST,STi | FCMOVE ST,STi
      FCMOVBE ST,STi | FCMOVBE ST,STi | FCMOVBE ST,STi | FCMOVBE ST,STi | FCMOVBE ST,STi | FCMOVBE ST,STi | FCMOVBE ST,STi | FCMOVBE ST,STi
      FCMOVU ST,STi | FCMOVU ST,STi | FCMOVU ST,STi | FCMOVU ST,STi | FCMOVU ST,STi | FCMOVU ST,STi | FCMOVU ST,STi | FCMOVU ST,STi
      - | - | - | - | - | - | - | -
      - | FUCOMPP | - | - | - | - | - | -
      - | - | - | - | - | - | - | -
      - | - | - | - | - | - | - | -`,
  },
  x87db: {
    mem: 'FILD Md | - | FIST Md | FISTP Md | - | FLD Mt | - | FSTP Mt',
    reg64: `
      FCMOVNB ST,STi | FCMOVNB ST,STi | FCMOVNB ST,STi | FCMOVNB ST,STi | FCMOVNB ST,STi | FCMOVNB ST,STi | FCMOVNB ST,STi | FCMOVNB ST,STi
      FCMOVNE ST,STi | FCMOVNE ST,STi | FCMOVNE ST,STi | FCMOVNE ST,STi | FCMOVNE ST,STi | FCMOVNE ST,STi | FCMOVNE ST,STi | FCMOVNE ST,STi
      FCMOVNBE ST,STi | FCMOVNBE ST,STi | FCMOVNBE ST,STi | FCMOVNBE ST,STi | FCMOVNBE ST,STi | FCMOVNBE ST,STi | FCMOVNBE ST,STi | FCMOVNBE ST,STi
      FCMOVNU ST,STi | FCMOVNU ST,STi | FCMOVNU ST,STi | FCMOVNU ST,STi | FCMOVNU ST,STi | FCMOVNU ST,STi | FCMOVNU ST,STi | FCMOVNU ST,STi
      FNENI | FNDISI | FNCLEX | FNINIT | FNSETPM | FRSTPM | - | -
      FUCOMI ST,STi | FUCOMI ST,STi | FUCOMI ST,STi | FUCOMI ST,STi | FUCOMI ST,STi | FUCOMI ST,STi | FUCOMI ST,STi | FUCOMI ST,STi
      FCOMI ST,STi | FCOMI ST,STi | FCOMI ST,STi | FCOMI ST,STi | FCOMI ST,STi | FCOMI ST,STi | FCOMI ST,STi | FCOMI ST,STi
      - | - | - | - | - | - | - | -`,
  },
  x87dc: {
    mem: 'FADD Mq | FMUL Mq | FCOM Mq | FCOMP Mq | FSUB Mq | FSUBR Mq | FDIV Mq | FDIVR Mq',
    reg: 'FADD STi,ST | FMUL STi,ST | - | - | FSUBR STi,ST | FSUB STi,ST | FDIVR STi,ST | FDIV STi,ST',
  },
  x87dd: {
    mem: 'FLD Mq | - | FST Mq | FSTP Mq | FRSTOR Mf | - | FNSAVE Mf | FNSTSW Mw',
    reg: 'FFREE STi | - | FST STi | FSTP STi | FUCOM STi | FUCOMP STi | - | -',
  },
  x87de: {
    mem: 'FIADD Mw | FIMUL Mw | FICOM Mw | FICOMP Mw | FISUB Mw | FISUBR Mw | FIDIV Mw | FIDIVR Mw',
    reg64: `
      FADDP STi,ST | FADDP STi,ST | FADDP STi,ST | FADDP STi,ST | FADDP STi,ST | FADDP STi,ST | FADDP STi,ST | FADDP STi,ST
      FMULP STi,ST | FMULP STi,ST | FMULP STi,ST | FMULP STi,ST | FMULP STi,ST | FMULP STi,ST | FMULP STi,ST | FMULP STi,ST
      - | - | - | - | - | - | - | -
      - | FCOMPP | - | - | - | - | - | -
      FSUBRP STi,ST | FSUBRP STi,ST | FSUBRP STi,ST | FSUBRP STi,ST | FSUBRP STi,ST | FSUBRP STi,ST | FSUBRP STi,ST | FSUBRP STi,ST
      FSUBP STi,ST | FSUBP STi,ST | FSUBP STi,ST | FSUBP STi,ST | FSUBP STi,ST | FSUBP STi,ST | FSUBP STi,ST | FSUBP STi,ST
      FDIVRP STi,ST | FDIVRP STi,ST | FDIVRP STi,ST | FDIVRP STi,ST | FDIVRP STi,ST | FDIVRP STi,ST | FDIVRP STi,ST | FDIVRP STi,ST
      FDIVP STi,ST | FDIVP STi,ST | FDIVP STi,ST | FDIVP STi,ST | FDIVP STi,ST | FDIVP STi,ST | FDIVP STi,ST | FDIVP STi,ST`,
  },
  x87df: {
    mem: 'FILD Mw | - | FIST Mw | FISTP Mw | FBLD Mt | FILD Mq | FBSTP Mt | FISTP Mq',
    reg64: `
      FFREEP STi | FFREEP STi | FFREEP STi | FFREEP STi | FFREEP STi | FFREEP STi | FFREEP STi | FFREEP STi
      - | - | - | - | - | - | - | -
      - | - | - | - | - | - | - | -
      - | - | - | - | - | - | - | -
      FNSTSW AX | - | - | - | - | - | - | -
      FUCOMIP ST,STi | FUCOMIP ST,STi | FUCOMIP ST,STi | FUCOMIP ST,STi | FUCOMIP ST,STi | FUCOMIP ST,STi | FUCOMIP ST,STi | FUCOMIP ST,STi
      FCOMIP ST,STi | FCOMIP ST,STi | FCOMIP ST,STi | FCOMIP ST,STi | FCOMIP ST,STi | FCOMIP ST,STi | FCOMIP ST,STi | FCOMIP ST,STi
      - | - | - | - | - | - | - | -`,
  },
};

// ---------------------------------------------------------------------------------------------------
// Compilation of the text rows into entries (once, at module load).

const MODRM_KINDS = new Set([K_E, K_G, K_M, K_MWRV, K_R, K_C, K_D, K_S, K_STI]);

function sizeBytes(size: number): number {
  return size === S_B ? 1 : size === S_W ? 2 : size === S_D ? 4 : size === S_NONE ? 0 : -1;
}

function makeEntry(op: string, codes: string[], flagWords: string[], group: OpcodeGroup | null): OpcodeEntry {
  const operands = codes.map(compileOperand);
  let flags = 0;
  for (const w of flagWords) {
    if (w === 'lock') flags |= F_LOCK;
    else if (w === 'b') flags |= F_BYTE;
    else if (w === 'cc') flags |= F_CC;
    else throw new Error(`opcode map: unknown flag '${w}' on ${op}`);
  }
  // Byte form: a byte-sized register or memory operand and no operand-sized one (MOVZX Gv,Eb is not).
  const nonImm = operands.filter((c) => ![K_I, K_IS, K_J, K_ONE].includes(operandKind(c)));
  if (nonImm.some((c) => sizeBytes(operandSize(c)) === 1) && !nonImm.some((c) => operandSize(c) === S_V)) flags |= F_BYTE;
  if (group !== null || operands.some((c) => MODRM_KINDS.has(operandKind(c)))) flags |= F_MODRM;
  if (operands.some((c) => operandKind(c) === K_M)) flags |= F_MEM_ONLY;
  if (operands.some((c) => operandKind(c) === K_R)) flags |= F_REG_ONLY;
  if (op === 'INVALID') flags |= F_INVALID;
  if (op === 'PREFIX') flags |= F_PREFIX;
  if (op === 'ESCAPE') flags |= F_ESCAPE;
  return { op, operandCodes: codes, operands, flags, group };
}

export const INVALID_ENTRY: OpcodeEntry = makeEntry('INVALID', [], [], null);

/** Parse `MNEMONIC operands flags` (or '-', 'prefix', '0F', '@group operands'). */
function parseEntry(text: string, inherited: string[] = []): OpcodeEntry {
  const words = text.trim().split(/\s+/);
  const head = words[0];
  if (head === '-') return INVALID_ENTRY;
  if (head === 'prefix') return makeEntry('PREFIX', [], [], null);
  if (head === '0F') return makeEntry('ESCAPE', [], [], null);
  let rest = words.slice(1);
  let codes: string[] = inherited;
  if (rest.length > 0 && !['lock', 'b', 'cc'].includes(rest[0])) { codes = rest[0].split(','); rest = rest.slice(1); }
  if (head[0] === '@') {
    if (GROUP_ROWS[head.slice(1)] === undefined) throw new Error(`opcode map: unknown group ${head}`);
    // The group's own entries carry the operands; the row's operands are inherited by entries without any.
    return makeEntry(head.slice(1), codes, rest, instantiateGroup(head.slice(1), codes));
  }
  return makeEntry(head, codes, rest, null);
}

function parseRows(text: string, inherited: string[] = []): OpcodeEntry[] {
  return text.trim().split('\n').flatMap((line) => line.trim().replace(/^[0-9A-F]{2} /, '').split('|').map((e) => parseEntry(e, inherited)));
}

/** A group's entries with the operands of the referencing opcode filled in (80 and 81 share grp1). */
function instantiateGroup(name: string, inherited: string[]): OpcodeGroup {
  const rows = GROUP_ROWS[name];
  const mem = parseRows(rows.mem, inherited);
  const reg = rows.reg64 !== undefined ? parseRows(rows.reg64, inherited) : rows.reg !== undefined ? parseRows(rows.reg, inherited) : mem;
  if (mem.length !== 8 || (reg.length !== 8 && reg.length !== 64)) throw new Error(`opcode map: group ${name} has ${mem.length}/${reg.length} entries`);
  return { name, mem, reg };
}

/** The groups as written (without inherited operands), for documentation and coverage tests. */
export const GROUPS: Record<string, OpcodeGroup> = Object.fromEntries(Object.keys(GROUP_ROWS).map((n) => [n, instantiateGroup(n, [])]));

function buildMap(text: string): readonly OpcodeEntry[] {
  const map = parseRows(text);
  if (map.length !== 256) throw new Error(`opcode map has ${map.length} entries`);
  return map;
}

/** One-byte opcode map, indexed by the opcode byte. */
export const ONE_BYTE_MAP: readonly OpcodeEntry[] = buildMap(ONE_BYTE_ROWS);
/** Two-byte opcode map, indexed by the byte after 0F. */
export const TWO_BYTE_MAP: readonly OpcodeEntry[] = buildMap(TWO_BYTE_ROWS);

