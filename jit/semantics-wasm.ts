// Native WASM semantics, one emitter per mnemonic (the interpreter's src/cpu/semantics/ in WASM). An
// emitter returns false for a form it does not translate — the translator then runs that instruction
// through the interpreter's closure (a helper call), so a missing form costs speed, never correctness.
// Each emitter leaves exactly what the interpreter's closure leaves: registers, memory, and the lazy-flag
// record (flags.ts) slot for slot. Memory operands take the fast path of Tx.guard/load/store: plain RAM
// inline, anything else exits before the instruction and the interpreter runs it.
import type { Instruction, MemOperand, Operand } from '../src/decoder/instruction.ts';
import { CS, DS, ES, FS, GS, PREFIX_LOCK, PREFIX_OPSIZE, PREFIX_REP, PREFIX_REPNE, PREFIX_SEG, SS } from '../src/decoder/instruction.ts';
import { OP_ADD, OP_LOGIC, OP_RESULT, OP_SUB } from '../src/cpu/flags.ts';
import { AF, ARITH_FLAGS, CF, CPL, CR0, CR0_PE, CR4, DF, EAX, EBP, EBX, ECX, EDI, EDX, ESI, ESP, IF, RF, VM, JIT_TSC_SLOT, OF, PAGE_FLAGS_OFFSET, PAGE_SHIFT, PF, RAM_OFFSET, SF, STATE_OFFSET, ZF } from '../src/cpu/state.ts';
import { REP_CHUNK } from '../src/cpu/semantics/string.ts';
import { maskOf } from '../src/cpu/operands.ts';
import { PAUSE_NS } from '../src/cpu/cpu.ts';
import { isPause } from '../src/cpu/instruction-meta.ts';
import { EXIT_HELPER_BREAK, EXIT_INTERPRETER as EXIT_FAULT_LEFT } from '../src/cpu/state.ts';
import { ADDR, BUDGET, LF, T0, T1, T2, T3, type Tx } from './translate.ts';

type Expr = number;
/** Translate `ins` into tx.body; `last` when it is its block's last instruction. False: not handled. */
export type NativeEmitter = (tx: Tx, ins: Instruction, last: boolean) => boolean;


/**
 * Prefixes the native forms accept: operand size and a segment override — DS/ES/SS (flat in every mode a
 * region is compiled for) or FS/GS (based: Tx.segment), not CS (its writes fault).
 */
export function plain(ins: Instruction): boolean {
  if ((ins.prefixes & ~(PREFIX_OPSIZE | PREFIX_SEG)) !== 0 || ins.adsize !== 32) return false;
  return ins.segOverride !== CS;
}
/**
 * plain(), or LOCK on a memory destination (the decoder makes LOCK on anything else #UD): the interpreter
 * runs one instruction at a time on one CPU, so the lock changes nothing.
 */
function lockable(ins: Instruction): boolean {
  if ((ins.prefixes & ~(PREFIX_OPSIZE | PREFIX_SEG | PREFIX_LOCK)) !== 0 || ins.adsize !== 32) return false;
  return ins.segOverride !== CS;
}
/** plain(), or (a read-modify-write of memory) lockable(). */
const plainOrLocked = (ins: Instruction, d: Operand | undefined): boolean => plain(ins) || (isMem(d) && lockable(ins));
/** A memory operand source()/destination() can reach: a flat segment, or FS/GS through Tx.segment. */
const isMem = (o: Operand | undefined): o is MemOperand => o?.kind === 'mem' && o.seg !== CS;
const based = (seg: number): boolean => seg === FS || seg === GS;
const readable = (o: Operand | undefined): boolean => o !== undefined && (o.kind === 'reg' || o.kind === 'imm' || isMem(o));
const writable = (o: Operand | undefined): boolean => o !== undefined && (o.kind === 'reg' || isMem(o));

/**
 * The value of a source operand of `size` bytes, zero-extended (a memory operand is guarded and loaded
 * into `into` first). Call before anything is modified.
 */
function source(tx: Tx, o: Operand, size: number, into = T1): Expr {
  if (o.kind !== 'mem') return sourceOnce(tx, o, size);
  tx.emit(tx.set(into, sourceOnce(tx, o, size)));
  return tx.get(into);
}

/**
 * source() for a value used once, in the next expression emitted: a memory operand is guarded and its load
 * returned as that expression rather than staged in a temporary (one local.set and local.get fewer: MOV and
 * MOVZX/MOVSX from memory are the commonest loads). `signed`: a narrow memory operand sign-extended.
 */
function sourceOnce(tx: Tx, o: Operand, size: number, signed = false): Expr {
  if (o.kind === 'reg') return tx.reg(o.reg, size);
  if (o.kind === 'imm') return tx.c(size === 4 ? o.value : o.value & maskOf(size));
  const mo = o as MemOperand;
  tx.emit(tx.set(ADDR, tx.ea(mo)));
  if (based(mo.seg)) tx.segment(mo.seg, ADDR, size, false);
  tx.guard(ADDR, size, false);
  return tx.load(size, ADDR, signed);
}

/** A destination: `get` its current value (memory: guarded for writing, loaded once) and `put` a result. */
function destination(tx: Tx, o: Operand, size: number, needValue: boolean): { get: () => Expr; put: (v: Expr) => Expr } {
  if (o.kind === 'reg') return { get: () => tx.reg(o.reg, size), put: (v) => tx.setReg(o.reg, size, v) };
  const mo = o as MemOperand;
  tx.emit(tx.set(ADDR, tx.ea(mo)));
  if (based(mo.seg)) tx.segment(mo.seg, ADDR, size, true);
  tx.guard(ADDR, size, true);
  if (needValue) tx.emit(tx.set(T0, tx.load(size, ADDR)));
  return { get: () => tx.get(T0), put: (v) => tx.store(size, ADDR, v) };
}

type Combine = (tx: Tx, x: Expr, y: Expr) => Expr;
const m_ = (tx: Tx) => tx.m.i32;

/** The ALU family: dst = dst OP src with a lazy record (CMP/TEST only record). */
function alu(kind: 'add' | 'adc' | 'sub' | 'sbb' | 'logic', combine: Combine, writes: boolean): NativeEmitter {
  return (tx, ins) => {
    const [d, s] = ins.operands;
    if (!plainOrLocked(ins, d) || ins.operands.length !== 2 || !writable(d) || !readable(s) || (isMem(d) && isMem(s))) return false;
    const size = ins.size, mask = maskOf(size), i = m_(tx);
    // Register and immediate operands (no guard, no carry-in) are read where they are, in the result and in
    // the record (an ALU op is a common instruction: two local.sets fewer). Otherwise the source goes to T1
    // first when it is memory (guarded before any change), a memory destination is guarded for writing, and
    // the destination's value goes to T0.
    const inPlace = d.kind === 'reg' && s.kind !== 'mem' && kind !== 'adc' && kind !== 'sbb';
    if (!inPlace) tx.emit(tx.set(T1, source(tx, s, size)));
    const dst = writes ? destination(tx, d, size, true) : null;
    let x: () => Expr, y: () => Expr;
    if (inPlace) { x = () => tx.reg(d.reg, size); y = () => source(tx, s, size); } else {
      tx.emit(tx.set(T0, dst ? dst.get() : d.kind === 'reg' ? tx.reg(d.reg, size) : source(tx, d, size, T0)));
      x = () => tx.get(T0); y = () => tx.get(T1);
    }
    const carry = kind === 'adc' || kind === 'sbb' ? tx.carry() : null;
    let r = combine(tx, x(), y());
    if (carry !== null) r = kind === 'adc' ? i.add(r, carry) : i.sub(r, carry);
    if (size !== 4 && kind !== 'logic') r = i.and(r, tx.c(mask));
    const v = kind === 'logic' ? tx.recordResult(OP_LOGIC, null, null, r, size, ARITH_FLAGS)
      : tx.recordResult(kind === 'add' || kind === 'adc' ? OP_ADD : OP_SUB, x(), y(), r, size, ARITH_FLAGS, kind === 'sub');
    if (dst) tx.emit(dst.put(v));
    return true;
  };
}

