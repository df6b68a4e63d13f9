// The JIT engine, the accelerator (src/cpu/accelerator.ts) the run loop uses for engine 'jit': it forms
// regions — the hot decoded blocks of one span of guest-physical code (region.ts: a page, or four with
// paging off) — has them translated into one WASM module
// each (translate.ts; here, with our direct encoder wasm-encoder.ts — tier 1 — or, when asked, with
// binaryen on the translation worker, translation-worker.ts), instantiates them against the VM's
// WebAssembly.Memory, and runs them for the interpreter's loop (bridge.ts: helper calls run the
// interpreter's closures for what compiled code leaves to it). Regions are keyed by span and the
// mode they were compiled for (jitMode), checked on every entry (region.ts). A code write that drops one
// of a region's blocks drops the region; the live count is bounded (a full flush past MAX_LIVE_REGIONS, as
// QEMU flushes a full code buffer). Tiers: a new region's module is compiled by the engine's baseline
// compiler alone (in Node: V8's Liftoff, v8-tiers.ts); a region whose counter passes the tier-2 threshold
// is retranslated with WASM loops and compiled by the optimising compiler (TurboFan) in the background.
import type binaryenT from 'binaryen';
import type { JitProfile, JitStats, RegionDump, RegionProfile } from '../src/cpu/accelerator-stats.ts';
import { emptyExits } from '../src/cpu/accelerator-stats.ts';
import { type Accelerator, type AcceleratorConfig, type AcceleratorFactory, jitMode, type Tier2Mode, TIER2_MAX_WASM_BYTES, TIER2_MIN, TIER2_PER_BYTE } from '../src/cpu/accelerator.ts';
import type { Block, CodeCache } from '../src/cpu/code-cache.ts';
import type { Cpu } from '../src/cpu/cpu.ts';
import type { CpuFault } from '../src/cpu/fault.ts';
import { directTarget, metaOf } from '../src/cpu/instruction-meta.ts';
import { PAGE_SHIFT, REGION_COUNTERS, REGION_COUNTERS_OFFSET, regionCounter, SEGMENT_PROFILE_COUNTERS, SEGMENT_PROFILE_OFFSET, SEGMENT_PROFILE_SLOTS } from '../src/cpu/state.ts';
import { InterpreterBridge, MAX_HELPER_OPS } from './bridge.ts';
import { compileRegionModule, jitHost } from './jit-host.ts';
import { compileRegion, type CompiledRegionData } from './compile.ts';
import { copyTotals, dumpRegion, jitProfile } from './profile.ts';
import { extensionKey, hotPartKey, MAX_LIVE_REGIONS, pagingOf, Region, type RegionFn, regionKey, RegionTable, spanOf, spanShift } from './region.ts';
import { TranslationClient, translationWorkerReady, type WorkerJob, type WorkerResult } from './translation-worker.ts';
import { wasmEncoder } from './wasm-encoder.ts';
import { JumpCache } from './jump-cache.ts';

/** Blocks in one region (a span rarely holds more). */
const MAX_REGION_BLOCKS = 1024;
/** Instructions compiled code retires between two looks at the tier-1 regions' counters. */
const TIER2_SCAN_EVERY = 1 << 22;
/** Instructions a profiled region runs counting its segments before splitHot (Jit.profileSlot). */
const SEGMENT_PROFILE_LENGTH = 1 << 24;
/** The share of a profiled region's instructions its hot part is to run (Jit.splitHot). */
const HOT_PART_SHARE = 0.99;

/** Byte offset of the segment counters of profile slot `slot`. */
const segmentCounters = (slot: number): number => SEGMENT_PROFILE_OFFSET + 4 * SEGMENT_PROFILE_COUNTERS * slot;

/** How Jit.translate is to translate a span besides its tier. */
interface TranslateOptions {
  /** Count entries into each segment in this slot of counters (state.ts SEGMENT_PROFILE_OFFSET): a profiled region. */
  profileSlot?: number;
  /** One part of a span split by splitHot (no tier-1 counter; the hot part under hotPartKey), or an extension (extend). */
  part?: 'hot' | 'cold' | 'extension';
  /** An extension's number (extensionKey). */
  extension?: number;
}

export type JitConfig = AcceleratorConfig;

/**
 * With paging, the least a known block must have run (in the interpreter) to go into its page's region
 * besides the block that made it hot. A kernel's pages hold much code that runs once (init, error paths):
 * a Linux boot translated a third fewer instructions with this (WASM 25.6 → 17.6 MB, the same ~1,090
 * regions); its CPU gain was within the machine's noise in a second A/B (README, "Only code that ran").
 * A block left out that gets hot later joins at the page's next retranslation (regionFor's `missing`).
 */
