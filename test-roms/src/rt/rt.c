/* Bare-metal half of the runtime: 16550 UART on COM1, debug-exit, GDT slots, IDT and exception dispatch. */
#include "rt.h"

#define COM1 0x3F8
#define UART_THR 0     /* transmit holding register (DLAB=0) */
#define UART_DLL 0     /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THRE 0x20  /* THR empty: may write the next byte */
#define DEBUG_EXIT_PORT 0xF4

u32 rt_mb_magic;
struct multiboot_info *rt_mb_info;
extern u32 rt_gdt[];
static u32 idt[256 * 2];
static rt_handler handlers[256];

static void uart_init(void)
{
	outb(COM1 + UART_IER, 0x00);   /* no interrupts: we poll */
	outb(COM1 + UART_LCR, 0x80);   /* DLAB=1 to reach the divisor */
	outb(COM1 + UART_DLL, 0x01);   /* 115200 baud */
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03);   /* 8 data bits, no parity, 1 stop bit, DLAB=0 */
	outb(COM1 + UART_FCR, 0xC7);   /* enable and clear FIFOs, 14-byte threshold */
	outb(COM1 + UART_MCR, 0x03);   /* DTR, RTS */
}

void rt_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		;
	outb(COM1 + UART_THR, (u8)c);
}

void rt_exit(u32 status)
{
	outb(DEBUG_EXIT_PORT, (u8)status);
	for (;;) __asm__ volatile("cli; hlt");
}

void gdt_set(int index, u32 base, u32 limit, u8 access, u8 flags4)
{
	rt_gdt[index * 2] = (limit & 0xffff) | (base << 16);
	rt_gdt[index * 2 + 1] = ((base >> 16) & 0xff) | ((u32)access << 8) | (limit & 0xf0000) |
				((u32)(flags4 & 0xf) << 20) | (base & 0xff000000);
}

void idt_set_gate(int vector, u16 selector, u32 offset, u8 type, u8 dpl)
{
	idt[vector * 2] = (offset & 0xffff) | ((u32)selector << 16);
	idt[vector * 2 + 1] = (offset & 0xffff0000) | 0x8000 | ((u32)(dpl & 3) << 13) | ((u32)(type & 0xf) << 8);
}

void idt_set_present(int vector, int present)
{
	if (present) idt[vector * 2 + 1] |= 0x8000;
	else idt[vector * 2 + 1] &= ~0x8000u;
}

void rt_set_handler(int vector, rt_handler h) { handlers[vector] = h; }

void rt_exception(struct frame *f)
{
	rt_handler h = handlers[f->vector & 0xff];
	if (h) {
		h(f);
		return;
	}
	rt_printf("FAIL unexpected exception vector %u error 0x%x eip 0x%x\n", f->vector, f->error, f->eip);
	rt_failed++;
	rt_finish("unexpected-exception");
}

void rt_init(void)
{
	uart_init();
	for (int v = 0; v < 256; v++)
		idt_set_gate(v, SEL_CODE32, rt_isr_stubs[v], 0xE, 0);
	struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}
