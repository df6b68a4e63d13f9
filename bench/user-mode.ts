// `npm run bench`, user mode (issue 13): Linux i386 programs as whole processes under `x86jit exec` (interpreter
// and JIT) beside qemu-i386 on the same binaries — what a user waits for, from spawn to exit. Prints a Markdown
// table on stdout, a progress line per run on stderr, and writes bench/user-mode-results.json. Rows:
//   - the workload programs test-roms/exec/wl-*.elf: the HOST build of the workload ROMs (the same C,
//     test-roms/build.sh), each scaled with its `repeat=N` argument to about X86JIT_BENCH_GUEST_M million
//     guest instructions (learnt from `x86jit exec --stats` at repeat=1 and repeat=2, interpreter)
//   - start-up: test-roms/exec/suite.elf hello (a gcc -m32 -static glibc program that prints one line)
//   - Debian's busybox-static:i386 (.cache/i386/busybox/busybox, scripts/fetch-i386-busybox.sh): `sh` running
//     `sort data | md5sum` on X86JIT_BENCH_SORT_MB MiB of lines generated here (a fixed LCG: same bytes every
//     time), an awk loop, and a shell loop of ash builtins. qemu-i386 hands busybox's re-execution of itself
//     for `sort` and `md5sum` to the host kernel, which runs no i386 program here, so its PATH holds one
//     wrapper per applet that runs `qemu-i386 busybox APPLET` (as tests/exec-busybox.test.ts does).
// Engines alternate within each run so that machine noise hits all alike; every run's stdout must equal
// qemu-i386's and its status 0 (a warning otherwise). Ratios: jit ÷ qemu-i386 and interp ÷ qemu-i386; the
// target (issue 13) is ≤ 1 on every row, printed, never asserted. Beside the wall times, each engine's CPU time
// (the process and its children, /proc/self/stat): on a loaded machine it says more than the wall time.
// Environment:
//   X86JIT_BENCH_RUNS     runs per row and engine (default 3)
//   X86JIT_BENCH_GUEST_M  size of a workload row, million guest instructions (default 150, as bench/bench.ts)
//   X86JIT_BENCH_SORT_MB  size of the sorted file, MiB (default 2)
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envInt, fmt, geomeanOf, gitState, int, isNum, medianOf, millions, progress, spawnTimed, times, type TimedRun } from './common.ts';

const DIST = dirname(fileURLToPath(import.meta.url));
const ROOT = join(DIST, '..');
const EXEC = join(ROOT, 'test-roms', 'exec');
const CLI = join(DIST, 'x86jit.js');
const BUSYBOX = join(ROOT, '.cache', 'i386', 'busybox', 'busybox');
const QEMU = 'qemu-i386';
/** Its absolute path: the busybox rows run it with a PATH of their own. */
const QEMU_PATH = spawnSync('sh', ['-c', `command -v ${QEMU}`], { encoding: 'utf8' }).stdout.trim();
/** Issue 13's target: x86jit exec --engine jit at or below qemu-i386's wall time on every row. */
const TARGET_RATIO = 1;
/** The awk and shell loops' trip counts (sized for a few seconds under x86jit here). */
const AWK_LOOPS = 50_000, SH_LOOPS = 5_000;

// The defaults of the JIT are what is measured (a first run: no translation cache).
process.env.X86JIT_JIT_CACHE = 'off';
delete process.env.X86JIT_JIT_THRESHOLD;
delete process.env.X86JIT_JIT_BACKGROUND;

const warnings: string[] = [];
const warn = (msg: string): void => { warnings.push(msg); process.stderr.write(`bench: WARNING: ${msg}\n`); };

const ENGINES = ['interp', 'jit', 'qemu-i386'] as const;
type Engine = (typeof ENGINES)[number];

/** One row: a program with its arguments, run the same way under every engine. */
interface Row {
  name: string; program: string; args: string[];
  /** Extra environment per side (busybox's PATH differs: see the header). */
  env?: Partial<Record<'x86jit' | 'qemu', Record<string, string>>>;
  cwd?: string;
  /** Several guest processes: --stats counts the first one only, so no instruction count. */
  processes?: 'several';
}

