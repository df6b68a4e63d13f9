// PCI configuration mechanism #1 at ports 0xCF8-0xCFF, and bus 0 as QEMU's `-M pc` begins it: the Intel
// 440FX host bridge at 00:00.0 and the PIIX3 PCI-to-ISA bridge at 00:01.0 (QEMU's IDE at 01.1 and ACPI
// power management at 01.3 are not modelled: those functions read as absent).
//
// CONFIG_ADDRESS (0xCF8) is written only by a dword OUT: bit 31 enables, bits 23-16 bus, 15-11 device,
// 10-8 function, 7-2 register; bits 30-24 and 1-0 are ignored. Reads of 0xCF8-0xCFB return CONFIG_ADDRESS
// cut to the access size, not shifted by the port (QEMU 7.2 does this; checked), except a byte at 0xCF9,
// which is the PIIX3's reset control register (bit 1 kept; writing bit 2 resets the machine, Linux's
// `reboot=pci`). Byte and word writes to 0xCF8-0xCFB do nothing, so the probe Linux's
// arch/x86/pci/direct.c runs (outb 0x01 to 0xCFB, then the dword 0x80000000 must read back) finds
// mechanism #1 and never tries #2. The data window 0xCFC-0xCFF reaches register (CONFIG_ADDRESS & 0xFC) +
// (port - 0xCFC) in any width; with bit 31 clear, or for an absent function, reads are all ones and writes
// are dropped.
import type { StateOf, StateSchema } from '../machine/device-state.ts';
import { HEADER_MULTI_FUNCTION, PciFunction } from './pci-function.ts';

/** QEMU gives every PCI device Red Hat's subsystem IDs. */
const QEMU_SUBSYSTEM_VENDOR = 0x1af4, QEMU_SUBSYSTEM = 0x1100;

/** The 82441FX PMC (QEMU's i440fx): SMRAM register 0x72 = 0x02 at power-on. */
export const i440fxSpec = {
  name: '00:00.0 i440FX', vendor: 0x8086, device: 0x1237, revision: 0x02, classCode: 0x060000, headerType: 0,
  subsystemVendor: QEMU_SUBSYSTEM_VENDOR, subsystem: QEMU_SUBSYSTEM, command: 0, status: 0, registers: { 0x72: 0x02 },
};

/** The 82371SB PIIX3 function 0 (ISA bridge): its datasheet's power-on values, as QEMU's piix3_reset sets them. */
export const piix3Spec = {
  name: '00:01.0 PIIX3', vendor: 0x8086, device: 0x7000, revision: 0x00, classCode: 0x060100, headerType: HEADER_MULTI_FUNCTION,
  subsystemVendor: QEMU_SUBSYSTEM_VENDOR, subsystem: QEMU_SUBSYSTEM, command: 0x0007, status: 0x0200,
  registers: {
    0x4c: 0x4d, 0x4e: 0x03, 0x60: 0x80, 0x61: 0x80, 0x62: 0x80, 0x63: 0x80, // PIRQA-D routing: disabled
    0x69: 0x02, 0x70: 0x80, 0x76: 0x0c, 0x77: 0x0c, 0x78: 0x02, 0xa0: 0x08, 0xa8: 0x0f,
  },
};

const ENABLE = 0x80000000;
/** The PIIX3 reset control register's bits: 1 system (hard) reset type, 2 reset CPU. */
const RCR_SYS_RST = 0x02, RCR_RST_CPU = 0x04;

const PCI_STATE = {
  configAddress: 'u32', resetControl: 'u8', hostBridge: { bytes: 256 }, isaBridge: { bytes: 256 },
} as const satisfies StateSchema;

export interface PciHostOptions {
  /** The guest asked for a reset through the PIIX3's reset control register. */
  onReset?(how: string): void;
}

export class PciHost {
  readonly accessWidth = 4;
  readonly hostBridge = new PciFunction(i440fxSpec);
  readonly isaBridge = new PciFunction(piix3Spec);
  private readonly onReset: (how: string) => void;
  private configAddress = 0;
  private resetControl = 0;

  constructor(opts: PciHostOptions = {}) {
    this.onReset = opts.onReset ?? (() => {});
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = PCI_STATE;

  save(): StateOf<typeof PCI_STATE> {
    return { configAddress: this.configAddress, resetControl: this.resetControl, hostBridge: [...this.hostBridge.config], isaBridge: [...this.isaBridge.config] };
  }

  load(v: StateOf<typeof PCI_STATE>): void {
    this.hostBridge.load(v.hostBridge);
    this.isaBridge.load(v.isaBridge);
    this.configAddress = v.configAddress;
    this.resetControl = v.resetControl & RCR_SYS_RST;
  }

  /** Offsets from 0xCF8. */
  read(offset: number, size: 1 | 2 | 4): number {
    if (offset < 4) {
      if (offset === 1 && size === 1) return this.resetControl;
      return size === 4 ? this.configAddress : this.configAddress & (size === 1 ? 0xff : 0xffff);
    }
    const fn = this.selected();
    if (fn === null) return size === 4 ? 0xffffffff : size === 1 ? 0xff : 0xffff;
    return fn.read((this.configAddress & 0xfc) + offset - 4, size);
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset < 4) {
      if (offset === 0 && size === 4) this.configAddress = value >>> 0;
      else if (offset === 1 && size === 1) {
        if (value & RCR_RST_CPU) this.onReset('PIIX3 reset control register 0xCF9');
        else this.resetControl = value & RCR_SYS_RST;
      }
      return;
    }
    this.selected()?.write((this.configAddress & 0xfc) + offset - 4, size, value);
  }

  /** The function CONFIG_ADDRESS selects, or null (disabled, or nothing there). */
  private selected(): PciFunction | null {
    const a = this.configAddress;
    if (!(a & ENABLE) || (a & 0x00ff0700) !== 0) return null; // bus 0, function 0 only
    const device = (a >>> 11) & 0x1f;
    return device === 0 ? this.hostBridge : device === 1 ? this.isaBridge : null;
  }
}
