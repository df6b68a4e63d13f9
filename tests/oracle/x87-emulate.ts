// The emulator's answer to one line of tests/oracle/x87-oracle.c's input, in the oracle's output format.
import {
  atan2, C2, trig, Trig, twoToXMinus1, yLog2X, yLog2XPlus1,
  add, compare, CONDITION_CODES, C1, premCodesWritten, div, examine, Float80, fromBcd, fromF32, fromF64, fromInt, mul, prem, roundToInteger, scale, sqrt, sub,
  toBcd, toF32, toF64, toInt, unmasked, writesMemory, writesRegister, xtract, type FpuResult,
} from '../../src/cpu/fpu/index.ts';

const hex = (v: number, digits: number) => (v >>> 0).toString(16).padStart(digits, '0');
let cw = 0, op = '';
/** Operations that write all four condition codes; the others write C1 and keep C0 C2 C3, which the oracle
 * sets before every instruction. */
const SETS_CODES = new Set(['fcom', 'fucom', 'ftst', 'fxam']);
/** The status word: the flags, the kept codes (`written`: the codes the operation sets), and ES and B when
 * an exception is unmasked. */
const sw = (flags: number, written = SETS_CODES.has(op) ? CONDITION_CODES : C1) =>
  hex((flags | (CONDITION_CODES & ~written) | (unmasked(flags, cw) ? 0x8080 : 0)) & 0xc7ff, 4);
const remainder = (r: FpuResult) => `${(writesRegister(r.flags, cw) ? r.value : old).toHex()} ${sw(r.flags, premCodesWritten(r))}`;
/** ST0 after an operation on ST0 = a: the result, or a where an unmasked exception stops the store. */
let old: Float80;
const out = (r: FpuResult & { margin?: number }) => { noteMargin(r); return `${(writesRegister(r.flags, cw) ? r.value : old).toHex()} ${sw(r.flags)}`; };
/** The last transcendental's rounding margin (wide-float.ts Rounded): how close its exact value lay to a
 * representable number, in ulps; 1/2 for everything else. */
export let lastMargin = 0.5;
const noteMargin = (r: { margin?: number }) => { lastMargin = r.margin ?? 0.5; };
/** A memory destination: the stored digits, or the oracle's a5 filler where nothing is stored. */
const mem = (flags: number, digits: string) => `${writesMemory(flags, cw) ? digits : 'a5'.repeat(digits.length / 2)} ${sw(flags)}`;
const split64 = (s: string): [number, number] => [parseInt(s.slice(0, s.length - 8) || '0', 16) >>> 0, parseInt(s.slice(-8), 16) >>> 0];

/** FSIN, FCOS, FPTAN, FSINCOS: they write C1 and C2 (out of range: C2 set, C1 clear, ST0 kept). FPTAN
 * and FSINCOS print ST0 and ST1 over the oracle's 0 below the operand: pushed and value, or a and 0 when
 * nothing is pushed. */
function trigOut(fn: Trig): string {
  const zero = '0'.repeat(20), two = fn === Trig.Tan || fn === Trig.SinCos;
  const r = trig(old, cw, fn);
  noteMargin(r);
  if (r.outOfRange) return `${old.toHex()}${two ? ` ${zero}` : ''} ${sw(C2, C1 | C2)}`;
  const codes = sw(r.flags, C1 | C2);
  if (!writesRegister(r.flags, cw)) return `${old.toHex()}${two ? ` ${zero}` : ''} ${codes}`;
  return two ? `${r.pushed!.toHex()} ${r.value.toHex()} ${codes}` : `${r.value.toHex()} ${codes}`;
}

/** The part after "->" for an input line "OP CW A [B]". */
export function emulateX87(line: string): string {
  const [name, cws, as, bs] = line.trim().split(/\s+/);
  op = name;
  cw = parseInt(cws, 16);
  const a = as.length === 20 ? Float80.fromHex(as) : undefined!;
  old = a;
  const b = bs ? Float80.fromHex(bs) : undefined!;
  switch (op) {
    case 'fadd': return out(add(a, b, cw));
    case 'fsub': return out(sub(a, b, cw));
    case 'fsubr': return out(sub(b, a, cw));
    case 'fmul': return out(mul(a, b, cw));
    case 'fdiv': return out(div(a, b, cw));
    case 'fdivr': return out(div(b, a, cw));
    case 'fsqrt': return out(sqrt(a, cw));
    case 'frndint': return out(roundToInteger(a, cw));
    case 'fscale': return out(scale(a, b, cw));
    case 'fprem': return remainder(prem(a, b, false, cw));
    case 'fprem1': return remainder(prem(a, b, true, cw));
    case 'fcom': return sw(compare(a, b, false));
    case 'fucom': return sw(compare(a, b, true));
    case 'ftst': return sw(compare(a, new Float80(0, 0, 0), false));
    case 'fxam': return sw(examine(a, false));
    case 'fabs': return `${new Float80(a.se & 0x7fff, a.hi, a.lo).toHex()} ${sw(0)}`;
    case 'fchs': return `${new Float80(a.se ^ 0x8000, a.hi, a.lo).toHex()} ${sw(0)}`;
    case 'fld80': return `${a.toHex()} ${sw(0)}`;
    case 'fxtract': {
      const r = xtract(a, cw);
      return `${r.significand.toHex()} ${r.exponent.toHex()} ${sw(r.flags)}`;
    }
    case 'fld32': return out(fromF32(parseInt(as, 16) >>> 0));
    case 'fld64': return out(fromF64(...split64(as)));
    case 'fild16': { const v = parseInt(as, 16) << 16 >> 16; return out({ value: fromInt(v >> 31, v >>> 0), flags: 0 }); }
    case 'fild32': { const v = parseInt(as, 16) | 0; return out({ value: fromInt(v >> 31, v >>> 0), flags: 0 }); }
    case 'fild64': { const [h, l] = split64(as); return out({ value: fromInt(h | 0, l), flags: 0 }); }
    case 'fbld': return out({ value: fromBcd(Float80.fromHex(as)), flags: 0 });
    case 'fst32': { const r = toF32(a, cw); return mem(r.flags, hex(r.lo, 8)); }
    case 'fst64': { const r = toF64(a, cw); return mem(r.flags, hex(r.hi, 8) + hex(r.lo, 8)); }
    case 'fist16': { const r = toInt(a, cw, 16); return mem(r.flags, hex(r.lo, 4)); }
    case 'fist32': { const r = toInt(a, cw, 32); return mem(r.flags, hex(r.lo, 8)); }
    case 'fist64': { const r = toInt(a, cw, 64); return mem(r.flags, hex(r.hi, 8) + hex(r.lo, 8)); }
    case 'fbstp': { const r = toBcd(a, cw); return mem(r.flags, r.value.toHex()); }
    case 'fsin': return trigOut(Trig.Sin);
    case 'fcos': return trigOut(Trig.Cos);
    case 'fptan': return trigOut(Trig.Tan);
    case 'fsincos': return trigOut(Trig.SinCos);
    case 'f2xm1': return out(twoToXMinus1(a, cw));
    case 'fyl2x': return out(yLog2X(a, b, cw));
    case 'fyl2xp1': return out(yLog2XPlus1(a, b, cw));
    case 'fpatan': return out(atan2(b, a, cw));
  }
  throw new Error(`unknown operation ${op}`);
}
