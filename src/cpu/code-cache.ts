// Decoded-code cache: guest code is decoded once into blocks of executable closures (and compact records of
// the commonest instructions, which the run loop prefers for cold code: semantics/records.ts), keyed by the
// linear address and code size it was decoded under, and reused on every later execution. Under the JIT,
// where the interpreter runs only cold code, a block is decoded into its records alone and gets its
// instructions and closures when first asked for (decodeLazy, Block.ops). A block never
// extends past the end of its first page (plus the last instruction's tail), so blocks are filed by page.
// The cache marks where its blocks' bytes lie: PAGE_HAS_CODE in the page-flag table and, finer, the
// 64-byte chunks of the code map (state.ts's codeMapOffset), exact at all times. A write into a marked
// chunk drops every block whose bytes it overlaps, and ends the block that is running after the writing
// instruction; a write into an unmarked chunk cannot change any decoded instruction, so it goes straight
// to RAM (the interpreter's stores test the page flag, then the chunks; compiled code tests the chunks).
// The cache owns bit 0 of the page flags and of the code map only: bit 1 is the dirty log's
// (src/machine/dirty-log.ts), set in pages armed for it, and is never touched here.
import { decode } from '../decoder/decode.ts';
import { formatIntel } from '../decoder/format-intel.ts';
import type { Instruction } from '../decoder/instruction.ts';
import { CS } from '../decoder/instruction.ts';
import { CODE_CHUNK_HAS_CODE, PAGE_HAS_CODE } from '../machine/memory.ts';
import { BREAK_CODE_WRITE, type Cpu } from './cpu.ts';
import { CpuFault, fault, GP, UD } from './fault.ts';
import type { Exec } from './operands.ts';
import { endsBlock } from './instruction-meta.ts';
import type { Emitter } from './semantics/emitter.ts';
import { emitterFor, placeFree } from './semantics/index.ts';
import { placeRecord, R_CLOSURE, R_JCC, RECORD_NEXT, RECORD_WORDS, recordTemplate, writerKeyOf } from './semantics/records.ts';
import { CODE_CHUNK_SHIFT, CODE32, PAGE_SHIFT, PAGE_SIZE, SEG_BASE, SEG_LIMIT, SEG_SEL, segSlot } from './state.ts';

/**
 * One decoded instruction ready to run. Its closure (`exec`) is made when first asked for where opsOf made it:
 * the JIT, which asks for most of those, translates from `ins`, `eip` and `next` alone (making every closure
 * was ~40 % of opsOf's time in a Linux boot).
 */
export class CachedInstruction {
  constructor(
    readonly ins: Instruction,
    /** Offset in CS of the instruction and of the one after it. */
    readonly eip: number,
    readonly next: number,
    private made: Exec | null,
    /** Where `made` is null: the cache that makes the closure, and the instruction's index and predecessor in its block. */
    private readonly maker: CodeCache | null = null,
    private readonly index = 0,
    private readonly prev: Instruction | undefined = undefined,
  ) {}

  get exec(): Exec { return this.made ?? (this.made = this.maker!.execFor(emitterFor(this.ins), this.ins, this.eip, this.next, this.index, this.prev)); }
}

/**
 * A decoded block. Its instructions (`ops`, `execs`) are made when first asked for: under the JIT, cold code
 * runs from its records alone (most blocks never run often enough to need more), so decodeLazy writes only
 * those, and opsOf decodes the block again when the hot loop, the JIT or a debugger wants its instructions.
 */
export class Block {
  /** Times the block was entered (for profiling and, later, JIT hotness). */
  hits = 0;
  /**
   * [JIT] Decoded where a run merely resumed inside code (the interpreter's budget ended in the middle of a
   * block, or compiled code left before an access it leaves to the interpreter), and not reached by any
   * control transfer or fall-through since: the JIT neither translates it nor gives it an entry
   * (jit.ts discover). The run loop sets it (interpreter.ts).
   */
  resumed = false;
  /** False once a code write dropped the block: links to it must not be followed. */
  valid = true;
  /** cpu.mappingEpoch when the links were made: links made under other page mappings are ignored. */
  linkEpoch = -1;
  /**
   * Direct links to the last two successor blocks, by the EIP they start at (QEMU's goto_tb chaining):
   * the run loop follows them without a cache lookup when the block ended without a CS change.
   */
  linkEip0 = -1; link0: Block | null = null;
  linkEip1 = -1; link1: Block | null = null;
  /**
   * [JIT] engine 'jit' only (jit/jit.ts): the block's WASM function once compiled, null when it cannot
   * be, undefined until it is hot. Present (undefined) from creation so that setting it does not change
   * the object's shape: the run loop's property accesses stay monomorphic.
   */
  compiled: CompiledRegion | null | undefined = undefined;
  private execList: Exec[] | null = null;

  constructor(
    private readonly source: CodeCache,
    /** Linear address of the first byte, and one past the last. */
    readonly start: number,
    readonly end: number,
    /** Physical address of the first byte, and one past the last in its page (the key, and what code writes are matched against). */
    readonly phys: number,
    readonly physEnd: number,
    /**
     * A block whose one instruction straddles two pages under paging: the physical frame of its second
     * page, and one past its last byte there; -1, -1 for every other block. Its lookup checks that the second
     * page still maps there (the TB's second page in QEMU), and code writes are matched against both ranges.
     */
    readonly phys2: number,
    readonly phys2End: number,
    readonly csBase: number,
    readonly csLimit: number,
    readonly code32: number,
    /** False for blocks that are decoded for one execution only (a fetch fault, an instruction straddling into a page that is not RAM). */
    readonly cacheable: boolean,
    /** Its instructions. */
    readonly count: number,
    /**
     * Where the block's records start in its cache's arena (CodeCache.arena): a header record whose first word
     * is the instruction count, then a record per instruction (semantics/records.ts), what the run loop executes.
     * (CodeCache.compactArena moves them.)
     */
    public code: number,
    /** The instructions, when decoded with the block (else null until asked for). */
    private opsList: CachedInstruction[] | null,
  ) {}

