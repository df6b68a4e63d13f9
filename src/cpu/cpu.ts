// The vCPU: register file (a view over the CPU-state block in the VM's WebAssembly.Memory), segmented
// memory access with the RAM fast path, and the stack. Semantics (src/cpu/semantics) and the
// interpreter (interpreter.ts) are built on these few primitives.
import { CS, SS } from '../decoder/instruction.ts';
import type { IoBus } from '../machine/io-bus.ts';
import { type PhysicalMemory } from '../machine/memory.ts';
import { fault, GP, SS_ } from './fault.ts';
import {
  CODE32, CPL, CR0, CR0_PE, EFLAGS, ESP, PAGE_SHIFT, RAM_OFFSET, SEG_ATTR, SEG_BASE, SEG_LIMIT, SEG_SEL, STACK32, STATE_OFFSET,
  STATE_SLOTS, segSlot, VM,
} from './state.ts';

/** Segment attribute bits kept in the SEG_ATTR slot: descriptor bits 8..23 of the high dword (type, S, DPL, P, AVL, D/B, G). */
export const ATTR_ACCESSED = 0x1, ATTR_RW = 0x2, ATTR_DC = 0x4, ATTR_CODE = 0x8, ATTR_S = 0x10, ATTR_P = 0x80,
  ATTR_DB = 0x4000, ATTR_G = 0x8000;
/** Marks a segment register loaded with a null selector in protected mode (unusable). */
export const ATTR_UNUSABLE = 0x10000;

/** Why the run loop must leave the current block after this instruction (bit set, see breakBlock). */
export const BREAK_CODE_WRITE = 1, BREAK_STOP = 2, BREAK_MODE = 4;
/** A conditional branch in the middle of a block was taken (a side exit): CS is unchanged, links stay valid. */
export const BREAK_JUMP = 8;
/** The instruction set EIP itself (a REP string instruction yielding before it is done). */
export const BREAK_EIP_SET = 16;

export class Cpu {
  /** The CPU-state block as 32-bit slots (state.ts). */
  readonly s: Int32Array;
  /** Byte and word views over the same block, for AL..BH and AX..DI. */
  readonly r8: Uint8Array;
  readonly r16: Uint16Array;
  readonly mem: PhysicalMemory;
  readonly io: IoBus;
  /** DataView over the whole WebAssembly.Memory; guest RAM starts at RAM_OFFSET. */
  readonly view: DataView;
  readonly ramSize: number;
  readonly pageFlags: Uint8Array;
  /**
   * Per segment register: 0 when base is 0, the limit is 4 GiB, expand-up, readable and writable, so an
   * offset is the linear address without checks (the common flat case); 1 when checkedLinear must run.
   */
  readonly segSlow = new Uint8Array(6);
  /** Set by anything that must end the current decoded block after the current instruction. */
  breakBlock = 0;
  /** Set by HLT; the VM decides whether an interrupt can wake the CPU or the run ends. */
  halted = false;
  /** Instructions retired so far. */
  instructions = 0;
  /** Model-specific registers that the guest may write and read back (e.g. SYSENTER MSRs). */
  readonly msrs = new Map<number, bigint>();

  constructor(mem: PhysicalMemory, io: IoBus) {
    this.mem = mem;
    this.io = io;
    this.s = new Int32Array(mem.buffer, STATE_OFFSET, STATE_SLOTS);
    this.r8 = new Uint8Array(mem.buffer, STATE_OFFSET, 32);
    this.r16 = new Uint16Array(mem.buffer, STATE_OFFSET, 16);
    this.view = mem.view;
    this.ramSize = mem.ramSize;
    this.pageFlags = mem.pageFlags;
  }

  get protectedMode(): boolean { return (this.s[CR0] & CR0_PE) !== 0 && (this.s[EFLAGS] & VM) === 0; }
  get cpl(): number { return this.s[CPL]; }

