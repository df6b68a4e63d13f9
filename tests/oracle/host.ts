// Running oracle cases on the host CPU. Three native harnesses read and write the same records
// (tests/oracle/harness.h): the i386 one, for kernels that run i386 binaries; the compatibility-mode one,
// an x86-64 program running the snippets in a 32-bit code segment, for kernels without IA32 emulation; and
// the long-mode one, which runs snippets re-encoded as 64-bit code (long64.ts). Where no 32-bit code runs
// at all — hypervisors that run 64-bit user code only — every case the long-mode harness can express runs
// natively there, and the rest in the i386 harness under qemu-i386 (Debian's qemu-user): QEMU's TCG is
// their oracle instead of the host CPU. Each harness is built with gcc once per process, else its committed
// prebuilt binary is used; then one process spawn per batch.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { CODE_ADDR, decodeResults, encodeCases, FIXED_FLAGS, LOW_ADDR, type OracleCase, type OracleResult, STACK_ADDR, WINDOW } from './layout.ts';
import { type Long64Code, offset32, reencodeLong64 } from './long64.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const COMMON_FLAGS = [
  '-ffreestanding', '-nostdlib', '-static', '-fno-pie', '-no-pie', '-fno-stack-protector',
  '-fno-tree-loop-distribute-patterns', '-O2', '-Wall', '-Wl,--build-id=none',
];

export type HarnessKind = 'i386' | 'compat' | 'long64';

/** The user-mode emulator that runs the i386 harness where the host runs no 32-bit code. */
export const QEMU_I386 = 'qemu-i386';

/** How each harness is built (the same commands as in the header comments of harness.c, harness64.c and harness-long64.S). */
export const HARNESS_BUILDS: Record<HarnessKind, { sources: string[]; flags: string[]; prebuilt: string }> = {
  i386: {
    sources: ['harness.c', 'runtime32.S', 'case32.S', 'harness-batch.c'].map((f) => join(HERE, f)),
    flags: ['-m32', ...COMMON_FLAGS],
    prebuilt: join(HERE, 'harness.bin'),
  },
  // Linked where the i386 harness is, so the 32-bit address space around the snippet looks the same.
  compat: {
    sources: ['harness64.c', 'runtime64.S', 'harness64.S', 'case32.S', 'harness-batch.c'].map((f) => join(HERE, f)),
    flags: ['-m64', ...COMMON_FLAGS, '-fcf-protection=none', '-Wl,-Ttext-segment=0x8048000'],
    prebuilt: join(HERE, 'harness64.bin'),
  },
  // harness64.c without the segment set-up, around harness-long64.S: snippets run in 64-bit mode.
  long64: {
    sources: ['harness64.c', 'runtime64.S', 'harness-long64.S', 'harness-batch.c'].map((f) => join(HERE, f)),
    flags: ['-m64', '-DSNIPPETS_IN_LONG_MODE', ...COMMON_FLAGS, '-fcf-protection=none', '-Wl,-Ttext-segment=0x8048000'],
    prebuilt: join(HERE, 'harness-long64.bin'),
  },
};

export interface Harness {
  path: string;
  kind: HarnessKind;
  /** Run under this user-mode emulator (qemu-i386) rather than natively. */
  emulator?: string;
  source: 'gcc' | 'prebuilt';
  /** The kernel let the harness map LOW_ADDR (below 64 KiB), so 16-bit addressing can reach memory. */
  lowWindow: boolean;
  /** The kernel let the harness make a 16-bit code segment (modify_ldt). */
  code16: boolean;
}

export interface HostHarness {
  harness?: Harness;
  /** Where `harness` is emulated: the long-mode harness, which runs the cases it can express natively. */
  long64?: Harness;
  /** Why no harness runs here. */
  reason?: string;
}

let cached: HostHarness | undefined;

/**
 * Build (or find) a harness that runs on this machine: the i386 one, else the compatibility-mode one,
 * else the i386 one under qemu-i386; `reason` says why none can. X86JIT_HOST_HARNESS=prebuilt skips gcc
 * and uses the committed binaries.
 */
