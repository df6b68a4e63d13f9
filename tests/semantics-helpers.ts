// Shared by the tests/semantics-*.test.ts files: a bare CPU over 4 MiB of RAM (real-mode reset state, all
// segments flat), and one-instruction execution through the real decoder and emitter table, the way the
// run loop does it (EIP is set to the next instruction before the closure runs).
import { Cpu } from '../src/cpu/cpu.ts';
import { CpuFault } from '../src/cpu/fault.ts';
import { getEflags, setEflags } from '../src/cpu/flags.ts';
import { emitterFor } from '../src/cpu/semantics/index.ts';
import { EIP } from '../src/cpu/state.ts';
import { decodeBytes } from '../src/decoder/decode.ts';
import type { Instruction } from '../src/decoder/instruction.ts';
import { IoBus } from '../src/machine/io-bus.ts';
import { PhysicalMemory } from '../src/machine/memory.ts';

export interface Machine { cpu: Cpu; mem: PhysicalMemory; io: IoBus }

export function machine(ramBytes = 4 << 20): Machine {
  const mem = new PhysicalMemory(ramBytes), io = new IoBus();
  return { cpu: new Cpu(mem, io), mem, io };
}

/** "f3 a4" or "f3a4" → bytes. */
export function bytesOf(hex: string): Uint8Array {
  const h = hex.replace(/\s+/g, '');
  return Uint8Array.from({ length: h.length / 2 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
}

/** A decoded instruction bound to a CPU, ready to run any number of times. */
export interface Compiled { ins: Instruction; eip: number; next: number; run(): CpuFault | undefined }

export function compile(cpu: Cpu, hex: string, bits: 16 | 32 = 32, eip = 0x1000): Compiled {
  const ins = decodeBytes(bytesOf(hex), 0, bits);
  const emit = emitterFor(ins);
  if (!emit) throw new Error(`no emitter for ${hex} (${ins.op})`);
  const next = (eip + ins.length) & (bits === 32 ? -1 : 0xffff);
  const exec = emit({ cpu, ins, eip, next, index: 0 });
  return {
    ins, eip, next,
    run() {
      cpu.s[EIP] = next;
      try { exec(); } catch (e) {
        if (e instanceof CpuFault) { cpu.s[EIP] = eip; return e; }
        throw e;
      }
      return undefined;
    },
  };
}

/** Run one instruction once; returns the fault it raised, if any. */
export function execute(cpu: Cpu, hex: string, bits: 16 | 32 = 32): CpuFault | undefined {
  return compile(cpu, hex, bits).run();
}

/** Set the eight general registers (EAX..EDI order) and EFLAGS. */
export function setState(cpu: Cpu, regs: number[], eflags = 0): void {
  for (let r = 0; r < 8; r++) cpu.s[r] = regs[r] ?? 0;
  setEflags(cpu.s, eflags);
}

export const flagsOf = (cpu: Cpu): number => getEflags(cpu.s);
export const reg = (cpu: Cpu, r: number): number => cpu.s[r] >>> 0;
