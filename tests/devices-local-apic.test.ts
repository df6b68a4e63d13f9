// The P6 local APIC driven through its memory-mapped registers at chosen virtual times. Expected values
// follow the Intel SDM Vol. 3A chapter 10 (register reset values and writable bits: Table 10-1 and the
// figures of 10.4-10.5; priorities: 10.8.3.1; timer: 10.5.4, bus clock 1 GHz so one count per ns before the
// divider) and, where the SDM leaves the PC to the firmware (LINT0 = ExtINT), what QEMU/SeaBIOS leave.
import { beforeEach, describe, expect, it } from 'vitest';
import { checkState, StateError } from '../src/machine/device-state.ts';
import {
  APIC_APR, APIC_DFR, APIC_EOI, APIC_ESR, APIC_ICR_HIGH, APIC_ICR_LOW, APIC_ID, APIC_IRR, APIC_ISR, APIC_LDR, APIC_LVT_ERROR,
  APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_PERF, APIC_LVT_TIMER, APIC_PPR, APIC_RRD, APIC_SVR, APIC_TIMER_CURRENT, APIC_TIMER_DIVIDE,
  APIC_TIMER_INITIAL, APIC_TMR, APIC_TPR, APIC_VERSION, LocalApic,
} from '../src/devices/local-apic.ts';

let now: number;
let changes: number;
let eois: number[];
/** The 8259 pair behind LINT0: a request with this vector while `pending`. */
let pic: { pending: boolean; vector: number; acks: number };
let apic: LocalApic;

function makeApic(): LocalApic {
  return new LocalApic({
    nowNs: () => now,
    onChange: () => { changes++; },
    extInt: { hasInterrupt: () => pic.pending, acknowledge: () => { pic.acks++; pic.pending = false; return pic.vector; } },
    onEoi: (v) => { eois.push(v); },
  });
}

const rd = (reg: number, a: LocalApic = apic): number => a.read(reg, 4);
const wr = (reg: number, v: number, a: LocalApic = apic): void => a.write(reg, 4, v);
/** Bit `v` of a 256-bit register (ISR, TMR, IRR) read through its eight words. */
const bit = (base: number, v: number, a: LocalApic = apic): boolean => ((rd(base + (v >>> 5) * 0x10, a) >>> (v & 31)) & 1) === 1;
const words = (base: number, a: LocalApic = apic): number[] => Array.from({ length: 8 }, (_, i) => rd(base + i * 0x10, a));
const softwareEnable = (): void => wr(APIC_SVR, 0x1ff);
/** The CPU taking the interrupt and its handler ending it. */
const serve = (): number => { const v = apic.acknowledge(); wr(APIC_EOI, 0); return v; };

beforeEach(() => {
  now = 0;
  changes = 0;
  eois = [];
  pic = { pending: false, vector: 0x20, acks: 0 };
  apic = makeApic();
});

