// Lazy RAM of a restored VM (VM.fromState with `lazyRam`): the snapshot's stored pages are copied into
// guest RAM when something first touches them, not before the first instruction. A fresh
// WebAssembly.Memory is already zero, so only the pages the snapshot chain stores (and no later diff of it
// zeroes) are pending; the rest of RAM is right from the start. Pages are copied one at a time (a clone
// holds only the pages it touches); the last few chunks decompressed (64 pages each) are kept, since guests
// touch memory in runs. memory.ts asks this before every access that could reach a pending page
// (PhysicalMemory.ensure).
import { PAGE_SIZE } from '../cpu/state.ts';
import type { RamImage } from '../state/ram-image.ts';

/** Decompressed chunks kept for the pages still to come (4 × 256 KiB). */
const CHUNKS_KEPT = 4;

export class LazyRam {
  /** Per page: 0 when RAM already holds it, else 1 + the index in `images` of the file whose bytes it needs. */
  private readonly from: Uint16Array;
  /** Pages still to be copied in. */
  pending = 0;

  /** `images`: the RAM of a snapshot chain, the full snapshot first (snapshot.ts checked that it is one). */
  constructor(private readonly images: readonly RamImage[]) {
    if (images.length > 0xfffe) throw new RangeError('a lazy restore takes at most 65,534 snapshots in a chain');
    const from = this.from = new Uint16Array(images[0].pageCount);
    // Straight over the bitmaps' bytes (no call per page): this runs on every lazy restore.
    let pending = 0;
    images.forEach((img, k) => {
      const stored = img.stored, zeroed = img.zeroed;
      for (let i = 0; i < stored.length; i++) {
        const s = stored[i], z = zeroed[i];
        if ((s | z) === 0) continue;
        for (let b = s | z; b !== 0; b &= b - 1) {
          const bit = b & -b, p = (i << 3) | (31 - Math.clz32(bit));
          if (from[p] !== 0) pending--;
          if ((s & bit) !== 0) { from[p] = k + 1; pending++; } else from[p] = 0;
        }
      }
    });
    this.pending = pending;
  }

  isPending(page: number): boolean { return this.from[page] !== 0; }

  /** Decompressed chunks kept, newest last: key (file index << 32 | chunk) → the chunk's pages' bytes. */
  private readonly chunks = new Map<number, { pages: Uint32Array; bytes: Uint8Array }>();

  /**
   * Copy pending page `page` into `ram`. Throws SnapshotError for a chunk that does not decompress (only a
   * crafted file with a valid checksum can have one).
   */
  load(page: number, ram: Uint8Array): void {
    const k = this.from[page];
    if (k === 0) return;
    const { pages, bytes } = this.chunk(k - 1, this.images[k - 1].chunkOf(page));
    let lo = 0, hi = pages.length - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (pages[mid] < page) lo = mid + 1; else hi = mid; }
    ram.set(bytes.subarray(lo * PAGE_SIZE, (lo + 1) * PAGE_SIZE), page * PAGE_SIZE);
    this.from[page] = 0;
    if (--this.pending === 0) this.chunks.clear();
  }

  private chunk(file: number, c: number): { pages: Uint32Array; bytes: Uint8Array } {
    const key = file * 2 ** 32 + c;
    let hit = this.chunks.get(key);
    if (hit !== undefined) { this.chunks.delete(key); this.chunks.set(key, hit); return hit; }
    const img = this.images[file];
    hit = { pages: img.chunkPages(c), bytes: img.readChunk(c) };
    this.chunks.set(key, hit);
    if (this.chunks.size > CHUNKS_KEPT) this.chunks.delete(this.chunks.keys().next().value!);
    return hit;
  }

  /** Copy every pending page in (before RAM is read whole: a full snapshot, migration, compiled code without paging). */
  loadAll(ram: Uint8Array): void {
    for (let p = 0; p < this.from.length && this.pending > 0; p++) if (this.from[p] !== 0) this.load(p, ram);
  }
}
