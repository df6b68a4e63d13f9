// A Linux i386 process on one VM, in the manner of qemu-i386: the program runs at CPL 3 in flat 32-bit
// segments with paging on (page tables the address space owns), and the CPU's interrupt intercept
// (cpu.intercept, like VMX's exception bitmap) brings every INT 0x80 here as a system call and every
// fault as the signal the kernel would send. With no handler (signals are recorded only, for now) a
// signal ends the process, as Linux does.
import { fpuInit } from '../cpu/fpu/fpu-state.ts';
import { readFileSync } from 'node:fs';
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import { ATTR_DB, ATTR_G, ATTR_P, ATTR_S, ATTR_UNUSABLE, BREAK_MODE } from '../cpu/cpu.ts';
import { type CpuFault, VECTOR_NAMES } from '../cpu/fault.ts';
import { setEflags } from '../cpu/flags.ts';
import {
  CODE32, CPL, CR0, CR0_ET, CR0_NE, CR0_PE, CR0_PG, CR0_WP, CR3, EAX, EBP, EBX, ECX, EDI, EDX, EIP, ESI, ESP, GDTR_BASE, GDTR_LIMIT,
  IDTR_BASE, IDTR_LIMIT, LDTR_SLOT, SEG_SEL, segSlot, STACK32,
} from '../cpu/state.ts';
import type { ExitRecord, VM } from '../machine/vm.ts';
import { AddressSpace } from './address-space.ts';
import { FdTable, ENOSYS } from './files.ts';
import { FileView } from './file-view.ts';
import { ExecError, loadExecutable } from './loader.ts';
import { syscallName } from './syscall-names.ts';
import { SYSCALLS } from './syscalls.ts';

export { ExecError } from './loader.ts';

/** The kernel's GDT entries for user code and data (__USER_CS = 0x73, __USER_DS = 0x7b). */
const GDT_USER_CS = 14, GDT_USER_DS = 15, GDT_ENTRIES = 32;
export const USER_CS = GDT_USER_CS * 8 + 3, USER_DS = GDT_USER_DS * 8 + 3;

/** Signal numbers and the names strsignal gives them. */
export const SIGNAL_NAMES: Record<number, string> = {
  1: 'Hangup', 2: 'Interrupt', 3: 'Quit', 4: 'Illegal instruction', 5: 'Trace/breakpoint trap', 6: 'Aborted', 7: 'Bus error',
  8: 'Floating point exception', 9: 'Killed', 10: 'User defined signal 1', 11: 'Segmentation fault', 12: 'User defined signal 2',
  13: 'Broken pipe', 14: 'Alarm clock', 15: 'Terminated',
};
export const SIGILL = 4, SIGTRAP = 5, SIGBUS = 7, SIGFPE = 8, SIGSEGV = 11;

/** The signal Linux sends for a fault vector (arch/x86/kernel/traps.c). */
const FAULT_SIGNAL: Record<number, number> = { 0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGSEGV, 5: SIGSEGV, 6: SIGILL, 7: SIGSEGV, 10: SIGSEGV, 11: SIGBUS, 12: SIGBUS, 13: SIGSEGV, 14: SIGSEGV, 16: SIGFPE, 17: SIGBUS };

/** One system call as the hook and --strace see it. */
export interface SyscallEvent {
  nr: number;
  name: string;
  /** EBX, ECX, EDX, ESI, EDI, EBP. */
  args: number[];
}

export interface ProcessOptions {
  /** argv, argv[0] included (default: [path]). */
  argv?: string[];
  /** NAME=VALUE strings (default: none; the CLI passes the host's, as qemu-i386 does). */
  env?: string[];
  /** Working directory, a guest path (default: the host's; under `root`, '/'). */
  cwd?: string;
  /** A host directory the program sees as its / and cannot leave (its dynamic interpreter is found there too). */
  root?: string;
  /** A host directory that takes every change to the file system, which the program sees over the real one. */
  overlay?: string;
  /** Host fds for the program's 0, 1, 2 (default [0, 1, 2]). */
  stdio?: [number, number, number];
  /**
   * Called before every system call. Return a number to make it the call's result (the default handler is
   * skipped), or undefined to let it run.
   */
  onSyscall?: (call: SyscallEvent, process: Process) => number | undefined;
  /** Called after every system call with its result (--strace). */
  afterSyscall?: (call: SyscallEvent, result: number, process: Process) => void;
}

/** How the process ended. */
export type ProcessExit =
  | { kind: 'exit'; status: number }
  | { kind: 'signal'; signal: number; eip: number; message: string }
  /** The run stopped before the program ended (a limit: max-instructions, timeout, or the host). */
  | { kind: 'stopped'; exit: ExitRecord };

