// The software TLB's flush (Cpu.flushTlb) clears only the slots page walks filled since the last flush, not
// all 4,096. Checked against the obvious definition — after a flush, every tag is 0 except, when global pages
// are kept (a CR3 write with CR4.PGE), those of global entries — over random walks, INVLPGs and flushes,
// including a slot emptied and refilled often enough to overflow the list of filled slots.
import { describe, expect, it } from 'vitest';
import { createVM } from '../src/index.ts';
import { TLB_GLOBAL, TLB_SIZE } from '../src/cpu/cpu.ts';
import { CR3, CR4 } from '../src/cpu/state.ts';

const PAGES = 2 * TLB_SIZE; // linear pages mapped: two for every TLB slot
const PD = 0x1000, PT = 0x10000, FRAME = 0x200000;
const P = 1, RW = 2, US = 4, G = 0x100, CR4_PGE = 0x80;

function pagedCpu() {
  const vm = createVM({ memory: 8 << 20 });
  const cpu = vm.cpu;
  for (let t = 0; t < PAGES / 1024; t++) vm.memory.write(PD + 4 * t, 4, (PT + t * 0x1000) | P | RW | US);
  // Every third page global; all map one frame (the TLB does not care).
  for (let p = 0; p < PAGES; p++) vm.memory.write(PT + 4 * p, 4, FRAME | P | RW | US | (p % 3 === 0 ? G : 0));
  cpu.s[CR3] = PD;
  cpu.s[CR4] |= CR4_PGE;
  cpu.paging = true;
  return cpu;
}

/** What a flush must leave: the tags before it, minus every non-global one (minus all without keepGlobal). */
const expected = (before: Int32Array, keepGlobal: boolean): number[] => [...before].map((t) => (keepGlobal && (t & TLB_GLOBAL) !== 0 ? t : 0));

describe('TLB flush', () => {
  it('clears what it must and keeps global entries on request, over random walks, INVLPGs and flushes', () => {
    const cpu = pagedCpu();
    let seed = 12345;
    const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    let flushes = 0;
    for (let step = 0; step < 60_000; step++) {
      const r = rand(1000);
      if (r < 3) {
        const keep = r < 2, before = cpu.tlbTag.slice();
        cpu.flushTlb(keep);
        expect([...cpu.tlbTag]).toEqual(expected(before, keep));
        flushes++;
      } else if (r < 100) cpu.invalidatePage(rand(PAGES) << 12);
      else cpu.translate((rand(PAGES) << 12) | rand(4096), false, false);
    }
    expect(flushes).toBeGreaterThan(100);
  });

  it('a slot emptied and refilled past the list\'s length: the next flushes still clear everything they must', () => {
    const cpu = pagedCpu();
    for (let p = 0; p < 100; p++) cpu.translate(p << 12, false, false);
    // One global page's slot refilled 2 × TLB_SIZE times: the list of filled slots overflows.
    for (let i = 0; i < 2 * TLB_SIZE; i++) { cpu.invalidatePage(0x3000); cpu.translate(0x3000, false, false); }
    for (let p = 200; p < 300; p++) cpu.translate(p << 12, false, false); // filled after the list stopped
    let before = cpu.tlbTag.slice();
    cpu.flushTlb(true);
    expect([...cpu.tlbTag]).toEqual(expected(before, true));
    expect(cpu.tlbTag.filter((t) => t !== 0).length).toBe(34 + 33); // pages 0, 3, …, 99 and 201, 204, …, 297 are global
    // Entries filled after the full scan are listed again, and the kept global ones stay listed.
    for (let p = TLB_SIZE; p < TLB_SIZE + 50; p++) cpu.translate(p << 12, false, false);
    before = cpu.tlbTag.slice();
    cpu.flushTlb(true);
    expect([...cpu.tlbTag]).toEqual(expected(before, true));
    cpu.flushTlb(false);
    expect(cpu.tlbTag.every((t) => t === 0)).toBe(true);
  });
});
