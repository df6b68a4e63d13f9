// Host bench (the VM host's issue): N small VMs provisioned from one snapshot through a real `x86jit host`
// process and its REST API over the Unix socket, as a user would — how many are created and running per
// second per core, the time from the PUT to each guest's first instruction, aggregate MIPS and Jain's
// fairness index while they all run, and the host's resident memory per VM (idle and running), with how
// much of it is guest memory. Then where provisioning time and memory go, measured in this process with
// the host's own worker script.
//   npm run build && node --expose-gc dist/host-bench.js
//   X86JIT_HOST_BENCH_VMS   sizes to run, default "16,64,256"
//   X86JIT_HOST_BENCH_SECONDS  run phase per size, default 5
//   X86JIT_HOST_BENCH_INFLIGHT PUT requests in flight while provisioning, default 8
//   X86JIT_HOST_BENCH_SPARES   0: skip provisioning each N again from a host with N workers started ahead (then into them, warm)
//   X86JIT_HOST_BENCH_THREADS  which VMs to provision, default "own,shared": each on a thread of its own, and as guests of shared threads
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { VM } from '../src/node.ts';
import { DEFAULT_CPU, type VmSpec } from '../src/host/vm-spec.ts';
import type { FromWorker, ToWorker } from '../src/host/worker-protocol.ts';

