// Raw binaries (`--load ADDR --entry ADDR [--bits 16|32]`): the file's bytes are copied to ADDR as they
// are, and the processor starts at the entry point from its reset state,
//   bits 32 (default): flat 32-bit protected mode (setFlat32), EIP = entry, ESP = BOOT_STACK_POINTER;
//   bits 16: real mode with CS:IP = (entry >> 4):(entry & 0xF); the other segments and SP stay as reset
//            leaves them (0), as for a boot sector.
import { checkEntry, checkInRam } from './guest-ram.ts';
import { LoadError } from './load-error.ts';
import { BOOT_STACK_POINTER, hex, type LoadedSegment, type LoadTarget } from './load-target.ts';

export interface RawOptions {
  /** Physical load address. */
  load: number;
  /** Physical address of the first instruction. */
  entry: number;
  bits?: 16 | 32;
  /** The image's name for messages. */
  name?: string;
}

export interface RawLoad {
  entry: number;
  segments: LoadedSegment[];
}

/** Highest address real mode reaches as segment:offset with offset < 16. */
const REAL_MODE_TOP = 0xfffff;

export function loadRaw(target: LoadTarget, bytes: Uint8Array, opts: RawOptions): RawLoad {
  const { load, entry, bits = 32, name = 'image' } = opts;
  const memory = target.memory;
  if (!Number.isInteger(load) || load < 0 || load >= 2 ** 32) throw new LoadError(`${name}: load address ${load} is not a 32-bit physical address`);
  if (!Number.isInteger(entry) || entry < 0 || entry >= 2 ** 32) throw new LoadError(`${name}: entry ${entry} is not a 32-bit physical address`);
  if (bits !== 16 && bits !== 32) throw new LoadError(`${name}: bits must be 16 or 32, not ${String(bits)}`);
  checkInRam(memory, name, `the image (${bytes.length} bytes)`, load, bytes.length);
  checkEntry(memory, name, entry);
  if (bits === 16) {
    if (entry > REAL_MODE_TOP) throw new LoadError(`${name}: entry ${hex(entry)} is beyond the 1 MiB that real mode reaches`);
    if (!target.setSegmentReal) throw new LoadError(`${name}: this machine cannot start a raw image in real mode (no setSegmentReal)`);
  }

  target.resetReal();
  memory.writeBytes(load, bytes);
  if (bits === 32) {
    target.setFlat32();
    target.setRegisters({ eip: entry, esp: BOOT_STACK_POINTER, eflags: 0x2 });
  } else {
    target.setSegmentReal!('cs', entry >>> 4);
    target.setRegisters({ eip: entry & 0xf });
  }
  return { entry, segments: [{ address: load, fileSize: bytes.length, memSize: bytes.length }] };
}
