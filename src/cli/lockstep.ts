// `x86jit lockstep ROM`: run ROM under the JIT and the interpreter side by side (jit/lockstep.ts) and
// report the first divergence. Exit status 0: none; 1: a divergence (one report on stdout); 2: bad
// arguments or image; 8: --timeout reached before either.
import { formatDivergence, lockstep, type VM } from '../node.ts';
import { EXIT_STATUS } from './exit-status.ts';
import { createGuestVM, guestImagePath, IMAGE_OPTIONS, loadGuest, parseImageArgs, readGuestImage } from './guest.ts';
import { jitOptionsFromEnv, checkModulesFromEnv } from './jit-env.ts';
import { emit } from './output.ts';
import { parseCommand, parseNumber, UsageError } from './parse.ts';

export const LOCKSTEP_HELP = `usage: x86jit lockstep ROM [options]

Runs ROM under the JIT (every block compiled on first sight) and under the interpreter in lockstep,
comparing registers, EFLAGS, exit, output and instruction count after every slice and guest RAM every
--mem-every slices, and reports the first divergence: what differs, the value under each engine, and
the guest CS:EIP and instruction count where it first appears. Exit status 0: no divergence;
1: a divergence; 2: bad arguments or image; 8: --timeout reached with no divergence seen (one line on
stderr; a divergence seen but not yet narrowed down is reported, status 1); 74: the report could not
be written.

options:
  --slice N                 instructions per slice (default 7919)
  --mem-every N             compare guest RAM every N slices (default 16; always at the end)
  --max-instructions N      stop after N instructions (default: until the guest exits)
  --timeout SECONDS         stop after this much wall time, replays included
  --threshold N             JIT threshold (default 0)
  --mem SIZE                guest RAM, e.g. 16M (default 128M)
  --cmdline TEXT            Multiboot command line (default: the ROM path)
  --load ADDR --entry ADDR  a raw binary loaded at ADDR, started at ADDR
  --bits 16|32              with --load: real mode (16) or flat protected mode (32, default)
  --bios                    ROM is a BIOS image started from the reset vector
  --json                    print the result as JSON
  -h, --help                show this help
`;

export async function lockstepCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('lockstep', argv, {
    ...IMAGE_OPTIONS,
    slice: { type: 'string' },
    'mem-every': { type: 'string' },
    threshold: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { emit(1, LOCKSTEP_HELP); return 0; }
  const count = (name: string, text: string | undefined, dflt: number, min = 1): number => {
    if (text === undefined) return dflt;
    const v = parseNumber(text, name);
    if (v < min) throw new UsageError(`${name}: '${text}' must be at least ${min}`);
    return v;
  };
  const slice = count('--slice', values.slice, 7919);
  const memoryEvery = count('--mem-every', values['mem-every'], 16);
  const threshold = count('--threshold', values.threshold, 0, 0);
  // The ROM options and limits are run's: checked, read and loaded by the same code.
  const image = parseImageArgs(values);
  const { maxInstructions, timeout } = image;
  const path = guestImagePath('lockstep', positionals, image);
  // Load the image once into a plain interpreter VM first: a bad --mem or image is refused before the JIT
  // loads binaryen (seconds), as fast as by run.
  const bytes = readGuestImage(path, image);
  loadGuest(createGuestVM(image, {}), bytes, path, image);
  const setup = (vm: VM): void => loadGuest(vm, bytes, path, image);
  await checkModulesFromEnv();
  const result = await lockstep({ setup, vm: { memory: image.mem, jit: jitOptionsFromEnv() }, threshold, slice, memoryEvery, maxInstructions, timeout });
  const d = result.divergence;
  if (values.json) emit(1, `${JSON.stringify(result, null, 2)}\n`);
  else if (d) emit(1, `x86jit: lockstep: ${path}: ${formatDivergence(d).replace(/\n/g, '\nx86jit:   ')}\n`);
  else if (result.timedOut) emit(2, `x86jit: lockstep: ${path}: timed out after ${timeout} s, no divergence in ${result.instructions} instructions (${result.slices} slices of ${slice})\n`);
  else {
    const end = result.exit ? `${result.exit.reason}${result.exit.status !== undefined ? ` status ${result.exit.status}` : ''}` : 'no run';
    emit(1, `x86jit: lockstep: ${path}: no divergence in ${result.instructions} instructions (${result.slices} slices of ${slice}; ${end})\n`);
  }
  return d ? 1 : result.timedOut ? EXIT_STATUS.timeout : 0;
}
