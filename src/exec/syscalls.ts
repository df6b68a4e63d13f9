// The i386 Linux system calls, translated to the host's (Node's synchronous fs and process APIs). Each
// handler takes the six argument registers (EBX, ECX, EDX, ESI, EDI, EBP) and returns the value for EAX: a
// result, or -errno. Guest pointers go through the address space's checked accessors, so a bad pointer is
// -EFAULT, never a host exception. A number with no handler is -ENOSYS (counted by the process).
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { hostname, release, version } from 'node:os';
import { isatty } from 'node:tty';
import { CS, FS, GS } from '../decoder/instruction.ts';
import { PAGE, KERNEL_BASE, PROT_READ, PROT_WRITE, PROT_EXEC } from './address-space.ts';
import {
  EAGAIN, EBADF, EEXIST, EFAULT, EINVAL, EISDIR, ENAMETOOLONG, ENOMEM, ENOSYS, ENOTDIR, ENOTTY, ERANGE, ESPIPE, ESRCH,
  hostErrno, EPIPE, O_NONBLOCK, O_ACCMODE, O_APPEND, O_CLOEXEC, O_CREAT, O_EXCL, O_NOFOLLOW, O_TRUNC, type OpenFile,
} from './files.ts';
import type { Process } from './process.ts';
import { SI_USER, SIGPIPE } from './signals.ts';

export type SyscallHandler = (p: Process, a: number[]) => number;

/** A handler's answer when the call must wait (it has set p.wake): the process stops and makes the call again later. */
export const BLOCKED = -0.5;
/** fork/clone/vfork's answer: the scheduler makes the child, then gives the parent its result (p.forkRequest). */
export const FORKING = -0.25;

const AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_EMPTY_PATH = 0x1000;

// ---- helpers ----
const u32 = (v: number): number => v >>> 0;

/** A little-endian struct being built for the guest. */
export class Out {
  readonly bytes: Uint8Array;
  private readonly v: DataView;
  constructor(size: number) { this.bytes = new Uint8Array(size); this.v = new DataView(this.bytes.buffer); }
  u8(at: number, x: number): this { this.v.setUint8(at, x); return this; }
  u16(at: number, x: number): this { this.v.setUint16(at, x, true); return this; }
  u32(at: number, x: number | bigint): this { this.v.setUint32(at, Number(BigInt.asUintN(32, BigInt(typeof x === 'number' ? Math.trunc(x) : x))), true); return this; }
  u64(at: number, x: number | bigint): this { this.v.setBigUint64(at, BigInt.asUintN(64, BigInt(x)), true); return this; }
  str(at: number, t: string): this { this.bytes.set(new TextEncoder().encode(t), at); return this; }
}

export function put(p: Process, addr: number, o: Out | Uint8Array): number {
  return p.as.write(addr, o instanceof Out ? o.bytes : o) ? 0 : -EFAULT;
}

/**
 * A path argument: the canonical guest path it names (through the process's file view: see FileView), or
 * -errno. `follow`: a symlink as the last component is followed (stat, open) or not (lstat, unlink).
 */
export function pathArg(p: Process, addr: number, dirfd = AT_FDCWD, follow = true): string | number {
  const b = p.as.cString(addr, 4095);
  if (b === null) return -EFAULT;
  if (b === 'long') return -ENAMETOOLONG;
  const path = new TextDecoder().decode(b);
  if (path === '') return -2; // ENOENT
  if (path.startsWith('/') || (dirfd | 0) === AT_FDCWD) return p.view.resolve(p.cwd, path, follow);
  const f = p.files.get(dirfd);
  if (f === undefined) return -EBADF;
  if (!f.directory) return -ENOTDIR;
  return p.view.resolve(f.path, path, follow);
}

/** A path argument as the host file to read it through, or -errno. */
function readArg(p: Process, addr: number, dirfd = AT_FDCWD, follow = true): string | number {
  const g = pathArg(p, addr, dirfd, follow);
  return typeof g === 'number' ? g : p.view.readPath(g);
}

export function fileArg(p: Process, fd: number): OpenFile | number {
  return p.files.get(fd) ?? -EBADF;
}

const readable = (f: OpenFile): boolean => (f.flags & O_ACCMODE) !== 1;
const writable = (f: OpenFile): boolean => (f.flags & O_ACCMODE) !== 0;

/** read(2) into host bytes: positioned for seekable files (the offset is ours), plain for pipes and ttys. */
function hostRead(f: OpenFile, len: number, at?: number): Uint8Array | number {
  if (f.directory) return -EISDIR;
  const buf = new Uint8Array(Math.min(len, 1 << 24));
  for (;;) {
    try {
      // Inherited stdio shares its offset with whoever gave it to us (a shell's `>` file): the host's own.
      const n = fs.readSync(f.hostFd, buf, 0, buf.length, at ?? (f.seekable && !f.inherited ? f.offset : null));
      if (at === undefined && f.seekable) f.offset += n;
      return buf.subarray(0, n);
    } catch (e) {
      // A non-blocking stdin (a terminal Node opened): wait a little and try again, as a blocking read would.
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN' && !(f.flags & 0x800)) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); continue; }
      return hostErrno(e);
    }
  }
}

function hostWrite(p: Process, f: OpenFile, bytes: Uint8Array, at?: number): number {
  let off = 0;
  try {
    while (off < bytes.length) {
      let pos: number | null = at !== undefined ? at + off : f.seekable && !f.inherited ? f.offset : null;
      if (at === undefined && f.flags & O_APPEND && f.seekable) pos = null;
      let n: number;
      try { n = fs.writeSync(f.hostFd, bytes, off, bytes.length - off, pos); } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw e;
      }
      off += n;
      if (at === undefined && f.seekable) f.offset = f.flags & O_APPEND ? fs.fstatSync(f.hostFd).size : f.offset + n;
    }
    return off;
  } catch (e) {
    const r = hostErrno(e);
    if (r === -32) p.raise(SIGPIPE, { code: SI_USER, pid: p.pid, uid: p.uid }); // EPIPE comes with SIGPIPE
    return off > 0 ? off : r;
  }
}

