import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadElf, parseElf } from '../src/loader/elf.ts';
import { LoadError } from '../src/loader/load-error.ts';
import { buildElf, FakeTarget, pattern, sameBytes } from './loader-images.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/loader');
const TEST_ROMS = join(import.meta.dirname, '../test-roms');

function hasTool(tool: string): boolean {
  try { execFileSync(tool, ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** PT_LOAD headers as GNU objdump -p prints them (the oracle for the parser). */
function objdumpLoads(path: string): { offset: number; vaddr: number; paddr: number; fileSize: number; memSize: number }[] {
  const text = execFileSync('objdump', ['-p', path], { encoding: 'utf8' });
  const re = /LOAD off\s+0x([0-9a-f]+) vaddr 0x([0-9a-f]+) paddr 0x([0-9a-f]+)[^\n]*\n\s+filesz 0x([0-9a-f]+) memsz 0x([0-9a-f]+)/g;
  return [...text.matchAll(re)].map((m) => ({
    offset: parseInt(m[1], 16), vaddr: parseInt(m[2], 16), paddr: parseInt(m[3], 16), fileSize: parseInt(m[4], 16), memSize: parseInt(m[5], 16),
  }));
}

function expectLoadError(f: () => unknown, message: string | RegExp): void {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(LoadError);
  const msg = (err as Error).message;
  expect(msg).not.toContain('\n');
  if (typeof message === 'string') expect(msg).toBe(message);
  else expect(msg).toMatch(message);
}

describe('ELF loading', () => {
  it('copies p_filesz bytes to p_paddr and zeroes up to p_memsz', () => {
    const t = new FakeTarget(4 << 20);
    const text = pattern(300, 7), data = pattern(40, 9);
    const { bytes } = buildElf({
      entry: 0x100010,
      segments: [{ paddr: 0x100000, data: text }, { paddr: 0x102000, data, memSize: 0x3000, flags: 6 }],
    });
    // dirty the bss area first: the loader must zero it
    t.memory.writeBytes(0x102000, pattern(0x3010, 3));
    const r = loadElf(t.memory, bytes, 'k.elf');
    expect(r.entry).toBe(0x100010);
    expect(r.segments).toEqual([{ address: 0x100000, fileSize: 300, memSize: 300 }, { address: 0x102000, fileSize: 40, memSize: 0x3000 }]);
    expect(t.memory.readBytes(0x100000, 300)).toEqual(text);
    expect(t.memory.readBytes(0x102000, 40)).toEqual(data);
    expect(t.memory.readBytes(0x102000 + 40, 0x3000 - 40).every((b) => b === 0)).toBe(true);
    expect(t.memory.read8(0x102000 + 0x3000)).not.toBe(0); // beyond p_memsz untouched
  });

  it('loads at p_paddr and moves a virtual entry point into physical space (higher-half kernel)', () => {
    const t = new FakeTarget(4 << 20);
    const { bytes } = buildElf({ entry: 0xc0100020, segments: [{ paddr: 0x100000, vaddr: 0xc0100000, data: pattern(64) }] });
    const r = loadElf(t.memory, bytes, 'hh.elf');
    expect(r.entry).toBe(0x100020);
    expect(t.memory.readBytes(0x100000, 64)).toEqual(pattern(64));
  });

  it('ignores non-PT_LOAD headers and empty PT_LOADs', () => {
    const t = new FakeTarget();
    const { bytes } = buildElf({
      entry: 0x100000,
      segments: [
        { paddr: 0, data: new Uint8Array(0), type: 0x6474e551 }, // PT_GNU_STACK
        { paddr: 0x3fffffff, data: new Uint8Array(0), memSize: 0 }, // empty PT_LOAD far outside RAM
        { paddr: 0x100000, data: pattern(16) },
        { paddr: 0, data: pattern(8), type: 4 }, // PT_NOTE
      ],
    });
    expect(loadElf(t.memory, bytes, 'n.elf').segments).toEqual([{ address: 0x100000, fileSize: 16, memSize: 16 }]);
  });

  it('leaves RAM untouched when a later segment is rejected', () => {
    const t = new FakeTarget(2 << 20);
    const { bytes } = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(32) }, { paddr: 0x1ff000, data: pattern(16), memSize: 0x2000 }] });
    expectLoadError(() => loadElf(t.memory, bytes, 'x.elf'), 'x.elf: ELF segment 1 (0x1ff000-0x200fff) lies outside RAM (2 MiB, up to 0x1fffff)');
    expect(t.memory.readBytes(0x100000, 32).every((b) => b === 0)).toBe(true);
  });

  describe('rejects bad images with one line', () => {
    const good = (): Uint8Array => buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(32) }, { paddr: 0x101000, data: pattern(8) }] }).bytes;
    const with32 = (b: Uint8Array, at: number, v: number): Uint8Array => { const c = b.slice(); new DataView(c.buffer).setUint32(at, v, true); return c; };
    const with16 = (b: Uint8Array, at: number, v: number): Uint8Array => { const c = b.slice(); new DataView(c.buffer).setUint16(at, v, true); return c; };
    const load = (b: Uint8Array) => () => loadElf(new FakeTarget().memory, b, 'bad.elf');
    const PH = 52; // first program header

    it('truncated header', () => expectLoadError(load(good().slice(0, 40)), 'bad.elf: truncated ELF header (40 bytes, need 52)'));
    it('bad magic', () => expectLoadError(load(with32(good(), 0, 0x464c457e)), /^bad\.elf: not an ELF file/));
    it('64-bit', () => expectLoadError(load(buildElf({ entry: 0, segments: [], cls: 2 }).bytes), /64-bit ELF \(ELFCLASS64\)/));
    it('big-endian', () => expectLoadError(load(buildElf({ entry: 0, segments: [], data: 2 }).bytes), /big-endian/));
    it('not i386', () => expectLoadError(load(with16(good(), 18, 62)), 'bad.elf: ELF machine 62 (x86-64), not i386 (3); build with -m32'));
    it('relocatable', () => expectLoadError(load(with16(good(), 16, 1)), /relocatable object \(ET_REL\)/));
    it('PIE', () => expectLoadError(load(with16(good(), 16, 3)), /ET_DYN/));
    it('no program headers', () => expectLoadError(load(with16(good(), 44, 0)), 'bad.elf: ELF has no program headers'));
    it('program header table past the end', () => expectLoadError(load(good().slice(0, PH + 32 + 10)), 'bad.elf: ELF program header 1 lies outside the file'));
    it('phoff outside the file', () => expectLoadError(load(with32(good(), 28, 0xfffffff0)), 'bad.elf: ELF program header 0 lies outside the file'));
    it('small phentsize', () => expectLoadError(load(with16(good(), 42, 16)), /program header size 16 is smaller than 32/));
    it('segment data outside the file', () => expectLoadError(load(with32(good(), PH + 32 + 4, 0x10000)), /^bad\.elf: ELF segment 1 \(file offset 0x10000, 0x8 bytes\) lies outside the file/));
    it('segment offset + size overflowing 32 bits', () => expectLoadError(load(with32(good(), PH + 4, 0xffffffff)), /ELF segment 0 .* lies outside the file/));
    it('p_filesz > p_memsz', () => expectLoadError(load(with32(good(), PH + 20, 4)), 'bad.elf: ELF segment 0: file size 0x20 exceeds memory size 0x4'));
    it('segment wrapping past 4 GiB', () => expectLoadError(load(with32(with32(good(), PH + 12, 0xfffffff0), PH + 20, 0x20)), 'bad.elf: ELF segment 0 (0xfffffff0+0x20) wraps past 4 GiB'));
    it('segment outside RAM', () => expectLoadError(load(with32(good(), PH + 12, 0x1ffff0)), /^bad\.elf: ELF segment 0 \(0x1ffff0-0x20000f\) lies outside RAM/));
    it('entry outside RAM', () => expectLoadError(load(with32(good(), 24, 0x800000)), 'bad.elf: entry point 0x800000 lies outside RAM (2 MiB)'));
    it('PT_INTERP', () => expectLoadError(load(with32(good(), PH + 32, 3)), /program header 1 is PT_INTERP/));
    it('no PT_LOAD', () => expectLoadError(load(with32(with32(good(), PH, 4), PH + 32, 4)), 'bad.elf: ELF has no loadable (PT_LOAD) segments'));

    it('every truncation of a valid image', () => {
      const b = good();
      for (let n = 0; n < b.length; n++) {
        let err: unknown;
        try { loadElf(new FakeTarget().memory, b.subarray(0, n), 't.elf'); } catch (e) { err = e; }
        expect(err, `length ${n}`).toBeInstanceOf(LoadError);
      }
    });

    it('garbage never escapes as anything but LoadError', () => {
      const base = good();
      for (let seed = 1; seed <= 300; seed++) {
        const b = base.slice();
        const noise = pattern(6, seed);
        for (let k = 0; k < 3; k++) b[noise[2 * k] % 84] = noise[2 * k + 1]; // corrupt header / program headers
        try { loadElf(new FakeTarget().memory, b, 'g.elf'); } catch (e) { expect(e).toBeInstanceOf(LoadError); }
      }
    });
  });
});

