// The compressions a snapshot may use for its RAM chunks and its other sections: raw DEFLATE (RFC 1951: no
// zlib or gzip wrapper, whose checksums the file's SHA-256 makes redundant) and Brotli (RFC 7932), both
// from node:zlib where the platform has it (codecs.ts: x86jit/node; node-codecs.ts). Decompression is told
// the exact size the file declares and fails beyond it, so a crafted stream (a "zip bomb") cannot make the
// reader allocate more than the declared size plus one output buffer of at most 1 MiB.
import { snapshotCodecs } from './codecs.ts';

/** How a chunk or section is stored. */
export type Compression = 'none' | 'deflate' | 'brotli';

/** The byte that names each compression in the file. */
export const COMPRESSION_CODES: Record<Compression, number> = { none: 0, deflate: 1, brotli: 2 };
const BY_CODE: readonly Compression[] = ['none', 'deflate', 'brotli'];

/** The compression a code names, or undefined for an unknown code. */
export const compressionOf = (code: number): Compression | undefined => BY_CODE[code];

/** Levels accepted per compression (zlib's own ranges; 'none' takes none). */
export const LEVELS: Record<Compression, { min: number; max: number }> = {
  none: { min: 0, max: 0 },
  deflate: { min: 0, max: 9 },
  brotli: { min: 0, max: 11 },
};

/** Does this platform compress with `method` (x86jit/node: yes; the core alone: only 'none')? */
export const canCompress = (method: Compression): boolean => method === 'none' || snapshotCodecs().compress !== undefined;

/** Why `method` cannot be used here (canCompress is false). */
export const cannotCompress = (method: Compression): string => `${method} compression needs node:zlib, which ${snapshotCodecs().name} does not have (import x86jit/node, or save with compression 'none')`;

/** `raw` compressed with `method` at `level` (canCompress(method) must hold). */
export function compress(raw: Uint8Array, method: Exclude<Compression, 'none'>, level: number): Uint8Array {
  const c = snapshotCodecs();
  if (c.compress === undefined) throw new Error(cannotCompress(method));
  return c.compress(raw, method, level);
}

/**
 * `stored` decompressed with `method`, which must give exactly `size` bytes (≥ 1) and use every stored
 * byte. Returns a one-line reason instead when it does not (damaged stream, wrong size, trailing bytes),
 * worded to follow the name of what was decompressed ("RAM chunk 3 decompresses to …").
 */
export function decompress(stored: Uint8Array, method: Exclude<Compression, 'none'>, size: number): Uint8Array | string {
  const c = snapshotCodecs();
  if (c.decompress === undefined) return `is ${method}-compressed: ${cannotCompress(method)}`;
  return c.decompress(stored, method, size);
}

/** A message squeezed onto one line. */
export const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
