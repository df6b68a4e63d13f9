// Control transfer (SDM Vol. 1 ch. 6, Vol. 2 JMP/CALL/RET/IRET/INT/LOOP/Jcc): near branches with the
// CS-limit check, far transfers through code segments and call gates with the protection rules,
// software interrupts and IRET.
import { CS, DS, ES, FS, GS, type Instruction, SS } from '../../decoder/instruction.ts';
import { ATTR_CODE, ATTR_DC, ATTR_P, ATTR_RW, ATTR_S, BREAK_JUMP, type Cpu } from '../cpu.ts';
import { BP, BR, fault, GP, NP, OF_, SS_, TS } from '../fault.ts';
import { branchIf, getEflags, getOF, getZF, setEflags } from '../flags.ts';
import { EXIT_SOFT_INT } from '../../hv/exits.ts';
import { deliverInterrupt } from '../interrupts.ts';
import { farToTaskGate, farToTss, switchTask } from '../task-switch.ts';
import { isBusyTss, isTss, stackFromTss, tssLayout, TYPE_TASK_GATE } from '../tss.ts';
import { effectiveAddress, reader, signExtend } from '../operands.ts';
import {
  checkReturnCodeSegment, type Descriptor, loadCache, loadCodeSegment, loadSegmentReal, loadSegmentV86, markAccessed, nullInaccessibleSegments, readDescriptor,
} from '../segments.ts';
import {
  AC, CPL, CR0, CR0_PE, ECX, EFLAGS, EIP, ESP, ID, IF, IOPL, NT, RF, SEG_LIMIT, SEG_SEL, segSlot, TR_SLOT, VM,
} from '../state.ts';
import { recordWriter } from './alu.ts';
import type { EmitContext, EmitterTable } from './emitter.ts';

const csLimit = (cpu: Cpu): number => cpu.s[segSlot(CS, SEG_LIMIT)] >>> 0;

/** CALL rel: push the return offset (`size` bytes), then to `target` (#GP(0) beyond the CS limit, before the push). */
export function callNear(cpu: Cpu, size: number, target: number, next: number): void {
  if ((target >>> 0) > csLimit(cpu)) throw fault(GP, 0);
  cpu.push(size, next);
  cpu.s[EIP] = target;
}

/** Near RET: pop the return offset (`size` bytes) and `imm` more bytes of arguments. */
export function returnNear(cpu: Cpu, size: number, imm: number): void {
  const target = size === 4 ? cpu.peek(4, 0) : cpu.peek(2, 0);
  if ((target >>> 0) > csLimit(cpu)) throw fault(GP, 0);
  cpu.addSP(size + imm);
  cpu.s[EIP] = target;
}

/** Near transfer to `target` (an offset in CS): #GP(0) beyond the CS limit, before anything changes. */
export function jumpNear(cpu: Cpu, target: number): void {
  if ((target >>> 0) > csLimit(cpu)) throw fault(GP, 0);
  cpu.s[EIP] = target;
}

/** Relative target resolved at decode time (the offset of the next instruction plus the displacement, masked to the operand size). */
const relTarget = (c: EmitContext): number => nearTarget(c.ins, c.next);
/** The target of a relative branch `ins` whose next instruction is at `next` (records.ts too). */
export function nearTarget(ins: Instruction, next: number): number {
  const op = ins.operands[0];
  if (op?.kind !== 'rel') throw new Error(`${ins.op}: expected a relative operand`);
  const t = (next + op.disp) | 0;
  return ins.opsize === 16 ? t & 0xffff : t;
}

/** Is this JMP/CALL a far form (ptr16:16/32 or m16:16/32)? */
const isFar = (c: EmitContext): boolean =>
  c.ins.operands[0]?.kind === 'far' || c.ins.opcode === 0xea || c.ins.opcode === 0x9a ||
  (c.ins.opcode === 0xff && ((c.ins.modrm >> 3) & 7) !== 2 && ((c.ins.modrm >> 3) & 7) !== 4);

