// Builds dist/ (`npm test` and `npm run bench` run it first; `npm pack` ships its result): esbuild bundles,
// so that start-up never pays for a TypeScript loader, readable (not minified: an uncaught error shows a
// line of our code) with source maps, and tsc's declarations in dist/types.
//
// - The package entries, index.js (`x86jit`: the platform-neutral core, src/index.ts) and node.js
//   (`x86jit/node`, src/node.ts), are built together with code splitting: the core's modules live in one
//   shared chunk, so a program importing both entries has one VM class and one set of module state.
// - The CLI (x86jit.js), the workers (jit-worker.js, host-worker.js) and the benchmarks are programs: each is
//   one self-contained file. The benchmarks are not shipped (package.json "files").
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const common = {
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: ['binaryen', 'tinybench'],
  logLevel: 'warning',
};

rmSync('dist', { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { index: 'src/index.ts', node: 'src/node.ts' },
  // Neutral: the core must not lean on Node's resolution or globals (node: imports stay external in node.js).
  platform: 'neutral',
  external: [...common.external, 'node:*'],
  splitting: true,
  // Chunks next to the entries: translation-worker.ts finds jit-worker.js relative to its own module.
  chunkNames: '[name]-[hash]',
});
await build({
  ...common,
  entryPoints: { x86jit: 'src/cli/main.ts', 'jit-worker': 'jit/worker.ts', 'host-worker': 'src/host/vm-worker.ts', bench: 'bench/bench.ts', 'snapshot-compression': 'bench/snapshot-compression.ts', 'snapshot-bench': 'bench/snapshot.ts', 'host-bench': 'bench/host.ts', 'user-mode-bench': 'bench/user-mode.ts', 'linux-boot-bench': 'bench/linux-boot.ts', 'translate-cost-bench': 'bench/translate-cost.ts', 'x87-transcendental-bench': 'bench/x87-transcendentals.ts' },
  platform: 'node',
});

// Declarations for the two entries (tsconfig.types.json): what `import ... from 'x86jit'` type-checks against.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.types.json'], { stdio: 'inherit' });
