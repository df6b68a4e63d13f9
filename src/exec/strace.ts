// One system call as strace prints it: `write(1, "hello\n", 6) = 6`, `open("/x", O_RDONLY) = -1 ENOENT
// (No such file or directory)`. Arguments are formatted from a short signature per call; calls without
// one show their six registers in hex.
import { constants } from 'node:os';
import type { Process, SyscallEvent } from './process.ts';

/**
 * Argument kinds: d signed, u unsigned, x hex, p pointer (NULL or hex), s C string, w buffer of the next
 * argument's length, r buffer of the result's length (filled by the call), o octal, f a dirfd (AT_FDCWD),
 * F open flags, P mmap protection, M mmap flags.
 */
const SIGNATURES: Record<string, string> = {
  exit: 'd', exit_group: 'd', read: 'drd', write: 'dwd', open: 'sFo', openat: 'fsFo', creat: 'so', close: 'd',
  lseek: 'ddd', _llseek: 'duupd', readv: 'dpd', writev: 'dpd', pread64: 'druuu', pwrite64: 'dwduu', brk: 'p',
  mmap2: 'puPMdx', munmap: 'pu', mprotect: 'puP', mremap: 'puuxp', set_thread_area: 'p', set_tid_address: 'p',
  set_robust_list: 'pu', uname: 'p', ugetrlimit: 'dp', getrlimit: 'dp', prlimit64: 'ddpp', readlink: 'srd',
  readlinkat: 'fsrd', getrandom: 'pux', statx: 'fsxxp', stat64: 'sp', lstat64: 'sp', fstat64: 'dp',
  fstatat64: 'fspx', getcwd: 'pu', ioctl: 'dxp', clock_gettime: 'dp', clock_gettime64: 'dp', gettimeofday: 'pp',
  time: 'p', nanosleep: 'pp', clock_nanosleep: 'ddpp', clock_nanosleep_time64: 'ddpp', fcntl64: 'ddx', fcntl: 'ddx',
  dup: 'd', dup2: 'dd', dup3: 'ddx', access: 'so', faccessat: 'fso', faccessat2: 'fsox', unlink: 's', unlinkat: 'fsx',
  mkdir: 'so', mkdirat: 'fso', rmdir: 's', rename: 'ss', renameat: 'fsfs', renameat2: 'fsfsx', getdents64: 'dpu',
  chdir: 's', fchdir: 'd', umask: 'o', rt_sigaction: 'dppu', rt_sigprocmask: 'dppu', kill: 'dd', tgkill: 'ddd',
  tkill: 'dd', getpid: '', getppid: '', gettid: '', getuid32: '', geteuid32: '', getgid32: '', getegid32: '',
  sched_yield: '', madvise: 'pux', ftruncate64: 'duu', fsync: 'd', chmod: 'so', fchmod: 'do',
  fork: '', vfork: '', clone: 'xpppp', execve: 'spp', wait4: 'dpxp', waitpid: 'dpx', pipe: 'p', pipe2: 'px',
  poll: 'pud', sigreturn: '', rt_sigreturn: '', rt_sigsuspend: 'pu', pause: '', alarm: 'u', sigaction: 'dpp',
  sigprocmask: 'dpp', rt_sigpending: 'pu', sysinfo: 'p',
};

const OPEN_FLAGS: Array<[number, string]> = [[0x40, 'O_CREAT'], [0x80, 'O_EXCL'], [0x100, 'O_NOCTTY'], [0x200, 'O_TRUNC'], [0x400, 'O_APPEND'],
  [0x800, 'O_NONBLOCK'], [0x1000, 'O_DSYNC'], [0x8000, 'O_LARGEFILE'], [0x10000, 'O_DIRECTORY'], [0x20000, 'O_NOFOLLOW'], [0x80000, 'O_CLOEXEC']];
