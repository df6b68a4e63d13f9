// The interpreter's run loop ("pure emulation"): fetch the cached block at CS:EIP, run its closures,
// deliver faults to the guest, and stop exactly when the instruction budget runs out or something asks
// to stop. Counting is exact: a faulting instruction does not retire; every other one counts once
// (a REP string instruction counts once per execution, which may cover many iterations).
import { formatIntel } from '../decoder/format-intel.ts';
import { CS } from '../decoder/instruction.ts';
import { BREAK_DEBUG, BREAK_EIP_SET, BREAK_JUMP, BREAK_STOP, type Cpu, WORK_PER_CLOCK_CHECK } from './cpu.ts';
import { CodeCache, type Block, type CachedInstruction } from './code-cache.ts';
import type { CpuHooks } from './hooks.ts';
import { CpuFault, DB } from './fault.ts';
import { getEflags } from './flags.ts';
import { deliverException } from './interrupts.ts';
import { DR_SLOT, EFLAGS, EIP, RF, EXIT_BRANCH, EXIT_FAULT, EXIT_HELPER_BREAK, EXIT_INTERRUPT, EXIT_MEMORY, JIT_EXIT_SLOT, REG_NAMES32, SEG_BASE, SEG_SEL, segSlot, TF } from './state.ts';
import { HANDLERS, R_CLOSURE, RECORD_NEXT, RECORD_WORDS } from './semantics/records.ts';
import { type Accelerator, type CompiledUnit, DEFAULT_JIT_THRESHOLD, jitMode } from './accelerator.ts';

/** Why the loop returned (the VM turns this into an exit record). 'deliveries': LoopOptions.deliveries ran out. */
export type LoopStop = 'budget' | 'until' | 'breakpoint' | 'stop' | 'timeout' | 'interrupt' | 'deliveries';

export interface LoopOptions {
  /** Stop before executing the instruction at this CS offset (EIP). */
  until?: number;
  /** Called with one line per executed instruction (enables the careful, per-instruction path). */
  trace?: (line: string) => void;
  /** Trace lines carry the registers and flags before the instruction (default true). */
  traceRegisters?: boolean;
  /**
   * Stop before executing an instruction at one of these linear addresses (CS base + EIP; enables the
   * careful path) — except the first instruction when `resume` is set, so that a run can go on from a breakpoint.
   */
  breakpoints?: ReadonlySet<number>;
  resume?: boolean;
  /** performance.now() value after which the loop returns 'timeout'. */
  deadline?: number;
  /**
   * Most faults to deliver before returning 'deliveries' (default: no limit). A fault retires no
   * instruction, so without this a guest whose fault handler faults again would never use up its budget.
   */
  deliveries?: number;
}

/**
 * [JIT] Executions after which a block runs by its closures rather than its records (see run()): the JIT's
 * default threshold, after which a block is compiled. Records serve engine 'jit' only, where the interpreter
 * runs cold code: with engine 'interp', hot loops ran 10–18 % slower when their blocks had begun by their
 * records (bench/cold-code-rom.mjs 200 20000), for a reason not found (records unused: within the noise).
 */
const RECORDS_HITS = DEFAULT_JIT_THRESHOLD;
/** [JIT] Interrupt-return points remembered at once (Interpreter.parked). */
const PARKED_RESUMES = 8;

export class Interpreter {
  readonly cache: CodeCache;

  private accelerator: Accelerator | null = null;
  /**
   * [JIT] the accelerator VM.enableJit attaches (engine 'jit'); null for the pure interpreter. With it, cold
   * code runs from records, so blocks are decoded lazily (CodeCache.lazyOps).
   */
  get jit(): Accelerator | null { return this.accelerator; }
  set jit(jit: Accelerator | null) {
    this.accelerator = jit;
    this.cache.lazyOps = jit !== null;
  }
  /** [JIT] executions of a block before its region is compiled (0: on first sight). */
  jitThreshold = DEFAULT_JIT_THRESHOLD;
  /**
   * [JIT] The last run stopped inside code at EIP resumeEip (its budget ended in the middle of a block, or
   * compiled code left before an access it leaves to the interpreter): a block decoded there is marked
   * `resumed` (code-cache.ts) until control reaches it by a transfer or fall-through.
   */
  private resumePending = false;
  private resumeEip = 0;
  /**
   * [JIT] Where interrupts were taken while a run was stopped inside code (resumePending): the return from
   * the handler (IRET to that EIP) is the resumption, however much ran in between — the handler's own runs
   * may stop inside code too, so a few such points wait at once (the oldest dropped first). Without this, the
   * timer's interrupts, taken where a budget ended mid-block, gave a Linux boot's multiply loop a block at
   * nearly every instruction and its region a copy of the rest of its segment for each (101 blocks for 291
   * instructions, 277 KB of WASM). A point never returned to (the handler switched tasks) can at worst
   * mark a later block decoded there as resumed: it is then compiled later, never wrongly.
   */
  private readonly parked = new Int32Array(PARKED_RESUMES);
  private parkedCount = 0;

