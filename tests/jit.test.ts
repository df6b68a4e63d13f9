// Both JIT tiers against the interpreter: every test ROM, run with the JIT compiling every block it can on
// first sight (threshold 0) — at tier 1, and at tier 2 ('sync' at tier-2 threshold 0: every region
// translated by binaryen with its loops formed) — must print what QEMU printed (test-roms/expected/), pass,
// and retire exactly as many instructions as under the interpreter. The ROMs with hot loops must actually
// have compiled blocks at the tier under test, so a JIT that compiles nothing cannot pass.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// Through the esbuild bundle, as roms.test.ts (binaryen stays external and loads on enableJit()).
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadBios, loadImage, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const DIR = join(import.meta.dirname, '..', 'test-roms');
const ROMS = readdirSync(DIR).filter((f) => f.endsWith('.elf') || f === 'bios-realmode.bin').sort();
const HASHED: Record<string, string> = { 'console-uart.elf': 'console-uart.sha256', 'console-pv.elf': 'console-uart.sha256' };
const sha256 = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('hex');

interface Run { output: string; status: number | undefined; reason: string; instructions: number; compiled: number; tier2: number }

/** Under the interpreter (tier 0), or the JIT at threshold 0 with every region at `tier`. */
async function run(rom: string, tier: 0 | 1 | 2): Promise<Run> {
  const chunks: Uint8Array[] = [];
  const vm = createVM({ stdout: (b) => chunks.push(b) });
  if (tier > 0) await vm.enableJit({ threshold: 0, ...(tier === 2 ? { tier2: 'sync', tier2Threshold: 0 } : { tier2: 'off' }) });
  const bytes = new Uint8Array(readFileSync(join(DIR, rom)));
  if (rom.endsWith('.bin')) loadBios(vm, bytes); else loadImage(vm, bytes, rom, {});
  const exit = vm.run({ timeout: 60 });
  return {
    output: Buffer.concat(chunks).toString('latin1'), status: exit.status, reason: exit.reason,
    instructions: vm.instructions, compiled: vm.jitStats()?.compiled ?? 0, tier2: vm.jitStats()?.tier2 ?? 0,
  };
}

const jitRuns = new Map<string, Run>();
async function jitRun(rom: string, tier: 1 | 2): Promise<Run> {
  let r = jitRuns.get(`${tier} ${rom}`);
  if (!r) jitRuns.set(`${tier} ${rom}`, (r = await run(rom, tier)));
  return r;
}

describe.each([1, 2] as const)('test ROMs under JIT tier %i (threshold 0)', (tier) => {
  it.each(ROMS)('%s: same output, status and instruction count as the interpreter', async (rom) => {
    const ours = await jitRun(rom, tier);
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
    const interp = await run(rom, 0);
    expect(interp.compiled).toBe(0);
    expect(ours.instructions).toBe(interp.instructions);
  });

  it.each(ROMS.filter((r) => r === 'loops.elf' || r.startsWith('wl-')))('%s: the JIT compiled blocks at this tier', async (rom) => {
    const r = await jitRun(rom, tier);
    expect(r.compiled).toBeGreaterThanOrEqual(4);
    if (tier === 2) expect(r.tier2).toBe(r.compiled);
    else expect(r.tier2).toBe(0);
  });
});

// The lockstep on every ROM (slices, registers, EFLAGS, RAM) is in jit-lockstep.test.ts; random programs
// against the interpreter are in jit-random.test.ts.

