// Task switches (src/cpu/task-switch.ts) on a bare CPU: the faults QEMU cannot be the oracle for (see
// test-roms/README.md) and the ones the taskswitch ROM does not reach — a not-present SS in the new task
// (#SS, SDM Table 7-1), the order of Table 7-1's checks, the EXT bit after a hardware interrupt through a
// task gate, and the new task's EIP on a fault raised after the commit. Expected values from the SDM
// (Vol. 3A 7.3, Table 7-1; INT's TASK-GATE pseudo-code). The ROM (run against QEMU) covers the rest.
// Also the TSS T bit (SDM 7.2.1, 17.3.1.5), which QEMU 7.2 does not implement, so no ROM can check it.
import { describe, expect, it } from 'vitest';
import { CpuFault } from '../src/cpu/fault.ts';
import { deliverInterrupt } from '../src/cpu/interrupts.ts';
import { decodeDescriptor } from '../src/cpu/segments.ts';
import { farTransfer } from '../src/cpu/semantics/control.ts';
import {
  CODE32, CPL, CR0, CR0_PE, DR_SLOT, EFLAGS, EIP, GDTR_BASE, GDTR_LIMIT, IDTR_BASE, IDTR_LIMIT, SEG_BASE, SEG_LIMIT, SEG_SEL, segSlot, TR_SLOT, VM,
} from '../src/cpu/state.ts';
import { CS, DS, GS, SS } from '../src/decoder/instruction.ts';
import { machine } from './semantics-helpers.ts';

const GDT = 0x10000, IDT = 0x11000, OLD_TSS = 0x20000, NEW_TSS = 0x21000;
const CODE = 0x08, DATA = 0x10, OLD = 0x18, NEW = 0x20, DATA_NP = 0x28, GATE = 0x30;
const NEW_EIP = 0x5000, RETURN_EIP = 0x1234;

/** A protected-mode CPU at CPL 0 running the task OLD (busy, in TR); NEW is an available 32-bit TSS. */
function setup(newTask: { cs?: number; ss?: number; ds?: number; limit?: number } = {}) {
  const { cpu, mem } = machine();
  const desc = (sel: number, lo: number, hi: number): void => { mem.write(GDT + (sel & 0xfff8), 4, lo); mem.write(GDT + (sel & 0xfff8) + 4, 4, hi); };
  const tssDesc = (base: number, limit: number, type: number): [number, number] =>
    [(limit & 0xffff) | ((base & 0xffff) << 16), ((base >>> 16) & 0xff) | (0x80 | type) << 8 | (base & 0xff00_0000)];
  desc(CODE, 0x0000ffff, 0x00cf9a00);
  desc(DATA, 0x0000ffff, 0x00cf9200);
  desc(OLD, ...tssDesc(OLD_TSS, 0x67, 0xb));
  desc(NEW, ...tssDesc(NEW_TSS, newTask.limit ?? 0x67, 0x9));
  desc(DATA_NP, 0x0000ffff, 0x00cf1200); // P = 0
  desc(GATE, NEW << 16, 0x8500); // task gate → NEW
  for (const [off, v] of [[0x20, NEW_EIP], [0x24, 2], [0x38, 0x8000], [0x48, DATA], [0x4c, newTask.cs ?? CODE],
    [0x50, newTask.ss ?? DATA], [0x54, newTask.ds ?? DATA], [0x58, 0], [0x5c, 0], [0x60, 0]] as const) mem.write(NEW_TSS + off, 4, v);
  // IDT vector 0x20: a task gate to NEW
  mem.write(IDT + 0x20 * 8, 4, NEW << 16); mem.write(IDT + 0x20 * 8 + 4, 4, 0x8500);
  const s = cpu.s;
  s[GDTR_BASE] = GDT; s[GDTR_LIMIT] = 0xff; s[IDTR_BASE] = IDT; s[IDTR_LIMIT] = 0x7ff;
  s[CR0] |= CR0_PE; s[CPL] = 0;
  const load = (seg: number, sel: number): void => {
    const at = GDT + (sel & 0xfff8), d = decodeDescriptor(mem.read(at, 4), mem.read(at + 4, 4), at);
    cpu.setSegmentCache(seg, sel, d.base, d.limit | 0, d.attr | 1);
  };
  load(CS, CODE); load(SS, DATA); load(DS, DATA);
  s[TR_SLOT] = OLD; s[TR_SLOT + 1] = OLD_TSS; s[TR_SLOT + 2] = 0x67; s[TR_SLOT + 3] = 0x8b;
  s[EIP] = RETURN_EIP;
  return { cpu, mem, s };
}

/** The fault `f` raises (a CpuFault), or null. */
function faultOf(f: () => void): CpuFault | null {
  try { f(); return null; } catch (e) { if (e instanceof CpuFault) return e; throw e; }
}

