// Loading a Linux i386 executable as the kernel's binfmt_elf does: check the ELF header, map the PT_LOAD
// segments with their protections (ET_EXEC at its addresses, ET_DYN at a load bias), place brk after the
// highest segment, and build the initial stack (argc, argv, envp, the auxiliary vector, the strings and
// AT_RANDOM's 16 bytes) exactly in the kernel's order. A dynamic program (PT_INTERP) gets its interpreter
// (ld-linux.so.2, an ET_DYN) mapped too, below the mmap area's top as the kernel places it; the process
// starts at the interpreter's entry, which finds the program through AT_PHDR, AT_ENTRY and AT_BASE.
import { randomFillSync } from 'node:crypto';
import { CPUID_1_EDX } from '../hv/cpuid.ts';
import { type AddressSpace, PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, STACK_SIZE, STACK_TOP } from './address-space.ts';

/** A program that cannot be loaded: one line for the user (the CLI exits with status 2). */
export class ExecError extends Error {}

const ET_EXEC = 2, ET_DYN = 3, EM_386 = 3, EM_X86_64 = 62;
const PT_LOAD = 1, PT_INTERP = 3, PT_PHDR = 6;
/** Where a static-pie (ET_DYN without an interpreter) is loaded: ELF_ET_DYN_BASE for a 32-bit process. */
const PIE_BASE = 0x0040_0000;

/** Auxiliary vector types (<elf.h>). */
export const AT_NULL = 0, AT_PHDR = 3, AT_PHENT = 4, AT_PHNUM = 5, AT_PAGESZ = 6, AT_BASE = 7, AT_FLAGS = 8, AT_ENTRY = 9,
  AT_UID = 11, AT_EUID = 12, AT_GID = 13, AT_EGID = 14, AT_PLATFORM = 15, AT_HWCAP = 16, AT_CLKTCK = 17, AT_SECURE = 23,
  AT_RANDOM = 25, AT_EXECFN = 31;

interface Segment { offset: number; vaddr: number; fileSize: number; memSize: number; flags: number }

export interface LoadedProgram {
  entry: number;
  /** Initial ESP. */
  stack: number;
  /** The program break's start (page-aligned end of the highest segment). */
  brk: number;
  /** Lowest address of the stack mapping. */
  stackBottom: number;
}

export interface ExecArgs {
  /** argv, argv[0] included. */
  argv: string[];
  /** NAME=VALUE strings. */
  env: string[];
  /** AT_EXECFN: the name the program was started by. */
  execfn: string;
  uid: number;
  gid: number;
  /** The bytes of the interpreter a dynamic program names (throws ExecError when there is none). */
  readInterpreter?: (path: string) => Uint8Array;
}

export interface ParsedElf { type: number; entry: number; phoff: number; phnum: number; segments: Segment[]; phdrVaddr: number | null; interp: string | null }

/** Check that `bytes` is an i386 executable we can run; throws ExecError with one line otherwise. */
export function parseExecutable(bytes: Uint8Array, name: string): ParsedElf {
  const fail = (why: string): never => { throw new ExecError(`${name}: ${why}`); };
  if (bytes.length < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) fail('not an ELF executable');
  if (bytes[4] === 2) fail('64-bit ELF; x86jit exec runs 32-bit i386 programs');
  if (bytes[4] !== 1 || bytes[5] !== 1) fail('not a 32-bit little-endian ELF file');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = v.getUint16(16, true), machine = v.getUint16(18, true);
  if (machine !== EM_386) fail(`ELF machine ${machine}${machine === EM_X86_64 ? ' (x86-64)' : ''}, not i386`);
  if (type !== ET_EXEC && type !== ET_DYN) fail('not an executable (ELF type is neither ET_EXEC nor ET_DYN)');
  const entry = v.getUint32(24, true), phoff = v.getUint32(28, true), phentsize = v.getUint16(42, true), phnum = v.getUint16(44, true);
  if (phentsize !== 32 || phnum === 0 || phoff + phnum * 32 > bytes.length) fail('bad or truncated ELF program header table');
  const segments: Segment[] = [];
  let phdrVaddr: number | null = null, interp: string | null = null;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * 32, pt = v.getUint32(at, true);
    if (pt === PT_INTERP) {
      const off = v.getUint32(at + 4, true), size = v.getUint32(at + 16, true);
      if (off + size > bytes.length || size < 2) fail('bad PT_INTERP');
      interp = new TextDecoder().decode(bytes.subarray(off, off + size - 1));
    }
    if (pt === PT_PHDR) phdrVaddr = v.getUint32(at + 8, true);
    if (pt !== PT_LOAD) continue;
    const s = { offset: v.getUint32(at + 4, true), vaddr: v.getUint32(at + 8, true), fileSize: v.getUint32(at + 16, true), memSize: v.getUint32(at + 20, true), flags: v.getUint32(at + 24, true) };
    if (s.fileSize > s.memSize || s.offset + s.fileSize > bytes.length) fail(`ELF segment ${i} lies outside the file`);
    if (s.vaddr + s.memSize > STACK_TOP - STACK_SIZE) fail(`ELF segment ${i} lies outside the user address space`);
    if (s.memSize > 0) segments.push(s);
  }
  if (segments.length === 0) fail('ELF has no loadable segments');
  return { type, entry, phoff, phnum, segments, phdrVaddr, interp };
}

const protOf = (flags: number): number => (flags & 4 ? PROT_READ : 0) | (flags & 2 ? PROT_WRITE : 0) | (flags & 1 ? PROT_EXEC : 0);

