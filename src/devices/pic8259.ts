// The PC's two Intel 8259A programmable interrupt controllers: the master at ports 0x20-0x21 and the
// slave at 0xA0-0xA1, whose INT output drives the master's IR2. Register semantics follow the 8259A
// datasheet (ICW1-ICW4, OCW1-OCW3); where the datasheet is silent, QEMU 7.2's i8259 is the reference.
//
// Inputs are sampled as wires: in edge-triggered mode a rising edge latches a request in IRR, and the
// request must still be high at the INTA cycle (datasheet: "the IR input must remain high until after
// the falling edge of the first INTA"). A request that drops before acknowledge() clears its IRR bit, and
// an INTA that finds nothing to serve yields the chip's IR7 vector without setting ISR (a spurious
// interrupt). QEMU keeps edge requests latched after the line drops; devices that pulse a line must
// therefore hold it high until the interrupt is taken, as real hardware requires.
//
// Supported: ICW1 LTIM (level-triggered, whole chip) and SNGL, ICW2 vector base, ICW3 cascade mask / slave
// id (the id is stored but the pair always routes the master's IR2 to the slave when ICW3 bit 2 is set),
// ICW4 AEOI and SFNM; OCW2 all eight commands (EOI, specific EOI, rotations, set priority); OCW3 IRR/ISR
// read select, poll command, special mask mode (as QEMU: a masked in-service level stops blocking lower
// levels). Not supported: MCS-80/85 mode (ICW4 bit 0 clear is treated as 8086 mode), buffered mode bits
// (stored nowhere, they only steer the SP/EN pin).
//
// The PIIX's edge/level control registers (ELCR1/ELCR2 at 0x4D0/0x4D1, the PIIX3 datasheet's 2.4.x) make
// single lines level-triggered, as ICW1 LTIM does for a whole chip: a PCI interrupt or the ACPI SCI shares a
// line as a level. Reserved bits (IRQ 0, 1, 2, 8, 13) read 0 and cannot be set; both are 0 after reset.

import type { StateUpgrade } from '../machine/device.ts';
import { StateError, type StateOf, type StateSchema } from '../machine/device-state.ts';
import type { PortDevice } from '../machine/io-bus.ts';

/** Version 1 of a chip's state: before the ELCR. */
const CHIP_STATE_V1 = {
  irr: 'u8', isr: 'u8', imr: 'u8', vectorBase: 'u8', icw3: 'u8', levelTriggered: 'bool', single: 'bool', autoEoi: 'bool',
  specialFullyNested: 'bool', rotateOnAutoEoi: 'bool', highestPriority: 'u8', specialMask: 'bool', readIsr: 'bool', poll: 'bool',
  initStep: 'u8', needIcw4: 'bool', lines: 'u8',
} as const satisfies StateSchema;
const CHIP_STATE = {
  elcr: 'u8', irr: 'u8', isr: 'u8', imr: 'u8', vectorBase: 'u8', icw3: 'u8', levelTriggered: 'bool', single: 'bool', autoEoi: 'bool',
  specialFullyNested: 'bool', rotateOnAutoEoi: 'bool', highestPriority: 'u8', specialMask: 'bool', readIsr: 'bool', poll: 'bool',
  initStep: 'u8', needIcw4: 'bool', lines: 'u8',
} as const satisfies StateSchema;
const PAIR_STATE = { master: { struct: CHIP_STATE }, slave: { struct: CHIP_STATE }, intLevel: 'bool' } as const satisfies StateSchema;
const PAIR_STATE_V1 = { master: { struct: CHIP_STATE_V1 }, slave: { struct: CHIP_STATE_V1 }, intLevel: 'bool' } as const satisfies StateSchema;

/** The PIIX's ELCR1 port (the master's lines); ELCR2, the slave's, follows it. */
export const ELCR_PORT = 0x4d0;
/** ELCR bits that exist: the master's IRQ 0-2 and the slave's IRQ 8 and 13 are always edge-triggered. */
export const ELCR_MASK_MASTER = 0xf8, ELCR_MASK_SLAVE = 0xde;

