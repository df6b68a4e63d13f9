// The SMBIOS (DMI) tables a PC firmware leaves for the OS (DMTF DSP0134 2.8, with the 2.1 entry point that
// SeaBIOS also writes for QEMU's pc machine), for boots without a BIOS (the Linux boot protocol): who made
// the firmware and the machine, the processor, and the RAM. Linux reads them at boot ("DMI: x86jit
// Standard PC (i440FX + PIIX3), BIOS …") and offers them in /sys/class/dmi; without them it says "DMI not
// present or invalid". The structures are those QEMU gives: BIOS (type 0), system (1), chassis (3),
// processor (4), the memory array, device and its mapping (16, 17, 19), boot status (32), end (127).
//
// The OS finds the entry point by scanning 0xF0000–0xFFFFF for "_SM_" on a 16-byte boundary (§5.2.1); the
// structure table follows it, inside the BIOS area the loader's E820 map reserves.
import type { PhysicalMemory } from '../machine/memory.ts';
import { ByteRecord, checksum } from './table-bytes.ts';

/** Where the entry point goes: the start of the area the OS scans for it. */
export const SMBIOS_BASE = 0xf0000;
/** The structure table's offset from the entry point (the entry point is 31 bytes). */
const TABLE_OFFSET = 0x20;

/** What the tables describe that the board decides. */
export interface SmbiosMachine {
  /** Guest RAM in bytes (one memory device holds it all). */
  ramSize: number;
  /** CPUID leaf 1's EAX (family, model, stepping) and EDX (features): the processor's ID. */
  cpuidEax: number;
  cpuidEdx: number;
  /** The processor's speed in MHz (the virtual clock's: one instruction per ns is 1,000 MHz). */
  mhz: number;
}

export interface SmbiosTables {
  /** Guest-physical address of the entry point; the structure table follows at address + 0x20. */
  address: number;
  bytes: Uint8Array;
  /** Each structure's type, in order. */
  types: number[];
}

/** The firmware's name and version as the BIOS structure gives them (Linux prints them in its DMI line). */
const VENDOR = 'x86jit';
const BIOS_VERSION = 'x86jit Linux loader';
/**
 * The release date of the SeaBIOS QEMU's pc machine runs. Linux chooses PCI quirks by the BIOS year (6.1:
 * from 2023 it ignores E820 reservations in host bridge windows, before 2008 the windows in _CRS): with
 * this date it makes QEMU's choices ("PCI: Using E820 reservations for host bridge windows").
 */
const BIOS_DATE = '04/01/2014';
const PRODUCT = 'Standard PC (i440FX + PIIX3)';

/** One structure: its formatted area (type, length and handle filled in here) and its strings. */
class Structure extends ByteRecord {
  private readonly strings: string[] = [];
  constructor(type: number, length: number, handle: number) {
    super(length);
    this.u8(0, type).u8(1, length).u16(2, handle);
  }
  /** A string field: its 1-based number in the structure's string set (0, "none", for an empty string). */
  str(offset: number, text: string): this {
    if (text !== '') { this.strings.push(text); this.bytes[offset] = this.strings.length; }
    return this;
  }
  /** The formatted area, then each string NUL-terminated, then one more NUL (two when there are none). */
  encode(): Uint8Array {
    const tail = this.strings.length === 0 ? [0, 0] : [...this.strings.flatMap((t) => [...t].map((ch) => ch.charCodeAt(0) & 0x7f).concat(0)), 0];
    const out = new Uint8Array(this.bytes.length + tail.length);
    out.set(this.bytes); out.set(tail, this.bytes.length);
    return out;
  }
}