describe('registers after power-on', () => {
  it('read as SDM 10.4.7.1 says, with LINT0/LINT1 as a BIOS leaves them', () => {
    expect(rd(APIC_ID)).toBe(0);
    expect(apic.id).toBe(0);
    expect(rd(APIC_VERSION)).toBe(0x00040011); // integrated APIC 0x11, max LVT entry 4
    expect([rd(APIC_TPR), rd(APIC_APR), rd(APIC_PPR), rd(APIC_RRD)]).toEqual([0, 0, 0, 0]);
    expect(rd(APIC_LDR)).toBe(0);
    expect(rd(APIC_DFR)).toBe(0xffffffff);
    expect(rd(APIC_SVR)).toBe(0xff);
    expect([...words(APIC_ISR), ...words(APIC_TMR), ...words(APIC_IRR)]).toEqual(new Array(24).fill(0));
    expect([rd(APIC_ESR), rd(APIC_ICR_LOW), rd(APIC_ICR_HIGH)]).toEqual([0, 0, 0]);
    expect([rd(APIC_LVT_TIMER), rd(APIC_LVT_PERF), rd(APIC_LVT_LINT0), rd(APIC_LVT_LINT1), rd(APIC_LVT_ERROR)])
      .toEqual([0x10000, 0x10000, 0x700, 0x400, 0x10000]);
    expect([rd(APIC_TIMER_INITIAL), rd(APIC_TIMER_CURRENT), rd(APIC_TIMER_DIVIDE)]).toEqual([0, 0, 0]);
    expect(apic.readBaseMsr()).toBe(0xfee00900); // base 0xFEE00000, BSP, enabled
    expect(apic.nextEventNs()).toBe(Infinity);
  });

  it('keep only the bits the P6 has', () => {
    softwareEnable();
    const all = 0xffffffff;
    for (const r of [APIC_ID, APIC_TPR, APIC_LDR, APIC_LVT_TIMER, APIC_LVT_PERF, APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR, APIC_TIMER_DIVIDE, APIC_ICR_HIGH]) wr(r, all);
    expect(rd(APIC_ID)).toBe(0x0f000000); // 4-bit APIC ID
    expect(apic.id).toBe(15);
    expect(rd(APIC_TPR)).toBe(0xff);
    expect(rd(APIC_LDR)).toBe(0xff000000);
    expect(rd(APIC_LVT_TIMER)).toBe(0x000300ff); // vector, mask, periodic (bit 18 reserved on the P6)
    expect(rd(APIC_LVT_PERF)).toBe(0x000107ff); // vector, delivery mode, mask
    expect(rd(APIC_LVT_LINT0)).toBe(0x0001a7ff); // + polarity, trigger mode; status and remote IRR read 0
    expect(rd(APIC_LVT_LINT1)).toBe(0x0001a7ff);
    expect(rd(APIC_LVT_ERROR)).toBe(0x000100ff);
    expect(rd(APIC_TIMER_DIVIDE)).toBe(0x0b); // bits 0, 1, 3
    expect(rd(APIC_ICR_HIGH)).toBe(0xff000000);
    wr(APIC_DFR, 0);
    expect(rd(APIC_DFR)).toBe(0x0fffffff); // bits 27:0 read as ones
    wr(APIC_SVR, 0);
    expect(rd(APIC_SVR)).toBe(0x0f); // bits 3:0 hardwired to 1 on the P6
    wr(APIC_SVR, all);
    expect(rd(APIC_SVR)).toBe(0x3ff); // + focus processor checking (bit 9), stored
    for (const r of [APIC_VERSION, APIC_PPR, APIC_APR, APIC_ISR, APIC_IRR + 0x70, APIC_TMR, APIC_TIMER_CURRENT]) wr(r, all);
    expect(rd(APIC_VERSION)).toBe(0x00040011);
    expect(words(APIC_IRR)).toEqual(new Array(8).fill(0));
  });

  it('smaller or unaligned reads see the bytes of the register; such writes do nothing', () => {
    expect(apic.read(APIC_VERSION, 2)).toBe(0x0011);
    expect(apic.read(APIC_VERSION + 2, 1)).toBe(0x04);
    expect(apic.read(APIC_VERSION + 1, 4)).toBe(0x000400);
    expect(apic.read(APIC_VERSION + 4, 4)).toBe(0); // the 12 bytes after a register
    apic.write(APIC_TPR, 1, 0x55);
    apic.write(APIC_TPR + 4, 4, 0x55);
    expect(rd(APIC_TPR)).toBe(0);
  });

  it('a reserved register reads 0, ignores writes and sets ESR bit 7 (illegal register address)', () => {
    expect(rd(0x330)).toBe(0); // no thermal LVT on the P6
    wr(0x3f0, 0x1234);
    expect(rd(0x3f0)).toBe(0);
    expect(rd(APIC_ESR)).toBe(0); // not yet latched
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0x80);
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0);
  });

  it('reset() brings back the power-on state', () => {
    softwareEnable();
    wr(APIC_TPR, 0x30); wr(APIC_LVT_LINT0, 0x10700); wr(APIC_TIMER_INITIAL, 1000);
    apic.acceptInterrupt(0x40, false);
    apic.reset();
    expect([rd(APIC_TPR), rd(APIC_SVR), rd(APIC_LVT_LINT0), rd(APIC_TIMER_CURRENT), rd(APIC_IRR + 0x20)]).toEqual([0, 0xff, 0x700, 0, 0]);
    expect(apic.nextEventNs()).toBe(Infinity);
  });
});

