/* pic-pit: 8259A PIC pair, 8254 PIT channel 0, CMOS RTC. Initialisation (ICW1-4, remap to 0x20/0x28)
 * and IMR read-back; a masked IRQ0 stays pending in IRR and is not delivered with IF=1 until unmasked;
 * no second IRQ0 while the first is in service (no EOI), delivered right after the EOI; ISR bit 0 set
 * inside the IRQ0 handler (OCW3 read), clear after its EOI; PIT mode 2 (periodic: several interrupts,
 * each waking a HLT), mode 0 (one-shot: exactly one interrupt, OUT high afterwards, the counter keeps
 * counting), latched count reads (within range, decreasing), read-back status; the STI interrupt shadow
 * (a pending IRQ is taken after the instruction following STI, and `sti; hlt` wakes up from it);
 * RTC status registers A/B/D and BCD validity of the time and date fields (values never printed).
 * Only timing-independent properties are checked: no interrupt counts beyond "at least" / "exactly
 * one", no tick rates. */
#include "rt.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define OCW3_READ_IRR 0x0a
#define OCW3_READ_ISR 0x0b
#define EOI 0x20
#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define SPIN_LIMIT 50000000u   /* bound for every busy-wait: a broken device fails instead of hanging */

volatile u32 irq_count, irq_isr, irq_isr_after_eoi, irq_eip, irq_cs, irq_eoi = 1, irq_hlt_at, irq_before_hlt;

static void irq0(struct frame *f)
{
	irq_count++;
	outb(PIC1_CMD, OCW3_READ_ISR);
	irq_isr = inb(PIC1_CMD);
	irq_eip = f->eip;
	irq_cs = f->cs & 0xffff;
	if (irq_hlt_at && f->eip == irq_hlt_at) {
		/* taken between STI and HLT (wrong): step over the HLT instead of halting forever */
		irq_before_hlt = 1;
		f->eip++;
	}
	if (irq_eoi) {
		outb(PIC1_CMD, EOI);
		outb(PIC1_CMD, OCW3_READ_ISR);
		irq_isr_after_eoi = inb(PIC1_CMD);
	}
}

