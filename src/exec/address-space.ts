// A process's address space, as the kernel's memory manager keeps it: page tables the exec layer owns
// (32-bit paging, 4 KiB pages), physical frames handed out from the VM's RAM, and the protections of every
// mapped page. The program runs at CPL 3 with paging on, so the CPU's own page walk enforces them: a store
// to a read-only page, or any access to an unmapped one, is a #PF, which the process turns into SIGSEGV.
// The page tables and frames nobody maps are in no user page, so the program can reach only its own memory.
// System calls read and write guest memory through read()/write() here, which check the same rules and
// answer null/false (EFAULT) rather than throw.
import { BREAK_MODE } from '../cpu/cpu.ts';
import type { VM } from '../machine/vm.ts';

export const PAGE = 4096;
export const PROT_READ = 1, PROT_WRITE = 2, PROT_EXEC = 4;
const PTE_P = 1, PTE_RW = 2, PTE_US = 4, PTE_D = 0x40;

const ZERO_PAGE = new Uint8Array(PAGE);

/** Lowest address mmap hands out, and the top of the area it searches downward from. */
export const MMAP_MIN = 0x0001_0000;
export const MMAP_TOP = 0xb000_0000;
/** The initial stack: 8 MiB (RLIMIT_STACK) below the kernel's 3 GiB boundary. */
export const STACK_TOP = 0xc000_0000;
export const STACK_SIZE = 8 << 20;
/** Kernel space (above TASK_SIZE): the GDT's page is mapped here, for the CPU only (supervisor). */
export const KERNEL_BASE = 0xc000_0000;
export const GDT_LINEAR = 0xffff_f000;

export class AddressSpace {
  /** Physical address of the page directory (CR3). */
  readonly pageDirectory: number;
  /** Mapped user pages: page number → frame number * 8 + protection (PROT_NONE pages included). */
  private readonly pages = new Map<number, number>();
  /** Page-table frames per page-directory slot. */
  private readonly tables = new Map<number, number>();
  private nextFrame: number;
  private readonly frameEnd: number;
  private readonly freeFrames: number[] = [];
  private gdtFrame = -1;
  /** Pages the kernel side wrote (the loader, system calls): with the PTE's dirty bit, the pages that may be non-zero. */
  private readonly filled = new Set<number>();
  /** The lowest page of the stack mapped so far; it grows down on demand to STACK_TOP - STACK_SIZE (growStack). */
  stackLow = STACK_TOP;

  constructor(private readonly vm: VM, from?: AddressSpace) {
    this.frameEnd = Math.floor(vm.memory.ramSize / PAGE);
    if (from !== undefined) {
      // fork: the same frames at the same physical addresses, so the page tables copied with them stay
      // right. Only frames that may be non-zero are copied: a fresh frame is zero in both, and copying
      // untouched memory costs the host a page fault per page.
      if (vm.memory.ramSize < from.nextFrame * PAGE) throw new RangeError('out of guest memory');
      const src = from.vm.memory.ram, dst = vm.memory.ram;
      const copy = (frame: number): void => { dst.set(src.subarray(frame * PAGE, frame * PAGE + PAGE), frame * PAGE); };
      copy(from.pageDirectory / PAGE);
      for (const t of from.tables.values()) copy(t);
      if (from.gdtFrame >= 0) copy(from.gdtFrame);
      for (const [vpn, e] of from.pages) if (from.mayBeNonZero(vpn)) { copy(Math.floor(e / 8)); this.filled.add(vpn); }
      for (const [k, v] of from.pages) this.pages.set(k, v);
      for (const [k, v] of from.tables) this.tables.set(k, v);
      this.freeFrames.push(...from.freeFrames);
      this.nextFrame = from.nextFrame;
      this.gdtFrame = from.gdtFrame;
      this.pageDirectory = from.pageDirectory;
      this.stackLow = from.stackLow;
      return;
    }
    this.nextFrame = 1;
    this.pageDirectory = this.allocFrame() * PAGE;
  }

  /** Whether page `vpn` (mapped) may hold non-zero bytes: the kernel wrote it, or the CPU set its PTE's dirty bit. */
  private mayBeNonZero(vpn: number): boolean {
    if (this.filled.has(vpn)) return true;
    const table = this.tables.get(vpn >>> 10);
    return table !== undefined && (this.vm.memory.ram[table * PAGE + (vpn & 0x3ff) * 4] & PTE_D) !== 0;
  }

  /**
   * A fault at `addr` below the stack mapped so far but within its 8 MiB: map the pages down to it, as the
   * kernel grows a stack VMA. False: not a stack address.
   */
  growStack(addr: number): boolean {
    addr >>>= 0;
    if (addr >= this.stackLow || addr < STACK_TOP - STACK_SIZE) return false;
    const low = addr - (addr % PAGE);
    if (!this.isFree(low, this.stackLow - low) || !this.map(low, this.stackLow - low, PROT_READ | PROT_WRITE)) return false;
    this.stackLow = low;
    this.changed();
    return true;
  }

