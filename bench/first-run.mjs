// What a user waits for: whole processes, side by side in one run, alternating — `x86jit run` under the
// interpreter, under the JIT's default tier 1 (our encoder, translating on the main thread), under the
// JIT with binaryen on its worker (X86JIT_JIT_BACKGROUND=1, no disk cache: a first run), and
// qemu-system-i386 (TCG) when installed. `node bench/first-run.mjs [RUNS] [REPEAT]` after `npm run build`
// (defaults 3 and 16: the workload ROMs at ~100 M instructions). Prints a Markdown table of medians.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.argv[2] ?? 3), REPEAT = Number(process.argv[3] ?? 16);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ROMS = ['loops', 'wl-bytecode', 'wl-crc32', 'wl-matmul', 'wl-memcpy', 'wl-recursion', 'wl-sieve', 'wl-sort'];
const hasQemu = spawnSync('qemu-system-i386', ['--version'], { stdio: 'ignore' }).status === 0;

function time(cmd, args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 300_000, env: { ...process.env, X86JIT_JIT_CACHE: 'off', ...env } });
  return { ms: performance.now() - t0, status: r.status };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const columns = {
  interp: (rom, cmdline) => time(process.execPath, [`${ROOT}dist/x86jit.js`, 'run', rom, '--cmdline', cmdline]),
  'jit tier 1': (rom, cmdline) => time(process.execPath, [`${ROOT}dist/x86jit.js`, 'run', rom, '--engine', 'jit', '--cmdline', cmdline]),
  'jit binaryen worker': (rom, cmdline) => time(process.execPath, [`${ROOT}dist/x86jit.js`, 'run', rom, '--engine', 'jit', '--cmdline', cmdline], { X86JIT_JIT_BACKGROUND: '1' }),
  ...(hasQemu ? {
    qemu: (rom, cmdline) => time('qemu-system-i386', ['-kernel', rom, '-append', cmdline, '-serial', 'file:/dev/null',
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-display', 'none', '-nodefaults']),
  } : {}),
};
const names = Object.keys(columns);
console.log(`| whole process, median of ${RUNS} (repeat=${REPEAT}) | ${names.map((n) => `${n} ms`).join(' | ')} |${hasQemu ? ' tier 1 ÷ QEMU |' : ''}`);
console.log(`| --- | ${names.map(() => '---:').join(' | ')} |${hasQemu ? ' ---: |' : ''}`);
for (const rom of ROMS) {
  const path = `${ROOT}test-roms/${rom}.elf`, cmdline = `${rom}.elf repeat=${REPEAT}`;
  const ms = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < RUNS; i++) {
    for (const n of names) {
      const r = columns[n](path, cmdline);
      if (r.status !== 1) console.error(`${rom} ${n}: exit ${r.status} (want 1)`);
      ms[n].push(r.ms);
    }
  }
  const med = Object.fromEntries(names.map((n) => [n, median(ms[n])]));
  console.log(`| ${rom}.elf | ${names.map((n) => med[n].toFixed(0)).join(' | ')} |${hasQemu ? ` ${(med['jit tier 1'] / med.qemu).toFixed(2)}× |` : ''}`);
}
