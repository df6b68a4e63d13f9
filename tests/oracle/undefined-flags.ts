// Flags the Intel SDM (Vol. 2, each instruction's "Flags Affected") leaves undefined, as data keyed by
// mnemonic. The oracle does not compare these bits when the snippet completes: the host CPU and the
// emulator may legitimately differ there. Conditions refer to the masked count (count & 0x1F) and the
// operand width in bits. Flags an instruction leaves "unaffected" are NOT listed: they must be preserved.
import { AF, ARITH_FLAGS, CF, OF, PF, SF, ZF } from './layout.ts';

export type FlagCondition = 'always' | 'count>1' | 'count!=0' | 'count>=width';

export interface UndefinedFlagsRule {
  flags: number;
  when: FlagCondition;
  /** The SDM sentence the rule comes from. */
  sdm: string;
}

const LOGIC = [{ flags: AF, when: 'always', sdm: 'The OF and CF flags are cleared; ... The state of the AF flag is undefined.' }] as const;
const SHIFT = [
  { flags: AF, when: 'count!=0', sdm: 'For a non-zero count, the AF flag is undefined.' },
  { flags: OF, when: 'count>1', sdm: 'The OF flag is affected only on 1-bit shifts. For left shifts, ... For non-zero counts, the OF flag is undefined [beyond 1].' },
] as const;
const SHIFT_OUT = {
  flags: CF, when: 'count>=width',
  sdm: 'The CF flag ... is undefined for SHL and SHR instructions where the count is greater than or equal to the size (in bits) of the destination operand.',
} as const;
const ROTATE = [{ flags: OF, when: 'count>1', sdm: 'If the masked count is 1, then the OF flag is affected, otherwise (masked count is greater than 1) the OF flag is undefined.' }] as const;
const DOUBLE_SHIFT = [
  { flags: AF, when: 'count!=0', sdm: 'If a shift occurs, the AF flag is undefined.' },
  { flags: OF, when: 'count>1', sdm: 'For shifts greater than 1 bit, the OF flag is undefined.' },
  // "If the count is greater than the operand size, the flags are undefined" (and the result): the generator never does that.
] as const;
const MULTIPLY = [{ flags: SF | ZF | AF | PF, when: 'always', sdm: 'The SF, ZF, AF, and PF flags are undefined.' }] as const;
const DIVIDE = [{ flags: ARITH_FLAGS, when: 'always', sdm: 'The CF, OF, SF, ZF, AF, and PF flags are undefined.' }] as const;
const BIT_SCAN = [{ flags: CF | OF | SF | AF | PF, when: 'always', sdm: 'The CF, OF, SF, AF, and PF flags are undefined.' }] as const;
const BIT_TEST = [{ flags: OF | SF | AF | PF, when: 'always', sdm: 'The ZF flag is unaffected. The OF, SF, AF, and PF flags are undefined.' }] as const;

export const UNDEFINED_FLAGS: Readonly<Record<string, readonly UndefinedFlagsRule[]>> = {
  AND: LOGIC, OR: LOGIC, XOR: LOGIC, TEST: LOGIC,
  SHL: [...SHIFT, SHIFT_OUT], SHR: [...SHIFT, SHIFT_OUT], SAR: SHIFT,
  ROL: ROTATE, ROR: ROTATE, RCL: ROTATE, RCR: ROTATE,
  SHLD: DOUBLE_SHIFT, SHRD: DOUBLE_SHIFT,
  MUL: MULTIPLY, IMUL: MULTIPLY,
  DIV: DIVIDE, IDIV: DIVIDE,
  BSF: BIT_SCAN, BSR: BIT_SCAN,
  BT: BIT_TEST, BTS: BIT_TEST, BTR: BIT_TEST, BTC: BIT_TEST,
  DAA: [{ flags: OF, when: 'always', sdm: 'The CF and AF flags are set if ... The SF, ZF, and PF flags are set according to the result. The OF flag is undefined.' }],
  DAS: [{ flags: OF, when: 'always', sdm: 'The CF and AF flags are set if ... The SF, ZF, and PF flags are set according to the result. The OF flag is undefined.' }],
  AAA: [{ flags: OF | SF | ZF | PF, when: 'always', sdm: 'The AF and CF flags are set to 1 if ... The OF, SF, ZF, and PF flags are undefined.' }],
  AAS: [{ flags: OF | SF | ZF | PF, when: 'always', sdm: 'The AF and CF flags are set to 1 if ... The OF, SF, ZF, and PF flags are undefined.' }],
  AAM: [{ flags: OF | AF | CF, when: 'always', sdm: 'The SF, ZF, and PF flags are set according to the resulting binary value in AL. The OF, AF, and CF flags are undefined.' }],
  AAD: [{ flags: OF | AF | CF, when: 'always', sdm: 'The SF, ZF, and PF flags are set according to the resulting binary value in AL. The OF, AF, and CF flags are undefined.' }],
};

export interface FlagContext {
  /** Shift/rotate count after masking with 0x1F. */
  count?: number;
  width?: number;
}

/** The undefined-flag mask for one executed instruction. */
export function undefinedFlags(mnemonic: string, ctx: FlagContext = {}): number {
  let mask = 0;
  for (const rule of UNDEFINED_FLAGS[mnemonic] ?? []) {
    const count = ctx.count ?? 0, width = ctx.width ?? 32;
    const hit = rule.when === 'always' || (rule.when === 'count>1' && count > 1) || (rule.when === 'count!=0' && count !== 0)
      || (rule.when === 'count>=width' && count >= width);
    if (hit) mask |= rule.flags;
  }
  return mask;
}
