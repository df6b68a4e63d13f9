// The snapshot file: a header, a directory of versioned sections, the sections, and a SHA-256 trailer.
// Each section carries its own version (as QEMU's migration sections and Firecracker's state versions do),
// so a device can change its saved fields without touching the others; the format version covers only
// the framing below and changes with any change to it (as Firecracker's MAJOR). Guest RAM is one section
// (tag 'RAM ') laid out by this layer: sparse (zero pages left out), in chunks compressed on their own so
// that a clone can decompress a chunk when the guest first touches it. Every other section is opaque bytes
// to this layer (jsonSection() makes them from plain data). Little-endian throughout.
//
// File (format version 1)
// | offset       | size | field                                                                     |
// | ------------ | ---- | ------------------------------------------------------------------------- |
// | 0            | 8    | magic 'X86JSNAP'                                                          |
// | 8            | 2    | format version (u16) = 1                                                  |
// | 10           | 2    | flags (u16): bit 0 set = diff, clear = full; other bits 0                 |
// | 12           | 4    | n, the number of sections (u32), the RAM section included                 |
// | 16           | 8    | file length in bytes (u64), the trailer included                          |
// | 24           | 32   | diff: the id (SHA-256 trailer) of the snapshot it applies to; full: zeros |
// | 56           | 32·n | section directory, one entry per section (below)                          |
// | 56 + 32·n    | …    | the sections' stored bytes, in directory order, end to end                |
// | length − 32  | 32   | SHA-256 of every byte before it: the file's id                            |
//
// Directory entry
// | offset | size | field                                                                           |
// | ------ | ---- | ------------------------------------------------------------------------------- |
// | 0      | 4    | tag: 4 ASCII characters from A-Z 0-9 and space, not starting with a space       |
// | 4      | 2    | section version (u16, ≥ 1)                                                      |
// | 6      | 1    | encoding of the stored bytes: 0 as they are, 1 raw DEFLATE, 2 Brotli            |
// | 7      | 1    | reserved, 0                                                                     |
// | 8      | 8    | offset of the stored bytes in the file (u64)                                    |
// | 16     | 8    | stored length (u64)                                                             |
// | 24     | 8    | decoded length (u64): = stored length when encoding 0; else larger, ≤ 1 GiB     |
//
// RAM section, tag 'RAM ', version 2 (1 lacks the last two rows), encoding 0 (its chunks are compressed, not the section)
// | offset          | size | field                                                                   |
// | --------------- | ---- | ----------------------------------------------------------------------- |
// | 0               | 8    | RAM size in bytes (u64): a multiple of 4096, at most 3 GiB; P = size/4096 |
// | 8               | 1    | chunk compression: 0 none, 1 raw DEFLATE, 2 Brotli                      |
// | 9               | 1    | reserved, 0                                                             |
// | 10              | 2    | N, pages per chunk (u16, 1 to 4096)                                     |
// | 12              | 4    | S, pages stored (u32)                                                   |
// | 16              | 4    | Z, pages zeroed (u32): 0 in a full snapshot                             |
// | 20              | 4    | C, chunks (u32) = ceil(S / N)                                           |
// | 24              | B    | stored-page bitmap, B = ceil(P / 8): bit p&7 of byte p>>3 is page p     |
// | 24 + B          | B    | diff only: zeroed-page bitmap (pages now all zero), disjoint from stored |
// | …               | 4·C  | stored length of each chunk (u32)                                       |
// | …               | …    | the chunks, end to end; chunk c holds stored pages c·N … min(S, c·N+N)−1 |
// |                 |      | in ascending page order; stored length = its pages' bytes means stored  |
// |                 |      | as they are, smaller means compressed, larger is refused                |
// | …               | 4·C  | CRC-32 of each chunk's stored bytes (u32)                               |
// | …               | 4    | CRC-32 of every byte of the file before its SHA-256 trailer except the   |
// |                 |      | chunks and these 4 (u32): header, directory, other sections, RAM tables  |
// A full snapshot's pages not stored are zero; a diff's pages neither stored nor zeroed are the base's.
//
// Reading checks, in order: magic, format version (a newer one is refused), length (truncation), checksum,
// then the structure (directory, section versions against what the caller reads, the RAM section's
// counts, bitmaps and index); chunks are checked when decompressed. Nothing but SnapshotError escapes.
// The checksum is the SHA-256 trailer, or, for a lazy restore (DecodeOptions.integrity 'crc32'), the
// CRC-32s: the file's after the structure, each chunk's before it is decompressed — the SHA-256 of the
// whole file cost ~1.1 ms of a restore's 5 ms for a 1.7 MiB file, these ~0.01 ms and one chunk's.
import { snapshotCodecs } from './codecs.ts';
import { canCompress, cannotCompress, type Compression, COMPRESSION_CODES, LEVELS, compress, compressionOf, decompress } from './compression.ts';
import { readU64, viewOf, writeU64 } from './le-fields.ts';
import { type ApplyOptions, RamImage } from './ram-image.ts';
import { encodeRamSection, MAX_PAGES_PER_CHUNK, RAM_SECTION_VERSION, RAM_TAG, type RamSource } from './ram-section.ts';
import { SnapshotError } from './snapshot-error.ts';

