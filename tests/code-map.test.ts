// The code map (state.ts's codeMapOffset): one byte per 64-byte chunk of RAM, set where decoded blocks lie.
// The code cache keeps it exact; stores into a page with code go straight to RAM unless they touch a marked
// chunk, in the interpreter and in compiled code. test-roms/codedata.elf's hot loops store into the page of
// their own code and must stay in compiled code; test-roms/smc-adjacent.elf patches code one byte from data
// it writes on every iteration, and every patch must take effect.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CodeCache } from '../src/cpu/code-cache.ts';
import { ATTR_CODE, ATTR_DB, ATTR_P, ATTR_S } from '../src/cpu/cpu.ts';
import { CODE_CHUNK_SHIFT, codeMapOffset, RAM_OFFSET } from '../src/cpu/state.ts';
import { CS } from '../src/decoder/instruction.ts';
import { bytesOf, machine } from './semantics-helpers.ts';

const chunk = (phys: number): number => phys >>> CODE_CHUNK_SHIFT;

/** A 32-bit flat CPU with a code cache, and the blocks decoded at the given (address, hex bytes). */
function cached(...code: [number, string][]) {
  const { cpu, mem } = machine();
  cpu.setSegmentCache(CS, 8, 0, -1, ATTR_CODE | ATTR_S | ATTR_P | ATTR_DB);
  const cache = new CodeCache(cpu);
  for (const [at, hex] of code) mem.writeBytes(at, bytesOf(hex));
  const blocks = code.map(([at]) => cache.blockAt(at));
  return { cpu, mem, cache, blocks };
}

// Block A: 21 NOPs and RET at 0x2030 (chunks 0x80-0x81); block B: MOV EAX, imm32; RET at 0x2046 (chunk 0x81).
const A: [number, string] = [0x2030, '90'.repeat(20) + 'c3'];
const B: [number, string] = [0x2046, 'b8 78 56 34 12 c3'];

describe('the code map in the code cache', () => {
  it('lies right after RAM in the WebAssembly memory', () => {
    const { mem } = machine(4 << 20);
    expect(mem.codeMap.byteOffset).toBe(codeMapOffset(4 << 20));
    expect(codeMapOffset(4 << 20)).toBe(RAM_OFFSET + (4 << 20));
    expect(mem.codeMap.length).toBe((4 << 20) / 64);
    expect(mem.wasm.buffer.byteLength).toBeGreaterThanOrEqual(mem.codeMap.byteOffset + mem.codeMap.length);
  });

  it('marks the chunks a decoded block overlaps, and the page', () => {
    const { mem, blocks: [a] } = cached(A);
    expect([a.phys, a.physEnd]).toEqual([0x2030, 0x2045]);
    expect([...mem.codeMap.subarray(chunk(0x2000) - 1, chunk(0x2000) + 4)]).toEqual([0, 1, 1, 0, 0]);
    expect(mem.pageFlags[2]).not.toBe(0);
  });

  it('a write to one block leaves the chunk it shares with a neighbour marked', () => {
    const { mem, blocks: [a, b] } = cached(A, B);
    mem.write8(0x2031, 0x90);
    expect([a.valid, b.valid]).toEqual([false, true]);
    expect([...mem.codeMap.subarray(chunk(0x2000), chunk(0x2000) + 3)]).toEqual([0, 1, 0]);
    expect(mem.pageFlags[2]).not.toBe(0);
    // The chunk's bytes past B are no block's: a write there invalidates nothing.
    mem.write(0x207c, 4, 0);
    expect(b.valid).toBe(true);
    mem.write(0x2047, 4, 0x11223344);
    expect(b.valid).toBe(false);
    expect([...mem.codeMap.subarray(chunk(0x2000), chunk(0x2000) + 3)]).toEqual([0, 0, 0]);
    expect(mem.pageFlags[2]).toBe(0);
  });

  it('a block whose last instruction ends in the next page marks both pages; dropping it clears both', () => {
    // NOP NOP NOP, then MOV EAX, imm32 across 0x3000: the block ends with it (the next one is in page 3).
    const { mem, blocks: [b] } = cached([0x2ffc, '90 90 90 b8 01 02 03 04 c3']);
    expect(b.physEnd).toBe(0x3004);
    expect([mem.codeMap[chunk(0x2fc0)], mem.codeMap[chunk(0x3000)], mem.pageFlags[2], mem.pageFlags[3]]).toEqual([1, 1, 1, 1]);
    mem.write8(0x3002, 0);
    expect(b.valid).toBe(false);
    expect([mem.codeMap[chunk(0x2fc0)], mem.codeMap[chunk(0x3000)], mem.pageFlags[2], mem.pageFlags[3]]).toEqual([0, 0, 0, 0]);
  });

  it('a host write (loader, API) drops only the blocks whose bytes it overlaps', () => {
    const { mem, blocks: [a, b] } = cached(A, B);
    mem.writeBytes(0x2045, bytesOf('cc'));
    expect([a.valid, b.valid]).toEqual([true, true]);
    mem.writeBytes(0x2040, bytesOf('90 90 90 90 90'));
    expect([a.valid, b.valid]).toEqual([false, true]);
  });

  it('flush clears every chunk and page flag', () => {
    const { mem, cache } = cached(A, B, [0x5000, 'c3']);
    cache.flush();
    expect(mem.codeMap.some((v) => v !== 0)).toBe(false);
    expect(mem.pageFlags.some((v) => v !== 0)).toBe(false);
  });
});