describe('software enable (SVR bit 8, SDM 10.4.7.2)', () => {
  it('clearing it masks every LVT and keeps the masks set until it is set again', () => {
    softwareEnable();
    wr(APIC_LVT_TIMER, 0x20030); wr(APIC_LVT_PERF, 0x400); wr(APIC_LVT_LINT0, 0x700); wr(APIC_LVT_LINT1, 0x400); wr(APIC_LVT_ERROR, 0xfe);
    wr(APIC_SVR, 0xff);
    expect([rd(APIC_LVT_TIMER), rd(APIC_LVT_PERF), rd(APIC_LVT_LINT0), rd(APIC_LVT_LINT1), rd(APIC_LVT_ERROR)])
      .toEqual([0x30030, 0x10400, 0x10700, 0x10400, 0x100fe]);
    wr(APIC_LVT_LINT0, 0x700);
    expect(rd(APIC_LVT_LINT0)).toBe(0x10700);
    softwareEnable();
    expect(rd(APIC_LVT_LINT0)).toBe(0x10700); // still masked until written
    wr(APIC_LVT_LINT0, 0x700);
    expect(rd(APIC_LVT_LINT0)).toBe(0x700);
  });

  it('while disabled, IRR keeps its requests but delivers none', () => {
    softwareEnable();
    apic.acceptInterrupt(0x40, false);
    expect(apic.hasInterrupt()).toBe(true);
    wr(APIC_SVR, 0xff);
    expect(apic.hasInterrupt()).toBe(false);
    expect(bit(APIC_IRR, 0x40)).toBe(true);
    softwareEnable();
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x40);
  });
});

describe('priorities, acknowledge and EOI', () => {
  beforeEach(softwareEnable);

  it('TPR 0x50 blocks vector 0x45 (class 4 is not above 5) but not 0x61', () => {
    wr(APIC_TPR, 0x50);
    apic.acceptInterrupt(0x45, false);
    expect(bit(APIC_IRR, 0x45)).toBe(true);
    expect(apic.hasInterrupt()).toBe(false);
    apic.acceptInterrupt(0x61, false);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x61);
    expect([bit(APIC_IRR, 0x61), bit(APIC_ISR, 0x61), bit(APIC_IRR, 0x45)]).toEqual([false, true, true]);
    expect(rd(APIC_PPR)).toBe(0x60); // the in-service class is above TPR's
    wr(APIC_EOI, 0);
    expect(rd(APIC_PPR)).toBe(0x50);
    expect(apic.hasInterrupt()).toBe(false);
    wr(APIC_TPR, 0x40);
    expect(apic.hasInterrupt()).toBe(false); // same class: not above
    wr(APIC_TPR, 0x3f);
    expect(rd(APIC_PPR)).toBe(0x3f);
    expect(apic.acknowledge()).toBe(0x45);
  });

  it('a higher class nests over the one in service; EOI ends the highest first', () => {
    apic.acceptInterrupt(0x30, false);
    expect(apic.acknowledge()).toBe(0x30);
    apic.acceptInterrupt(0x31, false);
    expect(apic.hasInterrupt()).toBe(false); // same class as in service
    apic.acceptInterrupt(0x80, false);
    expect(apic.acknowledge()).toBe(0x80);
    apic.acceptInterrupt(0x50, false);
    expect(apic.hasInterrupt()).toBe(false); // below 0x80 in service
    expect([bit(APIC_ISR, 0x30), bit(APIC_ISR, 0x80)]).toEqual([true, true]);
    wr(APIC_EOI, 0);
    expect([bit(APIC_ISR, 0x30), bit(APIC_ISR, 0x80)]).toEqual([true, false]);
    expect(apic.acknowledge()).toBe(0x50); // class 5 above the 0x30 still in service
    wr(APIC_EOI, 0);
    expect(bit(APIC_ISR, 0x30)).toBe(true);
    expect(apic.hasInterrupt()).toBe(false);
    wr(APIC_EOI, 0);
    expect(apic.acknowledge()).toBe(0x31);
    wr(APIC_EOI, 0);
    expect(words(APIC_ISR)).toEqual(new Array(8).fill(0));
    expect(eois).toEqual([]);
  });

  it('an INTA with nothing deliverable returns the spurious vector and leaves ISR alone', () => {
    wr(APIC_SVR, 0x1e0); // vector 0xE0 | 0xF: bits 3:0 are ones on the P6
    apic.acceptInterrupt(0x45, false);
    wr(APIC_TPR, 0x80);
    expect(apic.acknowledge()).toBe(0xef);
    expect(words(APIC_ISR)).toEqual(new Array(8).fill(0));
    expect(bit(APIC_IRR, 0x45)).toBe(true);
  });

  it('APR (P6 arbitration priority) follows SDM 10.8.3.1', () => {
    wr(APIC_TPR, 0x52);
    apic.acceptInterrupt(0x45, false);
    expect(rd(APIC_APR)).toBe(0x52); // TPR class 5 >= IRR's 4 and > ISR's 0
    wr(APIC_TPR, 0x23);
    expect(rd(APIC_APR)).toBe(0x40); // the highest of TPR, ISR and IRR classes
    apic.acknowledge();
    expect(rd(APIC_APR)).toBe(0x40); // 0x45 in service now
  });

  it('EOI of a level-triggered vector (TMR set) is broadcast once; of an edge one not at all', () => {
    apic.acceptInterrupt(0x41, true);
    apic.acceptInterrupt(0x62, false);
    expect([bit(APIC_TMR, 0x41), bit(APIC_TMR, 0x62)]).toEqual([true, false]);
    expect(serve()).toBe(0x62);
    expect(eois).toEqual([]);
    expect(serve()).toBe(0x41);
    expect(eois).toEqual([0x41]);
    wr(APIC_EOI, 0); // nothing in service
    expect(eois).toEqual([0x41]);
  });

  it('onChange follows accepted interrupts, INTA, EOI and TPR', () => {
    changes = 0;
    apic.acceptInterrupt(0x41, false);
    expect(changes).toBe(1);
    apic.acknowledge();
    expect(changes).toBe(2);
    wr(APIC_EOI, 0);
    expect(changes).toBe(3);
    wr(APIC_TPR, 0x10);
    expect(changes).toBe(4);
  });
});