describe('task switch faults', () => {
  it('a TSS limit below 0x67: #TS(selector) before anything changes', () => {
    const { cpu, mem, s } = setup({ limit: 0x66 });
    const f = faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP));
    expect([f?.vector, f?.errorCode, f?.resumeEip]).toEqual([10, NEW, undefined]);
    expect(s[TR_SLOT]).toBe(OLD);
    expect(mem.read(OLD_TSS + 0x20, 4)).toBe(0); // nothing saved
  });

  it('a not-present SS in the new task: #SS(selector) in the new task, its EIP saved', () => {
    const { cpu, mem, s } = setup({ ss: DATA_NP });
    const f = faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP));
    expect([f?.vector, f?.errorCode, f?.resumeEip]).toEqual([12, DATA_NP, NEW_EIP]);
    expect(s[TR_SLOT]).toBe(NEW); // committed: the fault belongs to the new task
    expect(mem.read(OLD_TSS + 0x20, 4)).toBe(RETURN_EIP);
  });

  it('Table 7-1 order: a CS whose DPL differs from its RPL (item 5) before a null SS (item 6)', () => {
    const { cpu } = setup({ cs: CODE | 3, ss: 0 });
    const f = faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP));
    expect([f?.vector, f?.errorCode]).toEqual([10, CODE]);
  });

  it('Table 7-1 order: the SS checks (items 6-8) before the data segments (items 13-16)', () => {
    const { cpu } = setup({ ss: DATA_NP, ds: 0x1f8 });
    const f = faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP));
    expect([f?.vector, f?.errorCode]).toEqual([12, DATA_NP]);
  });

  it('a not-present data segment in the new task: #NP(selector)', () => {
    const { cpu } = setup({ ds: DATA_NP });
    const f = faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP));
    expect([f?.vector, f?.errorCode, f?.resumeEip]).toEqual([11, DATA_NP, NEW_EIP]);
  });

  it('a hardware interrupt through a task gate: the EXT bit in the new task\'s #TS', () => {
    const { cpu, s } = setup({ ds: 0x1f8 });
    const f = faultOf(() => deliverInterrupt(cpu, 0x20, { software: false, external: true, errorCode: -1, returnEip: RETURN_EIP }));
    expect([f?.vector, f?.errorCode, f?.resumeEip]).toEqual([10, 0x1f8 | 1, NEW_EIP]);
    expect(s[TR_SLOT]).toBe(NEW);
  });

  it('an exception through a task gate pushes its error code on the new task\'s stack', () => {
    const { cpu, mem, s } = setup();
    deliverInterrupt(cpu, 0x20, { software: false, errorCode: 0x1234, returnEip: RETURN_EIP });
    expect(s[EIP]).toBe(NEW_EIP);
    expect(s[4]).toBe(0x8000 - 4);
    expect(mem.read(0x8000 - 4, 4)).toBe(0x1234);
    expect(mem.read(NEW_TSS, 2)).toBe(OLD); // back link
  });

  it('a JMP through a task gate whose DPL is below the RPL: #GP(gate selector)', () => {
    const { cpu, mem, s } = setup();
    mem.write(GDT + GATE + 4, 4, 0x8500); // DPL 0
    const f = faultOf(() => farTransfer(cpu, GATE | 3, 0, false, 4, RETURN_EIP));
    expect([f?.vector, f?.errorCode]).toEqual([13, GATE]);
    expect(s[TR_SLOT]).toBe(OLD);
  });

  it('a TSS with the T bit: #DB with DR6.BT after the switch, in the new task (its EIP saved)', () => {
    const { cpu, mem, s } = setup();
    mem.write(NEW_TSS + 0x64, 2, 1);
    const f = faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP));
    expect([f?.vector, f?.resumeEip]).toEqual([1, NEW_EIP]);
    expect(s[TR_SLOT]).toBe(NEW);
    expect(s[DR_SLOT + 6] & 0x8000).toBe(0x8000);
  });

  it('a TSS without the T bit: no #DB, DR6.BT untouched', () => {
    const { cpu, s } = setup();
    expect(faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP))).toBeNull();
    expect(s[DR_SLOT + 6] & 0x8000).toBe(0);
  });

  it('a TSS whose EFLAGS has VM: a virtual-8086 task (real-mode segments without descriptor checks, CPL 3)', () => {
    // The selectors are real-mode segments: 0x1ff8 would be beyond the GDT as a descriptor selector.
    const { cpu, mem, s } = setup({ cs: 0x2000, ss: 0x1ff8, ds: 0x1234 });
    mem.write(NEW_TSS + 0x24, 4, VM | 0x3002);
    mem.write(NEW_TSS + 0x5c, 4, 0xffff); // GS
    expect(faultOf(() => farTransfer(cpu, NEW, 0, false, 4, RETURN_EIP))).toBeNull();
    expect([s[CPL], s[EFLAGS] & VM, s[CODE32], s[EIP]]).toEqual([3, VM, 0, NEW_EIP]);
    for (const [seg, sel] of [[CS, 0x2000], [SS, 0x1ff8], [DS, 0x1234], [GS, 0xffff]] as const)
      expect([s[segSlot(seg, SEG_SEL)], s[segSlot(seg, SEG_BASE)], s[segSlot(seg, SEG_LIMIT)]]).toEqual([sel, sel << 4, 0xffff]);
    expect(cpu.protectedMode).toBe(false);
  });
});
