// The PC's I/O APIC: the Intel 82093AA register model with the version QEMU's ioapic reports (0x20, which
// adds the EOI register at offset 0x40), mapped by the board at 0xFEC00000 with 24 input pins (GSI 0-23).
// Each pin has a 64-bit redirection entry that turns the pin's request into a message to the local APIC(s);
// the board's wiring passes the message on (IoApicOptions.deliver).
//
// The window (offsets from the mapping's base): IOREGSEL at 0x00 (bits 7:0 select a register), IOWIN at 0x10
// (the selected register, 32 bits), EOI at 0x40 (write a vector: as eoi()). Reads return the bytes of these
// 32-bit registers, so a narrower read sees the bytes it covers; the EOI register reads 0, as everything else
// in the 4 KiB mapping does (the 82093AA decodes only A7:4 and so repeats every 256 bytes; QEMU does too, and
// no guest relies on it, so the repeats are not modelled). Writes: IOREGSEL takes a write of any width (its
// bits 7:0, as QEMU); IOWIN takes only whole 32-bit writes (the datasheet allows no other; QEMU drops them
// too); EOI takes its low byte at any width; everything else is ignored.
//
// Indirect registers: 0x00 IOAPICID (bits 27:24), 0x01 IOAPICVER (read-only 0x00170020: 24 entries, version
// 0x20), 0x02 IOAPICARB (reads the ID bits, as QEMU: there is no APIC bus whose arbitration could rotate it),
// 0x10 + 2n / 0x11 + 2n redirection entry n (n 0-23), low and high word. Other registers read 0 (QEMU reads
// all-ones from those past the table; nothing reads either) and ignore writes.
//
// A redirection entry, low word: vector 7:0, delivery mode 10:8, destination mode 11 (logical), delivery
// status 12 (read-only, always 0: a message is sent the moment it is raised, so it is never pending),
// polarity 13 (1 = active low; stored only: the board applies polarity before setIrq, as QEMU ignores the bit),
// Remote IRR 14 (read-only), trigger mode 15 (1 = level), mask 16. High word: destination 31:24 (bits 63:56
// of the entry). Reserved bits read 0 (QEMU keeps whatever is written to bits 55:17; no guest writes them).
//
// Pins: an edge-triggered entry sends one message per rising edge while unmasked; an edge that arrives
// while masked is lost (the datasheet: masked edge interrupts are ignored). A level-triggered entry sends a
// message while its pin is asserted, unmasked and Remote IRR is clear, and sets Remote IRR; the local APIC's
// EOI for its vector (eoi(), or the EOI register) clears Remote IRR, and a pin still asserted sends again.
// Writing an entry re-checks it, so unmasking an asserted level pin sends its message. Switching an entry
// to edge clears Remote IRR (QEMU's ioapic_fix_edge_remote_irr: older Linux clears a stuck Remote IRR this
// way), so Remote IRR is only ever set on a level entry. QEMU's throttling of a level interrupt that is
// re-raised after many successive EOIs (an interrupt-storm guard, not a register behaviour) is not modelled.
//
// Delivery modes: fixed (000) and lowest priority (001) go to deliver() (the local APIC side picks the
// target among those `dest` names); ExtINT (111) to deliverExtInt() (the CPU takes the vector from the 8259).
// SMI (010), NMI (100), INIT (101) and the reserved modes 011 and 110 are dropped: nothing on this board
// routes an interrupt source through them. The trigger mode applies to every mode as in QEMU (a level entry
// sets Remote IRR even in a dropped mode; the datasheet requires edge for SMI, NMI, INIT and ExtINT). Vectors
// are sent as written: the 82093AA leaves 0x00-0x0F undefined, and it is the local APIC that refuses them.

import type { Device } from '../machine/device.ts';
import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';
import type { MmioDevice } from '../machine/memory.ts';

/** Where the board maps the I/O APIC, and how much it maps. */
export const IOAPIC_BASE = 0xfec0_0000, IOAPIC_SIZE = 0x1000;
/** Input pins (GSI 0-23), one redirection entry each. */
export const IOAPIC_PINS = 24;

/** Offsets in the window. */
export const IOREGSEL = 0x00, IOWIN = 0x10, IOAPIC_EOI = 0x40;
/** Indirect registers (IOREGSEL values); redirection entry n is IOREDTBL + 2n (low) and IOREDTBL + 2n + 1 (high). */
export const IOAPICID = 0x00, IOAPICVER = 0x01, IOAPICARB = 0x02, IOREDTBL = 0x10;
/** IOAPICVER: maximum redirection entry (bits 23:16) 23, version (bits 7:0) 0x20. */
export const IOAPIC_VERSION = ((IOAPIC_PINS - 1) << 16) | 0x20;

