// Seeded generator of host-oracle cases covering the non-system i386/i486 integer instructions (plus
// CMOVcc and CMPXCHG8B), every encoding form, 8/16/32-bit operand sizes, register and memory operands.
// Each family encodes its own machine code (no assembler), picks operand values mixed with edge values,
// and records the flags the SDM leaves undefined (undefined-flags.ts). Same seed, same cases.
import { Builder, CASE_BYTES, Rng, widthMask, type RmOperand } from './builder.ts';
import {
  CODE_ADDR, DATA_ADDR, DF, EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP, LOW_ADDR, MAX_CODE, type OracleCase, OF, STACK_ADDR, WINDOW,
} from './layout.ts';

export const DEFAULT_SEED = 0x1986_0486;

interface Generated { mnemonic: string; form: string }
type Gen = (b: Builder) => Generated;

const ALU = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'] as const;
const ALU_DEFINED = [0, 2, 3, 5, 7]; // ADD ADC SBB SUB CMP: no undefined flags (sequences need those)
const SHIFTS: Record<number, string> = { 0: 'ROL', 1: 'ROR', 2: 'RCL', 3: 'RCR', 4: 'SHL', 5: 'SHR', 7: 'SAR' };
const CC = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'LE', 'G'];
const W_ALL = [8, 16, 32], W_WIDE = [16, 32];

const rmName = (w: number) => `r/m${w}`;
const accName = (w: number) => (w === 8 ? 'AL' : w === 16 ? 'AX' : 'EAX');
const d32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** Give the operand a fresh edge-rich value of its width (register values are 32-bit random otherwise). */
function fill(b: Builder, rm: RmOperand, w: number): void { b.store(rm, w, b.value(w)); }

/** Sometimes a LOCK prefix on a memory destination (callers pass only forms the SDM lets LOCK). */
function maybeLock(b: Builder, rm: RmOperand, p = 0.2): string {
  if (rm.kind === 'mem' && b.rng.chance(p)) { b.pfx(0xf0); return 'LOCK '; }
  return '';
}

// ---------------------------------------------------------------- arithmetic and logic

const alu: Gen = (b) => {
  const rng = b.rng;
  const k = b.definedOnly ? rng.pick(ALU_DEFINED) : rng.int(8);
  const name = ALU[k];
  const enc = rng.int(6);
  let w = rng.pick(W_ALL);
  if (enc === 4) w = rng.pick(W_WIDE);
  if (enc === 5) w = 8;
  b.osize(w);
  let form: string;
  if (enc === 0 || enc === 1) {
    const rm = b.rm(w, { writes: enc === 0 && k !== 7 }), r = b.reg(w);
    const lock = enc === 0 && k !== 7 ? maybeLock(b, rm) : '';
    b.emit(k * 8 + (enc === 0 ? 0 : 2) + (w === 8 ? 0 : 1));
    b.modrm(r, rm);
    fill(b, rm, w); b.setReg(r, w, b.value(w));
    b.ignoredPrefix(w, rm);
    form = enc === 0 ? `${lock}${name} ${rmName(w)}, r${w}` : `${name} r${w}, ${rmName(w)}`;
  } else if (enc === 2) {
    b.emit(k * 8 + (w === 8 ? 4 : 5));
    b.imm(w, b.value(w));
    b.setReg(EAX, w, b.value(w));
    b.ignoredPrefix(w);
    form = `${name} ${accName(w)}, imm${w}`;
  } else {
    const rm = b.rm(w, { writes: k !== 7 });
    const lock = k !== 7 ? maybeLock(b, rm) : '';
    const op = enc === 5 ? 0x82 : enc === 4 ? 0x83 : w === 8 ? 0x80 : 0x81;
    b.emit(op); b.modrm(k, rm);
    const iw = op === 0x81 ? w : 8;
    b.imm(iw, b.value(iw));
    fill(b, rm, w);
    b.ignoredPrefix(w, rm);
    form = `${lock}${name} ${rmName(w)}, imm${iw} (${op.toString(16)} /${k})`;
  }
  b.undef(name);
  return { mnemonic: name, form };
};

const test: Gen = (b) => {
  const rng = b.rng, w = rng.pick(W_ALL), enc = rng.int(3);
  b.osize(w);
  let form: string;
  if (enc === 0) {
    const rm = b.rm(w), r = b.reg(w);
    b.emit(w === 8 ? 0x84 : 0x85); b.modrm(r, rm);
    fill(b, rm, w); b.setReg(r, w, b.value(w));
    form = `TEST ${rmName(w)}, r${w}`;
  } else if (enc === 1) {
    b.emit(w === 8 ? 0xa8 : 0xa9); b.imm(w, b.value(w)); b.setReg(EAX, w, b.value(w));
    form = `TEST ${accName(w)}, imm${w}`;
  } else {
    const rm = b.rm(w);
    b.emit(w === 8 ? 0xf6 : 0xf7); b.modrm(0, rm); b.imm(w, b.value(w)); fill(b, rm, w);
    form = `TEST ${rmName(w)}, imm${w}`;
  }
  b.undef('TEST');
  return { mnemonic: 'TEST', form };
};

const incDec: Gen = (b) => {
  const rng = b.rng, dec = rng.int(2), name = dec ? 'DEC' : 'INC';
  if (rng.chance(0.3)) {
    const w = rng.pick(W_WIDE), r = b.reg(w);
    b.osize(w); b.emit((dec ? 0x48 : 0x40) + r); b.setReg(r, w, b.value(w));
    return { mnemonic: name, form: `${name} r${w} (${dec ? '48' : '40'}+r)` };
  }
  const w = rng.pick(W_ALL);
  b.osize(w);
  const rm = b.rm(w, { writes: true });
  const lock = maybeLock(b, rm);
  b.emit(w === 8 ? 0xfe : 0xff); b.modrm(dec, rm); fill(b, rm, w);
  return { mnemonic: name, form: `${lock}${name} ${rmName(w)}` };
};

const negNot: Gen = (b) => {
  const rng = b.rng, neg = rng.int(2), name = neg ? 'NEG' : 'NOT', w = rng.pick(W_ALL);
  b.osize(w);
  const rm = b.rm(w, { writes: true });
  const lock = maybeLock(b, rm);
  b.emit(w === 8 ? 0xf6 : 0xf7); b.modrm(neg ? 3 : 2, rm);
  b.store(rm, w, rng.chance(0.15) ? 0 : b.value(w));
  b.ignoredPrefix(w, rm);
  return { mnemonic: name, form: `${lock}${name} ${rmName(w)}` };
};

// ---------------------------------------------------------------- multiply and divide

