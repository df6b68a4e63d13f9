// The translation cache (jit/region-cache.ts) against damaged entries. Compiled code runs unchecked, so a
// flipped bit in a cached region once made a workload print a wrong result, and another hang past
// --timeout: an entry must be used whole and as written, or not at all (deleted, translated afresh).
// Real entries come from running a ROM through the CLI; then every class of damage — the length prefix,
// the format (magic, version), the JSON header, the metadata values in it, the WASM code, the digest,
// truncation, appended bytes — is tried on them, at seeded positions: in process on many positions
// (decodeEntry and RegionCache.get must refuse each one), and through the CLI on a few per class (the
// run must pass with the right output and not take a region from the damaged entry).
import { createHash } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, FORMAT, RegionCache } from '../jit/region-cache.ts';
import { FLAT_SPAN_SHIFT } from '../jit/region.ts';
import { Rng } from './oracle/builder.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'x86jit.js');
const ROM = join(ROOT, 'test-roms', 'wl-sieve.elf');
/** wl-sieve's repetitions in the damaged runs: long enough for the worker to answer (a hit would be used), short interpreted. */
const REPEAT = 2;
const EXPECTED = readFileSync(join(ROOT, 'test-roms', 'expected', 'wl-sieve.txt'), 'latin1')
  .replace('SUMMARY wl-sieve: 3 passed', `PASS ${REPEAT} repetitions give the same results\nSUMMARY wl-sieve: 4 passed`);
/** Positions tried per class through the CLI (a process each) and in process. */
const CLI_SAMPLES = 2, SAMPLES = 120;

interface Entry { key: string; buf: Buffer; spanStart: number; n: number; dataAt: number }
let dir = '';
let entries: Entry[] = [];

/** wl-sieve (`repeat` times) under the JIT, bounded by --timeout; a run gives its exit, output and regions loaded from disk. */
function cliArgs(repeat: number): string[] {
  return [CLI, 'run', ROM, '--engine', 'jit', '--stats', '--timeout', '60', '--cmdline', `wl-sieve.elf repeat=${repeat}`];
}
interface Ran { status: number | null; signal: string | null; stdout: string; fromDisk: number; stderr: string }
const parse = (status: number | null, signal: string | null, stdout: string, stderr: string): Ran => ({
  status, signal, stdout, stderr,
  fromDisk: Number(/(\d+) regions from the disk cache/.exec(stderr)?.[1] ?? -1),
});
function runSync(cache: string, repeat: number): Ran {
  const r = spawnSync(process.execPath, cliArgs(repeat), { encoding: 'latin1', timeout: 120_000, env: { ...process.env, X86JIT_JIT_CACHE: cache, X86JIT_JIT_BACKGROUND: '1' } });
  return parse(r.status, r.signal, r.stdout, r.stderr);
}
function runAsync(cache: string, repeat: number): Promise<Ran> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, cliArgs(repeat), { timeout: 120_000, env: { ...process.env, X86JIT_JIT_CACHE: cache, X86JIT_JIT_BACKGROUND: '1' } });
    let out = '', err = '';
    p.stdout.setEncoding('latin1').on('data', (s: string) => { out += s; });
    p.stderr.setEncoding('latin1').on('data', (s: string) => { err += s; });
    p.on('close', (status, signal) => resolve(parse(status, signal, out, err)));
  });
}

/** The project's seeded PRNG (mulberry32, tests/oracle/builder.ts): the same positions every run. */
function prng(seed: number): (n: number) => number {
  const r = new Rng(seed);
  return (n) => r.u32() % n;
}

