import { describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { DebugConsole } from '../src/devices/debug-console.ts';

function setup(): { bus: IoBus; out: number[] } {
  const bus = new IoBus();
  const out: number[] = [];
  bus.register(0xe9, 1, new DebugConsole({ onOutput: (b) => out.push(b) }), 'debugcon');
  return { bus, out };
}

describe('port 0xE9 debug console', () => {
  it('outputs every byte written, in order', () => {
    const { bus, out } = setup();
    for (const c of 'ok\n') bus.out(0xe9, 1, c.charCodeAt(0));
    bus.out(0xe9, 1, 0x00);
    bus.out(0xe9, 1, 0xff);
    expect(out).toEqual([0x6f, 0x6b, 0x0a, 0x00, 0xff]);
  });

  it('reads back 0xE9 so that guests can detect it (QEMU isa-debugcon readback, Bochs)', () => {
    const { bus, out } = setup();
    expect(bus.in(0xe9, 1)).toBe(0xe9);
    expect(out).toEqual([]);
  });

  it('is an 8-bit port: a word write outputs its low byte, the high byte goes to port 0xEA (nobody)', () => {
    const { bus, out } = setup();
    bus.out(0xe9, 2, 0x4241);
    bus.out(0xe9, 4, 0x44434245);
    expect(out).toEqual([0x41, 0x45]);
    expect(bus.in(0xe9, 2)).toBe(0xffe9);
  });
});
