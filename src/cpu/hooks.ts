// Embedder hooks (Unicorn's uc_hook_add): the callbacks the vCPU calls on instructions, blocks, memory
// accesses, port I/O, interrupts and hypercalls. The CPU holds them in one nullable field (cpu.hooks) that
// every site tests first, so a VM without hooks pays a null test on cold paths only. Instruction-level
// hooks (code, block, mem-fetch) make the run loop step one instruction at a time through the pages their
// ranges touch — those pages only: the rest runs as before, compiled code included. Memory read/write
// hooks: reads take the slow path everywhere (cpu.fastRamEnd = 0; the VM pauses the JIT), stores only on the
// pages written hooks cover (marked in the page flags and code map, which every store path tests already).
import { metaOf } from './instruction-meta.ts';
import type { CachedInstruction } from './code-cache.ts';
import { PAGE_SHIFT } from './state.ts';

export type HookKind = 'code' | 'block' | 'mem-read' | 'mem-write' | 'mem-fetch' | 'mem-unmapped' | 'mem-prot' | 'interrupt' | 'invalid' | 'in' | 'out' | 'hypercall';
export const HOOK_KINDS: readonly HookKind[] = ['code', 'block', 'mem-read', 'mem-write', 'mem-fetch', 'mem-unmapped', 'mem-prot', 'interrupt', 'invalid', 'in', 'out', 'hypercall'];

/** What each kind's callback receives and may return (see README "Hooks"). */
export interface HookCallbacks {
  /** Before the instruction at linear `address` (`size` bytes) executes. */
  code: (address: number, size: number) => void;
  /** Before the first instruction of a basic block (after a control transfer, at a run's start). `size`: that instruction's length. */
  block: (address: number, size: number) => void;
  /** After a data read at linear `address`, with the value read. */
  'mem-read': (address: number, size: number, value: number) => void;
  /** Before a data write at linear `address` of `value`. */
  'mem-write': (address: number, size: number, value: number) => void;
  /** Before the instruction at linear `address` is fetched for execution. */
  'mem-fetch': (address: number, size: number) => void;
  /** An access to a physical address nothing is mapped at. True: the hook mapped it, retry the access; else reads give all-ones, writes drop. */
  'mem-unmapped': (address: number, size: number, write: boolean, value: number) => boolean | void;
  /** A write to ROM at physical `address` (dropped). */
  'mem-prot': (address: number, size: number, value: number) => void;
  /**
   * A software interrupt (INT n, INT3, INTO), an exception, or an external interrupt the interrupt controllers deliver
   * (`external`), before the IDT. True: handled, nothing is delivered (an external one is then dropped).
   */
  interrupt: (vector: number, info: { software: boolean; external: boolean; errorCode: number; eip: number }) => boolean | void;
  /** #UD at `address`. True: handled (the hook moved EIP on, or stopped the VM); else #UD is delivered. */
  invalid: (address: number) => boolean | void;
  /** IN from `port`: a number answers it (the devices are not asked); undefined lets the devices answer. */
  in: (port: number, size: number) => number | void;
  /** OUT to `port`. True: handled (the devices do not see it). */
  out: (port: number, size: number, value: number) => boolean | void;
  /** VMCALL with number `nr` (EAX), before the built-in hypercalls. True: handled (the hook set EAX). */
  hypercall: (nr: number) => boolean | void;
}

/** An installed hook: its kind, range (linear or physical address, or port; inclusive) and callback. */
export interface Hook<K extends HookKind = HookKind> {
  readonly kind: K;
  readonly begin: number;
  readonly end: number;
  readonly fn: HookCallbacks[K];
}

const inRange = (h: Hook, a: number, size = 1): boolean => a + size - 1 >= h.begin && a <= h.end;

export class CpuHooks {
  /** The hooks of each kind, in installation order (a fixed array per kind: no lookup or allocation per call). */
  private readonly byKind = new Map<HookKind, Hook[]>(HOOK_KINDS.map((k) => [k, []]));
  private readonly code: Hook<'code'>[] = this.list('code');
  private readonly block: Hook<'block'>[] = this.list('block');
  private readonly fetch: Hook<'mem-fetch'>[] = this.list('mem-fetch');
  /** Code, block or fetch hooks are installed: the run loop steps through the pages of their ranges. */
  stepping = false;
  /** mem-read hooks are installed: every data read takes the slow path (cpu.fastRamEnd = 0). */
  reads = false;
  /**
   * mem-write hooks are installed: stores to the pages their ranges cover take the slow path (the RAM pages
   * are marked as the dirty log marks them: memory.ts's watchWrites), stores elsewhere run as before.
   */
  writes = false;
  /** in or out hooks are installed. */
  ports = false;
  /** The next stepped instruction starts a basic block (a control transfer, an exception or a run's start came before it). */
  blockStart = true;
  /** Linear pages that mem-write hooks cover, as [first, last] pairs. */
  writePages: number[] = [];
  /** Does a mem-write hook cover linear page `vpn`? (The page walker then marks its physical page.) */
  watchesWrites(vpn: number): boolean {
    const p = this.writePages;
    for (let i = 0; i < p.length; i += 2) if (vpn >= p[i] && vpn <= p[i + 1]) return true;
    return false;
  }
  /** Linear pages (4 KiB numbers) that instruction-level hooks touch, as [first, last] pairs. */
  private steppedPages: number[] = [];

