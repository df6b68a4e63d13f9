/* paging: 32-bit (non-PAE) paging with checks. Identity-mapped 4 KiB pages, a 4 MiB PSE page, dword
 * and word accesses spanning two pages that map to non-adjacent (reversed) frames, CR0.WP=0/1 for a
 * supervisor write to a read-only page, U/S from ring 3 (IRET to ring 3, back through INT 0x81),
 * accessed/dirty bits in PTEs and PDEs (PDE D stays clear for a 4 KiB table, set for a 4 MiB page),
 * #PF error code, CR2 and saved CS:EIP for not-present read/write, read-only write, user access to a
 * supervisor page and user write to a read-only user page; INVLPG and CR3 reload after a PTE change
 * (only that the new translation is used: whether stale entries survive without a flush is
 * implementation-defined and not tested); CR4.PGE with a global PTE (enabling works; survival of global
 * entries across CR3 writes is not tested); code rewritten through an alias mapping and executed
 * through the original one; code called through a linear page whose PTE is retargeted, with INVLPG
 * (and INVLPGs of an unrelated page, which must change nothing) or a CR3 reload, each frame's code then
 * running. */
#include "rt.h"
#include "ring3.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PDE_PS 0x080u
#define PTE_G 0x100u
#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define CR0_WP 0x00010000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u
#define CR4_PGE 0x80u

#define BIG_BASE  0x00400000u          /* PDE 1: a 4 MiB page aliasing physical 0..4 MiB */
#define TEST_BASE 0x00800000u          /* PDE 2: the test page table */
#define TP(n) (TEST_BASE + (n) * 0x1000u)
enum {
	SLOT_CROSS_LO, SLOT_CROSS_HI,   /* linear pages n, n+1 -> frames 1, 0 (reversed) */
	SLOT_RO,                        /* supervisor read-only */
	SLOT_AD,                        /* accessed/dirty */
	SLOT_SWAP,                      /* PTE retargeted for INVLPG / CR3 reload */
	SLOT_NP,                        /* not present */
	SLOT_ALIAS,                     /* alias of the code frame */
	SLOT_URO,                       /* user read-only */
	SLOT_SUPER,                     /* supervisor read/write */
	SLOT_GLOBAL,                    /* global page */
	SLOT_CODE,                      /* code page retargeted between frames A and B */
};

static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt0[1024] __attribute__((aligned(4096)));
static u32 pt2[1024] __attribute__((aligned(4096)));
static u8 frames[12][4096] __attribute__((aligned(4096)));
#define CODE_FRAME 9
#define CODE_A 10                      /* frames holding the two versions of SLOT_CODE's code */
#define CODE_B 11
extern char __user_start[], __user_end[];

/* Fault recorder (vector 14 and 13): resumes at g_resume. */
volatile u32 g_count, g_vector, g_error, g_cr2, g_eip, g_cs, g_resume, g_at;
static void recorder(struct frame *f)
{
	u32 cr2;
	__asm__ volatile("movl %%cr2, %0" : "=r"(cr2));
	g_count++;
	g_vector = f->vector;
	g_error = f->error;
	g_cr2 = cr2;
	g_eip = f->eip;
	g_cs = f->cs & 0xffff;
	if (!g_resume) {   /* a fault no test expected: stop instead of resuming somewhere stale */
		rt_printf("FAIL unexpected fault vector %u error 0x%x\n", f->vector, f->error);
		rt_failed++;
		rt_finish("paging");
	}
	f->eip = g_resume;
	g_resume = 0;
	f->eax = 0xfa17ed;   /* marks "the access did not complete" for the ring-3 snippets */
}
static void reset(void) { g_count = 0; g_vector = g_error = g_cr2 = g_eip = g_cs = 0xdead; }

