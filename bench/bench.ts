// `npm run bench`: x86jit's speed, measured (never asserted in tests). Prints Markdown tables on stdout,
// writes bench/results.json, and a progress line per step on stderr.
//   - the workload suite (loops.elf, test-roms/wl-*.elf): each ROM run under the interpreter, under the JIT
//     (engine 'jit', default threshold) and under qemu-system-i386 (if installed), alternating
//     (interp, jit, qemu, interp, jit, qemu, ...) so that machine noise hits all alike; median wall time of
//     N runs, guest MIPS, translation time (on the worker thread) relative to the JIT run, JIT/interpreter and JIT/QEMU ratios,
//     geometric means over the suite, and the issue-3 targets beside them (printed, never asserted)
//   - translation cost: every workload once with the JIT at threshold 0 (every block compiled on sight),
//     jitStats().translateMs per translated guest instruction
//   - tinybench micro-benchmarks: decode, memory fast path, interpreter and JIT dispatch
//   - console (UART port I/O vs paravirtual hypercall) and start-up (process start to first instruction)
// Only vm.run() is timed: binaryen's import (~0.3-0.6 s, once per process) happens in a warm-up JIT VM
// first, and VM creation and loading stay outside the timed span for every engine.
// Options (environment): X86JIT_BENCH_RUNS (default 5) runs per ROM and engine; X86JIT_BENCH_REPEAT (default 16)
// repetitions of each wl-*.elf workload per run (Multiboot command line `repeat=N`, test-roms/src/wl-repeat.h), so
// that QEMU's compute time stands well above its start-up (~0.1 s); the tests run them once (~6-7 M instructions each).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import type { JitStats } from '../jit/stats.ts';
import { createVM, decodeBytes, loadImage, loadRaw, VM } from '../src/index.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// In-process JIT runs translate every time (the whole-process runs below measure the translation cache).
process.env.X86JIT_JIT_CACHE = 'off';
const ROMS = join(ROOT, 'test-roms');
const RUNS = Number(process.env.X86JIT_BENCH_RUNS ?? 5);
const REPEAT = Number(process.env.X86JIT_BENCH_REPEAT ?? 16);
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 1000) {
  process.stderr.write(`bench: X86JIT_BENCH_RUNS must be an integer from 1 to 1000, not ${process.env.X86JIT_BENCH_RUNS}\n`);
  process.exit(2);
}
if (!Number.isInteger(REPEAT) || REPEAT < 1 || REPEAT > 10000) {
  process.stderr.write(`bench: X86JIT_BENCH_REPEAT must be an integer from 1 to 10000 (the ROMs' limit), not ${process.env.X86JIT_BENCH_REPEAT}\n`);
  process.exit(2);
}
/** ROMs whose run time is dominated by guest computation (the MIPS workloads). */
const WORKLOADS = ['loops.elf', ...readdirSync(ROMS).filter((f) => /^wl-.*\.elf$/.test(f)).sort()];
/** The loop-heavy ones (tight inner loops, few calls, no REP string or indirect-branch dispatch): the ≥ 300 MIPS target. */
const LOOP_HEAVY = new Set(['loops.elf', 'wl-sieve.elf', 'wl-crc32.elf', 'wl-matmul.elf']);
const QEMU = 'qemu-system-i386';
const GUEST_MEMORY = 64 << 20;
/** QEMU's time less its start-up below this (ms) is within start-up noise: no less-start-up ratios. */
const QEMU_NOISE_MS = 5;
/** Wall-clock limit of one x86jit run, seconds. */
const RUN_TIMEOUT = 120;
/** The issue-3 targets, printed beside the figures. */
const TARGET = { speedup: 10, loopMips: 300, translateUs: 20, qemuRatio: 2 } as const;
/** The Multiboot command line for a workload ROM: the wl-*.elf ROMs repeat their work N times. */
const cmdlineFor = (rom: string, repeat = REPEAT): string => (rom.startsWith('wl-') ? `${rom} repeat=${repeat}` : rom);

const T_START = performance.now();
const progress = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };
const warnings: string[] = [];
/** A loud line on stderr, kept for results.json and repeated at the end of stdout. */
const warn = (msg: string): void => { warnings.push(msg); process.stderr.write(`bench: WARNING: ${msg}\n`); };
const warned = new Set<string>();
/** warn() for a problem that would repeat on every run (an API the JIT does not provide yet). */
const warnOnce = (msg: string): void => { if (!warned.has(msg)) { warned.add(msg); warn(msg); } };
const median = (xs: number[]): number => { const a = [...xs].sort((p, q) => p - q); return a[a.length >> 1]; };
const geomean = (xs: number[]): number => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
/** Geometric mean of the values that exist (null if none); `of` says how many of how many went in. */
function geomeanOf(xs: (number | null | undefined)[]): { value: number | null; of: string } {
  const ok = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0);
  return { value: ok.length ? geomean(ok) : null, of: `${ok.length}/${xs.length}` };
}
const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const fmt = (x: number | null | undefined, digits = 1, suffix = ''): string => (isNum(x) ? `${x.toFixed(digits)}${suffix}` : 'n/a');
const int = (x: number | null | undefined): string => (isNum(x) ? x.toLocaleString('en-US') : 'n/a');
const met = (ok: boolean | null): string => (ok === null ? 'n/a' : ok ? 'met' : '**not met**');

