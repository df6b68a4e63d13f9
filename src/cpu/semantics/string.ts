// String instructions (SDM Vol. 1 7.3.9; Vol. 2 MOVS CMPS STOS LODS SCAS INS OUTS, REP/REPE/REPNE).
// The source is seg:(E)SI with seg = DS or the override; the destination is always ES:(E)DI. The address
// size picks SI/DI/CX or ESI/EDI/ECX; DF picks the direction.
//
// REP is precise and interruptible: (E)SI, (E)DI and (E)CX always describe the iterations completed so
// far, so a fault in the middle (the run loop rolls EIP back to the instruction) resumes correctly on
// re-execution. One execution ends where the count reaches a multiple of REP_CHUNK (so at most REP_CHUNK
// iterations); if the count is not exhausted by then, EIP is set back to the instruction and the block
// ends, so the run loop can check its budget, timers and interrupts before the instruction runs again.
// The boundaries depend on the count alone: an execution cut short (a fault, or compiled code leaving
// before an element: jit/semantics-wasm.ts) and run again ends where an uninterrupted one would, so both
// engines retire the instruction the same number of times. REP MOVS/STOS over flat segments and plain RAM run as
// typed-array copies and fills.
import { DS, ES, PREFIX_REP, PREFIX_REPNE } from '../../decoder/instruction.ts';
import { BREAK_EIP_SET, BREAK_MODE, BREAK_STOP, type Cpu } from '../cpu.ts';
import { getZF, OP_SUB, setLazy } from '../flags.ts';
import { maskOf } from '../operands.ts';
import { CR0, CR0_PG, DF, EAX, ECX, EDI, EDX, EFLAGS, EIP, ESI, RAM_OFFSET } from '../state.ts';
import type { EmitContext, Emitter, EmitterTable } from './emitter.ts';
import { checkIoPermission } from './system.ts';

/** Iterations per execution of a REP instruction before it yields to the run loop: it yields where the count reaches a multiple of this. */
export const REP_CHUNK = 65536;

/** The iterations an execution of a REP with count n > 0 (unsigned) does at most: to the next multiple of REP_CHUNK below n. */
export const repChunk = (n: number): number => ((n - 1) & (REP_CHUNK - 1)) + 1;

/** Which index registers an instruction steps. */
const USES_SI = 1, USES_DI = 2;

/** One element of the operation at source offset si and destination offset di. */
type Step = (si: number, di: number) => void;

/**
 * A fast path for a REP execution: handles up to REP_CHUNK elements itself (updating the registers) and
 * returns true, or returns false to let the element loop run.
 */
type FastRep = (n: number) => boolean;

interface StringForm {
  uses: number;
  /** CMPS/SCAS: REPE/REPNE also stop on ZF. */
  compares: boolean;
  step: Step;
  fast?: FastRep;
  /** INS/OUTS: the I/O permission check, done once before the first element. */
  before?: () => void;
}

/** End this execution early: the instruction runs again from the current registers. */
function yieldRep(c: EmitContext): void {
  c.cpu.s[EIP] = c.eip;
  c.cpu.breakBlock |= BREAK_MODE | BREAK_EIP_SET;
}

