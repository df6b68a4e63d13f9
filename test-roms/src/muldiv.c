/* muldiv: MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV at 8/16/32 bits, with CF/OF for the
 * multiplies, untouched upper register bits, and #DE (vector 0) for a zero divisor and for quotient
 * overflow: the fault must point at the DIV/IDIV (EIP of the instruction, registers unchanged); the
 * handler skips it by moving the saved EIP. Expected values come from 64-bit C arithmetic. */
#include "rt.h"

static u32 wmask(int w) { return w == 32 ? 0xffffffffu : (1u << w) - 1; }
static s64 sext(u64 v, int w) { return (s64)(v << (64 - w)) >> (64 - w); }

/* 64/64 unsigned division by shift-and-subtract (no libgcc in a freestanding ROM). */
static u64 udiv64(u64 n, u64 d, u64 *rem)
{
	u64 q = 0, r = 0;
	for (int i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) { r -= d; q |= 1ull << i; }
	}
	*rem = r;
	return q;
}

struct regs { u32 eax, edx, fl; };

/* ---- one-operand forms: EDX:EAX-style accumulator ---- */
#define ACC(fn, insn, mod, cons)                                                                   \
	static struct regs fn(u32 eax, u32 edx, u32 b)                                         \
	{                                                                                      \
		struct regs o;                                                                 \
		__asm__ volatile("pushl $2\n\tpopfl\n\t" insn " %" mod "3\n\tpushfl\n\tpopl %2"       \
				 : "+a"(eax), "+d"(edx), "=&r"(o.fl) : cons(b) : "cc");        \
		o.eax = eax; o.edx = edx;                                                      \
		return o;                                                                      \
	}
ACC(mul8, "mulb", "b", "q") ACC(mul16, "mulw", "w", "r") ACC(mul32, "mull", "", "r")
ACC(imul8, "imulb", "b", "q") ACC(imul16, "imulw", "w", "r") ACC(imul32, "imull", "", "r")
ACC(div8, "divb", "b", "q") ACC(div16, "divw", "w", "r") ACC(div32, "divl", "", "r")
ACC(idiv8, "idivb", "b", "q") ACC(idiv16, "idivw", "w", "r") ACC(idiv32, "idivl", "", "r")
/* memory operand variants */
ACC(mul32m, "mull", "", "m") ACC(imul16m, "imulw", "", "m") ACC(div8m, "divb", "", "m") ACC(idiv32m, "idivl", "", "m")

typedef struct regs (*acc_fn)(u32, u32, u32);
enum { MUL, IMUL, DIV, IDIV };
static const char *const names[] = { "mul", "imul", "div", "idiv" };
static const acc_fn acc_fns[4][3] = {
	{ mul8, mul16, mul32 }, { imul8, imul16, imul32 }, { div8, div16, div32 }, { idiv8, idiv16, idiv32 } };

/* Expected registers for MUL/IMUL; returns CF=OF as flags. */
static struct regs model_mul(int op, u32 eax, u32 edx, u32 b, int w)
{
	u32 m = wmask(w);
	u64 a = eax & m, p;
	int wide;
	b &= m;
	if (op == MUL) {
		p = a * (u64)b;
		wide = (p >> w) != 0;
	} else {
		s64 sp = sext(a, w) * sext(b, w);
		p = (u64)sp;
		wide = sext(p & m, w) != sp;
	}
	struct regs o = { eax, edx, wide ? (FL_CF | FL_OF) : 0 };
	if (w == 8) o.eax = (eax & 0xffff0000) | (u32)(p & 0xffff);
	else if (w == 16) { o.eax = (eax & 0xffff0000) | (u32)(p & 0xffff); o.edx = (edx & 0xffff0000) | (u32)((p >> 16) & 0xffff); }
	else { o.eax = (u32)p; o.edx = (u32)(p >> 32); }
	return o;
}

/* Dividend for a width: AX, DX:AX or EDX:EAX */
static u64 dividend(u32 eax, u32 edx, int w)
{
	if (w == 8) return eax & 0xffff;
	if (w == 16) return ((edx & 0xffff) << 16) | (eax & 0xffff);
	return ((u64)edx << 32) | eax;
}

