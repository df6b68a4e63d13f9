// The embedding API (issue 14, part 2): hooks of every kind on small guest snippets under both engines,
// runAsync (yields, abort, stop), begin/until/count, memory mapping outside RAM, registers by name,
// events and destroy. Oracles: the code hook's addresses against the interpreter's own `trace` (one line per
// executed instruction), block starts against the trace's control transfers, segment loads through the API
// against the same load done by the guest's MOV DS; the JIT runs must match the interpreter's counts and
// must really run the unhooked page compiled.
// The snippets' nasm sources are in the comments (org 0x100000, bits 32, loaded flat at 1 MiB).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadImage, loadRaw, VM } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type VM = import('../src/index.ts').VM;

const ENGINES = ['interp', 'jit'] as const;
const hex = (s: string): Uint8Array => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));

// LOOP — page A (0x100000) calls a function on page B (0x101000) 2000 times, then touches data:
//   mov ecx, 2000 / .loop: add eax, ecx / call 0x101000 / dec ecx / jnz .loop
//   mov [0x200000], eax / mov ebx, [0x200000] / mov byte [0x200010], 7 / hlt
//   (page B) mov edx, 3 / .f: inc esi / dec edx / jnz .f / ret
const LOOP_A = 'b9d007000001c8e8f40f00004975f6a3000020008b1d00002000c60510002000' + '07f4';
const LOOP_B = 'ba03000000464a75fcc3';
const PAGE_B = 0x101000;
function loopImage(): Uint8Array {
  const img = new Uint8Array(0x1000 + LOOP_B.length / 2).fill(0x90);
  img.set(hex(LOOP_A), 0);
  img.set(hex(LOOP_B), 0x1000);
  return img;
}
/** Instructions LOOP retires: 1 + 2000 × (4 + 1 + 3×3 + 1) + 4 (mov, mov, mov, hlt). */
const LOOP_INSTRUCTIONS = 1 + 2000 * 15 + 4;

// MISC — one instruction per hook kind:
//   int 0x30 / ud2 / mov eax, 0x1234 / vmcall / mov edi, eax / in al, 0x99 / out 0x98, al
//   mov ebx, [0xD0000000] / mov dword [0xD0000004], 0x11223344 / mov ecx, [0xD0000004]   (unmapped → mapped by the hook)
//   mov dword [0xE0000000], 0x55 / mov edx, [0xE0000000]                                  (ROM)
//   mov dword [0xC0000008], 0xabcd / mov esi, [0xC0000008] / hlt                          (MMIO)
const MISC = 'cd300f0bb8341200000f01c189c7e499e6988b1d000000d0c705040000d0443322118b0d040000d0c705000000e0550000008b15000000e0c705080000c0cdab00008b35080000c0f4';
// SPIN — .l: inc eax / jmp .l
const SPIN = '40ebfd';
// SEG — mov ax, 0x18 / mov ds, ax / hlt
const SEG = '66b818008ed8f4';

async function guest(code: Uint8Array, engine: (typeof ENGINES)[number] = 'interp', stdout?: (b: Uint8Array) => void): Promise<VM> {
  const vm = createVM({ memory: 4 << 20, stdout });
  if (engine === 'jit') await vm.enableJit({ threshold: 0, tier2: 'off' });
  loadRaw(vm, code, { load: 0x100000, entry: 0x100000, bits: 32 });
  return vm;
}

/** The EIPs the interpreter's trace shows, and whether each instruction is a control transfer. */
async function traced(code: Uint8Array): Promise<{ eips: number[]; transfers: boolean[] }> {
  const vm = await guest(code);
  const eips: number[] = [], transfers: boolean[] = [];
  vm.run({ trace: (line) => {
    const m = /^[0-9a-f]{4}:([0-9a-f]{8})\s+(\S+)/.exec(line)!;
    eips.push(parseInt(m[1], 16));
    transfers.push(/^(j|call|ret|loop|int|iret)/.test(m[2]));
  }, traceRegisters: false });
  return { eips, transfers };
}