function stringEmitter(build: (c: EmitContext, srcSeg: number) => StringForm): Emitter {
  return (c) => {
    const { cpu, ins } = c, s = cpu.s, r16 = cpu.r16, size = ins.size;
    const srcSeg = ins.segOverride >= 0 ? ins.segOverride : DS;
    const { uses, compares, step, fast, before } = build(c, srcSeg);
    const a32 = ins.adsize === 32, mask = a32 ? -1 : 0xffff;
    const getR = a32 ? (r: number): number => s[r] : (r: number): number => r16[r << 1];
    const setR = a32 ? (r: number, v: number): void => { s[r] = v; } : (r: number, v: number): void => { r16[r << 1] = v; };
    const useSI = (uses & USES_SI) !== 0, useDI = (uses & USES_DI) !== 0;
    const rep = (ins.prefixes & (PREFIX_REP | PREFIX_REPNE)) !== 0;

    if (!rep) {
      return () => {
        const d = s[EFLAGS] & DF ? -size : size, si = getR(ESI), di = getR(EDI);
        if (before) before();
        step(si, di);
        if (useSI) setR(ESI, (si + d) & mask);
        if (useDI) setR(EDI, (di + d) & mask);
      };
    }

    // REPE (F3) repeats CMPS/SCAS while ZF = 1, REPNE (F2) while ZF = 0; other instructions treat both as REP.
    const whileZF = (ins.prefixes & PREFIX_REP) !== 0;
    const useFast = a32 ? fast : undefined;
    return () => {
      let n = getR(ECX);
      if (n === 0) return;
      if (before) before();
      if (useFast && useFast(n)) return;
      const d = s[EFLAGS] & DF ? -size : size;
      let si = getR(ESI), di = getR(EDI), done = 0;
      try {
        for (;;) {
          step(si, di);
          si = (si + d) & mask; di = (di + d) & mask; n = (n - 1) & mask;
          if (n === 0) break;
          if (compares && getZF(s) !== whileZF) break;
          done++;
          if ((n & (REP_CHUNK - 1)) === 0 || cpu.breakBlock & BREAK_STOP) { yieldRep(c); break; }
        }
      } finally {
        // Also on a fault: the registers then describe the iterations that completed.
        if (useSI) setR(ESI, si);
        if (useDI) setR(EDI, di);
        setR(ECX, n);
        cpu.work += done;
      }
    };
  };
}

/**
 * True when [lin, lin + bytes) may be written straight into RAM: paging is off (linear = physical) and no
 * chunk in the range holds decoded code (whose writes must go through the invalidating path). Pages armed
 * for the dirty log may be: the fast paths record them (mem.logWrite) before they write.
 */
function plainRam(cpu: Cpu, lin: number, bytes: number): boolean {
  return !(cpu.s[CR0] & CR0_PG) && !cpu.mem.touchesCode(lin, bytes);
}

/**
 * REP MOVS as one memmove when both segments are flat and both ranges are plain RAM, in either direction
 * (DF = 1: a Linux kernel's decompressor moves its ~5 MB image up that way before it starts, 36 ms of
 * the boot element by element).
 */
function fastMovs(c: EmitContext, srcSeg: number): FastRep {
  const cpu = c.cpu, s = cpu.s, size = c.ins.size, u8 = cpu.mem.u8;
  return (n) => {
    if (cpu.segSlow[srcSeg] !== 0 || cpu.segSlow[ES] !== 0) return false;
    const count = repChunk(n), bytes = count * size, back = (s[EFLAGS] & DF) !== 0;
    // The bytes the elements cover start at si forwards, and the last element's size below si + size backwards.
    const si = s[ESI] >>> 0, di = s[EDI] >>> 0, below = back ? bytes - size : 0;
    const src = si - below, dst = di - below, ram = cpu.fastRamEnd;
    if (src < 0 || dst < 0 || src + bytes > ram || dst + bytes > ram) return false;
    // An element-by-element copy into a destination that starts inside the source on the side the copy
    // moves away from replicates the source's head (forwards) or tail (backwards); memmove would not. (A
    // destination on the other side copies the same either way.)
    if (back ? dst < src && dst + bytes > src : dst > src && dst < src + bytes) return false;
    if (!plainRam(cpu, dst, bytes)) return false;
    cpu.mem.logWrite(dst, bytes);
    u8.copyWithin(RAM_OFFSET + dst, RAM_OFFSET + src, RAM_OFFSET + src + bytes);
    const d = back ? -bytes : bytes;
    s[ESI] = si + d; s[EDI] = di + d; s[ECX] = n - count;
    cpu.work += bytes >>> 4; // a bulk copy moves ~16 bytes in an instruction's time
    if (s[ECX] !== 0) yieldRep(c);
    return true;
  };
}

