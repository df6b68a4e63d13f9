// Data transfer and flag-control instructions (SDM Vol. 1 7.3.1, 7.3.13; Vol. 2 MOV MOVZX MOVSX XCHG LEA
// CBW/CWDE CWD/CDQ XLAT LAHF SAHF CLC STC CMC CLD STD NOP). Segment-register, control-register and
// debug-register moves are system instructions (system.ts). SALC (D6) is not here: the decoder treats it
// as invalid, as GNU objdump does.
import { DS, type MemOperand, type Operand } from '../../decoder/instruction.ts';
import { type Cpu, PAUSE_NS } from '../cpu.ts';
import { isPause } from '../instruction-meta.ts';
import { getCF, getEflags, setFlagBits } from '../flags.ts';
import { effectiveAddress, type Exec, type Getter, maskOf, modifier, reader, type Setter, signExtend, writer } from '../operands.ts';
import { AF, CF, DF, EAX, EBX, EDX, EFLAGS, PF, SF, ZF } from '../state.ts';
import type { PlaceFreeTable } from './emitter.ts';

/** The flags LAHF/SAHF move: SF ZF AF PF CF (bits 7 6 4 2 0). */
const AH_FLAGS = SF | ZF | AF | PF | CF;

/** Operand size in bytes of a MOVZX/MOVSX source (a register's own size or the memory access size). */
const sourceSize = (o: { kind: string; size?: number }): number => (o.size === 1 ? 1 : 2);

// MOV's closures, each made by a factory of its own so that its context holds only what it uses (see operands.ts).
const movRegReg = (s: Int32Array, a: number, b: number): Exec => () => { s[a] = s[b]; };
const movRegImm = (s: Int32Array, a: number, v: number): Exec => () => { s[a] = v; };
const movRegGet = (s: Int32Array, a: number, get: Getter): Exec => () => { s[a] = get(); };
const move = (get: Getter, set: Setter): Exec => () => set(get());
// The commonest memory forms (a third of a kernel's instructions: 32-bit loads and stores at [reg + disp],
// and LEA of that address) in one closure each rather than two or three (MOV's or LEA's, the reader's or
// writer's, the effective address's).
export const isBasePlusDisp = (o: Operand | undefined, adsize: 16 | 32): o is MemOperand =>
  o !== undefined && o.kind === 'mem' && adsize === 32 && o.base >= 0 && o.index < 0;
// (Their semantics, shared with the run loop's compact records: records.ts.)
export const movLoad32 = (cpu: Cpu, s: Int32Array, a: number, seg: number, b: number, d: number): void => { s[a] = cpu.read32(seg, (s[b] + d) | 0); };
export const movStore32 = (cpu: Cpu, s: Int32Array, seg: number, b: number, d: number, r: number): void => cpu.write32(seg, (s[b] + d) | 0, s[r]);
export const leaBaseDisp32 = (s: Int32Array, r: number, b: number, d: number): void => { s[r] = (s[b] + d) | 0; };
const movRegLoad = (cpu: Cpu, a: number, seg: number, b: number, d: number): Exec => { const s = cpu.s; return () => movLoad32(cpu, s, a, seg, b, d); };
const leaBaseDisp = (s: Int32Array, r: number, b: number, d: number): Exec => () => leaBaseDisp32(s, r, b, d);
const movStoreReg = (cpu: Cpu, seg: number, b: number, d: number, r: number): Exec => { const s = cpu.s; return () => movStore32(cpu, s, seg, b, d, r); };

