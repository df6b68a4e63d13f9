// Mutated images (tests/fuzz-images-cases.ts: bit flips, interesting bytes, random bytes, truncation,
// duplicated ranges, corrupted ELF and Multiboot headers of the test ROMs, the BIOS image, flat and
// a.out-kludge variants, random code) loaded and run under both engines: the interpreter, and the JIT at
// threshold 0 (every block translated on first sight, synchronously: deterministic). Whatever the image,
// loading may only fail with a LoadError, every run must return a documented exit record within its
// instruction and time limits, and memory must stay bounded. Some mutants also run as whole `x86jit run`
// processes: never status 70 (internal error), never a signal, at most one line on stderr.
//   X86JIT_SEED=<n|0xhex>   another seed (default fixed)    X86JIT_FUZZ_CASES=<n>   cases (default 1500)
//   X86JIT_FUZZ_CASE=<i>    case i alone: prints what it is and how each engine ended, writes its image
// Cases run on worker threads (tests/fuzz-images-worker.mjs), one per CPU up to two: a case that never
// returns is reported as a hang and its thread replaced, rather than hanging the suite.
//
// Cost: at threshold 0 every new block means translating and instantiating a WASM module, so a JIT run
// costs several interpreter runs: the interpreter runs a case for up to MAX_INSTRUCTIONS, the JIT for
// JIT_WINDOW, starting a little before the first instruction a mutation changed (FuzzCase.jitAfter; the
// interpreter runs the mutant up to there).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNum } from './env-number.ts';
import { FILL_RANGES, FILLS, type FuzzCase, type Load, loadSeeds, makeCase, type Sample } from './fuzz-images-cases.ts';

/** A line of the register dump `x86jit run` prints after a triple fault or an unsupported feature. */
const CPU_DUMP_LINE = /^(EAX|ESI|EIP|ES |CS |SS |DS |FS |GS |LDT|TR |GDT|IDT|CR0)=/;

const ROOT = join(import.meta.dirname, '..');
const BUNDLE = join(ROOT, 'dist', 'index.js');
const CLI = join(ROOT, 'dist', 'x86jit.js');
const WORKER = join(import.meta.dirname, 'fuzz-images-worker.mjs');
if (!existsSync(BUNDLE) || !existsSync(CLI)) throw new Error('dist/ is missing: run `node scripts/build.mjs` (npm test does)');
const { createVM, loadBios, loadImage } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const SEED = (parseNum('X86JIT_SEED') ?? 0xf022_1a9e) >>> 0;
const CASES = parseNum('X86JIT_FUZZ_CASES') ?? 1500;
const ONE = parseNum('X86JIT_FUZZ_CASE');

/** Small: every VM's RAM is a fresh WebAssembly.Memory, and the pages a run touches cost page faults and GC. */
const MEMORY = 4 << 20;
const MAX_INSTRUCTIONS = 20_000;
const JIT_WINDOW = 2_000;
/** Seconds per vm.run (a REP string instruction counts once per 64 Ki iterations: the count alone does not bound the time). */
const TIMEOUT = 1;
/** A run must have returned this long after it started: the timeout, and then a lot for a slow machine. */
const WALL_LIMIT_MS = (TIMEOUT + 13) * 1000;
/** No answer from a worker for this long: the case hangs. */
const WATCHDOG_MS = 60_000;
const RSS_LIMIT = 1 << 30;
const WORKERS = Math.min(2, availableParallelism());
/** Cases also run as `x86jit run` processes: loadable ones, and some the loader rejects. */
const CLI_RUNS = 16, CLI_LOAD_ERRORS = 4;

/** How `run` can end (README, src/cli/exit-status.ts); not 'until': no run here asks for it. */
const REASONS = ['debug-exit', 'max-instructions', 'timeout', 'halt', 'triple-fault', 'unsupported', 'reset', 'poweroff'];
const ENGINES = ['interp', 'jit'] as const;
type Engine = (typeof ENGINES)[number];

/** One vm.run: its exit, maxInstructions, instructions retired, faults and interrupts delivered, wall time. */
interface Leg { exit: { reason: string; status?: number; message: string; cs: number; eip: number }; max: number; instructions: number; deliveries: number; ms: number }
interface Reply {
  id: number;
  loadError?: string;
  /** The runs: one, or for the JIT the interpreter's up to jitAfter and then the JIT's. */
  legs?: Leg[];
  /** Bytes the guest wrote to the 0xe9 debug console (the CLI prints them on stderr). */
  debugcon?: number;
  /** Regions the JIT translated. */
  compiled?: number;
  /** An exception other than LoadError: where (setup, load, run, or the worker thread itself), what, and its stack. */
  stage?: string; error?: string; stack?: string;
  hung?: boolean;
}

