// BSWAP, CMPXCHG, XADD, CMPXCHG8B, BT/BTS/BTR/BTC, SHLD/SHRD, PUSHF, CLI, CLD/STD and LOCKed ALU ops in compiled code
// (semantics-wasm.ts) against the interpreter: register and memory forms, byte/word/dword, LOCK, an FS
// override through a segment with a non-zero base, the bit-string addressing of BT* with a register
// offset (negative offsets included), counts of 0, with paging off and on — a #PF on the access (EIP and
// state as the interpreter leaves them), and an access straddling two pages (compiled code leaves it to the
// interpreter on every trip). Each case runs through the lockstep (slices compared: registers, flags, RAM,
// instruction counts) and whole under both engines; the instructions must run in compiled code, not
// through the helper (fewer fallbacks than trips).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { formatDivergence, loadRaw, lockstep, VM } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type Vm = InstanceType<typeof VM>;

const MEMORY = 16 << 20;
const LOAD = 0x100000, SRC = 0x200000, GDT = 0x7000, PD = 0x800000, PT = 0x801000;
/** With paging on: identity map of the low 16 MiB, except this page (its access raises #PF). */
const HOLE = SRC + 0x3000;
/** A page the TLB cases map with PTE bits of their own: the 6th trip's when a trip moves ESI on by a page. */
const GUARDED = SRC + 0x10000;
/** The base of the data segment FS is loaded with in the `fs` cases (FS:x reaches x + FS_BASE). */
const FS_BASE = 0x1000;
const TRIPS = 12;
const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

interface Case {
  name: string;
  /** The instructions under test (ESI points at the data, ECX/EDX/EAX/EBX vary from trip to trip). */
  op: number[];
  esi?: number;
  paging?: boolean;
  /** Load FS with a flat data segment based at FS_BASE first. */
  fs?: boolean;
  /** The run ends on this trip (#PF, no IDT: triple fault). */
  trips?: number;
  /** Instructions of `op` the helper runs on every trip. */
  helperOps?: number;
  /** An access compiled code leaves to the interpreter on every trip (a page-straddling operand). */
  slowAccess?: boolean;
  /** Run the trips at CPL 3 (IRETD to user segments of our GDT; IOPL 0). */
  ring3?: boolean;
  /** What ends the run when not the debug exit. */
  ends?: RegExp;
  /** With paging: page table entries to rewrite (linear page → physical page | PTE bits). */
  ptes?: { lin: number; pte: number }[];
  /** Instructions run once at CPL 0 before anything else (before `ring3`'s switch). */
  first?: number[];
}

/** A 32-bit data descriptor: base, 4 GiB limit, writable. */
const dataDescriptor = (base: number): number[] => [0xff, 0xff, base & 0xff, (base >>> 8) & 0xff, (base >>> 16) & 0xff, 0x92, 0xcf, base >>> 24];

/**
 * (FS loaded from a GDT of ours: null, flat code, flat data, data at FS_BASE.) ESI = the data; TRIPS
 * times: ECX, EDX, EAX, EBX from the trip number, the instructions under test, then EFLAGS (PUSHFD) and
 * the registers summed into EBP; then isa-debug-exit. The trip counter is on the stack.
 */
function program(c: Case): Uint8Array {
  const lgdt = [0x0f, 0x01, 0x15, ...le(GDT + 0x40)];
  const fs = c.fs ? [...lgdt, 0x66, 0xb8, 0x18, 0x00, 0x8e, 0xe0] : []; // lgdt [gdtr]; mov ax, 0x18; mov fs, ax
  // lgdt; iretd to 0x23:(the next instruction) with SS:ESP = 0x2b:0x80000, EFLAGS = 2; there DS = ES = 0x2b.
  const first = c.first ?? [];
  const ring3 = c.ring3 ? [...lgdt, 0x6a, 0x2b, 0x68, ...le(0x80000), 0x6a, 0x02, 0x6a, 0x23, 0x68, ...le(LOAD + first.length + 24), 0xcf, 0x66, 0xb8, 0x2b, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0xeb, 0x00] : []; // (jmp $+2: the trips start a block the JIT can compile)
  const trip = [
    0x8b, 0x0c, 0x24, 0x69, 0xc9, ...le(0x9e3779b9), // mov ecx, [esp]; imul ecx, ecx, 0x9e3779b9
    0x89, 0xca, 0x81, 0xf2, ...le(0x5a5a1234), 0x89, 0xc8, 0xc1, 0xc0, 0x07, 0x89, 0xd3, 0xc1, 0xcb, 0x0b, // edx = ecx ^ k; eax = ecx rol 7; ebx = edx ror 11
    ...c.op,
    0x9c, 0x5f, 0x01, 0xfd, 0x01, 0xc5, 0x01, 0xcd, 0x01, 0xd5, 0x01, 0xdd, // pushfd; pop edi; add ebp, edi/eax/ecx/edx/ebx
  ];
  const loopLen = trip.length + 3; // + the counter's DEC
  return Uint8Array.from([
    ...first, ...ring3, ...fs, 0xbe, ...le(c.esi ?? SRC), 0xbd, 0, 0, 0, 0, 0x6a, TRIPS, // mov esi; mov ebp, 0; push TRIPS
    ...trip,
    0xff, 0x0c, 0x24, // dec dword [esp]
    0x0f, 0x85, ...le(-(loopLen + 6)), // jnz trip
    0xb0, 0x00, 0xe6, 0xf4, 0xf4, // mov al, 0; out 0xf4, al; hlt
  ]);
}

