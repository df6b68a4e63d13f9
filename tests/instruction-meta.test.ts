// The instruction-metadata table (src/cpu/instruction-meta.ts): an entry for every mnemonic the decoder's
// opcode maps produce (so a new instruction cannot be forgotten), the control facts the engines and
// region discovery use, and the flag facts checked against the interpreter itself — flag liveness drops
// what an instruction is said to write, so each sampled form is run under all 64 combinations of the
// arithmetic flags and must depend on no flag outside `reads`, and leave no flag in `writes` depending on
// anything outside `reads`.
import { describe, expect, it } from 'vitest';
import { conditionReads, directTarget, endsBlock, fallsThrough, META_MNEMONICS, metaOf } from '../src/cpu/instruction-meta.ts';
import { getEflags, setEflags } from '../src/cpu/flags.ts';
import { AF, ARITH_FLAGS, CF, EFLAGS, IDTR_BASE, IDTR_LIMIT, LAZY_DST, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_SIZE, LAZY_SRC, OF, PF, SF, STATE_SLOTS, ZF } from '../src/cpu/state.ts';
import { decodeBytes } from '../src/decoder/decode.ts';
import type { Instruction } from '../src/decoder/instruction.ts';
import { GROUPS, ONE_BYTE_MAP, type OpcodeEntry, TWO_BYTE_MAP } from '../src/decoder/opcodes.ts';
import { Rng } from './oracle/builder.ts';
import { bytesOf, compile, machine } from './semantics-helpers.ts';

/** Every mnemonic the opcode maps can decode to (groups walked; prefixes and the 0F escape are not instructions). */
function decoderMnemonics(): Set<string> {
  const out = new Set<string>();
  const walk = (e: OpcodeEntry): void => {
    if (e.group !== null) { e.group.mem.forEach(walk); e.group.reg.forEach(walk); return; }
    if (e.op !== 'PREFIX' && e.op !== 'ESCAPE') out.add(e.op);
  };
  [...ONE_BYTE_MAP, ...TWO_BYTE_MAP].forEach(walk);
  for (const g of Object.values(GROUPS)) { g.mem.forEach(walk); g.reg.forEach(walk); }
  return out;
}

const X87 = new Set(Object.entries(GROUPS).filter(([n]) => n.startsWith('x87')).flatMap(([, g]) => [...g.mem, ...g.reg].map((e) => e.op)).filter((op) => op !== 'INVALID'));

const dec = (hex: string): Instruction => decodeBytes(bytesOf(hex), 0, 32);

describe('instruction metadata: coverage', () => {
  it('has an entry for every mnemonic the decoder produces, and none it does not', () => {
    const produced = decoderMnemonics();
    expect(produced.size).toBeGreaterThan(190);
    expect([...produced].filter((op) => !META_MNEMONICS.includes(op)), 'decoded mnemonics without metadata').toEqual([]);
    expect(META_MNEMONICS.filter((op) => !produced.has(op)), 'metadata for mnemonics the decoder never produces').toEqual([]);
  });
});

