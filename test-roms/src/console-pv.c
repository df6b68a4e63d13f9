/* console-pv: the same 1 MiB as console-uart.elf (console-pattern.h), through the CONSOLE_WRITE
 * hypercall in 4 KiB buffers, then EXIT 0. Output must be byte-identical to console-uart.elf's
 * (expected/console-uart.sha256). Without the x86jit hypervisor (QEMU) it prints one FAIL line on COM1
 * and exits 1. */
#include "rt.h"
#include "pv.h"
#include "console-pattern.h"

static char buf[4096];

void test_main(void)
{
	if (!rt_pv) {
		CHECK(0, 1, "x86jit hypervisor present");
		rt_finish("console");
	}
	u32 written = 0;
	for (u32 i = 0; i < CONSOLE_LINES; i++) {
		console_line(i, buf + (i * CONSOLE_LINE_LEN) % sizeof(buf));
		if ((i + 1) * CONSOLE_LINE_LEN % sizeof(buf) == 0) {
			u32 n = vmcall(HC_CONSOLE_WRITE, (u32)buf, sizeof(buf));
			if (n == sizeof(buf)) written += n;
		}
	}
	CHECK(written, CONSOLE_TOTAL, "1048576 bytes written");
	rt_finish("console");   /* ends with the EXIT hypercall, status 0 */
}
