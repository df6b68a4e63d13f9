// A VM's worker thread (bundled as dist/host-worker.js): it creates the guest the host describes, then
// runs it only in the slices the host's scheduler grants, and reports after each one. Everything the guest
// owns — its WebAssembly.Memory, JIT regions, devices — lives in this thread, so a guest that brings its
// worker down takes nothing else with it. It holds one guest at a time: when the host releases the VM
// (stopped, deleted) the thread drops every reference to it and waits, idle, for the next one — starting a
// thread costs far more than creating a VM.
import { openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { loadBios, loadImage, loadRaw, messagePortChannel, migrateIn, migrateOut, readImageFile, snapshotId, VM, type ExitRecord } from '../index.ts';
import { BIOS_MAX } from '../loader/bios.ts';
import { sizeText } from '../loader/load-target.ts';
import type { FromWorker, ToWorker, VmCounters, WorkerInit } from './worker-protocol.ts';

/** The guest this thread holds now (set by 'init'). */
let init: WorkerInit = workerData as WorkerInit;
const port = parentPort!;
type Message = FromWorker extends infer M ? (M extends unknown ? Omit<M, 'gen'> : never) : never;
const post = (m: Message, transfer: ArrayBuffer[] = []): void => port.postMessage({ ...m, gen: init?.gen ?? 0 }, transfer);

let vm: VM | null = null;
/** snapshotId of the last snapshot this VM wrote or was restored from (what a diff is taken against). */
let lastSnapshot: Uint8Array | null = null;
let ended = false;

function counters(): VmCounters {
  return { instructions: vm!.instructions, exits: vm!.exitStats(), jit: vm!.jitStats() };
}

const output = (bytes: Uint8Array): void => post({ t: 'output', bytes });

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
async function create(): Promise<VM> {
  const { spec } = init;
  const opts = { memory: spec.memory || undefined, clock: spec.clock, engine: 'interp' as const, jit: init.jit, stdout: output, debugcon: output };
  if (init.how === 'restore') {
    const files = init.state ? [init.state] : spec.snapshot!.map((path) => readSnapshot(path));
    const v = await VM.fromState(files, { ...opts, lazyRam: true });
    // A diff applies on a file the user has: not on a clone's state, which went from thread to thread only.
    lastSnapshot = init.state ? null : snapshotId(files[files.length - 1]);
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

/** Run one granted slice and report it. */
function slice(ms: number): void {
  if (vm === null || ended) { post({ t: 'slice', used: 0, wall: 0, counters: vm ? counters() : { instructions: 0, exits: [], jit: null } }); return; }
  const t0 = performance.now(), c0 = cpuClock();
  let exit: ExitRecord;
  try {
    // The budget counts instructions retired and, separately, faults and interrupts delivered (as `run
    // --max-instructions`): a guest whose fault handler faults again retires nothing and must still end.
    const limit = init.spec.limits.instructions;
    exit = vm.run({ timeout: ms / 1000, holdOutput: true, maxInstructions: limit === undefined ? undefined : Math.max(0, limit - Math.max(vm.instructions, vm.deliveries)) });
    if (exit.reason === 'max-instructions') exit = { ...exit, message: `the VM's budget of ${limit} instructions is used up (${vm.instructions} retired, ${vm.deliveries} faults and interrupts delivered)` };
  } catch (e) {
    // An internal error ends this VM alone, with its exit record.
    const r = vm.getRegisters();
    exit = { reason: 'unsupported', cs: r.cs, eip: r.eip, message: `internal error: ${(e as Error).message}` };
  }
  vm.flushOutput();
  const c1 = cpuClock(), wall = performance.now() - t0;
  const used = c0 !== null && c1 !== null ? c1 - c0 : wall;
  if (exit.reason === 'timeout') { post({ t: 'slice', used, wall, counters: counters() }); return; }
  // HLT with interrupts on and no device that will raise one: the guest waits for serial input.
  if (exit.reason === 'halt' && /interrupts enabled, but no device/.test(exit.message)) { post({ t: 'slice', used, wall, counters: counters(), waiting: true }); return; }
  ended = true;
  post({ t: 'slice', used, wall, counters: counters(), exit });
}

function snapshot(req: number, path: string | undefined, diff: boolean): void {
  try {
    if (diff && lastSnapshot === null) throw new Error('a diff applies on the last snapshot file of this VM, and there is none since it was created, restored from a clone or cloned: take a full one first');
    const bytes = vm!.saveState(diff ? { since: lastSnapshot! } : {});
    const saved = snapshotId(bytes);
    // Only a file is a base for the next diff; a clone's state (no path) is not (the diff would need it).
    lastSnapshot = path === undefined ? null : saved;
    const id = Buffer.from(saved).toString('hex');
    if (path === undefined) { post({ t: 'reply', req, ok: true, value: { bytes, id } }, [bytes.buffer as ArrayBuffer]); return; }
    // All there or not there: a temporary file renamed into place.
    const tmp = `${path}.${process.pid}.${init.id}.tmp`;
    try { writeFileSync(tmp, bytes); renameSync(tmp, path); } catch (e) {
      rmSync(tmp, { force: true });
      throw new Error(`${path}: cannot write the snapshot: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    post({ t: 'reply', req, ok: true, value: { path, bytes: bytes.length, id, type: diff ? 'diff' : 'full' } });
  } catch (e) {
    post({ t: 'reply', req, ok: false, error: (e as Error).message });
  }
}

async function migrate(req: number, channelPort: MessagePort, maxDowntimeMs: number): Promise<void> {
  const channel = messagePortChannel(channelPort as unknown as Parameters<typeof messagePortChannel>[0]);
  const runSlice = (): ExitRecord | null => {
    const e = vm!.run({ maxInstructions: 1_000_000, holdOutput: true });
    vm!.flushOutput();
    return e.reason === 'max-instructions' ? null : e;
  };
  const result = await migrateOut(vm!, channel, { maxDowntimeMs, runSlice });
  channel.close();
  if (result.outcome === 'migrated') ended = true;
  post({ t: 'reply', req, ok: true, value: { ...result, counters: counters() } });
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'grant': slice(m.ms); break;
    case 'input': vm?.uart.queueInput(m.bytes); break;
    case 'snapshot': snapshot(m.req, m.path, m.diff); break;
    case 'migrate': void migrate(m.req, m.port, m.maxDowntimeMs); break;
    case 'incoming': break; // handled in start()
    case 'init': init = m.init; void start(); break;
    case 'release':
      // Drop the guest (its memory goes with the next GC) and wait for another.
      vm = null; lastSnapshot = null; ended = false;
      post({ t: 'idle' });
      break;
  }
});

async function start(): Promise<void> {
  try {
    if (init.how === 'incoming') {
      const channelPort = await new Promise<MessagePort>((resolve) => {
        const on = (m: ToWorker): void => { if (m.t === 'incoming') { port.off('message', on); resolve(m.port); } };
        port.on('message', on);
      });
      const channel = messagePortChannel(channelPort as unknown as Parameters<typeof messagePortChannel>[0]);
      vm = await migrateIn(VM, channel, { memory: init.spec.memory, clock: init.spec.clock, engine: 'interp', jit: init.jit, stdout: output, debugcon: output });
      channel.close();
    } else vm = await create();
    if (init.spec.engine === 'jit') await vm.enableJit(init.jit);
    post({ t: 'ready', counters: counters(), memory: vm.memory.ramSize, clock: vm.clock });
  } catch (e) {
    post({ t: 'failed', error: (e as Error).message.split('\n')[0] });
  }
}

// Started for a guest (workerData), or as a spare the host keeps ready (then 'init' names the guest).
if (init !== null && init !== undefined) void start(); else post({ t: 'idle' });
