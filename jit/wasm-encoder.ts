// A direct WebAssembly encoder: the part of binaryen.js's Module API the translator uses (wasm-backend.ts),
// producing a module's bytes without binaryen (like v86's wasmgen: a byte buffer, LEB128 helpers, one
// method per opcode). binaryen costs ~1 s to load and ~20 µs per guest instruction, nearly all of it
// per-call overhead into its WASM heap; this loads instantly and adds ~2 µs per guest instruction to the
// translator's own work (tests/wasm-encoder.test.ts prints both).
//
// Expressions are integer handles into one arena of small records (struct-of-arrays), so the translator's
// `Expr = number` stays. Each record gets its type when it is made, with binaryen's rules (a block without
// a result type is none, or unreachable when a child is and nothing branches to it; `if` takes the type its
// arms agree on; br/br_table/return are unreachable), because block/loop/if types are encoded.
// emitBinary() walks the trees in post-order and writes bytes the way binaryen's own writer does, so for
// the translator's modules the two backends give the same bytes (tests/wasm-encoder.test.ts checks it):
//   - a block nothing can branch to (no name, or an if arm / loop body / function body whose name no branch
//     uses) is written as its children, without block/end;
//   - code after an unreachable child is not written (the stack is polymorphic there), nor the parent of
//     an unreachable operand;
//   - a block, loop or if of type unreachable is written with an empty block type and followed by an
//     `unreachable` (its enclosing code may expect a value it never produces).
//   - signatures are deduplicated and ordered by use count (functions, imports and return_call_indirect),
//     ties by first use; imports come first in the function index space, the memory import before the
//     table import before the function imports.
// Labels are names until then; they become relative depths through a label stack (every block, loop and
// if opens a level in the binary format; flattened blocks do not). Whether a branch targets a named block
// is taken from all branches made so far rather than from the block's own subtree, as binaryen does: the
// same when a function's label names are unique (the translator's are; binaryen requires it anyway).
//
// Handles are global to the arena, which is reset when the last live module is disposed: like binaryen,
// every module must be disposed (compile.ts does it in `finally`).
import type { BlockApi, Expr, I32Ops, I64Ops, WasmBackend, WasmModule, WasmType } from './wasm-backend.ts';

// ---- types (binaryen's numbering) ----
export const NONE = 0, UNREACHABLE = 1, I32 = 2, I64 = 3;
/** createType of two or more types: FIRST_TUPLE + index into `tuples`. */
const FIRST_TUPLE = 16;
const tuples: WasmType[][] = [];
const tupleIds = new Map<string, WasmType>();

function createType(types: readonly WasmType[]): WasmType {
  if (types.length === 0) return NONE;
  if (types.length === 1) return types[0];
  const key = types.join(',');
  let id = tupleIds.get(key);
  if (id === undefined) { id = FIRST_TUPLE + tuples.length; tuples.push([...types]); tupleIds.set(key, id); }
  return id;
}
function expandType(t: WasmType): readonly WasmType[] {
  if (t === NONE) return [];
  if (t >= FIRST_TUPLE) return tuples[t - FIRST_TUPLE];
  return [t];
}
function valueTypeByte(t: WasmType): number {
  if (t === I32) return 0x7f;
  if (t === I64) return 0x7e;
  throw new Error(`wasm-encoder: not a value type: ${t}`);
}
/** A block type: empty for none and unreachable (see the header), else the value type. */
function blockTypeByte(t: WasmType): number { return t === NONE || t === UNREACHABLE ? 0x40 : valueTypeByte(t); }
/** The type both arms of an `if` (or a select) can have. */
function lub(a: WasmType, b: WasmType): WasmType { return a === b ? a : a === UNREACHABLE ? b : b === UNREACHABLE ? a : NONE; }

// ---- bytes ----

/** A growable byte buffer with the LEB128 forms the binary format uses. */
export class ByteWriter {
  buf: Uint8Array = new Uint8Array(1 << 16);
  len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }
  byte(b: number): void {
    if (this.len === this.buf.length) this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(a: ArrayLike<number>): void {
    this.ensure(a.length);
    this.buf.set(a, this.len);
    this.len += a.length;
  }
  /** Unsigned LEB128 of a u32 (a negative int32 is taken as its u32 bits). */
  u32(v: number): void {
    this.ensure(5);
    v >>>= 0;
    do {
      let b = v & 0x7f;
      v >>>= 7;
      if (v !== 0) b |= 0x80;
      this.buf[this.len++] = b;
    } while (v !== 0);
  }
  /** Signed LEB128 of an int32 (i32.const). */
  s32(v: number): void {
    this.ensure(5);
    v |= 0;
    for (;;) {
      const b = v & 0x7f;
      v >>= 7;
      // Done when the rest is all sign: the sign bit of this byte (0x40) must agree with it.
      if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) { this.buf[this.len++] = b; return; }
      this.buf[this.len++] = b | 0x80;
    }
  }
  /** Signed LEB128 of an int64 (i64.const). */
  s64(v: bigint): void {
    this.ensure(10);
    v = BigInt.asIntN(64, v);
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) { this.buf[this.len++] = b; return; }
      this.buf[this.len++] = b | 0x80;
    }
  }
  /** A name: its UTF-8 length and bytes. */
  name(s: string): void {
    const utf8 = textEncoder.encode(s);
    this.u32(utf8.length);
    this.bytes(utf8);
  }
  /**
   * Start a size-prefixed part (a section, a function body): room for a 5-byte size, filled in by
   * endSized in its shortest form (the content moves back), so the output is what binaryen writes.
   */
  beginSized(): number {
    this.ensure(5);
    const at = this.len;
    this.len += 5;
    return at;
  }
  endSized(at: number): void {
    const size = this.len - at - 5, n = u32Length(size);
    this.buf.copyWithin(at + n, at + 5, this.len);
    this.len -= 5 - n;
    const end = this.len;
    this.len = at;
    this.u32(size);
    this.len = end;
  }
}
const textEncoder = new TextEncoder();
function u32Length(v: number): number {
  let n = 1;
  for (v >>>= 7; v !== 0; v >>>= 7) n++;
  return n;
}

