// Test helpers for the loader tests: a tiny ELF32 builder, Multiboot header bytes, and a fake
// LoadTarget around a real PhysicalMemory that records the processor state a loader asks for.
import { PhysicalMemory } from '../src/machine/memory.ts';
import type { LoadRegister, LoadTarget, SegmentName } from '../src/loader/load-target.ts';

export interface SegmentSpec {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memSize?: number;
  flags?: number;
  /** p_type (default PT_LOAD = 1). */
  type?: number;
}

export interface ElfSpec {
  entry: number;
  segments: SegmentSpec[];
  type?: number;
  machine?: number;
  cls?: number;
  data?: number;
}

export interface BuiltElf {
  bytes: Uint8Array;
  /** File offset of each segment's data. */
  offsets: number[];
  phoff: number;
}

/** An ELF32 little-endian executable: header, program headers, then each segment's bytes (16-byte aligned). */
export function buildElf(spec: ElfSpec): BuiltElf {
  const phoff = 52, phnum = spec.segments.length;
  let pos = phoff + 32 * phnum;
  const offsets = spec.segments.map((s) => { pos = (pos + 15) & ~15; const o = pos; pos += s.data.length; return o; });
  const bytes = new Uint8Array(pos);
  const v = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, spec.cls ?? 1, spec.data ?? 1, 1, 0]);
  v.setUint16(16, spec.type ?? 2, true);
  v.setUint16(18, spec.machine ?? 3, true);
  v.setUint32(20, 1, true);
  v.setUint32(24, spec.entry, true);
  v.setUint32(28, phoff, true);
  v.setUint32(32, 0, true); // no section headers
  v.setUint16(40, 52, true);
  v.setUint16(42, 32, true);
  v.setUint16(44, phnum, true);
  spec.segments.forEach((s, i) => {
    const at = phoff + 32 * i;
    v.setUint32(at, s.type ?? 1, true);
    v.setUint32(at + 4, offsets[i], true);
    v.setUint32(at + 8, s.vaddr ?? s.paddr, true);
    v.setUint32(at + 12, s.paddr, true);
    v.setUint32(at + 16, s.data.length, true);
    v.setUint32(at + 20, s.memSize ?? s.data.length, true);
    v.setUint32(at + 24, s.flags ?? 5, true);
    v.setUint32(at + 28, 16, true);
    bytes.set(s.data, offsets[i]);
  });
  return { bytes, offsets, phoff };
}

export interface AoutFields { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }

/** Multiboot header bytes: 12 bytes, 32 with the a.out-kludge fields, 48 when flags bit 2 asks for video. */
export function multibootHeader(flags: number, aout?: AoutFields, checksumDelta = 0): Uint8Array {
  const size = flags & 4 ? 48 : aout || flags & 0x10000 ? 32 : 12;
  const b = new Uint8Array(size);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x1badb002, true);
  v.setUint32(4, flags >>> 0, true);
  v.setUint32(8, (-(0x1badb002 + flags) + checksumDelta) >>> 0, true);
  if (aout) {
    v.setUint32(12, aout.headerAddr, true); v.setUint32(16, aout.loadAddr, true); v.setUint32(20, aout.loadEndAddr, true);
    v.setUint32(24, aout.bssEndAddr, true); v.setUint32(28, aout.entryAddr, true);
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Deterministic non-zero filler. */
export function pattern(length: number, seed = 1): Uint8Array {
  const b = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = (x & 0xff) | 1; }
  return b;
}

export type Mode = 'unset' | 'real' | 'flat32';

/** A LoadTarget that keeps the registers a loader sets, and the order of mode changes. */
export class FakeTarget implements LoadTarget {
  readonly memory: PhysicalMemory;
  mode: Mode = 'unset';
  regs: Partial<Record<LoadRegister, number>> = {};
  segments: Partial<Record<SegmentName, number>> = {};
  calls: string[] = [];

  constructor(ramSize = 2 << 20, withRealSegments = true) {
    this.memory = new PhysicalMemory(ramSize);
    if (!withRealSegments) this.setSegmentReal = undefined;
  }

  resetReal(): void {
    this.calls.push('resetReal');
    this.mode = 'real';
    this.regs = { eax: 0, ebx: 0, ecx: 0, edx: 0, esp: 0, ebp: 0, esi: 0, edi: 0, eip: 0xfff0, eflags: 2 };
    this.segments = { cs: 0xf000, ds: 0, es: 0, fs: 0, gs: 0, ss: 0 };
  }

  gdt?: { base: number; limit: number };

  setFlat32(selectors?: { code: number; data: number; gdtBase: number; gdtLimit: number }): void {
    this.calls.push('setFlat32');
    this.mode = 'flat32';
    const code = selectors?.code ?? 0x08, data = selectors?.data ?? 0x10;
    this.segments = { cs: code, ds: data, es: data, fs: data, gs: data, ss: data };
    if (selectors) this.gdt = { base: selectors.gdtBase, limit: selectors.gdtLimit };
  }

  setRegisters(r: Partial<Record<LoadRegister, number>>): void {
    this.calls.push('setRegisters');
    Object.assign(this.regs, r);
  }

  setSegmentReal?: (seg: SegmentName, selector: number) => void = (seg, selector) => {
    this.calls.push(`setSegmentReal ${seg}`);
    this.segments[seg] = selector;
  };

  u32(addr: number): number { return this.memory.read(addr, 4) >>> 0; }

  cString(addr: number): string {
    let s = '';
    for (let a = addr; this.memory.read8(a) !== 0; a++) s += String.fromCharCode(this.memory.read8(a));
    return s;
  }
}

/** Fast byte comparison for large buffers (toEqual on 100 KiB arrays is slow); names the first difference. */
export function sameBytes(actual: Uint8Array, expected: Uint8Array): string {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  if (Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.length))) return 'same';
  const i = actual.findIndex((b, k) => b !== expected[k]);
  return `differs at ${i}: ${actual[i]} vs ${expected[i]}`;
}
