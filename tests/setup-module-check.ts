// Every region module the JIT makes while the tests run is checked by binaryen's validator (jit/module-check.ts)
// — in this test process, through the bundle the tests import, and in the CLI processes they start
// (X86JIT_JIT_VALIDATE=1, vitest.config.ts).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { binaryenModuleCheck, setModuleCheck } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
setModuleCheck(await binaryenModuleCheck());
