// Every register by name, for the embedding API (Unicorn's uc_reg_read/uc_reg_write): general registers at
// each width, EIP, EFLAGS, segment registers (with their descriptor caches), control, debug and
// descriptor-table registers, MSRs. Writes with side effects go through the CPU's own code for the
// instruction that writes the register (MOV Sreg, MOV CRn, LLDT, LTR, WRMSR); a fault it raises becomes
// a RangeError naming the register.
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import type { Cpu } from '../cpu/cpu.ts';
import { ATTR_CODE, ATTR_P, ATTR_S } from '../cpu/cpu.ts';
import { CpuFault, GP, NP } from '../cpu/fault.ts';
import { getEflags, setEflags } from '../cpu/flags.ts';
import { loadCodeSegment, loadSegment, readDescriptor } from '../cpu/segments.ts';
import { loadLdtr, loadTr, readMsr, writeControlRegister, writeMsr } from '../cpu/semantics/system.ts';
import {
  CPL, CR0, CR2, CR3, CR4, DR_SLOT, EIP, GDTR_BASE, GDTR_LIMIT, IDTR_BASE, IDTR_LIMIT, LDTR_SLOT, REG_NAMES16, REG_NAMES32, REG_NAMES8,
  SEG_ATTR, SEG_BASE, SEG_LIMIT, SEG_SEL, segSlot, TR_SLOT,
} from '../cpu/state.ts';
import { fault } from '../cpu/fault.ts';

export type SegmentName = 'es' | 'cs' | 'ss' | 'ds' | 'fs' | 'gs';
export type SystemSegmentName = SegmentName | 'ldtr' | 'tr';
export type AnyRegisterName =
  | (typeof REG_NAMES32)[number] | (typeof REG_NAMES16)[number] | (typeof REG_NAMES8)[number]
  | 'eip' | 'eflags' | SegmentName | 'ldtr' | 'tr' | 'cr0' | 'cr2' | 'cr3' | 'cr4'
  | 'dr0' | 'dr1' | 'dr2' | 'dr3' | 'dr6' | 'dr7' | 'gdtr.base' | 'gdtr.limit' | 'idtr.base' | 'idtr.limit' | 'cpl';

/** A segment register's selector and descriptor cache (attributes: descriptor bits 8..23 of the high dword, as cpu.ts's ATTR_*). */
export interface SegmentCache { selector: number; base: number; limit: number; attributes: number }

export const REGISTER_NAMES: readonly AnyRegisterName[] = [
  ...REG_NAMES32, ...REG_NAMES16, ...REG_NAMES8, 'eip', 'eflags', 'es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr',
  'cr0', 'cr2', 'cr3', 'cr4', 'dr0', 'dr1', 'dr2', 'dr3', 'dr6', 'dr7', 'gdtr.base', 'gdtr.limit', 'idtr.base', 'idtr.limit', 'cpl',
];

const SEGS: Record<SegmentName, number> = { es: ES, cs: CS, ss: SS, ds: DS, fs: FS, gs: GS };
const CRS: Record<string, number> = { cr0: 0, cr2: 2, cr3: 3, cr4: 4 };
const SLOTS: Record<string, number> = { 'gdtr.base': GDTR_BASE, 'gdtr.limit': GDTR_LIMIT, 'idtr.base': IDTR_BASE, 'idtr.limit': IDTR_LIMIT, cpl: CPL };

function unknown(name: string): never {
  throw new RangeError(`unknown register '${name}' (one of: ${REGISTER_NAMES.join(', ')})`);
}

/** The slot of a system segment's 4-slot block (selector, base, limit, attributes). */
function segBase(name: SystemSegmentName): number {
  if (name === 'ldtr') return LDTR_SLOT;
  if (name === 'tr') return TR_SLOT;
  const seg = SEGS[name];
  if (seg === undefined) unknown(name);
  return segSlot(seg, SEG_SEL);
}

/** A register's value as an unsigned integer (segment registers, LDTR, TR: the selector). */
export function readRegister(cpu: Cpu, name: AnyRegisterName): number {
  const s = cpu.s;
  let i = (REG_NAMES32 as readonly string[]).indexOf(name);
  if (i >= 0) return s[i] >>> 0;
  if ((i = (REG_NAMES16 as readonly string[]).indexOf(name)) >= 0) return cpu.getReg16(i);
  if ((i = (REG_NAMES8 as readonly string[]).indexOf(name)) >= 0) return cpu.getReg8(i);
  if (name === 'eip') return s[EIP] >>> 0;
  if (name === 'eflags') return getEflags(s) >>> 0;
  if (name in SEGS || name === 'ldtr' || name === 'tr') return s[segBase(name as SystemSegmentName)] & 0xffff;
  if (name in CRS) return s[[CR0, -1, CR2, CR3, CR4][CRS[name]]] >>> 0;
  if (/^dr[0-7]$/.test(name)) return s[DR_SLOT + Number(name[2])] >>> 0;
  if (name in SLOTS) return s[SLOTS[name]] >>> 0;
  return unknown(name);
}

