// DR0–DR3 honoured (SDM Vol. 3, 17.2–17.3): the breakpoints DR7 enables become the VM's own hooks, so they
// cost what hooks cost and nothing while DR7 enables none. An instruction breakpoint is a code hook on
// its address that raises #DB as a fault (not while EFLAGS.RF is set); a data breakpoint is a mem-write
// hook (R/W = 01) or mem-write and mem-read hooks (R/W = 11) over its 1, 2, 4 or 8 bytes that makes #DB
// a trap after the instruction. DR6.Bn says which matched. I/O breakpoints (R/W = 10) need CR4.DE, which
// this CPU does not offer: ignored.
import { BREAK_DEBUG, type Cpu } from '../cpu/cpu.ts';
import { CpuFault, DB } from '../cpu/fault.ts';
import { DR_SLOT, EFLAGS, RF } from '../cpu/state.ts';
import type { HookHandle, VM } from './vm.ts';

/** LEN field → bytes. */
const LENGTH = [1, 2, 8, 4];

/** Remove the hooks `old` and install those DR7 enables now; returns the new ones. */
export function armDebugRegisters(vm: VM, cpu: Cpu, old: readonly HookHandle[]): HookHandle[] {
  for (const h of old) h.remove();
  const s = cpu.s, dr7 = s[DR_SLOT + 7];
  const armed: HookHandle[] = [];
  for (let n = 0; n < 4; n++) {
    if (((dr7 >>> (2 * n)) & 3) === 0) continue; // Ln and Gn clear
    const rw = (dr7 >>> (16 + 4 * n)) & 3, len = LENGTH[(dr7 >>> (18 + 4 * n)) & 3];
    const bit = 1 << n;
    if (rw === 0) {
      const at = s[DR_SLOT + n] >>> 0;
      armed.push(vm.hook('code', () => {
        if (s[EFLAGS] & RF) return;
        s[DR_SLOT + 6] |= bit;
        throw new CpuFault(DB);
      }, { begin: at, end: at }));
    } else if (rw === 1 || rw === 3) {
      const at = (s[DR_SLOT + n] & ~(len - 1)) >>> 0;
      const hit = (): void => { s[DR_SLOT + 6] |= bit; cpu.breakBlock |= BREAK_DEBUG; };
      const range = { begin: at, end: (at + len - 1) >>> 0 };
      armed.push(vm.hook('mem-write', hit, range));
      if (rw === 3) armed.push(vm.hook('mem-read', hit, range));
    }
  }
  return armed;
}
