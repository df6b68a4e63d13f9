/* Ring-3 excursions: see ring3.h. */
#include "ring3.h"

struct tss ring3_tss;
u32 ring3_saved_esp;
static u8 ring0_stack[8192] __attribute__((aligned(16)));

/* ring3_call(entry, user_esp): save callee-saved registers and ESP, IRET to ring 3.
 * ring3_return: the INT 0x81 gate target (DPL3 interrupt gate); drops the ring-3 frame by reloading
 * the saved ESP, so it also serves handlers that give up on the ring-3 code. */
__asm__(".text\n"
	".globl ring3_call\n"
	"ring3_call:\n\t"
	"pushl %ebp\n\tpushl %ebx\n\tpushl %esi\n\tpushl %edi\n\t"
	"movl %esp, ring3_saved_esp\n\t"
	"movl 20(%esp), %eax\n\t"
	"movl 24(%esp), %ecx\n\t"
	"pushl $0x23\n\tpushl %ecx\n\tpushl $0x2\n\tpushl $0x1b\n\tpushl %eax\n\t"
	"movw $0x23, %dx\n\tmovw %dx, %ds\n\tmovw %dx, %es\n\tmovw %dx, %fs\n\tmovw %dx, %gs\n\t"
	"xorl %ebx, %ebx\n\txorl %ecx, %ecx\n\txorl %edx, %edx\n\txorl %esi, %esi\n\txorl %edi, %edi\n\t"
	"xorl %ebp, %ebp\n\t"
	"iretl\n"
	".globl ring3_return\n"
	"ring3_return:\n\t"
	"movw $0x10, %dx\n\tmovw %dx, %ds\n\tmovw %dx, %es\n\tmovw %dx, %fs\n\tmovw %dx, %gs\n\t"
	"movl ring3_saved_esp, %esp\n\t"
	"popl %edi\n\tpopl %esi\n\tpopl %ebx\n\tpopl %ebp\n\t"
	"ret\n");

static void load_tss(u32 limit)
{
	gdt_set(SEL_TSS >> 3, (u32)&ring3_tss, limit, 0x89, 0x0);   /* available 32-bit TSS (not busy) */
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS) : "memory");
}

void ring3_init(void)
{
	gdt_set(SEL_UCODE >> 3, 0, 0xfffff, 0xfa, 0xc);
	gdt_set(SEL_UDATA >> 3, 0, 0xfffff, 0xf2, 0xc);
	ring3_tss.ss0 = SEL_DATA32;
	ring3_tss.esp0 = (u32)(ring0_stack + sizeof(ring0_stack));
	ring3_set_iomap(0, 0);
	idt_set_gate(RING3_RETURN_VECTOR, SEL_CODE32, (u32)ring3_return, 0xE, 3);
}

void ring3_set_iomap(int enable, u16 port)
{
	if (!enable) {
		ring3_tss.iomap_base = 104;   /* == limit + 1: no bitmap */
		load_tss(103);
		return;
	}
	ring3_tss.iomap_base = (u16)((u32)ring3_tss.iomap - (u32)&ring3_tss);
	memset(ring3_tss.iomap, 0xff, sizeof(ring3_tss.iomap));
	ring3_tss.iomap[port >> 3] &= (u8)~(1u << (port & 7));
	load_tss(sizeof(ring3_tss) - 1);
}
