/* console-uart: 1 MiB of text (console-pattern.h) through the UART, one OUT per byte, polling the
 * line status register only once every 4 KiB (a cheap poll: QEMU's 16550 needs some pacing, x86jit's
 * THR is always empty). Output is byte-identical to console-pv.elf's; expected/console-uart.sha256
 * holds the SHA-256 of QEMU's output instead of the 1 MiB text. */
#include "rt.h"
#include "console-pattern.h"

#define COM1 0x3F8
#define UART_LSR 5
#define LSR_THRE 0x20

void test_main(void)
{
	char line[CONSOLE_LINE_LEN];
	u32 written = 0;
	for (u32 i = 0; i < CONSOLE_LINES; i++) {
		console_line(i, line);
		if ((written & 4095) == 0)
			while (!(inb(COM1 + UART_LSR) & LSR_THRE))
				;
		for (u32 k = 0; k < CONSOLE_LINE_LEN; k++) outb(COM1, (u8)line[k]);
		written += CONSOLE_LINE_LEN;
	}
	CHECK(written, CONSOLE_TOTAL, "1048576 bytes written");
	rt_finish("console");
}
