/* alu: ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT at 8/16/32 bits with edge values.
 * Results and the defined flags (PUSHF) are compared with a C model built from the SDM definitions:
 * carries from widened arithmetic, overflow from sign bits, AF from bit 4 of a^b^r. */
#include "rt.h"

static u32 g_pass_flags;   /* flags image loaded before the instruction */

/* ---- reference model ---- */
static u32 szp(u32 r, int w)
{
	u32 mask = w == 32 ? 0xffffffffu : (1u << w) - 1;
	r &= mask;
	return (r == 0 ? FL_ZF : 0) | ((r >> (w - 1)) & 1 ? FL_SF : 0) | parity8(r);
}

enum { ADD, ADC, SUB, SBB, CMP, AND, OR, XOR, TEST };
static const char *const binop_names[] = { "add", "adc", "sub", "sbb", "cmp", "and", "or", "xor", "test" };

static u32 model_binop(int op, u32 a, u32 b, u32 cin, int w, u32 *fl)
{
	u64 mask = w == 32 ? 0xffffffffull : (1ull << w) - 1;
	u32 sign = 1u << (w - 1);
	u64 wide;
	u32 r, f = 0;
	a &= mask; b &= mask;
	switch (op) {
	case ADD: case ADC:
		if (op == ADD) cin = 0;
		wide = (u64)a + b + cin;
		r = (u32)(wide & mask);
		f = (wide > mask ? FL_CF : 0) | ((a ^ r) & (b ^ r) & sign ? FL_OF : 0) | ((a ^ b ^ r) & 0x10 ? FL_AF : 0);
		break;
	case SUB: case SBB: case CMP:
		if (op != SBB) cin = 0;
		wide = (u64)a - b - cin;
		r = (u32)(wide & mask);
		f = ((u64)a < (u64)b + cin ? FL_CF : 0) | ((a ^ b) & (a ^ r) & sign ? FL_OF : 0) |
		    ((a ^ b ^ r) & 0x10 ? FL_AF : 0);
		break;
	case AND: case TEST: r = a & b; break;
	case OR: r = a | b; break;
	default: r = a ^ b; break;
	}
	*fl = f | szp(r, w);
	return (op == CMP || op == TEST) ? a : r;
}

/* ---- the instructions ---- */
typedef u32 (*binop_fn)(u32 a, u32 b, u32 *fl);

#define BINOP(fn, insn, T)                                                                    \
	static u32 fn(u32 a, u32 b, u32 *fl)                                                   \
	{                                                                                      \
		T r = (T)a;                                                                    \
		u32 f;                                                                         \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " %2, %0\n\tpushfl\n\tpopl %1"   \
				 : "+q"(r), "=&r"(f) : "q"((T)b), "r"(g_pass_flags) : "cc");   \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
/* The same with a memory destination (op r, m) */
#define BINOP_M(fn, insn, T)                                                                  \
	static u32 fn(u32 a, u32 b, u32 *fl)                                                   \
	{                                                                                      \
		volatile T r = (T)a;                                                           \
		u32 f;                                                                         \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " %2, %0\n\tpushfl\n\tpopl %1"   \
				 : "+m"(r), "=&r"(f) : "q"((T)b), "r"(g_pass_flags) : "cc");   \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
/* And with a memory source (op m, r) */
#define BINOP_S(fn, insn, T)                                                                  \
	static u32 fn(u32 a, u32 b, u32 *fl)                                                   \
	{                                                                                      \
		T r = (T)a;                                                                    \
		volatile T src = (T)b;                                                         \
		u32 f;                                                                         \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " %2, %0\n\tpushfl\n\tpopl %1"   \
				 : "+q"(r), "=&r"(f) : "m"(src), "r"(g_pass_flags) : "cc");    \
		*fl = f;                                                                       \
		return r;                                                                      \
	}

