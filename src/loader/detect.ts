// Choosing how to load an image file, and reading it from disk with one-line errors.
// Only Multiboot kernels are recognised by content; raw images and BIOS images need to be asked for
// (--load/--entry, --bios), since no header identifies them.
import { readFileSync, statSync } from 'node:fs';
import { MAX_RAM } from '../cpu/state.ts';
import { LoadError } from './load-error.ts';
import { hex, sizeText, type LoadTarget } from './load-target.ts';
import { findMultibootHeader } from './multiboot-header.ts';
import { loadMultiboot, type MultibootLoad } from './multiboot.ts';

export interface ImageOptions {
  /** Multiboot command line (default: the name). */
  cmdline?: string;
}

export function loadImage(target: LoadTarget, bytes: Uint8Array, name: string, opts: ImageOptions = {}): MultibootLoad {
  if (bytes.length === 0) throw new LoadError(`${name}: empty image`);
  const found = findMultibootHeader(bytes);
  if (found.header) return loadMultiboot(target, bytes, { name, cmdline: opts.cmdline });
  const hint = '(use --load/--entry for raw images, or --bios)';
  if (found.badChecksumAt !== undefined)
    throw new LoadError(`${name}: Multiboot magic at offset ${hex(found.badChecksumAt)} has a bad checksum, and there is no valid Multiboot header in the first 8 KiB ${hint}`);
  throw new LoadError(`${name}: no Multiboot header in the first 8 KiB ${hint}`);
}

/** The file's bytes, or a LoadError that says in one line why they cannot be had. */
export function readImageFile(path: string): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new LoadError(`${path}: ${fsReason(e)}`);
  }
  if (st.isDirectory()) throw new LoadError(`${path}: is a directory, not an image file`);
  if (!st.isFile() && !st.isFIFO()) throw new LoadError(`${path}: not a regular file`);
  if (st.size > MAX_RAM) throw new LoadError(`${path}: ${sizeText(st.size)} is larger than any guest RAM`);
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw new LoadError(`${path}: ${fsReason(e)}`);
  }
  if (data.length === 0) throw new LoadError(`${path}: empty file`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

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
