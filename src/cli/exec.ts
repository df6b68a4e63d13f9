// `x86jit exec PROGRAM [ARGS...]`: run a Linux i386 executable (static, or dynamic under --root) as a
// process, in the manner of qemu-i386: its system calls go to the host, its exit status is ours, a signal that kills it is 128+N.
import { readFileSync, statSync } from 'node:fs';
import { FileView } from '../exec/file-view.ts';
import { ExecError, Process, type ProcessExit, VM, formatSyscall, DEFAULT_PROCESS_MEMORY } from '../node.ts';
import { CORE_SIGNALS, HOST_SIGNALS } from '../exec/signals.ts';
import { EXIT_STATUS, EXIT_USAGE } from './exit-status.ts';
import { checkModulesFromEnv, jitOptionsFromEnv } from './jit-env.ts';
import { formatJitTotals } from './jit-report.ts';
import { emit } from './output.ts';
import { parseCommand, parseNumber, parseSeconds, parseSize, UsageError } from './parse.ts';

export const EXEC_HELP = `usage: x86jit exec [options] PROGRAM [ARGS...]

Runs a Linux i386 executable as qemu-i386 does: at CPL 3 on x86jit's CPU, its int 0x80 system calls
translated to the host's. Static programs (ET_EXEC or static-pie, e.g. gcc -m32 -static) run as they
are; a dynamic one needs its interpreter (/lib/ld-linux.so.2) and libraries from an i386 sysroot given
with --root (scripts/fetch-i386-sysroot.sh unpacks Debian's). Its stdin, stdout and stderr are ours and
its exit status is ours; a signal that kills it (SIGSEGV from a bad access, SIGFPE from a division by
zero, SIGILL ...) kills x86jit with the same signal, as qemu-i386 does (with one line on stderr for
the signals that dump core). fork/vfork/clone make child processes (each on a VM of its own, taking
turns on this thread), execve runs a new program in a process, pipes connect them.
Status 2: bad arguments, or a file that cannot run (missing, not an i386 ELF, no interpreter);
6 --max-instructions reached, 8 --timeout reached.

options:
  --engine interp|jit   execution engine (default interp)
  --env NAME=VALUE      set a variable in the program's environment (repeatable); the environment is
                        the host's (as qemu-i386 passes it) with these added or replaced
  --cwd DIR             the program's working directory (default: ours; with --root, /)
  --root DIR            the program's / : every path it uses resolves inside DIR (.. and symlinks
                        cannot leave it); PROGRAM and --cwd are paths inside DIR too
  --overlay DIR         every change the program makes to files (writes, creates, renames, deletes,
                        mkdir, chmod ...) goes to DIR, which it sees over the real files (or over
                        --root); the real files stay as they were, a second run sees the changes
  --mem SIZE            guest RAM: the memory all its mappings share (default 256M)
  --strace              log each system call on stderr as strace prints it
  --stats               print instructions, MIPS and system calls by name on stderr at the end
  --max-processes N     processes that may exist at once (default 64): fork beyond is EAGAIN
  --max-instructions N  stop after N instructions, all processes together (status 6)
  --timeout SECONDS     stop after this much wall time (status 8)
  -h, --help            show this help
`;

