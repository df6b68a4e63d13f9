// The WebAssembly-building interface the translator (translate.ts, flags-wasm.ts, semantics-wasm.ts) and
// compile.ts are written against: exactly the part of binaryen.js's Module API they use, with binaryen's
// argument orders and its numeric handles (an expression is a number, as binaryen's ExpressionRef).
// Two backends provide it: binaryen.js itself (`import binaryen from 'binaryen'`, ~1 s to load, tens of
// µs per guest instruction) and our direct encoder (wasm-encoder.ts: `wasmEncoder`, bytes in a few µs).
// Types only: nothing here runs.

/** An expression handle (binaryen's ExpressionRef). */
export type Expr = number;
/** A value type or a tuple of them made by createType (binaryen's Type). */
export type WasmType = number;

/** Integer operations shared by i32 and i64 (binaryen's names; comparisons give an i32). */
interface IntOps {
  load(offset: number, align: number, ptr: Expr): Expr;
  load8_s(offset: number, align: number, ptr: Expr): Expr;
  load8_u(offset: number, align: number, ptr: Expr): Expr;
  load16_s(offset: number, align: number, ptr: Expr): Expr;
  load16_u(offset: number, align: number, ptr: Expr): Expr;
  store(offset: number, align: number, ptr: Expr, value: Expr): Expr;
  store8(offset: number, align: number, ptr: Expr, value: Expr): Expr;
  store16(offset: number, align: number, ptr: Expr, value: Expr): Expr;
  clz(value: Expr): Expr;
  ctz(value: Expr): Expr;
  popcnt(value: Expr): Expr;
  eqz(value: Expr): Expr;
  extend8_s(value: Expr): Expr;
  extend16_s(value: Expr): Expr;
  add(left: Expr, right: Expr): Expr;
  sub(left: Expr, right: Expr): Expr;
  mul(left: Expr, right: Expr): Expr;
  div_s(left: Expr, right: Expr): Expr;
  div_u(left: Expr, right: Expr): Expr;
  rem_s(left: Expr, right: Expr): Expr;
  rem_u(left: Expr, right: Expr): Expr;
  and(left: Expr, right: Expr): Expr;
  or(left: Expr, right: Expr): Expr;
  xor(left: Expr, right: Expr): Expr;
  shl(left: Expr, right: Expr): Expr;
  shr_u(left: Expr, right: Expr): Expr;
  shr_s(left: Expr, right: Expr): Expr;
  rotl(left: Expr, right: Expr): Expr;
  rotr(left: Expr, right: Expr): Expr;
  eq(left: Expr, right: Expr): Expr;
  ne(left: Expr, right: Expr): Expr;
  lt_s(left: Expr, right: Expr): Expr;
  lt_u(left: Expr, right: Expr): Expr;
  le_s(left: Expr, right: Expr): Expr;
  le_u(left: Expr, right: Expr): Expr;
  gt_s(left: Expr, right: Expr): Expr;
  gt_u(left: Expr, right: Expr): Expr;
  ge_s(left: Expr, right: Expr): Expr;
  ge_u(left: Expr, right: Expr): Expr;
}

export interface I32Ops extends IntOps {
  const(value: number): Expr;
  /** i32.wrap_i64 */
  wrap(value: Expr): Expr;
}

export interface I64Ops extends IntOps {
  /** A number or a bigint (binaryen 132: one argument). */
  const(value: number | bigint): Expr;
  load32_s(offset: number, align: number, ptr: Expr): Expr;
  load32_u(offset: number, align: number, ptr: Expr): Expr;
  store32(offset: number, align: number, ptr: Expr, value: Expr): Expr;
  extend32_s(value: Expr): Expr;
  /** i64.extend_i32_s / i64.extend_i32_u */
  extend_s(value: Expr): Expr;
  extend_u(value: Expr): Expr;
}

export interface WasmModule {
  i32: I32Ops;
  i64: I64Ops;
  local: {
    get(index: number, type: WasmType): Expr;
    set(index: number, value: Expr): Expr;
    tee(index: number, value: Expr, type: WasmType): Expr;
  };
  memory: {
    copy(dest: Expr, source: Expr, size: Expr): Expr;
    fill(dest: Expr, value: Expr, size: Expr): Expr;
  };
  /** Without a result type (or with none) a block is none, or unreachable when a child is and nothing branches to it. */
  block(label: string | null, children: readonly Expr[], resultType?: WasmType): Expr;
  if(condition: Expr, ifTrue: Expr, ifFalse?: Expr): Expr;
  loop(label: string | null, body: Expr): Expr;
  br(label: string, condition?: Expr, value?: Expr): Expr;
  switch(labels: readonly string[], defaultLabel: string, condition: Expr, value?: Expr): Expr;
  call(name: string, operands: readonly Expr[], returnType: WasmType): Expr;
  /** A tail call of function `name` (an import or a function of the module). */
  return_call(name: string, operands: readonly Expr[], returnType: WasmType): Expr;
  /** A tail call through a table (the module's one table). */
  return_call_indirect(table: string, target: Expr, operands: readonly Expr[], params: WasmType, results: WasmType): Expr;
  drop(value: Expr): Expr;
  select(condition: Expr, ifTrue: Expr, ifFalse: Expr): Expr;
  return(value?: Expr): Expr;
  nop(): Expr;
  unreachable(): Expr;

  setFeatures(features: number): void;
  setMemory(initial: number, maximum: number, exportName?: string | null): void;
  addMemoryImport(internalName: string, externalModuleName: string, externalBaseName: string): void;
  /** A funcref table; `maximum` 0xffffffff: none. */
  addTable(name: string, initial: number, maximum: number): unknown;
  addTableImport(internalName: string, externalModuleName: string, externalBaseName: string): void;
  addFunctionImport(internalName: string, externalModuleName: string, externalBaseName: string, params: WasmType, results: WasmType): void;
  addFunction(name: string, params: WasmType, results: WasmType, vars: readonly WasmType[], body: Expr): unknown;
  addFunctionExport(internalName: string, externalName: string): unknown;
  emitBinary(): Uint8Array;
  /** binaryen only (X86JIT_JIT_PASSES). */
  runPasses?(passes: string[]): void;
  /** Frees the module (mandatory for binaryen, whose heap otherwise grows; our encoder reuses its arena). */
  dispose(): void;
}

/**
 * Block.appendChild and Block.removeChildAt, namespace-level helpers of binaryen.js's that our encoder has
 * too (translate.ts builds its nested blocks with them): not in binaryen's typings, so declared here once.
 */
export interface BlockApi {
  Block: { appendChild(block: Expr, child: Expr): number; removeChildAt(block: Expr, index: number): Expr };
}

/** The namespace-level part: types, features and the Module constructor (binaryen's default export, or wasmEncoder). */
export interface WasmBackend {
  readonly none: WasmType;
  readonly unreachable: WasmType;
  readonly i32: WasmType;
  readonly i64: WasmType;
  createType(types: readonly WasmType[]): WasmType;
  readonly Features: { readonly MVP: number; readonly BulkMemory: number; readonly SignExt: number; readonly TailCall: number };
  readonly Module: new () => WasmModule;
}