  add(h: Hook): void {
    this.byKind.get(h.kind)!.push(h);
    this.refresh();
  }

  remove(h: Hook): boolean {
    const list = this.byKind.get(h.kind);
    const i = list?.indexOf(h) ?? -1;
    if (i < 0) return false;
    list!.splice(i, 1);
    this.refresh();
    return true;
  }

  get empty(): boolean { for (const l of this.byKind.values()) if (l.length > 0) return false; return true; }

  has(kind: HookKind): boolean { return (this.byKind.get(kind)?.length ?? 0) > 0; }

  private refresh(): void {
    const stepped = [...this.list('code'), ...this.list('block'), ...this.list('mem-fetch')];
    this.stepping = stepped.length > 0;
    this.steppedPages = stepped.flatMap((h) => [h.begin >>> PAGE_SHIFT, h.end >>> PAGE_SHIFT]);
    this.reads = this.has('mem-read');
    this.writes = this.has('mem-write');
    this.writePages = this.list('mem-write').flatMap((h) => [h.begin >>> PAGE_SHIFT, h.end >>> PAGE_SHIFT]);
    this.ports = this.has('in') || this.has('out');
  }

  private list<K extends HookKind>(kind: K): Hook<K>[] { return this.byKind.get(kind) as Hook<K>[]; }

  /** Does linear [start, end) touch a page an instruction-level hook watches? (Such code is stepped, never compiled.) */
  steps(start: number, end: number): boolean {
    const p = this.steppedPages, first = start >>> PAGE_SHIFT, last = ((end - 1) >>> 0) >>> PAGE_SHIFT;
    for (let i = 0; i < p.length; i += 2) if (last >= p[i] && first <= p[i + 1]) return true;
    return false;
  }

  /** Before a stepped instruction at linear `lin`: block, code and fetch hooks, in that order. */
  beforeInstruction(lin: number, op: CachedInstruction): void {
    const size = op.ins.length;
    if (this.blockStart && this.block.length > 0) for (const h of this.block) if (inRange(h, lin)) h.fn(lin, size);
    for (let i = 0; i < this.code.length; i++) { const h = this.code[i]; if (lin >= h.begin && lin <= h.end) h.fn(lin, size); }
    if (this.fetch.length > 0) for (const h of this.fetch) if (inRange(h, lin, size)) h.fn(lin, size);
  }

  /** After a stepped instruction: does the next one start a basic block? */
  afterInstruction(op: CachedInstruction, eip: number): void {
    if (this.block.length === 0) return; // only block hooks need to know
    const m = metaOf(op.ins);
    this.blockStart = m.endsBlock || m.branch !== 'none' || eip !== op.next;
  }

  read(lin: number, size: number, value: number): void {
    for (const h of this.list('mem-read')) if (inRange(h, lin >>> 0, size)) h.fn(lin >>> 0, size, size === 4 ? value >>> 0 : value);
  }

  write(lin: number, size: number, value: number): void {
    const v = size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
    for (const h of this.list('mem-write')) if (inRange(h, lin >>> 0, size)) h.fn(lin >>> 0, size, v);
  }

  unmapped(phys: number, size: number, write: boolean, value: number): boolean {
    let mapped = false;
    for (const h of this.list('mem-unmapped')) if (inRange(h, phys, size) && h.fn(phys, size, write, value) === true) mapped = true;
    return mapped;
  }

  protWrite(phys: number, size: number, value: number): void {
    for (const h of this.list('mem-prot')) if (inRange(h, phys, size)) h.fn(phys, size, value);
  }

  /** IN: the first hook's answer, or undefined (the devices answer). */
  in(port: number, size: number): number | undefined {
    for (const h of this.list('in')) if (inRange(h, port)) { const v = h.fn(port, size); if (typeof v === 'number') return v; }
    return undefined;
  }

  out(port: number, size: number, value: number): boolean {
    let handled = false;
    for (const h of this.list('out')) if (inRange(h, port) && h.fn(port, size, value) === true) handled = true;
    return handled;
  }

  interrupt(vector: number, software: boolean, errorCode: number, eip: number, external = false): boolean {
    let handled = false;
    for (const h of this.list('interrupt')) if (inRange(h, vector) && h.fn(vector, { software, external, errorCode, eip }) === true) handled = true;
    return handled;
  }

  invalid(eip: number): boolean {
    let handled = false;
    for (const h of this.list('invalid')) if (inRange(h, eip) && h.fn(eip) === true) handled = true;
    return handled;
  }

  hypercall(nr: number): boolean {
    let handled = false;
    for (const h of this.list('hypercall')) if (inRange(h, nr) && h.fn(nr) === true) handled = true;
    return handled;
  }
}
