// The code cache shares one Instruction among the cached blocks per encoding (code-cache.ts, decodedByBytes):
// an instruction is a function of its bytes and the code size only, so identical bytes anywhere share it,
// and the same bytes in 16- and 32-bit code must not.
import { describe, expect, it } from 'vitest';
import { CodeCache } from '../src/cpu/code-cache.ts';
import { CpuFault } from '../src/cpu/fault.ts';
import { CS } from '../src/decoder/instruction.ts';
import { CODE32, EAX, EBX, SEG_BASE, SEG_LIMIT, segSlot } from '../src/cpu/state.ts';
import { bytesOf, machine } from './semantics-helpers.ts';

/** A 32-bit value as the hex of its 4 little-endian bytes (an imm32 for bytesOf). */
const le32 = (v: number): string => [0, 8, 16, 24].map((sh) => ((v >>> sh) & 0xff).toString(16).padStart(2, '0')).join(' ');

function setup() {
  const { cpu, mem } = machine();
  const s = cpu.s;
  s[segSlot(CS, SEG_BASE)] = 0; s[segSlot(CS, SEG_LIMIT)] = -1;
  const put = (at: number, hex: string) => bytesOf(hex).forEach((b, i) => mem.write8(at + i, b));
  const blockAt = (eip: number, code32: number) => { s[CODE32] = code32; return cache.blockAt(eip); };
  const cache = new CodeCache(cpu);
  return { cpu, put, blockAt, cache };
}

describe('code cache: decoded instructions shared by encoding', () => {
  it('blocks at different addresses with the same bytes share their Instructions', () => {
    const { put, blockAt } = setup();
    put(0x1000, '89 d8 8b 43 08 c3'); // mov eax, ebx; mov eax, [ebx+8]; ret
    put(0x2000, '40 8b 43 08 c3');    // inc eax; mov eax, [ebx+8]; ret
    const a = blockAt(0x1000, 1), b = blockAt(0x2000, 1);
    expect(a.ops.map((o) => o.ins.op)).toEqual(['MOV', 'MOV', 'RET']);
    expect(b.ops[1].ins).toBe(a.ops[1].ins);
    expect(b.ops[2].ins).toBe(a.ops[2].ins);
    expect(b.ops[0].ins).not.toBe(a.ops[0].ins);
  });

  it('blocks with the same bytes share the closure of a place-free instruction (semantics/emitter.ts), not of a branch', () => {
    const { cpu, put, blockAt } = setup();
    put(0x1000, '01 43 08 74 02 c3');    // add [ebx+8], eax; jz +2; ret
    put(0x2000, '40 01 43 08 74 02 c3'); // inc eax; add [ebx+8], eax; jz +2; ret
    const a = blockAt(0x1000, 1), b = blockAt(0x2000, 1);
    expect(b.ops[1].ins).toBe(a.ops[0].ins);
    expect(b.ops[1].exec).toBe(a.ops[0].exec); // ADD: one closure for both copies
    expect(b.ops[2].ins).toBe(a.ops[1].ins);
    expect(b.ops[2].exec).not.toBe(a.ops[1].exec); // JZ: its target depends on where it is
    // The shared closure runs as each copy: one addition per execution, wherever it came from.
    cpu.s[EAX] = 5; cpu.s[EBX] = 0x3000; cpu.mem.write(0x3008, 4, 1);
    a.ops[0].exec(); b.ops[1].exec();
    expect(cpu.mem.read(0x3008, 4)).toBe(11);
  });

  it('the same bytes in 16- and 32-bit code are different instructions', () => {
    const { put, blockAt } = setup();
    put(0x3000, 'b8 78 56 34 12 c3');
    put(0x4000, 'b8 78 56 34 12 c3');
    const d = blockAt(0x3000, 1), w = blockAt(0x4000, 0);
    expect(d.ops.map((o) => [o.ins.op, o.ins.length, o.ins.opsize])).toEqual([['MOV', 5, 32], ['RET', 1, 32]]);
    expect(w.ops.map((o) => [o.ins.op, o.ins.length, o.ins.opsize])).toEqual([['MOV', 3, 16], ['XOR', 2, 16], ['RET', 1, 16]]);
  });

  it('instructions differing in their last byte stay apart', () => {
    const { put, blockAt } = setup();
    put(0x5000, 'b8 01 00 00 00 b8 01 00 00 01 c3');
    const ops = blockAt(0x5000, 1).ops;
    expect(ops[0].ins.operands[1]).toEqual({ kind: 'imm', size: 4, value: 1 });
    expect(ops[1].ins.operands[1]).toEqual({ kind: 'imm', size: 4, value: 0x01000001 });
  });

  it('code rewritten in place without end keeps the table of long encodings bounded (the cache never fills, so never empties it)', () => {
    const { put, blockAt, cache } = setup();
    const inside = cache as unknown as { decodedByBytes: Map<string, unknown>; instructionCount: number };
    const table = inside.decodedByBytes;
    cache.limit = 1024;
    let most = 0;
    for (let i = 0; i < 3 * cache.limit; i++) {
      // mov dword [0x8000], i; ret (10 bytes: a long encoding) — the page's code changes, the old block is
      // dropped, the new one decoded
      put(0x6000, `c7 05 00 80 00 00 ${le32(i)} c3`);
      expect(blockAt(0x6000, 1).ops[0].ins.operands[1]).toEqual({ kind: 'imm', size: 4, value: i });
      most = Math.max(most, table.size);
    }
    expect(inside.instructionCount).toBeLessThan(cache.limit);
    expect(most).toBeGreaterThan(100);
    expect(most).toBeLessThanOrEqual(cache.limit);
  });

  it('short encodings stay shared across a flush, and every rewrite of one still decodes to its own bytes', () => {
    const { put, blockAt, cache } = setup();
    put(0x7000, '8b 43 08 c3');
    const before = blockAt(0x7000, 1).ops[0].ins;
    cache.flush();
    expect(blockAt(0x7000, 1).ops[0].ins).toBe(before);
    // 102,400 distinct 5-byte encodings through the fixed-size table, 256 of each prefix (differing in the
    // last byte only): collisions replace, never confuse.
    for (let i = 0; i < 400 * 256; i++) {
      const v = ((i >>> 8) | ((i & 0xff) << 24)) >>> 0;
      put(0x6000, `b8 ${le32(v)} c3`);
      expect(blockAt(0x6000, 1).ops[0].ins.operands[1]).toEqual({ kind: 'imm', size: 4, value: v });
    }
  });
});

