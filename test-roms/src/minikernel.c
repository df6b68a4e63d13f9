/* minikernel: a tiny preemptive kernel. Its own GDT (ring 0/3 code and data, a 32-bit TSS with
 * SS0:ESP0), its own IDT, 4 KiB paging (identity map of the low 4 MiB, only the .user pages U/S=1),
 * 8259A PICs remapped to 0x20/0x28 with only IRQ0 unmasked, 8254 PIT channel 0 in mode 2 at 1000 Hz.
 * Two ring-3 tasks (A, B: same code, own stacks) run round-robin; IRQ0 preempts them by swapping full
 * register frames in software (no hardware task switch). System calls through INT 0x80 (DPL3 trap
 * gate): 1 = write(buf, len) to COM1, 2 = yield, 3 = tick count, 4 = exit.
 * Faults from ring 3 are handled like a kernel would: #GP on CLI / OUT is logged and the instruction
 * skipped, #GP on HLT kills the task (task C), a not-present user write (#PF, error U|W) gets a fresh
 * page mapped and the task resumes, a user read of a supervisor page (#PF, error U|P) kills the task
 * (task D). Output is deterministic: the tasks print only while holding a "turn" token they pass to
 * each other, the kernel logs faults the token holder causes, C and D run alone after A and B exit,
 * and preemption is reported only as "preempted: yes". */
#include "rt.h"

#define KCODE   0x08
#define KDATA   0x10
#define UCODE   0x1b   /* GDT slot 3, RPL 3 */
#define UDATA   0x23   /* GDT slot 4, RPL 3 */
#define TSS_SEL 0x28   /* GDT slot 5 */

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PF_P 1u        /* #PF error code: protection violation (else not present) */
#define PF_W 2u        /* write (else read) */
#define PF_U 4u        /* user mode (CPL 3) */

#define PIT_HZ 1193182u
#define TICK_HZ 1000u

#define SYS_WRITE 1
#define SYS_YIELD 2
#define SYS_TICKS 3
#define SYS_EXIT  4

#define HEAP_BASE 0x40000000u   /* user heap: nothing mapped there until a task touches it */
#define STEPS 4
#define WORK 20000

/* Ring-3 code and data live in the page-aligned .user section (rt/link-user.ld). User code must not
 * touch kernel text or data: no string literals (they land in .rodata), no calls out of .user.text. */
#define USER __attribute__((section(".user.text"), noinline, optimize("no-tree-loop-distribute-patterns")))
#define UDATA_SEC __attribute__((section(".user.data")))
#define URODATA __attribute__((section(".user.rodata")))
#define ALWAYS_INLINE static inline __attribute__((always_inline))
extern char __user_start[], __user_end[];

/* ---------------- ring 3 ---------------- */

/* Per-task results the kernel reads after the tasks end. */
struct task_report {
	u32 result;          /* the task's computation */
	u32 ticks_monotonic; /* every SYS_TICKS value >= the previous one */
	u32 readback;        /* 1 if the faulted-in heap page held what the task wrote */
	u32 bad_write;       /* SYS_WRITE result for a kernel buffer (-14 expected) */
	u32 yield_ret;       /* SYS_YIELD result (0 expected) */
};
static volatile u32 turn UDATA_SEC;                  /* which task may print: 0 = A, 1 = B */
static volatile struct task_report report[2] UDATA_SEC;
static u8 ustack[4][2048] UDATA_SEC __attribute__((aligned(16)));
static char line[2][64] UDATA_SEC;
static const char step_tmpl[] URODATA = "task ?: step ? of 4 done\n";
static const char gp_after[] URODATA = "task ?: continues after the faulting instruction\n";
static const char rb_ok[] URODATA = "task ?: heap page reads back what it wrote\n";
static const char rb_bad[] URODATA = "task ?: heap page reads back WRONG data\n";
static const char c_msg[] URODATA = "task C: executing HLT in ring 3\n";
static const char c_after[] URODATA = "task C: still alive after HLT (wrong)\n";
static const char d_msg[] URODATA = "task D: reading a supervisor page from ring 3\n";
static const char d_after[] URODATA = "task D: still alive after the read (wrong)\n";

