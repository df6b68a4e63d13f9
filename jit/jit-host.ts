// What the JIT takes from its host beyond WebAssembly: binaryen.js (the WASM text of regions in profile
// dumps), a worker thread to translate on (`background`), and the choice of V8's compiler for each module
// (v8-tiers.ts). The core entry has none of them — binaryen's Node build imports node:module, which
// browser bundlers refuse, the worker needs node:worker_threads, and V8's flags node:v8 — so there the JIT
// translates with its own encoder on the calling thread (tiers 1 and 2), the engine picks its compilers,
// and dumps show no WASM text; x86jit/node installs Node's (node-jit-host.ts) when it is imported.
import type binaryenT from 'binaryen';
import type { WorkerSupport } from './translation-worker.ts';

/** How a region module is compiled: `baseline` for tier 1 (a fast compile, no later recompiles), `optimized` for tier 2 (the engine's best code, in the background). */
export type ModuleTier = 'baseline' | 'optimized';

export interface JitHost {
  loadBinaryen(): Promise<typeof binaryenT>;
  /** Compile a region module for `tier` (absent: `new WebAssembly.Module`, the engine decides). */
  compileModule?(binary: Uint8Array, tier: ModuleTier): WebAssembly.Module;
  /** What starting the translation worker needs, or null where there is none (the sources: no dist/jit-worker.js). */
  workerSupport(): Promise<WorkerSupport | null>;
}

let host: JitHost | null = null;

/** Use `h` from now on (process-wide; x86jit/node calls this when imported). */
export function setJitHost(h: JitHost | null): void { host = h; }

export function jitHost(): JitHost | null { return host; }

/** Compile a region module for `tier` as the host chooses. */
export function compileRegionModule(binary: Uint8Array, tier: ModuleTier): WebAssembly.Module {
  return host?.compileModule?.(binary, tier) ?? new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
}