/** LEB128 encodings as byte arrays (for tests and anyone checking an encoding by hand). */
export function encodeU32(v: number): number[] { const w = new ByteWriter(); w.u32(v); return [...w.buf.subarray(0, w.len)]; }
export function encodeS32(v: number): number[] { const w = new ByteWriter(); w.s32(v); return [...w.buf.subarray(0, w.len)]; }
export function encodeS64(v: bigint): number[] { const w = new ByteWriter(); w.s64(v); return [...w.buf.subarray(0, w.len)]; }

// ---- the expression arena ----

// Record kinds. Operand fields a..d per kind (-1: absent):
const K_CONST32 = 1;   // a = value
const K_CONST64 = 2;   // a = index into arena.bigints
const K_LOCAL_GET = 3; // a = local
const K_LOCAL_SET = 4; // a = local, b = value
const K_LOCAL_TEE = 5; // a = local, b = value
const K_UNARY = 6;     // op, a
const K_BINARY = 7;    // op, a, b
const K_LOAD = 8;      // op, a = ptr, b = offset, c = log2(align)
const K_STORE = 9;     // op, a = ptr, b = value, c = offset, d = log2(align)
const K_BLOCK = 10;    // a = name (-1), b = list of children
const K_LOOP = 11;     // a = name (-1), b = body
const K_IF = 12;       // a = condition, b = then, c = else (-1)
const K_BR = 13;       // a = name, b = condition (-1), c = value (-1)
const K_SWITCH = 14;   // a = list of names, b = default name, c = condition, d = value (-1)
const K_CALL = 15;     // a = function name, b = list of operands
const K_MISC = 16;     // 0xFC-prefixed op (memory.copy/fill): op = sub-opcode, a, b, c
const K_DROP = 17;     // a
const K_SELECT = 18;   // a = then, b = else, c = condition
const K_RETURN = 19;   // a = value (-1)
const K_NOP = 20;
const K_UNREACHABLE = 21;
const K_RETURN_CALL_INDIRECT = 22; // a = target, b = list of operands, c = params type, d = results type
const K_RETURN_CALL = 23; // a = function name, b = list of operands

const MISC_MEMORY_COPY = 0x0a, MISC_MEMORY_FILL = 0x0b;

/**
 * Every expression of the live modules: kind, type, opcode and four operand fields per record (handle =
 * index; 0 is never used, like binaryen's null ExpressionRef), children lists, i64 constants and names.
 */
class Arena {
  kind: Uint8Array = new Uint8Array(4096);
  type: Uint8Array = new Uint8Array(4096);
  op: Uint8Array = new Uint8Array(4096);
  a: Int32Array = new Int32Array(4096);
  b: Int32Array = new Int32Array(4096);
  c: Int32Array = new Int32Array(4096);
  d: Int32Array = new Int32Array(4096);
  count = 1;
  /**
   * Children lists (blocks, call operands, br_table names), packed in one pool so that building a list
   * allocates nothing: list i is pool[listStart[i] .. listStart[i] + listLength[i]).
   */
  pool: Int32Array = new Int32Array(4096);
  poolLength = 0;
  listStart: Int32Array = new Int32Array(1024);
  listLength: Int32Array = new Int32Array(1024);
  lists = 0;
  bigints: bigint[] = [];
  /** Interned names (labels and functions): id → string, string → id, and how many branches target each. */
  names: string[] = [];
  nameIds = new Map<string, number>();
  branchesTo: number[] = [];

  reset(): void {
    this.count = 1;
    this.poolLength = 0;
    this.lists = 0;
    this.bigints = [];
    this.names = [];
    this.nameIds.clear();
    this.branchesTo = [];
  }

  private grow(): void {
    const n = this.kind.length * 2;
    const u8 = (x: Uint8Array): Uint8Array => { const y = new Uint8Array(n); y.set(x); return y; };
    const i32 = (x: Int32Array): Int32Array => { const y = new Int32Array(n); y.set(x); return y; };
    this.kind = u8(this.kind); this.type = u8(this.type); this.op = u8(this.op);
    this.a = i32(this.a); this.b = i32(this.b); this.c = i32(this.c); this.d = i32(this.d);
  }

  add(kind: number, type: WasmType, op: number, a: number, b: number, c: number, d: number): Expr {
    const e = this.count++;
    if (e === this.kind.length) this.grow();
    this.kind[e] = kind; this.type[e] = type; this.op[e] = op;
    this.a[e] = a; this.b[e] = b; this.c[e] = c; this.d[e] = d;
    return e;
  }

