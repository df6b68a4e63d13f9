// What a VM knows about its RAM between snapshots, from the dirty-page log (memory.ts): which pages may be
// non-zero (so a full snapshot reads only those — reading a page the guest never touched costs the host a
// page fault, ~13 µs here, 0.4 s for 128 MiB), and which were written since the last snapshot it saved or
// was restored from (what a diff against that snapshot holds). Tracking starts at the first save (after one
// scan of RAM) or at a restore (the snapshot says which pages it stored).
import { PAGE_SIZE } from '../cpu/state.ts';
import { zeroPageTest } from '../state/zero-page.ts';
import type { PhysicalMemory } from './memory.ts';
import { sameId } from './snapshot.ts';

export class SnapshotTracker {
  /** Pages that may be non-zero (bitmap, bit p & 7 of byte p >> 3), while tracking. */
  private nonZero: Uint8Array | null = null;
  /** Pages written since the base snapshot. */
  private sinceBase: Uint8Array | null = null;
  /** The id of the snapshot the log counts from. */
  private baseId: Uint8Array | null = null;
  /** memory.dirtyLogTakes after this tracker's own last start or take: another value means pages went elsewhere. */
  private takes = -1;

  constructor(private readonly memory: PhysicalMemory) {}

  /** The pages a full snapshot must read: every page that may be non-zero (scans RAM once, then tracks). */
  written(): Uint8Array {
    if (!this.tracking()) this.startFrom(scanNonZero(this.memory.ram));
    this.fold();
    return this.nonZero!;
  }

  /**
   * Every page that may be non-zero, if the tracker knows (it tracks, and nobody else took the log):
   * what vm.destroy() must clear before the memory serves another VM. Undefined when it does not know.
   */
  mayBeNonZero(): Uint8Array | undefined {
    if (!this.tracking()) return undefined;
    this.fold();
    return this.nonZero!;
  }

  /** The pages written since snapshot `id`, if the log counts from it; else undefined. */
  dirtySince(id: Uint8Array): Uint8Array | undefined {
    if (!this.tracking() || this.baseId === null || !sameId(this.baseId, id)) return undefined;
    this.fold();
    return this.sinceBase!.slice();
  }

  /** A snapshot with this id was just saved (after written()/dirtySince()): diffs count from it now. */
  saved(id: Uint8Array): void {
    this.baseId = id.slice();
    this.sinceBase?.fill(0);
  }

  /** The VM was restored from a snapshot with this id whose pages outside `stored` are zero. */
  restored(id: Uint8Array, stored: Uint8Array): void {
    this.startFrom(stored.slice());
    this.baseId = id.slice();
  }

  /** Stop tracking (live migration takes the log over); the next save scans again. */
  stop(): void {
    if (this.memory.dirtyLogging) this.memory.stopDirtyLog();
    this.nonZero = this.sinceBase = this.baseId = null;
  }

  private startFrom(nonZero: Uint8Array): void {
    this.nonZero = nonZero;
    this.sinceBase = new Uint8Array(nonZero.length);
    this.baseId = null;
    this.memory.startDirtyLog();
    this.takes = this.memory.dirtyLogTakes;
  }

  /** Tracking, and nobody else has started, taken or stopped the log since (else its sets are incomplete). */
  private tracking(): boolean {
    return this.nonZero !== null && this.memory.dirtyLogging && this.memory.dirtyLogTakes === this.takes;
  }

  /** Move the log's pages into both sets (the log re-arms them). */
  private fold(): void {
    const dirty = this.memory.takeDirtyLog().bitmap;
    this.takes = this.memory.dirtyLogTakes;
    const bytes = new Uint8Array(dirty.buffer, dirty.byteOffset, this.nonZero!.length);
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) { this.nonZero![i] |= bytes[i]; this.sinceBase![i] |= bytes[i]; }
  }
}

/** Pages of `ram` that are not all zero, as a bitmap. */
function scanNonZero(ram: Uint8Array): Uint8Array {
  const pages = ram.length / PAGE_SIZE, out = new Uint8Array(Math.ceil(pages / 8)), isZero = zeroPageTest(ram);
  for (let p = 0; p < pages; p++) if (!isZero(p)) out[p >>> 3] |= 1 << (p & 7);
  return out;
}
