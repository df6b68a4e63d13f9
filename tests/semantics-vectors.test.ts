// Replays tests/semantics-host-vectors.txt: instructions measured on an Intel host CPU (see the file's
// header), run here through the decoder and the semantic emitters. Registers, the six arithmetic flags
// (undefined ones included) and the 32-byte memory window must all match.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARITH_FLAGS } from '../src/cpu/state.ts';
import { bytesOf, compile, flagsOf, machine, setState } from './semantics-helpers.ts';

interface Vector { asm: string; code: string; regs: number[]; eflags: number; out: (number | null)[] | 'DE'; outFlags: number; memIn?: string; memOut?: string }

const REG_ORDER = [0, 1, 2, 3, 5, 6, 7]; // EAX ECX EDX EBX EBP ESI EDI (ESP is not part of a case)
const WINDOW = 0x200040, WINDOW_SIZE = 32;

function load(): Map<string, Vector[]> {
  const groups = new Map<string, Vector[]>();
  let current: Vector[] = [];
  const text = readFileSync(new URL('./semantics-host-vectors.txt', import.meta.url), 'utf8');
  for (const line of text.split('\n')) {
    if (line.startsWith('## ')) { current = []; groups.set(line.slice(3).trim(), current); continue; }
    if (line.startsWith('#') || line.trim() === '') continue;
    const [asm, code, inField, outField, memIn, memOut] = line.split('|').map((f) => f.trim());
    const inWords = inField.split(' ').map((w) => parseInt(w, 16));
    const regs = new Array<number>(8).fill(0);
    REG_ORDER.forEach((r, i) => { regs[r] = inWords[i]; });
    regs[4] = 0x300080;
    let out: Vector['out'] = 'DE', outFlags = 0;
    if (outField !== '#DE') {
      const w = outField.split(' ');
      out = new Array<number | null>(8).fill(null);
      REG_ORDER.forEach((r, i) => { (out as (number | null)[])[r] = w[i] === '.' ? regs[r] : parseInt(w[i], 16); });
      outFlags = parseInt(w[7], 16);
    }
    current.push({ asm, code, regs, eflags: inWords[7], out, outFlags, memIn, memOut: memOut === '.' ? memIn : memOut });
  }
  return groups;
}

const hex = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

describe('host-CPU vectors', () => {
  const groups = load();
  it('has every group', () => {
    expect([...groups.keys()]).toEqual(['alu', 'shift', 'muldiv', 'bcd', 'bits', 'data']);
    for (const v of groups.values()) expect(v.length).toBeGreaterThan(50);
  });
  for (const [name, vectors] of groups) {
    it(`${name}: ${vectors.length} cases match the host`, () => {
      const { cpu, mem } = machine();
      const mismatches: string[] = [];
      for (const v of vectors) {
        setState(cpu, v.regs, v.eflags | 2);
        if (v.memIn) mem.ram.set(bytesOf(v.memIn), WINDOW);
        const fault = compile(cpu, v.code).run();
        const problems: string[] = [];
        if (v.out === 'DE') {
          if (fault?.vector !== 0) problems.push(`expected #DE, got ${fault ? fault.name : 'no fault'}`);
          for (let r = 0; r < 8; r++) if ((cpu.s[r] >>> 0) !== (v.regs[r] >>> 0)) problems.push(`r${r} changed before #DE`);
        } else {
          if (fault) problems.push(`unexpected ${fault.name}`);
          for (let r = 0; r < 8; r++) {
            const want = v.out[r];
            if (want !== null && (cpu.s[r] >>> 0) !== (want >>> 0)) problems.push(`r${r} ${hex(cpu.s[r])} != ${hex(want)}`);
          }
          const got = flagsOf(cpu) & ARITH_FLAGS;
          if (got !== v.outFlags) problems.push(`flags ${got.toString(16)} != ${v.outFlags.toString(16)}`);
        }
        if (v.memOut) {
          const got = Buffer.from(mem.ram.subarray(WINDOW, WINDOW + WINDOW_SIZE)).toString('hex');
          if (got !== v.memOut) problems.push(`memory ${got} != ${v.memOut}`);
        }
        if (problems.length) mismatches.push(`${v.asm} [${v.regs.map(hex).join(' ')} fl=${v.eflags.toString(16)}]: ${problems.join('; ')}`);
      }
      expect(mismatches).toEqual([]);
    });
  }
});
