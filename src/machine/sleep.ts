// Blocking the vCPU's thread until a host time (HLT with the real-time clock, a pipe that is not ready):
// Atomics.wait on a private cell sleeps without spinning. The cell is made on first use, not at module
// load: a page without cross-origin isolation has no SharedArrayBuffer, and a browser's main thread may
// not block in Atomics.wait — there the wait spins on the clock instead.

let cell: Int32Array | null | undefined;

/** Block for about `ms` milliseconds (Atomics.wait may return early; callers loop on their clock). */
export function sleepMs(ms: number): void {
  if (cell === undefined) cell = typeof SharedArrayBuffer === 'function' ? new Int32Array(new SharedArrayBuffer(4)) : null;
  if (cell !== null) {
    try {
      Atomics.wait(cell, 0, 0, ms);
      return;
    } catch {
      cell = null; // a thread that may not block (a browser's main thread): spin from now on
    }
  }
  const end = performance.now() + ms;
  while (performance.now() < end);
}
