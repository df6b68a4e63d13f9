// The accelerator interface: how the interpreter's run loop (interpreter.ts) and the VM use something that
// runs hot guest code natively. The loop asks for the compiled unit of a hot block, enters it with an
// instruction budget, and reads why it returned from the state block's JIT_EXIT_SLOT (state.ts holds the
// exit codes). src/ knows only this; the JIT (jit/) implements it and is attached from the top
// (VMOptions.accelerator, which the package entry src/index.ts supplies).
import { DS, ES, SS } from '../decoder/instruction.ts';
import type { JitProfile, JitStats, RegionDump } from './accelerator-stats.ts';
import type { Block, CodeCache, CompiledRegion } from './code-cache.ts';
import type { Cpu } from './cpu.ts';
import type { CpuFault } from './fault.ts';
import { CODE32, CPL, STACK32 } from './state.ts';

/**
 * Executions of a block before the run loop asks the accelerator for it. Translating costs ~13 µs per guest
 * instruction (our encoder and V8's compile) against ~15 ns to interpret one, so code that runs only a few
 * hundred times — much of an operating system's start — is cheaper left to the interpreter. A Linux boot
 * (README, "A JIT threshold of 400"): 50 → 400 translated 169 k → 104 k instructions (13.0 → 8.2 MB of
 * WASM) and ran ~0.4 s faster, the same from 200 to 1,000; the benchmark ROMs' hot loops run millions of
 * times either way.
 */
export const DEFAULT_JIT_THRESHOLD = 400;

/** How tier 2 comes in: after V8 has compiled it while tier 1 goes on, at once (deterministic), or not at all. */
export type Tier2Mode = 'background' | 'sync' | 'off';

/** What an accelerator runs for a block (the JIT: a region), kept in the block's `compiled` field. */
export interface CompiledUnit extends CompiledRegion {
  /** False once dropped (guest code changed, a flush): the run loop asks again. */
  readonly valid: boolean;
  /** The jitMode it was compiled for: the run loop enters it only while that mode holds. */
  readonly mode: number;
}

export interface Accelerator {
  /** The unit to run for hot block `block` (compiled now if need be), or null: not now (the block is interpreted and asks again later). */
  regionFor(block: Block): CompiledUnit | null;
  /**
   * Run `unit` from the current EIP for at most `budget` instructions. Returns the instructions retired;
   * leaves EIP, registers and flags in the state block and the exit code in its JIT_EXIT_SLOT.
   */
  enter(unit: CompiledUnit, budget: number): number;
  /** The fault an instruction raised inside compiled code (after enter() left EXIT_FAULT). */
  takeFault(): CpuFault;
  /** Measure host time per entry (RegionProfile.timeMs). */
  profiling: boolean;
  /** Resolves when compiled code can be produced (true), or never will be (false). */
  ready(): Promise<boolean>;
  totals(): JitStats;
  profile(): JitProfile;
  /** The unit covering linear address `addr`: its guest disassembly and its WASM text, or null. */
  dump(addr: number): RegionDump | null;
  /** Release what it holds beyond garbage (a translation worker's port): vm.destroy(). */
  dispose?(): void;
}

