import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LoadError } from '../src/loader/load-error.ts';
import { BOOT_STACK_POINTER } from '../src/loader/load-target.ts';
import { loadMultiboot } from '../src/loader/multiboot.ts';
import { findMultibootHeader } from '../src/loader/multiboot-header.ts';
import { buildElf, concat, FakeTarget, multibootHeader, pattern, type AoutFields } from './loader-images.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures/loader');

function expectLoadError(f: () => unknown, message: string | RegExp): void {
  let err: unknown;
  try { f(); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(LoadError);
  expect((err as Error).message).not.toContain('\n');
  if (typeof message === 'string') expect((err as Error).message).toBe(message);
  else expect((err as Error).message).toMatch(message);
}

/** A Multiboot ELF kernel: the header at the start of the text segment (file offset 0x40 or so). */
function mbElf(flags = 3, opts: { bss?: number; textAt?: number } = {}): Uint8Array {
  const text = concat(multibootHeader(flags), pattern(100, 5));
  return buildElf({
    entry: (opts.textAt ?? 0x100000) + 12,
    segments: [{ paddr: opts.textAt ?? 0x100000, data: text }, { paddr: 0x104000, data: pattern(20, 6), memSize: 20 + (opts.bss ?? 0x1000), flags: 6 }],
  }).bytes;
}

/** A flat a.out-kludge image: `pre` bytes, the 32-byte header, then `body`. */
function aoutImage(f: Partial<AoutFields>, pre = 0, body = pattern(200, 8), flags = 0x10002): { bytes: Uint8Array; fields: AoutFields } {
  const load = 0x200000;
  const fields: AoutFields = {
    headerAddr: load + pre, loadAddr: load, loadEndAddr: load + pre + 32 + body.length, bssEndAddr: load + pre + 32 + body.length + 0x800,
    entryAddr: load + pre + 32, ...f,
  };
  return { bytes: concat(pattern(pre, 2), multibootHeader(flags, fields), body), fields };
}

interface MmapEntry { size: number; base: bigint; length: bigint; type: number }

function readMmap(t: FakeTarget, info: number): MmapEntry[] {
  const len = t.u32(info + 44), addr = t.u32(info + 48);
  const out: MmapEntry[] = [];
  for (let p = addr; p < addr + len;) {
    const size = t.u32(p);
    const v = new DataView(t.memory.readBytes(p, size + 4).buffer);
    out.push({ size, base: v.getBigUint64(4, true), length: v.getBigUint64(12, true), type: v.getUint32(20, true) });
    p += size + 4;
  }
  return out;
}

describe('Multiboot header search', () => {
  it('finds a 4-byte aligned header with a valid checksum in the first 8 KiB', () => {
    const at = (off: number, extra = 0): Uint8Array => { const b = new Uint8Array(8192 + 64); b.set(multibootHeader(3), off + extra); return b; };
    expect(findMultibootHeader(at(0)).header?.offset).toBe(0);
    expect(findMultibootHeader(at(8180)).header?.offset).toBe(8180);
    expect(findMultibootHeader(at(8184)).header).toBeUndefined(); // its checksum would lie beyond 8 KiB
    expect(findMultibootHeader(at(64, 2)).header).toBeUndefined(); // not 32-bit aligned
  });

  it('skips a magic with a bad checksum and reports it when nothing valid follows', () => {
    const bad = concat(multibootHeader(3, undefined, 1), new Uint8Array(20));
    expect(findMultibootHeader(bad)).toEqual({ badChecksumAt: 0 });
    const r = findMultibootHeader(concat(bad, multibootHeader(0)));
    expect(r.header?.offset).toBe(32);
  });
});

describe('Multiboot ELF kernels', () => {
  it('loads the segments and leaves the machine as the specification says', () => {
    const t = new FakeTarget(8 << 20);
    t.memory.writeBytes(0x104000, pattern(0x2000, 4)); // dirty the bss
    const r = loadMultiboot(t, mbElf(), { name: 'k.elf', cmdline: 'k.elf console=ttyS0' });
    expect(r).toEqual({
      entry: 0x10000c, infoAddress: 0x9500, kind: 'elf',
      segments: [{ address: 0x100000, fileSize: 112, memSize: 112 }, { address: 0x104000, fileSize: 20, memSize: 20 + 0x1000 }],
    });
    expect(t.memory.readBytes(0x104000 + 20, 0x1000).every((b) => b === 0)).toBe(true);
    expect(t.calls).toEqual(['resetReal', 'setFlat32', 'setRegisters']);
    expect(t.mode).toBe('flat32');
    expect(t.regs).toEqual({ eax: 0x2badb002, ebx: 0x9500, ecx: 0, edx: 0, esp: BOOT_STACK_POINTER, ebp: 0, esi: 0, edi: 0, eip: 0x10000c, eflags: 2 });
    expect(BOOT_STACK_POINTER).toBe(0x6f08); // QEMU 7.2's value
  });

  it('builds the information structure: flags, memory, command line, loader name, memory map as QEMU reports it', () => {
    const t = new FakeTarget(128 << 20);
    const r = loadMultiboot(t, mbElf(), { name: 'k.elf', cmdline: 'k.elf hello world' });
    const info = r.infoAddress;
    expect(t.u32(info)).toBe(0x245); // memory, cmdline, mmap, boot loader name
    expect(t.u32(info + 4)).toBe(639); // mem_lower (QEMU 7.2: 0x27f)
    expect(t.u32(info + 8)).toBe((128 << 10) - 1024); // mem_upper: all RAM above 1 MiB
    expect(t.cString(t.u32(info + 16))).toBe('k.elf hello world');
    expect(t.cString(t.u32(info + 64))).toBe('x86jit');
    expect(t.u32(info + 48)).toBe(0x9000); // mmap_addr (QEMU: 0x9000)
    // QEMU 7.2 -m 128 reports these first three entries exactly, then 0x100000+0x7ee0000 (its BIOS keeps the top 128 KiB)
    expect(readMmap(t, info)).toEqual([
      { size: 20, base: 0n, length: 0x9fc00n, type: 1 },
      { size: 20, base: 0x9fc00n, length: 0x400n, type: 2 },
      { size: 20, base: 0xf0000n, length: 0x10000n, type: 2 },
      { size: 20, base: 0x100000n, length: BigInt((128 << 20) - 0x100000), type: 1 },
    ]);
    expect(t.u32(info + 44)).toBe(4 * 24);
    // everything lies below the EBDA and clear of the kernel and the boot stack
    expect(t.u32(info + 16)).toBeLessThan(0x9fc00);
    expect(BOOT_STACK_POINTER).toBeLessThan(0x9000);
  });

  it('defaults the command line to the image name and has no upper-memory entry with 1 MiB of RAM', () => {
    const t = new FakeTarget(1 << 20);
    const elf = buildElf({ entry: 0x20000, segments: [{ paddr: 0x20000, data: concat(multibootHeader(2), pattern(50)) }] }).bytes;
    const r = loadMultiboot(t, elf, { name: 'roms/small.elf' });
    expect(t.cString(t.u32(r.infoAddress + 16))).toBe('roms/small.elf');
    expect(t.u32(r.infoAddress + 8)).toBe(0);
    expect(readMmap(t, r.infoAddress).map((e) => e.base)).toEqual([0n, 0x9fc00n, 0xf0000n]);
  });

  it('passes a UTF-8 command line through', () => {
    const t = new FakeTarget();
    const r = loadMultiboot(t, mbElf(), { name: 'k', cmdline: 'name=Zoë' });
    expect([...t.memory.readBytes(t.u32(r.infoAddress + 16), 10)]).toEqual([...new TextEncoder().encode('name=Zoë'), 0]);
  });

  it('loads the GNU-built fixture mb-kernel.elf (runs under QEMU: "mb-kernel: ok", status 33)', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'mb-kernel.elf')));
    const t = new FakeTarget(4 << 20);
    t.memory.writeBytes(0x101000, pattern(0x12000, 11));
    const r = loadMultiboot(t, bytes, { name: 'mb-kernel.elf' });
    expect(r.kind).toBe('elf');
    expect(r.entry).toBe(0x10000c);
    expect(t.u32(0x100000)).toBe(0x1badb002);
    expect(t.cString(0x101000)).toBe('mb-kernel: ok\n');
    const bss = r.segments[1];
    expect(t.memory.readBytes(bss.address + bss.fileSize, bss.memSize - bss.fileSize).every((b) => b === 0)).toBe(true);
  });
});

