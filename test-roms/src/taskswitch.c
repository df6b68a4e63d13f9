/* taskswitch: hardware task switching (SDM Vol. 3A ch. 7), ring 0 only.
 *   JMP to a 32-bit TSS and JMP back (registers, EFLAGS, selectors and LDTR loaded from the TSS; the old
 *   state saved in the old TSS; busy bits per the SDM's Table 7-2; the back link untouched; CR0.TS set);
 *   CALL through a GDT task gate and IRET back through NT (back link, NT in the new task, NT cleared in
 *   the saved image, the busy bits), twice (the task resumes after its IRET); INT n through an IDT task
 *   gate; #DF through an IDT task gate (a #GP whose gate is not present: the error code 0 on the #DF
 *   task's stack); CALL to a 16-bit TSS (16-bit registers, FLAGS, IP, the 16-bit layout's back link);
 *   #GP(selector) for a JMP to a busy TSS and a CALL through a task gate to a busy TSS; #TS(selector)
 *   for a TSS whose limit is below 0x67 (nothing changes); #TS(selector) for a data segment beyond the
 *   GDT in the new task, raised in the new task's context (TR, CS are the new task's); a task with an
 *   LDT (LDTR loaded, a segment from it; main's null LDTR back); with paging on, a task with its own CR3
 *   (it sees its own mapping of a page main has in its TLB; main's CR3 comes back from its TSS; CR3 is
 *   not saved in the old TSS).
 * Not checked (QEMU 7.2 differs from the SDM): the EIP saved by a fault raised in the new task's context
 * (SDM: the new task's; QEMU: the switching instruction's), #SS for a not-present SS in the new task
 * (QEMU raises #NP), and the EIP saved by #DF (undefined).
 * Every task records what it saw at its first instruction (taskswitch-asm.S). */
#include "rt.h"

#define SEL_MAIN     0x28
#define SEL_A        0x30
#define SEL_B        0x38
#define SEL_GATE_B   0x40   /* task gate -> SEL_B */
#define SEL_DF       0x48
#define SEL_BADLIM   0x50   /* a TSS with limit 0x60 */
#define SEL_C        0x58
#define SEL_GATE_MAIN 0x60  /* task gate -> SEL_MAIN (busy while main runs) */
#define SEL_E        0x68
#define SEL_F16      0x70   /* 16-bit TSS */
#define SEL_F_CODE   0x78   /* code segment based at task_f */
#define SEL_F_STACK  0x80   /* 16-bit stack segment */
#define SEL_G        0x88
#define SEL_LDT      0x90   /* the LDT of task G */
#define SEL_H        0x98
#define SEL_BEYOND   0x1f8  /* beyond the GDT limit (32 entries) */
#define VEC_TASK_C   0x50
#define FL_NT        0x4000u
#define CR0_TS       0x8u

struct tss32 {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap_base;
} __attribute__((packed));

struct tss16 {
	u16 link, sp0, ss0, sp1, ss1, sp2, ss2, ip, flags;
	u16 ax, cx, dx, bx, sp, bp, si, di, es, cs, ss, ds, ldt;
} __attribute__((packed));

struct seen {
	u32 regs[8], eflags, cr0;
	u16 tr, cs, ss, ds, es, fs, gs, ldtr;
} __attribute__((packed));

struct seen seen_a, seen_b, seen_c, seen_df, seen_f, seen_g, seen_h;
u32 g_read, h_read;
u32 df_error, df_esp_after;
static struct tss32 tss_main, tss_a, tss_b, tss_df, tss_badlim, tss_c, tss_e, tss_g, tss_h __attribute__((aligned(16)));
static u32 ldt_g[2 * 2] __attribute__((aligned(8)));
#define PAGE_ALIGNED __attribute__((aligned(4096)))
static u32 pd_main[1024] PAGE_ALIGNED, pd_h[1024] PAGE_ALIGNED, pt_low[1024] PAGE_ALIGNED, pt_main_hi[1024] PAGE_ALIGNED,
	pt_h_hi[1024] PAGE_ALIGNED, page_x[1024] PAGE_ALIGNED, page_y[1024] PAGE_ALIGNED;
