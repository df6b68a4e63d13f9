// Lazy RAM of a restored VM (VM.fromState with `lazyRam`): the snapshot's stored pages are copied into
// guest RAM when something first touches them, not before the first instruction. A fresh
// WebAssembly.Memory is already zero, so only the pages the snapshot chain stores (and no later diff of it
// zeroes) are pending; the rest of RAM is right from the start. Pages are copied one at a time (a clone
// holds only the pages it touches); the last few chunks decompressed (64 pages each) are kept, since guests
// touch memory in runs — or, for a VM that touches chunks all over, a chunk's pages go in all at once.
// A chunk read a page at a time stays in the thread's chunk cache (chunk-cache.ts) after it leaves those
// few, for this VM's next visit and for other VMs restored from the same snapshot.
// memory.ts asks this before every access that could reach a pending page (PhysicalMemory.ensure).
import { PAGE_SIZE } from '../cpu/state.ts';
import { countPages } from '../state/page-bitmap.ts';
import type { RamImage } from '../state/ram-image.ts';

/** Decompressed chunks kept for the pages still to come (4 × 256 KiB). */
const CHUNKS_KEPT = 4;

export class LazyRam {
  /**
   * Pages still to be copied in, as a page bitmap (page-bitmap.ts): those whose newest mention in the chain
   * is a stored page (a later diff may zero a page, which a fresh memory already is). A bitmap, built with
   * a few byte operations per file, because this runs on every lazy restore (~4 KiB for 128 MiB).
   */
  private readonly pendingBits: Uint8Array;
  /** Pages still to be copied in. */
  pending = 0;

  /**
   * `images`: the RAM of a snapshot chain, the full snapshot first (snapshot.ts checked that it is one).
   * `wholeChunks`: a page's load copies in every pending page its chunk holds the newest bytes of, so that
   * each chunk is decompressed once (no chunks kept), for a VM that may touch RAM all over.
   */
  constructor(private readonly images: readonly RamImage[], private readonly wholeChunks = false) {
    const bits = this.pendingBits = images[0].stored.slice();
    for (const img of images.slice(1)) {
      const s = img.stored, z = img.zeroed;
      for (let i = 0; i < bits.length; i++) bits[i] = (bits[i] & ~z[i]) | s[i];
    }
    this.pending = countPages(bits);
  }

  isPending(page: number): boolean { return (this.pendingBits[page >>> 3] & (1 << (page & 7))) !== 0; }

  /** Decompressed chunks kept, newest last: key (file index << 32 | chunk) → the chunk's pages' bytes. */
  private readonly chunks = new Map<number, { pages: Uint32Array; bytes: Uint8Array }>();

  /**
   * Copy pending page `page` into `ram`. Throws SnapshotError for a chunk that does not decompress (only a
   * crafted file with a valid checksum can have one).
   */
  load(page: number, ram: Uint8Array): void {
    if (!this.isPending(page)) return;
    // The newest file that stores the page holds its bytes (none after it zeroes it: it is pending).
    let k = this.images.length - 1;
    while (!this.images[k].isStored(page)) k--;
    if (this.wholeChunks) { this.loadChunk(k, this.images[k].chunkOf(page), ram); return; }
    const { pages, bytes } = this.chunk(k, this.images[k].chunkOf(page));
    let lo = 0, hi = pages.length - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (pages[mid] < page) lo = mid + 1; else hi = mid; }
    ram.set(bytes.subarray(lo * PAGE_SIZE, (lo + 1) * PAGE_SIZE), page * PAGE_SIZE);
    this.pendingBits[page >>> 3] &= ~(1 << (page & 7));
    if (--this.pending === 0) this.chunks.clear();
  }

  /** Copy in the pending pages chunk `c` of file `file` holds the newest bytes of (no later file stores them). */
  private loadChunk(file: number, c: number, ram: Uint8Array): void {
    const img = this.images[file], pages = img.chunkPages(c), bytes = img.readChunk(c), last = this.images.length - 1;
    for (let i = 0; i < pages.length; i++) {
      const p = pages[i];
      if (!this.isPending(p)) continue;
      let newer = false;
      for (let j = file + 1; j <= last && !newer; j++) newer = this.images[j].isStored(p);
      if (newer) continue;
      ram.set(bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), p * PAGE_SIZE);
      this.pendingBits[p >>> 3] &= ~(1 << (p & 7));
      this.pending--;
    }
  }

  private chunk(file: number, c: number): { pages: Uint32Array; bytes: Uint8Array } {
    const key = file * 2 ** 32 + c;
    let hit = this.chunks.get(key);
    if (hit !== undefined) { this.chunks.delete(key); this.chunks.set(key, hit); return hit; }
    const img = this.images[file];
    hit = { pages: img.chunkPages(c), bytes: img.readChunk(c, true) };
    this.chunks.set(key, hit);
    if (this.chunks.size > CHUNKS_KEPT) this.chunks.delete(this.chunks.keys().next().value!);
    return hit;
  }

  /** Copy every pending page in (before RAM is read whole: a full snapshot, migration, compiled code without paging). */
  loadAll(ram: Uint8Array): void {
    const bits = this.pendingBits;
    for (let i = 0; i < bits.length && this.pending > 0; i++) {
      for (let b = bits[i]; b !== 0; b &= b - 1) this.load((i << 3) | (31 - Math.clz32(b & -b)), ram);
    }
  }
}
