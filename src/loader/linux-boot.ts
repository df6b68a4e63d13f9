// The Linux/x86 32-bit boot protocol (Documentation/arch/x86/boot.rst), as `qemu-system-i386 -kernel
// bzImage -initrd FILE -append TEXT` offers it, without a BIOS or the kernel's real-mode setup code:
//   - the bzImage's protected-mode part (after the setup sectors) goes to code32_start (1 MiB);
//   - the initrd to the top of RAM below initrd_addr_max, page-aligned;
//   - boot_params (the "zero page") gets the file's setup header, our loader type, the command line
//     pointer, the initrd's place and an E820 map of the RAM;
//   - the CPU enters code32_start in flat 32-bit protected mode through a GDT holding __BOOT_CS (0x10) and
//     __BOOT_DS (0x18), paging and interrupts off, ESI = boot_params, EBP = EDI = EBX = 0;
//   - ACPI tables (acpi-tables.ts) in the BIOS area, describing the board's PM device, as SeaBIOS leaves them.
//   - SMBIOS tables (smbios-tables.ts) at 0xF0000: the firmware, the machine, its processor and RAM.
//   - the ACPI SCI's interrupt line level-triggered in the ELCR, as a firmware leaves it.
import { PM1_CNT, PM1_EVT, PM_TMR, SLP_TYP_S5 } from '../devices/acpi-pm.ts';
import { RTC_CENTURY } from '../devices/cmos-rtc.ts';
import { ELCR_PORT } from '../devices/pic8259.ts';
import { ACPI_PM_BASE, IO_APIC_BASE, IO_APIC_ID, IRQ_OVERRIDES, IRQ_SCI, LOCAL_APIC_BASE } from '../machine/board.ts';
import { ACPI_TABLES_BASE, writeAcpiTables, type AcpiTables } from './acpi-tables.ts';
import { type SmbiosTables, writeSmbiosTables } from './smbios-tables.ts';
import { CPUID_1_EAX, CPUID_1_EDX, CPUID_1_EDX_APIC } from '../hv/cpuid.ts';
import { NS_PER_INSTRUCTION } from '../machine/vm.ts';
import { checkInRam } from './guest-ram.ts';
import { LoadError } from './load-error.ts';
import { hex, sizeText, type LoadedSegment, type LoadTarget } from './load-target.ts';

/** "HdrS" at 0x202: the setup header of protocol 2.00 and later. */
const HDRS = 0x5372_6448;
/** Where the setup header starts in the file and in boot_params. */
const SETUP_HEADER = 0x1f1;
const LOADED_HIGH = 0x01;
/** The oldest protocol with cmd_line_ptr and a 32-bit entry we can use. */
export const MIN_PROTOCOL = 0x0202;

/** Where this loader puts its pieces in low memory (free conventional memory, above the BIOS data area). */
export const LINUX_GDT = 0x9000;
export const BOOT_PARAMS = 0x10000;
export const CMDLINE = 0x20000;
const CMDLINE_MAX = 0x10000;
/** The protected-mode kernel's load address for protocol ≥ 2.00 bzImages (code32_start's default). */
const KERNEL_BASE = 0x100000;
/** End of usable conventional memory (639 KiB), as a PC BIOS reports it; the EBDA and VGA/ROM area above. */
const LOW_RAM_END = 0x9fc00;

const E820_RAM = 1, E820_RESERVED = 2;
const BP_ALT_MEM_K = 0x1e0, BP_E820_ENTRIES = 0x1e8, BP_E820_TABLE = 0x2d0;
const HDR_TYPE_OF_LOADER = 0x210, HDR_LOADFLAGS = 0x211, HDR_CODE32_START = 0x214, HDR_RAMDISK_IMAGE = 0x218,
  HDR_RAMDISK_SIZE = 0x21c, HDR_HEAP_END_PTR = 0x224, HDR_CMD_LINE_PTR = 0x228, HDR_INITRD_ADDR_MAX = 0x22c,
  HDR_CMDLINE_SIZE = 0x238, HDR_INIT_SIZE = 0x260;
/** type_of_loader: "undefined" — we have no ID assigned (boot.rst). */
const LOADER_UNDEFINED = 0xff;

export interface LinuxBootOptions {
  /** The kernel's name for messages. */
  name: string;
  initrd?: Uint8Array;
  initrdName?: string;
  cmdline?: string;
}

export interface LinuxSetupHeader {
  setupSects: number;
  version: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  cmdlineSize: number;
  /** Memory the kernel needs from its load address while it decompresses itself (≥ 2.10), else 0. */
  initSize: number;
}

export interface LinuxLoad {
  header: LinuxSetupHeader;
  entry: number;
  bootParams: number;
  segments: LoadedSegment[];
  initrd?: { address: number; size: number };
  acpi: AcpiTables;
  smbios: SmbiosTables;
}