  name(s: string): number {
    let id = this.nameIds.get(s);
    if (id === undefined) { id = this.names.length; this.names.push(s); this.nameIds.set(s, id); this.branchesTo.push(0); }
    return id;
  }

  isUnreachable(e: Expr): boolean { return this.type[e] === UNREACHABLE; }
  /** The type of an operation of result type `t` over its operands: unreachable if one of them is. */
  over(t: WasmType, x: Expr, y = 0, z = 0): WasmType {
    const ty = this.type;
    return ty[x] === UNREACHABLE || (y !== 0 && ty[y] === UNREACHABLE) || (z !== 0 && ty[z] === UNREACHABLE) ? UNREACHABLE : t;
  }

  unary(op: number, t: WasmType, x: Expr): Expr { return this.add(K_UNARY, this.over(t, x), op, x, 0, 0, 0); }
  binary(op: number, t: WasmType, x: Expr, y: Expr): Expr { return this.add(K_BINARY, this.over(t, x, y), op, x, y, 0, 0); }
  /** `align` in bytes as binaryen takes it (0: the access size); the binary holds its log2. */
  load(op: number, t: WasmType, size: number, offset: number, align: number, ptr: Expr): Expr {
    return this.add(K_LOAD, this.over(t, ptr), op, ptr, offset, 31 - Math.clz32(align || size), 0);
  }
  store(op: number, size: number, offset: number, align: number, ptr: Expr, value: Expr): Expr {
    return this.add(K_STORE, this.over(NONE, ptr, value), op, ptr, value, offset, 31 - Math.clz32(align || size));
  }
  const64(v: number | bigint): Expr {
    this.bigints.push(BigInt.asIntN(64, BigInt(v)));
    return this.add(K_CONST64, I64, 0, this.bigints.length - 1, 0, 0, 0);
  }
  /** A new list holding `items` (copied: the caller may reuse its array, as binaryen allows). */
  list(items: readonly number[]): number {
    const id = this.lists++;
    if (id === this.listStart.length) { this.listStart = grown(this.listStart, id + 1); this.listLength = grown(this.listLength, id + 1); }
    const n = items.length;
    this.reservePool(n);
    const pool = this.pool;
    let at = this.poolLength;
    this.listStart[id] = at;
    this.listLength[id] = n;
    for (let i = 0; i < n; i++) pool[at++] = items[i];
    this.poolLength = at;
    return id;
  }
  /** Append to list `id`, moving it to the end of the pool first if something was packed after it. */
  push(id: number, item: number): number {
    const start = this.listStart[id], n = this.listLength[id];
    if (start + n !== this.poolLength) {
      this.reservePool(n + 1);
      this.pool.copyWithin(this.poolLength, start, start + n);
      this.listStart[id] = this.poolLength;
      this.poolLength += n;
    }
    this.reservePool(1);
    this.pool[this.poolLength++] = item;
    this.listLength[id] = n + 1;
    return n;
  }
  /** Remove item `index` of list `id` (the rest close up) and return it. */
  removeAt(id: number, index: number): number {
    const start = this.listStart[id], n = this.listLength[id];
    if (index < 0 || index >= n) throw new Error(`wasm-encoder: no item ${index} in a list of ${n}`);
    const item = this.pool[start + index];
    this.pool.copyWithin(start + index, start + index + 1, start + n);
    this.listLength[id] = n - 1;
    return item;
  }
  private reservePool(n: number): void {
    if (this.poolLength + n > this.pool.length) this.pool = grown(this.pool, this.poolLength + n);
  }
}

/** A copy of `a` with room for at least `n` elements. */
function grown(a: Int32Array, n: number): Int32Array {
  let size = a.length * 2;
  while (size < n) size *= 2;
  const b = new Int32Array(size);
  b.set(a);
  return b;
}

const arena = new Arena();
/** Modules made and not yet disposed; the arena is reset when it drops to 0. */
let liveModules = 0;

