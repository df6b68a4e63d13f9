// Running the processes of one `x86jit exec`: each process is a VM of its own, and they take turns on this
// thread (cooperative time slices of SLICE instructions), the way a uniprocessor kernel shares its CPU. A
// process leaves its turn early when it waits (a pipe, wait4, poll: process.ts) or forks; the scheduler
// makes the child's VM (asynchronously: VM.create may load the JIT) and carries on. When every process
// waits and none waits with a deadline, nothing can ever change: the run ends (a deadlock, as a real
// kernel would hang). Why not a worker thread per process: pipes, wait4 and signals would then cross
// threads through shared memory and Atomics; one thread keeps them plain objects, and a shell's children
// mostly run one at a time anyway.
import { EIP } from '../cpu/state.ts';
import type { ExitRecord, VM } from '../machine/vm.ts';
import { Process, type ProcessExit } from './process.ts';
import { SI_KERNEL, SIGALRM, SIGKILL } from './signals.ts';

export interface RunLimits { maxInstructions?: number; timeout?: number }

/** Instructions a process runs before the next one's turn. */
const SLICE = 1 << 20;
const CLONE_VFORK = 0x4000, CLONE_PARENT_SETTID = 0x10_0000, CLONE_CHILD_SETTID = 0x100_0000;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * The scheduling loop. It yields a process whose fork needs a VM (the driver answers with forkDone) and
 * returns how the first process ended.
 */
function* schedule(init: Process, limits: RunLimits, pool: VmPool): Generator<Process, ProcessExit, void> {
  const started = performance.now();
  const deadline = limits.timeout !== undefined ? started + limits.timeout * 1000 : Infinity;
  const max = limits.maxInstructions ?? Infinity;
  let retired = 0;
  const stopped = (reason: 'timeout' | 'max-instructions' | 'stopped', message: string, vm: VM): ProcessExit => {
    const s = vm.cpu.s;
    return { kind: 'stopped', exit: { reason, message, cs: 0x73, eip: s[EIP] >>> 0 } as ExitRecord };
  };
  for (;;) {
    // The first process has ended: its orphans still run to their end (as under Linux, where a shell's
    // background job outlives it), and then the run is over.
    const ended = init.exitState;
    if (ended !== null && ![...init.table.processes.values()].some((p) => p.exitState === null)) return ended;
    let ran = false;
    for (const p of [...init.table.processes.values()]) {
      const now = performance.now();
      if (p.alarmAt <= now) { p.alarmAt = Infinity; p.raise(SIGALRM, { code: SI_KERNEL }); }
      if (!p.runnable) continue;
      ran = true;
      // A waiting process whose condition holds makes its call again; one that a signal interrupts takes it now.
      if (p.wake === null || !(p.wake() || now >= p.wakeAt)) p.deliverSignals();
      if (p.exitState !== null) { finish(p, init, pool); continue; }
      const before = p.vm.instructions;
      const budget = Math.min(SLICE, max - retired);
      const exit = p.vm.run({ maxInstructions: budget, timeout: deadline === Infinity ? undefined : Math.max(0.001, (deadline - performance.now()) / 1000) });
      retired += p.vm.instructions - before;
      if (p.forkRequest !== null) yield p;
      if (p.exitState !== null) { finish(p, init, pool); continue; }
      if (exit.reason === 'stopped' || (exit.reason === 'max-instructions' && retired < max)) continue;
      // A limit of the whole run (the VM's own message counts only this slice).
      if (exit.reason === 'max-instructions') return { kind: 'stopped', exit: { ...exit, message: `instruction limit reached (${retired} instructions)` } };
      if (exit.reason === 'timeout') return { kind: 'stopped', exit: { ...exit, message: `timed out after ${limits.timeout} s` } };
      // The CPU could not go on (halt, an unsupported instruction): that process ends.
      if (p === init) return { kind: 'stopped', exit };
      p.terminate(SIGKILL, `: ${exit.message}`);
      finish(p, init, pool);
    }
    if (retired >= max) return stopped('max-instructions', `instruction limit reached (${retired} instructions)`, init.vm);
    if (performance.now() > deadline) return stopped('timeout', `timed out after ${limits.timeout} s`, init.vm);
    if (!ran) {
      // Everyone waits: sleep until the earliest deadline (poll's timeout, alarm), or give up.
      let next = deadline;
      for (const p of init.table.processes.values()) if (p.exitState === null) next = Math.min(next, p.wakeAt, p.alarmAt);
      if (next === Infinity && ended !== null) return ended; // orphans waiting for ever: they are left behind
      if (next === Infinity) return stopped('stopped', 'every process is waiting for another (a deadlock: an empty pipe whose writer waits too?)', init.vm);
      const ms = next - performance.now();
      if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
    }
  }
}

/**
 * VMs of ended processes, kept for the next fork: a fresh VM costs a WebAssembly.Memory of the whole RAM,
 * a host page fault for every page the fork copies into it, and garbage collection once it goes — most of
 * a shell's time per command, measured. A reused VM's RAM is resident; only what its last process used is
 * zeroed (`extent` bytes).
 */
class VmPool {
  private readonly vms: Array<{ vm: VM; extent: number }> = [];
  put(vm: VM, extent: number): void {
    if (this.vms.length >= 8) { vm.destroy(); return; }
    vm.cpu.intercept = null;
    this.vms.push({ vm, extent });
  }
  /** A VM with its RAM all zero, or null. */
  take(): VM | null {
    const e = this.vms.pop();
    if (e === undefined) return null;
    e.vm.memory.ram.fill(0, 0, e.extent);
    return e.vm;
  }
  drain(): void { for (const e of this.vms.splice(0)) e.vm.destroy(); }
}

/** A process that ended: its VM goes to the pool (not the first process's: the caller may still read it). */
function finish(p: Process, init: Process, pool: VmPool): void {
  if (p !== init) pool.put(p.vm, p.as.extent);
}

/** Run `init` alone: a fork is -ENOSYS. */
export function runSync(init: Process, limits: RunLimits): ProcessExit {
  const pool = new VmPool();
  const loop = schedule(init, limits, pool);
  for (;;) {
    const r = loop.next();
    if (r.done) { pool.drain(); return r.value; }
    r.value.forkDone(-38);
  }
}

/** Run `init` and its children; `spawnVm` makes each child's VM (null: fork is -ENOSYS). */
export async function runAll(init: Process, limits: RunLimits, spawnVm: (() => Promise<VM>) | null): Promise<ProcessExit> {
  const pool = new VmPool();
  const loop = schedule(init, limits, pool);
  for (;;) {
    const r = loop.next();
    if (r.done) { pool.drain(); return r.value; }
    const parent = r.value;
    if (spawnVm === null) { parent.forkDone(-38); continue; }
    parent.forkDone(fork(parent, pool.take() ?? await spawnVm()));
  }
}

/** Make the child of the parent's fork request on `vm`; returns its pid (the parent's result). */
function fork(parent: Process, vm: VM): number {
  const req = parent.forkRequest!;
  const child = Process.forkFrom(parent, vm, req);
  const pid = new Uint8Array(new Uint32Array([child.pid]).buffer);
  if (req.flags & CLONE_CHILD_SETTID) child.as.write(req.ctid, pid);
  if (req.flags & CLONE_PARENT_SETTID) { parent.as.write(req.ptid, pid); child.as.write(req.ptid, pid); }
  if (req.flags & CLONE_VFORK) { child.vforkDone = false; parent.vforkChild = child; }
  return child.pid;
}