export function hostHarness(): HostHarness {
  if (cached) return cached;
  const notes: string[] = [];
  // X86JIT_HOST_NO32=1: behave as on a machine that runs no 32-bit code (to measure that mix anywhere).
  const tries = process.env.X86JIT_HOST_NO32 === '1' ? [['i386', QEMU_I386]] as const : [['i386', undefined], ['compat', undefined], ['i386', QEMU_I386]] as const;
  for (const [kind, emulator] of tries) {
    const found = harnessOfKind(kind, emulator);
    if (found.harness) {
      if (found.harness.emulator) {
        const long = harnessOfKind('long64');
        if (long.harness) found.long64 = long.harness; else notes.push(`long64 harness: ${long.reason}`);
      }
      return (cached = { ...found, reason: notes.join('; ') || undefined });
    }
    notes.push(`${kind} harness${emulator ? ` under ${emulator}` : ''}: ${found.reason}`);
  }
  return (cached = { reason: notes.join('; ') });
}

/** The X86JIT_HOST_HARNESS=prebuilt setting: no gcc builds. */
const prebuiltOnly = (): boolean => process.env.X86JIT_HOST_HARNESS === 'prebuilt';

export function harnessOfKind(kind: HarnessKind, emulator?: string): HostHarness {
  if (prebuiltOnly()) return prebuiltHarness(kind, emulator);
  const build = HARNESS_BUILDS[kind];
  const out = join(mkdtempSync(join(tmpdir(), 'x86jit-oracle-')), `harness-${kind}`);
  const gcc = spawnSync('gcc', [...build.flags, ...build.sources, '-o', out], { encoding: 'utf8' });
  let why: string;
  if (gcc.error) why = `gcc not available (${gcc.error.message})`;
  else if (gcc.status !== 0) why = `gcc ${build.flags[0]} failed: ${gcc.stderr.trim().split('\n').slice(0, 3).join(' / ')}`;
  else {
    // Built, so the prebuilt binary would not run either if this one does not.
    const harness: Harness = { path: out, kind, emulator, source: 'gcc', lowWindow: false, code16: false };
    const cannot = cannotRun(harness);
    if (cannot) return { reason: cannot };
    probeFeatures(harness);
    return { harness };
  }
  const pre = prebuiltHarness(kind, emulator);
  return pre.harness ? pre : { reason: `${why}; ${pre.reason}` };
}

/** The committed prebuilt binary of a harness (for machines without a suitable gcc). */
export function prebuiltHarness(kind: HarnessKind, emulator?: string): HostHarness {
  const file = HARNESS_BUILDS[kind].prebuilt;
  if (!existsSync(file)) return { reason: `no prebuilt harness at ${file}` };
  const copy = join(mkdtempSync(join(tmpdir(), 'x86jit-oracle-')), `harness-${kind}.bin`);
  copyFileSync(file, copy);
  chmodSync(copy, 0o755);
  const harness: Harness = { path: copy, kind, emulator, source: 'prebuilt', lowWindow: false, code16: false };
  const why = cannotRun(harness);
  if (why) return { reason: why };
  probeFeatures(harness);
  return { harness };
}

/** The harness process for a batch on stdin. */
const spawnHarness = (h: Harness, input: Uint8Array) =>
  (h.emulator ? spawnSync(h.emulator, [h.path], { input, maxBuffer: 1 << 30 }) : spawnSync(h.path, [], { input, maxBuffer: 1 << 30 }));

/** Can this kernel (or emulator) run it? An empty batch must exit 0 with no output. */
function cannotRun(h: Harness): string | undefined {
  const probe = spawnHarness(h, Buffer.alloc(0));
  if (!probe.error && probe.status === 0) return undefined;
  const stderr = probe.stderr?.toString() ?? '';
  // A kernel without the binary's format: execvp hands it to /bin/sh, which prints a syntax error.
  const why = probe.error ? ((probe.error as NodeJS.ErrnoException).code === 'ENOENT' && h.emulator ? `${h.emulator} is not installed (apt-get install qemu-user)` : probe.error.message)
    : /syntax error|exec format error/i.test(stderr) ? 'the kernel cannot execute this binary format'
    : `exit ${probe.status ?? probe.signal} ${stderr}`;
  return `the host cannot run it (${h.source} build: ${why.replace(/\s+/g, ' ').trim()})`;
}

