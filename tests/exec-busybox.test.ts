// Debian's static i386 busybox (scripts/fetch-i386-busybox.sh; .ci/run fetches it) runs our shell script
// (test-roms/src/exec/busybox-test.sh: pipes, redirections, subshells, loops, functions, ~50 applets) under
// `x86jit exec` with both engines, and must print exactly what it prints under qemu-i386. Busybox's shell
// runs most applets by forking and re-executing /proc/self/exe. qemu-i386 hands that execve to the host
// kernel, which runs no i386 program here (no binfmt_misc), and ash then looks the name up in PATH; so the
// oracle's PATH holds one wrapper per applet that runs `qemu-i386 busybox APPLET` — busybox's own applets
// on both sides, never the host's tools. The interpreter runs the whole script; the JIT, which translates
// afresh in every new process (~120 here), the sections with the most computing in them (checksums,
// gzip, tar, loops), to stay within the test budget. The runs go at once (each is one process tree).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');
const BUSYBOX = join(ROOT, '.cache/i386/busybox/busybox');
const SCRIPT = join(ROOT, 'test-roms/src/exec/busybox-test.sh');
const CLI = join(ROOT, 'dist/x86jit.js');
const HAVE_BUSYBOX = existsSync(BUSYBOX);
/** qemu-i386's absolute path (the runs' PATH does not have it), or '' when it is not installed. */
const QEMU = spawnSync('sh', ['-c', 'command -v qemu-i386'], { encoding: 'utf8' }).stdout.trim();
const CI = process.env.X86JIT_CI === '1';

interface Result { stdout: string; stderr: string; status: number | null; signal: string | null }

const work = mkdtempSync(join(tmpdir(), 'x86jit-busybox-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(name: string, command: string, args: string[], path: string): Promise<Result> {
  const cwd = join(work, name);
  mkdirSync(cwd);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { X86JIT_TEST_A: '1', LANG: 'C', PATH: path }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (status, signal) => { clearTimeout(timer); resolve({ stdout, stderr, status, signal }); });
  });
}

describe('x86jit exec: Debian busybox-static:i386', () => {
  it.runIf(CI)('is there under CI (scripts/fetch-i386-busybox.sh, run by .ci/run)', () => {
    expect(HAVE_BUSYBOX, `no busybox at ${BUSYBOX}`).toBe(true);
  });

  it.skipIf(!HAVE_BUSYBOX || QEMU === '')('busybox sh runs our script as under qemu-i386, under both engines', async () => {
    // The oracle's PATH: a wrapper per applet (see above).
    const wrappers = join(work, 'wrappers');
    mkdirSync(wrappers);
    const list = spawnSync(QEMU, [BUSYBOX, '--list'], { encoding: 'utf8' }).stdout.split('\n').filter((n) => /^[\w.[-]+$/.test(n));
    expect(list.length).toBeGreaterThan(100);
    for (const applet of list) {
      const file = join(wrappers, applet);
      writeFileSync(file, `#!/bin/sh\nexec ${QEMU} ${BUSYBOX} ${applet} "$@"\n`);
      chmodSync(file, 0o755);
    }
    const empty = join(work, 'empty-path');
    mkdirSync(empty);
    const JIT_SECTIONS = ['functions', 'archives'];
    const [qemu, qemuPart, interp, jit] = await Promise.all([
      run('qemu', QEMU, [BUSYBOX, 'sh', SCRIPT], wrappers),
      run('qemu-part', QEMU, [BUSYBOX, 'sh', SCRIPT, ...JIT_SECTIONS], wrappers),
      run('interp', process.execPath, [CLI, 'exec', '--engine', 'interp', BUSYBOX, 'sh', SCRIPT], empty),
      run('jit', process.execPath, [CLI, 'exec', '--engine', 'jit', BUSYBOX, 'sh', SCRIPT, ...JIT_SECTIONS], empty),
    ]);
    expect(qemu.status).toBe(0);
    expect(qemu.stdout).toMatch(/^== functions\n[^]*\n== env\n[^]*\ndone\n$/);
    expect(qemu.stdout).toContain('tar round trip\n');
    expect(qemuPart.stdout).toMatch(/^== functions\n[^]*\n== archives\n[^]*tar round trip\n[^]*\ndone\n$/);
    for (const [ours, oracle] of [[interp, qemu], [jit, qemuPart]]) {
      expect(ours.stdout).toBe(oracle.stdout);
      expect(ours.stderr).toBe(oracle.stderr);
      expect(ours.status).toBe(oracle.status);
    }
  }, 180_000);
});
