// The text of `x86jit profile` and of the JIT lines of `x86jit run --stats`: pure formatting of a
// JitProfile / JitStats (src/cpu/accelerator-stats.ts), kept apart from the commands so it can be tested on its own.
import type { ExitRecord, JitExitReason, JitProfile, JitStats, RegionDump, RegionProfile } from '../node.ts';

/** What the report says about the run itself. */
export interface RunInfo {
  rom: string;
  exit: ExitRecord;
  instructions: number;
  seconds: number;
  threshold: number;
}

export const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
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
    ['tier 2', `${t.tier2} regions retranslated (${t.promotions} promoted, ${t.splits} split)`],
    ['refused blocks', String(t.refused)],
    ['translated insns', String(t.translatedInstructions)],
    ['code size', `${t.wasmBytes} bytes of WASM`],
    ['guest bytes', String(t.guestBytes)],
    ['expansion ratio', t.guestBytes > 0 ? `${(t.wasmBytes / t.guestBytes).toFixed(1)} WASM bytes per guest byte` : '-'],
    ['translate time', `${ms(t.translateMs)} ms${t.compiled > 0 ? ` (${(t.translateMs / t.compiled).toFixed(3)} ms per region)` : ''}`],
    ['calls', String(t.calls)],
    ['cache', `${t.cacheHits} hits, ${t.cacheMisses} misses (${pct(t.cacheHits, t.cacheHits + t.cacheMisses)} hits)`],
    ['disk cache', `${t.diskHits} of ${t.compiled} regions loaded from the translation cache`],
    ['invalidations', String(t.invalidations)],
    ['flushes', String(t.flushes)],
    ['evictions', String(t.evictions)],
    ['fallbacks', `${t.fallbacks} instructions interpreted from compiled code`],
    ['chaining', `${t.chains} transfers between regions inside compiled code`],
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
    `  ${r.executions} executions ran ${r.instructions} instructions in ${ms(r.timeMs)} ms; ${r.wasmBytes} bytes of WASM translated in ${ms(r.translateMs)} ms (${ms(r.buildMs)} ms of it building the bytes)`,
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
    `${t.compiled} regions (${t.live} live, ${t.tier2} at tier 2, ${t.refused} blocks refused), ${t.translatedInstructions} instructions translated, ` +
      `${t.wasmBytes} bytes of WASM, ${ms(t.translateMs)} ms translating`,
    `${t.calls} calls ran ${t.instructions} instructions in compiled code (${pct(t.instructions, guestInstructions)}); ` +
      `${t.cacheHits} cache hits, ${t.cacheMisses} misses, ${t.diskHits} regions from the disk cache; ${t.invalidations} invalidations, ${t.fallbacks} fallbacks, ${t.chains} chained transfers`,
    `exits: ${formatExits(t.exits)}`,
  ];
}
