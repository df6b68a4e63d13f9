// The images of the image fuzz suite (fuzz-images.test.ts): seed images and seeded mutations of them.
// No VM here (the caller profiles the seeds: where each one runs). Case n of a seed is always the same
// image: each case has a PRNG of its own, so one case can be made again without the ones before it.
//
// Seeds: the committed ROMs (Multiboot ELF), the BIOS image, the ROMs as flat raw binaries (objcopy -O
// binary) and as a.out-kludge Multiboot images, and random code behind a small protected-mode prologue
// whose exception handler moves on to the next 16-byte chunk (so random code keeps running after a fault).
// Mutations mostly change code and data after valid headers (that is what reaches the CPU); some corrupt
// the ELF and Multiboot headers, truncate, or duplicate ranges (those mostly reach the loaders).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from './oracle/builder.ts';

export type Load =
  | { kind: 'multiboot' }
  | { kind: 'bios' }
  | { kind: 'raw'; load: number; entry: number };

/** The seed run under the interpreter: every so often, the instruction count and the linear address of the next instruction. */
export interface Sample { at: number; addr: number }
export type Profiler = (bytes: Uint8Array, load: Load, name: string) => Sample[];

/** A file offset of code the seed runs, and the instruction count when it was first seen running there. */
interface Hot { offset: number; at: number }

export interface Seed {
  name: string;
  bytes: Uint8Array;
  load: Load;
  /** File range whose bytes end up as guest code and data: where most mutations go. */
  body: [number, number];
  /** Where the seed's run was seen, in file offsets: where many mutations go (they reach the CPU). */
  hot: Hot[];
  /** ELF program headers (file offset, count, entry size), for header corruption. */
  elf?: { phoff: number; phnum: number; phentsize: number };
  /** File offset of the Multiboot header. */
  multiboot?: number;
  /** How often it is picked, relative to the others. */
  weight: number;
}

/**
 * What guest RAM holds around the image before it is loaded. QEMU zeroes RAM, but code that jumps into
 * zeros runs `add [eax], al` for ever, decoding fresh code all the way (slow, and always the same); so most
 * cases put a byte there that ends a wild jump at once: HLT, INT3, or 0xFF (FF FF is FF /7: #UD). Only
 * FILL_RANGES are filled: the low 64 KiB (null pointers, the boot stack) and 256 KiB from 1 MiB (the
 * image and what follows it). Every page of guest RAM touched costs a page fault, ~15 µs on slow machines.
 */
export const FILLS = { zero: 0x00, hlt: 0xf4, int3: 0xcc, ud: 0xff } as const;
export const FILL_RANGES: readonly [number, number][] = [[0, 0x10000], [0x100000, 0x140000]];
export type Fill = keyof typeof FILLS;

export interface FuzzCase {
  index: number;
  seed: string;
  load: Load;
  fill: Fill;
  bytes: Uint8Array;
  /** What was done to the seed, in order, for the failure report. */
  mutations: string[];
  /**
   * Instructions the JIT's run leaves to the interpreter before it enables the JIT: a little less than the
   * seed had run when it first reached the earliest mutated instruction (0: the JIT from the start).
   */
  jitAfter: number;
}

const ROM_DIR = join(import.meta.dirname, '..', 'test-roms');
const FLAT_BASE = 0x100000;

/** Numbers in [0, 1) from the project's seeded PRNG (mulberry32, tests/oracle/builder.ts). */
function prng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.u32() / 2 ** 32;
}

class Rand {
  constructor(readonly next: () => number) {}
  /** Integer in [lo, hi). */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo)); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(0, xs.length)]; }
  chance(p: number): boolean { return this.next() < p; }
  u32(): number { return (this.int(0, 0x10000) << 16 | this.int(0, 0x10000)) >>> 0; }
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

// ---- seeds ----

interface ElfInfo { entry: number; phoff: number; phnum: number; phentsize: number; loads: { offset: number; paddr: number; filesz: number; memsz: number }[] }