/** A far pointer operand: returns a closure yielding [selector, offset]. */
function farPointer(c: EmitContext): () => [number, number] {
  const op = c.ins.operands[0], cpu = c.cpu, size = c.ins.opsize === 32 ? 4 : 2;
  if (op.kind === 'far') { const p: [number, number] = [op.selector, op.offset]; return () => p; }
  if (op.kind !== 'mem') throw new Error('far transfer needs a pointer operand');
  const ea = effectiveAddress(cpu, op, c.ins.adsize), seg = op.seg;
  return () => {
    const a = ea();
    const offset = size === 4 ? cpu.read32(seg, a) >>> 0 : cpu.read16(seg, a);
    const sel = cpu.read16(seg, (a + size) | 0);
    return [sel, offset];
  };
}

/** Push a sequence atomically: on a fault, ESP is restored so the instruction has no effect. */
function pushAll(cpu: Cpu, size: number, values: number[]): void {
  const esp = cpu.s[ESP];
  try { for (const v of values) cpu.push(size, v); } catch (e) { cpu.s[ESP] = esp; throw e; }
}

/** JMP/CALL far in any mode (SDM JMP and CALL pages: code segment, call gate, TSS, task gate). */
export function farTransfer(cpu: Cpu, sel: number, offset: number, call: boolean, size: number, returnEip: number): void {
  const s = cpu.s;
  const oldCs = s[segSlot(CS, SEG_SEL)];
  if (!cpu.protectedMode) {
    if (size === 2) offset &= 0xffff;
    if ((offset >>> 0) > csLimit(cpu)) throw fault(GP, 0);
    if (call) pushAll(cpu, size, [oldCs, returnEip]);
    loadSegmentReal(cpu, CS, sel);
    s[EIP] = offset;
    return;
  }
  if ((sel & 0xfffc) === 0) throw fault(GP, 0);
  const d = readDescriptor(cpu, sel);
  const cpl = s[CPL];
  if (d.attr & ATTR_S) {
    if (!(d.attr & ATTR_CODE)) throw fault(GP, sel & 0xfffc);
    if (d.attr & ATTR_DC) { if (d.dpl > cpl) throw fault(GP, sel & 0xfffc); }
    else if ((sel & 3) > cpl || d.dpl !== cpl) throw fault(GP, sel & 0xfffc);
    if (!(d.attr & ATTR_P)) throw fault(NP, sel & 0xfffc);
    if (size === 2) offset &= 0xffff;
    if ((offset >>> 0) > d.limit) throw fault(GP, 0);
    if (call) pushAll(cpu, size, [oldCs, returnEip]);
    loadCodeSegment(cpu, sel, d, cpl);
    s[EIP] = offset;
    return;
  }
  const type = d.attr & 0xf;
  if (type === 0x4 || type === 0xc) { throughCallGate(cpu, sel, d, call, returnEip); return; }
  if (type === TYPE_TASK_GATE) { farToTaskGate(cpu, sel, d, call, returnEip); return; }
  // A busy TSS is not a valid target: #GP(selector) like any other type.
  if (isTss(d.attr)) { farToTss(cpu, sel, d, call, returnEip); return; }
  throw fault(GP, sel & 0xfffc);
}

