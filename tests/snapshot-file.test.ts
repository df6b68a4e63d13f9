// The snapshot file format (src/state/snapshot-file.ts): round trips of full and diff snapshots in every
// compression, random access to RAM chunks against applyRam, every refusal with its exact one-line message,
// and a seeded fuzz: X86JIT_SNAPSHOT_FUZZ mutated files (default 10000), each decoded as it is and again with
// its length field and SHA-256 trailer made right, so that the structural checks behind the checksum are
// reached. A mutated file must decode to something applyRam can write into a guarded buffer, or be refused
// with SnapshotError; any other exception fails. The refusals are counted per check and printed.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  applyRam, DEFAULT_PAGES_PER_CHUNK, decodeSnapshot, encodeSnapshot, jsonSection, pageBitmap, readJsonSection,
  SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAGIC, type Compression, type DecodedSnapshot, type EncodeOptions, type Section,
  SnapshotError, snapshotId,
} from '../src/state/snapshot-file.ts';
import { compress, decompress } from '../src/state/compression.ts';
import { parseNum } from './env-number.ts';

const PAGE = 4096;
const COMPRESSIONS: readonly Compression[] = ['none', 'deflate', 'brotli'];
const SUPPORTED = { CPU0: 2, DEVS: 1, BLOB: 1, EMPT: 1 };

/** xorshift32: every run sees the same files and mutations. */
function prng(seed: number): (n?: number) => number {
  let s = seed >>> 0 || 1;
  return (n?: number) => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return n === undefined ? s : s % n;
  };
}

type PageKind = 'zero' | 'random' | 'text' | 'sparse' | 'counting';

/** A RAM of `kinds.length` pages, each filled as its kind says. */
function makeRam(kinds: readonly PageKind[], seed = 1): Uint8Array {
  const rand = prng(seed), ram = new Uint8Array(kinds.length * PAGE);
  const text = new TextEncoder().encode('mov eax, [ebx+4]; the quick brown fox jumps over the lazy dog 0123456789 ');
  kinds.forEach((kind, p) => {
    const at = p * PAGE;
    for (let i = 0; i < PAGE; i++) {
      if (kind === 'random') ram[at + i] = rand(256);
      else if (kind === 'text') ram[at + i] = text[(i + p) % text.length];
      else if (kind === 'counting') ram[at + i] = (i >> 2) & 0xff;
    }
    if (kind === 'sparse') ram[at + rand(PAGE)] = 1 + rand(255);
  });
  return ram;
}

/** Pages of a RAM made of `n` pages cycling through the kinds. */
const cycle = (n: number, kinds: readonly PageKind[]): PageKind[] => Array.from({ length: n }, (_, i) => kinds[i % kinds.length]);

const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest();

/** `file` with its length field set to its length and its trailer recomputed (a well-formed frame around whatever is inside). */
function reseal(file: Uint8Array): Uint8Array {
  const out = file.slice();
  if (out.length >= 24) {
    const v = new DataView(out.buffer);
    v.setUint32(16, out.length, true);
    v.setUint32(20, 0, true);
  }
  if (out.length >= 32) out.set(sha256(out.subarray(0, out.length - 32)), out.length - 32);
  return out;
}

/** The message of the SnapshotError `f` throws (fails when it throws something else or nothing). */
function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    return e.message;
  }
  throw new Error('expected a SnapshotError');
}

/** Field offsets of an encoded file, read back from its own header (to edit fields and cut at boundaries). */
interface Layout { entries: { at: number; tag: string; offset: number; length: number }[]; ram: { at: number; index: number; chunks: number[]; crcs: number }; end: number }
function layoutOf(file: Uint8Array): Layout {
  const v = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const count = v.getUint32(12, true), diff = (v.getUint16(10, true) & 1) === 1;
  const entries = Array.from({ length: count }, (_, i) => {
    const at = 56 + 32 * i;
    return { at, tag: String.fromCharCode(...file.subarray(at, at + 4)), offset: v.getUint32(at + 8, true), length: v.getUint32(at + 16, true) };
  });
  const r = entries.find((e) => e.tag === 'RAM ')!;
  const pages = v.getUint32(r.offset, true) / PAGE, mapBytes = (pages + 7) >> 3, chunkCount = v.getUint32(r.offset + 20, true);
  const index = r.offset + 24 + (diff ? 2 : 1) * mapBytes;
  const chunks: number[] = [];
  let at = index + 4 * chunkCount;
  for (let c = 0; c < chunkCount; c++) { chunks.push(at); at += v.getUint32(index + 4 * c, true); }
  return { entries, ram: { at: r.offset, index, chunks, crcs: at }, end: file.length - 32 };
}

/** Checks what a decoded snapshot promises: applyRam writes only inside a guarded target, and agrees with random access. */
function checkDecoded(d: DecodedSnapshot): void {
  const ram = d.ram, guard = 64;
  expect(ram.size % PAGE).toBe(0);
  expect(ram.pageCount).toBe(ram.size / PAGE);
  for (const s of d.sections) expect(s.tag).toMatch(/^[A-Z0-9][A-Z0-9 ]{3}$/);
  const outer = new Uint8Array(ram.size + 2 * guard).fill(0xa5), target = outer.subarray(guard, guard + ram.size);
  applyRam(d, target);
  for (let i = 0; i < guard; i++) if (outer[i] !== 0xa5 || outer[guard + ram.size + i] !== 0xa5) throw new Error('applyRam wrote outside its target');
  const expected = new Uint8Array(ram.size).fill(d.kind === 'diff' ? 0xa5 : 0);
  for (let c = 0; c < ram.chunkCount; c++) {
    const bytes = ram.readChunk(c);
    ram.chunkPages(c).forEach((p, i) => {
      expect(ram.chunkOf(p)).toBe(c);
      expected.set(bytes.subarray(i * PAGE, (i + 1) * PAGE), p * PAGE);
    });
  }
  for (let p = 0; p < ram.pageCount; p++) if (ram.isZeroed(p)) expected.fill(0, p * PAGE, (p + 1) * PAGE);
  if (Buffer.compare(target, expected) !== 0) throw new Error('applyRam differs from the chunks read one by one');
}