/** INC/DEC: CF is materialised into EFLAGS first, then the record without CF (setLazyKeepCF). */
function incDec(add: boolean): NativeEmitter {
  return (tx, ins) => {
    const d = ins.operands[0];
    if (!plainOrLocked(ins, d) || !writable(d)) return false;
    const size = ins.size, i = m_(tx);
    const dst = destination(tx, d, size, true);
    tx.emit(tx.set(T0, dst.get()));
    // CF carries over: materialise it into EFLAGS unless nothing observes it (flag-liveness.ts).
    if (!tx.carryDead && (tx.known === null || tx.known.mask & CF)) tx.emit(tx.set(LF.efl, i.or(i.and(tx.get(LF.efl), tx.c(~CF)), tx.carry())));
    let r = add ? i.add(tx.get(T0), tx.c(1)) : i.sub(tx.get(T0), tx.c(1));
    if (size !== 4) r = i.and(r, tx.c(maskOf(size)));
    tx.emit(dst.put(tx.recordResult(add ? OP_ADD : OP_SUB, tx.get(T0), tx.c(1), r, size, ARITH_FLAGS & ~CF)));
    return true;
  };
}

/**
 * SHL/SHR/SAR r/m8/16/32 by an immediate count, and r8/16/32 by CL (shift.ts, formula for formula: CF the
 * last bit shifted out, OF that of the first one-bit step, AF cleared, SF ZF PF from a result record). A
 * masked count of 0 changes nothing, flags included: by CL that is decided at run time, so the record is
 * unknown to the translator afterwards.
 */
function shift(kind: 'shl' | 'shr' | 'sar'): NativeEmitter {
  return (tx, ins) => {
    const [d, cnt] = ins.operands;
    if (!plain(ins) || !writable(d)) return false;
    const size = ins.size, bits = 8 * size, mask = maskOf(size);
    const byCl = cnt !== undefined && cnt.kind === 'reg';
    // (By CL only into a register: a memory operand would be accessed even for a count of 0.)
    if (byCl && (d.kind !== 'reg' || cnt.reg !== ECX || cnt.size !== 1)) return false;
    const n = cnt === undefined ? 1 : cnt.kind === 'imm' ? cnt.value & 31 : byCl ? -1 : -2;
    if (n === -2) return false;
    const i = m_(tx), k = (v: number): Expr => tx.c(v);
    const dst = destination(tx, d, size, true);
    if (n === 0) return true; // a masked count of 0 changes nothing (the operand is still accessed)
    // x() sign-extended from the size (SAR), and x() shifted by cn(), masked to the size.
    const widened = (x: () => Expr): Expr => (size === 4 ? x() : size === 2 ? i.extend16_s(x()) : i.extend8_s(x()));
    const shifted = (x: () => Expr, cn: () => Expr): Expr => {
      if (kind === 'shl') return size === 4 ? i.shl(x(), cn()) : i.and(i.shl(x(), cn()), k(mask));
      if (kind === 'shr') return i.shr_u(x(), cn());
      return size === 4 ? i.shr_s(x(), cn()) : i.and(i.shr_s(widened(x), cn()), k(mask));
    };
    if (tx.recordDead && !byCl) {
      // No flag it writes is observed (flag-liveness.ts): the result alone, the record left as it was.
      tx.emit(dst.put(shifted(() => dst.get(), () => k(n))));
      return true;
    }
    const body: Expr[] = [];
    if (byCl) tx.emit(tx.set(T1, i.and(tx.reg(ECX, 1), k(31))));
    // The count and the count less one (1..31, 0..30).
    const cn = (): Expr => (byCl ? tx.get(T1) : k(n)), cn1 = (): Expr => (byCl ? i.sub(tx.get(T1), k(1)) : k(n - 1));
    body.push(tx.set(T0, dst.get()));
    const x = (): Expr => tx.get(T0);
    let cf: Expr, of: Expr;
    const r = shifted(x, cn);
    if (kind === 'shl') {
      cf = i.and(i.shr_u(i.shl(x(), cn1()), k(bits - 1)), k(1));
      of = i.and(i.xor(i.shr_u(x(), k(bits - 1)), i.shr_u(x(), k(bits - 2))), k(1));
    } else if (kind === 'shr') {
      cf = i.and(i.shr_u(x(), cn1()), k(1));
      of = i.shr_u(x(), k(bits - 1));
    } else {
      cf = i.and(i.shr_s(widened(x), cn1()), k(1));
      of = k(0);
    }
    const flags = i.or(cf, i.shl(of, k(11)));
    body.push(
      tx.set(LF.res, r),
      tx.set(LF.efl, i.or(i.and(tx.get(LF.efl), k(~(CF | OF | AF | SF | ZF | PF))), flags)),
      tx.set(LF.op, k(OP_RESULT)), tx.set(LF.size, k(size)), tx.set(LF.mask, k(SF | ZF | PF)),
      dst.put(tx.get(LF.res)),
    );
    if (byCl) {
      tx.emit(tx.m.if(tx.get(T1), tx.m.block(null, body)));
      tx.known = null;
      tx.held = null;
    } else {
      tx.emit(...body);
      tx.known = { op: OP_RESULT, size, mask: SF | ZF | PF, plainSub: false };
      tx.held = { op: OP_RESULT, size, mask: SF | ZF | PF };
    }
    return true;
  };
}

/**
 * ROL/ROR r/m32 by an immediate count: CF from the result, OF from the first one-bit step — except a
 * register rotated by an immediate count above 1, which keeps OF (shift.ts's keepOF, as the host CPU).
 * CF and OF become plain EFLAGS bits; SF ZF AF PF keep their record.
 */
function rotate(left: boolean): NativeEmitter {
  return (tx, ins) => {
    const [d, cnt] = ins.operands;
    if (!plain(ins) || ins.size !== 4 || !writable(d)) return false;
    const n = cnt === undefined ? 1 : cnt.kind === 'imm' ? cnt.value & 31 : -1;
    if (n < 0) return false;
    const i = m_(tx), k = (v: number): Expr => tx.c(v);
    const dst = destination(tx, d, 4, true);
    if (n === 0) return true;
    const keepOF = n > 1 && d.kind === 'reg';
    if (keepOF) tx.emit(tx.set(T2, tx.known !== null ? tx.flags.of(tx.known) : tx.flags.dynamicCondition(0)));
    tx.emit(tx.set(T0, dst.get()));
    const x = (): Expr => tx.get(T0);
    tx.emit(tx.set(T1, left ? i.rotl(x(), k(n)) : i.rotr(x(), k(n))));
    const r = (): Expr => tx.get(T1);
    const cf = left ? i.and(r(), k(1)) : i.shr_u(r(), k(31));
    const of = keepOF ? tx.get(T2)
      : left ? i.and(i.xor(i.shr_u(x(), k(31)), i.shr_u(x(), k(30))), k(1)) : i.and(i.xor(x(), i.shr_u(x(), k(31))), k(1));
    tx.emit(
      tx.set(LF.efl, i.or(i.or(i.and(tx.get(LF.efl), k(~(CF | OF))), cf), i.shl(of, k(11)))),
      tx.set(LF.mask, i.and(tx.get(LF.mask), k(~(CF | OF)))),
      dst.put(r()),
    );
    if (tx.known !== null) tx.known = { ...tx.known, mask: tx.known.mask & ~(CF | OF) };
    tx.held = null;
    return true;
  };
}

