// `npm run bench`: x86jit's speed, measured (never asserted in tests). Prints a Markdown table on stdout,
// writes bench/results.json, and a progress line per step on stderr.
//   - tinybench micro-benchmarks: decode, memory fast path, block dispatch
//   - whole-ROM runs of the workload ROMs (loops.elf, test-roms/wl-*.elf): median wall time and guest MIPS
//     over N runs, each run alternating with a run of the same ROM under qemu-system-i386 (if installed)
//   - start-up: process start to first guest instruction, and whole `x86jit run hello.elf`
// Options (environment): X86JIT_BENCH_RUNS (default 5) runs per ROM; X86JIT_BENCH_REPEAT (default 16) repetitions
// of each wl-*.elf workload per run (Multiboot command line `repeat=N`, test-roms/src/wl-repeat.h), so that
// QEMU's compute time stands well above its start-up (~0.1 s); the tests run them once (~6-7 M instructions each).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { createVM, decodeBytes, loadImage } from '../src/index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROMS = join(ROOT, 'test-roms');
const RUNS = Number(process.env.X86JIT_BENCH_RUNS ?? 5);
const REPEAT = Number(process.env.X86JIT_BENCH_REPEAT ?? 16);
if (!Number.isInteger(REPEAT) || REPEAT < 1 || REPEAT > 10000) {
  process.stderr.write(`bench: X86JIT_BENCH_REPEAT must be an integer from 1 to 10000 (the ROMs' limit), not ${process.env.X86JIT_BENCH_REPEAT}\n`);
  process.exit(2);
}
/** ROMs whose run time is dominated by guest computation (the MIPS workloads). */
const WORKLOADS = ['loops.elf', ...readdirSync(ROMS).filter((f) => /^wl-.*\.elf$/.test(f)).sort()];
const QEMU = 'qemu-system-i386';
/** The Multiboot command line for a workload ROM: the wl-*.elf ROMs repeat their work N times. */
const cmdlineFor = (rom: string): string => (rom.startsWith('wl-') ? `${rom} repeat=${REPEAT}` : rom);

const progress = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };
const median = (xs: number[]): number => { const a = [...xs].sort((p, q) => p - q); return a[a.length >> 1]; };

/** QEMU's side of one workload: whole-process wall time, and that time less QEMU's start-up (hello.elf). */
interface QemuResult { medianMs: number; correctedMs: number; status: number | null; ratio: number | null }
interface RomResult {
  rom: string; runs: number; instructions: number; medianMs: number; mips: number; status: number | undefined;
  qemu: QemuResult | null;
}

function qemuVersion(): string | null {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0].trim() : null;
}

/** One whole qemu-system-i386 process (start-up included). Serial output goes to /dev/null: QEMU's stdio
 *  chardev drops bytes on a full pipe, and the output is checked by tests/roms.test.ts, not here. */