describe('the 8259 through LINT0 (ExtINT)', () => {
  it('passes at power-on: the 8259 gives the vector, nothing enters ISR', () => {
    pic.pending = true;
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x20);
    expect(pic.acks).toBe(1);
    expect(words(APIC_ISR)).toEqual(new Array(8).fill(0));
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('is blocked when LINT0 is masked or not ExtINT', () => {
    softwareEnable();
    pic.pending = true;
    wr(APIC_LVT_LINT0, 0x10700);
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.acknowledge()).toBe(0xff); // spurious
    expect(pic.acks).toBe(0);
    wr(APIC_LVT_LINT0, 0x0031); // fixed mode
    expect(apic.hasInterrupt()).toBe(false);
    wr(APIC_LVT_LINT0, 0x0700);
    expect(apic.hasInterrupt()).toBe(true);
  });

  it('the APIC is served before the 8259', () => {
    softwareEnable();
    pic.pending = true;
    apic.acceptInterrupt(0x40, false);
    expect(apic.acknowledge()).toBe(0x40);
    expect(pic.acks).toBe(0);
    expect(apic.acknowledge()).toBe(0x20); // 0x40 in service does not hold back the 8259
  });

  it('passes whatever LINT0 says once IA32_APIC_BASE bit 11 is cleared; re-enabling gives the power-on state', () => {
    softwareEnable();
    wr(APIC_LVT_LINT0, 0x10700); wr(APIC_TPR, 0x20); wr(APIC_LVT_TIMER, 0x40); wr(APIC_TIMER_INITIAL, 1000);
    apic.acceptInterrupt(0x40, false);
    pic.pending = true;
    changes = 0;
    apic.writeBaseMsr(0xfee00100);
    expect(changes).toBe(1);
    expect(apic.readBaseMsr()).toBe(0xfee00100);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x20);
    // No APIC: its registers read all ones and drop writes, it accepts no message, its timer is stopped.
    expect(rd(APIC_VERSION)).toBe(0xffffffff);
    expect(apic.read(APIC_TPR, 1)).toBe(0xff);
    apic.acceptInterrupt(0x50, false);
    expect(apic.matchesDestination(0, false)).toBe(false);
    expect(apic.nextEventNs()).toBe(Infinity);
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.acknowledge()).toBe(0x20); // the INTA goes to the 8259 alone
    apic.writeBaseMsr(0xfee00900);
    expect(apic.readBaseMsr()).toBe(0xfee00900);
    expect([rd(APIC_SVR), rd(APIC_TPR), rd(APIC_LVT_LINT0), rd(APIC_LVT_TIMER), rd(APIC_TIMER_INITIAL)]).toEqual([0xff, 0, 0x700, 0x10000, 0]);
    expect([...words(APIC_IRR), ...words(APIC_ISR)]).toEqual(new Array(16).fill(0));
  });

  it('relocating the base or clearing BSP is not modelled: only bit 11 changes', () => {
    apic.writeBaseMsr(0x12345800);
    expect(apic.readBaseMsr()).toBe(0xfee00900);
  });
});

