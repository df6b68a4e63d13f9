// One PCI function's 256-byte configuration space (type 0 header), with the write rules QEMU's hw/pci/pci.c
// applies to every device it models: vendor, device, revision, class, header type, subsystem IDs, BARs and
// the capability pointer are read-only; the command register's I/O, memory, bus-master, SERR and
// INTx-disable bits (0x0507), the cache line size and the interrupt line are writable; so is every byte of
// the device-specific area 0x40-0xFF. Status error bits are write-1-to-clear (they never get set here: no
// device masters the bus). Multi-byte accesses are little-endian.
//
// Device-specific registers are storage only: writing the i440FX's PAM or SMRAM registers, or the PIIX3's
// PIRQ routing, changes nothing else (x86jit has no BIOS shadow RAM to remap, and no PCI device that
// raises INTx).
import { StateError } from '../machine/device-state.ts';

export const PCI_VENDOR_ID = 0x00, PCI_COMMAND = 0x04, PCI_STATUS = 0x06, PCI_REVISION_ID = 0x08, PCI_CACHE_LINE_SIZE = 0x0c,
  PCI_HEADER_TYPE = 0x0e, PCI_SUBSYSTEM_VENDOR_ID = 0x2c, PCI_INTERRUPT_LINE = 0x3c;
export const PCI_COMMAND_IO = 0x1, PCI_COMMAND_MEMORY = 0x2, PCI_COMMAND_MASTER = 0x4, PCI_COMMAND_SERR = 0x100, PCI_COMMAND_INTX_DISABLE = 0x400;
/** Status bits 8 and 11-15: parity and abort errors, cleared by writing 1. */
const PCI_STATUS_W1C = 0xf900;
export const HEADER_MULTI_FUNCTION = 0x80;

export interface PciFunctionSpec {
  /** For diagnostics and saved-state errors. */
  name: string;
  vendor: number;
  device: number;
  revision: number;
  /** Base class, subclass and programming interface (0x060000 = host bridge). */
  classCode: number;
  headerType: number;
  subsystemVendor: number;
  subsystem: number;
  command: number;
  status: number;
  /** Power-on values of device-specific registers (offset → byte). */
  registers?: Record<number, number>;
}

export class PciFunction {
  readonly name: string;
  readonly config = new Uint8Array(256);
  private readonly writable = new Uint8Array(256);
  private readonly clearable = new Uint8Array(256);
  private readonly powerOn = new Uint8Array(256);

  constructor(spec: PciFunctionSpec) {
    this.name = spec.name;
    const c = new DataView(this.powerOn.buffer);
    c.setUint16(PCI_VENDOR_ID, spec.vendor, true);
    c.setUint16(PCI_VENDOR_ID + 2, spec.device, true);
    c.setUint16(PCI_COMMAND, spec.command, true);
    c.setUint16(PCI_STATUS, spec.status, true);
    c.setUint32(PCI_REVISION_ID, ((spec.classCode << 8) | spec.revision) >>> 0, true);
    c.setUint8(PCI_HEADER_TYPE, spec.headerType);
    c.setUint16(PCI_SUBSYSTEM_VENDOR_ID, spec.subsystemVendor, true);
    c.setUint16(PCI_SUBSYSTEM_VENDOR_ID + 2, spec.subsystem, true);
    for (const [reg, v] of Object.entries(spec.registers ?? {})) this.powerOn[Number(reg)] = v;
    const w = new DataView(this.writable.buffer);
    w.setUint16(PCI_COMMAND, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE, true);
    w.setUint8(PCI_CACHE_LINE_SIZE, 0xff);
    w.setUint8(PCI_INTERRUPT_LINE, 0xff);
    this.writable.fill(0xff, 0x40);
    new DataView(this.clearable.buffer).setUint16(PCI_STATUS, PCI_STATUS_W1C, true);
    this.config.set(this.powerOn);
  }

  /** `size` bytes from register `reg` (reg + size <= 256), little-endian. */
  read(reg: number, size: 1 | 2 | 4): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + this.config[reg + i];
    return v;
  }

  write(reg: number, size: 1 | 2 | 4, value: number): void {
    for (let i = 0; i < size; i++) {
      const b = (value >>> (8 * i)) & 0xff, r = reg + i, wm = this.writable[r];
      this.config[r] = ((this.config[r] & ~wm) | (b & wm)) & ~(b & this.clearable[r]);
    }
  }

  /** Take a saved configuration space: its read-only bytes must be this function's (a snapshot cannot change what the device is). */
  load(bytes: readonly number[]): void {
    for (let r = 0; r < 256; r++) {
      const fixed = ~this.writable[r] & 0xff;
      if ((bytes[r] & fixed) !== (this.powerOn[r] & fixed)) throw new StateError(`pci: ${this.name}: read-only register 0x${r.toString(16)} differs from the device's`);
    }
    this.config.set(bytes);
  }
}
