/* hello: the smallest ROM — serial output, the Multiboot hand-off (EAX magic, info structure), exit. */
#include "rt.h"

void test_main(void)
{
	rt_puts("Hello from x86jit test ROM\n");
	CHECK(rt_mb_magic, 0x2BADB002, "multiboot magic in EAX");
	CHECK(rt_mb_info->flags & 1, 1, "multiboot info flags bit 0 (mem_lower/mem_upper valid)");
	CHECK(rt_mb_info->mem_upper > 0, 1, "multiboot mem_upper > 0");
	rt_finish("hello");
}
