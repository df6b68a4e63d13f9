// `x86jit profile ROM`: run a ROM under the JIT with per-region profiling and report the hottest translated
// regions and the JIT's totals (QEMU's `info jit` and its hotblocks plugin are the models); `--dump ADDR`
// shows one region's guest code and WASM text instead. The report is the product: it is the only thing on
// stdout, the guest's own output is dropped unless --guest-output sends it to stderr.
import { formatDump, formatProfile, hex, type RunInfo } from './jit-report.ts';
import type { RegionDump } from '../node.ts';
import { parseCommand, parseNumber, UsageError } from './parse.ts';
import { createGuestVM, enableJit, guestImagePath, IMAGE_HELP, IMAGE_OPTIONS, loadGuest, parseImageArgs, readGuestImage, runGuest, SIGNAL_STATUS } from './guest.ts';
import { emit } from './output.ts';

export const PROFILE_HELP = `usage: x86jit profile ROM [options]

Runs ROM under the JIT with profiling on (host time measured per region entry; the compile threshold is
X86JIT_JIT_THRESHOLD, default 400) and prints on stdout, per translated region: guest address range, guest
instructions, executions, share of the run (time% of the run's wall time, or insn% of the guest
instructions when no time was measured), WASM bytes, translation time, invalidation, fallbacks and exits
by reason -- the top N by time -- then the JIT's totals. The guest's COM1 and 0xe9 output is dropped
(--guest-output sends it to stderr), so stdout is only the report. --timeout bounds the guest's run
(the report then shows the timeout). Exit status: 0 when the report was printed (or its reader went
away), whatever the guest's exit; 2 bad arguments or image (or --dump of an address no region covers);
70 internal error; 74 the report could not be written (e.g. a full disk).

ROM kinds and limits (as for x86jit run):
${IMAGE_HELP}
options:
  --top N                   regions to list (default 10)
  --dump ADDR               instead of the report, print the guest disassembly and the WASM text of the
                            region covering ADDR (0x-hex or decimal)
  --json                    print the profile as JSON: { exit, instructions, seconds, threshold, totals,
                            regions (all of them) [, dump] }
  --guest-output            copy the guest's COM1 and 0xe9 output to stderr
  -h, --help                show this help
`;

export async function profileCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('profile', argv, {
    ...IMAGE_OPTIONS,
    top: { type: 'string', default: '10' },
    dump: { type: 'string' },
    json: { type: 'boolean', default: false },
    'guest-output': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { emit(1, PROFILE_HELP); return 0; }
  const args = parseImageArgs(values);
  const top = parseNumber(values.top, '--top');
  const dumpAddr = values.dump !== undefined ? parseNumber(values.dump, '--dump', 0xffff_ffff) : undefined;
  const path = guestImagePath('profile', positionals, args);
  const out = values['guest-output'] ? 2 : undefined;
  const vm = createGuestVM(args, { stdout: out, debugcon: out });
  // Load (and so check) the image before the JIT loads binaryen, which takes seconds: a bad image is
  // refused as fast as by run.
  loadGuest(vm, readGuestImage(path, args), path, args);
  await enableJit(vm, { profile: true });
  // A profile is about translations: start the guest once the translation worker has binaryen loaded (a
  // plain run does not wait; the interpreter covers the first few hundred milliseconds).
  await vm.jitReady();

  const run = await runGuest(vm, { maxInstructions: args.maxInstructions, timeout: args.timeout });
  const profile = vm.jitProfile();
  if (profile === null) throw new Error('the JIT is on but vm.jitProfile() returned null');
  const info: RunInfo = { rom: path, exit: run.exit, instructions: run.instructions, seconds: run.seconds, threshold: vm.interpreter.jitThreshold };
  let dump: RegionDump | undefined;
  if (dumpAddr !== undefined) {
    dump = vm.jitDump(dumpAddr) ?? undefined;
    if (dump === undefined) throw new UsageError(`--dump: no translated region covers ${hex(dumpAddr)} (${profile.regions.length} regions; try x86jit profile without --dump)`);
  }
  // A reader that went away (`| head`) just ends the report; main.ts reports any other write failure.
  if (values.json) {
    const { rom: _, ...rest } = info;
    emit(1, `${JSON.stringify({ ...rest, totals: profile.totals, regions: profile.regions, ...(dump ? { dump } : {}) }, null, 2)}\n`);
  } else if (dump) {
    emit(1, `${formatDump(dump).join('\n')}\n`);
  } else {
    emit(1, `${formatProfile(profile, info, top).join('\n')}\n`);
  }
  // Interrupted (SIGINT, SIGTERM): the report of the run so far is out; the status says it was cut short.
  return run.signal !== undefined ? SIGNAL_STATUS[run.signal] : 0;
}
