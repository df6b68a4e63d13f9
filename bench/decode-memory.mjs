// What the interpreter's decoded code costs in JS heap. Boots the Linux kernel under the interpreter, with
// a code cache too large to be emptied, for INSTRUCTIONS instructions, then prints
//  - the heap retained per cached instruction: the cache is emptied, every block it held is decoded again
//    into it (flat 32-bit blocks; same bytes, same CS) and kept, and heapUsed after global.gc() is compared
//    (weighing the cache full against the cache emptied, without re-decoding, was at the mercy of whatever
//    still referred to the old blocks);
//  - the bytes allocated per decoded instruction: every cached block is decoded again (same bytes, same
//    CS), in batches; heapUsed grows by what a batch allocates, garbage included, unless a GC ran during
//    it (heapUsed fell: the batch is not counted);
//  - the time per decoded instruction: every cached block decoded again, pass after pass, the cache emptied
//    before each (as after the evictions of a boot, which decodes the same code again); the median of 7
//    rounds of at least 200 k instructions, each after a full GC;
//  - the same for a first decode: the tables of interned encodings and of instructions by address emptied
//    too before each pass, so that every instruction is decoded from its bytes and its closures built anew
//    (what code never seen before costs: most of a kernel's start and of every new program).
//   node --expose-gc bench/decode-memory.mjs [--lazy] [DIST] [INSTRUCTIONS]
// DIST is a built dist/ directory (default: this checkout's), to compare builds. --lazy measures the
// decode the JIT's VMs use (CodeCache.lazyOps: blocks decoded into their records only, their instructions
// made when asked for; the boot itself runs under the interpreter either way). It reaches into the cache's
// private fields (blocks32, decodeBlock): a measurement, not an API.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2).filter((a) => a !== '--lazy'), lazy = args.length < process.argv.length - 2;
const dist = resolve(args[0] ?? join(import.meta.dirname, '..', 'dist'));
const count = Number(args[1] ?? 30e6);
const { createVM, loadLinux } = await import(pathToFileURL(join(dist, 'index.js')).href);
const vm = createVM({ memory: 128 << 20, codeCacheSize: 1 << 22, stdout: () => {} });
loadLinux(vm, new Uint8Array(readFileSync(join(import.meta.dirname, '..', '.cache', 'linux', 'vmlinuz'))), { name: 'vmlinuz', cmdline: 'console=ttyS0 panic=-1' });
vm.run({ maxInstructions: count });
const cache = vm.interpreter.cache, cpu = vm.interpreter.cpu;
if (lazy) cache.lazyOps = true;
/** Instructions in decoded block `d` (without making a lazy block's instructions; builds before Block.count had none). */
const countOf = (d) => d.count ?? d.ops.length;
const blocks = [];
for (const b of cache.blocks32.values()) if (b.code32 === 1 && b.csBase === 0) blocks.push({ start: b.start, phys: b.phys });
const heap = () => { global.gc(); global.gc(); return process.memoryUsage().heapUsed; };
cache.flush();
// The tables of short encodings and of instructions by address outlive flushes (CodeCache.intern,
// decodedAt): emptied too, so that the Instructions the blocks hold are weighed with them.
const emptyTables = () => {
  for (const t of [cache.internValues, cache.addrIns]) t?.fill(undefined);
  for (const t of [cache.internKeys, cache.addrKeys]) t?.fill(0);
  cache.decodedByBytes?.clear();
};
emptyTables();
// Retained: decode every block again into the emptied cache, keeping them, and weigh the heap's growth.
const empty = heap();
const kept = [];
let instructions = 0;
for (const b of blocks) { const d = cache.decodeBlock(0, b.start, b.phys); kept.push(d); instructions += countOf(d); }
const full = heap();
console.log(`${dist}: ${instructions} instructions in ${blocks.length} blocks (of ${cache.decoded - blocks.length} decoded in ${count} instructions)`);
console.log(`retained: ${((full - empty) / instructions).toFixed(0)} bytes per cached instruction (${((full - empty) / 1e6).toFixed(1)} MB)`);
kept.length = 0;
cache.flush();

// Decode again, in batches of 200 blocks, with the cache emptied after each so that it stays small.
let bytes = 0, decoded = 0, skipped = 0;
for (let i = 0; i < blocks.length; i += 200) {
  const batch = blocks.slice(i, i + 200);
  const before = process.memoryUsage().heapUsed;
  let n = 0;
  for (const b of batch) n += countOf(cache.decodeBlock(0, b.start, b.phys));
  const grew = process.memoryUsage().heapUsed - before;
  if (grew > 0) { bytes += grew; decoded += n; } else skipped++;
  cache.flush();
}
console.log(`allocated: ${(bytes / decoded).toFixed(0)} bytes per decoded instruction (${decoded} instructions in batches without a GC; ${skipped} batches skipped)`);

// Time: all the blocks decoded again, passes of them in rounds of at least 200 k instructions, the cache
// emptied before each pass.
const passes = Math.ceil(200e3 / instructions);
const timed = (label, first) => {
  const rounds = [];
  for (let r = 0; r < 7; r++) {
    heap();
    let n = 0, ms = 0;
    for (let p = 0; p < passes; p++) {
      cache.flush();
      if (first) emptyTables();
      const t0 = performance.now();
      for (const b of blocks) n += countOf(cache.decodeBlock(0, b.start, b.phys));
      ms += performance.now() - t0;
    }
    rounds.push((ms * 1e6) / n);
  }
  rounds.sort((a, b) => a - b);
  console.log(`${label}: ${rounds[3].toFixed(0)} ns per decoded instruction (median of 7 rounds; ${rounds.map((t) => t.toFixed(0)).join(' ')})`);
};
timed('time', false);
timed('first decode', true);
