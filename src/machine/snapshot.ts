// A VM's state (vm-state.ts) as a snapshot file (src/state/snapshot-file.ts) and back: one JSON section per
// state part, each with its own version, and RAM. Reading checks everything — the file's framing and
// checksum, each part's schema, every device's state — before the VM it builds is handed out, so a bad
// file is refused with one SnapshotError line and never leaves a half-restored VM behind.
import { CS } from '../decoder/instruction.ts';
import { EIP, SEG_SEL, segSlot } from '../cpu/state.ts';
import { StateError } from './device-state.ts';
import {
  applyRam, type Compression, type DecodedSnapshot, type DecodeOptions, decodeSnapshot, encodeSnapshot, jsonSection, readJsonSection, type Section,
  snapshotId, SnapshotError,
} from '../state/snapshot-file.ts';
import { LazyRam } from './lazy-ram.ts';
import { applyState, captureState, checkVmState, STATE_PARTS, type VmState } from './vm-state.ts';
import type { VM } from './vm.ts';

/** Section tags of the state parts (RAM is the file layer's own 'RAM '). */
const TAGS = { config: 'CONF', cpu: 'CPU0', time: 'TIME', roms: 'ROMS', devices: 'DEVS' } as const;
/** Layout version of the devices section itself (each device's state carries its own version inside). */
const DEVICES_VERSION = 1;
/** What this x86jit reads: tag → newest version. */
const SUPPORTED: Record<string, number> = {
  ...Object.fromEntries(Object.entries(STATE_PARTS).map(([name, p]) => [TAGS[name as keyof typeof STATE_PARTS], p.version])),
  [TAGS.devices]: DEVICES_VERSION,
};

export interface SaveOptions {
  /**
   * A diff: only the pages written since the snapshot with this id (snapshotId of its file) are stored. The
   * VM must have logged its writes since then (it does from VM.fromState of that file, or from the saveState
   * that wrote it).
   */
  since?: Uint8Array;
  /** RAM compression (default Brotli 1, see snapshot-file.ts; none where the platform has no node:zlib: the core entry alone). */
  compression?: Compression;
  /** Store no RAM page (the state alone: live migration sends RAM page by page before it). */
  withoutRam?: boolean;
  level?: number;
}

/** The pages a diff since `base` must hold, as a page bitmap; given by the VM's dirty log. */
export type DirtySince = (base: Uint8Array) => Uint8Array | undefined;

/**
 * Write `vm`'s state as a snapshot file. `written`: a bitmap of the pages written since the VM was created
 * (pages outside it are zero and are not read: reading never-touched memory costs the host a page fault each).
 */
export function writeSnapshot(vm: VM, opts: SaveOptions, written: Uint8Array | undefined, dirtySince: DirtySince): Uint8Array {
  let state: VmState;
  try { state = captureState(vm); } catch (e) { throw e instanceof StateError ? new SnapshotError(`cannot save: ${e.message}`) : e; }
  const sections: Section[] = [
    jsonSection(TAGS.config, STATE_PARTS.config.version, state.config),
    jsonSection(TAGS.cpu, STATE_PARTS.cpu.version, state.cpu),
    jsonSection(TAGS.time, STATE_PARTS.time.version, state.time),
    jsonSection(TAGS.roms, STATE_PARTS.roms.version, state.roms),
    jsonSection(TAGS.devices, DEVICES_VERSION, state.devices),
  ];
  const enc = { compression: opts.compression, level: opts.level };
  if (opts.withoutRam) return encodeSnapshot({ kind: 'full', sections, ram: { bytes: vm.memory.ram, written: new Uint8Array(Math.ceil(vm.memory.ramSize / 4096 / 8)) } }, enc);
  if (opts.since === undefined) {
    vm.memory.loadAllPages(); // a lazily restored guest: its pages not yet touched are in the snapshot too
    return encodeSnapshot({ kind: 'full', sections, ram: { bytes: vm.memory.ram, written } }, enc);
  }
  // A diff reads only pages written since its base: each was copied in (if lazily restored) before its write.
  const dirty = dirtySince(opts.since);
  if (dirty === undefined) throw new SnapshotError('cannot write a diff: this VM has not logged its writes since that snapshot (restore it, or save it from this VM, first)');
  return encodeSnapshot({ kind: 'diff', baseId: opts.since, sections, ram: { bytes: vm.memory.ram, written: dirty } }, enc);
}

/** A snapshot chain read and checked: the state, and what writes its RAM into a VM. */
export interface ReadSnapshot {
  state: VmState;
  /** The id of the last file of the chain (what a diff written next names as its base). */
  id: Uint8Array;
  /** Pages that may be non-zero after applyRam: those any file of the chain stored (bitmap). */
  nonZero: Uint8Array;
  /** Write the chain's RAM into `ram` (fresh, zero memory of state.config.memory bytes). */
  applyRam(ram: Uint8Array): void;
  /** The chain's RAM to be copied in page by page as it is touched (lazy-ram.ts), into fresh, zero memory. */
  lazyRam(wholeChunks?: boolean): LazyRam;
}

