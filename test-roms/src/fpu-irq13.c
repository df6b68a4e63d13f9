/* fpu-irq13: x87 errors with CR0.NE clear ("MS-DOS compatibility mode", SDM Vol. 1 8.7): an unmasked
 * exception pending (FSW.ES) makes FWAIT assert FERR#, which the PC's chipset delivers as IRQ13 (slave
 * 8259 IR5); a write to port 0xF0 drops IRQ13 and asserts IGNNE#, after which FWAIT reports nothing until
 * the error is gone (here: FLDENV of a clear status word). With IF=0 the request waits in the slave's IRR.
 * CR0.NE set: FWAIT raises #MF (vector 16) instead, and IRQ13 stays quiet.
 * Any waiting x87 instruction reports the error, not only FWAIT. QEMU 7.2 aborts at the first FERR#
 * (an assertion in its TCG interrupt path), so the expected output follows the SDM rather than QEMU; where
 * QEMU's code departs from the SDM (FERR# at FWAIT only, IGNNE# kept until FLDENV/FRSTOR load a clear ES)
 * x86jit follows the hardware. Interrupt delivery is awaited in a bounded loop, not at a fixed instruction. */
#include "rt.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define OCW3_READ_IRR 0x0a
#define EOI 0x20
#define CR0_NE 0x20u
#define FSW_ES 0x80u
#define SPIN_LIMIT 20000u   /* a pending interrupt is taken within a few instructions; where none must come, the wait is short */

volatile u32 irq13_count, irq13_fsw, mf_count, mf_eip;
volatile u32 irq13_ack = 1;   /* the handler writes port 0xF0 and clears the x87 error */

static u16 fnstsw(void) { u16 sw; __asm__ volatile("fnstsw %0" : "=a"(sw)); return sw; }

static void irq13(struct frame *f)
{
	irq13_count++;
	irq13_fsw = fnstsw();
	if (irq13_ack) {
		outb(0xf0, 0);
		__asm__ volatile("fnclex");
	}
	outb(PIC2_CMD, EOI);
	outb(PIC1_CMD, EOI);
}

static void mf(struct frame *f)
{
	mf_count++;
	mf_eip = f->eip;
	__asm__ volatile("fnclex");
}

static u32 read_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static void write_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }

/* 1/0 with the zero-divide exception unmasked: ZE and ES set, nothing reported yet (the next waiting x87
 * instruction would: only non-waiting ones follow until the test's FWAIT). */
static void divide_by_zero(void)
{
	u16 cw = 0x037b;   /* everything masked but ZE */
	__asm__ volatile("fninit; fldcw %0; fld1; fldz; fdivrp %%st, %%st(1)" :: "m"(cw));
}

static u8 slave_irr(void) { outb(PIC2_CMD, OCW3_READ_IRR); return inb(PIC2_CMD); }

static void wait_for(volatile u32 *count, u32 want)
{
	for (u32 spins = 0; *count < want && spins < SPIN_LIMIT; spins++) __asm__ volatile("" ::: "memory");
}

void fwait_at(void);

void test_main(void)
{
	rt_set_handler(0x2d, irq13);
	rt_set_handler(16, mf);
	outb(PIC1_CMD, 0x11); outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20); outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04); outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01); outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xfb); outb(PIC2_DATA, 0xdf);   /* only IRQ2 (the cascade) and IRQ13 */
	write_cr0(read_cr0() & ~CR0_NE);

	divide_by_zero();
	CHECK(fnstsw() & (FSW_ES | 0x04), FSW_ES | 0x04, "1/0 with ZE unmasked: ZE and ES pending");
	CHECK(irq13_count, 0, "no IRQ13 before a waiting instruction");
	CHECK(slave_irr() & 0x20, 0, "slave IRR bit 5 clear");

	__asm__ volatile("sti; fwait" ::: "memory");
	wait_for(&irq13_count, 1);
	__asm__ volatile("cli");
	CHECK(irq13_count, 1, "NE=0, IF=1: FWAIT raises IRQ13 once");
	CHECK(irq13_fsw & FSW_ES, FSW_ES, "ES still set inside the IRQ13 handler");
	CHECK(fnstsw() & FSW_ES, 0, "the handler's FNCLEX cleared ES");
	CHECK(mf_count, 0, "no #MF with NE=0");

	/* IF=0: the request waits in the slave's IRR; port 0xF0 drops the line, the latched request stays. */
	irq13_count = 0;
	irq13_ack = 0;
	divide_by_zero();
	__asm__ volatile("fwait");
	CHECK(slave_irr() & 0x20, 0x20, "IF=0: IRQ13 pending in the slave's IRR after FWAIT");
	CHECK(irq13_count, 0, "IF=0: not delivered");
	outb(0xf0, 0);
	__asm__ volatile("sti");
	wait_for(&irq13_count, 1);
	__asm__ volatile("cli");
	CHECK(irq13_count, 1, "the latched request is delivered once IF=1");

	/* IGNNE# is asserted (port 0xF0 written) and ES is still set: FWAIT reports nothing. */
	CHECK(fnstsw() & FSW_ES, FSW_ES, "ES still set (the handler did not clear it)");
	__asm__ volatile("sti; fwait" ::: "memory");
	wait_for(&irq13_count, 2);
	__asm__ volatile("cli");
	CHECK(irq13_count, 1, "IGNNE# asserted: no further IRQ13");
	CHECK(slave_irr() & 0x20, 0, "and nothing pending");

	/* FLDENV of a clear status word takes the error away, and IGNNE# with it: FERR# works again. */
	u32 env[7];
	__asm__ volatile("fnclex; fnstenv %0" : "=m"(env));
	__asm__ volatile("fldenv %0" :: "m"(env));
	irq13_ack = 1;
	divide_by_zero();
	__asm__ volatile("sti; fwait" ::: "memory");
	wait_for(&irq13_count, 2);
	__asm__ volatile("cli");
	CHECK(irq13_count, 2, "after FLDENV of a clear ES: FWAIT raises IRQ13 again");

	/* Any waiting x87 instruction reports the pending error, not only FWAIT (SDM; QEMU: FWAIT only). */
	divide_by_zero();
	__asm__ volatile("sti; fld1" ::: "memory");
	wait_for(&irq13_count, 3);
	__asm__ volatile("cli");
	CHECK(irq13_count, 3, "FLD1 with ES pending raises IRQ13 too");

	/* NE=1: #MF at FWAIT, with EIP at the FWAIT; no IRQ13. */
	write_cr0(read_cr0() | CR0_NE);
	divide_by_zero();
	__asm__ volatile("sti; .globl fwait_at; fwait_at: fwait" ::: "memory");
	wait_for(&irq13_count, 4);
	__asm__ volatile("cli");
	CHECK(mf_count, 1, "NE=1: FWAIT raises #MF");
	CHECK(mf_eip, (u32)fwait_at, "#MF: EIP at the FWAIT");
	CHECK(irq13_count, 3, "NE=1: no IRQ13");
	rt_finish("fpu-irq13");
}
