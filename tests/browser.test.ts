// The core entry (x86jit: dist/index.js) in a real browser. esbuild bundles a page script from it for
// platform 'browser' with no externals and no shims — a node: import fails the bundle, and the minified
// bundle must not name `process`, `require`, `Buffer` or another Node global — and headless Chromium
// (puppeteer-core, Debian's chromium) runs test ROMs on a page without cross-origin isolation (so without
// SharedArrayBuffer) under the interpreter and the JIT (tier 1, and tier 2 for every region). Chromium is
// the oracle for "runs in a browser"; its serial output must be what Node gives through the same entry and
// what QEMU recorded (test-roms/expected/).
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from './required-tool.ts';

const ROOT = join(import.meta.dirname, '..');
const BUNDLE = join(ROOT, 'dist', 'index.js');
const ROMS = join(ROOT, 'test-roms');
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = requireTool('chromium', existsSync(CHROMIUM));

/** The ROMs the page runs: the quick start's, a JIT workload, and one with paging (the JIT's TLB path). */
const CASES = ['hello.elf', 'wl-sieve.elf', 'paging.elf'];
/** Each run's engine: the interpreter, the JIT's tier 1, and tier 2 for every region at once (both our encoder). */
const ENGINES = { interp: { engine: 'interp' }, jit: { engine: 'jit', jit: { threshold: 1 } }, tier2: { engine: 'jit', jit: { threshold: 1, tier2: 'sync', tier2Threshold: 0 } } } as const;

/** The page: runs every case under both engines and leaves the results in window.results. */
const PAGE_SCRIPT = `
import { VM, loadImage } from ${JSON.stringify(BUNDLE)};
const results = [];
try {
  for (const name of ${JSON.stringify(CASES)}) {
    const rom = new Uint8Array(await (await fetch('/roms/' + name)).arrayBuffer());
    for (const [engine, opts] of Object.entries(${JSON.stringify(ENGINES)})) {
      let output = '';
      const text = new TextDecoder('latin1');
      const vm = await VM.create({ ...opts, stdout: (b) => { output += text.decode(b, { stream: true }); } });
      loadImage(vm, rom, name);
      const exit = vm.run({ timeout: 60 });
      const stats = vm.jitStats();
      results.push({ name, engine, output, reason: exit.reason, status: exit.status, compiled: stats?.compiled ?? 0, tier2: stats?.tier2 ?? 0 });
    }
  }
  window.results = { ok: true, results, sharedArrayBuffer: typeof SharedArrayBuffer, isolated: crossOriginIsolated };
} catch (e) {
  window.results = { ok: false, error: String(e && e.stack || e) };
}
`;

interface PageRun { name: string; engine: string; output: string; reason: string; status?: number; compiled: number; tier2: number }

async function bundlePage(minify: boolean): Promise<string> {
  const r = await build({
    stdin: { contents: PAGE_SCRIPT, resolveDir: ROOT, sourcefile: 'page.js', loader: 'js' },
    bundle: true, platform: 'browser', format: 'esm', target: 'es2022', minify, write: false, logLevel: 'silent',
  });
  expect(r.errors).toEqual([]);
  expect(r.warnings.map((w) => w.text)).toEqual([]);
  return r.outputFiles[0].text;
}

describe('the core entry in a browser', () => {
  let server: Server;
  let origin = '';
  let script = '';

  beforeAll(async () => {
    script = await bundlePage(false);
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url === '/') { res.setHeader('content-type', 'text/html'); res.end('<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>'); return; }
      if (url === '/page.js') { res.setHeader('content-type', 'text/javascript'); res.end(script); return; }
      const rom = /^\/roms\/([\w.-]+)$/.exec(url);
      if (rom && CASES.includes(rom[1])) { res.setHeader('content-type', 'application/octet-stream'); res.end(readFileSync(join(ROMS, rom[1]))); return; }
      res.statusCode = 404; res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const addr = server.address();
    origin = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => server ? server.close(() => resolve()) : resolve()));

  it('bundles for the browser with no node: import and no Node global', async () => {
    const min = await bundlePage(true);
    // (Minified: no comments left to match. The excerpts around a match show where it comes from.)
    const around = (re: RegExp): string[] => [...min.matchAll(new RegExp(`.{0,60}${re.source}.{0,60}`, 'g'))].map((m) => m[0]);
    expect(around(/["']node:/)).toEqual([]);
    expect(around(/\b(process|require|Buffer|setImmediate|__dirname|__filename)\b/)).toEqual([]);
    // (That the core's declarations need no @types/node either is package.test.ts's: a browser consumer.)
  });

  it.skipIf(!hasChromium)('runs ROMs in headless Chromium under the interpreter and both JIT tiers, as Node and QEMU do', async () => {
    const { launch } = await import('puppeteer-core');
    const browser = await launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    let page: { ok: boolean; error?: string; results: PageRun[]; sharedArrayBuffer: string; isolated: boolean };
    try {
      const tab = await browser.newPage();
      // An uncaught error (the bundle failing to load, say) ends the wait at once with its message.
      const failed = new Promise<never>((_, reject) => tab.on('pageerror', (e) => reject(new Error(`page error: ${String(e)}`))));
      failed.catch(() => {}); // (handled here too: an error after the results is no unhandled rejection)
      await tab.goto(`${origin}/`);
      await Promise.race([tab.waitForFunction('window.results !== undefined', { timeout: 110_000, polling: 200 }), failed]);
      page = await tab.evaluate('window.results') as typeof page;
    } finally {
      await browser.close();
    }
    expect(page.error).toBeUndefined();
    expect(page.ok).toBe(true);
    // An ordinary page: no cross-origin isolation, so no SharedArrayBuffer (the VM must not need one).
    expect([page.sharedArrayBuffer, page.isolated]).toEqual(['undefined', false]);

    const { VM, loadImage } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
    for (const name of CASES) {
      const expected = readFileSync(join(ROMS, 'expected', name.replace(/\.elf$/, '.txt')), 'latin1');
      for (const [engine, opts] of Object.entries(ENGINES)) {
        const chunks: Uint8Array[] = [];
        const vm = await VM.create({ ...opts, stdout: (b) => chunks.push(b) });
        loadImage(vm, new Uint8Array(readFileSync(join(ROMS, name))), name);
        const exit = vm.run({ timeout: 60 });
        const inNode = { name, engine, output: Buffer.concat(chunks).toString('latin1'), reason: exit.reason, status: exit.status };
        const inBrowser = page.results.find((r) => r.name === name && r.engine === engine)!;
        expect({ ...inBrowser, compiled: undefined, tier2: undefined }).toEqual({ ...inNode, compiled: undefined, tier2: undefined });
        expect(inBrowser.output).toBe(expected);
        expect([inBrowser.reason, inBrowser.status]).toEqual(['debug-exit', 1]);
        // The JIT compiled in the browser — our encoder, no binaryen, no worker — and tier 2 retranslated.
        if (engine !== 'interp') expect(inBrowser.compiled).toBeGreaterThan(0);
        if (engine === 'tier2') expect(inBrowser.tier2).toBeGreaterThan(0);
      }
    }
  });
});