export { type Compression } from './compression.ts';
export { jsonSection, readJsonSection } from './json-section.ts';
export { pageBitmap } from './page-bitmap.ts';
export { type ApplyOptions, RamImage } from './ram-image.ts';
export { type RamSource } from './ram-section.ts';
export { SnapshotError } from './snapshot-error.ts';

/** The first 8 bytes of every snapshot file. */
export const SNAPSHOT_MAGIC = 'X86JSNAP';
/** The version of the framing this x86jit writes and the newest it reads. */
export const SNAPSHOT_FORMAT_VERSION = 1;

const HEADER_SIZE = 56, ENTRY_SIZE = 32, TRAILER_SIZE = 32, ID_SIZE = 32;
const FLAG_DIFF = 1;
/** Largest decoded size of a compressed section (the most a reader allocates for one). */
const MAX_SECTION_BYTES = 2 ** 30;
/** Sections smaller than this are stored as they are: compressing them saves nothing worth the call. */
const COMPRESS_SECTION_FROM = 256;
const TAG_PATTERN = /^[A-Z0-9][A-Z0-9 ]{3}$/;

/** One section besides RAM: a tag, the version of its layout, and bytes this layer does not interpret. */
export interface Section { tag: string; version: number; data: Uint8Array }

/** What a snapshot holds, as given to encodeSnapshot(). */
export interface SnapshotContents {
  kind: 'full' | 'diff';
  /** Diff only: snapshotId() of the snapshot it applies on top of (32 bytes). */
  baseId?: Uint8Array;
  /** Every section except RAM, tags unique. */
  sections: readonly Section[];
  ram: RamSource;
}

/** How encodeSnapshot() writes. */
export interface EncodeOptions {
  /** Compression of RAM chunks and of sections from 256 bytes (default DEFAULT_COMPRESSION). */
  compression?: Compression;
  /** The compression's level (default DEFAULT_LEVEL[compression]). */
  level?: number;
  /** Pages per RAM chunk, the unit a lazy restore decompresses (1 to 4096; default DEFAULT_PAGES_PER_CHUNK). */
  pagesPerChunk?: number;
}

/**
 * The defaults, from `node dist/snapshot-compression.js` (bench/snapshot-compression.ts: a 128 MiB guest
 * with a 3.7 MiB working set of code, text, heap records and random bytes; CPU ms, 2-core machine under load).
 * What a user waits for is the snapshot (target ≤ 50 ms) and the restore to the first instruction (≤ 5 ms).
 * Brotli 1 writes it in ~35 ms at a ratio of 2.05 (the zero scan of 128 MiB is ~20 ms of it); DEFLATE 1
 * takes 60-70 ms for 2.02; DEFLATE 6 and Brotli 4 gain 4-8 % of size for 2-3× the time; 'none' saves
 * ~10 ms for twice the bytes. No compressed RAM is restored whole in 5 ms (Brotli ~15 ms, DEFLATE ~9 ms,
 * and page faults on a fresh memory ~25 ms more), so the 5 ms is for the lazy path: open the file (its CRC-32s
 * and structure, ~0.3 ms; ~1.2 ms when it was the SHA-256), then decompress a chunk when the guest first touches it: 0.4 ms for 64 pages
 * with Brotli 1, 2 ms for 256. Hence Brotli 1 in chunks of 64 pages (256 KiB; 1 % larger than 256).
 */
export const DEFAULT_COMPRESSION: Compression = 'brotli';
/** The default level of each compression (zlib's fastest: the larger levels cost far more than they save). */
export const DEFAULT_LEVEL: Record<Compression, number> = { none: 0, deflate: 1, brotli: 1 };
/** The default pages per RAM chunk (see DEFAULT_COMPRESSION). */
export const DEFAULT_PAGES_PER_CHUNK = 64;

