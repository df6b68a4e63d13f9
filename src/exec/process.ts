// A Linux i386 process on a VM of its own, in the manner of qemu-i386: the program runs at CPL 3 in flat
// 32-bit segments with paging on (page tables the address space owns), and the CPU's interrupt intercept
// (cpu.intercept, like VMX's exception bitmap) brings every INT 0x80 here as a system call and every
// fault as the signal the kernel would send (signals.ts delivers it to a handler or ends the process).
// A system call that would block (an empty pipe, wait4 on a running child) leaves EIP on its INT 0x80 and
// stops the VM with a wake condition: the scheduler (scheduler.ts) runs the other processes meanwhile and
// resumes this one, which makes the call again, once the condition holds.
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
import { captureState, applyState } from '../machine/vm-state.ts';
import { AddressSpace } from './address-space.ts';
import { FdTable, ENOSYS, EINTR } from './files.ts';
import { FileView } from './file-view.ts';
import { ExecError, loadExecutable } from './loader.ts';
import {
  CLD_EXITED, CLD_KILLED, CORE_SIGNALS, enterHandler, FPE_INTDIV, ILL_ILLOPN, SA_RESTART, SEGV_ACCERR, SEGV_MAPERR, SI_KERNEL, SIG_DFL, SIG_IGN,
  SIGBUS, SIGCHLD, SIGFPE, SIGILL, SIGKILL, SIGNAL_NAMES, SIGSEGV, SIGTRAP, Signals, type SigInfo,
} from './signals.ts';
import { syscallName } from './syscall-names.ts';
import { SYSCALLS, BLOCKED, FORKING, fileWrite } from './syscalls.ts';
import { PROCESS_CALLS } from './process-calls.ts';
import { runAll, runSync, type RunLimits } from './scheduler.ts';

export { ExecError } from './loader.ts';
export { SIGNAL_NAMES } from './signals.ts';

/** The kernel's GDT entries for user code and data (__USER_CS = 0x73, __USER_DS = 0x7b). */
const GDT_USER_CS = 14, GDT_USER_DS = 15, GDT_ENTRIES = 32;
export const USER_CS = GDT_USER_CS * 8 + 3, USER_DS = GDT_USER_DS * 8 + 3;

/** The signal Linux sends for a fault vector (arch/x86/kernel/traps.c). */
const FAULT_SIGNAL: Record<number, number> = { 0: SIGFPE, 1: SIGTRAP, 3: SIGTRAP, 4: SIGSEGV, 5: SIGSEGV, 6: SIGILL, 7: SIGSEGV, 10: SIGSEGV, 11: SIGBUS, 12: SIGBUS, 13: SIGSEGV, 14: SIGSEGV, 16: SIGFPE, 17: SIGBUS };
/** si_code for a fault vector's signal. */
const FAULT_CODE: Record<number, number> = { 0: FPE_INTDIV, 3: SI_KERNEL, 6: ILL_ILLOPN, 13: SI_KERNEL, 16: 0 };

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
  /**
   * A fresh VM for a child process (fork, vfork, clone): engine, JIT and memory as this one's. Without it
   * fork is -ENOSYS. Children run only under runAsync().
   */
  spawnVm?: () => Promise<VM>;
  /** Processes that may exist at once, this one included (default 64): fork beyond it is -EAGAIN. */
  maxProcesses?: number;
}

/** What every process of one run shares: the pids, the limit, the processes themselves. */
export class ProcessTable {
  readonly processes = new Map<number, Process>();
  nextPid: number;
  constructor(firstPid: number, readonly maxProcesses: number) { this.nextPid = firstPid; }
}

/** A fork waiting for its child's VM (made asynchronously by the scheduler). */
export interface ForkRequest { flags: number; stack: number; ptid: number; ctid: number; tls: number; call: SyscallEvent }

/** How the process ended. */
export type ProcessExit =
  | { kind: 'exit'; status: number }
  | { kind: 'signal'; signal: number; eip: number; message: string }
  /** The run stopped before the program ended (a limit: max-instructions, timeout, or the host). */
  | { kind: 'stopped'; exit: ExitRecord };

/** The wait4 status word of an ended process. */
export function waitStatus(e: ProcessExit): number {
  return e.kind === 'exit' ? (e.status & 0xff) << 8 : e.kind === 'signal' ? e.signal & 0x7f : SIGKILL;
}

