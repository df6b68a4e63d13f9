// The 8259A pair driven through the I/O bus as Linux's i8259 driver drives it. Expected values follow the
// 8259A datasheet; lines marked "QEMU 7.2" were also read from QEMU by tests/fixtures/devices/probe.c
// (output-qemu-7.2.txt, same sequences).
import { beforeEach, describe, expect, it } from 'vitest';
import { IoBus } from '../src/machine/io-bus.ts';
import { PicPair } from '../src/devices/pic8259.ts';

let bus: IoBus;
let pic: PicPair;
let changes: number;
const outb = (port: number, v: number): void => bus.out(port, 1, v);
const inb = (port: number): number => bus.in(port, 1);
const irr = (base: number): number => { outb(base, 0x0a); return inb(base); };
const isr = (base: number): number => { outb(base, 0x0b); return inb(base); };
/** master IRR ISR IMR, slave IRR ISR IMR, as the probe prints them */
const state = (): number[] => [irr(0x20), isr(0x20), inb(0x21), irr(0xa0), isr(0xa0), inb(0xa1)];

/** Linux init_8259A(): mask, ICW1-ICW4 on both chips, masks again. */
function linuxInit(masterMask = 0xff, slaveMask = 0xff): void {
  outb(0x21, 0xff); outb(0xa1, 0xff);
  outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
  outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
  outb(0x21, masterMask); outb(0xa1, slaveMask);
}

beforeEach(() => {
  bus = new IoBus();
  changes = 0;
  pic = new PicPair({ onChange: () => changes++ });
  bus.register(0x20, 2, pic.master, 'pic-master');
  bus.register(0xa0, 2, pic.slave, 'pic-slave');
});

