// The dirty log's cost on store-heavy workloads (measured, never asserted): each ROM run at `repeat=N` in
// a fresh VM in a fresh process (variants sharing a process perturb each other through V8's optimisation
// state), under the interpreter and the JIT (tier 2 'sync' at its default threshold, so that what is
// compiled when does not depend on timing), in slices of SLICE instructions, with
//   off      the log never started (the store fast paths as they are without it)
//   on       the log started after loading and never taken (each page's first store pays once)
//   take     the log taken after every slice (pre-copy rounds: every written page pays again each round)
// and, with --base DIR, `off` on another build (DIR/dist/index.js, e.g. the commit before the log) to show
// that the fast path did not change. Variants alternate within each run so machine noise hits all alike.
// Figures: million guest instructions per second of the run's CPU time (user + system: on a shared
// machine wall time mostly measures the neighbours), median / best of RUNS runs.
//   npm run build && node bench/dirty-log.mjs [--base DIR] [--runs N] [--repeat N] [--slice N] [--engines interpreter,jit] [ROM...]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); if (i < 0) return dflt; const v = args[i + 1]; args.splice(i, 2); return v; };
const base = opt('--base', null), RUNS = Number(opt('--runs', 5)), REPEAT = Number(opt('--repeat', 8)), SLICE = Number(opt('--slice', 1_000_000));
const ENGINES = opt('--engines', 'interpreter,jit').split(',');
const roms = args.length > 0 ? args : ['wl-memcpy.elf', 'wl-sieve.elf'];

const SELF = fileURLToPath(import.meta.url);

async function once(lib, rom, engineJit, mode) {
  const vm = lib.createVM({ memory: 64 << 20 });
  return (engineJit ? vm.enableJit({ cacheDir: null, tier2: 'sync' }) : Promise.resolve()).then(() => {
    lib.loadImage(vm, new Uint8Array(readFileSync(join(ROOT, 'test-roms', rom))), rom, { cmdline: `${rom} repeat=${REPEAT}` });
    if (mode !== 'off') vm.memory.startDirtyLog();
    let e, pages = 0, rounds = 0;
    const c0 = process.cpuUsage();
    do {
      e = vm.run({ maxInstructions: SLICE, timeout: 300 });
      if (mode === 'take') { pages += vm.memory.takeDirtyLog().count; rounds++; }
    } while (e.reason === 'max-instructions');
    const c = process.cpuUsage(c0), ms = (c.user + c.system) / 1000;
    if (e.reason !== 'debug-exit' || e.status !== 1) throw new Error(`${rom}: ${e.reason} ${e.message}`);
    return { mips: vm.instructions / ms / 1000, pages: rounds ? pages / rounds : 0 };
  });
}

if (args[0] === '--child') {
  const [, dir, rom, jit, mode] = args;
  const lib = await import(pathToFileURL(join(dir, 'dist', 'index.js')).href);
  process.stdout.write(JSON.stringify(await once(lib, rom, jit === '1', mode)));
  process.exit(0);
}
/** One measurement in a fresh process. */
function child(dir, rom, jit, mode) {
  const r = spawnSync(process.execPath, [SELF, '--child', dir, rom, jit ? '1' : '0', mode, '--repeat', String(REPEAT), '--slice', String(SLICE)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child ${rom} ${mode}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const variants = [...(base ? [['base off', resolve(base), 'off']] : []), ['off', ROOT, 'off'], ['on', ROOT, 'on'], ['take', ROOT, 'take']];
console.log(`MIPS (CPU time), median / best of ${RUNS} runs, slices of ${SLICE} instructions\n`);
console.log(`| ROM (repeat=${REPEAT}) | engine | ${variants.map(([n]) => n).join(' | ')} | on ÷ off | take ÷ off | pages per take |`);
console.log(`|---|---|${variants.map(() => '---:').join('|')}|---:|---:|---:|`);
for (const rom of roms) {
  for (const jit of ENGINES.map((e) => e === 'jit')) {
    const got = new Map(variants.map(([n]) => [n, []]));
    let pages = 0;
    for (let r = 0; r < RUNS; r++) {
      for (const [name, dir, mode] of variants) {
        const x = child(dir, rom, jit, mode);
        got.get(name).push(x.mips);
        if (mode === 'take') pages = x.pages;
      }
    }
    const m = new Map([...got].map(([n, xs]) => [n, median(xs)]));
    const best = new Map([...got].map(([n, xs]) => [n, Math.max(...xs)]));
    process.stderr.write(`${rom} ${jit ? 'jit' : 'interpreter'}: ${[...got].map(([n, xs]) => `${n} [${xs.map((x) => x.toFixed(0)).join(' ')}]`).join(', ')}\n`);
    const ratio = (k) => `${(m.get(k) / m.get('off')).toFixed(3)} / ${(best.get(k) / best.get('off')).toFixed(3)}`;
    console.log(`| ${rom} | ${jit ? 'jit' : 'interpreter'} | ${[...m.keys()].map((k) => `${m.get(k).toFixed(0)} / ${best.get(k).toFixed(0)}`).join(' | ')} | ${ratio('on')} | ${ratio('take')} | ${pages.toFixed(0)} |`);
  }
}
