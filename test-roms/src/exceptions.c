/* exceptions: the runtime's own GDT and IDT (rt/boot.S, rt/rt.c) plus extra descriptors; triggers each
 * exception and checks vector, error code, saved CS:EIP (faults: the faulting instruction; traps: the
 * next one), then resumes: #DE #BP #OF #BR #UD #NP #SS #GP, INT n through DPL3/DPL0 interrupt and trap
 * gates from ring 0, INT n to a not-present gate (#NP with the IDT bit in the error code).
 * Not covered: segment-limit and null-segment violations on data accesses (#GP(0) / #SS(0)) — QEMU's
 * TCG does not enforce segment limits, so QEMU cannot serve as the oracle for them. */
#include "rt.h"

#define SEL_LIMITED   0x18   /* data, base 0, limit 0xfff (byte granular) */
#define SEL_NOTPRES   0x20   /* data, present bit clear */
#define SEL_EXECONLY  0x30   /* code, execute-only */
#define SEL_READONLY  0x38   /* data, read-only (not usable as a stack) */

volatile u32 g_resume, g_at, g_count, g_vector, g_error, g_eip, g_cs, g_eflags;

static void recorder(struct frame *f)
{
	g_count++;
	g_vector = f->vector;
	g_error = f->error;
	g_eip = f->eip;
	g_cs = f->cs & 0xffff;
	g_eflags = f->eflags;
	if (f->vector == 0x80) f->eax = 0x5ca11ed;   /* a "system call" returning a value */
	f->eip = g_resume;
}

static void reset(void) { g_count = 0; g_vector = g_error = g_eip = g_cs = 0xdead; }

/* Runs `insn` at label 0 with resume at label 1 (after it). */
#define RUN(setup, insn, restore)                                                             \
	__asm__ volatile(setup "\n\tmovl $1f, g_resume\n\tmovl $0f, g_at\n0:\t" insn "\n1:\t" restore \
			 : : : "eax", "ecx", "edx", "memory", "cc")

/* expected: vector, error code; trap = saved EIP is the next instruction */
static void expect(const char *name, u32 vector, u32 error, int trap)
{
	CHECK(g_count, 1, "%s: exactly one exception", name);
	CHECK(g_vector, vector, "%s: vector", name);
	CHECK(g_error, error, "%s: error code", name);
	CHECK(g_eip, trap ? g_resume : g_at, "%s: saved EIP is the %s instruction", name, trap ? "next" : "faulting");
	CHECK(g_cs, SEL_CODE32, "%s: saved CS", name);
}

s32 bounds[2] = { -10, 20 };   /* referenced by name from asm */

