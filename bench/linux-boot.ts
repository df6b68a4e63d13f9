// `npm run bench:linux` (dist/linux-boot-bench.js): issue 12's boot figures. Debian 12's i386 kernel
// (scripts/fetch-debian-kernel.sh) with the test's busybox initramfs (tests/linux/init) booted as whole
// processes, one after another, by x86jit (JIT and interpreter), qemu-system-i386 (`-cpu pentium2 -m 128`,
// TCG) and v86 (bench/v86-run.mjs --kernel, with SeaBIOS) on the same kernel, initramfs and command line.
// Per run: seconds from spawn to the kernel's first console line (`Linux version`: the end of the
// decompressor's work, and the firmware's for v86 and QEMU), to the first userspace line
// (`x86jit-linux-test: userspace`), to the end (the init's isa-debug-exit write: status 3 everywhere), and
// the process's CPU time. Prints a Markdown table,
// writes bench/linux-boot-results.json.
//   X86JIT_BENCH_RUNS=N          runs per engine (default 1; the median is shown)
//   X86JIT_BENCH_ENGINES=a,b     some of jit,interp,qemu,v86 (default all)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { busyboxInitramfs } from '../scripts/make-initramfs.mjs';
import { childrenCpuMs, envInt, fmt, gitState, isNum, medianOf, progress, times } from './common.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const KERNEL = join(ROOT, '.cache', 'linux', 'vmlinuz');
const BUSYBOX = join(ROOT, '.cache', 'i386', 'busybox', 'busybox');
const CLI = join(ROOT, 'dist', 'x86jit.js');
const V86_RUN = join(ROOT, 'bench', 'v86-run.mjs');
const BIOS = '/usr/share/seabios/bios.bin';
const APPEND = 'console=ttyS0 panic=-1';
const KERNEL_FIRST = 'Linux version';
const USERSPACE = 'x86jit-linux-test: userspace';
const DONE = 'x86jit-linux-test: done';
/** One boot's wall-clock limit: the interpreter's boot takes minutes on a loaded machine. */
const TIMEOUT_S = 1800;

const ENGINES = ['jit', 'interp', 'qemu', 'v86'] as const;
type Engine = (typeof ENGINES)[number];

interface Boot { kernelS: number | null; userspaceS: number | null; endS: number; cpuS: number | null; status: number | null; ok: boolean; why: string | null }

function command(engine: Engine, initrd: string): [string, string[], NodeJS.ProcessEnv] {
  const x86jit = (e: string): [string, string[], NodeJS.ProcessEnv] =>
    [process.execPath, [CLI, 'run', '--engine', e, '--kernel', KERNEL, '--initrd', initrd, '--append', APPEND, '--timeout', String(TIMEOUT_S)], { ...process.env, X86JIT_JIT_CACHE: 'off' }];
  switch (engine) {
    case 'jit': return x86jit('jit');
    case 'interp': return x86jit('interp');
    case 'qemu': return ['qemu-system-i386', ['-cpu', 'pentium2', '-m', '128', '-kernel', KERNEL, '-initrd', initrd, '-append', APPEND,
      '-nographic', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], process.env];
    case 'v86': return [process.execPath, [V86_RUN, '--kernel', KERNEL, '--initrd', initrd, '--append', APPEND, '--bios', BIOS, '--timeout', String(TIMEOUT_S)], process.env];
  }
}

/** One boot, timed from spawn: when the userspace line arrives, and when the process ends. */
function boot(engine: Engine, initrd: string): Promise<Boot> {
  const [cmd, args, env] = command(engine, initrd);
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '', kernelS: number | null = null, userspaceS: number | null = null;
    p.stdout.setEncoding('latin1').on('data', (s: string) => {
      out += s;
      if (kernelS === null && out.includes(KERNEL_FIRST)) kernelS = (performance.now() - t0) / 1000;
      if (userspaceS === null && out.includes(USERSPACE)) userspaceS = (performance.now() - t0) / 1000;
    });
    p.stderr.setEncoding('latin1').on('data', (s: string) => (err += s));
    p.on('error', (e) => resolve({ kernelS: null, userspaceS: null, endS: 0, cpuS: null, status: null, ok: false, why: e.message }));
    p.on('close', (status) => {
      const endS = (performance.now() - t0) / 1000;
      const cpu1 = childrenCpuMs();
      const ok = status === 3 && out.includes(DONE);
      resolve({ kernelS, userspaceS, endS, cpuS: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / 1000 : null, status, ok,
        why: ok ? null : `status ${status}, ${out.includes(DONE) ? 'the script ran' : 'the script did not finish'}: ${err.trim().split('\n').pop() ?? ''}` });
    });
  });
}

