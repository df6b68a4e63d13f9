// The system calls about processes, signals and waiting: fork/vfork/clone, execve, wait4/waitpid, kill and
// the sigaction family, sigreturn, pipes, and poll/select over pipes and host files. A call that must wait
// sets p.wake (what it waits for) and answers BLOCKED: the scheduler runs the others and the call is made
// again (see process.ts).
import * as fs from 'node:fs';
import { freemem, loadavg, totalmem, uptime } from 'node:os';
import { EAGAIN, EBADF, ECHILD, EFAULT, EINVAL, ENOENT, ENOEXEC, ENOSYS, ESRCH, EACCES, hostErrno, type OpenFile } from './files.ts';
import { ExecError, parseExecutable } from './loader.ts';
import { Process, waitStatus } from './process.ts';
import {
  NSIG, SI_TKILL, SI_USER, SIG_IGN, SIGKILL, SIGSTOP, sigBit, sigreturn, UNBLOCKABLE, SIGSEGV,
} from './signals.ts';
import { BLOCKED, FORKING, NS, Out, fileArg, pathArg, put, readTimespec, type SyscallHandler } from './syscalls.ts';

const u32 = (v: number): number => v >>> 0;
const CLONE_VM = 0x100, CLONE_VFORK = 0x4000, CLONE_THREAD = 0x1_0000, SIGCHLD = 17;
const WNOHANG = 1;

// ---- signals ----
function readSigset(p: Process, addr: number, size = 8): bigint | null {
  const b = p.as.read(addr, size);
  if (b === null) return null;
  const v = new DataView(b.buffer);
  return size === 8 ? v.getBigUint64(0, true) : BigInt(v.getUint32(0, true));
}

type SigAction = { handler: number; flags: number; restorer: number; mask: bigint };

/** How a sigaction call lays its struct out in guest memory. */
interface SigactionLayout { size: number; decode(v: DataView): SigAction; encode(a: SigAction): Out }

/** rt_sigaction(2): struct sigaction { handler, flags, restorer, mask (64 bits) }. */
const RT_SIGACTION: SigactionLayout = {
  size: 20,
  decode: (v) => ({ handler: v.getUint32(0, true), flags: v.getUint32(4, true), restorer: v.getUint32(8, true), mask: v.getBigUint64(12, true) }),
  encode: (a) => new Out(20).u32(0, a.handler).u32(4, a.flags).u32(8, a.restorer).u64(12, a.mask),
};
/** sigaction(2), the old call: struct old_sigaction { handler, mask (32 bits), flags, restorer }. */
const OLD_SIGACTION: SigactionLayout = {
  size: 16,
  decode: (v) => ({ handler: v.getUint32(0, true), mask: BigInt(v.getUint32(4, true)), flags: v.getUint32(8, true), restorer: v.getUint32(12, true) }),
  encode: (a) => new Out(16).u32(0, a.handler).u32(4, a.mask & 0xffff_ffffn).u32(8, a.flags).u32(12, a.restorer),
};

/** The sigaction calls: store the old action at `old`, install the one at `act` (SIGKILL/SIGSTOP refused). */
function sigaction(p: Process, layout: SigactionLayout, sig: number, act: number, old: number): number {
  if (sig < 1 || sig > NSIG) return -EINVAL;
  const a = p.signals.actions[sig];
  let next: SigAction | null = null;
  if (act !== 0) {
    if (sig === SIGKILL || sig === SIGSTOP) return -EINVAL;
    const b = p.as.read(act, layout.size);
    if (b === null) return -EFAULT;
    const d = layout.decode(new DataView(b.buffer));
    next = { ...d, mask: d.mask & ~UNBLOCKABLE };
  }
  if (old !== 0 && put(p, old, layout.encode(a)) < 0) return -EFAULT;
  if (next !== null) setAction(p, sig, next);
  return 0;
}

function setAction(p: Process, sig: number, a: SigAction): void {
  p.signals.actions[sig] = a;
  // A signal now ignored is dropped if pending (the kernel's sigaction does so).
  if (p.signals.discards(sig)) { p.signals.pending &= ~sigBit(sig); p.signals.info.delete(sig); }
}

