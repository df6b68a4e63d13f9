/* exceptions-pm: protected-mode exceptions from ring 0 and ring 3, each handler recording vector,
 * error code and the saved CS:EIP (and SS:ESP when coming from ring 3) before resuming.
 *   #DE #UD from ring 3; #DB single-step (TF) in ring 0 and ring 3: saved EIP = the next instruction,
 *   DR6.BS; #BP: INT3 from ring 3 through a DPL3 gate, and through a DPL0 gate -> #GP((3<<3)|2);
 *   #OF: INTO from ring 3 (DPL3 gate) and through a DPL0 gate -> #GP(4*8+2); #NM: x87 with CR0.EM=1,
 *   x87 with CR0.TS=1, WAIT with CR0.MP=TS=1; #DF: #GP whose gate is not present (#NP while delivering
 *   #GP: contributory + contributory) -> #DF(0) through a normal interrupt gate, while a benign #BP
 *   with a not-present gate just gives #NP; #TS: IRET with EFLAGS.NT=1 and a TSS back link that is not
 *   a TSS, and INT from ring 3 to a ring-1 handler whose TSS SS1 has the wrong RPL (then, with a valid
 *   SS1, the ring-1 handler runs); #NP: not-present gate and not-present segment from ring 3; #SS:
 *   not-present SS load (ring 0); #GP: CLI, HLT, MOV from CR0 in ring 3, IN/OUT with
 *   IOPL 0 and no I/O bitmap, then an I/O bitmap allowing port 0x80 only (0x80 works, 0x81 and a word
 *   access to 0x80-0x81 fault), INT n to a DPL0 gate from ring 3 -> #GP(n*8+2); #PF: a ring-3 read
 *   of a not-present page (error 4, CR2).
 * The stack-switch faults use a ring-1 gate so the exception itself is delivered through ring 0's
 * valid SS0 (a bad SS0 would fault again while delivering the fault: #DF, then triple fault).
 * Not checked: the CS:EIP saved by #DF (SDM: undefined); #SS for a not-present SS1 in the stack switch
 * (SDM: #SS(SS1); QEMU 7.2 raises #TS(SS1), so QEMU cannot be the oracle). */
#include "rt.h"
#include "ring3.h"

#define SEL_NP_DATA3  0x33   /* slot 6: DPL3 data, not present (RPL 3) */
#define SEL_RING1_CODE 0x39  /* slot 7: DPL1 code (RPL 1) */
#define SEL_NP_DATA0  0x48   /* slot 9: DPL0 data, not present */
#define SEL_DATA1     0x51   /* slot 10: DPL1 data, present (RPL 1) */
#define CR0_MP 0x2u
#define CR0_EM 0x4u
#define CR0_TS 0x8u
#define CR0_PG 0x80000000u
#define FL_NT 0x4000u

volatile u32 g_count, g_vector, g_error, g_eip, g_cs, g_esp, g_ss, g_cr2, g_dr6, g_resume, g_at, g_next;

static void recorder(struct frame *f)
{
	u32 cr2, dr6;
	__asm__ volatile("movl %%cr2, %0" : "=r"(cr2));
	__asm__ volatile("movl %%dr6, %0" : "=r"(dr6));
	g_count++;
	g_vector = f->vector;
	g_error = f->error;
	g_eip = f->eip;
	g_cs = f->cs & 0xffff;
	g_cr2 = cr2;
	g_dr6 = dr6;
	if ((f->cs & 3) == 3) {   /* the CPU pushed the ring-3 SS:ESP above EFLAGS */
		g_esp = (&f->eflags)[1];
		g_ss = (&f->eflags)[2] & 0xffff;
	}
	if (!g_resume) {
		rt_printf("FAIL unexpected exception vector %u error 0x%x\n", f->vector, f->error);
		rt_failed++;
		rt_finish("exceptions-pm");
	}
	f->eip = g_resume;
	g_resume = 0;
	f->eflags &= ~(FL_TF | FL_NT);   /* stop single-stepping; the NT test must not leave NT set */
}

static void reset(void)
{
	g_count = 0;
	g_vector = g_error = g_eip = g_cs = g_esp = g_ss = g_cr2 = 0xdead;
	__asm__ volatile("movl %0, %%dr6" : : "r"(0u));
}

/* Ring 0: `insn` at label 0, resume at label 1. */
#define RUN0(setup, insn, restore)                                                            \
	__asm__ volatile("movl $1f, g_resume\n\tmovl $1f, g_next\n\tmovl $0f, g_at\n\t" setup "\n0:\t" insn "\n1:\t" restore \
			 "\n\tmovl $0, g_resume"                                                      \
			 : : : "eax", "ecx", "edx", "memory", "cc")