/** A snapshot file as decodeSnapshot() read it. */
export interface DecodedSnapshot {
  formatVersion: number;
  kind: 'full' | 'diff';
  /** This file's id: its SHA-256 trailer (a copy). */
  id: Uint8Array;
  /** Diff only: the id of the snapshot it applies on top of. */
  baseId?: Uint8Array;
  /** Every section except RAM, in file order. Data stored uncompressed is a view into the file's bytes. */
  sections: Section[];
  /**
   * Guest RAM: applyRam() writes it all, ram.applyChunk() one chunk. Its chunks are read from the file's
   * bytes when asked for, after the checksum was checked: keep those bytes unchanged while it is in use.
   */
  ram: RamImage;
}

/** Writes a snapshot file. Throws SnapshotError ("cannot write snapshot: …") for contents it cannot hold. */
export function encodeSnapshot(contents: SnapshotContents, opts: EncodeOptions = {}): Uint8Array {
  const fail = (why: string): never => { throw new SnapshotError(`cannot write snapshot: ${why}`); };
  // Without node:zlib (the core entry alone) the default is to store RAM and sections as they are.
  const compression = opts.compression ?? (canCompress(DEFAULT_COMPRESSION) ? DEFAULT_COMPRESSION : 'none');
  if (!(compression in COMPRESSION_CODES)) fail(`unknown compression '${compression}'`);
  if (!canCompress(compression)) fail(cannotCompress(compression));
  const level = opts.level ?? DEFAULT_LEVEL[compression], range = LEVELS[compression];
  if (!Number.isInteger(level) || level < range.min || level > range.max) fail(`${compression} level ${level} is not ${range.min} to ${range.max}`);
  const pagesPerChunk = opts.pagesPerChunk ?? DEFAULT_PAGES_PER_CHUNK;
  if (!Number.isInteger(pagesPerChunk) || pagesPerChunk < 1 || pagesPerChunk > MAX_PAGES_PER_CHUNK) fail(`pages per chunk ${pagesPerChunk} is not 1 to ${MAX_PAGES_PER_CHUNK}`);
  const diff = contents.kind === 'diff';
  if (!diff && contents.kind !== 'full') fail(`unknown kind '${contents.kind}'`);
  if (diff !== (contents.baseId !== undefined)) fail(diff ? 'a diff needs the id of its base' : 'a full snapshot has no base id');
  if (diff && (contents.baseId!.byteLength !== ID_SIZE || contents.baseId!.every((b) => b === 0))) fail(`a base id is ${ID_SIZE} bytes, not all zero`);

  const tags = new Set<string>();
  for (const s of contents.sections) {
    if (typeof s.tag !== 'string' || !TAG_PATTERN.test(s.tag)) fail(`section tag '${s.tag}' is not 4 characters from A-Z, 0-9 and space`);
    if (s.tag === RAM_TAG) fail('the RAM section is written from contents.ram');
    if (tags.has(s.tag)) fail(`two sections ${tagName(s.tag)}`);
    tags.add(s.tag);
    if (!Number.isInteger(s.version) || s.version < 1 || s.version > 0xffff) fail(`section ${tagName(s.tag)} version ${s.version} is not 1 to 65535`);
    if (!(s.data instanceof Uint8Array)) fail(`section ${tagName(s.tag)} data is not a Uint8Array`);
  }

  // Each entry: tag, version, encoding, stored parts, decoded length.
  const entries = contents.sections.map((s) => {
    const packed = compression !== 'none' && s.data.byteLength >= COMPRESS_SECTION_FROM && s.data.byteLength <= MAX_SECTION_BYTES
      ? compress(s.data, compression, level) : undefined;
    return packed !== undefined && packed.byteLength < s.data.byteLength
      ? { tag: s.tag, version: s.version, encoding: COMPRESSION_CODES[compression], parts: [packed], decoded: s.data.byteLength }
      : { tag: s.tag, version: s.version, encoding: 0, parts: [s.data], decoded: s.data.byteLength };
  });
  const ramParts = encodeRamSection(contents.ram, diff, { compression, level, pagesPerChunk });
  entries.push({ tag: RAM_TAG, version: RAM_SECTION_VERSION, encoding: 0, parts: ramParts, decoded: sumLengths(ramParts) });

  const bodyAt = HEADER_SIZE + ENTRY_SIZE * entries.length;
  const length = bodyAt + entries.reduce((n, e) => n + sumLengths(e.parts), 0) + TRAILER_SIZE;
  let file: Uint8Array;
  try {
    file = new Uint8Array(length);
  } catch {
    return fail(`${length} bytes do not fit in one buffer of this JavaScript engine`);
  }
  const v = viewOf(file);
  for (let i = 0; i < 8; i++) file[i] = SNAPSHOT_MAGIC.charCodeAt(i);
  v.setUint16(8, SNAPSHOT_FORMAT_VERSION, true);
  v.setUint16(10, diff ? FLAG_DIFF : 0, true);
  v.setUint32(12, entries.length, true);
  writeU64(v, 16, length);
  if (diff) file.set(contents.baseId!, 24);
  let at = bodyAt, ramAt = 0;
  entries.forEach((e, i) => {
    if (e.tag === RAM_TAG) ramAt = at;
    const entry = HEADER_SIZE + ENTRY_SIZE * i, stored = sumLengths(e.parts);
    for (let k = 0; k < 4; k++) file[entry + k] = e.tag.charCodeAt(k);
    v.setUint16(entry + 4, e.version, true);
    v.setUint8(entry + 6, e.encoding);
    writeU64(v, entry + 8, at);
    writeU64(v, entry + 16, stored);
    writeU64(v, entry + 24, e.encoding === 0 ? stored : e.decoded);
    for (const part of e.parts) { file.set(part, at); at += part.byteLength; }
  });
  const ram = new RamImage(file.subarray(ramAt, ramAt + sumLengths(ramParts)), diff);
  v.setUint32(ramAt + ram.chunkBytes.fileCrcAt, fileCrc32(file, ramAt, ram, length - TRAILER_SIZE), true);
  file.set(sha256(file.subarray(0, length - TRAILER_SIZE)), length - TRAILER_SIZE);
  return file;
}