function sigprocmask(p: Process, how: number, set: number, old: number, size: number): number {
  if (old !== 0 && put(p, old, size === 8 ? new Out(8).u64(0, p.signals.blocked) : new Out(4).u32(0, p.signals.blocked & 0xffff_ffffn)) < 0) return -EFAULT;
  if (set !== 0) {
    const m = readSigset(p, set, size);
    if (m === null) return -EFAULT;
    const full = size === 8 ? m : (p.signals.blocked & ~0xffff_ffffn) | m;
    if (how === 0) p.signals.blocked |= m; else if (how === 1) p.signals.blocked &= ~m; else if (how === 2) p.signals.blocked = full; else return -EINVAL;
    p.signals.blocked &= ~UNBLOCKABLE;
  }
  return 0;
}

/** rt_sigsuspend / pause: wait for a signal with a handler (EINTR after it), `mask` blocked meanwhile. */
function suspend(p: Process, mask: bigint | null): number {
  if (!p.retrying && mask !== null) { p.signals.suspendMask = p.signals.blocked; p.signals.blocked = mask & ~UNBLOCKABLE; }
  p.restartable = false;
  p.wake = () => false;
  return BLOCKED;
}

function kill(p: Process, pid: number, sig: number, code: number): number {
  if (sig < 0 || sig > NSIG) return -EINVAL;
  pid |= 0;
  const targets = pid > 0 ? [p.table.processes.get(pid)].filter((t): t is Process => t !== undefined && t.exitState === null)
    : [...p.table.processes.values()].filter((t) => t.exitState === null);
  if (targets.length === 0) return -ESRCH;
  if (sig !== 0) for (const t of targets) t.raise(sig, { code, pid: p.pid, uid: p.uid });
  return 0;
}

// ---- poll and select ----
const POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 0x10, POLLNVAL = 0x20, POLLRDNORM = 0x40, POLLWRNORM = 0x100;

/** The poll events an open file has now. Host files are always ready (reads of them block in the host). */
function readiness(f: OpenFile | undefined): number {
  if (f === undefined) return POLLNVAL;
  const end = f.pipe;
  if (end === undefined) return POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
  if (end.read) return (end.pipe.size > 0 ? POLLIN | POLLRDNORM : 0) | (end.pipe.writers === 0 ? POLLHUP : 0);
  return end.pipe.readers === 0 ? POLLERR : end.pipe.writable ? POLLOUT | POLLWRNORM : 0;
}

/** The deadline of a waiting call with this timeout (ms; negative: none), set at its first try. */
function startDeadline(p: Process, ms: number): void {
  if (!p.retrying) p.deadline = ms < 0 ? Infinity : performance.now() + ms;
  p.restartable = false;
}

function poll(p: Process, addr: number, n: number, timeoutMs: number): number {
  if (u32(n) > 1024) return -EINVAL;
  const raw = p.as.read(addr, n * 8);
  if (raw === null) return -EFAULT;
  startDeadline(p, timeoutMs);
  const v = new DataView(raw.buffer);
  const scan = (): number => {
    let ready = 0;
    for (let i = 0; i < n; i++) {
      const fd = v.getInt32(i * 8, true), events = v.getUint16(i * 8 + 4, true);
      const r = fd < 0 ? 0 : readiness(p.files.get(fd)) & (events | POLLERR | POLLHUP | POLLNVAL);
      v.setUint16(i * 8 + 6, r, true);
      if (r !== 0) ready++;
    }
    return ready;
  };
  const ready = scan();
  if (ready > 0 || performance.now() >= p.deadline) return p.as.write(addr, raw) ? ready : -EFAULT;
  p.wake = () => scan() > 0;
  return BLOCKED;
}

