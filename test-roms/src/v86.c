/* v86: virtual-8086 mode (SDM Vol. 3A ch. 20) and the TSS T bit (SDM 7.2.1, 17.3.1.5), from ring 0.
 *   Entry by IRET from CPL 0 with VM in the popped EFLAGS (EIP CS EFLAGS ESP SS ES DS FS GS), at IOPL 3 and
 *   IOPL 0; in virtual-8086 mode: CS/SS as loaded, real-mode segment arithmetic (two selector:offset pairs
 *   naming one byte, 0xFFFF:0x0010 = linear 0x100000), 32-bit operations with 66 and 32-bit addressing
 *   with 67 in 16-bit code, 16-bit pushes; POPF at IOPL 3 does not change IOPL and POPFD does not clear VM.
 *   The IOPL-sensitive CLI STI PUSHF POPF INT n IRET: #GP(0) at IOPL 0, each working at IOPL 3 (INT 0x30
 *   through a DPL-3 interrupt gate with the virtual-8086 frame: EIP CS EFLAGS ESP SS ES DS FS GS on the
 *   ring-0 stack from the TSS, DS ES FS GS null in the handler, VM clear). INT3 (the programs' exit) is
 *   not IOPL-sensitive. Exceptions with their frames: HLT → #GP(0), UD2 → #UD, DIV by 0 → #DE, INTO
 *   through a DPL-0 gate → #GP(4*8+2), BOUND → #BR. The I/O bitmap decides at any IOPL: port 0x80 is
 *   allowed (IN and OUT run), 0x81 and 0x7E-0x7F are denied (#GP(0)), a word at 0x80 takes 0x81 too.
 *   A virtual-8086 task: CALL to a 32-bit TSS whose EFLAGS has VM (CS, FLAGS with NT and VM from the
 *   TSS); from it INT 0x32 through a task gate to task H; task H's IRET (NT) switches back into the
 *   virtual-8086 task, which resumes; INT 0x33 to a ring-0 gate in its context IRETs with NT back to
 *   main (the busy bits, the back links).
 * Every event is printed by the handler with its whole frame.
 * Not here: the TSS T bit. QEMU 7.2 does not implement it (a switch to a TSS with T = 1 raises no #DB;
 * SDM 7.2.1 and 17.3.1.5 say #DB with DR6.BT after the switch), so it cannot be this ROM's oracle;
 * tests/task-switch.test.ts checks x86jit's #DB against the SDM. */
#include "rt.h"

#define V86_SEG   0x2000
#define V86_BASE  (V86_SEG << 4)
#define SEL_MAIN  0x28
#define SEL_V     0x30
#define SEL_H     0x38
#define FL_NT     0x4000u
#define FL_VM     0x20000u
#define IOPL3     0x3000u

struct v86frame {
	struct frame f;
	u32 esp, ss, es, ds, fs, gs;
};

struct tss32 {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap_base;
	u8 iomap[0x82 / 8 + 1 + 1];   /* ports 0..0x87, then the terminating 0xFF */
} __attribute__((packed));

struct v86ctx { u32 eip, cs, eflags, esp, ss, es, ds, fs, gs; };

extern u8 v86_blob[], v86_blob_end[];
extern u8 prog_basic[], prog_sens[], prog_exc[], prog_task[];
extern u8 r_cs[], r_ss[], r_flags[], r_alias[], r_eax32[], r_addr32[], r_push16[], r_push32[], r_iopl[], r_vm_kept[],
	r_task_cs[], r_task_flags[], r_task_resumed[], r_wrap[];
void enter_v86(const struct v86ctx *c);
void v86_exit(void), v86_task_return(void), task_h(void);
extern volatile u32 h_runs;
extern u32 rt_gdt[];

static struct tss32 tss_main, tss_v, tss_h __attribute__((aligned(16)));
static u8 stack0[4096] __attribute__((aligned(16))), stack_v0[2048] __attribute__((aligned(16))),
	stack_h[2048] __attribute__((aligned(16)));
#define TOP(s) ((u32)(s) + sizeof(s))

/* Offset of a blob symbol in the virtual-8086 segment, and its copy in low memory. */
#define OFF(sym) ((u32)(sym) - (u32)v86_blob)
#define AT16(sym) (*(volatile u16 *)(V86_BASE + OFF(sym)))
#define AT32(sym) (*(volatile u32 *)(V86_BASE + OFF(sym)))