/** read(2) of any open file: a pipe's end (which may wait), or a host file. */
export function fileRead(p: Process, f: OpenFile, len: number): Uint8Array | number {
  const end = f.pipe;
  if (end === undefined) return hostRead(f, len);
  if (len === 0) return new Uint8Array(0);
  const r = end.pipe.read(len);
  if (r !== 'wait') return r;
  if (f.flags & O_NONBLOCK) return -EAGAIN;
  p.wake = () => end.pipe.readable;
  return BLOCKED;
}

/** write(2) to any open file: a pipe's end (which may wait, or be broken: EPIPE and SIGPIPE), or a host file. */
export function fileWrite(p: Process, f: OpenFile, bytes: Uint8Array): number {
  const end = f.pipe;
  if (end === undefined) return hostWrite(p, f, bytes);
  // A blocking write returns once every byte is in (made again as the reader drains the pipe: p.progress
  // counts the bytes already written); a nonblocking one takes what fits.
  const done = p.retrying ? p.progress : 0;
  const r = end.pipe.write(bytes.subarray(done));
  if (r === 'broken') { p.raise(SIGPIPE, { code: SI_USER, pid: p.pid, uid: p.uid }); return done > 0 ? done : -EPIPE; }
  const total = done + (r === 'wait' ? 0 : r);
  if (total === bytes.length || f.flags & O_NONBLOCK) return total > 0 || bytes.length === 0 ? total : -EAGAIN;
  p.progress = total;
  p.wake = () => end.pipe.writable;
  return BLOCKED;
}

/** Gather an iovec array (readv/writev): [base, len] pairs, or -errno. */
function iovecs(p: Process, addr: number, count: number): Array<[number, number]> | number {
  if (count > 1024 || (count | 0) < 0) return -EINVAL;
  const raw = p.as.read(addr, count * 8);
  if (raw === null) return -EFAULT;
  const v = new DataView(raw.buffer);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) out.push([v.getUint32(i * 8, true), v.getUint32(i * 8 + 4, true)]);
  return out;
}

// ---- stat ----
/** What fstat says of a pipe (pipefs: a FIFO, mode 0600, owned by the process). */
function pipeStat(p: Process): fs.BigIntStats {
  const t = p.realtimeNs();
  return { dev: 0xdn, ino: 1n, mode: 0o10600n, nlink: 1n, uid: BigInt(p.uid), gid: BigInt(p.gid), rdev: 0n, size: 0n, blksize: 4096n, blocks: 0n,
    atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: 0n, isDirectory: () => false } as unknown as fs.BigIntStats;
}

function statOf(p: Process, path: string | number, follow: boolean): fs.BigIntStats | number {
  if (path === -1) return pipeStat(p);
  try {
    if (typeof path === 'number') return fs.fstatSync(path, { bigint: true });
    return follow ? fs.statSync(path, { bigint: true }) : fs.lstatSync(path, { bigint: true });
  } catch (e) { return hostErrno(e); }
}

const major = (dev: bigint): bigint => ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
const minor = (dev: bigint): bigint => (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
/** The 32-bit kernel's old_encode_dev/new_encode_dev for st_dev in stat64 (a 64-bit field: huge_encode_dev). */
const encodeDev = (dev: bigint): bigint => (minor(dev) & 0xffn) | (major(dev) << 8n) | ((minor(dev) & ~0xffn) << 12n);

/** struct stat64 (i386, 96 bytes). */
function stat64(st: fs.BigIntStats): Out {
  const o = new Out(96);
  const sec = (ns: bigint): bigint => ns / 1_000_000_000n, nsec = (ns: bigint): bigint => ns % 1_000_000_000n;
  o.u64(0, encodeDev(st.dev)).u32(12, st.ino).u32(16, st.mode).u32(20, st.nlink).u32(24, st.uid).u32(28, st.gid)
    .u64(32, encodeDev(st.rdev)).u64(44, st.size).u32(52, st.blksize).u64(56, st.blocks)
    .u32(64, sec(st.atimeNs)).u32(68, nsec(st.atimeNs)).u32(72, sec(st.mtimeNs)).u32(76, nsec(st.mtimeNs))
    .u32(80, sec(st.ctimeNs)).u32(84, nsec(st.ctimeNs)).u64(88, st.ino);
  return o;
}

/** struct statx (256 bytes) with STATX_BASIC_STATS | STATX_BTIME. */
function statx(st: fs.BigIntStats): Out {
  const o = new Out(256);
  const ts = (at: number, ns: bigint): void => { o.u64(at, ns / 1_000_000_000n).u32(at + 8, ns % 1_000_000_000n); };
  o.u32(0, 0xfff).u32(4, st.blksize).u32(16, st.nlink).u32(20, st.uid).u32(24, st.gid).u16(28, Number(st.mode & 0xffffn))
    .u64(32, st.ino).u64(40, st.size).u64(48, st.blocks);
  ts(64, st.atimeNs); ts(80, st.birthtimeNs); ts(96, st.ctimeNs); ts(112, st.mtimeNs);
  o.u32(128, major(st.rdev)).u32(132, minor(st.rdev)).u32(136, major(st.dev)).u32(140, minor(st.dev));
  return o;
}

// ---- time ----
export const NS = 1_000_000_000n;
function clockNs(p: Process, clock: number): bigint | number {
  switch (clock) {
    case 0: case 5: case 8: case 11: return p.realtimeNs();       // REALTIME, _COARSE, _ALARM, TAI
    case 1: case 4: case 6: case 7: case 9: return process.hrtime.bigint(); // MONOTONIC, _RAW, _COARSE, BOOTTIME(_ALARM)
    case 2: case 3: { const u = process.cpuUsage(); return BigInt(u.user + u.system) * 1000n; } // process / thread CPU time
    default: return -EINVAL;
  }
}

/**
 * Sleep `ns` as a waiting call (its deadline kept across retries), so that the other processes run
 * meanwhile; a signal with a handler interrupts it (EINTR).
 */
function sleepFor(p: Process, ns: bigint): number {
  if (!p.retrying) p.deadline = performance.now() + Number(ns) / 1e6;
  if (performance.now() >= p.deadline) return 0;
  p.restartable = false;
  p.wake = () => false;
  return BLOCKED;
}

export function readTimespec(p: Process, addr: number, wide: boolean): bigint | number {
  const b = p.as.read(addr, wide ? 16 : 8);
  if (b === null) return -EFAULT;
  const v = new DataView(b.buffer);
  const sec = wide ? v.getBigInt64(0, true) : BigInt(v.getInt32(0, true));
  const nsec = wide ? Number(v.getBigInt64(8, true) & 0xffffffffn) | 0 : v.getInt32(4, true);
  if (sec < 0n || nsec < 0 || nsec >= 1e9) return -EINVAL;
  return sec * NS + BigInt(nsec);
}

export const timespec = (ns: bigint, wide: boolean): Out => wide ? new Out(16).u64(0, ns / NS).u64(8, ns % NS) : new Out(8).u32(0, ns / NS).u32(4, ns % NS);

// ---- memory ----
const MAP_SHARED = 1, MAP_FIXED = 0x10, MAP_ANONYMOUS = 0x20, MAP_FIXED_NOREPLACE = 0x100000;
const MREMAP_MAYMOVE = 1, MREMAP_FIXED = 2;
const pageUp = (n: number): number => Math.ceil(n / PAGE) * PAGE;
const aligned = (a: number): boolean => a % PAGE === 0;

function mmap(p: Process, addr: number, len: number, prot: number, flags: number, fd: number, offset: number): number {
  addr = u32(addr); len = u32(len);
  if (len === 0 || !aligned(offset) || (prot & ~7) !== 0) return -EINVAL;
  len = pageUp(len);
  if (len > KERNEL_BASE) return -ENOMEM;
  let file: OpenFile | undefined;
  if (!(flags & MAP_ANONYMOUS)) {
    file = p.files.get(fd);
    if (file === undefined) return -EBADF;
    if (!readable(file) || (flags & MAP_SHARED && prot & PROT_WRITE && !writable(file))) return -13; // EACCES
    if (!file.seekable) return -19; // ENODEV
  }
  let target: number;
  if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
    if (!aligned(addr) || addr + len > KERNEL_BASE) return -EINVAL;
    if (flags & MAP_FIXED_NOREPLACE && !(flags & MAP_FIXED) && !p.as.isFree(addr, len)) return -EEXIST;
    target = addr;
  } else if (addr !== 0 && aligned(addr) && addr + len <= KERNEL_BASE && addr >= 0x10000 && p.as.isFree(addr, len)) target = addr;
  else target = p.as.findFree(len);
  if (target === 0 && !(flags & MAP_FIXED)) return -ENOMEM;
  if (!p.as.map(target, len, prot)) return -ENOMEM;
  if (file !== undefined) {
    const data = hostRead(file, len, offset);
    if (typeof data === 'number') { p.as.unmap(target, len); p.as.changed(); return data; }
    p.as.write(target, data, true);
  }
  p.as.changed();
  return target;
}

