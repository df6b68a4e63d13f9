// First JIT tier: one decoded block → one WebAssembly function `(budget: i32) -> i32` that runs the block's
// instructions on the CPU-state block and guest RAM of the VM's memory (imported as env.memory) and
// returns how many instructions it retired. Only an exact subset compiles — 32-bit MOV (and byte MOV),
// MOVZX/MOVSX, LEA, NOP, ADD SUB AND OR XOR CMP TEST with register/immediate/memory operands, INC/DEC r32,
// PUSH/POP, CALL rel, RET, JMP rel, and Jcc (fused with the instruction before it as control.ts does, or
// evaluated from a lazy record the block itself wrote) — and only in flat 32-bit protected mode without
// paging; any other block stays with the interpreter. What a block leaves behind (registers, EIP,
// lazy-flag slots, EFLAGS, memory) is exactly what the interpreter's closures leave, so either engine can
// take over at any exit.
//
// Exits, all through one epilogue that writes back registers, the lazy record and EIP: the normal end
// (EIP = last op's next or the branch target), a taken Jcc in the middle (a side exit, as in the
// interpreter's superblocks), and a memory access the inline path cannot do (outside RAM, or a store to
// a page with a page-flag bit such as PAGE_HAS_CODE): then the block stops BEFORE that instruction with
// EIP on it and the interpreter executes it. The caller runs a function only when the budget covers the
// whole block; a block that jumps back to its own start loops inside WASM while the budget covers
// another trip.
import type binaryenT from 'binaryen';
import type { Block } from '../src/cpu/code-cache.ts';
import type { Cpu } from '../src/cpu/cpu.ts';
import { OP_ADD, OP_LOGIC, OP_SUB } from '../src/cpu/flags.ts';
import { DS, ES, SS, type Instruction, type MemOperand, type Operand, PREFIX_SEG } from '../src/decoder/instruction.ts';
import {
  ARITH_FLAGS, CF, CODE32, EFLAGS, EIP, ESP, STACK32, LAZY_DST, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, PAGE_FLAGS_OFFSET,
  PAGE_SHIFT, RAM_OFFSET, STATE_OFFSET,
} from '../src/cpu/state.ts';

type Binaryen = typeof binaryenT;
type Module = binaryenT.Module;
type Expr = number;

/**
 * The mode a compiled block relies on — 32-bit code and stack, paging off, flat DS/SS/ES (no base, no
 * limit): checked when compiling and before every call.
 */
export function flatMode(cpu: Cpu): boolean {
  return cpu.s[CODE32] === 1 && cpu.s[STACK32] === 1 && !cpu.paging && cpu.segSlow[DS] === 0 && cpu.segSlow[SS] === 0 && cpu.segSlow[ES] === 0;
}

// ---- the subset ----
const ALU = new Set(['ADD', 'SUB', 'AND', 'OR', 'XOR', 'CMP', 'TEST']);
const FUSE_SUB = new Set(['CMP', 'SUB']);
const FUSE_LOGIC = new Set(['TEST', 'AND', 'OR', 'XOR']);
/** Conditions control.ts's fusedJcc compares directly, by the kind of the instruction before the Jcc. */
const FUSED_AFTER_SUB = new Set([0x2, 0x3, 0x4, 0x5, 0x6, 0x7, 0xc, 0xd, 0xe, 0xf]);
const FUSED_AFTER_LOGIC = new Set([0x4, 0x5, 0x8, 0x9, 0xc, 0xd, 0xe, 0xf]);
const FUSED_AFTER_INCDEC = new Set([0x4, 0x5, 0x8, 0x9]);
/** Instructions that write the whole lazy record (32-bit forms only here). */
const SETS_FLAGS = new Set([...ALU, 'INC', 'DEC']);
const STACK_OPS = new Set(['PUSH', 'POP', 'CALL', 'RET']);

const isReg = (o: Operand | undefined, size: number): boolean => o?.kind === 'reg' && o.size === size;
const isImm = (o: Operand | undefined): boolean => o?.kind === 'imm';
/** A 32-bit-addressed memory operand in a segment the compiled code treats as flat. */
const isFlatMem = (o: Operand | undefined, size: number): boolean =>
  o?.kind === 'mem' && o.size === size && (o.seg === DS || o.seg === SS || o.seg === ES);

