// The board: which devices a VM has, at which I/O ports, on which IRQ lines — as one description (pcBoard)
// rather than wiring inside the VM. The board is also the scheduler's view of the devices (the earliest next
// event of any of them) and the one place that saves and loads them all.
import { ACPI_PM_PORTS, AcpiPm } from '../devices/acpi-pm.ts';
import { CmosRtc } from '../devices/cmos-rtc.ts';
import { DebugConsole } from '../devices/debug-console.ts';
import { DebugExit } from '../devices/debug-exit.ts';
import { FpuErrorLatch } from '../devices/fpu-error.ts';
import { I8042 } from '../devices/i8042.ts';
import { IOAPIC_BASE, IOAPIC_SIZE, IOAPICID, IoApic, IOREGSEL, IOWIN } from '../devices/io-apic.ts';
import { APIC_BASE_ADDRESS, APIC_BASE_ENABLE, LocalApic } from '../devices/local-apic.ts';
import { PciHost } from '../devices/pci-host.ts';
import { ELCR_PORT, PicPair } from '../devices/pic8259.ts';
import { Pit8254, SystemControlPortB } from '../devices/pit8254.ts';
import { Uart16550 } from '../devices/uart16550.ts';
import type { Device, PortWindow } from './device.ts';
import { checkState, type PlainState, StateError } from './device-state.ts';
import type { IoBus } from './io-bus.ts';
import type { MmioDevice, PhysicalMemory } from './memory.ts';

/** A device as the board places it. */
export interface BoardSlot {
  /** The device's name in snapshots and diagnostics. */
  name: string;
  device: Device;
  ports: PortWindow[];
  /** Its memory-mapped registers, if any: a window of physical addresses above RAM. */
  mmio?: { base: number; size: number; handler: MmioDevice };
  /** The ISA IRQ line its interrupt output drives, if any (documentation and `snapshot --info`). */
  irq?: number;
  /**
   * For a device added to the board after snapshots were first written: the state it loads from a snapshot
   * without it (made before it existed) — its power-on state, all such a guest could have seen of it.
   */
  addedLater?: PlainState;
}

/** A saved device: its state layout's version and the state. */
export interface SavedDevice { version: number; state: unknown }

export class Board {
  readonly slots: readonly BoardSlot[];

  /**
   * `rescheduled` is called after every port access to a device that raises interrupts by itself: the
   * access may have moved its next event (a new PIT count, an RTC rate) before the end of the slice the run
   * loop planned — then the loop must plan again, else the event would arrive at the slice's end, a point
   * that moves when a run is split.
   */
  constructor(io: IoBus, slots: BoardSlot[], rescheduled: (device: Device) => void = () => {}, memory?: PhysicalMemory) {
    this.slots = slots;
    for (const slot of slots) {
      if (slot.mmio !== undefined) {
        if (memory === undefined) throw new Error(`board: '${slot.name}' has MMIO registers but the board was given no memory`);
        const h = slot.mmio.handler, device = slot.device;
        memory.mapMmio(slot.mmio.base, slot.mmio.size, device.nextEventNs === undefined ? h : {
          read: (offset, size) => { const v = h.read(offset, size); rescheduled(device); return v; },
          write: (offset, size, value) => { h.write(offset, size, value); rescheduled(device); },
        }, slot.name);
      }
      for (const w of slot.ports) {
        const h = w.handler;
        const handler = slot.device.nextEventNs === undefined ? h : {
          accessWidth: h.accessWidth,
          read: (offset: number, size: 1 | 2 | 4): number => { const v = h.read(offset, size); rescheduled(slot.device); return v; },
          write: (offset: number, size: 1 | 2 | 4, value: number): void => { h.write(offset, size, value); rescheduled(slot.device); },
        };
        io.register(w.base, w.count, handler, w.name);
      }
    }
  }

  /** Virtual time (ns) of the earliest interrupt any device will raise by itself, or Infinity. */
  nextEventNs(): number {
    let next = Infinity;
    for (const { device } of this.slots) if (device.nextEventNs) next = Math.min(next, device.nextEventNs());
    return next;
  }

  /** Bring every device up to the current virtual time. */
  update(): void {
    for (const { device } of this.slots) device.update?.();
  }

