// Decimal arithmetic (SDM Vol. 1 7.3.2.6; Vol. 2 DAA DAS AAA AAS AAM AAD), following the SDM's
// pseudo-code line by line. Flags the SDM leaves undefined follow the host Intel CPU (measured over every
// AL, CF, AF combination): DAA/DAS clear OF; AAA/AAS set SF ZF PF from the final AL and clear OF; AAM
// clears CF AF OF; AAD sets CF AF OF as the 8-bit addition AL + AH * imm8 does.
import { DE, fault } from '../fault.ts';
import { getAF, getCF, setEflags } from '../flags.ts';
import { ARITH_FLAGS, AF, CF, EAX, EFLAGS, OF, PF, SF, ZF } from '../state.ts';
import type { EmitterTable } from './emitter.ts';

/** SF ZF PF of an 8-bit result, as EFLAGS bits. */
function szp(v: number): number {
  v &= 0xff;
  let p = v ^ (v >>> 4); p ^= p >>> 2; p ^= p >>> 1;
  return (v & 0x80 ? SF : 0) | (v === 0 ? ZF : 0) | (p & 1 ? 0 : PF);
}

/** Replace all six arithmetic flags (nothing stays lazy). */
function setArith(s: Int32Array, flags: number): void {
  setEflags(s, (s[EFLAGS] & ~ARITH_FLAGS) | flags);
}

/** OF of the 8-bit addition a + b = r. */
const addOverflow = (a: number, b: number, r: number): number => ((a ^ r) & (b ^ r) & 0x80 ? OF : 0);

export const BCD: EmitterTable = {
  DAA: ({ cpu }) => {
    const s = cpu.s, r16 = cpu.r16;
    return () => {
      const ax = r16[EAX << 1], oldAL = ax & 0xff, oldCF = getCF(s);
      let al = oldAL, cf = 0, af = 0;
      if ((al & 0x0f) > 9 || getAF(s)) {
        al += 6;
        cf = oldCF | (al > 0xff ? 1 : 0);
        al &= 0xff;
        af = AF;
      }
      if (oldAL > 0x99 || oldCF) { al = (al + 0x60) & 0xff; cf = 1; } else cf = 0;
      r16[EAX << 1] = (ax & 0xff00) | al;
      setArith(s, cf | af | szp(al));
    };
  },
  DAS: ({ cpu }) => {
    const s = cpu.s, r16 = cpu.r16;
    return () => {
      const ax = r16[EAX << 1], oldAL = ax & 0xff, oldCF = getCF(s);
      let al = oldAL, cf = 0, af = 0;
      if ((al & 0x0f) > 9 || getAF(s)) {
        cf = oldCF | (al < 6 ? 1 : 0);
        al = (al - 6) & 0xff;
        af = AF;
      }
      if (oldAL > 0x99 || oldCF) { al = (al - 0x60) & 0xff; cf = 1; }
      r16[EAX << 1] = (ax & 0xff00) | al;
      setArith(s, cf | af | szp(al));
    };
  },
  AAA: ({ cpu }) => {
    const s = cpu.s, r16 = cpu.r16;
    return () => {
      let ax = r16[EAX << 1], flags = 0;
      const al = ax & 0xff;
      if ((al & 0x0f) > 9 || getAF(s)) { ax = (ax + 0x106) & 0xffff; flags = AF | CF; } // AX += 106h (a carry out of AL reaches AH)
      ax &= 0xff0f;
      r16[EAX << 1] = ax;
      setArith(s, flags | szp(ax));
    };
  },
  AAS: ({ cpu }) => {
    const s = cpu.s, r16 = cpu.r16;
    return () => {
      let ax = r16[EAX << 1], flags = 0;
      const al = ax & 0xff;
      if ((al & 0x0f) > 9 || getAF(s)) { ax = (ax - 6 - 0x100) & 0xffff; flags = AF | CF; } // AX -= 6 (borrowing from AH), AH -= 1
      ax &= 0xff0f;
      r16[EAX << 1] = ax;
      setArith(s, flags | szp(ax));
    };
  },
  AAM: ({ cpu, ins }) => {
    const s = cpu.s, r16 = cpu.r16, op = ins.operands[0];
    const base = op?.kind === 'imm' ? op.value & 0xff : 10;
    return () => {
      if (base === 0) throw fault(DE);
      const al = r16[EAX << 1] & 0xff, q = Math.floor(al / base), r = al - q * base;
      r16[EAX << 1] = (q << 8) | r;
      setArith(s, szp(r));
    };
  },
  AAD: ({ cpu, ins }) => {
    const s = cpu.s, r16 = cpu.r16, op = ins.operands[0];
    const base = op?.kind === 'imm' ? op.value & 0xff : 10;
    return () => {
      const ax = r16[EAX << 1], al = ax & 0xff, product = ((ax >>> 8) * base) & 0xff;
      const r = (al + product) & 0xff;
      r16[EAX << 1] = r;
      // Intel computes AL + (AH * imm8) with the adder: CF, AF, OF are that 8-bit addition's.
      setArith(s, szp(r) | (al + product > 0xff ? CF : 0) | ((al ^ product ^ r) & 0x10 ? AF : 0) | addOverflow(al, product, r));
    };
  },
};
