// A PS/2 (MF2) keyboard as the 8042's first port sees it, answering commands as QEMU 7.2's ps2.c does:
// reset 0xFF → ACK, BAT 0xAA; identify 0xF2 → ACK, 0xAB, then 0x41 when the controller translates (0x83
// when not); echo 0xEE → 0xEE; enable 0xF4 / reset-and-disable 0xF5 / reset-and-enable 0xF6 → ACK; LEDs
// 0xED, typematic 0xF3, scancode set 0xF0 and make/break 0xFC → ACK, then ACK for their argument byte
// (0xF0 0 reports the set: ACK and the set's code as translated, 0x43/0x41/0x3F; a set other than 1-3 →
// 0xFE); 0x00 and 0xFA → ACK; 0x05 and anything else → 0xFE (resend).
//
// Key input (keyScancodes) takes set-2 scancodes, as the keyboard sends them on the wire; while the
// controller translates (its command byte bit 6, Linux's default), they come out as set 1, with the 0xF0
// break prefix folded into bit 7, exactly as the 8042 translates.
import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';
import { PS2_QUEUE_STATE, Ps2Queue } from './ps2-queue.ts';

export const KBD_ACK = 0xfa, KBD_RESEND = 0xfe, KBD_BAT_OK = 0xaa, KBD_ECHO = 0xee;

const CMD_SET_LEDS = 0xed, CMD_ECHO = 0xee, CMD_SCANCODE = 0xf0, CMD_GET_ID = 0xf2, CMD_SET_RATE = 0xf3,
  CMD_ENABLE = 0xf4, CMD_RESET_DISABLE = 0xf5, CMD_RESET_ENABLE = 0xf6, CMD_SET_TYPEMATIC = 0xfa,
  CMD_SET_MAKE_BREAK = 0xfc, CMD_RESET = 0xff;
/** Commands that take an argument byte next. */
const WITH_ARGUMENT = new Set([CMD_SCANCODE, CMD_SET_LEDS, CMD_SET_RATE, CMD_SET_MAKE_BREAK]);

export const PS2_KEYBOARD_STATE = {
  queue: { struct: PS2_QUEUE_STATE }, command: { nullable: 'u8' }, scanEnabled: 'bool', translate: 'bool',
  scancodeSet: 'u8', leds: 'u8', breakPrefix: 'bool',
} as const satisfies StateSchema;

export class Ps2Keyboard {
  readonly queue: Ps2Queue;
  /** The command waiting for its argument byte, or null. */
  private command: number | null = null;
  private scanEnabled = true;
  /** Set by the controller from its command byte (bit 6). */
  translate = false;
  private scancodeSet = 2;
  /** The LED byte last set (bit 0 Scroll Lock, 1 Num Lock, 2 Caps Lock). */
  leds = 0;
  /** Translation saw 0xF0 and will set bit 7 of the next code. */
  private breakPrefix = false;

  /** `onData`: the keyboard's "byte available" line to the controller. */
  constructor(onData: (level: boolean) => void) {
    this.queue = new Ps2Queue(onData);
  }

  /** A byte from the controller (the host's port 0x60 writes). */
  write(value: number): void {
    const q = this.queue;
    q.dropReplies();
    const pending = this.command;
    if (pending !== null) {
      this.command = null;
      switch (pending) {
        case CMD_SCANCODE:
          if (value === 0) q.reply(KBD_ACK, this.translate ? [0, 0x43, 0x41, 0x3f][this.scancodeSet] : this.scancodeSet);
          else if (value >= 1 && value <= 3) { this.scancodeSet = value; q.reply(KBD_ACK); }
          else q.reply(KBD_RESEND);
          return;
        case CMD_SET_LEDS: this.leds = value; q.reply(KBD_ACK); return;
        default: q.reply(KBD_ACK); return; // typematic rate, make/break key: acknowledged, not modelled
      }
    }
    if (WITH_ARGUMENT.has(value)) { this.command = value; q.reply(KBD_ACK); return; }
    switch (value) {
      case 0x00: case CMD_SET_TYPEMATIC: q.reply(KBD_ACK); break;
      case CMD_GET_ID: q.reply(KBD_ACK, 0xab, this.translate ? 0x41 : 0x83); break;
      case CMD_ECHO: q.reply(KBD_ECHO); break;
      case CMD_ENABLE: this.scanEnabled = true; q.reply(KBD_ACK); break;
      case CMD_RESET_DISABLE: this.reset(); this.scanEnabled = false; q.reply(KBD_ACK); break;
      case CMD_RESET_ENABLE: this.reset(); q.reply(KBD_ACK); break;
      case CMD_RESET: this.reset(); q.reply(KBD_ACK, KBD_BAT_OK); break;
      default: q.reply(KBD_RESEND); break;
    }
  }

  /** The next byte for the controller. */
  read(): number { return this.queue.read(); }

  /**
   * Set-2 scancodes from the host's keyboard (e.g. 0x1C for A pressed, 0xF0 0x1C released), translated to
   * set 1 while the controller translates. Dropped while scanning is disabled, and when the 16-byte buffer
   * is full.
   */
  keyScancodes(codes: ArrayLike<number>): void {
    if (!this.scanEnabled) return;
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i] & 0xff;
      if (!this.translate) { this.queue.push(code); continue; }
      if (code === 0xf0) { this.breakPrefix = true; continue; }
      this.queue.push(SET2_TO_SET1[code] | (this.breakPrefix ? 0x80 : 0));
      this.breakPrefix = false;
    }
  }

  /** The keyboard's own reset (commands 0xF5, 0xF6, 0xFF): defaults, scanning on, buffer emptied. */
  private reset(): void {
    this.scanEnabled = true;
    this.scancodeSet = 2;
    this.leds = 0;
    this.queue.clear();
  }

  save(): StateOf<typeof PS2_KEYBOARD_STATE> {
    const { command, scanEnabled, translate, scancodeSet, leds, breakPrefix } = this;
    return { queue: this.queue.save(), command, scanEnabled, translate, scancodeSet, leds, breakPrefix };
  }

  load(v: StateOf<typeof PS2_KEYBOARD_STATE>): void {
    if (v.scancodeSet < 1 || v.scancodeSet > 3) throw new StateError('i8042: keyboard scancode set out of range');
    if (v.command !== null && !WITH_ARGUMENT.has(v.command)) throw new StateError('i8042: keyboard waits for the argument of a command that takes none');
    this.queue.load(v.queue);
    this.command = v.command; this.scanEnabled = v.scanEnabled; this.translate = v.translate;
    this.scancodeSet = v.scancodeSet; this.leds = v.leds; this.breakPrefix = v.breakPrefix;
  }
}

/**
 * The 8042's translation of set-2 codes to set-1 codes (the table in IBM's PS/2 technical reference, as
 * QEMU's ps2.c and every 8042 have it). Codes from 0x80 up pass through unchanged (0xE0, 0xE1 prefixes).
 */
const SET2_TO_SET1 = Uint8Array.from([
  0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
  0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
  0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
  0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
  0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
  0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
  0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
  0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
  0x80, 0x81, 0x82, 0x41, 0x54, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
  ...Array.from({ length: 0x70 }, (_, i) => 0x90 + i),
]);
