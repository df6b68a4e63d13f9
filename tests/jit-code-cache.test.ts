// The JIT's regions and the decoded-code cache's size limit (issue 12): a full cache drops the blocks that
// no compiled code runs (CodeCache.evict), not the live regions — a Linux boot fills the cache ~9 times and
// used to translate every hot page again after each flush. The guest: a hot loop on one page, then a run
// through a 16 KiB NOP sled (fresh code for a 2,048-instruction cache: ~8 flushes a pass), 20 times over.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const LOAD = 0x100000, SLED = 0x1000, SLED_NOPS = 16384, PASSES = 20;

/** The guest, hand-assembled (offsets from LOAD in the comments). */
function guest(): Uint8Array {
  const img = new Uint8Array(SLED + SLED_NOPS + 5);
  const code = [
    0x31, 0xc0, //                   0: xor eax, eax
    0xbe, PASSES, 0, 0, 0, //        2: mov esi, PASSES
    0xb9, 0xe8, 0x03, 0, 0, //       7: outer: mov ecx, 1000
    0x01, 0xc8, //                   12: hot: add eax, ecx
    0xc1, 0xc0, 0x03, //             14: rol eax, 3
    0xe2, 0xf9, //                   17: loop hot
    0xe9, ...le32(SLED - 24), //     19: jmp sled
    0x4e, //                         24: back: dec esi
    0x75, 0xec, //                   25: jnz outer
    0x66, 0xba, 0xf4, 0x00, //       27: mov dx, 0xf4
    0xee, //                         31: out dx, al (isa-debug-exit)
    0xf4, //                         32: hlt
  ];
  img.set(code, 0);
  img.fill(0x90, SLED, SLED + SLED_NOPS);
  img.set([0xe9, ...le32(24 - (SLED + SLED_NOPS + 5))], SLED + SLED_NOPS); // jmp back
  return img;
}

function le32(v: number): number[] { return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]; }

/** `patchAt`: after that many instructions (10 passes in), the host rewrites the loop's `rol eax, 3` to `rol eax, 5`. */
async function run(jit: boolean, patchAt?: number) {
  const vm = createVM({ codeCacheSize: 2048 });
  if (jit) await vm.enableJit({ tier2: 'off' });
  loadRaw(vm, guest(), { load: LOAD, entry: LOAD, bits: 32 });
  if (patchAt !== undefined) {
    expect(vm.run({ maxInstructions: patchAt, timeout: 60 }).reason).toBe('max-instructions');
    vm.memory.writeBytes(LOAD + 16, new Uint8Array([5]));
  }
  const exit = vm.run({ timeout: 60 });
  const regions = vm.jitProfile()?.regions ?? [];
  return {
    reason: exit.reason, eax: vm.getRegisters().eax, instructions: vm.instructions, flushes: vm.interpreter.cache.flushes,
    hotPageTranslations: regions.filter((r) => r.start >>> 12 === LOAD >>> 12).length, jit: vm.jitStats(),
  };
}

describe('a full decoded-code cache keeps the JIT regions that run', () => {
  it('the hot page is translated once or twice, not once per flush, with the interpreter\'s results', async () => {
    const interp = await run(false), ours = await run(true);
    expect(interp.reason).toBe('debug-exit');
    expect({ reason: ours.reason, eax: ours.eax, instructions: ours.instructions }).toEqual({ reason: interp.reason, eax: interp.eax, instructions: interp.instructions });
    // The sled overflowed the cache several times on every pass...
    expect(ours.flushes).toBeGreaterThanOrEqual(PASSES * 4);
    // ...yet the loop's region lived on (the old flush dropped it each time: one translation per pass).
    expect(ours.hotPageTranslations).toBeGreaterThan(0);
    expect(ours.hotPageTranslations).toBeLessThanOrEqual(2);
    expect(ours.jit!.flushes).toBe(0);
    // The sled's blocks went: the cache stayed within its limit.
    expect(ours.jit!.live).toBeLessThanOrEqual(2);
  });

  it('a region kept through the flushes still dies when its code is written', async () => {
    const patchAt = 200_000;
    const interp = await run(false, patchAt), ours = await run(true, patchAt), unpatched = await run(false);
    expect(interp.eax).not.toBe(unpatched.eax); // (the patch matters)
    expect({ reason: ours.reason, eax: ours.eax, instructions: ours.instructions }).toEqual({ reason: interp.reason, eax: interp.eax, instructions: interp.instructions });
    expect(ours.flushes).toBeGreaterThanOrEqual(PASSES * 4);
    expect(ours.jit!.invalidations).toBeGreaterThan(0);
  });
});
