// The Intel 8042 keyboard controller of the PC/AT and PS/2 (port 0x60 data, port 0x64 status / command),
// with a PS/2 keyboard on its first port (IRQ1) and a PS/2 mouse on its second, "aux", port (IRQ12). It
// behaves as QEMU 7.2's hw/input/pckbd.c does, which is what Linux's i8042, atkbd and psmouse drivers
// are tested against; test-roms/src/i8042-pci.c compares the two.
//
// Status register: bit 0 OBF (a byte waits at port 0x60), 1 IBF (always 0: commands take effect at once),
// 2 SYS (set by a self-test), 3 command/data (always 1, as in QEMU: the chip shows whether the last write
// went to 0x64), 4 keyboard unlocked (1), 5 AUXDATA (the waiting byte came from the mouse), 6-7 timeout and
// parity errors (0). Command byte ("mode", 0x20 read / 0x60 write): bit 0 IRQ1 enable, 1 IRQ12 enable,
// 2 SYS, 4 keyboard disabled, 5 mouse disabled, 6 translate set 2 → set 1.
//
// Controller commands: 0x20/0x60 command byte, 0xA7/0xA8 mouse disable/enable, 0xA9 mouse interface test
// (0x00), 0xAA self-test (0x55, sets SYS), 0xAB keyboard interface test (0x00), 0xAD/0xAE keyboard disable/
// enable, 0xC0 input port (0x80), 0xD0/0xD1 output port read/write, 0xD2/0xD3 next byte into the output
// buffer as if from the keyboard / the mouse, 0xD4 next byte to the mouse, 0xDD/0xDF A20 off/on (output port
// bit 1 only: x86jit has no A20 gate, A20 is always on), 0xF0-0xFF pulse output port bits: a pulse of bit 0
// (0xFE, and any even one) resets the machine, as does writing the output port with bit 0 clear. A write to
// port 0x60 after no command goes to the keyboard and clears the keyboard-disable bit; after 0xD4 it goes to
// the mouse and clears the mouse-disable bit (QEMU: "sending data reenables PS/2 communication").
//
// Where bytes come from: a controller reply waits ahead of the keyboard's bytes, which wait ahead of the
// mouse's; a disabled port's bytes wait in its device. OBF and the IRQ lines are recomputed only where QEMU
// recomputes them (a read of port 0x60, a command-byte write, a device raising data while the buffer is
// empty), so the edges the edge-triggered PIC sees are QEMU's: IRQ1 = OBF, not AUXDATA, bit 0 set, keyboard
// not disabled; IRQ12 = OBF, AUXDATA, bit 1 set. Port 0x60 read with the buffer empty returns the last byte
// again.
import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';
import type { PortDevice } from '../machine/io-bus.ts';
import { PS2_KEYBOARD_STATE, Ps2Keyboard } from './ps2-keyboard.ts';
import { PS2_MOUSE_STATE, Ps2Mouse } from './ps2-mouse.ts';

export const STAT_OBF = 0x01, STAT_IBF = 0x02, STAT_SYS = 0x04, STAT_CMD = 0x08, STAT_UNLOCKED = 0x10, STAT_AUXDATA = 0x20;
export const MODE_KBD_INT = 0x01, MODE_AUX_INT = 0x02, MODE_SYS = 0x04, MODE_DISABLE_KBD = 0x10, MODE_DISABLE_AUX = 0x20, MODE_TRANSLATE = 0x40;
export const OUT_RESET = 0x01, OUT_A20 = 0x02, OUT_OBF = 0x10, OUT_AUX_OBF = 0x20;
/** Output port bits 2, 3, 6, 7 read as 1 (QEMU's KBD_OUT_ONES). */
const OUT_ONES = 0xcc;

/** What waits for the data port: a controller reply (as keyboard or as mouse data), the keyboard, the mouse. */
const PENDING_CTRL_KBD = 0x04, PENDING_CTRL_AUX = 0x08;
/** Device data waiting; the same bits as the command byte's disable bits, so a disabled port masks its own. */
const PENDING_KBD = MODE_DISABLE_KBD, PENDING_AUX = MODE_DISABLE_AUX;
const PENDING_MASK = PENDING_CTRL_KBD | PENDING_CTRL_AUX | PENDING_KBD | PENDING_AUX;
/** Where the byte that OBF announces will be read from. */
const SOURCE_KBD = 1, SOURCE_AUX = 2, SOURCE_CTRL = 3;