  // ---- registers ----
  /** 8-bit register r (0..3 = AL CL DL BL, 4..7 = AH CH DH BH). */
  getReg8(r: number): number { return this.r8[((r & 3) << 2) | (r >> 2)]; }
  setReg8(r: number, v: number): void { this.r8[((r & 3) << 2) | (r >> 2)] = v; }
  getReg16(r: number): number { return this.r16[r << 1]; }
  setReg16(r: number, v: number): void { this.r16[r << 1] = v; }
  getReg(r: number, size: number): number {
    return size === 4 ? this.s[r] : size === 2 ? this.r16[r << 1] : this.r8[((r & 3) << 2) | (r >> 2)];
  }
  setReg(r: number, size: number, v: number): void {
    if (size === 4) this.s[r] = v;
    else if (size === 2) this.r16[r << 1] = v;
    else this.r8[((r & 3) << 2) | (r >> 2)] = v;
  }

  // ---- segmentation ----
  /** Recompute the fast-path flag of segment register seg after its cache changed. */
  refreshSegment(seg: number): void {
    const s = this.s, attr = s[segSlot(seg, SEG_ATTR)];
    const flat = s[segSlot(seg, SEG_BASE)] === 0 && s[segSlot(seg, SEG_LIMIT)] === -1 && !(attr & ATTR_UNUSABLE) &&
      (!(this.s[CR0] & CR0_PE) || ((attr & (ATTR_CODE | ATTR_RW | ATTR_DC)) === ATTR_RW));
    this.segSlow[seg] = flat ? 0 : 1;
    if (seg === CS) { s[CODE32] = attr & ATTR_DB ? 1 : 0; this.breakBlock |= BREAK_MODE; }
    if (seg === SS) s[STACK32] = attr & ATTR_DB ? 1 : 0;
  }

  /** Load a segment cache directly (reset, loaders, the API): no descriptor-table access. */
  setSegmentCache(seg: number, selector: number, base: number, limit: number, attr: number): void {
    const s = this.s;
    s[segSlot(seg, SEG_SEL)] = selector & 0xffff;
    s[segSlot(seg, SEG_BASE)] = base;
    s[segSlot(seg, SEG_LIMIT)] = limit;
    s[segSlot(seg, SEG_ATTR)] = attr;
    this.refreshSegment(seg);
  }

  /**
   * Linear address of seg:off for an access of `size` bytes, checking the segment's type and limit
   * (SDM Vol. 3, 5.3): #GP(0), or #SS(0) for the stack segment.
   */
  checkedLinear(seg: number, off: number, size: number, write: boolean): number {
    const s = this.s;
    const attr = s[segSlot(seg, SEG_ATTR)], limit = s[segSlot(seg, SEG_LIMIT)] >>> 0;
    const vector = seg === SS ? SS_ : GP;
    off >>>= 0;
    if (s[CR0] & CR0_PE && !(s[EFLAGS] & VM)) {
      if (attr & ATTR_UNUSABLE) throw fault(vector, 0);
      if (attr & ATTR_CODE) {
        if (write || !(attr & ATTR_RW)) throw fault(vector, 0);
      } else if (write && !(attr & ATTR_RW)) throw fault(vector, 0);
      if ((attr & (ATTR_CODE | ATTR_DC)) === ATTR_DC) {
        // Expand-down data segment: valid offsets are (limit, upper], upper = 0xFFFF or 0xFFFFFFFF.
        const upper = attr & ATTR_DB ? 0xffff_ffff : 0xffff;
        if (off <= limit || off + size - 1 > upper) throw fault(vector, 0);
        return (s[segSlot(seg, SEG_BASE)] + off) | 0;
      }
    }
    if (off + size - 1 > limit) throw fault(vector, 0);
    return (s[segSlot(seg, SEG_BASE)] + off) | 0;
  }

  linear(seg: number, off: number, size: number, write: boolean): number {
    return this.segSlow[seg] === 0 ? off | 0 : this.checkedLinear(seg, off, size, write);
  }

