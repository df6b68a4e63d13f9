// The ACPI tables the Linux loader writes (src/loader/acpi-tables.ts): checksums, the fields the kernel reads,
// the links between the tables, and — with ACPICA's own disassembler (iasl -d, Debian's acpica-tools) as the
// oracle — that the DSDT's AML decodes to \_S5 and that iasl reads the FADT's fields as we meant them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ACPI_PM_BASE, IO_APIC_BASE, IO_APIC_ID, IRQ_OVERRIDES, IRQ_SCI, LOCAL_APIC_BASE } from '../src/machine/board.ts';
import { PhysicalMemory } from '../src/machine/memory.ts';
import { PM1_CNT, PM1_EVT, PM_TMR, SLP_TYP_S5 } from '../src/devices/acpi-pm.ts';
import { ACPI_TABLES_BASE, buildAcpiTables, s5Aml, writeAcpiTables, type AcpiPmResources } from '../src/loader/acpi-tables.ts';
import { checksum } from '../src/loader/table-bytes.ts';
import { requireTool } from './required-tool.ts';

const PM: AcpiPmResources = {
  pm1aEvt: ACPI_PM_BASE + PM1_EVT, pm1aCnt: ACPI_PM_BASE + PM1_CNT, pmTmr: ACPI_PM_BASE + PM_TMR,
  sciIrq: IRQ_SCI, s5SleepType: SLP_TYP_S5, cmosCentury: 0x32, ramSize: 128 << 20,
  apic: { localApic: LOCAL_APIC_BASE, ioApic: IO_APIC_BASE, ioApicId: IO_APIC_ID, overrides: IRQ_OVERRIDES },
};
const hasIasl = requireTool('iasl (Debian package acpica-tools)', spawnSync('iasl', ['-v'], { stdio: 'ignore' }).status === 0);

const t = buildAcpiTables(PM);
const table = (sig: string): Uint8Array => {
  const { address, length } = t.tables[sig];
  return t.bytes.subarray(address - t.address, address - t.address + length);
};
const sum8 = (b: Uint8Array): number => b.reduce((a, x) => (a + x) & 0xff, 0);
const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number): number => (u16(b, o) | (u16(b, o + 2) << 16)) >>> 0;
const ascii = (b: Uint8Array, o: number, n: number): string => String.fromCharCode(...b.subarray(o, o + n));

