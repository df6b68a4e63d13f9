// Every region module the JIT makes while the tests run is checked by binaryen's validator (jit/module-check.ts)
// — in this test process, through the bundle the tests import, and in the CLI processes they start
// (X86JIT_JIT_VALIDATE=1, vitest.config.ts).
// The tests run as Node code: importing dist/node.js (x86jit/node) installs Node's snapshot codecs and JIT
// host in the bundle's shared chunk, which dist/index.js (the core) uses too; the same is done for the
// modules the tests import from the sources. (tests/browser.test.ts runs the core without them.)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setJitHost } from '../jit/jit-host.ts';
import { NODE_JIT_HOST } from '../jit/node-jit-host.ts';
import { setSnapshotCodecs } from '../src/state/codecs.ts';
import { NODE_CODECS } from '../src/state/node-codecs.ts';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'node.js');
const { binaryenModuleCheck, setModuleCheck } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/node.ts');
setModuleCheck(await binaryenModuleCheck());
setSnapshotCodecs(NODE_CODECS);
setJitHost(NODE_JIT_HOST);
