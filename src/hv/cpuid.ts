// CPUID as the hypervisor reports it: an honest feature set (only what is implemented) and KVM-style
// hypervisor leaves at 0x40000000 so a guest can detect x86jit and its hypercalls.
import type { Cpu } from '../cpu/cpu.ts';
import { EAX, EBX, ECX, EDX } from '../cpu/state.ts';
import { HC_FEATURES_BITMAP } from './hypercalls.ts';

/**
 * Leaf 1 EDX: FPU (0, with the P6 FCMOV/FCOMI), TSC (4), MSR (5), MCE (7) and MCA (14) (banks that never
 * log an error), CX8 (8), CMOV (15); PSE (3) and PGE (13) with paging. APIC (9) is added while the CPU has a
 * local APIC that IA32_APIC_BASE leaves enabled (SDM Vol. 3A 10.4.3: CPUID reports it absent once disabled).
 */
export const CPUID_1_EDX = 1 | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 7) | (1 << 8) | (1 << 13) | (1 << 14) | (1 << 15);
/**
 * Leaf 1 EAX: family 6 model 1 stepping 9, a Pentium Pro (a P6 without MMX, as this CPU is), past the
 * steppings with the errata Linux works around.
 */
export const CPUID_1_EAX = 0x0619;
/** Leaf 1 ECX: bit 31, "running under a hypervisor". */
export const CPUID_1_ECX = 1 << 31;
/** Leaf 1 EDX bit 9: an on-chip local APIC, enabled. */
export const CPUID_1_EDX_APIC = 1 << 9;
/** IA32_APIC_BASE bit 11: the local APIC is enabled. */
const APIC_GLOBAL_ENABLE = 1 << 11;
export const HYPERVISOR_SIGNATURE = 'x86jitx86jit';

const dword = (t: string, i: number): number =>
  t.charCodeAt(i) | (t.charCodeAt(i + 1) << 8) | (t.charCodeAt(i + 2) << 16) | (t.charCodeAt(i + 3) << 24);

export function cpuid(cpu: Cpu): void {
  const s = cpu.s, leaf = s[EAX] >>> 0;
  let a = 0, b = 0, c = 0, d = 0;
  if (leaf === 0) {
    const v = 'GenuineIntel'; a = 1; b = dword(v, 0); d = dword(v, 4); c = dword(v, 8);
  } else if (leaf === 1) {
    a = CPUID_1_EAX;
    d = CPUID_1_EDX; c = CPUID_1_ECX;
    // EBX bits 31:24 would hold the initial APIC ID: 0, the only CPU's.
    if (cpu.apic !== null && (cpu.apic.readBaseMsr() & APIC_GLOBAL_ENABLE) !== 0) d |= CPUID_1_EDX_APIC;
  } else if (leaf === 0x4000_0000) {
    a = 0x4000_0001; b = dword(HYPERVISOR_SIGNATURE, 0); c = dword(HYPERVISOR_SIGNATURE, 4); d = dword(HYPERVISOR_SIGNATURE, 8);
  } else if (leaf === 0x4000_0001) {
    a = HC_FEATURES_BITMAP;
  }
  s[EAX] = a; s[EBX] = b; s[ECX] = c; s[EDX] = d;
}
