// Signals as the i386 kernel delivers them (arch/x86/kernel/signal.c, signal_32.c): each process has an
// action per signal, a blocked mask and a pending set. A deliverable signal with a handler gets a frame
// built on the user stack — the old `sigframe` (sigcontext, extramask, retcode) for a handler without
// SA_SIGINFO, the `rt_sigframe` (siginfo, ucontext) with it — and the handler is entered with the saved
// registers in the frame; sigreturn/rt_sigreturn read them back. A signal with no handler takes its
// default action: ignore, or end the process (then its parent sees it in wait4's status).
import { getEflags, setEflags } from '../cpu/flags.ts';
import { BREAK_MODE } from '../cpu/cpu.ts';
import { CS, DS, ES, FS, GS, SS } from '../decoder/instruction.ts';
import { EAX, EBP, EBX, ECX, EDI, EDX, EIP, ESI, ESP, SEG_SEL, segSlot, FPU_REG_SLOT } from '../cpu/state.ts';
import type { Process } from './process.ts';

export const SIGHUP = 1, SIGINT = 2, SIGQUIT = 3, SIGILL = 4, SIGTRAP = 5, SIGABRT = 6, SIGBUS = 7, SIGFPE = 8, SIGKILL = 9,
  SIGUSR1 = 10, SIGSEGV = 11, SIGUSR2 = 12, SIGPIPE = 13, SIGALRM = 14, SIGTERM = 15, SIGCHLD = 17, SIGCONT = 18, SIGSTOP = 19,
  SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22, SIGURG = 23, SIGXCPU = 24, SIGXFSZ = 25, SIGWINCH = 28, SIGSYS = 31;
export const NSIG = 64;

/** strsignal's names (glibc). */
export const SIGNAL_NAMES: Record<number, string> = {
  1: 'Hangup', 2: 'Interrupt', 3: 'Quit', 4: 'Illegal instruction', 5: 'Trace/breakpoint trap', 6: 'Aborted', 7: 'Bus error',
  8: 'Floating point exception', 9: 'Killed', 10: 'User defined signal 1', 11: 'Segmentation fault', 12: 'User defined signal 2',
  13: 'Broken pipe', 14: 'Alarm clock', 15: 'Terminated', 16: 'Stack fault', 17: 'Child exited', 18: 'Continued', 19: 'Stopped (signal)',
  20: 'Stopped', 21: 'Stopped (tty input)', 22: 'Stopped (tty output)', 23: 'Urgent I/O condition', 24: 'CPU time limit exceeded',
  25: 'File size limit exceeded', 26: 'Virtual timer expired', 27: 'Profiling timer expired', 28: 'Window changed', 29: 'I/O possible',
  30: 'Power failure', 31: 'Bad system call',
};

/** Host signal names (process.kill) by number. */
export const HOST_SIGNALS: Record<number, NodeJS.Signals> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1',
  11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 24: 'SIGXCPU', 25: 'SIGXFSZ', 26: 'SIGVTALRM', 27: 'SIGPROF',
  29: 'SIGIO', 30: 'SIGPWR', 31: 'SIGSYS',
};

/** Signals whose default action dumps core (qemu-i386 reports these with a line on stderr). */
export const CORE_SIGNALS = new Set([SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS]);
/** Signals whose default action is to do nothing (the stop signals too: there is no job control here). */
const IGNORED_BY_DEFAULT = new Set([SIGCHLD, SIGCONT, SIGURG, SIGWINCH, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU]);

export const SIG_DFL = 0, SIG_IGN = 1;
export const SA_NOCLDSTOP = 1, SA_SIGINFO = 4, SA_RESTORER = 0x0400_0000, SA_ONSTACK = 0x0800_0000, SA_RESTART = 0x1000_0000,
  SA_NODEFER = 0x4000_0000, SA_RESETHAND = 0x8000_0000;

/** si_code values (asm-generic/siginfo.h). */
export const SI_USER = 0, SI_KERNEL = 0x80, SI_TKILL = -6, SEGV_MAPERR = 1, SEGV_ACCERR = 2, FPE_INTDIV = 1, ILL_ILLOPN = 2,
  TRAP_BRKPT = 1, BUS_ADRERR = 2, CLD_EXITED = 1, CLD_KILLED = 2;