function parseElf(b: Uint8Array): ElfInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phoff = v.getUint32(28, true), phentsize = v.getUint16(42, true), phnum = v.getUint16(44, true);
  const loads = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (v.getUint32(at, true) !== 1) continue; // PT_LOAD
    loads.push({ offset: v.getUint32(at + 4, true), paddr: v.getUint32(at + 12, true), filesz: v.getUint32(at + 16, true), memsz: v.getUint32(at + 20, true) });
  }
  return { entry: v.getUint32(24, true), phoff, phnum, phentsize, loads };
}

/** The loaded image as one flat piece from FLAT_BASE (what `objcopy -O binary` makes of the ROM). */
function flatten(b: Uint8Array, elf: ElfInfo): Uint8Array {
  const end = Math.max(...elf.loads.map((l) => l.paddr + l.filesz));
  const flat = new Uint8Array(end - FLAT_BASE);
  for (const l of elf.loads) flat.set(b.subarray(l.offset, l.offset + l.filesz), l.paddr - FLAT_BASE);
  return flat;
}

/** Multiboot header with the a.out-kludge fields (flags bit 16 + memory info), loading `image` at FLAT_BASE. */
function aoutKludge(image: Uint8Array, entry: number, bssEnd: number): Uint8Array {
  const out = new Uint8Array(32 + image.length);
  const v = new DataView(out.buffer);
  const flags = 0x10002, at = FLAT_BASE - 32;
  [0x1badb002, flags, -(0x1badb002 + flags), at, at, 0, bssEnd, entry].forEach((x, i) => v.setUint32(4 * i, x >>> 0, true));
  out.set(image, 32);
  return out;
}

/**
 * The prologue of the random-code seeds (nasm, org 0x100000): a flat GDT, an IDT whose 32 interrupt gates
 * (the exceptions; INT n above 31 raises #GP) all lead to `handler`, registers cleared, then the body. The
 * handler reloads the data segments and ESP, counts the fault, and goes on at the next 16-byte chunk of the
 * body; after 32 faults, or past the body's end (`body_end`, patched at BODY_END_AT), it writes 0 to
 * isa-debug-exit.
 */
const PROLOGUE = Uint8Array.from(Buffer.from(
  '0f0115ac001000' +          //   lgdt [gdtr]
  'ea0e0010000800' +          //   jmp 0x08:cs32
  'b810000000' +              // cs32: mov eax, 0x10
  '8ed88ec08ee08ee88ed0' +    //   mov ds/es/fs/gs/ss, eax
  'bc00000900' +              //   mov esp, 0x90000
  'bf00000800' +              //   mov edi, 0x80000 (the IDT)
  'b920000000' +              //   mov ecx, 32
  'b857000800' +              //   mov eax, 0x00080000 | handler & 0xffff
  'ba008e1000' +              //   mov edx, handler & 0xffff0000 | 0x8e00
  '8907' + '895704' +         // fill: mov [edi], eax ; mov [edi+4], edx
  '83c708' + 'e2f6' +         //   add edi, 8 ; loop fill
  '0f011db2001000' +          //   lidt [idtr]
  '31c031c931d231db31ed31f631ff' + // xor eax..edi
  'eb69' +                    //   jmp body
  'b810000000' +              // handler: mov eax, 0x10
  '8ed88ec08ed0' +            //   mov ds/es/ss, eax
  'bc00000900' +              //   mov esp, 0x90000
  'ff05b8001000' +            //   inc dword [faults]
  '833db800100020' +          //   cmp dword [faults], 32
  '7316' +                    //   jae exit
  'a1bc001000' +              //   mov eax, [cursor]
  '83c010' +                  //   add eax, 16
  'a3bc001000' +              //   mov [cursor], eax
  '3dc0011000' +              //   cmp eax, body_end
  '7302' + 'ffe0' +           //   jae exit ; jmp eax
  'b000e6f4faf4' +            // exit: mov al, 0 ; out 0xf4, al ; cli ; hlt
  '9090' +                    //   align 4
  '0000000000000000ffff0000009acf00ffff00000092cf00' + // gdt: null, flat code, flat data
  '170094001000' +            // gdtr: dw 23, dd gdt
  'ff0000000800' +            // idtr: dw 255, dd 0x80000
  '00000000' + 'c0001000' +   // faults: dd 0 ; cursor: dd body
  '', 'hex'));