interface RowResult {
  name: string; command: string; instructions: number | null;
  /** Per engine: median wall ms and median CPU ms (the process and its children), each run's figures. */
  engines: Record<Engine, { medianMs: number | null; medianCpuMs: number | null; ms: number[]; cpuMs: (number | null)[]; statuses: (number | null)[] }>;
  jitOverQemu: number | null; interpOverQemu: number | null; cpuJitOverQemu: number | null; outputAgrees: boolean;
}

/** `x86jit exec --stats`' instruction count (of the first process) on stderr. */
const statsInstructions = (stderr: string): number | null => { const m = /(\d+) instructions in [\d.]+ s/.exec(stderr); return m ? Number(m[1]) : null; };

function runOnce(engine: Engine, row: Row): TimedRun {
  const base = { LANG: 'C' };
  if (engine === 'qemu-i386') return spawnTimed(QEMU_PATH, [row.program, ...row.args], { ...base, ...row.env?.qemu }, { cwd: row.cwd, keepStdout: true });
  return spawnTimed(process.execPath, [CLI, 'exec', '--engine', engine, '--stats', row.program, ...row.args], { ...base, ...row.env?.x86jit }, { cwd: row.cwd, keepStdout: true });
}

function measure(row: Row, runs: number): RowResult {
  const all = Object.fromEntries(ENGINES.map((e) => [e, [] as TimedRun[]])) as Record<Engine, TimedRun[]>;
  for (let i = 0; i < runs; i++) {
    const parts: string[] = [];
    for (const e of ENGINES) {
      const r = runOnce(e, row);
      all[e].push(r);
      parts.push(`${e} ${r.ms.toFixed(0)} ms (CPU ${fmt(r.cpuMs)})${r.status !== 0 ? ` (exit ${r.status ?? r.signal})` : ''}`);
    }
    progress(`user mode: ${row.name} run ${i + 1}/${runs}: ${parts.join(', ')}`);
  }
  const want = all['qemu-i386'][0];
  let outputAgrees = true;
  for (const e of ENGINES) {
    for (const r of all[e]) {
      if (r.status !== 0) { warn(`${row.name}: ${e} exited ${r.status ?? r.signal} (want 0): ${r.stderr.trim().split('\n').filter((l) => !/^x86jit: /.test(l)).pop() ?? ''}`); outputAgrees = false; break; }
      if (r.stdout !== want.stdout) { warn(`${row.name}: ${e}'s output differs from qemu-i386's`); outputAgrees = false; break; }
    }
  }
  const engines = Object.fromEntries(ENGINES.map((e) => [e, { medianMs: medianOf(all[e].map((r) => r.ms)), medianCpuMs: medianOf(all[e].map((r) => r.cpuMs)), ms: all[e].map((r) => r.ms), cpuMs: all[e].map((r) => r.cpuMs), statuses: all[e].map((r) => r.status) }])) as RowResult['engines'];
  const ratio = (x: number | null, q: number | null = engines['qemu-i386'].medianMs): number | null => (isNum(x) && isNum(q) && q > 0 ? x / q : null);
  return {
    name: row.name, command: [row.program.replace(`${ROOT}/`, ''), ...row.args].join(' '),
    instructions: row.processes === 'several' ? null : statsInstructions(all.interp[0].stderr),
    engines, jitOverQemu: ratio(engines.jit.medianMs), interpOverQemu: ratio(engines.interp.medianMs),
    cpuJitOverQemu: ratio(engines.jit.medianCpuMs, engines['qemu-i386'].medianCpuMs), outputAgrees,
  };
}

/** repeat=N for a workload program so that a run is about `target` guest instructions (null: no count). */
function scaleOf(program: string, target: number): { repeat: number; expected: number } | null {
  const count = (repeat: number): number | null => statsInstructions(spawnTimed(process.execPath, [CLI, 'exec', '--stats', program, `repeat=${repeat}`]).stderr);
  const one = count(1), two = count(2);
  if (!isNum(one) || !isNum(two) || two <= one) { warn(`${program}: no instruction count from x86jit exec --stats (repeat=1: ${one}, repeat=2: ${two})`); return null; }
  const per = two - one;
  const repeat = Math.min(10000, Math.max(1, Math.round((target - one) / per) + 1));
  return { repeat, expected: one + (repeat - 1) * per };
}