describe('initialisation', () => {
  it('Linux sequence leaves everything clear and masked (QEMU 7.2: 00 00 ff 00 00 ff)', () => {
    linuxInit();
    expect(state()).toEqual([0, 0, 0xff, 0, 0, 0xff]);
    expect(pic.master.vectorBase).toBe(0x20);
    expect(pic.slave.vectorBase).toBe(0x28);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('ICW1 clears IMR; offset 1 reads IMR mid-sequence (QEMU 7.2: 00 00)', () => {
    linuxInit();
    outb(0x20, 0x11);
    expect([inb(0x20), inb(0x21)]).toEqual([0, 0]);
  });

  it('single mode without ICW4: the word after ICW2 is OCW1 (QEMU 7.2: 5a)', () => {
    outb(0x20, 0x12); outb(0x21, 0x40); outb(0x21, 0x5a);
    expect(inb(0x21)).toBe(0x5a);
    expect(pic.master.vectorBase).toBe(0x40);
  });

  it('re-initialising with a line held high needs a new rising edge (QEMU 7.2: IRR 00 after ICW1)', () => {
    linuxInit(0xfe);
    pic.setIrq(0, true);
    expect(irr(0x20)).toBe(0x01);
    linuxInit(0xfe);
    expect(irr(0x20)).toBe(0x00);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(0, false); pic.setIrq(0, true);
    expect(irr(0x20)).toBe(0x01);
    expect(pic.hasInterrupt()).toBe(true);
  });
});

describe('requests, acknowledge and EOI', () => {
  it('a masked request shows in IRR but does not interrupt (QEMU 7.2: 01 00 ff)', () => {
    linuxInit();
    pic.setIrq(0, true);
    expect(state().slice(0, 3)).toEqual([0x01, 0x00, 0xff]);
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x21, 0xfe);
    expect(pic.hasInterrupt()).toBe(true);
    expect(changes).toBe(1);
  });

  it('INTA moves IRR to ISR and returns base + line; EOI clears ISR', () => {
    linuxInit(0x00, 0x00);
    pic.setIrq(1, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
    expect([irr(0x20), isr(0x20)]).toEqual([0x00, 0x02]);
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x20, 0x20);
    expect(isr(0x20)).toBe(0);
    // edge-triggered: the line is still high, no new request until it falls and rises again
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(1, false); pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('fixed priority: IRQ0 first, then the cascade (IRQ8-15) ahead of IRQ3-7, nesting blocks lower levels', () => {
    linuxInit(0x00, 0x00);
    pic.setIrq(5, true); pic.setIrq(12, true); pic.setIrq(0, true); pic.setIrq(9, true);
    expect(pic.acknowledge()).toBe(0x20); // IRQ0
    // IRQ0 in service blocks everything else
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x29); // IRQ9 (slave IR1 beats IR4)
    expect([isr(0x20), isr(0xa0)]).toEqual([0x04, 0x02]);
    expect(pic.hasInterrupt()).toBe(false); // IR2 in service on the master blocks IRQ5 and the slave's IRQ12
    outb(0xa0, 0x20); outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x2c); // IRQ12: the slave's INT rose again after its EOI
    outb(0xa0, 0x20); outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x25);
    outb(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
    expect(state()).toEqual([0, 0, 0, 0, 0, 0]); // the lines are still high, but each edge was served once
  });

  it('a higher-priority request nests over one in service', () => {
    linuxInit(0x00, 0x00);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
    pic.setIrq(6, true);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(1, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
    expect(isr(0x20)).toBe(0x12);
    outb(0x20, 0x20); // non-specific EOI clears the highest in service: IR1
    expect(isr(0x20)).toBe(0x10);
    outb(0x20, 0x64); // specific EOI for IR4
    expect(isr(0x20)).toBe(0x00);
    expect(pic.acknowledge()).toBe(0x26);
  });

  it('slave interrupt through the cascade: master IR2 and slave bits (QEMU 7.2 poll sequence)', () => {
    linuxInit();
    pic.setIrq(8, true);
    // the slave's INT is masked off, so the master sees nothing (QEMU 7.2: 00 00 ff 01 00 ff)
    expect(state()).toEqual([0x00, 0x00, 0xff, 0x01, 0x00, 0xff]);
    outb(0xa1, 0xfe); outb(0x21, 0xfb);
    expect(state()).toEqual([0x04, 0x00, 0xfb, 0x01, 0x00, 0xfe]); // QEMU 7.2
    outb(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x82); // QEMU 7.2: 82, then 00 04 fb 01 00 fe
    expect(state()).toEqual([0x00, 0x04, 0xfb, 0x01, 0x00, 0xfe]);
    outb(0xa0, 0x0c);
    expect(inb(0xa0)).toBe(0x80); // QEMU 7.2: 80, then 00 04 fb 00 01 fe
    expect(state()).toEqual([0x00, 0x04, 0xfb, 0x00, 0x01, 0xfe]);
  });

  it('auto-EOI (ICW4 = 3): no ISR bit, and the slave re-raises IR2 for a second pending request', () => {
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x03);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x03);
    pic.setIrq(10, true); pic.setIrq(11, true);
    expect(pic.acknowledge()).toBe(0x2a);
    expect([isr(0x20), isr(0xa0)]).toEqual([0, 0]);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x2b);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('level-triggered (ICW1 LTIM): IRR follows the line and stays after INTA', () => {
    outb(0x20, 0x19); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x23);
    expect([irr(0x20), isr(0x20)]).toEqual([0x08, 0x08]);
    outb(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x23); // still high: requested again
    pic.setIrq(3, false);
    expect(irr(0x20)).toBe(0);
  });

  it('ELCR (0x4D0/0x4D1): IRQ 0-2, 8 and 13 stay edge-triggered; 0 after reset (QEMU 7.2: f8 de, 00 00)', () => {
    bus.register(0x4d0, 2, pic.elcrPorts, 'elcr');
    expect([inb(0x4d0), inb(0x4d1)]).toEqual([0, 0]);
    outb(0x4d0, 0xff); outb(0x4d1, 0xff);
    expect([inb(0x4d0), inb(0x4d1)]).toEqual([0xf8, 0xde]);
    outb(0x4d0, 0); outb(0x4d1, 0);
    expect([inb(0x4d0), inb(0x4d1)]).toEqual([0, 0]);
  });

  it('an ELCR level line is requested again after the poll that served it; made edge, it is not (QEMU 7.2 "elcr-level-irq4")', () => {
    bus.register(0x4d0, 2, pic.elcrPorts, 'elcr');
    linuxInit();
    outb(0x4d0, 0x10);
    outb(0x21, 0xef);
    pic.setIrq(4, true); // COM1's THRE interrupt: a level that stays high
    const r: number[] = [irr(0x20)];
    outb(0x20, 0x0c); r.push(inb(0x20), irr(0x20), isr(0x20)); outb(0x20, 0x20);
    outb(0x4d0, 0x00); r.push(irr(0x20));
    outb(0x20, 0x0c); r.push(inb(0x20), irr(0x20)); outb(0x20, 0x20); r.push(irr(0x20));
    expect(r).toEqual([0x10, 0x84, 0x10, 0x10, 0x10, 0x84, 0x00, 0x00]);
  });

  it('an ELCR level line that falls takes its request with it', () => {
    bus.register(0x4d0, 2, pic.elcrPorts, 'elcr');
    linuxInit(0xff, 0xfd);
    outb(0x4d1, 0x02); // IRQ 9: the ACPI SCI, as Linux sets it
    pic.setIrq(9, true);
    expect(irr(0xa0)).toBe(0x02);
    pic.setIrq(9, false);
    expect(irr(0xa0)).toBe(0);
    outb(0x4d1, 0x00);
    pic.setIrq(9, true); pic.setIrq(9, false);
    expect(irr(0xa0)).toBe(0x02); // edge: latched
  });

  it('IRQ line out of range throws', () => {
    expect(() => pic.setIrq(16, true)).toThrow(/no IRQ line 16/);
  });
});

