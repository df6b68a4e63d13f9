// Running oracle cases on the host CPU: build the i386 harness once per process (gcc -m32, freestanding),
// falling back to the committed prebuilt tests/oracle/harness.bin, then one process spawn per batch.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeResults, encodeCases, FIXED_FLAGS, LOW_ADDR, type OracleCase, type OracleResult, STACK_ADDR, WINDOW } from './layout.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const HARNESS_SOURCES = [join(HERE, 'harness.c'), join(HERE, 'harness.S'), join(HERE, 'harness-batch.c')];
export const PREBUILT = join(HERE, 'harness.bin');
export const GCC_FLAGS = [
  '-m32', '-ffreestanding', '-nostdlib', '-static', '-fno-pie', '-no-pie', '-fno-stack-protector',
  '-fno-tree-loop-distribute-patterns', '-O2', '-Wall', '-Wl,--build-id=none',
];

export interface Harness {
  path: string;
  source: 'gcc' | 'prebuilt';
  /** The kernel let the harness map LOW_ADDR (below 64 KiB), so 16-bit addressing can reach memory. */
  lowWindow: boolean;
  /** The kernel let the harness make a 16-bit code segment (modify_ldt). */
  code16: boolean;
}

let cached: { harness?: Harness; reason?: string } | undefined;

/**
 * Build (or find) a harness that runs on this machine; `reason` says why not when it cannot.
 * X86JIT_HOST_HARNESS=prebuilt skips gcc and uses the committed binary.
 */
export function hostHarness(): { harness?: Harness; reason?: string } {
  if (cached) return cached;
  const notes: string[] = [];
  let harness: Harness | undefined;
  if (process.env.X86JIT_HOST_HARNESS !== 'prebuilt') {
    const out = join(mkdtempSync(join(tmpdir(), 'x86jit-oracle-')), 'harness');
    const gcc = spawnSync('gcc', [...GCC_FLAGS, ...HARNESS_SOURCES, '-o', out], { encoding: 'utf8' });
    if (gcc.error) notes.push(`gcc not available (${gcc.error.message})`);
    else if (gcc.status !== 0) notes.push(`gcc -m32 failed: ${gcc.stderr.trim().split('\n').slice(0, 3).join(' / ')}`);
    else harness = { path: out, source: 'gcc', lowWindow: false, code16: false };
  }
  if (!harness) {
    const pre = prebuiltHarness();
    if (pre.harness) return (cached = pre);
    notes.push(pre.reason!);
    return (cached = { reason: notes.join('; ') });
  }
  const why = cannotRun(harness);
  if (why) return (cached = { reason: `${notes.join('; ')}${notes.length ? '; ' : ''}${why}` });
  probeFeatures(harness);
  return (cached = { harness });
}

/** The committed tests/oracle/harness.bin (for machines without a 32-bit-capable gcc). */
export function prebuiltHarness(): { harness?: Harness; reason?: string } {
  if (!existsSync(PREBUILT)) return { reason: `no prebuilt harness at ${PREBUILT}` };
  const copy = join(mkdtempSync(join(tmpdir(), 'x86jit-oracle-')), 'harness.bin');
  copyFileSync(PREBUILT, copy);
  chmodSync(copy, 0o755);
  const harness: Harness = { path: copy, source: 'prebuilt', lowWindow: false, code16: false };
  const why = cannotRun(harness);
  if (why) return { reason: why };
  probeFeatures(harness);
  return { harness };
}

/** Can this kernel run it? An empty batch must exit 0 with no output. */
function cannotRun(h: Harness): string | undefined {
  const probe = spawnSync(h.path, [], { input: Buffer.alloc(0) });
  if (!probe.error && probe.status === 0) return undefined;
  const why = probe.error ? probe.error.message : `exit ${probe.status} ${probe.signal ?? ''} ${probe.stderr?.toString().trim() ?? ''}`;
  return `the host cannot run i386 binaries (${h.source} harness: ${why.trim()})`;
}

/** What the kernel allows: MOV AL, [LOW_ADDR] with 16-bit addressing, and MOV AX, 1234h in 16-bit code. */
function probeFeatures(h: Harness): void {
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
  const input = encodeCases(cases);
  const r = spawnSync(harness.path, [], { input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`harness exited with ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
  return decodeResults(r.stdout, cases.length);
}
