// The jump cache (jit/jump-cache.ts): compiled code chains to the region the cache names at an EIP. The cache is
// direct-mapped, so two regions' entries can want one pair; the run loop entering a region at an EIP whose
// pair another region took must write it back, or every transfer there returns to the run loop for the rest
// of the generation (a Linux boot: 2.0 M such returns before the rewrite, 0.9 M after).
import { describe, expect, it } from 'vitest';
import { JumpCache } from '../jit/jump-cache.ts';
import { wasmEncoder as bn } from '../jit/wasm-encoder.ts';
import type { Cpu } from '../src/cpu/cpu.ts';
import { createVM } from '../src/index.ts';
import { jumpCacheEntry, JUMP_CACHE_ENTRIES, JUMP_CACHE_OFFSET, STATE_OFFSET } from '../src/cpu/state.ts';

/** A region's `run(pc, budget, count)` that returns `marker + count`, so a test sees which region ran. */
function fakeRun(marker: number): Function {
  const m = new bn.Module();
  const i32 = bn.i32;
  m.setFeatures(bn.Features.MVP);
  m.addFunction('run', bn.createType([i32, i32, i32]), i32, [], m.i32.add(m.local.get(2, i32), m.i32.const(marker)));
  m.addFunctionExport('run', 'run');
  const inst = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary() as Uint8Array<ArrayBuffer>));
  m.dispose();
  return inst.exports.run as Function;
}

