// The `x86jit exec` test cases (test-roms/exec/*.elf under qemu-i386 and under x86jit exec), shared by
// tests/exec.test.ts and test-roms/build-exec.sh (`node tests/exec-cases.mjs --record` writes qemu-i386's
// results to test-roms/exec/expected/cases.json). DIR in args is replaced by a fresh temporary directory.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const EXPECTED = join(root, 'test-roms/exec/expected/cases.json');
export const CLI = join(root, 'dist/x86jit.js');

export const CASES = [
  { name: 'hello', program: 'suite.elf', args: ['hello', 'a', 'b c', '7'] },
  { name: 'files', program: 'suite.elf', args: ['files', 'DIR'] },
  { name: 'memory', program: 'suite.elf', args: ['memory'] },
  { name: 'clock', program: 'suite.elf', args: ['clock'] },
  { name: 'errno', program: 'suite.elf', args: ['errno', 'DIR'] },
  { name: 'segv', program: 'suite.elf', args: ['segv'] },
  { name: 'wprot', program: 'suite.elf', args: ['wprot'] },
  { name: 'fpe', program: 'suite.elf', args: ['fpe'] },
  { name: 'ill', program: 'suite.elf', args: ['ill'] },
  { name: 'abort', program: 'suite.elf', args: ['abort'] },
  { name: 'pie', program: 'pie.elf', args: ['x', 'y'] },
  { name: 'signals', program: 'procs.elf', args: ['signals'] },
  { name: 'pipes', program: 'procs.elf', args: ['pipes'] },
  { name: 'procs', program: 'procs.elf', args: ['procs'] },
  { name: 'sigpipe', program: 'procs.elf', args: ['sigpipe'] },
  { name: 'sigterm', program: 'procs.elf', args: ['sigterm'] },
];

/** The environment both runs get (no host variables: the output must not depend on the machine). */
export const ENV = { X86JIT_TEST_A: '1', X86JIT_TEST_B: 'two words', LANG: 'C' };

const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/** The one-line signal reports of qemu-i386 and x86jit, reduced to what both must agree on. */
export function normaliseStderr(text) {
  return text
    .replace(/^qemu: uncaught target signal (\d+) \(([^)]*)\).*$/gm, '<killed by signal $1 ($2)>')
    .replace(/^x86jit: uncaught signal (\d+) \(([^)]*)\).*$/gm, '<killed by signal $1 ($2)>');
}

/** Run one case: under qemu-i386 (`runner` 'qemu') or `x86jit exec --engine ENGINE`. */
export function runCase(c, runner) {
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-exec-'));
  try {
    const program = join(root, 'test-roms/exec', c.program);
    const args = c.args.map((a) => (a === 'DIR' ? dir : a));
    const r = runner === 'qemu'
      // (in the temporary directory: a core file qemu-i386 may write for a killed program goes away with it)
      ? spawnSync('qemu-i386', [program, ...args], { env: ENV, cwd: dir, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] })
      // (in the temporary directory too: a program killed by a signal kills x86jit with it, as qemu-i386 does)
      : spawnSync(process.execPath, [CLI, 'exec', '--engine', runner, program, ...args], { env: { ...ENV, X86JIT_JIT_CACHE: 'off', X86JIT_JIT_VALIDATE: '1' }, cwd: dir, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    const status = r.status ?? 128 + (SIGNALS[r.signal] ?? 0);
    return { stdout: r.stdout.split(dir).join('DIR'), stderr: normaliseStderr(r.stderr.split(dir).join('DIR')), status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--record') {
  const out = {};
  for (const c of CASES) out[c.name] = runCase(c, 'qemu');
  writeFileSync(EXPECTED, `${JSON.stringify(out, null, 1)}\n`);
  console.log(`recorded ${CASES.length} cases in ${EXPECTED}`);
}
