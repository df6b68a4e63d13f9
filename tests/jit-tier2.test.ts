// Tier 2: a tier-1 region that retires tierThreshold instructions (its counter in the VM's memory) is
// retranslated with its multi-segment loops as WASM loops. Pinned by construction: 'sync', and 'background'
// with our encoder, retranslate at the first look at the counters after the threshold (every 4 M
// instructions), so which regions reach tier 2 depends on instruction counts only; binaryen on the worker is
// waited for, never raced (the guest runs for ever, and the test runs it until the worker's result is in). That tier 2 computes what the interpreter
// computes is tests/jit.test.ts's, jit-lockstep's and jit-random's (every ROM and program at both tiers).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadImage, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type VM = import('../src/index.ts').VM;
type JitOptions = import('../src/index.ts').JitOptions;

const { TIER2_MAX_WASM_BYTES } = await import('../src/cpu/accelerator.ts');
const ROM = join(import.meta.dirname, '..', 'test-roms', 'wl-sieve.elf');

const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

async function sieve(repeat: number, jit: JitOptions | null, out: Uint8Array[] = []): Promise<VM> {
  const vm = createVM({ memory: 16 << 20, stdout: (b) => out.push(b) });
  if (jit !== null) await vm.enableJit({ cacheDir: null, ...jit });
  loadImage(vm, new Uint8Array(readFileSync(ROM)), 'wl-sieve.elf', { cmdline: `wl-sieve.elf repeat=${repeat}` });
  return vm;
}

