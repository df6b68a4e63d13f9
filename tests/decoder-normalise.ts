// How x86jit's decoder + formatIntel output is compared with GNU objdump 2.40 `-M intel` (used by the
// objdump oracle and the text vectors). Every difference we accept is a row in one of the tables below,
// with the reason; nothing else is normalised.
import { decodeBytes } from '../src/decoder/decode.ts';
import { formatIntel } from '../src/decoder/format-intel.ts';
import { type Instruction, PREFIX_LOCK, PREFIX_OPSIZE, PREFIX_REPNE } from '../src/decoder/instruction.ts';

/**
 * Words objdump prints before the mnemonic. objdump prints every prefix byte it sees (`cs ds mov ...`,
 * `rep repnz movs`) while formatIntel prints the prefixes that take effect, so both sides are reduced to:
 * LOCK present, the last of F2/F3, the last unused segment override.
 */
export const PREFIX_WORDS: Record<string, { kind: 'lock' | 'rep' | 'seg' | 'ignore'; value: string; why: string }> = {
  lock: { kind: 'lock', value: 'lock', why: 'F0' },
  rep: { kind: 'rep', value: 'F3', why: 'F3 on MOVS/STOS/LODS/INS/OUTS' },
  repz: { kind: 'rep', value: 'F3', why: 'F3 elsewhere' },
  repe: { kind: 'rep', value: 'F3', why: 'SDM spelling of F3 on CMPS/SCAS' },
  repnz: { kind: 'rep', value: 'F2', why: 'F2' },
  repne: { kind: 'rep', value: 'F2', why: 'SDM spelling of F2' },
  bnd: { kind: 'rep', value: 'F2', why: 'objdump names F2 on a branch after MPX (BND); the i486 ignores it' },
  xacquire: { kind: 'rep', value: 'F2', why: 'objdump names F2 on a LOCKed instruction after TSX HLE; the i486 ignores it' },
  xrelease: { kind: 'rep', value: 'F3', why: 'objdump names F3 on LOCK/MOV-to-memory after TSX HLE; the i486 ignores it' },
  notrack: { kind: 'seg', value: 'ds', why: 'objdump names 3E on an indirect CALL/JMP after CET; it is a DS override. ' +
    'objdump then drops the override from the operand and mislabels the other segment words, so with `notrack` segments are not compared' },
  cs: { kind: 'seg', value: 'cs', why: 'unused override' },
  ds: { kind: 'seg', value: 'ds', why: 'unused override' },
  es: { kind: 'seg', value: 'es', why: 'unused override' },
  ss: { kind: 'seg', value: 'ss', why: 'unused override' },
  fs: { kind: 'seg', value: 'fs', why: 'unused override' },
  gs: { kind: 'seg', value: 'gs', why: 'unused override' },
  data16: { kind: 'ignore', value: '', why: 'objdump notes a 66 prefix it considers to have no effect; formatIntel does not' },
  data32: { kind: 'ignore', value: '', why: 'as data16' },
  addr16: { kind: 'ignore', value: '', why: 'objdump notes a 67 prefix it considers to have no effect' },
  addr32: { kind: 'ignore', value: '', why: 'as addr16' },
};

/**
 * objdump mnemonic spellings that differ from formatIntel's. Conditions: mode (code size), operands
 * (objdump's operand text), opcode (ours). `rep` adds the F3 prefix objdump folded into the name.
 */
