// The two forms derived from src/cpu/flag-semantics.ts — the interpreter's compiled JavaScript (flags.ts)
// and the JIT's WebAssembly (jit/flags-wasm.ts, run here as tiny compiled modules) — against a bit-level
// reference that computes each flag from the full-width arithmetic, for every (operation, size, LAZY_MASK,
// condition) on random records: the readers for any writer, the conditions for a known writer (fused where
// they can be) and for any writer (the `$condN` functions, and dynamicCF inline).
import { describe, expect, it } from 'vitest';
import { addConditionFunctions, type FlagLocals, FlagsWasm } from '../jit/flags-wasm.ts';
import type { WasmModule } from '../jit/wasm-backend.ts';
import { wasmEncoder } from '../jit/wasm-encoder.ts';
import { type KnownWriter, OP_ADD, OP_LOGIC, OP_RESULT, OP_SUB } from '../src/cpu/flag-semantics.ts';
import { branchIf, conditionFor, getAF, getCF, getOF, getPF, getSF, getZF } from '../src/cpu/flags.ts';
import { AF, ARITH_FLAGS, CF, EFLAGS, LAZY_DST, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, OF, PF, SF, ZF } from '../src/cpu/state.ts';
import { EDGE_VALUES, Rng } from './oracle/builder.ts';

// ---- the reference: flags from the arithmetic itself ----

/** The writers records come from: the operation, and the carry-in it may have (ADC/SBB). */
interface Kind { name: string; op: number; carryIn: boolean; plainSub: boolean }
const KINDS: Kind[] = [
  { name: 'add', op: OP_ADD, carryIn: false, plainSub: false },
  { name: 'adc', op: OP_ADD, carryIn: true, plainSub: false },
  { name: 'sub', op: OP_SUB, carryIn: false, plainSub: true },
  { name: 'sbb', op: OP_SUB, carryIn: true, plainSub: false },
  { name: 'logic', op: OP_LOGIC, carryIn: false, plainSub: false },
  { name: 'result', op: OP_RESULT, carryIn: false, plainSub: false },
];
const SIZES = [1, 2, 4];
/** The six arithmetic flags in LAZY_MASK order of enumeration: mask i has flag FLAGS[k] when bit k of i is set. */
const FLAGS = [CF, PF, AF, ZF, SF, OF];
const maskOf = (i: number): number => FLAGS.reduce((m, f, k) => (i >> k) & 1 ? m | f : m, 0);

interface LazyRecord { op: number; dst: number; src: number; res: number; size: number; mask: number; efl: number }
interface Truths { CF: boolean; PF: boolean; AF: boolean; ZF: boolean; SF: boolean; OF: boolean }

/** A record written by `kind` on random operands (zero-extended to the size), with random EFLAGS bits. */
function randomRecord(rng: Rng, kind: Kind, size: number, mask: number): { record: LazyRecord; flags: Truths } {
  const bits = 8 * size, M = 2 ** bits, half = M / 2;
  const operand = (): number => (rng.chance(0.5) ? rng.pick(EDGE_VALUES) : rng.u32()) % M;
  const signed = (x: number): number => (x >= half ? x - M : x);
  const cin = kind.carryIn ? rng.int(2) : 0;
  let dst = 0, src = 0, res: number, cf = false, of = false, af = false;
  if (kind.op === OP_ADD) {
    dst = operand(); src = operand();
    const full = dst + src + cin, sum = signed(dst) + signed(src) + cin;
    res = full % M; cf = full >= M; of = sum < -half || sum >= half; af = (dst % 16) + (src % 16) + cin > 15;
  } else if (kind.op === OP_SUB) {
    dst = operand(); src = operand();
    const full = dst - src - cin, diff = signed(dst) - signed(src) - cin;
    res = (full + M) % M; cf = full < 0; of = diff < -half || diff >= half; af = (dst % 16) - (src % 16) - cin < 0;
  } else {
    res = operand(); // CF = OF = AF = 0 from a logic or result record
  }
  let ones = 0;
  for (let v = res & 0xff; v; v >>= 1) ones += v & 1;
  const fromRecord: Truths = { CF: cf, PF: ones % 2 === 0, AF: af, ZF: res === 0, SF: res >= half, OF: of };
  const efl = rng.u32() | 0;
  const flags = {} as Truths;
  for (const [name, bit] of [['CF', CF], ['PF', PF], ['AF', AF], ['ZF', ZF], ['SF', SF], ['OF', OF]] as const)
    flags[name] = mask & bit ? fromRecord[name] : (efl & bit) !== 0;
  return { record: { op: kind.op, dst: dst | 0, src: src | 0, res: res | 0, size, mask, efl }, flags };
}

