// The x87 instructions (D8–DF, SDM Vol. 1 ch. 8, Vol. 2): the register stack with its tags, stack faults,
// exceptions as the status word records them, the instruction and operand pointers as a P6 keeps them,
// on top of the bit-exact arithmetic core (../fpu/). Every emitter is built by `x87`, which does what all
// of them share: #NM for CR0.EM/TS, #MF for a pending unmasked exception (waiting forms, CR0.NE), the
// memory operand's address, and FIP/FCS/FOP/FDP/FDS.
// The transcendentals (F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS) are approximations: computed
// in double precision by the host's Math (transcendental.ts), not bit-exact, unlike everything else here.
// Not here: without CR0.NE a pending exception is ignored (no FERR# → IRQ13).
import { CS, type Instruction, type MemOperand } from '../../decoder/instruction.ts';
import type { Cpu } from '../cpu.ts';
import { fault, MF, NM, UD } from '../fault.ts';
import { conditionFor, setFlagBits } from '../flags.ts';
import {
  add, atan2, BCD_INDEFINITE, C0, C1, C2, C3, compare, DE, div, examine, f80, Float80, type FpuResult, fromBcd, fromF32, fromF64, fromInt, IE,
  INDEFINITE, mul, prem, premCodesWritten, roundingOf, roundToInteger, scale, sqrt, sub, toBcd, toF32, toF64, toInt, trig, Trig, twoToXMinus1, unmasked,
  writesMemory, writesRegister, xtract, yLog2X, yLog2XPlus1,
} from '../fpu/index.ts';
import { free, fpuInit, isEmpty, pop, push, readPhysical, readST, setTop, tagOf, TAG_EMPTY, top, writePhysical, writeST } from '../fpu/fpu-state.ts';
import { effectiveAddress, type Exec } from '../operands.ts';
import {
  ARITH_FLAGS, CF, CPL, CR0, CR0_EM, CR0_NE, CR0_TS, FPU_CW, FPU_FCS, FPU_FDP, FPU_FDS, FPU_FIP, FPU_FOP, FPU_SW, FPU_TW, PF, SEG_BASE, SEG_SEL,
  segSlot, ZF,
} from '../state.ts';
import type { EmitContext, EmitterTable } from './emitter.ts';

/** Status-word bits beyond the exception flags and condition codes: stack fault, error summary, busy. */
const SF = 0x40, ES = 0x80, B = 0x8000;

/** Records exception flags (IE…PE, SF) in the status word; an unmasked one sets ES and B (reported at the
 * next waiting instruction). */
function signal(s: Int32Array, flags: number): void {
  let sw = s[FPU_SW] | (flags & 0x7f);
  if (unmasked(flags, s[FPU_CW])) sw |= ES | B;
  s[FPU_SW] = sw;
}

/** The condition codes an instruction writes: `mask` of them set to `codes`. */
function setCodes(s: Int32Array, mask: number, codes: number): void {
  s[FPU_SW] = (s[FPU_SW] & ~mask) | (codes & mask);
}

/** An arithmetic result's flags: C1 = rounded up, then the exceptions. */
function signalResult(s: Int32Array, flags: number): void {
  setCodes(s, C1, flags);
  signal(s, flags);
}

/** Stack overflow (C1 = 1) or underflow (C1 = 0): IE and SF. Returns whether IE is masked (the masked
 * response — the indefinite — is then due). */
function stackFault(s: Int32Array, overflow: boolean): boolean {
  setCodes(s, C1, overflow ? C1 : 0);
  signal(s, IE | SF);
  return (s[FPU_CW] & IE) !== 0;
}

/** Pushes v, or answers a full stack (ST(7) in use) as stack overflow. */
function pushChecked(s: Int32Array, v: Float80): void {
  if (!isEmpty(s, 7)) { if (stackFault(s, true)) push(s, INDEFINITE); return; }
  setCodes(s, C1, 0);
  push(s, v);
}

/** The x87 instructions that do not wait for pending exceptions (the FN… forms). */
const NO_WAIT = new Set(['FNINIT', 'FNCLEX', 'FNSTENV', 'FNSAVE', 'FNSTSW', 'FNSTCW', 'FNENI', 'FNDISI', 'FNSETPM', 'FRSTPM']);
/** Control instructions: they leave FIP/FOP/FDP as the last non-control instruction set them. */
const CONTROL = new Set([...NO_WAIT, 'FLDCW', 'FLDENV', 'FRSTOR']);

type Body = (s: Int32Array, off: number) => void;