export class Process {
  readonly as: AddressSpace;
  readonly files: FdTable;
  /** The file system as the program sees it (--root, --overlay). */
  readonly view: FileView;
  /** The working directory, a guest path. */
  cwd: string;
  umask = 0o022;
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
  readonly gid: number;
  brkStart: number;
  brk: number;
  readonly exePath: string;
  readonly tlsUsed = [false, false, false];
  readonly sigactions = new Map<number, number>();
  sigmask = 0n;
  /** System calls made, by name (unknown ones as syscall_<n>). */
  readonly syscallCounts = new Map<string, number>();
  /** System calls answered with -ENOSYS because x86jit does not implement them. */
  unknownSyscalls = 0;
  private ended: ProcessExit | null = null;
  private readonly realBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

  constructor(readonly vm: VM, image: Uint8Array, path: string, private readonly opts: ProcessOptions = {}) {
    this.pid = process.pid;
    this.ppid = process.ppid;
    this.uid = process.getuid?.() ?? 0;
    this.gid = process.getgid?.() ?? 0;
    this.view = new FileView(opts.root ?? null, opts.overlay ?? null);
    this.cwd = opts.cwd ?? (opts.root !== undefined ? '/' : process.cwd());
    this.exePath = path;
    this.files = new FdTable(opts.stdio ?? [0, 1, 2]);
    this.as = new AddressSpace(vm);
    const gdt = this.as.mapGdt();
    const loaded = loadExecutable(this.as, image, path, {
      argv: opts.argv ?? [path], env: opts.env ?? [], execfn: opts.argv?.[0] ?? path, uid: this.uid, gid: this.gid,
      readInterpreter: (interp) => this.readInterpreter(interp),
    });
    this.brkStart = this.brk = loaded.brk;
    this.setupCpu(gdt, loaded.entry, loaded.stack);
    vm.cpu.intercept = {
      softwareInterrupt: (vector) => this.softwareInterrupt(vector),
      exception: (f, eip) => this.fault(f, eip),
    };
  }

  /** The bytes of a dynamic program's interpreter (PT_INTERP), found through the program's file view. */
  private readInterpreter(interp: string): Uint8Array {
    const g = this.view.resolve('/', interp, true);
    const host = typeof g === 'number' ? null : this.view.host(g);
    try {
      if (host !== null) return readFileSync(host);
    } catch { /* reported below */ }
    throw new ExecError(this.view.root === null
      ? `dynamically linked program: its interpreter ${interp} is not on this host; give an i386 sysroot with --root DIR (scripts/fetch-i386-sysroot.sh fetches Debian's)`
      : `dynamically linked program: its interpreter ${interp} is not in --root ${this.view.root}`);
  }

  /** User mode as Linux starts a program: CS 0x73, DS/ES/SS 0x7b, FS = GS = 0, IF set, paging on. */
  private setupCpu(gdt: number, entry: number, stack: number): void {
    const cpu = this.vm.cpu, s = cpu.s;
    const flat = ATTR_P | ATTR_S | ATTR_DB | ATTR_G | 0x60; // DPL 3
    // Descriptors: base 0, limit 4 GiB (G), present, DPL 3, accessed.
    this.as.writeGdtEntry(GDT_USER_CS, 0x0000_ffff, 0x00cf_fb00);
    this.as.writeGdtEntry(GDT_USER_DS, 0x0000_ffff, 0x00cf_f300);
    // As Linux runs a process: CR0.NE (an unmasked x87 exception is #MF, SIGFPE) and the FPU as FNINIT leaves it.
    s[CR0] = CR0_PE | CR0_PG | CR0_WP | CR0_ET | CR0_NE;
    fpuInit(s);
    s[CR3] = this.as.pageDirectory;
    s[GDTR_BASE] = gdt; s[GDTR_LIMIT] = GDT_ENTRIES * 8 - 1;
    s[IDTR_BASE] = 0; s[IDTR_LIMIT] = 0;
    s[LDTR_SLOT + 3] = ATTR_UNUSABLE;
    s[CPL] = 3;
    cpu.setSegmentCache(CS, USER_CS, 0, -1, flat | 0xb);
    for (const seg of [DS, ES, SS]) cpu.setSegmentCache(seg, USER_DS, 0, -1, flat | 0x3);
    for (const seg of [FS, GS]) cpu.setSegmentCache(seg, 0, 0, 0, ATTR_UNUSABLE);
    s[CODE32] = 1; s[STACK32] = 1;
    for (const r of [EAX, EBX, ECX, EDX, ESI, EDI, EBP]) s[r] = 0;
    s[ESP] = stack;
    s[EIP] = entry;
    setEflags(s, 0x202);
    cpu.pagingChanged();
    this.vm.interpreter.cache.flush();
    // No device interrupts reach a process: initialise both PICs (as firmware would) with every line masked.
    const { master, slave } = this.vm.pic;
    master.write(0, 1, 0x11); master.write(1, 1, 0x20); master.write(1, 1, 0x04); master.write(1, 1, 0x01); master.write(1, 1, 0xff);
    slave.write(0, 1, 0x11); slave.write(1, 1, 0x28); slave.write(1, 1, 0x02); slave.write(1, 1, 0x01); slave.write(1, 1, 0xff);
  }

