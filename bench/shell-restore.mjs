// How long a booted kernel's snapshot at its shell prompt takes to answer (README, "A booted kernel's snapshot
// restores to a working shell"): `node bench/shell-restore.mjs SNAPSHOT [interp|jit]` runs `x86jit run --stats
// --restore SNAPSHOT` under /usr/bin/time, waits for the restored shell's first output (its ESC[6n after the
// prompt), then writes `uname -a`, `echo $((6*7))` and `exit` to its console, and prints the milliseconds from
// the process's start to that first output, from the input to the echo and to the `42`, to the exit, and the
// CPU time /usr/bin/time measured; first, the floor: the wall time of `node -e 0` and of the CLI's own start
// (`x86jit run --help`). Make SNAPSHOT with `x86jit snapshot --kernel … --append "… x86jit.end=shell"
// --at-output 'x86jit-shell# '`.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const [snapshot, engine = 'interp'] = process.argv.slice(2);
if (!snapshot || !['interp', 'jit'].includes(engine)) {
  console.error('usage: node bench/shell-restore.mjs SNAPSHOT [interp|jit]');
  process.exit(2);
}
// X86JIT_CLI: another build's dist/x86jit.js, to compare builds.
const cli = process.env.X86JIT_CLI ?? join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const wall = (args) => { const t = performance.now(); spawnSync(process.execPath, args, { stdio: 'ignore' }); return performance.now() - t; };
console.log(`floor: node -e 0 ${wall(['-e', '0']).toFixed(0)} ms, x86jit run --help ${wall([cli, 'run', '--help']).toFixed(0)} ms`);
const t0 = performance.now();
const p = spawn('/usr/bin/time', ['-f', 'cpu: %U s user, %S s system, %e s wall', process.execPath, cli, 'run', '--engine', engine, '--stats', '--restore', snapshot],
  { stdio: ['pipe', 'pipe', 'pipe'] });
let out = '', err = '', first, echo, answer;
p.stdout.on('data', (b) => {
  const t = performance.now() - t0;
  out += b;
  if (first === undefined) { first = t; p.stdin.end('uname -a\necho $((6*7))\nexit\n'); }
  if (echo === undefined && out.includes('uname -a')) echo = t;
  if (answer === undefined && /\n42\r?\n/.test(out)) answer = t;
});
p.stderr.on('data', (b) => (err += b));
p.on('close', (status) => {
  const ms = (v) => (v === undefined ? 'never' : `${v.toFixed(0)} ms`);
  console.log(`${engine}: first output ${ms(first)} after the start; after the input: echo +${ms(echo - first)}, '42' +${ms(answer - first)}; ` +
    `exit ${ms(performance.now() - t0)}, status ${status}`);
  for (const l of err.split('\n')) if (/first instruction|^cpu:/.test(l)) console.log(l);
});