/**
 * What a waiting x87 instruction (and WAIT) does first: an unmasked exception pending (SW.ES) is #MF with
 * CR0.NE; without it FERR# goes to the board (IRQ13, unless IGNNE# is asserted) and the instruction runs on.
 * Finding ES clear deasserts IGNNE# (FERR# is gone: the chipset lets go of it).
 */
export function waitForFpu(cpu: Cpu): void {
  const s = cpu.s;
  if (s[FPU_SW] & ES) {
    if (s[CR0] & CR0_NE) throw fault(MF);
    cpu.ferr?.assertFerr();
  } else if (cpu.ferr !== null && cpu.ferr.ignne) cpu.ferr.ignne = false;
}

/** What every x87 instruction does around its own semantics. */
function x87(c: EmitContext, body: Body): Exec {
  const { cpu, ins } = c, s = cpu.s;
  const waits = !NO_WAIT.has(ins.op), control = CONTROL.has(ins.op);
  const m = memOf(ins);
  const ea = m !== null ? effectiveAddress(cpu, m, ins.adsize) : null, seg = m !== null ? m.seg : 0;
  const fop = ((ins.opcode & 7) << 8) | (ins.modrm & 0xff), eip = c.eip;
  return () => {
    if (s[CR0] & (CR0_EM | CR0_TS)) throw fault(NM);
    if (waits) waitForFpu(cpu);
    const off = ea !== null ? ea() : 0;
    body(s, off);
    if (!control) {
      s[FPU_FIP] = eip; s[FPU_FCS] = s[segSlot(CS, SEG_SEL)] & 0xffff; s[FPU_FOP] = fop;
      if (ea !== null) { s[FPU_FDP] = off; s[FPU_FDS] = s[segSlot(seg, SEG_SEL)] & 0xffff; }
    }
  };
}

const memOf = (ins: Instruction): MemOperand | null => {
  for (const o of ins.operands) if (o.kind === 'mem') return o;
  return null;
};
const stOf = (ins: Instruction, i: number): number => {
  const o = ins.operands[i];
  return o !== undefined && o.kind === 'st' ? o.reg : -1;
};

// ---- memory formats -----------------------------------------------------------------------------

/** Integer forms (DA, DE, and the FILD/FIST group of DB and DF) read and write two's-complement integers. */
const isIntegerForm = (ins: Instruction): boolean => ins.op.startsWith('FI');

function readMem(cpu: Cpu, ins: Instruction, seg: number, off: number, size: number): FpuResult {
  if (isIntegerForm(ins)) {
    if (size === 2) { const v = (cpu.read16(seg, off) << 16) >> 16; return { value: fromInt(v >> 31, v), flags: 0 }; }
    if (size === 4) { const v = cpu.read32(seg, off) | 0; return { value: fromInt(v >> 31, v), flags: 0 }; }
    const lo = cpu.read32(seg, off), hi = cpu.read32(seg, (off + 4) | 0);
    return { value: fromInt(hi, lo), flags: 0 };
  }
  if (size === 4) return fromF32(cpu.read32(seg, off) >>> 0);
  if (size === 8) { const lo = cpu.read32(seg, off), hi = cpu.read32(seg, (off + 4) | 0); return fromF64(hi >>> 0, lo >>> 0); }
  const v = read80(cpu, seg, off);
  return { value: ins.op === 'FBLD' ? fromBcd(v) : v, flags: 0 };
}

function read80(cpu: Cpu, seg: number, off: number): Float80 {
  const lo = cpu.read32(seg, off) >>> 0, hi = cpu.read32(seg, (off + 4) | 0) >>> 0, se = cpu.read16(seg, (off + 8) | 0) & 0xffff;
  return new Float80(se, hi, lo);
}

/** Checks that all `size` bytes can be written before any is (a fault leaves memory unchanged). */
function probeWrite(cpu: Cpu, seg: number, off: number, size: number): void {
  cpu.probeWrite(seg, off, size); // the segment: limit and writability of the whole range
  if (cpu.paging) { // the first and the last page (an x87 operand spans two at most)
    const lin = cpu.linear(seg, off, size, true), user = cpu.s[CPL] === 3;
    cpu.translate(lin, true, user);
    cpu.translate((lin + size - 1) | 0, true, user);
  }
}

