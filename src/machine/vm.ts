// A virtual machine: guest RAM in one WebAssembly.Memory, the port-I/O bus with the PC devices wired
// to it, one vCPU and its engine. run() executes until something ends the run and returns an exit
// record (KVM's habit: the loop returns a reason, the caller decides what to do with it).
import { fpuReset } from '../cpu/fpu/fpu-state.ts';
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import { ATTR_DB, ATTR_G, ATTR_P, ATTR_S, BREAK_IRQ, BREAK_STOP, BREAK_TIME, Cpu } from '../cpu/cpu.ts';
import { getEflags, setEflags } from '../cpu/flags.ts';
import { Interpreter } from '../cpu/interpreter.ts';
import { MAX_BLOCK_INSTRUCTIONS } from '../cpu/code-cache.ts';
import { CpuFault } from '../cpu/fault.ts';
import { deliverException, deliverInterrupt, TripleFault, Unsupported } from '../cpu/interrupts.ts';
import {
  CODE32, CPL, CR0, CR0_ET, CR0_PE, CR2, CR3, CR4, DR_SLOT, EFLAGS, EIP, IDTR_BASE, IDTR_LIMIT, GDTR_BASE, GDTR_LIMIT, IF, LDTR_SLOT,
  REG_NAMES32, SEG_BASE, SEG_SEL, segSlot, TR_SLOT,
} from '../cpu/state.ts';
import { ATTR_UNUSABLE } from '../cpu/cpu.ts';
import type { Uart16550 } from '../devices/uart16550.ts';
import type { CmosRtc } from '../devices/cmos-rtc.ts';
import type { I8042 } from '../devices/i8042.ts';
import type { PciHost } from '../devices/pci-host.ts';
import type { AcpiPm } from '../devices/acpi-pm.ts';
import type { PicPair } from '../devices/pic8259.ts';
import type { IoApic } from '../devices/io-apic.ts';
import type { LocalApic } from '../devices/local-apic.ts';
import type { Pit8254 } from '../devices/pit8254.ts';
import { type Board, pcBoard } from './board.ts';
import { EXIT_DEBUG_EXIT, EXIT_HLT, EXIT_IRQ_WINDOW, EXIT_RESET, EXIT_SHUTDOWN, type ExitCounter } from '../hv/exits.ts';
import { IoBus } from './io-bus.ts';
import { type AcceleratorConfig, type AcceleratorFactory, DEFAULT_JIT_THRESHOLD } from '../cpu/accelerator.ts';
import type { JitProfile, JitStats, RegionDump } from '../cpu/accelerator-stats.ts';
import { PhysicalMemory } from './memory.ts';
import { readSnapshot, restoreSnapshot, type SaveOptions, SnapshotError, snapshotId, writeSnapshot } from './snapshot.ts';
import { SnapshotTracker } from './snapshot-tracker.ts';
import { CpuHooks, HOOK_KINDS, type Hook, type HookCallbacks, type HookKind } from '../cpu/hooks.ts';
import { type InterruptIntercept } from '../cpu/cpu.ts';
import { UD } from '../cpu/fault.ts';
import { Emitter } from './emitter.ts';
import { OutputMatch } from './output-match.ts';
import type { MmioDevice } from './memory.ts';
import {
  type AnyRegisterName, readModelSpecific, readRegister, readSegment, type SegmentCache, type SystemSegmentName, writeModelSpecific,
  writeRegister, writeSegment,
} from './registers.ts';
import { type AsyncRunOptions, runAsync } from './vm-async.ts';
import { armDebugRegisters } from './debug-breakpoints.ts';
import { sleepMs } from './sleep.ts';

export type { AsyncRunOptions } from './vm-async.ts';
export type { HookCallbacks, HookKind } from '../cpu/hooks.ts';
export type { AnyRegisterName, SegmentCache } from './registers.ts';

/** What vm.on() can listen to: COM1 output as it is written out, and each run's end. */
export interface VMEvents extends Record<string, unknown> {
  'serial-output': Uint8Array;
  exit: ExitRecord;
  /** After each run: the VM-exit counters (vm.exitStats()). */
  'exit-stats': ExitCounter[];
}

/** What vm.hook() returns: remove() uninstalls the hook (as vm.unhook(handle)). */
export interface HookHandle {
  readonly kind: HookKind;
  remove(): void;
}

/** A hook's range: inclusive bounds (linear addresses; physical for mem-unmapped/mem-prot; ports; vectors; hypercall numbers). Default: everything. */
export interface HookRange { begin?: number; end?: number }

/** Selectors of a flat 32-bit start other than Multiboot's, and the GDT in guest memory that holds them (VM.setFlat32). */
export interface FlatSelectors { code: number; data: number; gdtBase: number; gdtLimit: number }

/**
 * Why a run ended. 'stopped': the host asked (vm.requestStop from outside the guest, e.g. its output closed).
 * 'reset': the guest reset the machine (8042 command 0xFE, PIIX3 port 0xCF9); the run ends there as QEMU's
 * `-no-reboot` ends it, and nothing is reset: a further run goes on after the instruction that asked.
 * 'poweroff': the guest entered ACPI S5 (the PM device's SLP_EN), the end QEMU exits 0 for.
 * 'idle': (RunOptions.returnWhenIdle) the guest is halted until a timer event `idleMs` away on the host
 * clock; run() again then (or sooner: input wakes it) and it goes on exactly as if the run had waited.
 */
export type ExitReason = 'debug-exit' | 'until' | 'breakpoint' | 'max-instructions' | 'timeout' | 'halt' | 'triple-fault' | 'unsupported' | 'stopped' | 'reset' | 'poweroff' | 'idle';

export interface ExitRecord {
  reason: ExitReason;
  /** CS selector and EIP where the run stopped (the next instruction to execute). */
  cs: number;
  eip: number;
  /** debug-exit: the exit status the guest asked for, (value << 1) | 1, as QEMU's isa-debug-exit. */
  status?: number;
  /** One line for humans: what happened and where. */
  message: string;
  /** idle: milliseconds on the host clock until the event the halted guest waits for. */
  idleMs?: number;
}

