// `x86jit run`: load an image, run it with limits, copy COM1 to stdout, exit with the guest's status.
import { fstatSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createVM, formatExitStats, loadBios, loadImage, loadRaw, readImageFile, type ExitRecord } from '../index.ts';
import { EXIT_STATUS, EXIT_USAGE } from './exit-status.ts';

import { parseNumber, parseSeconds, parseSize, UsageError } from './parse.ts';

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
  --engine interp|jit       execution engine (default interp; jit compiles hot blocks to WASM)
  --mem SIZE                guest RAM, e.g. 64M, 1G (default 128M)
  --max-instructions N      stop after N instructions
  --timeout SECONDS         stop after this much wall time
  --cmdline TEXT            Multiboot command line (default: the ROM path)
  --load ADDR --entry ADDR  load a raw binary at ADDR and start at ADDR (flat 32-bit protected mode)
  --bits 16|32              with --load: start in real mode (16) or flat protected mode (32, default)
  --bios                    treat ROM as a BIOS image started from the reset vector
  --clock virtual|realtime  guest time: from the instruction count (default; deterministic, HLT skips
                            ahead) or the host clock (HLT sleeps)
  --stats                   print instructions, wall time, MIPS and VM exits per reason on stderr
  --trace                   log every executed instruction with registers on stderr (slow)
  -h, --help                show this help
`;

/** Instructions per slice between event-loop turns (so stdin input reaches the UART). */
const SLICE = 20_000_000;

/** write(2) all of `bytes`, retrying when a non-blocking pipe is full. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try { off += writeSync(fd, bytes, off, bytes.length - off); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      engine: { type: 'string', default: 'interp' },
      mem: { type: 'string' },
      'max-instructions': { type: 'string' },
      timeout: { type: 'string' },
      cmdline: { type: 'string' },
      load: { type: 'string' },
      entry: { type: 'string' },
      bits: { type: 'string' },
      bios: { type: 'boolean', default: false },
      clock: { type: 'string', default: 'virtual' },
      stats: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { process.stdout.write(RUN_HELP); return 0; }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'run: missing ROM (try: x86jit run --help)' : `run: expected one ROM, got ${positionals.length}`);
  if (values.engine !== 'interp' && values.engine !== 'jit') throw new UsageError(`--engine: '${values.engine}' is not one of interp, jit`);
  const mem = values.mem !== undefined ? parseSize(values.mem, '--mem') : undefined;
  const maxInstructions = values['max-instructions'] !== undefined ? parseNumber(values['max-instructions'], '--max-instructions') : undefined;
  const timeout = values.timeout !== undefined ? parseSeconds(values.timeout, '--timeout') : undefined;
  if ((values.load === undefined) !== (values.entry === undefined)) throw new UsageError('--load and --entry go together');
  if (values.bios && values.load !== undefined) throw new UsageError('--bios and --load exclude each other');
  if (values.bits !== undefined && values.load === undefined) throw new UsageError('--bits applies to raw images (--load/--entry)');
  const bits = values.bits === undefined ? 32 : values.bits === '16' ? 16 : values.bits === '32' ? 32 : NaN;
  if (Number.isNaN(bits)) throw new UsageError(`--bits: '${values.bits}' is not 16 or 32`);

  if (values.clock !== 'virtual' && values.clock !== 'realtime') throw new UsageError(`--clock: '${values.clock}' is not one of virtual, realtime`);
  const path = positionals[0];
  const bytes = readImageFile(path);
  let vm;
  try {
    vm = createVM({ memory: mem, stdout: (b) => writeAll(1, b), debugcon: (b) => writeAll(2, b), clock: values.clock as 'virtual' | 'realtime' });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--mem: ${e.message}`);
    throw e;
  }
  // [JIT] binaryen loads here, before the clock starts, only for --engine jit.
  if (values.engine === 'jit') {
    try { await vm.enableJit(); } catch (e) {
      if (e instanceof RangeError) throw new UsageError(`X86JIT_JIT_THRESHOLD: ${e.message}`);
      throw e;
    }
  }
  if (values.bios) loadBios(vm, bytes);
  else if (values.load !== undefined) loadRaw(vm, bytes, { load: parseNumber(values.load, '--load', 0xffff_ffff), entry: parseNumber(values.entry!, '--entry', 0xffff_ffff), bits: bits as 16 | 32 });
  else loadImage(vm, bytes, path, { cmdline: values.cmdline ?? path });

  const interactive = isInteractive();
  if (interactive) {
    process.stdin.on('data', (chunk: Buffer) => vm.uart.queueInput(new Uint8Array(chunk)));
    process.stdin.on('error', () => {});
  }
  const trace = values.trace ? (line: string) => writeAll(2, Buffer.from(`${line}\n`)) : undefined;
  // performance.now() counts from process start: this is the start-up latency to the first guest instruction.
  const t0 = performance.now();
  const deadline = timeout !== undefined ? t0 + timeout * 1000 : Infinity;
  const total = maxInstructions ?? Infinity;
  const startCount = vm.instructions;
  let exit: ExitRecord;
  for (;;) {
    const left = total - (vm.instructions - startCount);
    const slice = interactive ? Math.min(SLICE, left) : left;
    const remaining = (deadline - performance.now()) / 1000;
    exit = vm.run({ maxInstructions: slice, timeout: Number.isFinite(remaining) ? Math.max(remaining, 0.001) : undefined, trace });
    if (exit.reason !== 'max-instructions' || vm.instructions - startCount >= total) break;
    await new Promise((r) => setImmediate(r));
  }
  if (interactive) process.stdin.destroy();
  if (exit.reason === 'timeout') exit = { ...exit, message: `timed out after ${timeout} s` };
  if (exit.reason === 'max-instructions') exit = { ...exit, message: `instruction limit reached (${maxInstructions} instructions)` };
  const seconds = (performance.now() - t0) / 1000;
  if (values.stats) {
    const n = vm.instructions - startCount;
    process.stderr.write(`x86jit: ${n} instructions in ${seconds.toFixed(3)} s (${(n / seconds / 1e6).toFixed(1)} MIPS), ` +
      `${vm.interpreter.cache.decoded} blocks decoded, ${vm.interpreter.cache.invalidated} invalidated, ` +
      `first instruction ${t0.toFixed(1)} ms after process start\n`);
    process.stderr.write(`${formatExitStats(vm.exitStats(), seconds).map((l) => `x86jit:${l}`).join('\n')}\n`);
    const jit = vm.jitStats();
    if (jit) process.stderr.write(`x86jit: jit: ${jit.compiled} blocks compiled (${jit.refused} refused), ${jit.wasmBytes} bytes of WASM, ${jit.translateMs.toFixed(1)} ms translating; ` +
      `${jit.calls} calls ran ${jit.instructions} instructions (${(100 * jit.instructions / Math.max(1, n)).toFixed(1)}%)\n`);
    if (jit && process.env.X86JIT_JIT_DEBUG) process.stderr.write(`x86jit: jit: refused by ${[...vm.interpreter.jit!.refusedBy].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
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
