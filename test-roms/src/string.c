/* string: MOVS STOS LODS CMPS SCAS (B/W/D) without prefix, with REP / REPE / REPNE, DF=0 and DF=1,
 * ECX=0. Checks final ESI/EDI/ECX/EAX, the memory image and (CMPS/SCAS) the flags of the last
 * comparison, against a C model that walks the same elements one at a time. */
#include "rt.h"

enum { MOVS, STOS, LODS, CMPS, SCAS };
enum { NONE, REP, REPE, REPNE };   /* REP and REPE share the F3 prefix */
static const char *const op_names[] = { "movs", "stos", "lods", "cmps", "scas" };
static const char *const pfx_names[] = { "", "rep ", "repe ", "repne " };
static const char sfx[] = { 0, 'b', 'w', 0, 'd' };

struct st { u32 esi, edi, ecx, eax, fl; };

static u8 area[256] __attribute__((aligned(16)));
static u8 model_area[256];

static u32 wmask(int w) { return w == 32 ? 0xffffffffu : (1u << w) - 1; }

static u32 sub_flags(u32 a, u32 b, int w)
{
	u32 m = wmask(w), r;
	a &= m; b &= m;
	r = (a - b) & m;
	return (a < b ? FL_CF : 0) | (((a ^ b) & (a ^ r)) >> (w - 1) & 1 ? FL_OF : 0) | ((a ^ b ^ r) & 0x10 ? FL_AF : 0) |
	       (r == 0 ? FL_ZF : 0) | ((r >> (w - 1)) & 1 ? FL_SF : 0) | parity8(r);
}

static u32 ld(u32 addr, int size)   /* little-endian element of the model image */
{
	u8 *p = model_area + (addr - (u32)area);
	u32 v = 0;
	for (int i = size - 1; i >= 0; i--) v = (v << 8) | p[i];
	return v;
}

static void st(u32 addr, int size, u32 v)
{
	u8 *p = model_area + (addr - (u32)area);
	for (int i = 0; i < size; i++, v >>= 8) p[i] = (u8)v;
}

static void model(int op, int size, int pfx, struct st *s)
{
	int step = (s->fl & FL_DF) ? -size : size, w = size * 8;
	for (;;) {
		if (pfx != NONE && s->ecx == 0) return;
		switch (op) {
		case MOVS: st(s->edi, size, ld(s->esi, size)); s->esi += step; s->edi += step; break;
		case STOS: st(s->edi, size, s->eax); s->edi += step; break;
		case LODS: s->eax = (s->eax & ~wmask(w)) | ld(s->esi, size); s->esi += step; break;
		case CMPS:
			s->fl = (s->fl & ~FL_ARITH) | sub_flags(ld(s->esi, size), ld(s->edi, size), w);
			s->esi += step; s->edi += step;
			break;
		default:
			s->fl = (s->fl & ~FL_ARITH) | sub_flags(s->eax, ld(s->edi, size), w);
			s->edi += step;
			break;
		}
		if (pfx == NONE) return;
		s->ecx--;
		if (pfx == REPE && !(s->fl & FL_ZF)) return;
		if (pfx == REPNE && (s->fl & FL_ZF)) return;
	}
}

/* ---- the instructions: flags (incl. DF) loaded from s->fl, CLD before returning to C ---- */
typedef void (*str_fn)(struct st *s);
#define STR(fn, text)                                                                         \
	static void fn(struct st *s)                                                           \
	{                                                                                      \
		__asm__ volatile("pushl %5\n\tpopfl\n\t" text "\n\tpushfl\n\tpopl %4\n\tcld"   \
				 : "+S"(s->esi), "+D"(s->edi), "+c"(s->ecx), "+a"(s->eax), "=&r"(s->fl) \
				 : "r"(s->fl) : "memory", "cc");                               \
	}
#define SIZES(op, pfx, name) STR(name##_b, pfx #op "b") STR(name##_w, pfx #op "w") STR(name##_d, pfx #op "l")
SIZES(movs, "", movs) SIZES(movs, "rep ", rep_movs)
SIZES(stos, "", stos) SIZES(stos, "rep ", rep_stos)
SIZES(lods, "", lods) SIZES(lods, "rep ", rep_lods)
SIZES(cmps, "", cmps) SIZES(cmps, "repe ", repe_cmps) SIZES(cmps, "repne ", repne_cmps)
SIZES(scas, "", scas) SIZES(scas, "repe ", repe_scas) SIZES(scas, "repne ", repne_scas)
#define ROW(name) { name##_b, name##_w, 0, name##_d }
static const str_fn fns[5][4][4] = {
	{ ROW(movs), ROW(rep_movs), { 0 }, { 0 } },
	{ ROW(stos), ROW(rep_stos), { 0 }, { 0 } },
	{ ROW(lods), ROW(rep_lods), { 0 }, { 0 } },
	{ ROW(cmps), { 0 }, ROW(repe_cmps), ROW(repne_cmps) },
	{ ROW(scas), { 0 }, ROW(repe_scas), ROW(repne_scas) },
};
/* fns[op][pfx][size-1] */

