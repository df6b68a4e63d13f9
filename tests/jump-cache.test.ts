// The jump cache (jit/jump-cache.ts): compiled code chains to the region the cache names at an EIP. The cache is
// direct-mapped, so two regions' entries can want one pair; the run loop entering a region at an EIP whose
// pair another region took must write it back, or every transfer there returns to the run loop for the rest
// of the generation (a Linux boot: 2.0 M such returns before the rewrite, 0.9 M after).
import { describe, expect, it } from 'vitest';
import { JumpCache } from '../jit/jump-cache.ts';
import { wasmEncoder as bn } from '../jit/wasm-encoder.ts';
import type { Cpu } from '../src/cpu/cpu.ts';
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

function setup() {
  const pages = Math.ceil((Math.max(JUMP_CACHE_OFFSET + JUMP_CACHE_ENTRIES * 8, STATE_OFFSET + 4096)) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  const cpu = { mappingEpoch: 0, s: new Int32Array(memory.buffer, STATE_OFFSET, 1024) } as unknown as Cpu;
  const jumps = new JumpCache(cpu, memory, true);
  const chain = jumps.chain as (pc: number, budget: number, count: number, mode: number) => number;
  return { jumps, chain, cpu };
}

/** An EIP other than `eip` whose pair in the cache is the same one. */
function collidingWith(eip: number): number {
  for (let y = eip + 1; ; y++) if (jumpCacheEntry(y) === jumpCacheEntry(eip)) return y;
}

describe('jump cache', () => {
  const X = 0xc1000010, Y = collidingWith(X), Z = 0xc1000020;

  it('the run loop entering a region at an entry another region took writes it back', () => {
    const { jumps, chain } = setup();
    const a = { mode: 2, entries: [X, Z], slot: 0, generation: -1 }, b = { mode: 2, entries: [Y], slot: 0, generation: -1 };
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
    const a = { mode: 2, entries: [X], slot: 0, generation: -1 };
    jumps.attach(a, fakeRun(1000));
    jumps.prepare(a, X);
    const notEntry = collidingWith(Y);
    jumps.prepare(a, notEntry);
    expect(chain(notEntry, 100, 5, 2)).toBe(5);
    expect(chain(X, 100, 5, 2)).toBe(1005);
  });

  it('a mode other than the region\'s does not chain; a new mapping epoch empties the cache', () => {
    const { jumps, chain, cpu } = setup();
    const a = { mode: 2, entries: [X], slot: 0, generation: -1 };
    jumps.attach(a, fakeRun(1000));
    jumps.prepare(a, X);
    expect(chain(X, 100, 5, 3)).toBe(5);
    cpu.mappingEpoch++;
    const b = { mode: 2, entries: [Z], slot: 0, generation: -1 };
    jumps.attach(b, fakeRun(2000));
    jumps.prepare(b, Z);
    expect(chain(X, 100, 5, 2)).toBe(5);
    expect(chain(Z, 100, 5, 2)).toBe(2005);
  });
});