function select(p: Process, n: number, rd: number, wr: number, ex: number, timeoutMs: number, timeoutAddr: number, wide: boolean): number {
  if ((n | 0) < 0 || n > 1024) return -EINVAL;
  const words = Math.ceil(n / 32);
  const sets: Array<[number, Uint32Array | null]> = [];
  for (const a of [rd, wr, ex]) {
    if (a === 0 || words === 0) { sets.push([a, null]); continue; }
    const b = p.as.read(a, words * 4);
    if (b === null) return -EFAULT;
    sets.push([a, new Uint32Array(b.buffer.slice(0))]);
  }
  for (let fd = 0; fd < n; fd++) {
    const asked = sets.some(([, s]) => s !== null && s[fd >> 5] & (1 << (fd & 31)));
    if (asked && p.files.get(fd) === undefined) return -EBADF;
  }
  startDeadline(p, timeoutMs);
  const scan = (): [number, Uint32Array[]] => {
    let count = 0;
    const out = sets.map(() => new Uint32Array(words));
    for (let fd = 0; fd < n; fd++) {
      const r = readiness(p.files.get(fd));
      const want = [POLLIN | POLLHUP | POLLERR, POLLOUT | POLLERR, 0];
      sets.forEach(([, s], i) => {
        if (s !== null && s[fd >> 5] & (1 << (fd & 31)) && r & want[i]) { out[i][fd >> 5] |= 1 << (fd & 31); count++; }
      });
    }
    return [count, out];
  };
  const [count, out] = scan();
  const timedOut = count === 0 && performance.now() >= p.deadline;
  if (count > 0 || timedOut) {
    sets.forEach(([a, s], i) => { if (s !== null) p.as.write(a, new Uint8Array(out[i].buffer)); });
    if (timedOut && timeoutAddr !== 0) p.as.write(timeoutAddr, new Uint8Array(wide ? 16 : 8));
    return count;
  }
  p.wake = () => scan()[0] > 0;
  return BLOCKED;
}

/** A timeval (select) or timespec (pselect6, ppoll) as milliseconds; -1 for NULL (no timeout). */
function timeoutArg(p: Process, addr: number, kind: 'timeval' | 'timespec'): number | null {
  if (addr === 0) return -1;
  if (kind === 'timespec') { const ns = readTimespec(p, addr, false); return typeof ns === 'number' ? null : Number(ns / 1000n) / 1000; }
  const b = p.as.read(addr, 8);
  if (b === null) return null;
  const v = new DataView(b.buffer);
  return v.getInt32(0, true) * 1000 + v.getInt32(4, true) / 1000;
}

// ---- fork, execve, wait ----
function fork(p: Process, flags: number, stack: number, ptid: number, tls: number, ctid: number): number {
  if (flags & CLONE_THREAD || (flags & CLONE_VM && !(flags & CLONE_VFORK))) return -ENOSYS; // threads: not here
  if (!p.canFork) return -ENOSYS;
  let live = 0;
  for (const q of p.table.processes.values()) if (q.exitState === null) live++;
  if (live >= p.table.maxProcesses) return -EAGAIN;
  p.forkRequest = { flags, stack: u32(stack), ptid: u32(ptid), ctid: u32(ctid), tls: u32(tls), call: { nr: 0, name: '', args: [] } };
  return FORKING;
}

/** A NULL-terminated array of string pointers (argv, envp). */
function stringArray(p: Process, addr: number): string[] | number {
  const out: string[] = [];
  if (addr === 0) return out;
  for (let i = 0; ; i++) {
    if (i > 65536) return -7; // E2BIG
    const ptr = p.as.u32(addr + i * 4);
    if (ptr === null) return -EFAULT;
    if (ptr === 0) return out;
    const s = p.as.cString(ptr, 131072);
    if (s === null || s === 'long') return s === null ? -EFAULT : -7;
    out.push(new TextDecoder().decode(s));
  }
}

function execve(p: Process, pathAddr: number, argvAddr: number, envAddr: number): number {
  const raw = p.as.cString(pathAddr, 4095);
  if (raw === null) return -EFAULT;
  if (raw === 'long') return -36;
  const name = new TextDecoder().decode(raw);
  let argv = stringArray(p, argvAddr);
  if (typeof argv === 'number') return argv;
  const env = stringArray(p, envAddr);
  if (typeof env === 'number') return env;
  // /proc/self/exe (busybox runs its applets through it) is the program's own file.
  let g = name === '/proc/self/exe' || name === `/proc/${p.pid}/exe` ? p.exePath : pathArg(p, pathAddr);
  if (typeof g === 'number') return g;
  let image = readProgram(p, g);
  if (typeof image === 'number') return image;
  // A script: `#!interpreter [arg]` runs the interpreter with the script's path after it (binfmt_script).
  if (image[0] === 0x23 && image[1] === 0x21) {
    const line = new TextDecoder().decode(image.subarray(2, Math.min(image.length, 256))).split('\n')[0].trim();
    const at = line.search(/\s/);
    const interp = at < 0 ? line : line.slice(0, at), arg = at < 0 ? '' : line.slice(at).trim();
    if (interp === '') return -ENOEXEC;
    argv = [interp, ...(arg !== '' ? [arg] : []), name, ...argv.slice(1)];
    g = p.view.resolve(p.cwd, interp, true);
    if (typeof g === 'number') return g;
    image = readProgram(p, g);
    if (typeof image === 'number') return image;
  }
  try {
    const elf = parseExecutable(image, g);
    if (elf.interp !== null) {
      const ig = p.view.resolve('/', elf.interp, true);
      if (typeof ig === 'number' || p.view.host(ig) === null) return -ENOENT;
    }
  } catch (e) {
    if (e instanceof ExecError) return -ENOEXEC;
    throw e;
  }
  p.exec(image, g, argv, env);
  return 0;
}