describe('stores into a page with code', () => {
  it('go straight to RAM outside code chunks, through the invalidating path into them', () => {
    const { cpu, mem, blocks: [b] } = cached(B); // chunk 0x81 only
    const writes: [number, number][] = [];
    const invalidate = mem.onCodeWrite;
    mem.onCodeWrite = (phys, size) => { writes.push([phys, size]); invalidate(phys, size); };
    cpu.writeLin32(0x2000, -1);
    cpu.writeLin16(0x203e, 0x1234);
    cpu.writeLin32(0x2080, 7);
    expect(writes).toEqual([]);
    cpu.writeLin8(0x207f, 1); // B's chunk, no byte of B: checked, nothing to drop
    cpu.writeLin16(0x203f, 0); // its second byte is in B's chunk
    expect(writes).toEqual([[0x207f, 1], [0x203f, 2]]);
    expect(b.valid).toBe(true);
    cpu.writeLin32(0x2044, 0x90909090); // over B's first two bytes
    expect(writes).toEqual([[0x207f, 1], [0x203f, 2], [0x2044, 4]]);
    expect(b.valid).toBe(false);
    expect(mem.readBytes(0x2000, 4)).toEqual(bytesOf('ff ff ff ff'));
    expect(mem.readBytes(0x2080, 1)).toEqual(bytesOf('07'));
  });

  it('touchesCode looks only at the chunks written', () => {
    const { mem } = cached(B);
    expect(mem.touchesCode(0x2000, 0x40)).toBe(false);
    expect(mem.touchesCode(0x2000, 0x41)).toBe(true);
    expect(mem.touchesCode(0x2080, 0x1000)).toBe(false);
    expect(mem.touchesCode(0x1000, 0x4000)).toBe(true);
  });
});

// Through the esbuild bundle, as jit.test.ts.
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadImage } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
const DIR = join(import.meta.dirname, '..', 'test-roms');

async function run(rom: string, jit: boolean) {
  const chunks: Uint8Array[] = [];
  const vm = createVM({ stdout: (b) => chunks.push(b) });
  if (jit) await vm.enableJit({ threshold: 0 });
  loadImage(vm, new Uint8Array(readFileSync(join(DIR, rom))), rom, {});
  const exit = vm.run({ timeout: 60 });
  return { vm, exit, output: Buffer.concat(chunks).toString('latin1') };
}

describe('test ROMs with code and data on one page (JIT, threshold 0)', () => {
  it('codedata.elf: the sieve and tally stores stay in compiled code', async () => {
    const jit = await run('codedata.elf', true), interp = await run('codedata.elf', false);
    expect(jit.output).toBe(readFileSync(join(DIR, 'expected', 'codedata.txt'), 'latin1'));
    expect({ reason: jit.exit.reason, status: jit.exit.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(jit.output).toBe(interp.output);
    expect(jit.vm.instructions).toBe(interp.vm.instructions);
    const stats = jit.vm.jitStats()!;
    // No store of the ROM touches a chunk with code (with code tracked per page every sieve and tally store
    // left compiled code: ~465,000 memory exits).
    expect(stats.exits.memory).toBe(0);
    expect(stats.instructions).toBeGreaterThan(0.9 * jit.vm.instructions);
  });

  it('smc-adjacent.elf: every patch next to hot data takes effect', async () => {
    const jit = await run('smc-adjacent.elf', true), interp = await run('smc-adjacent.elf', false);
    expect(jit.output).toBe(readFileSync(join(DIR, 'expected', 'smc-adjacent.txt'), 'latin1'));
    expect(jit.output).not.toMatch(/^FAIL/m);
    expect({ reason: jit.exit.reason, status: jit.exit.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(jit.output).toBe(interp.output);
    expect(jit.vm.instructions).toBe(interp.vm.instructions);
  });
});