function mremap(p: Process, old: number, oldLen: number, newLen: number, flags: number, newAddr: number): number {
  old = u32(old);
  if (!aligned(old) || newLen === 0 || flags & ~3) return -EINVAL;
  oldLen = pageUp(u32(oldLen)); newLen = pageUp(u32(newLen));
  if (!p.as.isMapped(old / PAGE)) return -14;
  const prot = p.as.protOf((old + Math.max(oldLen, PAGE) - PAGE) / PAGE) ?? (PROT_READ | PROT_WRITE);
  if (flags & MREMAP_FIXED) {
    if (!(flags & MREMAP_MAYMOVE) || !aligned(u32(newAddr))) return -EINVAL;
    p.as.unmap(u32(newAddr), newLen);
    p.as.move(old, Math.min(oldLen, newLen), u32(newAddr));
    if (newLen > oldLen && !p.as.map(u32(newAddr) + oldLen, newLen - oldLen, prot)) return -ENOMEM;
    p.as.unmap(old, oldLen);
    p.as.changed();
    return u32(newAddr);
  }
  if (newLen <= oldLen) { p.as.unmap(old + newLen, oldLen - newLen); p.as.changed(); return old; }
  if (old + newLen <= KERNEL_BASE && p.as.isFree(old + oldLen, newLen - oldLen)) {
    if (!p.as.map(old + oldLen, newLen - oldLen, prot)) return -ENOMEM;
    p.as.changed();
    return old;
  }
  if (!(flags & MREMAP_MAYMOVE)) return -ENOMEM;
  const to = p.as.findFree(newLen);
  if (to === 0) return -ENOMEM;
  p.as.move(old, oldLen, to);
  if (!p.as.map(to + oldLen, newLen - oldLen, prot)) return -ENOMEM;
  p.as.changed();
  return to;
}

function brk(p: Process, addr: number): number {
  addr = u32(addr);
  if (addr < p.brkStart) return p.brk;
  const top = pageUp(p.brk), want = pageUp(addr);
  if (want > top) {
    if (want > KERNEL_BASE - (8 << 20) || !p.as.isFree(top, want - top) || !p.as.map(top, want - top, PROT_READ | PROT_WRITE)) return p.brk;
    p.as.changed();
  } else if (want < top) { p.as.unmap(want, top - want); p.as.changed(); }
  p.brk = addr;
  return addr;
}

// ---- TLS: set_thread_area and the GDT's three TLS slots ----
export const GDT_ENTRY_TLS_MIN = 6, GDT_ENTRY_TLS_ENTRIES = 3;

