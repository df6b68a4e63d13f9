// A National Semiconductor PC16550D / 16550A UART (the PC's COM port) at its 8 byte-wide registers.
// Register map, reset values and interrupt priorities follow the PC16550D datasheet (Tables II and IV).
//
// The serial line is not timed: a byte written to THR is handed to onTransmit at once, so THR and the
// transmitter are always empty (LSR.THRE = LSR.TEMT = 1). Input arrives through receive(), as if the
// bytes had just come off the wire, back to back. Because no time passes on the wire, the FIFO
// character-timeout interrupt (IIR 0x0C) is reported as soon as the receive FIFO holds fewer bytes than
// its trigger level (QEMU delays it by four character times); drivers treat it like "data available".
// Host input still arrives in loopback mode (the chip would disconnect its serial input): losing
// keystrokes to a driver's loopback probe would help no one.

/** Register offsets (DLAB = LCR bit 7 selects the divisor latch at offsets 0 and 1). */
export const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

export const IER_ERBFI = 0x01, IER_ETBEI = 0x02, IER_ELSI = 0x04, IER_EDSSI = 0x08;
/** IIR interrupt identification codes, highest priority first (bit 0 = 1: nothing pending). */
export const IIR_NONE = 0x01, IIR_LINE_STATUS = 0x06, IIR_RX_DATA = 0x04, IIR_RX_TIMEOUT = 0x0c, IIR_THR_EMPTY = 0x02, IIR_MODEM_STATUS = 0x00;
/** IIR bits 6-7: set while the FIFOs are enabled (FCR bit 0). */
export const IIR_FIFO_ENABLED = 0xc0;
export const FCR_ENABLE = 0x01, FCR_CLEAR_RX = 0x02, FCR_CLEAR_TX = 0x04;
export const LCR_DLAB = 0x80;
export const MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10;
export const LSR_DR = 0x01, LSR_OE = 0x02, LSR_PE = 0x04, LSR_FE = 0x08, LSR_BI = 0x10, LSR_THRE = 0x20, LSR_TEMT = 0x40;
export const MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08, MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80;

import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';

const FIFO_SIZE = 16;
/** Host input a saved UART may carry (the CLI pauses its input long before this). */
const MAX_SAVED_INPUT = 1 << 20;

const UART_STATE = {
  ier: 'u8', lcr: 'u8', mcr: 'u8', scr: 'u8', divisor: 'u16', fifoEnabled: 'bool', triggerLevel: 'u8', lineErrors: 'u8', msr: 'u8',
  thrEmptyPending: 'bool', rx: { bytes: FIFO_SIZE }, rxHead: 'u8', rxCount: 'u8', rbr: 'u8', irq: 'bool',
  pendingInput: { list: 'u8', max: MAX_SAVED_INPUT },
} as const satisfies StateSchema;
/** Receiver FIFO trigger levels selected by FCR bits 6-7. */
const TRIGGER_LEVELS = [1, 4, 8, 14];
/** Line errors that LSR reads clear and that raise the receiver-line-status interrupt. */
const LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;

export interface Uart16550Options {
  /** A byte the guest transmitted (not called in loopback mode). */
  onTransmit(byte: number): void;
  /** The INTR output changed (the PC wires it to IRQ4 for COM1). */
  onIrq?(level: boolean): void;
  /**
   * Modem-status inputs from the far end as MSR bits 4-7. Default CTS | DSR | DCD (0xB0): a connected,
   * ready terminal, which is what QEMU 7.2 reports for `-serial stdio`.
   */
  modemInputs?: number;
}

export class Uart16550 {
  readonly accessWidth = 1;
  private readonly onTransmit: (byte: number) => void;
  private readonly onIrq: ((level: boolean) => void) | undefined;
  private readonly externalInputs: number;

  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scr = 0;
  /** Divisor latch; the datasheet leaves it untouched by reset, QEMU starts it at 0. */
  private divisor = 0;
  private fifoEnabled = false;
  private triggerLevel = 1;
  /** OE / PE / FE / BI, kept until LSR is read. */
  private lineErrors = 0;
  /** MSR bits 4-7 as last sampled and the latched delta bits 0-3. */
  private msr: number;
  /** THRE interrupt latch: set when THR empties, cleared by writing THR or by reading IIR while it is reported. */
  private thrEmptyPending = false;
  /** Receive FIFO (a ring); in 16450 mode only its first slot is used, as the RBR. */
  private readonly rx = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  /** What RBR reads when nothing was received since (16450 mode: the last byte received). */
  private rbr = 0;
  private irq = false;
  /** Host input waiting for room in the receive FIFO (see queueInput). */
  private hostQueue: number[] = [];
  private hostHead = 0;