/** The JIT's totals, or null (interpreter, or a JIT whose stats do not work right now). */
function jitStatsOf(vm: VM): { stats: Partial<JitStats> | null; error?: string } {
  try {
    return { stats: vm.jitStats() };
  } catch (e) {
    return { stats: null, error: errorText(e) };
  }
}

// ---- one run of a ROM ----

interface EngineRun {
  ms: number; instructions: number; reason: string; status: number | undefined;
  /** JIT runs: the JIT's totals after the run (translateMs, translatedInstructions, ...), when available. */
  jit?: Partial<JitStats> | null;
  /** The run failed (threw); statsError: it ran, but vm.jitStats() threw. */
  error?: string;
  statsError?: string;
}

function loadRom(vm: VM, path: string, cmdline: string): void {
  loadImage(vm, new Uint8Array(readFileSync(path)), path, { cmdline });
}

/** Time vm.run() alone: creation and loading stay outside. */
function timedRun(vm: VM): EngineRun {
  const t0 = performance.now();
  const exit = vm.run({ timeout: RUN_TIMEOUT });
  const ms = performance.now() - t0;
  return { ms, instructions: vm.instructions, reason: exit.reason, status: exit.status };
}

function runInterp(path: string, cmdline: string): EngineRun {
  const vm = createVM({ memory: GUEST_MEMORY });
  loadRom(vm, path, cmdline);
  return timedRun(vm);
}

/** One JIT run; an exception (a JIT in the middle of a rewrite) becomes `error` rather than ending the bench. */
async function runJit(path: string, cmdline: string, threshold?: number): Promise<EngineRun> {
  try {
    const vm = threshold === undefined ? await VM.create({ engine: 'jit', memory: GUEST_MEMORY }) : createVM({ memory: GUEST_MEMORY });
    if (threshold !== undefined) await vm.enableJit({ threshold });
    loadRom(vm, path, cmdline);
    const r = timedRun(vm);
    const { stats, error } = jitStatsOf(vm);
    if (error) warnOnce(`vm.jitStats() throws (${error}): the JIT's translation columns are n/a`);
    return { ...r, jit: stats, ...(error ? { statsError: error } : {}) };
  } catch (e) {
    return { ms: NaN, instructions: 0, reason: 'error', status: undefined, error: errorText(e) };
  }
}

/** The commit measured, and whether the working tree differed from it (the JIT changes fast). */
function gitState(): { commit: string | null; dirty: boolean | null } {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const st = spawnSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'jit'], { cwd: ROOT, encoding: 'utf8' });
  return { commit: head.status === 0 ? head.stdout.trim() : null, dirty: st.status === 0 ? st.stdout.trim() !== '' : null };
}

function qemuVersion(): string | null {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0].trim() : null;
}

/** One whole qemu-system-i386 process (start-up included). Serial output goes to /dev/null: QEMU's stdio
 *  chardev drops bytes on a full pipe, and the output is checked by tests/roms.test.ts, not here. */
/** One whole x86jit CLI process (dist/x86jit.js next to this bundle), output discarded. */
function runCli(path: string, cmdline: string, args: string[], env: Record<string, string>): { ms: number; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'x86jit.js'), 'run', path, '--cmdline', cmdline, ...args], { stdio: 'ignore', timeout: 120_000, env: { ...process.env, ...env } });
  return { ms: performance.now() - t0, status: r.status };
}

