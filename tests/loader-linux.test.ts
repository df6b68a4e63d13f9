// The Linux boot protocol loader (src/loader/linux-boot.ts) on synthetic bzImages: where each piece goes,
// what boot_params says, and one LoadError line for every image it cannot boot. That a real kernel boots
// through it is tests/linux-boot.test.ts's (Debian's kernel against qemu-system-i386).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BOOT_PARAMS, CMDLINE, isBzImage, LINUX_GDT, loadLinux } from '../src/loader/linux-boot.ts';
import { LoadError } from '../src/loader/load-error.ts';
import { FakeTarget } from './loader-images.ts';
import { VM } from '../src/machine/vm.ts';
import { IRQ_SCI } from '../src/machine/board.ts';
import { ELCR_PORT } from '../src/devices/pic8259.ts';

const MiB = 1 << 20;

/** A bzImage: 4 setup sectors after the boot sector, the setup header's fields, then `kernel`. */
function bzImage(opts: { version?: number; loadflags?: number; kernel?: Uint8Array; initSize?: number; initrdMax?: number; cmdlineSize?: number; code32?: number; noHdrS?: boolean } = {}): Uint8Array {
  const setupSects = 4;
  const kernel = opts.kernel ?? new Uint8Array(3000).map((_, i) => (i * 7 + 1) & 0xff);
  const b = new Uint8Array((setupSects + 1) * 512 + kernel.length);
  const v = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  v.setUint16(0x1fe, 0xaa55, true);
  b[0x200] = 0xeb; b[0x201] = 0x66; // jmp: the header runs to 0x268
  if (!opts.noHdrS) v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, opts.version ?? 0x020f, true);
  b[0x211] = opts.loadflags ?? 1;
  v.setUint32(0x214, opts.code32 ?? 0x100000, true);
  v.setUint32(0x22c, opts.initrdMax ?? 0x7fffffff, true);
  v.setUint32(0x238, opts.cmdlineSize ?? 2047, true);
  v.setUint32(0x260, opts.initSize ?? 0x10000, true);
  b.set(kernel, (setupSects + 1) * 512);
  return b;
}

function loadError(f: () => unknown): string {
  try { f(); } catch (e) {
    expect(e).toBeInstanceOf(LoadError);
    expect((e as Error).message).not.toContain('\n');
    return (e as Error).message;
  }
  throw new Error('expected a LoadError');
}