ALWAYS_INLINE u32 sys(u32 n, u32 a, u32 b)
{
	u32 r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b) : "memory");
	return r;
}

/* The tasks' work: a fixed amount of integer arithmetic (inlined into both the task and the kernel's
 * reference computation). */
ALWAYS_INLINE u32 work_step(u32 id, u32 acc, u32 i)
{
	if (id == 0) return acc * 1664525u + 1013904223u + i;   /* LCG with a counter */
	acc ^= acc << 13;                                          /* xorshift32 */
	acc ^= acc >> 17;
	acc ^= acc << 5;
	return acc;
}
ALWAYS_INLINE u32 work_seed(u32 id) { return id == 0 ? 1u : 0x2545f491u; }

USER static void uputs_named(const char *s, char name)
{
	/* copy into the task's line buffer, replacing the first '?' by the task's letter */
	char *b = line[name - 'A'];
	u32 n = 0;
	int named = 0;
	for (; s[n] && n < sizeof(line[0]); n++) {
		char c = s[n];
		if (c == '?' && !named) { c = name; named = 1; }
		b[n] = c;
	}
	sys(SYS_WRITE, (u32)b, n);
}

USER static void uputs(const char *s)
{
	u32 n = 0;
	while (s[n]) n++;
	sys(SYS_WRITE, (u32)s, n);
}

USER static void task_exit(void)
{
	sys(SYS_EXIT, 0, 0);
	for (;;) ;
}

/* Tasks A (id 0) and B (id 1). */
USER static void task_ab(u32 id)
{
	char name = (char)('A' + id);
	volatile struct task_report *rep = &report[id];
	u32 acc = work_seed(id);
	u32 t0 = sys(SYS_TICKS, 0, 0), last = t0;
	rep->ticks_monotonic = 1;
	rep->yield_ret = sys(SYS_YIELD, 0, 0);
	for (u32 step = 1; step <= STEPS; step++) {
		for (u32 i = 0; i < WORK; i++) acc = work_step(id, acc, i);
		if (step == 1) {
			/* Keep computing until the timer has ticked a few times, so a preemption happens while
			 * both tasks are alive (bounded: with no timer the kernel reports "preempted: no"). */
			volatile u32 spin = 0;
			for (u32 round = 0; round < 20000; round++) {
				for (u32 k = 0; k < 1000; k++) spin += k;
				u32 t = sys(SYS_TICKS, 0, 0);
				if (t < last) rep->ticks_monotonic = 0;
				last = t;
				if (t - t0 >= 3) break;
			}
		}
		while (turn != id) sys(SYS_YIELD, 0, 0);
		/* "task ?: step ? of 4 done" */
		char *b = line[id];
		for (u32 n = 0; n < sizeof(step_tmpl); n++) b[n] = step_tmpl[n];
		b[5] = name;
		b[13] = (char)('0' + step);
		sys(SYS_WRITE, (u32)b, sizeof(step_tmpl) - 1);
		if (step == 2) {
			if (id == 0) __asm__ volatile("cli");                 /* IOPL 0: #GP(0) */
			else __asm__ volatile("outb %%al, $0x80" : : "a"(0)); /* no I/O bitmap: #GP(0) */
			uputs_named(gp_after, name);
			rep->bad_write = sys(SYS_WRITE, 0x100000u, 8);   /* kernel text: refused */
		}
		if (step == 3) {
			volatile u32 *p = (volatile u32 *)(HEAP_BASE + id * 4096u + 16);
			*p = 0xa110c000u + id;   /* not present: the kernel maps a page and restarts the store */
			p[1] = ~*p;
			rep->readback = p[0] == 0xa110c000u + id && p[1] == ~(0xa110c000u + id) && p[-4] == 0;
			uputs_named(rep->readback ? rb_ok : rb_bad, name);
		}
		turn = !id;
	}
	rep->result = acc;
}

USER static void task_c(u32 unused)
{
	uputs(c_msg);
	__asm__ volatile("hlt");   /* privileged: #GP(0), the kernel kills the task */
	uputs(c_after);
}

