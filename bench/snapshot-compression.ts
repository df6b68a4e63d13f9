// `npm run build && node dist/snapshot-compression.js`: what each compression node:zlib offers costs a
// snapshot of a 128 MiB guest with a 4 MiB working set, to choose src/state/snapshot-file.ts's default.
// Prints Markdown tables on stdout (progress on stderr); the figures are medians of X86JIT_BENCH_RUNS runs
// (default 7) of the process's CPU time (user + system, page faults included), which other load on the
// machine disturbs far less than wall time; on an idle machine the two agree. Measured, never asserted.
//
// The RAM is a real VM's (PhysicalMemory: guest RAM inside a WebAssembly.Memory at RAM_OFFSET), every page
// touched once first (a running guest's pages are mapped; the cost of pages never touched is shown apart).
// The working set, 4 MiB in all, seeded and the same every run:
//   - code: the test-roms/*.elf files one after the other from 1 MiB (~0.7 MiB, i386 code, data and padding)
//   - text: this repository's Markdown and TypeScript sources from 16 MiB (1 MiB)
//   - integers and pointers: heap records (a next pointer near the record, counters, flags, small values)
//     on pages scattered over 24-120 MiB (1.25 MiB)
//   - page tables: PTEs mapping consecutive frames (64 KiB), and pages holding a few records in zeros (0.25 MiB)
//   - random bytes (compressed or encrypted data): pages scattered over 24-120 MiB (0.5 MiB)
// node:zlib on Node 20 offers DEFLATE and Brotli (zstd came in Node 22.15); its zlib and gzip formats are
// DEFLATE with a header and a checksum the file's SHA-256 makes redundant, so raw DEFLATE stands for them.
// Columns: encode = encodeSnapshot() (zero scan of all 128 MiB, compression, SHA-256); open =
// decodeSnapshot() (SHA-256 and structure, no RAM decompressed); apply = applyRam() of every chunk into a
// zeroed RAM (targetIsZero); chunk = one RAM chunk decompressed and placed (a lazy restore's first touch).
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { PAGE_SIZE } from '../src/cpu/state.ts';
import { PhysicalMemory } from '../src/machine/memory.ts';
import { applyRam, type Compression, DEFAULT_PAGES_PER_CHUNK, decodeSnapshot, encodeSnapshot, pageBitmap } from '../src/state/snapshot-file.ts';

const ROOT = join(import.meta.dirname, '..');
const RUNS = Number(process.env.X86JIT_BENCH_RUNS ?? 7);
const RAM_SIZE = 128 << 20, MiB = 1 << 20;
const PAGES = RAM_SIZE / PAGE_SIZE;

