// Limits that must hold whatever the guest does (issue 15): bounded code caches, EIP 0xFFFFFFFF, --timeout
// under heavy instructions, the real-time clock through HLT, the virtual clock sleeping through it (idle
// 'sleep'), and a fault loop bounded by maxInstructions.
// The guests are the raw ROMs in test-roms/limits/ (sources in test-roms/src/limits/), run under both
// engines (the JIT synchronous, threshold 0: every block compiled on first sight). Time bounds are
// generous — a limit that fails is off by seconds or for ever, not by milliseconds.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireTool } from './required-tool.ts';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const CLI = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const { createVM, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type VM = import('../src/index.ts').VM;
type VMOptions = import('../src/index.ts').VMOptions;

const LIMITS = join(import.meta.dirname, '..', 'test-roms', 'limits');
const ENGINES = ['interp', 'jit'] as const;
const RAW = ['--load', '0x100000', '--entry', '0x100000'];
/** The IRQ0 tick count pit-fast keeps at 0x500. */
const ticks = (vm: VM): number => Buffer.from(vm.memory.readBytes(0x500, 4)).readUInt32LE(0);

async function guest(rom: string, engine: (typeof ENGINES)[number], opts: VMOptions = {}): Promise<VM> {
  const vm = createVM({ memory: 128 << 20, ...opts });
  if (engine === 'jit') await vm.enableJit({ threshold: 0 });
  loadRaw(vm, new Uint8Array(readFileSync(join(LIMITS, rom))), { load: 0x100000, entry: 0x100000, bits: 32 });
  return vm;
}

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, input: '' });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

describe('bounded decoded-code cache (fresh code for ever)', () => {
  it.each(ENGINES)('%s: zeroed RAM run as code flushes the cache instead of growing it', async (engine) => {
    const vm = await guest('fresh-code.bin', engine, { codeCacheSize: 2048 });
    const n = engine === 'jit' ? 30_000 : 100_000;
    const exit = vm.run({ maxInstructions: n, timeout: 60 });
    expect(exit.reason).toBe('max-instructions');
    expect(vm.instructions).toBe(n);
    const cache = vm.interpreter.cache;
    // ~n / 2048 flushes (a block is 128 `add [eax],al`), and never more than the limit held.
    expect(cache.flushes).toBeGreaterThanOrEqual(Math.floor(n / 2048) - 2);
    expect(cache.size * 128).toBeLessThanOrEqual(2048 + 128);
    if (engine === 'jit') {
      const jit = vm.jitStats()!;
      // Its regions went with the blocks: shed to make room (evictions) or, past that, flushed.
      expect(jit.flushes + jit.evictions).toBeGreaterThan(0);
      expect(jit.live).toBeLessThanOrEqual(cache.size);
    }
  });

  it('a NOP sled over 118 MiB runs with the default cache size', async () => {
    const vm = await guest('nop-sled.bin', 'interp');
    const exit = vm.run({ maxInstructions: 600_000, timeout: 60 });
    expect(exit.reason).toBe('max-instructions');
    // Set-up is 5 instructions plus 1,888 REP STOSB executions (65,536 bytes each), then one NOP per byte.
    expect(vm.getRegisters().eip).toBe(0x200000 + 600_000 - 5 - 1888);
    expect(vm.interpreter.cache.flushes).toBe(1); // 524,288 instructions each
  });

  it('the careful path (trace) flushes too', async () => {
    const vm = await guest('fresh-code.bin', 'interp', { codeCacheSize: 1024 });
    let lines = 0;
    const exit = vm.run({ maxInstructions: 20_000, trace: () => { lines++; } });
    expect(exit.reason).toBe('max-instructions');
    expect(lines).toBe(20_000);
    expect(vm.interpreter.cache.flushes).toBeGreaterThanOrEqual(2);
    expect(vm.interpreter.cache.size).toBeLessThanOrEqual(1024 + 128);
  });

  it('x86jit run --stats counts the flushes', () => {
    const r = cli('run', ...RAW, '--stats', '--max-instructions', '560000', join(LIMITS, 'fresh-code.bin'));
    expect(r.status).toBe(6);
    expect(r.stderr).toMatch(/, 1 code-cache flushes,/);
  });

  it('codeCacheSize is checked', () => {
    expect(() => createVM({ codeCacheSize: 10 })).toThrow(RangeError);
  });
});

