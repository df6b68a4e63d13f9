// jit/v8-tiers.ts: a tier-1 region module stays with V8's baseline compiler (Liftoff) however hot it runs,
// a tier-2 one gets TurboFan, V8's flags are back to its defaults afterwards, and a user's own tiering flags
// win. Checked with V8's own test natives (%IsLiftoffFunction, …) in a child `node --allow-natives-syntax`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'x86jit-v8-tiers-'));
const probe = join(dir, 'probe.mjs');
buildSync({ entryPoints: [join(import.meta.dirname, 'fixtures', 'v8-tiers', 'probe.ts')], bundle: true, platform: 'node', format: 'esm', outfile: probe, logLevel: 'error' });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tiers(...nodeFlags: string[]): Record<string, string> {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', ...nodeFlags, probe], { encoding: 'utf8', timeout: 240_000, env: { ...process.env, NODE_OPTIONS: '' } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe("V8's compiler per region module", () => {
  it('baseline stays Liftoff while the same code compiled as V8 likes goes to TurboFan; optimized goes to TurboFan; the defaults are back', () => {
    expect(tiers()).toEqual({ baseline: 'liftoff', optimized: 'turbofan', control: 'turbofan', lazyAfter: 'uncompiled' });
  }, 250_000);

  it("the user's tiering flags win: with --wasm-dynamic-tiering given, V8 tiers a baseline module up too", () => {
    expect(tiers('--wasm-dynamic-tiering').baseline).toBe('turbofan');
  }, 250_000);
});