describe('snapshot file: round trips', () => {
  const sections: Section[] = [
    jsonSection('CPU0', 2, { eax: 0x12345678, eflags: 2, segs: [[8, 0, 0xffffffff]], note: 'ünïcode ✓' }),
    { tag: 'EMPT', version: 1, data: new Uint8Array(0) },
    { tag: 'DEVS', version: 1, data: makeRam(['text']).subarray(0, 255) },
    { tag: 'BLOB', version: 1, data: makeRam(['counting', 'random', 'text'], 9) },
  ];

  for (const compression of COMPRESSIONS) {
    for (const pagesPerChunk of [1, 3, DEFAULT_PAGES_PER_CHUNK]) {
      it(`full, ${compression}, ${pagesPerChunk} pages per chunk`, () => {
        const ram = makeRam(cycle(37, ['zero', 'text', 'random', 'zero', 'sparse', 'counting', 'zero']));
        const file = encodeSnapshot({ kind: 'full', sections, ram: { bytes: ram } }, { compression, pagesPerChunk });
        const d = decodeSnapshot(file, SUPPORTED);
        expect(d.kind).toBe('full');
        expect(d.formatVersion).toBe(SNAPSHOT_FORMAT_VERSION);
        expect(d.baseId).toBeUndefined();
        expect(d.id).toEqual(snapshotId(file));
        expect(d.sections.map((s) => [s.tag, s.version, Buffer.from(s.data).toString('hex')]))
          .toEqual(sections.map((s) => [s.tag, s.version, Buffer.from(s.data).toString('hex')]));
        expect(readJsonSection(d.sections[0])).toEqual({ eax: 0x12345678, eflags: 2, segs: [[8, 0, 0xffffffff]], note: 'ünïcode ✓' });
        expect(d.ram.storedCount).toBe(cycle(37, ['zero', 'text', 'random', 'zero', 'sparse', 'counting', 'zero']).filter((k) => k !== 'zero').length);
        expect(d.ram.chunkCount).toBe(Math.ceil(d.ram.storedCount / pagesPerChunk));
        const dirty = new Uint8Array(ram.length).fill(0xee);
        applyRam(d, dirty);
        expect(Buffer.compare(dirty, ram)).toBe(0);
        const fresh = new Uint8Array(ram.length);
        applyRam(d, fresh, { targetIsZero: true });
        expect(Buffer.compare(fresh, ram)).toBe(0);
        checkDecoded(d);
      });
    }

    it(`diff, ${compression}: stored, zeroed and untouched pages`, () => {
      const base = makeRam(cycle(20, ['text', 'zero', 'random', 'counting']), 3);
      const baseFile = encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: base } }, { compression });
      const now = base.slice();
      now.fill(0, 0, PAGE);                           // page 0: text → zero
      now.set(makeRam(['random'], 4), 1 * PAGE);      // page 1: zero → random
      now[2 * PAGE + 100] ^= 0xff;                    // page 2: changed
      now.fill(0, 6 * PAGE, 7 * PAGE);                // page 6: random → zero
      // Page 3 is logged as written but unchanged; page 5 is written but left out (the log decides, not the bytes).
      now[5 * PAGE] ^= 1;
      const written = pageBitmap(20, [0, 1, 2, 3, 6, 19]);
      const file = encodeSnapshot({ kind: 'diff', baseId: snapshotId(baseFile), sections: [sections[0]], ram: { bytes: now, written } }, { compression, pagesPerChunk: 2 });
      const d = decodeSnapshot(file, SUPPORTED);
      expect(d.kind).toBe('diff');
      expect(d.baseId).toEqual(snapshotId(baseFile));
      expect([...Array(20).keys()].filter((p) => d.ram.isStored(p))).toEqual([1, 2, 3, 19]);
      expect([...Array(20).keys()].filter((p) => d.ram.isZeroed(p))).toEqual([0, 6]);
      const target = base.slice();
      applyRam(d, target);
      const expected = now.slice();
      expected[5 * PAGE] ^= 1; // not logged, so not in the diff
      expect(Buffer.compare(target, expected)).toBe(0);
      checkDecoded(d);
    });
  }

  it('empty RAM and all-zero RAM store no chunk', () => {
    for (const ram of [new Uint8Array(0), new Uint8Array(8 * PAGE)]) {
      const d = decodeSnapshot(encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram } }), {});
      expect([d.ram.size, d.ram.storedCount, d.ram.chunkCount]).toEqual([ram.length, 0, 0]);
      const target = new Uint8Array(ram.length).fill(7);
      applyRam(d, target);
      expect(target.every((b) => b === 0)).toBe(true);
    }
    const d = decodeSnapshot(encodeSnapshot({ kind: 'diff', baseId: new Uint8Array(32).fill(1), sections: [], ram: { bytes: new Uint8Array(0), written: new Uint8Array(0) } }), {});
    expect([d.kind, d.ram.size]).toEqual(['diff', 0]);
  });

  it('every page non-zero, a ragged last chunk, and random access equal to applyRam', () => {
    const ram = makeRam(cycle(11, ['random', 'text', 'counting', 'sparse']), 5);
    for (const compression of COMPRESSIONS) {
      const d = decodeSnapshot(encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram } }, { compression, pagesPerChunk: 4 }), {});
      expect([d.ram.storedCount, d.ram.chunkCount]).toEqual([11, 3]);
      expect([0, 1, 2].map((c) => [...d.ram.chunkPages(c)])).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]);
      for (let p = 0; p < 11; p++) {
        const c = d.ram.chunkOf(p), i = [...d.ram.chunkPages(c)].indexOf(p);
        expect(Buffer.compare(d.ram.readChunk(c).subarray(i * PAGE, (i + 1) * PAGE), ram.subarray(p * PAGE, (p + 1) * PAGE))).toBe(0);
      }
      const lazy = new Uint8Array(ram.length);
      for (let c = 2; c >= 0; c--) d.ram.applyChunk(c, lazy);
      expect(Buffer.compare(lazy, ram)).toBe(0);
      checkDecoded(d);
    }
  });

  it('an incompressible chunk is stored as it is, a compressible one compressed', () => {
    const ram = makeRam(['random', 'random', 'zero', 'counting', 'counting'], 6);
    const file = encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram } }, { compression: 'deflate', pagesPerChunk: 2 });
    const { ram: r } = layoutOf(file);
    expect([r.chunks[1] - r.chunks[0] === 2 * PAGE, file.length - 32 - r.chunks[1] < PAGE]).toEqual([true, true]);
    const target = new Uint8Array(ram.length);
    applyRam(decodeSnapshot(file, {}), target);
    expect(Buffer.compare(target, ram)).toBe(0);
  });

  it('reads RAM through any view: unaligned, and inside a WebAssembly.Memory', () => {
    const ram = makeRam(cycle(9, ['text', 'zero', 'random']), 8);
    const odd = new Uint8Array(ram.length + 3).subarray(3);
    odd.set(ram);
    const memory = new WebAssembly.Memory({ initial: 2 }), inWasm = new Uint8Array(memory.buffer, 4 * PAGE, ram.length);
    inWasm.set(ram);
    for (const bytes of [odd, inWasm]) {
      const d = decodeSnapshot(encodeSnapshot({ kind: 'full', sections: [], ram: { bytes } }), {});
      expect(d.ram.storedCount).toBe(6);
      const target = new Uint8Array(ram.length);
      applyRam(d, target);
      expect(Buffer.compare(target, ram)).toBe(0);
    }
  });

  it('a full snapshot given the written pages reads no other page', () => {
    const ram = makeRam(cycle(16, ['text', 'random']), 2);
    const d = decodeSnapshot(encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram, written: pageBitmap(16, [3, 4, 9]) } }), {});
    expect([...Array(16).keys()].filter((p) => d.ram.isStored(p))).toEqual([3, 4, 9]);
  });

  it('a compressed section is stored compressed and read back', () => {
    const big = jsonSection('DEVS', 1, { uart: Array.from({ length: 200 }, (_, i) => ({ reg: i, value: i * 3 })) });
    for (const compression of COMPRESSIONS) {
      const file = encodeSnapshot({ kind: 'full', sections: [big], ram: { bytes: new Uint8Array(0) } }, { compression });
      const e = layoutOf(file).entries[0];
      expect(file[e.at + 6]).toBe(compression === 'none' ? 0 : compression === 'deflate' ? 1 : 2);
      expect(e.length < big.data.length).toBe(compression !== 'none');
      expect(readJsonSection(decodeSnapshot(file, SUPPORTED).sections[0])).toEqual(readJsonSection(big));
    }
  });
});