  /** The decoded instructions (decoding them again from RAM the first time, for a block decoded lazily). */
  get ops(): CachedInstruction[] { return this.opsList ?? (this.opsList = this.source.opsOf(this)); }
  /** ops[i].exec, in a plain array for the run loop. */
  get execs(): Exec[] { return this.execList ?? (this.execList = this.ops.map((o) => o.exec)); }
  /**
   * Does it begin with an instruction without semantics (#UD, or a fetch fault)? Without decoding it: a block
   * decoded lazily never does (decodeLazy leaves those to decodeBlock).
   */
  get startsInvalid(): boolean { return this.opsList !== null && this.opsList.length > 0 && this.opsList[0].ins.op === 'INVALID'; }
}

/** [JIT] What a block's `compiled` field holds: the translated region (jit/jit.ts's Region) covering it. */
export interface CompiledRegion { readonly valid: boolean }

/** Longest block, in instructions (a block also ends at a page boundary or a control transfer). */
export const MAX_BLOCK_INSTRUCTIONS = 128;
/** Slots of the table of short encodings (CodeCache.intern): ~6 MB of Instructions at most. */
const INTERN_SLOTS = 1 << 15;
/** Slots of the table of instructions by physical address (CodeCache.decodedAt), and an address's slot and key (0: empty). */
const ADDR_SLOTS = 1 << 16;
const addrSlot = (pa: number): number => (pa ^ (pa >>> 14)) & (ADDR_SLOTS - 1);
/**
 * A slot of that table (CodeCache.addr), 16 words, so that looking an address up and remembering what was
 * decoded there touch one cache line, not one per array (a boot's fresh decodes are memory-bound): its
 * physical address, its code size + 1 (0: empty), its template (4 words), its bytes (16).
 * [JIT] The template is the position-free part of the instruction's record (records.ts recordTemplate: kind,
 * two words) and its length, flags and writer key (T_ENDS_BLOCK …): what decodeLazy builds a block from
 * without reading the Instruction. The objects of a boot's 400 k decoded instructions are scattered over the
 * heap, and reading them, their operands and their closures' map cost a cache miss each.
 */
const ADDR_WORDS = 16, A_PA = 0, A_MODE = 1, A_TEMPLATE = 2, A_BYTES = 6;
/**
 * Decoded instructions the cache holds before it is emptied but for the blocks of live JIT regions
 * (evict(); ~0.37-0.5 KB of heap each by bench/decode-memory.mjs, 0.5 when no encoding repeats: ~260 MB
 * live at most): a guest that keeps running fresh code runs in bounded memory, at a steady speed. 2^17
 * was filled 17 times by a Linux boot under the JIT; 2^18 twice, and 2^19 never (48.5 k blocks decoded
 * instead of 60.4 k): 10.56-12.04 s instead of 11.07-12.25 s for the boot, 3 pairs (README, "Booting Linux").
 */
export const DEFAULT_CODE_CACHE_INSTRUCTIONS = 1 << 19;
const FRONT_SIZE = 4096;
/** Words of a new cache's record arena (1 MB; it grows by doubling). */
const ARENA_START = 1 << 18;
/** Code-map bytes of a page as 32-bit words (64 chunks of 64 bytes). */
const CODE_WORDS_PER_PAGE = PAGE_SIZE >>> (CODE_CHUNK_SHIFT + 2);
/**
 * The fourth word of an instruction's template (CodeCache.addr's A_TEMPLATE): its length in bits 0-7, these flags
 * in bits 8-15, and its writer key (records.ts writerKeyOf) from bit 16.
 */
const T_ENDS_BLOCK = 1 << 8, T_NO_EMITTER = 1 << 9;
/** Scratch for a template made on the spot (CodeCache.records). */
const scratchTemplate = new Int32Array(4);

export class CodeCache {
  private readonly blocks32 = new Map<number, Block>();
  private readonly blocks16 = new Map<number, Block>();
  /** Blocks whose bytes touch each RAM page. */
  private readonly pageBlocks = new Map<number, Set<Block>>();
  private readonly front: (Block | undefined)[] = new Array(FRONT_SIZE).fill(undefined);
  /** Counters (profiling, `--stats`): blocks decoded, dropped by code writes, and times the cache was emptied because it was full. */
  decoded = 0;
  invalidated = 0;
  flushes = 0;
  /** Instructions in the cached blocks, and the most it may hold before the run loop empties it (see `full`). */
  private instructionCount = 0;
  limit = DEFAULT_CODE_CACHE_INSTRUCTIONS;
  /**
   * [JIT] Told when a block is dropped (its bytes changed, or it was replaced), when everything is flushed,
   * and around evict(): first that the cache is full (drop compiled code until the blocks it runs hold at
   * most `budget` instructions), then that the blocks no compiled code runs were dropped.
   */
  onDrop: ((b: Block, byHost: boolean) => void) | null = null;
  onFlush: (() => void) | null = null;
  onFull: ((budget: number) => void) | null = null;
  onEvict: (() => void) | null = null;

