// The lockstep (jit/lockstep.ts) on every test ROM: the JIT (threshold 0) and the interpreter run side by
// side in slices of a prime number of instructions — registers, EFLAGS, exit, output and instruction
// count compared after every slice, guest RAM every 32 slices and at the end — and must never diverge.
// Then the lockstep itself: setups that differ, and faults injected into the JIT VM (after a given
// instruction; only under budgets larger than one instruction, as a JIT bug in compiled code would be;
// in RAM) must be reported with what differs, the values under each engine, and the exact guest EIP and
// instruction count; and `x86jit lockstep` exits 0 / 1 / 2.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, formatDivergence, loadBios, loadImage, lockstep } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type VM = import('../src/index.ts').VM;
type LockstepOptions = import('../src/index.ts').LockstepOptions;

const DIR = join(import.meta.dirname, '..', 'test-roms');
const CLI = join(import.meta.dirname, '..', 'dist', 'x86jit.js');
const ROMS = readdirSync(DIR).filter((f) => f.endsWith('.elf') || f === 'bios-realmode.bin').sort();
const MEMORY = 16 << 20;
const SLICE = 4001;

const image = (rom: string) => new Uint8Array(readFileSync(join(DIR, rom)));
const loader = (rom: string) => {
  const bytes = image(rom);
  return (vm: VM): void => { if (rom.endsWith('.bin')) loadBios(vm, bytes); else loadImage(vm, bytes, rom, {}); };
};

