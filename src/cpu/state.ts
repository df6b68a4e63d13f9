// The CPU-state block: fixed slots at the start of the VM's one WebAssembly.Memory, shared by the
// interpreter (through the Int32Array view `s`) and compiled code (through i32 loads/stores at
// STATE_OFFSET + 4 * slot). Every slot is one 32-bit word. Keep this the single source of the layout.

/** General registers in the SDM's register-number order. */
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
export const REG_NAMES32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
export const REG_NAMES16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'] as const;
export const REG_NAMES8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'] as const;

export const EIP = 8;
/** EFLAGS as last materialised; the bits named by LAZY_MASK are stale and must be computed (flags.ts). */
export const EFLAGS = 9;
/** Lazy arithmetic flags: which of CF PF AF ZF SF OF are pending, from which operation and operands. */
export const LAZY_MASK = 10, LAZY_OP = 11, LAZY_RES = 12, LAZY_DST = 13, LAZY_SRC = 14, LAZY_SIZE = 15;

/** Segment registers: four slots each (selector, base, limit, attributes) from SEG_BASE_SLOT + 4 * sreg. */
export const SEG_SLOT = 16;
export const SEG_SEL = 0, SEG_BASE = 1, SEG_LIMIT = 2, SEG_ATTR = 3;
/** Slot of field f of segment register r (r in ES..GS order from decoder/instruction.ts). */
export const segSlot = (r: number, f: number): number => SEG_SLOT + 4 * r + f;

export const GDTR_BASE = 40, GDTR_LIMIT = 41, IDTR_BASE = 42, IDTR_LIMIT = 43;
/** LDTR and TR: selector, base, limit, attributes. */
export const LDTR_SLOT = 44, TR_SLOT = 48;
export const CR0 = 52, CR2 = 53, CR3 = 54, CR4 = 55;
export const DR_SLOT = 56; // DR0..DR7
export const CPL = 64;
/** 1 when CS is a 32-bit code segment (CS.D), 0 in 16-bit code and real mode. */
export const CODE32 = 65;
/** 1 when SS is a 32-bit stack (SS.B): ESP rather than SP is the stack pointer. */
export const STACK32 = 66;
/**
 * The x87 FPU (src/cpu/fpu/fpu-state.ts): physical registers R0…R7 at FPU_REG_SLOT + 3 * i (sign and
 * exponent, significand bits 63–32, bits 31–0), then the control word, the status word (TOP in bits
 * 11–13), the tag word (two bits per physical register: 00 valid, 01 zero, 10 special, 11 empty), and the
 * last instruction (offset, selector, 11-bit opcode) and data (offset, selector) pointers.
 */
export const FPU_REG_SLOT = 67; // … 90
export const FPU_CW = 91, FPU_SW = 92, FPU_TW = 93, FPU_FIP = 94, FPU_FCS = 95, FPU_FOP = 96, FPU_FDP = 97, FPU_FDS = 98;
/** Where compiled code (an accelerator's region) leaves why it returned to the run loop: one of the EXIT_ codes. */
export const JIT_EXIT_SLOT = 100;
/**
 * Region exit codes, in the order of accelerator-stats.ts's JIT_EXIT_REASONS (their names): control left
 * the region, the budget ran out, an access the inline path cannot do, a helper-run instruction ended the
 * block, a fault (the accelerator's takeFault() has it), an interrupt became pending, an instruction left
 * to the interpreter.
 */
export const EXIT_BRANCH = 0, EXIT_BUDGET = 1, EXIT_MEMORY = 2, EXIT_HELPER_BREAK = 3, EXIT_FAULT = 4, EXIT_INTERRUPT = 5, EXIT_INTERPRETER = 6;
/** Region-to-region transfers compiled code made without returning to the run loop (a counter it increments). */
export const JIT_CHAINS_SLOT = 101;
/**
 * The time-stamp counter as of the current region call's first instruction — instructions retired before it
 * plus whole idle ns — as a 64-bit little-endian integer in two slots: compiled RDTSC adds the instructions
 * the call has retired since (the interpreter's cpu.tsc()). Accelerator scratch, rewritten on every call.
 */
export const JIT_TSC_SLOT = 102; // … 103
/**
 * Virtual ns beyond their 1 ns that the PAUSEs of the current region call spent (cpu.ts PAUSE_NS): compiled
 * code adds them to its count as well, so that its budget and RDTSC see the time; the bridge takes them out
 * of the instructions retired and gives them to the clock (Cpu.spendTime). Accelerator scratch.
 */
export const JIT_PAUSE_SLOT = 104;
export const STATE_SLOTS = 128;

/** EFLAGS bits. */
export const CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9,
  DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18, ID = 1 << 21;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

