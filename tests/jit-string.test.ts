// The string instructions and LEAVE in compiled code (semantics-wasm.ts: stringOp, repLoop, LEAVE) against
// the interpreter: one element and REP/REPE/REPNE, DF both ways, byte/word/dword, a segment override, with
// paging off and on — a #PF in the middle of a REP (the registers must describe the elements done), ECX = 0
// (nothing changes, flags included), a REP longer than REP_CHUNK (it yields and runs again), and a timer
// interrupt pending while a REP runs. Each case runs through the lockstep (slices compared: registers, flags,
// RAM, instruction counts) and whole under both engines; the REP must run in compiled code, not through the
// helper (fewer fallbacks than trips).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { formatDivergence, loadRaw, lockstep, VM } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type Vm = InstanceType<typeof VM>;

const MEMORY = 16 << 20;
const LOAD = 0x100000, SRC = 0x200000, DST = 0x300000, PD = 0x800000, PT = 0x801000;
/** With paging on: identity map of the low 16 MiB, except this page (its access raises #PF). */
const HOLE = DST + 0x3000;
const TRIPS = 12;
const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

interface Case {
  name: string;
  /** The string instruction's bytes (prefixes included). */
  op: number[];
  esi: number; edi: number; ecx: number;
  down?: boolean;
  paging?: boolean;
  /** A different byte at SRC + this offset (the source is otherwise a copy of the destination). */
  mismatchAt?: number;
  /** The run ends on the first trip (#PF). */
  trips?: number;
  /** An access compiled code leaves to the interpreter on every trip (a page-straddling element). */
  slowAccess?: boolean;
  /** Instructions of `op` the helper runs on every trip (INVLPG). */
  helperOps?: number;
}

/**
 * EAX = 0x11223344; TRIPS times: ESI/EDI/ECX set, CMP EAX, EAX (a record the REP with ECX = 0 must keep),
 * the string instruction, then its registers, ZF and CF summed into EBX/EBP, and a frame torn down by
 * LEAVE; then isa-debug-exit. The trip counter is on the stack.
 */
function program(c: Case): Uint8Array {
  const trip = [
    0xbe, ...le(c.esi), 0xbf, ...le(c.edi), 0xb9, ...le(c.ecx), 0x39, 0xc0, // mov esi/edi/ecx; cmp eax, eax
    ...c.op,
    0x0f, 0x94, 0xc2, 0x0f, 0x92, 0xc6, // setz dl; setc dh
    0x01, 0xd3, 0x01, 0xcb, 0x01, 0xf3, 0x01, 0xfb, 0x01, 0xc5, // add ebx, edx/ecx/esi/edi; add ebp, eax
    0x55, 0x89, 0xe5, 0x6a, 0x07, 0xc9, // push ebp; mov ebp, esp; push 7; leave
  ];
  const loopLen = trip.length + 3; // + the counter's DEC
  return Uint8Array.from([
    c.down ? 0xfd : 0xfc, 0xb8, ...le(0x11223344), 0xbb, 0, 0, 0, 0, 0xba, ...le(TRIPS), 0x52, // std/cld; mov eax; mov ebx, 0; push TRIPS
    ...trip,
    0xff, 0x0c, 0x24, // dec dword [esp]
    0x75, 0x100 - (loopLen + 2), // jnz trip
    0xb0, 0x00, 0xe6, 0xf4, 0xf4, // mov al, 0; out 0xf4, al; hlt
  ]);
}

function setup(c: Case) {
  return (vm: Vm): void => {
    loadRaw(vm, program(c), { load: LOAD, entry: LOAD });
    const data = Uint8Array.from({ length: 0x20000 }, (_, i) => (i * 7 + (i >>> 9)) & 0xff);
    vm.memory.writeBytes(DST, data);
    if (c.mismatchAt !== undefined) data[c.mismatchAt] ^= 0x5a;
    vm.memory.writeBytes(SRC, data);
    vm.setRegisters({ esp: 0x90000 });
    if (c.paging) {
      const pd = new Uint8Array(0x1000), pt = new Uint8Array(0x4000);
      for (let t = 0; t < 4; t++) pd.set(le((PT + t * 0x1000) | 7), 4 * t);
      for (let p = 0; p < 4096; p++) if (p * 0x1000 !== HOLE) pt.set(le((p * 0x1000) | 7), 4 * p);
      vm.memory.writeBytes(PD, pd);
      vm.memory.writeBytes(PT, pt);
      vm.writeRegister('cr3', PD);
      vm.writeRegister('cr0', vm.getRegisters().cr0 | 0x80000000);
    }
  };
}

