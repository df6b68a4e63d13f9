/* shifts: SHL SHR SAR ROL ROR RCL RCR (by CL, by imm8, by 1) and SHLD SHRD at 8/16/32 bits.
 * The count is masked to 5 bits; RCL/RCR rotate through CF modulo width+1. Results and CF are checked
 * where the SDM defines them, OF only for a count of 1, and all flags are checked to be untouched when
 * the masked count is 0 (and SF/ZF/AF/PF for rotates, which never change them). */
#include "rt.h"

static u32 g_pass_flags;

enum { SHL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD };
static const char *const names[] = { "shl", "shr", "sar", "rol", "ror", "rcl", "rcr", "shld", "shrd" };

static u32 wmask(int w) { return w == 32 ? 0xffffffffu : (1u << w) - 1; }
static u32 msb(u32 v, int w) { return (v >> (w - 1)) & 1; }
static u32 szp(u32 r, int w)
{
	r &= wmask(w);
	return (r == 0 ? FL_ZF : 0) | (msb(r, w) ? FL_SF : 0) | parity8(r);
}

/* Returns the result; *fl = expected flags, *mask = which flags are defined. */
static u32 model(int op, u32 a, u32 src, u32 count, int w, u32 fin, u32 *fl, u32 *mask)
{
	u32 m = wmask(w), c = count & 31, r, cf = fin & FL_CF, of = 0;
	a &= m;
	src &= m;
	*mask = FL_ARITH;
	if (c == 0) {   /* no operation, no flags touched */
		*fl = fin & FL_ARITH;
		return a;
	}
	switch (op) {
	case SHL:
		r = (u32)(((u64)a << c) & m);
		*mask = FL_SF | FL_ZF | FL_PF;
		if (c <= (u32)w) { cf = (a >> (w - c)) & 1; *mask |= FL_CF; }
		of = msb(r, w) ^ cf;
		break;
	case SHR:
		r = a >> c;
		*mask = FL_SF | FL_ZF | FL_PF;
		if (c <= (u32)w) { cf = (a >> (c - 1)) & 1; *mask |= FL_CF; }
		of = msb(a, w);
		break;
	case SAR: {
		s32 sa = (s32)(a << (32 - w)) >> (32 - w);   /* sign-extend from w bits */
		r = (u32)(sa >> c) & m;
		cf = (u32)(sa >> (c - 1)) & 1;
		*mask = FL_SF | FL_ZF | FL_PF | FL_CF;
		of = 0;
		break;
	}
	case ROL: case ROR: {
		u32 k = c % w;
		if (op == ROL) r = k ? ((a << k) | (a >> (w - k))) & m : a;
		else r = k ? ((a >> k) | (a << (w - k))) & m : a;
		cf = op == ROL ? (r & 1) : msb(r, w);
		of = op == ROL ? (msb(r, w) ^ cf) : (msb(r, w) ^ msb(r << 1, w));
		*mask = FL_ARITH & ~FL_OF;
		*fl = (fin & (FL_SF | FL_ZF | FL_AF | FL_PF)) | (cf ? FL_CF : 0);
		if (c == 1) { *mask |= FL_OF; *fl |= of ? FL_OF : 0; }
		return r;
	}
	case RCL: case RCR: {
		u32 k = c % (w + 1);
		u64 v = ((u64)(cf ? 1 : 0) << w) | a, wm = (1ull << (w + 1)) - 1;   /* CF:dest as w+1 bits */
		if (op == RCL) v = ((v << k) | (v >> (w + 1 - k))) & wm;
		else v = ((v >> k) | (v << (w + 1 - k))) & wm;
		r = (u32)(v & m);
		cf = (u32)(v >> w) & 1;
		of = op == RCL ? (msb(r, w) ^ cf) : (msb(r, w) ^ msb(r << 1, w));
		*mask = FL_ARITH & ~FL_OF;
		*fl = (fin & (FL_SF | FL_ZF | FL_AF | FL_PF)) | (cf ? FL_CF : 0);
		if (c == 1) { *mask |= FL_OF; *fl |= of ? FL_OF : 0; }
		return r;
	}
	case SHLD: {
		u64 v = ((u64)a << w) | src;   /* dest:src, shifted left, dest takes the high part */
		r = (u32)((v << c) >> w) & m;
		cf = (a >> (w - c)) & 1;
		of = msb(r, w) ^ msb(a, w);
		*mask = FL_SF | FL_ZF | FL_PF | FL_CF;
		break;
	}
	default: {   /* SHRD */
		u64 v = ((u64)src << w) | a;   /* src:dest, shifted right, dest takes the low part */
		r = (u32)(v >> c) & m;
		cf = (a >> (c - 1)) & 1;
		of = msb(r, w) ^ msb(a, w);
		*mask = FL_SF | FL_ZF | FL_PF | FL_CF;
		break;
	}
	}
	if (c == 1) *mask |= FL_OF;
	*fl = szp(r, w) | (cf ? FL_CF : 0) | (of ? FL_OF : 0);
	return r;
}