  save(): Record<string, SavedDevice> {
    const out: Record<string, SavedDevice> = {};
    for (const { name, device } of this.slots) out[name] = { version: device.stateVersion, state: device.save() };
    return out;
  }

  /**
   * Load every device from `saved`: all of them are checked (names, versions, schemas) before any is
   * loaded, so a refused state leaves the devices as they were. Throws StateError.
   */
  load(saved: unknown): void {
    if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) throw new StateError('devices: expected an object');
    const s = saved as Record<string, unknown>;
    for (const name of Object.keys(s)) if (!this.slots.some((slot) => slot.name === name)) throw new StateError(`devices: this board has no device '${name}'`);
    const states = new Map<string, PlainState>();
    for (const { name, device, addedLater } of this.slots) {
      const d = s[name] as SavedDevice | undefined;
      if (d === undefined && addedLater !== undefined) { states.set(name, addedLater); continue; }
      if (typeof d !== 'object' || d === null) throw new StateError(`devices: '${name}' is missing`);
      let { version, state } = d;
      for (let step = device.stateUpgrades?.find((u) => u.from === version); step; step = device.stateUpgrades?.find((u) => u.from === version)) {
        checkState(step.schema, state, name);
        state = step.upgrade(state);
        version = step.from + 1;
      }
      if (version !== device.stateVersion) {
        throw new StateError(`devices: '${name}' was saved with state version ${d.version}; this x86jit has version ${device.stateVersion}`);
      }
      checkState(device.stateSchema, state, name);
      states.set(name, state);
    }
    for (const { name, device } of this.slots) device.load(states.get(name)!);
  }
}

/** What the PC board's devices are connected to outside the board. */
export interface BoardHost {
  /** Virtual time in ns (VM.nowNs). */
  nowNs(): number;
  /** The RTC's time source in UTC ms (virtual epoch + virtual time, or the host clock). */
  rtcNowMs(): number;
  /** The local APIC's INTR output to the CPU may have changed level: this is its level now. */
  intr(level: boolean): void;
  /** A byte the guest sent out of COM1. */
  com1(byte: number): void;
  /** A byte written to the 0xE9 debug console. */
  debugcon(byte: number): void;
  /** isa-debug-exit was written. */
  debugExit(status: number): void;
  /** The guest pulled the reset line (8042 command 0xFE, PIIX3 0xCF9): `how` names the way, for the exit message. */
  reset(how: string): void;
  /** The guest powered the machine off (ACPI S5). */
  powerOff(): void;
  /** `device`'s next event may have moved (see Board's constructor). */
  rescheduled(device: Device): void;
}

/** ISA IRQ lines of the PC/AT. */
export const IRQ_PIT = 0, IRQ_KEYBOARD = 1, IRQ_COM1 = 4, IRQ_RTC = 8, IRQ_MOUSE = 12, IRQ_FPU = 13;
/** The ACPI SCI's line and the PM device's ports (PMBASE), as QEMU's pc machine (PIIX4) has them: the FADT names both. */
export const IRQ_SCI = 9, ACPI_PM_BASE = 0x600;
/** Where the local APIC's and the I/O APIC's registers are (their power-on addresses; the MADT names both). */
export const LOCAL_APIC_BASE = APIC_BASE_ADDRESS, IO_APIC_BASE = IOAPIC_BASE;
/**
 * The I/O APIC's ID, as the firmware programs it and the MADT gives it: a P6's local and I/O APICs share one
 * APIC bus and its 4-bit IDs, so the I/O APIC takes the one after the CPU's 0 (with 0, Linux logs "apic_id 0
 * already used, trying 1" and renumbers it; QEMU's xAPIC CPU has no such bus, and keeps 0).
 */
export const IO_APIC_ID = 1;

/** The devices of the PC board, wired. */
export interface PcBoard {
  board: Board;
  pic: PicPair;
  /** The CPU's local APIC: what the CPU takes interrupts from (the 8259s' through its LINT0). */
  lapic: LocalApic;
  ioApic: IoApic;
  pit: Pit8254;
  rtc: CmosRtc;
  uart: Uart16550;
  i8042: I8042;
  pci: PciHost;
  acpiPm: AcpiPm;
  fpuError: FpuErrorLatch;
}

