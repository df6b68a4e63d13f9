// The JIT's environment variables, read here at the edge (the library takes them as JitOptions):
//   X86JIT_JIT_THRESHOLD   executions of a block before it is compiled (default 400)
//   X86JIT_JIT_BACKGROUND  1: translate with binaryen on a worker thread instead of our encoder
//   X86JIT_JIT_CACHE       the worker's disk cache: a directory, or off / 0 (default
//                          $XDG_CACHE_HOME/x86jit/regions, else ~/.cache/x86jit/regions)
//   X86JIT_JIT_PASSES      binaryen passes for the worker, comma-separated (default none)
//   X86JIT_JIT_TIER2       background (default), sync or off: how regions that stay hot are retranslated
//   X86JIT_JIT_TIER2_THRESHOLD  instructions a region retires in tier 1 before tier 2 (default: 4,096 per byte
//                          of its WASM, at least 2^22)
//   X86JIT_JIT_VALIDATE    1: check every region module with binaryen's validator as it is made (loads binaryen)
//   X86JIT_JIT_MODULE_DIR  write every region module to this directory as <sha256>.wasm, for wasm tools or a
//                          later check (the test suites validate them with binaryen once the test file ends:
//                          cheaper than loading binaryen in every process they start)
import { createHash } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binaryenModuleCheck, type JitOptions, setModuleCheck } from '../node.ts';
import { UsageError } from './parse.ts';

/** Install the module checks X86JIT_JIT_VALIDATE and X86JIT_JIT_MODULE_DIR ask for. */
export async function checkModulesFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const checks: ((binary: Uint8Array) => void)[] = [];
  if (env.X86JIT_JIT_VALIDATE === '1') checks.push(await binaryenModuleCheck());
  const dir = env.X86JIT_JIT_MODULE_DIR;
  if (dir !== undefined && dir !== '') {
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`X86JIT_JIT_MODULE_DIR: ${dir} is not a directory`);
    checks.push((binary) => writeModule(dir, binary));
  }
  if (checks.length > 0) setModuleCheck((binary) => { for (const check of checks) check(binary); });
}

/** DIR/<sha256>.wasm; a module already there (the same bytes) is not written again. */
function writeModule(dir: string, binary: Uint8Array): void {
  const file = join(dir, `${createHash('sha256').update(binary).digest('hex')}.wasm`);
  try {
    writeFileSync(file, binary, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
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
