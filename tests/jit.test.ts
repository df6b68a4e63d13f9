// The first JIT tier against the interpreter: every test ROM, run with the JIT compiling every block it
// can on first sight (threshold 0), must print what QEMU printed (test-roms/expected/), pass, and retire
// exactly as many instructions as under the interpreter. The ROMs with hot loops must actually have
// compiled blocks, so a JIT that compiles nothing cannot pass.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// Through the esbuild bundle, as roms.test.ts (binaryen stays external and loads on enableJit()).
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadBios, loadImage } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const DIR = join(import.meta.dirname, '..', 'test-roms');
const ROMS = readdirSync(DIR).filter((f) => f.endsWith('.elf') || f === 'bios-realmode.bin').sort();
const HASHED: Record<string, string> = { 'console-uart.elf': 'console-uart.sha256', 'console-pv.elf': 'console-uart.sha256' };
const sha256 = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('hex');

interface Run { output: string; status: number | undefined; reason: string; instructions: number; compiled: number }

async function run(rom: string, jit: boolean): Promise<Run> {
  const chunks: Uint8Array[] = [];
  const vm = createVM({ stdout: (b) => chunks.push(b) });
  if (jit) await vm.enableJit({ threshold: 0 });
  const bytes = new Uint8Array(readFileSync(join(DIR, rom)));
  if (rom.endsWith('.bin')) loadBios(vm, bytes); else loadImage(vm, bytes, rom, {});
  const exit = vm.run({ timeout: 60 });
  return {
    output: Buffer.concat(chunks).toString('latin1'), status: exit.status, reason: exit.reason,
    instructions: vm.instructions, compiled: vm.jitStats()?.compiled ?? 0,
  };
}

const jitRuns = new Map<string, Run>();
async function jitRun(rom: string): Promise<Run> {
  let r = jitRuns.get(rom);
  if (!r) jitRuns.set(rom, (r = await run(rom, true)));
  return r;
}

describe('test ROMs under the JIT (threshold 0)', () => {
  it.each(ROMS)('%s: same output, status and instruction count as the interpreter', async (rom) => {
    const ours = await jitRun(rom);
    expect(ours.output).not.toMatch(/^FAIL/m);
    expect({ reason: ours.reason, status: ours.status }).toEqual({ reason: 'debug-exit', status: 1 });
    if (HASHED[rom]) {
      const want = readFileSync(join(DIR, 'expected', HASHED[rom]), 'utf8').trim().split(/\s+/)[0];
      expect(sha256(ours.output)).toBe(want);
    } else {
      const file = join(DIR, 'expected', rom.replace(/\.(elf|bin)$/, '.txt'));
      expect(existsSync(file)).toBe(true);
      expect(ours.output).toBe(readFileSync(file, 'latin1'));
    }
    const interp = await run(rom, false);
    expect(interp.compiled).toBe(0);
    expect(ours.instructions).toBe(interp.instructions);
  });

  it.each(ROMS.filter((r) => r === 'loops.elf' || r.startsWith('wl-')))('%s: the JIT compiled blocks', async (rom) => {
    expect((await jitRun(rom)).compiled).toBeGreaterThanOrEqual(4);
  });
});

// The lockstep on every ROM (slices, registers, EFLAGS, RAM) is in jit-lockstep.test.ts; random programs
// against the interpreter are in jit-random.test.ts.

// The default mode: regions translate on the worker thread while the interpreter runs, and install between
// blocks. The result must be the interpreter's, and the hot code must end up compiled.
describe('background translation (default threshold, worker thread)', () => {
  it.each(['wl-sieve.elf', 'wl-crc32.elf'])('%s: same output and count as the interpreter, mostly in compiled code', async (rom) => {
    const chunks: Uint8Array[] = [];
    const vm = createVM({ stdout: (b) => chunks.push(b) });
    await vm.enableJit();
    expect(await vm.jitReady()).toBe(true);
    loadImage(vm, new Uint8Array(readFileSync(join(DIR, rom))), rom, { cmdline: `${rom} repeat=4` });
    const exit = vm.run({ timeout: 60 });
    const interp = createVM({ stdout: () => {} });
    loadImage(interp, new Uint8Array(readFileSync(join(DIR, rom))), rom, { cmdline: `${rom} repeat=4` });
    interp.run({ timeout: 60 });
    expect({ reason: exit.reason, status: exit.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(Buffer.concat(chunks).toString('latin1')).not.toMatch(/^FAIL/m);
    expect(vm.instructions).toBe(interp.instructions);
    const st = vm.jitStats()!;
    expect(st.compiled).toBeGreaterThan(0);
    expect(st.instructions / vm.instructions).toBeGreaterThan(0.5);
  });
});
