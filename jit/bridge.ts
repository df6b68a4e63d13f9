// The bridge between compiled regions and the interpreter: entering a region from the run loop (counting
// its exits), and the `helper` import through which a region runs an instruction it leaves to the
// interpreter — the interpreter's own closure, with the count that instruction would see — catching the
// fault it may raise for the run loop to deliver.
import type { JitStats } from '../src/cpu/accelerator-stats.ts';
import { JIT_EXIT_REASONS } from '../src/cpu/accelerator-stats.ts';
import { jitMode } from '../src/cpu/accelerator.ts';
import type { Block, CachedInstruction, CodeCache } from '../src/cpu/code-cache.ts';
import { BREAK_EIP_SET, BREAK_JUMP, type Cpu, WORK_PER_CLOCK_CHECK } from '../src/cpu/cpu.ts';
import { CpuFault } from '../src/cpu/fault.ts';
import { endsBlock } from '../src/cpu/instruction-meta.ts';
import { EFLAGS, EIP, JIT_EXIT_SLOT, JIT_PAUSE_SLOT, JIT_TSC_SLOT } from '../src/cpu/state.ts';
import type { JumpCache } from './jump-cache.ts';
import type { Region } from './region.ts';
import { HELPER_EXIT, HELPER_FAULT, HELPER_IRQ, HELPER_JUMP, type RegionOutput } from './translate.ts';

/** Helper-op table entries before a flush (entries of dropped regions are reclaimed only then). */
export const MAX_HELPER_OPS = 1 << 20;

export class InterpreterBridge {
  // The helper-op table: entry k is the instruction a region's helper call number (k - its base) runs.
  private helperOps: CachedInstruction[] = [];
  private helperLast: boolean[] = [];
  /** Does entry k's instruction end an interpreter block (instruction-meta's endsBlock, looked up once: some entries compute it). */
  private helperEnds: boolean[] = [];
  private helperIndex: number[] = [];
  private helperRegion: Region[] = [];
  /** The exception a helper caught, for the run loop to deliver. */
  private pendingFault: CpuFault | null = null;
  /** cpu.instructions when the running region was entered (helpers see the exact count). */
  private entryInstructions = 0;
  /** The mode of the running region (a helper that changes it ends compiled code). */
  private entryMode = 0;

  constructor(private readonly cpu: Cpu, private readonly cache: CodeCache, private readonly stats: JitStats, private readonly jumps: JumpCache) {}

  /** Entries in the helper-op table (the next region's helper base). */
  get helperCount(): number { return this.helperOps.length; }

  /** The `helper` import of a region whose helper calls start at table entry `base`. */
  helperImport(base: number): (idx: number, n: number, bsCount: number, bsEip: number) => number {
    return (idx, n, bsCount, bsEip) => this.helper(base + idx, n, bsCount, bsEip);
  }

  /** Append `region`'s helper calls (its translation's helperAt etc., over the blocks it was translated from). */
  addHelpers(region: Region, blocks: readonly Block[], out: RegionOutput): void {
    for (let k = 0; k < out.helperAt.length; k++) {
      const [bi, j] = out.helperAt[k];
      this.helperOps.push(blocks[bi].ops[j]);
      this.helperRegion.push(region);
      this.helperLast.push(out.helperLast[k]);
      this.helperEnds.push(endsBlock(blocks[bi].ops[j].ins));
      this.helperIndex.push(out.helperIndex[k]);
    }
  }

  /** Forget every helper call (all regions were dropped). */
  clear(): void {
    this.helperOps = []; this.helperLast = []; this.helperEnds = []; this.helperIndex = []; this.helperRegion = [];
  }

  /**
   * Run `region` from the current EIP for at most `budget` instructions (ns of virtual time: a PAUSE counts
   * PAUSE_NS). Returns the instructions retired; leaves EIP, registers and flags in the CPU-state block and the
   * exit reason in its JIT_EXIT slot. Time its PAUSEs spent beyond their instructions goes to Cpu.spendTime
   * (which ends the run loop's slice). A fault raised inside is returned by takeFault().
   */
  enter(region: Region, budget: number, profiling: boolean): number {
    const cpu = this.cpu, s = cpu.s;
    this.entryInstructions = cpu.instructions;
    this.entryMode = region.mode;
    this.setTscBase();
    this.jumps.prepare(region, s[EIP]);
    let n: number;
    if (profiling) {
      const t0 = performance.now();
      n = this.jumps.enter(region.slot, s[EIP], budget, 0);
      region.profile.timeMs += performance.now() - t0;
    } else n = this.jumps.enter(region.slot, s[EIP], budget, 0);
    const paused = s[JIT_PAUSE_SLOT];
    if (paused !== 0) { s[JIT_PAUSE_SLOT] = 0; n -= paused; cpu.spendTime(paused); }
    const p = region.profile, st = this.stats, why = JIT_EXIT_REASONS[s[JIT_EXIT_SLOT]];
    p.executions++; p.instructions += n; p.exits[why]++;
    st.calls++; st.cacheHits++; st.instructions += n; st.exits[why]++;
    return n;
  }