/**
 * The CRC-32 a RAM section of version 2 ends with: of every byte of the file before its SHA-256 trailer
 * except the RAM chunks (each has its own) and the 4 bytes of this CRC-32. `ramAt`: where the RAM section starts.
 */
function fileCrc32(bytes: Uint8Array, ramAt: number, ram: RamImage, checksumAt: number): number {
  const crc32 = snapshotCodecs().crc32, { start, end, fileCrcAt } = ram.chunkBytes;
  let c = crc32(bytes.subarray(0, ramAt + start));
  c = crc32(bytes.subarray(ramAt + end, ramAt + fileCrcAt), c);
  return crc32(bytes.subarray(ramAt + fileCrcAt + 4, checksumAt), c);
}

/** How decodeSnapshot() checks that a file is undamaged. */
export interface DecodeOptions {
  /**
   * 'sha256' (default): the SHA-256 trailer over the whole file, before anything else is read. 'crc32':
   * the CRC-32s of a RAM section of version 2 — the file's other bytes now, each RAM chunk when it is read
   * (a chunk that fails throws SnapshotError then, from whatever needed it) — which costs a lazy restore
   * next to nothing, where the SHA-256 of a 1.7 MiB file cost 1.1 ms. A file the structural checks refuse
   * is then checked with SHA-256 too, so that a damaged file is still reported as a checksum mismatch; a
   * file with a RAM section of version 1 (no CRC-32s) is checked with SHA-256. The trailer is then taken as
   * the file's id unchecked: a wrong one only makes a diff of it name another base, which a chain refuses.
   */
  integrity?: 'sha256' | 'crc32';
}

/**
 * Reads and validates a snapshot file. `supported` maps each section tag the caller reads to the newest
 * version of it the caller reads; a section with another tag, or a newer version, is refused, and so is a
 * newer format. Throws SnapshotError only. RAM chunks are decompressed later (applyRam, ram.applyChunk).
 */
