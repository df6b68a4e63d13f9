// Bundles the CLI, the library and the benchmark into dist/ with esbuild (run by `npm ci` through
// `prepare`), so that start-up never pays for a TypeScript loader.
import { build } from 'esbuild';

await build({
  entryPoints: { x86jit: 'src/cli/main.ts', index: 'src/index.ts', bench: 'bench/bench.ts', 'snapshot-compression': 'bench/snapshot-compression.ts', 'snapshot-bench': 'bench/snapshot.ts', 'jit-worker': 'jit/worker.ts', 'host-worker': 'src/host/vm-worker.ts', 'host-bench': 'bench/host.ts' },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  minify: process.env.X86JIT_NO_MINIFY !== "1",
  external: ['binaryen', 'tinybench'],
  banner: { js: '' },
  logLevel: 'warning',
});