function setThreadArea(p: Process, addr: number): number {
  const b = p.as.read(addr, 16);
  if (b === null) return -EFAULT;
  const v = new DataView(b.buffer);
  let entry = v.getInt32(0, true);
  const base = v.getUint32(4, true), limit = v.getUint32(8, true), fl = v.getUint32(12, true);
  if (entry === -1) {
    entry = -1;
    for (let i = 0; i < GDT_ENTRY_TLS_ENTRIES; i++) if (!p.tlsUsed[i]) { entry = GDT_ENTRY_TLS_MIN + i; break; }
    if (entry === -1) return -16; // ESRCH in the kernel
    if (!p.as.write(addr, new Out(4).u32(0, entry).bytes)) return -EFAULT;
  }
  if (entry < GDT_ENTRY_TLS_MIN || entry >= GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_ENTRIES) return -EINVAL;
  const seg32 = fl & 1, contents = (fl >> 1) & 3, roExec = (fl >> 3) & 1, pages = (fl >> 4) & 1, notPresent = (fl >> 5) & 1, useable = (fl >> 6) & 1;
  const empty = base === 0 && limit === 0 && contents === 0 && roExec === 1 && seg32 === 0 && pages === 0 && notPresent === 1 && useable === 0;
  let lo = 0, hi = 0;
  if (!empty) {
    lo = ((base & 0xffff) << 16) | (limit & 0xffff);
    hi = (base & 0xff00_0000) | ((base >>> 16) & 0xff) | (limit & 0xf_0000) | ((roExec ^ 1) << 9) | (contents << 10) |
      ((notPresent ^ 1) << 15) | (seg32 << 22) | (pages << 23) | (useable << 20) | 0x7000;
  }
  p.tlsUsed[entry - GDT_ENTRY_TLS_MIN] = !empty;
  p.as.writeGdtEntry(entry, lo, hi);
  p.reloadSegments(entry * 8 + 3);
  return 0;
}

// ---- directories ----

function getdents64(p: Process, fd: number, addr: number, count: number): number {
  const f = fileArg(p, fd);
  if (typeof f === 'number') return f;
  if (!f.directory) return -ENOTDIR;
  if (f.entries === null) {
    const ino = (path: string | number): bigint => { try { return fs.lstatSync(path as string, { bigint: true }).ino; } catch { return 0n; } };
    try {
      f.entries = [{ name: '.', type: 4, ino: fs.fstatSync(f.hostFd, { bigint: true }).ino }, { name: '..', type: 4, ino: ino(p.view.readPath(dirname(f.path))) }, ...p.view.readdir(f.path)];
    } catch (e) { f.entries = null; return hostErrno(e); }
  }
  const chunks: Uint8Array[] = [];
  let used = 0;
  const enc = new TextEncoder();
  while (f.offset < f.entries.length) {
    const e = f.entries[f.offset];
    const name = enc.encode(e.name);
    const reclen = (19 + name.length + 1 + 7) & ~7;
    if (used + reclen > u32(count)) { if (used === 0) return -EINVAL; break; }
    const o = new Out(reclen).u64(0, e.ino).u64(8, f.offset + 1).u16(16, reclen).u8(18, e.type);
    o.bytes.set(name, 19);
    chunks.push(o.bytes);
    used += reclen;
    f.offset++;
  }
  const all = new Uint8Array(used);
  let at = 0;
  for (const c of chunks) { all.set(c, at); at += c.length; }
  return p.as.write(addr, all) ? used : -EFAULT;
}

function fsCall(fn: () => unknown): number {
  try { fn(); return 0; } catch (e) { return hostErrno(e); }
}

function openAt(p: Process, dirfd: number, pathAddr: number, flags: number, mode: number): number {
  const g = pathArg(p, pathAddr, dirfd, !(flags & O_NOFOLLOW));
  if (typeof g === 'number') return g;
  mode &= ~p.umask & 0o7777;
  if (p.view.overlay === null) return p.files.open(p.view.lower(g), flags, mode, g);
  // With an overlay, a file opened to be changed is copied up first, and one created is made there.
  if ((flags & O_ACCMODE) === 0 && !(flags & (O_CREAT | O_TRUNC))) {
    const host = p.view.readPath(g);
    return typeof host === 'number' ? host : p.files.open(host, flags, mode, g);
  }
  const existing = p.view.host(g);
  if (existing === null && !(flags & O_CREAT)) return -2; // ENOENT
  if (existing !== null && flags & O_CREAT && flags & O_EXCL) return -EEXIST;
  if (existing !== null && (flags & O_ACCMODE) !== 0 && fs.statSync(existing).isDirectory()) return -EISDIR;
  const fd = p.files.open(p.view.writePath(g, existing !== null), flags, mode, g);
  if (fd >= 0 && existing === null) p.view.created(g);
  return fd;
}

function fcntl(p: Process, fd: number, cmd: number, arg: number): number {
  const e = p.files.fds.get(fd);
  if (e === undefined) return -EBADF;
  switch (cmd) {
    case 0: case 1030: { // F_DUPFD, F_DUPFD_CLOEXEC
      const nfd = p.files.lowest(arg);
      if (nfd < 0) return nfd;
      p.files.install(nfd, e.file, cmd === 1030);
      return nfd;
    }
    case 1: return e.cloexec ? 1 : 0; // F_GETFD
    case 2: e.cloexec = (arg & 1) !== 0; return 0; // F_SETFD
    case 3: return e.file.flags | 0x8000; // F_GETFL (O_LARGEFILE, as the kernel reports it on i386)
    case 4: e.file.flags = (e.file.flags & ~(O_APPEND | 0x800 | 0x2000 | 0x4000 | 0x40000)) | (arg & (O_APPEND | 0x800 | 0x2000 | 0x4000 | 0x40000)); return 0;
    default: return -EINVAL;
  }
}

function dup3(p: Process, oldfd: number, newfd: number, flags: number, isDup2: boolean): number {
  const e = p.files.fds.get(oldfd);
  if (e === undefined) return -EBADF;
  if ((newfd | 0) < 0 || newfd >= 1024) return -EBADF;
  if (oldfd === newfd) return isDup2 ? newfd : -EINVAL;
  if (flags & ~O_CLOEXEC) return -EINVAL;
  p.files.install(newfd, e.file, (flags & O_CLOEXEC) !== 0);
  return newfd;
}

function lseek(p: Process, fd: number, offset: number, whence: number): number {
  const f = fileArg(p, fd);
  if (typeof f === 'number') return f;
  if (f.directory) { if (whence === 0 && offset === 0) { f.offset = 0; f.entries = null; return 0; } return -EINVAL; }
  if (!f.seekable) return -ESPIPE;
  let base: number;
  if (whence === 0) base = 0;
  else if (whence === 1) base = f.offset;
  else if (whence === 2) { try { base = fs.fstatSync(f.hostFd).size; } catch (e) { return hostErrno(e); } } else return -EINVAL;
  const to = base + offset;
  if (to < 0) return -EINVAL;
  f.offset = to;
  return to;
}

