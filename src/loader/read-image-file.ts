// Reading an image file from disk with one-line errors (Node only: the package's x86jit/node entry; the
// core loads bytes, detect.ts).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { MAX_RAM } from '../cpu/state.ts';
import { sleepMs } from '../machine/sleep.ts';
import { LoadError } from './load-error.ts';
import { sizeText } from './load-target.ts';

/**
 * The file's bytes, or a LoadError that says in one line why they cannot be had. At most `maxBytes` are
 * read (default: the largest guest RAM): a pipe or /dev/stdin can be endless, so the file is read in
 * chunks and refused as soon as it passes the cap; `limit` names the cap in that message.
 */
export function readImageFile(path: string, maxBytes = MAX_RAM, limit = maxBytes === MAX_RAM ? 'any guest RAM' : sizeText(maxBytes)): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new LoadError(`${path}: ${fsReason(e)}`);
  }
  if (st.isDirectory()) throw new LoadError(`${path}: is a directory, not an image file`);
  if (!st.isFile() && !st.isFIFO()) throw new LoadError(`${path}: not a regular file`);
  const tooLarge = () => new LoadError(`${path}: ${st.isFile() ? `${sizeText(st.size)}, ` : ''}larger than ${limit}`);
  if (st.size > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0, fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    for (;;) {
      // A regular file in one read (its size, and one byte more to see the end); a pipe, or a file that
      // grew, in chunks.
      const want = st.isFile() && total <= st.size ? st.size + 1 - total : CHUNK;
      const chunk = Buffer.allocUnsafe(Math.min(want, maxBytes + 1 - total));
      let n: number;
      try { n = readSync(fd, chunk, 0, chunk.length, null); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
        sleepMs(1); // a non-blocking pipe with nothing in it yet
        continue;
      }
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > maxBytes) throw tooLarge();
    }
  } catch (e) {
    throw e instanceof LoadError ? e : new LoadError(`${path}: ${fsReason(e)}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  if (total === 0) throw new LoadError(`${path}: empty file`);
  const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** Bytes per read(2) of an image. */
const CHUNK = 1 << 20;

function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT': return 'no such file';
    case 'ENOTDIR': return 'no such file (a component of the path is not a directory)';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory, not an image file';
    case 'ELOOP': return 'too many levels of symbolic links';
    case 'ENAMETOOLONG': return 'file name too long';
    default: return `cannot read (${code ?? (e as Error).message})`;
  }
}
