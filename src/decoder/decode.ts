// The instruction decoder: prefixes, opcode (one- or two-byte map), ModRM/SIB/displacement, immediates,
// driven by the opcode maps in opcodes.ts. Decoding runs once per instruction (the code cache keeps the
// result), so it allocates the Instruction freely but does no string work and no per-call closures: the
// byte source and the ModRM fields live in module state for the duration of one call.
import {
  CS, DS, type Instruction, type MemOperand, type Operand, PREFIX_ADSIZE, PREFIX_LOCK, PREFIX_OPSIZE, PREFIX_REP,
  PREFIX_REPNE, PREFIX_SEG, type RegOperand, SS,
} from './instruction.ts';
import {
  F_BYTE, F_CC, F_ESCAPE, F_INVALID, F_LOCK, F_MEM_ONLY, F_MODRM, F_REG_ONLY, K_A, K_C, K_D, K_E, K_FIX, K_G, K_I, K_IS,
  K_J, K_M, K_MWRV, K_O, K_ONE, K_R, K_S, K_SEG, K_ST0, K_STI, K_Z, ONE_BYTE_MAP, type OpcodeEntry, S_B, TWO_BYTE_MAP,
} from './opcodes.ts';

/** The architectural limit: a longer instruction (prefixes included) does not execute. */
export const MAX_INSTRUCTION_LENGTH = 15;

/** decodeBytes ran out of bytes before the instruction ended. */
export class DecodeError extends Error {
  constructor(message: string) { super(message); this.name = 'DecodeError'; }
}

// Prefix bytes: what each one is (0 = not a prefix).
const P_NONE = 0, P_OPSIZE = 1, P_ADSIZE = 2, P_SEG = 3, P_LOCK = 4, P_REP = 5, P_REPNE = 6;
const PREFIX_KIND = new Uint8Array(256);
const PREFIX_SEG_REG = new Int8Array(256).fill(-1);
PREFIX_KIND[0x66] = P_OPSIZE; PREFIX_KIND[0x67] = P_ADSIZE;
PREFIX_KIND[0xf0] = P_LOCK; PREFIX_KIND[0xf3] = P_REP; PREFIX_KIND[0xf2] = P_REPNE;
[0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65].forEach((b, seg) => { PREFIX_KIND[b] = P_SEG; PREFIX_SEG_REG[b] = seg; });

// 16-bit addressing (SDM Table 2-1): base and index register per ModRM.rm, and whether BP makes it SS-relative.
const RM16_BASE = [3, 3, 5, 5, 6, 7, 5, 3];   // BX BX BP BP SI DI BP BX
const RM16_INDEX = [6, 7, 6, 7, -1, -1, -1, -1]; // SI DI SI DI
const RM16_SS = [false, false, true, true, false, false, true, false];

// Shared immutable register operands (plain values; nothing mutates an operand after decoding).
const REG: readonly (readonly RegOperand[])[] = [[], reg(1), reg(2), [], reg(4)];
function reg(size: 1 | 2 | 4): RegOperand[] { return Array.from({ length: 8 }, (_, r) => Object.freeze({ kind: 'reg', size, reg: r }) as RegOperand); }
const SREG: readonly Operand[] = Array.from({ length: 8 }, (_, r) => Object.freeze({ kind: 'sreg' as const, reg: r }));
const CREG: readonly Operand[] = Array.from({ length: 8 }, (_, r) => Object.freeze({ kind: 'creg' as const, reg: r }));
const DREG: readonly Operand[] = Array.from({ length: 8 }, (_, r) => Object.freeze({ kind: 'dreg' as const, reg: r }));
const ST: readonly Operand[] = Array.from({ length: 8 }, (_, r) => Object.freeze({ kind: 'st' as const, reg: r }));
const NO_OPERANDS: Operand[] = Object.freeze([]) as unknown as Operand[];

// ---- Decoder state for one call ----
let fetchFn: ((offset: number) => number) | null = null;
let buf: Uint8Array | null = null;
let bufOff = 0;
let pos = 0;
let opsize: 16 | 32 = 32, adsize: 16 | 32 = 32, segOverride = -1;
let mod = 0, regField = 0, rm = 0;
// The memory operand of the ModRM byte (valid when mod != 3).
let memBase = -1, memIndex = -1, memScale: 1 | 2 | 4 | 8 = 1, memDisp = 0, memSeg = DS;
/** Set when an operand is encodable but not allowed (segment register 6/7). */
let badOperand = false;

/** Thrown (internally) when the instruction would exceed 15 bytes. */
const TOO_LONG = { tooLong: true };

