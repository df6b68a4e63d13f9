// CRC-32 (the IEEE polynomial of zlib, gzip and PNG: reflected 0xEDB88320, initial and final XOR
// 0xFFFFFFFF) in plain JavaScript: the per-chunk checksums of a snapshot's RAM where node:zlib's crc32 is
// not at hand (the core entry in a browser, Node before 20.15). node-codecs.ts uses zlib's, several times faster.

const TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

/** The CRC-32 of `bytes`, continuing from `value` (the CRC-32 of the bytes before them; 0 to start). */
export function crc32(bytes: Uint8Array, value = 0): number {
  let c = ~value;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