export function decodeSnapshot(bytes: Uint8Array, supported: Readonly<Record<string, number>>, opts: DecodeOptions = {}): DecodedSnapshot {
  const size = bytes.byteLength;
  checkMagicAndVersion(bytes);
  const length = readU64(viewOf(bytes), 16);
  if (size < length) throw new SnapshotError(`snapshot is truncated (file has ${size} bytes, header says ${length})`);
  if (size > length) throw new SnapshotError(`snapshot has extra bytes at its end (file has ${size} bytes, header says ${length})`);
  if (length < HEADER_SIZE + TRAILER_SIZE) throw new SnapshotError(`snapshot is damaged: header says the file has ${length} bytes, less than its header and checksum`);
  const checksumAt = length - TRAILER_SIZE;
  const checkSha256 = (): void => {
    if (!sameBytes(sha256(bytes.subarray(0, checksumAt)), bytes.subarray(checksumAt))) throw new SnapshotError('snapshot is damaged: checksum mismatch');
  };
  if (opts.integrity !== 'crc32') {
    checkSha256();
    return decodeStructure(bytes, supported, true);
  }
  try {
    return decodeStructure(bytes, supported, false);
  } catch (e) {
    if (e instanceof SnapshotError) checkSha256(); // damage first, as when the whole file is checked first
    throw e;
  }
}

/**
 * decodeSnapshot() after the framing's first checks. `verified`: the SHA-256 was checked; if not, the
 * CRC-32s are (or the SHA-256, for a file without them).
 */
function decodeStructure(bytes: Uint8Array, supported: Readonly<Record<string, number>>, verified: boolean): DecodedSnapshot {
  const damaged = (why: string): never => { throw new SnapshotError(`snapshot is damaged: ${why}`); };
  const v = viewOf(bytes);
  const formatVersion = v.getUint16(8, true);
  const length = bytes.byteLength, checksumAt = length - TRAILER_SIZE;
  const id = bytes.slice(checksumAt);

  const flags = v.getUint16(10, true);
  if ((flags & ~FLAG_DIFF) !== 0) damaged(`unknown flags 0x${flags.toString(16)}`);
  const diff = (flags & FLAG_DIFF) !== 0;
  const baseId = bytes.slice(24, 24 + ID_SIZE), hasBase = baseId.some((b) => b !== 0);
  if (diff && !hasBase) damaged('a diff without a base id');
  if (!diff && hasBase) damaged('a full snapshot with a base id');

  const count = v.getUint32(12, true), bodyAt = HEADER_SIZE + ENTRY_SIZE * count;
  if (bodyAt > checksumAt) damaged(`a directory of ${count} sections does not fit in ${length} bytes`);
  const entries: { tag: string; version: number; encoding: number; at: number; stored: number; decoded: number }[] = [];
  let at = bodyAt;
  for (let i = 0; i < count; i++) {
    const e = HEADER_SIZE + ENTRY_SIZE * i;
    const tag = String.fromCharCode(bytes[e], bytes[e + 1], bytes[e + 2], bytes[e + 3]);
    if (!TAG_PATTERN.test(tag)) damaged(`section ${i} has a bad tag`);
    const name = tagName(tag);
    if (entries.some((x) => x.tag === tag)) damaged(`two sections ${name}`);
    const version = v.getUint16(e + 4, true), encoding = v.getUint8(e + 6), reserved = v.getUint8(e + 7);
    const offset = readU64(v, e + 8), stored = readU64(v, e + 16), decoded = readU64(v, e + 24);
    if (version === 0) damaged(`section ${name} has version 0`);
    if (compressionOf(encoding) === undefined) damaged(`section ${name} has unknown encoding ${encoding}`);
    if (reserved !== 0) damaged(`section ${name} has reserved byte ${reserved} (must be 0)`);
    if (offset !== at) damaged(`section ${name} starts at byte ${offset}, not ${at} where the one before it ends`);
    if (stored > checksumAt - at) damaged(`section ${name} (${stored} bytes at byte ${at}) runs past the checksum at byte ${checksumAt}`);
    if (encoding === 0 ? decoded !== stored : decoded <= stored || decoded > MAX_SECTION_BYTES)
      damaged(`section ${name} declares ${decoded} decoded bytes for ${stored} stored`);
    entries.push({ tag, version, encoding, at, stored, decoded });
    at += stored;
  }
  if (at !== checksumAt) damaged(`sections end at byte ${at}, not at the checksum at byte ${checksumAt}`);

  // Versions before contents: a section from a newer x86jit is refused by name, not reported as damage.
  const ramEntries = entries.filter((e) => e.tag === RAM_TAG);
  if (ramEntries.length === 0) damaged('no RAM section');
  for (const e of entries) {
    const newest = e.tag === RAM_TAG ? RAM_SECTION_VERSION : Object.hasOwn(supported, e.tag) ? supported[e.tag] : undefined;
    if (newest === undefined) throw new SnapshotError(`snapshot has a section ${tagName(e.tag)} that this x86jit does not read`);
    if (e.version > newest) throw new SnapshotError(`snapshot section ${tagName(e.tag)} has version ${e.version}; this x86jit reads up to ${newest}`);
  }
  const ramEntry = ramEntries[0];
  if (ramEntry.encoding !== 0) damaged(`section RAM has encoding ${ramEntry.encoding} (its chunks are compressed, not the section)`);

  const sections: Section[] = [];
  for (const e of entries) {
    if (e === ramEntry) continue;
    const stored = bytes.subarray(e.at, e.at + e.stored), method = compressionOf(e.encoding)!;
    if (!canCompress(method)) throw new SnapshotError(`cannot read snapshot: section ${tagName(e.tag)} is ${method}-compressed; ${cannotCompress(method)}`);
    let data: Uint8Array | string = stored;
    if (method !== 'none') data = decompress(stored, method, e.decoded);
    if (typeof data === 'string') throw new SnapshotError(`snapshot section ${tagName(e.tag)} is damaged: it ${data}`);
    sections.push({ tag: e.tag, version: e.version, data });
  }
  const ram = new RamImage(bytes.subarray(ramEntry.at, ramEntry.at + ramEntry.stored), diff, ramEntry.version);
  if (!verified) {
    if (ram.crcAt < 0) {
      if (!sameBytes(sha256(bytes.subarray(0, checksumAt)), id)) damaged('checksum mismatch');
    } else {
      if (fileCrc32(bytes, ramEntry.at, ram, checksumAt) !== v.getUint32(ramEntry.at + ram.chunkBytes.fileCrcAt, true)) damaged('checksum mismatch');
      ram.checkChunks = true;
    }
  }
  if (!canCompress(ram.compression)) throw new SnapshotError(`cannot read snapshot: its RAM is ${ram.compression}-compressed; ${cannotCompress(ram.compression)}`);
  return { formatVersion, kind: diff ? 'diff' : 'full', id, ...(diff ? { baseId } : {}), sections, ram };
}