  constructor(private readonly cpu: Cpu) {
    this.cache = new CodeCache(cpu);
  }

  /** Run at most `budget` instructions. `cpu.stop` (set by requestStop) ends the loop after the current instruction. */
  run(budget: number, opts: LoopOptions = {}): LoopStop {
    if (opts.until !== undefined || opts.trace !== undefined || opts.breakpoints !== undefined) return this.runCareful(budget, opts);
    const cpu = this.cpu, s = cpu.s, cache = this.cache;
    const deadline = opts.deadline ?? Infinity;
    const deliveryLimit = cpu.deliveries + (opts.deliveries ?? Infinity);
    let checkClock = 0;
    let block: Block | null = null;
    /** [JIT] Compiled code left in the middle of an interpreter block because an interrupt became pending: the
     *  interpreter finishes that block first (it checks for interrupts only between its blocks). */
    let finishBlock = false;
    /** The previous instruction was stepped for hooks (cpu.hooks.blockStart is up to date). */
    let stepped = false;
    // Keep the budget a small integer so the loop's arithmetic and indexing stay in integer registers.
    budget = Math.min(budget, 0x3fff_ffff) | 0;
    cpu.spentNs = 0; // (the VM planned this slice from the clock, which has all of it)
    while (budget > 0) {
      // Virtual time the last block spent beyond its instructions (port I/O, PAUSE: Cpu.spendTime) comes off
      // the budget, so that the slice ends when the VM planned it to, at the next device event.
      if (cpu.spentNs !== 0) { budget -= cpu.spentNs; cpu.spentNs = 0; if (budget <= 0) break; }
      // The clock is read every 1024 blocks, or sooner after heavy work (long REP runs, big hypercalls, calls
      // into compiled code), so that a deadline holds whatever the guest runs.
      if (++checkClock >= 1024 || cpu.work >= WORK_PER_CLOCK_CHECK) {
        checkClock = 0;
        cpu.work = 0;
        if (performance.now() > deadline) return 'timeout';
      }
      // An interrupt controller asserts INTR and IF = 1: return to the VM, which injects it — unless
      // STI/MOV SS just ran, in which case exactly one more instruction runs first (the shadow).
      if (((cpu.intr & s[EFLAGS]) !== 0 || cpu.shadow !== 0) && !finishBlock) {
        if (cpu.shadow === 0) {
          if (this.resumePending) { this.resumePending = false; this.park(this.resumeEip); }
          return 'interrupt';
        }
        if ((cpu.intr & s[EFLAGS]) === 0) cpu.shadow = 0; // nothing pending: the shadow has nothing to hold back
        else {
          // STI/MOV SS shadow with an interrupt pending: exactly one more instruction, then the VM injects.
          const r = this.runCareful(1, opts, false);
          budget -= 1;
          block = null;
          if (r !== 'budget') return r;
          if (cpu.deliveries >= deliveryLimit) return 'deliveries';
          continue;
        }
      }
      // TF can only become set by an instruction that ends its block with a BREAK (POPF, IRET, interrupts).
      if (block === null && s[EFLAGS] & TF) {
        // Single-stepping: one instruction at a time through the careful path, then #DB.
        const r = this.runCareful(1, opts, false);
        budget -= 1;
        block = null;
        if (r !== 'budget') return r;
        if (cpu.deliveries >= deliveryLimit) return 'deliveries';
        continue;
      }
      // Follow the previous block's link when it ended without a CS or mapping change, else look the block up.
      // (A link is tested for null first: linkEip holds any 32-bit EIP, so no value of it can mean "none".)
      const eip = s[EIP], epoch = cpu.mappingEpoch;
      let next: Block;
      const link0 = block !== null ? block.link0 : null, link1 = block !== null ? block.link1 : null;
      if (link0 !== null && block!.linkEpoch === epoch && block!.linkEip0 === eip && link0.valid) next = link0;
      else if (link1 !== null && block!.linkEpoch === epoch && block!.linkEip1 === eip && link1.valid) next = link1;
      else {
        // Past its size limit the decoded-code cache is emptied here, between blocks, where nothing is running
        // (QEMU flushes a full code buffer the same way) — but for the blocks compiled code runs (evict());
        // the previous block is not linked to the new ones.
        if (cache.full) { cache.evict(); block = null; }
        next = cache.lookup();
        let resumes = false;
        if (this.resumePending) { this.resumePending = false; resumes = eip === this.resumeEip; }
        if (!resumes && this.parkedCount > 0) resumes = this.unpark(eip);
        if (resumes) { if (next.hits === 0) next.resumed = true; } else next.resumed = false;
        if (block !== null && next.cacheable) {
          if (block.linkEpoch !== epoch) { block.linkEpoch = epoch; block.link0 = block.link1 = null; block.linkEip0 = block.linkEip1 = 0; }
          // Keep the two most recent successors (a conditional branch has two).
          block.linkEip1 = block.linkEip0; block.link1 = block.link0;
          block.linkEip0 = eip; block.link0 = next;
          cpu.reliesOnMapping(next.start, next.end);
        }
      }
      block = next;
      block.hits++;
      // Instruction-level hooks watch this block's pages: step it one instruction at a time (never compiled).
      // (Also while EFLAGS.RF is set: a stepped instruction clears it, and it must not outlive the next instruction.)
      if (cpu.hooks !== null && cpu.hooks.stepping && (cpu.hooks.steps(block.start, block.end) || (s[EFLAGS] & RF) !== 0)) {
        // Coming from a block that ran whole (a branch, or a page or size limit ended it): a new basic block.
        if (!stepped) cpu.hooks.blockStart = true;
        stepped = true;
        const before = cpu.instructions;
        const r = this.runStepped(block, budget);
        budget -= cpu.instructions - before;
        block = null;
        if (r !== null) return r;
        if (cpu.deliveries >= deliveryLimit) return 'deliveries';
        continue;
      }
      stepped = false;
      // [JIT] engine 'jit' only: a hot block's region (its page's hot blocks, compiled to WASM) runs instead
      // of the closures while the mode it was compiled for holds. It returns the instructions it
      // retired and leaves EIP, registers and flags in the state block; 0 with no fault means it stopped
      // before its first instruction (budget, or a memory access it leaves to the interpreter).
      if (finishBlock) finishBlock = false;
      else if (this.accelerator !== null) {
        const jit = this.accelerator;
        let r = block.compiled as CompiledUnit | null | undefined;
        if ((r === undefined || (r !== null && !r.valid)) && block.hits > this.jitThreshold && !block.resumed) {
          r = block.compiled = jit.regionFor(block) ?? undefined;
          checkClock = 1024; // translating (synchronously, or installing a finished region) takes a while: read the clock next
          if (r === undefined) block.hits = this.jitThreshold - 16; // retry after a few more executions
        }
        if (r != null && r.valid && r.mode === jitMode(cpu)) {
          // A lazy restore in progress (memory.ts): compiled code without paging reads and writes RAM
          // directly, so every page must be in first; with paging it goes through TLB entries, which are
          // made only for pages that are in, but its stores need the dirty log's code map armed.
          if (cpu.mem.pendingPages > 0) { if (r.mode === 1) cpu.mem.loadAllPages(); else cpu.mem.prepareForCompiledCode(); }
          const n = jit.enter(r, budget);
          cpu.instructions += n;
          budget -= n;
          // One call may run up to a whole budget of compiled code: read the clock at least every 16 calls.
          checkClock += 64;
          // (Time its PAUSEs and port accesses spent, Cpu.spentNs, comes off the budget at the loop's top.)
          const why = s[JIT_EXIT_SLOT];
          if (why === EXIT_FAULT) {
            cpu.breakBlock = 0;
            deliverException(cpu, jit.takeFault(), s[EIP]);
            cpu.deliveries++;
            block = null;
            if (cpu.breakBlock & BREAK_STOP) return 'stop'; // an intercepted fault ended the run (cpu.intercept)
            if (cpu.deliveries >= deliveryLimit) return 'deliveries';
            continue;
          }
          if (why === EXIT_HELPER_BREAK) {
            const brk = cpu.breakBlock;
            block = null;
            if (brk & BREAK_DEBUG) this.debugTrap();
            if (brk & BREAK_STOP) return 'stop';
            continue;
          }
          // Left in the middle of an interpreter block (an interrupt pending, or an access for the interpreter).
          if (why === EXIT_INTERRUPT || why === EXIT_MEMORY) { this.resumePending = true; this.resumeEip = s[EIP]; }
          if (why === EXIT_INTERRUPT) finishBlock = true;
          // A branch out of compiled code (in the same CS: whatever changes CS or the mode ends compiled code with
          // a helper break): the entry block keeps the next one in its links, keyed by the exit's EIP as any
          // block's successors are, so that its region's usual exits need no lookup (a Linux boot: 525 k of
          // 747 k calls). (TF is set only by instructions that end compiled code with a helper break; the test
          // keeps the single-step path below from ever missing a block boundary if one did not.)
          if (n > 0) { if (why !== EXIT_BRANCH || (s[EFLAGS] & TF) !== 0) block = null; continue; }
          if (budget <= 0) break;
        }
      }
      // [JIT] Cold code runs from the block's count and records (code-cache.ts's arena: the commonest
      // instructions from their records, the others by their closures), which keep a block's instructions in
      // a few cache lines; a block run more often than RECORDS_HITS, and every block under engine 'interp',
      // by its closures, reading only what they did before there were records.
      const running = block, hot = this.accelerator === null || block.hits > RECORDS_HITS, count = block.count;
      const last = (count < budget ? count : budget) - 1;
      if (!block.cacheable) block = null;
      let i = 0;
      cpu.breakBlock = 0;
      try {
        // EIP is written once per block: before its last instruction (which may be a control transfer),
        // or below when a break ends the block early. Closures never read EIP.
        if (hot) {
          const ops = running.ops, execs = running.execs;
          while (i < last) {
            execs[i]();
            if (cpu.breakBlock !== 0) break;
            i++;
          }
          if (i === last) {
            s[EIP] = ops[last].next;
            execs[last]();
          } else if (!(cpu.breakBlock & (BREAK_JUMP | BREAK_EIP_SET))) s[EIP] = ops[i].next;
        } else i = this.runRecords(running.code + RECORD_WORDS, last);
      } catch (e) {
        if (!hot) i = this.recordAt;
        if (!(e instanceof CpuFault)) throw e;
        cpu.instructions += i;
        budget -= i;
        this.faultAt(e, cache.eipAt(running, i));
        block = null;
        if (cpu.breakBlock & BREAK_STOP) return 'stop'; // an intercepted fault ended the run (cpu.intercept)
        if (cpu.deliveries >= deliveryLimit) return 'deliveries';
        continue;
      }
      i++;
      cpu.instructions += i;
      budget -= i;
      const why = cpu.breakBlock;
      // The budget ended the block early: the next run resumes inside it.
      if (i < count && why === 0) { this.resumePending = true; this.resumeEip = s[EIP]; }
      if (why !== 0 && why !== BREAK_JUMP) {
        block = null; // CS, mode or code may have changed: no link from here
        if (why & BREAK_DEBUG) this.debugTrap();
        if (why & BREAK_STOP) return 'stop';
      }
    }
    return 'budget';
  }