describe('loadLinux', () => {
  it('places the kernel at 1 MiB, the initrd at the top of RAM, and fills boot_params', () => {
    const t = new FakeTarget(16 * MiB);
    const kernel = new Uint8Array(5000).map((_, i) => (i * 13) & 0xff);
    const initrd = new Uint8Array(10000).fill(0x5a);
    const r = loadLinux(t, bzImage({ kernel }), { name: 'bz', initrd, cmdline: 'console=ttyS0 panic=-1' });
    expect(t.memory.readBytes(0x100000, kernel.length)).toEqual(kernel);
    expect(r.initrd).toEqual({ address: 16 * MiB - 3 * 4096, size: 10000 });
    expect(t.memory.readBytes(r.initrd!.address, 10000)).toEqual(initrd);
    const bp = new DataView(t.memory.readBytes(BOOT_PARAMS, 4096).slice().buffer);
    expect(bp.getUint32(0x202, true)).toBe(0x53726448); // the setup header copied
    expect(bp.getUint8(0x210)).toBe(0xff);              // type_of_loader: undefined
    expect(bp.getUint32(0x228, true)).toBe(CMDLINE);
    expect(bp.getUint32(0x218, true)).toBe(r.initrd!.address);
    expect(bp.getUint32(0x21c, true)).toBe(10000);
    expect(new TextDecoder().decode(t.memory.readBytes(CMDLINE, 23))).toBe('console=ttyS0 panic=-1\0');
    // E820: low RAM, EBDA, BIOS area (with the ACPI tables from 0xE0000), RAM from 1 MiB.
    expect(bp.getUint8(0x1e8)).toBe(4);
    const e820 = [0, 1, 2, 3].map((i) => [bp.getUint32(0x2d0 + 20 * i, true), bp.getUint32(0x2d8 + 20 * i, true), bp.getUint32(0x2e0 + 20 * i, true)]);
    expect(e820).toEqual([[0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xe0000, 0x20000, 2], [0x100000, 15 * MiB, 1]]);
    // The CPU: flat 32-bit through __BOOT_CS/__BOOT_DS, ESI = boot_params, at code32_start.
    expect(t.mode).toBe('flat32');
    expect(t.segments).toMatchObject({ cs: 0x10, ds: 0x18, ss: 0x18 });
    expect(t.gdt).toEqual({ base: LINUX_GDT, limit: 31 });
    expect(t.regs).toMatchObject({ eip: 0x100000, esi: BOOT_PARAMS, ebx: 0, ebp: 0, edi: 0 });
    const gdt = new DataView(t.memory.readBytes(LINUX_GDT, 32).slice().buffer);
    expect([gdt.getUint32(0x10, true), gdt.getUint32(0x14, true), gdt.getUint32(0x18, true), gdt.getUint32(0x1c, true)]).toEqual([0xffff, 0xcf9b00, 0xffff, 0xcf9300]);
  });

  it('leaves the SCI\'s line level-triggered in the ELCR, as a firmware does (on a VM\'s own board)', () => {
    const vm = new VM({ memory: 16 * MiB });
    expect([vm.io.in(ELCR_PORT, 1), vm.io.in(ELCR_PORT + 1, 1)]).toEqual([0, 0]); // both edge after reset
    loadLinux(vm, bzImage(), { name: 'bz' });
    // IRQ 9 (the FADT's SCI_INT) is ELCR2's bit 1; nothing else is level-triggered.
    expect([vm.io.in(ELCR_PORT, 1), vm.io.in(ELCR_PORT + 1, 1)]).toEqual([0, 1 << (IRQ_SCI - 8)]);
  });

  it('keeps the initrd below initrd_addr_max', () => {
    const t = new FakeTarget(16 * MiB);
    const r = loadLinux(t, bzImage({ initrdMax: 8 * MiB - 1 }), { name: 'bz', initrd: new Uint8Array(100) });
    expect(r.initrd!.address).toBe(8 * MiB - 4096);
  });

  it('refuses what it cannot boot, in one line', () => {
    const t = () => new FakeTarget(4 * MiB);
    expect(loadError(() => loadLinux(t(), new Uint8Array(1000), { name: 'x' }))).toBe('x: not a Linux kernel image (no boot flag 0xAA55 at 0x1fe)');
    expect(loadError(() => loadLinux(t(), bzImage({ noHdrS: true }), { name: 'x' }))).toMatch(/^x: not a bzImage \(no "HdrS" setup header/);
    expect(loadError(() => loadLinux(t(), bzImage({ version: 0x0201 }), { name: 'x' }))).toBe('x: boot protocol 2.01 is too old (this loader needs 2.02 or later)');
    expect(loadError(() => loadLinux(t(), bzImage({ loadflags: 0 }), { name: 'x' }))).toMatch(/^x: a zImage/);
    expect(loadError(() => loadLinux(t(), bzImage({ initSize: 8 * MiB }), { name: 'x' }))).toMatch(/^x: the kernel needs 8 MiB from 0x100000 \(RAM is 4 MiB\): give more with --mem$/);
    expect(loadError(() => loadLinux(t(), bzImage({ cmdlineSize: 10 }), { name: 'x', cmdline: 'a'.repeat(11) }))).toBe('x: the command line has 11 bytes; this kernel takes at most 10');
    expect(loadError(() => loadLinux(t(), bzImage(), { name: 'x', initrd: new Uint8Array(4 * MiB), initrdName: 'rd' }))).toMatch(/^rd: 4 MiB does not fit in RAM/);
    expect(loadError(() => loadLinux(t(), bzImage().subarray(0, 0x264 + 10), { name: 'x' }))).toMatch(/^x: not a Linux kernel image|^x: truncated/);
  });

  it('isBzImage tells a bzImage from other images', () => {
    expect(isBzImage(bzImage())).toBe(true);
    expect(isBzImage(new Uint8Array(0x300))).toBe(false);
  });
});

describe('x86jit run --kernel', () => {
  const CLI = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-linux-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'run', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('bad kernels and bad option combinations: one line, status 2', () => {
    const notKernel = join(dir, 'not-a-kernel');
    writeFileSync(notKernel, new Uint8Array(4096));
    const old = join(dir, 'old');
    writeFileSync(old, bzImage({ version: 0x0200 }));
    for (const [args, line] of [
      [['--kernel', notKernel], `x86jit: ${notKernel}: not a Linux kernel image (no boot flag 0xAA55 at 0x1fe)`],
      [['--kernel', old], `x86jit: ${old}: boot protocol 2.00 is too old (this loader needs 2.02 or later)`],
      [['--kernel', join(dir, 'missing')], new RegExp(`^x86jit: ${join(dir, 'missing')}: `)],
      [['--initrd', old], 'x86jit: --initrd and --append go with --kernel'],
      [['--kernel', old, '--bios'], "x86jit: --kernel excludes --bios, --load and --cmdline (the kernel's command line is --append)"],
      [['--kernel', old, 'rom.elf'], 'x86jit: run: --kernel boots a Linux kernel; do not name a ROM as well'],
      [[old], `x86jit: ${old}: a Linux kernel (bzImage), not a Multiboot image: boot it with --kernel`],
    ] as const) {
      const r = run(...args);
      expect(r.status, r.stderr).toBe(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      if (typeof line === 'string') expect(lines[0]).toBe(line); else expect(lines[0]).toMatch(line);
    }
  });
});