// The default mode: regions translate on the worker thread while the interpreter runs, and install between
// blocks. The result must be the interpreter's, and the hot code must end up compiled.
describe('background translation (binaryen on the worker thread, default threshold)', () => {
  it.each(['wl-sieve.elf', 'wl-crc32.elf'])('%s: same output and count as the interpreter, mostly in compiled code', async (rom) => {
    const chunks: Uint8Array[] = [];
    const vm = createVM({ stdout: (b) => chunks.push(b) });
    await vm.enableJit({ background: true, cacheDir: null }); // no disk cache: translated afresh, nothing in the user's cache
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

// REP MOVS/STOS in compiled code: bulk copies and fills in chunks of 65,536 elements, each chunk one
// retired execution, exactly as the interpreter counts them; overlapping and code-page cases fall back.
describe('REP MOVS/STOS in compiled code', () => {
  const LOAD = 0x100000, SRC = 0x200000, DST = 0x400000;
  const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const program = (edi: number, count: number, op: number[]): number[] => [
    0xfc, 0xbe, ...le(SRC), 0xbf, ...le(edi), 0xb9, ...le(count), 0xb8, ...le(0x11223344), ...op, 0xeb, 0xfe,
  ];
  // [name, program, whether compiled code does it all itself (else it leaves before an element the interpreter does)]
  const cases: [string, number[], boolean][] = [
    ['rep movsd, 200,000 dwords', program(DST, 200_000, [0xf3, 0xa5]), true],
    ['rep movsb, 150,000 bytes', program(DST, 150_000, [0xf3, 0xa4]), true],
    ['rep stosd, 100,000 dwords', program(DST, 100_000, [0xf3, 0xab]), true],
    ['rep stosw, 70,000 words', program(DST, 70_000, [0x66, 0xf3, 0xab]), true],
    ['rep stosb, 90,000 bytes', program(DST, 90_000, [0xf3, 0xaa]), true],
    ['rep movsb with the destination inside the source (replicates: the element loop)', program(SRC + 3, 5000, [0xf3, 0xa4]), true],
    ['rep stosd over the program\'s page, past its code (the element loop, each store guarded)', program(LOAD + 0x40, 64, [0xf3, 0xab]), true],
    // A store into the code itself leaves compiled code before that element (the interpreter's write path
    // invalidates); the elements before it are done.
    ['rep stosd over the program itself (the element loop leaves at the code)', program(LOAD + 0x4, 64, [0xf3, 0xab]), false],
    // More than REP_CHUNK elements in the element loop: it yields (EIP stays on the REP), and compiled code
    // must leave at that EIP, not resume after the REP with elements left.
    ['rep movsb, 70,000 bytes into its own source (the element loop, two executions)', program(SRC + 3, 70_000, [0xf3, 0xa4]), true],
    ['std; rep stosd, 70,000 dwords downwards (the element loop, two executions)', program(DST + 0x50000, 70_000, [0xfd, 0xf3, 0xab, 0xfc]), true],
  ];
  it.each(cases)('%s: same registers, memory and count as the interpreter', async (_name, code, inline) => {
    const run = async (jit: boolean) => {
      const vm = createVM({ memory: 8 << 20 });
      if (jit) await vm.enableJit({ threshold: 0 });
      loadRaw(vm, Uint8Array.from(code), { load: LOAD, entry: LOAD });
      vm.memory.writeBytes(SRC, Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 7 + (i >>> 9)) & 0xff));
      const exit = vm.run({ maxInstructions: 40 });
      const mem = createHash('sha256').update(vm.memory.readBytes(0, 8 << 20)).digest('hex');
      const st = vm.jitStats();
      return { exit: exit.reason, n: vm.instructions, regs: vm.getRegisters(), mem, compiled: st?.instructions ?? 0, fallbacks: st?.fallbacks ?? 0, exits: st?.exits ?? { memory: 0 } };
    };
    const a = await run(true), b = await run(false);
    expect({ ...a, compiled: 0, fallbacks: 0, exits: null }).toEqual({ ...b, compiled: 0, fallbacks: 0, exits: null });
    expect(a.compiled).toBeGreaterThan(0);
    // CLD/STD and a REP are done in compiled code (a REP at the code is left to the interpreter by a memory
    // exit: no fallback either, but compiled code stops there).
    expect(a.fallbacks).toBe(0);
    if (!inline) expect(a.exits.memory).toBeGreaterThan(0);
  });
});

// A guest that loops for ever inside compiled code still stops at --timeout (compiled code runs whole
// slices, so the check must not depend on the run loop's per-block clock).
describe('limits under the JIT', () => {
  it('a compiled `jmp $` stops at the timeout', async () => {
    const vm = createVM({ memory: 4 << 20 });
    await vm.enableJit({ threshold: 0 });
    loadRaw(vm, Uint8Array.of(0xeb, 0xfe), { load: 0x100000, entry: 0x100000 });
    const t0 = performance.now();
    const exit = vm.run({ timeout: 0.5 });
    const s = (performance.now() - t0) / 1000;
    expect(exit.reason).toBe('timeout');
    expect(s).toBeGreaterThanOrEqual(0.5);
    expect(s).toBeLessThan(5);
    expect(vm.jitStats()!.instructions).toBeGreaterThan(1_000_000);
  });
});

// The translation worker's disk cache: a second process running the same ROM installs its regions from
// the cache (no translation), with the same output and count; a damaged entry is translated again.
describe('translation cache across processes', () => {
  const CLI = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
  const run = (dir: string) => spawnSync(process.execPath, [CLI, 'run', join(DIR, 'wl-sieve.elf'), '--engine', 'jit', '--stats', '--cmdline', 'wl-sieve.elf repeat=32'], {
    encoding: 'latin1', env: { ...process.env, X86JIT_JIT_CACHE: dir, X86JIT_JIT_BACKGROUND: '1' },
  });
  const fromDisk = (stderr: string): number => Number(/(\d+) regions from the disk cache/.exec(stderr)?.[1] ?? -1);
  const count = (stderr: string): string => /x86jit: (\d+) instructions/.exec(stderr)?.[1] ?? 'none';
  it('a second run loads its regions from the cache; a damaged entry is ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86jit-cache-'));
    try {
      const cold = run(dir), warm = run(dir);
      expect([cold.status, warm.status]).toEqual([1, 1]);
      expect(warm.stdout).toBe(cold.stdout);
      expect(count(warm.stderr)).toBe(count(cold.stderr));
      expect(fromDisk(cold.stderr)).toBe(0);
      expect(fromDisk(warm.stderr)).toBeGreaterThan(0);
      // An entry whose header reads but whose WASM does not compile, then one that does not even parse.
      for (const f of readdirSync(dir)) {
        const buf = readFileSync(join(dir, f));
        buf.fill(0xff, 4 + buf.readUInt32LE(0));
        writeFileSync(join(dir, f), buf);
      }
      const badWasm = run(dir);
      expect(badWasm.status).toBe(1);
      expect(badWasm.stdout).toBe(cold.stdout);
      expect(fromDisk(badWasm.stderr)).toBe(0);
      for (const f of readdirSync(dir)) writeFileSync(join(dir, f), 'not a region');
      const damaged = run(dir);
      expect(damaged.status).toBe(1);
      expect(damaged.stdout).toBe(cold.stdout);
      expect(fromDisk(damaged.stderr)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a library process ends by itself, with binaryen loaded or not (warm cache)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86jit-cache-'));
    const script = `import { VM, loadImage, readImageFile } from ${JSON.stringify(pathToFileURL(BUNDLE.replace(/index\.js$/, 'node.js')).href)};
      const vm = await VM.create({ engine: 'jit', jit: { background: true, cacheDir: ${JSON.stringify(dir)} } });
      loadImage(vm, readImageFile(${JSON.stringify(join(DIR, 'wl-sieve.elf'))}), 'wl-sieve.elf', { cmdline: 'wl-sieve.elf repeat=32' });
      const e = vm.run({});
      console.log(e.reason, vm.jitStats().diskHits, vm.jitStats().compiled);`;
    try {
      const go = () => spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
      const cold = go(), warm = go();
      expect([cold.status, cold.signal]).toEqual([0, null]);
      expect([warm.status, warm.signal]).toEqual([0, null]); // a timeout would kill it (signal SIGTERM)
      // (run with --input-type=module: the worker must not inherit node flags that stop it starting)
      expect(cold.stdout.trim()).toMatch(/^debug-exit 0 [1-9]/);
      expect(warm.stdout.trim()).toMatch(/^debug-exit [1-9]\d* [1-9]/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