describe('EIP 0xFFFFFFFF is an address like any other', () => {
  it('both engines run a computed jump to it and agree on where the run ends', async () => {
    const ends = [];
    for (const engine of ENGINES) {
      const vm = await guest('eip-ffffffff.bin', engine);
      const exit = vm.run({ maxInstructions: 1000, timeout: 60 });
      expect(exit.reason).toBe('max-instructions');
      ends.push({ ...vm.getRegisters(), instructions: vm.instructions });
    }
    expect(ends[1]).toEqual(ends[0]);
  });
  it('the CLI ends it with status 6, not as an internal error', () => {
    for (const engine of ENGINES) {
      const r = cli('run', ...RAW, '--engine', engine, '--max-instructions', '1000', join(LIMITS, 'eip-ffffffff.bin'));
      expect(r.status).toBe(6);
      expect(r.stderr).toMatch(/^x86jit: max-instructions: [^\n]*\n$/);
    }
  });
});

describe('--timeout holds however much one instruction does', () => {
  // Before the fix: the vmcall loop ran ~115 s past a 2 s limit under the JIT; the REP loops 5-6 s past it.
  const cases = ['vmcall-loop.bin', 'rep-outsb.bin', 'rep-stosd.bin'];
  for (const rom of cases) {
    it.each(ENGINES)(`${rom}, %s`, async (engine) => {
      const vm = await guest(rom, engine, { stdout: () => {} });
      const t0 = performance.now();
      const exit = vm.run({ timeout: 0.3 });
      const seconds = (performance.now() - t0) / 1000;
      expect(exit.reason).toBe('timeout');
      expect(seconds).toBeLessThan(0.3 + 1.5);
    });
  }
});

describe('HLT under the real-time clock with a fast PIT', () => {
  it.each([['pit-fast2.bin'], ['pit-fast100.bin']])('%s sleeps from edge to edge until the timeout', async (rom) => {
    for (const engine of ENGINES) {
      const vm = await guest(rom, engine, { clock: 'realtime' });
      const exit = vm.run({ timeout: 0.4 });
      expect(exit.reason, exit.message).toBe('timeout');
      expect(ticks(vm)).toBeGreaterThan(0); // IRQ0 ticks
    }
  });
  it('the same guest under the virtual clock: deterministic ticks, each one delivery', async () => {
    const runs = [];
    for (const engine of ENGINES) {
      const vm = await guest('pit-fast100.bin', engine);
      const exit = vm.run({ maxInstructions: 200_000 });
      expect(exit.reason).toBe('max-instructions');
      runs.push({ ticks: ticks(vm), deliveries: vm.deliveries, instructions: vm.instructions });
    }
    expect(runs[0].ticks).toBeGreaterThan(1000); // mostly halted: time skips from edge to edge (83.8 µs)
    expect(runs[0].deliveries).toBe(runs[0].ticks);
    expect(runs[1]).toEqual(runs[0]);
  });
});