/** The condition the fused form of control.ts tests after `prevOp`, or false when there is none. */
function fusable(prevOp: string | undefined, cc: number): boolean {
  if (prevOp === undefined) return false;
  if (FUSE_SUB.has(prevOp)) return FUSED_AFTER_SUB.has(cc);
  if (FUSE_LOGIC.has(prevOp)) return FUSED_AFTER_LOGIC.has(cc);
  if (prevOp === 'INC' || prevOp === 'DEC') return FUSED_AFTER_INCDEC.has(cc);
  return false;
}

/**
 * Is `ins` one the translator handles exactly? `prev` is the instruction before it in the block and
 * `flagsKnown` tells whether an earlier instruction of the block wrote the lazy record (so a Jcc can be
 * evaluated from the block's own locals).
 */
export function supported(ins: Instruction, prev: Instruction | undefined, flagsKnown: boolean): boolean {
  if ((ins.prefixes & ~PREFIX_SEG) !== 0 || ins.opsize !== 32 || ins.adsize !== 32) return false;
  const [a, b] = ins.operands;
  const n = ins.operands.length;
  switch (ins.op) {
    case 'MOV':
      if (n !== 2 || (ins.size !== 4 && ins.size !== 1)) return false;
      if (isReg(a, ins.size)) return isReg(b, ins.size) || isImm(b) || isFlatMem(b, ins.size);
      return isFlatMem(a, ins.size) && (isReg(b, ins.size) || isImm(b));
    case 'MOVZX': case 'MOVSX':
      return n === 2 && isReg(a, 4) && (isReg(b, 1) || isReg(b, 2) || isFlatMem(b, 1) || isFlatMem(b, 2));
    case 'LEA': return n === 2 && isReg(a, 4) && b.kind === 'mem';
    case 'NOP': return true;
    case 'INC': case 'DEC': return n === 1 && ins.size === 4 && isReg(a, 4);
    case 'PUSH': return n === 1 && (isReg(a, 4) || isImm(a) || isFlatMem(a, 4));
    case 'POP': return n === 1 && isReg(a, 4);
    case 'CALL': return n === 1 && a.kind === 'rel' && ins.opcode === 0xe8;
    case 'RET': return ins.opcode === 0xc3 || (ins.opcode === 0xc2 && isImm(a));
    case 'JMP': return n === 1 && a.kind === 'rel' && (ins.opcode === 0xe9 || ins.opcode === 0xeb);
    case 'JCC':
      if (n !== 1 || a.kind !== 'rel') return false;
      return (prev !== undefined && prev.size === 4 && fusable(prev.op, ins.cond)) || flagsKnown;
    default:
      if (!ALU.has(ins.op) || n !== 2 || ins.size !== 4) return false;
      if (isReg(a, 4)) return isReg(b, 4) || isImm(b) || isFlatMem(b, 4);
      return isFlatMem(a, 4) && (isReg(b, 4) || isImm(b));
  }
}

/**
 * Why this block cannot be compiled in the CPU's current mode ('mode', or the mnemonic of the first
 * instruction outside the subset), or null when every instruction is in the subset.
 */
export function refusal(block: Block, cpu: Cpu): string | null {
  if (!block.cacheable || !block.valid || block.code32 !== 1 || block.csBase !== 0 || block.csLimit !== -1 || !flatMode(cpu)) return 'mode';
  const ops = block.ops;
  let flagsKnown = false;
  for (let i = 0; i < ops.length; i++) {
    const ins = ops[i].ins;
    if (!supported(ins, i > 0 ? ops[i - 1].ins : undefined, flagsKnown)) return ins.op === 'JCC' ? `JCC after ${i > 0 ? ops[i - 1].ins.op : 'nothing'}` : ins.op;
    if (SETS_FLAGS.has(ins.op)) flagsKnown = true;
  }
  return null;
}

// ---- locals ----
const R = (r: number): number => 1 + r; // EAX..EDI in locals 1..8 (local 0 is the budget)
const FDST = 9, FSRC = 10, FRES = 11, ADDR = 12, SADDR = 13, TMP = 14;
/** The exit's EIP and count, the instructions retired by earlier trips round a self-loop, lazy op/mask, "record written". */
const OUT_EIP = 15, OUT_COUNT = 16, BASE = 17, FOP = 18, FMASK = 19, FSET = 20;
const N_VARS = 20;
const BUDGET = 0;
const slotOffset = (slot: number): number => STATE_OFFSET + 4 * slot;
const LAZY_MASK_KEEP_CF = ARITH_FLAGS & ~CF;