/** One 8259A. Offsets 0 (A0 = 0: ICW1, OCW2, OCW3, IRR/ISR/poll) and 1 (A0 = 1: ICW2-4, OCW1/IMR). */
export class Pic8259 {
  readonly accessWidth = 1;
  /** Interrupt request register: requests latched and not yet acknowledged. */
  irr = 0;
  /** In-service register. */
  isr = 0;
  /** Interrupt mask register (OCW1). */
  imr = 0;
  /** ICW2 bits 7-3: the vector of IR0. */
  vectorBase = 0;
  /** ICW3: on a master, the IR lines that have slaves; on a slave, its id. */
  icw3 = 0;
  /** ICW1 LTIM: level-triggered inputs. */
  levelTriggered = false;
  /** The PIIX ELCR for this chip's lines: set bits are level-triggered whatever LTIM says. */
  elcr = 0;
  /** ICW1 SNGL: no cascade (ICW3 is skipped). */
  single = false;
  /** ICW4 AEOI: the INTA cycle does the EOI. */
  autoEoi = false;
  /** ICW4 SFNM: special fully nested mode (a master lets a slave's higher-priority request through while IR2 is in service). */
  specialFullyNested = false;
  /** OCW2 R=1 SL=0 EOI=0: rotate priorities on automatic EOI. */
  rotateOnAutoEoi = false;
  /** The IR level with the highest priority (fixed priority: 0; rotations move it). */
  highestPriority = 0;
  /** OCW3 SMM. */
  specialMask = false;
  /** OCW3 RIS: offset 0 reads ISR instead of IRR. */
  readIsr = false;
  /** OCW3 P: the next read is the poll word. */
  poll = false;
  /** Next initialisation word expected at offset 1: 0 = none (operational), 2, 3, 4. */
  private initStep = 0;
  private needIcw4 = false;
  /** Current levels of the eight IR input wires. */
  private lines = 0;
  /** Called after any change that may move the INT output. */
  changed: () => void = () => {};

  /** `elcrMask`: the lines whose ELCR bit exists. */
  constructor(private readonly elcrMask = 0) {}

  /** The lines that are level-triggered now (LTIM: all of them). */
  private get levelLines(): number { return this.levelTriggered ? 0xff : this.elcr; }

  /** Write the ELCR: lines that become level-triggered request service exactly while their wire is high. */
  setElcr(value: number): void {
    this.elcr = value & this.elcrMask;
    const level = this.levelLines;
    this.irr = (this.irr & ~level) | (this.lines & level);
    this.changed();
  }

  /** Every register and the input wires' levels. */
  save(): StateOf<typeof CHIP_STATE> {
    const { elcr, irr, isr, imr, vectorBase, icw3, levelTriggered, single, autoEoi, specialFullyNested, rotateOnAutoEoi, highestPriority, specialMask, readIsr, poll, initStep, needIcw4, lines } = this;
    return { elcr, irr, isr, imr, vectorBase, icw3, levelTriggered, single, autoEoi, specialFullyNested, rotateOnAutoEoi, highestPriority, specialMask, readIsr, poll, initStep, needIcw4, lines };
  }

  /** The inverse of save(); says nothing to the other chip or the CPU (the pair's load does). */
  load(v: StateOf<typeof CHIP_STATE>): void {
    if ((v.vectorBase & 7) !== 0 || v.highestPriority > 7 || ![0, 2, 3, 4].includes(v.initStep) || (v.elcr & ~this.elcrMask) !== 0) throw new StateError('pic: register out of range');
    Object.assign(this, v);
  }

  /** Power-on state: QEMU's reset (no datasheet reset pin exists): everything zero, ready, base 0. */
  reset(): void {
    this.elcr = 0;
    this.initialise(0);
    this.initStep = 0;
    this.vectorBase = 0;
    this.icw3 = 0;
    this.levelTriggered = false;
    this.single = false;
  }

  read(offset: number, _size: 1 | 2 | 4): number {
    if (this.poll) {
      // Poll: an INTA without the vector: bit 7 = request present, bits 2-0 = its level.
      this.poll = false;
      const irq = this.pendingLevel();
      if (irq < 0) return 0;
      this.startService(irq);
      this.endService(irq);
      this.changed();
      return 0x80 | irq;
    }
    if ((offset & 1) === 0) return this.readIsr ? this.isr : this.irr;
    return this.imr;
  }

  write(offset: number, _size: 1 | 2 | 4, value: number): void {
    value &= 0xff;
    if ((offset & 1) === 0) {
      if (value & 0x10) this.icw1(value);
      else if (value & 0x08) this.ocw3(value);
      else this.ocw2(value);
    } else if (this.initStep === 2) {
      this.vectorBase = value & 0xf8;
      this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
    } else if (this.initStep === 3) {
      this.icw3 = value;
      this.initStep = this.needIcw4 ? 4 : 0;
    } else if (this.initStep === 4) {
      this.autoEoi = (value & 0x02) !== 0;
      this.specialFullyNested = (value & 0x10) !== 0;
      this.initStep = 0;
    } else {
      this.imr = value;
    }
    this.changed();
  }