export const DATA: PlaceFreeTable = {
  MOV: ({ cpu, ins }) => {
    const size = ins.size, [d, src] = ins.operands;
    if (size === 4 && d.kind === 'reg') {
      if (src.kind === 'reg') return movRegReg(cpu.s, d.reg, src.reg);
      if (src.kind === 'imm') return movRegImm(cpu.s, d.reg, src.value | 0);
      if (isBasePlusDisp(src, ins.adsize)) return movRegLoad(cpu, d.reg, src.seg, src.base, src.disp | 0);
      return movRegGet(cpu.s, d.reg, reader(cpu, src, 4, ins.adsize));
    }
    if (size === 4 && src.kind === 'reg' && isBasePlusDisp(d, ins.adsize)) return movStoreReg(cpu, d.seg, d.base, d.disp | 0, src.reg);
    return move(reader(cpu, src, size, ins.adsize), writer(cpu, d, size, ins.adsize));
  },

  MOVZX: ({ cpu, ins }) => {
    const [d, src] = ins.operands, from = sourceSize(src);
    const get = reader(cpu, src, from, ins.adsize), set = writer(cpu, d, ins.size, ins.adsize);
    return () => set(get());
  },
  MOVSX: ({ cpu, ins }) => {
    const [d, src] = ins.operands, from = sourceSize(src), mask = maskOf(ins.size);
    const get = reader(cpu, src, from, ins.adsize), set = writer(cpu, d, ins.size, ins.adsize);
    return () => set(signExtend(get(), from) & mask);
  },

  // XCHG with memory: the memory side is checked for writing first, written, then the register.
  XCHG: ({ cpu, ins }) => {
    const s = cpu.s, size = ins.size, [x, y] = ins.operands;
    if (x.kind === 'reg' && y.kind === 'reg') {
      const a = x.reg, b = y.reg;
      if (size === 4) return () => { const t = s[a]; s[a] = s[b]; s[b] = t; };
      return () => { const t = cpu.getReg(a, size); cpu.setReg(a, size, cpu.getReg(b, size)); cpu.setReg(b, size, t); };
    }
    const [m, r] = x.kind === 'mem' ? [x, y] : [y, x];
    if (r.kind !== 'reg') throw new Error('XCHG: one operand must be a register');
    const mem = modifier(cpu, m, size, ins.adsize), reg = r.reg;
    return () => { const v = mem.get(); mem.set(cpu.getReg(reg, size)); cpu.setReg(reg, size, v); };
  },

  // LEA: the offset is computed with the address size, then truncated or zero-extended to the operand size.
  LEA: ({ cpu, ins }) => {
    const s = cpu.s, [d, m] = ins.operands;
    if (d.kind !== 'reg' || m.kind !== 'mem') throw new Error('LEA: register destination and memory source expected');
    if (ins.opsize === 32 && isBasePlusDisp(m, ins.adsize)) return leaBaseDisp(s, d.reg, m.base, m.disp | 0);
    const ea = effectiveAddress(cpu, m, ins.adsize), r = d.reg;
    if (ins.opsize === 32) return () => { s[r] = ea(); };
    return () => { cpu.r16[r << 1] = ea(); };
  },

  // CBW (AX = sign-extended AL) or CWDE (EAX = sign-extended AX) by operand size.
  CBW: ({ cpu, ins }) => {
    const s = cpu.s, r16 = cpu.r16;
    if (ins.opsize === 32) return () => { s[EAX] = (s[EAX] << 16) >> 16; };
    return () => { r16[EAX << 1] = (s[EAX] << 24) >> 24; };
  },
  // CWD (DX = sign of AX) or CDQ (EDX = sign of EAX) by operand size.
  CWD: ({ cpu, ins }) => {
    const s = cpu.s, r16 = cpu.r16;
    if (ins.opsize === 32) return () => { s[EDX] = s[EAX] >> 31; };
    return () => { r16[EDX << 1] = (s[EAX] << 16) >> 31; };
  },

  // XLAT: AL = [seg:(E)BX + AL], seg = DS or the override.
  XLAT: ({ cpu, ins }) => {
    const s = cpu.s, r8 = cpu.r8, op = ins.operands[0];
    const seg = op?.kind === 'mem' ? op.seg : ins.segOverride >= 0 ? ins.segOverride : DS;
    if (ins.adsize === 32) return () => { r8[0] = cpu.read8(seg, (s[EBX] + r8[0]) | 0); };
    return () => { r8[0] = cpu.read8(seg, (cpu.r16[EBX << 1] + r8[0]) & 0xffff); };
  },

  LAHF: ({ cpu }) => {
    const s = cpu.s;
    return () => { cpu.r8[1] = (getEflags(s) & AH_FLAGS) | 2; };
  },
  SAHF: ({ cpu }) => {
    const s = cpu.s;
    return () => setFlagBits(s, AH_FLAGS, cpu.r8[1]);
  },
  CLC: ({ cpu }) => { const s = cpu.s; return () => setFlagBits(s, CF, 0); },
  STC: ({ cpu }) => { const s = cpu.s; return () => setFlagBits(s, CF, CF); },
  CMC: ({ cpu }) => { const s = cpu.s; return () => setFlagBits(s, CF, getCF(s) ^ CF); },
  CLD: ({ cpu }) => { const s = cpu.s; return () => { s[EFLAGS] &= ~DF; }; },
  STD: ({ cpu }) => { const s = cpu.s; return () => { s[EFLAGS] |= DF; }; },

  // NOP, also the multi-byte NOP Ev (no memory access); PAUSE (F3 90) spends virtual time (cpu.ts PAUSE_NS).
  NOP: ({ cpu, ins }) => (isPause(ins) ? () => cpu.spendTime(PAUSE_NS - 1) : () => {}),
};
