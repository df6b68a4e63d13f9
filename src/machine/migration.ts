// Live migration by pre-copy (as QEMU's and KVM's): the source keeps running its guest while it sends RAM,
// then rounds of the pages the guest dirtied meanwhile (the dirty-page log), until what is left fits the
// downtime limit; then it stops the guest, sends the rest and the device state (a snapshot file without
// RAM), and waits for the destination to say it has the guest. If the dirty rate does not converge, the
// guest is throttled (QEMU's auto-converge: 20 %, then 10 % more each round), and after MAX_ROUNDS the
// source gives up cleanly and keeps the guest. The transport is a channel of whole messages (TCP in the
// CLI, a MessagePort between workers).
//
// Messages: one type byte, then the payload.
//   'H' hello   JSON { version, memory }            source → destination, first
//   'P' pages   u32 n, n × u32 page, n × 4096 bytes  source → destination
//   'S' state   a snapshot file whose RAM section holds no page (the pages came as 'P')
//   'A' ack     the destination has restored the guest; the source may stop for good
//   'E' abort   UTF-8 reason: the sender gives up (the source keeps its guest)
import { PAGE_SIZE } from '../cpu/state.ts';
import { SnapshotError } from '../state/snapshot-file.ts';
import { zeroPageTest } from '../state/zero-page.ts';
import { readSnapshot } from './snapshot.ts';
import { applyState } from './vm-state.ts';
import type { ExitRecord, VM, VMOptions } from './vm.ts';
import { StateError } from './device-state.ts';

/** Whole messages in order over some transport. */
export interface MigrationChannel {
  send(message: Uint8Array): Promise<void>;
  /** The next message, or null when the other side closed the channel. */
  receive(): Promise<Uint8Array | null>;
  close(): void;
}

/** What messagePortChannel needs of a port: node:worker_threads' MessagePort and the browser's both fit. */
export interface PortLike {
  postMessage(message: unknown, transfer?: readonly ArrayBuffer[]): void;
  on?(event: 'message' | 'close', listener: (data: unknown) => void): unknown;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the DOM's listener type is wider than any one shape
  addEventListener?(event: 'message', listener: any): void;
  close(): void;
}

/** A migration channel over a MessagePort (between worker threads, or two VMs in one thread). */
export function messagePortChannel(port: PortLike): MigrationChannel {
  const messages: Uint8Array[] = [];
  const waiting: ((m: Uint8Array | null) => void)[] = [];
  let closed = false;
  const deliver = (data: unknown): void => {
    const m = data instanceof Uint8Array ? data : null;
    if (m === null) { closed = true; while (waiting.length > 0) waiting.shift()!(null); return; }
    const w = waiting.shift();
    if (w) w(m); else messages.push(m);
  };
  if (port.on) { port.on('message', deliver); port.on('close', () => deliver(null)); } else port.addEventListener?.('message', (e: { data: unknown }) => deliver(e.data));
  return {
    send: async (message) => { if (closed) throw new Error('the port is closed'); const copy = message.slice(); port.postMessage(copy, [copy.buffer as ArrayBuffer]); },
    receive: () => (messages.length > 0 ? Promise.resolve(messages.shift()!) : closed ? Promise.resolve(null) : new Promise((r) => waiting.push(r))),
    close: () => { if (!closed) { closed = true; try { port.postMessage(null); } catch { /* already gone */ } port.close(); } },
  };
}

export interface MigrationReport {
  rounds: number;
  pages: number;
  bytes: number;
  totalMs: number;
  downtimeMs: number;
  /** Final throttle of the guest, 0 to 0.99. */
  throttle: number;
}

export interface MigrateOutOptions {
  /** The longest the guest may be stopped (default 300 ms, as QEMU's). */
  maxDowntimeMs?: number;
  /** Run the guest for one slice (the caller's run loop: limits, output); returns its exit if it ended. */
  runSlice: () => ExitRecord | null;
  /** Pre-copy rounds before giving up (default 30). */
  maxRounds?: number;
}

export type MigrateOutResult =
  | { outcome: 'migrated'; report: MigrationReport }
  | { outcome: 'guest-ended'; exit: ExitRecord }
  | { outcome: 'failed'; reason: string };

