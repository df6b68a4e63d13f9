// Chaining: compiled regions transfer control to one another without returning to the run loop. Every live
// region's `run` sits in one WebAssembly.Table (all region modules import it), and the jump cache — a
// direct-mapped map EIP → (table slot, mode) in the VM's memory (state.ts) — tells compiled code which region
// has an entry at the EIP it is leaving for; it then tail-calls that region (`return_call_indirect`, so a
// chain of any length uses no stack), which continues the instruction count under the same budget.
//
// The table and the lookup live in one small module of their own (chainModule): region modules import its
// `chain` function and tail-call it when they leave, and the run loop enters every region through its
// `enter`. So only that one instance imports the table — V8 makes instantiating a module that imports a
// table, and every table.set, cost time in proportion to the table's size and to the instances importing
// it (measured: 0.04 ms per instance with an empty table, 0.5 ms with 2,048 entries, 19 ms with 8,192) —
// and JavaScript calls one export, whose call wrapper V8 optimises once, not one per region.
//
// The cache is filled here and only read by compiled code, so it never names a dropped region: a region's
// entries are written when the run loop first enters it (per generation) and cleared when it is dropped.
// Entries of linear EIPs hold only while the page mappings do: a region the run loop enters marks its code's
// pages as relied on (cpu.reliesOnMapping), and a new cpu.mappingEpoch (CR3, CR0/CR4 writes, an INVLPG of a
// marked page — each of which ends compiled code) starts a new generation with an empty cache — except that
// a CR3 write, which keeps global pages (CR4.PGE), keeps the entries written for regions whose code the TLB
// mapped with global entries (a kernel's): a global mapping changes only with an INVLPG of its page or a
// CR4 write, each a full new epoch. (In a Linux boot, 140 k returns to the run loop were to regions whose
// entries a context switch had emptied.)
import type { Cpu } from '../src/cpu/cpu.ts';
import { JIT_CHAINS_SLOT, JUMP_CACHE_ENTRIES, JUMP_CACHE_OFFSET, jumpCacheEntry, STATE_OFFSET } from '../src/cpu/state.ts';
import type { WasmBackend } from './wasm-backend.ts';
import { wasmEncoder } from './wasm-encoder.ts';

/** A region's `run(pc, budget, count)`, and what the run loop calls: `enter(slot, pc, budget, count)`. */
type EnterFn = (slot: number, pc: number, budget: number, count: number) => number;

/**
 * The chaining module: `enter(slot, pc, budget, count)` tail-calls the region in table slot `slot`;
 * `chain(pc, budget, count, mode)` — what a region tail-calls when control leaves it for `pc` with budget
 * to spare, its state written back — tail-calls the region the jump cache names at `pc` if it was compiled
 * for `mode`, else returns `count` (to the run loop).
 */
