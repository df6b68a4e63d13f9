// The vCPU: register file (a view over the CPU-state block in the VM's WebAssembly.Memory), segmented
// memory access with the RAM fast path, and the stack. Semantics (src/cpu/semantics) and the
// interpreter (interpreter.ts) are built on these few primitives.
import { CS, SS } from '../decoder/instruction.ts';
import { EXIT_IO, EXIT_MMIO, ExitStats } from '../hv/exits.ts';
import type { HypercallHost } from '../hv/hypercalls.ts';
import type { IoBus } from '../machine/io-bus.ts';
import { type PhysicalMemory } from '../machine/memory.ts';
import { type CpuFault, fault, GP, PF_, SS_ } from './fault.ts';
import type { CpuHooks } from './hooks.ts';
import {
  CODE_CHUNK_SHIFT, CODE32, CPL, CR0, CR0_PE, CR0_PG, CR0_WP, CR3, CR4, EFLAGS, ESP, PAGE_SHIFT, PAGE_SIZE, RAM_OFFSET, SEG_ATTR, SEG_BASE, SEG_LIMIT, SEG_SEL, STACK32, STATE_OFFSET,
  STATE_SLOTS, segSlot, TLB_ADDEND_OFFSET, TLB_TAG_OFFSET, VM,
} from './state.ts';

/** Segment attribute bits kept in the SEG_ATTR slot: descriptor bits 8..23 of the high dword (type, S, DPL, P, AVL, D/B, G). */
export const ATTR_ACCESSED = 0x1, ATTR_RW = 0x2, ATTR_DC = 0x4, ATTR_CODE = 0x8, ATTR_S = 0x10, ATTR_P = 0x80,
  ATTR_DB = 0x4000, ATTR_G = 0x8000;
/** Marks a segment register loaded with a null selector in protected mode (unusable). */
export const ATTR_UNUSABLE = 0x10000;
/**
 * Virtual time of one port access: an ISA/LPC bus cycle takes about 1 µs (the port-0x80 delay Linux's
 * outb_p relies on). Without it a guest that times a device by polling it (the kernel's PIT calibration)
 * sees the device frozen, and delay loops built on port reads cost a thousand times more instructions.
 */
export const PORT_IO_NS = 1000;
/**
 * Virtual time of a PAUSE (F3 90; REP NOP before the Pentium 4, and so here): the spin-wait hint of every
 * delay and spin loop. A hypervisor's pause-loop exiting gives a spinning vCPU's time away; here 1 µs of
 * virtual time passes, as for a port access. Linux's udelay spins on the TSC with a PAUSE per trip: at 1 ns
 * an instruction it retired a thousand instructions for each µs waited (its ISA PnP probe waits 0.36 s,
 * 355 M instructions of a boot's 6.7 G); now ~70. A delay loop may wait up to 1 µs longer than asked.
 */
export const PAUSE_NS = 1000;

/** Software TLB size (entries, direct-mapped by linear page number). */
export const TLB_SIZE = 4096;
/**
 * TLB tag bits (below the linear page base): what the entry allows. A tag without TLB_VALID is empty. The write
 * bits are set only once the page is dirty, so that the first store to a clean page walks (and sets PTE.D).
 * TLB_RAM: the whole physical page is RAM, so compiled code may reach it with no bounds test (translate.ts).
 */
export const TLB_VALID = 1, TLB_USER = 2, TLB_WRITE_SUP = 4, TLB_WRITE_USER = 8, TLB_GLOBAL = 16, TLB_RAM = 32;
/** The tag bits a data access needs: a user access the user bit, a store the write bit of its privilege. */
export const tlbNeed = (write: boolean, user: boolean): number =>
  TLB_VALID | (write ? (user ? TLB_WRITE_USER : TLB_WRITE_SUP) : user ? TLB_USER : 0);
/** Page-table entry bits. */
const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_A = 0x20, PTE_D = 0x40, PDE_PS = 0x80, PTE_G = 0x100;
const CR4_PSE = 1 << 4, CR4_PGE = 1 << 7;

function pageFault(lin: number, err: number): CpuFault {
  const f = fault(PF_, err);
  f.address = lin >>> 0;
  return f;
}

/** Permission check of a present translation (SDM 4.6): #PF with P=1 on a violation. */
function checkAccess(lin: number, err: number, write: boolean, user: boolean, userOk: boolean, rw: boolean, wp: boolean): void {
  if (user && !userOk) throw pageFault(lin, err | 1);
  if (write && !rw && (user || wp)) throw pageFault(lin, err | 1);
}

/** Why the run loop must leave the current block after this instruction (bit set, see breakBlock). */
export const BREAK_CODE_WRITE = 1, BREAK_STOP = 2, BREAK_MODE = 4;
/** A conditional branch in the middle of a block was taken (a side exit): CS is unchanged, links stay valid. */
export const BREAK_JUMP = 8;
/** The instruction set EIP itself (a REP string instruction yielding before it is done). */
export const BREAK_EIP_SET = 16;
/**
 * A device raised INTR during the instruction (an OUT that unmasks or EOIs, a UART register access): the
 * block ends there so the interrupt is recognised at this instruction boundary. Without it the interrupt
 * would wait for the block's end — a point that moves when a run is split (a snapshot, a limit), so a
 * continued run would take it earlier than an uninterrupted one.
 */