/**
 * Read a full snapshot, or a full snapshot followed by diffs, each diff naming the one before it as its
 * base. Throws SnapshotError only.
 */
export function readSnapshot(files: readonly Uint8Array[], opts: DecodeOptions = {}): ReadSnapshot {
  if (files.length === 0) throw new SnapshotError('no snapshot given');
  const chain: DecodedSnapshot[] = [];
  for (const [i, bytes] of files.entries()) {
    const d = decodeSnapshot(bytes, SUPPORTED, opts);
    if (i === 0 && d.kind !== 'full') throw new SnapshotError('the first snapshot of a chain must be a full snapshot (this one is a diff: give its base first)');
    if (i > 0) {
      if (d.kind !== 'diff') throw new SnapshotError(`snapshot ${i + 1} of the chain is a full snapshot, not a diff`);
      if (!sameId(d.baseId!, chain[i - 1].id)) throw new SnapshotError(`snapshot ${i + 1} of the chain is a diff of another snapshot, not of snapshot ${i}`);
    }
    if (i > 0 && d.ram.size !== chain[0].ram.size) throw new SnapshotError(`snapshot ${i + 1} of the chain has a different RAM size`);
    chain.push(d);
  }
  const last = chain[chain.length - 1];
  const state = parseState(last);
  if (state.config.memory !== last.ram.size) throw new SnapshotError(`snapshot is damaged: its configuration says ${state.config.memory} bytes of RAM, its RAM section ${last.ram.size}`);
  const nonZero = chain[0].ram.stored.slice();
  for (const d of chain.slice(1)) d.ram.stored.forEach((b, i) => { nonZero[i] |= b; });
  return {
    state,
    id: last.id,
    nonZero,
    applyRam(ram) {
      chain.forEach((d, i) => applyRam(d, ram, { targetIsZero: i === 0 }));
    },
    lazyRam: (wholeChunks = false) => new LazyRam(chain.map((d) => d.ram), wholeChunks),
  };
}

/**
 * Put a read snapshot into `vm` (created with its memory size); StateError becomes SnapshotError. `lazy`:
 * RAM pages are copied in as the guest (or the host) first touches them, not now (memory.ts's restoreLazily);
 * 'chunk': a touched page's whole chunk (VM.fromState's RestoreOptions).
 */
export function restoreSnapshot(vm: VM, snap: ReadSnapshot, lazy: boolean | 'chunk' = false): void {
  if (!lazy) snap.applyRam(vm.memory.ram);
  try { applyState(vm, snap.state); } catch (e) { throw e instanceof StateError ? new SnapshotError(`snapshot is damaged: ${e.message}`) : e; }
  if (lazy) vm.memory.restoreLazily(snap.lazyRam(lazy === 'chunk'));
}

/** What one snapshot file holds (`x86jit snapshot --info`): its framing, RAM layout and state. Throws SnapshotError. */
export function inspectSnapshot(bytes: Uint8Array) {
  const d = decodeSnapshot(bytes, SUPPORTED);
  const state = parseState(d);
  const r = d.ram;
  const cs = state.cpu.slots[segSlot(CS, SEG_SEL)] & 0xffff, eip = state.cpu.slots[EIP] >>> 0;
  return {
    formatVersion: d.formatVersion, kind: d.kind, id: d.id, baseId: d.baseId, state,
    sections: [...d.sections, { tag: 'RAM ', version: r.version }].map((s) => ({ tag: s.tag, version: s.version })),
    ram: { pages: r.pageCount, stored: r.storedCount, zeroed: r.zeroedCount, compression: r.compression, pagesPerChunk: r.pagesPerChunk, chunks: r.chunkCount },
    csEip: `${cs.toString(16).padStart(4, '0')}:${eip.toString(16).padStart(8, '0')}`,
  };
}

function parseState(d: DecodedSnapshot): VmState {
  const parts: Record<string, unknown> = {};
  for (const [name, tag] of Object.entries(TAGS)) {
    const s = d.sections.find((x) => x.tag === tag);
    if (s === undefined) throw new SnapshotError(`snapshot is damaged: section ${tag} is missing`);
    parts[name] = readJsonSection(s);
  }
  try { checkVmState(parts); } catch (e) { throw e instanceof StateError ? new SnapshotError(`snapshot is damaged: ${e.message}`) : e; }
  return parts as unknown as VmState;
}

export const sameId = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export { snapshotId, SnapshotError };