static inline u32 rd_cr0(void) { u32 v; __asm__ volatile("movl %%cr0, %0" : "=r"(v)); return v; }
static inline void wr_cr0(u32 v) { __asm__ volatile("movl %0, %%cr0" : : "r"(v) : "memory"); }
static inline u32 rd_cr3(void) { u32 v; __asm__ volatile("movl %%cr3, %0" : "=r"(v)); return v; }
static inline void wr_cr3(u32 v) { __asm__ volatile("movl %0, %%cr3" : : "r"(v) : "memory"); }
static inline u32 rd_cr4(void) { u32 v; __asm__ volatile("movl %%cr4, %0" : "=r"(v)); return v; }
static inline void wr_cr4(u32 v) { __asm__ volatile("movl %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(u32 a) { __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory"); }
static inline u32 rd32(u32 a) { return *(volatile u32 *)a; }
static inline void wr32(u32 a, u32 v) { *(volatile u32 *)a = v; }

/* Ring-0 access at label 0 with resume at label 1. */
static u32 r0_read(u32 addr)
{
	u32 v;
	__asm__ volatile("movl $1f, g_resume\n\tmovl $0f, g_at\n0:\tmovl (%1), %0\n1:"
			 : "=a"(v) : "c"(addr) : "memory");
	g_resume = 0;
	return v;
}
static void r0_write(u32 addr, u32 v)
{
	__asm__ volatile("movl $1f, g_resume\n\tmovl $0f, g_at\n0:\tmovl %0, (%1)\n1:"
			 : : "a"(v), "c"(addr) : "memory");
	g_resume = 0;
}

/* Ring-3 snippets (in the U/S=1 .user pages): read or write the dword at u_arg, then INT 0x81. */
u32 u_arg __attribute__((section(".user.data")));
static u8 ustack[2048] __attribute__((section(".user.data"), aligned(16)));
void u_read(void), u_read_at(void), u_read_done(void);
void u_write(void), u_write_at(void), u_write_done(void);
__asm__(".section .user.text, \"ax\"\n"
	"u_read:\n\tmovl u_arg, %ecx\n"
	"u_read_at:\n\tmovl (%ecx), %eax\n"
	"u_read_done:\n\tint $0x81\n"
	"u_write:\n\tmovl u_arg, %ecx\n\tmovl $0x600d, %eax\n"
	"u_write_at:\n\tmovl $0x5a5a5a5a, (%ecx)\n"
	"u_write_done:\n\tint $0x81\n"
	".previous\n");

static u32 user_access(int write, u32 addr)
{
	u_arg = addr;
	g_resume = (u32)(write ? u_write_done : u_read_done);
	g_at = (u32)(write ? u_write_at : u_read_at);
	u32 r = ring3_call(write ? u_write : u_read, (u32)(ustack + sizeof(ustack)));
	g_resume = 0;
	return r;
}

/* expected: one #PF with this error code and CR2, saved EIP at the access, saved CS. */
static void expect_pf(const char *name, u32 error, u32 cr2, u32 cs)
{
	CHECK(g_count, 1, "%s: one fault", name);
	CHECK(g_vector, 14, "%s: vector #PF", name);
	CHECK(g_error, error, "%s: error code", name);
	CHECK(g_cr2, cr2, "%s: CR2", name);
	CHECK(g_eip, g_at, "%s: saved EIP is the faulting instruction", name);
	CHECK(g_cs, cs, "%s: saved CS", name);
}

static void map(int slot, u32 frame_addr, u32 flags)
{
	pt2[slot] = frame_addr | flags;
	invlpg(TP(slot));
}

typedef u32 (*fn0)(void);

