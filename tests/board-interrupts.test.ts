// How the board's interrupts reach the CPU (src/machine/board.ts): an ISA line drives both an 8259 input and
// an I/O APIC pin, the I/O APIC's message goes to the local APIC, and the CPU takes every interrupt from the
// local APIC — the 8259s' through LINT0 (ExtINT) as a firmware leaves it; and the CPU's side of the local
// APIC: IA32_APIC_BASE (MSR 0x1B) and CPUID's APIC bit (SDM Vol. 3A 10.4.3, 10.4.4). The devices' own
// behaviour is in tests/devices-local-apic.test.ts and tests/devices-io-apic.test.ts; Linux using all of it,
// line for line as on QEMU's pc machine, in tests/linux-boot.test.ts.
import { describe, expect, it } from 'vitest';
import { createVM, VM } from '../src/index.ts';
import { CpuFault } from '../src/cpu/fault.ts';
import { readMsr, writeMsr } from '../src/cpu/semantics/system.ts';
import { EAX, EDX, IF } from '../src/cpu/state.ts';
import { cpuid } from '../src/hv/cpuid.ts';
import { IOAPICID, IOREDTBL, IOREGSEL, IOWIN } from '../src/devices/io-apic.ts';
import { APIC_EOI, APIC_ISR, APIC_LVT_LINT0, APIC_SVR, LVT_MASKED } from '../src/devices/local-apic.ts';
import { IER, IER_ETBEI, MCR, MCR_OUT2 } from '../src/devices/uart16550.ts';
import { gsiOfIrq, IO_APIC_BASE, IO_APIC_ID, IRQ_COM1, LOCAL_APIC_BASE } from '../src/machine/board.ts';

const COM1 = 0x3f8;

/** A VM whose COM1 asserts IRQ 4 (transmitter empty, with OUT2 gating the line as on a PC). */
function vmWithCom1Interrupt() {
  const vm = createVM({ memory: 2 << 20 });
  const raise = (): void => { vm.io.out(COM1 + MCR, 1, MCR_OUT2); vm.io.out(COM1 + IER, 1, IER_ETBEI); };
  return { vm, raise };
}
const ioApicWrite = (vm: ReturnType<typeof createVM>, reg: number, value: number): void => {
  vm.memory.write(IO_APIC_BASE + IOREGSEL, 4, reg);
  vm.memory.write(IO_APIC_BASE + IOWIN, 4, value);
};
const ioApicRead = (vm: ReturnType<typeof createVM>, reg: number): number => {
  vm.memory.write(IO_APIC_BASE + IOREGSEL, 4, reg);
  return vm.memory.read(IO_APIC_BASE + IOWIN, 4) >>> 0;
};