type StringKind = 'movs' | 'stos' | 'lods' | 'scas' | 'cmps';

/**
 * The string forms (string.ts) compiled code takes: 32-bit addressing, a source segment that is flat or
 * FS/GS (not CS), and no prefix but operand size, a segment override and REP/REPE/REPNE.
 */
function stringForm(ins: Instruction): boolean {
  if (ins.adsize !== 32 || (ins.prefixes & ~(PREFIX_REP | PREFIX_REPNE | PREFIX_OPSIZE | PREFIX_SEG)) !== 0) return false;
  return ins.segOverride !== CS;
}

/**
 * One element of a string instruction at ESI/EDI, as string.ts's step, then ESI/EDI stepped by ±size
 * (DF read at run time). Both accesses are guarded before anything changes: a slow access leaves before
 * the element with the registers of the elements done (what a faulting REP element leaves). A compare
 * writes the record as setLazy(OP_SUB, x, y, x - y).
 */
function stringElement(tx: Tx, ins: Instruction, kind: StringKind): void {
  const i = m_(tx), size = ins.size, k = (v: number): Expr => tx.c(v);
  const esi = tx.regLocal(ESI), edi = tx.regLocal(EDI), g = (l: number): Expr => tx.get(l);
  const srcSeg = ins.segOverride >= 0 ? ins.segOverride : DS;
  const usesSI = kind === 'movs' || kind === 'lods' || kind === 'cmps', usesDI = kind !== 'lods';
  if (usesSI) {
    tx.emit(tx.set(ADDR, g(esi)));
    if (based(srcSeg)) tx.segment(srcSeg, ADDR, size, false);
    tx.guard(ADDR, size, false);
  }
  if (usesDI) {
    tx.emit(tx.set(T2, g(edi)));
    tx.guard(T2, size, kind === 'movs' || kind === 'stos');
  }
  const mask = maskOf(size);
  const sub = (): void => tx.record(OP_SUB, g(LF.dst), g(LF.src), size === 4 ? i.sub(g(LF.dst), g(LF.src)) : i.and(i.sub(g(LF.dst), g(LF.src)), k(mask)), size, ARITH_FLAGS, true);
  switch (kind) {
    case 'movs': tx.emit(tx.store(size, T2, tx.load(size, ADDR))); break;
    case 'stos': tx.emit(tx.store(size, T2, tx.reg(EAX, size))); break;
    case 'lods': tx.emit(tx.setReg(EAX, size, tx.load(size, ADDR))); break;
    case 'cmps': tx.emit(tx.set(LF.dst, tx.load(size, ADDR)), tx.set(LF.src, tx.load(size, T2))); sub(); break;
    case 'scas': tx.emit(tx.set(LF.dst, tx.reg(EAX, size)), tx.set(LF.src, tx.load(size, T2))); sub(); break;
  }
  const step = (): Expr => tx.m.select(i.and(g(LF.efl), k(DF)), k(-size), k(size));
  if (usesSI) tx.emit(tx.set(esi, i.add(g(esi), step())));
  if (usesDI) tx.emit(tx.set(edi, i.add(g(edi), step())));
}

/**
 * A REP string instruction element by element, as string.ts's loop: nothing when ECX = 0; after each
 * element ECX - 1, and the loop ends on ECX = 0 or, for CMPS/SCAS, on ZF ≠ the prefix's condition (REPE
 * goes on while ZF = 1, REPNE while ZF = 0). Each element costs a unit of budget (as repString's). Where
 * ECX reaches a multiple of REP_CHUNK (not 0) the instruction retires with EIP on itself and compiled code
 * leaves (the interpreter's yield, at the same counts). A slow access leaves before the element with
 * ECX/ESI/EDI of those done, not retired: the interpreter's execution then ends at the same boundary.
 */
function repLoop(tx: Tx, ins: Instruction, kind: StringKind): Expr {
  const i = m_(tx), m = tx.m, k = (v: number): Expr => tx.c(v), g = (l: number): Expr => tx.get(l);
  const ecx = tx.regLocal(ECX), loop = tx.label('rep'), done = tx.label('repEnd');
  const saved = tx.body, known0 = tx.known, held0 = tx.held, compares = kind === 'cmps' || kind === 'scas';
  tx.body = [];
  tx.held = null; // every record slot is written in the loop (its first trip cannot rely on what came before)
  stringElement(tx, ins, kind);
  tx.emit(tx.set(ecx, i.sub(g(ecx), k(1))), tx.set(BUDGET, i.sub(g(BUDGET), k(1))));
  tx.emit(m.br(done, i.eqz(g(ecx))));
  if (compares) {
    const zf = (): Expr => i.eqz(g(LF.res)); // (the record's result is masked to the size)
    tx.emit(m.br(done, (ins.prefixes & PREFIX_REP) !== 0 ? i.eqz(zf()) : zf()));
  }
  tx.emit(tx.exitIf(i.eqz(i.and(g(ecx), k(REP_CHUNK - 1))), tx.op.eip, tx.index + 1, EXIT_HELPER_BREAK), m.br(loop));
  const body = tx.body;
  tx.body = saved;
  // A compare's record is the last element's, or (ECX = 0) the one before: unknown here. Others keep it.
  if (compares) { tx.known = null; tx.held = null; } else { tx.known = known0; tx.held = held0; }
  return m.if(g(ecx), m.block(done, [m.loop(loop, m.block(null, body))]));
}

/**
 * MOVS STOS LODS SCAS CMPS: one element without REP; with REP (REPE/REPNE for the compares) the element
 * loop (repLoop), except that REP MOVS/STOS with paging off first try repString's bulk path.
 */
function stringOp(kind: StringKind): NativeEmitter {
  return (tx, ins) => {
    if (!stringForm(ins)) return false;
    if (!(ins.prefixes & (PREFIX_REP | PREFIX_REPNE))) { stringElement(tx, ins, kind); return true; }
    if ((kind === 'movs' || kind === 'stos') && tx.paging === 0) return repString(tx, ins, kind);
    tx.emit(repLoop(tx, ins, kind));
    return true;
  };
}

/**
 * REP MOVS / REP STOS (paging off) as one memory.copy / a store loop when, as in string.ts's fast paths,
 * DF = 0, both ranges are plain RAM, no page of the destination has a page flag (code, or armed for the
 * dirty log: the interpreter's closure records and disarms it), and a forward MOVS does not start inside
 * its own source (element-by-element copying would then replicate, memmove not). To the next multiple of REP_CHUNK
 * in ECX per execution, as the interpreter: if ECX is not exhausted the instruction retires, EIP stays
 * on it and compiled code leaves (the run loop looks around, then runs it again). Any other case runs the
 * element loop (repLoop).
 */
