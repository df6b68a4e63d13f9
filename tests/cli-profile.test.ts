// `x86jit profile` and the JIT lines of `x86jit run --stats`: the report's formatting on a hand-made
// JitProfile, then the built CLI (dist/x86jit.js, `node scripts/build.mjs`) on real workload ROMs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { emptyExits, type JitProfile, type JitStats, type RegionDump, type RegionProfile } from '../src/cpu/accelerator-stats.ts';
import { formatDump, formatExits, formatJitTotals, formatProfile, formatTotals, hottest, type RunInfo } from '../src/cli/jit-report.ts';

const CLI = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const ROMS = join(import.meta.dirname, '..', 'test-roms');

function x86jit(...args: string[]) {
  return x86jitEnv({}, ...args);
}

function x86jitEnv(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, input: '', maxBuffer: 256 << 20, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /);
}

function region(id: number, start: number, over: Partial<RegionProfile> = {}): RegionProfile {
  return {
    id, entry: start, start, end: start + 0x20, blocks: 2, guestInstructions: 10, executions: 0, instructions: 0, timeMs: 0,
    wasmBytes: 800, translateMs: 0.5, buildMs: 0.3, exits: emptyExits(), fallbacks: 0, invalidated: false, tier: 1, ...over,
  };
}

const TOTALS: JitStats = {
  compiled: 3, live: 2, refused: 4, translatedInstructions: 30, guestBytes: 96, wasmBytes: 2400, translateMs: 1.5,
  calls: 1500, instructions: 900_000, cacheHits: 1497, cacheMisses: 3, diskHits: 0, invalidations: 1, flushes: 0, evictions: 0, fallbacks: 12, chains: 7, tier2: 0, promotions: 0, splits: 0,
  exits: { ...emptyExits(), branch: 1400, budget: 99, memory: 1 },
};

const RUN: RunInfo = {
  rom: 'demo.elf', exit: { reason: 'debug-exit', status: 1, message: 'guest exited with status 1', cs: 8, eip: 0x1010b6 },
  instructions: 1_000_000, seconds: 0.5, threshold: 2,
};

function profile(timed: boolean): JitProfile {
  return {
    totals: TOTALS,
    regions: [
      region(0, 0x100000, { executions: 10, instructions: 100, timeMs: timed ? 1 : 0, exits: { ...emptyExits(), branch: 10 } }),
      region(1, 0x100100, { executions: 1000, instructions: 799_900, timeMs: timed ? 250 : 0, wasmBytes: 123456, exits: { ...emptyExits(), branch: 990, budget: 10 } }),
      region(2, 0x100200, { executions: 490, instructions: 100_000, timeMs: timed ? 50 : 0, invalidated: true, fallbacks: 12, exits: { ...emptyExits(), branch: 400, budget: 89, memory: 1 } }),
    ],
  };
}

/** The table under the `hottest regions` line, as rows of whitespace-split fields (exits last, may hold spaces). */
function tableOf(report: string): { header: string; rows: string[]; fields: string[][] } {
  const lines = report.split('\n');
  const h = lines.findIndex((l) => /^\s*id\s+guest range\s/.test(l));
  expect(h).toBeGreaterThan(0);
  const rows: string[] = [];
  for (let i = h + 1; i < lines.length && lines[i].trim() !== ''; i++) rows.push(lines[i]);
  return { header: lines[h], rows, fields: rows.map((r) => r.trim().split(/\s+/)) };
}

