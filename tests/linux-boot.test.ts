// Full virtualization of an unmodified OS: Debian 12's own i386 kernel (scripts/fetch-debian-kernel.sh)
// boots through the Linux boot protocol (x86jit run --kernel) with an initramfs of Debian's busybox-static
// (scripts/fetch-i386-busybox.sh) and our /init (tests/linux/init), under the interpreter and the JIT.
// The init prints what userspace sees. Under the interpreter it then ends the machine through ACPI power-off
// (`poweroff -f`, asked for by x86jit.end=poweroff on the command line): the kernel finds the loader's ACPI
// tables, uses the PM timer, and enters S5. Under the JIT the boot is `x86jit snapshot --at-output` of the
// init's interactive shell (x86jit.end=shell) at its first prompt, and a fresh process restores that
// snapshot with commands piped to its console: the shell runs them and exits, and the init ends the machine
// through isa-debug-exit (via /dev/port). The one JIT boot serves both the boot's checks and the restore's.
// Oracles: qemu-system-i386 booting the same kernel, initramfs and command line, its shell given the same
// input once it has printed its prompt (the machine-independent lines and the shell's transcript must be
// equal), and the kernel's own log (no line naming a failure, and no record at warning level or worse —
// the init's `dmesg -r` — beyond those listed).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { busyboxInitramfs } from '../scripts/make-initramfs.mjs';
import { requireTool } from './required-tool.ts';

const ROOT = join(import.meta.dirname, '..');
const CLI = join(ROOT, 'dist', 'x86jit.js');
const CACHE = join(ROOT, '.cache', 'linux');
const KERNEL = join(CACHE, 'vmlinuz');
const APPEND = 'console=ttyS0 panic=-1';
/**
 * How each engine's boot ends: in the init's shell, whose exit leads to the init's own exit port
 * (isa-debug-exit, status (1 << 1) | 1), or in the kernel's ACPI power-off (status 0, as QEMU's).
 */
const END = { jit: 'shell', interp: 'poweroff' } as const;
type End = (typeof END)[keyof typeof END];
const append = (end: End): string => `${APPEND} x86jit.end=${end}`;
const STATUS: Record<End, number> = { shell: 3, poweroff: 0 };
/** The init's shell prompt (PS1): where the JIT boot's snapshot is taken, and where QEMU's shell is given its input. */
const PROMPT = 'x86jit-shell# ';
/** What the shell is given on its console: two commands, then `exit` (the init goes on to isa-debug-exit). */
const SHELL_INPUT = 'uname -a\necho $((6*7))\nexit\n';

const BUSYBOX = join(ROOT, '.cache', 'i386', 'busybox', 'busybox');
const fetched = existsSync(KERNEL) && existsSync(BUSYBOX);
const hasKernel = requireTool('Debian\'s i386 kernel and busybox (scripts/fetch-debian-kernel.sh, scripts/fetch-i386-busybox.sh)', fetched);
const hasQemu = hasKernel && requireTool('qemu-system-i386', spawnSync('qemu-system-i386', ['--version'], { stdio: 'ignore' }).status === 0);
if (!hasKernel) console.log('linux-boot: skipped: run scripts/fetch-debian-kernel.sh and scripts/fetch-i386-busybox.sh first (they need apt-get and the i386 architecture)');

/** Kernel-log lines that name a problem. */
const COMPLAINT = /WARNING|Oops|BUG|Call Trace|[Ff]ail|[Uu]nable|[Ee]rror|unknown CPU|not supported|Fatal/;
/**
 * The complaints this machine still earns: a Pentium Pro has no P-states (true of the real part), and the
 * PCI root bridge (the DSDT's PNP0A03) has no MMCONFIG area — a PCI, not PCIe, chipset: QEMU's pc machine
 * gets the same line. Everything else is a bug to fix.
 */
const KNOWN = [
  /acpi PNP0A03:00: fail to add MMCONFIG information, can't access extended PCI configuration space under this bridge/,
  /intel_pstate: CPU model not supported/,
];

/**
 * The kernel's records at warning level or worse (the init's `dmesg -r`) that this machine earns, each true
 * of the machine it is, and both of them QEMU's pc machine (-cpu pentium2) gets too.
 */
const KNOWN_WARNINGS = [
  // This 686 kernel is built without PAE, whatever the CPU (QEMU too).
  /^L1TF: Kernel not compiled for PAE\. No mitigation for L1TF$/,
  // See KNOWN above (QEMU too).
  /^acpi PNP0A03:00: fail to add MMCONFIG information, can't access extended PCI configuration space under this bridge\.$/,
];
/**
 * The init's `dmesg -r` lines (level ≤ 4) without their level and time: `text`. The console's own kernel
 * lines are taken out first, as in transcript(): one may come in the middle of a line the init writes (a
 * `dmesg` line's time follows its level, `<4>`; a console line's does not).
 */