/** Put the double-width dividend in AX, DX:AX or EDX:EAX. */
function setDividend(b: Builder, w: number, n: bigint): void {
  const m = (1n << BigInt(2 * w)) - 1n;
  n &= m;
  if (w === 8) b.setReg(EAX, 16, Number(n));
  else { b.setReg(EAX, w, Number(n & ((1n << BigInt(w)) - 1n))); b.setReg(EDX, w, Number(n >> BigInt(w))); }
}

const mulDiv: Gen = (b) => {
  const rng = b.rng, k = rng.range(4, 7), name = ['MUL', 'IMUL', 'DIV', 'IDIV'][k - 4], w = rng.pick(W_ALL);
  b.osize(w);
  const rm = b.rm(w, { avoid: [EAX, EDX] });
  b.emit(w === 8 ? 0xf6 : 0xf7); b.modrm(k, rm);
  if (k < 6) {
    b.setReg(EAX, w, b.value(w)); fill(b, rm, w);
  } else {
    const W = BigInt(w), signed = k === 7;
    const r = rng.int(10);
    let divisor: bigint;
    if (r < 6) {
      // A division that does not overflow: dividend = quotient * divisor + remainder.
      const half = 1n << (W - 1n);
      const big = (): bigint => BigInt(b.value(w));
      const sx = (v: bigint) => (v >= half ? v - (half << 1n) : v);
      divisor = signed ? sx(big()) : big();
      if (divisor === 0n) divisor = 1n;
      let q = signed ? sx(big()) : big();
      if (rng.chance(0.3)) q = BigInt(rng.int(16));
      const ad = divisor < 0n ? -divisor : divisor;
      let rem = BigInt(rng.int(Number(ad > 1000n ? 1000n : ad))) % ad;
      if (rng.chance(0.5) && ad > 1n) rem = ad - 1n;
      const prod = q * divisor;
      if (signed && (prod < 0n || (prod === 0n && rng.chance(0.5)))) rem = -rem;
      setDividend(b, w, prod + rem);
    } else if (r < 8) {
      divisor = 0n;
      setDividend(b, w, BigInt(b.value(w)) | (BigInt(b.value(w)) << W));
    } else {
      divisor = BigInt(b.value(w));
      setDividend(b, w, BigInt(b.value(w)) | (BigInt(b.value(w)) << W));
    }
    b.store(rm, w, Number(divisor & BigInt(widthMask(w))));
  }
  b.undef(name);
  b.ignoredPrefix(w, rm);
  return { mnemonic: name, form: `${name} ${rmName(w)}` };
};

const imulMulti: Gen = (b) => {
  const rng = b.rng, w = rng.pick(W_WIDE), enc = rng.int(3);
  b.osize(w);
  const rm = b.rm(w), r = b.reg(w);
  let form: string;
  if (enc === 0) { b.emit(0x0f, 0xaf); b.modrm(r, rm); form = `IMUL r${w}, ${rmName(w)}`; }
  else if (enc === 1) { b.emit(0x6b); b.modrm(r, rm); b.imm(8, b.value(8)); form = `IMUL r${w}, ${rmName(w)}, imm8`; }
  else { b.emit(0x69); b.modrm(r, rm); b.imm(w, b.value(w)); form = `IMUL r${w}, ${rmName(w)}, imm${w}`; }
  fill(b, rm, w); b.setReg(r, w, b.value(w));
  b.undef('IMUL');
  return { mnemonic: 'IMUL', form };
};

// ---------------------------------------------------------------- shifts and rotates

function shiftCount(b: Builder, w: number): number {
  const rng = b.rng;
  return rng.pick([0, 1, 1, w - 1, w, w + 1, 31, 32, 33, rng.int(256), rng.int(32), rng.int(w + 2), rng.int(w + 2)]) & 0xff;
}

const shift: Gen = (b) => {
  const rng = b.rng;
  const k = rng.pick([0, 1, 2, 3, 4, 5, 7]), name = SHIFTS[k], w = rng.pick(W_ALL);
  // Sequences only use the by-1 and immediate forms: a CL count could be changed by an earlier instruction.
  const enc = b.inSequence ? rng.pick([0, 2]) : rng.int(3);
  b.osize(w);
  const rm = b.rm(w, { writes: true, avoid: [ECX] });
  let count: () => number;
  let form: string;
  fill(b, rm, w);
  if (enc === 0) { b.emit(w === 8 ? 0xd0 : 0xd1); b.modrm(k, rm); count = () => 1; form = `${name} ${rmName(w)}, 1`; }
  else if (enc === 1) {
    b.emit(w === 8 ? 0xd2 : 0xd3); b.modrm(k, rm);
    b.setReg(ECX, 8, shiftCount(b, w));
    count = () => b.getReg(ECX, 8);
    form = `${name} ${rmName(w)}, CL`;
  } else {
    const c = shiftCount(b, w);
    b.emit(w === 8 ? 0xc0 : 0xc1); b.modrm(k, rm); b.imm(8, c);
    count = () => c;
    form = `${name} ${rmName(w)}, imm8`;
  }
  b.undef(name, () => ({ count: count() & 0x1f, width: w }));
  b.ignoredPrefix(w, rm);
  return { mnemonic: name, form };
};

const doubleShift: Gen = (b) => {
  // In sequences only the immediate count: an earlier instruction could change CL.
  const rng = b.rng, right = rng.int(2), name = right ? 'SHRD' : 'SHLD', w = rng.pick(W_WIDE), byCl = b.inSequence ? 0 : rng.int(2);
  b.osize(w);
  const rm = b.rm(w, { writes: true, avoid: [ECX] }), r = b.reg(w);
  // A masked count above the operand size leaves result and flags undefined (16-bit only): never drawn.
  const masked = rng.pick([0, 1, 2, w - 1, w, rng.int(w + 1), rng.int(w + 1)]);
  const raw = masked + 32 * rng.int(8);
  fill(b, rm, w); b.setReg(r, w, b.value(w));
  const op = (right ? 0xac : 0xa4) + byCl;
  b.emit(0x0f, op); b.modrm(r, rm);
  if (byCl) b.setReg(ECX, 8, raw); else b.imm(8, raw);
  b.undef(name, () => ({ count: masked, width: w }));
  return { mnemonic: name, form: `${name} ${rmName(w)}, r${w}, ${byCl ? 'CL' : 'imm8'}` };
};

// ---------------------------------------------------------------- decimal arithmetic