function repString(tx: Tx, ins: Instruction, kind: 'movs' | 'stos'): boolean {
  if (kind === 'movs' && ins.segOverride >= 0 && ins.segOverride !== DS && ins.segOverride !== ES && ins.segOverride !== SS) {
    tx.emit(repLoop(tx, ins, kind)); // FS/GS source: element by element
    return true;
  }
  const i = m_(tx), m = tx.m, size = ins.size, k = (v: number): Expr => tx.c(v);
  const ecx = tx.regLocal(ECX), esi = tx.regLocal(ESI), edi = tx.regLocal(EDI);
  const g = (l: number): Expr => tx.get(l);
  const ram = tx.ramSize, pf = tx.label('pf'), loop = tx.label('stos');
  // T0 = elements this execution, T1 = bytes.
  const count = i.add(i.and(i.sub(g(ecx), k(1)), k(REP_CHUNK - 1)), k(1)); // string.ts repChunk
  const setup = [tx.set(T0, count), tx.set(T1, size === 1 ? g(T0) : i.shl(g(T0), k(size === 2 ? 1 : 2)))];
  let ok = i.and(i.eqz(i.and(g(LF.efl), k(DF))), i.le_u(g(edi), i.sub(k(ram), g(T1))));
  if (kind === 'movs') {
    ok = i.and(ok, i.le_u(g(esi), i.sub(k(ram), g(T1))));
    // not (di > si && di < si + bytes)
    ok = i.and(ok, i.eqz(i.and(i.gt_u(g(edi), g(esi)), i.lt_u(g(edi), i.add(g(esi), g(T1))))));
  }
  // No page of [edi, edi + bytes) may hold code: T2 walks the pages, T3 is the last one, ADDR the verdict.
  const pages = m.block(null, [
    tx.set(ADDR, ok),
    m.if(g(ADDR), m.block(null, [
      tx.set(T2, i.shr_u(g(edi), k(PAGE_SHIFT))),
      tx.set(T3, i.shr_u(i.add(g(edi), i.sub(g(T1), k(1))), k(PAGE_SHIFT))),
      m.loop(pf, m.block(null, [
        m.if(i.load8_u(PAGE_FLAGS_OFFSET, 1, g(T2)), tx.set(ADDR, k(0)),
          m.block(null, [tx.set(T2, i.add(g(T2), k(1))), m.br(pf, i.le_u(g(T2), g(T3)))])),
      ])),
    ])),
  ]);
  let work: Expr[];
  if (kind === 'movs') {
    work = [m.memory.copy(i.add(g(edi), k(RAM_OFFSET)), i.add(g(esi), k(RAM_OFFSET)), g(T1)), tx.set(esi, i.add(g(esi), g(T1)))];
  } else if (size === 1) {
    work = [m.memory.fill(i.add(g(edi), k(RAM_OFFSET)), tx.reg(EAX, 1), g(T1))];
  } else {
    // T2 = next store address, T3 = end.
    const st = size === 2 ? i.store16(RAM_OFFSET, 1, g(T2), g(tx.regLocal(EAX))) : i.store(RAM_OFFSET, 1, g(T2), g(tx.regLocal(EAX)));
    work = [tx.set(T2, g(edi)), tx.set(T3, i.add(g(edi), g(T1))),
      m.loop(loop, m.block(null, [st, tx.set(T2, i.add(g(T2), k(size))), m.br(loop, i.lt_u(g(T2), g(T3)))]))];
  }
  const fast = m.block(null, [
    ...work,
    tx.set(edi, i.add(g(edi), g(T1))),
    tx.set(ecx, i.sub(g(ecx), g(T0))),
    // Each element costs as much budget as an instruction, so a loop of long REPs leaves compiled code
    // (and lets the run loop read the clock) as often as a loop of plain instructions would.
    tx.set(BUDGET, i.sub(g(BUDGET), g(T0))),
    // Not done after REP_CHUNK elements: retired, and run again from the top by the run loop.
    tx.exitIf(g(ecx), tx.op.eip, tx.index + 1, EXIT_HELPER_BREAK),
  ]);
  const slow = repLoop(tx, ins, kind);
  tx.emit(m.if(g(ecx), m.block(null, [...setup, pages, m.if(g(ADDR), fast, slow)]))); // (the record is untouched)
  return true;
}

const target = (tx: Tx, o: Operand): number => (tx.op.next + (o as { disp: number }).disp) | 0;

/** Push local `v` (`size` bytes, 32-bit stack): guard the new stack slot, store, then ESP. */
function push32(tx: Tx, v: number, size = 4): void {
  const i = m_(tx), esp = tx.regLocal(ESP);
  tx.emit(tx.set(T2, i.sub(tx.get(esp), tx.c(size))));
  tx.guard(T2, size, true);
  // (ESP from its own local: with paging on, the guard turned T2 into the physical address.)
  tx.emit(tx.store(size, T2, tx.get(v)), tx.set(esp, i.sub(tx.get(esp), tx.c(size))));
}

/**
 * Flags in `flag` set to `v` (0 or the flags' bits) as plain EFLAGS bits, as flags.ts's setFlagBits: they
 * leave the record's mask, the record's other flags stay lazy.
 */
function setFlagBits(tx: Tx, flag: number, v: Expr): void {
  const i = m_(tx);
  tx.emit(tx.set(LF.efl, i.or(i.and(tx.get(LF.efl), tx.c(~flag)), v)), tx.set(LF.mask, i.and(tx.get(LF.mask), tx.c(~flag))));
  if (tx.known !== null) tx.known = { ...tx.known, mask: tx.known.mask & ~flag };
  if (tx.held !== null) tx.held = { ...tx.held, mask: tx.held.mask & ~flag };
}

type BitUpdate = 'bt' | 'bts' | 'btr' | 'btc';

/**
 * BT/BTS/BTR/BTC (bits.ts's bitTest): CF = the selected bit, which BTS/BTR/BTC then set, clear or flip.
 * A register or an immediate offset selects a bit of the operand (offset mod its width); a register
 * offset into memory addresses a bit string: the signed offset's high bits move the access by whole
 * operands from the effective address (SDM BT), and that access is the one segment-checked and guarded.
 */