/** Redirection entry, low word. */
export const RTE_VECTOR = 0xff, RTE_DELIVERY_MODE_SHIFT = 8, RTE_DEST_LOGICAL = 1 << 11, RTE_DELIVERY_STATUS = 1 << 12;
export const RTE_POLARITY_LOW = 1 << 13, RTE_REMOTE_IRR = 1 << 14, RTE_TRIGGER_LEVEL = 1 << 15, RTE_MASKED = 1 << 16;
/** Delivery modes (bits 10:8). */
export const DELIVERY_FIXED = 0b000, DELIVERY_LOWEST = 0b001, DELIVERY_SMI = 0b010, DELIVERY_NMI = 0b100, DELIVERY_INIT = 0b101, DELIVERY_EXTINT = 0b111;
/** Redirection entry, high word: the destination (bits 63:56 of the entry). */
export const RTE_DEST_SHIFT = 24;

/** Low-word bits a write sets: all but delivery status and Remote IRR (read-only) and the reserved 31:17. */
const LOW_WRITABLE = RTE_VECTOR | (7 << RTE_DELIVERY_MODE_SHIFT) | RTE_DEST_LOGICAL | RTE_POLARITY_LOW | RTE_TRIGGER_LEVEL | RTE_MASKED;
const HIGH_WRITABLE = 0xff << RTE_DEST_SHIFT; // negative as an int32: compare through >>> 0
/** An entry after reset: masked, everything else 0. */
const LOW_RESET = RTE_MASKED;
const ALL_PINS = (1 << IOAPIC_PINS) - 1;

const IOAPIC_STATE = {
  ioregsel: 'u8', id: 'u8',
  /** The redirection entries' low words (Remote IRR included) and high words. */
  low: { list: 'u32', max: IOAPIC_PINS }, high: { list: 'u32', max: IOAPIC_PINS },
  /** Input pins asserted (bit n: pin n). */
  pins: 'u32',
} as const satisfies StateSchema;

export interface IoApicOptions {
  /** A message to the local APIC(s): fixed or lowest-priority interrupt `vector`, level- or edge-triggered, to `dest` (physical APIC ID, or logical if `logical`). */
  deliver: (vector: number, level: boolean, dest: number, logical: boolean) => void;
  /** An ExtINT-mode entry fired: the CPU should take its vector from the 8259 (as through LINT0). */
  deliverExtInt: () => void;
}

export class IoApic implements Device, MmioDevice {
  private readonly deliver: IoApicOptions['deliver'];
  private readonly deliverExtInt: IoApicOptions['deliverExtInt'];
  /** IOREGSEL: the register IOWIN reaches. */
  private ioregsel = 0;
  /** IOAPICID bits 27:24. */
  private id = 0;
  /** Redirection entries: low words (with Remote IRR) and high words. */
  private readonly low: number[] = new Array<number>(IOAPIC_PINS).fill(LOW_RESET);
  private readonly high: number[] = new Array<number>(IOAPIC_PINS).fill(0);
  /** Input pins asserted now (bit n: pin n); a wire's level, not a register, so reset leaves it. */
  private pins = 0;

  constructor(opts: IoApicOptions) {
    this.deliver = opts.deliver;
    this.deliverExtInt = opts.deliverExtInt;
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 1;
  readonly stateSchema = IOAPIC_STATE;
  save(): StateOf<typeof IOAPIC_STATE> {
    return { ioregsel: this.ioregsel, id: this.id, low: [...this.low], high: [...this.high], pins: this.pins };
  }

  /** Takes a state its own code could have reached; raises nothing (a Remote IRR already set stands for a message sent). */
  load(v: StateOf<typeof IOAPIC_STATE>): void {
    if (v.low.length !== IOAPIC_PINS || v.high.length !== IOAPIC_PINS) throw new StateError(`ioapic: expected ${IOAPIC_PINS} redirection entries`);
    if (v.id > 0xf) throw new StateError('ioapic: the ID is 4 bits');
    if (v.pins > ALL_PINS) throw new StateError(`ioapic: there are ${IOAPIC_PINS} pins`);
    for (let n = 0; n < IOAPIC_PINS; n++) {
      const low = v.low[n], high = v.high[n];
      if ((low & ~(LOW_WRITABLE | RTE_REMOTE_IRR)) !== 0 || (high & ~HIGH_WRITABLE) !== 0) throw new StateError(`ioapic: redirection entry ${n} has reserved or delivery-status bits set`);
      if ((low & RTE_REMOTE_IRR) && !(low & RTE_TRIGGER_LEVEL)) throw new StateError(`ioapic: redirection entry ${n} has Remote IRR on an edge-triggered entry`);
      if (this.wouldSend(low, (v.pins >>> n) & 1)) throw new StateError(`ioapic: redirection entry ${n} is an asserted, unmasked level with Remote IRR clear (it would have been sent)`);
    }
    this.ioregsel = v.ioregsel;
    this.id = v.id;
    for (let n = 0; n < IOAPIC_PINS; n++) { this.low[n] = v.low[n]; this.high[n] = v.high[n]; }
    this.pins = v.pins;
  }

  /** Power-on state (the datasheet's RESET): every entry masked and 0, ID 0, IOREGSEL 0. The pins stay as driven. */
  reset(): void {
    this.ioregsel = 0;
    this.id = 0;
    this.low.fill(LOW_RESET);
    this.high.fill(0);
  }

  /** Input pin `pin` (0-23) is asserted (`level` true) or not; the board has applied the pin's polarity. */
  setIrq(pin: number, level: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IOAPIC_PINS) throw new RangeError(`ioapic: no pin ${pin}`);
    const bit = 1 << pin;
    const was = (this.pins & bit) !== 0;
    this.pins = level ? this.pins | bit : this.pins & ~bit;
    const low = this.low[pin];
    if (low & RTE_TRIGGER_LEVEL) {
      if (this.wouldSend(low, level ? 1 : 0)) this.send(pin);
    } else if (level && !was && !(low & RTE_MASKED)) {
      this.send(pin);
    }
  }

