// The cost of one x87 transcendental (src/cpu/fpu/trig.ts, exp-log.ts, atan.ts: wide BigInt arithmetic)
// beside FMUL, measured on the arithmetic core alone (the interpreter's dispatch adds the same ~tens of ns
// to each): microseconds of CPU time (user + system: on a shared machine wall time mostly measures the neighbours)
// per operation on random operands from each documented domain, median of 5 runs.
//   node scripts/build.mjs && node dist/x87-transcendental-bench.js
import { atan2, Float80, mul, trig, Trig, twoToXMinus1, yLog2X, yLog2XPlus1 } from '../src/cpu/fpu/index.ts';

const N = 2000, CW = 0x37f;
/** mulberry32, seeded: the same operands every run. */
let seed = 7;
const next = (): number => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
};
/** A random value of magnitude 2^(lowExp … highExp), with `sign`. */
const value = (lowExp: number, highExp: number, sign = next() & 1): Float80 =>
  new Float80((sign << 15) | (0x3fff + lowExp + (next() % (highExp - lowExp + 1))), (next() | 0x80000000) >>> 0, next());
const xs = (lo: number, hi: number, positive = false) => Array.from({ length: N }, () => value(lo, hi, positive ? 0 : undefined));

const cases: Array<[string, (i: number) => unknown]> = [];
const small = xs(-10, 5), big = xs(20, 62), unit = xs(-20, -1), logArg = xs(-30, 30, true), ys = xs(-10, 10), p1 = xs(-30, -3);
cases.push(['FMUL', (i) => mul(small[i], ys[i], CW)]);
cases.push(['FSIN (|x| < 64)', (i) => trig(small[i], CW, Trig.Sin)]);
cases.push(['FSIN (|x| ~ 2^20 … 2^62)', (i) => trig(big[i], CW, Trig.Sin)]);
cases.push(['FCOS', (i) => trig(small[i], CW, Trig.Cos)]);
cases.push(['FSINCOS', (i) => trig(small[i], CW, Trig.SinCos)]);
cases.push(['FPTAN', (i) => trig(small[i], CW, Trig.Tan)]);
cases.push(['F2XM1', (i) => twoToXMinus1(unit[i], CW)]);
cases.push(['FYL2X', (i) => yLog2X(logArg[i], ys[i], CW)]);
cases.push(['FYL2XP1', (i) => yLog2XPlus1(p1[i], ys[i], CW)]);
cases.push(['FPATAN', (i) => atan2(ys[i], small[i], CW)]);

for (const [name, f] of cases) {
  for (let i = 0; i < N; i++) f(i); // warm up
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = process.cpuUsage();
    for (let i = 0; i < N; i++) f(i);
    const used = process.cpuUsage(t);
    runs.push((used.user + used.system) / N);
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(26)} ${runs[2].toFixed(2).padStart(8)} µs`);
}
