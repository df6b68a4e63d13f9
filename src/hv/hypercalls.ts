// Paravirtual hypercalls with KVM's x86 ABI: VMCALL, number in EAX, arguments in EBX, ECX, EDX, ESI,
// result in EAX. A guest that knows it runs on x86jit (CPUID leaf 0x40000000) can write its console in
// one exit per buffer instead of one exit per byte through the UART.
import type { Cpu } from '../cpu/cpu.ts';
import { CPL, EAX, EBX, ECX, EDX } from '../cpu/state.ts';

/** KVM_HC_FEATURES: the features bitmap below. */
export const HC_FEATURES = 0x0000_0003;
/** Write ECX bytes at guest-physical EBX to the console; returns the count or -EFAULT. */
export const HC_CONSOLE_WRITE = 0x0001_0001;
/** End the run with status (EBX << 1) | 1, as isa-debug-exit would. */
export const HC_EXIT = 0x0001_0002;
/** Virtual time in ns: low half in EAX, high half in EDX. */
export const HC_TIME = 0x0001_0003;
/** Give up the rest of the time slice; returns 0. */
export const HC_YIELD = 0x0001_0004;

export const HC_FEATURE_CONSOLE = 1, HC_FEATURE_EXIT = 2, HC_FEATURE_TIME = 4, HC_FEATURE_YIELD = 8;
export const HC_FEATURES_BITMAP = HC_FEATURE_CONSOLE | HC_FEATURE_EXIT | HC_FEATURE_TIME | HC_FEATURE_YIELD;

/** Error returns (negated in EAX), as KVM's uapi defines them. */
export const KVM_ENOSYS = 1000, KVM_EPERM = 1, EFAULT = 14;

/** What the hypercalls need from the VM. */
export interface HypercallHost {
  console(bytes: Uint8Array): void;
  exit(status: number): void;
  timeNs(): number;
  yield(): void;
}

/** Longest console write accepted in one call (a larger ECX writes this much and returns it). */
const MAX_CONSOLE_WRITE = 1 << 20;

/** Execute the hypercall described by the guest's registers. */
export function hypercall(cpu: Cpu, host: HypercallHost): void {
  const s = cpu.s;
  if (cpu.hooks !== null && cpu.hooks.hypercall(s[EAX] >>> 0)) return; // the embedder's hypercall hook answered
  if (s[CPL] !== 0) { s[EAX] = -KVM_EPERM; return; }
  switch (s[EAX] >>> 0) {
    case HC_FEATURES: s[EAX] = HC_FEATURES_BITMAP; return;
    case HC_CONSOLE_WRITE: {
      const addr = s[EBX] >>> 0, len = Math.min(s[ECX] >>> 0, MAX_CONSOLE_WRITE);
      if (addr + len > cpu.ramSize) { s[EAX] = -EFAULT; return; }
      host.console(cpu.mem.readBytes(addr, len));
      cpu.work += len; // a big write takes a while: let the run loop read the clock soon
      s[EAX] = len;
      return;
    }
    case HC_EXIT: host.exit(((s[EBX] << 1) | 1) >>> 0); s[EAX] = 0; return;
    case HC_TIME: {
      const t = host.timeNs();
      s[EAX] = t % 2 ** 32; s[EDX] = Math.floor(t / 2 ** 32);
      return;
    }
    case HC_YIELD: host.yield(); s[EAX] = 0; return;
    default: s[EAX] = -KVM_ENOSYS;
  }
}