describe('IPIs (ICR) and destinations', () => {
  beforeEach(softwareEnable);

  it('self IPI (shorthand 01) lands in IRR; ICR reads back idle', () => {
    wr(APIC_ICR_LOW, 0x00040031);
    expect(bit(APIC_IRR, 0x31)).toBe(true);
    expect(bit(APIC_TMR, 0x31)).toBe(false);
    expect(rd(APIC_ICR_LOW)).toBe(0x00040031); // delivery status (bit 12) idle
    expect(apic.acknowledge()).toBe(0x31);
  });

  it('all including self (10) delivers; all excluding self (11) does not', () => {
    wr(APIC_ICR_LOW, 0x000c0032);
    expect(bit(APIC_IRR, 0x32)).toBe(false);
    wr(APIC_ICR_LOW, 0x00080033);
    expect(bit(APIC_IRR, 0x33)).toBe(true);
  });

  it('no shorthand: delivered when the destination matches this APIC', () => {
    wr(APIC_ICR_HIGH, 0x01000000);
    wr(APIC_ICR_LOW, 0x00000034); // physical, APIC 1: no one
    expect(bit(APIC_IRR, 0x34)).toBe(false);
    wr(APIC_ICR_HIGH, 0x00000000);
    wr(APIC_ICR_LOW, 0x00000135); // physical APIC 0, lowest priority
    expect(bit(APIC_IRR, 0x35)).toBe(true);
    wr(APIC_LDR, 0x01000000);
    wr(APIC_ICR_HIGH, 0x03000000);
    wr(APIC_ICR_LOW, 0x00000836); // logical, flat: LDR 0x01 & 0x03
    expect(bit(APIC_IRR, 0x36)).toBe(true);
    wr(APIC_ICR_HIGH, 0x02000000);
    wr(APIC_ICR_LOW, 0x00000837);
    expect(bit(APIC_IRR, 0x37)).toBe(false);
  });

  it('NMI, INIT and start-up IPIs to itself are not delivered as vectors', () => {
    for (const mode of [2, 4, 5, 6]) wr(APIC_ICR_LOW, 0x00040040 | (mode << 8));
    expect(words(APIC_IRR)).toEqual(new Array(8).fill(0));
  });

  it('destination matching: physical (4-bit ID, 0xF broadcast), logical flat and cluster', () => {
    expect([apic.matchesDestination(0, false), apic.matchesDestination(1, false), apic.matchesDestination(0xff, false), apic.matchesDestination(0x0f, false)])
      .toEqual([true, false, true, true]);
    wr(APIC_ID, 0x03000000);
    expect([apic.id, apic.matchesDestination(3, false), apic.matchesDestination(0, false)]).toEqual([3, true, false]);
    // Flat model, LDR 0: no logical destination matches but the broadcast.
    expect([apic.matchesDestination(0x01, true), apic.matchesDestination(0xff, true)]).toEqual([false, true]);
    wr(APIC_LDR, 0x24000000);
    expect([apic.matchesDestination(0x04, true), apic.matchesDestination(0x0c, true), apic.matchesDestination(0x20, true), apic.matchesDestination(0x01, true)])
      .toEqual([true, true, true, false]);
    wr(APIC_DFR, 0x0fffffff); // cluster model: cluster 2, member bit 2
    expect([apic.matchesDestination(0x24, true), apic.matchesDestination(0x2c, true), apic.matchesDestination(0x21, true), apic.matchesDestination(0x34, true), apic.matchesDestination(0xff, true)])
      .toEqual([true, true, false, false, true]);
  });
});

