// The long-mode oracle harness: 32-bit snippets re-encoded as 64-bit code (tests/oracle/long64.ts) and run
// natively where no 32-bit code runs. Checked two ways: GNU objdump decodes each re-encoding (x86-64) as the
// same instructions the 32-bit snippet is (i386), and where a native 32-bit harness also runs, both
// harnesses give the same results for every case the re-encoder accepts. On x86-64 Linux under .ci/run
// (X86JIT_CI=1) the long-mode harness must run.
import { describe, expect, it } from 'vitest';
import { diffResults } from './oracle/compare.ts';
import { DEFAULT_SEED, generateCases } from './oracle/generate.ts';
import { type Harness, harnessOfKind, long64Form, prebuiltHarness, runOnHost } from './oracle/host.ts';
import { CODE_ADDR, type OracleCase, STACK_ADDR, WINDOW } from './oracle/layout.ts';
import { type Long64Code, offset32, reencodeLong64 } from './oracle/long64.ts';
import { disassemble, disassemble64, objdumpAvailable } from './oracle/objdump.ts';

const hasObjdump = objdumpAvailable();
const ON_X64_LINUX = process.platform === 'linux' && process.arch === 'x64';
const long64 = ON_X64_LINUX ? harnessOfKind('long64') : { reason: 'not x86-64 Linux' };
const LONG_REQUIRED = ON_X64_LINUX && process.env.X86JIT_CI === '1';
const skipLong = !long64.harness && !LONG_REQUIRED;
// A native 32-bit harness to compare with: the i386 one, else the compatibility-mode one.
const native32 = long64.harness ? (harnessOfKind('i386').harness ?? harnessOfKind('compat').harness) : undefined;