/** Paging on through the register API: the first 4 MiB identity-mapped, 0x40000000 → physical 0x200000. */
function pagingWithAlias(vm: VM): void {
  const pd = 0x10000, pt0 = 0x11000, pt1 = 0x12000;
  const w = (a: number, v: number) => vm.memory.write(a, 4, v);
  w(pd, pt0 | 3); w(pd + (0x40000000 >>> 22) * 4, pt1 | 3);
  for (let i = 0; i < 1024; i++) w(pt0 + i * 4, (i << 12) | 3);
  w(pt1, 0x200000 | 3);
  vm.writeRegister('cr3', pd);
  vm.writeRegister('cr0', vm.readRegister('cr0') | 0x80000000);
}

describe('code and block hooks', () => {
  it('a code hook over everything sees exactly the instructions the interpreter traces, in order', async () => {
    const want = await traced(loopImage());
    for (const engine of ENGINES) {
      const vm = await guest(loopImage(), engine);
      const seen: number[] = [], sizes: number[] = [];
      vm.hook('code', (addr, size) => { seen.push(addr); sizes.push(size); });
      const exit = vm.run();
      expect(exit.reason).toBe('halt');
      expect(seen).toEqual(want.eips);
      expect(seen.length).toBe(LOOP_INSTRUCTIONS);
      expect(sizes.slice(0, 3)).toEqual([5, 2, 5]); // mov ecx, imm32 / add eax, ecx / call rel32
    }
  });

  it('block hooks fire at the first instruction and after every control transfer (the trace\'s)', async () => {
    const { eips, transfers } = await traced(loopImage());
    const want = eips.filter((_, i) => i === 0 || transfers[i - 1]);
    const vm = await guest(loopImage());
    const seen: number[] = [];
    vm.hook('block', (addr) => { seen.push(addr); });
    vm.run();
    expect(seen).toEqual(want);
  });

  it.each(ENGINES)('%s: a code hook on page B only sees page B, the counts match, and under the JIT page A runs compiled', async (engine) => {
    const vm = await guest(loopImage(), engine);
    const seen: number[] = [];
    vm.hook('code', (addr) => { seen.push(addr); }, { begin: PAGE_B, end: PAGE_B + 0xfff });
    expect(vm.run().reason).toBe('halt');
    expect(vm.instructions).toBe(LOOP_INSTRUCTIONS);
    // mov edx / (inc esi, dec edx, jnz) × 3 / ret per call
    expect(seen.length).toBe(2000 * 11);
    expect(seen.every((a) => a >= PAGE_B && a < PAGE_B + 0x1000)).toBe(true);
    expect(seen.slice(0, 5)).toEqual([PAGE_B, PAGE_B + 5, PAGE_B + 6, PAGE_B + 7, PAGE_B + 5]);
    if (engine === 'jit') {
      const stats = vm.jitStats()!;
      expect(stats.compiled).toBeGreaterThan(0);
      // Most of page A's instructions ran in compiled code (the loop body: 4 of its 15 instructions per iteration).
      expect(stats.instructions).toBeGreaterThan(2000 * 3);
      // Nothing of page B was compiled: every page-B instruction was seen by the hook (checked above), and no region covers it.
      expect(vm.jitDump(PAGE_B)).toBeNull();
    }
  });

  it('a hook removed stops firing; unhooked code compiles again under the JIT', async () => {
    const vm = await guest(loopImage(), 'jit');
    let n = 0;
    const h = vm.hook('code', () => { n++; }, { begin: PAGE_B, end: PAGE_B + 0xfff });
    vm.run({ maxInstructions: 1000 });
    const before = n;
    expect(before).toBeGreaterThan(0);
    h.remove();
    vm.run();
    expect(n).toBe(before);
    expect(vm.instructions).toBe(LOOP_INSTRUCTIONS);
    expect(vm.jitDump(PAGE_B)).not.toBeNull();
  });

  it.each(ENGINES)('%s: vm.stop() from an out hook (compiled code around it) ends the run after the OUT', async (engine) => {
    const vm = await guest(hex('40e680ebfb'), engine); // l: inc eax / out 0x80, al / jmp l
    let outs = 0;
    vm.hook('out', () => { if (++outs === 1000) vm.stop(); }, { begin: 0x80, end: 0x80 });
    const exit = vm.run({ maxInstructions: 1_000_000 });
    expect(exit).toMatchObject({ reason: 'stopped', eip: 0x100003 });
    expect(vm.readRegister('eax')).toBe(1000);
  });

  it.each(ENGINES)('%s: vm.stop() from a code hook ends the run before that instruction', async (engine) => {
    const vm = await guest(loopImage(), engine);
    let calls = 0;
    const stopAt = PAGE_B + 9; // ret
    vm.hook('code', (addr) => { if (addr === stopAt && ++calls === 10) vm.stop(); }, { begin: stopAt, end: stopAt });
    const exit = vm.run();
    expect(exit.reason).toBe('stopped');
    expect(exit.eip).toBe(stopAt);
    expect(calls).toBe(10);
    // 1 + 9 whole iterations + the 10th up to (not including) its ret: add, call, mov edx, 9 loop instructions.
    expect(vm.instructions).toBe(1 + 9 * 15 + 2 + 1 + 9);
    expect(vm.run().reason).toBe('halt'); // the run goes on from the ret
    expect(vm.instructions).toBe(LOOP_INSTRUCTIONS);
  });
});