describe('errors (ESR)', () => {
  it('an illegal vector is dropped and sets bit 6, seen after an ESR write', () => {
    softwareEnable();
    apic.acceptInterrupt(5, false);
    expect(words(APIC_IRR)).toEqual(new Array(8).fill(0));
    expect(apic.hasInterrupt()).toBe(false);
    expect(rd(APIC_ESR)).toBe(0);
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0x40);
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0);
  });

  it('a self IPI with an illegal vector sets send and receive illegal vector', () => {
    softwareEnable();
    wr(APIC_ICR_LOW, 0x0004000f);
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0x60);
    expect(words(APIC_IRR)).toEqual(new Array(8).fill(0));
  });

  it('the first error after an ESR write raises the error LVT interrupt', () => {
    softwareEnable();
    wr(APIC_LVT_ERROR, 0xfe);
    apic.acceptInterrupt(3, false);
    expect(serve()).toBe(0xfe);
    apic.acceptInterrupt(4, false); // not rearmed yet
    expect(apic.hasInterrupt()).toBe(false);
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0x40);
    apic.acceptInterrupt(4, false);
    expect(apic.acknowledge()).toBe(0xfe);
  });

  it('an illegal error vector only adds bit 6', () => {
    softwareEnable();
    wr(APIC_LVT_ERROR, 0x02);
    rd(0x010); // illegal register address
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0xc0);
    expect(words(APIC_IRR)).toEqual(new Array(8).fill(0));
  });
});