const CCMD_READ_MODE = 0x20, CCMD_WRITE_MODE = 0x60, CCMD_AUX_DISABLE = 0xa7, CCMD_AUX_ENABLE = 0xa8, CCMD_AUX_TEST = 0xa9,
  CCMD_SELF_TEST = 0xaa, CCMD_KBD_TEST = 0xab, CCMD_KBD_DISABLE = 0xad, CCMD_KBD_ENABLE = 0xae, CCMD_READ_INPORT = 0xc0,
  CCMD_READ_OUTPORT = 0xd0, CCMD_WRITE_OUTPORT = 0xd1, CCMD_WRITE_OBUF = 0xd2, CCMD_WRITE_AUX_OBUF = 0xd3, CCMD_WRITE_AUX = 0xd4,
  CCMD_DISABLE_A20 = 0xdd, CCMD_ENABLE_A20 = 0xdf, CCMD_RESET = 0xfe;
/** Commands whose parameter comes through port 0x60 next. */
const TAKES_DATA = [CCMD_WRITE_MODE, CCMD_WRITE_OUTPORT, CCMD_WRITE_OBUF, CCMD_WRITE_AUX_OBUF, CCMD_WRITE_AUX];

const I8042_STATE = {
  status: 'u8', mode: 'u8', outport: 'u8', awaiting: 'u8', pending: 'u8', controllerByte: 'u8',
  source: 'u8', outputByte: 'u8', irq1: 'bool', irq12: 'bool',
  keyboard: { struct: PS2_KEYBOARD_STATE }, mouse: { struct: PS2_MOUSE_STATE },
} as const satisfies StateSchema;

export interface I8042Options {
  /** IRQ1 output level (keyboard data). */
  onIrq1?(level: boolean): void;
  /** IRQ12 output level (mouse data). */
  onIrq12?(level: boolean): void;
  /** The controller pulsed the CPU's reset line: `how` says which command did it. */
  onReset?(how: string): void;
}

export class I8042 {
  readonly keyboard: Ps2Keyboard;
  readonly mouse: Ps2Mouse;
  /** Port 0x60. */
  readonly dataPort: PortDevice = { read: () => this.readData(), write: (_o, _s, v) => this.writeData(v & 0xff) };
  /** Port 0x64. */
  readonly commandPort: PortDevice = { read: () => this.status, write: (_o, _s, v) => this.writeCommand(v & 0xff) };
  private readonly onIrq1: (level: boolean) => void;
  private readonly onIrq12: (level: boolean) => void;
  private readonly onReset: (how: string) => void;

  private status = STAT_CMD | STAT_UNLOCKED;
  private mode = MODE_KBD_INT | MODE_AUX_INT;
  private outport = OUT_RESET | OUT_A20 | OUT_ONES;
  /** The command waiting for its parameter at port 0x60, or 0. */
  private awaiting = 0;
  private pending = 0;
  /** The controller's own reply (self-test result, command byte, 0xD2/0xD3 byte …). */
  private controllerByte = 0;
  private source = 0;
  /** The byte port 0x60 last returned (returned again while the buffer is empty). */
  private outputByte = 0;
  private irq1 = false;
  private irq12 = false;