function throughCallGate(cpu: Cpu, gateSel: number, gate: Descriptor, call: boolean, returnEip: number): void {
  const s = cpu.s, cpl = s[CPL];
  if (gate.dpl < cpl || gate.dpl < (gateSel & 3)) throw fault(GP, gateSel & 0xfffc);
  if (!(gate.attr & ATTR_P)) throw fault(NP, gateSel & 0xfffc);
  const gate32 = (gate.attr & 0xf) === 0xc, size = gate32 ? 4 : 2;
  const sel = gate.lo >>> 16;
  const offset = gate32 ? ((gate.lo & 0xffff) | (gate.hi & 0xffff_0000)) >>> 0 : gate.lo & 0xffff;
  const params = gate.hi & 0x1f;
  if ((sel & 0xfffc) === 0) throw fault(GP, 0);
  const d = readDescriptor(cpu, sel);
  if (!(d.attr & ATTR_S) || !(d.attr & ATTR_CODE) || d.dpl > cpl) throw fault(GP, sel & 0xfffc);
  if (!call && !(d.attr & ATTR_DC) && d.dpl !== cpl) throw fault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw fault(NP, sel & 0xfffc);
  if (offset > d.limit) throw fault(GP, 0);
  const oldCs = s[segSlot(CS, SEG_SEL)];
  if (call && !(d.attr & ATTR_DC) && d.dpl < cpl) {
    // More privileged: new stack from the TSS, copy `params` words/dwords from the old stack.
    const newCpl = d.dpl;
    const { esp: newEsp, ss: newSs } = stackFromTss(cpu, newCpl, 0);
    if ((newSs & 0xfffc) === 0) throw fault(TS, 0);
    const ssd = readDescriptor(cpu, newSs, TS);
    if ((newSs & 3) !== newCpl || ssd.dpl !== newCpl || !(ssd.attr & ATTR_S) || (ssd.attr & ATTR_CODE) || !(ssd.attr & ATTR_RW))
      throw fault(TS, newSs & 0xfffc);
    if (!(ssd.attr & ATTR_P)) throw fault(SS_, newSs & 0xfffc);
    const oldSs = s[segSlot(SS, SEG_SEL)], oldEsp = s[ESP];
    const copied: number[] = [];
    for (let i = params - 1; i >= 0; i--) copied.push(cpu.peek(size, i * size));
    markAccessed(cpu, ssd);
    loadCache(cpu, SS, newSs, ssd);
    s[ESP] = newEsp;
    s[CPL] = newCpl;
    pushAll(cpu, size, [oldSs, oldEsp, ...copied, oldCs, returnEip]);
    loadCodeSegment(cpu, sel, d, newCpl);
  } else {
    if (call) pushAll(cpu, size, [oldCs, returnEip]);
    loadCodeSegment(cpu, sel, d, cpl);
  }
  s[EIP] = offset;
}

/** RETF [imm16] (SDM RET, far return: same privilege or to an outer ring). */
function farReturn(cpu: Cpu, size: number, imm: number): void {
  const s = cpu.s;
  const offset = size === 4 ? cpu.peek(4, 0) >>> 0 : cpu.peek(2, 0);
  const sel = cpu.peek(2, size);
  if (!cpu.protectedMode) {
    if (offset > csLimit(cpu)) throw fault(GP, 0);
    cpu.addSP(2 * size + imm);
    loadSegmentReal(cpu, CS, sel);
    s[EIP] = offset;
    return;
  }
  const cpl = s[CPL], rpl = sel & 3;
  if ((sel & 0xfffc) === 0) throw fault(GP, 0);
  const d = readDescriptor(cpu, sel);
  if (rpl < cpl) throw fault(GP, sel & 0xfffc);
  checkReturnCodeSegment(sel, d);
  if (offset > d.limit) throw fault(GP, 0);
  if (rpl === cpl) {
    cpu.addSP(2 * size + imm);
    loadCodeSegment(cpu, sel, d, cpl);
    s[EIP] = offset;
    return;
  }
  const newEsp = cpu.peek(size, 2 * size + imm), newSs = cpu.peek(2, 3 * size + imm);
  const ssd = checkOuterStack(cpu, newSs, rpl);
  loadCodeSegment(cpu, sel, d, rpl);
  markAccessed(cpu, ssd);
  loadCache(cpu, SS, newSs, ssd);
  // SDM RET: ESP ← the popped ESP (16 bits with a 16-bit operand), then the immediate is added with the
  // new stack's width (SS.B), not the operand size.
  s[ESP] = size === 4 ? newEsp : newEsp & 0xffff;
  cpu.addSP(imm);
  s[EIP] = offset;
  nullInaccessibleSegments(cpu);
}

function checkOuterStack(cpu: Cpu, ss: number, rpl: number): Descriptor {
  if ((ss & 0xfffc) === 0) throw fault(GP, 0);
  const d = readDescriptor(cpu, ss);
  if ((ss & 3) !== rpl || d.dpl !== rpl || !(d.attr & ATTR_S) || (d.attr & ATTR_CODE) || !(d.attr & ATTR_RW)) throw fault(GP, ss & 0xfffc);
  if (!(d.attr & ATTR_P)) throw fault(SS_, ss & 0xfffc);
  return d;
}

