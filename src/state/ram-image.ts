// The RAM section of a snapshot, read: validated whole when the snapshot is opened (sizes, counts, the
// bitmaps against the index, every chunk inside the section), while chunks are decompressed only when
// asked for — all at once by applyTo(), or one at a time by applyChunk() for a lazy restore that fills a
// page's chunk when the guest first touches it. The byte layout is the 'RAM ' table in snapshot-file.ts.
import { MAX_RAM, PAGE_SIZE } from '../cpu/state.ts';
import { type Compression, compressionOf } from './compression.ts';
import { chunkKey, decompressShared } from './chunk-cache.ts';
import { readU64, viewOf } from './le-fields.ts';
import { bitmapBytes, countPages, countPagesMarkingEvery, forEachPage, hasPage, hasPaddingBits, overlaps } from './page-bitmap.ts';
import { snapshotCodecs } from './codecs.ts';
import { MAX_PAGES_PER_CHUNK, RAM_CRC_VERSION, RAM_HEADER_SIZE, ramCrcBytes } from './ram-section.ts';
import { SnapshotError } from './snapshot-error.ts';

/** Options of RamImage.applyTo(). */
export interface ApplyOptions {
  /**
   * The target is known to be all zero (a fresh WebAssembly.Memory): a full snapshot's absent pages are
   * then left alone instead of cleared, which spares touching (and faulting in) memory the guest never used.
   */
  targetIsZero?: boolean;
}

/** A snapshot's guest RAM: which pages it stores or zeroes, and their bytes on demand. */
export class RamImage {
  /** RAM bytes (a multiple of 4096, at most 3 GiB). */
  readonly size: number;
  readonly pageCount: number;
  /** Pages stored in the file (bitmap, page-bitmap.ts). Full: every other page is zero. */
  readonly stored: Uint8Array;
  /** Diff only: pages that became all zero since the base (bitmap; empty set in a full snapshot). Other pages not stored are unchanged. */
  readonly zeroed: Uint8Array;
  readonly storedCount: number;
  readonly zeroedCount: number;
  readonly compression: Compression;
  readonly pagesPerChunk: number;
  readonly chunkCount: number;
  private readonly diff: boolean;
  private readonly body: Uint8Array;
  /** Chunk c's stored bytes are body[chunkStart[c], chunkStart[c + 1]). */
  private readonly chunkStart: Float64Array;
  /** The first (lowest) page of each chunk, ascending: chunkOf() searches it. */
  private readonly chunkFirstPage: Uint32Array;
  /** Per chunk, once read: its chunk-cache key ('' for a chunk stored uncompressed), its CRC checked. */
  private readonly chunkKeys: (string | undefined)[] = [];
  /**
   * Version 2: where the CRC-32 of each chunk lies in the body (then the file's CRC-32); -1 in version 1,
   * which has none.
   */
  readonly crcAt: number;
  /** The section's layout version (1, or 2 with CRC-32s). */
  readonly version: number;
  /** Check each chunk's CRC-32 before it is decompressed (set by a reader that did not check the file's SHA-256). */
  checkChunks = false;

