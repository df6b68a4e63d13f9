// The JIT's host in Node (jit-host.ts): binaryen.js, the translation worker — dist/jit-worker.js next
// to this bundle, started with node:worker_threads — and V8's compiler per module (v8-tiers.ts).
// x86jit/node (src/node.ts) installs it.
import type { JitHost } from './jit-host.ts';
import { compileModule } from './v8-tiers.ts';

export const NODE_JIT_HOST: JitHost = {
  loadBinaryen: async () => (await import('binaryen')).default,
  compileModule,
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
