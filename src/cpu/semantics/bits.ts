// Bit and byte instructions (SDM Vol. 1 7.3.7, 7.3.8; Vol. 2 BT BTS BTR BTC BSF BSR BSWAP SETcc CMOVcc)
// and the exchanging compare/add family (XADD CMPXCHG CMPXCHG8B). With a memory operand and a register
// bit offset, the offset is signed and may address memory outside the operand (SDM BT: "bit string").
import type { MemOperand } from '../../decoder/instruction.ts';
import type { Cpu } from '../cpu.ts';
import { fault, UD } from '../fault.ts';
import { conditionFor, OP_ADD, OP_LOGIC, OP_SUB, setFlagBits, setLazy } from '../flags.ts';
import { effectiveAddress, maskOf, modifier, reader, signExtend, writer, type Exec, type Getter } from '../operands.ts';
import { CF, EAX, EBX, ECX, EDX, ZF } from '../state.ts';
import { recordWriter } from './alu.ts';
import type { EmitContext, EmitterTable } from './emitter.ts';

/** How a BT-family instruction changes the selected bit of its operand. */
type BitUpdate = (v: number, bit: number) => number;
const BT_KEEP: BitUpdate | null = null;
const BTS_SET: BitUpdate = (v, b) => v | b;
const BTR_RESET: BitUpdate = (v, b) => v & ~b;
const BTC_COMPLEMENT: BitUpdate = (v, b) => v ^ b;

/**
 * BT/BTS/BTR/BTC. CF receives the selected bit; OF SF AF PF are undefined (left unchanged here, as on
 * Intel), ZF is unaffected.
 */
function bitTest(c: EmitContext, update: BitUpdate | null): Exec {
  const { cpu, ins } = c, s = cpu.s, size = ins.size, bits = size * 8, shift = size === 4 ? 5 : 4;
  const [d, o] = ins.operands;
  if (d.kind === 'reg' || o.kind === 'imm') {
    // The offset is taken modulo the operand width.
    const dst = modifier(cpu, d, size, ins.adsize);
    if (o.kind === 'imm') {
      const bit = 1 << (o.value & (bits - 1)), mask = maskOf(size);
      if (update === null) { const get = reader(cpu, d, size, ins.adsize); return () => setFlagBits(s, CF, get() & bit ? CF : 0); }
      return () => { const v = dst.get(); dst.set(update(v, bit) & mask); setFlagBits(s, CF, v & bit ? CF : 0); };
    }
    const off = reader(cpu, o, size, ins.adsize), mask = maskOf(size);
    if (update === null) { const get = reader(cpu, d, size, ins.adsize); return () => { const bit = 1 << (off() & (bits - 1)); setFlagBits(s, CF, get() & bit ? CF : 0); }; }
    return () => {
      const bit = 1 << (off() & (bits - 1)), v = dst.get();
      dst.set(update(v, bit) & mask);
      setFlagBits(s, CF, v & bit ? CF : 0);
    };
  }
  // Memory operand, register offset: a bit string starting at the operand's address.
  const m = d as MemOperand, ea = effectiveAddress(cpu, m, ins.adsize), seg = m.seg, off = reader(cpu, o, size, ins.adsize);
  const adMask = ins.adsize === 16 ? 0xffff : -1, mask = maskOf(size);
  return () => {
    const offset = signExtend(off(), size);
    const addr = (ea() + (offset >> shift) * size) & adMask, bit = 1 << (offset & (bits - 1));
    if (update === null) { setFlagBits(s, CF, cpu.read(seg, addr, size) & bit ? CF : 0); return; }
    const lin = cpu.linear(seg, addr, size, true), v = cpu.readLin(lin, size);
    cpu.writeLin(lin, size, update(v, bit) & mask);
    setFlagBits(s, CF, v & bit ? CF : 0);
  };
}

/**
 * BSF/BSR: ZF = (source == 0), and the destination is left unchanged then. CF OF SF AF PF are undefined;
 * the host Intel CPU clears CF OF SF AF and sets PF from the index found (as for a zero result when the
 * source is 0), which is what a lazy OP_LOGIC record of the index gives.
 */
function bitScan(c: EmitContext, reverse: boolean): Exec {
  const { cpu, ins } = c, s = cpu.s, size = ins.size;
  const src = reader(cpu, ins.operands[1], size, ins.adsize), dst = writer(cpu, ins.operands[0], size, ins.adsize);
  return () => {
    const v = src();
    if (v === 0) { setLazy(s, OP_LOGIC, 0, 0, 0, 4); return; }
    const index = reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v);
    dst(index);
    // ZF from the lazy record must be 0: the index can be 0, so record it with a non-zero bit above the low byte.
    setLazy(s, OP_LOGIC, 0, 0, index | 0x100, 4);
  };
}