const MMAP_FLAGS: Array<[number, string]> = [[1, 'MAP_SHARED'], [2, 'MAP_PRIVATE'], [0x10, 'MAP_FIXED'], [0x20, 'MAP_ANONYMOUS'], [0x100, 'MAP_GROWSDOWN'],
  [0x4000, 'MAP_NORESERVE'], [0x8000, 'MAP_POPULATE'], [0x20000, 'MAP_STACK'], [0x100000, 'MAP_FIXED_NOREPLACE']];

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v as number, k]));
const ERRNO_TEXT: Record<string, string> = {
  EPERM: 'Operation not permitted', ENOENT: 'No such file or directory', ESRCH: 'No such process', EIO: 'Input/output error',
  EINTR: 'Interrupted system call', ENOEXEC: 'Exec format error', ECHILD: 'No child processes', E2BIG: 'Argument list too long',
  EBADF: 'Bad file descriptor', EAGAIN: 'Resource temporarily unavailable', ENOMEM: 'Cannot allocate memory', EACCES: 'Permission denied',
  EFAULT: 'Bad address', EEXIST: 'File exists', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory', EINVAL: 'Invalid argument',
  EMFILE: 'Too many open files', ENOTTY: 'Inappropriate ioctl for device', ESPIPE: 'Illegal seek', EPIPE: 'Broken pipe',
  ERANGE: 'Numerical result out of range', ENAMETOOLONG: 'File name too long', ENOSYS: 'Function not implemented',
  ENOTEMPTY: 'Directory not empty', ELOOP: 'Too many levels of symbolic links', EOVERFLOW: 'Value too large for defined data type',
};

/** C-style quoting of at most 32 bytes, with `...` when there were more. */
function quote(bytes: Uint8Array | null, total = bytes?.length ?? 0): string {
  if (bytes === null) return '0x?';
  let out = '"';
  for (const b of bytes.subarray(0, 32)) {
    if (b === 0x0a) out += '\\n'; else if (b === 0x09) out += '\\t'; else if (b === 0x0d) out += '\\r';
    else if (b === 0x22) out += '\\"'; else if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${b.toString(8)}`;
  }
  return `${out}"${total > 32 ? '...' : ''}`;
}

function flagNames(v: number, table: Array<[number, string]>, base: string): string {
  const parts = base !== '' ? [base] : [];
  let rest = v;
  for (const [bit, name] of table) if (v & bit) { parts.push(name); rest &= ~bit; }
  if (rest !== 0) parts.push(`0x${(rest >>> 0).toString(16)}`);
  return parts.length > 0 ? parts.join('|') : '0';
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;

/** The strace line for a finished call (no newline). */
export function formatSyscall(call: SyscallEvent, result: number, p: Process): string {
  const sig = SIGNATURES[call.name];
  let args: string;
  if (sig === undefined) args = call.args.map(hex).join(', ');
  else {
    args = [...sig].map((k, i) => {
      const v = call.args[i];
      switch (k) {
        case 'd': return String(v | 0);
        case 'u': return String(v >>> 0);
        case 'x': return hex(v);
        case 'p': return v === 0 ? 'NULL' : hex(v);
        case 'o': return `0${(v >>> 0).toString(8)}`;
        case 'f': return (v | 0) === -100 ? 'AT_FDCWD' : String(v | 0);
        case 's': { const s = p.as.cString(v, 4096); return s instanceof Uint8Array ? quote(s) : hex(v); }
        case 'w': { const n = call.args[i + 1] >>> 0; return quote(p.as.read(v, Math.min(n, 33)), n); }
        case 'r': return result < 0 ? hex(v) : quote(p.as.read(v, Math.min(result, 33)), result);
        case 'F': return flagNames(v & ~3, OPEN_FLAGS, ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][v & 3]);
        case 'P': return v === 0 ? 'PROT_NONE' : flagNames(v, [[1, 'PROT_READ'], [2, 'PROT_WRITE'], [4, 'PROT_EXEC']], '');
        case 'M': return flagNames(v, MMAP_FLAGS, '');
        default: return hex(v);
      }
    }).join(', ');
  }
  const name = call.name;
  if (name === 'exit' || name === 'exit_group') return `${name}(${args}) = ?`;
  let res: string;
  if (result < 0 && result > -4096) {
    const e = ERRNO_NAMES.get(-result) ?? `E${-result}`;
    res = `-1 ${e} (${ERRNO_TEXT[e] ?? e})`;
  } else if (name === 'brk' || name === 'mmap2' || name === 'mmap' || name === 'mremap') res = hex(result);
  else res = String(result >>> 0 > 0x7fff_ffff ? result | 0 : result >>> 0);
  return `${name}(${args}) = ${res}`;
}
