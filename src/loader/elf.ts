// ELF32 little-endian i386 executables (System V ABI, ELF "generic" and i386 supplements): parse and
// validate the file header and program headers, then copy PT_LOAD segments to guest RAM.
//
// Segments are placed at their physical address (p_paddr), as GRUB and QEMU load Multiboot kernels: a
// higher-half kernel links at 0xC0100000 (p_vaddr) but loads at 0x100000 (p_paddr). The entry point
// e_entry is a virtual address; when it falls inside a segment it is moved by that segment's
// p_vaddr - p_paddr (GRUB 2's rule), otherwise it is used as it is.
//
// Everything is checked before the first byte is written, so a rejected image leaves RAM untouched.
import type { PhysicalMemory } from '../machine/memory.ts';
import { checkEntry, checkInRam, writeSegment } from './guest-ram.ts';
import { LoadError } from './load-error.ts';
import { hex, type LoadedSegment } from './load-target.ts';

/** Sizes of Elf32_Ehdr and Elf32_Phdr. */
const EHDR_SIZE = 52, PHDR_SIZE = 32;
const ELFCLASS32 = 1, ELFCLASS64 = 2, ELFDATA2LSB = 1, EV_CURRENT = 1;
const ET_REL = 1, ET_EXEC = 2, ET_DYN = 3, ET_CORE = 4;
const EM_386 = 3, EM_X86_64 = 62;
const PT_LOAD = 1, PT_INTERP = 3;
const PN_XNUM = 0xffff;