// A block decoded again (after an eviction, or starting elsewhere in the same code) takes the instruction
// last decoded at each physical address when its bytes in RAM are unchanged (code-cache.ts decodedAt).
describe('code cache: instructions by physical address', () => {
  const LONG = 'c7 05 00 80 00 00 78 56 34 12 c3'; // mov dword [0x8000], 0x12345678; ret (a long encoding)

  it('a block decoded again after a flush takes the same Instruction', () => {
    const { put, blockAt, cache } = setup();
    put(0x1000, LONG);
    const before = blockAt(0x1000, 1).ops[0].ins;
    cache.flush(); // (empties the table of long encodings: only the table by address can share it)
    expect(blockAt(0x1000, 1).ops[0].ins).toBe(before);
  });

  it('bytes changed since, even the last, are decoded again', () => {
    const { put, blockAt, cache } = setup();
    put(0x1000, LONG);
    blockAt(0x1000, 1);
    put(0x1009, '13'); // the immediate's last byte
    cache.flush();
    expect(blockAt(0x1000, 1).ops[0].ins.operands[1]).toEqual({ kind: 'imm', size: 4, value: 0x13345678 });
    put(0x1000, '90 90');
    cache.flush();
    expect(blockAt(0x1000, 1).ops.slice(0, 2).map((o) => o.ins.op)).toEqual(['NOP', 'NOP']);
  });

  it('the same bytes in 16-bit code are not the 32-bit instruction', () => {
    const { put, blockAt, cache } = setup();
    put(0x1000, 'b8 78 56 34 12 c3');
    blockAt(0x1000, 1);
    cache.flush();
    expect(blockAt(0x1000, 0).ops.map((o) => [o.ins.op, o.ins.length])).toEqual([['MOV', 3], ['XOR', 2], ['RET', 1]]);
  });

  it('an instruction that now ends beyond the CS limit faults', () => {
    const { cpu, put, blockAt, cache } = setup();
    put(0x1000, LONG);
    expect(blockAt(0x1000, 1).ops[0].ins.op).toBe('MOV');
    cache.flush();
    cpu.s[segSlot(CS, SEG_LIMIT)] = 0x1005; // the MOV's bytes run to 0x1009
    const b = blockAt(0x1000, 1);
    expect(b.cacheable).toBe(false);
    expect(() => b.execs[0]()).toThrow(CpuFault);
  });
});