/** The bytes of an executable file at guest path `g`, or -errno (EACCES: not a regular file with an x bit). */
function readProgram(p: Process, g: string): Uint8Array | number {
  const host = p.view.readPath(g);
  if (typeof host === 'number') return host;
  try {
    const st = fs.statSync(host);
    if (!st.isFile() || !(st.mode & 0o111)) return -EACCES;
    return fs.readFileSync(host);
  } catch (e) { return hostErrno(e); }
}

function wait4(p: Process, pid: number, statusAddr: number, options: number, rusage: number): number {
  pid |= 0;
  const match = (c: Process): boolean => pid <= 0 || c.pid === pid;
  const candidates = [...p.children].filter(match);
  if (candidates.length === 0) return -ECHILD;
  const zombie = candidates.find((c) => c.exitState !== null);
  if (zombie !== undefined) {
    if (statusAddr !== 0 && put(p, statusAddr, new Out(4).u32(0, waitStatus(zombie.exitState!))) < 0) return -EFAULT;
    if (rusage !== 0 && put(p, rusage, new Out(72)) < 0) return -EFAULT;
    p.children.delete(zombie);
    p.table.processes.delete(zombie.pid);
    // Its own children, already ended and never waited for, go with it.
    for (const c of zombie.children) if (c.exitState !== null) p.table.processes.delete(c.pid);
    return zombie.pid;
  }
  if (options & WNOHANG) return 0;
  p.wake = () => [...p.children].some((c) => match(c) && c.exitState !== null);
  return BLOCKED;
}