const CASES: Case[] = [
  { name: 'lodsb / lodsw / lodsd', op: [0xac, 0x66, 0xad, 0xad], esi: SRC + 5, edi: DST, ecx: 3 },
  { name: 'lodsd with DF = 1, paging on', op: [0xad], esi: SRC + 0x1ffc, edi: DST, ecx: 3, down: true, paging: true },
  { name: 'scasb / scasw / scasd', op: [0xae, 0x66, 0xaf, 0xaf], esi: SRC, edi: DST + 9, ecx: 3 },
  { name: 'cmpsb / cmpsw / cmpsd through FS (flat)', op: [0x64, 0xa6, 0x66, 0xa7, 0xa7], esi: SRC + 3, edi: DST + 3, ecx: 3, mismatchAt: 4 },
  { name: 'movsw / stosd / movsb, paging on, DF = 1', op: [0x66, 0xa5, 0xab, 0xa4], esi: SRC + 0x2ffe, edi: DST + 0x1004, ecx: 3, down: true, paging: true },
  { name: 'repe cmpsb: equal up to a mismatch', op: [0xf3, 0xa6], esi: SRC, edi: DST, ecx: 5000, mismatchAt: 3001 },
  { name: 'repe cmpsd: all equal, ECX runs out, paging on across pages', op: [0xf3, 0xa7], esi: SRC + 0xff0, edi: DST + 0x1ff4, ecx: 1500, paging: true },
  { name: 'repe cmpsd, paging on: an element straddling two pages leaves to the interpreter mid-REP', op: [0xf3, 0xa7], esi: SRC + 0xffe, edi: DST + 0x1ff2, ecx: 1500, paging: true, slowAccess: true },
  { name: 'repne cmpsw: stops on the first equal word, DF = 1', op: [0xf2, 0x66, 0xa7], esi: SRC + 0x4000, edi: DST + 0x4002, ecx: 900, down: true },
  { name: 'repne scasb: finds AL (0x44)', op: [0xf2, 0xae], esi: SRC, edi: DST + 0x10, ecx: 8000 },
  { name: 'repe scasd: stops on the first dword that is not EAX, paging on', op: [0xf3, 0xaf], esi: SRC, edi: DST + 0x77, ecx: 300, paging: true },
  { name: 'repe cmpsb with ECX = 0: nothing changes, the CMP\'s flags stay', op: [0xf3, 0xa6], esi: SRC, edi: DST, ecx: 0 },
  { name: 'rep lodsb', op: [0xf3, 0xac], esi: SRC + 17, edi: DST, ecx: 333 },
  { name: 'rep movsd, paging on, across pages', op: [0xf3, 0xa5], esi: SRC + 0x10, edi: DST + 0x5004, ecx: 3000, paging: true },
  { name: 'rep stosw, paging on, DF = 1, across pages', op: [0x66, 0xf3, 0xab], esi: SRC, edi: DST + 0x8000, ecx: 5000, down: true, paging: true },
  { name: 'rep movsb into its own source (replicates)', op: [0xf3, 0xa4], esi: SRC, edi: SRC + 3, ecx: 5000 },
  { name: 'repe cmpsd over 70,000 equal dwords (more than REP_CHUNK: yields, runs again)', op: [0xf3, 0xa7], esi: SRC, edi: DST, ecx: 70_000 },
  // INVLPG drops the second page from the TLB (the first stays from the trip before), so the REP leaves
  // compiled code before its 1,024th element with 64,977 of 66,000 left. The interpreter's execution must
  // end where an uninterrupted one would (string.ts), or the two engines retire the REP a different number
  // of times.
  { name: 'invlpg; stosd; rep stosd of 66,000 dwords, paging on: left mid-REP at a page, the same counts', op: [0x0f, 0x01, 0x3d, ...le(DST + 0x5000), 0xab, 0xf3, 0xab], esi: SRC, edi: DST + 0x4000, ecx: 66_000, paging: true, slowAccess: true, helperOps: 1 },
  { name: 'rep stosb into an unmapped page: #PF in the middle', op: [0xf3, 0xaa], esi: SRC, edi: HOLE - 0x801, ecx: 0x1000, paging: true, trips: 1 },
  { name: 'repe cmpsd reading an unmapped page: #PF in the middle, DF = 1', op: [0xf3, 0xa7], esi: SRC + 0x4400, edi: HOLE + 0x1400, ecx: 0x1000, down: true, paging: true, trips: 1 },
];

async function whole(c: Case, engine: 'interp' | 'jit') {
  const vm: Vm = await VM.create({ memory: MEMORY, engine, jit: { tier2: 'off', threshold: 0 } });
  setup(c)(vm);
  const exit = vm.run({ maxInstructions: 10_000_000 });
  return {
    state: { message: exit.message, instructions: vm.instructions, registers: vm.getRegisters(), ram: Buffer.from(vm.memory.ram.subarray(SRC, DST + 0x20000)).toString('base64') },
    fallbacks: vm.jitStats()?.fallbacks ?? 0, compiled: vm.jitStats()?.instructions ?? 0, memoryExits: vm.jitStats()?.exits.memory ?? 0,
  };
}

describe('string instructions and LEAVE in compiled code, against the interpreter', () => {
  it.each(CASES)('$name', async (c) => {
    const r = await lockstep({ setup: setup(c), vm: { memory: MEMORY, jit: { tier2: 'off' } }, slice: 997, memoryEvery: 8, maxInstructions: 2_000_000 });
    if (r.divergence) expect.fail(formatDivergence(r.divergence));
    const interp = await whole(c, 'interp'), jit = await whole(c, 'jit');
    expect(jit.state).toEqual(interp.state);
    if (c.trips === 1) expect(interp.state.message).toMatch(/triple fault.*#PF/);
    else expect(interp.state.message).toMatch(/exited with status 1/);
    expect(jit.compiled).toBeGreaterThan(0);
    // CLD/STD and OUT are left to the interpreter; the string instruction and LEAVE must not be.
    expect(jit.fallbacks).toBeLessThan(TRIPS * (1 + (c.helperOps ?? 0)));
    // Nor leave compiled code on each trip for the interpreter (paging: the first access to a page fills the TLB).
    if (!c.slowAccess && c.trips === undefined) expect(jit.memoryExits).toBeLessThan(TRIPS);
  });
});
