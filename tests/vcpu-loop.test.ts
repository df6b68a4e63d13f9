// The vCPU loop's ways of ending a HLT, and its exit counters, through the public API.
import { describe, expect, it } from 'vitest';
import { createVM } from '../src/index.ts';

/** A flat 32-bit VM (PICs as SeaBIOS leaves them) running `code` at 0x100000. */
function vmWith(code: number[]) {
  const vm = createVM({ memory: 4 << 20 });
  vm.setFlat32();
  vm.memory.writeBytes(0x100000, Uint8Array.from(code));
  vm.setRegisters({ eip: 0x100000, esp: 0x90000 });
  return vm;
}

describe('HLT', () => {
  it('with IF = 0 ends the run', () => {
    const exit = vmWith([0xfa, 0xf4]).run({ maxInstructions: 100 }); // cli; hlt
    expect([exit.reason, exit.message, exit.eip]).toEqual(['halt', 'HLT with interrupts disabled', 0x100002]);
  });

  it('with IF = 1 but every IRQ masked ends the run instead of skipping time for ever', () => {
    // mov al, 0xff; out 0x21, al; out 0xa1, al; sti; hlt
    const vm = vmWith([0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, 0xfb, 0xf4]);
    const exit = vm.run({ maxInstructions: 100 });
    expect(exit.reason).toBe('halt');
    expect(exit.message).toMatch(/interrupt controllers mask or block/);
    expect(vm.exitStats().find((e) => e.reason === 'HLT')?.count).toBe(1);
  });

  it('with IF = 1 wakes on the PIT tick and enters the IRQ0 handler (vector 8 after a Multiboot load)', () => {
    // GDT at 0x4000 (flat code 0x08, data 0x10); IDT at 0x2000 with gate 8 → 0x100100, whose handler
    // writes 0x2a to isa-debug-exit.  lgdt [0x3008]; lidt [0x3000]; sti; hlt; jmp $
    const vm = vmWith([0x0f, 0x01, 0x15, 0x08, 0x30, 0x00, 0x00, 0x0f, 0x01, 0x1d, 0x00, 0x30, 0x00, 0x00, 0xfb, 0xf4, 0xeb, 0xfe]);
    vm.memory.writeBytes(0x3000, Uint8Array.from([0xff, 0x07, 0x00, 0x20, 0x00, 0x00])); // limit 0x7ff, base 0x2000
    vm.memory.writeBytes(0x3008, Uint8Array.from([0x17, 0x00, 0x00, 0x40, 0x00, 0x00])); // limit 0x17, base 0x4000
    vm.memory.writeBytes(0x4008, Uint8Array.from([0xff, 0xff, 0, 0, 0, 0x9a, 0xcf, 0, 0xff, 0xff, 0, 0, 0, 0x92, 0xcf, 0]));
    const gate = new DataView(new ArrayBuffer(8));
    gate.setUint32(0, (0x08 << 16) | 0x0100, true); gate.setUint32(4, 0x0010_8e00, true);
    vm.memory.writeBytes(0x2000 + 8 * 8, new Uint8Array(gate.buffer));
    vm.memory.writeBytes(0x100100, Uint8Array.from([0xb0, 0x2a, 0xe6, 0xf4])); // mov al, 42; out 0xf4, al
    const exit = vm.run({ maxInstructions: 1000 });
    expect([exit.reason, exit.status]).toEqual(['debug-exit', (42 << 1) | 1]);
    const stats = Object.fromEntries(vm.exitStats().map((e) => [e.reason, e.count]));
    expect(stats).toMatchObject({ HLT: 1, IRQ_WINDOW: 1, DT_LOAD: 2, IO: 1, DEBUG_EXIT: 1 });
    // Virtual time skipped to the PIT's first edge (18.2 Hz at power-on: ~54.9 ms), not a host-time wait.
    expect(vm.nowNs()).toBeGreaterThan(50e6);
  });
});
