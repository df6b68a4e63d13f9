/* bits: BT BTS BTR BTC (register and memory bases, register and immediate offsets, memory offsets beyond
 * the operand and negative), BSF BSR (zero source: only ZF), BSWAP, SETcc and CMOVcc for all 16
 * conditions over all CF/PF/ZF/SF/OF combinations, XCHG, XADD, CMPXCHG, CMPXCHG8B, MOVZX, MOVSX.
 * CMOVcc (P6) and CMPXCHG8B (Pentium) are beyond the i486 but part of the required coverage. */
#include "rt.h"

static u32 g_fl;   /* flags loaded before the instruction under test */

/* ---- BT family ---- */
enum { BT, BTS, BTR, BTC };
static const char *const bt_names[] = { "bt", "bts", "btr", "btc" };

static u32 bt_model_reg(int op, u32 v, u32 off, int w, u32 *cf)
{
	u32 bit = off & (w - 1);
	*cf = (v >> bit) & 1;
	switch (op) {
	case BTS: return v | (1u << bit);
	case BTR: return v & ~(1u << bit);
	case BTC: return v ^ (1u << bit);
	default: return v;
	}
}

#define BT_RR(fn, insn, T)                                                                    \
	static u32 fn(u32 v, u32 off, u32 *fl)                                                 \
	{                                                                                      \
		T r = (T)v;                                                                    \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " %2, %0\n\tpushfl\n\tpopl %1"   \
				 : "+r"(r), "=&r"(*fl) : "r"((T)off), "r"(g_fl) : "cc");       \
		return r;                                                                      \
	}
#define BT_RM(fn, insn, T)                                                                    \
	static void fn(void *base, u32 off, u32 *fl)                                           \
	{                                                                                      \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " %2, (%1)\n\tpushfl\n\tpopl %0" \
				 : "=&r"(*fl) : "r"(base), "r"((T)off), "r"(g_fl) : "cc", "memory"); \
	}
#define BT_ALL(M, sfx, T) M(bt##sfx, "bt" #sfx, T) M(bts##sfx, "bts" #sfx, T) M(btr##sfx, "btr" #sfx, T) M(btc##sfx, "btc" #sfx, T)
BT_ALL(BT_RR, w, u16) BT_ALL(BT_RR, l, u32)
#define BT_RM_N(fn, insn, T) BT_RM(fn##_m, insn, T)
BT_ALL(BT_RM_N, w, u16) BT_ALL(BT_RM_N, l, u32)
/* immediate offsets: 5 in register, 35 in memory (masked to 3 for a dword, to 3 for a word as well) */
#define BT_IR(fn, insn, T, imm)                                                               \
	static u32 fn(u32 v, u32 off, u32 *fl)                                                 \
	{                                                                                      \
		T r = (T)v;                                                                    \
		__asm__ volatile("pushl %2\n\tpopfl\n\t" insn " $" #imm ", %0\n\tpushfl\n\tpopl %1" \
				 : "+r"(r), "=&r"(*fl) : "r"(g_fl) : "cc");                    \
		return r;                                                                      \
	}
#define BT_IM(fn, insn, T, imm)                                                               \
	static void fn(void *base, u32 off, u32 *fl)                                           \
	{                                                                                      \
		__asm__ volatile("pushl %2\n\tpopfl\n\t" insn " $" #imm ", (%1)\n\tpushfl\n\tpopl %0" \
				 : "=&r"(*fl) : "r"(base), "r"(g_fl) : "cc", "memory");        \
	}