function runQemu(path: string, cmdline: string): { ms: number; status: number | null } {
  const t0 = performance.now();
  const r = spawnSync(QEMU, ['-kernel', path, '-append', cmdline, '-serial', 'file:/dev/null', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-display', 'none', '-nodefaults'], { stdio: 'ignore', timeout: 120_000 });
  return { ms: performance.now() - t0, status: r.status };
}

// ---- the workload suite ----

/** QEMU's side of one workload: whole-process wall time, and that time less QEMU's start-up (hello.elf). */
interface QemuResult {
  medianMs: number; correctedMs: number; status: number | null;
  /** QEMU time (less start-up) / x86jit interpreter time (as before the JIT columns). */
  ratio: number | null;
  /** x86jit JIT time / QEMU time less start-up (the ≤ 2 target), and / QEMU's whole process. */
  jitOverQemu: number | null;
  jitOverQemuWhole: number | null;
}
interface JitResult {
  medianMs: number | null; mips: number | null; instructions: number | null; status: number | undefined; reason: string;
  /** Medians over the runs of the JIT's totals. */
  translateMs: number | null; translatedInstructions: number | null; compiled: number | null;
  /** Guest instructions retired inside compiled code, and instructions run through the interpreter from compiled code. */
  jitInstructions: number | null; calls: number | null; fallbacks: number | null;
  /** translateMs / wall ms of the same run (median over runs). */
  translateShare: number | null;
  /** translateMs * 1000 / translatedInstructions. */
  usPerTranslatedInstruction: number | null;
  runsOk: number; error?: string; statsError?: string;
}
interface RomResult {
  rom: string; runs: number; loopHeavy: boolean;
  /** Wall time of a whole `x86jit run --engine jit` process: the first (empty translation cache) and the median of the others (warm cache). */
  jitProcessColdMs: number;
  jitProcessMs: number;
  /** The interpreter's figures (kept under their old names). */
  instructions: number; medianMs: number; mips: number; status: number | undefined;
  jit: JitResult;
  /** Interpreter time / JIT time. */
  speedup: number | null;
  qemu: QemuResult | null;
  warnings: string[];
}

const medianOrNull = (xs: (number | null | undefined)[]): number | null => {
  const ok = xs.filter(isNum);
  return ok.length ? median(ok) : null;
};

async function workload(rom: string, qemuVer: string | null, qemuStartupMs: number | null, jitReady: boolean): Promise<RomResult> {
  const path = join(ROMS, rom);
  const cmdline = cmdlineFor(rom);
  const interp: EngineRun[] = [], jit: EngineRun[] = [], qemu: { ms: number; status: number | null }[] = [], jitProcess: { ms: number; status: number | null }[] = [];
  const romWarnings: string[] = [];
  const w = (msg: string): void => { romWarnings.push(msg); warn(`${rom}: ${msg}`); };
  let jitGaveUp = !jitReady;
  const cacheDir = mkdtempSync(join(tmpdir(), 'x86jit-bench-cache-'));
  for (let i = 0; i < RUNS; i++) {
    const tag = `${rom} run ${i + 1}/${RUNS}`;
    const r = runInterp(path, cmdline);
    interp.push(r);
    progress(`${tag} interp ${r.ms.toFixed(0)} ms, ${(r.instructions / r.ms / 1000).toFixed(1)} MIPS`);
    if (!jitGaveUp) {
      const j = await runJit(path, cmdline);
      jit.push(j);
      const tr = j.jit && isNum(j.jit.translateMs) ? `, translate ${j.jit.translateMs.toFixed(0)} ms` : '';
      progress(`${tag} jit ${fmt(j.ms, 0)} ms, ${fmt(j.instructions / j.ms / 1000)} MIPS${tr}${j.error ? ` (error: ${j.error})` : ''}`);
      // A JIT that throws or times out would only do it again: keep the interpreter and QEMU runs going.
      if (j.reason === 'error' || j.reason === 'timeout') jitGaveUp = true;
    }
    if (qemuVer) {
      const q = runQemu(path, cmdline);
      qemu.push(q);
      progress(`${tag} qemu ${q.ms.toFixed(0)} ms (exit ${q.status})`);
    }
    // What a user waits for: a fresh `x86jit run --engine jit` process (Node start-up, binaryen loading on
    // the worker while the interpreter runs, translation, the run), against QEMU's whole process.
    // Each workload's processes share a fresh translation cache: the first run translates (cold), the
    // later ones load the regions it stored (warm).
    const p = runCli(path, cmdline, ['--engine', 'jit'], { X86JIT_JIT_CACHE: cacheDir });
    jitProcess.push(p);
    progress(`${tag} x86jit --engine jit process ${p.ms.toFixed(0)} ms (${i === 0 ? 'cold' : 'warm'} translation cache; exit ${p.status})`);
  }
  // Exit status 1 = the guest wrote 0 to isa-debug-exit ((0 << 1) | 1: its self-check passed), as QEMU's.
  if (jitProcess.some((p) => p.status !== 1)) w(`x86jit --engine jit process exit ${[...new Set(jitProcess.map((p) => p.status))].join(', ')} (want 1 = self-check passed)`);
  rmSync(cacheDir, { recursive: true, force: true });
  // Checks: status 1 = debug-exit with the ROM's self-check passed; the same instruction count everywhere.
  const bad = (rs: EngineRun[]): string[] => [...new Set(rs.filter((r) => r.reason !== 'debug-exit' || r.status !== 1).map((r) => `${r.reason}${r.status !== undefined ? ` ${r.status}` : ''}`))];
  if (bad(interp).length) w(`interpreter exit ${bad(interp).join(', ')} (want debug-exit 1 = self-check passed)`);
  if (new Set(interp.map((r) => r.instructions)).size > 1) w(`interpreter instruction counts differ between runs: ${interp.map((r) => r.instructions).join(', ')}`);
  const jitErrors = [...new Set(jit.map((r) => r.error).filter((e): e is string => !!e))];
  for (const e of jitErrors) w(`JIT error: ${e}`);
  const jitRan = jit.filter((r) => r.reason !== 'error');
  if (bad(jitRan).length) w(`JIT exit ${bad(jitRan).join(', ')} (want debug-exit 1 = self-check passed)`);
  const jitCounts = [...new Set(jitRan.map((r) => r.instructions))];
  if (jitCounts.some((n) => n !== interp[0].instructions)) w(`instruction counts differ: interpreter ${interp[0].instructions}, JIT ${jitCounts.join(', ')}`);
  if (qemu.some((q) => q.status !== 1)) w(`QEMU exit ${[...new Set(qemu.map((q) => q.status))].join(', ')} (want 1 = self-check passed)`);

  const ms = median(interp.map((r) => r.ms));
  const instructions = interp[0].instructions;
  const jitOk = jitRan.filter((r) => isNum(r.ms));
  const jitMs = medianOrNull(jitOk.map((r) => r.ms));
  const jitInstr = jitOk.length ? jitOk[0].instructions : null;
  const stat = (k: keyof JitStats): number | null => medianOrNull(jitOk.map((r) => r.jit?.[k] as number | undefined));
  const translateMs = stat('translateMs'), translated = stat('translatedInstructions');
  const jitResult: JitResult = {
    medianMs: jitMs, mips: jitMs !== null && jitInstr !== null ? jitInstr / jitMs / 1000 : null, instructions: jitInstr,
    status: jitRan[0]?.status, reason: jitRan[0]?.reason ?? (jit[0]?.reason ?? 'not run'),
    translateMs, translatedInstructions: translated, compiled: stat('compiled'),
    jitInstructions: stat('instructions'), calls: stat('calls'), fallbacks: stat('fallbacks'),
    translateShare: medianOrNull(jitOk.map((r) => (isNum(r.jit?.translateMs) ? r.jit.translateMs / r.ms : null))),
    usPerTranslatedInstruction: translateMs !== null && translated ? translateMs * 1000 / translated : null,
    runsOk: jitOk.length,
    ...(jitErrors.length ? { error: jitErrors.join('; ') } : {}),
    ...(jitOk.some((r) => r.statsError) ? { statsError: jitOk.find((r) => r.statsError)!.statsError } : {}),
  };
  let qemuResult: QemuResult | null = null;
  if (qemuVer && qemuStartupMs !== null) {
    const qms = median(qemu.map((q) => q.ms)), corrected = qms - qemuStartupMs;
    qemuResult = {
      medianMs: qms, correctedMs: corrected, status: qemu[qemu.length - 1].status,
      ratio: corrected > QEMU_NOISE_MS ? corrected / ms : null,
      jitOverQemu: corrected > QEMU_NOISE_MS && jitMs !== null ? jitMs / corrected : null,
      jitOverQemuWhole: jitMs !== null ? jitMs / qms : null,
    };
  }
  return {
    rom, runs: RUNS, loopHeavy: LOOP_HEAVY.has(rom), instructions, medianMs: ms, mips: instructions / ms / 1000, status: interp[interp.length - 1].status,
    jit: jitResult, speedup: jitMs !== null ? ms / jitMs : null, qemu: qemuResult, warnings: romWarnings,
    jitProcessColdMs: jitProcess[0].ms,
    jitProcessMs: median(jitProcess.slice(1).map((p) => p.ms)),
  };
}

// ---- translation cost (threshold 0) ----

interface TranslateResult { rom: string; instructions: number; compiled: number | null; translatedInstructions: number | null; translateMs: number | null; usPerInstruction: number | null; error?: string; statsError?: string }

/** Each workload once (repeat=1) with every block compiled on first sight: translation time per guest instruction. */
async function translation(): Promise<{ perRom: TranslateResult[]; usPerInstruction: number | null }> {
  const perRom: TranslateResult[] = [];
  for (const rom of WORKLOADS) {
    const path = join(ROMS, rom);
    if (!existsSync(path)) continue;
    const r = await runJit(path, cmdlineFor(rom, 1), 0);
    const s = r.jit;
    const ms = isNum(s?.translateMs) ? s.translateMs : null, n = isNum(s?.translatedInstructions) ? s.translatedInstructions : null;
    const t: TranslateResult = {
      rom, instructions: r.instructions, compiled: isNum(s?.compiled) ? s.compiled : null, translatedInstructions: n, translateMs: ms,
      usPerInstruction: ms !== null && n ? ms * 1000 / n : null, ...(r.error ? { error: r.error } : {}), ...(r.statsError ? { statsError: r.statsError } : {}),
    };
    if (r.error) warn(`translate ${rom}: ${r.error}`);
    else if (r.reason !== 'debug-exit' || r.status !== 1) warn(`translate ${rom} (threshold 0): exit ${r.reason} ${r.status ?? ''} (want debug-exit 1)`);
    progress(`translate ${rom} (threshold 0): ${int(t.translatedInstructions)} instructions in ${fmt(ms, 1)} ms = ${fmt(t.usPerInstruction, 2)} µs each`);
    perRom.push(t);
  }
  const ok = perRom.filter((t) => t.translateMs !== null && t.translatedInstructions);
  const totalMs = ok.reduce((a, t) => a + t.translateMs!, 0), totalN = ok.reduce((a, t) => a + t.translatedInstructions!, 0);
  return { perRom, usPerInstruction: totalN ? totalMs * 1000 / totalN : null };
}

// ---- micro-benchmarks ----

interface MicroResult { name: string; opsPerSec: number; unit: string; error?: string; note?: string }

/** `dec ecx; jnz -3; hlt` at 0x1000 in flat 32-bit mode, run for exactly 200k instructions per call. */
const LOOP_CODE = Uint8Array.from([0x49, 0x75, 0xfd, 0xf4]);
const LOOP_INSTRUCTIONS = 200_000;

async function micro(jitReady: boolean): Promise<MicroResult[]> {
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
  loopVm.memory.writeBytes(0x1000, LOOP_CODE);
  const loop = (v: VM): void => {
    v.setRegisters({ eip: 0x1000, ecx: LOOP_INSTRUCTIONS / 2 });
    v.run({ maxInstructions: LOOP_INSTRUCTIONS });
  };
  bench.add(`interpreter dispatch (dec/jnz, ${LOOP_INSTRUCTIONS / 1000}k instructions)`, () => loop(loopVm));
  // The same loop under the JIT (default threshold: compiled after its first executions, reused after).
  const JIT_DISPATCH = `JIT dispatch (dec/jnz, ${LOOP_INSTRUCTIONS / 1000}k instructions)`;
  let jitVm: VM | null = null, jitSetupError: string | undefined;
  if (jitReady) {
    try {
      jitVm = createVM({ memory: 4 << 20 });
      await jitVm.enableJit();
      loadRaw(jitVm, LOOP_CODE, { load: 0x1000, entry: 0x1000, name: 'dec/jnz loop' });
      const before = jitVm.instructions;
      loop(jitVm);
      const regs = jitVm.getRegisters();
      if (jitVm.instructions - before !== LOOP_INSTRUCTIONS || regs.ecx !== 0) {
        warn(`JIT dispatch loop: ran ${jitVm.instructions - before} instructions, ECX=${regs.ecx} (want ${LOOP_INSTRUCTIONS}, 0)`);
      }
      bench.add(JIT_DISPATCH, () => loop(jitVm!));
    } catch (e) {
      jitSetupError = errorText(e);
      warn(`JIT dispatch: ${jitSetupError}`);
    }
  }
  await bench.run();
  const out: MicroResult[] = bench.tasks.map((t) => {
    const res = t.result as { state?: string; error?: Error; throughput?: { mean: number } } | undefined;
    const hz = res?.throughput?.mean ?? 0;
    const error = res?.state === 'errored' ? errorText(res.error) : undefined;
    if (error) warn(`micro-benchmark ${t.name}: ${error}`);
    const e = error ? { error } : {};
    if (t.name.startsWith('decode')) return { name: t.name, opsPerSec: hz * decodedPerIteration, unit: 'instructions/s', ...e };
    if (t.name.startsWith('memory')) return { name: t.name, opsPerSec: hz * 4096, unit: 'load+store pairs/s', ...e };
    return { name: t.name, opsPerSec: hz * LOOP_INSTRUCTIONS, unit: 'guest instructions/s', ...e };
  });
  if (jitVm) {
    // How much of the loop ran as compiled code (a JIT that refused the block would measure the interpreter).
    const { stats, error } = jitStatsOf(jitVm);
    const r = out.find((m) => m.name === JIT_DISPATCH);
    if (r) {
      if (stats && isNum(stats.instructions)) {
        r.note = `${(100 * stats.instructions / jitVm.instructions).toFixed(1)}% of instructions in compiled code`;
        if (stats.instructions === 0) warn('JIT dispatch: the dec/jnz loop never ran as compiled code (the JIT refused it?): that row measures the interpreter');
      }
      else r.note = error ? 'jitStats() throws' : 'jitStats() null';
    }
  } else if (jitReady || jitSetupError) {
    out.push({ name: JIT_DISPATCH, opsPerSec: 0, unit: 'guest instructions/s', error: jitSetupError ?? 'not run' });
  }
  return out;
}

// ---- console and start-up ----

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

// ---- main ----

/** Load binaryen once (timed) and run hello.elf under the JIT, so that no timed run pays for either. */
async function warmUp(): Promise<{ ok: boolean; binaryenLoadMs: number | null; error?: string }> {
  const hello = join(ROMS, 'hello.elf');
  // The interpreter's warm-up, for symmetry (its code is warm after the first ROM in any case).
  runInterp(hello, 'hello.elf');
  try {
    const t0 = performance.now();
    const vm = await VM.create({ engine: 'jit', memory: GUEST_MEMORY });
    // Background translation: binaryen loads on the worker thread; wait for it here, once per process.
    await vm.jitReady();
    const binaryenLoadMs = performance.now() - t0;
    loadRom(vm, hello, 'hello.elf');
    const exit = vm.run({ timeout: 30 });
    progress(`JIT warm-up: binaryen loaded in ${binaryenLoadMs.toFixed(0)} ms; hello.elf: ${exit.reason} ${exit.status ?? ''}`);
    if (exit.reason !== 'debug-exit' || exit.status !== 1) warn(`JIT warm-up: hello.elf ended with ${exit.reason} ${exit.status ?? ''} (want debug-exit 1)`);
    const { error } = jitStatsOf(vm);
    if (error) warnOnce(`vm.jitStats() throws (${error}): the JIT's translation columns are n/a`);
    return { ok: true, binaryenLoadMs };
  } catch (e) {
    const error = errorText(e);
    warn(`JIT warm-up failed (${error}): JIT columns will be n/a`);
    return { ok: false, binaryenLoadMs: null, error };
  }
}

async function main(): Promise<void> {
  const warm = await warmUp();
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
    if (!existsSync(join(ROMS, rom))) { progress(`${rom}: missing, skipped`); continue; }
    results.push(await workload(rom, qemuVer, qemuStartupMs, warm.ok));
  }
  progress('translation cost (JIT threshold 0, repeat=1)');
  const translate = warm.ok ? await translation() : { perRom: [], usPerInstruction: null };
  const consoles = ['console-uart.elf', 'console-pv.elf'].filter((r) => existsSync(join(ROMS, r))).map(consoleRun);
  progress('micro-benchmarks (tinybench)');
  const micros = await micro(warm.ok);
  progress('start-up');
  const start = startup();

  // Geometric means over the suite, and the targets.
  const geomeanMips = results.length ? geomean(results.map((r) => r.mips)) : 0;
  const gJitMips = geomeanOf(results.map((r) => r.jit.mips));
  const gSpeedup = geomeanOf(results.map((r) => r.speedup));
  const ratios = results.map((r) => r.qemu?.ratio).filter((x): x is number => typeof x === 'number');
  const geomeanRatio = ratios.length === results.length && ratios.length ? geomean(ratios) : null;
  const gJitQemu = geomeanOf(results.map((r) => r.qemu?.jitOverQemu));
  const gShare = geomeanOf(results.map((r) => r.jit.translateShare));
  const loopRoms = results.filter((r) => r.loopHeavy);
  const loopMips = loopRoms.map((r) => r.jit.mips);
  const minLoopMips = loopMips.every(isNum) && loopMips.length ? Math.min(...(loopMips as number[])) : null;
  const jitQemu = results.map((r) => r.qemu?.jitOverQemu);
  const qemuWithin = qemuVer ? jitQemu.filter((x) => isNum(x) && x <= TARGET.qemuRatio).length : null;
  // Against QEMU's whole process (start-up included): a lower bound of the ratio, defined even where QEMU's compute is within start-up noise.
  const jitQemuWhole = results.map((r) => r.qemu?.jitOverQemuWhole);
  const qemuWholeWithin = qemuVer ? jitQemuWhole.filter((x) => isNum(x) && x <= TARGET.qemuRatio).length : null;
  const gJitQemuWhole = geomeanOf(jitQemuWhole);
  const targets = {
    speedupGeomean: { target: TARGET.speedup, value: gSpeedup.value, met: gSpeedup.value === null ? null : gSpeedup.value >= TARGET.speedup },
    loopHeavyMips: { target: TARGET.loopMips, roms: loopRoms.map((r) => r.rom), minValue: minLoopMips, met: minLoopMips === null ? null : minLoopMips >= TARGET.loopMips },
    translateUsPerInstruction: { target: TARGET.translateUs, value: translate.usPerInstruction, met: translate.usPerInstruction === null ? null : translate.usPerInstruction <= TARGET.translateUs },
    jitOverQemuPerWorkload: {
      target: TARGET.qemuRatio, within: qemuWithin, of: results.length, withinWholeProcess: qemuWholeWithin,
      max: jitQemu.some(isNum) ? Math.max(...jitQemu.filter(isNum)) : null,
      met: qemuWithin === null ? null : qemuWithin === results.length,
    },
  };

  const status = (r: RomResult): string => {
    const parts = [`interp ${r.status ?? '-'}`, `jit ${r.jit.reason === 'debug-exit' ? r.jit.status : r.jit.reason}`];
    if (r.qemu) parts.push(`QEMU ${r.qemu.status}`);
    return parts.join(', ');
  };
  const name = (r: RomResult): string => `${r.rom}${r.loopHeavy ? ' *' : ''}${r.warnings.length ? ' ⚠' : ''}`;
  const pct = (x: number | null | undefined): string => (isNum(x) ? `${(x * 100).toFixed(1)}%` : 'n/a');
  const times = (x: number | null | undefined, d = 2): string => (isNum(x) ? `${x.toFixed(d)}×` : 'n/a');
  const qemuCell = (q: QemuResult | null): string => (isNum(q?.jitOverQemu) ? `${q.jitOverQemu.toFixed(2)}×`
    : q && q.correctedMs <= QEMU_NOISE_MS ? `n/a (QEMU less start-up ≤ ${QEMU_NOISE_MS} ms)` : 'n/a');
  const hasQemu = qemuVer !== null && qemuStartupMs !== null;
  const workloadTable = [
    `| workload (wl-*: repeat=${REPEAT}; median of ${RUNS}) | exit status | guest instructions | interp median | interp MIPS | JIT median | JIT MIPS | translation time ÷ JIT time (worker thread, overlaps the run) | JIT speed-up (interp/JIT time) |${hasQemu ? ' QEMU median (whole process) | QEMU less start-up | JIT/QEMU time (less start-up) | JIT/QEMU time (whole process) |' : ''}`,
    `| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |${hasQemu ? ' ---: | ---: | ---: | ---: |' : ''}`,
    ...results.map((r) => `| ${name(r)} | ${status(r)} | ${int(r.instructions)} | ${r.medianMs.toFixed(0)} ms | ${r.mips.toFixed(1)} | ${fmt(r.jit.medianMs, 0, ' ms')} | ${fmt(r.jit.mips)} | ${pct(r.jit.translateShare)} | ${times(r.speedup)} |${hasQemu ? ` ${fmt(r.qemu?.medianMs, 0, ' ms')} | ${fmt(r.qemu?.correctedMs, 0, ' ms')} | ${qemuCell(r.qemu)} | ${times(r.qemu?.jitOverQemuWhole)} |` : ''}`),
    `| geometric mean | | | | ${geomeanMips.toFixed(1)} | | ${fmt(gJitMips.value)} | ${pct(gShare.value)} | ${times(gSpeedup.value)} |${hasQemu ? ` | | ${times(gJitQemu.value)} | ${times(gJitQemuWhole.value)} |` : ''}`,
    `| target | | | | | | ≥ ${TARGET.loopMips} (loop-heavy, *) | | ≥ ${TARGET.speedup}× (geomean) |${hasQemu ? ` | | ≤ ${TARGET.qemuRatio}× (each) | |` : ''}`,
    ...(hasQemu ? [`| QEMU start-up (hello.elf, whole process, median of ${Math.max(RUNS, 5)}) | | | | | | | | | ${qemuStartupMs!.toFixed(0)} ms | | | |`] : []),
  ];
  const note = `x86jit: only vm.run() timed (binaryen loaded once in a warm-up VM${warm.binaryenLoadMs !== null ? `, ${warm.binaryenLoadMs.toFixed(0)} ms` : ''}); JIT = engine 'jit', default threshold; `
    + `${hasQemu ? `QEMU = ${qemuVer}, TCG, whole process per run; "less start-up" subtracts hello.elf's whole process (n/a where the rest is ≤ ${QEMU_NOISE_MS} ms); JIT/QEMU (less start-up) is the ≤ ${TARGET.qemuRatio}× target, JIT/QEMU (whole process) its lower bound.` : `${QEMU} not installed: no QEMU columns.`}`
    + ` * = loop-heavy; ⚠ = a warning below.`;
  const processTable = [
    `| whole process | \`x86jit run --engine jit\`, empty translation cache (first run) | same, warm cache (median of ${Math.max(RUNS - 1, 1)}) |${hasQemu ? ' qemu-system-i386 (median) | x86jit ÷ QEMU (cold) | x86jit ÷ QEMU (warm) |' : ''}`,
    `| --- | ---: | ---: |${hasQemu ? ' ---: | ---: | ---: |' : ''}`,
    ...results.map((r) => `| ${r.rom} | ${r.jitProcessColdMs.toFixed(0)} ms | ${fmt(r.jitProcessMs, 0, ' ms')} |${hasQemu ? ` ${fmt(r.qemu?.medianMs, 0, ' ms')} | ${r.qemu ? times(r.jitProcessColdMs / r.qemu.medianMs) : 'n/a'} | ${r.qemu && isNum(r.jitProcessMs) ? times(r.jitProcessMs / r.qemu.medianMs) : 'n/a'} |` : ''}`),
  ];
  const jitTable = [
    '| JIT detail (default threshold; medians) | regions compiled | instructions translated | translate ms | µs per translated instruction | instructions in compiled code | calls | fallbacks |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.rom} | ${int(r.jit.compiled)} | ${int(r.jit.translatedInstructions)} | ${fmt(r.jit.translateMs)} | ${fmt(r.jit.usPerTranslatedInstruction, 2)} | ${isNum(r.jit.jitInstructions) && r.jit.instructions ? `${int(r.jit.jitInstructions)} (${pct(r.jit.jitInstructions / r.jit.instructions)})` : 'n/a'} | ${int(r.jit.calls)} | ${int(r.jit.fallbacks)} |`),
  ];
  const translateTable = [
    `| translation (JIT threshold 0: every block on first sight; repeat=1) | regions compiled | instructions translated | translate ms | µs per guest instruction (target ≤ ${TARGET.translateUs}) |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...translate.perRom.map((t) => `| ${t.rom}${t.error ? ` (error: ${t.error})` : ''} | ${int(t.compiled)} | ${int(t.translatedInstructions)} | ${fmt(t.translateMs)} | ${fmt(t.usPerInstruction, 2)} |`),
    `| all (total ms / total instructions) | | | | ${fmt(translate.usPerInstruction, 2)} |`,
  ];
  const summary = [
    '| target (issue 3; printed, not asserted) | measured | |',
    '| --- | ---: | --- |',
    `| JIT ≥ ${TARGET.speedup}× interpreter (geomean of interp/JIT time, ${gSpeedup.of} workloads) | ${times(gSpeedup.value)} | ${met(targets.speedupGeomean.met)} |`,
    `| ≥ ${TARGET.loopMips} MIPS on loop-heavy workloads (lowest of ${loopRoms.map((r) => r.rom).join(', ')}) | ${fmt(minLoopMips)} | ${met(targets.loopHeavyMips.met)} |`,
    `| translation ≤ ${TARGET.translateUs} µs per guest instruction (threshold 0, whole suite) | ${fmt(translate.usPerInstruction, 2, ' µs')} | ${met(targets.translateUsPerInstruction.met)} |`,
    hasQemu
      ? `| JIT wall time ≤ ${TARGET.qemuRatio}× qemu-system-i386 (less start-up; whole process), each workload | ${qemuWithin}/${results.length} within (worst ${times(targets.jitOverQemuPerWorkload.max)}); ${qemuWholeWithin}/${results.length} against the whole process | ${met(targets.jitOverQemuPerWorkload.met)} |`
      : `| JIT wall time ≤ ${TARGET.qemuRatio}× qemu-system-i386, each workload | ${QEMU} not installed | n/a |`,
  ];
  const lines = [
    ...workloadTable,
    '',
    note,
    '',
    ...summary,
    '',
    ...processTable,
    '',
    ...jitTable,
    '',
    ...translateTable,
    '',
    '| 1 MiB console output (interpreter) | IO + hypercall exits | median wall time | exits/s | MiB/s |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...consoles.map((c) => `| ${c.rom} | ${c.exits.toLocaleString('en-US')} | ${c.medianMs.toFixed(0)} ms | ${Math.round(c.exitsPerSec).toLocaleString('en-US')} | ${(c.bytesPerSec / 2 ** 20).toFixed(2)} |`),
    ...(consoles.length === 2 ? [`| paravirtual speed-up (UART time / hypercall time) | | ${(consoles[0].medianMs / consoles[1].medianMs).toFixed(1)}× | | |`] : []),
    '',
    '| micro-benchmark (tinybench) | rate |',
    '| --- | ---: |',
    ...micros.map((m) => `| ${m.name}${m.note ? ` (${m.note})` : ''} | ${m.error ? `error: ${m.error}` : `${(m.opsPerSec / 1e6).toFixed(1)} M ${m.unit}`} |`),
    `| translate (jitStats, threshold 0, whole suite) | ${fmt(translate.usPerInstruction, 2, ' µs per guest instruction')} |`,
    '',
    '| start-up | median of 7 |',
    '| --- | ---: |',
    `| process start → first guest instruction | ${start.firstInstructionMs.toFixed(1)} ms |`,
    `| whole \`x86jit run hello.elf\` | ${start.wallMs.toFixed(1)} ms |`,
    `| for scale: \`node -e 0\` on this machine | ${start.nodeAloneMs.toFixed(1)} ms |`,
    ...(warm.binaryenLoadMs !== null ? [`| binaryen import + first JIT VM (once per process; not in any timed run) | ${warm.binaryenLoadMs.toFixed(1)} ms |`] : []),
    ...(warnings.length ? ['', `**${warnings.length} WARNING${warnings.length > 1 ? 'S' : ''}:**`, ...warnings.map((w) => `- WARNING: ${w}`)] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const totalMs = performance.now() - T_START;
  const out = join(ROOT, 'bench', 'results.json');
  writeFileSync(out, `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, git: gitState(), runs: RUNS, repeat: REPEAT, totalMs,
    qemu: qemuVer ? { version: qemuVer, startupMs: qemuStartupMs } : null,
    jitWarmup: warm,
    roms: results, geomeanMips, geomeanQemuRatio: geomeanRatio,
    geomeanJitMips: gJitMips.value, geomeanSpeedup: gSpeedup.value, geomeanJitOverQemu: gJitQemu.value, geomeanJitOverQemuWholeProcess: gJitQemuWhole.value, geomeanTranslateShare: gShare.value,
    targets, translate, console: consoles, micro: micros, startup: start, warnings,
  }, null, 2)}\n`);
  progress(`wrote ${out}; ${warnings.length} warning(s); total ${(totalMs / 1000).toFixed(0)} s`);
}

await main();
