// Choosing how to load an image from its bytes (reading it from disk: read-image-file.ts, Node only).
// Only Multiboot kernels are recognised by content; raw images and BIOS images need to be asked for
// (--load/--entry, --bios), since no header identifies them.
import { isBzImage } from './linux-boot.ts';
import { LoadError } from './load-error.ts';
import { hex, type LoadTarget } from './load-target.ts';
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
  if (isBzImage(bytes)) throw new LoadError(`${name}: a Linux kernel (bzImage), not a Multiboot image: boot it with --kernel`);
  const hint = '(use --load/--entry for raw images, or --bios)';
  if (found.badChecksumAt !== undefined)
    throw new LoadError(`${name}: Multiboot magic at offset ${hex(found.badChecksumAt)} has a bad checksum, and there is no valid Multiboot header in the first 8 KiB ${hint}`);
  throw new LoadError(`${name}: no Multiboot header in the first 8 KiB ${hint}`);
}
