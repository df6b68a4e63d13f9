// `x86jit snapshot`: run a guest to an exact instruction count and save its whole state to a file (or a
// diff against the snapshot it was restored from); `--info` says what a snapshot file holds.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { inspectSnapshot, SnapshotError } from '../machine/snapshot.ts';
import { EXIT_OUTPUT_CLOSED, EXIT_STATUS, EXIT_USAGE } from './exit-status.ts';
import { IMAGE_HELP, IMAGE_OPTIONS, openGuest, parseImageArgs, readSnapshotFile, RESTORE_HELP, RESTORE_OPTIONS, runGuest, SIGNAL_STATUS } from './guest.ts';
import { emit } from './output.ts';
import { parseCommand, parseNumber, UsageError } from './parse.ts';

export const SNAPSHOT_HELP = `usage: x86jit snapshot ROM --at N|--at-output TEXT -o FILE [options]
       x86jit snapshot --restore SNAPSHOT [--restore DIFF...] --at N|--at-output TEXT -o FILE [--base FILE] [options]
       x86jit snapshot --info FILE...

Runs the guest until exactly N instructions have retired since it started (those a restored snapshot
had run count too) and writes its whole state — CPU, guest time, devices, ROMs, RAM — to FILE, which
\`x86jit run --restore FILE\` continues. What the guest writes to COM1 meanwhile goes to stdout, as with
\`run\`. Status 0 when FILE was written; if the guest ends first, no file is written and the status is
the one \`run\` would give. A damaged, truncated, foreign or newer snapshot is refused with one line and
status 2.

options:
  --at N                    the instruction count to stop at (since the guest started)
  --at-output TEXT          stop after the instruction that completes TEXT on the guest's console (a
                            shell's prompt, say: the snapshot then restores to a waiting shell)
  -o, --output FILE         where to write the snapshot (written whole, then renamed into place)
  --base FILE               write a diff holding only the pages written since FILE, which must be the
                            last --restore file (the guest logs its writes from the restore on)
  --compression none|deflate|brotli   RAM compression (default brotli, level 1)
  --info                    print what each FILE holds (version, RAM size, pages stored, devices,
                            instruction count) and exit
  --engine interp|jit       execution engine (default interp)
  --clock virtual|realtime  guest time (default: virtual, or the snapshot's)
${IMAGE_HELP}${RESTORE_HELP}  -h, --help                show this help
`;

