// What the JIT takes from its host beyond WebAssembly: binaryen.js (the WASM text of regions in profile
// dumps) and a worker thread to translate on (`background`). The core entry has neither — binaryen's Node
// build imports node:module, which browser bundlers refuse, and the worker needs node:worker_threads — so
// there the JIT translates with its own encoder on the calling thread (tiers 1 and 2) and dumps show no
// WASM text; x86jit/node installs Node's (node-jit-host.ts) when it is imported.
import type binaryenT from 'binaryen';
import type { WorkerSupport } from './translation-worker.ts';

export interface JitHost {
  loadBinaryen(): Promise<typeof binaryenT>;
  /** What starting the translation worker needs, or null where there is none (the sources: no dist/jit-worker.js). */
  workerSupport(): Promise<WorkerSupport | null>;
}

let host: JitHost | null = null;

/** Use `h` from now on (process-wide; x86jit/node calls this when imported). */
export function setJitHost(h: JitHost | null): void { host = h; }

export function jitHost(): JitHost | null { return host; }
