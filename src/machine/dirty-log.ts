// Dirty-page logging (KVM's KVM_MEM_LOG_DIRTY_PAGES / KVM_GET_DIRTY_LOG, QEMU's TLB_NOTDIRTY): which RAM
// pages the guest or the host wrote since the log was started or last taken. Incremental snapshots store
// those pages; live migration's pre-copy rounds resend them.
//
// It costs the store fast paths nothing. A page is *armed* by setting PAGE_DIRTY_LOG in its page flag and
// CODE_ARMED in every one of its code-map bytes: every store path already leaves its fast path when those
// bytes are non-zero (the interpreter's writeLin* when the page flag and the chunk are, compiled code's
// guard when a chunk is, the bulk REP paths when a page flag is). The slow path they all reach
// (PhysicalMemory.write/write8/writeBytes/logWrite) records the page in the bitmap and disarms it, then does
// the code-invalidation work as before, which looks at bit 0 (PAGE_HAS_CODE, CODE_CHUNK_HAS_CODE) only.
// Later stores to the page run at full speed until the log is taken, which re-arms exactly the pages it
// returns (take and re-protect in one step: no write between the two can be lost).
//
// Invariant while logging: every RAM page is armed, or in the bitmap (written since the last start/take).
import { PAGE_SHIFT } from '../cpu/state.ts';

/** Page flag bit: the page is armed for the dirty log (its first store takes the slow path and records it). */
export const PAGE_DIRTY_LOG = 2;
/** Code-map byte bits: bit 0, a decoded block overlaps the chunk; bit 1, the chunk's page is armed. */
export const CODE_CHUNK_HAS_CODE = 1, CODE_CHUNK_ARMED = 2;
/** Code-map bytes (64-byte chunks) per page, and the 32-bit words they make. */
const CHUNKS_PER_PAGE = 64, WORDS_PER_PAGE = CHUNKS_PER_PAGE / 4;
const ARMED_WORD = 0x02020202;
/** PAGE_DIRTY_LOG in each of four page flags. */
const ARMED_FLAGS_WORD = PAGE_DIRTY_LOG * 0x01010101;

/**
 * A set of RAM pages as a bitmap: bit (p & 31) of word p >>> 5 is page p (4 KiB, guest-physical address
 * p << 12). This is what a diff snapshot stores; `new DirtyPages(bitmap, pageCount)` rebuilds one.
 */
export class DirtyPages implements Iterable<number> {
  /** Pages in the set. */
  readonly count: number;

  constructor(readonly bitmap: Uint32Array, readonly pageCount: number, count?: number) {
    if (bitmap.length !== (pageCount + 31) >>> 5) throw new RangeError(`a bitmap of ${pageCount} pages has ${(pageCount + 31) >>> 5} words, got ${bitmap.length}`);
    this.count = count ?? popcount(bitmap);
  }

  has(page: number): boolean {
    return page >= 0 && page < this.pageCount && (this.bitmap[page >>> 5] & (1 << (page & 31))) !== 0;
  }

  /** The page numbers in ascending order. */
  *[Symbol.iterator](): IterableIterator<number> {
    const bits = this.bitmap;
    for (let w = 0; w < bits.length; w++) {
      for (let v = bits[w]; v !== 0; v &= v - 1) yield (w << 5) | (31 - Math.clz32(v & -v));
    }
  }

  /** The page numbers as an array (ascending). */
  pages(): number[] { return [...this]; }
}

function popcount(bits: Uint32Array): number {
  let n = 0;
  for (let w = 0; w < bits.length; w++) {
    let v = bits[w] - ((bits[w] >>> 1) & 0x55555555);
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    n += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
  }
  return n;
}

/** The log of one PhysicalMemory's RAM (memory.ts owns it and calls mark/markPage from its write paths). */
export class DirtyLog {
  /** True between start() and stop(). */
  active = false;
  private bits: Uint32Array;
  private count = 0;
  private readonly pages: number;
  private readonly flagWords: Uint32Array;

  /**
   * @param pageFlags one byte per RAM page (memory.ts's pageFlags)
   * @param codeWords the code map (64 bytes per page) as 32-bit words: 16 per page
   */
  constructor(private readonly pageFlags: Uint8Array, private readonly codeWords: Uint32Array) {
    this.pages = pageFlags.length;
    // The page flags four at a time where they are 4-byte aligned (memory.ts's are), for start()/stop().
    this.flagWords = pageFlags.byteOffset % 4 === 0 ? new Uint32Array(pageFlags.buffer, pageFlags.byteOffset, this.pages >>> 2) : new Uint32Array(0);
    if (codeWords.length !== this.pages * WORDS_PER_PAGE) throw new RangeError('code map and page flags disagree on the RAM size');
    this.bits = new Uint32Array((this.pages + 31) >>> 5);
  }