/** REP STOS as a fill when DF = 0, ES is flat and the range is plain RAM. */
function fastStos(c: EmitContext): FastRep {
  const cpu = c.cpu, s = cpu.s, size = c.ins.size, u8 = cpu.mem.u8, view = cpu.view;
  return (n) => {
    if (s[EFLAGS] & DF || cpu.segSlow[ES] !== 0) return false;
    const count = repChunk(n), bytes = count * size;
    const di = s[EDI] >>> 0;
    if (di + bytes > cpu.fastRamEnd || !plainRam(cpu, di, bytes)) return false;
    cpu.mem.logWrite(di, bytes);
    const at = RAM_OFFSET + di, v = s[EAX];
    if (size === 1) u8.fill(v & 0xff, at, at + bytes);
    else {
      // Store one element, then double the filled prefix until the range is covered.
      if (size === 2) view.setUint16(at, v, true); else view.setInt32(at, v, true);
      for (let filled = size; filled < bytes;) {
        const len = Math.min(filled, bytes - filled);
        u8.copyWithin(at + filled, at, at + len);
        filled += len;
      }
    }
    s[EDI] = di + bytes; s[ECX] = n - count;
    cpu.work += bytes >>> 4;
    if (s[ECX] !== 0) yieldRep(c);
    return true;
  };
}

export const STRING: EmitterTable = {
  MOVS: stringEmitter((c, srcSeg) => {
    const cpu = c.cpu, size = c.ins.size;
    return {
      uses: USES_SI | USES_DI, compares: false, fast: fastMovs(c, srcSeg),
      step: (si, di) => { const v = cpu.read(srcSeg, si, size); cpu.write(ES, di, size, v); },
    };
  }),
  STOS: stringEmitter((c) => {
    const cpu = c.cpu, size = c.ins.size;
    return { uses: USES_DI, compares: false, fast: fastStos(c), step: (_si, di) => cpu.write(ES, di, size, cpu.getReg(EAX, size)) };
  }),
  LODS: stringEmitter((c, srcSeg) => {
    const cpu = c.cpu, size = c.ins.size;
    return { uses: USES_SI, compares: false, step: (si) => cpu.setReg(EAX, size, cpu.read(srcSeg, si, size)) };
  }),
  // CMPS: flags of [seg:SI] - [ES:DI].
  CMPS: stringEmitter((c, srcSeg) => {
    const cpu = c.cpu, s = cpu.s, size = c.ins.size, mask = maskOf(size);
    return {
      uses: USES_SI | USES_DI, compares: true,
      step: (si, di) => {
        const x = cpu.read(srcSeg, si, size), y = cpu.read(ES, di, size);
        setLazy(s, OP_SUB, x, y, (x - y) & mask, size);
      },
    };
  }),
  // SCAS: flags of accumulator - [ES:DI].
  SCAS: stringEmitter((c) => {
    const cpu = c.cpu, s = cpu.s, size = c.ins.size, mask = maskOf(size);
    return {
      uses: USES_DI, compares: true,
      step: (_si, di) => {
        const x = cpu.getReg(EAX, size) & mask, y = cpu.read(ES, di, size);
        setLazy(s, OP_SUB, x, y, (x - y) & mask, size);
      },
    };
  }),
  // INS: [ES:DI] = in(DX). The destination is checked before the port is read, so a faulting store
  // does not consume device data twice.
  INS: stringEmitter((c) => {
    const cpu = c.cpu, s = cpu.s, size = c.ins.size as 1 | 2 | 4;
    return {
      uses: USES_DI, compares: false,
      before: () => checkIoPermission(cpu, s[EDX] & 0xffff, size),
      step: (_si, di) => {
        const lin = cpu.linear(ES, di, size, true);
        cpu.writeLin(lin, size, cpu.portIn(s[EDX] & 0xffff, size, c.index));
      },
    };
  }),
  // OUTS: out(DX, [seg:SI]).
  OUTS: stringEmitter((c, srcSeg) => {
    const cpu = c.cpu, s = cpu.s, size = c.ins.size as 1 | 2 | 4;
    return {
      uses: USES_SI, compares: false,
      before: () => checkIoPermission(cpu, s[EDX] & 0xffff, size),
      step: (si) => cpu.portOut(s[EDX] & 0xffff, size, cpu.read(srcSeg, si, size), c.index),
    };
  }),
};