USER static void task_d(u32 kernel_addr)
{
	uputs(d_msg);
	(void)*(volatile u32 *)kernel_addr;   /* supervisor page: #PF(U|P), the kernel kills the task */
	uputs(d_after);
}

/* ---------------- ring 0 ---------------- */

struct tss {
	u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	u32 eax, ecx, edx, ebx, esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
	u16 trap, iomap_base;
};

/* The frame rt/isr.S builds, plus the SS:ESP the CPU pushes when coming from ring 3. */
struct uregs {
	struct frame f;
	u32 esp, ss;
};

enum { T_LATER, T_READY, T_DEAD };
struct task {
	struct uregs r;      /* saved user context while not running */
	int state;
	u32 gp_count, gp_error, gp_opcode;
	u32 pf_count, pf_error, pf_cr2;
};
#define NTASKS 4

static u64 gdt[6];
static u32 idt[256 * 2];
static struct tss tss;
static u32 pgdir[1024] __attribute__((aligned(4096)));
static u32 pt_low[1024] __attribute__((aligned(4096)));
static u32 pt_heap[1024] __attribute__((aligned(4096)));
static u8 heap_frames[2][4096] __attribute__((aligned(4096)));
static u8 kstack[8192] __attribute__((aligned(16)));
#define KFRAME ((struct uregs *)(kstack + sizeof(kstack)) - 1)   /* where every ring-3 entry lands */

static struct task tasks[NTASKS];
static int cur;
static volatile u32 ticks, preemptions, kernel_ticks;
static u32 heap_pages_mapped;

static u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags4)
{
	u32 lo = (limit & 0xffff) | (base << 16);
	u32 hi = ((base >> 16) & 0xff) | (access << 8) | (limit & 0xf0000) | (flags4 << 20) | (base & 0xff000000);
	return ((u64)hi << 32) | lo;
}

static void set_gate(int v, u32 offset, u32 type, u32 dpl)
{
	idt[v * 2] = (offset & 0xffff) | ((u32)KCODE << 16);
	idt[v * 2 + 1] = (offset & 0xffff0000) | 0x8000 | (dpl << 13) | (type << 8);
}

static inline u32 read_cr2(void) { u32 v; __asm__ volatile("movl %%cr2, %0" : "=r"(v)); return v; }

/* Loads a full register frame and IRETs to it (first entry into ring 3). */
void enter_frame(struct uregs *r) __attribute__((noreturn));
__asm__(".text\n"
	"enter_frame:\n\t"
	"movl 4(%esp), %esp\n\t"
	"popl %gs\n\tpopl %fs\n\tpopl %es\n\tpopl %ds\n\t"
	"popal\n\t"
	"addl $8, %esp\n\t"
	"iretl\n");

static char tname(int t) { return (char)('A' + t); }

static void init_task(int t, void (*entry)(u32), u32 arg, int state)
{
	struct task *k = &tasks[t];
	u32 *sp = (u32 *)(ustack[t] + sizeof(ustack[t]));
	*--sp = arg;
	*--sp = (u32)task_exit;   /* return address: the entry function falls into SYS_EXIT */
	memset(k, 0, sizeof(*k));
	k->r.f.gs = k->r.f.fs = k->r.f.es = k->r.f.ds = UDATA;
	k->r.f.eip = (u32)entry;
	k->r.f.cs = UCODE;
	k->r.f.eflags = FL_IF | 0x2;   /* IOPL 0 */
	k->r.esp = (u32)sp;
	k->r.ss = UDATA;
	k->state = state;
}

static void all_done(struct uregs *u);

/* Round-robin: the next READY task after `cur` (cur itself only if `self_ok`), or -1. */
static int next_ready(int self_ok)
{
	for (int i = 1; i <= NTASKS; i++) {
		int t = (cur + i) % NTASKS;
		if (t == cur && !self_ok) break;
		if (tasks[t].state == T_READY) return t;
	}
	return -1;
}

/* Saves the running task's frame (unless it is dead) and loads task `t`'s into the kernel-stack frame
 * the interrupt return will pop. */