/** SIZE bytes of text lines "hhhhhh nnnnn" from a fixed LCG: the same file on every machine. */
function sortInput(size: number): string {
  const lines: string[] = [];
  let x = 12345, n = 0;
  while (n < size) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const line = `${(x >>> 8).toString(16).padStart(6, '0')} ${x % 100000}\n`;
    lines.push(line);
    n += line.length;
  }
  return lines.join('');
}

/** The busybox rows, with their files in `work`. */
function busyboxRows(work: string, sortMb: number): Row[] {
  const wrappers = join(work, 'qemu-path'), empty = join(work, 'empty-path');
  mkdirSync(wrappers);
  mkdirSync(empty);
  for (const applet of ['sort', 'md5sum']) {
    const file = join(wrappers, applet);
    writeFileSync(file, `#!/bin/sh\nexec ${QEMU_PATH} ${BUSYBOX} ${applet} "$@"\n`);
    chmodSync(file, 0o755);
  }
  writeFileSync(join(work, 'data'), sortInput(sortMb << 20));
  const env = { x86jit: { PATH: empty }, qemu: { PATH: wrappers } };
  return [
    { name: `busybox sh: sort | md5sum, ${sortMb} MiB`, program: BUSYBOX, args: ['sh', '-c', 'sort data | md5sum'], env, cwd: work, processes: 'several' },
    { name: `busybox awk: ${int(AWK_LOOPS)}-trip loop`, program: BUSYBOX, args: ['awk', `BEGIN { for (i = 0; i < ${AWK_LOOPS}; i++) s = (s + i * i) % 1000003; print s }`], env, cwd: work },
    { name: `busybox sh: ${int(SH_LOOPS)}-trip while loop`, program: BUSYBOX, args: ['sh', '-c', `i=0; s=0; while [ $i -lt ${SH_LOOPS} ]; do i=$((i+1)); s=$(((s+i*i)%1000003)); done; echo $s`], env, cwd: work },
  ];
}