const PROTOCOL_VERSION = 1;
/** Pages per 'P' message (1 MiB), between which the guest runs a slice. */
const BATCH = 256;
const MAX_ROUNDS = 30;
const enc = new TextEncoder(), dec = new TextDecoder();

/** Migrate `vm` out over `channel`, running it meanwhile. Never throws for the channel's or the destination's faults. */
export async function migrateOut(vm: VM, channel: MigrationChannel, opts: MigrateOutOptions): Promise<MigrateOutResult> {
  const maxDowntime = opts.maxDowntimeMs ?? 300, maxRounds = opts.maxRounds ?? MAX_ROUNDS;
  const mem = vm.memory, t0 = performance.now();
  const report: MigrationReport = { rounds: 0, pages: 0, bytes: 0, totalMs: 0, downtimeMs: 0, throttle: 0 };
  let throttle = 0;
  /** Run one slice, then sleep in proportion to the throttle. */
  const slice = async (): Promise<ExitRecord | null> => {
    const s0 = performance.now();
    const exit = opts.runSlice();
    if (throttle > 0) await sleep(((performance.now() - s0) * throttle) / (1 - throttle));
    return exit;
  };
  const sendPages = async (pages: number[], running: boolean): Promise<ExitRecord | null> => {
    for (let i = 0; i < pages.length; i += BATCH) {
      const batch = pages.slice(i, i + BATCH);
      const msg = new Uint8Array(5 + 4 * batch.length + PAGE_SIZE * batch.length);
      const view = new DataView(msg.buffer);
      msg[0] = 0x50; view.setUint32(1, batch.length, true);
      batch.forEach((p, k) => { view.setUint32(5 + 4 * k, p, true); msg.set(mem.ram.subarray(p * PAGE_SIZE, p * PAGE_SIZE + PAGE_SIZE), 5 + 4 * batch.length + PAGE_SIZE * k); });
      await channel.send(msg);
      report.pages += batch.length; report.bytes += msg.length;
      if (running) { const exit = await slice(); if (exit) return exit; }
    }
    return null;
  };
  try {
    vm.snapshots.stop(); // the log is migration's now
    mem.loadAllPages(); // RAM is read whole below (a lazily restored guest's pages must all be in)
    mem.startDirtyLog();
    await channel.send(concat([0x48], enc.encode(JSON.stringify({ version: PROTOCOL_VERSION, memory: mem.ramSize }))));
    // Round 0: every page that is not zero (the destination's RAM starts zero).
    const first: number[] = [], isZero = zeroPageTest(mem.ram);
    for (let p = 0; p < mem.ramSize / PAGE_SIZE; p++) if (!isZero(p)) first.push(p);
    let sentMs = performance.now(), sentBytes = report.bytes;
    let exit = await sendPages(first, true);
    let previous = Infinity;
    for (;;) {
      if (exit) { await abort(channel, 'the guest ended on the source'); mem.stopDirtyLog(); return { outcome: 'guest-ended', exit }; }
      report.rounds++;
      const bandwidth = (report.bytes - sentBytes) / Math.max(1, performance.now() - sentMs); // bytes per ms
      const dirty = mem.takeDirtyLog();
      if ((dirty.count * (PAGE_SIZE + 4)) / Math.max(bandwidth, 1) <= maxDowntime) {
        // Stop and copy: the guest does not run again here.
        const stop = performance.now();
        const last = mem.stopDirtyLog();
        await sendPages([...new Set([...dirty, ...last])].sort((a, b) => a - b), false);
        vm.flushOutput();
        // Uncompressed: the device state is a few KiB (compressing it would lengthen the downtime), and a
        // destination without node:zlib (the core entry alone, a browser) can read it.
        await channel.send(concat([0x53], vm.saveState({ withoutRam: true, compression: 'none' })));
        const reply = await channel.receive();
        if (reply === null || reply[0] !== 0x41) {
          return { outcome: 'failed', reason: reply === null ? 'the destination closed the connection before it had the guest' : `the destination refused the guest: ${dec.decode(reply.subarray(1))}` };
        }
        report.downtimeMs = performance.now() - stop;
        report.totalMs = performance.now() - t0;
        report.throttle = throttle;
        return { outcome: 'migrated', report };
      }
      if (report.rounds >= maxRounds) {
        await abort(channel, `the guest dirties memory faster than it can be sent (${report.rounds} rounds)`);
        mem.stopDirtyLog();
        return { outcome: 'failed', reason: `did not converge in ${report.rounds} rounds (${dirty.count} pages dirty at the end, throttle ${Math.round(throttle * 100)} %); the guest runs on here` };
      }
      // Not converging (the dirty set did not shrink): throttle the guest, 20 % then 10 % more per round.
      if (dirty.count >= previous) throttle = throttle === 0 ? 0.2 : Math.min(0.99, throttle + 0.1);
      previous = dirty.count;
      sentMs = performance.now(); sentBytes = report.bytes;
      exit = await sendPages([...dirty], true);
    }
  } catch (e) {
    if (mem.dirtyLogging) mem.stopDirtyLog();
    channel.close();
    return { outcome: 'failed', reason: (e as Error).message };
  }
}

