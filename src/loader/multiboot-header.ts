// Finding the Multiboot v1 header in a kernel image (Multiboot Specification 0.6.96, section 3.1): a
// 32-bit aligned block within the first 8192 bytes whose magic, flags and checksum add up to zero
// (mod 2^32). Bit 16 of flags adds the a.out-kludge address fields, bit 2 the video-mode fields.

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** The header must lie entirely within this many bytes from the start of the image. */
export const MULTIBOOT_SEARCH = 8192;

/** Flags bits 0-15 are requirements: a loader that does not know one must refuse the image. */
export const MB_PAGE_ALIGN = 1 << 0, MB_MEMORY_INFO = 1 << 1, MB_VIDEO_MODE = 1 << 2, MB_AOUT_KLUDGE = 1 << 16;

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** Bytes the flags say the header has: 12, 32 with the address fields, 48 with the video fields. */
  size: number;
  /** The a.out-kludge address fields (valid when flags bit 16 is set and the header is that long). */
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

export interface MultibootSearch {
  header?: MultibootHeader;
  /** Offset of the first magic whose checksum did not match, when no valid header was found. */
  badChecksumAt?: number;
}

export function findMultibootHeader(bytes: Uint8Array): MultibootSearch {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(bytes.length, MULTIBOOT_SEARCH);
  let badChecksumAt: number | undefined;
  for (let off = 0; off + 12 <= limit; off += 4) {
    if (v.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = v.getUint32(off + 4, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + v.getUint32(off + 8, true)) >>> 0) !== 0) { badChecksumAt ??= off; continue; }
    const size = flags & MB_VIDEO_MODE ? 48 : flags & MB_AOUT_KLUDGE ? 32 : 12;
    const field = (i: number): number => (off + 12 + 4 * i + 4 <= bytes.length ? v.getUint32(off + 12 + 4 * i, true) : 0);
    return {
      header: {
        offset: off, flags, size,
        headerAddr: field(0), loadAddr: field(1), loadEndAddr: field(2), bssEndAddr: field(3), entryAddr: field(4),
      },
    };
  }
  return { badChecksumAt };
}
