// Shifts and rotates against pending (lazy) flags: a masked count of 0 changes nothing, rotates keep the
// flags they do not define, RCL/RCR take 8/16-bit counts modulo 9/17; INC/DEC keep a pending CF.
import { describe, expect, it } from 'vitest';
import { AF, ARITH_FLAGS, CF, EAX, OF, PF, SF, ZF } from '../src/cpu/state.ts';
import { execute, flagsOf, machine, reg, setState } from './semantics-helpers.ts';

/** Leave lazy flags from `sub eax, ecx` with EAX = 0x80000000, ECX = 1: OF AF PF pending (SF, ZF, CF clear). */
function pendingSub(): ReturnType<typeof machine> {
  const m = machine();
  setState(m.cpu, [0x8000_0000, 1, 0, 0x2000]);
  execute(m.cpu, '29 c8'); // sub eax, ecx -> 0x7fffffff
  expect(flagsOf(m.cpu) & ARITH_FLAGS).toBe(OF | AF | PF);
  return m;
}

describe('shift counts and pending flags', () => {
  for (const [name, hex] of [['shl eax, cl', 'd3 e0'], ['rcr ax, cl', '66 d3 d8'], ['shrd eax, edx, cl', '0f ad d0'], ['shl dword [ebx], cl', 'd3 23']] as const) {
    for (const cl of [0, 32, 64]) {
      it(`${name} with CL = ${cl} (masked to 0) changes neither the operand nor the flags`, () => {
        const { cpu, mem } = pendingSub();
        mem.ram.set([1, 2, 3, 4], 0x2000);
        cpu.s[1] = cl;
        execute(cpu, hex);
        expect(reg(cpu, EAX)).toBe(0x7fffffff);
        expect([...mem.ram.subarray(0x2000, 0x2004)]).toEqual([1, 2, 3, 4]);
        expect(flagsOf(cpu) & ARITH_FLAGS).toBe(OF | AF | PF);
      });
    }
  }

  it('ROL sets CF and OF and keeps the pending SF ZF AF PF', () => {
    const { cpu } = pendingSub();
    cpu.s[1] = 1;
    execute(cpu, 'd3 c0'); // rol eax, cl: 0x7fffffff -> 0xfffffffe, CF = 0, OF = 1
    expect(reg(cpu, EAX)).toBe(0xfffffffe);
    expect(flagsOf(cpu) & ARITH_FLAGS).toBe(OF | AF | PF);
  });

  it('RCL r8 takes the count modulo 9: 9 and 18 rotate nothing and keep every flag', () => {
    const { cpu } = pendingSub();
    for (const cl of [9, 18, 27]) {
      cpu.s[1] = cl;
      execute(cpu, 'd2 d0'); // rcl al, cl
      expect(reg(cpu, EAX)).toBe(0x7fffffff);
      expect(flagsOf(cpu) & ARITH_FLAGS).toBe(OF | AF | PF);
    }
    cpu.s[1] = 10; // 10 mod 9 = 1: AL 0xff -> 0xfe with CF (0) in, CF = 1 out
    execute(cpu, 'd2 d0');
    expect(reg(cpu, EAX) & 0xff).toBe(0xfe);
    expect(flagsOf(cpu) & CF).toBe(CF);
  });

  it('shifts set SF ZF PF from the result and clear AF', () => {
    const { cpu } = pendingSub();
    cpu.s[1] = 31;
    execute(cpu, 'd3 e0'); // shl eax, 31: 0x7fffffff -> 0x80000000, CF = 1
    expect(reg(cpu, EAX)).toBe(0x8000_0000);
    expect(flagsOf(cpu) & (SF | ZF | PF | AF | CF)).toBe(SF | PF | CF);
  });
});

describe('INC/DEC and CF', () => {
  it('keep a CF that is still pending from SUB', () => {
    const { cpu } = machine();
    setState(cpu, [0, 1]);
    execute(cpu, '29 c8'); // sub eax, ecx: borrow, CF = 1
    execute(cpu, '40'); // inc eax: 0xffffffff -> 0, ZF
    expect(reg(cpu, EAX)).toBe(0);
    expect(flagsOf(cpu) & (CF | ZF)).toBe(CF | ZF);
    execute(cpu, '48'); // dec eax
    expect(flagsOf(cpu) & (CF | ZF | SF)).toBe(CF | SF);
  });
});