describe('instruction metadata: control', () => {
  // [hex, endsBlock, branch, target, fallsThrough]
  const CASES: [string, boolean, string, string, boolean][] = [
    ['01 c8', false, 'none', 'none', true], // add eax, ecx
    ['74 10', false, 'conditional', 'relative', true], // je
    ['0f 8c 00 01 00 00', false, 'conditional', 'relative', true], // jl rel32
    ['e2 fe', false, 'conditional', 'relative', true], // loop
    ['e1 fe', false, 'conditional', 'relative', true], // loope
    ['e0 fe', false, 'conditional', 'relative', true], // loopne
    ['e3 fe', false, 'conditional', 'relative', true], // jecxz
    ['eb 10', true, 'jump', 'relative', false],
    ['e9 00 01 00 00', true, 'jump', 'relative', false],
    ['ff e0', true, 'jump', 'indirect', false], // jmp eax
    ['ff 23', true, 'jump', 'indirect', false], // jmp [ebx]
    ['ff 2b', true, 'jump', 'far', false], // jmp far [ebx]
    ['ea 00 10 00 00 08 00', true, 'jump', 'far', false],
    ['e8 00 01 00 00', true, 'call', 'relative', false],
    ['ff d0', true, 'call', 'indirect', false], // call eax
    ['ff 1b', true, 'call', 'far', false], // call far [ebx]
    ['9a 00 10 00 00 08 00', true, 'call', 'far', false],
    ['c3', true, 'return', 'indirect', false],
    ['c2 04 00', true, 'return', 'indirect', false],
    ['cb', true, 'return', 'far', false], // retf
    ['cf', true, 'return', 'far', false], // iret
    ['cd 80', true, 'interrupt', 'far', false],
    ['cc', true, 'interrupt', 'far', false],
    ['f1', true, 'interrupt', 'far', false], // int1
    ['ce', true, 'interrupt', 'far', true], // into: only when OF = 1
    ['0f 0b', true, 'interrupt', 'far', false], // ud2
    ['d6', true, 'interrupt', 'far', false], // invalid (SALC)
    ['f4', true, 'halt', 'none', false],
    // Not transfers, but the block ends: interrupt shadow, IF, mode and descriptor-table changes.
    ['8e d0', true, 'none', 'none', true], // mov ss, ax
    ['8c d0', true, 'none', 'none', true], // mov ax, ss (either operand, as the interpreter has always cut)
    ['8e d8', false, 'none', 'none', true], // mov ds, ax
    ['17', true, 'none', 'none', true], // pop ss
    ['1f', false, 'none', 'none', true], // pop ds
    ['58', false, 'none', 'none', true], // pop eax
    ['0f 22 c0', true, 'none', 'none', true], // mov cr0, eax
    ['0f 20 c0', true, 'none', 'none', true], // mov eax, cr0
    ['0f 23 c0', false, 'none', 'none', true], // mov dr0, eax
    ['9d', true, 'none', 'none', true], // popf
    ['fb', true, 'none', 'none', true], // sti
    ['fa', true, 'none', 'none', true], // cli
    ['0f b2 03', true, 'none', 'none', true], // lss
    ['c5 03', false, 'none', 'none', true], // lds
    ['62 03', true, 'none', 'none', true], // bound
    ['0f 01 13', true, 'none', 'none', true], // lgdt
    ['0f 01 1b', true, 'none', 'none', true], // lidt
    ['0f 00 d0', true, 'none', 'none', true], // lldt ax
    ['0f 00 d8', true, 'none', 'none', true], // ltr ax
    ['0f 01 f0', true, 'none', 'none', true], // lmsw ax
    ['0f 01 3b', true, 'none', 'none', true], // invlpg
    ['0f 01 c1', true, 'none', 'none', true], // vmcall
    ['0f 01 03', false, 'none', 'none', true], // sgdt
    ['d9 e8', false, 'none', 'none', true], // fld1
    ['0f a2', false, 'none', 'none', true], // cpuid
  ];
  for (const [hex, ends, branch, target, falls] of CASES) {
    it(`${hex}: ${dec(hex).op}`, () => {
      const m = metaOf(dec(hex));
      expect([m.endsBlock, m.branch, m.target, m.fallsThrough]).toEqual([ends, branch, target, falls]);
    });
  }

  it('an instruction control cannot fall through ends its block; conditional branches never do', () => {
    for (const [hex] of CASES) {
      const ins = dec(hex), m = metaOf(ins);
      if (!fallsThrough(ins)) expect(endsBlock(ins), hex).toBe(true);
      if (m.branch === 'conditional') expect([m.endsBlock, m.target], hex).toEqual([false, 'relative']);
      if (m.branch === 'none') expect(m.target, hex).toBe('none');
    }
  });

  it('directTarget: relative branches only, masked to the operand size', () => {
    const at = (hex: string, next: number): number | null => directTarget({ ins: dec(hex), next });
    expect(at('eb 10', 0x1002)).toBe(0x1012);
    expect(at('eb f0', 0x1002)).toBe(0x0ff2);
    expect(at('e8 00 01 00 00', 0x1005)).toBe(0x1105);
    expect(at('0f 85 fa ff ff ff', 0x1006)).toBe(0x1000);
    expect(at('e2 fe', 0x1002)).toBe(0x1000); // loop $
    expect(at('e3 10', 0x1002)).toBe(0x1012);
    expect(at('e9 00 00 00 80', 0x1005)).toBe((0x8000_1005) | 0);
    expect(at('66 e9 00 f0', 0x1004)).toBe(0x0004); // jmp rel16 wraps at 64 KiB
    expect(at('ff e0', 0x1002)).toBeNull();
    expect(at('ea 00 10 00 00 08 00', 0x1007)).toBeNull();
    expect(at('c3', 0x1001)).toBeNull();
    expect(at('01 c8', 0x1002)).toBeNull();
  });
});

