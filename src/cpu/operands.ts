// Operand access shared by every semantic emitter (QEMU's habit: operands are fetched and written back
// by common code, so an emitter is a few lines of semantics). At decode time each operand becomes a small
// closure specialised to its form (register, immediate, memory with this addressing shape), so executing
// an instruction does no operand-kind dispatch.
// Every decoded instruction keeps its closures for as long as the code cache holds it (~130 K of them), so
// each closure is made by a one-line factory below: its V8 context then holds just what it uses (a closure
// made inside a larger function keeps that function's whole context, and a context per nested block, alive),
// and register readers and writers, the commonest operands, are made once per CPU and shared.
import type { MemOperand, Operand } from '../decoder/instruction.ts';
import type { Cpu } from './cpu.ts';

export type Exec = () => void;
export type Getter = () => number;
export type Setter = (v: number) => void;

// ---- Effective addresses: one factory per addressing shape ----
const eaConst = (d: number): Getter => () => d;
const ea16Base = (r16: Uint16Array, b: number): Getter => () => r16[b];
const ea16BaseDisp = (r16: Uint16Array, b: number, d: number): Getter => () => (r16[b] + d) & 0xffff;
const ea16BaseIndex = (r16: Uint16Array, b: number, i: number, d: number): Getter => () => (r16[b] + r16[i] + d) & 0xffff;
const eaBase = (s: Int32Array, b: number): Getter => () => s[b];
const eaBaseDisp = (s: Int32Array, b: number, d: number): Getter => () => (s[b] + d) | 0;
const eaBaseIndex = (s: Int32Array, b: number, i: number): Getter => () => (s[b] + s[i]) | 0;
const eaBaseIndexScaled = (s: Int32Array, b: number, i: number, sh: number): Getter => () => (s[b] + (s[i] << sh)) | 0;
const eaBaseIndexDisp = (s: Int32Array, b: number, i: number, sh: number, d: number): Getter => () => (s[b] + (s[i] << sh) + d) | 0;
const eaIndexDisp = (s: Int32Array, i: number, sh: number, d: number): Getter => () => ((s[i] << sh) + d) | 0;

/** Effective-address closure: the offset within the segment (uint16 for 16-bit addressing, int32 otherwise). */
export function effectiveAddress(cpu: Cpu, m: MemOperand, adsize: 16 | 32): Getter {
  const base = m.base, index = m.index, disp = m.disp | 0;
  if (adsize === 16) {
    const r16 = cpu.r16, b = base << 1, i = index << 1, d = disp & 0xffff;
    if (base >= 0 && index >= 0) return ea16BaseIndex(r16, b, i, d);
    if (base >= 0) return d === 0 ? ea16Base(r16, b) : ea16BaseDisp(r16, b, d);
    if (index >= 0) return ea16BaseDisp(r16, i, d);
    return eaConst(d);
  }
  const s = cpu.s, scale = m.scale, sh = scale === 8 ? 3 : scale === 4 ? 2 : scale === 2 ? 1 : 0;
  if (base >= 0 && index >= 0) {
    if (disp === 0) return sh === 0 ? eaBaseIndex(s, base, index) : eaBaseIndexScaled(s, base, index, sh);
    return eaBaseIndexDisp(s, base, index, sh, disp);
  }
  if (base >= 0) return disp === 0 ? eaBase(s, base) : eaBaseDisp(s, base, disp);
  if (index >= 0) return eaIndexDisp(s, index, sh, disp);
  return eaConst(disp);
}

// ---- Registers: 8 readers and 8 writers per size, made once per CPU ----
interface RegisterAccess { get: Getter[][]; set: Setter[][] }
const registerAccess = new WeakMap<Cpu, RegisterAccess>();
const r32Get = (s: Int32Array, r: number): Getter => () => s[r];
const r16Get = (r16: Uint16Array, i: number): Getter => () => r16[i];
const r8Get = (r8: Uint8Array, i: number): Getter => () => r8[i];
const r32Set = (s: Int32Array, r: number): Setter => (v) => { s[r] = v; };
const r16Set = (r16: Uint16Array, i: number): Setter => (v) => { r16[i] = v; };
const r8Set = (r8: Uint8Array, i: number): Setter => (v) => { r8[i] = v; };
/** Index in cpu.r8 of byte register r (0..3 = AL CL DL BL, 4..7 = AH CH DH BH). */
const byteIndex = (r: number): number => ((r & 3) << 2) | (r >> 2);