export interface Spelling { objdump: string; ours: string; mode?: 16 | 32; operands?: string; oursOperands?: string; opcode?: number; rep?: 'F3'; why: string }
export const SPELLINGS: readonly Spelling[] = [
  ...['pusha', 'popa', 'pushf', 'popf', 'iret'].flatMap((f): Spelling[] => [
    { objdump: `${f}w`, ours: f, why: 'objdump suffixes a 16-bit operand size in 32-bit code with w; the SDM name has no suffix' },
    { objdump: f, mode: 32, ours: `${f}d`, why: 'objdump leaves the default size unsuffixed; the SDM names the 32-bit form with D' },
  ]),
  { objdump: 'pause', ours: 'nop', rep: 'F3', why: 'F3 90 is PAUSE from the Pentium 4 on; an i486 executes REP NOP' },
  { objdump: 'xchg', operands: 'ax,ax', opcode: 0x90, ours: 'nop', oursOperands: '', why: 'SDM: 66 90 is the two-byte NOP' },
  { objdump: 'xchg', operands: 'eax,eax', opcode: 0x90, ours: 'nop', oursOperands: '', why: 'SDM: 66 90 is the two-byte NOP' },
  { objdump: 'wbnoinvd', ours: 'wbinvd', rep: 'F3', why: 'F3 0F 09 is WBNOINVD on Ice Lake; an i486 ignores F3 on WBINVD' },
  { objdump: 'tzcnt', ours: 'bsf', rep: 'F3', why: 'F3 0F BC is TZCNT with BMI1; an i486 ignores F3 on BSF' },
  { objdump: 'lzcnt', ours: 'bsr', rep: 'F3', why: 'F3 0F BD is LZCNT with ABM; an i486 ignores F3 on BSR' },
];

/** Notes objdump appends to some x87 mnemonics (`fneni(8087 only)`), dropped before comparing. */
export const ANNOTATIONS = ['(8087 only)', '(287 only)'];

/**
 * Opcodes outside the i386/i486 integer + x87 subset that objdump knows: we decode them as INVALID (#UD),
 * and the oracle counts them per category instead of comparing. A case lands here only if our decoder
 * said INVALID and the instruction matches the predicate.
 */
export interface OutsideCategory { name: string; matches: (ins: Instruction, bytes: Uint8Array) => boolean }
const in0F = (ins: Instruction, ...ranges: [number, number][]): boolean =>
  ins.opcode >= 0x0f00 && ranges.some(([lo, hi]) => (ins.opcode & 0xff) >= lo && (ins.opcode & 0xff) <= hi);
const mod = (ins: Instruction): number => ins.modrm >> 6;
const regf = (ins: Instruction): number => (ins.modrm >> 3) & 7;
export const OUTSIDE_SUBSET: readonly OutsideCategory[] = [
  { name: 'MMX/SSE/SSE2+/3DNow! (0F 0D-0F 10-17 28-2F 38 3A 50-77 7C-7F C2-C6 D0-FE)',
    matches: (i) => in0F(i, [0x0d, 0x0f], [0x10, 0x17], [0x28, 0x2f], [0x38, 0x38], [0x3a, 0x3a], [0x50, 0x77], [0x7c, 0x7f], [0xc2, 0xc6], [0xd0, 0xfe]) },
  { name: 'hint NOP / PREFETCH / MPX / CET space (0F 18-1E)', matches: (i) => in0F(i, [0x18, 0x1e]) },
  { name: 'P5/P6 system (0F 05 SYSCALL, 07 SYSRET, 33 RDPMC, 34 SYSENTER, 35 SYSEXIT, 37 GETSEC, AA RSM)',
    matches: (i) => in0F(i, [0x05, 0x05], [0x07, 0x07], [0x33, 0x35], [0x37, 0x37], [0xaa, 0xaa]) },
  { name: 'MOV to/from test registers TRn (0F 24, 0F 26)', matches: (i) => in0F(i, [0x24, 0x24], [0x26, 0x26]) },
  { name: 'VMX VMREAD/VMWRITE (0F 78, 79)', matches: (i) => in0F(i, [0x78, 0x79]) },
  { name: 'group 15: FXSAVE, LDMXCSR, fences, ... (0F AE)', matches: (i) => in0F(i, [0xae, 0xae]) },
  { name: 'POPCNT/UD1/UD0 (0F B8, B9, FF)', matches: (i) => in0F(i, [0xb8, 0xb9], [0xff, 0xff]) },
  { name: 'VIA PadLock (0F A6, A7)', matches: (i) => in0F(i, [0xa6, 0xa7]) },
  { name: '0F 01 register forms besides VMCALL/SMSW/LMSW (VMX, SVM, MONITOR, XGETBV, RDTSCP, ...)',
    matches: (i) => i.opcode === 0x0f01 && mod(i) === 3 },
  { name: 'CET RSTORSSP (F3 0F 01 /5 m64)', matches: (i) => i.opcode === 0x0f01 && mod(i) !== 3 && regf(i) === 5 },
  { name: '0F C7 other than CMPXCHG8B m64 (RDRAND, RDSEED, VMPTRLD, XSAVES, ...)', matches: (i) => i.opcode === 0x0fc7 && (mod(i) === 3 || regf(i) !== 1) },
  { name: 'VEX/EVEX prefixes (C4, C5, 62 followed by ModRM.mod = 3)', matches: (i) => [0xc4, 0xc5, 0x62].includes(i.opcode) && mod(i) === 3 },
  { name: 'SSE3 x87: FISTTP (DB, DD, DF /1)',
    matches: (i) => (i.opcode === 0xdb || i.opcode === 0xdd || i.opcode === 0xdf) && mod(i) !== 3 && regf(i) === 1 },
  { name: 'TSX XABORT/XBEGIN (C6 F8, C7 F8)', matches: (i) => (i.opcode === 0xc6 || i.opcode === 0xc7) && i.modrm === 0xf8 },
  { name: 'AMD XOP (8F with ModRM.reg != 0)', matches: (i) => i.opcode === 0x8f && regf(i) !== 0 },
  { name: 'AMD LOCK MOV CR0 = MOV CR8 (F0 0F 20/22)', matches: (i) => (i.opcode === 0x0f20 || i.opcode === 0x0f22) && (i.prefixes & PREFIX_LOCK) !== 0 },
];