  constructor(opts: Uart16550Options) {
    this.onTransmit = opts.onTransmit;
    this.onIrq = opts.onIrq;
    this.externalInputs = (opts.modemInputs ?? (MSR_CTS | MSR_DSR | MSR_DCD)) & 0xf0;
    this.msr = this.externalInputs;
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = UART_STATE;

  /** Registers, FIFO and the host input not yet received. Nothing is said to the PIC: it saves its own lines. */
  save(): StateOf<typeof UART_STATE> {
    return {
      ier: this.ier, lcr: this.lcr, mcr: this.mcr, scr: this.scr, divisor: this.divisor, fifoEnabled: this.fifoEnabled,
      triggerLevel: this.triggerLevel, lineErrors: this.lineErrors, msr: this.msr, thrEmptyPending: this.thrEmptyPending,
      rx: [...this.rx], rxHead: this.rxHead, rxCount: this.rxCount, rbr: this.rbr, irq: this.irq,
      pendingInput: this.hostQueue.slice(this.hostHead),
    };
  }

  load(v: StateOf<typeof UART_STATE>): void {
    if (!TRIGGER_LEVELS.includes(v.triggerLevel) || v.rxHead >= FIFO_SIZE || v.rxCount > FIFO_SIZE) throw new StateError('uart: FIFO state out of range');
    this.ier = v.ier & 0x0f; this.lcr = v.lcr; this.mcr = v.mcr & 0x1f; this.scr = v.scr; this.divisor = v.divisor;
    this.fifoEnabled = v.fifoEnabled; this.triggerLevel = v.triggerLevel; this.lineErrors = v.lineErrors & LSR_ERRORS;
    this.msr = v.msr; this.thrEmptyPending = v.thrEmptyPending;
    this.rx.set(v.rx); this.rxHead = v.rxHead; this.rxCount = v.rxCount; this.rbr = v.rbr; this.irq = v.irq;
    this.hostQueue = v.pendingInput.slice(); this.hostHead = 0;
  }

  /** Master reset (datasheet Table IV): everything but the divisor latch and SCR. */
  reset(): void {
    this.ier = 0; this.lcr = 0; this.mcr = 0;
    this.fifoEnabled = false; this.triggerLevel = 1;
    this.lineErrors = 0;
    this.msr = this.externalInputs;
    this.thrEmptyPending = false;
    this.rxHead = 0; this.rxCount = 0;
    this.updateIrq();
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    let v: number;
    switch (offset & 7) {
      case RBR: v = this.lcr & LCR_DLAB ? this.divisor & 0xff : this.readRbr(); break;
      case IER: v = this.lcr & LCR_DLAB ? this.divisor >>> 8 : this.ier; break;
      case IIR: v = this.readIir(); break;
      case LCR: v = this.lcr; break;
      case MCR: v = this.mcr; break;
      case LSR: v = this.lsr(); this.lineErrors = 0; break;
      case MSR: v = this.msr; this.msr &= 0xf0; break;
      default: v = this.scr; break;
    }
    this.updateIrq();
    return v;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    switch (offset & 7) {
      case THR:
        if (this.lcr & LCR_DLAB) this.divisor = (this.divisor & 0xff00) | value;
        else this.transmit(value);
        break;
      case IER:
        if (this.lcr & LCR_DLAB) { this.divisor = (this.divisor & 0x00ff) | (value << 8); break; }
        // Enabling ETBEI while THR is empty raises the THRE interrupt, on the rising edge only (as
        // QEMU 7.2 does; drivers start transmission by toggling it).
        if (value & ~this.ier & IER_ETBEI) this.thrEmptyPending = true;
        if (!(value & IER_ETBEI)) this.thrEmptyPending = false;
        this.ier = value & 0x0f;
        break;
      case FCR: this.writeFcr(value); break;
      case LCR: this.lcr = value; break;
      case MCR: {
        this.mcr = value & 0x1f;
        this.sampleModemInputs();
        break;
      }
      case LSR: break; // factory test register; writes have no defined effect
      case MSR: break;
      default: this.scr = value; break;
    }
    this.updateIrq();
  }

  /** Bytes arriving on the serial input, back to back. A byte finding the receiver full is lost and sets LSR.OE. */
  receive(bytes: Uint8Array): void {
    for (const b of bytes) this.receiveByte(b);
    this.updateIrq();
  }

  /** Room left in the receive FIFO (or holding register): how much receive() can take without an overrun. */
  canReceive(): number {
    return (this.fifoEnabled ? FIFO_SIZE : 1) - this.rxCount;
  }

  /**
   * Host input with flow control, as QEMU's character backends deliver it: bytes wait here and move into
   * the receive FIFO as the guest makes room, so a fast producer (a pipe) never overruns a slow guest.
   */
  queueInput(bytes: Uint8Array): void {
    for (const b of bytes) this.hostQueue.push(b);
    this.drainHostQueue();
    this.updateIrq();
  }

  /** Host bytes queued but not yet in the receive FIFO. */
  get pendingInput(): number { return this.hostQueue.length - this.hostHead; }

  /** The INTR output: an enabled interrupt is pending. */
  irqLevel(): boolean { return this.irq; }

  // ---- registers ----

  private lsr(): number {
    return (this.rxCount > 0 ? LSR_DR : 0) | this.lineErrors | LSR_THRE | LSR_TEMT;
  }

  /** The highest-priority pending interrupt that IER enables (datasheet Table V), or IIR_NONE. */
  private pendingInterrupt(): number {
    const ier = this.ier;
    if (ier & IER_ELSI && this.lineErrors & LSR_ERRORS) return IIR_LINE_STATUS;
    if (ier & IER_ERBFI && this.rxCount > 0) {
      if (!this.fifoEnabled || this.rxCount >= this.triggerLevel) return IIR_RX_DATA;
      return IIR_RX_TIMEOUT;
    }
    if (ier & IER_ETBEI && this.thrEmptyPending) return IIR_THR_EMPTY;
    if (ier & IER_EDSSI && this.msr & 0x0f) return IIR_MODEM_STATUS;
    return IIR_NONE;
  }

  private readIir(): number {
    const id = this.pendingInterrupt();
    // Reading IIR acknowledges a THRE interrupt when that is what it reports.
    if (id === IIR_THR_EMPTY) this.thrEmptyPending = false;
    return id | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
  }

  private readRbr(): number {
    if (this.rxCount > 0) {
      const byte = this.rx[this.rxHead];
      this.rxHead = (this.rxHead + 1) % FIFO_SIZE;
      this.rxCount--;
      this.drainHostQueue();
      return byte;
    }
    // An empty FIFO reads 0 in QEMU 7.2; in 16450 mode RBR keeps the last byte received.
    return this.fifoEnabled ? 0 : this.rbr;
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR_ENABLE) !== 0;
    // Changing FCR bit 0 empties both FIFOs; the other bits are only programmed while bit 0 is set.
    if (enable !== this.fifoEnabled) { this.clearRx(); this.fifoEnabled = enable; }
    if (!enable) return;
    if (value & FCR_CLEAR_RX) this.clearRx();
    // FCR_CLEAR_TX: the transmit FIFO is always empty here.
    this.triggerLevel = TRIGGER_LEVELS[value >>> 6];
  }