/** The bytes of the tables with the entry point at `base` (`base` = 0 gives dmidecode's --dump-bin layout). */
export function buildSmbiosTables(m: SmbiosMachine, base = SMBIOS_BASE): SmbiosTables {
  const ramKiB = Math.floor(m.ramSize / 1024), ramMiB = Math.floor(m.ramSize / (1 << 20));
  const MEMORY_ARRAY = 0x1000, NO_ERROR_INFO = 0xfffe, NONE = 0xffff;
  const structures = [
    // BIOS: starting segment 0xF000, 64 KiB of ROM, "characteristics not supported" (bit 3), release 1.0.
    new Structure(0, 0x18, 0x0000).str(4, VENDOR).str(5, BIOS_VERSION).u16(6, 0xf000).str(8, BIOS_DATE)
      .u32(10, 1 << 3).u8(20, 1).u8(21, 0).u8(22, 0xff).u8(23, 0xff),
    // System: no serial number, no UUID (all zeros: "not present"), woken by the power switch (6).
    new Structure(1, 0x1b, 0x0100).str(4, VENDOR).str(5, PRODUCT).str(6, '1.0').u8(24, 6),
    // Chassis: type "other" (1), states "safe" (3), security status "unknown" (2).
    new Structure(3, 0x15, 0x0300).str(4, VENDOR).u8(5, 1).u8(9, 3).u8(10, 3).u8(11, 3).u8(12, 2),
    // Processor: central (3), family Pentium Pro (0x0C), populated and enabled (0x41), no caches listed.
    new Structure(4, 0x23, 0x0400).str(4, 'CPU 0').u8(5, 3).u8(6, 0x0c).str(7, 'GenuineIntel')
      .u32(8, m.cpuidEax).u32(12, m.cpuidEdx).str(16, 'Pentium Pro').u16(20, m.mhz).u16(22, m.mhz)
      .u8(24, 0x41).u8(25, 1).u16(26, NONE).u16(28, NONE).u16(30, NONE),
    // Physical memory array: on the system board (3), system memory (3), no error correction (3), one device.
    new Structure(16, 0x0f, MEMORY_ARRAY).u8(4, 3).u8(5, 3).u8(6, 3).u32(7, ramKiB).u16(11, NO_ERROR_INFO).u16(13, 1),
    // Memory device: all of RAM in one DIMM (9) of type RAM (7), type detail "other" (bit 1).
    new Structure(17, 0x1b, 0x1100).u16(4, MEMORY_ARRAY).u16(6, NO_ERROR_INFO).u16(8, NONE).u16(10, NONE)
      .u16(12, ramMiB).u8(14, 9).str(16, 'DIMM 0').u8(18, 7).u16(19, 1 << 1),
    // The array's mapped addresses, in KiB, the end inclusive; partition width 1.
    new Structure(19, 0x0f, 0x1300).u32(4, 0).u32(8, ramKiB - 1).u16(12, MEMORY_ARRAY).u8(14, 1),
    // System boot information: no errors.
    new Structure(32, 0x0b, 0x2000),
    new Structure(127, 0x04, 0x7f00),
  ];
  const encoded = structures.map((s) => s.encode());
  const tableLength = encoded.reduce((n, e) => n + e.length, 0);
  const eps = new ByteRecord(TABLE_OFFSET + tableLength), bytes = eps.bytes;
  let at = TABLE_OFFSET;
  for (const e of encoded) { bytes.set(e, at); at += e.length; }

  eps.ascii(0, '_SM_')
    .u8(5, 0x1f)                                                        // entry point length
    .u8(6, 2).u8(7, 8)                                                  // SMBIOS 2.8
    .u16(8, Math.max(...encoded.map((e) => e.length)))                  // the largest structure
    .ascii(16, '_DMI_')
    .u16(22, tableLength)
    .u32(24, base + TABLE_OFFSET)
    .u16(28, structures.length)
    .u8(30, 0x28);                                                      // BCD revision 2.8
  // Checksums (their bytes still 0): the intermediate entry point (bytes 16–30), then all 31 bytes.
  eps.u8(21, checksum(bytes.subarray(16, 31)));
  eps.u8(4, checksum(bytes.subarray(0, 31)));
  return { address: base, bytes, types: structures.map((s) => s.bytes[0]) };
}

/** Build the tables and write them into guest memory at SMBIOS_BASE. */
export function writeSmbiosTables(memory: PhysicalMemory, m: SmbiosMachine): SmbiosTables {
  const t = buildSmbiosTables(m);
  memory.writeBytes(t.address, t.bytes);
  return t;
}
