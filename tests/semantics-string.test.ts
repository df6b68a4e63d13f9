// String instructions: REP precision across faults, the per-execution iteration bound, the typed-array
// fast paths against an element-by-element reference, address size, segment overrides, and port I/O.
import { describe, expect, it } from 'vitest';
import { BREAK_MODE } from '../src/cpu/cpu.ts';
import { REP_CHUNK } from '../src/cpu/semantics/string.ts';
import { CF, CODE_CHUNK_SHIFT, DF, EAX, ECX, EDI, EDX, EIP, ESI, ZF } from '../src/cpu/state.ts';
import { DS, ES, FS } from '../src/decoder/instruction.ts';
import { PAGE_HAS_CODE } from '../src/machine/memory.ts';
import { compile, execute, flagsOf, machine, reg, setState } from './semantics-helpers.ts';

const ATTR_DATA = 0x93; // present, writable data (real mode only checks the limit)

function fillPattern(ram: Uint8Array, at: number, n: number, seed: number): void {
  for (let i = 0; i < n; i++) ram[at + i] = (i * 7 + seed) & 0xff;
}

/** The architectural definition of REP MOVS with DF = 0: one element at a time (read, then write), forwards. */
function referenceMovs(ram: Uint8Array, src: number, dst: number, count: number, size: number): void {
  for (let i = 0; i < count; i++) ram.set(ram.slice(src + i * size, src + (i + 1) * size), dst + i * size);
}

/** The same with DF = 1: from the element at src (the highest) down. */
function referenceMovsBack(ram: Uint8Array, src: number, dst: number, count: number, size: number): void {
  for (let i = 0; i < count; i++) ram.set(ram.slice(src - i * size, src - i * size + size), dst - i * size);
}

