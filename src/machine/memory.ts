// Guest-physical memory: guest RAM inside the VM's one WebAssembly.Memory (after the CPU-state block and
// the page-flag table, before the code map), plus ROM and MMIO regions above RAM. Every access is checked
// against RAM's bounds before it touches the buffer, so no guest address can reach the state block or
// leave the guest's RAM.
// Physical addresses that are neither RAM, ROM nor MMIO are unassigned: reads give all-ones, writes drop.
import { CODE_CHUNK_SHIFT, codeMapOffset, MAX_RAM, PAGE_FLAGS_OFFSET, PAGE_SHIFT, PAGE_SIZE, RAM_OFFSET, TLB_TAG_OFFSET } from '../cpu/state.ts';
import { forEachPage } from '../state/page-bitmap.ts';
import { CODE_CHUNK_HAS_CODE, DirtyLog, type DirtyPages, PAGE_DIRTY_LOG } from './dirty-log.ts';
import type { LazyRam } from './lazy-ram.ts';
import { giveBackMemory, takeMemory } from './memory-pool.ts';

export { CODE_CHUNK_ARMED, CODE_CHUNK_HAS_CODE, DirtyPages, PAGE_DIRTY_LOG } from './dirty-log.ts';

/** A memory-mapped device region (offsets are relative to the region's base). */
export interface MmioDevice {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/**
 * A mapping outside guest RAM: ROM (read-only image), host RAM (a plain byte array, vm.mapRam) or an MMIO
 * device (`board`: one of the board's own, named — part of the machine, saved with it, not the user's to unmap).
 */
interface Region { base: number; end: number; rom?: Uint8Array; ram?: Uint8Array; mmio?: MmioDevice; board?: string }

/**
 * Page flag bit: the RAM page holds decoded or translated code (writes to its code chunks must invalidate
 * it). The other bit in use is dirty-log.ts's PAGE_DIRTY_LOG: whatever means "is code" tests this bit only.
 */
export const PAGE_HAS_CODE = 1;
/** Page flag bit, and the code-map bit set in each of its chunks: a mem-write hook watches the page (its stores take the slow path). */
export const PAGE_WATCH_WRITES = 4, CODE_CHUNK_WATCH_WRITES = 4;

export class PhysicalMemory {
  readonly wasm: WebAssembly.Memory;
  readonly buffer: ArrayBuffer;
  /** Views over the whole WebAssembly.Memory (index with RAM_OFFSET + physical address). */
  readonly u8: Uint8Array;
  readonly view: DataView;
  /** View over guest RAM only: ram[phys] is the byte at guest-physical address phys. */
  readonly ram: Uint8Array;
  readonly ramSize: number;
  /** One byte per RAM page: PAGE_HAS_CODE | PAGE_DIRTY_LOG. Zero: stores to the page take the fast path. */
  readonly pageFlags: Uint8Array;
  /**
   * One byte per 64-byte chunk of RAM (state.ts's codeMapOffset): bit 0 (CODE_CHUNK_HAS_CODE) where decoded
   * code lies, bit 1 (CODE_CHUNK_ARMED) in every chunk of a page armed for the dirty log. Zero: stores to
   * the chunk take the fast path.
   */
  readonly codeMap: Uint8Array;
  /** The code map as 32-bit words (16 per page), for whole-page bit operations. */
  readonly codeWords: Uint32Array;
  /** Which pages were written since the log was started or taken (see startDirtyLog). */
  private readonly dirtyLog: DirtyLog;
  private regions: Region[] = [];
  /** Called when a write hits a chunk of the code map (kept by the code cache). */
  onCodeWrite: (phys: number, size: number, byHost?: boolean) => void = () => {};
  /** The snapshot pages not yet copied in (a lazy restore: lazy-ram.ts), or null when RAM holds everything. */
  private lazy: LazyRam | null = null;
  /**
   * Told when a lazy restore starts (true), when the dirty log starts during one (true: it left its code
   * map unarmed, which stores on the fast paths need) and when its last page is in (false): the CPU's RAM
   * fast paths read and write `ram` directly only while nothing is pending, or through translations (cpu.ts's fastRamEnd).
   */
  onLazyChange: (pending: boolean) => void = () => {};
  /**
   * Accesses to unassigned physical space and writes to ROM (the VM's mem-unmapped and mem-prot hooks),
   * null without hooks. unassigned returns true when it mapped the address: the access is retried once.
   */
  onUnassigned: ((phys: number, size: number, write: boolean, value: number) => boolean) | null = null;
  onRomWrite: ((phys: number, size: number, value: number) => void) | null = null;

