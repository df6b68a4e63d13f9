// The interpreter's form of the lazy-flag formulas (flag-semantics.ts): a FlagAlgebra whose expressions are
// JavaScript source over the state block `s`, compiled once per form with new Function. Each flag reader,
// condition and branch is then a function of its own with the formula inline — what hand-specialised
// closures were before, so the interpreter's hottest path (Jcc, ADC, INC/DEC's CF) pays no dispatch for
// sharing its semantics with the JIT.
import { type FlagAlgebra, type Truth, type Writer, condition, lift } from './flag-semantics.ts';
import { EFLAGS, LAZY_DST, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC } from './state.ts';

/**
 * A JavaScript expression and what it yields: an int32 word, a 0/1 number or a boolean. Truths stay in
 * whichever form is cheapest and are converted only where a context needs the other (getCF returns a
 * number to add, getZF a boolean to compare).
 */
interface Js { readonly code: string; readonly kind: 'word' | 'bit' | 'bool' }

const js = (code: string, kind: Js['kind']): Js => ({ code, kind });
const slot = (i: number): Js => js(`s[${i}]`, 'word');

/** A truth as a boolean expression. */
function asBool(t: Js): string {
  if (t.kind === 'bool') return t.code;
  return t.code === '0' ? 'false' : t.code === '1' ? 'true' : `(${t.code} !== 0)`;
}
/** A truth as a 0/1 number expression. */
function asBit(t: Js): string {
  if (t.kind !== 'bool') return t.code;
  return t.code === 'false' ? '0' : t.code === 'true' ? '1' : `(${t.code} ? 1 : 0)`;
}

/** bits - 1 of the record's size, and 32 - bits, at run time. */
const TOP = `((s[${LAZY_SIZE}] << 3) - 1)`, SPARE = `(32 - (s[${LAZY_SIZE}] << 3))`;

const bitAt = (w: Js, n: number): Js =>
  js(n === 0 ? `(${w.code} & 1)` : n === 31 ? `(${w.code} >>> 31)` : `((${w.code} >>> ${n}) & 1)`, 'bit');
const compare = (op: string) => (a: Js, b: Js): Js => js(`(${a.code} ${op} ${b.code})`, 'bool');
const unsigned = (op: string) => (a: Js, b: Js): Js => js(`((${a.code} >>> 0) ${op} (${b.code} >>> 0))`, 'bool');
const word = (op: string) => (a: Js, b: Js): Js => js(`(${a.code} ${op} ${b.code})`, 'word');

const JS: FlagAlgebra<Js> = {
  op: () => slot(LAZY_OP), dst: () => slot(LAZY_DST), src: () => slot(LAZY_SRC), res: () => slot(LAZY_RES),
  mask: () => slot(LAZY_MASK), efl: () => slot(EFLAGS),
  word: (v) => js(String(v | 0), 'word'),
  truth: (v) => js(v ? '1' : '0', 'bit'),
  and: word('&'), or: word('|'), xor: word('^'),
  not: (a) => js(`~${a.code}`, 'word'),
  bit: bitAt,
  // A 32-bit sign as a comparison (what a branch wants; getCF's dynamic size takes the shift).
  signBit: (w, size) => (size === 4 ? js(`(${w.code} < 0)`, 'bool') : size === null ? js(`((${w.code} >>> ${TOP}) & 1)`, 'bit') : bitAt(w, size * 8 - 1)),
  isZero: (w, size) => js(size === 4 ? `(${w.code} === 0)` : size === null ? `((${w.code} << ${SPARE}) === 0)`
    : `((${w.code} & ${size === 2 ? 0xffff : 0xff}) === 0)`, 'bool'),
  signExtend: (w, size) => (size === 4 ? w : js(`((${w.code} << ${32 - 8 * size}) >> ${32 - 8 * size})`, 'word')),
  // 0x9669 is the even-parity table of a nibble; folding the low byte's high nibble onto its low one keeps the parity.
  evenParity: (w) => js(`((0x9669 >>> ((${w.code} ^ (${w.code} >>> 4)) & 15)) & 1)`, 'bit'),
  eq: compare('==='), ne: compare('!=='),
  ltS: compare('<'), leS: compare('<='), gtS: compare('>'), geS: compare('>='),
  ltU: unsigned('<'), leU: unsigned('<='), gtU: unsigned('>'), geU: unsigned('>='),
  either: (a, b) => (a.kind === 'bit' && b.kind === 'bit' ? js(`(${a.code} | ${b.code})`, 'bit') : js(`(${asBool(a)} || ${asBool(b)})`, 'bool')),
  differ: (a, b) => (a.kind === b.kind ? js(`(${a.code} !== ${b.code})`, 'bool') : js(`(${asBool(a)} !== ${asBool(b)})`, 'bool')),
  negate: (a) => (a.kind === 'bool' ? js(`!${a.code}`, 'bool') : js(`(${a.code} ^ 1)`, 'bit')),
  choose: (c, t, f) => (t.kind === f.kind ? js(`(${c.code} ? ${t.code} : ${f.code})`, t.kind)
    : js(`(${c.code} ? ${asBool(t)} : ${asBool(f)})`, 'bool')),
};