/** The accumulator of a size: AL, AX or EAX. */
function accumulator(cpu: Cpu, size: number): { get: Getter; set: (v: number) => void } {
  return {
    get: () => cpu.getReg(EAX, size),
    set: (v) => cpu.setReg(EAX, size, v),
  };
}

export const BITS: EmitterTable = {
  BT: (c) => bitTest(c, BT_KEEP),
  BTS: (c) => bitTest(c, BTS_SET),
  BTR: (c) => bitTest(c, BTR_RESET),
  BTC: (c) => bitTest(c, BTC_COMPLEMENT),
  BSF: (c) => bitScan(c, false),
  BSR: (c) => bitScan(c, true),

  BSWAP: ({ cpu, ins }) => {
    const s = cpu.s, d = ins.operands[0];
    if (d.kind !== 'reg') throw new Error('BSWAP: register operand expected');
    const r = d.reg;
    // With a 16-bit operand the result is undefined; Intel hardware clears the register's low word.
    if (ins.size === 2) return () => { cpu.r16[r << 1] = 0; };
    return () => { const v = s[r]; s[r] = (v << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24); };
  },

  SETCC: ({ cpu, ins, prev }) => {
    const cond = conditionFor(cpu.s, ins.cond, recordWriter(prev)), set = writer(cpu, ins.operands[0], 1, ins.adsize);
    return () => set(cond() ? 1 : 0);
  },

  // CMOVcc reads its source whatever the condition (a memory source can fault even when nothing moves).
  CMOVCC: ({ cpu, ins, prev }) => {
    const s = cpu.s, size = ins.size, d = ins.operands[0], cond = conditionFor(s, ins.cond, recordWriter(prev));
    if (d.kind !== 'reg') throw new Error('CMOVcc: register destination expected');
    const r = d.reg, src = reader(cpu, ins.operands[1], size, ins.adsize);
    if (size === 4) return () => { const v = src(); if (cond()) s[r] = v; };
    return () => { const v = src(); if (cond()) cpu.r16[r << 1] = v; };
  },

  // XADD: TEMP = SRC + DEST; SRC = DEST; DEST = TEMP (the destination is written last).
  XADD: ({ cpu, ins }) => {
    const s = cpu.s, size = ins.size, mask = maskOf(size);
    const o = ins.operands[1];
    if (o.kind !== 'reg') throw new Error('XADD: register source expected');
    const dst = modifier(cpu, ins.operands[0], size, ins.adsize), src = o.reg;
    return () => {
      const x = dst.get(), y = cpu.getReg(src, size), r = (x + y) & mask;
      cpu.setReg(src, size, x);
      dst.set(r);
      setLazy(s, OP_ADD, x, y, r, size);
    };
  },

  // CMPXCHG: compare the accumulator with DEST; equal: DEST = SRC, else the accumulator = DEST.
  CMPXCHG: ({ cpu, ins }) => {
    const s = cpu.s, size = ins.size, mask = maskOf(size), acc = accumulator(cpu, size);
    const dst = modifier(cpu, ins.operands[0], size, ins.adsize), src = reader(cpu, ins.operands[1], size, ins.adsize);
    return () => {
      const x = dst.get(), a = acc.get() & mask, y = src();
      if (a === (x & mask)) dst.set(y);
      else { dst.set(x); acc.set(x); }
      setLazy(s, OP_SUB, a, x, (a - x) & mask, size);
    };
  },

  // CMPXCHG8B m64: compare EDX:EAX with m64; equal: ZF = 1 and m64 = ECX:EBX; else ZF = 0 and
  // EDX:EAX = m64 (the memory is written back either way). Only ZF changes.
  CMPXCHG8B: ({ cpu, ins }) => {
    const s = cpu.s, m = ins.operands[0];
    if (m?.kind !== 'mem') return () => { throw fault(UD); };
    const ea = effectiveAddress(cpu, m, ins.adsize), seg = m.seg;
    return () => {
      const lin = cpu.linear(seg, ea(), 8, true);
      const lo = cpu.readLin32(lin), hi = cpu.readLin32((lin + 4) | 0);
      if (lo === s[EAX] && hi === s[EDX]) {
        cpu.writeLin32(lin, s[EBX]); cpu.writeLin32((lin + 4) | 0, s[ECX]);
        setFlagBits(s, ZF, ZF);
      } else {
        cpu.writeLin32(lin, lo); cpu.writeLin32((lin + 4) | 0, hi);
        s[EAX] = lo; s[EDX] = hi;
        setFlagBits(s, ZF, 0);
      }
    };
  },
};
