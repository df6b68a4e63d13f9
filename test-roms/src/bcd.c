/* bcd: DAA DAS AAA AAS AAM AAD (incl. AAM/AAD with a non-10 base and AAM 0 -> #DE), exhaustively over
 * AL and the incoming AF/CF. Expected values come from C transcriptions of the SDM pseudo-code; the
 * HOST build of this file (build.sh --native) confirms them on the real CPU. One line per group of
 * inputs: PASS, or FAIL with the first input whose result differs. Undefined flags are masked. */
#include "rt.h"

struct out { u32 ax, fl; };

static u32 szp8(u32 v)
{
	v &= 0xff;
	return (v == 0 ? FL_ZF : 0) | (v & 0x80 ? FL_SF : 0) | parity8(v);
}

/* ---- SDM pseudo-code ---- */
static struct out ref_daa(u32 ax, u32 fl)
{
	u32 al = ax & 0xff, old_al = al, old_cf = fl & FL_CF, cf = 0, af;
	if ((al & 0x0f) > 9 || (fl & FL_AF)) {
		cf = old_cf || al + 6 > 0xff;
		al = (al + 6) & 0xff;
		af = 1;
	} else af = 0;
	if (old_al > 0x99 || old_cf) { al = (al + 0x60) & 0xff; cf = 1; }
	else cf = 0;
	struct out o = { (ax & 0xff00) | al, (cf ? FL_CF : 0) | (af ? FL_AF : 0) | szp8(al) };
	return o;
}

static struct out ref_das(u32 ax, u32 fl)
{
	u32 al = ax & 0xff, old_al = al, old_cf = fl & FL_CF, cf = 0, af;
	if ((al & 0x0f) > 9 || (fl & FL_AF)) {
		cf = old_cf || al < 6;
		al = (al - 6) & 0xff;
		af = 1;
	} else af = 0;
	if (old_al > 0x99 || old_cf) { al = (al - 0x60) & 0xff; cf = 1; }
	struct out o = { (ax & 0xff00) | al, (cf ? FL_CF : 0) | (af ? FL_AF : 0) | szp8(al) };
	return o;
}

static struct out ref_aaa(u32 ax, u32 fl)
{
	struct out o;
	if ((ax & 0x0f) > 9 || (fl & FL_AF)) { ax = (ax + 0x106) & 0xffff; o.fl = FL_AF | FL_CF; }
	else o.fl = 0;
	o.ax = ax & 0xff0f;
	return o;
}

static struct out ref_aas(u32 ax, u32 fl)
{
	struct out o;
	if ((ax & 0x0f) > 9 || (fl & FL_AF)) {
		ax = (ax - 6) & 0xffff;
		ax = (ax - 0x100) & 0xffff;   /* AH <- AH - 1 */
		o.fl = FL_AF | FL_CF;
	} else o.fl = 0;
	o.ax = ax & 0xff0f;
	return o;
}

static struct out ref_aam(u32 ax, u32 base)
{
	u32 al = ax & 0xff;
	struct out o = { ((al / base) << 8) | (al % base), szp8(al % base) };
	return o;
}

static struct out ref_aad(u32 ax, u32 base)
{
	u32 al = ((ax & 0xff) + ((ax >> 8) & 0xff) * base) & 0xff;
	struct out o = { al, szp8(al) };
	return o;
}

/* ---- the instructions ---- */
#define ADJ(fn, text)                                                                         \
	static struct out fn(u32 ax, u32 fl)                                                   \
	{                                                                                      \
		struct out o;                                                                  \
		u32 eax = 0x5a5a0000 | ax;                                                     \
		__asm__ volatile("pushl %2\n\tpopfl\n\t" text "\n\tpushfl\n\tpopl %1"          \
				 : "+a"(eax), "=&r"(o.fl) : "r"(fl | 0x2) : "cc");             \
		o.ax = eax & 0xffff;                                                           \
		if ((eax >> 16) != 0x5a5a) o.ax |= 0xdead0000;   /* upper EAX must survive */     \
		return o;                                                                      \
	}
ADJ(do_daa, "daa") ADJ(do_das, "das") ADJ(do_aaa, "aaa") ADJ(do_aas, "aas")
ADJ(do_aam10, "aam") ADJ(do_aam16, "aam $16") ADJ(do_aam7, "aam $7") ADJ(do_aam255, "aam $255") ADJ(do_aam1, "aam $1")
ADJ(do_aad10, "aad") ADJ(do_aad16, "aad $16") ADJ(do_aad7, "aad $7") ADJ(do_aad255, "aad $255") ADJ(do_aad0, "aad $0")

