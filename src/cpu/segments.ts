// Segment descriptors and segment-register loads (SDM Vol. 3, ch. 3 and 5; MOV/POP Sreg, LDS, far
// transfers). Reads descriptors from the GDT/LDT in guest memory, applies the protection checks and
// fills the segment caches in the state block.
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import { ATTR_ACCESSED, ATTR_CODE, ATTR_DC, ATTR_P, ATTR_RW, ATTR_S, ATTR_UNUSABLE, type Cpu } from './cpu.ts';
import { fault, GP, NP, SS_ } from './fault.ts';
import { CPL, GDTR_BASE, GDTR_LIMIT, LDTR_SLOT, SEG_ATTR, SEG_BASE, SEG_LIMIT, SEG_SEL, segSlot } from './state.ts';

/** A descriptor as read from a descriptor table. */
export interface Descriptor {
  lo: number; hi: number;
  /** Linear address of the descriptor (to set the accessed bit). */
  address: number;
  base: number;
  /** Byte-granular limit (G applied), uint32. */
  limit: number;
  /** Descriptor bits 8..23 of the high dword: type, S, DPL, P, AVL, D/B, G (the SEG_ATTR format). */
  attr: number;
  dpl: number;
}

export const attrOf = (hi: number): number => (hi >>> 8) & 0xf0ff;

export function decodeDescriptor(lo: number, hi: number, address: number): Descriptor {
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) | 0;
  let limit = (lo & 0xffff) | (hi & 0xf_0000);
  if (hi & (1 << 23)) limit = ((limit << 12) | 0xfff) >>> 0;
  const attr = attrOf(hi);
  return { lo, hi, address, base, limit, attr, dpl: (attr >> 5) & 3 };
}

/** Read the descriptor that `sel` names, or throw #GP(sel) if it lies outside its table. Null selectors are not checked here. */
export function readDescriptor(cpu: Cpu, sel: number, vector = GP): Descriptor {
  const s = cpu.s;
  let base: number, limit: number;
  if (sel & 4) {
    if (s[LDTR_SLOT + 3] & ATTR_UNUSABLE || (s[LDTR_SLOT] & 0xfffc) === 0) throw fault(vector, sel & 0xfffc);
    base = s[LDTR_SLOT + 1]; limit = s[LDTR_SLOT + 2] >>> 0;
  } else {
    base = s[GDTR_BASE]; limit = s[GDTR_LIMIT] >>> 0;
  }
  const index = sel & 0xfff8;
  if (index + 7 > limit) throw fault(vector, sel & 0xfffc);
  const address = (base + index) | 0;
  return decodeDescriptor(cpu.readSys32(address), cpu.readSys32(address + 4), address);
}

/** Set the accessed bit of a segment descriptor in memory, as the processor does on a load. */
export function markAccessed(cpu: Cpu, d: Descriptor): void {
  if (!(d.attr & ATTR_ACCESSED)) cpu.writeSys8(d.address + 5, (d.hi >>> 8) | 1);
}

/** Load the segment cache from a descriptor (selector as given). */
export function loadCache(cpu: Cpu, seg: number, sel: number, d: Descriptor): void {
  cpu.setSegmentCache(seg, sel, d.base, d.limit | 0, d.attr | ATTR_ACCESSED);
  if (cpu.log !== null) {
    const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
    cpu.log('sys', `load ${'ECSDFG'[seg]}S=${(sel & 0xffff).toString(16).padStart(4, '0')} base=${hex(d.base)} limit=${hex(d.limit)} attr=${(d.attr & 0xffff).toString(16).padStart(4, '0')} DPL=${d.dpl}`);
  }
}

/**
 * A virtual-8086 segment cache (SDM Vol. 3, 20.1.1): base = selector × 16, limit 0xFFFF, a present,
 * writable, accessed DPL-3 segment of 16-bit size, as QEMU's and Bochs's caches hold it.
 */
export const V86_ATTR = ATTR_P | ATTR_S | ATTR_RW | ATTR_ACCESSED | (3 << 5);
export function loadSegmentV86(cpu: Cpu, seg: number, sel: number): void {
  cpu.setSegmentCache(seg, sel & 0xffff, (sel & 0xffff) << 4, 0xffff, V86_ATTR);
}

