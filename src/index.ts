// x86jit's platform-neutral core, the package's main entry (`x86jit`): VMs with both engines, loaders of
// image bytes, snapshots, migration, the gdb protocol, the decoder. It runs wherever WebAssembly does (Node,
// browsers, workers): nothing here imports node:, reads `process`, or needs SharedArrayBuffer.
// What needs Node — files, the translation worker and binaryen, zlib-compressed snapshots, Linux
// processes — is x86jit/node (src/node.ts), which re-exports all of this.
//
//   import { createVM, loadImage } from 'x86jit';
//   const vm = createVM({ memory: 64 << 20, stdout: (b) => console.log(new TextDecoder().decode(b)) });
//   loadImage(vm, bytes, 'kernel.elf');
//   const exit = vm.run({ maxInstructions: 1e9, timeout: 10 });
//
// The top of the tree: with src/node.ts, the one place in src/ besides the CLI that may import jit/. It
// attaches the JIT to the VM as its accelerator (src/cpu/accelerator.ts), so engine 'jit' works with the
// VM exported here.
import { VM as MachineVM, type VMOptions } from './machine/vm.ts';
import { createJit } from '../jit/jit.ts';

export { DEFAULT_MEMORY } from './machine/vm.ts';
export type { ExitReason, ExitRecord, JitOptions, Registers, RegisterName, RestoreOptions, RunOptions, VMOptions } from './machine/vm.ts';
export type { AnyRegisterName, AsyncRunOptions, HookCallbacks, HookHandle, HookKind, HookRange, SegmentCache, VMEvents } from './machine/vm.ts';
export type { Accelerator, AcceleratorConfig, AcceleratorFactory } from './cpu/accelerator.ts';
export type { JitExitReason, JitProfile, JitStats, RegionDump, RegionProfile } from './cpu/accelerator-stats.ts';
export { createJit } from '../jit/jit.ts';
export { setModuleCheck } from '../jit/module-check.ts';
export { DirtyPages, PhysicalMemory } from './machine/memory.ts';
export type { MmioDevice } from './machine/memory.ts';
export { IoBus } from './machine/io-bus.ts';
export type { PortDevice } from './machine/io-bus.ts';
export { decode, decodeBytes } from './decoder/decode.ts';
export { formatIntel } from './decoder/format-intel.ts';
export type { Instruction, Operand } from './decoder/instruction.ts';
export { loadImage } from './loader/detect.ts';
export { loadMultiboot } from './loader/multiboot.ts';
export { isBzImage, loadLinux, type LinuxBootOptions, type LinuxLoad } from './loader/linux-boot.ts';
export { loadRaw } from './loader/raw.ts';
export { loadBios } from './loader/bios.ts';
export { LoadError } from './loader/load-error.ts';
export { SnapshotError, snapshotId } from './state/snapshot-file.ts';
export { CHUNK_CACHE_BYTES, chunkCacheStats, clearChunkCache } from './state/chunk-cache.ts';
export type { SaveOptions } from './machine/snapshot.ts';
export { messagePortChannel, migrateIn, migrateOut, type MigrateOutOptions, type MigrateOutResult, type MigrationChannel, type MigrationReport } from './machine/migration.ts';
export { GdbSession, type GdbSessionEnd, type GdbSessionOptions } from './debug/gdb-remote.ts';
export { EXIT_REASONS, formatExitStats } from './hv/exits.ts';
export type { ExitCounter, ExitReasonName } from './hv/exits.ts';
export { eflagsDifferences, formatDivergence, lockstep, type Difference, type Divergence, type LockstepOptions, type LockstepResult } from '../jit/lockstep.ts';
export { HC_CONSOLE_WRITE, HC_EXIT, HC_FEATURES, HC_TIME, HC_YIELD, KVM_ENOSYS } from './hv/hypercalls.ts';

/** The VM with the JIT as its accelerator unless the options name another (`VM.create` makes one of these). */
export class VM extends MachineVM {
  constructor(opts: VMOptions = {}) {
    super({ ...opts, accelerator: opts.accelerator ?? createJit });
  }
}

/** Create a VM (guest RAM, devices, one vCPU) in the processor's reset state. */
export function createVM(opts: VMOptions = {}): VM {
  return new VM(opts);
}
