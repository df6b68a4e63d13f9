/* wl-crc32: table-driven CRC-32 (IEEE 802.3, reflected, zlib's crc32()) over a 64 KiB buffer of LCG
 * bytes, repeated over sliding windows, each CRC chained into the next as zlib does. The table is built
 * bitwise first; its own CRC is checked too.
 * The results are confirmed natively (build.sh --native), under QEMU and in Python's zlib (README.md). */
#include "rt.h"
#include "wl-repeat.h"

#define BUF_LEN 65536
#define ROUNDS 11

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_TABLE_CRC 0x6fcf9e13u
#define EXPECT_BUF_CRC 0x3f8f8cdau
#define EXPECT_CHAINED 0x2cc06bc9u

static u8 buf[BUF_LEN];
static u32 crc_table[256];

/* zlib semantics: crc32(crc32(0, a), b) == crc32(0, a ++ b) */
static u32 crc32(u32 crc, const u8 *p, u32 n)
{
	u32 c = ~crc;
	while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

struct result { u32 table_crc, buf_crc, chained; };

static void workload(void *out)
{
	struct result *res = out;
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;
		for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
		crc_table[i] = c;
	}
	u32 x = 2463534242u;
	for (u32 i = 0; i < BUF_LEN; i++) {
		x = x * 1664525u + 1013904223u;   /* LCG (Numerical Recipes) */
		buf[i] = (u8)(x >> 24);
	}
	u32 table_crc = crc32(0, (const u8 *)crc_table, sizeof(crc_table));
	u32 buf_crc = crc32(0, buf, BUF_LEN);
	u32 chained = 0;
	for (u32 r = 0; r < ROUNDS; r++) {
		u32 start = (r * 4099) & (BUF_LEN / 4 - 1);
		chained = crc32(chained, buf + start, BUF_LEN - start);
	}
	*res = (struct result){ table_crc, buf_crc, chained };
}

void test_main(void)
{
	struct result res, scratch;
	u32 repeat, differ = wl_run(workload, &res, &scratch, sizeof(res), &repeat);
	u32 table_crc = res.table_crc, buf_crc = res.buf_crc, chained = res.chained;
	rt_printf("table crc 0x%08x, buffer crc 0x%08x, %u chained windows 0x%08x\n", table_crc, buf_crc, ROUNDS, chained);
	CHECK(table_crc, EXPECT_TABLE_CRC, "crc32 of the table");
	CHECK(buf_crc, EXPECT_BUF_CRC, "crc32 of %u LCG bytes", BUF_LEN);
	CHECK(chained, EXPECT_CHAINED, "crc32 chained over %u windows", ROUNDS);
	WL_CHECK_REPEAT(differ, repeat);
	rt_finish("wl-crc32");
}
