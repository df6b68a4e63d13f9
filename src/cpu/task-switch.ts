// Hardware task switching (SDM Vol. 3, 7.3): JMP/CALL to a TSS or a task gate, a task gate in the IDT,
// and IRET with EFLAGS.NT; to virtual-8086 tasks too, and the TSS T bit's #DB. The new task's state is
// read and the old TSS probed before anything changes; from the commit on (TR loaded) a fault belongs to
// the new task — its frame saves the new task's EIP (CpuFault.resumeEip) — and the segment checks follow
// the SDM's Table 7-1 in its order.
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import { ATTR_CODE, ATTR_DC, ATTR_P, ATTR_RW, ATTR_S, ATTR_UNUSABLE, BREAK_MODE, type Cpu } from './cpu.ts';
import { CpuFault, DB, fault, GP, NP, SS_, TS } from './fault.ts';
import { flushFlags, getEflags, setEflags } from './flags.ts';
import { type Descriptor, loadCache, loadCodeSegment, loadSegmentV86, markAccessed, readDescriptor } from './segments.ts';
import {
  CPL, CR0, CR0_TS, CR3, DR_SLOT, EIP, GDTR_BASE, GDTR_LIMIT, LDTR_SLOT, NT, SEG_LIMIT, SEG_SEL, segSlot, TR_SLOT, VM,
} from './state.ts';
import { isAvailableTss, TSS_BUSY, TSS32, tssLayout } from './tss.ts';

/** What started the switch: it decides the busy bits, the back link and NT (SDM Table 7-2). */
export type TaskSwitchSource = 'jmp' | 'call' | 'iret' | 'interrupt';

interface SwitchRule {
  /** Clear the old task's busy bit (it is not resumed through a back link). */
  clearOldBusy: boolean;
  /** Nest: the new TSS's back link names the old task, and the new task runs with NT = 1. */
  nest: boolean;
  /** Set the new task's busy bit (IRET returns to a task that is busy already). */
  setNewBusy: boolean;
  /** Clear NT in the EFLAGS image saved in the old TSS. */
  clearSavedNt: boolean;
}

const RULES: Record<TaskSwitchSource, SwitchRule> = {
  jmp: { clearOldBusy: true, nest: false, setNewBusy: true, clearSavedNt: false },
  call: { clearOldBusy: false, nest: true, setNewBusy: true, clearSavedNt: false },
  interrupt: { clearOldBusy: false, nest: true, setNewBusy: true, clearSavedNt: false },
  iret: { clearOldBusy: true, nest: false, setNewBusy: false, clearSavedNt: true },
};

/** EFLAGS bits a task switch loads from the TSS (a 16-bit TSS: the low 16 of them); the rest stay. */
const TASK_FLAGS = 0x277fd5; // CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC ID
/** DR7's local breakpoint enables L0–L3: cleared by every task switch (SDM 17.2.4). */
const DR7_LOCAL = 0x55;
/** DR6.BT: the #DB was raised by a task switch to a TSS with its T bit set. */
const DR6_BT = 0x8000;

/**
 * JMP/CALL far to a TSS descriptor (SDM JMP/CALL, "TASK-STATE-SEGMENT"): its DPL ≥ CPL and RPL and the
 * TSS available, else #GP(selector); present, else #NP(selector).
 */
export function farToTss(cpu: Cpu, sel: number, d: Descriptor, call: boolean, returnEip: number): void {
  if (d.dpl < cpu.s[CPL] || d.dpl < (sel & 3) || !isAvailableTss(d.attr)) throw fault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw fault(NP, sel & 0xfffc);
  switchTask(cpu, sel, d, call ? 'call' : 'jmp', returnEip);
}

/**
 * JMP/CALL far to a task gate (SDM JMP/CALL, "TASK-GATE"): the gate's DPL ≥ CPL and RPL, else
 * #GP(gate selector); the gate present, else #NP(gate selector); then the TSS it names.
 */
export function farToTaskGate(cpu: Cpu, gateSel: number, gate: Descriptor, call: boolean, returnEip: number): void {
  if (gate.dpl < cpu.s[CPL] || gate.dpl < (gateSel & 3)) throw fault(GP, gateSel & 0xfffc);
  if (!(gate.attr & ATTR_P)) throw fault(NP, gateSel & 0xfffc);
  const { sel, d } = taskGateTarget(cpu, gate.lo >>> 16, 0);
  switchTask(cpu, sel, d, call ? 'call' : 'jmp', returnEip);
}