  /** What fetchByte reads: the instruction being decoded, at fetchEip in a CS of this base and limit. */
  private fetchEip = 0;
  private fetchCsBase = 0;
  private fetchCsLimit = 0;
  private fetchIpMask = 0;
  /** The bytes fetchByte returned for the instruction being decoded (its encoding, the key of `decodedByBytes`). */
  private readonly fetched = new Uint8Array(16);
  /** The decoder's byte source, one for all instructions (a closure per instruction was ~100 bytes of garbage each). */
  private readonly fetchByte = (i: number): number => {
    const o = (this.fetchEip + i) & this.fetchIpMask;
    if ((o >>> 0) > (this.fetchCsLimit >>> 0)) throw fault(GP, 0);
    return (this.fetched[i] = this.cpu.fetch8((this.fetchCsBase + o) | 0));
  };
  /**
   * One Instruction per encoding (and code size) among the cached blocks: an Instruction depends on its bytes
   * only (relative targets stay displacements) and is never mutated, and most code repeats a few thousand
   * encodings (push ebp, mov ebp,esp, ret …: 1,760 distinct of the first 11,332 a kernel boot caches), so
   * the cached blocks share them rather than each keep its own (~180 bytes with its operands).
   *
   * Encodings of up to 6 bytes (most) go in a direct-mapped table keyed by a number that holds them exactly
   * (a collision replaces the entry: a lost share, never a wrong instruction). A Map with those numbers as
   * keys cost ~260 ns a lookup, 0.4 s of a Linux boot's 1.5 M decoded instructions. Being bounded by its
   * size, the table outlives evictions and flushes, after which the same code is decoded again.
   */
  private readonly internKeys = new Float64Array(INTERN_SLOTS);
  private readonly internValues: (Instruction | undefined)[] = new Array(INTERN_SLOTS).fill(undefined);
  /**
   * [JIT] And each one's template once made (as the address table's; a fourth word of 0: not yet), so that the same
   * encoding decoded at another address takes it instead of making it again from the Instruction and its
   * operands (80 % of a Linux boot's fresh decodes: ~0.7 µs each, cache misses mostly).
   */
  private readonly internTemplates = new Int32Array(INTERN_SLOTS * 4);
  /** The table slot of the instruction intern() last returned, or -1 (a longer encoding). */
  private internSlot = -1;
  /** Longer encodings, by a string of their bytes; emptied with the cache, and when it holds `limit`. */
  private readonly decodedByBytes = new Map<string, Instruction>();

  private intern(ins: Instruction, code32: number): Instruction {
    const b = this.fetched, n = ins.length;
    if (n <= 6) {
      let k = n * 2 + code32, h = k;
      for (let i = 0; i < n; i++) { k = k * 256 + b[i]; h = Math.imul(h ^ b[i], 0x01000193); }
      const slot = (h ^ (h >>> 16)) & (INTERN_SLOTS - 1);
      this.internSlot = slot;
      if (this.internKeys[slot] === k) return this.internValues[slot]!;
      this.internKeys[slot] = k;
      this.internValues[slot] = ins;
      this.internTemplates[slot * 4 + 3] = 0;
      return ins;
    }
    this.internSlot = -1;
    let key = String.fromCharCode(code32 << 8 | n);
    for (let i = 0; i < n; i += 2) key += String.fromCharCode(b[i] | (i + 1 < n ? b[i + 1] << 8 : 0));
    const known = this.decodedByBytes.get(key);
    if (known !== undefined) return known;
    // Bounded: code rewritten in place (a patched immediate, a guest's own JIT) drops its blocks without
    // ever filling the cache, so the map is not always emptied with it.
    if (this.decodedByBytes.size >= this.limit) this.decodedByBytes.clear();
    this.decodedByBytes.set(key, ins);
    return ins;
  }

  /**
   * The instruction last decoded at each physical address (direct-mapped by address, with its bytes): a
   * block decoded again — after an eviction, or starting elsewhere in the same code — takes it after a
   * comparison of its bytes in RAM instead of decoding them. Bytes that changed since (a code write, a
   * loader, a restore) do not compare equal and are decoded. Used only where decoding would read those
   * same bytes from RAM without a fault or a side effect: within one page, inside the CS limit, in plain
   * RAM with no memory hooks. A Linux boot decodes 186 k blocks, ~120 k distinct.
   */
  private readonly addr = new Int32Array(ADDR_SLOTS * ADDR_WORDS);
  /** The slots' bytes (A_BYTES), by byte. */
  private readonly addrBytes = new Uint8Array(this.addr.buffer);
  /** Each slot's Instruction. */
  private readonly addrIns: (Instruction | undefined)[] = new Array(ADDR_SLOTS).fill(undefined);
  /**
   * [JIT] Blocks of 32-bit code in plain RAM are decoded lazily (decodeLazy): set while the interpreter runs
   * cold code from records (under the JIT). Without it every block gets its instructions at once.
   */
  lazyOps = false;
  /**
   * The closure of each decoded instruction whose emitter is place-free (semantics/emitter.ts), by the
   * instruction (interned: the same bytes give the same object, intern and decodedAt). ~80 % of a Linux
   * boot's decodes are of an instruction decoded before; a closure each was garbage that outlived its
   * first collection (the boot's GC pauses: 688-719 ms with a closure per decode, 428-501 ms with these).
   */
  private readonly execOf = new WeakMap<Instruction, Exec>();

