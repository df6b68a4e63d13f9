/* kbd-echo: prints every byte the 8042 delivers from the keyboard (polled, translation to set 1 on, no
 * IRQ), one line per key released, until Enter is released. tests/cli-keyboard.test.ts types every
 * printable ASCII character, Tab, Backspace, Escape and Ctrl-C, then Enter, through `x86jit run --stdin
 * keyboard`; test-roms/expected/kbd-echo.txt was recorded from QEMU 7.2 with the same keys sent by its
 * monitor (`sendkey a`, `sendkey shift-b`, …: test-roms/kbd-echo-keys.txt lists them). It waits for input,
 * so it lives in test-roms/interactive/, away from the suites that run every ROM by itself. */
#include "rt.h"

#define KBD_DATA 0x60
#define KBD_STATUS 0x64
#define STATUS_OBF 0x01
#define ENTER_BREAK 0x9c
#define SPIN_LIMIT 2000000000u

void test_main(void)
{
	while (inb(KBD_STATUS) & STATUS_OBF) inb(KBD_DATA);   /* whatever the BIOS left */
	outb(KBD_STATUS, 0x60);                              /* write the command byte: */
	outb(KBD_DATA, 0x44);                                /* translate, system flag, no IRQs, both ports on */
	u32 bytes = 0;
	for (;;) {
		u32 spins = 0;
		while (!(inb(KBD_STATUS) & STATUS_OBF)) if (++spins == SPIN_LIMIT) { rt_printf("\ntimeout\n"); rt_exit(1); }
		u8 b = inb(KBD_DATA);
		rt_printf("%02x%s", b, b & 0x80 ? "\n" : " ");
		if (b == ENTER_BREAK || ++bytes == 4096) break;
	}
	CHECK(bytes < 4096, 1, "Enter released within 4096 bytes");
	rt_finish("kbd-echo");
}