export class Process {
  as: AddressSpace;
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
  /** The program's guest path (/proc/self/exe). */
  exePath: string;
  tlsUsed = [false, false, false];
  readonly signals: Signals;
  readonly table: ProcessTable;
  readonly parent: Process | null;
  readonly children = new Set<Process>();
  /** System calls made, by name (unknown ones as syscall_<n>) — shared by the processes of one run. */
  readonly syscallCounts: Map<string, number>;
  /** System calls answered with -ENOSYS because x86jit does not implement them. */
  unknownSyscalls = 0;
  /** While a system call waits: what must hold for it to be made again (null: the process runs). */
  wake: (() => boolean) | null = null;
  /** While waiting: the time (performance.now()) after which it is made again anyway (poll's timeout). */
  wakeAt = Infinity;
  /** A fork (clone, vfork) waiting for the scheduler to make the child. */
  forkRequest: ForkRequest | null = null;
  /** vfork: the child has called execve or ended (its parent may go on). */
  vforkDone = true;
  /** vfork: the child this process waits for. */
  vforkChild: Process | null = null;
  /** The system call being made is one made again after a wait. */
  retrying = false;
  /** The waiting call may be made again after a handler with SA_RESTART (false: sigsuspend, poll, select: EINTR). */
  restartable = true;
  /** A waiting write's bytes already written (a pipe write bigger than the room in the pipe). */
  progress = 0;
  /** A waiting call's own deadline (poll's timeout, performance.now()), kept across its retries. */
  deadline = Infinity;
  /** alarm(2): when SIGALRM is due (performance.now()), or Infinity. */
  alarmAt = Infinity;
  private ended: ProcessExit | null = null;
  private readonly realBase: bigint;

  constructor(readonly vm: VM, image: Uint8Array | null, path: string, private readonly opts: ProcessOptions = {}, parent?: Process) {
    this.parent = parent ?? null;
    this.uid = process.getuid?.() ?? 0;
    this.gid = process.getgid?.() ?? 0;
    if (parent !== undefined) {
      // fork: the parent's state, its memory copied by forkFrom().
      this.table = parent.table;
      this.pid = this.table.nextPid++;
      this.ppid = parent.pid;
      this.realBase = parent.realBase;
      this.view = parent.view;
      this.cwd = parent.cwd;
      this.umask = parent.umask;
      this.exePath = parent.exePath;
      this.files = parent.files.copy();
      this.signals = parent.signals.copy();
      this.syscallCounts = parent.syscallCounts;
      this.brkStart = parent.brkStart; this.brk = parent.brk;
      this.tlsUsed = [...parent.tlsUsed];
      this.as = parent.as.copyInto(vm);
    } else {
      this.table = new ProcessTable(process.pid, opts.maxProcesses ?? 64);
      this.pid = process.pid;
      this.table.nextPid = process.pid + 1;
      this.ppid = process.ppid;
      this.realBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
      this.view = new FileView(opts.root ?? null, opts.overlay ?? null);
      this.cwd = opts.cwd ?? (opts.root !== undefined ? '/' : process.cwd());
      this.exePath = path;
      this.files = new FdTable(opts.stdio ?? [0, 1, 2]);
      this.signals = new Signals();
      this.syscallCounts = new Map();
      this.as = new AddressSpace(vm);
      this.brkStart = this.brk = 0;
      this.load(image!, path, opts.argv ?? [path], opts.env ?? [], opts.argv?.[0] ?? path);
    }
    this.table.processes.set(this.pid, this);
    vm.cpu.intercept = {
      softwareInterrupt: (vector) => this.softwareInterrupt(vector),
      exception: (f, eip) => this.fault(f, eip),
    };
  }

  /** Map a program into the (empty) address space and start it: the loader's work, then user mode's registers. */
  private load(image: Uint8Array, path: string, argv: string[], env: string[], execfn: string): void {
    const gdt = this.as.mapGdt();
    const loaded = loadExecutable(this.as, image, path, {
      argv, env, execfn, uid: this.uid, gid: this.gid,
      readInterpreter: (interp) => this.readInterpreter(interp),
    });
    this.brkStart = this.brk = loaded.brk;
    this.setupCpu(gdt, loaded.entry, loaded.stack);
  }

