// The host side of the guest's serial console (COM1) for `x86jit run`: host input goes to the UART when
// stdin is a terminal or a pipe. On a terminal it is put in raw mode, as QEMU's `-serial mon:stdio` does:
// every key, Ctrl-C included, goes to the guest at once and unechoed (the guest echoes what it wants), and
// Ctrl-A is the escape key: Ctrl-A x quits, Ctrl-A h lists the keys, Ctrl-A Ctrl-A sends a Ctrl-A.
// Input the guest has not taken waits in the pipe: stdin pauses while the UART holds INPUT_MAX bytes.
// With `--stdin keyboard` the input is typed on the PS/2 keyboard instead (devices/keymap-us.ts), a key at
// a time: the next one once the keyboard's buffer is empty (it holds 16 bytes and drops the rest).
import { fstatSync } from 'node:fs';
import { typeByte } from '../devices/keymap-us.ts';
import type { VM } from '../node.ts';
import { emit } from './output.ts';

/** Host input queued for the UART beyond which stdin pauses. */
const INPUT_MAX = 1 << 16;
const CTRL_A = 0x01;

export const CONSOLE_KEYS = 'C-a x    quit\r\nC-a h    this help\r\nC-a C-a  send C-a to the guest\r\n';

export interface Console {
  /** True when stdin feeds the UART (a terminal or a pipe; not a file or /dev/null). */
  readonly interactive: boolean;
  /** Between slices: resume a paused stdin once the guest has read some of its input. */
  idle(): void;
  /** Set when the user typed Ctrl-A x. */
  readonly quit: boolean;
  /** Restore the terminal and stop reading. */
  close(): void;
}

export function attachConsole(vm: VM, to: 'com1' | 'keyboard' = 'com1'): Console {
  const interactive = isInteractive();
  const tty = interactive && process.stdin.isTTY === true;
  let escape = false, quit = false;
  /** Keyboard input not typed yet (bytes no key types are dropped). */
  const keys: number[] = [];
  const typeKeys = (): void => {
    while (keys.length > 0 && vm.i8042.keyboardBuffered === 0) {
      const codes = typeByte(keys.shift()!);
      if (codes !== null) vm.i8042.keyScancodes(codes);
    }
  };
  const pending = (): number => (to === 'keyboard' ? keys.length : vm.uart.pendingInput);
  const queue = (bytes: Uint8Array): void => {
    if (bytes.length === 0) return;
    if (to === 'keyboard') { keys.push(...bytes); typeKeys(); } else vm.uart.queueInput(bytes);
    if (pending() >= INPUT_MAX) process.stdin.pause();
  };
  if (interactive) {
    if (tty) process.stdin.setRawMode(true);
    process.stdin.on('data', (chunk: Buffer) => {
      if (!tty) { queue(new Uint8Array(chunk)); return; }
      const out: number[] = [];
      for (const b of chunk) {
        if (escape) {
          escape = false;
          if (b === 0x78 || b === 0x58) { quit = true; break; } // x: runGuest ends the run after its slice
          if (b === 0x68 || b === 0x48) emit(2, CONSOLE_KEYS); // h
          else if (b === CTRL_A) out.push(CTRL_A);
        } else if (b === CTRL_A) escape = true;
        else out.push(b);
      }
      queue(Uint8Array.from(out));
    });
    process.stdin.on('error', () => {});
  }
  return {
    interactive,
    idle: () => {
      if (to === 'keyboard') typeKeys();
      if (process.stdin.isPaused() && pending() < INPUT_MAX) process.stdin.resume();
    },
    get quit() { return quit; },
    close: () => {
      if (!interactive) return;
      if (tty) { try { process.stdin.setRawMode(false); } catch { /* the terminal is gone */ } }
      process.stdin.destroy();
    },
  };
}

/** The UART reads the host's stdin only when it is a terminal or a pipe (not a file or /dev/null). */
function isInteractive(): boolean {
  try {
    const st = fstatSync(0);
    return process.stdin.isTTY === true || st.isFIFO() || st.isSocket();
  } catch { return false; }
}
