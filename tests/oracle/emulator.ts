// Running oracle cases on our emulator through the public API: one VM in flat 32-bit protected mode,
// with a small GDT and an IDT (loaded by a setup snippet, LGDT/LIDT) whose 32 gates lead to one-byte
// HLT stubs at distinct addresses, so a run that ends in HLT at stub v + 1 reports exception v. The
// exception frame on the stack then gives the EIP and ESP at the fault, as the host's ucontext does.
// 16-bit code cases enter the GDT's 16-bit code segment (base CODE_ADDR) by a far jump from a
// trampoline and leave by a far jump to a HLT in the flat segment, as the harness does with its LDT.
import { createVM, type VM } from '../../src/index.ts';
import {
  CODE_ADDR, DATA_ADDR, ESP, FIXED_FLAGS, INPUT_FLAGS, LOW_ADDR, type OracleCase, type OracleResult, REG_NAMES, STACK_ADDR, WINDOW,
} from './layout.ts';

const GDT_ADDR = 0x0008_0000;
const IDT_ADDR = 0x0008_0100;
const DESC_PTRS = 0x0008_0800; // GDTR image at +0, IDTR image at +8
const STUBS = 0x0008_1000; // HLT for vector v at STUBS + 16 * v
const ENTER16 = 0x0008_2000; // jmp far CODE16:0
const EXIT32 = 0x0008_2010; // HLT, reached by jmp far CODE32:EXIT32 after a 16-bit snippet
const CODE32 = 0x08, CODE16 = 0x18;
const VECTORS = 32;
/** Exceptions that push an error code (SDM Vol. 3, Table 6-1). */
const WITH_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17]);
const MAX_INSTRUCTIONS = 10_000;

export class EmulatorOracle {
  readonly vm: VM;

  /** The same oracle VM with the JIT forced on every block (threshold 0): compiled code must agree too. */
  /** With the JIT forced on every block, at tier 1 or with every region at tier 2. */
  static async withJit(tier: 1 | 2 = 1): Promise<EmulatorOracle> {
    const o = new EmulatorOracle();
    await o.vm.enableJit({ threshold: 0, ...(tier === 2 ? { tier2: 'sync', tier2Threshold: 0 } : { tier2: 'off' }) });
    return o;
  }

  constructor() {
    this.vm = createVM({ memory: 16 << 20 });
    this.vm.setFlat32();
    // The host harness sees no hardware interrupts: mask both PICs so the timer never reaches a case.
    this.vm.io.out(0x21, 1, 0xff);
    this.vm.io.out(0xa1, 1, 0xff);
    this.installTables();
  }

  private installTables(): void {
    const mem = this.vm.memory;
    // GDT: null, 0x08 flat 32-bit code (execute/read), 0x10 flat 32-bit data — the selectors setFlat32
    // uses — and 0x18 a 16-bit code segment based at CODE_ADDR with a 64 KiB limit.
    const gdt = new DataView(new ArrayBuffer(32));
    gdt.setUint32(8, 0x0000_ffff, true); gdt.setUint32(12, 0x00cf_9a00, true);
    gdt.setUint32(16, 0x0000_ffff, true); gdt.setUint32(20, 0x00cf_9200, true);
    gdt.setUint32(24, ((CODE_ADDR & 0xffff) << 16) | 0xffff, true);
    gdt.setUint32(28, (CODE_ADDR & 0xff00_0000) | 0x9a00 | ((CODE_ADDR >>> 16) & 0xff), true);
    mem.writeBytes(GDT_ADDR, new Uint8Array(gdt.buffer));
    const idt = new DataView(new ArrayBuffer(VECTORS * 8));
    for (let v = 0; v < VECTORS; v++) {
      const handler = STUBS + 16 * v;
      // 32-bit interrupt gate, present, DPL 0, selector 0x08.
      idt.setUint32(8 * v, (0x08 << 16) | (handler & 0xffff), true);
      idt.setUint32(8 * v + 4, (handler & 0xffff_0000) | 0x8e00, true);
    }
    mem.writeBytes(IDT_ADDR, new Uint8Array(idt.buffer));
    const ptrs = new DataView(new ArrayBuffer(14));
    ptrs.setUint16(0, 32 - 1, true); ptrs.setUint32(2, GDT_ADDR, true);
    ptrs.setUint16(8, VECTORS * 8 - 1, true); ptrs.setUint32(10, IDT_ADDR, true);
    mem.writeBytes(DESC_PTRS, new Uint8Array(ptrs.buffer));
    mem.writeBytes(STUBS, new Uint8Array(VECTORS * 16).fill(0xf4));
    mem.writeBytes(ENTER16, Uint8Array.of(0xea, 0, 0, 0, 0, CODE16, 0)); // jmp far 0x18:0
    mem.writeBytes(EXIT32, Uint8Array.of(0xf4));
    // lgdt [DESC_PTRS]; lidt [DESC_PTRS + 8]
    const setup = [0x0f, 0x01, 0x15, ...le32(DESC_PTRS), 0x0f, 0x01, 0x1d, ...le32(DESC_PTRS + 8)];
    mem.writeBytes(CODE_ADDR, Uint8Array.from([...setup, 0xf4]));
    this.vm.setRegisters({ eip: CODE_ADDR, esp: STACK_ADDR + 0x80, eflags: FIXED_FLAGS });
    const exit = this.vm.run({ maxInstructions: 10, until: CODE_ADDR + setup.length });
    if (exit.reason !== 'until') throw new Error(`emulator oracle setup (LGDT/LIDT) did not complete: ${exit.reason} at ${exit.eip.toString(16)}: ${exit.message}`);
  }