describe('spurious interrupts', () => {
  it('edge-triggered: a request whose line falls before INTA stays latched (QEMU 7.2 keeps IRR set)', () => {
    linuxInit(0x00, 0x00);
    pic.setIrq(3, true);
    pic.setIrq(3, false);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x23);
    expect([irr(0x20), isr(0x20)]).toEqual([0, 0x08]);
  });

  it('level-triggered: a request that falls before INTA gives IR7 without setting ISR', () => {
    outb(0x20, 0x19); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01); outb(0x21, 0x00); // ICW1 with LTIM
    pic.setIrq(3, true);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setIrq(3, false);
    expect(pic.hasInterrupt()).toBe(false);
    expect(pic.acknowledge()).toBe(0x27);
    expect([irr(0x20), isr(0x20)]).toEqual([0, 0]);
  });

  it('a slave request that falls after the master latched IR2 gives the slave IR7 with master IR2 in service', () => {
    linuxInit(0x00, 0x00);
    // On the chips the race is between the two INTA pulses: the master has chosen IR2 when the slave's
    // request drops. acknowledge() is atomic, so reach the same state by raising the master's IR2 input
    // directly while the slave has nothing to serve.
    expect(pic.hasInterrupt()).toBe(false);
    pic.master.setLine(2, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x2f);
    expect([isr(0x20), isr(0xa0)]).toEqual([0x04, 0x00]);
    outb(0x20, 0x20);
    expect(isr(0x20)).toBe(0);
  });

  it('nothing pending at all: the master IR7 vector', () => {
    linuxInit(0x00, 0x00);
    expect(pic.acknowledge()).toBe(0x27);
    expect(isr(0x20)).toBe(0);
  });
});

