// Operand access shared by every semantic emitter (QEMU's habit: operands are fetched and written back
// by common code, so an emitter is a few lines of semantics). At decode time each operand becomes a small
// closure specialised to its form (register, immediate, memory with this addressing shape), so executing
// an instruction does no operand-kind dispatch.
import type { MemOperand, Operand } from '../decoder/instruction.ts';
import type { Cpu } from './cpu.ts';

export type Exec = () => void;
export type Getter = () => number;
export type Setter = (v: number) => void;

/** Effective-address closure: the offset within the segment (uint16 for 16-bit addressing, int32 otherwise). */
export function effectiveAddress(cpu: Cpu, m: MemOperand, adsize: 16 | 32): Getter {
  const s = cpu.s, base = m.base, index = m.index, scale = m.scale, disp = m.disp | 0;
  if (adsize === 16) {
    const r16 = cpu.r16, b = base << 1, i = index << 1, d = disp & 0xffff;
    if (base >= 0 && index >= 0) return () => (r16[b] + r16[i] + d) & 0xffff;
    if (base >= 0) return d === 0 ? () => r16[b] : () => (r16[b] + d) & 0xffff;
    if (index >= 0) return () => (r16[i] + d) & 0xffff;
    return () => d;
  }
  const sh = scale === 8 ? 3 : scale === 4 ? 2 : scale === 2 ? 1 : 0;
  if (base >= 0 && index >= 0) {
    if (disp === 0) return sh === 0 ? () => (s[base] + s[index]) | 0 : () => (s[base] + (s[index] << sh)) | 0;
    return () => (s[base] + (s[index] << sh) + disp) | 0;
  }
  if (base >= 0) return disp === 0 ? () => s[base] : () => (s[base] + disp) | 0;
  if (index >= 0) return () => ((s[index] << sh) + disp) | 0;
  return () => disp;
}

/** A reader of a source operand of `size` bytes (register, immediate or memory). */
export function reader(cpu: Cpu, op: Operand, size: number, adsize: 16 | 32): Getter {
  const s = cpu.s, r16 = cpu.r16, r8 = cpu.r8;
  switch (op.kind) {
    case 'reg': {
      const r = op.reg;
      if (size === 4) return () => s[r];
      if (size === 2) { const i = r << 1; return () => r16[i]; }
      const i = ((r & 3) << 2) | (r >> 2);
      return () => r8[i];
    }
    case 'imm': { const v = size === 4 ? op.value | 0 : op.value & (size === 2 ? 0xffff : 0xff); return () => v; }
    case 'mem': {
      const ea = effectiveAddress(cpu, op, adsize), seg = op.seg;
      if (size === 4) return () => cpu.read32(seg, ea());
      if (size === 2) return () => cpu.read16(seg, ea());
      return () => cpu.read8(seg, ea());
    }
    default: throw new Error(`operand kind ${op.kind} cannot be read as a value`);
  }
}

/** A writer of a destination operand (register or memory). */
export function writer(cpu: Cpu, op: Operand, size: number, adsize: 16 | 32): Setter {
  const s = cpu.s, r16 = cpu.r16, r8 = cpu.r8;
  switch (op.kind) {
    case 'reg': {
      const r = op.reg;
      if (size === 4) return (v) => { s[r] = v; };
      if (size === 2) { const i = r << 1; return (v) => { r16[i] = v; }; }
      const i = ((r & 3) << 2) | (r >> 2);
      return (v) => { r8[i] = v; };
    }
    case 'mem': {
      const ea = effectiveAddress(cpu, op, adsize), seg = op.seg;
      if (size === 4) return (v) => cpu.write32(seg, ea(), v);
      if (size === 2) return (v) => cpu.write16(seg, ea(), v);
      return (v) => cpu.write8(seg, ea(), v);
    }
    default: throw new Error(`operand kind ${op.kind} cannot be written`);
  }
}

/**
 * Read-modify-write access to a destination: get() computes the address once, checks it for writing
 * (so a read-only segment faults before any state changes) and remembers it for set().
 */
export function modifier(cpu: Cpu, op: Operand, size: number, adsize: 16 | 32): { get: Getter; set: Setter } {
  if (op.kind !== 'mem') return { get: reader(cpu, op, size, adsize), set: writer(cpu, op, size, adsize) };
  const ea = effectiveAddress(cpu, op, adsize), seg = op.seg;
  let lin = 0;
  if (size === 4) return { get: () => cpu.readLin32(lin = cpu.linear(seg, ea(), 4, true)), set: (v) => cpu.writeLin32(lin, v) };
  if (size === 2) return { get: () => cpu.readLin16(lin = cpu.linear(seg, ea(), 2, true)), set: (v) => cpu.writeLin16(lin, v) };
  return { get: () => cpu.readLin8(lin = cpu.linear(seg, ea(), 1, true)), set: (v) => cpu.writeLin8(lin, v) };
}

/** Mask of an operand size in bytes. */
export const maskOf = (size: number): number => (size === 4 ? -1 : size === 2 ? 0xffff : 0xff);
/** Sign-extend a value of `size` bytes to int32. */
export const signExtend = (v: number, size: number): number => (size === 4 ? v | 0 : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24);
