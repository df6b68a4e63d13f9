// Input lines for tests/oracle/x87-oracle.c: every operation × 3 precisions × 4 rounding modes on edge
// values (zeros, denormals, pseudo-denormals, extremes, ∞, NaNs with payloads, unsupported encodings,
// values that overflow or tie in each precision) and on random operands from a seeded generator.

export const BINARY = ['fadd', 'fsub', 'fsubr', 'fmul', 'fdiv', 'fdivr', 'fscale', 'fprem', 'fprem1', 'fcom', 'fucom'];
export const UNARY = ['fsqrt', 'frndint', 'fxtract', 'fxam', 'ftst', 'fabs', 'fchs', 'fld80',
  'fst32', 'fst64', 'fist16', 'fist32', 'fist64', 'fbstp'];
export const LOADS: Record<string, number> = { fld32: 8, fld64: 16, fild16: 4, fild32: 8, fild64: 16, fbld: 20 };

/** Control words: exceptions masked, PC 24/53/64, RC nearest/down/up/zero. */
export const CONTROL_WORDS = [0, 2, 3].flatMap((pc) => [0, 1, 2, 3].map((rc) => 0x7f | (pc << 8) | (rc << 10)));
/** Control words with exceptions unmasked: all; all but PE; only OE and UE; PC 1 (reserved: acts as 64). */
export const UNMASKED_CONTROL_WORDS = [0x0340, 0x0b60, 0x0067, 0x0e40];
/** Operations whose unmasked-exception outcome the oracle cannot show: loads and FXTRACT leave the
 * stack unpushed, so the oracle's ST0/ST1 would be a previous case's leftovers. */
const MASKED_ONLY = new Set(['fxtract', ...Object.keys({ fld32: 0, fld64: 0, fild16: 0, fild32: 0, fild64: 0, fbld: 0 })]);

export const EDGE_VALUES = [
  '00000000000000000000', '80000000000000000000', // ±0
  '00000000000000000001', '80007fffffffffffffff', '00004000000000000000', // denormals
  '00008000000000000000', '8000c000000000000001', // pseudo-denormals
  '00018000000000000000', '80018000000000000001', '7ffeffffffffffffffff', 'fffe8000000000000000', // extremes
  '3fff8000000000000000', 'bfff8000000000000000', '3fffc000000000000000', '40008000000000000000',
  '3ffbcccccccccccccccd', '4000c90fdaa22168c235', '403e8000000000000000', '403dffffffffffffffff',
  '3ffe8000000000000000', '3ffec000000000000000', '40008000000000000001', '4002a000000000000000',
  '3fff8000008000000000', '3fff8000018000000000', '3fff8000000000000400', '3fff8000000000000c00', // ties at 24/53
  '3fff8000007fffffffff', '3fffffffff8000000000', '3fffffffffffffffffff', '3ffffffffffffffff800', // near ties, carries
  '7ffeffffff8000000000', '7ffefffffffffffffc00', '407effffff8000000000', '43fefffffffffffffc00', // overflow when rounded
  '3f818000000000000000', '3f80ffffff0000000000', '3f6a8000000000000000', '3c018000000000000000', // f32/f64 tiny
  '3bcd8000000000000000', '3c00fffffffffffff800', '3f69c000000000000000',
  '401dffffffff00000000', '401e8000000000000000', 'c01e8000000000000000', '400dfffe000000000000', // int bounds
  '400e8000000000000000', 'c00e8000000000000000', '403e8000000000000000', 'c03e8000000000000000',
  '4037de0b6b3a763fffff', '403ade0b6b3a76400000', 'c03ade0b6b3a763ffff0', // BCD bounds
  '7fff8000000000000000', 'ffff8000000000000000', // ±∞
  '7fffc000000000000000', 'ffffc000000000000001', '7fffe123456789abcdef', 'ffffc000000000000000', // QNaNs
  '7fff8000000000000001', 'ffffa000000000000000', '7fffbfffffffffffffff', // SNaNs
  '3fff4000000000000000', '7fff4000000000000001', '7fff0000000000000000', '00017fffffffffffffff', // unsupported
];

/** Cases run under every control word: results tiny before but not after rounding, ties in each
 * precision, exact results (no PE), overflow. */
export const DIRECTED = [
  'fmul 3ffeffffffffffffffff 00018000000000000000', 'fmul 3ffeffffffffffffffc0 00018000000000000000',
  'fmul 3ffeffffffc000000000 00018000000000000000', 'fmul 3ffefffffffffffff800 00018000000000000000',
  'fmul 3ffeffffff0000000000 00018000000000000000', 'fdiv 00018000000000000001 40008000000000000000',
  'fdiv 00018000000000000003 40008000000000000000', 'fsub 00018000000000000000 00000000000000000001',
  'fadd 80007fffffffffffffff 80000000000000000001', 'fscale 3fffffffffffffffffff c00cfffc000000000000',
  'fadd 3fff8000000000000000 3fbf8000000000000000', 'fadd 3fff8000000000000001 3fbf8000000000000000',
  'fadd 3fff8000000000000000 3fbf8000000000000001', 'fadd 3fff8000000000000000 3fca8000000000000000',
  'fadd 3fff8000000000000800 3fca8000000000000000', 'fadd 3fff8000000000000000 3fe78000000000000000',
  'fadd 3fff8000010000000000 3fe78000000000000000', 'fsub 3fff8000000000000000 3fbf8000000000000000',
  'fadd 3fff8000000000000000 3fff8000000000000000', 'fmul 3fffc000000000000000 3fffc000000000000000',
  'fdiv 40018000000000000000 40008000000000000000', 'fsub 3fffc000000000000000 3fffc000000000000000',
  'fmul 7ffe8000000000000000 40008000000000000000', 'fadd 7ffeffffffffffffffff 7ffeffffffffffffffff',
  'fdiv 7ffe8000000000000000 3ffe8000000000000000', 'fsqrt 40018000000000000000', 'fsqrt 00000000000000000001',
  'frndint 3ffe8000000000000000', 'frndint 3fffc000000000000000', 'frndint 4000a000000000000000',
  'fist16 400dfffe000000000000', 'fist16 400dffff000000000000', 'fist32 401dffffffff00000000',
  'fist64 403dffffffffffffffff', 'fbstp 4037de0b6b3a763fffff',
];