/** What the lazy-flag slots hold at a point of the block, when an instruction of the block wrote them. */
interface FlagState { op: number; mask: number }

/**
 * Add the block's function to `m` as export `name`. `ramSize` bounds the inline accesses. The caller has
 * checked refusal(block, cpu) === null.
 */
export function translateBlock(bn: Binaryen, m: Module, block: Block, ramSize: number, name: string): void {
  const i32 = bn.i32;
  const c = (v: number): Expr => m.i32.const(v | 0);
  const get = (l: number): Expr => m.local.get(l, i32);
  const set = (l: number, v: Expr): Expr => m.local.set(l, v);
  const loadSlot = (slot: number): Expr => m.i32.load(slotOffset(slot), 4, c(0));
  const storeSlot = (slot: number, v: Expr): Expr => m.i32.store(slotOffset(slot), 4, c(0), v);

  const ops = block.ops;
  const n = ops.length;
  const body: Expr[] = [];
  const written = new Set<number>();
  let flags: FlagState | null = null;
  // A block whose last instruction jumps back to its first runs as a WASM loop while the budget lasts.
  const last = ops[n - 1];
  const lastRel = last.ins.operands[0]?.kind === 'rel' ? ((last.next + (last.ins.operands[0] as { disp: number }).disp) | 0) : NaN;
  const selfLoop = (last.ins.op === 'JMP' || last.ins.op === 'JCC') && lastRel === ops[0].eip;
  /** Does an instruction read the lazy record the block was entered with (INC/DEC before any flag writer)? */
  let readsIncoming = false;

  // The registers the block touches are loaded into locals once (AH..BH live in EAX..EBX).
  const used = new Set<number>();
  for (const o of ops) {
    if (STACK_OPS.has(o.ins.op)) used.add(ESP);
    for (const op of o.ins.operands) {
      if (op.kind === 'reg') used.add(op.size === 1 ? op.reg & 3 : op.reg);
      else if (op.kind === 'mem') { if (op.base >= 0) used.add(op.base); if (op.index >= 0) used.add(op.index); }
    }
  }
  const prologue: Expr[] = [];
  for (const r of used) prologue.push(set(R(r), loadSlot(r)));

  /**
   * Leave the block with EIP = eip after `count` instructions of this trip: one shared epilogue writes
   * back the registers, the lazy record (if the block wrote it) and EIP.
   */
  const exit = (eip: number | Expr, count: number, dynamicEip = false): Expr => m.block(null, [
    set(OUT_EIP, dynamicEip ? eip : c(eip)),
    set(OUT_COUNT, selfLoop ? m.i32.add(get(BASE), c(count)) : c(count)),
    m.br('exit'),
  ], bn.none);
  const storeFlags = (): Expr => m.if(get(FSET), m.block(null, [
    storeSlot(LAZY_OP, get(FOP)), storeSlot(LAZY_DST, get(FDST)), storeSlot(LAZY_SRC, get(FSRC)),
    storeSlot(LAZY_RES, get(FRES)), storeSlot(LAZY_SIZE, c(4)), storeSlot(LAZY_MASK, get(FMASK)),
  ], bn.none));
  const setFlags = (f: FlagState): void => {
    flags = f;
    body.push(set(FOP, c(f.op)), set(FMASK, c(f.mask)), set(FSET, c(1)));
  };

  /** The effective address (32-bit addressing; flat segment, so it is the linear = physical address). */
  const ea = (o: MemOperand): Expr => {
    let e: Expr | null = null;
    if (o.base >= 0) e = get(R(o.base));
    if (o.index >= 0) {
      const sh = o.scale === 8 ? 3 : o.scale === 4 ? 2 : o.scale === 2 ? 1 : 0;
      const idx = sh === 0 ? get(R(o.index)) : m.i32.shl(get(R(o.index)), c(sh));
      e = e === null ? idx : m.i32.add(e, idx);
    }
    if (e === null) return c(o.disp);
    return o.disp === 0 ? e : m.i32.add(e, c(o.disp));
  };
  /**
   * Leave before instruction i unless a `size`-byte access at local `at` is plain RAM (the bounds of
   * Cpu.readLin*) and, for a store, touches no page with a page-flag bit (as Cpu.writeLin*: such writes go
   * through PhysicalMemory, which invalidates code).
   */
  const guard = (at: number, size: number, store: boolean, i: number): void => {
    let ok = m.i32.le_u(get(at), c(ramSize - size));
    if (store) {
      const pf = (a: Expr): Expr => m.i32.load8_u(PAGE_FLAGS_OFFSET, 1, m.i32.shr_u(a, c(PAGE_SHIFT)));
      const flagsOf = size === 1 ? pf(get(at)) : m.i32.or(pf(get(at)), pf(m.i32.add(get(at), c(size - 1))));
      ok = m.if(ok, m.i32.eqz(flagsOf), c(0));
    }
    body.push(m.if(m.i32.eqz(ok), exit(ops[i].eip, i)));
  };
  const load = (size: number, at: number): Expr =>
    size === 4 ? m.i32.load(RAM_OFFSET, 1, get(at)) : size === 2 ? m.i32.load16_u(RAM_OFFSET, 1, get(at)) : m.i32.load8_u(RAM_OFFSET, 1, get(at));
  const store = (size: number, at: number, v: Expr): Expr =>
    size === 4 ? m.i32.store(RAM_OFFSET, 1, get(at), v) : size === 2 ? m.i32.store16(RAM_OFFSET, 1, get(at), v) : m.i32.store8(RAM_OFFSET, 1, get(at), v);
  /** A memory operand's address into ADDR, guarded. */
  const address = (o: MemOperand, size: number, forStore: boolean, i: number): void => {
    body.push(set(ADDR, ea(o)));
    guard(ADDR, size, forStore, i);
  };

  /** Value of a register or immediate operand of `size` bytes (as operands.ts's reader). */
  const regOrImm = (o: Operand, size: number): Expr => {
    if (o.kind === 'imm') return c(size === 4 ? o.value : o.value & (size === 2 ? 0xffff : 0xff));
    if (o.kind !== 'reg') throw new Error('jit: register or immediate expected');
    if (size === 4) return get(R(o.reg));
    if (size === 2) return m.i32.and(get(R(o.reg)), c(0xffff));
    const sh = (o.reg >> 2) * 8, v = get(R(o.reg & 3));
    return m.i32.and(sh === 0 ? v : m.i32.shr_u(v, c(sh)), c(0xff));
  };
  const setReg = (r: number, v: Expr): void => { body.push(set(R(r), v)); written.add(r); };
  /** Write a register operand of `size` bytes (8-bit: AL..BH into their byte of EAX..EBX). */
  const writeReg = (o: Operand, size: number, v: Expr): void => {
    if (o.kind !== 'reg') throw new Error('jit: register expected');
    if (size === 4) { setReg(o.reg, v); return; }
    const sh = (o.reg >> 2) * 8, r = o.reg & 3;
    setReg(r, m.i32.or(m.i32.and(get(R(r)), c(~(0xff << sh))), sh === 0 ? m.i32.and(v, c(0xff)) : m.i32.shl(m.i32.and(v, c(0xff)), c(sh))));
  };

  /** INC/DEC keep CF: materialise it into EFLAGS first when the current record defines it (setLazyKeepCF). */
  const materialiseCF = (): void => {
    if (flags === null) { readsIncoming = true; body.push(m.call('materialiseCF', [], bn.none)); return; }
    if (!(flags.mask & CF)) return;
    body.push(storeSlot(EFLAGS, m.i32.or(m.i32.and(loadSlot(EFLAGS), c(~CF)), lazyCF(flags))));
  };
  /** flags.ts's getters on the block's own record (size 4), as i32 0/1. */
  const not = (e: Expr): Expr => m.i32.xor(e, c(-1));
  const top = (e: Expr): Expr => m.i32.shr_u(e, c(31));
  const lazyCF = (f: FlagState): Expr => {
    if (!(f.mask & CF)) return m.i32.and(loadSlot(EFLAGS), c(CF));
    const a = (): Expr => get(FDST), b = (): Expr => get(FSRC), r = (): Expr => get(FRES);
    if (f.op === OP_ADD) return top(m.i32.or(m.i32.and(a(), b()), m.i32.and(m.i32.or(a(), b()), not(r()))));
    if (f.op === OP_SUB) return top(m.i32.or(m.i32.and(not(a()), b()), m.i32.and(m.i32.or(not(a()), b()), r())));
    return c(0);
  };
  const lazyOF = (f: FlagState): Expr => {
    const a = (): Expr => get(FDST), b = (): Expr => get(FSRC), r = (): Expr => get(FRES);
    if (f.op === OP_ADD) return top(m.i32.and(m.i32.xor(a(), r()), m.i32.xor(b(), r())));
    if (f.op === OP_SUB) return top(m.i32.and(m.i32.xor(a(), b()), m.i32.xor(a(), r())));
    return c(0);
  };
  const lazyZF = (): Expr => m.i32.eqz(get(FRES));
  const lazySF = (): Expr => top(get(FRES));
  const lazyPF = (): Expr => m.i32.eqz(m.i32.and(m.i32.popcnt(m.i32.and(get(FRES), c(0xff))), c(1)));
  /** flags.ts's testCondition, from the block's own record. */
  const condition = (f: FlagState, cc: number): Expr => {
    let r: Expr;
    switch (cc >> 1) {
      case 0: r = lazyOF(f); break;
      case 1: r = lazyCF(f); break;
      case 2: r = lazyZF(); break;
      case 3: r = m.i32.or(lazyCF(f), lazyZF()); break;
      case 4: r = lazySF(); break;
      case 5: r = lazyPF(); break;
      case 6: r = m.i32.ne(lazySF(), lazyOF(f)); break;
      default: r = m.i32.or(lazyZF(), m.i32.ne(lazySF(), lazyOF(f))); break;
    }
    return cc & 1 ? m.i32.eqz(r) : r;
  };

  for (let i = 0; i < n; i++) {
    const { ins, next } = ops[i];
    const [d, s] = ins.operands;
    switch (ins.op) {
      case 'NOP': break;
      case 'MOV': {
        const size = ins.size;
        if (d.kind === 'reg') {
          if (s.kind === 'mem') { address(s, size, false, i); writeReg(d, size, load(size, ADDR)); }
          else writeReg(d, size, regOrImm(s, size));
        } else if (d.kind === 'mem') {
          address(d, size, true, i);
          body.push(store(size, ADDR, regOrImm(s, size)));
        }
        break;
      }
      case 'MOVZX': case 'MOVSX': {
        const from = s.kind === 'reg' || s.kind === 'mem' ? (s.size === 1 ? 1 : 2) : 2;
        let v: Expr;
        if (s.kind === 'mem') { address(s, from, false, i); v = load(from, ADDR); } else v = regOrImm(s, from);
        if (ins.op === 'MOVSX') { const sh = from === 1 ? 24 : 16; v = m.i32.shr_s(m.i32.shl(v, c(sh)), c(sh)); }
        writeReg(d, 4, v);
        break;
      }
      case 'LEA': if (d.kind === 'reg' && s.kind === 'mem') setReg(d.reg, ea(s)); break;
      case 'INC': case 'DEC': {
        if (d.kind !== 'reg') break;
        materialiseCF();
        const add = ins.op === 'INC';
        body.push(set(FDST, get(R(d.reg))), set(FSRC, c(1)),
          set(FRES, add ? m.i32.add(get(FDST), c(1)) : m.i32.sub(get(FDST), c(1))));
        setReg(d.reg, get(FRES));
        setFlags({ op: add ? OP_ADD : OP_SUB, mask: LAZY_MASK_KEEP_CF });
        break;
      }
      case 'ADD': case 'SUB': case 'CMP': case 'AND': case 'OR': case 'XOR': case 'TEST': {
        const op = ins.op, writes = op !== 'CMP' && op !== 'TEST';
        // Memory operand first (guarded before anything changes): a destination is read and written.
        if (d.kind === 'mem') { address(d, 4, writes, i); body.push(set(TMP, load(4, ADDR))); }
        else if (s.kind === 'mem') { address(s, 4, false, i); body.push(set(TMP, load(4, ADDR))); }
        const x = (): Expr => (d.kind === 'mem' ? get(TMP) : get(R((d as { reg: number }).reg)));
        const y = (): Expr => (s.kind === 'mem' ? get(TMP) : regOrImm(s, 4));
        if (op === 'ADD' || op === 'SUB' || op === 'CMP') {
          body.push(set(FDST, x()), set(FSRC, y()),
            set(FRES, op === 'ADD' ? m.i32.add(get(FDST), get(FSRC)) : m.i32.sub(get(FDST), get(FSRC))));
          setFlags({ op: op === 'ADD' ? OP_ADD : OP_SUB, mask: ARITH_FLAGS });
        } else {
          const r = op === 'OR' ? m.i32.or(x(), y()) : op === 'XOR' ? m.i32.xor(x(), y()) : m.i32.and(x(), y());
          body.push(set(FDST, c(0)), set(FSRC, c(0)), set(FRES, r));
          setFlags({ op: OP_LOGIC, mask: ARITH_FLAGS });
        }
        if (writes) {
          if (d.kind === 'mem') body.push(store(4, ADDR, get(FRES)));
          else setReg((d as { reg: number }).reg, get(FRES));
        }
        break;
      }
      case 'PUSH': {
        // The value first (PUSH ESP pushes the old ESP; PUSH m reads with the old ESP), then the stack slot.
        if (d.kind === 'mem') { address(d, 4, false, i); body.push(set(TMP, load(4, ADDR))); }
        else body.push(set(TMP, regOrImm(d, 4)));
        body.push(set(SADDR, m.i32.sub(get(R(ESP)), c(4))));
        guard(SADDR, 4, true, i);
        body.push(store(4, SADDR, get(TMP)));
        setReg(ESP, get(SADDR));
        break;
      }
      case 'POP': {
        if (d.kind !== 'reg') break;
        body.push(set(SADDR, get(R(ESP))));
        guard(SADDR, 4, false, i);
        body.push(set(TMP, load(4, SADDR)));
        setReg(ESP, m.i32.add(get(SADDR), c(4)));
        setReg(d.reg, get(TMP)); // POP ESP: the popped value wins
        break;
      }
      case 'CALL': {
        if (d.kind !== 'rel') break;
        body.push(set(SADDR, m.i32.sub(get(R(ESP)), c(4))));
        guard(SADDR, 4, true, i);
        body.push(store(4, SADDR, c(next)));
        setReg(ESP, get(SADDR));
        body.push(exit((next + d.disp) | 0, i + 1));
        break;
      }
      case 'RET': {
        const imm = d?.kind === 'imm' ? d.value & 0xffff : 0;
        body.push(set(SADDR, get(R(ESP))));
        guard(SADDR, 4, false, i);
        body.push(set(TMP, load(4, SADDR)));
        setReg(ESP, m.i32.add(get(SADDR), c(4 + imm)));
        body.push(exit(get(TMP), i + 1, true));
        break;
      }
      case 'JMP': if (d.kind === 'rel') body.push(selfLoop ? backEdge() : exit((next + d.disp) | 0, i + 1)); break;
      case 'JCC': {
        if (d.kind !== 'rel') break;
        const target = (next + d.disp) | 0;
        const prev = ops[i - 1]?.ins;
        const taken = prev !== undefined && prev.size === 4 && fusable(prev.op, ins.cond)
          ? fusedCondition(m, i32, prev.op, ins.cond) : condition(flags!, ins.cond);
        if (i === n - 1) body.push(m.if(taken, selfLoop ? backEdge() : exit(target, n), exit(next, n)));
        else body.push(m.if(taken, exit(target, i + 1)));
        break;
      }
      default: throw new Error(`jit: ${ins.op} is not in the compiled subset`);
    }
  }
  if (!['JMP', 'JCC', 'CALL', 'RET'].includes(last.ins.op)) body.push(exit(last.next, n));

  // Shape: prologue; block $exit { loop $top { body } }; epilogue (write-back, EIP); return the count.
  let main: Expr = m.block(null, body, bn.none);
  if (selfLoop) main = m.loop('top', main);
  const epilogue: Expr[] = [];
  for (const r of written) epilogue.push(storeSlot(r, get(R(r))));
  epilogue.push(storeFlags(), storeSlot(EIP, get(OUT_EIP)), get(OUT_COUNT));
  const fnBody = m.block(null, [...prologue, m.block('exit', [main], bn.none), ...epilogue], i32);

  const vars = new Array<number>(N_VARS).fill(i32);
  m.addFunction(name, bn.createType([i32]), i32, vars, fnBody);
  m.addFunctionExport(name, name);

  /**
   * The jump back to the block's start: another trip if the whole block fits in the budget (the run loop
   * would run it next anyway: nothing in the block can raise an interrupt or change the mode), else exit
   * with EIP on the start. A trip that reads the incoming lazy record gets it in memory first.
   */
  function backEdge(): Expr {
    const again: Expr[] = [set(BASE, m.i32.add(get(BASE), c(n)))];
    if (readsIncoming) again.push(storeFlags());
    again.push(m.br('top'));
    return m.if(m.i32.le_s(m.i32.add(get(BASE), c(2 * n)), get(BUDGET)), m.block(null, again, bn.none), exit(ops[0].eip, n));
  }
}

