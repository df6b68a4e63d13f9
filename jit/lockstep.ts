// Lockstep: the JIT and the interpreter run the same guest side by side, and the first point where they
// disagree is reported — which register, EFLAGS bit, RAM byte (guest-physical), exit, output byte or
// instruction count differs, the value under each engine, and the guest CS:EIP and instruction count
// where it first shows. Only the public VM API is used (run, getRegisters, memory, enableJit).
//
// Method: both VMs run in slices of `slice` instructions (a prime by default, so slice ends fall at
// ever-different places inside compiled code); after every slice the registers, EFLAGS, exit and
// instruction count are compared, and guest RAM (memcmp of the two RAM views) every `memoryEvery`
// slices. Once a slice disagrees, fresh VMs replay the same slice schedule to the last point where
// everything agreed and step one instruction at a time (maxInstructions: 1) to the exact instruction.
// A compiled block only runs when the budget covers it, so a JIT fault can hide under single-stepping:
// then the stretch is bisected instead — fresh VMs run the original schedule to a midpoint count under
// one budget — down to the first count at which the engines disagree.
import { VM, type ExitRecord, type Registers, type VMOptions } from '../src/machine/vm.ts';
import { createJit } from './jit.ts';

export type Engine = 'jit' | 'interp';

export interface LockstepOptions {
  /** Load the guest (image, registers, memory) into a fresh VM; called for both engines, and again for replays. */
  setup: (vm: VM, engine: Engine) => void | Promise<void>;
  /** Options of both VMs (RAM size, clock, the JIT's settings; the accelerator defaults to the JIT); COM1 and debugcon output are captured and compared. */
  vm?: Omit<VMOptions, 'stdout' | 'debugcon' | 'engine'>;
  /** JIT threshold (default 0: compile every compilable block on first sight). */
  threshold?: number;
  /** Instructions per slice (default 7919). */
  slice?: number;
  /** Compare guest RAM after every this many slices, and at the end (default 1). */
  memoryEvery?: number;
  /** Stop after this many instructions (default: until the guest exits). */
  maxInstructions?: number;
  /**
   * Wall-clock limit in seconds from the moment both engines are set up, replays included (default none).
   * When it is reached the result says timedOut, with no divergence if none was seen yet, or the divergence
   * as far as it was narrowed down (method 'slice').
   */
  timeout?: number;
}

export type DifferenceKind = 'error' | 'exit' | 'instructions' | 'register' | 'flag' | 'output' | 'memory';

export interface Difference {
  kind: DifferenceKind;
  /** 'eax', 'ZF', 'IOPL', 'cr0', 'mem[0x00201000]', 'exit', 'instructions', 'com1[17]', ... */
  name: string;
  jit: number | string;
  interp: number | string;
}

export interface Divergence {
  /** Instructions both engines had retired when the difference first appeared (it shows after instruction count + 1). */
  instructions: number;
  /** Guest CS:EIP of the instruction after which the difference first appears (the interpreter's view). */
  cs: number;
  eip: number;
  /** That instruction, disassembled by the interpreter's trace (when known). */
  instruction?: string;
  /**
   * How it was pinned down: 'initial' (the setups already differ), 'step' (single-stepping), 'bisect' (the
   * JIT diverges only when it runs the stretch under a larger budget: the first count at which running the
   * original schedule up to it disagrees), 'slice' (not reproducible below slice granularity).
   */
  method: 'initial' | 'step' | 'bisect' | 'slice';
  /** The first difference (in the order error, exit, instructions, registers, flags, output, memory), then all found. */
  first: Difference;
  differences: Difference[];
  /** Registers both engines agreed on before, and each engine's registers once they differ. */
  before: Registers;
  jit: Registers;
  interp: Registers;
  /** Free text: what happened while narrowing it down. */
  note?: string;
}

export interface LockstepResult {
  divergence: Divergence | null;
  /** Instructions run (by the interpreter) until the end or the divergence seen at slice level. */
  instructions: number;
  slices: number;
  /** How the interpreter's run ended (max-instructions when the budget ran out first). */
  exit: ExitRecord | null;
  /** Instructions the JIT VM ran inside compiled code (from jitStats), when known. */
  jitInstructions?: number;
  /** The timeout ended the check: `instructions` were compared without a divergence, or `divergence` is not narrowed down. */
  timedOut?: boolean;
}

/** Thrown out of a run, replay or step loop when the lockstep's timeout is reached. */
class TimedOut extends Error {}

/** performance.now() at which the timeout ends every run (Infinity: none); shared by all the VMs of a lockstep. */
interface Clock { deadline: number }