function next(): number {
  if (pos >= MAX_INSTRUCTION_LENGTH) throw TOO_LONG;
  const i = pos++;
  if (buf !== null) {
    const j = bufOff + i;
    if (j >= buf.length) throw new DecodeError(`instruction at offset ${bufOff} runs past the end of the ${buf.length}-byte buffer`);
    return buf[j];
  }
  return fetchFn!(i);
}
function next16(): number { const lo = next(); return lo | (next() << 8); }
function next32(): number { const lo = next16(); return (lo | (next16() << 16)) >>> 0; }

/** Read SIB and displacement after a ModRM byte with mod != 3 (SDM Tables 2-1 to 2-3). */
function decodeMemory(): void {
  memIndex = -1; memScale = 1; memDisp = 0;
  let stackBased: boolean;
  if (adsize === 16) {
    if (mod === 0 && rm === 6) { memBase = -1; memDisp = (next16() << 16) >> 16; stackBased = false; }
    else {
      memBase = RM16_BASE[rm]; memIndex = RM16_INDEX[rm]; stackBased = RM16_SS[rm];
      if (mod === 1) memDisp = (next() << 24) >> 24;
      else if (mod === 2) memDisp = (next16() << 16) >> 16;
    }
  } else {
    memBase = rm;
    if (rm === 4) {
      const sib = next();
      // The scale is kept even without an index (formatters show it; it has no effect).
      memScale = (1 << (sib >> 6)) as 1 | 2 | 4 | 8;
      const index = (sib >> 3) & 7;
      memIndex = index === 4 ? -1 : index;
      memBase = sib & 7;
      if (memBase === 5 && mod === 0) { memBase = -1; memDisp = next32() | 0; }
    } else if (rm === 5 && mod === 0) { memBase = -1; memDisp = next32() | 0; }
    if (mod === 1) memDisp = (next() << 24) >> 24;
    else if (mod === 2) memDisp = next32() | 0;
    stackBased = memBase === 4 || memBase === 5;
  }
  memSeg = segOverride >= 0 ? segOverride : stackBased ? SS : DS;
}

function memOperand(size: number): MemOperand {
  return { kind: 'mem', size, seg: memSeg, base: memBase, index: memIndex, scale: memScale, disp: memDisp };
}

/** Bytes of a memory operand per size class (opcodes.ts S_*), at operand size 16 and 32. */
const MEM_SIZE_16: readonly number[] = [0, 1, 2, 4, 2, 2, 4, 4, 8, 6, 10, 14, 94];
const MEM_SIZE_32: readonly number[] = [0, 1, 2, 4, 4, 4, 6, 8, 8, 6, 10, 28, 108];
/** Register/immediate width per size class: b, w, d, or the operand size (v, z). */
const WIDTH_16: readonly (1 | 2 | 4)[] = [2, 1, 2, 4, 2, 2, 2, 2, 2, 2, 2, 2, 2];
const WIDTH_32: readonly (1 | 2 | 4)[] = [4, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4];
const memSize = (sizeClass: number): number => (opsize === 16 ? MEM_SIZE_16 : MEM_SIZE_32)[sizeClass];
const width = (sizeClass: number): 1 | 2 | 4 => (opsize === 16 ? WIDTH_16 : WIDTH_32)[sizeClass];

function decodeOperand(code: number, opcode: number): Operand {
  const sizeClass = (code >> 5) & 15;
  switch (code & 31) {
    case K_E: return mod === 3 ? REG[width(sizeClass)][rm] : memOperand(memSize(sizeClass));
    case K_M: return mod === 3 ? REG[opsize >> 3][rm] : memOperand(memSize(sizeClass));
    case K_G: return REG[width(sizeClass)][regField];
    case K_MWRV: return mod === 3 ? REG[opsize >> 3][rm] : memOperand(2);
    case K_R: return REG[4][rm];
    case K_C: return CREG[regField];
    case K_D: return DREG[regField];
    case K_S: if (regField > 5) badOperand = true; return SREG[regField];
    case K_I: {
      const w = width(sizeClass);
      return { kind: 'imm', size: w, value: w === 1 ? next() : w === 2 ? next16() : next32() };
    }
    case K_IS: {
      const w = (opsize >> 3) as 2 | 4, v = (next() << 24) >> 24;
      return { kind: 'imm', size: w, value: w === 2 ? v & 0xffff : v >>> 0 };
    }
    case K_J: {
      const disp = sizeClass === S_B ? (next() << 24) >> 24 : opsize === 16 ? (next16() << 16) >> 16 : next32() | 0;
      return { kind: 'rel', disp };
    }
    case K_A: {
      const offset = opsize === 16 ? next16() : next32();
      return { kind: 'far', selector: next16(), offset };
    }
    case K_O: {
      const disp = adsize === 16 ? (next16() << 16) >> 16 : next32() | 0;
      return { kind: 'mem', size: width(sizeClass), seg: segOverride >= 0 ? segOverride : DS, base: -1, index: -1, scale: 1, disp };
    }
    case K_Z: return REG[width(sizeClass)][opcode & 7];
    case K_FIX: return REG[width(sizeClass)][code >> 9];
    case K_SEG: return SREG[code >> 9];
    case K_ONE: return ONE;
    case K_ST0: return ST[0];
    case K_STI: return ST[rm];
    default: throw new Error(`decoder: operand code ${code} has no decoder`);
  }
}
const ONE: Operand = Object.freeze({ kind: 'imm', size: 1, value: 1 });

