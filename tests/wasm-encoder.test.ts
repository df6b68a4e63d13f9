// Our direct WebAssembly encoder (jit/wasm-encoder.ts) against binaryen.js, the backend it replaces:
//   1. every region the JIT builds for the test ROMs (threshold 0: every block on first sight), built
//      with both backends: our bytes must be binaryen's bytes, pass WebAssembly.validate and binaryen's
//      validator; and each ROM run with the JIT on our encoder must behave exactly as with binaryen
//      (output, exit, instruction count, JIT totals);
//   2. LEB128 edge values, and each opcode family built with both backends and run.
// (Translation time is measured by `npm run bench`'s translate section, not here.)
// The JIT's backend is swapped by mocking jit/compile.ts's compileRegion, which also records the jobs.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import binaryen from 'binaryen';
import type { TranslateJob } from '../jit/compile.ts';
import type { Expr, WasmBackend, WasmModule } from '../jit/wasm-backend.ts';
import { encodeS32, encodeS64, encodeU32, wasmEncoder } from '../jit/wasm-encoder.ts';
import { prepareModule, type RegionOp, translateRegion } from '../jit/translate.ts';

/** Which backend the JIT's compileRegion uses, and the jobs it was given. */
const jit = vi.hoisted(() => ({ backend: 'binaryen' as 'binaryen' | 'encoder', jobs: [] as TranslateJob[] }));
vi.mock('../jit/compile.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../jit/compile.ts')>();
  const { wasmEncoder: encoder } = await import('../jit/wasm-encoder.ts');
  return {
    ...real,
    compileRegion: (bn: WasmBackend, job: TranslateJob) => {
      jit.jobs.push({ ...job, blocks: real.wireBlocks(job.blocks) });
      return real.compileRegion(jit.backend === 'encoder' ? encoder : bn, job);
    },
  };
});
const { createVM, loadBios, loadImage } = await import('../src/index.ts');
const { compileRegion } = await vi.importActual<typeof import('../jit/compile.ts')>('../jit/compile.ts');

const bn = binaryen as unknown as WasmBackend;
// binaryen 132 asserts (aborts) validating memory.copy/fill when BulkMemory is on without BulkMemoryOpt.
const FEATURES = binaryen.Features.MVP | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt | binaryen.Features.SignExt | binaryen.Features.TailCall;

/** WebAssembly.validate, and binaryen's validator on the module read back from the bytes. */
function validates(bytes: Uint8Array): boolean {
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) return false;
  const m = binaryen.readBinary(bytes);
  try {
    m.setFeatures(FEATURES);
    return m.validate() !== 0;
  } finally {
    m.dispose();
  }
}

