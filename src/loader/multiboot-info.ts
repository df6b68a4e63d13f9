// The Multiboot information structure (Multiboot Specification 0.6.96, section 3.3) that the loader
// builds in guest RAM for the kernel, laid out where QEMU puts it: the memory map at 0x9000 and the
// structure itself at 0x9500 (QEMU hw/i386/multiboot.c, ADDR_E820_MAP and ADDR_MBI); the strings follow
// the structure (QEMU puts them after the kernel).
//
// The memory map mirrors what QEMU 7.2 with SeaBIOS reports (read back with a probe kernel):
//   0x00000000-0x0009fbff available   (conventional memory)
//   0x0009fc00-0x0009ffff reserved    (extended BIOS data area)
//   0x000f0000-0x000fffff reserved    (BIOS)
//   0x00100000-RAM end    available
// QEMU additionally reserves the top 128 KiB of RAM (SeaBIOS's tables) and 0xfffc0000-0xffffffff (the
// BIOS ROM); this machine has neither, so all RAM above 1 MiB is available and mem_upper counts all of it.
import type { PhysicalMemory } from '../machine/memory.ts';

export const MMAP_ADDR = 0x9000;
export const INFO_ADDR = 0x9500;
/** sizeof(multiboot_info). */
export const INFO_SIZE = 88;
export const STRINGS_ADDR = INFO_ADDR + INFO_SIZE;
/** The information must end below the extended BIOS data area (which the map reserves). */
export const INFO_LIMIT = 0x9fc00;

/** multiboot_info.flags bits: which fields are valid. */
export const MBI_MEMORY = 1 << 0, MBI_BOOT_DEVICE = 1 << 1, MBI_CMDLINE = 1 << 2, MBI_MODS = 1 << 3, MBI_MMAP = 1 << 6, MBI_LOADER_NAME = 1 << 9;

/** Byte offsets of the fields this loader fills. */
const F_FLAGS = 0, F_MEM_LOWER = 4, F_MEM_UPPER = 8, F_CMDLINE = 16, F_MMAP_LENGTH = 44, F_MMAP_ADDR = 48, F_LOADER_NAME = 64;

export const MMAP_AVAILABLE = 1, MMAP_RESERVED = 2;
/** Each memory-map entry: size (u32, not counting itself), base_addr (u64), length (u64), type (u32). */
const MMAP_ENTRY = 24;

export const LOADER_NAME = 'x86jit';

export interface MemoryMapEntry { base: number; length: number; type: number }

export function memoryMap(ramSize: number): MemoryMapEntry[] {
  const map: MemoryMapEntry[] = [
    { base: 0, length: 0x9fc00, type: MMAP_AVAILABLE },
    { base: 0x9fc00, length: 0x400, type: MMAP_RESERVED },
    { base: 0xf0000, length: 0x10000, type: MMAP_RESERVED },
  ];
  if (ramSize > 0x100000) map.push({ base: 0x100000, length: ramSize - 0x100000, type: MMAP_AVAILABLE });
  return map;
}

/** End (exclusive) of the area buildMultibootInfo fills for a command line of this many UTF-8 bytes. */
export function infoEnd(cmdlineBytes: number): number {
  return STRINGS_ADDR + LOADER_NAME.length + 1 + cmdlineBytes + 1;
}

/** Write the memory map, the information structure and its strings; returns the structure's address (for EBX). */
export function buildMultibootInfo(memory: PhysicalMemory, cmdline: Uint8Array): number {
  const end = infoEnd(cmdline.length);
  const block = new Uint8Array(end - MMAP_ADDR);
  const v = new DataView(block.buffer);
  const at = (addr: number): number => addr - MMAP_ADDR;

  const map = memoryMap(memory.ramSize);
  map.forEach((e, i) => {
    const o = at(MMAP_ADDR) + i * MMAP_ENTRY;
    v.setUint32(o, MMAP_ENTRY - 4, true);
    v.setUint32(o + 4, e.base, true); v.setUint32(o + 8, 0, true);
    v.setUint32(o + 12, e.length, true); v.setUint32(o + 16, 0, true);
    v.setUint32(o + 20, e.type, true);
  });

  const nameAddr = STRINGS_ADDR, cmdlineAddr = STRINGS_ADDR + LOADER_NAME.length + 1;
  block.set(new TextEncoder().encode(LOADER_NAME), at(nameAddr));
  block.set(cmdline, at(cmdlineAddr));

  const info = at(INFO_ADDR);
  v.setUint32(info + F_FLAGS, MBI_MEMORY | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME, true);
  v.setUint32(info + F_MEM_LOWER, 0x9fc00 / 1024, true); // KiB from 0 (639, as QEMU)
  v.setUint32(info + F_MEM_UPPER, (memory.ramSize - 0x100000) / 1024, true); // KiB from 1 MiB to the first hole
  v.setUint32(info + F_CMDLINE, cmdlineAddr, true);
  v.setUint32(info + F_MMAP_LENGTH, map.length * MMAP_ENTRY, true);
  v.setUint32(info + F_MMAP_ADDR, MMAP_ADDR, true);
  v.setUint32(info + F_LOADER_NAME, nameAddr, true);

  memory.writeBytes(MMAP_ADDR, block);
  return INFO_ADDR;
}