/**
 * Receive a guest over `channel` and return it as a new VM (`opts` as for VM.create, the JIT on for engine
 * 'jit'; memory comes from the source). Throws SnapshotError with one line if the stream is not a migration
 * or breaks off. The source's VM must not run again once it reports 'migrated'.
 */
export async function migrateIn<T extends VM>(Vm: { new (opts?: VMOptions): T }, channel: MigrationChannel, opts: VMOptions = {}): Promise<T> {
  const fail = async (why: string): Promise<never> => { await abort(channel, why).catch(() => {}); channel.close(); throw new SnapshotError(`incoming migration: ${why}`); };
  const hello = await channel.receive();
  if (hello === null || hello[0] !== 0x48) return fail('the stream is not an x86jit migration');
  let info: { version?: unknown; memory?: unknown };
  try { info = JSON.parse(dec.decode(hello.subarray(1))); } catch { return fail('its hello is damaged'); }
  if (info.version !== PROTOCOL_VERSION) return fail(`protocol version ${String(info.version)}; this x86jit speaks ${PROTOCOL_VERSION}`);
  let vm: T;
  try { vm = new Vm({ ...opts, memory: info.memory as number }); } catch (e) { return fail(`cannot make the guest's RAM: ${(e as Error).message}`); }
  const ram = vm.memory.ram, pageCount = ram.length / PAGE_SIZE;
  for (;;) {
    const msg = await channel.receive();
    if (msg === null) return fail('the source closed the connection before the guest was sent');
    if (msg[0] === 0x45) return fail(`the source gave up: ${dec.decode(msg.subarray(1))}`);
    if (msg[0] === 0x50) {
      const view = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
      const n = msg.length >= 5 ? view.getUint32(1, true) : -1;
      if (n < 0 || msg.length !== 5 + n * (4 + PAGE_SIZE)) return fail('a page message is damaged');
      for (let k = 0; k < n; k++) {
        const p = view.getUint32(5 + 4 * k, true);
        if (p >= pageCount) return fail(`page ${p} is beyond the guest's RAM`);
        ram.set(msg.subarray(5 + 4 * n + PAGE_SIZE * k, 5 + 4 * n + PAGE_SIZE * (k + 1)), p * PAGE_SIZE);
      }
      continue;
    }
    if (msg[0] !== 0x53) return fail(`unknown message type 0x${msg[0].toString(16)}`);
    try {
      const snap = readSnapshot([msg.subarray(1)]);
      if (snap.state.config.memory !== ram.length) return fail('the state is for another RAM size');
      applyState(vm, snap.state);
    } catch (e) {
      if (e instanceof SnapshotError || e instanceof StateError) return fail(e.message);
      throw e;
    }
    await channel.send(Uint8Array.of(0x41));
    if (opts.engine === 'jit') await vm.enableJit();
    return vm;
  }
}

async function abort(channel: MigrationChannel, why: string): Promise<void> {
  try { await channel.send(concat([0x45], enc.encode(why))); } catch { /* the channel is gone: nothing to tell */ }
}

function concat(head: number[], body: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