function setup(c: Case) {
  return (vm: Vm): void => {
    loadRaw(vm, program(c), { load: LOAD, entry: LOAD });
    vm.memory.writeBytes(SRC, Uint8Array.from({ length: 0x8000 }, (_, i) => (i * 13 + (i >>> 7)) & 0xff));
    vm.setRegisters({ esp: 0x90000 });
    vm.memory.writeBytes(GDT, Uint8Array.from([
      0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, ...dataDescriptor(0), ...dataDescriptor(FS_BASE),
      0xff, 0xff, 0, 0, 0, 0xfa, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0xf2, 0xcf, 0, // 0x20: user code, 0x28: user data
    ]));
    vm.memory.writeBytes(GDT + 0x40, Uint8Array.from([0x2f, 0, ...le(GDT)]));
    if (c.paging) {
      const pd = new Uint8Array(0x1000), pt = new Uint8Array(0x4000);
      for (let t = 0; t < 4; t++) pd.set(le((PT + t * 0x1000) | 7), 4 * t);
      for (let p = 0; p < 4096; p++) if (p * 0x1000 !== HOLE) pt.set(le((p * 0x1000) | 7), 4 * p);
      for (const { lin, pte } of c.ptes ?? []) pt.set(le(pte), 4 * (lin >>> 12));
      vm.memory.writeBytes(PD, pd);
      vm.memory.writeBytes(PT, pt);
      vm.writeRegister('cr3', PD);
      vm.writeRegister('cr0', vm.getRegisters().cr0 | 0x80000000);
    }
  };
}

