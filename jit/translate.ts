// Region translator: the hot decoded blocks of one guest page → one WebAssembly function
// `run(pc: i32, budget: i32, count: i32) -> i32` (instructions retired: `count` plus this call's). The blocks are first cut into segments
// (segmentsOf: each instruction once, one entry each). Shape (a "switch" dispatcher over the segments):
//
//   block $out
//     block $exit
//       loop $dispatch
//         block $bK-1 … block $b0  dispatch(pc) … end  code(s0)  end  code(s1) … code(sK-1)
//       end
//     end   → a packed exit's EIP, reason and count decoded (EXIT_OFFSET_BITS)
//   end   → epilogue: registers, lazy flags, EIP back to the CPU-state block; return the count
//
// (dispatch: a binary search over the segment starts.)
//
// Segments are sorted by address, so a forward branch to a segment of the region is a plain `br` out of
// the nested blocks (it lands on the target's code); a segment that branches to its own start is a WASM
// loop (peeled once, so the loop body knows the flags its own end leaves); other backward branches and
// computed targets (RET, JMP [mem], entry from the run loop) set pc and go round $dispatch. Each segment
// starts with the budget check (count + its length ≤ budget), so a loop runs inside WASM until the slice
// ends, and the count is exact.
//
// Registers EAX..EDI and the lazy-flag record live in locals for the whole call. An instruction with a
// native translation (semantics-wasm.ts) runs inline; any other one calls the interpreter's own closure
// through the `helper` import with the state written back (a fallback, exact by construction). Every exit
// leaves state exactly as the interpreter would: EIP on the next instruction to run, the lazy record as the
// last flag-writer left it, and the count of retired instructions.
import type { BlockApi, WasmBackend, WasmModule } from './wasm-backend.ts';
import type { Instruction } from '../src/decoder/instruction.ts';
import {
  CODE_CHUNK_SHIFT, codeMapOffset, EFLAGS, EIP, LAZY_DST, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, PAGE_SHIFT, PAGE_SIZE, RAM_OFFSET, STATE_OFFSET,
  SEG_ATTR, SEG_BASE, SEG_LIMIT, segSlot, TLB_ADDEND_OFFSET, TLB_TAG_OFFSET,
} from '../src/cpu/state.ts';
import { EXIT_BRANCH, EXIT_BUDGET, EXIT_FAULT, EXIT_HELPER_BREAK, EXIT_INTERRUPT, EXIT_MEMORY, JIT_EXIT_SLOT, JIT_PAUSE_SLOT, SEGMENT_PROFILE_COUNTERS } from '../src/cpu/state.ts';
import { ATTR_CODE, ATTR_DC, ATTR_RW, ATTR_UNUSABLE, TLB_RAM, TLB_SIZE, tlbNeed } from '../src/cpu/cpu.ts';
import { OP_LOGIC } from '../src/cpu/flags.ts';
import { addConditionFunctions, addEflagsFunction, FlagsWasm, type FlagLocals, type KnownFlags } from './flags-wasm.ts';
import { NATIVE } from './semantics-wasm.ts';
import { type SegmentLiveness, segmentLiveness } from './flag-liveness.ts';
import { directTarget, endsBlock, fallsThrough, metaOf } from '../src/cpu/instruction-meta.ts';
import { type Chain, chooseLoops, DISPATCH, layoutRegion, type Place, routeOf, SELF } from './layout.ts';

type Module = WasmModule;
type Expr = number;

/** What the helper import returns (bits). */
export const HELPER_FAULT = 1, HELPER_JUMP = 2, HELPER_EXIT = 4, HELPER_IRQ = 8;

// ---- locals ----
const PC = 0;
/** The budget parameter: the segment checks compare the count with it; bulk work (native REP) lowers it. */
export const BUDGET = 1;
/** Instructions retired, from the count parameter (0 from the run loop; the caller's count when chained). */
const COUNT = 2;
const REG0 = 3; // EAX..EDI in 3..10
export const LF: FlagLocals = { op: 11, dst: 12, src: 13, res: 14, size: 15, mask: 16, efl: 17 };
const REASON = 18, HRES = 19;
/** Scratch locals for the semantics: addresses and temporaries. */
export const ADDR = 20, T0 = 21, T1 = 22, T2 = 23, T3 = 24;
/** Paging: the TLB slot's byte offset while an access is translated. */
const TLB_SLOT = 25;
/**
 * Where the interpreter would have started its current block (the last taken branch, a block end, or the
 * region's entry), and the count there: a helper runs that block's own closure with the count the
 * interpreter would have (I/O sees time as of the block start, RDTSC adds its index in the block).
 */
const BS_COUNT = 26, BS_EIP = 27;
/** The count this call started from (its own instructions go to the region's counter). */
const ENTRY_COUNT = 28;
const N_LOCALS = 29, N_PARAMS = 3;

const slot = (n: number): number => STATE_OFFSET + 4 * n;

/**
 * A packed exit's REASON: bits 0-12 the EIP's offset from Tx.exitBase (a page region's exits lie in its page
 * or just past it; a 16 KiB span's farther ones are left unpacked), bits 13-15 the exit reason (EXIT_*: 0-6), bits 16-30 the instructions retired in the
 * segment. Small values, so the constant is 3-4 bytes of LEB128.
 */
const EXIT_OFFSET_BITS = 13, EXIT_RETIRED_SHIFT = 16;

/** What translation needs of a decoded block and instruction (plain data: it crosses to the worker). */
export interface RegionOp { ins: Instruction; eip: number; next: number }
export interface RegionBlock {
  start: number;
  ops: RegionOp[];
  /** A block of one instruction straddling into the next page (paging on): that page's frame (code-cache.ts); else -1 or absent. */
  phys2?: number;
}

