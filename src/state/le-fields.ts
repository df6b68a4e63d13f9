// Little-endian 64-bit length and offset fields as JavaScript numbers. Lengths are u64 in the file because
// a snapshot of 3 GiB of RAM stored uncompressed, plus its other sections, can pass 4 GiB; numbers are exact
// up to 2^53, far beyond any file Node can hold, and a larger field value still compares as too large.

/** The u64 at `at`, as a number (exact below 2^53). */
export const readU64 = (view: DataView, at: number): number =>
  view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;

/** Writes `n` (a safe non-negative integer) as a u64 at `at`. */
export function writeU64(view: DataView, at: number, n: number): void {
  view.setUint32(at, n >>> 0, true);
  view.setUint32(at + 4, Math.floor(n / 2 ** 32), true);
}

/** A DataView over exactly the bytes of `bytes`. */
export const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
