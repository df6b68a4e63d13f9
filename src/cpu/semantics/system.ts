// System instructions (SDM Vol. 2 and Vol. 3 ch. 2, 5): port I/O with IOPL and the TSS I/O bitmap,
// HLT/CLI/STI, descriptor-table registers, control and debug registers, CPUID, RDTSC, MSRs, segment
// loads, and the descriptor queries LAR/LSL/VERR/VERW/ARPL. Privileged ones raise #GP(0) above CPL 0.
import { CS, SS } from '../../decoder/instruction.ts';
import { ATTR_CODE, ATTR_DC, ATTR_P, ATTR_RW, ATTR_S, ATTR_UNUSABLE, BREAK_MODE, BREAK_STOP, type Cpu } from '../cpu.ts';
import { fault, GP, NM, NP, UD } from '../fault.ts';
import { flushFlags } from '../flags.ts';
import { Unsupported } from '../interrupts.ts';
import { cpuid } from '../../hv/cpuid.ts';
import { EXIT_CPUID, EXIT_CR_ACCESS, EXIT_DT_LOAD, EXIT_HYPERCALL, EXIT_INVLPG, EXIT_MSR_READ, EXIT_MSR_WRITE } from '../../hv/exits.ts';
import { hypercall } from '../../hv/hypercalls.ts';
import { effectiveAddress, reader, writer } from '../operands.ts';
import { loadSegment, readDescriptor } from '../segments.ts';
import { isAvailableTss, TSS_BUSY, TSS32, tssLayout } from '../tss.ts';
import {
  CPL, CR0, CR0_ET, CR0_MP, CR0_PE, CR0_PG, CR0_TS, CR2, CR3, CR4, DR_SLOT, EAX, ECX, EDX, EFLAGS, GDTR_BASE, GDTR_LIMIT,
  IDTR_BASE, IDTR_LIMIT, IF, IOPL, LDTR_SLOT, SEG_SEL, segSlot, TR_SLOT, VM, ZF,
} from '../state.ts';
import type { EmitContext, EmitterTable } from './emitter.ts';
import { waitForFpu } from './fpu.ts';

/** #GP(0) unless at CPL 0 (real mode counts as CPL 0; virtual-8086 mode is CPL 3). */
function requireCpl0(cpu: Cpu): void {
  if (cpu.s[CR0] & CR0_PE && cpu.s[CPL] !== 0) throw fault(GP, 0);
}

/**
 * IN/OUT/INS/OUTS permission (SDM Vol. 1, 19.5 and Vol. 3, 20.2.8.1): CPL ≤ IOPL, else every port bit in
 * the TSS I/O bitmap must be clear. In virtual-8086 mode the bitmap decides whatever IOPL is.
 */
export function checkIoPermission(cpu: Cpu, port: number, size: number): void {
  const s = cpu.s;
  if (!(s[CR0] & CR0_PE) || (!(s[EFLAGS] & VM) && s[CPL] <= ((s[EFLAGS] & IOPL) >>> 12))) return;
  const attr = s[TR_SLOT + 3], base = s[TR_SLOT + 1], limit = s[TR_SLOT + 2] >>> 0;
  // Only a 32-bit TSS has an I/O map.
  if (attr & ATTR_UNUSABLE || tssLayout(attr) !== TSS32 || limit < TSS32.minLimit) throw fault(GP, 0);
  const mapBase = cpu.readSys16(base + TSS32.ioMapBase);
  const byte = mapBase + (port >>> 3);
  if (byte + 1 > limit) throw fault(GP, 0);
  const bits = cpu.readSys16(base + byte);
  if ((bits >>> (port & 7)) & ((1 << size) - 1)) throw fault(GP, 0);
}

function portOf(c: EmitContext, which: number): () => number {
  const op = c.ins.operands[which], s = c.cpu.s;
  if (op?.kind === 'imm') { const p = op.value & 0xff; return () => p; }
  return () => s[EDX] & 0xffff;
}