describe('REP MOVS / STOS', () => {
  it('copies with the fast path and leaves ESI/EDI/ECX past the data', () => {
    const { cpu, mem } = machine();
    fillPattern(mem.ram, 0x10000, 4000, 1);
    setState(cpu, [0, 1000, 0, 0, 0, 0, 0x10000, 0x20000]);
    expect(execute(cpu, 'f3 a5')).toBeUndefined(); // rep movsd
    expect([reg(cpu, ESI), reg(cpu, EDI), reg(cpu, ECX)]).toEqual([0x10000 + 4000, 0x20000 + 4000, 0]);
    expect(mem.ram.subarray(0x20000, 0x20000 + 4000)).toEqual(mem.ram.subarray(0x10000, 0x10000 + 4000));
  });

  for (const [name, delta, size, hex] of [['byte, dst = src + 1', 1, 1, 'f3 a4'], ['dword, dst = src + 2', 2, 4, 'f3 a5'], ['byte, dst = src - 3', -3, 1, 'f3 a4'], ['word, dst = src + 6', 6, 2, '66 f3 a5']] as const) {
    it(`overlapping copy (${name}) matches element-by-element forward copying`, () => {
      const { cpu, mem } = machine();
      const ref = new Uint8Array(mem.ram.length);
      fillPattern(mem.ram, 0x10000, 600, 3);
      ref.set(mem.ram.subarray(0, 0x20000));
      setState(cpu, [0, 100, 0, 0, 0, 0, 0x10000, 0x10000 + delta]);
      execute(cpu, hex);
      referenceMovs(ref, 0x10000, 0x10000 + delta, 100, size);
      expect(mem.ram.subarray(0xff00, 0x10300)).toEqual(ref.subarray(0xff00, 0x10300));
      expect(reg(cpu, ECX)).toBe(0);
    });
  }

  for (const [name, delta, size, hex] of [['dword, dst = src - 2', -2, 4, 'f3 a5'], ['byte, dst = src - 1', -1, 1, 'f3 a4'], ['dword, dst = src + 4', 4, 4, 'f3 a5'], ['word, dst = src + 1', 1, 2, '66 f3 a5'], ['byte, dst = src + 300', 300, 1, 'f3 a4']] as const) {
    it(`overlapping copy with DF = 1 (${name}) matches element-by-element backward copying, as one copy where they agree`, () => {
      const { cpu, mem } = machine();
      const ref = new Uint8Array(mem.ram.length);
      fillPattern(mem.ram, 0xff00, 1024, 7);
      ref.set(mem.ram.subarray(0, 0x20000));
      const last = 0x10000 + 99 * size; // ESI: the highest element
      setState(cpu, [0, 100, 0, 0, 0, 0, last, last + delta], DF);
      const work = cpu.work;
      execute(cpu, hex);
      referenceMovsBack(ref, last, last + delta, 100, size);
      expect(mem.ram.subarray(0xff00, 0x10400)).toEqual(ref.subarray(0xff00, 0x10400));
      expect([reg(cpu, ESI), reg(cpu, EDI), reg(cpu, ECX)]).toEqual([last - 100 * size, last + delta - 100 * size, 0]);
      // A destination below the source and overlapping it goes element by element (a unit of work each);
      // otherwise one copy (a unit per 16 bytes).
      expect(cpu.work - work).toBe(delta < 0 ? 99 : (100 * size) >>> 4);
    });
  }

  it('copies backwards with DF = 1', () => {
    const { cpu, mem } = machine();
    fillPattern(mem.ram, 0x10000, 64, 5);
    setState(cpu, [0, 4, 0, 0, 0, 0, 0x1000c, 0x2000c], DF);
    execute(cpu, 'f3 a5');
    expect([reg(cpu, ESI), reg(cpu, EDI), reg(cpu, ECX)]).toEqual([0x0fffc, 0x1fffc, 0]);
    expect(mem.ram.subarray(0x20000, 0x20010)).toEqual(mem.ram.subarray(0x10000, 0x10010));
  });

  it('writes into a chunk holding code through the invalidating path', () => {
    const { cpu, mem } = machine();
    const writes: number[] = [];
    mem.onCodeWrite = (phys) => writes.push(phys);
    mem.pageFlags[0x20] = PAGE_HAS_CODE;
    mem.codeMap[0x20040 >> CODE_CHUNK_SHIFT] = 1;
    fillPattern(mem.ram, 0x10000, 16, 9);
    setState(cpu, [0, 4, 0, 0, 0, 0, 0x10000, 0x20038]);
    execute(cpu, 'f3 a5');
    // Element by element: the two stores before the code chunk go straight to RAM.
    expect(writes).toEqual([0x20040, 0x20044]);
    expect(mem.ram.subarray(0x20038, 0x20048)).toEqual(mem.ram.subarray(0x10000, 0x10010));
  });

  it('writes into a page holding code, away from its code chunks, as one copy', () => {
    const { cpu, mem } = machine();
    const writes: number[] = [];
    mem.onCodeWrite = (phys) => writes.push(phys);
    mem.pageFlags[0x20] = PAGE_HAS_CODE;
    mem.codeMap[0x20040 >> CODE_CHUNK_SHIFT] = 1;
    fillPattern(mem.ram, 0x10000, 64, 9);
    setState(cpu, [0, 16, 0, 0, 0, 0, 0x10000, 0x20000]);
    execute(cpu, 'f3 a5');
    setState(cpu, [0, 16, 0, 0, 0, 0, 0x10000, 0x20080]);
    execute(cpu, 'f3 a5');
    expect(writes).toEqual([]);
    expect(mem.ram.subarray(0x20000, 0x20040)).toEqual(mem.ram.subarray(0x10000, 0x10040));
    expect(mem.ram.subarray(0x20080, 0x200c0)).toEqual(mem.ram.subarray(0x10000, 0x10040));
  });

  for (const [hex, size, value] of [['f3 aa', 1, 0xab], ['66 f3 ab', 2, 0xbeef], ['f3 ab', 4, 0xdeadbeef]] as const) {
    it(`STOS fills ${size}-byte elements at an unaligned address`, () => {
      const { cpu, mem } = machine();
      // The accumulator's bits above the element size must not be stored.
      setState(cpu, [size === 4 ? value : size === 2 ? 0x1234_0000 | value : 0x1234_5600 | value, 333, 0, 0, 0, 0, 0, 0x30001]);
      execute(cpu, hex);
      expect([reg(cpu, EDI), reg(cpu, ECX)]).toEqual([0x30001 + 333 * size, 0]);
      for (let i = 0; i < 333; i++) expect(cpu.mem.read(0x30001 + i * size, size as 1 | 2 | 4) >>> 0).toBe(value >>> 0);
      expect(mem.ram[0x30000]).toBe(0);
      expect(mem.ram[0x30001 + 333 * size]).toBe(0);
    });
  }

  for (const df of [0, DF]) {
    it(`an execution ends where ECX reaches a multiple of ${REP_CHUNK}, then re-executes (DF=${df ? 1 : 0})`, () => {
      const { cpu, mem } = machine();
      const start = df ? 0x80000 : 0x10000;
      setState(cpu, [0x5a, REP_CHUNK + 10, 0, 0, 0, 0, 0, start], df);
      const stos = compile(cpu, 'f3 aa');
      cpu.breakBlock = 0;
      expect(stos.run()).toBeUndefined();
      expect(reg(cpu, ECX)).toBe(REP_CHUNK);
      expect(reg(cpu, EDI)).toBe(start + (df ? -10 : 10));
      expect(cpu.s[EIP]).toBe(stos.eip);
      expect(cpu.breakBlock & BREAK_MODE).toBeTruthy();
      cpu.breakBlock = 0;
      stos.run();
      expect(reg(cpu, ECX)).toBe(0);
      expect(cpu.s[EIP]).toBe(stos.next);
      expect(cpu.breakBlock).toBe(0);
      const step = df ? -1 : 1;
      expect(reg(cpu, EDI)).toBe(start + step * (REP_CHUNK + 10));
      const lo = df ? start - REP_CHUNK - 9 : start;
      expect(mem.ram.subarray(lo, lo + REP_CHUNK + 10).every((b) => b === 0x5a)).toBe(true);
      // Cut short and run again (as after a fault, or compiled code leaving before an element): the same boundary.
      setState(cpu, [0x5a, 2 * REP_CHUNK + 5 - 100, 0, 0, 0, 0, 0, start], df);
      cpu.breakBlock = 0;
      stos.run();
      expect(reg(cpu, ECX)).toBe(REP_CHUNK);
    });
  }

  it('a fault in the middle leaves the completed iterations, and re-execution finishes the job', () => {
    const { cpu, mem } = machine();
    cpu.setSegmentCache(DS, 0, 0, 0x1ffff, ATTR_DATA);
    fillPattern(mem.ram, 0x1fff0, 32, 11);
    setState(cpu, [0, 10, 0, 0, 0, 0, 0x1fffb, 0x30000]);
    const movs = compile(cpu, 'f3 a4');
    const fault = movs.run();
    expect(fault?.vector).toBe(13);
    // Offsets 0x1fffb..0x1ffff are inside the limit: five bytes moved.
    expect([reg(cpu, ESI), reg(cpu, EDI), reg(cpu, ECX)]).toEqual([0x20000, 0x30005, 5]);
    expect(mem.ram.subarray(0x30000, 0x30005)).toEqual(mem.ram.subarray(0x1fffb, 0x20000));
    expect(mem.ram[0x30005]).toBe(0);
    cpu.setSegmentCache(DS, 0, 0, 0x2ffff, ATTR_DATA);
    expect(movs.run()).toBeUndefined();
    expect([reg(cpu, ESI), reg(cpu, EDI), reg(cpu, ECX)]).toEqual([0x20005, 0x3000a, 0]);
    expect(mem.ram.subarray(0x30000, 0x3000a)).toEqual(mem.ram.subarray(0x1fffb, 0x20005));
  });

  it('uses SI/DI/CX with a 16-bit address size, wrapping at 64 KiB and keeping the upper halves', () => {
    const { cpu, mem } = machine();
    mem.ram.set([1, 2], 0xfffe); mem.ram.set([3, 4], 0);
    setState(cpu, [0, 0x7777_0004, 0, 0, 0, 0, 0xaaaa_fffe, 0x5555_0100]);
    execute(cpu, '67 f3 a4'); // addr16 rep movsb
    expect([reg(cpu, ESI), reg(cpu, EDI), reg(cpu, ECX)]).toEqual([0xaaaa_0002, 0x5555_0104, 0x7777_0000]);
    expect([...mem.ram.subarray(0x100, 0x104)]).toEqual([1, 2, 3, 4]);
  });

  it('takes the source segment from an override; the destination is always ES', () => {
    const { cpu, mem } = machine();
    cpu.setSegmentCache(FS, 0x3000, 0x30000, 0xffff, ATTR_DATA);
    cpu.setSegmentCache(ES, 0x4000, 0x40000, 0xffff, ATTR_DATA);
    mem.ram.set([9, 8, 7], 0x30010); mem.ram.set([1, 1, 1], 0x10);
    setState(cpu, [0, 3, 0, 0, 0, 0, 0x10, 0x20]);
    execute(cpu, '64 f3 a4'); // rep movsb es:[edi], fs:[esi]
    expect([...mem.ram.subarray(0x40020, 0x40023)]).toEqual([9, 8, 7]);
    setState(cpu, [0, 0, 0, 0, 0, 0, 0x10, 0x30]);
    execute(cpu, '26 a4'); // movsb es:[edi], es:[esi]
    expect(mem.ram[0x40030]).toBe(0);
    mem.ram[0x40010] = 0x66;
    setState(cpu, [0, 0, 0, 0, 0, 0, 0x10, 0x30]);
    execute(cpu, '26 a4');
    expect(mem.ram[0x40030]).toBe(0x66);
  });
});

