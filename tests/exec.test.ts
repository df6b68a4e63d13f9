// `x86jit exec`: static Linux i386 programs (test-roms/exec/, built by test-roms/build-exec.sh) under both
// engines must print exactly what qemu-i386 prints and exit with its status — compared with qemu-i386's
// recorded results (test-roms/exec/expected/cases.json) always, and with qemu-i386 run now where it is
// installed (.ci/run installs qemu-user). Also the system-call layer through the library API: unknown
// calls are -ENOSYS and counted, bad pointers -EFAULT, and bad programs one line and status 2.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module shared with test-roms/build-exec.sh
import { CASES, CLI, EXPECTED, runCase } from './exec-cases.mjs';

// Through the esbuild bundle, the code users run (as roms.test.ts does).
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'node.js');
const { createProcess } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/node.ts');

interface Result { stdout: string; stderr: string; status: number }
type Case = { name: string; program: string; args: string[] };
const cases = CASES as Case[];
const expected = JSON.parse(readFileSync(EXPECTED, 'utf8')) as Record<string, Result>;
const QEMU = spawnSync('qemu-i386', ['--version'], { encoding: 'utf8' }).status === 0;

describe('x86jit exec against qemu-i386', () => {
  for (const engine of ['interp', 'jit'] as const) {
    for (const c of cases) {
      it(`${c.name} (${engine}) matches qemu-i386's recorded run`, () => {
        const ours = runCase(c, engine) as Result;
        expect(ours).toEqual(expected[c.name]);
      });
    }
  }
  it.skipIf(!QEMU)('qemu-i386 today agrees with the recorded runs', () => {
    for (const c of cases) expect(runCase(c, 'qemu'), c.name).toEqual(expected[c.name]);
  });
});

