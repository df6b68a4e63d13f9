// The VM host: many VMs in one process, each on a worker thread of its own or as one of the guests of a
// shared thread, sharing the host's cores through the scheduler and its memory through an account that
// refuses what would not fit. Every verb
// of the management API is a method here; each either does all it says or throws a HostError and changes
// nothing. A guest — or its worker dying — ends only its own VM (a shared thread's death ends its guests).
import type { MessagePort } from 'node:worker_threads';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExitRecord, JitOptions } from '../machine/vm.ts';
import { ConsoleLog } from './console-log.ts';
import { Scheduler } from './scheduler.ts';
import { WorkerPool } from './worker-pool.ts';
import { checkId, checkThread, isObject, parseCpu, parseCreate, show, SpecError, type VmSpec } from './vm-spec.ts';
import { VmThread } from './vm-thread.ts';
import type { FromWorker, GuestMessage, VmCounters, WorkerInit } from './worker-protocol.ts';

/** A request the host refuses: the HTTP status and one line. */
export class HostError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

export type VmState = 'created' | 'running' | 'paused' | 'stopped';

/** How a VM's run ended: the guest's exit record, or the host's reason (stopped, worker died, out of CPU budget). */
export type VmExit = Omit<ExitRecord, 'reason'> & { reason: ExitRecord['reason'] | 'worker-died' };

export interface HostOptions {
  /** Cores the VMs share (default: the machine's). */
  cpus: number;
  /** Guest RAM all VMs together may have, bytes. */
  memory: number;
  /** Where VM definitions (and, at shutdown, the running VMs' snapshots) are kept; none: nothing survives the host. */
  stateDir?: string;
  /** The JIT's settings for engine 'jit' VMs. */
  jit?: JitOptions;
  /** The worker script (default dist/host-worker.js next to this bundle). */
  workerUrl?: URL;
  /** Heap limit of each VM's worker, MiB (default 512): a guest that makes its worker exceed it ends alone. */
  workerHeapMb?: number;
  /** Worker threads kept started and idle for the next VMs (default 2). */
  spareWorkers?: number;
  /** Guests a shared thread holds at most (VMs with thread 'shared'; default 32). */
  vmsPerThread?: number;
}

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void }

/** One VM as the host holds it. */
class HostedVm {
  state: VmState = 'created';
  /** The thread the guest is on (none while stopped), and the guest's generation there. */
  thread: VmThread | null = null;
  gen = 0;
  /** The thread has created the guest (only then can the thread be given back to the pool for another). */
  workerReady = false;
  counters: VmCounters = { instructions: 0, exits: [], jit: null };
  cpuMs = 0;
  exit: VmExit | null = null;
  /** Halted until serial input arrives. */
  waiting = false;
  readonly console = new ConsoleLog();
  readonly pending = new Map<number, Pending>();
  /** (time, instructions) samples of the last seconds, for MIPS. */
  samples: [number, number][] = [];
  readonly createdAt = new Date().toISOString();
  /** performance.now() when the VM was asked for (create, clone, incoming, start, reset), and ms from then to its first slice. */
  requestedAt = performance.now();
  firstSliceMs: number | null = null;
  /** Instructions retired by earlier runs (before a stop/start or reset), so the counters only grow. */
  base = 0;
  constructor(readonly id: string, public spec: VmSpec) {}

  mips(now: number): number {
    const s = this.samples;
    if (this.state !== 'running' || s.length < 2) return 0;
    const [t0, i0] = s[0], [t1, i1] = s[s.length - 1];
    return t1 > t0 && now - t1 < 2000 ? (i1 - i0) / ((t1 - t0) * 1000) : 0;
  }
}

let nextReq = 1, nextGen = 1;

export class Host {
  private readonly vms = new Map<string, HostedVm>();
  readonly scheduler: Scheduler;
  private readonly pool: WorkerPool;
  /** Threads whose guests are VMs with thread 'shared'. */
  private readonly sharedThreads: VmThread[] = [];
  private closed = false;
  /** Workers that ended unexpectedly (isolation: the host goes on). */
  workerDeaths = 0;
  private readonly deadThreads = new WeakSet<VmThread>();