  constructor(ramSize: number) {
    if (!Number.isInteger(ramSize) || ramSize < 1 << 20 || ramSize > MAX_RAM || ramSize % 4096 !== 0)
      throw new RangeError(`RAM size must be a multiple of 4 KiB between 1 MiB and ${MAX_RAM / 2 ** 20} MiB`);
    const bytes = codeMapOffset(ramSize) + (ramSize >>> CODE_CHUNK_SHIFT);
    const pages = Math.ceil(bytes / 65536);
    this.wasm = takeMemory(pages);
    this.buffer = this.wasm.buffer;
    this.u8 = new Uint8Array(this.buffer);
    this.view = new DataView(this.buffer);
    this.ram = new Uint8Array(this.buffer, RAM_OFFSET, ramSize);
    this.ramSize = ramSize;
    this.pageFlags = new Uint8Array(this.buffer, PAGE_FLAGS_OFFSET, ramSize >>> PAGE_SHIFT);
    this.codeMap = new Uint8Array(this.buffer, codeMapOffset(ramSize), ramSize >>> CODE_CHUNK_SHIFT);
    this.codeWords = new Uint32Array(this.buffer, codeMapOffset(ramSize), ramSize >>> (CODE_CHUNK_SHIFT + 2));
    this.dirtyLog = new DirtyLog(this.pageFlags, this.codeWords);
  }

  /**
   * Give the memory back for a later VM (vm.destroy(); memory-pool.ts), zero again: the bytes below RAM
   * (CPU state, page flags, TLB, counters, jump cache), the code map, and the RAM pages of `mayBeNonZero`
   * (a page bitmap holding every page written since the memory was fresh: the snapshot tracker's) that are
   * in — a page a lazy restore has not copied in is still zero. Neither this object nor its views may be
   * used after: a new VM owns the memory.
   */
  recycle(mayBeNonZero: Uint8Array): void {
    this.u8.fill(0, 0, PAGE_FLAGS_OFFSET + this.pageFlags.length);
    this.u8.fill(0, TLB_TAG_OFFSET, RAM_OFFSET);
    this.codeMap.fill(0);
    const lazy = this.lazy;
    forEachPage(mayBeNonZero, (p) => { if (lazy === null || !lazy.isPending(p)) this.ram.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE); });
    this.lazy = null;
    giveBackMemory(this.wasm);
  }

  // ---- lazy restore (lazy-ram.ts) ----
  /**
   * Take RAM's snapshot pages from `lazy` as they are first touched (the RAM must be as a fresh VM's: zero).
   * Until every page is in, `ram`, `u8` and `view` must not be read directly: use read/readBytes, or call
   * loadAllPages() first.
   */
  restoreLazily(lazy: LazyRam): void {
    if (lazy.pending === 0) return;
    this.lazy = lazy;
    this.onLazyChange(true);
  }

  /** Snapshot pages a lazy restore has not copied in yet (0 when RAM holds everything). */
  get pendingPages(): number { return this.lazy === null ? 0 : this.lazy.pending; }

  /** Copy in the pending pages that RAM bytes [phys, phys + length) touch (nothing to do unless a lazy restore is in progress). */
  ensure(phys: number, length: number): void {
    const lazy = this.lazy;
    if (lazy === null || length <= 0 || phys >= this.ramSize) return;
    const last = Math.min(phys + length, this.ramSize) - 1;
    for (let p = phys >>> PAGE_SHIFT; p <= last >>> PAGE_SHIFT; p++) if (lazy.isPending(p)) lazy.load(p, this.ram);
    if (lazy.pending === 0) this.lazyDone();
  }

  /** Copy in every pending page (before `ram` is read whole). */
  loadAllPages(): void {
    if (this.lazy === null) return;
    this.lazy.loadAll(this.ram);
    this.lazyDone();
  }

  /**
   * Compiled code is about to run (it stores through the code map's test alone): arm the dirty log's code
   * map if a lazy restore left that for later (dirty-log.ts's completeArming).
   */
  prepareForCompiledCode(): void { this.dirtyLog.completeArming(); }

  private lazyDone(): void {
    this.lazy = null;
    this.dirtyLog.completeArming(); // stores take their fast paths again from here
    this.onLazyChange(false);
  }

  // ---- dirty-page log (dirty-log.ts): KVM_MEM_LOG_DIRTY_PAGES / KVM_GET_DIRTY_LOG ----
  /** True between startDirtyLog() and stopDirtyLog(). */
  get dirtyLogging(): boolean { return this.dirtyLog.active; }