const BODY_AT = 0xc0, BODY_END_AT = 0x84;
/** Instructions the prologue runs before the body: 13, the IDT loop's 32 × 4, and 9. */
const PROLOGUE_INSTRUCTIONS = 150;
/** After the body: the exit (mov al, 0 ; out 0xf4, al ; cli ; hlt). */
const EPILOGUE = [0xb0, 0x00, 0xe6, 0xf4, 0xfa, 0xf4];

/** Bytes random code is made of: anything, two-byte opcodes, prefixed instructions, and real code. */
function randomBody(r: Rand, code: Uint8Array): Uint8Array {
  const chunks = r.int(2, 6);
  const body = new Uint8Array(chunks * 16);
  for (let c = 0; c < chunks; c++) {
    const at = c * 16;
    for (let i = 0; i < 16; i++) body[at + i] = r.int(0, 256);
    const style = r.int(0, 4);
    if (style === 1) body[at] = 0x0f;
    else if (style === 2) for (let i = 0, n = r.int(1, 5); i < n; i++) body[at + i] = r.pick(PREFIXES);
    else if (style === 3) { const from = r.int(0, code.length - 16); body.set(code.subarray(from, from + 16), at); }
  }
  return body;
}
const PREFIXES = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x0f];

function randomImage(r: Rand, code: Uint8Array): Uint8Array {
  const body = randomBody(r, code);
  const img = new Uint8Array(BODY_AT + body.length + EPILOGUE.length);
  img.set(PROLOGUE);
  img.set(body, BODY_AT);
  img.set(EPILOGUE, BODY_AT + body.length);
  new DataView(img.buffer).setUint32(BODY_END_AT, FLAT_BASE + BODY_AT + body.length, true);
  return img;
}

/** The distinct file offsets the samples saw (-1 from offsetOf: not in the file), each with when it was first seen. */
function hotSpots(samples: Sample[], offsetOf: (addr: number) => number): Hot[] {
  const first = new Map<number, number>();
  for (const { at, addr } of samples) {
    const offset = offsetOf(addr);
    if (offset >= 0 && !first.has(offset)) first.set(offset, at);
  }
  return [...first].map(([offset, at]) => ({ offset, at }));
}

/** Instructions the JIT's run starts before the first mutated instruction the seed ran (its sample is late by up to one sampling period). */
const JIT_LEAD = 1000;