/**
 * The EFLAGS value POPF/IRET may install from `value` (SDM POPF table): IOPL only at CPL 0, IF only when
 * CPL ≤ IOPL, VM and RF never through POPF; bits 1 set, 3/5/15 clear.
 */
export function mergeFlags(cpu: Cpu, value: number, size: number, iret: boolean): number {
  const old = getEflags(cpu.s);
  let writable = 0x4fd5 | AC | ID; // CF PF AF ZF SF TF IF DF OF NT, AC, ID
  // Virtual-8086 mode is CPL 3: IOPL stays, IF is writable at IOPL 3 (the only IOPL that gets here).
  if (cpu.s[CR0] & CR0_PE) {
    const cpl = cpu.s[CPL], iopl = (old & IOPL) >>> 12;
    if (cpl === 0) writable |= IOPL;
    if (cpl > iopl) writable &= ~IF;
  } else writable |= IOPL;
  if (iret) writable |= RF;
  if (size === 2) writable &= 0xffff;
  return ((old & ~writable) | (value & writable) | 2) & ~0x8028;
}

function iret(cpu: Cpu, size: number, next: number): void {
  const s = cpu.s;
  if (!cpu.protectedMode) {
    // Virtual-8086 mode: like real mode at IOPL 3 (VM, IOPL kept by mergeFlags), else #GP(0).
    if (s[EFLAGS] & VM && cpu.ioplDenied) throw fault(GP, 0);
    const ip = size === 4 ? cpu.peek(4, 0) >>> 0 : cpu.peek(2, 0);
    const cs = cpu.peek(2, size), fl = cpu.peek(size, 2 * size);
    if (ip > csLimit(cpu)) throw fault(GP, 0);
    cpu.addSP(3 * size);
    loadSegmentReal(cpu, CS, cs);
    s[EIP] = ip;
    setEflags(s, mergeFlags(cpu, fl, size, true));
    return;
  }
  if (s[EFLAGS] & NT) {
    // Task return (SDM IRET, "TASK-RETURN"): the back link must name a busy TSS in the GDT, else #TS;
    // present, else #NP. The old task is saved with EIP after the IRET.
    const link = cpu.readSys16(s[TR_SLOT + 1] + tssLayout(s[TR_SLOT + 3]).link);
    if (link & 4) throw fault(TS, link & 0xfffc);
    const d = readDescriptor(cpu, link, TS);
    if (!isBusyTss(d.attr)) throw fault(TS, link & 0xfffc);
    if (!(d.attr & ATTR_P)) throw fault(NP, link & 0xfffc);
    switchTask(cpu, link, d, 'iret', next);
    return;
  }
  const eip = size === 4 ? cpu.peek(4, 0) >>> 0 : cpu.peek(2, 0);
  const sel = cpu.peek(2, size), fl = cpu.peek(size, 2 * size);
  const cpl = s[CPL], rpl = sel & 3;
  if (size === 4 && (fl & VM) && cpl === 0) { returnToV86(cpu, eip, sel, fl); return; }
  if ((sel & 0xfffc) === 0) throw fault(GP, 0);
  const d = readDescriptor(cpu, sel);
  if (rpl < cpl) throw fault(GP, sel & 0xfffc);
  checkReturnCodeSegment(sel, d);
  if (eip > d.limit) throw fault(GP, 0);
  const flags = mergeFlags(cpu, fl, size, true);
  if (rpl === cpl) {
    cpu.addSP(3 * size);
    loadCodeSegment(cpu, sel, d, cpl);
  } else {
    const newEsp = cpu.peek(size, 3 * size), newSs = cpu.peek(2, 4 * size);
    const ssd = checkOuterStack(cpu, newSs, rpl);
    loadCodeSegment(cpu, sel, d, rpl);
    markAccessed(cpu, ssd);
    loadCache(cpu, SS, newSs, ssd);
    s[ESP] = size === 4 ? newEsp : newEsp & 0xffff;
    nullInaccessibleSegments(cpu);
  }
  s[EIP] = eip;
  setEflags(s, flags);
}