#define BT_I_ALL(M, sfx, T, imm, tag) M(bt##sfx##tag, "bt" #sfx, T, imm) M(bts##sfx##tag, "bts" #sfx, T, imm) \
	M(btr##sfx##tag, "btr" #sfx, T, imm) M(btc##sfx##tag, "btc" #sfx, T, imm)
BT_I_ALL(BT_IR, w, u16, 13, _i) BT_I_ALL(BT_IR, l, u32, 29, _i)
BT_I_ALL(BT_IM, w, u16, 21, _im) BT_I_ALL(BT_IM, l, u32, 35, _im)

typedef u32 (*btr_fn)(u32, u32, u32 *);
typedef void (*btm_fn)(void *, u32, u32 *);
static const btr_fn bt_reg[2][4] = { { btw, btsw, btrw, btcw }, { btl, btsl, btrl, btcl } };
static const btm_fn bt_mem[2][4] = { { btw_m, btsw_m, btrw_m, btcw_m }, { btl_m, btsl_m, btrl_m, btcl_m } };
static const btr_fn bt_imm_reg[2][4] = { { btw_i, btsw_i, btrw_i, btcw_i }, { btl_i, btsl_i, btrl_i, btcl_i } };
static const btm_fn bt_imm_mem[2][4] = { { btw_im, btsw_im, btrw_im, btcw_im }, { btl_im, btsl_im, btrl_im, btcl_im } };

static u8 bt_area[32], bt_expect[32];

static void test_bt(void)
{
	static const u32 offs[2][6] = { { 0, 15, 16, 100, (u32)-1, (u32)-17 }, { 0, 31, 32, 100, (u32)-1, (u32)-33 } };
	for (int s = 0; s < 2; s++) {
		int w = s ? 32 : 16;
		for (int op = BT; op <= BTC; op++) {
			for (int k = 0; k < 6; k++) {
				u32 v = 0x5a3c96e1 >> (s ? 0 : 16), off = offs[s][k], cf, fl;
				g_fl = (k & 1) ? 0x2 | FL_ARITH : 0x2;   /* ZF must be left as it was */
				u32 e = bt_model_reg(op, v, off, w, &cf);
				u32 g = bt_reg[s][op](v, off, &fl);
				CHECK_RF(g, fl & (FL_CF | FL_ZF), e, (cf ? FL_CF : 0) | (g_fl & FL_ZF), "%s%d reg,reg offset %d",
					 bt_names[op], w, (s32)off);
				/* memory base: the offset selects any bit relative to the base, sign included */
				s32 so = s ? (s32)off : (s32)(s16)off;
				for (int i = 0; i < 32; i++) bt_area[i] = bt_expect[i] = (u8)(i * 37 + 11);
				u8 *base = bt_area + 16;
				u32 byte = 16 + (u32)(so >> 3), bit = (u32)so & 7;
				cf = (bt_expect[byte] >> bit) & 1;
				if (op == BTS) bt_expect[byte] |= (u8)(1 << bit);
				if (op == BTR) bt_expect[byte] &= (u8)~(1 << bit);
				if (op == BTC) bt_expect[byte] ^= (u8)(1 << bit);
				bt_mem[s][op](base, off, &fl);
				CHECK(fl & (FL_CF | FL_ZF), (cf ? FL_CF : 0) | (g_fl & FL_ZF), "%s%d mem,reg offset %d flags",
				      bt_names[op], w, so);
				CHECK(memcmp(bt_area, bt_expect, 32), 0, "%s%d mem,reg offset %d memory", bt_names[op], w, so);
			}
			/* immediate forms */
			u32 v = 0xa5a5f00f >> (s ? 0 : 16), cf, fl;
			g_fl = 0x2 | FL_ZF;
			u32 e = bt_model_reg(op, v, s ? 29 : 13, w, &cf);
			u32 g = bt_imm_reg[s][op](v, 0, &fl);
			CHECK_RF(g, fl & (FL_CF | FL_ZF), e, (cf ? FL_CF : 0) | FL_ZF, "%s%d reg,imm %u", bt_names[op], w, s ? 29 : 13);
			for (int i = 0; i < 32; i++) bt_area[i] = bt_expect[i] = (u8)(i * 37 + 11);
			u32 ib = s ? (35 & 31) : (21 & 15);   /* immediate offsets into memory are taken modulo the width */
			u32 byte = 16 + ib / 8, bit = ib & 7;
			cf = (bt_expect[byte] >> bit) & 1;
			if (op == BTS) bt_expect[byte] |= (u8)(1 << bit);
			if (op == BTR) bt_expect[byte] &= (u8)~(1 << bit);
			if (op == BTC) bt_expect[byte] ^= (u8)(1 << bit);
			bt_imm_mem[s][op](bt_area + 16, 0, &fl);
			CHECK(fl & (FL_CF | FL_ZF), (cf ? FL_CF : 0) | FL_ZF, "%s%d mem,imm %u flags", bt_names[op], w, s ? 35 : 21);
			CHECK(memcmp(bt_area, bt_expect, 32), 0, "%s%d mem,imm %u memory", bt_names[op], w, s ? 35 : 21);
		}
	}
}

/* ---- BSF / BSR ---- */
#define BS(fn, insn, T)                                                                       \
	static u32 fn(u32 src, u32 dst, u32 *fl)                                               \
	{                                                                                      \
		T r = (T)dst;                                                                  \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " %2, %0\n\tpushfl\n\tpopl %1"   \
				 : "+r"(r), "=&r"(*fl) : "rm"((T)src), "r"(g_fl) : "cc");      \
		return r;                                                                      \
	}
