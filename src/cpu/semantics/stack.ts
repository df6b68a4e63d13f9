// Stack instructions (SDM PUSH, POP, PUSHA, POPA, PUSHF, POPF, ENTER, LEAVE): the stack width comes from
// SS.B at execution time, the operand width from the instruction.
import { SS } from '../../decoder/instruction.ts';
import { BREAK_MODE, type Cpu } from '../cpu.ts';
import { fault, GP } from '../fault.ts';
import { getEflags, setEflags } from '../flags.ts';
import { type Exec, reader, writer } from '../operands.ts';
import { loadSegment } from '../segments.ts';
import { EBP, EFLAGS, ESP, RF, SEG_SEL, segSlot, STACK32, VM } from '../state.ts';
import { mergeFlags } from './control.ts';
import type { PlaceFreeTable } from './emitter.ts';

// PUSH r32 and POP r, the commonest forms, from factories of their own: a closure made in the emitter
// would keep the emitter's whole context (and a block's) alive as long as the code cache holds it.
// (Their semantics, shared with the run loop's compact records: records.ts.)
export const pushReg32Exec = (cpu: Cpu, s: Int32Array, r: number): void => cpu.push(4, s[r]);
export const popReg32Exec = (cpu: Cpu, s: Int32Array, r: number): void => { const v = cpu.pop(4); s[r] = v; };
const pushReg32 = (cpu: Cpu, r: number): Exec => { const s = cpu.s; return () => pushReg32Exec(cpu, s, r); };
const popReg32 = (cpu: Cpu, r: number): Exec => { const s = cpu.s; return () => popReg32Exec(cpu, s, r); };
const popReg16 = (cpu: Cpu, r: number): Exec => { const r16 = cpu.r16, i = r << 1; return () => { const v = cpu.pop(2); r16[i] = v; }; };

export const STACK: PlaceFreeTable = {
  PUSH: ({ cpu, ins }) => {
    const size = ins.opsize / 8, op = ins.operands[0], s = cpu.s;
    if (op.kind === 'sreg') { const slot = segSlot(op.reg, SEG_SEL); return () => cpu.push(size, s[slot] & 0xffff); }
    if (op.kind === 'reg' && op.reg === ESP) {
      // PUSH ESP pushes the value before the decrement.
      return size === 4 ? () => cpu.push(4, s[ESP]) : () => cpu.push(2, cpu.r16[ESP << 1]);
    }
    if (op.kind === 'reg' && size === 4) return pushReg32(cpu, op.reg);
    const get = reader(cpu, op, size, ins.adsize);
    return () => cpu.push(size, get());
  },
  POP: ({ cpu, ins }) => {
    const size = ins.opsize / 8, op = ins.operands[0], s = cpu.s;
    if (op.kind === 'sreg') {
      const seg = op.reg;
      // ESP moves by the width of the stack the value is popped from: POP SS must not use the new SS's.
      return () => {
        const v = cpu.peek(size, 0) & 0xffff, esp = s[ESP];
        cpu.addSP(size);
        try { loadSegment(cpu, seg, v); } catch (e) { s[ESP] = esp; throw e; }
        if (seg === SS) cpu.shadow = 1; // like MOV SS: no interrupt before the next instruction (the ESP load)
      };
    }
    if (op.kind === 'reg') return size === 4 ? popReg32(cpu, op.reg) : popReg16(cpu, op.reg);
    // POP m: the address is computed after ESP has been incremented; nothing changes if the write faults.
    const set = writer(cpu, op, size, ins.adsize);
    return () => {
      const v = cpu.peek(size, 0), old = s[ESP];
      cpu.addSP(size);
      try { set(v); } catch (e) { s[ESP] = old; throw e; }
    };
  },
  PUSHA: ({ cpu, ins }) => {
    const size = ins.opsize / 8, s = cpu.s;
    return () => {
      const sp = s[ESP], regs = size === 4 ? [s[0], s[1], s[2], s[3], sp, s[5], s[6], s[7]]
        : [0, 1, 2, 3, 4, 5, 6, 7].map((r) => cpu.r16[r << 1]);
      try { for (const v of regs) cpu.push(size, v); } catch (e) { s[ESP] = sp; throw e; }
    };
  },
  POPA: ({ cpu, ins }) => {
    const size = ins.opsize / 8;
    return () => {
      const v: number[] = [];
      for (let i = 0; i < 8; i++) v.push(cpu.peek(size, i * size));
      // v[0] is DI/EDI ... v[7] is AX/EAX; the saved SP/ESP (v[3]) is discarded.
      for (let r = 0; r < 8; r++) if (r !== ESP) cpu.setReg(r, size, v[7 - r]);
      cpu.addSP(8 * size);
    };
  },
  PUSHF: ({ cpu, ins }) => {
    const size = ins.opsize / 8;
    // Virtual-8086 mode below IOPL 3: #GP(0) (the monitor emulates it; CR4.VME is not offered).
    return () => { if (cpu.s[EFLAGS] & VM && cpu.ioplDenied) throw fault(GP, 0); cpu.push(size, getEflags(cpu.s) & ~(VM | RF)); };
  },
  POPF: ({ cpu, ins }) => {
    const size = ins.opsize / 8;
    return () => {
      if (cpu.s[EFLAGS] & VM && cpu.ioplDenied) throw fault(GP, 0);
      const v = cpu.peek(size, 0);
      const merged = mergeFlags(cpu, v, size, false);
      cpu.addSP(size);
      setEflags(cpu.s, merged);
      cpu.breakBlock |= BREAK_MODE; // TF or IF may have changed: the run loop re-checks
    };
  },
  ENTER: ({ cpu, ins }) => {
    const size = ins.opsize / 8, s = cpu.s;
    const ops = ins.operands;
    const alloc = ops[0].kind === 'imm' ? ops[0].value & 0xffff : 0;
    const level = (ops[1]?.kind === 'imm' ? ops[1].value : 0) & 31;
    return () => {
      const esp0 = s[ESP], ebp0 = s[EBP];
      const wide = s[STACK32] !== 0;
      try {
        cpu.push(size, size === 4 ? s[EBP] : cpu.r16[EBP << 1]);
        const frame = wide ? s[ESP] : s[ESP] & 0xffff;
        let bp = wide ? s[EBP] : s[EBP] & 0xffff;
        if (level > 0) {
          for (let i = 1; i < level; i++) {
            bp = wide ? (bp - size) | 0 : (bp - size) & 0xffff;
            cpu.push(size, cpu.read(SS, bp, size));
          }
          cpu.push(size, frame);
        }
        // Touch the lowest byte of the new frame so a stack fault is raised by ENTER itself.
        const newSp = wide ? (s[ESP] - alloc) | 0 : (s[ESP] - alloc) & 0xffff;
        if (alloc > 0) cpu.probeWrite(SS, newSp, 1);
        if (size === 4) s[EBP] = frame; else cpu.r16[EBP << 1] = frame;
        if (wide) s[ESP] = newSp; else cpu.r16[ESP << 1] = newSp;
      } catch (e) { s[ESP] = esp0; s[EBP] = ebp0; throw e; }
    };
  },
  LEAVE: ({ cpu, ins }) => {
    const size = ins.opsize / 8, s = cpu.s;
    return () => {
      const sp = s[STACK32] ? s[EBP] : s[EBP] & 0xffff;
      const v = cpu.read(SS, sp, size);
      if (s[STACK32]) s[ESP] = sp + size; else cpu.r16[ESP << 1] = sp + size;
      if (size === 4) s[EBP] = v; else cpu.r16[EBP << 1] = v;
    };
  },
};
