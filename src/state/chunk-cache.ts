// Decompressed RAM chunks, shared by every restore in this thread: a VM restored or cloned again from the
// same snapshot (a host's VMs from one file, 100 clones, a lazily restored guest coming back to a chunk it
// let go of) decompresses each chunk once. A restored Linux shell's first command went back to 63 chunks
// 306 times (~0.5 s of Brotli) with only its own few kept.
// The key is the SHA-256 of the compressed bytes, with the method and size: only identical content can hit,
// so one snapshot's chunk never appears in another's RAM unless it is the very same bytes. The bytes handed
// out are shared: callers copy from them and never write into them.
import { snapshotCodecs } from './codecs.ts';
import { type Compression, decompress } from './compression.ts';

/** Decompressed bytes kept at most (least recently used go first): 128 chunks of 64 pages. */
export const CHUNK_CACHE_BYTES = 32 << 20;

const cache = new Map<string, Uint8Array>();
let held = 0;
/** Counters for tests and profiles: lookups answered from the cache, and decompressions. */
export const chunkCacheStats = { hits: 0, misses: 0 };

/** The cache key of compressed chunk `stored` (a SHA-256 of it: compute it once per chunk and keep it). */
export function chunkKey(stored: Uint8Array, method: Exclude<Compression, 'none'>, size: number): string {
  const digest = snapshotCodecs().sha256(stored);
  let key = `${method}:${size}:`;
  for (let i = 0; i < digest.length; i++) key += String.fromCharCode(digest[i]);
  return key;
}

/**
 * `stored` (whose chunkKey is `key`) decompressed with `method` to exactly `size` bytes (decompress()'s
 * contract), from the cache when it is there; `keep`: put it in the cache when it is not (a reader that
 * reads each chunk once, such as an eager restore, leaves the cache to those that come back).
 */
export function decompressShared(stored: Uint8Array, method: Exclude<Compression, 'none'>, size: number, key: string, keep: boolean): Uint8Array | string {
  const hit = cache.get(key);
  if (hit !== undefined) {
    cache.delete(key); cache.set(key, hit); // most recently used last
    chunkCacheStats.hits++;
    return hit;
  }
  chunkCacheStats.misses++;
  const raw = decompress(stored, method, size);
  if (!keep || typeof raw === 'string' || raw.byteLength > CHUNK_CACHE_BYTES) return raw;
  cache.set(key, raw);
  held += raw.byteLength;
  for (const [k, v] of cache) {
    if (held <= CHUNK_CACHE_BYTES) break;
    cache.delete(k);
    held -= v.byteLength;
  }
  return raw;
}

/** Empty the cache (tests; a program that wants the memory back at once). */
export function clearChunkCache(): void { cache.clear(); held = 0; }
