// `x86jit profile ROM`: run a ROM under the JIT with per-region profiling and report the hottest translated
// regions and the JIT's totals (QEMU's `info jit` and its hotblocks plugin are the models); `--dump ADDR`
// shows one region's guest code and WASM text instead. The report is the product: it is the only thing on
// stdout, the guest's own output is dropped unless --guest-output sends it to stderr.
import { parseArgs } from 'node:util';
import { readImageFile, type ExitRecord } from '../index.ts';
import type { JitExitReason, JitProfile, JitStats, RegionDump, RegionProfile } from '../../jit/stats.ts';
import { parseNumber, UsageError } from './parse.ts';
import { createGuestVM, enableJit, IMAGE_OPTIONS, loadGuest, parseImageArgs, runGuest, writeAll } from './guest.ts';

export const PROFILE_HELP = `usage: x86jit profile ROM [options]

Runs ROM under the JIT with profiling on (host time measured per region entry; the compile threshold is
X86JIT_JIT_THRESHOLD, default 2) and prints on stdout, per translated region: guest address range, guest
instructions, executions, share of the run (time% of the run's wall time, or insn% of the guest
instructions when no time was measured), WASM bytes, translation time, invalidation, fallbacks and exits
by reason -- the top N by time -- then the JIT's totals. The guest's COM1 and 0xe9 output is dropped
(--guest-output sends it to stderr), so stdout is only the report. Exit status: 0 when the report was
printed, whatever the guest's exit; 2 bad arguments or image (or --dump of an address no region
covers); 70 internal error.

ROM kinds and limits (as for x86jit run):
  --mem SIZE                guest RAM, e.g. 64M, 1G (default 128M)
  --max-instructions N      stop after N instructions
  --timeout SECONDS         stop after this much wall time
  --cmdline TEXT            Multiboot command line (default: the ROM path)
  --load ADDR --entry ADDR  load a raw binary at ADDR and start at ADDR (flat 32-bit protected mode)
  --bits 16|32              with --load: start in real mode (16) or flat protected mode (32, default)
  --bios                    treat ROM as a BIOS image started from the reset vector

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
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      ...IMAGE_OPTIONS,
      top: { type: 'string', default: '10' },
      dump: { type: 'string' },
      json: { type: 'boolean', default: false },
      'guest-output': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) { process.stdout.write(PROFILE_HELP); return 0; }
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'profile: missing ROM (try: x86jit profile --help)' : `profile: expected one ROM, got ${positionals.length}`);
  const args = parseImageArgs(values);
  const top = parseNumber(values.top, '--top');
  const dumpAddr = values.dump !== undefined ? parseNumber(values.dump, '--dump', 0xffff_ffff) : undefined;
  const path = positionals[0];
  const bytes = readImageFile(path);
  const out = values['guest-output'] ? (b: Uint8Array) => writeAll(2, b) : () => {};
  const vm = createGuestVM(args, { stdout: out, debugcon: out });
  await enableJit(vm, { profile: true });
  loadGuest(vm, bytes, path, args);

  const run = await runGuest(vm, { maxInstructions: args.maxInstructions, timeout: args.timeout });
  const profile = vm.jitProfile();
  if (profile === null) throw new Error('the JIT is on but vm.jitProfile() returned null');
  const info: RunInfo = { rom: path, exit: run.exit, instructions: run.instructions, seconds: run.seconds, threshold: vm.interpreter.jitThreshold };
  let dump: RegionDump | undefined;
  if (dumpAddr !== undefined) {
    dump = vm.jitDump(dumpAddr) ?? undefined;
    if (dump === undefined) throw new UsageError(`--dump: no translated region covers ${hex(dumpAddr)} (${profile.regions.length} regions; try x86jit profile without --dump)`);
  }
  if (values.json) {
    const { rom: _, ...rest } = info;
    process.stdout.write(`${JSON.stringify({ ...rest, totals: profile.totals, regions: profile.regions, ...(dump ? { dump } : {}) }, null, 2)}\n`);
  } else if (dump) {
    process.stdout.write(`${formatDump(dump).join('\n')}\n`);
  } else {
    process.stdout.write(`${formatProfile(profile, info, top).join('\n')}\n`);
  }
  return 0;
}

/** What the report says about the run itself. */
export interface RunInfo {
  rom: string;
  exit: ExitRecord;
  instructions: number;
  seconds: number;
  threshold: number;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
const pct = (part: number, whole: number): string => `${whole > 0 ? (100 * part / whole).toFixed(1) : '0.0'}%`;
const ms = (v: number): string => v.toFixed(v < 10 ? 2 : 1);

/** Non-zero exits, most frequent first: `branch 1200, budget 3` (or `-`). */
export function formatExits(exits: Record<JitExitReason, number>): string {
  const parts = Object.entries(exits).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([r, n]) => `${r} ${n}`);
  return parts.length ? parts.join(', ') : '-';
}

/** Rows under a header, each column padded to its widest cell (right-aligned unless `left`). */
function table(columns: { head: string; left?: boolean }[], rows: string[][]): string[] {
  const widths = columns.map((c, i) => Math.max(c.head.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => ` ${cells.map((cell, i) => {
    const last = i === cells.length - 1;
    return columns[i].left ? (last ? cell : cell.padEnd(widths[i])) : cell.padStart(widths[i]);
  }).join('  ')}`;
  return [line(columns.map((c) => c.head)), ...rows.map(line)];
}

/** True when the profile measured host time per region. */
const timed = (regions: RegionProfile[]): boolean => regions.some((r) => r.timeMs > 0);

/** The regions in the report's order: most time first (most instructions when no time was measured). */
export function hottest(regions: RegionProfile[]): RegionProfile[] {
  const key: (r: RegionProfile) => number = timed(regions) ? (r) => r.timeMs : (r) => r.instructions;
  return [...regions].sort((a, b) => key(b) - key(a) || b.instructions - a.instructions || b.executions - a.executions || a.id - b.id);
}

/** The hot-region table: the `top` hottest regions. */
export function formatRegions(regions: RegionProfile[], run: { instructions: number; seconds: number }, top: number): string[] {
  const byTime = timed(regions);
  const rows = hottest(regions).slice(0, top).map((r) => [
    String(r.id),
    `${hex8(r.start)}-${hex8(r.end)}`,
    String(r.blocks),
    String(r.guestInstructions),
    String(r.executions),
    String(r.instructions),
    byTime ? pct(r.timeMs, run.seconds * 1000) : pct(r.instructions, run.instructions),
    String(r.wasmBytes),
    ms(r.translateMs),
    String(r.fallbacks),
    r.invalidated ? 'yes' : '-',
    formatExits(r.exits),
  ]);
  return table([
    { head: 'id' }, { head: 'guest range', left: true }, { head: 'blocks' }, { head: 'insns' }, { head: 'execs' },
    { head: 'insns run' }, { head: byTime ? 'time%' : 'insn%' }, { head: 'wasm B' }, { head: 'xlate ms' },
    { head: 'fallbacks' }, { head: 'inval', left: true }, { head: 'exits', left: true },
  ], rows);
}

/** The JIT's totals in the spirit of QEMU's `info jit`: one `name  value` line each. */
export function formatTotals(t: JitStats, guestInstructions: number): string[] {
  const rows: [string, string][] = [
    ['regions', `${t.compiled} translated, ${t.live} live`],
    ['refused blocks', String(t.refused)],
    ['translated insns', String(t.translatedInstructions)],
    ['code size', `${t.wasmBytes} bytes of WASM`],
    ['guest bytes', String(t.guestBytes)],
    ['expansion ratio', t.guestBytes > 0 ? `${(t.wasmBytes / t.guestBytes).toFixed(1)} WASM bytes per guest byte` : '-'],
    ['translate time', `${ms(t.translateMs)} ms${t.compiled > 0 ? ` (${(t.translateMs / t.compiled).toFixed(3)} ms per region)` : ''}`],
    ['calls', String(t.calls)],
    ['cache', `${t.cacheHits} hits, ${t.cacheMisses} misses (${pct(t.cacheHits, t.cacheHits + t.cacheMisses)} hits)`],
    ['invalidations', String(t.invalidations)],
    ['flushes', String(t.flushes)],
    ['evictions', String(t.evictions)],
    ['fallbacks', `${t.fallbacks} instructions interpreted from compiled code`],
    ['compiled code', `${t.instructions} of ${guestInstructions} guest instructions (${pct(t.instructions, guestInstructions)})`],
    ['exits', formatExits(t.exits)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`);
}

