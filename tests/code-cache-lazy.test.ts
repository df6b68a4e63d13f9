// Under the JIT the code cache decodes blocks lazily (code-cache.ts decodeLazy): straight into records from
// per-address templates, the instructions and closures only when asked for (Block.ops, opsOf). The eager
// decode, which engine 'interp' still uses, is the oracle: over the same bytes both must make the same
// blocks — bounds, instruction count, records word for word, and (once asked for) the same instructions.
import { describe, expect, it } from 'vitest';
import { type Block, CodeCache } from '../src/cpu/code-cache.ts';
import { emitterFor } from '../src/cpu/semantics/index.ts';
import { R_CLOSURE, RECORD_WORDS } from '../src/cpu/semantics/records.ts';
import { formatIntel } from '../src/decoder/format-intel.ts';
import { CS } from '../src/decoder/instruction.ts';
import { CODE32, SEG_BASE, SEG_LIMIT, segSlot } from '../src/cpu/state.ts';
import { bytesOf, machine } from './semantics-helpers.ts';

/** Encodings a kernel's cold code is made of (records and closures both), and some that end blocks or have no semantics. */
const POOL = [
  '55', '89 e5', '53', '5b', '5d', 'c3', 'c2 08 00', '8b 43 08', '89 43 f8', '8b 45 0c', '89 d8', 'b8 78 56 34 12',
  '83 c0 03', '01 d8', '29 c8', '39 d0', '85 c0', '31 c0', '21 d1', '09 c8', '83 f8 07', '3d 00 10 00 00', '40', '4b',
  '8d 43 08', '8d 74 26 00', '74 05', '75 fa', '0f 84 10 00 00 00', '7f 02', 'eb 03', 'e9 00 01 00 00',
  'e8 10 00 00 00', '66 89 c8', '88 43 02', '0f b6 43 01', '8b 04 8b', 'c7 43 04 01 00 00 00', 'c1 e0 04',
  'f3 ab', '90', 'ff d0', 'ff 25 00 20 00 00', '0f 0b', 'f4', 'cc', '66 e8 02 00', '66 eb 01',
];

function setup(lazy: boolean, code: Uint8Array, base: number, csLimit = -1) {
  const { cpu, mem } = machine();
  const s = cpu.s;
  s[segSlot(CS, SEG_BASE)] = 0; s[segSlot(CS, SEG_LIMIT)] = csLimit; s[CODE32] = 1;
  code.forEach((b, i) => mem.write8(base + i, b));
  const cache = new CodeCache(cpu);
  cache.lazyOps = lazy;
  return { cpu, mem, cache };
}

/** What a block is, as comparable data: its bounds, its records (closure records by kind only), its instructions. */
function describeBlock(cache: CodeCache, b: Block) {
  const records: number[][] = [];
  for (let k = 0; k < b.count; k++) {
    const j = b.code + (1 + k) * RECORD_WORDS, r = Array.from(cache.arena.subarray(j, j + RECORD_WORDS));
    records.push(r[0] === R_CLOSURE ? [R_CLOSURE, r[3]] : r);
  }
  return {
    start: b.start, end: b.end, phys: b.phys, physEnd: b.physEnd, count: b.count, header: cache.arena[b.code], cacheable: b.cacheable, records,
    ops: b.ops.map((o) => `${o.eip.toString(16)} ${o.next.toString(16)} ${o.ins.length} ${formatIntel(o.ins, o.eip)}`),
  };
}

/** A random program from POOL (a seeded generator: a failure names its seed). */
function program(seed: number, length: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const rnd = (n: number) => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) % n; };
  const out: number[] = [];
  while (out.length < length) out.push(...bytesOf(POOL[rnd(POOL.length)]));
  return Uint8Array.from(out.slice(0, length));
}