const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/** True when the bytes carry a Linux setup header (boot flag 0xAA55 and "HdrS"). */
export function isBzImage(bytes: Uint8Array): boolean {
  return bytes.length >= 0x206 && u16(bytes, 0x1fe) === 0xaa55 && u32(bytes, 0x202) === HDRS;
}

/** The setup header of a bzImage, checked: one LoadError line for anything this loader cannot boot. */
export function parseSetupHeader(bytes: Uint8Array, name: string): LinuxSetupHeader {
  if (bytes.length < 0x264 || u16(bytes, 0x1fe) !== 0xaa55) throw new LoadError(`${name}: not a Linux kernel image (no boot flag 0xAA55 at 0x1fe)`);
  if (u32(bytes, 0x202) !== HDRS) throw new LoadError(`${name}: not a bzImage (no "HdrS" setup header: boot protocol older than 2.00)`);
  const version = u16(bytes, 0x206);
  const v = `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`;
  if (version < MIN_PROTOCOL) throw new LoadError(`${name}: boot protocol ${v} is too old (this loader needs 2.02 or later)`);
  const loadflags = bytes[HDR_LOADFLAGS];
  if (!(loadflags & LOADED_HIGH)) throw new LoadError(`${name}: a zImage (loaded at 0x10000), not a bzImage: rebuild it with 'make bzImage'`);
  const setupSects = bytes[SETUP_HEADER] || 4;
  if ((setupSects + 1) * 512 >= bytes.length) throw new LoadError(`${name}: truncated: ${setupSects} setup sectors and no protected-mode kernel after them`);
  return {
    setupSects, version, loadflags,
    code32Start: u32(bytes, HDR_CODE32_START),
    initrdAddrMax: version >= 0x0203 ? u32(bytes, HDR_INITRD_ADDR_MAX) : 0x37ff_ffff,
    cmdlineSize: version >= 0x0206 ? u32(bytes, HDR_CMDLINE_SIZE) : 255,
    initSize: version >= 0x020a ? u32(bytes, HDR_INIT_SIZE) : 0,
  };
}

