/* wl-memcpy: bulk memory traffic through the string instructions (inline asm, so the compiler cannot
 * pick other instructions): REP STOSD fills of a 512 KiB buffer, REP MOVSD copies from a 512 KiB LCG source
 * (aligned, from offsets 4r), REP MOVSB copies at odd offsets and lengths, a backward (DF=1) REP MOVSD
 * between overlapping ranges (memmove), and a forward overlapping REP MOVSB (which replicates one byte).
 * Every round compares the copied ranges with their source in C and folds the whole destination into
 * a checksum. The results are confirmed natively (build.sh --native), under QEMU and in Python (README.md). */
#include "rt.h"
#include "wl-repeat.h"

#define SIZE (1u << 19)
#define ROUNDS 2                 /* at most 5: the odd-offset copy must end below SMEAR_AT */
#define BACK_LEN 65536u          /* overlapping backward copy: dst[8..8+BACK_LEN) <- dst[0..BACK_LEN) */
#define SMEAR_AT (SIZE / 4 * 3)  /* overlapping forward byte copy: dst[SMEAR_AT+1..+SMEAR_LEN) <- dst[SMEAR_AT..) */
#define SMEAR_LEN 4096u

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_CHECKSUM 0x1fedb796u

static u32 src[SIZE / 4], dst[SIZE / 4];

static void rep_stosd(void *d, u32 v, u32 dwords)
{
	__asm__ volatile("rep stosl" : "+D"(d), "+c"(dwords) : "a"(v) : "memory");
}

static void rep_movsd(void *d, const void *s, u32 dwords)
{
	__asm__ volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(dwords) : : "memory");
}

static void rep_movsb(void *d, const void *s, u32 bytes)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(bytes) : : "memory");
}

/* Copies dwords from the top down (DF=1): correct for overlapping ranges with d > s. */
static void rep_movsd_backward(void *d, const void *s, u32 dwords)
{
	void *dl = (u8 *)d + dwords * 4 - 4;
	const void *sl = (const u8 *)s + dwords * 4 - 4;
	__asm__ volatile("std; rep movsl; cld" : "+D"(dl), "+S"(sl), "+c"(dwords) : : "memory");
}

struct result { u32 checksum, mismatches; };

static void workload(void *out)
{
	struct result *res = out;
	u32 x = 1;
	for (u32 i = 0; i < SIZE / 4; i++) {
		x = x * 1664525u + 1013904223u;
		src[i] = x ^ (x >> 15);
	}
	u8 *d8 = (u8 *)dst;
	const u8 *s8 = (const u8 *)src;
	u32 checksum = 0, mismatches = 0;
	for (u32 r = 0; r < ROUNDS; r++) {
		u32 pattern = 0x01010101u * (r + 1) ^ 0xdeadbeefu;
		rep_stosd(dst, pattern, SIZE / 4);
		rep_movsd(dst, src + r, SIZE / 2 / 4);
		u32 odd_at = SIZE / 2 + 1 + r, odd_from = 3 + r, odd_len = SIZE / 4 - 7;
		rep_movsb(d8 + odd_at, s8 + odd_from, odd_len);
		rep_movsd_backward(d8 + 8, d8, BACK_LEN / 4);
		rep_movsb(d8 + SMEAR_AT + 1, d8 + SMEAR_AT, SMEAR_LEN);

		/* in dwords: dst[0..2) = src[r..r+2) (not overwritten by the backward copy), dst[2..2+BACK_LEN/4)
		 * = src[r..] (moved up by 8 bytes), then dst[i] = src[r+i] up to SIZE/2 */
		for (u32 i = 0; i < 2; i++) mismatches += dst[i] != src[r + i];
		for (u32 i = 0; i < BACK_LEN / 4; i++) mismatches += dst[2 + i] != src[r + i];
		for (u32 i = 2 + BACK_LEN / 4; i < SIZE / 2 / 4; i++) mismatches += dst[i] != src[r + i];
		for (u32 i = 0; i < odd_len; i++) mismatches += d8[odd_at + i] != s8[odd_from + i];
		for (u32 i = 1; i <= SMEAR_LEN; i++) mismatches += d8[SMEAR_AT + i] != (u8)pattern;
		for (u32 i = (SMEAR_AT + SMEAR_LEN + 4) / 4; i < SIZE / 4; i++) mismatches += dst[i] != pattern;

		for (u32 i = 0; i < SIZE / 4; i++) checksum = (checksum << 1 | checksum >> 31) + dst[i];
	}
	*res = (struct result){ checksum, mismatches };
}

void test_main(void)
{
	struct result res, scratch;
	u32 repeat, differ = wl_run(workload, &res, &scratch, sizeof(res), &repeat);
	u32 checksum = res.checksum, mismatches = res.mismatches;
	rt_printf("%u rounds over %u KiB buffers\n", ROUNDS, SIZE / 1024);
	rt_printf("checksum 0x%08x\n", checksum);
	CHECK(mismatches, 0, "copied ranges equal their sources, fills equal the pattern");
	CHECK(checksum, EXPECT_CHECKSUM, "checksum of the destination over %u rounds", ROUNDS);
	WL_CHECK_REPEAT(differ, repeat);
	rt_finish("wl-memcpy");
}
