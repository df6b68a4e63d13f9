// The host's scheduler on a simulated clock: which VM gets each free core, how weights divide contended
// CPU, how cpu.max caps a VM even on an idle machine, and pinning. Every VM "runs" its whole slice.
import { describe, expect, it } from 'vitest';
import { Scheduler, SLICE_MS } from '../src/host/scheduler.ts';
import { DEFAULT_CPU } from '../src/host/vm-spec.ts';

/** A scheduler on a fake clock whose VMs use every slice in full; run() advances time and returns CPU ms per VM. */
function simulate(cpus: number, groupOf: (id: string) => string | null = () => null) {
  let now = 0;
  /** Most VMs of one group (a shared thread) that had slices out at once. */
  let mostInGroup = 0;
  const running = new Map<string, number>(); // id → slice end
  const sliceLength = new Map<string, number>();
  const used = new Map<string, number>();
  const timers: { at: number; fn: () => void }[] = [];
  const granted: string[] = [];
  const sched = new Scheduler(cpus, {
    now: () => now,
    grant: (id, ms) => {
      running.set(id, now + ms); sliceLength.set(id, ms); granted.push(id);
      const g = groupOf(id);
      if (g !== null) mostInGroup = Math.max(mostInGroup, [...running.keys()].filter((x) => groupOf(x) === g).length);
    },
    setTimer: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return () => { const i = timers.indexOf(t); if (i >= 0) timers.splice(i, 1); }; },
  });
  const run = (ms: number): Map<string, number> => {
    const end = now + ms;
    for (;;) {
      const nextSlice = Math.min(...running.values()), nextTimer = Math.min(...timers.map((t) => t.at));
      const next = Math.min(nextSlice, nextTimer);
      if (next > end) break;
      now = next;
      const t = timers.find((x) => x.at === now);
      if (t) { timers.splice(timers.indexOf(t), 1); t.fn(); continue; }
      const id = [...running].find(([, at]) => at === now)![0];
      running.delete(id);
      used.set(id, (used.get(id) ?? 0) + sliceLength.get(id)!);
      sched.sliceDone(id, sliceLength.get(id)!);
    }
    now = end;
    return new Map(used);
  };
  return { sched, run, running, granted, now: () => now, mostInGroup: () => mostInGroup };
}