function setup(enabled = true) {
  const pages = Math.ceil((Math.max(JUMP_CACHE_OFFSET + JUMP_CACHE_ENTRIES * 8, STATE_OFFSET + 4096)) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  const reliedOn: [number, number][] = [];
  // Kernel addresses (0xc0000000 up) are mapped by global pages.
  const cpu = {
    mappingEpoch: 0, globalMappingEpoch: 0, s: new Int32Array(memory.buffer, STATE_OFFSET, 1024),
    reliesOnMapping: (a: number, b: number) => reliedOn.push([a, b]), isGlobalMapping: (lin: number) => lin >>> 0 >= 0xc0000000,
  } as unknown as Cpu;
  const jumps = new JumpCache(cpu, memory, enabled);
  const chain = jumps.chain as (pc: number, budget: number, count: number, mode: number) => number;
  return { jumps, chain, cpu, reliedOn };
}

/** An EIP other than `eip` whose pair in the cache is the same one. */
function collidingWith(eip: number): number {
  for (let y = eip + 1; ; y++) if (jumpCacheEntry(y) === jumpCacheEntry(eip)) return y;
}

describe('jump cache', () => {
  const X = 0xc1000010, Y = collidingWith(X), Z = 0xc1000020;

  it('the run loop entering a region at an entry another region took writes it back', () => {
    const { jumps, chain } = setup();
    const a = { mode: 2, entries: [X, Z], start: X, end: Z + 1, slot: 0, generation: -1 }, b = { mode: 2, entries: [Y], start: Y, end: Y + 1, slot: 0, generation: -1 };
    jumps.attach(a, fakeRun(1000));
    jumps.attach(b, fakeRun(2000));
    jumps.prepare(a, X);
    expect(chain(X, 100, 5, 2)).toBe(1005);
    expect(chain(Z, 100, 5, 2)).toBe(1005);
    jumps.prepare(b, Y); // takes X's pair
    expect(chain(Y, 100, 5, 2)).toBe(2005);
    expect(chain(X, 100, 5, 2)).toBe(5); // not named: back to the run loop
    jumps.prepare(a, X); // the run loop enters a at X again
    expect(chain(X, 100, 5, 2)).toBe(1005);
    expect(chain(Y, 100, 5, 2)).toBe(5);
    expect(chain(Z, 100, 5, 2)).toBe(1005);
  });

  it('an EIP that is not one of the region\'s entries is never written', () => {
    const { jumps, chain } = setup();
    const a = { mode: 2, entries: [X], start: X, end: X + 1, slot: 0, generation: -1 };
    jumps.attach(a, fakeRun(1000));
    jumps.prepare(a, X);
    const notEntry = collidingWith(Y);
    jumps.prepare(a, notEntry);
    expect(chain(notEntry, 100, 5, 2)).toBe(5);
    expect(chain(X, 100, 5, 2)).toBe(1005);
  });

  it('a mode other than the region\'s does not chain; a new mapping epoch empties the cache', () => {
    const { jumps, chain, cpu } = setup();
    const a = { mode: 2, entries: [X], start: X, end: X + 1, slot: 0, generation: -1 };
    jumps.attach(a, fakeRun(1000));
    jumps.prepare(a, X);
    expect(chain(X, 100, 5, 3)).toBe(5);
    cpu.mappingEpoch++; cpu.globalMappingEpoch++; // a full new epoch
    const b = { mode: 2, entries: [Z], start: Z, end: Z + 1, slot: 0, generation: -1 };
    jumps.attach(b, fakeRun(2000));
    jumps.prepare(b, Z);
    expect(chain(X, 100, 5, 2)).toBe(5);
    expect(chain(Z, 100, 5, 2)).toBe(2005);
  });

  it('a region about to run relies on the mappings of its code\'s pages (an INVLPG of one must end it), chaining or not', () => {
    for (const enabled of [true, false]) {
      const { jumps, reliedOn } = setup(enabled);
      const a = { mode: 2, entries: [X, Z], start: X, end: 0xc1001003, slot: 0, generation: -1 };
      jumps.attach(a, fakeRun(1000));
      jumps.prepare(a, X);
      jumps.prepare(a, Z);
      expect(reliedOn).toEqual([[X, 0xc1001003], [X, 0xc1001003]]);
    }
  });

  it('a CR3 write keeps the entries of regions in global pages, and only those', () => {
    const { jumps, chain, cpu } = setup();
    const U = 0x08048010;
    const k = { mode: 2, entries: [X], start: X, end: X + 1, slot: 0, generation: -1 };
    const u = { mode: 2, entries: [U], start: U, end: U + 1, slot: 0, generation: -1 };
    jumps.attach(k, fakeRun(1000));
    jumps.attach(u, fakeRun(2000));
    jumps.prepare(k, X);
    jumps.prepare(u, U);
    expect(chain(X, 100, 5, 2)).toBe(1005);
    expect(chain(U, 100, 5, 2)).toBe(2005);
    cpu.mappingEpoch++; // a CR3 write: global pages kept
    jumps.prepare(k, X);
    expect(chain(X, 100, 5, 2)).toBe(1005);
    expect(chain(U, 100, 5, 2)).toBe(5);
    jumps.prepare(u, U); // the user region writes its entries again
    expect(chain(U, 100, 5, 2)).toBe(2005);
    cpu.mappingEpoch++; cpu.globalMappingEpoch++; // CR4, or an INVLPG of a page relied on: everything goes
    jumps.prepare(u, U);
    expect(chain(X, 100, 5, 2)).toBe(5);
    expect(chain(U, 100, 5, 2)).toBe(2005);
    // A dropped region's entries go, whatever generation it was in.
    jumps.detach(u);
    expect(chain(U, 100, 5, 2)).toBe(5);
  });
});

describe('mapping epoch', () => {
  // Links between decoded blocks and the jump cache reuse where a linear EIP led, without a page walk: a
  // change of mappings they rely on must start a new epoch (which empties both), and only such a change
  // (a Linux boot's 70 k INVLPGs are nearly all of data pages; each used to empty the jump cache).
  it('an INVLPG starts a new epoch only for a page marked as relied on since the last one', () => {
    const cpu = createVM({ memory: 4 << 20 }).cpu;
    cpu.paging = true;
    const e0 = cpu.mappingEpoch;
    cpu.reliesOnMapping(0xc0001ffe, 0xc0002003); // a block crossing into the next page relies on both
    cpu.invalidatePage(0xc0005000);
    expect(cpu.mappingEpoch).toBe(e0);
    cpu.invalidatePage(0xc0002abc);
    expect(cpu.mappingEpoch).toBe(e0 + 1);
    cpu.invalidatePage(0xc0001000); // the new epoch starts with nothing relied on
    expect(cpu.mappingEpoch).toBe(e0 + 1);
    cpu.reliesOnMapping(0xc0001000, 0xc0001010);
    const g0 = cpu.globalMappingEpoch;
    cpu.flushTlb(true); // a CR3 write: always a new epoch, not for global pages
    expect(cpu.mappingEpoch).toBe(e0 + 2);
    expect(cpu.globalMappingEpoch).toBe(g0);
    cpu.invalidatePage(0xc0001000); // still marked: a full new epoch
    expect(cpu.mappingEpoch).toBe(e0 + 3);
    expect(cpu.globalMappingEpoch).toBe(g0 + 1);
    cpu.invalidatePage(0xc0001000);
    expect(cpu.mappingEpoch).toBe(e0 + 3);
    cpu.flushTlb(false);
    expect(cpu.globalMappingEpoch).toBe(g0 + 2);
    expect(cpu.isGlobalMapping(0xc0001000)).toBe(false); // (nothing in the TLB)
  });
});