const bcd: Gen = (b) => {
  const rng = b.rng, which = rng.int(6);
  b.setReg(EAX, 8, rng.int(256));
  b.setReg(4 /* AH */, 8, rng.chance(0.5) ? rng.int(10) : rng.int(256));
  const simple: [string, number][] = [['DAA', 0x27], ['DAS', 0x2f], ['AAA', 0x37], ['AAS', 0x3f]];
  if (which < 4) {
    const [name, op] = simple[which];
    b.emit(op); b.undef(name);
    return { mnemonic: name, form: name };
  }
  const name = which === 4 ? 'AAM' : 'AAD';
  const base = rng.chance(0.5) ? 10 : rng.chance(0.15) ? 0 : rng.int(256);
  b.emit(which === 4 ? 0xd4 : 0xd5, base);
  b.undef(name);
  return { mnemonic: name, form: base === 10 ? name : `${name} imm8` };
};

// ---------------------------------------------------------------- bits

const bitTest: Gen = (b) => {
  const rng = b.rng, k = rng.int(4), name = ['BT', 'BTS', 'BTR', 'BTC'][k], w = rng.pick(W_WIDE);
  b.osize(w);
  const byImm = rng.int(2);
  const r = b.regNoSp();
  // In a sequence the offset register may change before this runs: no register-offset memory form there.
  const rm = b.rm(w, { avoid: [r], writes: k !== 0, memChance: b.inSequence && !byImm ? 0 : 0.5 });
  const lock = k !== 0 ? maybeLock(b, rm) : '';
  fill(b, rm, w);
  if (byImm) {
    b.emit(0x0f, 0xba); b.modrm(4 + k, rm); b.imm(8, rng.chance(0.5) ? rng.int(w) : rng.int(256));
  } else {
    b.emit(0x0f, [0xa3, 0xab, 0xb3, 0xbb][k]); b.modrm(r, rm);
    if (rm.kind === 'reg') b.setReg(r, w, b.value(w));
    else {
      // A register bit offset addresses beyond the operand (signed): keep the accessed unit inside the window.
      const bytes = w / 8, winBase = b.windowBase(rm.addr);
      const lo = Math.ceil((winBase - rm.addr) / bytes), hi = Math.floor((winBase + WINDOW - 4 - rm.addr) / bytes);
      const offset = rng.range(lo, hi) * w + rng.int(w);
      b.setReg(r, 32, b.value(32));
      b.setReg(r, w, offset & widthMask(w));
    }
  }
  b.undef(name);
  return { mnemonic: name, form: `${lock}${name} ${rmName(w)}, ${byImm ? 'imm8' : `r${w}`}` };
};

const bitScan: Gen = (b) => {
  const rng = b.rng, rev = rng.int(2), name = rev ? 'BSR' : 'BSF', w = rng.pick(W_WIDE);
  b.osize(w);
  const rm = b.rm(w), r = b.reg(w);
  b.emit(0x0f, rev ? 0xbd : 0xbc); b.modrm(r, rm);
  const c = rng.int(10);
  b.store(rm, w, c < 2 ? 0 : c < 5 ? (2 ** rng.int(w)) >>> 0 : b.value(w));
  b.undef(name);
  // The destination is undefined when the source is zero.
  b.later(() => { if (b.load(rm, w) === 0) b.undefRegs[r] |= widthMask(w); });
  return { mnemonic: name, form: `${name} r${w}, ${rmName(w)}` };
};

const bswap: Gen = (b) => {
  const w = b.inSequence ? 32 : b.rng.pick([32, 32, 32, 16]), r = b.reg(32);
  b.osize(w); b.emit(0x0f, 0xc8 + r);
  // BSWAP of a 16-bit register: "the result is undefined".
  if (w === 16) b.undefRegs[r] |= 0xffff;
  return { mnemonic: 'BSWAP', form: `BSWAP r${w}` };
};

const setcc: Gen = (b) => {
  const cc = b.rng.int(16), rm = b.rm(8, { writes: true });
  b.emit(0x0f, 0x90 + cc); b.modrm(0, rm);
  b.ignoredPrefix(8, rm);
  return { mnemonic: 'SETcc', form: `SET${CC[cc]} r/m8` };
};

const cmovcc: Gen = (b) => {
  const cc = b.rng.int(16), w = b.rng.pick(W_WIDE);
  b.osize(w);
  const rm = b.rm(w), r = b.reg(w);
  b.emit(0x0f, 0x40 + cc); b.modrm(r, rm);
  return { mnemonic: 'CMOVcc', form: `CMOV${CC[cc]} r${w}, ${rmName(w)}` };
};

// ---------------------------------------------------------------- data movement

const movx: Gen = (b) => {
  const rng = b.rng, signed = rng.int(2), src = rng.pick([8, 16]), dst = rng.pick(W_WIDE);
  const name = signed ? 'MOVSX' : 'MOVZX';
  b.osize(dst);
  const rm = b.rm(src), r = b.reg(dst);
  b.emit(0x0f, (signed ? 0xbe : 0xb6) + (src === 16 ? 1 : 0)); b.modrm(r, rm);
  fill(b, rm, src);
  return { mnemonic: name, form: `${name} r${dst}, ${rmName(src)}` };
};

const mov: Gen = (b) => {
  const rng = b.rng, enc = rng.int(5);
  const w = rng.pick(W_ALL);
  b.osize(w);
  if (enc === 0) {
    const toRm = rng.int(2), rm = b.rm(w, { writes: toRm === 1 }), r = b.reg(w);
    b.emit((toRm ? 0x88 : 0x8a) + (w === 8 ? 0 : 1)); b.modrm(r, rm);
    return { mnemonic: 'MOV', form: toRm ? `MOV ${rmName(w)}, r${w}` : `MOV r${w}, ${rmName(w)}` };
  }
  if (enc === 1) {
    const r = b.reg(w);
    b.emit((w === 8 ? 0xb0 : 0xb8) + r); b.imm(w, b.value(w));
    return { mnemonic: 'MOV', form: `MOV r${w}, imm${w} (${w === 8 ? 'b0' : 'b8'}+r)` };
  }
  if (enc === 2) {
    const rm = b.rm(w, { writes: true });
    b.emit(w === 8 ? 0xc6 : 0xc7); b.modrm(0, rm); b.imm(w, b.value(w));
    return { mnemonic: 'MOV', form: `MOV ${rmName(w)}, imm${w}` };
  }
  // moffs forms: a 32-bit absolute address, no ModRM.
  const store = rng.int(2);
  // The offset has the address size: 16 bits reach only the low window.
  const a16 = b.lowWindow && rng.chance(b.code16 ? 0.7 : 0.2);
  b.asize(a16 ? 16 : 32);
  const addr = (a16 ? LOW_ADDR : DATA_ADDR) + rng.range(0, WINDOW - w / 8);
  if (rng.chance(0.15)) b.pfx(b.readSegment(!store));
  b.emit((store ? 0xa2 : 0xa0) + (w === 8 ? 0 : 1), ...(a16 ? [addr & 0xff, addr >>> 8] : d32(addr)));
  return { mnemonic: 'MOV', form: store ? `MOV moffs${w}, ${accName(w)}` : `MOV ${accName(w)}, moffs${w}` };
};