  /**
   * Start recording which RAM pages are written — by the guest (both engines, every store path, the page
   * walker's accessed/dirty bits) or the host (writeBytes, write, write8). Restarting empties the set.
   * Writes straight into `ram`/`u8`/`view` are not seen (as they are not by the code cache).
   */
  startDirtyLog(): void {
    this.dirtyLogTakes++;
    this.dirtyLog.start(this.lazy !== null);
    if (this.lazy !== null) this.onLazyChange(true);
  }

  /**
   * Counts starts, takes and stops of the log: the log has one set, so a consumer that takes it (the VM's
   * snapshot tracker) can tell when someone else took pages from under it.
   */
  dirtyLogTakes = 0;

  /**
   * The pages written since startDirtyLog() or the previous take, re-arming exactly those in the same step
   * (KVM_GET_DIRTY_LOG): a write after this call is in the next take's set. Throws if the log is off.
   */
  takeDirtyLog(): DirtyPages { this.dirtyLogTakes++; return this.dirtyLog.take(); }

  /** Stop logging (stores run at full speed everywhere again); returns the pages written since the last start/take. */
  stopDirtyLog(): DirtyPages { this.dirtyLogTakes++; return this.dirtyLog.stop(); }

  /**
   * RAM bytes [phys, phys + length) (inside RAM) are about to be written by a path that bypasses write()
   * (the interpreter's bulk REP MOVS/STOS): record their pages in the dirty log if it is on.
   */
  logWrite(phys: number, length: number): void {
    if (this.dirtyLog.active && length > 0) this.dirtyLog.mark(phys, length);
  }

  /**
   * Does a write to RAM bytes [phys, phys + length) (length ≥ 1, inside RAM) touch decoded code? Pages
   * without PAGE_HAS_CODE are skipped whole; in a page with code only the chunks written are looked at.
   */
  touchesCode(phys: number, length: number): boolean {
    const flags = this.pageFlags, map = this.codeMap, last = phys + length - 1;
    for (let p = phys >>> PAGE_SHIFT; p <= last >>> PAGE_SHIFT; p++) {
      if ((flags[p] & PAGE_HAS_CODE) === 0) continue;
      const to = Math.min(last, p * PAGE_SIZE + PAGE_SIZE - 1) >>> CODE_CHUNK_SHIFT;
      for (let c = Math.max(phys, p * PAGE_SIZE) >>> CODE_CHUNK_SHIFT; c <= to; c++) if ((map[c] & CODE_CHUNK_HAS_CODE) !== 0) return true;
    }
    return false;
  }

  // ---- pages a mem-write hook watches (hooks.ts): the store paths leave their fast path on them ----
  /** Mark RAM pages [first, last] (clipped to RAM) as watched. */
  watchWrites(first: number, last: number): void {
    const words = this.codeWords, pages = this.pageFlags.length;
    for (let p = Math.max(0, first); p <= last && p < pages; p++) {
      if ((this.pageFlags[p] & PAGE_WATCH_WRITES) !== 0) continue;
      this.pageFlags[p] |= PAGE_WATCH_WRITES;
      for (let i = p * 16, end = i + 16; i < end; i++) words[i] |= 0x04040404;
    }
  }

  /** Unmark every watched page (the hooks changed: the VM marks what the new set covers). */
  unwatchWrites(): void {
    const flags = this.pageFlags, words = this.codeWords;
    for (let p = 0; p < flags.length; p++) {
      if ((flags[p] & PAGE_WATCH_WRITES) === 0) continue;
      flags[p] &= ~PAGE_WATCH_WRITES;
      for (let i = p * 16, end = i + 16; i < end; i++) words[i] &= ~0x04040404;
    }
  }

  /** Map a read-only image at a physical address outside RAM (e.g. the BIOS at 0xFFFF0000). */
  mapRom(base: number, image: Uint8Array): void {
    this.addRegion({ base, end: base + image.length, rom: image });
  }

  /**
   * Map an MMIO device at [base, base + size) outside RAM. `board` names a device of the board (the APICs):
   * it is part of the machine — saved with its state, never unmapped — where other MMIO is a host object.
   */
  mapMmio(base: number, size: number, device: MmioDevice, board?: string): void {
    this.addRegion({ base, end: base + size, mmio: device, board });
  }