export const BREAK_IRQ = 32;
/** A data breakpoint (DR0–DR3) matched during the instruction: #DB is a trap, delivered once it has completed. */
export const BREAK_DEBUG = 64;
/** The instruction spent virtual time beyond its own (Cpu.spendTime: port I/O, PAUSE): see Cpu.spentNs. */
export const BREAK_TIME = 128;

/** What cpu.log reports (see Cpu.log). */
export type LogItem = 'in_asm' | 'int' | 'sys' | 'jit';

/** cpu.work beyond which the run loop reads the clock (about a millisecond of the slowest per-element work). */
export const WORK_PER_CLOCK_CHECK = 1 << 16;

/** What cpu.intercept implements. Each returns true when it handled the event (nothing is delivered then). */
export interface InterruptIntercept {
  /** INT n (also INT3, INTO): EIP is already on the next instruction. Ending the run: set BREAK_STOP. */
  softwareInterrupt(vector: number): boolean;
  /** A fault about to be delivered; EIP is on the faulting instruction (after a trap, on the next one). */
  exception(fault: CpuFault, eip: number): boolean;
}

/** The x87's error pins as the board wires them (MS-DOS compatibility mode: CR0.NE clear). */
export interface FpuErrorPins {
  /** IGNNE# is asserted: FERR# is not reported again. A waiting x87 instruction that finds ES clear clears it. */
  ignne: boolean;
  /** FERR#: a waiting x87 instruction found an unmasked exception pending with CR0.NE clear. */
  assertFerr(): void;
}

/** The local APIC's IA32_APIC_BASE MSR, as RDMSR/WRMSR and CPUID reach it (the register's bits are the device's). */
export interface LocalApicPins {
  readBaseMsr(): number;
  /** The new value, its reserved bits already checked by WRMSR (#GP). */
  writeBaseMsr(value: number): void;
}

export class Cpu {
  /** The CPU-state block as 32-bit slots (state.ts). */
  readonly s: Int32Array;
  /** Byte and word views over the same block, for AL..BH and AX..DI. */
  readonly r8: Uint8Array;
  readonly r16: Uint16Array;
  readonly mem: PhysicalMemory;
  readonly io: IoBus;
  /** DataView over the whole WebAssembly.Memory; guest RAM starts at RAM_OFFSET. */
  readonly view: DataView;
  readonly ramSize: number;
  /**
   * End of the RAM the fast paths may read and write directly: ramSize, or 0 while a lazy restore still has
   * pages to copy in (memory.ts's ensure) and paging is off, so every access takes the slow path, which
   * copies them first. With paging on, a TLB entry is only made for a page that is in (walk), so every
   * physical address a translation gives is in: the fast paths stay (a booted kernel's restore runs
   * paged from its first instruction), and so does compiled code.
   */
  fastRamEnd: number;
  readonly pageFlags: Uint8Array;
  /** One byte per 64-byte chunk of RAM, nonzero where decoded code lies or its page is armed for the dirty log (memory.ts's codeMap). */
  readonly codeMap: Uint8Array;
  /**
   * Per segment register: 0 when base is 0, the limit is 4 GiB, expand-up, readable and writable, so an
   * offset is the linear address without checks (the common flat case); 1 when checkedLinear must run.
   */
  readonly segSlow = new Uint8Array(6);
  /** Set by anything that must end the current decoded block after the current instruction. */
  breakBlock = 0;
  /** Set by HLT; the VM decides whether an interrupt can wake the CPU or the run ends. */
  halted = false;
  /** Instructions retired so far. */
  instructions = 0;
  /**
   * Virtual time (ns) that did not come from instructions retired: HLT skipping ahead to the next device
   * event, port I/O's bus cycles and PAUSE's spin-wait. The virtual clock (and the TSC) is instructions × 1 ns + idleNs.
   */
  idleNs = 0;
  /**
   * Virtual time an instruction takes beyond its 1 ns: port I/O (PORT_IO_NS), PAUSE (PAUSE_NS). The VM adds
   * it to idleNs in the virtual clock and to spentNs, and ends the block (BREAK_TIME).
   */
  spendTime: (ns: number) => void = () => {};
  /**
   * Of that time, what the run loop has not yet taken from the budget of the slice it runs (in ns, which are
   * instructions at NS_PER_INSTRUCTION = 1): the slice still ends at the virtual time it was planned to.
   */
  spentNs = 0;