export interface SigAction { handler: number; flags: number; restorer: number; mask: bigint }

/** What the rt_sigframe's siginfo says (and the old frame's sigcontext, for faults). */
export interface SigInfo {
  code: number;
  /** kill: the sender; SIGCHLD: the child. */
  pid?: number;
  uid?: number;
  /** SIGCHLD: the child's exit status or signal. */
  status?: number;
  /** Faults: the address (si_addr) and the trap's number and error code (sigcontext). */
  addr?: number;
  trapno?: number;
  err?: number;
}

const bit = (sig: number): bigint => 1n << BigInt(sig - 1);
/** SIGKILL and SIGSTOP cannot be blocked. */
export const UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP);

/** A process's signal state. fork copies it; execve resets handled signals to their default. */
export class Signals {
  readonly actions: SigAction[] = Array.from({ length: NSIG + 1 }, () => ({ handler: SIG_DFL, flags: 0, restorer: 0, mask: 0n }));
  blocked = 0n;
  pending = 0n;
  readonly info = new Map<number, SigInfo>();
  /** The mask to restore once a handler runs after rt_sigsuspend (null: none). */
  suspendMask: bigint | null = null;
  /** x87 state saved by frames still on the stack, keyed by the frame's fpstate address. */
  readonly fpu = new Map<number, Int32Array>();

  copy(): Signals {
    const s = new Signals();
    this.actions.forEach((a, i) => { s.actions[i] = { ...a }; });
    s.blocked = this.blocked;
    return s;
  }

  /** execve: handlers are reset (ignored signals stay ignored); the mask and pending signals stay. */
  exec(): void {
    for (const a of this.actions) if (a.handler !== SIG_IGN) { a.handler = SIG_DFL; a.flags = 0; a.restorer = 0; a.mask = 0n; }
    this.fpu.clear();
  }

  /** Whether `sig` is thrown away as soon as it is sent (ignored, explicitly or by default). */
  discards(sig: number): boolean {
    const h = this.actions[sig].handler;
    return h === SIG_IGN || (h === SIG_DFL && IGNORED_BY_DEFAULT.has(sig));
  }

  post(sig: number, info: SigInfo): void {
    if (sig !== SIGKILL && this.discards(sig)) return;
    if (!(this.pending & bit(sig))) this.info.set(sig, info);
    this.pending |= bit(sig);
  }

  /** The lowest pending signal that is not blocked (0: none). */
  next(): number {
    const ready = this.pending & ~(this.blocked & ~UNBLOCKABLE);
    if (ready === 0n) return 0;
    for (let sig = 1; sig <= NSIG; sig++) if (ready & bit(sig)) return sig;
    return 0;
  }

  take(sig: number): SigInfo {
    this.pending &= ~bit(sig);
    const info = this.info.get(sig) ?? { code: SI_USER };
    this.info.delete(sig);
    return info;
  }
}

export const sigBit = bit;

// ---- frames (i386 layouts) ----
const SC_SIZE = 88;
/** struct sigframe: pretcode, sig, sigcontext, the unused _fpstate_32 (624 bytes), extramask, retcode. */
const OLD_SC = 8, OLD_EXTRAMASK = 8 + SC_SIZE + 624, OLD_RETCODE = OLD_EXTRAMASK + 4, OLD_SIZE = OLD_RETCODE + 8;
/** struct rt_sigframe: pretcode, sig, pinfo, puc, siginfo (128), ucontext (flags, link, stack, sigcontext, sigmask), retcode. */
const RT_INFO = 16, RT_UC = RT_INFO + 128, RT_SC = RT_UC + 20, RT_MASK = RT_SC + SC_SIZE, RT_RETCODE = RT_MASK + 8, RT_SIZE = RT_RETCODE + 8;
/** The FPU state area below the frame: struct _fpstate_32 (fsave header 112 + fxsave 512) and FP_XSTATE_MAGIC2. */
const FPSTATE_SIZE = 112 + 512 + 4;
const FPU_SLOTS = 32;
const SS_DISABLE = 2;
/** EFLAGS bits sigreturn takes from the frame (FIX_EFLAGS): AC OF DF TF SF ZF AF PF CF RF. */
const FIX_EFLAGS = 0x4_0000 | 0x800 | 0x400 | 0x100 | 0x80 | 0x40 | 0x10 | 0x4 | 0x1 | 0x1_0000;

