// Snapshot bench (issue 9's targets): a 128 MiB guest with a 4 MiB working set — save it (≤ 50 ms),
// restore it to its first instruction (≤ 5 ms, Firecracker's p90 for resume; with RAM copied first, with
// lazy RAM, and with lazy RAM into the memory of a VM destroyed before), and 100 clones of one snapshot in one process, each run to its end and checked, with
// their creation time and memory, both ways.
//   npm run build && node --expose-gc dist/snapshot-bench.js        (X86JIT_BENCH_RUNS: repetitions, default 7)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createVM, loadImage, VM } from '../src/node.ts';

const ROMS = join(import.meta.dirname, '..', 'test-roms');
const RUNS = Number(process.env.X86JIT_BENCH_RUNS ?? 7);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];
/** Median and minimum: on a machine shared with other work the minimum shows what a restore costs undisturbed. */
const medianMin = (xs: number[]): string => `${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)})`;
const MiB = 2 ** 20;

/** hello.elf stopped half-way, with 4 MiB of working set written at 16 MiB: code, text, counters, random bytes. */
function guest(out: Uint8Array[]): { vm: VM; rest: number } {
  const vm = createVM({ memory: 128 * MiB, stdout: (b) => out.push(b.slice()) });
  const rom = new Uint8Array(readFileSync(join(ROMS, 'hello.elf')));
  loadImage(vm, rom, 'hello.elf', {});
  const probe = createVM({ memory: 128 * MiB });
  loadImage(probe, rom, 'hello.elf', {});
  probe.run({});
  const half = Math.floor(probe.instructions / 2);
  vm.run({ maxInstructions: half });
  const ws = new Uint8Array(4 * MiB);
  let x = 12345;
  const text = new TextEncoder().encode(readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8'));
  for (let i = 0; i < ws.length; i += 4096) {
    const kind = (i >> 12) & 3;
    for (let j = 0; j < 4096; j++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      ws[i + j] = kind === 0 ? rom[(i + j) % rom.length] : kind === 1 ? text[(i + j) % text.length] : kind === 2 ? (j & 3) === 0 ? (i + j) >>> 6 : 0 : x >>> 24;
    }
  }
  vm.memory.writeBytes(16 * MiB, ws);
  return { vm, rest: probe.instructions - half };
}

async function main(): Promise<void> {
  const out: Uint8Array[] = [];
  const { vm } = guest(out);
  const saveMs: number[] = [];
  let file: Uint8Array = new Uint8Array();
  for (let i = 0; i < RUNS; i++) { const t = performance.now(); file = vm.saveState(); saveMs.push(performance.now() - t); }
  // Restore to the first instruction, with RAM copied in before (eager) or on first touch (lazyRam).
  // Each kind in its own loop, after collecting the garbage of the one before: a restore's time includes
  // the collections its own allocations trigger (V8 reclaims the previous VMs' memories), not the other kind's.
  // Then lazily again, each VM destroyed after its first instruction (outside the time): vm.destroy() gives
  // its memory, cleared, to the next restore (memory-pool.ts), as a host that provisions clones does.
  const restoreMs = { eager: [] as number[], lazy: [] as number[], recycled: [] as number[] };
  for (const kind of ['eager', 'lazy', 'recycled'] as const) {
    (globalThis as { gc?: () => void }).gc?.();
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const v = await VM.fromState(file, { lazyRam: kind !== 'eager' });
      v.run({ maxInstructions: 1 });
      restoreMs[kind].push(performance.now() - t);
      if (kind === 'recycled') v.destroy();
    }
  }
  // 100 clones of the one snapshot, each run to its end; the output of the second half must be the same.
  const want = (() => { const o: Uint8Array[] = []; return { o }; })();
  const ref = await VM.fromState(file, { stdout: (b) => want.o.push(b.slice()) });
  ref.run({});
  const refText = Buffer.concat(want.o).toString('latin1');
  /** 100 clones made one after the other, each run to its end and kept: creation times, correct runs, resident memory each. */
  const cloneRun = async (lazyRam: boolean) => {
    // The previous run's clones are garbage by now: collect them (npm run bench passes --expose-gc) so
    // that this run's resident memory is its own.
    // V8 releases a collected WebAssembly.Memory's pages a little later, off the main thread: wait for that.
    for (let i = 0; i < 3; i++) { (globalThis as { gc?: () => void }).gc?.(); await new Promise((r) => setTimeout(r, 200)); }
    const rss0 = process.memoryUsage().rss;
    const created: number[] = [];
    const clones: VM[] = [];
    let ok = 0;
    for (let i = 0; i < 100; i++) {
      const o: Uint8Array[] = [];
      const t = performance.now();
      const c = await VM.fromState(file, { stdout: (b) => o.push(b.slice()), lazyRam });
      created.push(performance.now() - t);
      const exit = c.run({});
      if (exit.reason === 'debug-exit' && Buffer.concat(o).toString('latin1') === refText && c.instructions === ref.instructions) ok++;
      clones.push(c);
    }
    return { created, ok, rssEach: (process.memoryUsage().rss - rss0) / clones.length };
  };
  const eagerClones = await cloneRun(false);
  const lazyClones = await cloneRun(true);
  const row = (name: string, value: string, target: string) => `| ${name} | ${value} | ${target} |`;
  process.stdout.write([
    `Snapshot bench: 128 MiB guest, 4 MiB working set (hello.elf half-way + written data), median of ${RUNS}`,
    '| measure | x86jit | target |', '|---|---:|---:|',
    row('full snapshot (saveState)', `${median(saveMs).toFixed(1)} ms, ${(file.length / 1024).toFixed(0)} KiB`, '≤ 50 ms'),
    row('restore to first instruction (fromState + 1 instruction), RAM copied first', medianMin(restoreMs.eager), '—'),
    row('restore to first instruction, lazy RAM (pages copied on first touch), previous VMs dropped', medianMin(restoreMs.lazy), '≤ 5 ms'),
    row('restore to first instruction, lazy RAM, previous VM destroyed (its memory reused)', medianMin(restoreMs.recycled), '≤ 5 ms'),
    ...([['RAM copied first', eagerClones], ['lazy RAM', lazyClones]] as const).flatMap(([how, c]) => [
      row(`100 clones, ${how}: creation each (median / max)`, `${median(c.created).toFixed(1)} / ${Math.max(...c.created).toFixed(1)} ms`, '—'),
      row(`100 clones, ${how}: ran to their end correctly`, `${c.ok} of 100`, '100'),
      row(`100 clones, ${how}: resident memory each`, `${(c.rssEach / MiB).toFixed(1)} MiB`, '—'),
    ]),
    '',
  ].join('\n'));
}

await main();
