// A VM worker thread as the host holds it: the guests on it, each by its generation, and the conversation
// with the thread. A VM with a thread of its own is the only guest of its VmThread; VMs that share a
// thread are guests of one VmThread side by side. The thread's events go to the guest they name; its
// death goes to every guest on it (sharing a thread is sharing its fate).
import type { Worker } from 'node:worker_threads';
import type { SliceGroup } from './scheduler.ts';
import type { WorkerOwner, WorkerPool } from './worker-pool.ts';
import type { FromWorker, GuestMessage, ToWorker } from './worker-protocol.ts';

/** What a guest's VM hears from its thread. */
export type GuestListener = WorkerOwner;

export class VmThread implements WorkerOwner, SliceGroup {
  readonly worker: Worker;
  private readonly guests = new Map<number, GuestListener>();
  /** A guest with the JIT was here (binaryen and its translation worker are not worth keeping: the thread is not reused). */
  private heldJit = false;
  private ended = false;
  /** Guests being booted or restored on a shared thread: while there are any, it gets no slices (provisioning first). */
  private readonly creating = new Set<number>();

  constructor(private readonly pool: WorkerPool, readonly shared: boolean) {
    this.worker = pool.take(this);
  }

  get size(): number { return this.guests.size; }
  get holding(): boolean { return this.creating.size > 0; }
  get alive(): boolean { return !this.ended; }

  /**
   * Put a guest on the thread: 'init' it, and route what the thread says about it to `listener`. `holds`:
   * on a shared thread, its creation (a boot or restore: a few ms) comes before its neighbours' next
   * slices (not an incoming migration, which arrives over seconds, between them); created() ends that.
   */
  add(gen: number, listener: GuestListener, init: ToWorker & { t: 'init' }, transfer: Transferable[], jit: boolean, holds: boolean): void {
    this.guests.set(gen, listener);
    if (holds && this.shared) this.creating.add(gen);
    if (jit) this.heldJit = true;
    this.worker.postMessage(init, transfer as never);
  }

  /** Guest `gen` is created (or failed): whether the thread held slices back for it. */
  created(gen: number): boolean { return this.creating.delete(gen); }

  /** A message about guest `gen`. */
  post(gen: number, m: GuestMessage, transfer: Transferable[] = []): void {
    this.worker.postMessage({ ...m, gen }, transfer as never);
  }

  /**
   * The guest is gone from the host: the thread drops it. A thread left with no guest goes back to the
   * pool — kept for the next VM when `reusable` (it created its guests and none brought it down) and no JIT
   * guest was on it, else ended.
   */
  remove(gen: number, reusable: boolean): void {
    this.creating.delete(gen);
    if (!this.guests.delete(gen) || this.ended) return;
    this.post(gen, { t: 'release' });
    if (this.guests.size === 0) { this.ended = true; this.pool.give(this.worker, reusable && !this.heldJit); }
  }

  message(m: FromWorker): void { this.guests.get(m.gen)?.message(m); }
  error(e: Error): void { this.ended = true; for (const g of [...this.guests.values()]) g.error(e); }
  exit(code: number): void { this.ended = true; for (const g of [...this.guests.values()]) g.exit(code); }
}