  /**
   * Reads and validates the body of a RAM section (`diff`: the file's kind; `version`: the section's, 1 or 2).
   * Throws SnapshotError.
   */
  constructor(body: Uint8Array, diff: boolean, version = RAM_CRC_VERSION) {
    const fail = (why: string): never => { throw new SnapshotError(`snapshot is damaged: RAM section ${why}`); };
    if (body.byteLength < RAM_HEADER_SIZE) fail(`has ${body.byteLength} bytes, less than its ${RAM_HEADER_SIZE}-byte header`);
    const v = viewOf(body);
    const size = readU64(v, 0), code = v.getUint8(8), reserved = v.getUint8(9), perChunk = v.getUint16(10, true);
    const storedCount = v.getUint32(12, true), zeroedCount = v.getUint32(16, true), chunkCount = v.getUint32(20, true);
    if (size % PAGE_SIZE !== 0 || size > MAX_RAM) fail(`says RAM is ${size} bytes (must be a multiple of ${PAGE_SIZE}, at most ${MAX_RAM})`);
    const compression = compressionOf(code);
    if (compression === undefined) fail(`uses unknown compression ${code}`);
    if (reserved !== 0) fail(`has reserved byte ${reserved} (must be 0)`);
    if (perChunk < 1 || perChunk > MAX_PAGES_PER_CHUNK) fail(`has ${perChunk} pages per chunk (1 to ${MAX_PAGES_PER_CHUNK})`);
    const pageCount = size / PAGE_SIZE;
    if (storedCount > pageCount) fail(`stores ${storedCount} pages of ${pageCount}`);
    if (!diff && zeroedCount !== 0) fail(`of a full snapshot zeroes ${zeroedCount} pages`);
    if (chunkCount !== Math.ceil(storedCount / perChunk)) fail(`has ${chunkCount} chunks for ${storedCount} pages of ${perChunk} per chunk`);

    const mapBytes = bitmapBytes(pageCount), indexAt = RAM_HEADER_SIZE + (diff ? 2 : 1) * mapBytes, chunksAt = indexAt + 4 * chunkCount;
    if (body.byteLength < chunksAt) fail(`has ${body.byteLength} bytes, less than its ${chunksAt} bytes of header, bitmaps and index`);
    const stored = body.subarray(RAM_HEADER_SIZE, RAM_HEADER_SIZE + mapBytes);
    const zeroed = diff ? body.subarray(RAM_HEADER_SIZE + mapBytes, indexAt) : new Uint8Array(mapBytes);
    if (hasPaddingBits(stored, pageCount) || hasPaddingBits(zeroed, pageCount)) fail(`bitmap names a page beyond its ${pageCount} pages`);
    const chunkFirstPage = new Uint32Array(chunkCount);
    const counted = countPagesMarkingEvery(stored, perChunk, chunkFirstPage);
    if (counted !== storedCount) fail(`bitmap has ${counted} stored pages, header says ${storedCount}`);
    if (diff) { // a full snapshot's zeroed set is empty by construction
      if (countPages(zeroed) !== zeroedCount) fail(`bitmap has ${countPages(zeroed)} zeroed pages, header says ${zeroedCount}`);
      if (overlaps(stored, zeroed)) fail('both stores and zeroes a page');
    }

    const chunkStart = new Float64Array(chunkCount + 1);
    chunkStart[0] = chunksAt;
    for (let c = 0; c < chunkCount; c++) {
      const length = v.getUint32(indexAt + 4 * c, true);
      const rawLength = Math.min(perChunk, storedCount - c * perChunk) * PAGE_SIZE;
      if (length === 0 || length > rawLength || (compression === 'none' && length !== rawLength))
        fail(`chunk ${c} has ${length} bytes for ${rawLength} bytes of pages${compression === 'none' ? ' stored uncompressed' : ''}`);
      chunkStart[c + 1] = chunkStart[c] + length;
    }
    const chunksEnd = version >= RAM_CRC_VERSION ? body.byteLength - ramCrcBytes(chunkCount) : body.byteLength;
    if (chunkStart[chunkCount] !== chunksEnd)
      fail(`chunks end at byte ${chunkStart[chunkCount]} of its ${body.byteLength}`);


    this.size = size; this.pageCount = pageCount; this.stored = stored; this.zeroed = zeroed;
    this.storedCount = storedCount; this.zeroedCount = zeroedCount; this.compression = compression as Compression;
    this.pagesPerChunk = perChunk; this.chunkCount = chunkCount; this.diff = diff; this.body = body;
    this.chunkStart = chunkStart; this.chunkFirstPage = chunkFirstPage;
    this.crcAt = version >= RAM_CRC_VERSION ? chunksEnd : -1;
    this.version = version;
  }

  /** Byte offsets in the body: where the chunks start and end, and (version 2) where the file's CRC-32 lies (else -1). */
  get chunkBytes(): { start: number; end: number; fileCrcAt: number } {
    const n = this.chunkCount;
    return { start: this.chunkStart[0], end: this.chunkStart[n], fileCrcAt: this.crcAt < 0 ? -1 : this.crcAt + 4 * n };
  }

  /** Is page p stored in the file? */
  isStored(p: number): boolean { return p >= 0 && p < this.pageCount && hasPage(this.stored, p); }

  /** Diff only: did page p become all zero since the base? */
  isZeroed(p: number): boolean { return p >= 0 && p < this.pageCount && hasPage(this.zeroed, p); }