/** Map an ELF's PT_LOAD segments at `bias`; returns the page-aligned end of the highest one. */
function mapSegments(as: AddressSpace, elf: ParsedElf, bytes: Uint8Array, bias: number, name: string): number {
  // Each page gets the union of the protections of the segments on it (they may share a page).
  const prot = new Map<number, number>();
  for (const s of elf.segments)
    for (let p = Math.floor((s.vaddr + bias) / PAGE); p < Math.ceil((s.vaddr + bias + s.memSize) / PAGE); p++) prot.set(p, (prot.get(p) ?? 0) | protOf(s.flags));
  for (const [p, pr] of prot) if (!as.map(p * PAGE, PAGE, pr)) throw new ExecError(`${name}: too large for guest memory`);
  for (const s of elf.segments) as.write(s.vaddr + bias, bytes.subarray(s.offset, s.offset + s.fileSize), true);
  const end = Math.max(...elf.segments.map((s) => s.vaddr + bias + s.memSize));
  return Math.ceil(end / PAGE) * PAGE;
}

const lowestPage = (elf: ParsedElf): number => Math.min(...elf.segments.map((s) => s.vaddr & ~(PAGE - 1)));

/** Map the program (and its interpreter, if it has one) and build its stack. */
export function loadExecutable(as: AddressSpace, bytes: Uint8Array, name: string, args: ExecArgs): LoadedProgram {
  const elf = parseExecutable(bytes, name);
  const bias = elf.type === ET_DYN ? PIE_BASE - lowestPage(elf) : 0;
  const brk = mapSegments(as, elf, bytes, bias, name);

  // The interpreter: an ET_DYN placed where mmap would put it, at the top of the mmap area.
  let interpBase = 0, entry = (elf.entry + bias) >>> 0;
  if (elf.interp !== null) {
    if (args.readInterpreter === undefined) throw new ExecError(`${name}: dynamically linked program, and no way to find its interpreter ${elf.interp}`);
    const ibytes = args.readInterpreter(elf.interp);
    const interp = parseExecutable(ibytes, elf.interp);
    if (interp.type !== ET_DYN || interp.interp !== null) throw new ExecError(`${elf.interp}: not an ELF interpreter (a shared object without PT_INTERP)`);
    const low = lowestPage(interp), size = Math.max(...interp.segments.map((s) => s.vaddr + s.memSize)) - low;
    interpBase = as.findFree(Math.ceil(size / PAGE) * PAGE);
    if (interpBase === 0) throw new ExecError(`${name}: no room for the interpreter`);
    const ibias = interpBase - low;
    mapSegments(as, interp, ibytes, ibias, elf.interp);
    entry = (interp.entry + ibias) >>> 0;
  }

  // AT_PHDR: PT_PHDR's address, else where the first segment's file bytes put the header table.
  let phdr = elf.phdrVaddr !== null ? elf.phdrVaddr + bias : 0;
  if (elf.phdrVaddr === null) {
    const s = elf.segments.find((x) => x.offset <= elf.phoff && elf.phoff < x.offset + x.fileSize);
    if (s) phdr = s.vaddr + bias + (elf.phoff - s.offset);
  }

  // The stack's top pages now (room for the strings and tables, and 128 KiB more); the rest of its 8 MiB
  // is mapped as the program touches it (AddressSpace.growStack), as the kernel grows a stack VMA.
  const strings = [...args.argv, ...args.env, args.execfn].reduce((a, t) => a + t.length + 5, 0);
  const initial = Math.min(STACK_SIZE, Math.ceil((strings + 256 + (128 << 10)) / PAGE) * PAGE);
  const stackBottom = STACK_TOP - STACK_SIZE;
  if (strings > STACK_SIZE / 4) throw new ExecError(`${name}: arguments and environment too large`);
  if (!as.map(STACK_TOP - initial, initial, PROT_READ | PROT_WRITE)) throw new ExecError(`${name}: no guest memory for the stack`);
  as.stackLow = STACK_TOP - initial;
  const enc = new TextEncoder();
  const str = (t: string): Uint8Array => { const b = enc.encode(t); const z = new Uint8Array(b.length + 1); z.set(b); return z; };
  // From the top down, as binfmt_elf: a NULL pointer's worth, the file name, envp strings, argv strings.
  let sp = STACK_TOP - 4;
  const put = (b: Uint8Array): number => { sp -= b.length; as.write(sp, b); return sp; };
  const execfn = put(str(args.execfn));
  const envp = args.env.map(str).reverse().map(put).reverse();
  const argv = args.argv.map(str).reverse().map(put).reverse();
  sp &= ~15;
  const platform = put(str('i686'));
  const random = new Uint8Array(16);
  randomFillSync(random);
  const randomAt = put(random);
  const auxv: Array<[number, number]> = [
    [AT_HWCAP, CPUID_1_EDX], [AT_PAGESZ, PAGE], [AT_CLKTCK, 100], [AT_PHDR, phdr], [AT_PHENT, 32], [AT_PHNUM, elf.phnum],
    [AT_BASE, interpBase], [AT_FLAGS, 0], [AT_ENTRY, (elf.entry + bias) >>> 0], [AT_UID, args.uid], [AT_EUID, args.uid],
    [AT_GID, args.gid], [AT_EGID, args.gid], [AT_SECURE, 0], [AT_RANDOM, randomAt], [AT_EXECFN, execfn],
    [AT_PLATFORM, platform], [AT_NULL, 0],
  ];
  const words = [args.argv.length, ...argv, 0, ...envp, 0, ...auxv.flat()];
  sp = (sp - words.length * 4) & ~15;
  const table = new Uint8Array(words.length * 4);
  const dv = new DataView(table.buffer);
  words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
  as.write(sp, table);
  return { entry, stack: sp, brk, stackBottom };
}