  /** Drive IR input `line` (0-7) to `level`. */
  setLine(line: number, level: boolean): void {
    const bit = 1 << line;
    const was = (this.lines & bit) !== 0;
    if (level === was) return;
    if (level) {
      this.lines |= bit;
      this.irr |= bit; // a rising edge (or, level-triggered, the level) requests service
    } else {
      this.lines &= ~bit;
      // Edge-triggered, the request stays latched in IRR until INTA, as QEMU's model does (the datasheet
      // wants the line held high until then; guests written against QEMU rely on the latch, e.g. a tick
      // that arrives while masked is delivered on unmasking). Level-triggered, it goes with the level.
      if (this.levelLines & bit) this.irr &= ~bit;
    }
    this.changed();
  }

  /** The INT output: a request that is unmasked and above every in-service level that blocks it. */
  get int(): boolean { return this.pendingLevel() >= 0; }

  /** The IR level an INTA would serve now, or -1. */
  pendingLevel(): number {
    const req = this.irr & ~this.imr;
    if (req === 0) return -1;
    const irq = this.highestOf(req);
    let blocking = this.isr;
    if (this.specialMask) blocking &= ~this.imr;
    // SFNM: an in-service cascade line does not block further requests from its slave.
    if (this.specialFullyNested && !this.single) blocking &= ~this.icw3;
    if (blocking !== 0 && this.priorityOf(this.highestOf(blocking)) <= this.priorityOf(irq)) return -1;
    return irq;
  }

  /** First INTA pulse: the request moves from IRR to ISR. */
  startService(irq: number): void {
    const bit = 1 << irq;
    this.isr |= bit;
    if (!(this.levelLines & bit)) this.irr &= ~bit;
  }

  /** End of the INTA sequence: automatic EOI clears the in-service bit again. */
  endService(irq: number): void {
    if (!this.autoEoi) return;
    this.isr &= ~(1 << irq);
    if (this.rotateOnAutoEoi) this.highestPriority = (irq + 1) & 7;
  }

  /** Is IR `line` wired to a slave (cascade mode, ICW3 bit set)? */
  hasSlaveOn(line: number): boolean { return !this.single && (this.icw3 & (1 << line)) !== 0; }

  private icw1(value: number): void {
    // Datasheet: IMR cleared, IR7 lowest priority, special mask mode off, status read = IRR, edge sense
    // latches reset (a line already high must fall and rise again); without IC4 the ICW4 bits read 0.
    // ISR is cleared too (QEMU does; the datasheet does not say).
    this.initialise(value);
    this.initStep = 2;
  }

  private initialise(value: number): void {
    this.levelTriggered = (value & 0x08) !== 0;
    this.single = (value & 0x02) !== 0;
    this.needIcw4 = (value & 0x01) !== 0;
    this.irr = this.lines & this.levelLines;
    this.isr = 0;
    this.imr = 0;
    this.highestPriority = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.autoEoi = false;
    this.specialFullyNested = false;
    this.rotateOnAutoEoi = false;
  }

  private ocw2(value: number): void {
    const level = value & 7;
    switch (value >>> 5) {
      case 0b001: { // non-specific EOI: the highest-priority in-service level
        if (this.isr) this.isr &= ~(1 << this.highestOf(this.isr));
        break;
      }
      case 0b011: this.isr &= ~(1 << level); break; // specific EOI
      case 0b101: { // rotate on non-specific EOI: the level served becomes the lowest priority
        if (this.isr) {
          const irq = this.highestOf(this.isr);
          this.isr &= ~(1 << irq);
          this.highestPriority = (irq + 1) & 7;
        }
        break;
      }
      case 0b100: this.rotateOnAutoEoi = true; break;
      case 0b000: this.rotateOnAutoEoi = false; break;
      case 0b111: this.isr &= ~(1 << level); this.highestPriority = (level + 1) & 7; break; // rotate on specific EOI
      case 0b110: this.highestPriority = (level + 1) & 7; break; // set priority: `level` becomes the lowest
      default: break; // 0b010: no operation
    }
  }

  private ocw3(value: number): void {
    if (value & 0x40) this.specialMask = (value & 0x20) !== 0; // ESMM
    if (value & 0x04) this.poll = true;
    if (value & 0x02) this.readIsr = (value & 0x01) !== 0; // RR
  }