static u16 str(void) { u16 v; __asm__ volatile("str %0" : "=r"(v)); return v; }
static u32 gdt_type(u16 sel) { return (rt_gdt[(sel >> 3) * 2 + 1] >> 8) & 0xf; }

static u32 events;

/* Bytes of the instruction at CS:IP that raised the event (the programs use only these forms). */
static u32 length_at(u32 cs, u32 ip)
{
	const u8 *p = (const u8 *)((cs << 4) + ip);
	u32 n = 0;
	while (p[n] == 0x66 || p[n] == 0x67) n++;
	switch (p[n]) {
	case 0xcd: case 0xe4: case 0xe5: case 0xe6: case 0xe7: case 0x0f: case 0xf6: return n + 2;
	case 0x62: return n + 4;   /* BOUND r16, [disp16] */
	default: return n + 1;
	}
}

/* Every event from virtual-8086 mode: print the frame; faults resume after the faulting instruction. */
static void on_v86_event(struct frame *f)
{
	struct v86frame *v = (struct v86frame *)f;
	events++;
	if (!(f->eflags & FL_VM)) {
		rt_printf("FAIL vector %u from protected mode (eip %x)\n", f->vector, f->eip);
		rt_failed++;
		rt_finish("v86");
	}
	rt_printf("  vector %02x error %04x at %04x:%04x EFLAGS=%08x SS:SP=%04x:%04x ES=%04x DS=%04x FS=%04x GS=%04x"
		  " handler DS=%04x ES=%04x FS=%04x GS=%04x\n",
		  f->vector, f->error, f->cs & 0xffff, f->eip, f->eflags, v->ss & 0xffff, v->esp, v->es & 0xffff,
		  v->ds & 0xffff, v->fs & 0xffff, v->gs & 0xffff, f->ds & 0xffff, f->es & 0xffff, f->fs & 0xffff, f->gs & 0xffff);
	if (f->vector == 3) {
		/* The program's end: back to ring 0 through a same-privilege IRET to v86_exit. */
		f->eip = (u32)v86_exit;
		f->cs = SEL_CODE32;
		f->eflags = 0x2;
		f->ds = f->es = SEL_DATA32;
		return;
	}
	/* Faults saved the faulting IP: skip the instruction. (Traps and INT n saved the next one.) */
	if (f->vector == 0 || f->vector == 5 || f->vector == 6 || f->vector == 13) f->eip += length_at(f->cs, f->eip);
}

static void run(const char *name, u8 *prog, u32 eflags)
{
	struct v86ctx c = { OFF(prog), V86_SEG, eflags, 0xfffe, V86_SEG, 0x1111, V86_SEG, 0x3333, 0x4444 };
	rt_printf("%s (EFLAGS %08x):\n", name, eflags);
	events = 0;
	enter_v86(&c);
}

static void init_tss(struct tss32 *t)
{
	memset(t, 0, sizeof(*t));
	t->iomap_base = (u16)((u32)&t->iomap - (u32)t);
	memset(t->iomap, 0xff, sizeof(t->iomap));
	t->iomap[0x80 / 8] = 0xfe;   /* only port 0x80 */
}

