// Sets of guest pages as bitmaps: bit (p & 7) of byte (p >> 3) is page p, the lowest bit first. The
// snapshot file stores its page sets this way, and the encoder takes the pages written since a base in
// the same shape, so a dirty log can be handed over without conversion.

/** Bytes of a bitmap over `pageCount` pages. */
export const bitmapBytes = (pageCount: number): number => (pageCount + 7) >>> 3;

/** A bitmap over `pageCount` pages with the given pages set (each must be in range). */
export function pageBitmap(pageCount: number, pages: Iterable<number>): Uint8Array {
  const bits = new Uint8Array(bitmapBytes(pageCount));
  for (const p of pages) {
    if (!Number.isInteger(p) || p < 0 || p >= pageCount) throw new RangeError(`page ${p} is outside 0..${pageCount - 1}`);
    bits[p >>> 3] |= 1 << (p & 7);
  }
  return bits;
}

/** Is page p in the set? */
export const hasPage = (bits: Uint8Array, p: number): boolean => (bits[p >>> 3] & (1 << (p & 7))) !== 0;

/** Set bits in each byte value. */
const BITS_IN_BYTE = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let v = b; v !== 0; v &= v - 1) n++;
  return n;
});

/** How many pages the set holds. */
export function countPages(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) n += BITS_IN_BYTE[bits[i]];
  return n;
}

/**
 * How many pages the set holds, writing into `firsts[k]` the page of rank k·n (the first page of each run of
 * n pages, in ascending order) while k < firsts.length: the first page of each RAM chunk, in the one pass
 * over the bitmap a restore makes (no call per page).
 */
export function countPagesMarkingEvery(bits: Uint8Array, n: number, firsts: Uint32Array): number {
  let rank = 0, next = 0;
  for (let i = 0; i < bits.length; i++) {
    const byte = bits[i];
    if (byte === 0) continue;
    const count = BITS_IN_BYTE[byte];
    if (rank + count > next && next / n < firsts.length) {
      for (let b = byte, r = rank; b !== 0; b &= b - 1, r++) {
        if (r === next) { if (next / n < firsts.length) firsts[next / n] = (i << 3) | (31 - Math.clz32(b & -b)); next += n; }
      }
    }
    rank += count;
  }
  return rank;
}

/** Does the bitmap set a bit at or beyond `pageCount` (in the padding of its last byte)? */
export function hasPaddingBits(bits: Uint8Array, pageCount: number): boolean {
  return (pageCount & 7) !== 0 && (bits[bits.length - 1] >>> (pageCount & 7)) !== 0;
}

/** Do two bitmaps of the same length share a page? */
export function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] & b[i]) !== 0) return true;
  return false;
}

/** The pages of the set in ascending order, calling `visit` for each (whole zero bytes are skipped). */
export function forEachPage(bits: Uint8Array, visit: (page: number) => void): void {
  for (let i = 0; i < bits.length; i++) {
    for (let b = bits[i]; b !== 0; b &= b - 1) visit((i << 3) | (31 - Math.clz32(b & -b)));
  }
}