  /** The child of a fork (clone without CLONE_VM, vfork, or CLONE_VM|CLONE_VFORK as posix_spawn asks): a copy on `vm`. */
  static forkFrom(parent: Process, vm: VM, req: ForkRequest): Process {
    // The child's RAM first (the address space copies the frames in use), then the CPU as the parent left it.
    const child = new Process(vm, null, parent.exePath, parent.opts, parent);
    applyState(vm, captureState(parent.vm));
    const s = vm.cpu.s;
    s[EAX] = 0;
    if (req.stack !== 0) s[ESP] = req.stack;
    parent.children.add(child);
    return child;
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

  /**
   * execve after its checks passed: the old image goes (mappings, TLS slots, handlers, close-on-exec fds),
   * the new one is loaded. An ExecError now (too large) ends the process with SIGSEGV, as the kernel does
   * past the point of no return.
   */
  exec(image: Uint8Array, path: string, argv: string[], env: string[]): void {
    this.files.closeOnExec();
    this.signals.exec();
    this.as.clear();
    this.tlsUsed = [false, false, false];
    this.exePath = path;
    try {
      this.load(image, path, argv, env, path);
    } catch (e) {
      if (!(e instanceof ExecError)) throw e;
      this.terminate(SIGSEGV, `: execve: ${e.message}`);
    }
    this.releaseVforkParent();
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
    cpu.breakBlock |= BREAK_MODE;
    // No device interrupts reach a process: initialise both PICs (as firmware would) with every line masked.
    const { master, slave } = this.vm.pic;
    master.write(0, 1, 0x11); master.write(1, 1, 0x20); master.write(1, 1, 0x04); master.write(1, 1, 0x01); master.write(1, 1, 0xff);
    slave.write(0, 1, 0x11); slave.write(1, 1, 0x28); slave.write(1, 1, 0x02); slave.write(1, 1, 0x01); slave.write(1, 1, 0xff);
  }

  /** After set_thread_area: a segment register holding `selector` takes the new descriptor, as the kernel reloads it. */
  reloadSegments(selector: number): void {
    const s = this.vm.cpu.s;
    for (const seg of [FS, GS]) {
      const sel = s[segSlot(seg, SEG_SEL)] & 0xffff;
      if ((sel & 0xfff8) === (selector & 0xfff8) && sel !== 0) this.loadTlsSegment(seg, sel);
    }
  }

  /** Load FS or GS with `sel` from the GDT as the kernel's loadsegment would (a null or absent one: unusable). */
  loadTlsSegment(seg: number, sel: number): void {
    const cpu = this.vm.cpu, s = cpu.s, index = sel >> 3;
    const lo = cpu.readSys32(s[GDTR_BASE] + index * 8) >>> 0, hi = cpu.readSys32(s[GDTR_BASE] + index * 8 + 4) >>> 0;
    if ((sel & 0xfffc) === 0 || index >= GDT_ENTRIES || !(hi & 0x8000)) { cpu.setSegmentCache(seg, sel, 0, 0, ATTR_UNUSABLE); cpu.breakBlock |= BREAK_MODE; return; }
    const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) | 0;
    let limit = (lo & 0xffff) | (hi & 0xf_0000);
    if (hi & 0x80_0000) limit = (limit << 12) | 0xfff;
    cpu.setSegmentCache(seg, sel, base, limit | 0, (hi >>> 8) & 0xf0ff);
    cpu.breakBlock |= BREAK_MODE; // compiled code assumed the old segment state
  }

  realtimeNs(): bigint { return this.realBase + process.hrtime.bigint(); }

  /** exit/exit_group: the process ends with `status`. */
  exit(status: number): void { this.end({ kind: 'exit', status }); }

  /** The process dies of signal `sig` (its default action). */
  terminate(sig: number, why = '', eip = this.vm.cpu.s[EIP] >>> 0): void {
    const name = SIGNAL_NAMES[sig] ?? `signal ${sig}`;
    this.end({ kind: 'signal', signal: sig, eip, message: `uncaught signal ${sig} (${name})${why} at EIP 0x${eip.toString(16).padStart(8, '0')}` });
  }