/* Expected registers for DIV/IDIV; returns 0 when the CPU must raise #DE. */
static int model_div(int op, u32 eax, u32 edx, u32 b, int w, struct regs *o)
{
	u32 m = wmask(w);
	u64 n = dividend(eax, edx, w), q, r;
	b &= m;
	if (b == 0) return 0;
	if (op == DIV) {
		q = udiv64(n, b, &r);
		if (q > m) return 0;
	} else {
		s64 sn = sext(n, 2 * w), sb = sext(b, w);
		int negq = (sn < 0) != (sb < 0);
		u64 uq = udiv64(sn < 0 ? (u64)-sn : (u64)sn, sb < 0 ? (u64)-sb : (u64)sb, &r);
		s64 sq = negq ? -(s64)uq : (s64)uq;       /* truncates toward zero */
		s64 sr = sn < 0 ? -(s64)r : (s64)r;       /* remainder has the dividend's sign */
		if (sq != sext((u64)sq & m, w)) return 0;
		q = (u64)sq;
		r = (u64)sr;
	}
	q &= m;
	r &= m;
	o->eax = eax; o->edx = edx; o->fl = 0;
	if (w == 8) o->eax = (eax & 0xffff0000) | (u32)(r << 8) | (u32)q;
	else if (w == 16) { o->eax = (eax & 0xffff0000) | (u32)q; o->edx = (edx & 0xffff0000) | (u32)r; }
	else { o->eax = (u32)q; o->edx = (u32)r; }
	return 1;
}

static const u32 mvals[3][5] = {
	{ 0x00, 0x01, 0x7f, 0x80, 0xff },
	{ 0x0000, 0x0003, 0x7fff, 0x8000, 0xffff },
	{ 0x00000000, 0x00000007, 0x7fffffff, 0x80000000, 0xffffffff },
};
static const int widths[3] = { 8, 16, 32 };

static void check_regs(struct regs g, struct regs e, u32 flmask, const char *what, int w, u32 a, u32 d, u32 b)
{
	CHECK(g.eax, e.eax, "%s%d eax 0x%x:0x%x,0x%x", what, w, d, a, b);
	CHECK(g.edx, e.edx, "%s%d edx 0x%x:0x%x,0x%x", what, w, d, a, b);
	if (flmask) CHECK(g.fl & flmask, e.fl & flmask, "%s%d cf/of 0x%x:0x%x,0x%x", what, w, d, a, b);
}

static void test_mul(void)
{
	for (int op = MUL; op <= IMUL; op++)
		for (int s = 0; s < 3; s++)
			for (int i = 0; i < 5; i++)
				for (int j = 0; j < 5; j++) {
					int w = widths[s];
					/* junk above the operand width must survive */
					u32 eax = (w == 32 ? 0 : 0xa5a50000u) | mvals[s][i], edx = 0x5a5a5a5a, b = mvals[s][j];
					struct regs e = model_mul(op, eax, edx, b, w);
					struct regs g = acc_fns[op][s](eax, edx, b | (w == 32 ? 0 : 0xc3000000u));
					check_regs(g, e, FL_CF | FL_OF, names[op], w, eax, edx, b);
				}
	u32 v = 0x10001;
	struct regs e = model_mul(MUL, 0xffffffff, 0, v, 32), g = mul32m(0xffffffff, 0, v);
	check_regs(g, e, FL_CF | FL_OF, "mul mem", 32, 0xffffffff, 0, v);
	u16 h = 0xff00;
	e = model_mul(IMUL, 0x1234ff00, 0x11112222, h, 16);
	g = imul16m(0x1234ff00, 0x11112222, h);
	check_regs(g, e, FL_CF | FL_OF, "imul mem", 16, 0x1234ff00, 0x11112222, h);
}