describe('profile report formatting (hand-made JitProfile)', () => {
  it('lists regions by time, hottest first, with the share of the run time', () => {
    const text = formatProfile(profile(true), RUN, 10).join('\n');
    expect(text).toMatch(/^x86jit profile: demo\.elf$/m);
    expect(text).toMatch(/^guest: debug-exit \(status 1\): guest exited with status 1 at 0008:001010b6$/m);
    expect(text).toMatch(/hottest regions: 3 of 3 by host time/);
    const { header, fields } = tableOf(text);
    expect(header).toMatch(/time%/);
    expect(fields.map((f) => f[0])).toEqual(['1', '2', '0']);
    expect(fields[0].slice(0, 9)).toEqual(['1', '00100100-00100120', '2', '10', '1000', '799900', '50.0%', '123456', '0.50']);
    expect(fields[1][6]).toBe('10.0%');   // 50 ms of 500
    expect(fields[1][10]).toBe('yes');     // invalidated
    expect(fields[1].slice(11).join(' ')).toBe('branch 400, budget 89, memory 1');
  });

  it('aligns every column: each right-aligned value ends under its header, exits start under theirs', () => {
    const { header, rows } = tableOf(formatProfile(profile(true), RUN, 10).join('\n'));
    for (const name of ['execs', 'insns run', 'wasm B', 'xlate ms', 'fallbacks']) {
      const end = header.indexOf(name) + name.length;
      for (const row of rows) {
        expect(row[end - 1]).not.toBe(' ');
        expect(row[end] ?? ' ').toBe(' ');
      }
    }
    const exitsAt = header.indexOf('exits');
    for (const row of rows) expect(row.slice(exitsAt)).toMatch(/^(branch|budget|memory) \d+/);
    expect(new Set(rows.map((r) => r.slice(0, exitsAt).length)).size).toBe(1);
  });

  it('falls back to the share of guest instructions when no time was measured, and honours top', () => {
    const text = formatProfile(profile(false), RUN, 2).join('\n');
    expect(text).toMatch(/hottest regions: 2 of 3 by guest instructions/);
    const { header, fields } = tableOf(text);
    expect(header).toMatch(/insn%/);
    expect(fields).toHaveLength(2);
    expect(fields.map((f) => [f[0], f[6]])).toEqual([['1', '80.0%'], ['2', '10.0%']]);
    expect(hottest(profile(false).regions).map((r) => r.id)).toEqual([1, 2, 0]);
  });

  it('says so when nothing was translated', () => {
    const text = formatProfile({ totals: { ...TOTALS, compiled: 0, live: 0 }, regions: [] }, RUN, 10).join('\n');
    expect(text).toMatch(/^no regions translated$/m);
    expect(text).toMatch(/regions\s+0 translated, 0 live/);
  });

  it('prints the totals like info jit: sizes, expansion, cache, compiled share, exits', () => {
    const lines = formatTotals(TOTALS, 1_000_000);
    const get = (k: string) => lines.find((l) => l.trimStart().startsWith(`${k}  `))?.slice(lines[0].indexOf('3 translated')) ?? '';
    expect(get('regions')).toBe('3 translated, 2 live');
    expect(get('tier 2')).toBe('0 regions retranslated (0 promoted, 0 split)');
    expect(get('code size')).toBe('2400 bytes of WASM');
    expect(get('guest bytes')).toBe('96');
    expect(get('expansion ratio')).toBe('25.0 WASM bytes per guest byte');
    expect(get('translate time')).toBe('1.50 ms (0.500 ms per region)');
    expect(get('cache')).toBe('1497 hits, 3 misses (99.8% hits)');
    expect(get('disk cache')).toBe('0 of 3 regions loaded from the translation cache');
    expect(get('invalidations')).toBe('1');
    expect(get('fallbacks')).toMatch(/^12 /);
    expect(get('chaining')).toBe('7 transfers between regions inside compiled code');
    expect(get('compiled code')).toBe('900000 of 1000000 guest instructions (90.0%)');
    expect(get('exits')).toBe('branch 1400, budget 99, memory 1');
    expect(lines).toHaveLength(18);
  });

  it('formats exits most frequent first, or a dash', () => {
    expect(formatExits({ ...emptyExits(), budget: 3, branch: 7, fault: 1 })).toBe('branch 7, budget 3, fault 1');
    expect(formatExits(emptyExits())).toBe('-');
  });

  it('--dump shows the region, its guest code and its WASM text', () => {
    const d: RegionDump = {
      region: region(1, 0x100100, { executions: 5, instructions: 50 }),
      disassembly: ['00100100: 31 c0  xor eax, eax', '00100102: c3  ret'],
      wasmText: '(module\n (func $region (param i32) (result i32)\n )\n)\n',
    };
    const lines = formatDump(d);
    expect(lines[0]).toBe('region 1: guest 00100100-00100120 (entry 00100100), 2 blocks, 10 instructions');
    const g = lines.indexOf('guest code:'), w = lines.indexOf('WASM:');
    expect(g).toBeGreaterThan(0);
    expect(w).toBeGreaterThan(g);
    expect(lines.slice(g + 1, g + 3)).toEqual(['  00100100: 31 c0  xor eax, eax', '  00100102: c3  ret']);
    expect(lines.slice(w + 1)).toEqual(['(module', ' (func $region (param i32) (result i32)', ' )', ')']);
  });

  it('run --stats totals: regions, translated, WASM, calls, share, cache, invalidations, fallbacks, exits', () => {
    const [a, b, c] = formatJitTotals(TOTALS, 1_000_000);
    expect(a).toBe('3 regions (2 live, 0 at tier 2, 4 blocks refused), 30 instructions translated, 2400 bytes of WASM, 1.50 ms translating');
    expect(b).toBe('1500 calls ran 900000 instructions in compiled code (90.0%); 1497 cache hits, 3 misses, 0 regions from the disk cache; 1 invalidations, 12 fallbacks, 7 chained transfers');
    expect(c).toBe('exits: branch 1400, budget 99, memory 1');
  });
});

