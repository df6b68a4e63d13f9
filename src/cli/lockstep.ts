// `x86jit lockstep ROM`: run ROM under the JIT and the interpreter side by side (jit/lockstep.ts) and
// report the first divergence. Exit status 0: none; 1: a divergence (one report on stdout); 2: bad
// arguments or image.
import { parseArgs } from 'node:util';
import { formatDivergence, lockstep, readImageFile, type VM } from '../index.ts';
import { loadGuest, parseImageArgs } from './guest.ts';
import { parseNumber, UsageError } from './parse.ts';

export const LOCKSTEP_HELP = `usage: x86jit lockstep ROM [options]

Runs ROM under the JIT (every block compiled on first sight) and under the interpreter in lockstep,
comparing registers, EFLAGS, exit, output and instruction count after every slice and guest RAM every
--mem-every slices, and reports the first divergence: what differs, the value under each engine, and
the guest CS:EIP and instruction count where it first appears. Exit status 0: no divergence;
1: a divergence; 2: bad arguments or image.

options:
  --slice N                 instructions per slice (default 7919)
  --mem-every N             compare guest RAM every N slices (default 16; always at the end)
  --max-instructions N      stop after N instructions (default: until the guest exits)
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
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      slice: { type: 'string' },
      'mem-every': { type: 'string' },
      'max-instructions': { type: 'string' },
      threshold: { type: 'string' },
      mem: { type: 'string' },
      cmdline: { type: 'string' },
      load: { type: 'string' },
      entry: { type: 'string' },
      bits: { type: 'string' },
      bios: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { process.stdout.write(LOCKSTEP_HELP); return 0; }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'lockstep: missing ROM (try: x86jit lockstep --help)' : `lockstep: expected one ROM, got ${positionals.length}`);
  const count = (name: string, text: string | undefined, dflt?: number, min = 1): number | undefined => {
    if (text === undefined) return dflt;
    const v = parseNumber(text, name);
    if (v < min) throw new UsageError(`${name}: '${text}' must be at least ${min}`);
    return v;
  };
  const slice = count('--slice', values.slice, 7919)!;
  const memoryEvery = count('--mem-every', values['mem-every'], 16)!;
  const maxInstructions = count('--max-instructions', values['max-instructions'], undefined, 0);
  const threshold = count('--threshold', values.threshold, 0, 0)!;
  // The ROM options are run's (less --timeout): checked and loaded by the same code.
  const image = parseImageArgs({ mem: values.mem, cmdline: values.cmdline, load: values.load, entry: values.entry, bits: values.bits, bios: values.bios });
  const memory = image.mem;
  const path = positionals[0];
  const bytes = readImageFile(path);
  const setup = (vm: VM): void => loadGuest(vm, bytes, path, image);
  let result;
  try {
    result = await lockstep({ setup, vm: { memory }, threshold, slice, memoryEvery, maxInstructions });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message); // --mem out of range
    throw e;
  }
  const d = result.divergence;
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (d) process.stdout.write(`x86jit: lockstep: ${path}: ${formatDivergence(d).replace(/\n/g, '\nx86jit:   ')}\n`);
  else {
    const end = result.exit ? `${result.exit.reason}${result.exit.status !== undefined ? ` status ${result.exit.status}` : ''}` : 'no run';
    process.stdout.write(`x86jit: lockstep: ${path}: no divergence in ${result.instructions} instructions (${result.slices} slices of ${slice}; ${end})\n`);
  }
  return d ? 1 : 0;
}