function main(): void {
  const T_START = performance.now();
  const loadStart = loadavg()[0];
  const RUNS = envInt('X86JIT_BENCH_RUNS', 3, 1, 1000)!;
  const GUEST_M = envInt('X86JIT_BENCH_GUEST_M', 150, 1, 4000)!;
  const SORT_MB = envInt('X86JIT_BENCH_SORT_MB', 2, 1, 256)!;
  if (!existsSync(CLI)) { process.stderr.write(`bench: ${CLI} missing: run \`node scripts/build.mjs\` first (npm run bench does)\n`); process.exit(2); }
  const version = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (version.status !== 0 || !QEMU_PATH) {
    // Every ratio is against qemu-i386: without it there is no table.
    process.stderr.write(`bench: user mode: ${QEMU} is not installed (apt-get install qemu-user): no user-mode table\n`);
    return;
  }
  const qemuVersion = version.stdout.split('\n')[0].trim();
  progress(`user mode: ${qemuVersion}`);

  const rows: Row[] = [];
  const repeats: Record<string, number | null> = {};
  for (const f of readdirSync(EXEC).filter((n) => /^wl-.*\.elf$/.test(n)).sort()) {
    const scale = scaleOf(join(EXEC, f), GUEST_M * 1e6);
    repeats[f] = scale?.repeat ?? null;
    rows.push({ name: f, program: join(EXEC, f), args: scale ? [`repeat=${scale.repeat}`] : [] });
  }
  rows.push({ name: 'start-up: suite.elf hello (glibc)', program: join(EXEC, 'suite.elf'), args: ['hello'] });
  const work = mkdtempSync(join(tmpdir(), 'x86jit-user-bench-'));
  try {
    if (existsSync(BUSYBOX)) rows.push(...busyboxRows(work, SORT_MB));
    else warn(`busybox rows: no ${BUSYBOX} (scripts/fetch-i386-busybox.sh fetches it)`);
    const results = rows.map((r) => measure(r, RUNS));

    const within = results.filter((r) => isNum(r.jitOverQemu) && r.jitOverQemu <= TARGET_RATIO).length;
    const worst = results.reduce<RowResult | null>((w, r) => (isNum(r.jitOverQemu) && (!w || r.jitOverQemu > w.jitOverQemu!) ? r : w), null);
    const geo = (e: Engine) => fmt(geomeanOf(results.map((r) => r.engines[e].medianMs)));
    const cpuGeo = (e: Engine) => fmt(geomeanOf(results.map((r) => r.engines[e].medianCpuMs)));
    const lines = [
      `| user mode, whole process, ms (median of ${RUNS}) | guest instructions | x86jit exec interp | x86jit exec jit | qemu-i386 | jit ÷ qemu-i386 | interp ÷ qemu-i386 | CPU ms: interp | CPU: jit | CPU: qemu-i386 | CPU: jit ÷ qemu-i386 |`,
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...results.map((r) => `| ${r.name.replaceAll('|', '\\|')}${repeats[r.name] ? ` \`repeat=${repeats[r.name]}\`` : ''}${r.outputAgrees ? '' : ' (**output differs**)'} | ${r.instructions === null ? 'n/a' : millions(r.instructions)} | ${fmt(r.engines.interp.medianMs)} | ${fmt(r.engines.jit.medianMs)} | ${fmt(r.engines['qemu-i386'].medianMs)} | ${times(r.jitOverQemu)} | ${times(r.interpOverQemu)} | ${fmt(r.engines.interp.medianCpuMs)} | ${fmt(r.engines.jit.medianCpuMs)} | ${fmt(r.engines['qemu-i386'].medianCpuMs)} | ${times(r.cpuJitOverQemu)} |`),
      `| geometric mean | | ${geo('interp')} | ${geo('jit')} | ${geo('qemu-i386')} | ${times(geomeanOf(results.map((r) => r.jitOverQemu)))} | ${times(geomeanOf(results.map((r) => r.interpOverQemu)))} | ${cpuGeo('interp')} | ${cpuGeo('jit')} | ${cpuGeo('qemu-i386')} | ${times(geomeanOf(results.map((r) => r.cpuJitOverQemu)))} |`,
      `| target (issue 13) | | | | | ≤ ${TARGET_RATIO.toFixed(2)}× each: ${within}/${results.length} (worst ${times(worst?.jitOverQemu)}, ${worst?.name.replaceAll('|', '\\|') ?? 'n/a'}) | | | | | |`,
      '',
      `interp = \`x86jit exec --stats PROGRAM ARGS\`, jit = the same with \`--engine jit\` (X86JIT_JIT_CACHE=off: a first run); qemu-i386 = ${qemuVersion}. `
        + 'Engines alternate within each run; stdout is compared with qemu-i386\'s. Guest instructions: `x86jit exec --stats` (n/a: several processes). '
        + 'CPU = user + system time of the process and its children (10 ms resolution): what a run costs whatever the load. '
        + `Busybox: Debian's busybox-static:i386; the sorted file is ${SORT_MB} MiB of generated lines.`,
      '',
      `machine: ${cpus().length} cores, ${process.platform} ${process.arch}, Node ${process.version}; 1-minute load average ${loadStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (figures taken under load are noisy)`,
    ];
    if (warnings.length) lines.push('', `**${warnings.length} WARNING${warnings.length > 1 ? 'S' : ''}:**`, ...warnings.map((w) => `- WARNING: ${w}`));
    process.stdout.write(`\n${lines.join('\n')}\n`);

    const totalMs = performance.now() - T_START;
    const out = join(ROOT, 'bench', 'user-mode-results.json');
    writeFileSync(out, `${JSON.stringify({
      date: new Date().toISOString(), node: process.version, git: gitState(ROOT), totalMs, loadAverage: { start: loadStart, end: loadavg()[0] },
      options: { runs: RUNS, guestM: GUEST_M, sortMb: SORT_MB, awkLoops: AWK_LOOPS, shLoops: SH_LOOPS }, qemu: qemuVersion,
      rows: results, target: { ratio: TARGET_RATIO, within, of: results.length }, warnings,
    }, null, 2)}\n`);
    progress(`user mode: wrote ${out}; ${warnings.length} warning(s); total ${(totalMs / 1000).toFixed(0)} s`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main();