// ---- the opcode methods (binaryen's names and argument orders) ----
const A = arena;
const I32_OPS: I32Ops = {
  const: (v) => A.add(K_CONST32, I32, 0, v | 0, 0, 0, 0),
  load: (offset, align, ptr) => A.load(0x28, I32, 4, offset, align, ptr),
  load8_s: (offset, align, ptr) => A.load(0x2c, I32, 1, offset, align, ptr),
  load8_u: (offset, align, ptr) => A.load(0x2d, I32, 1, offset, align, ptr),
  load16_s: (offset, align, ptr) => A.load(0x2e, I32, 2, offset, align, ptr),
  load16_u: (offset, align, ptr) => A.load(0x2f, I32, 2, offset, align, ptr),
  store: (offset, align, ptr, value) => A.store(0x36, 4, offset, align, ptr, value),
  store8: (offset, align, ptr, value) => A.store(0x3a, 1, offset, align, ptr, value),
  store16: (offset, align, ptr, value) => A.store(0x3b, 2, offset, align, ptr, value),
  eqz: (x) => A.unary(0x45, I32, x),
  clz: (x) => A.unary(0x67, I32, x),
  ctz: (x) => A.unary(0x68, I32, x),
  popcnt: (x) => A.unary(0x69, I32, x),
  wrap: (x) => A.unary(0xa7, I32, x),
  extend8_s: (x) => A.unary(0xc0, I32, x),
  extend16_s: (x) => A.unary(0xc1, I32, x),
  eq: (x, y) => A.binary(0x46, I32, x, y),
  ne: (x, y) => A.binary(0x47, I32, x, y),
  lt_s: (x, y) => A.binary(0x48, I32, x, y),
  lt_u: (x, y) => A.binary(0x49, I32, x, y),
  gt_s: (x, y) => A.binary(0x4a, I32, x, y),
  gt_u: (x, y) => A.binary(0x4b, I32, x, y),
  le_s: (x, y) => A.binary(0x4c, I32, x, y),
  le_u: (x, y) => A.binary(0x4d, I32, x, y),
  ge_s: (x, y) => A.binary(0x4e, I32, x, y),
  ge_u: (x, y) => A.binary(0x4f, I32, x, y),
  add: (x, y) => A.binary(0x6a, I32, x, y),
  sub: (x, y) => A.binary(0x6b, I32, x, y),
  mul: (x, y) => A.binary(0x6c, I32, x, y),
  div_s: (x, y) => A.binary(0x6d, I32, x, y),
  div_u: (x, y) => A.binary(0x6e, I32, x, y),
  rem_s: (x, y) => A.binary(0x6f, I32, x, y),
  rem_u: (x, y) => A.binary(0x70, I32, x, y),
  and: (x, y) => A.binary(0x71, I32, x, y),
  or: (x, y) => A.binary(0x72, I32, x, y),
  xor: (x, y) => A.binary(0x73, I32, x, y),
  shl: (x, y) => A.binary(0x74, I32, x, y),
  shr_s: (x, y) => A.binary(0x75, I32, x, y),
  shr_u: (x, y) => A.binary(0x76, I32, x, y),
  rotl: (x, y) => A.binary(0x77, I32, x, y),
  rotr: (x, y) => A.binary(0x78, I32, x, y),
};
const I64_OPS: I64Ops = {
  const: (v) => A.const64(v),
  load: (offset, align, ptr) => A.load(0x29, I64, 8, offset, align, ptr),
  load8_s: (offset, align, ptr) => A.load(0x30, I64, 1, offset, align, ptr),
  load8_u: (offset, align, ptr) => A.load(0x31, I64, 1, offset, align, ptr),
  load16_s: (offset, align, ptr) => A.load(0x32, I64, 2, offset, align, ptr),
  load16_u: (offset, align, ptr) => A.load(0x33, I64, 2, offset, align, ptr),
  load32_s: (offset, align, ptr) => A.load(0x34, I64, 4, offset, align, ptr),
  load32_u: (offset, align, ptr) => A.load(0x35, I64, 4, offset, align, ptr),
  store: (offset, align, ptr, value) => A.store(0x37, 8, offset, align, ptr, value),
  store8: (offset, align, ptr, value) => A.store(0x3c, 1, offset, align, ptr, value),
  store16: (offset, align, ptr, value) => A.store(0x3d, 2, offset, align, ptr, value),
  store32: (offset, align, ptr, value) => A.store(0x3e, 4, offset, align, ptr, value),
  eqz: (x) => A.unary(0x50, I32, x),
  clz: (x) => A.unary(0x79, I64, x),
  ctz: (x) => A.unary(0x7a, I64, x),
  popcnt: (x) => A.unary(0x7b, I64, x),
  extend_s: (x) => A.unary(0xac, I64, x),
  extend_u: (x) => A.unary(0xad, I64, x),
  extend8_s: (x) => A.unary(0xc2, I64, x),
  extend16_s: (x) => A.unary(0xc3, I64, x),
  extend32_s: (x) => A.unary(0xc4, I64, x),
  eq: (x, y) => A.binary(0x51, I32, x, y),
  ne: (x, y) => A.binary(0x52, I32, x, y),
  lt_s: (x, y) => A.binary(0x53, I32, x, y),
  lt_u: (x, y) => A.binary(0x54, I32, x, y),
  gt_s: (x, y) => A.binary(0x55, I32, x, y),
  gt_u: (x, y) => A.binary(0x56, I32, x, y),
  le_s: (x, y) => A.binary(0x57, I32, x, y),
  le_u: (x, y) => A.binary(0x58, I32, x, y),
  ge_s: (x, y) => A.binary(0x59, I32, x, y),
  ge_u: (x, y) => A.binary(0x5a, I32, x, y),
  add: (x, y) => A.binary(0x7c, I64, x, y),
  sub: (x, y) => A.binary(0x7d, I64, x, y),
  mul: (x, y) => A.binary(0x7e, I64, x, y),
  div_s: (x, y) => A.binary(0x7f, I64, x, y),
  div_u: (x, y) => A.binary(0x80, I64, x, y),
  rem_s: (x, y) => A.binary(0x81, I64, x, y),
  rem_u: (x, y) => A.binary(0x82, I64, x, y),
  and: (x, y) => A.binary(0x83, I64, x, y),
  or: (x, y) => A.binary(0x84, I64, x, y),
  xor: (x, y) => A.binary(0x85, I64, x, y),
  shl: (x, y) => A.binary(0x86, I64, x, y),
  shr_s: (x, y) => A.binary(0x87, I64, x, y),
  shr_u: (x, y) => A.binary(0x88, I64, x, y),
  rotl: (x, y) => A.binary(0x89, I64, x, y),
  rotr: (x, y) => A.binary(0x8a, I64, x, y),
};
const LOCAL_OPS: WasmModule['local'] = {
  get: (index, type) => A.add(K_LOCAL_GET, type, 0, index, 0, 0, 0),
  set: (index, value) => A.add(K_LOCAL_SET, A.over(NONE, value), 0, index, value, 0, 0),
  tee: (index, value, type) => A.add(K_LOCAL_TEE, A.over(type, value), 0, index, value, 0, 0),
};
const MEMORY_OPS: WasmModule['memory'] = {
  copy: (dest, source, size) => A.add(K_MISC, A.over(NONE, dest, source, size), MISC_MEMORY_COPY, dest, source, size, 0),
  fill: (dest, value, size) => A.add(K_MISC, A.over(NONE, dest, value, size), MISC_MEMORY_FILL, dest, value, size, 0),
};