function write64(cpu: Cpu, seg: number, off: number, hi: number, lo: number): void {
  probeWrite(cpu, seg, off, 8);
  cpu.write32(seg, off, lo); cpu.write32(seg, (off + 4) | 0, hi);
}
function write80(cpu: Cpu, seg: number, off: number, v: Float80): void {
  probeWrite(cpu, seg, off, 10);
  cpu.write32(seg, off, v.lo); cpu.write32(seg, (off + 4) | 0, v.hi); cpu.write16(seg, (off + 8) | 0, v.se);
}

// ---- arithmetic ---------------------------------------------------------------------------------

type Binary = (a: Float80, b: Float80, cw: number) => FpuResult;
const rev = (f: Binary): Binary => (a, b, cw) => f(b, a, cw);
/** The two-operand arithmetic: the operation as dest ← f(dest, src), and whether it pops. */
const ARITH: Record<string, [Binary, boolean]> = {
  FADD: [add, false], FADDP: [add, true], FIADD: [add, false],
  FMUL: [mul, false], FMULP: [mul, true], FIMUL: [mul, false],
  FSUB: [sub, false], FSUBP: [sub, true], FISUB: [sub, false],
  FSUBR: [rev(sub), false], FSUBRP: [rev(sub), true], FISUBR: [rev(sub), false],
  FDIV: [div, false], FDIVP: [div, true], FIDIV: [div, false],
  FDIVR: [rev(div), false], FDIVRP: [rev(div), true], FIDIVR: [rev(div), false],
};

function arithmetic(c: EmitContext): Exec {
  const { cpu, ins } = c;
  const [f, pops] = ARITH[ins.op];
  const m = memOf(ins);
  // Register forms: (ST, STi), (STi, ST); memory forms: ST ← f(ST, m).
  const dest = m !== null ? 0 : stOf(ins, 0), src = m !== null ? -1 : stOf(ins, 1);
  return x87(c, (s, off) => {
    const loaded = m !== null ? readMem(cpu, ins, m.seg, off, m.size) : null;
    if (isEmpty(s, dest) || (src >= 0 && isEmpty(s, src))) {
      if (stackFault(s, false)) { writeST(s, dest, INDEFINITE); if (pops) pop(s); }
      return;
    }
    const cw = s[FPU_CW];
    if (loaded !== null && loaded.flags & DE & ~cw) { signal(s, DE); return; }
    const r = f(readST(s, dest), loaded !== null ? loaded.value : readST(s, src), cw);
    const flags = r.flags | (loaded !== null ? loaded.flags : 0);
    signalResult(s, flags);
    if (!writesRegister(flags, cw)) return;
    writeST(s, dest, r.value);
    if (pops) pop(s);
  });
}

/** One-operand operations on ST(0). */
function unary(c: EmitContext, f: (a: Float80, cw: number) => FpuResult): Exec {
  return x87(c, (s) => {
    if (isEmpty(s, 0)) { if (stackFault(s, false)) writeST(s, 0, INDEFINITE); return; }
    const cw = s[FPU_CW], r = f(readST(s, 0), cw);
    signalResult(s, r.flags);
    if (writesRegister(r.flags, cw)) writeST(s, 0, r.value);
  });
}

const withSign = (a: Float80, sign: number): Float80 => new Float80((a.se & 0x7fff) | (sign << 15), a.hi, a.lo);

// ---- comparisons --------------------------------------------------------------------------------

/** How a compare reports: the condition codes, or ZF PF CF (FCOMI, P6). */
function reportCompare(s: Int32Array, codes: number, eflags: boolean): void {
  if (eflags) {
    setFlagBits(s, ARITH_FLAGS, (codes & C3 ? ZF : 0) | (codes & C2 ? PF : 0) | (codes & C0 ? CF : 0));
    setCodes(s, C1, 0);
  } else {
    setCodes(s, C0 | C1 | C2 | C3, codes & (C0 | C2 | C3));
  }
}

