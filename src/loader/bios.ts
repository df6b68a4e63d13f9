// BIOS-style images (`--bios`): a firmware image started from the processor's reset vector. As on a PC
// (and in QEMU's pc machine), the image is mapped read-only at the top of the 4 GiB space, ending at
// 0xFFFFFFFF, so that the reset vector F000:FFF0 (physical 0xFFFFFFF0) fetches its last 16 bytes; and
// its last min(size, 128 KiB) bytes also appear below 1 MiB, ending at 0x100000 (a 64 KiB image at
// 0xF0000), where real-mode code reaches it after the first far jump.
//
// The low copy is ordinary (writable) RAM here; QEMU maps that alias read-only until the firmware
// unlocks shadow RAM.
import { LoadError } from './load-error.ts';
import { hex, sizeText, type LoadedSegment, type LoadTarget } from './load-target.ts';

export const BIOS_MIN = 4 << 10, BIOS_MAX = 256 << 10;
/** Largest part of the image aliased below 1 MiB (0xE0000-0xFFFFF). */
export const BIOS_LOW_ALIAS = 128 << 10;

export interface BiosLoad {
  /** Physical address of the first instruction (the reset vector). */
  entry: number;
  /** Where the whole image is mapped (ROM). */
  romBase: number;
  /** The low alias in RAM. */
  segments: LoadedSegment[];
}

export function loadBios(target: LoadTarget, bytes: Uint8Array, name = 'BIOS image'): BiosLoad {
  const size = bytes.length;
  if (size < BIOS_MIN || size > BIOS_MAX || (size & (size - 1)) !== 0)
    throw new LoadError(`${name}: BIOS image is ${sizeText(size)} (${size} bytes); it must be a power of two between 4 KiB and 256 KiB`);
  const memory = target.memory;
  const romBase = 2 ** 32 - size;
  const low = Math.min(size, BIOS_LOW_ALIAS);
  const lowBase = 0x100000 - low;
  if (0x100000 > memory.ramSize) throw new LoadError(`${name}: the BIOS alias ${hex(lowBase)}-0xfffff needs at least 1 MiB of RAM`);
  try {
    memory.mapRom(romBase, bytes.slice());
  } catch (e) {
    if (e instanceof RangeError) throw new LoadError(`${name}: cannot map the BIOS at ${hex(romBase)}: ${e.message}`);
    throw e;
  }
  target.resetReal();
  memory.writeBytes(lowBase, bytes.subarray(size - low));
  return { entry: 0xfffffff0, romBase, segments: [{ address: lowBase, fileSize: low, memSize: low }] };
}