const xchg: Gen = (b) => {
  const rng = b.rng;
  if (rng.chance(0.3)) {
    const w = rng.pick(W_WIDE), r = b.reg(w);
    b.osize(w); b.emit(0x90 + r);
    return r === 0 ? { mnemonic: 'NOP', form: w === 16 ? 'NOP (66 90)' : 'NOP' } : { mnemonic: 'XCHG', form: `XCHG ${accName(w)}, r${w} (90+r)` };
  }
  const w = rng.pick(W_ALL);
  b.osize(w);
  const rm = b.rm(w, { writes: true }), r = b.reg(w);
  const lock = maybeLock(b, rm, 0.1);
  b.emit(w === 8 ? 0x86 : 0x87); b.modrm(r, rm);
  return { mnemonic: 'XCHG', form: `${lock}XCHG ${rmName(w)}, r${w}` };
};

const xadd: Gen = (b) => {
  const w = b.rng.pick(W_ALL);
  b.osize(w);
  const rm = b.rm(w, { writes: true }), r = b.reg(w);
  const lock = maybeLock(b, rm);
  b.emit(0x0f, w === 8 ? 0xc0 : 0xc1); b.modrm(r, rm);
  fill(b, rm, w); b.setReg(r, w, b.value(w));
  return { mnemonic: 'XADD', form: `${lock}XADD ${rmName(w)}, r${w}` };
};

const cmpxchg: Gen = (b) => {
  const w = b.rng.pick(W_ALL);
  b.osize(w);
  const rm = b.rm(w, { writes: true, avoid: [EAX] }), r = b.reg(w);
  const lock = maybeLock(b, rm);
  b.emit(0x0f, w === 8 ? 0xb0 : 0xb1); b.modrm(r, rm);
  fill(b, rm, w); b.setReg(r, w, b.value(w));
  // Half the time the accumulator equals the destination (the exchange happens).
  if (!b.inSequence && b.rng.chance(0.5)) b.later(() => b.setReg(EAX, w, b.load(rm, w)));
  return { mnemonic: 'CMPXCHG', form: `${lock}CMPXCHG ${rmName(w)}, r${w}` };
};

const cmpxchg8b: Gen = (b) => {
  const m = b.mem(8, { writes: true, avoid: [EAX, EDX] });
  const lock = maybeLock(b, m);
  b.emit(0x0f, 0xc7); b.modrm(1, m);
  if (b.rng.chance(0.5)) {
    b.setReg(EAX, 32, b.peek(m.addr, 4)); b.setReg(EDX, 32, b.peek(m.addr + 4, 4));
    if (b.rng.chance(0.2)) b.setReg(EDX, 32, b.regs[EDX] ^ 0x8000_0000); // high half differs only
  }
  return { mnemonic: 'CMPXCHG8B', form: `${lock}CMPXCHG8B m64` };
};

/** LEA computes the address without accessing memory: any register values, any form, 32- or 16-bit addressing. */
const lea: Gen = (b) => {
  const rng = b.rng, w = rng.pick(W_WIDE), a16 = rng.chance(b.code16 ? 0.65 : 0.35);
  b.osize(w);
  b.asize(a16 ? 16 : 32);
  const r = b.reg(w);
  const mod = rng.int(3), rm = rng.int(8);
  b.emit(0x8d, (mod << 6) | (r << 3) | rm);
  if (a16) {
    if (mod === 1) b.imm(8, rng.int(256));
    else if (mod === 2 || rm === 6 && mod === 0) b.imm(16, b.value(16));
  } else {
    let base = rm;
    if (rm === 4) { const sib = rng.int(256); b.emit(sib); base = sib & 7; }
    if (mod === 1) b.imm(8, rng.int(256));
    else if (mod === 2 || (mod === 0 && (rm === 5 || (rm === 4 && base === 5)))) b.imm(32, b.value(32));
  }
  if (rng.chance(0.1)) b.pfx(b.readSegment()); // ignored by LEA
  return { mnemonic: 'LEA', form: `LEA r${w}, m (${a16 ? 16 : 32}-bit addressing)` };
};

const convert: Gen = (b) => {
  const rng = b.rng, which = rng.int(2), w = rng.pick(W_WIDE);
  b.osize(w);
  b.emit(0x98 + which);
  b.setReg(EAX, 32, b.value(32));
  const name = which === 0 ? (w === 16 ? 'CBW' : 'CWDE') : w === 16 ? 'CWD' : 'CDQ';
  return { mnemonic: name, form: name };
};

const flagOps: Gen = (b) => {
  const [name, op] = b.rng.pick([['CLC', 0xf8], ['STC', 0xf9], ['CMC', 0xf5], ['CLD', 0xfc], ['STD', 0xfd], ['NOP', 0x90]] as const);
  b.emit(op);
  return { mnemonic: name, form: name };
};

const ahFlags: Gen = (b) => {
  const sahf = b.rng.int(2);
  b.emit(sahf ? 0x9e : 0x9f);
  b.setReg(4 /* AH */, 8, b.rng.int(256));
  return sahf ? { mnemonic: 'SAHF', form: 'SAHF' } : { mnemonic: 'LAHF', form: 'LAHF' };
};

// ---------------------------------------------------------------- strings

const STRINGS: [string, number, boolean, boolean][] = [
  // name, opcode (byte form), uses ESI, uses EDI
  ['MOVS', 0xa4, true, true], ['CMPS', 0xa6, true, true], ['STOS', 0xaa, false, true], ['LODS', 0xac, true, false], ['SCAS', 0xae, false, true],
];