describe('ACPI tables', () => {
  it('put the RSDP where the OS scans for it: 16-byte aligned in 0xE0000–0xFFFFF, checksum right', () => {
    const rsdp = t.tables['RSD PTR '];
    expect(rsdp.address % 16).toBe(0);
    expect(rsdp.address).toBeGreaterThanOrEqual(0xe0000);
    expect(t.address + t.bytes.length).toBeLessThanOrEqual(0x100000);
    const b = table('RSD PTR ');
    expect(b.length).toBe(20);
    expect(ascii(b, 0, 8)).toBe('RSD PTR ');
    expect(sum8(b)).toBe(0);
    expect(b[15]).toBe(0); // revision 0 (ACPI 1.0): the RSDT, no XSDT
    expect(u32(b, 16)).toBe(t.tables.RSDT.address);
  });

  it('chain RSDT → FACP → FACS and DSDT, each described table with its length and a zero byte sum', () => {
    for (const sig of ['RSDT', 'FACP', 'DSDT']) {
      const b = table(sig);
      expect(ascii(b, 0, 4), sig).toBe(sig);
      expect(u32(b, 4), sig).toBe(b.length);
      expect(sum8(b), sig).toBe(0);
    }
    const rsdt = table('RSDT');
    expect((u32(rsdt, 4) - 36) / 4).toBe(2); // the FADT and the MADT
    expect(u32(rsdt, 36)).toBe(t.tables.FACP.address);
    expect(u32(rsdt, 40)).toBe(t.tables.APIC.address);
    const fadt = table('FACP');
    expect(u32(fadt, 36)).toBe(t.tables.FACS.address);
    expect(u32(fadt, 40)).toBe(t.tables.DSDT.address);
    expect(t.tables.FACS.address % 64).toBe(0);
    expect(ascii(table('FACS'), 0, 4)).toBe('FACS');
    expect(u32(table('FACS'), 4)).toBe(64);
  });

  it('give the FADT fields the kernel reads: the PM device\'s ports, SCI on IRQ 9, always in ACPI mode', () => {
    const f = table('FACP');
    expect(f[8]).toBe(1); // revision 1, 116 bytes, as QEMU's pc machine
    expect(f.length).toBe(116);
    expect(u16(f, 46)).toBe(9);          // SCI_INT
    expect(u32(f, 48)).toBe(0);          // SMI_CMD: no legacy mode to leave
    expect(u32(f, 56)).toBe(0x600);      // PM1a_EVT_BLK
    expect(u32(f, 64)).toBe(0x604);      // PM1a_CNT_BLK
    expect(u32(f, 76)).toBe(0x608);      // PM_TMR_BLK
    expect([f[88], f[89], f[91]]).toEqual([4, 2, 4]); // PM1_EVT_LEN, PM1_CNT_LEN, PM_TMR_LEN
    expect(u32(f, 80)).toBe(0);          // no GPE0 block
    expect(u32(f, 112) & (1 << 8)).toBe(0); // TMR_VAL_EXT clear: a 24-bit timer
    expect(f[108]).toBe(0x32);           // CENTURY: the CMOS index of the century
  });

  it('list the interrupt controllers in the MADT as QEMU\'s pc machine has them, and leave it out without an APIC', () => {
    const m = table('APIC');
    expect([ascii(m, 0, 4), u32(m, 4), sum8(m)]).toEqual(['APIC', m.length, 0]);
    expect(u32(m, 36)).toBe(0xfee00000); // local APIC address
    expect(u32(m, 40)).toBe(1);          // PCAT_COMPAT: 8259s present
    const entries: number[][] = [];
    for (let o = 44; o < m.length; o += m[o + 1]) entries.push([...m.subarray(o, o + m[o + 1])]);
    expect(entries).toEqual([
      [0, 8, 0, 0, 1, 0, 0, 0],                    // processor 0, APIC ID 0, enabled
      [1, 12, 1, 0, 0, 0, 0xc0, 0xfe, 0, 0, 0, 0], // I/O APIC 1 at 0xFEC00000, GSI base 0
      [2, 10, 0, 0, 2, 0, 0, 0, 0, 0],             // IRQ 0 -> GSI 2
      [2, 10, 0, 5, 5, 0, 0, 0, 0x0d, 0],          // IRQ 5, 9, 10, 11: level, active high
      [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0],
      [2, 10, 0, 10, 10, 0, 0, 0, 0x0d, 0],
      [2, 10, 0, 11, 11, 0, 0, 0, 0x0d, 0],
      [4, 6, 0xff, 0, 0, 1],                       // LINT1 is NMI on every processor
    ]);
    expect(table('FACP')[44]).toBe(1); // INT_MODEL: multiple APIC
    const without = buildAcpiTables({ ...PM, apic: null });
    expect(without.tables.APIC).toBeUndefined();
    expect(without.bytes[without.tables.FACP.address - without.address + 44]).toBe(0);
  });

  it('encode \\_S5 as AML with PkgLength counting itself', () => {
    expect(s5Aml(0)).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00]);
    expect(s5Aml(5)).toEqual([0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00]);
    expect(checksum(new Uint8Array([1, 2, 0xff]))).toBe(0xfe);
  });

  it('are written to guest memory where buildAcpiTables says', () => {
    const memory = new PhysicalMemory(2 << 20);
    const w = writeAcpiTables(memory, PM);
    expect(w.address).toBe(ACPI_TABLES_BASE);
    expect(memory.readBytes(w.address, w.bytes.length)).toEqual(w.bytes);
  });

  describe.runIf(hasIasl)('as ACPICA\'s iasl -d reads them', () => {
    const disassemble = (sig: string): string => {
      const dir = mkdtempSync(join(tmpdir(), 'x86jit-acpi-'));
      try {
        const file = join(dir, `${sig.toLowerCase()}.dat`);
        writeFileSync(file, table(sig));
        const r = spawnSync('iasl', ['-d', file], { encoding: 'utf8' });
        expect(r.status, r.stdout + r.stderr).toBe(0);
        expect(r.stdout + r.stderr).not.toMatch(/checksum|error|warning/i);
        return readFileSync(join(dir, `${sig.toLowerCase()}.dsl`), 'utf8');
      } finally { rmSync(dir, { recursive: true, force: true }); }
    };

    it('the DSDT: \\_S5 = Package (4) { Zero, Zero, Zero, Zero }, and \\_SB.PCI0 (PNP0A03) with its bus, I/O and memory windows', () => {
      const dsl = disassemble('DSDT');
      const body = dsl.slice(dsl.indexOf('DefinitionBlock')).replace(/\/\/.*$/gm, '').replace(/\s+/g, ' ').trim();
      expect(body.startsWith('DefinitionBlock ("", "DSDT", 1, "X86JIT", "X86JITPC", 0x00000001) { Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero }) Device (\\_SB.PCI0) {'), body).toBe(true);
      expect(body).toContain('Name (_HID, EisaId ("PNP0A03") /* PCI Bus */)');
      const ranges = [...body.matchAll(/(Word|DWord)(BusNumber|IO|Memory) \(ResourceProducer(?:, [A-Za-z]+)*, 0x0+, (0x[0-9A-F]+), (0x[0-9A-F]+), 0x0+, (0x[0-9A-F]+)/g)].map((m) => `${m[2]} ${m[3]}-${m[4]} ${m[5]}`);
      expect(ranges).toEqual(['BusNumber 0x0000-0x00FF 0x0100', 'IO 0x0000-0x0CF7 0x0CF8', 'IO 0x0D00-0xFFFF 0xF300',
        'Memory 0x000A0000-0x000BFFFF 0x00020000', 'Memory 0x08000000-0xFEBFFFFF 0xF6C00000']);
    });

    it('the FADT: the PM blocks, the SCI and the flags', () => {
      const dsl = disassemble('FACP');
      const field = (name: string): string => dsl.match(new RegExp(`${name} : (\\S+)`))?.[1] ?? `(no ${name})`;
      expect(field('SCI Interrupt')).toBe('0009');
      expect(field('SMI Command Port')).toBe('00000000');
      expect(field('PM1A Event Block Address')).toBe('00000600');
      expect(field('PM1A Control Block Address')).toBe('00000604');
      expect(field('PM Timer Block Address')).toBe('00000608');
      expect(field('PM Timer Block Length')).toBe('04');
      expect(dsl).toMatch(/32-bit PM Timer \(V1\) : 0/);
      expect(dsl).toMatch(/Control Method Power Button \(V1\) : 0/); // a fixed-feature power button (PWRBTN_STS)
    });

    it('the MADT: one enabled processor, the I/O APIC, the overrides and the LINT1 NMI', () => {
      // (Each field's "[offset decimal length]" prefix dropped.)
      const dsl = disassemble('APIC').replace(/\[[0-9A-F]+h \d+ +\d+\]/g, '').replace(/\s+/g, ' ');
      expect(dsl).toMatch(/Local Apic Address : FEE00000/);
      expect(dsl).toMatch(/Subtable Type : 00 \[Processor Local APIC\].*Processor ID : 00 Local Apic ID : 00 Flags \(decoded below\) : 00000001 Processor Enabled : 1/);
      expect(dsl).toMatch(/Subtable Type : 01 \[I\/O APIC\].*I\/O Apic ID : 01 Reserved : 00 Address : FEC00000 Interrupt : 00000000/);
      const overrides = [...dsl.matchAll(/Source : (\S+) Interrupt : (\S+) Flags \(decoded below\) : (\S+)/g)].map((x) => x.slice(1).join(' '));
      expect(overrides).toEqual(['00 00000002 0000', '05 00000005 000D', '09 00000009 000D', '0A 0000000A 000D', '0B 0000000B 000D']);
      expect(dsl).toMatch(/Subtable Type : 04 \[Local APIC NMI\] Length : 06 Processor ID : FF Flags \(decoded below\) : 0000 Polarity : 0 Trigger Mode : 0 Interrupt Input LINT : 01/);
    });

    it('the RSDT and FACS', () => {
      expect(disassemble('RSDT')).toMatch(/ACPI Table Address {3}0 : 000E00C0/);
      expect(disassemble('FACS')).toMatch(/Length : 00000040/);
    });
  });
});
