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

void rt_init(void)
{
	uart_init();
	rt_idt_init();
}
