// `npm run bench`: x86jit's speed, measured (never asserted in tests). Prints a Markdown table on stdout,
// writes bench/results.json, and a progress line per step on stderr.
//   - tinybench micro-benchmarks: decode, memory fast path, block dispatch
//   - whole-ROM runs of the loop-heavy test ROMs: median wall time and guest MIPS over N runs
//   - start-up: process start to first guest instruction, and whole `x86jit run hello.elf`
// Options (environment): X86JIT_BENCH_RUNS (default 5) runs per ROM.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { createVM, decodeBytes, loadImage } from '../src/index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROMS = join(ROOT, 'test-roms');
const RUNS = Number(process.env.X86JIT_BENCH_RUNS ?? 5);
/** ROMs whose run time is dominated by guest computation (the MIPS workloads). */
const WORKLOADS = ['loops.elf'];

const progress = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };
const median = (xs: number[]): number => { const a = [...xs].sort((p, q) => p - q); return a[a.length >> 1]; };

interface RomResult { rom: string; runs: number; instructions: number; medianMs: number; mips: number; status: number | undefined }

function runRom(path: string): { ms: number; instructions: number; status: number | undefined } {
  const vm = createVM({ memory: 64 << 20 });
  loadImage(vm, new Uint8Array(readFileSync(path)), path, {});
  const t0 = performance.now();
  const exit = vm.run({ timeout: 120 });
  const ms = performance.now() - t0;
  return { ms, instructions: vm.instructions, status: exit.status };
}

async function micro(): Promise<{ name: string; opsPerSec: number; unit: string }[]> {
  const bench = new Bench({ time: 500 });
  // Decode: the instruction stream of a real ROM, decoded sequentially.
  const text = new Uint8Array(readFileSync(join(ROMS, 'hello.elf'))).subarray(0x1000, 0x1800);
  let decodedPerIteration = 0;
  bench.add('decode (instructions)', () => {
    let n = 0;
    for (let off = 0; off < text.length - 16; n++) off += Math.max(1, decodeBytes(text, off, 32).length);
    decodedPerIteration = n;
  });
  // Memory fast path: 4096 aligned 32-bit loads and stores through DS in flat mode.
  const vm = createVM({ memory: 16 << 20 });
  vm.setFlat32();
  const cpu = vm.cpu;
  bench.add('memory fast path (1 load + 1 store)', () => {
    for (let a = 0x10000; a < 0x10000 + 4096 * 4; a += 4) cpu.write32(3, a, cpu.read32(3, a) + 1);
  });
  // Dispatch: a guest loop `dec ecx; jnz` (2 instructions per iteration) run for 200k instructions.
  const loopVm = createVM({ memory: 4 << 20 });
  loopVm.setFlat32();
  loopVm.memory.writeBytes(0x1000, Uint8Array.from([0x49, 0x75, 0xfd, 0xf4])); // dec ecx; jnz -3; hlt
  bench.add('interpreter dispatch (dec/jnz, 200k instructions)', () => {
    loopVm.setRegisters({ eip: 0x1000, ecx: 100_000 });
    loopVm.run({ maxInstructions: 200_000 });
  });
  await bench.run();
  return bench.tasks.map((t) => {
    const hz = t.result && 'throughput' in t.result ? (t.result as { throughput: { mean: number } }).throughput.mean : 0;
    if (t.name.startsWith('decode')) return { name: t.name, opsPerSec: hz * decodedPerIteration, unit: 'instructions/s' };
    if (t.name.startsWith('memory')) return { name: t.name, opsPerSec: hz * 4096, unit: 'load+store pairs/s' };
    return { name: t.name, opsPerSec: hz * 200_000, unit: 'guest instructions/s' };
  });
}

interface ConsoleResult { rom: string; bytes: number; exits: number; medianMs: number; exitsPerSec: number; bytesPerSec: number }