// ---- the table ----
export const PROCESS_CALLS: Record<number, SyscallHandler> = {
  // signals
  174: (p, [sig, act, old, size]) => (size !== 8 ? -EINVAL : sigaction(p, RT_SIGACTION, sig, act, old)),
  67: (p, [sig, act, old]) => sigaction(p, OLD_SIGACTION, sig, act, old),
  175: (p, [how, set, old, size]) => (size !== 8 ? -EINVAL : sigprocmask(p, how, set, old, 8)),
  126: (p, [how, set, old]) => sigprocmask(p, how, set, old, 4),
  176: (p, [set, size]) => (size > 8 ? -EINVAL : put(p, set, new Out(8).u64(0, p.signals.pending & p.signals.blocked))),
  73: (p, [set]) => put(p, set, new Out(4).u32(0, p.signals.pending & p.signals.blocked & 0xffff_ffffn)),
  179: (p, [set, size]) => { if (size !== 8) return -EINVAL; const m = readSigset(p, set); return m === null ? -EFAULT : suspend(p, m); },
  72: (p, [, , set]) => suspend(p, (p.signals.blocked & ~0xffff_ffffn) | BigInt(u32(set))),
  29: (p) => suspend(p, null),
  119: (p) => { const r = sigreturn(p, false); if (r === null) { p.terminate(SIGSEGV, ': bad signal frame'); return 0; } return r; },
  173: (p) => { const r = sigreturn(p, true); if (r === null) { p.terminate(SIGSEGV, ': bad signal frame'); return 0; } return r; },
  37: (p, [pid, sig]) => kill(p, pid, sig, SI_USER),
  238: (p, [tid, sig]) => ((tid | 0) <= 0 ? -EINVAL : kill(p, tid, sig, SI_TKILL)),
  270: (p, [tgid, tid, sig]) => ((tid | 0) <= 0 || (tgid | 0) <= 0 ? -EINVAL : tgid !== tid ? -ESRCH : kill(p, tid, sig, SI_TKILL)),
  27: (p, [secs]) => {
    const now = performance.now();
    const left = p.alarmAt === Infinity ? 0 : Math.max(1, Math.round((p.alarmAt - now) / 1000));
    p.alarmAt = secs === 0 ? Infinity : now + u32(secs) * 1000;
    return left;
  },
  186: (p, [, old]) => (old === 0 ? 0 : put(p, old, new Out(12).u32(4, 2))), // sigaltstack: none (SS_DISABLE); a new one is accepted and not used
  // pipes, poll, select
  42: (p, [fds]) => pipe2(p, fds, 0),
  331: (p, [fds, flags]) => pipe2(p, fds, flags),
  168: (p, [fds, n, timeout]) => poll(p, fds, u32(n), timeout | 0),
  309: (p, [fds, n, tsp]) => { const t = timeoutArg(p, tsp, 'timespec'); return t === null ? -EFAULT : poll(p, fds, u32(n), t); },
  142: (p, [n, rd, wr, ex, tv]) => { const t = timeoutArg(p, tv, 'timeval'); return t === null ? -EFAULT : select(p, n, rd, wr, ex, t, tv, false); },
  82: (p, [args]) => {
    const b = p.as.read(args, 20);
    if (b === null) return -EFAULT;
    const v = new DataView(b.buffer), a = (i: number): number => v.getUint32(i * 4, true);
    const t = timeoutArg(p, a(4), 'timeval');
    return t === null ? -EFAULT : select(p, a(0), a(1), a(2), a(3), t, a(4), false);
  },
  308: (p, [n, rd, wr, ex, tsp]) => { const t = timeoutArg(p, tsp, 'timespec'); return t === null ? -EFAULT : select(p, n, rd, wr, ex, t, 0, false); },
  // processes
  2: (p) => fork(p, SIGCHLD, 0, 0, 0, 0),
  190: (p) => fork(p, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0),
  120: (p, [flags, stack, ptid, tls, ctid]) => fork(p, flags, stack, ptid, tls, ctid),
  11: (p, [path, argv, envp]) => execve(p, path, argv, envp),
  114: (p, [pid, status, options, rusage]) => wait4(p, pid, status, options, rusage),
  7: (p, [pid, status, options]) => wait4(p, pid, status, options, 0),
  57: () => 0, // setpgid: one process group
  65: (p) => p.table.processes.values().next().value?.pid ?? p.pid, // getpgrp: the first process's
  132: (p, [pid]) => ((pid | 0) === 0 || p.table.processes.has(pid) ? p.table.processes.values().next().value?.pid ?? p.pid : -ESRCH),
  66: (p) => p.pid, // setsid
  147: (p) => p.table.processes.values().next().value?.pid ?? p.pid, // getsid
  116: (p, [buf]) => {
    const unit = 4096, l = loadavg();
    const o = new Out(64).u32(0, Math.floor(uptime())).u32(4, Math.floor(l[0] * 65536)).u32(8, Math.floor(l[1] * 65536)).u32(12, Math.floor(l[2] * 65536))
      .u32(16, Math.floor(totalmem() / unit)).u32(20, Math.floor(freemem() / unit)).u16(40, p.table.processes.size).u32(52, unit);
    return put(p, buf, o);
  },
  43: (p, [buf]) => {
    const ticks = Math.floor(performance.now() / 10), u = process.cpuUsage();
    if (buf !== 0 && put(p, buf, new Out(16).u32(0, Math.floor(u.user / 10_000)).u32(4, Math.floor(u.system / 10_000))) < 0) return -EFAULT;
    return ticks;
  },
  77: (p, [, buf]) => put(p, buf, new Out(72)),
  435: () => -ENOSYS, // clone3: glibc falls back to clone
};

function pipe2(p: Process, fds: number, flags: number): number {
  if (flags & ~(0x80000 | 0x800 | 0x4000)) return -EINVAL;
  if (!p.as.check(fds, 8, true)) return -EFAULT;
  const r = p.files.pipe(flags);
  if (typeof r === 'number') return r;
  return put(p, fds, new Out(8).u32(0, r[0]).u32(4, r[1]));
}