function bitTest(update: BitUpdate): NativeEmitter {
  return (tx, ins) => {
    const [d, o] = ins.operands;
    if (!(update === 'bt' ? plain(ins) : lockable(ins)) || ins.size === 1) return false;
    if (!(d.kind === 'reg' || isMem(d)) || !(o?.kind === 'reg' || o?.kind === 'imm')) return false;
    const size = ins.size, bits = 8 * size, i = m_(tx), k = (v: number): Expr => tx.c(v), g = (l: number): Expr => tx.get(l);
    const store = update !== 'bt';
    let put: ((v: Expr) => Expr) | null = null;
    if (d.kind === 'reg' || o.kind === 'imm') {
      // T3 = the bit number, T0 = the operand.
      tx.emit(tx.set(T3, o.kind === 'imm' ? k(o.value & (bits - 1)) : i.and(tx.reg(o.reg, size), k(bits - 1))));
      if (!store) tx.emit(tx.set(T0, source(tx, d, size, T0)));
      else { const dst = destination(tx, d, size, true); tx.emit(tx.set(T0, dst.get())); put = dst.put; }
    } else {
      const mo = d as MemOperand, shift = size === 4 ? 5 : 4;
      const offset = size === 4 ? tx.reg(o.reg, 4) : i.extend16_s(tx.reg(o.reg, 2));
      tx.emit(tx.set(T3, offset));
      tx.emit(tx.set(ADDR, i.add(tx.ea(mo), i.shl(i.shr_s(g(T3), k(shift)), k(size === 4 ? 2 : 1)))));
      if (based(mo.seg)) tx.segment(mo.seg, ADDR, size, store);
      tx.guard(ADDR, size, store);
      tx.emit(tx.set(T0, tx.load(size, ADDR)), tx.set(T3, i.and(g(T3), k(bits - 1))));
      put = store ? (v) => tx.store(size, ADDR, v) : null;
    }
    if (put !== null) {
      const bit = (): Expr => i.shl(k(1), g(T3));
      const v = update === 'bts' ? i.or(g(T0), bit()) : update === 'btr' ? i.and(g(T0), i.xor(bit(), k(-1))) : i.xor(g(T0), bit());
      tx.emit(put(v));
    }
    setFlagBits(tx, CF, i.and(i.shr_u(g(T0), g(T3)), k(1)));
    return true;
  };
}

/**
 * SHLD/SHRD r/m32, r32 by an immediate count, or into a register by CL (shift.ts's SHLD/SHRD at 32 bits:
 * CF the last bit shifted out, OF that of the first one-bit step, AF cleared, SF ZF PF from a result
 * record). A masked count of 0 changes nothing; by CL that is decided at run time, as in shift().
 */
function doubleShift(left: boolean): NativeEmitter {
  return (tx, ins) => {
    const [d, s, cnt] = ins.operands;
    if (!plain(ins) || ins.size !== 4 || !writable(d) || s?.kind !== 'reg' || cnt === undefined) return false;
    const byCl = cnt.kind === 'reg';
    if (byCl ? d.kind !== 'reg' || cnt.reg !== ECX || cnt.size !== 1 : cnt.kind !== 'imm') return false;
    const n = cnt.kind === 'imm' ? cnt.value & 31 : -1;
    const i = m_(tx), k = (v: number): Expr => tx.c(v), g = (l: number): Expr => tx.get(l);
    const dst = destination(tx, d, 4, true);
    if (n === 0) return true;
    if (byCl) tx.emit(tx.set(T1, i.and(tx.reg(ECX, 1), k(31))));
    const cn = (): Expr => (byCl ? g(T1) : k(n)), rest = (): Expr => (byCl ? i.sub(k(32), g(T1)) : k(32 - n));
    const x = (): Expr => g(T0), y = (): Expr => g(T2);
    const body: Expr[] = [tx.set(T0, dst.get()), tx.set(T2, tx.reg(s.reg, 4))];
    const r = left ? i.or(i.shl(x(), cn()), i.shr_u(y(), rest())) : i.or(i.shr_u(x(), cn()), i.shl(y(), rest()));
    const cf = left ? i.and(i.shr_u(x(), rest()), k(1)) : i.and(i.shr_u(x(), byCl ? i.sub(g(T1), k(1)) : k(n - 1)), k(1));
    const of = left ? i.and(i.xor(i.shr_u(x(), k(31)), i.shr_u(x(), k(30))), k(1)) : i.and(i.xor(y(), i.shr_u(x(), k(31))), k(1));
    body.push(
      tx.set(LF.res, r),
      tx.set(LF.efl, i.or(i.and(g(LF.efl), k(~(CF | OF | AF | SF | ZF | PF))), i.or(cf, i.shl(of, k(11))))),
      tx.set(LF.op, k(OP_RESULT)), tx.set(LF.size, k(4)), tx.set(LF.mask, k(SF | ZF | PF)),
      dst.put(g(LF.res)),
    );
    if (byCl) {
      tx.emit(tx.m.if(g(T1), tx.m.block(null, body)));
      tx.known = null;
      tx.held = null;
    } else {
      tx.emit(...body);
      tx.known = { op: OP_RESULT, size: 4, mask: SF | ZF | PF, plainSub: false };
      tx.held = { op: OP_RESULT, size: 4, mask: SF | ZF | PF };
    }
    return true;
  };
}

/** Does the interpreter raise #GP for CLI/STI here (cpu.ts ioplDenied: protected mode, CPL > IOPL)? As 0/1, at run time. */
function ioplDenied(tx: Tx): Expr {
  const i = m_(tx), state = (n: number): Expr => i.load(STATE_OFFSET + 4 * n, 4, tx.c(0));
  return i.and(i.and(state(CR0), tx.c(CR0_PE)), i.gt_u(state(CPL), i.and(i.shr_u(tx.get(LF.efl), tx.c(12)), tx.c(3))));
}

