// Chaining: compiled regions transfer control to one another without returning to the run loop. Every live
// region's `run` sits in one WebAssembly.Table (all region modules import it), and the jump cache — a
// direct-mapped map EIP → (table slot, mode) in the VM's memory (state.ts) — tells compiled code which region
// has an entry at the EIP it is leaving for; it then tail-calls that region (`return_call_indirect`, so a
// chain of any length uses no stack), which continues the instruction count under the same budget.
//
// The cache is filled here and only read by compiled code, so it never names a dropped region: a region's
// entries are written when the run loop first enters it (per generation) and cleared when it is dropped.
// Entries of linear EIPs hold only while the page mappings do: a new cpu.mappingEpoch (CR3, INVLPG, CR0/CR4
// writes — each of which ends compiled code) starts a new generation with an empty cache.
import type { Cpu } from '../src/cpu/cpu.ts';
import { JIT_CHAINS_SLOT, JUMP_CACHE_ENTRIES, JUMP_CACHE_OFFSET, jumpCacheEntry } from '../src/cpu/state.ts';

/** What the jump cache needs of a region. */
export interface Chainable {
  readonly mode: number;
  /** The EIPs the region can be entered at (its segment starts). */
  readonly entries: readonly number[];
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
  private readonly free: number[] = [];
  private nextSlot = 1;
  private generation = 0;
  private epoch: number;

  /**
   * @param enabled false: regions get table slots but no cache entries, so nothing chains (profiling, where
   *   each region's own time and exits are measured per call from the run loop).
   */
  constructor(private readonly cpu: Cpu, memory: WebAssembly.Memory, private readonly enabled: boolean) {
    this.table = new WebAssembly.Table({ initial: 64, element: 'anyfunc' });
    this.words = new Int32Array(memory.buffer, JUMP_CACHE_OFFSET, JUMP_CACHE_ENTRIES * 2);
    this.words.fill(0);
    this.epoch = cpu.mappingEpoch;
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

  /** Before the run loop enters `region`: make sure the cache names it at its entries (once per generation). */
  prepare(region: Chainable): void {
    if (this.cpu.mappingEpoch !== this.epoch) { this.epoch = this.cpu.mappingEpoch; this.clear(); }
    if (!this.enabled || region.generation === this.generation) return;
    region.generation = this.generation;
    const w = this.words, value = (region.slot << 2) | region.mode;
    for (const eip of region.entries) {
      const at = wordOf(eip);
      w[at] = eip; w[at + 1] = value;
    }
  }

  /** A region is dropped: remove what names it, free its slot. */
  detach(region: Chainable): void {
    if (region.slot === 0) return;
    if (region.generation === this.generation) {
      const w = this.words, value = (region.slot << 2) | region.mode;
      for (const eip of region.entries) {
        const at = wordOf(eip);
        if (w[at] === eip && w[at + 1] === value) { w[at] = 0; w[at + 1] = 0; }
      }
    }
    this.table.set(region.slot, null);
    this.free.push(region.slot);
    region.slot = 0;
  }

  /** Forget every entry (a new generation: regions write theirs again when next entered). */
  clear(): void {
    this.words.fill(0);
    this.generation++;
  }
}