const MACHINE_NAMES: Record<number, string> = { 2: 'SPARC', 8: 'MIPS', 20: 'PowerPC', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V' };

/** A PT_LOAD program header with something to load (p_memsz > 0). */
export interface ElfSegment {
  /** Index of the program header in the table. */
  index: number;
  offset: number;
  vaddr: number;
  paddr: number;
  fileSize: number;
  memSize: number;
  /** PF_X = 1, PF_W = 2, PF_R = 4. */
  flags: number;
}

export interface ElfImage {
  /** e_entry as written in the header (a virtual address). */
  entry: number;
  segments: ElfSegment[];
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

/** Parse and validate an i386 ELF executable's structure (not yet against any machine's RAM). */
export function parseElf(bytes: Uint8Array, name: string): ElfImage {
  const fail = (why: string): never => { throw new LoadError(`${name}: ${why}`); };
  if (!isElf(bytes)) fail('not an ELF file (no \\x7fELF magic)');
  if (bytes.length < EHDR_SIZE) fail(`truncated ELF header (${bytes.length} bytes, need ${EHDR_SIZE})`);
  const cls = bytes[4], data = bytes[5];
  if (cls === ELFCLASS64) fail('64-bit ELF (ELFCLASS64); x86jit loads 32-bit i386 executables');
  if (cls !== ELFCLASS32) fail(`bad ELF class ${cls}`);
  if (data !== ELFDATA2LSB) fail(data === 2 ? 'big-endian ELF; i386 executables are little-endian' : `bad ELF data encoding ${data}`);
  if (bytes[6] !== EV_CURRENT) fail(`bad ELF version ${bytes[6]}`);

  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = v.getUint16(16, true), machine = v.getUint16(18, true), version = v.getUint32(20, true);
  if (type !== ET_EXEC) {
    if (type === ET_REL) fail('relocatable object (ET_REL), not an executable: link it first');
    if (type === ET_DYN) fail('position-independent executable (ET_DYN); link a static ET_EXEC (e.g. -static -no-pie)');
    if (type === ET_CORE) fail('core dump (ET_CORE), not an executable');
    fail(`ELF type ${type} is not an executable (ET_EXEC)`);
  }
  if (machine !== EM_386) fail(`ELF machine ${machine}${MACHINE_NAMES[machine] ? ` (${MACHINE_NAMES[machine]})` : ''}, not i386 (3)${machine === EM_X86_64 ? '; build with -m32' : ''}`);
  if (version !== EV_CURRENT) fail(`bad ELF version ${version}`);
  const entry = v.getUint32(24, true), phoff = v.getUint32(28, true);
  const phentsize = v.getUint16(42, true), phnum = v.getUint16(44, true);
  if (phnum === 0) fail('ELF has no program headers');
  if (phnum === PN_XNUM) fail('ELF uses extended program header numbering (PN_XNUM), which is not supported');
  if (phentsize < PHDR_SIZE) fail(`ELF program header size ${phentsize} is smaller than ${PHDR_SIZE}`);

  for (let i = 0; i < phnum; i++)
    if (phoff + i * phentsize + PHDR_SIZE > bytes.length) fail(`ELF program header ${i} lies outside the file`);
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const ptype = v.getUint32(at, true);
    if (ptype === PT_INTERP) fail(`ELF program header ${i} is PT_INTERP: dynamically linked executables are not supported`);
    if (ptype !== PT_LOAD) continue;
    const seg: ElfSegment = {
      index: i,
      offset: v.getUint32(at + 4, true),
      vaddr: v.getUint32(at + 8, true),
      paddr: v.getUint32(at + 12, true),
      fileSize: v.getUint32(at + 16, true),
      memSize: v.getUint32(at + 20, true),
      flags: v.getUint32(at + 24, true),
    };
    if (seg.fileSize > seg.memSize) fail(`ELF segment ${i}: file size ${hex(seg.fileSize)} exceeds memory size ${hex(seg.memSize)}`);
    if (seg.fileSize > 0 && seg.offset + seg.fileSize > bytes.length)
      fail(`ELF segment ${i} (file offset ${hex(seg.offset)}, ${hex(seg.fileSize)} bytes) lies outside the file (${hex(bytes.length)} bytes)`);
    if (seg.paddr + seg.memSize > 2 ** 32) fail(`ELF segment ${i} (${hex(seg.paddr)}+${hex(seg.memSize)}) wraps past 4 GiB`);
    if (seg.memSize > 0) segments.push(seg);
  }
  if (segments.length === 0) fail('ELF has no loadable (PT_LOAD) segments');
  return { entry, segments };
}

/** e_entry moved from the virtual to the physical address space through the segment containing it. */
export function physicalEntry(image: ElfImage): number {
  for (const s of image.segments)
    if (image.entry >= s.vaddr && image.entry < s.vaddr + s.memSize) return (image.entry - s.vaddr + s.paddr) >>> 0;
  return image.entry;
}

/** Check an ELF image's segments and entry against guest RAM; returns what loadElfImage would write. */
export function planElf(memory: PhysicalMemory, image: ElfImage, name: string): { entry: number; segments: LoadedSegment[] } {
  for (const s of image.segments) checkInRam(memory, name, `ELF segment ${s.index}`, s.paddr, s.memSize);
  const entry = physicalEntry(image);
  checkEntry(memory, name, entry);
  return { entry, segments: image.segments.map((s) => ({ address: s.paddr, fileSize: s.fileSize, memSize: s.memSize })) };
}

/** Copy the PT_LOAD segments (file bytes, then zeros up to p_memsz). Call after planElf. */
export function writeElf(memory: PhysicalMemory, bytes: Uint8Array, image: ElfImage): void {
  for (const s of image.segments) writeSegment(memory, s.paddr, bytes.subarray(s.offset, s.offset + s.fileSize), s.memSize);
}

/** Parse, check and load an ELF executable into guest RAM. Returns the physical entry point and what was written. */
export function loadElf(memory: PhysicalMemory, bytes: Uint8Array, name: string): { entry: number; segments: LoadedSegment[] } {
  const image = parseElf(bytes, name);
  const plan = planElf(memory, image, name);
  writeElf(memory, bytes, image);
  return plan;
}
