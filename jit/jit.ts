// The JIT engine: forms regions — the hot decoded blocks of one guest-physical page — has them translated
// into one WASM module each (translate.ts; here, with our direct encoder wasm-encoder.ts — tier 1 — or,
// when asked, with binaryen on the translation worker, worker.ts), instantiates them against the VM's
// WebAssembly.Memory, and runs them for
// the interpreter's loop; helper calls run the interpreter's closures for what compiled code leaves to it.
// Regions are keyed by physical page and the mode they were compiled for (jitMode: flat segments, paging
// off / supervisor / user), checked on every entry. A code write that drops one of a region's blocks
// drops the region; the live count is bounded (a full flush past MAX_LIVE_REGIONS, as QEMU flushes a
// full code buffer).
import type binaryenT from 'binaryen';
import type { Block, CachedInstruction, CodeCache } from '../src/cpu/code-cache.ts';
import { BREAK_EIP_SET, BREAK_JUMP, type Cpu, WORK_PER_CLOCK_CHECK } from '../src/cpu/cpu.ts';
import { CpuFault } from '../src/cpu/fault.ts';
import { endsBlock } from '../src/cpu/semantics/index.ts';
import { CODE32, CPL, EFLAGS, EIP, PAGE_SHIFT, PAGE_SIZE, STACK32 } from '../src/cpu/state.ts';
import { DS, ES, SS } from '../src/decoder/instruction.ts';
import { formatIntel } from '../src/decoder/format-intel.ts';
import { wasmEncoder } from './wasm-encoder.ts';
import { emptyExits, JIT_EXIT_REASONS, type JitProfile, type JitStats, type RegionDump, type RegionProfile } from './stats.ts';
import type { MessagePort } from 'node:worker_threads';
import { compileRegion, type CompiledRegionData, type TranslateJob, wireBlocks } from './compile.ts';
import { HELPER_EXIT, HELPER_FAULT, HELPER_IRQ, HELPER_JUMP, JIT_EXIT_SLOT, prepareModule, type RegionOutput, translateRegion } from './translate.ts';

/** Live regions before everything is flushed (V8 crashes near 60k live modules: stay far below). */
const MAX_LIVE_REGIONS = 2048;
/** Helper-op table entries before a flush (entries of dropped regions are reclaimed only then). */
const MAX_HELPER_OPS = 1 << 20;
/** Regions the profile remembers; past it, the invalidated ones are forgotten (they hold their decoded blocks). */
const MAX_PROFILED_REGIONS = 4 * MAX_LIVE_REGIONS;
/** Blocks in one region (a 4 KiB page rarely holds more). */
const MAX_REGION_BLOCKS = 1024;

/** Executions of a block before its page's region is translated (a few hundred instructions run first). */
export const DEFAULT_JIT_THRESHOLD = 50;

export type RegionFn = (pc: number, budget: number) => number;
/** What a dropped region runs if anything still calls it: nothing (0 instructions, the interpreter goes on). */
const DEAD_REGION: RegionFn = () => 0;

/** One translated region: the compiled function and what the profiler reports about it. */
export class Region {
  valid = true;
  /** Hot blocks of the page seen since translation that the region does not contain, and how often they asked. */
  readonly missing = new Map<Block, number>();
  /** EIPs of the instructions the region translated. */
  readonly covers = new Set<number>();
  /** `key`: page * 4 + mode, how regions are looked up (a page may have one region per mode). */
  constructor(public fn: RegionFn, readonly page: number, readonly mode: number, readonly key: number, readonly blocks: Block[], readonly profile: RegionProfile) {}
  /** Drop the region: its function (and so its WASM instance) is released for V8 to collect. */
  invalidate(): void {
    this.valid = false;
    this.profile.invalidated = true;
    this.fn = DEAD_REGION;
    this.missing.clear();
    this.covers.clear();
  }
}

/**
 * The mode compiled code is specialised for, or 0 where none runs. All need 32-bit code and stack and
 * flat DS/ES/SS (base 0, 4 GiB); 1: paging off (offset = physical address); 2: paging on, supervisor
 * accesses (CPL 0-2); 3: paging on at CPL 3 (user accesses: the TLB's user bits apply).
 */