function setZF(cpu: Cpu, on: boolean): void {
  flushFlags(cpu.s);
  cpu.s[EFLAGS] = on ? cpu.s[EFLAGS] | ZF : cpu.s[EFLAGS] & ~ZF;
}

const MSR_TSC = 0x10;
/**
 * IA32_APIC_BASE (SDM Vol. 3A 10.4.4), when the CPU has a local APIC: bits 8 (BSP), 11 (enable) and 35:12
 * (base) exist; a P6's physical addresses are 36 bits, so a 1 in bits 63:36 or in 7:0 and 10:9 is #GP.
 */
const MSR_APIC_BASE = 0x1b;
const APIC_BASE_RESERVED = 0xfffffff000000000n | 0x6ffn;
/**
 * MSRs a guest may write and read back: IA32_BIOS_SIGN_ID (0x8B: the microcode revision a P6 reports after
 * CPUID; none was loaded, so it reads back what was written, 0 as Linux writes it), SYSENTER_CS/ESP/EIP
 * (stored, not yet used).
 */
const STORED_MSRS = new Set([0x8b, 0x174, 0x175, 0x176]);
/**
 * The machine-check architecture of a P6 (SDM Vol. 3B 16.3): IA32_MCG_CAP says MCE_BANKS banks and an
 * IA32_MCG_CTL register (bit 8). No error is ever logged — the emulated hardware does not fail — so
 * MCG_STATUS and every bank's STATUS/ADDR/MISC read 0; MCG_CTL and the banks' CTL keep what is written.
 */
const MSR_MCG_CAP = 0x179, MSR_MCG_STATUS = 0x17a, MSR_MCG_CTL = 0x17b, MSR_MC0_CTL = 0x400;
const MCE_BANKS = 5;
const MCG_CTL_P = 1n << 8n;
const isBankMsr = (msr: number): boolean => msr >= MSR_MC0_CTL && msr < MSR_MC0_CTL + 4 * MCE_BANKS;
/** MSRs that keep what is written: STORED_MSRS, MCG_CTL and each bank's CTL. */
const keepsValue = (msr: number): boolean => STORED_MSRS.has(msr) || msr === MSR_MCG_CTL || (isBankMsr(msr) && (msr - MSR_MC0_CTL) % 4 === 0);

/** Which CR4 bits may be set: only what CPUID advertises and the emulator implements (TSD, PSE, MCE, PGE). */
const CR4_WRITABLE = (1 << 2) | (1 << 4) | (1 << 6) | (1 << 7);

function loadDescriptorTableRegister(cpu: Cpu, c: EmitContext, base: number, limit: number): () => void {
  const m = c.ins.operands[0];
  if (m.kind !== 'mem') throw new Error('descriptor-table load needs memory');
  const ea = effectiveAddress(cpu, m, c.ins.adsize), seg = m.seg, s = cpu.s;
  const o32 = c.ins.opsize === 32;
  return () => {
    requireCpl0(cpu);
    cpu.exits.count(EXIT_DT_LOAD);
    const a = ea();
    const lim = cpu.read16(seg, a), b = cpu.read32(seg, (a + 2) | 0);
    s[limit] = lim; s[base] = o32 ? b : b & 0xff_ffff;
    if (cpu.log !== null) cpu.log('sys', `${base === GDTR_BASE ? 'lgdt' : 'lidt'} base=${(s[base] >>> 0).toString(16).padStart(8, '0')} limit=${lim.toString(16).padStart(4, '0')}`);
  };
}

function storeDescriptorTableRegister(cpu: Cpu, c: EmitContext, base: number, limit: number): () => void {
  const m = c.ins.operands[0];
  if (m.kind !== 'mem') throw new Error('descriptor-table store needs memory');
  const ea = effectiveAddress(cpu, m, c.ins.adsize), seg = m.seg, s = cpu.s;
  return () => {
    const a = ea();
    cpu.probeWrite(seg, a, 6);
    cpu.write16(seg, a, s[limit]);
    cpu.write32(seg, (a + 2) | 0, s[base]);
  };
}

