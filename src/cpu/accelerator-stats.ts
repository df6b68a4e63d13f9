// What an accelerator (the JIT, jit/) counts, per translated region and in total: the data behind
// `x86jit profile`, `x86jit run --stats` and `vm.jitProfile()` (QEMU's `info jit` and its hotblocks plugin
// are the models). Here, beside the accelerator interface, so that the VM and the CLI report them without
// importing jit/.

/** Why compiled code returned to the run loop (or stopped before an instruction): the names of state.ts's EXIT_ codes, in order. */
export const JIT_EXIT_REASONS = [
  'branch',      // control left the region (a jump, call or return to code outside it)
  'budget',      // the instruction budget (time slice, --max-instructions, timer) ran out
  'memory',      // an access the inline path cannot do (outside RAM, MMIO, a store into a code page)
  'helper-break', // an instruction run by the interpreter (helper) ended the block: mode change, I/O stop, code write
  'fault',       // an instruction raised an exception: delivered by the run loop
  'interrupt',   // an interrupt became pending
  'interpreter', // stopped before an instruction whose rare case the interpreter handles (a #DE divide)
] as const;
export type JitExitReason = (typeof JIT_EXIT_REASONS)[number];

export interface RegionProfile {
  /** Sequence number of the region (stable for one VM). */
  id: number;
  /** Linear (= physical: flat mode without paging) address of the entry block, lowest and one past the highest guest byte. */
  entry: number;
  start: number;
  end: number;
  /** Decoded blocks and guest instructions the region covers. */
  blocks: number;
  guestInstructions: number;
  /** Calls into the region from the run loop, and guest instructions it retired. */
  executions: number;
  instructions: number;
  /** Host time inside the region, ms (measured only when profiling is on; else 0). */
  timeMs: number;
  /** Size of the region's WASM binary, bytes, and the time to translate, emit and instantiate it, ms. */
  wasmBytes: number;
  translateMs: number;
  /** Of translateMs, the part that translated the guest code and emitted the WASM bytes (jit/compile.ts), before the engine compiled them, ms. */
  buildMs: number;
  /** Exits by reason. */
  exits: Record<JitExitReason, number>;
  /** Instructions executed through the interpreter from inside the region (helper calls). */
  fallbacks: number;
  /** Set when a code write or a flush dropped the region. */
  invalidated: boolean;
  /** 1: the fast translation a block gets when it turns hot; 2: the retranslation of a region that stayed hot. */
  tier: number;
  /**
   * One part of a span split because its tier-2 module was too big: its hot part (tier 2) or the rest (tier 1);
   * or an extension: the span's blocks that turned hot after its tier-1 region was translated.
   */
  part?: 'hot' | 'cold' | 'extension';
}

export interface JitStats {
  /** Regions translated so far, regions currently live (not invalidated or evicted). */
  compiled: number;
  live: number;
  /** Blocks looked at and left to the interpreter (not compilable in the current mode). */
  refused: number;
  /** Guest instructions and guest code bytes translated; WASM bytes emitted (expansion = wasmBytes / guestBytes). */
  translatedInstructions: number;
  guestBytes: number;
  wasmBytes: number;
  /** Time spent translating, emitting and instantiating, ms. */
  translateMs: number;
  /** Calls of compiled regions from the run loop, and the guest instructions they retired. */
  calls: number;
  instructions: number;
  /** Entries into compiled code (the run loop found a live region for the block) / translations they needed. */
  cacheHits: number;
  cacheMisses: number;
  /** Regions the translation worker loaded from its disk cache instead of translating (region-cache.ts). */
  diskHits: number;
  /** Regions dropped because guest code changed, wholesale flushes (live-module bound, reset), and regions
   *  evicted by a bigger retranslation of their page or for room in a full decoded-code cache. */
  invalidations: number;
  flushes: number;
  evictions: number;
  /** Instructions run through the interpreter from compiled code (helper calls). */
  fallbacks: number;
  /** Transfers from one region to another inside compiled code (chaining), without returning to the run loop. */
  chains: number;
  /** Regions retranslated at tier 2 (installed), and tier-2 translations asked for. */
  tier2: number;
  promotions: number;
  /** Spans whose tier-2 module came out too big, split into a hot part at tier 2 and the rest at tier 1. */
  splits: number;
  /** Exits by reason, over all regions. */
  exits: Record<JitExitReason, number>;
}

export interface JitProfile {
  totals: JitStats;
  /** Every region translated so far (live or not), in translation order. */
  regions: RegionProfile[];
}

/** One region's guest disassembly beside its WASM text (binaryen's emitText), for `--dump`. */
export interface RegionDump {
  region: RegionProfile;
  /** Lines `address: bytes  Intel syntax`, block by block. */
  disassembly: string[];
  wasmText: string;
}

export const emptyExits = (): Record<JitExitReason, number> =>
  Object.fromEntries(JIT_EXIT_REASONS.map((r) => [r, 0])) as Record<JitExitReason, number>;
