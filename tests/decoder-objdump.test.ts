// Oracle test: the decoder + formatIntel against GNU objdump 2.40 on a few hundred thousand generated
// instructions, half in 32-bit and half in 16-bit code. Compared per instruction: length, mnemonic,
// operand text, LOCK / REP class / unused segment override, with the differences listed (and explained) in
// tests/decoder-normalise.ts. Outside-the-subset opcodes that we decode as INVALID are counted per category.
//
// Environment:  X86JIT_SEED   PRNG seed (default 0x1986)       X86JIT_CASES  total cases (default 200000)
//               X86JIT_SHOW   disagreements printed (default 20)
// Re-run a failure with the seed and case count it prints.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decodeBytes } from '../src/decoder/decode.ts';
import { formatIntel } from '../src/decoder/format-intel.ts';
import type { Instruction } from '../src/decoder/instruction.ts';
import { F_ESCAPE, F_INVALID, F_PREFIX, GROUPS, ONE_BYTE_MAP, TWO_BYTE_MAP } from '../src/decoder/opcodes.ts';
import { checkHiddenFields, hexBytes, judge, type Verdict } from './decoder-normalise.ts';
import { objdumpSlots, SLOT } from './decoder-objdump-run.ts';

const SEED = Number(process.env.X86JIT_SEED ?? 0x1986) >>> 0;
const CASES = Number(process.env.X86JIT_CASES ?? 200_000);
const SHOW = Number(process.env.X86JIT_SHOW ?? 20);

/** mulberry32: small, fast, good enough to spread bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PREFIXES = [0x66, 0x67, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0xf2, 0xf3, 0xf0];
const EDGE_BYTES = [0x00, 0xff, 0x80, 0x7f, 0x01, 0xfe];
const ONE_BYTE_OPCODES = [...Array(256).keys()].filter((b) => !(ONE_BYTE_MAP[b].flags & (F_PREFIX | F_ESCAPE)));
/** Two-byte opcodes in our subset (most random 0F cases use these; the rest of the map is SSE & co.). */
const TWO_BYTE_VALID = [...Array(256).keys()].filter((b) => !(TWO_BYTE_MAP[b].flags & F_INVALID)).map((b) => 0x0f00 | b);
/** Opcodes whose ModRM byte selects among many instructions: every ModRM value is generated for them. */
const FULL_MODRM = [0x80, 0x81, 0x82, 0x83, 0x8f, 0xc0, 0xc1, 0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff,
  0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0x62, 0xc4, 0xc5, 0x8c, 0x8e,
  0x0f00, 0x0f01, 0x0f20, 0x0f21, 0x0f22, 0x0f23, 0x0fba, 0x0fc7, 0x0f1f];

interface Case { bits: 16 | 32; bytes: Uint8Array; ins: Instruction }

