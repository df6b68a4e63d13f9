// The shape of a region function's control flow: which segments become WASM loops, and where each
// segment's code goes.
//
// WebAssembly has no goto: a forward branch is a `br` out of an enclosing block, a backward one a `br` to an
// enclosing `loop`'s start. The plain layout (no loops) puts the segments in address order, each after the
// end of a block of its own, so every forward branch is a `br`; backward ones set pc and go round the
// dispatcher — a search and a jump per loop trip when a loop spans several segments (a rotated
// `for` loop: body, then the test that branches back to it).
//
// With loops, a backward direct branch from segment j to segment h < j makes [h..j] a loop (innermost and
// disjoint ones kept, nested ones as long as duplication stays bounded): a WASM `loop` whose body is the
// layout of h..j, so the back edge is a `br` to the loop. A loop can only be entered at its start, but its
// other segments are entries too (a forward `jmp` into the test, a RET to after a CALL inside, the
// dispatcher): for those, a copy of h+1..j is laid out just before the loop. A copy runs to the end of its
// trip and enters the loop at its start with a forward `br`; later trips run inside the loop. This is the
// tail duplication compilers use to make multi-entry loops single-entry.
//
// The layout is a tree: a chain of items, each a segment or a loop whose body is a chain. Every item's code
// follows the end of a block of its own (its label), so a `br` to an item's label from anywhere before it
// in the same chain — or inside a loop item before it — lands on its code.

/** A segment's place in the layout: its code runs here. */
export interface SegmentItem { kind: 'segment'; seg: number; label: string }
/** A WASM loop over segments head..end; its body is a chain beginning with the head segment. */
export interface LoopItem { kind: 'loop'; head: number; end: number; label: string; loopLabel: string; body: Chain }
export type Item = SegmentItem | LoopItem;

export interface Chain {
  items: Item[];
  /** For each segment this chain has an entry for (a segment item, or the loop item headed by it): the item's position. */
  entry: Map<number, number>;
  /** The loop this chain is the body of (null: the function's top level). */
  loop: LoopItem | null;
}

/** Where a branch goes: a label to `br` to, SELF (the segment's own start), or DISPATCH (through the dispatcher). */
export const SELF = '\u0000self', DISPATCH = '\u0000dispatch';

/** Loops: [head, end] segment intervals, properly nested or disjoint. */
export type LoopSpan = [number, number];

/**
 * The loops to form, from each segment's direct backward branches (`backTargets[j]`: segment indices < j it
 * branches to). Overlapping intervals that do not nest are dropped (the inner/earlier one kept); while the
 * duplication would translate more than `maxCopies` times the region's instructions, the widest loop goes.
 */
export function chooseLoops(sizes: readonly number[], backTargets: readonly number[][], maxCopies = 3): LoopSpan[] {
  const endOf = new Map<number, number>();
  backTargets.forEach((ts, j) => { for (const h of ts) if (h < j) endOf.set(h, Math.max(endOf.get(h) ?? h, j)); });
  const candidates = [...endOf].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let kept: LoopSpan[] = [];
  for (const [h, e] of candidates) {
    // Sorted by head: a kept interval overlapping this one starts at or before h.
    if (kept.some(([kh, ke]) => h <= ke && e > ke && h >= kh)) continue;
    kept.push([h, e]);
  }
  const base = sizes.reduce((a, b) => a + b, 0);
  while (kept.length > 0 && translatedSize(sizes, kept) > maxCopies * base) {
    let widest = 0;
    kept.forEach(([h, e], k) => { if (e - h > kept[widest][1] - kept[widest][0]) widest = k; });
    kept = kept.filter((_, k) => k !== widest);
  }
  return kept;
}

/** Instructions translated for a layout with `loops` (each copy counts). */
function translatedSize(sizes: readonly number[], loops: LoopSpan[]): number {
  let n = 0;
  walk(layoutRegion(sizes.length, loops), (it) => { if (it.kind === 'segment') n += sizes[it.seg]; });
  return n;
}

function walk(c: Chain, f: (it: Item) => void): void {
  for (const it of c.items) { f(it); if (it.kind === 'loop') walk(it.body, f); }
}

/** The layout of segments 0..n-1 with `loops` (from chooseLoops). Labels are unique in the function. */
export function layoutRegion(n: number, loops: LoopSpan[]): Chain {
  const byHead = new Map(loops.map(([h, e]) => [h, e]));
  let labels = 0;
  const chain = (from: number, to: number, loop: LoopItem | null): Chain => {
    const c: Chain = { items: [], entry: new Map(), loop };
    const add = (it: Item): void => {
      c.entry.set(it.kind === 'segment' ? it.seg : it.head, c.items.length);
      c.items.push(it);
    };
    for (let k = from; k <= to;) {
      const end = byHead.get(k);
      if (end === undefined || end > to || (loop !== null && k === loop.head)) { add({ kind: 'segment', seg: k, label: `s${labels++}` }); k++; continue; }
      // Copies of the loop's other segments first (entries from before the loop), then the loop.
      for (const it of chain(k + 1, end, null).items) add(it);
      const item: LoopItem = { kind: 'loop', head: k, end, label: `s${labels++}`, loopLabel: `L${labels++}`, body: { items: [], entry: new Map(), loop: null } };
      item.body = chain(k, end, item);
      add(item);
      k = end + 1;
    }
    return c;
  };
  return chain(0, n - 1, null);
}

/** One step of the path from the top-level chain to an item: the chain and the item's position in it. */
export interface Place { chain: Chain; pos: number }

/**
 * How a branch from the item at `path` (innermost last; the item runs segment `from`) to segment `t` goes:
 * to its own start (SELF), to the first entry for t after the current position in this chain or an
 * enclosing one (a forward `br`), to the start of an enclosing loop headed by t (a backward `br`), else
 * DISPATCH.
 */
export function routeOf(path: readonly Place[], from: number, t: number): string {
  // A segment's branch to its own start stays its own (peeled) loop even when it heads a bigger one: the
  // peeled loop is compiled knowing the flags its own end leaves (a loop head's trips from the bigger
  // loop's back edges do not).
  if (t === from) return SELF;
  for (let k = path.length - 1; k >= 0; k--) {
    const { chain, pos } = path[k];
    const at = chain.entry.get(t);
    if (at !== undefined && at > pos) return chain.items[at].label;
    if (chain.loop !== null && chain.loop.head === t) return chain.loop.loopLabel;
  }
  return DISPATCH;
}