const strings: Gen = (b) => {
  const rng = b.rng;
  const [name, op, usesSi, usesDi] = rng.pick(STRINGS);
  const w = rng.pick(W_ALL), size = w / 8;
  const compares = name === 'CMPS' || name === 'SCAS';
  const rep = rng.int(5); // 0-1: no prefix, 2-3: F3, 4: F2 for the compares (REPNE)
  let prefix = '';
  if (rep >= 2) {
    if (rep === 4 && compares) { b.pfx(0xf2); prefix = 'REPNE '; }
    else { b.pfx(0xf3); prefix = compares ? 'REPE ' : 'REP '; }
  }
  const down = rng.int(2);
  b.eflags = (b.eflags & ~DF) | (down ? DF : 0);
  // With 67h the string instruction uses SI, DI and CX: their upper halves are random and must survive.
  const a16 = b.lowWindow && rng.chance(b.code16 ? 0.7 : 0.3);
  b.asize(a16 ? 16 : 32);
  const upper = () => (a16 ? rng.u32() & 0xffff_0000 : 0);
  // Mostly short runs; sometimes up to 60 bytes (bulk-copy fast paths in an emulator start somewhere).
  const count = prefix ? rng.pick([0, 1, 2, 3, rng.int(9), rng.int(9), rng.int(Math.floor(60 / size) + 1)]) : 0;
  if (prefix) b.setReg(ECX, 32, (upper() | count) >>> 0);
  const n = Math.max(count, 1);
  const pointers: number[] = [], bases: number[] = [];
  const place = (reg: number) => {
    const base = a16 ? LOW_ADDR : rng.chance(0.8) ? DATA_ADDR : STACK_ADDR;
    bases[reg] = base;
    const span = n * size;
    const at = base + rng.range(span + 4, WINDOW - span - size - 4);
    b.setReg(reg, 32, (upper() | at) >>> 0);
    pointers[reg] = at;
  };
  if (usesSi) place(ESI);
  if (usesDi) place(EDI);
  // Overlapping source and destination (EDI = ESI + small delta): REP MOVSB with EDI = ESI + 1 replicates a byte.
  // For REP MOVS the overlap is only where element-by-element copying and a memmove agree: a destination
  // ahead of the source in the copy direction and inside the source range (the replicating case) gives
  // CPU-specific results on real hardware — measured: an AMD EPYC with ERMS/FSRM copies such ranges as if
  // they were disjoint, unlike the SDM's element-by-element pseudo-code that x86jit follows — so the host
  // cannot judge it (semantics-string.test.ts pins the SDM's replication instead).
  if (usesSi && usesDi && rng.chance(0.25)) {
    const at = pointers[ESI] + rng.range(-4, 4) * (name === 'MOVS' ? size : 1), span = n * size, base = bases[ESI];
    pointers[EDI] = at - base >= span + 4 && at + span + size + 4 <= base + WINDOW ? at : pointers[ESI];
  }
  if (name === 'MOVS' && usesSi && usesDi) {
    const ahead = (pointers[EDI] - pointers[ESI]) * (down ? -1 : 1);
    if (ahead > 0 && ahead < n * size) pointers[EDI] = pointers[ESI];
  }
  if (usesSi && usesDi) b.setReg(EDI, 32, ((b.regs[EDI] & (a16 ? 0xffff_0000 : 0)) | pointers[EDI]) >>> 0);
  if (usesSi && rng.chance(0.15)) b.pfx(b.readSegment());
  b.emit(op + (w === 8 ? 0 : 1));
  b.osize(w);
  if (compares) {
    // Make the compared memory partly equal so that REPE/REPNE run for a while and stop on a mismatch.
    const step = down ? -size : size;
    const di = pointers[EDI], si = pointers[ESI];
    const acc = b.value(w);
    for (let i = 0; i < n; i++) {
      const at = di + i * step;
      if (name === 'CMPS') { if (rng.chance(0.8)) b.poke(at, size, b.peek(si + i * step, size)); }
      else if (rng.chance(prefix === 'REPNE ' ? 0.2 : 0.8)) b.poke(at, size, acc);
      else b.poke(at, size, b.value(w));
    }
    if (name === 'SCAS') b.setReg(EAX, w, acc);
  }
  const mnemonic = `${prefix}${name}`;
  return { mnemonic, form: `${mnemonic}${w === 8 ? 'B' : w === 16 ? 'W' : 'D'} DF=${down}${a16 ? ' (SI/DI/CX)' : ''}` };
};

// ---------------------------------------------------------------- stack

const pushPop: Gen = (b) => {
  const rng = b.rng, which = rng.int(9), w = rng.chance(0.2) ? 48 - b.defaultWidth : b.defaultWidth;
  b.osize(w);
  switch (which) {
    case 0: { const r = b.reg(w); b.emit(0x50 + r); return { mnemonic: 'PUSH', form: `PUSH r${w} (50+r)` }; }
    case 1: { const r = b.reg(w); b.emit(0x58 + r); return { mnemonic: 'POP', form: `POP r${w} (58+r)` }; }
    case 2: { const rm = b.rm(w); b.emit(0xff); b.modrm(6, rm); return { mnemonic: 'PUSH', form: `PUSH ${rmName(w)}` }; }
    case 3: {
      // POP r/m computes an ESP-based address after incrementing ESP.
      const rm = b.rng.chance(0.6) ? b.mem(w / 8, { espDelta: w / 8, writes: true }) : b.rm(w);
      b.emit(0x8f); b.modrm(0, rm);
      return { mnemonic: 'POP', form: `POP ${rmName(w)}` };
    }
    case 4: {
      const imm8 = rng.int(2);
      b.emit(imm8 ? 0x6a : 0x68); b.imm(imm8 ? 8 : w, b.value(imm8 ? 8 : w));
      return { mnemonic: 'PUSH', form: `PUSH imm${imm8 ? 8 : w}` };
    }
    case 5: b.emit(0x60); return { mnemonic: 'PUSHA', form: `PUSHA${w === 32 ? 'D' : ''}` };
    case 6: b.emit(0x61); return { mnemonic: 'POPA', form: `POPA${w === 32 ? 'D' : ''}` };
    case 7: b.emit(0x9c); return { mnemonic: 'PUSHF', form: `PUSHF${w === 32 ? 'D' : ''}` };
    default: {
      // The popped image: arithmetic flags and DF, IF = 1 (user mode cannot change it), NT and the
      // reserved bits (which must read back fixed) at random; never TF, IOPL, AC, ID, VIF, VIP.
      const rnd = rng.u32();
      let v = (rnd & 0xcd5) | 0x202 | (rnd & 0x0000_c028) | (rng.chance(0.2) ? rnd & 0xffc0_0000 : 0);
      if (w === 16) v &= 0xffff;
      b.poke(b.regs[ESP], w / 8, v);
      b.emit(0x9d);
      return { mnemonic: 'POPF', form: `POPF${w === 32 ? 'D' : ''}` };
    }
  }
};

