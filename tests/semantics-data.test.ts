// Data movement and flag control: address-size/operand-size rules of LEA, moffs and XLAT with 16-bit
// addressing and segment overrides, and the flag instructions' interplay with lazily computed flags.
import { describe, expect, it } from 'vitest';
import { setEflags } from '../src/cpu/flags.ts';
import { AF, CF, DF, EAX, ECX, OF, PF, SF, ZF } from '../src/cpu/state.ts';
import { FS } from '../src/decoder/instruction.ts';
import { execute, flagsOf, machine, reg, setState } from './semantics-helpers.ts';

const ATTR_DATA = 0x93;

describe('LEA', () => {
  it('a 16-bit address size computes a 16-bit offset, zero-extended into a 32-bit destination', () => {
    const { cpu } = machine();
    setState(cpu, [0xffffffff, 0, 0, 0x1234_fff0, 0, 0, 0x5678_0020]);
    execute(cpu, '67 8d 40 05'); // lea eax, [bx+si+5]
    expect(reg(cpu, EAX)).toBe((0xfff0 + 0x20 + 5) & 0xffff);
  });

  it('a 16-bit operand size keeps the low word of a 32-bit address', () => {
    const { cpu } = machine();
    setState(cpu, [0xaaaa_aaaa, 0x8000_0001, 0, 0x0001_0000]);
    execute(cpu, '66 8d 44 4b 06'); // lea ax, [ebx+ecx*2+6]
    expect(reg(cpu, EAX)).toBe(0xaaaa_0008);
  });

  it('16-bit code: lea ax, [bp+di-1] with address wrap-around', () => {
    const { cpu } = machine();
    setState(cpu, [0x1111_1111, 0, 0, 0, 0, 0x0000, 0, 0x0000]);
    execute(cpu, '8d 43 ff', 16); // lea ax, [bp+di-1]
    expect(reg(cpu, EAX)).toBe(0x1111_ffff);
  });
});

describe('MOV moffs and XLAT', () => {
  it('moffs uses the segment override', () => {
    const { cpu, mem } = machine();
    cpu.setSegmentCache(FS, 0x1000, 0x10000, 0xffff, ATTR_DATA);
    mem.ram.set([0x78, 0x56, 0x34, 0x12], 0x10010);
    setState(cpu, []);
    execute(cpu, '64 a1 10 00 00 00'); // mov eax, fs:[0x10]
    expect(reg(cpu, EAX)).toBe(0x12345678);
    execute(cpu, '64 a0 11 00 00 00'); // mov al, fs:[0x11]
    expect(reg(cpu, EAX)).toBe(0x12345656);
  });

  it('a 16-bit moffs with a 67 prefix', () => {
    const { cpu, mem } = machine();
    mem.ram.set([0xcd, 0xab], 0x1234);
    setState(cpu, []);
    execute(cpu, '66 67 a1 34 12'); // mov ax, [0x1234] with 16-bit addressing
    expect(reg(cpu, EAX)).toBe(0xabcd);
  });

  it('XLAT indexes [EBX + AL] with the override, and [BX + AL] wraps with a 16-bit address size', () => {
    const { cpu, mem } = machine();
    cpu.setSegmentCache(FS, 0x1000, 0x10000, 0xffff, ATTR_DATA);
    mem.ram[0x10000 + 0x100 + 0xfe] = 0x42;
    setState(cpu, [0x7777_77fe, 0, 0, 0x100]);
    execute(cpu, '64 d7'); // xlat fs:[ebx]
    expect(reg(cpu, EAX)).toBe(0x7777_7742);
    mem.ram[0x0001] = 0x99;
    setState(cpu, [0x0000_0003, 0, 0, 0xabcd_fffe]);
    execute(cpu, '67 d7'); // BX + AL = 0xFFFE + 3 wraps to 1
    expect(reg(cpu, EAX)).toBe(0x99);
  });
});

describe('flag instructions and lazy flags', () => {
  it('CLC/STC/CMC change CF only, keeping the pending flags of an earlier ADD', () => {
    const { cpu } = machine();
    setState(cpu, [0x7fffffff, 1]);
    execute(cpu, '01 c8'); // add eax, ecx: OF SF AF PF set, ZF CF clear
    const after = flagsOf(cpu) & (OF | SF | ZF | AF | PF);
    expect(after).toBe(OF | SF | AF | PF);
    execute(cpu, 'f9'); // stc
    expect(flagsOf(cpu) & (OF | SF | ZF | AF | PF | CF)).toBe(after | CF);
    execute(cpu, 'f5'); // cmc
    expect(flagsOf(cpu) & (OF | SF | ZF | AF | PF | CF)).toBe(after);
    execute(cpu, 'f5');
    execute(cpu, 'f8'); // clc
    expect(flagsOf(cpu) & (OF | SF | ZF | AF | PF | CF)).toBe(after);
  });

  it('LAHF/SAHF move SF ZF AF PF CF through AH and leave OF', () => {
    const { cpu } = machine();
    setState(cpu, [0, 0xffffffff, 0, 0]);
    execute(cpu, '01 c8'); // add eax, ecx: 0 + -1 = -1: SF PF, no CF
    execute(cpu, '9f'); // lahf
    expect((reg(cpu, EAX) >>> 8) & 0xff).toBe(SF | PF | 2);
    cpu.s[EAX] = (0xd5 | 0x28) << 8; // every flag bit plus the reserved bits 3 and 5
    setEflags(cpu.s, flagsOf(cpu) | OF);
    execute(cpu, '9e'); // sahf
    expect(flagsOf(cpu) & 0xfff).toBe(SF | ZF | AF | PF | CF | OF | 2);
  });

  it('CLD/STD flip DF', () => {
    const { cpu } = machine();
    setState(cpu, []);
    execute(cpu, 'fd');
    expect(flagsOf(cpu) & DF).toBe(DF);
    execute(cpu, 'fc');
    expect(flagsOf(cpu) & DF).toBe(0);
  });

  it('XCHG with memory swaps both ways', () => {
    const { cpu, mem } = machine();
    mem.ram.set([1, 2, 3, 4], 0x3000);
    setState(cpu, [0, 0xa0b0c0d0, 0, 0x3000]);
    execute(cpu, '87 0b');
    expect(reg(cpu, ECX)).toBe(0x04030201);
    expect([...mem.ram.subarray(0x3000, 0x3004)]).toEqual([0xd0, 0xc0, 0xb0, 0xa0]);
  });
});
