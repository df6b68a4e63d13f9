// QEMU's isa-debug-exit (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`): a write of v, of any size
// at any port of the window, ends the emulator with process status (v << 1) | 1 — always odd, so a
// guest's status can be told from QEMU's own 0 (clean exit) and 1 (error). Reads return 0 (checked on
// QEMU 7.2: in al/ax/eax from 0xf4 and in al from 0xf7 all give 0). The device is 32 bits wide, so the
// whole value written by `out dx, eax` arrives in one piece.

export interface DebugExitOptions {
  /** The guest asked to exit with this status ((value << 1) | 1, as a uint32; the host keeps its low 8 bits). */
  onExit(status: number): void;
}

export class DebugExit {
  readonly accessWidth = 4;
  private readonly onExit: (status: number) => void;

  constructor(opts: DebugExitOptions) {
    this.onExit = opts.onExit;
  }

  /** Nothing to save: the port keeps no state between accesses. */
  readonly stateVersion = 1;
  readonly stateSchema = {};
  save(): Record<string, never> { return {}; }
  load(): void {}

  read(_offset: number, _size: 1 | 2 | 4): number {
    return 0;
  }

  write(_offset: number, size: 1 | 2 | 4, value: number): void {
    const v = size === 4 ? value >>> 0 : value & (size === 1 ? 0xff : 0xffff);
    this.onExit(((v << 1) | 1) >>> 0);
  }
}