  run(c: OracleCase): OracleResult {
    const vm = this.vm, mem = vm.memory;
    const code = new Uint8Array(c.code.length + 16).fill(0xf4);
    code.set(c.code);
    // 16-bit code leaves with jmp far (66h: 32-bit offset) 0x08:EXIT32.
    if (c.code16) code.set([0x66, 0xea, ...le32(EXIT32), CODE32, 0], c.code.length);
    mem.writeBytes(CODE_ADDR, code);
    mem.writeBytes(DATA_ADDR, c.data);
    mem.writeBytes(STACK_ADDR, c.stack);
    mem.writeBytes(LOW_ADDR, c.low);
    const regs: Record<string, number> = { eip: c.code16 ? ENTER16 : CODE_ADDR, eflags: (c.eflags & INPUT_FLAGS) | FIXED_FLAGS };
    REG_NAMES.forEach((n, i) => { regs[n] = c.regs[i]; });
    vm.setRegisters(regs);
    const end = CODE_ADDR + c.code.length;
    const result = (vector: number, error?: string): OracleResult => {
      const r = vm.getRegisters();
      const out: OracleResult = {
        vector, eip: r.eip, regs: Uint32Array.from(REG_NAMES.map((n) => r[n])), eflags: r.eflags,
        data: mem.readBytes(DATA_ADDR, WINDOW), stack: mem.readBytes(STACK_ADDR, WINDOW), low: mem.readBytes(LOW_ADDR, WINDOW),
      };
      if (error) out.error = error;
      return out;
    };
    let exit;
    try {
      // The snippet is followed by HLT rather than using run({ until }), which single-steps: this way
      // the interpreter's normal block path runs the snippet.
      exit = vm.run({ maxInstructions: MAX_INSTRUCTIONS });
    } catch (e) {
      return result(-1, `emulator threw: ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ') ?? e}`);
    }
    if (exit.reason === 'halt' && exit.eip === (c.code16 ? EXIT32 : end) + 1) {
      const r = result(-1);
      r.eip = end;
      return r;
    }
    const stubOffset = exit.eip - 1 - STUBS;
    if (exit.reason === 'halt' && stubOffset >= 0 && stubOffset < VECTORS * 16 && stubOffset % 16 === 0) {
      // Unwind the exception frame: [error code,] EIP, CS, EFLAGS, pushed on the faulting stack.
      const vector = stubOffset / 16;
      const r = result(vector);
      let sp = r.regs[ESP];
      if (WITH_ERROR_CODE.has(vector)) sp += 4;
      r.eip = mem.read(sp, 4) >>> 0;
      if ((mem.read(sp + 4, 4) & 0xffff) === CODE16) r.eip = (r.eip + CODE_ADDR) >>> 0; // report linear, as the harness does
      r.eflags = mem.read(sp + 8, 4) >>> 0;
      r.regs[ESP] = (sp + 12) >>> 0;
      return r;
    }
    return result(-1, `emulator stopped: ${exit.reason} at ${exit.eip.toString(16)} (${exit.message})`);
  }
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