export interface RegionInput {
  /** The region's blocks (valid, cacheable, flat 32-bit mode), any order. */
  blocks: RegionBlock[];
  ramSize: number;
  /** Paging as the region assumes it: 0 off, 1 on for supervisor accesses (CPL 0-2), 2 on at CPL 3. */
  paging: number;
  /** Global index of the first helper op of this region (the helper import is shared by all regions). */
  helperBase: number;
  /** Form WASM loops of loops that span several segments (layout.ts; tier 2), instead of dispatching their back edges. */
  loops?: boolean;
  /** Byte offset of the i32 each call adds the instructions it retired to (state.ts regionCounter; tier 1), or none. */
  counter?: number;
  /**
   * Byte offset of an i32 per segment (the first SEGMENT_PROFILE_COUNTERS segments) that each entry into the
   * segment adds one to (a slot of state.ts SEGMENT_PROFILE_OFFSET: a profiled tier-1 region), or none.
   */
  segmentCounters?: number;
}

export interface RegionOutput {
  /** Ops run through the helper, in helper-index order from helperBase, as [block index, op index] in input.blocks. */
  helperAt: [number, number][];
  /** Instructions translated natively / through the helper. */
  native: number;
  fallback: number;
  /** For each helper op: does an interpreter block end with it (then a pending interrupt is taken right after)? */
  helperLast: boolean[];
  /** For each helper op: its position in the interpreter block it was decoded in (EmitContext.index). */
  helperIndex: number[];
  /** Segments (straight runs with one entry) and distinct guest instructions translated. */
  segments: number;
  /** The EIPs the region can be entered at (its segments' starts): what the jump cache may name it for. */
  entries: number[];
  /** With segmentCounters: each segment's instruction EIPs, in counter order. */
  segmentEips?: number[][];
  instructions: number;
}

/**
 * The per-instruction emission context handed to the native semantics (semantics-wasm.ts): operand
 * access, the memory fast path with its exits, flag records and control flow.
 */
export class Tx {
  readonly m: Module;
  readonly bn: WasmBackend;
  readonly i32: number;
  readonly flags: FlagsWasm;
  /** Code of the current block. */
  body: Expr[] = [];
  /** What the translator knows about the lazy record here (null: written before this block). */
  known: KnownFlags | null = null;
  /** The instruction being translated and its index in its segment; the segment's length. */
  op!: RegionOp;
  index = 0;
  segmentLength = 0;
  /** Instructions this call has retired before the current one (what a helper is told, and RDTSC adds). */
  retiredBefore(): Expr { return this.m.i32.add(this.get(COUNT), this.c(this.index)); }
  /** Set when the current segment branches back to its own start (it is then wrapped in a WASM loop). */
  selfLoop = false;
  /** The label a branch back to the current segment's start takes, and the flag knowledge at each such branch. */
  selfLabel = '';
  selfStates: { known: KnownFlags | null; held: Tx['held'] }[] = [];
  /** Flag liveness for the current instruction (flag-liveness.ts): the flags it writes, or the CF INC/DEC carries, are unobserved. */
  recordDead = false;
  carryDead = false;
  /** Set by a native translation that ended the block's control flow itself (a jump or exit). */
  terminated = false;
  /** Does the interpreter's block end with the current instruction (a block ender, or its length/page limit)? */
  endsInterpreterBlock = false;
  private labels = 0;
  /** A label name unique in the function (emitters' own loops; a peeled segment is translated twice). */
  label(prefix: string): string { return `${prefix}${this.labels++}`; }
  /** The current instruction through the interpreter's closure (helper call, exits included), as code. */
  helperCode: () => Expr[] = () => [];
  /**
   * The blocks that record where an interpreter block starts (BS_COUNT, BS_EIP: markBlockStart). Only a
   * helper call reads those locals, and most regions make none: translateRegion empties these blocks then,
   * so that their code is not written (17 k of each in a boot's 8.6 MB of WASM, ~2 %).
   */
  readonly blockStartMarks: Expr[] = [];
  /** `BS_COUNT = count; BS_EIP = eip`, as a block of its own that translateRegion can empty. */
  markBlockStart(count: Expr, eip: Expr): Expr {
    const mark = this.m.block(null, [this.set(BS_COUNT, count), this.set(BS_EIP, eip)]);
    this.blockStartMarks.push(mark);
    return mark;
  }

  constructor(bn: WasmBackend, m: Module, readonly ramSize: number, private readonly targets: Map<number, number>, readonly paging = 0) {
    this.bn = bn; this.m = m; this.i32 = bn.i32;
    this.flags = new FlagsWasm(m, LF, bn.i32);
  }

  // ---- basics ----
  c(v: number): Expr { return this.m.i32.const(v | 0); }
  get(l: number): Expr { return this.m.local.get(l, this.i32); }
  set(l: number, v: Expr): Expr { return this.m.local.set(l, v); }
  emit(...e: Expr[]): void { this.body.push(...e); }
  regLocal(r: number): number { return REG0 + r; }

  /** Register r of `size` bytes (8-bit: AL..BH), zero-extended. */
  reg(r: number, size: number): Expr {
    const m = this.m;
    if (size === 4) return this.get(REG0 + r);
    if (size === 2) return m.i32.and(this.get(REG0 + r), this.c(0xffff));
    const v = this.get(REG0 + (r & 3));
    return m.i32.and(r >= 4 ? m.i32.shr_u(v, this.c(8)) : v, this.c(0xff));
  }
  /** Write register r of `size` bytes (the value's bits above the size are ignored). */
  setReg(r: number, size: number, v: Expr): Expr {
    const m = this.m;
    if (size === 4) return this.set(REG0 + r, v);
    if (size === 2) return this.set(REG0 + r, m.i32.or(m.i32.and(this.get(REG0 + r), this.c(0xffff0000)), m.i32.and(v, this.c(0xffff))));
    const l = REG0 + (r & 3), sh = r >= 4 ? 8 : 0;
    const byte = sh ? m.i32.shl(m.i32.and(v, this.c(0xff)), this.c(8)) : m.i32.and(v, this.c(0xff));
    return this.set(l, m.i32.or(m.i32.and(this.get(l), this.c(~(0xff << sh))), byte));
  }

