/* Paravirtual variant of rt.c for hypercall.elf and console-pv.elf: when CPUID reports the x86jit
 * hypervisor, console output goes through the CONSOLE_WRITE hypercall (buffered per line) and rt_exit
 * through EXIT: the UART is never touched. Without the hypervisor (e.g. under QEMU) it falls back to
 * COM1 and port 0xF4 so the ROM can say so and fail cleanly. The GDT/IDT helpers repeat rt.c's (rt.c
 * initialises the UART unconditionally, so it cannot be linked here). */
#include "rt.h"
#include "pv.h"

#define COM1 0x3F8
#define DEBUG_EXIT_PORT 0xF4

u32 rt_mb_magic;
struct multiboot_info *rt_mb_info;
int rt_pv;
static char outbuf[256];
static u32 outlen;

/* #UD while probing: no CPUID instruction (a plain i486); step over it, the registers stay zero. */
static void cpuid_missing(struct frame *f) { f->eip += 2; }

int pv_detect(u32 *max)
{
	/* CPUID is tried directly (not through EFLAGS.ID, which an i486 model may keep fixed) with a #UD
	 * handler in place; needs the IDT, so rt_init loads it first. */
	rt_handler saved = rt_get_handler(6);
	rt_set_handler(6, cpuid_missing);
	u32 a = 0, b = 0, c = 0, d = 0;
	cpuid(PV_CPUID_BASE, &a, &b, &c, &d);
	rt_set_handler(6, saved);
	if (max) *max = a;
	return b == 0x6a363878u && c == 0x38787469u && d == 0x74696a36u;   /* "x86j" "itx8" "6jit" */
}

static void uart_init(void)
{
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x80);
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);
	outb(COM1 + 2, 0xC7);
	outb(COM1 + 4, 0x03);
}

void rt_flush(void)
{
	if (outlen) vmcall(HC_CONSOLE_WRITE, (u32)outbuf, outlen);
	outlen = 0;
}

void rt_putc(char c)
{
	if (rt_pv) {
		outbuf[outlen++] = c;
		if (c == '\n' || outlen == sizeof(outbuf)) rt_flush();
		return;
	}
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (u8)c);
}

void rt_exit(u32 status)
{
	if (rt_pv) {
		rt_flush();
		vmcall(HC_EXIT, status, 0);
		/* EXIT must not return: halt so the failure is visible (the run ends with 'halt'). */
		for (;;) __asm__ volatile("cli; hlt");
	}
	outb(DEBUG_EXIT_PORT, (u8)status);
	for (;;) __asm__ volatile("cli; hlt");
}

#ifdef PV_EMULATE
/* ./build.sh --pv-check only, never in the committed ROMs: QEMU raises #UD for VMCALL; this handler
 * plays the hypervisor by the ABI in pv.h (console on COM1, EXIT through port 0xF4, TIME a counter)
 * so that the hand-written expected output of hypercall.elf and console-pv.elf can be checked. */
static void emu_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (u8)c);
}

static void emu_vmcall(struct frame *f)
{
	static u32 now;
	const u8 *p = (const u8 *)f->eip;
	if (p[0] != 0x0f || p[1] != 0x01 || p[2] != 0xc1) {
		rt_pv = 0;
		rt_printf("FAIL #UD that is not a VMCALL\n");
		rt_exit(0x7e);
	}
	f->eip += 3;
	if (f->cs & 3) { f->eax = PV_EPERM; return; }
	u32 ram = (rt_mb_info->mem_upper + 1024) * 1024;
	switch (f->eax) {
	case HC_FEATURES: f->eax = PV_FEAT_CONSOLE | PV_FEAT_EXIT | PV_FEAT_TIME | PV_FEAT_YIELD; break;
	case HC_CONSOLE_WRITE:
		if (f->ebx >= ram || f->ecx > ram - f->ebx) { f->eax = PV_EFAULT; break; }
		for (u32 i = 0; i < f->ecx; i++) emu_putc(((const char *)f->ebx)[i]);
		f->eax = f->ecx;
		break;
	case HC_EXIT: outb(DEBUG_EXIT_PORT, (u8)f->ebx); for (;;) __asm__ volatile("cli; hlt");
	case HC_TIME: now += 1000; f->eax = now; f->edx = 0; break;
	case HC_YIELD: f->eax = 0; break;
	default: f->eax = PV_ENOSYS; break;
	}
}
#endif

void rt_init(void)
{
	rt_idt_init();
	rt_pv = pv_detect(0);
#ifdef PV_EMULATE
	uart_init();
	rt_set_handler(6, emu_vmcall);
#endif
	if (!rt_pv) uart_init();
}
