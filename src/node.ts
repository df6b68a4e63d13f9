// x86jit/node: the core (src/index.ts, re-exported whole) and what needs Node — image files, binaryen and
// the JIT's translation worker with its disk cache, zlib-compressed snapshots and node:crypto's SHA-256,
// Linux i386 programs as processes (src/exec). Importing it installs Node's snapshot codecs and JIT host
// process-wide, for VMs made through either entry.
import { VM, type VMOptions } from './index.ts';
import { NODE_JIT_HOST } from '../jit/node-jit-host.ts';
import { setJitHost } from '../jit/jit-host.ts';
import { Process, type ProcessOptions } from './exec/process.ts';
import { setSnapshotCodecs } from './state/codecs.ts';
import { NODE_CODECS } from './state/node-codecs.ts';

setSnapshotCodecs(NODE_CODECS);
setJitHost(NODE_JIT_HOST);

export * from './index.ts';
export { readImageFile } from './loader/read-image-file.ts';
export { binaryenModuleCheck } from '../jit/binaryen-module-check.ts';

// ---- user-mode emulation: Linux i386 programs as processes (src/exec) ----
export { ExecError, Process, SIGNAL_NAMES, type ProcessExit, type ProcessOptions, type SyscallEvent } from './exec/process.ts';
export { syscallName } from './exec/syscall-names.ts';
export { formatSyscall } from './exec/strace.ts';

/** Guest RAM of a process's VM by default: the frames its mappings take (256 MiB). */
export const DEFAULT_PROCESS_MEMORY = 256 << 20;

/**
 * A Linux i386 process from a static executable's bytes, on a VM of its own (`memory`: its RAM, the frame
 * pool for mappings; `engine`/`jit` as for VM.create). `run()` it. Throws ExecError (one line) for a file it
 * cannot run.
 */
export async function createProcess(image: Uint8Array, path: string, opts: ProcessOptions & Pick<VMOptions, 'engine' | 'jit' | 'memory'> = {}): Promise<Process> {
  const { engine, jit, memory, ...processOpts } = opts;
  const vm = await VM.create({ engine, jit, memory: memory ?? DEFAULT_PROCESS_MEMORY });
  return new Process(vm, image, path, processOpts);
}