static struct tss16 tss_f __attribute__((aligned(16)));
static u8 stack_a[1024], stack_b[1024], stack_c[1024], stack_df[4096], stack_e[1024], stack_f[512], stack_g[512], stack_h[512] __attribute__((aligned(16)));
#define TOP(s) ((u32)(s) + sizeof(s))

void task_g(void), task_h(void);
void task_a(void), task_b(void), task_c(void), task_df(void), task_e(void), task_e_return(void), task_f(void), task_f_after_iret(void), task_f_end(void);
extern u32 rt_gdt[];

volatile u32 g_count, g_vector, g_error, g_eip, g_cs, g_tr, g_resume;

static u16 str(void) { u16 v; __asm__ volatile("str %0" : "=r"(v)); return v; }
static u32 cr0(void) { u32 v; __asm__ volatile("movl %%cr0, %0" : "=r"(v)); return v; }
static void clts(void) { __asm__ volatile("clts"); }
static u32 eflags(void) { u32 v; __asm__ volatile("pushfl\n\tpopl %0" : "=r"(v)); return v; }
/* The type field (bits 8-11 of the high dword) of GDT descriptor `sel`. */
static u32 gdt_type(u16 sel) { return (rt_gdt[(sel >> 3) * 2 + 1] >> 8) & 0xf; }

static void tss_gdt(u16 sel, void *tss, u32 limit, u8 type) { gdt_set(sel >> 3, (u32)tss, limit, 0x80 | type, 0x0); }
static void task_gate_gdt(u16 sel, u16 tss_sel)
{
	rt_gdt[(sel >> 3) * 2] = (u32)tss_sel << 16;
	rt_gdt[(sel >> 3) * 2 + 1] = 0x8500;   /* P, DPL 0, type 5 */
}

static void init_tss(struct tss32 *t, void (*entry)(void), u32 esp, u32 fl, u32 base_reg)
{
	memset(t, 0, sizeof(*t));
	t->link = 0x1234;   /* a JMP must leave it alone */
	t->eip = (u32)entry;
	t->esp = esp;
	t->eflags = fl;
	t->eax = base_reg + 0x0a; t->ecx = base_reg + 0x0c; t->edx = base_reg + 0x0d; t->ebx = base_reg + 0x0b;
	t->ebp = base_reg + 0xbb; t->esi = base_reg + 0x51; t->edi = base_reg + 0xd1;
	t->cs = 0x08; t->ss = t->ds = t->es = 0x10;
	t->fs = t->gs = 0;
	t->iomap_base = sizeof(*t);
}

static void far_jmp(u16 sel) { struct { u32 off; u16 sel; } __attribute__((packed)) p = { 0, sel }; __asm__ volatile("ljmp *%0" : : "m"(p) : "memory", "cc"); }
static void far_call(u16 sel) { struct { u32 off; u16 sel; } __attribute__((packed)) p = { 0, sel }; __asm__ volatile("lcall *%0" : : "m"(p) : "memory", "cc"); }

static void recorder(struct frame *f)
{
	g_count++;
	g_vector = f->vector;
	g_error = f->error;
	g_eip = f->eip;
	g_cs = f->cs & 0xffff;
	g_tr = str();
	if (!g_resume) {
		rt_printf("FAIL unexpected exception vector %u error 0x%x\n", f->vector, f->error);
		rt_failed++;
		rt_finish("taskswitch");
	}
	f->eip = g_resume;
	f->ds = f->es = 0x10;   /* a task whose data segment failed to load resumes with flat ones */
	g_resume = 0;
}

static void reset(void) { g_count = 0; g_vector = g_error = g_eip = g_cs = g_tr = 0xdead; }

/* The #DF task's work: the interrupted (main) task resumes at df_resume, and #GP's gate is back. */
volatile u32 df_resume, df_saved_link;
void df_fixup(void)
{
	df_saved_link = tss_df.link;
	tss_main.eip = df_resume;
	idt_set_present(13, 1);
}

