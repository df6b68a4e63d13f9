// Bit strings in memory, CMOVcc's unconditional read, BSF/BSR on zero, XADD/CMPXCHG/CMPXCHG8B: the
// cases the host-vector table cannot express (addresses outside its window, segment faults).
import { describe, expect, it } from 'vitest';
import { CF, EAX, EBX, ECX, EDX, OF, SF, ZF } from '../src/cpu/state.ts';
import { DS } from '../src/decoder/instruction.ts';
import { execute, flagsOf, machine, reg, setState } from './semantics-helpers.ts';

const ATTR_DATA = 0x93;

describe('BT family on a memory bit string', () => {
  for (const offset of [0, 5, 31, 32, 100, -1, -32, -33, -1000, 0x7fff_ffff & 0xfff]) {
    it(`32-bit register offset ${offset} addresses dword ${Math.floor(offset / 32)} from the operand`, () => {
      const { cpu, mem } = machine();
      const base = 0x10000, byte = base + Math.floor(offset / 8), bit = ((offset % 8) + 8) % 8;
      setState(cpu, [0, offset, 0, base], CF);
      expect(execute(cpu, '0f ab 0b')).toBeUndefined(); // bts [ebx], ecx
      expect(mem.ram[byte]).toBe(1 << bit);
      expect(flagsOf(cpu) & CF).toBe(0);
      expect(execute(cpu, '0f a3 0b')).toBeUndefined(); // bt [ebx], ecx
      expect(flagsOf(cpu) & CF).toBe(CF);
      // Only that one byte changed.
      expect(mem.ram.subarray(base - 200, base + 600).reduce((a, b) => a + b, 0)).toBe(1 << bit);
    });
  }

  it('a 16-bit register offset is signed and steps in words', () => {
    const { cpu, mem } = machine();
    mem.ram.fill(0xff, 0x0ff0, 0x1010);
    setState(cpu, [0, 0xfff0, 0, 0x1000]); // CX = -16: the word just below the operand, bit 0
    execute(cpu, '66 0f b3 0b'); // btr word [ebx], cx
    expect(mem.ram[0x0ffe]).toBe(0xfe);
    expect(flagsOf(cpu) & CF).toBe(CF);
    expect(reg(cpu, ECX)).toBe(0xfff0);
  });

  it('with 16-bit addressing the adjusted address wraps at 64 KiB', () => {
    const { cpu, mem } = machine();
    setState(cpu, [0, 0xffe0, 0, 0x0002]); // BX = 2, CX = -32 bits = 2 words below: offset 0xFFFE
    execute(cpu, '67 66 0f ab 0f'); // addr16 bts word [bx], cx
    expect(mem.ram[0xfffe]).toBe(1);
  });

  it('an immediate offset is taken modulo the operand width and stays inside the operand', () => {
    const { cpu, mem } = machine();
    setState(cpu, [0, 0, 0, 0x2000]);
    execute(cpu, '0f ba 7b 04 23'); // btc dword [ebx+4], 35 -> bit 3
    expect([...mem.ram.subarray(0x2004, 0x2008)]).toEqual([8, 0, 0, 0]);
    execute(cpu, '66 0f ba 23 13'); // bt word [ebx], 19 -> bit 3 of the word at ebx
    expect(flagsOf(cpu) & CF).toBe(0);
  });

  it('BT leaves ZF, SF and OF alone (only CF is written)', () => {
    const { cpu } = machine();
    setState(cpu, [0, 1, 0, 0x3000], ZF | SF | OF);
    execute(cpu, '0f a3 0b');
    expect(flagsOf(cpu) & (ZF | SF | OF | CF)).toBe(ZF | SF | OF);
  });
});

describe('CMOVcc, BSF/BSR, exchange-and-compare', () => {
  it('CMOVcc reads a memory source even when the condition is false', () => {
    const { cpu } = machine();
    cpu.setSegmentCache(DS, 0, 0, 0xffff, ATTR_DATA);
    setState(cpu, [0x1111, 0, 0, 0x10000], 0); // ZF = 0: cmovz does not move
    expect(execute(cpu, '0f 44 03')?.vector).toBe(13);
    setState(cpu, [0x1111, 0, 0, 0x100], 0);
    expect(execute(cpu, '0f 44 03')).toBeUndefined();
    expect(reg(cpu, EAX)).toBe(0x1111);
  });

  it('BSF/BSR of zero set ZF and leave the destination', () => {
    const { cpu } = machine();
    setState(cpu, [0xdeadbeef, 0]);
    execute(cpu, '0f bc c1');
    expect(reg(cpu, EAX)).toBe(0xdeadbeef);
    expect(flagsOf(cpu) & ZF).toBe(ZF);
    setState(cpu, [0xdeadbeef, 0x0000_8000]);
    execute(cpu, '66 0f bd c1'); // bsr ax, cx
    expect(reg(cpu, EAX)).toBe(0xdead000f);
    expect(flagsOf(cpu) & ZF).toBe(0);
  });

  it('XADD r, r with the same register leaves the sum', () => {
    const { cpu } = machine();
    setState(cpu, [21]);
    execute(cpu, '0f c1 c0');
    expect(reg(cpu, EAX)).toBe(42);
  });

  it('CMPXCHG8B swaps on equality and loads EDX:EAX otherwise, changing only ZF', () => {
    const { cpu, mem } = machine();
    mem.ram.set([1, 2, 3, 4, 5, 6, 7, 8], 0x4000);
    setState(cpu, [0x04030201, 0xcccccccc, 0x08070605, 0x4000], CF | SF);
    cpu.s[EBX] = 0x4000; cpu.s[ECX] = 0xaabbccdd | 0;
    // EBX is both the address and the low half of the new value here: ECX:EBX = aabbccdd:00004000.
    execute(cpu, '0f c7 0b');
    expect([...mem.ram.subarray(0x4000, 0x4008)]).toEqual([0x00, 0x40, 0, 0, 0xdd, 0xcc, 0xbb, 0xaa]);
    expect(flagsOf(cpu) & (ZF | CF | SF)).toBe(ZF | CF | SF);
    execute(cpu, '0f c7 0b'); // EDX:EAX no longer matches
    expect([reg(cpu, EAX), reg(cpu, EDX)]).toEqual([0x00004000, 0xaabbccdd]);
    expect(flagsOf(cpu) & (ZF | CF | SF)).toBe(CF | SF);
  });

  it('CMPXCHG r32 compares with EAX: equal writes the source, unequal loads EAX', () => {
    const { cpu } = machine();
    setState(cpu, [5, 5, 9]);
    execute(cpu, '0f b1 d1'); // cmpxchg ecx, edx
    expect([reg(cpu, EAX), reg(cpu, ECX), flagsOf(cpu) & ZF]).toEqual([5, 9, ZF]);
    execute(cpu, '0f b1 d1');
    expect([reg(cpu, EAX), reg(cpu, ECX), flagsOf(cpu) & ZF]).toEqual([9, 9, 0]);
    setState(cpu, [3, 5, 9]);
    execute(cpu, '0f b1 d1');
    expect([reg(cpu, EAX), reg(cpu, ECX), reg(cpu, EDX), flagsOf(cpu) & (ZF | CF)]).toEqual([5, 5, 9, CF]);
  });
});