const EFLAGS_BITS: [string, number, number][] = [
  ['CF', 0, 1], ['PF', 2, 1], ['AF', 4, 1], ['ZF', 6, 1], ['SF', 7, 1], ['TF', 8, 1], ['IF', 9, 1], ['DF', 10, 1], ['OF', 11, 1],
  ['IOPL', 12, 2], ['NT', 14, 1], ['RF', 16, 1], ['VM', 17, 1], ['AC', 18, 1], ['VIF', 19, 1], ['VIP', 20, 1], ['ID', 21, 1],
];
const NAMED_EFLAGS = EFLAGS_BITS.reduce((m, [, bit, width]) => m | (((1 << width) - 1) << bit), 0);
const GPRS = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip'] as const;
const SYSTEM = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'cr0', 'cr2', 'cr3', 'cr4'] as const;
/** Addresses of differing RAM bytes kept for watching while stepping, and reported. */
const WATCH_MAX = 256, REPORT_MAX = 16;
/** While single-stepping, the whole RAM is compared every this many steps (the watched bytes every step). */
const STEP_FULL_EVERY = 4096;
/** Single steps in a row that retire no instruction after which stepping gives up (a fault loop). */
const STALL_MAX = 1000;

/** The EFLAGS bits by name that differ between two values (then any other bits, as 'eflags bit N'). */
export function eflagsDifferences(jit: number, interp: number): Difference[] {
  const out: Difference[] = [];
  for (const [name, bit, width] of EFLAGS_BITS) {
    const m = (1 << width) - 1, a = (jit >>> bit) & m, b = (interp >>> bit) & m;
    if (a !== b) out.push({ kind: 'flag', name, jit: a, interp: b });
  }
  for (let bit = 0; bit < 32; bit++) {
    if ((NAMED_EFLAGS >>> bit) & 1) continue;
    const a = (jit >>> bit) & 1, b = (interp >>> bit) & 1;
    if (a !== b) out.push({ kind: 'flag', name: `eflags bit ${bit}`, jit: a, interp: b });
  }
  return out;
}

/** One engine's VM, what it wrote, and how its last run ended. */
class Side {
  readonly com1: number[] = [];
  readonly debugcon: number[] = [];
  exit: ExitRecord | null = null;
  error: string | null = null;
  private constructor(readonly engine: Engine, readonly vm: VM, private readonly clock: Clock) {}

  static async create(engine: Engine, opts: LockstepOptions, clock: Clock): Promise<Side> {
    let side: Side | null = null;
    const vm = new VM({
      ...opts.vm,
      accelerator: opts.vm?.accelerator ?? createJit,
      stdout: (b) => { for (const x of b) side!.com1.push(x); },
      debugcon: (b) => { for (const x of b) side!.debugcon.push(x); },
    });
    side = new Side(engine, vm, clock);
    if (engine === 'jit') await vm.enableJit({ threshold: opts.threshold ?? 0 });
    await opts.setup(vm, engine);
    return side;
  }

  /** The run has ended for good (an exit other than the budget, or an exception): it is not resumed. */
  get stopped(): boolean { return this.error !== null || (this.exit !== null && this.exit.reason !== 'max-instructions'); }

  /** Run up to n instructions; throws TimedOut when the deadline passes (the engines' states are then not comparable). */
  advance(n: number, trace?: (line: string) => void): void {
    if (this.stopped || n <= 0) return;
    const left = this.clock.deadline - performance.now();
    if (left <= 0) throw new TimedOut();
    try {
      this.exit = this.vm.run({ maxInstructions: n, trace, timeout: Number.isFinite(left) ? left / 1000 : undefined });
    } catch (e) {
      this.error = describeError(e);
    }
    if (this.exit?.reason === 'timeout') throw new TimedOut();
  }

  get ram(): Uint8Array {
    this.vm.memory.loadAllPages();
    return this.vm.memory.ram;
  }
}

/** A JIT VM and an interpreter VM on the same guest. */
class Pair {
  private constructor(readonly jit: Side, readonly interp: Side) {}
  static async create(opts: LockstepOptions, clock: Clock): Promise<Pair> {
    return new Pair(await Side.create('jit', opts, clock), await Side.create('interp', opts, clock));
  }
  get count(): number { return this.interp.vm.instructions; }
  get stopped(): boolean { return this.jit.stopped && this.interp.stopped; }
  advance(n: number): void { this.jit.advance(n); this.interp.advance(n); }