/**
 * Makes `target` (guest RAM, exactly the snapshot's RAM size) hold the snapshot's RAM: for a diff, onto
 * the base's RAM already in `target`. Throws SnapshotError (a wrong-sized target, a damaged chunk).
 */
export function applyRam(snapshot: DecodedSnapshot, target: Uint8Array, opts?: ApplyOptions): void {
  snapshot.ram.applyTo(target, opts);
}

/**
 * A snapshot file's id, the 32 bytes a diff names its base by: its SHA-256 trailer (a copy). Checks only
 * the magic and the length, not the checksum: for a file just written or already decoded.
 */
export function snapshotId(bytes: Uint8Array): Uint8Array {
  checkMagicAndVersion(bytes);
  const length = readU64(viewOf(bytes), 16);
  if (length !== bytes.byteLength || length < HEADER_SIZE + TRAILER_SIZE)
    throw new SnapshotError(`snapshot is truncated (file has ${bytes.byteLength} bytes, header says ${length})`);
  return bytes.slice(length - TRAILER_SIZE);
}

/** The first checks of any reading: the magic, a format version this x86jit reads, a whole fixed header. */
function checkMagicAndVersion(bytes: Uint8Array): void {
  const size = bytes.byteLength;
  if (size === 0) throw new SnapshotError('not an x86jit snapshot (empty file)');
  for (let i = 0; i < Math.min(8, size); i++)
    if (bytes[i] !== SNAPSHOT_MAGIC.charCodeAt(i)) throw new SnapshotError('not an x86jit snapshot (bad magic)');
  const truncated = (): never => { throw new SnapshotError(`snapshot is truncated (file has ${size} bytes, less than its ${HEADER_SIZE}-byte header)`); };
  if (size < 10) truncated();
  const version = bytes[8] | (bytes[9] << 8);
  if (version === 0) throw new SnapshotError('snapshot is damaged: format version 0');
  if (version > SNAPSHOT_FORMAT_VERSION) throw new SnapshotError(`snapshot format version ${version} is newer than this x86jit reads (${SNAPSHOT_FORMAT_VERSION})`);
  if (size < HEADER_SIZE) truncated();
}

/** A tag as messages show it (trailing spaces dropped: 'RAM ' is RAM). */
const tagName = (tag: string): string => tag.trimEnd();

const sumLengths = (parts: readonly Uint8Array[]): number => parts.reduce((n, p) => n + p.byteLength, 0);

const sha256 = (bytes: Uint8Array): Uint8Array => snapshotCodecs().sha256(bytes);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
