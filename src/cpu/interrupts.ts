// Interrupt and exception delivery (SDM Vol. 3, ch. 6): the real-mode IVT, and protected-mode IDT
// interrupt/trap gates with the stack switch through the TSS when entering a more privileged ring (from
// virtual-8086 mode too, with its segment registers saved on the ring-0 stack), and task gates (task-switch.ts).
// Also the double-fault rules that turn a fault during delivery into #DF, and #DF's failure into a
// triple fault (shutdown).
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import { EXIT_EXCEPTION } from '../hv/exits.ts';
import { ATTR_CODE, ATTR_DC, ATTR_P, ATTR_RW, ATTR_S, ATTR_UNUSABLE, type Cpu } from './cpu.ts';
import { CpuFault, DE, DF, fault, GP, NP, PF_, SS_, TS, Unsupported } from './fault.ts';
import { flushFlags, getEflags, setEflags } from './flags.ts';
import { loadCodeSegment, loadCache, loadSegmentReal, markAccessed, readDescriptor } from './segments.ts';
import {
  AC, CPL, CR0, CR0_PE, CR2, EFLAGS, EIP, ESP, IDTR_BASE, IDTR_LIMIT, IF, NT, RF, SEG_SEL, segSlot, TF, VM,
} from './state.ts';
import { switchTask, taskGateTarget } from './task-switch.ts';
import { stackFromTss, TYPE_TASK_GATE } from './tss.ts';

export { Unsupported };

/** A fault while delivering a double fault: the processor shuts down. */
export class TripleFault extends Error {}

export interface InterruptSource {
  /** INT n / INT3 / INTO: the gate's DPL is checked against CPL. */
  software: boolean;
  /** Error code to push, or -1. */
  errorCode: number;
  /** EIP saved in the frame: the next instruction for traps and INT n, the faulting one for faults. */
  returnEip: number;
  /** Set for events not caused by the instruction (hardware interrupts, exceptions during delivery): EXT bit of error codes. */
  external?: boolean;
  /** INT n, INT3, INTO: the instruction's own EIP (the log names it, as QEMU's does). */
  eip?: number;
}

/** Deliver interrupt `vector` to the guest's handler (IVT in real mode, IDT gate in protected mode). */
export function deliverInterrupt(cpu: Cpu, vector: number, src: InterruptSource): void {
  if (cpu.log !== null) logInterrupt(cpu, vector, src);
  // Virtual-8086 mode delivers through the IDT too (deliverProtected's ring-0 stack switch).
  if (cpu.s[CR0] & CR0_PE) deliverProtected(cpu, vector, src);
  else deliverReal(cpu, vector, src);
}

function deliverReal(cpu: Cpu, vector: number, src: InterruptSource): void {
  const s = cpu.s;
  if (vector * 4 + 3 > (s[IDTR_LIMIT] >>> 0)) throw fault(GP, vector * 8 + 2);
  const entry = (s[IDTR_BASE] + vector * 4) | 0;
  const ip = cpu.readSys16(entry), cs = cpu.readSys16(entry + 2);
  const flags = getEflags(s);
  cpu.push(2, flags);
  cpu.push(2, s[segSlot(CS, SEG_SEL)]);
  cpu.push(2, src.returnEip);
  setEflags(s, flags & ~(IF | TF | AC | RF));
  loadSegmentReal(cpu, CS, cs);
  s[EIP] = ip;
}

const GATE_INT16 = 0x6, GATE_TRAP16 = 0x7, GATE_INT32 = 0xe, GATE_TRAP32 = 0xf;