/* Two- and three-operand IMUL: truncated product, CF=OF when it did not fit. */
#define IMUL2(fn, insn, T)                                                                    \
	static struct regs fn(u32 a, u32 b)                                                    \
	{                                                                                      \
		struct regs o;                                                                 \
		T r = (T)a;                                                                    \
		__asm__ volatile("pushl $2\n\tpopfl\n\t" insn " %2, %0\n\tpushfl\n\tpopl %1"   \
				 : "+r"(r), "=&r"(o.fl) : "rm"((T)b) : "cc");                  \
		o.eax = r; o.edx = 0;                                                          \
		return o;                                                                      \
	}
IMUL2(imul2_16, "imulw", u16) IMUL2(imul2_32, "imull", u32)
#define IMUL3(fn, insn, T, imm)                                                               \
	static struct regs fn(u32 a, u32 b)                                                    \
	{                                                                                      \
		struct regs o;                                                                 \
		T r;                                                                           \
		__asm__ volatile("pushl $2\n\tpopfl\n\t" insn " $" #imm ", %2, %0\n\tpushfl\n\tpopl %1" \
				 : "=&r"(r), "=&r"(o.fl) : "rm"((T)a) : "cc");                 \
		o.eax = r; o.edx = 0;                                                          \
		return o;                                                                      \
	}
IMUL3(imul3_16_s8, "imulw", u16, -3) IMUL3(imul3_16_i16, "imulw", u16, 0x1234)
IMUL3(imul3_32_s8, "imull", u32, 127) IMUL3(imul3_32_i32, "imull", u32, -0x12345)

static void test_imul_forms(void)
{
	static const struct { const char *name; struct regs (*fn)(u32, u32); int w; u32 imm; } forms[] = {
		{ "imul r16,rm16", imul2_16, 16, 0 }, { "imul r32,rm32", imul2_32, 32, 0 },
		{ "imul r16,rm16,simm8", imul3_16_s8, 16, 0xfffd }, { "imul r16,rm16,imm16", imul3_16_i16, 16, 0x1234 },
		{ "imul r32,rm32,simm8", imul3_32_s8, 32, 127 }, { "imul r32,rm32,imm32", imul3_32_i32, 32, (u32)-0x12345 },
	};
	for (unsigned k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
		int s = forms[k].w == 16 ? 1 : 2, w = forms[k].w;
		for (int i = 0; i < 5; i++)
			for (int j = 0; j < (forms[k].imm ? 1 : 5); j++) {
				u32 a = mvals[s][i], b = forms[k].imm ? forms[k].imm : mvals[s][j];
				struct regs e = model_mul(IMUL, a, 0, b, w);
				struct regs g = forms[k].fn(a, b);
				CHECK(g.eax & wmask(w), e.eax & wmask(w), "%s 0x%x,0x%x", forms[k].name, a, b);
				CHECK(g.fl & (FL_CF | FL_OF), e.fl, "%s cf/of 0x%x,0x%x", forms[k].name, a, b);
			}
	}
}

static const u32 dividends[3][5][2] = {   /* {edx, eax} */
	{ { 0, 0x0000 }, { 0, 0x00ff }, { 0, 0x7fff }, { 0, 0xff80 }, { 0, 0x1234 } },
	{ { 0x0000, 0x0000 }, { 0x0000, 0xffff }, { 0x7fff, 0x1234 }, { 0xffff, 0x8000 }, { 0x0012, 0x3456 } },
	{ { 0, 0 }, { 0, 0xffffffff }, { 0x7fffffff, 0x12345678 }, { 0xffffffff, 0x80000000 }, { 0x00000123, 0x456789ab } },
};
static const u32 divisors[3][5] = {
	{ 0x01, 0x07, 0x7f, 0x80, 0xff },
	{ 0x0001, 0x0007, 0x7fff, 0x8000, 0xffff },
	{ 0x00000001, 0x00000007, 0x7fffffff, 0x80000000, 0xffffffff },
};