/** One class of damage: a damaged copy of entry `e` (`pick(n)` draws the position, bit or length in 0..n-1). */
type Damage = (e: Entry, pick: (n: number) => number) => Buffer;
const flipIn = (from: (e: Entry) => number, to: (e: Entry) => number, ok: (c: number) => boolean = () => true): Damage => (e, pick) => {
  const b = Buffer.from(e.buf);
  let at: number;
  do at = from(e) + pick(to(e) - from(e)); while (!ok(b[at]));
  b[at] ^= 1 << pick(8);
  return b;
};
const isValueChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a); // digits, true/false
const CLASSES: [string, Damage][] = [
  ['length prefix', flipIn(() => 0, () => 4)],
  ['format (magic, version)', flipIn(() => 4, () => 12)],
  ['JSON header', flipIn(() => 12, (e) => 4 + e.n)],
  ['metadata values', flipIn((e) => e.dataAt, (e) => 4 + e.n, isValueChar)],
  ['WASM code', flipIn((e) => 4 + e.n, (e) => e.buf.length - 32)],
  ['digest', flipIn((e) => e.buf.length - 32, (e) => e.buf.length)],
  ['truncation', (e, pick) => e.buf.subarray(0, pick(e.buf.length))],
  ['appended bytes', (e, pick) => Buffer.concat([e.buf, Buffer.alloc(1 + pick(64), pick(256))])],
];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'x86jit-damage-'));
  // A long run, so that binaryen loads and the regions are translated (and stored) before it ends.
  for (let k = 0; k < 3 && !readdirSync(dir).some((f) => f.endsWith('.region')); k++) {
    const r = runSync(dir, 32);
    if (r.status !== 1) throw new Error(`wl-sieve under the JIT: exit status ${r.status}: ${r.stderr.split('\n')[0]}`);
  }
  entries = readdirSync(dir).filter((f) => f.endsWith('.region')).map((f) => {
    const buf = readFileSync(join(dir, f)), n = buf.readUInt32LE(0);
    const header = buf.toString('utf8', 12, 4 + n);
    return { key: f.slice(0, -'.region'.length), buf, n, spanStart: (JSON.parse(header).blocks[0].start >>> FLAT_SPAN_SHIFT) << FLAT_SPAN_SHIFT, dataAt: 12 + Buffer.byteLength(header.slice(0, header.indexOf('"data":'))) };
  });
  if (entries.length === 0) throw new Error('no translation cache entry written by three runs of wl-sieve repeat=32');
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('translation cache: damaged entries', () => {
  it('a real entry decodes, re-encodes to the same bytes, and only under its own key and span', () => {
    for (const e of entries) {
      const d = decodeEntry(e.key, e.buf, e.spanStart);
      expect(d).not.toBeNull();
      expect(encodeEntry(e.key, d!).equals(e.buf)).toBe(true);
      expect(decodeEntry(e.key.replace(/^./, (c) => (c === '0' ? '1' : '0')), e.buf, e.spanStart)).toBeNull(); // copied to another key
      expect(decodeEntry(e.key, e.buf, e.spanStart + (1 << FLAT_SPAN_SHIFT))).toBeNull();
    }
  });

  it(`every class of damage is refused (${SAMPLES} seeded positions a class), and RegionCache.get deletes the file`, () => {
    const pick = prng(0xdaa6e);
    const refused: string[] = [];
    for (const e of entries) {
      for (const [name, damage] of CLASSES) {
        for (let k = 0; k < SAMPLES; k++) if (decodeEntry(e.key, damage(e, pick), e.spanStart) !== null) refused.push(`${name} #${k}`);
      }
    }
    expect(refused, 'damaged entries that decoded').toEqual([]);
    // Through the cache object: a damaged file is deleted (put() writes the fresh translation); a sound one stays.
    const own = mkdtempSync(join(tmpdir(), 'x86jit-damage-'));
    try {
      const cache = RegionCache.open(own, 'test')!;
      const e = entries[0], file = join(own, `${e.key}.region`);
      writeFileSync(file, e.buf);
      expect(cache.get(e.key, e.spanStart)).not.toBeNull();
      expect(existsSync(file)).toBe(true);
      writeFileSync(file, CLASSES.find(([name]) => name === 'WASM code')![1](e, pick));
      expect(cache.get(e.key, e.spanStart)).toBeNull();
      expect(existsSync(file)).toBe(false);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('an entry with a sound digest but another format or an inconsistent header is refused', () => {
    const e = entries[0];
    const header = JSON.parse(e.buf.toString('utf8', 12, 4 + e.n));
    const wasm = e.buf.subarray(4 + e.n, e.buf.length - 32);
    /** An entry laid out as put() lays it out, with a valid digest over whatever it is given. */
    const signed = (h: unknown, opt: { magic?: string; format?: number; wasm?: Uint8Array } = {}): Buffer => {
      const json = Buffer.from(JSON.stringify(h)), head = Buffer.alloc(12);
      head.writeUInt32LE(8 + json.length, 0);
      head.write(opt.magic ?? 'XJRC', 4, 'latin1');
      head.writeUInt32LE(opt.format ?? FORMAT, 8);
      const body = Buffer.concat([head, json, opt.wasm ?? wasm]);
      return Buffer.concat([body, createHash('sha256').update(e.key).update(body).digest()]);
    };
    const edit = (f: (h: typeof header) => void): unknown => { const h = structuredClone(header); f(h); return h; };
    expect(signed(header).equals(e.buf)).toBe(true); // the layout is the one described here
    const bad: [string, Buffer][] = [
      ['another format version', signed(header, { format: FORMAT + 1 })],
      ['another magic', signed(header, { magic: 'XJRD' })],
      ['a binary that is not WASM', signed(header, { wasm: Buffer.from('not wasm') })],
      ['no blocks', signed(edit((h) => { h.blocks = []; }))],
      ['a block in another span', signed(edit((h) => { h.blocks[0].start += 1 << FLAT_SPAN_SHIFT; }))],
      ['a block start twice', signed(edit((h) => { h.blocks.push(h.blocks[0]); }))],
      ['an op not at the previous one\'s end', signed(edit((h) => { h.blocks[0].ops[0].next += 1; }))],
      ['an instruction length of 0', signed(edit((h) => { h.blocks[0].ops[0].ins.length = 0; }))],
      ['a helper op beyond its block', signed(edit((h) => { h.data.helperAt[0] = [0, h.blocks[0].ops.length]; }))],
      ['helper tables of different lengths', signed(edit((h) => { h.data.helperLast.pop(); }))],
      ['a count that is not a number', signed(edit((h) => { h.data.instructions = '502'; }))],
      ['a header that is not JSON', (() => { const b = signed(header); b[12] = 0x7e; return Buffer.concat([b.subarray(0, -32), createHash('sha256').update(e.key).update(b.subarray(0, -32)).digest()]); })()],
    ];
    expect(header.data.helperAt.length).toBeGreaterThan(0);
    expect(bad.filter(([, b]) => decodeEntry(e.key, b, e.spanStart) !== null).map(([what]) => what)).toEqual([]);
  });

  it(`runs over damaged entries pass and take nothing from them (${CLI_SAMPLES} positions a class, through the CLI)`, async () => {
    expect(EXPECTED).toContain(`PASS ${REPEAT} repetitions`);
    const pick = prng(0xc11);
    const jobs: { what: string; files: Map<string, Buffer> }[] = [];
    for (const [name, damage] of CLASSES) {
      for (let k = 0; k < CLI_SAMPLES; k++) jobs.push({ what: `${name} #${k}`, files: new Map(entries.map((e) => [e.key, damage(e, pick)])) });
    }
    const problems: string[] = [];
    let reached = 0;
    const one = async (job: (typeof jobs)[number]): Promise<void> => {
      const cache = mkdtempSync(join(tmpdir(), 'x86jit-damage-'));
      try {
        for (const [key, buf] of job.files) writeFileSync(join(cache, `${key}.region`), buf);
        const r = await runAsync(cache, REPEAT);
        if (r.status !== 1 || r.signal !== null || r.stdout !== EXPECTED) problems.push(`${job.what}: status ${r.status} ${r.signal ?? ''}, output ${r.stdout === EXPECTED ? 'right' : 'WRONG'}: ${r.stderr.split('\n')[0]}`);
        else if (r.fromDisk !== 0) problems.push(`${job.what}: ${r.fromDisk} regions taken from a damaged entry`);
        // Afterwards each entry is as damaged (the worker had not read it yet), gone (it had), or a fresh translation.
        for (const e of entries) {
          const file = join(cache, `${e.key}.region`);
          const now = existsSync(file) ? readFileSync(file) : null;
          if (now === null || !now.equals(job.files.get(e.key)!)) reached++;
          if (now !== null && !now.equals(job.files.get(e.key)!) && decodeEntry(e.key, now, e.spanStart) === null) problems.push(`${job.what}: left an unusable entry behind`);
        }
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    };
    // Two processes at a time (each with its own cache directory).
    let next = 0;
    await Promise.all([0, 1].map(async () => { while (next < jobs.length) await one(jobs[next++]); }));
    console.log(`jit-cache-damage: ${jobs.length} runs over damaged entries, ${problems.length} problems; ${reached} of ${jobs.length * entries.length} entries deleted or replaced by the worker before the run ended`);
    expect(problems).toEqual([]);
    // The worker did get to damaged entries within the runs (or they would prove nothing): it deleted or replaced them.
    expect(reached).toBeGreaterThan(0);
  }, 180_000);
});