export function jitMode(cpu: Cpu): number {
  if (cpu.s[CODE32] !== 1 || cpu.s[STACK32] !== 1 || cpu.segSlow[DS] !== 0 || cpu.segSlow[SS] !== 0 || cpu.segSlow[ES] !== 0) return 0;
  if (!cpu.paging) return 1;
  return cpu.s[CPL] === 3 ? 3 : 2;
}
/** RegionInput.paging for a mode. */
const pagingOf = (mode: number): number => (mode === 1 ? 0 : mode === 2 ? 1 : 2);

export interface JitConfig {
  /** Measure host time per region call (and keep binaryen on the main thread for WASM text dumps). */
  profile?: boolean;
  /**
   * Translate with binaryen on the worker thread while the interpreter runs (with its disk cache). Default
   * false: tier 1, our encoder, translates a region here the moment it turns hot (a few µs per instruction,
   * no binaryen load at all).
   */
  background?: boolean;
}

/** The translation worker and the port the run loop polls. */
interface TranslationWorker {
  port: MessagePort;
  receive: (port: MessagePort) => { message: unknown } | undefined;
}

interface WorkerResult extends Partial<CompiledRegionData> {
  id: number; ok: boolean; error?: string; module?: WebAssembly.Module;
  /** Loaded from the disk cache; the blocks translated when they are not the job's own. */
  cached?: boolean; blocks?: { start: number; eips: number[] }[];
}

/** The process's translation worker: started once, shared by every VM's JIT (each on its own port). */
let sharedWorker: Promise<{ connect: () => TranslationWorker; ready: Promise<boolean>; load: () => void } | null> | null = null;

/** Start dist/jit-worker.js (next to this bundle) once, or null where there is none (sources, browsers). */
function translationWorker(): Promise<{ connect: () => TranslationWorker; ready: Promise<boolean>; load: () => void } | null> {
  sharedWorker ??= (async () => {
    try {
      const url = new URL('./jit-worker.js', import.meta.url);
      const { existsSync } = await import('node:fs');
      if (url.protocol !== 'file:' || !existsSync(url)) return null;
      const wt = await import('node:worker_threads');
      // Not the embedder's node flags: some (--input-type, --eval ones) make a file worker fail to start.
      const worker = new wt.Worker(url, { execArgv: [] });
      const ready = new Promise<boolean>((resolve) => {
        worker.once('message', (m: { ready: boolean }) => resolve(m.ready));
        // A dead worker only means no more regions: the interpreter runs everything.
        worker.once('error', () => resolve(false));
      });
      // After the listeners: adding a 'message' listener refs the worker's port, and a ref'd port would
      // keep the process alive until binaryen has loaded — for ever when the disk cache spares it that.
      worker.unref();
      // binaryen loads on the worker's first translation the disk cache does not have; jitReady() asks now.
      // While someone waits for it, the worker keeps the process alive (else an `await vm.jitReady()` with
      // nothing else pending would let Node exit there).
      const load = (): void => {
        worker.ref();
        void ready.finally(() => worker.unref());
        worker.postMessage({ load: true });
      };
      const connect = (): TranslationWorker => {
        const { port1, port2 } = new wt.MessageChannel();
        worker.postMessage({ port: port2 }, [port2]);
        port1.unref();
        return { port: port1, receive: wt.receiveMessageOnPort };
      };
      return { connect, ready, load };
    } catch {
      return null;
    }
  })();
  return sharedWorker;
}

/** Resolves when the translation worker has loaded binaryen (true), or cannot (false: no worker). */
export async function translationWorkerReady(): Promise<boolean> {
  const w = await translationWorker();
  if (w === null) return false;
  w.load();
  return w.ready;
}

