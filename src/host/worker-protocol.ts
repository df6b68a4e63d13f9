// The messages between the host (main thread) and a VM's worker thread. One worker holds one VM: its
// WebAssembly.Memory, its JIT regions and its devices; the host holds only this conversation with it.
import type { MessagePort } from 'node:worker_threads';
import type { JitOptions } from '../machine/vm.ts';
import type { ExitRecord } from '../machine/vm.ts';
import type { ExitCounter } from '../hv/exits.ts';
import type { JitStats } from '../cpu/accelerator-stats.ts';
import type { VmSpec } from './vm-spec.ts';

/** workerData: how the worker gets its guest. */
export interface WorkerInit {
  id: string;
  /** Which guest of the thread this is: every message the thread sends carries it (FromWorker's gen), so that a reused thread's last words about its previous guest are not taken for the next one's. */
  gen: number;
  spec: VmSpec;
  jit: JitOptions;
  /** boot: load spec.rom; restore: spec.snapshot's files (or `state`, a live VM's, for a clone), lazily; incoming: a migration on `port`. */
  how: 'boot' | 'restore' | 'incoming';
  /** A clone's source state (a full snapshot taken from the live VM). */
  state?: Uint8Array;
}

export type ToWorker =
  /** Run the guest for up to `ms` milliseconds, then report a 'slice'. */
  | { t: 'grant'; ms: number }
  /** Bytes typed on the serial line. */
  | { t: 'input'; bytes: Uint8Array }
  /** Save the VM: to `path` (full, or a diff against the last snapshot), or return the bytes (a clone). */
  | { t: 'snapshot'; req: number; path?: string; diff: boolean }
  /** Live-migrate out over `port` (a MessagePort the host relays to the destination). */
  | { t: 'migrate'; req: number; port: MessagePort; maxDowntimeMs: number }
  /** The incoming migration's channel (how 'incoming'). */
  | { t: 'incoming'; port: MessagePort }
  /** A spare thread: create this guest (as workerData would have). */
  | { t: 'init'; init: WorkerInit }
  /** The VM is gone from the host: drop the guest and wait for another (answered by 'idle'). */
  | { t: 'release' };

/** Counters a worker reports after every slice (cumulative since the VM was created). */
export interface VmCounters {
  instructions: number;
  exits: ExitCounter[];
  jit: JitStats | null;
}

export type FromWorker = { gen: number } & (
  /** The thread holds no guest and waits for 'init'. */
  | { t: 'idle' }
  /** The guest is loaded (or restored, or received) and waits for its first slice. */
  | { t: 'ready'; counters: VmCounters; memory: number; clock: 'virtual' | 'realtime' }
  /** The guest could not be created: one line (a ROM that does not load, a damaged snapshot). */
  | { t: 'failed'; error: string }
  /** A slice ended after `used` ms of the thread's CPU time and `wall` ms of wall time. `exit`: the guest ended (the VM stops); `waiting`: halted until input arrives. */
  | { t: 'slice'; used: number; wall: number; counters: VmCounters; exit?: ExitRecord; waiting?: boolean }
  /** Serial (COM1) and 0xE9 bytes, in the order the guest wrote them. */
  | { t: 'output'; bytes: Uint8Array }
  | { t: 'reply'; req: number; ok: true; value: unknown }
  | { t: 'reply'; req: number; ok: false; error: string });
