// The CPU's state as lines of text, in the shape of QEMU's `info registers` / `-d cpu` dump (so the two
// can be compared by eye): general registers, EIP and EFLAGS, each segment's selector and descriptor
// cache (base, limit, attributes as the descriptor's high dword bits 8-23), the descriptor tables and
// the control registers. `x86jit run` prints it after a triple fault or an unsupported feature.
import type { Cpu } from './cpu.ts';
import { getEflags } from './flags.ts';
import {
  CF, CPL, CR0, CR2, CR3, CR4, DF, EAX, EBP, EBX, ECX, EDI, EDX, EIP, ESI, ESP, GDTR_BASE, GDTR_LIMIT, IDTR_BASE, IDTR_LIMIT, LDTR_SLOT, OF,
  PF, SEG_ATTR, SEG_BASE, SEG_LIMIT, SEG_SEL, segSlot, SF, TR_SLOT, ZF, AF,
} from './state.ts';

const h8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
const h4 = (v: number): string => (v & 0xffff).toString(16).padStart(4, '0');

/** Selector, base, limit and attributes of a segment cache whose four slots start at `slot`. */
function segmentLine(name: string, s: Int32Array, slot: number): string {
  return `${name.padEnd(3)}=${h4(s[slot + SEG_SEL])} ${h8(s[slot + SEG_BASE])} ${h8(s[slot + SEG_LIMIT])} ${h8((s[slot + SEG_ATTR] & 0xffff) << 8)}`;
}

export function formatCpuState(cpu: Cpu): string[] {
  const s = cpu.s, efl = getEflags(s);
  const flag = (bit: number, ch: string): string => (efl & bit ? ch : '-');
  return [
    `EAX=${h8(s[EAX])} EBX=${h8(s[EBX])} ECX=${h8(s[ECX])} EDX=${h8(s[EDX])}`,
    `ESI=${h8(s[ESI])} EDI=${h8(s[EDI])} EBP=${h8(s[EBP])} ESP=${h8(s[ESP])}`,
    `EIP=${h8(s[EIP])} EFL=${h8(efl)} [${flag(DF, 'D')}${flag(OF, 'O')}${flag(SF, 'S')}${flag(ZF, 'Z')}${flag(AF, 'A')}${flag(PF, 'P')}${flag(CF, 'C')}] CPL=${s[CPL]} HLT=${cpu.halted ? 1 : 0}`,
    ...['ES', 'CS', 'SS', 'DS', 'FS', 'GS'].map((name, i) => segmentLine(name, s, segSlot(i, 0))),
    segmentLine('LDT', s, LDTR_SLOT),
    segmentLine('TR', s, TR_SLOT),
    `GDT=     ${h8(s[GDTR_BASE])} ${h8(s[GDTR_LIMIT])}`,
    `IDT=     ${h8(s[IDTR_BASE])} ${h8(s[IDTR_LIMIT])}`,
    `CR0=${h8(s[CR0])} CR2=${h8(s[CR2])} CR3=${h8(s[CR3])} CR4=${h8(s[CR4])}`,
  ];
}
