// The messages between the host (main thread) and a VM worker thread. A thread holds one guest (a VM
// with a thread of its own) or several (VMs that share a thread): each guest's WebAssembly.Memory, JIT
// regions and devices; the host holds only this conversation with it. Every message about a guest names
// it by its generation (`gen`, unique in the host's life), in both directions.
import type { MessagePort } from 'node:worker_threads';
import type { JitOptions } from '../machine/vm.ts';
import type { ExitRecord } from '../machine/vm.ts';
import type { ExitCounter } from '../hv/exits.ts';
import type { JitStats } from '../cpu/accelerator-stats.ts';
import type { VmSpec } from './vm-spec.ts';

/** What 'init' gives a thread: the guest to create. */
export interface WorkerInit {
  id: string;
  /** Which guest this is: every message about it carries it, so that a thread's last words about a guest it dropped are not taken for the next one's. */
  gen: number;
  spec: VmSpec;
  jit: JitOptions;
  /** boot: load spec.rom; restore: spec.snapshot's files (or `state`, a live VM's, for a clone), lazily; incoming: a migration on `port`. */
  how: 'boot' | 'restore' | 'incoming';
  /** A clone's source state (a full snapshot taken from the live VM). */
  state?: Uint8Array;
  /** The incoming migration's channel (how 'incoming'). */
  port?: MessagePort;
}

export type ToWorker =
  /** Create this guest (answered by 'ready' or 'failed'). */
  | { t: 'init'; init: WorkerInit }
  | { gen: number } & (
    /** Run the guest for up to `ms` milliseconds, then report a 'slice'. */
    | { t: 'grant'; ms: number }
    /** Bytes typed on the serial line. */
    | { t: 'input'; bytes: Uint8Array }
    /** Save the VM: to `path` (full, or a diff against the last snapshot), or return the bytes (a clone). */
    | { t: 'snapshot'; req: number; path?: string; diff: boolean }
    /** Live-migrate out over `port` (a MessagePort the host relays to the destination). */
    | { t: 'migrate'; req: number; port: MessagePort; maxDowntimeMs: number }
    /** The VM is gone from the host: drop the guest (a thread left with none says 'idle' and waits for the next). */
    | { t: 'release' });

/** A message about one guest before it is addressed (VmThread.post adds the guest's gen). */
export type GuestMessage = ToWorker extends infer M ? (M extends { gen: number } ? Omit<M, 'gen'> : never) : never;

/** Counters a worker reports after every slice (cumulative since the VM was created). */
export interface VmCounters {
  instructions: number;
  exits: ExitCounter[];
  jit: JitStats | null;
}

export type FromWorker = { gen: number } & (
  /** The thread holds no guest and waits for 'init' (gen: the last guest it dropped, or 0). */
  | { t: 'idle' }
  /** The guest is loaded (or restored, or received) and waits for its first slice. */
  | { t: 'ready'; counters: VmCounters; memory: number; clock: 'virtual' | 'realtime' }
  /** The guest could not be created: one line (a ROM that does not load, a damaged snapshot). */
  | { t: 'failed'; error: string }
  /**
   * A slice ended after `used` ms of the thread's CPU time and `wall` ms of wall time. `exit`: the guest
   * ended (the VM stops); `waiting`: halted until input arrives; `idleMs`: halted until a timer event that
   * far away on the host clock (or input, whichever comes first).
   */
  | { t: 'slice'; used: number; wall: number; counters: VmCounters; exit?: ExitRecord; waiting?: boolean; idleMs?: number }
  /** Serial (COM1) and 0xE9 bytes, in the order the guest wrote them. */
  | { t: 'output'; bytes: Uint8Array }
  | { t: 'reply'; req: number; ok: true; value: unknown }
  | { t: 'reply'; req: number; ok: false; error: string });
