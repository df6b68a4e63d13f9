// Binary arithmetic and logic (SDM Vol. 1 7.3.2, 7.3.5; Vol. 2 ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC
// NEG NOT). Flags are recorded lazily (flags.ts): the operands and the result are enough to recover all six.
// The 32-bit register-register and register-immediate forms, the bulk of real code, get closures that touch
// the register slots directly; every other form goes through the shared operand closures.
import type { Instruction } from '../../decoder/instruction.ts';
import { getCF, OP_ADD, OP_LOGIC, OP_SUB, setLazy, setLazyKeepCF, type Writer } from '../flags.ts';
import { maskOf, modifier, reader, type Exec } from '../operands.ts';
import { ARITH_FLAGS, CF } from '../state.ts';
import type { InstructionContext, PlaceFreeTable } from './emitter.ts';

/** A two-operand operation on values of one size: returns the (unmasked) result. */
type Combine = (x: number, y: number, s: Int32Array) => number;

/**
 * Generic two-operand form: dst = dst OP src (or only flags when `writes` is false, CMP/TEST).
 * The destination is written before the flags are recorded so that a faulting write leaves EFLAGS alone.
 */
function binaryGeneric(c: InstructionContext, combine: Combine, lazyOp: number, writes: boolean): Exec {
  const { cpu, ins } = c, size = ins.size, s = cpu.s, mask = maskOf(size);
  const [d, sOp] = ins.operands;
  const src = reader(cpu, sOp, size, ins.adsize);
  if (!writes) {
    const dst = reader(cpu, d, size, ins.adsize);
    return () => {
      const x = dst(), y = src();
      setLazy(s, lazyOp, x, y, combine(x, y, s) & mask, size);
    };
  }
  const dst = modifier(cpu, d, size, ins.adsize);
  return () => {
    const x = dst.get(), y = src();
    const r = combine(x, y, s) & mask;
    dst.set(r);
    setLazy(s, lazyOp, x, y, r, size);
  };
}

/** The operations of the generic forms, made once (a closure literal in an emitter is a new object per instruction). */
const COMBINE: Record<string, Combine> = {
  add: (x, y) => x + y, sub: (x, y) => x - y, adc: (x, y, st) => x + y + getCF(st), sbb: (x, y, st) => x - y - getCF(st),
  and: (x, y) => x & y, or: (x, y) => x | y, xor: (x, y) => x ^ y,
};

// Register numbers and the immediate are read at the emitter's top level, not in the branch that uses them:
// a `const` in a block that a closure captures costs a V8 context of its own, which the closure keeps alive.
/** True when the instruction is `op r32, r32` (then `a` and `b` are the register numbers). */
const regReg32 = (c: InstructionContext): boolean =>
  c.ins.size === 4 && c.ins.operands[0].kind === 'reg' && c.ins.operands[1].kind === 'reg';
const regImm32 = (c: InstructionContext): boolean =>
  c.ins.size === 4 && c.ins.operands[0].kind === 'reg' && c.ins.operands[1].kind === 'imm';
const reg = (c: InstructionContext, i: number): number => { const o = c.ins.operands[i]; return o.kind === 'reg' ? o.reg : -1; };
const imm = (c: InstructionContext, i: number): number => { const o = c.ins.operands[i]; return o.kind === 'imm' ? o.value | 0 : 0; };

// The 32-bit register forms' semantics, shared by their closures below and the run loop's compact records
// (records.ts): dst is a register number, y the source's value.
export const add32 = (s: Int32Array, a: number, y: number): void => { const x = s[a], r = (x + y) | 0; s[a] = r; setLazy(s, OP_ADD, x, y, r, 4); };
export const sub32 = (s: Int32Array, a: number, y: number): void => { const x = s[a], r = (x - y) | 0; s[a] = r; setLazy(s, OP_SUB, x, y, r, 4); };
export const cmp32 = (s: Int32Array, a: number, y: number): void => { const x = s[a]; setLazy(s, OP_SUB, x, y, (x - y) | 0, 4); };
export const and32 = (s: Int32Array, a: number, y: number): void => { const r = s[a] & y; s[a] = r; setLazy(s, OP_LOGIC, 0, 0, r, 4); };
export const or32 = (s: Int32Array, a: number, y: number): void => { const r = s[a] | y; s[a] = r; setLazy(s, OP_LOGIC, 0, 0, r, 4); };
export const xor32 = (s: Int32Array, a: number, y: number): void => { const r = s[a] ^ y; s[a] = r; setLazy(s, OP_LOGIC, 0, 0, r, 4); };
export const test32 = (s: Int32Array, a: number, y: number): void => { setLazy(s, OP_LOGIC, 0, 0, s[a] & y, 4); };
export const inc32 = (s: Int32Array, a: number): void => { const x = s[a], r = (x + 1) | 0; s[a] = r; setLazyKeepCF(s, OP_ADD, x, 1, r, 4); };
export const dec32 = (s: Int32Array, a: number): void => { const x = s[a], r = (x - 1) | 0; s[a] = r; setLazyKeepCF(s, OP_SUB, x, 1, r, 4); };