// ---- modules ----

interface FunctionImport { name: string; module: string; base: string; params: WasmType; results: WasmType }
interface FunctionDef { name: string; params: WasmType; results: WasmType; vars: readonly WasmType[]; body: Expr }

class EncoderModule implements WasmModule {
  readonly i32 = I32_OPS;
  readonly i64 = I64_OPS;
  readonly local = LOCAL_OPS;
  readonly memory = MEMORY_OPS;
  private features = 0;
  private memoryLimits: { initial: number; maximum: number } | null = null;
  private memoryImport: { module: string; base: string } | null = null;
  /** The one table (funcref, index 0), imported when tableImport is set. */
  private table: { initial: number; maximum: number } | null = null;
  private tableImport: { module: string; base: string } | null = null;
  private readonly imports: FunctionImport[] = [];
  private readonly functions: FunctionDef[] = [];
  /** The signatures of imports and functions in the order they were added (for the type section's order). */
  private readonly declared: [WasmType, WasmType][] = [];
  /** Exports in the order they were made (a function by internal name, or the memory: null). */
  private readonly exports: { internal: string | null; external: string }[] = [];
  private disposed = false;

  constructor() { liveModules++; }

  // ---- control flow ----
  block(label: string | null, children: readonly Expr[], resultType: WasmType = NONE): Expr {
    const name = label === null ? -1 : A.name(label);
    let t = resultType;
    // binaryen: a none block with an unreachable child is unreachable, unless a branch may leave it.
    if (t === NONE && (name < 0 || A.branchesTo[name] === 0)) {
      for (const ch of children) if (A.isUnreachable(ch)) { t = UNREACHABLE; break; }
    }
    return A.add(K_BLOCK, t, 0, name, A.list(children), 0, 0);
  }
  if(condition: Expr, ifTrue: Expr, ifFalse?: Expr): Expr {
    const hasElse = ifFalse !== undefined && ifFalse !== 0;
    let t = hasElse ? lub(A.type[ifTrue], A.type[ifFalse]) : NONE;
    if (t === NONE && A.isUnreachable(condition)) t = UNREACHABLE;
    return A.add(K_IF, t, 0, condition, ifTrue, hasElse ? ifFalse : -1, 0);
  }
  loop(label: string | null, body: Expr): Expr {
    return A.add(K_LOOP, A.type[body], 0, label === null ? -1 : A.name(label), body, 0, 0);
  }
  br(label: string, condition?: Expr, value?: Expr): Expr {
    const name = A.name(label);
    A.branchesTo[name]++;
    const cond = condition === undefined || condition === 0 ? -1 : condition, val = value === undefined || value === 0 ? -1 : value;
    let t: WasmType = UNREACHABLE;
    if (cond >= 0) t = A.over(val >= 0 ? A.type[val] : NONE, cond, val >= 0 ? val : 0);
    return A.add(K_BR, t, 0, name, cond, val, 0);
  }
  switch(labels: readonly string[], defaultLabel: string, condition: Expr, value?: Expr): Expr {
    const names = labels.map((l) => A.name(l)), dflt = A.name(defaultLabel);
    for (const n of names) A.branchesTo[n]++;
    A.branchesTo[dflt]++;
    return A.add(K_SWITCH, UNREACHABLE, 0, A.list(names), dflt, condition, value === undefined || value === 0 ? -1 : value);
  }
  call(name: string, operands: readonly Expr[], returnType: WasmType): Expr {
    let t = returnType;
    for (const o of operands) if (A.isUnreachable(o)) { t = UNREACHABLE; break; }
    return A.add(K_CALL, t, 0, A.name(name), A.list(operands), 0, 0);
  }
  return_call(name: string, operands: readonly Expr[], _returnType: WasmType): Expr {
    return A.add(K_RETURN_CALL, UNREACHABLE, 0, A.name(name), A.list(operands), 0, 0);
  }
  /** A tail call through table 0 (binaryen's return_call_indirect; the table name is not encoded: there is one). */
  return_call_indirect(_table: string, target: Expr, operands: readonly Expr[], params: WasmType, results: WasmType): Expr {
    this.declared.push([params, results]);
    return A.add(K_RETURN_CALL_INDIRECT, UNREACHABLE, 0, target, A.list(operands), params, results);
  }
  drop(value: Expr): Expr { return A.add(K_DROP, A.over(NONE, value), 0, value, 0, 0, 0); }
  select(condition: Expr, ifTrue: Expr, ifFalse: Expr): Expr {
    return A.add(K_SELECT, A.over(lub(A.type[ifTrue], A.type[ifFalse]), ifTrue, ifFalse, condition), 0, ifTrue, ifFalse, condition, 0);
  }
  return(value?: Expr): Expr { return A.add(K_RETURN, UNREACHABLE, 0, value === undefined || value === 0 ? -1 : value, 0, 0, 0); }
  nop(): Expr { return A.add(K_NOP, NONE, 0, 0, 0, 0, 0); }
  unreachable(): Expr { return A.add(K_UNREACHABLE, UNREACHABLE, 0, 0, 0, 0, 0); }

