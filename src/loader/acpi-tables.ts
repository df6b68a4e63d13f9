// The ACPI tables a PC firmware leaves for the OS (ACPI 1.0b, the layout QEMU's pc machine uses: RSDP
// revision 0, RSDT, a revision-1 FADT), for boots without a BIOS (the Linux boot protocol). They describe
// the board's ACPI PM device (src/devices/acpi-pm.ts), its interrupt controllers — a MADT listing the CPU's
// local APIC and the I/O APIC, with the ISA interrupt overrides QEMU's pc machine has (IRQ 0 on GSI 2, the
// SCI and PCI lines level-triggered) — and the PCI root bridge: a DSDT with \_S5 (the sleep type that powers
// off) and \_SB.PCI0 (PNP0A03) — an OS in ACPI mode finds PCI root buses only in the namespace, so without it
// Linux would not scan the bus that configuration mechanism #1 (src/devices/pci-host.ts) answers for.
//
// Everything sits in one block in the BIOS area, which the OS scans for the RSDP ("RSD PTR " on a 16-byte
// boundary in 0xE0000–0xFFFFF, ACPI 1.0b §5.2.4.1); the loader's E820 map reserves the block.
import type { PhysicalMemory } from '../machine/memory.ts';
import { ByteRecord, checksum } from './table-bytes.ts';

/** Where the tables go: the start of the BIOS area the OS scans for the RSDP. */
export const ACPI_TABLES_BASE = 0xe0000;

/** The ports and interrupt line of the ACPI PM device the FADT describes. */
export interface AcpiPmResources {
  /** PM1a_EVT_BLK (4 ports: PM1_STS, PM1_EN). */
  pm1aEvt: number;
  /** PM1a_CNT_BLK (2 ports). */
  pm1aCnt: number;
  /** PM_TMR_BLK (4 ports, a 24-bit counter). */
  pmTmr: number;
  /** SCI_INT: the ISA IRQ of the SCI. */
  sciIrq: number;
  /** The SLP_TYP value of S5 (soft-off) in PM1_CNT. */
  s5SleepType: number;
  /** The CMOS RAM index of the century (FADT CENTURY; 0 = none). */
  cmosCentury: number;
  /** Guest RAM size: the PCI root bridge's memory window starts above it. */
  ramSize: number;
  /** The local APIC's and the I/O APIC's physical addresses and the board's IRQ overrides (the MADT), or null for a board without them (no MADT). */
  apic: MadtResources | null;
}

export interface AcpiTables {
  /** Guest-physical address of the block (and of the RSDP, its first 20 bytes). */
  address: number;
  bytes: Uint8Array;
  /** Each table's address and length, by signature ('RSD PTR ', 'RSDT', 'FACP', 'FACS', 'DSDT', 'APIC'). */
  tables: Record<string, { address: number; length: number }>;
}

/**
 * What the MADT describes. `overrides`: the ISA IRQs whose I/O APIC input (GSI) or trigger mode differ from
 * the ISA default (edge, active high, GSI = IRQ) — MADT Interrupt Source Override flags (ACPI 1.0b
 * §5.2.8.3.1): polarity in bits 1:0, trigger mode in bits 3:2 (0 conforms to the bus).
 */
export interface MadtResources {
  localApic: number;
  ioApic: number;
  ioApicId: number;
  overrides: readonly { irq: number; gsi: number; flags: number }[];
}

const OEM_ID = 'X86JIT';
const OEM_TABLE_ID = 'X86JITPC';
const CREATOR_ID = 'XJIT';
const HEADER = 36;

/** FADT flags (ACPI 1.0b table 5-9): WBINVD works, C1 (HLT) on all processors, no sleep button. */
const FADT_WBINVD = 1 << 0, FADT_PROC_C1 = 1 << 2, FADT_SLP_BUTTON = 1 << 5;
/** P_LVL2_LAT / P_LVL3_LAT above 100 / 1000 µs: no C2 or C3 state (QEMU's value). */
const NO_C2 = 0xfff, NO_C3 = 0xfff;

/**
 * The DSDT's AML (ACPI 1.0b chapter 16): `Name (_S5, Package (0x04) { S5, S5, Zero, Zero })` — the S5 SLP_TYP
 * for PM1a_CNT and PM1b_CNT, then two reserved elements, as QEMU's DSDT has it.
 *   08           NameOp
 *   5F 53 35 5F  NameSeg "_S5_"
 *   12           PackageOp
 *   06           PkgLength (this byte, NumElements and the four elements)
 *   04           NumElements
 *   0A nn        BytePrefix SLP_TYP (or 00 ZeroOp when it is 0), twice; then 00 00 (ZeroOp, ZeroOp)
 */
export function s5Aml(sleepType: number): number[] {
  const element = sleepType === 0 ? [0x00] : [0x0a, sleepType];
  const body = [0x04, ...element, ...element, 0x00, 0x00];
  return [0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, body.length + 1, ...body];
}