  /** The instruction runRecords was running when it threw. */
  private recordAt = 0;

  /**
   * A cold block's instructions 0..last from its records at cache.arena[j], as run()'s loop runs a hot one's
   * closures (EIP written before the last, or after a break): returns the index of the last one run. (A
   * method of its own, so that run()'s loop over the closures keeps its shape: with both loops in run(),
   * hot code ran ~6 % slower in `bench/cold-code-rom.mjs 200 20000` under engine 'interp', records unused.)
   */
  private runRecords(j: number, last: number): number {
    const cpu = this.cpu, s = cpu.s, code = this.cache.arena, closures = this.cache.closures;
    let i = 0;
    try {
      while (i < last) {
        const k = code[j];
        if (k === R_CLOSURE) closures[code[j + 1]](); else HANDLERS[k](cpu, s, code, j);
        if (cpu.breakBlock !== 0) break;
        i++;
        j += RECORD_WORDS;
      }
      if (i === last) {
        s[EIP] = code[j + RECORD_NEXT];
        const k = code[j];
        if (k === R_CLOSURE) closures[code[j + 1]](); else HANDLERS[k](cpu, s, code, j);
      } else if (!(cpu.breakBlock & (BREAK_JUMP | BREAK_EIP_SET))) s[EIP] = code[j + RECORD_NEXT];
    } catch (e) {
      this.recordAt = i;
      throw e;
    }
    return i;
  }

