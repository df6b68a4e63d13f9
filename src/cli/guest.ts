// What `x86jit run` and `x86jit profile` share: the ROM-loading and limit options, creating the VM,
// reading and loading the image and the run loop.
import { readFileSync } from 'node:fs';
import { migrateIn, type MigrateOutResult, migrateOut, type MigrationChannel } from '../machine/migration.ts';
import { connectTcp, socketChannel } from './migrate.ts';
import { createVM, DEFAULT_MEMORY, loadBios, loadImage, loadRaw, readImageFile, type ExitRecord, SnapshotError, VM, type VMOptions } from '../node.ts';
import { BIOS_MAX } from '../loader/bios.ts';
import { loadLinux } from '../loader/linux-boot.ts';
import { sizeText } from '../loader/load-target.ts';
import { checkModulesFromEnv, jitOptionsFromEnv } from './jit-env.ts';
import { emit, outputFailed } from './output.ts';
import { parseNumber, parseSeconds, parseSize, UsageError } from './parse.ts';

/** Instructions and milliseconds per slice between event-loop turns (so stdin input reaches the UART, and SIGINT/SIGTERM are seen). */
const SLICE = 20_000_000, SLICE_MS = 50;
/**
 * The guest's output is written every FLUSH_EVERY instructions it retires (and when its 4 KiB buffer fills,
 * it waits in HLT, or the run ends) — points fixed by the guest's own progress, not by where the clock cut
 * a slice, so that a closed pipe stops the same guest at the same place on any machine.
 */
const FLUSH_EVERY = 4_000_000;

/** The ROM-loading and limit options `run` shares with `profile` (parseArgs config). */
/** The help lines of the options in IMAGE_OPTIONS (run, profile). */
export const IMAGE_HELP = `  --mem SIZE                guest RAM, e.g. 64M, 1G (default 128M)
  --max-instructions N      stop after N instructions
  --timeout SECONDS         stop after this much wall time
  --cmdline TEXT            Multiboot command line (default: the ROM path)
  --load ADDR --entry ADDR  load a raw binary at ADDR and start at ADDR (flat 32-bit protected mode)
  --bits 16|32              with --load: start in real mode (16) or flat protected mode (32, default)
  --bios                    treat ROM as a BIOS image started from the reset vector
  --kernel BZIMAGE          boot a Linux kernel by the 32-bit boot protocol, in place of ROM (as
                            qemu-system-i386 -kernel; no BIOS): --initrd FILE, --append "COMMAND LINE"
`;

export const IMAGE_OPTIONS = {
  mem: { type: 'string' },
  'max-instructions': { type: 'string' },
  timeout: { type: 'string' },
  cmdline: { type: 'string' },
  load: { type: 'string' },
  entry: { type: 'string' },
  bits: { type: 'string' },
  bios: { type: 'boolean', default: false },
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  append: { type: 'string' },
} as const;

/** The IMAGE_OPTIONS values, checked. */
export interface ImageArgs {
  mem?: number;
  maxInstructions?: number;
  timeout?: number;
  cmdline?: string;
  load?: number;
  entry?: number;
  bits: 16 | 32;
  bios: boolean;
  /** --kernel/--initrd/--append: a Linux bzImage booted by the 32-bit boot protocol. */
  kernel?: string;
  initrd?: string;
  append?: string;
}

