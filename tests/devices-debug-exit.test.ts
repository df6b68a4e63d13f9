import { describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { DebugExit } from '../src/devices/debug-exit.ts';

function setup(): { bus: IoBus; exits: number[] } {
  const bus = new IoBus();
  const exits: number[] = [];
  // as QEMU's -device isa-debug-exit,iobase=0xf4,iosize=0x04
  bus.register(0xf4, 4, new DebugExit({ onExit: (s) => exits.push(s) }), 'isa-debug-exit');
  return { bus, exits };
}

describe('isa-debug-exit', () => {
  it('turns a written value v into the exit status (v << 1) | 1', () => {
    const { bus, exits } = setup();
    bus.out(0xf4, 1, 0);
    bus.out(0xf4, 1, 0x10);
    bus.out(0xf4, 1, 0x7f);
    expect(exits).toEqual([1, 0x21, 0xff]);
  });

  it('takes the whole value of a word or dword write, masked to the access size', () => {
    const { bus, exits } = setup();
    // QEMU 7.2: out dx, ax with 0x0102 exits with status 5 (the low 8 bits of 0x205)
    bus.out(0xf4, 2, 0x0102);
    bus.out(0xf4, 4, 7);
    bus.out(0xf4, 1, 0x1234);
    bus.out(0xf4, 4, 0xffffffff);
    expect(exits).toEqual([0x205, 15, 0x69, 0xffffffff]);
    expect(exits[0] & 0xff).toBe(5);
  });

  it('responds at every port of its 4-port window', () => {
    const { bus, exits } = setup();
    for (const p of [0xf5, 0xf6, 0xf7]) bus.out(p, 1, 3);
    bus.out(0xf8, 1, 3); // outside: nobody
    bus.out(0xf3, 1, 3);
    expect(exits).toEqual([7, 7, 7]);
  });

  it('reads 0 at any size (QEMU 7.2: in al/ax/eax at 0xf4 and in al at 0xf7 give 0)', () => {
    const { bus, exits } = setup();
    expect([bus.in(0xf4, 1), bus.in(0xf4, 2), bus.in(0xf4, 4), bus.in(0xf7, 1)]).toEqual([0, 0, 0, 0]);
    expect(exits).toEqual([]);
  });
});