function comparison(c: EmitContext, unordered: boolean, pops: number, eflags: boolean): Exec {
  const { cpu, ins } = c;
  const m = memOf(ins);
  // FCOM STi / FCOMI ST,STi / FCOMPP (ST(1)) / FTST (against +0).
  const src = m !== null ? -1 : ins.op === 'FTST' ? -2 : ins.operands.length === 0 ? 1 : stOf(ins, ins.operands.length - 1);
  return x87(c, (s, off) => {
    const loaded = m !== null ? readMem(cpu, ins, m.seg, off, m.size) : null;
    if (isEmpty(s, 0) || (src >= 0 && isEmpty(s, src))) {
      // Unordered whether IE is masked or not (host-measured); only the masked response pops.
      const masked = stackFault(s, false);
      reportCompare(s, C0 | C2 | C3, eflags);
      if (masked) for (let i = 0; i < pops; i++) pop(s);
      return;
    }
    const cw = s[FPU_CW];
    const b = loaded !== null ? loaded.value : src === -2 ? f80(0, 0, 0, 0) : readST(s, src);
    let flags = compare(readST(s, 0), b, unordered);
    if (loaded !== null) {
      // A converted operand: its SNaN raised IE (the converted value is quiet), its denormal DE.
      flags |= loaded.flags & (IE | DE);
      if (loaded.flags & IE) flags |= C0 | C2 | C3;
    }
    signal(s, flags & 0x3f);
    reportCompare(s, flags, eflags);
    if (flags & ~cw & IE) return; // unmasked invalid: the codes are set (host-measured), nothing is popped
    for (let i = 0; i < pops; i++) pop(s);
  });
}

// ---- loads and stores ---------------------------------------------------------------------------

function load(c: EmitContext): Exec {
  const { cpu, ins } = c;
  const m = memOf(ins), src = m !== null ? -1 : stOf(ins, 0);
  return x87(c, (s, off) => {
    const r = m !== null ? readMem(cpu, ins, m.seg, off, m.size) : null;
    if (r === null && isEmpty(s, src)) {
      // FLD ST(i) of an empty register: underflow (an overflow takes precedence when ST(7) is in use).
      if (!isEmpty(s, 7)) pushChecked(s, INDEFINITE);
      else if (stackFault(s, false)) push(s, INDEFINITE);
      return;
    }
    const v = r !== null ? r.value : readST(s, src);
    if (r !== null && r.flags) {
      if (!isEmpty(s, 7)) { pushChecked(s, v); return; }
      setCodes(s, C1, 0);
      signal(s, r.flags);
      if (unmasked(r.flags, s[FPU_CW])) return;
      push(s, v);
      return;
    }
    pushChecked(s, v);
  });
}

/** The masked response of a store from an empty ST(0), per format. */
function indefiniteStored(ins: Instruction, size: number): { hi: number; lo: number; v80?: Float80 } {
  if (ins.op === 'FBSTP') return { hi: 0, lo: 0, v80: BCD_INDEFINITE };
  if (isIntegerForm(ins)) return size === 8 ? { hi: 0x80000000, lo: 0 } : { hi: 0, lo: size === 4 ? 0x80000000 : 0x8000 };
  if (size === 4) return { hi: 0, lo: 0xffc00000 };
  if (size === 8) return { hi: 0xfff80000, lo: 0 };
  return { hi: 0, lo: 0, v80: INDEFINITE };
}

function store(c: EmitContext, pops: boolean): Exec {
  const { cpu, ins } = c;
  const m = memOf(ins), dest = m !== null ? -1 : stOf(ins, 0);
  const put = (off: number, hi: number, lo: number, v80?: Float80): void => {
    if (m === null) return;
    if (v80 !== undefined) write80(cpu, m.seg, off, v80);
    else if (m.size === 8) write64(cpu, m.seg, off, hi, lo);
    else if (m.size === 4) cpu.write32(m.seg, off, lo);
    else cpu.write16(m.seg, off, lo);
  };
  return x87(c, (s, off) => {
    if (isEmpty(s, 0)) {
      if (!((s[FPU_CW] & IE) !== 0)) { stackFault(s, false); return; }
      if (m !== null) { const d = indefiniteStored(ins, m.size); put(off, d.hi, d.lo, d.v80); } else writeST(s, dest, INDEFINITE);
      stackFault(s, false);
      if (pops) pop(s);
      return;
    }
    const a = readST(s, 0), cw = s[FPU_CW];
    if (m === null) { writeST(s, dest, a); setCodes(s, C1, 0); if (pops) pop(s); return; }
    let flags: number;
    if (ins.op === 'FBSTP') {
      const r = toBcd(a, cw); flags = r.flags;
      if (writesMemory(flags, cw)) put(off, 0, 0, r.value);
    } else if (isIntegerForm(ins)) {
      const r = toInt(a, cw, m.size === 2 ? 16 : m.size === 4 ? 32 : 64); flags = r.flags;
      if (writesMemory(flags, cw)) put(off, r.hi, r.lo);
    } else if (m.size === 10) {
      flags = 0; put(off, 0, 0, a);
    } else {
      const r = m.size === 4 ? toF32(a, cw) : toF64(a, cw); flags = r.flags;
      if (writesMemory(flags, cw)) put(off, r.hi, r.lo);
    }
    signalResult(s, flags);
    if (pops && writesMemory(flags, cw)) pop(s);
  });
}