describe('timer (bus clock 1 GHz)', () => {
  beforeEach(softwareEnable);

  it('one-shot, divide by 16: counts down every 16 ns and interrupts at 0, once', () => {
    now = 1000;
    wr(APIC_TIMER_DIVIDE, 0x3); // divide by 16
    wr(APIC_LVT_TIMER, 0x30);
    wr(APIC_TIMER_INITIAL, 1000);
    expect(apic.nextEventNs()).toBe(1000 + 1000 * 16);
    const count = (t: number): number => { now = t; return rd(APIC_TIMER_CURRENT); };
    expect([count(1000), count(1015), count(1016), count(1000 + 999 * 16), count(1000 + 1000 * 16 - 1)]).toEqual([1000, 1000, 999, 1, 1]);
    now = 16999;
    apic.update();
    expect(apic.hasInterrupt()).toBe(false);
    now = 17000;
    expect(rd(APIC_TIMER_CURRENT)).toBe(0);
    expect(apic.hasInterrupt()).toBe(true); // the read brought the timer up to date
    expect(serve()).toBe(0x30);
    expect(apic.nextEventNs()).toBe(Infinity);
    now = 1e6;
    apic.update();
    expect([apic.hasInterrupt(), rd(APIC_TIMER_CURRENT), rd(APIC_TIMER_INITIAL)]).toEqual([false, 0, 1000]);
  });

  it('divide by 1: one count per ns', () => {
    now = 100;
    wr(APIC_TIMER_DIVIDE, 0xb);
    wr(APIC_LVT_TIMER, 0x31);
    wr(APIC_TIMER_INITIAL, 5);
    expect(apic.nextEventNs()).toBe(105);
    now = 103;
    expect(rd(APIC_TIMER_CURRENT)).toBe(2);
    now = 105;
    apic.update();
    expect(apic.acknowledge()).toBe(0x31);
  });

  it('the divide configuration codes give 2, 4, ..., 128 and 1 (SDM Figure 10-10)', () => {
    wr(APIC_LVT_TIMER, 0x30);
    const codes: [number, number][] = [[0x0, 2], [0x1, 4], [0x2, 8], [0x3, 16], [0x8, 32], [0x9, 64], [0xa, 128], [0xb, 1]];
    for (const [code, div] of codes) {
      now = 1_000_000;
      wr(APIC_TIMER_DIVIDE, code);
      wr(APIC_TIMER_INITIAL, 10);
      expect(apic.nextEventNs()).toBe(1_000_000 + 10 * div);
    }
  });

  it('periodic, divide by 16: reloads at 0, the same interrupt times whatever update() is called', () => {
    const run = (extra: number[]): number[] => {
      now = 0;
      apic = makeApic();
      softwareEnable();
      wr(APIC_TIMER_DIVIDE, 0x3);
      wr(APIC_LVT_TIMER, 0x20030);
      wr(APIC_TIMER_INITIAL, 100); // period 1600 ns
      const seen: number[] = [];
      const stops = [...extra];
      while (true) {
        const next = Math.min(apic.nextEventNs(), stops.length ? stops[0] : Infinity);
        if (next > 10_000) break;
        if (stops.length && stops[0] === next) stops.shift();
        now = next;
        apic.update();
        if (apic.hasInterrupt()) { seen.push(now); serve(); }
      }
      return seen;
    };
    const expected = [1600, 3200, 4800, 6400, 8000, 9600];
    expect(run([])).toEqual(expected);
    expect(run([1, 17, 1599, 1601, 3199, 3333, 5000, 7777])).toEqual(expected);
  });

  it('periodic: the current count reads initial..1, never 0', () => {
    wr(APIC_TIMER_DIVIDE, 0x3);
    wr(APIC_LVT_TIMER, 0x20030);
    wr(APIC_TIMER_INITIAL, 100);
    const count = (t: number): number => { now = t; return rd(APIC_TIMER_CURRENT); };
    expect([count(0), count(1599), count(1600), count(1616), count(3199), count(3200)]).toEqual([100, 1, 100, 99, 1, 100]);
  });

  it('several periods between updates give one interrupt (lost ticks)', () => {
    wr(APIC_TIMER_DIVIDE, 0x3);
    wr(APIC_LVT_TIMER, 0x20030);
    wr(APIC_TIMER_INITIAL, 100);
    now = 5 * 1600 + 7;
    apic.update();
    expect(serve()).toBe(0x30);
    apic.update();
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.nextEventNs()).toBe(6 * 1600);
  });

  it('masked, it interrupts nowhere but keeps counting; unmasked, it goes on in phase', () => {
    wr(APIC_TIMER_DIVIDE, 0x3);
    wr(APIC_LVT_TIMER, 0x30030); // periodic, masked
    wr(APIC_TIMER_INITIAL, 100);
    expect(apic.nextEventNs()).toBe(Infinity);
    now = 2000;
    apic.update();
    expect(apic.hasInterrupt()).toBe(false);
    expect(rd(APIC_TIMER_CURRENT)).toBe(100 - 25); // 400 ns into the second period
    now = 4000;
    wr(APIC_LVT_TIMER, 0x20030);
    expect(apic.hasInterrupt()).toBe(false); // the expiry at 3200 happened masked
    expect(apic.nextEventNs()).toBe(4800);
  });

  it('a divide change continues from the current count at the new rate', () => {
    wr(APIC_TIMER_DIVIDE, 0x3);
    wr(APIC_LVT_TIMER, 0x30);
    wr(APIC_TIMER_INITIAL, 1000);
    now = 1600; // 100 counts done
    wr(APIC_TIMER_DIVIDE, 0xb);
    expect(rd(APIC_TIMER_CURRENT)).toBe(900);
    expect(apic.nextEventNs()).toBe(1600 + 900);
    now = 2000;
    expect(rd(APIC_TIMER_CURRENT)).toBe(500);
    wr(APIC_TIMER_DIVIDE, 0xb); // same divider: nothing changes
    expect(apic.nextEventNs()).toBe(2500);
  });

  it('writing the initial count restarts it; 0 stops it; a mode change disarms it', () => {
    wr(APIC_TIMER_DIVIDE, 0xb);
    wr(APIC_LVT_TIMER, 0x20030);
    wr(APIC_TIMER_INITIAL, 1000);
    now = 300;
    wr(APIC_TIMER_INITIAL, 1000);
    expect(apic.nextEventNs()).toBe(1300);
    wr(APIC_TIMER_INITIAL, 0);
    expect([apic.nextEventNs(), rd(APIC_TIMER_CURRENT)]).toEqual([Infinity, 0]);
    wr(APIC_TIMER_INITIAL, 1000);
    now = 400;
    wr(APIC_LVT_TIMER, 0x30); // periodic to one-shot
    expect([apic.nextEventNs(), rd(APIC_TIMER_CURRENT), rd(APIC_TIMER_INITIAL)]).toEqual([Infinity, 0, 1000]);
    wr(APIC_LVT_TIMER, 0x31); // same mode, new vector: no effect on the count
    wr(APIC_TIMER_INITIAL, 10);
    wr(APIC_LVT_TIMER, 0x32);
    expect(apic.nextEventNs()).toBe(410);
  });

  it('an illegal timer vector sets ESR bit 6 at expiry', () => {
    wr(APIC_TIMER_DIVIDE, 0xb);
    wr(APIC_LVT_TIMER, 0x05);
    wr(APIC_TIMER_INITIAL, 10);
    now = 10;
    apic.update();
    wr(APIC_ESR, 0);
    expect(rd(APIC_ESR)).toBe(0x40);
    expect(apic.hasInterrupt()).toBe(false);
  });
});