// execve cannot be compared with qemu-i386 here: it hands execve to the host kernel, which runs no i386
// program without binfmt_misc. What the kernel would print is known: the child's line, its status 5.
describe('x86jit exec: execve, vfork, posix_spawn, the process limit', () => {
  const PROCS = join(import.meta.dirname, '..', 'test-roms', 'exec', 'procs.elf');
  for (const engine of ['interp', 'jit'] as const) {
    it(`vfork+execve and posix_spawn run the program again in the child (${engine})`, () => {
      const r = spawnSync(process.execPath, [CLI, 'exec', '--engine', engine, PROCS, 'exec'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('child vforkvfork+exec: status=5\nposix_spawn: rc=0 output=child spawn status=5\nexecl failed: No such file or directory\nexit status 127\n');
      expect(r.status).toBe(0);
    });
  }
  it('a fork bomb ends with EAGAIN at --max-processes', () => {
    const r = spawnSync(process.execPath, [CLI, 'exec', '--max-processes', '6', PROCS, 'forkbomb'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(r.stdout).toBe('forked 5 children, then: Resource temporarily unavailable\nreaped 5\n');
    expect(r.status).toBe(0);
  });
  it('Process.run() alone (no VM factory for children): fork is -ENOSYS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86jit-exec-nofork-'));
    const out = openSync(join(dir, 'out'), 'w+');
    const p = await createProcess(new Uint8Array(readFileSync(PROCS)), PROCS, { argv: [PROCS, 'forkbomb'], memory: 64 << 20, stdio: [0, out, 2] });
    expect(p.run()).toEqual({ kind: 'exit', status: 0 });
    closeSync(out);
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('forked 0 children, then: Function not implemented\nreaped 0\n');
    rmSync(dir, { recursive: true, force: true });
  });
});

/** int 0x80 with the given registers, as a tiny static program: code at 0x08048000. */
function elfWithCode(code: number[]): Uint8Array {
  const base = 0x0804_8000, hdr = 52 + 32;
  const b = new Uint8Array(hdr + code.length);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  v.setUint16(16, 2, true); v.setUint16(18, 3, true); v.setUint32(20, 1, true);
  v.setUint32(24, base + hdr, true); v.setUint32(28, 52, true); v.setUint16(40, 52, true); v.setUint16(42, 32, true); v.setUint16(44, 1, true);
  v.setUint32(52, 1, true); v.setUint32(56, 0, true); v.setUint32(60, base, true); v.setUint32(64, base, true);
  v.setUint32(68, b.length, true); v.setUint32(72, b.length, true); v.setUint32(76, 5, true); v.setUint32(80, 4096, true);
  b.set(code, hdr);
  return b;
}
const movEax = (n: number): number[] => [0xb8, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const movEbx = (n: number): number[] => [0xbb, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const movEcx = (n: number): number[] => [0xb9, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const movEdx = (n: number): number[] => [0xba, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const INT80 = [0xcd, 0x80];
/** exit_group(EAX's low byte): mov ebx, eax; mov eax, 252; int 0x80. */
const EXIT_WITH_EAX = [0x89, 0xc3, ...movEax(252), ...INT80];

describe('x86jit exec system calls (library API)', () => {
  for (const engine of ['interp', 'jit'] as const) {
    it(`an unknown system call is -ENOSYS and counted; the program goes on (${engine})`, async () => {
      const p = await createProcess(elfWithCode([...movEax(999), ...INT80, 0xf7, 0xd8, ...EXIT_WITH_EAX]), 'enosys', { engine, memory: 32 << 20 });
      expect(p.run()).toEqual({ kind: 'exit', status: 38 });
      expect(p.unknownSyscalls).toBe(1);
      expect(p.syscallCounts.get('syscall_999')).toBe(1);
    });
    it(`bad pointers are -EFAULT, never a host exception (${engine})`, async () => {
      const results: number[] = [];
      // write(1, 0x10, 4); write(1, 0xc0000000 (kernel space), 4); read(0, text page (read-only), 1); uname(0xfffff000, the GDT's page)
      const code = [
        ...movEax(4), ...movEbx(1), ...movEcx(0x10), ...movEdx(4), ...INT80,
        ...movEax(4), ...movEbx(1), ...movEcx(0xc000_0000), ...movEdx(4), ...INT80,
        ...movEax(3), ...movEbx(0), ...movEcx(0x0804_8000), ...movEdx(1), ...INT80,
        ...movEax(122), ...movEbx(0xffff_f000), ...INT80,
        ...movEax(0), ...EXIT_WITH_EAX,
      ];
      const p = await createProcess(elfWithCode(code), 'efault', { engine, memory: 32 << 20, afterSyscall: (c, r) => { if (c.name !== 'exit_group') results.push(r); } });
      expect(p.run()).toEqual({ kind: 'exit', status: 0 });
      expect(results).toEqual([-14, -14, -14, -14]);
    });
    it(`the onSyscall hook can answer a call itself (${engine})`, async () => {
      const p = await createProcess(elfWithCode([...movEax(20), ...INT80, ...EXIT_WITH_EAX]), 'hook', { engine, memory: 32 << 20, onSyscall: (c) => (c.name === 'getpid' ? 42 : undefined) });
      expect(p.run()).toEqual({ kind: 'exit', status: 42 });
    });
    it(`a store to the read-only text is SIGSEGV with the faulting EIP (${engine})`, async () => {
      const p = await createProcess(elfWithCode([0xc6, 0x05, 0x00, 0x80, 0x04, 0x08, 0x01, ...movEax(0), ...EXIT_WITH_EAX]), 'wprot', { engine, memory: 32 << 20 });
      const r = p.run();
      expect(r).toMatchObject({ kind: 'signal', signal: 11, eip: 0x0804_8054 });
    });
  }
});

describe('x86jit exec: bad input', () => {
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-exec-bad-'));
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'exec', ...args], { encoding: 'utf8' });
  const cases: Array<[string, Uint8Array | null, RegExp]> = [
    ['missing', null, /no such file/],
    ['text', new TextEncoder().encode('#!/bin/sh\necho hi\n'), /not an ELF executable/],
    ['elf64', (() => { const b = elfWithCode([]); b[4] = 2; return b; })(), /64-bit ELF/],
    // A second program header (in the code's place): PT_INTERP naming a loader no x86-64 host has.
    ['dynamic', (() => {
      const interp = [...new TextEncoder().encode('/lib/x86jit-no-such-ld.so.2'), 0];
      const b = elfWithCode([...new Array(32).fill(0), ...interp]), v = new DataView(b.buffer);
      v.setUint16(44, 2, true);
      v.setUint32(84, 3, true); v.setUint32(88, 116, true); v.setUint32(100, interp.length, true); v.setUint32(104, interp.length, true);
      return b;
    })(), /^x86jit: dynamically linked program: its interpreter \/lib\/x86jit-no-such-ld.so.2 is not on this host; give an i386 sysroot with --root/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`${name}: one line, status 2`, () => {
      const path = join(dir, name);
      if (bytes) writeFileSync(path, bytes);
      const r = run(path);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }
  it('--strace prints calls as strace does; --stats counts them', () => {
    const path = join(dir, 'hello');
    writeFileSync(path, elfWithCode([...movEax(20), ...INT80, ...movEax(7), ...EXIT_WITH_EAX]));
    const r = run('--strace', '--stats', path);
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(/^getpid\(\) = \d+\nexit_group\(7\) = \?\n/);
    expect(r.stderr).toMatch(/x86jit: +getpid +1\n/);
    rmSync(dir, { recursive: true, force: true });
  });
});