function available(engine: Engine): string | null {
  if (engine === 'qemu') return spawnSync('qemu-system-i386', ['--version']).status === 0 ? null : 'qemu-system-i386 is not installed (apt-get install qemu-system-x86)';
  if (engine === 'v86') return !existsSync(BIOS) ? `${BIOS} is missing (Debian's seabios package)` : null;
  return existsSync(CLI) ? null : 'dist/ is missing: run `node scripts/build.mjs`';
}

async function main(): Promise<void> {
  if (!existsSync(KERNEL) || !existsSync(BUSYBOX)) {
    process.stderr.write('bench: linux boot: the kernel or busybox is missing: run scripts/fetch-debian-kernel.sh and scripts/fetch-i386-busybox.sh\n');
    process.exit(2);
  }
  const runs = envInt('X86JIT_BENCH_RUNS', 1, 1, 100)!;
  const wanted = (process.env.X86JIT_BENCH_ENGINES ?? ENGINES.join(',')).split(',').filter((e) => e !== '');
  const bad = wanted.find((e) => !(ENGINES as readonly string[]).includes(e));
  if (bad !== undefined) { process.stderr.write(`bench: X86JIT_BENCH_ENGINES: '${bad}' is not one of ${ENGINES.join(', ')}\n`); process.exit(2); }
  const engines = ENGINES.filter((e) => wanted.includes(e));
  const loadStart = loadavg()[0];
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-boot-bench-'));
  const initrd = join(dir, 'initrd.gz');
  writeFileSync(initrd, busyboxInitramfs(BUSYBOX, join(ROOT, 'tests', 'linux', 'init')));
  const results: Partial<Record<Engine, { boots: Boot[]; why: string | null }>> = {};
  try {
    for (const engine of engines) {
      const why = available(engine);
      results[engine] = { boots: [], why };
      if (why !== null) { progress(`linux boot: ${engine}: ${why}`); continue; }
      for (let i = 0; i < runs; i++) {
        const b = await boot(engine, initrd);
        progress(`linux boot: ${engine}: kernel ${fmt(b.kernelS, 2, ' s')}, userspace ${fmt(b.userspaceS, 2, ' s')}, end ${fmt(b.endS, 2, ' s')}, CPU ${fmt(b.cpuS, 2, ' s')}${b.ok ? '' : ` — FAILED: ${b.why}`}`);
        results[engine]!.boots.push(b);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (e: Engine, k: 'kernelS' | 'userspaceS' | 'endS' | 'cpuS'): number | null => medianOf((results[e]?.boots ?? []).filter((b) => b.ok).map((b) => b[k]));
  const ratio = (a: number | null, b: number | null): number | null => (isNum(a) && isNum(b) && b > 0 ? a / b : null);
  const names: Record<Engine, string> = { jit: 'x86jit --engine jit', interp: 'x86jit --engine interp', qemu: 'qemu-system-i386 -cpu pentium2 (TCG)', v86: 'v86 (SeaBIOS)' };
  const table = [
    `| Linux boot, whole process, s (median of ${runs}) | to the kernel's first line | to the first userspace line | to the end (debug-exit) | CPU | end ÷ QEMU |`,
    '|---|---|---|---|---|---|',
    ...engines.map((e) => results[e]?.why != null ? `| ${names[e]} | n/a: ${results[e]!.why} | | | | |`
      : `| ${names[e]} | ${fmt(med(e, 'kernelS'), 2)} | ${fmt(med(e, 'userspaceS'), 2)} | ${fmt(med(e, 'endS'), 2)} | ${fmt(med(e, 'cpuS'), 2)} | ${times(ratio(med(e, 'endS'), med('qemu', 'endS')))} |`),
  ];
  const load = `machine: ${cpus().length} cores, Node ${process.version}; 1-minute load average ${loadStart.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`;
  process.stdout.write(`${table.join('\n')}\n\nKernel: ${readFileSync(join(ROOT, '.cache', 'linux', '.x86jit-linux'), 'utf8').trim()}; append "${APPEND}"; ${load}.\n`);
  writeFileSync(join(ROOT, 'bench', 'linux-boot-results.json'), `${JSON.stringify({
    date: new Date().toISOString(), node: process.version, git: gitState(ROOT), loadAverage: { start: loadStart, end: loadavg()[0] }, runs, append: APPEND, results,
  }, null, 2)}\n`);
  const failed = engines.some((e) => results[e]?.boots.some((b) => !b.ok));
  if (failed) process.exit(1);
}

await main();