/** The shared accessors of `cpu`'s registers, indexed [size][register] (sizes 1, 2, 4). */
function registers(cpu: Cpu): RegisterAccess {
  let a = registerAccess.get(cpu);
  if (a === undefined) {
    const regs = [0, 1, 2, 3, 4, 5, 6, 7], get: Getter[][] = [], set: Setter[][] = [];
    get[4] = regs.map((r) => r32Get(cpu.s, r)); set[4] = regs.map((r) => r32Set(cpu.s, r));
    get[2] = regs.map((r) => r16Get(cpu.r16, r << 1)); set[2] = regs.map((r) => r16Set(cpu.r16, r << 1));
    get[1] = regs.map((r) => r8Get(cpu.r8, byteIndex(r))); set[1] = regs.map((r) => r8Set(cpu.r8, byteIndex(r)));
    registerAccess.set(cpu, (a = { get, set }));
  }
  return a;
}

// ---- Memory reads and writes ----
const constant = (v: number): Getter => () => v;
const mem32Get = (cpu: Cpu, seg: number, ea: Getter): Getter => () => cpu.read32(seg, ea());
const mem16Get = (cpu: Cpu, seg: number, ea: Getter): Getter => () => cpu.read16(seg, ea());
const mem8Get = (cpu: Cpu, seg: number, ea: Getter): Getter => () => cpu.read8(seg, ea());
const mem32Set = (cpu: Cpu, seg: number, ea: Getter): Setter => (v) => cpu.write32(seg, ea(), v);
const mem16Set = (cpu: Cpu, seg: number, ea: Getter): Setter => (v) => cpu.write16(seg, ea(), v);
const mem8Set = (cpu: Cpu, seg: number, ea: Getter): Setter => (v) => cpu.write8(seg, ea(), v);

/** A reader of a source operand of `size` bytes (register, immediate or memory). */
export function reader(cpu: Cpu, op: Operand, size: number, adsize: 16 | 32): Getter {
  switch (op.kind) {
    case 'reg': return registers(cpu).get[size][op.reg];
    case 'imm': return constant(size === 4 ? op.value | 0 : op.value & (size === 2 ? 0xffff : 0xff));
    case 'mem': {
      const ea = effectiveAddress(cpu, op, adsize), seg = op.seg;
      return size === 4 ? mem32Get(cpu, seg, ea) : size === 2 ? mem16Get(cpu, seg, ea) : mem8Get(cpu, seg, ea);
    }
    default: throw new Error(`operand kind ${op.kind} cannot be read as a value`);
  }
}

/** A writer of a destination operand (register or memory). */
export function writer(cpu: Cpu, op: Operand, size: number, adsize: 16 | 32): Setter {
  switch (op.kind) {
    case 'reg': return registers(cpu).set[size][op.reg];
    case 'mem': {
      const ea = effectiveAddress(cpu, op, adsize), seg = op.seg;
      return size === 4 ? mem32Set(cpu, seg, ea) : size === 2 ? mem16Set(cpu, seg, ea) : mem8Set(cpu, seg, ea);
    }
    default: throw new Error(`operand kind ${op.kind} cannot be written`);
  }
}

export interface Modifier { get: Getter; set: Setter }
const mem32Modifier = (cpu: Cpu, seg: number, ea: Getter): Modifier => {
  let lin = 0;
  return { get: () => cpu.readLin32(lin = cpu.linear(seg, ea(), 4, true)), set: (v) => cpu.writeLin32(lin, v) };
};
const mem16Modifier = (cpu: Cpu, seg: number, ea: Getter): Modifier => {
  let lin = 0;
  return { get: () => cpu.readLin16(lin = cpu.linear(seg, ea(), 2, true)), set: (v) => cpu.writeLin16(lin, v) };
};
const mem8Modifier = (cpu: Cpu, seg: number, ea: Getter): Modifier => {
  let lin = 0;
  return { get: () => cpu.readLin8(lin = cpu.linear(seg, ea(), 1, true)), set: (v) => cpu.writeLin8(lin, v) };
};

/**
 * Read-modify-write access to a destination: get() computes the address once, checks it for writing
 * (so a read-only segment faults before any state changes) and remembers it for set().
 */
export function modifier(cpu: Cpu, op: Operand, size: number, adsize: 16 | 32): Modifier {
  if (op.kind !== 'mem') return { get: reader(cpu, op, size, adsize), set: writer(cpu, op, size, adsize) };
  const ea = effectiveAddress(cpu, op, adsize), seg = op.seg;
  return size === 4 ? mem32Modifier(cpu, seg, ea) : size === 2 ? mem16Modifier(cpu, seg, ea) : mem8Modifier(cpu, seg, ea);
}

/** Mask of an operand size in bytes. */
export const maskOf = (size: number): number => (size === 4 ? -1 : size === 2 ? 0xffff : 0xff);
/** Sign-extend a value of `size` bytes to int32. */
export const signExtend = (v: number, size: number): number => (size === 4 ? v | 0 : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24);
