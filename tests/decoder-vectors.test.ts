// Hand-picked decoder vectors (tests/data/decoder-vectors.txt, text from objdump) and the decoded fields
// that no disassembly shows: default segments, immediate values and sizes, branch displacements, prefix
// bits, the #UD rules, the 15-byte limit and fetch faults.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decode, DecodeError, decodeBytes } from '../src/decoder/decode.ts';
import { formatIntel } from '../src/decoder/format-intel.ts';
import {
  CS, DS, type Instruction, type Operand, PREFIX_LOCK, PREFIX_OPSIZE, PREFIX_REP, PREFIX_REPNE, SS,
} from '../src/decoder/instruction.ts';
import { judge, normaliseObjdump } from './decoder-normalise.ts';

const hex = (s: string): Uint8Array => Uint8Array.from(s.trim().split(/\s+/), (h) => parseInt(h, 16));
const dec = (bits: 16 | 32, s: string): Instruction => decodeBytes(hex(s), 0, bits);

const VECTORS = readFileSync(new URL('./data/decoder-vectors.txt', import.meta.url), 'utf8')
  .split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'))
  .map((l) => {
    const [bits, bytes, text] = l.split(' | ');
    return { bits: Number(bits) as 16 | 32, bytes: hex(bytes), text: text.trim(), line: l };
  });

describe('decoder text vectors (objdump)', () => {
  it('has the vectors', () => { expect(VECTORS.length).toBeGreaterThanOrEqual(60); });
  it.each(VECTORS)('$line', ({ bits, bytes, text }) => {
    const ins = decodeBytes(bytes, 0, bits);
    if (normaliseObjdump(text, bits).mnemonic === '(bad)') {
      expect(ins.op).toBe('INVALID');
      return;
    }
    expect(ins.length).toBe(bytes.length);
    const v = judge(bytes, bits, 0, ins, text, bytes.length);
    expect(v, `ours: ${formatIntel(ins, 0)}`).toEqual({ kind: 'agree' });
  });
});

const mem = (o: Operand): Extract<Operand, { kind: 'mem' }> => {
  if (o.kind !== 'mem') throw new Error(`expected a memory operand, got ${o.kind}`);
  return o;
};