export const ALU: PlaceFreeTable = {
  ADD: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => add32(s, a, s[b]);
    }
    if (regImm32(c)) {
      return () => add32(s, a, y);
    }
    return binaryGeneric(c, COMBINE.add, OP_ADD, true);
  },
  SUB: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => sub32(s, a, s[b]);
    }
    if (regImm32(c)) {
      return () => sub32(s, a, y);
    }
    return binaryGeneric(c, COMBINE.sub, OP_SUB, true);
  },
  CMP: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => cmp32(s, a, s[b]);
    }
    if (regImm32(c)) {
      return () => cmp32(s, a, y);
    }
    return binaryGeneric(c, COMBINE.sub, OP_SUB, false);
  },
  // ADC/SBB: the carry-in joins the sum; the ADD/SUB lazy formulas recover carry and overflow from the
  // operands and the result, so the carry-in needs no record of its own.
  ADC: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => { const x = s[a], y = s[b], r = (x + y + getCF(s)) | 0; s[a] = r; setLazy(s, OP_ADD, x, y, r, 4); };
    }
    return binaryGeneric(c, COMBINE.adc, OP_ADD, true);
  },
  SBB: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => { const x = s[a], y = s[b], r = (x - y - getCF(s)) | 0; s[a] = r; setLazy(s, OP_SUB, x, y, r, 4); };
    }
    return binaryGeneric(c, COMBINE.sbb, OP_SUB, true);
  },
  AND: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => and32(s, a, s[b]);
    }
    if (regImm32(c)) {
      return () => and32(s, a, y);
    }
    return binaryGeneric(c, COMBINE.and, OP_LOGIC, true);
  },
  OR: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => or32(s, a, s[b]);
    }
    if (regImm32(c)) {
      return () => or32(s, a, y);
    }
    return binaryGeneric(c, COMBINE.or, OP_LOGIC, true);
  },
  XOR: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      if (a === b) return () => { s[a] = 0; setLazy(s, OP_LOGIC, 0, 0, 0, 4); }; // the zeroing idiom
      return () => xor32(s, a, s[b]);
    }
    if (regImm32(c)) {
      return () => xor32(s, a, y);
    }
    return binaryGeneric(c, COMBINE.xor, OP_LOGIC, true);
  },
  TEST: (c) => {
    const s = c.cpu.s, a = reg(c, 0), b = reg(c, 1), y = imm(c, 1);
    if (regReg32(c)) {
      return () => test32(s, a, s[b]);
    }
    if (regImm32(c)) {
      return () => test32(s, a, y);
    }
    return binaryGeneric(c, COMBINE.and, OP_LOGIC, false);
  },

  // INC/DEC leave CF alone (SDM: "The CF flag is not affected").
  INC: (c) => {
    const { cpu, ins } = c, size = ins.size, s = cpu.s, mask = maskOf(size), d = ins.operands[0], a = d.kind === 'reg' ? d.reg : -1;
    if (size === 4 && d.kind === 'reg') {
      return () => inc32(s, a);
    }
    const dst = modifier(cpu, d, size, ins.adsize);
    return () => { const x = dst.get(), r = (x + 1) & mask; dst.set(r); setLazyKeepCF(s, OP_ADD, x, 1, r, size); };
  },
  DEC: (c) => {
    const { cpu, ins } = c, size = ins.size, s = cpu.s, mask = maskOf(size), d = ins.operands[0], a = d.kind === 'reg' ? d.reg : -1;
    if (size === 4 && d.kind === 'reg') {
      return () => dec32(s, a);
    }
    const dst = modifier(cpu, d, size, ins.adsize);
    return () => { const x = dst.get(), r = (x - 1) & mask; dst.set(r); setLazyKeepCF(s, OP_SUB, x, 1, r, size); };
  },
  // NEG is 0 - x: CF = (x != 0), the other flags as for SUB.
  NEG: (c) => {
    const { cpu, ins } = c, size = ins.size, s = cpu.s, mask = maskOf(size);
    const dst = modifier(cpu, ins.operands[0], size, ins.adsize);
    return () => { const x = dst.get(), r = (0 - x) & mask; dst.set(r); setLazy(s, OP_SUB, 0, x, r, size); };
  },
  // NOT changes no flags.
  NOT: (c) => {
    const { cpu, ins } = c, size = ins.size, s = cpu.s, mask = maskOf(size), d = ins.operands[0], a = d.kind === 'reg' ? d.reg : -1;
    if (size === 4 && d.kind === 'reg') { return () => { s[a] = ~s[a]; }; }
    const dst = modifier(cpu, d, size, ins.adsize);
    return () => { dst.set(~dst.get() & mask); };
  },
};

/**
 * The lazy record `ins` leaves, as the next instruction of its block may rely on it (EmitContext.prev): a
 * Jcc or SETcc after it then tests its condition on a known writer, fused when it can (flag-semantics.ts).
 * Only 32-bit writers: a narrower record's operands may carry bits above their size (an MMIO read), which
 * the fused comparisons would see. Null: not an ALU instruction this knows.
 */
export function recordWriter(ins: Instruction | undefined): Writer {
  if (ins === undefined || ins.size !== 4) return null;
  switch (ins.op) {
    case 'CMP': case 'SUB': return { op: OP_SUB, size: 4, mask: ARITH_FLAGS, plainSub: true };
    case 'ADD': return { op: OP_ADD, size: 4, mask: ARITH_FLAGS, plainSub: false };
    case 'AND': case 'OR': case 'XOR': case 'TEST': return { op: OP_LOGIC, size: 4, mask: ARITH_FLAGS, plainSub: false };
    case 'INC': return { op: OP_ADD, size: 4, mask: ARITH_FLAGS & ~CF, plainSub: false };
    case 'DEC': return { op: OP_SUB, size: 4, mask: ARITH_FLAGS & ~CF, plainSub: false };
    default: return null;
  }
}
