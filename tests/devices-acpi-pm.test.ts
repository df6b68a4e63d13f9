// The ACPI PM registers (src/devices/acpi-pm.ts) on an I/O bus at QEMU's PMBASE 0x600, driven by a fake
// virtual clock: the timer's rate and width, TMR_STS and the SCI, PM1 status/enable semantics, SLP_EN with
// the S5 sleep type powering off — and, on a whole VM, that power-off ends the run with exit 'poweroff'.
import { describe, expect, it } from 'vitest';
import { AcpiPm, PM1_CNT, PM1_EVT, PM_TIMER_HZ, PM_TMR, pmTimerTicks, PWRBTN_EN, PWRBTN_STS, SCI_EN, SLP_EN, SLP_TYP_S5, SLP_TYP_SHIFT, TMR_EN, TMR_STS, WAK_STS } from '../src/devices/acpi-pm.ts';
import { ACPI_PM_BASE } from '../src/machine/board.ts';
import { IoBus } from '../src/machine/io-bus.ts';
import { VM } from '../src/machine/vm.ts';
import { PORT_IO_NS } from '../src/cpu/cpu.ts';
import { loadRaw } from '../src/loader/raw.ts';

const STS = ACPI_PM_BASE + PM1_EVT, EN = STS + 2, CNT = ACPI_PM_BASE + PM1_CNT, TMR = ACPI_PM_BASE + PM_TMR;

function setup() {
  const bus = new IoBus();
  const clock = { ns: 0 };
  const sci: boolean[] = [];
  let powerOffs = 0;
  const pm = new AcpiPm({ nowNs: () => clock.ns, onSci: (l) => sci.push(l), onPowerOff: () => { powerOffs++; } });
  bus.register(ACPI_PM_BASE, 12, pm, 'acpi-pm');
  return { bus, clock, sci, pm, powerOffs: () => powerOffs };
}

describe('ACPI PM timer', () => {
  it('counts at 3.579545 MHz of virtual time, 24 bits wide', () => {
    const { bus, clock } = setup();
    expect(bus.in(TMR, 4)).toBe(0);
    clock.ns = 1e9;
    expect(bus.in(TMR, 4)).toBe(PM_TIMER_HZ & 0xffffff);
    clock.ns = 1000; // 3.579545 ticks per µs
    expect(bus.in(TMR, 4)).toBe(3);
    clock.ns = 279; // one tick is 279.365 ns
    expect(bus.in(TMR, 4)).toBe(0);
    clock.ns = 280;
    expect(bus.in(TMR, 4)).toBe(1);
    // Wraps at 2^24 ticks (4.687 s); the top byte of the dword reads 0.
    clock.ns = 5e9;
    expect(bus.in(TMR, 4)).toBe((5 * PM_TIMER_HZ) % 2 ** 24);
    // Exact over long runs: 10^6 s of virtual time.
    clock.ns = 1e15 + 1e9;
    expect(pmTimerTicks(clock.ns)).toBe((1e6 + 1) * PM_TIMER_HZ);
    expect(bus.in(TMR, 4)).toBe(((1e6 + 1) * PM_TIMER_HZ) % 2 ** 24);
  });

  it('reads in bytes and words as the dword does (the I/O bus splits nothing it need not)', () => {
    const { bus, clock } = setup();
    clock.ns = 3.2e9;
    const v = bus.in(TMR, 4);
    expect(bus.in(TMR, 2) | (bus.in(TMR + 2, 2) << 16)).toBe(v);
    expect(bus.in(TMR + 3, 1)).toBe(0);
    bus.out(TMR, 4, 0); // read-only
    expect(bus.in(TMR, 4)).toBe(v);
  });

  it('sets TMR_STS when bit 23 changes and raises the SCI when TMR_EN is set; nextEventNs names the moment', () => {
    const { bus, clock, sci, pm } = setup();
    expect(pm.nextEventNs()).toBe(Infinity); // TMR_EN clear
    bus.out(EN, 2, TMR_EN);
    const at = pm.nextEventNs();
    // The first nanosecond of tick 2^23 (2.343 s).
    expect(pmTimerTicks(at)).toBe(2 ** 23);
    expect(pmTimerTicks(at - 1)).toBe(2 ** 23 - 1);
    clock.ns = at - 1;
    pm.update();
    expect(bus.in(STS, 2) & TMR_STS).toBe(0);
    expect(sci).toEqual([]);
    clock.ns = at;
    pm.update();
    expect(bus.in(STS, 2) & TMR_STS).toBe(TMR_STS);
    expect(sci).toEqual([true]);
    expect(pm.nextEventNs()).toBe(Infinity); // pending until cleared
    bus.out(STS, 2, TMR_STS); // write 1 to clear
    expect(sci).toEqual([true, false]);
    expect(bus.in(TMR, 4)).toBe(0x800000);
    // The next change of bit 23 is the wrap 2^23 ticks later.
    const wrap = pm.nextEventNs();
    expect([pmTimerTicks(wrap - 1), pmTimerTicks(wrap)]).toEqual([2 ** 24 - 1, 2 ** 24]);
  });

  it('keeps TMR_STS without an SCI while TMR_EN is clear, and raises the SCI once enabled', () => {
    const { bus, clock, sci, pm } = setup();
    clock.ns = 3e9;
    pm.update();
    expect(bus.in(STS, 2) & TMR_STS).toBe(TMR_STS);
    expect(sci).toEqual([]);
    bus.out(EN, 2, TMR_EN);
    expect(sci).toEqual([true]);
  });
});