/** The seeds' profiles: where each runs, sampled every 97 instructions (odd: not in step with short loops). */
function profile(bytes: Uint8Array, load: Load, name: string): Sample[] {
  const vm = createVM({ memory: MEMORY });
  if (load.kind === 'bios') loadBios(vm, bytes, name); else loadImage(vm, bytes, name);
  const samples: Sample[] = [];
  while (vm.instructions < MAX_INSTRUCTIONS) {
    if (vm.run({ maxInstructions: 97 }).reason !== 'max-instructions') break;
    const r = vm.getRegisters();
    samples.push({ at: vm.instructions, addr: (r.cr0 & 1 ? r.eip : (r.cs << 4) + r.eip) >>> 0 });
  }
  return samples;
}

const seeds = loadSeeds(profile);
const cases = ONE !== undefined ? [makeCase(seeds, SEED, ONE)] : Array.from({ length: CASES }, (_, i) => makeCase(seeds, SEED, i));

/** A worker thread running cases, replaced when a case hangs or kills it. */
class Runner {
  private worker!: Worker;
  private ready!: Promise<void>;
  private pending: ((r: Reply) => void) | null = null;
  constructor() { this.start(); }

  private start(): void {
    const w = new Worker(WORKER, { workerData: { bundle: BUNDLE }, resourceLimits: { maxOldGenerationSizeMb: 2048 } });
    this.worker = w;
    this.ready = new Promise((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    // Only the current thread may answer (a replaced one still reports its exit).
    const settle = (r: Reply): void => {
      if (w !== this.worker) return;
      const p = this.pending;
      this.pending = null;
      p?.(r);
    };
    w.on('message', (m: Reply) => { if ('id' in m) settle(m); });
    w.on('error', (e) => settle({ id: -1, stage: 'worker', error: `the worker thread died: ${e.message}`, stack: e.stack }));
    w.on('exit', (code) => settle({ id: -1, stage: 'worker', error: `the worker thread exited with code ${code}` }));
  }

  async run(c: FuzzCase, engine: Engine): Promise<Reply> {
    await this.ready;
    const reply = await new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => resolve({ id: c.index, hung: true }), WATCHDOG_MS);
      this.pending = (r) => { clearTimeout(timer); resolve(r); };
      this.worker.postMessage({
        id: c.index, engine, name: `case-${c.index}`, bytes: c.bytes, load: c.load, fill: FILLS[c.fill], fillRanges: FILL_RANGES,
        memory: MEMORY, maxInstructions: MAX_INSTRUCTIONS, jitAfter: c.jitAfter, jitWindow: JIT_WINDOW, timeout: TIMEOUT,
      });
    });
    if (reply.hung || reply.stage === 'worker') {
      this.pending = null;
      const old = this.worker;
      this.start();
      await old.terminate();
    }
    return reply;
  }

  stop(): Promise<number> {
    this.pending = null;
    return this.worker.terminate();
  }
}

/** What is wrong with a reply, or undefined. */
function problem(r: Reply): string | undefined {
  if (r.hung) return `no answer within ${WATCHDOG_MS / 1000} s: the run hangs`;
  if (r.error !== undefined) return `${{ setup: 'creating the VM threw', load: 'loading threw', run: 'vm.run threw' }[r.stage!] ?? ''} ${r.error}`.trim();
  // A LoadError's message is one line that starts with the image's name (src/loader/load-error.ts).
  if (r.loadError !== undefined) return /\n/.test(r.loadError) || !r.loadError.startsWith(`case-${r.id}: `) ? `LoadError message not one line naming the image: ${JSON.stringify(r.loadError)}` : undefined;
  for (const { exit: e, max, instructions: n, deliveries, ms } of r.legs!) {
    if (!REASONS.includes(e.reason)) return `undocumented exit reason ${JSON.stringify(e.reason)}`;
    if (e.reason === 'debug-exit' && !Number.isInteger(e.status)) return `debug-exit without an integer status (${e.status})`;
    if (typeof e.message !== 'string' || e.message.includes('\n')) return `exit message is not one line: ${JSON.stringify(e.message)}`;
    // The limit counts retired instructions, and deliveries of faults and interrupts (so that a fault loop ends too).
    if (n > max || deliveries > max) return `${n} instructions retired and ${deliveries} deliveries, more than maxInstructions ${max}`;
    if (e.reason === 'max-instructions' && n !== max && deliveries !== max) return `max-instructions after ${n} instructions and ${deliveries} deliveries, neither ${max}`;
    if (ms > WALL_LIMIT_MS) return `vm.run took ${(ms / 1000).toFixed(1)} s with a ${TIMEOUT} s timeout`;
  }
  return undefined;
}