  // ---- exits ----
  /** The linear base of the region's first page: exits to EIPs near it are packed (packedExit). */
  exitBase = 0;
  /**
   * An exit to constant `eip` as one constant, the value a branch carries to $exit, whose decoder at the end
   * of the function sets REASON, PC and COUNT from it (EXIT_OFFSET_BITS) — ~8 bytes of WASM instead of ~25
   * for three local.sets, an add and the branch: with an exit per memory access and per segment, they were
   * a large part of a region. Null when `eip` or `retired` does not fit.
   */
  private packedExit(eip: number, retired: number, reason: number): number | null {
    const off = (eip - this.exitBase) >>> 0;
    if (off >= 1 << EXIT_OFFSET_BITS || retired >= 1 << (31 - EXIT_RETIRED_SHIFT)) return null;
    return off | (reason << EXIT_OFFSET_BITS) | (retired << EXIT_RETIRED_SHIFT);
  }
  /** Leave the region with EIP = eip (constant or expression) after `retired` instructions of this block. */
  exitTo(eip: number | Expr, retired: number, reason: number, dynamic = false): Expr {
    const m = this.m;
    const packed = dynamic ? null : this.packedExit(eip as number, retired, reason);
    if (packed !== null) return m.br('exit', undefined, this.c(packed));
    const parts: Expr[] = [];
    if (retired) parts.push(this.set(COUNT, m.i32.add(this.get(COUNT), this.c(retired))));
    parts.push(this.set(PC, dynamic ? (eip as Expr) : this.c(eip as number)), this.set(REASON, this.c(reason)), m.br('out'));
    return m.block(null, parts);
  }
  /**
   * exitTo when `condition` holds. A packed exit is a br_if carrying its constant, not an `if` around a
   * branch: V8's Liftoff copies its register state (every local) at each `if` for the `else` path, into
   * fresh zone memory. A synthetic module of 3,000 exits and 30 locals compiled at 6 MB/s with `if`, 19
   * with br_if; a first run of the workload ROMs takes 10-15 % less CPU (README, "Exits as br_if").
   */
  exitIf(condition: Expr, eip: number, retired: number, reason: number): Expr {
    const packed = this.packedExit(eip, retired, reason);
    if (packed === null) return this.m.if(condition, this.exitTo(eip, retired, reason));
    return this.m.drop(this.m.br('exit', condition, this.c(packed)));
  }
  /** Exit before the current instruction (the interpreter runs it) when `condition` holds: the memory slow path, or a fault left to the interpreter. */
  exitBeforeIf(condition: Expr, reason = EXIT_MEMORY): Expr { return this.exitIf(condition, this.op.eip, this.index, reason); }

  /**
   * Before an instruction that straddles into the next page: leave before it unless the TLB still maps that
   * page, for a read at this privilege, to `frame`, the one its bytes were decoded from (the TLB's addend
   * is frame - page). Then the interpreter's lookup checks the mapping (code-cache.ts secondPageHolds): a
   * new frame replaces the block and so drops this region; a TLB entry merely lost is walked again.
   */
  secondPageGuard(frame: number): void {
    const m = this.m, page = ((this.op.eip | 0xfff) + 1) | 0, need = tlbNeed(false, this.paging === 2);
    const at = ((page >>> PAGE_SHIFT) & (TLB_SIZE - 1)) << 2;
    const tagWrong = this.tlbTagWrong(m.i32.load(TLB_TAG_OFFSET + at, 4, this.c(0)), this.c(page | need), need);
    const frameWrong = m.i32.xor(m.i32.load(TLB_ADDEND_OFFSET + at, 4, this.c(0)), this.c((frame - page) | 0));
    this.emit(this.exitBeforeIf(m.i32.or(tagWrong, frameWrong)));
  }

  /**
   * The current instruction is a PAUSE spending `extra` ns of virtual time beyond its 1 (cpu.ts PAUSE_NS).
   * They count as retired here, so that the budget and RDTSC see them, and in JIT_PAUSE_SLOT, from which the
   * bridge gives them to the clock. The interpreter ends its block at a PAUSE and takes its time from the
   * slice's budget (Cpu.spendTime, Cpu.spentNs): an interpreter block starts after it (what helpers are told),
   * and compiled code leaves there when the rest of its segment no longer fits the budget — where the
   * interpreter would stop.
   */
  pause(extra: number): void {
    const m = this.m, at = slot(JIT_PAUSE_SLOT);
    this.emit(
      this.set(COUNT, m.i32.add(this.get(COUNT), this.c(extra))),
      m.i32.store(at, 4, this.c(0), m.i32.add(m.i32.load(at, 4, this.c(0)), this.c(extra))),
      this.markBlockStart(m.i32.add(this.get(COUNT), this.c(this.index + 1)), this.c(this.op.next)),
      this.exitIf(m.i32.gt_s(m.i32.add(this.get(COUNT), this.c(this.segmentLength)), this.get(BUDGET)), this.op.next, this.index + 1, EXIT_BUDGET),
    );
  }

  /**
   * Continue at guest `target` after `retired` instructions of this block: a direct `br` to a later block
   * of the region, the dispatcher for an earlier one, an exit for code outside the region.
   */
  goto(target: number, retired: number, newBlock = true): Expr {
    const m = this.m;
    const t = this.targets.get(target | 0);
    const route = t === undefined ? null : this.route(t);
    // Leaving the region: an exit like any other (BS_COUNT and BS_EIP are dead then).
    if (route === null) return this.exitTo(target, retired, EXIT_BRANCH);
    const parts: Expr[] = [];
    if (retired) parts.push(this.set(COUNT, m.i32.add(this.get(COUNT), this.c(retired))));
    if (newBlock) parts.push(this.markBlockStart(this.get(COUNT), this.c(target)));
    if (route === SELF) {
      // A loop within one segment: no dispatch. Remember what is known about the flags at the back edge.
      parts.push(m.br(this.selfLabel));
      this.selfLoop = true;
      this.selfStates.push({ known: this.known, held: this.held });
    } else if (route === DISPATCH) {
      parts.push(this.set(PC, this.c(target)), m.br('dispatch'));
    }
    else parts.push(m.br(route));
    return m.block(null, parts);
  }
  /** How a branch to segment t leaves the current one (layout.ts): a label, SELF, or DISPATCH. */
  route: (t: number) => string = () => DISPATCH;
  /** Continue at a computed target (RET, JMP r/m): through the dispatcher. */
  gotoDynamic(target: Expr, retired: number): Expr {
    const m = this.m;
    return m.block(null, [
      this.set(COUNT, m.i32.add(this.get(COUNT), this.c(retired))),
      this.set(PC, target), this.markBlockStart(this.get(COUNT), this.get(PC)), m.br('dispatch'),
    ]);
  }

