// Tier 2's control-flow layout (jit/layout.ts): which multi-segment loops become WASM loops, and how a
// branch from each place reaches its target. Checked against a direct model of structured control flow:
// a `br` to an item's label is valid only from inside an earlier item of the same chain or of an enclosing
// one, and a `br` to a loop's label only from inside its body. Every segment must be reachable from the
// dispatcher, and every back edge of a formed loop must stay inside WASM (no dispatch).
import { describe, expect, it } from 'vitest';
import { type Chain, chooseLoops, DISPATCH, type Item, layoutRegion, type Place, routeOf, SELF } from '../jit/layout.ts';
import { Rng } from './oracle/builder.ts';

/** Every place an item runs a segment, with its path. */
function places(top: Chain): { seg: number; path: Place[] }[] {
  const out: { seg: number; path: Place[] }[] = [];
  const walk = (c: Chain, path: Place[]): void => c.items.forEach((it, pos) => {
    const at = [...path, { chain: c, pos }];
    if (it.kind === 'segment') out.push({ seg: it.seg, path: at });
    else walk(it.body, at);
  });
  walk(top, []);
  return out;
}

/** Where a label leads: the segment run first at an item (a loop item runs its head). */
const firstSegment = (it: Item): number => (it.kind === 'segment' ? it.seg : it.head);

/** Is `label` a valid branch target from `path`, and which segment does it reach? */
function resolve(path: Place[], label: string): number | null {
  for (let k = path.length - 1; k >= 0; k--) {
    const { chain, pos } = path[k];
    for (let j = pos + 1; j < chain.items.length; j++) if (chain.items[j].label === label) return firstSegment(chain.items[j]);
    if (chain.loop !== null && chain.loop.loopLabel === label) return chain.loop.head;
  }
  return null;
}

describe('tier-2 layout', () => {
  it('a rotated loop (body, then the test branching back) becomes one WASM loop entered at the test through a copy', () => {
    // 0: setup, jmp 2; 1: body; 2: test, jcc 1; 3: after
    const loops = chooseLoops([3, 4, 2, 1], [[], [], [1], []]);
    expect(loops).toEqual([[1, 2]]);
    const top = layoutRegion(4, loops);
    expect(top.items.map((it) => (it.kind === 'segment' ? `s${it.seg}` : `loop${it.head}-${it.end}`))).toEqual(['s0', 's2', 'loop1-2', 's3']);
    const test = places(top).find((p) => p.seg === 2 && p.path.length === 2)!;
    // the back edge from the test inside the loop: the loop's own label
    expect(resolve(test.path, routeOf(test.path, 2, 1))).toBe(1);
    expect(routeOf(test.path, 2, 1)).toMatch(/^L/);
    // from the setup, the jump to the test: the copy before the loop
    const setup = places(top).find((p) => p.seg === 0)!;
    expect(resolve(setup.path, routeOf(setup.path, 0, 2))).toBe(2);
  });

  it('overlapping loops that do not nest keep the first; duplication is bounded', () => {
    expect(chooseLoops([1, 1, 1, 1], [[], [], [0], [1]])).toEqual([[0, 2]]);
    // three nested loops over big segments would copy the innermost 8 times: the widest go first
    const sizes = [50, 50, 50, 50, 50, 50];
    const loops = chooseLoops(sizes, [[], [], [], [2], [1], [0]], 3);
    expect(loops.length).toBeLessThan(3);
    expect(loops).toContainEqual([2, 3]);
  });

  it('random loop sets: every route is a valid structured branch to the right segment, back edges never dispatch', () => {
    const rng = new Rng(0x1a70);
    for (let trial = 0; trial < 400; trial++) {
      const n = 1 + rng.int(14);
      const back: number[][] = Array.from({ length: n }, () => []);
      for (let e = rng.int(6); e > 0; e--) { const j = rng.int(n), h = rng.int(j + 1); back[j].push(h); }
      const sizes = Array.from({ length: n }, () => 1 + rng.int(20));
      const loops = chooseLoops(sizes, back, 4);
      // properly nested or disjoint
      for (const [h1, e1] of loops) for (const [h2, e2] of loops) if (h1 < h2) expect(h2 > e1 || e2 <= e1).toBe(true);
      const top = layoutRegion(n, loops);
      // the dispatcher (top level) has an entry for every segment
      for (let s = 0; s < n; s++) expect(firstSegment(top.items[top.entry.get(s)!])).toBe(s);
      const all = places(top);
      for (let s = 0; s < n; s++) expect(all.some((p) => p.seg === s)).toBe(true);
      for (const { seg, path } of all) {
        for (let t = 0; t < n; t++) {
          const r = routeOf(path, seg, t);
          if (r === SELF) { expect(t).toBe(seg); continue; }
          if (r === DISPATCH) {
            // a formed loop's back edge (from inside its body to its head) never dispatches
            const inside = path.some((p) => p.chain.loop !== null && p.chain.loop.head === t);
            expect(inside).toBe(false);
            continue;
          }
          expect(resolve(path, r)).toBe(t);
        }
      }
    }
  });
});