/** xorshift32: the same working set on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; return (s >>>= 0); };
}

/** Fills `ram` with the working set; returns the pages it wrote. */
function fillWorkingSet(ram: Uint8Array): Set<number> {
  const rand = prng(0x5eed), written = new Set<number>();
  const put = (at: number, bytes: Uint8Array): void => {
    ram.set(bytes, at);
    for (let p = Math.floor(at / PAGE_SIZE); p * PAGE_SIZE < at + bytes.length; p++) written.add(p);
  };
  const freePage = (): number => {
    for (;;) { const p = (24 * MiB) / PAGE_SIZE + (rand() % ((96 * MiB) / PAGE_SIZE)); if (!written.has(p)) return p; }
  };
  // Code: the ROM images from 1 MiB.
  let at = MiB;
  for (const f of readdirSync(join(ROOT, 'test-roms')).filter((f) => f.endsWith('.elf')).sort()) {
    const bytes = readFileSync(join(ROOT, 'test-roms', f));
    put(at, bytes);
    at += bytes.length;
  }
  // Text: the repository's own sources.
  const sources = ['README.md', ...(readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).map((f) => join('src', f)),
    ...(readdirSync(join(ROOT, 'jit'), { recursive: true }) as string[]).map((f) => join('jit', f))].filter((f) => /\.(md|ts)$/.test(f));
  const text = new Uint8Array(MiB);
  for (let n = 0, i = 0; n < text.length; i++) {
    const bytes = readFileSync(join(ROOT, sources[i % sources.length]));
    text.set(bytes.subarray(0, text.length - n), n);
    n += Math.min(bytes.length, text.length - n);
  }
  put(16 * MiB, text);
  // Heap records: 1.25 MiB of 32-byte records on scattered pages.
  for (let k = 0; k < (1.25 * MiB) / PAGE_SIZE; k++) {
    const p = freePage(), words = new Uint32Array(PAGE_SIZE / 4);
    for (let r = 0; r < words.length; r += 8) {
      words[r] = (p * PAGE_SIZE + ((rand() % 128) << 5)) | 0; // next: a record nearby
      words[r + 1] = rand() % 1000;                           // a counter
      words[r + 2] = 1 << (rand() % 8);                       // flags
      words[r + 3] = rand() % 3 === 0 ? 0 : rand() & 0xffff;  // a small value, often zero
      words[r + 4] = 0x00100000 + ((rand() % 0x7f00000) & ~15); // a pointer into the kernel's range
      words[r + 5] = rand();                                  // a hash
      words[r + 6] = r;                                       // an index
      words[r + 7] = 0;
    }
    put(p * PAGE_SIZE, new Uint8Array(words.buffer));
  }
  // Page tables (16 pages of PTEs) and 48 sparse pages (a few records in zeros).
  for (let k = 0; k < 16; k++) {
    const ptes = new Uint32Array(1024);
    for (let i = 0; i < 1024; i++) ptes[i] = ((k * 1024 + i) << 12) | (rand() % 4 === 0 ? 0x67 : 0x07);
    put(2 * MiB + k * PAGE_SIZE, new Uint8Array(ptes.buffer));
  }
  for (let k = 0; k < 48; k++) {
    const page = new Uint8Array(PAGE_SIZE);
    for (let r = 0; r < 4; r++) { const off = (rand() % 64) * 64; for (let i = 0; i < 48; i++) page[off + i] = rand() & (i % 4 === 0 ? 0xff : 0x0f); }
    put(freePage() * PAGE_SIZE, page);
  }
  // Random bytes: 0.5 MiB on scattered pages.
  for (let k = 0; k < (0.5 * MiB) / PAGE_SIZE; k++) {
    const words = new Uint32Array(PAGE_SIZE / 4);
    for (let i = 0; i < words.length; i++) words[i] = rand();
    put(freePage() * PAGE_SIZE, new Uint8Array(words.buffer));
  }
  return written;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = (x: number): string => x.toFixed(x < 10 ? 2 : 1);
/** CPU milliseconds `f` takes (everything here is synchronous on this thread). */
function time(f: () => void): number {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
}

const memory = new PhysicalMemory(RAM_SIZE);
const ram = memory.ram;
for (let p = 0; p < PAGES; p++) ram[p * PAGE_SIZE] = 0; // every page mapped, as in a guest that ran a while
const working = fillWorkingSet(ram);
const target = new Uint8Array(RAM_SIZE).fill(1); // mapped once: apply measures decompression, not page faults
const written = pageBitmap(PAGES, working);
process.stderr.write(`working set: ${working.size} pages (${(working.size * PAGE_SIZE / MiB).toFixed(2)} MiB)\n`);

interface Row { name: string; compression: Compression; level: number; pagesPerChunk?: number }
const rows: Row[] = [
  { name: 'none', compression: 'none', level: 0 },
  { name: 'deflate 1', compression: 'deflate', level: 1 },
  { name: 'deflate 3', compression: 'deflate', level: 3 },
  { name: 'deflate 6', compression: 'deflate', level: 6 },
  { name: 'deflate 9', compression: 'deflate', level: 9 },
  { name: 'brotli 0', compression: 'brotli', level: 0 },
  { name: 'brotli 1', compression: 'brotli', level: 1 },
  { name: 'brotli 2', compression: 'brotli', level: 2 },
  { name: 'brotli 4', compression: 'brotli', level: 4 },
  { name: 'brotli 6', compression: 'brotli', level: 6 },
];

/** Medians of encode, open, apply and one chunk over RUNS runs, and the file's size. */
function measure(row: Row, opts: { written?: Uint8Array } = {}): { encode: number; open: number; apply: number; chunk: number; size: number } {
  const t = { encode: [] as number[], open: [] as number[], apply: [] as number[], chunk: [] as number[] };
  let size = 0;
  for (let r = 0; r < RUNS; r++) {
    let file: Uint8Array = new Uint8Array(0);
    t.encode.push(time(() => { file = encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram, written: opts.written } }, row); }));
    size = file.length;
    let snap!: ReturnType<typeof decodeSnapshot>;
    t.open.push(time(() => { snap = decodeSnapshot(file, {}); }));
    t.apply.push(time(() => applyRam(snap, target, { targetIsZero: true })));
    const c = snap.ram.chunkOf([...working][r % working.size]);
    t.chunk.push(time(() => snap.ram.applyChunk(c, target)));
  }
  return { encode: median(t.encode), open: median(t.open), apply: median(t.apply), chunk: median(t.chunk), size };
}