describe('the board\'s interrupt controllers', () => {
  it('sit at their power-on addresses, the I/O APIC with the ID the firmware gives it', () => {
    const { vm } = vmWithCom1Interrupt();
    expect(vm.memory.read(LOCAL_APIC_BASE + 0x30, 4) >>> 0).toBe(0x00040011); // a P6's local APIC version
    expect(ioApicRead(vm, IOAPICID) >>> 24).toBe(IO_APIC_ID);
    expect(() => vm.memory.unmap(LOCAL_APIC_BASE)).toThrow(/board's local-apic/);
    expect(gsiOfIrq(0)).toBe(2);
    expect(gsiOfIrq(IRQ_COM1)).toBe(IRQ_COM1);
  });

  it('pass the 8259s\' interrupt to the CPU through LINT0 until the OS masks it', () => {
    const { vm, raise } = vmWithCom1Interrupt();
    // The master 8259 at vector base 0x20, every line unmasked.
    for (const [port, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01], [0x21, 0x00]]) vm.io.out(port, 1, v);
    raise();
    expect(vm.cpu.intr).toBe(IF);
    expect(vm.lapic.acknowledge()).toBe(0x24); // IRQ 4 from the 8259
    expect(vm.memory.read(LOCAL_APIC_BASE + APIC_ISR + 0x20, 4)).toBe(0); // not in the local APIC's ISR
    vm.io.out(0x20, 1, 0x20); // the 8259's own EOI
    vm.memory.write(LOCAL_APIC_BASE + APIC_LVT_LINT0, 4, 0x700 | LVT_MASKED);
    vm.io.out(COM1 + IER, 1, 0); vm.io.out(COM1 + IER, 1, IER_ETBEI); // a new edge
    expect(vm.cpu.intr).toBe(0);
  });

  it('deliver an ISA line through its I/O APIC pin and the local APIC, with the EOI ending it there', () => {
    const { vm, raise } = vmWithCom1Interrupt();
    vm.memory.write(LOCAL_APIC_BASE + APIC_SVR, 4, 0x1ff); // software-enabled, spurious vector 0xFF
    vm.memory.write(LOCAL_APIC_BASE + APIC_LVT_LINT0, 4, 0x700 | LVT_MASKED); // the 8259s out of the way
    ioApicWrite(vm, IOREDTBL + 2 * gsiOfIrq(IRQ_COM1) + 1, 0); // destination: APIC ID 0, physical
    ioApicWrite(vm, IOREDTBL + 2 * gsiOfIrq(IRQ_COM1), 0x34); // vector 0x34, fixed, edge, unmasked
    raise();
    expect(vm.cpu.intr).toBe(IF);
    expect(vm.lapic.acknowledge()).toBe(0x34);
    expect(vm.memory.read(LOCAL_APIC_BASE + APIC_ISR + 0x10, 4) >>> 0).toBe(1 << (0x34 - 32));
    expect(vm.cpu.intr).toBe(0);
    vm.memory.write(LOCAL_APIC_BASE + APIC_EOI, 4, 0);
    expect(vm.memory.read(LOCAL_APIC_BASE + APIC_ISR + 0x10, 4)).toBe(0);
  });

  it('are reached by the CPU\'s accesses as MMIO exits, counted as KVM counts them', () => {
    const { vm } = vmWithCom1Interrupt();
    const mmio = (): number => vm.exitStats().find((e) => e.reason === 'MMIO')?.count ?? 0;
    expect(mmio()).toBe(0);
    expect(vm.cpu.readLin32(LOCAL_APIC_BASE + 0x30) >>> 0).toBe(0x00040011); // paging off: linear = physical
    vm.cpu.writeLin32(LOCAL_APIC_BASE + APIC_SVR, 0x1ff);
    vm.cpu.readLin32(0x1000); // RAM: no exit
    expect(mmio()).toBe(2);
  });

  it('are what CPUID and IA32_APIC_BASE show the CPU: present while enabled, and #GP for a reserved bit', () => {
    const { vm } = vmWithCom1Interrupt();
    const cpu = vm.cpu, apicBit = (): number => { cpu.s[EAX] = 1; cpuid(cpu); return (cpu.s[EDX] >>> 9) & 1; };
    expect(readMsr(cpu, 0x1b)).toBe(0xfee00900n); // base 0xFEE00000, BSP, enabled
    expect(apicBit()).toBe(1);
    for (const bad of [1n, 1n << 9n, 1n << 40n]) expect(() => writeMsr(cpu, 0x1b, 0xfee00900n | bad)).toThrow(CpuFault);
    writeMsr(cpu, 0x1b, 0xfee00100n); // globally disabled
    expect(readMsr(cpu, 0x1b)).toBe(0xfee00100n);
    expect(apicBit()).toBe(0);
    expect(vm.memory.read(LOCAL_APIC_BASE + 0x30, 4) >>> 0).toBe(0xffffffff); // its registers are gone
    writeMsr(cpu, 0x1b, 0xfee00900n);
    expect(apicBit()).toBe(1);
  });

  it('are saved with the machine: a restored VM has the same local APIC and I/O APIC state', async () => {
    const { vm, raise } = vmWithCom1Interrupt();
    vm.memory.write(LOCAL_APIC_BASE + APIC_SVR, 4, 0x1ff);
    vm.memory.write(LOCAL_APIC_BASE + APIC_LVT_LINT0, 4, 0x700 | LVT_MASKED);
    ioApicWrite(vm, IOREDTBL + 2 * IRQ_COM1, 0x34);
    raise();
    const copy = await VM.fromState(vm.saveState());
    expect(copy.board.save()['local-apic']).toEqual(vm.board.save()['local-apic']);
    expect(copy.board.save()['io-apic']).toEqual(vm.board.save()['io-apic']);
    expect(copy.cpu.intr).toBe(IF);
    expect(copy.lapic.acknowledge()).toBe(0x34);
  });
});