const describeCase = (c: FuzzCase): string =>
  `case ${c.index}: ${c.seed}, RAM filled with ${c.fill}, mutations: ${c.mutations.join('; ') || 'none'}${c.jitAfter ? `; JIT after ${c.jitAfter} instructions` : ''}`;

interface Failure { c: FuzzCase; engine: Engine; what: string; stack?: string }

function report(f: Failure): string {
  return `${describeCase(f.c)} [${f.engine}]\n  ${f.what}\n  reproduce: X86JIT_SEED=0x${SEED.toString(16)} X86JIT_FUZZ_CASE=${f.c.index} npx vitest run tests/fuzz-images.test.ts` +
    (f.stack ? `\n  ${f.stack.split('\n').slice(0, 8).join('\n  ')}` : '');
}

/** The failures, two of each kind in full (one bug tends to fail many cases). */
function summary(list: Failure[]): string {
  const kinds = new Map<string, Failure[]>();
  for (const f of list) {
    const k = `${f.engine}: ${f.what.replace(/0x[0-9a-f]+|\d+/g, 'N')}`;
    kinds.set(k, [...(kinds.get(k) ?? []), f]);
  }
  return [...kinds.values()].map((fs) => `${fs.length} case(s) like:\n${fs.slice(0, 2).map(report).join('\n')}`).join('\n\n');
}

const replies: Record<Engine, Reply[]> = { interp: [], jit: [] };
let dir = '';
const tempDir = (): string => (dir ||= mkdtempSync(join(tmpdir(), 'x86jit-fuzz-')));
afterAll(() => { if (dir && ONE === undefined) rmSync(dir, { recursive: true, force: true }); });

/** Writes the case's image to a file; the `x86jit run` arguments for it. */
function cliArgs(c: FuzzCase, engine: Engine): string[] {
  const file = join(tempDir(), `case-${c.index}.${c.load.kind === 'bios' ? 'bin' : c.load.kind === 'raw' ? 'raw' : 'elf'}`);
  writeFileSync(file, c.bytes);
  const load = c.load.kind === 'bios' ? ['--bios'] : c.load.kind === 'raw' ? ['--load', `0x${c.load.load.toString(16)}`, '--entry', `0x${c.load.entry.toString(16)}`] : [];
  return ['run', file, ...load, '--mem', `${MEMORY >> 20}M`, '--max-instructions', String(MAX_INSTRUCTIONS), '--timeout', String(TIMEOUT), '--engine', engine];
}