function generate(seed: number, total: number): Case[] {
  const rnd = prng(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const cases: Case[] = [];
  const tailByte = (): number => (rnd() < 0.2 ? EDGE_BYTES[int(EDGE_BYTES.length)] : int(256));
  /** 0 to 15 prefixes (`short`: at most 6, so the opcode and ModRM always fit in 15 bytes). */
  const prefixRun = (short = false): number[] => {
    const r = rnd();
    const n = r < 0.4 ? 0 : r < 0.85 ? 1 + int(3) : r < 0.97 || short ? 4 + int(3) : 7 + int(9);
    return Array.from({ length: n }, () => PREFIXES[int(PREFIXES.length)]);
  };
  const opcodeBytes = (op: number): number[] => (op > 0xff ? [0x0f, op & 0xff] : [op]);
  const add = (bits: 16 | 32, head: number[]): void => {
    const seq = Uint8Array.from([...head, ...Array.from({ length: 16 }, tailByte)]);
    const ins = decodeBytes(seq, 0, bits);
    // Never start a slot with four zero bytes (the slot layout relies on it); ADD [EAX],AL is 2 bytes anyway.
    cases.push({ bits, bytes: seq.slice(0, ins.length), ins });
  };
  for (const bits of [32, 16] as const) {
    // Every ModRM value (and so every mod/reg/rm and group member) under the opcodes that dispatch on it.
    for (const op of FULL_MODRM) for (let m = 0; m < 256; m++) add(bits, [...prefixRun(true), ...opcodeBytes(op), m]);
    // Every opcode of both maps, each with every mod x reg combination.
    for (const op of [...ONE_BYTE_OPCODES, ...[...Array(256).keys()].map((b) => 0x0f00 | b)]) {
      for (let mr = 0; mr < 32; mr++) add(bits, [...prefixRun(true), ...opcodeBytes(op), (mr << 3) | int(8)]);
    }
    // Every SIB byte under mod 0, 1, 2 (32-bit addressing; 67 in 16-bit code), and every 16-bit ModRM form.
    for (let sib = 0; sib < 256; sib++) {
      for (let m = 0; m < 3; m++) add(bits, [...(bits === 16 ? [0x67] : []), ...prefixRun(), 0x8b, (m << 6) | (int(8) << 3) | 4, sib]);
    }
    for (let m = 0; m < 192; m++) add(bits, [...(bits === 32 ? [0x67] : []), ...prefixRun(), 0x01, m]);
  }
  // The rest: random prefixes, opcodes weighted towards the two-byte map and x87, random bytes after.
  while (cases.length < total) {
    const bits = cases.length & 1 ? 16 : 32;
    const r = rnd();
    const op = r < 0.45 ? ONE_BYTE_OPCODES[int(ONE_BYTE_OPCODES.length)] : r < 0.75 ? TWO_BYTE_VALID[int(TWO_BYTE_VALID.length)]
      : r < 0.85 ? 0x0f00 | int(256) : 0xd8 + int(8);
    add(bits, [...prefixRun(), ...opcodeBytes(op)]);
  }
  return cases;
}

describe('decoder vs objdump', () => {
  it(`agrees with objdump on ${CASES} generated instructions (seed ${SEED})`, async () => {
    const t0 = performance.now();
    const cases = generate(SEED, CASES);
    const tGen = performance.now();
    const byMode = { 16: cases.filter((c) => c.bits === 16), 32: cases.filter((c) => c.bits === 32) };
    const [obj16, obj32] = await Promise.all([objdumpSlots(byMode[16].map((c) => c.bytes), 16), objdumpSlots(byMode[32].map((c) => c.bytes), 32)]);
    const tObj = performance.now();
    const counts = new Map<string, number>();
    const bump = (k: string): void => { counts.set(k, (counts.get(k) ?? 0) + 1); };
    const failures: string[] = [];
    let disagreements = 0;
    for (const bits of [16, 32] as const) {
      const list = byMode[bits], obj = bits === 16 ? obj16 : obj32;
      list.forEach((c, i) => {
        const line = obj[i];
        const address = i * SLOT;
        let v: Verdict;
        if (line === undefined) v = { kind: 'disagree', reason: 'objdump has no line at the slot start' };
        else v = judge(c.bytes, bits, address, c.ins, line.text, line.length);
        if (v.kind === 'agree') {
          const hidden = checkHiddenFields(c.ins, formatIntel(c.ins, address));
          if (hidden) v = { kind: 'disagree', reason: hidden };
        }
        if (v.kind === 'outside' || v.kind === 'deliberate' || v.kind === 'objdump-rejects') bump(`${v.kind}: ${v.category}`);
        else bump(v.kind);
        if (v.kind === 'disagree') {
          disagreements++;
          if (failures.length < SHOW) {
            failures.push(`${bits}-bit @0x${address.toString(16)}  ${hexBytes(c.bytes)}\n    ours:    ${formatIntel(c.ins, address)}  (${c.ins.op}, length ${c.ins.length})\n` +
              `    objdump: ${line?.text}  (length ${line?.length})\n    ${v.reason}`);
          }
        }
      });
    }
    const summary = [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `  ${String(n).padStart(7)}  ${k}`).join('\n');
    console.log(`decoder vs objdump: ${cases.length} cases (16-bit ${byMode[16].length}, 32-bit ${byMode[32].length}), ` +
      `seed ${SEED}, ${((performance.now() - t0) / 1000).toFixed(1)} s (generate ${((tGen - t0) / 1000).toFixed(1)} s, ` +
      `objdump ${((tObj - tGen) / 1000).toFixed(1)} s, compare ${((performance.now() - tObj) / 1000).toFixed(1)} s)\n${summary}`);
    if (disagreements > 0) {
      throw new Error(`${disagreements} disagreements with objdump (X86JIT_SEED=${SEED} X86JIT_CASES=${CASES}); first ${failures.length}:\n${failures.join('\n')}`);
    }
    expect(counts.get('agree') ?? 0).toBeGreaterThan(cases.length / 2);
  });

  it('generates every opcode of both maps and every group member', () => {
    const cases = generate(SEED, 0);
    const seen = new Set<string>();
    for (const c of cases) {
      const op = c.ins.opcode;
      seen.add(`op:${op}`);
      if (c.ins.modrm >= 0) seen.add(`modrm:${op}:${c.ins.modrm}`);
    }
    for (const op of ONE_BYTE_OPCODES) expect(seen.has(`op:${op}`), `opcode ${op.toString(16)}`).toBe(true);
    for (let b = 0; b < 256; b++) expect(seen.has(`op:${0x0f00 | b}`), `opcode 0f ${b.toString(16)}`).toBe(true);
    for (const op of FULL_MODRM) {
      for (let m = 0; m < 256; m++) expect(seen.has(`modrm:${op}:${m}`), `opcode ${op.toString(16)} modrm ${m.toString(16)}`).toBe(true);
    }
    expect(Object.keys(GROUPS).length).toBeGreaterThan(10);
  });

  it('objdump is GNU objdump 2.40 or close (the normalisation table is written against it)', () => {
    expect(execFileSync('objdump', ['--version']).toString()).toMatch(/GNU objdump/);
  });
});
