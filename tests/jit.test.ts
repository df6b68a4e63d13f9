// The first JIT tier against the interpreter: every test ROM, run with the JIT compiling every block it
// can on first sight (threshold 0), must print what QEMU printed (test-roms/expected/), pass, and retire
// exactly as many instructions as under the interpreter. The ROMs with hot loops must actually have
// compiled blocks, so a JIT that compiles nothing cannot pass.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// Through the esbuild bundle, as roms.test.ts (binaryen stays external and loads on enableJit()).
const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, loadBios, loadImage, loadRaw } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');

const DIR = join(import.meta.dirname, '..', 'test-roms');
const ROMS = readdirSync(DIR).filter((f) => f.endsWith('.elf') || f === 'bios-realmode.bin').sort();
const HASHED: Record<string, string> = { 'console-uart.elf': 'console-uart.sha256', 'console-pv.elf': 'console-uart.sha256' };
const sha256 = (s: string): string => createHash('sha256').update(Buffer.from(s, 'latin1')).digest('hex');

interface Run { output: string; status: number | undefined; reason: string; instructions: number; compiled: number }

async function run(rom: string, jit: boolean): Promise<Run> {
  const chunks: Uint8Array[] = [];
  const vm = createVM({ stdout: (b) => chunks.push(b) });
  if (jit) await vm.enableJit({ threshold: 0 });
  const bytes = new Uint8Array(readFileSync(join(DIR, rom)));
  if (rom.endsWith('.bin')) loadBios(vm, bytes); else loadImage(vm, bytes, rom, {});
  const exit = vm.run({ timeout: 60 });
  return {
    output: Buffer.concat(chunks).toString('latin1'), status: exit.status, reason: exit.reason,
    instructions: vm.instructions, compiled: vm.jitStats()?.compiled ?? 0,
  };
}

const jitRuns = new Map<string, Run>();
async function jitRun(rom: string): Promise<Run> {
  let r = jitRuns.get(rom);
  if (!r) jitRuns.set(rom, (r = await run(rom, true)));
  return r;
}

describe('test ROMs under the JIT (threshold 0)', () => {
  it.each(ROMS)('%s: same output, status and instruction count as the interpreter', async (rom) => {
    const ours = await jitRun(rom);
    expect(ours.output).not.toMatch(/^FAIL/m);
    expect({ reason: ours.reason, status: ours.status }).toEqual({ reason: 'debug-exit', status: 1 });
    if (HASHED[rom]) {
      const want = readFileSync(join(DIR, 'expected', HASHED[rom]), 'utf8').trim().split(/\s+/)[0];
      expect(sha256(ours.output)).toBe(want);
    } else {
      const file = join(DIR, 'expected', rom.replace(/\.(elf|bin)$/, '.txt'));
      expect(existsSync(file)).toBe(true);
      expect(ours.output).toBe(readFileSync(file, 'latin1'));
    }
    const interp = await run(rom, false);
    expect(interp.compiled).toBe(0);
    expect(ours.instructions).toBe(interp.instructions);
  });

  it.each(ROMS.filter((r) => r === 'loops.elf' || r.startsWith('wl-')))('%s: the JIT compiled blocks', async (rom) => {
    expect((await jitRun(rom)).compiled).toBeGreaterThanOrEqual(4);
  });
});

// Lockstep: the JIT and the interpreter run the same ROM in slices of a prime number of instructions
// (so slices end inside compiled blocks, self-loops and side exits at ever-different places); after every
// slice the registers, EIP and the materialised EFLAGS must be equal, and guest RAM at the end.
describe('JIT and interpreter in lockstep', () => {
  const LOCKSTEP = ['alu.elf', 'stack.elf', 'wl-bytecode.elf', 'wl-memcpy.elf', 'wl-recursion.elf', 'wl-sieve.elf', 'wl-sort.elf'];
  it.each(LOCKSTEP.filter((r) => ROMS.includes(r)))('%s: same registers and flags every 7919 instructions', async (rom) => {
    const make = async (jit: boolean) => {
      const vm = createVM({ memory: 16 << 20 });
      if (jit) await vm.enableJit({ threshold: 0 });
      loadImage(vm, new Uint8Array(readFileSync(join(DIR, rom))), rom, {});
      return vm;
    };
    const a = await make(true), b = await make(false);
    let checks = 0;
    for (;;) {
      const ea = a.run({ maxInstructions: 7919 }), eb = b.run({ maxInstructions: 7919 });
      expect(a.instructions).toBe(b.instructions);
      const ra = a.getRegisters(), rb = b.getRegisters();
      if (JSON.stringify(ra) !== JSON.stringify(rb)) expect({ at: a.instructions, ...ra }).toEqual({ at: b.instructions, ...rb });
      checks++;
      expect(ea.reason).toBe(eb.reason);
      if (ea.reason !== 'max-instructions') break;
    }
    expect(Buffer.compare(Buffer.from(a.memory.readBytes(0, 16 << 20)), Buffer.from(b.memory.readBytes(0, 16 << 20)))).toBe(0);
    expect(a.jitStats()!.instructions).toBeGreaterThan(0);
    expect(checks).toBeGreaterThan(10);
  });
});