static void switch_to(struct uregs *u, int t)
{
	if (tasks[cur].state != T_DEAD) tasks[cur].r = *u;
	*u = tasks[t].r;
	cur = t;
}

/* The current task has ended: run the next ready one, else start the next waiting one, else return
 * to the kernel. */
static void task_ended(struct uregs *u)
{
	tasks[cur].state = T_DEAD;
	int t = next_ready(0);
	if (t < 0) {
		for (int i = 0; i < NTASKS; i++)
			if (tasks[i].state == T_LATER) { tasks[i].state = T_READY; t = i; break; }
	}
	if (t < 0) all_done(u);
	else switch_to(u, t);
}

static void check_frame(struct frame *f)
{
	if ((struct uregs *)f != KFRAME) {
		rt_printf("FAIL ring-3 frame not at TSS.ESP0 - %u\n", (u32)sizeof(struct uregs));
		rt_failed++;
		rt_finish("minikernel");
	}
}

static void irq0(struct frame *f)
{
	ticks++;
	outb(0x20, 0x20);   /* non-specific EOI */
	if ((f->cs & 3) != 3) { kernel_ticks++; return; }   /* inside a system call: no preemption */
	check_frame(f);
	int t = next_ready(0);
	if (t >= 0) {
		preemptions++;
		switch_to((struct uregs *)f, t);
	}
}

static s32 sys_write(u32 buf, u32 len)
{
	if (len > 256 || buf < (u32)__user_start || buf + len > (u32)__user_end) return -14;   /* -EFAULT */
	for (u32 i = 0; i < len; i++) rt_putc(((const char *)buf)[i]);
	return (s32)len;
}

static void syscall(struct frame *f)
{
	check_frame(f);
	struct uregs *u = (struct uregs *)f;
	switch (f->eax) {
	case SYS_WRITE: f->eax = (u32)sys_write(f->ebx, f->ecx); break;
	case SYS_TICKS: f->eax = ticks; break;
	case SYS_YIELD: {
		__asm__ volatile("cli");   /* the frame swap must not race with IRQ0 (IRET restores IF) */
		f->eax = 0;
		int t = next_ready(0);
		if (t >= 0) switch_to(u, t);
		break;
	}
	case SYS_EXIT:
		__asm__ volatile("cli");
		task_ended(u);
		break;
	default: f->eax = (u32)-38; break;   /* -ENOSYS */
	}
}

static void unexpected_kernel_fault(struct frame *f)
{
	rt_printf("FAIL kernel-mode exception vector %u error 0x%x\n", f->vector, f->error);
	rt_failed++;
	rt_finish("minikernel");
}

/* #GP from ring 3: skip CLI/STI/IN/OUT (the kernel emulates them as no-ops), kill on anything else. */
static void gp_fault(struct frame *f)
{
	if ((f->cs & 3) != 3) unexpected_kernel_fault(f);
	check_frame(f);
	struct task *k = &tasks[cur];
	u32 op = *(const u8 *)f->eip;
	k->gp_count++;
	k->gp_error = f->error;
	k->gp_opcode = op;
	const char *what = "privileged";
	u32 skip = 0;
	if (op == 0xfa) { what = "CLI"; skip = 1; }
	else if (op == 0xe6) { what = "OUT imm8"; skip = 2; }
	else if (op == 0xf4) what = "HLT";
	rt_printf("kernel: task %c: #GP(0x%x) in ring 3 on %s (opcode 0x%x): %s\n", tname(cur), f->error, what, op,
		  skip ? "skipped" : "task killed");
	if (skip) f->eip += skip;
	else task_ended((struct uregs *)f);
}

static const char *pf_reason(u32 e)
{
	static char buf[64];
	rt_snprintf(buf, sizeof(buf), "%s %s, %s", e & PF_U ? "user" : "supervisor", e & PF_W ? "write" : "read",
		    e & PF_P ? "protection violation" : "not present");
	return buf;
}

