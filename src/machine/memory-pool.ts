// WebAssembly.Memory objects of destroyed VMs, kept for the next VMs of the same size. A VM's memory is
// large (129 MiB for 128 MiB of RAM, most never touched): allocating one made V8 count 129 MiB of new
// external memory, which started a full garbage collection on nearly every restore to find the memories
// of VMs already dropped (~4 ms of a restore's 5 ms budget on an idle machine, 15-30 ms on a loaded one).
// A memory comes back here only from vm.destroy(), zeroed wherever the VM may have written (memory.ts's
// recycle()), so a VM built on it starts exactly as on a fresh one.

/** Memories kept per size: enough for a host restoring clones as fast as it destroys them, bounded in RSS. */
const KEPT = 4;

const pool = new Map<number, WebAssembly.Memory[]>();

/** A zero memory of `pages` 64 KiB pages (initial = maximum): a recycled one if there is one. */
export function takeMemory(pages: number): WebAssembly.Memory {
  return pool.get(pages)?.pop() ?? new WebAssembly.Memory({ initial: pages, maximum: pages });
}

/** Keep `memory` (all zero again) for a later takeMemory() of its size; beyond KEPT it is left to the collector. */
export function giveBackMemory(memory: WebAssembly.Memory): void {
  const pages = memory.buffer.byteLength / 65536;
  let list = pool.get(pages);
  if (list === undefined) pool.set(pages, (list = []));
  if (list.length < KEPT) list.push(memory);
}
