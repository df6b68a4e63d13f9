// The ACPI tables a PC firmware leaves for the OS (ACPI 1.0b, the layout QEMU's pc machine uses: RSDP
// revision 0, RSDT, a revision-1 FADT), for boots without a BIOS (the Linux boot protocol). They describe
// the board's ACPI PM device (src/devices/acpi-pm.ts) and nothing else: no MADT, since the CPU has no local
// APIC (the OS keeps the 8259 PICs), and a DSDT whose only object is \_S5, the sleep type that powers off.
//
// Everything sits in one block in the BIOS area, which the OS scans for the RSDP ("RSD PTR " on a 16-byte
// boundary in 0xE0000–0xFFFFF, ACPI 1.0b §5.2.4.1); the loader's E820 map reserves the block.
import type { PhysicalMemory } from '../machine/memory.ts';

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
}

export interface AcpiTables {
  /** Guest-physical address of the block (and of the RSDP, its first 20 bytes). */
  address: number;
  bytes: Uint8Array;
  /** Each table's address and length, by signature ('RSD PTR ', 'RSDT', 'FACP', 'FACS', 'DSDT'). */
  tables: Record<string, { address: number; length: number }>;
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

/** The 8-bit checksum that makes `bytes` sum to 0 modulo 256. */
export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const b of bytes) sum += b;
  return (256 - (sum & 0xff)) & 0xff;
}

class Table {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
    this.view = new DataView(this.bytes.buffer);
  }
  ascii(offset: number, text: string): void { for (let i = 0; i < text.length; i++) this.bytes[offset + i] = text.charCodeAt(i); }
  u8(offset: number, v: number): void { this.bytes[offset] = v; }
  u16(offset: number, v: number): void { this.view.setUint16(offset, v, true); }
  u32(offset: number, v: number): void { this.view.setUint32(offset, v >>> 0, true); }

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

/** The RSDP, RSDT, FADT, FACS and DSDT for `pm`, laid out from `base`. */
export function buildAcpiTables(pm: AcpiPmResources, base = ACPI_TABLES_BASE): AcpiTables {
  // Layout: RSDP (20 bytes) at base, FACS at +0x40 (64-byte aligned, §5.2.9), RSDT, FADT and DSDT after it.
  const at = { rsdp: base, facs: base + 0x40, rsdt: base + 0x80, fadt: base + 0xc0, dsdt: base + 0x140 };

  const facs = new Table(64);
  facs.ascii(0, 'FACS');
  facs.u32(4, 64);
  // Hardware signature 0, firmware waking vector 0 (no S4/S3 resume), global lock free, no S4BIOS.

  const aml = s5Aml(pm.s5SleepType);
  const dsdt = Table.described('DSDT', 1, aml.length);
  dsdt.bytes.set(aml, HEADER);
  dsdt.seal();

  const fadt = Table.described('FACP', 1, 116 - HEADER);
  fadt.u32(36, at.facs);          // FIRMWARE_CTRL
  fadt.u32(40, at.dsdt);          // DSDT
  fadt.u8(44, 0);                 // INT_MODEL (1.0): dual PIC
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

  const rsdt = Table.described('RSDT', 1, 4);
  rsdt.u32(36, at.fadt);
  rsdt.seal();

  const rsdp = new Table(20);
  rsdp.ascii(0, 'RSD PTR ');
  rsdp.ascii(9, OEM_ID);
  rsdp.u8(15, 0);                 // revision 0: ACPI 1.0, no XSDT
  rsdp.u32(16, at.rsdt);
  rsdp.seal(8);

  const bytes = new Uint8Array(at.dsdt + dsdt.bytes.length - base);
  const place = (address: number, t: Table): void => bytes.set(t.bytes, address - base);
  place(at.rsdp, rsdp); place(at.facs, facs); place(at.rsdt, rsdt); place(at.fadt, fadt); place(at.dsdt, dsdt);
  const entry = (address: number, t: Table) => ({ address, length: t.bytes.length });
  return {
    address: base, bytes,
    tables: { 'RSD PTR ': entry(at.rsdp, rsdp), FACS: entry(at.facs, facs), RSDT: entry(at.rsdt, rsdt), FACP: entry(at.fadt, fadt), DSDT: entry(at.dsdt, dsdt) },
  };
}

/** Write the tables into guest memory. */
export function writeAcpiTables(memory: PhysicalMemory, pm: AcpiPmResources, base = ACPI_TABLES_BASE): AcpiTables {
  const tables = buildAcpiTables(pm, base);
  memory.writeBytes(tables.address, tables.bytes);
  return tables;
}