/**
 * IRET from CPL 0 with VM in the popped EFLAGS (SDM IRET, "RETURN-TO-VIRTUAL-8086-MODE"): the frame's 24
 * bytes after EIP, CS and EFLAGS hold ESP, SS, ES, DS, FS, GS (each a dword); every EFLAGS bit is loaded,
 * the segments get real-mode caches and CPL becomes 3.
 */
function returnToV86(cpu: Cpu, eip: number, cs: number, fl: number): void {
  const s = cpu.s;
  const esp = cpu.peek(4, 12), ss = cpu.peek(2, 16), es = cpu.peek(2, 20), ds = cpu.peek(2, 24), fs = cpu.peek(2, 28), gs = cpu.peek(2, 32);
  // The whole frame must be within SS's limit (#SS(0)) before anything changes; the CS limit is now 0xFFFF.
  cpu.peek(4, 32);
  if ((eip >>> 0) > 0xffff) throw fault(GP, 0);
  setEflags(s, (fl | 2) & ~0x8028 & 0x3f7fd7);
  s[CPL] = 3;
  loadSegmentV86(cpu, CS, cs); loadSegmentV86(cpu, SS, ss);
  loadSegmentV86(cpu, ES, es); loadSegmentV86(cpu, DS, ds); loadSegmentV86(cpu, FS, fs); loadSegmentV86(cpu, GS, gs);
  s[ESP] = esp;
  s[EIP] = eip;
}

function softwareInterrupt(cpu: Cpu, vector: number, eip: number, next: number): void {
  if (cpu.intercept !== null) {
    const t0 = cpu.exits.enter();
    const handled = cpu.intercept.softwareInterrupt(vector);
    cpu.exits.leave(EXIT_SOFT_INT, t0);
    if (handled) return;
  } else cpu.exits.count(EXIT_SOFT_INT);
  deliverInterrupt(cpu, vector, { software: true, errorCode: -1, returnEip: next, eip });
}