const xlat: Gen = (b) => {
  const rng = b.rng, k = rng.int(WINDOW);
  // With 67h the table is at BX (the upper half of EBX is ignored).
  const a16 = b.lowWindow && rng.chance(b.code16 ? 0.7 : 0.3);
  b.asize(a16 ? 16 : 32);
  if (a16) b.setReg(EBX, 32, ((rng.u32() & 0xffff_0000) | (LOW_ADDR + k)) >>> 0);
  else b.setReg(EBX, 32, (rng.chance(0.8) ? DATA_ADDR : STACK_ADDR) + k);
  b.setReg(EAX, 8, rng.int(WINDOW - k));
  if (rng.chance(0.2)) b.pfx(b.readSegment());
  b.emit(0xd7);
  return { mnemonic: 'XLAT', form: a16 ? 'XLAT (BX)' : 'XLAT' };
};

const enterLeave: Gen = (b) => {
  const rng = b.rng, w = rng.chance(0.25) ? 48 - b.defaultWidth : b.defaultWidth;
  b.osize(w);
  b.setReg(EBP, 32, STACK_ADDR + rng.range(0x40, 0xf0) & ~(rng.chance(0.8) ? 3 : 0));
  if (rng.chance(0.5)) {
    b.emit(0xc9);
    return { mnemonic: 'LEAVE', form: `LEAVE (${w})` };
  }
  b.regs[ESP] = STACK_ADDR + rng.range(0xd0, 0xf0);
  const level = rng.int(5), size = rng.pick([0, 4, 8, rng.int(40)]);
  b.emit(0xc8); b.imm(16, size); b.imm(8, level + 32 * (rng.chance(0.2) ? rng.int(8) : 0));
  return { mnemonic: 'ENTER', form: `ENTER imm16, ${level > 1 ? 'n' : level} (${w})` };
};

// ---------------------------------------------------------------- control transfer (forward within the snippet)

/** 0..6 one-byte INC instructions that a taken branch skips (the result shows whether it was taken). */
function filler(b: Builder): number {
  const n = b.rng.int(7);
  for (let i = 0; i < n; i++) b.emit(b.rng.pick([0x40, 0x42, 0x43, 0x45, 0x46, 0x47]));
  return n;
}

const branch: Gen = (b) => {
  const rng = b.rng, which = rng.int(12);
  // Near displacements, return addresses and indirect targets have the code segment's operand size.
  const dw = b.defaultWidth;
  const end = () => b.eipAt(b.codeLength);
  switch (which) {
    case 0: case 1: {
      const cc = rng.int(16), near = which === 1;
      // Build the filler after the branch, then patch the displacement.
      if (near) { b.emit(0x0f, 0x80 + cc); b.imm(dw, 0); } else b.emit(0x70 + cc, 0);
      b.end();
      const at = b.codeLength, n = filler(b);
      patchDisp(b, at, n, near ? dw / 8 : 1);
      return { mnemonic: 'Jcc', form: `J${CC[cc]} rel${near ? dw : 8}` };
    }
    case 2: case 3: {
      const near = which === 3;
      if (near) { b.emit(0xe9); b.imm(dw, 0); } else b.emit(0xeb, 0);
      b.end();
      const at = b.codeLength, n = filler(b);
      patchDisp(b, at, n, near ? dw / 8 : 1);
      return { mnemonic: 'JMP', form: `JMP rel${near ? dw : 8}` };
    }
    case 4: case 5: {
      // LOOP/LOOPE/LOOPNE/JECXZ count CX or ECX by the address size.
      const op = rng.pick([0xe0, 0xe1, 0xe2, 0xe3]), a16 = rng.chance(b.code16 ? 0.75 : 0.25);
      b.asize(a16 ? 16 : 32);
      b.setReg(ECX, 32, rng.pick([0, 1, 2, b.value(32), 0x1_0000, 0x1_0001]));
      b.emit(op, 0); b.end();
      const at = b.codeLength, n = filler(b);
      patchDisp(b, at, n, 1);
      const name = ['LOOPNE', 'LOOPE', 'LOOP', 'JECXZ'][op - 0xe0];
      return { mnemonic: name, form: `${a16 && name === 'JECXZ' ? 'JCXZ' : name} rel8${a16 ? ' (CX)' : ''}` };
    }
    case 6: {
      // A backward LOOP: INC EAX; LOOP -3, ECX times.
      const op = rng.pick([0xe0, 0xe1, 0xe2]);
      b.setReg(ECX, 32, rng.range(1, 8));
      b.emit(0x40, op, 0xfd);
      return { mnemonic: ['LOOPNE', 'LOOPE', 'LOOP'][op - 0xe0], form: 'LOOPcc rel8 (backward)' };
    }
    case 7: {
      b.emit(0xe8); b.imm(dw, 0); b.end();
      const at = b.codeLength, n = filler(b);
      patchDisp(b, at, n, dw / 8);
      return { mnemonic: 'CALL', form: `CALL rel${dw}` };
    }
    case 8: case 9: {
      // CALL/JMP r/m with the target (the snippet's end) in a register or in memory.
      const call = which === 8;
      const rm = b.rm(dw, { noEsp: true });
      b.emit(0xff); b.modrm(call ? 2 : 4, rm); b.end();
      filler(b);
      b.later(() => b.store(rm, dw, end()));
      return { mnemonic: call ? 'CALL' : 'JMP', form: `${call ? 'CALL' : 'JMP'} r/m${dw}` };
    }
    default: {
      // RET / RET imm16 to the snippet's end, whose address is at [ESP].
      const imm = rng.int(2);
      if (imm) { b.emit(0xc2); b.imm(16, 4 * rng.int(8) + (rng.chance(0.1) ? 2 : 0)); } else b.emit(0xc3);
      b.end();
      filler(b);
      b.later(() => b.poke(b.regs[ESP], dw / 8, end()));
      return { mnemonic: 'RET', form: imm ? 'RET imm16' : 'RET' };
    }
  }
};

/** Write a forward displacement of `n` bytes into the `size` bytes just before code offset `at`. */
function patchDisp(b: Builder, at: number, n: number, size: number): void { b.patch(at - size, size, n); }

// ---------------------------------------------------------------- traps and invalid opcodes