/** SDM Vol. 2 Jcc: condition cc (tttn) from the flags. */
const CONDITIONS: ((f: Truths) => boolean)[] = [
  (f) => f.OF, (f) => !f.OF, (f) => f.CF, (f) => !f.CF, (f) => f.ZF, (f) => !f.ZF, (f) => f.CF || f.ZF, (f) => !f.CF && !f.ZF,
  (f) => f.SF, (f) => !f.SF, (f) => f.PF, (f) => !f.PF, (f) => f.SF !== f.OF, (f) => f.SF === f.OF,
  (f) => f.ZF || f.SF !== f.OF, (f) => !f.ZF && f.SF === f.OF,
];

/** All the truths a form yields for a record, packed: conditions 0..15 in bits 0..15, CF OF ZF SF PF in 16..20 (AF in 21, JS only). */
function expected(f: Truths, withAF: boolean): number {
  let v = 0;
  CONDITIONS.forEach((c, cc) => { if (c(f)) v |= 1 << cc; });
  [f.CF, f.OF, f.ZF, f.SF, f.PF].forEach((t, k) => { if (t) v |= 1 << (16 + k); });
  if (withAF && f.AF) v |= 1 << 21;
  return v;
}

// ---- the interpreter's form ----

const state = new Int32Array(128);
function load(r: LazyRecord): Int32Array {
  state[LAZY_OP] = r.op; state[LAZY_DST] = r.dst; state[LAZY_SRC] = r.src; state[LAZY_RES] = r.res;
  state[LAZY_SIZE] = r.size; state[LAZY_MASK] = r.mask; state[EFLAGS] = r.efl;
  return state;
}

/** What a truth the interpreter returned must be: CF a 0/1 number, the rest booleans. */
const bitOf = (cf: number): boolean => { if (cf !== 0 && cf !== 1) throw new Error(`getCF returned ${cf}`); return cf === 1; };
const boolOf = (t: boolean): boolean => { if (typeof t !== 'boolean') throw new Error(`a flag reader returned ${String(t)}`); return t; };

/** The interpreter's readers and conditions for any writer (`w` null) or a known one, packed as `expected`. */
function interpreterForms(w: KnownWriter | null): (r: LazyRecord) => number {
  const s = state;
  let taken = false;
  const conditions = CONDITIONS.map((_, cc) => conditionFor(s, cc, w));
  const branches = CONDITIONS.map((_, cc) => branchIf(s, cc, w, () => { taken = true; }, null, 0));
  return (r) => {
    load(r);
    let v = 0;
    for (let cc = 0; cc < 16; cc++) {
      const c = boolOf(conditions[cc]());
      taken = false;
      branches[cc]();
      if (taken !== c) throw new Error(`branchIf and conditionFor disagree on cc ${cc}`);
      if (c) v |= 1 << cc;
    }
    if (w === null) {
      [bitOf(getCF(s)), boolOf(getOF(s)), boolOf(getZF(s)), boolOf(getSF(s)), boolOf(getPF(s))].forEach((t, k) => { if (t) v |= 1 << (16 + k); });
      if (boolOf(getAF(s))) v |= 1 << 21;
    }
    return v;
  };
}

// ---- the JIT's form ----

/** The record as the parameters (op, dst, src, res, size, mask, efl) of a test function. */
const PARAMS: FlagLocals = { op: 0, dst: 1, src: 2, res: 3, size: 4, mask: 5, efl: 6 };
type Packed = (op: number, dst: number, src: number, res: number, size: number, mask: number, efl: number) => number;

/**
 * One module for `kind` at `size`: per mask, the known-writer forms (conditions and flags of
 * FlagsWasm.condition/cf/of/zf/sf/pf) packed as `expected`; and `any`, the conditions through `$cond`
 * and dynamicCF.
 */
