// Snapshot codecs from Node (codecs.ts): SHA-256 from node:crypto, CRC-32, raw DEFLATE and Brotli from node:zlib.
// x86jit/node (src/node.ts) installs them when it is imported.
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import type { CompressionMethod, SnapshotCodecs } from './codecs.ts';
import { oneLine } from './compression.ts';
import { crc32 as portableCrc32 } from './crc32.ts';

/** The largest output buffer decompression allocates at once. */
const OUTPUT_BUFFER = 1 << 20;

/** `raw` compressed with `method` at `level`. */
function compress(raw: Uint8Array, method: CompressionMethod, level: number): Uint8Array {
  // One output buffer the size of the input, as in decompress(): compressing a 1 MiB chunk of code, random
  // and repetitive bytes took brotli 1 10.1 ms with zlib's 16 KiB default and 3.5 ms so (deflate 1: 21.7 → 16.4).
  const chunkSize = Math.max(64, Math.min(raw.byteLength, OUTPUT_BUFFER));
  if (method === 'deflate') return deflateRawSync(raw, { level, chunkSize });
  // The window no larger than the input: the stream's header says it, and the decoder allocates its ring
  // buffer by it. A 64-page chunk (256 KiB) decompressed in 0.8 ms with an 18-bit window against 2.0 ms with
  // the default 22 bits (4 MiB), to the same bytes: a lazy restore's first instruction waits for one.
  const lgwin = Math.min(constants.BROTLI_MAX_WINDOW_BITS, Math.max(constants.BROTLI_MIN_WINDOW_BITS, Math.ceil(Math.log2(Math.max(1, raw.byteLength)))));
  return brotliCompressSync(raw, {
    chunkSize,
    params: { [constants.BROTLI_PARAM_QUALITY]: level, [constants.BROTLI_PARAM_SIZE_HINT]: raw.byteLength, [constants.BROTLI_PARAM_LGWIN]: lgwin },
  });
}

/**
 * `stored` decompressed with `method`, which must give exactly `size` bytes (≥ 1) and use every stored
 * byte. Returns a one-line reason instead when it does not (damaged stream, wrong size, trailing bytes),
 * worded to follow the name of what was decompressed ("RAM chunk 3 decompresses to …").
 */
function decompress(stored: Uint8Array, method: CompressionMethod, size: number): Uint8Array | string {
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

export const NODE_CODECS: SnapshotCodecs = {
  name: 'x86jit/node',
  sha256: (bytes) => createHash('sha256').update(bytes).digest(),
  // zlib.crc32 came in Node 20.15 (~6 GB/s here, against ~1.5 for SHA-256); before it, the portable one.
  crc32: typeof (zlib as { crc32?: unknown }).crc32 === 'function'
    ? (bytes, value = 0) => (zlib as unknown as { crc32(b: Uint8Array, v: number): number }).crc32(bytes, value)
    : portableCrc32,
  compress,
  decompress,
};