const MOV_EAX_ESI = [0x8b, 0x06]; // mov eax, [esi]
const CMPXCHG = [
  ...MOV_EAX_ESI, 0x0f, 0xb1, 0x0e, // cmpxchg [esi], ecx (equal: stores ECX)
  0x0f, 0xb1, 0x16, // cmpxchg [esi], edx (not equal: EAX = [esi])
  0x0f, 0xb0, 0x66, 0x05, // cmpxchg [esi+5], ah
  0x88, 0xc8, 0x0f, 0xb0, 0xcc, // mov al, cl; cmpxchg ah, cl
  0x66, 0x8b, 0x46, 0x02, 0x66, 0x0f, 0xb1, 0x56, 0x02, // mov ax, [esi+2]; cmpxchg [esi+2], dx
  0x0f, 0xb1, 0xd3, // cmpxchg ebx, edx
  0x0f, 0x97, 0xc1, 0x0f, 0x9c, 0xc5, // seta cl; setl ch (conditions of its record)
  0x0f, 0xb1, 0xc0, // cmpxchg eax, eax
];
const XADD = [
  0x0f, 0xc1, 0x4e, 0x04, // xadd [esi+4], ecx
  0xf0, 0x0f, 0xc1, 0x56, 0x08, // lock xadd [esi+8], edx
  0x0f, 0xc1, 0xd2, // xadd edx, edx
  0x0f, 0xc0, 0xe1, // xadd cl, ah
  0x66, 0x0f, 0xc1, 0x5e, 0x0e, // xadd [esi+14], bx
  0x0f, 0x92, 0xc3, 0x0f, 0x9c, 0xc7, // setc bl; setl bh
];
const BITS = [
  0x0f, 0xa3, 0xd0, // bt eax, edx
  0x0f, 0xba, 0xf9, 0x21, // btc ecx, 33
  0x66, 0x0f, 0xab, 0xc3, // bts bx, ax
  0x0f, 0xb3, 0xca, // btr edx, ecx
  0x0f, 0xba, 0x26, 0x1f, // bt dword [esi], 31
  0x0f, 0xba, 0x6e, 0x04, 0x03, // bts dword [esi+4], 3
  0x66, 0x0f, 0xba, 0x76, 0x08, 0x0e, // btr word [esi+8], 14
  0xf0, 0x0f, 0xba, 0x7e, 0x0c, 0x11, // lock btc dword [esi+12], 17
  0x81, 0xe2, ...le(0x3ff), 0x81, 0xea, ...le(0x200), // and edx, 0x3ff; sub edx, 0x200: an offset of -512..511
  0x0f, 0xa3, 0x96, ...le(0x100), // bt [esi+0x100], edx (a bit string: up to 64 bytes either way)
  0x0f, 0xab, 0x96, ...le(0x100), // bts [esi+0x100], edx
  0xf0, 0x0f, 0xb3, 0x96, ...le(0x100), // lock btr [esi+0x100], edx
  0x0f, 0xbb, 0x96, ...le(0x100), // btc [esi+0x100], edx
  0x66, 0x0f, 0xbb, 0x96, ...le(0x100), // btc word [esi+0x100], dx
  0x66, 0x0f, 0xa3, 0x96, ...le(0x100), // bt word [esi+0x100], dx
  0x0f, 0x92, 0xc3, // setc bl
];
const CMPXCHG8B = [
  0x8b, 0x46, 0x10, 0x8b, 0x56, 0x14, 0x0f, 0xc7, 0x4e, 0x10, // mov eax, [esi+16]; mov edx, [esi+20]; cmpxchg8b [esi+16] (equal)
  0x0f, 0x94, 0xc3, // setz bl
  0xf0, 0x0f, 0xc7, 0x4e, 0x18, // lock cmpxchg8b [esi+24] (not equal)
  0x0f, 0x94, 0xc7, // setz bh
];
/** PUSHFD; POP EDI; ADD EBP, EDI: the flags after each double shift, summed. */
const FLAGS_SUM = [0x9c, 0x5f, 0x01, 0xfd];
const SHIFTS = [
  0x0f, 0xa4, 0x16, 0x05, ...FLAGS_SUM, // shld [esi], edx, 5
  0x0f, 0xac, 0x56, 0x04, 0x1f, ...FLAGS_SUM, // shrd [esi+4], edx, 31
  0x0f, 0xa4, 0xd8, 0x01, ...FLAGS_SUM, // shld eax, ebx, 1
  0x88, 0xf9, 0x0f, 0xa5, 0xd0, ...FLAGS_SUM, // mov cl, bh; shld eax, edx, cl (0 included: nothing changes)
  0x0f, 0xad, 0xc3, ...FLAGS_SUM, // shrd ebx, eax, cl
  0xb1, 0x20, 0x0f, 0xad, 0xc3, // mov cl, 32; shrd ebx, eax, cl (count 0)
  0x0f, 0xac, 0xd2, 0x00, // shrd edx, edx, 0
  0x0f, 0x90, 0xc1, 0x0f, 0x98, 0xc5, // seto cl; sets ch
];
const LOCKED = [
  0xf0, 0x01, 0x0e, // lock add [esi], ecx
  0xf0, 0x83, 0x4e, 0x04, 0x7f, // lock or dword [esi+4], 0x7f
  0xf0, 0x11, 0x56, 0x08, // lock adc [esi+8], edx
  0xf0, 0x80, 0x5e, 0x0c, 0x33, // lock sbb byte [esi+12], 0x33
  0x66, 0xf0, 0x21, 0x5e, 0x10, // lock and word [esi+16], bx
  0xf0, 0x29, 0x46, 0x14, ...FLAGS_SUM, // lock sub [esi+20], eax
  0xf0, 0x30, 0x66, 0x18, // lock xor byte [esi+24], ah
  0xf0, 0xff, 0x46, 0x1c, ...FLAGS_SUM, // lock inc dword [esi+28]
  0xf0, 0xfe, 0x4e, 0x20, ...FLAGS_SUM, // lock dec byte [esi+32]
  0xf0, 0xf7, 0x5e, 0x24, ...FLAGS_SUM, // lock neg dword [esi+36]
  0x66, 0xf0, 0xf7, 0x56, 0x28, // lock not word [esi+40]
];
const PUSHF = [
  0x01, 0xc8, 0x9c, 0x5b, // add eax, ecx; pushfd; pop ebx
  0x31, 0x5e, 0x20, // xor [esi+32], ebx
  0x43, 0x66, 0x9c, 0x66, 0x8b, 0x1c, 0x24, 0x83, 0xc4, 0x02, // inc ebx; pushf; mov bx, [esp]; add esp, 2
  0xd1, 0xe2, 0x9c, 0x5a, 0x89, 0x56, 0x24, // shl edx, 1; pushfd; pop edx; mov [esi+36], edx
  0x0f, 0xba, 0xe1, 0x03, 0x9c, 0x5a, // bt ecx, 3; pushfd; pop edx
  0x0f, 0xaf, 0xc1, 0x9c, 0x59, // imul eax, ecx; pushfd; pop ecx
  0x28, 0xe0, 0x9c, 0x58, // sub al, ah; pushfd; pop eax
];