  // ---- module level ----
  setFeatures(features: number): void { this.features = features; }
  getFeatures(): number { return this.features; }
  setMemory(initial: number, maximum: number, exportName: string | null = null): void {
    this.memoryLimits = { initial, maximum };
    if (exportName !== null && exportName !== undefined) this.exports.push({ internal: null, external: exportName });
  }
  addMemoryImport(_internalName: string, externalModuleName: string, externalBaseName: string): void {
    this.memoryImport = { module: externalModuleName, base: externalBaseName };
  }
  addTable(_name: string, initial: number, maximum: number): void { this.table = { initial, maximum }; }
  addTableImport(_internalName: string, externalModuleName: string, externalBaseName: string): void {
    if (this.table === null) throw new Error('wasm-encoder: addTableImport before addTable');
    this.tableImport = { module: externalModuleName, base: externalBaseName };
  }
  addFunctionImport(internalName: string, externalModuleName: string, externalBaseName: string, params: WasmType, results: WasmType): void {
    this.imports.push({ name: internalName, module: externalModuleName, base: externalBaseName, params, results });
    this.declared.push([params, results]);
  }
  addFunction(name: string, params: WasmType, results: WasmType, vars: readonly WasmType[], body: Expr): void {
    this.functions.push({ name, params, results, vars: vars.slice(), body });
    this.declared.push([params, results]);
  }
  addFunctionExport(internalName: string, externalName: string): void {
    this.exports.push({ internal: internalName, external: externalName });
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (--liveModules === 0) arena.reset();
  }

  emitBinary(): Uint8Array {
    if (this.disposed) throw new Error('wasm-encoder: emitBinary after dispose');
    const w = writer;
    w.len = 0;
    w.bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]); // "\0asm", version 1

    // Signatures, deduplicated, ordered as binaryen orders them: the most used first, ties in order of
    // first use (by imports and functions in the order they were added).
    const uses = new Map<string, { params: WasmType; results: WasmType; count: number; first: number; index: number }>();
    this.declared.forEach(([params, results], k) => {
      const key = `${params}:${results}`, u = uses.get(key);
      if (u === undefined) uses.set(key, { params, results, count: 1, first: k, index: 0 });
      else u.count++;
    });
    const sigs = [...uses.values()].sort((x, y) => y.count - x.count || x.first - y.first);
    sigs.forEach((u, i) => { u.index = i; });
    const sigOf = (params: WasmType, results: WasmType): number => uses.get(`${params}:${results}`)!.index;
    const importSigs = this.imports.map((f) => sigOf(f.params, f.results));
    const funcSigs = this.functions.map((f) => sigOf(f.params, f.results));
    // Function indices: imports first.
    const funcIndex = new Map<string, number>();
    this.imports.forEach((f, i) => funcIndex.set(f.name, i));
    this.functions.forEach((f, i) => funcIndex.set(f.name, this.imports.length + i));

    if (sigs.length > 0) {
      const at = section(w, 1);
      w.u32(sigs.length);
      for (const { params, results } of sigs) {
        w.byte(0x60);
        const ps = expandType(params), rs = expandType(results);
        w.u32(ps.length); for (const t of ps) w.byte(valueTypeByte(t));
        w.u32(rs.length); for (const t of rs) w.byte(valueTypeByte(t));
      }
      w.endSized(at);
    }

    const mem = this.memoryLimits ?? { initial: 0, maximum: -1 };
    const limits = (): void => {
      const hasMax = mem.maximum >= 0 && mem.maximum !== 0xffffffff;
      w.byte(hasMax ? 0x01 : 0x00);
      w.u32(mem.initial);
      if (hasMax) w.u32(mem.maximum);
    };
    const nImports = this.imports.length + (this.memoryImport !== null ? 1 : 0) + (this.tableImport !== null ? 1 : 0);
    if (nImports > 0) {
      const at = section(w, 2);
      w.u32(nImports);
      // binaryen writes the memory import before function imports.
      if (this.memoryImport !== null) { w.name(this.memoryImport.module); w.name(this.memoryImport.base); w.byte(0x02); limits(); }
      if (this.tableImport !== null) {
        const t = this.table!, hasMax = t.maximum >= 0 && t.maximum !== 0xffffffff;
        w.name(this.tableImport.module); w.name(this.tableImport.base); w.byte(0x01); w.byte(0x70); // funcref
        w.byte(hasMax ? 0x01 : 0x00); w.u32(t.initial); if (hasMax) w.u32(t.maximum);
      }
      this.imports.forEach((f, i) => { w.name(f.module); w.name(f.base); w.byte(0x00); w.u32(importSigs[i]); });
      w.endSized(at);
    }

    if (this.functions.length > 0) {
      const at = section(w, 3);
      w.u32(this.functions.length);
      for (const s of funcSigs) w.u32(s);
      w.endSized(at);
    }

    if (this.memoryLimits !== null && this.memoryImport === null) {
      const at = section(w, 5);
      w.u32(1);
      limits();
      w.endSized(at);
    }

    if (this.exports.length > 0) {
      const at = section(w, 7);
      w.u32(this.exports.length);
      for (const e of this.exports) {
        w.name(e.external);
        if (e.internal === null) { w.byte(0x02); w.u32(0); continue; } // the memory
        const i = funcIndex.get(e.internal);
        if (i === undefined) throw new Error(`wasm-encoder: export of unknown function ${e.internal}`);
        w.byte(0x00); w.u32(i);
      }
      w.endSized(at);
    }

    if (this.functions.length > 0) {
      const at = section(w, 10);
      w.u32(this.functions.length);
      const body = new BodyWriter(w, funcIndex, sigOf);
      for (const f of this.functions) {
        const fat = w.beginSized();
        // Locals as runs of one type, in the order declared (binaryen groups mixed types and renumbers
        // them; the translator's are all i32, so the bytes agree).
        const runs: [number, WasmType][] = [];
        for (const t of f.vars) {
          if (runs.length > 0 && runs[runs.length - 1][1] === t) runs[runs.length - 1][0]++;
          else runs.push([1, t]);
        }
        w.u32(runs.length);
        for (const [n, t] of runs) { w.u32(n); w.byte(valueTypeByte(t)); }
        body.contents(f.body);
        w.byte(0x0b);
        w.endSized(fat);
      }
      w.endSized(at);
    }
    return w.buf.slice(0, w.len);
  }
}