static void test_div(void)
{
	for (int op = DIV; op <= IDIV; op++)
		for (int s = 0; s < 3; s++)
			for (int i = 0; i < 5; i++)
				for (int j = 0; j < 5; j++) {
					int w = widths[s];
					u32 eax = dividends[s][i][1] | (w == 32 ? 0 : 0x3c3c0000u);
					u32 edx = dividends[s][i][0] | (w == 32 ? 0 : 0x99990000u), b = divisors[s][j];
					struct regs e;
					if (!model_div(op, eax, edx, b, w, &e)) continue;   /* overflow: see test_de */
					struct regs g = acc_fns[op][s](eax, edx, b);
					check_regs(g, e, 0, names[op], w, eax, edx, b);
				}
	struct regs e, g;
	u8 b8 = 0x10;
	model_div(DIV, 0x0fff, 0, b8, 8, &e);
	g = div8m(0x0fff, 0, b8);
	check_regs(g, e, 0, "div mem", 8, 0x0fff, 0, b8);
	u32 b32 = 0xfffffff9;
	model_div(IDIV, 0x9abcdef0, 0xffffffff, b32, 32, &e);
	g = idiv32m(0x9abcdef0, 0xffffffff, b32);
	check_regs(g, e, 0, "idiv mem", 32, 0x9abcdef0, 0xffffffff, b32);
}

/* ---- #DE ---- */
static volatile u32 de_count, de_vector, de_eip, de_resume;

static void de_handler(struct frame *f)
{
	de_count++;
	de_vector = f->vector;
	de_eip = f->eip;
	f->eip = de_resume;   /* skip the faulting divide */
}

/* Runs `insn` with EDX:EAX and divisor in ECX or memory; reports the fault EIP label. */
#define DE_CASE(fn, insn)                                                                     \
	static struct regs fn(u32 eax, u32 edx, u32 b, u32 *at)                                \
	{                                                                                      \
		struct regs o;                                                                 \
		volatile u32 mem = b;                                                          \
		__asm__ volatile("movl $1f, %[res]\n\tmovl $0f, %[at]\n"                       \
				 "0:\t" insn "\n1:\n"                                          \
				 : "+a"(eax), "+d"(edx), [res] "=m"(de_resume), [at] "=m"(*at) \
				 : "c"(b), [mem] "m"(mem) : "cc", "memory");                   \
		o.eax = eax; o.edx = edx; o.fl = 0;                                            \
		return o;                                                                      \
	}
DE_CASE(de_div32, "divl %%ecx")
DE_CASE(de_div8, "divb %%cl")
DE_CASE(de_div16m, "divw %[mem]")
DE_CASE(de_idiv32, "idivl %%ecx")
DE_CASE(de_idiv16, "idivw %%cx")
DE_CASE(de_idiv8m, "idivb %[mem]")
DE_CASE(de_div32_ovf, "divl %%ecx")

static void test_de(void)
{
	static const struct { const char *name; struct regs (*fn)(u32, u32, u32, u32 *); u32 eax, edx, b; } cases[] = {
		{ "div32 by zero", de_div32, 0x12345678, 0, 0 },
		{ "div8 quotient overflow 0x1000/0x10", de_div8, 0x00001000, 0, 0x10 },
		{ "div16 mem by zero", de_div16m, 0x1234, 0x5678, 0 },
		{ "idiv32 INT_MIN/-1", de_idiv32, 0x80000000, 0xffffffff, 0xffffffff },
		{ "idiv16 -32768/-1", de_idiv16, 0x8000, 0xffff, 0xffff },
		{ "idiv8 mem -128/-1", de_idiv8m, 0xff80, 0, 0xff },
		{ "div32 quotient overflow edx>=divisor", de_div32_ovf, 0, 7, 7 },
	};
	rt_set_handler(0, de_handler);
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		u32 at = 0, before = de_count;
		struct regs g = cases[k].fn(cases[k].eax, cases[k].edx, cases[k].b, &at);
		CHECK(de_count - before, 1, "#DE %s raised once", cases[k].name);
		CHECK(de_vector, 0, "#DE %s vector", cases[k].name);
		CHECK(de_eip == at, 1, "#DE %s saved EIP = the divide instruction", cases[k].name);
		CHECK(g.eax, cases[k].eax, "#DE %s eax unchanged", cases[k].name);
		CHECK(g.edx, cases[k].edx, "#DE %s edx unchanged", cases[k].name);
	}
}

void test_main(void)
{
	test_mul();
	test_imul_forms();
	test_div();
	test_de();
	rt_finish("muldiv");
}