/** How an accelerator is set up (VM.enableJit's options, less the threshold, which is the run loop's). */
export interface AcceleratorConfig {
  /** Measure host time per region entry (for `x86jit profile`; ~2 performance.now() calls per entry), and keep binaryen on the main thread for WASM text dumps (where the JIT's host has it: jit/jit-host.ts). */
  profile?: boolean;
  /**
   * Translate regions with binaryen on a worker thread while the interpreter runs (default false): by
   * default our own encoder translates each region synchronously when it turns hot.
   */
  background?: boolean;
  /** The worker's disk cache of translations (background only): a directory, or null for none (default ~/.cache/x86jit/regions). */
  cacheDir?: string | null;
  /** binaryen passes run on every region the worker translates (background only; default none). */
  passes?: readonly string[];
  /**
   * Let compiled regions transfer control to each other without returning to the run loop (default true;
   * off when profiling from the start, so that each region's time and exits are its own).
   */
  chain?: boolean;
  /**
   * Tier 2 (default 'background'): a region that has retired `tier2Threshold` instructions is retranslated
   * with its loops spanning several segments made WASM loops, for the engine's optimising compiler (in
   * Node, tier 1 stays with V8's baseline compiler: jit/v8-tiers.ts) — by our encoder here, or by binaryen
   * on the translation worker with `background` ('background'), or here at once whatever `background`
   * says ('sync': tests pin what runs this way). A page that reached tier 2 and is translated again here
   * (new hot blocks) goes straight to tier 2. Installed as soon as it is translated.
   */
  tier2?: Tier2Mode;
  /** Instructions a tier-1 region retires before tier 2 retranslates it (default: TIER2_PER_BYTE per byte of its tier-1 WASM, at least TIER2_MIN; 0: every region at once, 'sync' only). */
  tier2Threshold?: number;
}

/**
 * The default tier-2 threshold of a region: TIER2_PER_BYTE instructions per byte of its tier-1 WASM, at least
 * TIER2_MIN (the JIT's look at the counters every 4 M instructions). TurboFan's compile grows with the code,
 * so a small hot loop is promoted early and a region of a whole kernel page (24 KB: ~100 M instructions)
 * only once it has paid for it. Measured against one threshold for all (2^27): the workload ROMs at ~150 M
 * instructions took 20-45 % less CPU, the Linux boot ~10 % less.
 */
export const TIER2_PER_BYTE = 4096, TIER2_MIN = 1 << 22;

/**
 * The largest tier-2 module installed whole. V8's TurboFan gives a function with more than 8,192 virtual
 * registers ("huge" in its pipeline) its mid-tier register allocator, whose code runs a region barely faster
 * than Liftoff's: the Linux boot's xz decompressor, one region of ~1,860 instructions (79 KB at tier 1, 212 KB
 * at tier 2), ran ~1,200 M guest instructions/s at tier 2 against ~1,070 at tier 1; with the top-tier allocator
 * forced, ~2,070, but a 340 KB module took 2 s to compile. Bytes are only a rough stand-in for V8's count: the
 * workload ROMs' tier-2 modules of 64–80 KB mostly were not huge and run 1.5–2× faster than at tier 1. A
 * tier-2 translation over the limit is not compiled: the span is profiled at tier 1 and its hot part alone
 * goes to tier 2, the rest staying at tier 1 (jit.ts splitHot; README, "The hot part of a span too big for
 * tier 2"). (The limit was first put on the tier-1 module; smaller tier-1 code later slipped the
 * decompressor under it, and its 212 KB tier-2 module was compiled again.)
 */
export const TIER2_MAX_WASM_BYTES = 100_000;

/** Makes the accelerator of one VM: its memory, vCPU and decoded-code cache. */
export type AcceleratorFactory = (memory: WebAssembly.Memory, cpu: Cpu, cache: CodeCache, config: AcceleratorConfig) => Promise<Accelerator>;

/**
 * The mode compiled code is specialised for, or 0 where none runs. All need 32-bit code and stack and
 * flat DS/ES/SS (base 0, 4 GiB); 1: paging off (offset = physical address); 2: paging on, supervisor
 * accesses (CPL 0-2); 3: paging on at CPL 3 (user accesses: the TLB's user bits apply).
 */
export function jitMode(cpu: Cpu): number {
  if (cpu.s[CODE32] !== 1 || cpu.s[STACK32] !== 1 || cpu.segSlow[DS] !== 0 || cpu.segSlow[SS] !== 0 || cpu.segSlow[ES] !== 0) return 0;
  if (!cpu.paging) return 1;
  return cpu.s[CPL] === 3 ? 3 : 2;
}