/** CR0 bits. */
export const CR0_PE = 1 << 0, CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_ET = 1 << 4,
  CR0_NE = 1 << 5, CR0_WP = 1 << 16, CR0_AM = 1 << 18, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 1 << 31;

// ---- Layout of the WebAssembly.Memory ----
/** Byte offset of the CPU-state block. */
export const STATE_OFFSET = 0;
/**
 * One byte per 4 KiB guest-physical RAM page (bit 0: the page holds translated/decoded code; bit 1: the
 * page is armed for the dirty log, src/machine/dirty-log.ts). Nonzero is the interpreter's first filter for
 * stores; the code map (codeMapOffset) then says which bytes are code.
 */
export const PAGE_FLAGS_OFFSET = 0x1000;
/**
 * The software TLB (cpu.ts), 4096 direct-mapped entries: tags (linear page base | TLB_* bits, 0: empty) and
 * addends (physical − linear page base) as i32 arrays, here so that compiled code can use it. It sits after
 * the page-flag table of the largest RAM (MAX_RAM >> 12 bytes from 0x1000).
 */
export const TLB_TAG_OFFSET = 0xC8000, TLB_ADDEND_OFFSET = 0xCC000;
/**
 * The jump cache: compiled code's map from a guest EIP to the compiled region that has an entry there
 * (chaining: a region whose code leaves for an EIP it does not hold tail-calls the region found here, without
 * returning to the run loop). JUMP_CACHE_ENTRIES direct-mapped pairs of i32 (EIP, table slot << 2 | mode;
 * 0: empty) at jumpCacheEntry(eip); the accelerator fills and clears it, compiled code only reads it.
 */
export const JUMP_CACHE_OFFSET = 0xE0000, JUMP_CACHE_ENTRIES = 16384; // 128 KiB, up to RAM_OFFSET (a kernel's regions have thousands of entries: 4,096 thrashed)
/** Byte offset of the jump-cache pair for `eip` (compiled code computes the same: (eip ^ eip >>> 12) mod entries). */
export const jumpCacheEntry = (eip: number): number => JUMP_CACHE_OFFSET + ((((eip ^ (eip >>> 12)) & (JUMP_CACHE_ENTRIES - 1))) << 3);
/** Guest-physical address 0 lives here; every guest access is bounds-checked against the RAM size first. */
/**
 * Per-region counters of JIT tier 1, REGION_COUNTERS i32 at regionCounter(index): the instructions each call
 * retired (the JIT promotes a region to tier 2 when its count passes a threshold).
 */
export const REGION_COUNTERS_OFFSET = 0xD8000, REGION_COUNTERS = 8192;
export const regionCounter = (index: number): number => REGION_COUNTERS_OFFSET + 4 * (index & (REGION_COUNTERS - 1));
/**
 * Per-segment entry counters of JIT tier 1's profiled regions (a region too big for tier 2 runs a while
 * counting its segments, then its hot segments go to tier 2 alone: jit.ts splitHot): SEGMENT_PROFILE_SLOTS
 * regions at once, SEGMENT_PROFILE_COUNTERS i32 each (segments past it are not counted), between the TLB
 * and the region counters.
 */
export const SEGMENT_PROFILE_OFFSET = 0xD0000, SEGMENT_PROFILE_SLOTS = 8, SEGMENT_PROFILE_COUNTERS = 1024;

export const RAM_OFFSET = 0x100000;
export const PAGE_SHIFT = 12, PAGE_SIZE = 1 << PAGE_SHIFT;
/** Largest RAM the layout allows (page-flag table and 4 GiB WebAssembly memory). */
export const MAX_RAM = 0xC000_0000; // 3 GiB: leaves the top GiB of the guest-physical space for ROM and MMIO
/**
 * The code map: one byte per CODE_CHUNK_SIZE bytes of RAM, bit 0 set when some decoded block's bytes
 * overlap the chunk (code-cache.ts keeps it exact), bit 1 in every chunk of a page armed for the dirty log
 * (src/machine/dirty-log.ts: its first store leaves every fast path, which tests the byte for non-zero).
 * A store to a page with a page flag invalidates code only if a chunk it touches has bit 0, so data
 * sharing a page with code is written at full speed. Its
 * size follows the RAM's, so it sits right after RAM: ramSize >> CODE_CHUNK_SHIFT bytes at this offset
 * (at most 48 MiB, which with MAX_RAM still fits the 4 GiB WebAssembly memory).
 */
export const codeMapOffset = (ramSize: number): number => RAM_OFFSET + ramSize;
export const CODE_CHUNK_SHIFT = 6, CODE_CHUNK_SIZE = 1 << CODE_CHUNK_SHIFT;