describe(`mutated images (seed 0x${SEED.toString(16)}, ${cases.length} cases, both engines)`, () => {
  const rss = { start: 0, peak: 0 };

  it('load fails only with a LoadError; every run returns a documented exit within its limits', async () => {
    rss.start = rss.peak = process.memoryUsage().rss;
    const t0 = performance.now(), cpu0 = process.cpuUsage();
    const failures: Failure[] = [];
    let next = 0;
    await Promise.all(Array.from({ length: Math.min(WORKERS, cases.length) }, async () => {
      const runner = new Runner();
      for (let i = next++; i < cases.length; i = next++) {
        for (const engine of ENGINES) {
          const r = await runner.run(cases[i], engine);
          replies[engine][i] = r;
          const what = problem(r);
          if (what) failures.push({ c: cases[i], engine, what, stack: r.stack });
        }
        if (i % 32 === 0) rss.peak = Math.max(rss.peak, process.memoryUsage().rss);
      }
      await runner.stop();
    }));
    rss.peak = Math.max(rss.peak, process.memoryUsage().rss);

    const tally = (engine: Engine): string => {
      const n = new Map<string, number>();
      for (const r of replies[engine]) {
        const k = r.legs?.at(-1)?.exit.reason ?? (r.loadError !== undefined ? 'LoadError' : 'failed');
        n.set(k, (n.get(k) ?? 0) + 1);
      }
      const seconds = replies[engine].reduce((t, r) => t + (r.legs ?? []).reduce((u, l) => u + l.ms, 0), 0) / 1000;
      const compiled = engine === 'jit' ? `, ${replies.jit.filter((r) => r.compiled).length} runs translated code` : '';
      return `${engine} (${seconds.toFixed(1)} s in vm.run${compiled}): ${[...n].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`;
    };
    const cpu = process.cpuUsage(cpu0);
    console.log(`fuzz-images: ${cases.length} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s (${((cpu.user + cpu.system) / 1e6).toFixed(1)} s of CPU, ` +
      `RSS +${((rss.peak - rss.start) / 2 ** 20).toFixed(0)} MiB at most); ${tally('interp')}; ${tally('jit')}`);
    if (ONE !== undefined) {
      const c = cases[0];
      console.log(`${describeCase(c)}\n${ENGINES.map((e) => `  ${e}: ${JSON.stringify(replies[e][0])}`).join('\n')}\n` +
        `  the image through the CLI (zeroed RAM, the JIT from the start, default threshold): x86jit ${cliArgs(c, 'interp').join(' ')}`);
    }
    expect(failures.length, summary(failures)).toBe(0);
    // The JIT must have translated code in most of its runs (a JIT that compiles nothing would pass the rest).
    const jitRuns = replies.jit.filter((r) => r.legs);
    if (jitRuns.length >= 100) expect(jitRuns.filter((r) => r.compiled! > 0).length).toBeGreaterThan(jitRuns.length / 2);
  }, 900_000);

  it('RSS grows by less than 1 GiB over the suite', () => {
    expect(rss.peak - rss.start).toBeLessThan(RSS_LIMIT);
  });
});

/** `node dist/x86jit.js ...`, asynchronously (so that the vitest worker stays responsive). */
function x86jit(args: string[]): Promise<{ status: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], timeout: WATCHDOG_MS });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    p.on('close', (status, signal) => resolve({ status, signal, stderr }));
  });
}

describe.skipIf(ONE !== undefined)('mutated images through `x86jit run`', () => {
  it(`${CLI_RUNS} runs and ${CLI_LOAD_ERRORS} load errors: no internal error, no signal, at most one line on stderr`, async () => {
    // Cases that loaded and did not write to the debug console (it goes to stderr), those with zeroed RAM
    // (as the CLI has it) first, alternately under each engine; and cases the loader rejected.
    const ran = cases.filter((c, i) => replies.interp[i]?.legs && replies.interp[i].debugcon === 0);
    const loaded = [...ran.filter((c) => c.fill === 'zero'), ...ran.filter((c) => c.fill !== 'zero')].slice(0, CLI_RUNS);
    const rejected = cases.filter((c, i) => replies.interp[i]?.loadError !== undefined).slice(0, CLI_LOAD_ERRORS);
    expect(loaded.length).toBeGreaterThan(0);
    const jobs = [...loaded, ...rejected].map((c, k) => ({ c, engine: (k % 2 === 0 ? 'interp' : 'jit') as Engine }));
    const bad: string[] = [];
    // Two processes at a time: most of each one's time is Node starting up.
    await Promise.all([0, 1].map(async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) {
        const { c, engine } = job, args = cliArgs(c, engine);
        const r = await x86jit(args);
        // A triple fault or an unsupported feature is one line, then the register dump (cpu-dump.ts's lines).
        const lines = r.stderr.split('\n').filter((l) => l !== '' && !((r.status === 10 || r.status === 12) && CPU_DUMP_LINE.test(l)));
        const why = r.status === null ? `killed by ${r.signal}` : r.status === 70 ? 'internal error (status 70)'
          : /\n\s+at /.test(r.stderr) ? 'a stack trace on stderr'
          : r.status % 2 === 0 && lines.length > 1 ? `${lines.length} lines on stderr` : undefined;
        if (why) bad.push(`${describeCase(c)}: ${why}\n  x86jit ${args.join(' ')}\n  ${lines.slice(0, 6).join('\n  ')}`);
      }
    }));
    expect(bad, bad.join('\n')).toEqual([]);
  }, 300_000);
});