  constructor(readonly opts: HostOptions) {
    this.pool = new WorkerPool(opts.workerUrl ?? new URL('./host-worker.js', import.meta.url), opts.workerHeapMb ?? 512, opts.spareWorkers ?? 2);
    this.pool.refill();
    this.scheduler = new Scheduler(opts.cpus, {
      grant: (id, ms) => { const vm = this.vms.get(id); vm?.thread?.post(vm.gen, { t: 'grant', ms }); },
      now: () => performance.now(),
      setTimer: (fn, ms) => { const t = setTimeout(fn, ms); return () => clearTimeout(t); },
    });
  }

  // ---- queries ----

  ids(): string[] { return [...this.vms.keys()]; }

  get(id: string): HostedVm {
    const vm = this.vms.get(id);
    if (!vm) throw new HostError(404, `no VM '${id.slice(0, 80)}'`);
    return vm;
  }

  /** Guest RAM of the VMs that hold memory now (those with a worker). */
  memoryUsed(except?: HostedVm): number {
    let n = 0;
    for (const vm of this.vms.values()) if (vm.thread && vm !== except) n += vm.spec.memory;
    return n;
  }

  info(id: string) {
    const vm = this.get(id), now = performance.now();
    return {
      id: vm.id,
      state: vm.state,
      waiting: vm.waiting,
      sleeping: this.scheduler.isSleeping(vm.id),
      source: vm.spec.rom !== undefined ? { rom: vm.spec.rom } : { snapshot: vm.spec.snapshot },
      memory: vm.spec.memory,
      engine: vm.spec.engine,
      clock: vm.spec.clock,
      idle: vm.spec.idle,
      ...(vm.spec.cmdline !== undefined ? { cmdline: vm.spec.cmdline } : {}),
      cpu: vm.spec.cpu,
      thread: vm.spec.thread,
      limits: vm.spec.limits,
      instructions: vm.base + vm.counters.instructions,
      mips: Number(vm.mips(now).toFixed(2)),
      cpuSeconds: Number((vm.cpuMs / 1000).toFixed(3)),
      exits: Object.fromEntries(vm.counters.exits.map((e) => [e.reason, e.count])),
      jit: vm.counters.jit,
      consoleBytes: vm.console.total,
      /** From the request that created (or started, or reset) the VM to the start of its first slice: what provisioning costs. */
      startLatencyMs: vm.firstSliceMs === null ? null : Number(vm.firstSliceMs.toFixed(1)),
      exit: vm.exit,
      createdAt: vm.createdAt,
    };
  }

  hostInfo() {
    const states: Record<VmState, number> = { created: 0, running: 0, paused: 0, stopped: 0 };
    for (const vm of this.vms.values()) states[vm.state]++;
    return {
      cpus: this.opts.cpus, memory: this.opts.memory, memoryUsed: this.memoryUsed(), vms: this.vms.size, states, workerDeaths: this.workerDeaths,
      workers: { started: this.pool.started, reused: this.pool.reused, idle: this.pool.idleCount, shared: this.sharedThreads.length },
      stateDir: this.opts.stateDir ?? null,
    };
  }

  // ---- verbs ----

  /** PUT /vms/{id}: define the VM and create its guest (a worker with the ROM loaded or the snapshot opened). */
  async create(id: string, body: unknown): Promise<HostedVm> {
    this.checkOpen();
    try { checkId(id); } catch (e) { throw new HostError(400, (e as Error).message); }
    let parsed;
    try { parsed = parseCreate(body); } catch (e) { if (e instanceof SpecError) throw new HostError(400, e.message); throw e; }
    if (this.vms.has(id)) throw new HostError(409, `VM '${id}' exists already (DELETE it first, or choose another id)`);
    const vm = new HostedVm(id, parsed.spec);
    this.checkPin(vm);
    this.reserve(vm);
    this.vms.set(id, vm);
    try {
      await this.spawn(vm, { how: parsed.spec.snapshot ? 'restore' : 'boot' });
    } catch (e) {
      this.vms.delete(id);
      throw e;
    }
    this.saveDefinition(vm);
    if (parsed.start) this.start(id);
    return vm;
  }