  /**
   * What the run loop executes: each cached block's instruction count, then its records (semantics/
   * records.ts), in a run of the arena — a bump allocator, grown when full, emptied with the cache and
   * compacted to the kept blocks' records when it is evicted. Dropped blocks' records stay until then: `full`
   * counts them (code rewritten again and again drops its blocks without filling the cache). An instruction
   * without a compact form has its closure in `closures`, at the index its record holds (R_CLOSURE's second
   * word): the run loop reads no per-block array.
   */
  arena = new Int32Array(ARENA_START);
  private arenaTop = 0;
  /**
   * The closures of the records without a compact form, in the order they were written (a record holds its
   * closure's index): a packed array that grows by push. (A slot per record, as long as the arena, cost
   * ~27 ms at each of the arena's doublings: V8 makes arrays that long in its slow dictionary form first.)
   */
  closures: Exec[] = [];

  /** Write the count and records of `ops` into the arena (a header record, then one each); returns where they start. */
  private records(ops: CachedInstruction[]): number {
    const n = (1 + ops.length) * RECORD_WORDS;
    if (this.arenaTop + n > this.arena.length) this.growArena(n);
    const a = this.arena, at = this.arenaTop, closures = this.closures, t = scratchTemplate;
    a[at] = ops.length;
    for (let i = 0, j = at + RECORD_WORDS; i < ops.length; i++, j += RECORD_WORDS) {
      const op = ops[i];
      const kind = recordTemplate(op.ins, t, 0);
      if (kind === R_CLOSURE) { a[j] = R_CLOSURE; a[j + 1] = closures.push(op.exec) - 1; a[j + RECORD_NEXT] = op.next; }
      else placeRecord(t, 0, op.next, kind === R_JCC && i > 0 ? writerKeyOf(ops[i - 1].ins) : 0, a, j);
    }
    this.arenaTop = at + n;
    return at;
  }

  /** Room for `n` more words in the arena: it doubles. */
  private growArena(n: number): void {
    const grown = new Int32Array(Math.max(this.arena.length * 2, this.arenaTop + n));
    grown.set(this.arena.subarray(0, this.arenaTop));
    this.arena = grown;
  }

  private decodedAt(pa: number, at: number, code32: number, csLimit: number): Instruction | undefined {
    const slot = addrSlot(pa), o = slot * ADDR_WORDS;
    if (this.addr[o + A_PA] !== (pa | 0) || this.addr[o + A_MODE] !== code32 + 1) return undefined;
    const ins = this.addrIns[slot]!, n = ins.length, cpu = this.cpu;
    const last = (at >>> 0) + n - 1; // the offset of its last byte in CS: no wrap, within the limit
    if ((pa & (PAGE_SIZE - 1)) + n > PAGE_SIZE || pa + n > cpu.fastRamEnd || cpu.hooks !== null ||
      last > (code32 ? 0xffffffff : 0xffff) || last > (csLimit >>> 0)) return undefined;
    const ram = cpu.mem.ram, bytes = this.addrBytes, b = 4 * (o + A_BYTES);
    for (let i = 0; i < n; i++) if (ram[pa + i] !== bytes[b + i]) return undefined;
    return ins;
  }

  /** Remember `ins`, just decoded at `pa` (its bytes in `fetched`), with its template; false if it cannot be (it straddles a page). */
  private rememberAt(pa: number, code32: number, ins: Instruction): boolean {
    const n = ins.length;
    if (n === 0 || n > 16 || (pa & (PAGE_SIZE - 1)) + n > PAGE_SIZE) return false;
    const slot = addrSlot(pa), o = slot * ADDR_WORDS, t = this.addr, w = o + A_TEMPLATE;
    t[o + A_PA] = pa;
    t[o + A_MODE] = code32 + 1;
    this.addrIns[slot] = ins;
    // (A loop, not set(subarray()): that made a view object per decoded instruction, 40 MB of a boot's garbage.)
    const bytes = this.addrBytes, fetched = this.fetched, b = 4 * (o + A_BYTES);
    for (let i = 0; i < n; i++) bytes[b + i] = fetched[i];
    // (Its template only for the lazy decode, which alone reads it: else a length of 0 marks it absent.)
    if (!this.lazyOps) { t[w + 3] = 0; return true; }
    // `ins` came from intern() just now: its encoding's template if made before.
    const it = this.internTemplates, iw = this.internSlot * 4;
    if (iw >= 0 && it[iw + 3] !== 0) {
      t[w] = it[iw]; t[w + 1] = it[iw + 1]; t[w + 2] = it[iw + 2]; t[w + 3] = it[iw + 3];
      return true;
    }
    if (recordTemplate(ins, t, w) === R_CLOSURE) t[w] = R_CLOSURE;
    t[w + 3] = n | (endsBlock(ins) ? T_ENDS_BLOCK : 0) | (emitterFor(ins) === undefined ? T_NO_EMITTER : 0) | (writerKeyOf(ins) << 16);
    if (iw >= 0) { it[iw] = t[w]; it[iw + 1] = t[w + 1]; it[iw + 2] = t[w + 2]; it[iw + 3] = t[w + 3]; }
    return true;
  }

  /**
   * The closure of `ins` (emitter `emit`), at `at` in CS and followed by `next`, the `index`th of its block after
   * `prev`. (The same instruction decoded again — another block over the same bytes, a block decoded anew after
   * a code write or at another start — reuses its closure when its emitter is place-free: 80 % of a Linux
   * boot's decodes.)
   */
  execFor(emit: Emitter | undefined, ins: Instruction, at: number, next: number, index: number, prev: Instruction | undefined): Exec {
    const cpu = this.cpu;
    if (emit === undefined) return ins.overlong ? () => { throw fault(GP, 0); } : () => { throw fault(UD); };
    if (!placeFree(emit)) return emit({ cpu, ins, eip: at, next, index, prev });
    let e = this.execOf.get(ins);
    if (e === undefined) this.execOf.set(ins, (e = emit({ cpu, ins, eip: at, next, index })));
    return e;
  }