export interface RunOptions {
  /** Set EIP to this offset before running (Unicorn's `begin`). */
  begin?: number;
  /** Alias of maxInstructions (Unicorn's `count`); maxInstructions wins when both are given. */
  count?: number;
  /**
   * Stop after exactly this many instructions (counted over this run() call) — or once as many faults and
   * interrupts have been delivered, whichever comes first: a guest whose fault handler faults again
   * retires nothing, and must still end.
   */
  maxInstructions?: number;
  /** Wall-clock limit in seconds. */
  timeout?: number;
  /** Stop when EIP reaches this offset (before executing the instruction there). */
  until?: number;
  /**
   * Stop (exit 'breakpoint') before executing an instruction at one of these linear addresses (CS base +
   * EIP) — but not the first one of this run, so that a run started at a breakpoint goes on from it. The
   * interpreter runs, one instruction at a time, while breakpoints are given (the JIT's compiled code
   * does not check them).
   */
  breakpoints?: ReadonlySet<number>;
  /** One line per executed instruction (slow path). */
  trace?: (line: string) => void;
  /** Trace lines carry the registers and flags (default true). */
  traceRegisters?: boolean;
  /**
   * Keep the guest's buffered output when this run returns (default false: it is written out then). A
   * caller running a guest in slices of wall time writes it at points of its own (vm.flushOutput()), so
   * that where a write fails — a closed pipe — depends on the guest, not on where the clock cut a slice.
   * A full buffer, and HLT waiting for an interrupt, still write it out.
   */
  holdOutput?: boolean;
  /**
   * A guest halted waiting for a timer event ms or more away on the host clock (the real-time clock, or
   * the virtual one with idle 'sleep') ends the run with exit 'idle' and `idleMs`, rather than blocking
   * the thread in the wait: the caller waits as it likes (a timer in an event loop — a browser page's
   * main thread may not block —, a scheduler that gives the core to another VM meanwhile) and runs again.
   * Shorter waits are slept through in the run.
   */
  returnWhenIdle?: boolean;
}

/** VM.fromState's options: create()'s, and how RAM comes in. */
export interface RestoreOptions extends VMOptions {
  /**
   * Copy RAM pages in from the snapshot when the guest or the host first touches them (default false: all
   * before fromState returns). The VM starts in the time it takes to read the file's state, and holds only
   * the pages it touches (a clone: the pages it uses). The snapshot files are kept until every page is in;
   * `memory.ram` must not be read directly before `memory.loadAllPages()` (read/readBytes are safe). The file
   * is checked by its CRC-32s, not its SHA-256 (snapshot-file.ts's DecodeOptions): all but the RAM chunks
   * before fromState returns; a chunk whose CRC-32 does not match, or that does not decompress, throws
   * SnapshotError from the access that needed it instead of from fromState (before the guest sees a byte of it). Compiled code without paging runs only once every
   * page is in (it reads RAM unguarded), so a JIT guest without paging loads the rest when its first region runs.
   * 'chunk': as true, but the first touch of a page copies in every pending page of its compressed chunk
   * (64 pages): each chunk is decompressed once, for a process that holds one VM and may touch many chunks
   * (the CLI: a booted kernel's restore touched its chunks thousands of times, page by page).
   */
  lazyRam?: boolean | 'chunk';
  /**
   * How the files are checked (snapshot-file.ts's DecodeOptions): by default the SHA-256 of each whole file
   * for an eager restore, the CRC-32s (each chunk's as it is read) for a lazy one. 'sha256' with `lazyRam`
   * checks every byte before fromState returns, so that no damage can surface mid-run (the CLI: a 22 MB
   * file hashes in ~25 ms), and the chunks are then decompressed unchecked as they are touched.
   */
  integrity?: 'sha256' | 'crc32';
}

export interface VMOptions {
  /** Guest RAM in bytes (default 128 MiB). */
  memory?: number;
  /** Bytes the guest writes to COM1. */
  stdout?: (bytes: Uint8Array) => void;
  /** Bytes the guest writes to the 0xE9 debug console. */
  debugcon?: (bytes: Uint8Array) => void;
  /**
   * Guest time: 'virtual' (default) derives it from the instruction count (1 ns per instruction, plus the
   * time skipped while halted), so runs are deterministic, as with QEMU's -icount; 'realtime' follows the
   * host clock and sleeps through HLT.
   */
  clock?: 'virtual' | 'realtime';
  /**
   * What the virtual clock does while the guest is halted waiting for an interrupt (VM.idle): 'skip'
   * (default) moves guest time to the next device event at once; 'sleep' lets that time pass on the host
   * clock as well, as QEMU's `-icount sleep=on` does — the guest sees the same times either way, but an
   * idle guest (a shell at its prompt) costs no CPU. The real-time clock always sleeps.
   */
  idle?: 'skip' | 'sleep';
  /**
   * Execution engine: 'interp' (default) or 'jit' (WASM for hot blocks, by `accelerator`). The JIT is set up
   * asynchronously: create the VM with `await VM.create(opts)` or call `await vm.enableJit()`.
   */
  engine?: 'interp' | 'jit';
  /** The JIT's settings: what VM.create turns it on with for engine 'jit', and enableJit()'s defaults. */
  jit?: JitOptions;
  /**
   * What compiles hot code for engine 'jit' and enableJit(). The package's VM and createVM (src/index.ts)
   * pass the JIT's (jit/jit.ts's createJit); this class alone has none.
   */
  accelerator?: AcceleratorFactory;
  /**
   * Decoded instructions the code cache may hold before it is emptied (default 524,288, ~260 MB of heap
   * at most); `vm.interpreter.cache.flushes` counts how often that happened.
   */
  codeCacheSize?: number;
}

/** How the JIT runs: the accelerator's settings (profile, background, cacheDir, passes) and the run loop's threshold. */
export interface JitOptions extends AcceleratorConfig {
  /** Executions of a block before it is compiled; 0 compiles every compilable block on first sight (default DEFAULT_JIT_THRESHOLD, 400). */
  threshold?: number;
}

/** What `new VM({ engine: 'jit' })` and enableJit() say without an accelerator. */
const NO_ACCELERATOR = "engine 'jit' needs an accelerator: pass VMOptions.accelerator (createJit from jit/jit.ts), or use VM / createVM from the package entry (src/index.ts), which pass it";

export type RegisterName = (typeof REG_NAMES32)[number] | 'eip' | 'eflags';
export type Registers = Record<RegisterName | 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'cr0' | 'cr2' | 'cr3' | 'cr4', number>;

export const DEFAULT_MEMORY = 128 << 20;

/** Most instructions one interpreter call runs before the vCPU loop looks around. */
const RUN_SLICE = 1 << 20;
/** returnWhenIdle: a wait shorter than this (ms) is slept through in the run — a host timer is no finer. */
const IDLE_RETURN_MS = 1;
/** Virtual nanoseconds per retired instruction in the deterministic clock (a 1 GHz, 1-IPC guest). */
export const NS_PER_INSTRUCTION = 1;
/** The RTC's date at virtual time 0 in the deterministic clock. */
export const VIRTUAL_EPOCH_MS = Date.UTC(2026, 0, 1);

/** Output bytes are batched so that a guest printing one byte at a time does not make one host write per byte. */
class OutputBuffer {
  private buf = new Uint8Array(4096);
  private n = 0;
  constructor(private readonly sink: (b: Uint8Array) => void) {}
  push(byte: number): void {
    this.buf[this.n++] = byte;
    if (this.n === this.buf.length) this.flush();
  }
  flush(): void {
    if (this.n === 0) return;
    this.sink(this.buf.slice(0, this.n));
    this.n = 0;
  }
}