type ImageValues = { [K in keyof typeof IMAGE_OPTIONS]?: (typeof IMAGE_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** Check the IMAGE_OPTIONS values (UsageError on the first bad one). */
export function parseImageArgs(values: ImageValues): ImageArgs {
  const mem = values.mem !== undefined ? parseSize(values.mem, '--mem') : undefined;
  const maxInstructions = values['max-instructions'] !== undefined ? parseNumber(values['max-instructions'], '--max-instructions') : undefined;
  const timeout = values.timeout !== undefined ? parseSeconds(values.timeout, '--timeout') : undefined;
  if ((values.load === undefined) !== (values.entry === undefined)) throw new UsageError('--load and --entry go together');
  if (values.bios && values.load !== undefined) throw new UsageError('--bios and --load exclude each other');
  if (values.bits !== undefined && values.load === undefined) throw new UsageError('--bits applies to raw images (--load/--entry)');
  const bits = values.bits === undefined ? 32 : values.bits === '16' ? 16 : values.bits === '32' ? 32 : NaN;
  if (Number.isNaN(bits)) throw new UsageError(`--bits: '${values.bits}' is not 16 or 32`);
  const load = values.load !== undefined ? parseNumber(values.load, '--load', 0xffff_ffff) : undefined;
  const entry = values.entry !== undefined ? parseNumber(values.entry, '--entry', 0xffff_ffff) : undefined;
  if (values.kernel === undefined && (values.initrd !== undefined || values.append !== undefined)) throw new UsageError('--initrd and --append go with --kernel');
  if (values.kernel !== undefined && (values.bios || values.load !== undefined || values.cmdline !== undefined))
    throw new UsageError('--kernel excludes --bios, --load and --cmdline (the kernel\'s command line is --append)');
  return { mem, maxInstructions, timeout, cmdline: values.cmdline, load, entry, bits: bits as 16 | 32, bios: values.bios ?? false,
    kernel: values.kernel, initrd: values.initrd, append: values.append };
}

/**
 * createVM with --mem's RangeError as a usage error, the guest's COM1 and 0xe9 output going to the host
 * fds given (none: dropped), and the JIT's settings from the environment (jit-env.ts) for enableJit. A
 * write that fails (a closed pipe, a full disk) stops the run.
 */
export function createGuestVM(args: ImageArgs, opts: GuestVMOptions): VM {
  const out = guestSinks(opts);
  try {
    return out.attach(createVM({ ...opts, jit: jitOptionsFromEnv(), memory: args.mem, stdout: out.stdout, debugcon: out.debugcon }));
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--mem: ${e.message}`);
    throw e;
  }
}

type GuestVMOptions = Omit<VMOptions, 'memory' | 'stdout' | 'debugcon' | 'jit'> & { stdout?: 1 | 2; debugcon?: 1 | 2 };

/** The guest's output to host fds; a write that fails stops the VM attached. */
function guestSinks(opts: GuestVMOptions) {
  let vm: VM | undefined;
  const sink = (fd: 1 | 2 | undefined) => fd === undefined ? undefined : (b: Uint8Array) => { if (!emit(fd, b) && vm) stopForOutput(vm); };
  return { stdout: sink(opts.stdout), debugcon: sink(opts.debugcon), attach: (v: VM) => (vm = v) };
}

/**
 * A VM restored from snapshot files (a full snapshot, then its diffs), with the outputs and JIT settings
 * createGuestVM gives; --mem must match the snapshot's RAM if given. The JIT is turned on for engine 'jit'.
 */
export async function restoreGuestVM(files: string[], args: ImageArgs, opts: GuestVMOptions): Promise<VM> {
  const out = guestSinks(opts);
  const bytes = files.map(readSnapshotFile);
  await checkModulesFromEnv();
  let vm: VM;
  try {
    // The JIT goes on below, through enableJit, so that a bad X86JIT_JIT_* setting is a usage error. RAM comes
    // in lazily, a compressed chunk at a time as the guest touches it (a booted kernel's 22 MB snapshot: 0.6 s
    // eagerly), but every file is still checked whole (SHA-256) first: no damage can surface mid-run.
    vm = out.attach(await VM.fromState(bytes, {
      ...opts, engine: 'interp', jit: jitOptionsFromEnv(), memory: args.mem, stdout: out.stdout, debugcon: out.debugcon, lazyRam: 'chunk', integrity: 'sha256',
    }));
  } catch (e) {
    // One line that names the file(s): `x86jit: base.snap: snapshot is damaged: checksum mismatch`.
    if (e instanceof SnapshotError) throw new SnapshotError(`${files.join(' + ')}: ${e.message}`);
    throw e;
  }
  if (opts.engine === 'jit') await enableJit(vm, { threshold: jitOptionsFromEnv().threshold ?? RESTORE_JIT_THRESHOLD });
  return vm;
}

/**
 * Executions of a block before a restored guest's JIT compiles it (X86JIT_JIT_THRESHOLD overrides), against
 * a fresh guest's 400: a restore starts with an empty code cache, and what it first runs is cold (a booted
 * kernel's shell answering a command: 130 K instructions decoded for 2.6 M run). At 50, 164 regions were
 * translated in 5.8 s for code that then ran a few thousand times, `42` 21 s after the input against 2 s
 * interpreted; at 10,000 the JIT costs the restore nothing, and code that stays hot is still compiled.
 */
const RESTORE_JIT_THRESHOLD = 10_000;

/** A snapshot file's bytes; an unreadable one is a usage error (one line). */
export function readSnapshotFile(path: string): Uint8Array {
  // The Buffer's own bytes, not a copy (22 MB for a booted kernel's snapshot: ~10 ms).
  try { const b = readFileSync(path); return new Uint8Array(b.buffer, b.byteOffset, b.byteLength); } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`${path}: cannot read the snapshot: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message}`);
  }
}

/** End the run after the current instruction because stdout or stderr failed. */
export function stopForOutput(vm: VM): void {
  vm.requestStop({ reason: 'stopped', message: 'output failed' });
}

/**
 * The image at `path`, read no further than the largest image the options could load: the guest RAM
 * (--mem, default 128 MiB), or 256 KiB for a BIOS image. An endless pipe is refused, not read for ever.
 */
export function readGuestImage(path: string, args: ImageArgs): Uint8Array {
  if (args.bios) return readImageFile(path, BIOS_MAX, `the ${sizeText(BIOS_MAX)} a BIOS image can have`);
  const ram = args.mem ?? DEFAULT_MEMORY;
  return readImageFile(path, ram, `the ${sizeText(ram)} of guest RAM`);
}

/** Turn the JIT on; a bad X86JIT_JIT_THRESHOLD, X86JIT_JIT_TIER2 or X86JIT_JIT_TIER2_THRESHOLD is a usage error. */
export async function enableJit(vm: VM, opts: Parameters<VM['enableJit']>[0] = {}): Promise<void> {
  await checkModulesFromEnv();
  try { await vm.enableJit(opts); } catch (e) {
    if (e instanceof RangeError) {
      const v = /tier-2 threshold/.test(e.message) ? 'X86JIT_JIT_TIER2_THRESHOLD' : /tier 2/.test(e.message) ? 'X86JIT_JIT_TIER2' : 'X86JIT_JIT_THRESHOLD';
      throw new UsageError(`${v}: ${e.message}`);
    }
    throw e;
  }
}

/** The image to read: the one ROM named, or the --kernel. */
export function guestImagePath(command: string, positionals: string[], args: ImageArgs): string {
  if (args.kernel !== undefined) {
    if (positionals.length > 0) throw new UsageError(`${command}: --kernel boots a Linux kernel; do not name a ROM as well`);
    return args.kernel;
  }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? `${command}: missing ROM (try: x86jit ${command} --help)` : `${command}: expected one ROM, got ${positionals.length}`);
  return positionals[0];
}

/**
 * Load the image read from `path` as the options say: a Linux kernel (--kernel, with --initrd read here),
 * BIOS, raw, or Multiboot with the path as default command line.
 */
export function loadGuest(vm: VM, bytes: Uint8Array, path: string, args: ImageArgs): void {
  if (args.kernel !== undefined) {
    const ram = args.mem ?? DEFAULT_MEMORY;
    const initrd = args.initrd !== undefined ? readImageFile(args.initrd, ram, `the ${sizeText(ram)} of guest RAM`) : undefined;
    loadLinux(vm, bytes, { name: path, initrd, initrdName: args.initrd, cmdline: args.append });
  } else if (args.bios) loadBios(vm, bytes);
  else if (args.load !== undefined) loadRaw(vm, bytes, { load: args.load, entry: args.entry!, bits: args.bits });
  else loadImage(vm, bytes, path, { cmdline: args.cmdline ?? path });
}

export interface GuestRun {
  /** The exit record, with the --timeout / --max-instructions messages the CLI prints. */
  exit: ExitRecord;
  /** True when the run was stopped because a write to stdout or stderr failed (exit is then not the guest's). */
  outputFailed: boolean;
  /** Wall time of the run, s; performance.now() when it started (ms since process start); instructions run. */
  seconds: number;
  t0: number;
  instructions: number;
  /** The signal (SIGINT, SIGTERM) that ended the run, if one did: the exit record says where the guest was. */
  signal?: 'SIGINT' | 'SIGTERM';
  /** The user quit from the console (Ctrl-A x). */
  quit?: boolean;
}

/** Status of a process ended by a signal, as a shell reports it: 128 + its number. */
export const SIGNAL_STATUS = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Run the loaded guest to its end or the limits, in slices of at most 50 ms between event-loop turns
 * (`idle` is called at each turn; `quit` is asked after it). SIGINT or SIGTERM ends the run after the current slice (`signal`), so the
 * caller can still print its report; a second one ends the process at once.
 */
export async function runGuest(vm: VM, opts: { maxInstructions?: number; timeout?: number; idle?: () => void; quit?: () => boolean; trace?: (line: string) => void; traceRegisters?: boolean }): Promise<GuestRun> {
  const { maxInstructions, timeout, trace, traceRegisters } = opts;
  // performance.now() counts from process start: this is the start-up latency to the first guest instruction.
  const t0 = performance.now();
  const deadline = timeout !== undefined ? t0 + timeout * 1000 : Infinity;
  const total = maxInstructions ?? Infinity;
  const startCount = vm.instructions;
  let signal: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (name: 'SIGINT' | 'SIGTERM'): void => {
    if (signal !== undefined) { process.exit(SIGNAL_STATUS[name]); }
    signal = name;
  };
  const onInt = (): void => onSignal('SIGINT'), onTerm = (): void => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  // The limit counts instructions retired and, separately, faults and interrupts delivered, as vm.run's
  // maxInstructions does (a guest whose fault handler faults again retires nothing and must still end):
  // each slice gets what is left of the smaller of the two.
  const startDeliveries = vm.deliveries;
  let outputStop = false, nextFlush = startCount + FLUSH_EVERY;
  let exit: ExitRecord;
  try {
    for (;;) {
      const left = Math.min(total - (vm.instructions - startCount), total - (vm.deliveries - startDeliveries));
      const now = performance.now(), sliceEnd = Math.min(deadline, now + SLICE_MS);
      exit = vm.run({ maxInstructions: Math.min(SLICE, left, nextFlush - vm.instructions), timeout: Math.max(sliceEnd - now, 1) / 1000, trace, traceRegisters, holdOutput: true });
      // A slice ended by its own time bound, not by --timeout.
      const sliceTimedOut = exit.reason === 'timeout' && performance.now() < deadline;
      const limitReached = vm.instructions - startCount >= total || vm.deliveries - startDeliveries >= total;
      // The slice's clock and the instruction limit ran out together: the limit is what ended the run.
      if (sliceTimedOut && limitReached) exit = { ...exit, reason: 'max-instructions' };
      const goesOn = (exit.reason === 'max-instructions' || sliceTimedOut) && !limitReached;
      if (!goesOn || vm.instructions >= nextFlush) { vm.flushOutput(); while (nextFlush <= vm.instructions) nextFlush += FLUSH_EVERY; }
      // stopForOutput's stop, or a write that failed in the flush at the end of a slice (too late to stop it).
      outputStop = outputFailed() && (exit.reason === 'stopped' || ((exit.reason === 'max-instructions' || sliceTimedOut) && !limitReached));
      if (outputStop || (exit.reason !== 'max-instructions' && !sliceTimedOut) || limitReached) break;
      opts.idle?.();
      await new Promise((r) => setImmediate(r));
      if (signal !== undefined || opts.quit?.()) break;
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    vm.flushOutput();
  }
  if (signal !== undefined) {
    const r = vm.getRegisters();
    exit = { reason: 'stopped', cs: r.cs, eip: r.eip, message: `interrupted by ${signal}` };
    return { exit, outputFailed: false, seconds: (performance.now() - t0) / 1000, t0, instructions: vm.instructions - startCount, signal };
  }
  if (opts.quit?.()) {
    const r = vm.getRegisters();
    return { exit: { reason: 'stopped', cs: r.cs, eip: r.eip, message: 'quit from the console' }, outputFailed: false, seconds: (performance.now() - t0) / 1000, t0, instructions: vm.instructions - startCount, quit: true };
  }
  if (exit.reason === 'timeout') exit = { ...exit, message: `timed out after ${timeout} s` };
  if (exit.reason === 'max-instructions') {
    const retired = vm.instructions - startCount;
    exit = {
      ...exit, message: retired >= total ? `instruction limit reached (${maxInstructions} instructions)`
        : `instruction limit reached: ${vm.deliveries - startDeliveries} exceptions and interrupts delivered with only ${retired} instructions retired (a fault loop?)`,
    };
  }
  return { exit, outputFailed: outputStop, seconds: (performance.now() - t0) / 1000, t0, instructions: vm.instructions - startCount };
}

/** The options that start a guest from snapshot files instead of a ROM (parseArgs config). */
export const RESTORE_OPTIONS = { restore: { type: 'string', multiple: true } } as const;
export const RESTORE_HELP = `  --restore FILE            continue the guest saved in FILE (x86jit snapshot) instead of loading a ROM;
                            repeat it for a full snapshot followed by its diffs, oldest first
`;

/**
 * The guest a command runs: the ROM named by the one positional argument, loaded as the options say, or —
 * with --restore — the saved guest (then no ROM and no loading option is allowed). The JIT is on for
 * engine 'jit'.
 */
export async function openGuest(command: string, positionals: string[], restore: string[] | undefined, args: ImageArgs,
  opts: GuestVMOptions & { engine: 'interp' | 'jit' }): Promise<VM> {
  if (restore !== undefined && restore.length > 0) {
    if (positionals.length > 0) throw new UsageError(`${command}: --restore continues a saved guest; do not name a ROM as well`);
    if (args.load !== undefined || args.bios || args.cmdline !== undefined || args.kernel !== undefined) throw new UsageError(`${command}: --restore continues a saved guest; --load, --bios, --cmdline and --kernel do not apply`);
    return restoreGuestVM(restore, args, opts);
  }
  const path = guestImagePath(command, positionals, args);
  const vm = createGuestVM(args, { ...opts, clock: opts.clock ?? 'virtual' });
  const bytes = readGuestImage(path, args);
  // [JIT] binaryen loads here, before the clock starts, only for --engine jit.
  if (opts.engine === 'jit') await enableJit(vm);
  loadGuest(vm, bytes, path, args);
  return vm;
}

/** The guest a source sends over `channel` (x86jit run --incoming), with createGuestVM's outputs and JIT settings. */
export async function incomingGuestVM(channel: MigrationChannel, args: ImageArgs, opts: GuestVMOptions & { engine: 'interp' | 'jit' }): Promise<VM> {
  const out = guestSinks(opts);
  await checkModulesFromEnv();
  const vm = out.attach(await migrateIn(VM, channel, { ...opts, engine: 'interp', jit: jitOptionsFromEnv(), memory: args.mem, stdout: out.stdout, debugcon: out.debugcon }));
  channel.close();
  // The JIT goes on here, through enableJit, so that a bad X86JIT_JIT_* setting is a usage error.
  if (opts.engine === 'jit') await enableJit(vm);
  return vm;
}

/** Migrate the guest to a destination over TCP, running it in slices meanwhile (x86jit run --migrate-to). */
export async function migrateGuest(vm: VM, to: { host: string; port: number }, maxDowntimeMs: number): Promise<MigrateOutResult> {
  let socket;
  try { socket = await connectTcp(to.host, to.port); } catch (e) {
    return { outcome: 'failed', reason: `cannot connect: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  const channel = socketChannel(socket);
  const runSlice = (): ExitRecord | null => { const e = vm.run({ maxInstructions: SLICE / 20 }); return e.reason === 'max-instructions' ? null : e; };
  const result = await migrateOut(vm, channel, { maxDowntimeMs, runSlice });
  channel.close();
  return result;
}
