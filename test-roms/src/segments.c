/* segments: DS/ES/FS/GS/SS loaded with descriptors that have a non-zero base (accesses must add it,
 * with 32-bit wrap-around), an expand-down data segment used inside its valid range, LDS/LES/LFS/LGS/LSS,
 * segment-override prefixes, LAR/LSL/VERR/VERW over a table of descriptors and selectors, a far jump to
 * a 16-bit code segment (16-bit operand/address size, prefixes, wrap of 16-bit addresses) and back,
 * a far call with a 32-bit far return from 16-bit code, and conforming code segments.
 * Segment-limit enforcement is not checked: QEMU's TCG does not implement it. */
#include "rt.h"

extern u32 rt_gdt[];
extern u8 code16_start[], conf_start[];
extern u32 code16_fn_off, conf_eip_off;
void code16_test(u32 *out);

#define SEL_BASED     0x18   /* data, base = buf - 0x1000 */
#define SEL_EXPDOWN   0x20   /* data expand-down, base = buf - 0x10000, limit 0xffff: valid 0x10000.. */
#define SEL_WRAP      0x28   /* data, base 0xfff00000, 4 GiB: offsets wrap around 2^32 */
#define SEL_STACK     0x30   /* stack, base = stackbuf */
#define SEL_CODE16    0x38   /* 16-bit code, base = code16_start */
#define SEL_CONF0     0x40   /* conforming code, DPL0, base = conf_start */
#define SEL_CONF3     0x48   /* conforming code, DPL3, readable */
#define SEL_EXECONLY  0x50
#define SEL_READONLY  0x58
#define SEL_NOTPRES   0x60
#define SEL_LDT       0x68   /* system: LDT */
#define SEL_CALLGATE  0x70   /* system: 32-bit call gate */
#define SEL_DPL3DATA  0x78
#define SEL_TSS       0x80   /* system: available 32-bit TSS */

static u32 buf[64];
static u8 stackbuf[0x1000] __attribute__((aligned(16)));

static volatile u32 g_resume, g_count, g_vector, g_error;
static void recorder(struct frame *f)
{
	g_count++;
	g_vector = f->vector;
	g_error = f->error;
	f->eip = g_resume;
}

static void test_bases(void)
{
	u32 v;
	for (int i = 0; i < 64; i++) buf[i] = 0x01010101u * (u32)i;
	/* DS with a base: read and write through it, then restore */
	__asm__ volatile("movw %w1, %%ds\n\tmovl 0x1008, %0\n\tmovl $0xfeedface, 0x100c\n\tmovw %w2, %%ds"
			 : "=&r"(v) : "r"(SEL_BASED), "r"(SEL_DATA32) : "memory");
	CHECK(v, buf[2], "ds base: read offset 0x1008 = buf[2]");
	CHECK(buf[3], 0xfeedface, "ds base: write offset 0x100c lands in buf[3]");
	__asm__ volatile("movw %w1, %%es\n\tmovl %%es:0x1010, %0\n\tmovw %w2, %%es" : "=&r"(v) : "r"(SEL_BASED), "r"(SEL_DATA32));
	CHECK(v, buf[4], "es override with base");
	__asm__ volatile("movw %w0, %%fs\n\tmovl $0x12121212, %%fs:0x1014\n\tmovw %w1, %%fs" : : "r"(SEL_BASED), "r"(SEL_DATA32) : "memory");
	CHECK(buf[5], 0x12121212, "fs override with base (write)");
	__asm__ volatile("movw %w1, %%gs\n\tmovl %%gs:0x1018, %0\n\tmovw %w2, %%gs" : "=&r"(v) : "r"(SEL_BASED), "r"(SEL_DATA32));
	CHECK(v, buf[6], "gs override with base");
	/* string instruction through ES with a base: STOSD writes ES:EDI */
	u32 d = 0x1020, c = 2;
	__asm__ volatile("movw %w3, %%es\n\trep stosl\n\tmovw %w4, %%es" : "+D"(d), "+c"(c) : "a"(0x77777777), "r"(SEL_BASED), "r"(SEL_DATA32) : "memory");
	CHECK(buf[8] == 0x77777777 && buf[9] == 0x77777777, 1, "rep stosd through es base");
	CHECK(d, 0x1028, "rep stosd EDI is an offset, not a linear address");
	/* expand-down: offsets above the limit are the valid ones */
	__asm__ volatile("movw %w1, %%es\n\tmovl %%es:0x10028, %0\n\tmovw %w2, %%es" : "=&r"(v) : "r"(SEL_EXPDOWN), "r"(SEL_DATA32));
	CHECK(v, buf[10], "expand-down segment: offset 0x10028 = buf[10]");
	/* base 0xfff00000 + offset wraps modulo 2^32 */
	u32 off = (u32)&buf[11] + 0x100000;
	__asm__ volatile("movw %w2, %%fs\n\tmovl %%fs:(%1), %0\n\tmovw %w3, %%fs" : "=&r"(v) : "r"(off), "r"(SEL_WRAP), "r"(SEL_DATA32));
	CHECK(v, buf[11], "base + offset wraps around 4 GiB");
	/* CS override reads code/data through CS (base 0, readable) */
	static const u32 konst = 0x600dc0de;
	__asm__ volatile("movl %%cs:(%1), %0" : "=r"(v) : "r"(&konst));
	CHECK(v, 0x600dc0de, "cs override read");
	__asm__ volatile("movl %%ss:(%1), %0" : "=r"(v) : "r"(&konst));
	CHECK(v, 0x600dc0de, "ss override read");
}