  // ---- memory fast path (flat segments, paging off: offset = linear = physical) ----
  /** Effective address of a 32-bit-addressed memory operand. */
  ea(o: { base: number; index: number; scale: number; disp: number }): Expr {
    const m = this.m;
    let e: Expr | null = null;
    if (o.base >= 0) e = this.get(REG0 + o.base);
    if (o.index >= 0) {
      const sh = o.scale === 8 ? 3 : o.scale === 4 ? 2 : o.scale === 2 ? 1 : 0;
      const idx = sh === 0 ? this.get(REG0 + o.index) : m.i32.shl(this.get(REG0 + o.index), this.c(sh));
      e = e === null ? idx : m.i32.add(e, idx);
    }
    if (e === null) return this.c(o.disp);
    return o.disp === 0 ? e : m.i32.add(e, this.c(o.disp));
  }
  /**
   * An operand through a segment whose base need not be 0 (FS, GS: Linux's per-CPU data): the offset in
   * local `at` becomes base + offset after the checks cpu.ts's checkedLinear makes. Only an expand-up data
   * segment (writable, for a store) whose limit covers every byte stays here; anything else leaves before
   * the instruction, and the interpreter takes it (or raises its fault). The descriptor cache is read when
   * the code runs, so loading FS or GS needs no new translation.
   */
  segment(seg: number, at: number, size: number, store: boolean): void {
    const i = this.m.i32, field = (f: number): Expr => i.load(slot(segSlot(seg, f)), 4, this.c(0));
    const odd = ATTR_UNUSABLE | ATTR_CODE | ATTR_DC;
    let fail = store ? i.ne(i.and(field(SEG_ATTR), this.c(odd | ATTR_RW)), this.c(ATTR_RW)) : i.and(field(SEG_ATTR), this.c(odd));
    // The last byte, offset + size - 1, must neither wrap past 4 GiB nor lie beyond the limit.
    if (size > 1) fail = i.or(fail, i.gt_u(this.get(at), this.c(-size)));
    fail = i.or(fail, i.gt_u(size > 1 ? i.add(this.get(at), this.c(size - 1)) : this.get(at), field(SEG_LIMIT)));
    this.emit(this.exitBeforeIf(fail));
    this.emit(this.set(at, i.add(this.get(at), field(SEG_BASE))));
  }
  /**
   * Guard an access of `size` bytes at local `at`: leave before this instruction unless it is plain RAM
   * and, for a store, no 64-byte chunk it touches has a code-map byte set (code: the interpreter's write
   * path invalidates; a page armed for the dirty log: it records the page and disarms it; MMIO or beyond
   * RAM: the slow path). A region is made of decoded blocks only, so a store to a chunk none of them
   * overlaps cannot change a translated instruction.
   */
  guard(at: number, size: number, store: boolean): void {
    const m = this.m;
    if (this.paging !== 0) {
      // Linear → physical through the software TLB (cpu.ts's translate): a hit whose tag grants the access
      // to a page of RAM, with the access's last byte in the same page, leaves the physical address in `at`
      // — one load, mask and compare decide all of it, as QEMU's softmmu does: the tag is the linear page
      // base | permissions, so the last byte's page base | the bits needed equals the masked tag only then.
      // Anything else (a miss, a permission or dirty-bit update, a page-crossing access, MMIO) leaves before
      // the instruction and the interpreter walks the page tables. TLB_RAM makes the RAM bounds test needless.
      const need = tlbNeed(store, this.paging === 2) | TLB_RAM;
      this.emit(this.set(TLB_SLOT, m.i32.and(m.i32.shr_u(this.get(at), this.c(PAGE_SHIFT - 2)), this.c((TLB_SIZE - 1) << 2))));
      const last = size > 1 ? m.i32.add(this.get(at), this.c(size - 1)) : this.get(at);
      const miss = this.tlbTagWrong(m.i32.load(TLB_TAG_OFFSET, 4, this.get(TLB_SLOT)), m.i32.or(last, this.c(need)), need);
      this.emit(this.exitBeforeIf(miss));
      this.emit(this.set(at, m.i32.add(this.get(at), m.i32.load(TLB_ADDEND_OFFSET, 4, this.get(TLB_SLOT)))));
      // A store also tests the code map at the physical address.
      if (store) this.emit(this.exitBeforeIf(this.codeTouched(at, size)));
      return;
    }
    const outside = m.i32.gt_u(this.get(at), this.c(this.ramSize - size));
    this.emit(this.exitBeforeIf(outside));
    if (store) this.emit(this.exitBeforeIf(this.codeTouched(at, size)));
  }
  /**
   * Nonzero unless TLB `tag` is the page of `address` with the permission bits `need`, given
   * `addressOrNeed` = address | need. The mask keeps the page base and the needed bits, so it is
   * ((tag & ~0xfff) != page) or (a needed bit missing) in one xor and one and — QEMU's softmmu test
   * with one constant and two operations fewer than masking both sides. guard() and secondPageGuard() use it.
   */
  private tlbTagWrong(tag: Expr, addressOrNeed: Expr, need: number): Expr {
    return this.m.i32.and(this.m.i32.xor(tag, addressOrNeed), this.c(~0xfff | need));
  }
  /**
   * Nonzero when a store of `size` bytes at physical `at` touches a 64-byte chunk with a code-map byte set.
   * The code map is exact (and carries the dirty log's arming), so it alone decides here (one load per
   * chunk touched): testing the page flags first, as the interpreter does, measured a few per cent slower.
   */
  private codeTouched(at: number, size: number): Expr {
    const m = this.m;
    const chunk = (a: Expr): Expr => m.i32.load8_u(codeMapOffset(this.ramSize), 1, m.i32.shr_u(a, this.c(CODE_CHUNK_SHIFT)));
    return size === 1 ? chunk(this.get(at)) : m.i32.or(chunk(this.get(at)), chunk(m.i32.add(this.get(at), this.c(size - 1))));
  }
  load(size: number, at: number, signed = false): Expr {
    const m = this.m, p = this.get(at);
    if (size === 4) return m.i32.load(RAM_OFFSET, 1, p);
    if (size === 2) return signed ? m.i32.load16_s(RAM_OFFSET, 1, p) : m.i32.load16_u(RAM_OFFSET, 1, p);
    return signed ? m.i32.load8_s(RAM_OFFSET, 1, p) : m.i32.load8_u(RAM_OFFSET, 1, p);
  }
  store(size: number, at: number, v: Expr): Expr {
    const m = this.m, p = this.get(at);
    if (size === 4) return m.i32.store(RAM_OFFSET, 1, p, v);
    if (size === 2) return m.i32.store16(RAM_OFFSET, 1, p, v);
    return m.i32.store8(RAM_OFFSET, 1, p, v);
  }