/** The seed images, profiled; the random-code seed is a placeholder whose bytes each case makes afresh. */
export function loadSeeds(profile: Profiler): Seed[] {
  const seeds: Seed[] = [];
  const roms = readdirSync(ROM_DIR).filter((f) => f.endsWith('.elf')).sort();
  // Weights: a third of the cases are the ROMs as Multiboot ELF, a tenth each flat and a.out kludge, a few
  // the BIOS, the rest random code (cheap to run: it ends within a few hundred instructions).
  const w = 1 / roms.length;
  for (const rom of roms) {
    const bytes = new Uint8Array(readFileSync(join(ROM_DIR, rom)));
    const elf = parseElf(bytes);
    const text = elf.loads[0];
    // The ROMs run with paging off, or identity-mapped: the linear address is the physical one.
    const samples = profile(bytes, { kind: 'multiboot' }, rom);
    const hot = (offsetOf: (addr: number) => number): Hot[] => hotSpots(samples, offsetOf);
    const inElf = (addr: number): number => {
      const l = elf.loads.find((x) => addr >= x.paddr && addr < x.paddr + x.filesz);
      return l ? addr - l.paddr + l.offset : -1;
    };
    seeds.push({ name: rom, bytes, load: { kind: 'multiboot' }, body: [text.offset, text.offset + text.filesz], hot: hot(inElf), elf, multiboot: findMagic(bytes), weight: 34 * w });
    const flat = flatten(bytes, elf);
    const inFlat = (addr: number): number => (addr >= FLAT_BASE && addr < FLAT_BASE + flat.length ? addr - FLAT_BASE : -1);
    seeds.push({ name: `${rom} (flat)`, bytes: flat, load: { kind: 'raw', load: FLAT_BASE, entry: elf.entry }, body: [0, flat.length], hot: hot(inFlat), weight: 10 * w });
    const aout = aoutKludge(flat, elf.entry, Math.max(...elf.loads.map((l) => l.paddr + l.memsz)));
    seeds.push({ name: `${rom} (a.out kludge)`, bytes: aout, load: { kind: 'multiboot' }, body: [32, aout.length], hot: hot((a) => (inFlat(a) < 0 ? -1 : inFlat(a) + 32)), multiboot: 0, weight: 10 * w });
  }
  // The BIOS image runs at 0xF0000 (its last 64 KiB) and, from the reset vector, at 0xFFFF0000.
  const bios = new Uint8Array(readFileSync(join(ROM_DIR, 'bios-realmode.bin')));
  const low = 0x100000 - bios.length, high = 2 ** 32 - bios.length;
  const inBios = (a: number): number => (a >= low && a < 0x100000 ? a - low : a >= high ? a - high : -1);
  const biosHot = hotSpots(profile(bios, { kind: 'bios' }, 'bios-realmode.bin'), inBios);
  seeds.push({ name: 'bios-realmode.bin', bytes: bios, load: { kind: 'bios' }, body: [0, 0x640], hot: biosHot, weight: 3 });
  seeds.push({ name: 'random code', bytes: new Uint8Array(0), load: { kind: 'raw', load: FLAT_BASE, entry: FLAT_BASE }, body: [0, 0], hot: [], weight: 40 });
  return seeds;
}

function findMagic(b: Uint8Array): number | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let off = 0; off + 12 <= Math.min(b.length, 8192); off += 4) if (v.getUint32(off, true) === 0x1badb002) return off;
  return undefined;
}

// ---- mutations ----

const INTERESTING8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xcc, 0xf4, 0x0f, 0x90, 0xcd, 0xcf, 0xc3, 0xe9, 0xeb, 0xea, 0x9a, 0x66, 0x67, 0xf0, 0xf3, 0x8e, 0x0b];
const INTERESTING32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 0xfffff000, 0x0000ffff, 0x00008000, 0x00100000, 0x00ffffff, 0x01000000, 0x0b0f0b0f, 0xf4f4f4f4];

/** One case being made: its PRNG, seed, bytes so far, and the earliest time a mutation is reached. */
class Mutant {
  /** When the seed first ran the earliest picked hot spot; the lowest offset picked. */
  reached = Infinity;
  lowest = Infinity;
  constructor(readonly r: Rand, readonly seed: Seed, public b: Uint8Array) {}

  /** Offset of code the seed runs (60%), anywhere in its body (35%), or anywhere in the file. */
  where(): number {
    const at = this.pick();
    this.lowest = Math.min(this.lowest, at);
    return at;
  }

  private pick(): number {
    const { r, seed, b } = this;
    const [lo, hi] = seed.body;
    const x = r.next();
    if (x < 0.6 && seed.hot.length > 0) {
      const h = r.pick(seed.hot);
      if (h.offset < b.length) { this.reached = Math.min(this.reached, h.at); return Math.min(h.offset + r.int(0, 4), b.length - 1); }
    }
    if (x < 0.95 && hi > lo && hi <= b.length) return r.int(lo, hi);
    return r.int(0, b.length);
  }
}

type Mutator = (m: Mutant) => string;

const flip: Mutator = (m) => {
  const at = m.where(), bit = m.r.int(0, 8);
  m.b[at] ^= 1 << bit;
  return `flip bit ${bit} at ${hex(at)}`;
};

