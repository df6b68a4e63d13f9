import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadImage } from '../src/loader/detect.ts';
import { readImageFile } from '../src/loader/read-image-file.ts';
import { LoadError } from '../src/loader/load-error.ts';
import { buildElf, concat, FakeTarget, multibootHeader, pattern } from './loader-images.ts';

const dir = mkdtempSync(join(tmpdir(), 'x86jit-loader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function loadError(f: () => unknown): string {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(LoadError); const m = (e as Error).message; expect(m).not.toContain('\n'); return m; }
  throw new Error('no LoadError');
}

describe('loadImage', () => {
  it('loads a Multiboot ELF kernel and passes the command line', () => {
    const t = new FakeTarget();
    const elf = buildElf({ entry: 0x10000c, segments: [{ paddr: 0x100000, data: concat(multibootHeader(3), pattern(40)) }] }).bytes;
    const r = loadImage(t, elf, 'k.elf', { cmdline: 'k.elf -v' });
    expect(r.kind).toBe('elf');
    expect(t.regs.eip).toBe(0x10000c);
    expect(t.cString(t.u32(r.infoAddress + 16))).toBe('k.elf -v');
  });

  it('says what to do with an image that has no Multiboot header', () => {
    const hint = '(use --load/--entry for raw images, or --bios)';
    expect(loadError(() => loadImage(new FakeTarget(), pattern(4096), 'raw.bin'))).toBe(`raw.bin: no Multiboot header in the first 8 KiB ${hint}`);
    const plainElf = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(16) }] }).bytes;
    expect(loadError(() => loadImage(new FakeTarget(), plainElf, 'a.out'))).toBe(`a.out: no Multiboot header in the first 8 KiB ${hint}`);
    // a header beyond 8 KiB does not count
    expect(loadError(() => loadImage(new FakeTarget(), concat(new Uint8Array(8192), multibootHeader(3)), 'late.bin'))).toMatch(/no Multiboot header/);
    expect(loadError(() => loadImage(new FakeTarget(), concat(new Uint8Array(64), multibootHeader(3, undefined, -1)), 'cs.bin')))
      .toBe(`cs.bin: Multiboot magic at offset 0x40 has a bad checksum, and there is no valid Multiboot header in the first 8 KiB ${hint}`);
    expect(loadError(() => loadImage(new FakeTarget(), new Uint8Array(0), 'e.bin'))).toBe('e.bin: empty image');
  });
});

describe('readImageFile', () => {
  it('reads a file', () => {
    const p = join(dir, 'ok.bin');
    writeFileSync(p, pattern(100));
    const b = readImageFile(p);
    expect(b).toBeInstanceOf(Uint8Array);
    expect(new Uint8Array(b)).toEqual(pattern(100));
  });

  it('gives one line for a missing file, a directory, an empty file, a path through a file', () => {
    writeFileSync(join(dir, 'empty.bin'), new Uint8Array(0));
    writeFileSync(join(dir, 'plain'), 'x');
    expect(loadError(() => readImageFile(join(dir, 'nope.elf')))).toBe(`${join(dir, 'nope.elf')}: no such file`);
    expect(loadError(() => readImageFile(dir))).toBe(`${dir}: is a directory, not an image file`);
    expect(loadError(() => readImageFile(join(dir, 'empty.bin')))).toBe(`${join(dir, 'empty.bin')}: empty file`);
    expect(loadError(() => readImageFile(join(dir, 'plain', 'x')))).toMatch(/: no such file \(a component of the path is not a directory\)$/);
    symlinkSync('loop', join(dir, 'loop'));
    expect(loadError(() => readImageFile(join(dir, 'loop')))).toMatch(/too many levels of symbolic links/);
  });

  it('refuses a device file', () => {
    expect(loadError(() => readImageFile('/dev/null'))).toBe('/dev/null: not a regular file');
  });

  it('reads a FIFO (e.g. <(cat rom))', () => {
    const p = join(dir, 'fifo');
    execFileSync('mkfifo', [p]);
    spawn('sh', ['-c', `printf abc > '${p}'`], { stdio: 'ignore' });
    expect([...readImageFile(p)]).toEqual([0x61, 0x62, 0x63]);
  });

  it.skipIf(process.getuid?.() === 0)('reports a file it may not read', () => {
    const p = join(dir, 'secret.bin');
    writeFileSync(p, 'x');
    chmodSync(p, 0);
    expect(loadError(() => readImageFile(p))).toBe(`${p}: permission denied`);
  });
});
