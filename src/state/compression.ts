// The compressions a snapshot may use for its RAM chunks and its other sections, all from node:zlib:
// raw DEFLATE (RFC 1951: no zlib or gzip wrapper, whose checksums the file's SHA-256 makes redundant) and
// Brotli (RFC 7932). Decompression is told the exact size the file declares and fails beyond it, so a
// crafted stream (a "zip bomb") cannot make the reader allocate more than the declared size plus one
// output buffer of at most 1 MiB.
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib';

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

/** The largest output buffer decompression allocates at once. */
const OUTPUT_BUFFER = 1 << 20;

/** `raw` compressed with `method` at `level`. */
export function compress(raw: Uint8Array, method: Exclude<Compression, 'none'>, level: number): Uint8Array {
  // One output buffer the size of the input, as in decompress(): compressing a 1 MiB chunk of code, random
  // and repetitive bytes took brotli 1 10.1 ms with zlib's 16 KiB default and 3.5 ms so (deflate 1: 21.7 → 16.4).
  const chunkSize = Math.max(64, Math.min(raw.byteLength, OUTPUT_BUFFER));
  if (method === 'deflate') return deflateRawSync(raw, { level, chunkSize });
  return brotliCompressSync(raw, { chunkSize, params: { [constants.BROTLI_PARAM_QUALITY]: level, [constants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength } });
}

/**
 * `stored` decompressed with `method`, which must give exactly `size` bytes (≥ 1) and use every stored
 * byte. Returns a one-line reason instead when it does not (damaged stream, wrong size, trailing bytes),
 * worded to follow the name of what was decompressed ("RAM chunk 3 decompresses to …").
 */
export function decompress(stored: Uint8Array, method: Exclude<Compression, 'none'>, size: number): Uint8Array | string {
  // One output buffer for a whole chunk: inflating a 1 MiB chunk took 8.3 ms with zlib's 16 KiB default
  // (many buffers, then a concatenation) and 0.9 ms with one (brotli: 1.2 → 1.0 ms). 64 is zlib's minimum.
  const opts = { maxOutputLength: size, chunkSize: Math.max(64, Math.min(size, OUTPUT_BUFFER)), info: true } as const;
  let out: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    out = (method === 'deflate' ? inflateRawSync(stored, opts) : brotliDecompressSync(stored, opts)) as unknown as typeof out;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (err.code === 'ERR_BUFFER_TOO_LARGE') return `decompresses to more than the ${size} bytes declared`;
    return `is not valid ${method} data (${oneLine(err.message ?? String(e))})`;
  }
  if (out.buffer.byteLength !== size) return `decompresses to ${out.buffer.byteLength} bytes, not the ${size} declared`;
  if (out.engine.bytesWritten !== stored.byteLength) return `has ${stored.byteLength - out.engine.bytesWritten} bytes after its ${method} stream`;
  return out.buffer;
}

/** A message squeezed onto one line. */
export const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();
