// The width of the stack pointer when an instruction changes SS (issue 11, part 3): ESP moves by the width
// of the stack it is popped from (POP SS), and a far RET to an outer ring adds its immediate with the new
// stack's width (SDM RET: ESP ← the popped ESP, then SP or ESP += imm by the new SS.B). Expected values are
// the SDM's pseudo-code worked by hand; QEMU 7.2 agrees on POP SS and on the 16-bit-operand RET below
// (for a RET to a 16-bit stack it keeps the old ESP's upper half instead of the popped one's).
import { describe, expect, it } from 'vitest';
import { CS, SS } from '../src/decoder/instruction.ts';
import { CPL, CR0, CR0_PE, ESP, GDTR_BASE, GDTR_LIMIT } from '../src/cpu/state.ts';
import { decodeDescriptor } from '../src/cpu/segments.ts';
import { execute, machine } from './semantics-helpers.ts';

const GDT = 0x10000;
/** Selectors of the test GDT: flat ring-0 code and 32-bit data, a 16-bit ring-0 stack, ring-3 code, 16- and 32-bit ring-3 stacks. */
const CODE0 = 0x08, DATA32 = 0x10, DATA16 = 0x18, CODE3 = 0x23, DATA16_3 = 0x2b, DATA32_3 = 0x33;
const DESCRIPTORS: [number, number, number][] = [
  // [selector, low dword, high dword]
  [CODE0, 0x0000ffff, 0x00cf9a00],
  [DATA32, 0x0000ffff, 0x00cf9200],
  [DATA16, 0x0000ffff, 0x000f9200], // B = 0, G = 1: a 16-bit stack over 4 GiB
  [CODE3, 0x0000ffff, 0x00cffa00],
  [DATA16_3, 0x0000ffff, 0x000ff200],
  [DATA32_3, 0x0000ffff, 0x00cff200],
];

function protectedMachine(ss: number) {
  const { cpu, mem } = machine();
  for (const [sel, lo, hi] of DESCRIPTORS) { mem.write(GDT + sel - (sel & 7), 4, lo); mem.write(GDT + sel - (sel & 7) + 4, 4, hi); }
  const s = cpu.s;
  s[GDTR_BASE] = GDT; s[GDTR_LIMIT] = 0x3f; s[CR0] |= CR0_PE; s[CPL] = 0;
  const load = (seg: number, sel: number): void => {
    const at = GDT + (sel & 0xfff8), d = decodeDescriptor(mem.read(at, 4), mem.read(at + 4, 4), at);
    cpu.setSegmentCache(seg, sel, d.base, d.limit | 0, d.attr | 1);
  };
  load(CS, CODE0); load(SS, ss);
  return { cpu, mem, s };
}

describe('stack width when SS changes', () => {
  it('POP SS from a 16-bit stack to a 32-bit one moves SP only (wrapping at 64 KiB)', () => {
    const { cpu, mem, s } = protectedMachine(DATA16);
    s[ESP] = 0x1234fffe;
    mem.write(0xfffe, 2, DATA32);
    expect(execute(cpu, '17')).toBeUndefined();
    expect(s[ESP] >>> 0).toBe(0x12340002); // a 32-bit POP: 4 bytes
  });

  it('POP SS from a 32-bit stack to a 16-bit one moves all of ESP', () => {
    const { cpu, mem, s } = protectedMachine(DATA32);
    s[ESP] = 0x0001fffe;
    mem.write(0x1fffe, 2, DATA16);
    expect(execute(cpu, '17')).toBeUndefined();
    expect(s[ESP] >>> 0).toBe(0x00020002);
  });

  it('a POP SS that faults leaves ESP as it was', () => {
    const { cpu, mem, s } = protectedMachine(DATA32);
    s[ESP] = 0x0001fffe;
    mem.write(0x1fffe, 2, CODE0); // a code segment: #GP(selector)
    expect(execute(cpu, '17')?.vector).toBe(13);
    expect(s[ESP] >>> 0).toBe(0x0001fffe);
  });

  it('RETF imm16 (32-bit operands) to ring 3 on a 16-bit stack adds the immediate to SP', () => {
    const { cpu, mem, s } = protectedMachine(DATA32);
    s[ESP] = 0x8000;
    // EIP, CS, 8 bytes of parameters, ESP, SS
    for (const [i, v] of [0x1000, CODE3, 0, 0, 0xabcdfffc, DATA16_3].entries()) mem.write(0x8000 + 4 * i, 4, v);
    expect(execute(cpu, 'ca 08 00')).toBeUndefined();
    expect(s[CPL]).toBe(3);
    expect(s[ESP] >>> 0).toBe(0xabcd0004);
  });

  it('RETF imm16 (16-bit operands) to ring 3 on a 32-bit stack adds the immediate to ESP', () => {
    const { cpu, mem, s } = protectedMachine(DATA32);
    s[ESP] = 0x8000;
    for (const [i, v] of [0x1000, CODE3, 0, 0, 0, 0, 0xfffc, DATA32_3].entries()) mem.write(0x8000 + 2 * i, 2, v);
    expect(execute(cpu, '66 ca 08 00')).toBeUndefined();
    expect(s[CPL]).toBe(3);
    expect(s[ESP] >>> 0).toBe(0x00010004);
  });
});