class Frame {
  readonly bytes: Uint8Array;
  readonly v: DataView;
  constructor(size: number) { this.bytes = new Uint8Array(size); this.v = new DataView(this.bytes.buffer); }
  u32(at: number, x: number): void { this.v.setUint32(at, x >>> 0, true); }
  i32(at: number, x: number): void { this.v.setInt32(at, x | 0, true); }
}

/** The sigcontext of the registers now (setup_sigcontext). */
function writeSigcontext(f: Frame, at: number, p: Process, fpstate: number, oldmask: bigint, info: SigInfo): void {
  const s = p.vm.cpu.s, sel = (seg: number): number => s[segSlot(seg, SEG_SEL)] & 0xffff;
  const w = (off: number, x: number): void => f.u32(at + off, x);
  w(0, sel(GS)); w(4, sel(FS)); w(8, sel(ES)); w(12, sel(DS));
  w(16, s[EDI]); w(20, s[ESI]); w(24, s[EBP]); w(28, s[ESP]); w(32, s[EBX]); w(36, s[EDX]); w(40, s[ECX]); w(44, s[EAX]);
  w(48, info.trapno ?? 0); w(52, info.err ?? 0); w(56, s[EIP]); w(60, sel(CS)); w(64, getEflags(s)); w(68, s[ESP]); w(72, sel(SS));
  w(76, fpstate); w(80, Number(oldmask & 0xffff_ffffn)); w(84, info.addr ?? 0);
}

function writeSiginfo(f: Frame, at: number, sig: number, info: SigInfo): void {
  f.i32(at, sig); f.i32(at + 4, 0); f.i32(at + 8, info.code);
  if (info.addr !== undefined) f.u32(at + 12, info.addr);
  else {
    f.u32(at + 12, info.pid ?? 0); f.u32(at + 16, info.uid ?? 0);
    if (info.status !== undefined) f.i32(at + 20, info.status);
  }
}

/**
 * Enter the handler of `sig` (setup_frame / setup_rt_frame, then handle_signal's mask update). False: the
 * frame could not be written (the kernel then forces SIGSEGV).
 */
