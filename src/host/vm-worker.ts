// The VM worker thread (bundled as dist/host-worker.js): it creates the guests the host describes, then
// runs each only in the slices the host's scheduler grants, and reports after each one. Everything a
// guest owns — its WebAssembly.Memory, JIT regions, devices — lives in this thread, so a guest that brings
// its worker down takes nothing outside it along. A VM with a thread of its own is the thread's only
// guest; VMs that share a thread are its guests side by side (the host grants one slice at a time per
// thread). When the host releases a guest (stopped, deleted) the thread destroys it (its memory serves the
// next VM of its size) and drops every reference to it; a thread left with none waits, idle, for the next —
// starting a thread costs far more than creating a VM.
import { openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type MessagePort, parentPort } from 'node:worker_threads';
import { loadBios, loadImage, loadRaw, messagePortChannel, migrateIn, migrateOut, readImageFile, snapshotId, VM, type ExitRecord } from '../node.ts';
import { BIOS_MAX } from '../loader/bios.ts';
import { sizeText } from '../loader/load-target.ts';
import type { FromWorker, ToWorker, VmCounters, WorkerInit } from './worker-protocol.ts';

const port = parentPort!;
type Message = FromWorker extends infer M ? (M extends unknown ? Omit<M, 'gen'> : never) : never;

/** One guest of this thread: its VM, and what the host said about it. */
interface Guest {
  init: WorkerInit;
  vm: VM | null;
  /** snapshotId of the last snapshot this VM wrote or was restored from (what a diff is taken against). */
  lastSnapshot: Uint8Array | null;
  /** The guest's run ended (or it migrated away): slices do nothing. */
  ended: boolean;
  /** A migration out is sending it: a release leaves the VM to it rather than destroying it. */
  migrating: boolean;
  post(m: Message, transfer?: ArrayBuffer[]): void;
}

/** The guests this thread holds, by generation. */
const guests = new Map<number, Guest>();

function counters(g: Guest): VmCounters {
  const vm = g.vm;
  return vm ? { instructions: vm.instructions, exits: vm.exitStats(), jit: vm.jitStats() } : { instructions: 0, exits: [], jit: null };
}

/**
 * This thread's CPU time in ms, from Linux's /proc/thread-self/schedstat (ns on the CPU; one pread, ~13 µs),
 * or null where there is none. A slice is charged its CPU time, not its wall time: on a machine busy with
 * other work, a slice that waited for a core has not used the VM's share.
 */
const cpuClock = ((): (() => number | null) => {
  let fd: number;
  try { fd = openSync('/proc/thread-self/schedstat', 'r'); } catch { return () => null; }
  const buf = Buffer.alloc(96);
  return () => {
    try { const n = readSync(fd, buf, 0, buf.length, 0); return Number(buf.toString('latin1', 0, n).split(' ')[0]) / 1e6; } catch { return null; }
  };
})();

/** The guest as init describes it; a failure is one line for the host's reply. */
async function create(g: Guest): Promise<VM> {
  const { init } = g, { spec } = init;
  const output = (bytes: Uint8Array): void => g.post({ t: 'output', bytes });
  const opts = { memory: spec.memory || undefined, clock: spec.clock, idle: spec.idle, engine: 'interp' as const, jit: init.jit, stdout: output, debugcon: output };
  if (init.how === 'incoming') {
    const channel = messagePortChannel(init.port! as unknown as Parameters<typeof messagePortChannel>[0]);
    try { return await migrateIn(VM, channel, opts); } finally { channel.close(); }
  }
  if (init.how === 'restore') {
    const files = init.state ? [init.state] : spec.snapshot!.map((path) => readSnapshot(path));
    const v = await VM.fromState(files, { ...opts, lazyRam: true });
    // A diff applies on a file the user has: not on a clone's state, which went from thread to thread only.
    g.lastSnapshot = init.state ? null : snapshotId(files[files.length - 1]);
    return v;
  }
  const v = new VM(opts);
  const path = spec.rom!;
  const bytes = spec.bios ? readImageFile(path, BIOS_MAX, `the ${sizeText(BIOS_MAX)} a BIOS image can have`)
    : readImageFile(path, spec.memory, `the ${sizeText(spec.memory)} of guest RAM`);
  if (spec.bios) loadBios(v, bytes);
  else if (spec.load !== undefined) loadRaw(v, bytes, { load: spec.load, entry: spec.entry!, bits: spec.bits ?? 32 });
  else loadImage(v, bytes, path, { cmdline: spec.cmdline ?? path });
  return v;
}