/** Where two byte arrays first differ (-1: equal), for failure messages. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

// ---- 1. the test ROMs' regions ----

const DIR = join(import.meta.dirname, '..', 'test-roms');
const ROMS = readdirSync(DIR).filter((f) => f.endsWith('.elf') || f === 'bios-realmode.bin').sort();

async function runRom(rom: string, backend: 'binaryen' | 'encoder') {
  jit.backend = backend;
  jit.jobs = [];
  const chunks: Uint8Array[] = [];
  const vm = createVM({ stdout: (b) => chunks.push(b) });
  await vm.enableJit({ threshold: 0 });
  const bytes = new Uint8Array(readFileSync(join(DIR, rom)));
  if (rom.endsWith('.bin')) loadBios(vm, bytes); else loadImage(vm, bytes, rom, {});
  const exit = vm.run({ timeout: 60 });
  const stats = vm.jitStats()!;
  return {
    result: { output: Buffer.concat(chunks).toString('latin1'), reason: exit.reason, status: exit.status, instructions: vm.instructions, stats: { ...stats, translateMs: 0 } },
    jobs: jit.jobs,
  };
}

describe('test ROM regions: the encoder against binaryen', () => {
  it.each(ROMS)('%s: same bytes for every region, valid, and the same run', async (rom) => {
    const viaBinaryen = await runRom(rom, 'binaryen');
    const viaEncoder = await runRom(rom, 'encoder');
    // Differential: the JIT running our modules behaves exactly as with binaryen's.
    expect(viaEncoder.result).toEqual(viaBinaryen.result);
    expect(viaEncoder.jobs.length).toBe(viaBinaryen.jobs.length);
    if (rom === 'loops.elf' || rom.startsWith('wl-')) expect(viaEncoder.result.stats.compiled).toBeGreaterThan(0);

    // Structural: every region (and the same region under the other paging modes, and at tier 2: loops
    // formed, no counter) gives binaryen's bytes.
    for (const job of viaBinaryen.jobs) {
      for (const [paging, loops] of [...new Set([job.paging, 0, 2])].flatMap((p) => [[p, false], [p, true]] as const)) {
        const j = { ...job, paging, ...(loops ? { loops, counter: undefined } : {}) };
        const theirs = compileRegion(bn, j).binary, ours = compileRegion(wasmEncoder, j).binary;
        const at = firstDifference(ours, theirs);
        expect(at, `region at ${(job.blocks[0].start >>> 0).toString(16)} (paging ${paging}, loops ${loops}): first difference at byte ${at} of ${theirs.length}`).toBe(-1);
        expect(validates(ours)).toBe(true);
      }
    }
  });
});

// ---- 2. the encoder piece by piece ----

describe('the module check (jit/module-check.ts)', () => {
  it("binaryen's validator rejects a module whose function pops an empty stack", async () => {
    const { binaryenModuleCheck } = await import('../jit/binaryen-module-check.ts');
    const check = await binaryenModuleCheck();
    // () -> i32 with the body `i32.add`: no operands.
    const bad = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 0x0a, 5, 1, 3, 0, 0x6a, 0x0b);
    expect(WebAssembly.validate(bad)).toBe(false);
    expect(() => check(bad)).toThrow();
    // the same with `i32.const 7`: valid
    const good = Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5, 1, 0x60, 0, 1, 0x7f, 3, 2, 1, 0, 0x0a, 6, 1, 4, 0, 0x41, 7, 0x0b);
    expect(WebAssembly.validate(good)).toBe(true);
    expect(() => check(good)).not.toThrow();
  });
});

describe('LEB128', () => {
  it('u32', () => {
    expect(encodeU32(0)).toEqual([0x00]);
    expect(encodeU32(63)).toEqual([0x3f]);
    expect(encodeU32(64)).toEqual([0x40]);
    expect(encodeU32(127)).toEqual([0x7f]);
    expect(encodeU32(128)).toEqual([0x80, 0x01]);
    expect(encodeU32(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(encodeU32(2 ** 31 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(encodeU32(2 ** 31)).toEqual([0x80, 0x80, 0x80, 0x80, 0x08]);
    expect(encodeU32(2 ** 32 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(encodeU32(-1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]); // an int32's u32 bits
  });
  it('s32', () => {
    expect(encodeS32(0)).toEqual([0x00]);
    expect(encodeS32(63)).toEqual([0x3f]);
    expect(encodeS32(64)).toEqual([0xc0, 0x00]); // bit 6 set would read as negative
    expect(encodeS32(-1)).toEqual([0x7f]);
    expect(encodeS32(-64)).toEqual([0x40]);
    expect(encodeS32(-65)).toEqual([0xbf, 0x7f]);
    expect(encodeS32(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(encodeS32(2 ** 31 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(encodeS32(-(2 ** 31))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
    expect(encodeS32(2 ** 32 - 1)).toEqual([0x7f]); // taken as the int32 -1, as i32.const does
  });
  it('s64', () => {
    expect(encodeS64(0n)).toEqual([0x00]);
    expect(encodeS64(-1n)).toEqual([0x7f]);
    expect(encodeS64(64n)).toEqual([0xc0, 0x00]);
    expect(encodeS64(-65n)).toEqual([0xbf, 0x7f]);
    expect(encodeS64(2n ** 32n)).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
    expect(encodeS64(2n ** 63n - 1n)).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00]);
    expect(encodeS64(-(2n ** 63n))).toEqual([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f]);
  });
  it('round-trips seeded random values', () => {
    const decodeU = (b: number[]): number => { let v = 0; b.forEach((x, i) => { v += (x & 0x7f) * 2 ** (7 * i); }); return v; };
    const decodeS = (b: number[]): bigint => {
      let v = 0n;
      b.forEach((x, i) => { v |= BigInt(x & 0x7f) << BigInt(7 * i); });
      const bits = BigInt(7 * b.length);
      return b[b.length - 1] & 0x40 ? v - (1n << bits) : v;
    };
    let seed = 12345;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) | 0);
    const wrong: string[] = [];
    for (let k = 0; k < 5000; k++) {
      const v = next() >> (k % 32);
      if (decodeU(encodeU32(v)) !== v >>> 0) wrong.push(`u32 ${v}`);
      if (decodeS(encodeS32(v)) !== BigInt(v)) wrong.push(`s32 ${v}`);
      const w = (BigInt(next()) << 32n) | BigInt(next() >>> 0);
      if (decodeS(encodeS64(w)) !== BigInt.asIntN(64, w)) wrong.push(`s64 ${w}`);
    }
    expect(wrong).toEqual([]);
  });
});

/** Build a module with both backends (binaryen's IR validated first); the bytes must be equal and valid. */
function both(build: (b: WasmBackend, m: WasmModule) => void): Uint8Array {
  const theirs = new binaryen.Module();
  let expected: Uint8Array;
  try {
    build(bn, theirs as unknown as WasmModule);
    if (theirs.getFeatures() & binaryen.Features.BulkMemory) theirs.setFeatures(theirs.getFeatures() | binaryen.Features.BulkMemoryOpt);
    expect(theirs.validate(), 'binaryen rejects the test module itself').not.toBe(0);
    expected = theirs.emitBinary();
  } finally {
    theirs.dispose();
  }
  const m = new wasmEncoder.Module();
  let ours: Uint8Array;
  try {
    build(wasmEncoder, m);
    ours = m.emitBinary();
  } finally {
    m.dispose();
  }
  const at = firstDifference(ours, expected);
  const around = (x: Uint8Array): string => Buffer.from(x.subarray(Math.max(0, at - 16), at + 16)).toString('hex');
  expect(at, `first differing byte; binaryen …${around(expected)}…, ours …${around(ours)}…`).toBe(-1);
  expect(validates(ours)).toBe(true);
  return ours;
}