function deliverProtected(cpu: Cpu, vector: number, src: InterruptSource): void {
  const s = cpu.s;
  const ext = src.external ? 1 : 0;
  const idtCode = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > (s[IDTR_LIMIT] >>> 0)) throw fault(GP, idtCode);
  const at = (s[IDTR_BASE] + vector * 8) | 0;
  const lo = cpu.readSys32(at), hi = cpu.readSys32(at + 4);
  const type = (hi >>> 8) & 0x1f, gateDpl = (hi >>> 13) & 3;
  if (type !== TYPE_TASK_GATE && type !== GATE_INT16 && type !== GATE_TRAP16 && type !== GATE_INT32 && type !== GATE_TRAP32)
    throw fault(GP, idtCode);
  if (src.software && gateDpl < s[CPL]) throw fault(GP, idtCode);
  if (!(hi & 0x8000)) throw fault(NP, idtCode);
  if (type === TYPE_TASK_GATE) {
    // A task gate (SDM INT, "TASK-GATE"): switch with nesting; an exception's error code goes on the new task's stack.
    const { sel, d } = taskGateTarget(cpu, lo >>> 16, ext);
    switchTask(cpu, sel, d, 'interrupt', src.returnEip, ext, src.software ? -1 : src.errorCode);
    return;
  }

  const sel = lo >>> 16;
  const gate32 = type === GATE_INT32 || type === GATE_TRAP32;
  const offset = gate32 ? ((lo & 0xffff) | (hi & 0xffff_0000)) >>> 0 : lo & 0xffff;
  if ((sel & 0xfffc) === 0) throw fault(GP, ext);
  const d = readDescriptor(cpu, sel);
  if (!(d.attr & ATTR_S) || !(d.attr & ATTR_CODE) || d.dpl > s[CPL]) throw fault(GP, (sel & 0xfffc) + ext);
  if (!(d.attr & ATTR_P)) throw fault(NP, (sel & 0xfffc) + ext);
  if (offset > d.limit) throw fault(GP, ext);

  const size = gate32 ? 4 : 2;
  const flags = getEflags(s);
  const oldCs = s[segSlot(CS, SEG_SEL)], oldSs = s[segSlot(SS, SEG_SEL)], oldEsp = s[ESP];
  const conforming = (d.attr & ATTR_DC) !== 0;
  const newCpl = conforming ? s[CPL] : d.dpl;
  // From virtual-8086 mode only to a ring-0 non-conforming code segment (SDM INT, "INTERRUPT-FROM-VIRTUAL-8086-MODE").
  const v86 = (flags & VM) !== 0;
  if (v86 && newCpl !== 0) throw fault(GP, (sel & 0xfffc) + ext);

  if (newCpl < s[CPL]) {
    // Inter-privilege: switch to the stack for newCpl taken from the TSS, then push the old SS:ESP.
    const { ss, esp } = stackFromTss(cpu, newCpl, ext);
    const ssDesc = readDescriptor(cpu, ss, TS);
    if ((ss & 3) !== newCpl || ssDesc.dpl !== newCpl || !(ssDesc.attr & ATTR_S) || (ssDesc.attr & ATTR_CODE) || !(ssDesc.attr & ATTR_RW))
      throw fault(TS, (ss & 0xfffc) + ext);
    if (!(ssDesc.attr & ATTR_P)) throw fault(SS_, (ss & 0xfffc) + ext);
    const frame = size * ((src.errorCode >= 0 ? 6 : 5) + (v86 ? 4 : 0));
    const ss32 = (ssDesc.attr & 0x4000) !== 0;
    const top = ss32 ? esp >>> 0 : esp & 0xffff;
    if (top - frame < 0 && !ss32) throw fault(SS_, (ss & 0xfffc) + ext);
    // Commit: new stack, then the frame.
    markAccessed(cpu, ssDesc);
    loadCache(cpu, SS, ss, ssDesc);
    s[ESP] = esp;
    s[CPL] = newCpl;
    if (v86) {
      // The virtual-8086 data segments go on the ring-0 stack first, then become null.
      s[EFLAGS] &= ~VM;
      for (const seg of [GS, FS, DS, ES]) {
        cpu.push(size, s[segSlot(seg, SEG_SEL)]);
        cpu.setSegmentCache(seg, 0, 0, 0, ATTR_UNUSABLE);
      }
    }
    cpu.push(size, oldSs);
    cpu.push(size, oldEsp);
  }
  cpu.push(size, flags);
  cpu.push(size, oldCs);
  cpu.push(size, src.returnEip);
  if (src.errorCode >= 0) cpu.push(size, src.errorCode);
  loadCodeSegment(cpu, sel, d, newCpl);
  s[EIP] = offset;
  let f = flags & ~(TF | NT | RF | VM);
  if (type === GATE_INT16 || type === GATE_INT32) f &= ~IF;
  setEflags(s, f);
}

// ---- exception classes for the double-fault rule (SDM Vol. 3, Table 6-5) ----
const CONTRIBUTORY = new Set([DE, TS, 11, 12, 13]);

/**
 * Deliver a fault raised by an instruction (EIP already rolled back by the caller for faults, or advanced
 * for traps), escalating to #DF and then to a triple fault when delivery itself faults.
 */
export function deliverException(cpu: Cpu, f: CpuFault, returnEip: number): void {
  let first = f;
  // A fault in a new task's context (after a task switch committed) is delivered with that task's EIP.
  let eip = f.resumeEip ?? returnEip;
  cpu.exits.count(EXIT_EXCEPTION);
  if (cpu.intercept !== null && cpu.intercept.exception(f, returnEip)) return;
  for (;;) {
    try {
      flushFlags(cpu.s);
      if (first.vector === PF_) cpu.s[CR2] = first.address;
      deliverInterrupt(cpu, first.vector, { software: false, errorCode: first.errorCode, returnEip: eip });
      return;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      if (e.resumeEip !== undefined) eip = e.resumeEip;
      if (first.vector === DF) throw new TripleFault(`${f.name} at EIP 0x${(eip >>> 0).toString(16)} could not be delivered (${e.name} while delivering #DF)`);
      const a = first.vector, b = e.vector;
      const double = (CONTRIBUTORY.has(a) && CONTRIBUTORY.has(b)) || (a === PF_ && (b === PF_ || CONTRIBUTORY.has(b)));
      first = double ? new CpuFault(DF, 0) : e;
    }
  }
}

/** One 'int' log line: what is delivered, from where, in which mode (QEMU's `-d int` in spirit). */
function logInterrupt(cpu: Cpu, vector: number, src: InterruptSource): void {
  const s = cpu.s, hex = (v: number, w = 8): string => (v >>> 0).toString(16).padStart(w, '0');
  const kind = src.software ? 'INT' : src.external && src.errorCode < 0 ? 'hardware interrupt' : 'exception';
  const err = src.errorCode >= 0 ? ` error=${hex(src.errorCode, 4)}` : '';
  const cr2 = vector === 14 && !src.software ? ` CR2=${hex(s[CR2])}` : '';
  const mode = !(s[CR0] & 1) ? 'real mode' : s[EFLAGS] & VM ? 'virtual-8086' : `CPL=${s[CPL]}`;
  cpu.log!('int', `${kind} 0x${hex(vector, 2)}${err}${cr2} at ${hex(s[segSlot(CS, SEG_SEL)], 4)}:${hex(src.eip ?? src.returnEip)} ${mode} ESP=${hex(s[ESP])} EFL=${hex(getEflags(s))}`);
}