const traps: Gen = (b) => {
  const rng = b.rng, which = rng.int(4);
  if (which === 0) {
    if (rng.chance(0.6)) b.eflags |= OF; else b.eflags &= ~OF;
    b.emit(0xce);
    return { mnemonic: 'INTO', form: 'INTO' };
  }
  if (which === 1) { b.emit(0xcc); return { mnemonic: 'INT3', form: 'INT3' }; }
  // BOUND r, m16&16 / m32&32: #BR when the index is outside [lower, upper].
  const w = rng.pick(W_WIDE);
  b.osize(w);
  const r = b.regNoSp();
  const m = b.mem((2 * w) / 8, { avoid: [r] });
  b.emit(0x62); b.modrm(r, m);
  const sx = (v: number) => (w === 16 ? (v << 16) >> 16 : v | 0);
  let lo = sx(b.value(w)), hi = sx(b.value(w));
  if (lo > hi && rng.chance(0.8)) [lo, hi] = [hi, lo];
  b.poke(m.addr, w / 8, lo); b.poke(m.addr + w / 8, w / 8, hi);
  const c = rng.int(5);
  const idx = c === 0 ? lo : c === 1 ? hi : c === 2 ? lo - 1 : c === 3 ? hi + 1 : b.value(w);
  b.setReg(r, w, idx);
  return { mnemonic: 'BOUND', form: `BOUND r${w}, m${w}&${w}` };
};

const invalid: Gen = (b) => {
  const rng = b.rng, which = rng.int(7);
  switch (which) {
    case 0: b.emit(0x0f, 0x0b); return { mnemonic: '#UD', form: 'UD2' };
    case 1: b.emit(0x8d, 0xc0 | rng.int(64)); return { mnemonic: '#UD', form: 'LEA r, r' };
    case 2: b.emit(0x0f, 0xc7, 0xc8 | rng.int(8)); return { mnemonic: '#UD', form: 'CMPXCHG8B r' };
    case 3: {
      const rm = b.rm(8, { memChance: 0.5 });
      b.emit(0xfe); b.modrm(rng.range(2, 7), rm);
      return { mnemonic: '#UD', form: 'FE /2../7' };
    }
    case 4: { const rm = b.rm(32); b.emit(0xff); b.modrm(7, rm); return { mnemonic: '#UD', form: 'FF /7' }; }
    case 5: {
      // The 15-byte limit: redundant prefixes on ADD r/m32, r32; one byte too many is #GP(0).
      const total = rng.range(14, 16);
      const prefixes = total - 2;
      for (let i = 0; i < prefixes; i++) b.emit(rng.pick([0x3e, 0x26, 0x36, 0x67]));
      b.emit(0x01, 0xc0 | rng.int(64));
      return total > 15 ? { mnemonic: '#GP', form: 'instruction longer than 15 bytes' } : { mnemonic: 'ADD', form: `ADD r/m32, r32 with ${prefixes} prefixes` };
    }
    default: {
      // LOCK on an instruction that cannot take it: a register destination, MOV, CMP, NOP, INC r.
      b.pfx(0xf0);
      const k = rng.int(5);
      if (k === 0) { b.emit(0x01, 0xc0 | rng.int(64)); return { mnemonic: '#UD', form: 'LOCK ADD r, r' }; }
      if (k === 1) { const m = b.mem(4, { writes: true }); b.emit(0x89); b.modrm(b.reg(), m); return { mnemonic: '#UD', form: 'LOCK MOV m, r' }; }
      if (k === 2) { const m = b.mem(4); b.emit(0x39); b.modrm(b.reg(), m); return { mnemonic: '#UD', form: 'LOCK CMP m, r' }; }
      if (k === 3) { b.emit(0x90); return { mnemonic: '#UD', form: 'LOCK NOP' }; }
      b.emit(0x40 + rng.int(8)); return { mnemonic: '#UD', form: 'LOCK INC r' };
    }
  }
};

// ---------------------------------------------------------------- self-modifying code

/** One-byte instructions that are safe to run anywhere in a snippet (no ESP, no control flow). */
const ONE_BYTE = [0x40, 0x41, 0x42, 0x43, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4d, 0x4e, 0x4f, 0x90, 0xf5, 0xf8, 0xf9, 0x98, 0x99];

/**
 * The snippet rewrites code ahead of itself (in the same decoded block, for the emulator): the new bytes
 * must run. Modern x86 guarantees that; the i486 needed a jump to flush its prefetch queue, which no
 * real program relies on, so the oracle expects the modern behaviour.
 */
const smc: Gen = (b) => {
  const rng = b.rng, which = rng.int(4), gap = rng.int(3);
  const gapFill = () => { for (let i = 0; i < gap; i++) b.emit(rng.pick(ONE_BYTE)); b.end(); };
  if (which === 0 || which === 1) {
    // MOV byte [abs32], imm8 / ADD byte [abs32], imm8 onto a later one-byte instruction.
    const add = which === 1;
    if (b.code16) b.emit(0x67); // [disp32] needs 32-bit addressing
    const addrAt = b.codeLength + 2;
    b.emit(add ? 0x80 : 0xc6, 0x05, 0, 0, 0, 0, add ? rng.pick([1, 2, 8]) : rng.pick(ONE_BYTE)); b.end();
    gapFill();
    const at = b.codeLength;
    b.emit(rng.pick([0x40, 0x41, 0x42, 0x43, 0x45, 0x46, 0x47])); b.end();
    b.patch(addrAt, 4, CODE_ADDR + at);
    return { mnemonic: 'SMC', form: add ? 'ADD byte [code], imm8' : 'MOV byte [code], imm8' };
  }
  if (which === 2) {
    // MOV dword [abs32], imm32 onto the immediate of a later MOV r32, imm32.
    if (b.code16) b.emit(0x66, 0x67);
    const addrAt = b.codeLength + 2;
    b.emit(0xc7, 0x05, 0, 0, 0, 0); b.imm(32, b.value(32)); b.end();
    gapFill();
    if (b.code16) b.emit(0x66);
    const immAt = b.codeLength + 1;
    b.emit(0xb8 + b.regNoSp()); b.imm(32, b.value(32)); b.end();
    b.patch(addrAt, 4, CODE_ADDR + immAt);
    return { mnemonic: 'SMC', form: 'MOV dword [code], imm32' };
  }
  // REP STOSB over the bytes right after it.
  const n = rng.range(1, 4);
  b.eflags &= ~DF;
  b.setReg(ECX, 32, n);
  b.setReg(EAX, 8, rng.pick(ONE_BYTE));
  b.emit(0xf3);
  if (b.code16) b.emit(0x67); // EDI, not DI
  b.emit(0xaa); b.end();
  b.setReg(EDI, 32, CODE_ADDR + b.codeLength);
  for (let i = 0; i < n + gap; i++) b.emit(rng.pick([0x40, 0x41, 0x42, 0x43, 0x45, 0x46, 0x47]));
  return { mnemonic: 'SMC', form: 'REP STOSB over the next bytes' };
};

// ---------------------------------------------------------------- sequences (lazy-flag stress)

