// The memory pool (src/machine/memory-pool.ts): a destroyed VM that knows the pages it wrote (its snapshot
// tracker: restored, or saved once) gives its WebAssembly.Memory to the next VM of its size. The oracle is a
// fresh WebAssembly.Memory: the VM built on a recycled memory must hold, byte for byte, what a VM built on
// a fresh one holds, after guests that wrote RAM, the code map, the TLB and the page flags under both engines,
// lazily restored or not; and a guest on a recycled memory must run exactly as on a fresh one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// Through the bundle, as tests/snapshot.test.ts (its interpreter is much faster than under the transform).
const api = (await import(pathToFileURL(join(import.meta.dirname, '..', 'dist', 'index.js')).href)) as typeof import('../src/index.ts');
const { VM, loadImage } = api;
type Vm = InstanceType<typeof VM>;

const MEMORY = 32 << 20;
const ROM = new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'test-roms', 'wl-sort.elf')));
const text = (out: Uint8Array[]): string => Buffer.concat(out).toString('latin1');

/** A VM made while the pool is empty, that is on a fresh memory (made after `taken` took what the pool held). */
const freshVm = (): Vm => new VM({ memory: MEMORY });

/** Every byte of the memory equals a fresh VM's. */
function expectLikeFresh(vm: Vm): void {
  const fresh = freshVm();
  expect(fresh.memory.wasm, 'the pool held one memory only').not.toBe(vm.memory.wasm);
  expect(Buffer.compare(vm.memory.u8, fresh.memory.u8), 'recycled memory = fresh memory').toBe(0);
}

describe('memory pool', () => {
  for (const engine of ['interp', 'jit'] as const) {
    for (const lazyRam of [false, true]) {
      it(`${engine}, ${lazyRam ? 'lazy' : 'eager'} restore: the destroyed VM's memory serves the next VM as a fresh one would, and a guest runs on it the same`, async () => {
        const ref: Uint8Array[] = [];
        const whole = await VM.create({ memory: MEMORY, engine, stdout: (b) => ref.push(b.slice()) });
        loadImage(whole, ROM, 'wl-sort.elf');
        const refExit = whole.run({ timeout: 60 });

        const first = await VM.create({ memory: MEMORY, engine });
        loadImage(first, ROM, 'wl-sort.elf');
        first.run({ maxInstructions: Math.floor(whole.instructions / 3) });
        const file = first.saveState();
        first.run({ maxInstructions: 50_000 });
        first.memory.writeBytes(20 << 20, new Uint8Array(8192).fill(0x5a)); // the host writes too
        const wasm = first.memory.wasm;
        first.destroy();
        expect(() => first.run({})).toThrow(/destroyed/);

        const second = new VM({ memory: MEMORY });
        expect(second.memory.wasm, 'the memory came back').toBe(wasm);
        expectLikeFresh(second);

        // A restored guest on it (which in turn gives it back), run to its end: the same output and count.
        const out: Uint8Array[] = [];
        second.destroy(); // never saved or restored: does not know its pages, keeps its memory out of the pool
        const third = new VM({ memory: MEMORY });
        expect(third.memory.wasm).not.toBe(second.memory.wasm);
        const clone = await VM.fromState(file, { engine, lazyRam, stdout: (b) => out.push(b.slice()) });
        const exit = clone.run({ timeout: 60 });
        clone.destroy();
        const again = await VM.fromState(file, { engine, lazyRam });
        const out2: Uint8Array[] = [];
        again.destroy();
        const last = await VM.fromState(file, { engine, lazyRam, stdout: (b) => out2.push(b.slice()) });
        expect(last.memory.wasm, 'a restore on a recycled memory').toBe(clone.memory.wasm);
        const exit2 = last.run({ timeout: 60 });
        expect([exit.reason, exit.status, clone.instructions]).toEqual([refExit.reason, refExit.status, whole.instructions]);
        expect([exit2.reason, exit2.status, last.instructions]).toEqual([refExit.reason, refExit.status, whole.instructions]);
        expect(text(out2)).toBe(text(out));
        expect(text(ref).endsWith(text(out))).toBe(true);
        last.destroy();
        expectLikeFresh(new VM({ memory: MEMORY }));
      }, 120_000);
    }
  }
});