export class Jit {
  private readonly stats: JitStats = {
    compiled: 0, live: 0, refused: 0, translatedInstructions: 0, guestBytes: 0, wasmBytes: 0, translateMs: 0, calls: 0,
    instructions: 0, cacheHits: 0, cacheMisses: 0, diskHits: 0, invalidations: 0, flushes: 0, evictions: 0, fallbacks: 0, exits: emptyExits(),
  };
  /** Every region installed (for the profile), less invalidated ones once there are MAX_PROFILED_REGIONS. */
  private regions: Region[] = [];
  private readonly byPage = new Map<number, Region>();
  /** Code writes that dropped a region of each page. */
  private readonly pageInvalidations = new Map<number, number>();
  private helperOps: CachedInstruction[] = [];
  private helperLast: boolean[] = [];
  private helperIndex: number[] = [];
  private helperRegion: Region[] = [];
  /** The exception a helper caught, for the run loop to deliver. */
  private pendingFault: CpuFault | null = null;
  /** cpu.instructions when the running region was entered (helpers see the exact count). */
  private entryInstructions = 0;
  /** The mode of the running region (a helper that changes it ends compiled code). */
  private entryMode = 0;
  profiling: boolean;

  private constructor(private bn: typeof binaryenT | null, private readonly memory: WebAssembly.Memory, private readonly cpu: Cpu, private readonly cache: CodeCache, cfg: JitConfig, private readonly worker: TranslationWorker | null) {
    this.profiling = cfg.profile ?? false;
    cache.onDrop = (b, byHost) => {
      // A pending translation of this page may have read the dropped block: mark it stale.
      const page = b.phys >>> PAGE_SHIFT;
      if (this.pendingKeys.has(page * 4 + 1) || this.pendingKeys.has(page * 4 + 2) || this.pendingKeys.has(page * 4 + 3)) this.pageInvalidatedAtJob.set(page, this.nextJob - 1);
      const r = b.compiled as Region | null | undefined;
      if (!r || !r.valid) return;
      this.drop(r);
      // Only the guest's own code writes count as self-modification (not a loader or vm.memory.writeBytes).
      // New code loaded by the host also forgets the page's history of self-modification.
      if (byHost) this.pageInvalidations.delete(r.page);
      else this.pageInvalidations.set(r.page, (this.pageInvalidations.get(r.page) ?? 0) + 1);
    };
    cache.onFlush = () => this.flush();
  }

  /**
   * The JIT for a VM. By default regions translate synchronously with our encoder when they become hot;
   * with `background`, binaryen loads (~1 s) and regions translate on a worker thread while the
   * interpreter runs (falling back to the encoder here if no worker can be started).
   */
  static async create(memory: WebAssembly.Memory, cpu: Cpu, cache: CodeCache, cfg: JitConfig = {}): Promise<Jit> {
    const shared = cfg.background === true ? await translationWorker() : null;
    const worker = shared === null ? null : shared.connect();
    // binaryen on the main thread only for --dump's WASM text when profiling.
    const bn = cfg.profile ? (await import('binaryen')).default : null;
    return new Jit(bn, memory, cpu, cache, cfg, worker);
  }

  /** True when regions are translated on the worker thread. */
  get background(): boolean { return this.worker !== null; }

  /** Can block `b` be part of a region of `mode` for linear page `linPage`? (Paging off: linear = physical.) */
  private eligible(b: Block, mode: number, linPage: number): boolean {
    if (!b.cacheable || !b.valid || b.code32 !== 1 || b.csBase !== 0 || b.csLimit !== -1 || b.ops.length === 0 || b.ops[0].ins.op === 'INVALID') return false;
    return mode === 1 ? b.start === b.phys : (b.start >>> PAGE_SHIFT) === linPage;
  }

