// The JIT's translation thread: binaryen lives here, so loading it (~350 ms) and translating regions
// (milliseconds each) never stall a vCPU, which keeps interpreting until the compiled region arrives
// (v86 likewise compiles off the hot path). One worker serves every VM of the process: each JIT connects
// its own MessagePort, which its synchronous run loop polls with receiveMessageOnPort between blocks.
// Jobs and results are plain data; the result carries the compiled WebAssembly.Module. Bundled as
// dist/jit-worker.js.
import { type MessagePort, parentPort } from 'node:worker_threads';
import { compileRegion, type TranslateJob } from './compile.ts';
import { decodeBytes } from '../src/decoder/decode.ts';
import type { RegionBlock } from './translate.ts';

/** A region of the usual instruction mix (loads, stores, ALU, compare-and-branch, calls, a helper). */
function warmUpJob(): TranslateJob {
  const code = Uint8Array.from([
    0x8b, 0x45, 0x08, 0x01, 0xc8, 0x89, 0x04, 0x24, 0x39, 0xd8, 0x0f, 0x94, 0xc1, 0x0f, 0xb6, 0x13, 0x41, 0xd1, 0xea, // mov add mov cmp sete movzx inc shr
    0xc1, 0xc0, 0x07, 0x0f, 0xaf, 0xc2, 0x50, 0x5b, 0x85, 0xdb, 0x75, 0xe0, 0xe8, 0x00, 0x00, 0x00, 0x00, // rol imul push pop test jne call
    0xee, 0xf7, 0x75, 0x04, 0xff, 0xe0, 0xc3, // out div jmp eax ret
  ]);
  const ops = [];
  for (let at = 0; at < code.length;) {
    const ins = decodeBytes(code, at, 32);
    ops.push({ ins, eip: 0x100000 + at, next: 0x100000 + at + ins.length });
    at += ins.length;
  }
  const blocks: RegionBlock[] = [{ start: 0x100000, ops }];
  return { id: 0, blocks, ramSize: 16 << 20, paging: 1, helperBase: 0 };
}

const binaryen = import('binaryen').then((m) => {
  const bn = m.default;
  // Warm binaryen's own code (V8 compiles it lazily) on a small synthetic region before reporting ready,
  // so the first real translation is not several times slower than the rest.
  for (let k = 0; k < 3; k++) compileRegion(bn, warmUpJob());
  return bn;
});
binaryen.then(() => parentPort!.postMessage({ ready: true }), (e: Error) => parentPort!.postMessage({ ready: false, error: e.message }));

parentPort!.on('message', (msg: { port: MessagePort }) => {
  const port = msg.port;
  port.on('message', async (job: TranslateJob) => {
    try {
      const r = compileRegion(await binaryen, job);
      port.postMessage({ id: job.id, ok: true, ...r, module: new WebAssembly.Module(r.binary as Uint8Array<ArrayBuffer>) });
    } catch (e) {
      port.postMessage({ id: job.id, ok: false, error: (e as Error).message });
    }
  });
});
