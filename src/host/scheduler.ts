// The host's CPU scheduler: it grants time slices to the VMs' worker threads so that at most `cpus` of
// them run at once, and divides contended CPU as cgroup v2's cpu controller does.
//   weight  (cpu.weight, 1–10000): CFS's rule — each VM's virtual runtime grows by its CPU time divided by
//           its weight, and a free core goes to the runnable VM with the least; so contended CPU is shared
//           in proportion to the weights.
//   max     (cpu.max "QUOTA PERIOD"): at most QUOTA µs of CPU in each PERIOD, even when cores are idle; a
//           slice never exceeds what is left of the quota, and an overrun is paid back in the next period.
//   pin     the VM runs on a core of its own, taken out of the shared pool while it is runnable.
// VMs that share a worker thread form a group: the thread runs one slice at a time, so at most one VM of
// a group has a slice out, and the others of the group wait for it as for a busy core. A group that is
// creating a guest (`holding`) gets no slices meanwhile: provisioning goes first, as a VMM's own work does.
// A VM whose guest halted until a timer event sleeps (`sleep`): it gets no slices until the event is due,
// or until `wake` (input arrived) — as a vCPU thread blocked in HLT leaves its core to others under KVM.
// Time is whatever `now` says (performance.now() in the host, a fake clock in tests). A slice is granted
// as wall time and charged as the CPU time the worker thread used in it (Linux's per-thread schedstat;
// elsewhere its wall time), so a slice that waited for a core busy with other work costs the VM nothing.
import { type CpuSpec, parseCpuMax } from './vm-spec.ts';

/** Longest slice a VM is granted (ms): short enough for a pause to take effect promptly and for 256 VMs to take turns. */
export const SLICE_MS = 10;
/** A sleeping VM this close to its wake time (ms) is due: a host timer is no finer. */
const WAKE_SLACK_MS = 1;

interface Entity {
  id: string;
  weight: number;
  /** Quota and period in ms (quota Infinity: no cap). */
  quota: number;
  period: number;
  pin: boolean;
  vruntime: number;
  periodStart: number;
  usedInPeriod: number;
  runnable: boolean;
  /** A slice is granted and not yet reported back. */
  running: boolean;
  /** Asleep until this time (its guest is halted until a timer event); 0: awake. */
  wakeAt: number;
  /** The thread it shares with other VMs (null: a thread of its own). */
  group: SliceGroup | null;
}

/** The thread VMs share. */
export interface SliceGroup {
  /** No slices for the group's VMs for now (it is busy with other work; dispatch() when that ends). */
  readonly holding: boolean;
}

export interface SchedulerHooks {
  /** Run VM `id` for up to `ms` milliseconds, then call sliceDone(id, used). */
  grant(id: string, ms: number): void;
  now(): number;
  /** Call `fn` after `ms` (a cap's period ends); returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export class Scheduler {
  private readonly entities = new Map<string, Entity>();
  private cancelTimer: (() => void) | null = null;
  private timerAt = Infinity;

  constructor(readonly cpus: number, private readonly hooks: SchedulerHooks) {}

  /** A VM: `group`, the thread it shares with others (they run one at a time), or null. */
  add(id: string, cpu: CpuSpec, group: SliceGroup | null = null): void {
    const now = this.hooks.now();
    this.entities.set(id, { id, weight: 100, quota: Infinity, period: 100, pin: false, vruntime: 0, periodStart: now, usedInPeriod: 0, runnable: false, running: false, wakeAt: 0, group });
    this.update(id, cpu);
  }

  /** Change a VM's shares (a live PATCH, as writing cpu.weight / cpu.max). */
  update(id: string, cpu: CpuSpec): void {
    const e = this.entities.get(id);
    if (!e) return;
    const { quota, period } = parseCpuMax(cpu.max);
    e.weight = cpu.weight; e.quota = quota / 1000; e.period = period / 1000; e.pin = cpu.pin;
    this.dispatch();
  }

  remove(id: string): void {
    this.entities.delete(id);
    this.dispatch();
  }

  /** Pinned VMs may not take every core: the others need one to run on. */
  pinnedCount(except?: string): number {
    let n = 0;
    for (const e of this.entities.values()) if (e.pin && e.id !== except) n++;
    return n;
  }

  /** The VM wants to run (started, resumed, input arrived) or not (paused, ended, waiting). */
  setRunnable(id: string, runnable: boolean): void {
    const e = this.entities.get(id);
    if (!e || e.runnable === runnable) return;
    e.runnable = runnable;
    // CFS's placement: one that wakes up starts level with the others, neither owed a burst of CPU for
    // the time it slept nor behind for ever.
    if (runnable) e.vruntime = Math.max(e.vruntime, this.minVruntime(e));
    this.dispatch();
  }