/* #PF from ring 3: a not-present user write inside the heap window gets a fresh zeroed page. */
static void page_fault(struct frame *f)
{
	u32 cr2 = read_cr2();
	if ((f->cs & 3) != 3) unexpected_kernel_fault(f);
	check_frame(f);
	struct task *k = &tasks[cur];
	k->pf_count++;
	k->pf_error = f->error;
	k->pf_cr2 = cr2;
	if (f->error == (PF_U | PF_W) && cr2 >= HEAP_BASE && cr2 < HEAP_BASE + 2 * 4096 &&
	    heap_pages_mapped < 2) {
		u32 frame = (u32)heap_frames[heap_pages_mapped++];
		memset((void *)frame, 0, 4096);
		pgdir[HEAP_BASE >> 22] = (u32)pt_heap | PTE_P | PTE_W | PTE_U;
		pt_heap[(cr2 >> 12) & 1023] = frame | PTE_P | PTE_W | PTE_U;
		__asm__ volatile("invlpg (%0)" : : "r"(cr2) : "memory");
		rt_printf("kernel: task %c: #PF at 0x%x (%s): mapped a fresh page\n", tname(cur), cr2,
			  pf_reason(f->error));
		return;   /* IRET restarts the store */
	}
	rt_printf("kernel: task %c: #PF (%s): task killed\n", tname(cur), pf_reason(f->error));
	task_ended((struct uregs *)f);
}

static void after_tasks(void) __attribute__((noreturn, used));

/* Every task has ended: return to ring 0 by turning the frame into a same-privilege IRET to
 * after_tasks (which runs on the kernel stack and never returns). */
static void all_done(struct uregs *u)
{
	u->f.gs = u->f.fs = u->f.es = u->f.ds = KDATA;
	u->f.cs = KCODE;
	u->f.eip = (u32)after_tasks;
	u->f.eflags = 0x2;
}

static u32 reference_result(u32 id)
{
	u32 acc = work_seed(id);
	for (u32 step = 1; step <= STEPS; step++)
		for (u32 i = 0; i < WORK; i++) acc = work_step(id, acc, i);
	return acc;
}

static void after_tasks(void)
{
	outb(0x21, 0xff);   /* mask the timer */
	rt_puts("kernel: all tasks ended\n");
	for (u32 id = 0; id < 2; id++) {
		volatile struct task_report *r = &report[id];
		struct task *k = &tasks[id];
		char n = tname(id);
		CHECK(r->result, reference_result(id), "task %c: result of its computation", n);
		CHECK(r->ticks_monotonic, 1, "task %c: tick counts never went backwards", n);
		CHECK(r->yield_ret, 0, "task %c: yield returns 0", n);
		CHECK(r->bad_write, -14, "task %c: write from a kernel buffer refused with -EFAULT", n);
		CHECK(k->gp_count, 1, "task %c: one #GP", n);
		CHECK(k->gp_error, 0, "task %c: #GP error code", n);
		CHECK(k->gp_opcode, id == 0 ? 0xfa : 0xe6, "task %c: #GP saved EIP at the faulting instruction", n);
		CHECK(k->pf_count, 1, "task %c: one #PF", n);
		CHECK(k->pf_error, PF_U | PF_W, "task %c: #PF error code user, write, not present", n);
		CHECK(k->pf_cr2, HEAP_BASE + id * 4096 + 16, "task %c: #PF CR2", n);
		CHECK(r->readback, 1, "task %c: faulted-in page reads back", n);
	}
	CHECK(tasks[2].gp_count, 1, "task C: killed by #GP");
	CHECK(tasks[2].gp_opcode, 0xf4, "task C: #GP saved EIP at HLT");
	CHECK(tasks[3].pf_count, 1, "task D: killed by #PF");
	CHECK(tasks[3].pf_error, PF_U | PF_P, "task D: #PF error code user, read, protection violation");
	CHECK(tasks[3].pf_cr2, (u32)pgdir, "task D: #PF CR2 = the supervisor address it read");
	CHECK(heap_pages_mapped, 2, "kernel: two heap pages mapped on demand");
	CHECK(preemptions > 0, 1, "preempted: yes");
	rt_finish("minikernel");
}