/** Store a 16-bit system value to r/m: registers get it zero-extended to the operand size, memory gets 16 bits. */
function storeSelector(c: EmitContext, value: () => number): () => void {
  const { cpu, ins } = c, op = ins.operands[0];
  const size = op.kind === 'reg' ? ins.opsize / 8 : 2;
  const set = writer(cpu, op, size, ins.adsize);
  return () => set(value() & 0xffff);
}

/** LAR/LSL/VERR/VERW: read a descriptor without faulting; undefined when outside its table. */
function peekDescriptor(cpu: Cpu, sel: number) {
  if ((sel & 0xfffc) === 0) return undefined;
  try { return readDescriptor(cpu, sel); } catch { return undefined; }
}

/** Visible at CPL and RPL: DPL ≥ both, except conforming code which is always visible. */
function visible(cpu: Cpu, sel: number, attr: number, dpl: number): boolean {
  if ((attr & (ATTR_S | ATTR_CODE | ATTR_DC)) === (ATTR_S | ATTR_CODE | ATTR_DC)) return true;
  return dpl >= cpu.s[CPL] && dpl >= (sel & 3);
}

const LAR_SYSTEM_TYPES = new Set([1, 2, 3, 4, 5, 9, 0xb, 0xc]);
const LSL_SYSTEM_TYPES = new Set([1, 2, 3, 9, 0xb]);

function requireProtected(cpu: Cpu): void { if (!cpu.protectedMode) throw fault(UD); }