  /** After set_thread_area: a segment register holding `selector` takes the new descriptor, as the kernel reloads it. */
  reloadSegments(selector: number): void {
    const cpu = this.vm.cpu, s = cpu.s;
    const index = selector >> 3;
    for (const seg of [FS, GS]) {
      if ((s[segSlot(seg, SEG_SEL)] & 0xfff8) !== (index << 3) || (s[segSlot(seg, SEG_SEL)] & 0xffff) === 0) continue;
      const lo = cpu.readSys32(s[GDTR_BASE] + index * 8) >>> 0, hi = cpu.readSys32(s[GDTR_BASE] + index * 8 + 4) >>> 0;
      if (!(hi & 0x8000)) { cpu.setSegmentCache(seg, s[segSlot(seg, SEG_SEL)], 0, 0, ATTR_UNUSABLE); continue; }
      const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) | 0;
      let limit = (lo & 0xffff) | (hi & 0xf_0000);
      if (hi & 0x80_0000) limit = (limit << 12) | 0xfff;
      cpu.setSegmentCache(seg, s[segSlot(seg, SEG_SEL)], base, limit | 0, (hi >>> 8) & 0xf0ff);
    }
    cpu.breakBlock |= BREAK_MODE; // compiled code assumed the old segment state
  }

  realtimeNs(): bigint { return this.realBase + process.hrtime.bigint(); }

  /** exit/exit_group: the process ends with `status`. */
  exit(status: number): void {
    if (this.ended) return;
    this.ended = { kind: 'exit', status };
    this.vm.requestStop({ reason: 'stopped', message: `the program exited with status ${status}` });
  }

  /** The process dies of signal `sig` (its default action, no handler). */
  kill(sig: number, eip = this.vm.cpu.s[EIP] >>> 0, why = ''): void {
    if (this.ended) return;
    const name = SIGNAL_NAMES[sig] ?? `signal ${sig}`;
    const message = `uncaught signal ${sig} (${name})${why} at EIP 0x${eip.toString(16).padStart(8, '0')}`;
    this.ended = { kind: 'signal', signal: sig, eip, message };
    this.vm.requestStop({ reason: 'stopped', message });
  }

  private fault(f: CpuFault, eip: number): boolean {
    const sig = FAULT_SIGNAL[f.vector] ?? SIGSEGV;
    const detail = f.vector === 14 ? `: ${VECTOR_NAMES[14]} at 0x${(f.address >>> 0).toString(16).padStart(8, '0')}` : `: ${f.name}`;
    this.kill(sig, eip >>> 0, detail);
    return true;
  }

  private softwareInterrupt(vector: number): boolean {
    const s = this.vm.cpu.s;
    if (vector !== 0x80) {
      // INT3 and INTO go through user-accessible gates (SIGTRAP, SIGSEGV); any other INT n is #GP: SIGSEGV.
      this.kill(vector === 3 ? SIGTRAP : SIGSEGV, (s[EIP] - (vector === 3 || vector === 4 ? 1 : 2)) >>> 0, vector === 3 || vector === 4 ? '' : `: INT 0x${vector.toString(16)}`);
      return true;
    }
    const nr = s[EAX] >>> 0;
    const call: SyscallEvent = { nr, name: syscallName(nr), args: [s[EBX], s[ECX], s[EDX], s[ESI], s[EDI], s[EBP]] };
    this.syscallCounts.set(call.name, (this.syscallCounts.get(call.name) ?? 0) + 1);
    let r = this.opts.onSyscall?.(call, this);
    if (r === undefined) {
      const handler = SYSCALLS[nr];
      if (handler === undefined) { this.unknownSyscalls++; r = -ENOSYS; } else r = handler(this, call.args);
    }
    s[EAX] = r;
    this.opts.afterSyscall?.(call, r, this);
    return true;
  }

  /** How the process ended, once it has. */
  get exitState(): ProcessExit | null { return this.ended; }

  /** Run until the program exits, dies of a signal, or a limit stops it. */
  run(opts: { maxInstructions?: number; timeout?: number } = {}): ProcessExit {
    const exit = this.vm.run(opts);
    if (this.ended !== null) { this.files.closeAll(); return this.ended; }
    return { kind: 'stopped', exit };
  }
}