describe('instruction metadata: flags (SDM Vol. 1 Appendix A)', () => {
  it('condition codes read what tttn tests', () => {
    const expected = [OF, OF, CF, CF, ZF, ZF, CF | ZF, CF | ZF, SF, SF, PF, PF, SF | OF, SF | OF, ZF | SF | OF, ZF | SF | OF];
    for (let cc = 0; cc < 16; cc++) {
      expect(conditionReads(cc)).toBe(expected[cc]);
      expect(metaOf(dec(`${(0x70 + cc).toString(16)} 00`)).reads).toBe(expected[cc]);
      expect(metaOf(dec(`0f ${(0x90 + cc).toString(16)} c0`)).reads).toBe(expected[cc]);
      expect(metaOf(dec(`0f ${(0x40 + cc).toString(16)} c1`)).reads).toBe(expected[cc]);
    }
  });

  it('selected facts', () => {
    const f = (hex: string): [number, number] => { const m = metaOf(dec(hex)); return [m.reads, m.writes]; };
    const OSZAP = OF | SF | ZF | AF | PF;
    expect(f('01 c8')).toEqual([0, ARITH_FLAGS]); // add
    expect(f('11 c8')).toEqual([CF, ARITH_FLAGS]); // adc
    expect(f('40')).toEqual([0, OSZAP]); // inc keeps CF
    expect(f('d1 e0')).toEqual([0, ARITH_FLAGS]); // shl eax, 1
    expect(f('c1 e0 20')).toEqual([0, 0]); // shl eax, 32: masked to 0
    expect(f('d3 e0')).toEqual([0, 0]); // shl eax, cl: CL may be 0
    expect(f('0f a4 d0 04')).toEqual([0, ARITH_FLAGS]); // shld eax, edx, 4
    expect(f('0f a5 d0')).toEqual([0, 0]); // shld eax, edx, cl
    expect(f('c0 d0 09')).toEqual([CF, 0]); // rcl al, 9: 9 mod 9 = 0
    expect(f('c1 d0 09')).toEqual([CF, CF | OF]); // rcl eax, 9
    expect(f('c1 c0 05')).toEqual([0, CF]); // rol eax, 5 keeps OF
    expect(f('c1 03 05')).toEqual([0, CF | OF]); // rol dword [ebx], 5
    expect(f('a6')).toEqual([0, ARITH_FLAGS]); // cmpsb
    expect(f('f3 a6')).toEqual([0, 0]); // repe cmpsb: ECX may be 0
    expect(f('f7 f1')).toEqual([0, 0]); // div: all undefined, kept
    expect(f('f7 e1')).toEqual([0, ARITH_FLAGS]); // mul
    expect(f('0f a3 c8')).toEqual([0, CF]); // bt
    expect(f('9c')).toEqual([ARITH_FLAGS, 0]); // pushf
    expect(f('9d')).toEqual([0, ARITH_FLAGS]); // popf
    expect(f('9f')).toEqual([SF | ZF | AF | PF | CF, 0]); // lahf
    expect(f('f5')).toEqual([CF, CF]); // cmc
  });

  // One or more forms of every mnemonic outside the x87 escapes and the few below; each runs from
  // several register states under all 64 flag combinations.
  const SAMPLES = [
    '01 c8', '80 03 05', '11 c8', '14 7f', '19 c8', '1c 01', '29 c8', '39 c8', '21 c8', '09 c8', '31 c8', '85 c8', 'a8 01',
    '40', 'fe 03', '48', 'ff 0b', 'f7 d8', 'f6 1b', 'f7 d0', '0f c1 c8', '0f b1 ca', '0f b0 0b', '0f c7 0b',
    'f7 e1', 'f6 e1', 'f7 e9', '0f af c1', '6b c1 07', '69 c1 00 01 00 00', 'f7 f1', 'f6 f1', 'f7 f9', 'f6 fb',
    '27', '2f', '37', '3f', 'd4 0a', 'd5 0a', 'd4 00', 'd5 07',
    'd1 e0', 'd3 e0', 'c1 e0 05', 'c1 e0 00', 'c1 e0 20', 'c0 23 03', '66 c1 e0 11', 'd0 e0', 'd2 e0',
    'd1 e8', 'c1 e8 03', 'd3 e8', 'd1 f8', 'c1 f8 1f', 'd3 f8', 'd0 3b', 'd1 f0', 'c1 f0 03',
    '0f a4 d0 04', '0f a5 d0', '0f ac d0 04', '0f ad d0', '0f a4 d0 00', '66 0f ac d0 14', '66 0f a4 d0 11', '0f ac 13 1f',
    'd1 c0', 'c1 c0 05', 'd3 c0', 'c0 03 03', 'c0 c0 08', 'c1 c0 01', 'd1 c8', 'c1 c8 07', 'd3 c8', 'c1 0b 07',
    'd1 d0', 'c1 d0 05', 'd3 d0', 'c0 d0 09', '66 c1 d0 11', 'd1 d8', 'c1 d8 21', 'c0 d8 12', 'd3 d8', 'd0 13',
    '0f a3 c8', '0f ba e0 03', '0f ab 0b', '0f b3 c8', '0f bb c8', '0f ba f8 1f', '0f bc c1', '0f bd c1', '0f bc 03', '0f c8', '66 0f c8',
    ...Array.from({ length: 16 }, (_, cc) => `0f ${(0x90 + cc).toString(16)} c0`),
    ...Array.from({ length: 16 }, (_, cc) => `0f ${(0x40 + cc).toString(16)} c1`),
    ...Array.from({ length: 16 }, (_, cc) => `${(0x70 + cc).toString(16)} 10`),
    '0f 84 00 01 00 00', 'e2 10', 'e1 10', 'e0 10', 'e3 10', '67 e3 10', 'eb 10', 'e9 00 01 00 00', 'ff e0', 'ff 23',
    'e8 00 01 00 00', 'ff d0', 'c3', 'c2 04 00', 'cb', 'cf', 'cd 10', 'cc', 'f1', 'ce', '0f 0b', '62 03', 'f4',
    'ea 00 10 00 00 00 00', '9a 00 10 00 00 00 00', 'ff 2b',
    '89 c8', '8b 03', '88 23', 'b8 01 00 00 00', 'c7 03 05 00 00 00', 'a1 00 20 00 00', '0f b6 c1', '0f be c1', '0f b7 03', '8d 44 8b 04',
    '87 c8', '91', '86 03', '66 98', '98', '99', 'd7', '90', '0f 1f 00', '8e d8', '8c d0', '8e d0', '0f 20 c0', '0f 21 c0', '0f 23 c0',
    'c5 03', 'c4 03', '0f b2 03', '0f b4 03', '0f b5 03',
    '50', 'ff 33', '6a 05', '58', '8f 03', '60', '61', '9c', '9d', 'c8 08 00 00', 'c8 08 00 02', 'c9', '06', '07', '17', '0f a0', '0f a9',
    'a4', 'a5', 'f3 a4', 'aa', 'f3 ab', 'ac', 'a6', 'f3 a6', 'f2 a6', 'ae', 'af', 'f2 ae', 'f3 af', '6c', '6e', 'f3 6c',
    '9f', '9e', 'f8', 'f9', 'f5', 'fc', 'fd', 'fa', 'fb',
    'ec', 'ee', 'e4 60', 'e6 80', '0f a2', '0f 06', '0f 08', '0f 09', '9b', '0f 01 03', '0f 01 0b', '0f 01 e0', '0f 01 13', '0f 01 1b',
    '0f 01 3b', '0f 00 c0', '0f 00 c8', '0f 00 d0', '0f 00 d8', '0f 00 e0', '0f 00 e8', '0f 02 c1', '0f 03 c1', '63 c8', '0f 01 c1',
    '0f 32', 'd9 e8', 'dd 03',
  ];
  /** Not run here, and why. */
  const NOT_SAMPLED: Record<string, string> = {
    LMSW: 'sets CR0.PE from a random register (the mode would change under the test)',
    RDTSC: 'reads the instruction count, not a flag',
    WRMSR: 'writes host-visible MSR state',
    INVALID: 'has no closure: the interpreter raises #UD without running one',
  };

  it('the samples cover every mnemonic (the x87 escapes through one shared form)', () => {
    const sampled = new Set(SAMPLES.map((h) => dec(h).op));
    const missing = META_MNEMONICS.filter((op) => !sampled.has(op) && !X87.has(op) && NOT_SAMPLED[op] === undefined);
    expect(missing).toEqual([]);
  });

  /** What one run leaves, minus the lazy-flag record's representation: state slots, the arithmetic flags, a digest of RAM. */
  interface Outcome { slots: number[]; flags: number; ram: number; fault: number }
  const SKIP_SLOTS = new Set([EFLAGS, LAZY_MASK, LAZY_OP, LAZY_RES, LAZY_DST, LAZY_SRC, LAZY_SIZE]);
  const RAM_LO = 0x0000, RAM_HI = 0x9000;

  function outcomes(hex: string, regs: number[], rng: Rng): Outcome[] {
    const { cpu, mem } = machine(1 << 20);
    for (let a = 0x1000; a < RAM_HI; a++) mem.ram[a] = rng.int(256);
    const c = compile(cpu, hex);
    for (let r = 0; r < 8; r++) cpu.s[r] = regs[r];
    cpu.s[IDTR_BASE] = 0; cpu.s[IDTR_LIMIT] = 0x3ff; // the real-mode vector table, so INT n completes
    setEflags(cpu.s, 2);
    const slots0 = cpu.s.slice(), ram0 = mem.ram.slice(RAM_LO, RAM_HI), seg0 = cpu.segSlow.slice();
    const out: Outcome[] = [];
    for (let f = 0; f < 64; f++) {
      cpu.s.set(slots0); mem.ram.set(ram0, RAM_LO); cpu.segSlow.set(seg0);
      cpu.halted = false; cpu.shadow = 0; cpu.breakBlock = 0;
      // The six flags from the combination's bits, in CF PF AF ZF SF OF order.
      const flags = [CF, PF, AF, ZF, SF, OF].reduce((acc, bit, i) => (f >> i) & 1 ? acc | bit : acc, 0);
      setEflags(cpu.s, 2 | flags);
      const fault = c.run();
      let h = 0x811c9dc5;
      for (let a = RAM_LO; a < RAM_HI; a++) h = Math.imul(h ^ mem.ram[a], 0x01000193);
      const slots: number[] = [];
      for (let k = 0; k < STATE_SLOTS; k++) if (!SKIP_SLOTS.has(k)) slots.push(cpu.s[k]);
      slots.push(getEflags(cpu.s) & ~ARITH_FLAGS);
      out[flags] = { slots, flags: getEflags(cpu.s) & ARITH_FLAGS, ram: h, fault: fault?.vector ?? -1 };
    }
    return out;
  }

  /**
   * Violations of the table's flag facts for `hex` from one register state: flipping an input flag outside
   * `reads` may change only that same flag's output, and only when the instruction does not write it (or
   * faults).
   */
  function violations(hex: string, regs: number[], rng: Rng): string[] {
    const ins = dec(hex), { reads, writes } = metaOf(ins), runs = outcomes(hex, regs, rng), bad: string[] = [];
    const name = (bits: number): string => ['CF', 'PF', 'AF', 'ZF', 'SF', 'OF'].filter((_, i) => bits & [CF, PF, AF, ZF, SF, OF][i]).join('|') || '-';
    for (let i = 0; i < 6; i++) {
      const g = [CF, PF, AF, ZF, SF, OF][i];
      if (reads & g) continue;
      for (const a of Object.keys(runs).map(Number)) {
        if (a & g) continue;
        const x = runs[a], y = runs[a | g];
        if (x.fault !== y.fault || x.ram !== y.ram || x.slots.some((v, k) => v !== y.slots[k])) { bad.push(`${hex} (${ins.op}): state depends on ${name(g)}, not in reads ${name(reads)}`); break; }
        // A faulting run completes nothing (liveness takes every fault as an exit that reads all flags).
        const allowed = writes & g && x.fault < 0 ? 0 : g;
        const diff = (x.flags ^ y.flags) & ~allowed;
        if (diff !== 0) { bad.push(`${hex} (${ins.op}): flags ${name(diff)} depend on ${name(g)} (reads ${name(reads)}, writes ${name(writes)})`); break; }
      }
    }
    return bad;
  }

  it('every sampled form depends on no flag outside reads, and what it writes on nothing else', () => {
    const rng = new Rng(0x5eed);
    const bad: string[] = [];
    // ECX picks shift counts (CL 0, 1, 3, 33) and string/LOOP counts; the last state lets DIV/IDIV complete.
    const states = [0, 1, 3, 0x21].map((ecx) => [rng.u32(), ecx, ecx === 0 ? 0 : rng.u32(), 0x2000, 0x8000, rng.u32(), 0x3000, 0x4000]);
    states.push([0x1234, 0x45, 0, 0x2007, 0x8000, rng.u32(), 0x3000, 0x4000]);
    for (const regs of states) for (const hex of SAMPLES) bad.push(...violations(hex, regs, rng));
    expect(bad).toEqual([]);
  });
});