describe('saved state', () => {
  /** A device in the middle of things: nested service, a level vector, a pending request, errors, the timer mid-period. */
  function busy(): void {
    softwareEnable();
    wr(APIC_TPR, 0x20); wr(APIC_LDR, 0x01000000); wr(APIC_ICR_HIGH, 0x01000000);
    wr(APIC_LVT_ERROR, 0xfe); wr(APIC_LVT_LINT0, 0x10700);
    apic.acceptInterrupt(0x51, true);
    apic.acknowledge();
    apic.acceptInterrupt(0x91, false);
    apic.acknowledge();
    apic.acceptInterrupt(0x44, false);
    wr(APIC_ICR_LOW, 0x00000836); // logical 0x01: this APIC
    apic.acceptInterrupt(2, false); // error: ESR and 0xFE
    wr(APIC_TIMER_DIVIDE, 0x3);
    wr(APIC_LVT_TIMER, 0x20040);
    now = 777;
    wr(APIC_TIMER_INITIAL, 250); // period 4000 ns
    now = 5000;
    apic.update();
  }

  /** What the guest sees from here on: interrupts in order, timer counts, registers. */
  function future(a: LocalApic): unknown[] {
    const out: unknown[] = [];
    for (const t of [5000, 8777, 9000, 12777, 20000]) {
      now = t;
      a.update();
      out.push(rd(APIC_TIMER_CURRENT, a), rd(APIC_PPR, a), a.nextEventNs());
      while (a.hasInterrupt()) { out.push(a.acknowledge()); }
      for (let i = 0; i < 3; i++) a.write(APIC_EOI, 4, 0);
      out.push(words(APIC_ISR, a), words(APIC_IRR, a));
    }
    a.write(APIC_ESR, 4, 0);
    out.push(rd(APIC_ESR, a), eois.splice(0));
    return out;
  }

  it('a JSON round trip restores a device that behaves identically', () => {
    busy();
    const saved = JSON.parse(JSON.stringify(apic.save())) as ReturnType<LocalApic['save']>;
    checkState(apic.stateSchema, saved, 'local-apic');
    const t0 = now;
    const expected = future(apic);
    now = t0;
    changes = 0;
    const copy = makeApic();
    copy.load(saved);
    expect(changes).toBe(0); // load raises nothing
    expect(copy.save()).toEqual(saved);
    expect(future(copy)).toEqual(expected);
    expect(expected).toContain(0xfe);
    expect(expected).toContain(0x40);
  });

  it('a globally disabled device round-trips', () => {
    apic.writeBaseMsr(0xfee00100);
    const saved = apic.save();
    const copy = makeApic();
    copy.load(saved);
    expect(copy.readBaseMsr()).toBe(0xfee00100);
    expect(copy.read(APIC_VERSION, 4)).toBe(0xffffffff);
  });

  it('refuses states that do not fit the schema', () => {
    const good = apic.save();
    expect(() => checkState(apic.stateSchema, { ...good, tpr: 0x100 }, 'local-apic')).toThrow(StateError);
    expect(() => checkState(apic.stateSchema, { ...good, irr: [...good.irr, 0] }, 'local-apic')).toThrow(StateError);
    const { svr: _, ...missing } = good;
    expect(() => checkState(apic.stateSchema, missing, 'local-apic')).toThrow(StateError);
  });

  it('refuses states its own code could not reach', () => {
    busy();
    const good = apic.save();
    const load = (patch: Partial<typeof good>): void => makeApic().load({ ...good, ...patch });
    expect(() => load({})).not.toThrow();
    expect(() => load({ baseMsr: 0xfec00900 })).toThrow(StateError); // relocated
    expect(() => load({ isr: good.isr.slice(0, 7) })).toThrow(StateError);
    expect(() => load({ irr: [0x8000, 0, 0, 0, 0, 0, 0, 0] })).toThrow(StateError); // vector 15
    expect(() => load({ svr: 0x1f0 })).toThrow(StateError); // bits 3:0 are ones
    expect(() => load({ id: 0x10000000 })).toThrow(StateError); // 5-bit ID
    expect(() => load({ dfr: 0x00000000 })).toThrow(StateError);
    expect(() => load({ lvtTimer: 0x40040 })).toThrow(StateError); // bit 18
    expect(() => load({ esr: 0x01 })).toThrow(StateError);
    expect(() => load({ timerCount: 251 })).toThrow(StateError); // above the initial count
    expect(() => load({ timerNext: (good.timerNext ?? 0) + 1 })).toThrow(StateError); // not an expiry
    expect(() => load({ timerNext: null })).toThrow(StateError); // periodic always has one ahead
    expect(() => load({ baseMsr: 0xfee00100 })).toThrow(StateError); // disabled with requests pending
  });
});