#define ALL_SIZES(M, op)                                                                      \
	M(op##8, #op "b", u8) M(op##16, #op "w", u16) M(op##32, #op "l", u32)
#define ALL_OPS(M)                                                                            \
	ALL_SIZES(M, add) ALL_SIZES(M, adc) ALL_SIZES(M, sub) ALL_SIZES(M, sbb) ALL_SIZES(M, cmp) \
	ALL_SIZES(M, and) ALL_SIZES(M, or) ALL_SIZES(M, xor) ALL_SIZES(M, test)
ALL_OPS(BINOP)
#define M_NAMES(fn, insn, T) BINOP_M(fn##_m, insn, T)
#define S_NAMES(fn, insn, T) BINOP_S(fn##_s, insn, T)
ALL_OPS(M_NAMES)
ALL_SIZES(S_NAMES, add) ALL_SIZES(S_NAMES, sbb) ALL_SIZES(S_NAMES, cmp) ALL_SIZES(S_NAMES, and)
ALL_SIZES(S_NAMES, or) ALL_SIZES(S_NAMES, xor)

#define ROW(op) { op##8, op##16, op##32 }
static const binop_fn reg_fns[9][3] = { ROW(add), ROW(adc), ROW(sub), ROW(sbb), ROW(cmp), ROW(and), ROW(or), ROW(xor), ROW(test) };
#define ROWM(op) { op##8_m, op##16_m, op##32_m }
static const binop_fn mem_fns[9][3] = { ROWM(add), ROWM(adc), ROWM(sub), ROWM(sbb), ROWM(cmp), ROWM(and), ROWM(or), ROWM(xor), ROWM(test) };
#define ROWS(op) { op##8_s, op##16_s, op##32_s }
static const binop_fn src_fns[9][3] = { ROWS(add), { 0, 0, 0 }, { 0, 0, 0 }, ROWS(sbb), ROWS(cmp), ROWS(and), ROWS(or), ROWS(xor), { 0, 0, 0 } };

static const u32 values[3][6] = {
	{ 0x00, 0x01, 0x0f, 0x7f, 0x80, 0xff },
	{ 0x0000, 0x0001, 0x00ff, 0x7fff, 0x8000, 0xffff },
	{ 0x00000000, 0x00000001, 0x12345678, 0x7fffffff, 0x80000000, 0xffffffff },
};
static const int widths[3] = { 8, 16, 32 };

static u32 def_mask(int op) { return op >= AND ? (FL_ARITH & ~FL_AF) : FL_ARITH; }

static void test_binops(void)
{
	for (int op = ADD; op <= TEST; op++)
		for (int s = 0; s < 3; s++) {
			int w = widths[s];
			int ncarry = (op == ADC || op == SBB) ? 2 : 1;
			int n = 0;
			for (int cin = 0; cin < ncarry; cin++)
				for (int i = 0; i < 6; i++)
					for (int j = 0; j < 6; j++, n++) {
						u32 a = values[s][i], b = values[s][j], ef, gf;
						/* Alternate the incoming flags so stale flags would show. */
						u32 c = ncarry == 2 ? (u32)cin : (u32)(n & 1);
						g_pass_flags = c ? (0x2 | FL_ARITH) : 0x2;
						u32 er = model_binop(op, a, b, c, w, &ef);
						u32 gr = reg_fns[op][s](a, b, &gf);
						CHECK_RF(gr, gf & def_mask(op), er, ef & def_mask(op), "%s%d cf=%u 0x%x,0x%x",
							 binop_names[op], w, c, a, b);
					}
		}
}

/* Memory-destination and memory-source forms: fewer operands, same model. */
static void test_binops_mem(void)
{
	static const int pairs[4][2] = { { 5, 1 }, { 3, 1 }, { 4, 5 }, { 2, 3 } };
	for (int op = ADD; op <= TEST; op++)
		for (int s = 0; s < 3; s++)
			for (int k = 0; k < 4; k++) {
				int w = widths[s];
				u32 a = values[s][pairs[k][0]], b = values[s][pairs[k][1]], ef, gf;
				u32 c = k & 1;
				g_pass_flags = c ? (0x2 | FL_ARITH) : 0x2;
				u32 er = model_binop(op, a, b, c, w, &ef);
				u32 gr = mem_fns[op][s](a, b, &gf);
				CHECK_RF(gr, gf & def_mask(op), er, ef & def_mask(op), "%s%d mem-dest cf=%u 0x%x,0x%x",
					 binop_names[op], w, c, a, b);
				if (!src_fns[op][s]) continue;
				gr = src_fns[op][s](a, b, &gf);
				CHECK_RF(gr, gf & def_mask(op), er, ef & def_mask(op), "%s%d mem-src cf=%u 0x%x,0x%x",
					 binop_names[op], w, c, a, b);
			}
}

/* Immediate forms, including the accumulator short forms and sign-extended imm8 (opcode 83). */
#define IMM(fn, insn, T, cons, imm)                                                            \
	static u32 fn(u32 a, u32 *fl)                                                          \
	{                                                                                      \
		T r = (T)a;                                                                    \
		u32 f;                                                                         \
		__asm__ volatile("pushl %2\n\tpopfl\n\t" insn " $" #imm ", %0\n\tpushfl\n\tpopl %1" \
				 : "+" cons(r), "=&r"(f) : "r"(g_pass_flags) : "cc");          \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
IMM(add_al, "addb", u8, "a", 0x81)
IMM(sub_ax, "subw", u16, "a", 0x8001)
IMM(adc_eax, "adcl", u32, "a", 0x80000000)
IMM(cmp_eax, "cmpl", u32, "a", 0x7fffffff)
IMM(and_r8, "andb", u8, "q", 0xf0)
IMM(or_r16, "orw", u16, "r", 0x1234)
IMM(xor_r32, "xorl", u32, "r", 0xdeadbeef)
IMM(add_r16_s8, "addw", u16, "r", -1)
IMM(sub_r32_s8, "subl", u32, "r", -128)
IMM(sbb_r32_s8, "sbbl", u32, "r", 127)
IMM(cmp_r16_s8, "cmpw", u16, "r", -2)
IMM(test_al, "testb", u8, "a", 0x80)
IMM(test_r32, "testl", u32, "r", 0x80000001)
IMM(add_m32, "addl", u32, "m", 0x7fffffff)
IMM(sub_m8, "subb", u8, "m", 0x01)
IMM(and_m16_s8, "andw", u16, "m", -16)
IMM(adc_m16, "adcw", u16, "m", 0x7fff)

struct imm_case {
	const char *name;
	u32 (*fn)(u32 a, u32 *fl);
	int op, w;
	u32 imm, a, cin;
};
static const struct imm_case imm_cases[] = {
	{ "add al,imm8", add_al, ADD, 8, 0x81, 0x7f, 0 },
	{ "add al,imm8", add_al, ADD, 8, 0x81, 0x80, 1 },
	{ "sub ax,imm16", sub_ax, SUB, 16, 0x8001, 0x8000, 0 },
	{ "sub ax,imm16", sub_ax, SUB, 16, 0x8001, 0x0001, 1 },
	{ "adc eax,imm32", adc_eax, ADC, 32, 0x80000000, 0x7fffffff, 1 },
	{ "adc eax,imm32", adc_eax, ADC, 32, 0x80000000, 0x80000000, 0 },
	{ "cmp eax,imm32", cmp_eax, CMP, 32, 0x7fffffff, 0x80000000, 0 },
	{ "and r8,imm8", and_r8, AND, 8, 0xf0, 0x8f, 1 },
	{ "or r16,imm16", or_r16, OR, 16, 0x1234, 0x8000, 0 },
	{ "xor r32,imm32", xor_r32, XOR, 32, 0xdeadbeef, 0xdeadbeef, 1 },
	{ "add r16,simm8", add_r16_s8, ADD, 16, 0xffff, 0x0001, 0 },
	{ "sub r32,simm8", sub_r32_s8, SUB, 32, 0xffffff80, 0x7fffffff, 0 },
	{ "sbb r32,simm8", sbb_r32_s8, SBB, 32, 127, 0x80000000, 1 },
	{ "cmp r16,simm8", cmp_r16_s8, CMP, 16, 0xfffe, 0xfffe, 1 },
	{ "test al,imm8", test_al, TEST, 8, 0x80, 0x81, 0 },
	{ "test r32,imm32", test_r32, TEST, 32, 0x80000001, 0x7ffffffe, 1 },
	{ "add m32,imm32", add_m32, ADD, 32, 0x7fffffff, 0x00000001, 0 },
	{ "sub m8,imm8", sub_m8, SUB, 8, 0x01, 0x00, 1 },
	{ "and m16,simm8", and_m16_s8, AND, 16, 0xfff0, 0x1234, 0 },
	{ "adc m16,imm16", adc_m16, ADC, 16, 0x7fff, 0x0000, 1 },
};

static void test_imm(void)
{
	for (unsigned i = 0; i < sizeof(imm_cases) / sizeof(imm_cases[0]); i++) {
		const struct imm_case *c = &imm_cases[i];
		u32 ef, gf;
		g_pass_flags = c->cin ? (0x2 | FL_ARITH) : 0x2;
		u32 er = model_binop(c->op, c->a, c->imm, c->cin, c->w, &ef);
		u32 gr = c->fn(c->a, &gf);
		CHECK_RF(gr, gf & def_mask(c->op), er, ef & def_mask(c->op), "%s cf=%u 0x%x", c->name, c->cin, c->a);
	}
}

/* ---- unary ---- */
enum { INC, DEC, NEG, NOT };
static const char *const unop_names[] = { "inc", "dec", "neg", "not" };

#define UNOP(fn, insn, T)                                                                     \
	static u32 fn(u32 a, u32 *fl)                                                          \
	{                                                                                      \
		T r = (T)a;                                                                    \
		u32 f;                                                                         \
		__asm__ volatile("pushl %2\n\tpopfl\n\t" insn " %0\n\tpushfl\n\tpopl %1"       \
				 : "+q"(r), "=&r"(f) : "r"(g_pass_flags) : "cc");              \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
#define UNOP_M(fn, insn, T)                                                                   \
	static u32 fn(u32 a, u32 *fl)                                                          \
	{                                                                                      \
		volatile T r = (T)a;                                                           \
		u32 f;                                                                         \
		__asm__ volatile("pushl %2\n\tpopfl\n\t" insn " %0\n\tpushfl\n\tpopl %1"       \
				 : "+m"(r), "=&r"(f) : "r"(g_pass_flags) : "cc");              \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
#define UN_SIZES(M, op, sfx) M(op##8##sfx, #op "b", u8) M(op##16##sfx, #op "w", u16) M(op##32##sfx, #op "l", u32)
UN_SIZES(UNOP, inc, ) UN_SIZES(UNOP, dec, ) UN_SIZES(UNOP, neg, ) UN_SIZES(UNOP, not, )
UN_SIZES(UNOP_M, inc, _m) UN_SIZES(UNOP_M, dec, _m) UN_SIZES(UNOP_M, neg, _m) UN_SIZES(UNOP_M, not, _m)
typedef u32 (*unop_fn)(u32 a, u32 *fl);
static const unop_fn un_fns[2][4][3] = {
	{ { inc8, inc16, inc32 }, { dec8, dec16, dec32 }, { neg8, neg16, neg32 }, { not8, not16, not32 } },
	{ { inc8_m, inc16_m, inc32_m }, { dec8_m, dec16_m, dec32_m }, { neg8_m, neg16_m, neg32_m }, { not8_m, not16_m, not32_m } },
};

static u32 model_unop(int op, u32 a, int w, u32 fin, u32 *fl)
{
	u32 f, r;
	switch (op) {
	case INC: r = model_binop(ADD, a, 1, 0, w, &f); *fl = (f & ~FL_CF) | (fin & FL_CF); return r;
	case DEC: r = model_binop(SUB, a, 1, 0, w, &f); *fl = (f & ~FL_CF) | (fin & FL_CF); return r;
	case NEG: return model_binop(SUB, 0, a, 0, w, fl);   /* CF = (a != 0) falls out of 0 - a */
	default: *fl = fin & FL_ARITH; return ~a & (w == 32 ? 0xffffffffu : (1u << w) - 1);
	}
}

static void test_unops(void)
{
	for (int form = 0; form < 2; form++)
		for (int op = INC; op <= NOT; op++)
			for (int s = 0; s < 3; s++)
				for (int i = 0; i < 6; i++)
					for (int fi = 0; fi < 2; fi++) {
						int w = widths[s];
						u32 a = values[s][i], ef, gf;
						u32 fin = fi ? (0x2 | FL_ARITH) : 0x2;
						g_pass_flags = fin;
						u32 er = model_unop(op, a, w, fin, &ef);
						u32 gr = un_fns[form][op][s](a, &gf);
						CHECK_RF(gr, gf & FL_ARITH, er, ef & FL_ARITH, "%s%d%s flags-in=0x%x 0x%x",
							 unop_names[op], w, form ? " mem" : "", fin, a);
					}
}

void test_main(void)
{
	test_binops();
	test_binops_mem();
	test_imm();
	test_unops();
	rt_finish("alu");
}
