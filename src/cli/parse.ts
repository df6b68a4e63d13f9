// Parsing of numeric CLI values: sizes (128M, 1G, 65536), addresses (0x100000) and counts (1e9).

export class UsageError extends Error {}

/** A byte size: plain bytes or a K/M/G suffix (powers of 1024), as QEMU's -m accepts. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)([KMG]?)i?B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what}: '${text}' is not a size (examples: 64M, 1G, 1048576)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase() as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * unit;
}

/** An address or count in decimal or 0x-hex. */
export function parseNumber(text: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const t = text.trim();
  const v = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^\d+(\.\d+)?(e\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(v) || v < 0 || v > max || !Number.isInteger(v)) throw new UsageError(`${what}: '${text}' is not a valid number`);
  return v;
}

/** A positive duration in seconds (fractions allowed). */
export function parseSeconds(text: string, what: string): number {
  const v = Number(text);
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`${what}: '${text}' is not a positive number of seconds`);
  return v;
}