function rlimit(resource: number): [bigint, bigint] {
  const INF = 0xffff_ffff_ffff_ffffn;
  if (resource === 3) return [8n << 20n, INF]; // RLIMIT_STACK
  if (resource === 7) return [1024n, 1048576n]; // RLIMIT_NOFILE
  if (resource === 4) return [0n, INF]; // RLIMIT_CORE
  if (resource > 15 || resource < 0) return [-1n, -1n];
  return [INF, INF];
}

const ioctl = (p: Process, fd: number, req: number, arg: number): number => {
  const f = fileArg(p, fd);
  if (typeof f === 'number') return f;
  const tty = !f.directory && (() => { try { return isatty(f.hostFd); } catch { return false; } })();
  switch (u32(req)) {
    case 0x5401: // TCGETS
      if (!tty) return -ENOTTY;
      return put(p, arg, new Out(36).u32(0, 0x500).u32(4, 0x5).u32(8, 0xbf).u32(12, 0x8a3b)); // a cooked terminal, as stty sane leaves it
    case 0x5413: { // TIOCGWINSZ
      if (!tty) return -ENOTTY;
      const stream = fd === 2 ? process.stderr : process.stdout;
      return put(p, arg, new Out(8).u16(0, stream.rows ?? 24).u16(2, stream.columns ?? 80));
    }
    default: return tty ? -EINVAL : -ENOTTY;
  }
};

const utsField = (o: Out, i: number, t: string): void => { o.str(i * 65, t.slice(0, 64)); };

