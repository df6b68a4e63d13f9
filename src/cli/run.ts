// `x86jit run`: load an image, run it with limits, copy COM1 to stdout, exit with the guest's status.
import { fstatSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatExitStats, readImageFile } from '../index.ts';
import { EXIT_STATUS, EXIT_USAGE } from './exit-status.ts';
import { createGuestVM, enableJit, IMAGE_HELP, IMAGE_OPTIONS, loadGuest, parseImageArgs, runGuest, writeAll } from './guest.ts';
import { UsageError } from './parse.ts';
import { formatJitTotals } from './jit-report.ts';

export const RUN_HELP = `usage: x86jit run ROM [options]

Runs ROM and copies what the guest writes to COM1 (port 0x3f8) to stdout; bytes written to the
0xe9 debug console go to stderr. The process exits with the guest's isa-debug-exit status
((value << 1) | 1), or with an even status naming why the run ended otherwise:
  2 bad arguments or image, 4 HLT with nothing to wake the CPU, 6 --max-instructions reached,
  8 --timeout reached, 10 triple fault, 12 unsupported guest feature, 70 internal error.

ROM kinds:
  Multiboot v1 kernel (ELF32 or a.out-kludge flat image)    default
  raw binary                                                --load ADDR --entry ADDR [--bits 16|32]
  BIOS-style image (mapped at 0xF0000 and below 4 GiB)      --bios

options:
  --engine interp|jit       execution engine (default interp; jit translates hot code to WASM on a
                            worker thread while the interpreter runs: X86JIT_JIT_THRESHOLD (default 50)
                            executions per block first, X86JIT_JIT_BACKGROUND=0 to translate inline;
                            translations are kept in X86JIT_JIT_CACHE, default ~/.cache/x86jit, or off)
${IMAGE_HELP}  --clock virtual|realtime  guest time: from the instruction count (default; deterministic, HLT skips
                            ahead) or the host clock (HLT sleeps)
  --stats                   print instructions, wall time, MIPS and VM exits per reason on stderr
  --trace                   log every executed instruction with registers on stderr (slow)
  -h, --help                show this help
`;

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      ...IMAGE_OPTIONS,
      engine: { type: 'string', default: 'interp' },
      clock: { type: 'string', default: 'virtual' },
      stats: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { process.stdout.write(RUN_HELP); return 0; }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'run: missing ROM (try: x86jit run --help)' : `run: expected one ROM, got ${positionals.length}`);
  if (values.engine !== 'interp' && values.engine !== 'jit') throw new UsageError(`--engine: '${values.engine}' is not one of interp, jit`);
  const args = parseImageArgs(values);
  const { maxInstructions, timeout } = args;

  if (values.clock !== 'virtual' && values.clock !== 'realtime') throw new UsageError(`--clock: '${values.clock}' is not one of virtual, realtime`);
  const path = positionals[0];
  const bytes = readImageFile(path);
  const vm = createGuestVM(args, { stdout: (b) => writeAll(1, b), debugcon: (b) => writeAll(2, b), clock: values.clock as 'virtual' | 'realtime' });
  // [JIT] binaryen loads here, before the clock starts, only for --engine jit.
  if (values.engine === 'jit') await enableJit(vm);
  loadGuest(vm, bytes, path, args);

  const interactive = isInteractive();
  if (interactive) {
    process.stdin.on('data', (chunk: Buffer) => vm.uart.queueInput(new Uint8Array(chunk)));
    process.stdin.on('error', () => {});
  }
  const trace = values.trace ? (line: string) => writeAll(2, Buffer.from(`${line}\n`)) : undefined;
  const { exit, seconds, t0, instructions: n } = await runGuest(vm, { maxInstructions, timeout, interactive, trace });
  if (interactive) process.stdin.destroy();
  if (values.stats) {
    process.stderr.write(`x86jit: ${n} instructions in ${seconds.toFixed(3)} s (${(n / seconds / 1e6).toFixed(1)} MIPS), ` +
      `${vm.interpreter.cache.decoded} blocks decoded, ${vm.interpreter.cache.invalidated} invalidated, ` +
      `first instruction ${t0.toFixed(1)} ms after process start\n`);
    process.stderr.write(`${formatExitStats(vm.exitStats(), seconds).map((l) => `x86jit:${l}`).join('\n')}\n`);
    const jit = vm.jitStats();
    if (jit) process.stderr.write(`${formatJitTotals(jit, n).map((l) => `x86jit: jit: ${l}`).join('\n')}\n`);
  }
  if (exit.reason === 'debug-exit') return (exit.status ?? 1) & 0xff;
  const where = `${exit.cs.toString(16).padStart(4, '0')}:${exit.eip.toString(16).padStart(8, '0')}`;
  process.stderr.write(`x86jit: ${exit.reason}: ${exit.message} at ${where}\n`);
  return EXIT_STATUS[exit.reason] ?? EXIT_USAGE;
}

/** The UART reads the host's stdin only when it is a terminal or a pipe (not a file or /dev/null). */
function isInteractive(): boolean {
  try {
    const st = fstatSync(0);
    return process.stdin.isTTY === true || st.isFIFO() || st.isSocket();
  } catch { return false; }
}