  /** The time-stamp counter at instruction `index` of the block: the virtual clock in ns (a 1 GHz TSC). */
  tsc(index: number): number { return Math.floor(this.instructions + index + this.idleNs); }
  /**
   * Faults and external interrupts delivered so far. Each counts as one step toward a run's budget (as an
   * instruction does, without retiring one), so a guest stuck in an exception loop still reaches its limit.
   */
  deliveries = 0;
  /**
   * Host work done since the run loop last read the clock, in instruction-equivalents: a REP execution
   * adds its elements, a hypercall its bytes. The run loop reads the clock once this passes
   * WORK_PER_CLOCK_CHECK, so a limit in seconds holds however much one instruction does.
   */
  work = 0;
  /** VM exits: counters and handling time per reason (src/hv/exits.ts). */
  readonly exits = new ExitStats();
  /** EFLAGS.IF (0x200) while an interrupt controller asserts INTR, else 0: the run loop tests intr & EFLAGS. */
  intr = 0;
  /** Set by STI (IF 0 → 1), MOV SS and POP SS: no interrupt before the next instruction completes. */
  shadow = 0;
  /**
   * Event log (`x86jit run --log`), null when off: decoded blocks ('in_asm'), interrupts and exceptions
   * ('int'), control-register, descriptor-table and segment loads ('sys'), the JIT's regions ('jit'). Each
   * site tests for null first, so an unused log costs nothing on the paths it watches.
   */
  log: ((item: LogItem, text: string) => void) | null = null;
  /** Handles VMCALL (src/hv/hypercalls.ts); without one, VMCALL is #UD. */
  hypercallHost: HypercallHost | null = null;
  /**
   * Takes software interrupts and exceptions before they reach the IDT (VMX's exception bitmap, in the
   * manner of a VM exit): user-mode emulation (src/exec) turns INT 0x80 into a system call and faults into
   * signals. Null: everything is delivered through the IDT/IVT.
   */
  intercept: InterruptIntercept | null = null;
  /**
   * The embedder's hooks (hooks.ts; VM.hook), null when none is installed: tested first at each site, on
   * the slow paths only (port I/O, the memory slow path, the run loop's per-block check).
   */
  hooks: CpuHooks | null = null;
  /** FERR#/IGNNE# (the board's devices/fpu-error.ts): where x87 errors go with CR0.NE clear; null: nowhere. */
  ferr: FpuErrorPins | null = null;
  /**
   * The CPU's local APIC as the instruction set reaches it: the IA32_APIC_BASE MSR (0x1B) and, through it,
   * CPUID's APIC bit (the board's devices/local-apic.ts; its registers are memory-mapped). null: no local APIC.
   */
  apic: LocalApicPins | null = null;
  /** Called after MOV DRn wrote DR0–DR3 or DR7: the VM (re)arms the breakpoints DR7 enables (machine/debug-breakpoints.ts). */
  onDebugRegisterWrite: (() => void) | null = null;
  /** Model-specific registers that the guest may write and read back (e.g. SYSENTER MSRs). */
  readonly msrs = new Map<number, bigint>();

  constructor(mem: PhysicalMemory, io: IoBus) {
    this.mem = mem;
    this.io = io;
    this.s = new Int32Array(mem.buffer, STATE_OFFSET, STATE_SLOTS);
    this.r8 = new Uint8Array(mem.buffer, STATE_OFFSET, 32);
    this.r16 = new Uint16Array(mem.buffer, STATE_OFFSET, 16);
    this.view = mem.view;
    this.ramSize = mem.ramSize;
    this.fastRamEnd = mem.ramSize;
    mem.onLazyChange = () => this.refreshFastRam();
    this.pageFlags = mem.pageFlags;
    this.codeMap = mem.codeMap;
    this.tlbTag = new Int32Array(mem.buffer, TLB_TAG_OFFSET, TLB_SIZE).fill(0);
    this.tlbAddend = new Int32Array(mem.buffer, TLB_ADDEND_OFFSET, TLB_SIZE).fill(0);
  }

  /**
   * Port I/O: an IO exit to the device model on the bus, taking PORT_IO_NS of virtual time after the
   * access. `index` is the instruction's position in its block: `instructions` counts a block's
   * instructions only at its end, and devices read the virtual clock
   * (derived from it), which must be exact at the access — else where a block was cut (a run's limit, a
   * snapshot) would change what the guest reads.
   */
  portIn(port: number, size: number, index: number): number {
    const t0 = this.exits.enter();
    this.instructions += index;
    try {
      if (this.hooks !== null && this.hooks.ports) { const v = this.hooks.in(port, size); if (v !== undefined) return v; }
      return this.io.in(port, size as 1 | 2 | 4);
    } finally { this.instructions -= index; this.spendTime(PORT_IO_NS); this.exits.leave(EXIT_IO, t0); }
  }
  portOut(port: number, size: number, value: number, index: number): void {
    const t0 = this.exits.enter();
    this.instructions += index;
    try {
      if (this.hooks !== null && this.hooks.ports && this.hooks.out(port, size, value)) return;
      this.io.out(port, size as 1 | 2 | 4, value);
    } finally { this.instructions -= index; this.spendTime(PORT_IO_NS); this.exits.leave(EXIT_IO, t0); }
  }

  /** Recompute fastRamEnd: 0 while a lazy restore has pages pending without paging, or memory hooks watch every access. */
  refreshFastRam(): void {
    const pending = this.mem.pendingPages > 0;
    this.fastRamEnd = (pending && !this.paging) || (this.hooks !== null && this.hooks.reads) ? 0 : this.ramSize;
    // Stores may take the fast paths while pages are pending: the dirty log's code map must be armed for them.
    if (pending && this.fastRamEnd !== 0) this.mem.prepareForCompiledCode();
  }

