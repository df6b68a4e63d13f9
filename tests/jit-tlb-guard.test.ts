// The permission half of compiled code's TLB check (Tx.guard in jit/translate.ts). A TLB entry made by a read
// holds no write bit when the page is read-only, or clean (the first store must walk and set PTE.D): a
// store in compiled code that finds such an entry must leave for the interpreter, which raises the #PF or
// sets the dirty bit. Each program reads the page once (filling its TLB entry), then stores to it from a loop
// compiled at once, trip after trip through fresh pages so that the page of the last trip is reached by a
// TLB hit. The JIT must end as the interpreter does: same exit, registers and page-table entry. (Both cases
// fail when the guard compares only the page: checked by changing it.)
import { describe, expect, it } from 'vitest';
import { VM } from '../src/index.ts';
import { loadRaw } from '../src/loader/raw.ts';

const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const LOAD = 0x100000, PD = 0x800000, PT = 0x801000, TARGET = 0x210000, TRIPS = 12;
const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_D = 0x40, CR0_WP = 0x10000;

/** mov ecx, [TARGET+0x10]; esi = TARGET - 5 pages; TRIPS times: add [esi+0x10], ecx; esi += 4 KiB. Then HLT. */
function program(): number[] {
  return [
    0x8b, 0x0d, ...le(TARGET + 0x10), 0xbe, ...le(TARGET - 0x5000), 0xbf, ...le(TRIPS),
    0x01, 0x4e, 0x10, 0x81, 0xc6, ...le(0x1000), 0x4f, 0x75, 0xf4, // L: add [esi+0x10], ecx; add esi, 0x1000; dec edi; jnz L
    0xf4,
  ];
}

async function run(engine: 'interp' | 'jit', targetPte: number, wp: boolean) {
  const vm = await VM.create({ memory: 16 << 20, engine, jit: { tier2: 'off', threshold: 0 } });
  loadRaw(vm, Uint8Array.from(program()), { load: LOAD, entry: LOAD });
  // Identity map of the low 16 MiB, user and writable, but for TARGET.
  const pd = new Uint8Array(0x1000), pt = new Uint8Array(0x4000);
  for (let t = 0; t < 4; t++) pd.set(le((PT + t * 0x1000) | PTE_P | PTE_RW | PTE_US), 4 * t);
  for (let p = 0; p < 4096; p++) pt.set(le((p * 0x1000) | PTE_P | PTE_RW | PTE_US | PTE_D), 4 * p);
  pt.set(le(TARGET | targetPte), 4 * (TARGET >>> 12));
  vm.memory.writeBytes(PD, pd);
  vm.memory.writeBytes(PT, pt);
  vm.setRegisters({ esp: 0x90000 });
  vm.writeRegister('cr3', PD);
  vm.writeRegister('cr0', vm.getRegisters().cr0 | 0x80000000 | (wp ? CR0_WP : 0));
  const exit = vm.run({ maxInstructions: 10_000 });
  const pte = new DataView(vm.memory.ram.buffer, vm.memory.ram.byteOffset + PT + 4 * (TARGET >>> 12), 4).getUint32(0, true);
  const r = vm.getRegisters();
  return { message: exit.message, esi: r.esi, edi: r.edi, cr2: r.cr2, pte, word: new DataView(vm.memory.ram.buffer, vm.memory.ram.byteOffset + TARGET + 0x10, 4).getUint32(0, true) };
}

describe('compiled stores through a TLB entry a read made', () => {
  it('a read-only page with CR0.WP set: #PF on the store, as the interpreter raises it', async () => {
    const interp = await run('interp', PTE_P | PTE_D, true), jit = await run('jit', PTE_P | PTE_D, true);
    expect(interp.message).toMatch(/#PF/);
    expect(interp.esi).toBe(TARGET);
    expect(jit).toEqual(interp);
  });

  it('a writable page not yet dirty: the store sets PTE.D, as the interpreter does', async () => {
    const interp = await run('interp', PTE_P | PTE_RW, false), jit = await run('jit', PTE_P | PTE_RW, false);
    expect(interp.message).toMatch(/HLT/);
    expect(interp.pte & PTE_D).toBe(PTE_D);
    expect(jit).toEqual(interp);
  });
});
