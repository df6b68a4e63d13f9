// `x86jit lockstep ROM`: run ROM under the JIT and the interpreter side by side (jit/lockstep.ts) and
// report the first divergence. Exit status 0: none; 1: a divergence (one report on stdout); 2: bad
// arguments or image.
import { parseArgs } from 'node:util';
import { formatDivergence, loadBios, loadImage, loadRaw, lockstep, readImageFile, type VM } from '../index.ts';
import { parseNumber, parseSize, UsageError } from './parse.ts';

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
  const memory = values.mem !== undefined ? parseSize(values.mem, '--mem') : undefined;
  if ((values.load === undefined) !== (values.entry === undefined)) throw new UsageError('--load and --entry go together');
  if (values.bios && values.load !== undefined) throw new UsageError('--bios and --load exclude each other');
  if (values.bits !== undefined && values.bits !== '16' && values.bits !== '32') throw new UsageError(`--bits: '${values.bits}' is not 16 or 32`);
  if (values.bits !== undefined && values.load === undefined) throw new UsageError('--bits applies to raw images (--load/--entry)');
  const raw = values.load !== undefined
    ? { load: parseNumber(values.load, '--load', 0xffff_ffff), entry: parseNumber(values.entry!, '--entry', 0xffff_ffff), bits: (values.bits === '16' ? 16 : 32) as 16 | 32 }
    : undefined;

  const path = positionals[0];
  const bytes = readImageFile(path);
  const setup = (vm: VM): void => {
    if (values.bios) loadBios(vm, bytes);
    else if (raw) loadRaw(vm, bytes, raw);
    else loadImage(vm, bytes, path, { cmdline: values.cmdline ?? path });
  };
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