/** Compile `body`, a function expression (named in stack traces and profiles by `name`). */
function compile<F>(name: string, body: string): F {
  return new Function(`"use strict"; return ${body};\n//# sourceURL=x86jit-flags/${name}.js`)() as F;
}

type Formula = (A: FlagAlgebra<Js>, w: Writer) => Truth<Js>;

/** A reader of one flag of the record in `s`, whatever wrote it: as 0/1 (`'bit'`) or as a boolean. */
export function flagReader(name: string, formula: Formula, as: 'bit'): (s: Int32Array) => number;
export function flagReader(name: string, formula: Formula, as: 'bool'): (s: Int32Array) => boolean;
export function flagReader(name: string, formula: Formula, as: 'bit' | 'bool'): (s: Int32Array) => number | boolean {
  const t = lift(JS, formula(JS, null));
  return compile(name, `function ${name}(s) { return ${as === 'bit' ? asBit(t) : asBool(t)}; }`);
}

const writerKey = (w: Writer): string => (w === null ? 'any' : `op${w.op}_size${w.size}_mask${w.mask}${w.plainSub ? '_plain' : ''}`);

const factories = new Map<string, unknown>();

/** The compiled factory of `kind` for condition cc on a record from `w`, made on first use; `body` wraps the condition. */
function factoryFor<F>(kind: string, cc: number, w: Writer, body: (condition: Js) => string): F {
  const key = `${kind}_cc${cc}_${writerKey(w)}`;
  let make = factories.get(key) as F | undefined;
  if (make === undefined) {
    make = compile<F>(key, body(lift(JS, condition(JS, w, cc))));
    factories.set(key, make);
  }
  return make;
}

/**
 * A closure testing condition cc (0..15, the SDM's tttn encoding) on the record in `s`, made once at decode
 * time so that a SETcc/CMOVcc does not dispatch on the condition each time it runs. `w`: the record's writer
 * when the decoder knows it (the previous instruction of the block), for the fused forms.
 */
export function conditionFor(s: Int32Array, cc: number, w: Writer = null): () => boolean {
  return factoryFor<(s: Int32Array) => () => boolean>('condition', cc, w, (c) => `(s) => () => ${asBool(c)}`)(s);
}

/**
 * A test of condition cc on the record in `s` as a plain function of `s` (`w` as for conditionFor), one per
 * condition and writer: what the run loop's Jcc records call (semantics/records.ts).
 */
export function conditionTest(cc: number, w: Writer = null): (s: Int32Array) => boolean {
  return factoryFor<(s: Int32Array) => boolean>('test', cc, w, (c) => `(s) => ${asBool(c)}`);
}

/**
 * A Jcc's closure: calls go(a, b) when condition cc holds on the record in `s` (`w` as for conditionFor).
 * `go` is shared by every Jcc and its arguments are kept in the one closure's context: a closure per
 * branch target would double what a cached Jcc holds.
 */
export function branchIf<A>(s: Int32Array, cc: number, w: Writer, go: (a: A, b: number) => void, a: A, b: number): () => void {
  return factoryFor<(s: Int32Array, go: (a: A, b: number) => void, a: A, b: number) => () => void>('branch', cc, w,
    (c) => `(s, go, a, b) => () => { if (${c.code}) go(a, b); }`)(s, go, a, b);
}