describe('REPE/REPNE CMPS and SCAS', () => {
  const text = (s: string): number[] => [...s].map((ch) => ch.charCodeAt(0));

  it('REPE CMPSB stops at the first difference with the flags of that comparison', () => {
    const { cpu, mem } = machine();
    mem.ram.set(text('abcdef'), 0x1000); mem.ram.set(text('abcxef'), 0x2000);
    setState(cpu, [0, 6, 0, 0, 0, 0, 0x1000, 0x2000], ZF);
    execute(cpu, 'f3 a6');
    expect([reg(cpu, ECX), reg(cpu, ESI), reg(cpu, EDI)]).toEqual([2, 0x1004, 0x2004]);
    expect(flagsOf(cpu) & (ZF | CF)).toBe(CF); // 'd' < 'x'
  });

  it('REPE CMPSB over equal strings runs the count out with ZF = 1', () => {
    const { cpu, mem } = machine();
    mem.ram.set(text('same'), 0x1000); mem.ram.set(text('same'), 0x2000);
    setState(cpu, [0, 4, 0, 0, 0, 0, 0x1000, 0x2000]);
    execute(cpu, 'f3 a6');
    expect(reg(cpu, ECX)).toBe(0);
    expect(flagsOf(cpu) & ZF).toBe(ZF);
  });

  it('REPNE SCASB stops on the matching byte', () => {
    const { cpu, mem } = machine();
    mem.ram.set(text('abcdef'), 0x2000);
    setState(cpu, [0x65, 6, 0, 0, 0, 0, 0, 0x2000]);
    execute(cpu, 'f2 ae');
    expect([reg(cpu, ECX), reg(cpu, EDI)]).toEqual([1, 0x2005]);
    expect(flagsOf(cpu) & ZF).toBe(ZF);
  });

  it('a zero count changes nothing, flags included', () => {
    const { cpu } = machine();
    setState(cpu, [0x65, 0, 0, 0, 0, 0, 0x1000, 0x2000], CF | ZF);
    execute(cpu, 'f3 af');
    expect([reg(cpu, ECX), reg(cpu, ESI), reg(cpu, EDI)]).toEqual([0, 0x1000, 0x2000]);
    expect(flagsOf(cpu) & (CF | ZF)).toBe(CF | ZF);
  });

  it('REP LODSB leaves the last element in AL', () => {
    const { cpu, mem } = machine();
    mem.ram.set([5, 6, 7], 0x1000);
    setState(cpu, [0x11223344, 3, 0, 0, 0, 0, 0x1000, 0]);
    execute(cpu, 'f3 ac');
    expect([reg(cpu, EAX), reg(cpu, ESI), reg(cpu, ECX)]).toEqual([0x11223307, 0x1003, 0]);
  });
});