export class VM {
  readonly memory: PhysicalMemory;
  /** Which RAM pages may be non-zero, and which changed since the last snapshot (the dirty-page log). */
  readonly snapshots: SnapshotTracker;
  readonly io: IoBus;
  readonly cpu: Cpu;
  readonly interpreter: Interpreter;
  readonly uart: Uart16550;
  private readonly out: OutputBuffer;
  private readonly debugOut: OutputBuffer;
  private stopRecord: ExitRecord | null = null;
  /** The devices, their ports and IRQ lines (board.ts); the fields below are its devices by name. */
  readonly board: Board;
  readonly pic: PicPair;
  /** The CPU's local APIC (the CPU takes every interrupt from it) and the I/O APIC. */
  readonly lapic: LocalApic;
  readonly ioApic: IoApic;
  readonly pit: Pit8254;
  readonly rtc: CmosRtc;
  readonly i8042: I8042;
  readonly pci: PciHost;
  /** The ACPI PM registers (power button, S5 power-off, PM timer). */
  readonly acpiPm: AcpiPm;
  readonly clock: 'virtual' | 'realtime';
  /** VMOptions.idle; host policy, not guest state (a snapshot does not keep it), so it may change between runs. */
  idle: 'skip' | 'sleep';
  /** With idle 'sleep': the event a halted CPU waits for, the guest time it began waiting at, and when on the host clock it wakes (the real-time clock: the event only). */
  private idleWait: { next: number; now: number; wakeMs: number } | null = null;
  /** The last waitForInterrupt went on with such a wait (the exit statistics count one HLT, not one per slice). */
  private idleResumed = false;
  /** performance.now() at guest time 0 in the real-time clock. */
  private realtimeStart = performance.now();

  constructor(opts: VMOptions = {}) {
    this.memory = new PhysicalMemory(opts.memory ?? DEFAULT_MEMORY);
    this.snapshots = new SnapshotTracker(this.memory);
    this.io = new IoBus();
    this.cpu = new Cpu(this.memory, this.io);
    this.interpreter = new Interpreter(this.cpu);
    if (opts.codeCacheSize !== undefined) {
      if (!Number.isInteger(opts.codeCacheSize) || opts.codeCacheSize < MAX_BLOCK_INSTRUCTIONS) throw new RangeError(`codeCacheSize must be an integer of at least ${MAX_BLOCK_INSTRUCTIONS} instructions, got ${opts.codeCacheSize}`);
      this.interpreter.cache.limit = opts.codeCacheSize;
    }
    const stdout = opts.stdout ?? (() => {});
    this.out = new OutputBuffer((b) => { stdout(b); if (this.events.has('serial-output')) this.events.emit('serial-output', b); });
    this.debugOut = new OutputBuffer(opts.debugcon ?? (() => {}));
    this.clock = opts.clock ?? 'virtual';
    if (opts.idle !== undefined && opts.idle !== 'skip' && opts.idle !== 'sleep') throw new RangeError(`idle must be 'skip' or 'sleep', got ${String(opts.idle)}`);
    this.idle = opts.idle ?? 'skip';
    const { board, pic, lapic, ioApic, pit, rtc, uart, i8042, pci, acpiPm, fpuError } = pcBoard(this.io, this.memory, {
      nowNs: () => this.nowNs(),
      rtcNowMs: () => (this.clock === 'virtual' ? VIRTUAL_EPOCH_MS + this.nowNs() / 1e6 : Date.now()),
      intr: (level) => { this.cpu.intr = level ? IF : 0; if (level) this.cpu.breakBlock |= BREAK_IRQ; },
      com1: (b) => this.console(b),
      debugcon: (b) => this.debugOut.push(b),
      debugExit: (status) => this.debugExit(status),
      reset: (how) => this.guestReset(how),
      powerOff: () => this.requestStop({ reason: 'poweroff', message: 'the guest powered the machine off (ACPI S5)' }),
      // An event now due before the slice ends: end the slice after this instruction and plan the next one.
      rescheduled: (device) => { if (device.nextEventNs!() < this.sliceEndNs) { this.cpu.breakBlock |= BREAK_STOP; this.yieldRequested = true; } },
    });
    this.board = board; this.pic = pic; this.lapic = lapic; this.ioApic = ioApic; this.pit = pit; this.rtc = rtc; this.uart = uart; this.i8042 = i8042; this.pci = pci; this.acpiPm = acpiPm;
    this.cpu.ferr = fpuError;
    this.cpu.apic = lapic;
    this.cpu.hypercallHost = {
      console: (bytes) => { for (const b of bytes) this.console(b); },
      exit: (status) => this.debugExit(status),
      timeNs: () => this.nowNs(),
      yield: () => { this.cpu.breakBlock |= BREAK_STOP; this.yieldRequested = true; },
    };
    this.cpu.onDebugRegisterWrite = () => this.debugRegistersChanged();
    this.cpu.spendTime = (ns) => this.spendTime(ns);
    this.wantsJit = opts.engine === 'jit';
    this.accelerator = opts.accelerator;
    this.jitDefaults = opts.jit ?? {};
    if (this.wantsJit && this.accelerator === undefined) throw new Error(NO_ACCELERATOR);
    this.resetReal();
  }

  private yieldRequested = false;
  /** Virtual time at which the slice being run ends (its budget spent); Infinity in the real-time clock. */
  private sliceEndNs = Infinity;

  // ---- [JIT] engine 'jit' ----
  /** engine: 'jit' was asked for: run() refuses to start on the interpreter alone. */
  private readonly wantsJit: boolean;
  /** What enableJit() attaches to the run loop (VMOptions.accelerator). */
  private readonly accelerator: AcceleratorFactory | undefined;
  /** VMOptions.jit: enableJit()'s defaults. */
  private readonly jitDefaults: JitOptions;
  /** A VM as the options ask (of the class it is called on), with the JIT on when engine is 'jit'. */
  static async create(opts: VMOptions = {}): Promise<VM> {
    const vm = new this(opts);
    if (opts.engine === 'jit') await vm.enableJit();
    return vm;
  }

  /**
   * Let the run loop compile hot blocks to WASM from now on (binaryen loads only for background or profile).
   * Options not given come from VMOptions.jit.
   */
  async enableJit(opts: JitOptions = {}): Promise<void> {
    const d = this.jitDefaults;
    const threshold = opts.threshold ?? d.threshold ?? DEFAULT_JIT_THRESHOLD;
    if (!Number.isInteger(threshold) || threshold < 0) throw new RangeError(`JIT threshold must be a non-negative integer, got ${threshold}`);
    if (this.interpreter.jit === null) {
      if (this.accelerator === undefined) throw new Error(NO_ACCELERATOR);
      // Tier 1 translates synchronously (our encoder: no binaryen); binaryen's worker only when asked.
      // The accelerator's settings: these options over VMOptions.jit, field by field (an undefined one does not override).
      const config: AcceleratorConfig = { background: false };
      for (const o of [d, opts]) for (const [k, v] of Object.entries(o)) if (v !== undefined && k !== 'threshold') (config as Record<string, unknown>)[k] = v;
      this.interpreter.jit = await this.accelerator(this.memory.wasm, this.cpu, this.interpreter.cache, config);
    } else if (opts.profile !== undefined) this.interpreter.jit.profiling = opts.profile;
    this.interpreter.jitThreshold = threshold;
  }