static volatile u32 g_saved_esp, g_out_esp;
static void test_stack_base(void)
{
	memset(stackbuf, 0, sizeof(stackbuf));
	__asm__ volatile("movl %%esp, g_saved_esp\n\t"
			 "movw %w0, %%ss\n\tmovl $0x800, %%esp\n\t"
			 "pushl $0x13572468\n\tpushw $0xabcd\n\tcall 1f\n1:\tmovl %%esp, g_out_esp\n\t"
			 "movw %w1, %%ss\n\tmovl g_saved_esp, %%esp"
			 : : "r"(SEL_STACK), "r"(SEL_DATA32) : "memory");
	u32 pushed = stackbuf[0x7fc] | stackbuf[0x7fd] << 8 | stackbuf[0x7fe] << 16 | (u32)stackbuf[0x7ff] << 24;
	CHECK(pushed, 0x13572468, "ss base: push lands at base + ESP");
	CHECK(stackbuf[0x7fa] | stackbuf[0x7fb] << 8, 0xabcd, "ss base: 16-bit push below it");
	CHECK(g_out_esp, 0x7f6, "ss base: ESP is an offset (after pushl, pushw, call)");
}

static void test_far_pointers(void)
{
	static struct { u32 off; u16 sel; } __attribute__((packed)) fp = { 0x1030, SEL_BASED };
	u32 off, v;
	__asm__ volatile("lfs %2, %0\n\tmovl %%fs:(%0), %1\n\tmovw %w3, %%fs"
			 : "=&r"(off), "=&r"(v) : "m"(fp), "r"(SEL_DATA32) : "memory");
	CHECK(off, 0x1030, "lfs loads the offset");
	CHECK(v, buf[12], "lfs loads the selector (read through it)");
	__asm__ volatile("lgs %1, %0\n\tmovl %%gs:4(%0), %0\n\tmovw %w2, %%gs" : "=&r"(v) : "m"(fp), "r"(SEL_DATA32));
	CHECK(v, buf[13], "lgs");
	__asm__ volatile("les %1, %0\n\tmovl %%es:8(%0), %0\n\tmovw %w2, %%es" : "=&r"(v) : "m"(fp), "r"(SEL_DATA32));
	CHECK(v, buf[14], "les");
	__asm__ volatile("pushl %%ds\n\tlds %1, %0\n\tmovl 12(%0), %0\n\tpopl %%ds" : "=&r"(v) : "m"(fp));
	CHECK(v, buf[15], "lds");
	static struct { u32 off; u16 sel; } __attribute__((packed)) sp = { 0x900, SEL_STACK };
	__asm__ volatile("movl %%esp, g_saved_esp\n\tlss %0, %%esp\n\tpushl $0x5a5aa5a5\n\tmovl %%esp, g_out_esp\n\t"
			 "movw %w1, %%ss\n\tmovl g_saved_esp, %%esp" : : "m"(sp), "r"(SEL_DATA32) : "memory");
	CHECK(g_out_esp, 0x8fc, "lss loads ESP");
	CHECK(stackbuf[0x8fc], 0xa5, "lss loads SS (push lands in stackbuf)");
}

