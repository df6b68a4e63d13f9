// Re-encoding a 32-bit oracle snippet as 64-bit code that computes the same thing, for the long-mode
// harness (harness-long64.S) on machines that run no 32-bit code. The rules, per instruction:
//   - operand size stays 32 by default (no REX anywhere, so AH/CH/DH/BH keep their meaning), 66h for 16;
//   - every memory operand, explicit or implicit (strings, XLAT, moffs, LOOP/JECXZ's count), gets 67h:
//     32-bit address computation that wraps at 4 GiB, as in 32-bit mode;
//   - ModRM mod=00 rm=101 ([disp32], RIP-relative in 64-bit mode) becomes SIB with no base and no index;
//   - one-byte INC/DEC (40h-4Fh: REX prefixes in 64-bit mode) become FF /0, FF /1; 82h (an alias of 80h,
//     invalid in 64-bit mode) becomes 80h;
//   - relative branches get their displacement recomputed for the new lengths.
// What cannot be expressed returns a reason instead (the case then goes to the 32-bit path): 16-bit code or
// addressing, the stack (PUSH/POP/CALL/RET/ENTER/LEAVE/PUSHF/POPF/INT), BCD, BOUND, INTO, far transfers,
// segment loads, FS/GS overrides (null selectors in 32-bit mode), CS overrides on memory operands (a CS
// write faults only in 32-bit mode), LAHF/SAHF where the CPU lacks them in 64-bit mode, self-modifying
// code (it patches 32-bit bytes), branches with a 16-bit operand size, and opcodes outside the list below.
import { decodeBytes } from '../../src/decoder/decode.ts';
import type { Instruction } from '../../src/decoder/instruction.ts';
import { MAX_CODE, type OracleCase } from './layout.ts';

/** A snippet re-encoded for 64-bit mode, with its instruction boundaries in both encodings. */
export interface Long64Code {
  code: Uint8Array;
  /** Offsets of each instruction start and of the end, in the 32-bit snippet and the 64-bit one. */
  boundaries32: number[];
  boundaries64: number[];
}

export interface Long64Options {
  /** LAHF/SAHF run in 64-bit mode (CPUID 8000_0001h ECX bit 0, /proc/cpuinfo's lahf_lm). */
  lahfSahf: boolean;
}

const SEGMENT_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65]);
const PREFIXES = new Set([0x66, 0x67, 0xf0, 0xf2, 0xf3, ...SEGMENT_PREFIXES]);

/** One-byte opcodes whose 64-bit meaning equals the 32-bit one (given the rules above). */
const ONE_BYTE = new Set<number>([
  ...[0x00, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38].flatMap((b) => [b, b + 1, b + 2, b + 3, b + 4, b + 5]),
  0x69, 0x6b, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8d,
  0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
  0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
  0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
  0xc0, 0xc1, 0xc6, 0xc7, 0xcc, 0xd0, 0xd1, 0xd2, 0xd3, 0xd7, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfc, 0xfd, 0xfe, 0xff,
]);
/** Two-byte opcodes (0F xx) likewise. */
const TWO_BYTE = new Set<number>([
  0x0b, 0xa3, 0xa4, 0xa5, 0xab, 0xac, 0xad, 0xaf, 0xb0, 0xb1, 0xb3, 0xb6, 0xb7, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
  0xc0, 0xc1, 0xc7, ...range(0x40, 16), ...range(0x80, 16), ...range(0x90, 16), ...range(0xc8, 8),
]);
/** Opcodes that address memory without a ModRM operand: moffs MOV, strings, XLAT. */
const IMPLICIT_MEMORY = new Set([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xd7]);
/** Group opcodes and the ModRM.reg values that keep their meaning (FE/FF: INC, DEC, and the #UD ones). */
const GROUP_REGS: Record<number, number[]> = { 0xc6: [0], 0xc7: [0], 0xfe: [0, 1, 2, 3, 4, 5, 6, 7], 0xff: [0, 1, 7] };

function range(from: number, n: number): number[] { return Array.from({ length: n }, (_, i) => from + i); }

/** One re-encoded instruction before branch displacements are known. */
interface Piece {
  bytes: number[];
  /** For a relative branch: the 32-bit target offset, and the width of the displacement at the end of bytes. */
  target?: number;
  dispSize?: 1 | 4;
}

/** The 64-bit form of a case's snippet, or why it has none. */
export function reencodeLong64(c: OracleCase, opts: Long64Options): Long64Code | string {
  if (c.code16) return '16-bit code';
  if (c.mnemonic === 'SMC') return 'self-modifying code';
  const code = c.code;
  const pieces: Piece[] = [];
  const boundaries32: number[] = [];
  let off = 0;
  while (off < code.length) {
    boundaries32.push(off);
    let ins: Instruction;
    try { ins = decodeBytes(code, off, 32); } catch { return 'an instruction runs past the snippet'; }
    const piece = reencodeInstruction(code.subarray(off, off + ins.length), ins, off, opts);
    if (typeof piece === 'string') return piece;
    pieces.push(piece);
    // An invalid instruction ends the run (#UD or #GP at its first byte): what follows is never decoded.
    if (ins.op === 'INVALID') {
      off += ins.length;
      if (off < code.length) pieces.push({ bytes: [...code.subarray(off)] });
      off = code.length;
      break;
    }
    off += ins.length;
  }
  boundaries32.push(off);
  const boundaries64: number[] = [];
  let at = 0;
  for (const p of pieces.slice(0, boundaries32.length - 1)) { boundaries64.push(at); at += p.bytes.length; }
  for (const p of pieces.slice(boundaries32.length - 1)) at += p.bytes.length;
  boundaries64.push(at);
  if (at > MAX_CODE) return `longer than ${MAX_CODE} bytes in 64-bit form`;
  const out: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i];
    if (p.target !== undefined) {
      const k = boundaries32.indexOf(p.target);
      if (k < 0) return 'a branch into the middle of an instruction or out of the snippet';
      const disp = boundaries64[k] - (boundaries64[i] + p.bytes.length);
      if (p.dispSize === 1 && (disp < -128 || disp > 127)) return 'a short branch out of reach in 64-bit form';
      const n = p.dispSize!;
      for (let j = 0; j < n; j++) p.bytes[p.bytes.length - n + j] = (disp >> (8 * j)) & 0xff;
    }
    out.push(...p.bytes);
  }
  return { code: Uint8Array.from(out), boundaries32, boundaries64 };
}