describe('OCW2 rotation and OCW3', () => {
  it('set priority makes IR1 highest: the cascade wins over IRQ0 (QEMU 7.2 "pic-both" sequence)', () => {
    linuxInit(0xfa, 0xfe);
    pic.setIrq(8, true); pic.setIrq(0, true);
    expect(state()).toEqual([0x05, 0x00, 0xfa, 0x01, 0x00, 0xfe]);
    outb(0x20, 0xc0); // IR0 lowest
    outb(0x20, 0x0c); expect(inb(0x20)).toBe(0x82);
    expect(state()).toEqual([0x01, 0x04, 0xfa, 0x01, 0x00, 0xfe]);
    outb(0x20, 0x0c); expect(inb(0x20)).toBe(0x00); // IR2 in service blocks IR0, now lower
    outb(0x20, 0x60); expect(isr(0x20)).toBe(0x04); // specific EOI for a level not in service: no effect
    outb(0x20, 0x20); expect(state()).toEqual([0x01, 0x00, 0xfa, 0x01, 0x00, 0xfe]);
  });

  it('rotate on non-specific EOI: the level just served becomes lowest', () => {
    linuxInit(0x00, 0xff);
    pic.setIrq(3, true); pic.setIrq(5, true);
    expect(pic.acknowledge()).toBe(0x23);
    outb(0x20, 0xa0); // rotate on non-specific EOI: IR3 lowest, IR4 highest
    pic.setIrq(3, false); pic.setIrq(3, true); pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x25); // IR5 beats IR1 and IR3 now
    outb(0x20, 0xe5); // rotate on specific EOI 5: IR6 highest
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('rotate in auto-EOI mode', () => {
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x03);
    outb(0x21, 0x00);
    outb(0x20, 0x80); // rotate in AEOI set
    pic.setIrq(0, true); pic.setIrq(1, true);
    expect(pic.acknowledge()).toBe(0x20);
    expect(pic.master.highestPriority).toBe(1);
    pic.setIrq(0, false); pic.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x21); // IR1 now highest
    outb(0x20, 0x00); // clear rotate in AEOI
    expect(pic.master.rotateOnAutoEoi).toBe(false);
  });

  it('poll with nothing unmasked reads 0 and leaves IRR (QEMU 7.2: 00, 01 00 ff)', () => {
    linuxInit();
    pic.setIrq(0, true);
    outb(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x00);
    expect(state().slice(0, 3)).toEqual([0x01, 0x00, 0xff]);
    outb(0x21, 0xfe);
    outb(0x20, 0x0c);
    expect(inb(0x20)).toBe(0x80); // QEMU 7.2: 80, then 00 01 fe
    expect(state().slice(0, 3)).toEqual([0x00, 0x01, 0xfe]);
  });

  it('special mask mode: a masked in-service level stops blocking lower levels', () => {
    linuxInit(0x00, 0xff);
    pic.setIrq(3, true);
    expect(pic.acknowledge()).toBe(0x23);
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(false);
    outb(0x20, 0x68); // set SMM
    outb(0x21, 0x08); // mask IR3 (in service)
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x25);
    outb(0x20, 0x48); // reset SMM
    expect(pic.master.specialMask).toBe(false);
  });

  it('OCW3 selects IRR or ISR for offset 0 reads and keeps the choice', () => {
    linuxInit(0x00, 0x00);
    pic.setIrq(6, true); pic.setIrq(7, true);
    pic.acknowledge();
    outb(0x20, 0x0b);
    expect([inb(0x20), inb(0x20)]).toEqual([0x40, 0x40]);
    outb(0x20, 0x08); // RR = 0: no change of selection
    expect(inb(0x20)).toBe(0x40);
    outb(0x20, 0x0a);
    expect(inb(0x20)).toBe(0x80);
  });
});

describe('onChange', () => {
  it('fires only when the INT output changes level', () => {
    linuxInit(0x00, 0x00);
    const before = changes;
    pic.setIrq(4, true);
    expect(changes).toBe(before + 1);
    pic.setIrq(3, true); // INT already high
    expect(changes).toBe(before + 1);
    pic.acknowledge(); // IR3 in service blocks IR4: INT falls
    expect(changes).toBe(before + 2);
    outb(0x20, 0x20); // EOI: IR4 is served next
    expect(changes).toBe(before + 3);
    expect(pic.hasInterrupt()).toBe(true);
  });
});