  start(id: string): Promise<void> | void {
    const vm = this.get(id);
    if (vm.state === 'created') { vm.requestedAt = performance.now(); this.setState(vm, 'running'); return; }
    if (vm.state === 'stopped') {
      this.checkPin(vm);
      this.reserve(vm);
      return this.respawn(vm, 'running');
    }
    throw new HostError(409, `VM '${id}' is ${vm.state}; start applies to a created or stopped VM (${vm.state === 'paused' ? 'resume it' : 'it runs already'})`);
  }

  pause(id: string): void {
    const vm = this.get(id);
    if (vm.state !== 'running') throw new HostError(409, `VM '${id}' is ${vm.state}; only a running VM can be paused`);
    this.setState(vm, 'paused');
  }

  resume(id: string): void {
    const vm = this.get(id);
    if (vm.state !== 'paused') throw new HostError(409, `VM '${id}' is ${vm.state}; only a paused VM can be resumed`);
    this.setState(vm, 'running');
  }

  /** Stop: the guest is gone (its RAM freed); the definition stays, and `start` boots it afresh. */
  stop(id: string): void {
    const vm = this.get(id);
    if (vm.state === 'stopped') throw new HostError(409, `VM '${id}' is stopped already`);
    this.end(vm, { reason: 'stopped', cs: 0, eip: 0, message: 'stopped through the API' });
  }

  /** Reset: a new guest from the definition (a hard reset); a running VM goes on running. */
  async reset(id: string): Promise<void> {
    const vm = this.get(id);
    if (vm.state === 'stopped') throw new HostError(409, `VM '${id}' is stopped; start it instead`);
    const was = vm.state;
    this.kill(vm);
    this.reserve(vm);
    await this.respawn(vm, was === 'running' ? 'running' : 'created');
  }

  async action(id: string, body: unknown): Promise<void> {
    const actions = ['start', 'pause', 'resume', 'stop', 'reset'];
    if (!isObject(body) || typeof body.action !== 'string' || !actions.includes(body.action) || Object.keys(body).length !== 1) {
      throw new HostError(400, `expected {"action": "start" | "pause" | "resume" | "stop" | "reset"}, got ${show(body)}`);
    }
    this.get(id);
    switch (body.action) {
      case 'start': await this.start(id); break;
      case 'pause': this.pause(id); break;
      case 'resume': this.resume(id); break;
      case 'stop': this.stop(id); break;
      case 'reset': await this.reset(id); break;
    }
  }

  /** PATCH /vms/{id}: change CPU shares while the VM runs (as writing cpu.weight / cpu.max). */
  update(id: string, body: unknown): void {
    const vm = this.get(id);
    if (!isObject(body) || body.cpu === undefined || Object.keys(body).some((k) => k !== 'cpu')) throw new HostError(400, `expected {"cpu": {...}} (only CPU shares change on a live VM), got ${show(body)}`);
    if (isObject(body.cpu) && Object.keys(body.cpu).length === 0) throw new HostError(400, 'cpu: nothing to change (give weight, max or pin)');
    let cpu;
    try { cpu = parseCpu(body.cpu, vm.spec.cpu); checkThread({ cpu, thread: vm.spec.thread }); } catch (e) { if (e instanceof SpecError) throw new HostError(400, e.message); throw e; }
    const was = vm.spec.cpu;
    vm.spec = { ...vm.spec, cpu };
    try { this.checkPin(vm); } catch (e) { vm.spec = { ...vm.spec, cpu: was }; throw e; }
    this.scheduler.update(id, cpu);
    this.saveDefinition(vm);
  }

  delete(id: string): void {
    const vm = this.get(id);
    this.kill(vm);
    this.vms.delete(id);
    vm.console.close();
    if (this.opts.stateDir) for (const f of [`${id}.json`, `${id}.snap`]) rmSync(join(this.vmDir(), f), { force: true });
  }

  /** PUT /vms/{id}/snapshot: the VM saved between two slices (it keeps running). */
  async snapshot(id: string, body: unknown): Promise<unknown> {
    const vm = this.get(id);
    if (!isObject(body) || typeof body.path !== 'string' || body.path === '' || body.path.includes('\0') || Object.keys(body).some((k) => k !== 'path' && k !== 'type')
      || (body.type !== undefined && body.type !== 'full' && body.type !== 'diff')) {
      throw new HostError(400, `expected {"path": FILE, "type": "full" | "diff"}, got ${show(body)}`);
    }
    if (!vm.thread) throw new HostError(409, `VM '${id}' is stopped: there is no guest to save`);
    return this.request(vm, { t: 'snapshot', req: 0, path: body.path, diff: body.type === 'diff' }, 400);
  }