  private end(how: ProcessExit): void {
    if (this.ended) return;
    this.ended = how;
    this.wake = null;
    // A child killed by a core-dumping signal says so on its stderr, as qemu-i386's child does (the CLI
    // reports the first process's end itself).
    const err = this.files.get(2);
    if (this.parent !== null && how.kind === 'signal' && CORE_SIGNALS.has(how.signal) && err !== undefined && err.pipe === undefined) {
      fileWrite(this, err, new TextEncoder().encode(`x86jit: ${how.message}\n`));
    }
    this.files.closeAll();
    this.releaseVforkParent();
    this.vm.requestStop({ reason: 'stopped', message: how.kind === 'signal' ? how.message : 'the program exited' });
    // Its children are orphans: nobody will wait for them.
    for (const c of this.children) if (c.ended) this.table.processes.delete(c.pid);
    const parent = this.parent;
    if (parent === null || parent.ended) { this.table.processes.delete(this.pid); return; }
    // The parent hears of it (SIGCHLD); it reaps the zombie with wait4, unless it ignores SIGCHLD (no zombie then).
    const status = waitStatus(how);
    parent.signals.post(SIGCHLD, { code: how.kind === 'exit' ? CLD_EXITED : CLD_KILLED, pid: this.pid, uid: this.uid, status: how.kind === 'exit' ? how.status : status });
    if (parent.signals.actions[SIGCHLD].handler === SIG_IGN) { parent.children.delete(this); this.table.processes.delete(this.pid); }
  }

  private releaseVforkParent(): void { this.vforkDone = true; }

  /** Send `sig` to this process (kill, a fault, the kernel). */
  raise(sig: number, info: SigInfo): void {
    if (this.ended) return;
    this.signals.post(sig, info);
  }

  /**
   * Act on pending signals now, at an instruction boundary or a system call's end: enter the first one's
   * handler, or take its default action (end the process). A process waiting in a system call is
   * interrupted only by a signal with a handler: the call fails with EINTR, or is made again after the
   * handler (SA_RESTART).
   */
  deliverSignals(): void {
    for (;;) {
      if (this.ended) return;
      const sig = this.signals.next();
      if (sig === 0) return;
      const info = this.signals.take(sig);
      const act = this.signals.actions[sig];
      if (act.handler === SIG_IGN || (act.handler === SIG_DFL && this.signals.discards(sig) && sig !== SIGKILL)) continue;
      if (act.handler === SIG_DFL || sig === SIGKILL) { this.terminate(sig); return; }
      if (this.wake !== null) {
        // Interrupted while waiting (EIP is on its INT 0x80).
        this.wake = null; this.wakeAt = Infinity;
        if (!(act.flags & SA_RESTART) || !this.restartable) { this.vm.cpu.s[EAX] = -EINTR; this.vm.cpu.s[EIP] += 2; }
      }
      if (!enterHandler(this, sig, info)) { this.terminate(SIGSEGV); return; }
      return; // one frame at a time; the next signal once the handler has run a little
    }
  }

  /** Whether a waiting process has a signal that would interrupt it (one with a handler, or a fatal one). */
  signalWakes(): boolean {
    const sig = this.signals.next();
    if (sig === 0) return false;
    const h = this.signals.actions[sig].handler;
    return h !== SIG_IGN && !(h === SIG_DFL && this.signals.discards(sig));
  }

  private fault(f: CpuFault, eip: number): boolean {
    // A stack that has to grow: map the pages and run the instruction again.
    if (f.vector === 14 && !(f.errorCode & 1) && this.as.growStack(f.address)) { this.vm.cpu.s[EIP] = eip; return true; }
    const sig = FAULT_SIGNAL[f.vector] ?? SIGSEGV;
    const act = this.signals.actions[sig];
    const blocked = this.signals.blocked & (1n << BigInt(sig - 1));
    if (act.handler === SIG_DFL || act.handler === SIG_IGN || blocked) {
      // force_sig: a fault's signal cannot be ignored or blocked away; with no handler the process dies.
      const detail = f.vector === 14 ? `: ${VECTOR_NAMES[14]} at 0x${(f.address >>> 0).toString(16).padStart(8, '0')}` : `: ${f.name}`;
      this.terminate(sig, detail, eip >>> 0);
      return true;
    }
    const s = this.vm.cpu.s;
    s[EIP] = eip;
    const code = f.vector === 14 ? (f.errorCode & 1 ? SEGV_ACCERR : SEGV_MAPERR) : FAULT_CODE[f.vector] ?? SI_KERNEL;
    const info: SigInfo = { code, trapno: f.vector, err: Math.max(0, f.errorCode), addr: f.vector === 14 ? f.address >>> 0 : eip >>> 0 };
    if (f.vector === 13) info.addr = 0;
    if (!enterHandler(this, sig, info)) this.terminate(SIGSEGV, '', eip >>> 0);
    return true;
  }