  /**
   * Differences in everything but RAM, and in RAM: 'full' compares all of it, an address list only those
   * bytes, 'none' nothing.
   */
  compare(memory: 'full' | 'none' | number[]): { diffs: Difference[]; memAddrs: number[] } {
    const a = this.jit, b = this.interp, diffs: Difference[] = [];
    if (a.error !== null || b.error !== null) diffs.push({ kind: 'error', name: 'exception', jit: a.error ?? 'none', interp: b.error ?? 'none' });
    const ea = exitText(a.exit), eb = exitText(b.exit);
    if (ea !== eb) diffs.push({ kind: 'exit', name: 'exit', jit: ea, interp: eb });
    if (a.vm.instructions !== b.vm.instructions) diffs.push({ kind: 'instructions', name: 'instructions', jit: a.vm.instructions, interp: b.vm.instructions });
    const ra = a.vm.getRegisters(), rb = b.vm.getRegisters();
    for (const r of GPRS) if (ra[r] !== rb[r]) diffs.push({ kind: 'register', name: r, jit: ra[r], interp: rb[r] });
    diffs.push(...eflagsDifferences(ra.eflags, rb.eflags));
    for (const r of SYSTEM) if (ra[r] !== rb[r]) diffs.push({ kind: 'register', name: r, jit: ra[r], interp: rb[r] });
    for (const [name, x, y] of [['com1', a.com1, b.com1], ['debugcon', a.debugcon, b.debugcon]] as const) {
      const n = Math.min(x.length, y.length);
      let i = 0;
      while (i < n && x[i] === y[i]) i++;
      if (i < n || x.length !== y.length) diffs.push({ kind: 'output', name: `${name}[${i}]`, jit: i < x.length ? x[i] : 'end', interp: i < y.length ? y[i] : 'end' });
    }
    const memAddrs: number[] = [];
    if (memory !== 'none') {
      const ma = a.vm.memory, mb = b.vm.memory;
      if (ma.ramSize !== mb.ramSize) diffs.push({ kind: 'memory', name: 'RAM size', jit: ma.ramSize, interp: mb.ramSize });
      else if (memory === 'full') memAddrs.push(...ramDifferences(a.ram, b.ram, WATCH_MAX));
      else for (const p of memory) if (ma.ram[p] !== mb.ram[p]) memAddrs.push(p);
      for (const p of memAddrs.slice(0, REPORT_MAX)) diffs.push({ kind: 'memory', name: `mem[${hex(p)}]`, jit: ma.ram[p], interp: mb.ram[p] });
    }
    return { diffs, memAddrs };
  }
}

/** What an engine threw, in one line (a non-Error value, such as a fault object that escaped, by its fields). */
function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  let fields: string;
  try { fields = JSON.stringify(e) ?? String(e); } catch { fields = String(e); }
  const name = (e as { name?: unknown })?.name;
  return `thrown ${typeof name === 'string' ? name : ((e as object)?.constructor?.name ?? typeof e)} ${fields}`;
}

function exitText(e: ExitRecord | null): string {
  if (e === null) return 'not run';
  return e.reason === 'debug-exit' ? `debug-exit status ${e.status}` : e.reason;
}

/** Guest-physical addresses (up to `max`, ascending) where two RAM images differ: page memcmp, then bytes. */
function ramDifferences(a: Uint8Array, b: Uint8Array, max: number): number[] {
  const out: number[] = [];
  const PAGE = 4096;
  // Compared a word at a time (guest RAM is page-aligned in its WebAssembly.Memory); bytes where words differ.
  const wa = new Int32Array(a.buffer, a.byteOffset, a.length >>> 2), wb = new Int32Array(b.buffer, b.byteOffset, b.length >>> 2);
  for (let p = 0; p < a.length && out.length < max; p += PAGE) {
    const e = Math.min(a.length, p + PAGE);
    let same = true;
    for (let w = p >>> 2; w < e >>> 2; w++) if (wa[w] !== wb[w]) { same = false; break; }
    for (let i = e & ~3; i < e; i++) if (a[i] !== b[i]) same = false;
    if (same) continue;
    for (let i = p; i < e && out.length < max; i++) if (a[i] !== b[i]) out.push(i);
  }
  return out;
}

const hex = (v: number, w = 8): string => `0x${(v >>> 0).toString(16).padStart(w, '0')}`;

/**
 * Run the JIT and the interpreter on the same guest in lockstep; the result names the first divergence
 * (null when none: both ended the same way with the same state, or both reached maxInstructions).
 */