/** Full virtualization vs paravirtualization: 1 MiB of console output through UART port I/O or the console hypercall. */
function consoleRun(rom: string): ConsoleResult {
  const times: number[] = [];
  let bytes = 0, exits = 0;
  for (let i = 0; i < RUNS; i++) {
    let n = 0;
    const vm = createVM({ memory: 64 << 20, stdout: (b) => { n += b.length; } });
    loadImage(vm, new Uint8Array(readFileSync(join(ROMS, rom))), rom, {});
    const t0 = performance.now();
    vm.run({ timeout: 120 });
    times.push(performance.now() - t0);
    bytes = n;
    exits = vm.exitStats().filter((e) => e.reason === 'IO' || e.reason === 'HYPERCALL').reduce((a, e) => a + e.count, 0);
    progress(`${rom} run ${i + 1}/${RUNS}: ${times[i].toFixed(0)} ms, ${exits} exits`);
  }
  const ms = median(times);
  return { rom, bytes, exits, medianMs: ms, exitsPerSec: exits / (ms / 1000), bytesPerSec: bytes / (ms / 1000) };
}

function startup(): { firstInstructionMs: number; wallMs: number; nodeAloneMs: number } {
  const cli = join(ROOT, 'dist', 'x86jit.js');
  const firsts: number[] = [], walls: number[] = [], bare: number[] = [];
  for (let i = 0; i < 7; i++) {
    const tb = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    bare.push(performance.now() - tb);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [cli, 'run', '--stats', join(ROMS, 'hello.elf')], { encoding: 'utf8' });
    walls.push(performance.now() - t0);
    const m = /first instruction ([\d.]+) ms/.exec(r.stderr);
    if (m) firsts.push(Number(m[1]));
  }
  return { firstInstructionMs: median(firsts), wallMs: median(walls), nodeAloneMs: median(bare) };
}

async function main(): Promise<void> {
  const results: RomResult[] = [];
  for (const rom of WORKLOADS) {
    const path = join(ROMS, rom);
    if (!existsSync(path)) { progress(`${rom}: missing, skipped`); continue; }
    const times: number[] = [];
    let instructions = 0, status: number | undefined;
    for (let i = 0; i < RUNS; i++) {
      const r = runRom(path);
      times.push(r.ms); instructions = r.instructions; status = r.status;
      progress(`${rom} run ${i + 1}/${RUNS}: ${r.ms.toFixed(0)} ms, ${(r.instructions / r.ms / 1000).toFixed(1)} MIPS`);
    }
    const ms = median(times);
    results.push({ rom, runs: RUNS, instructions, medianMs: ms, mips: instructions / ms / 1000, status });
  }
  const consoles = ['console-uart.elf', 'console-pv.elf'].filter((r) => existsSync(join(ROMS, r))).map(consoleRun);
  progress('micro-benchmarks (tinybench)');
  const micros = await micro();
  progress('start-up');
  const start = startup();

  const lines = [
    '| workload (interpreter) | guest instructions | median wall time | guest MIPS |',
    '| --- | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.rom} (status ${r.status}) | ${r.instructions.toLocaleString('en-US')} | ${r.medianMs.toFixed(0)} ms | ${r.mips.toFixed(1)} |`),
    '',
    '| 1 MiB console output (interpreter) | IO + hypercall exits | median wall time | exits/s | MiB/s |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...consoles.map((c) => `| ${c.rom} | ${c.exits.toLocaleString('en-US')} | ${c.medianMs.toFixed(0)} ms | ${Math.round(c.exitsPerSec).toLocaleString('en-US')} | ${(c.bytesPerSec / 2 ** 20).toFixed(2)} |`),
    ...(consoles.length === 2 ? [`| paravirtual speed-up (UART time / hypercall time) | | ${(consoles[0].medianMs / consoles[1].medianMs).toFixed(1)}× | | |`] : []),
    '',
    '| micro-benchmark | rate |',
    '| --- | ---: |',
    ...micros.map((m) => `| ${m.name} | ${(m.opsPerSec / 1e6).toFixed(1)} M ${m.unit} |`),
    '',
    '| start-up | median of 7 |',
    '| --- | ---: |',
    `| process start → first guest instruction | ${start.firstInstructionMs.toFixed(1)} ms |`,
    `| whole \`x86jit run hello.elf\` | ${start.wallMs.toFixed(1)} ms |`,
    `| for scale: \`node -e 0\` on this machine | ${start.nodeAloneMs.toFixed(1)} ms |`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const out = join(ROOT, 'bench', 'results.json');
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: RUNS, roms: results, console: consoles, micro: micros, startup: start }, null, 2)}\n`);
  progress(`wrote ${out}`);
}

await main();
