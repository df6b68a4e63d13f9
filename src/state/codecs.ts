// What snapshot files need from the platform: SHA-256 (a file's id and checksum), CRC-32 (the checksums a
// lazy restore checks: snapshot-file.ts) and the compressions of
// compression.ts. Browsers have neither synchronous compression nor a synchronous digest, so the core
// runs with the portable codecs — SHA-256 in JavaScript, no compression ('none' is the default then, and a
// compressed file is refused in one line) — and x86jit/node installs node:crypto's and node:zlib's
// (node-codecs.ts) when it is imported.
import { crc32 } from './crc32.ts';
import { sha256 } from './sha256.ts';

export type CompressionMethod = 'deflate' | 'brotli';

export interface SnapshotCodecs {
  /** Where these codecs come from, for messages ("x86jit/node"). */
  readonly name: string;
  sha256(bytes: Uint8Array): Uint8Array;
  /** CRC-32 (zlib's) of `bytes`, continuing from `value` (the CRC-32 of the bytes before them; 0 to start). */
  crc32(bytes: Uint8Array, value?: number): number;
  /** `raw` compressed with `method` at `level`; absent: no compression here. */
  compress?(raw: Uint8Array, method: CompressionMethod, level: number): Uint8Array;
  /** compression.ts's decompress(); absent with compress. */
  decompress?(stored: Uint8Array, method: CompressionMethod, size: number): Uint8Array | string;
}

/** The codecs every platform has. */
export const PORTABLE_CODECS: SnapshotCodecs = { name: 'the core entry', sha256, crc32 };

let codecs: SnapshotCodecs = PORTABLE_CODECS;

/** Use `c` from now on (process-wide; x86jit/node calls this when imported). */
export function setSnapshotCodecs(c: SnapshotCodecs): void { codecs = c; }

export function snapshotCodecs(): SnapshotCodecs { return codecs; }