const kernelWarnings = (out: string): string[] => out.replace(/\r/g, '').replace(/(?<!>)\[ *\d+\.\d+\] [^\n]*\n/g, '').split('\n')
  .filter((l) => l.startsWith('x86jit-linux-test: klog ')).map((l) => l.slice('x86jit-linux-test: klog '.length).replace(/^<\d>\[ *\d+\.\d+\] /, ''));

let dir = '';
let initrd = '';
let snapshot = '';

beforeAll(() => {
  if (!hasKernel) return;
  dir = mkdtempSync(join(tmpdir(), 'x86jit-linux-'));
  initrd = join(dir, 'initrd.gz');
  snapshot = join(dir, 'shell.snap');
  writeFileSync(initrd, busyboxInitramfs(BUSYBOX, join(ROOT, 'tests', 'linux', 'init')));
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

interface Boot { status: number | null; out: string; err: string }

/** Input for a run's stdin (a pipe, then closed): at once, or once its stdout has shown `after`. */
interface Input { text: string; after?: string }

/**
 * Runs `cmd`; with `outFile`, its stdout is that file instead of a pipe (QEMU's below: Node's stdout "pipe"
 * is a socketpair, where each of the serial port's one-byte writes takes ~1 KiB of the socket's buffer, so
 * a few hundred unread bytes fill it, and QEMU's 16550 drops a byte it cannot write after four tries: a
 * loaded CI machine once lost two bytes of a kernel log line that way. A file never pushes back.)
 */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: Input, outFile?: string): Promise<Boot> {
  return new Promise((resolve) => {
    const fd = outFile === undefined ? undefined : openSync(outFile, 'w');
    const p = spawn(cmd, args, { env, stdio: [input ? 'pipe' : 'ignore', fd ?? 'pipe', 'pipe'] });
    if (fd !== undefined) closeSync(fd);
    let out = '', err = '', sent = false;
    const send = (): void => { if (input && !sent) { sent = true; p.stdin!.end(input.text); } };
    p.stdin?.on('error', () => {}); // a process that ended before reading its input
    if (input?.after === undefined) send();
    p.stdout?.on('data', (b) => { out += b; if (input?.after !== undefined && out.includes(input.after)) send(); });
    // The file's growth is watched by polling it: nothing waits on the poll but the input.
    const poll = outFile !== undefined && input?.after !== undefined && !sent
      ? setInterval(() => { if (readFileSync(outFile, 'latin1').includes(input.after!)) { clearInterval(poll); send(); } }, 100) : undefined;
    p.stderr!.on('data', (b) => (err += b));
    p.on('close', (status) => {
      clearInterval(poll);
      resolve({ status, out: outFile === undefined ? out : readFileSync(outFile, 'latin1'), err });
    });
  });
}

/** The lines our /init prints (userspace), without the kernel's log around them. */
const userspace = (out: string): string[] => {
  const lines = out.replace(/\r/g, '').split('\n');
  const first = lines.findIndex((l) => l.startsWith('x86jit-linux-test: userspace'));
  const last = lines.findIndex((l) => l.startsWith('x86jit-linux-test: done'));
  return first < 0 || last < first ? [] : lines.slice(first, last + 1).filter((l) => !/^\[ *\d+\.\d+\] /.test(l));
};
/**
 * What the console shows after the shell's first prompt: the shell's echo of its input and its output, less
 * the kernel's log lines (which may come in the middle of a line) and the shell's cursor-position query
 * (ESC [ 6 n: no terminal answers it, under QEMU either, and the shell goes on).
 */
const transcript = (out: string): string[] => {
  const at = out.indexOf(PROMPT);
  if (at < 0) return [];
  return out.slice(at).replace(/\r/g, '').replace(/\[ *\d+\.\d+\] [^\n]*\n/g, '').replaceAll('\x1b[6n', '').split('\n').filter((l) => l !== '');
};
/** The lines no two machines need agree on: /proc/interrupts names the interrupt controller. */
const machineIndependent = (lines: string[]): string[] => lines.filter((l) => !/^[04]: /.test(l));

/** The kernel-log lines about ACPI that must be there, each the same under QEMU (SeaBIOS's tables, PIIX4's PM timer). */
const ACPI_LINES = [/ACPI: RSDP 0x[0-9A-F]+ 000014 \(v00 /, /ACPI: FACP 0x[0-9A-F]+ /, /ACPI: DSDT 0x[0-9A-F]+ /, /ACPI: FACS 0x[0-9A-F]+ /,
  /ACPI: PM-Timer IO Port: 0x608$/, /ACPI: Interpreter enabled$/, /ACPI: PCI Root Bridge \[PCI0\]/, /pci 0000:00:01\.0: \[8086:7000\]/,
  /clocksource: acpi_pm: mask: 0xffffff /, /PCI: (Using|Ignoring) E820 reservations for host bridge windows$/];
/**
 * The kernel-log lines of the interrupt controllers (the MADT, src/devices/local-apic.ts and io-apic.ts): the
 * kernel lists the CPU from the MADT, switches to the I/O APIC and finds the PIT's interrupt on pin 2 — as on
 * QEMU's pc machine, line for line; the I/O APIC's own line (IOAPIC_LINE) differs there by its ID.
 */
const APIC_LINES = [/ACPI: LAPIC_NMI /, ...[0, 5, 9, 10, 11].map((irq) => new RegExp(`ACPI: INT_SRC_OVR \\(bus 0 bus_irq ${irq} `)),
  /ACPI: Using ACPI \(MADT\) for SMP configuration information$/, /smpboot: Allowing 1 CPUs, 0 hotplug CPUs$/,
  /APIC: Switch to symmetric I\/O mode setup$/, /Enabling APIC mode: /, /\.\.TIMER: /, /ACPI: Using IOAPIC for interrupt routing$/];
/** A P6's APIC IDs: the CPU's 0, the I/O APIC's 1 (QEMU's xAPIC CPU leaves its I/O APIC at 0; board.ts IO_APIC_ID). */
const IOAPIC_LINE = /^IOAPIC\[0\]: apic_id 1, version 32, address 0xfec00000, GSI 0-23$/;
/** The kernel-log lines that say it read the loader's SMBIOS tables (src/loader/smbios-tables.ts). */
const DMI_LINES = [/^SMBIOS 2\.8 present\.$/, /^DMI: x86jit Standard PC \(i440FX \+ PIIX3\), BIOS x86jit Linux loader 04\/01\/2014$/];
const POWER_OFF_LINES = [/ACPI: PM: Preparing to enter system sleep state S5$/, /reboot: Power down$/];
const logLines = (out: string, wanted: RegExp[]): string[] => {
  const lines = out.replace(/\r/g, '').split('\n').map((l) => l.replace(/^\[ *\d+\.\d+\] /, ''));
  return wanted.map((re) => lines.find((l) => re.test(l))?.replace(/0x[0-9A-F]{16}/, 'ADDRESS') ?? `(no line matching ${re})`);
};

// No per-region binaryen validation here (tests/setup-module-check.ts's X86JIT_JIT_MODULE_DIR): ~1,900
// regions would add minutes; the JIT's modules are validated by the JIT's own suites.
const JIT_ENV = { ...process.env, X86JIT_JIT_MODULE_DIR: '' };

/** The boot: under the JIT, to the shell's first prompt, where the snapshot is saved. */
function bootX86jit(engine: 'interp' | 'jit'): Promise<Boot> {
  const boot = ['--engine', engine, '--kernel', KERNEL, '--initrd', initrd, '--append', append(END[engine]), '--timeout', '900'];
  return run(process.execPath, engine === 'jit' ? [CLI, 'snapshot', ...boot, '--at-output', PROMPT, '-o', snapshot] : [CLI, 'run', ...boot], JIT_ENV);
}

/**
 * The snapshot at the prompt, continued in a new process whose stdin (a pipe) gives the shell its input.
 * Under the interpreter (the default engine, what a user types): a snapshot does not depend on the engine
 * that made it, and for these ~2.6 M instructions of mostly cold code the JIT's translations cost more than
 * they save (measured: 12.6–18.5 s of CPU against 3.6–4.0 s, README's Linux section).
 */
const restoreShell = (): Promise<Boot> => run(process.execPath, [CLI, 'run', '--restore', snapshot, '--timeout', '600'], process.env, { text: SHELL_INPUT });

const qemu: Partial<Record<End, Promise<Boot>>> = {};
const qemuBoot = (end: End): Promise<Boot> => (qemu[end] ??= run('qemu-system-i386', ['-cpu', 'pentium2', '-m', '128', '-kernel', KERNEL, '-initrd', initrd,
  '-append', append(end), '-nographic', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04'], process.env,
  end === 'shell' ? { text: SHELL_INPUT, after: PROMPT } : undefined, join(dir, `qemu-${end}.out`)));

describe.runIf(hasKernel).concurrent('Debian\'s i386 kernel boots to busybox', () => {
  for (const engine of ['jit', 'interp'] as const) {
    test(`under the ${engine === 'jit' ? 'JIT' : 'interpreter'}`, async () => {
      const boot = await bootX86jit(engine);
      const lines = userspace(boot.out);
      const end = END[engine];
      expect(boot.err.split('\n').filter((l) => l && !/^x86jit: /.test(l)), 'stderr').toEqual([]);
      expect(lines, boot.out.slice(-3000)).toEqual([
        'x86jit-linux-test: userspace',
        expect.stringMatching(/^Linux 6\.1\.0-\d+-686 i686$/),
        'fpu\t\t: yes',
        'fpu_exception\t: yes',
        'wp\t\t: yes',
        expect.stringMatching(/^0: counted /),
        expect.stringMatching(/^4: (counted|zero) /),
        'shell loop: 2646700',
        'function called 42',
        'awk: 1.875000000000 3.142857e+00 867361737988.4',
        'x86jit-linux-test: done',
      ]);
      // The shell's end: the snapshot at its prompt (status 0: written), restored with the shell's input piped in.
      const shell = end === 'shell' ? await restoreShell() : undefined;
      if (shell) {
        expect(boot.status, `snapshot at the prompt: ${boot.err}`).toBe(0);
        expect(boot.out.endsWith(PROMPT), boot.out.slice(-300)).toBe(true);
        expect(shell.err.split('\n').filter((l) => l && !/^x86jit: /.test(l)), 'stderr of the restore').toEqual([]);
        const release = lines[1]?.split(' ')[1] ?? '(no uname line)';
        // The restore's output goes on from the prompt the boot printed last.
        expect(transcript(PROMPT + shell.out), shell.out.slice(-3000)).toEqual([
          `${PROMPT}uname -a`,
          expect.stringMatching(new RegExp(`^Linux \\(none\\) ${release.replace(/\./g, '\\.')} #1 SMP .* i686 GNU/Linux$`)),
          `${PROMPT}echo $((6*7))`,
          '42',
          `${PROMPT}exit`,
        ]);
      }
      const ended = shell ?? boot;
      expect(ended.status, end === 'poweroff' ? 'ACPI power-off: status 0' : 'isa-debug-exit status (1 << 1) | 1').toBe(STATUS[end]);
      const complaints = `${boot.out}${shell?.out ?? ''}`.split('\n').filter((l) => COMPLAINT.test(l) && !KNOWN.some((k) => k.test(l)));
      expect(complaints, 'kernel log').toEqual([]);
      const warnings = kernelWarnings(boot.out);
      expect(warnings.length, 'the init\'s dmesg ran').toBeGreaterThan(0);
      expect(warnings.filter((l) => !KNOWN_WARNINGS.some((k) => k.test(l))), 'kernel records at warning level or worse').toEqual([]);
      const acpi = logLines(boot.out, end === 'poweroff' ? [...ACPI_LINES, ...POWER_OFF_LINES] : ACPI_LINES);
      expect(acpi.filter((l) => l.startsWith('(no line')), 'ACPI in the kernel log').toEqual([]);
      expect(logLines(boot.out, DMI_LINES).filter((l) => l.startsWith('(no line')), 'SMBIOS in the kernel log').toEqual([]);
      expect(logLines(boot.out, [...APIC_LINES, IOAPIC_LINE]).filter((l) => l.startsWith('(no line')), 'the APICs in the kernel log').toEqual([]);
      if (hasQemu) {
        const q = await qemuBoot(end);
        expect(q.status, q.out.slice(-2000)).toBe(STATUS[end]);
        expect(machineIndependent(lines)).toEqual(machineIndependent(userspace(q.out)));
        expect(logLines(boot.out, APIC_LINES), 'the APICs as under QEMU').toEqual(logLines(q.out, APIC_LINES));
        if (shell) expect(transcript(PROMPT + shell.out), 'the shell as under QEMU').toEqual(transcript(q.out));
        // The PM timer's port, the PCI root bridge and the power-off look the same to the kernel as QEMU's (the tables' own lines differ:
        // names, addresses). Not the acpi_pm clocksource: QEMU's PM timer follows the host clock, and on a loaded
        // host the kernel finds it "running at invalid rate" against QEMU's PIT and drops it (seen here at 113%).
        // And the kernel's choice of PCI quirks by the firmware's date (the SMBIOS BIOS date is SeaBIOS's).
        const same = (l: string): boolean => /PM-Timer IO Port|S5|Power down|Interpreter|PCI0|8086:7000|E820 reservations/.test(l);
        expect(acpi.filter(same)).toEqual(logLines(q.out, end === 'poweroff' ? [...ACPI_LINES, ...POWER_OFF_LINES] : ACPI_LINES).filter(same));
      }
    }, 1_800_000); // the boot's --timeout, then the restore's and QEMU's
  }
});