/** Pages of the memory the test modules import. */
const PAGES = 2, MEMORY_BYTES = PAGES * 65536;

/** Build with our encoder alone (for what binaryen's IR does not allow, e.g. shadowed labels); must validate. */
function oursOnly(build: (b: WasmBackend, m: WasmModule) => void): Uint8Array {
  const m = new wasmEncoder.Module();
  try {
    build(wasmEncoder, m);
    const bytes = m.emitBinary();
    expect(validates(bytes)).toBe(true);
    return bytes;
  } finally {
    m.dispose();
  }
}

/** Instantiate (with a fresh memory of PAGES pages and an `env.helper` that adds its arguments). */
function instantiate(bytes: Uint8Array): { exports: Record<string, (...a: (number | bigint)[]) => number | bigint>; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: 65536 });
  const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
    env: { memory, helper: (a: number, b: number) => (a + b) | 0 },
  });
  return { exports: inst.exports as never, memory };
}

/** A module importing env.memory (as the JIT's) with `fns` as exported functions of the given signature. */
function moduleOf(params: 'i32' | 'i64', n: number, result: 'i32' | 'i64', fns: [string, (b: WasmBackend, m: WasmModule, get: (i: number) => Expr) => Expr][]) {
  return both((b, m) => {
    m.setFeatures(b.Features.MVP | b.Features.BulkMemory | b.Features.SignExt);
    m.setMemory(1, 65536, null);
    m.addMemoryImport('0', 'env', 'memory');
    const pt = params === 'i32' ? b.i32 : b.i64, rt = result === 'i32' ? b.i32 : b.i64;
    for (const [name, body] of fns) {
      m.addFunction(name, b.createType(new Array(n).fill(pt)), rt, [], body(b, m, (i) => m.local.get(i, pt)));
      m.addFunctionExport(name, name);
    }
  });
}

const I32_VALUES = [0, 1, -1, 2, 7, -7, 31, 32, 33, 0x7fffffff, -0x80000000, 0x12345678, -0x543210fe, 0xff, 0x8000];
const I64_VALUES = [0n, 1n, -1n, 7n, -7n, 63n, 64n, 2n ** 32n, -(2n ** 32n) + 5n, 2n ** 63n - 1n, -(2n ** 63n), 0x123456789abcdef0n];

