// Shifts and rotates (SDM Vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD). The count is masked to 5
// bits; a masked count of 0 changes nothing, flags included. Flags the SDM leaves undefined follow what
// Intel hardware does (measured on the host CPU): OF is the OF of the first one-bit step, i.e. it is
// computed from the original operand whatever the count (except ROL/ROR of a register by an immediate
// count above 1, which leave OF alone); shifts clear AF; for 8/16-bit SHL/SHR with a count above the
// width CF is the bit shifted out of the (wider) internal value, so 0; 16-bit SHLD/SHRD with a count above
// 16 shift the 48-bit value dest:src:dest.
import { getCF, getOF, setResultFlags } from '../flags.ts';
import { maskOf, modifier, reader, signExtend, type Exec } from '../operands.ts';
import { AF, CF, ECX, EFLAGS, LAZY_MASK, OF } from '../state.ts';
import type { InstructionContext, PlaceFreeEmitter, PlaceFreeTable } from './emitter.ts';

/**
 * One shift/rotate on x (size bytes, zero-extended) by a masked count 1..31; y is the SHLD/SHRD fill
 * operand. Writes the flags and returns the new value (masked to the size).
 */
type ShiftOp = (s: Int32Array, x: number, count: number, size: number, y: number) => number;

const SHIFT_FLAGS = CF | OF | AF;

/** Rotates write CF and OF only; SF ZF AF PF stay as they are (lazy or not). */
function setCarryOverflow(s: Int32Array, cf: number, of: number): void {
  s[EFLAGS] = (s[EFLAGS] & ~(CF | OF)) | cf | (of ? OF : 0);
  s[LAZY_MASK] &= ~(CF | OF);
}

/** OF of a one-bit left shift/rotate of x: MSB(x) XOR the bit below it. */
const ofLeft = (x: number, bits: number): number => ((x >>> (bits - 1)) ^ (x >>> (bits - 2))) & 1;

const SHL: ShiftOp = (s, x, n, size) => {
  const bits = size * 8, r = (x << n) & maskOf(size);
  const cf = ((x << (n - 1)) >>> (bits - 1)) & 1;
  setResultFlags(s, r, size, cf | (ofLeft(x, bits) ? OF : 0), SHIFT_FLAGS);
  return r;
};

const SHR: ShiftOp = (s, x, n, size) => {
  const bits = size * 8, u = x & maskOf(size), r = u >>> n;
  setResultFlags(s, r, size, ((u >>> (n - 1)) & 1) | ((u >>> (bits - 1)) & 1 ? OF : 0), SHIFT_FLAGS);
  return size === 4 ? r | 0 : r;
};

const SAR: ShiftOp = (s, x, n, size) => {
  const v = signExtend(x, size), r = (v >> n) & maskOf(size);
  setResultFlags(s, r, size, (v >> (n - 1)) & 1, SHIFT_FLAGS);
  return r;
};

const ROL: ShiftOp = (s, x, n, size) => {
  const bits = size * 8, mask = maskOf(size), c = n & (bits - 1);
  const r = c === 0 ? x & mask : ((x << c) | ((x & mask) >>> (bits - c))) & mask;
  setCarryOverflow(s, r & 1, ofLeft(x, bits));
  return r;
};

const ROR: ShiftOp = (s, x, n, size) => {
  const bits = size * 8, mask = maskOf(size), u = x & mask, c = n & (bits - 1);
  const r = c === 0 ? u : ((u >>> c) | (u << (bits - c))) & mask;
  setCarryOverflow(s, (r >>> (bits - 1)) & 1, (u ^ (u >>> (bits - 1))) & 1);
  return size === 4 ? r | 0 : r;
};

/**
 * ROL/ROR of a register by an immediate count other than 1 (C0/C1 forms): the host Intel CPU then leaves
 * OF unchanged, unlike the CL forms and the memory forms, which compute it as above.
 */
const keepOF = (rotate: ShiftOp): ShiftOp => (s, x, n, size) => {
  const of = getOF(s), r = rotate(s, x, n, size, 0);
  setCarryOverflow(s, s[EFLAGS] & CF, of ? 1 : 0);
  return r;
};

/** RCL/RCR rotate through CF: a (bits+1)-bit rotation, so 8/16-bit counts are taken mod 9/17. */
const RCL: ShiftOp = (s, x, n, size) => {
  const bits = size * 8, mask = maskOf(size), u = x & mask;
  const c = bits === 32 ? n : n % (bits + 1);
  if (c === 0) return x;
  const cf = getCF(s), back = bits + 1 - c;
  const r = ((u << c) | (cf << (c - 1)) | (back < 32 ? u >>> back : 0)) & mask;
  setCarryOverflow(s, (u >>> (bits - c)) & 1, ofLeft(u, bits));
  return r;
};

const RCR: ShiftOp = (s, x, n, size) => {
  const bits = size * 8, mask = maskOf(size), u = x & mask;
  const c = bits === 32 ? n : n % (bits + 1);
  if (c === 0) return x;
  const cf = getCF(s), back = bits + 1 - c;
  const r = ((u >>> c) | (cf << (bits - c)) | (back < 32 ? u << back : 0)) & mask;
  setCarryOverflow(s, (u >>> (c - 1)) & 1, ((u >>> (bits - 1)) ^ cf) & 1);
  return r;
};