  constructor(opts: I8042Options = {}) {
    this.onIrq1 = opts.onIrq1 ?? (() => {});
    this.onIrq12 = opts.onIrq12 ?? (() => {});
    this.onReset = opts.onReset ?? (() => {});
    this.keyboard = new Ps2Keyboard((level) => this.deviceData(PENDING_KBD, level));
    this.mouse = new Ps2Mouse((level) => this.deviceData(PENDING_AUX, level));
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = I8042_STATE;

  save(): StateOf<typeof I8042_STATE> {
    const { status, mode, outport, awaiting, pending, controllerByte, source, outputByte, irq1, irq12 } = this;
    return { status, mode, outport, awaiting, pending, controllerByte, source, outputByte, irq1, irq12, keyboard: this.keyboard.save(), mouse: this.mouse.save() };
  }

  /** Nothing is said to the PIC: it saves its own lines. */
  load(v: StateOf<typeof I8042_STATE>): void {
    if (v.awaiting !== 0 && !TAKES_DATA.includes(v.awaiting)) throw new StateError('i8042: waits for the parameter of a command that takes none');
    if (v.pending & ~PENDING_MASK || v.source > SOURCE_CTRL) throw new StateError('i8042: output buffer state out of range');
    if ((v.status & ~(STAT_OBF | STAT_SYS | STAT_AUXDATA)) !== (STAT_CMD | STAT_UNLOCKED)) throw new StateError('i8042: status register bits no 8042 sets');
    if (v.keyboard.translate !== ((v.mode & MODE_TRANSLATE) !== 0)) throw new StateError('i8042: keyboard translation differs from the command byte');
    this.keyboard.load(v.keyboard);
    this.mouse.load(v.mouse);
    this.status = v.status; this.mode = v.mode; this.outport = v.outport; this.awaiting = v.awaiting;
    this.pending = v.pending; this.controllerByte = v.controllerByte; this.source = v.source; this.outputByte = v.outputByte;
    this.irq1 = v.irq1; this.irq12 = v.irq12;
  }

  /**
   * The state QEMU's SeaBIOS leaves the controller in (measured): self-test passed (SYS), command byte 0x61
   * (IRQ1 on, mouse port disabled, translation on), keyboard reset and scanning in set 2. Linux keeps the
   * translation it finds ("AT Translated Set 2 keyboard"), so a kernel loaded without firmware needs this.
   */
  asFirmwareLeavesIt(): void {
    this.status |= STAT_SYS;
    this.mode = MODE_KBD_INT | MODE_DISABLE_AUX | MODE_TRANSLATE;
    this.keyboard.translate = true;
    this.updateLines();
  }

  /** Set-2 scancodes typed on the host's keyboard (see Ps2Keyboard.keyScancodes). */
  keyScancodes(codes: ArrayLike<number>): void { this.keyboard.keyScancodes(codes); }
  /** Bytes the keyboard holds for the controller (replies and keys): room is 16 less this. */
  get keyboardBuffered(): number { return this.keyboard.queue.count; }

  // ---- ports ----

  private readData(): number {
    if (this.status & STAT_OBF) {
      this.clearOutputBuffer();
      if (this.source === SOURCE_KBD) this.outputByte = this.keyboard.read();
      else if (this.source === SOURCE_AUX) this.outputByte = this.mouse.read();
      else if (this.source === SOURCE_CTRL) this.outputByte = this.takeControllerByte();
    }
    return this.outputByte;
  }

  private writeData(v: number): void {
    const command = this.awaiting;
    this.awaiting = 0;
    switch (command) {
      case 0:
        this.keyboard.write(v);
        this.mode &= ~MODE_DISABLE_KBD;
        this.refillIfEmpty();
        break;
      case CCMD_WRITE_MODE:
        this.mode = v;
        this.keyboard.translate = (v & MODE_TRANSLATE) !== 0;
        this.updateLines(); // the interrupt enables act on the byte already waiting
        this.refillIfEmpty(); // and a port enabled now may have bytes waiting
        break;
      case CCMD_WRITE_OBUF: this.controllerReply(v, false); break;
      case CCMD_WRITE_AUX_OBUF: this.controllerReply(v, true); break;
      case CCMD_WRITE_OUTPORT: this.writeOutport(v); break;
      case CCMD_WRITE_AUX:
        this.mouse.write(v);
        this.mode &= ~MODE_DISABLE_AUX;
        this.refillIfEmpty();
        break;
    }
  }

  private writeCommand(c: number): void {
    // 0xF0-0xFF pulse output port bits 0-3 low where the command has a 0: only bit 0, the CPU reset, matters.
    if ((c & 0xf0) === 0xf0) {
      if ((c & 1) === 0) this.onReset(`8042 command 0x${c.toString(16).toUpperCase()}`);
      return;
    }
    switch (c) {
      case CCMD_READ_MODE: this.controllerReply(this.mode, false); break;
      case CCMD_AUX_DISABLE: this.mode |= MODE_DISABLE_AUX; break;
      case CCMD_AUX_ENABLE: this.mode &= ~MODE_DISABLE_AUX; this.refillIfEmpty(); break;
      case CCMD_AUX_TEST: this.controllerReply(0x00, false); break;
      case CCMD_SELF_TEST: this.status |= STAT_SYS; this.controllerReply(0x55, false); break;
      case CCMD_KBD_TEST: this.controllerReply(0x00, false); break;
      case CCMD_KBD_DISABLE: this.mode |= MODE_DISABLE_KBD; break;
      case CCMD_KBD_ENABLE: this.mode &= ~MODE_DISABLE_KBD; this.refillIfEmpty(); break;
      case CCMD_READ_INPORT: this.controllerReply(0x80, false); break;
      case CCMD_READ_OUTPORT: this.controllerReply(this.outport, false); break;
      case CCMD_ENABLE_A20: this.outport |= OUT_A20; break;
      case CCMD_DISABLE_A20: this.outport &= ~OUT_A20; break;
      default:
        if (TAKES_DATA.includes(c)) this.awaiting = c;
        break; // QEMU ignores the rest (0xA1 version, 0xC1-0xC3 …)
    }
  }

  private writeOutport(v: number): void {
    this.outport = v;
    if ((v & OUT_RESET) === 0) this.onReset('8042 output port written with bit 0 clear');
  }

  // ---- the output buffer ----

  /** What waits, with a disabled port's device data masked. */
  private waiting(): number { return this.pending & ~(this.mode & (PENDING_KBD | PENDING_AUX)); }

  private deviceData(bit: number, level: boolean): void {
    if (level) this.pending |= bit; else this.pending &= ~bit;
    this.refillIfEmpty();
  }

  private controllerReply(b: number, asMouse: boolean): void {
    this.controllerByte = b;
    this.pending = (this.pending & ~(PENDING_CTRL_KBD | PENDING_CTRL_AUX)) | (asMouse ? PENDING_CTRL_AUX : PENDING_CTRL_KBD);
    this.refillIfEmpty();
  }

  private takeControllerByte(): number {
    this.pending &= ~(PENDING_CTRL_KBD | PENDING_CTRL_AUX);
    if (this.waiting()) this.fill();
    return this.controllerByte;
  }

  /** A full buffer is left alone: the next read of port 0x60 refills it. */
  private refillIfEmpty(): void {
    if (!(this.status & STAT_OBF) && this.waiting()) this.fill();
  }

  /** Announce the next byte: OBF, AUXDATA, the output port's copies of them, the IRQ lines. */
  private fill(): void {
    const w = this.waiting();
    this.status &= ~(STAT_OBF | STAT_AUXDATA);
    this.outport &= ~(OUT_OBF | OUT_AUX_OBF);
    if (w) {
      this.status |= STAT_OBF;
      this.outport |= OUT_OBF;
      const mouse = !(w & PENDING_CTRL_KBD) && (w & PENDING_CTRL_AUX || !(w & PENDING_KBD));
      if (mouse) { this.status |= STAT_AUXDATA; this.outport |= OUT_AUX_OBF; }
      this.source = w & (PENDING_CTRL_KBD | PENDING_CTRL_AUX) ? SOURCE_CTRL : w & PENDING_KBD ? SOURCE_KBD : SOURCE_AUX;
    }
    this.updateLines();
  }

  private clearOutputBuffer(): void {
    this.status &= ~(STAT_OBF | STAT_AUXDATA);
    this.outport &= ~(OUT_OBF | OUT_AUX_OBF);
    this.updateLines();
  }

  private updateLines(): void {
    const full = (this.status & STAT_OBF) !== 0, aux = (this.status & STAT_AUXDATA) !== 0;
    const irq1 = full && !aux && (this.mode & MODE_KBD_INT) !== 0 && (this.mode & MODE_DISABLE_KBD) === 0;
    const irq12 = full && aux && (this.mode & MODE_AUX_INT) !== 0;
    if (irq1 !== this.irq1) { this.irq1 = irq1; this.onIrq1(irq1); }
    if (irq12 !== this.irq12) { this.irq12 = irq12; this.onIrq12(irq12); }
  }
}