void test_main(void)
{
	/* GDT: own table, same kernel selectors as the runtime's (its ISR stubs load 0x10). */
	gdt[0] = 0;
	gdt[1] = seg_desc(0, 0xfffff, 0x9a, 0xc);
	gdt[2] = seg_desc(0, 0xfffff, 0x92, 0xc);
	gdt[3] = seg_desc(0, 0xfffff, 0xfa, 0xc);   /* DPL3 code */
	gdt[4] = seg_desc(0, 0xfffff, 0xf2, 0xc);   /* DPL3 data */
	gdt[5] = seg_desc((u32)&tss, sizeof(tss) - 1, 0x89, 0x0);   /* 32-bit available TSS */
	struct { u16 limit; u32 base; } __attribute__((packed)) gdtr = { sizeof(gdt) - 1, (u32)gdt };
	__asm__ volatile("lgdt %0\n\t"
			 "ljmp $0x08, $1f\n"
			 "1:\tmovw $0x10, %%ax\n\tmovw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\t"
			 "movw %%ax, %%fs\n\tmovw %%ax, %%gs"
			 : : "m"(gdtr) : "eax", "memory");
	tss.ss0 = KDATA;
	tss.esp0 = (u32)(kstack + sizeof(kstack));
	tss.iomap_base = sizeof(tss);   /* beyond the limit: no I/O permission bitmap */
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL));

	/* IDT: every vector through the runtime's stubs (interrupt gates), INT 0x80 a DPL3 trap gate. */
	for (int v = 0; v < 256; v++) set_gate(v, rt_isr_stubs[v], 0xe, 0);
	set_gate(0x80, rt_isr_stubs[0x80], 0xf, 3);
	struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
	rt_set_handler(0x20, irq0);
	rt_set_handler(0x80, syscall);
	rt_set_handler(13, gp_fault);
	rt_set_handler(14, page_fault);

	/* Paging: identity map 4 KiB pages 1..1023 (page 0 stays unmapped), user pages U/S=1. */
	for (u32 p = 1; p < 1024; p++) {
		u32 a = p << 12;
		pt_low[p] = a | PTE_P | PTE_W;
		if (a >= (u32)__user_start && a < (u32)__user_end) pt_low[p] |= PTE_U;
	}
	pgdir[0] = (u32)pt_low | PTE_P | PTE_W | PTE_U;
	__asm__ volatile("movl %0, %%cr3\n\t"
			 "movl %%cr0, %%eax\n\torl $0x80000000, %%eax\n\tmovl %%eax, %%cr0\n\t"
			 "jmp 1f\n1:"
			 : : "r"(pgdir) : "eax", "memory");
	rt_puts("kernel: GDT, TSS, IDT and paging set up\n");

	/* 8259A pair: ICW1 edge/cascade/ICW4, ICW2 vector bases 0x20/0x28, ICW3 cascade on IRQ2,
	 * ICW4 8086 mode; then mask everything except IRQ0. */
	outb(0x20, 0x11); outb(0xa0, 0x11);
	outb(0x21, 0x20); outb(0xa1, 0x28);
	outb(0x21, 0x04); outb(0xa1, 0x02);
	outb(0x21, 0x01); outb(0xa1, 0x01);
	outb(0x21, 0xfe); outb(0xa1, 0xff);
	/* 8254 channel 0: lobyte/hibyte, mode 2 (rate generator), binary, 1000 Hz. */
	u32 divisor = (PIT_HZ + TICK_HZ / 2) / TICK_HZ;
	outb(0x43, 0x34);
	outb(0x40, divisor & 0xff);
	outb(0x40, divisor >> 8);
	rt_puts("kernel: PIC remapped to 0x20/0x28, PIT channel 0 at 1000 Hz\n");

	init_task(0, task_ab, 0, T_READY);
	init_task(1, task_ab, 1, T_READY);
	init_task(2, task_c, 0, T_LATER);
	init_task(3, task_d, (u32)pgdir, T_LATER);
	rt_puts("kernel: starting tasks A and B in ring 3\n");
	cur = 0;
	*KFRAME = tasks[0].r;
	enter_frame(KFRAME);
}