  /** POST /vms/{id}/clone: a new VM from the live one's state, RAM copied in lazily; it runs if `start`. */
  async clone(id: string, body: unknown): Promise<HostedVm> {
    this.checkOpen();
    const src = this.get(id);
    if (!isObject(body) || typeof body.id !== 'string' || Object.keys(body).some((k) => k !== 'id' && k !== 'start') || (body.start !== undefined && typeof body.start !== 'boolean')) {
      throw new HostError(400, `expected {"id": NEW_ID, "start": true | false}, got ${show(body)}`);
    }
    try { checkId(body.id); } catch (e) { throw new HostError(400, (e as Error).message); }
    if (this.vms.has(body.id)) throw new HostError(409, `VM '${body.id}' exists already`);
    if (!src.thread) throw new HostError(409, `VM '${id}' is stopped: there is no guest to clone`);
    const copy = new HostedVm(body.id, { ...src.spec, cpu: { ...src.spec.cpu, pin: false } });
    this.reserve(copy);
    const { bytes } = await this.request(src, { t: 'snapshot', req: 0, diff: false }, 500) as { bytes: Uint8Array };
    // Checked again: other requests ran while the source saved its state.
    if (this.vms.has(body.id)) throw new HostError(409, `VM '${body.id}' exists already`);
    this.reserve(copy);
    this.vms.set(copy.id, copy);
    try { await this.spawn(copy, { how: 'restore', state: bytes }); } catch (e) { this.vms.delete(copy.id); throw e; }
    this.saveDefinition(copy);
    if (body.start ?? src.state === 'running') this.setState(copy, 'running');
    return copy;
  }

  /** POST /vms/{id}/console: bytes typed on the serial line; a VM waiting for input runs again. */
  input(id: string, bytes: Uint8Array): void {
    const vm = this.get(id);
    if (!vm.thread) throw new HostError(409, `VM '${id}' is stopped: nothing reads the console`);
    vm.thread.post(vm.gen, { t: 'input', bytes });
    if (vm.waiting) { vm.waiting = false; if (vm.state === 'running') this.scheduler.setRunnable(vm.id, true); }
    this.scheduler.wake(vm.id);
  }

  /**
   * Live-migrate the VM out over `port` (relayed to the destination host): its worker runs the pre-copy
   * and its own slices meanwhile (outside the scheduler). Migrated: the VM leaves this host. Failed: it runs on here.
   */
  async migrateOut(id: string, port: MessagePort, maxDowntimeMs: number): Promise<Record<string, unknown>> {
    const vm = this.get(id);
    if (!vm.thread || vm.state === 'created') throw new HostError(409, `VM '${id}' is ${vm.state}; only a running or paused VM migrates`);
    this.scheduler.setRunnable(vm.id, false);
    let result: Record<string, unknown> & { outcome: string; counters?: VmCounters };
    try {
      result = await this.request(vm, { t: 'migrate', req: 0, port, maxDowntimeMs }, 500, [port]) as typeof result;
    } finally {
      if (this.vms.get(id) === vm && vm.thread) this.scheduler.setRunnable(vm.id, vm.state === 'running' && !vm.waiting);
    }
    if (result.counters) vm.counters = result.counters;
    delete result.counters;
    if (result.outcome === 'migrated') this.delete(id);
    else if (result.outcome === 'guest-ended') this.end(vm, result.exit as VmExit);
    return result;
  }

  /**
   * Receive a VM another host migrates here. The checks (id free, memory, pinning) are made at once and
   * throw HostError; the returned promise settles when the guest has arrived (over `port`) and runs in the state it had there.
   */
  incoming(id: string, spec: VmSpec, state: VmState, port: MessagePort): Promise<HostedVm> {
    this.checkOpen();
    try { checkId(id); } catch (e) { throw new HostError(400, (e as Error).message); }
    if (this.vms.has(id)) throw new HostError(409, `VM '${id}' exists already on the destination`);
    const vm = new HostedVm(id, spec);
    this.checkPin(vm);
    this.reserve(vm);
    this.vms.set(id, vm);
    return this.spawn(vm, { how: 'incoming', port }).then(() => {
      this.saveDefinition(vm);
      this.setState(vm, state === 'paused' ? 'paused' : 'running');
      return vm;
    }, (e: unknown) => { this.vms.delete(id); throw e; });
  }