  // ---- linear-address accesses with the RAM fast path (no paging yet: linear = physical) ----
  readLin8(lin: number): number {
    return (lin >>> 0) < this.ramSize ? this.view.getUint8(RAM_OFFSET + (lin >>> 0)) : this.mem.read8(lin);
  }
  readLin16(lin: number): number {
    return (lin >>> 0) <= this.ramSize - 2 ? this.view.getUint16(RAM_OFFSET + (lin >>> 0), true) : this.mem.read(lin, 2);
  }
  readLin32(lin: number): number {
    return (lin >>> 0) <= this.ramSize - 4 ? this.view.getInt32(RAM_OFFSET + (lin >>> 0), true) : this.mem.read(lin, 4);
  }
  writeLin8(lin: number, v: number): void {
    lin >>>= 0;
    if (lin < this.ramSize && this.pageFlags[lin >>> PAGE_SHIFT] === 0) this.view.setUint8(RAM_OFFSET + lin, v);
    else this.mem.write(lin, 1, v);
  }
  writeLin16(lin: number, v: number): void {
    lin >>>= 0;
    if (lin <= this.ramSize - 2 && (this.pageFlags[lin >>> PAGE_SHIFT] | this.pageFlags[(lin + 1) >>> PAGE_SHIFT]) === 0)
      this.view.setUint16(RAM_OFFSET + lin, v, true);
    else this.mem.write(lin, 2, v);
  }
  writeLin32(lin: number, v: number): void {
    lin >>>= 0;
    if (lin <= this.ramSize - 4 && (this.pageFlags[lin >>> PAGE_SHIFT] | this.pageFlags[(lin + 3) >>> PAGE_SHIFT]) === 0)
      this.view.setInt32(RAM_OFFSET + lin, v, true);
    else this.mem.write(lin, 4, v);
  }
  readLin(lin: number, size: number): number {
    return size === 4 ? this.readLin32(lin) : size === 2 ? this.readLin16(lin) : this.readLin8(lin);
  }
  writeLin(lin: number, size: number, v: number): void {
    if (size === 4) this.writeLin32(lin, v); else if (size === 2) this.writeLin16(lin, v); else this.writeLin8(lin, v);
  }

  // ---- memory through segments (offsets are uint32 or int32; results are uint8/uint16/int32) ----
  read8(seg: number, off: number): number {
    return this.readLin8(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 1, false));
  }
  read16(seg: number, off: number): number {
    return this.readLin16(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 2, false));
  }
  read32(seg: number, off: number): number {
    return this.readLin32(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 4, false));
  }
  write8(seg: number, off: number, v: number): void {
    this.writeLin8(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 1, true), v);
  }
  write16(seg: number, off: number, v: number): void {
    this.writeLin16(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 2, true), v);
  }
  write32(seg: number, off: number, v: number): void {
    this.writeLin32(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 4, true), v);
  }
  read(seg: number, off: number, size: number): number {
    return size === 4 ? this.read32(seg, off) : size === 2 ? this.read16(seg, off) : this.read8(seg, off);
  }
  write(seg: number, off: number, size: number, v: number): void {
    if (size === 4) this.write32(seg, off, v); else if (size === 2) this.write16(seg, off, v); else this.write8(seg, off, v);
  }
  /** Check that seg:off..off+size-1 may be written, without writing (for instructions that must not half-complete). */
  probeWrite(seg: number, off: number, size: number): void {
    if (this.segSlow[seg] !== 0) this.checkedLinear(seg, off, size, true);
  }

  // ---- stack (SS, ESP or SP by SS.B; operand size 2 or 4) ----
  push(size: number, v: number): void {
    const s = this.s;
    if (s[STACK32]) {
      const sp = (s[ESP] - size) | 0;
      if (size === 4) this.write32(SS, sp, v); else this.write16(SS, sp, v);
      s[ESP] = sp;
    } else {
      const sp = (s[ESP] - size) & 0xffff;
      if (size === 4) this.write32(SS, sp, v); else this.write16(SS, sp, v);
      this.r16[ESP << 1] = sp;
    }
  }
  pop(size: number): number {
    const s = this.s;
    const sp = s[STACK32] ? s[ESP] : s[ESP] & 0xffff;
    const v = size === 4 ? this.read32(SS, sp) : this.read16(SS, sp);
    if (s[STACK32]) s[ESP] = sp + size; else this.r16[ESP << 1] = sp + size;
    return v;
  }
  /** Read the stack at ESP + delta without popping (for instructions that must check before committing). */
  peek(size: number, delta: number): number {
    const s = this.s;
    const sp = s[STACK32] ? (s[ESP] + delta) | 0 : (s[ESP] + delta) & 0xffff;
    return size === 4 ? this.read32(SS, sp) : this.read16(SS, sp);
  }
  /** Add to the stack pointer with the stack's width. */
  addSP(delta: number): void {
    if (this.s[STACK32]) this.s[ESP] = (this.s[ESP] + delta) | 0;
    else this.r16[ESP << 1] = this.s[ESP] + delta;
  }
}