void test_main(void)
{
	gdt_set(SEL_LIMITED >> 3, 0, 0xfff, 0x92, 0x4);
	gdt_set(SEL_NOTPRES >> 3, 0, 0xfffff, 0x12, 0xc);
	gdt_set(SEL_EXECONLY >> 3, 0, 0xfffff, 0x98, 0xc);
	gdt_set(SEL_READONLY >> 3, 0, 0xfffff, 0x90, 0xc);
	__asm__ volatile("lldt %w0" : : "r"(0));   /* no LDT: LDT selectors must fault */
	static const int vectors[] = { 0, 3, 4, 5, 6, 11, 12, 13, 0x80, 0x41, 0x42 };
	for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) rt_set_handler(vectors[i], recorder);
	idt_set_gate(0x80, SEL_CODE32, rt_isr_stubs[0x80], 0xE, 3);   /* DPL3 interrupt gate */
	idt_set_gate(0x41, SEL_CODE32, rt_isr_stubs[0x41], 0xF, 0);   /* DPL0 trap gate */
	idt_set_present(0x81, 0);                                        /* not-present gate */

	reset();
	RUN("movl $7, %%eax\n\txorl %%edx, %%edx\n\txorl %%ecx, %%ecx", "divl %%ecx", "");
	expect("#DE div by zero", 0, 0, 0);

	reset();
	RUN("", "int3", "");
	expect("#BP int3", 3, 0, 1);
	reset();
	RUN("", "int $3", "");
	expect("#BP int $3 (CD 03)", 3, 0, 1);

	reset();
	RUN("pushl $0x802\n\tpopfl", "into", "");
	expect("#OF into with OF=1", 4, 0, 1);
	reset();
	RUN("pushl $0x2\n\tpopfl", "into", "");
	CHECK(g_count, 0, "into with OF=0: no exception");

	reset();
	RUN("movl $21, %%eax", "boundl %%eax, bounds", "");
	expect("#BR bound above upper", 5, 0, 0);
	reset();
	RUN("movl $-11, %%eax", "boundl %%eax, bounds", "");
	expect("#BR bound below lower", 5, 0, 0);
	reset();
	RUN("movl $20, %%eax", "boundl %%eax, bounds", "");
	CHECK(g_count, 0, "bound within range (upper inclusive): no exception");

	reset();
	RUN("", "ud2", "");
	expect("#UD ud2", 6, 0, 0);
	reset();
	RUN("", ".byte 0xfe, 0xf8", "");   /* FE /7: undefined group-4 encoding */
	expect("#UD FE /7", 6, 0, 0);
	reset();
	RUN("", ".byte 0xf0, 0x01, 0xc0", "");   /* LOCK ADD EAX,EAX: LOCK with a register destination */
	expect("#UD lock add reg,reg", 6, 0, 0);

	reset();
	RUN("movw $0x100, %%ax", "movw %%ax, %%ds", "movw $0x10, %%ax\n\tmovw %%ax, %%ds");
	expect("#GP mov ds, selector beyond GDT limit", 13, 0x100, 0);
	reset();
	RUN("movw $0x0c, %%ax", "movw %%ax, %%es", "movw $0x10, %%ax\n\tmovw %%ax, %%es");
	expect("#GP mov es, LDT selector without an LDT", 13, 0x0c, 0);
	reset();
	RUN("movw $0x30, %%ax", "movw %%ax, %%fs", "movw $0x10, %%ax\n\tmovw %%ax, %%fs");
	expect("#GP mov fs, execute-only code segment", 13, 0x30, 0);
	reset();
	RUN("", "ljmp $0x10, $1f", "");
	expect("#GP far jmp to a data segment", 13, 0x10, 0);
	reset();
	RUN("movw $0x13, %%ax", "movw %%ax, %%ds", "movw $0x10, %%ax\n\tmovw %%ax, %%ds");
	expect("#GP mov ds, RPL3 selector to a DPL0 segment (error code drops RPL)", 13, 0x10, 0);
	reset();
	RUN("xorl %%eax, %%eax", "movw %%ax, %%ss", "movw $0x10, %%ax\n\tmovw %%ax, %%ss");
	expect("#GP mov ss, null selector", 13, 0, 0);
	reset();
	RUN("movw $0x38, %%ax", "movw %%ax, %%ss", "movw $0x10, %%ax\n\tmovw %%ax, %%ss");
	expect("#GP mov ss, read-only data segment", 13, 0x38, 0);
	reset();
	RUN("movw $0x18, %%ax\n\tmovw %%ax, %%es", "movl %%es:0xffc, %%eax", "movw $0x10, %%ax\n\tmovw %%ax, %%es");
	CHECK(g_count, 0, "dword read at the last dword of a limited ES: no exception");
	reset();
	RUN("movw $0x20, %%ax", "movw %%ax, %%ds", "movw $0x10, %%ax\n\tmovw %%ax, %%ds");
	expect("#NP mov ds, not-present segment", 11, 0x20, 0);
	reset();
	RUN("", "int $0x81", "");
	expect("#NP int to a not-present gate (error = vector*8+2)", 11, 0x81 * 8 + 2, 0);

	reset();
	RUN("movw $0x20, %%ax", "movw %%ax, %%ss", "movw $0x10, %%ax\n\tmovw %%ax, %%ss");
	expect("#SS mov ss, not-present segment", 12, 0x20, 0);

	reset();
	u32 ret;
	__asm__ volatile("movl $1f, g_resume\n\tmovl $0f, g_at\n\txorl %%eax, %%eax\n0:\tint $0x80\n1:"
			 : "=a"(ret) : : "ecx", "edx", "memory", "cc");
	expect("int $0x80 through a DPL3 gate from ring 0", 0x80, 0, 1);
	CHECK(ret, 0x5ca11ed, "int $0x80 handler result in EAX");
	reset();
	RUN("", "int $0x41", "");
	expect("int $0x41 through a DPL0 trap gate", 0x41, 0, 1);
	CHECK(g_eflags & 0x2, 0x2, "saved EFLAGS bit 1");
	reset();
	RUN("", "int $0x42", "");
	expect("int $0x42 through a DPL0 interrupt gate", 0x42, 0, 1);

	rt_finish("exceptions");
}