  // ---- lazy flags ----
  /** Record a flag result: the same six slots flags.ts's setLazy / setLazyKeepCF write. */
  record(op: number, dst: Expr | null, src: Expr | null, res: Expr, size: number, mask: number, plainSub = false): void {
    // res first: it may read the previous record (ADC/SBB's carry-in). Slots that already hold the value
    // (the same op/size/mask constants, or the logic ops' zero operands, written earlier in this segment)
    // are not written again: fewer expressions to build, same state.
    const held = this.held;
    this.emit(this.set(LF.res, res));
    // A record nothing observes (flag-liveness.ts): only the result, which emitters read from LF.res. The
    // other slots and what is known/held about them stay as they were.
    if (this.recordDead) return;
    if (dst !== null) this.emit(this.set(LF.dst, dst), this.set(LF.src, src!));
    else if (!(held !== null && held.op === OP_LOGIC)) this.emit(this.set(LF.dst, this.c(0)), this.set(LF.src, this.c(0)));
    if (held === null || held.op !== op) this.emit(this.set(LF.op, this.c(op)));
    if (held === null || held.size !== size) this.emit(this.set(LF.size, this.c(size)));
    if (held === null || held.mask !== mask) this.emit(this.set(LF.mask, this.c(mask)));
    this.known = { op, size, mask, plainSub };
    this.held = { op, size, mask };
  }
  /**
   * record(), for an emitter that then uses the result once: the expression to use. A record nothing
   * observes (flag-liveness.ts) writes nothing at all — the result goes straight to its destination, and the
   * record locals keep the previous record whole (its flags are dead too: this instruction overwrites them).
   * For an ALU op on registers that is two local.sets fewer (LF.res, then the register from it); for CMP or
   * TEST, no code.
   */
  recordResult(op: number, dst: Expr | null, src: Expr | null, res: Expr, size: number, mask: number, plainSub = false): Expr {
    if (this.recordDead) return res;
    this.record(op, dst, src, res, size, mask, plainSub);
    return this.get(LF.res);
  }
  /**
   * The op/size/mask constants the record locals are known to hold (written by record() earlier in this
   * segment; null after anything that writes them otherwise). Emitters that write LF.op/size/mask or the
   * operands directly must set it to null (or to what they wrote).
   */
  held: { op: number; size: number; mask: number } | null = null;
  /** Condition cc on the current record, inline when the writer is known. */
  condition(cc: number): Expr {
    return this.known !== null ? this.flags.condition(this.known, cc) : this.flags.dynamicCondition(cc);
  }
  /** CF of the current record (0/1). */
  carry(): Expr { return this.known !== null ? this.flags.cf(this.known) : this.flags.dynamicCF(); }
}

/** A straight run of the region's instructions with one entry (its first) and exits anywhere. */
interface Segment { start: number; ops: RegionOp[] }

/** An int32's sign bit: flipped, signed order becomes the unsigned order of EIPs. */
const SIGN = -0x80000000;

/**
 * Cut the region's blocks into segments: decoded superblocks overlap (a block starting at a branch target
 * inside another repeats its tail), so every instruction is taken once, and a segment starts at each
 * block start and each in-region branch target.
 */