/** Start section `id` (finish it with w.endSized). */
function section(w: ByteWriter, id: number): number {
  w.byte(id);
  return w.beginSized();
}

/** The shared output buffer (emitBinary returns a copy of its used part). */
const writer = new ByteWriter();

/** Writes function bodies: the post-order walk over the arena with the label stack. */
class BodyWriter {
  /** Open labels: how deep the innermost one of each name is (-1: not open). */
  private labelAt: number[] = [];
  private saved: number[] = [];
  private depth = 0;

  constructor(private readonly w: ByteWriter, private readonly funcIndex: Map<string, number>, private readonly sigOf: (params: WasmType, results: WasmType) => number) {
    this.labelAt = new Array<number>(A.names.length).fill(-1);
  }

  private open(name: number): void {
    if (name >= 0) { this.saved.push(this.labelAt[name]); this.labelAt[name] = this.depth; }
    this.depth++;
  }
  private close(name: number): void {
    this.depth--;
    if (name >= 0) this.labelAt[name] = this.saved.pop()!;
  }
  /** The relative depth of the innermost open label `name` (br's immediate). */
  private target(name: number): number {
    const at = this.labelAt[name];
    if (at < 0) throw new Error(`wasm-encoder: branch to ${A.names[name]}, which is not an enclosing label`);
    return this.depth - 1 - at;
  }

  /** An operand: written; false when it is unreachable (its parent is then dead code and not written). */
  private operand(e: Expr): boolean {
    this.expr(e);
    return A.type[e] !== UNREACHABLE;
  }

  /** The children of block `e` from the `from`th, up to the first unreachable one. */
  private children(e: Expr, from: number): void {
    const id = A.b[e], start = A.listStart[id], end = start + A.listLength[id];
    for (let i = start + from; i < end; i++) {
      const ch = A.pool[i];
      this.expr(ch);
      if (A.type[ch] === UNREACHABLE) return;
    }
  }

  /** An if arm, loop body or function body: a block nothing branches to is written as its children. */
  contents(e: Expr): void {
    if (A.kind[e] === K_BLOCK && (A.a[e] < 0 || A.branchesTo[A.a[e]] === 0)) this.children(e, 0);
    else this.expr(e);
  }

  /** `end` of a block/loop/if, and an `unreachable` after one of type unreachable (see the header). */
  private end(e: Expr): void {
    this.w.byte(0x0b);
    if (A.type[e] === UNREACHABLE) this.w.byte(0x00);
  }

  /**
   * A named block. Blocks nested as first children (the translator's dispatcher nests one per segment)
   * are opened in a loop rather than by recursion, so a page of many segments cannot exhaust the stack.
   */
  private namedBlock(e: Expr): void {
    const w = this.w, chain = [e];
    for (;;) {
      const id = A.b[chain[chain.length - 1]];
      const first = A.listLength[id] > 0 ? A.pool[A.listStart[id]] : 0;
      if (first === 0 || A.kind[first] !== K_BLOCK || A.a[first] < 0) break;
      chain.push(first);
    }
    for (const b of chain) { w.byte(0x02); w.byte(blockTypeByte(A.type[b])); this.open(A.a[b]); }
    this.children(chain[chain.length - 1], 0);
    for (let i = chain.length - 1; i >= 0; i--) {
      const b = chain[i];
      this.close(A.a[b]);
      this.end(b);
      // The rest of the enclosing block, unless this one never falls through.
      if (i > 0 && A.type[b] !== UNREACHABLE) this.children(chain[i - 1], 1);
    }
  }