export const SYSTEM: EmitterTable = {
  IN: (c) => {
    const { cpu, ins, index } = c, size = ins.size, port = portOf(c, 1);
    return () => { const p = port(); checkIoPermission(cpu, p, size); cpu.setReg(EAX, size, cpu.portIn(p, size, index)); };
  },
  OUT: (c) => {
    const { cpu, ins, index } = c, size = ins.size, port = portOf(c, 0);
    return () => { const p = port(); checkIoPermission(cpu, p, size); cpu.portOut(p, size, cpu.getReg(EAX, size), index); };
  },
  HLT: ({ cpu }) => () => { requireCpl0(cpu); cpu.halted = true; cpu.breakBlock |= BREAK_STOP; },
  CLI: ({ cpu }) => () => {
    if (cpu.ioplDenied) throw fault(GP, 0);
    cpu.s[EFLAGS] &= ~IF;
  },
  STI: ({ cpu }) => () => {
    if (cpu.ioplDenied) throw fault(GP, 0);
    if (!(cpu.s[EFLAGS] & IF)) cpu.shadow = 1; // interrupts stay blocked until after the next instruction
    cpu.s[EFLAGS] |= IF;
  },
  LGDT: (c) => loadDescriptorTableRegister(c.cpu, c, GDTR_BASE, GDTR_LIMIT),
  LIDT: (c) => loadDescriptorTableRegister(c.cpu, c, IDTR_BASE, IDTR_LIMIT),
  SGDT: (c) => storeDescriptorTableRegister(c.cpu, c, GDTR_BASE, GDTR_LIMIT),
  SIDT: (c) => storeDescriptorTableRegister(c.cpu, c, IDTR_BASE, IDTR_LIMIT),
  LLDT: (c) => {
    const { cpu, ins } = c, get = reader(cpu, ins.operands[0], 2, ins.adsize);
    return () => {
      requireProtected(cpu); requireCpl0(cpu);
      cpu.exits.count(EXIT_DT_LOAD);
      loadLdtr(cpu, get());
    };
  },
  LTR: (c) => {
    const { cpu, ins } = c, get = reader(cpu, ins.operands[0], 2, ins.adsize);
    return () => {
      requireProtected(cpu); requireCpl0(cpu);
      cpu.exits.count(EXIT_DT_LOAD);
      loadTr(cpu, get());
    };
  },
  SLDT: (c) => storeSelector(c, () => { requireProtected(c.cpu); return c.cpu.s[LDTR_SLOT]; }),
  STR: (c) => storeSelector(c, () => { requireProtected(c.cpu); return c.cpu.s[TR_SLOT]; }),
  SMSW: (c) => {
    const { cpu, ins } = c, op = ins.operands[0];
    const size = op.kind === 'reg' ? ins.opsize / 8 : 2;
    const set = writer(cpu, op, size, ins.adsize);
    return () => set(cpu.s[CR0]);
  },
  LMSW: (c) => {
    const { cpu, ins } = c, get = reader(cpu, ins.operands[0], 2, ins.adsize), s = cpu.s;
    return () => {
      requireCpl0(cpu);
      const v = get() & 0xf;
      // LMSW can set PE but never clear it.
      s[CR0] = (s[CR0] & ~0xe) | v | (s[CR0] & CR0_PE);
      cpu.refreshSegment(CS);
      cpu.breakBlock |= BREAK_MODE;
    };
  },
  CLTS: ({ cpu }) => () => { requireCpl0(cpu); cpu.s[CR0] &= ~CR0_TS; },
  INVLPG: (c) => {
    const { cpu, ins } = c, m = ins.operands[0];
    if (m.kind !== 'mem') throw new Error('INVLPG needs a memory operand');
    const ea = effectiveAddress(cpu, m, ins.adsize), seg = m.seg;
    return () => {
      requireCpl0(cpu);
      cpu.exits.count(EXIT_INVLPG);
      // Compiled code leaves only if something relied on the page's mapping (its own code among them).
      if (cpu.invalidatePage(cpu.linear(seg, ea(), 1, false))) cpu.breakBlock |= BREAK_MODE;
    };
  },
  WBINVD: ({ cpu }) => () => requireCpl0(cpu),
  INVD: ({ cpu }) => () => requireCpl0(cpu),
  MOV_CR: (c) => movControl(c),
  MOV_DR: (c) => movDebug(c),
  CPUID: ({ cpu }) => () => { const t0 = cpu.exits.enter(); cpuid(cpu); cpu.exits.leave(EXIT_CPUID, t0); },
  RDTSC: ({ cpu, index }) => () => {
    // Time-stamp counter = the virtual clock in ns (a 1 GHz TSC): instructions retired and time idle,
    // deterministic as with QEMU's -icount.
    if (cpu.s[CR0] & CR0_PE && cpu.s[CPL] !== 0 && cpu.s[CR4] & 4) throw fault(GP, 0);
    const t = cpu.tsc(index);
    cpu.s[EAX] = t % 2 ** 32; cpu.s[EDX] = Math.floor(t / 2 ** 32);
  },
  RDMSR: ({ cpu, index }) => () => {
    requireCpl0(cpu);
    cpu.exits.count(EXIT_MSR_READ);
    const s = cpu.s, v = readMsr(cpu, s[ECX] >>> 0, index);
    s[EAX] = Number(v & 0xffff_ffffn); s[EDX] = Number(v >> 32n);
  },
  WRMSR: ({ cpu }) => () => {
    requireCpl0(cpu);
    cpu.exits.count(EXIT_MSR_WRITE);
    const s = cpu.s;
    writeMsr(cpu, s[ECX] >>> 0, (BigInt(s[EDX] >>> 0) << 32n) | BigInt(s[EAX] >>> 0));
  },
  MOV_SREG: (c) => {
    const { cpu, ins } = c, [dst, src] = ins.operands;
    if (dst.kind === 'sreg') {
      const get = reader(cpu, src, 2, ins.adsize), seg = dst.reg;
      return () => {
        loadSegment(cpu, seg, get());
        if (seg === SS) { cpu.shadow = 1; cpu.breakBlock |= BREAK_MODE; }
      };
    }
    if (src.kind !== 'sreg') throw new Error('MOV Sreg needs a segment register operand');
    const slot = segSlot(src.reg, SEG_SEL);
    return storeSelector(c, () => cpu.s[slot]);
  },
  LDS: (c) => loadFarPointer(c, 3), LES: (c) => loadFarPointer(c, 0), LSS: (c) => loadFarPointer(c, 2),
  LFS: (c) => loadFarPointer(c, 4), LGS: (c) => loadFarPointer(c, 5),
  LAR: (c) => descriptorQuery(c, true),
  LSL: (c) => descriptorQuery(c, false),
  VERR: (c) => verify(c, false),
  VERW: (c) => verify(c, true),
  ARPL: (c) => {
    const { cpu, ins } = c;
    const dst = ins.operands[0], src = ins.operands[1];
    const get = reader(cpu, dst, 2, ins.adsize), set = writer(cpu, dst, 2, ins.adsize), rs = reader(cpu, src, 2, ins.adsize);
    return () => {
      requireProtected(cpu);
      const d = get(), r = rs() & 3;
      if ((d & 3) < r) { set((d & ~3) | r); setZF(cpu, true); } else setZF(cpu, false);
    };
  },
  UD2: () => () => { throw fault(UD); },
  VMCALL: ({ cpu, index }) => () => {
    if (!cpu.hypercallHost) throw fault(UD);
    const t0 = cpu.exits.enter();
    // The time hypercall reads the virtual clock: count this block's earlier instructions (see cpu.portIn).
    cpu.instructions += index;
    try { hypercall(cpu, cpu.hypercallHost); } finally { cpu.instructions -= index; }
    cpu.exits.leave(EXIT_HYPERCALL, t0);
  },
  // WAIT: #NM with MP and TS; a pending unmasked x87 exception (SW.ES) is reported here (waitForFpu).
  WAIT: ({ cpu }) => () => {
    if ((cpu.s[CR0] & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) throw fault(NM);
    waitForFpu(cpu);
  },
};
SYSTEM.FWAIT = SYSTEM.WAIT;

/** LLDT's load of LDTR from the GDT (also the API's register write): #GP/#NP as the instruction raises them. */
export function loadLdtr(cpu: Cpu, sel: number): void {
  const s = cpu.s;
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0) { s[LDTR_SLOT] = sel; s[LDTR_SLOT + 3] = ATTR_UNUSABLE; return; }
  if (sel & 4) throw fault(GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  if ((d.attr & 0x1f) !== 0x2) throw fault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw fault(NP, sel & 0xfffc);
  s[LDTR_SLOT] = sel; s[LDTR_SLOT + 1] = d.base; s[LDTR_SLOT + 2] = d.limit | 0; s[LDTR_SLOT + 3] = d.attr;
  if (cpu.log !== null) cpu.log('sys', `lldt ${sel.toString(16).padStart(4, '0')} base=${(d.base >>> 0).toString(16).padStart(8, '0')} limit=${(d.limit >>> 0).toString(16).padStart(8, '0')}`);
}

/** LTR's load of TR from the GDT, marking the TSS busy (also the API's register write). */
export function loadTr(cpu: Cpu, sel: number): void {
  const s = cpu.s;
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0 || sel & 4) throw fault(GP, sel & 0xfffc);
  const d = readDescriptor(cpu, sel);
  if (!isAvailableTss(d.attr)) throw fault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw fault(NP, sel & 0xfffc);
  cpu.writeSys8(d.address + 5, (d.hi >>> 8) | TSS_BUSY); // mark the TSS busy
  s[TR_SLOT] = sel; s[TR_SLOT + 1] = d.base; s[TR_SLOT + 2] = d.limit | 0; s[TR_SLOT + 3] = d.attr | TSS_BUSY;
  if (cpu.log !== null) cpu.log('sys', `ltr ${sel.toString(16).padStart(4, '0')} base=${(d.base >>> 0).toString(16).padStart(8, '0')} limit=${(d.limit >>> 0).toString(16).padStart(8, '0')}`);
}