  // ---- the host's life ----

  /** Read the definitions --state-dir keeps; a VM that was running at shutdown comes back paused from its snapshot. */
  async restoreDefinitions(): Promise<string[]> {
    if (!this.opts.stateDir) return [];
    mkdirSync(this.vmDir(), { recursive: true });
    const notes: string[] = [];
    for (const f of readdirSync(this.vmDir()).filter((n) => n.endsWith('.json')).sort()) {
      const id = f.slice(0, -5);
      try {
        const saved = JSON.parse(readFileSync(join(this.vmDir(), f), 'utf8')) as { spec: unknown; resume?: string };
        const { spec } = parseCreate(saved.spec);
        const vm = new HostedVm(checkId(id), spec);
        vm.state = 'stopped';
        this.vms.set(id, vm);
        const snap = join(this.vmDir(), `${id}.snap`);
        if ((saved.resume === 'running' || saved.resume === 'paused') && existsSync(snap)) {
          this.reserve(vm);
          await this.spawn(vm, { how: 'restore', spec: { ...spec, rom: undefined, snapshot: [snap] } });
          this.setState(vm, 'paused');
          notes.push(`${id}: restored paused from the snapshot taken at shutdown (it was ${saved.resume})`);
        }
        this.saveDefinition(vm);
      } catch (e) {
        notes.push(`${id}: not restored: ${(e as Error).message.split('\n')[0]}`);
      }
    }
    return notes;
  }

  /**
   * Stop every VM. With --state-dir, a VM that is running or paused is first saved to DIR/vms/ID.snap (so
   * the next host can resume it); returns one line per VM saved or not saved.
   */
  async shutdown(): Promise<string[]> {
    this.closed = true;
    const notes: string[] = [];
    for (const vm of this.vms.values()) {
      if ((vm.state === 'running' || vm.state === 'paused') && vm.thread && this.opts.stateDir) {
        const was = vm.state;
        this.setState(vm, 'paused');
        try {
          await this.request(vm, { t: 'snapshot', req: 0, path: join(this.vmDir(), `${vm.id}.snap`), diff: false }, 500);
          this.saveDefinition(vm, was);
          notes.push(`${vm.id}: saved (${was})`);
        } catch (e) { notes.push(`${vm.id}: not saved: ${(e as Error).message}`); }
      }
      this.kill(vm);
      vm.console.close();
    }
    this.scheduler.close();
    this.pool.close();
    return notes;
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new HostError(503, 'the host is shutting down');
  }

  private checkPin(vm: HostedVm): void {
    if (vm.spec.cpu.pin && this.scheduler.pinnedCount(vm.id) + 1 >= this.opts.cpus) {
      throw new HostError(409, `cpu.pin: the host has ${this.opts.cpus} CPUs and ${this.scheduler.pinnedCount(vm.id)} pinned VMs; a pinned VM must leave at least one CPU to the others`);
    }
  }

  /** Refuse a VM whose RAM would not fit beside the others' (409, saying how much is free). */
  private reserve(vm: HostedVm): void {
    const used = this.memoryUsed(vm), mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
    if (used + vm.spec.memory > this.opts.memory) {
      throw new HostError(409, `not enough host memory: VM '${vm.id}' needs ${mib(vm.spec.memory)}, ${mib(this.opts.memory - used)} of the host's ${mib(this.opts.memory)} are free`);
    }
  }

  private setState(vm: HostedVm, state: VmState): void {
    vm.state = state;
    if (state === 'running') vm.samples = [];
    this.scheduler.setRunnable(vm.id, state === 'running' && !vm.waiting);
  }