  /** A copy of this address space (its memory, page tables and protections) in `vm`'s fresh RAM: fork. */
  copyInto(vm: VM): AddressSpace { return new AddressSpace(vm, this); }

  /** execve: every user mapping goes (its frames zeroed and free again); the GDT's frame is dropped for the next load to map anew. */
  clear(): void {
    for (const vpn of [...this.pages.keys()]) this.unmap(vpn * PAGE, PAGE);
    if (this.gdtFrame >= 0) { this.setPte(GDT_LINEAR / PAGE, 0); this.freeFrame(this.gdtFrame); this.gdtFrame = -1; }
    this.stackLow = STACK_TOP;
    this.changed();
  }

  /** Bytes of RAM from 0 this address space has used (frames beyond were never handed out). */
  get extent(): number { return this.nextFrame * PAGE; }

  /** Frames left for mappings. */
  get freePages(): number { return this.frameEnd - this.nextFrame + this.freeFrames.length; }

  private allocFrame(): number {
    const f = this.freeFrames.pop();
    if (f !== undefined) return f;
    if (this.nextFrame >= this.frameEnd) throw new RangeError('out of guest memory');
    return this.nextFrame++;
  }

  private freeFrame(frame: number): void {
    this.vm.memory.writeBytes(frame * PAGE, ZERO_PAGE); // the next owner gets a zeroed page, and decoded code there is dropped
    this.freeFrames.push(frame);
  }

  private setPte(vpn: number, value: number): void {
    const pdi = vpn >>> 10;
    let table = this.tables.get(pdi);
    if (table === undefined) {
      if (value === 0) return;
      table = this.allocFrame();
      this.tables.set(pdi, table);
      this.vm.memory.write(this.pageDirectory + pdi * 4, 4, table * PAGE | PTE_P | PTE_RW | PTE_US);
    }
    this.vm.memory.write(table * PAGE + (vpn & 0x3ff) * 4, 4, value);
  }

  private pte(frame: number, prot: number): number {
    return prot === 0 ? 0 : (frame * PAGE) | PTE_P | PTE_US | (prot & PROT_WRITE ? PTE_RW : 0);
  }

  /** Map the GDT's page (supervisor only) and return its linear address. */
  mapGdt(): number {
    this.gdtFrame = this.allocFrame();
    this.setPte(GDT_LINEAR / PAGE, (this.gdtFrame * PAGE) | PTE_P | PTE_RW);
    return GDT_LINEAR;
  }

  /** Write a GDT entry (8 bytes) straight into its frame. */
  writeGdtEntry(index: number, lo: number, hi: number): void {
    this.vm.memory.write(this.gdtFrame * PAGE + index * 8, 4, lo);
    this.vm.memory.write(this.gdtFrame * PAGE + index * 8 + 4, 4, hi);
  }

  /** After page tables changed: drop the CPU's translations and end compiled code after this instruction. */
  changed(): void {
    this.vm.cpu.flushTlb(false);
    this.vm.cpu.breakBlock |= BREAK_MODE;
  }

  isMapped(vpn: number): boolean { return this.pages.has(vpn); }
  protOf(vpn: number): number | undefined { const e = this.pages.get(vpn); return e === undefined ? undefined : e & 7; }

  /** Whether every page of [addr, addr+len) is unmapped. */
  isFree(addr: number, len: number): boolean {
    for (let p = addr / PAGE; p < (addr + len) / PAGE; p++) if (this.pages.has(p)) return false;
    return true;
  }

  /** Map fresh zeroed pages over [addr, addr+len) (page-aligned), replacing what was there. False: out of memory. */
  map(addr: number, len: number, prot: number): boolean {
    const first = addr / PAGE, n = Math.ceil(len / PAGE);
    let fresh = 0;
    for (let i = 0; i < n; i++) if (!this.pages.has(first + i)) fresh++;
    if (fresh > this.freePages - 8) return false; // keep a few frames for page tables
    this.unmap(addr, len);
    for (let i = 0; i < n; i++) {
      const frame = this.allocFrame();
      this.pages.set(first + i, frame * 8 + prot);
      this.setPte(first + i, this.pte(frame, prot));
    }
    return true;
  }

  /** Unmap every page of [addr, addr+len); their frames go back, zeroed. */
  unmap(addr: number, len: number): void {
    const first = addr / PAGE, n = Math.ceil(len / PAGE);
    for (let i = 0; i < n; i++) {
      const e = this.pages.get(first + i);
      if (e === undefined) continue;
      const dirty = this.mayBeNonZero(first + i);
      this.pages.delete(first + i);
      this.filled.delete(first + i);
      this.setPte(first + i, 0);
      if (dirty) this.freeFrame(Math.floor(e / 8)); else this.freeFrames.push(Math.floor(e / 8));
    }
  }