  constructor(private readonly cpu: Cpu) {
    cpu.mem.onCodeWrite = (phys, size, byHost) => this.invalidate(phys, size, byHost);
  }

  /** The block starting at the current CS:EIP, decoding it on first use. */
  lookup(): Block {
    const cpu = this.cpu, s = cpu.s;
    const csBase = s[segSlot(CS, SEG_BASE)], eip = s[8], code32 = s[CODE32], csLimit = s[segSlot(CS, SEG_LIMIT)];
    const start = (csBase + eip) | 0;
    let phys: number;
    if (cpu.paging) {
      try { phys = cpu.fetchPhys(start); } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        return this.faultBlock(e, start, eip, csBase, csLimit, code32);
      }
    } else phys = start >>> 0;
    // A direct-mapped front cache spares most lookups the Map's hashing. Blocks are keyed by the physical
    // address of their first byte and must also match the linear address and CS they were decoded under.
    const slot = (phys ^ (phys >>> 11)) & (FRONT_SIZE - 1);
    const f = this.front[slot];
    if (f !== undefined && f.phys === phys && f.start === start && f.valid && f.code32 === code32 && f.csBase === csBase && f.csLimit === csLimit &&
      (f.phys2 < 0 || this.secondPageHolds(f))) return f;
    const map = code32 ? this.blocks32 : this.blocks16;
    let b = map.get(phys);
    if (b === undefined || b.start !== start || b.csBase !== csBase || b.csLimit !== csLimit || (b.phys2 >= 0 && !this.secondPageHolds(b))) {
      const stale = b;
      b = this.decodeBlock(csBase, eip, phys);
      if (!b.cacheable) return b;
      if (stale !== undefined) { this.drop(stale, false); this.remark([stale]); } // same physical code decoded under another CS/EIP
      map.set(phys, b);
    }
    this.front[slot] = b;
    return b;
  }

  /**
   * Does the second page of straddling block `b` still map to the frame it was decoded from? (A fetch fault
   * there answers no: decoding again makes the block that raises it.)
   */
  private secondPageHolds(b: Block): boolean {
    const cpu = this.cpu, second = (b.start | 0xfff) + 1;
    if (!cpu.paging) return (second >>> 0) === b.phys2;
    try { return cpu.fetchPhys(second) === b.phys2; } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      return false;
    }
  }

  /** An uncached one-instruction block whose execution raises the fetch fault (the EIP is right). */
  private faultBlock(e: CpuFault, start: number, eip: number, csBase: number, csLimit: number, code32: number): Block {
    const ops = [new CachedInstruction(FETCH_FAULT, eip, eip, () => { throw e; })];
    return new Block(this, start, start, -1, -1, -1, -1, csBase, csLimit, code32, false, 1, this.records(ops), ops);
  }

  private decodeBlock(csBase: number, eip: number, phys: number): Block {
    const cpu = this.cpu, s = cpu.s;
    const code32 = s[CODE32], bits = code32 ? 32 : 16;
    const ipMask = code32 ? -1 : 0xffff;
    const csLimit = s[segSlot(CS, SEG_LIMIT)];
    if (this.lazyOps && code32 && cpu.hooks === null && cpu.log === null) {
      const lazy = this.decodeLazy(csBase, eip, phys, csLimit);
      if (lazy !== null) return lazy;
    }
    const start = (csBase + eip) | 0;
    const firstPage = (start >>> 0) >>> PAGE_SHIFT;
    const ops: CachedInstruction[] = [];
    let off = eip, end = start, cacheable = true, phys2 = -1;
    for (;;) {
      let ins: Instruction | undefined;
      const at = off;
      // (Every instruction of the loop starts in the block's first page: its physical address is this.)
      const pa = phys + ((((csBase + at) | 0) - start) >>> 0);
      try {
        ins = this.decodedAt(pa, at, code32, csLimit);
        if (ins === undefined) {
          this.fetchEip = at; this.fetchCsBase = csBase; this.fetchCsLimit = csLimit; this.fetchIpMask = ipMask;
          ins = this.intern(decode(this.fetchByte, bits), code32);
          this.rememberAt(pa, code32, ins);
        }
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        // The fetch faults only if execution gets here: the block ends with an instruction that raises it.
        if (ops.length === 0) { ops.push(new CachedInstruction(FETCH_FAULT, at, at, () => { throw e; })); cacheable = false; }
        break;
      }
      const lin = (csBase + at) | 0;
      if (cpu.paging && (lin & 0xfff) + ins.length > PAGE_SIZE) {
        // Straddles into a page whose physical frame is unrelated: alone in a block that remembers that frame
        // (a hot loop of a Linux boot has one: 585 k decodes of it when such blocks were never cached), or
        // not at all. Uncached as before where either page is not RAM (whose writes the cache tracks).
        if (ops.length > 0) break;
        phys2 = cpu.fetchPhys((lin | 0xfff) + 1); // mapped: the decoder just fetched from it
        if (phys2 + PAGE_SIZE > cpu.ramSize || pa + PAGE_SIZE - (lin & 0xfff) > cpu.ramSize) { cacheable = false; phys2 = -1; }
      }
      const next = (at + ins.length) & ipMask;
      const emit = emitterFor(ins);
      ops.push(new CachedInstruction(ins, at, next, this.execFor(emit, ins, at, next, ops.length, ops.length > 0 ? ops[ops.length - 1].ins : undefined)));
      end = (lin + ins.length) | 0;
      off = next;
      if (!cacheable || !emit || endsBlock(ins) || ops.length >= MAX_BLOCK_INSTRUCTIONS || (((csBase + off) >>> 0) >>> PAGE_SHIFT) !== firstPage) break;
    }
    // A straddler's bytes in its first page end with the page; the rest are at phys2.
    const physEnd = phys2 >= 0 ? (phys | 0xfff) + 1 : phys + ((end - start) >>> 0);
    const phys2End = phys2 >= 0 ? phys2 + ((end - start) >>> 0) - (physEnd - phys) : -1;
    const block = new Block(this, start, end, phys, physEnd, phys2, phys2End, csBase, csLimit, code32, cacheable, ops.length, this.records(ops), ops);
    if (cacheable) this.track(block);
    this.decoded++;
    if (cpu.log !== null) {
      const cs = s[segSlot(CS, SEG_SEL)].toString(16).padStart(4, '0');
      cpu.log('in_asm', `IN: ${cs}:${(eip >>> 0).toString(16).padStart(8, '0')} (linear ${(start >>> 0).toString(16).padStart(8, '0')}, ${code32 ? 32 : 16}-bit)\n` +
        ops.map((o) => `  ${cs}:${(o.eip >>> 0).toString(16).padStart(8, '0')}  ${o.ins === FETCH_FAULT ? '(fetch faults)' : formatIntel(o.ins, o.eip)}`).join('\n'));
    }
    // Decoding costs tens of instructions' time each: a guest running fresh code must still let the run
    // loop read its clock often (see cpu.work).
    cpu.work += ops.length * 32;
    return block;
  }

  /**
   * [JIT] The block at CS:EIP decoded into its records only (Block.ops is made when asked for: opsOf), from the
   * templates of instructions decoded before at their physical addresses — typed arrays only, where the
   * eager decode reads each Instruction and makes or finds each closure. Only closures of instructions
   * without a record are made. Null where the block is not simple enough, for decodeBlock's loop to decode:
   * its first fetch faults, an instruction straddles a page or has no semantics, or the code is not in plain RAM.
   * It ends where decodeBlock's would.
   */
  private decodeLazy(csBase: number, eip: number, phys: number, csLimit: number): Block | null {
    const cpu = this.cpu, start = (csBase + eip) | 0, firstPage = (start >>> 0) >>> PAGE_SHIFT;
    const room = (1 + MAX_BLOCK_INSTRUCTIONS) * RECORD_WORDS;
    if (this.arenaTop + room > this.arena.length) this.growArena(room);
    const a = this.arena, top = this.arenaTop, closures = this.closures, t = this.addr;
    const bytes = this.addrBytes, ram = cpu.mem.ram, ramEnd = cpu.fastRamEnd;
    let j = top + RECORD_WORDS, count = 0, at = eip, pa = phys, prevWriter = 0, prevSlot = -1;
    for (;;) {
      const slot = addrSlot(pa), o = slot * ADDR_WORDS, w = o + A_TEMPLATE;
      let known = t[o + A_PA] === (pa | 0) && t[o + A_MODE] === 2 && (t[w + 3] & 0xff) !== 0;
      if (known) {
        for (let i = 0, n = t[w + 3] & 0xff, b = 4 * (o + A_BYTES); i < n; i++) if (ram[pa + i] !== bytes[b + i]) { known = false; break; }
      }
      if (!known) {
        let ins: Instruction;
        try {
          this.fetchEip = at; this.fetchCsBase = csBase; this.fetchCsLimit = csLimit; this.fetchIpMask = -1;
          ins = this.intern(decode(this.fetchByte, 32), 1);
        } catch (e) {
          if (!(e instanceof CpuFault)) throw e;
          if (count === 0) return null;
          break; // (as decodeBlock: the block ends before an instruction whose fetch faults)
        }
        if (!this.rememberAt(pa, 1, ins)) {
          if (count > 0 && cpu.paging) break; // (a straddler under paging starts a block of its own)
          return null;
        }
      }
      const info = t[w + 3], n = info & 0xff, last = (at >>> 0) + n - 1;
      if (last > 0xffffffff) return null; // (its offset wraps: decodeBlock's fetch follows it)
      if (last > (csLimit >>> 0)) { if (count === 0) return null; break; } // (its fetch faults: #GP)
      if ((info & T_NO_EMITTER) !== 0 || pa + n > ramEnd) return null;
      const next = (at + n) | 0;
      if (t[w] === R_CLOSURE) {
        const ins = this.addrIns[slot]!;
        a[j] = R_CLOSURE; a[j + RECORD_NEXT] = next;
        a[j + 1] = closures.push(this.execFor(emitterFor(ins), ins, at, next, count, count > 0 ? this.addrIns[prevSlot] : undefined)) - 1;
      } else placeRecord(t, w, next, prevWriter, a, j);
      prevWriter = info >>> 16; prevSlot = slot;
      count++; j += RECORD_WORDS;
      at = next; pa += n;
      if ((info & T_ENDS_BLOCK) !== 0 || count >= MAX_BLOCK_INSTRUCTIONS || (((csBase + next) >>> 0) >>> PAGE_SHIFT) !== firstPage) break;
    }
    a[top] = count;
    this.arenaTop = j;
    const block = new Block(this, start, (start + (pa - phys)) | 0, phys, pa, -1, -1, csBase, csLimit, 1, true, count, top, null);
    this.track(block);
    this.decoded++;
    cpu.work += count * 32;
    return block;
  }

  /** The physical address decodePhysical's byte source reads at. */
  private fetchPa = 0;
  private readonly fetchPhysByte = (i: number): number => (this.fetched[i] = this.cpu.mem.ram[this.fetchPa + i]);

  /**
   * The instructions of lazily decoded block `b` (Block.ops): decoded again from its bytes in RAM, which are
   * the ones it was decoded from while it is valid (a code write drops it), into what decodeBlock would have made.
   */
  opsOf(b: Block): CachedInstruction[] {
    const ops: CachedInstruction[] = [];
    for (let k = 0, at = (b.start - b.csBase) | 0, pa = b.phys; k < b.count; k++) {
      let ins = this.decodedAt(pa, at, 1, b.csLimit);
      if (ins === undefined) {
        this.fetchPa = pa;
        ins = this.intern(decode(this.fetchPhysByte, 32), 1);
        this.rememberAt(pa, 1, ins);
      }
      const next = (at + ins.length) | 0;
      ops.push(new CachedInstruction(ins, at, next, null, this, k, k > 0 ? ops[k - 1].ins : undefined));
      at = next; pa += ins.length;
    }
    return ops;
  }

  /** The EIP of the `i`th instruction of `b` (its records say, without its instructions). */
  eipAt(b: Block, i: number): number {
    return i === 0 ? (b.start - b.csBase) & (b.code32 ? -1 : 0xffff) : this.arena[b.code + i * RECORD_WORDS + RECORD_NEXT];
  }

  /** True once the cached blocks hold more than `limit` instructions: the run loop then calls evict() between blocks. */
  get full(): boolean { return this.instructionCount > this.limit || this.arenaTop > 4 * RECORD_WORDS * this.limit; }

  /** Mark the RAM pages and chunks the block's bytes occupy so that writes there invalidate it. */
  private track(b: Block): void {
    this.instructionCount += b.count;
    const ram = this.cpu.ramSize;
    for (const [lo, hi] of byteRanges(b)) {
      for (let p = lo >>> PAGE_SHIFT; p <= (hi - 1) >>> PAGE_SHIFT && p * PAGE_SIZE < ram; p++) {
        let set = this.pageBlocks.get(p);
        if (!set) this.pageBlocks.set(p, (set = new Set()));
        set.add(b);
        this.cpu.pageFlags[p] |= PAGE_HAS_CODE;
      }
      this.markChunks(lo, Math.min(hi, ram));
    }
  }

  /** Take `b` out of the page lists of the pages its bytes touch. */
  private untrack(b: Block): void {
    for (const [lo, hi] of byteRanges(b)) for (let p = lo >>> PAGE_SHIFT; p <= (hi - 1) >>> PAGE_SHIFT; p++) this.pageBlocks.get(p)?.delete(b);
  }

  /** Mark the code-map chunks that bytes [lo, hi) of RAM touch (bit 0 only: the dirty log's bit 1 stays). */
  private markChunks(lo: number, hi: number): void {
    if (lo >= hi) return;
    const map = this.cpu.codeMap;
    for (let c = lo >>> CODE_CHUNK_SHIFT, end = (hi - 1) >>> CODE_CHUNK_SHIFT; c <= end; c++) map[c] |= CODE_CHUNK_HAS_CODE;
  }

  /** Clear bit 0 of page `p`'s 64 code-map bytes (the dirty log's bit 1 stays). */
  private unmarkPage(p: number): void {
    const words = this.cpu.mem.codeWords;
    for (let i = p * CODE_WORDS_PER_PAGE, end = i + CODE_WORDS_PER_PAGE; i < end; i++) words[i] &= ~0x01010101;
  }

  /**
   * After `dropped` left the cache: redo the marks of the pages they touched from the blocks still there
   * (a chunk stays marked while another block overlaps it; a page without blocks loses its flag).
   */
  private remark(dropped: Iterable<Block>): void {
    const ram = this.cpu.ramSize, pages = new Set<number>();
    for (const b of dropped) {
      for (const [lo, hi] of byteRanges(b)) for (let p = lo >>> PAGE_SHIFT; p <= (hi - 1) >>> PAGE_SHIFT && p * PAGE_SIZE < ram; p++) pages.add(p);
    }
    for (const p of pages) {
      const base = p * PAGE_SIZE, set = this.pageBlocks.get(p);
      this.unmarkPage(p);
      if (set === undefined || set.size === 0) { this.pageBlocks.delete(p); this.cpu.pageFlags[p] &= ~PAGE_HAS_CODE; continue; }
      // (Every block of the page, at every code write there: no list of ranges allocated per block. Marking
      // a range clipped to empty does nothing, so a straddler's other range needs no test.)
      for (const b of set) {
        this.markChunks(Math.max(b.phys, base), Math.min(b.physEnd, base + PAGE_SIZE));
        this.markChunks(Math.max(b.phys2, base), Math.min(b.phys2End, base + PAGE_SIZE));
      }
    }
  }

  /** A write hit a code chunk: drop the blocks whose bytes overlap [phys, phys + size) (none may be left stale). */
  invalidate(phys: number, size: number, byHost = false): void {
    const lo = phys >>> 0, hi = lo + size;
    let hit: Set<Block> | null = null;
    for (let p = lo >>> PAGE_SHIFT; p <= (hi - 1) >>> PAGE_SHIFT; p++) {
      const set = this.pageBlocks.get(p);
      if (!set) continue;
      // (Both of a straddler's ranges; an absent second range, -1 to -1, overlaps nothing. No allocation here: a hot path.)
      for (const b of set) if ((b.phys < hi && b.physEnd > lo) || (b.phys2 < hi && b.phys2End > lo)) (hit ??= new Set()).add(b);
    }
    if (hit === null) return; // the written bytes share a chunk with code but are no block's
    for (const b of hit) this.drop(b, true, byHost);
    this.remark(hit);
  }

  /** [JIT] The block at `eip` in the current CS, decoding it if needed (region discovery; paging is off). */
  blockAt(eip: number): Block {
    const s = this.cpu.s, saved = s[8];
    s[8] = eip;
    try { return this.lookup(); } finally { s[8] = saved; }
  }

  /** Valid blocks whose bytes touch RAM page `page` (the JIT's region candidates). */
  blocksInPage(page: number): Block[] {
    const set = this.pageBlocks.get(page);
    return set ? [...set].filter((b) => b.valid) : [];
  }

  private drop(b: Block, byWrite: boolean, byHost = false): void {
    if (b.valid) this.instructionCount -= b.count;
    b.valid = false;
    if (this.onDrop) this.onDrop(b, byHost);
    const map = b.code32 ? this.blocks32 : this.blocks16;
    if (map.get(b.phys) === b) map.delete(b.phys);
    this.untrack(b);
    if (byWrite) {
      this.invalidated++;
      this.cpu.breakBlock |= BREAK_CODE_WRITE;
    }
  }

  /**
   * The cache is full (the run loop calls this between blocks): drop every block except those that live
   * compiled code runs (`compiled` valid). Those stay, marks and all, so that a write to their bytes still
   * drops their region — and the JIT keeps its translations across the flush (a Linux boot fills the cache
   * ~9 times). The JIT first drops its coldest regions until their blocks hold at most half the limit
   * (onFull), so that the cache stays bounded and the next flush is at least half a cache of fresh code
   * away; if they still hold more (or nothing is kept), everything goes as in flush(). (A quarter kept too
   * little of a kernel's hot code: 650 of a boot's 1,590 translations were of regions shed before.)
   */
  evict(): void {
    this.onFull?.(this.limit >>> 1);
    let kept = 0;
    for (const m of [this.blocks32, this.blocks16]) for (const b of m.values()) if (b.compiled?.valid) kept += b.count;
    if (kept === 0 || 2 * kept > this.limit) { this.flush(); return; }
    this.flushes++;
    const dropped: Block[] = [];
    for (const m of [this.blocks32, this.blocks16]) {
      for (const [phys, b] of m) {
        if (b.compiled?.valid) {
          // Links to dropped blocks are never followed (not valid), but would keep them alive.
          b.linkEpoch = -1; b.link0 = b.link1 = null;
          continue;
        }
        b.valid = false;
        m.delete(phys);
        dropped.push(b);
        this.untrack(b);
      }
    }
    this.instructionCount = kept;
    this.compactArena();
    this.decodedByBytes.clear();
    this.front.fill(undefined);
    this.remark(dropped);
    this.onEvict?.();
  }

  /** Move the records of the blocks still cached, and their closures, to the front of the arena (after evict()). */
  private compactArena(): void {
    const from = this.arena, to = new Int32Array(from.length), closures = this.closures, kept: Exec[] = [];
    let top = 0;
    for (const m of [this.blocks32, this.blocks16]) {
      for (const b of m.values()) {
        const n = (1 + b.count) * RECORD_WORDS;
        to.set(from.subarray(b.code, b.code + n), top);
        for (let j = top + RECORD_WORDS; j < top + n; j += RECORD_WORDS) if (to[j] === R_CLOSURE) to[j + 1] = kept.push(closures[to[j + 1]]) - 1;
        b.code = top;
        top += n;
      }
    }
    this.arena = to;
    this.arenaTop = top;
    this.closures = kept;
  }

  /** Forget everything: at reset, and when the cache is full (counted in `flushes`). */
  flush(): void {
    if (this.full) this.flushes++;
    this.instructionCount = 0;
    this.arenaTop = 0;
    // (A new table, not this one emptied: a hook may flush in the middle of a block, which runs on from the old.)
    this.closures = [];
    this.onFlush?.();
    for (const m of [this.blocks32, this.blocks16]) for (const b of m.values()) b.valid = false;
    this.blocks32.clear(); this.blocks16.clear();
    this.decodedByBytes.clear();
    this.front.fill(undefined);
    for (const p of this.pageBlocks.keys()) {
      this.cpu.pageFlags[p] &= ~PAGE_HAS_CODE;
      this.unmarkPage(p);
    }
    this.pageBlocks.clear();
  }

  get size(): number { return this.blocks32.size + this.blocks16.size; }
}

/**
 * The RAM byte ranges a block was decoded from, each non-empty: [phys, physEnd) and, for a straddler,
 * [phys2, phys2End) — what tracking a block and remarking its own pages go by (invalidate() compares both
 * inline, and remark() marks the blocks still in a page from both, clipped: the hot paths allocate nothing).
 * None for a fetch-fault block.
 */
function byteRanges(b: Block): [number, number][] {
  const ranges: [number, number][] = [];
  if (b.physEnd > b.phys) ranges.push([b.phys, b.physEnd]);
  if (b.phys2End > b.phys2) ranges.push([b.phys2, b.phys2End]);
  return ranges;
}

/** Placeholder instruction for a block whose first fetch faults. */
const FETCH_FAULT: Instruction = {
  op: 'INVALID', cond: -1, length: 0, opsize: 32, adsize: 32, size: 4, prefixes: 0, segOverride: -1, operands: [], opcode: -1, modrm: -1,
};