  /**
   * A block on a page that instruction-level hooks watch (cpu.hooks): its instructions one at a time, the
   * hooks before each, until the block ends, a transfer or break leaves it, or the budget runs out. Returns
   * 'stop' when a hook or the guest asked to stop, else null (the run loop goes on).
   */
  private runStepped(block: Block, budget: number): LoopStop | null {
    const cpu = this.cpu, s = cpu.s, hooks = cpu.hooks!, ops = block.ops;
    const n = ops.length < budget ? ops.length : budget;
    cpu.breakBlock = 0;
    for (let i = 0; i < n; i++) {
      const op = ops[i];
      try {
        // A hook that raises a fault (an instruction breakpoint's #DB) raises it at this instruction.
        hooks.beforeInstruction((block.csBase + op.eip) >>> 0, op);
        if (cpu.breakBlock & BREAK_STOP) return 'stop'; // a hook stopped the VM: before this instruction, as in Unicorn
        s[EIP] = op.next;
        op.exec();
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        this.faultAt(e, op.eip);
        hooks.blockStart = true;
        return cpu.breakBlock & BREAK_STOP ? 'stop' : null;
      }
      cpu.instructions++;
      this.afterHooked(hooks, op);
      if (cpu.breakBlock & BREAK_DEBUG) this.debugTrap();
      if (cpu.breakBlock !== 0 || s[EIP] !== op.next) return cpu.breakBlock & BREAK_STOP ? 'stop' : null;
    }
    return null;
  }

