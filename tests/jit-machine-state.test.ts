// Native forms that read machine state beyond the registers, against the interpreter. FS/GS operands
// (Tx.segment): a loop reading and writing through FS and GS with non-zero
// bases must leave exactly what the interpreter leaves (whose segment checks the host oracle and
// segments.elf hold to the CPU), also when the segment cannot serve the access: beyond its limit, read-only,
// expand-down, unusable, or at the 4 GiB wrap. Each case runs whole in one run() under each engine (so the
// compiled loop runs on into the access that must fault), and the two end states must be equal.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PAUSE_NS, PORT_IO_NS } from '../src/cpu/cpu.ts';

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

/**
 * PAUSE spends PAUSE_NS of virtual time (cpu.ts), in compiled code as in the interpreter: readings of the TSC
 * around a PAUSE, and of the ACPI PM timer by a port read right after it in the same block (through the
 * helper, which must see the time the interpreter's block after the PAUSE sees), 300 trips of 16 bytes of
 * records; then isa-debug-exit 0.
 */
const PAUSE_PROGRAM = Uint8Array.from([
  0xbb, 0x00, 0x00, 0x20, 0x00, // mov ebx, 0x200000
  0xb9, 0x2c, 0x01, 0x00, 0x00, // mov ecx, 300
  0x0f, 0x31, // loop: rdtsc
  0x89, 0x03, // mov [ebx], eax
  0xf3, 0x90, // pause
  0x66, 0xba, 0x08, 0x06, // mov dx, 0x608 (the PM timer)
  0xed, // in eax, dx
  0x89, 0x43, 0x0c, // mov [ebx+12], eax
  0x0f, 0x31, // rdtsc
  0x89, 0x43, 0x04, // mov [ebx+4], eax
  0xf3, 0x90, // pause
  0x0f, 0x31, // rdtsc
  0x89, 0x43, 0x08, // mov [ebx+8], eax
  0x83, 0xc3, 0x10, // add ebx, 16
  0x49, // dec ecx
  0x75, 0x100 - 32, // jnz loop
  0xb0, 0x00, 0xe6, 0xf4, // mov al, 0; out 0xf4, al
  0xf4,
]);

/**
 * A delay loop as Linux's udelay spins (pause; rdtsc; cmp; jb) for 5 ms of virtual time with the PIT
 * interrupting every ~1 ms: the handler at 0x100100 records the TSC and the EIP it interrupted at
 * 0x200000 + 8 * n (n in ESI); the count goes to 0x1ffff0, then isa-debug-exit 0.
 */
const DELAY_PROGRAM = Uint8Array.from([
  0x0f, 0x01, 0x15, 0x08, 0x30, 0x00, 0x00, // lgdt [0x3008]
  0x0f, 0x01, 0x1d, 0x00, 0x30, 0x00, 0x00, // lidt [0x3000]
  0xb0, 0x34, 0xe6, 0x43, // PIT channel 0, mode 2, low then high byte
  0xb0, 0xa9, 0xe6, 0x40, 0xb0, 0x04, 0xe6, 0x40, // divisor 1193: ~1 kHz
  0xb0, 0xfe, 0xe6, 0x21, // unmask IRQ 0 alone
  0x31, 0xf6, // xor esi, esi
  0xbf, 0x00, 0x00, 0x20, 0x00, // mov edi, 0x200000
  0x0f, 0x31, // rdtsc
  0x8d, 0x98, 0x40, 0x4b, 0x4c, 0x00, // lea ebx, [eax+5000000]
  0xfb, // sti
  0xf3, 0x90, 0x0f, 0x31, 0x39, 0xd8, 0x72, 0xf8, // spin: pause; rdtsc; cmp eax, ebx; jb spin
  0xfa, // cli
  0x89, 0x35, 0xf0, 0xff, 0x1f, 0x00, // mov [0x1ffff0], esi
  0xb0, 0x00, 0xe6, 0xf4, 0xf4, // mov al, 0; out 0xf4, al; hlt
]);
const DELAY_HANDLER = Uint8Array.from([
  0x50, 0x52, 0x0f, 0x31, // push eax; push edx; rdtsc
  0x89, 0x07, 0x8b, 0x44, 0x24, 0x08, 0x89, 0x47, 0x04, // mov [edi], eax; mov eax, [esp+8]; mov [edi+4], eax
  0x83, 0xc7, 0x08, 0x46, // add edi, 8; inc esi
  0xb0, 0x20, 0xe6, 0x20, // EOI
  0x5a, 0x58, 0xcf, // pop edx; pop eax; iret
]);