describe("HLT under the virtual clock with idle 'sleep' (QEMU's -icount sleep=on)", () => {
  /** pit-fast100.bin with PIT count 0 (65,536: a tick every 54.9 ms), so that each HLT waits longer than a slice. */
  const slowPit = (): Uint8Array => {
    const rom = new Uint8Array(readFileSync(join(LIMITS, 'pit-fast100.bin')));
    const at = Buffer.from(rom).indexOf(Buffer.from('b064e640b000e640', 'hex')); // mov al,100; out 0x40,al; mov al,0; out 0x40,al
    expect(at).toBeGreaterThan(0);
    rom[at + 1] = 0;
    return rom;
  };
  const slowGuest = async (engine: (typeof ENGINES)[number], idle: 'skip' | 'sleep'): Promise<VM> => {
    const vm = createVM({ memory: 128 << 20, idle });
    if (engine === 'jit') await vm.enableJit({ threshold: 0 });
    loadRaw(vm, slowPit(), { load: 0x100000, entry: 0x100000, bits: 32 });
    return vm;
  };
  const state = (vm: VM) => ({ ticks: ticks(vm), deliveries: vm.deliveries, instructions: vm.instructions, ns: vm.nowNs() });
  it.each(ENGINES)('%s: the guest sees what skip gives it, and the skipped time passes on the host clock, across slices', async (engine) => {
    const skip = await slowGuest(engine, 'skip');
    expect((await skip.runAsync({ maxInstructions: 80, sliceMs: 5, timeout: 20 })).reason).toBe('max-instructions');
    const idleMs = (skip.nowNs() - skip.instructions) / 1e6;
    expect(idleMs).toBeGreaterThan(250); // several ticks of 54.9 ms, each much longer than a 5 ms slice
    const sleep = await slowGuest(engine, 'sleep');
    const t0 = performance.now();
    expect((await sleep.runAsync({ maxInstructions: 80, sliceMs: 5, timeout: 20 })).reason).toBe('max-instructions');
    const wallMs = performance.now() - t0;
    expect(state(sleep)).toEqual(state(skip));
    expect(wallMs).toBeGreaterThanOrEqual(idleMs);
  });
  it('vm.idle can change between runs; a bad value is refused', async () => {
    const vm = await slowGuest('interp', 'sleep');
    vm.idle = 'skip';
    const t0 = performance.now();
    vm.run({ maxInstructions: 80 });
    expect(state(vm)).toEqual(state(await (async () => { const r = await slowGuest('interp', 'skip'); r.run({ maxInstructions: 80 }); return r; })()));
    expect(performance.now() - t0).toBeLessThan((vm.nowNs() - vm.instructions) / 1e6); // skipped, not slept
    expect(() => createVM({ idle: 'nap' as 'skip' })).toThrow(/idle must be 'skip' or 'sleep', got nap/);
  });
  it.each(ENGINES)("%s: run({ returnWhenIdle }) ends with exit 'idle' rather than sleeping; run again at the event, the guest sees what skip gives it", async (engine) => {
    const skip = await slowGuest(engine, 'skip');
    skip.run({ maxInstructions: 80 });
    const vm = await slowGuest(engine, 'sleep');
    const t0 = performance.now();
    let idles = 0;
    for (;;) {
      const r = vm.run({ maxInstructions: 80 - vm.instructions, returnWhenIdle: true });
      if (r.reason !== 'idle') { expect(r.reason).toBe('max-instructions'); break; }
      idles++;
      // Returned before the event, and says how far away it is (a tick is 54.9 ms).
      expect(r.idleMs).toBeGreaterThanOrEqual(1);
      expect(r.idleMs).toBeLessThanOrEqual(55);
      expect(r.message).toMatch(/^halted until a timer event [\d.]+ ms away$/);
      await new Promise((resolve) => setTimeout(resolve, r.idleMs));
    }
    expect(idles).toBeGreaterThanOrEqual(5); // each tick's wait ended a run
    expect(state(vm)).toEqual(state(skip));
    expect(performance.now() - t0).toBeGreaterThanOrEqual((vm.nowNs() - vm.instructions) / 1e6);
    // runAsync waits with a timer in between, to the same end.
    const viaAsync = await slowGuest(engine, 'sleep');
    expect((await viaAsync.runAsync({ maxInstructions: 80, timeout: 20 })).reason).toBe('max-instructions');
    expect(state(viaAsync)).toEqual(state(skip));
    // The real-time clock returns too.
    const rt = createVM({ memory: 128 << 20, clock: 'realtime' });
    loadRaw(rt, slowPit(), { load: 0x100000, entry: 0x100000, bits: 32 });
    let rtIdle = 0;
    while (rt.instructions < 80) {
      const r = rt.run({ maxInstructions: 80 - rt.instructions, returnWhenIdle: true });
      if (r.reason !== 'idle') { expect(r.reason).toBe('max-instructions'); break; }
      rtIdle++;
      await new Promise((resolve) => setTimeout(resolve, Math.min(r.idleMs!, 5))); // sooner than the event: the same HLT goes on
    }
    expect(rtIdle).toBeGreaterThan(0);
    // Each HLT counted once, however many runs its wait took (a tick wakes each one; the last may still wait).
    const hlts = rt.exitStats().find((e) => e.reason === 'HLT')!.count;
    expect(hlts).toBeLessThanOrEqual(ticks(rt) + 1);
    expect(rtIdle).toBeGreaterThan(hlts);
  });
  it.runIf(requireTool('script (util-linux)', spawnSync('script', ['--version']).status === 0))('x86jit run on a terminal sleeps by default, and counts each HLT once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'x86jit-idle-'));
    try {
      const rom = join(dir, 'slow-pit.bin');
      writeFileSync(rom, slowPit());
      const stats = (tty: boolean, ...extra: string[]) => {
        const args = [CLI, 'run', '--stats', '--max-instructions', '80', ...extra, rom, ...RAW];
        // script(1) runs the command on a pseudo-terminal of its own: stdin is a terminal there.
        const r = tty ? spawnSync('script', ['-qec', [process.execPath, ...args].join(' '), '/dev/null'], { encoding: 'utf8', input: '', timeout: 60_000 })
          : spawnSync(process.execPath, args, { encoding: 'utf8', input: '', timeout: 60_000 });
        const m = /HLT +(\d+) +\d+ +([\d.]+) ms/.exec(r.stdout + r.stderr);
        expect(m, r.stdout + r.stderr).not.toBeNull();
        return { count: Number(m![1]), ms: Number(m![2]) };
      };
      const tty = stats(true), pipe = stats(false), told = stats(false, '--idle', 'sleep');
      expect(tty.count).toBe(pipe.count); // one per HLT, however many slices a wait took
      expect(told.count).toBe(pipe.count);
      expect(tty.ms).toBeGreaterThan(320); // the 329.6 ms of PIT time the guest waits, slept
      expect(told.ms).toBeGreaterThan(320);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
  it('x86jit run --idle: a bad value is one line and status 2', () => {
    const r = cli('run', '--idle', 'nap', join(LIMITS, 'pit-fast100.bin'), ...RAW);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^x86jit: --idle: 'nap' is not one of skip, sleep\n/);
  });
});

describe('maxInstructions bounds a fault loop', () => {
  it.each(ENGINES)('%s: #UD whose handler is the UD2 itself ends after 100 deliveries', async (engine) => {
    const vm = await guest('ud-loop.bin', engine);
    const exit = vm.run({ maxInstructions: 100, timeout: 60 });
    expect(exit.reason).toBe('max-instructions');
    expect(exit.message).toMatch(/100 exceptions and interrupts delivered/);
    expect(vm.deliveries).toBe(100);
    expect(vm.instructions).toBeLessThan(100);
  });
  it('x86jit run --max-instructions 100 exits 6 with one line', () => {
    for (const engine of ENGINES) {
      const r = cli('run', ...RAW, '--engine', engine, '--max-instructions', '100', '--timeout', '60', join(LIMITS, 'ud-loop.bin'));
      expect(r.status).toBe(6);
      expect(r.stderr).toMatch(/^x86jit: max-instructions: [^\n]*fault loop[^\n]*\n$/);
    }
  });
});
