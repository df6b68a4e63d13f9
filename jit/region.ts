// Regions: the hot decoded blocks of one span of guest-physical code (a page; with paging off, four),
// translated for one mode (jitMode) into one WASM function, and the table of a JIT's regions — keyed by
// span and mode, the live count bounded, a region of the same key replaced by a bigger retranslation,
// dropped when guest code changes.
import type { JitStats, RegionProfile } from '../src/cpu/accelerator-stats.ts';
import type { CompiledUnit } from '../src/cpu/accelerator.ts';
import type { Block } from '../src/cpu/code-cache.ts';
import type { Chainable, JumpCache } from './jump-cache.ts';
import { PAGE_SHIFT } from '../src/cpu/state.ts';

/** Live regions before everything is flushed (V8 crashes near 60k live modules: stay far below). */
export const MAX_LIVE_REGIONS = 2048;
/** Regions the profile remembers; past it, the invalidated ones are forgotten (they hold their decoded blocks). */
const MAX_PROFILED_REGIONS = 4 * MAX_LIVE_REGIONS;

/** A region's `run(pc, budget, count)`: `count` plus the instructions it (and what it chained into) retired. */
export type RegionFn = (pc: number, budget: number, count: number) => number;
/** What a dropped region runs if anything still calls it: nothing (0 instructions, the interpreter goes on). */
const DEAD_REGION: RegionFn = () => 0;

/**
 * The guest-physical code one region is made of, its span: with paging (modes 2, 3), a 4 KiB page, as the
 * linear mappings its branches rely on hold page by page; with paging off (mode 1), 16 KiB, so that a hot
 * loop across a page boundary runs in one region instead of transferring between two at every iteration
 * (the BCJ filter of a Linux kernel's decompressor: 30 M transfers for 15 MB of kernel). Blocks still end
 * at page boundaries (code-cache.ts); a span only groups them.
 */
export const FLAT_SPAN_SHIFT = 14;
export const spanShift = (mode: number): number => (mode === 1 ? FLAT_SPAN_SHIFT : PAGE_SHIFT);
/** The span of physical address `phys` in `mode`. */
export const spanOf = (phys: number, mode: number): number => phys >>> spanShift(mode);

/** How regions are looked up: a span may have one region per mode (1..3). */
export const regionKey = (span: number, mode: number): number => span * 4 + mode;
/**
 * The key of a span's hot part: a region too big for tier 2 is split into its hot segments' blocks (tier 2,
 * under this key) and the rest (tier 1, under regionKey), both live (jit.ts splitHot).
 */
export const hotPartKey = (key: number): number => -key - 1;

/** Extensions a span's tier-1 region may have before its next retranslation takes them all in (jit.ts extend). */
export const MAX_EXTENSIONS = 8;
/**
 * The key of a span's extension `n` (0 ≤ n < MAX_EXTENSIONS): a module of the blocks that turned hot after
 * the span's region was translated, live beside it (jit.ts extend). Above every regionKey (< 2^22 + 4).
 */
export const extensionKey = (key: number, n: number): number => key + (n + 1) * 2 ** 23;

/** RegionInput.paging for a mode. */
export const pagingOf = (mode: number): number => (mode === 1 ? 0 : mode === 2 ? 1 : 2);

/** One translated region: the compiled function and what the profiler reports about it. */
export class Region implements CompiledUnit, Chainable {
  valid = true;
  /** Its slot in the jump cache's table and the generation its entries were written in (jump-cache.ts). */
  slot = 0;
  generation = -1;
  /** Hot blocks of the span seen since translation that the region does not contain, and how often they asked. */
  readonly missing = new Map<Block, number>();
  /** Blocks decoded since translation that start at one of its entries and run it (RegionTable.attach). */
  readonly attached: Block[] = [];
  /** EIPs of the instructions the region translated (made when first asked for: most regions never are). */
  private coversSet: Set<number> | null = null;
  get covers(): Set<number> {
    if (this.coversSet === null) {
      this.coversSet = new Set();
      for (const b of this.blocks) for (const op of b.ops) this.coversSet.add(op.eip | 0);
    }
    return this.coversSet;
  }
  /** Tier 1: its instruction counter's index (state.ts regionCounter); -1 at tier 2. */
  counter = -1;
  /** Its counter passed the tier-2 threshold: a tier-2 translation was asked for, or it is too big for one (Jit.scanCounters). */
  promoted = false;
  /** profile.executions when a full code cache last ranked the regions (Jit.shed). */
  executionsAtShed = 0;
  /** Its span's whole code, one part of a span split in two (hotPartKey), or an extension (extensionKey). */
  part: 'whole' | 'hot' | 'cold' | 'extension' = 'whole';
  /** A profiled tier-1 region: its slot of segment counters (state.ts SEGMENT_PROFILE_OFFSET) and its segments' EIPs. */
  segmentProfile: { slot: number; segmentEips: number[][] } | null = null;
  /** `span`: spanOf its code; `key`: regionKey(span, mode), or hotPartKey or extensionKey of that. */
  constructor(public fn: RegionFn, readonly span: number, readonly mode: number, readonly key: number, readonly blocks: Block[], readonly entries: readonly number[], readonly profile: RegionProfile) {}
  /** regionKey(span, mode), whichever part of its span it is. */
  get spanKey(): number { return regionKey(this.span, this.mode); }
  get start(): number { return this.profile.start; }
  get end(): number { return this.profile.end; }
  /** Its blocks (own and attached) stop naming it as their compiled code. */
  release(): void {
    for (const b of this.blocks) if (b.compiled === this) b.compiled = undefined;
    for (const b of this.attached) if (b.compiled === this) b.compiled = undefined;
    this.attached.length = 0;
  }
  /** Drop the region: its function (and so its WASM instance) is released for V8 to collect. */
  invalidate(): void {
    this.valid = false;
    this.profile.invalidated = true;
    this.fn = DEAD_REGION;
    this.missing.clear();
    this.coversSet = null;
  }
}

