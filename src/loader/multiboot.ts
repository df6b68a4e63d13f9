// Multiboot v1 kernels (Multiboot Specification 0.6.96): find the header, load the image — as ELF, or
// with the a.out kludge (flags bit 16) as one flat piece placed by the header's address fields — build
// the information structure, and leave the machine as section 3.2 says:
//   EAX = 0x2BADB002, EBX = physical address of the information structure,
//   CS = 32-bit code and DS/ES/FS/GS/SS = 32-bit data segments, base 0, limit 4 GiB (setFlat32),
//   CR0.PE = 1, paging off, EFLAGS = 0x2 (IF = 0, VM = 0), EIP = the entry point.
// ESP is undefined by the specification; it is left at BOOT_STACK_POINTER, where QEMU 7.2 leaves it.
// (QEMU also leaves EFLAGS.PF set, 0x6, a leftover of its option ROM; the other GPRs here are 0.)
//
// Like GRUB 2 and QEMU, flags bit 16 selects the a.out kludge even for an ELF file.
import { isElf, parseElf, planElf, writeElf } from './elf.ts';
import { checkEntry, checkInRam, checkNoOverlap, writeSegment } from './guest-ram.ts';
import { LoadError } from './load-error.ts';
import { BOOT_STACK_POINTER, hex, type LoadedSegment, type LoadTarget } from './load-target.ts';
import { buildMultibootInfo, infoEnd, INFO_LIMIT, MMAP_ADDR } from './multiboot-info.ts';
import {
  findMultibootHeader, MB_AOUT_KLUDGE, MB_MEMORY_INFO, MB_PAGE_ALIGN, MB_VIDEO_MODE, MULTIBOOT_SEARCH, type MultibootHeader,
} from './multiboot-header.ts';

/** EAX at the kernel's entry: proof that a Multiboot loader started it. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;

export interface MultibootOptions {
  /** The image's name for messages. */
  name: string;
  /** The kernel command line (default: the name, as a path). */
  cmdline?: string;
}

export interface MultibootLoad {
  entry: number;
  /** Physical address of the information structure (EBX). */
  infoAddress: number;
  kind: 'elf' | 'aout-kludge';
  segments: LoadedSegment[];
}

/** Requirement bits (0-15) this loader satisfies: module page alignment (there are no modules) and memory information. */
const SUPPORTED_REQUIREMENTS = MB_PAGE_ALIGN | MB_MEMORY_INFO;

export function loadMultiboot(target: LoadTarget, bytes: Uint8Array, opts: MultibootOptions): MultibootLoad {
  const { name } = opts;
  const memory = target.memory;
  const found = findMultibootHeader(bytes);
  const header = found.header;
  if (!header) {
    if (found.badChecksumAt !== undefined) throw new LoadError(`${name}: Multiboot magic at offset ${hex(found.badChecksumAt)} has a bad checksum (no valid Multiboot header in the first 8 KiB)`);
    throw new LoadError(`${name}: no Multiboot header in the first 8 KiB`);
  }
  checkHeader(header, bytes, name);

  let kind: MultibootLoad['kind'];
  let entry: number;
  let segments: LoadedSegment[];
  let write: () => void;
  if (header.flags & MB_AOUT_KLUDGE) {
    kind = 'aout-kludge';
    const plan = planAoutKludge(header, bytes, name);
    for (const s of plan.segments) checkInRam(memory, name, 'the image', s.address, s.memSize);
    entry = plan.entry;
    segments = plan.segments;
    const s = segments[0];
    write = () => writeSegment(memory, s.address, bytes.subarray(plan.fileOffset, plan.fileOffset + s.fileSize), s.memSize);
  } else {
    kind = 'elf';
    if (!isElf(bytes))
      throw new LoadError(`${name}: Multiboot header without the a.out-kludge flag (bit 16), so the image must be ELF, but it has no ELF magic`);
    const image = parseElf(bytes, name);
    ({ entry, segments } = planElf(memory, image, name));
    write = () => writeElf(memory, bytes, image);
  }
  checkEntry(memory, name, entry);

  const cmdline = new TextEncoder().encode(opts.cmdline ?? name);
  const end = infoEnd(cmdline.length);
  if (end > INFO_LIMIT) throw new LoadError(`${name}: command line of ${cmdline.length} bytes does not fit below ${hex(INFO_LIMIT)}`);
  checkNoOverlap(name, segments, MMAP_ADDR, end, 'the Multiboot information');

  target.resetReal();
  write();
  const infoAddress = buildMultibootInfo(memory, cmdline);
  target.setFlat32();
  target.setRegisters({ eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: infoAddress, eip: entry, esp: BOOT_STACK_POINTER, eflags: 0x2 });
  return { entry, infoAddress, kind, segments };
}

function checkHeader(h: MultibootHeader, bytes: Uint8Array, name: string): void {
  const where = `Multiboot header at offset ${hex(h.offset)}`;
  if (h.offset + h.size > MULTIBOOT_SEARCH) throw new LoadError(`${name}: ${where} (${h.size} bytes by its flags) runs past the first 8 KiB`);
  if (h.offset + h.size > bytes.length) throw new LoadError(`${name}: ${where} (${h.size} bytes by its flags) is cut off by the end of the file`);
  if (h.flags & MB_VIDEO_MODE) throw new LoadError(`${name}: ${where} requires a video mode (flags bit 2); x86jit has no display`);
  const unknown = h.flags & 0xffff & ~SUPPORTED_REQUIREMENTS;
  if (unknown) throw new LoadError(`${name}: ${where} requires features this loader does not know (flags ${hex(unknown)})`);
}

/**
 * The a.out kludge (specification 3.1.3): the file from (header offset - (header_addr - load_addr)) is
 * loaded at load_addr up to load_end_addr (0: to the end of the file), then zeros up to bss_end_addr
 * (0: no bss).
 */
function planAoutKludge(h: MultibootHeader, bytes: Uint8Array, name: string): { entry: number; fileOffset: number; segments: LoadedSegment[] } {
  const fail = (why: string): never => { throw new LoadError(`${name}: Multiboot a.out kludge: ${why}`); };
  const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = h;
  if (headerAddr < loadAddr) fail(`header_addr ${hex(headerAddr)} is below load_addr ${hex(loadAddr)}`);
  const fileOffset = h.offset - (headerAddr - loadAddr);
  if (fileOffset < 0) fail(`load_addr ${hex(loadAddr)} would start ${hex(-fileOffset)} bytes before the file (header_addr ${hex(headerAddr)} at file offset ${hex(h.offset)})`);
  let fileSize: number;
  if (loadEndAddr !== 0) {
    if (loadEndAddr < loadAddr) fail(`load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)}`);
    fileSize = loadEndAddr - loadAddr;
    if (fileOffset + fileSize > bytes.length) fail(`load_end_addr ${hex(loadEndAddr)} needs ${hex(fileSize)} bytes from file offset ${hex(fileOffset)}, but the file has ${hex(bytes.length)} bytes`);
  } else {
    fileSize = bytes.length - fileOffset;
  }
  let memSize = fileSize;
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loadAddr + fileSize) fail(`bss_end_addr ${hex(bssEndAddr)} is below the end of the loaded image ${hex(loadAddr + fileSize)}`);
    memSize = bssEndAddr - loadAddr;
  }
  return { entry: entryAddr, fileOffset, segments: [{ address: loadAddr, fileSize, memSize }] };
}
