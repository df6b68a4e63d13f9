// Running oracle cases on the host CPU: build the i386 harness once per process (gcc -m32, freestanding),
// falling back to the committed prebuilt tests/oracle/harness.bin, then one process spawn per batch.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeResults, encodeCases, FIXED_FLAGS, LOW_ADDR, type OracleCase, type OracleResult, STACK_ADDR, WINDOW } from './layout.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const HARNESS_SOURCES = [join(HERE, 'harness.c'), join(HERE, 'harness.S')];
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
}

let cached: { harness?: Harness; reason?: string } | undefined;

/** Build (or find) a harness that runs on this machine; `reason` says why not when it cannot. */
export function hostHarness(): { harness?: Harness; reason?: string } {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'x86jit-oracle-'));
  const out = join(dir, 'harness');
  const notes: string[] = [];
  const gcc = spawnSync('gcc', [...GCC_FLAGS, ...HARNESS_SOURCES, '-o', out], { encoding: 'utf8' });
  let harness: Harness | undefined;
  if (gcc.error) notes.push(`gcc not available (${gcc.error.message})`);
  else if (gcc.status !== 0) notes.push(`gcc -m32 failed: ${gcc.stderr.trim().split('\n').slice(0, 3).join(' / ')}`);
  else harness = { path: out, source: 'gcc', lowWindow: false };
  if (!harness && existsSync(PREBUILT)) {
    const copy = join(dir, 'harness.bin');
    copyFileSync(PREBUILT, copy);
    chmodSync(copy, 0o755);
    harness = { path: copy, source: 'prebuilt', lowWindow: false };
  }
  if (!harness) return (cached = { reason: notes.join('; ') || 'no harness' });
  // Can this kernel run it? An empty batch must exit 0 with no output.
  const probe = spawnSync(harness.path, [], { input: Buffer.alloc(0) });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? probe.error.message : `exit ${probe.status} ${probe.signal ?? ''} ${probe.stderr?.toString().trim() ?? ''}`;
    return (cached = { reason: `${notes.join('; ')}${notes.length ? '; ' : ''}the host cannot run i386 binaries (${harness.source}: ${why.trim()})` });
  }
  harness.lowWindow = probeLowWindow(harness);
  return (cached = { harness });
}

/** MOV AL, [LOW_ADDR] with 16-bit addressing: does it read the window or fault? */
function probeLowWindow(h: Harness): boolean {
  const low = new Uint8Array(WINDOW);
  low[0] = 0x5a;
  const probe: OracleCase = {
    index: 0, mnemonic: 'MOV', form: 'probe', code: Uint8Array.of(0x67, 0xa0, LOW_ADDR & 0xff, LOW_ADDR >>> 8),
    regs: Uint32Array.of(0, 0, 0, 0, STACK_ADDR + 0x80, 0, 0, 0), eflags: FIXED_FLAGS,
    data: new Uint8Array(WINDOW), stack: new Uint8Array(WINDOW), low, undefFlags: 0, undefRegs: new Uint32Array(8),
  };
  const [r] = runOnHost([probe], h);
  return r.vector === -1 && (r.regs[0] & 0xff) === 0x5a;
}

/** Run a batch of cases natively in one harness process. */
export function runOnHost(cases: readonly OracleCase[], harness: Harness): OracleResult[] {
  const input = encodeCases(cases);
  const r = spawnSync(harness.path, [], { input, maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`harness exited with ${r.status ?? r.signal}: ${r.stderr.toString().trim()}`);
  return decodeResults(r.stdout, cases.length);
}