describe('host scheduler (simulated clock)', () => {
  it('weights 1:2:4 divide two contended cores in proportion', () => {
    const { sched, run } = simulate(2);
    const weights = { a1: 1, b1: 1, a2: 2, b2: 2, a4: 4, b4: 4 };
    for (const [id, weight] of Object.entries(weights)) { sched.add(id, { ...DEFAULT_CPU, weight }); sched.setRunnable(id, true); }
    const used = run(20_000);
    const total = [...used.values()].reduce((a, b) => a + b, 0);
    expect(total).toBeCloseTo(40_000, -2); // both cores busy all the time
    for (const [id, weight] of Object.entries(weights)) expect(used.get(id)! / total).toBeCloseTo(weight / 14, 2);
  });

  it('VMs sharing a thread get one slice at a time, share that thread by weight, and leave the other core to the rest', () => {
    // s1 (weight 200) and s2, s3 (100) share thread T; o1 has a thread of its own; 2 cores.
    const group = (id: string) => (id.startsWith('s') ? 'T' : null);
    const { sched, run, mostInGroup } = simulate(2, group);
    const T = { holding: false };
    for (const [id, weight] of [['s1', 200], ['s2', 100], ['s3', 100], ['o1', 100]] as const) {
      sched.add(id, { ...DEFAULT_CPU, weight }, group(id) ? T : null);
      sched.setRunnable(id, true);
    }
    const used = run(20_000);
    expect(mostInGroup()).toBe(1);
    // The thread can use one core: its VMs get that core by weight (2:1:1), o1 the other core whole.
    expect(used.get('o1')! / 20_000).toBeCloseTo(1, 1);
    expect(used.get('s1')! / 20_000).toBeCloseTo(0.5, 1);
    expect(used.get('s2')! / used.get('s3')!).toBeCloseTo(1, 1);
  });

  it('a shared thread that is creating a guest gets no slices until it is done', () => {
    const { sched, granted } = simulate(2, () => 'T');
    const T = { holding: true };
    sched.add('s1', DEFAULT_CPU, T);
    sched.setRunnable('s1', true);
    expect(granted).toEqual([]);
    T.holding = false;
    sched.dispatch();
    expect(granted).toEqual(['s1']);
  });

  it('never runs more VMs at once than there are cores', () => {
    const { sched, running } = simulate(2);
    for (let i = 0; i < 10; i++) { sched.add(`v${i}`, DEFAULT_CPU); sched.setRunnable(`v${i}`, true); }
    expect(running.size).toBe(2);
  });

  it('cpu.max caps a VM even when cores are idle, and an overrun is paid back', () => {
    const { sched, run } = simulate(2);
    sched.add('capped', { ...DEFAULT_CPU, max: '25000 100000' });
    sched.setRunnable('capped', true);
    const used = run(5000);
    expect(used.get('capped')! / 5000).toBeGreaterThan(0.24);
    expect(used.get('capped')! / 5000).toBeLessThanOrEqual(0.25 + SLICE_MS / 5000);
  });

  it('a capped VM leaves the rest of its core to others', () => {
    const { sched, run } = simulate(1);
    sched.add('capped', { ...DEFAULT_CPU, max: '10000 50000' });
    sched.add('other', DEFAULT_CPU);
    sched.setRunnable('capped', true); sched.setRunnable('other', true);
    const used = run(10_000);
    expect(used.get('capped')! / 10_000).toBeCloseTo(0.2, 2);
    expect(used.get('other')! / 10_000).toBeCloseTo(0.8, 2);
  });

  it('a pinned VM runs on a core of its own; the others share the rest', () => {
    const { sched, run } = simulate(2);
    sched.add('pinned', { ...DEFAULT_CPU, pin: true });
    for (const id of ['x', 'y', 'z']) sched.add(id, DEFAULT_CPU);
    for (const id of ['pinned', 'x', 'y', 'z']) sched.setRunnable(id, true);
    const used = run(3000);
    expect(used.get('pinned')).toBe(3000);
    for (const id of ['x', 'y', 'z']) expect(used.get(id)! / 3000).toBeCloseTo(1 / 3, 1);
  });

  it('a VM that wakes up is placed level with the others, not owed the time it slept', () => {
    const { sched, run } = simulate(1);
    sched.add('a', DEFAULT_CPU); sched.add('b', DEFAULT_CPU);
    sched.setRunnable('a', true);
    run(1000); // a alone for a second
    sched.setRunnable('b', true);
    const before = run(0);
    const after = run(1000);
    const a = after.get('a')! - before.get('a')!, b = (after.get('b') ?? 0) - (before.get('b') ?? 0);
    expect(a / 1000).toBeCloseTo(0.5, 1);
    expect(b / 1000).toBeCloseTo(0.5, 1);
  });

  it('a paused VM gets nothing; removing a running VM frees its core', () => {
    const { sched, run, running } = simulate(1);
    sched.add('a', DEFAULT_CPU); sched.add('b', DEFAULT_CPU);
    sched.setRunnable('a', true); sched.setRunnable('b', true);
    sched.setRunnable('b', false);
    const used = run(500);
    expect(used.get('a')).toBeGreaterThanOrEqual(490);
    expect(used.get('b') ?? 0).toBeLessThanOrEqual(SLICE_MS);
    sched.setRunnable('b', true);
    const holder = [...running.keys()][0];
    running.delete(holder);
    sched.remove(holder);
    expect([...running.keys()]).toEqual([holder === 'a' ? 'b' : 'a']);
  });
  it('a VM whose guest sleeps until a timer event gets no slices until then, and leaves its core to others', () => {
    const { sched, run, running, granted, now } = simulate(1);
    sched.add('a', DEFAULT_CPU); sched.add('b', DEFAULT_CPU);
    sched.setRunnable('a', true); sched.setRunnable('b', true);
    expect(granted).toEqual(['a']);
    // a's guest halts 0.5 ms into its slice until an event 30 ms away: the worker says so with the slice.
    running.delete('a');
    sched.sleep('a', 30);
    sched.sliceDone('a', 0.5);
    expect(sched.isSleeping('a')).toBe(true);
    expect(granted).toEqual(['a', 'b']); // the core goes to b at once
    run(25);
    expect(granted).toEqual(['a', 'b', 'b', 'b']); // b's slices end at 10 and 20: a still sleeps
    run(10);
    // At 30 b's slice ends and a is due: it comes first (placed level with b, which has run 30 ms).
    expect(granted).toEqual(['a', 'b', 'b', 'b', 'a']);
    expect(sched.isSleeping('a')).toBe(false);
    expect(now()).toBe(35);
  });

  it("alone, a sleeping VM's wake time arms the timer; input (wake) ends the sleep at once", () => {
    const { sched, run, running, granted } = simulate(2);
    sched.add('a', DEFAULT_CPU);
    sched.setRunnable('a', true);
    running.delete('a'); sched.sleep('a', 30); sched.sliceDone('a', 0.2);
    run(28);
    expect(granted).toEqual(['a']); // nothing else runs, and a is not granted before its time
    run(3);
    expect(granted).toEqual(['a', 'a']); // the timer woke it
    running.delete('a'); sched.sleep('a', 1000); sched.sliceDone('a', 0.2);
    run(5);
    expect(granted).toEqual(['a', 'a']);
    sched.wake('a');
    expect(granted).toEqual(['a', 'a', 'a']);
    expect(sched.isSleeping('a')).toBe(false);
  });
});
