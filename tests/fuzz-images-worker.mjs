// The worker thread of the image fuzz suite (fuzz-images.test.ts): loads and runs one case per message
// through the esbuild bundle and answers with what happened. A thread of its own, so that a case that never
// returns can be reported and the thread ended, instead of hanging the suite. Plain JS: a worker thread
// cannot load TypeScript under Node 20.
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

const { createVM, loadBios, loadImage, loadRaw, LoadError } = await import(pathToFileURL(workerData.bundle).href);

/** An exception as one line (name: message) and its stack, for the report. */
const thrown = (e) => (e instanceof Error ? { error: `${e.name}: ${e.message}`, stack: e.stack } : { error: `a non-Error was thrown: ${String(e)}` });

/**
 * Message: { id, engine, name, bytes, load, fill, fillRanges, memory, maxInstructions, jitAfter, jitWindow, timeout }.
 * The interpreter runs up to maxInstructions. The JIT's run is the interpreter for jitAfter instructions
 * (when > 0), then the JIT (threshold 0: every block translated on first sight, synchronously, so runs are
 * deterministic) for jitWindow more. Answer: { id, loadError } or { id, legs: [{ exit, max, instructions,
 * deliveries, ms }], debugcon, compiled } or { id, stage, error, stack } for any other exception (stage: setup, load or run).
 */
parentPort.on('message', async (c) => {
  let vm, debugcon = 0;
  const jitFirst = c.engine === 'jit' && c.jitAfter === 0;
  try {
    vm = createVM({ memory: c.memory, engine: jitFirst ? 'jit' : 'interp', stdout: () => {}, debugcon: (b) => { debugcon += b.length; } });
    if (jitFirst) await vm.enableJit({ threshold: 0 });
    if (c.fill !== 0) for (const [start, end] of c.fillRanges) vm.memory.ram.fill(c.fill, start, end);
  } catch (e) {
    parentPort.postMessage({ id: c.id, stage: 'setup', ...thrown(e) });
    return;
  }
  try {
    if (c.load.kind === 'bios') loadBios(vm, c.bytes, c.name);
    else if (c.load.kind === 'raw') loadRaw(vm, c.bytes, { load: c.load.load, entry: c.load.entry, name: c.name });
    else loadImage(vm, c.bytes, c.name);
  } catch (e) {
    parentPort.postMessage({ id: c.id, ...(e instanceof LoadError ? { loadError: e.message } : { stage: 'load', ...thrown(e) }) });
    return;
  }
  const legs = [];
  const leg = (max) => {
    const start = vm.instructions, delivered = vm.deliveries, t0 = performance.now();
    const exit = vm.run({ maxInstructions: max, timeout: c.timeout });
    legs.push({ exit, max, instructions: vm.instructions - start, deliveries: vm.deliveries - delivered, ms: performance.now() - t0 });
    return exit;
  };
  try {
    if (c.engine === 'interp') leg(c.maxInstructions);
    else if (jitFirst) leg(c.jitWindow);
    else if (leg(c.jitAfter).reason === 'max-instructions') {
      await vm.enableJit({ threshold: 0 });
      leg(c.jitWindow);
    }
    parentPort.postMessage({ id: c.id, legs, debugcon, compiled: vm.jitStats()?.compiled ?? 0 });
  } catch (e) {
    parentPort.postMessage({ id: c.id, stage: 'run', legs, ...thrown(e) });
  }
});
parentPort.postMessage({ ready: true });