  /**
   * The region to run for hot block `block` — translating its page's known blocks if needed — or null
   * when it cannot be compiled (mode) or should wait (the page's region was just translated and most of
   * its hot code is in it: retranslating for every newly hot block would cost more than it saves).
   */
  regionFor(block: Block): Region | null {
    const mode = jitMode(this.cpu);
    if (mode === 0 || !this.eligible(block, mode, block.start >>> PAGE_SHIFT)) { this.stats.refused++; return null; }
    const page = block.phys >>> PAGE_SHIFT, key = page * 4 + mode;
    // A page whose code keeps changing (self-modifying code) is retranslated ever more reluctantly: its
    // blocks must run 256 times more per invalidation beyond the third before the next attempt.
    const inv = this.pageInvalidations.get(page) ?? 0;
    if (inv > 3 && block.hits < 256 * (inv - 3)) return null;
    const old = this.byPage.get(key);
    if (old !== undefined && old.valid) {
      if (old.blocks.includes(block)) return old;
      // A block whose instructions the region already has (one decoded where a run stopped mid-block) is
      // not a reason to retranslate: it runs in the interpreter until it reaches one of the region's entries.
      if (block.ops.every((op) => old.covers.has(op.eip | 0))) return null;
      // A newly hot block of a translated page waits for company (the run loop asks again every 16
      // executions): retranslate once the page has gained half as many hot blocks again, or this one has
      // run ~500 times.
      const asks = (old.missing.get(block) ?? 0) + 1;
      old.missing.set(block, asks);
      if (old.missing.size * 2 < old.blocks.length && asks < 32) return null;
    }
    if (this.worker !== null) {
      // Background: post the page once; the block keeps interpreting until the region is installed.
      this.poll();
      if (block.compiled instanceof Region && block.compiled.valid) return block.compiled;
      if (this.pendingKeys.has(key)) return null;
      this.stats.cacheMisses++;
      this.post(page, mode, this.discover(page, block, mode), block.start);
      return null;
    }
    this.stats.cacheMisses++;
    return this.translate(page, mode, this.discover(page, block, mode), block.start);
  }

  /**
   * The region's blocks: every known block of the page, plus what direct branches, calls and the return
   * addresses after calls reach inside the page (decoded now), so that the first translation of a page
   * already has the entries its code will need (fewer retranslations).
   */
  private discover(page: number, block: Block, mode: number): Block[] {
    const inPage = (eip: number): boolean => (eip >>> PAGE_SHIFT) === page;
    const linPage = block.start >>> PAGE_SHIFT;
    const found = new Map<number, Block>();
    const queue: Block[] = [block, ...this.cache.blocksInPage(page)];
    while (queue.length > 0 && found.size < MAX_REGION_BLOCKS) {
      const b = queue.pop()!;
      if (!this.eligible(b, mode, linPage) || b.phys >>> PAGE_SHIFT !== page || found.has(b.start)) continue;
      found.set(b.start, b);
      // With paging, decoding ahead would walk page tables (setting accessed bits the interpreter would
      // not have set yet): only the blocks already known go in.
      if (mode !== 1) continue;
      for (const op of b.ops) {
        const { ins } = op, t = ins.operands[0];
        const next: number[] = [];
        if (t?.kind === 'rel' && (ins.op === 'JCC' || ins.op === 'JMP' || ins.op === 'CALL')) next.push((op.next + t.disp) | 0);
        if (ins.op === 'CALL' || (ins.op === 'JCC' && op === b.ops[b.ops.length - 1])) next.push(op.next);
        for (const eip of next) {
          if (!inPage(eip) || found.has(eip)) continue;
          const nb = this.cache.blockAt(eip);
          if (nb.cacheable && nb.valid) queue.push(nb);
        }
      }
    }
    return [...found.values()];
  }

  /** Translate now, on this thread, with the direct encoder (tier 1). */
  private translate(page: number, mode: number, blocks: Block[], entry: number): Region {
    const t0 = performance.now();
    const data = compileRegion(wasmEncoder, { id: 0, blocks, ramSize: this.cpu.ramSize, paging: pagingOf(mode), helperBase: 0 });
    const module = new WebAssembly.Module(data.binary as Uint8Array<ArrayBuffer>);
    return this.install(page, mode, blocks, entry, module, data, performance.now() - t0);
  }