/* ---- by CL ---- */
typedef u32 (*sh_fn)(u32 a, u32 src, u32 c, u32 *fl);
#define SH_CL(fn, insn, T)                                                                    \
	static u32 fn(u32 a, u32 src, u32 c, u32 *fl)                                          \
	{                                                                                      \
		T r = (T)a;                                                                    \
		u32 f;                                                                         \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " %%cl, %0\n\tpushfl\n\tpopl %1" \
				 : "+q"(r), "=&r"(f) : "c"(c), "r"(g_pass_flags) : "cc");      \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
#define SHD_CL(fn, insn, T)                                                                   \
	static u32 fn(u32 a, u32 src, u32 c, u32 *fl)                                          \
	{                                                                                      \
		T r = (T)a;                                                                    \
		u32 f;                                                                         \
		__asm__ volatile("pushl %4\n\tpopfl\n\t" insn " %%cl, %3, %0\n\tpushfl\n\tpopl %1" \
				 : "+r"(r), "=&r"(f) : "c"(c), "r"((T)src), "r"(g_pass_flags) : "cc"); \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
#define SIZES(M, op) M(op##8, #op "b", u8) M(op##16, #op "w", u16) M(op##32, #op "l", u32)
SIZES(SH_CL, shl) SIZES(SH_CL, shr) SIZES(SH_CL, sar) SIZES(SH_CL, rol) SIZES(SH_CL, ror)
SIZES(SH_CL, rcl) SIZES(SH_CL, rcr)
SHD_CL(shld16, "shldw", u16) SHD_CL(shld32, "shldl", u32) SHD_CL(shrd16, "shrdw", u16) SHD_CL(shrd32, "shrdl", u32)
#define ROW(op) { op##8, op##16, op##32 }
static const sh_fn cl_fns[9][3] = { ROW(shl), ROW(shr), ROW(sar), ROW(rol), ROW(ror), ROW(rcl), ROW(rcr),
				     { 0, shld16, shld32 }, { 0, shrd16, shrd32 } };

/* ---- by immediate (count 1 assembles to the D0/D1 short form, others to C0/C1) ---- */
#define SH_I(fn, insn, T, n)                                                                  \
	static u32 fn(u32 a, u32 src, u32 c, u32 *fl)                                          \
	{                                                                                      \
		T r = (T)a;                                                                    \
		u32 f;                                                                         \
		__asm__ volatile("pushl %2\n\tpopfl\n\t" insn " $" #n ", %0\n\tpushfl\n\tpopl %1" \
				 : "+q"(r), "=&r"(f) : "r"(g_pass_flags) : "cc");              \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
#define SHD_I(fn, insn, T, n)                                                                 \
	static u32 fn(u32 a, u32 src, u32 c, u32 *fl)                                          \
	{                                                                                      \
		T r = (T)a;                                                                    \
		u32 f;                                                                         \
		__asm__ volatile("pushl %3\n\tpopfl\n\t" insn " $" #n ", %2, %0\n\tpushfl\n\tpopl %1" \
				 : "+r"(r), "=&r"(f) : "r"((T)src), "r"(g_pass_flags) : "cc"); \
		*fl = f;                                                                       \
		return r;                                                                      \
	}
#define ISIZES(M, op, n) M(op##8_##n, #op "b", u8, n) M(op##16_##n, #op "w", u16, n) M(op##32_##n, #op "l", u32, n)
#define IOPS(n) ISIZES(SH_I, shl, n) ISIZES(SH_I, shr, n) ISIZES(SH_I, sar, n) ISIZES(SH_I, rol, n) \
	ISIZES(SH_I, ror, n) ISIZES(SH_I, rcl, n) ISIZES(SH_I, rcr, n)                              \
	SHD_I(shld16_##n, "shldw", u16, n) SHD_I(shld32_##n, "shldl", u32, n)                    \
	SHD_I(shrd16_##n, "shrdw", u16, n) SHD_I(shrd32_##n, "shrdl", u32, n)
IOPS(1) IOPS(3) IOPS(15) IOPS(33)
#define IROW(op, n) { op##8_##n, op##16_##n, op##32_##n }
#define ITABLE(n) { IROW(shl, n), IROW(shr, n), IROW(sar, n), IROW(rol, n), IROW(ror, n), IROW(rcl, n), \
		    IROW(rcr, n), { 0, shld16_##n, shld32_##n }, { 0, shrd16_##n, shrd32_##n } }
static const sh_fn imm_fns[4][9][3] = { ITABLE(1), ITABLE(3), ITABLE(15), ITABLE(33) };
static const u32 imm_counts[4] = { 1, 3, 15, 33 };

static const u32 values[3][2] = { { 0x81, 0x36 }, { 0x8001, 0x4c35 }, { 0x80000001, 0x4c350f7a } };
static const u32 srcs[3] = { 0xa5, 0x96c3, 0xc3a5965a };
static const int widths[3] = { 8, 16, 32 };

static void run(int op, int s, sh_fn fn, u32 count, int vi, int cin, const char *form)
{
	int w = widths[s];
	u32 a = values[s][vi], src = srcs[s], ef, mask, gf;
	g_pass_flags = cin ? (0x2 | FL_ARITH) : 0x2;
	u32 er = model(op, a, src, count, w, g_pass_flags, &ef, &mask);
	u32 gr = fn(a, src, count, &gf) & wmask(w);
	CHECK_RF(gr, gf & mask, er, ef & mask, "%s%d %s count=%u cf=%u 0x%x", names[op], w, form, count, cin, a);
}

void test_main(void)
{
	for (int op = SHL; op <= SHRD; op++)
		for (int s = 0; s < 3; s++) {
			if (!cl_fns[op][s]) continue;
			int w = widths[s];
			u32 counts[7] = { 0, 1, w - 1, w, w + 1, 31, 32 };
			for (int k = 0; k < 7; k++) {
				/* SHLD/SHRD: result undefined when the masked count exceeds the operand size */
				if (op >= SHLD && (counts[k] & 31) > (u32)w) continue;
				for (int vi = 0; vi < 2; vi++)
					for (int cin = 0; cin < 2; cin++)
						run(op, s, cl_fns[op][s], counts[k], vi, cin, "cl");
			}
			for (int k = 0; k < 4; k++) {
				if (op >= SHLD && (imm_counts[k] & 31) > (u32)w) continue;
				for (int vi = 0; vi < 2; vi++)
					run(op, s, imm_fns[k][op][s], imm_counts[k], vi, vi, "imm");
			}
		}
	rt_finish("shifts");
}