/**
 * Valid i486 instructions that objdump rejects as (bad) because a later CPU gave the prefix a meaning
 * (66/F2 0F 09 next to WBNOINVD, F2 0F BC/BD next to TZCNT/LZCNT); the i486 ignores the prefix.
 */
export const OBJDUMP_REJECTS: readonly { name: string; matches: (ins: Instruction) => boolean }[] = [
  { name: 'WBINVD with 66 or F2 (objdump: (bad))', matches: (i) => i.opcode === 0x0f09 && (i.prefixes & (PREFIX_OPSIZE | PREFIX_REPNE)) !== 0 },
  { name: 'BSF/BSR with F2 (objdump: (bad))', matches: (i) => (i.opcode === 0x0fbc || i.opcode === 0x0fbd) && (i.prefixes & PREFIX_REPNE) !== 0 },
];

/**
 * SDM LOCK page: the instructions LOCK may prefix, and only with a memory destination. objdump prints
 * `lock` on anything, so this list (not objdump) is what decides, for instructions objdump decodes.
 */
export const LOCKABLE = new Set(['add', 'adc', 'and', 'btc', 'btr', 'bts', 'cmpxchg', 'cmpxchg8b', 'dec', 'inc', 'neg', 'not', 'or', 'sbb', 'sub', 'xor', 'xadd', 'xchg']);
const lockable = (p: Parsed): boolean => LOCKABLE.has(p.mnemonic) && /^(\w+ PTR |[c-gs]s:0x|[c-gs]s:\[|\[)/.test(p.operands.split(',')[0]);

/** Instructions in the subset that we reject on purpose while objdump prints them: compared by length. */
export const DELIBERATE_UD = {
  lock: 'LOCK on an instruction that does not allow it (or with a register destination): #UD; objdump prints `lock`',
  movCs: 'MOV CS, r/m: #UD; objdump prints `mov cs,...`',
  sreg67: 'segment register 6/7 in MOV Sreg: #UD; objdump prints `?`',
} as const;

export interface Parsed { lock: boolean; rep: string; seg: string; notrack: boolean; mnemonic: string; operands: string; prefixCount: number }

/** Split objdump (or formatIntel) text into prefix words, mnemonic and operand text. */
export function parseText(text: string): Parsed {
  let t = text;
  if (t.includes('only)')) for (const a of ANNOTATIONS) t = t.replace(a, '');
  const words = t.trim().split(/ +/);
  const p: Parsed = { lock: false, rep: '', seg: '', notrack: false, mnemonic: '', operands: '', prefixCount: 0 };
  let i = 0;
  for (; i < words.length; i++) {
    const w = PREFIX_WORDS[words[i]];
    if (w === undefined) break;
    p.prefixCount++;
    if (w.kind === 'lock') p.lock = true;
    else if (w.kind === 'rep') p.rep = w.value;
    else if (w.kind === 'seg') p.seg = w.value;
    if (words[i] === 'notrack') p.notrack = true;
  }
  p.mnemonic = words[i] ?? '';
  p.operands = words.slice(i + 1).join(' ');
  return p;
}

/** objdump's text with the SPELLINGS applied, in formatIntel's terms (`opcode`: our decoding's). */
export function normaliseObjdump(text: string, bits: 16 | 32, opcode = -1): Parsed {
  const p = parseText(text);
  for (const s of SPELLINGS) {
    if (s.objdump === p.mnemonic && (s.mode === undefined || s.mode === bits) &&
      (s.operands === undefined || s.operands === p.operands) && (s.opcode === undefined || s.opcode === opcode)) {
      p.mnemonic = s.ours;
      if (s.oursOperands !== undefined) p.operands = s.oursOperands;
      if (s.rep) p.rep = s.rep;
      break;
    }
  }
  return p;
}

export type Verdict =
  | { kind: 'agree' }
  | { kind: 'both-invalid' }
  | { kind: 'outside'; category: string }
  | { kind: 'deliberate'; category: string }
  | { kind: 'objdump-rejects'; category: string }
  | { kind: 'objdump-prefix-limit' }
  | { kind: 'disagree'; reason: string };

const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
export { hexBytes };

/** Compare the parsed forms; returns a reason string or '' when they match. */
function compareParsed(ours: Parsed, theirs: Parsed, ins: Instruction, bits: 16 | 32): string {
  if (ours.mnemonic !== theirs.mnemonic) return 'mnemonic';
  if (ours.lock !== theirs.lock) return 'lock prefix';
  if (ours.rep !== theirs.rep) return 'rep prefix';
  // objdump also prints the overrides that a later one superseded; only an override that no operand shows is compared.
  if (!theirs.notrack && ours.seg !== '' && ours.seg !== theirs.seg) return 'unused segment prefix';
  if (ours.operands === theirs.operands) return '';
  const noSeg = (t: string): string => t.replace(/\b[c-gs]s:/g, '');
  if (theirs.notrack && noSeg(ours.operands) === noSeg(theirs.operands)) return '';
  // Branch targets: objdump wraps them at 64 KiB in 16-bit code and ignores 66 on short jumps (prints data16);
  // compare modulo 2^16 whenever either side could wrap.
  if (ins.operands.length === 1 && ins.operands[0].kind === 'rel' && /^0x[0-9a-f]+$/.test(theirs.operands)) {
    const mask = bits === 16 || ins.opsize === 16 ? 0xffff : 0xffffffff;
    if (((parseInt(ours.operands, 16) ^ parseInt(theirs.operands, 16)) & mask) === 0) return '';
  }
  return 'operands';
}

/**
 * Judge our decoding of `bytes` (exactly ins.length bytes, at `address`) against objdump's line for the
 * same address: its text and the length it consumed.
 */
export function judge(bytes: Uint8Array, bits: 16 | 32, address: number, ins: Instruction, objText: string, objLength: number): Verdict {
  const theirs = normaliseObjdump(objText, bits, ins.opcode);
  const objBad = theirs.mnemonic === '(bad)';
  // Near the 15-byte limit objdump prints a line of prefixes alone (after 14 prefixes, or when the
  // instruction would run past 15 bytes); ours is then a 15-byte instruction or INVALID (too long).
  if (theirs.mnemonic === '' && (theirs.prefixCount >= 14 || (ins.op === 'INVALID' && ins.length === 15))) return { kind: 'objdump-prefix-limit' };
  if (ins.op === 'INVALID') {
    if (objBad) return { kind: 'both-invalid' };
    for (const c of OUTSIDE_SUBSET) if (c.matches(ins, bytes)) return { kind: 'outside', category: c.name };
    if (objLength !== ins.length) return { kind: 'disagree', reason: `we say INVALID (length ${ins.length}), objdump decodes ${objLength} bytes` };
    if (theirs.mnemonic === 'mov' && /(^|,)cs,/.test(theirs.operands) && ins.opcode === 0x8e) return { kind: 'deliberate', category: DELIBERATE_UD.movCs };
    if (theirs.mnemonic === 'mov' && /(^|,)\?(,|$)/.test(theirs.operands)) return { kind: 'deliberate', category: DELIBERATE_UD.sreg67 };
    if (theirs.lock) {
      // Without the F0 bytes the instruction must decode to exactly what objdump printed (minus `lock`).
      const prefixLen = countPrefixes(bytes);
      const kept = [...bytes.subarray(0, prefixLen)].filter((b) => b !== 0xf0);
      const removed = prefixLen - kept.length;
      const stripped = Uint8Array.from([...kept, ...bytes.subarray(prefixLen)]);
      const plain = decodeBytes(stripped, 0, bits);
      if (plain.op === 'INVALID' || plain.length !== stripped.length) return { kind: 'disagree', reason: 'INVALID with LOCK, and still INVALID without it' };
      if (lockable(theirs)) return { kind: 'disagree', reason: 'INVALID, but LOCK is allowed here' };
      const ours = parseText(formatIntel(plain, address + removed));
      const why = compareParsed(ours, { ...theirs, lock: false }, plain, bits);
      if (why) return { kind: 'disagree', reason: `LOCK-stripped decoding differs (${why}): ${formatIntel(plain, address + removed)}` };
      return { kind: 'deliberate', category: DELIBERATE_UD.lock };
    }
    return { kind: 'disagree', reason: 'we say INVALID, objdump decodes it' };
  }
  if (objBad) {
    for (const r of OBJDUMP_REJECTS) if (r.matches(ins)) return { kind: 'objdump-rejects', category: r.name };
    return { kind: 'disagree', reason: 'objdump says (bad), we decode it' };
  }
  if (objLength !== ins.length) return { kind: 'disagree', reason: `length ${ins.length} vs objdump ${objLength}` };
  // 0F 1E: a NOP Ev for us (F3 0F 1E FB is ENDBR32, a NOP without CET, all over glibc's code); objdump names
  // the CET forms (endbr32, rdsspd) and prints the rest as nop. Same length: counted in the hint-NOP space.
  if (ins.op === 'NOP' && ins.opcode === 0x0f1e && theirs.mnemonic !== 'nop') return { kind: 'outside', category: OUTSIDE_SUBSET[1].name };
  const why = compareParsed(parseText(formatIntel(ins, address)), theirs, ins, bits);
  if (why) return { kind: 'disagree', reason: why };
  if (theirs.lock && !lockable(theirs)) return { kind: 'disagree', reason: 'decoded with LOCK, but LOCK is not allowed here' };
  return { kind: 'agree' };
}

const PREFIX_BYTES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);
export function countPrefixes(bytes: Uint8Array): number {
  let n = 0;
  while (n < bytes.length && PREFIX_BYTES.has(bytes[n])) n++;
  return n;
}

/**
 * Fields objdump's text does not show, checked against what it does show (for instructions that agree):
 * the default segment (SDM Vol. 1 3.7.5: SS when the base register is (E)BP or ESP, else DS: objdump writes the
 * base first inside the brackets) and Instruction.size (1 exactly when the first register/memory operand is
 * a byte register or BYTE PTR). Returns a reason or ''.
 */
export function checkHiddenFields(ins: Instruction, text: string): string {
  if (ins.opcode >= 0xd8 && ins.opcode <= 0xdf) return '';
  for (const o of ins.operands) {
    if (o.kind !== 'mem' || ins.segOverride >= 0) continue;
    const inside = /\[([a-z]+)/.exec(text);
    const stackBase = inside !== null && /^(bp|ebp|esp)$/.test(inside[1]) && !text.includes(`[${inside[1]}*`);
    if (o.seg !== (stackBase ? 2 : 3)) return `default segment ${o.seg} for ${text}`;
  }
  if (ins.op === 'INVLPG') return ''; // no access size: the address only names a page
  const ops = parseText(text).operands.split(',');
  // A moffs destination (`mov ds:0x10,al`) shows no size: the register beside it does.
  const first = /^[c-gs]s:0x/.test(ops[0]) ? ops[1] : ops[0];
  if (first === '' || /^(0x|\$|dx$|[c-gs]s$|cr|dr|st)/.test(first)) return '';
  const byte = /^(BYTE PTR|[a-d][lh]$)/.test(first);
  return byte === (ins.size === 1) ? '' : `size ${ins.size} for ${text}`;
}