function reencodeInstruction(raw: Uint8Array, ins: Instruction, at: number, opts: Long64Options): Piece | string {
  let p = 0;
  const prefixes: number[] = [];
  while (p < raw.length && PREFIXES.has(raw[p])) prefixes.push(raw[p++]);
  if (p >= raw.length) return 'prefixes only';
  const has = (b: number) => prefixes.includes(b);
  let op = raw[p++];
  const twoByte = op === 0x0f;
  if (twoByte) op = raw[p++];
  const rest = [...raw.subarray(p)];
  const segmentPrefixes = prefixes.filter((b) => SEGMENT_PREFIXES.has(b));
  if (has(0x64) || has(0x65)) return 'an FS or GS override';

  // Branches: rel8/rel32 with the displacement redone once the new layout is known.
  const branch = twoByte ? (op >= 0x80 && op <= 0x8f ? 4 : 0) : (op >= 0x70 && op <= 0x7f) || op === 0xeb || (op >= 0xe0 && op <= 0xe3) ? 1 : op === 0xe9 ? 4 : 0;
  if (branch) {
    if (has(0x66)) return 'a branch with a 16-bit operand size';
    if (has(0x67)) return 'LOOP/JCXZ counting CX';
    const disp = branch === 1 ? (raw[raw.length - 1] << 24) >> 24 : new DataView(raw.buffer, raw.byteOffset + raw.length - 4, 4).getInt32(0, true);
    // LOOPcc and JECXZ count ECX only with 32-bit addressing in 64-bit mode.
    const counted = !twoByte && op >= 0xe0 && op <= 0xe3 ? [0x67] : [];
    const opcode = twoByte ? [0x0f, op] : [op];
    return { bytes: [...prefixes, ...counted, ...opcode, ...new Array<number>(branch).fill(0)], target: at + raw.length + disp, dispSize: branch as 1 | 4 };
  }

  if (ins.op === 'INVALID' && !ins.overlong && !(ins.prefixes & 1 /* LOCK */) && !(GROUP_REGS[op] && !twoByte) && !(twoByte && op === 0xc7) && !(op === 0x8d && !twoByte))
    return 'an invalid instruction with no known 64-bit counterpart';
  if (!twoByte && op >= 0x40 && op <= 0x4f) {
    // INC/DEC r16/r32 → FF /0, FF /1 with a register operand.
    return { bytes: [...prefixes, 0xff, 0xc0 | (op & 8) | (op & 7)] };
  }
  if (!twoByte && (op === 0x9e || op === 0x9f)) {
    if (!opts.lahfSahf) return 'LAHF/SAHF, which this CPU lacks in 64-bit mode';
    return { bytes: [...prefixes, op, ...rest] };
  }
  if (twoByte ? !TWO_BYTE.has(op) : !ONE_BYTE.has(op) && op !== 0x82) return `opcode ${twoByte ? '0f ' : ''}${op.toString(16).padStart(2, '0')}: kept for the 32-bit path`;
  const opcode = twoByte ? [0x0f, op] : [op === 0x82 ? 0x80 : op];

  const implicit = !twoByte && IMPLICIT_MEMORY.has(op);
  const hasModrm = ins.modrm >= 0 && !implicit && !(twoByte && op >= 0xc8);
  const modrm = hasModrm ? rest[0] : -1;
  const memory = implicit || (hasModrm && modrm >> 6 !== 3);
  if (hasModrm && !twoByte && GROUP_REGS[op] && !GROUP_REGS[op].includes((modrm >> 3) & 7)) return `${op.toString(16)} /${(modrm >> 3) & 7}`;
  if (memory && has(0x67)) return '16-bit addressing';
  if (memory && segmentPrefixes.includes(0x2e)) return 'a CS override on a memory operand';
  if (!memory) return { bytes: [...prefixes, ...opcode, ...rest] };
  // 67h goes after the prefixes already there (order among legacy prefixes does not matter; no REX follows).
  const outPrefixes = [...prefixes, 0x67];
  if (implicit) return fitting({ bytes: [...outPrefixes, ...opcode, ...rest] });
  const mod = modrm >> 6, rm = modrm & 7;
  if (mod === 0 && rm === 5) {
    // [disp32] → ModRM rm=100 (SIB follows), SIB base=101 index=100: [disp32] with no base and no index.
    return fitting({ bytes: [...outPrefixes, ...opcode, (modrm & 0xf8) | 4, 0x25, ...rest.slice(1)] });
  }
  return fitting({ bytes: [...outPrefixes, ...opcode, ...rest] });
}

/** The architectural 15-byte limit: a prefix added must not push an instruction over it. */
function fitting(p: Piece): Piece | string { return p.bytes.length > 15 ? 'over 15 bytes in 64-bit form' : p; }

/** The 32-bit offset of a 64-bit one, where the harness stopped (an instruction boundary), or -1. */
export function offset32(code: Long64Code, offset64: number): number {
  const k = code.boundaries64.indexOf(offset64);
  return k < 0 ? -1 : code.boundaries32[k];
}