describe('snapshot file: refusals', () => {
  const ram = makeRam(cycle(12, ['text', 'zero', 'random', 'counting']), 11);
  const cpu = jsonSection('CPU0', 2, { eip: 0x100000 });
  const file = encodeSnapshot({ kind: 'full', sections: [cpu], ram: { bytes: ram } }, { pagesPerChunk: 2 });
  const baseId = snapshotId(file);
  const diff = encodeSnapshot({ kind: 'diff', baseId, sections: [cpu], ram: { bytes: ram, written: pageBitmap(12, [0, 1, 2]) } }, { pagesPerChunk: 2 });
  const decode = (b: Uint8Array): string => refusal(() => decodeSnapshot(b, SUPPORTED));
  /** `b` with `edit` applied to a copy, then resealed. */
  const edited = (b: Uint8Array, edit: (v: DataView, b: Uint8Array) => void): Uint8Array => {
    const out = b.slice();
    edit(new DataView(out.buffer), out);
    return reseal(out);
  };

  it('not a snapshot', () => {
    expect(decode(new Uint8Array(0))).toBe('not an x86jit snapshot (empty file)');
    expect(decode(new TextEncoder().encode('\x7fELF\x01\x01\x01\x00........'))).toBe('not an x86jit snapshot (bad magic)');
    expect(decode(new TextEncoder().encode('X86'))).toBe('snapshot is truncated (file has 3 bytes, less than its 56-byte header)');
    expect(decode(new TextEncoder().encode('X86JSNAQ'))).toBe('not an x86jit snapshot (bad magic)');
    expect(SNAPSHOT_MAGIC).toBe('X86JSNAP');
  });

  it('truncated at every region boundary, and one byte either side', () => {
    const { entries, ram: r, end } = layoutOf(file);
    const cuts = new Set([8, 9, 10, 16, 24, 55, 56, ...entries.flatMap((e) => [e.at, e.offset, e.offset + e.length]),
      r.at + 24, r.index, ...r.chunks, end, file.length - 1].flatMap((c) => [c - 1, c, c + 1]));
    for (const cut of [...cuts].filter((c) => c > 0 && c < file.length).sort((a, b) => a - b)) {
      expect(decode(file.subarray(0, cut)), `cut at ${cut}`).toBe(cut < 56
        ? `snapshot is truncated (file has ${cut} bytes, less than its 56-byte header)`
        : `snapshot is truncated (file has ${cut} bytes, header says ${file.length})`);
    }
  });

  it('extra bytes, a newer or a zero format version, a checksum mismatch', () => {
    const longer = new Uint8Array(file.length + 5);
    longer.set(file);
    expect(decode(longer)).toBe(`snapshot has extra bytes at its end (file has ${file.length + 5} bytes, header says ${file.length})`);
    const newer = file.slice();
    newer[8] = 3;
    expect(decode(newer)).toBe(`snapshot format version 3 is newer than this x86jit reads (${SNAPSHOT_FORMAT_VERSION})`);
    newer[8] = 0;
    expect(decode(newer)).toBe('snapshot is damaged: format version 0');
    const flipped = file.slice();
    flipped[layoutOf(file).ram.chunks[0] + 3] ^= 0x10;
    expect(decode(flipped)).toBe('snapshot is damaged: checksum mismatch');
    flipped.set(file);
    flipped[file.length - 1] ^= 1;
    expect(decode(flipped)).toBe('snapshot is damaged: checksum mismatch');
  });

  it('section versions and tags the reader does not know', () => {
    expect(refusal(() => decodeSnapshot(file, { CPU0: 1 }))).toBe('snapshot section CPU0 has version 2; this x86jit reads up to 1');
    expect(refusal(() => decodeSnapshot(file, {}))).toBe('snapshot has a section CPU0 that this x86jit does not read');
    expect(refusal(() => decodeSnapshot(file, { CPU1: 9 }))).toBe('snapshot has a section CPU0 that this x86jit does not read');
    expect(refusal(() => decodeSnapshot(file, Object.create({ CPU0: 2 })))).toBe('snapshot has a section CPU0 that this x86jit does not read');
    const ramEntry = layoutOf(file).entries.find((e) => e.tag === 'RAM ')!;
    expect(decode(edited(file, (v) => v.setUint16(ramEntry.at + 4, 3, true)))).toBe('snapshot section RAM has version 3; this x86jit reads up to 2');
    expect(decode(edited(file, (_, b) => { b[ramEntry.at + 3] = 0x58; }))).toBe('snapshot is damaged: no RAM section');
    const cpuEntry = layoutOf(file).entries[0];
    expect(decode(edited(file, (_, b) => { b[cpuEntry.at] = 0x61; }))).toBe('snapshot is damaged: section 0 has a bad tag');
    expect(decode(edited(file, (v) => v.setUint16(cpuEntry.at + 4, 0, true)))).toBe('snapshot is damaged: section CPU0 has version 0');
  });

  it('header fields', () => {
    expect(decode(edited(diff, (_, b) => b.fill(0, 24, 56)))).toBe('snapshot is damaged: a diff without a base id');
    expect(decode(edited(file, (_, b) => { b[40] = 1; }))).toBe('snapshot is damaged: a full snapshot with a base id');
    expect(decode(edited(file, (v) => v.setUint16(10, 6, true)))).toBe('snapshot is damaged: unknown flags 0x6');
    expect(decode(edited(file, (v) => v.setUint32(12, 1e6, true)))).toBe(`snapshot is damaged: a directory of 1000000 sections does not fit in ${file.length} bytes`);
    expect(decode(edited(file, (v) => v.setUint32(12, 1, true)))).toBe(`snapshot is damaged: section CPU0 starts at byte ${56 + 64}, not ${56 + 32} where the one before it ends`);
    const tiny = reseal(file.slice(0, 60));
    expect(decode(tiny)).toBe('snapshot is damaged: header says the file has 60 bytes, less than its header and checksum');
    const cpuEntry = layoutOf(file).entries[0];
    expect(decode(edited(file, (_, b) => { b[cpuEntry.at + 7] = 1; }))).toBe('snapshot is damaged: section CPU0 has reserved byte 1 (must be 0)');
    expect(decode(edited(file, (_, b) => { b[cpuEntry.at + 6] = 7; }))).toBe('snapshot is damaged: section CPU0 has unknown encoding 7');
    expect(decode(edited(file, (v) => v.setUint32(cpuEntry.at + 16, 1 << 30, true)))).toMatch(/^snapshot is damaged: section CPU0 \(1073741824 bytes at byte 120\) runs past the checksum at byte \d+$/);
    expect(decode(edited(file, (v) => v.setUint32(cpuEntry.at + 24, 3, true)))).toBe(`snapshot is damaged: section CPU0 declares 3 decoded bytes for ${cpu.data.length} stored`);
  });

  it('a compressed section that decompresses wrong (a bomb, a damaged stream)', () => {
    const zeros = { tag: 'BLOB', version: 1, data: new Uint8Array(1 << 20) };
    for (const compression of ['deflate', 'brotli'] as const) {
      const bomb = encodeSnapshot({ kind: 'full', sections: [zeros], ram: { bytes: new Uint8Array(0) } }, { compression });
      const e = layoutOf(bomb).entries[0];
      expect(e.length).toBeLessThan((1 << 20) / 100); // a bomb: 100× and more
      expect(decode(edited(bomb, (v) => v.setUint32(e.at + 24, e.length + 1, true)))).toBe(`snapshot section BLOB is damaged: it decompresses to more than the ${e.length + 1} bytes declared`);
      expect(decode(edited(bomb, (v) => v.setUint32(e.at + 24, (1 << 20) + 1, true)))).toBe(`snapshot section BLOB is damaged: it decompresses to ${1 << 20} bytes, not the ${(1 << 20) + 1} declared`);
      expect(decode(edited(bomb, (v) => v.setUint32(e.at + 24, 2 ** 30 + 1, true)))).toBe(`snapshot is damaged: section BLOB declares ${2 ** 30 + 1} decoded bytes for ${e.length} stored`);
      expect(decode(edited(bomb, (_, b) => b.fill(0xff, e.offset, e.offset + 4)))).toMatch(new RegExp(`^snapshot section BLOB is damaged: it is not valid ${compression} data \\(.+\\)$`));
    }
  });

  it('decompression takes exactly the declared size and every stored byte', () => {
    const raw = makeRam(['text', 'counting']);
    for (const method of ['deflate', 'brotli'] as const) {
      const packed = compress(raw, method, 1);
      expect(decompress(packed, method, raw.length)).toEqual(Buffer.from(raw));
      expect(decompress(Buffer.concat([packed, new Uint8Array(3)]), method, raw.length)).toBe(`has 3 bytes after its ${method} stream`);
      expect(decompress(packed, method, raw.length - 1)).toBe(`decompresses to more than the ${raw.length - 1} bytes declared`);
      expect(decompress(packed, method, raw.length + 1)).toBe(`decompresses to ${raw.length} bytes, not the ${raw.length + 1} declared`);
      expect(decompress(packed.subarray(0, packed.length >> 1), method, raw.length)).toMatch(new RegExp(`^is not valid ${method} data \\(.+\\)$`));
    }
  });

  it('the RAM section', () => {
    const { ram: r } = layoutOf(file);
    const ramEdit = (edit: (v: DataView, b: Uint8Array) => void): string => decode(edited(file, edit));
    expect(ramEdit((v) => v.setUint32(r.at, 12 * PAGE + 1, true))).toBe(`snapshot is damaged: RAM section says RAM is ${12 * PAGE + 1} bytes (must be a multiple of 4096, at most 3221225472)`);
    expect(ramEdit((v) => v.setUint32(r.at + 4, 1, true))).toBe(`snapshot is damaged: RAM section says RAM is ${2 ** 32 + 12 * PAGE} bytes (must be a multiple of 4096, at most 3221225472)`);
    expect(ramEdit((_, b) => { b[r.at + 8] = 9; })).toBe('snapshot is damaged: RAM section uses unknown compression 9');
    expect(ramEdit((_, b) => { b[r.at + 9] = 1; })).toBe('snapshot is damaged: RAM section has reserved byte 1 (must be 0)');
    expect(ramEdit((v) => v.setUint16(r.at + 10, 0, true))).toBe('snapshot is damaged: RAM section has 0 pages per chunk (1 to 4096)');
    expect(ramEdit((v) => v.setUint32(r.at + 12, 13, true))).toBe('snapshot is damaged: RAM section stores 13 pages of 12');
    expect(ramEdit((v) => v.setUint32(r.at + 16, 1, true))).toBe('snapshot is damaged: RAM section of a full snapshot zeroes 1 pages');
    expect(ramEdit((v) => v.setUint32(r.at + 20, 9, true))).toBe('snapshot is damaged: RAM section has 9 chunks for 9 pages of 2 per chunk');
    expect(ramEdit((v) => v.setUint32(r.at + 12, 8, true))).toBe('snapshot is damaged: RAM section has 5 chunks for 8 pages of 2 per chunk');
    expect(ramEdit((v) => v.setUint32(r.at + 12, 10, true))).toBe('snapshot is damaged: RAM section bitmap has 9 stored pages, header says 10');
    expect(ramEdit((_, b) => { b[r.at + 25] |= 0x80; })).toBe('snapshot is damaged: RAM section bitmap names a page beyond its 12 pages');
    expect(ramEdit((v) => v.setUint32(r.index, 0, true))).toBe('snapshot is damaged: RAM section chunk 0 has 0 bytes for 8192 bytes of pages');
    expect(ramEdit((v) => v.setUint32(r.index, 8193, true))).toBe('snapshot is damaged: RAM section chunk 0 has 8193 bytes for 8192 bytes of pages');
    expect(ramEdit((v) => v.setUint32(r.index + 16, v.getUint32(r.index + 16, true) - 1, true))).toMatch(/^snapshot is damaged: RAM section chunks end at byte \d+ of its \d+$/);

    const d = layoutOf(diff).ram;
    const diffEdit = (edit: (v: DataView, b: Uint8Array) => void): string => decode(edited(diff, edit));
    const mapBytes = 2;
    expect(diffEdit((_, b) => { b[d.at + 24 + mapBytes] |= 1; })).toBe('snapshot is damaged: RAM section bitmap has 2 zeroed pages, header says 1');
    expect(diffEdit((v, b) => { b[d.at + 24 + mapBytes] |= b[d.at + 24]; v.setUint32(d.at + 16, 3, true); })).toBe('snapshot is damaged: RAM section both stores and zeroes a page');
    const ramNone = encodeSnapshot({ kind: 'full', sections: [], ram: { bytes: ram } }, { compression: 'none', pagesPerChunk: 2 });
    const n = layoutOf(ramNone).ram;
    expect(decode(edited(ramNone, (v) => { v.setUint32(n.index, 8000, true); v.setUint32(n.index + 4, v.getUint32(n.index + 4, true) + 192, true); })))
      .toBe('snapshot is damaged: RAM section chunk 0 has 8000 bytes for 8192 bytes of pages stored uncompressed');
  });

  it('a damaged RAM chunk is refused when decompressed, and a target of the wrong size', () => {
    const { ram: r } = layoutOf(file);
    const damaged = decodeSnapshot(edited(file, (_, b) => b.fill(0xff, r.chunks[0], r.chunks[0] + 8)), SUPPORTED);
    expect(refusal(() => applyRam(damaged, new Uint8Array(ram.length)))).toMatch(/^snapshot is damaged: RAM chunk 0 is not valid brotli data \(.+\)$/);
    const ok = decodeSnapshot(file, SUPPORTED);
    expect(refusal(() => applyRam(ok, new Uint8Array(ram.length + PAGE)))).toBe(`snapshot RAM is ${ram.length} bytes; the target RAM is ${ram.length + PAGE} bytes`);
    expect(() => ok.ram.readChunk(ok.ram.chunkCount)).toThrow(RangeError);
    expect(ok.ram.chunkOf(-1)).toBe(-1);
    expect(ok.ram.chunkOf(12)).toBe(-1);
  });

  it('integrity crc32 (a lazy restore): the same contents; damage outside the chunks refused at once, in a chunk when it is read', () => {
    const lazy = (b: Uint8Array): string => refusal(() => decodeSnapshot(b, SUPPORTED, { integrity: 'crc32' }));
    const d = decodeSnapshot(file, SUPPORTED, { integrity: 'crc32' }), whole = decodeSnapshot(file, SUPPORTED);
    expect(d.id).toEqual(whole.id);
    expect(d.sections).toEqual(whole.sections);
    const a = new Uint8Array(ram.length), b = new Uint8Array(ram.length);
    applyRam(d, a);
    applyRam(whole, b);
    expect(Buffer.compare(a, ram)).toBe(0);
    expect(Buffer.compare(b, ram)).toBe(0);
    const { entries, ram: r } = layoutOf(file);
    const flip = (at: number): Uint8Array => { const out = file.slice(); out[at] ^= 0x10; return out; };
    // Every byte outside the chunks and the SHA-256 trailer is covered by the file's CRC-32 (or is structure).
    const chunkBytes = new Set(r.chunks.flatMap((at, c) => Array.from({ length: (r.chunks[c + 1] ?? r.crcs) - at }, (_, i) => at + i)));
    for (let at = 0; at < file.length - 32; at++) {
      if (chunkBytes.has(at)) continue;
      expect(lazy(flip(at)), `byte ${at}`).toMatch(/^snapshot (is damaged: checksum mismatch|is truncated .*|has extra bytes .*|format version \d+ is newer .*)$|^not an x86jit snapshot|^snapshot is damaged: format version 0$/);
    }
    // A damaged chunk: the file opens; that chunk, and only it, is refused when read.
    const damaged = decodeSnapshot(flip(r.chunks[1] + 2), SUPPORTED, { integrity: 'crc32' });
    expect(refusal(() => damaged.ram.readChunk(1))).toBe('snapshot is damaged: RAM chunk 1 checksum mismatch');
    expect(() => damaged.ram.readChunk(0)).not.toThrow();
    expect(refusal(() => applyRam(damaged, new Uint8Array(ram.length)))).toBe('snapshot is damaged: RAM chunk 1 checksum mismatch');
    // A structural refusal of a damaged file names the damage, as the whole-file check does; of a resealed one, the structure.
    const cpuEntry = entries.find((e) => e.tag === 'CPU0')!;
    const structural = edited(file, (v) => v.setUint16(cpuEntry.at + 4, 0, true));
    expect(lazy(structural)).toBe(decode(structural));
    expect(lazy(flip(cpuEntry.at + 4))).toBe('snapshot is damaged: checksum mismatch');
  });

  it('a RAM section of version 1 (no CRC-32s, before x86jit checked them) is read, with the SHA-256 either way', () => {
    // The same file as version 1 wrote it: RAM section version 1 without its CRC-32 trailer, resealed.
    const { entries, ram: r } = layoutOf(file);
    const ramEntry = entries.find((e) => e.tag === 'RAM ')!, crcBytes = 4 * r.chunks.length + 4;
    const v1 = new Uint8Array(file.length - crcBytes);
    v1.set(file.subarray(0, r.crcs));
    v1.set(file.subarray(r.crcs + crcBytes), r.crcs);
    const v = new DataView(v1.buffer);
    v.setUint16(ramEntry.at + 4, 1, true);
    v.setUint32(ramEntry.at + 16, ramEntry.length - crcBytes, true);
    v.setUint32(ramEntry.at + 24, ramEntry.length - crcBytes, true);
    const old = reseal(v1);
    for (const integrity of ['sha256', 'crc32'] as const) {
      const d = decodeSnapshot(old, SUPPORTED, { integrity });
      const out = new Uint8Array(ram.length);
      applyRam(d, out);
      expect(Buffer.compare(out, ram), integrity).toBe(0);
      const flipped = old.slice();
      flipped[r.chunks[0] + 1] ^= 1;
      expect(refusal(() => decodeSnapshot(flipped, SUPPORTED, { integrity })), integrity).toBe('snapshot is damaged: checksum mismatch');
    }
  });

  it('JSON sections', () => {
    expect(refusal(() => readJsonSection({ tag: 'DEVS', version: 1, data: new Uint8Array([0x7b, 0xff]) }))).toBe('snapshot section DEVS is damaged: not UTF-8');
    expect(refusal(() => readJsonSection({ tag: 'DEVS', version: 1, data: new TextEncoder().encode('{"a":') }))).toMatch(/^snapshot section DEVS is damaged: not JSON \(.+\)$/);
    expect(refusal(() => jsonSection('DEVS', 1, { big: 1n }))).toMatch(/^cannot write snapshot section DEVS: .+$/);
    expect(refusal(() => jsonSection('DEVS', 1, undefined))).toBe('cannot write snapshot section DEVS: undefined is not JSON');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(refusal(() => jsonSection('DEVS', 1, cyclic))).not.toContain('\n');
  });

  it('contents the encoder cannot write', () => {
    const bytes = new Uint8Array(2 * PAGE);
    const enc = (c: Partial<Parameters<typeof encodeSnapshot>[0]>, o?: EncodeOptions): string =>
      refusal(() => encodeSnapshot({ kind: 'full', sections: [], ram: { bytes }, ...c }, o));
    expect(enc({ kind: 'diff', ram: { bytes, written: new Uint8Array(1) } })).toBe('cannot write snapshot: a diff needs the id of its base');
    expect(enc({ kind: 'diff', baseId, ram: { bytes } })).toBe('cannot write snapshot: a diff needs the pages written since its base');
    expect(enc({ kind: 'diff', baseId: new Uint8Array(32), ram: { bytes, written: new Uint8Array(1) } })).toBe('cannot write snapshot: a base id is 32 bytes, not all zero');
    expect(enc({ baseId })).toBe('cannot write snapshot: a full snapshot has no base id');
    expect(enc({ ram: { bytes: new Uint8Array(100) } })).toBe('cannot write snapshot: RAM of 100 bytes is not a multiple of 4096 up to 3221225472');
    expect(enc({ ram: { bytes, written: new Uint8Array([4]) } })).toBe('cannot write snapshot: the written-page bitmap must have 1 bytes and no bit beyond page 1');
    expect(enc({ sections: [{ tag: 'cpu0', version: 1, data: new Uint8Array(0) }] })).toBe("cannot write snapshot: section tag 'cpu0' is not 4 characters from A-Z, 0-9 and space");
    expect(enc({ sections: [{ tag: 'RAM ', version: 1, data: new Uint8Array(0) }] })).toBe('cannot write snapshot: the RAM section is written from contents.ram');
    expect(enc({ sections: [cpu, cpu] })).toBe('cannot write snapshot: two sections CPU0');
    expect(enc({ sections: [{ ...cpu, version: 0 }] })).toBe('cannot write snapshot: section CPU0 version 0 is not 1 to 65535');
    expect(enc({}, { compression: 'zstd' as Compression })).toBe("cannot write snapshot: unknown compression 'zstd'");
    expect(enc({}, { compression: 'brotli', level: 12 })).toBe('cannot write snapshot: brotli level 12 is not 0 to 11');
    expect(enc({}, { pagesPerChunk: 5000 })).toBe('cannot write snapshot: pages per chunk 5000 is not 1 to 4096');
    expect(refusal(() => snapshotId(file.subarray(0, 100)))).toBe(`snapshot is truncated (file has 100 bytes, header says ${file.length})`);
  });
});