function jitForms(kind: Kind, size: number): { known: Packed[]; any: Packed } {
  const bn = wasmEncoder, m: WasmModule = new bn.Module();
  try {
    m.setFeatures(bn.Features.MVP | bn.Features.SignExt);
    const i32 = bn.i32, f = new FlagsWasm(m, PARAMS, i32);
    const params = bn.createType([i32, i32, i32, i32, i32, i32, i32]);
    const pack = (truths: number[]): number => truths.reduce((acc, t, k) => m.i32.or(acc, m.i32.shl(t, m.i32.const(k))), m.i32.const(0));
    for (let i = 0; i < 64; i++) {
      const k: KnownWriter = { op: kind.op, size, mask: maskOf(i), plainSub: kind.plainSub };
      const truths = [...CONDITIONS.map((_, cc) => f.condition(k, cc)), f.cf(k), f.of(k), f.zf(k), f.sf(k), f.pf(k)];
      m.addFunction(`known${i}`, params, i32, [], pack(truths));
      m.addFunctionExport(`known${i}`, `known${i}`);
    }
    m.addFunction('any', params, i32, [], pack([...CONDITIONS.map((_, cc) => f.dynamicCondition(cc)), f.dynamicCF()]));
    m.addFunctionExport('any', 'any');
    addConditionFunctions(bn, m, f);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(m.emitBinary() as Uint8Array<ArrayBuffer>)).exports as { [name: string]: Packed };
    return { known: Array.from({ length: 64 }, (_, i) => exports[`known${i}`]), any: exports.any };
  } finally {
    m.dispose();
  }
}
const call = (fn: Packed, r: LazyRecord): number => fn(r.op, r.dst, r.src, r.res, r.size, r.mask, r.efl);

// ---- the comparison ----

const RECORDS_PER_FORM = 24;

describe('lazy flags: the interpreter and the JIT forms against the arithmetic', () => {
  const anyWriter = interpreterForms(null);
  for (const kind of KINDS) {
    it(`${kind.name} records of every size and LAZY_MASK`, () => {
      const rng = new Rng(0x5eed + kind.op * 17 + (kind.carryIn ? 1 : 0));
      const bad: string[] = [];
      const check = (form: string, r: LazyRecord, got: number, want: number): void => {
        if (got !== want && bad.length < 12) bad.push(`${form} ${JSON.stringify(r)}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
      };
      for (const size of SIZES) {
        const jit = jitForms(kind, size);
        for (let i = 0; i < 64; i++) {
          const mask = maskOf(i);
          const known = interpreterForms({ op: kind.op, size, mask, plainSub: kind.plainSub });
          for (let n = 0; n < RECORDS_PER_FORM; n++) {
            const { record: r, flags } = randomRecord(rng, kind, size, mask);
            const all = expected(flags, true), noAF = all & ~(1 << 21), conditions = all & 0xffff;
            check('interpreter, any writer', r, anyWriter(r), all);
            check('interpreter, known writer', r, known(r), conditions);
            check('JIT, known writer', r, call(jit.known[i], r), noAF);
            check('JIT, $cond', r, call(jit.any, r), conditions | (flags.CF ? 1 << 16 : 0));
          }
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('a CMP + Jcc on a known record is one comparison in WebAssembly', () => {
    /** The size of a module whose one function is `body` over the record's parameters. */
    const moduleSize = (body: (m: WasmModule, f: FlagsWasm) => number): number => {
      const bn = wasmEncoder, m = new bn.Module();
      try {
        m.setFeatures(bn.Features.MVP | bn.Features.SignExt);
        const i32 = bn.i32;
        m.addFunction('f', bn.createType([i32, i32, i32, i32, i32, i32, i32]), i32, [], body(m, new FlagsWasm(m, PARAMS, i32)));
        return m.emitBinary().length;
      } finally {
        m.dispose();
      }
    };
    const oneComparison = moduleSize((m) => m.i32.lt_s(m.local.get(PARAMS.dst, wasmEncoder.i32), m.local.get(PARAMS.src, wasmEncoder.i32)));
    const cmp: KnownWriter = { op: OP_SUB, size: 4, mask: ARITH_FLAGS, plainSub: true };
    for (const cc of [0x2, 0x3, 0x6, 0x7, 0xc, 0xd, 0xe, 0xf]) expect(moduleSize((_, f) => f.condition(cmp, cc)), `cc ${cc}`).toBe(oneComparison);
  });
});