/* LAR / LSL / VERR / VERW: ZF says whether the selector passed the checks. */
static u32 lar(u32 sel, u32 *zf)
{
	u32 r = 0xdeadbeef;
	u8 z;
	__asm__ volatile("larl %2, %0\n\tsetz %1" : "+r"(r), "=q"(z) : "r"(sel) : "cc");
	*zf = z;
	return r;
}
static u32 lsl(u32 sel, u32 *zf)
{
	u32 r = 0xdeadbeef;
	u8 z;
	__asm__ volatile("lsll %2, %0\n\tsetz %1" : "+r"(r), "=q"(z) : "r"(sel) : "cc");
	*zf = z;
	return r;
}
static u32 verr(u32 sel)
{
	u8 z;
	__asm__ volatile("verr %w1\n\tsetz %0" : "=q"(z) : "r"(sel) : "cc");
	return z;
}
static u32 verw(u32 sel)
{
	u8 z;
	__asm__ volatile("verw %w1\n\tsetz %0" : "=q"(z) : "r"(sel) : "cc");
	return z;
}

static void test_descriptor_queries(void)
{
	static const struct { u16 sel; u8 lar_ok, lsl_ok, r, w; u32 limit; const char *what; } t[] = {
		{ 0x00, 0, 0, 0, 0, 0, "null selector" },
		{ 0x08, 1, 1, 1, 0, 0xffffffff, "flat code (readable)" },
		{ 0x10, 1, 1, 1, 1, 0xffffffff, "flat data" },
		{ SEL_BASED, 1, 1, 1, 1, 0xfffff, "data with base, byte-granular limit" },
		{ SEL_EXPDOWN, 1, 1, 1, 1, 0xffff, "expand-down data" },
		{ SEL_CODE16, 1, 1, 1, 0, 0xffff, "16-bit code" },
		{ SEL_EXECONLY, 1, 1, 0, 0, 0xfff, "execute-only code" },
		{ SEL_READONLY, 1, 1, 1, 0, 0xfff, "read-only data" },
		{ SEL_DPL3DATA, 1, 1, 1, 1, 0xfff, "DPL3 data" },
		{ 0x13, 0, 0, 0, 0, 0, "RPL3 selector to DPL0 data" },
		{ SEL_CONF3 | 3, 1, 1, 1, 0, 0x1fffff, "RPL3 selector to DPL3 conforming code" },
		{ SEL_LDT, 1, 1, 0, 0, 0x17, "LDT descriptor" },
		{ SEL_CALLGATE, 1, 0, 0, 0, 0, "call gate" },
		{ SEL_TSS, 1, 1, 0, 0, 0x67, "32-bit TSS" },
		{ 0x100, 0, 0, 0, 0, 0, "selector beyond the GDT limit" },
		{ 0x0c, 0, 0, 0, 0, 0, "LDT selector with a null LDTR" },
	};
	__asm__ volatile("lldt %w0" : : "r"(0));
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		u32 zf, r = lar(t[i].sel, &zf);
		CHECK(zf, t[i].lar_ok, "lar 0x%x (%s): ZF", t[i].sel, t[i].what);
		if (t[i].lar_ok)
			CHECK(r & 0x00f0ff00, rt_gdt[(t[i].sel >> 3) * 2 + 1] & 0x00f0ff00, "lar 0x%x (%s): access rights", t[i].sel, t[i].what);
		else
			CHECK(r, 0xdeadbeef, "lar 0x%x (%s): destination unchanged", t[i].sel, t[i].what);
		r = lsl(t[i].sel, &zf);
		CHECK(zf, t[i].lsl_ok, "lsl 0x%x (%s): ZF", t[i].sel, t[i].what);
		CHECK(r, t[i].lsl_ok ? t[i].limit : 0xdeadbeef, "lsl 0x%x (%s): limit", t[i].sel, t[i].what);
		CHECK(verr(t[i].sel), t[i].r, "verr 0x%x (%s)", t[i].sel, t[i].what);
		CHECK(verw(t[i].sel), t[i].w, "verw 0x%x (%s)", t[i].sel, t[i].what);
	}
}