describe('INS / OUTS', () => {
  function portDevice(log: string[]): { read(o: number, s: 1 | 2 | 4): number; write(o: number, s: 1 | 2 | 4, v: number): void; accessWidth: 2 } {
    let n = 0;
    return {
      accessWidth: 2,
      read: (o, s) => { log.push(`in${s} ${o}`); return 0x40 + n++; },
      write: (o, s, v) => { log.push(`out${s} ${o} ${v.toString(16)}`); },
    };
  }

  it('REP INSB stores one port read per element at ES:EDI', () => {
    const { cpu, io, mem } = machine();
    const log: string[] = [];
    io.register(0x100, 4, portDevice(log), 'test');
    setState(cpu, [0, 3, 0x101, 0, 0, 0, 0, 0x5000]);
    execute(cpu, 'f3 6c');
    expect(log).toEqual(['in1 1', 'in1 1', 'in1 1']);
    expect([...mem.ram.subarray(0x5000, 0x5003)]).toEqual([0x40, 0x41, 0x42]);
    expect([reg(cpu, ECX), reg(cpu, EDI), reg(cpu, EDX)]).toEqual([0, 0x5003, 0x101]);
  });

  it('REP OUTSW sends each word from the source', () => {
    const { cpu, io, mem } = machine();
    const log: string[] = [];
    io.register(0x100, 4, portDevice(log), 'test');
    mem.ram.set([0x34, 0x12, 0x78, 0x56], 0x6000);
    setState(cpu, [0, 2, 0x100, 0, 0, 0, 0x6000, 0]);
    execute(cpu, '66 f3 6f');
    expect(log).toEqual(['out2 0 1234', 'out2 0 5678']);
    expect([reg(cpu, ECX), reg(cpu, ESI)]).toEqual([0, 0x6004]);
  });

  it('INS checks the destination before reading the port', () => {
    const { cpu, io } = machine();
    const log: string[] = [];
    io.register(0x100, 4, portDevice(log), 'test');
    cpu.setSegmentCache(ES, 0, 0, 0x5001, ATTR_DATA);
    setState(cpu, [0, 3, 0x100, 0, 0, 0, 0, 0x5000]);
    const fault = execute(cpu, 'f3 6c');
    expect(fault?.vector).toBe(13);
    expect(log).toEqual(['in1 0', 'in1 0']); // the third element's store faults before its port read
    expect([reg(cpu, ECX), reg(cpu, EDI)]).toEqual([1, 0x5002]);
  });
});