describe('Multiboot a.out kludge (flags bit 16)', () => {
  it('loads the flat image from the header-derived offset and zeroes the bss', () => {
    const t = new FakeTarget(4 << 20);
    const { bytes, fields } = aoutImage({}, 64);
    t.memory.writeBytes(0x200000, pattern(0x2000, 12));
    const r = loadMultiboot(t, bytes, { name: 'flat.bin' });
    expect(r.kind).toBe('aout-kludge');
    expect(r.entry).toBe(fields.entryAddr);
    expect(r.segments).toEqual([{ address: 0x200000, fileSize: bytes.length, memSize: bytes.length + 0x800 }]);
    expect(t.memory.readBytes(0x200000, bytes.length)).toEqual(bytes);
    expect(t.memory.readBytes(0x200000 + bytes.length, 0x800).every((b) => b === 0)).toBe(true);
    expect(t.memory.read8(0x200000 + bytes.length + 0x800)).not.toBe(0);
    expect(t.regs.eip).toBe(fields.entryAddr);
    expect(t.regs.eax).toBe(0x2badb002);
  });

  it('load_addr above the file start skips the leading bytes; load_end_addr 0 means to the end of the file; bss_end_addr 0 means no bss', () => {
    const t = new FakeTarget(4 << 20);
    // the header sits 64 bytes into the file but claims to be at load_addr + 16: the first 48 bytes are not loaded
    const { bytes } = aoutImage({ headerAddr: 0x200010, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x200030 }, 64);
    t.memory.writeBytes(0x200000, pattern(0x1000, 13));
    const r = loadMultiboot(t, bytes, { name: 'flat.bin' });
    expect(r.segments).toEqual([{ address: 0x200000, fileSize: bytes.length - 48, memSize: bytes.length - 48 }]);
    expect(t.memory.readBytes(0x200000, bytes.length - 48)).toEqual(bytes.subarray(48));
    expect(t.memory.readBytes(0x200000 + bytes.length - 48, 16)).toEqual(pattern(0x1000, 13).subarray(bytes.length - 48, bytes.length - 32));
  });

  it('load_end_addr before the end of the file loads only that much', () => {
    const t = new FakeTarget(4 << 20);
    const { bytes } = aoutImage({ loadEndAddr: 0x200000 + 100, bssEndAddr: 0x200000 + 0x400 });
    loadMultiboot(t, bytes, { name: 'f' });
    expect(t.memory.readBytes(0x200000, 100)).toEqual(bytes.subarray(0, 100));
    expect(t.memory.readBytes(0x200000 + 100, 0x400 - 100).every((b) => b === 0)).toBe(true);
  });

  it('takes bit 16 over an ELF file (as GRUB and QEMU do)', () => {
    const elf = buildElf({ entry: 0x100000, segments: [{ paddr: 0x100000, data: pattern(256) }] });
    const hdrAt = elf.offsets[0] + 16;
    const bytes = elf.bytes.slice();
    bytes.set(multibootHeader(0x10000, { headerAddr: 0x300000 + hdrAt, loadAddr: 0x300000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x300000 + hdrAt + 32 }), hdrAt);
    const t = new FakeTarget(4 << 20);
    const r = loadMultiboot(t, bytes, { name: 'both.elf' });
    expect(r.kind).toBe('aout-kludge');
    expect(t.memory.readBytes(0x300000, bytes.length)).toEqual(bytes); // the whole file, ELF header included
  });

  it('loads the GNU-built fixture mb-aout.bin (runs under QEMU: "mb-aout: ok", status 33)', () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'mb-aout.bin')));
    const t = new FakeTarget(4 << 20);
    const r = loadMultiboot(t, bytes, { name: 'mb-aout.bin' });
    expect(r.kind).toBe('aout-kludge');
    expect(r.entry).toBe(0x200020);
    expect(r.segments).toEqual([{ address: 0x200000, fileSize: bytes.length, memSize: bytes.length + 0x8000 }]);
  });

  describe('rejects inconsistent address fields', () => {
    const load = (f: Partial<AoutFields>, pre = 0, ram = 4 << 20) => () => loadMultiboot(new FakeTarget(ram), aoutImage(f, pre).bytes, { name: 'a.bin' });
    it('header_addr below load_addr', () => expectLoadError(load({ headerAddr: 0x1ff000 }), 'a.bin: Multiboot a.out kludge: header_addr 0x1ff000 is below load_addr 0x200000'));
    it('load_addr before the file', () => expectLoadError(load({ headerAddr: 0x200040 }, 16), /load_addr 0x200000 would start 0x30 bytes before the file/));
    it('load_end_addr below load_addr', () => expectLoadError(load({ loadEndAddr: 0x100000 }), /load_end_addr 0x100000 is below load_addr/));
    it('load_end_addr past the file', () => expectLoadError(load({ loadEndAddr: 0x200000 + 0x10000 }), /load_end_addr 0x210000 needs 0x10000 bytes from file offset 0x0, but the file has 0xe8 bytes/));
    it('bss_end_addr below load_end_addr', () => expectLoadError(load({ bssEndAddr: 0x200010 }), /bss_end_addr 0x200010 is below the end of the loaded image 0x2000e8/));
    it('image outside RAM', () => expectLoadError(load({ bssEndAddr: 0x500000 }), /^a\.bin: the image \(0x200000-0x4fffff\) lies outside RAM \(4 MiB/));
    it('entry outside RAM', () => expectLoadError(load({ entryAddr: 0x900000 }), 'a.bin: entry point 0x900000 lies outside RAM (4 MiB)'));
    it('header cut off by the end of the file', () => {
      const b = concat(new Uint8Array(8), multibootHeader(0x10000, { headerAddr: 0, loadAddr: 0, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0 })).subarray(0, 8 + 24);
      expectLoadError(() => loadMultiboot(new FakeTarget(), b, { name: 'a.bin' }), 'a.bin: Multiboot header at offset 0x8 (32 bytes by its flags) is cut off by the end of the file');
    });
    it('header running past 8 KiB', () => {
      const b = new Uint8Array(8192 + 64);
      b.set(multibootHeader(0x10000, { headerAddr: 0, loadAddr: 0, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0 }), 8176);
      expectLoadError(() => loadMultiboot(new FakeTarget(), b, { name: 'a.bin' }), /offset 0x1ff0 \(32 bytes by its flags\) runs past the first 8 KiB/);
    });
  });
});