/**
 * The ISA IRQs wired to the I/O APIC otherwise than the ISA default (its pin = the IRQ, edge, active high),
 * as on QEMU's pc machine — the MADT's Interrupt Source Overrides (flags: polarity bits 1:0, trigger 3:2):
 * the PIT's IRQ 0 drives pin 2; the SCI (9) and the PCI interrupt lines the PIIX routes (5, 10, 11) are
 * level-triggered, active high.
 */
export const IRQ_OVERRIDES: readonly { irq: number; gsi: number; flags: number }[] = [
  { irq: 0, gsi: 2, flags: 0 },
  { irq: 5, gsi: 5, flags: 0x0d },
  { irq: IRQ_SCI, gsi: IRQ_SCI, flags: 0x0d },
  { irq: 10, gsi: 10, flags: 0x0d },
  { irq: 11, gsi: 11, flags: 0x0d },
];
/**
 * What a snapshot made before the board had APICs restores them to. Its guest saw a CPU whose CPUID showed no
 * APIC: the local APIC is disabled in IA32_APIC_BASE (CPUID then says none again, and the 8259s' INTR goes
 * straight to the CPU), the I/O APIC as at power-on (every pin masked).
 */
const LOCAL_APIC_BEFORE = (() => {
  const apic = new LocalApic({ nowNs: () => 0, onChange: () => {}, extInt: { hasInterrupt: () => false, acknowledge: () => 0 }, onEoi: () => {} });
  apic.writeBaseMsr(apic.readBaseMsr() & ~APIC_BASE_ENABLE);
  return apic.save();
})();
const IO_APIC_BEFORE = ioApicAsFirmwareLeavesIt(new IoApic({ deliver: () => {}, deliverExtInt: () => {} })).save();

/** The I/O APIC as a PC firmware hands it over: its ID programmed (IO_APIC_ID), every pin still masked. */
function ioApicAsFirmwareLeavesIt(ioApic: IoApic): IoApic {
  ioApic.write(IOREGSEL, 4, IOAPICID);
  ioApic.write(IOWIN, 4, IO_APIC_ID << 24);
  ioApic.write(IOREGSEL, 4, 0);
  return ioApic;
}

/** The I/O APIC input each ISA IRQ drives. */
export const gsiOfIrq = (irq: number): number => IRQ_OVERRIDES.find((o) => o.irq === irq)?.gsi ?? irq;

/**
 * The PC board x86jit emulates: the CPU's local APIC and an I/O APIC, two 8259 PICs with the PIIX's ELCR, the 8254 PIT with port 0x61, the 8042 keyboard controller
 * with a PS/2 keyboard and mouse, the CMOS RTC, a 16550 UART as COM1, PCI configuration mechanism #1 with
 * the i440FX host bridge and PIIX3 ISA bridge, QEMU's 0xE9 debug console, isa-debug-exit at 0xF4 and the
 * ACPI PM registers at 0x600 (PIIX4's PMBASE on QEMU's pc machine).
 *
 * Interrupts, as on QEMU's pc machine: every ISA IRQ line drives both an 8259 input and an I/O APIC pin
 * (gsiOfIrq); the I/O APIC sends its messages to the local APIC, whose LINT0 takes the 8259s' INTR (ExtINT,
 * as the firmware leaves it) until the OS masks it; the CPU takes every interrupt from the local APIC. The
 * 8259s' INTR is not also wired to I/O APIC pin 0 (QEMU's is): Linux uses that path only when the timer
 * does not reach pin 2, and it does here.
 */