  /** The local APIC's EOI for level-triggered `vector`: clear Remote IRR of the level entries with it, and send again those still asserted. */
  eoi(vector: number): void {
    vector &= 0xff;
    for (let n = 0; n < IOAPIC_PINS; n++) {
      const low = this.low[n];
      if ((low & RTE_VECTOR) !== vector || !(low & RTE_REMOTE_IRR)) continue;
      this.low[n] = low & ~RTE_REMOTE_IRR;
      this.service(n);
    }
  }

  read(offset: number, size: 1 | 2 | 4): number {
    // The registers as one little-endian byte image, read from `offset` on.
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const at = offset + i;
      v = v * 256 + ((this.readDword(at & ~3) >>> ((at & 3) * 8)) & 0xff);
    }
    return v;
  }

  write(offset: number, size: 1 | 2 | 4, value: number): void {
    if (offset === IOREGSEL) this.ioregsel = value & 0xff;
    else if (offset === IOWIN && size === 4) this.writeRegister(this.ioregsel, value >>> 0);
    else if (offset === IOAPIC_EOI) this.eoi(value & 0xff);
  }

  /** The 32-bit register at `offset` (a multiple of 4) in the window. */
  private readDword(offset: number): number {
    if (offset === IOREGSEL) return this.ioregsel;
    if (offset === IOWIN) return this.readRegister(this.ioregsel);
    return 0;
  }

  private readRegister(index: number): number {
    if (index === IOAPICID || index === IOAPICARB) return this.id << 24;
    if (index === IOAPICVER) return IOAPIC_VERSION;
    const n = (index - IOREDTBL) >> 1;
    if (index < IOREDTBL || n >= IOAPIC_PINS) return 0;
    return (index & 1) ? this.high[n] : this.low[n];
  }

  private writeRegister(index: number, value: number): void {
    if (index === IOAPICID) { this.id = (value >>> 24) & 0xf; return; }
    const n = (index - IOREDTBL) >> 1;
    if (index < IOREDTBL || n >= IOAPIC_PINS) return; // IOAPICVER and IOAPICARB are read-only; the rest do not exist
    if (index & 1) {
      this.high[n] = (value & HIGH_WRITABLE) >>> 0;
    } else {
      let low = (value & LOW_WRITABLE) | (this.low[n] & RTE_REMOTE_IRR);
      if (!(low & RTE_TRIGGER_LEVEL)) low &= ~RTE_REMOTE_IRR;
      this.low[n] = low;
    }
    this.service(n);
  }

  /** A level entry that is asserted, unmasked and has Remote IRR clear sends now (an edge entry only on an edge). */
  private service(n: number): void {
    if (this.wouldSend(this.low[n], (this.pins >>> n) & 1)) this.send(n);
  }

  /** Would a level entry with low word `low` and pin level `asserted` (0 or 1) send a message? */
  private wouldSend(low: number, asserted: number): boolean {
    return asserted !== 0 && (low & (RTE_TRIGGER_LEVEL | RTE_MASKED | RTE_REMOTE_IRR)) === RTE_TRIGGER_LEVEL;
  }

  /** Entry n fires: Remote IRR first if level (so a message cannot be sent twice), then the message. */
  private send(n: number): void {
    const low = this.low[n];
    const level = (low & RTE_TRIGGER_LEVEL) !== 0;
    if (level) this.low[n] = low | RTE_REMOTE_IRR;
    switch ((low >>> RTE_DELIVERY_MODE_SHIFT) & 7) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST:
        this.deliver(low & RTE_VECTOR, level, this.high[n] >>> RTE_DEST_SHIFT, (low & RTE_DEST_LOGICAL) !== 0);
        break;
      case DELIVERY_EXTINT:
        this.deliverExtInt();
        break;
      default: // SMI, NMI, INIT and the reserved modes: no sink on this board (see the header)
        break;
    }
  }
}