  private clearRx(): void {
    this.rxHead = 0;
    this.rxCount = 0;
    this.drainHostQueue();
  }

  private transmit(byte: number): void {
    // Loopback: the transmitter output is wired to the receiver input and nothing leaves the chip.
    if (this.mcr & MCR_LOOP) this.receiveByte(byte);
    else this.onTransmit(byte);
    // The byte leaves THR at once, so THR is empty again: a new THRE interrupt (if enabled).
    this.thrEmptyPending = (this.ier & IER_ETBEI) !== 0;
  }

  private receiveByte(byte: number): void {
    if (this.fifoEnabled) {
      // A full FIFO keeps its contents; the byte in the shift register is overwritten (lost).
      if (this.rxCount === FIFO_SIZE) { this.lineErrors |= LSR_OE; return; }
      this.rx[(this.rxHead + this.rxCount) % FIFO_SIZE] = byte;
      this.rxCount++;
    } else {
      // 16450 mode: a new byte replaces an unread one in RBR.
      if (this.rxCount > 0) this.lineErrors |= LSR_OE;
      this.rx[this.rxHead] = byte;
      this.rxCount = 1;
    }
    this.rbr = byte;
  }

  private drainHostQueue(): void {
    const q = this.hostQueue;
    while (this.hostHead < q.length && this.canReceive() > 0) this.receiveByte(q[this.hostHead++]);
    if (this.hostHead === q.length) { this.hostQueue = []; this.hostHead = 0; }
  }

  /**
   * Resample the modem-status inputs and latch their deltas. In loopback mode the four modem-control
   * outputs drive them inside the chip (DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD) and the deltas still latch,
   * as the datasheet says (QEMU 7.2 shows the loopback levels but latches no deltas).
   */
  private sampleModemInputs(): void {
    const m = this.mcr;
    const now = m & MCR_LOOP
      ? (m & MCR_DTR ? MSR_DSR : 0) | (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0)
      : this.externalInputs;
    const old = this.msr & 0xf0, changed = old ^ now;
    let delta = this.msr & 0x0f;
    if (changed & MSR_CTS) delta |= MSR_DCTS;
    if (changed & MSR_DSR) delta |= MSR_DDSR;
    if (old & ~now & MSR_RI) delta |= MSR_TERI; // trailing edge of ring: RI went from on to off
    if (changed & MSR_DCD) delta |= MSR_DDCD;
    this.msr = now | delta;
  }

  private updateIrq(): void {
    const level = this.pendingInterrupt() !== IIR_NONE;
    if (level !== this.irq) { this.irq = level; this.onIrq?.(level); }
  }
}