export async function lockstep(opts: LockstepOptions): Promise<LockstepResult> {
  const slice = opts.slice ?? 7919;
  const every = opts.memoryEvery ?? 1;
  const max = opts.maxInstructions ?? Infinity;
  if (!Number.isInteger(slice) || slice < 1) throw new RangeError(`lockstep: slice must be a positive integer, got ${slice}`);
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`lockstep: memoryEvery must be a positive integer, got ${every}`);
  if (opts.timeout !== undefined && !(opts.timeout > 0)) throw new RangeError(`lockstep: timeout must be a positive number of seconds, got ${opts.timeout}`);
  const clock: Clock = { deadline: Infinity };
  const pair = await Pair.create(opts, clock);
  // The clock starts once the engines are ready, as run's --timeout starts at the first instruction (the
  // JIT's first setup loads binaryen, which takes seconds).
  if (opts.timeout !== undefined) clock.deadline = performance.now() + opts.timeout * 1000;
  const result = (divergence: Divergence | null, slices: number, timedOut = false): LockstepResult => {
    let jitInstructions: number | undefined;
    try { jitInstructions = pair.jit.vm.jitStats()?.instructions; } catch { /* stats unavailable */ }
    return { divergence, instructions: pair.count, slices, exit: pair.interp.exit, jitInstructions, ...(timedOut ? { timedOut } : {}) };
  };

  // The setups themselves may differ: report that before running anything.
  const initial = pair.compare('full');
  if (initial.diffs.length > 0) {
    const regs = pair.interp.vm.getRegisters();
    return result({
      instructions: 0, cs: regs.cs, eip: regs.eip, method: 'initial', first: initial.diffs[0], differences: initial.diffs,
      before: regs, jit: pair.jit.vm.getRegisters(), interp: regs, note: 'the two setups leave different states',
    }, 0);
  }

  // `spent` is the budget handed out, not the instructions retired: a slice can end having retired none (a
  // fault loop counts its deliveries against the budget), and the loop must still end at maxInstructions.
  let agreed = 0, slices = 0, spent = 0;
  for (;;) {
    const done = pair.stopped || spent >= max;
    if (!done) {
      const n = Math.min(slice, max - spent);
      try { pair.advance(n); } catch (e) {
        if (e instanceof TimedOut) return result(null, slices, true);
        throw e;
      }
      spent += n;
      slices++;
    }
    const end = done || pair.jit.stopped || pair.interp.stopped || spent >= max;
    const full = end || slices % every === 0;
    const { diffs, memAddrs } = pair.compare(full ? 'full' : 'none');
    if (diffs.length > 0) {
      try { return result(await localise(opts, clock, agreed, pair.count, diffs, memAddrs), slices); } catch (e) {
        if (!(e instanceof TimedOut)) throw e;
        const regs = pair.interp.vm.getRegisters(), note = `timed out while narrowing it down: everything agreed at ${agreed} instructions, not at ${pair.count}`;
        return result({ instructions: agreed, cs: regs.cs, eip: regs.eip, method: 'slice', first: diffs[0], differences: diffs, before: regs, jit: pair.jit.vm.getRegisters(), interp: regs, note }, slices, true);
      }
    }
    if (full) agreed = pair.count;
    if (end) return result(null, slices);
  }
}

/**
 * Fresh VMs that ran the lockstep schedule (slices of `slice` from 0) to `target` instructions, or as far
 * as they got: a slice that retires nothing (a fault loop) ends the replay rather than repeating for ever.
 */
async function replay(opts: LockstepOptions, clock: Clock, target: number): Promise<Pair> {
  const slice = opts.slice ?? 7919;
  const pair = await Pair.create(opts, clock);
  while (!pair.stopped && pair.count < target) {
    const before = pair.count;
    pair.advance(Math.min(slice, target - pair.count));
    if (pair.count === before) break;
  }
  return pair;
}

/** The instruction the interpreter executes next, by its trace line (without the register dump). */
function nextInstruction(side: Side): string | undefined {
  let line: string | undefined;
  side.advance(1, (l) => { line ??= l; }); // runs it: only for VMs thrown away afterwards
  return line?.replace(/\s+eax=.*$/, '');
}

/**
 * Narrow a divergence seen at count `seenAt` (everything agreed at `agreed`) down to one instruction.
 */
