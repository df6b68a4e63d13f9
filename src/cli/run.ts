// `x86jit run`: load an image, run it with limits, copy COM1 to stdout, exit with the guest's status.
import { fstatSync } from 'node:fs';
import { formatExitStats } from '../index.ts';
import { EXIT_OUTPUT_CLOSED, EXIT_STATUS, EXIT_USAGE } from './exit-status.ts';
import { IMAGE_HELP, IMAGE_OPTIONS, openGuest, parseImageArgs, RESTORE_HELP, RESTORE_OPTIONS, runGuest, stopForOutput } from './guest.ts';
import { emit } from './output.ts';
import { parseCommand, UsageError } from './parse.ts';
import { formatJitTotals } from './jit-report.ts';

export const RUN_HELP = `usage: x86jit run ROM [options]
       x86jit run --restore SNAPSHOT [--restore DIFF...] [options]

Runs ROM and copies what the guest writes to COM1 (port 0x3f8) to stdout; bytes written to the
0xe9 debug console go to stderr. The process exits with the guest's isa-debug-exit status
((value << 1) | 1), or with an even status naming why the run ended otherwise:
  2 bad arguments or image, 4 HLT with nothing to wake the CPU, 6 --max-instructions reached,
  8 --timeout reached, 10 triple fault, 12 unsupported guest feature, 16 stdout or stderr closed
  (EPIPE, e.g. | head) before the guest exited: the run stops there, quietly, 70 internal error,
  74 writing stdout or stderr failed otherwise (e.g. a full disk).
An image is read no further than the guest RAM (--mem; 256 KiB with --bios): a larger file or an endless
pipe is refused (status 2).

ROM kinds:
  Multiboot v1 kernel (ELF32 or a.out-kludge flat image)    default
  raw binary                                                --load ADDR --entry ADDR [--bits 16|32]
  BIOS-style image (mapped at 0xF0000 and below 4 GiB)      --bios

options:
  --engine interp|jit       execution engine (default interp; jit translates a page's hot code to WASM
                            with its own encoder once a block has run X86JIT_JIT_THRESHOLD (default 50)
                            times (tier 1), and a region again with its loops as WASM loops once it
                            has run X86JIT_JIT_TIER2_THRESHOLD (default 2^27) instructions (tier 2;
                            X86JIT_JIT_TIER2=background|sync|off);
                            X86JIT_JIT_BACKGROUND=1 translates every region with binaryen on the worker
                            instead, keeping translations in X86JIT_JIT_CACHE, default ~/.cache/x86jit)
${IMAGE_HELP}${RESTORE_HELP}  --clock virtual|realtime  guest time: from the instruction count (default; deterministic, HLT skips
                            ahead) or the host clock (HLT sleeps)
  --stats                   print instructions, wall time, MIPS and VM exits per reason on stderr
  --trace                   log every executed instruction with registers on stderr (slow)
  -h, --help                show this help
`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('run', argv, {
    ...IMAGE_OPTIONS,
    engine: { type: 'string', default: 'interp' },
    clock: { type: 'string' },
    ...RESTORE_OPTIONS,
    stats: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { emit(1, RUN_HELP); return 0; }
  if (values.engine !== 'interp' && values.engine !== 'jit') throw new UsageError(`--engine: '${values.engine}' is not one of interp, jit`);
  const args = parseImageArgs(values);
  const { maxInstructions, timeout } = args;

  if (values.clock !== undefined && values.clock !== 'virtual' && values.clock !== 'realtime') throw new UsageError(`--clock: '${values.clock}' is not one of virtual, realtime`);
  const vm = await openGuest('run', positionals, values.restore, args, { stdout: 1, debugcon: 2, engine: values.engine, clock: values.clock as 'virtual' | 'realtime' | undefined });

  const interactive = isInteractive();
  // Input the guest has not taken yet is held back in the pipe, not in memory: stdin pauses while the UART
  // holds INPUT_MAX bytes, and resumes between slices once the guest has read some.
  const idle = () => { if (process.stdin.isPaused() && vm.uart.pendingInput < INPUT_MAX) process.stdin.resume(); };
  if (interactive) {
    process.stdin.on('data', (chunk: Buffer) => {
      vm.uart.queueInput(new Uint8Array(chunk));
      if (vm.uart.pendingInput >= INPUT_MAX) process.stdin.pause();
    });
    process.stdin.on('error', () => {});
  }
  const trace = values.trace ? (line: string) => { if (!emit(2, `${line}\n`)) stopForOutput(vm); } : undefined;
  const { exit, outputFailed, seconds, t0, instructions: n } = await runGuest(vm, { maxInstructions, timeout, interactive, idle, trace });
  if (interactive) process.stdin.destroy();
  if (values.stats) {
    emit(2, `x86jit: ${n} instructions in ${seconds.toFixed(3)} s (${(n / seconds / 1e6).toFixed(1)} MIPS), ` +
      `${vm.interpreter.cache.decoded} blocks decoded, ${vm.interpreter.cache.invalidated} invalidated, ${vm.interpreter.cache.flushes} code-cache flushes, ` +
      `first instruction ${t0.toFixed(1)} ms after process start\n`);
    if (values.restore !== undefined) emit(2, `x86jit: ${vm.instructions} instructions since the guest started (the snapshot's ${vm.instructions - n} and this run's)\n`);
    emit(2, `${formatExitStats(vm.exitStats(), seconds).map((l) => `x86jit:${l}`).join('\n')}\n`);
    const jit = vm.jitStats();
    if (jit) emit(2, `${formatJitTotals(jit, n).map((l) => `x86jit: jit: ${l}`).join('\n')}\n`);
  }
  if (exit.reason === 'debug-exit') return (exit.status ?? 1) & 0xff;
  // A closed stdout or stderr ends the run quietly (main.ts reports any other write failure, status 74).
  if (outputFailed) return EXIT_OUTPUT_CLOSED;
  const where = `${exit.cs.toString(16).padStart(4, '0')}:${exit.eip.toString(16).padStart(8, '0')}`;
  emit(2, `x86jit: ${exit.reason}: ${exit.message} at ${where}\n`);
  return EXIT_STATUS[exit.reason] ?? EXIT_USAGE;
}

/** Host input queued for the UART beyond which stdin pauses. */
const INPUT_MAX = 1 << 16;

/** The UART reads the host's stdin only when it is a terminal or a pipe (not a file or /dev/null). */
function isInteractive(): boolean {
  try {
    const st = fstatSync(0);
    return process.stdin.isTTY === true || st.isFIFO() || st.isSocket();
  } catch { return false; }
}