// ---- constants ----------------------------------------------------------------------------------

/** FLDx constants: the value rounded to nearest, and whether rounding down/toward zero gives one ulp less
 * (the x87 holds them with 66 bits and rounds by RC; L2T's tail is below half, so it rounds *up* under RC=up). */
const CONSTANTS: Record<string, [Float80, 'down' | 'up' | 'exact']> = {
  FLD1: [f80(0, 0x3fff, 0x80000000, 0), 'exact'],
  FLDZ: [f80(0, 0, 0, 0), 'exact'],
  FLDL2T: [f80(0, 0x4000, 0xd49a784b, 0xcd1b8afe), 'up'],
  FLDL2E: [f80(0, 0x3fff, 0xb8aa3b29, 0x5c17f0bc), 'down'],
  FLDPI: [f80(0, 0x4000, 0xc90fdaa2, 0x2168c235), 'down'],
  FLDLG2: [f80(0, 0x3ffd, 0x9a209a84, 0xfbcff799), 'down'],
  FLDLN2: [f80(0, 0x3ffe, 0xb17217f7, 0xd1cf79ac), 'down'],
};

function constant(c: EmitContext): Exec {
  const [v, dir] = CONSTANTS[c.ins.op];
  const less = f80(0, v.exp, v.hi, (v.lo - 1) >>> 0), more = f80(0, v.exp, v.hi, (v.lo + 1) >>> 0);
  return x87(c, (s) => {
    const rc = roundingOf(s[FPU_CW]); // 0 nearest, 1 down, 2 up, 3 zero
    let value = v;
    if (dir === 'down' && (rc === 1 || rc === 3)) value = less;
    if (dir === 'up' && rc === 2) value = more;
    pushChecked(s, value);
  });
}

// ---- environment and state ----------------------------------------------------------------------

/** The tag word as FNSTENV writes it: empty registers 11, the others classified by their contents. */
function fullTagWord(s: Int32Array): number {
  let tw = 0;
  for (let p = 0; p < 8; p++) {
    const t = (s[FPU_TW] >>> (2 * p)) & 3;
    tw |= (t === TAG_EMPTY ? TAG_EMPTY : tagOf(readPhysical(s, p))) << (2 * p);
  }
  return tw;
}

/** FLDENV's tag word: 11 stays empty; any other tag is recomputed from the register's contents. */
function loadTagWord(s: Int32Array, tw: number): void {
  let out = 0;
  for (let p = 0; p < 8; p++) {
    const t = (tw >>> (2 * p)) & 3;
    out |= (t === TAG_EMPTY ? TAG_EMPTY : tagOf(readPhysical(s, p))) << (2 * p);
  }
  s[FPU_TW] = out;
}

/** After loading CW and SW: ES and B follow whether any recorded exception is unmasked. */
function settleSummary(s: Int32Array): void {
  const sw = s[FPU_SW] & ~(ES | B);
  s[FPU_SW] = unmasked(sw, s[FPU_CW]) ? sw | ES | B : sw;
}

/** FNSTENV/FNSAVE's environment: 14 bytes (16-bit operand size) or 28 (32-bit), protected- or real-mode layout. */
function storeEnv(cpu: Cpu, seg: number, off: number, o32: boolean): number {
  const s = cpu.s, w = o32 ? 4 : 2;
  const put = (i: number, v: number): void => { if (o32) cpu.write32(seg, (off + 4 * i) | 0, v); else cpu.write16(seg, (off + 2 * i) | 0, v); };
  const pad = o32 ? 0xffff0000 : 0;
  probeWrite(cpu, seg, off, 7 * w);
  put(0, s[FPU_CW] | pad); put(1, s[FPU_SW] | pad); put(2, fullTagWord(s) | pad);
  if (cpu.protectedMode) {
    put(3, s[FPU_FIP]);
    put(4, o32 ? (s[FPU_FCS] & 0xffff) | ((s[FPU_FOP] & 0x7ff) << 16) : s[FPU_FCS]);
    put(5, s[FPU_FDP]); put(6, s[FPU_FDS] | pad);
  } else {
    // Real mode: 20- (or 32-) bit linear pointers, split.
    const fip = (s[FPU_FIP] + (s[FPU_FCS] << 4)) | 0, fdp = (s[FPU_FDP] + (s[FPU_FDS] << 4)) | 0;
    put(3, (fip & 0xffff) | pad); put(4, ((fip >>> 16) << 12) | (s[FPU_FOP] & 0x7ff));
    put(5, (fdp & 0xffff) | pad); put(6, (fdp >>> 16) << 12);
  }
  return off + 7 * w;
}