  /** The TSC at the call's first instruction, for compiled RDTSC (state.ts's JIT_TSC_SLOT; cpu.tsc's sum). */
  private setTscBase(): void {
    const s = this.cpu.s, t = this.entryInstructions + Math.floor(this.cpu.idleNs);
    s[JIT_TSC_SLOT] = t % 2 ** 32; s[JIT_TSC_SLOT + 1] = Math.floor(t / 2 ** 32);
  }

  /** The fault an instruction raised inside compiled code (after enter() reported EXIT_FAULT). */
  takeFault(): CpuFault {
    const f = this.pendingFault!;
    this.pendingFault = null;
    return f;
  }

  /**
   * An instruction compiled code leaves to the interpreter: the closure of the interpreter block it would
   * be running (the one that starts where compiled code last crossed a block boundary, `bsEip`, `bsCount`
   * instructions into this call), with the count that block would see (I/O reads time as of the block's
   * start; RDTSC adds the instruction's index in it). `n`: instructions retired before this one.
   */
  private helper(idx: number, n: number, bsCount: number, bsEip: number): number {
    let op = this.helperOps[idx], last = this.helperLast[idx];
    const cpu = this.cpu, s = cpu.s, dyn = n - bsCount;
    this.helperRegion[idx].profile.fallbacks++;
    this.stats.fallbacks++;
    const b = this.cache.blockAt(bsEip);
    const same = b.cacheable && b.ops[dyn]?.eip === op.eip;
    const ends = this.helperEnds[idx];
    if (same) { op = b.ops[dyn]; last = dyn === b.ops.length - 1 || ends; }
    // The count includes the virtual time PAUSEs spent so far in this call (JIT_PAUSE_SLOT): the closure
    // sees it as the interpreter would, in idleNs.
    const paused = s[JIT_PAUSE_SLOT];
    cpu.instructions = this.entryInstructions + (same ? bsCount : n - this.helperIndex[idx]) - paused;
    cpu.idleNs += paused;
    s[EIP] = op.next;
    cpu.breakBlock = 0;
    try {
      op.exec();
    } catch (e) {
      cpu.instructions = this.entryInstructions;
      cpu.idleNs -= paused;
      if (!(e instanceof CpuFault)) throw e;
      this.pendingFault = e;
      s[EIP] = op.eip;
      return HELPER_FAULT;
    }
    cpu.instructions = this.entryInstructions;
    cpu.idleNs -= paused;
    this.setTscBase(); // port I/O adds idle time
    const why = cpu.breakBlock;
    let r = 0;
    // A mode change ends compiled code (it assumed flat DS/ES/SS, 32-bit code, no paging): e.g. MOV DS.
    if (why & ~(BREAK_JUMP | BREAK_EIP_SET) || jitMode(cpu) !== this.entryMode) r = HELPER_EXIT;
    else if (why !== 0 || ends) { r = HELPER_JUMP; cpu.breakBlock = 0; }
    // An interrupt became pending, or heavy work was done (a long REP OUTSB, a big hypercall: the run loop
    // must read the clock): leave compiled code at the interpreter block's end, where the interpreter would
    // look (so block boundaries stay the interpreter's) — at once, at the EIP in the state block, if this
    // instruction ended the block: its last, or one that set EIP (a side exit taken, a REP yielding before
    // it is done, a mode change). HELPER_IRQ resumes at the next instruction, so it must never be combined
    // with a helper-set EIP (a REP through the helper cut short after REP_CHUNK elements did just that).
    const look = (cpu.intr & s[EFLAGS]) !== 0 || cpu.shadow !== 0 || cpu.work >= WORK_PER_CLOCK_CHECK;
    if (look) r = last || r !== 0 ? HELPER_EXIT : HELPER_IRQ;
    return r;
  }
}