/** JavaScript's own result for each op (the encoder's modules must compute these). */
const I32_BINARY: Record<string, (x: number, y: number) => number | 'trap'> = {
  add: (x, y) => (x + y) | 0, sub: (x, y) => (x - y) | 0, mul: (x, y) => Math.imul(x, y),
  div_s: (x, y) => (y === 0 || (x === -0x80000000 && y === -1) ? 'trap' : (x / y) | 0),
  div_u: (x, y) => (y === 0 ? 'trap' : Math.trunc((x >>> 0) / (y >>> 0)) | 0),
  rem_s: (x, y) => (y === 0 ? 'trap' : x % y | 0), rem_u: (x, y) => (y === 0 ? 'trap' : ((x >>> 0) % (y >>> 0)) | 0),
  and: (x, y) => x & y, or: (x, y) => x | y, xor: (x, y) => x ^ y,
  shl: (x, y) => x << y, shr_s: (x, y) => x >> y, shr_u: (x, y) => (x >>> y) | 0,
  rotl: (x, y) => (x << (y & 31)) | (x >>> (32 - (y & 31))), rotr: (x, y) => (x >>> (y & 31)) | (x << (32 - (y & 31))),
  eq: (x, y) => +(x === y), ne: (x, y) => +(x !== y), lt_s: (x, y) => +(x < y), lt_u: (x, y) => +(x >>> 0 < y >>> 0),
  le_s: (x, y) => +(x <= y), le_u: (x, y) => +(x >>> 0 <= y >>> 0), gt_s: (x, y) => +(x > y), gt_u: (x, y) => +(x >>> 0 > y >>> 0),
  ge_s: (x, y) => +(x >= y), ge_u: (x, y) => +(x >>> 0 >= y >>> 0),
};
const I32_UNARY: Record<string, (x: number) => number> = {
  eqz: (x) => +(x === 0), clz: (x) => Math.clz32(x), ctz: (x) => (x === 0 ? 32 : 31 - Math.clz32(x & -x)),
  popcnt: (x) => { let n = 0; for (let v = x >>> 0; v; v >>>= 1) n += v & 1; return n; },
  extend8_s: (x) => (x << 24) >> 24, extend16_s: (x) => (x << 16) >> 16,
};
const s64 = (v: bigint): bigint => BigInt.asIntN(64, v), u64 = (v: bigint): bigint => BigInt.asUintN(64, v);
const I64_BINARY: Record<string, (x: bigint, y: bigint) => bigint | number | 'trap'> = {
  add: (x, y) => s64(x + y), sub: (x, y) => s64(x - y), mul: (x, y) => s64(x * y),
  div_s: (x, y) => (y === 0n || (x === -(2n ** 63n) && y === -1n) ? 'trap' : s64(x / y)),
  div_u: (x, y) => (y === 0n ? 'trap' : s64(u64(x) / u64(y))),
  rem_s: (x, y) => (y === 0n ? 'trap' : s64(x % y)), rem_u: (x, y) => (y === 0n ? 'trap' : s64(u64(x) % u64(y))),
  and: (x, y) => x & y, or: (x, y) => x | y, xor: (x, y) => x ^ y,
  shl: (x, y) => s64(x << (y & 63n)), shr_s: (x, y) => x >> (y & 63n), shr_u: (x, y) => s64(u64(x) >> (y & 63n)),
  rotl: (x, y) => s64((u64(x) << (y & 63n)) | (u64(x) >> ((64n - (y & 63n)) & 63n))),
  rotr: (x, y) => s64((u64(x) >> (y & 63n)) | (u64(x) << ((64n - (y & 63n)) & 63n))),
  eq: (x, y) => +(x === y), ne: (x, y) => +(x !== y), lt_s: (x, y) => +(x < y), lt_u: (x, y) => +(u64(x) < u64(y)),
  le_s: (x, y) => +(x <= y), le_u: (x, y) => +(u64(x) <= u64(y)), gt_s: (x, y) => +(x > y), gt_u: (x, y) => +(u64(x) > u64(y)),
  ge_s: (x, y) => +(x >= y), ge_u: (x, y) => +(u64(x) >= u64(y)),
};

function call(f: (...a: (number | bigint)[]) => number | bigint, ...args: (number | bigint)[]): number | bigint | 'trap' {
  try {
    return f(...args);
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) return 'trap';
    throw e;
  }
}