function loadEnv(cpu: Cpu, seg: number, off: number, o32: boolean): number {
  const s = cpu.s, w = o32 ? 4 : 2;
  const get = (i: number): number => (o32 ? cpu.read32(seg, (off + 4 * i) | 0) : cpu.read16(seg, (off + 2 * i) | 0) & 0xffff);
  const v = [0, 1, 2, 3, 4, 5, 6].map(get);
  s[FPU_CW] = v[0] & 0xffff; s[FPU_SW] = v[1] & 0xffff; loadTagWord(s, v[2]);
  if (cpu.protectedMode) {
    s[FPU_FIP] = v[3]; s[FPU_FCS] = v[4] & 0xffff; s[FPU_FOP] = o32 ? (v[4] >>> 16) & 0x7ff : 0;
    s[FPU_FDP] = v[5]; s[FPU_FDS] = v[6] & 0xffff;
  } else {
    s[FPU_FIP] = (v[3] & 0xffff) | ((v[4] >>> 12) << 16); s[FPU_FCS] = 0; s[FPU_FOP] = v[4] & 0x7ff;
    s[FPU_FDP] = (v[5] & 0xffff) | ((v[6] >>> 12) << 16); s[FPU_FDS] = 0;
  }
  settleSummary(s);
  return off + 7 * w;
}

// ---- the table ----------------------------------------------------------------------------------

const FCMOV_CONDITION: Record<string, number> = {
  FCMOVB: 2, FCMOVNB: 3, FCMOVE: 4, FCMOVNE: 5, FCMOVBE: 6, FCMOVNBE: 7, FCMOVU: 10, FCMOVNU: 11,
};