// Tier 1 alone, and tier 2 for every region ('sync' at tier-2 threshold 0: binaryen, loops formed).
describe.each([
  ['1', { tier2: 'off' }],
  ['2', { tier2: 'sync', tier2Threshold: 0 }],
] as const)('lockstep: JIT tier %s (threshold 0) and interpreter on every test ROM', (_tier, jit) => {
  it.each(ROMS)('%s: no divergence', async (rom) => {
    const r = await lockstep({ setup: loader(rom), vm: { memory: MEMORY, jit }, slice: SLICE, memoryEvery: 32 });
    if (r.divergence) expect.fail(`${rom}: ${formatDivergence(r.divergence)}`);
    expect({ reason: r.exit?.reason, status: r.exit?.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(r.slices).toBeGreaterThan(0);
    // the hot ROMs must really have run compiled code
    if (rom === 'loops.elf' || rom.startsWith('wl-')) expect(r.jitInstructions).toBeGreaterThan(1000);
  });
});

/** The interpreter's registers after `n` instructions of `rom`. */
function interpAt(rom: string, n: number) {
  const vm = createVM({ memory: MEMORY });
  loader(rom)(vm);
  vm.run({ maxInstructions: n });
  return vm.getRegisters();
}

/** Setup for the JIT VM that changes its state once, right after a run() call ends at or past `at` instructions. */
function faultAfter(rom: string, at: number, change: (vm: VM) => void, onlyLargeBudgets = false): LockstepOptions['setup'] {
  const load = loader(rom);
  return (vm, engine) => {
    load(vm);
    if (engine !== 'jit') return;
    const run = vm.run.bind(vm);
    let done = false;
    vm.run = (opts = {}) => {
      const exit = run(opts);
      if (!done && vm.instructions >= at && (!onlyLargeBudgets || (opts.maxInstructions ?? Infinity) > 1)) { done = true; change(vm); }
      return exit;
    };
  };
}

describe('the lockstep finds divergences', () => {
  const ROM = 'wl-sort.elf';

  it('setups that differ in one register: that register, both values and the entry EIP', async () => {
    const load = loader(ROM);
    const r = await lockstep({
      setup: (vm, engine) => { load(vm); if (engine === 'jit') vm.setRegisters({ ebx: vm.getRegisters().ebx ^ 0x40 }); },
      vm: { memory: MEMORY },
    });
    const d = r.divergence!;
    expect(d).not.toBeNull();
    const entry = interpAt(ROM, 0);
    expect({ method: d.method, instructions: d.instructions, eip: d.eip, first: d.first }).toEqual({
      method: 'initial', instructions: 0, eip: entry.eip, first: { kind: 'register', name: 'ebx', jit: entry.ebx ^ 0x40, interp: entry.ebx },
    });
    expect(d.differences).toHaveLength(1);
  });

  it('a register that goes wrong after instruction N: found by single-stepping, at N and its EIP', async () => {
    const N = 123_457;
    const r = await lockstep({ setup: faultAfter(ROM, N, (vm) => vm.setRegisters({ esi: vm.getRegisters().esi ^ 0x100 })), vm: { memory: MEMORY }, slice: 7919, memoryEvery: 4 });
    const d = r.divergence!;
    expect(d).not.toBeNull();
    const before = interpAt(ROM, N - 1), after = interpAt(ROM, N);
    expect({ method: d.method, instructions: d.instructions, eip: d.eip, cs: d.cs }).toEqual({ method: 'step', instructions: N - 1, eip: before.eip, cs: before.cs });
    expect(d.first).toEqual({ kind: 'register', name: 'esi', jit: after.esi ^ 0x100, interp: after.esi });
    expect(d.instruction).toMatch(new RegExp(`^0008:${before.eip.toString(16).padStart(8, '0')}\\s+\\S`));
    expect(formatDivergence(d)).toMatch(/esi: jit 0x[0-9a-f]+, interp 0x[0-9a-f]+/);
  });

  it('a flag that goes wrong only under budgets above one instruction (as in compiled code): found by bisection, by name', async () => {
    const N = 200_003;
    const r = await lockstep({
      setup: faultAfter(ROM, N, (vm) => vm.setRegisters({ eflags: vm.getRegisters().eflags ^ 0x40 }), true), vm: { memory: MEMORY }, slice: 997, memoryEvery: 8,
    });
    const d = r.divergence!;
    expect(d).not.toBeNull();
    const before = interpAt(ROM, N - 1), after = interpAt(ROM, N);
    expect({ method: d.method, instructions: d.instructions, eip: d.eip }).toEqual({ method: 'bisect', instructions: N - 1, eip: before.eip });
    expect(d.first).toEqual({ kind: 'flag', name: 'ZF', jit: ((after.eflags >> 6) & 1) ^ 1, interp: (after.eflags >> 6) & 1 });
    expect(d.note).toMatch(/single-stepping does not reproduce it/);
  });

  it('a RAM byte that goes wrong: its guest-physical address, both values, the instruction count', async () => {
    const N = 31_337, ADDR = 0xe00123;
    const r = await lockstep({ setup: faultAfter(ROM, N, (vm) => vm.memory.writeBytes(ADDR, Uint8Array.of(0x5a))), vm: { memory: MEMORY }, slice: 4001, memoryEvery: 16 });
    const d = r.divergence!;
    expect(d).not.toBeNull();
    expect({ method: d.method, instructions: d.instructions, eip: d.eip, first: d.first }).toEqual({
      method: 'step', instructions: N - 1, eip: interpAt(ROM, N - 1).eip, first: { kind: 'memory', name: 'mem[0x00e00123]', jit: 0x5a, interp: 0 },
    });
  });

  it('an engine that throws: reported as an error, not as a crash of the lockstep', async () => {
    const N = 50_000;
    const r = await lockstep({ setup: faultAfter(ROM, N, (vm) => { vm.run = () => { throw new Error('injected'); }; }), vm: { memory: MEMORY }, slice: 4001 });
    const d = r.divergence!;
    expect(d.first).toEqual({ kind: 'error', name: 'exception', jit: 'Error: injected', interp: 'none' });
  });
});

describe('x86jit lockstep', () => {
  const x86jit = (...args: string[]) => spawnSync(process.execPath, [CLI, 'lockstep', ...args], { encoding: 'utf8', timeout: 60_000 });

  it('exits 0 and says so when the engines agree; --json gives the result', () => {
    const r = x86jit(join(DIR, 'hello.elf'), '--mem', '16M');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/no divergence in \d+ instructions/);
    const j = x86jit(join(DIR, 'wl-sieve.elf'), '--mem', '16M', '--slice', '1009', '--max-instructions', '300000', '--json');
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ divergence: null, instructions: 300000, exit: { reason: 'max-instructions' } });
  });

  it('exits 2 on bad arguments or a bad image', () => {
    for (const args of [[], ['--slice', '0', join(DIR, 'hello.elf')], ['--bogus', join(DIR, 'hello.elf')], [join(DIR, 'README.md')], [join(DIR, 'no-such.elf')], ['--mem', '1K', join(DIR, 'hello.elf')]]) {
      const r = x86jit(...args);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(/^x86jit: /);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