export function pcBoard(io: IoBus, memory: PhysicalMemory, host: BoardHost): PcBoard {
  const intrChanged = (): void => host.intr(lapic.hasInterrupt());
  const pic: PicPair = new PicPair({ onChange: intrChanged });
  const lapic: LocalApic = new LocalApic({ nowNs: host.nowNs, onChange: intrChanged, extInt: pic, onEoi: (vector) => ioApic.eoi(vector) });
  const ioApic: IoApic = new IoApic({
    deliver: (vector, level, dest, logical) => { if (lapic.matchesDestination(dest, logical)) lapic.acceptInterrupt(vector, level); },
    deliverExtInt: () => {}, // no pin carries the 8259s' INTR (see above), so no entry in ExtINT mode ever fires
  });
  ioApicAsFirmwareLeavesIt(ioApic);
  const irq = (line: number) => (level: boolean) => { pic.setIrq(line, level); ioApic.setIrq(gsiOfIrq(line), level); };
  const pit = new Pit8254({ now: host.nowNs, onIrq0: irq(IRQ_PIT) });
  const rtc = new CmosRtc({ nowMs: host.rtcNowMs, nowNs: host.nowNs, onIrq8: irq(IRQ_RTC) });
  const uart = new Uart16550({ onTransmit: host.com1, onIrq: irq(IRQ_COM1) });
  const port61 = new SystemControlPortB(pit, host.nowNs);
  const i8042 = new I8042({ onIrq1: irq(IRQ_KEYBOARD), onIrq12: irq(IRQ_MOUSE), onReset: host.reset });
  const pci = new PciHost({ onReset: host.reset });
  const debugcon = new DebugConsole({ onOutput: host.debugcon });
  const debugExit = new DebugExit({ onExit: host.debugExit });
  const acpiPm = new AcpiPm({ nowNs: host.nowNs, onSci: irq(IRQ_SCI), onPowerOff: host.powerOff });
  const fpuError = new FpuErrorLatch(irq(IRQ_FPU));
  const board = new Board(io, [
    { name: 'pic', device: pic, ports: [{ base: 0x20, count: 2, name: 'pic-master', handler: pic.master }, { base: 0xa0, count: 2, name: 'pic-slave', handler: pic.slave }, { base: ELCR_PORT, count: 2, name: 'elcr', handler: pic.elcrPorts }] },
    { name: 'pit', device: pit, ports: [{ base: 0x40, count: 4, name: 'pit', handler: pit }], irq: IRQ_PIT },
    { name: 'i8042', device: i8042, ports: [{ base: 0x60, count: 1, name: 'i8042-data', handler: i8042.dataPort }, { base: 0x64, count: 1, name: 'i8042-command', handler: i8042.commandPort }], irq: IRQ_KEYBOARD },
    { name: 'port61', device: port61, ports: [{ base: 0x61, count: 1, name: 'port61', handler: port61 }] },
    { name: 'cmos', device: rtc, ports: [{ base: 0x70, count: 2, name: 'cmos', handler: rtc }], irq: IRQ_RTC },
    { name: 'com1', device: uart, ports: [{ base: 0x3f8, count: 8, name: 'COM1', handler: uart }], irq: IRQ_COM1 },
    { name: 'pci', device: pci, ports: [{ base: 0xcf8, count: 8, name: 'pci-config', handler: pci }] },
    { name: 'debugcon', device: debugcon, ports: [{ base: 0xe9, count: 1, name: 'debugcon', handler: debugcon }] },
    { name: 'isa-debug-exit', device: debugExit, ports: [{ base: 0xf4, count: 4, name: 'isa-debug-exit', handler: debugExit }] },
    { name: 'fpu-error', device: fpuError, ports: [{ base: 0xf0, count: 1, name: 'fpu-error', handler: fpuError }], irq: IRQ_FPU, addedLater: { ignne: false, irq: false } },
    { name: 'acpi-pm', device: acpiPm, ports: [{ base: ACPI_PM_BASE, count: ACPI_PM_PORTS, name: 'acpi-pm', handler: acpiPm }], irq: IRQ_SCI },
    { name: 'local-apic', device: lapic, ports: [], mmio: { base: LOCAL_APIC_BASE, size: 0x1000, handler: lapic }, addedLater: LOCAL_APIC_BEFORE },
    { name: 'io-apic', device: ioApic, ports: [], mmio: { base: IO_APIC_BASE, size: IOAPIC_SIZE, handler: ioApic }, addedLater: IO_APIC_BEFORE },
  ], host.rescheduled, memory);
  return { board, pic, lapic, ioApic, pit, rtc, uart, i8042, pci, acpiPm, fpuError };
}