function decodeInstruction(bits: 16 | 32): Instruction {
  pos = 0;
  opsize = bits; adsize = bits; segOverride = -1; badOperand = false;
  let prefixes = 0, opcode = -1, modrm = -1;
  let entry: OpcodeEntry | null = null;
  try {
    let b = next();
    // Prefixes, in any order and number (the last segment override and the last of F2/F3 win).
    for (let kind = PREFIX_KIND[b]; kind !== P_NONE; kind = PREFIX_KIND[b = next()]) {
      if (kind === P_OPSIZE) { prefixes |= PREFIX_OPSIZE; opsize = bits === 32 ? 16 : 32; }
      else if (kind === P_ADSIZE) { prefixes |= PREFIX_ADSIZE; adsize = bits === 32 ? 16 : 32; }
      else if (kind === P_SEG) { prefixes |= PREFIX_SEG; segOverride = PREFIX_SEG_REG[b]; }
      else if (kind === P_LOCK) prefixes |= PREFIX_LOCK;
      else if (kind === P_REP) prefixes = (prefixes & ~PREFIX_REPNE) | PREFIX_REP;
      else prefixes = (prefixes & ~PREFIX_REP) | PREFIX_REPNE;
    }
    opcode = b;
    entry = ONE_BYTE_MAP[b];
    if (entry.flags & F_ESCAPE) { b = next(); opcode = 0x0f00 | b; entry = TWO_BYTE_MAP[b]; }
    if (entry.flags & F_MODRM) {
      modrm = next();
      mod = modrm >> 6; regField = (modrm >> 3) & 7; rm = modrm & 7;
      const group = entry.group;
      if (group !== null) entry = mod === 3 ? group.reg[group.reg.length === 64 ? modrm & 63 : regField] : group.mem[regField];
      if (mod !== 3 && !(entry.flags & F_REG_ONLY)) decodeMemory();
    }
    const flags = entry.flags;
    if (flags & F_INVALID) return invalid(prefixes, opcode, modrm);
    const codes = entry.operands;
    let operands = NO_OPERANDS;
    if (codes.length > 0) {
      operands = new Array<Operand>(codes.length);
      for (let i = 0; i < codes.length; i++) operands[i] = decodeOperand(codes[i], opcode);
    }
    if (badOperand ||
      ((flags & F_MEM_ONLY) && mod === 3) ||
      ((prefixes & PREFIX_LOCK) && (!(flags & F_LOCK) || mod === 3)) ||
      (opcode === 0x8e && regField === CS)) return invalid(prefixes, opcode, modrm);
    return {
      op: entry.op, cond: flags & F_CC ? opcode & 15 : -1, length: pos, opsize, adsize,
      size: flags & F_BYTE ? 1 : (opsize >> 3) as 2 | 4, prefixes, segOverride, operands, opcode, modrm,
    };
  } catch (e) {
    if (e !== TOO_LONG) throw e;
    return { ...invalid(prefixes, opcode, modrm), overlong: true };
  }
}

function invalid(prefixes: number, opcode: number, modrm: number): Instruction {
  return {
    op: 'INVALID', cond: -1, length: pos, opsize, adsize, size: (opsize >> 3) as 2 | 4, prefixes, segOverride,
    operands: NO_OPERANDS, opcode, modrm,
  };
}

/**
 * Decode one instruction. fetch(i) returns byte i (0..255) of the instruction; it may throw (a fetch fault),
 * and the error propagates. Never reads more than 15 bytes: a longer instruction decodes as INVALID, length 15.
 */
export function decode(fetch: (offset: number) => number, bits: 16 | 32): Instruction {
  fetchFn = fetch; buf = null;
  try { return decodeInstruction(bits); } finally { fetchFn = null; }
}

/** Decode the instruction at bytes[offset]; throws DecodeError if it runs past the end of the array. */
export function decodeBytes(bytes: Uint8Array, offset: number, bits: 16 | 32): Instruction {
  buf = bytes; bufOff = offset; fetchFn = null;
  try { return decodeInstruction(bits); } finally { buf = null; }
}
