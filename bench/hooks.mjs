// What hooks cost (vm.hook, README "Hooks"): guest MIPS of a store loop with no hook, with hooks on a page
// the loop does not touch, and with hooks on the page it runs or stores to — under the interpreter and the
// JIT (synchronous, threshold 0). `node bench/hooks.mjs` after `npm run build`; HOOKS_BENCH_M sets the
// million instructions per run (default 40; the runs that step or leave compiled code do a tenth), HOOKS_BENCH_RUNS
// the runs per cell (default 3, median). Times are the process's CPU time (other load on the machine does not count)..
import { createVM, loadRaw } from '../dist/index.js';

// org 0x100000: mov ecx, 0xffffffff / .l: add eax, ecx / mov [0x200000], eax / dec ecx / jnz .l / hlt
const LOOP = Uint8Array.from([0xb9, 0xff, 0xff, 0xff, 0xff, 0x01, 0xc8, 0xa3, 0x00, 0x00, 0x20, 0x00, 0x49, 0x75, 0xf6, 0xf4]);
const M = Number(process.env.HOOKS_BENCH_M ?? 40) * 1e6;
const RUNS = Number(process.env.HOOKS_BENCH_RUNS ?? 3);
const CODE = 0x100000, DATA = 0x200000, OTHER = 0x300000;
const page = (a) => ({ begin: a, end: a + 0xfff });

const cases = [
  ['no hooks', () => {}, M],
  ['code hook on another page', (vm) => vm.hook('code', () => {}, page(OTHER)), M],
  ['code hook on the loop\'s page', (vm) => { let n = 0; vm.hook('code', () => { n++; }, page(CODE)); }, M / 10],
  ['block hook on the loop\'s page', (vm) => { let n = 0; vm.hook('block', () => { n++; }, page(CODE)); }, M / 10],
  ['mem-write hook on another page', (vm) => vm.hook('mem-write', () => {}, page(OTHER)), M],
  ['mem-write hook on the stored page', (vm) => { let n = 0; vm.hook('mem-write', () => { n++; }, page(DATA)); }, M / 10],
  ['mem-read hook on another page', (vm) => vm.hook('mem-read', () => {}, page(OTHER)), M / 10],
  ['in/out, interrupt, hypercall hooks (not hit)', (vm) => { vm.hook('out', () => {}); vm.hook('interrupt', () => {}); vm.hook('hypercall', () => {}); }, M],
];

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
// Warm V8 up on every path first (its optimising tier), so that the first case does not pay for it.
for (const [, install, n] of cases) {
  for (const engine of ['interp', 'jit']) {
    const vm = createVM({ memory: 8 << 20 });
    if (engine === 'jit') await vm.enableJit({ threshold: 0, tier2: 'off' });
    loadRaw(vm, LOOP, { load: CODE, entry: CODE, bits: 32 });
    install(vm);
    vm.run({ maxInstructions: Math.min(n, 2e6) });
    vm.destroy();
  }
}
console.log(`| hooks installed (store loop, 4 instructions/iteration) | interp MIPS | jit MIPS |`);
console.log('| --- | ---: | ---: |');
for (const [name, install, n] of cases) {
  const mips = {};
  for (const engine of ['interp', 'jit']) {
    const runs = [];
    for (let r = 0; r < RUNS; r++) {
      const vm = createVM({ memory: 8 << 20 });
      if (engine === 'jit') await vm.enableJit({ threshold: 0, tier2: 'off' });
      loadRaw(vm, LOOP, { load: CODE, entry: CODE, bits: 32 });
      install(vm);
      // CPU time of this process (the JIT translates synchronously here: no other thread works), so that
      // other load on the machine does not count.
      const c0 = process.cpuUsage();
      const exit = vm.run({ maxInstructions: n });
      const c = process.cpuUsage(c0), ms = (c.user + c.system) / 1000;
      if (exit.reason !== 'max-instructions') throw new Error(`${name}/${engine}: ${exit.message}`);
      runs.push(n / ms / 1e3);
      vm.destroy();
    }
    mips[engine] = median(runs);
  }
  console.log(`| ${name} | ${mips.interp.toFixed(1)} | ${mips.jit.toFixed(1)} |`);
}