  /** Instantiate a translated region against the VM's memory and make its blocks run it. */
  private install(page: number, mode: number, blocks: Block[], entry: number, module: WebAssembly.Module, out: RegionOutput & { binary: Uint8Array }, ms: number): Region {
    const key = page * 4 + mode;
    const t0 = performance.now();
    if (this.stats.live >= MAX_LIVE_REGIONS || this.helperOps.length >= MAX_HELPER_OPS) this.flush();
    const helperBase = this.helperOps.length;
    const inst = new WebAssembly.Instance(module, { env: { memory: this.memory, helper: (idx: number, n: number, bsCount: number, bsEip: number) => this.helper(helperBase + idx, n, bsCount, bsEip) } });
    ms += performance.now() - t0;
    const sorted = [...blocks].sort((a, b) => (a.start >>> 0) - (b.start >>> 0));
    const guestBytes = sorted.reduce((a, b) => a + (b.end - b.start), 0);
    const profile: RegionProfile = {
      id: this.stats.compiled, entry: entry >>> 0, start: sorted[0].start >>> 0,
      end: Math.max(...sorted.map((b) => b.end >>> 0)), blocks: sorted.length, guestInstructions: out.instructions,
      executions: 0, instructions: 0, timeMs: 0, wasmBytes: out.binary.length, translateMs: ms, exits: emptyExits(), fallbacks: 0, invalidated: false,
    };
    const region = new Region(inst.exports.run as RegionFn, page, mode, key, sorted, profile);
    for (const b of sorted) for (const op of b.ops) region.covers.add(op.eip | 0);
    for (let k = 0; k < out.helperAt.length; k++) {
      const [bi, j] = out.helperAt[k];
      this.helperOps.push(blocks[bi].ops[j]);
      this.helperRegion.push(region);
      this.helperLast.push(out.helperLast[k]);
      this.helperIndex.push(out.helperIndex[k]);
    }
    this.regions.push(region);
    if (this.regions.length > MAX_PROFILED_REGIONS) this.regions = this.regions.filter((r) => r.valid);
    const st = this.stats;
    st.compiled++; st.live++; st.translatedInstructions += out.instructions; st.guestBytes += guestBytes;
    st.wasmBytes += out.binary.length; st.translateMs += ms;
    const old = this.byPage.get(key);
    if (old !== undefined && old.valid) { this.drop(old); this.stats.evictions++; this.stats.invalidations--; }
    this.byPage.set(key, region);
    for (const b of region.blocks) b.compiled = region;
    return region;
  }

  // ---- background translation (worker.ts) ----
  /** Jobs posted to the worker and not yet installed, by id; the pages they are for. */
  private readonly jobs = new Map<number, { page: number; mode: number; blocks: Block[]; entry: number }>();
  /** Region keys (page * 4 + mode) with a job at the worker. */
  private readonly pendingKeys = new Set<number>();
  private nextJob = 1;
  private lastPoll = 0;

  private post(page: number, mode: number, blocks: Block[], entry: number): void {
    const id = this.nextJob++;
    this.jobs.set(id, { page, mode, blocks, entry });
    this.pendingKeys.add(page * 4 + mode);
    const job: TranslateJob = { id, blocks: wireBlocks(blocks), ramSize: this.cpu.ramSize, paging: pagingOf(mode), helperBase: 0 };
    if (mode === 1) {
      // For the worker's disk cache: the code the region is made of (the page, and the start of the next
      // where a block's last instruction may end). Only with paging off: extra blocks from the cache are
      // decoded here on install, which under paging would walk page tables.
      const at = page << PAGE_SHIFT;
      job.pageBytes = this.cpu.mem.readBytes(at, Math.min(PAGE_SIZE + 16, this.cpu.ramSize - at));
      job.linPage = page;
    }
    this.worker!.port.postMessage(job);
  }

  /** Install what the worker has finished (cheap when nothing has: one receiveMessageOnPort). */
  poll(): void {
    const w = this.worker;
    if (w === null || this.jobs.size === 0) return;
    const now = performance.now();
    if (now - this.lastPoll < 0.05) return;
    this.lastPoll = now;
    for (let msg = w.receive(w.port); msg !== undefined; msg = w.receive(w.port)) {
      const r = msg.message as WorkerResult;
      const job = this.jobs.get(r.id);
      if (job === undefined) continue;
      this.jobs.delete(r.id);
      this.pendingKeys.delete(job.page * 4 + job.mode);
      // Guest code may have changed (or the mode) while the worker translated: then the result is stale.
      if (!r.ok || !job.blocks.every((b) => b.valid) || this.invalidatedSince(job.page, r.id)) continue;
      const blocks = r.blocks === undefined ? job.blocks : this.blocksFor(r.blocks, job);
      if (blocks === null) continue;
      if (r.cached) this.stats.diskHits++;
      this.install(job.page, job.mode, blocks, job.entry, r.module!, r as unknown as RegionOutput & { binary: Uint8Array }, r.ms!);
    }
  }

