// Which of V8's compilers runs a region module, chosen per module (Node). V8 compiles WebAssembly with
// Liftoff, its one-pass baseline compiler, and by default ("dynamic tiering") recompiles every function that
// runs a while with TurboFan, its optimising compiler, on background threads. A region is one large function
// (a page of guest code: 24 KB of WASM on average in a Linux boot, up to ~300 KB) and nearly every region of
// a boot runs long enough to be recompiled, so TurboFan took most of the boot's CPU (measured: 105-145 s of
// user CPU with V8's tiering, 38 s with Liftoff alone). So the JIT chooses instead of V8: a tier-1 module
// stays with Liftoff (`baseline`), and the regions its own counters find hot are retranslated at tier 2
// and compiled by TurboFan at once, in the background, their Liftoff code running meanwhile (`optimized`).
//
// V8 has no per-module switch, only process-wide flags, read when a module is compiled (its tiers are fixed
// then): they are set around the compile and put back to V8's defaults. A user's own choice wins: when
// Node was started with any of these flags, modules compile as V8 decides (`node --wasm-dynamic-tiering
// dist/x86jit.js …` measures V8's own tiering). Another thread compiling at the same moment (the translation
// worker, the VMs of `x86jit host`) may see the other's flags: that changes which compiler runs, never what
// the code does.
import { setFlagsFromString } from 'node:v8';
import type { ModuleTier } from './jit-host.ts';

const FLAGS: Record<ModuleTier, string> = {
  baseline: '--no-wasm-dynamic-tiering --no-wasm-tier-up --no-wasm-lazy-compilation',
  optimized: '--no-wasm-dynamic-tiering --wasm-tier-up --no-wasm-lazy-compilation',
};
const V8_DEFAULTS = '--wasm-dynamic-tiering --wasm-tier-up --wasm-lazy-compilation';

let userTiers: boolean | undefined;

/** Did the user start Node with flags of V8's WebAssembly tiers (then they decide)? */
function userChoseTiers(): boolean {
  // (Looked at once: asked at every compile, the arguments' scan took ~18 ms of a Linux boot.)
  if (userTiers === undefined) {
    const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
    userTiers = args.some((a) => /^--(no-)?(liftoff|wasm-tier|wasm-dynamic-tiering|wasm-lazy-compilation)/.test(a.replaceAll('_', '-')));
  }
  return userTiers;
}

/** Compile a region module for `tier` (see above). */
export function compileModule(binary: Uint8Array, tier: ModuleTier): WebAssembly.Module {
  if (userChoseTiers()) return new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
  setFlagsFromString(FLAGS[tier]);
  try {
    return new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>);
  } finally {
    setFlagsFromString(V8_DEFAULTS);
  }
}
