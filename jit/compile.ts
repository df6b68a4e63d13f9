// One region → one WASM binary: the translation step shared by the main thread (synchronous mode) and the
// translation worker (worker.ts). Input and output are plain data (structured-clone safe).
import type { WasmBackend } from './wasm-backend.ts';
import { prepareModule, type RegionBlock, type RegionOutput, translateRegion } from './translate.ts';
import { checkModule } from './module-check.ts';

export interface TranslateJob {
  id: number;
  blocks: RegionBlock[];
  ramSize: number;
  /** 0: paging off; 1/2: paging on for supervisor/user accesses (RegionInput.paging). */
  paging: number;
  helperBase: number;
  /** Form WASM loops of multi-segment loops (RegionInput.loops: tier 2). */
  loops?: boolean;
  /** RegionInput.counter (tier 1). */
  counter?: number;
  /** RegionInput.segmentCounters (a profiled tier-1 region). */
  segmentCounters?: number;
  /** For the worker's disk cache (region-cache.ts), with paging off: the span's bytes and the next span's first 16, and the span's address. */
  spanBytes?: Uint8Array;
  spanStart?: number;
}

export interface CompiledRegionData extends RegionOutput {
  binary: Uint8Array;
  /** Host time to build and emit the module, ms. */
  ms: number;
}

/**
 * Translate and emit one region with `bn`: binaryen.js (its default export) or our direct encoder
 * (wasm-encoder.ts's `wasmEncoder`), which build the same module through the same API. `passes`: binaryen
 * passes to run (AcceleratorConfig.passes, X86JIT_JIT_PASSES in the CLI; none by default). Measured on the
 * workload suite (README, "The JIT"): V8's optimising tier already does what the cheap passes do, so they
 * cost translation time without speeding up the code; the option is for re-measuring.
 */
export function compileRegion(bn: WasmBackend, job: TranslateJob, passes: readonly string[] = []): CompiledRegionData {
  const t0 = performance.now();
  const m = new bn.Module();
  try {
    prepareModule(bn, m);
    const out = translateRegion(bn, m, { blocks: job.blocks, ramSize: job.ramSize, paging: job.paging, helperBase: job.helperBase, loops: job.loops, counter: job.counter, segmentCounters: job.segmentCounters }, 'run');
    // Passes are binaryen's own (the encoder has none and ignores them).
    if (passes.length > 0 && m.runPasses !== undefined) m.runPasses([...passes]);
    const binary = m.emitBinary();
    checkModule(binary);
    return { ...out, binary, ms: performance.now() - t0 };
  } finally {
    m.dispose();
  }
}

/** The plain-data form of decoded blocks (no closures) for a job. */
export function wireBlocks(blocks: readonly RegionBlock[]): RegionBlock[] {
  return blocks.map((b) => ({ start: b.start, ops: b.ops.map((o) => ({ ins: o.ins, eip: o.eip, next: o.next })), phys2: b.phys2 }));
}
