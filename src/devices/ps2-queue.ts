// The bytes a PS/2 device has for the controller: replies to the command it was last sent, then the data it
// produced by itself (scancodes, mouse packets) — QEMU's ps2.c keeps replies ahead of queued data, and drops
// the replies still unread when the next command arrives, so a driver that gave up on an answer is not handed
// it later. Data beyond 16 bytes is dropped (the devices' own buffers). A read with nothing queued returns the
// last byte read again (QEMU: "needed for EMM386"); the controller reads only when it saw data pending.
//
// `onLevel` is the device's "data available" line to the controller (QEMU's ps2 irq): raised by every queue,
// lowered by a read, and raised again at once if bytes are left. The keyboard answers through reply(); the
// mouse queues its answers as data (as QEMU's mouse does), so they count against the 16 bytes.
import type { StateOf, StateSchema } from '../machine/device-state.ts';

export const PS2_QUEUE_SIZE = 16;
/** The longest reply to one command (the keyboard's identify: ACK and two ID bytes). */
const MAX_REPLY = 3;

export const PS2_QUEUE_STATE = {
  replies: { list: 'u8', max: MAX_REPLY }, data: { list: 'u8', max: PS2_QUEUE_SIZE }, last: 'u8',
} as const satisfies StateSchema;

export class Ps2Queue {
  private replies: number[] = [];
  private data: number[] = [];
  private last = 0;

  constructor(private readonly onLevel: (level: boolean) => void) {}

  get count(): number { return this.replies.length + this.data.length; }

  /** Data the device produced by itself; dropped unless all of it fits. */
  push(...bytes: number[]): void {
    if (this.count + bytes.length > PS2_QUEUE_SIZE) return;
    this.data.push(...bytes);
    this.raise();
  }

  /** The reply to a command (at most 3 bytes): read before any queued data; replaces unread replies to the previous command. */
  reply(...bytes: number[]): void {
    this.replies = bytes;
    this.raise();
  }

  /** A command arrived: replies to the previous one that were never read are dropped. */
  dropReplies(): void { this.replies = []; }

  /** Empty everything (device reset). The line is left as it was, as QEMU leaves it. */
  clear(): void { this.replies = []; this.data = []; }

  read(): number {
    const b = this.replies.length > 0 ? this.replies.shift()! : this.data.shift();
    if (b === undefined) return this.last;
    this.last = b;
    this.setLevel(false);
    if (this.count > 0) this.raise();
    return b;
  }

  // Every change is reported, also a raise while raised, as QEMU reports it: the controller acts on each.
  private raise(): void { this.onLevel(true); }
  private setLevel(level: boolean): void { this.onLevel(level); }

  save(): StateOf<typeof PS2_QUEUE_STATE> {
    return { replies: [...this.replies], data: [...this.data], last: this.last };
  }

  load(v: StateOf<typeof PS2_QUEUE_STATE>): void {
    this.replies = [...v.replies]; this.data = [...v.data]; this.last = v.last;
  }
}
