/* Descriptor tables and exception dispatch, shared by both runtimes (rt.c talks to the UART, rt-pv.c to
 * x86jit's hypercalls): GDT slots, the IDT with one stub per vector, and per-vector C handlers. */
#include "rt.h"

extern u32 rt_gdt[];
static u32 idt[256 * 2];
static rt_handler handlers[256];

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

rt_handler rt_get_handler(int vector) { return handlers[vector]; }

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

/* Every vector to its assembly stub (interrupt gates, DPL 0), then LIDT. */
void rt_idt_init(void)
{
	for (int v = 0; v < 256; v++)
		idt_set_gate(v, SEL_CODE32, rt_isr_stubs[v], 0xE, 0);
	struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}