  get protectedMode(): boolean { return (this.s[CR0] & CR0_PE) !== 0 && (this.s[EFLAGS] & VM) === 0; }
  /** Virtual-8086 mode (CR0.PE and EFLAGS.VM): real-mode segments at CPL 3 under protected-mode rules. */
  get v86(): boolean { return (this.s[CR0] & CR0_PE) !== 0 && (this.s[EFLAGS] & VM) !== 0; }
  /**
   * CPL > IOPL in protected or virtual-8086 mode (CPL is 3 there): CLI, STI, IN and OUT without a bitmap,
   * and in virtual-8086 mode also PUSHF, POPF, INT n and IRET (CR4.VME is not offered), raise #GP(0).
   */
  get ioplDenied(): boolean { return (this.s[CR0] & CR0_PE) !== 0 && this.s[CPL] > ((this.s[EFLAGS] >>> 12) & 3); }
  get cpl(): number { return this.s[CPL]; }

  // ---- registers ----
  /** 8-bit register r (0..3 = AL CL DL BL, 4..7 = AH CH DH BH). */
  getReg8(r: number): number { return this.r8[((r & 3) << 2) | (r >> 2)]; }
  setReg8(r: number, v: number): void { this.r8[((r & 3) << 2) | (r >> 2)] = v; }
  getReg16(r: number): number { return this.r16[r << 1]; }
  setReg16(r: number, v: number): void { this.r16[r << 1] = v; }
  getReg(r: number, size: number): number {
    return size === 4 ? this.s[r] : size === 2 ? this.r16[r << 1] : this.r8[((r & 3) << 2) | (r >> 2)];
  }
  setReg(r: number, size: number, v: number): void {
    if (size === 4) this.s[r] = v;
    else if (size === 2) this.r16[r << 1] = v;
    else this.r8[((r & 3) << 2) | (r >> 2)] = v;
  }

  // ---- segmentation ----
  /** Recompute the fast-path flag of segment register seg after its cache changed. */
  refreshSegment(seg: number): void {
    const s = this.s, attr = s[segSlot(seg, SEG_ATTR)];
    const flat = s[segSlot(seg, SEG_BASE)] === 0 && s[segSlot(seg, SEG_LIMIT)] === -1 && !(attr & ATTR_UNUSABLE) &&
      (!(this.s[CR0] & CR0_PE) || ((attr & (ATTR_CODE | ATTR_RW | ATTR_DC)) === ATTR_RW));
    this.segSlow[seg] = flat ? 0 : 1;
    if (seg === CS) { s[CODE32] = attr & ATTR_DB ? 1 : 0; this.breakBlock |= BREAK_MODE; }
    if (seg === SS) s[STACK32] = attr & ATTR_DB ? 1 : 0;
  }

  /** Load a segment cache directly (reset, loaders, the API): no descriptor-table access. */
  setSegmentCache(seg: number, selector: number, base: number, limit: number, attr: number): void {
    const s = this.s;
    s[segSlot(seg, SEG_SEL)] = selector & 0xffff;
    s[segSlot(seg, SEG_BASE)] = base;
    s[segSlot(seg, SEG_LIMIT)] = limit;
    s[segSlot(seg, SEG_ATTR)] = attr;
    this.refreshSegment(seg);
  }

  /**
   * Linear address of seg:off for an access of `size` bytes, checking the segment's type and limit
   * (SDM Vol. 3, 5.3): #GP(0), or #SS(0) for the stack segment.
   */
  checkedLinear(seg: number, off: number, size: number, write: boolean): number {
    const s = this.s;
    const attr = s[segSlot(seg, SEG_ATTR)], limit = s[segSlot(seg, SEG_LIMIT)] >>> 0;
    const vector = seg === SS ? SS_ : GP;
    off >>>= 0;
    if (s[CR0] & CR0_PE && !(s[EFLAGS] & VM)) {
      if (attr & ATTR_UNUSABLE) throw fault(vector, 0);
      if (attr & ATTR_CODE) {
        if (write || !(attr & ATTR_RW)) throw fault(vector, 0);
      } else if (write && !(attr & ATTR_RW)) throw fault(vector, 0);
      if ((attr & (ATTR_CODE | ATTR_DC)) === ATTR_DC) {
        // Expand-down data segment: valid offsets are (limit, upper], upper = 0xFFFF or 0xFFFFFFFF.
        const upper = attr & ATTR_DB ? 0xffff_ffff : 0xffff;
        if (off <= limit || off + size - 1 > upper) throw fault(vector, 0);
        return (s[segSlot(seg, SEG_BASE)] + off) | 0;
      }
    }
    if (off + size - 1 > limit) throw fault(vector, 0);
    return (s[segSlot(seg, SEG_BASE)] + off) | 0;
  }

  linear(seg: number, off: number, size: number, write: boolean): number {
    return this.segSlow[seg] === 0 ? off | 0 : this.checkedLinear(seg, off, size, write);
  }