/** The fused comparison of control.ts, on the locals holding the lazy record of the instruction before the Jcc. */
function fusedCondition(m: Module, i32: number, prevOp: string, cc: number): Expr {
  const dst = (): Expr => m.local.get(FDST, i32), src = (): Expr => m.local.get(FSRC, i32), res = (): Expr => m.local.get(FRES, i32);
  const zero = (): Expr => m.i32.const(0);
  if (FUSE_SUB.has(prevOp)) {
    switch (cc) {
      case 0x2: return m.i32.lt_u(dst(), src());
      case 0x3: return m.i32.ge_u(dst(), src());
      case 0x4: return m.i32.eqz(res());
      case 0x5: return m.i32.ne(res(), zero());
      case 0x6: return m.i32.le_u(dst(), src());
      case 0x7: return m.i32.gt_u(dst(), src());
      case 0xc: return m.i32.lt_s(dst(), src());
      case 0xd: return m.i32.ge_s(dst(), src());
      case 0xe: return m.i32.le_s(dst(), src());
      case 0xf: return m.i32.gt_s(dst(), src());
    }
  } else {
    switch (cc) {
      case 0x4: return m.i32.eqz(res());
      case 0x5: return m.i32.ne(res(), zero());
      case 0x8: case 0xc: return m.i32.lt_s(res(), zero());
      case 0x9: case 0xd: return m.i32.ge_s(res(), zero());
      case 0xe: return m.i32.le_s(res(), zero());
      case 0xf: return m.i32.gt_s(res(), zero());
    }
  }
  throw new Error(`jit: condition ${cc} after ${prevOp} is not fused`);
}