export function chainModule(bn: WasmBackend = wasmEncoder): Uint8Array {
  const m = new bn.Module();
  try {
    const i32 = bn.i32, c = (v: number): number => m.i32.const(v | 0), get = (l: number): number => m.local.get(l, i32);
    m.setFeatures(bn.Features.MVP | bn.Features.TailCall);
    m.setMemory(1, 65536, null);
    m.addMemoryImport('0', 'env', 'memory');
    m.addTable('0', 0, 0xffffffff);
    m.addTableImport('0', 'env', 'table');
    const runType = bn.createType([i32, i32, i32]), four = bn.createType([i32, i32, i32, i32]);
    m.addFunction('enter', four, i32, [], m.return_call_indirect('0', get(0), [get(1), get(2), get(3)], runType, i32));
    // chain: locals pc 0, budget 1, count 2, mode 3; the pair's byte offset 4, its slot word 5.
    const PC = 0, BUDGET = 1, COUNT = 2, MODE = 3, AT = 4, VALUE = 5;
    const chainsSlot = STATE_OFFSET + 4 * JIT_CHAINS_SLOT;
    const index = m.i32.shl(m.i32.and(m.i32.xor(get(PC), m.i32.shr_u(get(PC), c(12))), c(JUMP_CACHE_ENTRIES - 1)), c(3));
    m.addFunction('chain', four, i32, [i32, i32], m.block(null, [
      m.local.set(AT, index),
      m.if(m.i32.eq(m.i32.load(JUMP_CACHE_OFFSET, 4, get(AT)), get(PC)), m.block(null, [
        m.local.set(VALUE, m.i32.load(JUMP_CACHE_OFFSET + 4, 4, get(AT))),
        m.if(m.i32.eq(m.i32.and(get(VALUE), c(3)), get(MODE)), m.block(null, [
          m.i32.store(0, 4, c(chainsSlot), m.i32.add(m.i32.load(0, 4, c(chainsSlot)), c(1))),
          m.return_call_indirect('0', m.i32.shr_u(get(VALUE), c(2)), [get(PC), get(BUDGET), get(COUNT)], runType, i32),
        ])),
      ])),
      get(COUNT),
    ], i32));
    m.addFunctionExport('enter', 'enter');
    m.addFunctionExport('chain', 'chain');
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}

let chainModuleCache: WebAssembly.Module | null = null;

/** What the jump cache needs of a region. */
export interface Chainable {
  readonly mode: number;
  /** The EIPs the region can be entered at (its segment starts). */
  readonly entries: readonly number[];
  /** The linear addresses its code was translated from: [start, end). */
  readonly start: number;
  readonly end: number;
  /** Its table slot (0: none) and the generation its entries were written in. */
  slot: number;
  generation: number;
}

/** Index in the cache's i32 view of the pair for `eip` (its EIP word; the slot word follows). */
const wordOf = (eip: number): number => (jumpCacheEntry(eip) - JUMP_CACHE_OFFSET) >> 2;

export class JumpCache {
  /** Every live region's `run` by slot; slot 0 stays empty (an empty cache pair holds 0). */
  readonly table: WebAssembly.Table;
  private readonly words: Int32Array;
  /** The chaining module's exports: the run loop's way into a region, and what regions import as `chain`. */
  readonly enter: EnterFn;
  readonly chain: Function;
  private readonly free: number[] = [];
  /**
   * The words written since the last clear, the first `writtenCount` of them (a clear zeroes only those: a
   * kernel changes mappings ~10^5 times). A typed array, not a fresh JS array per generation: those arrays
   * were 200 MB of the boot's 1.9 GB of garbage (an allocation profile of the Linux boot).
   */
  private readonly written = new Int32Array(JUMP_CACHE_ENTRIES);
  private writtenCount = 0;
  /** The same for entries of regions whose code is not in global pages, and those regions. */
  private readonly writtenLocal = new Int32Array(JUMP_CACHE_ENTRIES);
  private writtenLocalCount = 0;
  private localRegions: Chainable[] = [];
  private nextSlot = 1;
  private generation = 0;
  private epoch: number;
  private globalEpoch: number;

  /**
   * @param enabled false: regions get table slots but no cache entries, so nothing chains (profiling, where
   *   each region's own time and exits are measured per call from the run loop).
   */
  constructor(private readonly cpu: Cpu, memory: WebAssembly.Memory, private readonly enabled: boolean) {
    this.table = new WebAssembly.Table({ initial: 64, element: 'anyfunc' });
    this.words = new Int32Array(memory.buffer, JUMP_CACHE_OFFSET, JUMP_CACHE_ENTRIES * 2);
    this.words.fill(0);
    this.epoch = cpu.mappingEpoch;
    this.globalEpoch = cpu.globalMappingEpoch;
    chainModuleCache ??= new WebAssembly.Module(chainModule() as Uint8Array<ArrayBuffer>);
    const inst = new WebAssembly.Instance(chainModuleCache, { env: { memory, table: this.table } });
    this.enter = inst.exports.enter as EnterFn;
    this.chain = inst.exports.chain as Function;
  }

  /** Regions chained into by compiled code so far (the counter compiled code keeps in the state block). */
  get chains(): number { return this.cpu.s[JIT_CHAINS_SLOT] >>> 0; }

  /** Give a new region a table slot holding its `run`. */
  attach(region: Chainable, run: Function): void {
    const slot = this.free.pop() ?? this.nextSlot++;
    if (slot >= this.table.length) this.table.grow(Math.max(64, this.table.length));
    this.table.set(slot, run);
    region.slot = slot;
    region.generation = -1;
  }

  /**
   * Before the run loop enters `region` at `pc`: make sure the cache names it at its entries (all of them
   * once per generation), and at `pc` again if another region's entry has taken that pair since — the cache
   * is direct-mapped, and an entry lost to a collision would otherwise send every transfer to `pc` back
   * through the run loop for the rest of the generation (measured in a Linux boot: 2.0 M such returns, 0.9 M
   * with the rewrite).
   */
  prepare(region: Chainable, pc: number): void {
    const cpu = this.cpu;
    if (cpu.mappingEpoch !== this.epoch) {
      const keepGlobal = cpu.globalMappingEpoch === this.globalEpoch;
      this.epoch = cpu.mappingEpoch;
      this.globalEpoch = cpu.globalMappingEpoch;
      if (keepGlobal) this.clearLocal(); else this.clear();
    }
    // The region about to run relies on its code's mappings (an INVLPG of one of its pages must end it),
    // as do its entries in the cache.
    cpu.reliesOnMapping(region.start, region.end);
    if (!this.enabled) return;
    const value = (region.slot << 2) | region.mode;
    if (region.generation !== this.generation) {
      region.generation = this.generation;
      const global = this.inGlobalPages(region);
      if (!global) this.localRegions.push(region);
      for (const eip of region.entries) this.write(eip, value, global);
      return;
    }
    const w = this.words, at = wordOf(pc);
    // (Only a real entry: chaining to any other EIP would find no segment there and leave at once.)
    if ((w[at] !== pc || w[at + 1] !== value) && region.entries.includes(pc)) this.write(pc, value, this.inGlobalPages(region));
  }

  /** Is the region's code in pages the TLB maps with global entries? (The run loop has just looked up its block: the TLB holds that page.) */
  private inGlobalPages(region: Chainable): boolean {
    return this.cpu.isGlobalMapping(region.start) && this.cpu.isGlobalMapping(region.end - 1);
  }

  private write(eip: number, value: number, global: boolean): void {
    const at = wordOf(eip);
    this.words[at] = eip; this.words[at + 1] = value;
    // (Past the list's length, a clear fills the whole cache.)
    if (global) {
      if (this.writtenCount < JUMP_CACHE_ENTRIES) this.written[this.writtenCount] = at;
      this.writtenCount++;
    } else {
      if (this.writtenLocalCount < JUMP_CACHE_ENTRIES) this.writtenLocal[this.writtenLocalCount] = at;
      this.writtenLocalCount++;
    }
  }

  /** A region is dropped: remove what names it, free its slot. */
  detach(region: Chainable): void {
    if (region.slot === 0) return;
    // (Whatever its generation: after clearLocal, a region may have entries left from before it.)
    const w = this.words, value = (region.slot << 2) | region.mode;
    for (const eip of region.entries) {
      const at = wordOf(eip);
      if (w[at] === eip && w[at + 1] === value) { w[at] = 0; w[at + 1] = 0; }
    }
    this.table.set(region.slot, null);
    this.free.push(region.slot);
    region.slot = 0;
  }

  /** After a CR3 write that kept global pages: forget the entries of regions not in global pages. */
  private clearLocal(): void {
    const w = this.words, n = this.writtenLocalCount;
    if (n > JUMP_CACHE_ENTRIES) { this.clear(); return; }
    for (let i = 0; i < n; i++) { const at = this.writtenLocal[i]; w[at] = 0; w[at + 1] = 0; }
    this.writtenLocalCount = 0;
    // They write theirs again when next entered.
    for (const r of this.localRegions) r.generation = -1;
    this.localRegions = [];
  }

  /** Forget every entry (a new generation: regions write theirs again when next entered). */
  clear(): void {
    const w = this.words, n = this.writtenCount + this.writtenLocalCount;
    if (n > JUMP_CACHE_ENTRIES) w.fill(0);
    else {
      for (let i = 0; i < this.writtenCount; i++) { const at = this.written[i]; w[at] = 0; w[at + 1] = 0; }
      for (let i = 0; i < this.writtenLocalCount; i++) { const at = this.writtenLocal[i]; w[at] = 0; w[at + 1] = 0; }
    }
    this.writtenCount = 0;
    this.writtenLocalCount = 0;
    this.localRegions = [];
    this.generation++;
  }
}