  /**
   * Map more RAM at [base, base + size) outside the main RAM: host memory reached through the slow path
   * (compiled code and the fast paths see the main RAM only). Returns the bytes, zeroed.
   */
  mapRam(base: number, size: number): Uint8Array {
    const ram = new Uint8Array(size);
    this.addRegion({ base, end: base + size, ram });
    return ram;
  }

  /** Remove the mapping that starts at `base` (not the main RAM); false if none does. */
  unmap(base: number): boolean {
    const i = this.regions.findIndex((r) => r.base === base >>> 0);
    if (i < 0) return false;
    if (this.regions[i].board !== undefined) throw new RangeError(`0x${(base >>> 0).toString(16)} is the board's ${this.regions[i].board}: it cannot be unmapped`);
    this.regions.splice(i, 1);
    return true;
  }

  /** Every mapping: the main RAM first, then the regions by base. */
  mappings(): { base: number; size: number; kind: 'ram' | 'rom' | 'mmio' }[] {
    return [{ base: 0, size: this.ramSize, kind: 'ram' as const }, ...[...this.regions].sort((a, b) => a.base - b.base)
      .map((r) => ({ base: r.base, size: r.end - r.base, kind: r.rom ? 'rom' as const : r.ram ? 'ram' as const : 'mmio' as const }))];
  }

  private addRegion(r: Region): void {
    const hex = (v: number): string => `0x${v.toString(16)}`;
    if (!Number.isInteger(r.base) || r.base < 0 || r.end > 2 ** 32 || r.end <= r.base) throw new RangeError(`mapping [${hex(r.base)}, ${hex(r.end)}) is empty or leaves the 4 GiB physical space`);
    const clash = r.base < this.ramSize ? { base: 0, end: this.ramSize } : this.regions.find((o) => r.base < o.end && o.base < r.end);
    if (clash !== undefined || r.base < this.ramSize) {
      const o = clash ?? { base: 0, end: this.ramSize };
      throw new RangeError(`mapping [${hex(r.base)}, ${hex(r.end)}) overlaps ${o.base === 0 && o.end === this.ramSize ? 'guest RAM' : 'the mapping'} [${hex(o.base)}, ${hex(o.end)})`);
    }
    this.regions.push(r);
  }

  /** Bases of the extra RAM regions (vm.mapRam; not in snapshots). */
  extraRamBases(): number[] { return this.regions.flatMap((r) => (r.ram ? [r.base] : [])); }

  /** The ROM images mapped above RAM (guest state: vm-state.ts saves them). */
  roms(): { base: number; image: Uint8Array }[] { return this.regions.flatMap((r) => (r.rom ? [{ base: r.base, image: r.rom }] : [])); }

  /** Bases of the MMIO regions the host mapped (their devices are host objects a snapshot cannot hold). */
  mmioBases(): number[] { return this.regions.flatMap((r) => (r.mmio && r.board === undefined ? [r.base] : [])); }

  /** Is `phys` in an MMIO region (a device's registers)? */
  isMmio(phys: number): boolean { return this.region(phys >>> 0)?.mmio !== undefined; }

  /** Is `phys` in a ROM region (reading it has no side effect, unlike MMIO)? */
  isRom(phys: number): boolean { return this.region(phys >>> 0)?.rom !== undefined; }

  /** Is `phys` in ROM or extra RAM outside the main RAM (reading it has no side effect)? */
  isPlainRegion(phys: number): boolean { const r = this.region(phys >>> 0); return r?.rom !== undefined || r?.ram !== undefined; }

  private region(phys: number): Region | undefined {
    for (const r of this.regions) if (phys >= r.base && phys < r.end) return r;
    return undefined;
  }

  // ---- byte-granular accessors (the slow path; the CPU inlines its own RAM fast path) ----
  read8(phys: number): number {
    phys >>>= 0;
    if (phys < this.ramSize) {
      if (this.lazy !== null) this.ensure(phys, 1);
      return this.ram[phys];
    }
    const r = this.region(phys);
    if (r?.rom) return r.rom[phys - r.base];
    if (r?.ram) return r.ram[phys - r.base];
    if (r?.mmio) return r.mmio.read(phys - r.base, 1) & 0xff;
    if (this.onUnassigned !== null && this.onUnassigned(phys, 1, false, 0) && this.isMapped(phys)) return this.read8(phys);
    return 0xff;
  }

  private isMapped(phys: number): boolean { return phys < this.ramSize || this.region(phys) !== undefined; }