describe('memory hooks', () => {
  it.each(ENGINES)('%s: mem-write and mem-read see exactly the data accesses in their range', async (engine) => {
    const vm = await guest(loopImage(), engine);
    const writes: [number, number, number][] = [], reads: [number, number, number][] = [];
    vm.hook('mem-write', (a, size, v) => { writes.push([a, size, v]); }, { begin: 0x200000, end: 0x2000ff });
    vm.hook('mem-read', (a, size, v) => { reads.push([a, size, v]); }, { begin: 0x200000, end: 0x2000ff });
    expect(vm.run().reason).toBe('halt');
    const sum = (2000 * 2001) / 2;
    expect(writes).toEqual([[0x200000, 4, sum], [0x200010, 1, 7]]);
    expect(reads).toEqual([[0x200000, 4, sum]]);
    expect(vm.instructions).toBe(LOOP_INSTRUCTIONS);
  });

  it('a mem-read hook pauses the JIT of a VM made with engine jit, and removing it brings the JIT back', async () => {
    const vm = await VM.create({ memory: 4 << 20, engine: 'jit', jit: { threshold: 0, tier2: 'off' } });
    loadRaw(vm, loopImage(), { load: 0x100000, entry: 0x100000, bits: 32 });
    const reads: number[] = [];
    const h = vm.hook('mem-read', (a, size, v) => { reads.push(v); }, { begin: 0x200000, end: 0x2000ff });
    expect(vm.run({ count: 1000 }).reason).toBe('max-instructions');
    expect(vm.jitStats()!.instructions).toBe(0); // paused: compiled code would read RAM past the hook
    h.remove();
    expect(vm.run().reason).toBe('halt');
    expect(vm.instructions).toBe(LOOP_INSTRUCTIONS);
    expect(vm.jitStats()!.instructions).toBeGreaterThan(0);
  });

  it('a mem-write hook alone leaves the JIT on: the loop runs compiled while the watched page\'s stores are seen', async () => {
    const vm = await guest(loopImage(), 'jit');
    vm.writeRegister('esp', 0x300000);
    const pushes: number[] = [];
    vm.hook('mem-write', (a, size, v) => { pushes.push(v); }, { begin: 0x2ff000, end: 0x2fffff });
    vm.run();
    expect(pushes.length).toBe(2000);
    expect(vm.instructions).toBe(LOOP_INSTRUCTIONS);
    expect(vm.jitStats()!.instructions).toBeGreaterThan(2000 * 8); // page B's function body ran compiled
  });

  it.each(ENGINES)('%s: with paging, mem-write hooks match linear addresses, not the physical page behind them', async (engine) => {
    // mov dword [0x40000000], 0x77 / mov dword [0x200004], 0x88 / hlt — 0x40000000 maps to physical 0x200000.
    const vm = await guest(hex('c7050000004077000000c7050400200088000000f4'), engine);
    pagingWithAlias(vm);
    const seen: string[] = [];
    vm.hook('mem-write', (a, size, v) => { seen.push(`${a.toString(16)} ${v.toString(16)}`); }, { begin: 0x40000000, end: 0x40000fff });
    vm.run();
    expect(seen).toEqual(['40000000 77']);
    expect(vm.memory.read(0x200000, 4)).toBe(0x77);
    expect(vm.memory.read(0x200004, 4)).toBe(0x88);
  });

  it('the stack\'s pushes are data writes: a mem-write hook on the stack page sees every call', async () => {
    const vm = await guest(loopImage());
    vm.writeRegister('esp', 0x300000);
    const pushes: number[] = [];
    vm.hook('mem-write', (a, size, v) => { pushes.push(v); expect([a, size]).toEqual([0x2ffffc, 4]); }, { begin: 0x2ff000, end: 0x2fffff });
    vm.run();
    expect(pushes.length).toBe(2000);
    expect(new Set(pushes)).toEqual(new Set([0x10000c])); // the return address after the call
  });

  it.each(ENGINES)('%s: unmapped, ROM (prot), MMIO, interrupt, invalid, in, out and hypercall hooks', async (engine) => {
    const vm = await guest(hex(MISC), engine);
    const log: string[] = [];
    vm.mapRom(0xe0000000, new Uint8Array([0x78, 0x56, 0x34, 0x12]));
    const mmio = new Map<number, number>();
    vm.mapMmio(0xc0000000, 0x1000, {
      read: (off, size) => { log.push(`mmio read ${off} ${size}`); return mmio.get(off) ?? 0; },
      write: (off, size, v) => { log.push(`mmio write ${off} ${size} ${v.toString(16)}`); mmio.set(off, v); },
    });
    vm.hook('interrupt', (vector, info) => { log.push(`int ${vector.toString(16)} ${info.software} ${info.eip.toString(16)}`); return true; });
    vm.hook('invalid', (addr) => { log.push(`ud ${addr.toString(16)}`); vm.writeRegister('eip', addr + 2); return true; });
    vm.hook('hypercall', (nr) => { log.push(`vmcall ${nr.toString(16)}`); vm.writeRegister('eax', 7); return true; });
    vm.hook('in', (port, size) => { log.push(`in ${port.toString(16)} ${size}`); return 0x5a; });
    vm.hook('out', (port, size, v) => { log.push(`out ${port.toString(16)} ${size} ${v.toString(16)}`); return true; }, { begin: 0x98, end: 0x98 });
    vm.hook('mem-unmapped', (a, size, write) => {
      log.push(`unmapped ${a.toString(16)} ${size} ${write}`);
      vm.mapRam(0xd0000000, 0x1000);
      return true;
    });
    vm.hook('mem-prot', (a, size, v) => { log.push(`prot ${a.toString(16)} ${size} ${v.toString(16)}`); });
    const exit = vm.run();
    expect(exit.reason).toBe('halt');
    expect(log).toEqual([
      'int 30 true 100002',
      'ud 100002',
      'vmcall 1234',
      'in 99 1',
      'out 98 1 5a',
      'unmapped d0000000 4 false',
      'prot e0000000 4 55',
      'mmio write 8 4 abcd',
      'mmio read 8 4',
    ]);
    expect(vm.readRegister('edi')).toBe(7);
    expect(vm.readRegister('al')).toBe(0x5a);
    expect(vm.readRegister('ebx')).toBe(0); // the RAM the hook mapped, zeroed
    expect(vm.readRegister('ecx')).toBe(0x11223344);
    expect(vm.readRegister('edx')).toBe(0x12345678); // the ROM kept its bytes
    expect(vm.readRegister('esi')).toBe(0xabcd);
  });

  it('without a mem-unmapped hook, unmapped reads give all-ones and the interrupt hook sees #UD when no invalid hook takes it', async () => {
    const vm = await guest(hex(MISC));
    const vectors: number[] = [];
    vm.hook('interrupt', (v) => { vectors.push(v); if (v === 6) vm.writeRegister('eip', vm.readRegister('eip') + 2); return true; });
    vm.run({ maxInstructions: 8 });
    expect(vectors).toEqual([0x30, 6]);
    expect(vm.readRegister('ebx')).toBe(0xffffffff);
  });
});