/** Boot a bzImage: memory filled and the CPU at the kernel's 32-bit entry, as the file comment says. */
export function loadLinux(target: LoadTarget, bytes: Uint8Array, opts: LinuxBootOptions): LinuxLoad {
  const { name } = opts;
  const memory = target.memory;
  const header = parseSetupHeader(bytes, name);
  const kernelOffset = (header.setupSects + 1) * 512;
  const kernel = bytes.subarray(kernelOffset);
  const entry = header.code32Start;
  if (entry !== KERNEL_BASE) throw new LoadError(`${name}: code32_start is ${hex(entry)}; this loader places the kernel at ${hex(KERNEL_BASE)}`);
  // The kernel decompresses itself from its load address upwards: it needs init_size bytes there.
  const kernelSpan = Math.max(kernel.length, header.initSize);
  if (KERNEL_BASE + kernelSpan > memory.ramSize)
    throw new LoadError(`${name}: the kernel needs ${sizeText(kernelSpan)} from ${hex(KERNEL_BASE)} (RAM is ${sizeText(memory.ramSize)}): give more with --mem`);

  const cmdline = new TextEncoder().encode(opts.cmdline ?? '');
  if (cmdline.length > header.cmdlineSize || cmdline.length >= CMDLINE_MAX)
    throw new LoadError(`${name}: the command line has ${cmdline.length} bytes; this kernel takes at most ${Math.min(header.cmdlineSize, CMDLINE_MAX - 1)}`);

  let initrd: LinuxLoad['initrd'];
  if (opts.initrd) {
    const size = opts.initrd.length, what = opts.initrdName ?? 'the initrd';
    // As high as RAM and initrd_addr_max allow, page-aligned, clear of the decompressing kernel.
    const top = Math.min(header.initrdAddrMax + 1, memory.ramSize);
    const address = Math.floor((top - size) / 4096) * 4096;
    if (size === 0) throw new LoadError(`${what}: empty file`);
    if (address < KERNEL_BASE + kernelSpan)
      throw new LoadError(`${what}: ${sizeText(size)} does not fit in RAM (${sizeText(memory.ramSize)}) above the kernel and below ${hex(top)}: give more with --mem`);
    checkInRam(memory, what, 'the initrd', address, size);
    initrd = { address, size };
  }

  target.resetReal();
  memory.writeBytes(KERNEL_BASE, kernel);
  if (initrd) memory.writeBytes(initrd.address, opts.initrd!);

  // boot_params: zeros, then the setup header as the file has it (0x1f1 up to the end the jump at 0x200 gives).
  const bp = new Uint8Array(4096);
  const headerEnd = 0x202 + bytes[0x201];
  bp.set(bytes.subarray(SETUP_HEADER, Math.min(headerEnd, bytes.length, 0x290)), SETUP_HEADER);
  const view = new DataView(bp.buffer);
  bp[HDR_TYPE_OF_LOADER] = LOADER_UNDEFINED;
  bp[HDR_LOADFLAGS] = header.loadflags & LOADED_HIGH; // no QUIET, no KEEP_SEGMENTS, no heap (no real-mode setup runs)
  view.setUint16(HDR_HEAP_END_PTR, 0, true);
  view.setUint32(HDR_CMD_LINE_PTR, CMDLINE, true);
  view.setUint32(HDR_RAMDISK_IMAGE, initrd?.address ?? 0, true);
  view.setUint32(HDR_RAMDISK_SIZE, initrd?.size ?? 0, true);
  view.setUint32(BP_ALT_MEM_K, Math.max(0, (memory.ramSize - KERNEL_BASE) >> 10), true);
  const e820: [number, number, number][] = [
    [0, LOW_RAM_END, E820_RAM],
    [LOW_RAM_END, 0xa0000 - LOW_RAM_END, E820_RESERVED],
    // The BIOS area, where the ACPI tables (from 0xE0000) and the SMBIOS tables (from 0xF0000) are.
    [ACPI_TABLES_BASE, 0x100000 - ACPI_TABLES_BASE, E820_RESERVED],
    [KERNEL_BASE, memory.ramSize - KERNEL_BASE, E820_RAM],
  ];
  bp[BP_E820_ENTRIES] = e820.length;
  e820.forEach(([addr, size, type], i) => {
    const o = BP_E820_TABLE + 20 * i;
    view.setUint32(o, addr, true); view.setUint32(o + 8, size, true); view.setUint32(o + 16, type, true);
  });
  memory.writeBytes(BOOT_PARAMS, bp);
  memory.writeBytes(CMDLINE, new Uint8Array([...cmdline, 0]));
  // The BIOS data area's base-memory size (KiB), which the kernel reads to place the EBDA.
  memory.write(0x413, 2, LOW_RAM_END >> 10);
  const acpi = writeAcpiTables(memory, {
    pm1aEvt: ACPI_PM_BASE + PM1_EVT, pm1aCnt: ACPI_PM_BASE + PM1_CNT, pmTmr: ACPI_PM_BASE + PM_TMR,
    sciIrq: IRQ_SCI, s5SleepType: SLP_TYP_S5, cmosCentury: RTC_CENTURY, ramSize: memory.ramSize,
    apic: { localApic: LOCAL_APIC_BASE, ioApic: IO_APIC_BASE, ioApicId: IO_APIC_ID, overrides: IRQ_OVERRIDES },
  });
  const smbios = writeSmbiosTables(memory, { ramSize: memory.ramSize, cpuidEax: CPUID_1_EAX, cpuidEdx: CPUID_1_EDX | CPUID_1_EDX_APIC, mhz: 1000 / NS_PER_INSTRUCTION });
  // The SCI is a shared, level-triggered interrupt (ACPI 4.7.2.2): a PC firmware marks its line level in the
  // PIIX's ELCR before it hands over, as it does its PCI interrupts' (SeaBIOS: IRQ 10 and 11; this board
  // has no PCI device with an interrupt). Left edge-triggered, Linux sets the bit itself in PIC mode and
  // logs it at warning level ("ACPI: setting ELCR to 0200 (from 0000)").
  if (target.io !== undefined) {
    const port = ELCR_PORT + (IRQ_SCI >> 3);
    target.io.out(port, 1, target.io.in(port, 1) | (1 << (IRQ_SCI & 7)));
  }

  // GDT: null, unused, __BOOT_CS = flat 4 GiB code, __BOOT_DS = flat 4 GiB data.
  const gdt = new Uint8Array(32);
  const gview = new DataView(gdt.buffer);
  gview.setUint32(0x10, 0x0000ffff, true); gview.setUint32(0x14, 0x00cf9b00, true);
  gview.setUint32(0x18, 0x0000ffff, true); gview.setUint32(0x1c, 0x00cf9300, true);
  memory.writeBytes(LINUX_GDT, gdt);
  target.setFlat32({ code: 0x10, data: 0x18, gdtBase: LINUX_GDT, gdtLimit: gdt.length - 1 });
  target.setRegisters({ eip: entry, esi: BOOT_PARAMS, ebp: 0, edi: 0, ebx: 0, esp: BOOT_PARAMS - 0x10, eflags: 0x2 });

  const segments: LoadedSegment[] = [{ address: KERNEL_BASE, fileSize: kernel.length, memSize: kernelSpan }];
  if (initrd) segments.push({ address: initrd.address, fileSize: initrd.size, memSize: initrd.size });
  return { header, entry, bootParams: BOOT_PARAMS, segments, initrd, acpi, smbios };
}