const MIN_REGION_BLOCK_HITS = 8;
export class Jit implements Accelerator {
  private readonly stats: JitStats = {
    compiled: 0, live: 0, refused: 0, translatedInstructions: 0, guestBytes: 0, wasmBytes: 0, translateMs: 0, calls: 0,
    instructions: 0, cacheHits: 0, cacheMisses: 0, diskHits: 0, invalidations: 0, flushes: 0, evictions: 0, fallbacks: 0, chains: 0, tier2: 0, promotions: 0, splits: 0, exits: emptyExits(),
  };
  private readonly regions: RegionTable;
  /** Chaining between regions: their table and the jump cache compiled code reads. */
  private readonly jumps: JumpCache;
  private readonly bridge: InterpreterBridge;
  /** Code writes that dropped a region, by region key. */
  private readonly invalidationsOf = new Map<number, number>();
  /** Asks for a region past its key's third invalidation since its last translation (regionFor), by key. */
  private readonly reluctantAsks = new Map<number, number>();
  /** The translation worker's client (background translation), or null: tier 1 translates here. */
  private worker: TranslationClient | null = null;
  profiling: boolean;
  private readonly tier2: Tier2Mode;
  /** A fixed tier-2 threshold, or null: each region's own (TIER2_PER_BYTE, TIER2_MIN). */
  private readonly tier2Threshold: number | null;
  /** Instructions compiled code retired since the counters were last looked at. */
  private sinceScan = 0;
  /** Region keys that reached tier 2: a retranslation of their span (new hot blocks) is promoted at once. */
  private readonly hotKeys = new Set<number>();
  /** The profiled regions counting segments, by slot of SEGMENT_PROFILE_OFFSET's counters (profileSlot). */
  private readonly profileSlots: (Region | null)[] = new Array(SEGMENT_PROFILE_SLOTS).fill(null);
  private readonly cfg: JitConfig;

  private constructor(private bn: typeof binaryenT | null, private readonly memory: WebAssembly.Memory, private readonly cpu: Cpu, private readonly cache: CodeCache, cfg: JitConfig) {
    this.profiling = cfg.profile ?? false;
    this.cfg = cfg;
    this.tier2 = cfg.tier2 ?? 'background';
    this.tier2Threshold = cfg.tier2Threshold ?? null;
    // Profiling measures each region per call from the run loop: no chaining then.
    this.jumps = new JumpCache(cpu, memory, !this.profiling && cfg.chain !== false);
    this.regions = new RegionTable(this.stats, this.jumps);
    this.bridge = new InterpreterBridge(cpu, cache, this.stats, this.jumps);
    cache.onDrop = (b, byHost) => {
      // A pending translation of this block's span may have read the dropped block: mark it stale.
      this.worker?.blockDropped(b.phys);
      const r = b.compiled as Region | null | undefined;
      if (!r || !r.valid) return;
      this.regions.drop(r);
      // Only the guest's own code writes count as self-modification (not a loader or vm.memory.writeBytes).
      // New code loaded by the host also forgets the region's history of self-modification.
      if (byHost) this.invalidationsOf.delete(r.spanKey);
      else this.invalidationsOf.set(r.spanKey, (this.invalidationsOf.get(r.spanKey) ?? 0) + 1);
    };
    cache.onFlush = () => this.flush();
    cache.onFull = (budget) => this.shed(budget);
    cache.onEvict = () => this.evicted();
  }

  /**
   * The JIT for a VM. By default regions translate synchronously with our encoder when they become hot;
   * with `background`, binaryen loads (~1 s) and regions translate on a worker thread while the
   * interpreter runs (falling back to the encoder here if no worker can be started).
   */
  static async create(memory: WebAssembly.Memory, cpu: Cpu, cache: CodeCache, cfg: JitConfig = {}): Promise<Jit> {
    if (cfg.tier2 !== undefined && !['background', 'sync', 'off'].includes(cfg.tier2)) throw new RangeError(`JIT tier 2 must be background, sync or off, got ${String(cfg.tier2)}`);
    const t2 = cfg.tier2Threshold;
    if (t2 !== undefined && (!Number.isInteger(t2) || t2 < 0 || t2 > 0xffffffff)) throw new RangeError(`JIT tier-2 threshold must be an integer from 0 to 4294967295, got ${t2}`);
    // binaryen on the main thread only for --dump's WASM text when profiling (where the host has it).
    const bn = cfg.profile ? await jitHost()?.loadBinaryen() ?? null : null;
    const jit = new Jit(bn, memory, cpu, cache, cfg);
    if (cfg.background === true) {
      jit.worker = await TranslationClient.connect(cpu, { cacheDir: cfg.cacheDir, passes: cfg.passes ?? [] }, (job, r) => jit.installResult(job, r));
    }
    return jit;
  }