export const NATIVE: Record<string, NativeEmitter> = {
  // BSWAP r32: the bytes reversed; with a 16-bit operand (undefined) the low word cleared, as bits.ts.
  BSWAP: (tx, ins) => {
    const d = ins.operands[0];
    if (!plain(ins) || d?.kind !== 'reg') return false;
    const i = m_(tx), k = (v: number): Expr => tx.c(v);
    if (ins.size === 2) { tx.emit(tx.setReg(d.reg, 2, k(0))); return true; }
    const x = (): Expr => tx.reg(d.reg, 4);
    tx.emit(tx.setReg(d.reg, 4, i.or(i.and(i.rotl(x(), k(8)), k(0x00ff00ff)), i.and(i.rotr(x(), k(8)), k(0xff00ff00)))));
    return true;
  },
  // CMPXCHG r/m, r (bits.ts): the accumulator equals DEST: DEST = SRC; else the accumulator = DEST (a
  // memory DEST is guarded for writing either way: the interpreter writes it back). Record as CMP acc, DEST.
  CMPXCHG: (tx, ins) => {
    const [d, s] = ins.operands;
    if (!lockable(ins) || !writable(d) || s?.kind !== 'reg') return false;
    const size = ins.size, i = m_(tx), g = (l: number): Expr => tx.get(l);
    const dst = destination(tx, d, size, true);
    tx.emit(tx.set(T0, dst.get()), tx.set(T1, tx.reg(EAX, size)), tx.set(T2, tx.reg(s.reg, size)));
    tx.emit(tx.m.if(i.eq(g(T1), g(T0)), dst.put(g(T2)), tx.setReg(EAX, size, g(T0))));
    const r = size === 4 ? i.sub(g(T1), g(T0)) : i.and(i.sub(g(T1), g(T0)), tx.c(maskOf(size)));
    tx.record(OP_SUB, g(T1), g(T0), r, size, ARITH_FLAGS, true);
    return true;
  },
  // XADD r/m, r: SRC = DEST, then DEST = the sum (written last: XADD r, r with one register keeps the sum).
  XADD: (tx, ins) => {
    const [d, s] = ins.operands;
    if (!lockable(ins) || !writable(d) || s?.kind !== 'reg') return false;
    const size = ins.size, i = m_(tx), g = (l: number): Expr => tx.get(l);
    const dst = destination(tx, d, size, true);
    tx.emit(tx.set(T0, dst.get()), tx.set(T1, tx.reg(s.reg, size)));
    const r = size === 4 ? i.add(g(T0), g(T1)) : i.and(i.add(g(T0), g(T1)), tx.c(maskOf(size)));
    tx.record(OP_ADD, g(T0), g(T1), r, size, ARITH_FLAGS);
    tx.emit(tx.setReg(s.reg, size, g(T0)), dst.put(g(LF.res)));
    return true;
  },
  // CMPXCHG8B m64: EDX:EAX equals m64: m64 = ECX:EBX, ZF = 1; else EDX:EAX = m64, ZF = 0 (only ZF changes).
  CMPXCHG8B: (tx, ins) => {
    const d = ins.operands[0];
    if (!lockable(ins) || !isMem(d)) return false;
    const i = m_(tx), g = (l: number): Expr => tx.get(l);
    tx.emit(tx.set(ADDR, tx.ea(d)));
    if (based(d.seg)) tx.segment(d.seg, ADDR, 8, true);
    tx.guard(ADDR, 8, true);
    tx.emit(tx.set(T0, i.load(RAM_OFFSET, 1, g(ADDR))), tx.set(T1, i.load(RAM_OFFSET + 4, 1, g(ADDR))));
    tx.emit(tx.set(T2, i.and(i.eq(g(T0), tx.reg(EAX, 4)), i.eq(g(T1), tx.reg(EDX, 4)))));
    tx.emit(tx.m.if(g(T2),
      tx.m.block(null, [i.store(RAM_OFFSET, 1, g(ADDR), tx.reg(EBX, 4)), i.store(RAM_OFFSET + 4, 1, g(ADDR), tx.reg(ECX, 4))]),
      tx.m.block(null, [tx.setReg(EAX, 4, g(T0)), tx.setReg(EDX, 4, g(T1))])));
    setFlagBits(tx, ZF, i.shl(g(T2), tx.c(6)));
    return true;
  },
  BT: bitTest('bt'),
  BTS: bitTest('bts'),
  BTR: bitTest('btr'),
  BTC: bitTest('btc'),
  SHLD: doubleShift(true),
  SHRD: doubleShift(false),
  // PUSHF/PUSHFD: EFLAGS with every lazy flag computed, VM and RF clear (stack.ts). Only virtual-8086 mode
  // makes it IOPL-sensitive, and compiled code is 32-bit, so never there (checked anyway: the interpreter decides).
  PUSHF: (tx, ins) => {
    if ((ins.prefixes & ~(PREFIX_OPSIZE | PREFIX_SEG)) !== 0) return false;
    const i = m_(tx), size = ins.opsize === 16 ? 2 : 4;
    tx.emit(tx.exitBeforeIf(i.and(tx.get(LF.efl), tx.c(VM)), EXIT_FAULT_LEFT));
    tx.emit(tx.set(T0, i.and(tx.flags.eflags(tx.known), tx.c(~(VM | RF)))));
    push32(tx, T0, size);
    return true;
  },
  // CLD/STD: DF, a plain EFLAGS bit (never in the record).
  CLD: (tx, ins) => {
    if ((ins.prefixes & ~(PREFIX_OPSIZE | PREFIX_SEG)) !== 0) return false;
    tx.emit(tx.set(LF.efl, m_(tx).and(tx.get(LF.efl), tx.c(~DF))));
    return true;
  },
  STD: (tx, ins) => {
    if ((ins.prefixes & ~(PREFIX_OPSIZE | PREFIX_SEG)) !== 0) return false;
    tx.emit(tx.set(LF.efl, m_(tx).or(tx.get(LF.efl), tx.c(DF))));
    return true;
  },
  // CLI: IF = 0, unless CPL > IOPL in protected mode (#GP: the interpreter runs it and raises it).
  CLI: (tx, ins) => {
    if ((ins.prefixes & ~(PREFIX_OPSIZE | PREFIX_SEG)) !== 0) return false;
    const i = m_(tx);
    tx.emit(tx.exitBeforeIf(ioplDenied(tx), EXIT_FAULT_LEFT));
    tx.emit(tx.set(LF.efl, i.and(tx.get(LF.efl), tx.c(~IF))));
    return true;
  },
  // The virtual clock's TSC (cpu.tsc): the call's base (JIT_TSC_SLOT, set by the bridge) plus the
  // instructions it has retired before this one. CR4.TSD (RDTSC faults outside ring 0) is left to the interpreter.
  RDTSC: (tx, ins) => {
    if ((ins.prefixes & PREFIX_LOCK) !== 0) return false;
    const i = m_(tx), l = tx.m.i64, at = STATE_OFFSET + 4 * JIT_TSC_SLOT;
    tx.emit(tx.exitBeforeIf(i.and(i.load(STATE_OFFSET + 4 * CR4, 4, tx.c(0)), tx.c(4)), EXIT_FAULT_LEFT));
    const tsc = (): Expr => l.add(l.load(at, 4, tx.c(0)), l.extend_u(tx.retiredBefore()));
    tx.emit(tx.setReg(EDX, 4, i.wrap(l.shr_u(tsc(), l.const(BigInt(32))))), tx.setReg(EAX, 4, i.wrap(tsc())));
    return true;
  },
  // Any prefix but LOCK (the interpreter ignores the others too). PAUSE (F3 90, the spin-wait hint of every
  // kernel delay loop) spends virtual time (cpu.ts PAUSE_NS).
  NOP: (tx, ins) => {
    if ((ins.prefixes & PREFIX_LOCK) !== 0) return false;
    if (isPause(ins)) tx.pause(PAUSE_NS - 1);
    return true;
  },

  MOV: (tx, ins) => {
    const [d, s] = ins.operands;
    if (!plain(ins) || !writable(d) || !readable(s) || (isMem(d) && isMem(s))) return false;
    const size = ins.size;
    if (d.kind === 'reg') { tx.emit(tx.setReg(d.reg, size, sourceOnce(tx, s, size))); return true; }
    // A register or an immediate into memory: the destination's address and guard change no register, so
    // the value is read where it is, at the store.
    const v = source(tx, s, size);
    const dst = destination(tx, d, size, false);
    tx.emit(dst.put(v));
    return true;
  },
  MOVZX: (tx, ins) => extend(tx, ins, false),
  MOVSX: (tx, ins) => extend(tx, ins, true),
  LEA: (tx, ins) => {
    const [d, s] = ins.operands;
    if (!plain(ins) || d.kind !== 'reg' || s.kind !== 'mem') return false;
    tx.emit(tx.setReg(d.reg, ins.opsize === 32 ? 4 : 2, tx.ea(s)));
    return true;
  },
  XCHG: (tx, ins) => {
    const [a, b] = ins.operands, size = ins.size;
    if (!plain(ins)) return false;
    if (a.kind === 'reg' && b.kind === 'reg') {
      tx.emit(tx.set(T0, tx.reg(a.reg, size)), tx.setReg(a.reg, size, tx.reg(b.reg, size)), tx.setReg(b.reg, size, tx.get(T0)));
      return true;
    }
    const [mo, r] = a.kind === 'mem' ? [a, b] : [b, a];
    if (!isMem(mo) || r.kind !== 'reg') return false;
    const dst = destination(tx, mo, size, true);
    tx.emit(tx.set(T1, dst.get()), dst.put(tx.reg(r.reg, size)), tx.setReg(r.reg, size, tx.get(T1)));
    return true;
  },
  CBW: (tx, ins) => {
    if (!plain(ins)) return false;
    const i = m_(tx);
    if (ins.opsize === 32) tx.emit(tx.setReg(EAX, 4, i.shr_s(i.shl(tx.reg(EAX, 4), tx.c(16)), tx.c(16))));
    else tx.emit(tx.setReg(EAX, 2, i.shr_s(i.shl(tx.reg(EAX, 4), tx.c(24)), tx.c(24))));
    return true;
  },
  CWD: (tx, ins) => {
    if (!plain(ins)) return false;
    const i = m_(tx);
    if (ins.opsize === 32) tx.emit(tx.setReg(EDX, 4, i.shr_s(tx.reg(EAX, 4), tx.c(31))));
    else tx.emit(tx.setReg(EDX, 2, i.shr_s(i.shl(tx.reg(EAX, 4), tx.c(16)), tx.c(31))));
    return true;
  },

  ADD: alu('add', (tx, x, y) => m_(tx).add(x, y), true),
  ADC: alu('adc', (tx, x, y) => m_(tx).add(x, y), true),
  SUB: alu('sub', (tx, x, y) => m_(tx).sub(x, y), true),
  SBB: alu('sbb', (tx, x, y) => m_(tx).sub(x, y), true),
  CMP: alu('sub', (tx, x, y) => m_(tx).sub(x, y), false),
  AND: alu('logic', (tx, x, y) => m_(tx).and(x, y), true),
  OR: alu('logic', (tx, x, y) => m_(tx).or(x, y), true),
  XOR: alu('logic', (tx, x, y) => m_(tx).xor(x, y), true),
  TEST: alu('logic', (tx, x, y) => m_(tx).and(x, y), false),
  INC: incDec(true),
  DEC: incDec(false),
  NEG: (tx, ins) => {
    const d = ins.operands[0];
    if (!plainOrLocked(ins, d) || !writable(d)) return false;
    const size = ins.size, i = m_(tx);
    const dst = destination(tx, d, size, true);
    tx.emit(tx.set(T0, dst.get()));
    let r = i.sub(tx.c(0), tx.get(T0));
    if (size !== 4) r = i.and(r, tx.c(maskOf(size)));
    tx.emit(dst.put(tx.recordResult(OP_SUB, tx.c(0), tx.get(T0), r, size, ARITH_FLAGS, true)));
    return true;
  },
  NOT: (tx, ins) => {
    const d = ins.operands[0];
    if (!plainOrLocked(ins, d) || !writable(d)) return false;
    const dst = destination(tx, d, ins.size, true);
    tx.emit(dst.put(m_(tx).xor(dst.get(), tx.c(-1))));
    return true;
  },
  SHL: shift('shl'),
  SAL: shift('shl'),
  SHR: shift('shr'),
  SAR: shift('sar'),
  MOVS: stringOp('movs'),
  STOS: stringOp('stos'),
  LODS: stringOp('lods'),
  SCAS: stringOp('scas'),
  CMPS: stringOp('cmps'),
  ROL: rotate(true),
  ROR: rotate(false),
  IMUL: (tx, ins) => {
    const ops = ins.operands;
    if (!plain(ins) || ins.size !== 4 || ops.length < 2 || ins.opcode === 0xf7 || ops[0].kind !== 'reg') return false;
    const a = ops.length === 3 ? ops[1] : ops[0], b = ops[ops.length - 1];
    if (!readable(a) || !readable(b)) return false;
    const i = m_(tx), l = tx.m.i64;
    tx.emit(tx.set(T1, source(tx, b, 4)));
    tx.emit(tx.set(T0, source(tx, a, 4, T0)));
    const lo = i.mul(tx.get(T0), tx.get(T1));
    tx.emit(tx.set(T2, lo));
    tx.emit(tx.setReg(ops[0].reg, 4, tx.get(T2)));
    // Flags no later instruction observes (flag-liveness.ts) are not computed.
    if (tx.recordDead) return true;
    const wide = l.mul(l.extend_s(tx.get(T0)), l.extend_s(tx.get(T1)));
    mulFlags(tx, tx.get(T2), l.ne(wide, l.extend_s(tx.get(T2))));
    return true;
  },
  // MUL r/m32: EDX:EAX = EAX * src; flags as muldiv.ts's mulFlags (CF = OF = high half non-zero).
  MUL: (tx, ins) => {
    const src = ins.operands[ins.operands.length - 1];
    if (!plain(ins) || ins.size !== 4 || !readable(src) || src.kind === 'imm') return false;
    const i = m_(tx), l = tx.m.i64;
    tx.emit(tx.set(T1, source(tx, src, 4)));
    const wide = l.mul(l.extend_u(tx.reg(EAX, 4)), l.extend_u(tx.get(T1)));
    tx.emit(tx.set(T2, i.wrap(l.shr_u(wide, l.const(BigInt(32))))), tx.set(T0, i.mul(tx.reg(EAX, 4), tx.get(T1))));
    tx.emit(tx.setReg(EAX, 4, tx.get(T0)), tx.setReg(EDX, 4, tx.get(T2)));
    mulFlags(tx, tx.get(T0), i.ne(tx.get(T2), tx.c(0)));
    return true;
  },
  // DIV/IDIV r/m32: EDX:EAX / src. #DE (divisor 0, quotient too large) leaves the instruction to the
  // interpreter, which raises it; flags are unchanged.
  DIV: (tx, ins) => divide(tx, ins, false),
  IDIV: (tx, ins) => divide(tx, ins, true),
  SETCC: (tx, ins) => {
    const d = ins.operands[0];
    if (!plain(ins) || !writable(d)) return false;
    const cond = tx.condition(ins.cond);
    tx.emit(tx.set(T1, cond));
    const dst = destination(tx, d, 1, false);
    tx.emit(dst.put(tx.get(T1)));
    return true;
  },
  CMOVCC: (tx, ins) => {
    const [d, s] = ins.operands;
    if (!plain(ins) || d.kind !== 'reg' || !readable(s)) return false;
    const size = ins.size;
    tx.emit(tx.set(T1, source(tx, s, size)));
    tx.emit(tx.m.if(tx.condition(ins.cond), tx.setReg(d.reg, size, tx.get(T1))));
    return true;
  },

  JCC: (tx, ins, last) => {
    const d = ins.operands[0];
    if (d?.kind !== 'rel' || ins.opsize !== 32 || (ins.prefixes & ~PREFIX_SEG) !== 0) return false;
    const n = tx.index + 1;
    if (last) { tx.emit(tx.m.if(tx.condition(ins.cond), tx.goto(target(tx, d), n), tx.goto(tx.op.next, n, tx.endsInterpreterBlock))); tx.terminated = true; }
    else tx.emit(tx.m.if(tx.condition(ins.cond), tx.goto(target(tx, d), n)));
    return true;
  },
  JMP: (tx, ins) => {
    const d = ins.operands[0];
    if (ins.opsize !== 32 || (ins.prefixes & ~PREFIX_SEG) !== 0) return false;
    if (d.kind === 'rel') { tx.emit(tx.goto(target(tx, d), tx.index + 1)); tx.terminated = true; return true; }
    if (!plain(ins) || !(d.kind === 'reg' || (isMem(d) && d.size === 4))) return false;
    tx.emit(tx.set(T1, source(tx, d, 4)));
    tx.emit(tx.gotoDynamic(tx.get(T1), tx.index + 1));
    tx.terminated = true;
    return true;
  },
  CALL: (tx, ins) => {
    const d = ins.operands[0];
    if (ins.opsize !== 32 || !plain(ins)) return false;
    if (d.kind === 'rel') {
      tx.emit(tx.set(T0, tx.c(tx.op.next)));
      push32(tx, T0);
      tx.emit(tx.goto(target(tx, d), tx.index + 1));
      tx.terminated = true;
      return true;
    }
    if (!(d.kind === 'reg' || (isMem(d) && d.size === 4))) return false;
    tx.emit(tx.set(T1, source(tx, d, 4)));
    tx.emit(tx.set(T0, tx.c(tx.op.next)));
    push32(tx, T0);
    tx.emit(tx.gotoDynamic(tx.get(T1), tx.index + 1));
    tx.terminated = true;
    return true;
  },
  RET: (tx, ins) => {
    if (ins.opsize !== 32 || (ins.opcode !== 0xc3 && ins.opcode !== 0xc2) || (ins.prefixes & ~PREFIX_SEG) !== 0) return false;
    const imm = ins.operands[0]?.kind === 'imm' ? ins.operands[0].value & 0xffff : 0;
    const i = m_(tx), esp = tx.regLocal(ESP);
    tx.emit(tx.set(T2, tx.get(esp)));
    tx.guard(T2, 4, false);
    tx.emit(tx.set(T1, tx.load(4, T2)), tx.set(esp, i.add(tx.get(esp), tx.c(4 + imm)))); // (T2 is physical with paging on)
    tx.emit(tx.gotoDynamic(tx.get(T1), tx.index + 1));
    tx.terminated = true;
    return true;
  },
  PUSH: (tx, ins) => {
    const d = ins.operands[0];
    if (ins.opsize !== 32 || !plain(ins) || !(d.kind === 'reg' || d.kind === 'imm' || (isMem(d) && d.size === 4))) return false;
    tx.emit(tx.set(T0, source(tx, d, 4, T0))); // PUSH ESP pushes the value before the decrement
    push32(tx, T0);
    return true;
  },
  // LEAVE (32-bit): ESP = EBP, POP EBP (stack.ts); the load at SS:EBP is guarded before anything changes.
  LEAVE: (tx, ins) => {
    if (ins.opsize !== 32 || (ins.prefixes & ~PREFIX_SEG) !== 0) return false;
    const i = m_(tx), ebp = tx.regLocal(EBP);
    tx.emit(tx.set(T2, tx.get(ebp)));
    tx.guard(T2, 4, false);
    // (ESP from EBP's local: with paging on, the guard turned T2 into the physical address.)
    tx.emit(tx.set(T1, tx.load(4, T2)), tx.setReg(ESP, 4, i.add(tx.get(ebp), tx.c(4))), tx.set(ebp, tx.get(T1)));
    return true;
  },
  POP: (tx, ins) => {
    const d = ins.operands[0];
    if (ins.opsize !== 32 || !plain(ins) || d.kind !== 'reg') return false;
    const i = m_(tx), esp = tx.regLocal(ESP);
    tx.emit(tx.set(T2, tx.get(esp)));
    tx.guard(T2, 4, false);
    // ESP from its own local (with paging on, the guard turned T2 into the physical address); POP ESP: the popped value wins.
    tx.emit(tx.set(T1, tx.load(4, T2)), tx.set(esp, i.add(tx.get(esp), tx.c(4))), tx.setReg(d.reg, 4, tx.get(T1)));
    return true;
  },
};