const SIZES = (process.env.X86JIT_HOST_BENCH_VMS ?? '16,64,256').split(',').map(Number);
const SECONDS = Number(process.env.X86JIT_HOST_BENCH_SECONDS ?? 5);
const INFLIGHT = Number(process.env.X86JIT_HOST_BENCH_INFLIGHT ?? 8);
/** Also provision each N from a host with N spare workers started ahead (0: not). */
const SPARES = process.env.X86JIT_HOST_BENCH_SPARES !== '0';
type ThreadKind = 'own' | 'shared';
const THREADS = (process.env.X86JIT_HOST_BENCH_THREADS ?? 'own,shared').split(',') as ThreadKind[];
const CPUS = availableParallelism();
const DIST = import.meta.dirname;
const ROM = join(DIST, '..', 'test-roms', 'wl-crc32.elf');
const GUEST_MEMORY = 16 * 2 ** 20;
const MiB = 2 ** 20;
/** Firecracker's published figures (its SPECIFICATION.md), not measured here. */
const FIRECRACKER = { perCoreSecond: 5, overheadMiB: 5, startMs: 125 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const quantile = (xs: number[], q: number): number => { const s = sorted(xs); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const median = (xs: number[]): number => quantile(xs, 0.5);
/** Jain's fairness index: (Σx)² / (n·Σx²); 1 when all get the same, 1/n when one gets everything. */
const jain = (xs: number[]): number => { const s = xs.reduce((a, b) => a + b, 0), q = xs.reduce((a, b) => a + b * b, 0); return q === 0 ? 1 : (s * s) / (xs.length * q); };

/** Clock ticks of /proc (USER_HZ: 100 on Linux, whatever the kernel's HZ). */
const TICKS = 100;
/** utime + stime of a /proc stat line, in seconds. */
function statCpu(path: string): number {
  const f = readFileSync(path, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / TICKS;
}
/** CPU seconds of the host process's threads: its main thread, its other own threads (HostProcess.ownThreads), and the rest (the VMs' worker threads). */
function threadCpu(pid: number, own: ReadonlySet<string>): { main: number; helpers: number; workers: number } {
  let main = 0, helpers = 0, workers = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let c: number;
    try { c = statCpu(`/proc/${pid}/task/${tid}/stat`); } catch { continue; } // ended meanwhile
    if (tid === String(pid)) main += c; else if (own.has(tid)) helpers += c; else workers += c;
  }
  return { main, helpers, workers };
}
/** CPU seconds the whole machine has been busy (/proc/stat: all but idle and iowait). */
function machineBusy(): number {
  const [, ...t] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (t.reduce((a, b) => a + b, 0) - t[3] - t[4]) / TICKS;
}
/** CPU seconds of this process (the bench's HTTP client). */
const selfCpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
/** CPU use over a phase, in cores: the host's own threads, its VMs' worker threads, and every other process on the machine (not this one). */
function cpuMeter(pid: number, own: ReadonlySet<string>): () => { workers: number; main: number; helpers: number; others: number; wall: number } {
  const t = performance.now(), h = threadCpu(pid, own), m = machineBusy(), me = selfCpu();
  return () => {
    const wall = (performance.now() - t) / 1000, h1 = threadCpu(pid, own);
    const main = h1.main - h.main, helpers = h1.helpers - h.helpers, workers = h1.workers - h.workers;
    const others = Math.max(0, machineBusy() - m - main - helpers - workers - (selfCpu() - me));
    return { workers: workers / wall, main: main / wall, helpers: helpers / wall, others: others / wall, wall };
  };
}

interface VmInfo { id: string; state: string; instructions: number; cpuSeconds: number; startLatencyMs: number | null; error?: string }

/** A `x86jit host` process on a socket of its own, and an HTTP client for its API. */
class HostProcess {
  readonly socket: string;
  readonly child: ChildProcess;
  // A connection per request, as curl makes: the API closes a connection idle for 5 s (keepAliveTimeout),
  // and a kept-alive socket reused just then fails with "socket hang up".
  private readonly agent = new Agent({ keepAlive: false, maxSockets: 64 });
  private stderr = '';

  constructor(dir: string, name: string, memory: number, extra: string[] = []) {
    this.socket = join(dir, `${name}.sock`);
    this.child = spawn(process.execPath, [join(DIST, 'x86jit.js'), 'host', '--socket', this.socket, '--cpus', String(CPUS), '--memory', `${Math.ceil(memory / MiB)}M`, ...extra],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
  }

  /** Wait for "serving" on stderr. */
  async ready(): Promise<void> {
    for (let i = 0; i < 300 && !/serving/.test(this.stderr); i++) {
      if (this.child.exitCode !== null) break;
      await sleep(20);
    }
    if (!/serving/.test(this.stderr)) throw new Error(`the host did not start: ${this.stderr.trim()}`);
  }

  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const data = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socket, agent: this.agent, method, path, headers: data === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => { const t = Buffer.concat(chunks).toString('utf8'); resolve({ status: res.statusCode!, body: t === '' ? null : JSON.parse(t) }); });
      });
      req.on('error', (e) => reject(new Error(`${method} ${path}: ${e.message}${this.child.exitCode !== null || this.child.signalCode !== null ? `; the host ended (${this.child.exitCode ?? this.child.signalCode}): ${this.stderr.trim().split('\n').slice(-3).join(' / ')}` : ''}`)));
      req.end(data);
    });
  }

  async ok(method: string, path: string, body?: unknown): Promise<any> {
    const r = await this.call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body?.error ?? ''}`);
    return r.body;
  }

  async vms(): Promise<VmInfo[]> { return (await this.ok('GET', '/vms')).vms; }

  /** Wait until the host has `spares` worker threads started and idle (its pool); returns the threads it has started. */
  async spares(spares: number): Promise<number> {
    for (;;) {
      const { workers } = await this.ok('GET', '/');
      if (workers.idle >= spares) return workers.started;
      await sleep(100);
    }
  }

  /**
   * The host's own threads (its main thread, V8's platform threads that compile optimised code and help the
   * garbage collector for every isolate, libuv's): all it has but the `workers` newest (its worker threads
   * so far). Threads are all named "node", hence the split by when they started.
   */
  ownThreads(workers: number): Set<string> {
    const pid = this.child.pid!;
    const started = readdirSync(`/proc/${pid}/task`).map((tid) => {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      return { tid, start: Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[19]) };
    }).sort((a, b) => a.start - b.start || Number(a.tid) - Number(b.tid));
    return new Set(started.slice(0, started.length - workers).map((t) => t.tid));
  }

  /** The host process's resident memory (all its threads: the API, the scheduler and every VM's worker). */
  rss(): number { return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))![1]) * 1024; }

  /**
   * Resident bytes of the VMs' WebAssembly memories (state block, TLB, page flags, guest RAM, code map),
   * from /proc/PID/smaps: V8 maps each wasm32 memory as its accessible part (rw-p) followed at once by
   * a PROT_NONE guard reservation, together ≥ 8 GiB; nothing else in the process looks like that.
   */
  wasmResident(): { count: number; bytes: number } {
    const vmas: { start: number; end: number; perms: string; rss: number }[] = [];
    for (const line of readFileSync(`/proc/${this.child.pid}/smaps`, 'utf8').split('\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) /.exec(line);
      if (m) { vmas.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], rss: 0 }); continue; }
      const r = /^Rss:\s+(\d+) kB/.exec(line);
      if (r && vmas.length > 0) vmas[vmas.length - 1].rss = Number(r[1]) * 1024;
    }
    let count = 0, bytes = 0;
    for (let i = 0; i + 1 < vmas.length; i++) {
      const a = vmas[i], g = vmas[i + 1];
      if (a.perms === 'rw-p' && g.perms === '---p' && g.start === a.end && g.end - a.start >= 8 * 2 ** 30) { count++; bytes += a.rss; }
    }
    return { count, bytes };
  }

  /** Memory maps of the process (vm.max_map_count bounds them). */
  maps(): number { return readFileSync(`/proc/${this.child.pid}/maps`, 'utf8').split('\n').length - 1; }

  async stop(): Promise<void> {
    this.agent.destroy();
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000)]);
    if (this.child.exitCode === null) { this.child.kill('SIGKILL'); await exited; }
  }
}

/** Run `fn` over `items` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => { while (next < items.length) await fn(items[next++]); }));
}

/** The golden snapshot: wl-crc32 (repeat=10000: ~70 G instructions, it never ends here) in 16 MiB, run a little, saved, deleted. */
async function makeSnapshot(dir: string): Promise<{ path: string; bytes: number; storedPages: number }> {
  const host = new HostProcess(dir, 'golden', 64 * MiB);
  try {
    await host.ready();
    await host.ok('PUT', '/vms/golden', { rom: ROM, cmdline: 'repeat=10000', memory: '16M', start: true });
    for (let i = 0; i < 500 && (await host.ok('GET', '/vms/golden')).instructions < 5_000_000; i++) await sleep(20);
    const path = join(dir, 'golden.snap');
    const saved = await host.ok('PUT', '/vms/golden/snapshot', { path });
    await host.ok('DELETE', '/vms/golden');
    // Pages the snapshot stores (non-zero RAM): what a clone copies in lazily, at most, before writing new pages.
    const storedPages = (await VM.fromState(new Uint8Array(readFileSync(path)), { lazyRam: true })).memory.pendingPages;
    return { path, bytes: saved.bytes, storedPages };
  } finally { await host.stop(); }
}

/** Cores in use: the VMs' worker threads, the host's main thread, its other threads (V8's compiler and GC helpers), other processes; the VMs' slices as the host counts them. */
interface CpuUse { workers: number; main: number; helpers: number; others: number; slices: number }

interface SizeResult {
  vms: number;
  /** The VMs' thread: 'own' (a worker each) or 'shared' (guests of shared threads, the host's --vms-per-thread default). */
  thread: ThreadKind;
  provisionedPerSecond: number;
  perCorePerSecond: number;
  provisionSeconds: number;
  startLatencyMs: { median: number; p95: number; max: number };
  putMs: { median: number; p95: number };
  aggregateMips: number;
  jainInstructions: number;
  jainCpu: number;
  rss: { none: number; idle: number; running: number };
  perVm: { idle: number; running: number };
  wasmPerVm: { idle: number; running: number };
  maps: number;
  /** CPU use while provisioning and in the run phase (slices: the CPU time the host charged them, its workers' schedstat). */
  provisionCpu: CpuUse;
  runCpu: CpuUse;
  /** Each VM's share of the run phase (JSON only): instructions and CPU ms, in the order of creation. */
  runPhase: { instructions: number[]; cpuMs: number[] };
}

/** N PUTs with start:true, INFLIGHT at a time, until every VM has begun its first slice. */
async function provision(host: HostProcess, snapshot: string, n: number, own: ReadonlySet<string>, thread: ThreadKind = 'own') {
  const ids = Array.from({ length: n }, (_, i) => `vm${String(i).padStart(3, '0')}`);
  const putMs: number[] = [];
  let error: string | undefined;
  const t0 = performance.now(), meter = cpuMeter(host.child.pid!, own);
  await pool(ids, INFLIGHT, async (id) => {
    if (error) return;
    const t = performance.now();
    const r = await host.call('PUT', `/vms/${id}`, { snapshot: [snapshot], memory: '16M', thread, start: true });
    putMs.push(performance.now() - t);
    if (r.status !== 201) error ??= `PUT /vms/${id}: ${r.status} ${r.body?.error ?? ''}`;
  });
  if (error) throw new Error(error);
  let infos = await host.vms();
  while (infos.some((v) => v.startLatencyMs === null)) { await sleep(20); infos = await host.vms(); }
  const seconds = (performance.now() - t0) / 1000, c = meter();
  const notRunning = infos.filter((v) => v.state !== 'running');
  if (notRunning.length > 0) throw new Error(`${notRunning.length} VMs are not running after provisioning (${notRunning[0].id}: ${notRunning[0].state})`);
  const latencies = infos.map((v) => v.startLatencyMs!);
  return {
    ids, seconds,
    startLatencyMs: { median: median(latencies), p95: quantile(latencies, 0.95), max: Math.max(...latencies) },
    putMs: { median: median(putMs), p95: quantile(putMs, 0.95) },
    cpu: { workers: c.workers, main: c.main, helpers: c.helpers, others: c.others, slices: infos.reduce((x, v) => x + v.cpuSeconds, 0) / c.wall },
  };
}

async function runSize(dir: string, snapshot: string, n: number, thread: ThreadKind): Promise<SizeResult> {
  const host = new HostProcess(dir, `host-${n}-${thread}`, n * GUEST_MEMORY + 64 * MiB);
  try {
    await host.ready();
    // The host as it starts: its spare worker threads (--spare-workers, default 2) started and idle.
    const own = host.ownThreads(await host.spares(2));
    await sleep(500);
    const rssNone = host.rss();
    const p = await provision(host, snapshot, n, own, thread);
    const { ids } = p;

    // Idle: all paused (a slice out finishes first), then the host left alone for a second.
    await pool(ids, INFLIGHT, async (id) => { await host.ok('PUT', `/vms/${id}/actions`, { action: 'pause' }); });
    await sleep(1000);
    const rssIdle = host.rss(), wasmIdle = host.wasmResident();

    // Running: all resumed, counters read at the start and the end of the run phase.
    await pool(ids, INFLIGHT, async (id) => { await host.ok('PUT', `/vms/${id}/actions`, { action: 'resume' }); });
    await sleep(200);
    const a = await host.vms(), ta = performance.now(), runMeter = cpuMeter(host.child.pid!, own);
    await sleep(SECONDS * 1000);
    const b = await host.vms(), tb = performance.now(), rc = runMeter();
    const rssRunning = host.rss(), wasmRunning = host.wasmResident(), maps = host.maps();
    const before = new Map(a.map((v) => [v.id, v]));
    const dInstr = b.map((v) => v.instructions - before.get(v.id)!.instructions);
    const dCpu = b.map((v) => v.cpuSeconds - before.get(v.id)!.cpuSeconds);
    const wall = (tb - ta) / 1000;
    if (wasmIdle.count !== n || wasmRunning.count !== n) throw new Error(`found ${wasmIdle.count} / ${wasmRunning.count} WebAssembly memories in smaps, expected ${n}`);
    return {
      vms: n,
      thread,
      provisionedPerSecond: n / p.seconds,
      perCorePerSecond: n / p.seconds / CPUS,
      provisionSeconds: p.seconds,
      startLatencyMs: p.startLatencyMs,
      putMs: p.putMs,
      aggregateMips: dInstr.reduce((x, y) => x + y, 0) / wall / 1e6,
      jainInstructions: jain(dInstr),
      jainCpu: jain(dCpu),
      rss: { none: rssNone, idle: rssIdle, running: rssRunning },
      perVm: { idle: (rssIdle - rssNone) / n, running: (rssRunning - rssNone) / n },
      wasmPerVm: { idle: wasmIdle.bytes / n, running: wasmRunning.bytes / n },
      maps,
      provisionCpu: p.cpu,
      runCpu: { workers: rc.workers, main: rc.main, helpers: rc.helpers, others: rc.others, slices: dCpu.reduce((x, y) => x + y, 0) / wall },
      runPhase: { instructions: dInstr, cpuMs: dCpu.map((x) => Math.round(x * 1000)) },
    };
  } finally { await host.stop(); }
}

interface SparesResult {
  vms: number;
  /** Seconds the host took to start its N spare threads (one at a time) before the first PUT. */
  fillSeconds: number;
  provisionedPerSecond: number;
  perCorePerSecond: number;
  startLatencyMs: { median: number; p95: number; max: number };
  putMs: { median: number; p95: number };
  provisionCpu: CpuUse;
  /** The N VMs deleted, and N made again: into the same threads, warm now (a thread whose guest is gone waits for the next). */
  reused: { provisionedPerSecond: number; perCorePerSecond: number; startLatencyMs: { median: number; p95: number; max: number }; putMs: { median: number; p95: number }; provisionCpu: CpuUse; reusedWorkers: number };
}

/** Provisioning only, from a host that has started N spare worker threads ahead (--spare-workers N): the worker's cost paid before the PUTs. */
async function runSpares(dir: string, snapshot: string, n: number): Promise<SparesResult> {
  const host = new HostProcess(dir, `spares-${n}`, n * GUEST_MEMORY + 64 * MiB, ['--spare-workers', String(n)]);
  try {
    const t = performance.now();
    await host.ready();
    const own = host.ownThreads(await host.spares(n));
    const fillSeconds = (performance.now() - t) / 1000;
    await sleep(500);
    const p = await provision(host, snapshot, n, own);
    // All deleted and made again: the threads wait for their next guest, and take it warm (their isolates
    // have run the bundle and the interpreter). Meanwhile the host starts spares again, one at a time, as
    // it does after the first PUTs took them: that runs beside both provisionings.
    await pool(p.ids, INFLIGHT, async (id) => { await host.ok('DELETE', `/vms/${id}`); });
    await sleep(1000);
    const before = (await host.ok('GET', '/')).workers.reused;
    const q = await provision(host, snapshot, n, own);
    const reusedWorkers = (await host.ok('GET', '/')).workers.reused - before;
    return {
      vms: n, fillSeconds, provisionedPerSecond: n / p.seconds, perCorePerSecond: n / p.seconds / CPUS, startLatencyMs: p.startLatencyMs, putMs: p.putMs, provisionCpu: p.cpu,
      reused: { provisionedPerSecond: n / q.seconds, perCorePerSecond: n / q.seconds / CPUS, startLatencyMs: q.startLatencyMs, putMs: q.putMs, provisionCpu: q.cpu, reusedWorkers },
    };
  } finally { await host.stop(); }
}

// ---- where provisioning time and memory go (in this process, with the host's own worker script) ----

/** Node's share: a worker that only says it has started (its clock is its own: timeOrigin + now). */
const BARE = `const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => {}); parentPort.postMessage(performance.timeOrigin + performance.now());`;
/** The VM's share, step by step, as vm-worker.ts does it (the library bundle stands in for host-worker.js, its size). */
const STEPS = (index: string, snap: string) => `
const { parentPort } = require('node:worker_threads'); const { readFileSync } = require('node:fs');
const at = () => performance.timeOrigin + performance.now();
(async () => {
  const t = [at()]; const { VM } = await import(${JSON.stringify(index)}); t.push(at());
  const s = new Uint8Array(readFileSync(${JSON.stringify(snap)})); t.push(at());
  const vm = await VM.fromState([s], { memory: ${GUEST_MEMORY}, lazyRam: true, stdout() {} }); t.push(at());
  vm.run({ maxInstructions: 1 }); t.push(at());
  parentPort.postMessage(t);
})();`;

interface Profile {
  runs: number;
  bareStartMs: number;
  bundleMs: number;
  readMs: number;
  fromStateMs: number;
  firstInstructionMs: number;
  hostWorkerReadyMs: number;
  hostWorkerFirstSliceMs: number;
  cpuMsPerWorker: number;
  bareCpuMsPerWorker: number;
  rssPerBareWorker: number;
  rssPerHostWorker: number;
  inThread: { createMs: number; rssPerVm: number };
  /** A fresh worker's interpreter speed by how much CPU it has had: [from s, to s, MIPS]. */
  warmUp: [number, number, number][];
}

async function profile(snapshot: string): Promise<Profile> {
  const runs = 9;
  const bare: number[] = [], steps: number[][] = [], ready: number[] = [], firstSlice: number[] = [];
  const now = () => performance.timeOrigin + performance.now();
  const spec: VmSpec = { snapshot: [snapshot], memory: GUEST_MEMORY, engine: 'interp', clock: 'virtual', idle: 'sleep', cpu: DEFAULT_CPU, thread: 'own', limits: {} };
  // A host worker with its guest asked for at once (the thread takes the 'init' once it has started).
  const hostWorker = (id: string): Worker => {
    const w = new Worker(new URL('./host-worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 512 }, stdout: true, stderr: true });
    w.postMessage({ t: 'init', init: { id, gen: 1, spec, jit: {}, how: 'restore' } } satisfies ToWorker);
    return w;
  };
  // The next message of a worker (a host worker's 'idle', which it says when it has started, is not one).
  const next = (w: Worker) => new Promise<any>((resolve, reject) => {
    const ok = (m: { t?: string }) => { if (m?.t === 'idle') return; w.off('message', ok); w.off('error', fail); resolve(m); };
    const fail = (e: Error) => { w.off('message', ok); reject(e); };
    w.on('message', ok); w.once('error', fail);
  });
  for (let i = 0; i < runs; i++) {
    let t = now(), w = new Worker(BARE, { eval: true });
    bare.push((await next(w)) - t); await w.terminate();
    t = now(); w = new Worker(STEPS(new URL('./node.js', import.meta.url).pathname, snapshot), { eval: true });
    const s: number[] = await next(w); steps.push([s[0] - t, ...s.slice(1).map((x, k) => x - s[k])]); await w.terminate();
    t = now(); w = hostWorker(`p${i}`);
    const m: FromWorker = await next(w);
    if (m.t !== 'ready') throw new Error(`host-worker: ${JSON.stringify(m)}`);
    ready.push(now() - t);
    w.postMessage({ t: 'grant', gen: 1, ms: 1 } satisfies ToWorker);
    let r: FromWorker; do r = await next(w); while (r.t !== 'slice');
    firstSlice.push(now() - t - r.wall); await w.terminate();
  }
  // Warm-up: each worker is an isolate of its own, so V8 compiles the interpreter afresh in each; its speed
  // by the CPU time the VM has had, in 10 ms slices as the host grants them.
  const curves: [number, number][][] = [];
  for (let k = 0; k < 3; k++) {
    const w = hostWorker(`warm${k}`);
    const samples: [number, number][] = [[0, ((await next(w)) as { counters: { instructions: number } }).counters.instructions]];
    for (let cpu = 0; cpu < 2000;) {
      w.postMessage({ t: 'grant', gen: 1, ms: 10 } satisfies ToWorker);
      let r: FromWorker; do r = await next(w); while (r.t !== 'slice');
      cpu += r.used;
      samples.push([cpu, r.counters.instructions]);
    }
    await w.terminate();
    curves.push(samples);
  }
  const at = (samples: [number, number][], ms: number) => samples.find((x) => x[0] >= ms) ?? samples[samples.length - 1];
  const warmUp = ([[0, 0.05], [0.05, 0.2], [0.2, 0.5], [0.5, 1], [1, 2]] as const).map(([a, b]): [number, number, number] => [a, b, median(curves.map((c) => {
    const [c0, i0] = at(c, a * 1000), [c1, i1] = at(c, b * 1000);
    return (i1 - i0) / (c1 - c0) / 1000;
  }))]);
  // CPU and resident memory per worker: 16 kept alive at once, made 4 at a time.
  const cpuAndRss = async (make: (i: number) => Worker) => {
    await sleep(300);
    const c0 = process.cpuUsage(), r0 = process.memoryUsage().rss, kept: Worker[] = [];
    await pool([...Array(16).keys()], 4, async (i) => { const w = make(i); await next(w); kept.push(w); });
    await sleep(300);
    const c = process.cpuUsage(c0), rss = (process.memoryUsage().rss - r0) / 16;
    await Promise.all(kept.map((w) => w.terminate()));
    return { cpuMs: (c.user + c.system) / 1000 / 16, rss };
  };
  const bareCost = await cpuAndRss(() => new Worker(BARE, { eval: true }));
  const hostCost = await cpuAndRss((i) => hostWorker(`q${i}`));
  // The same VMs in this thread, no worker each: what many VMs per worker would cost.
  const file = new Uint8Array(readFileSync(snapshot));
  await VM.fromState(file, { lazyRam: true });
  // Garbage collected before and after (npm run bench passes --expose-gc), so that the difference is the VMs'.
  const gc = async () => { for (let i = 0; i < 3; i++) { (globalThis as { gc?: () => void }).gc?.(); await sleep(100); } };
  await gc();
  const r0 = process.memoryUsage().rss, kept: VM[] = [], created: number[] = [];
  for (let i = 0; i < 32; i++) {
    const t = performance.now();
    const vm = await VM.fromState(file, { memory: GUEST_MEMORY, lazyRam: true, stdout() {} });
    vm.run({ maxInstructions: 1 });
    created.push(performance.now() - t);
    vm.run({ maxInstructions: 2_000_000 });
    kept.push(vm);
  }
  await gc();
  const rssPerVm = (process.memoryUsage().rss - r0) / kept.length;
  const col = (k: number) => median(steps.map((s) => s[k]));
  return {
    runs, bareStartMs: median(bare), bundleMs: col(1), readMs: col(2), fromStateMs: col(3), firstInstructionMs: col(4),
    hostWorkerReadyMs: median(ready), hostWorkerFirstSliceMs: median(firstSlice),
    cpuMsPerWorker: hostCost.cpuMs, bareCpuMsPerWorker: bareCost.cpuMs, rssPerBareWorker: bareCost.rss, rssPerHostWorker: hostCost.rss,
    inThread: { createMs: median(created.slice(1)), rssPerVm },
    warmUp,
  };
}

function report(results: SizeResult[], spares: SparesResult[], failures: { vms: number; error: string }[], snap: { bytes: number; storedPages: number }, p: Profile): string {
  const mib = (b: number) => (b / MiB).toFixed(1);
  const lines = [
    `Host bench: wl-crc32.elf (repeat=10000) in 16 MiB, one full snapshot (${(snap.bytes / 1024).toFixed(0)} KiB, ${snap.storedPages} non-zero pages = ${(snap.storedPages * 4)} KiB of guest RAM),`,
    `N VMs from it with start:true through \`x86jit host --cpus ${CPUS}\` (a fresh host per N, its default 2 spare workers started), ${INFLIGHT} PUTs in flight, then ${SECONDS} s all running (engine interp);`,
    'each VM on a worker thread of its own (`"thread": "own"`, the default), or as a guest of threads the VMs share (`"thread": "shared"`, up to 32 per thread, at least one thread per core).',
    '',
    '| VMs | created and running per s (per core) | PUT → first instruction, ms (median / p95) | aggregate MIPS | Jain (instructions / CPU time) | host RSS with 0 VMs | RSS per VM, idle / running | of it guest memory resident, idle / running |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.vms}, ${r.thread === 'own' ? 'a thread each' : 'shared threads'} | ${r.provisionedPerSecond.toFixed(1)} (${r.perCorePerSecond.toFixed(1)}) | ${r.startLatencyMs.median.toFixed(0)} / ${r.startLatencyMs.p95.toFixed(0)} | ${r.aggregateMips.toFixed(1)} | ${r.jainInstructions.toFixed(3)} / ${r.jainCpu.toFixed(3)} | ${mib(r.rss.none)} MiB | ${mib(r.perVm.idle)} / ${mib(r.perVm.running)} MiB | ${(r.wasmPerVm.idle / 1024).toFixed(0)} / ${(r.wasmPerVm.running / 1024).toFixed(0)} KiB |`),
    ...failures.map((f) => `| ${f.vms} | failed: ${f.error} | | | | | | |`),
    ...spares.flatMap((r) => [
      `| ${r.vms}, all ${r.vms} workers started ahead (\`--spare-workers ${r.vms}\`: ${r.fillSeconds.toFixed(1)} s before the first PUT) | ${r.provisionedPerSecond.toFixed(1)} (${r.perCorePerSecond.toFixed(1)}) | ${r.startLatencyMs.median.toFixed(0)} / ${r.startLatencyMs.p95.toFixed(0)} | | | | | |`,
      `| ${r.vms} deleted and made again in the same, now warm, workers (${r.reused.reusedWorkers} reused) | ${r.reused.provisionedPerSecond.toFixed(1)} (${r.reused.perCorePerSecond.toFixed(1)}) | ${r.reused.startLatencyMs.median.toFixed(0)} / ${r.reused.startLatencyMs.p95.toFixed(0)} | | | | | |`,
    ]),
    `| Firecracker (published, not measured here) | ${FIRECRACKER.perCoreSecond * CPUS} (${FIRECRACKER.perCoreSecond}) | ~${FIRECRACKER.startMs} (to guest init) | | | | ≤ ${FIRECRACKER.overheadMiB} MiB (beside guest RAM) | |`,
    '| target (issue) | ≥ 50 per core | | | | | ≤ 5 MiB beside guest RAM | |',
    '',
    `Where the CPU went, in cores of ${CPUS}: the VMs' worker threads / the host's main thread / its other threads (V8's compiler and GC helpers, shared by all isolates) / other processes on the machine; and the VMs' slices as the host charges them (their threads' CPU time):`,
    '| VMs | provisioning | slices | run phase | slices |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => {
      const c = (x: CpuUse) => `${[x.workers, x.main, x.helpers, x.others].map((v) => v.toFixed(2)).join(' / ')} | ${x.slices.toFixed(2)}`;
      return `| ${r.vms}, ${r.thread === 'own' ? 'a thread each' : 'shared threads'} | ${c(r.provisionCpu)} | ${c(r.runCpu)} |`;
    }),
    ...spares.flatMap((r) => [[`${r.vms}, workers started ahead`, r.provisionCpu], [`${r.vms}, made again in warm workers`, r.reused.provisionCpu]] as const).map(([what, x]) =>
      `| ${what} | ${[x.workers, x.main, x.helpers, x.others].map((v) => v.toFixed(2)).join(' / ')} | ${x.slices.toFixed(2)} | | |`),
    '',
    `Where provisioning goes (this process, median of ${p.runs}; a VM's worker is the host's own dist/host-worker.js):`,
    '| step | ms |', '| --- | ---: |',
    `| Node worker thread start (new Worker → its first line runs) | ${p.bareStartMs.toFixed(1)} |`,
    `| load the bundle (dist/node.js and its chunk, ~the size of host-worker.js) | ${p.bundleMs.toFixed(1)} |`,
    `| read the snapshot file | ${p.readMs.toFixed(1)} |`,
    `| VM.fromState, lazy RAM | ${p.fromStateMs.toFixed(1)} |`,
    `| first instruction (a cold isolate's first run) | ${p.firstInstructionMs.toFixed(1)} |`,
    `| host-worker.js: new Worker → ready / → first slice begins | ${p.hostWorkerReadyMs.toFixed(1)} / ${p.hostWorkerFirstSliceMs.toFixed(1)} |`,
    `| CPU per VM worker made (16, 4 at a time; all threads) / per bare worker | ${p.cpuMsPerWorker.toFixed(0)} / ${p.bareCpuMsPerWorker.toFixed(0)} |`,
    `| resident memory per VM worker / per bare worker | ${mib(p.rssPerHostWorker)} / ${mib(p.rssPerBareWorker)} MiB |`,
    `| the same VM made in one thread, no worker of its own: fromState + first instruction / resident memory each | ${p.inThread.createMs.toFixed(1)} ms / ${mib(p.inThread.rssPerVm)} MiB |`,
    '',
    'A fresh worker\'s interpreter speed by the CPU time its VM has had, 10 ms slices (median of 3 workers; V8 compiles the interpreter afresh in each worker\'s isolate):',
    `| CPU seconds | ${p.warmUp.map(([a, b]) => `${a}–${b}`).join(' | ')} |`,
    `| --- | ${p.warmUp.map(() => '---:').join(' | ')} |`,
    `| MIPS | ${p.warmUp.map(([, , m]) => m.toFixed(1)).join(' | ')} |`,
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-host-bench-'));
  try {
    const snap = await makeSnapshot(dir);
    const results: SizeResult[] = [], spares: SparesResult[] = [], failures: { vms: number; error: string }[] = [];
    const failed = (n: number, e: unknown) => failures.push({ vms: n, error: (e as Error).message.replace(/\s+/g, ' ') });
    for (const n of SIZES) {
      for (const thread of THREADS) try { results.push(await runSize(dir, snap.path, n, thread)); } catch (e) { failed(n, e); }
      if (SPARES) try { spares.push(await runSpares(dir, snap.path, n)); } catch (e) { failed(n, e); }
    }
    const prof = await profile(snap.path);
    process.stdout.write(report(results, spares, failures, snap, prof));
    writeFileSync(join(DIST, '..', 'bench', 'host-results.json'), `${JSON.stringify({
      date: new Date().toISOString(), node: process.version, cpus: CPUS, inflight: INFLIGHT, seconds: SECONDS,
      snapshot: { bytes: snap.bytes, storedPages: snap.storedPages }, sizes: results, sparesStartedAhead: spares, failures, profile: prof,
      firecrackerPublished: FIRECRACKER,
    }, null, 1)}\n`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

await main();