  /** At once for synchronous translation; when the translation worker has loaded binaryen otherwise. */
  ready(): Promise<boolean> { return this.worker !== null ? translationWorkerReady() : Promise.resolve(true); }

  /**
   * Can block `b` be part of a region of `mode` for linear page `linPage`? (Paging off: linear = physical.)
   * Not on a page that instruction-level hooks watch: the run loop steps those (a span's region would
   * otherwise carry a hooked page's blocks in with its other pages').
   */
  private eligible(b: Block, mode: number, linPage: number): boolean {
    if (!b.cacheable || !b.valid || b.code32 !== 1 || b.csBase !== 0 || b.csLimit !== -1 || b.count === 0 || b.startsInvalid) return false;
    const hooks = this.cpu.hooks;
    if (hooks !== null && hooks.stepping && hooks.steps(b.start, b.end)) return false;
    return mode === 1 ? b.start === b.phys : (b.start >>> PAGE_SHIFT) === linPage;
  }

  /**
   * The region to run for hot block `block` — translating its span's known blocks if needed — or null
   * when it cannot be compiled (mode) or should wait (the span's region was just translated and most of
   * its hot code is in it: retranslating for every newly hot block would cost more than it saves).
   */
  regionFor(block: Block): Region | null {
    const mode = jitMode(this.cpu);
    if (mode === 0 || !this.eligible(block, mode, block.start >>> PAGE_SHIFT)) { this.stats.refused++; return null; }
    const span = spanOf(block.phys, mode), key = regionKey(span, mode);
    // A span whose code keeps changing (self-modifying code) is retranslated ever more reluctantly: its
    // blocks must run 256 times more per invalidation beyond the third before the next attempt.
    // (Counted in asks, 16 executions each: the run loop restarts a refused block's hit count every time.)
    const inv = this.invalidationsOf.get(key) ?? 0;
    if (inv > 3) {
      const asks = (this.reluctantAsks.get(key) ?? 0) + 1;
      if (asks < 16 * (inv - 3)) { this.reluctantAsks.set(key, asks); return null; }
      this.reluctantAsks.delete(key);
    }
    // (The span's live parts looked up one by one: regionFor runs at every ask of a waiting block.)
    const whole = this.regions.valid(key), hotPart = this.regions.valid(hotPartKey(key));
    const ready = this.partRunning(whole, block) ?? this.partRunning(hotPart, block) ?? this.extensionRunning(key, block);
    if (ready !== undefined) return ready;
    const old = whole ?? hotPart;
    // A tier-1 region keeps its code: the span's new hot blocks go into an extension beside it (extend) —
    // a split span's cold part too. -1: none (a tier-2 region, background translation, or no free number).
    const ext = whole !== undefined && this.worker === null && whole.profile.tier === 1 && !this.syncTier2(key) ? this.regions.freeExtension(key) : -1;
    if (old !== undefined) {
      // A newly hot block of a translated span waits for company (the run loop asks again every 16
      // executions): retranslate once the span has gained half as many hot blocks again, or this one has
      // run ~500 times. An extension translates only the new blocks, so it waits less: for a quarter as
      // many, or ~130 runs (a Linux boot: 1.2 M fewer instructions interpreted for 23 more extensions).
      const asks = (old.missing.get(block) ?? 0) + 1;
      old.missing.set(block, asks);
      if (ext >= 0 ? old.missing.size * 4 < old.blocks.length && asks < 8 : old.missing.size * 2 < old.blocks.length && asks < 32) return null;
    }
    if (ext >= 0) { this.stats.cacheMisses++; return this.extend(whole!, ext, block); }
    // A split span keeps its hot part: the block joins the cold one (here, a rare event).
    if (hotPart !== undefined) {
      this.stats.cacheMisses++;
      const inHot = new Set(hotPart.blocks);
      return this.translate(span, mode, this.discover(span, block, mode).filter((b) => !inHot.has(b)), block.start, 1, { part: 'cold' });
    }
    if (this.worker !== null) {
      // Background: post the span once; the block keeps interpreting until the region is installed.
      this.worker.poll();
      if (block.compiled instanceof Region && block.compiled.valid) return block.compiled;
      if (this.worker.pending(key)) return null;
      this.stats.cacheMisses++;
      this.worker.post(span, mode, this.discover(span, block, mode), block.start, 1, this.tier2 === 'off' ? -1 : this.newCounter(key));
      return null;
    }
    this.stats.cacheMisses++;
    return this.translate(span, mode, this.discover(span, block, mode), block.start);
  }