/** AML PkgLength (ACPI 1.0b §16.2.4) for `content` bytes that follow it: the encoding counts its own bytes. */
export function pkgLength(content: number): number[] {
  if (content + 1 <= 0x3f) return [content + 1];
  const total = content + (content + 2 < 0x1000 ? 2 : 3);
  return total < 0x1000 ? [0x40 | (total & 0xf), total >> 4] : [0x80 | (total & 0xf), (total >> 4) & 0xff, total >> 12];
}

const le = (v: number, n: number): number[] => Array.from({ length: n }, (_, i) => Math.floor(v / 2 ** (8 * i)) & 0xff);
const nameSeg = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
/** Word address-space descriptor (§6.4.3.5.3), a producer with fixed minimum and maximum: type 1 I/O, 2 bus numbers. */
const wordRange = (type: number, min: number, max: number, typeFlags: number): number[] =>
  [0x88, 0x0d, 0x00, type, 0x0c, typeFlags, ...le(0, 2), ...le(min, 2), ...le(max, 2), ...le(0, 2), ...le(max - min + 1, 2)];
/** DWord memory descriptor (§6.4.3.5.2): producer, fixed, cacheable, read-write. */
const dwordMemory = (min: number, max: number): number[] =>
  [0x87, 0x17, 0x00, 0x00, 0x0c, 0x03, ...le(0, 4), ...le(min, 4), ...le(max, 4), ...le(0, 4), ...le(max - min + 1, 4)];

/**
 * `Device (\_SB.PCI0) { Name (_HID, EisaId ("PNP0A03")); Name (_ADR, Zero); Name (_CRS, ResourceTemplate () {
 * WordBusNumber 0–0xFF; WordIO 0–0xCF7 and 0xD00–0xFFFF; DWordMemory 0xA0000–0xBFFFF (VGA) and from the end of
 * RAM to 0xFEBFFFFF }) }` — the root bridge and windows of QEMU's pc machine, without its _PRT (no PCI device
 * here raises an interrupt).
 *   5B 82 PkgLength 5C 2E "_SB_" "PCI0"    DeviceOp, \ and a dual name
 *   08 "_HID" 0C 41 D0 0A 03               EisaId "PNP0A03": PNP compressed big-endian, then 0A03
 *   08 "_ADR" 00
 *   08 "_CRS" 11 PkgLength 0A nn …  79 00   a buffer of resource descriptors, EndTag with checksum 0
 */
export function pciRootAml(ramSize: number): number[] {
  const crs = [
    ...wordRange(2, 0x00, 0xff, 0),
    ...wordRange(1, 0x0000, 0x0cf7, 3), // _RNG 3: ISA and non-ISA ranges
    ...wordRange(1, 0x0d00, 0xffff, 3),
    ...dwordMemory(0xa0000, 0xbffff),
    ...dwordMemory(ramSize, 0xfebfffff),
    0x79, 0x00,
  ];
  const buffer = [0x0a, crs.length, ...crs];
  const body = [
    0x5c, 0x2e, ...nameSeg('_SB_'), ...nameSeg('PCI0'),
    0x08, ...nameSeg('_HID'), 0x0c, 0x41, 0xd0, 0x0a, 0x03,
    0x08, ...nameSeg('_ADR'), 0x00,
    0x08, ...nameSeg('_CRS'), 0x11, ...pkgLength(buffer.length), ...buffer,
  ];
  return [0x5b, 0x82, ...pkgLength(body.length), ...body];
}

/**
 * The MADT (signature "APIC", ACPI 1.0b §5.2.8): the local APIC address with PCAT_COMPAT (the 8259s are
 * there too, to be masked), one processor (ACPI ID 0, APIC ID 0, enabled), the I/O APIC (GSI base 0),
 * the board's IRQ overrides, and the local APICs' LINT1 as NMI (ACPI processor ID 0xFF: all of them).
 */
function madt(apic: MadtResources): Table {
  const entries: number[] = [
    0, 8, 0, 0, ...le(1, 4),                         // Processor Local APIC: ACPI ID 0, APIC ID 0, enabled
    1, 12, apic.ioApicId, 0, ...le(apic.ioApic, 4), ...le(0, 4), // I/O APIC: its ID, address, GSI base 0
    ...apic.overrides.flatMap((o) => [2, 10, 0, o.irq, ...le(o.gsi, 4), ...le(o.flags, 2)]),
    4, 6, 0xff, ...le(0, 2), 1,                       // Local APIC NMI: all processors, conforming, LINT1
  ];
  const t = Table.described('APIC', 1, 8 + entries.length);
  t.u32(36, apic.localApic);
  t.u32(40, 1); // PCAT_COMPAT
  t.bytes.set(entries, HEADER + 8);
  return t.seal();
}

