// The translation worker's client: the process's one worker thread (worker.ts, bundled as
// dist/jit-worker.js), started on first use and shared by every VM's JIT, and per JIT the jobs it has
// posted on its own MessagePort, which the synchronous run loop polls between blocks.
import type { Block } from '../src/cpu/code-cache.ts';
import type { Cpu } from '../src/cpu/cpu.ts';
import { regionCounter } from '../src/cpu/state.ts';
import { type CompiledRegionData, type TranslateJob, wireBlocks } from './compile.ts';
import { jitHost } from './jit-host.ts';
import { FLAT_SPAN_SHIFT, pagingOf, regionKey, spanOf } from './region.ts';

/** What each JIT's port tells the worker before its first job. */
export interface WorkerConfig {
  /** The disk cache's directory, null for none, undefined for the default (region-cache.ts). */
  cacheDir?: string | null;
  /** binaryen passes to run on every region (compile.ts). */
  passes: readonly string[];
}

/** One JIT's connection to the worker: its port and how to read it without awaiting. */
interface WorkerPort {
  port: MessagePort;
  receive: (port: MessagePort) => { message: unknown } | undefined;
}

interface SharedWorker { connect: (config: WorkerConfig) => WorkerPort; ready: Promise<boolean>; load: () => void }

/** node:worker_threads' MessagePort, as far as the JIT uses it (spelt out: the core's types do not need @types/node). */
interface MessagePort { postMessage(m: unknown): void; unref(): void; close(): void }

/** What the JIT uses of node:worker_threads. */
export interface WorkerThreads {
  Worker: new (url: URL, opts: { execArgv: string[] }) => {
    once(event: 'message' | 'error', f: (m: { ready: boolean }) => void): unknown;
    postMessage(m: unknown, transfer?: readonly unknown[]): void;
    ref(): void; unref(): void;
  };
  MessageChannel: new () => { port1: MessagePort; port2: unknown };
  receiveMessageOnPort(port: never): { message: unknown } | undefined;
}

/** What starting the worker needs (loaded asynchronously once, from the JIT's host: jit-host.ts), or null where there is none (sources, browsers). */
export interface WorkerSupport { wt: WorkerThreads; url: URL }
let support: Promise<WorkerSupport | null> | null = null;

function workerSupport(): Promise<WorkerSupport | null> {
  support ??= jitHost()?.workerSupport() ?? Promise.resolve(null);
  return support;
}

/** The process's translation worker: started once, shared by every VM's JIT (each on its own port). */
let sharedWorker: SharedWorker | null = null;

/** Start the worker once. */
function startWorker({ wt, url }: WorkerSupport): SharedWorker | null {
  if (sharedWorker !== null) return sharedWorker;
  try {
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
    const connect = (config: WorkerConfig): WorkerPort => {
      const { port1, port2 } = new wt.MessageChannel();
      worker.postMessage({ port: port2, config }, [port2]);
      port1.unref();
      return { port: port1, receive: wt.receiveMessageOnPort as (port: MessagePort) => { message: unknown } | undefined };
    };
    return (sharedWorker = { connect, ready, load });
  } catch {
    return null;
  }
}

async function translationWorker(): Promise<SharedWorker | null> {
  const s = await workerSupport();
  return s === null ? null : startWorker(s);
}

/** Resolves when the translation worker has loaded binaryen (true), or cannot (false: no worker). */
export async function translationWorkerReady(): Promise<boolean> {
  const w = await translationWorker();
  if (w === null) return false;
  w.load();
  return w.ready;
}

/** A span posted for translation: what the result is installed as (its tier; a tier-1 region's counter index, else -1). */
export interface WorkerJob { span: number; mode: number; blocks: Block[]; entry: number; tier: number; counter: number }

/** What the worker sends back for a job. */
export interface WorkerResult extends Partial<CompiledRegionData> {
  id: number; ok: boolean; error?: string; module?: WebAssembly.Module;
  /** Loaded from the disk cache; the blocks translated when they are not the job's own. */
  cached?: boolean; blocks?: { start: number; eips: number[] }[];
}