/** What the kernel allows: MOV AL, [LOW_ADDR] with 16-bit addressing, and MOV AX, 1234h in 16-bit code. */
function probeFeatures(h: Harness): void {
  if (h.kind === 'long64') return; // neither exists in 64-bit mode: such cases go to the 32-bit path
  const probe = (code: number[], code16: boolean): OracleCase => {
    const low = new Uint8Array(WINDOW);
    low[0] = 0x5a;
    return {
      index: 0, mnemonic: 'MOV', form: 'probe', code: Uint8Array.from(code), code16,
      regs: Uint32Array.of(0, 0, 0, 0, STACK_ADDR + 0x80, 0, 0, 0), eflags: FIXED_FLAGS,
      data: new Uint8Array(WINDOW), stack: new Uint8Array(WINDOW), low, undefFlags: 0, undefRegs: new Uint32Array(8),
    };
  };
  const [low, c16] = runOnHost([probe([0x67, 0xa0, LOW_ADDR & 0xff, LOW_ADDR >>> 8], false), probe([0xb8, 0x34, 0x12], true)], h);
  h.lowWindow = low.vector === -1 && (low.regs[0] & 0xff) === 0x5a;
  h.code16 = !c16.error && c16.vector === -1 && (c16.regs[0] & 0xffff) === 0x1234;
}

/** Run a batch of cases natively in one harness process. */
export function runOnHost(cases: readonly OracleCase[], harness: Harness): OracleResult[] {
  const r = spawnHarness(harness, encodeCases(cases));
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`harness exited with ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
  return decodeResults(r.stdout, cases.length);
}

/** LAHF/SAHF in 64-bit mode (CPUID 8000_0001h ECX bit 0), as /proc/cpuinfo reports it. */
let lahfLm: boolean | undefined;
export function cpuHasLahfLm(): boolean {
  if (lahfLm === undefined) {
    try { lahfLm = /^flags\s*:.*\blahf_lm\b/m.test(readFileSync('/proc/cpuinfo', 'utf8')); } catch { lahfLm = false; }
  }
  return lahfLm;
}

/** The 64-bit form of a case for the long-mode harness, or why it has none. */
export const long64Form = (c: OracleCase): Long64Code | string => reencodeLong64(c, { lahfSahf: cpuHasLahfLm() });

/** Results of a batch, and which cases ran natively in the long-mode harness. */
export interface SplitResults { results: OracleResult[]; native: boolean[] }

/**
 * Run a batch on the host harness; where that is emulated and the long-mode harness runs, the cases it can
 * express run natively there (their stopping EIP mapped back to the 32-bit snippet) and only the rest in
 * the emulated one.
 */
export function runCases(cases: readonly OracleCase[], host: HostHarness): SplitResults {
  if (!host.harness) throw new Error(`no host harness: ${host.reason}`);
  const native = cases.map(() => false);
  if (!host.long64) return { results: runOnHost(cases, host.harness), native };
  const forms = cases.map(long64Form);
  const longIdx: number[] = [], restIdx: number[] = [];
  forms.forEach((f, i) => (typeof f === 'string' ? restIdx : longIdx).push(i));
  const results = new Array<OracleResult>(cases.length);
  const longResults = runOnHost(longIdx.map((i) => ({ ...cases[i], code: (forms[i] as Long64Code).code })), host.long64);
  longIdx.forEach((i, k) => {
    const r = longResults[k], at = offset32(forms[i] as Long64Code, (r.eip - CODE_ADDR) >>> 0);
    if (at < 0) r.error ??= `long64: stopped at ${(r.eip >>> 0).toString(16)}, not an instruction boundary of the re-encoded snippet`;
    else r.eip = CODE_ADDR + at;
    results[i] = r;
    native[i] = true;
  });
  const restResults = restIdx.length ? runOnHost(restIdx.map((i) => cases[i]), host.harness) : [];
  restIdx.forEach((i, k) => { results[i] = restResults[k]; });
  return { results, native };
}