  /**
   * The decoded blocks a translation from the disk cache was made of: the job's own, and the others
   * decoded now (the same page bytes give the same blocks; any that do not match reject the result).
   */
  private blocksFor(wire: { start: number; eips: number[] }[], job: { mode: number; blocks: Block[]; page: number }): Block[] | null {
    const own = new Map(job.blocks.map((b) => [b.start, b]));
    const out: Block[] = [];
    for (const w of wire) {
      const b = own.get(w.start) ?? this.cache.blockAt(w.start);
      if (!this.eligible(b, job.mode, job.page) || b.phys >>> PAGE_SHIFT !== job.page || b.ops.length !== w.eips.length || b.ops.some((o, k) => o.eip !== w.eips[k])) return null;
      out.push(b);
    }
    return out;
  }

  /** Code writes dropped blocks of `page` after job `id` was posted (its translation is stale). */
  private invalidatedSince(page: number, id: number): boolean {
    const at = this.pageInvalidatedAtJob.get(page);
    return at !== undefined && at >= id;
  }
  private readonly pageInvalidatedAtJob = new Map<number, number>();

  /**
   * Run `region` from the current EIP for at most `budget` instructions. Returns the instructions retired;
   * leaves EIP, registers and flags in the CPU-state block and the exit reason in its JIT_EXIT slot.
   * A fault raised inside is returned by takeFault().
   */
  enter(region: Region, budget: number): number {
    const cpu = this.cpu, s = cpu.s;
    this.entryInstructions = cpu.instructions;
    this.entryMode = region.mode;
    let n: number;
    if (this.profiling) {
      const t0 = performance.now();
      n = region.fn(s[EIP], budget);
      region.profile.timeMs += performance.now() - t0;
    } else n = region.fn(s[EIP], budget);
    const p = region.profile, st = this.stats, why = JIT_EXIT_REASONS[s[JIT_EXIT_SLOT]];
    p.executions++; p.instructions += n; p.exits[why]++;
    st.calls++; st.cacheHits++; st.instructions += n; st.exits[why]++;
    return n;
  }

  /** The fault an instruction raised inside compiled code (after enter() reported EXIT_FAULT). */
  takeFault(): CpuFault {
    const f = this.pendingFault!;
    this.pendingFault = null;
    return f;
  }


  /**
   * An instruction compiled code leaves to the interpreter: the closure of the interpreter block it would
   * be running (the one that starts where compiled code last crossed a block boundary, `bsEip`, `bsCount`
   * instructions into this call), with the count that block would see (I/O reads time as of the block's
   * start; RDTSC adds the instruction's index in it). `n`: instructions retired before this one.
   */
  private helper(idx: number, n: number, bsCount: number, bsEip: number): number {
    let op = this.helperOps[idx], last = this.helperLast[idx];
    const cpu = this.cpu, s = cpu.s, dyn = n - bsCount;
    this.helperRegion[idx].profile.fallbacks++;
    this.stats.fallbacks++;
    const b = this.cache.blockAt(bsEip);
    const same = b.cacheable && b.ops[dyn]?.eip === op.eip;
    if (same) { op = b.ops[dyn]; last = dyn === b.ops.length - 1 || endsBlock(op.ins); }
    cpu.instructions = this.entryInstructions + (same ? bsCount : n - this.helperIndex[idx]);
    s[EIP] = op.next;
    cpu.breakBlock = 0;
    try {
      op.exec();
    } catch (e) {
      cpu.instructions = this.entryInstructions;
      if (!(e instanceof CpuFault)) throw e;
      this.pendingFault = e;
      s[EIP] = op.eip;
      return HELPER_FAULT;
    }
    cpu.instructions = this.entryInstructions;
    const why = cpu.breakBlock;
    let r = 0;
    // A mode change ends compiled code (it assumed flat DS/ES/SS, 32-bit code, no paging): e.g. MOV DS.
    if (why & ~(BREAK_JUMP | BREAK_EIP_SET) || jitMode(cpu) !== this.entryMode) r = HELPER_EXIT;
    else if (why !== 0 || endsBlock(op.ins)) { r = HELPER_JUMP; cpu.breakBlock = 0; }
    if ((cpu.intr & s[EFLAGS]) !== 0 || cpu.shadow !== 0) r |= last ? HELPER_EXIT : HELPER_IRQ;
    // Heavy work (a long REP OUTSB, a big hypercall): leave compiled code so the run loop reads the clock
    // (at the interpreter block's end, as for an interrupt, so block boundaries stay the interpreter's).
    if (cpu.work >= WORK_PER_CLOCK_CHECK) r |= last ? HELPER_EXIT : HELPER_IRQ;
    return r;
  }

