// Input lines for tests/oracle/x87-oracle.c's transcendentals: every operation on the edge values under
// every control word (the four rounding modes; precision control, which these ignore; unmasked
// exceptions), directed cases (multiples of the FPU's π/2 and their neighbours, the 2^63 limit, the ends
// of each domain) and seeded random operands drawn over each operation's documented domain.
import { CONTROL_WORDS, EDGE_VALUES, rng, UNMASKED_CONTROL_WORDS } from './x87-cases.ts';

export const TRANSCENDENTAL_UNARY = ['fsin', 'fcos', 'fptan', 'fsincos', 'f2xm1'];
/** ST0 = A = x, ST1 = B = y */
export const TRANSCENDENTAL_BINARY = ['fyl2x', 'fyl2xp1', 'fpatan'];
export const TRANSCENDENTALS = [...TRANSCENDENTAL_UNARY, ...TRANSCENDENTAL_BINARY];

const hex = (v: number, digits: number) => (v >>> 0).toString(16).padStart(digits, '0');
const value = (sign: number, exp: number, hi: number, lo: number) => hex((sign << 15) | exp, 4) + hex(hi | 0x80000000, 8) + hex(lo, 8);

/** The FPU's Pi/2 times k (k < 2^20), as the 80-bit values just below, at and above it. */
function nearPiMultiples(k: number): string[] {
  const pi66 = 0x3243f6a8885a308d3n; // Pi × 2^64, 66 bits
  const m = BigInt(k) * pi66; // k × Pi/2 × 2^65
  const bits = m.toString(2).length;
  const sig = m >> BigInt(bits - 64); // top 64 bits
  const exp = 0x3fff + bits - 1 - 65;
  return [sig - 1n, sig, sig + 1n, sig + 2n].map((s) => {
    const h = Number(s >> 32n), l = Number(s & 0xffffffffn);
    return value(0, exp, h, l);
  });
}

const DIRECTED_X = [
  ...[1, 2, 3, 4, 5, 7, 8, 100, 12345, 1000003].flatMap(nearPiMultiples),
  '403dffffffffffffffff', '403e8000000000000000', 'c03dffffffffffffffff', '403dc90fdaa22168c234', // around 2^63
  '3fff8000000000000000', 'bfff8000000000000000', '3ffeffffffffffffffff', 'bffeffffffffffffffff', // ±1
  '3ffd95f619980c4336f7', 'bffd95f619980c4336f7', '3ffd95f619980c4336f6', 'bffe8000000000000000', // ±(1 − √2/2), −1/2
  '3fbf8000000000000000', '3fdf8000000000000000', 'bfcf8000000000000001', '00018000000000000000', // tiny
  '40008000000000000000', '40018000000000000000', '407f8000000000000000', '3f7f8000000000000000', // powers of 2
];

function randomValue(next: () => number, op: string): string {
  const sign = next() & 1;
  let hi = next(), lo = next();
  if (next() % 8 === 0) lo = 0;
  const r = next() % 16;
  let exp: number;
  switch (op) {
    case 'fsin': case 'fcos': case 'fptan': case 'fsincos':
      exp = r === 0 ? next() % 0x3f80 : r < 3 ? 0x3fff - 64 + (next() % 64) : 0x3fff - 4 + (next() % 67); // mostly 1/16 … 2^63
      break;
    case 'f2xm1':
      exp = r === 0 ? next() % 0x3ffe : 0x3fff - 1 - (next() % (r < 4 ? 70 : 8)); // |x| < 1
      break;
    case 'fyl2xp1':
      exp = r === 0 ? next() % 0x3ffc : 0x3fff - 3 - (next() % (r < 4 ? 70 : 8)); // |x| < 1/4
      break;
    case 'fyl2x':
      exp = r === 0 ? 1 + (next() % 0x7ffd) : 0x3fff - 2 + (next() % 5) - (r < 4 ? next() % 200 : 0);
      return value(0, exp, hi, lo); // x > 0
    default: // fpatan, and the y of the two-operand ones
      exp = r === 0 ? 1 + (next() % 0x7ffd) : 0x3fff + (next() % 80) - 40;
  }
  return value(sign, Math.min(Math.max(exp, 0), 0x7ffe), exp <= 0 ? hi & 0x7fffffff : hi, lo);
}

/** Control words: every rounding mode at PC 64 for most cases, the others (PC 24 and 53, unmasked) one
 * case in eight. */
function controlWord(next: () => number): number {
  if (next() % 8 === 0) {
    const all = [...CONTROL_WORDS, ...UNMASKED_CONTROL_WORDS];
    return all[next() % all.length];
  }
  return 0x37f | ((next() & 3) << 10);
}

/** The edge and directed cases under every control word (with `edges`), then `count` random cases per
 * operation. */
export function transcendentalCases(seed: number, count: number, edges = true): string[] {
  const next = rng(seed);
  const lines: string[] = [];
  for (const c of edges ? [...CONTROL_WORDS, ...UNMASKED_CONTROL_WORDS] : []) {
    const w = hex(c, 4);
    for (const op of TRANSCENDENTAL_UNARY) for (const a of [...EDGE_VALUES, ...DIRECTED_X]) lines.push(`${op} ${w} ${a}`);
    for (const op of TRANSCENDENTAL_BINARY) {
      for (const a of [...EDGE_VALUES, ...DIRECTED_X]) {
        for (let i = 0; i < 2; i++) lines.push(`${op} ${w} ${a} ${EDGE_VALUES[next() % EDGE_VALUES.length]}`);
        lines.push(`${op} ${w} ${a} ${randomValue(next, 'y')}`);
      }
    }
  }
  for (let i = 0; i < count; i++) {
    for (const op of TRANSCENDENTAL_UNARY) lines.push(`${op} ${hex(controlWord(next), 4)} ${randomValue(next, op)}`);
    for (const op of TRANSCENDENTAL_BINARY) lines.push(`${op} ${hex(controlWord(next), 4)} ${randomValue(next, op)} ${randomValue(next, 'y')}`);
  }
  return lines;
}
