// Random guest programs (tests/jit-random-programs.ts) under the JIT (threshold 0: every block compiled on
// first sight) and the interpreter: exit reason, instruction count, registers, EFLAGS, EIP and all of guest
// RAM (the scratch area, the stack, the code itself) must agree. One VM per engine runs every program:
// each program is written over the previous one through vm.memory.writeBytes, which must invalidate the
// code compiled from it (a fresh interpreter VM checks that now and then). A failing program is shrunk,
// and the lockstep (jit/lockstep.ts) names its first divergence.
//   X86JIT_SEED=<n|0xhex>  another seed (default fixed)   X86JIT_CASES=<n>  programs (default 10000)
//   X86JIT_FIRST=<i>       start at program i (with X86JIT_CASES=1: rerun one failing program)
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assemble, budget, CODE, generateProgram, loadProgram, type Program, RAM, shrink } from './jit-random-programs.ts';

const BUNDLE = join(import.meta.dirname, '..', 'dist', 'index.js');
const { createVM, formatDivergence, lockstep } = (await import(pathToFileURL(BUNDLE).href)) as typeof import('../src/index.ts');
type VM = import('../src/index.ts').VM;

function parseNum(name: string): number | undefined {
  const s = process.env[name];
  if (s === undefined || s === '') return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${s}: expected a non-negative number (decimal or 0x hex)`);
  return n;
}
const SEED = (parseNum('X86JIT_SEED') ?? 0x5eed_1f00) >>> 0;
const CASES = parseNum('X86JIT_CASES') ?? 10_000;
const FIRST = parseNum('X86JIT_FIRST') ?? 0;
/** Every this many programs, a fresh interpreter VM runs the program too (stale code after a rewrite would show). */
const CONTROL_EVERY = 50;
/** Failing programs shrunk and reported in full. */
const SHOW = 3;

interface Outcome { exit: string; n: number; regs: string; error?: string }

function runOn(vm: VM, p: Program, code: Uint8Array): Outcome {
  try {
    loadProgram(vm, p, code);
    const start = vm.instructions;
    const e = vm.run({ maxInstructions: budget(p) });
    return { exit: e.reason === 'debug-exit' ? `debug-exit ${e.status}` : e.reason, n: vm.instructions - start, regs: JSON.stringify(vm.getRegisters()) };
  } catch (e) {
    return { exit: 'exception', n: -1, regs: '', error: String((e as Error)?.stack ?? e) };
  }
}

const ram = (vm: VM): Buffer => Buffer.from(vm.memory.ram.buffer, vm.memory.ram.byteOffset, RAM);
const agree = (a: Outcome, b: Outcome, va: VM, vb: VM): boolean =>
  a.exit === b.exit && a.n === b.n && a.regs === b.regs && a.error === undefined && b.error === undefined && ram(va).equals(ram(vb));

async function freshPair(): Promise<[VM, VM]> {
  const jit = createVM({ memory: RAM });
  await jit.enableJit({ threshold: 0 });
  return [jit, createVM({ memory: RAM })];
}

/** Does `p` diverge on fresh VMs? */
async function failsFresh(p: Program): Promise<boolean> {
  const code = assemble(p);
  const [j, i] = await freshPair();
  return !agree(runOn(j, p, code), runOn(i, p, code), j, i);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The report for one failing program: how to rerun it, its bytes, the shrunk program and the lockstep's finding. */
async function report(p: Program, what: string): Promise<string> {
  const lines = [`program ${p.index} (X86JIT_SEED=0x${SEED.toString(16)} X86JIT_FIRST=${p.index} X86JIT_CASES=1): ${what}`,
    `  code at 0x${CODE.toString(16)}: ${hex(assemble(p))}`, `  registers: ${JSON.stringify(p.regs)}`];
  if (!(await failsFresh(p))) { lines.push('  (agrees on fresh VMs: the divergence needs the state the previous programs left in the reused VMs)'); return lines.join('\n'); }
  const small = await shrink(p, failsFresh);
  const code = assemble(small);
  lines.push(`  shrunk: ${hex(code)}`);
  const result = await lockstep({
    setup: (vm) => loadProgram(vm, small, code), vm: { memory: RAM }, slice: budget(small), maxInstructions: budget(small),
  });
  lines.push(result.divergence ? `  lockstep: ${formatDivergence(result.divergence).replace(/\n/g, '\n    ')}` : '  lockstep: no divergence found (sliced runs agree)');
  return lines.join('\n');
}

describe('random programs: JIT (threshold 0) vs interpreter', () => {
  it('writing new code through vm.memory.writeBytes invalidates what the JIT compiled from the old code', async () => {
    const [jit, interp] = await freshPair();
    for (const vm of [jit, interp]) {
      // a loop that the JIT compiles, then the same bytes with another immediate
      const prog = (v: number) => Uint8Array.from([0xb9, 50, 0, 0, 0, 0x05, v, 0, 0, 0, 0x49, 0x75, 0xf8, 0xeb, 0xfe]); // mov ecx,50; l: add eax,v; dec ecx; jnz l; jmp $
      for (const v of [1, 3, 7]) {
        vm.memory.writeBytes(CODE, prog(v));
        vm.setFlat32();
        vm.setRegisters({ eax: 0, eip: CODE, esp: 0x8000, eflags: 2 });
        vm.run({ maxInstructions: 200 });
        expect({ v, eax: vm.getRegisters().eax }).toEqual({ v, eax: 50 * v });
      }
    }
    expect(jit.jitStats()!.instructions).toBeGreaterThan(0);
  });

  it(`${CASES} programs agree (seed 0x${SEED.toString(16)})`, async () => {
    let [jit, interp] = await freshPair();
    const failures: { p: Program; what: string }[] = [];
    const exits = new Map<string, number>();
    let instructions = 0, controls = 0, jitInstructions = 0;
    for (let k = FIRST; k < FIRST + CASES; k++) {
      const p = generateProgram(SEED, k);
      const code = assemble(p);
      const a = runOn(jit, p, code), b = runOn(interp, p, code);
      exits.set(b.exit, (exits.get(b.exit) ?? 0) + 1);
      instructions += Math.max(0, b.n);
      if (!agree(a, b, jit, interp)) {
        const what = a.error ? `the JIT VM threw: ${a.error.split('\n').slice(0, 3).join(' | ')}` : b.error ? `the interpreter VM threw: ${b.error.split('\n')[0]}` : `jit ${a.exit}/${a.n}, interp ${b.exit}/${b.n}`;
        failures.push({ p, what });
        // an engine that threw, or disagreed, may have left any state behind: go on with fresh VMs
        jitInstructions += jit.jitStats()?.instructions ?? 0;
        [jit, interp] = await freshPair();
        if (failures.length >= 200) break;
        continue;
      }
      if (k % CONTROL_EVERY === 0 && !p.tsc) {
        const fresh = createVM({ memory: RAM });
        const c = runOn(fresh, p, code);
        controls++;
        if (!agree(b, c, interp, fresh)) failures.push({ p, what: `a reused interpreter VM disagrees with a fresh one (${b.exit}/${b.n} vs ${c.exit}/${c.n}): stale code after vm.memory.writeBytes?` });
      }
    }
    const summary = `${CASES - failures.length}/${CASES} programs agree; exits ${JSON.stringify(Object.fromEntries(exits))}; ` +
      `${instructions} instructions, ${jitInstructions + (jit.jitStats()?.instructions ?? 0)} in compiled code; ${controls} fresh-VM controls`;
    console.log(`jit-random: ${summary}`);
    if (failures.length > 0) {
      const shown: string[] = [];
      for (const f of failures.slice(0, SHOW)) shown.push(await report(f.p, f.what));
      const rest = failures.slice(SHOW).map((f) => `${f.p.index}`).join(' ');
      expect.fail(`${failures.length} of ${CASES} programs diverge (seed 0x${SEED.toString(16)})\n${shown.join('\n')}${rest ? `\nalso failing: programs ${rest}` : ''}`);
    }
    expect(exits.get('max-instructions') ?? 0).toBeGreaterThan(CASES * 0.7);
    // most of the work ran in compiled code (a JIT that compiles nothing cannot pass)
    jitInstructions += jit.jitStats()?.instructions ?? 0;
    expect(jitInstructions).toBeGreaterThan(instructions * 0.2);
  });
});