function segmentsOf(blocks: RegionBlock[]): { segments: Segment[]; lastOfBlock: Set<RegionOp>; instructions: number } {
  const byEip = new Map<number, RegionOp>();
  const lastOfBlock = new Set<RegionOp>();
  const entries = new Set<number>();
  // A block that starts inside another block at an instruction no branch leads to was decoded because a
  // run stopped there (a budget or a memory exit): not an entry, or it would cut a loop into pieces.
  const interior = new Set<number>();
  for (const b of blocks) for (let j = 1; j < b.ops.length; j++) interior.add(b.ops[j].eip | 0);
  const blockStarts = new Set(blocks.map((b) => b.start | 0));
  for (const b of blocks) {
    if (!interior.has(b.start | 0)) entries.add(b.start | 0);
    const ops = b.ops;
    for (let j = 0; j < ops.length; j++) {
      let o = byEip.get(ops[j].eip | 0);
      if (o === undefined) byEip.set(ops[j].eip | 0, (o = ops[j]));
      if (j === ops.length - 1) lastOfBlock.add(o);
    }
  }
  for (const op of byEip.values()) {
    const target = directTarget(op);
    if (target !== null && byEip.has(target)) entries.add(target);
  }
  // In unsigned order: sorted as signed with the sign bit flipped (a typed array's own sort, no comparator
  // calls: the sort with one was the costliest line of this function in a Linux boot's profile).
  const eips = new Int32Array(byEip.size);
  let n = 0;
  for (const e of byEip.keys()) eips[n++] = e ^ SIGN;
  eips.sort();
  const segments: Segment[] = [];
  let cur: Segment | null = null, prev: RegionOp | null = null;
  for (let k = 0; k < eips.length; k++) {
    const eip = eips[k] ^ SIGN, op = byEip.get(eip)!;
    const cont = cur !== null && prev !== null && (prev.next | 0) === eip && !entries.has(eip) && fallsThrough(prev.ins) && !endsBlock(prev.ins) && !lastOfBlock.has(prev);
    if (!cont) segments.push((cur = { start: eip, ops: [] }));
    cur!.ops.push(op);
    prev = op;
  }
  // An interior block start can still be reached by a computed jump (a bytecode handler after a Jcc, a
  // resumed run): it gets its own copy of the rest of its segment as an entry, and the segment itself
  // stays whole (so a loop through that point is still one segment).
  const starts = new Set(segments.map((g) => g.start));
  for (const g of [...segments]) {
    g.ops.forEach((op, k) => {
      const e = op.eip | 0;
      if (k > 0 && interior.has(e) && blockStarts.has(e) && !starts.has(e)) { segments.push({ start: e, ops: g.ops.slice(k) }); starts.add(e); }
    });
  }
  segments.sort((x, y) => (x.start >>> 0) - (y.start >>> 0));
  // (byEip holds each instruction once: the region's count of distinct instructions.)
  return { segments, lastOfBlock, instructions: byEip.size };
}

/** Where `op` is in `blocks`: [block index, index in the block]. (Only helper calls need it: found when asked.) */
function positionOf(blocks: RegionBlock[], op: RegionOp): [number, number] {
  for (let bi = 0; bi < blocks.length; bi++) {
    const j = blocks[bi].ops.indexOf(op);
    if (j >= 0) return [bi, j];
  }
  throw new Error('jit: a segment instruction is in none of the region blocks');
}

