// The numeric environment variables that steer the seeded test suites (X86JIT_SEED, X86JIT_CASES, ...).

/** The non-negative number (decimal or 0x hex) in environment variable `name`, or undefined when unset. */
export function parseNum(name: string): number | undefined {
  const s = process.env[name];
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${s}: expected a non-negative number (decimal or 0x hex)`);
  return n;
}