function runQemu(path: string, cmdline: string): { ms: number; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(QEMU, ['-kernel', path, '-append', cmdline, '-serial', 'file:/dev/null', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-display', 'none', '-nodefaults'], { stdio: 'ignore', timeout: 120_000 });
  return { ms: performance.now() - t0, status: r.status };
}

const geomean = (xs: number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

function runRom(path: string, cmdline: string): { ms: number; instructions: number; status: number | undefined } {
  const vm = createVM({ memory: 64 << 20 });
  loadImage(vm, new Uint8Array(readFileSync(path)), path, { cmdline });
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
  const qemuVer = qemuVersion();
  let qemuStartupMs: number | null = null;
  if (qemuVer) {
    // QEMU's own start-up and shut-down, measured on a ROM that does almost nothing.
    const hello = join(ROMS, 'hello.elf');
    const times: number[] = [];
    for (let i = 0; i < Math.max(RUNS, 5); i++) times.push(runQemu(hello, 'hello.elf').ms);
    qemuStartupMs = median(times);
    progress(`${qemuVer}: start-up (hello.elf) ${qemuStartupMs.toFixed(0)} ms`);
  } else {
    progress(`${QEMU} not found: QEMU columns skipped`);
  }
  const results: RomResult[] = [];
  for (const rom of WORKLOADS) {
    const path = join(ROMS, rom);
    if (!existsSync(path)) { progress(`${rom}: missing, skipped`); continue; }
    const times: number[] = [], qemuTimes: number[] = [];
    let instructions = 0, status: number | undefined, qemuStatus: number | null = null;
    // Alternate the two so that machine noise (frequency, other load) hits both alike.
    for (let i = 0; i < RUNS; i++) {
      const r = runRom(path, cmdlineFor(rom));
      times.push(r.ms); instructions = r.instructions; status = r.status;
      let line = `${rom} run ${i + 1}/${RUNS}: ${r.ms.toFixed(0)} ms, ${(r.instructions / r.ms / 1000).toFixed(1)} MIPS`;
      if (qemuVer) {
        const q = runQemu(path, cmdlineFor(rom));
        qemuTimes.push(q.ms); qemuStatus = q.status;
        line += `; QEMU ${q.ms.toFixed(0)} ms (exit ${q.status})`;
      }
      progress(line);
    }
    // Status 1 = the ROM's own checks passed (for wl-*: every repetition gave the expected results).
    if (status !== 1 || (qemuVer && qemuStatus !== 1)) progress(`${rom}: WARNING: exit status x86jit ${status}, QEMU ${qemuStatus} (1 = pass)`);
    const ms = median(times);
    let qemu: QemuResult | null = null;
    if (qemuVer && qemuStartupMs !== null) {
      const qms = median(qemuTimes), corrected = qms - qemuStartupMs;
      qemu = { medianMs: qms, correctedMs: corrected, status: qemuStatus, ratio: corrected > 0 ? corrected / ms : null };
    }
    results.push({ rom, runs: RUNS, instructions, medianMs: ms, mips: instructions / ms / 1000, status, qemu });
  }
  const geomeanMips = results.length ? geomean(results.map((r) => r.mips)) : 0;
  const ratios = results.map((r) => r.qemu?.ratio).filter((x): x is number => typeof x === 'number');
  const geomeanRatio = ratios.length === results.length && ratios.length ? geomean(ratios) : null;
  const consoles = ['console-uart.elf', 'console-pv.elf'].filter((r) => existsSync(join(ROMS, r))).map(consoleRun);
  progress('micro-benchmarks (tinybench)');
  const micros = await micro();
  progress('start-up');
  const start = startup();

  const ratioCell = (x: number | null | undefined): string => (typeof x === 'number' ? `${x.toFixed(3)}` : 'n/a (below start-up noise)');
  const workloadTable = qemuVer && qemuStartupMs !== null
    ? [
      `| workload (x86jit interpreter vs ${qemuVer}, TCG; wl-*: repeat=${REPEAT}) | guest instructions | x86jit median | x86jit MIPS | QEMU median (whole process) | QEMU less start-up | QEMU/x86jit time |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...results.map((r) => `| ${r.rom} (status ${r.status}; QEMU exit ${r.qemu?.status}) | ${r.instructions.toLocaleString('en-US')} | ${r.medianMs.toFixed(0)} ms | ${r.mips.toFixed(1)} | ${r.qemu?.medianMs.toFixed(0)} ms | ${r.qemu?.correctedMs.toFixed(0)} ms | ${ratioCell(r.qemu?.ratio)} |`),
      `| geometric mean | | | ${geomeanMips.toFixed(1)} | | | ${ratioCell(geomeanRatio)} |`,
      `| QEMU start-up (hello.elf, whole process, median of ${Math.max(RUNS, 5)}) | | | | ${qemuStartupMs.toFixed(0)} ms | | |`,
    ]
    : [
      `| workload (interpreter, wl-*: repeat=${REPEAT}; ${QEMU} not installed: no QEMU columns) | guest instructions | median wall time | guest MIPS |`,
      '| --- | ---: | ---: | ---: |',
      ...results.map((r) => `| ${r.rom} (status ${r.status}) | ${r.instructions.toLocaleString('en-US')} | ${r.medianMs.toFixed(0)} ms | ${r.mips.toFixed(1)} |`),
      `| geometric mean | | | ${geomeanMips.toFixed(1)} |`,
    ];
  const lines = [
    ...workloadTable,
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
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, runs: RUNS, repeat: REPEAT,
    qemu: qemuVer ? { version: qemuVer, startupMs: qemuStartupMs } : null, roms: results, geomeanMips, geomeanQemuRatio: geomeanRatio, console: consoles, micro: micros, startup: start }, null, 2)}\n`);
  progress(`wrote ${out}`);
}

await main();
