// `x86jit run`: load an image, run it with limits, copy COM1 to stdout, exit with the guest's status.
import { formatCpuState } from '../cpu/cpu-dump.ts';
import { formatExitStats, type VM } from '../node.ts';
import { EXIT_OUTPUT_CLOSED, EXIT_STATUS, EXIT_USAGE } from './exit-status.ts';
import { acceptOne, parseTcpAddress, socketChannel } from './migrate.ts';
import { type GuestRun, IMAGE_HELP, IMAGE_OPTIONS, incomingGuestVM, migrateGuest, openGuest, parseImageArgs, RESTORE_HELP, RESTORE_OPTIONS, runGuest, SIGNAL_STATUS, stopForOutput } from './guest.ts';
import { emit, outputFailed as writeFailed } from './output.ts';
import { parseCommand, parseNumber, parseSeconds, UsageError } from './parse.ts';
import { formatJitTotals } from './jit-report.ts';
import { attachConsole } from './console.ts';
import { LOG_HELP, type LOG_ITEMS, openLog, parseLogItems } from './log.ts';
import { debugGuest } from './gdb.ts';

export const RUN_HELP = `usage: x86jit run ROM [options]
       x86jit run --restore SNAPSHOT [--restore DIFF...] [options]
       x86jit run --incoming tcp:HOST:PORT [options]

Runs ROM and copies what the guest writes to COM1 (port 0x3f8) to stdout; bytes written to the
0xe9 debug console go to stderr. The process exits with the guest's isa-debug-exit status
((value << 1) | 1), or with an even status naming why the run ended otherwise:
  2 bad arguments or image, 4 HLT with nothing to wake the CPU, 6 --max-instructions reached,
  8 --timeout reached, 10 triple fault, 12 unsupported guest feature, 16 stdout or stderr closed
  (EPIPE, e.g. | head) before the guest exited: the run stops there, quietly, 70 internal error,
  74 writing stdout or stderr failed otherwise (e.g. a full disk), 130/143 SIGINT/SIGTERM (one line and
  --stats first). A triple fault or an unsupported feature also prints the guest's registers.
An image is read no further than the guest RAM (--mem; 256 KiB with --bios): a larger file or an endless
pipe is refused (status 2).

ROM kinds:
  Multiboot v1 kernel (ELF32 or a.out-kludge flat image)    default
  raw binary                                                --load ADDR --entry ADDR [--bits 16|32]
  BIOS-style image (mapped at 0xF0000 and below 4 GiB)      --bios

options:
  --engine interp|jit       execution engine (default interp; jit translates a page's hot code to WASM
                            with its own encoder once a block has run X86JIT_JIT_THRESHOLD (default 400)
                            times (tier 1, V8's baseline code), and a region again with its loops as
                            WASM loops, for TurboFan, once it has run X86JIT_JIT_TIER2_THRESHOLD
                            instructions (default 4,096 per byte of its WASM, at least 2^22; tier 2;
                            X86JIT_JIT_TIER2=background|sync|off);
                            X86JIT_JIT_BACKGROUND=1 translates every region with binaryen on the worker
                            instead, keeping translations in X86JIT_JIT_CACHE, default ~/.cache/x86jit)
${IMAGE_HELP}${RESTORE_HELP}  --clock virtual|realtime  guest time: from the instruction count (default; deterministic, HLT skips
                            ahead) or the host clock (HLT sleeps)
  --idle skip|sleep         in the virtual clock, what a guest halted waiting for an interrupt does: skip
                            to the next device event at once, or first sleep as long on the host clock (as
                            QEMU's -icount sleep=on; the guest sees the same times, an idle guest such as a
                            shell at its prompt costs no CPU). Default: sleep when stdin is a terminal,
                            else skip
  --stdin com1|keyboard     where host input goes (a terminal or a pipe): COM1's receiver (default), or
                            the PS/2 keyboard, typed as a US keyboard types it (set-2 scancodes, Shift and
                            Ctrl held where needed; a key at a time, as the guest reads them)
  --incoming tcp:HOST:PORT  wait for a guest migrated from another x86jit (--migrate-to) and run it
  --migrate-to tcp:HOST:PORT  live-migrate the guest there: after --migrate-after SECONDS (default 0) send
                            its RAM while it runs, then rounds of the pages it dirtied, until the rest fits
                            --max-downtime MS (default 300); then stop, send the rest and the devices, and
                            exit 0 with a report on stderr. If the guest keeps dirtying faster than pages go,
                            it is throttled (20 %, then 10 % more a round) and after 30 rounds the source gives
                            up; a refused or broken connection also leaves the guest running here (one line)
  --gdb tcp:HOST:PORT       serve gdb's remote protocol there (QEMU's -gdb): in gdb, \`set architecture
                            i386\` and \`target remote HOST:PORT\`. The guest starts at once and stops when gdb
                            attaches; registers, memory (linear addresses), breakpoints (break/hbreak),
                            step, continue, Ctrl-C, detach (the guest runs on) and kill (exit 0). While
                            breakpoints are set the interpreter runs, one instruction at a time
  --wait                    with --gdb: start the guest only when gdb says continue (QEMU's -S); says
                            \`x86jit: waiting for gdb on tcp:HOST:PORT\` on stderr (PORT 0: the system picks one)
  --stats                   print instructions, wall time, MIPS and VM exits per reason on stderr
  --trace                   log every executed instruction with registers on stderr (slow; = --log cpu)
${LOG_HELP}
  -h, --help                show this help
`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('run', argv, {
    ...IMAGE_OPTIONS,
    engine: { type: 'string', default: 'interp' },
    clock: { type: 'string' },
    idle: { type: 'string' },
    stdin: { type: 'string', default: 'com1' },
    ...RESTORE_OPTIONS,
    incoming: { type: 'string' },
    'migrate-to': { type: 'string' },
    'migrate-after': { type: 'string' },
    'max-downtime': { type: 'string' },
    gdb: { type: 'string' },
    wait: { type: 'boolean', default: false },
    stats: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    log: { type: 'string' },
    'log-file': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { emit(1, RUN_HELP); return 0; }
  if (values.engine !== 'interp' && values.engine !== 'jit') throw new UsageError(`--engine: '${values.engine}' is not one of interp, jit`);
  const args = parseImageArgs(values);
  const { maxInstructions, timeout } = args;

  if (values.clock !== undefined && values.clock !== 'virtual' && values.clock !== 'realtime') throw new UsageError(`--clock: '${values.clock}' is not one of virtual, realtime`);
  if (values.idle !== undefined && values.idle !== 'skip' && values.idle !== 'sleep') throw new UsageError(`--idle: '${values.idle}' is not one of skip, sleep`);
  if (values.stdin !== 'com1' && values.stdin !== 'keyboard') throw new UsageError(`--stdin: '${values.stdin}' is not one of com1, keyboard`);
  const migrateTo = values['migrate-to'] !== undefined ? parseTcpAddress(values['migrate-to'], '--migrate-to') : undefined;
  if (!migrateTo && (values['migrate-after'] !== undefined || values['max-downtime'] !== undefined)) throw new UsageError('--migrate-after and --max-downtime go with --migrate-to');
  const migrateAfter = values['migrate-after'] !== undefined ? parseSeconds(values['migrate-after'], '--migrate-after') : 0;
  const maxDowntime = values['max-downtime'] !== undefined ? parseNumber(values['max-downtime'], '--max-downtime') : 300;
  const gdb = values.gdb !== undefined ? parseTcpAddress(values.gdb, '--gdb', true) : undefined;
  if (values.wait && !gdb) throw new UsageError('--wait goes with --gdb');
  if (gdb && (migrateTo || values.incoming !== undefined || values.trace || timeout !== undefined)) throw new UsageError('--gdb does not go with --migrate-to, --incoming, --trace or --timeout');
  const logItems = values.log !== undefined ? parseLogItems(values.log) : new Set<keyof typeof LOG_ITEMS>();
  if (values.trace) logItems.add('cpu');
  if (values['log-file'] !== undefined && logItems.size === 0) throw new UsageError('--log-file goes with --log');
  const guestOptions = { stdout: 1, debugcon: 2, engine: values.engine, clock: values.clock as 'virtual' | 'realtime' | undefined } as const;
  let vm: VM;
  if (values.incoming !== undefined) {
    const { host, port } = parseTcpAddress(values.incoming, '--incoming');
    if (positionals.length > 0 || values.restore !== undefined) throw new UsageError('run: --incoming receives the guest; do not name a ROM or --restore as well');
    vm = await incomingGuestVM(socketChannel(await acceptOne(host, port)), args, guestOptions);
  } else vm = await openGuest('run', positionals, values.restore, args, guestOptions);
  const startCount = vm.instructions;

  const serial = attachConsole(vm, values.stdin);
  // Someone at a terminal waits for the guest in real time: an idle guest should not spin a core meanwhile.
  vm.idle = (values.idle ?? (process.stdin.isTTY === true ? 'sleep' : 'skip')) as 'skip' | 'sleep';
  const idle = serial.idle, quit = () => serial.quit;
  const log = logItems.size > 0 ? openLog(vm, logItems, values['log-file'], () => stopForOutput(vm)) : undefined;
  const trace = log?.trace, traceRegisters = log?.traceRegisters;
  const started = performance.now();
  const left = () => (timeout === undefined ? undefined : Math.max(0.001, timeout - (performance.now() - started) / 1000));
  let run: GuestRun;
  if (gdb) {
    const t0 = performance.now(), before = vm.instructions;
    const end = await debugGuest(vm, gdb, { wait: values.wait, maxInstructions });
    serial.close();
    if (end.killed) { log?.close(); return 0; }
    const stopped = end.exit.reason === 'stopped' && writeFailed();
    const exit = end.exit.reason === 'max-instructions' ? { ...end.exit, message: `instruction limit reached (${maxInstructions} instructions)` } : end.exit;
    run = { exit, outputFailed: stopped, seconds: (performance.now() - t0) / 1000, t0, instructions: vm.instructions - before };
  } else run = await runGuest(vm, { maxInstructions, timeout: migrateTo ? Math.min(timeout ?? Infinity, migrateAfter) : timeout, idle, quit, trace, traceRegisters });
  if (migrateTo && run.exit.reason === 'timeout' && (timeout === undefined || migrateAfter < timeout)) {
    const where = `tcp:${migrateTo.host}:${migrateTo.port}`;
    const result = await migrateGuest(vm, migrateTo, maxDowntime);
    if (result.outcome === 'migrated') {
      const r = result.report;
      emit(2, `x86jit: migrated to ${where}: ${r.rounds} rounds, ${r.pages} pages, ${r.bytes} bytes in ${r.totalMs.toFixed(0)} ms, ` +
        `downtime ${r.downtimeMs.toFixed(1)} ms${r.throttle > 0 ? `, guest throttled ${Math.round(r.throttle * 100)} %` : ''}, at instruction ${vm.instructions}\n`);
      serial.close();
      log?.close();
      return 0;
    }
    if (result.outcome === 'failed') emit(2, `x86jit: migration to ${where} failed: ${result.reason}; the guest runs on here\n`);
    run = result.outcome === 'guest-ended' ? { ...run, exit: result.exit }
      : await runGuest(vm, { maxInstructions: maxInstructions === undefined ? undefined : Math.max(0, maxInstructions - (vm.instructions - startCount)), timeout: left(), idle, quit, trace, traceRegisters });
  }
  log?.close();
  const { exit, outputFailed, t0 } = run;
  const seconds = (performance.now() - started) / 1000, n = vm.instructions - startCount;
  serial.close();
  if (values.stats) {
    emit(2, `x86jit: ${n} instructions in ${seconds.toFixed(3)} s (${(n / seconds / 1e6).toFixed(1)} MIPS), ` +
      `${vm.interpreter.cache.decoded} blocks decoded, ${vm.interpreter.cache.invalidated} invalidated, ${vm.interpreter.cache.flushes} code-cache flushes, ` +
      `first instruction ${t0.toFixed(1)} ms after process start\n`);
    if (vm.instructions !== n) emit(2, `x86jit: ${vm.instructions} instructions since the guest started (the snapshot's ${vm.instructions - n} and this run's)\n`);
    emit(2, `${formatExitStats(vm.exitStats(), seconds).map((l) => `x86jit:${l}`).join('\n')}\n`);
    const jit = vm.jitStats();
    if (jit) emit(2, `${formatJitTotals(jit, n).map((l) => `x86jit: jit: ${l}`).join('\n')}\n`);
  }
  if (run.quit) { emit(2, '\r\nx86jit: terminated (C-a x)\r\n'); return 0; }
  if (run.signal !== undefined) {
    emit(2, `x86jit: ${exit.message} at ${exit.cs.toString(16).padStart(4, '0')}:${exit.eip.toString(16).padStart(8, '0')}\n`);
    return SIGNAL_STATUS[run.signal];
  }
  if (exit.reason === 'debug-exit') return (exit.status ?? 1) & 0xff;
  // A guest's power-off is its clean end: status 0 and nothing said, as QEMU.
  if (exit.reason === 'poweroff') return EXIT_STATUS.poweroff;
  // A closed stdout or stderr ends the run quietly (main.ts reports any other write failure, status 74).
  if (outputFailed) return EXIT_OUTPUT_CLOSED;
  const where = `${exit.cs.toString(16).padStart(4, '0')}:${exit.eip.toString(16).padStart(8, '0')}`;
  emit(2, `x86jit: ${exit.reason}: ${exit.message} at ${where}\n`);
  // Where the guest went wrong: its registers, as QEMU's dump shows them.
  if (exit.reason === 'triple-fault' || exit.reason === 'unsupported') emit(2, `${formatCpuState(vm.cpu).join('\n')}\n`);
  return EXIT_STATUS[exit.reason] ?? EXIT_USAGE;
}