/** Run one of the CPU's own register loads; a fault it raises becomes a RangeError naming the register. */
function asInstruction(what: string, load: () => void): void {
  try { load(); } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    throw new RangeError(`${what}: the processor would raise ${e.name}${e.errorCode >= 0 ? `(0x${e.errorCode.toString(16)})` : ''}`);
  }
}

/**
 * Write a register as the instruction that writes it would (no privilege check: the host may do what
 * ring 0 may). A segment register in protected mode loads its cache from the GDT/LDT, with MOV's checks
 * (CS: a present code segment; its RPL becomes the CPL); in real mode base = selector × 16.
 */
export function writeRegister(cpu: Cpu, name: AnyRegisterName, value: number): void {
  const s = cpu.s;
  let i = (REG_NAMES32 as readonly string[]).indexOf(name);
  if (i >= 0) { s[i] = value; return; }
  if ((i = (REG_NAMES16 as readonly string[]).indexOf(name)) >= 0) { cpu.setReg16(i, value); return; }
  if ((i = (REG_NAMES8 as readonly string[]).indexOf(name)) >= 0) { cpu.setReg8(i, value); return; }
  const what = `writing ${name} = 0x${(value >>> 0).toString(16)}`;
  if (name === 'eip') { s[EIP] = value; return; }
  if (name === 'eflags') { setEflags(s, value); return; }
  if (name === 'cs') { asInstruction(what, () => loadCs(cpu, value & 0xffff)); return; }
  if (name in SEGS) { asInstruction(what, () => loadSegment(cpu, SEGS[name as SegmentName], value)); return; }
  if (name === 'ldtr') { asInstruction(what, () => loadLdtr(cpu, value)); return; }
  if (name === 'tr') { asInstruction(what, () => loadTr(cpu, value)); return; }
  if (name in CRS) { asInstruction(what, () => writeControlRegister(cpu, CRS[name], value)); return; }
  if (/^dr[0-7]$/.test(name)) { s[DR_SLOT + Number(name[2])] = value; return; }
  if (name === 'cpl') throw new RangeError("cpl is read-only: write cs (its RPL becomes the CPL) or a segment cache");
  if (name in SLOTS) { s[SLOTS[name]] = value; return; }
  unknown(name);
}

/** CS from a selector: real mode as a far jump loads it; protected mode from a present code descriptor, CPL = RPL. */
function loadCs(cpu: Cpu, sel: number): void {
  if (!cpu.protectedMode) { cpu.setSegmentCache(CS, sel, sel << 4, cpu.s[segSlot(CS, SEG_LIMIT)], cpu.s[segSlot(CS, SEG_ATTR)]); return; }
  if ((sel & 0xfffc) === 0) throw fault(GP, 0);
  const d = readDescriptor(cpu, sel);
  if (!(d.attr & ATTR_S) || !(d.attr & ATTR_CODE)) throw fault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw fault(NP, sel & 0xfffc);
  loadCodeSegment(cpu, sel, d, sel & 3);
}

/** A segment register's (or LDTR's, TR's) selector and descriptor cache. */
export function readSegment(cpu: Cpu, name: SystemSegmentName): SegmentCache {
  const s = cpu.s, b = segBase(name);
  return { selector: s[b] & 0xffff, base: s[b + 1] >>> 0, limit: s[b + 2] >>> 0, attributes: s[b + 3] >>> 0 };
}

/** Set a descriptor cache directly (no descriptor table is read). For CS in protected mode the selector's RPL becomes the CPL. */
export function writeSegment(cpu: Cpu, name: SystemSegmentName, c: SegmentCache): void {
  const s = cpu.s, b = segBase(name);
  if (name === 'ldtr' || name === 'tr') { s[b] = c.selector & 0xffff; s[b + 1] = c.base; s[b + 2] = c.limit; s[b + 3] = c.attributes; return; }
  const seg = SEGS[name];
  cpu.setSegmentCache(seg, c.selector, c.base | 0, c.limit | 0, c.attributes);
  if (seg === CS && cpu.protectedMode) s[CPL] = c.selector & 3;
}

/** RDMSR's view of an MSR (the TSC, the SYSENTER MSRs); RangeError for one not implemented. */
export function readModelSpecific(cpu: Cpu, msr: number): bigint {
  let v = 0n;
  asInstruction(`reading MSR 0x${msr.toString(16)}`, () => { v = readMsr(cpu, msr >>> 0); });
  return v;
}

export function writeModelSpecific(cpu: Cpu, msr: number, value: bigint): void {
  asInstruction(`writing MSR 0x${msr.toString(16)}`, () => writeMsr(cpu, msr >>> 0, BigInt.asUintN(64, value)));
}