describe('code cache: lazily decoded blocks', () => {
  it('are the blocks the eager decode makes, at every start in random code, across a page boundary and after code writes', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const code = program(seed, 1600), base = 0x1c00; // over the page boundary at 0x2000
      const eager = setup(false, code, base), lazy = setup(true, code, base);
      for (let round = 0; round < 2; round++) {
        let simple = 0, lazily = 0;
        for (let at = base; at < base + code.length - 16; at += 3) {
          const e = eager.cache.blockAt(at), l = lazy.cache.blockAt(at);
          // Lazily made unless it has an instruction without semantics or one that straddles a page.
          if (e.ops.every((o) => emitterFor(o.ins) !== undefined && (o.eip & 0xfff) + o.ins.length <= 0x1000)) simple++;
          if ((l as unknown as { opsList: unknown }).opsList === null) lazily++;
          expect(describeBlock(lazy.cache, l), `seed ${seed} round ${round} at ${at.toString(16)}`).toEqual(describeBlock(eager.cache, e));
        }
        if (round === 0) expect(lazily, `seed ${seed}: blocks made lazily`).toBe(simple); // (round 1 finds most of them cached, their instructions made)
        // Rewrite some code (through the cache's write tracking, as a guest store does): the blocks over it
        // go, and the next round decodes the new bytes — the lazy decode's templates must not be trusted.
        for (const m of [eager, lazy]) for (let k = 0; k < 64; k++) m.mem.write8(base + 200 + 7 * k, 0x40 + (k & 7));
      }
    }
  });

  it('end where the eager decode ends them at the CS limit, and as it does where no block can be made lazily', () => {
    const code = program(42, 300), base = 0x3000;
    for (const limit of [0x3010, 0x3051, 0x30ff]) {
      const eager = setup(false, code, base, limit), lazy = setup(true, code, base, limit);
      for (let at = base; at <= limit; at++) {
        const e = eager.cache.blockAt(at), l = lazy.cache.blockAt(at);
        expect(describeBlock(lazy.cache, l), `limit ${limit.toString(16)} at ${at.toString(16)}`).toEqual(describeBlock(eager.cache, e));
      }
    }
  });

  it('are right in a cache that decoded eagerly before it turned lazy (the JIT enabled later)', () => {
    const code = program(11, 800), base = 0x5000;
    const eager = setup(false, code, base), late = setup(false, code, base);
    for (let at = base; at < base + 700; at += 2) late.cache.blockAt(at);
    late.cache.flush();
    late.cache.lazyOps = true; // (the by-address table holds these instructions, without their templates)
    let lazily = 0;
    for (let at = base; at < base + 700; at += 2) {
      const l = late.cache.blockAt(at);
      if ((l as unknown as { opsList: unknown }).opsList === null) lazily++;
      expect(describeBlock(late.cache, l), `at ${at.toString(16)}`).toEqual(describeBlock(eager.cache, eager.cache.blockAt(at)));
    }
    expect(lazily).toBeGreaterThan(0);
  });

  it('follow an offset that wraps at 4 GiB (a CS base above 0) as the eager decode does', () => {
    const code = program(7, 256), base = 0x7c0;
    const blockAt = (m: ReturnType<typeof setup>, eip: number) => m.cache.blockAt(eip);
    const eager = setup(false, code, base), lazy = setup(true, code, base);
    for (const m of [eager, lazy]) m.cpu.s[segSlot(CS, SEG_BASE)] = 0x800;
    for (let eip = -0x40; eip < 0x40; eip++) {
      expect(describeBlock(lazy.cache, blockAt(lazy, eip)), `eip ${(eip >>> 0).toString(16)}`).toEqual(describeBlock(eager.cache, blockAt(eager, eip)));
    }
  });

  it('make their instructions and closures only when asked for, and run the same as eager ones', () => {
    const code = bytesOf('b8 05 00 00 00 83 c0 03 89 c3 0f af d8 c3'); // mov eax,5; add eax,3; mov ebx,eax; imul ebx,eax; ret
    const lazy = setup(true, code, 0x1000), eager = setup(false, code, 0x1000);
    const b = lazy.cache.blockAt(0x1000);
    expect(b.count).toBe(5);
    expect(b.startsInvalid).toBe(false);
    // (No instructions yet: the records and the one closure, of IMUL, are all the run loop needs.)
    expect((b as unknown as { opsList: unknown }).opsList).toBeNull();
    // Its instructions, once asked for, have no closures yet either (the JIT reads only ins, eip and next);
    // a closure is made at its first use, once.
    const made = (): unknown[] => b.ops.map((o) => (o as unknown as { made: unknown }).made);
    expect(made()).toEqual([null, null, null, null, null]);
    expect(b.ops[3].exec).toBe(b.ops[3].exec);
    expect(made().map((e) => e !== null)).toEqual([false, false, false, true, false]);
    for (const m of [lazy, eager]) {
      const blk = m.cache.blockAt(0x1000);
      for (const exec of blk.execs.slice(0, 4)) exec();
    }
    expect(Array.from(lazy.cpu.s.subarray(0, 8))).toEqual(Array.from(eager.cpu.s.subarray(0, 8)));
    expect(lazy.cpu.s[3]).toBe(64);
  });
});
