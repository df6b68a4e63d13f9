// What a loader needs from a machine: guest RAM and a way to set the processor state the boot
// protocol promises. The VM class satisfies it; tests use a fake around a real PhysicalMemory.
import type { PhysicalMemory } from '../machine/memory.ts';
import type { FlatSelectors } from '../machine/vm.ts';

export type LoadRegister = 'eax' | 'ebx' | 'ecx' | 'edx' | 'esp' | 'ebp' | 'esi' | 'edi' | 'eip' | 'eflags';
export type SegmentName = 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss';

export interface LoadTarget {
  memory: PhysicalMemory;
  /**
   * 32-bit flat protected mode as Multiboot leaves it (CS = 0x08, data = 0x10, base 0, limit 4 GiB, IF = 0).
   * `selectors` names other selectors and the GDT in guest memory that holds them (the Linux boot protocol's
   * __BOOT_CS = 0x10 and __BOOT_DS = 0x18, which the kernel reloads).
   */
  setFlat32(selectors?: FlatSelectors): void;
  /** The processor's reset state (real mode, CS:EIP = F000:FFF0 with CS base FFFF0000, GPRs 0). */
  resetReal(): void;
  setRegisters(r: Partial<Record<LoadRegister, number>>): void;
  /** Real mode only: load a segment register with `selector` (base = selector << 4). Needed by loadRaw({ bits: 16 }). */
  setSegmentReal?(seg: SegmentName, selector: number): void;
  /** The board's I/O ports, for what a firmware programs into the chipset before it hands over (loadLinux: the ELCR). */
  io?: { in(port: number, size: 1 | 2 | 4): number; out(port: number, size: 1 | 2 | 4, value: number): void };
}

/** One piece of guest memory a loader filled: fileSize bytes from the image, then zeros up to memSize. */
export interface LoadedSegment {
  address: number;
  fileSize: number;
  memSize: number;
}

/**
 * Where loaders leave ESP when the boot protocol leaves it undefined: QEMU 7.2's Multiboot option ROM
 * hands over with ESP = 0x6F08 (measured with a probe kernel), a stack in free conventional memory below
 * the 0x7C00 boot-sector area and the Multiboot information at 0x9000. Using the same value keeps a
 * kernel that forgets to set up its own stack working the same way under both.
 */
export const BOOT_STACK_POINTER = 0x6f08;

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** "128 MiB" / "1.5 MiB" / "4 KiB" for messages. */
export function sizeText(bytes: number): string {
  if (bytes >= 1 << 20) return `${+(bytes / 2 ** 20).toFixed(2)} MiB`;
  if (bytes >= 1 << 10) return `${+(bytes / 2 ** 10).toFixed(2)} KiB`;
  return `${bytes} bytes`;
}