/** mulberry32: a small seeded generator of 32-bit words. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const hex = (v: number, digits: number) => (v >>> 0).toString(16).padStart(digits, '0');

function randomValue(next: () => number, near?: string, tiny = false): string {
  const r = tiny ? 11 : next() % 16;
  if (r === 0) return EDGE_VALUES[next() % EDGE_VALUES.length];
  let exp: number;
  if (near && r < 8) exp = (parseInt(near.slice(0, 4), 16) & 0x7fff) + (next() % 140) - 70;
  else if (r < 10) exp = 0x3fff + (next() % 160) - 80;
  else if (r < 11) exp = next() % 0x7fff;
  else if (r < 12) exp = next() % 80; // near the denormal range
  else if (r < 13) exp = 0x7ffe - (next() % 80);
  else exp = 0x3fff + (next() % 40) - 20;
  exp = Math.min(Math.max(exp, 0), 0x7ffe);
  let hi = (next() | 0x80000000) >>> 0, lo = next();
  const shape = next() % 6;
  if (shape === 0) lo = 0; // short significands: exact results and ties
  else if (shape === 1) { hi = (hi & 0xffffff00) >>> 0; lo = 0; }
  else if (shape === 2) lo = (lo & 0xfffff800) >>> 0;
  if (exp === 0 && next() % 2) hi &= 0x7fffffff; // a real denormal
  return hex(((next() & 1) << 15) | exp, 4) + hex(hi, 8) + hex(lo, 8);
}

function randomLoad(next: () => number, op: string): string {
  const digits = LOADS[op];
  if (op === 'fbld') {
    let s = next() & 1 ? '80' : '00';
    const n = 1 + (next() % 18);
    for (let i = 0; i < 18; i++) s += i < 18 - n ? '0' : String(next() % 10);
    return s;
  }
  if (op === 'fld32' && next() % 4 === 0) return hex(next() % 4 === 0 ? 0x7f800000 | (next() & 0x7fffff) : next() & 0x807fffff, 8);
  if (op === 'fld64' && next() % 4 === 0) return hex((next() & 1 ? 0x7ff00000 : 0) | (next() & 0x800fffff), 8) + hex(next(), 8);
  let s = '';
  while (s.length < digits) s += hex(next(), 8);
  return s.slice(0, digits);
}

/**
 * `count` random cases for every operation, after the edge cases: 'all' pairs every edge value with 4
 * random partners under every control word; 'sample' with 2 partners under random control words.
 */
export function x87Cases(seed: number, count: number, edges: 'all' | 'sample' | 'none'): string[] {
  const next = rng(seed);
  const lines: string[] = [];
  // one case in four with some exceptions unmasked (random mask bits), for operations the oracle can show
  const cw = (op?: string) => {
    const c = CONTROL_WORDS[next() % CONTROL_WORDS.length];
    return op && !MASKED_ONLY.has(op) && next() % 4 === 0 ? (c & ~0x3f) | (next() & 0x3f) : c;
  };
  for (const c of [...CONTROL_WORDS, ...UNMASKED_CONTROL_WORDS]) for (const d of DIRECTED) lines.push(d.replace(' ', ` ${hex(c, 4)} `));
  if (edges !== 'none') {
    const all = edges === 'all';
    for (const c of all ? [...CONTROL_WORDS, ...UNMASKED_CONTROL_WORDS] : [0]) {
      const w = () => hex(all ? c : cw(), 4);
      for (const op of BINARY) {
        for (const a of EDGE_VALUES) for (let i = 0; i < (all ? 4 : 2); i++) lines.push(`${op} ${w()} ${a} ${EDGE_VALUES[next() % EDGE_VALUES.length]}`);
      }
      for (const op of UNARY) {
        if (UNMASKED_CONTROL_WORDS.includes(c) && MASKED_ONLY.has(op)) continue;
        for (const a of EDGE_VALUES) lines.push(`${op} ${w()} ${a}`);
      }
    }
  }
  for (let i = 0; i < count; i++) {
    for (const op of BINARY) {
      const tiny = next() % 8 === 0; // both operands near the denormal range: underflow in sums too
      const a = randomValue(next, undefined, tiny);
      const b = op === 'fscale' ? randomValue(next, '40030000') : randomValue(next, a, tiny);
      lines.push(`${op} ${hex(cw(op), 4)} ${a} ${b}`);
    }
    for (const op of UNARY) lines.push(`${op} ${hex(cw(op), 4)} ${randomValue(next)}`);
    for (const op of Object.keys(LOADS)) lines.push(`${op} ${hex(cw(), 4)} ${randomLoad(next, op)}`);
  }
  return lines;
}