  /** Change the protection of mapped pages; false (ENOMEM) if a page of the range is not mapped (nothing changes then). */
  protect(addr: number, len: number, prot: number): boolean {
    const first = addr / PAGE, n = Math.ceil(len / PAGE);
    for (let i = 0; i < n; i++) if (!this.pages.has(first + i)) return false;
    for (let i = 0; i < n; i++) {
      const frame = Math.floor(this.pages.get(first + i)! / 8);
      if (this.mayBeNonZero(first + i)) this.filled.add(first + i); // the new PTE starts clean
      this.pages.set(first + i, frame * 8 + prot);
      this.setPte(first + i, this.pte(frame, prot));
    }
    return true;
  }

  /** Move the pages of [from, from+len) to `to` (mremap): the frames move, no bytes are copied. */
  move(from: number, len: number, to: number): void {
    const n = Math.ceil(len / PAGE), a = from / PAGE, b = to / PAGE;
    const moved: Array<[number, number]> = [];
    for (let i = 0; i < n; i++) {
      const e = this.pages.get(a + i);
      if (e === undefined) continue;
      if (this.mayBeNonZero(a + i)) this.filled.add(b + i);
      this.filled.delete(a + i);
      this.pages.delete(a + i);
      this.setPte(a + i, 0);
      moved.push([b + i, e]);
    }
    for (const [vpn, e] of moved) {
      this.pages.set(vpn, e);
      this.setPte(vpn, this.pte(Math.floor(e / 8), e & 7));
    }
  }

  /** A free page-aligned range of `len` bytes for mmap, searched downward from MMAP_TOP (0: none). */
  findFree(len: number, below = MMAP_TOP): number {
    const n = Math.ceil(len / PAGE);
    let top = Math.floor(below / PAGE);
    while (top - n >= MMAP_MIN / PAGE) {
      let clash = -1;
      for (let p = top - 1; p >= top - n; p--) if (this.pages.has(p)) { clash = p; break; }
      if (clash < 0) return (top - n) * PAGE;
      top = clash;
    }
    return 0;
  }

  /**
   * Physical address of byte `addr` if the program may access it (`write`: its page is writable), else -1.
   * `kernel`: ignore protections (the loader writing read-only segments).
   */
  private phys(addr: number, write: boolean, kernel: boolean): number {
    const e = this.pages.get(Math.floor(addr / PAGE));
    if (e === undefined) return -1;
    const prot = e & 7;
    if (!kernel && (prot === 0 || (write && !(prot & PROT_WRITE)))) return -1;
    return Math.floor(e / 8) * PAGE + (addr % PAGE);
  }

  /** Bytes [addr, addr+len) of the program's memory, or null (EFAULT) if one of them is not readable. */
  read(addr: number, len: number): Uint8Array | null {
    addr >>>= 0;
    if (addr + len > 2 ** 32) return null;
    const out = new Uint8Array(len);
    for (let off = 0; off < len;) {
      const p = this.phys(addr + off, false, false);
      if (p < 0) return null;
      const n = Math.min(len - off, PAGE - ((addr + off) % PAGE));
      out.set(this.vm.memory.ram.subarray(p, p + n), off);
      off += n;
    }
    return out;
  }

  /** Write bytes into the program's memory; false (EFAULT, nothing written) if a page is not writable. */
  write(addr: number, bytes: Uint8Array, kernel = false): boolean {
    addr >>>= 0;
    if (addr + bytes.length > 2 ** 32) return false;
    for (let off = 0; off < bytes.length; off += PAGE - ((addr + off) % PAGE))
      if (this.phys(addr + off, true, kernel) < 0) return false;
    if (bytes.length > 0 && this.phys(addr + bytes.length - 1, true, kernel) < 0) return false;
    for (let off = 0; off < bytes.length;) {
      const p = this.phys(addr + off, true, kernel);
      const n = Math.min(bytes.length - off, PAGE - ((addr + off) % PAGE));
      this.filled.add(Math.floor((addr + off) / PAGE));
      this.vm.memory.writeBytes(p, bytes.subarray(off, off + n));
      off += n;
    }
    return true;
  }

  /** Whether [addr, addr+len) is all accessible (for a later write: writable). */
  check(addr: number, len: number, write: boolean): boolean {
    addr >>>= 0;
    if (len === 0) return true;
    if (addr + len > 2 ** 32) return false;
    for (let a = addr - (addr % PAGE); a < addr + len; a += PAGE) if (this.phys(Math.max(a, addr), write, false) < 0) return false;
    return true;
  }

  u32(addr: number): number | null {
    const b = this.read(addr, 4);
    return b === null ? null : (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }

  /** A NUL-terminated string (at most `max` bytes before the NUL), or null: EFAULT, or too long ('long'). */
  cString(addr: number, max = 4096): Uint8Array | null | 'long' {
    const out: number[] = [];
    addr >>>= 0;
    for (let i = 0; i <= max; i++) {
      const p = this.phys(addr + i, false, false);
      if (p < 0) return null;
      const c = this.vm.memory.ram[p];
      if (c === 0) return Uint8Array.from(out);
      out.push(c);
    }
    return 'long';
  }
}