/** RDMSR's value of `msr` (`index`: the instruction's position in its block, for the TSC); #GP for an MSR not implemented. */
export function readMsr(cpu: Cpu, msr: number, index = 0): bigint {
  if (msr === MSR_TSC) return BigInt(cpu.tsc(index));
  if (msr === MSR_APIC_BASE && cpu.apic !== null) return BigInt(cpu.apic.readBaseMsr() >>> 0);
  if (keepsValue(msr)) return cpu.msrs.get(msr) ?? 0n;
  if (msr === MSR_MCG_CAP) return MCG_CTL_P | BigInt(MCE_BANKS);
  if (msr === MSR_MCG_STATUS || isBankMsr(msr)) return 0n;
  throw fault(GP, 0);
}

/** WRMSR: #GP for an MSR not implemented. */
export function writeMsr(cpu: Cpu, msr: number, v: bigint): void {
  if (msr === MSR_TSC) throw new Unsupported('writing the time-stamp counter (MSR 0x10) is not supported: it is the virtual clock');
  if (msr === MSR_APIC_BASE && cpu.apic !== null) {
    // Bits 35:32 of the base are kept out: the APIC stays below 4 GiB on this 32-bit board.
    if ((v & APIC_BASE_RESERVED) !== 0n || v > 0xffffffffn) throw fault(GP, 0);
    cpu.apic.writeBaseMsr(Number(v));
    return;
  }
  if (keepsValue(msr)) { cpu.msrs.set(msr, v); return; }
  // MCG_STATUS and a bank's STATUS/ADDR/MISC: only 0 may be written (clearing a logged error).
  if (msr === MSR_MCG_STATUS || isBankMsr(msr)) { if (v !== 0n) throw fault(GP, 0); return; }
  throw fault(GP, 0);
}

