// How far past a wall-clock limit a run goes, for the guests that once ignored it (test-roms/limits/):
// `node bench/limits.mjs [SECONDS]` after `npm run build`. Prints one line per ROM and engine (the JIT
// translating synchronously, every block on first sight, so translation time is inside the run).
import { readFileSync } from 'node:fs';
import { createVM, loadRaw } from '../dist/index.js';

const limit = Number(process.argv[2] ?? 1);
const roms = ['vmcall-loop', 'rep-outsb', 'rep-stosd', 'fresh-code', 'nop-sled', 'pit-fast2'];
console.log(`| limits ROM (vm.run({ timeout: ${limit} })) | engine | exit | ms past the limit | instructions |`);
console.log('| --- | --- | --- | ---: | ---: |');
for (const rom of roms) {
  for (const engine of ['interp', 'jit']) {
    const vm = createVM({ stdout: () => {}, clock: rom.startsWith('pit-') ? 'realtime' : 'virtual' });
    if (engine === 'jit') await vm.enableJit({ threshold: 0 });
    loadRaw(vm, new Uint8Array(readFileSync(new URL(`../test-roms/limits/${rom}.bin`, import.meta.url))), { load: 0x100000, entry: 0x100000, bits: 32 });
    const t0 = performance.now();
    const exit = vm.run({ timeout: limit });
    const past = performance.now() - t0 - limit * 1000;
    console.log(`| ${rom} | ${engine} | ${exit.reason} | ${past.toFixed(1)} | ${vm.instructions} |`);
  }
}