describe('ELF files from the GNU toolchain', () => {
  const files = [join(FIXTURES, 'mb-kernel.elf')];
  if (existsSync(TEST_ROMS)) for (const f of readdirSync(TEST_ROMS)) if (f.endsWith('.elf')) files.push(join(TEST_ROMS, f));

  it.each(files)('%s: segments match objdump -p and land in RAM', (path) => {
    const bytes = new Uint8Array(readFileSync(path));
    const image = parseElf(bytes, path);
    const t = new FakeTarget(16 << 20);
    const r = loadElf(t.memory, bytes, path);
    if (hasTool('objdump')) {
      const loads = objdumpLoads(path).filter((l) => l.memSize > 0);
      expect(image.segments.map(({ offset, vaddr, paddr, fileSize, memSize }) => ({ offset, vaddr, paddr, fileSize, memSize }))).toEqual(loads);
    }
    for (const s of image.segments) {
      expect(sameBytes(t.memory.readBytes(s.paddr, s.fileSize), bytes.subarray(s.offset, s.offset + s.fileSize))).toBe('same');
      expect(t.memory.readBytes(s.paddr + s.fileSize, s.memSize - s.fileSize).every((b) => b === 0)).toBe(true);
    }
    expect(r.entry).toBeLessThan(t.memory.ramSize);
  });

  it('mb-kernel.elf has the layout the fixture source describes (two PT_LOADs, 64 KiB bss)', () => {
    const image = parseElf(new Uint8Array(readFileSync(join(FIXTURES, 'mb-kernel.elf'))), 'mb-kernel.elf');
    expect(image.entry).toBe(0x10000c);
    expect(image.segments.map((s) => [s.paddr, s.flags])).toEqual([[0x100000, 5], [0x101000, 6]]);
    expect(image.segments[1].memSize - image.segments[1].fileSize).toBeGreaterThanOrEqual(0x10000);
  });
});
