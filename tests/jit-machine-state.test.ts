// Native forms that read machine state beyond the registers, against the interpreter. FS/GS operands
// (Tx.segment): a loop reading and writing through FS and GS with non-zero
// bases must leave exactly what the interpreter leaves (whose segment checks the host oracle and
// segments.elf hold to the CPU), also when the segment cannot serve the access: beyond its limit, read-only,
// expand-down, unusable, or at the 4 GiB wrap. Each case runs whole in one run() under each engine (so the
// compiled loop runs on into the access that must fault), and the two end states must be equal.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { loadRaw, VM } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type Vm = InstanceType<typeof VM>;

const LOAD = 0x100000;
/**
 * ecx = 200 (unless set), then per trip: eax = fs:[ebx*4+0x10]; gs:[ebx] += eax; fs:[0x20]++;
 * edx = byte gs:[ebx+1]; ebx++; loop. Then isa-debug-exit 0.
 */
const PROGRAM = Uint8Array.from([
  0x85, 0xc9, 0x75, 0x05, // test ecx, ecx; jnz +5
  0xb9, 0xc8, 0x00, 0x00, 0x00, // mov ecx, 200
  0x64, 0x8b, 0x04, 0x9d, 0x10, 0x00, 0x00, 0x00, // loop: mov eax, fs:[ebx*4+0x10]
  0x65, 0x01, 0x03, // add gs:[ebx], eax
  0x64, 0xff, 0x05, 0x20, 0x00, 0x00, 0x00, // inc dword fs:[0x20]
  0x65, 0x0f, 0xb6, 0x53, 0x01, // movzx edx, byte gs:[ebx+1]
  0x43, // inc ebx
  0x49, // dec ecx
  0x75, 0x100 - 27, // jnz loop
  0xb0, 0x00, 0xe6, 0xf4, // mov al, 0; out 0xf4, al
  0xf4, // hlt
]);

const DATA_RW = 0xc93, DATA_RO = 0xc91, DATA_DOWN = 0xc97, UNUSABLE = 0x10000;

interface Case { name: string; fs: [number, number, number]; gs: [number, number, number]; ebx?: number; ecx?: number; program?: Uint8Array; cr4?: number }
const CASES: Case[] = [
  { name: 'based, flat limits', fs: [0x200000, -1, DATA_RW], gs: [0x300003, -1, DATA_RW] },
  { name: 'FS limit reached mid-loop (#GP)', fs: [0x200000, 0x40, DATA_RW], gs: [0x300000, -1, DATA_RW] },
  { name: 'GS read-only (#GP on the add)', fs: [0x200000, -1, DATA_RW], gs: [0x300000, -1, DATA_RO] },
  { name: 'FS expand-down above its limit', fs: [0x200000, 0x0f, DATA_DOWN], gs: [0x300000, -1, DATA_RW] },
  { name: 'FS unusable (null selector)', fs: [0, 0, UNUSABLE], gs: [0x300000, -1, DATA_RW] },
  { name: 'GS dword access wrapping at 4 GiB (#GP)', fs: [0x200000, -1, DATA_RW], gs: [0x300000, -1, DATA_RW], ebx: 0xfffffff0, ecx: 40 },
];

async function run(c: Case, engine: 'interp' | 'jit') {
  const vm: Vm = await VM.create({ memory: 16 << 20, engine, jit: { tier2: 'off', threshold: 0 } });
  loadRaw(vm, c.program ?? PROGRAM, { load: LOAD, entry: LOAD });
  if (c.cr4 !== undefined) vm.writeRegister('cr4', c.cr4);
  vm.writeSegment('fs', { selector: 0x18, base: c.fs[0], limit: c.fs[1], attributes: c.fs[2] });
  vm.writeSegment('gs', { selector: 0x20, base: c.gs[0], limit: c.gs[1], attributes: c.gs[2] });
  vm.setRegisters({ ebx: c.ebx ?? 0, ecx: c.ecx ?? 0 });
  const exit = vm.run({ maxInstructions: 1_000_000 });
  // The data both segments reach, and where a wrapped GS offset would land (base - 3).
  const ram = [0x200000, 0x300000, 0x2ff000].map((a) => Buffer.from(vm.memory.ram.subarray(a, a + 0x1000)).toString('hex'));
  return { state: { message: exit.message, instructions: vm.instructions, registers: vm.getRegisters(), ram }, compiled: vm.jitStats()?.instructions ?? 0 };
}

describe('FS/GS operands in compiled code, against the interpreter', () => {
  it.each(CASES)('$name', async (c) => {
    const interp = await run(c, 'interp'), jit = await run(c, 'jit');
    expect(jit.state).toEqual(interp.state);
    expect(jit.compiled).toBeGreaterThan(0); // the faulting cases reach their fault within a few instructions of the first trip
    if (c.name.startsWith('based') || c.name.includes('expand-down')) expect(interp.state.message).toMatch(/exited with status 1/);
    else expect(interp.state.message).toMatch(/triple fault.*#GP/);
  });
});

/**
 * RDTSC (the virtual clock: instructions retired + idle ns) in a loop that also does port I/O through the
 * helper (each OUT adds idle time mid-call): every reading is stored, 300 trips, then isa-debug-exit 0.
 */
const RDTSC_PROGRAM = Uint8Array.from([
  0xbb, 0x00, 0x00, 0x20, 0x00, // mov ebx, 0x200000
  0xb9, 0x2c, 0x01, 0x00, 0x00, // mov ecx, 300
  0x0f, 0x31, // loop: rdtsc
  0x89, 0x03, // mov [ebx], eax
  0x89, 0x53, 0x04, // mov [ebx+4], edx
  0xf6, 0xc1, 0x07, // test cl, 7
  0x75, 0x02, // jnz +2
  0xe6, 0x80, // out 0x80, al
  0x83, 0xc3, 0x08, // add ebx, 8
  0x49, // dec ecx
  0x75, 0x100 - 21, // jnz loop
  0xb0, 0x00, 0xe6, 0xf4, // mov al, 0; out 0xf4, al
  0xf4,
]);
const FLAT: Case['fs'] = [0, -1, DATA_RW];

describe('RDTSC in compiled code, against the interpreter', () => {
  it.each([
    { name: 'readings with port I/O between them', fs: FLAT, gs: FLAT, program: RDTSC_PROGRAM },
    { name: 'CR4.TSD set (left to the interpreter)', fs: FLAT, gs: FLAT, program: RDTSC_PROGRAM, cr4: 4 },
  ])('$name', async (c) => {
    const interp = await run(c, 'interp'), jit = await run(c, 'jit');
    expect(jit.state).toEqual(interp.state);
    expect(jit.compiled).toBeGreaterThan(1000);
    expect(interp.state.message).toMatch(/exited with status 1/);
    expect(interp.state.ram[0]).not.toMatch(/^0+$/);
  });
});