// Random programs built from the compiled subset, mixed with instructions the JIT leaves to the
// interpreter (byte-sized ALU, shifts, ADC, SETcc, PUSHF) so lazy-flag records of every kind cross the
// boundary both ways, and Jcc +2 over a 2-byte MOV so that every condition decides the outcome. Each runs
// under both engines; registers, EFLAGS, EIP, the scratch area and the stack must agree.
describe('random subset programs: JIT vs interpreter', () => {
  let seed = 0x2545f491;
  const rnd = (n: number): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
  const u32 = (): number => [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xff, 0x80][rnd(10)] ?? (rnd(0x10000) * 0x10001 + rnd(3)) >>> 0;
  const le = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  const DSTS = [0, 1, 2, 3, 6, 7]; // never ESP (stack) or EBP (scratch base)
  const dst = (): number => DSTS[rnd(DSTS.length)];
  const src = (): number => rnd(8);
  const ALU_RR = [0x01, 0x29, 0x21, 0x09, 0x31, 0x39, 0x85];
  const ALU_RM = [0x03, 0x2b, 0x23, 0x0b, 0x33, 0x3b];
  const DIGITS = [0, 1, 4, 5, 6, 7];
  const d8 = (): number => rnd(31) * 4 + rnd(2);
  function instruction(mixed: boolean): number[] {
    switch (rnd(mixed ? 28 : 25)) {
      case 0: case 1: case 2: return [ALU_RR[rnd(7)], 0xc0 | (src() << 3) | dst()];
      case 3: case 4: return [0x81, 0xc0 | (DIGITS[rnd(6)] << 3) | dst(), ...le(u32())];
      case 5: return [0x83, 0xc0 | (DIGITS[rnd(6)] << 3) | dst(), rnd(256)];
      case 6: return [0xf7, 0xc0 | dst(), ...le(u32())];
      case 7: return [(rnd(2) ? 0x40 : 0x48) + dst()];
      case 8: return [0xb8 + dst(), ...le(u32())];
      case 9: return [0x89, 0xc0 | (src() << 3) | dst()];
      case 10: return [0x8d, 0x84 | (dst() << 3), (rnd(4) << 6) | (6 << 3) | 5, ...le(u32())];
      case 11: return [0x89, 0x45 | (src() << 3), d8()];
      case 12: return [0x8b, 0x45 | (dst() << 3), d8()];
      case 13: return [ALU_RM[rnd(6)], 0x45 | (dst() << 3), d8()];
      case 14: return [ALU_RR[rnd(6)], 0x45 | (src() << 3), d8()];
      case 15: return [0x0f, rnd(2) ? 0xb6 : 0xbe, 0xc0 | (dst() << 3) | rnd(8)];
      case 16: return [0xb0 + [0, 1, 2, 3, 4, 5, 6, 7][rnd(8)], rnd(256)];
      case 17: return [0x50 + src(), 0x58 + dst()];
      case 21: return rnd(2) ? [0x88, 0x45 | (rnd(8) << 3), d8()] : [0xc6, 0x45, d8(), rnd(256)];
      case 22: return [0x8a, 0x45 | (rnd(8) << 3), d8()];
      case 23: return [0x68, ...le(STACK - 4 * rnd(8)), 0x5c]; // push imm; pop esp
      case 18: case 19: case 20: return [0x70 + rnd(16), 2, 0x89, 0xc0 | (src() << 3) | dst()];
      // Left to the interpreter: byte compare/add, shift, ADC, SETcc, PUSHF/POP.
      case 25: return [[0x38, 0x00, 0x28][rnd(3)], 0xc0 | (rnd(8) << 3) | [0, 1, 2, 3][rnd(4)]];
      case 26: return [[0xd1, 0x11][rnd(2)], rnd(2) ? 0xe8 | dst() : 0xc0 | (src() << 3) | dst()];
      case 27: return rnd(2) ? [0x0f, 0x90 + rnd(16), 0xc0 | [0, 1, 2, 3][rnd(4)]] : [0x9c, 0x58 + dst()];
      default: return [0x90];
    }
  }
  const LOAD = 0x100000, SCRATCH = 0x200000, STACK = 0x300000;

  it('300 programs agree', async () => {
    let compiledTotal = 0, jitInstructions = 0;
    for (let p = 0; p < 300; p++) {
      // A third of the programs mix in instructions the JIT refuses; every fourth writes into its own
      // code (the scratch base points at the program's last 128 bytes), which must not run stale.
      const mixed = p % 3 === 0, selfModifying = p % 4 === 1;
      const code: number[] = [];
      const len = 5 + rnd(60);
      for (let i = 0; i < len; i++) code.push(...instruction(mixed));
      code.push(0xeb, 0xfe); // jmp $ (a self-loop block: the budget ends the run)
      const base = selfModifying ? LOAD + Math.max(0, code.length - 128) : SCRATCH;
      const regs = { eax: u32(), ecx: u32(), edx: u32(), ebx: u32(), esp: STACK, ebp: base, esi: rnd(64), edi: u32(), eip: LOAD, eflags: 2 | (rnd(0x1000) & 0x8d5) };
      const scratch = Uint8Array.from({ length: 256 }, () => rnd(256));
      const state = async (jit: boolean) => {
        const vm = createVM({ memory: 4 << 20 });
        if (jit) await vm.enableJit({ threshold: 0 });
        loadRaw(vm, Uint8Array.from(code), { load: LOAD, entry: LOAD });
        vm.memory.writeBytes(SCRATCH, scratch);
        vm.setRegisters(regs);
        const exit = vm.run({ maxInstructions: len * 3 + 50 });
        const st = vm.jitStats();
        if (st) { compiledTotal += st.compiled; jitInstructions += st.instructions; }
        return { exit: exit.reason, n: vm.instructions, ...vm.getRegisters(), scratch: Buffer.from(vm.memory.readBytes(base, 256)).toString('hex'), stack: Buffer.from(vm.memory.readBytes(STACK - 64, 64)).toString('hex') };
      };
      const a = await state(true), b = await state(false);
      if (JSON.stringify(a) !== JSON.stringify(b)) expect({ program: Buffer.from(code).toString('hex'), ...a }).toEqual({ program: Buffer.from(code).toString('hex'), ...b });
    }
    expect(compiledTotal).toBeGreaterThan(300);
    expect(jitInstructions).toBeGreaterThan(10_000);
  });
});


