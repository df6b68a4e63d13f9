// The run loop's records (semantics/records.ts) live in the code cache's arena, which grows by appending:
// a dropped block's records stay until the cache is emptied or evicted. Code that rewrites itself without
// end drops its blocks as fast as it decodes them, so the cache's instruction count never fills it — the
// arena's own size must (CodeCache.full), or it would grow for as long as the guest runs.
import { describe, expect, it } from 'vitest';
import { createVM, loadRaw } from '../src/index.ts';

const LOAD = 0x100000, ITERATIONS = 100_000;

/** A loop that writes the low byte of its counter into the immediate of its own next instruction. */
function guest(): Uint8Array {
  const patch = LOAD + 11;
  const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  return Uint8Array.from([
    0xb9, ...le32(ITERATIONS), //      0: mov ecx, ITERATIONS
    0x88, 0x0d, ...le32(patch + 1), // 5: loop: mov [patch + 1], cl
    0xbb, 0, 0, 0, 0, //              11: patch: mov ebx, imm32 (its low byte rewritten above)
    0x01, 0xd8, //                    16: add eax, ebx
    0x49, //                          18: dec ecx
    0x75, 0xf0, //                    19: jnz loop
    0x66, 0xba, 0xf4, 0x00, //        21: mov dx, 0xf4
    0xee, //                          25: out dx, al (isa-debug-exit)
    0xf4, //                          26: hlt
  ]);
}

describe('code cache: the record arena', () => {
  it('stays bounded while code rewrites itself without end, and the rewritten code runs as written', () => {
    const vm = createVM({ codeCacheSize: 1024 });
    const cache = vm.interpreter.cache, start = cache.arena.length;
    loadRaw(vm, guest(), { load: LOAD, entry: LOAD, bits: 32 });
    expect(vm.run({ timeout: 60 }).reason).toBe('debug-exit');
    let sum = 0;
    for (let c = ITERATIONS; c > 0; c--) sum = (sum + (c & 0xff)) | 0;
    expect(vm.getRegisters().eax).toBe(sum >>> 0);
    // Two blocks decoded a pass (the store drops the one it runs in): ~4 M words of records without the bound.
    expect(cache.decoded).toBeGreaterThan(ITERATIONS);
    expect(cache.flushes).toBeGreaterThan(0);
    expect(cache.arena.length).toBe(start);
  });
});
