// Every region module the JIT makes while the tests run is checked by binaryen's validator (jit/module-check.ts)
// — in this test process, through the bundle the tests import, and in the CLI processes its tests start.
// Loading binaryen costs ~1 s on a slow machine, so nothing loads it up front: the first module a test file
// makes starts loading it, modules are checked as they come once it is there (a rejected module then throws
// in the test that made it), and those made before are checked when it arrives. CLI processes write theirs
// to a directory of this file's (X86JIT_JIT_MODULE_DIR, src/cli/jit-env.ts), checked once the file's tests
// end. A module is checked once per test file, however often it is made. A rejected one fails the file.
// The tests run as Node code: importing dist/node.js (x86jit/node) installs Node's snapshot codecs and JIT
// host in the bundle's shared chunk, which dist/index.js (the core) uses too; the same is done for the
// modules the tests import from the sources. (tests/browser.test.ts runs the core without them.)
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect } from 'vitest';
import { setJitHost } from '../jit/jit-host.ts';
import { NODE_JIT_HOST } from '../jit/node-jit-host.ts';
import { setSnapshotCodecs } from '../src/state/codecs.ts';
import { NODE_CODECS } from '../src/state/node-codecs.ts';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'node.js');
const { binaryenModuleCheck, setModuleCheck } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/node.ts');
setSnapshotCodecs(NODE_CODECS);
setJitHost(NODE_JIT_HOST);

const DIR = mkdtempSync(join(tmpdir(), 'x86jit-modules-'));
process.env.X86JIT_JIT_MODULE_DIR = DIR;

let validate: ((binary: Uint8Array) => void) | null = null;
let loading: Promise<void> | null = null;
const waiting: { binary: Uint8Array; where: string }[] = [];
const checked = new Set<string>();
const rejected: string[] = [];

function checkLater(binary: Uint8Array, where: string): void {
  waiting.push({ binary, where });
  loading ??= binaryenModuleCheck().then((v) => { validate = v; drain(); });
}

function drain(): void {
  for (const { binary, where } of waiting.splice(0)) {
    try { validate!(binary); } catch (e) { rejected.push(`${where}: ${(e as Error).message}`); }
  }
}

setModuleCheck((binary) => {
  const id = createHash('sha1').update(binary).digest('hex');
  if (checked.has(id)) return;
  checked.add(id);
  if (validate !== null) validate(binary);
  // A copy: the caller may reuse its buffer.
  else checkLater(binary.slice(), `test "${expect.getState().currentTestName ?? '(outside a test)'}"`);
});

afterAll(async () => {
  for (const name of readdirSync(DIR)) {
    const binary = readFileSync(join(DIR, name));
    const id = createHash('sha1').update(binary).digest('hex');
    if (checked.has(id)) continue;
    checked.add(id);
    checkLater(binary, `a process this file started (${name})`);
  }
  if (loading !== null) { await loading; drain(); }
  rmSync(DIR, { recursive: true, force: true });
  expect(rejected, 'region modules binaryen rejects').toEqual([]);
}, 300_000);