/** The handlers by i386 system call number. */
export const SYSCALLS: Record<number, SyscallHandler> = {
  1: (p, [status]) => { p.exit(status & 0xff); return 0; },
  252: (p, [status]) => { p.exit(status & 0xff); return 0; },
  3: (p, [fd, buf, count]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    if (!readable(f)) return -EBADF;
    if (!p.as.check(buf, u32(count), true)) return -EFAULT;
    const data = fileRead(p, f, u32(count));
    if (typeof data === 'number') return data;
    return p.as.write(buf, data) ? data.length : -EFAULT;
  },
  4: (p, [fd, buf, count]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    if (!writable(f)) return -EBADF;
    const data = p.as.read(buf, Math.min(u32(count), 1 << 26));
    if (data === null) return -EFAULT;
    return fileWrite(p, f, data);
  },
  145: (p, [fd, iov, cnt]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    if (!readable(f)) return -EBADF;
    const v = iovecs(p, iov, cnt);
    if (typeof v === 'number') return v;
    let total = 0;
    if (f.pipe !== undefined) {
      // One read from the pipe, scattered over the buffers.
      if (v.some(([b, l]) => !p.as.check(b, l, true))) return -EFAULT;
      const data = fileRead(p, f, v.reduce((a, [, l]) => a + l, 0));
      if (typeof data === 'number') return data;
      for (const [base, len] of v) { if (total >= data.length) break; const n = Math.min(len, data.length - total); p.as.write(base, data.subarray(total, total + n)); total += n; }
      return total;
    }
    for (const [base, len] of v) {
      if (len === 0) continue;
      if (!p.as.check(base, len, true)) return total > 0 ? total : -EFAULT;
      const data = hostRead(f, len);
      if (typeof data === 'number') return total > 0 ? total : data;
      p.as.write(base, data);
      total += data.length;
      if (data.length < len) break;
    }
    return total;
  },
  146: (p, [fd, iov, cnt]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    if (!writable(f)) return -EBADF;
    const v = iovecs(p, iov, cnt);
    if (typeof v === 'number') return v;
    const parts: Uint8Array[] = [];
    for (const [base, len] of v) {
      const d = p.as.read(base, len);
      if (d === null) return -EFAULT;
      parts.push(d);
    }
    const all = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
    let at = 0;
    for (const d of parts) { all.set(d, at); at += d.length; }
    return fileWrite(p, f, all);
  },
  180: (p, [fd, buf, count, lo, hi]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    if (!f.seekable) return -ESPIPE;
    if (!p.as.check(buf, u32(count), true)) return -EFAULT;
    const data = hostRead(f, u32(count), u32(lo) + hi * 2 ** 32);
    if (typeof data === 'number') return data;
    return p.as.write(buf, data) ? data.length : -EFAULT;
  },
  181: (p, [fd, buf, count, lo, hi]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    if (!f.seekable) return -ESPIPE;
    const data = p.as.read(buf, u32(count));
    if (data === null) return -EFAULT;
    return hostWrite(p, f, data, u32(lo) + hi * 2 ** 32);
  },
  5: (p, [path, flags, mode]) => openAt(p, AT_FDCWD, path, flags, mode),
  295: (p, [dirfd, path, flags, mode]) => openAt(p, dirfd, path, flags, mode),
  8: (p, [path, mode]) => openAt(p, AT_FDCWD, path, 0x241, mode), // O_CREAT | O_WRONLY | O_TRUNC
  6: (p, [fd]) => p.files.close(fd),
  19: (p, [fd, off, whence]) => { const r = lseek(p, fd, off | 0, whence); return r > 0x7fff_ffff ? -75 : r; }, // EOVERFLOW
  140: (p, [fd, hi, lo, result, whence]) => {
    const r = lseek(p, fd, (hi | 0) * 2 ** 32 + u32(lo), whence);
    if (r < 0) return r;
    return put(p, result, new Out(8).u64(0, r));
  },
  45: (p, [addr]) => brk(p, addr),
  90: (p, [args]) => {
    const b = p.as.read(args, 24);
    if (b === null) return -EFAULT;
    const v = new DataView(b.buffer), a = (i: number): number => v.getUint32(i * 4, true);
    return mmap(p, a(0), a(1), a(2), a(3), a(4) | 0, a(5));
  },
  192: (p, [addr, len, prot, flags, fd, pgoff]) => mmap(p, addr, len, prot, flags, fd | 0, u32(pgoff) * PAGE),
  91: (p, [addr, len]) => {
    if (!aligned(u32(addr)) || len === 0 || u32(addr) + pageUp(u32(len)) > KERNEL_BASE) return -EINVAL;
    p.as.unmap(u32(addr), pageUp(u32(len)));
    p.as.changed();
    return 0;
  },
  125: (p, [addr, len, prot]) => {
    if (!aligned(u32(addr)) || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | 0x0300_0000))) return -EINVAL;
    if (len === 0) return 0;
    if (u32(addr) + pageUp(u32(len)) > KERNEL_BASE) return -ENOMEM;
    if (!p.as.protect(u32(addr), pageUp(u32(len)), prot & 7)) return -ENOMEM;
    p.as.changed();
    return 0;
  },
  163: (p, [old, oldLen, newLen, flags, newAddr]) => mremap(p, old, oldLen, newLen, flags, newAddr),
  219: () => 0, // madvise: advice only
  243: (p, [addr]) => setThreadArea(p, addr),
  258: (p) => p.pid, // set_tid_address: the clear-child-tid pointer matters only to threads
  311: () => 0, // set_robust_list: recorded nowhere (one thread)
  386: () => -ENOSYS, // rseq: glibc goes on without it
  122: (p, [buf]) => {
    const o = new Out(390);
    utsField(o, 0, 'Linux'); utsField(o, 1, hostname()); utsField(o, 2, release()); utsField(o, 3, version()); utsField(o, 4, 'i686'); utsField(o, 5, '(none)');
    return put(p, buf, o);
  },
  76: (p, [res, addr]) => { const [c, m] = rlimit(res); if (c < 0n) return -EINVAL; const clamp = (x: bigint): bigint => (x > 0xffff_ffffn ? 0xffff_ffffn : x); return put(p, addr, new Out(8).u32(0, clamp(c)).u32(4, clamp(m))); },
  191: (p, [res, addr]) => { const [c, m] = rlimit(res); if (c < 0n) return -EINVAL; const clamp = (x: bigint): bigint => (x > 0xffff_ffffn ? 0xffff_ffffn : x); return put(p, addr, new Out(8).u32(0, clamp(c)).u32(4, clamp(m))); },
  340: (p, [pid, res, , old]) => {
    if (pid !== 0 && pid !== p.pid) return -ESRCH;
    const [c, m] = rlimit(res);
    if (c < 0n) return -EINVAL;
    return old === 0 ? 0 : put(p, old, new Out(16).u64(0, c).u64(8, m));
  },
  85: (p, [path, buf, size]) => readlinkAt(p, AT_FDCWD, path, buf, size),
  305: (p, [dirfd, path, buf, size]) => readlinkAt(p, dirfd, path, buf, size),
  355: (p, [buf, len]) => {
    const b = new Uint8Array(Math.min(u32(len), 1 << 25));
    randomFillSync(b);
    return p.as.write(buf, b) ? b.length : -EFAULT;
  },
  383: (p, [dirfd, path, flags, , buf]) => {
    const st = statAt(p, dirfd, path, flags);
    return typeof st === 'number' ? st : put(p, buf, statx(st));
  },
  195: (p, [path, buf]) => { const st = statAt(p, AT_FDCWD, path, 0); return typeof st === 'number' ? st : put(p, buf, stat64(st)); },
  196: (p, [path, buf]) => { const st = statAt(p, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW); return typeof st === 'number' ? st : put(p, buf, stat64(st)); },
  197: (p, [fd, buf]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    const st = statOf(p, f.hostFd, true);
    return typeof st === 'number' ? st : put(p, buf, stat64(st));
  },
  300: (p, [dirfd, path, buf, flags]) => { const st = statAt(p, dirfd, path, flags); return typeof st === 'number' ? st : put(p, buf, stat64(st)); },
  183: (p, [buf, size]) => {
    const b = new TextEncoder().encode(`${p.cwd}\0`);
    if (b.length > u32(size)) return -ERANGE;
    return p.as.write(buf, b) ? b.length : -EFAULT;
  },
  20: (p) => p.pid, 224: (p) => p.pid, 64: (p) => p.ppid,
  24: (p) => p.uid, 199: (p) => p.uid, 49: (p) => p.uid, 201: (p) => p.uid,
  47: (p) => p.gid, 200: (p) => p.gid, 50: (p) => p.gid, 202: (p) => p.gid,
  54: (p, [fd, req, arg]) => ioctl(p, fd, req, arg),
  265: (p, [clk, ts]) => { const t = clockNs(p, clk); return typeof t === 'number' ? t : put(p, ts, timespec(t, false)); },
  403: (p, [clk, ts]) => { const t = clockNs(p, clk); return typeof t === 'number' ? t : put(p, ts, timespec(t, true)); },
  266: (p, [clk, ts]) => { const t = clockNs(p, clk); return typeof t === 'number' ? t : ts === 0 ? 0 : put(p, ts, timespec(1n, false)); },
  406: (p, [clk, ts]) => { const t = clockNs(p, clk); return typeof t === 'number' ? t : ts === 0 ? 0 : put(p, ts, timespec(1n, true)); },
  78: (p, [tv, tz]) => {
    const t = p.realtimeNs();
    if (tv !== 0 && put(p, tv, new Out(8).u32(0, t / NS).u32(4, (t % NS) / 1000n)) < 0) return -EFAULT;
    return tz === 0 ? 0 : put(p, tz, new Out(8));
  },
  13: (p, [t]) => { const s = Number(p.realtimeNs() / NS); return t === 0 || put(p, t, new Out(4).u32(0, s)) === 0 ? s : -EFAULT; },
  162: (p, [req]) => { const ns = readTimespec(p, req, false); return typeof ns === 'number' ? ns : sleepFor(p, ns); },
  267: (p, [clk, flags, req]) => clockNanosleep(p, clk, flags, req, false),
  407: (p, [clk, flags, req]) => clockNanosleep(p, clk, flags, req, true),
  55: (p, [fd, cmd, arg]) => fcntl(p, fd, cmd, arg),
  221: (p, [fd, cmd, arg]) => fcntl(p, fd, cmd, arg),
  41: (p, [fd]) => { const e = p.files.fds.get(fd); if (e === undefined) return -EBADF; const n = p.files.lowest(); if (n >= 0) p.files.install(n, e.file, false); return n; },
  63: (p, [a, b]) => dup3(p, a, b, 0, true),
  330: (p, [a, b, flags]) => dup3(p, a, b, flags, false),
  33: (p, [path, mode]) => accessAt(p, AT_FDCWD, path, mode),
  307: (p, [dirfd, path, mode]) => accessAt(p, dirfd, path, mode),
  439: (p, [dirfd, path, mode]) => accessAt(p, dirfd, path, mode),
  10: (p, [path]) => { const f = pathArg(p, path, AT_FDCWD, false); return typeof f === 'number' ? f : fsCall(() => p.view.unlink(f)); },
  301: (p, [dirfd, path, flags]) => {
    const f = pathArg(p, path, dirfd, false);
    if (typeof f === 'number') return f;
    return fsCall(() => (flags & AT_REMOVEDIR ? p.view.rmdir(f) : p.view.unlink(f)));
  },
  39: (p, [path, mode]) => { const f = pathArg(p, path, AT_FDCWD, false); return typeof f === 'number' ? f : fsCall(() => p.view.mkdir(f, mode & ~p.umask & 0o7777)); },
  296: (p, [dirfd, path, mode]) => { const f = pathArg(p, path, dirfd, false); return typeof f === 'number' ? f : fsCall(() => p.view.mkdir(f, mode & ~p.umask & 0o7777)); },
  40: (p, [path]) => { const f = pathArg(p, path, AT_FDCWD, false); return typeof f === 'number' ? f : fsCall(() => p.view.rmdir(f)); },
  // Extended attributes: Node cannot read them, so every file has none (ENODATA: no such attribute), as
  // on a file system without them; setting one is EOPNOTSUPP.
  229: (p, [path]) => { const f = readArg(p, path); return typeof f === 'number' ? f : -ENODATA; },
  230: (p, [path]) => { const f = readArg(p, path, AT_FDCWD, false); return typeof f === 'number' ? f : -ENODATA; },
  231: (p, [fd]) => { const f = fileArg(p, fd); return typeof f === 'number' ? f : -ENODATA; },
  232: (p, [path]) => { const f = readArg(p, path); return typeof f === 'number' ? f : 0; },
  233: (p, [path]) => { const f = readArg(p, path, AT_FDCWD, false); return typeof f === 'number' ? f : 0; },
  234: (p, [fd]) => { const f = fileArg(p, fd); return typeof f === 'number' ? f : 0; },
  226: () => -EOPNOTSUPP, 227: () => -EOPNOTSUPP, 228: () => -EOPNOTSUPP,
  268: (p, [path, size, buf]) => {
    const f = readArg(p, path);
    if (typeof f === 'number') return f;
    return size !== 84 ? -EINVAL : statfs64(p, f, buf);
  },
  269: (p, [fd, size, buf]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    return size !== 84 ? -EINVAL : statfs64(p, f.host !== '' ? f.host : '/', buf);
  },
  83: (p, [target, path]) => symlinkAt(p, target, AT_FDCWD, path),
  304: (p, [target, dirfd, path]) => symlinkAt(p, target, dirfd, path),
  92: (p, [path, len]) => truncate(p, path, u32(len)),
  193: (p, [path, lo, hi]) => truncate(p, path, u32(lo) + hi * 2 ** 32),
  306: (p, [dirfd, path, mode]) => { const f = pathArg(p, path, dirfd); return typeof f === 'number' ? f : fsCall(() => fs.chmodSync(p.view.writePath(f, true), mode & 0o7777)); },
  320: (p, [dirfd, path, times, flags]) => utimensAt(p, dirfd, path, times, flags, false),
  412: (p, [dirfd, path, times, flags]) => utimensAt(p, dirfd, path, times, flags, true),
  38: (p, [from, to]) => renameAt(p, AT_FDCWD, from, AT_FDCWD, to, 0),
  302: (p, [fd1, from, fd2, to]) => renameAt(p, fd1, from, fd2, to, 0),
  353: (p, [fd1, from, fd2, to, flags]) => renameAt(p, fd1, from, fd2, to, flags),
  220: (p, [fd, buf, count]) => getdents64(p, fd, buf, count),
  12: (p, [path]) => {
    const f = pathArg(p, path);
    if (typeof f === 'number') return f;
    const host = p.view.readPath(f);
    if (typeof host === 'number') return host;
    const st = statOf(p, host, true);
    if (typeof st === 'number') return st;
    if (!st.isDirectory()) return -ENOTDIR;
    p.cwd = f;
    return 0;
  },
  133: (p, [fd]) => { const f = fileArg(p, fd); if (typeof f === 'number') return f; if (!f.directory) return -ENOTDIR; p.cwd = f.path; return 0; },
  60: (p, [mask]) => { const old = p.umask; p.umask = mask & 0o777; return old; },
  158: () => 0,
  93: (p, [fd, len]) => ftruncate(p, fd, u32(len)),
  194: (p, [fd, lo, hi]) => ftruncate(p, fd, u32(lo) + hi * 2 ** 32),
  118: (p, [fd]) => { const f = fileArg(p, fd); return typeof f === 'number' ? f : 0; },
  148: (p, [fd]) => { const f = fileArg(p, fd); return typeof f === 'number' ? f : 0; },
  15: (p, [path, mode]) => { const f = pathArg(p, path); return typeof f === 'number' ? f : fsCall(() => fs.chmodSync(p.view.writePath(f, true), mode & 0o7777)); },
  94: (p, [fd, mode]) => {
    const f = fileArg(p, fd);
    if (typeof f === 'number') return f;
    // With an overlay, a file opened only to read may still be the real one: change its copy.
    return fsCall(() => (p.view.overlay !== null && f.path !== '' ? fs.chmodSync(p.view.writePath(f.path, true), mode & 0o7777) : fs.fchmodSync(f.hostFd, mode & 0o7777)));
  },
};