/** A JIT's regions: the live one per key, and every one installed (for the profile). */
export class RegionTable {
  /** Every region installed, less invalidated ones once there are MAX_PROFILED_REGIONS. */
  all: Region[] = [];
  private readonly byKey = new Map<number, Region>();

  constructor(private readonly stats: JitStats, private readonly jumps: JumpCache) {}

  get(key: number): Region | undefined { return this.byKey.get(key); }
  /** The region of key `key` if it is still valid. */
  valid(key: number): Region | undefined {
    const r = this.byKey.get(key);
    return r !== undefined && r.valid ? r : undefined;
  }
  /** The live regions of span key `key`: its region, its hot part if it was split, its extensions. */
  parts(key: number): Region[] {
    const whole = this.valid(key), hot = this.valid(hotPartKey(key));
    return [whole, hot, ...this.extensions(key)].filter((r): r is Region => r !== undefined);
  }

  /** The live extensions of span key `key`. */
  extensions(key: number): Region[] {
    const out: Region[] = [];
    for (let n = 0; n < MAX_EXTENSIONS; n++) {
      const e = this.valid(extensionKey(key, n));
      if (e !== undefined) out.push(e);
    }
    return out;
  }

  /** A free extension number of span key `key`, or -1 when it has MAX_EXTENSIONS. */
  freeExtension(key: number): number {
    for (let n = 0; n < MAX_EXTENSIONS; n++) if (this.valid(extensionKey(key, n)) === undefined) return n;
    return -1;
  }

  /** The live regions. */
  live(): IterableIterator<Region> { return this.byKey.values(); }

  /** Make `region` the live one of its key (dropping the one it replaces) and its blocks run it. */
  add(region: Region): void {
    this.jumps.attach(region, region.fn);
    this.all.push(region);
    if (this.all.length > MAX_PROFILED_REGIONS) this.all = this.all.filter((r) => r.valid);
    const st = this.stats, p = region.profile;
    st.compiled++; st.live++; st.translatedInstructions += p.guestInstructions;
    st.guestBytes += region.blocks.reduce((a, b) => a + (b.end - b.start), 0);
    st.wasmBytes += p.wasmBytes; st.translateMs += p.translateMs;
    const old = this.byKey.get(region.key);
    if (old !== undefined && old.valid) this.evict(old);
    // A span's code translated whole again: its hot part goes too; any translation of a span but an
    // extension has its extensions' blocks (jit.ts discover), so they go.
    const hot = region.part === 'whole' ? this.byKey.get(hotPartKey(region.key)) : undefined;
    if (hot !== undefined && hot.valid) this.evict(hot);
    if (region.part !== 'extension') for (const e of this.extensions(region.spanKey)) this.evict(e);
    this.byKey.set(region.key, region);
    for (const b of region.blocks) b.compiled = region;
  }

  /**
   * Make block `b` — whose instructions `region` translated, starting at one of its entries — run it too
   * (a code write or replacement that drops `b` drops the region, as for the region's own blocks).
   */
  attach(region: Region, b: Block): void {
    region.attached.push(b);
    region.missing.delete(b);
    b.compiled = region;
  }

  /** Drop `r` for room, its code unchanged (a bigger retranslation of its span, a full code cache): counted apart. */
  evict(r: Region): void {
    if (!r.valid) return;
    this.drop(r);
    this.stats.invalidations--;
    this.stats.evictions++;
  }

  drop(r: Region): void {
    if (!r.valid) return;
    this.jumps.detach(r);
    r.invalidate();
    this.stats.live--;
    this.stats.invalidations++;
    if (this.byKey.get(r.key) === r) this.byKey.delete(r.key);
    r.release();
  }

  /** Drop every live region. */
  flush(): void {
    for (const r of this.byKey.values()) { this.jumps.detach(r); r.invalidate(); r.release(); }
    this.jumps.clear();
    if (this.byKey.size > 0) this.stats.flushes++; // (a VM reset with nothing compiled is not a flush)
    this.byKey.clear();
    this.stats.live = 0;
  }
}