  private softwareInterrupt(vector: number): boolean {
    const s = this.vm.cpu.s;
    if (vector !== 0x80) {
      // INT3 and INTO go through user-accessible gates (SIGTRAP, SIGSEGV); any other INT n is #GP: SIGSEGV.
      const sig = vector === 3 ? SIGTRAP : SIGSEGV;
      if (vector !== 3 && vector !== 4) s[EIP] -= 2;
      if (this.signals.actions[sig].handler <= SIG_IGN) {
        this.terminate(sig, vector === 3 || vector === 4 ? '' : `: INT 0x${vector.toString(16)}`, (s[EIP] - (vector === 3 || vector === 4 ? 1 : 0)) >>> 0);
        return true;
      }
      const info: SigInfo = { code: SI_KERNEL, trapno: vector === 3 ? 3 : 13, err: vector === 3 ? 0 : vector * 8 + 2 };
      if (!enterHandler(this, sig, info)) this.terminate(SIGSEGV);
      return true;
    }
    const nr = s[EAX] >>> 0;
    const call: SyscallEvent = { nr, name: syscallName(nr), args: [s[EBX], s[ECX], s[EDX], s[ESI], s[EDI], s[EBP]] };
    const retry = this.wake !== null;
    this.retrying = retry;
    this.restartable = true;
    this.wake = null; this.wakeAt = Infinity;
    if (!retry) { this.deadline = Infinity; this.progress = 0; }
    if (!retry) this.syscallCounts.set(call.name, (this.syscallCounts.get(call.name) ?? 0) + 1);
    let r = this.opts.onSyscall?.(call, this);
    if (r === undefined) {
      const handler = PROCESS_CALLS[nr] ?? SYSCALLS[nr];
      if (handler === undefined) { this.unknownSyscalls++; r = -ENOSYS; } else r = handler(this, call.args);
    }
    if (r === BLOCKED) {
      if (this.ended) return true;
      // Wait: back onto the INT 0x80, to be made again once this.wake holds (set by the handler).
      s[EIP] -= 2;
      this.wake ??= () => false;
      this.wakeAt = this.deadline;
      if (this.signalWakes()) this.deliverSignals();
      else this.vm.requestStop({ reason: 'stopped', message: 'waiting' });
      return true;
    }
    if (r === FORKING) { this.forkRequest!.call = call; this.vm.requestStop({ reason: 'stopped', message: 'fork' }); return true; }
    s[EAX] = r;
    this.opts.afterSyscall?.(call, r, this);
    this.deliverSignals();
    return true;
  }

  /** The fork's result in the parent (the child's pid, or -errno), once the scheduler has made the child. */
  forkDone(result: number): void {
    const req = this.forkRequest!;
    this.forkRequest = null;
    this.vm.cpu.s[EAX] = result;
    this.opts.afterSyscall?.(req.call, result, this);
  }

  /** How the process ended, once it has. */
  get exitState(): ProcessExit | null { return this.ended; }

  /** Whether the process may run now (not ended, not waiting for something that has not happened). */
  get runnable(): boolean {
    if (this.ended !== null || this.forkRequest !== null) return false;
    if (this.vforkChild !== null) {
      if (!this.vforkChild.vforkDone) return false;
      this.vforkChild = null;
    }
    if (this.wake === null) return true;
    return this.wake() || performance.now() >= this.wakeAt || this.signalWakes();
  }

  /** Run this process alone (fork is -ENOSYS: children need runAsync) until it exits, dies of a signal, or a limit stops it. */
  run(opts: RunLimits = {}): ProcessExit {
    return runSync(this, opts);
  }

  /** Run this process and every child it makes, until it exits, dies of a signal, or a limit stops it. */
  runAsync(opts: RunLimits = {}): Promise<ProcessExit> {
    return runAll(this, opts, this.opts.spawnVm ?? null);
  }

  /** Whether fork can make children (a VM factory was given). */
  get canFork(): boolean { return this.opts.spawnVm !== undefined; }
}