describe('ACPI PM1 event and control registers', () => {
  it('start in ACPI mode (SCI_EN, as the FADT\'s SMI_CMD 0 promises), nothing pending or enabled', () => {
    const { bus } = setup();
    expect(bus.in(CNT, 2)).toBe(SCI_EN);
    expect(bus.in(STS, 2)).toBe(0);
    expect(bus.in(EN, 2)).toBe(0);
    expect(bus.in(STS, 4)).toBe(0);
  });

  it('power button: PWRBTN_STS, the SCI while enabled, cleared by writing 1; no SCI with SCI_EN clear', () => {
    const { bus, sci, pm } = setup();
    pm.pressPowerButton();
    expect(bus.in(STS, 2)).toBe(PWRBTN_STS);
    expect(sci).toEqual([]);
    bus.out(EN, 2, PWRBTN_EN);
    expect(sci).toEqual([true]);
    bus.out(STS, 2, 0); // writing 0 changes nothing
    expect(bus.in(STS, 2)).toBe(PWRBTN_STS);
    bus.out(CNT, 2, 0); // out of ACPI mode: the SCI drops
    expect(sci).toEqual([true, false]);
    bus.out(CNT, 2, SCI_EN);
    expect(sci).toEqual([true, false, true]);
    bus.out(STS + 1, 1, PWRBTN_STS >> 8); // byte write to the high half
    expect(bus.in(STS, 2)).toBe(0);
    expect(sci).toEqual([true, false, true, false]);
  });

  it('SLP_EN with the S5 sleep type powers off; SLP_TYP reads back, SLP_EN does not', () => {
    const { bus, powerOffs } = setup();
    bus.out(CNT, 2, SCI_EN | (SLP_TYP_S5 << SLP_TYP_SHIFT)); // ACPICA writes SLP_TYP first, then SLP_EN
    expect(powerOffs()).toBe(0);
    bus.out(CNT, 2, SCI_EN | (SLP_TYP_S5 << SLP_TYP_SHIFT) | SLP_EN);
    expect(powerOffs()).toBe(1);
    expect(bus.in(CNT, 2) & SLP_EN).toBe(0);
  });

  it('SLP_EN with a sleep type this board does not model runs on and reports the wake (WAK_STS)', () => {
    const { bus, powerOffs } = setup();
    bus.out(CNT, 2, SCI_EN | (1 << SLP_TYP_SHIFT) | SLP_EN);
    expect(powerOffs()).toBe(0);
    expect(bus.in(CNT, 2)).toBe(SCI_EN | (1 << SLP_TYP_SHIFT));
    expect(bus.in(STS, 2) & WAK_STS).toBe(WAK_STS);
  });

  it('saves and loads its registers; the timer follows the clock', () => {
    const a = setup(), b = setup();
    a.bus.out(EN, 2, PWRBTN_EN | TMR_EN);
    a.pm.pressPowerButton();
    a.clock.ns = b.clock.ns = 7e9;
    const saved = JSON.parse(JSON.stringify(a.pm.save()));
    b.pm.load(saved);
    expect(b.bus.in(STS, 2)).toBe(a.bus.in(STS, 2));
    expect(b.bus.in(EN, 2)).toBe(PWRBTN_EN | TMR_EN);
    expect(b.bus.in(TMR, 4)).toBe(a.bus.in(TMR, 4));
    expect(b.sci).toEqual([]); // load raises no IRQ: the PIC's saved state holds the line
  });
});

describe('ACPI PM device on the PC board', () => {
  it('times the guest\'s own loop: the timer follows the VM\'s virtual clock', () => {
    const vm = new VM();
    // mov dx, 0x608; in eax, dx; mov ebx, eax; mov ecx, 300000; l: loop l; in eax, dx; hlt (IF = 0: the run ends).
    const code = [0xba, 0x08, 0x06, 0x00, 0x00, 0xed, 0x89, 0xc3, 0xb9, 0xe0, 0x93, 0x04, 0x00, 0xe2, 0xfe, 0xed, 0xf4];
    loadRaw(vm, new Uint8Array(code), { load: 0x1000, entry: 0x1000, bits: 32 });
    const exit = vm.run({ maxInstructions: 1e6 });
    expect(exit.reason).toBe('halt');
    expect(vm.instructions).toBe(300_006);
    const ticks = (vm.readRegister('eax') - vm.readRegister('ebx')) >>> 0;
    // Virtual time between the two reads: the first IN's own I/O time, then 300,002 instructions at 1 ns each.
    const ns = PORT_IO_NS + 300_002;
    expect(ticks).toBeGreaterThan(1000);
    expect(Math.abs(ticks - (ns * PM_TIMER_HZ) / 1e9)).toBeLessThan(1.5);
  });

  it('ends the run with exit poweroff on S5; the SCI reaches the PIC on IRQ 9', () => {
    const vm = new VM();
    // mov dx, 0x604; mov ax, SCI_EN | SLP_EN | S5 << 10; out dx, ax; then a loop the power-off must end.
    const ctl = SCI_EN | SLP_EN | (SLP_TYP_S5 << SLP_TYP_SHIFT);
    const code = [0xba, 0x04, 0x06, 0x00, 0x00, 0x66, 0xb8, ctl & 0xff, ctl >> 8, 0x66, 0xef, 0xeb, 0xfe];
    loadRaw(vm, new Uint8Array(code), { load: 0x1000, entry: 0x1000, bits: 32 });
    const exit = vm.run({ maxInstructions: 1000 });
    expect(exit.reason).toBe('poweroff');
    expect(vm.instructions).toBe(3);

    vm.io.out(ACPI_PM_BASE + PM1_EVT + 2, 2, PWRBTN_EN);
    vm.acpiPm.pressPowerButton();
    expect(vm.pic.slave.irr & (1 << 1)).toBe(1 << 1); // IRQ 9 = the slave's IR1
  });
});