  expr(e: Expr): void {
    const w = this.w;
    switch (A.kind[e]) {
      case K_CONST32: w.byte(0x41); w.s32(A.a[e]); return;
      case K_CONST64: w.byte(0x42); w.s64(A.bigints[A.a[e]]); return;
      case K_LOCAL_GET: w.byte(0x20); w.u32(A.a[e]); return;
      case K_LOCAL_SET: if (this.operand(A.b[e])) { w.byte(0x21); w.u32(A.a[e]); } return;
      case K_LOCAL_TEE: if (this.operand(A.b[e])) { w.byte(0x22); w.u32(A.a[e]); } return;
      case K_UNARY: if (this.operand(A.a[e])) w.byte(A.op[e]); return;
      case K_BINARY: if (this.operand(A.a[e]) && this.operand(A.b[e])) w.byte(A.op[e]); return;
      case K_LOAD:
        // memarg: log2(align), then offset.
        if (this.operand(A.a[e])) { w.byte(A.op[e]); w.u32(A.c[e]); w.u32(A.b[e]); }
        return;
      case K_STORE:
        if (this.operand(A.a[e]) && this.operand(A.b[e])) { w.byte(A.op[e]); w.u32(A.d[e]); w.u32(A.c[e]); }
        return;
      case K_BLOCK:
        // An unnamed block cannot be a branch target: its children are written in its place.
        if (A.a[e] < 0) this.children(e, 0);
        else this.namedBlock(e);
        return;
      case K_LOOP:
        w.byte(0x03); w.byte(blockTypeByte(A.type[e]));
        this.open(A.a[e]);
        this.contents(A.b[e]);
        this.close(A.a[e]);
        this.end(e);
        return;
      case K_IF:
        if (!this.operand(A.a[e])) return;
        w.byte(0x04); w.byte(blockTypeByte(A.type[e]));
        this.open(-1); // an if is a label level of its own (binaryen's ifs have no names)
        this.contents(A.b[e]);
        if (A.c[e] >= 0) { w.byte(0x05); this.contents(A.c[e]); }
        this.close(-1);
        this.end(e);
        return;
      case K_BR:
        if (A.c[e] >= 0 && !this.operand(A.c[e])) return;
        if (A.b[e] >= 0) {
          if (!this.operand(A.b[e])) return;
          w.byte(0x0d);
        } else w.byte(0x0c);
        w.u32(this.target(A.a[e]));
        return;
      case K_SWITCH: {
        if (A.d[e] >= 0 && !this.operand(A.d[e])) return;
        if (!this.operand(A.c[e])) return;
        const id = A.a[e], start = A.listStart[id], end = start + A.listLength[id];
        w.byte(0x0e);
        w.u32(end - start);
        for (let i = start; i < end; i++) w.u32(this.target(A.pool[i]));
        w.u32(this.target(A.b[e]));
        return;
      }
      case K_CALL: case K_RETURN_CALL: {
        const id = A.b[e], start = A.listStart[id], end = start + A.listLength[id];
        for (let i = start; i < end; i++) if (!this.operand(A.pool[i])) return;
        const name = A.names[A.a[e]], i = this.funcIndex.get(name);
        if (i === undefined) throw new Error(`wasm-encoder: call of unknown function ${name}`);
        w.byte(A.kind[e] === K_CALL ? 0x10 : 0x12); w.u32(i);
        return;
      }
      case K_RETURN_CALL_INDIRECT: {
        const id = A.b[e], start = A.listStart[id], end = start + A.listLength[id];
        for (let i = start; i < end; i++) if (!this.operand(A.pool[i])) return;
        if (!this.operand(A.a[e])) return;
        w.byte(0x13); w.u32(this.sigOf(A.c[e], A.d[e])); w.byte(0x00); // type index, table 0
        return;
      }
      case K_MISC:
        if (this.operand(A.a[e]) && this.operand(A.b[e]) && this.operand(A.c[e])) {
          w.byte(0xfc); w.u32(A.op[e]);
          w.byte(0x00); // memory index
          if (A.op[e] === MISC_MEMORY_COPY) w.byte(0x00); // copy: destination and source memory
        }
        return;
      case K_DROP: if (this.operand(A.a[e])) w.byte(0x1a); return;
      case K_SELECT: if (this.operand(A.a[e]) && this.operand(A.b[e]) && this.operand(A.c[e])) w.byte(0x1b); return;
      case K_RETURN: if (A.a[e] < 0 || this.operand(A.a[e])) w.byte(0x0f); return;
      case K_NOP: w.byte(0x01); return;
      case K_UNREACHABLE: w.byte(0x00); return;
      default: throw new Error(`wasm-encoder: bad expression handle ${e}`);
    }
  }
}

/** Block.appendChild (binaryen's namespace-level helper; like binaryen, the block's type is not recomputed). */
function appendChild(block: Expr, child: Expr): number {
  if (A.kind[block] !== K_BLOCK) throw new Error('wasm-encoder: appendChild on a non-block');
  return A.push(A.b[block], child);
}

/** Block.removeChildAt (binaryen's too): the child at `index` leaves the block; returned. */
function removeChildAt(block: Expr, index: number): Expr {
  if (A.kind[block] !== K_BLOCK) throw new Error('wasm-encoder: removeChildAt on a non-block');
  return A.removeAt(A.b[block], index);
}

/** The encoder as a backend: what compile.ts and the translator take in place of binaryen's default export. */
export const wasmEncoder: WasmBackend & BlockApi = {
  none: NONE,
  unreachable: UNREACHABLE,
  i32: I32,
  i64: I64,
  createType,
  Features: { MVP: 0, BulkMemory: 16, SignExt: 32, TailCall: 128 }, // binaryen's values (recorded, not encoded: the binary format has no feature list)
  Module: EncoderModule,
  Block: { appendChild, removeChildAt },
};
