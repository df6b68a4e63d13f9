// vm.runAsync: the synchronous run loop cut into slices of wall time, with a turn of the event loop between
// them (timers, I/O, a UI stay responsive), an AbortSignal and vm.stop() from outside. Platform-neutral: a
// MessageChannel where there is one (Node, browsers), else setTimeout(0). A guest halted until a timer
// event is waited for with a timer, not by blocking the thread: a browser page's main thread cannot block,
// and would spin.
import type { ExitRecord, RunOptions, VM } from './vm.ts';

export interface AsyncRunOptions extends RunOptions {
  /** Abort: the run ends at the next slice boundary with reason 'stopped'. */
  signal?: AbortSignal;
  /** Wall time per slice before the event loop gets a turn, in ms (default 10). */
  sliceMs?: number;
}

/** Resolve on the next turn of the event loop (a macrotask: timers and I/O run first). */
function nextTurn(channel: MessageChannel | null): Promise<void> {
  if (channel === null) return new Promise((r) => setTimeout(r, 0));
  return new Promise((r) => { channel.port1.onmessage = () => r(); channel.port2.postMessage(null); });
}

/** What VM.runAsync needs of the VM beyond its public surface. */
export interface AsyncRunHost {
  vm: VM;
  /** One slice: the synchronous loop without the 'exit' event. */
  slice(opts: RunOptions): ExitRecord;
  /** vm.stop() was called since the run began (from outside a slice), cleared when read. */
  takeStop(): boolean;
  exitRecord(reason: ExitRecord['reason'], message: string): ExitRecord;
}

export async function runAsync(host: AsyncRunHost, opts: AsyncRunOptions): Promise<ExitRecord> {
  const { vm } = host;
  const { signal, sliceMs = 10, begin, count, maxInstructions, timeout, ...rest } = opts;
  if (!(sliceMs > 0)) throw new RangeError(`sliceMs must be positive, got ${sliceMs}`);
  if (begin !== undefined) vm.writeRegister('eip', begin);
  const max = count ?? maxInstructions ?? Infinity;
  const deadline = timeout !== undefined ? performance.now() + timeout * 1000 : Infinity;
  const start = vm.instructions, startDeliveries = vm.deliveries;
  const channel = typeof MessageChannel === 'function' ? new MessageChannel() : null;
  host.takeStop();
  try {
    for (let first = true; ; first = false) {
      if (signal?.aborted) return host.exitRecord('stopped', 'aborted (AbortSignal)');
      if (host.takeStop()) return host.exitRecord('stopped', 'stopped by vm.stop()');
      // run() does not stop at a breakpoint it starts on (so a run can go on from one): only the first slice may.
      if (!first && rest.breakpoints?.has(vm.linearEip())) return host.exitRecord('breakpoint', 'reached a breakpoint');
      const left = Math.min(max - (vm.instructions - start), max - (vm.deliveries - startDeliveries));
      const now = performance.now();
      if (now >= deadline) return host.exitRecord('timeout', `timed out after ${timeout} s`);
      const r = host.slice({ ...rest, returnWhenIdle: true, maxInstructions: left, timeout: Math.min(sliceMs, deadline - now) / 1000 });
      if (r.reason === 'idle') {
        if (rest.returnWhenIdle) return r;
        // Wake at the event, or after a slice's time at most: input and vm.stop() are seen as promptly as between slices.
        await new Promise((resolve) => setTimeout(resolve, Math.min(r.idleMs!, sliceMs, Math.max(0, deadline - performance.now()))));
        continue;
      }
      // A slice's instruction limit is what is left of the run's: reaching it ends the run.
      if (r.reason === 'max-instructions') return vm.instructions - start >= max ? { ...r, message: `instruction limit reached (${vm.instructions - start} instructions)` } : r;
      if (r.reason !== 'timeout') return r;
      if (performance.now() >= deadline) return host.exitRecord('timeout', `timed out after ${timeout} s`);
      await nextTurn(channel);
    }
  } finally {
    if (channel !== null) { channel.port1.close(); channel.port2.close(); }
  }
}