class Table extends ByteRecord {
  /** The common description header (§5.2.5), checksum last. */
  static described(signature: string, revision: number, body: number): Table {
    const t = new Table(HEADER + body);
    t.ascii(0, signature);
    t.u32(4, t.bytes.length);
    t.u8(8, revision);
    t.ascii(10, OEM_ID);
    t.ascii(16, OEM_TABLE_ID);
    t.u32(24, 1); // OEM revision
    t.ascii(28, CREATOR_ID);
    t.u32(32, 1); // creator revision
    return t;
  }
  seal(checksumAt = 9): this { this.bytes[checksumAt] = 0; this.bytes[checksumAt] = checksum(this.bytes); return this; }
}

/** The RSDP, RSDT, FADT, FACS, DSDT and (with `pm.apic`) MADT for `pm`, laid out from `base`. */
export function buildAcpiTables(pm: AcpiPmResources, base = ACPI_TABLES_BASE): AcpiTables {
  // Layout: RSDP (20 bytes) at base, FACS at +0x40 (64-byte aligned, §5.2.9), RSDT, FADT and DSDT after it.
  const at = { rsdp: base, facs: base + 0x40, rsdt: base + 0x80, fadt: base + 0xc0, dsdt: base + 0x140 };

  const facs = new Table(64);
  facs.ascii(0, 'FACS');
  facs.u32(4, 64);
  // Hardware signature 0, firmware waking vector 0 (no S4/S3 resume), global lock free, no S4BIOS.

  const aml = [...s5Aml(pm.s5SleepType), ...pciRootAml(pm.ramSize)];
  const dsdt = Table.described('DSDT', 1, aml.length);
  dsdt.bytes.set(aml, HEADER);
  dsdt.seal();

  const fadt = Table.described('FACP', 1, 116 - HEADER);
  fadt.u32(36, at.facs);          // FIRMWARE_CTRL
  fadt.u32(40, at.dsdt);          // DSDT
  fadt.u8(44, pm.apic ? 1 : 0);   // INT_MODEL (1.0): multiple APIC, or dual PIC
  fadt.u16(46, pm.sciIrq);        // SCI_INT
  fadt.u32(48, 0);                // SMI_CMD 0: always in ACPI mode (SCI_EN set from reset)
  fadt.u32(56, pm.pm1aEvt);       // PM1a_EVT_BLK
  fadt.u32(64, pm.pm1aCnt);       // PM1a_CNT_BLK
  fadt.u32(76, pm.pmTmr);         // PM_TMR_BLK
  fadt.u8(88, 4);                 // PM1_EVT_LEN
  fadt.u8(89, 2);                 // PM1_CNT_LEN
  fadt.u8(91, 4);                 // PM_TMR_LEN
  fadt.u16(96, NO_C2);            // P_LVL2_LAT
  fadt.u16(98, NO_C3);            // P_LVL3_LAT
  fadt.u8(108, pm.cmosCentury);   // CENTURY
  fadt.u32(112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON); // TMR_VAL_EXT clear: a 24-bit timer
  fadt.seal();

  // The MADT (if any) after the DSDT, 16-byte aligned.
  const apicTable = pm.apic ? madt(pm.apic) : null;
  const madtAt = (at.dsdt + dsdt.bytes.length + 15) & ~15;
  const rsdt = Table.described('RSDT', 1, apicTable ? 8 : 4);
  rsdt.u32(36, at.fadt);
  if (apicTable) rsdt.u32(40, madtAt);
  rsdt.seal();

  const rsdp = new Table(20);
  rsdp.ascii(0, 'RSD PTR ');
  rsdp.ascii(9, OEM_ID);
  rsdp.u8(15, 0);                 // revision 0: ACPI 1.0, no XSDT
  rsdp.u32(16, at.rsdt);
  rsdp.seal(8);

  const end = apicTable ? madtAt + apicTable.bytes.length : at.dsdt + dsdt.bytes.length;
  const bytes = new Uint8Array(end - base);
  const place = (address: number, t: Table): void => bytes.set(t.bytes, address - base);
  place(at.rsdp, rsdp); place(at.facs, facs); place(at.rsdt, rsdt); place(at.fadt, fadt); place(at.dsdt, dsdt);
  if (apicTable) place(madtAt, apicTable);
  const entry = (address: number, t: Table) => ({ address, length: t.bytes.length });
  return {
    address: base, bytes,
    tables: {
      'RSD PTR ': entry(at.rsdp, rsdp), FACS: entry(at.facs, facs), RSDT: entry(at.rsdt, rsdt), FACP: entry(at.fadt, fadt), DSDT: entry(at.dsdt, dsdt),
      ...(apicTable ? { APIC: entry(madtAt, apicTable) } : {}),
    },
  };
}

/** Write the tables into guest memory. */
export function writeAcpiTables(memory: PhysicalMemory, pm: AcpiPmResources, base = ACPI_TABLES_BASE): AcpiTables {
  const tables = buildAcpiTables(pm, base);
  memory.writeBytes(tables.address, tables.bytes);
  return tables;
}