typedef struct out (*adj_fn)(u32 ax, u32 fl);
typedef struct out (*ref2_fn)(u32 ax, u32 fl);

/* Runs fn and ref over AL = 0..255 for one AH and flags-in; one CHECK line for the group. */
static void group(const char *name, adj_fn fn, ref2_fn ref, u32 ah, u32 fin, u32 fmask)
{
	for (u32 al = 0; al < 256; al++) {
		u32 ax = (ah << 8) | al;
		struct out g = fn(ax, fin), e = ref(ax, fin);
		if (g.ax != e.ax || (g.fl & fmask) != (e.fl & fmask)) {
			CHECK_RF(g.ax, g.fl & fmask, e.ax, e.fl & fmask, "%s ah=0x%x af=%u cf=%u: first failing al=0x%x", name, ah,
				 (fin & FL_AF) != 0, (fin & FL_CF) != 0, al);
			return;
		}
	}
	CHECK(0, 0, "%s ah=0x%x af=%u cf=%u al=0x00..0xff", name, ah, (fin & FL_AF) != 0, (fin & FL_CF) != 0);
}

static u32 g_base;
static struct out ref_aam_g(u32 ax, u32 fl) { return ref_aam(ax, g_base); }
static struct out ref_aad_g(u32 ax, u32 fl) { return ref_aad(ax, g_base); }

/* AAM 0 raises #DE */
static volatile u32 de_count, de_eip, de_resume;
static void de_handler(struct frame *f)
{
	de_count++;
	de_eip = f->eip;
	f->eip = de_resume;
}

void test_main(void)
{
	static const u32 fins[4] = { 0, FL_CF, FL_AF, FL_AF | FL_CF };
	const u32 f_daa = FL_CF | FL_AF | FL_SF | FL_ZF | FL_PF;   /* OF undefined */
	for (int k = 0; k < 4; k++) group("daa", do_daa, ref_daa, 0x12, fins[k], f_daa);
	for (int k = 0; k < 4; k++) group("das", do_das, ref_das, 0x34, fins[k], f_daa);
	static const u32 ahs[3] = { 0x00, 0x7f, 0xff };
	for (int h = 0; h < 3; h++)
		for (int k = 0; k < 4; k++) {
			group("aaa", do_aaa, ref_aaa, ahs[h], fins[k], FL_CF | FL_AF);   /* OF SF ZF PF undefined */
			group("aas", do_aas, ref_aas, ahs[h], fins[k], FL_CF | FL_AF);
		}
	static const struct { const char *name; adj_fn fn; u32 base; } aams[] = {
		{ "aam 10", do_aam10, 10 }, { "aam 16", do_aam16, 16 }, { "aam 7", do_aam7, 7 },
		{ "aam 255", do_aam255, 255 }, { "aam 1", do_aam1, 1 } };
	const u32 f_aam = FL_SF | FL_ZF | FL_PF;                     /* OF AF CF undefined */
	for (unsigned i = 0; i < sizeof(aams) / sizeof(aams[0]); i++) {
		g_base = aams[i].base;
		group(aams[i].name, aams[i].fn, ref_aam_g, 0x99, FL_ARITH, f_aam);
	}
	static const struct { const char *name; adj_fn fn; u32 base; } aads[] = {
		{ "aad 10", do_aad10, 10 }, { "aad 16", do_aad16, 16 }, { "aad 7", do_aad7, 7 },
		{ "aad 255", do_aad255, 255 }, { "aad 0", do_aad0, 0 } };
	for (unsigned i = 0; i < sizeof(aads) / sizeof(aads[0]); i++)
		for (int h = 0; h < 3; h++) {
			g_base = aads[i].base;
			group(aads[i].name, aads[i].fn, ref_aad_g, ahs[h] ^ 0x05, 0x2, f_aam);
		}

	rt_set_handler(0, de_handler);
	u32 ax = 0x1234, at = 0;
	__asm__ volatile("movl $1f, %1\n\tmovl $0f, %2\n0:\taam $0\n1:" : "+a"(ax), "=m"(de_resume), "=m"(at) : : "cc");
	CHECK(de_count, 1, "aam 0 raises #DE");
	CHECK(de_eip == at, 1, "aam 0 #DE saved EIP = the AAM instruction");
	CHECK(ax, 0x1234, "aam 0 leaves AX unchanged");
	rt_finish("bcd");
}