describe('external interrupts', () => {
  it('the interrupt hook sees the PIC\'s interrupts (pic-pit.elf), and the guest still gets them', async () => {
    const out: Uint8Array[] = [];
    const vm = createVM({ stdout: (b) => out.push(b) });
    loadImage(vm, new Uint8Array(readFileSync(join(import.meta.dirname, '..', 'test-roms', 'pic-pit.elf'))), 'pic-pit.elf', {});
    const external = new Map<number, number>();
    vm.hook('interrupt', (vector, info) => { if (info.external) external.set(vector, (external.get(vector) ?? 0) + 1); });
    const exit = vm.run({ timeout: 20 });
    expect({ reason: exit.reason, status: exit.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(Buffer.concat(out).toString('latin1')).toBe(readFileSync(join(import.meta.dirname, '..', 'test-roms', 'expected', 'pic-pit.txt'), 'latin1'));
    expect(external.size).toBeGreaterThan(0);
    expect(vm.exitStats().find((c) => c.reason === 'IRQ_WINDOW')!.count).toBe([...external.values()].reduce((a, b) => a + b, 0));
  });
});

describe('runAsync', () => {
  it.each(ENGINES)('%s: yields to the event loop: a timer stops a guest that would spin for ever', async (engine) => {
    const vm = await guest(hex(SPIN), engine);
    let fired = 0;
    setTimeout(() => { fired++; vm.stop(); }, 0);
    const exit = await vm.runAsync();
    expect(exit.reason).toBe('stopped');
    expect(fired).toBe(1);
    expect(vm.instructions).toBeGreaterThan(0);
  });

  it('an AbortSignal ends the run with reason stopped', async () => {
    const vm = await guest(hex(SPIN));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 0);
    const exit = await vm.runAsync({ signal: ac.signal, sliceMs: 1 });
    expect(exit).toMatchObject({ reason: 'stopped', message: expect.stringMatching(/abort/) });
  });

  it.each(ENGINES)('%s: count, until and begin hold exactly across slices', async (engine) => {
    const vm = await guest(hex(SPIN), engine);
    const n = Number(process.env.VM_HOOKS_COUNT ?? 2_000_000);
    const exit = await vm.runAsync({ count: n, sliceMs: 1 });
    expect(exit.reason).toBe('max-instructions');
    expect(vm.instructions).toBe(n);
    expect(vm.readRegister('eax')).toBe(n / 2);
    // until: stop at the jmp; begin: start at the jmp (it goes back to the inc).
    const u = await vm.runAsync({ until: 0x100001 });
    expect(u).toMatchObject({ reason: 'until', eip: 0x100001 });
    const c = vm.run({ begin: 0x100001, count: 3 });
    expect(c.reason).toBe('max-instructions');
    expect(vm.readRegister('eip')).toBe(0x100000); // jmp, inc, jmp
  });

  it('emits exit and exit-stats once per run, serial-output as the guest writes COM1', async () => {
    // mov dx, 0x3f8 / mov al, 'h' / out dx, al / mov al, 'i' / out dx, al / hlt
    const chunks: string[] = [];
    const vm = await guest(hex('66baf803b068eeb069eef4'));
    const exits: string[] = [];
    let stats = 0;
    vm.on('serial-output', (b) => chunks.push(Buffer.from(b).toString('latin1')));
    vm.on('exit', (e) => exits.push(e.reason));
    vm.on('exit-stats', (s) => { stats++; expect(s.find((c) => c.reason === 'IO')?.count).toBeGreaterThanOrEqual(2); });
    await vm.runAsync();
    expect(chunks.join('')).toBe('hi');
    expect(exits).toEqual(['halt']);
    expect(stats).toBe(1);
  });
});

describe('memory mapping', () => {
  it('maps RAM, ROM and MMIO anywhere outside guest RAM, refuses overlaps with one clear error, unmaps', async () => {
    const vm = await guest(hex(SPIN));
    const ram = vm.mapRam(0x80000000, 0x2000);
    vm.mapRom(0xfff00000, new Uint8Array(16));
    expect(() => vm.mapRam(0x80001000, 0x1000)).toThrow(/overlaps the mapping \[0x80000000, 0x80002000\)/);
    expect(() => vm.mapMmio(0x1000, 0x1000, { read: () => 0, write: () => {} })).toThrow(/overlaps guest RAM/);
    expect(() => vm.mapRam(0xfffff000, 0x2000)).toThrow(/leaves the 4 GiB/);
    vm.memory.write(0x80000ffe, 4, 0x11223344); // straddles two pages of the region
    expect(ram[0xffe]).toBe(0x44);
    expect(vm.memory.read(0x80000ffe, 4)).toBe(0x11223344);
    expect(vm.debugRead8(0x80000fff)).toBe(0x33);
    expect(vm.unmap(0x80000000)).toBe(true);
    expect(vm.unmap(0x80000000)).toBe(false);
    expect(vm.memory.read(0x80000ffe, 4)).toBe(-1);
    expect(() => vm.saveState()).not.toThrow();
    vm.mapRam(0x90000000, 0x1000);
    expect(() => vm.saveState()).toThrow(/RAM mapped outside its main RAM/);
  });

  it('guest code runs from mapped RAM', async () => {
    const vm = await guest(hex(SPIN));
    const ram = vm.mapRam(0x40000000, 0x1000);
    ram.set(hex('b82a000000f4'), 0); // mov eax, 42 / hlt
    expect(vm.run({ begin: 0x40000000 }).reason).toBe('halt');
    expect(vm.readRegister('eax')).toBe(42);
  });
});

describe('registers', () => {
  it('every register round-trips; the narrow views alias the wide ones', async () => {
    const vm = await guest(hex(SPIN));
    const regs = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'dr0', 'dr1', 'dr2', 'dr3', 'dr6', 'dr7', 'gdtr.base', 'gdtr.limit', 'idtr.base', 'idtr.limit', 'cr2', 'cr3'] as const;
    regs.forEach((r, i) => vm.writeRegister(r, (0x9e3779b9 * (i + 1)) >>> 0));
    regs.forEach((r, i) => expect(vm.readRegister(r)).toBe((0x9e3779b9 * (i + 1)) >>> 0));
    vm.writeRegister('eax', 0x12345678);
    expect([vm.readRegister('ax'), vm.readRegister('al'), vm.readRegister('ah')]).toEqual([0x5678, 0x78, 0x56]);
    vm.writeRegister('ah', 0xab);
    expect(vm.readRegister('eax')).toBe(0x1234ab78);
    vm.writeRegister('eflags', 0x2 | 0x1 | 0x40 | 0x800);
    expect(vm.readRegister('eflags')).toBe(0x843);
    expect(() => vm.readRegister('xmm0' as never)).toThrow(/unknown register 'xmm0'/);
    vm.writeMsr(0x174, 0x10n);
    expect(vm.readMsr(0x174)).toBe(0x10n);
    expect(() => vm.readMsr(0x1234)).toThrow(/#GP/);
  });

  it('control registers take effect as MOV CRn: CR0.PG turns paging on with a TLB rebuild', async () => {
    const vm = await guest(hex('a100000040f4')); // mov eax, [0x40000000] / hlt
    vm.memory.write(0x200000, 4, 0xcafe);
    pagingWithAlias(vm);
    expect(vm.cpu.paging).toBe(true);
    vm.run();
    expect(vm.readRegister('eax')).toBe(0xcafe);
    expect(() => vm.writeRegister('cr4', 1 << 20)).toThrow(/#GP/);
  });

  it('writing a segment register in protected mode loads its cache from the GDT as the guest\'s MOV does', async () => {
    // GDT at 0x1000: null, flat code (0x08), flat data (0x10), data base 0x5000 limit 0xfff byte-granular (0x18).
    const setup = async () => {
      const vm = await guest(hex(SEG));
      const gdt = [0, 0, 0x0000ffff, 0x00cf9a00, 0x0000ffff, 0x00cf9200, 0x50000fff, 0x00409200];
      gdt.forEach((v, i) => vm.memory.write(0x1000 + i * 4, 4, v));
      vm.writeRegister('gdtr.base', 0x1000);
      vm.writeRegister('gdtr.limit', 0x1f);
      return vm;
    };
    const byGuest = await setup();
    byGuest.run();
    const viaApi = await setup();
    viaApi.writeRegister('ds', 0x18);
    expect(viaApi.readSegment('ds')).toEqual(byGuest.readSegment('ds'));
    expect(viaApi.readSegment('ds')).toMatchObject({ selector: 0x18, base: 0x5000, limit: 0xfff });
    expect(viaApi.memory.read(0x1000 + 0x18 + 5, 1)).toBe(byGuest.memory.read(0x1000 + 0x18 + 5, 1)); // the accessed bit, set by both
    expect(() => viaApi.writeRegister('ss', 0x08)).toThrow(/#GP\(0x8\)/);
    expect(() => viaApi.writeRegister('ds', 0x40)).toThrow(/#GP\(0x40\)/); // beyond the GDT's limit
    viaApi.writeRegister('cs', 0x08);
    expect(viaApi.readRegister('cpl')).toBe(0);
    viaApi.writeSegment('fs', { selector: 0x33, base: 0x7000, limit: 0xffff, attributes: 0x4093 });
    expect(viaApi.readSegment('fs')).toEqual({ selector: 0x33, base: 0x7000, limit: 0xffff, attributes: 0x4093 });
    viaApi.memory.write(0x7010, 4, 0xfeedface);
    // mov eax, [fs:0x10] / hlt
    viaApi.memory.writeBytes(0x100000, hex('64a110000000f4'));
    viaApi.run({ begin: 0x100000 });
    expect(viaApi.readRegister('eax')).toBe(0xfeedface);
  });
});

/** `vm` with a GDT at 0x1000 (flat code 0x08, data 0x10) and an IDT at 0x2000 whose #DB gate (an interrupt gate) enters `handler`. */
function debugHandler(vm: VM, handler: number): VM {
  [0, 0, 0x0000ffff, 0x00cf9a00, 0x0000ffff, 0x00cf9200].forEach((v, i) => vm.memory.write(0x1000 + i * 4, 4, v));
  vm.memory.write(0x2008, 4, (0x08 << 16) | (handler & 0xffff));
  vm.memory.write(0x200c, 4, (handler & 0xffff0000) | 0x8e00);
  vm.writeRegister('gdtr.base', 0x1000); vm.writeRegister('gdtr.limit', 0x17);
  vm.writeRegister('idtr.base', 0x2000); vm.writeRegister('idtr.limit', 0x7ff);
  return vm;
}

describe('debug registers (DR0–DR3 honoured)', () => {
  // mov esp, 0x90000 / DR0 = target (execute) / DR1 = 0x200000 (write, 4 bytes) / DR7 = 0x00d00005 / mov ecx, 3
  // target: inc ebx / mov [0x200000], ebx / after_store: dec ecx / jnz target / hlt
  // handler (#DB): log [esp] and DR6 at 0x300010 + 8n, n = [0x300000]++; DR6 = 0; if [esp] = target: set RF in
  //   the saved EFLAGS (resume the breakpointed instruction); iret
  const DR = 'bc00000900b8220010000f23c0b8000020000f23c8b80500d0000f23f8b90300000043891d000020004975f6f4' +
    '8b15000030008b04248904d5100030000f21f08904d514003000ff050000300031c00f23f0813c24220010007508814c240800000100cf';
  const TARGET = 0x100022, AFTER_STORE = 0x100029, HANDLER = 0x10002d;

  it.each(ENGINES)('%s: an instruction breakpoint faults before the instruction (RF resumes it), a data breakpoint traps after the store', async (engine) => {
    const vm = debugHandler(await guest(hex(DR), engine), HANDLER);
    const exit = vm.run({ maxInstructions: 10_000 });
    expect(exit.reason).toBe('halt');
    const events = vm.memory.read(0x300000, 4);
    const log = Array.from({ length: events }, (_, i) => [vm.memory.read(0x300010 + 8 * i, 4), vm.memory.read(0x300014 + 8 * i, 4)]);
    // Per iteration: #DB fault at target with DR6.B0, then (inc and the store done) #DB trap after the store with DR6.B1.
    expect(log).toEqual(Array.from({ length: 3 }, () => [[TARGET, 1], [AFTER_STORE, 2]]).flat());
    expect(vm.readRegister('ebx')).toBe(3);
    expect(vm.memory.read(0x200000, 4)).toBe(3);
    // DR7 = 0 disarms: the same loop runs without a #DB.
    vm.writeRegister('dr7', 0);
    vm.run({ begin: TARGET, maxInstructions: 4 });
    expect(vm.memory.read(0x300000, 4)).toBe(6);
  });
});

describe('single-step (EFLAGS.TF)', () => {
  // mov esp, 0x90000 / mov ecx, 3 / l: inc ebx / dec ecx / jnz l / pushfd / or dword [esp], 0x100 / popfd /
  //   mov eax, 1 / mov eax, 2 / hlt
  // handler (#DB, at +0x40): log [esp] at 0x300010 + 4n, n = [0x300000]++; clear TF in the saved EFLAGS; iretd
  const TF_CODE = 'bc00000900b903000000434975fc9c810c24000100009db801000000b802000000f4' + '00'.repeat(30) +
    '50a1000030008b54240489148510003000ff05000030008164240cfffeffff58cf';
  const HANDLER = 0x100040, AFTER_MOV = 0x10001c;

  // Under the JIT at threshold 0 the loop and what follows are one compiled region, which POPFD leaves with TF set.
  it.each(ENGINES)('%s: TF set by POPFD traps after the instruction that follows it (SDM 17.3.1.4)', async (engine) => {
    const vm = debugHandler(await guest(hex(TF_CODE), engine), HANDLER);
    expect(vm.run({ maxInstructions: 10_000 }).reason).toBe('halt');
    expect(vm.memory.read(0x300000, 4)).toBe(1);
    expect(vm.memory.read(0x300010, 4)).toBe(AFTER_MOV);
    expect([vm.readRegister('eax'), vm.readRegister('ebx')]).toEqual([2, 3]);
  });
});

describe('debug registers against QEMU', () => {
  // The same breakpoints in a Multiboot ROM with its own GDT/IDT, printing each #DB's return EIP and DR6.B0-B3:
  // what QEMU printed (stored; run live too when qemu-system-i386 is installed), under both engines.
  const DIR = join(import.meta.dirname, 'fixtures', 'debug-registers');
  const rom = new Uint8Array(readFileSync(join(DIR, 'dr-breakpoints.bin')));
  const stored = readFileSync(join(DIR, 'dr-breakpoints.qemu.txt'), 'latin1');

  it('the stored output is what QEMU prints now (skipped without qemu-system-i386)', (ctx) => {
    const q = spawnSync('qemu-system-i386', ['-kernel', join(DIR, 'dr-breakpoints.bin'), '-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-display', 'none', '-nodefaults'],
      { encoding: 'latin1', timeout: 20_000 });
    if (q.error) { ctx.skip(); return; }
    expect({ status: q.status, out: q.stdout }).toEqual({ status: 1, out: stored });
  });

  it.each(ENGINES)('%s: same serial output and exit status as QEMU', async (engine) => {
    const out: Uint8Array[] = [];
    const vm = createVM({ memory: 16 << 20, stdout: (b) => out.push(b) });
    if (engine === 'jit') await vm.enableJit({ threshold: 0 });
    loadImage(vm, rom, 'dr-breakpoints.bin', {});
    const exit = vm.run({ timeout: 20 });
    expect({ reason: exit.reason, status: exit.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(Buffer.concat(out).toString('latin1')).toBe(stored);
    expect(stored.split('\n').length).toBe(8); // six #DB lines and the final one: the oracle did see breakpoints
  });
});

describe('destroy', () => {
  it('releases the JIT and refuses any later use with one clear error', async () => {
    const vm = await guest(loopImage(), 'jit');
    vm.run();
    vm.destroy();
    expect(vm.jitStats()).toBeNull();
    expect(() => vm.run()).toThrow(/destroyed/);
    await expect(vm.runAsync()).rejects.toThrow(/destroyed/);
    expect(() => vm.hook('code', () => {})).toThrow(/destroyed/);
    expect(() => vm.readRegister('eax')).toThrow(/destroyed/);
    vm.destroy(); // twice is fine
  });
});