/** Real-mode / virtual-8086 load: base = selector × 16; in real mode the limit and attributes stay as cached. */
export function loadSegmentReal(cpu: Cpu, seg: number, sel: number): void {
  const s = cpu.s;
  if (cpu.v86) { loadSegmentV86(cpu, seg, sel); return; }
  s[segSlot(seg, SEG_SEL)] = sel & 0xffff;
  s[segSlot(seg, SEG_BASE)] = (sel & 0xffff) << 4;
  // A real-mode load makes the segment usable again and, for code, keeps the cached limit.
  s[segSlot(seg, SEG_ATTR)] = s[segSlot(seg, SEG_ATTR)] & ~ATTR_UNUSABLE;
  cpu.refreshSegment(seg);
}

/**
 * MOV/POP/LxS to a data or stack segment register (not CS) with the protection checks of the SDM's
 * MOV instruction page: #GP(sel) for wrong type or privilege, #NP(sel) / #SS(sel) if not present,
 * #GP(0) for a null SS.
 */
export function loadSegment(cpu: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if (!cpu.protectedMode) { loadSegmentReal(cpu, seg, sel); return; }
  const cpl = cpu.s[CPL], rpl = sel & 3;
  if ((sel & 0xfffc) === 0) {
    if (seg === SS) throw fault(GP, 0);
    const s = cpu.s;
    s[segSlot(seg, SEG_SEL)] = sel; s[segSlot(seg, SEG_BASE)] = 0; s[segSlot(seg, SEG_LIMIT)] = 0;
    s[segSlot(seg, SEG_ATTR)] = ATTR_UNUSABLE;
    cpu.refreshSegment(seg);
    return;
  }
  const d = readDescriptor(cpu, sel);
  const a = d.attr;
  if (seg === SS) {
    if (rpl !== cpl || d.dpl !== cpl || !(a & ATTR_S) || (a & ATTR_CODE) || !(a & ATTR_RW)) throw fault(GP, sel & 0xfffc);
    if (!(a & ATTR_P)) throw fault(SS_, sel & 0xfffc);
  } else {
    if (!(a & ATTR_S) || ((a & ATTR_CODE) && !(a & ATTR_RW))) throw fault(GP, sel & 0xfffc);
    const conformingCode = (a & (ATTR_CODE | ATTR_DC)) === (ATTR_CODE | ATTR_DC);
    if (!conformingCode && (rpl > d.dpl || cpl > d.dpl)) throw fault(GP, sel & 0xfffc);
    if (!(a & ATTR_P)) throw fault(NP, sel & 0xfffc);
  }
  markAccessed(cpu, d);
  loadCache(cpu, seg, sel, d);
}

/**
 * The checks on the code segment a far RET or IRET returns to, in the SDM's order: a code segment, else
 * #GP(sel); conforming with DPL ≤ RPL or non-conforming with DPL = RPL, else #GP(sel); present, else #NP(sel).
 */
export function checkReturnCodeSegment(sel: number, d: Descriptor): void {
  const a = d.attr, rpl = sel & 3;
  if (!(a & ATTR_S) || !(a & ATTR_CODE)) throw fault(GP, sel & 0xfffc);
  if (a & ATTR_DC ? d.dpl > rpl : d.dpl !== rpl) throw fault(GP, sel & 0xfffc);
  if (!(a & ATTR_P)) throw fault(NP, sel & 0xfffc);
}

/** Load CS with `sel` at privilege `cpl` (RPL of the loaded selector becomes CPL). */
export function loadCodeSegment(cpu: Cpu, sel: number, d: Descriptor, cpl: number): void {
  markAccessed(cpu, d);
  loadCache(cpu, CS, (sel & 0xfffc) | cpl, d);
  cpu.s[CPL] = cpl;
}

/** After a return to an outer privilege level, data segments the new CPL may not use become null (SDM RET/IRET). */
export function nullInaccessibleSegments(cpu: Cpu): void {
  const s = cpu.s, cpl = s[CPL];
  for (const seg of [ES, DS, FS, GS]) {
    const a = s[segSlot(seg, SEG_ATTR)];
    if (a & ATTR_UNUSABLE) continue;
    const dpl = (a >> 5) & 3;
    const conformingCode = (a & (ATTR_CODE | ATTR_DC)) === (ATTR_CODE | ATTR_DC);
    if (!conformingCode && dpl < cpl) {
      s[segSlot(seg, SEG_SEL)] = 0; s[segSlot(seg, SEG_ATTR)] = ATTR_UNUSABLE;
      cpu.refreshSegment(seg);
    }
  }
}