static void show(const char *name, const struct seen *s)
{
	rt_printf("%s: TR=%04x LDTR=%04x CS=%04x SS=%04x DS=%04x ES=%04x FS=%04x GS=%04x EFLAGS=%08x CR0.TS=%u\n", name,
		  s->tr, s->ldtr, s->cs, s->ss, s->ds, s->es, s->fs, s->gs, s->eflags, (s->cr0 & CR0_TS) ? 1 : 0);
	rt_printf("%s: EAX=%08x ECX=%08x EDX=%08x EBX=%08x EBP=%08x ESI=%08x EDI=%08x\n", name,
		  s->regs[0], s->regs[1], s->regs[2], s->regs[3], s->regs[5], s->regs[6], s->regs[7]);
}

void test_main(void)
{
	rt_set_handler(10, recorder);
	rt_set_handler(13, recorder);

	/* The main task: its TSS receives the state of every switch away from it. */
	memset(&tss_main, 0, sizeof(tss_main));
	tss_main.iomap_base = sizeof(tss_main);
	tss_gdt(SEL_MAIN, &tss_main, sizeof(tss_main) - 1, 0x9);
	__asm__ volatile("ltr %w0" : : "r"(SEL_MAIN) : "memory");
	CHECK(gdt_type(SEL_MAIN), 0xb, "LTR marks the main TSS busy");

	/* ---- JMP to task A and JMP back ---- */
	init_tss(&tss_a, task_a, TOP(stack_a), 0x8d7, 0xa0000000);
	tss_gdt(SEL_A, &tss_a, sizeof(tss_a) - 1, 0x9);
	clts();
	far_jmp(SEL_A);
	show("task A (jmp)", &seen_a);
	CHECK(seen_a.tr, SEL_A, "jmp: TR in the new task");
	CHECK(seen_a.eflags, 0x8d7, "jmp: EFLAGS from the TSS, NT clear");
	CHECK(seen_a.regs[0], 0xa000000a, "jmp: EAX from the TSS");
	CHECK(seen_a.regs[7], 0xa00000d1, "jmp: EDI from the TSS");
	CHECK(seen_a.regs[4], TOP(stack_a), "jmp: ESP from the TSS");
	CHECK(seen_a.cr0 & CR0_TS, CR0_TS, "jmp: CR0.TS set by the switch");
	CHECK(seen_a.fs | seen_a.gs, 0, "jmp: null FS and GS loaded");
	CHECK(tss_a.link, 0x1234, "jmp: back link of the new TSS untouched");
	CHECK(tss_main.eip != 0 && tss_main.eflags != 0, 1, "jmp: main state saved in the main TSS");
	CHECK(tss_main.cs | (tss_main.ss << 16), 0x08 | (0x10 << 16), "jmp: main CS and SS saved");
	CHECK(gdt_type(SEL_A), 0x9, "jmp back: task A available again");
	CHECK(gdt_type(SEL_MAIN), 0xb, "jmp back: main busy again");
	CHECK(str(), SEL_MAIN, "jmp back: TR");
	CHECK(eflags() & FL_NT, 0, "jmp back: NT clear");
	CHECK(tss_a.eip > (u32)task_a, 1, "task A saved with EIP after its JMP");
	CHECK(cr0() & CR0_TS, CR0_TS, "jmp back: CR0.TS set");
	clts();

	/* ---- CALL through a task gate, IRET back through NT (twice) ---- */
	init_tss(&tss_b, task_b, TOP(stack_b), 0x2, 0xb0000000);
	tss_gdt(SEL_B, &tss_b, sizeof(tss_b) - 1, 0x9);
	task_gate_gdt(SEL_GATE_B, SEL_B);
	for (int round = 1; round <= 2; round++) {
		memset(&seen_b, 0, sizeof(seen_b));
		far_call(SEL_GATE_B);
		show(round == 1 ? "task B (call gate)" : "task B (call gate, again)", &seen_b);
		CHECK(seen_b.tr, SEL_B, "call %u: TR in the new task", round);
		CHECK(seen_b.eflags & FL_NT, FL_NT, "call %u: NT set in the new task", round);
		CHECK(tss_b.link, SEL_MAIN, "call %u: back link = the caller's TSS", round);
		CHECK(tss_b.eflags & FL_NT, 0, "call %u: IRET saved the task's EFLAGS with NT clear", round);
		CHECK(gdt_type(SEL_B), 0x9, "call %u: IRET made task B available", round);
		CHECK(gdt_type(SEL_MAIN), 0xb, "call %u: main stayed busy", round);
		CHECK(str(), SEL_MAIN, "call %u: TR back", round);
		CHECK(eflags() & FL_NT, 0, "call %u: NT clear in the caller", round);
		CHECK(seen_b.regs[4], TOP(stack_b), "call %u: ESP as saved", round);
	}
	CHECK(seen_b.regs[0], 0xb000000a, "call 2: task B resumed with its registers");
	clts();

	/* ---- a busy TSS: JMP to it, CALL through a gate to it ---- */
	reset();
	task_gate_gdt(SEL_GATE_MAIN, SEL_MAIN);
	__asm__ volatile("movl $1f, g_resume\n\tljmp $0x28, $0\n1:" : : : "memory");
	CHECK(g_vector, 13, "jmp to a busy TSS: #GP");
	CHECK(g_error, SEL_MAIN, "jmp to a busy TSS: error code = its selector");
	reset();
	__asm__ volatile("movl $1f, g_resume\n\tlcall $0x60, $0\n1:" : : : "memory");
	CHECK(g_vector, 13, "call through a gate to a busy TSS: #GP");
	CHECK(g_error, SEL_MAIN, "call through a gate to a busy TSS: error code = the TSS selector");
	CHECK(cr0() & CR0_TS, 0, "no switch: CR0.TS still clear");

	/* ---- a TSS limit below 0x67: #TS(selector), nothing changes ---- */
	init_tss(&tss_badlim, task_a, TOP(stack_a), 0x2, 0);
	tss_gdt(SEL_BADLIM, &tss_badlim, 0x60, 0x9);
	reset();
	__asm__ volatile("movl $1f, g_resume\n\tljmp $0x50, $0\n1:" : : : "memory");
	CHECK(g_vector, 10, "TSS limit 0x60: #TS");
	CHECK(g_error, SEL_BADLIM, "TSS limit 0x60: error code = its selector");
	CHECK(str(), SEL_MAIN, "TSS limit 0x60: TR unchanged");
	CHECK(gdt_type(SEL_BADLIM), 0x9, "TSS limit 0x60: not marked busy");
	CHECK(gdt_type(SEL_MAIN), 0xb, "TSS limit 0x60: main still busy");

	/* ---- INT n through an IDT task gate ---- */
	init_tss(&tss_c, task_c, TOP(stack_c), 0x2, 0xc0000000);
	tss_gdt(SEL_C, &tss_c, sizeof(tss_c) - 1, 0x9);
	idt_set_gate(VEC_TASK_C, SEL_C, 0, 0x5, 0);
	__asm__ volatile("int $0x50" : : : "memory", "cc");
	show("task C (int)", &seen_c);
	CHECK(seen_c.tr, SEL_C, "int: TR in the new task");
	CHECK(seen_c.eflags & FL_NT, FL_NT, "int: NT set");
	CHECK(seen_c.regs[4], TOP(stack_c), "int: no error code pushed");
	CHECK(tss_c.link, SEL_MAIN, "int: back link");
	CHECK(gdt_type(SEL_C), 0x9, "int: IRET made task C available");
	CHECK(str(), SEL_MAIN, "int: TR back");
	clts();

	/* ---- #DF through an IDT task gate: #GP while #GP's gate is not present ---- */
	init_tss(&tss_df, task_df, TOP(stack_df), 0x2, 0xdf000000);
	tss_gdt(SEL_DF, &tss_df, sizeof(tss_df) - 1, 0x9);
	idt_set_gate(8, SEL_DF, 0, 0x5, 0);
	idt_set_present(13, 0);
	__asm__ volatile("movl $1f, df_resume\n\tmovw $0x1f8, %%ax\n\tmovw %%ax, %%ds\n1:" : : : "eax", "memory");
	show("task DF", &seen_df);
	CHECK(seen_df.tr, SEL_DF, "#DF: TR in the double-fault task");
	CHECK(seen_df.eflags & FL_NT, FL_NT, "#DF: NT set");
	CHECK(df_error, 0, "#DF: error code 0 on the new task's stack");
	CHECK(seen_df.regs[4], TOP(stack_df) - 4, "#DF: one dword pushed");
	CHECK(df_esp_after, TOP(stack_df), "#DF: ESP after popping it");
	CHECK(df_saved_link, SEL_MAIN, "#DF: back link");
	CHECK(seen_df.cr0 & CR0_TS, CR0_TS, "#DF: CR0.TS set");
	CHECK(gdt_type(SEL_DF), 0x9, "#DF: IRET made the task available");
	CHECK(str(), SEL_MAIN, "#DF: TR back");
	clts();

	/* ---- CALL to a 16-bit TSS ---- */
	memset(&tss_f, 0, sizeof(tss_f));
	tss_f.ip = 0; tss_f.flags = 0x0893; tss_f.sp = sizeof(stack_f);
	tss_f.ax = 0xf00a; tss_f.cx = 0xf00c; tss_f.dx = 0xf00d; tss_f.bx = 0xf00b; tss_f.bp = 0xf0bb; tss_f.si = 0xf051; tss_f.di = 0xf0d1;
	tss_f.cs = SEL_F_CODE; tss_f.ss = SEL_F_STACK; tss_f.ds = tss_f.es = 0x10;
	tss_f.link = 0x1234;
	gdt_set(SEL_F_CODE >> 3, (u32)task_f, (u32)task_f_end - (u32)task_f - 1, 0x9a, 0x4);
	gdt_set(SEL_F_STACK >> 3, (u32)stack_f, 0xffff, 0x92, 0x0);
	tss_gdt(SEL_F16, &tss_f, sizeof(tss_f) - 1, 0x1);
	far_call(SEL_F16);
	rt_printf("task F (16-bit TSS): TR=%04x CS=%04x SS=%04x DS=%04x FS=%04x GS=%04x FLAGS=%04x AX=%04x CX=%04x DX=%04x BX=%04x SP=%04x BP=%04x SI=%04x DI=%04x\n",
		  seen_f.tr, seen_f.cs, seen_f.ss, seen_f.ds, seen_f.fs, seen_f.gs, seen_f.eflags & 0xffff,
		  seen_f.regs[0] & 0xffff, seen_f.regs[1] & 0xffff, seen_f.regs[2] & 0xffff, seen_f.regs[3] & 0xffff,
		  seen_f.regs[4] & 0xffff, seen_f.regs[5] & 0xffff, seen_f.regs[6] & 0xffff, seen_f.regs[7] & 0xffff);
	CHECK(seen_f.tr, SEL_F16, "16-bit TSS: TR");
	CHECK(seen_f.eflags & 0xffff, 0x0893 | FL_NT, "16-bit TSS: FLAGS from the TSS, NT set");
	CHECK(tss_f.link, SEL_MAIN, "16-bit TSS: back link");
	CHECK(tss_f.flags & FL_NT, 0, "16-bit TSS: saved FLAGS with NT clear");
	CHECK(tss_f.ip, (u32)task_f_after_iret - (u32)task_f, "16-bit TSS: IP saved after the IRET");
	CHECK(tss_f.cs | (tss_f.ss << 16), SEL_F_CODE | (SEL_F_STACK << 16), "16-bit TSS: CS and SS saved");
	CHECK(gdt_type(SEL_F16), 0x1, "16-bit TSS: available again");
	CHECK(str(), SEL_MAIN, "16-bit TSS: TR back");
	clts();

	/* ---- a fault in the new task's context: DS beyond the GDT ---- */
	init_tss(&tss_e, task_e, TOP(stack_e), 0x2, 0xe0000000);
	tss_e.ds = SEL_BEYOND;
	tss_gdt(SEL_E, &tss_e, sizeof(tss_e) - 1, 0x9);
	reset();
	g_resume = (u32)task_e_return;
	far_jmp(SEL_E);
	CHECK(g_count, 1, "new task's DS beyond the GDT: one exception");
	CHECK(g_vector, 10, "new task's DS beyond the GDT: #TS");
	CHECK(g_error, SEL_BEYOND, "new task's DS beyond the GDT: error code = the DS selector");
	CHECK(g_tr, SEL_E, "new task's DS beyond the GDT: raised with TR = the new task");
	CHECK(g_cs, 0x08, "new task's DS beyond the GDT: saved CS");
	/* Not checked: the saved EIP. The SDM raises the fault in the new task's context (its first
	 * instruction); QEMU 7.2 saves the EIP of the JMP that switched. */
	CHECK(gdt_type(SEL_E), 0x9, "task E available after its JMP back");
	CHECK(str(), SEL_MAIN, "TR back from task E");
	clts();

	/* ---- a task with an LDT: its ES comes from it ---- */
	init_tss(&tss_g, task_g, TOP(stack_g), 0x2, 0x60000000);
	/* LDT slot 0: a flat-limit data segment based at page_x (task G reads ES:0) */
	ldt_g[0] = 0xffff | ((u32)page_x << 16);
	ldt_g[1] = (((u32)page_x >> 16) & 0xff) | 0x9200 | 0xf0000 | 0xc00000 | ((u32)page_x & 0xff000000);
	gdt_set(SEL_LDT >> 3, (u32)ldt_g, sizeof(ldt_g) - 1, 0x82, 0x0);
	tss_g.ldt = SEL_LDT;
	tss_g.es = 0x04;   /* LDT slot 0, RPL 0 */
	tss_gdt(SEL_G, &tss_g, sizeof(tss_g) - 1, 0x9);
	page_x[0] = 0x1d71d7;
	far_jmp(SEL_G);
	show("task G (LDT)", &seen_g);
	CHECK(seen_g.ldtr, SEL_LDT, "LDT task: LDTR from the TSS");
	CHECK(seen_g.es, 0x04, "LDT task: ES is an LDT selector");
	CHECK(g_read, 0x1d71d7, "LDT task: a read through the LDT's segment");
	{ u16 l; __asm__ volatile("sldt %0" : "=r"(l)); CHECK(l, 0, "back from the LDT task: LDTR null again"); }
	clts();

	/* ---- paging: a task with its own CR3 (static in the TSS: main's must be set by software) ---- */
	for (int i = 0; i < 1024; i++) pt_low[i] = (i << 12) | 3;
	memset(pt_main_hi, 0, sizeof(pt_main_hi));
	memset(pt_h_hi, 0, sizeof(pt_h_hi));
	pt_main_hi[0] = (u32)page_x | 3;
	pt_h_hi[0] = (u32)page_y | 3;
	memset(pd_main, 0, sizeof(pd_main));
	memset(pd_h, 0, sizeof(pd_h));
	pd_main[0] = pd_h[0] = (u32)pt_low | 3;
	pd_main[1] = (u32)pt_main_hi | 3;
	pd_h[1] = (u32)pt_h_hi | 3;
	page_x[0] = 0x11111111;
	page_y[0] = 0x22222222;
	tss_main.cr3 = (u32)pd_main;
	init_tss(&tss_h, task_h, TOP(stack_h), 0x2, 0x70000000);
	tss_h.cr3 = (u32)pd_h;
	tss_gdt(SEL_H, &tss_h, sizeof(tss_h) - 1, 0x9);
	__asm__ volatile("movl %0, %%cr3\n\tmovl %%cr0, %%eax\n\torl $0x80000000, %%eax\n\tmovl %%eax, %%cr0" : : "r"(pd_main) : "eax", "memory");
	CHECK(*(volatile u32 *)0x400000, 0x11111111, "paging: main sees page X at 0x400000");
	far_jmp(SEL_H);
	CHECK(h_read, 0x22222222, "paging: task H sees page Y at 0x400000 (CR3 loaded, TLB flushed)");
	{ u32 c; __asm__ volatile("movl %%cr3, %0" : "=r"(c)); CHECK(c == (u32)pd_main, 1, "paging: main's CR3 back from its TSS"); }
	CHECK(*(volatile u32 *)0x400000, 0x11111111, "paging: main sees page X again");
	CHECK(tss_h.cr3 == (u32)pd_h, 1, "paging: CR3 is not saved in the old TSS");
	__asm__ volatile("movl %%cr0, %%eax\n\tandl $0x7fffffff, %%eax\n\tmovl %%eax, %%cr0" : : : "eax", "memory");
	clts();

	rt_finish("taskswitch");
}