  /**
   * Live region `part` of a span (undefined: the span has no such part), if it can run hot block `block`:
   * the block is one of its own, or one whose instructions it already has, decoded where a run left its
   * blocks mid-way (after a memory exit, or a loop whose head lies inside a block the code before it falls
   * into) and starting at one of its entries (a branch target) — the region runs it as it is. Otherwise it
   * is a newly hot block like any other: a retranslation gives it its own entry (translate.ts segmentsOf),
   * or the run would stay in the interpreter for good.
   */
  private partRunning(part: Region | undefined, block: Block): Region | undefined {
    if (part === undefined) return undefined;
    if (part.blocks.includes(block)) return part;
    if (part.entries.includes(block.start | 0) && block.ops.every((op) => part.covers.has(op.eip | 0))) {
      this.regions.attach(part, block);
      return part;
    }
    return undefined;
  }

  /** The live extension of span key `key` that can run hot block `block` (partRunning), if any. */
  private extensionRunning(key: number, block: Block): Region | undefined {
    for (const e of this.regions.extensions(key)) {
      const r = this.partRunning(e, block);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  /**
   * Translate the blocks of tier-1 region `base`'s span that none of its live parts has — `block`, newly
   * hot, and those found with it (discover) — into extension `n`, beside `base` instead of replacing it:
   * a retranslation of the whole span would translate `base`'s code again (a Linux boot: 170 of 601
   * translations replaced a tier-1 region of their span, 35 k of their 122 k instructions). Control passes
   * between the two through the jump cache. The extension counts what it retires into `base`'s counter, so
   * the span reaches tier 2 as one; its translation there (discover keeps every part's blocks) replaces
   * both. After MAX_EXTENSIONS, the span is translated whole again at tier 1.
   */
  private extend(base: Region, n: number, block: Block): Region {
    const t0 = performance.now();
    const have = new Set<Block>();
    for (const r of this.regions.parts(base.spanKey)) { for (const b of r.blocks) have.add(b); for (const b of r.attached) have.add(b); }
    const blocks = this.discover(base.span, block, base.mode).filter((b) => !have.has(b));
    // (discover stops at MAX_REGION_BLOCKS blocks of the span, old ones included: the hot one goes in whatever.)
    if (!blocks.includes(block)) blocks.push(block);
    for (const b of blocks) base.missing.delete(b);
    const data = this.build(base.mode, blocks, 1, base.counter, {});
    return this.installBuilt(base.span, base.mode, blocks, block.start, data, t0, 1, -1, { part: 'extension', extension: n });
  }

  /**
   * The region's blocks: every known block of the span (with paging, those that have run a few times:
   * MIN_REGION_BLOCK_HITS), plus — without paging — what direct branches, calls and the return addresses
   * after calls reach inside the span (decoded now), so that the first translation of a span already has
   * the entries its code will need (fewer retranslations).
   */
  private discover(span: number, block: Block, mode: number): Block[] {
    const shift = spanShift(mode), inSpan = (eip: number): boolean => (eip >>> shift) === span;
    const linPage = block.start >>> PAGE_SHIFT;
    const found = new Map<number, Block>();
    const queue: Block[] = [block];
    for (let p = span << (shift - PAGE_SHIFT); p < (span + 1) << (shift - PAGE_SHIFT); p++) queue.push(...this.cache.blocksInPage(p));
    // A translation of a span keeps the blocks of the region it replaces whatever their hits: blocks that run
    // in compiled code stop counting, so one that went in below MIN_REGION_BLOCK_HITS (the trigger, at a
    // JIT threshold under it) would drop out of the next translation, make it again when it next turned hot,
    // and two blocks of a span could evict each other for ever (seen at X86JIT_JIT_THRESHOLD=4: 30,492
    // regions translated in 3 G instructions of a Linux boot instead of ~840).
    const kept = new Set(this.regions.parts(regionKey(span, mode)).flatMap((r) => r.blocks));
    while (queue.length > 0 && found.size < MAX_REGION_BLOCKS) {
      const b = queue.pop()!;
      if (!this.eligible(b, mode, linPage) || spanOf(b.phys, mode) !== span || found.has(b.start)) continue;
      if (mode !== 1 && b !== block && b.hits < MIN_REGION_BLOCK_HITS && !kept.has(b)) continue;
      // A block a run merely resumed in (the budget or a memory exit cut its containing block there) is no
      // entry of the code: translate.ts would give it its own copy of the rest of its segment. The
      // decompressor of a Linux boot had one at nearly every instruction of its main page (1,930
      // instructions translated for 1,136 distinct, 2.5 MB of WASM for 1.2).
      if (b !== block && b.resumed) continue;
      found.set(b.start, b);
      // With paging, decoding ahead would walk page tables (setting accessed bits the interpreter would
      // not have set yet): only the blocks already known go in.
      if (mode !== 1) continue;
      for (const op of b.ops) {
        const { branch } = metaOf(op.ins), target = directTarget(op);
        const next: number[] = [];
        if (target !== null) next.push(target);
        if (branch === 'call' || (branch === 'conditional' && op === b.ops[b.ops.length - 1])) next.push(op.next);
        for (const eip of next) {
          if (!inSpan(eip) || found.has(eip)) continue;
          const nb = this.cache.blockAt(eip);
          if (nb.cacheable && nb.valid) queue.push(nb);
        }
      }
    }
    return [...found.values()];
  }

  /**
   * Translate now, on this thread, with the direct encoder, and install: at tier 1 (counting what the region
   * retires), or at tier 2 (a span that reached it, or every span at tier-2 threshold 0: syncTier2).
   */
  private translate(span: number, mode: number, blocks: Block[], entry: number, tier = this.syncTier2(regionKey(span, mode)) ? 2 : 1, opts: TranslateOptions = {}): Region {
    const t0 = performance.now();
    const counter = tier === 1 && this.tier2 !== 'off' && opts.part === undefined ? this.newCounter(regionKey(span, mode)) : -1;
    const data = this.build(mode, blocks, tier, counter, opts);
    if (tier === 2 && opts.part === undefined && data.binary.length > TIER2_MAX_WASM_BYTES) {
      // Too big for TurboFan's full register allocator: its hot part alone may not be (profileSlot). Without
      // a free slot, the module as it is (TurboFan's mid-tier allocator: a little faster than tier 1).
      const slot = this.profileSlot();
      if (slot >= 0) {
        this.hotKeys.delete(regionKey(span, mode));
        if (this.cpu.log !== null) this.cpu.log('jit', `span ${((span << spanShift(mode)) >>> 0).toString(16).padStart(8, '0')} mode ${mode}: ${data.binary.length} bytes of WASM at tier 2 (it stops at ${TIER2_MAX_WASM_BYTES}): profiling its segments at tier 1`);
        return this.translate(span, mode, blocks, entry, 1, { profileSlot: slot });
      }
    }
    return this.installBuilt(span, mode, blocks, entry, data, t0, tier, counter, opts);
  }

  /** The WASM module of a region of `blocks` (translate, splitHot): `counter` its tier-1 counter's index or -1. */
  private build(mode: number, blocks: Block[], tier: number, counter: number, opts: TranslateOptions): CompiledRegionData {
    return compileRegion(wasmEncoder, {
      id: 0, blocks, ramSize: this.cpu.ramSize, paging: pagingOf(mode), helperBase: 0, loops: tier === 2, counter: counter < 0 ? undefined : regionCounter(counter),
      ...(opts.profileSlot === undefined ? {} : { segmentCounters: segmentCounters(opts.profileSlot) }),
    });
  }

  /** Compile a built module (V8: baseline at tier 1, optimising at tier 2) and install it; `t0` when its translation began. */
  private installBuilt(span: number, mode: number, blocks: Block[], entry: number, data: CompiledRegionData, t0: number, tier: number, counter: number, opts: TranslateOptions): Region {
    const module = compileRegionModule(data.binary, tier === 2 ? 'optimized' : 'baseline');
    return this.install(span, mode, blocks, entry, module, data, performance.now() - t0, tier, counter, opts);
  }

  /**
   * Does a translation of region key `key` here go straight to tier 2? At tier-2 threshold 0 ('sync'), and
   * whenever the span reached tier 2 before (new hot blocks made it translate again): a tier-1 module would
   * be superseded as soon as installed (install() promotes such a span at once), its translation and
   * compile wasted (a Linux boot: 5 regions, 3,037 instructions, 151 KB of WASM).
   */
  private syncTier2(key: number): boolean {
    if (this.tier2 === 'off') return false;
    return (this.tier2 === 'sync' && this.tier2Threshold === 0) || this.hotKeys.has(key);
  }

  /**
   * The instruction counter of a tier-1 region of key `key` (state.ts regionCounter), zeroed. One per key
   * modulo the cell count, so that the same span translates to the same bytes (the disk cache); spans that
   * share a cell promote each other early, which costs a translation, never correctness.
   */
  private newCounter(key: number): number {
    const k = (key ^ (key >>> 12)) & (REGION_COUNTERS - 1);
    new Int32Array(this.memory.buffer, REGION_COUNTERS_OFFSET, REGION_COUNTERS)[k] = 0;
    return k;
  }

  /**
   * Promote the tier-1 regions whose counters passed the threshold. Tier 1's code is V8's baseline
   * (v8-tiers.ts), so every region that stays hot gains from tier 2's optimised compile, not only those
   * whose loops span several segments.
   */
  private scanCounters(): void {
    const counts = new Uint32Array(this.memory.buffer, REGION_COUNTERS_OFFSET, REGION_COUNTERS);
    for (const r of [...this.regions.live()]) {
      if (r.counter < 0 || r.promoted || !r.valid) continue;
      if (r.segmentProfile !== null) {
        if (counts[r.counter] >= SEGMENT_PROFILE_LENGTH) this.splitHot(r);
        continue;
      }
      const threshold = this.tier2Threshold ?? Math.max(TIER2_MIN, TIER2_PER_BYTE * r.profile.wasmBytes);
      if (counts[r.counter] >= threshold) this.promote(r);
    }
  }

  /**
   * A free slot of segment counters, zeroed, for a span whose tier-2 translation came out too big for
   * TurboFan (TIER2_MAX_WASM_BYTES), or -1: its region is then translated at tier 1 again counting entries
   * into each segment, for SEGMENT_PROFILE_LENGTH instructions, so that splitHot can give its hot part to
   * tier 2 alone. (The Linux boot's xz decompressor: ~1,860 instructions, 212 KB of WASM at tier 2, of which
   * ~60 blocks run 99 % of its ~2 G instructions.)
   */
  private profileSlot(): number {
    const slot = this.profileSlots.findIndex((p) => p === null || !p.valid || p.segmentProfile === null);
    if (slot >= 0) new Int32Array(this.memory.buffer, segmentCounters(slot), SEGMENT_PROFILE_COUNTERS).fill(0);
    return slot;
  }

  /**
   * A profiled region has run SEGMENT_PROFILE_LENGTH instructions: its hottest segments, those that ran
   * HOT_PART_SHARE of its instructions, are its hot part. The blocks starting in them are translated at
   * tier 2 under the span's hot-part key, the others at tier 1 under its own key; each leaves for the other
   * through the jump cache. (Both once only: neither counts towards tier 2 again.)
   */
  private splitHot(r: Region): void {
    const profile = r.segmentProfile!;
    r.promoted = true;
    r.segmentProfile = null;
    this.profileSlots[profile.slot] = null;
    const counts = new Uint32Array(this.memory.buffer, segmentCounters(profile.slot), SEGMENT_PROFILE_COUNTERS);
    const countAt = new Map<number, number>();
    const ranked: { entries: number; instructions: number }[] = [];
    let total = 0;
    profile.segmentEips.forEach((eips, i) => {
      const n = i < SEGMENT_PROFILE_COUNTERS ? counts[i] : 0;
      for (const eip of eips) countAt.set(eip, n);
      ranked.push({ entries: n, instructions: n * eips.length });
      total += n * eips.length;
    });
    // The least entries a hot segment has: the most-entered segments, down to where HOT_PART_SHARE of
    // the instructions are covered.
    ranked.sort((a, b) => b.entries - a.entries);
    let covered = 0, least = Infinity;
    for (const seg of ranked) {
      if (covered >= HOT_PART_SHARE * total) break;
      covered += seg.instructions;
      least = seg.entries;
    }
    const blocks = this.discover(r.span, r.blocks[0], r.mode);
    const isHot = (b: Block): boolean => least > 0 && (countAt.get(b.start | 0) ?? 0) >= least;
    const hot = blocks.filter(isHot), cold = blocks.filter((b) => !isHot(b));
    // Every block cold, or every one hot, or a hot part as big for TurboFan as the whole: the profiled region
    // stays as it is, at tier 1.
    if (hot.length === 0 || cold.length === 0) return;
    const t0 = performance.now(), hotData = this.build(r.mode, hot, 2, -1, { part: 'hot' });
    if (hotData.binary.length > TIER2_MAX_WASM_BYTES) {
      if (this.cpu.log !== null) this.cpu.log('jit', `region ${r.profile.id} stays at tier 1: its hot part of ${hot.length} blocks is ${hotData.binary.length} bytes of WASM at tier 2`);
      return;
    }
    this.translate(r.span, r.mode, cold, cold[0].start, 1, { part: 'cold' });
    const part = this.installBuilt(r.span, r.mode, hot, hot[0].start, hotData, t0, 2, -1, { part: 'hot' });
    this.stats.splits++;
    if (this.cpu.log !== null) this.cpu.log('jit', `region ${r.profile.id} split: hot part ${part.profile.id} of ${hot.length} blocks (${part.profile.wasmBytes} bytes of WASM), ${cold.length} blocks left at tier 1`);
  }

  /**
   * Retranslate a region that stayed hot at tier 2, with the span's blocks known now: here with our encoder
   * (with `background`, by binaryen on the translation worker). It is installed at once: V8 compiles it
   * with TurboFan in the background and runs its baseline code until then, which is as fast as tier 1's.
   */
  private promote(r: Region): void {
    r.promoted = true;
    this.stats.promotions++;
    this.hotKeys.add(r.spanKey);
    const blocks = this.discover(r.span, r.blocks[0], r.mode), entry = r.profile.entry | 0;
    if (this.worker !== null && this.tier2 !== 'sync') { if (!this.worker.pending(r.spanKey)) this.worker.post(r.span, r.mode, blocks, entry, 2, -1); return; }
    this.translate(r.span, r.mode, blocks, entry, 2);
  }

  /** Instantiate a translated region against the VM's memory and make its blocks run it. */
  private install(span: number, mode: number, blocks: Block[], entry: number, module: WebAssembly.Module, out: CompiledRegionData, ms: number, tier: number, counter: number, opts: TranslateOptions = {}): Region {
    const part = opts.part;
    const t0 = performance.now();
    if (this.stats.live >= MAX_LIVE_REGIONS || this.bridge.helperCount >= MAX_HELPER_OPS) this.flush();
    const inst = new WebAssembly.Instance(module, { env: { memory: this.memory, chain: this.jumps.chain, helper: this.bridge.helperImport(this.bridge.helperCount) } });
    ms += performance.now() - t0;
    const sorted = [...blocks].sort((a, b) => (a.start >>> 0) - (b.start >>> 0));
    const profile: RegionProfile = {
      id: this.stats.compiled, entry: entry >>> 0, start: sorted[0].start >>> 0,
      end: Math.max(...sorted.map((b) => b.end >>> 0)), blocks: sorted.length, guestInstructions: out.instructions,
      executions: 0, instructions: 0, timeMs: 0, wasmBytes: out.binary.length, translateMs: ms, buildMs: out.ms, exits: emptyExits(), fallbacks: 0, invalidated: false, tier,
    };
    const key = part === 'hot' ? hotPartKey(regionKey(span, mode)) : part === 'extension' ? extensionKey(regionKey(span, mode), opts.extension!) : regionKey(span, mode);
    const region = new Region(inst.exports.run as RegionFn, span, mode, key, sorted, out.entries, profile);
    if (opts.profileSlot !== undefined) {
      region.segmentProfile = { slot: opts.profileSlot, segmentEips: out.segmentEips! };
      this.profileSlots[opts.profileSlot] = region;
    }
    // A part of a split span never counts towards tier 2 again (splitHot).
    if (part !== undefined) { region.part = part; region.promoted = true; profile.part = part; }
    this.bridge.addHelpers(region, blocks, out);
    this.regions.add(region);
    region.counter = counter;
    if (this.cpu.log !== null) {
      const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
      this.cpu.log('jit', `region ${profile.id} tier ${tier} mode ${mode}${part === undefined ? '' : ` ${part}`}: ${hex(profile.start)}-${hex(profile.end)}, ${profile.blocks} blocks, ${profile.guestInstructions} instructions, ${profile.wasmBytes} bytes of WASM, ${ms.toFixed(2)} ms`);
    }
    if (tier === 2) this.stats.tier2++;
    // A span that reached tier 2 before and was retranslated at tier 1 (new hot blocks) goes back at once.
    else if (this.tier2 !== 'off' && part === undefined && this.hotKeys.has(region.key)) this.promote(region);
    return region;
  }

  /** A finished translation from the worker (still good: its blocks valid, its span unwritten since). */
  private installResult(job: WorkerJob, r: WorkerResult): void {
    const blocks = r.blocks === undefined ? job.blocks : this.blocksFor(r.blocks, job);
    if (blocks === null) return;
    if (r.cached) this.stats.diskHits++;
    const data = r as CompiledRegionData;
    this.install(job.span, job.mode, blocks, job.entry, r.module!, data, r.ms!, job.tier, job.counter);
  }

  /**
   * The decoded blocks a translation from the disk cache was made of: the job's own, and the others
   * decoded now (the same span's bytes give the same blocks; any that do not match reject the result).
   */
  private blocksFor(wire: { start: number; eips: number[] }[], job: WorkerJob): Block[] | null {
    const own = new Map(job.blocks.map((b) => [b.start, b]));
    const out: Block[] = [];
    for (const w of wire) {
      const b = own.get(w.start) ?? this.cache.blockAt(w.start);
      if (!this.eligible(b, job.mode, job.entry >>> PAGE_SHIFT) || spanOf(b.phys, job.mode) !== job.span || b.ops.length !== w.eips.length || b.ops.some((o, k) => o.eip !== w.eips[k])) return null;
      out.push(b);
    }
    return out;
  }

  enter(region: Region, budget: number): number {
    const n = this.bridge.enter(region, budget, this.profiling);
    if (this.tier2 !== 'off') {
      this.worker?.poll();
      if ((this.sinceScan += n) >= TIER2_SCAN_EVERY) { this.sinceScan = 0; this.scanCounters(); }
    }
    return n;
  }

  takeFault(): CpuFault { return this.bridge.takeFault(); }

  /**
   * The code cache is full and will keep only the blocks of live regions: drop the coldest regions until
   * those hold at most `budget` instructions. Warm first: regions the run loop entered since the last
   * time (a region reached only by chaining looks cold: at worst it is translated again), then the newest.
   */
  private shed(budget: number): void {
    const size = (r: Region): number => r.blocks.reduce((n, b) => n + b.ops.length, 0) + r.attached.reduce((n, b) => n + b.ops.length, 0);
    const ranked = [...this.regions.live()].map((r) => ({ r, used: r.profile.executions - r.executionsAtShed, n: size(r) }));
    ranked.sort((a, b) => (b.used > 0 ? 1 : 0) - (a.used > 0 ? 1 : 0) || b.r.profile.id - a.r.profile.id);
    let kept = 0;
    for (const { r, n } of ranked) {
      r.executionsAtShed = r.profile.executions;
      if (kept + n <= budget) kept += n;
      else this.regions.evict(r);
    }
  }

  /**
   * A full code cache dropped the blocks no region runs (CodeCache.evict): the regions stay. One that held
   * a dropped block (it was another region's, or replaced there) goes too — a write to that block's bytes
   * would no longer reach it — and the regions forget the dropped blocks they were counting or running.
   */
  private evicted(): void {
    for (const r of [...this.regions.live()]) {
      if (!r.blocks.every((b) => b.valid)) { this.regions.evict(r); continue; }
      for (const b of r.missing.keys()) if (!b.valid) r.missing.delete(b);
    }
  }

  /** The VM is destroyed: leave the translation worker and drop every region. */
  dispose(): void {
    this.worker?.close();
    this.worker = null;
    this.flush();
  }

  /** Drop every region (code buffer full, or the code cache was flushed). */
  flush(): void {
    if (this.cpu.log !== null && this.stats.live > 0) this.cpu.log('jit', `flush: ${this.stats.live} regions dropped`);
    this.regions.flush();
    this.bridge.clear();
  }

  totals(): JitStats { this.stats.chains = this.jumps.chains; return copyTotals(this.stats); }

  profile(): JitProfile { return jitProfile(this.stats, this.regions.all); }

  /** The region covering linear address `addr` (the live one first, else the latest): disassembly and WASM text. */
  dump(addr: number): RegionDump | null { return dumpRegion(this.regions.all, addr, this.cpu, this.bn); }
}

/** The JIT as a VM's accelerator (VMOptions.accelerator). */
export const createJit: AcceleratorFactory = (memory, cpu, cache, config) => Jit.create(memory, cpu, cache, config);