/** MOV CRn, reg after its privilege check: the new value and its side effects (mode, paging, TLB). #GP/#UD as the instruction. */
export function writeControlRegister(cpu: Cpu, n: number, v: number): void {
  const s = cpu.s;
  switch (n) {
    case 0:
      if ((v & (CR0_PG | CR0_PE)) === CR0_PG) throw fault(GP, 0);
      s[CR0] = v | CR0_ET;
      for (let seg = 0; seg < 6; seg++) cpu.refreshSegment(seg);
      if (!(v & CR0_PE)) s[CPL] = 0;
      cpu.pagingChanged();
      cpu.breakBlock |= BREAK_MODE;
      break;
    case 2: s[CR2] = v; break;
    case 3:
      s[CR3] = v;
      cpu.flushTlb(true);
      cpu.breakBlock |= BREAK_MODE;
      break;
    case 4:
      if (v & ~CR4_WRITABLE) throw fault(GP, 0);
      s[CR4] = v;
      cpu.pagingChanged();
      cpu.breakBlock |= BREAK_MODE;
      break;
    default: throw fault(UD);
  }
}

function movControl(c: EmitContext): () => void {
  const { cpu, ins } = c, s = cpu.s;
  const [dst, src] = ins.operands;
  if (dst.kind === 'creg') {
    if (src.kind !== 'reg') throw new Error('MOV CRn needs a register');
    const n = dst.reg, r = src.reg;
    return () => {
      requireCpl0(cpu);
      cpu.exits.count(EXIT_CR_ACCESS);
      const v = s[r];
      if (cpu.log !== null && n !== 1 && n <= 4) {
        const was = s[n === 0 ? CR0 : n === 2 ? CR2 : n === 3 ? CR3 : CR4];
        cpu.log('sys', `mov CR${n}, ${(v >>> 0).toString(16).padStart(8, '0')} (was ${(was >>> 0).toString(16).padStart(8, '0')})`);
      }
      writeControlRegister(cpu, n, v);
    };
  }
  if (src.kind !== 'creg' || dst.kind !== 'reg') throw new Error('MOV from CRn needs a register');
  const n = src.reg, r = dst.reg;
  const slot = [CR0, -1, CR2, CR3, CR4][n] ?? -1;
  return () => { requireCpl0(cpu); if (slot < 0) throw fault(UD); cpu.exits.count(EXIT_CR_ACCESS); s[r] = s[slot]; };
}