describe('Multiboot refusals', () => {
  it('refuses the video-mode requirement (flags bit 2)', () =>
    expectLoadError(() => loadMultiboot(new FakeTarget(), concat(multibootHeader(0x4 | 0x10000), new Uint8Array(64)), { name: 'v' }),
      'v: Multiboot header at offset 0x0 requires a video mode (flags bit 2); x86jit has no display'));
  it('refuses unknown requirement bits 3-15', () => {
    for (const bit of [3, 7, 15]) expectLoadError(() => loadMultiboot(new FakeTarget(), mbElf(1 << bit), { name: 'u' }), `u: Multiboot header at offset 0x80 requires features this loader does not know (flags 0x${(1 << bit).toString(16)})`);
  });
  it('ignores unknown optional bits 17-31', () => {
    expect(loadMultiboot(new FakeTarget(), mbElf(0xfffe0003), { name: 'o' }).kind).toBe('elf');
  });
  it('no header / bad checksum', () => {
    expectLoadError(() => loadMultiboot(new FakeTarget(), pattern(9000), { name: 'n' }), 'n: no Multiboot header in the first 8 KiB');
    expectLoadError(() => loadMultiboot(new FakeTarget(), concat(new Uint8Array(16), multibootHeader(3, undefined, 5)), { name: 'c' }),
      'c: Multiboot magic at offset 0x10 has a bad checksum (no valid Multiboot header in the first 8 KiB)');
  });
  it('a header without bit 16 in a file that is not ELF', () =>
    expectLoadError(() => loadMultiboot(new FakeTarget(), concat(multibootHeader(3), new Uint8Array(64)), { name: 'flat.bin' }),
      /^flat\.bin: Multiboot header without the a\.out-kludge flag \(bit 16\), so the image must be ELF/));
  it('a kernel overlapping the information area at 0x9000', () =>
    expectLoadError(() => loadMultiboot(new FakeTarget(), mbElf(3, { textAt: 0x9400 }), { name: 'low.elf' }),
      /^low\.elf: the image \(0x9400-0x946f\) overlaps the Multiboot information at 0x9000-0x95[0-9a-f]+$/));
  it('a command line too long for conventional memory', () =>
    expectLoadError(() => loadMultiboot(new FakeTarget(), mbElf(), { name: 'k', cmdline: 'x'.repeat(0x97000) }), /command line of 618496 bytes does not fit below 0x9fc00/));
  it('a truncated ELF with a valid Multiboot header', () =>
    expectLoadError(() => loadMultiboot(new FakeTarget(), mbElf().subarray(0, 0x90), { name: 't.elf' }), /^t\.elf: ELF segment 0 .* lies outside the file/));
  it('leaves memory and registers untouched when refusing', () => {
    const t = new FakeTarget();
    expect(() => loadMultiboot(t, mbElf(3, { bss: 0x400000 }), { name: 'big' })).toThrow(LoadError);
    expect(t.calls).toEqual([]);
    expect(t.memory.readBytes(0x100000, 64).every((b) => b === 0)).toBe(true);
  });
});