void test_main(void)
{
	/* Nothing may interrupt: both PICs masked. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	memcpy((void *)V86_BASE, v86_blob, v86_blob_end - v86_blob);

	init_tss(&tss_main);
	tss_main.esp0 = TOP(stack0);
	tss_main.ss0 = SEL_DATA32;
	gdt_set(SEL_MAIN >> 3, (u32)&tss_main, sizeof(tss_main) - 1, 0x89, 0);
	__asm__ volatile("ltr %w0" : : "r"(SEL_MAIN) : "memory");

	for (int v = 0; v < 8; v++) rt_set_handler(v, on_v86_event);
	rt_set_handler(13, on_v86_event);
	rt_set_handler(0x30, on_v86_event);
	idt_set_gate(3, SEL_CODE32, rt_isr_stubs[3], 0xE, 3);       /* INT3 from CPL 3 */
	idt_set_gate(0x30, SEL_CODE32, rt_isr_stubs[0x30], 0xE, 3);

	/* ---- entry by IRET at IOPL 3: the machine as the program sees it ---- */
	run("basic", prog_basic, FL_VM | IOPL3 | 0x2);
	CHECK(events, 1, "basic: only the INT3 at the end");
	CHECK(AT16(r_cs), V86_SEG, "CS as loaded by IRET");
	CHECK(AT16(r_ss), V86_SEG, "SS as loaded by IRET");
	CHECK(AT16(r_flags), IOPL3 | 0x2, "PUSHF at IOPL 3: FLAGS with IOPL 3");
	CHECK(AT16(r_alias), 0xbeef, "2100:0010 and 2101:0000 are one byte");
	CHECK(AT16(r_wrap), *(volatile u16 *)0x100000, "FFFF:0010 is linear 0x100000");
	CHECK(AT32(r_eax32), 0x23456789, "66: 32-bit ADD in 16-bit code");
	CHECK(AT16(r_addr32), 0x5a5a, "67: store through ESI");
	CHECK(AT16(r_push16), 2, "PUSH moves SP by 2");
	CHECK(AT16(r_push32), 4, "66 PUSH moves SP by 4");
	CHECK(AT16(r_iopl) & 0x3000, IOPL3, "POPF at IOPL 3 keeps IOPL 3");
	CHECK(AT32(r_vm_kept) & (FL_VM | 0x10000), 0, "PUSHFD: VM and RF read as 0");

	/* ---- the IOPL-sensitive instructions ---- */
	run("sensitive, IOPL 0", prog_sens, FL_VM | 0x2);
	CHECK(events, 8, "IOPL 0: CLI STI PUSHF POPF INT, PUSHF, IRET fault, then INT3");
	run("sensitive, IOPL 3", prog_sens, FL_VM | IOPL3 | 0x2);
	CHECK(events, 2, "IOPL 3: only INT 0x30 and INT3 reach the IDT");

	/* ---- exceptions and the I/O bitmap ---- */
	run("exceptions and I/O, IOPL 0", prog_exc, FL_VM | 0x2);
	CHECK(events, 10, "IOPL 0: HLT UD2 DIV INTO BOUND, OUT 81, IN 81, IN word 80, OUT word 7e, INT3");
	run("exceptions and I/O, IOPL 3", prog_exc, FL_VM | IOPL3 | 0x2);
	CHECK(events, 10, "IOPL 3: the same (the bitmap decides)");

	/* ---- a virtual-8086 task and task H ---- */
	init_tss(&tss_v);
	tss_v.esp0 = TOP(stack_v0);
	tss_v.ss0 = SEL_DATA32;
	tss_v.eip = OFF(prog_task);
	tss_v.eflags = FL_VM | IOPL3 | 0x2;
	tss_v.esp = 0xfff0;
	tss_v.cs = tss_v.ss = tss_v.ds = tss_v.es = V86_SEG;
	tss_v.fs = 0x5555; tss_v.gs = 0x6666;
	gdt_set(SEL_V >> 3, (u32)&tss_v, sizeof(tss_v) - 1, 0x89, 0);
	init_tss(&tss_h);
	tss_h.eip = (u32)task_h;
	tss_h.eflags = 0x2;
	tss_h.esp = TOP(stack_h);
	tss_h.cs = SEL_CODE32;
	tss_h.ss = tss_h.ds = tss_h.es = SEL_DATA32;
	gdt_set(SEL_H >> 3, (u32)&tss_h, sizeof(tss_h) - 1, 0x89, 0);
	/* INT 0x32: a DPL-3 task gate to H; INT 0x33: a DPL-3 interrupt gate to v86_task_return. */
	idt_set_gate(0x33, SEL_CODE32, (u32)v86_task_return, 0xE, 3);
	idt_set_gate(0x32, SEL_H, 0, 0x5, 3);
	rt_printf("virtual-8086 task:\n");
	struct { u32 off; u16 sel; } __attribute__((packed)) p = { 0, SEL_V };
	__asm__ volatile("lcall *%0" : : "m"(p) : "memory", "cc");
	CHECK(AT16(r_task_cs), V86_SEG, "V86 task: CS from its TSS");
	CHECK(AT16(r_task_flags), FL_NT | IOPL3 | 0x2, "V86 task: FLAGS from its TSS, NT set by the CALL");
	CHECK(h_runs, 1, "task H ran once");
	CHECK(tss_h.link, SEL_V, "task H's back link: the V86 task");
	CHECK(AT16(r_task_resumed), 1, "the V86 task resumed after task H's IRET");
	CHECK(tss_v.link, SEL_MAIN, "V86 task's back link: main");
	CHECK(gdt_type(SEL_V), 0x9, "V86 task available after its IRET");
	CHECK(gdt_type(SEL_H), 0x9, "task H available after its IRET");
	CHECK(str(), SEL_MAIN, "TR back to main");
	rt_finish("v86");
}
