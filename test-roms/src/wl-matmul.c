/* wl-matmul: 64x64 integer matrix multiply (u32, wrapping), repeated: C = A x B, then the low 16 bits
 * of C ^ (C >> 13) become the next A (the plain low bits would fill up with factors of two). A rotate-xor
 * checksum over every product matrix is checked at the end.
 * The results are confirmed natively (build.sh --native), under QEMU and in Python (README.md). */
#include "rt.h"
#include "wl-repeat.h"

#define DIM 64
#define ROUNDS 3

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_TRACE 785982078u
#define EXPECT_CHECKSUM 0xc6380b84u

static u32 ma[DIM][DIM], mb[DIM][DIM], mc[DIM][DIM];

struct result { u32 trace, checksum; };

static void workload(void *out)
{
	struct result *res = out;
	for (u32 i = 0; i < DIM; i++)
		for (u32 j = 0; j < DIM; j++) {
			ma[i][j] = i * 31 + j * 17 + 3;
			mb[i][j] = ((i * j) ^ (i + 2 * j)) & 0x3ff;
		}
	u32 checksum = 0;
	for (u32 r = 0; r < ROUNDS; r++) {
		for (u32 i = 0; i < DIM; i++)
			for (u32 j = 0; j < DIM; j++) {
				u32 s = 0;
				for (u32 k = 0; k < DIM; k++) s += ma[i][k] * mb[k][j];
				mc[i][j] = s;
			}
		for (u32 i = 0; i < DIM; i++)
			for (u32 j = 0; j < DIM; j++) {
				checksum = (checksum << 3 | checksum >> 29) ^ mc[i][j];
				ma[i][j] = (mc[i][j] ^ mc[i][j] >> 13) & 0xffff;
			}
	}
	u32 trace = 0;
	for (u32 i = 0; i < DIM; i++) trace += mc[i][i];
	*res = (struct result){ trace, checksum };
}

void test_main(void)
{
	struct result res, scratch;
	u32 repeat, differ = wl_run(workload, &res, &scratch, sizeof(res), &repeat);
	u32 trace = res.trace, checksum = res.checksum;
	rt_printf("%u rounds of %ux%u: trace %u\n", ROUNDS, DIM, DIM, trace);
	rt_printf("checksum 0x%08x\n", checksum);
	CHECK(trace, EXPECT_TRACE, "trace of the last product");
	CHECK(checksum, EXPECT_CHECKSUM, "checksum over %u products", ROUNDS);
	WL_CHECK_REPEAT(differ, repeat);
	rt_finish("wl-matmul");
}