  private drop(r: Region): void {
    if (!r.valid) return;
    r.invalidate();
    this.stats.live--;
    this.stats.invalidations++;
    if (this.byPage.get(r.key) === r) this.byPage.delete(r.key);
    for (const b of r.blocks) if (b.compiled === r) b.compiled = undefined;
  }

  /** Drop every region (code buffer full, or the code cache was flushed). */
  flush(): void {
    for (const r of this.byPage.values()) { r.invalidate(); for (const b of r.blocks) if (b.compiled === r) b.compiled = undefined; }
    if (this.byPage.size > 0) this.stats.flushes++; // (a VM reset with nothing compiled is not a flush)
    this.byPage.clear();
    this.stats.live = 0;
    this.helperOps = []; this.helperLast = []; this.helperIndex = []; this.helperRegion = [];
  }

  totals(): JitStats { return { ...this.stats, exits: { ...this.stats.exits } }; }

  profile(): JitProfile {
    return { totals: this.totals(), regions: this.regions.map((r) => ({ ...r.profile, exits: { ...r.profile.exits } })) };
  }

  /** The region covering linear address `addr` (the live one first, else the latest): disassembly and WASM text. */
  dump(addr: number): RegionDump | null {
    addr >>>= 0;
    const covers = (r: Region): boolean => r.blocks.some((b) => addr >= b.start >>> 0 && addr < b.end >>> 0);
    const candidates = this.regions.filter(covers);
    const region = candidates.find((r) => r.valid) ?? candidates[candidates.length - 1];
    if (region === undefined) return null;
    const disassembly: string[] = [];
    for (const b of region.blocks) {
      disassembly.push(`block ${hex(b.start)}..${hex(b.end)} (${b.ops.length} instructions)`);
      for (const op of b.ops) {
        const bytes = Array.from({ length: op.ins.length }, (_, k) => this.cpu.mem.read8(b.phys + (op.eip - b.start) + k).toString(16).padStart(2, '0')).join(' ');
        disassembly.push(`  ${hex(op.eip)}: ${bytes.padEnd(24)} ${formatIntel(op.ins, op.eip)}`);
      }
    }
    let wasmText: string;
    if (region.valid && this.bn !== null) {
      const bn = this.bn, m = new bn.Module();
      try {
        prepareModule(bn, m);
        translateRegion(bn, m, { blocks: region.blocks, ramSize: this.cpu.ramSize, paging: pagingOf(region.mode), helperBase: 0 }, 'run');
        wasmText = m.emitText();
      } finally {
        m.dispose();
      }
    } else wasmText = region.valid ? ';; binaryen is not loaded on the main thread (enable the JIT with profile: true for WASM text)'
      : ';; the region was invalidated (guest code changed or the cache was flushed): its WASM is gone';
    return { region: { ...region.profile, exits: { ...region.profile.exits } }, disassembly, wasmText };
  }
}

const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
