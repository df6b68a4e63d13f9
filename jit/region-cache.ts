// The translation worker's persistent cache of region translations (as ccache keeps object files, or V8
// its code cache), so that a later run of the same guest code installs its regions without translating
// them — and without loading binaryen at all when every region hits.
//
// An entry is keyed by what a region's code can depend on besides the blocks chosen: the bytes of the
// guest page (and the start of the next, where a block's last instruction may end), the linear page,
// the paging mode, the RAM size, and the translator itself (the worker bundle's text). Which blocks a
// job holds varies from run to run (it depends on how far the interpreter got), so an entry keeps the
// blocks it was translated from: a job whose blocks it covers is served from it; otherwise the union of
// both is translated and stored, so the entry grows to the page's whole hot code. One file per entry:
// a 4-byte length, a JSON header (the blocks and what RegionOutput says), the binary.
// `X86JIT_JIT_CACHE` names the directory, or `off` (default: ~/.cache/x86jit/regions).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CompiledRegionData, TranslateJob } from './compile.ts';
import type { RegionBlock } from './translate.ts';

/** Entries before the directory is emptied and starts over (a crude bound on its size). */
const MAX_ENTRIES = 4096;

export interface CacheEntry { blocks: RegionBlock[]; data: CompiledRegionData }

export class RegionCache {
  private constructor(private readonly dir: string, private readonly version: string) {}

  /** The cache X86JIT_JIT_CACHE asks for, or null (off, or the directory cannot be made). */
  static fromEnv(version: string): RegionCache | null {
    const v = process.env.X86JIT_JIT_CACHE;
    if (v === 'off' || v === '0') return null;
    const dir = v !== undefined && v !== '' && v !== '1' ? v
      : join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'x86jit', 'regions');
    try {
      mkdirSync(dir, { recursive: true });
      if (readdirSync(dir).length > MAX_ENTRIES) { rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true }); }
      return new RegionCache(dir, version);
    } catch {
      return null;
    }
  }

  /** The entry's key for a job that carries its page's bytes, or undefined (no bytes: not cached). */
  key(job: TranslateJob): string | undefined {
    if (job.pageBytes === undefined) return undefined;
    const h = createHash('sha256').update(this.version);
    h.update(JSON.stringify({ ramSize: job.ramSize, paging: job.paging, linPage: job.linPage }));
    h.update(job.pageBytes);
    return h.digest('hex').slice(0, 40);
  }

  get(key: string): CacheEntry | null {
    try {
      const buf = readFileSync(join(this.dir, `${key}.region`));
      const n = buf.readUInt32LE(0);
      const header = JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as { blocks: RegionBlock[]; data: Omit<CompiledRegionData, 'binary'> };
      return { blocks: header.blocks, data: { ...header.data, binary: new Uint8Array(buf.subarray(4 + n)), ms: 0 } };
    } catch {
      return null; // absent or unreadable: translated again
    }
  }

  /** Store an entry (written under a temporary name, then renamed: readers never see half a file). */
  put(key: string, entry: CacheEntry): void {
    try {
      const { binary, ms: _ms, ...data } = entry.data;
      const json = Buffer.from(JSON.stringify({ blocks: entry.blocks, data }), 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(json.length, 0);
      const tmp = join(this.dir, `${key}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
      writeFileSync(tmp, Buffer.concat([len, json, Buffer.from(binary)]));
      renameSync(tmp, join(this.dir, `${key}.region`));
    } catch {
      /* a cache that cannot be written only costs the next run a translation */
    }
  }
}