static u8 read_irr(void) { outb(PIC1_CMD, OCW3_READ_IRR); return inb(PIC1_CMD); }
static u8 read_isr(void) { outb(PIC1_CMD, OCW3_READ_ISR); return inb(PIC1_CMD); }
static void mask_irq0(int masked) { outb(PIC1_DATA, masked ? 0xff : 0xfe); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

/* control word: channel 0, lobyte/hibyte, mode, binary; the count is written separately */
static void pit_control(u32 mode) { outb(PIT_CMD, (u8)(0x30 | mode << 1)); }
static void pit_count(u32 count) { outb(PIT_CH0, (u8)count); outb(PIT_CH0, (u8)(count >> 8)); }
static u32 pit_latch(void)
{
	outb(PIT_CMD, 0x00);   /* counter latch command, channel 0 */
	u32 lo = inb(PIT_CH0);
	return lo | (u32)inb(PIT_CH0) << 8;
}
static u32 pit_status(void)
{
	outb(PIT_CMD, 0xe2);   /* read-back: latch status only (COUNT# = 1, STATUS# = 0), channel 0 */
	return inb(PIT_CH0);
}

/* Delivers any stale pending IRQ0 (edge latched in IRR from an earlier mode) and clears the counters. */
static void drain(void)
{
	irq_eoi = 1;
	mask_irq0(0);
	__asm__ volatile("sti; nop; nop; nop; cli" ::: "memory");
	irq_count = 0;
	irq_isr = irq_isr_after_eoi = irq_eip = 0;
}

static int wait_irr0(void)
{
	for (u32 i = 0; i < SPIN_LIMIT; i++)
		if (read_irr() & 1) return 1;
	return 0;
}

/* Runs a while with whatever IF the caller set: interrupt recognition after an OUT to the PIC is not
 * instantaneous (QEMU recognises it at the end of a translation block), so checks wait a little. */
static void spin(void)
{
	for (volatile u32 i = 0; i < 10000; i++) ;
}

static u8 cmos(u8 reg) { outb(CMOS_INDEX, reg); return inb(CMOS_DATA); }
static int bcd_ok(u8 v, u8 lo, u8 hi) { return (v & 0xf) <= 9 && (v >> 4) <= 9 && v >= lo && v <= hi; }

void shadow_nop_at(void), shadow_after_nop(void), shadow_hlt_at(void), shadow_after_hlt(void);

void test_main(void)
{
	rt_set_handler(0x20, irq0);

	/* ICW1: edge, cascade, ICW4 needed; ICW2: vector base; ICW3: slave on IRQ2 / slave id 2; ICW4: 8086 */
	outb(PIC1_CMD, 0x11); outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20); outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04); outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01); outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff); outb(PIC2_DATA, 0xff);
	CHECK(inb(PIC1_DATA), 0xff, "master IMR reads back 0xff");
	CHECK(inb(PIC2_DATA), 0xff, "slave IMR reads back 0xff");
	outb(PIC1_DATA, 0xfa);
	CHECK(inb(PIC1_DATA), 0xfa, "master IMR reads back 0xfa");
	outb(PIC1_DATA, 0xff);
	CHECK(read_isr(), 0, "master ISR empty after init");
	outb(PIC2_CMD, OCW3_READ_ISR);
	CHECK(inb(PIC2_CMD), 0, "slave ISR empty after init");

	/* Mode 2, 1000 Hz: several interrupts, each waking a HLT. */
	pit_control(2);
	drain();
	pit_count(1193);
	CHECK(pit_status() & 0x3f, 0x34, "read-back status: lobyte/hibyte, mode 2, binary");
	u32 wakeups = 0, idle_wakeups = 0;
	while (irq_count < 5 && wakeups < 1000) {
		u32 before = irq_count;
		sti_hlt();
		cli();
		if (irq_count == before) idle_wakeups++;   /* HLT resumed without an interrupt */
		wakeups++;
	}
	CHECK(irq_count >= 5, 1, "mode 2: periodic interrupts (5 arrived)");
	CHECK(wakeups >= 1 && idle_wakeups == 0, 1, "HLT with IF=1 resumes only through IRQ0");
	CHECK(irq_isr & 1, 1, "ISR bit 0 set inside the IRQ0 handler");
	CHECK(irq_isr_after_eoi & 1, 0, "ISR bit 0 clear after the handler's EOI");
	CHECK(irq_cs, SEL_CODE32, "IRQ0 frame: saved CS");
	CHECK(read_isr(), 0, "ISR empty outside the handler");

	/* Masking: IRQ0 masked, IF=1: the request waits in IRR and is not delivered. */
	mask_irq0(1);
	irq_count = 0;
	sti();
	int pending = wait_irr0();
	u32 seen = irq_count;
	CHECK(pending, 1, "masked IRQ0: request latched in IRR");
	CHECK(seen, 0, "masked IRQ0 with IF=1: not delivered");
	cli();
	pit_control(0);   /* stop the timer: from now on only the latched request can interrupt */
	mask_irq0(0);
	sti();
	spin();
	cli();
	CHECK(irq_count, 1, "unmasking delivers the pending IRQ0 (once)");

	/* EOI: the handler skips its EOI; the next tick stays pending (IRR) until the EOI. */
	pit_control(2);
	drain();
	pit_count(1193);
	irq_eoi = 0;
	sti_hlt();
	cli();
	CHECK(irq_count, 1, "no-EOI handler: first IRQ0");
	CHECK(read_isr() & 1, 1, "no EOI yet: ISR bit 0 still set after IRET");
	sti();
	pending = wait_irr0();
	seen = irq_count;
	cli();
	CHECK(pending, 1, "next tick latched in IRR while IRQ0 is in service");
	CHECK(seen, 1, "no second IRQ0 before the EOI");
	pit_control(0);   /* stop the timer: only the latched request remains */
	irq_eoi = 1;
	outb(PIC1_CMD, EOI);
	sti();
	spin();
	cli();
	CHECK(irq_count, 2, "EOI lets the pending IRQ0 in (once)");

	/* Latched reads: mode 2 with the largest count, IRQ0 masked. */
	mask_irq0(1);
	pit_control(2);
	pit_count(0xffff);
	/* Two successive distinct values: the second is lower unless the counter reloaded in between. The
	 * PIT runs on real time under QEMU, so a host stall longer than a period (55 ms) could reorder
	 * one pair: three tries, any decreasing pair passes (a counter that never decreases still fails). */
	int in_range = 1, decreased = 0;
	for (int attempt = 0; attempt < 3 && !decreased; attempt++) {
		u32 v1 = pit_latch(), v2 = v1;
		for (u32 i = 0; i < SPIN_LIMIT && v2 == v1; i++) v2 = pit_latch();
		if (v1 < 1 || v2 < 1) in_range = 0;   /* mode 2 counts N..1; 0xffff is the upper bound */
		if (v2 < v1) decreased = 1;
	}
	CHECK(in_range, 1, "latched count within 1..0xffff");
	CHECK(decreased, 1, "latched count decreases");

	/* Mode 0 one-shot: exactly one interrupt; OUT goes high and stays high; the counter wraps and keeps
	 * counting. */
	pit_control(0);
	drain();
	pit_count(0x1000);
	CHECK(pit_status() & 0x3f, 0x30, "read-back status: lobyte/hibyte, mode 0, binary");
	while (irq_count == 0 && wakeups < 2000) { sti_hlt(); cli(); wakeups++; }
	CHECK(irq_count, 1, "mode 0: the one-shot interrupt");
	CHECK(pit_status() >> 7, 1, "mode 0: OUT high after the terminal count");
	sti();
	int wrapped = 0, done = 0;
	for (u32 i = 0; i < SPIN_LIMIT && !done; i++) {
		u32 c = pit_latch();
		if (c > 0xf000) wrapped = 1;
		if (wrapped && c < 0x8000) done = 1;
	}
	cli();
	CHECK(done, 1, "mode 0: the counter wraps to 0xffff and keeps counting");
	CHECK(irq_count, 1, "mode 0: no second interrupt while the counter ran through 0x8000 more");
	CHECK(pit_status() >> 7, 1, "mode 0: OUT still high");

	/* STI shadow: with IRQ0 already pending, the interrupt is taken after the instruction that follows
	 * STI, not before it. */
	pit_control(0);
	drain();
	pit_count(100);
	CHECK(wait_irr0(), 1, "IRQ0 pending with IF=0");
	__asm__ volatile("sti\n"
			 "shadow_nop_at:\n\tnop\n"
			 "shadow_after_nop:\n\tnop\n\tcli" ::: "memory");
	CHECK(irq_count, 1, "sti; nop with IRQ0 pending: one interrupt");
	CHECK(irq_eip, (u32)shadow_after_nop, "sti; nop: interrupt taken after the nop (saved EIP)");
	pit_control(0);
	drain();
	pit_count(100);
	CHECK(wait_irr0(), 1, "IRQ0 pending with IF=0 (again)");
	irq_hlt_at = (u32)shadow_hlt_at;
	__asm__ volatile("sti\n"
			 "shadow_hlt_at:\n\thlt\n"
			 "shadow_after_hlt:\n\tcli" ::: "memory");
	irq_hlt_at = 0;
	CHECK(irq_count, 1, "sti; hlt with IRQ0 pending: one interrupt (the wakeup is not lost)");
	CHECK(irq_before_hlt, 0, "sti; hlt: interrupt not taken between STI and HLT");
	CHECK(irq_eip, (u32)shadow_after_hlt, "sti; hlt: saved EIP after the HLT");
	mask_irq0(1);

	/* CMOS RTC. */
	u32 uip_clear = 0;
	for (u32 i = 0; i < SPIN_LIMIT && !uip_clear; i++) uip_clear = !(cmos(0x0a) & 0x80);
	CHECK(uip_clear, 1, "RTC: update-in-progress clears");
	u8 ra = cmos(0x0a), rb = cmos(0x0b), rd = cmos(0x0d);
	u8 sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04);
	u8 wday = cmos(0x06), mday = cmos(0x07), mon = cmos(0x08), year = cmos(0x09);
	CHECK(ra & 0x70, 0x20, "RTC register A: 32.768 kHz time base");
	CHECK(rb & 0x04, 0, "RTC register B: BCD mode (DM=0)");
	CHECK(rb & 0x02, 0x02, "RTC register B: 24-hour mode");
	CHECK(rd & 0x80, 0x80, "RTC register D: valid RAM and time (VRT)");
	CHECK(bcd_ok(sec, 0, 0x59), 1, "RTC seconds: valid BCD 00-59");
	CHECK(bcd_ok(min, 0, 0x59), 1, "RTC minutes: valid BCD 00-59");
	CHECK(bcd_ok(hour, 0, 0x23), 1, "RTC hours: valid BCD 00-23");
	CHECK(bcd_ok(wday, 1, 7), 1, "RTC day of week: 1-7");
	CHECK(bcd_ok(mday, 1, 0x31), 1, "RTC day of month: valid BCD 01-31");
	CHECK(bcd_ok(mon, 1, 0x12), 1, "RTC month: valid BCD 01-12");
	CHECK(bcd_ok(year, 0, 0x99), 1, "RTC year: valid BCD 00-99");

	rt_finish("pic-pit");
}