function readSnapshot(path: string): Uint8Array {
  try { return new Uint8Array(readFileSync(path)); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read the snapshot: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message}`);
  }
}

/** Run one granted slice of a guest and report it. */
function slice(g: Guest, ms: number): void {
  const { vm } = g, post = g.post;
  if (vm === null || g.ended) { post({ t: 'slice', used: 0, wall: 0, counters: counters(g) }); return; }
  const t0 = performance.now(), c0 = cpuClock();
  let exit: ExitRecord;
  try {
    // The budget counts instructions retired and, separately, faults and interrupts delivered (as `run
    // --max-instructions`): a guest whose fault handler faults again retires nothing and must still end.
    const limit = g.init.spec.limits.instructions;
    // returnWhenIdle: a guest halted until a timer event gives the thread back at once (to the thread's
    // other guests, and its core to other VMs) rather than sleeping in the slice; the host grants its next
    // slice when the event is due.
    exit = vm.run({ timeout: ms / 1000, holdOutput: true, returnWhenIdle: true, maxInstructions: limit === undefined ? undefined : Math.max(0, limit - Math.max(vm.instructions, vm.deliveries)) });
    if (exit.reason === 'max-instructions') exit = { ...exit, message: `the VM's budget of ${limit} instructions is used up (${vm.instructions} retired, ${vm.deliveries} faults and interrupts delivered)` };
  } catch (e) {
    // An internal error ends this VM alone, with its exit record.
    const r = vm.getRegisters();
    exit = { reason: 'unsupported', cs: r.cs, eip: r.eip, message: `internal error: ${(e as Error).message}` };
  }
  vm.flushOutput();
  const c1 = cpuClock(), wall = performance.now() - t0;
  const used = c0 !== null && c1 !== null ? c1 - c0 : wall;
  if (exit.reason === 'timeout') { post({ t: 'slice', used, wall, counters: counters(g) }); return; }
  if (exit.reason === 'idle') { post({ t: 'slice', used, wall, counters: counters(g), idleMs: exit.idleMs }); return; }
  // HLT with interrupts on and no device that will raise one: the guest waits for serial input.
  if (exit.reason === 'halt' && /interrupts enabled, but no device/.test(exit.message)) { post({ t: 'slice', used, wall, counters: counters(g), waiting: true }); return; }
  g.ended = true;
  post({ t: 'slice', used, wall, counters: counters(g), exit });
}

function snapshot(g: Guest, req: number, path: string | undefined, diff: boolean): void {
  const post = g.post;
  try {
    if (g.vm === null) throw new Error('the guest is not there yet');
    if (diff && g.lastSnapshot === null) throw new Error('a diff applies on the last snapshot file of this VM, and there is none since it was created, restored from a clone or cloned: take a full one first');
    const bytes = g.vm.saveState(diff ? { since: g.lastSnapshot! } : {});
    const saved = snapshotId(bytes);
    // Only a file is a base for the next diff; a clone's state (no path) is not (the diff would need it).
    g.lastSnapshot = path === undefined ? null : saved;
    const id = Buffer.from(saved).toString('hex');
    if (path === undefined) { post({ t: 'reply', req, ok: true, value: { bytes, id } }, [bytes.buffer as ArrayBuffer]); return; }
    // All there or not there: a temporary file renamed into place.
    const tmp = `${path}.${process.pid}.${g.init.gen}.tmp`;
    try { writeFileSync(tmp, bytes); renameSync(tmp, path); } catch (e) {
      rmSync(tmp, { force: true });
      throw new Error(`${path}: cannot write the snapshot: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    post({ t: 'reply', req, ok: true, value: { path, bytes: bytes.length, id, type: diff ? 'diff' : 'full' } });
  } catch (e) {
    post({ t: 'reply', req, ok: false, error: (e as Error).message });
  }
}

async function migrate(g: Guest, req: number, channelPort: MessagePort, maxDowntimeMs: number): Promise<void> {
  const vm = g.vm!;
  const channel = messagePortChannel(channelPort as unknown as Parameters<typeof messagePortChannel>[0]);
  const runSlice = (): ExitRecord | null => {
    // An idle guest's slice ends at once (the pages go out meanwhile) rather than sleeping until its timer.
    const e = vm.run({ maxInstructions: 1_000_000, holdOutput: true, returnWhenIdle: true });
    vm.flushOutput();
    return e.reason === 'max-instructions' || e.reason === 'idle' ? null : e;
  };
  g.migrating = true;
  const result = await migrateOut(vm, channel, { maxDowntimeMs, runSlice }).finally(() => { g.migrating = false; });
  channel.close();
  if (result.outcome === 'migrated') g.ended = true;
  g.post({ t: 'reply', req, ok: true, value: { ...result, counters: counters(g) } });
}

/** Create the guest 'init' names and say 'ready' (or 'failed', one line). */
async function start(init: WorkerInit): Promise<void> {
  const g: Guest = {
    init, vm: null, lastSnapshot: null, ended: false, migrating: false,
    post: (m, transfer = []) => { if (guests.get(init.gen) === g) port.postMessage({ ...m, gen: init.gen }, transfer); },
  };
  guests.set(init.gen, g);
  try {
    const vm = await create(g);
    if (init.spec.engine === 'jit') await vm.enableJit(init.jit);
    g.vm = vm;
    g.post({ t: 'ready', counters: counters(g), memory: vm.memory.ramSize, clock: vm.clock });
  } catch (e) {
    g.post({ t: 'failed', error: (e as Error).message.split('\n')[0] });
  }
}

port.on('message', (m: ToWorker) => {
  if (m.t === 'init') { void start(m.init); return; }
  const g = guests.get(m.gen);
  if (!g) return; // a guest already dropped
  switch (m.t) {
    case 'grant': slice(g, m.ms); break;
    case 'input': g.vm?.uart.queueInput(m.bytes); break;
    case 'snapshot': snapshot(g, m.req, m.path, m.diff); break;
    case 'migrate': void migrate(g, m.req, m.port, m.maxDowntimeMs); break;
    case 'release':
      // Drop the guest; a thread with none left waits for another. Destroyed, its memory goes to the next VM
      // of its size on this thread (memory-pool.ts: a restore or clone then allocates none) rather than
      // waiting for a GC.
      guests.delete(m.gen);
      if (!g.migrating) g.vm?.destroy();
      if (guests.size === 0) port.postMessage({ t: 'idle', gen: m.gen } satisfies FromWorker);
      break;
  }
});

// A new thread waits for its first guest.
port.postMessage({ t: 'idle', gen: 0 } satisfies FromWorker);