  /** The VM's guest is halted until a timer event `ms` away: no slices until then (call before sliceDone). */
  sleep(id: string, ms: number): void {
    const e = this.entities.get(id);
    if (e) e.wakeAt = this.hooks.now() + Math.max(0, ms);
  }

  /** Something the guest waits for came sooner than its timer (input): it may run now. */
  wake(id: string): void {
    const e = this.entities.get(id);
    if (!e || e.wakeAt === 0) return;
    this.awaken(e);
    this.dispatch();
  }

  /** Whether the VM sleeps until a timer event. */
  isSleeping(id: string): boolean { return (this.entities.get(id)?.wakeAt ?? 0) !== 0; }

  private awaken(e: Entity): void {
    e.wakeAt = 0;
    // Placed as setRunnable places a VM that wakes up.
    if (e.runnable) e.vruntime = Math.max(e.vruntime, this.minVruntime(e));
  }

  /** The granted slice ended after `usedMs` of CPU. */
  sliceDone(id: string, usedMs: number): void {
    const e = this.entities.get(id);
    if (!e) return;
    e.running = false;
    this.charge(e, usedMs);
    this.dispatch();
  }

  /** Whether the VM has a slice out (a caller that wants the worker idle waits for sliceDone). */
  isRunning(id: string): boolean { return this.entities.get(id)?.running ?? false; }

  private charge(e: Entity, ms: number): void {
    this.rollPeriod(e, this.hooks.now());
    e.usedInPeriod += ms;
    e.vruntime += (ms * 100) / e.weight;
  }

  private rollPeriod(e: Entity, now: number): void {
    if (now < e.periodStart + e.period) return;
    const periods = Math.floor((now - e.periodStart) / e.period);
    e.periodStart += periods * e.period;
    // An overrun of the quota is paid back, so a capped VM cannot exceed its share by overrunning slices.
    e.usedInPeriod = e.quota === Infinity ? 0 : Math.max(0, e.usedInPeriod - periods * e.quota);
  }

  private minVruntime(except: Entity): number {
    let min = Infinity;
    for (const e of this.entities.values()) if (e !== except && e.runnable && e.vruntime < min) min = e.vruntime;
    return min === Infinity ? except.vruntime : min;
  }

  /** Grant slices to free cores: pinned VMs on their own, the rest by least virtual runtime. */
  dispatch(): void {
    const now = this.hooks.now();
    let busyShared = 0, pinnedRunnable = 0, nextTimer = Infinity;
    const ready: Entity[] = [], busyGroups = new Set<SliceGroup>();
    for (const e of this.entities.values()) {
      if (e.pin && e.runnable) pinnedRunnable++;
      if (e.running) { if (!e.pin) busyShared++; if (e.group) busyGroups.add(e.group); continue; }
      if (!e.runnable) continue;
      if (e.wakeAt !== 0) {
        // Due within a host timer's granularity: the worker sleeps the rest of the wait in the slice.
        if (e.wakeAt > now + WAKE_SLACK_MS) { nextTimer = Math.min(nextTimer, e.wakeAt); continue; }
        this.awaken(e);
      }
      this.rollPeriod(e, now);
      if (e.usedInPeriod >= e.quota) { nextTimer = Math.min(nextTimer, e.periodStart + e.period); continue; }
      if (e.pin) this.grant(e);
      else ready.push(e);
    }
    let free = Math.max(0, this.cpus - pinnedRunnable) - busyShared;
    if (free > 0 && ready.length > 0) {
      ready.sort((a, b) => a.vruntime - b.vruntime);
      for (const e of ready) {
        if (free <= 0) break;
        if (e.group) { if (e.group.holding || busyGroups.has(e.group)) continue; busyGroups.add(e.group); }
        free--;
        this.grant(e);
      }
    }
    this.armTimer(nextTimer, now);
  }

  private grant(e: Entity): void {
    e.running = true;
    const left = e.quota - e.usedInPeriod;
    this.hooks.grant(e.id, Math.max(1, Math.min(SLICE_MS, left)));
  }

  /** One timer, for the earliest end of a period that keeps a capped VM waiting or wake time of a sleeping one. */
  private armTimer(at: number, now: number): void {
    if (at === this.timerAt) return;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAt = at;
    if (at === Infinity) return;
    this.cancelTimer = this.hooks.setTimer(() => { this.cancelTimer = null; this.timerAt = Infinity; this.dispatch(); }, Math.max(0, at - now));
  }

  /** Stop the period timer (the host is shutting down). */
  close(): void { this.cancelTimer?.(); this.cancelTimer = null; this.timerAt = Infinity; }
}
