// The process's file descriptors: guest fds name open file descriptions (shared by dup, with one offset),
// each backed by a host fd opened with Node's synchronous fs API. Node has no lseek, so the offset is kept
// here and every read and write of a seekable file is positioned (pread/pwrite on the host).
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Pipe } from './pipe.ts';

/** Linux errno values (asm-generic/errno-base.h, errno.h). */
export const EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENOEXEC = 8, EBADF = 9, ECHILD = 10, EAGAIN = 11, ENOMEM = 12, EACCES = 13,
  EFAULT = 14, EEXIST = 17, EXDEV = 18, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EMFILE = 24, ENOTTY = 25, ESPIPE = 29, EPIPE = 32,
  ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40;

/** -errno for a failed Node fs call (Node's errno on Linux is already -errno). */
export function hostErrno(e: unknown): number {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.errno === 'number' && err.errno < 0) return err.errno;
  const n = err?.code !== undefined ? (osConstants.errno as Record<string, number>)[err.code] : undefined;
  if (n !== undefined) return -n;
  throw e;
}

export interface OpenFile {
  hostFd: number;
  /** Absolute guest path (for *at calls, getdents and fchdir), '' for the inherited stdio. */
  path: string;
  /** The host file opened (differs from `path` under --root or --overlay). */
  host: string;
  /** O_ACCMODE and status flags as the program opened it. */
  flags: number;
  offset: number;
  seekable: boolean;
  directory: boolean;
  /** Directory entries not yet returned by getdents64 (read once, at the first call). */
  entries: Array<{ name: string; type: number; ino: bigint }> | null;
  /** Open fds naming this description (dup); the host fd is closed with the last. */
  refs: number;
  /** The host's stdio: never closed. */
  inherited: boolean;
  /** A pipe's end (hostFd is -1 then): which pipe, and whether this is its read end. */
  pipe?: { pipe: Pipe; read: boolean };
}

export interface FdEntry { file: OpenFile; cloexec: boolean }

export const O_ACCMODE = 3, O_CREAT = 0x40, O_EXCL = 0x80, O_TRUNC = 0x200, O_APPEND = 0x400, O_NONBLOCK = 0x800,
  O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_CLOEXEC = 0x80000, O_LARGEFILE = 0x8000;
const HOST_OPEN_FLAGS = O_ACCMODE | O_CREAT | O_EXCL | 0x100 /* O_NOCTTY */ | O_TRUNC | O_APPEND | O_DIRECTORY | O_NOFOLLOW | 0x1000 /* O_DSYNC */;

export const MAX_FDS = 1024;

export class FdTable {
  readonly fds = new Map<number, FdEntry>();

  constructor(stdio: readonly number[]) {
    stdio.forEach((hostFd, fd) => {
      let seekable = false;
      try { const st = fs.fstatSync(hostFd); seekable = st.isFile() || st.isBlockDevice(); } catch { /* closed: reads and writes fail as they would */ }
      this.fds.set(fd, { cloexec: false, file: { hostFd, path: '', host: '', flags: fd === 0 ? 0 : 1, offset: 0, seekable, directory: false, entries: null, refs: 1, inherited: true } });
    });
  }

  get(fd: number): OpenFile | undefined { return this.fds.get(fd)?.file; }

  /** The lowest free fd at or above `min`, or -EMFILE. */
  lowest(min = 0): number {
    for (let fd = min; fd < MAX_FDS; fd++) if (!this.fds.has(fd)) return fd;
    return -EMFILE;
  }

  install(fd: number, file: OpenFile, cloexec: boolean): void {
    this.close(fd);
    file.refs++;
    this.fds.set(fd, { file, cloexec });
  }

  close(fd: number): number {
    const e = this.fds.get(fd);
    if (e === undefined) return -EBADF;
    this.fds.delete(fd);
    if (--e.file.refs === 0 && !e.file.inherited) {
      const end = e.file.pipe;
      if (end !== undefined) { if (end.read) end.pipe.readers--; else end.pipe.writers--; } else {
        try { fs.closeSync(e.file.hostFd); } catch { /* already gone */ }
      }
    }
    return 0;
  }

  /** pipe(2): both ends on the two lowest free fds, [read, write]; or -EMFILE. */
  pipe(flags: number): [number, number] | number {
    const r = this.lowest();
    if (r < 0) return r;
    const w = this.lowest(r + 1);
    if (w < 0) return w;
    const pipe = new Pipe();
    const end = (read: boolean): OpenFile => ({ hostFd: -1, path: 'pipe:', host: '', flags: (read ? 0 : 1) | (flags & O_NONBLOCK), offset: 0, seekable: false, directory: false, entries: null, refs: 0, inherited: false, pipe: { pipe, read } });
    pipe.readers = 1; pipe.writers = 1;
    this.install(r, end(true), (flags & O_CLOEXEC) !== 0);
    this.install(w, end(false), (flags & O_CLOEXEC) !== 0);
    return [r, w];
  }

  /** fork: a table naming the same open file descriptions (shared offsets, pipe ends counted once more). */
  copy(): FdTable {
    const t = new FdTable([]);
    for (const [fd, e] of this.fds) {
      e.file.refs++;
      t.fds.set(fd, { file: e.file, cloexec: e.cloexec });
    }
    return t;
  }

  /** execve: close-on-exec fds are closed. */
  closeOnExec(): void { for (const [fd, e] of [...this.fds]) if (e.cloexec) this.close(fd); }

  /** open(2) of an absolute host path (`path`: the guest's name for it); returns the new fd or -errno. */
  open(host: string, flags: number, mode: number, path = host): number {
    const fd = this.lowest();
    if (fd < 0) return fd;
    let hostFd: number;
    try { hostFd = fs.openSync(host, flags & HOST_OPEN_FLAGS, mode); } catch (e) { return hostErrno(e); }
    let st: fs.Stats;
    try { st = fs.fstatSync(hostFd); } catch (e) { fs.closeSync(hostFd); return hostErrno(e); }
    const file: OpenFile = { hostFd, path, host, flags, offset: 0, seekable: st.isFile() || st.isBlockDevice(), directory: st.isDirectory(), entries: null, refs: 0, inherited: false };
    this.install(fd, file, (flags & O_CLOEXEC) !== 0);
    return fd;
  }

  /** Every host fd this process opened is closed (the process ended). */
  closeAll(): void { for (const fd of [...this.fds.keys()]) this.close(fd); }
}

/** Resolve a guest path against a directory (the cwd or a dirfd's path). */
export function resolvePath(base: string, path: string): string {
  return resolve(base, path);
}

export { dirname };
