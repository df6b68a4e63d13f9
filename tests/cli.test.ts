// The command line as a user meets it: every way a run can end gives its documented exit status and
// one line on stderr, bad input never prints a stack trace. Runs the esbuild bundle (`npm test` builds it).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const ROMS = join(import.meta.dirname, '..', 'test-roms');
let dir = '';

function x86jit(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, input: '' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Write a raw binary for `--load 0x100000 --entry 0x100000`. */
function raw(name: string, bytes: number[]): string {
  const p = join(dir, name);
  writeFileSync(p, Uint8Array.from(bytes));
  return p;
}

const RAW = ['--load', '0x100000', '--entry', '0x100000'];

/** Asserts the shape of a failure: one line, naming the problem, no stack trace. */
function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'x86jit-cli-'));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node scripts/build.mjs\` (npm test does)`);
});

describe('x86jit run', () => {
  it('runs the hello ROM: serial output on stdout, debug-exit status', () => {
    const r = x86jit('run', join(ROMS, 'hello.elf'));
    expect(r.stdout).toContain('Hello from x86jit test ROM');
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('');
  });

  it('--stats reports instructions, wall time and MIPS', () => {
    const r = x86jit('run', '--stats', join(ROMS, 'hello.elf'));
    expect(r.stderr).toMatch(/^x86jit: \d+ instructions in [\d.]+ s \([\d.]+ MIPS\)/);
  });

  it('exits 4 on HLT with interrupts disabled, naming the reason and EIP', () => {
    const r = x86jit('run', ...RAW, raw('hlt.bin', [0xfa, 0xf4])); // cli; hlt
    expect(r.status).toBe(4);
    oneLine(r.stderr, /halt: HLT with interrupts disabled at 0008:00100002/);
  });

  it('exits 0 when the guest resets the machine (0xFE to port 0x64), as qemu-system-i386 -no-reboot does', () => {
    const r = x86jit('run', ...RAW, raw('reset.bin', [0xb0, 0xfe, 0xe6, 0x64, 0xf4])); // mov al, 0xfe; out 0x64, al; hlt
    expect(r.status).toBe(0);
    oneLine(r.stderr, /^x86jit: reset: the guest reset the machine \(8042 command 0xFE\) at 0008:00100004$/);
  });

  it('exits 6 when --max-instructions runs out, after exactly that many', () => {
    const r = x86jit('run', '--stats', '--max-instructions', '1000', ...RAW, raw('loop.bin', [0xeb, 0xfe])); // jmp $
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/^x86jit: 1000 instructions/);
    expect(r.stderr).toMatch(/max-instructions: instruction limit reached \(1000 instructions\) at 0008:00100000/);
  });

  it('exits 8 on --timeout for a guest that loops forever', () => {
    const r = x86jit('run', '--timeout', '0.3', ...RAW, raw('loop2.bin', [0xeb, 0xfe]));
    expect(r.status).toBe(8);
    oneLine(r.stderr, /timeout: timed out after 0.3 s at 0008:00100000/);
  });

  it('exits 10 on a triple fault (an invalid opcode with no IDT): one line, then the registers as QEMU dumps them', () => {
    const r = x86jit('run', ...RAW, raw('ud.bin', [0x90, 0x0f, 0x0b])); // nop; ud2
    expect(r.status).toBe(10);
    const [first, ...dump] = r.stderr.trimEnd().split('\n');
    expect(first).toMatch(/^x86jit: triple-fault: .*#UD.* at 0008:00100001$/);
    expect(dump[0]).toBe('EAX=00000000 EBX=00000000 ECX=00000000 EDX=00000000');
    expect(dump).toContain('CS =0008 00000000 ffffffff 00c09b00');
    expect(dump.find((l) => l.startsWith('EIP='))).toMatch(/^EIP=00100001 EFL=00000002/);
    expect(dump[dump.length - 1]).toMatch(/^CR0=00000011 CR2=00000000 CR3=00000000 CR4=00000000$/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a guest cannot write outside its RAM: writes beyond RAM are dropped, reads give all-ones', () => {
    // mov dword [0xfffff000], 0x12345678 ; mov eax, [0xfffff000] ; out 0xf4, al  -> status (0xff << 1 | 1) & 0xff
    const r = x86jit('run', '--mem', '4M', ...RAW, raw('oob.bin', [
      0xc7, 0x05, 0x00, 0xf0, 0xff, 0xff, 0x78, 0x56, 0x34, 0x12,
      0xa1, 0x00, 0xf0, 0xff, 0xff,
      0xe6, 0xf4,
    ]));
    expect(r.status).toBe(0xff);
  });

  it.each([
    [['run'], /missing ROM/],
    [['run', '/nonexistent/rom.elf'], /rom\.elf/],
    [['run', '--frobnicate', 'x'], /frobnicate/],
    [['run', '--mem', 'lots', 'x'], /--mem/],
    [['run', '--engine', 'fast', 'x'], /--engine/],
    [['run', '--load', '0x1000', 'x'], /--load and --entry/],
    [['frob'], /unknown command/],
  ])('usage error %j exits 2 with one line', (args, pattern) => {
    const r = x86jit(...(args as string[]));
    expect(r.status).toBe(2);
    oneLine(r.stderr, pattern);
  });

  it.each([
    ['empty', []],
    ['garbage', Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) & 0xff)],
    ['truncated-elf', [0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 0, 0]],
  ])('bad image (%s) exits 2 with one line', (name, bytes) => {
    const r = x86jit('run', raw(`${name}.bin`, bytes as number[]));
    expect(r.status).toBe(2);
    oneLine(r.stderr, new RegExp(name));
  });

  it('a directory is refused with one line', () => {
    const r = x86jit('run', dir);
    expect(r.status).toBe(2);
    oneLine(r.stderr, /director/);
  });

  it('--help prints usage and exits 0', () => {
    const r = x86jit('run', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: x86jit run ROM/);
  });
});

describe('x86jit disasm', () => {
  it('disassembles a flat binary in Intel syntax at --org', () => {
    const r = x86jit('disasm', '--org', '0x1000', raw('d.bin', [0x55, 0x89, 0xe5, 0x8b, 0x45, 0x08, 0xc3]));
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/1000:\s+55\s+push\s+ebp/);
    expect(lines[1]).toMatch(/1001:\s+89 e5\s+mov\s+ebp, ?esp/);
    expect(lines[2]).toMatch(/1003:\s+8b 45 08\s+mov\s+eax, ?DWORD PTR \[ebp\+0x8\]/);
    expect(lines[3]).toMatch(/1006:\s+c3\s+ret/);
  });

  it('--bits 16 decodes 16-bit code', () => {
    const r = x86jit('disasm', '--bits', '16', raw('d16.bin', [0xb8, 0x34, 0x12, 0xcd, 0x10]));
    expect(r.stdout).toMatch(/mov\s+ax, ?0x1234/);
    expect(r.stdout).toMatch(/int\s+0x10/);
  });
});
