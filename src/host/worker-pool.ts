// The host's spare VM threads. Starting a worker thread (a V8 isolate, Node's environment, the bundle)
// costs tens of milliseconds of CPU — far more than creating a guest in it — so the host keeps a few
// started threads ready, and a thread whose guest is gone (stopped, deleted, migrated away) drops it and
// waits for the next one instead of ending. A thread that died, or held a JIT guest (binaryen and its
// translation worker are not worth keeping), is not reused.
//
// Each thread has one set of listeners for its whole life, which pass its events to its current owner
// (removing a Worker's listeners wholesale also removes Node's own, after which its messages stop arriving).
import { Worker } from 'node:worker_threads';
import type { FromWorker } from './worker-protocol.ts';

/** Threads kept idle beyond the spares at most (those given back beyond it end): each holds ~10 MB. */
const MAX_EXTRA_IDLE = 16;

/** Who a thread's events go to while it holds a guest. */
export interface WorkerOwner {
  message(m: FromWorker): void;
  error(e: Error): void;
  exit(code: number): void;
}

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly owners = new Map<Worker, WorkerOwner | null>();
  private starting = 0;
  private closed = false;
  /** Threads started, and guests placed in a reused thread (for GET /). */
  started = 0;
  reused = 0;

  /** `spares`: threads kept started and idle, ready for the next guest. */
  constructor(private readonly url: URL, private readonly heapMb: number, readonly spares: number) {}

  private create(owner: WorkerOwner | null): Worker {
    this.started++;
    const w = new Worker(this.url, {
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb },
      stdout: true, stderr: true, // a stray console.log in a worker must not reach the host's stdout
    });
    this.owners.set(w, owner);
    w.on('message', (m: FromWorker) => this.owners.get(w)?.message(m));
    w.on('error', (e: Error) => this.owners.get(w)?.error(e));
    w.on('exit', (code: number) => {
      const owner = this.owners.get(w);
      this.owners.delete(w);
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      owner?.exit(code);
    });
    return w;
  }

  /** A thread for a guest, its events going to `owner`: an idle one if there is one, else a new one (which first says 'idle'). */
  take(owner: WorkerOwner): Worker {
    const w = this.idle.pop();
    this.refill();
    if (!w) return this.create(owner);
    this.reused++;
    this.owners.set(w, owner);
    return w;
  }

  /** Start spares, one at a time (so they do not crowd out running guests), until `spares` are idle. */
  refill(): void {
    if (this.closed || this.starting > 0 || this.idle.length >= this.spares) return;
    this.starting++;
    const done = (ok: boolean): void => {
      this.starting--;
      if (this.owners.has(w)) this.owners.set(w, null);
      if (ok && !this.closed) this.idle.push(w); else void w.terminate();
      this.refill();
    };
    const w = this.create({ message: (m) => done(m.t === 'idle'), error: () => done(false), exit: () => done(false) });
  }

  /**
   * A thread whose guests are gone (the owner has sent each its 'release'): idle at once — a thread handles
   * its messages in order, so the next guest's 'init' comes after the releases (what the thread still says
   * about an old guest carries that guest's generation, which the next owner ignores). Ended instead when
   * it cannot be reused.
   */
  give(w: Worker, reusable: boolean): void {
    if (!this.owners.has(w)) return; // it has ended
    this.owners.set(w, null);
    if (!reusable || this.closed || this.idle.length >= this.spares + MAX_EXTRA_IDLE) { void w.terminate(); return; }
    this.idle.push(w);
  }

  get idleCount(): number { return this.idle.length; }

  close(): void {
    this.closed = true;
    for (const w of this.idle.splice(0)) void w.terminate();
  }
}