const overwrite: Mutator = (m) => {
  const { r, b } = m, at = m.where();
  if (r.chance(0.7)) { const x = r.pick(INTERESTING8); b[at] = x; return `byte ${hex(x)} at ${hex(at)}`; }
  const x = r.pick(INTERESTING32), n = Math.min(r.pick([2, 4]), b.length - at);
  for (let i = 0; i < n; i++) b[at + i] = x >>> (8 * i);
  return `${n * 8}-bit ${hex(x)} at ${hex(at)}`;
};

const scribble: Mutator = (m) => {
  const { r, b } = m, at = m.where(), n = Math.min(r.int(1, 33), b.length - at);
  for (let i = 0; i < n; i++) b[at + i] = r.int(0, 256);
  return `${n} random bytes at ${hex(at)}`;
};

const truncate: Mutator = (m) => {
  // Mostly inside the body (a cut-off segment), sometimes into the headers.
  const n = m.r.chance(0.8) ? m.where() : m.r.int(0, Math.min(m.b.length, 256));
  m.lowest = Math.min(m.lowest, n);
  m.b = m.b.slice(0, n);
  return `truncate to ${hex(n)} bytes`;
};

const duplicate: Mutator = (m) => {
  const { r, b } = m;
  const from = m.where(), n = Math.min(r.int(1, 257), b.length - from), to = m.where();
  const piece = b.slice(from, from + n);
  if (r.chance(0.5)) {
    b.set(piece.subarray(0, Math.min(n, b.length - to)), to);
    return `copy ${hex(n)} bytes from ${hex(from)} over ${hex(to)}`;
  }
  m.b = new Uint8Array(b.length + n);
  m.b.set(b.subarray(0, to));
  m.b.set(piece, to);
  m.b.set(b.subarray(to), to + n);
  return `insert a copy of ${hex(n)} bytes from ${hex(from)} at ${hex(to)}`;
};

/** A header field's new value: interesting, near the old one, one bit off, or random. */
function fieldValue(r: Rand, old: number, bits: 16 | 32): number {
  const mask = bits === 16 ? 0xffff : 0xffffffff;
  switch (r.int(0, 4)) {
    case 0: return (r.pick(INTERESTING32) & mask) >>> 0;
    case 1: return ((old + r.pick([1, -1, 4, -4, 0x20, -0x20, 0x1000, -0x1000, 0x100000])) & mask) >>> 0;
    case 2: return ((old ^ (1 << r.int(0, bits))) & mask) >>> 0;
    default: return (r.u32() & mask) >>> 0;
  }
}

function getField(b: Uint8Array, at: number, bits: 16 | 32): number {
  if (at + bits / 8 > b.length) return 0;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return bits === 16 ? v.getUint16(at, true) : v.getUint32(at, true);
}

function setField(b: Uint8Array, at: number, bits: 16 | 32, value: number): void {
  if (at + bits / 8 > b.length) return;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (bits === 16) v.setUint16(at, value, true); else v.setUint32(at, value >>> 0, true);
}

const EHDR_FIELDS: [string, number, 16 | 32][] = [
  ['e_type', 16, 16], ['e_machine', 18, 16], ['e_version', 20, 32], ['e_entry', 24, 32], ['e_phoff', 28, 32], ['e_phentsize', 42, 16], ['e_phnum', 44, 16],
];
const PHDR_FIELDS: [string, number, 16 | 32][] = [
  ['p_type', 0, 32], ['p_offset', 4, 32], ['p_vaddr', 8, 32], ['p_paddr', 12, 32], ['p_filesz', 16, 32], ['p_memsz', 20, 32],
];

const elfField: Mutator = (m) => {
  const { r } = m, elf = m.seed.elf!;
  let [name, at, bits] = r.pick(EHDR_FIELDS);
  if (r.chance(0.7)) {
    const i = r.int(0, elf.phnum), [field, off, size] = r.pick(PHDR_FIELDS);
    [name, at, bits] = [`phdr[${i}].${field}`, elf.phoff + i * elf.phentsize + off, size];
  }
  const value = fieldValue(r, getField(m.b, at, bits), bits);
  setField(m.b, at, bits, value);
  return `ELF ${name} = ${hex(value)}`;
};