describe('tier 2', () => {
  it("'sync': the hot region is promoted by its counter and the run is the interpreter's", async () => {
    const out: Uint8Array[] = [], ref: Uint8Array[] = [];
    const vm = await sieve(2, { tier2: 'sync', tier2Threshold: 1_000_000 }, out);
    const exit = vm.run({ timeout: 120 });
    const interp = await sieve(2, null, ref);
    interp.run({ timeout: 120 });
    expect({ reason: exit.reason, status: exit.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(vm.instructions).toBe(interp.instructions);
    expect(Buffer.concat(out).toString('latin1')).toBe(Buffer.concat(ref).toString('latin1'));
    const st = vm.jitStats()!;
    expect(st.promotions).toBeGreaterThanOrEqual(1);
    expect(st.tier2).toBe(st.promotions);
    // the tier-2 region replaced the tier-1 one: one live region per page
    expect(vm.jitProfile()!.regions.filter((r) => !r.invalidated).every((r) => r.tier === 2 || r.guestInstructions < 100)).toBe(true);
  });

  it('below the threshold, and with tier 2 off, nothing is promoted', async () => {
    for (const jit of [{ tier2: 'sync', tier2Threshold: 2 ** 32 - 1 }, { tier2: 'off', tier2Threshold: 0 }] as const) {
      const vm = await sieve(1, jit);
      expect(vm.run({ timeout: 120 }).reason).toBe('debug-exit');
      expect({ jit, promotions: vm.jitStats()!.promotions, tier2: vm.jitStats()!.tier2 }).toEqual({ jit, promotions: 0, tier2: 0 });
    }
  });

  it('a page that reached tier 2 and gains a hot block is translated again straight at tier 2', async () => {
    // mov ecx, 3000000; mov eax, l2; l1: dec ecx; jnz l1; jmp eax; l2: inc edx; jmp l2 — the first loop's
    // page is promoted (its counter passes 1 M by the look at 4 M instructions); then l2, which no direct
    // branch leads to (a translation finds it only once it has run), turns hot in the same page.
    const vm = createVM({ memory: 16 << 20 });
    await vm.enableJit({ cacheDir: null, tier2: 'background', tier2Threshold: 1_000_000 });
    loadRaw(vm, Uint8Array.of(0xb9, 0xc0, 0xc6, 0x2d, 0x00, 0xb8, 0x0f, 0x00, 0x10, 0x00, 0x49, 0x75, 0xfd, 0xff, 0xe0, 0x42, 0xeb, 0xfd), { load: 0x100000, entry: 0x100000 });
    expect(vm.run({ maxInstructions: 12_000_000 }).reason).toBe('max-instructions');
    expect(vm.getRegisters().edx).toBeGreaterThan(1_000_000);
    const tiers = vm.jitProfile()!.regions.map((r) => r.tier);
    // tier 1, the promotion, then the retranslation with l2 — at tier 2, not a tier-1 module replaced at once
    expect(tiers).toEqual([1, 2, 2]);
  });

  it.each([
    [100, 'is promoted'],
    [4000, 'stays at tier 1: TurboFan would give its huge function the mid-tier register allocator, and it has no hot part'],
  ])('a loop of %i memory-reading instructions in one span %s', async (n, _what) => {
    // mov ecx, 0x7fffffff; mov ebx, 0x200000; l: add eax, [ebx+4] × n; dec ecx; jnz l — one region either way
    // (4,000 × 3 bytes fit a 16 KB span), its tier-2 module under TIER2_MAX_WASM_BYTES or well over it. The
    // big one is profiled at tier 1 (every instruction runs as often: all hot) and stays so.
    const code = [0xb9, 0xff, 0xff, 0xff, 0x7f, 0xbb, 0x00, 0x00, 0x20, 0x00];
    for (let i = 0; i < n; i++) code.push(0x03, 0x43, 0x04);
    const rel = 10 - (code.length + 1 + 6);
    code.push(0x49, 0x0f, 0x85, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff, (rel >>> 24) & 0xff);
    const vm = createVM({ memory: 16 << 20 });
    await vm.enableJit({ cacheDir: null, threshold: 2, tier2: 'sync', tier2Threshold: 1_000_000 });
    loadRaw(vm, Uint8Array.from(code), { load: 0x100000, entry: 0x100000 });
    expect(vm.run({ maxInstructions: 40_000_000 }).reason).toBe('max-instructions');
    const live = vm.jitProfile()!.regions.filter((r) => !r.invalidated);
    expect(live).toHaveLength(1);
    const big = n > 1000;
    const st = vm.jitStats()!;
    expect({ tier: live[0].tier, promotions: st.promotions, tier2: st.tier2, splits: st.splits }).toEqual(big ? { tier: 1, promotions: 1, tier2: 0, splits: 0 } : { tier: 2, promotions: 1, tier2: 1, splits: 0 });
    if (!big) expect(live[0].wasmBytes).toBeLessThanOrEqual(TIER2_MAX_WASM_BYTES);
  });

  it('a span too big for tier 2 with a small hot loop: the loop alone goes to tier 2, the rest stays at tier 1', async () => {
    // mov ecx, 1000000; mov ebx, 0x200000; outer: add eax, [ebx+4] × 2500 (run once per outer trip: cold);
    // mov edx, 100000; inner: add esi, [ebx+8]; xor esi, edx; mov [ebx+12], esi; dec edx; jnz inner (hot: 99.5 %
    // of the instructions); dec ecx; jnz outer; hlt. One 16 KB span whose tier-2 module is too big: profiled at
    // tier 1, then split. The parts hand over to each other (chaining or the run loop) on every outer trip.
    const code = [0xb9, ...le(1_000_000), 0xbb, ...le(0x200000)];
    const outer = code.length;
    for (let i = 0; i < 2500; i++) code.push(0x03, 0x43, 0x04);
    code.push(0xba, ...le(100_000));
    const inner = code.length;
    code.push(0x03, 0x73, 0x08, 0x31, 0xd6, 0x89, 0x73, 0x0c, 0x4a, 0x75, (inner - (code.length + 11)) & 0xff);
    code.push(0x49, 0x0f, 0x85, ...le(outer - (code.length + 7)), 0xf4);
    const state = (vm: VM) => {
      const r = vm.getRegisters();
      return { eax: r.eax, ecx: r.ecx, edx: r.edx, esi: r.esi, eip: r.eip, stored: vm.memory.read(0x20000c, 4) };
    };
    const run = async (jit: JitOptions | null) => {
      const vm = createVM({ memory: 16 << 20 });
      if (jit !== null) await vm.enableJit(jit);
      loadRaw(vm, Uint8Array.from(code), { load: 0x100000, entry: 0x100000 });
      vm.memory.writeBytes(0x200004, Uint8Array.of(3, 0, 0, 0, 0x55, 0x33, 0x11, 0));
      expect(vm.run({ maxInstructions: 60_000_000 }).reason).toBe('max-instructions');
      return { vm, state: state(vm) };
    };
    /** Then the inner loop's XOR becomes an ADD (a code write into the hot part) and the run goes on. */
    const rewrite = (vm: VM) => {
      vm.memory.writeBytes(0x100000 + inner + 3, Uint8Array.of(0x01));
      expect(vm.run({ maxInstructions: 30_000_000 }).reason).toBe('max-instructions');
      return state(vm);
    };
    const jit = await run({ cacheDir: null, threshold: 2, tier2: 'sync', tier2Threshold: 1_000_000 });
    const st = jit.vm.jitStats()!;
    expect({ splits: st.splits, tier2: st.tier2 }).toEqual({ splits: 1, tier2: 1 });
    const live = jit.vm.jitProfile()!.regions.filter((r) => !r.invalidated);
    const hot = live.find((r) => r.part === 'hot')!, cold = live.find((r) => r.part === 'cold')!;
    // The hot part: the inner loop's block(s) only, at tier 2 and under the limit; the cold part: the rest.
    expect(hot).toMatchObject({ tier: 2, start: 0x100000 + inner });
    expect(hot.guestInstructions).toBeLessThan(10);
    expect(hot.wasmBytes).toBeLessThanOrEqual(TIER2_MAX_WASM_BYTES);
    expect(cold.tier).toBe(1);
    expect(cold.guestInstructions).toBeGreaterThan(2500);
    // Most instructions ran in the hot part after the split.
    expect(hot.instructions).toBeGreaterThan(20_000_000);
    const interp = await run(null);
    expect(jit.state).toEqual(interp.state);
    // The write drops the hot part; the span is translated again, and the run stays the interpreter's.
    expect(rewrite(jit.vm)).toEqual(rewrite(interp.vm));
    expect(jit.vm.jitProfile()!.regions.find((r) => r.id === hot.id)!.invalidated).toBe(true);
  }, 60_000);

  it('bad settings are RangeErrors', async () => {
    const vm = createVM({ memory: 1 << 20 });
    await expect(vm.enableJit({ tier2: 'later' as never })).rejects.toThrow(/tier 2 must be background, sync or off/);
    await expect(vm.enableJit({ tier2Threshold: -1 })).rejects.toThrow(/tier-2 threshold must be an integer/);
  });

  it.each([
    ['our encoder here', {}],
    ['binaryen on the translation worker', { background: true }],
  ] as const)("'background', %s: tier 2 comes in while tier 1 runs on", async (_what, extra) => {
    // An endless loop of two segments (l0: inc eax; cmp eax,ebx; jne l1; inc ebx; l1: dec ecx; jmp l0): the test
    // runs it until tier 2 is in and has run 50 M instructions.
    const vm = createVM({ memory: 16 << 20 });
    await vm.enableJit({ cacheDir: null, tier2: 'background', tier2Threshold: 1_000_000, ...extra });
    loadRaw(vm, Uint8Array.of(0x40, 0x39, 0xd8, 0x75, 0x01, 0x43, 0x49, 0xeb, 0xf7), { load: 0x100000, entry: 0x100000 });
    const until = performance.now() + 120_000;
    let after = -1;
    while (performance.now() < until) {
      expect(vm.run({ maxInstructions: 20_000_000 }).reason).toBe('max-instructions');
      if (vm.jitStats()!.tier2 > 0 && after < 0) after = vm.jitStats()!.instructions;
      if (after >= 0 && vm.jitStats()!.instructions > after + 50_000_000) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    const st = vm.jitStats()!;
    expect(st.promotions).toBeGreaterThanOrEqual(1);
    expect(st.tier2).toBeGreaterThanOrEqual(1);
    expect(st.instructions).toBeGreaterThan(after + 50_000_000);
    expect(vm.jitProfile()!.regions.some((r) => r.tier === 2 && !r.invalidated)).toBe(true);
  }, 180_000);
});
