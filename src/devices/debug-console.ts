// The Bochs/QEMU "port E9 hack" console: every byte written to the port is output, and a read returns
// 0xE9 so that a guest can detect the console (QEMU's isa-debugcon `readback` default, Bochs the same).
// The port is 8 bits wide: the I/O bus splits a 16/32-bit access into byte accesses at consecutive
// ports, so only the low byte reaches this port (QEMU 7.2 instead ignores 16/32-bit accesses to it and
// reads them as 0).

export interface DebugConsoleOptions {
  onOutput(byte: number): void;
}

export const DEBUGCON_READBACK = 0xe9;

export class DebugConsole {
  readonly accessWidth = 1;
  private readonly onOutput: (byte: number) => void;

  constructor(opts: DebugConsoleOptions) {
    this.onOutput = opts.onOutput;
  }

  /** Nothing to save: the port keeps no state between accesses. */
  readonly stateVersion = 1;
  readonly stateSchema = {};
  save(): Record<string, never> { return {}; }
  load(): void {}

  read(_offset: number, _size: 1 | 2 | 4): number {
    return DEBUGCON_READBACK;
  }

  write(_offset: number, _size: 1 | 2 | 4, value: number): void {
    this.onOutput(value & 0xff);
  }
}
