// The host-CPU oracle's shared vocabulary: the fixed guest addresses both sides use, the test case and
// result values, and the binary record formats spoken with the native harnesses (documented in harness.h).

/** Snippet code page; the harness appends a jump back, the emulator stops at CODE_ADDR + length. */
export const CODE_ADDR = 0x0010_0000;
/** The data buffer (WINDOW bytes are compared). */
export const DATA_ADDR = 0x0020_0000;
/** The stack area ESP points into (WINDOW bytes are compared). */
export const STACK_ADDR = 0x0030_0000;
/** Reachable by 16-bit addressing (67h); optional: the host may forbid mapping below 64 KiB (vm.mmap_min_addr). */
export const LOW_ADDR = 0x0000_8000;
export const WINDOW = 256;
export const MAX_CODE = 32;

export const IN_RECORD = 840;
export const OUT_RECORD = 828;

/** EFLAGS bits an input state may set: CF PF AF ZF SF DF OF. Both sides add IF and bit 1. */
export const INPUT_FLAGS = 0xcd5;
export const FIXED_FLAGS = 0x202;
/**
 * EFLAGS bits compared: the arithmetic flags, DF, bit 1, the reserved bits 3, 5, 15 and 22..31 (always
 * read 0), and NT (POPF may set it). Not compared: TF IF IOPL RF VM AC VIF VIP ID, which user mode on the
 * host and CPL 0 in the emulator treat differently, and RF, which the host reports after faults.
 */
export const COMPARED_FLAGS = 0xffc0_ccff;

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, TF = 0x100, IF = 0x200, DF = 0x400, OF = 0x800, NT = 0x4000;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

export const REG_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;

/** One generated test: a snippet and the machine state it starts from. */
export interface OracleCase {
  index: number;
  /** Summary key (e.g. 'ADD'); `form` names the encoding (e.g. 'ADD r/m32, imm8 (83 /0)'). */
  mnemonic: string;
  form: string;
  code: Uint8Array;
  /** Run in a 16-bit code segment (base CODE_ADDR, limit 0xFFFF): default operand and address size 16. */
  code16: boolean;
  regs: Uint32Array;
  eflags: number;
  data: Uint8Array;
  stack: Uint8Array;
  low: Uint8Array;
  /** EFLAGS bits the SDM leaves undefined after this snippet (not compared when it completes). */
  undefFlags: number;
  /** Per register, bits left undefined (BSF/BSR with a zero source, 16-bit BSWAP). */
  undefRegs: Uint32Array;
}

/** What one side observed after running a case. */
export interface OracleResult {
  /**
   * -1: the snippet ran to its end; else the exception vector it raised — or SEGV_VECTORS, where the oracle
   * (qemu-i386) reports only that SIGSEGV came, not which exception sent it.
   */
  vector: number;
  /**
   * Where it stopped, as a linear address (16-bit code: CODE_ADDR + offset): CODE_ADDR + length, or where
   * the exception was reported (the faulting instruction; the next one for traps).
   */
  eip: number;
  regs: Uint32Array;
  eflags: number;
  data: Uint8Array;
  stack: Uint8Array;
  low: Uint8Array;
  /** Something other than a completion or an exception (a harness generator bug, an emulator exit or crash). */
  error?: string;
}

export function encodeCases(cases: readonly OracleCase[]): Buffer {
  const buf = Buffer.alloc(cases.length * IN_RECORD);
  cases.forEach((c, n) => {
    const o = n * IN_RECORD;
    if (c.code.length < 1 || c.code.length > MAX_CODE) throw new Error(`case ${c.index}: snippet length ${c.code.length}`);
    buf[o] = c.code.length;
    buf[o + 1] = c.code16 ? 1 : 0;
    buf.set(c.code, o + 4);
    for (let i = 0; i < 8; i++) buf.writeUInt32LE(c.regs[i] >>> 0, o + 36 + 4 * i);
    buf.writeUInt32LE(c.eflags >>> 0, o + 68);
    buf.set(c.data, o + 72);
    buf.set(c.stack, o + 328);
    buf.set(c.low, o + 584);
  });
  return buf;
}

/** Signal numbers the harness can report, for messages. */
const SIGNALS: Record<number, string> = { 4: 'SIGILL', 5: 'SIGTRAP', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV' };

/** The vector of an exception that reached the harness as SIGSEGV or SIGBUS without a trap number: #OF (INTO), #BR (BOUND), #NP, #SS, #GP. */
export const SEGV_VECTORS = -2;
/**
 * qemu-i386 (7.2) leaves the signal frame's trapno at -1: the exception is then known by its signal alone
 * (as Linux sends them: #DE → SIGFPE, #UD → SIGILL, #BP → SIGTRAP, the rest SIGSEGV or SIGBUS).
 */
const NO_TRAPNO = 0xffff_ffff;
const VECTOR_OF_SIGNAL: Record<number, number> = { 4: 6, 5: 3, 7: SEGV_VECTORS, 8: 0, 11: SEGV_VECTORS };

export function decodeResults(out: Buffer, count: number): OracleResult[] {
  if (out.length !== count * OUT_RECORD) throw new Error(`harness returned ${out.length} bytes, expected ${count * OUT_RECORD}`);
  const results: OracleResult[] = [];
  for (let n = 0; n < count; n++) {
    const o = n * OUT_RECORD;
    const signal = out.readUInt32LE(o), trapno = out.readUInt32LE(o + 4);
    const regs = new Uint32Array(8);
    for (let i = 0; i < 8; i++) regs[i] = out.readUInt32LE(o + 20 + 4 * i);
    const r: OracleResult = {
      vector: signal === 0 ? -1 : trapno === NO_TRAPNO ? (VECTOR_OF_SIGNAL[signal] ?? trapno) : trapno,
      eip: out.readUInt32LE(o + 12),
      regs,
      eflags: out.readUInt32LE(o + 52),
      // Views into the batch's output buffer (no copies: a batch is 20k results).
      data: out.subarray(o + 56, o + 56 + WINDOW),
      stack: out.subarray(o + 312, o + 312 + WINDOW),
      low: out.subarray(o + 568, o + 568 + WINDOW),
    };
    if (out.readUInt32LE(o + 824)) r.error = 'host: the snippet wrote outside the compared windows (generator bug)';
    if (signal === 255) r.error = 'host: cannot run 16-bit code (modify_ldt failed)';
    if (signal !== 0 && trapno === 14) r.error = `host: page fault at ${hex(out.readUInt32LE(o + 16))} (${SIGNALS[signal] ?? signal}): the generator let an address leave the windows`;
    results.push(r);
  }
  return results;
}

export const hex = (v: number, w = 8): string => (v >>> 0).toString(16).padStart(w, '0');
