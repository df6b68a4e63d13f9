// Virtual-8086 mode on a bare CPU: what test-roms/v86.elf cannot reach deterministically under QEMU — a
// hardware interrupt taken in virtual-8086 mode (its frame, IF cleared by an interrupt gate, kept by a
// trap gate), the gate targets the SDM refuses (#GP(selector) for a DPL-3 or a conforming code segment),
// and paging's user checks at CPL 3. Expected values from the SDM (Vol. 2 INT n "INTERRUPT-FROM-VIRTUAL-
// 8086-MODE", IRET "RETURN-TO-VIRTUAL-8086-MODE"; Vol. 3A 4.6, 20.1).
import { describe, expect, it } from 'vitest';
import type { Cpu } from '../src/cpu/cpu.ts';
import { CpuFault } from '../src/cpu/fault.ts';
import { getEflags } from '../src/cpu/flags.ts';
import { deliverInterrupt } from '../src/cpu/interrupts.ts';
import { decodeDescriptor } from '../src/cpu/segments.ts';
import { writeControlRegister } from '../src/cpu/semantics/system.ts';
import {
  CODE32, CPL, CR0, CR0_PE, CR3, EIP, ESP, GDTR_BASE, GDTR_LIMIT, IDTR_BASE, IDTR_LIMIT, IF, SEG_ATTR, SEG_BASE, SEG_LIMIT,
  SEG_SEL, segSlot, STACK32, TR_SLOT, VM,
} from '../src/cpu/state.ts';
import { CS, DS, ES, FS, GS, SS } from '../src/decoder/instruction.ts';
import { compile, machine } from './semantics-helpers.ts';

const GDT = 0x10000, IDT = 0x11000, TSS = 0x12000, STACK0 = 0x20000;
const CODE0 = 0x08, DATA0 = 0x10, CODE3 = 0x1b, CONFORMING0 = 0x20, TSS_SEL = 0x28;
const HANDLER = 0x4000;
/** The virtual-8086 state every test starts from (IRET's frame): CS:IP 1234:0010, SS:SP 2000:FFF0. */
const V86 = { eip: 0x10, cs: 0x1234, eflags: VM | 0x3000 | IF | 0x2, esp: 0xfff0, ss: 0x2000, es: 0x3000, ds: 0x4000, fs: 0x5000, gs: 0x6000 };
const VEC_INT = 0x20, VEC_TRAP = 0x21, VEC_DPL3 = 0x22, VEC_CONFORMING = 0x23;

function setup() {
  const { cpu, mem } = machine();
  const desc = (sel: number, lo: number, hi: number): void => { mem.write(GDT + (sel & 0xfff8), 4, lo); mem.write(GDT + (sel & 0xfff8) + 4, 4, hi); };
  desc(CODE0, 0x0000ffff, 0x00cf9a00);
  desc(DATA0, 0x0000ffff, 0x00cf9200);
  desc(CODE3, 0x0000ffff, 0x00cffa00);
  desc(CONFORMING0, 0x0000ffff, 0x00cf9e00);
  desc(TSS_SEL, 0x67 | (TSS << 16), 0x8900 | (TSS >>> 16));
  mem.write(TSS + 4, 4, STACK0); mem.write(TSS + 8, 4, DATA0);
  const gate = (v: number, sel: number, type: number): void => {
    mem.write(IDT + v * 8, 4, (sel << 16) | HANDLER); mem.write(IDT + v * 8 + 4, 4, 0x8000 | (3 << 13) | (type << 8));
  };
  gate(VEC_INT, CODE0, 0xe); gate(VEC_TRAP, CODE0, 0xf); gate(VEC_DPL3, CODE3 & ~3, 0xe); gate(VEC_CONFORMING, CONFORMING0, 0xe);
  const s = cpu.s;
  s[GDTR_BASE] = GDT; s[GDTR_LIMIT] = 0xff; s[IDTR_BASE] = IDT; s[IDTR_LIMIT] = 0x7ff;
  s[CR0] |= CR0_PE; s[CPL] = 0;
  s[TR_SLOT] = TSS_SEL; s[TR_SLOT + 1] = TSS; s[TR_SLOT + 2] = 0x67; s[TR_SLOT + 3] = 0x8b;
  const load = (seg: number, sel: number): void => {
    const at = GDT + (sel & 0xfff8), d = decodeDescriptor(mem.read(at, 4), mem.read(at + 4, 4), at);
    cpu.setSegmentCache(seg, sel, d.base, d.limit | 0, d.attr | 1);
  };
  load(CS, CODE0); load(SS, DATA0); load(DS, DATA0); load(ES, DATA0);
  // IRETD from ring 0 with V86's frame on the stack.
  s[ESP] = STACK0 - 0x100;
  const frame = [V86.eip, V86.cs, V86.eflags, V86.esp, V86.ss, V86.es, V86.ds, V86.fs, V86.gs];
  frame.forEach((v, i) => mem.write(STACK0 - 0x100 + 4 * i, 4, v));
  const fault = compile(cpu, 'cf', 32).run();
  if (fault) throw new Error(`IRETD to virtual-8086 mode raised ${fault.name}`);
  return { cpu, mem, s };
}