describe('decoded fields', () => {
  it('memory operands: base, index, scale, displacement and default segment', () => {
    expect(dec(32, '8b 44 24 fc').operands[1]).toEqual({ kind: 'mem', size: 4, seg: SS, base: 4, index: -1, scale: 1, disp: -4 });
    expect(dec(32, '8b 45 08').operands[1]).toMatchObject({ seg: SS, base: 5, disp: 8 });
    expect(dec(32, '8b 04 2c').operands[1]).toMatchObject({ seg: SS, base: 4, index: 5 }); // [esp+ebp]: base ESP
    expect(dec(32, '8b 04 28').operands[1]).toMatchObject({ seg: DS, base: 0, index: 5 }); // [eax+ebp]: EBP is the index
    expect(dec(32, '8b 84 88 00 01 00 00').operands[1]).toMatchObject({ seg: DS, base: 0, index: 1, scale: 4, disp: 0x100 });
    expect(dec(32, '8b 04 8d 00 00 00 80').operands[1]).toMatchObject({ seg: DS, base: -1, index: 1, scale: 4, disp: -0x80000000 });
    expect(dec(32, '8b 05 78 56 34 12').operands[1]).toMatchObject({ seg: DS, base: -1, index: -1, disp: 0x12345678 });
    expect(dec(16, '8b 46 fe').operands[1]).toEqual({ kind: 'mem', size: 2, seg: SS, base: 5, index: -1, scale: 1, disp: -2 });
    expect(dec(16, '8b 00').operands[1]).toMatchObject({ seg: DS, base: 3, index: 6, disp: 0 });
    expect(dec(16, '8b 03').operands[1]).toMatchObject({ seg: SS, base: 5, index: 7 });
    expect(dec(16, '8b 06 34 12').operands[1]).toMatchObject({ seg: DS, base: -1, index: -1, disp: 0x1234 });
    expect(dec(16, '8b 86 00 80').operands[1]).toMatchObject({ seg: SS, base: 5, disp: -0x8000 });
    expect(dec(32, '26 2e 8b 45 00').operands[1]).toMatchObject({ seg: CS, base: 5 });
    expect(dec(32, '26 2e 8b 45 00').segOverride).toBe(CS);
    expect(dec(32, 'a1 78 56 34 12').operands[1]).toMatchObject({ size: 4, seg: DS, base: -1, index: -1, disp: 0x12345678 });
    expect(dec(32, '67 a0 34 12').operands[1]).toMatchObject({ size: 1, base: -1, disp: 0x1234 });
    expect(mem(dec(32, '8d 04 8d 00 00 00 00').operands[1]).size).toBe(0); // LEA: no access
    expect(mem(dec(32, '62 05 00 10 00 00').operands[1]).size).toBe(8);
    expect(mem(dec(32, '66 62 05 00 10 00 00').operands[1]).size).toBe(4);
    expect(mem(dec(32, 'c4 03').operands[1]).size).toBe(6);
    expect(mem(dec(16, 'c4 07').operands[1]).size).toBe(4);
    expect(mem(dec(32, '0f 01 15 00 10 00 00').operands[0]).size).toBe(6);
    expect(mem(dec(32, 'dd 36').operands[0]).size).toBe(108);
    expect(mem(dec(16, 'd9 34').operands[0]).size).toBe(14);
  });

  it('immediates are sign-extended where the SDM says, and masked to the operand size', () => {
    expect(dec(32, '83 e8 80').operands[1]).toEqual({ kind: 'imm', size: 4, value: 0xffffff80 });
    expect(dec(32, '66 83 e8 80').operands[1]).toEqual({ kind: 'imm', size: 2, value: 0xff80 });
    expect(dec(32, '6a ff').operands[0]).toEqual({ kind: 'imm', size: 4, value: 0xffffffff });
    expect(dec(16, '6a 80').operands[0]).toEqual({ kind: 'imm', size: 2, value: 0xff80 });
    expect(dec(32, '6b c0 ff').operands[2]).toEqual({ kind: 'imm', size: 4, value: 0xffffffff });
    expect(dec(32, '80 c0 ff').operands[1]).toEqual({ kind: 'imm', size: 1, value: 0xff });
    expect(dec(32, 'c1 e0 ff').operands[1]).toEqual({ kind: 'imm', size: 1, value: 0xff }); // shift count: not extended
    expect(dec(32, '81 c0 ff ff ff ff').operands[1]).toEqual({ kind: 'imm', size: 4, value: 0xffffffff });
    expect(dec(32, 'c8 10 00 01').operands).toEqual([{ kind: 'imm', size: 2, value: 0x10 }, { kind: 'imm', size: 1, value: 1 }]);
    expect(dec(32, 'd1 e0').operands[1]).toMatchObject({ kind: 'imm', value: 1 });
    expect(dec(32, 'cd 21')).toMatchObject({ op: 'INT', operands: [{ kind: 'imm', value: 0x21 }] });
  });

  it('branches: signed displacements, far pointers, conditions', () => {
    expect(dec(32, 'e8 fb ff ff ff').operands[0]).toEqual({ kind: 'rel', disp: -5 });
    expect(dec(32, '66 e8 fb ff')).toMatchObject({ opsize: 16, length: 4, operands: [{ kind: 'rel', disp: -5 }] });
    expect(dec(16, 'e9 00 80').operands[0]).toEqual({ kind: 'rel', disp: -0x8000 });
    expect(dec(32, 'ea 78 56 34 12 08 00').operands[0]).toEqual({ kind: 'far', selector: 8, offset: 0x12345678 });
    expect(dec(16, '9a 78 56 34 12').operands[0]).toEqual({ kind: 'far', selector: 0x1234, offset: 0x5678 });
    expect(dec(32, '7f fe')).toMatchObject({ op: 'JCC', cond: 15 });
    expect(dec(32, '0f 84 00 00 00 00')).toMatchObject({ op: 'JCC', cond: 4, length: 6 });
    expect(dec(32, '0f 92 c0')).toMatchObject({ op: 'SETCC', cond: 2, size: 1 });
    expect(dec(32, '0f 4c c1')).toMatchObject({ op: 'CMOVCC', cond: 12 });
    expect(dec(32, 'e2 fe').cond).toBe(-1);
    expect(dec(32, '67 e3 fe')).toMatchObject({ op: 'JCXZ', adsize: 16 });
    expect(['e0', 'e1', 'e2'].map((b) => dec(32, `${b} 00`).op)).toEqual(['LOOPNE', 'LOOPE', 'LOOP']);
  });

  it('prefixes: sizes toggle once, the last segment and the last of F2/F3 win', () => {
    expect(dec(32, '66 66 90')).toMatchObject({ op: 'NOP', opsize: 16, prefixes: PREFIX_OPSIZE });
    expect(dec(16, '67 67 8b 00')).toMatchObject({ adsize: 32 });
    expect(dec(32, 'f2 f3 a4').prefixes & (PREFIX_REP | PREFIX_REPNE)).toBe(PREFIX_REP);
    expect(dec(32, 'f3 f2 a6').prefixes & (PREFIX_REP | PREFIX_REPNE)).toBe(PREFIX_REPNE);
    expect(dec(32, 'f3 a5')).toMatchObject({ op: 'MOVS', size: 4, operands: [] });
    expect(dec(32, 'a4')).toMatchObject({ op: 'MOVS', size: 1 });
    expect(dec(16, '66 ab')).toMatchObject({ op: 'STOS', size: 4, opsize: 32 });
    expect(dec(32, '26 ac')).toMatchObject({ op: 'LODS', size: 1, segOverride: 0 });
    // 14 prefixes and a one-byte opcode is exactly 15 bytes: valid.
    expect(dec(32, `${'66 '.repeat(14)}90`)).toMatchObject({ op: 'NOP', length: 15 });
  });

  it('operation size: 1 for byte forms, else the operand size', () => {
    expect(dec(32, '88 c0').size).toBe(1);
    expect(dec(32, '0f b6 c0').size).toBe(4);
    expect(dec(32, 'e6 10').size).toBe(1);
    expect(dec(32, 'ee').size).toBe(1);
    expect(dec(32, 'ef').size).toBe(4);
    expect(dec(32, '66 ef').size).toBe(2);
    expect(dec(32, 'd2 e0').size).toBe(1);
    expect(dec(32, 'd7')).toMatchObject({ op: 'XLAT', size: 1 });
  });

  it('#UD rules: LOCK, register forms of memory-only operands, MOV CS, segment registers 6 and 7', () => {
    expect(dec(32, 'f0 01 00')).toMatchObject({ op: 'ADD', prefixes: PREFIX_LOCK });
    expect(dec(32, 'f0 87 03').op).toBe('XCHG');
    expect(dec(32, 'f0 0f c7 0e').op).toBe('CMPXCHG8B');
    for (const s of ['f0 01 c0', 'f0 0f a3 00', 'f0 39 00', 'f0 8b 00', 'f0 90', 'f0 f6 00 01', 'f0 ff 30', 'f0 0f ba 20 01']) {
      expect(dec(32, s).op, s).toBe('INVALID');
    }
    for (const s of ['8d c0', 'c4 c0', 'c5 c0', '62 c0', 'ff d8', 'ff e8', '0f b2 c0', '0f c7 c8', '0f 01 c0', '0f 01 f8',
      '0f 01 d0', '8e c8', '8e f0', '8c f8', 'fe d0', 'ff f8', '8f c8', 'c6 c8 00', 'd6', '0f 04', '0f ff']) {
      expect(dec(32, s).op, s).toBe('INVALID');
    }
    // A rejected instruction still has its full length (for disassembly).
    expect(dec(32, 'f0 81 c0 01 00 00 00')).toMatchObject({ op: 'INVALID', length: 7 });
    expect(dec(32, '0f 0b').op).toBe('UD2');
    expect(dec(32, '0f 01 c1').op).toBe('VMCALL');
    expect(dec(32, '0f 20 00')).toMatchObject({ op: 'MOV', length: 3, operands: [{ kind: 'reg', size: 4, reg: 0 }, { kind: 'creg', reg: 0 }] });
    expect(dec(32, '8e d0')).toMatchObject({ op: 'MOV', operands: [{ kind: 'sreg', reg: SS }, { kind: 'reg', reg: 0 }] });
  });

  it('instructions longer than 15 bytes are INVALID with length 15, without reading byte 16', () => {
    const bytes = hex(`${'26 '.repeat(5)}81 84 24 11 22 33 44 55 66 77 88`);
    let highest = -1;
    const ins = decode((i) => { highest = Math.max(highest, i); return bytes[i]; }, 32);
    expect(ins).toMatchObject({ op: 'INVALID', length: 15 });
    expect(highest).toBe(14);
    expect(dec(32, `${'66 '.repeat(15)}90`)).toMatchObject({ op: 'INVALID', length: 15 });
  });

  it('fetch errors propagate; decodeBytes reports running off the end', () => {
    class FetchFault extends Error {}
    expect(() => decode(() => { throw new FetchFault('page fault'); }, 32)).toThrow(FetchFault);
    expect(() => decode((i) => { if (i === 2) throw new FetchFault('at 2'); return [0x8b, 0x80][i]; }, 32)).toThrow(FetchFault);
    // The decoder is usable again after a fault.
    expect(dec(32, '90').op).toBe('NOP');
    expect(() => decodeBytes(hex('8b 80 00'), 0, 32)).toThrow(DecodeError);
    expect(decodeBytes(hex('90 90 8b c0'), 2, 32)).toMatchObject({ op: 'MOV', length: 2 });
  });

  it('records opcode and ModRM', () => {
    expect(dec(32, '0f 01 15 00 10 00 00')).toMatchObject({ op: 'LGDT', opcode: 0x0f01, modrm: 0x15 });
    expect(dec(32, '90')).toMatchObject({ opcode: 0x90, modrm: -1 });
    expect(dec(32, 'f1').op).toBe('INT1');
    expect(dec(32, 'd9 e8')).toMatchObject({ op: 'FLD1', opcode: 0xd9, modrm: 0xe8 });
  });

  it('formats without an address as $-relative', () => {
    expect(formatIntel(dec(32, 'eb fe'))).toBe('jmp $+0x0');
    expect(formatIntel(dec(32, 'e8 00 00 00 00'))).toBe('call $+0x5');
    expect(formatIntel(dec(32, 'eb fe'), 0x1000)).toBe('jmp 0x1000');
  });
});