/* Ring 3 snippets in .user.text: name: setup; name_at: insn; name_done: int $0x81 */
#define USER_SNIPPET(name, setup, insn)                                                     \
	__asm__(".section .user.text, \"ax\"\n" #name ":\n\t" setup "\n" #name "_at:\n\t" insn \
		"\n" #name "_done:\n\tint $0x81\n.previous\n");                                \
	void name(void), name##_at(void), name##_done(void)

USER_SNIPPET(u_de, "xorl %ecx, %ecx\n\tmovl $1, %eax\n\txorl %edx, %edx", "divl %ecx");
USER_SNIPPET(u_ud, "", "ud2");
USER_SNIPPET(u_int3, "", "int3");
USER_SNIPPET(u_into, "movl $0x7fffffff, %eax\n\taddl $1, %eax", "into");
USER_SNIPPET(u_tf, "pushfl\n\torl $0x100, (%esp)\n\tpopfl", "nop");
USER_SNIPPET(u_cli, "", "cli");
USER_SNIPPET(u_hlt, "", "hlt");
USER_SNIPPET(u_movcr0, "", "movl %cr0, %eax");
USER_SNIPPET(u_inb80, "", "inb $0x80, %al");
USER_SNIPPET(u_outb80, "movb $0x55, %al", "outb %al, $0x80");
USER_SNIPPET(u_inb81, "", "inb $0x81, %al");
USER_SNIPPET(u_inw80, "", "inw $0x80, %ax");
USER_SNIPPET(u_int40, "", "int $0x40");
USER_SNIPPET(u_int85, "", "int $0x85");
USER_SNIPPET(u_ds_np, "movw $0x33, %ax", "movw %ax, %ds");
USER_SNIPPET(u_int90, "", "int $0x90");
USER_SNIPPET(u_pf, "", "movl 0x00400010, %eax");

static u8 ustack[2048] __attribute__((section(".user.data"), aligned(16)));
static u8 ring1_stack[1024] __attribute__((aligned(16)));

/* Ring-1 interrupt handler (gate 0x90 once SS1 is valid): notes that it runs with CPL 1 on SS1. */
volatile u32 ring1_entered;
void ring1_handler(void);
__asm__(".text\n"
	"ring1_handler:\n\t"
	"xorl %eax, %eax\n\tmovw %cs, %ax\n\tandl $3, %eax\n\tcmpl $1, %eax\n\tjne 1f\n\t"
	"movw %ss, %ax\n\tcmpl $0x51, %eax\n\tjne 1f\n\t"
	"movl $1, ring1_entered\n"
	"1:\tiretl\n");
#define USTACK_TOP ((u32)(ustack + sizeof(ustack)))
static u32 pd[1024] __attribute__((aligned(4096)));

static void run3(void (*entry)(void), void (*at)(void), void (*done)(void))
{
	g_at = (u32)at;
	g_resume = g_next = (u32)done;
	ring3_call(entry, USTACK_TOP);
	g_resume = 0;
}

/* One exception with this vector and error code; saved EIP = the instruction (fault) or the next
 * one (trap). */
static void expect(const char *name, u32 vector, u32 error, int trap, u32 cs)
{
	CHECK(g_count, 1, "%s: exactly one exception", name);
	CHECK(g_vector, vector, "%s: vector", name);
	CHECK(g_error, error, "%s: error code", name);
	CHECK(g_eip, trap ? g_next : g_at, "%s: saved EIP is the %s instruction", name,
	      trap ? "next" : "faulting");
	CHECK(g_cs, cs, "%s: saved CS", name);
	if ((cs & 3) == 3) {
		CHECK(g_ss, SEL_UDATA, "%s: saved SS", name);
		CHECK(g_esp, USTACK_TOP, "%s: saved ESP", name);
	}
}

void test_main(void)
{
	static const int vectors[] = { 0, 1, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14 };
	for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) rt_set_handler(vectors[i], recorder);
	ring3_init();
	gdt_set(SEL_NP_DATA3 >> 3, 0, 0xfffff, 0x72, 0xc);   /* P=0 DPL3 data */
	gdt_set(SEL_RING1_CODE >> 3, 0, 0xfffff, 0xba, 0xc); /* DPL1 code */
	gdt_set(SEL_NP_DATA0 >> 3, 0, 0xfffff, 0x12, 0xc);   /* P=0 DPL0 data */
	gdt_set(SEL_DATA1 >> 3, 0, 0xfffff, 0xb2, 0xc);      /* DPL1 data */
	idt_set_gate(0x85, SEL_CODE32, rt_isr_stubs[0x85], 0xE, 3);
	idt_set_present(0x85, 0);
	idt_set_gate(0x90, SEL_RING1_CODE, rt_isr_stubs[0x90], 0xE, 3);   /* never entered */

	/* #DE, #UD from ring 3 */
	reset(); run3(u_de, u_de_at, u_de_done);
	expect("#DE ring 3 div by zero", 0, 0, 0, SEL_UCODE);
	reset(); run3(u_ud, u_ud_at, u_ud_done);
	expect("#UD ring 3 ud2", 6, 0, 0, SEL_UCODE);

	/* #DB single step */
	reset();
	RUN0("pushfl\n\torl $0x100, (%%esp)\n\tpopfl", "nop", "");
	expect("#DB single-step ring 0 (after the instruction following POPF)", 1, 0, 1, SEL_CODE32);
	CHECK(g_dr6 & 0x4000, 0x4000, "#DB single-step ring 0: DR6.BS");
	reset(); run3(u_tf, u_tf_at, u_tf_done);
	expect("#DB single-step ring 3", 1, 0, 1, SEL_UCODE);
	CHECK(g_dr6 & 0x4000, 0x4000, "#DB single-step ring 3: DR6.BS");

	/* #BP and #OF from ring 3: DPL0 gates refuse (error = vector*8+2), DPL3 gates deliver */
	reset(); run3(u_int3, u_int3_at, u_int3_done);
	expect("INT3 from ring 3 through a DPL0 gate: #GP", 13, (3 << 3) | 2, 0, SEL_UCODE);
	idt_set_gate(3, SEL_CODE32, rt_isr_stubs[3], 0xE, 3);
	reset(); run3(u_int3, u_int3_at, u_int3_done);
	expect("#BP INT3 from ring 3 through a DPL3 gate", 3, 0, 1, SEL_UCODE);
	reset(); run3(u_into, u_into_at, u_into_done);
	expect("INTO (OF=1) from ring 3 through a DPL0 gate: #GP", 13, (4 << 3) | 2, 0, SEL_UCODE);
	idt_set_gate(4, SEL_CODE32, rt_isr_stubs[4], 0xE, 3);
	reset(); run3(u_into, u_into_at, u_into_done);
	expect("#OF INTO (OF=1) from ring 3 through a DPL3 gate", 4, 0, 1, SEL_UCODE);

	/* #NM */
	u32 cr0;
	__asm__ volatile("movl %%cr0, %0" : "=r"(cr0));
	reset();
	RUN0("movl %%cr0, %%eax\n\torl $4, %%eax\n\tmovl %%eax, %%cr0", "fld1",
	     "movl %%cr0, %%eax\n\tandl $~4, %%eax\n\tmovl %%eax, %%cr0");
	expect("#NM x87 (FLD1) with CR0.EM=1", 7, 0, 0, SEL_CODE32);
	reset();
	RUN0("movl %%cr0, %%eax\n\torl $8, %%eax\n\tmovl %%eax, %%cr0", "fld1", "clts");
	expect("#NM x87 (FLD1) with CR0.TS=1", 7, 0, 0, SEL_CODE32);
	reset();
	RUN0("movl %%cr0, %%eax\n\torl $0xa, %%eax\n\tmovl %%eax, %%cr0", "fwait", "clts");
	expect("#NM WAIT with CR0.MP=1, TS=1", 7, 0, 0, SEL_CODE32);
	__asm__ volatile("movl %0, %%cr0" : : "r"(cr0));

	/* #DF: #GP raised while the #GP gate is not present -> #NP during delivery -> #DF(0) */
	idt_set_present(13, 0);
	reset();
	RUN0("movw $0x100, %%ax", "movw %%ax, %%ds", "movw $0x10, %%ax\n\tmovw %%ax, %%ds");
	CHECK(g_count, 1, "#DF: exactly one exception reaches a handler");
	CHECK(g_vector, 8, "#DF: #GP with a not-present gate becomes a double fault");
	CHECK(g_error, 0, "#DF: error code 0");
	idt_set_present(13, 1);
	idt_set_present(3, 0);
	reset();
	RUN0("", "int3", "");
	expect("INT3 with a not-present gate: #NP (benign, no #DF)", 11, (3 << 3) | 2, 0, SEL_CODE32);
	idt_set_present(3, 1);

	/* #TS */
	ring3_tss.link = SEL_DATA32;
	reset();
	RUN0("pushfl\n\torl $0x4000, (%%esp)\n\tpopfl", "iretl", "");
	expect("#TS IRET with NT=1, back link not a TSS", 10, SEL_DATA32, 0, SEL_CODE32);
	ring3_tss.link = 0;
	ring3_tss.esp1 = (u32)(ring1_stack + sizeof(ring1_stack));
	ring3_tss.ss1 = SEL_DATA32;   /* RPL 0 for a ring-1 stack */
	reset(); run3(u_int90, u_int90_at, u_int90_done);
	expect("#TS INT from ring 3 to a ring-1 gate, TSS SS1 with RPL 0", 10, SEL_DATA32, 0, SEL_UCODE);
	/* (A not-present SS1 would be #SS(SS1) per the SDM's INT pseudo-code; QEMU 7.2 raises #TS(SS1), so
	 * that case is not tested.) A valid SS1 (DPL1 data, RPL 1) passes the stack switch: */
	ring3_tss.ss1 = SEL_DATA1;
	idt_set_gate(0x90, SEL_RING1_CODE, (u32)ring1_handler, 0xE, 3);
	ring1_entered = 0;
	reset(); run3(u_int90, u_int90_at, u_int90_done);
	CHECK(g_count, 0, "INT from ring 3 to a ring-1 gate with a valid SS1: no exception");
	CHECK(ring1_entered, 1, "ring-1 handler entered with CS RPL 1 and SS = TSS SS1");

	/* #NP from ring 3 */
	reset(); run3(u_int85, u_int85_at, u_int85_done);
	expect("#NP INT 0x85 from ring 3, DPL3 gate not present", 11, 0x85 * 8 + 2, 0, SEL_UCODE);
	reset(); run3(u_ds_np, u_ds_np_at, u_ds_np_done);
	expect("#NP MOV DS from ring 3, DPL3 segment not present", 11, SEL_NP_DATA3 & ~3u, 0, SEL_UCODE);

	/* #SS from ring 0 */
	reset();
	RUN0("movw $0x48, %%ax", "movw %%ax, %%ss", "movw $0x10, %%ax\n\tmovw %%ax, %%ss");
	expect("#SS MOV SS, not-present segment (ring 0)", 12, SEL_NP_DATA0, 0, SEL_CODE32);

	/* #GP from ring 3 */
	reset(); run3(u_cli, u_cli_at, u_cli_done);
	expect("#GP CLI in ring 3 (IOPL 0)", 13, 0, 0, SEL_UCODE);
	reset(); run3(u_hlt, u_hlt_at, u_hlt_done);
	expect("#GP HLT in ring 3", 13, 0, 0, SEL_UCODE);
	reset(); run3(u_movcr0, u_movcr0_at, u_movcr0_done);
	expect("#GP MOV from CR0 in ring 3", 13, 0, 0, SEL_UCODE);
	reset(); run3(u_inb80, u_inb80_at, u_inb80_done);
	expect("#GP IN port 0x80, ring 3, no I/O bitmap", 13, 0, 0, SEL_UCODE);
	reset(); run3(u_outb80, u_outb80_at, u_outb80_done);
	expect("#GP OUT port 0x80, ring 3, no I/O bitmap", 13, 0, 0, SEL_UCODE);
	ring3_set_iomap(1, 0x80);
	reset(); run3(u_inb80, u_inb80_at, u_inb80_done);
	CHECK(g_count, 0, "IN port 0x80 allowed by the I/O bitmap: no exception");
	reset(); run3(u_outb80, u_outb80_at, u_outb80_done);
	CHECK(g_count, 0, "OUT port 0x80 allowed by the I/O bitmap: no exception");
	reset(); run3(u_inb81, u_inb81_at, u_inb81_done);
	expect("#GP IN port 0x81, next to the allowed port", 13, 0, 0, SEL_UCODE);
	reset(); run3(u_inw80, u_inw80_at, u_inw80_done);
	expect("#GP IN word from 0x80 (0x81 denied)", 13, 0, 0, SEL_UCODE);
	ring3_set_iomap(0, 0);
	reset(); run3(u_int40, u_int40_at, u_int40_done);
	expect("#GP INT 0x40 from ring 3 through a DPL0 gate", 13, 0x40 * 8 + 2, 0, SEL_UCODE);

	/* #PF: paging on with one 4 MiB identity page (U/S=1); the next 4 MiB are not present. */
	pd[0] = 0x00000000u | 0x80 | 0x7;
	__asm__ volatile("movl %%cr4, %%eax\n\torl $0x10, %%eax\n\tmovl %%eax, %%cr4\n\t"
			 "movl %0, %%cr3\n\tmovl %%cr0, %%eax\n\torl $0x80000000, %%eax\n\tmovl %%eax, %%cr0"
			 : : "r"(pd) : "eax", "memory");
	reset(); run3(u_pf, u_pf_at, u_pf_done);
	expect("#PF ring 3 read of a not-present page", 14, 4, 0, SEL_UCODE);
	CHECK(g_cr2, 0x00400010, "#PF CR2");
	__asm__ volatile("movl %%cr0, %%eax\n\tandl $0x7fffffff, %%eax\n\tmovl %%eax, %%cr0" : : : "eax", "memory");

	rt_finish("exceptions-pm");
}