export const CONTROL: EmitterTable = {
  JMP: (c) => {
    const { cpu, ins } = c;
    if (isFar(c)) {
      const ptr = farPointer(c), size = ins.opsize / 8;
      return () => { const [sel, off] = ptr(); farTransfer(cpu, sel, off, false, size, c.next); };
    }
    if (ins.operands[0].kind === 'rel') {
      const target = relTarget(c);
      return () => jumpNear(cpu, target);
    }
    const get = reader(cpu, ins.operands[0], ins.opsize / 8, ins.adsize);
    return ins.opsize === 16 ? () => jumpNear(cpu, get() & 0xffff) : () => jumpNear(cpu, get());
  },
  JCC: (c) => jcc(c),
  CALL: (c) => {
    const { cpu, ins } = c, size = ins.opsize / 8, next = c.next;
    if (isFar(c)) {
      const ptr = farPointer(c);
      return () => { const [sel, off] = ptr(); farTransfer(cpu, sel, off, true, size, next); };
    }
    if (ins.operands[0].kind === 'rel') {
      const target = relTarget(c);
      return () => callNear(cpu, size, target, next);
    }
    const get = reader(cpu, ins.operands[0], size, ins.adsize);
    return () => {
      const target = size === 2 ? get() & 0xffff : get();
      if ((target >>> 0) > csLimit(cpu)) throw fault(GP, 0);
      cpu.push(size, next);
      cpu.s[EIP] = target;
    };
  },
  RET: (c) => {
    const { cpu, ins } = c, size = ins.opsize / 8;
    const imm = ins.operands[0]?.kind === 'imm' ? ins.operands[0].value & 0xffff : 0;
    if (ins.opcode === 0xca || ins.opcode === 0xcb) return () => farReturn(cpu, size, imm);
    return () => returnNear(cpu, size, imm);
  },
  LOOP: (c) => loop(c, 0),
  LOOPE: (c) => loop(c, 1),
  LOOPNE: (c) => loop(c, 2),
  JCXZ: (c) => {
    const { cpu, ins } = c, target = relTarget(c), s = cpu.s;
    return ins.adsize === 32
      ? () => { if (s[ECX] === 0) { jumpNear(cpu, target); cpu.breakBlock |= BREAK_JUMP; } }
      : () => { if (cpu.r16[ECX << 1] === 0) { jumpNear(cpu, target); cpu.breakBlock |= BREAK_JUMP; } };
  },
  INT: (c) => {
    const { cpu, ins } = c, next = c.next;
    const op = ins.operands[0];
    const vector = op?.kind === 'imm' ? op.value & 0xff : ins.opcode === 0xf1 ? 1 : 3;
    // INT n (not INT3, INTO) is IOPL-sensitive in virtual-8086 mode: #GP(0) below IOPL 3.
    const sensitive = ins.opcode === 0xcd;
    return () => {
      if (sensitive && cpu.s[EFLAGS] & VM && cpu.ioplDenied) throw fault(GP, 0);
      softwareInterrupt(cpu, vector, c.eip, next);
    };
  },
  INT3: (c) => { const { cpu } = c; return () => softwareInterrupt(cpu, BP, c.eip, c.next); },
  INT1: (c) => { const { cpu } = c; return () => deliverInterrupt(cpu, 1, { software: false, errorCode: -1, returnEip: c.next }); },
  INTO: (c) => { const { cpu } = c; return () => { if (getOF(cpu.s)) softwareInterrupt(cpu, OF_, c.eip, c.next); }; },
  IRET: (c) => { const { cpu } = c, size = c.ins.opsize / 8, next = c.next; return () => iret(cpu, size, next); },
  BOUND: (c) => {
    const { cpu, ins } = c, size = ins.opsize / 8;
    const idx = reader(cpu, ins.operands[0], size, ins.adsize);
    const m = ins.operands[1];
    if (m.kind !== 'mem') throw new Error('BOUND needs a memory operand');
    const ea = effectiveAddress(cpu, m, ins.adsize), seg = m.seg;
    return () => {
      const a = ea();
      const lo = signExtend(cpu.read(seg, a, size), size), hi = signExtend(cpu.read(seg, (a + size) | 0, size), size);
      const v = signExtend(idx(), size);
      if (v < lo || v > hi) throw fault(BR);
    };
  },
};
CONTROL.RETF = CONTROL.RET;
CONTROL.IRETD = CONTROL.IRET;
CONTROL.JECXZ = CONTROL.JCXZ;

/**
 * Jcc as a side exit, its condition inline in the closure (flags.ts's branchIf) and fused with the
 * previous instruction when that wrote the lazy record (QEMU-style compare-and-branch fusion: after a CMP
 * the condition is one comparison of the recorded operands).
 */
function jcc(c: EmitContext): () => void {
  return branchIf(c.cpu.s, c.ins.cond, recordWriter(c.prev), takeBranch, c.cpu, relTarget(c));
}
/** A taken Jcc: shared by all of them, so that each keeps one closure (branchIf's) rather than two. */
export function takeBranch(cpu: Cpu, target: number): void {
  jumpNear(cpu, target);
  cpu.breakBlock |= BREAK_JUMP;
}

/** LOOP (kind 0), LOOPE (1), LOOPNE (2): decrement CX/ECX without touching flags, then branch. */
function loop(c: EmitContext, kind: number): () => void {
  const { cpu, ins } = c, s = cpu.s, target = relTarget(c);
  const zfWanted = kind === 1;
  return () => {
    let count: number;
    if (ins.adsize === 32) count = s[ECX] = (s[ECX] - 1) | 0;
    else count = cpu.r16[ECX << 1] = (cpu.r16[ECX << 1] - 1) & 0xffff;
    if (count === 0) return;
    if (kind !== 0 && getZF(s) !== zfWanted) return;
    jumpNear(cpu, target);
    cpu.breakBlock |= BREAK_JUMP;
  };
}