export const FPU: EmitterTable = {
  ...Object.fromEntries(Object.keys(ARITH).map((op) => [op, arithmetic])),
  FCOM: (c) => comparison(c, false, 0, false), FCOMP: (c) => comparison(c, false, 1, false), FCOMPP: (c) => comparison(c, false, 2, false),
  FUCOM: (c) => comparison(c, true, 0, false), FUCOMP: (c) => comparison(c, true, 1, false), FUCOMPP: (c) => comparison(c, true, 2, false),
  FICOM: (c) => comparison(c, false, 0, false), FICOMP: (c) => comparison(c, false, 1, false),
  FTST: (c) => comparison(c, false, 0, false),
  FCOMI: (c) => comparison(c, false, 0, true), FCOMIP: (c) => comparison(c, false, 1, true),
  FUCOMI: (c) => comparison(c, true, 0, true), FUCOMIP: (c) => comparison(c, true, 1, true),
  FXAM: (c) => x87(c, (s) => setCodes(s, C0 | C1 | C2 | C3, examine(readST(s, 0), isEmpty(s, 0)))),

  FLD: load, FILD: load, FBLD: load,
  FST: (c) => store(c, false), FSTP: (c) => store(c, true), FIST: (c) => store(c, false), FISTP: (c) => store(c, true), FBSTP: (c) => store(c, true),
  ...Object.fromEntries(Object.keys(CONSTANTS).map((op) => [op, constant])),

  FCHS: (c) => unary(c, (a) => ({ value: withSign(a, a.sign ^ 1), flags: 0 })),
  FABS: (c) => unary(c, (a) => ({ value: withSign(a, 0), flags: 0 })),
  FSQRT: (c) => unary(c, sqrt),
  FRNDINT: (c) => unary(c, roundToInteger),
  FSCALE: (c) => x87(c, (s) => {
    if (isEmpty(s, 0) || isEmpty(s, 1)) { if (stackFault(s, false)) writeST(s, 0, INDEFINITE); return; }
    const cw = s[FPU_CW], r = scale(readST(s, 0), readST(s, 1), cw);
    signalResult(s, r.flags);
    if (writesRegister(r.flags, cw)) writeST(s, 0, r.value);
  }),
  FPREM: (c) => remainder(c, false), FPREM1: (c) => remainder(c, true),
  FXTRACT: (c) => x87(c, (s) => {
    if (isEmpty(s, 0)) { if (stackFault(s, false)) { writeST(s, 0, INDEFINITE); pushChecked(s, INDEFINITE); } return; }
    if (!isEmpty(s, 7)) { if (stackFault(s, true)) { writeST(s, 0, INDEFINITE); push(s, INDEFINITE); } return; }
    const cw = s[FPU_CW], r = xtract(readST(s, 0), cw);
    signalResult(s, r.flags & ~C1);
    if (!writesRegister(r.flags, cw)) return;
    writeST(s, 0, r.exponent);
    push(s, r.significand);
  }),

  FXCH: (c) => {
    const i = stOf(c.ins, 0);
    return x87(c, (s) => {
      if (isEmpty(s, 0) || isEmpty(s, i)) {
        if (!stackFault(s, false)) return;
        if (isEmpty(s, 0)) writeST(s, 0, INDEFINITE);
        if (isEmpty(s, i)) writeST(s, i, INDEFINITE);
      } else setCodes(s, C1, 0);
      const a = readST(s, 0);
      writeST(s, 0, readST(s, i)); writeST(s, i, a);
    });
  },
  FFREE: (c) => { const i = stOf(c.ins, 0); return x87(c, (s) => free(s, i)); },
  FFREEP: (c) => { const i = stOf(c.ins, 0); return x87(c, (s) => { free(s, i); pop(s); }); },
  FINCSTP: (c) => x87(c, (s) => { setCodes(s, C1, 0); setTop(s, top(s) + 1); }),
  FDECSTP: (c) => x87(c, (s) => { setCodes(s, C1, 0); setTop(s, top(s) - 1); }),
  FNOP: (c) => x87(c, () => {}),
  ...Object.fromEntries(Object.entries(FCMOV_CONDITION).map(([op, cc]) => [op, (c: EmitContext) => {
    const i = stOf(c.ins, 1), cond = conditionFor(c.cpu.s, cc);
    return x87(c, (s) => {
      if (isEmpty(s, 0) || isEmpty(s, i)) { if (stackFault(s, false) && cond()) writeST(s, 0, INDEFINITE); return; }
      setCodes(s, C1, 0);
      if (cond()) writeST(s, 0, readST(s, i));
    });
  }])),

  FLDCW: (c) => x87(c, (s, off) => { s[FPU_CW] = c.cpu.read16(memOf(c.ins)!.seg, off) & 0x1f7f | 0x40; settleSummary(s); }),
  FNSTCW: (c) => x87(c, (s, off) => c.cpu.write16(memOf(c.ins)!.seg, off, s[FPU_CW])),
  FNSTSW: (c) => {
    const m = memOf(c.ins);
    return x87(c, (s, off) => { if (m !== null) c.cpu.write16(m.seg, off, s[FPU_SW]); else c.cpu.r16[0] = s[FPU_SW]; });
  },
  FNCLEX: (c) => x87(c, (s) => { s[FPU_SW] &= ~(0xff | B); }),
  FNINIT: (c) => x87(c, (s) => fpuInit(s)),
  FNENI: (c) => x87(c, () => {}), FNDISI: (c) => x87(c, () => {}), FNSETPM: (c) => x87(c, () => {}),
  FNSTENV: (c) => {
    const seg = memOf(c.ins)!.seg, o32 = c.ins.opsize === 32;
    // Then all exceptions masked (SDM FNSTENV).
    return x87(c, (s, off) => { storeEnv(c.cpu, seg, off, o32); s[FPU_CW] |= 0x3f; });
  },
  FLDENV: (c) => {
    const seg = memOf(c.ins)!.seg, o32 = c.ins.opsize === 32;
    return x87(c, (_s, off) => { loadEnv(c.cpu, seg, off, o32); });
  },
  FNSAVE: (c) => {
    const { cpu } = c, seg = memOf(c.ins)!.seg, o32 = c.ins.opsize === 32;
    return x87(c, (s, off) => {
      probeWrite(cpu, seg, off, (o32 ? 28 : 14) + 80);
      let p = storeEnv(cpu, seg, off, o32);
      for (let i = 0; i < 8; i++, p += 10) write80(cpu, seg, p | 0, readST(s, i));
      fpuInit(s);
    });
  },
  FRSTOR: (c) => {
    const { cpu } = c, seg = memOf(c.ins)!.seg, o32 = c.ins.opsize === 32;
    return x87(c, (s, off) => {
      const regs: Float80[] = [];
      for (let i = 0, p = off + (o32 ? 28 : 14); i < 8; i++, p += 10) regs.push(read80(cpu, seg, p | 0));
      const tw = o32 ? cpu.read32(seg, (off + 8) | 0) : cpu.read16(seg, (off + 4) | 0);
      loadEnv(cpu, seg, off, o32);
      const t = top(s);
      for (let i = 0; i < 8; i++) writePhysical(s, (t + i) & 7, regs[i]);
      loadTagWord(s, tw);
    });
  },
};

