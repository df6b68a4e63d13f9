// Comparing the host's and the emulator's results for one case, and describing a mismatch for humans.
import {
  AF, CF, CODE_ADDR, COMPARED_FLAGS, DATA_ADDR, DF, ESP, LOW_ADDR, hex, NT, OF, type OracleCase, type OracleResult, PF, REG_NAMES, SEGV_VECTORS, SF, STACK_ADDR, WINDOW, ZF,
} from './layout.ts';

/** Bytes below the faulting ESP the emulator's exception frame overwrites (the host's signal frame goes elsewhere). */
const FRAME_BYTES = 16;

const FLAG_NAMES: [number, string][] = [[CF, 'CF'], [PF, 'PF'], [AF, 'AF'], [ZF, 'ZF'], [SF, 'SF'], [DF, 'DF'], [OF, 'OF'], [NT, 'NT']];
export function flagNames(bits: number): string {
  const names = FLAG_NAMES.filter(([b]) => bits & b).map(([, n]) => n);
  const other = bits & ~FLAG_NAMES.reduce((s, [b]) => s | b, 0);
  if (other) names.push(`0x${hex(other, 1)}`);
  return names.join(' ') || '-';
}

/** The differences between host and emulator, ignoring what the SDM leaves undefined. Empty: they agree. */
export function diffResults(c: OracleCase, host: OracleResult, emu: OracleResult): string[] {
  if (host.error) return [host.error];
  if (emu.error) return [emu.error];
  const d: string[] = [];
  const sameOutcome = host.vector === emu.vector || (host.vector === SEGV_VECTORS && SEGV_CLASS.includes(emu.vector));
  if (!sameOutcome) d.push(`outcome: host ${outcome(host)}, emulator ${outcome(emu)}`);
  if (host.eip !== emu.eip) d.push(`eip: host ${hex(host.eip)} emulator ${hex(emu.eip)}`);
  const completed = host.vector === -1;
  for (let i = 0; i < 8; i++) {
    const mask = completed ? ~c.undefRegs[i] : -1;
    if ((host.regs[i] ^ emu.regs[i]) & mask) d.push(`${REG_NAMES[i]}: host ${hex(host.regs[i])} emulator ${hex(emu.regs[i])}`);
  }
  const fmask = COMPARED_FLAGS & ~(completed ? c.undefFlags : 0);
  const fd = (host.eflags ^ emu.eflags) & fmask;
  if (fd) d.push(`eflags ${flagNames(fd)}: host ${hex(host.eflags)} emulator ${hex(emu.eflags)}`);
  const bytes = (name: string, base: number, input: Uint8Array, h: Uint8Array, e: Uint8Array, skip: (a: number) => boolean) => {
    if (Buffer.compare(h, e) === 0) return;
    const at: string[] = [];
    for (let i = 0; i < WINDOW; i++) {
      if (h[i] !== e[i] && !skip(base + i)) at.push(`${hex(base + i)}: ${hex(input[i], 2)}/${hex(h[i], 2)}/${hex(e[i], 2)}`);
    }
    if (at.length) d.push(`${name} (input/host/emulator) ${at.slice(0, 8).join(', ')}${at.length > 8 ? ` … ${at.length} bytes` : ''}`);
  };
  bytes('data', DATA_ADDR, c.data, host.data, emu.data, () => false);
  bytes('low', LOW_ADDR, c.low, host.low, emu.low, () => false);
  const sp = host.regs[ESP];
  bytes('stack', STACK_ADDR, c.stack, host.stack, emu.stack, (a) => !completed && a >= sp - FRAME_BYTES && a < sp);
  return d;
}

/** The exceptions Linux reports as SIGSEGV (or SIGBUS) in user mode: #OF, #BR, #NP, #SS, #GP. */
const SEGV_CLASS = [4, 5, 11, 12, 13];

function outcome(r: OracleResult): string {
  return r.vector === -1 ? 'completed' : r.vector === SEGV_VECTORS ? 'SIGSEGV (#OF, #BR, #NP, #SS or #GP)' : `exception ${r.vector}`;
}

export function describeState(regs: Uint32Array, eflags: number): string {
  return `${REG_NAMES.map((n, i) => `${n}=${hex(regs[i])}`).join(' ')} eflags=${hex(eflags)} [${flagNames(eflags & 0xcd5)}]`;
}

/** A multi-line report of one mismatch. */
export function describeMismatch(seed: number, c: OracleCase, host: OracleResult, emu: OracleResult, diffs: string[], disasm?: string): string {
  const lines = [
    `case ${c.index} (seed ${seed >>> 0}, X86JIT_SEED=${seed >>> 0}): ${c.form}`,
    `  code:      ${Buffer.from(c.code).toString('hex').replace(/(..)/g, '$1 ').trim()}${disasm ? `   ; ${disasm}` : ''}`,
    `  input:     ${describeState(c.regs, c.eflags)}`,
    `  host:      ${outcome(host)} eip=${hex(host.eip)} ${describeState(host.regs, host.eflags)}`,
    `  emulator:  ${outcome(emu)} eip=${hex(emu.eip)} ${describeState(emu.regs, emu.eflags)}`,
    `  undefined: flags [${flagNames(c.undefFlags)}]${c.undefRegs.some((m) => m) ? ` regs ${REG_NAMES.map((n, i) => (c.undefRegs[i] ? `${n}&${hex(c.undefRegs[i])}` : '')).filter(Boolean).join(' ')}` : ''}`,
    ...diffs.map((x) => `  differs:   ${x}`),
  ];
  return lines.join('\n');
}

/** Bytes that can prefix an instruction (lock/rep, segment overrides, operand and address size). */
const PREFIXES = new Set([0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67]);

/** The prefixes of the instruction at `eip` in the case's code. */
function prefixesAt(c: OracleCase, eip: number): number[] {
  const out: number[] = [];
  for (let i = eip - CODE_ADDR; i >= 0 && i < c.code.length && PREFIXES.has(c.code[i]); i++) out.push(c.code[i]);
  return out;
}

/**
 * Where qemu-i386 (7.2, the oracle on machines that run no 32-bit code) is known to depart from the CPU,
 * the reason; else null. Only for a mismatching case, and only where the emulator did what the SDM says:
 * - a write through a CS override completes under QEMU (user mode checks no segment rights); the CPU raises
 *   #GP(0): code segments are not writable (SDM Vol. 3A 5.4);
 * - LOCK on MOV completes under QEMU; the CPU raises #UD (LOCK is only for the read-modify-write forms);
 * - BSWAP of a 16-bit register swaps all 32 bits under QEMU; on the CPU the low half is undefined and the
 *   high half is kept.
 */
export function qemuDeparture(c: OracleCase, host: OracleResult, emu: OracleResult): string | null {
  if (host.vector === -1 && emu.vector === 13 && prefixesAt(c, emu.eip).includes(0x2e)) return 'write through CS';
  if (host.vector === -1 && emu.vector === 6 && prefixesAt(c, emu.eip).includes(0xf0) && c.form.includes('LOCK MOV')) return 'LOCK MOV';
  if (host.vector === -1 && emu.vector === -1 && c.form.includes('BSWAP r16')) {
    const others = diffResults(c, host, { ...emu, regs: host.regs });
    if (others.length === 0) return 'BSWAP r16';
  }
  return null;
}