export function enterHandler(p: Process, sig: number, info: SigInfo): boolean {
  const cpu = p.vm.cpu, s = cpu.s, sigs = p.signals, act = sigs.actions[sig];
  const oldmask = sigs.suspendMask ?? sigs.blocked;
  sigs.suspendMask = null;
  const rt = (act.flags & SA_SIGINFO) !== 0;
  // get_sigframe: the FPU area 64-byte aligned below the stack, the frame below it with (ESP + 4) % 16 == 0 at entry.
  const fx = ((s[ESP] >>> 0) - 516) & ~63;
  const fpstate = fx - 112;
  const size = rt ? RT_SIZE : OLD_SIZE;
  const frame = ((((fpstate - size) >>> 0) + 4) & ~15) - 4;
  const f = new Frame(size);
  f.u32(0, act.flags & SA_RESTORER ? act.restorer : frame + (rt ? RT_RETCODE : OLD_RETCODE));
  f.i32(4, sig);
  if (rt) {
    f.u32(8, frame + RT_INFO); f.u32(12, frame + RT_UC);
    writeSiginfo(f, RT_INFO, sig, info);
    f.u32(RT_UC, 0); f.u32(RT_UC + 4, 0); f.u32(RT_UC + 8, 0); f.u32(RT_UC + 12, SS_DISABLE); f.u32(RT_UC + 16, 0);
    writeSigcontext(f, RT_SC, p, fpstate, oldmask, info);
    f.u32(RT_MASK, Number(oldmask & 0xffff_ffffn)); f.u32(RT_MASK + 4, Number(oldmask >> 32n));
    // movl $__NR_rt_sigreturn, %eax; int $0x80 (not used by glibc, which passes SA_RESTORER; kept for gdb's sake)
    f.bytes.set([0xb8, 173, 0, 0, 0, 0xcd, 0x80, 0], RT_RETCODE);
  } else {
    writeSigcontext(f, OLD_SC, p, fpstate, oldmask, info);
    f.u32(OLD_EXTRAMASK, Number(oldmask >> 32n));
    // popl %eax; movl $__NR_sigreturn, %eax; int $0x80
    f.bytes.set([0x58, 0xb8, 119, 0, 0, 0, 0xcd, 0x80], OLD_RETCODE);
  }
  // The FPU area: the fsave header's control/status/tag words as FNSTENV writes them, FP_XSTATE_MAGIC2
  // absent; the registers themselves are kept here to be restored by sigreturn.
  const fp = new Frame(FPSTATE_SIZE);
  fp.u32(0, s[FPU_REG_SLOT + 24] | 0xffff0000); fp.u32(4, s[FPU_REG_SLOT + 25] | 0xffff0000); fp.u32(8, s[FPU_REG_SLOT + 26] | 0xffff0000);
  fp.v.setUint16(108, 0xffff, true); // status: X86_FXSR_MAGIC's absence says "fsave format only"
  if (!p.as.write(fpstate, fp.bytes) || !p.as.write(frame, f.bytes)) return false;
  if (sigs.fpu.size > 1024) sigs.fpu.clear(); // frames abandoned by longjmp
  sigs.fpu.set(fpstate >>> 0, s.slice(FPU_REG_SLOT, FPU_REG_SLOT + FPU_SLOTS));

  s[ESP] = frame;
  s[EIP] = act.handler;
  s[EAX] = sig;
  s[EDX] = rt ? frame + RT_INFO : 0;
  s[ECX] = rt ? frame + RT_UC : 0;
  setEflags(s, getEflags(s) & ~(0x100 | 0x400)); // TF and DF clear in the handler
  if (act.flags & SA_RESETHAND) { act.handler = SIG_DFL; act.flags &= ~SA_SIGINFO; }
  sigs.blocked |= act.mask;
  if (!(act.flags & SA_NODEFER)) sigs.blocked |= bit(sig);
  sigs.blocked &= ~UNBLOCKABLE;
  cpu.breakBlock |= BREAK_MODE;
  return true;
}

/** sigreturn (rt: rt_sigreturn) with ESP as the handler's `ret` left it. Returns the restored EAX, or null: a bad frame (SIGSEGV). */
export function sigreturn(p: Process, rt: boolean): number | null {
  const s = p.vm.cpu.s, sigs = p.signals;
  const frame = ((s[ESP] >>> 0) - (rt ? 4 : 8)) >>> 0;
  const b = p.as.read(frame, rt ? RT_SIZE : OLD_SIZE);
  if (b === null) return null;
  const v = new DataView(b.buffer), at = rt ? RT_SC : OLD_SC, r = (off: number): number => v.getUint32(at + off, true);
  const mask = rt ? BigInt(v.getUint32(RT_MASK, true)) | (BigInt(v.getUint32(RT_MASK + 4, true)) << 32n)
    : BigInt(r(80)) | (BigInt(v.getUint32(OLD_EXTRAMASK, true)) << 32n);
  sigs.blocked = mask & ~UNBLOCKABLE;
  s[EDI] = r(16); s[ESI] = r(20); s[EBP] = r(24); s[ESP] = r(28); s[EBX] = r(32); s[EDX] = r(36); s[ECX] = r(40);
  s[EIP] = r(56);
  setEflags(s, (getEflags(s) & ~FIX_EFLAGS) | (r(64) & FIX_EFLAGS));
  for (const [seg, off] of [[GS, 0], [FS, 4]] as const) if ((r(off) & 0xffff) !== (s[segSlot(seg, SEG_SEL)] & 0xffff)) p.loadTlsSegment(seg, r(off) & 0xffff);
  const fpstate = r(76);
  const saved = sigs.fpu.get(fpstate);
  if (saved !== undefined) { s.set(saved, FPU_REG_SLOT); sigs.fpu.delete(fpstate); }
  p.vm.cpu.breakBlock |= BREAK_MODE;
  return r(44);
}