const CASES: Case[] = [
  { name: 'bswap r32 and r16 (the low word cleared)', op: [0x0f, 0xc8, 0x0f, 0xcb, 0x66, 0x0f, 0xca, 0x0f, 0xc9] },
  { name: 'cmpxchg r/m8/16/32: equal and not, registers, the accumulator itself', op: CMPXCHG },
  { name: 'lock cmpxchg through FS (base ≠ 0), paging on', op: [0x8b, 0x86, ...le(FS_BASE), 0xf0, 0x64, 0x0f, 0xb1, 0x0e, 0x64, 0x0f, 0xb1, 0x16], esi: SRC - FS_BASE + 0x40, fs: true, paging: true, helperOps: 0 },
  { name: 'cmpxchg, paging on', op: CMPXCHG, paging: true },
  { name: 'cmpxchg into an unmapped page: #PF', op: [...MOV_EAX_ESI, 0x0f, 0xb1, 0x8e, ...le(0x1000)], esi: HOLE - 0x1000 + 8, paging: true, trips: 1 },
  { name: 'cmpxchg on a dword straddling two pages (the interpreter runs it)', op: [...MOV_EAX_ESI, 0x0f, 0xb1, 0x0e], esi: SRC + 0xffe, paging: true, slowAccess: true },
  // The TLB's tag decides a compiled access alone (cpu.ts, translate.ts): a page that is not RAM, a supervisor
  // page at CPL 3, a read-only page (CR0.WP clear at CPL 0: writable) — each after the TLB already holds the page.
  { name: 'mov from a page mapped beyond RAM, paging on (compiled code leaves it to the slow path: all ones)', op: [0x03, 0x86, ...le(0x1000)], esi: SRC + 0x5000 - 0x1000 + 0x10, paging: true, ptes: [{ lin: SRC + 0x5000, pte: 0x7fff0000 | 7 }], slowAccess: true },
  { name: 'mov from a supervisor page at CPL 3 on the 6th trip, its TLB entry made at CPL 0: #PF', op: [0x8b, 0x46, 0x10, 0x81, 0xc6, ...le(0x1000)], esi: GUARDED - 0x5000, paging: true, ring3: true, trips: 6, ptes: [{ lin: GUARDED, pte: GUARDED | 3 }], first: [0x8b, 0x0d, ...le(GUARDED + 0x10)] },
  { name: 'add to a read-only, dirty user page at CPL 3 on the 6th trip, its TLB entry made at CPL 0: #PF', op: [0x01, 0x4e, 0x10, 0x81, 0xc6, ...le(0x1000)], esi: GUARDED - 0x5000, paging: true, ring3: true, trips: 6, ptes: [{ lin: GUARDED, pte: GUARDED | 0x45 }], first: [0x8b, 0x0d, ...le(GUARDED + 0x10)] },
  { name: 'add to a read-only page at CPL 0 with CR0.WP clear (writable), paging on', op: [0x01, 0x4e, 0x10, 0x29, 0x56, 0x14], esi: SRC + 0x6000, paging: true, ptes: [{ lin: SRC + 0x6000, pte: (SRC + 0x6000) | 1 }] },
  { name: 'xadd r/m8/16/32, lock', op: XADD },
  { name: 'xadd, paging on', op: XADD, paging: true },
  { name: 'bt/bts/btr/btc: registers, immediates, bit strings (negative offsets), lock', op: BITS },
  { name: 'bt* bit strings, paging on', op: BITS, paging: true },
  { name: 'bts into an unmapped page through a negative bit offset: #PF', op: [0xba, ...le(-8), 0x0f, 0xab, 0x16], esi: HOLE + 0x1000, paging: true, trips: 1 },
  { name: 'bt fs:[esi], edx (base ≠ 0)', op: [0x81, 0xe2, ...le(0xff), 0x64, 0x0f, 0xa3, 0x16, 0x64, 0x0f, 0xbb, 0x16], esi: SRC - FS_BASE, fs: true },
  { name: 'cmpxchg8b equal and not, lock', op: CMPXCHG8B },
  { name: 'cmpxchg8b, paging on', op: CMPXCHG8B, paging: true },
  { name: 'cmpxchg8b on a qword straddling two pages (the interpreter runs it)', op: CMPXCHG8B, esi: SRC + 0xfec, paging: true, slowAccess: true },
  { name: 'shld/shrd by imm and CL (counts 0 and 32)', op: SHIFTS },
  { name: 'shld/shrd, paging on', op: SHIFTS, paging: true },
  { name: 'pushf/pushfd after add, inc, shl, bt, imul, sub', op: PUSHF },
  { name: 'pushfd with paging on', op: PUSHF, paging: true },
  { name: 'sti; cli (ring 0), pushfd', op: [0xfb, 0xfa, 0x9c, 0x58], helperOps: 1 },
  { name: 'cli at CPL 3 above IOPL: #GP (the interpreter raises it)', op: [0x0f, 0xc8, 0xfa], ring3: true, trips: 1, ends: /triple fault.*#GP/ },
  { name: 'std; lodsb; cld; lodsb (DF as the string instructions read it)', op: [0xfd, 0xac, ...FLAGS_SUM, 0xfc, 0xac] },
  { name: 'lock add/or/adc/sbb/and/sub/xor/inc/dec/neg/not on memory', op: LOCKED },
  { name: 'lock on memory, paging on, and through FS (base ≠ 0)', op: [...LOCKED, 0xf0, 0x64, 0xff, 0x86, ...le(0x40)], esi: SRC, fs: true, paging: true, helperOps: 0 },
];

async function whole(c: Case, engine: 'interp' | 'jit') {
  const vm: Vm = await VM.create({ memory: MEMORY, engine, jit: { tier2: 'off', threshold: 0 } });
  setup(c)(vm);
  const exit = vm.run({ maxInstructions: 10_000_000 });
  return {
    state: { message: exit.message, instructions: vm.instructions, registers: vm.getRegisters(), ram: Buffer.from(vm.memory.ram.subarray(SRC, SRC + 0x8000)).toString('base64') },
    fallbacks: vm.jitStats()?.fallbacks ?? 0, compiled: vm.jitStats()?.instructions ?? 0, memoryExits: vm.jitStats()?.exits.memory ?? 0,
  };
}

describe('exchanging, bit, double-shift and flag instructions in compiled code, against the interpreter', () => {
  it.each(CASES)('$name', async (c) => {
    const r = await lockstep({ setup: setup(c), vm: { memory: MEMORY, jit: { tier2: 'off' } }, slice: 97, memoryEvery: 1, maxInstructions: 200_000 });
    if (r.divergence) expect.fail(formatDivergence(r.divergence));
    const interp = await whole(c, 'interp'), jit = await whole(c, 'jit');
    expect(jit.state).toEqual(interp.state);
    if (c.trips !== undefined) expect(interp.state.message).toMatch(c.ends ?? /triple fault.*#PF/);
    else expect(interp.state.message).toMatch(/exited with status 1/);
    expect(jit.compiled).toBeGreaterThan(0);
    // OUT (and LGDT, MOV FS) are left to the interpreter; the instructions under test must not be.
    if (c.trips === undefined) expect(jit.fallbacks).toBeLessThan(TRIPS * (1 + (c.helperOps ?? 0)));
    // Nor leave compiled code for the interpreter on each trip (paging: the first access to a page fills the TLB).
    if (!c.slowAccess && c.trips === undefined) expect(jit.memoryExits).toBeLessThan(TRIPS);
  });
});