/** One JIT's jobs at the worker. */
export class TranslationClient {
  /** Jobs posted to the worker and not yet installed, by id. */
  private readonly jobs = new Map<number, WorkerJob>();
  /** Region keys (regionKey: span * 4 + mode) with a job at the worker. */
  private readonly pendingKeys = new Set<number>();
  /** The last job posted before a code write dropped blocks of each region key's span (results of jobs up to it are stale). */
  private readonly invalidatedAtJob = new Map<number, number>();
  private nextJob = 1;
  private lastPoll = 0;

  /** `install`: a result that is still good (its blocks valid, its span unwritten since the job was posted). */
  private constructor(private readonly worker: WorkerPort, private readonly cpu: Cpu, private readonly install: (job: WorkerJob, r: WorkerResult) => void) {}

  /** Leave the worker (vm.destroy()): close this JIT's port and forget its jobs. */
  close(): void { this.worker.port.close(); this.jobs.clear(); this.pendingKeys.clear(); }

  /** A client on the process's worker, or null when no worker can be started. */
  static async connect(cpu: Cpu, config: WorkerConfig, install: (job: WorkerJob, r: WorkerResult) => void): Promise<TranslationClient | null> {
    const shared = await translationWorker();
    return shared === null ? null : new TranslationClient(shared.connect(config), cpu, install);
  }

  /** Is a translation of region key `key` at the worker? */
  pending(key: number): boolean { return this.pendingKeys.has(key); }

  /** The block at physical `phys` was dropped: a pending translation of its span may have read it (mark it stale). */
  blockDropped(phys: number): void {
    for (let mode = 1; mode <= 3; mode++) {
      const key = regionKey(spanOf(phys, mode), mode);
      if (this.pendingKeys.has(key)) this.invalidatedAtJob.set(key, this.nextJob - 1);
    }
  }

  /** Translate `blocks` of `span` at `tier` (2: with loops; 1: counting into regionCounter(counter)). */
  post(span: number, mode: number, blocks: Block[], entry: number, tier: number, counter: number): void {
    const id = this.nextJob++;
    this.jobs.set(id, { span, mode, blocks, entry, tier, counter });
    this.pendingKeys.add(regionKey(span, mode));
    const job: TranslateJob = {
      id, blocks: wireBlocks(blocks), ramSize: this.cpu.ramSize, paging: pagingOf(mode), helperBase: 0, loops: tier === 2, counter: counter < 0 ? undefined : regionCounter(counter),
    };
    if (mode === 1) {
      // For the worker's disk cache: the code the region is made of (the span, and the start of the next
      // where a block's last instruction may end). Only with paging off: extra blocks from the cache are
      // decoded here on install, which under paging would walk page tables.
      const at = span << FLAT_SPAN_SHIFT;
      job.spanBytes = this.cpu.mem.readBytes(at, Math.min((1 << FLAT_SPAN_SHIFT) + 16, this.cpu.ramSize - at));
      job.spanStart = at;
    }
    this.worker.port.postMessage(job);
  }

  /** Install what the worker has finished (cheap when nothing has: one receiveMessageOnPort). */
  poll(): void {
    const w = this.worker;
    if (this.jobs.size === 0) return;
    const now = performance.now();
    if (now - this.lastPoll < 0.05) return;
    this.lastPoll = now;
    for (let msg = w.receive(w.port); msg !== undefined; msg = w.receive(w.port)) {
      const r = msg.message as WorkerResult;
      const job = this.jobs.get(r.id);
      if (job === undefined) continue;
      this.jobs.delete(r.id);
      const key = regionKey(job.span, job.mode);
      this.pendingKeys.delete(key);
      // Guest code may have changed (or the mode) while the worker translated: then the result is stale.
      if (!r.ok || !job.blocks.every((b) => b.valid) || this.invalidatedSince(key, r.id)) continue;
      this.install(job, r);
    }
  }

  /** Code writes dropped blocks of region key `key`'s span after job `id` was posted (its translation is stale). */
  private invalidatedSince(key: number, id: number): boolean {
    const at = this.invalidatedAtJob.get(key);
    return at !== undefined && at >= id;
  }
}