function remainder(c: EmitContext, ieee: boolean): Exec {
  return x87(c, (s) => {
    if (isEmpty(s, 0) || isEmpty(s, 1)) {
      // C2 = 0 (nothing left to reduce), C0 and C3 kept: host-measured with IE unmasked.
      setCodes(s, C2, 0);
      if (stackFault(s, false)) writeST(s, 0, INDEFINITE);
      return;
    }
    const cw = s[FPU_CW], r = prem(readST(s, 0), readST(s, 1), ieee, cw);
    setCodes(s, premCodesWritten(r), r.flags);
    signal(s, r.flags);
    if (writesRegister(r.flags, cw)) writeST(s, 0, r.value);
  });
}

// ---- transcendentals (src/cpu/fpu/trig.ts, exp-log.ts, atan.ts) -----------------------------------------

/** FSIN, FCOS: ST(0) ← f(ST(0)); FPTAN, FSINCOS: ST(0) ← f, then push (1.0, the cosine). An operand of
 * |x| ≥ 2^63 sets C2, clears C1 and leaves the stack as it was. */
function trigonometric(c: EmitContext, fn: Trig): Exec {
  const pushes = fn === Trig.Tan || fn === Trig.SinCos;
  return x87(c, (s) => {
    if (isEmpty(s, 0) || (pushes && !isEmpty(s, 7))) {
      if (!isEmpty(s, 0)) { if (stackFault(s, true)) { writeST(s, 0, INDEFINITE); push(s, INDEFINITE); } return; }
      if (stackFault(s, false)) { writeST(s, 0, INDEFINITE); if (pushes) push(s, INDEFINITE); }
      return;
    }
    const cw = s[FPU_CW], r = trig(readST(s, 0), cw, fn);
    if (r.outOfRange) { setCodes(s, C1 | C2, C2); return; }
    setCodes(s, C1 | C2, r.flags);
    signal(s, r.flags);
    if (!writesRegister(r.flags, cw)) return;
    writeST(s, 0, r.value);
    if (pushes) push(s, r.pushed!);
  });
}

/** ST(1) ← f(ST(0), ST(1)), pop (FYL2X, FYL2XP1, FPATAN); C2 kept. */
function transcendental2(c: EmitContext, f: (st0: Float80, st1: Float80, cw: number) => FpuResult): Exec {
  return x87(c, (s) => {
    if (isEmpty(s, 0) || isEmpty(s, 1)) { if (stackFault(s, false)) { writeST(s, 1, INDEFINITE); pop(s); } return; }
    const cw = s[FPU_CW], r = f(readST(s, 0), readST(s, 1), cw);
    signalResult(s, r.flags);
    if (!writesRegister(r.flags, cw)) return;
    writeST(s, 1, r.value);
    pop(s);
  });
}

Object.assign(FPU, {
  FSIN: (c: EmitContext) => trigonometric(c, Trig.Sin),
  FCOS: (c: EmitContext) => trigonometric(c, Trig.Cos),
  FPTAN: (c: EmitContext) => trigonometric(c, Trig.Tan),
  FSINCOS: (c: EmitContext) => trigonometric(c, Trig.SinCos),
  // ST(0) ← 2^ST(0) − 1; C2 kept
  F2XM1: (c: EmitContext) => x87(c, (s) => {
    if (isEmpty(s, 0)) { if (stackFault(s, false)) writeST(s, 0, INDEFINITE); return; }
    const cw = s[FPU_CW], r = twoToXMinus1(readST(s, 0), cw);
    signalResult(s, r.flags);
    if (writesRegister(r.flags, cw)) writeST(s, 0, r.value);
  }),
  FYL2X: (c: EmitContext) => transcendental2(c, (x, y, cw) => yLog2X(x, y, cw)),
  FYL2XP1: (c: EmitContext) => transcendental2(c, (x, y, cw) => yLog2XPlus1(x, y, cw)),
  FPATAN: (c: EmitContext) => transcendental2(c, (x, y, cw) => atan2(y, x, cw)),
});

/** The emitter for an x87 instruction (every D8–DF mnemonic the decoder produces has one). */
export function fpuEmitter(ins: Instruction): ((c: EmitContext) => Exec) | undefined {
  return FPU[ins.op] ?? ((c: EmitContext) => x87(c, () => { throw fault(UD); }));
}