  /** Arm every page and empty the set: from now on every page written is recorded. */
  start(deferCodeMap = false): void {
    // A restore starts the log on every fresh VM (snapshot-tracker.ts): 32,768 pages for 128 MiB, set a
    // word of four flags at a time (a byte loop cost ~0.3 ms of a 5 ms restore before V8 optimised it).
    const flags = this.pageFlags, words = this.flagWords;
    for (let i = 0; i < words.length; i++) words[i] |= ARMED_FLAGS_WORD;
    for (let p = words.length * 4; p < flags.length; p++) flags[p] |= PAGE_DIRTY_LOG;
    this.codeMapDeferred = deferCodeMap;
    if (!deferCodeMap) this.armCodeMap();
    this.bits.fill(0);
    this.count = 0;
    this.active = true;
  }

  /**
   * start(true) armed the page flags only, leaving the code map (one byte per 64 bytes of RAM: 2 MiB for
   * 128 MiB, whose first touch costs the host ~7 ms of page faults) for later. That is enough while every
   * store takes the slow path, which tests the page flag: during a lazy restore (memory.ts), before
   * compiled code runs. completeArming() arms the code map of every page still armed; memory.ts calls it
   * before any store may take a fast path again.
   */
  private codeMapDeferred = false;

  completeArming(): void {
    if (!this.codeMapDeferred) return;
    this.codeMapDeferred = false;
    if (this.active) this.armCodeMap();
  }

  /** Arm the code map of every page whose flag is armed. */
  private armCodeMap(): void {
    const flags = this.pageFlags, words = this.codeWords;
    for (let p = 0; p < flags.length; p++) {
      if ((flags[p] & PAGE_DIRTY_LOG) === 0) continue;
      for (let i = p * WORDS_PER_PAGE, end = i + WORDS_PER_PAGE; i < end; i++) words[i] |= ARMED_WORD;
    }
  }

  /** The pages written since start() or the previous take(); re-arms exactly those. */
  take(): DirtyPages {
    if (!this.active) throw new Error('the dirty log is not started');
    const out = new DirtyPages(this.bits, this.pages, this.count);
    const bits = this.bits;
    for (let w = 0; w < bits.length; w++) {
      for (let v = bits[w]; v !== 0; v &= v - 1) this.arm((w << 5) | (31 - Math.clz32(v & -v)));
    }
    this.bits = new Uint32Array(bits.length);
    this.count = 0;
    return out;
  }

  /** Disarm every page and end logging; returns the pages written since start() or the last take(). */
  stop(): DirtyPages {
    const out = new DirtyPages(this.bits, this.pages, this.count);
    if (this.active) {
      const flags = this.pageFlags, words = this.codeWords, flagWords = this.flagWords;
      for (let i = 0; i < flagWords.length; i++) flagWords[i] &= ~ARMED_FLAGS_WORD;
      for (let p = flagWords.length * 4; p < flags.length; p++) flags[p] &= ~PAGE_DIRTY_LOG;
      for (let i = 0; i < words.length; i++) words[i] &= ~ARMED_WORD;
    }
    this.bits = new Uint32Array(this.bits.length);
    this.count = 0;
    this.active = false;
    return out;
  }

  /** RAM bytes [phys, phys + length) (length ≥ 1, inside RAM) are being written: record and disarm their armed pages. */
  mark(phys: number, length: number): void {
    const flags = this.pageFlags;
    for (let p = phys >>> PAGE_SHIFT, last = (phys + length - 1) >>> PAGE_SHIFT; p <= last; p++) {
      if ((flags[p] & PAGE_DIRTY_LOG) !== 0) this.markPage(p);
    }
  }

  /** Page `p` (armed) is being written: record it and let later stores to it take the fast path. */
  markPage(p: number): void {
    const bit = 1 << (p & 31);
    if ((this.bits[p >>> 5] & bit) === 0) { this.bits[p >>> 5] |= bit; this.count++; }
    this.pageFlags[p] &= ~PAGE_DIRTY_LOG;
    const words = this.codeWords;
    for (let i = p * WORDS_PER_PAGE, end = i + WORDS_PER_PAGE; i < end; i++) words[i] &= ~ARMED_WORD;
  }

  private arm(p: number): void {
    this.pageFlags[p] |= PAGE_DIRTY_LOG;
    const words = this.codeWords;
    for (let i = p * WORDS_PER_PAGE, end = i + WORDS_PER_PAGE; i < end; i++) words[i] |= ARMED_WORD;
  }
}
