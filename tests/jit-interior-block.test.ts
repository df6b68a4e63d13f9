// A hot block decoded inside a translated region's code, at an instruction that is no entry of the region
// (issue 13: Jit.regionFor refused such a block for good, so its loop stayed in the interpreter). Here a
// computed jump (`jmp esi`) loops back into the middle of a block the region translated when an earlier
// loop of the page got hot. The block must be given an entry by one retranslation — not be refused for
// ever, and not retranslated again and again.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const LOAD = 0x100000, TRIPS = 100_000;
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** Hand-assembled (offsets in the comments). */
const GUEST = new Uint8Array([
  0x31, 0xc0, //                    0: xor eax, eax
  0xb9, 0xe8, 0x03, 0, 0, //        2: mov ecx, 1000
  0x40, //                          7: a: inc eax           (the first hot loop: the page is translated)
  0xe2, 0xfd, //                    8: loop a
  0xba, ...le32(TRIPS), //          10: mov edx, TRIPS
  0xbe, ...le32(LOAD + 21), //      15: mov esi, y
  0x43, //                          20: inc ebx
  0x01, 0xd0, //                    21: y: add eax, edx      (inside the block at 10; no branch names it)
  0x4a, //                          23: dec edx
  0x74, 0x02, //                    24: jz done
  0xff, 0xe6, //                    26: jmp esi
  0x66, 0xba, 0xf4, 0x00, //        28: done: mov dx, 0xf4
  0xee, //                          32: out dx, al (isa-debug-exit)
  0xf4, //                          33: hlt
]);

async function run(jit: boolean) {
  const vm = createVM({});
  if (jit) await vm.enableJit({ tier2: 'off' });
  loadRaw(vm, GUEST, { load: LOAD, entry: LOAD, bits: 32 });
  const exit = vm.run({ timeout: 60 });
  const r = vm.getRegisters();
  return { reason: exit.reason, eax: r.eax, ebx: r.ebx, instructions: vm.instructions, jit: vm.jitStats() };
}

/**
 * A loop of one 20-instruction block (paging off), then debug-exit. Run in slices of 7 instructions, each
 * slice but the ones in compiled code ends inside the block and the next starts a block there.
 */
const LOOP = new Uint8Array([
  0xb9, ...le32(5_000), //          0: mov ecx, 5000
  ...new Array(9).fill([0x40, 0x43]).flat(), // 5: a: (inc eax; inc ebx) x 9
  0x49, //                          23: dec ecx
  0x75, 0xeb, //                    24: jnz a
  0x66, 0xba, 0xf4, 0x00, //        26: mov dx, 0xf4
  0xee, //                          30: out dx, al
  0xf4, //                          31: hlt
]);

async function runLoop(slice: number) {
  const vm = createVM({});
  await vm.enableJit({ tier2: 'off' });
  loadRaw(vm, LOOP, { load: LOAD, entry: LOAD, bits: 32 });
  let exit = vm.run({ maxInstructions: slice, timeout: 60 });
  while (exit.reason === 'max-instructions') exit = vm.run({ maxInstructions: slice, timeout: 60 });
  const r = vm.getRegisters();
  return { reason: exit.reason, eax: r.eax, ebx: r.ebx, instructions: vm.instructions, wasmBytes: vm.jitStats()!.wasmBytes, compiled: vm.jitStats()!.compiled };
}

describe('a block a run merely resumed in (paging off)', () => {
  it('is not translated: the region is the one an uncut run gets', async () => {
    const whole = await runLoop(Number.MAX_SAFE_INTEGER), sliced = await runLoop(7);
    expect(whole.reason).toBe('debug-exit');
    expect(whole.eax).toBe(45_000);
    // The slices left blocks at every instruction of the loop's body before it got hot; with a copy of
    // the rest of the body for each, the region was ~5 times the WASM.
    expect(sliced).toEqual(whole);
  });
});

describe('a hot block inside a region\'s code, at no entry', () => {
  it('gets an entry by one retranslation and its loop runs compiled', async () => {
    const interp = await run(false), ours = await run(true);
    expect(interp.reason).toBe('debug-exit');
    expect({ reason: ours.reason, eax: ours.eax, ebx: ours.ebx, instructions: ours.instructions }).toEqual({ reason: interp.reason, eax: interp.eax, ebx: interp.ebx, instructions: interp.instructions });
    const jit = ours.jit!;
    expect(jit.instructions / ours.instructions).toBeGreaterThan(0.9);
    expect(jit.compiled).toBeLessThanOrEqual(3);
  });
});
