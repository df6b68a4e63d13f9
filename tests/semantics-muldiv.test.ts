// MUL/IMUL/DIV/IDIV: the number-only 64-bit arithmetic against BigInt, and the #DE boundaries.
import { describe, expect, it } from 'vitest';
import { mulHighS32, mulHighU32 } from '../src/cpu/semantics/muldiv.ts';
import { CF, EAX, EDX, OF } from '../src/cpu/state.ts';
import { compile, execute, flagsOf, machine, reg, setState } from './semantics-helpers.ts';

/** Deterministic uint32 stream biased towards the edges (0, 1, 2^31, 2^32-1, powers of two ...). */
function values(n: number): number[] {
  const edge = [0, 1, 2, 3, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0x12345678, 0xdeadbeef];
  const out = [...edge];
  let x = 0x9e3779b9;
  while (out.length < n) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const k = out.length % 4;
    out.push(k === 0 ? (x & 0xff) >>> 0 : k === 1 ? (1 << (x & 31)) >>> 0 : (x >>> 0));
  }
  return out;
}

const U = (v: number): bigint => BigInt(v >>> 0);
const S = (v: number): bigint => BigInt(v | 0);

describe('64-bit products without BigInt', () => {
  const vs = values(300);
  it('mulHighU32 and mulHighS32 agree with BigInt on 90000 pairs', () => {
    let bad = 0;
    for (const a of vs) for (const b of vs) {
      if (mulHighU32(a, b) !== Number(BigInt.asIntN(32, (U(a) * U(b)) >> 32n))) bad++;
      if (mulHighS32(a, b) !== Number(BigInt.asIntN(32, (S(a) * S(b)) >> 32n))) bad++;
    }
    expect(bad).toBe(0);
  });

  it('MUL r32 and IMUL r32 set EDX:EAX and CF = OF = (the high half is significant)', () => {
    const { cpu } = machine();
    const mul = compile(cpu, 'f7 e1'), imul1 = compile(cpu, 'f7 e9'), imul3 = compile(cpu, '6b c1 f9'); // mul ecx; imul ecx; imul eax, ecx, -7
    const bad: string[] = [];
    const check = (what: string, got: unknown[], want: unknown[]): void => {
      if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`${what}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    };
    const overflow = (): boolean => (flagsOf(cpu) & (CF | OF)) === (CF | OF);
    for (const a of vs.slice(0, 100)) for (const b of vs.slice(0, 100)) {
      setState(cpu, [a, b]); mul.run();
      const pu = U(a) * U(b);
      check(`MUL ${a} ${b}`, [reg(cpu, EDX), reg(cpu, EAX), overflow()], [Number(pu >> 32n), Number(pu & 0xffffffffn), pu >> 32n !== 0n]);
      setState(cpu, [a, b]); imul1.run();
      const ps = S(a) * S(b);
      check(`IMUL ${a} ${b}`, [reg(cpu, EDX), reg(cpu, EAX), overflow()], [Number(BigInt.asUintN(32, ps >> 32n)), Number(BigInt.asUintN(32, ps)), ps !== BigInt.asIntN(32, ps)]);
      setState(cpu, [a, b]); imul3.run();
      const p3 = S(b) * -7n;
      check(`IMUL3 ${b}`, [reg(cpu, EAX), overflow()], [Number(BigInt.asUintN(32, p3)), p3 !== BigInt.asIntN(32, p3)]);
    }
    expect(bad.slice(0, 10)).toEqual([]);
  });
});

describe('64/32 division', () => {
  it('DIV r32 and IDIV r32 agree with BigInt, raising #DE exactly when the SDM says', () => {
    const { cpu } = machine();
    const div = compile(cpu, 'f7 f1'), idiv = compile(cpu, 'f7 f9'); // div ecx, idiv ecx
    const vs = values(80), bad: string[] = [];
    let faults = 0, done = 0;
    const check = (what: string, got: unknown, want: unknown): void => {
      if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`${what}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
    };
    for (const hi of vs) for (const lo of vs.slice(0, 30)) for (const d of vs.slice(0, 40)) {
      const n = (U(hi) << 32n) | U(lo), name = `${hi.toString(16)}:${lo.toString(16)} / ${d.toString(16)}`;
      setState(cpu, [lo, d, hi]);
      let f = div.run();
      if (d === 0 || n / U(d) > 0xffffffffn) {
        check(`DIV ${name}`, [f?.vector, reg(cpu, EAX), reg(cpu, EDX)], [0, lo >>> 0, hi >>> 0]);
        faults++;
      } else {
        check(`DIV ${name}`, [f?.vector, reg(cpu, EAX), reg(cpu, EDX)], [undefined, Number(n / U(d)), Number(n % U(d))]);
        done++;
      }
      // BigInt division truncates towards zero, as IDIV does.
      setState(cpu, [lo, d, hi]);
      f = idiv.run();
      const sn = BigInt.asIntN(64, n), q = d === 0 ? 0n : sn / S(d);
      if (d === 0 || q > 0x7fffffffn || q < -0x80000000n) check(`IDIV ${name}`, [f?.vector, reg(cpu, EAX), reg(cpu, EDX)], [0, lo >>> 0, hi >>> 0]);
      else check(`IDIV ${name}`, [f?.vector, reg(cpu, EAX), reg(cpu, EDX)], [undefined, Number(BigInt.asUintN(32, q)), Number(BigInt.asUintN(32, sn % S(d)))]);
    }
    expect(bad.slice(0, 10)).toEqual([]);
    expect(faults).toBeGreaterThan(1000);
    expect(done).toBeGreaterThan(1000);
  });

  it('IDIV quotient limits: -2^31 and 2^31-1 fit, one beyond raises #DE', () => {
    const { cpu } = machine();
    const cases: [bigint, number, boolean][] = [
      [-0x80000000n, 1, true], [-0x80000000n, -1, false], [0x7fffffffn * 3n, 3, true], [0x80000000n * 3n, 3, false],
      [-0x80000000n * 5n, 5, true], [-0x80000001n * 5n, 5, false], [0x80000000n * 7n, -7, true], [0x80000001n * 7n, -7, false],
    ];
    for (const [n, d, ok] of cases) {
      const u = BigInt.asUintN(64, n);
      setState(cpu, [Number(u & 0xffffffffn), d, Number(u >> 32n)]);
      expect(execute(cpu, 'f7 f9') === undefined, `${n} / ${d}`).toBe(ok);
    }
  });

  it('8- and 16-bit IDIV allow -128 / -32768 quotients and fault one below', () => {
    const { cpu } = machine();
    setState(cpu, [(-256) & 0xffff, 2]); // AX = -256, CL = 2
    expect(execute(cpu, 'f6 f9')).toBeUndefined();
    expect(reg(cpu, EAX) & 0xffff).toBe(0x0080);
    setState(cpu, [(-258) & 0xffff, 2]);
    expect(execute(cpu, 'f6 f9')?.vector).toBe(0);
    expect(reg(cpu, EAX)).toBe((-258) & 0xffff);
    setState(cpu, [0, 2, 0xffff]); // DX:AX = -65536, CX = 2
    expect(execute(cpu, '66 f7 f9')).toBeUndefined();
    expect(reg(cpu, EAX) & 0xffff).toBe(0x8000);
    setState(cpu, [0xfffe, 2, 0xffff]); // -2 / 2 = -1 with DX:AX = FFFF:FFFE
    expect(execute(cpu, '66 f7 f9')).toBeUndefined();
    expect([reg(cpu, EAX) & 0xffff, reg(cpu, EDX) & 0xffff]).toEqual([0xffff, 0]);
  });

  it('DIV r8 by zero and with a quotient above 255 raise #DE with AX unchanged', () => {
    const { cpu } = machine();
    setState(cpu, [0x1234, 0]);
    expect(execute(cpu, 'f6 f1')?.vector).toBe(0);
    setState(cpu, [0x1234, 0x12]);
    expect(execute(cpu, 'f6 f1')?.vector).toBe(0);
    expect(reg(cpu, EAX)).toBe(0x1234);
    setState(cpu, [0x1234, 0x13]);
    expect(execute(cpu, 'f6 f1')).toBeUndefined();
    expect(reg(cpu, EAX)).toBe(((0x1234 % 0x13) << 8) | Math.floor(0x1234 / 0x13));
  });
});