/** `debug-exit (status 1): ... at 0008:00100123` */
export function formatExit(exit: ExitRecord): string {
  const where = `${exit.cs.toString(16).padStart(4, '0')}:${exit.eip.toString(16).padStart(8, '0')}`;
  return `${exit.reason}${exit.status !== undefined ? ` (status ${exit.status})` : ''}: ${exit.message} at ${where}`;
}

/** The whole report: the run, the hottest regions, the totals. */
export function formatProfile(p: JitProfile, run: RunInfo, top: number): string[] {
  const { instructions: n, seconds } = run;
  const lines = [
    `x86jit profile: ${run.rom}`,
    `guest: ${formatExit(run.exit)}`,
    `run: ${n} instructions in ${seconds.toFixed(3)} s (${(n / Math.max(seconds, 1e-9) / 1e6).toFixed(1)} MIPS), JIT threshold ${run.threshold}`,
    '',
  ];
  if (p.regions.length === 0) lines.push('no regions translated');
  else {
    const shown = Math.min(top, p.regions.length);
    lines.push(`hottest regions: ${shown} of ${p.regions.length} by ${timed(p.regions) ? 'host time' : 'guest instructions (no time measured)'}`);
    if (shown > 0) lines.push(...formatRegions(p.regions, run, top));
  }
  lines.push('', 'JIT totals:', ...formatTotals(p.totals, n));
  return lines;
}