/** Stack traffic inside sequences: PUSH/POP of registers, PUSHF, and POPF of a clean flags image. */
const stackStep: Gen = (b) => {
  const rng = b.rng, which = rng.int(5);
  if (which === 0) { const r = b.regNoSp(); b.emit(0x50 + r); return { mnemonic: 'PUSH', form: 'PUSH r (50+r)' }; }
  if (which === 1) { const r = b.regNoSp(); b.emit(0x58 + r); return { mnemonic: 'POP', form: 'POP r (58+r)' }; }
  if (which === 2) { b.emit(0x9c); return { mnemonic: 'PUSHF', form: 'PUSHF' }; }
  if (which === 3) { b.emit(0x9c); b.end(); b.emit(0x58 + b.regNoSp()); return { mnemonic: 'PUSHF', form: 'PUSHF; POP r' }; }
  b.osize(32); b.emit(0x68); b.imm(32, (rng.u32() & 0xcd5) | 0x202); b.end(); b.osize(32); b.emit(0x9d);
  return { mnemonic: 'POPF', form: 'PUSH imm32; POPFD' };
};

/** A short conditional branch over one-byte INCs: consumes the flags the previous instruction left. */
const jccShort: Gen = (b) => {
  const cc = b.rng.int(16);
  b.emit(0x70 + cc, 0); b.end();
  const at = b.codeLength, n = filler(b);
  patchDisp(b, at, n, 1);
  return { mnemonic: 'Jcc', form: `J${CC[cc]} rel8` };
};

/** Register-only instructions with no undefined flags: any may precede another. */
const DEFINED: Gen[] = [alu, alu, alu, incDec, negNot, setcc, cmovcc, mov, movx, xchg, convert, flagOps, ahFlags, lea, xadd, cmpxchg, bswap, stackStep, jccShort];
/** Any of these may come last (their undefined flags are then masked). */
const LAST: Gen[] = [...DEFINED, alu, shift, shift, mulDiv, imulMulti, bcd, bitTest, doubleShift, test, jccShort];

const sequence: Gen = (b) => {
  const rng = b.rng, n = rng.range(2, 5);
  b.noEsp = true;
  b.inSequence = true;
  const parts: string[] = [];
  // Stop early when the next instruction might not fit (the longest drawn here is under 15 bytes).
  for (let i = 0; i < n && b.codeLength <= MAX_CODE - 15; i++) {
    // The first instruction may use any addressing form; later ones [disp32] only (registers have moved).
    b.absoluteOnly = i > 0;
    // Undefined-flag masks are only valid for the last instruction: earlier ones draw defined forms only
    // (when the length cap ends the sequence early, its last instruction is a defined one: still right).
    const last = i === n - 1;
    b.definedOnly = !last;
    const g = last ? rng.pick(LAST) : rng.pick(DEFINED);
    parts.push(g(b).form);
    b.end();
  }
  return { mnemonic: 'sequence', form: parts.join('; ') };
};

// ---------------------------------------------------------------- the mix

export const FAMILIES: readonly { name: string; weight: number; gen: Gen }[] = [
  { name: 'alu', weight: 14, gen: alu },
  { name: 'test', weight: 2, gen: test },
  { name: 'inc/dec', weight: 3, gen: incDec },
  { name: 'neg/not', weight: 2, gen: negNot },
  { name: 'mul/div', weight: 7, gen: mulDiv },
  { name: 'imul', weight: 2.5, gen: imulMulti },
  { name: 'shift', weight: 10, gen: shift },
  { name: 'shld/shrd', weight: 4, gen: doubleShift },
  { name: 'bcd', weight: 5, gen: bcd },
  { name: 'bt', weight: 5, gen: bitTest },
  { name: 'bsf/bsr', weight: 2.5, gen: bitScan },
  { name: 'bswap', weight: 0.7, gen: bswap },
  { name: 'setcc', weight: 2, gen: setcc },
  { name: 'cmovcc', weight: 2, gen: cmovcc },
  { name: 'movzx/movsx', weight: 2, gen: movx },
  { name: 'mov', weight: 4, gen: mov },
  { name: 'xchg', weight: 1.5, gen: xchg },
  { name: 'xadd', weight: 1.5, gen: xadd },
  { name: 'cmpxchg', weight: 2, gen: cmpxchg },
  { name: 'cmpxchg8b', weight: 1, gen: cmpxchg8b },
  { name: 'lea', weight: 3, gen: lea },
  { name: 'convert', weight: 1, gen: convert },
  { name: 'flag ops', weight: 1, gen: flagOps },
  { name: 'sahf/lahf', weight: 1, gen: ahFlags },
  { name: 'strings', weight: 9, gen: strings },
  { name: 'push/pop', weight: 6, gen: pushPop },
  { name: 'xlat', weight: 0.7, gen: xlat },
  { name: 'enter/leave', weight: 2, gen: enterLeave },
  { name: 'branch', weight: 5, gen: branch },
  { name: 'traps', weight: 1.5, gen: traps },
  { name: 'invalid', weight: 1, gen: invalid },
  { name: 'self-modifying code', weight: 1, gen: smc },
  { name: 'sequence', weight: 8, gen: sequence },
];

const TOTAL_WEIGHT = FAMILIES.reduce((s, f) => s + f.weight, 0);

/** Case `index` of the stream for `seed` (each case has its own PRNG, so any case can be regenerated alone). */
export interface GenerateOptions {
  /** The host maps LOW_ADDR: memory operands with 16-bit addressing are generated too. */
  lowWindow?: boolean;
  /** The host can run 16-bit code segments: a quarter of the cases run in one. */
  code16?: boolean;
}

export function generateCase(seed: number, index: number, opts: GenerateOptions = {}, arena?: ArrayBuffer, at = 0): OracleCase {
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e37_79b1) ^ Math.imul(index + 1, 0x85eb_ca6b)) >>> 0);
  const code16 = rng.u32() < 0x4000_0000 && (opts.code16 ?? false);
  let pick = rng.u32() / 0x1_0000_0000 * TOTAL_WEIGHT;
  let fam = FAMILIES[FAMILIES.length - 1];
  for (const f of FAMILIES) { if ((pick -= f.weight) < 0) { fam = f; break; } }
  const b = new Builder(rng, index, opts.lowWindow ?? false, code16, arena, at);
  const { mnemonic, form } = fam.gen(b);
  return b.finish(mnemonic, form);
}

export function generateCases(seed: number, start: number, count: number, opts: GenerateOptions = {}): OracleCase[] {
  const out: OracleCase[] = [];
  const arena = new ArrayBuffer(count * CASE_BYTES);
  for (let i = 0; i < count; i++) out.push(generateCase(seed, start + i, opts, arena, i * CASE_BYTES));
  return out;
}