  /** [JIT] An interrupt is taken where the run stopped inside code at `eip`: its handler returns there. */
  private park(eip: number): void {
    if (this.parkedCount === PARKED_RESUMES) this.parked.copyWithin(0, 1, this.parkedCount--);
    this.parked[this.parkedCount++] = eip;
  }

  /** [JIT] Is `eip` a point an interrupt was taken at (park)? Then it is consumed. */
  private unpark(eip: number): boolean {
    const p = this.parked;
    for (let i = this.parkedCount - 1; i >= 0; i--) {
      if (p[i] !== (eip | 0)) continue;
      p.copyWithin(i, i + 1, this.parkedCount--);
      return true;
    }
    return false;
  }

  /** The instruction at `eip` faulted: EIP back at it, and the exception delivered (and counted). */
  private faultAt(e: CpuFault, eip: number): void {
    const cpu = this.cpu;
    cpu.s[EIP] = eip;
    cpu.breakBlock = 0;
    deliverException(cpu, e, eip);
    cpu.deliveries++;
  }

  /**
   * After a stepped instruction: the hooks that saw it before (`hooks`, taken then: the instruction may have
   * removed them, a DR7 write does), and RF's end (it lasts one instruction, SDM 17.3.1.1).
   */
  private afterHooked(hooks: CpuHooks, op: CachedInstruction): void {
    const s = this.cpu.s;
    hooks.afterInstruction(op, s[EIP]);
    if (s[EFLAGS] & RF && op.ins.op !== 'IRET') s[EFLAGS] &= ~RF;
  }

  /** A data breakpoint matched (BREAK_DEBUG): #DB as a trap, after the instruction (DR6 already says which). */
  private debugTrap(): void {
    const cpu = this.cpu;
    cpu.breakBlock &= ~BREAK_DEBUG;
    deliverException(cpu, new CpuFault(DB), cpu.s[EIP]);
    cpu.deliveries++;
  }