/**
 * The TSS a task gate names (SDM JMP/CALL/INT, "TASK-GATE"): a GDT selector within the GDT's limit that
 * names an available TSS, else #GP(TSS selector + EXT); present, else #NP(TSS selector + EXT).
 */
export function taskGateTarget(cpu: Cpu, sel: number, ext: number): { sel: number; d: Descriptor } {
  const s = cpu.s;
  if (sel & 4 || (sel & 0xfff8) + 7 > (s[GDTR_LIMIT] >>> 0)) throw fault(GP, (sel & 0xfffc) + ext);
  const d = readDescriptor(cpu, sel);
  if (!isAvailableTss(d.attr)) throw fault(GP, (sel & 0xfffc) + ext);
  if (!(d.attr & ATTR_P)) throw fault(NP, (sel & 0xfffc) + ext);
  return { sel, d };
}

/** Set or clear the busy bit of the TSS descriptor `sel` names in the GDT. */
function setBusy(cpu: Cpu, sel: number, busy: boolean): void {
  const at = (cpu.s[GDTR_BASE] + (sel & 0xfff8) + 5) | 0;
  const access = cpu.readSys8(at);
  cpu.writeSys8(at, busy ? access | TSS_BUSY : access & ~TSS_BUSY);
}

/**
 * Switch to the task whose TSS descriptor `d` (selector `sel`) the caller has checked (SDM 7.3 steps
 * 3–14): `returnEip` is saved as the old task's EIP. After an interrupt or exception through a task gate,
 * `errorCode` (≥ 0) is pushed on the new task's stack. `ext` is the EXT bit of the error codes.
 */