// The default mode: regions translate on the worker thread while the interpreter runs, and install between
// blocks. The result must be the interpreter's, and the hot code must end up compiled.
describe('background translation (default threshold, worker thread)', () => {
  it.each(['wl-sieve.elf', 'wl-crc32.elf'])('%s: same output and count as the interpreter, mostly in compiled code', async (rom) => {
    const chunks: Uint8Array[] = [];
    const vm = createVM({ stdout: (b) => chunks.push(b) });
    await vm.enableJit();
    expect(await vm.jitReady()).toBe(true);
    loadImage(vm, new Uint8Array(readFileSync(join(DIR, rom))), rom, { cmdline: `${rom} repeat=4` });
    const exit = vm.run({ timeout: 60 });
    const interp = createVM({ stdout: () => {} });
    loadImage(interp, new Uint8Array(readFileSync(join(DIR, rom))), rom, { cmdline: `${rom} repeat=4` });
    interp.run({ timeout: 60 });
    expect({ reason: exit.reason, status: exit.status }).toEqual({ reason: 'debug-exit', status: 1 });
    expect(Buffer.concat(chunks).toString('latin1')).not.toMatch(/^FAIL/m);
    expect(vm.instructions).toBe(interp.instructions);
    const st = vm.jitStats()!;
    expect(st.compiled).toBeGreaterThan(0);
    expect(st.instructions / vm.instructions).toBeGreaterThan(0.5);
  });
});