BS(bsfw, "bsfw", u16) BS(bsfl, "bsfl", u32) BS(bsrw, "bsrw", u16) BS(bsrl, "bsrl", u32)

static void test_bs(void)
{
	static const u32 vals[] = { 1, 0x80000000, 0x00018000, 0x7ffffffe, 0xffffffff, 0x00000100, 0 };
	for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		for (int s = 0; s < 2; s++) {
			u32 v = s ? vals[i] : (vals[i] & 0xffff), fl;
			int w = s ? 32 : 16;
			g_fl = 0x2;
			u32 f = s ? bsfl(v, 0x1234, &fl) : bsfw(v, 0x1234, &fl);
			if (v == 0) {
				CHECK(fl & FL_ZF, FL_ZF, "bsf%d 0 sets ZF", w);
			} else {
				u32 lo = 0, hi = 31;
				while (!((v >> lo) & 1)) lo++;
				while (!((v >> hi) & 1)) hi--;
				CHECK_RF(f, fl & FL_ZF, lo, 0, "bsf%d 0x%x", w, v);
				g_fl = 0x2 | FL_ZF;
				u32 r = s ? bsrl(v, 0x1234, &fl) : bsrw(v, 0x1234, &fl);
				CHECK_RF(r, fl & FL_ZF, hi, 0, "bsr%d 0x%x", w, v);
				continue;
			}
			s ? bsrl(v, 0x1234, &fl) : bsrw(v, 0x1234, &fl);
			CHECK(fl & FL_ZF, FL_ZF, "bsr%d 0 sets ZF", w);
		}
}

/* ---- SETcc / CMOVcc ---- */
static int cond(int cc, u32 f)
{
	int cf = !!(f & FL_CF), zf = !!(f & FL_ZF), sf = !!(f & FL_SF), of = !!(f & FL_OF), pf = !!(f & FL_PF), r;
	switch (cc >> 1) {
	case 0: r = of; break;
	case 1: r = cf; break;
	case 2: r = zf; break;
	case 3: r = cf || zf; break;
	case 4: r = sf; break;
	case 5: r = pf; break;
	case 6: r = sf != of; break;
	default: r = zf || (sf != of); break;
	}
	return (cc & 1) ? !r : r;
}
static const char *const cc_names[16] = { "o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g" };