const selectors = (cpu: Cpu): number[] => [ES, CS, SS, DS, FS, GS].map((seg) => cpu.s[segSlot(seg, SEG_SEL)]);
function faultOf(f: () => void): CpuFault | null {
  try { f(); return null; } catch (e) { if (e instanceof CpuFault) return e; throw e; }
}

describe('virtual-8086 mode', () => {
  it('IRETD from ring 0 with VM: CPL 3, real-mode segment caches, 16-bit code and stack', () => {
    const { cpu, s } = setup();
    expect([cpu.v86, cpu.protectedMode, s[CPL], s[CODE32], s[STACK32], s[EIP], s[ESP]]).toEqual([true, false, 3, 0, 0, V86.eip, V86.esp]);
    expect(selectors(cpu)).toEqual([V86.es, V86.cs, V86.ss, V86.ds, V86.fs, V86.gs]);
    for (const seg of [ES, CS, SS, DS, FS, GS]) {
      expect([s[segSlot(seg, SEG_BASE)], s[segSlot(seg, SEG_LIMIT)], (s[segSlot(seg, SEG_ATTR)] >> 5) & 3]).toEqual([s[segSlot(seg, SEG_SEL)] << 4, 0xffff, 3]);
    }
    expect(getEflags(s)).toBe(V86.eflags);
  });

  it('a hardware interrupt through an interrupt gate: the V86 frame on the ring-0 stack, IF clear, data segments null; IRETD returns', () => {
    const { cpu, mem, s } = setup();
    deliverInterrupt(cpu, VEC_INT, { software: false, external: true, errorCode: -1, returnEip: s[EIP] });
    expect([cpu.v86, s[CPL], s[EIP], s[segSlot(CS, SEG_SEL)], s[segSlot(SS, SEG_SEL)], s[ESP]]).toEqual([false, 0, HANDLER, CODE0, DATA0, STACK0 - 36]);
    const frame = Array.from({ length: 9 }, (_, i) => mem.read(STACK0 - 36 + 4 * i, 4));
    expect(frame).toEqual([V86.eip, V86.cs, V86.eflags, V86.esp, V86.ss, V86.es, V86.ds, V86.fs, V86.gs]);
    expect(getEflags(s) & (VM | IF)).toBe(0);
    expect([DS, ES, FS, GS].map((seg) => s[segSlot(seg, SEG_SEL)])).toEqual([0, 0, 0, 0]);
    expect(compile(cpu, 'cf', 32, HANDLER).run()).toBeUndefined();
    expect([cpu.v86, s[CPL], s[EIP], s[ESP], getEflags(s)]).toEqual([true, 3, V86.eip, V86.esp, V86.eflags]);
    expect(selectors(cpu)).toEqual([V86.es, V86.cs, V86.ss, V86.ds, V86.fs, V86.gs]);
  });

  it('a trap gate keeps IF', () => {
    const { cpu, s } = setup();
    deliverInterrupt(cpu, VEC_TRAP, { software: false, external: true, errorCode: -1, returnEip: s[EIP] });
    expect(getEflags(s) & (VM | IF)).toBe(IF);
  });

  it('a gate to a DPL-3 or a conforming code segment: #GP(selector + EXT), nothing changed', () => {
    for (const [vector, sel] of [[VEC_DPL3, CODE3 & ~3], [VEC_CONFORMING, CONFORMING0]]) {
      const { cpu, s } = setup();
      const f = faultOf(() => deliverInterrupt(cpu, vector, { software: false, external: true, errorCode: -1, returnEip: s[EIP] }));
      expect([f?.vector, f?.errorCode]).toEqual([13, sel + 1]);
      expect([cpu.v86, s[CPL], s[ESP]]).toEqual([true, 3, V86.esp]);
    }
  });

  it('paging applies with CPL 3: a supervisor page faults with U/S in the error code', () => {
    const { cpu, mem, s } = setup();
    const PD = 0x30000, PT = 0x31000, SUPERVISOR = 0x50000;
    mem.write(PD, 4, PT | 7);
    for (let p = 0; p < 1024; p++) mem.write(PT + 4 * p, 4, (p << 12) | (p << 12 === SUPERVISOR ? 3 : 7));
    s[CR3] = PD;
    writeControlRegister(cpu, 0, s[CR0] | 0x8000_0000);
    cpu.setSegmentCache(DS, SUPERVISOR >>> 4, SUPERVISOR, 0xffff, s[segSlot(DS, SEG_ATTR)]);
    const read = compile(cpu, 'a0 00 00', 16); // mov al, [0]
    const f = read.run();
    expect([f?.vector, f?.errorCode, f?.address]).toEqual([14, 5, SUPERVISOR]); // present, read, user; CR2's value
    cpu.setSegmentCache(DS, 0x4000, 0x40000, 0xffff, s[segSlot(DS, SEG_ATTR)]);
    expect(read.run()).toBeUndefined();
  });
});