  // ---- paging (SDM Vol. 3, ch. 4: 32-bit paging, 4 KiB and 4 MiB pages) and the software TLB ----
  /** CR0.PG, cached: every linear access goes through translate() when set. */
  paging = false;
  /**
   * Direct-mapped TLB, indexed by the linear page number's low bits: tag = linear page base | TLB_* bits
   * (0: empty), addend = physical page base − linear page base, so that physical = linear + addend (QEMU's
   * softmmu keeps the same pair). Views into the VM's memory (state.ts's TLB_*_OFFSET), which compiled code
   * reads directly: one load, mask and compare decide a hit, its permissions and that the access stays in
   * the page.
   */
  readonly tlbTag: Int32Array;
  readonly tlbAddend: Int32Array;
  /**
   * The slots walk() filled while empty since the last flush (a slot emptied by INVLPG and filled again is
   * listed twice): a flush clears these instead of scanning all TLB_SIZE tags. A Linux boot flushes 16 k times
   * (CR3 writes), with ~860 slots listed on average (the kept global entries stay listed); the scan of all
   * 4,096 each time took ~0.1 s of it. Past TLB_SIZE entries the list stops (tlbFilledCount > TLB_SIZE) and
   * the next flush scans them all.
   */
  private readonly tlbFilled = new Int32Array(TLB_SIZE);
  private tlbFilledCount = 0;
  /**
   * Bumped whenever translations that something relies on may change (CR3, CR0/CR4, INVLPG of a page
   * marked by reliesOnMapping): decoded-block links and the JIT's jump cache check it.
   */
  mappingEpoch = 0;
  /**
   * Bumped with mappingEpoch except for a CR3 write that keeps global pages (CR4.PGE): while it stands,
   * what relies only on global mappings (the TLB still holding them) holds (the jump cache keeps those entries).
   */
  globalMappingEpoch = 0;
  /**
   * Linear pages whose current mapping a block link, a jump-cache entry or the compiled code about to run
   * relies on (marked since the last full new epoch, and listed for clearing). An INVLPG of any other page changes nothing they hold: a Linux
   * boot's 70 k INVLPGs are nearly all of data pages, and each used to empty the jump cache.
   */
  private readonly reliedOn = new Uint8Array(1 << (32 - PAGE_SHIFT));
  private reliedOnList: number[] = [];

  /** Code at linear [start, end) was resolved under the current mappings, to be reused without a fetch. */
  reliesOnMapping(start: number, end: number): void {
    if (!this.paging) return;
    const first = (start >>> 0) >>> PAGE_SHIFT, last = ((end - 1) >>> 0) >>> PAGE_SHIFT;
    if (this.reliedOn[first] === 0) { this.reliedOn[first] = 1; this.reliedOnList.push(first); }
    if (last !== first && this.reliedOn[last] === 0) { this.reliedOn[last] = 1; this.reliedOnList.push(last); }
  }

  /**
   * Is linear `lin`'s page mapped by a global TLB entry (kept by a CR3 write), or is paging off? (A page
   * whose entry the direct-mapped TLB has lost answers no: for those who ask, the safe answer.)
   */
  isGlobalMapping(lin: number): boolean {
    if (!this.paging) return true;
    const tag = this.tlbTag[(lin >>> PAGE_SHIFT) & (TLB_SIZE - 1)];
    return ((tag ^ lin) & ~0xfff) === 0 && (tag & (TLB_VALID | TLB_GLOBAL)) === (TLB_VALID | TLB_GLOBAL);
  }

  /**
   * The mappings changed: whatever relied on them is stale — or, `keepGlobal` (a CR3 write with CR4.PGE),
   * whatever relied on non-global ones. (The marks stay then: a later INVLPG of any page marked before
   * starts a full epoch, which may be more than needed, never less.)
   */
  private newMappingEpoch(keepGlobal = false): void {
    this.mappingEpoch++;
    if (keepGlobal) return;
    this.globalMappingEpoch++;
    const list = this.reliedOnList;
    if (list.length > 4096) this.reliedOn.fill(0);
    else for (let i = 0; i < list.length; i++) this.reliedOn[list[i]] = 0;
    this.reliedOnList = [];
  }

  /** Physical address of `lin` for a data access by the current CPL (user when CPL = 3). */
  translate(lin: number, write: boolean, user: boolean): number {
    const slot = (lin >>> PAGE_SHIFT) & (TLB_SIZE - 1), tag = this.tlbTag[slot];
    const need = tlbNeed(write, user);
    if (((tag ^ lin) & ~0xfff) === 0 && (tag & need) === need) return (lin + this.tlbAddend[slot]) >>> 0;
    return this.walk(lin, write, user);
  }