/** Translate a region into `m` as the exported function `name`. */
export function translateRegion(bn: WasmBackend, m: Module, input: RegionInput, name: string): RegionOutput {
  const i32 = bn.i32;
  const { segments: blocks, lastOfBlock, instructions } = segmentsOf(input.blocks);
  const targets = new Map<number, number>();
  blocks.forEach((b, i) => targets.set(b.start | 0, i));
  const tx = new Tx(bn, m, input.ramSize, targets, input.paging);
  // The straddling instructions' second frames, by EIP. Each is a segment of its own (its block's only
  // instruction, after a block that ends before it), so its guard is at a segment start: every flag is live.
  const secondFrame = new Map<number, number>();
  for (const b of input.blocks) if (b.phys2 !== undefined && b.phys2 >= 0) secondFrame.set(b.ops[0].eip | 0, b.phys2);
  tx.exitBase = blocks[0].start & ~(PAGE_SIZE - 1);
  const c = (v: number): Expr => m.i32.const(v | 0);
  const get = (l: number): Expr => m.local.get(l, i32);
  const set = (l: number, v: Expr): Expr => m.local.set(l, v);
  const helperAt: [number, number][] = [];
  const helperLast: boolean[] = [];
  const helperIndex: number[] = [];
  let native = 0, fallback = 0;

  const regSlots: [number, number][] = [];
  for (let r = 0; r < 8; r++) regSlots.push([REG0 + r, r]);
  const recordSlots: [number, number][] = [[LF.op, LAZY_OP], [LF.dst, LAZY_DST], [LF.src, LAZY_SRC], [LF.res, LAZY_RES], [LF.size, LAZY_SIZE], [LF.mask, LAZY_MASK], [LF.efl, EFLAGS]];
  const allSlots = [...regSlots, ...recordSlots];
  const loadAll = (): Expr[] => allSlots.map(([l, s]) => set(l, m.i32.load(slot(s), 4, c(0))));
  const storeAll = (): Expr[] => allSlots.map(([l, s]) => m.i32.store(slot(s), 4, c(0), get(l)));

  /** The instruction through the interpreter's closure: state written back, helper called, state reloaded. */
  const viaHelper = (op: RegionOp, index: number, last: boolean): void => {
    const idx = input.helperBase + helperAt.length;
    const at = positionOf(input.blocks, op);
    helperAt.push(at);
    helperLast.push(endsBlock(op.ins) || lastOfBlock.has(op));
    helperIndex.push(at[1]);
    fallback++;
    // The helper is told how many instructions retired before this one (the closure's RDTSC and time need it).
    tx.emit(...storeAll(), set(HRES, m.call('helper', [c(idx), m.i32.add(get(COUNT), c(index)), get(BS_COUNT), get(BS_EIP)], i32)), ...loadAll());
    tx.known = null;
    tx.held = null;
    tx.emit(m.if(get(HRES), m.block(null, [
      // Fault: not retired; EIP is on the instruction (the helper set it).
      tx.exitIf(m.i32.and(get(HRES), c(HELPER_FAULT)), op.eip, index, EXIT_FAULT),
      // An interrupt became pending inside an interpreter block: the run loop finishes that block first.
      tx.exitIf(m.i32.and(get(HRES), c(HELPER_IRQ)), op.next, index + 1, EXIT_INTERRUPT),
      m.if(m.i32.and(get(HRES), c(HELPER_EXIT)), tx.exitTo(m.i32.load(slot(EIP), 4, c(0)), index + 1, EXIT_HELPER_BREAK, true)),
      m.if(m.i32.and(get(HRES), c(HELPER_JUMP)), tx.gotoDynamic(m.i32.load(slot(EIP), 4, c(0)), index + 1)),
    ])));
    if (last) tx.emit(tx.goto(op.next, index + 1, endsBlock(op.ins) || lastOfBlock.has(op)));
  };

  /** Translate segment b (index bi) into a fresh body, starting from what is known about the flags. */
  const liveness: SegmentLiveness[] = [];
  const translateSegment = (b: Segment, bi: number, known: KnownFlags | null, held: Tx['held'], selfLabel: string, useLiveness = true): Expr[] => {
    // (A peeled loop's segment is translated twice: its liveness is computed once.)
    const live = useLiveness ? (liveness[bi] ??= segmentLiveness(b.ops.map((o) => o.ins))) : null;
    const helpers0 = helperAt.length, native0 = native, fallback0 = fallback;
    tx.body = [];
    tx.known = known;
    tx.held = held;
    tx.selfLoop = false;
    tx.selfLabel = selfLabel;
    tx.selfStates = [];
    const n = b.ops.length;
    tx.segmentLength = n;
    if (input.segmentCounters !== undefined && bi < SEGMENT_PROFILE_COUNTERS) {
      const at = input.segmentCounters + 4 * bi;
      tx.emit(m.i32.store(0, 4, c(at), m.i32.add(m.i32.load(0, 4, c(at)), c(1))));
    }
    // The budget before each segment: count + its length ≤ budget, else the run loop takes over here.
    tx.emit(tx.exitIf(m.i32.gt_s(m.i32.add(get(COUNT), c(n)), get(BUDGET)), b.start, 0, EXIT_BUDGET));
    for (let j = 0; j < n; j++) {
      const op = b.ops[j];
      tx.op = op; tx.index = j; tx.terminated = false;
      tx.endsInterpreterBlock = lastOfBlock.has(op) || endsBlock(op.ins);
      const last = j === n - 1;
      const nat = NATIVE[op.ins.op];
      // For a native form with a rare case of its own: this instruction through the helper, as code.
      tx.helperCode = (): Expr[] => {
        const saved = tx.body;
        tx.body = [];
        viaHelper(op, j, false);
        const code = tx.body;
        tx.body = saved;
        return code;
      };
      const frame = secondFrame.get(op.eip | 0);
      if (frame !== undefined) tx.secondPageGuard(frame);
      const mark = tx.body.length, knownBefore: KnownFlags | null = tx.known, heldBefore: Tx['held'] = tx.held;
      tx.recordDead = live !== null && live.recordDead[j];
      tx.carryDead = live !== null && live.carryDead[j];
      if (nat !== undefined && nat(tx, op.ins, last)) native++;
      else if (live !== null && live.exitFree[j]) {
        // Liveness assumed this instruction never leaves compiled code: it does (a helper call), so records
        // skipped before it might be observed. Translate the segment again without liveness.
        tx.recordDead = tx.carryDead = false;
        helperAt.length = helperLast.length = helperIndex.length = helpers0;
        native = native0; fallback = fallback0;
        return translateSegment(b, bi, known, held, selfLabel, false);
      } else {
        tx.body.length = mark; tx.known = knownBefore; tx.held = heldBefore;
        viaHelper(op, j, last);
        if (last) tx.terminated = true;
      }
      if (last && !tx.terminated) tx.emit(tx.goto(op.next, n, tx.endsInterpreterBlock)); // falls through into the next segment, or leaves
    }
    tx.recordDead = tx.carryDead = false;
    return tx.body;
  };

  // Where each segment's code goes (layout.ts): in address order, with loops when asked for (from each
  // segment's direct backward branches; a call is no loop).
  const backTargets = (): number[][] => blocks.map((b, j) => b.ops.flatMap((op) => {
    const t = directTarget(op);
    const k = t === null || metaOf(op.ins).branch === 'call' ? undefined : targets.get(t);
    return k !== undefined && k < j ? [k] : [];
  }));
  const top = layoutRegion(blocks.length, input.loops === true ? chooseLoops(blocks.map((b) => b.ops.length), backTargets()) : []);

  /** Segment bi's code at `path` (its branches routed from there). */
  const segmentCode = (bi: number, path: Place[]): Expr[] => {
    const b = blocks[bi];
    tx.route = (t) => routeOf(path, bi, t);
    // The first trip: its branches back to the segment's start take label peel.
    const peel = tx.label('peel');
    const first = translateSegment(b, bi, null, null, peel);
    if (!tx.selfLoop) return first;
    // A loop within one segment. Every trip after the first starts with the flags its own end left, so
    // the loop is peeled: the first trip (flags unknown) runs once and branches into a WASM loop compiled
    // with that knowledge (a loop that begins with INC/DEC or reads the previous trip's CMP then needs no
    // $condN call) — when every back edge leaves the same knowledge; otherwise the first trip is the loop.
    const states = tx.selfStates, key = (st: { known: unknown; held: unknown }): string => JSON.stringify(st);
    const same = states[0].known !== null && states.every((st) => key(st) === key(states[0]));
    if (!same) return [m.loop(peel, m.block(null, first))];
    const self = tx.label('self');
    const loopBody = translateSegment(b, bi, states[0].known, states[0].held, self);
    if (!tx.selfStates.every((st) => key(st) === key(states[0]))) throw new Error('jit: a peeled loop does not reach a fixed point');
    // The first trip's back edges leave block $peel and so fall into the loop.
    return [m.block(peel, first), m.loop(self, m.block(null, loopBody))];
  };

  // The nested blocks are built empty and filled with appendChild: creating a named block over its
  // children makes binaryen scan the whole subtree for branches to it (its code ends in a branch), which is
  // quadratic in the segment count here. Their type is none, as given.
  const blockApi = (bn as unknown as BlockApi).Block;
  const namedBlock = (name: string, children: Expr[]): Expr => {
    const b = m.block(name, [], bn.none);
    for (const e of children) blockApi.appendChild(b, e);
    return b;
  };
  /** A chain's code: each item after the end of its own block, `head` innermost. */
  const chainCode = (c: Chain, path: Place[], head: Expr[]): Expr => {
    let inner = namedBlock(c.items[0].label, head);
    for (let i = 0; ; i++) {
      const it = c.items[i], at = [...path, { chain: c, pos: i }];
      const code = it.kind === 'segment' ? segmentCode(it.seg, at) : [m.loop(it.loopLabel, chainCode(it.body, at, []))];
      if (i === c.items.length - 1) return m.block(null, [inner, ...code]);
      inner = namedBlock(c.items[i + 1].label, [inner, ...code]);
    }
  };
  // Dispatcher, to each segment's entry in the top-level chain (segment starts only; anything else leaves
  // the region): a binary search over the segment starts, at both tiers. A br_table over pc - base has an
  // entry per byte of the span (~1,800 on average in a Linux boot: 7 % of tier 1's WASM, which Liftoff
  // compiles byte for byte); at tier 2 TurboFan made it a jump table, but building that graph (a merge of
  // every local from each of those entries) was a quarter of its compile time in the boot's decompressor.
  // It compares pc - exitBase (in T0, free between instructions) with the starts' offsets: constants of 1-2
  // bytes instead of a kernel address's 5. (A pc below the base wraps above every offset: no match.)
  const labelOf = (i: number): string => top.items[top.entry.get(i)!].label;
  const offsetOf = (b: Segment): Expr => c(b.start - tx.exitBase);
  const search = (lo: number, hi: number): Expr => {
    if (hi - lo <= 3) return m.block(null, blocks.slice(lo, hi).map((b, k) => m.br(labelOf(lo + k), m.i32.eq(get(T0), offsetOf(b)))));
    const mid = (lo + hi) >>> 1;
    return m.if(m.i32.lt_u(get(T0), offsetOf(blocks[mid])), search(lo, mid), search(mid, hi));
  };
  const dispatch = m.block(null, [set(T0, m.i32.sub(get(PC), c(tx.exitBase))), search(0, blocks.length), m.br('out')]);
  const loopBody = chainCode(top, [], [set(REASON, c(EXIT_BRANCH)), dispatch]);
  // Chaining: control left for an EIP this region does not hold, with budget to spare: tail-call the
  // jump cache's `chain` (jump-cache.ts), which goes on in the region it names there for this mode (state is
  // in the state block, as the run loop would have it; the callee continues the count) or returns the count.
  const runType = bn.createType([i32, i32, i32]), mode = input.paging + 1;
  const chain = m.if(m.i32.and(m.i32.eq(get(REASON), c(EXIT_BRANCH)), m.i32.lt_s(get(COUNT), get(BUDGET))),
    m.return_call('chain', [get(PC), get(BUDGET), get(COUNT), c(mode)], i32));
  const counter = input.counter;
  // No helper call: nothing reads where interpreter blocks start (see Tx.blockStartMarks).
  const helpers = helperAt.length > 0;
  if (!helpers) for (const mark of tx.blockStartMarks) { blockApi.removeChildAt(mark, 1); blockApi.removeChildAt(mark, 0); }
  const fnBody = m.block(null, [
    ...loadAll(),
    ...(helpers ? [set(BS_EIP, get(PC)), set(BS_COUNT, get(COUNT))] : []),
    ...(counter === undefined ? [] : [set(ENTRY_COUNT, get(COUNT))]),
    m.block('out', [
      set(REASON, m.block('exit', [m.loop('dispatch', loopBody), m.br('out')], i32)),
      // A packed exit (EXIT_OFFSET_BITS), the value its branch carried: PC, the reason and the count.
      set(PC, m.i32.add(c(tx.exitBase), m.i32.and(get(REASON), c((1 << EXIT_OFFSET_BITS) - 1)))),
      set(COUNT, m.i32.add(get(COUNT), m.i32.shr_u(get(REASON), c(EXIT_RETIRED_SHIFT)))),
      set(REASON, m.i32.and(m.i32.shr_u(get(REASON), c(EXIT_OFFSET_BITS)), c((1 << (EXIT_RETIRED_SHIFT - EXIT_OFFSET_BITS)) - 1))),
    ]),
    ...storeAll(),
    m.i32.store(slot(EIP), 4, c(0), get(PC)),
    m.i32.store(slot(JIT_EXIT_SLOT), 4, c(0), get(REASON)),
    ...(counter === undefined ? [] : [
      m.i32.store(0, 4, c(counter), m.i32.add(m.i32.load(0, 4, c(counter)), m.i32.sub(get(COUNT), get(ENTRY_COUNT)))),
    ]),
    chain,
    get(COUNT),
  ], i32);
  const vars = new Array<number>(N_LOCALS - N_PARAMS).fill(i32);
  m.addFunction(name, runType, i32, vars, fnBody);
  // The helper only where a region calls it (most call none): an instance importing a JavaScript function
  // has V8 compile a call wrapper for it (~0.1 ms each, measured on 500 modules).
  if (helpers) m.addFunctionImport('helper', 'env', 'helper', fourI32(bn), i32);
  if (tx.flags.callsEflags) addEflagsFunction(bn, m);
  addConditionFunctions(bn, m, tx.flags);
  m.addFunctionExport(name, name);
  return {
    helperAt, helperLast, helperIndex, native, fallback, segments: blocks.length, entries: blocks.map((b) => b.start | 0),
    instructions,
    ...(input.segmentCounters === undefined ? {} : { segmentEips: blocks.map((b) => b.ops.map((o) => o.eip | 0)) }),
  };
}

/** The helper's and chain's parameters: (idx, count, bsCount, bsEip) and (pc, budget, count, mode). */
const fourI32 = (bn: WasmBackend): number => bn.createType([bn.i32, bn.i32, bn.i32, bn.i32]);

/**
 * Module-level pieces every region module needs: the memory and chain (jump-cache.ts) imports. (The helper
 * import is added by translateRegion, if the region calls it.)
 */
export function prepareModule(bn: WasmBackend, m: Module): void {
  m.setFeatures(bn.Features.MVP | bn.Features.BulkMemory | bn.Features.SignExt | bn.Features.TailCall);
  m.setMemory(1, 65536, null);
  m.addMemoryImport('0', 'env', 'memory');
  m.addFunctionImport('chain', 'env', 'chain', fourI32(bn), bn.i32);
}
