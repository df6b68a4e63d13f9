// The JIT's host in Node (jit-host.ts): binaryen.js, and the translation worker — dist/jit-worker.js next
// to this bundle, started with node:worker_threads. x86jit/node (src/node.ts) installs it.
import type { JitHost } from './jit-host.ts';

export const NODE_JIT_HOST: JitHost = {
  loadBinaryen: async () => (await import('binaryen')).default,
  async workerSupport() {
    try {
      const url = new URL('./jit-worker.js', import.meta.url);
      const { existsSync } = await import('node:fs');
      if (url.protocol !== 'file:' || !existsSync(url)) return null;
      return { wt: await import('node:worker_threads'), url };
    } catch {
      return null;
    }
  },
};