  /** Page walk: check permissions, set accessed/dirty bits, fill the TLB, or raise #PF. */
  private walk(lin: number, write: boolean, user: boolean): number {
    const s = this.s, mem = this.mem;
    const pdeAddr = ((s[CR3] & ~0xfff) + ((lin >>> 22) << 2)) >>> 0;
    const pde = mem.read(pdeAddr, 4);
    const err = (write ? 2 : 0) | (user ? 4 : 0);
    if (!(pde & PTE_P)) throw pageFault(lin, err);
    let phys: number, userOk: boolean, rw: boolean, dirty: boolean, global: boolean;
    if (pde & PDE_PS && s[CR4] & CR4_PSE) {
      userOk = (pde & PTE_US) !== 0; rw = (pde & PTE_RW) !== 0;
      checkAccess(lin, err, write, user, userOk, rw, (s[CR0] & CR0_WP) !== 0);
      const want = PTE_A | (write ? PTE_D : 0);
      if ((pde & want) !== want) mem.write(pdeAddr, 4, pde | want);
      phys = ((pde & 0xffc0_0000) | (lin & 0x003f_f000)) >>> 0;
      dirty = write || (pde & PTE_D) !== 0;
      global = (pde & PTE_G) !== 0;
    } else {
      const pteAddr = ((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
      const pte = mem.read(pteAddr, 4);
      if (!(pte & PTE_P)) throw pageFault(lin, err);
      userOk = (pde & pte & PTE_US) !== 0; rw = (pde & pte & PTE_RW) !== 0;
      checkAccess(lin, err, write, user, userOk, rw, (s[CR0] & CR0_WP) !== 0);
      if (!(pde & PTE_A)) mem.write(pdeAddr, 4, pde | PTE_A);
      const want = PTE_A | (write ? PTE_D : 0);
      if ((pte & want) !== want) mem.write(pteAddr, 4, pte | want);
      phys = (pte & ~0xfff) >>> 0;
      dirty = write || (pte & PTE_D) !== 0;
      global = (pte & PTE_G) !== 0;
    }
    mem.ensure(phys, PAGE_SIZE); // a lazy restore: TLB entries only for pages that are in (fastRamEnd relies on it)
    // A mem-write hook covers this linear page: its physical page's stores take the slow path (hooks.ts).
    if (this.hooks !== null && this.hooks.writes && this.hooks.watchesWrites(lin >>> PAGE_SHIFT)) mem.watchWrites(phys >>> PAGE_SHIFT, phys >>> PAGE_SHIFT);
    const slot = (lin >>> PAGE_SHIFT) & (TLB_SIZE - 1), base = lin & ~0xfff;
    if (this.tlbTag[slot] === 0) {
      if (this.tlbFilledCount < TLB_SIZE) this.tlbFilled[this.tlbFilledCount] = slot;
      if (this.tlbFilledCount <= TLB_SIZE) this.tlbFilledCount++;
    }
    this.tlbTag[slot] = base | TLB_VALID | (userOk ? TLB_USER : 0) | (dirty && userOk && rw ? TLB_WRITE_USER : 0) |
      (dirty && (rw || !(s[CR0] & CR0_WP)) ? TLB_WRITE_SUP : 0) | (global && s[CR4] & CR4_PGE ? TLB_GLOBAL : 0) |
      (phys + PAGE_SIZE <= this.ramSize ? TLB_RAM : 0);
    this.tlbAddend[slot] = phys - base;
    return (phys | (lin & 0xfff)) >>> 0;
  }

  /**
   * The physical address of `lin` as a debugger sees it: the page tables read without side effects (no
   * accessed/dirty bits set, no TLB entry, no fault), whatever the CPL; null when the page is not present.
   */
  debugTranslate(lin: number): number | null {
    if (!this.paging) return lin >>> 0;
    const s = this.s, mem = this.mem;
    const pde = mem.read(((s[CR3] & ~0xfff) + ((lin >>> 22) << 2)) >>> 0, 4);
    if (!(pde & PTE_P)) return null;
    if (pde & PDE_PS && s[CR4] & CR4_PSE) return ((pde & 0xffc0_0000) | (lin & 0x003f_ffff)) >>> 0;
    const pte = mem.read(((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0, 4);
    if (!(pte & PTE_P)) return null;
    return ((pte & ~0xfff) | (lin & 0xfff)) >>> 0;
  }

  /** Drop TLB entries: all of them, or all but global pages (a CR3 write with CR4.PGE). */
  flushTlb(keepGlobal: boolean): void {
    const tags = this.tlbTag, filled = this.tlbFilled, all = this.tlbFilledCount > TLB_SIZE;
    const n = all ? TLB_SIZE : this.tlbFilledCount;
    let kept = 0; // the kept slots are listed again in place (kept ≤ k)
    for (let k = 0; k < n; k++) {
      const slot = all ? k : filled[k], tag = tags[slot];
      if (tag === 0) continue;
      if (keepGlobal && (tag & TLB_GLOBAL) !== 0) filled[kept++] = slot;
      else tags[slot] = 0;
    }
    this.tlbFilledCount = kept;
    this.newMappingEpoch(keepGlobal);
  }

  /**
   * INVLPG: drop the translation of one page (global or not). True when that started a new epoch (the page
   * was relied on: code running now, linked to or named by the jump cache); otherwise nothing but data
   * accesses depended on it, and compiled code may go on.
   */
  invalidatePage(lin: number): boolean {
    const slot = (lin >>> PAGE_SHIFT) & (TLB_SIZE - 1);
    if (((this.tlbTag[slot] ^ lin) & ~0xfff) === 0) this.tlbTag[slot] = 0;
    if (this.reliedOn[(lin >>> 0) >>> PAGE_SHIFT] === 0) return false;
    this.newMappingEpoch();
    return true;
  }

  /** After CR0 or CR4 changed: re-read PG and drop every translation. */
  pagingChanged(): void {
    this.paging = (this.s[CR0] & CR0_PG) !== 0 && (this.s[CR0] & CR0_PE) !== 0;
    this.flushTlb(false);
    this.refreshFastRam();
  }

  /** Physical address for a data access at the current CPL. */
  private physData(lin: number, write: boolean): number {
    return this.paging ? this.translate(lin, write, this.s[CPL] === 3) : lin >>> 0;
  }

  /** A 2- or 4-byte access that crosses a page boundary with paging on: both pages are checked before any byte moves. */
  // (The second page is translated at its first byte: that is the address CR2 reports if it faults.)
  private readSplit(lin: number, size: number, user: boolean): number {
    const first = this.translate(lin, false, user), second = this.translate(((lin | 0xfff) + 1) | 0, false, user);
    const n1 = PAGE_SIZE - (lin & 0xfff);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.mem.read8(i < n1 ? first + i : second + i - n1);
    if (this.hooks !== null && this.hooks.reads) this.hooks.read(lin, size, v);
    return size === 4 ? v | 0 : v;
  }
  private writeSplit(lin: number, size: number, v: number, user: boolean): void {
    const first = this.translate(lin, true, user), second = this.translate(((lin | 0xfff) + 1) | 0, true, user);
    const n1 = PAGE_SIZE - (lin & 0xfff);
    if (this.hooks !== null && this.hooks.writes) this.hooks.write(lin, size, v);
    for (let i = 0; i < size; i++) this.mem.write(i < n1 ? first + i : second + i - n1, 1, v >>> (8 * i));
  }

  // ---- linear-address data accesses (current CPL) with the RAM fast path ----
  // A store goes straight to RAM unless its page has a flag and a chunk it touches has a code-map bit: code
  // (then mem.write invalidates) or the dirty log's arming (then mem.write records the page and disarms it,
  // so the page's later stores come back here). An access of at most 4 bytes touches at most two pages and
  // two chunks.
  readLin8(lin: number): number {
    const p = this.paging ? this.translate(lin, false, this.s[CPL] === 3) : lin >>> 0;
    return p < this.fastRamEnd ? this.view.getUint8(RAM_OFFSET + p) : this.slowRead(lin, p, 1);
  }
  readLin16(lin: number): number {
    if (this.paging && (lin & 0xfff) === 0xfff) return this.readSplit(lin, 2, this.s[CPL] === 3);
    const p = this.physData(lin, false);
    return p <= this.fastRamEnd - 2 ? this.view.getUint16(RAM_OFFSET + p, true) : this.slowRead(lin, p, 2);
  }
  readLin32(lin: number): number {
    if (this.paging && (lin & 0xfff) > 0xffc) return this.readSplit(lin, 4, this.s[CPL] === 3);
    const p = this.physData(lin, false);
    return p <= this.fastRamEnd - 4 ? this.view.getInt32(RAM_OFFSET + p, true) : this.slowRead(lin, p, 4);
  }
  writeLin8(lin: number, v: number): void {
    const p = this.physData(lin, true);
    if (p < this.fastRamEnd && (this.pageFlags[p >>> PAGE_SHIFT] === 0 || this.codeMap[p >>> CODE_CHUNK_SHIFT] === 0))
      this.view.setUint8(RAM_OFFSET + p, v);
    else this.slowWrite(lin, p, 1, v);
  }
  writeLin16(lin: number, v: number): void {
    if (this.paging && (lin & 0xfff) === 0xfff) { this.writeSplit(lin, 2, v, this.s[CPL] === 3); return; }
    const p = this.physData(lin, true);
    if (p <= this.fastRamEnd - 2 && ((this.pageFlags[p >>> PAGE_SHIFT] | this.pageFlags[(p + 1) >>> PAGE_SHIFT]) === 0 ||
      (this.codeMap[p >>> CODE_CHUNK_SHIFT] | this.codeMap[(p + 1) >>> CODE_CHUNK_SHIFT]) === 0))
      this.view.setUint16(RAM_OFFSET + p, v, true);
    else this.slowWrite(lin, p, 2, v);
  }
  writeLin32(lin: number, v: number): void {
    if (this.paging && (lin & 0xfff) > 0xffc) { this.writeSplit(lin, 4, v, this.s[CPL] === 3); return; }
    const p = this.physData(lin, true);
    if (p <= this.fastRamEnd - 4 && ((this.pageFlags[p >>> PAGE_SHIFT] | this.pageFlags[(p + 3) >>> PAGE_SHIFT]) === 0 ||
      (this.codeMap[p >>> CODE_CHUNK_SHIFT] | this.codeMap[(p + 3) >>> CODE_CHUNK_SHIFT]) === 0))
      this.view.setInt32(RAM_OFFSET + p, v, true);
    else this.slowWrite(lin, p, 4, v);
  }
  /**
   * A data access off the RAM fast path (MMIO, ROM, a lazy restore, memory hooks). One to a device's
   * registers is an MMIO exit, counted and timed as KVM counts them.
   */
  private slowRead(lin: number, p: number, size: 1 | 2 | 4): number {
    const mmio = p >= this.ramSize && this.mem.isMmio(p), t0 = mmio ? this.exits.enter() : 0;
    const v = this.mem.read(p, size);
    if (mmio) this.exits.leave(EXIT_MMIO, t0);
    if (this.hooks !== null && this.hooks.reads) this.hooks.read(lin, size, v);
    return v;
  }
  private slowWrite(lin: number, p: number, size: 1 | 2 | 4, v: number): void {
    if (this.hooks !== null && this.hooks.writes) this.hooks.write(lin, size, v);
    const mmio = p >= this.ramSize && this.mem.isMmio(p), t0 = mmio ? this.exits.enter() : 0;
    this.mem.write(p, size, v);
    if (mmio) this.exits.leave(EXIT_MMIO, t0);
  }

  // ---- system accesses (descriptor tables, IDT, TSS): always supervisor, whatever the CPL ----
  readSys8(lin: number): number { return this.mem.read8(this.paging ? this.translate(lin, false, false) : lin >>> 0); }
  readSys16(lin: number): number {
    if (this.paging && (lin & 0xfff) === 0xfff) return this.readSplit(lin, 2, false);
    return this.mem.read(this.paging ? this.translate(lin, false, false) : lin >>> 0, 2);
  }
  readSys32(lin: number): number {
    if (this.paging && (lin & 0xfff) > 0xffc) return this.readSplit(lin, 4, false);
    return this.mem.read(this.paging ? this.translate(lin, false, false) : lin >>> 0, 4);
  }
  writeSys8(lin: number, v: number): void { this.mem.write(this.paging ? this.translate(lin, true, false) : lin >>> 0, 1, v); }
  writeSys16(lin: number, v: number): void {
    if (this.paging && (lin & 0xfff) === 0xfff) { this.writeSplit(lin, 2, v, false); return; }
    this.mem.write(this.paging ? this.translate(lin, true, false) : lin >>> 0, 2, v);
  }
  writeSys32(lin: number, v: number): void {
    if (this.paging && (lin & 0xfff) > 0xffc) { this.writeSplit(lin, 4, v, false); return; }
    this.mem.write(this.paging ? this.translate(lin, true, false) : lin >>> 0, 4, v);
  }

  /** Instruction fetch: a read at the current CPL (not a data access: memory hooks do not see it). */
  fetch8(lin: number): number {
    const p = this.physData(lin, false);
    return p < this.fastRamEnd ? this.view.getUint8(RAM_OFFSET + p) : this.mem.read8(p);
  }
  /** Physical address of an instruction byte (for the code cache's keys); may raise #PF. */
  fetchPhys(lin: number): number { return this.physData(lin, false); }

  readLin(lin: number, size: number): number {
    return size === 4 ? this.readLin32(lin) : size === 2 ? this.readLin16(lin) : this.readLin8(lin);
  }
  writeLin(lin: number, size: number, v: number): void {
    if (size === 4) this.writeLin32(lin, v); else if (size === 2) this.writeLin16(lin, v); else this.writeLin8(lin, v);
  }

  // ---- memory through segments (offsets are uint32 or int32; results are uint8/uint16/int32) ----
  read8(seg: number, off: number): number {
    return this.readLin8(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 1, false));
  }
  read16(seg: number, off: number): number {
    return this.readLin16(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 2, false));
  }
  read32(seg: number, off: number): number {
    return this.readLin32(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 4, false));
  }
  write8(seg: number, off: number, v: number): void {
    this.writeLin8(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 1, true), v);
  }
  write16(seg: number, off: number, v: number): void {
    this.writeLin16(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 2, true), v);
  }
  write32(seg: number, off: number, v: number): void {
    this.writeLin32(this.segSlow[seg] === 0 ? off : this.checkedLinear(seg, off, 4, true), v);
  }
  read(seg: number, off: number, size: number): number {
    return size === 4 ? this.read32(seg, off) : size === 2 ? this.read16(seg, off) : this.read8(seg, off);
  }
  write(seg: number, off: number, size: number, v: number): void {
    if (size === 4) this.write32(seg, off, v); else if (size === 2) this.write16(seg, off, v); else this.write8(seg, off, v);
  }
  /** Check that seg:off..off+size-1 may be written, without writing (for instructions that must not half-complete). */
  probeWrite(seg: number, off: number, size: number): void {
    if (this.segSlow[seg] !== 0) this.checkedLinear(seg, off, size, true);
  }

  // ---- stack (SS, ESP or SP by SS.B; operand size 2 or 4) ----
  push(size: number, v: number): void {
    const s = this.s;
    if (s[STACK32]) {
      const sp = (s[ESP] - size) | 0;
      if (size === 4) this.write32(SS, sp, v); else this.write16(SS, sp, v);
      s[ESP] = sp;
    } else {
      const sp = (s[ESP] - size) & 0xffff;
      if (size === 4) this.write32(SS, sp, v); else this.write16(SS, sp, v);
      this.r16[ESP << 1] = sp;
    }
  }
  pop(size: number): number {
    const s = this.s;
    const sp = s[STACK32] ? s[ESP] : s[ESP] & 0xffff;
    const v = size === 4 ? this.read32(SS, sp) : this.read16(SS, sp);
    if (s[STACK32]) s[ESP] = sp + size; else this.r16[ESP << 1] = sp + size;
    return v;
  }
  /** Read the stack at ESP + delta without popping (for instructions that must check before committing). */
  peek(size: number, delta: number): number {
    const s = this.s;
    const sp = s[STACK32] ? (s[ESP] + delta) | 0 : (s[ESP] + delta) & 0xffff;
    return size === 4 ? this.read32(SS, sp) : this.read16(SS, sp);
  }
  /** Add to the stack pointer with the stack's width. */
  addSP(delta: number): void {
    if (this.s[STACK32]) this.s[ESP] = (this.s[ESP] + delta) | 0;
    else this.r16[ESP << 1] = this.s[ESP] + delta;
  }
}