  /**
   * Resolves when compiled code can be produced: at once for synchronous translation; when the translation
   * worker has loaded binaryen otherwise (the interpreter runs meanwhile). False under the interpreter.
   */
  async jitReady(): Promise<boolean> {
    const jit = this.interpreter.jit;
    return jit === null ? false : jit.ready();
  }

  /** JIT totals (null under the interpreter). */
  jitStats(): JitStats | null { return (this.interpreter.jit ?? this.pausedJit)?.totals() ?? null; }

  /** Per-region JIT profile and totals (null under the interpreter). */
  jitProfile(): JitProfile | null { return this.interpreter.jit?.profile() ?? null; }

  /** The region whose guest code covers linear address `addr`: its disassembly beside its WASM text (null if none). */
  jitDump(addr: number): RegionDump | null { return this.interpreter.jit?.dump(addr) ?? null; }

  /** Guest time in ns (see VMOptions.clock). */
  nowNs(): number {
    return this.clock === 'virtual' ? this.cpu.instructions * NS_PER_INSTRUCTION + this.cpu.idleNs : (performance.now() - this.realtimeStart) * 1e6;
  }

  // ---- [state] snapshots (machine/snapshot.ts, vm-state.ts) ----
  /**
   * The VM's whole state — CPU, guest time, devices, ROMs, RAM — as a snapshot file; with `since`, a diff
   * holding only the pages written after that snapshot. Call it between runs.
   */
  saveState(opts: SaveOptions = {}): Uint8Array {
    this.flushOutput();
    if (opts.withoutRam) return writeSnapshot(this, opts, undefined, () => undefined);
    const bytes = writeSnapshot(this, opts, opts.since === undefined ? this.snapshots.written() : undefined, (id) => this.snapshots.dirtySince(id));
    this.snapshots.saved(snapshotId(bytes));
    return bytes;
  }

  /**
   * A VM in the state a snapshot holds (or a full snapshot followed by its diffs, oldest first). `opts` as for
   * create(), except that RAM size comes from the snapshot (a different `memory` is refused) and `clock`
   * defaults to the snapshot's. A damaged, foreign or newer file throws SnapshotError (one line), and no VM is made.
   * With `lazyRam`, RAM pages are copied in when first touched (see RestoreOptions).
   */
  static async fromState<T extends VM>(this: new (opts?: VMOptions) => T, files: Uint8Array | readonly Uint8Array[], opts: RestoreOptions = {}): Promise<T> {
    const { lazyRam = false, integrity: _integrity, ...vmOpts } = opts;
    // A lazy restore checks the file's CRC-32s, each chunk's as it is read (snapshot-file.ts's DecodeOptions),
    // not the SHA-256 of the whole file: that alone was a quarter of the 5 ms a restore may take.
    const snap = readSnapshot(files instanceof Uint8Array ? [files] : files, { integrity: opts.integrity ?? (lazyRam ? 'crc32' : 'sha256') });
    const { memory, clock } = snap.state.config;
    if (opts.memory !== undefined && opts.memory !== memory) throw new SnapshotError(`the snapshot's guest has ${memory / 2 ** 20} MiB of RAM; it cannot be restored with ${opts.memory / 2 ** 20} MiB`);
    const vm = new this({ ...vmOpts, memory, clock: opts.clock ?? clock });
    restoreSnapshot(vm, snap, lazyRam);
    vm.debugRegistersChanged();
    vm.snapshots.restored(snap.id, snap.nonZero);
    if (opts.engine === 'jit') await vm.enableJit();
    return vm;
  }

  /** Guest time as vm-state.ts saves it: now, and the part of it not from instructions (HLT skipped, port I/O; virtual clock). */
  timeState(): { nowNs: number; idleNs: number } { return { nowNs: this.nowNs(), idleNs: this.cpu.idleNs }; }

  /** Restore guest time (vm-state.ts): the virtual clock from the instruction count and idle time, the real-time one from now on. */
  setTimeState(t: { nowNs: number; idleNs: number }): void {
    this.cpu.idleNs = t.idleNs;
    this.realtimeStart = performance.now() - t.nowNs / 1e6;
  }

  private debugExit(status: number): void {
    this.cpu.exits.count(EXIT_DEBUG_EXIT);
    this.requestStop({ reason: 'debug-exit', status, message: `guest exited with status ${status}` });
  }

  private guestReset(how: string): void {
    this.cpu.exits.count(EXIT_RESET);
    this.requestStop({ reason: 'reset', message: `the guest reset the machine (${how})` });
  }

  /** VM-exit counters and handling time per reason, kvm_stat style. */
  exitStats(): ExitCounter[] { return this.cpu.exits.snapshot(); }

  /** Instructions executed since the VM was created. */
  get instructions(): number { return this.cpu.instructions; }

  /** Faults and external interrupts delivered since the VM was created (bounded per run by maxInstructions too). */
  get deliveries(): number { return this.cpu.deliveries; }

  /**
   * End the run with reason 'stopped' after the instruction whose console byte completes `text` (its UTF-8
   * bytes), once: the exact point a guest finished printing a prompt (x86jit snapshot --at-output). `then`
   * is told at that point. null disarms.
   */
  stopAtOutput(text: string | null, then?: () => void): void {
    this.outputMatch = text === null ? null : new OutputMatch(new TextEncoder().encode(text));
    this.outputMatched = () => {
      this.outputMatch = null;
      this.requestStop({ reason: 'stopped', message: `the guest wrote ${JSON.stringify(text)}` });
      then?.();
    };
  }

  private outputMatch: OutputMatch | null = null;
  private outputMatched = (): void => {};

  /** A byte of the guest's console (COM1 or the console hypercall): to stdout, and to stopAtOutput's watch. */
  private console(byte: number): void {
    this.out.push(byte);
    if (this.outputMatch?.push(byte)) this.outputMatched();
  }

  /** End the run after the current instruction (devices use this: isa-debug-exit; the host: reason 'stopped'). */
  requestStop(exit: Omit<ExitRecord, 'cs' | 'eip'>): void {
    if (this.stopRecord) return;
    this.stopRecord = { ...exit, cs: 0, eip: 0 };
    this.cpu.breakBlock |= BREAK_STOP;
  }

