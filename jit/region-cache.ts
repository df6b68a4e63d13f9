// The translation worker's persistent cache of region translations (as ccache keeps object files, or V8
// its code cache), so that a later run of the same guest code installs its regions without translating
// them — and without loading binaryen at all when every region hits.
//
// An entry is keyed by what a region's code can depend on besides the blocks chosen: the bytes of the
// region's span of guest code (region.ts; only regions of paging-off code are cached) and the start of
// the next (where a block's last instruction may end), the span's address, the paging mode, the RAM size,
// and the translator itself (the worker bundle's text). Which blocks a job holds varies from run to run
// (it depends on how far the interpreter got), so an entry keeps the blocks it was translated from: a job
// whose blocks it covers is served from it; otherwise the union of both is translated and stored, so the
// entry grows to the span's whole hot code.
//
// One file per entry, `<key>.region`:
//   u32 LE n | n bytes: magic "XJRC", u32 LE FORMAT, JSON header (the blocks and what RegionOutput says)
//   | the WASM binary | SHA-256 of the key and every byte before it (32 bytes)
// Compiled code runs unchecked, so an entry is used only whole and as written: the digest (which also
// binds the file to its key), the format, then the header's shape are checked on every load, and an
// entry failing any of them is deleted and translated afresh (one flipped bit once gave a wrong result).
// The directory is AcceleratorConfig.cacheDir (the CLI's X86JIT_JIT_CACHE), default ~/.cache/x86jit/regions.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CompiledRegionData, TranslateJob } from './compile.ts';
import { FLAT_SPAN_SHIFT } from './region.ts';
import type { RegionBlock } from './translate.ts';

/** Entries before the directory is emptied and starts over (a crude bound on its size). */
const MAX_ENTRIES = 4096;
const MAGIC = 'XJRC';
/** The entry layout's version: bump it on any change to what put() writes (an entry of another version misses). */
export const FORMAT = 3;
const DIGEST = 32;

export interface CacheEntry { blocks: RegionBlock[]; data: CompiledRegionData }

/** Where the cache lives when nobody says (the CLI honours XDG_CACHE_HOME and X86JIT_JIT_CACHE). */
export const defaultCacheDir = (): string => join(homedir(), '.cache', 'x86jit', 'regions');

const digest = (key: string, body: Uint8Array): Buffer => createHash('sha256').update(key).update(body).digest();

/** The bytes of `entry`'s file under `key`. */
export function encodeEntry(key: string, entry: CacheEntry): Buffer {
  const { binary, ms: _ms, ...data } = entry.data;
  const json = Buffer.from(JSON.stringify({ blocks: entry.blocks, data }), 'utf8');
  const head = Buffer.alloc(12);
  head.writeUInt32LE(8 + json.length, 0);
  head.write(MAGIC, 4, 'latin1');
  head.writeUInt32LE(FORMAT, 8);
  const body = Buffer.concat([head, json, binary]);
  return Buffer.concat([body, digest(key, body)]);
}

/** The entry in file bytes `buf` read for `key` and the span at `spanStart`, or null (damaged, another format, or not of that span). */
export function decodeEntry(key: string, buf: Buffer, spanStart: number): CacheEntry | null {
  if (buf.length < 12 + DIGEST) return null;
  const body = buf.subarray(0, buf.length - DIGEST);
  if (!digest(key, body).equals(buf.subarray(body.length))) return null;
  const n = body.readUInt32LE(0);
  if (body.toString('latin1', 4, 8) !== MAGIC || body.readUInt32LE(8) !== FORMAT || n < 8 || 4 + n > body.length) return null;
  let header: unknown;
  try {
    header = JSON.parse(body.toString('utf8', 12, 4 + n));
  } catch {
    return null;
  }
  const binary = new Uint8Array(body.subarray(4 + n));
  if (!validHeader(header, spanStart) || !isWasm(binary)) return null;
  return { blocks: header.blocks, data: { ...header.data, binary, ms: 0 } };
}