function caseOf(code: number[]): OracleCase {
  return {
    index: 0, mnemonic: 'hand', form: 'hand', code: Uint8Array.from(code), code16: false,
    regs: Uint32Array.of(0, 0, 0, 0, STACK_ADDR + 0x80, 0, 0, 0), eflags: 0x202,
    data: new Uint8Array(WINDOW), stack: new Uint8Array(WINDOW), low: new Uint8Array(WINDOW), undefFlags: 0, undefRegs: new Uint32Array(8),
  };
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const hexBytes = (h: string) => [...Buffer.from(h, 'hex')];
const encode = (code: number[], lahfSahf = true) => {
  const r = reencodeLong64(caseOf(code), { lahfSahf });
  return typeof r === 'string' ? r : hex(r.code);
};

/** objdump's Intel text of one instruction, made comparable across the two modes. */
function normalise(text: string): string {
  // Prefix words (segment overrides that change nothing in a flat or 64-bit space, the address size the
  // re-encoding adds) and the brackets objdump puts around an absolute address in 64-bit mode only.
  return text.replace(/\b(ss|ds|es|cs|addr16|addr32) /g, '').replace(/\b(ds|ss|es):/g, '').replace(/\s+#.*$/, '')
    .replace(/\[(?:eiz\*1\+)?(0x[0-9a-f]+)\]/g, '$1').replace(/\b(j[a-z]+|loop[a-z]*) 0x[0-9a-f]+/, '$1 T').trim();
}

describe('long-mode re-encoding (tests/oracle/long64.ts)', () => {
  it('applies each rule', () => {
    expect(encode([0x01, 0xd8])).toBe('01d8'); // add eax, ebx: unchanged
    expect(encode([0x66, 0x01, 0x43, 0x10])).toBe('66670143' + '10'); // add [ebx+0x10], ax: 67h
    expect(encode([0x8b, 0x05, 0x00, 0x00, 0x20, 0x00])).toBe('678b042500002000'); // mov eax, [0x200000]: SIB, no base/index
    expect(encode([0x40, 0x4f, 0x66, 0x41])).toBe('ffc0ffcf66ffc1'); // inc eax; dec edi; inc cx
    expect(encode([0x82, 0xc4, 0x01])).toBe('80c401'); // add ah, 1 (82 alias)
    expect(encode([0xf3, 0xa4])).toBe('f367a4'); // rep movsb: ESI/EDI/ECX
    expect(encode([0xa1, 0, 0, 0x20, 0])).toBe('67a100002000'); // mov eax, moffs32
    expect(encode([0xd7])).toBe('67d7'); // xlat: [EBX + AL]
    // Branch displacements follow the new lengths: jz over inc eax; backward loop over inc eax.
    expect(encode([0x74, 0x01, 0x40])).toBe('7402ffc0');
    expect(encode([0x40, 0xe2, 0xfd])).toBe('ffc067e2fb');
    expect(encode([0xe3, 0x01, 0x40])).toBe('67e302ffc0'); // jecxz
    expect(encode([0x9f], true)).toBe('9f');
    expect(encode([0x9f], false)).toMatch(/LAHF/);
    for (const code of [[0x50], [0x58], [0x9c], [0x9d], [0xe8, 0, 0, 0, 0], [0xc3], [0x27], [0x37], [0xd4, 0x0a], [0xce],
      [0x62, 0x03], [0x60], [0x8e, 0xd8], [0x64, 0x8b, 0x03], [0x2e, 0x89, 0x03], [0x67, 0x8b, 0x07], [0x67, 0xe2, 0xfe], [0x66, 0xeb, 0x00], [0xff, 0xe0], [0xcd, 0x80]]) {
      expect(encode(code), hex(Uint8Array.from(code))).not.toMatch(/^[0-9a-f]+$/);
    }
    // The boundaries map a 64-bit stopping offset back to the 32-bit one.
    const r = reencodeLong64(caseOf([0x40, 0x8b, 0x05, 0, 0, 0x20, 0, 0xcc]), { lahfSahf: true }) as Long64Code;
    expect(r.boundaries32).toEqual([0, 1, 7, 8]);
    expect(r.boundaries64).toEqual([0, 2, 10, 11]);
    expect([offset32(r, 11), offset32(r, 10), offset32(r, 3)]).toEqual([8, 7, -1]);
  });

  it.skipIf(!hasObjdump)('objdump decodes every re-encoded snippet (x86-64) as the 32-bit one (i386)', () => {
    const cases = generateCases(DEFAULT_SEED, 0, 10_000);
    // Not the over-long ones (#GP): their bytes are kept as they are, and objdump splits them its own way.
    const pairs = cases.filter((c) => c.mnemonic !== '#GP').map((c) => [c, reencodeLong64(c, { lahfSahf: true })] as const).filter((p): p is readonly [OracleCase, Long64Code] => typeof p[1] !== 'string');
    expect(pairs.length).toBeGreaterThan(cases.length / 2);
    const d32 = disassemble(pairs.map(([c]) => c.code)), d64 = disassemble64(pairs.map(([, l]) => l.code));
    const bad: string[] = [];
    pairs.forEach(([c, l], i) => {
      // Only the instructions that run: up to the first invalid one (what follows it is never decoded).
      const a = d32[i].instructions.map((x) => normalise(x.text)), b = d64[i].instructions.map((x) => normalise(x.text));
      const stop = a.findIndex((t) => t.includes('(bad)'));
      const n = stop < 0 ? a.length : stop + 1;
      const same = a.slice(0, n).every((t, k) => t === b[k] || (t.includes('(bad)') && b[k]?.includes('(bad)')))
        && d64[i].instructions.slice(0, n).every((x, k) => x.offset === l.boundaries64[k]);
      if (!same || (stop < 0 && b.length !== a.length)) bad.push(`${c.form}: ${hex(c.code)} -> ${hex(l.code)}\n    ${a.join(' ; ')}\n    ${b.join(' ; ')}`);
    });
    expect(bad.slice(0, 10)).toEqual([]);
  });
});

describe('long-mode harness', () => {
  if (!long64.harness && !skipLong) console.warn(`oracle-long64: FAILING — the long-mode harness does not run: ${long64.reason}`);

  it.skipIf(skipLong)('runs, and its committed prebuilt binary is the current sources\' build', () => {
    if (!long64.harness) throw new Error(`the long-mode harness does not run on this x86-64 Linux host: ${long64.reason}`);
    const pre = prebuiltHarness('long64');
    expect(pre.reason).toBeUndefined();
    const cases = generateCases(DEFAULT_SEED, 0, 3000).filter((c) => typeof long64Form(c) !== 'string');
    const run = (h: Harness) => runOnHost(cases.map((c) => ({ ...c, code: (long64Form(c) as Long64Code).code })), h);
    const a = run(long64.harness), b = run(pre.harness!);
    const differ = cases.filter((c, i) => diffResults(c, a[i], b[i]).length).map((c) => c.form);
    expect(differ, 'tests/oracle/harness-long64.bin is stale: rebuild it with the command in tests/oracle/harness-long64.S').toEqual([]);
    // A hand-checked one: add eax, ebx; mov ecx, [0x200010]; int3 (a trap: EIP after it).
    const [r] = runOnHost([{ ...caseOf([0x01, 0xd8, 0x67, 0x8b, 0x0c, 0x25, 0x10, 0, 0x20, 0, 0xcc]), regs: Uint32Array.of(0x7fff_ffff, 0, 0, 1, STACK_ADDR + 0x80, 0, 0, 0), data: new Uint8Array(WINDOW).map((_, i) => i) }], long64.harness);
    expect([r.vector, r.eip, r.regs[0], r.regs[1]]).toEqual([3, CODE_ADDR + 11, 0x8000_0000, 0x1312_1110]);
    // Two forms where qemu-i386 departs from the CPU, here on the CPU: LOCK MOV [ebx], eax is #UD; BSWAP bx
    // keeps EBX's high half (its low half is undefined).
    const regs = Uint32Array.of(0, 0, 0, 0x0020_0010, STACK_ADDR + 0x80, 0, 0, 0);
    const [lockMov, bswap16] = runOnHost([
      { ...caseOf(hexBytes(encode([0xf0, 0x89, 0x03]))), regs },
      { ...caseOf(hexBytes(encode([0x66, 0x0f, 0xcb]))), regs },
    ], long64.harness);
    expect([lockMov.vector, lockMov.eip]).toEqual([6, CODE_ADDR]);
    expect([bswap16.vector, bswap16.regs[3] >>> 16]).toEqual([-1, 0x0020]);
  });

  it.skipIf(!long64.harness || !native32)('agrees with the native 32-bit harness on every case it can express', () => {
    const cases = generateCases(DEFAULT_SEED, 0, 20_000, { lowWindow: native32!.lowWindow, code16: native32!.code16 });
    const forms = cases.map(long64Form);
    const idx = cases.map((_, i) => i).filter((i) => typeof forms[i] !== 'string');
    const a = runOnHost(idx.map((i) => cases[i]), native32!);
    const b = runOnHost(idx.map((i) => ({ ...cases[i], code: (forms[i] as Long64Code).code })), long64.harness!);
    const bad: string[] = [];
    idx.forEach((i, k) => {
      const r = b[k], at = offset32(forms[i] as Long64Code, r.eip - CODE_ADDR);
      r.eip = at < 0 ? -1 : CODE_ADDR + at;
      const d = diffResults(cases[i], a[k], r);
      if (d.length) bad.push(`${cases[i].form}: ${hex(cases[i].code)} -> ${hex((forms[i] as Long64Code).code)}: ${d.join('; ')}`);
    });
    console.log(`oracle-long64: ${idx.length} of ${cases.length} cases run natively in long mode, compared with the ${native32!.kind} harness: ${bad.length} differ`);
    expect(bad.slice(0, 10)).toEqual([]);
  });
});