  private async respawn(vm: HostedVm, state: VmState): Promise<void> {
    vm.requestedAt = performance.now();
    vm.firstSliceMs = null;
    vm.base += vm.counters.instructions;
    vm.counters = { instructions: 0, exits: [], jit: null };
    vm.exit = null;
    vm.waiting = false;
    await this.spawn(vm, { how: vm.spec.snapshot ? 'restore' : 'boot' });
    this.setState(vm, state);
  }

  /** Put the VM's guest on a thread (its own, or a shared one) and wait until it is ready (or refuse with the thread's one line). */
  private spawn(vm: HostedVm, how: { how: WorkerInit['how']; state?: Uint8Array; spec?: VmSpec; port?: MessagePort }): Promise<void> {
    const gen = nextGen++;
    const init: WorkerInit = { id: vm.id, gen, spec: how.spec ?? vm.spec, jit: this.opts.jit ?? {}, how: how.how, state: how.state, port: how.port };
    const thread = vm.spec.thread === 'shared' ? this.sharedThread() : new VmThread(this.pool, false);
    vm.thread = thread;
    vm.gen = gen;
    vm.workerReady = false;
    const mine = (): boolean => vm.thread === thread && vm.gen === gen;
    const unhold = (): void => { if (thread.created(gen)) this.scheduler.dispatch(); };
    const transfer: Transferable[] = [...(how.state ? [how.state.buffer as ArrayBuffer] : []), ...(how.port ? [how.port] : [])];
    const done = new Promise<void>((resolve, reject) => {
      let ready = false;
      thread.add(gen, {
        message: (m) => {
          if (!mine()) return;
          if (m.t === 'ready' || m.t === 'failed') unhold();
          if (m.t === 'ready') {
            vm.counters = m.counters;
            if (vm.spec.clock === undefined) vm.spec = { ...vm.spec, clock: m.clock };
            // A snapshot's guest: its RAM is known now, and must fit.
            if (vm.spec.memory === 0) {
              vm.spec = { ...vm.spec, memory: m.memory };
              try { this.reserve(vm); } catch (e) { this.kill(vm); reject(e); return; }
            }
            ready = true;
            vm.workerReady = true;
            resolve();
            return;
          }
          if (m.t === 'failed') { this.kill(vm); reject(new HostError(400, m.error)); return; }
          this.onMessage(vm, m);
        },
        error: (e) => {
          if (!mine()) return;
          unhold();
          if (!ready) { this.kill(vm, true); reject(new HostError(500, `the VM's worker failed while creating the guest: ${e.message}`)); return; }
          this.workerDied(vm, (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY' ? `the VM's worker ran out of its ${this.opts.workerHeapMb ?? 512} MiB heap` : `the VM's worker failed: ${e.message}`);
        },
        exit: (code) => {
          if (!mine()) return;
          unhold();
          if (!ready) { this.kill(vm, true); reject(new HostError(500, `the VM's worker exited (${code}) while creating the guest`)); return; }
          this.workerDied(vm, `the VM's worker exited unexpectedly (code ${code})`);
        },
      }, { t: 'init', init }, transfer, vm.spec.engine === 'jit', how.how !== 'incoming');
    });
    // A shared thread runs one of its guests at a time: the scheduler grants it one slice at a time.
    this.scheduler.add(vm.id, vm.spec.cpu, thread.shared ? thread : null);
    return done;
  }

  /**
   * The shared thread for the next guest: a new one while there are fewer than the host's cores (so that
   * shared VMs can use them all), else the one with the fewest guests, else (all full) a new one.
   */
  private sharedThread(): VmThread {
    for (let i = this.sharedThreads.length - 1; i >= 0; i--) if (!this.sharedThreads[i].alive) this.sharedThreads.splice(i, 1);
    const perThread = this.opts.vmsPerThread ?? 32;
    let best: VmThread | null = null;
    for (const t of this.sharedThreads) if (t.size < perThread && (best === null || t.size < best.size)) best = t;
    if (best && this.sharedThreads.length >= this.opts.cpus) return best;
    const t = new VmThread(this.pool, true);
    this.sharedThreads.push(t);
    return t;
  }

  private onMessage(vm: HostedVm, m: FromWorker): void {
    switch (m.t) {
      case 'output': vm.console.append(m.bytes); break;
      case 'slice': {
        vm.counters = m.counters;
        vm.cpuMs += m.used;
        const now = performance.now();
        // The slice began its wall time ago (its CPU time, `used`, is less when its thread waited for a core).
        if (vm.firstSliceMs === null) vm.firstSliceMs = now - m.wall - vm.requestedAt;
        vm.samples.push([now, m.counters.instructions]);
        while (vm.samples.length > 2 && now - vm.samples[1][0] > 1000) vm.samples.shift();
        const budget = vm.spec.limits.cpuSeconds;
        if (m.exit) { this.scheduler.sliceDone(vm.id, m.used); this.end(vm, m.exit); return; }
        if (budget !== undefined && vm.cpuMs >= budget * 1000) {
          this.scheduler.sliceDone(vm.id, m.used);
          this.end(vm, { reason: 'timeout', cs: 0, eip: 0, message: `the VM's budget of ${budget} CPU seconds is used up` });
          return;
        }
        if (m.waiting) { vm.waiting = true; this.scheduler.setRunnable(vm.id, false); }
        if (m.idleMs !== undefined) this.scheduler.sleep(vm.id, m.idleMs);
        this.scheduler.sliceDone(vm.id, m.used);
        break;
      }
      case 'reply': {
        const p = vm.pending.get(m.req);
        if (!p) return;
        vm.pending.delete(m.req);
        if (m.ok) p.resolve(m.value); else p.reject(new Error(m.error));
        break;
      }
    }
  }

  /** Ask the worker something and wait for its reply; a refusal becomes HostError(status). */
  request(vm: HostedVm, msg: Extract<GuestMessage, { req: number }>, status: number, transfer: Transferable[] = []): Promise<unknown> {
    const thread = vm.thread;
    if (!thread) return Promise.reject(new HostError(409, `VM '${vm.id}' has no guest`));
    const req = nextReq++;
    return new Promise((resolve, reject) => {
      vm.pending.set(req, { resolve, reject: (e) => reject(e instanceof HostError ? e : new HostError(status, e.message)) });
      thread.post(vm.gen, { ...msg, req }, transfer);
    });
  }

  /** The run ended (guest exit, stop, budget): the worker goes, its RAM with it; the console's log stays. */
  private end(vm: HostedVm, exit: VmExit): void {
    this.kill(vm);
    vm.exit = exit;
    vm.state = 'stopped';
    // Whoever follows the console is told the guest is gone (as `virsh console` ends with the domain); the log stays.
    vm.console.close();
  }

  private workerDied(vm: HostedVm, message: string): void {
    // Counted once per thread (the guests of a shared thread all end with it).
    if (vm.thread && !this.deadThreads.has(vm.thread)) { this.deadThreads.add(vm.thread); this.workerDeaths++; }
    this.kill(vm, true);
    this.end(vm, { reason: 'worker-died', cs: 0, eip: 0, message });
  }

  /** Take the guest off its thread (if any) and the VM off the scheduler; pending requests fail. */
  private kill(vm: HostedVm, died = false): void {
    const thread = vm.thread;
    vm.thread = null;
    vm.waiting = false;
    for (const p of vm.pending.values()) p.reject(new HostError(409, `VM '${vm.id}' stopped before it answered`));
    vm.pending.clear();
    // A thread whose guest was still being created, or that died, is not reused (VmThread also ends one that held a JIT guest).
    thread?.remove(vm.gen, vm.workerReady && !died);
    vm.workerReady = false;
    // After the thread let go of it: a shared thread that held slices back for this guest's creation gives them out again.
    this.scheduler.remove(vm.id);
  }

  private vmDir(): string { return join(this.opts.stateDir!, 'vms'); }

  /** Keep the definition (and, at shutdown, the state it was in) under --state-dir, written whole. */
  private saveDefinition(vm: HostedVm, resume?: VmState): void {
    if (!this.opts.stateDir || !this.vms.has(vm.id)) return;
    const { spec } = vm;
    const body = { spec: { ...spec, limits: spec.limits }, ...(resume ? { resume } : {}) };
    const path = join(this.vmDir(), `${vm.id}.json`), tmp = `${path}.tmp`;
    mkdirSync(this.vmDir(), { recursive: true });
    writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`);
    renameSync(tmp, path);
  }
}

export type { HostedVm };
