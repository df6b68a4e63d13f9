// The JIT's environment variables, read here at the edge (the library takes them as JitOptions):
//   X86JIT_JIT_THRESHOLD   executions of a block before it is compiled (default 50)
//   X86JIT_JIT_BACKGROUND  1: translate with binaryen on a worker thread instead of our encoder
//   X86JIT_JIT_CACHE       the worker's disk cache: a directory, or off / 0 (default
//                          $XDG_CACHE_HOME/x86jit/regions, else ~/.cache/x86jit/regions)
//   X86JIT_JIT_PASSES      binaryen passes for the worker, comma-separated (default none)
//   X86JIT_JIT_TIER2       background (default), sync or off: how regions that stay hot are retranslated
//   X86JIT_JIT_TIER2_THRESHOLD  instructions a region retires in tier 1 before tier 2 (default 2^27)
//   X86JIT_JIT_VALIDATE    1: check every region module with binaryen's validator (the test suites set it)
import { join } from 'node:path';
import { binaryenModuleCheck, type JitOptions, setModuleCheck } from '../node.ts';

/** With X86JIT_JIT_VALIDATE=1, binaryen validates every region module this process makes (loads binaryen). */
export async function validateModulesFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (env.X86JIT_JIT_VALIDATE === '1') setModuleCheck(await binaryenModuleCheck());
}

export function jitOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): JitOptions {
  const opts: JitOptions = {};
  // Any non-empty value: a bad one is enableJit's RangeError, which guest.ts names after the variable.
  const threshold = env.X86JIT_JIT_THRESHOLD;
  if (threshold !== undefined && threshold !== '') opts.threshold = Number(threshold);
  if (env.X86JIT_JIT_BACKGROUND === '1') opts.background = true;
  const cache = env.X86JIT_JIT_CACHE;
  if (cache === 'off' || cache === '0') opts.cacheDir = null;
  else if (cache !== undefined && cache !== '' && cache !== '1') opts.cacheDir = cache;
  else if (env.XDG_CACHE_HOME) opts.cacheDir = join(env.XDG_CACHE_HOME, 'x86jit', 'regions');
  const passes = (env.X86JIT_JIT_PASSES ?? '').split(',').filter((p) => p !== '');
  if (passes.length > 0) opts.passes = passes;
  // Bad values are the JIT's RangeErrors, named after the variable by guest.ts.
  const tier2 = env.X86JIT_JIT_TIER2;
  if (tier2 !== undefined && tier2 !== '') opts.tier2 = tier2 as JitOptions['tier2'];
  const t2 = env.X86JIT_JIT_TIER2_THRESHOLD;
  if (t2 !== undefined && t2 !== '') opts.tier2Threshold = Number(t2);
  return opts;
}
