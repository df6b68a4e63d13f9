// The x87 state in the CPU-state block: the register stack through TOP, tags kept with the contents,
// RESET and FNINIT values, and that a snapshot (captureState/applyState) carries it.
import { describe, expect, it } from 'vitest';
import * as layout from '../src/cpu/state.ts';
import { FPU_CW, FPU_FDS, FPU_REG_SLOT, FPU_SW, FPU_TW, STATE_SLOTS } from '../src/cpu/state.ts';
import { Float80, INDEFINITE } from '../src/cpu/fpu/index.ts';
import {
  fpuInit, fpuReset, free, isEmpty, physical, pop, push, readST, TAG_EMPTY, TAG_SPECIAL, TAG_VALID, TAG_ZERO, tag, top, writeST,
} from '../src/cpu/fpu/fpu-state.ts';
import { VM } from '../src/machine/vm.ts';
import { applyState, captureState } from '../src/machine/vm-state.ts';

const ONE = Float80.fromHex('3fff8000000000000000'), TWO = Float80.fromHex('40008000000000000000');
const ZERO = Float80.fromHex('80000000000000000000'), DENORMAL = Float80.fromHex('00000000000000000001');

describe('x87 state', () => {
  it('has slots of its own inside the state block', () => {
    const L = layout;
    // every other slot the layout names, with its extent
    const used: [string, number, number][] = [
      ['registers', L.EAX, 8], ['EIP', L.EIP, 1], ['EFLAGS', L.EFLAGS, 1], ['lazy flags', L.LAZY_MASK, 6],
      ['segments', L.SEG_SLOT, 24], ['GDTR/IDTR', L.GDTR_BASE, 4], ['LDTR', L.LDTR_SLOT, 4], ['TR', L.TR_SLOT, 4],
      ['CR0-4', L.CR0, 4], ['DR0-7', L.DR_SLOT, 8], ['CPL', L.CPL, 1], ['CODE32', L.CODE32, 1], ['STACK32', L.STACK32, 1],
      ['JIT exit', L.JIT_EXIT_SLOT, 1], ['JIT chains', L.JIT_CHAINS_SLOT, 1],
    ];
    expect(FPU_FDS).toBeLessThan(STATE_SLOTS);
    for (const [name, first, n] of used) {
      expect(first + n <= FPU_REG_SLOT || first > FPU_FDS, `${name} overlaps the FPU slots`).toBe(true);
    }
  });

  it('pushes and pops through TOP with tags that follow the contents', () => {
    const s = new Int32Array(STATE_SLOTS);
    fpuReset(s);
    expect([s[FPU_CW], s[FPU_SW], s[FPU_TW]]).toEqual([0x0040, 0, 0x5555]);
    fpuInit(s);
    expect([s[FPU_CW], s[FPU_SW], s[FPU_TW]]).toEqual([0x037f, 0, 0xffff]);
    expect(isEmpty(s, 0)).toBe(true);
    push(s, ONE);
    expect(top(s)).toBe(7);
    expect(physical(s, 0)).toBe(7);
    push(s, ZERO); push(s, DENORMAL); push(s, TWO);
    expect(top(s)).toBe(4);
    expect(readST(s, 0).toHex()).toBe(TWO.toHex());
    expect(readST(s, 3).toHex()).toBe(ONE.toHex());
    expect([tag(s, 4), tag(s, 5), tag(s, 6), tag(s, 7), tag(s, 0)]).toEqual([TAG_VALID, TAG_SPECIAL, TAG_ZERO, TAG_VALID, TAG_EMPTY]);
    writeST(s, 0, INDEFINITE);
    expect(tag(s, 4)).toBe(TAG_SPECIAL);
    pop(s);
    expect(top(s)).toBe(5);
    expect(tag(s, 4)).toBe(TAG_EMPTY);
    free(s, 1);
    expect(isEmpty(s, 1)).toBe(true);
    expect(s[FPU_SW] & 0x3800).toBe(5 << 11);
    // TOP wraps: eight more pushes from 5 come back to 5
    for (let i = 0; i < 8; i++) push(s, ONE);
    expect(top(s)).toBe(5);
  });

  it('travels in a snapshot with the other slots', () => {
    const a = new VM({ memory: 1 << 20 });
    fpuInit(a.cpu.s);
    push(a.cpu.s, Float80.fromHex('c00dfedcba9876543210'));
    a.cpu.s[FPU_CW] = 0x0c7f;
    const b = new VM({ memory: 1 << 20 });
    applyState(b, captureState(a));
    expect(readST(b.cpu.s, 0).toHex()).toBe('c00dfedcba9876543210');
    expect([b.cpu.s[FPU_CW], b.cpu.s[FPU_SW], b.cpu.s[FPU_TW]]).toEqual([0x0c7f, 7 << 11, 0x3fff]);
  });
});