export function switchTask(cpu: Cpu, sel: number, d: Descriptor, source: TaskSwitchSource, returnEip: number, ext = 0, errorCode = -1): void {
  const s = cpu.s, rule = RULES[source];
  const next = tssLayout(d.attr), base = d.base, w = next.width;
  // Step 3: the TSS must hold at least its layout (Table 7-1, 2).
  if ((d.limit >>> 0) < next.minLimit) throw fault(TS, (sel & 0xfffc) + ext);
  // Read the whole new state first: a page fault here leaves the old task as it was.
  const read = (off: number): number => (w === 4 ? cpu.readSys32(base + off) : cpu.readSys16(base + off));
  const newEip = read(next.eip), newFlags = read(next.eflags);
  const regs: number[] = [];
  for (let r = 0; r < 8; r++) regs.push(read(next.regs + r * w));
  const segs = next.segs.map((off) => (off < 0 ? 0 : cpu.readSys16(base + off)));
  const ldt = cpu.readSys16(base + next.ldt);
  const cr3 = next.cr3 >= 0 ? cpu.readSys32(base + next.cr3) : 0;
  // A 32-bit TSS with VM set holds a virtual-8086 task (its segments are real-mode selectors); T asks for #DB.
  const v86 = w === 4 && (newFlags & VM) !== 0;
  const debugTrap = next.trap >= 0 && (cpu.readSys16(base + next.trap) & 1) !== 0;
  // Step 5: the old TSS's dynamic fields must be writable (probed at both ends, so no fault comes halfway).
  const oldSel = s[TR_SLOT] & 0xffff, oldBase = s[TR_SLOT + 1], old = tssLayout(s[TR_SLOT + 3]);
  const first = oldBase + old.eip, last = oldBase + Math.max(...old.segs) + 1;
  cpu.writeSys8(first, cpu.readSys8(first));
  cpu.writeSys8(last, cpu.readSys8(last));

  // Steps 6–8: the old task's busy bit, its EFLAGS image, its state saved.
  if (rule.clearOldBusy) setBusy(cpu, oldSel, false);
  flushFlags(s);
  const oldFlags = getEflags(s) & (rule.clearSavedNt ? ~NT : ~0);
  const write = (off: number, v: number): void => (old.width === 4 ? cpu.writeSys32(oldBase + off, v) : cpu.writeSys16(oldBase + off, v));
  write(old.eip, returnEip);
  write(old.eflags, oldFlags);
  for (let r = 0; r < 8; r++) write(old.regs + r * old.width, s[r]);
  old.segs.forEach((off, seg) => { if (off >= 0) cpu.writeSys16(oldBase + off, s[segSlot(seg, SEG_SEL)]); });
  // Steps 9–10: nesting and the new task's busy bit.
  let flags = newFlags;
  if (rule.nest) { cpu.writeSys16(base + next.link, oldSel); flags |= NT; }
  if (rule.setNewBusy) setBusy(cpu, sel, true);

  // Step 11, the commit: TR names the new task; CR0.TS says the FPU state belongs to another task.
  s[CR0] |= CR0_TS;
  s[TR_SLOT] = sel & 0xffff; s[TR_SLOT + 1] = d.base; s[TR_SLOT + 2] = d.limit | 0; s[TR_SLOT + 3] = d.attr | TSS_BUSY;
  if (cpu.log !== null) {
    const hex = (v: number, n = 4): string => (v >>> 0).toString(16).padStart(n, '0');
    cpu.log('sys', `task switch (${source}) TR ${hex(oldSel)} -> ${hex(sel)} (${next.name} TSS at ${hex(d.base, 8)}) EIP=${hex(newEip, 8)}`);
  }
  // Step 12: the new task's registers, without checks yet.
  if (next === TSS32 && cpu.paging) { s[CR3] = cr3; cpu.flushTlb(true); }
  if (s[DR_SLOT + 7] & DR7_LOCAL) { s[DR_SLOT + 7] &= ~DR7_LOCAL; cpu.onDebugRegisterWrite?.(); }
  cpu.breakBlock |= BREAK_MODE;
  s[EIP] = newEip;
  if (w === 4) {
    setEflags(s, flags & TASK_FLAGS);
    for (let r = 0; r < 8; r++) s[r] = regs[r];
  } else {
    setEflags(s, (getEflags(s) & ~(TASK_FLAGS & 0xffff)) | (flags & TASK_FLAGS & 0xffff));
    for (let r = 0; r < 8; r++) cpu.r16[r << 1] = regs[r];
  }
  for (let seg = ES; seg <= GS; seg++) s[segSlot(seg, SEG_SEL)] = segs[seg];
  s[LDTR_SLOT] = ldt; s[LDTR_SLOT + 3] = ATTR_UNUSABLE;

  // Step 13: the descriptors, qualified in the new task's context.
  try {
    if (v86) loadV86TaskSegments(cpu, segs, ldt, ext);
    else loadTaskSegments(cpu, segs, ldt, ext);
    if (errorCode >= 0) cpu.push(w, errorCode);
    if ((newEip >>> 0) > (s[segSlot(CS, SEG_LIMIT)] >>> 0)) throw fault(GP, ext);
    // Step 14's debug trap (SDM 7.2.1, 17.3.1.5): #DB with DR6.BT in the new task, before its first instruction.
    if (debugTrap) { s[DR_SLOT + 6] |= DR6_BT; throw fault(DB); }
  } catch (e) {
    if (e instanceof CpuFault) e.resumeEip = s[EIP];
    throw e;
  }
}

/**
 * A virtual-8086 task (SDM 20.2.5): the LDT as for any task (Table 7-1, items 4 and 9), the segment
 * registers loaded as in real mode without descriptor checks, CPL 3.
 */
function loadV86TaskSegments(cpu: Cpu, segs: number[], ldtSel: number, ext: number): void {
  const s = cpu.s;
  if ((ldtSel & 0xfffc) !== 0) {
    if (ldtSel & 4) throw fault(TS, (ldtSel & 0xfffc) + ext);
    let ldt: Descriptor;
    try { ldt = readDescriptor(cpu, ldtSel, TS); } catch (e) { if (e instanceof CpuFault && e.vector === TS) throw fault(TS, (ldtSel & 0xfffc) + ext); throw e; }
    if ((ldt.attr & 0x1f) !== 0x2 || !(ldt.attr & ATTR_P)) throw fault(TS, (ldtSel & 0xfffc) + ext);
    s[LDTR_SLOT] = ldtSel; s[LDTR_SLOT + 1] = ldt.base; s[LDTR_SLOT + 2] = ldt.limit | 0; s[LDTR_SLOT + 3] = ldt.attr;
  }
  s[CPL] = 3;
  for (let seg = ES; seg <= GS; seg++) loadSegmentV86(cpu, seg, segs[seg]);
}

