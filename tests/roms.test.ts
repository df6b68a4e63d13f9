// Every test ROM, run through the public API under the interpreter: it must pass (debug-exit status 1)
// and print exactly what qemu-system-i386 printed (test-roms/expected/, recorded from QEMU). Where QEMU is
// installed, each ROM is also run under QEMU now and the outputs must be byte-identical.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';

// The ROMs run through the esbuild bundle that `npm test` builds (dist/index.js), the code users run:
// under vitest's module transform the interpreter's cross-module calls cannot be inlined and it runs
// about 8× slower, which would make this suite the slowest part of CI.
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadBios, loadImage } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const DIR = join(import.meta.dirname, '..', 'test-roms');
const ROMS = readdirSync(DIR).filter((f) => f.endsWith('.elf') || f === 'bios-realmode.bin').sort();
const QEMU = spawnSync('qemu-system-i386', ['--version'], { encoding: 'utf8' }).status === 0;
/** Paravirtual ROMs: they need x86jit's hypercalls, which QEMU's TCG does not have. */
const PARAVIRTUAL = new Set(['hypercall.elf', 'console-pv.elf']);
/**
 * ROMs QEMU 7.2 cannot run, and why: their expected output follows the SDM (each check says what it expects),
 * and a test below notices when QEMU can run them (then they join the live comparison).
 */
const QEMU_CANNOT: Record<string, string> = {
  'fpu-irq13.elf': 'QEMU 7.2 aborts at the first FERR# with CR0.NE clear (tcg_handle_interrupt: assertion failed: (qemu_mutex_iothread_locked()))',
};
/** Expected output by content hash where it is too big to keep (1 MiB of console text); console-pv must match console-uart. */
const HASHED: Record<string, string> = { 'console-uart.elf': 'console-uart.sha256', 'console-pv.elf': 'console-uart.sha256' };
const sha256 = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('hex');

interface OurRun { output: string; status: number | undefined; reason: string; message: string }
const ourRuns = new Map<string, OurRun>();

/** Each ROM runs once under x86jit; both suites compare against that run. */
function runOurs(rom: string): OurRun {
  let r = ourRuns.get(rom);
  if (!r) ourRuns.set(rom, (r = runOursNow(rom)));
  return r;
}

function runOursNow(rom: string): OurRun {
  const chunks: Uint8Array[] = [];
  const vm = createVM({ stdout: (b) => chunks.push(b) });
  const bytes = new Uint8Array(readFileSync(join(DIR, rom)));
  if (rom.endsWith('.bin')) loadBios(vm, bytes); else loadImage(vm, bytes, rom, {});
  const exit = vm.run({ timeout: 60 });
  return { output: Buffer.concat(chunks).toString('latin1'), status: exit.status, reason: exit.reason, message: exit.message };
}

/** QEMU's stdio chardev drops bytes when a pipe is full, so its output goes to a file. */
function runQemu(rom: string): { output: string; status: number | null } {
  const load = rom.endsWith('.bin') ? ['-bios', join(DIR, rom)] : ['-kernel', join(DIR, rom)];
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-qemu-'));
  const outFile = join(dir, 'serial.txt');
  const fd = openSync(outFile, 'w');
  try {
    const r = spawnSync('qemu-system-i386', [...load, '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-display', 'none', '-nodefaults'],
      { stdio: ['ignore', fd, 'pipe'], timeout: 60_000 });
    return { output: readFileSync(outFile, 'latin1'), status: r.status };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('test ROMs under the interpreter', () => {
  it('finds the ROMs', () => expect(ROMS.length).toBeGreaterThanOrEqual(20));

  it.each(ROMS)('%s passes and prints what QEMU printed', (rom) => {
    const ours = runOurs(rom);
    expect(ours.output).not.toMatch(/^FAIL/m);
    expect({ reason: ours.reason, status: ours.status }).toEqual({ reason: 'debug-exit', status: 1 });
    if (HASHED[rom]) {
      const want = readFileSync(join(DIR, 'expected', HASHED[rom]), 'utf8').trim().split(/\s+/)[0];
      expect(sha256(ours.output)).toBe(want);
      return;
    }
    const file = join(DIR, 'expected', rom.replace(/\.(elf|bin)$/, '.txt'));
    expect(existsSync(file)).toBe(true);
    expect(ours.output).toBe(readFileSync(file, 'latin1'));
  });
});

describe.skipIf(!QEMU)('test ROMs against a live qemu-system-i386 (paravirtual ROMs excepted: TCG has no x86jit hypercalls)', () => {
  it.each(ROMS.filter((r) => !PARAVIRTUAL.has(r) && !(r in QEMU_CANNOT)))('%s: byte-identical serial output and the same exit status', (rom) => {
    const q = runQemu(rom);
    const ours = runOurs(rom);
    expect(ours.output).toBe(q.output);
    expect(ours.status).toBe(q.status);
  });
});

describe.skipIf(!QEMU)('test ROMs QEMU cannot run', () => {
  it.each(Object.entries(QEMU_CANNOT))('%s: still beyond QEMU (%s)', (rom) => {
    const q = runQemu(rom);
    expect(q.status, `QEMU now ends ${rom} with status ${q.status}: compare it live (remove it from QEMU_CANNOT)`).not.toBe(1);
  });
});

if (!QEMU) console.warn('roms.test: qemu-system-i386 is not installed; the live QEMU comparison is skipped (.ci/run installs it)');