  /**
   * One instruction at a time, with `until`, breakpoints, `trace` and single-step (TF) handling. `outer`: the
   * slice's own loop, which takes the time instructions spend (Cpu.spentNs) from its budget, as run() does;
   * else run() runs it for one instruction and takes that time itself.
   */
  private runCareful(budget: number, opts: LoopOptions, outer = true): LoopStop {
    const cpu = this.cpu, s = cpu.s, cache = this.cache;
    const until = opts.until, breakpoints = opts.breakpoints;
    let resume = opts.resume === true;
    const deadline = opts.deadline ?? Infinity;
    const deliveryLimit = cpu.deliveries + (opts.deliveries ?? Infinity);
    let checkClock = 0;
    if (outer) cpu.spentNs = 0;
    while (budget > 0) {
      if (outer && cpu.spentNs !== 0) { budget -= cpu.spentNs; cpu.spentNs = 0; if (budget <= 0) break; }
      if (until !== undefined && (s[EIP] >>> 0) === (until >>> 0)) return 'until';
      if (breakpoints !== undefined) {
        if (!resume && breakpoints.has((s[segSlot(CS, SEG_BASE)] + s[EIP]) >>> 0)) return 'breakpoint';
        resume = false;
      }
      if ((cpu.intr & s[EFLAGS]) !== 0 && cpu.shadow === 0) return 'interrupt';
      const shadowed = cpu.shadow;
      if (++checkClock >= 256 || cpu.work >= WORK_PER_CLOCK_CHECK) {
        checkClock = 0;
        cpu.work = 0;
        if (performance.now() > deadline) return 'timeout';
      }
      if (cache.full) cache.evict(); // (as in run(): nothing is running between instructions here)
      const block = cache.lookup();
      block.hits++;
      const op = block.ops[0];
      const singleStep = (s[EFLAGS] & TF) !== 0;
      const hooks = cpu.hooks;
      cpu.breakBlock = 0;
      try {
        if (hooks !== null && hooks.stepping) {
          // A hook that stops the VM (vm.stop()) ends the run before this instruction executes, as in
          // Unicorn; one that raises a fault (an instruction breakpoint's #DB) raises it here.
          hooks.beforeInstruction(block.start >>> 0, op);
          if (cpu.breakBlock & BREAK_STOP) return 'stop';
        }
        if (opts.trace) opts.trace(traceLine(cpu, op, opts.traceRegisters !== false));
        s[EIP] = op.next;
        op.exec();
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        this.faultAt(e, op.eip);
        if (hooks !== null) hooks.blockStart = true;
        if (cpu.breakBlock & BREAK_STOP) return 'stop';
        if (cpu.deliveries >= deliveryLimit) return 'deliveries';
        continue;
      }
      cpu.instructions++;
      budget--;
      if (hooks !== null && hooks.stepping) this.afterHooked(hooks, op);
      if (cpu.breakBlock & BREAK_DEBUG) this.debugTrap();
      if (shadowed) cpu.shadow = 0;
      if (singleStep) {
        // Single-step trap after the instruction (SDM 17.3.1.4): DR6.BS, saved EIP = the next instruction.
        s[DR_SLOT + 6] |= 0x4000;
        deliverException(cpu, new CpuFault(DB), s[EIP]);
      }
      if (cpu.breakBlock & BREAK_STOP) return 'stop';
    }
    return 'budget';
  }
}

/** One `--trace` line: CS:EIP, the instruction, then (with `registers`) the registers and flags before execution. */
function traceLine(cpu: Cpu, op: CachedInstruction, registers: boolean): string {
  const s = cpu.s;
  const at = `${hex(s[segSlot(CS, SEG_SEL)], 4)}:${hex(op.eip)}  ${formatIntel(op.ins, op.eip)}`;
  if (!registers) return at;
  const regs = REG_NAMES32.map((n, i) => `${n}=${hex(s[i])}`).join(' ');
  return `${at.padEnd(51)} ${regs} efl=${hex(getEflags(s))}`;
}

const hex = (v: number, w = 8): string => (v >>> 0).toString(16).padStart(w, '0');
