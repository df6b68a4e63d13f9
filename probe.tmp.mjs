import { build } from 'esbuild';
const entry = process.argv[2] ?? 'src/index.ts';
const r = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent', metafile: true, outfile: '/tmp/x.js', external: ['node:*', 'binaryen'] });
// who imports node: modules, chain back to entry
const inputs = r.metafile.inputs;
const importers = {};
for (const [f, v] of Object.entries(inputs)) for (const i of v.imports) (importers[i.path] ??= []).push(f);
for (const [f, v] of Object.entries(inputs)) for (const i of v.imports) if (i.path.startsWith('node:') || i.path === 'binaryen') {
  const chain = [i.path, f]; let cur = f; const seen = new Set([f]);
  while (cur !== entry && importers[cur]) { const n = importers[cur].find(x => !seen.has(x)); if (!n) break; seen.add(n); chain.push(n); cur = n; }
  console.log(chain.join(' <- '), i.kind);
}
const t = r.outputFiles[0].text; console.log('process refs', [...new Set([...t.matchAll(/\bprocess\.\w+/g)].map(m=>m[0]))]);
console.log('SAB', (t.match(/SharedArrayBuffer/g)||[]).length);
