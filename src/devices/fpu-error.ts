// The PC/AT's x87 error reporting for software written before CR0.NE ("MS-DOS compatibility mode", SDM Vol. 1
// 8.7 and Appendix D): with CR0.NE clear, a waiting x87 instruction that finds an unmasked exception pending
// asserts FERR#, which the chipset turns into IRQ13. The handler's write to port 0xF0 drops IRQ13 and asserts
// IGNNE#, so the x87 ignores the error until it is cleared; FERR# goes away when the status word's ES clears
// (FNCLEX, FNINIT, FLDENV, FRSTOR), and with it IGNNE#.
// Where a P6 would freeze at the waiting instruction until the interrupt, x86jit (as QEMU) raises IRQ13 and
// executes it. QEMU 7.2's code raises IRQ13 only at FWAIT and drops IGNNE# only when FLDENV/FRSTOR load a
// clear ES (and QEMU 7.2 aborts at the first FERR#: test-roms/fpu-irq13.elf's expectations follow the SDM);
// x86jit does both as the hardware does: at every waiting x87 instruction, and whenever one finds ES clear.

import type { FpuErrorPins } from '../cpu/cpu.ts';
import type { StateOf } from '../machine/device-state.ts';

const STATE = { ignne: 'bool', irq: 'bool' } as const;

export class FpuErrorLatch implements FpuErrorPins {
  readonly accessWidth = 1;
  ignne = false;
  /** IRQ13's level. */
  private irq = false;

  constructor(private readonly setIrq13: (level: boolean) => void) {}

  readonly stateVersion = 1;
  readonly stateSchema = STATE;
  save(): StateOf<typeof STATE> { return { ignne: this.ignne, irq: this.irq }; }
  /** The PIC keeps the line's level itself (its saved input wires). */
  load(v: StateOf<typeof STATE>): void { this.ignne = v.ignne; this.irq = v.irq; }

  assertFerr(): void {
    if (this.ignne || this.irq) return;
    this.irq = true;
    this.setIrq13(true);
  }

  /** Port 0xF0 reads as an empty bus (as QEMU's). */
  read(): number { return 0xff; }

  /** Any write to port 0xF0: IRQ13 drops, IGNNE# is asserted. */
  write(): void {
    this.ignne = true;
    if (!this.irq) return;
    this.irq = false;
    this.setIrq13(false);
  }
}