export async function snapshotCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand('snapshot', argv, {
    ...IMAGE_OPTIONS,
    ...RESTORE_OPTIONS,
    at: { type: 'string' },
    'at-output': { type: 'string' },
    output: { type: 'string', short: 'o' },
    base: { type: 'string' },
    compression: { type: 'string' },
    info: { type: 'boolean', default: false },
    engine: { type: 'string', default: 'interp' },
    clock: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) { emit(1, SNAPSHOT_HELP); return 0; }
  if (values.info) {
    if (positionals.length === 0) throw new UsageError('snapshot --info: name at least one snapshot file');
    for (const path of positionals) emit(1, formatInfo(path, inspectNamed(path)));
    return 0;
  }
  const atOutput = values['at-output'];
  if ((values.at === undefined) === (atOutput === undefined)) throw new UsageError('snapshot: give one of --at N (the instruction count to save at) and --at-output TEXT');
  if (atOutput === '') throw new UsageError('snapshot: --at-output: the text is empty');
  if (values.output === undefined) throw new UsageError('snapshot: -o FILE is required');
  const at = values.at !== undefined ? parseNumber(values.at, '--at') : Infinity;
  if (values.engine !== 'interp' && values.engine !== 'jit') throw new UsageError(`--engine: '${values.engine}' is not one of interp, jit`);
  if (values.clock !== undefined && values.clock !== 'virtual' && values.clock !== 'realtime') throw new UsageError(`--clock: '${values.clock}' is not one of virtual, realtime`);
  const compression = values.compression;
  if (compression !== undefined && compression !== 'none' && compression !== 'deflate' && compression !== 'brotli') throw new UsageError(`--compression: '${compression}' is not one of none, deflate, brotli`);
  const restore = values.restore ?? [];
  let since: Uint8Array | undefined;
  if (values.base !== undefined) {
    if (restore.length === 0 || restore[restore.length - 1] !== values.base) throw new UsageError('snapshot: --base FILE must be the last --restore file (the guest logs its writes from there)');
    since = inspectNamed(values.base).id;
  }
  const args = parseImageArgs(values);
  if (args.maxInstructions !== undefined && atOutput === undefined) throw new UsageError('snapshot: --at sets where the run stops; --max-instructions does not apply');
  const vm = await openGuest('snapshot', positionals, restore, args, { stdout: 1, debugcon: 2, engine: values.engine, clock: values.clock as 'virtual' | 'realtime' | undefined });
  if (vm.instructions > at) throw new UsageError(`snapshot: the restored guest has already run ${vm.instructions} instructions, past --at ${at}`);
  let printed = false;
  if (atOutput !== undefined) vm.stopAtOutput(atOutput, () => { printed = true; });
  const { exit, outputFailed, signal } = await runGuest(vm, { maxInstructions: atOutput !== undefined ? args.maxInstructions : at - vm.instructions, timeout: args.timeout });
  const where = atOutput !== undefined ? `it wrote ${JSON.stringify(atOutput)}` : `instruction ${at}`;
  if (outputFailed) return EXIT_OUTPUT_CLOSED;
  if (signal !== undefined) {
    emit(2, `x86jit: snapshot: interrupted by ${signal} at instruction ${vm.instructions}, before ${atOutput !== undefined ? where : at}; no snapshot written\n`);
    return SIGNAL_STATUS[signal];
  }
  if (atOutput !== undefined ? !(printed && exit.reason === 'stopped') : exit.reason !== 'max-instructions' || vm.instructions !== at) {
    emit(2, `x86jit: snapshot: the guest ended before ${where} (${exit.reason}: ${exit.message}); no snapshot written\n`);
    return exit.reason === 'debug-exit' ? (exit.status ?? 1) & 0xff : EXIT_STATUS[exit.reason] ?? EXIT_USAGE;
  }
  const bytes = vm.saveState({ since, compression });
  writeWhole(values.output, bytes);
  return 0;
}

/** inspectSnapshot of a file, its errors naming it. */
function inspectNamed(path: string): ReturnType<typeof inspectSnapshot> {
  try { return inspectSnapshot(readSnapshotFile(path)); } catch (e) {
    if (e instanceof SnapshotError) throw new SnapshotError(`${path}: ${e.message}`);
    throw e;
  }
}

/** Write a file so that it is either all there or not there: a temporary file renamed into place. */
function writeWhole(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`${path}: cannot write the snapshot: ${(e as Error).message}`);
  }
}

function formatInfo(path: string, info: ReturnType<typeof inspectSnapshot>): string {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const { state, ram } = info;
  const cpu = state.cpu;
  const lines = [
    `${path}: x86jit snapshot, format version ${info.formatVersion}, ${info.kind === 'full' ? 'full' : `diff of ${hex(info.baseId!).slice(0, 16)}…`}`,
    `  id            ${hex(info.id)}`,
    `  guest         ${state.config.memory / 2 ** 20} MiB RAM, ${state.config.clock} clock, ${cpu.instructions} instructions retired, ` +
      `${cpu.halted ? 'halted' : 'running'} at ${info.csEip}`,
    `  RAM           ${ram.stored} of ${ram.pages} pages stored${info.kind === 'diff' ? `, ${ram.zeroed} zeroed` : ''} ` +
      `(${ram.compression}, ${ram.pagesPerChunk} pages per chunk, ${ram.chunks} chunks)`,
    `  sections      ${info.sections.map((s) => `${s.tag.trim()} v${s.version}`).join(', ')}`,
    `  devices       ${Object.entries(state.devices).map(([name, d]) => `${name} v${d.version}`).join(', ')}`,
  ];
  if (state.roms.regions.length > 0) lines.push(`  ROMs          ${state.roms.regions.map((r) => `0x${r.base.toString(16)}`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}
