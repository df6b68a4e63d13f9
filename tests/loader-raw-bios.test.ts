import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBios } from '../src/loader/bios.ts';
import { LoadError } from '../src/loader/load-error.ts';
import { BOOT_STACK_POINTER } from '../src/loader/load-target.ts';
import { loadRaw } from '../src/loader/raw.ts';
import { FakeTarget, pattern, sameBytes } from './loader-images.ts';

function expectLoadError(f: () => unknown, message: string | RegExp): void {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(LoadError);
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
}

describe('raw images (--load/--entry)', () => {
  it('32-bit: copies the bytes and starts in flat protected mode at the entry', () => {
    const t = new FakeTarget();
    const img = pattern(1000, 3);
    const r = loadRaw(t, img, { load: 0x100000, entry: 0x100010 });
    expect(r).toEqual({ entry: 0x100010, segments: [{ address: 0x100000, fileSize: 1000, memSize: 1000 }] });
    expect(t.memory.readBytes(0x100000, 1000)).toEqual(img);
    expect(t.calls).toEqual(['resetReal', 'setFlat32', 'setRegisters']);
    expect(t.mode).toBe('flat32');
    expect(t.regs).toMatchObject({ eip: 0x100010, esp: BOOT_STACK_POINTER, eflags: 2, eax: 0 });
  });

  it('16-bit: real mode with CS:IP = entry >> 4 : entry & 15', () => {
    const t = new FakeTarget();
    const sector = pattern(512, 4);
    loadRaw(t, sector, { load: 0x7c00, entry: 0x7c00, bits: 16, name: 'boot.bin' });
    expect(t.mode).toBe('real');
    expect(t.segments).toEqual({ cs: 0x7c0, ds: 0, es: 0, fs: 0, gs: 0, ss: 0 });
    expect(t.regs).toMatchObject({ eip: 0, esp: 0 });
    expect(t.memory.readBytes(0x7c00, 512)).toEqual(sector);
    loadRaw(t, sector, { load: 0x10000, entry: 0x1234f, bits: 16 });
    expect([t.segments.cs, t.regs.eip]).toEqual([0x1234, 0xf]);
  });

  it('rejects images and entries outside RAM, and real-mode entries above 1 MiB', () => {
    const t = new FakeTarget(2 << 20);
    expectLoadError(() => loadRaw(t, new Uint8Array(0x100), { load: 0x1fff80, entry: 0x1fff80, name: 'r.bin' }), /^r\.bin: the image \(256 bytes\) \(0x1fff80-0x20007f\) lies outside RAM/);
    expectLoadError(() => loadRaw(t, new Uint8Array(16), { load: 0x1000, entry: 0x300000, name: 'r.bin' }), 'r.bin: entry point 0x300000 lies outside RAM (2 MiB)');
    expectLoadError(() => loadRaw(t, new Uint8Array(16), { load: 0x1000, entry: 0x100000, bits: 16, name: 'r.bin' }), 'r.bin: entry 0x100000 is beyond the 1 MiB that real mode reaches');
    expectLoadError(() => loadRaw(t, new Uint8Array(16), { load: 0xffffff00, entry: 0, name: 'r.bin' }), /lies outside RAM/);
    expectLoadError(() => loadRaw(t, new Uint8Array(16), { load: 2 ** 32, entry: 0, name: 'r.bin' }), /not a 32-bit physical address/);
    expect(t.calls).toEqual([]);
  });

  it('needs setSegmentReal from the target for real mode', () => {
    const t = new FakeTarget(2 << 20, false);
    expectLoadError(() => loadRaw(t, new Uint8Array(16), { load: 0x7c00, entry: 0x7c00, bits: 16 }), /cannot start a raw image in real mode/);
  });
});

describe('BIOS images (--bios)', () => {
  it('maps the image at the top of 4 GiB and aliases a 64 KiB image at 0xF0000', () => {
    const t = new FakeTarget();
    const img = pattern(64 << 10, 5);
    const r = loadBios(t, img);
    expect(r).toEqual({ entry: 0xfffffff0, romBase: 0xffff0000, segments: [{ address: 0xf0000, fileSize: 0x10000, memSize: 0x10000 }] });
    expect(sameBytes(t.memory.readBytes(0xffff0000, 0x10000), img)).toBe('same');
    expect(t.memory.readBytes(0xfffffff0, 16)).toEqual(img.subarray(0xfff0));
    expect(sameBytes(t.memory.readBytes(0xf0000, 0x10000), img)).toBe('same');
    expect(t.calls).toEqual(['resetReal']);
    expect(t.segments.cs).toBe(0xf000);
    expect(t.regs.eip).toBe(0xfff0);
  });

  it('maps it read-only', () => {
    const t = new FakeTarget();
    const img = pattern(4096, 6);
    loadBios(t, img);
    t.memory.write(0xfffff000, 4, 0);
    t.memory.write8(0xfffffff0, 0);
    expect(sameBytes(t.memory.readBytes(0xfffff000, 4096), img)).toBe('same');
    img[0] ^= 0xff; // the ROM is a copy: changing the caller's buffer changes nothing
    expect(t.memory.read8(0xfffff000)).toBe(img[0] ^ 0xff);
  });

  it('aliases only the last 128 KiB of a 256 KiB image below 1 MiB, and all of a small one', () => {
    let t = new FakeTarget();
    const big = pattern(256 << 10, 7);
    loadBios(t, big);
    expect(sameBytes(t.memory.readBytes(0xfffc0000, 256 << 10), big)).toBe('same');
    expect(sameBytes(t.memory.readBytes(0xe0000, 0x20000), big.subarray(128 << 10))).toBe('same');
    expect(t.memory.readBytes(0xd0000, 16).every((b) => b === 0)).toBe(true);
    t = new FakeTarget();
    const small = pattern(8 << 10, 8);
    expect(loadBios(t, small).segments).toEqual([{ address: 0xfe000, fileSize: 0x2000, memSize: 0x2000 }]);
    expect(sameBytes(t.memory.readBytes(0xfe000, 0x2000), small)).toBe('same');
  });

  it('refuses sizes that are not a power of two between 4 KiB and 256 KiB', () => {
    for (const n of [0, 2048, 4095, 0x3000, 0x10001, 512 << 10])
      expectLoadError(() => loadBios(new FakeTarget(), new Uint8Array(n), 'b.rom'), new RegExp(`^b\\.rom: BIOS image is .*\\(${n} bytes\\); it must be a power of two between 4 KiB and 256 KiB$`));
  });

  it('refuses a second BIOS on the same machine with a LoadError', () => {
    const t = new FakeTarget();
    loadBios(t, new Uint8Array(4096));
    expectLoadError(() => loadBios(t, new Uint8Array(4096), 'again.rom'), /^again\.rom: cannot map the BIOS at 0xfffff000: /);
  });

  const rom = join(import.meta.dirname, '../test-roms/bios-realmode.bin');
  it.skipIf(!existsSync(rom))('loads test-roms/bios-realmode.bin: the reset vector holds its last 16 bytes', () => {
    const img = new Uint8Array(readFileSync(rom));
    const t = new FakeTarget();
    loadBios(t, img, 'bios-realmode.bin');
    expect(t.memory.readBytes(0xfffffff0, 16)).toEqual(img.subarray(img.length - 16));
    expect(t.memory.readBytes(0xffff0, 16)).toEqual(img.subarray(img.length - 16));
  });
});