/** EFLAGS after MUL/IMUL (setEflags: nothing stays lazy): CF = OF = overflow, SF and PF from the low half, ZF = AF = 0. */
function mulFlags(tx: Tx, low: Expr, overflow: Expr): void {
  const i = m_(tx);
  tx.emit(tx.set(T3, low));
  const sf = i.and(i.shr_u(tx.get(T3), tx.c(24)), tx.c(SF));
  const pf = i.shl(i.eqz(i.and(i.popcnt(i.and(tx.get(T3), tx.c(0xff))), tx.c(1))), tx.c(2));
  tx.emit(
    tx.set(LF.efl, i.or(i.or(i.or(i.and(tx.get(LF.efl), tx.c(~ARITH_FLAGS)), tx.c(2)), i.mul(overflow, tx.c(CF | OF))), i.or(sf, pf))),
    tx.set(LF.mask, tx.c(0)),
  );
  tx.known = { op: -1, size: 4, mask: 0, plainSub: false };
  tx.held = null;
}

function divide(tx: Tx, ins: Instruction, signed: boolean): boolean {
  const src = ins.operands[ins.operands.length - 1];
  if (!plain(ins) || ins.size !== 4 || !readable(src) || src.kind === 'imm') return false;
  const i = m_(tx), l = tx.m.i64, m = tx.m;
  tx.emit(tx.set(T1, source(tx, src, 4)));
  tx.emit(tx.exitBeforeIf(i.eqz(tx.get(T1)), EXIT_FAULT_LEFT));
  const dividend = (): Expr => l.or(l.shl(l.extend_u(tx.reg(EDX, 4)), l.const(BigInt(32))), l.extend_u(tx.reg(EAX, 4)));
  const divisor = (): Expr => (signed ? l.extend_s(tx.get(T1)) : l.extend_u(tx.get(T1)));
  // The quotient must fit 32 bits (signed: -2^31..2^31-1), checked on the 64-bit quotient before any
  // register changes; INT64_MIN / -1 (which would trap in WASM) is tested first.
  if (signed) {
    tx.emit(tx.exitBeforeIf(i.and(l.eq(dividend(), l.const(-(BigInt(2) ** BigInt(63)))), i.eq(tx.get(T1), tx.c(-1))), EXIT_FAULT_LEFT));
    const q = l.div_s(dividend(), divisor());
    tx.emit(tx.exitBeforeIf(i.eqz(l.eq(l.extend_s(i.wrap(q)), q)), EXIT_FAULT_LEFT));
    tx.emit(tx.set(T2, i.wrap(l.div_s(dividend(), divisor()))), tx.set(T0, i.wrap(l.rem_s(dividend(), divisor()))));
  } else {
    const q = l.div_u(dividend(), divisor());
    tx.emit(tx.exitBeforeIf(i.wrap(l.shr_u(q, l.const(BigInt(32)))), EXIT_FAULT_LEFT));
    tx.emit(tx.set(T2, i.wrap(l.div_u(dividend(), divisor()))), tx.set(T0, i.wrap(l.rem_u(dividend(), divisor()))));
  }
  tx.emit(tx.setReg(EAX, 4, tx.get(T2)), tx.setReg(EDX, 4, tx.get(T0)));
  return true;
}

/** MOVZX/MOVSX: source of 1 or 2 bytes, destination of 2 or 4. */
function extend(tx: Tx, ins: Instruction, signed: boolean): boolean {
  const [d, s] = ins.operands;
  if (!plain(ins) || d.kind !== 'reg' || !(s.kind === 'reg' || isMem(s))) return false;
  const from = s.size === 1 ? 1 : 2, i = m_(tx);
  let v = sourceOnce(tx, s, from, signed);
  if (signed && s.kind === 'reg') { const sh = 32 - 8 * from; v = i.shr_s(i.shl(v, tx.c(sh)), tx.c(sh)); }
  tx.emit(tx.setReg(d.reg, ins.size, v));
  return true;
}