async function localise(opts: LockstepOptions, clock: Clock, agreed: number, seenAt: number, seen: Difference[], seenAddrs: number[]): Promise<Divergence> {
  const notes: string[] = [];
  // 1. Replay to the agreeing point, then single-step, watching the RAM bytes that differed.
  let watch = [...seenAddrs];
  for (let attempt = 0; attempt < 3; attempt++) {
    const pair = await replay(opts, clock, agreed);
    const start = pair.compare('full');
    if (start.diffs.length > 0) {
      notes.push(`the replay to ${agreed} already disagrees (the run is not deterministic)`);
      break;
    }
    let before = pair.interp.vm.getRegisters(), restart = false, stalled = 0;
    // A step may retire nothing (it delivers an exception); STALL_MAX of them in a row is a fault loop.
    for (let step = 1; pair.count < seenAt && !pair.stopped && stalled < STALL_MAX; step++) {
      const at = pair.count;
      let line: string | undefined;
      pair.jit.advance(1);
      pair.interp.advance(1, (l) => { line ??= l; });
      const fullCheck = step % STEP_FULL_EVERY === 0 || pair.count >= seenAt || pair.stopped;
      const c = pair.compare(watch);
      if (c.diffs.length === 0 && fullCheck) {
        const f = pair.compare('full');
        if (f.diffs.length > 0) { watch = [...new Set([...watch, ...f.memAddrs])].slice(0, WATCH_MAX * 4); restart = true; break; }
      }
      if (c.diffs.length > 0) {
        const all = pair.compare('full').diffs; // everything that differs now, RAM included
        return {
          instructions: at, cs: before.cs, eip: before.eip, instruction: line?.replace(/\s+eax=.*$/, ''), method: 'step',
          first: c.diffs[0], differences: all.length >= c.diffs.length ? all : c.diffs, before, jit: pair.jit.vm.getRegisters(), interp: pair.interp.vm.getRegisters(),
          note: notes.length ? notes.join('; ') : undefined,
        };
      }
      before = pair.interp.vm.getRegisters();
      stalled = pair.count === at ? stalled + 1 : 0;
    }
    if (!restart) { notes.push('single-stepping does not reproduce it'); break; }
  }

  // 2. Bisect over the count: fresh VMs run the original schedule to `t`; find the first t that disagrees.
  const probe = async (t: number) => { const p = await replay(opts, clock, t); return { pair: p, ...p.compare('full') }; };
  let lo = agreed, hi = seenAt;
  let bad = await probe(hi);
  if (bad.diffs.length === 0) {
    const regs = bad.pair.interp.vm.getRegisters();
    notes.push(`replaying to ${seenAt} agrees: the divergence is not reproducible`);
    return {
      instructions: agreed, cs: regs.cs, eip: regs.eip, method: 'slice', first: seen[0], differences: seen,
      before: regs, jit: regs, interp: regs, note: notes.join('; '),
    };
  }
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const p = await probe(mid);
    if (p.diffs.length > 0) { hi = mid; bad = p; } else lo = mid;
  }
  const good = await replay(opts, clock, lo);
  const before = good.interp.vm.getRegisters();
  notes.push(`found by bisection: running the schedule to ${lo} agrees, to ${hi} disagrees`);
  return {
    instructions: lo, cs: before.cs, eip: before.eip, instruction: nextInstruction(good.interp), method: 'bisect',
    first: bad.diffs[0], differences: bad.diffs, before, jit: bad.pair.jit.vm.getRegisters(), interp: bad.pair.interp.vm.getRegisters(),
    note: notes.join('; '),
  };
}

const show = (v: number | string, kind?: DifferenceKind): string =>
  typeof v === 'string' ? v : kind === 'flag' || kind === 'instructions' ? String(v) : hex(v, v > 0xffff ? 8 : v > 0xff ? 4 : 2);

/** A divergence as a few lines for humans. */
export function formatDivergence(d: Divergence): string {
  const f = d.first;
  const lines = [
    `divergence after ${d.instructions} instructions at ${d.cs.toString(16).padStart(4, '0')}:${d.eip.toString(16).padStart(8, '0')}` +
      `${d.instruction ? `  ${d.instruction.replace(/^\S+\s+/, '')}` : ''} (found by ${d.method})`,
    `first: ${f.kind} ${f.name}: jit ${show(f.jit, f.kind)}, interp ${show(f.interp, f.kind)}`,
  ];
  if (d.differences.length > 1) lines.push(`all: ${d.differences.map((x) => `${x.name} jit=${show(x.jit, x.kind)} interp=${show(x.interp, x.kind)}`).join(', ')}`);
  const regs = (r: Registers) => ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags'].map((n) => `${n}=${hex(r[n as keyof Registers])}`).join(' ');
  lines.push(`before: ${regs(d.before)}`, `jit:    ${regs(d.jit)}`, `interp: ${regs(d.interp)}`);
  if (d.note) lines.push(`note: ${d.note}`);
  return lines.join('\n');
}