static void test_code16(void)
{
	u32 o[3] = { 0, 0, 0 };
	code16_test(o);
	CHECK(o[0], 0x89abe023, "16-bit code: mov imm16 / 66-prefixed mov imm32 / add r16");
	CHECK(*(volatile u16 *)0x7010, 0xe023, "16-bit code: (bx,si) address wraps at 64 KiB");
	CHECK(*(volatile u32 *)0x7020, 0x89abe023, "16-bit code: 67-prefixed 32-bit addressing");
	CHECK(o[1], 0x89ab1234, "16-bit code: two pushw then a 66-prefixed popl");
	CHECK(o[2], 2, "16-bit code: ESP 2 lower after pushw, pushw, popl, pushw");
	u32 ax;
	struct { u32 off; u16 sel; } __attribute__((packed)) target = { code16_fn_off, SEL_CODE16 };
	__asm__ volatile("lcall *%1" : "=a"(ax) : "m"(target) : "memory");
	CHECK(ax & 0xffff, 0x4242, "lcall into 16-bit code, lretl (66 CB) back");
}

static void test_conforming(void)
{
	u32 cs, eip;
	__asm__ volatile("lcall $0x40, $0" : "=a"(cs), "=d"(eip) : : "memory");
	CHECK(cs, SEL_CONF0, "conforming DPL0 code: CS inside");
	CHECK(eip, conf_eip_off, "conforming code: EIP is relative to the segment base");
	rt_set_handler(13, recorder);
	g_count = 0;
	__asm__ volatile("movl $1f, g_resume\n\tlcall $0x48, $0\n1:" : : : "memory");
	CHECK(g_count, 1, "far call to DPL3 conforming code from CPL0 faults");
	CHECK(g_vector, 13, "far call to DPL3 conforming code: #GP");
	CHECK(g_error, SEL_CONF3, "far call to DPL3 conforming code: error code = selector");
	rt_set_handler(13, 0);
}

void test_main(void)
{
	gdt_set(SEL_BASED >> 3, (u32)buf - 0x1000, 0xfffff, 0x92, 0x4);
	gdt_set(SEL_EXPDOWN >> 3, (u32)buf - 0x10000, 0xffff, 0x96, 0x4);
	gdt_set(SEL_WRAP >> 3, 0xfff00000, 0xfffff, 0x92, 0xc);
	gdt_set(SEL_STACK >> 3, (u32)stackbuf, 0xfff, 0x92, 0x4);
	gdt_set(SEL_CODE16 >> 3, (u32)code16_start, 0xffff, 0x9a, 0x0);
	gdt_set(SEL_CONF0 >> 3, (u32)conf_start, 0xfff, 0x9e, 0x4);
	gdt_set(SEL_CONF3 >> 3, 0, 0x1ff, 0xfe, 0xc);
	gdt_set(SEL_EXECONLY >> 3, 0, 0xfff, 0x98, 0x4);
	gdt_set(SEL_READONLY >> 3, 0, 0xfff, 0x90, 0x4);
	gdt_set(SEL_NOTPRES >> 3, 0, 0xfff, 0x12, 0x4);
	gdt_set(SEL_LDT >> 3, 0x7000, 0x17, 0x82, 0x0);
	/* call gate: offset 0x00123456 in selector 0x08, DPL0, 32-bit (type 0xC) */
	rt_gdt[(SEL_CALLGATE >> 3) * 2] = 0x3456 | (SEL_CODE32 << 16);
	rt_gdt[(SEL_CALLGATE >> 3) * 2 + 1] = 0x00120000 | 0x8c00;
	gdt_set(SEL_DPL3DATA >> 3, 0, 0xfff, 0xf2, 0x4);
	gdt_set(SEL_TSS >> 3, 0x6000, 0x67, 0x89, 0x0);
	test_bases();
	test_stack_base();
	test_far_pointers();
	test_descriptor_queries();
	test_code16();
	test_conforming();
	rt_finish("segments");
}