void test_main(void)
{
	rt_set_handler(14, recorder);
	rt_set_handler(13, recorder);
	ring3_init();

	/* Identity map of 0..4 MiB in 4 KiB pages; page 0 not present; only the .user pages U/S=1.
	 * The PDEs themselves allow user access, so the PTE decides. */
	for (u32 p = 1; p < 1024; p++) {
		u32 a = p << 12;
		pt0[p] = a | PTE_P | PTE_W;
		if (a >= (u32)__user_start && a < (u32)__user_end) pt0[p] |= PTE_U;
	}
	pd[0] = (u32)pt0 | PTE_P | PTE_W | PTE_U;
	pd[2] = (u32)pt2 | PTE_P | PTE_W | PTE_U;
	for (int i = 0; i < 10; i++) memset(frames[i], 0, 4096);
	pt2[SLOT_CROSS_LO] = (u32)frames[1] | PTE_P | PTE_W;
	pt2[SLOT_CROSS_HI] = (u32)frames[0] | PTE_P | PTE_W;
	pt2[SLOT_RO] = (u32)frames[2] | PTE_P;
	pt2[SLOT_AD] = (u32)frames[3] | PTE_P | PTE_W;
	pt2[SLOT_SWAP] = (u32)frames[4] | PTE_P | PTE_W;
	pt2[SLOT_ALIAS] = (u32)frames[CODE_FRAME] | PTE_P | PTE_W;
	pt2[SLOT_URO] = (u32)frames[6] | PTE_P | PTE_U;
	pt2[SLOT_SUPER] = (u32)frames[7] | PTE_P | PTE_W;
	wr_cr3((u32)pd);
	wr_cr0(rd_cr0() | CR0_PG);
	__asm__ volatile("jmp 1f\n1:");
	CHECK(rd_cr0() & CR0_PG, CR0_PG, "CR0.PG set, still running (identity map)");
	CHECK(rd_cr3(), (u32)pd, "CR3 reads back");
	static volatile u32 probe = 0x1dea1;
	CHECK(rd32((u32)&probe), 0x1dea1, "identity-mapped data reads back");

	/* 4 MiB page (PSE) at linear 4 MiB aliasing physical 0. */
	u32 a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1));
	CHECK((d >> 3) & 1, 1, "CPUID.1:EDX.PSE");
	wr_cr4(rd_cr4() | CR4_PSE);
	pd[1] = 0x00000000u | PDE_PS | PTE_P | PTE_W;
	invlpg(BIG_BASE);
	CHECK(rd32(BIG_BASE + (u32)&probe), 0x1dea1, "4 MiB page: read through the alias");
	wr32(BIG_BASE + (u32)&probe, 0xb16);
	CHECK(probe, 0xb16, "4 MiB page: write through the alias seen through the identity map");
	CHECK(pd[1] & (PTE_A | PTE_D), PTE_A | PTE_D, "4 MiB page: PDE accessed and dirty set");

	/* Page-crossing accesses: linear pages CROSS_LO, CROSS_HI -> frames 1, 0. */
	u32 cross = TP(SLOT_CROSS_LO) + 0xffe;
	wr32(cross, 0x44332211);
	CHECK(frames[1][0xffe] | frames[1][0xfff] << 8, 0x2211, "crossing dword write: low half at the end of frame 1");
	CHECK(frames[0][0] | frames[0][1] << 8, 0x4433, "crossing dword write: high half at the start of frame 0");
	frames[1][0xfff] = 0xaa; frames[0][0] = 0xbb; frames[0][1] = 0xcc; frames[0][2] = 0xdd;
	CHECK(rd32(TP(SLOT_CROSS_LO) + 0xfff), 0xddccbbaa, "crossing dword read (3 bytes in the second page)");
	CHECK(*(volatile u16 *)(TP(SLOT_CROSS_LO) + 0xfff), 0xbbaa, "crossing word read");
	*(volatile u16 *)(TP(SLOT_CROSS_LO) + 0xfff) = 0x1234;
	CHECK(frames[1][0xfff] | frames[0][0] << 8, 0x1234, "crossing word write");
	/* a crossing write whose second page is not present: #PF with CR2 in the second page (whether
	 * bytes of the first page were written is not architecturally specified: not checked) */
	pt2[SLOT_CROSS_HI] = 0;
	invlpg(TP(SLOT_CROSS_HI));
	reset();
	r0_write(TP(SLOT_CROSS_LO) + 0xffe, 0x99999999);
	expect_pf("crossing write, second page not present", PF_W, TP(SLOT_CROSS_HI), SEL_CODE32);
	map(SLOT_CROSS_HI, (u32)frames[0], PTE_P | PTE_W);

	/* Not-present read and write. */
	reset();
	u32 v = r0_read(TP(SLOT_NP) + 0x10);
	expect_pf("not-present read (ring 0)", 0, TP(SLOT_NP) + 0x10, SEL_CODE32);
	CHECK(v, 0xfa17ed, "not-present read did not complete");
	reset();
	r0_write(TP(SLOT_NP) + 0x24, 1);
	expect_pf("not-present write (ring 0)", PF_W, TP(SLOT_NP) + 0x24, SEL_CODE32);

	/* CR0.WP: a supervisor write to a read-only page succeeds with WP=0, faults with WP=1. */
	wr_cr0(rd_cr0() & ~CR0_WP);
	wr_cr3(rd_cr3());
	reset();
	r0_write(TP(SLOT_RO) + 8, 0x3b0);
	CHECK(g_count, 0, "WP=0: supervisor write to a read-only page: no fault");
	CHECK(rd32((u32)frames[2] + 8), 0x3b0, "WP=0: the write landed");
	wr_cr0(rd_cr0() | CR0_WP);
	wr_cr3(rd_cr3());
	reset();
	r0_write(TP(SLOT_RO) + 12, 0x3b1);
	expect_pf("WP=1: supervisor write to a read-only page", PF_P | PF_W, TP(SLOT_RO) + 12, SEL_CODE32);
	CHECK(rd32((u32)frames[2] + 12), 0, "WP=1: the write did not land");
	CHECK(r0_read(TP(SLOT_RO) + 8), 0x3b0, "WP=1: reading the read-only page works");

	/* U/S from ring 3. */
	wr32((u32)frames[6] + 4, 0x0e0e);
	reset();
	CHECK(user_access(0, TP(SLOT_URO) + 4), 0x0e0e, "ring 3 read of a user read-only page");
	CHECK(g_count, 0, "ring 3 read of a user page: no fault");
	reset();
	user_access(1, TP(SLOT_URO) + 4);
	expect_pf("ring 3 write to a user read-only page", PF_U | PF_W | PF_P, TP(SLOT_URO) + 4, SEL_UCODE);
	CHECK(rd32(TP(SLOT_URO) + 4), 0x0e0e, "ring 3 write to a read-only page did not land");
	wr32(TP(SLOT_SUPER), 0x5e);
	reset();
	v = user_access(0, TP(SLOT_SUPER));
	expect_pf("ring 3 read of a supervisor page", PF_U | PF_P, TP(SLOT_SUPER), SEL_UCODE);
	CHECK(v, 0xfa17ed, "ring 3 read of a supervisor page did not complete");
	reset();
	user_access(1, TP(SLOT_SUPER) + 0x20);
	expect_pf("ring 3 write to a supervisor page", PF_U | PF_W | PF_P, TP(SLOT_SUPER) + 0x20, SEL_UCODE);
	reset();
	user_access(0, TP(SLOT_NP) + 0x30);
	expect_pf("ring 3 read of a not-present page", PF_U, TP(SLOT_NP) + 0x30, SEL_UCODE);
	/* the user page bit must be set at both levels: clear U in the PDE of a user page's table */
	pd[2] &= ~PTE_U;
	wr_cr3(rd_cr3());
	reset();
	user_access(0, TP(SLOT_URO) + 4);
	expect_pf("ring 3 read, PTE U=1 but PDE U=0", PF_U | PF_P, TP(SLOT_URO) + 4, SEL_UCODE);
	pd[2] |= PTE_U;
	wr_cr3(rd_cr3());

	/* Accessed and dirty bits. */
	pt2[SLOT_AD] &= ~(PTE_A | PTE_D);
	pd[2] &= ~(PTE_A | PTE_D);
	wr_cr3(rd_cr3());
	CHECK(pt2[SLOT_AD] & (PTE_A | PTE_D), 0, "A/D: PTE bits clear before any access");
	(void)rd32(TP(SLOT_AD));
	CHECK(pt2[SLOT_AD] & (PTE_A | PTE_D), PTE_A, "A/D: read sets PTE.A only");
	CHECK(pd[2] & PTE_A, PTE_A, "A/D: read sets PDE.A");
	wr32(TP(SLOT_AD), 1);
	CHECK(pt2[SLOT_AD] & (PTE_A | PTE_D), PTE_A | PTE_D, "A/D: write sets PTE.D");
	CHECK(pd[2] & PTE_D, 0, "A/D: PDE.D stays clear for a 4 KiB page table");
	/* a write as the first access after a flush sets both */
	pt2[SLOT_AD] &= ~(PTE_A | PTE_D);
	invlpg(TP(SLOT_AD));
	wr32(TP(SLOT_AD) + 4, 2);
	CHECK(pt2[SLOT_AD] & (PTE_A | PTE_D), PTE_A | PTE_D, "A/D: first access a write sets A and D");

	/* INVLPG and CR3 reload after retargeting a PTE. */
	wr32((u32)frames[4], 0xf4a);
	wr32((u32)frames[5], 0xf5b);
	CHECK(rd32(TP(SLOT_SWAP)), 0xf4a, "swap page: frame 4 before the change");
	pt2[SLOT_SWAP] = (u32)frames[5] | PTE_P | PTE_W;
	invlpg(TP(SLOT_SWAP));
	CHECK(rd32(TP(SLOT_SWAP)), 0xf5b, "after PTE change + INVLPG: frame 5");
	pt2[SLOT_SWAP] = (u32)frames[4] | PTE_P | PTE_W;
	wr_cr3(rd_cr3());
	CHECK(rd32(TP(SLOT_SWAP)), 0xf4a, "after PTE change + CR3 reload: frame 4");
	pt2[SLOT_SWAP] = 0;
	invlpg(TP(SLOT_SWAP));
	reset();
	r0_read(TP(SLOT_SWAP));
	expect_pf("after clearing P + INVLPG", 0, TP(SLOT_SWAP), SEL_CODE32);
	/* a new PDE (page table) after a CR3 reload */
	pd[3] = (u32)pt2 | PTE_P | PTE_W;
	wr_cr3(rd_cr3());
	CHECK(rd32(0x00c00000u + SLOT_CROSS_LO * 0x1000 + 0xffe), rd32(TP(SLOT_CROSS_LO) + 0xffe),
	      "a second PDE sharing the page table maps the same frames");

	/* Global pages. */
	CHECK((d >> 13) & 1, 1, "CPUID.1:EDX.PGE");
	wr_cr4(rd_cr4() | CR4_PGE);
	CHECK(rd_cr4() & CR4_PGE, CR4_PGE, "CR4.PGE set");
	pt2[SLOT_GLOBAL] = (u32)frames[8] | PTE_P | PTE_W | PTE_G;
	invlpg(TP(SLOT_GLOBAL));
	wr32(TP(SLOT_GLOBAL), 0x610ba1);
	CHECK(rd32((u32)frames[8]), 0x610ba1, "global page: write through it lands in its frame");
	wr_cr4(rd_cr4() & ~CR4_PGE);   /* clearing PGE flushes everything, global entries included */
	pt2[SLOT_GLOBAL] = (u32)frames[5] | PTE_P | PTE_W | PTE_G;
	wr_cr4(rd_cr4() | CR4_PGE);
	CHECK(rd32(TP(SLOT_GLOBAL)), 0xf5b, "global page retargeted while PGE was off: new frame used");
	wr_cr4(rd_cr4() & ~CR4_PGE);

	/* Code rewritten through an alias (linear SLOT_ALIAS -> the code frame), executed through the
	 * identity mapping of that frame. */
	u8 *code = frames[CODE_FRAME];
	u8 *alias = (u8 *)TP(SLOT_ALIAS);
	fn0 f = (fn0)code;
	code[0] = 0xb8; code[1] = 0x11; code[2] = 0x11; code[3] = 0; code[4] = 0; code[5] = 0xc3;   /* mov $0x1111,%eax; ret */
	u32 sum = 0;
	for (int i = 0; i < 1000; i++) sum += f();
	CHECK(sum, 1000 * 0x1111, "generated code runs (warm-up, 1000 calls)");
	alias[1] = 0x22; alias[2] = 0x22;
	CHECK(f(), 0x2222, "immediate rewritten through the alias takes effect");
	sum = 0;
	for (u32 i = 0; i < 500; i++) {
		alias[1] = (u8)i;
		alias[2] = (u8)(i >> 8);
		sum += f() ^ i;
	}
	CHECK(sum, 0, "500 rewrites through the alias, each executed through the original mapping");
	/* replace the instruction itself: mov $imm,%eax -> xor %eax,%eax; dec %eax; nop x3 */
	alias[0] = 0x31; alias[1] = 0xc0; alias[2] = 0x48; alias[3] = 0x90; alias[4] = 0x90;
	CHECK(f(), 0xffffffff, "new instruction bytes through the alias");

	/* Code called through a linear page whose PTE is retargeted: once warm (an emulator may remember
	 * where the call went: block links, a JIT's jump cache), INVLPG must make the new frame's code run;
	 * INVLPGs of another page in between must not disturb either version. */
	u8 *ca = frames[CODE_A], *cb = frames[CODE_B];
	ca[0] = 0xb8; ca[1] = 0xa1; ca[2] = 0xa1; ca[3] = 0; ca[4] = 0; ca[5] = 0xc3;   /* mov $0xa1a1,%eax; ret */
	cb[0] = 0xb8; cb[1] = 0xb2; cb[2] = 0xb2; cb[3] = 0; cb[4] = 0; cb[5] = 0xc3;   /* mov $0xb2b2,%eax; ret */
	fn0 g = (fn0)TP(SLOT_CODE);
	map(SLOT_CODE, (u32)ca, PTE_P | PTE_W);
	sum = 0;
	for (int i = 0; i < 1000; i++) { sum += g(); invlpg(TP(SLOT_SWAP)); }
	CHECK(sum, 1000 * 0xa1a1, "code page: frame A runs (1000 calls, INVLPG of another page between them)");
	map(SLOT_CODE, (u32)cb, PTE_P | PTE_W);
	CHECK(g(), 0xb2b2, "code page retargeted + INVLPG: frame B runs");
	sum = 0;
	for (u32 i = 0; i < 400; i++) {
		if (i % 100 == 0) map(SLOT_CODE, (u32)((i / 100) & 1 ? ca : cb), PTE_P | PTE_W);
		invlpg(TP(SLOT_SWAP));
		sum += g() ^ ((i / 100) & 1 ? 0xa1a1 : 0xb2b2);
	}
	CHECK(sum, 0, "code page retargeted every 100 calls: each frame's code runs after its INVLPG");
	/* The same with a CR3 reload instead of INVLPG (the page is not global). */
	map(SLOT_CODE, (u32)ca, PTE_P | PTE_W);
	sum = 0;
	for (u32 i = 0; i < 400; i++) {
		if (i % 100 == 0) { pt2[SLOT_CODE] = (u32)((i / 100) & 1 ? cb : ca) | PTE_P | PTE_W; wr_cr3(rd_cr3()); }
		sum += g() ^ ((i / 100) & 1 ? 0xb2b2 : 0xa1a1);
	}
	CHECK(sum, 0, "code page retargeted every 100 calls: each frame's code runs after a CR3 reload");

	rt_finish("paging");
}