  /** The chunk that holds page p, or -1 when p is not stored. */
  chunkOf(p: number): number {
    if (!this.isStored(p)) return -1;
    const first = this.chunkFirstPage;
    let lo = 0, hi = first.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (first[mid] <= p) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** The pages chunk c holds, ascending (the order of their bytes in readChunk(c)). */
  chunkPages(c: number): Uint32Array {
    this.checkChunk(c);
    const count = Math.min(this.pagesPerChunk, this.storedCount - c * this.pagesPerChunk), out = new Uint32Array(count);
    // Byte by byte, skipping the zero ones: a chunk's pages can spread over thousands of pages of RAM.
    const bits = this.stored, first = this.chunkFirstPage[c];
    let n = 0;
    for (let i = first >>> 3; n < count && i < bits.length; i++) {
      for (let b = i === first >>> 3 ? bits[i] & (0xff << (first & 7)) : bits[i]; b !== 0 && n < count; b &= b - 1) out[n++] = (i << 3) | (31 - Math.clz32(b & -b));
    }
    return out;
  }

  /**
   * The bytes of chunk c's pages, one after the other (a view into the file when stored uncompressed, or
   * bytes the thread's chunk cache shares: read them, never write into them); `keep`: a reader that may
   * come back to it (a lazy restore a page at a time) keeps it in that cache. Throws SnapshotError when the chunk does not decompress to exactly its pages.
   */
  readChunk(c: number, keep = false): Uint8Array {
    this.checkChunk(c);
    const stored = this.body.subarray(this.chunkStart[c], this.chunkStart[c + 1]);
    const rawLength = Math.min(this.pagesPerChunk, this.storedCount - c * this.pagesPerChunk) * PAGE_SIZE;
    // Checked and keyed on its first read: the file's bytes do not change.
    let key = this.chunkKeys[c];
    if (key === undefined) {
      if (this.checkChunks && snapshotCodecs().crc32(stored) !== viewOf(this.body).getUint32(this.crcAt + 4 * c, true))
        throw new SnapshotError(`snapshot is damaged: RAM chunk ${c} checksum mismatch`);
      key = this.chunkKeys[c] = stored.byteLength === rawLength || this.compression === 'none' ? '' : chunkKey(stored, this.compression, rawLength);
    }
    if (key === '') return stored;
    const raw = decompressShared(stored, this.compression as Exclude<Compression, 'none'>, rawLength, key, keep);
    if (typeof raw === 'string') throw new SnapshotError(`snapshot is damaged: RAM chunk ${c} ${raw}`);
    return raw;
  }

  /** Writes chunk c's pages into `target` (the guest RAM, this.size bytes) where they belong. */
  applyChunk(c: number, target: Uint8Array): void {
    this.checkTarget(target);
    const bytes = this.readChunk(c), pages = this.chunkPages(c);
    pages.forEach((p, i) => target.set(bytes.subarray(i * PAGE_SIZE, i * PAGE_SIZE + PAGE_SIZE), p * PAGE_SIZE));
  }

  /**
   * Makes `target` (the guest RAM, this.size bytes) hold this image: stored pages written, a diff's
   * zeroed pages cleared and its other pages left as the base had them, a full snapshot's other pages
   * cleared. Throws SnapshotError for a chunk that does not decompress (only a crafted file can have one:
   * the checksum passed); `target` is then partly written and must not be used.
   */
  applyTo(target: Uint8Array, opts: ApplyOptions = {}): void {
    this.checkTarget(target);
    for (let c = 0; c < this.chunkCount; c++) this.applyChunk(c, target);
    if (this.diff) forEachPage(this.zeroed, (p) => target.fill(0, p * PAGE_SIZE, p * PAGE_SIZE + PAGE_SIZE));
    else if (!opts.targetIsZero) this.clearAbsentPages(target);
  }

  /** Clears the runs of pages a full snapshot does not store. */
  private clearAbsentPages(target: Uint8Array): void {
    let runStart = 0;
    const clearTo = (end: number): void => { if (end > runStart) target.fill(0, runStart * PAGE_SIZE, end * PAGE_SIZE); };
    forEachPage(this.stored, (p) => { clearTo(p); runStart = p + 1; });
    clearTo(this.pageCount);
  }

  private checkChunk(c: number): void {
    if (!Number.isInteger(c) || c < 0 || c >= this.chunkCount) throw new RangeError(`chunk ${c} is not one of the ${this.chunkCount} chunks`);
  }

  private checkTarget(target: Uint8Array): void {
    if (target.byteLength !== this.size)
      throw new SnapshotError(`snapshot RAM is ${this.size} bytes; the target RAM is ${target.byteLength} bytes`);
  }
}