describe('snapshot file: fuzz', () => {
  const count = parseNum('X86JIT_SNAPSHOT_FUZZ') ?? 10000;
  const seed = parseNum('X86JIT_SEED') ?? 0x5eed5;

  it(`${count} mutated files (seed ${seed}), each as it is and resealed`, () => {
    const rand = prng(seed);
    const kinds: PageKind[] = ['zero', 'text', 'random', 'sparse', 'counting', 'zero'];
    const bases: Uint8Array[] = [];
    for (const compression of COMPRESSIONS) {
      const ram = makeRam(cycle(24, kinds), 21);
      const sections = [jsonSection('CPU0', 1, { eax: 1, eip: 0x100000 }), { tag: 'BLOB', version: 1, data: makeRam(['text']).subarray(0, 600) }];
      const full = encodeSnapshot({ kind: 'full', sections, ram: { bytes: ram } }, { compression, pagesPerChunk: 3 });
      const now = ram.slice();
      now.fill(0, 1 * PAGE, 2 * PAGE);
      now[4 * PAGE] ^= 0x55;
      bases.push(full, encodeSnapshot({ kind: 'diff', baseId: snapshotId(full), sections: sections.slice(0, 1), ram: { bytes: now, written: pageBitmap(24, [1, 2, 4, 5, 7, 10, 13]) } }, { compression, pagesPerChunk: 2 }));
    }
    // Every u16/u32/u64 field of each base, to edit with values near the boundaries checks care about.
    const fieldsOf = (b: Uint8Array): [number, 1 | 2 | 4 | 8][] => {
      const { entries, ram: r } = layoutOf(b);
      const f: [number, 1 | 2 | 4 | 8][] = [[8, 2], [10, 2], [12, 4], [16, 8], [24, 1], [55, 1]];
      for (const e of entries) f.push([e.at, 1], [e.at + 3, 1], [e.at + 4, 2], [e.at + 6, 1], [e.at + 7, 1], [e.at + 8, 8], [e.at + 16, 8], [e.at + 24, 8]);
      f.push([r.at, 8], [r.at + 8, 1], [r.at + 9, 1], [r.at + 10, 2], [r.at + 12, 4], [r.at + 16, 4], [r.at + 20, 4], [r.at + 24, 1], [r.at + 26, 1], [r.index - 1, 1]);
      r.chunks.forEach((at, c) => f.push([r.index + 4 * c, 4], [at, 1]));
      return f;
    };
    const fields = bases.map(fieldsOf);

    const mutate = (b: Uint8Array, fieldList: [number, 1 | 2 | 4 | 8][]): { out: Uint8Array; resized: boolean; how: string } => {
      let out = b.slice(), resized = false;
      const how = ['flip', 'byte', 'truncate', 'insert', 'delete', 'extend', 'field', 'field', 'field'][rand(9)];
      if (how === 'flip') for (let k = 1 + rand(4); k > 0; k--) out[rand(out.length)] ^= 1 << rand(8);
      else if (how === 'byte') for (let k = 1 + rand(3); k > 0; k--) out[rand(out.length)] = [0, 0xff, 0x7f, 0x80, 1, rand(256)][rand(6)];
      else if (how === 'truncate') { out = out.slice(0, rand(out.length)); resized = true; }
      else if (how === 'insert') { const at = rand(out.length + 1), add = new Uint8Array(1 + rand(64)).map(() => rand(256)); out = Buffer.concat([out.subarray(0, at), add, out.subarray(at)]); resized = true; }
      else if (how === 'delete') { const at = rand(out.length), n = 1 + rand(Math.min(64, out.length - at)); out = Buffer.concat([out.subarray(0, at), out.subarray(at + n)]); resized = true; }
      else if (how === 'extend') { out = Buffer.concat([out, new Uint8Array(1 + rand(4096)).map(() => rand(256))]); resized = true; }
      else {
        const [at, size] = fieldList[rand(fieldList.length)];
        if (at + size > out.length) return { out, resized, how: 'none (field cut off)' };
        const v = new DataView(out.buffer, out.byteOffset, out.byteLength), old = size === 1 ? v.getUint8(at) : size === 2 ? v.getUint16(at, true) : v.getUint32(at, true);
        const max = size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
        const value = [0, 1, 2, old - 1, old + 1, old * 2, old >>> 1, max, 0x80000000 & max, 4096, 0xc0000000, out.length, rand() & max][rand(13)];
        if (size === 1) v.setUint8(at, value & 0xff);
        else if (size === 2) v.setUint16(at, value & 0xffff, true);
        else v.setUint32(at, value >>> 0, true);
        if (size === 8 && rand(4) === 0) v.setUint32(at + 4, [1, 0x1fffff, 0xffffffff][rand(3)], true);
      }
      return { out: Buffer.from(out.buffer, out.byteOffset, out.byteLength) as Uint8Array, resized, how };
    };

    /** The check that refused, as its message with numbers and zlib's words taken out. */
    const checkOf = (message: string): string =>
      message.replace(/\(.*\)/, '(…)').replace(/\b0x[0-9a-f]+\b|\b\d+\b/g, 'N').replace(/section [A-Z0-9]{3,4} /, 'section T ');
    const tally = { plain: new Map<string, number>(), resealed: new Map<string, number>() };
    const count1 = (m: Map<string, number>, k: string): void => { m.set(k, (m.get(k) ?? 0) + 1); };
    const attempt = (b: Uint8Array, m: Map<string, number>, what: string): void => {
      let d: DecodedSnapshot;
      try {
        d = decodeSnapshot(b, SUPPORTED);
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw new Error(`${what}: decodeSnapshot threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        if (e.message.includes('\n')) throw new Error(`${what}: a message of more than one line: ${JSON.stringify(e.message)}`);
        count1(m, checkOf(e.message));
        return;
      }
      try {
        checkDecoded(d);
        count1(m, 'decoded, applied and checked');
      } catch (e) {
        if (!(e instanceof SnapshotError)) throw new Error(`${what}: after decoding, ${(e as Error)?.name}: ${(e as Error)?.message}`);
        count1(m, `at applyRam: ${checkOf(e.message)}`);
      }
    };

    for (let i = 0; i < count; i++) {
      const k = rand(bases.length);
      let { out, resized, how } = mutate(bases[k], fields[k]);
      if (rand(8) === 0) { const again = mutate(out, fields[k]); out = again.out; resized ||= again.resized; how += `+${again.how}`; }
      if (Buffer.compare(out, bases[k]) === 0) { i--; continue; } // a no-op (a byte overwritten with itself): draw again
      attempt(out, tally.plain, `mutation ${i} (${how}) of base ${k}`);
      const sealed = resized || rand(4) !== 0 ? reseal(out) : (() => { const s = out.slice(); if (s.length >= 32) s.set(sha256(s.subarray(0, s.length - 32)), s.length - 32); return s; })();
      attempt(sealed, tally.resealed, `resealed mutation ${i} (${how}) of base ${k}`);
    }

    const table = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(6)}  ${k}`).join('\n');
    console.log(`snapshot fuzz, seed ${seed}: ${count} mutations\nas mutated:\n${table(tally.plain)}\nresealed (length field and SHA-256 made right):\n${table(tally.resealed)}`);
    // The fuzz reached past the checksum: structural checks refused, and some mutants still decoded.
    const structural = [...tally.resealed].filter(([k]) => !/checksum|truncated|extra bytes|magic/.test(k)).reduce((n, [, c]) => n + c, 0);
    expect(structural).toBeGreaterThan(count / 2);
    expect(tally.resealed.get('decoded, applied and checked') ?? 0).toBeGreaterThan(0);
  });
});
