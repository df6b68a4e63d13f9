// A hot block decoded inside a translated region's code, at an instruction that is no entry of the region
// (issue 13: Jit.regionFor refused such a block for good, so its loop stayed in the interpreter). Here a
// computed jump (`jmp esi`) loops back into the middle of a block the region translated when an earlier
// loop of the page got hot. The block must be given an entry by one retranslation — not be refused for
// ever, and not retranslated again and again.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FLAT_SPAN_SHIFT } from '../jit/region.ts';

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

/**
 * The LOOP above with the PIT's interrupt (IRQ 0) every ~2,500 instructions, its handler in another region's
 * span (16 KiB away: region.ts's FLAT_SPAN_SHIFT).
 * The run loop's budget ends at each timer event, mostly inside the loop's block; the interrupt is taken
 * there and its handler's IRET returns into the middle of the block. That return is a resumption too.
 */
const TICKING_TRIPS = 250_000;
const HANDLER = LOAD + 0x4000, TABLES = LOAD + 0x5000, GDTR = TABLES + 0x100, IDTR = GDTR + 8, GDT = TABLES + 0x200;
const ticking = (): Uint8Array => {
  const image = new Uint8Array(0x5300);
  image.set([
    0x0f, 0x01, 0x15, ...le32(GDTR), //   lgdt [GDTR]
    0x0f, 0x01, 0x1d, ...le32(IDTR), //   lidt [IDTR]
    0xb0, 0xfe, 0xe6, 0x21, //            mov al, 0xfe; out 0x21, al   (the master PIC: only IRQ 0)
    0xb0, 0x34, 0xe6, 0x43, //            mov al, 0x34; out 0x43, al   (PIT channel 0, rate generator)
    0xb0, 0x03, 0xe6, 0x40, //            mov al, 3; out 0x40, al      (divisor 3: ~2.5 us)
    0xb0, 0x00, 0xe6, 0x40, //            mov al, 0; out 0x40, al
    0xfb, //                              sti
    0xb9, ...le32(TICKING_TRIPS), //      mov ecx, TICKING_TRIPS
    ...new Array(9).fill([0x40, 0x43]).flat(), // a: (inc eax; inc ebx) x 9
    0x49, //                              dec ecx
    0x75, 0xeb, //                        jnz a
    0xfa, //                              cli
    0x66, 0xba, 0xf4, 0x00, 0xee, 0xf4, //  mov dx, 0xf4; out dx, al; hlt
  ]);
  // The handler (vector 8: the master PIC's base as a BIOS leaves it): EOI, count the tick in ESI.
  image.set([0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0x46, 0xcf], HANDLER - LOAD);
  // IDT: vector 8, a 32-bit interrupt gate to the handler through the flat code segment 0x08.
  image.set([HANDLER & 0xff, (HANDLER >>> 8) & 0xff, 0x08, 0x00, 0x00, 0x8e, (HANDLER >>> 16) & 0xff, HANDLER >>> 24], TABLES - LOAD + 8 * 8);
  image.set([23, 0, ...le32(GDT)], GDTR - LOAD);
  image.set([9 * 8 - 1, 0, ...le32(TABLES)], IDTR - LOAD);
  image.set([0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0], GDT - LOAD);
  return image;
};

async function runTicking(jit: boolean) {
  const vm = createVM({});
  if (jit) await vm.enableJit({ tier2: 'off' });
  loadRaw(vm, ticking(), { load: LOAD, entry: LOAD, bits: 32 });
  const exit = vm.run({ timeout: 120 });
  const r = vm.getRegisters();
  const loopSpan = jit ? vm.jitProfile()!.regions.filter((g) => g.start >>> FLAT_SPAN_SHIFT === LOAD >>> FLAT_SPAN_SHIFT) : [];
  return { reason: exit.reason, eax: r.eax, ebx: r.ebx, ticks: r.esi, instructions: vm.instructions, loopSpan };
}

describe('a block an interrupt handler returned into (paging off)', () => {
  it('is not translated: the loop\'s span is translated once, with no block per return point', async () => {
    const interp = await runTicking(false), ours = await runTicking(true);
    expect(interp.reason).toBe('debug-exit');
    expect(interp.eax).toBe(9 * TICKING_TRIPS);
    expect(interp.ticks).toBeGreaterThan(1_000);
    expect({ ...ours, loopSpan: [] }).toEqual({ ...interp, loopSpan: [] });
    // Before, each return into the loop's block started a block there: they turned hot and the span was
    // translated again, with a block for each (28 blocks and twice the WASM for the same 33 instructions).
    // Now the one translation holds the blocks the setup (each OUT ends one) and the loop decode.
    expect(ours.loopSpan).toHaveLength(1);
    expect(ours.loopSpan[0].blocks).toBeLessThanOrEqual(9);
  });
});