const SHLD: ShiftOp = (s, x, n, size, y) => {
  let r: number, cf: number;
  if (size === 4) {
    r = (x << n) | (y >>> (32 - n));
    cf = (x >>> (32 - n)) & 1;
  } else {
    // 16-bit: the bits come from the 48-bit value x:y:x.
    x &= 0xffff; y &= 0xffff;
    if (n <= 16) { const hi = ((x << 16) | y) >>> 0; r = (hi >>> (16 - n)) & 0xffff; cf = (hi >>> (32 - n)) & 1; }
    else { const lo = ((y << 16) | x) >>> 0; r = (lo >>> (32 - n)) & 0xffff; cf = (lo >>> (48 - n)) & 1; }
  }
  setResultFlags(s, r, size, cf | (ofLeft(x, size * 8) ? OF : 0), SHIFT_FLAGS);
  return r;
};

const SHRD: ShiftOp = (s, x, n, size, y) => {
  let r: number, cf: number;
  const bits = size * 8;
  if (size === 4) {
    r = (x >>> n) | (y << (32 - n));
    cf = (x >>> (n - 1)) & 1;
  } else {
    x &= 0xffff; y &= 0xffff;
    if (n <= 16) { const lo = ((y << 16) | x) >>> 0; r = (lo >>> n) & 0xffff; cf = (lo >>> (n - 1)) & 1; }
    else { const hi = ((x << 16) | y) >>> 0; r = (hi >>> (n - 16)) & 0xffff; cf = (hi >>> (n - 17)) & 1; }
  }
  setResultFlags(s, r, size, cf | ((y ^ (x >>> (bits - 1))) & 1 ? OF : 0), SHIFT_FLAGS);
  return r;
};

/**
 * The count operand: absent (D0-D3 by-one forms may omit it) means 1, an immediate is masked at decode
 * time, CL is read at run time. Returns a constant (>= 0) or -1 for "CL".
 */
function constantCount(c: InstructionContext, index: number): number {
  const op = c.ins.operands[index];
  if (op === undefined) return 1;
  if (op.kind === 'imm') return op.value & 31;
  return -1;
}

function shiftEmitter(fn: ShiftOp, fast32?: (s: Int32Array, r: number, n: number) => Exec, byImmediate: ShiftOp = fn): PlaceFreeEmitter {
  return (c) => {
    const { cpu, ins } = c, size = ins.size, s = cpu.s, d = ins.operands[0];
    const k = constantCount(c, 1);
    if (k > 0 && fast32 && size === 4 && d.kind === 'reg') return fast32(s, d.reg, k);
    const dst = modifier(cpu, d, size, ins.adsize);
    if (k === 0) return () => { dst.get(); };
    if (k > 0) { const op = k > 1 && d.kind === 'reg' ? byImmediate : fn; return () => { const x = dst.get(); dst.set(op(s, x, k, size, 0)); }; }
    return () => {
      const n = s[ECX] & 31, x = dst.get();
      if (n !== 0) dst.set(fn(s, x, n, size, 0));
    };
  };
}

function doubleShiftEmitter(fn: ShiftOp): PlaceFreeEmitter {
  return (c) => {
    const { cpu, ins } = c, size = ins.size, s = cpu.s;
    const k = constantCount(c, 2);
    const dst = modifier(cpu, ins.operands[0], size, ins.adsize), src = reader(cpu, ins.operands[1], size, ins.adsize);
    if (k === 0) return () => { dst.get(); };
    if (k > 0) return () => { const x = dst.get(); dst.set(fn(s, x, k, size, src())); };
    return () => {
      const n = s[ECX] & 31, x = dst.get();
      if (n !== 0) dst.set(fn(s, x, n, size, src()));
    };
  };
}

/** SHL/SHR/SAR r32, imm: the register slot is shifted in place. */
const shl32 = (s: Int32Array, r: number, n: number): Exec => () => { s[r] = SHL(s, s[r], n, 4, 0); };
const shr32 = (s: Int32Array, r: number, n: number): Exec => () => { s[r] = SHR(s, s[r], n, 4, 0); };
const sar32 = (s: Int32Array, r: number, n: number): Exec => () => { s[r] = SAR(s, s[r], n, 4, 0); };

export const SHIFT: PlaceFreeTable = {
  SHL: shiftEmitter(SHL, shl32),
  SAL: shiftEmitter(SHL, shl32),
  SHR: shiftEmitter(SHR, shr32),
  SAR: shiftEmitter(SAR, sar32),
  ROL: shiftEmitter(ROL, undefined, keepOF(ROL)),
  ROR: shiftEmitter(ROR, undefined, keepOF(ROR)),
  RCL: shiftEmitter(RCL),
  RCR: shiftEmitter(RCR),
  SHLD: doubleShiftEmitter(SHLD),
  SHRD: doubleShiftEmitter(SHRD),
};