export async function execCommand(argv: string[]): Promise<number> {
  // Options end at PROGRAM: what follows is the program's own argv.
  const first = firstPositional(argv);
  const ours = first < 0 ? argv : argv.slice(0, first);
  const { values, positionals } = parseCommand('exec', ours, {
    engine: { type: 'string', default: 'interp' },
    env: { type: 'string', multiple: true },
    cwd: { type: 'string' },
    root: { type: 'string' },
    overlay: { type: 'string' },
    mem: { type: 'string' },
    strace: { type: 'boolean', default: false },
    stats: { type: 'boolean', default: false },
    'max-instructions': { type: 'string' },
    'max-processes': { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { emit(1, EXEC_HELP); return 0; }
  const program = first < 0 ? positionals[0] : argv[first];
  const args = first < 0 ? positionals.slice(1) : argv.slice(first + 1);
  if (program === undefined) throw new UsageError('exec: no PROGRAM given (try: x86jit exec --help)');
  if (values.engine !== 'interp' && values.engine !== 'jit') throw new UsageError(`--engine: '${values.engine}' is not one of interp, jit`);
  const maxInstructions = values['max-instructions'] !== undefined ? parseNumber(values['max-instructions'], '--max-instructions') : undefined;
  const maxProcesses = values['max-processes'] !== undefined ? parseNumber(values['max-processes'], '--max-processes') : 64;
  if (maxProcesses < 1) throw new UsageError('--max-processes: must be at least 1');
  const timeout = values.timeout !== undefined ? parseSeconds(values.timeout, '--timeout') : undefined;
  const memory = values.mem !== undefined ? parseSize(values.mem, '--mem') : DEFAULT_PROCESS_MEMORY;
  if (memory < 16 << 20 || memory > 2 ** 31) throw new UsageError(`--mem: ${values.mem} is outside 16M..2G`);
  const env = new Map<string, string>();
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env.set(k, v);
  for (const e of values.env ?? []) {
    const eq = e.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env: '${e}' is not NAME=VALUE`);
    env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const [opt, dir] of [['--root', values.root], ['--overlay', values.overlay]] as const) {
    if (dir === undefined) continue;
    let isDir = false;
    try { isDir = statSync(dir).isDirectory(); } catch { /* reported below */ }
    if (!isDir) { emit(2, `x86jit: ${opt}: ${dir}: not a directory\n`); return EXIT_USAGE; }
  }
  const view = new FileView(values.root ?? null, values.overlay ?? null);
  // Under --root, --cwd and PROGRAM are guest paths: resolved inside the root.
  const guest = (base: string, path: string): string | null => {
    const g = view.resolve(base, path, true);
    return typeof g === 'number' ? null : g;
  };
  const base = values.root !== undefined ? '/' : process.cwd();
  const cwd = values.cwd !== undefined ? guest(base, values.cwd) : base;
  if (values.cwd !== undefined) {
    let dir = false;
    try { dir = cwd !== null && statSync(view.readPath(cwd) as string).isDirectory(); } catch { /* reported below */ }
    if (!dir) { emit(2, `x86jit: --cwd: ${values.cwd}: not a directory\n`); return EXIT_USAGE; }
  }

  const path = guest(cwd!, program);
  let image: Uint8Array;
  try {
    const host = path === null ? null : view.host(path);
    if (host === null) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    if (statSync(host).isDirectory()) throw new ExecError(`${program}: is a directory`);
    image = readFileSync(host);
  } catch (e) {
    if (e instanceof ExecError) { emit(2, `x86jit: ${e.message}\n`); return EXIT_USAGE; }
    const err = e as NodeJS.ErrnoException;
    emit(2, `x86jit: ${program}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : (err.message ?? String(e))}\n`);
    return EXIT_USAGE;
  }

  if (values.engine === 'jit') await checkModulesFromEnv();
  const vmOptions = { engine: values.engine, jit: jitOptionsFromEnv(), memory } as const;
  const vm = await VM.create(vmOptions);
  let proc: Process;
  try {
    proc = new Process(vm, image, path!, {
      argv: [program, ...args],
      env: [...env].map(([k, v]) => `${k}=${v}`),
      cwd: cwd!,
      root: values.root,
      overlay: values.overlay,
      maxProcesses,
      spawnVm: () => VM.create(vmOptions),
      // A child's calls carry its pid, as strace -f shows them.
      afterSyscall: values.strace ? (call, result, p) => { emit(2, `${p.parent !== null ? `[pid ${p.pid}] ` : ''}${formatSyscall(call, result, p)}\n`); } : undefined,
    });
  } catch (e) {
    if (e instanceof ExecError) { emit(2, `x86jit: ${e.message}\n`); return EXIT_USAGE; }
    throw e;
  }
  const started = performance.now();
  const result = await proc.runAsync({ maxInstructions, timeout });
  const seconds = (performance.now() - started) / 1000;
  if (values.stats) printStats(vm, proc, seconds);
  return statusOf(result);
}

/** Our exit status for how the process ended (and its one line on stderr, if any). */
function statusOf(result: ProcessExit): number {
  if (result.kind === 'exit') return result.status;
  if (result.kind === 'signal') {
    // As qemu-i386: a line for the signals that dump core, then we die of the same signal (where Node
    // lets a signal kill it: it ignores SIGPIPE and takes SIGUSR1 for its inspector; status 128+N then).
    if (CORE_SIGNALS.has(result.signal)) emit(2, `x86jit: ${result.message}\n`);
    const host = HOST_SIGNALS[result.signal];
    if (host !== undefined && host !== 'SIGPIPE' && host !== 'SIGUSR1') process.kill(process.pid, host);
    return 128 + result.signal;
  }
  const exit = result.exit;
  emit(2, `x86jit: ${exit.reason}: ${exit.message} at EIP 0x${exit.eip.toString(16).padStart(8, '0')}\n`);
  return exit.reason === 'debug-exit' ? EXIT_USAGE : EXIT_STATUS[exit.reason];
}

function printStats(vm: VM, proc: Process, seconds: number): void {
  const n = vm.instructions;
  const calls = [...proc.syscallCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = calls.reduce((a, [, c]) => a + c, 0);
  const lines = [`${n} instructions in ${seconds.toFixed(3)} s (${(n / seconds / 1e6).toFixed(1)} MIPS), ${total} system calls` +
    `${proc.unknownSyscalls > 0 ? ` (${proc.unknownSyscalls} unknown: -ENOSYS)` : ''}`];
  lines.push(` ${'system call'.padEnd(24)} ${'count'.padStart(10)}`);
  for (const [name, count] of calls) lines.push(` ${name.padEnd(24)} ${String(count).padStart(10)}`);
  emit(2, `${lines.map((l) => `x86jit: ${l}`).join('\n')}\n`);
  const jit = vm.jitStats();
  if (jit) emit(2, `${formatJitTotals(jit, n).map((l) => `x86jit: jit: ${l}`).join('\n')}\n`);
}

/** Index of PROGRAM in argv: the first argument that is not an option or an option's value (-1: none). */
function firstPositional(argv: string[]): number {
  const withValue = new Set(['--engine', '--env', '--cwd', '--root', '--overlay', '--mem', '--max-instructions', '--max-processes', '--timeout']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') return i + 1 < argv.length ? i + 1 : -1;
    if (!a.startsWith('-') || a === '-') return i;
    if (withValue.has(a)) i++;
  }
  return -1;
}
