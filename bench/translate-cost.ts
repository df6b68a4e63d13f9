// What translating a region costs, per guest instruction, on the regions of a real workload: boots the
// Debian kernel (scripts/fetch-debian-kernel.sh) with the busybox initramfs of the Linux test under the
// JIT to its power-off, takes every region the JIT installed (their decoded blocks, as translated), and
// translates them all again, round after round, timing apart:
//  - our side: the translator and our WASM encoder (jit/compile.ts compileRegion), from blocks to bytes;
//  - V8's side: compiling those bytes with Liftoff alone, as tier 1 is (jit-host.ts; tier 2's TurboFan
//    compile runs in the background and is left out), module by module, and by module size with the time
//    each instantiation takes.
// Each figure is the median of ROUNDS rounds, each after a GC when --expose-gc is given. A boot's own
// `--stats` time mixes these with instantiation and with the machine's noise; this isolates them, so that
// a change to the translator can be measured in a few seconds:
//   node --expose-gc dist/translate-cost-bench.js [ROUNDS]
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// x86jit/node, not the core: it installs Node's JIT host (jit-host.ts), whose per-module choice of V8's
// compiler (v8-tiers.ts: Liftoff alone at tier 1) the boot and the V8 figure must have. Without it V8 compiles
// lazily — a region's function only when first called — and `new WebAssembly.Module` merely validates.
import { VM, loadLinux } from '../src/node.ts';
import { compileRegion, wireBlocks, type TranslateJob } from '../jit/compile.ts';
import { compileRegionModule } from '../jit/jit-host.ts';
import { wasmEncoder } from '../jit/wasm-encoder.ts';
import { pagingOf, type Region } from '../jit/region.ts';
import { busyboxInitramfs } from '../scripts/make-initramfs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kernel = join(root, '.cache', 'linux', 'vmlinuz'), busybox = join(root, '.cache', 'i386', 'busybox', 'busybox');
if (!existsSync(kernel) || !existsSync(busybox)) {
  console.error('translate-cost: needs .cache/linux/vmlinuz and .cache/i386/busybox/busybox (scripts/fetch-debian-kernel.sh, scripts/fetch-i386-busybox.sh)');
  process.exit(2);
}
const rounds = Number(process.argv[2] ?? 5);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const vm = await VM.create({ memory: 128 << 20, engine: 'jit', stdout: () => {} });
loadLinux(vm, new Uint8Array(readFileSync(kernel)), { name: 'vmlinuz', cmdline: 'console=ttyS0 panic=-1', initrd: busyboxInitramfs(busybox, join(root, 'tests', 'linux', 'init')) });
const t0 = performance.now();
const exit = vm.run({ maxInstructions: 20e9 });
console.log(`boot: ${exit.reason} after ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// The JIT's regions (every one installed: the profile keeps them), as translation jobs. (Private fields: a
// measurement, not an API.)
const jit = (vm as unknown as { interpreter: { jit: { regions: { all: Region[] } } } }).interpreter.jit;
const jobs: { job: TranslateJob }[] = jit.regions.all.map((r) => ({
  job: { id: 0, blocks: wireBlocks(r.blocks), ramSize: 128 << 20, paging: pagingOf(r.mode), helperBase: 0, loops: r.profile.tier === 2 },
}));
// V8 keeps a compiled module by its bytes while it lives, and compiles the same bytes again from that (the
// boot's live regions, the previous round's modules until collected): each round gives every region's
// counter another address, so that no round's bytes were seen before.
vm.destroy();
let instructions = 0;
const distinct = new Set<string>();
for (const { job } of jobs) {
  const eips = new Set(job.blocks.flatMap((b) => b.ops.map((o) => o.eip)));
  instructions += eips.size;
  for (const e of eips) distinct.add(`${job.paging}:${e}`);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
/** Modules by WASM size (below `below` bytes), summed over the rounds. */
const SIZE_CLASSES = [5e3, 2e4, 5e4, Infinity].map((below) => ({ below, modules: 0, bytes: 0, compileMs: 0, instantiateMs: 0 }));
const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
const ours: number[] = [], v8: number[] = [];
let bytes = 0;
for (let round = 0; round < rounds; round++) {
  gc();
  const binaries: Uint8Array[] = [];
  const t = performance.now();
  for (const { job } of jobs) binaries.push(compileRegion(wasmEncoder, { ...job, counter: 64 + 4 * round }).binary);
  ours.push(performance.now() - t);
  bytes = binaries.reduce((n, b) => n + b.length, 0);
  gc();
  // Each module timed alone (the round's V8 figure is their sum), by size, then instantiated as the JIT
  // does (its memory and chain imports, and the helper where it imports one): what a module costs whatever
  // its size shows in the size classes.
  let compileMs = 0;
  for (const binary of binaries) {
    const c = SIZE_CLASSES.find((k) => binary.length < k.below)!;
    const t0 = performance.now();
    const module = compileRegionModule(binary, 'baseline');
    const t1 = performance.now();
    new WebAssembly.Instance(module, { env: { memory, chain: () => 0, helper: () => 0 } });
    compileMs += t1 - t0;
    c.modules++; c.bytes += binary.length; c.compileMs += t1 - t0; c.instantiateMs += performance.now() - t1;
  }
  v8.push(compileMs);
}
const us = (ms: number): string => ((ms * 1000) / instructions).toFixed(2);
console.log(`${jobs.length} regions, ${instructions} guest instructions (${distinct.size} distinct), ${(bytes / 1e6).toFixed(2)} MB of WASM (${(bytes / instructions).toFixed(1)} bytes per instruction)`);
console.log(`translator + encoder: ${median(ours).toFixed(0)} ms (${us(median(ours))} µs per instruction), median of ${rounds}`);
console.log(`V8 compile:           ${median(v8).toFixed(0)} ms (${us(median(v8))} µs per instruction), median of ${rounds}`);
let below = 0;
for (const c of SIZE_CLASSES) {
  const range = c.below === Infinity ? `${below / 1e3} KB and more` : `${below / 1e3}-${c.below / 1e3} KB`;
  below = c.below;
  if (c.modules === 0) continue;
  console.log(`  modules of ${range}: ${c.modules / rounds} a round, compiled at ${(c.bytes / 1e3 / c.compileMs).toFixed(1)} MB/s (${(c.compileMs / c.modules).toFixed(2)} ms each), instantiated in ${(c.instantiateMs / c.modules).toFixed(2)} ms each`);
}
process.exit(0);