const ENODATA = 61, EOPNOTSUPP = 95;

/** struct statfs64 (i386, 84 bytes) of the file system holding host path `path`. */
function statfs64(p: Process, path: string, buf: number): number {
  let st: fs.StatsFs;
  try { st = fs.statfsSync(path); } catch (e) { return hostErrno(e); }
  const o = new Out(84).u32(0, st.type).u32(4, st.bsize).u64(8, st.blocks).u64(16, st.bfree).u64(24, st.bavail)
    .u64(32, st.files).u64(40, st.ffree).u32(56, 255).u32(60, st.bsize);
  return put(p, buf, o);
}

function symlinkAt(p: Process, targetAddr: number, dirfd: number, pathAddr: number): number {
  const t = p.as.cString(targetAddr, 4095);
  if (t === null) return -EFAULT;
  if (t === 'long') return -ENAMETOOLONG;
  const f = pathArg(p, pathAddr, dirfd, false);
  return typeof f === 'number' ? f : fsCall(() => p.view.symlink(new TextDecoder().decode(t), f));
}

function truncate(p: Process, pathAddr: number, len: number): number {
  const f = pathArg(p, pathAddr);
  if (typeof f === 'number') return f;
  if (p.view.host(f) === null) return -2; // ENOENT
  return fsCall(() => fs.truncateSync(p.view.writePath(f, true), len));
}

