// The task-state segment (SDM Vol. 3, 7.2): its two layouts (the 80286's 16-bit TSS, descriptor types 1/3,
// and the 32-bit TSS, types 9/B) as data, and the descriptor-type facts of TSSs and task gates. The task
// switch (task-switch.ts), the stack switch of interrupts and call gates, and the I/O permission check all
// read the TSS through these offsets.
import { ATTR_UNUSABLE, type Cpu } from './cpu.ts';
import { fault, TS } from './fault.ts';
import { TR_SLOT } from './state.ts';

/** Where each field lives in one TSS layout (byte offsets from the TSS base; -1: the layout has no such field). */
export interface TssLayout {
  readonly name: string;
  /** Width of the register fields (EIP/IP, EFLAGS/FLAGS, the general registers, ESPn/SPn): 4 or 2 bytes. */
  readonly width: 4 | 2;
  /** The smallest limit a TSS of this layout may have (a task switch to a smaller one is #TS). */
  readonly minLimit: number;
  /** Previous task link (the back link): the selector of the task that called or was interrupted. */
  readonly link: number;
  /** ESP0/SP0; ESPn/SPn is at stack + n × stackStride, its SSn right after it (+ width). */
  readonly stack: number;
  readonly stackStride: number;
  readonly cr3: number;
  readonly eip: number;
  readonly eflags: number;
  /** EAX/AX; the eight general registers follow in the SDM's register-number order, `width` bytes apart. */
  readonly regs: number;
  /** The segment selectors, indexed like the segment registers (ES CS SS DS FS GS: decoder/instruction.ts). */
  readonly segs: readonly number[];
  readonly ldt: number;
  /** The word holding the debug-trap bit (T, bit 0) and, in its upper half, the I/O map base. */
  readonly trap: number;
  readonly ioMapBase: number;
}

export const TSS32: TssLayout = {
  name: '32-bit', width: 4, minLimit: 0x67, link: 0x00, stack: 0x04, stackStride: 8, cr3: 0x1c, eip: 0x20, eflags: 0x24,
  regs: 0x28, segs: [0x48, 0x4c, 0x50, 0x54, 0x58, 0x5c], ldt: 0x60, trap: 0x64, ioMapBase: 0x66,
};

export const TSS16: TssLayout = {
  name: '16-bit', width: 2, minLimit: 0x2b, link: 0x00, stack: 0x02, stackStride: 4, cr3: -1, eip: 0x0e, eflags: 0x10,
  regs: 0x12, segs: [0x22, 0x24, 0x26, 0x28, -1, -1], ldt: 0x2a, trap: -1, ioMapBase: -1,
};

/** System-descriptor types (the low 5 bits of SEG_ATTR: S = 0 and the 4-bit type). */
export const TYPE_TSS16 = 0x01, TYPE_TSS16_BUSY = 0x03, TYPE_TASK_GATE = 0x05, TYPE_TSS32 = 0x09, TYPE_TSS32_BUSY = 0x0b;
/** The busy bit of a TSS descriptor's type; its byte in the descriptor is byte 5 (the access byte). */
export const TSS_BUSY = 0x2;

/** Is `attr` (SEG_ATTR format) a TSS descriptor, available or busy? */
export const isTss = (attr: number): boolean => (attr & 0x15) === 0x01;
/** Is `attr` an available (not busy) TSS? */
export const isAvailableTss = (attr: number): boolean => (attr & 0x17) === 0x01;
/** Is `attr` a busy TSS? */
export const isBusyTss = (attr: number): boolean => (attr & 0x17) === 0x03;
/** The layout of a TSS with descriptor attributes `attr` (bit 3 of the type: 32-bit). */
export const tssLayout = (attr: number): TssLayout => (attr & 0x8 ? TSS32 : TSS16);

/**
 * SSn:ESPn for privilege level `cpl` from the current TSS (the stack switch of an interrupt or a call
 * gate): #TS(EXT) without a usable TR, #TS(TR selector + EXT) when the slot lies beyond the TSS limit.
 */
export function stackFromTss(cpu: Cpu, cpl: number, ext: number): { ss: number; esp: number } {
  const s = cpu.s;
  const attr = s[TR_SLOT + 3], base = s[TR_SLOT + 1], limit = s[TR_SLOT + 2] >>> 0;
  if (attr & ATTR_UNUSABLE || (s[TR_SLOT] & 0xfffc) === 0) throw fault(TS, ext);
  const t = tssLayout(attr), at = t.stack + t.stackStride * cpl;
  if (at + t.width + 1 > limit) throw fault(TS, (s[TR_SLOT] & 0xfffc) + ext);
  return { esp: t.width === 4 ? cpu.readSys32(base + at) : cpu.readSys16(base + at), ss: cpu.readSys16(base + at + t.width) };
}