#define SETCC(cc)                                                                             \
	static u32 set_##cc(void)                                                              \
	{                                                                                      \
		u8 r = 0x55;                                                                   \
		__asm__ volatile("pushl %1\n\tpopfl\n\tset" #cc " %0" : "+q"(r) : "r"(g_fl) : "cc"); \
		return r;                                                                      \
	}                                                                                      \
	static u32 cmov_##cc(void)                                                             \
	{                                                                                      \
		u32 r = 0x11111111, m = 0x22222222;                                            \
		__asm__ volatile("pushl %2\n\tpopfl\n\tcmov" #cc "l %1, %0" : "+r"(r) : "rm"(m), "r"(g_fl) : "cc"); \
		return r;                                                                      \
	}                                                                                      \
	static u32 cmovw_##cc(void)                                                            \
	{                                                                                      \
		u32 r = 0x11111111;                                                            \
		__asm__ volatile("pushl %2\n\tpopfl\n\tcmov" #cc "w %w1, %w0" : "+r"(r) : "r"(0x33333333), "r"(g_fl) : "cc"); \
		return r;                                                                      \
	}
SETCC(o) SETCC(no) SETCC(b) SETCC(ae) SETCC(e) SETCC(ne) SETCC(be) SETCC(a)
SETCC(s) SETCC(ns) SETCC(p) SETCC(np) SETCC(l) SETCC(ge) SETCC(le) SETCC(g)
#define CC_TABLE(P) { P##o, P##no, P##b, P##ae, P##e, P##ne, P##be, P##a, P##s, P##ns, P##p, P##np, P##l, P##ge, P##le, P##g }
static u32 (*const setcc[16])(void) = CC_TABLE(set_);
static u32 (*const cmovcc[16])(void) = CC_TABLE(cmov_);
static u32 (*const cmovwcc[16])(void) = CC_TABLE(cmovw_);

static void test_cc(void)
{
	static const u32 flag_bits[5] = { FL_CF, FL_PF, FL_ZF, FL_SF, FL_OF };
	for (int cc = 0; cc < 16; cc++)
		for (int kind = 0; kind < 3; kind++) {
			u32 bad = 0, got = 0, exp = 0, img = 0;
			for (u32 combo = 0; combo < 32 && !bad; combo++) {
				g_fl = 0x2;
				for (int b = 0; b < 5; b++)
					if (combo & (1u << b)) g_fl |= flag_bits[b];
				int c = cond(cc, g_fl);
				if (kind == 0) { got = setcc[cc](); exp = (u32)c; }
				else if (kind == 1) { got = cmovcc[cc](); exp = c ? 0x22222222 : 0x11111111; }
				else { got = cmovwcc[cc](); exp = c ? 0x11113333 : 0x11111111; }
				if (got != exp) { bad = 1; img = g_fl; }
			}
			static const char *const kinds[3] = { "set", "cmov32 ", "cmov16 " };
			CHECK(got, exp, "%s%s over all CF/PF/ZF/SF/OF%s", kinds[kind], cc_names[cc], bad ? " (first failing flags below)" : "");
			if (bad) rt_printf("  flags 0x%x\n", img);
		}
}

/* ---- exchange and compare-exchange ---- */
static u32 sub_flags32(u32 a, u32 b)   /* flags of the 32-bit a - b (CMPXCHG compares like CMP) */
{
	u32 r = a - b;
	return (a < b ? FL_CF : 0) | (((a ^ b) & (a ^ r)) >> 31 ? FL_OF : 0) | ((a ^ b ^ r) & 0x10 ? FL_AF : 0) |
	       (r == 0 ? FL_ZF : 0) | (r >> 31 ? FL_SF : 0) | parity8(r);
}

static void test_xchg(void)
{
	u32 a = 0x11223344, b = 0x55667788;
	__asm__ volatile("xchgl %0, %1" : "+r"(a), "+r"(b));
	CHECK(a, 0x55667788, "xchg r32,r32 first");
	CHECK(b, 0x11223344, "xchg r32,r32 second");
	volatile u32 m = 0xaabbccdd;
	u32 r = 0x01020304;
	__asm__ volatile("xchgl %0, %1" : "+r"(r), "+m"(m));
	CHECK(r, 0xaabbccdd, "xchg r32,m32 register");
	CHECK(m, 0x01020304, "xchg r32,m32 memory");
	u32 x = 0xffff1234, y = 0xeeee5678;
	__asm__ volatile("xchgw %w0, %w1" : "+r"(x), "+r"(y));
	CHECK(x, 0xffff5678, "xchg r16,r16 keeps upper halves (1)");
	CHECK(y, 0xeeee1234, "xchg r16,r16 keeps upper halves (2)");
	u32 p = 0x12345678;
	__asm__ volatile("xchgb %b0, %h0" : "+Q"(p));
	CHECK(p, 0x12347856, "xchg al,ah");
	u32 ea = 0xa1, eb = 0xb2;
	__asm__ volatile("xchgl %%eax, %%ebx" : "+a"(ea), "+b"(eb));   /* one-byte 0x93 form */
	CHECK(ea * 0x100 + eb, 0xb2a1, "xchg eax,ebx short form");

	/* XADD: dest <- dest + src, src <- old dest, flags as ADD */
	u32 d = 0x7fffffff, s = 1, fl;
	__asm__ volatile("pushl $2\n\tpopfl\n\txaddl %1, %0\n\tpushfl\n\tpopl %2" : "+r"(d), "+r"(s), "=&r"(fl) : : "cc");
	CHECK(d, 0x80000000, "xadd r32 sum");
	CHECK(s, 0x7fffffff, "xadd r32 old dest");
	CHECK(fl & FL_ARITH, FL_OF | FL_SF | FL_AF | FL_PF, "xadd r32 flags");
	volatile u8 m8 = 0xff;
	u8 s8 = 0x01;
	__asm__ volatile("pushl $2\n\tpopfl\n\txaddb %1, %0\n\tpushfl\n\tpopl %2" : "+m"(m8), "+q"(s8), "=&r"(fl) : : "cc");
	CHECK(m8, 0, "xadd m8 sum");
	CHECK(s8, 0xff, "xadd m8 old dest");
	CHECK(fl & FL_ARITH, FL_CF | FL_ZF | FL_AF | FL_PF, "xadd m8 flags");

	/* CMPXCHG: compare accumulator with dest; equal: dest <- src, ZF=1; else accumulator <- dest */
	volatile u32 cm = 100;
	u32 acc = 100, fl2;
	__asm__ volatile("pushl $2\n\tpopfl\n\tcmpxchgl %3, %0\n\tpushfl\n\tpopl %1" : "+m"(cm), "=&r"(fl2), "+a"(acc) : "r"(200) : "cc");
	CHECK(cm, 200, "cmpxchg32 equal stores source");
	CHECK(acc, 100, "cmpxchg32 equal keeps EAX");
	CHECK(fl2 & FL_ARITH, FL_ZF | FL_PF, "cmpxchg32 equal flags");
	acc = 150;
	__asm__ volatile("pushl $2\n\tpopfl\n\tcmpxchgl %3, %0\n\tpushfl\n\tpopl %1" : "+m"(cm), "=&r"(fl2), "+a"(acc) : "r"(300) : "cc");
	CHECK(cm, 200, "cmpxchg32 not equal leaves dest");
	CHECK(acc, 200, "cmpxchg32 not equal loads EAX");
	CHECK(fl2 & FL_ARITH, sub_flags32(150, 200), "cmpxchg32 not equal flags (150-200)");
	u32 a16 = 0xdead0005, d16 = 0x00000007;
	__asm__ volatile("pushl $2\n\tpopfl\n\tcmpxchgw %w3, %w0\n\tpushfl\n\tpopl %1" : "+r"(d16), "=&r"(fl2), "+a"(a16) : "r"(9) : "cc");
	CHECK(a16, 0xdead0007, "cmpxchg16 not equal loads AX only");
	CHECK(fl2 & FL_ARITH, FL_CF | FL_SF | FL_AF, "cmpxchg16 not equal flags (5-7)");
	u32 a8 = 0x42, d8 = 0x1142;
	__asm__ volatile("pushl $2\n\tpopfl\n\tcmpxchgb %b3, %b0\n\tpushfl\n\tpopl %1" : "+q"(d8), "=&r"(fl2), "+a"(a8) : "q"(0x99) : "cc");
	CHECK(d8, 0x1199, "cmpxchg8 equal stores source byte");
	CHECK(fl2 & FL_ZF, FL_ZF, "cmpxchg8 equal ZF");

	/* CMPXCHG8B */
	volatile u64 q = 0x1122334455667788ull;
	u32 lo = 0x55667788, hi = 0x11223344, zf;
	__asm__ volatile("cmpxchg8b %0\n\tsetz %b3\n\tmovzbl %b3, %3" : "+m"(q), "+a"(lo), "+d"(hi), "=q"(zf) : "b"(0xcafebabe), "c"(0x0badf00d) : "cc");
	CHECK((u32)(q >> 32), 0x0badf00d, "cmpxchg8b equal stores ECX (high)");
	CHECK((u32)q, 0xcafebabe, "cmpxchg8b equal stores EBX (low)");
	CHECK(zf, 1, "cmpxchg8b equal ZF=1");
	lo = 1; hi = 2;
	__asm__ volatile("cmpxchg8b %0\n\tsetz %b3\n\tmovzbl %b3, %3" : "+m"(q), "+a"(lo), "+d"(hi), "=q"(zf) : "b"(3), "c"(4) : "cc");
	CHECK(lo, 0xcafebabe, "cmpxchg8b not equal loads EAX");
	CHECK(hi, 0x0badf00d, "cmpxchg8b not equal loads EDX");
	CHECK(zf, 0, "cmpxchg8b not equal ZF=0");
	CHECK((u32)q, 0xcafebabe, "cmpxchg8b not equal leaves memory");
}

static void test_bswap_movx(void)
{
	u32 v = 0x12345678;
	__asm__ volatile("bswap %0" : "+r"(v));
	CHECK(v, 0x78563412, "bswap");
	u32 r;
	u8 b = 0x80;
	u16 h = 0x8001;
	volatile u8 mb = 0xfe;
	volatile u16 mh = 0x7fff;
	__asm__ volatile("movl $0xffffffff, %0\n\tmovzbl %1, %0" : "=&r"(r) : "q"(b));
	CHECK(r, 0x80, "movzx r32,r8");
	__asm__ volatile("movl $0xffffffff, %0\n\tmovsbl %1, %0" : "=&r"(r) : "q"(b));
	CHECK(r, 0xffffff80, "movsx r32,r8");
	__asm__ volatile("movl $0xffffffff, %0\n\tmovzbw %1, %w0" : "=&r"(r) : "q"(b));
	CHECK(r, 0xffff0080, "movzx r16,r8 keeps upper half");
	__asm__ volatile("movl $0, %0\n\tmovsbw %1, %w0" : "=&r"(r) : "q"(b));
	CHECK(r, 0x0000ff80, "movsx r16,r8 keeps upper half");
	__asm__ volatile("movzwl %1, %0" : "=r"(r) : "r"(h));
	CHECK(r, 0x8001, "movzx r32,r16");
	__asm__ volatile("movswl %1, %0" : "=r"(r) : "r"(h));
	CHECK(r, 0xffff8001, "movsx r32,r16");
	__asm__ volatile("movsbl %1, %0" : "=r"(r) : "m"(mb));
	CHECK(r, 0xfffffffe, "movsx r32,m8");
	__asm__ volatile("movswl %1, %0" : "=r"(r) : "m"(mh));
	CHECK(r, 0x7fff, "movsx r32,m16");
	__asm__ volatile("movzbl %1, %0" : "=r"(r) : "m"(mb));
	CHECK(r, 0xfe, "movzx r32,m8");
	__asm__ volatile("movsbl %h1, %0" : "=r"(r) : "Q"(0x8000));
	CHECK(r, 0xffffff80, "movsx r32,ah");
}

void test_main(void)
{
	test_bt();
	test_bs();
	test_cc();
	test_xchg();
	test_bswap_movx();
	rt_finish("bits");
}