  write8(phys: number, value: number): void {
    phys >>>= 0;
    if (phys < this.ramSize) {
      if (this.lazy !== null) this.ensure(phys, 1);
      const f = this.pageFlags[phys >>> PAGE_SHIFT];
      if (f !== 0) {
        if ((f & PAGE_DIRTY_LOG) !== 0) this.dirtyLog.markPage(phys >>> PAGE_SHIFT);
        if ((f & PAGE_HAS_CODE) !== 0 && (this.codeMap[phys >>> CODE_CHUNK_SHIFT] & CODE_CHUNK_HAS_CODE) !== 0) this.onCodeWrite(phys, 1);
      }
      this.ram[phys] = value;
      return;
    }
    const r = this.region(phys);
    if (r?.ram) r.ram[phys - r.base] = value;
    else if (r?.mmio) r.mmio.write(phys - r.base, 1, value & 0xff);
    else if (r?.rom) { if (this.onRomWrite !== null) this.onRomWrite(phys, 1, value & 0xff); }
    else if (this.onUnassigned !== null && this.onUnassigned(phys, 1, true, value & 0xff) && this.isMapped(phys)) this.write8(phys, value);
  }

  /** Little-endian read of 1, 2 or 4 bytes that may straddle RAM and other regions. */
  read(phys: number, size: 1 | 2 | 4): number {
    phys >>>= 0;
    if (phys + size <= this.ramSize) {
      if (this.lazy !== null) this.ensure(phys, size);
      if (size === 1) return this.ram[phys];
      if (size === 2) return this.view.getUint16(RAM_OFFSET + phys, true);
      return this.view.getInt32(RAM_OFFSET + phys, true);
    }
    const r = this.region(phys);
    if (r?.mmio && phys + size <= r.end) return r.mmio.read(phys - r.base, size);
    // A whole access to unassigned space is one event for the hook (not one per byte).
    if (r === undefined && size > 1 && this.onUnassigned !== null && phys >= this.ramSize && !this.isMapped(phys + size - 1) &&
      !(this.onUnassigned(phys, size, false, 0) && this.isMapped(phys))) return size === 4 ? -1 : 0xffff;
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = (v << 8) | this.read8((phys + i) >>> 0);
    return size === 4 ? v | 0 : v;
  }

  write(phys: number, size: 1 | 2 | 4, value: number): void {
    phys >>>= 0;
    if (phys + size <= this.ramSize) {
      if (this.lazy !== null) this.ensure(phys, size);
      if (((this.pageFlags[phys >>> PAGE_SHIFT] | this.pageFlags[(phys + size - 1) >>> PAGE_SHIFT]) & PAGE_DIRTY_LOG) !== 0) this.dirtyLog.mark(phys, size);
      if (this.touchesCode(phys, size)) this.onCodeWrite(phys, size);
      if (size === 1) this.ram[phys] = value;
      else if (size === 2) this.view.setUint16(RAM_OFFSET + phys, value, true);
      else this.view.setInt32(RAM_OFFSET + phys, value, true);
      return;
    }
    const r = this.region(phys);
    if (r?.mmio && phys + size <= r.end) { r.mmio.write(phys - r.base, size, value); return; }
    if (r?.rom && phys + size <= r.end) { if (this.onRomWrite !== null) this.onRomWrite(phys, size, size === 4 ? value >>> 0 : value & 0xffff); return; }
    if (r === undefined && size > 1 && this.onUnassigned !== null && phys >= this.ramSize && !this.isMapped(phys + size - 1) &&
      !(this.onUnassigned(phys, size, true, size === 4 ? value >>> 0 : value & 0xffff) && this.isMapped(phys))) return;
    for (let i = 0; i < size; i++) this.write8((phys + i) >>> 0, value >>> (8 * i));
  }

  /** Copy bytes into guest-physical memory (loaders, the API); RAM and ROM-free space only. */
  writeBytes(phys: number, bytes: Uint8Array): void {
    if (phys >= 0 && phys + bytes.length <= this.ramSize) {
      this.ensure(phys, bytes.length);
      this.logWrite(phys, bytes.length);
      this.ram.set(bytes, phys);
      // A loader or the API, not the guest; the code cache drops exactly the blocks whose bytes changed.
      if (bytes.length > 0 && this.touchesCode(phys, bytes.length)) this.onCodeWrite(phys, bytes.length, true);
      return;
    }
    for (let i = 0; i < bytes.length; i++) this.write8(phys + i, bytes[i]);
  }

  readBytes(phys: number, length: number): Uint8Array {
    if (phys >= 0 && phys + length <= this.ramSize) {
      this.ensure(phys, length);
      return this.ram.slice(phys, phys + length);
    }
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8(phys + i);
    return out;
  }
}
