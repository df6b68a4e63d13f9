// The RAM section of a snapshot, written: which pages are stored, which a diff zeroes, and the stored
// pages in chunks that are each compressed on their own, so that a reader can decompress just the chunk
// holding a page the guest touches first (lazy restore). The byte layout is the 'RAM ' table in
// snapshot-file.ts; ram-image.ts reads it.
import { MAX_RAM, PAGE_SIZE } from '../cpu/state.ts';
import { snapshotCodecs } from './codecs.ts';
import { type Compression, COMPRESSION_CODES, compress } from './compression.ts';
import { writeU64, viewOf } from './le-fields.ts';
import { bitmapBytes, forEachPage, hasPaddingBits } from './page-bitmap.ts';
import { SnapshotError } from './snapshot-error.ts';
import { zeroPageTest } from './zero-page.ts';

/**
 * The RAM section's tag and the version of its layout this x86jit writes (and the newest it reads). Version 2
 * added the checksums after the chunks (snapshot-file.ts); version 1 files are still read.
 */
export const RAM_TAG = 'RAM ', RAM_SECTION_VERSION = 2;
/** The first RAM section version with the CRC-32 trailer (a CRC-32 per chunk, then the file's). */
export const RAM_CRC_VERSION = 2;
/** Bytes of the CRC-32 trailer of a RAM section of version 2 with `chunks` chunks. */
export const ramCrcBytes = (chunks: number): number => 4 * chunks + 4;
/** Bytes of the RAM section's fixed header (before its bitmaps). */
export const RAM_HEADER_SIZE = 24;
/** Bounds of pages per chunk: a chunk decompresses to at most 16 MiB, so its stored length fits a u32. */
export const MAX_PAGES_PER_CHUNK = 4096;

/** Guest RAM as the encoder reads it. */
export interface RamSource {
  /** The whole guest RAM, page p at byte p * 4096: a view into the VM's memory, read in place (never copied whole). */
  bytes: Uint8Array;
  /**
   * The pages written since the base, as a page bitmap (page-bitmap.ts). A diff needs it and stores
   * exactly these pages (one now all zero as a bit of the zeroed bitmap). A full snapshot may give the
   * pages written since power-on: pages outside it are known zero and not even read, which spares the
   * host a page fault for every page the guest never touched.
   */
  written?: Uint8Array;
}

/** How the RAM section is written. */
export interface RamEncoding { compression: Compression; level: number; pagesPerChunk: number }

/**
 * The RAM section's bytes, as parts to be laid end to end (chunks are not copied into one buffer here). The
 * last part ends with the file's CRC-32 as 0: snapshot-file.ts fills it in once the whole file is laid out.
 */
export function encodeRamSection(ram: RamSource, diff: boolean, enc: RamEncoding): Uint8Array[] {
  const fail = (why: string): never => { throw new SnapshotError(`cannot write snapshot: ${why}`); };
  const { bytes, written } = ram;
  if (bytes.byteLength % PAGE_SIZE !== 0 || bytes.byteLength > MAX_RAM)
    fail(`RAM of ${bytes.byteLength} bytes is not a multiple of ${PAGE_SIZE} up to ${MAX_RAM}`);
  const pageCount = bytes.byteLength / PAGE_SIZE, mapBytes = bitmapBytes(pageCount);
  if (diff && written === undefined) fail('a diff needs the pages written since its base');
  if (written !== undefined && (written.byteLength !== mapBytes || hasPaddingBits(written, pageCount)))
    fail(`the written-page bitmap must have ${mapBytes} bytes and no bit beyond page ${pageCount - 1}`);

  const stored = new Uint8Array(mapBytes), zeroed = new Uint8Array(diff ? mapBytes : 0);
  const pages: number[] = [];
  let zeroedCount = 0;
  const isZero = zeroPageTest(bytes);
  const consider = (p: number): void => {
    if (!isZero(p)) { stored[p >>> 3] |= 1 << (p & 7); pages.push(p); } else if (diff) { zeroed[p >>> 3] |= 1 << (p & 7); zeroedCount++; }
  };
  if (written !== undefined) forEachPage(written, consider);
  else for (let p = 0; p < pageCount; p++) consider(p);

  const chunks: Uint8Array[] = [];
  for (let first = 0; first < pages.length; first += enc.pagesPerChunk)
    chunks.push(encodeChunk(bytes, pages.slice(first, first + enc.pagesPerChunk), enc));

  const head = new Uint8Array(RAM_HEADER_SIZE), v = viewOf(head);
  writeU64(v, 0, bytes.byteLength);
  v.setUint8(8, COMPRESSION_CODES[enc.compression]);
  v.setUint16(10, enc.pagesPerChunk, true);
  v.setUint32(12, pages.length, true);
  v.setUint32(16, zeroedCount, true);
  v.setUint32(20, chunks.length, true);
  const index = new Uint8Array(4 * chunks.length), iv = viewOf(index);
  chunks.forEach((c, i) => iv.setUint32(4 * i, c.byteLength, true));
  const crcs = new Uint8Array(ramCrcBytes(chunks.length)), cv = viewOf(crcs), crc32 = snapshotCodecs().crc32;
  chunks.forEach((c, i) => cv.setUint32(4 * i, crc32(c), true));
  return [head, stored, zeroed, index, ...chunks, crcs];
}

/**
 * One chunk: its pages' bytes, compressed unless that does not make them smaller (random data), in which
 * case they are stored as they are — a reader tells the two apart by the length alone.
 */
function encodeChunk(ram: Uint8Array, pages: number[], enc: RamEncoding): Uint8Array {
  const first = pages[0] * PAGE_SIZE, length = pages.length * PAGE_SIZE;
  const contiguous = pages[pages.length - 1] - pages[0] === pages.length - 1;
  let raw: Uint8Array;
  if (contiguous) raw = ram.subarray(first, first + length);
  else {
    raw = new Uint8Array(length);
    pages.forEach((p, i) => raw.set(ram.subarray(p * PAGE_SIZE, p * PAGE_SIZE + PAGE_SIZE), i * PAGE_SIZE));
  }
  if (enc.compression === 'none') return raw;
  const packed = compress(raw, enc.compression, enc.level);
  return packed.byteLength < length ? packed : raw;
}