  /** 0 = highest priority. */
  private priorityOf(irq: number): number { return (irq - this.highestPriority) & 7; }

  /** The highest-priority level among the set bits of `bits` (non-zero). */
  private highestOf(bits: number): number {
    for (let p = 0; p < 8; p++) {
      const irq = (p + this.highestPriority) & 7;
      if (bits & (1 << irq)) return irq;
    }
    return -1;
  }
}

/** The slave's INT output is wired to this master input. */
export const CASCADE_LINE = 2;

/**
 * The PC's master/slave pair: register `master` at 0x20 and `slave` at 0xA0 (two ports each); IRQ lines
 * 0-7 are the master's IR0-7, 8-15 the slave's IR0-7.
 */
export class PicPair {
  readonly master = new Pic8259(ELCR_MASK_MASTER);
  readonly slave = new Pic8259(ELCR_MASK_SLAVE);
  /** The PIIX's ELCR1 (offset 0: the master's lines) and ELCR2 (offset 1: the slave's) at 0x4D0. */
  readonly elcrPorts: PortDevice = {
    accessWidth: 1,
    read: (offset) => ((offset & 1) === 0 ? this.master : this.slave).elcr,
    write: (offset, _size, value) => ((offset & 1) === 0 ? this.master : this.slave).setElcr(value & 0xff),
  };
  /** Called whenever the INT output to the CPU may have changed level (re-check hasInterrupt()). */
  onChange: (() => void) | undefined;
  private intLevel = false;

  constructor(opts: { onChange?: () => void } = {}) {
    this.onChange = opts.onChange;
    this.slave.changed = () => this.master.setLine(CASCADE_LINE, this.slave.int);
    this.master.changed = () => {
      const level = this.master.int;
      if (level !== this.intLevel) { this.intLevel = level; this.onChange?.(); }
    };
  }

  // ---- saved state (src/machine/device-state.ts) ----
  readonly stateVersion = 2;
  readonly stateSchema = PAIR_STATE;
  /** Version 1 had no ELCR: both registers were absent, every line edge-triggered unless LTIM. */
  readonly stateUpgrades: readonly StateUpgrade[] = [{
    from: 1,
    schema: PAIR_STATE_V1,
    upgrade: (old) => {
      const v = old as StateOf<typeof PAIR_STATE_V1>;
      return { ...v, master: { ...v.master, elcr: 0 }, slave: { ...v.slave, elcr: 0 } };
    },
  }];
  save(): StateOf<typeof PAIR_STATE> { return { master: this.master.save(), slave: this.slave.save(), intLevel: this.intLevel }; }
  /** Both chips as saved; the INT output to the CPU is the master's (the VM re-reads hasInterrupt()). */
  load(v: StateOf<typeof PAIR_STATE>): void {
    this.master.load(v.master);
    this.slave.load(v.slave);
    this.intLevel = v.intLevel;
  }

  /** Both chips to their power-on state (see Pic8259.reset). */
  reset(): void {
    this.slave.reset();
    this.master.reset();
    this.slave.changed();
    this.master.changed();
  }

  /** Drive IRQ `line` (0-15). */
  setIrq(line: number, level: boolean): void {
    if (!Number.isInteger(line) || line < 0 || line > 15) throw new RangeError(`pic8259: no IRQ line ${line}`);
    if (line < 8) this.master.setLine(line, level);
    else this.slave.setLine(line - 8, level);
  }

  /** The INT output to the CPU. */
  hasInterrupt(): boolean { return this.master.int; }

  /**
   * The INTA cycle: the vector of the highest-priority request. A request that vanished gives the
   * spurious vector (IR7 of the master, or of the slave with the master's IR2 left in service).
   */
  acknowledge(): number {
    const m = this.master, s = this.slave;
    let vector: number;
    const irq = m.pendingLevel();
    if (irq < 0) {
      vector = m.vectorBase + 7;
    } else {
      m.startService(irq);
      if (m.hasSlaveOn(irq) && irq === CASCADE_LINE) {
        const sirq = s.pendingLevel();
        if (sirq < 0) {
          vector = s.vectorBase + 7;
        } else {
          s.startService(sirq);
          s.changed(); // the slave's INT falls while its ISR bit is set...
          s.endService(sirq);
          vector = s.vectorBase + sirq;
        }
        s.changed(); // ...and rises again after an automatic EOI if more requests wait: a new edge on IR2
      } else {
        vector = m.vectorBase + irq;
      }
      m.endService(irq);
    }
    this.master.changed();
    return vector;
  }
}
