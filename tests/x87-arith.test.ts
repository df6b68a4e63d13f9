// The x87 arithmetic core (src/cpu/fpu) bit for bit against the host CPU's x87: result, exception flags,
// C1 and condition codes, for every operation × 3 precisions × 4 rounding modes.
//   tests/data/x87-vectors.txt  committed host results (runs everywhere)
//   live oracle                 tests/oracle/x87-oracle.c built with gcc -O1: every edge case under every
//                               control word plus X86JIT_X87_CASES (default 300) random rounds per
//                               operation from seed X86JIT_SEED (default: fresh each run, printed)
// Regenerate the vector file on an x86-64 machine with gcc:
//   X86JIT_X87_WRITE_VECTORS=1 npx vitest run tests/x87-arith.test.ts
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Float80 } from '../src/cpu/fpu/index.ts';
import { parseNum } from './env-number.ts';
import { x87Cases } from './oracle/x87-cases.ts';
import { emulateX87 } from './oracle/x87-emulate.ts';

const VECTORS = join(import.meta.dirname, 'data/x87-vectors.txt');
const ORACLE_SRC = join(import.meta.dirname, 'oracle/x87-oracle.c');
const VECTOR_SEED = 1, VECTOR_ROUNDS = 80;

function writeVectors(exe: string): void {
  const input = x87Cases(VECTOR_SEED, VECTOR_ROUNDS, 'sample');
  const output = execFileSync(exe, { input: input.join('\n') + '\n', maxBuffer: 1 << 28 }).toString();
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
  const header = [
    `# x87 vectors measured on the host CPU (${cpu}) by tests/oracle/x87-oracle.c:`,
    `#   OP CW A [B] -> RESULT... SW   (hex bit patterns; SW is the status word without TOP)`,
    `# cases: x87Cases(${VECTOR_SEED}, ${VECTOR_ROUNDS}, 'sample') from tests/oracle/x87-cases.ts. Regenerate with`,
    `#   X86JIT_X87_WRITE_VECTORS=1 npx vitest run tests/x87-arith.test.ts`,
  ];
  writeFileSync(VECTORS, header.join('\n') + '\n' + output);
}

/** Mismatches between host output lines ("IN -> OUT") and the emulator, as readable lines. */
function mismatches(lines: string[]): string[] {
  const bad: string[] = [];
  for (const line of lines) {
    const [input, expected] = line.split(' -> ');
    let got: string;
    try { got = emulateX87(input); } catch (e) { got = `threw ${(e as Error).message}`; }
    if (got !== expected.trim()) bad.push(describeCase(input, expected.trim(), got));
  }
  return bad;
}

function describeCase(input: string, expected: string, got: string): string {
  const [op, cw, ...operands] = input.split(' ');
  const approx = operands.map((o) => (o.length === 20 && !op.startsWith('fb') ? `${o} (~${decimal(Float80.fromHex(o))})` : o));
  const pc = ['24', '?', '53', '64'][(parseInt(cw, 16) >> 8) & 3], rc = ['near', 'down', 'up', 'zero'][(parseInt(cw, 16) >> 10) & 3];
  return `${op} pc${pc} ${rc} ${approx.join(' ')}: host ${expected}, emulator ${got}`;
}

/** An approximate decimal for messages, valid over the whole 80-bit exponent range. */
function decimal(v: Float80): string {
  const m = v.hi * 2 ** 32 + v.lo, sign = v.sign ? '-' : '';
  if (v.exp === 0x7fff) return v.hi === 0x80000000 && v.lo === 0 ? `${sign}inf` : 'NaN';
  if (m === 0) return `${sign}0`;
  const l = Math.log10(m) + (Math.max(v.exp, 1) - 0x3fff - 63) * Math.log10(2);
  const e = Math.floor(l);
  return `${sign}${(10 ** (l - e)).toFixed(5)}e${e}`;
}

function report(bad: string[], total: number): void {
  if (bad.length === 0) return;
  const perOp = new Map<string, number>();
  for (const b of bad) perOp.set(b.split(' ')[0], (perOp.get(b.split(' ')[0]) ?? 0) + 1);
  const summary = [...perOp].map(([op, n]) => `${op}: ${n}`).join(', ');
  expect.fail(`${bad.length} of ${total} cases differ (${summary}):\n${bad.slice(0, 40).join('\n')}`);
}

describe('x87 arithmetic core', () => {
  it('matches the committed host vectors (tests/data/x87-vectors.txt)', () => {
    const lines = readFileSync(VECTORS, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(lines.length).toBeGreaterThan(3000);
    report(mismatches(lines), lines.length);
  });

  it('matches the live host x87 on edge cases and a fresh random batch', (ctx) => {
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), 'x87-oracle-'));
      const exe = join(dir, 'x87-oracle');
      try {
        execFileSync('gcc', ['-O1', '-o', exe, ORACLE_SRC], { stdio: 'pipe' });
      } catch (e) {
        if (process.env.X86JIT_CI === '1') throw new Error(`cannot build the x87 oracle with gcc: ${(e as Error).message}`);
        ctx.skip(`gcc cannot build tests/oracle/x87-oracle.c here (${(e as Error).message.split('\n')[0]})`);
        return;
      }
      if (process.env.X86JIT_X87_WRITE_VECTORS === '1') writeVectors(exe);
      const seed = parseNum('X86JIT_SEED') ?? (Date.now() % 0x7fffffff);
      const count = parseNum('X86JIT_X87_CASES') ?? 300;
      const input = x87Cases(seed, count, 'all');
      const output = execFileSync(exe, { input: input.join('\n') + '\n', maxBuffer: 1 << 28 }).toString().trim().split('\n');
      expect(output.length).toBe(input.length);
      const bad = mismatches(output);
      if (bad.length) bad.unshift(`(reproduce with X86JIT_SEED=${seed} X86JIT_X87_CASES=${count})`);
      report(bad, output.length);
    } finally {
      if (dir && existsSync(dir)) rmSync(dir, { recursive: true });
    }
  });
});