/** The checks of SDM Table 7-1 from its item 4 on, in its order, and the loads of LDTR and the segment registers. */
function loadTaskSegments(cpu: Cpu, segs: number[], ldtSel: number, ext: number): void {
  const s = cpu.s, cpl = segs[CS] & 3;
  const ts = (sel: number): CpuFault => fault(TS, (sel & 0xfffc) + ext);
  /** The descriptor of a non-null selector; #TS(selector) when it lies outside its table. */
  const descriptor = (sel: number): Descriptor => {
    try { return readDescriptor(cpu, sel, TS); } catch (e) { if (e instanceof CpuFault && e.vector === TS) throw ts(sel); throw e; }
  };
  // 4. The LDT selector: null, or a GDT selector naming an LDT descriptor. (Loaded now: the segment
  // selectors below may be LDT selectors. Whether it is present is item 9.)
  let ldt: Descriptor | null = null;
  if ((ldtSel & 0xfffc) !== 0) {
    if (ldtSel & 4) throw ts(ldtSel);
    ldt = descriptor(ldtSel);
    if ((ldt.attr & 0x1f) !== 0x2) throw ts(ldtSel);
    s[LDTR_SLOT] = ldtSel; s[LDTR_SLOT + 1] = ldt.base; s[LDTR_SLOT + 2] = ldt.limit | 0; s[LDTR_SLOT + 3] = ldt.attr;
  }
  // 5. A code segment's DPL matches its selector's RPL (conforming: DPL ≤ RPL). Validity is item 10.
  const csSel = segs[CS], ssSel = segs[SS];
  let cs: Descriptor | null = null;
  if ((csSel & 0xfffc) !== 0) {
    try { cs = readDescriptor(cpu, csSel, TS); } catch (e) { if (!(e instanceof CpuFault && e.vector === TS)) throw e; }
  }
  const isCode = (a: number): boolean => (a & (ATTR_S | ATTR_CODE)) === (ATTR_S | ATTR_CODE);
  if (cs !== null && isCode(cs.attr) && (cs.attr & ATTR_DC ? cs.dpl > (csSel & 3) : cs.dpl !== (csSel & 3))) throw ts(csSel);
  // 6–8. SS: valid (a writable data segment), present (#SS), DPL = CPL.
  if ((ssSel & 0xfffc) === 0) throw ts(ssSel);
  const ss = descriptor(ssSel);
  if (!(ss.attr & ATTR_S) || ss.attr & ATTR_CODE || !(ss.attr & ATTR_RW)) throw ts(ssSel);
  if (!(ss.attr & ATTR_P)) throw fault(SS_, (ssSel & 0xfffc) + ext);
  if (ss.dpl !== cpl) throw ts(ssSel);
  // 9. The LDT is present.
  if (ldt !== null && !(ldt.attr & ATTR_P)) throw ts(ldtSel);
  // 10–11. CS: valid (a code segment), present (#NP).
  if (cs === null || !isCode(cs.attr)) throw ts(csSel);
  if (!(cs.attr & ATTR_P)) throw fault(NP, (csSel & 0xfffc) + ext);
  // 12. SS's DPL matches its selector's RPL.
  if (ss.dpl !== (ssSel & 3)) throw ts(ssSel);
  loadCodeSegment(cpu, csSel, cs, cpl);
  markAccessed(cpu, ss);
  loadCache(cpu, SS, ssSel, ss);
  // 13–16. DS, ES, FS, GS: valid, readable, present (#NP), DPL ≥ CPL and RPL unless conforming code.
  for (const seg of [DS, ES, FS, GS]) {
    const sel = segs[seg];
    if ((sel & 0xfffc) === 0) { cpu.setSegmentCache(seg, sel, 0, 0, ATTR_UNUSABLE); continue; }
    const d = descriptor(sel);
    if (!(d.attr & ATTR_S) || (d.attr & ATTR_CODE && !(d.attr & ATTR_RW))) throw ts(sel);
    if (!(d.attr & ATTR_P)) throw fault(NP, (sel & 0xfffc) + ext);
    const conformingCode = (d.attr & (ATTR_CODE | ATTR_DC)) === (ATTR_CODE | ATTR_DC);
    if (!conformingCode && (d.dpl < cpl || d.dpl < (sel & 3))) throw ts(sel);
    markAccessed(cpu, d);
    loadCache(cpu, seg, sel, d);
  }
}
