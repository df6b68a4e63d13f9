// Placing loaded bytes in guest RAM: bounds checks with one-line messages, and the copy itself.
import type { PhysicalMemory } from '../machine/memory.ts';
import { LoadError } from './load-error.ts';
import { hex, sizeText, type LoadedSegment } from './load-target.ts';

/** Throw unless [address, address + size) lies in guest RAM. `what` names the piece, e.g. "ELF segment 1". */
export function checkInRam(memory: PhysicalMemory, name: string, what: string, address: number, size: number): void {
  if (address + size > 2 ** 32) throw new LoadError(`${name}: ${what} (${hex(address)}+${hex(size)}) wraps past 4 GiB`);
  if (address + size > memory.ramSize)
    throw new LoadError(`${name}: ${what} (${hex(address)}-${hex(address + size - 1)}) lies outside RAM (${sizeText(memory.ramSize)}, up to ${hex(memory.ramSize - 1)})`);
}

/** Throw unless the entry point is an address in guest RAM. */
export function checkEntry(memory: PhysicalMemory, name: string, entry: number): void {
  if (entry >= memory.ramSize) throw new LoadError(`${name}: entry point ${hex(entry)} lies outside RAM (${sizeText(memory.ramSize)})`);
}

/** Throw if any segment overlaps [base, end): a region the loader itself fills (boot information). */
export function checkNoOverlap(name: string, segments: readonly LoadedSegment[], base: number, end: number, what: string): void {
  for (const s of segments)
    if (s.memSize > 0 && s.address < end && base < s.address + s.memSize)
      throw new LoadError(`${name}: the image (${hex(s.address)}-${hex(s.address + s.memSize - 1)}) overlaps ${what} at ${hex(base)}-${hex(end - 1)}`);
}

const ZEROS = new Uint8Array(1 << 16);

/** Copy `data` to `address` and zero the rest up to memSize (the bss). Bounds were checked before. */
export function writeSegment(memory: PhysicalMemory, address: number, data: Uint8Array, memSize: number): void {
  memory.writeBytes(address, data);
  for (let a = address + data.length, end = address + memSize; a < end; a += ZEROS.length)
    memory.writeBytes(a, end - a >= ZEROS.length ? ZEROS : ZEROS.subarray(0, end - a));
}