async function runDelay(engine: 'interp' | 'jit') {
  const vm: Vm = await VM.create({ memory: 16 << 20, engine, jit: { tier2: 'off', threshold: 0 } });
  loadRaw(vm, DELAY_PROGRAM, { load: LOAD, entry: LOAD });
  vm.memory.writeBytes(LOAD + 0x100, DELAY_HANDLER);
  // GDT at 0x4000 (flat code 0x08, data 0x10); IDT at 0x2000 with interrupt gate 8 (IRQ 0) → the handler.
  vm.memory.writeBytes(0x3000, Uint8Array.from([0xff, 0x07, 0x00, 0x20, 0x00, 0x00]));
  vm.memory.writeBytes(0x3008, Uint8Array.from([0x17, 0x00, 0x00, 0x40, 0x00, 0x00]));
  vm.memory.writeBytes(0x4008, Uint8Array.from([0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]));
  vm.memory.writeBytes(0x2000 + 8 * 8, Uint8Array.from([0x00, 0x01, 0x08, 0x00, 0x00, 0x8e, 0x10, 0x00]));
  const exit = vm.run({ maxInstructions: 10_000_000 });
  const records = Buffer.from(vm.memory.ram.subarray(0x1ffff0, 0x200000 + 0x100)).toString('hex');
  return { state: { message: exit.message, instructions: vm.instructions, now: vm.nowNs(), registers: vm.getRegisters(), records }, compiled: vm.jitStats()?.instructions ?? 0, count: vm.memory.ram[0x1ffff0] };
}

describe('PAUSE in compiled code, against the interpreter', () => {
  it('spends PAUSE_NS of virtual time: TSC readings around it, and a timer read by the helper after it in its block', async () => {
    const c = { name: 'pause', fs: FLAT, gs: FLAT, program: PAUSE_PROGRAM };
    const interp = await run(c, 'interp'), jit = await run(c, 'jit');
    expect(jit.state).toEqual(interp.state);
    expect(jit.compiled).toBeGreaterThan(1000);
    expect(interp.state.message).toMatch(/exited with status 1/);
    // Per trip: rdtsc; mov; pause; mov; in; mov; rdtsc — then mov; pause; rdtsc.
    const ram = Buffer.from(interp.state.ram[0], 'hex');
    for (let k = 0; k < 256; k++) {
      const [a, b, d] = [0, 4, 8].map((o) => ram.readUInt32LE(16 * k + o));
      expect(b - a).toBe(2 + PAUSE_NS + 2 + PORT_IO_NS + 1);
      expect(d - b).toBe(2 + PAUSE_NS);
    }
  });

  it('a udelay-style loop under timer interrupts: the same interrupts at the same instructions, few instructions per µs', async () => {
    const interp = await runDelay('interp'), jit = await runDelay('jit');
    expect(jit.state).toEqual(interp.state);
    expect(jit.compiled).toBeGreaterThan(1000);
    expect(interp.state.message).toMatch(/exited with status 1/);
    expect(interp.count).toBeGreaterThanOrEqual(4); // ~1 kHz for 5 ms
    // 5 ms of virtual time spun in ~5,000 trips of 4 instructions, not 5 M instructions.
    expect(interp.state.instructions).toBeLessThan(50_000);
    expect(interp.state.now).toBeGreaterThan(5e6);
  });
});
