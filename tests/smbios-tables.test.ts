// The SMBIOS tables the Linux loader writes (src/loader/smbios-tables.ts), read by dmidecode (Debian's
// dmidecode, --from-dump: the entry point at offset 0 and the table at 0x20, which is what
// buildSmbiosTables(…, 0) lays out) as the oracle: the entry point's checksums and every structure's
// fields as dmidecode decodes them. That Linux finds them is tests/linux-boot.test.ts's ("DMI: …" in its log).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CPUID_1_EAX, CPUID_1_EDX } from '../src/hv/cpuid.ts';
import { ACPI_TABLES_BASE, buildAcpiTables } from '../src/loader/acpi-tables.ts';
import { buildSmbiosTables, SMBIOS_BASE, type SmbiosMachine } from '../src/loader/smbios-tables.ts';
import { ACPI_PM_BASE, IRQ_SCI } from '../src/machine/board.ts';
import { requireTool } from './required-tool.ts';

const MACHINE: SmbiosMachine = { ramSize: 128 << 20, cpuidEax: CPUID_1_EAX, cpuidEdx: CPUID_1_EDX, mhz: 1000 };
/** dmidecode, wherever it is (root's PATH has /usr/sbin; others' may not). */
const DMIDECODE = ['dmidecode', '/usr/sbin/dmidecode'].find((p) => spawnSync(p, ['--version'], { stdio: 'ignore' }).status === 0);
const hasDmidecode = requireTool('dmidecode (Debian package dmidecode)', DMIDECODE !== undefined);
const sum8 = (b: Uint8Array): number => b.reduce((a, x) => (a + x) & 0xff, 0);

describe('SMBIOS tables', () => {
  it('put the entry point where the OS scans for it, after the ACPI tables, checksums right', () => {
    const t = buildSmbiosTables(MACHINE);
    expect(t.address).toBe(0xf0000);
    expect(t.address + t.bytes.length).toBeLessThanOrEqual(0x100000);
    const acpi = buildAcpiTables({ pm1aEvt: ACPI_PM_BASE, pm1aCnt: ACPI_PM_BASE + 4, pmTmr: ACPI_PM_BASE + 8, sciIrq: IRQ_SCI, s5SleepType: 0, cmosCentury: 0x32, ramSize: 128 << 20, apic: null });
    expect(ACPI_TABLES_BASE + acpi.bytes.length).toBeLessThanOrEqual(SMBIOS_BASE);
    expect(String.fromCharCode(...t.bytes.subarray(0, 4))).toBe('_SM_');
    expect(sum8(t.bytes.subarray(0, 31))).toBe(0);
    expect(sum8(t.bytes.subarray(16, 31))).toBe(0);
    expect(t.types).toEqual([0, 1, 3, 4, 16, 17, 19, 32, 127]);
  });

  describe.runIf(hasDmidecode)('as dmidecode reads them', () => {
    const dmidecode = (machine: SmbiosMachine, ...args: string[]): string => {
      const dir = mkdtempSync(join(tmpdir(), 'x86jit-smbios-'));
      try {
        const file = join(dir, 'dump.bin');
        writeFileSync(file, buildSmbiosTables(machine, 0).bytes);
        const r = spawnSync(DMIDECODE!, ['--from-dump', file, ...args], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stderr, 'dmidecode complains').toBe('');
        return r.stdout;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };

    it('finds SMBIOS 2.8 with nine structures and no damage', () => {
      const out = dmidecode(MACHINE);
      expect(out).toContain('SMBIOS 2.8 present.');
      expect(out).toMatch(/9 structures occupying \d+ bytes\./);
      expect(out).not.toMatch(/<OUT OF SPEC>|Invalid|Wrong|Bad/);
      expect(out).toContain('End Of Table');
    });

    it('reads the firmware, the machine, the processor and the RAM as meant', () => {
      const str = (key: string): string => dmidecode(MACHINE, '-s', key).trim();
      expect(str('bios-vendor')).toBe('x86jit');
      expect(str('bios-version')).toBe('x86jit Linux loader');
      expect(str('bios-release-date')).toBe('04/01/2014');
      expect(str('system-manufacturer')).toBe('x86jit');
      expect(str('system-product-name')).toBe('Standard PC (i440FX + PIIX3)');
      expect(str('processor-family')).toBe('Pentium Pro');
      expect(str('processor-manufacturer')).toBe('GenuineIntel');
      const cpu = dmidecode(MACHINE, '-t', 'processor');
      // The processor ID is CPUID leaf 1's EAX then EDX, as bytes in memory order.
      const id = [CPUID_1_EAX, CPUID_1_EDX].flatMap((w) => [0, 8, 16, 24].map((s) => ((w >>> s) & 0xff).toString(16).toUpperCase().padStart(2, '0'))).join(' ');
      expect(cpu).toContain(`ID: ${id}`);
      expect(cpu).toMatch(/Signature: Type 0, Family 6, Model 1, Stepping 9/);
      expect(cpu).toMatch(/Current Speed: 1000 MHz/);
      expect(cpu).toMatch(/Status: Populated, Enabled/);
      for (const [ram, size, end] of [[128 << 20, '128 MB', '0x00007FFFFFF'], [1 << 30, '1 GB', '0x0003FFFFFFF']] as const) {
        const mem = dmidecode({ ...MACHINE, ramSize: ram }, '-t', 'memory');
        expect(mem).toMatch(new RegExp(`Maximum Capacity: ${size}`));
        expect(mem).toMatch(new RegExp(`Size: ${size}`));
        const mapped = dmidecode({ ...MACHINE, ramSize: ram }, '-t', '19');
        expect(mapped).toContain('Starting Address: 0x00000000000');
        expect(mapped).toContain(`Ending Address: ${end}`);
      }
    });
  });
});
