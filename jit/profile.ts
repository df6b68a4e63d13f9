// What the JIT reports about its regions: copies of its counters (so a caller cannot change them) and a
// region's dump — its guest disassembly beside its WASM text — for `x86jit profile --dump`.
import type binaryenT from 'binaryen';
import type { JitProfile, JitStats, RegionDump, RegionProfile } from '../src/cpu/accelerator-stats.ts';
import type { Cpu } from '../src/cpu/cpu.ts';
import { formatIntel } from '../src/decoder/format-intel.ts';
import { pagingOf, type Region } from './region.ts';
import { prepareModule, translateRegion } from './translate.ts';

export const copyTotals = (stats: JitStats): JitStats => ({ ...stats, exits: { ...stats.exits } });
const copyRegion = (p: RegionProfile): RegionProfile => ({ ...p, exits: { ...p.exits } });

export function jitProfile(stats: JitStats, regions: readonly Region[]): JitProfile {
  return { totals: copyTotals(stats), regions: regions.map((r) => copyRegion(r.profile)) };
}

/**
 * The region of `regions` covering linear address `addr` (the live one first, else the latest): its
 * disassembly, and its WASM text when binaryen is loaded here (`bn`, with profiling).
 */
export function dumpRegion(regions: readonly Region[], addr: number, cpu: Cpu, bn: typeof binaryenT | null): RegionDump | null {
  addr >>>= 0;
  const covers = (r: Region): boolean => r.blocks.some((b) => addr >= b.start >>> 0 && addr < b.end >>> 0);
  const candidates = regions.filter(covers);
  const region = candidates.find((r) => r.valid) ?? candidates[candidates.length - 1];
  if (region === undefined) return null;
  const disassembly: string[] = [];
  for (const b of region.blocks) {
    disassembly.push(`block ${hex(b.start)}..${hex(b.end)} (${b.ops.length} instructions)`);
    for (const op of b.ops) {
      // (A straddler's bytes past its first page are in its second frame.)
      const byteAt = (o: number): number => (b.phys2 >= 0 && b.phys + o >= b.physEnd ? b.phys2 + (b.phys + o - b.physEnd) : b.phys + o);
      const bytes = Array.from({ length: op.ins.length }, (_, k) => cpu.mem.read8(byteAt(op.eip - b.start + k)).toString(16).padStart(2, '0')).join(' ');
      disassembly.push(`  ${hex(op.eip)}: ${bytes.padEnd(24)} ${formatIntel(op.ins, op.eip)}`);
    }
  }
  let wasmText: string;
  if (region.valid && bn !== null) {
    const m = new bn.Module();
    try {
      prepareModule(bn, m);
      translateRegion(bn, m, { blocks: region.blocks, ramSize: cpu.ramSize, paging: pagingOf(region.mode), helperBase: 0 }, 'run');
      wasmText = m.emitText();
    } finally {
      m.dispose();
    }
  } else wasmText = region.valid ? ';; binaryen is not loaded on the main thread (enable the JIT with profile: true for WASM text)'
    : ';; the region was invalidated (guest code changed or the cache was flushed): its WASM is gone';
  return { region: copyRegion(region.profile), disassembly, wasmText };
}

const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