#define SRC_OFF 32
#define DST_OFF 144
#define MISMATCH_AT 3   /* iteration at which REPE data differs / REPNE data matches */

/* Fills the image; for CMPS/SCAS, element k (in walk order) of the destination equals the source
 * (or EAX) except at MISMATCH_AT for REPE-style data, and the reverse for REPNE-style data. */
static void fill(int op, int size, int pfx, int down, u32 eax)
{
	for (int i = 0; i < 256; i++) area[i] = (u8)(i * 7 + 3);
	if (op != CMPS && op != SCAS) return;
	int step = down ? -size : size;
	u32 s = (u32)area + SRC_OFF + (down ? 64 : 0), d = (u32)area + DST_OFF + (down ? 64 : 0);
	memcpy(model_area, area, sizeof(area));
	for (int k = 0; k < 12; k++, s += step, d += step) {
		u32 ref = op == CMPS ? ld(s, size) : eax;
		int equal = (k == MISMATCH_AT) == (pfx == REPNE);
		st(d, size, equal ? ref : ref + 0x81 + (u32)k * 0x1010101u);
	}
	memcpy(area, model_area, sizeof(area));
}

static void run(int op, int pfx, int size, int down, u32 count)
{
	u32 fin = 0x2 | (down ? FL_DF : 0) | FL_CF | FL_ZF | FL_PF;   /* stale flags that must survive ECX=0 */
	u32 eax = 0xdeadbeef;
	fill(op, size, pfx, down, eax);
	struct st s = { (u32)area + SRC_OFF + (down ? 64 : 0), (u32)area + DST_OFF + (down ? 64 : 0), count, eax, fin };
	struct st e = s;
	memcpy(model_area, area, sizeof(area));
	model(op, size, pfx, &e);
	fns[op][pfx][size - 1](&s);
	u32 fmask = FL_ARITH | FL_DF;
	const char *p = pfx_names[pfx];
	CHECK(s.esi - (u32)area, e.esi - (u32)area, "%s%s%c df=%d ecx=%u esi offset", p, op_names[op], sfx[size], down, count);
	CHECK(s.edi - (u32)area, e.edi - (u32)area, "%s%s%c df=%d ecx=%u edi offset", p, op_names[op], sfx[size], down, count);
	CHECK(s.ecx, e.ecx, "%s%s%c df=%d ecx=%u final ecx", p, op_names[op], sfx[size], down, count);
	CHECK(s.eax, e.eax, "%s%s%c df=%d ecx=%u eax", p, op_names[op], sfx[size], down, count);
	CHECK(s.fl & fmask, e.fl & fmask, "%s%s%c df=%d ecx=%u flags", p, op_names[op], sfx[size], down, count);
	CHECK(memcmp(area, model_area, sizeof(area)), 0, "%s%s%c df=%d ecx=%u memory", p, op_names[op], sfx[size], down, count);
}

void test_main(void)
{
	static const u32 counts[3] = { 0, 1, 7 };
	for (int op = MOVS; op <= SCAS; op++)
		for (int pfx = NONE; pfx <= REPNE; pfx++)
			for (int size = 1; size <= 4; size *= 2)
				for (int down = 0; down < 2; down++) {
					if (!fns[op][pfx][size - 1]) continue;
					if (pfx == NONE) { run(op, pfx, size, down, 7); continue; }
					for (int k = 0; k < 3; k++) run(op, pfx, size, down, counts[k]);
				}
	/* An overlapping forward copy replicates the first bytes (the classic memset-by-movsb idiom). */
	for (int i = 0; i < 256; i++) area[i] = (u8)i;
	struct st s = { (u32)area, (u32)area + 1, 16, 0, 0x2 };
	rep_movs_b(&s);
	u32 sum = 0;
	for (int i = 0; i < 17; i++) sum += area[i];
	CHECK(sum, 0, "rep movsb overlapping forward copy replicates byte 0");
	CHECK(area[17], 17, "rep movsb overlapping copy stops after ecx bytes");
	rt_finish("string");
}
