// A span's blocks that turn hot after its tier-1 region was translated go into an extension beside the
// region (jit.ts extend) instead of a retranslation of the whole span: the region keeps running, control
// passes between the two through the jump cache, and the span's tier-2 translation (or its translation
// after MAX_EXTENSIONS) takes every part in. Each guest here is a series of loops in one span (paging
// off), one after another, each reached by an indirect jump so that no translation can see the next one
// coming (discover follows only direct branches); the series runs ROUNDS times.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FLAT_SPAN_SHIFT, MAX_EXTENSIONS } from '../jit/region.ts';
import type { RegionProfile } from '../src/cpu/accelerator-stats.ts';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const LOAD = 0x100000, TRIPS = 2_000;
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** `stages` loops of TRIPS trips adding k + 1 to EAX (k the loop's number), the series run `rounds` times; EDI counts rounds down. */
function series(stages: number, rounds: number): Uint8Array {
  const STAGE = 19, START = 5, END = START + stages * STAGE;
  const code: number[] = [0xbf, ...le32(rounds)]; //           0: mov edi, rounds
  for (let k = 0; k < stages; k++) {
    const at = START + k * STAGE;
    code.push(
      0xb9, ...le32(TRIPS), //                                 +0: mov ecx, TRIPS
      0x05, ...le32(k + 1), //                                 +5: a: add eax, k + 1
      0xe2, 0xf9, //                                           +10: loop a
      0xbe, ...le32(LOAD + at + STAGE), //                     +12: mov esi, the next loop (or END)
      0xff, 0xe6, //                                           +17: jmp esi
    );
  }
  const rel8 = START - (END + 3);
  code.push(
    0x4f, //                                                   END: dec edi
    ...(rel8 >= -128 ? [0x75, rel8 & 0xff] : [0x0f, 0x85, ...le32(START - (END + 7))]), // jnz START
    0x66, 0xba, 0xf4, 0x00, 0xee, 0xf4, //                     mov dx, 0xf4; out dx, al; hlt
  );
  return new Uint8Array(code);
}

interface Run { reason: string; eax: number; instructions: number; compiled: number; span: RegionProfile[] }

async function run(image: Uint8Array, jit: { tier2: 'off' } | { tier2: 'sync'; tier2Threshold: number } | null): Promise<Run> {
  const vm = createVM({});
  if (jit !== null) await vm.enableJit({ cacheDir: null, ...jit });
  loadRaw(vm, image, { load: LOAD, entry: LOAD, bits: 32 });
  const exit = vm.run({ timeout: 60 });
  const span = jit === null ? [] : vm.jitProfile()!.regions.filter((r) => r.start >>> FLAT_SPAN_SHIFT === LOAD >>> FLAT_SPAN_SHIFT);
  return { reason: exit.reason, eax: vm.getRegisters().eax, instructions: vm.instructions, compiled: vm.jitStats()?.instructions ?? 0, span };
}

/** EAX at the end of `series(stages, rounds)`. */
const expected = (stages: number, rounds: number): number => (rounds * TRIPS * stages * (stages + 1) / 2) >>> 0;

describe('a span\'s newly hot blocks', () => {
  it('go into extensions beside its region, which keeps running', async () => {
    const image = series(3, 20);
    const interp = await run(image, null), jit = await run(image, { tier2: 'off' });
    expect(interp).toMatchObject({ reason: 'debug-exit', eax: expected(3, 20) });
    expect({ reason: jit.reason, eax: jit.eax, instructions: jit.instructions }).toEqual({ reason: interp.reason, eax: interp.eax, instructions: interp.instructions });
    // The first loop's region, then one extension for each later loop; none dropped.
    expect(jit.span.map((r) => r.part ?? 'whole')).toEqual(['whole', 'extension', 'extension']);
    expect(jit.span.map((r) => r.invalidated)).toEqual([false, false, false]);
    // Each extension translated its own loop, not the code before it again.
    for (let i = 1; i < jit.span.length; i++) expect(jit.span[i].start).toBeGreaterThanOrEqual(jit.span[i - 1].end);
    // Later rounds run compiled, passing between the region and its extensions.
    expect(jit.compiled / jit.instructions).toBeGreaterThan(0.9);
  });

  it(`are translated with the whole span after ${MAX_EXTENSIONS} extensions`, async () => {
    const stages = MAX_EXTENSIONS + 2, image = series(stages, 3);
    const interp = await run(image, null), jit = await run(image, { tier2: 'off' });
    expect(interp).toMatchObject({ reason: 'debug-exit', eax: expected(stages, 3) });
    expect({ reason: jit.reason, eax: jit.eax, instructions: jit.instructions }).toEqual({ reason: interp.reason, eax: interp.eax, instructions: interp.instructions });
    const parts = jit.span.map((r) => r.part ?? 'whole');
    expect(parts.slice(0, MAX_EXTENSIONS + 2)).toEqual(['whole', ...new Array(MAX_EXTENSIONS).fill('extension'), 'whole']);
    // The retranslation has every loop so far and replaced the region and its extensions.
    const merged = jit.span[MAX_EXTENSIONS + 1];
    expect(jit.span.slice(0, MAX_EXTENSIONS + 1).every((r) => r.invalidated)).toBe(true);
    expect(merged.guestInstructions).toBeGreaterThanOrEqual(jit.span.slice(0, MAX_EXTENSIONS + 1).reduce((n, r) => n + r.guestInstructions, 0));
  });

  it('reach tier 2 with their span, in one translation that replaces the region and its extensions', async () => {
    // ~14 M instructions: past the JIT's first look at its counters (every 4 M compiled instructions).
    const image = series(3, 1_200);
    const interp = await run(image, null), jit = await run(image, { tier2: 'sync', tier2Threshold: 1_000_000 });
    expect({ reason: jit.reason, eax: jit.eax, instructions: jit.instructions }).toEqual({ reason: interp.reason, eax: expected(3, 1_200), instructions: interp.instructions });
    expect(jit.span.slice(0, 4).map((r) => `${r.part ?? 'whole'} ${r.tier}`)).toEqual(['whole 1', 'extension 1', 'extension 1', 'whole 2']);
    // Every tier-1 part is gone; the tier-2 region has all three loops. (Later, the blocks that run once a
    // round — the first loop's entry, the round's end — turn hot and are translated with the span at tier 2.)
    expect(jit.span.filter((r) => r.tier === 1).every((r) => r.invalidated)).toBe(true);
    expect(jit.span[3].guestInstructions).toBeGreaterThanOrEqual(jit.span.slice(0, 3).reduce((n, r) => n + r.guestInstructions, 0));
    expect(jit.span.at(-1)!.invalidated).toBe(false);
    expect(jit.span.length).toBeLessThanOrEqual(6);
  });
});