console.log(`### Full snapshot of a 128 MiB guest, ${(working.size * PAGE_SIZE / MiB).toFixed(2)} MiB working set, ${DEFAULT_PAGES_PER_CHUNK} pages per chunk (CPU ms, median of ${RUNS}, Node ${process.versions.node}, load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)\n`);
console.log('encode: zero scan of 128 MiB + compression + SHA-256; open: decodeSnapshot (SHA-256, structure); apply: every chunk into RAM; one chunk: a lazy restore\'s first touch\n');
console.log('| compression | size (KiB) | ratio | encode ms | open ms | apply ms | one chunk ms |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) {
  process.stderr.write(`${row.name}\n`);
  const m = measure(row);
  console.log(`| ${row.name} | ${(m.size / 1024).toFixed(0)} | ${((working.size * PAGE_SIZE) / m.size).toFixed(2)} | ${ms(m.encode)} | ${ms(m.open)} | ${ms(m.apply)} | ${ms(m.chunk)} |`);
}

console.log('\n### Zero scan, the written-page hint, page faults and a diff (CPU ms, median except first-time lines)\n');
console.log('| step | ms |');
console.log('| --- | ---: |');
const zeroScan = median(Array.from({ length: RUNS }, () => time(() => encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram } }, { compression: 'none' }))));
console.log(`| whole encode, compression none (zero scan of 128 MiB, copy, SHA-256 of 4 MiB) | ${ms(zeroScan)} |`);
const hinted = measure({ name: 'deflate 1', compression: 'deflate', level: 1 }, { written });
console.log(`| whole encode, deflate 1, given the written pages (no zero scan) | ${ms(hinted.encode)} |`);
const fresh = new PhysicalMemory(RAM_SIZE);
fresh.ram.set(ram.subarray(MiB, 5 * MiB), MiB);
console.log(`| whole encode, compression none, of a fresh guest whose other 124 MiB were never touched (a page fault each; first encode only) | ${ms(time(() => encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: fresh.ram } }, { compression: 'none' })))} |`);
const dirty = pageBitmap(PAGES, [...working].filter((_, i) => i % 4 === 0));
const baseId = new Uint8Array(32).fill(7);
console.log(`| diff of ${[...working].filter((_, i) => i % 4 === 0).length} written pages, default compression: encode | ${ms(median(Array.from({ length: RUNS }, () => time(() => encodeSnapshot({ kind: 'diff', baseId, sections: [], ram: { bytes: ram, written: dirty } })))))} |`);
const freshFile = encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram } });
const freshTarget = new PhysicalMemory(RAM_SIZE);
console.log(`| applyRam, default compression, into a fresh guest's RAM (the working set's pages faulted in) | ${ms(time(() => applyRam(decodeSnapshot(freshFile, {}), freshTarget.ram, { targetIsZero: true })))} |`);

console.log('\n### Pages per chunk (the unit a lazy restore decompresses), deflate 1 and brotli 1\n');
console.log('| compression | pages per chunk | size (KiB) | encode ms | apply ms | one chunk ms |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const [compression, level] of [['deflate', 1], ['brotli', 1]] as const) {
  for (const pagesPerChunk of [16, 64, 256, 1024]) {
    process.stderr.write(`${compression} ${pagesPerChunk}\n`);
    const m = measure({ name: '', compression, level, pagesPerChunk });
    console.log(`| ${compression} ${level} | ${pagesPerChunk} | ${(m.size / 1024).toFixed(0)} | ${ms(m.encode)} | ${ms(m.apply)} | ${ms(m.chunk)} |`);
  }
}