describe('x86jit profile (built CLI)', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`node scripts/build.mjs\` (npm test does)`);
  });

  it.each(['wl-sieve.elf', 'loops.elf'])('%s: lists executed regions and the totals; guest output is not in the report', (rom) => {
    const r = x86jit('profile', join(ROMS, rom));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^guest: debug-exit \(status 1\)/m);
    expect(r.stdout).not.toMatch(/PASS|SUMMARY/);
    const { fields } = tableOf(r.stdout);
    expect(fields.length).toBeGreaterThanOrEqual(1);
    expect(fields.length).toBeLessThanOrEqual(10);
    for (const f of fields) expect(f[1]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}$/);
    expect(fields.some((f) => Number(f[4]) > 0 && Number(f[5]) > 0)).toBe(true);
    const m = /^\s+regions\s+(\d+) translated, (\d+) live$/m.exec(r.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(fields.length);
    for (const k of ['code size', 'guest bytes', 'expansion ratio', 'translate time', 'cache', 'invalidations', 'flushes', 'evictions', 'fallbacks', 'compiled code']) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${k}\\s+\\S`, 'm'));
    }
    const share = /^\s+compiled code\s+(\d+) of (\d+) guest instructions/m.exec(r.stdout)!;
    expect(Number(share[1])).toBeGreaterThan(0);
    expect(Number(share[1])).toBeLessThanOrEqual(Number(share[2]));
  });

  it('--json parses: the exit record, totals and every region', () => {
    const r = x86jit('profile', '--json', join(ROMS, 'wl-sieve.elf'));
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.exit.reason).toBe('debug-exit');
    expect(j.instructions).toBeGreaterThan(1_000_000);
    expect(j.regions.length).toBeGreaterThanOrEqual(1);
    expect(j.regions.length).toBe(j.totals.compiled);
    expect(j.regions.some((g: RegionProfile) => g.executions > 0 && g.end > g.start && g.wasmBytes > 0)).toBe(true);
    const ran = j.regions.reduce((a: number, g: RegionProfile) => a + g.instructions, 0);
    expect(ran).toBe(j.totals.instructions);
  });

  it('--dump of the hottest region prints its disassembly and WASM text; an uncovered address is exit 2', () => {
    const rom = join(ROMS, 'loops.elf');
    const { regions } = JSON.parse(x86jit('profile', '--json', rom).stdout) as JitProfile;
    const hot = hottest(regions.filter((g) => !g.invalidated))[0];
    expect(hot.executions).toBeGreaterThan(0);
    const r = x86jit('profile', '--dump', `0x${hot.start.toString(16)}`, rom);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(new RegExp(`^region ${hot.id}: guest ${hot.start.toString(16).padStart(8, '0')}-`));
    const lines = r.stdout.split('\n');
    const g = lines.indexOf('guest code:'), w = lines.indexOf('WASM:');
    const asm = lines.slice(g + 1, w).filter((l) => l.trim() !== '');
    expect(asm.length).toBeGreaterThanOrEqual(1);
    expect(asm[0]).toMatch(new RegExp(`${hot.start.toString(16)}`));
    expect(lines.slice(w + 1).join('\n')).toMatch(/\(func/);

    const bad = x86jit('profile', '--dump', '0xfffffff0', rom);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    oneLine(bad.stderr, /--dump: no translated region covers 0xfffffff0/);
  });

  it('--guest-output sends the guest output to stderr, the report stays on stdout', () => {
    const r = x86jit('profile', '--guest-output', '--top', '1', join(ROMS, 'wl-sieve.elf'));
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/SUMMARY wl-sieve: 3 passed/);
    expect(r.stdout).not.toMatch(/SUMMARY/);
    expect(tableOf(r.stdout).fields).toHaveLength(1);
  });

  it.each([
    [['profile'], /missing ROM/],
    [['profile', '--frobnicate', 'x'], /frobnicate/],
    [['profile', '--top', 'many', 'x'], /--top/],
    [['profile', '--dump', 'here', 'x'], /--dump/],
    [['profile', '--engine', 'jit', 'x'], /engine/],
    [['profile', '/nonexistent/rom.elf'], /rom\.elf/],
  ])('usage error %j exits 2 with one line', (args, pattern) => {
    const r = x86jit(...(args as string[]));
    expect(r.status).toBe(2);
    oneLine(r.stderr, pattern);
  });

  it('--help prints usage and exits 0', () => {
    const r = x86jit('profile', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: x86jit profile ROM/);
    expect(r.stdout).toMatch(/--guest-output/);
    expect(x86jit('--help').stdout).toMatch(/profile ROM/);
  });

  it('run --engine jit --stats adds the JIT totals', () => {
    // Translation inline, as by default (on binaryen's worker a slow machine could end the guest before
    // binaryen has loaded, and then nothing compiles — the test must not race the worker).
    const r = x86jitEnv({ X86JIT_JIT_BACKGROUND: '0' }, 'run', '--engine', 'jit', '--stats', join(ROMS, 'loops.elf'));
    expect(r.status).toBe(1);
    const m = /^x86jit: jit: (\d+) regions \((\d+) live, \d+ at tier 2, \d+ blocks refused\), (\d+) instructions translated, (\d+) bytes of WASM, [\d.]+ ms translating$/m.exec(r.stderr);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![4])).toBeGreaterThan(0);
    const c = /^x86jit: jit: (\d+) calls ran (\d+) instructions in compiled code \(([\d.]+)%\); \d+ cache hits, \d+ misses, \d+ regions from the disk cache; \d+ invalidations, \d+ fallbacks, \d+ chained transfers$/m.exec(r.stderr);
    expect(c).not.toBeNull();
    expect(Number(c![2])).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/^x86jit: jit: exits: [\w-]+ \d+/m); // kinds such as helper-break
    expect(x86jit('run', '--stats', join(ROMS, 'loops.elf')).stderr).not.toMatch(/x86jit: jit:/);
  });
});