/**
 * `materialiseCF()`: flags.ts's setLazyKeepCF preamble for a record made outside the block (any op and
 * size): if LAZY_MASK has CF, EFLAGS.CF = getCF().
 */
export function addMaterialiseCF(bn: Binaryen, m: Module): void {
  const i32 = bn.i32;
  const c = (v: number): Expr => m.i32.const(v | 0);
  const ld = (slot: number): Expr => m.i32.load(slotOffset(slot), 4, c(0));
  const A = 0, B = 1, Rr = 2, SH = 3, OP = 4;
  const g = (l: number): Expr => m.local.get(l, i32);
  const not = (e: Expr): Expr => m.i32.xor(e, c(-1));
  const bit = (e: Expr): Expr => m.i32.and(m.i32.shr_u(e, g(SH)), c(1));
  const addCF = bit(m.i32.or(m.i32.and(g(A), g(B)), m.i32.and(m.i32.or(g(A), g(B)), not(g(Rr)))));
  const subCF = bit(m.i32.or(m.i32.and(not(g(A)), g(B)), m.i32.and(m.i32.or(not(g(A)), g(B)), g(Rr))));
  const cf = m.if(m.i32.eq(g(OP), c(OP_ADD)), addCF, m.if(m.i32.eq(g(OP), c(OP_SUB)), subCF, c(0)));
  const body = m.if(m.i32.and(ld(LAZY_MASK), c(CF)), m.block(null, [
    m.local.set(A, ld(LAZY_DST)), m.local.set(B, ld(LAZY_SRC)), m.local.set(Rr, ld(LAZY_RES)),
    m.local.set(SH, m.i32.sub(m.i32.mul(ld(LAZY_SIZE), c(8)), c(1))), m.local.set(OP, ld(LAZY_OP)),
    m.i32.store(slotOffset(EFLAGS), 4, c(0), m.i32.or(m.i32.and(ld(EFLAGS), c(~CF)), cf)),
  ], bn.none));
  m.addFunction('materialiseCF', bn.none, bn.none, [i32, i32, i32, i32, i32], body);
}