describe('opcode families (both backends: same bytes; results as JavaScript computes them)', () => {
  it('i32 binary operators and comparisons', () => {
    const ops = Object.keys(I32_BINARY) as (keyof WasmModule['i32'])[];
    const { exports } = instantiate(moduleOf('i32', 2, 'i32', ops.map((op) => [op, (_b, m, g) => (m.i32[op] as (x: Expr, y: Expr) => Expr)(g(0), g(1))])));
    for (const op of ops) for (const x of I32_VALUES) for (const y of I32_VALUES) expect(call(exports[op], x, y), `${op}(${x}, ${y})`).toBe(I32_BINARY[op](x, y));
  });

  it('i32 unary operators, wrap, constants', () => {
    const ops = Object.keys(I32_UNARY) as (keyof WasmModule['i32'])[];
    const fns: Parameters<typeof moduleOf>[3] = ops.map((op) => [op, (_b, m, g) => (m.i32[op] as (x: Expr) => Expr)(g(0))]);
    fns.push(['wrap', (_b, m, g) => m.i32.wrap(m.i64.shl(m.i64.extend_s(g(0)), m.i64.const(4)))]);
    for (const v of [0, 63, 64, -1, -64, -65, 0x7fffffff, -0x80000000, 0xffffffff]) fns.push([`c${v}`, (_b, m) => m.i32.const(v)]);
    const { exports } = instantiate(moduleOf('i32', 1, 'i32', fns));
    for (const op of ops) for (const x of I32_VALUES) expect(exports[op](x), `${op}(${x})`).toBe(I32_UNARY[op](x));
    for (const x of I32_VALUES) expect(exports.wrap(x)).toBe(x << 4);
    for (const v of [0, 63, 64, -1, -64, -65, 0x7fffffff, -0x80000000, 0xffffffff]) expect(exports[`c${v}`](0)).toBe(v | 0);
  });

  it('i64 operators, comparisons, extensions and constants', () => {
    const ops = Object.keys(I64_BINARY) as (keyof WasmModule['i64'])[];
    const cmp = new Set(['eq', 'ne', 'lt_s', 'lt_u', 'le_s', 'le_u', 'gt_s', 'gt_u', 'ge_s', 'ge_u']);
    const arith = ops.filter((op) => !cmp.has(op)), comparisons = ops.filter((op) => cmp.has(op));
    const bin = (op: keyof WasmModule['i64']) => (_b: WasmBackend, m: WasmModule, g: (i: number) => Expr) => (m.i64[op] as (x: Expr, y: Expr) => Expr)(g(0), g(1));
    const a = instantiate(moduleOf('i64', 2, 'i64', arith.map((op) => [op, bin(op)]))).exports;
    const c = instantiate(moduleOf('i64', 2, 'i32', comparisons.map((op) => [op, bin(op)]))).exports;
    for (const x of I64_VALUES) {
      for (const y of I64_VALUES) {
        for (const op of arith) expect(call(a[op], x, y), `${op}(${x}, ${y})`).toBe(I64_BINARY[op](x, y));
        for (const op of comparisons) expect(c[op](x, y), `${op}(${x}, ${y})`).toBe(I64_BINARY[op](x, y));
      }
    }
    const u = instantiate(moduleOf('i64', 1, 'i64', [
      ['clz', (_b, m, g) => m.i64.clz(g(0))], ['ctz', (_b, m, g) => m.i64.ctz(g(0))], ['popcnt', (_b, m, g) => m.i64.popcnt(g(0))],
      ['extend8_s', (_b, m, g) => m.i64.extend8_s(g(0))], ['extend16_s', (_b, m, g) => m.i64.extend16_s(g(0))], ['extend32_s', (_b, m, g) => m.i64.extend32_s(g(0))],
      ['eqz', (_b, m, g) => m.i64.extend_u(m.i64.eqz(g(0)))],
      ...I64_VALUES.map((v): [string, (b: WasmBackend, m: WasmModule) => Expr] => [`c${v}`, (_b, m) => m.i64.const(v)]),
    ])).exports;
    const popcnt = (v: bigint): bigint => BigInt([...u64(v).toString(2)].filter((d) => d === '1').length);
    for (const x of I64_VALUES) {
      expect(u.clz(x)).toBe(BigInt(64 - (u64(x) === 0n ? 0 : u64(x).toString(2).length)));
      expect(u.popcnt(x)).toBe(popcnt(x));
      expect(u.ctz(x)).toBe(x === 0n ? 64n : popcnt((x & -x) - 1n));
      expect(u.extend8_s(x)).toBe(BigInt.asIntN(8, x));
      expect(u.extend16_s(x)).toBe(BigInt.asIntN(16, x));
      expect(u.extend32_s(x)).toBe(BigInt.asIntN(32, x));
      expect(u.eqz(x)).toBe(x === 0n ? 1n : 0n);
      expect(u[`c${x}`](0n)).toBe(x);
    }
    const e = instantiate(moduleOf('i32', 1, 'i64', [['s', (_b, m, g) => m.i64.extend_s(g(0))], ['u', (_b, m, g) => m.i64.extend_u(g(0))]])).exports;
    for (const x of I32_VALUES) { expect(e.s(x)).toBe(BigInt(x)); expect(e.u(x)).toBe(BigInt(x >>> 0)); }
  });

  it('loads and stores: sizes, signedness, offsets, alignments', () => {
    type Mem = keyof WasmModule['i32'];
    const loads32: [Mem, number][] = [['load', 4], ['load8_s', 1], ['load8_u', 1], ['load16_s', 2], ['load16_u', 2]];
    const stores32: [Mem, number][] = [['store', 4], ['store8', 1], ['store16', 2]];
    const bytes = both((b, m) => {
      m.setMemory(1, 65536, null);
      m.addMemoryImport('0', 'env', 'memory');
      const p = (): Expr => m.local.get(0, b.i32);
      for (const [op, size] of loads32) {
        for (const [offset, align] of [[0, 0], [3, 1], [300, size], [70000, 1]]) {
          const name = `${op}_${offset}_${align}`;
          m.addFunction(name, b.i32, b.i32, [], (m.i32[op] as (o: number, a: number, p: Expr) => Expr)(offset, align, p()));
          m.addFunctionExport(name, name);
        }
      }
      for (const [op, size] of stores32) {
        m.addFunction(op, b.createType([b.i32, b.i32]), b.none, [], (m.i32[op] as (o: number, a: number, p: Expr, v: Expr) => Expr)(5, size === 4 ? 2 : 0, p(), m.local.get(1, b.i32)));
        m.addFunctionExport(op, op);
      }
      m.addFunction('load64', b.i32, b.i64, [], m.i64.load(8, 8, p()));
      m.addFunction('load32_s', b.i32, b.i64, [], m.i64.load32_s(0, 4, p()));
      m.addFunction('load32_u', b.i32, b.i64, [], m.i64.load32_u(0, 0, p()));
      m.addFunction('load8_s64', b.i32, b.i64, [], m.i64.load8_s(1, 1, p()));
      m.addFunction('store64', b.createType([b.i32, b.i64]), b.none, [], m.i64.store(0, 8, p(), m.local.get(1, b.i64)));
      m.addFunction('store32_64', b.createType([b.i32, b.i64]), b.none, [], m.i64.store32(0, 4, p(), m.local.get(1, b.i64)));
      for (const f of ['load64', 'load32_s', 'load32_u', 'load8_s64', 'store64', 'store32_64']) m.addFunctionExport(f, f);
    });
    const { exports: x, memory } = instantiate(bytes);
    const view = new DataView(memory.buffer);
    for (let i = 0; i < 80000; i += 1) view.setUint8(i, (i * 37 + 11) & 0xff);
    for (const [op, size] of loads32) {
      for (const [offset, align] of [[0, 0], [3, 1], [300, size], [70000, 1]]) {
        for (const at of [0, 1, 4, 999]) {
          const ea = at + offset;
          const want = op === 'load' ? view.getInt32(ea, true) : op === 'load8_s' ? view.getInt8(ea) : op === 'load8_u' ? view.getUint8(ea)
            : op === 'load16_s' ? view.getInt16(ea, true) : view.getUint16(ea, true);
          expect(x[`${op}_${offset}_${align}`](at), `${op} offset ${offset} at ${at}`).toBe(want);
        }
      }
    }
    expect(call(x['load_70000_1'], MEMORY_BYTES - 70000 - 3)).toBe('trap'); // the last byte is past the end of memory
    x.store(100, 0x11223344); expect(view.getInt32(105, true)).toBe(0x11223344);
    x.store8(100, 0x1ff); expect(view.getUint8(105)).toBe(0xff); expect(view.getUint8(106)).toBe(0x33);
    x.store16(200, -2); expect(view.getUint16(205, true)).toBe(0xfffe);
    x.store64(400, -(2n ** 40n)); expect(view.getBigInt64(400, true)).toBe(-(2n ** 40n));
    expect(x.load64(392)).toBe(-(2n ** 40n));
    x.store32_64(500, 0x1_8000_0001n); expect(view.getUint32(500, true)).toBe(0x8000_0001);
    expect(x.load32_s(500)).toBe(-0x7fffffffn); expect(x.load32_u(500)).toBe(0x8000_0001n);
    expect(x.load8_s64(499)).toBe(1n);
  });

  it('memory.copy and memory.fill', () => {
    const { exports: x, memory } = instantiate(both((b, m) => {
      m.setFeatures(b.Features.MVP | b.Features.BulkMemory);
      m.setMemory(1, 65536, null);
      m.addMemoryImport('0', 'env', 'memory');
      const g = (i: number): Expr => m.local.get(i, b.i32);
      m.addFunction('copy', b.createType([b.i32, b.i32, b.i32]), b.none, [], m.memory.copy(g(0), g(1), g(2)));
      m.addFunction('fill', b.createType([b.i32, b.i32, b.i32]), b.none, [], m.memory.fill(g(0), g(1), g(2)));
      m.addFunctionExport('copy', 'copy');
      m.addFunctionExport('fill', 'fill');
    }));
    const mem = new Uint8Array(memory.buffer);
    x.fill(10, 0x1ab, 6);
    expect([...mem.subarray(9, 17)]).toEqual([0, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0]);
    mem.set([1, 2, 3, 4, 5], 100);
    x.copy(102, 100, 5); // overlapping: memmove
    expect([...mem.subarray(100, 107)]).toEqual([1, 2, 1, 2, 3, 4, 5]);
    expect(call(x.copy, MEMORY_BYTES - 5, 0, 10)).toBe('trap');
  });

  it('control flow: block, loop, if, br, br_if, br_table, call, select, drop, tee, return', () => {
    const { exports: x } = instantiate(both((b, m) => {
      const i32 = b.i32, c = (v: number): Expr => m.i32.const(v), g = (i: number): Expr => m.local.get(i, i32);
      m.setMemory(1, 65536, null);
      m.addMemoryImport('0', 'env', 'memory');
      m.addFunctionImport('helper', 'env', 'helper', b.createType([i32, i32]), i32);
      // sum(n) = 1 + … + n: a loop with br_if, locals and tee.
      m.addFunction('sum', i32, i32, [i32, i32], m.block(null, [
        m.local.set(1, c(0)), m.local.set(2, c(0)),
        m.block('done', [m.loop('next', m.block(null, [
          m.br('done', m.i32.ge_s(m.local.tee(2, m.i32.add(g(2), c(1)), i32), m.i32.add(g(0), c(1)))),
          m.local.set(1, m.i32.add(g(1), g(2))),
          m.br('next'),
        ]))]),
        g(1),
      ], i32));
      // classify(x): br_table into nested blocks (the translator's dispatcher shape), default for the rest.
      const arm = (v: number): Expr => m.return(c(v));
      m.addFunction('classify', i32, i32, [], m.block(null, [
        m.block('d', [m.block('c2', [m.block('c1', [m.block('c0', [m.switch(['c0', 'c1', 'c2', 'c1'], 'd', g(0))]), arm(100)]), arm(101)]), arm(102)]),
        c(-1),
      ], i32));
      // if as a value, with an arm that never falls through; select; drop; a call of an import and of a function.
      m.addFunction('pick', i32, i32, [i32], m.block('out', [
        m.local.set(1, m.if(m.i32.eqz(g(0)), m.block(null, [m.br('out', undefined, c(77))]), m.select(m.i32.gt_s(g(0), c(10)), c(1), c(2)))),
        m.drop(m.call('sum', [c(3)], i32)),
        m.call('helper', [g(1), m.call('sum', [g(0)], i32)], i32),
      ], i32));
      // A named block of type unreachable (written with a trailing `unreachable`) and dead code after it.
      m.addFunction('dead', i32, i32, [i32], m.block(null, [
        m.local.set(1, c(5)),
        m.if(g(0), m.block('x', [m.local.set(1, c(6)), m.return(g(1))])),
        m.block('y', [m.nop(), m.return(c(9))]),
        m.local.set(1, c(7)),
        g(1),
      ], i32));
      m.addFunction('trap', b.none, b.none, [], m.unreachable());
      for (const f of ['sum', 'classify', 'pick', 'dead', 'trap']) m.addFunctionExport(f, f);
    }));
    expect([0, 1, 2, 10, 100].map((n) => x.sum(n))).toEqual([0, 1, 3, 55, 5050]);
    expect([0, 1, 2, 3, 4, -1, 1000].map((v) => x.classify(v))).toEqual([100, 101, 102, 101, -1, -1, -1]);
    expect([0, 5, 11].map((v) => x.pick(v))).toEqual([77, 2 + 15, 1 + 66]);
    expect([0, 1].map((v) => x.dead(v))).toEqual([9, 6]);
    expect(call(x.trap)).toBe('trap');
  });

  it('shadowed labels and locals of mixed types (ours only: binaryen wants unique labels, and groups locals by type)', () => {
    const x = new WebAssembly.Instance(new WebAssembly.Module(oursOnly((b, m) => {
      const i32 = b.i32, i64 = b.i64, c = (v: number): Expr => m.i32.const(v), g = (i: number): Expr => m.local.get(i, i32);
      // The innermost `a` is the target of the br inside the if.
      m.addFunction('shadow', i32, i32, [i64, i32, i64], m.block(null, [
        m.local.set(2, c(0)),
        m.local.set(3, m.i64.const(-5n)),
        m.block('a', [
          m.block('a', [m.if(g(0), m.br('a')), m.local.set(2, c(1))]),
          m.local.set(2, m.i32.add(g(2), m.i32.wrap(m.local.get(3, i64)))),
        ]),
        g(2),
      ], i32));
      m.addFunctionExport('shadow', 'shadow');
    }) as Uint8Array<ArrayBuffer>)).exports as { shadow: (v: number) => number };
    expect([0, 1].map((v) => x.shadow(v))).toEqual([-4, -5]);
  });

  it('deeply nested named blocks (a page of segments) and Block.appendChild', () => {
    const depth = 5000;
    const { exports: x } = instantiate(both((b, m) => {
      const i32 = b.i32, c = (v: number): Expr => m.i32.const(v);
      const blockApi = (b as unknown as { Block: { appendChild(block: Expr, child: Expr): void } }).Block;
      // As translate.ts builds its dispatcher: block b0 holds the br_table, block b(i+1) holds b(i) and code i.
      let inner = m.block('b0', [], b.none);
      blockApi.appendChild(inner, m.switch(Array.from({ length: depth }, (_, i) => `b${i}`), 'out', m.local.get(0, i32)));
      for (let i = 0; i < depth - 1; i++) {
        const next = m.block(`b${i + 1}`, [], b.none);
        blockApi.appendChild(next, inner);
        blockApi.appendChild(next, m.local.set(1, m.i32.add(m.local.get(1, i32), c(i + 1))));
        inner = next;
      }
      m.addFunction('run', i32, i32, [i32], m.block(null, [m.block('out', [inner]), m.local.get(1, i32)], i32));
      m.addFunctionExport('run', 'run');
    }));
    // Entering at segment k runs the code of segments k..depth-2: adds k+1 … depth-1.
    const tail = (k: number): number => ((depth - 1) * depth) / 2 - (k * (k + 1)) / 2;
    for (const k of [0, 1, 2500, depth - 2, depth - 1]) expect(x.run(k)).toBe(tail(k));
    expect(x.run(depth)).toBe(0); // default: straight out
  });

  it('Block.removeChildAt: the child leaves, the rest close up; an emptied unnamed block writes nothing', () => {
    let removed: number[] = [];
    const { exports: x } = instantiate(both((b, m) => {
      const i32 = b.i32, c = (v: number): Expr => m.i32.const(v);
      const blockApi = (b as unknown as { Block: { removeChildAt(block: Expr, index: number): Expr } }).Block;
      const add = (v: number): Expr => m.local.set(1, m.i32.add(m.local.get(1, i32), c(v)));
      const three = m.block(null, [add(1), add(10), add(100)]);
      const two = m.block(null, [add(1000), add(10000)]);
      removed = [blockApi.removeChildAt(three, 1), blockApi.removeChildAt(two, 1), blockApi.removeChildAt(two, 0)].map((e) => (e > 0 ? 1 : 0));
      m.addFunction('run', i32, i32, [i32], m.block(null, [three, two, m.local.get(1, i32)], i32));
      m.addFunctionExport('run', 'run');
    }));
    expect(removed).toEqual([1, 1, 1]);
    expect(x.run(0)).toBe(101);
  });

  it('module level: own memory and its export, shared signatures, tuple types, several imports', () => {
    const bytes = both((b, m) => {
      const i32 = b.i32, i64 = b.i64;
      m.setMemory(2, 10, 'mem');
      m.addFunctionImport('f', 'env', 'helper', b.createType([i32, i32]), i32);
      m.addFunctionImport('g', 'env', 'other', b.createType([i64]), b.none);
      m.addFunction('a', b.createType([i32, i32]), i32, [i64, i64, i64], m.call('f', [m.local.get(0, i32), m.local.get(1, i32)], i32));
      m.addFunction('b', b.createType([i32, i32]), i32, [], m.i32.const(3));
      m.addFunction('c', i64, b.none, [], m.call('g', [m.local.get(0, i64)], b.none));
      m.addFunctionExport('a', 'a');
      m.addFunctionExport('b', 'bee');
    });
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { helper: (p: number, q: number) => p * q, other: () => {} } });
    const ex = inst.exports as { a: (p: number, q: number) => number; bee: () => number; mem: WebAssembly.Memory };
    expect(ex.a(6, 7)).toBe(42);
    expect(ex.bee()).toBe(3);
    expect(ex.mem.buffer.byteLength).toBe(2 * 65536);
  });

  it('a region translated by the JIT, with each paging mode (the worker’s warm-up code)', async () => {
    const { decodeBytes } = await import('../src/decoder/decode.ts');
    const code = Uint8Array.from([
      0x8b, 0x45, 0x08, 0x01, 0xc8, 0x89, 0x04, 0x24, 0x39, 0xd8, 0x0f, 0x94, 0xc1, 0x0f, 0xb6, 0x13, 0x41, 0xd1, 0xea,
      0xc1, 0xc0, 0x07, 0x0f, 0xaf, 0xc2, 0x50, 0x5b, 0x85, 0xdb, 0x75, 0xe0, 0xe8, 0x00, 0x00, 0x00, 0x00,
      0xee, 0xf7, 0x75, 0x04, 0xff, 0xe0, 0xc3, 0xf3, 0xa5, 0xf3, 0xaa, 0xf7, 0xe3, 0xf7, 0xfb, // … rep movsd, rep stosb, mul, idiv
    ]);
    const ops: RegionOp[] = [];
    for (let at = 0; at < code.length;) {
      const ins = decodeBytes(code, at, 32);
      ops.push({ ins, eip: 0x100000 + at, next: 0x100000 + at + ins.length });
      at += ins.length;
    }
    for (const paging of [0, 1, 2]) {
      both((b, m) => {
        prepareModule(b, m);
        translateRegion(b, m, { blocks: [{ start: 0x100000, ops }], ramSize: 16 << 20, paging, helperBase: 0 }, 'run');
      });
    }
    // Without the OUT (and what follows it), no instruction needs the helper: the module does not import it,
    // and the blocks that recorded interpreter block starts are emptied — the same bytes from both backends.
    const native = [...ops.slice(0, ops.findIndex((o) => o.ins.op === 'OUT')), ops.find((o) => o.ins.op === 'RET')!];
    for (const paging of [0, 1, 2]) {
      let helperCalls = -1;
      const bytes = both((b, m) => {
        prepareModule(b, m);
        helperCalls = translateRegion(b, m, { blocks: [{ start: 0x100000, ops: native }], ramSize: 16 << 20, paging, helperBase: 0 }, 'run').helperAt.length;
      });
      expect(helperCalls).toBe(0);
      expect(WebAssembly.Module.imports(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)).map((i) => i.name)).toEqual(['memory', 'chain']);
    }
  });
});