/** utimensat(2): UTIME_NOW and UTIME_OMIT as the kernel reads them; a NULL path is futimens(dirfd). */
function utimensAt(p: Process, dirfd: number, pathAddr: number, times: number, flags: number, wide: boolean): number {
  const UTIME_NOW = 0x3fff_ffff, UTIME_OMIT = 0x3fff_fffe;
  let host: string | number;
  if (pathAddr === 0) {
    const f = fileArg(p, dirfd);
    if (typeof f === 'number') return f;
    host = p.view.overlay !== null && f.path !== '' ? p.view.writePath(f.path, true) : f.host;
  } else {
    const g = pathArg(p, pathAddr, dirfd, !(flags & AT_SYMLINK_NOFOLLOW));
    if (typeof g === 'number') return g;
    if (p.view.host(g) === null) return -2; // ENOENT
    host = p.view.writePath(g, true);
  }
  const st = statOf(p, host, !(flags & AT_SYMLINK_NOFOLLOW));
  if (typeof st === 'number') return st;
  const now = Number(p.realtimeNs()) / 1e9;
  const pick = (i: number, old: bigint): number | null => {
    if (times === 0) return now;
    const b = p.as.read(times + i * (wide ? 16 : 8), wide ? 16 : 8);
    if (b === null) return null;
    const v = new DataView(b.buffer);
    const sec = wide ? Number(v.getBigInt64(0, true)) : v.getInt32(0, true), nsec = wide ? Number(v.getBigInt64(8, true)) : v.getInt32(4, true);
    if (nsec === UTIME_NOW) return now;
    if (nsec === UTIME_OMIT) return Number(old) / 1e9;
    return sec + nsec / 1e9;
  };
  const atime = pick(0, st.atimeNs), mtime = pick(1, st.mtimeNs);
  if (atime === null || mtime === null) return -EFAULT;
  return fsCall(() => (flags & AT_SYMLINK_NOFOLLOW ? fs.lutimesSync(host as string, atime, mtime) : fs.utimesSync(host as string, atime, mtime)));
}

function ftruncate(p: Process, fd: number, len: number): number {
  const f = fileArg(p, fd);
  if (typeof f === 'number') return f;
  if (!writable(f)) return -EINVAL;
  return fsCall(() => fs.ftruncateSync(f.hostFd, len));
}

function statAt(p: Process, dirfd: number, pathAddr: number, flags: number): fs.BigIntStats | number {
  const raw = p.as.cString(pathAddr, 1);
  if (flags & AT_EMPTY_PATH && raw instanceof Uint8Array && raw.length === 0) {
    if ((dirfd | 0) === AT_FDCWD) { const cwd = p.view.readPath(p.cwd); return typeof cwd === 'number' ? cwd : statOf(p, cwd, true); }
    const f = fileArg(p, dirfd);
    return typeof f === 'number' ? f : statOf(p, f.hostFd, true);
  }
  const follow = (flags & AT_SYMLINK_NOFOLLOW) === 0;
  const path = readArg(p, pathAddr, dirfd, follow);
  if (typeof path === 'number') return path;
  return statOf(p, path, follow);
}

function readlinkAt(p: Process, dirfd: number, pathAddr: number, buf: number, size: number): number {
  if ((size | 0) <= 0) return -EINVAL;
  const raw = p.as.cString(pathAddr, 4095);
  const exe = raw instanceof Uint8Array ? new TextDecoder().decode(raw) : '';
  // /proc/self/exe names the program by its guest path (there is no /proc under --root to resolve it in).
  const path = exe === '/proc/self/exe' || exe === `/proc/${p.pid}/exe` ? exe : pathArg(p, pathAddr, dirfd, false);
  if (typeof path === 'number') return path;
  let target: string;
  if (path === '/proc/self/exe' || path === `/proc/${p.pid}/exe`) target = p.exePath;
  else {
    const host = p.view.readPath(path);
    if (typeof host === 'number') return host;
    try { target = fs.readlinkSync(host); } catch (e) { return hostErrno(e); }
  }
  const b = new TextEncoder().encode(target).subarray(0, u32(size));
  return p.as.write(buf, b) ? b.length : -EFAULT;
}

function accessAt(p: Process, dirfd: number, pathAddr: number, mode: number): number {
  const path = readArg(p, pathAddr, dirfd);
  if (typeof path === 'number') return path;
  if (mode & ~7) return -EINVAL;
  return fsCall(() => fs.accessSync(path, mode));
}

function renameAt(p: Process, fd1: number, from: number, fd2: number, to: number, flags: number): number {
  const a = pathArg(p, from, fd1, false), b = pathArg(p, to, fd2, false);
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  if (flags === 1) { // RENAME_NOREPLACE
    if (p.view.host(b) !== null && (!p.view.plain || fs.existsSync(b))) return -EEXIST;
  } else if (flags !== 0) return -EINVAL;
  return fsCall(() => p.view.rename(a, b));
}

function clockNanosleep(p: Process, clk: number, flags: number, req: number, wide: boolean): number {
  const now = clockNs(p, clk);
  if (typeof now === 'number') return now;
  const ns = readTimespec(p, req, wide);
  if (typeof ns === 'number') return ns;
  const wait = flags & 1 ? ns - now : ns; // TIMER_ABSTIME
  return wait > 0n ? sleepFor(p, wait) : 0;
}