/** `--dump`: the region's figures, its guest disassembly, then its WASM text. */
export function formatDump(d: RegionDump): string[] {
  const r = d.region;
  return [
    `region ${r.id}: guest ${hex8(r.start)}-${hex8(r.end)} (entry ${hex8(r.entry)}), ${r.blocks} blocks, ${r.guestInstructions} instructions`,
    `  ${r.executions} executions ran ${r.instructions} instructions in ${ms(r.timeMs)} ms; ${r.wasmBytes} bytes of WASM translated in ${ms(r.translateMs)} ms`,
    `  exits: ${formatExits(r.exits)}; fallbacks ${r.fallbacks}; ${r.invalidated ? 'invalidated' : 'live'}`,
    '',
    'guest code:',
    ...d.disassembly.map((l) => `  ${l}`),
    '',
    'WASM:',
    ...d.wasmText.trimEnd().split('\n'),
  ];
}

/** `x86jit run --stats` with --engine jit: the totals in three lines (without the `x86jit: jit: ` prefix). */
export function formatJitTotals(t: JitStats, guestInstructions: number): string[] {
  return [
    `${t.compiled} regions (${t.live} live, ${t.refused} blocks refused), ${t.translatedInstructions} instructions translated, ` +
      `${t.wasmBytes} bytes of WASM, ${ms(t.translateMs)} ms translating`,
    `${t.calls} calls ran ${t.instructions} instructions in compiled code (${pct(t.instructions, guestInstructions)}); ` +
      `${t.cacheHits} cache hits, ${t.cacheMisses} misses; ${t.invalidations} invalidations, ${t.fallbacks} fallbacks`,
    `exits: ${formatExits(t.exits)}`,
  ];
}