const isWasm = (b: Uint8Array): boolean => b.length >= 8 && Buffer.from(b.subarray(0, 8)).equals(Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
const isNat = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Is `h` a header as put() writes it for the span at `spanStart`? Straight blocks of the span (each op at the
 * previous one's `next`, `next` = eip + length), distinct starts, and helper tables of one length whose
 * [block, op] pairs exist. (Behind a matching digest this only fails for a writer that kept FORMAT.)
 */
function validHeader(h: unknown, spanStart: number): h is { blocks: RegionBlock[]; data: Omit<CompiledRegionData, 'binary' | 'ms'> } {
  if (!isObj(h) || !Array.isArray(h.blocks) || h.blocks.length === 0 || !isObj(h.data)) return false;
  const starts = new Set<number>();
  const inSpan = (eip: number): boolean => eip - spanStart >= 0 && eip - spanStart < 1 << FLAT_SPAN_SHIFT;
  for (const b of h.blocks as unknown[]) {
    if (!isObj(b) || !isNat(b.start) || !inSpan(b.start) || starts.has(b.start) || !Array.isArray(b.ops) || b.ops.length === 0) return false;
    starts.add(b.start);
    let eip = b.start;
    for (const o of b.ops as unknown[]) {
      if (!isObj(o) || !isObj(o.ins) || typeof o.ins.op !== 'string' || !isNat(o.ins.length) || o.ins.length < 1 || o.ins.length > 15) return false;
      if (o.eip !== eip || !inSpan(eip) || o.next !== eip + o.ins.length) return false;
      eip = o.next;
    }
  }
  const d = h.data, blocks = h.blocks as RegionBlock[];
  if (![d.native, d.fallback, d.segments, d.instructions].every(isNat)) return false;
  const { helperAt: at, helperLast: last, helperIndex: index } = d;
  if (!Array.isArray(at) || !Array.isArray(last) || !Array.isArray(index) || last.length !== at.length || index.length !== at.length) return false;
  // Entries are segment starts: EIPs of the region's own instructions (the jump cache points them at it).
  const eips = new Set(blocks.flatMap((b) => b.ops.map((o) => o.eip | 0)));
  if (!Array.isArray(d.entries) || !d.entries.every((e: unknown) => typeof e === 'number' && eips.has(e))) return false;
  return at.every((p: unknown) => Array.isArray(p) && p.length === 2 && isNat(p[0]) && p[0] < blocks.length && isNat(p[1]) && p[1] < blocks[p[0]].ops.length)
    && last.every((v: unknown) => typeof v === 'boolean') && index.every(isNat);
}

export class RegionCache {
  private constructor(private readonly dir: string, private readonly version: string) {}

  /** The cache in `dir` (created if need be), or null when the directory cannot be made. */
  static open(dir: string, version: string): RegionCache | null {
    try {
      mkdirSync(dir, { recursive: true });
      if (readdirSync(dir).length > MAX_ENTRIES) { rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true }); }
      return new RegionCache(dir, version);
    } catch {
      return null;
    }
  }

  /** The entry's key for a job that carries its span's bytes, or undefined (no bytes: not cached). */
  key(job: TranslateJob): string | undefined {
    if (job.spanBytes === undefined) return undefined;
    const h = createHash('sha256').update(this.version);
    h.update(JSON.stringify({ ramSize: job.ramSize, paging: job.paging, spanStart: job.spanStart, loops: job.loops === true, counter: job.counter ?? -1 }));
    h.update(job.spanBytes);
    return h.digest('hex').slice(0, 40);
  }

  /** The entry for `key` (of the span at `spanStart`), or null: absent, or unusable — then deleted (put() replaces it). */
  get(key: string, spanStart: number): CacheEntry | null {
    const file = join(this.dir, `${key}.region`);
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch {
      return null;
    }
    const entry = decodeEntry(key, buf, spanStart);
    if (entry === null) {
      try { rmSync(file, { force: true }); } catch { /* put() replaces it, or the next run finds it unusable again */ }
    }
    return entry;
  }

  /** Store an entry (written under a temporary name, then renamed: readers never see half a file). */
  put(key: string, entry: CacheEntry): void {
    try {
      const tmp = join(this.dir, `${key}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
      writeFileSync(tmp, encodeEntry(key, entry));
      renameSync(tmp, join(this.dir, `${key}.region`));
    } catch {
      /* a cache that cannot be written only costs the next run a translation */
    }
  }
}