  /** The processor's reset state (SDM Vol. 3, 9.1.1): real mode, CS:EIP = F000:FFF0 with CS base FFFF0000. */
  resetReal(): void {
    const s = this.cpu.s;
    s.fill(0);
    fpuReset(s);
    s[CR0] = CR0_ET;
    setEflags(s, 2);
    s[EIP] = 0xfff0;
    const data = ATTR_P | ATTR_S | 0x3; // present, read/write data, accessed
    this.cpu.setSegmentCache(CS, 0xf000, 0xffff0000 | 0, 0xffff, ATTR_P | ATTR_S | 0xb);
    for (const seg of [DS, ES, FS, GS, SS]) this.cpu.setSegmentCache(seg, 0, 0, 0xffff, data);
    s[IDTR_BASE] = 0; s[IDTR_LIMIT] = 0x3ff; s[GDTR_BASE] = 0; s[GDTR_LIMIT] = 0xffff;
    s[LDTR_SLOT + 2] = 0xffff; s[LDTR_SLOT + 3] = ATTR_P | 0x2;
    s[TR_SLOT + 2] = 0xffff; s[TR_SLOT + 3] = ATTR_P | 0xb;
    s[CPL] = 0;
    this.cpu.halted = false;
    this.cpu.pagingChanged();
    this.interpreter.cache.flush();
    this.debugRegistersChanged(); // DR7 is 0 again: no breakpoints
  }

  /**
   * The state a Multiboot loader leaves (Multiboot 0.6.96, 3.2): protected mode without paging, flat
   * 4 GiB code (selector 0x08) and data (0x10) segments, IF = 0. The GDTR is left for the kernel to set,
   * unless `selectors` names other selectors and the GDT the loader wrote for them (the Linux boot protocol).
   */
  setFlat32(selectors?: FlatSelectors): void {
    const s = this.cpu.s, cpu = this.cpu;
    s[CR0] = CR0_PE | CR0_ET;
    const flat = ATTR_P | ATTR_S | ATTR_DB | ATTR_G;
    cpu.setSegmentCache(CS, selectors?.code ?? 0x08, 0, -1, flat | 0xb);
    for (const seg of [DS, ES, FS, GS, SS]) cpu.setSegmentCache(seg, selectors?.data ?? 0x10, 0, -1, flat | 0x3);
    if (selectors) { s[GDTR_BASE] = selectors.gdtBase; s[GDTR_LIMIT] = selectors.gdtLimit; }
    s[CPL] = 0;
    s[CODE32] = 1;
    setEflags(s, getEflags(s) & ~IF);
    s[LDTR_SLOT + 3] = ATTR_UNUSABLE;
    cpu.pagingChanged();
    this.picAsBiosLeavesIt();
    this.i8042.asFirmwareLeavesIt();
  }

  /**
   * A Multiboot kernel starts after the firmware, and QEMU's SeaBIOS leaves the PICs initialised with the
   * PC vector bases (0x08 and 0x70) and masks 0xB8 / 0x8E (measured): do the same through the ports.
   */
  private picAsBiosLeavesIt(): void {
    const { master, slave } = this.pic;
    master.write(0, 1, 0x11); master.write(1, 1, 0x08); master.write(1, 1, 0x04); master.write(1, 1, 0x01); master.write(1, 1, 0xb8);
    slave.write(0, 1, 0x11); slave.write(1, 1, 0x70); slave.write(1, 1, 0x02); slave.write(1, 1, 0x01); slave.write(1, 1, 0x8e);
  }

  /** Real mode: load a segment register with `selector` (base = selector × 16, limit 64 KiB). */
  setSegmentReal(seg: 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss', selector: number): void {
    const n = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'].indexOf(seg);
    const attr = ATTR_P | ATTR_S | (n === CS ? 0xb : 0x3);
    this.cpu.setSegmentCache(n, selector & 0xffff, (selector & 0xffff) << 4, 0xffff, attr);
  }

  setRegisters(regs: Partial<Record<RegisterName, number>>): void {
    const s = this.cpu.s;
    REG_NAMES32.forEach((name, i) => { if (regs[name] !== undefined) s[i] = regs[name]!; });
    if (regs.eip !== undefined) s[EIP] = regs.eip;
    if (regs.eflags !== undefined) setEflags(s, regs.eflags);
  }

