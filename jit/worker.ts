// The JIT's translation thread: binaryen lives here, so loading it (~0.3 s) and translating regions
// (milliseconds each) never stall a vCPU, which keeps interpreting until the compiled region arrives
// (v86 likewise compiles off the hot path). One worker serves every VM of the process: each JIT connects
// its own MessagePort (with its settings: disk cache, binaryen passes), which its synchronous run loop
// polls with receiveMessageOnPort between blocks.
// Jobs and results are plain data; the result carries the compiled WebAssembly.Module. Translations are
// kept on disk (region-cache.ts): a region translated in an earlier run is loaded, without binaryen.
// Bundled as dist/jit-worker.js.
import { type MessagePort, parentPort } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CompiledRegionData, compileRegion, type TranslateJob } from './compile.ts';
import { defaultCacheDir, RegionCache } from './region-cache.ts';
import type { WorkerConfig } from './translation-worker.ts';
import { decodeBytes } from '../src/decoder/decode.ts';
import type { RegionBlock } from './translate.ts';
import { compileModule } from './v8-tiers.ts';

/** A region of the usual instruction mix (loads, stores, ALU, compare-and-branch, calls, a helper). */
function warmUpJob(): TranslateJob {
  const code = Uint8Array.from([
    0x8b, 0x45, 0x08, 0x01, 0xc8, 0x89, 0x04, 0x24, 0x39, 0xd8, 0x0f, 0x94, 0xc1, 0x0f, 0xb6, 0x13, 0x41, 0xd1, 0xea, // mov add mov cmp sete movzx inc shr
    0xc1, 0xc0, 0x07, 0x0f, 0xaf, 0xc2, 0x50, 0x5b, 0x85, 0xdb, 0x75, 0xe0, 0xe8, 0x00, 0x00, 0x00, 0x00, // rol imul push pop test jne call
    0xee, 0xf7, 0x75, 0x04, 0xff, 0xe0, 0xc3, // out div jmp eax ret
  ]);
  const ops = [];
  for (let at = 0; at < code.length;) {
    const ins = decodeBytes(code, at, 32);
    ops.push({ ins, eip: 0x100000 + at, next: 0x100000 + at + ins.length });
    at += ins.length;
  }
  const blocks: RegionBlock[] = [{ start: 0x100000, ops }];
  return { id: 0, blocks, ramSize: 16 << 20, paging: 1, helperBase: 0 };
}

/** binaryen, loaded on the first translation that the cache does not have (or when a JIT asks to be ready). */
let binaryen: Promise<typeof import('binaryen').default> | null = null;
function loadBinaryen(): Promise<typeof import('binaryen').default> {
  if (binaryen === null) {
    binaryen = import('binaryen').then((m) => {
      const bn = m.default;
      // Warm binaryen's own code (V8 compiles it lazily) on a small synthetic region before reporting
      // ready, so the first real translation is not several times slower than the rest.
      for (let k = 0; k < 3; k++) compileRegion(bn, warmUpJob());
      return bn;
    });
    binaryen.then(() => parentPort!.postMessage({ ready: true }), (e: Error) => parentPort!.postMessage({ ready: false, error: e.message }));
  }
  return binaryen;
}

/** The persistent caches' version: this bundle's own text, so a changed translator misses. */
const VERSION = createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).digest('hex');
/** The caches opened, by directory (each JIT's port names its own, WorkerConfig.cacheDir). */
const caches = new Map<string, RegionCache | null>();
function cacheIn(dir: string | null | undefined): RegionCache | null {
  if (dir === null) return null;
  dir ??= defaultCacheDir();
  if (!caches.has(dir)) caches.set(dir, RegionCache.open(dir, VERSION));
  return caches.get(dir)!;
}

/** A job's translation: from the cache when an entry covers its blocks, else translated (with the entry's blocks). */
async function translate(job: TranslateJob, cache: RegionCache | null, passes: readonly string[], ignoreCache = false): Promise<{ data: CompiledRegionData; blocks: RegionBlock[]; cached: boolean }> {
  const key = cache?.key(job);
  const entry = key !== undefined && !ignoreCache ? cache!.get(key, job.spanStart!) : null;
  if (entry !== null) {
    const have = new Set(entry.blocks.map((b) => b.start));
    if (job.blocks.every((b) => have.has(b.start))) return { data: entry.data, blocks: entry.blocks, cached: true };
  }
  let blocks = job.blocks;
  if (entry !== null) {
    const mine = new Set(job.blocks.map((b) => b.start));
    blocks = [...job.blocks, ...entry.blocks.filter((b) => !mine.has(b.start))];
  }
  const data = compileRegion(await loadBinaryen(), { ...job, blocks }, passes);
  if (key !== undefined) cache!.put(key, { blocks, data });
  return { data, blocks, cached: false };
}

parentPort!.on('message', (msg: { port?: MessagePort; config?: WorkerConfig; load?: boolean }) => {
  if (msg.load) { void loadBinaryen(); return; }
  const port = msg.port!, { cacheDir, passes } = msg.config!;
  const cache = cacheIn(cacheDir);
  port.on('message', async (job: TranslateJob) => {
    try {
      let { data, blocks, cached } = await translate(job, cache, passes);
      let module: WebAssembly.Module;
      try {
        module = compileModule(data.binary, job.loops === true ? 'optimized' : 'baseline');
      } catch (e) {
        if (!cached) throw e;
        // An entry that passed its checks (digest, format, shape) yet does not compile: translate afresh, and
        // replace it.
        ({ data, blocks, cached } = await translate(job, cache, passes, true));
        module = compileModule(data.binary, job.loops === true ? 'optimized' : 'baseline');
      }
      // The blocks go back only when they are not the job's own (the main thread decodes the others).
      port.postMessage({ id: job.id, ok: true, ...data, cached, blocks: blocks === job.blocks ? undefined : blocks.map((b) => ({ start: b.start, eips: b.ops.map((o) => o.eip) })), module });
    } catch (e) {
      port.postMessage({ id: job.id, ok: false, error: (e as Error).message });
    }
  });
});
