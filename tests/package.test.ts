// The npm package as a user gets it: `npm pack` (after `node scripts/build.mjs`, which `npm test` runs),
// installed from the tarball into a fresh project, offline (binaryen, the one dependency, linked from our
// own node_modules). There, tsc type-checks a TypeScript consumer and every ts sample of README.md
// under moduleResolution node16 and bundler; plain ESM runs a ROM through both entries under both engines;
// the installed `x86jit` command runs; and every ts/js sample of README.md runs as pasted (the browser one
// is bundled for the browser here, and run in Chromium by browser.test.ts).
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build, transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forBrowser, readmeSamples } from './readme-samples.ts';

const ROOT = join(import.meta.dirname, '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const run = promisify(execFile);

let dir = '';
let app = '';
let packed: string[] = [];

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  if (!statSync(join(ROOT, 'dist', 'types', 'src', 'index.d.ts'), { throwIfNoEntry: false })) throw new Error('dist/ is missing: run `node scripts/build.mjs` (npm test does)');
  dir = mkdtempSync(join(tmpdir(), 'x86jit-package-'));
  const [pack] = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], ROOT)) as { filename: string; files: { path: string }[] }[];
  packed = pack.files.map((f) => f.path).sort();
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // binaryen, the one dependency, linked from our own node_modules: no registry, and no 15 MB tarball to pack.
  npm(['install', '--offline', join(dir, pack.filename), join(ROOT, 'node_modules', 'binaryen')], app);
}, 120_000);
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('the npm package', () => {
  it('ships the bundles, their declarations and maps, README and LICENSE — readable, and built before packing, not on install', () => {
    const allowed = /^(package\.json|README\.md|LICENSE|dist\/(index|node|x86jit|jit-worker|host-worker|chunk-\w+)\.js(\.map)?|dist\/types\/.+\.d\.ts)$/;
    expect(packed.filter((p) => !allowed.test(p))).toEqual([]);
    for (const p of ['LICENSE', 'README.md', 'dist/index.js', 'dist/node.js', 'dist/x86jit.js', 'dist/jit-worker.js', 'dist/types/src/index.d.ts', 'dist/types/src/node.d.ts']) expect(packed).toContain(p);
    const installed = join(app, 'node_modules', 'x86jit');
    // Not minified: an uncaught error shows a line of code, not a 100 KB one.
    for (const p of packed.filter((f) => f.endsWith('.js'))) {
      const longest = Math.max(...readFileSync(join(installed, p), 'utf8').split('\n').map((l) => l.length));
      expect([p, longest < 400]).toEqual([p, true]);
    }
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts?.[hook]).toBeUndefined();
  });

  it('type-checks a consumer and the README samples under moduleResolution node16 and bundler, and a page without Node types', async () => {
    writeFileSync(join(app, 'consumer.ts'), `
      import { createVM, loadImage, VM, type ExitRecord, type VMOptions } from 'x86jit';
      import { createProcess, readImageFile, type ProcessExit } from 'x86jit/node';
      const opts: VMOptions = { memory: 16 << 20, stdout: (b: Uint8Array) => void b };
      const vm: VM = createVM(opts);
      loadImage(vm, readImageFile('test-roms/hello.elf'), 'hello.elf');
      const exit: ExitRecord = vm.run({ timeout: 10 });
      const p: (image: Uint8Array, path: string) => Promise<{ run(): Promise<ProcessExit> | ProcessExit }> = createProcess;
      export { exit, p };
    `);
    // A page's code: the core alone, with no Node types anywhere (the DOM's instead).
    writeFileSync(join(app, 'page.ts'), `
      import { createVM, loadImage, type ExitRecord } from 'x86jit';
      const rom = new Uint8Array(await (await fetch('hello.elf')).arrayBuffer());
      const vm = createVM({ stdout: (b: Uint8Array) => { document.body.append(new TextDecoder().decode(b)); } });
      loadImage(vm, rom, 'hello.elf');
      const exit: ExitRecord = vm.run({ timeout: 10 });
      export { exit };
    `);
    const samples = readmeSamples().filter((s) => s.lang === 'ts');
    samples.forEach((s, i) => writeFileSync(join(app, `readme-${i}.ts`), s.code));
    const node = ['consumer.ts', ...samples.map((_, i) => `readme-${i}.ts`)];
    const config = (name: string, resolution: 'node16' | 'bundler', files: string[], env: { types: string[]; lib?: string[] }, skipLibCheck: boolean) => {
      writeFileSync(join(app, `tsconfig.${name}.json`), JSON.stringify({
        compilerOptions: {
          module: resolution === 'node16' ? 'node16' : 'esnext', moduleResolution: resolution, target: 'ES2022', strict: true, noEmit: true,
          skipLibCheck, typeRoots: [join(ROOT, 'node_modules', '@types')], ...env,
        },
        files,
      }));
      return name;
    };
    const check = async (name: string) => {
      const r = await run(process.execPath, [TSC, '-p', `tsconfig.${name}.json`], { cwd: app }).catch((e: { stdout: string; stderr: string }) => e);
      return `${name}: ${r.stdout}${r.stderr}`;
    };
    // (No lib for Node: the default, which has the WebAssembly namespace our types use; @types/node 20 has not.)
    const nodeEnv = { types: ['node'] }, pageEnv = { types: [], lib: ['ES2022', 'DOM'] };
    // Our declarations are checked too (skipLibCheck off) under node16, and for the page without @types/node.
    const configs = [config('node16', 'node16', node, nodeEnv, false), config('bundler', 'bundler', node, nodeEnv, true), config('page', 'bundler', ['page.ts'], pageEnv, false)];
    expect(await Promise.all(configs.map(check))).toEqual(configs.map((c) => `${c}: `));
  }, 120_000);

  it('runs a ROM through plain ESM under both engines, with the core entry and x86jit/node', async () => {
    writeFileSync(join(app, 'consumer.mjs'), `
      import { VM, loadImage } from 'x86jit';
      import * as node from 'x86jit/node';
      const rom = node.readImageFile(process.argv[2]);
      for (const [entry, M] of [['x86jit', VM], ['x86jit/node', node.VM]]) {
        for (const engine of ['interp', 'jit']) {
          let out = '';
          const vm = await M.create({ engine, jit: { threshold: 1 }, stdout: (b) => { out += Buffer.from(b).toString('latin1'); } });
          loadImage(vm, rom, 'hello.elf');
          const e = vm.run({ timeout: 60 });
          console.log(JSON.stringify({ entry, engine, reason: e.reason, status: e.status, out, compiled: vm.jitStats()?.compiled ?? 0 }));
        }
      }
      // One VM class for both entries (the shared chunk): the node entry's installs reach VMs of the core's.
      console.log(JSON.stringify({ same: VM === node.VM }));
    `);
    const { stdout } = await run(process.execPath, ['consumer.mjs', join(ROOT, 'test-roms', 'hello.elf')], { cwd: app });
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const expected = readFileSync(join(ROOT, 'test-roms', 'expected', 'hello.txt'), 'latin1');
    expect(lines.length).toBe(5);
    for (const l of lines.slice(0, 4)) {
      expect([l.reason, l.status, l.out]).toEqual(['debug-exit', 1, expected]);
      if (l.engine === 'jit') expect(l.compiled).toBeGreaterThan(0);
    }
    expect(lines[4]).toEqual({ same: true });
  });

  it('installs the x86jit command', async () => {
    const bin = join(app, 'node_modules', '.bin', 'x86jit');
    expect((await run(bin, ['--version'])).stdout.trim()).toBe(`x86jit ${PKG.version}`);
    const r = spawnSync(bin, ['run', '--engine', 'jit', join(ROOT, 'test-roms', 'hello.elf')], { encoding: 'latin1', timeout: 60_000 });
    expect(r.stdout).toBe(readFileSync(join(ROOT, 'test-roms', 'expected', 'hello.txt'), 'latin1'));
    expect(r.status).toBe(1); // what QEMU exits with for the ROM's debug-exit write (README: exit statuses)
  });

  it('runs every ts and js sample of README.md as pasted (the browser one bundled for the browser)', async () => {
    const samples = readmeSamples();
    expect(samples.filter((s) => forBrowser(s.code)).length).toBe(1);
    expect(samples.length).toBeGreaterThanOrEqual(4);
    // Each sample on its own (bundled, or run in a process of its own), all at once.
    await Promise.all(samples.map(async (s, i) => {
      const where = `README.md line ${s.line}`;
      if (forBrowser(s.code)) {
        // Resolved from the consumer's node_modules, for the browser, with no externals: what a page bundler does.
        const r = await build({ stdin: { contents: s.code, resolveDir: app, sourcefile: `readme-${i}.js` }, bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
        expect([where, r.errors, r.warnings]).toEqual([where, [], []]);
        return;
      }
      const js = (await transform(s.code, { loader: s.lang, format: 'esm', sourcefile: where })).code;
      writeFileSync(join(app, `readme-${i}.mjs`), js);
      // From the repository's root, where the samples' test-roms/ paths lead.
      const r = await run(process.execPath, [join(app, `readme-${i}.mjs`)], { cwd: ROOT, timeout: 120_000 }).catch((e: { code: number; stderr: string }) => ({ stdout: '', stderr: `exit ${e.code}: ${e.stderr}` }));
      expect([where, r.stderr]).toEqual([where, '']);
    }));
  }, 180_000);
});