function movDebug(c: EmitContext): () => void {
  const { cpu, ins } = c, s = cpu.s;
  const [dst, src] = ins.operands;
  // DR4/DR5 alias DR6/DR7 (CR4.DE is never set here). DR7's breakpoints are honoured through the VM's hooks.
  const alias = (n: number): number => (n === 4 ? 6 : n === 5 ? 7 : n);
  if (dst.kind === 'dreg' && src.kind === 'reg') {
    const n = alias(dst.reg), r = src.reg;
    return () => {
      requireCpl0(cpu);
      s[DR_SLOT + n] = s[r];
      // New breakpoints: the block ends here, and the VM arms them (hooks on their addresses).
      if ((n <= 3 || n === 7) && cpu.onDebugRegisterWrite !== null) { cpu.breakBlock |= BREAK_MODE; cpu.onDebugRegisterWrite(); }
    };
  }
  if (src.kind === 'dreg' && dst.kind === 'reg') {
    const n = alias(src.reg), r = dst.reg;
    return () => { requireCpl0(cpu); s[r] = s[DR_SLOT + n]; };
  }
  throw new Error('MOV DRn needs a register and a debug register');
}

/** LDS/LES/LSS/LFS/LGS r, m16:16/32: the segment is loaded (and may fault) before the register is written. */
function loadFarPointer(c: EmitContext, seg: number): () => void {
  const { cpu, ins } = c, size = ins.opsize / 8;
  const [dst, m] = ins.operands;
  if (m.kind !== 'mem' || dst.kind !== 'reg') throw new Error(`${ins.op} needs a register and memory`);
  const ea = effectiveAddress(cpu, m, ins.adsize), ms = m.seg, r = dst.reg;
  return () => {
    const a = ea();
    const off = cpu.read(ms, a, size), sel = cpu.read16(ms, (a + size) | 0);
    loadSegment(cpu, seg, sel);
    cpu.setReg(r, size, off);
    if (seg === SS) cpu.breakBlock |= BREAK_MODE;
  };
}

function descriptorQuery(c: EmitContext, lar: boolean): () => void {
  const { cpu, ins } = c, size = ins.opsize / 8;
  const src = reader(cpu, ins.operands[1], 2, ins.adsize), r = ins.operands[0];
  if (r.kind !== 'reg') throw new Error('LAR/LSL need a register destination');
  return () => {
    requireProtected(cpu);
    const sel = src() & 0xffff;
    const d = peekDescriptor(cpu, sel);
    const ok = d !== undefined && visible(cpu, sel, d.attr, d.dpl) &&
      ((d.attr & ATTR_S) !== 0 || (lar ? LAR_SYSTEM_TYPES : LSL_SYSTEM_TYPES).has(d.attr & 0xf));
    if (ok && d) cpu.setReg(r.reg, size, lar ? (size === 4 ? d.hi & 0x00f0_ff00 : d.hi & 0xff00) : d.limit | 0);
    setZF(cpu, ok);
  };
}

function verify(c: EmitContext, write: boolean): () => void {
  const { cpu, ins } = c, src = reader(cpu, ins.operands[0], 2, ins.adsize);
  return () => {
    requireProtected(cpu);
    const sel = src() & 0xffff;
    const d = peekDescriptor(cpu, sel);
    let ok = d !== undefined && (d.attr & ATTR_S) !== 0 && visible(cpu, sel, d.attr, d.dpl);
    if (ok && d) ok = write ? !(d.attr & ATTR_CODE) && (d.attr & ATTR_RW) !== 0 : !(d.attr & ATTR_CODE) || (d.attr & ATTR_RW) !== 0;
    setZF(cpu, ok);
  };
}