const MB_FIELDS = ['flags', 'checksum', 'header_addr', 'load_addr', 'load_end_addr', 'bss_end_addr', 'entry_addr'];

const multibootField: Mutator = (m) => {
  const { r, b } = m, at = m.seed.multiboot!;
  // The a.out fields matter only with flags bit 16: pick them only when it is set.
  const i = r.int(0, getField(b, at + 4, 32) & 0x10000 ? MB_FIELDS.length : 2);
  const field = at + 4 + 4 * i;
  const value = i === 0 && r.chance(0.5) ? (getField(b, field, 32) ^ r.pick([1, 2, 4, 8, 0x10000, 0x80000000])) >>> 0 : fieldValue(r, getField(b, field, 32), 32);
  setField(b, field, 32, value);
  // Mostly keep the checksum right, so that the corrupted header is found and its fields reach the loader.
  const fixed = i !== 1 && r.chance(0.8);
  if (fixed) setField(b, at + 8, 32, -(0x1badb002 + getField(b, at + 4, 32)) >>> 0);
  return `Multiboot ${MB_FIELDS[i]} = ${hex(value)}${fixed ? ' (checksum fixed)' : ''}`;
};

/** Mutators and their weights: code and data changes most of the time. */
function mutatorsFor(seed: Seed): [Mutator, number][] {
  const list: [Mutator, number][] = [[flip, 30], [overwrite, 30], [scribble, 12], [duplicate, 8], [truncate, 4]];
  if (seed.elf) list.push([elfField, 10]);
  if (seed.multiboot !== undefined) list.push([multibootField, 8]);
  return list;
}

function pickWeighted<T>(r: Rand, list: readonly [T, number][]): T {
  let x = r.next() * list.reduce((s, [, w]) => s + w, 0);
  for (const [item, w] of list) if ((x -= w) < 0) return item;
  return list[list.length - 1][0];
}

/** The PRNG seed of case `index` of a run with seed `seed`. */
const caseSeed = (seed: number, index: number): number => (Math.imul(index + 1, 0x9e3779b9) ^ seed) >>> 0;

/** Case `index`: a seed picked by weight, one to four mutations of it (random code: none to three), and a fill. */
export function makeCase(seeds: readonly Seed[], seed: number, index: number): FuzzCase {
  const r = new Rand(prng(caseSeed(seed, index)));
  let s = pickWeighted(r, seeds.map((x) => [x, x.weight] as [Seed, number]));
  const name = s.name;
  if (name === 'random code') {
    const rom = r.pick(seeds.filter((x) => x.elf));
    const bytes = randomImage(r, rom.bytes.subarray(rom.body[0], rom.body[1]));
    s = { ...s, bytes, body: [0, bytes.length] };
  }
  const m = new Mutant(r, s, s.bytes.slice());
  const mutations: string[] = [];
  for (let i = 0, n = name === 'random code' ? r.int(0, 4) : r.int(1, 5); i < n && m.b.length > 0; i++)
    mutations.push(pickWeighted(r, mutatorsFor(s))(m));
  // Random code jumps into what follows it all the time: not into zeros (FILLS).
  const fill = pickWeighted<Fill>(r, [['zero', name === 'random code' ? 0 : 6], ['hlt', 30], ['int3', 35], ['ud', 30]]);
  // Random code whose prologue is intact gets the JIT from its body on.
  const jitAfter = name === 'random code' ? (m.lowest >= BODY_AT ? PROLOGUE_INSTRUCTIONS : 0)
    : m.reached === Infinity ? 0 : Math.max(0, m.reached - JIT_LEAD);
  return { index, seed: name, load: s.load, fill, bytes: m.b, mutations, jitAfter };
}