  getRegisters(): Registers {
    const s = this.cpu.s;
    const r = {} as Registers;
    REG_NAMES32.forEach((name, i) => { r[name] = s[i] >>> 0; });
    r.eip = s[EIP] >>> 0;
    r.eflags = getEflags(s);
    (['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const).forEach((name, i) => { r[name] = s[segSlot(i, SEG_SEL)] & 0xffff; });
    r.cr0 = s[CR0] >>> 0; r.cr2 = s[CR2] >>> 0; r.cr3 = s[CR3] >>> 0; r.cr4 = s[CR4] >>> 0;
    return r;
  }

  /** CS base + EIP: the linear address of the next instruction (what breakpoints name). */
  linearEip(): number { return (this.cpu.s[segSlot(CS, SEG_BASE)] + this.cpu.s[EIP]) >>> 0; }

  /**
   * A byte at a linear address as a debugger reads it: through the page tables without side effects, from
   * RAM or ROM only — null where nothing is mapped, or where a read would act (MMIO, unassigned space).
   */
  debugRead8(lin: number): number | null {
    const phys = this.cpu.debugTranslate(lin);
    if (phys === null || (phys >= this.memory.ramSize && !this.memory.isPlainRegion(phys))) return null;
    return this.memory.read8(phys);
  }

  /**
   * Write bytes at a linear address as a debugger does (a breakpoint's patch, `set var`): into RAM only,
   * as the host writes (decoded and compiled code over them is dropped). All or nothing: false, and nothing
   * written, when a byte is not in mapped RAM.
   */
  debugWrite(lin: number, bytes: Uint8Array): boolean {
    const phys: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const p = this.cpu.debugTranslate((lin + i) >>> 0);
      if (p === null || p >= this.memory.ramSize) return false;
      phys.push(p);
    }
    // Runs of physically contiguous bytes go in one write each.
    for (let i = 0; i < bytes.length;) {
      let j = i + 1;
      while (j < bytes.length && phys[j] === phys[j - 1] + 1) j++;
      this.memory.writeBytes(phys[i], bytes.subarray(i, j));
      i = j;
    }
    return true;
  }

  /**
   * The vCPU loop (KVM_RUN's shape): run guest code until an exit, handle it, resume. Returns when the
   * guest exits, halts for good, faults beyond recovery, or a limit is reached.
   */
  run(opts: RunOptions = {}): ExitRecord {
    const exit = this.runLoop(opts);
    this.ranTo(exit);
    return exit;
  }

  private ranTo(exit: ExitRecord): void {
    if (this.events.has('exit')) this.events.emit('exit', exit);
    if (this.events.has('exit-stats')) this.events.emit('exit-stats', this.exitStats());
  }

  private runLoop(opts: RunOptions): ExitRecord {
    const cpu = this.cpu, s = cpu.s;
    this.alive();
    if (opts.begin !== undefined) s[EIP] = opts.begin;
    if (cpu.hooks !== null) cpu.hooks.blockStart = true;
    if (this.wantsJit && this.interpreter.jit === null && this.pausedJit === null) throw new Error("engine 'jit': the JIT is not on yet; create the VM with `await VM.create(opts)` or call `await vm.enableJit()` before run()");
    const start = cpu.instructions, startDeliveries = cpu.deliveries;
    const max = opts.maxInstructions ?? opts.count ?? Infinity;
    const deadline = opts.timeout !== undefined ? performance.now() + opts.timeout * 1000 : Infinity;
    this.stopRecord = null;
    cpu.breakBlock = 0;
    try {
      for (;;) {
        const left = max - (cpu.instructions - start), deliveriesLeft = max - (cpu.deliveries - startDeliveries);
        if (left <= 0) return this.exit('max-instructions', `instruction limit reached (${cpu.instructions - start} instructions)`);
        if (deliveriesLeft <= 0) {
          return this.exit('max-instructions', `instruction limit reached: ${cpu.deliveries - startDeliveries} exceptions and interrupts delivered ` +
            `with only ${cpu.instructions - start} instructions retired (a fault loop?)`);
        }
        // A halted CPU stays halted across run() calls (and snapshots): it waits here, at the top of the loop,
        // so that a run ended by a limit just after HLT continues exactly as an uninterrupted one would.
        if (cpu.halted) {
          this.flushOutput(); // the guest waits: what it wrote so far goes out now (a prompt before HLT)
          const t0 = cpu.exits.enter();
          this.idleResumed = false;
          const why = this.waitForInterrupt(deadline, opts.returnWhenIdle === true);
          cpu.exits.leave(EXIT_HLT, t0, !this.idleResumed);
          if (why === 'timeout') return this.exit('timeout', `timed out after ${opts.timeout} s`);
          if (typeof why === 'number') return { ...this.exit('idle', `halted until a timer event ${why.toFixed(1)} ms away`), idleMs: why };
          // Halted for good (nothing can wake it): the run ends, and a later run() goes on after the HLT, as
          // a caller that sets up new work (registers, code) expects.
          if (why) { cpu.halted = false; return this.exit('halt', why); }
          cpu.breakBlock = 0;
          continue;
        }
        // Run no further than the next timer event, so device interrupts arrive on time.
        // Slices also let V8 optimise the interpreter's loop as a whole function rather than through
        // on-stack replacement, which measured slower.
        const budget = Math.min(left, this.instructionsUntilTimer(), RUN_SLICE);
        this.sliceEndNs = this.clock === 'virtual' ? this.nowNs() + budget * NS_PER_INSTRUCTION : Infinity;
        const stop = this.interpreter.run(budget, { until: opts.until, trace: opts.trace, traceRegisters: opts.traceRegisters, breakpoints: opts.breakpoints, resume: cpu.instructions === start && cpu.deliveries === startDeliveries, deadline, deliveries: deliveriesLeft });
        this.board.update();
        const requested = this.stopRecord as ExitRecord | null;
        if (requested) { this.stopRecord = null; return { ...requested, cs: s[segSlot(CS, SEG_SEL)] & 0xffff, eip: s[EIP] >>> 0 }; }
        if (stop === 'interrupt') { this.injectInterrupt(); continue; }
        if (stop === 'until') return this.exit('until', 'reached the requested address');
        if (stop === 'breakpoint') return this.exit('breakpoint', 'reached a breakpoint');
        if (stop === 'deliveries') continue; // the limit check above ends the run
        // Also between slices: compiled code runs a whole slice in one call, so the run loop's own clock
        // check (every 1024 blocks) may never come round in a tight loop.
        if (stop === 'timeout' || performance.now() > deadline) return this.exit('timeout', `timed out after ${opts.timeout} s`);
        if (this.yieldRequested) { this.yieldRequested = false; cpu.breakBlock = 0; continue; }
      }
    } catch (e) {
      if (e instanceof TripleFault) { cpu.exits.count(EXIT_SHUTDOWN); return this.exit('triple-fault', `triple fault (shutdown): ${e.message}`); }
      if (e instanceof Unsupported) return this.exit('unsupported', `unsupported: ${e.message}`);
      throw e;
    } finally {
      if (!opts.holdOutput) this.flushOutput();
    }
  }

  /** Instructions until the next interrupt a device raises by itself (virtual clock), or a time slice (real-time clock). */
  private instructionsUntilTimer(): number {
    const next = this.board.nextEventNs();
    if (next === Infinity) return Infinity;
    if (this.clock === 'realtime') return 100_000;
    return Math.max(1, Math.ceil((next - this.nowNs()) / NS_PER_INSTRUCTION));
  }

  /** IF = 1 and the local APIC has a request (its own, or the 8259s' through LINT0): acknowledge it (INTA) and deliver its vector to the guest. */
  private injectInterrupt(): void {
    const cpu = this.cpu, s = cpu.s;
    if (!(s[EFLAGS] & IF) || !this.lapic.hasInterrupt()) return;
    const vector = this.lapic.acknowledge();
    cpu.halted = false;
    if (cpu.hooks !== null && cpu.hooks.has('interrupt') && cpu.hooks.interrupt(vector, false, -1, this.linearEip(), true)) return;
    cpu.deliveries++;
    cpu.exits.count(EXIT_IRQ_WINDOW);
    try {
      deliverInterrupt(cpu, vector, { software: false, external: true, errorCode: -1, returnEip: s[EIP] });
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      deliverException(cpu, e, s[EIP]);
    }
  }

  /**
   * Cpu.spendTime: time passes in the virtual clock (the real-time clock has it pass by itself). The block
   * ends after this instruction, and the interpreter takes the time from the slice's budget (Cpu.spentNs):
   * the budget, in instructions, was planned to end at the next device event, which now comes sooner, so the
   * slice still ends there and an interrupt arrives at the same instruction however a run is split. (A port
   * access that moves a device's next event before the slice's end ends the slice: `rescheduled` above.)
   * Before, each such instruction ended the slice and the run loop planned again: a Linux boot's ~100 k port
   * accesses cost ~100 k turns of this loop, each bringing every device up to date.
   */
  private spendTime(ns: number): void {
    if (this.clock !== 'virtual') return;
    this.cpu.idleNs += ns;
    this.cpu.spentNs += ns;
    this.cpu.breakBlock |= BREAK_TIME;
  }

  /**
   * HLT: with IF = 0, or no device that could raise an interrupt, the run ends (returns the reason).
   * Otherwise time moves to the next device event — skipped in the virtual clock (after sleeping as long,
   * with idle 'sleep'), slept through in the real-time one — and the interrupt is injected.
   */
  private waitForInterrupt(deadline: number, returnWhenIdle: boolean): string | number | undefined {
    const cpu = this.cpu, s = cpu.s;
    if (!(s[EFLAGS] & IF)) return 'HLT with interrupts disabled';
    if (this.lapic.hasInterrupt()) { this.injectInterrupt(); return undefined; }
    const next = this.board.nextEventNs();
    if (next === Infinity) return 'HLT with interrupts enabled, but no device can raise an interrupt';
    if (this.clock === 'virtual') {
      const now = this.nowNs();
      if (this.idle === 'sleep') {
        // Sleep first, then skip exactly as 'skip' does: the guest's state changes the same way, only later.
        // A run that ends first (a slice of runAsync or of the VM host, in which input may come) leaves the
        // CPU halted and guest time where it was; the next run waits on for the same event until wakeMs.
        const w = this.idleWait;
        this.idleResumed = w !== null && w.next === next && w.now === now;
        const wakeMs = this.idleResumed ? w!.wakeMs : performance.now() + (next - now) / 1e6;
        this.idleWait = { next, now, wakeMs };
        const leftMs = wakeMs - performance.now();
        if (returnWhenIdle && leftMs >= IDLE_RETURN_MS) return leftMs;
        for (let left = Math.min(wakeMs, deadline) - performance.now(); left > 0; left = Math.min(wakeMs, deadline) - performance.now()) sleepMs(left);
        if (performance.now() < wakeMs) return 'timeout';
        this.idleWait = null;
      }
      this.cpu.idleNs += Math.max(0, next - now);
    } else {
      // The same event as the last run's wait that ended first: the same HLT goes on (counted once).
      this.idleResumed = this.idleWait !== null && this.idleWait.next === next;
      this.idleWait = { next, now: 0, wakeMs: 0 };
      const leftMs = (next - this.nowNs()) / 1e6;
      if (returnWhenIdle && leftMs >= IDLE_RETURN_MS) return leftMs;
      // Sleep until the edge. sleepMs may return early (its timeout is coarse, and a sub-millisecond
      // wait may not sleep at all), so wait again until the host clock has reached the edge.
      for (let now = this.nowNs(); now < next; now = this.nowNs()) {
        const waitMs = Math.min((next - now) / 1e6, deadline - performance.now());
        if (waitMs <= 0) break;
        sleepMs(waitMs);
      }
      if (performance.now() >= deadline) return 'timeout';
      this.idleWait = null;
    }
    this.board.update();
    if (this.lapic.hasInterrupt()) { this.injectInterrupt(); return undefined; }
    // The timer's edge has come and the interrupt controllers still assert nothing: its interrupt is masked
    // or blocked by one in service, and nothing changes that while the CPU is halted (QEMU would hang here for ever).
    return 'HLT with interrupts enabled, but the interrupt controllers mask or block every interrupt that could wake it';
  }

  private exit(reason: ExitReason, message: string): ExitRecord {
    const s = this.cpu.s;
    return { reason, message, cs: s[segSlot(CS, SEG_SEL)] & 0xffff, eip: s[EIP] >>> 0 };
  }

  // ---- [API] the embedding API (Unicorn's and v86's verbs): async run, stop, hooks, registers, mappings, events ----
  private readonly events = new Emitter<VMEvents>();
  private destroyed = false;
  /** vm.stop() was called: ends the current run, or the next slice of runAsync when called between slices. */
  private stopAsked = false;
  /** The JIT while memory hooks are installed (its compiled code reads and writes RAM without the slow path). */
  private pausedJit: typeof this.interpreter.jit = null;
  /** The cpu.intercept the interrupt/invalid hooks installed, and the one it chains to. */
  private hookIntercept: InterruptIntercept | null = null;

  /** Listen to 'serial-output' (COM1 bytes as they are written out), 'exit' and 'exit-stats' (after each run). */
  on<K extends keyof VMEvents>(event: K, fn: (value: VMEvents[K]) => void): this { this.alive(); this.events.on(event, fn); return this; }
  off<K extends keyof VMEvents>(event: K, fn: (value: VMEvents[K]) => void): this { this.events.off(event, fn); return this; }

  /**
   * Run as run() does, in slices of about `sliceMs` (10) ms of wall time with a turn of the event loop
   * between them. `signal` aborts and vm.stop() stops (both: reason 'stopped'); `begin`, `until`, `timeout`
   * (seconds, over the whole run) and `count` as Unicorn's uc_emu_start. The 'exit' event fires once, at the end.
   */
  async runAsync(opts: AsyncRunOptions = {}): Promise<ExitRecord> {
    this.alive();
    const exit = await runAsync({
      vm: this,
      slice: (o) => this.runLoop(o),
      takeStop: () => { const s = this.stopAsked; this.stopAsked = false; return s; },
      exitRecord: (reason, message) => this.exit(reason, message),
    }, opts);
    this.ranTo(exit);
    return exit;
  }

  /**
   * End the run (sync or async) with reason 'stopped': from a hook, before the next instruction (a code
   * hook's own instruction does not execute); from outside (a timer, an event handler), at runAsync's next slice.
   */
  stop(): void {
    this.stopAsked = true;
    this.requestStop({ reason: 'stopped', message: 'stopped by vm.stop()' });
  }

  /**
   * Install a hook (see README "Hooks"): `fn` is called as HookCallbacks[kind] describes, for addresses (or
   * ports, vectors, hypercall numbers) in [begin, end]. Hooks cost nothing while none is installed;
   * code, block and mem-fetch hooks make the pages of their range run one instruction at a time in the
   * interpreter (other pages run as before, compiled included); mem-read/mem-write hooks make every data
   * access take the slow path and pause the JIT while installed.
   */
  hook<K extends HookKind>(kind: K, fn: HookCallbacks[K], range: HookRange = {}): HookHandle {
    this.alive();
    if (!HOOK_KINDS.includes(kind)) throw new RangeError(`unknown hook kind '${String(kind)}' (one of: ${HOOK_KINDS.join(', ')})`);
    if (typeof fn !== 'function') throw new TypeError(`hook '${kind}' needs a callback function`);
    const begin = (range.begin ?? 0) >>> 0, end = (range.end ?? 0xffff_ffff) >>> 0;
    if (begin > end) throw new RangeError(`hook range [0x${begin.toString(16)}, 0x${end.toString(16)}] is empty (begin > end)`);
    const h: Hook<K> = { kind, begin, end, fn };
    (this.cpu.hooks ??= new CpuHooks()).add(h as Hook);
    this.hooksChanged(kind);
    let removed = false;
    return { kind, remove: () => { if (!removed) { removed = true; this.removeHook(h as Hook); } } };
  }

  /** Remove a hook vm.hook() returned (as handle.remove()). */
  unhook(handle: HookHandle): void { handle.remove(); }

  private removeHook(h: Hook): void {
    const hooks = this.cpu.hooks;
    if (hooks === null || !hooks.remove(h)) return;
    this.hooksChanged(h.kind);
  }

  /** Make the CPU, memory and JIT agree with the hooks installed now. */
  private hooksChanged(kind: HookKind): void {
    const cpu = this.cpu, hooks = cpu.hooks!;
    // Compiled code of pages that instruction-level hooks now watch (or no longer watch) is dropped: the
    // run loop steps hooked pages and compiles the others anew.
    if (kind === 'code' || kind === 'block' || kind === 'mem-fetch') this.interpreter.cache.flush();
    if (kind === 'mem-read') {
      cpu.refreshFastRam();
      if (hooks.reads && this.interpreter.jit !== null) { this.pausedJit = this.interpreter.jit; this.interpreter.jit = null; }
      else if (!hooks.reads && this.pausedJit !== null) { this.interpreter.jit = this.pausedJit; this.pausedJit = null; }
    }
    if (kind === 'mem-write') {
      // Mark the pages the ranges cover: now without paging (linear = physical), and by the page walker
      // with paging (each translation of a covered linear page marks its physical page; the TLB is emptied
      // so that every one is walked again). A mark left behind by a remapping only costs a slow store.
      this.memory.unwatchWrites();
      for (let i = 0; i < hooks.writePages.length; i += 2) this.memory.watchWrites(hooks.writePages[i], hooks.writePages[i + 1]);
      cpu.flushTlb(false);
    }
    this.memory.onUnassigned = hooks.has('mem-unmapped') ? (phys, size, write, value) => hooks.unmapped(phys, size, write, value) : null;
    this.memory.onRomWrite = hooks.has('mem-prot') ? (phys, size, value) => hooks.protWrite(phys, size, value) : null;
    const wantIntercept = hooks.has('interrupt') || hooks.has('invalid');
    if (wantIntercept && this.hookIntercept === null) {
      const prev = cpu.intercept, linear = (eip: number): number => (cpu.s[segSlot(CS, SEG_BASE)] + eip) >>> 0;
      this.hookIntercept = cpu.intercept = {
        softwareInterrupt: (vector) => hooks.interrupt(vector, true, -1, linear(cpu.s[EIP])) || (prev?.softwareInterrupt(vector) ?? false),
        exception: (f, eip) => (f.vector === UD && hooks.invalid(linear(eip))) || hooks.interrupt(f.vector, false, f.errorCode, linear(eip)) ||
          (prev?.exception(f, eip) ?? false),
      };
      this.interceptBelow = prev;
    } else if (!wantIntercept && this.hookIntercept !== null) {
      if (cpu.intercept === this.hookIntercept) cpu.intercept = this.interceptBelow;
      this.hookIntercept = null;
    }
    if (hooks.empty) cpu.hooks = null;
  }
  private interceptBelow: InterruptIntercept | null = null;

  /** The hooks that implement the breakpoints DR7 enables (debug-breakpoints.ts). */
  private debugHooks: HookHandle[] = [];
  /** DR0–DR3 or DR7 changed (the guest's MOV DRn, the API, a restore): arm what DR7 enables now. */
  private debugRegistersChanged(): void {
    if (this.debugHooks.length === 0 && (this.cpu.s[DR_SLOT + 7] & 0xff) === 0) return;
    this.debugHooks = armDebugRegisters(this, this.cpu, this.debugHooks);
  }

  /** A register by name (general registers at every width, eip, eflags, segments, cr0-4, dr0-7, gdtr/idtr, ldtr, tr, cpl): registers.ts. */
  readRegister(name: AnyRegisterName): number { this.alive(); return readRegister(this.cpu, name); }

  /**
   * Write a register as the instruction that writes it would: a segment register in protected mode loads
   * its descriptor cache from the GDT/LDT; CR0/CR3/CR4 change mode and paging as MOV CRn does. Between runs.
   */
  writeRegister(name: AnyRegisterName, value: number): void {
    this.alive();
    writeRegister(this.cpu, name, value);
    if (/^dr[0-37]$/.test(name)) this.debugRegistersChanged();
    this.cpu.breakBlock = 0; // (a write's BREAK_MODE is for a running block; the next run looks the block up anew)
  }

  /** A segment register's (or LDTR's, TR's) selector and descriptor cache. */
  readSegment(name: SystemSegmentName): SegmentCache { this.alive(); return readSegment(this.cpu, name); }

  /** Set a descriptor cache directly ({selector, base, limit, attributes}); no descriptor table is read. */
  writeSegment(name: SystemSegmentName, cache: SegmentCache): void { this.alive(); writeSegment(this.cpu, name, cache); this.cpu.breakBlock = 0; }

  /** A model-specific register (RDMSR's view); RangeError for one not implemented. */
  readMsr(index: number): bigint { this.alive(); return readModelSpecific(this.cpu, index); }
  writeMsr(index: number, value: bigint): void { this.alive(); writeModelSpecific(this.cpu, index, value); }

  /** Map zeroed RAM at [addr, addr + size) outside guest RAM (host memory, interpreted accesses); returns its bytes. */
  mapRam(addr: number, size: number): Uint8Array { this.alive(); return this.memory.mapRam(addr, size); }
  /** Map a read-only image at `addr` outside guest RAM (writes to it are dropped; mem-prot hooks see them). */
  mapRom(addr: number, bytes: Uint8Array): void { this.alive(); this.memory.mapRom(addr, bytes); this.interpreter.cache.flush(); }
  /** Map a device at [addr, addr + size) outside guest RAM: `read`/`write` get the offset in the region. */
  mapMmio(addr: number, size: number, device: MmioDevice): void { this.alive(); this.memory.mapMmio(addr, size, device); }
  /** Remove the mapping starting at `addr` (mapRam, mapRom, mapMmio); false if there is none. */
  unmap(addr: number): boolean {
    this.alive();
    const done = this.memory.unmap(addr);
    if (done) { this.interpreter.cache.flush(); this.cpu.flushTlb(false); }
    return done;
  }

  /**
   * Release what the VM holds — compiled code, hooks, listeners, buffered output (written out first) — so
   * the VM can be collected. Any later use throws. A VM that knows which RAM pages it wrote (one restored
   * from a snapshot, or saved once: its snapshot tracker) gives its WebAssembly.Memory, cleared, to the next
   * VM of its size made in this thread (memory-pool.ts): a restore then allocates no memory and triggers no
   * collection. Its `memory` (and views into it) must not be used after this.
   */
  destroy(): void {
    if (this.destroyed) return;
    const written = this.snapshots.mayBeNonZero();
    this.flushOutput();
    this.interpreter.cache.flush();
    (this.interpreter.jit ?? this.pausedJit)?.dispose?.();
    this.interpreter.jit = null;
    this.pausedJit = null;
    this.cpu.hooks = null;
    this.cpu.intercept = null;
    this.memory.onUnassigned = null;
    this.memory.onRomWrite = null;
    this.events.clear();
    this.destroyed = true;
    if (written !== undefined) this.memory.recycle(written);
  }

  /** Throws once destroy() was called. */
  private alive(): void {
    if (this.destroyed) throw new Error('this VM was destroyed (vm.destroy()); create a new one');
  }

  flushOutput(): void {
    this.out.flush();
    this.debugOut.flush();
  }
}
