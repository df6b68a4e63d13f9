/* wl-sieve: sieve of Eratosthenes over a byte array, repeated with a different limit each round
 * (byte stores in strided inner loops, a byte scan for the count). Each round's prime count and the sum
 * of the primes go into a checksum; the last round is checked on its own too.
 * The results are confirmed natively (build.sh --native), under QEMU and in Python (README.md). */
#include "rt.h"
#include "wl-repeat.h"

#define SIEVE_N 65536
#define ROUNDS 6

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_LAST_COUNT 5997u
#define EXPECT_LAST_SUM 168270654u
#define EXPECT_CHECKSUM 0xf99d878du

static u8 composite[SIEVE_N];

/* Primes below limit: count, and their sum in *sum. */
static u32 sieve(u32 limit, u32 *sum)
{
	memset(composite, 0, limit);
	for (u32 i = 2; i * i < limit; i++) {
		if (composite[i]) continue;
		for (u32 j = i * i; j < limit; j += i) composite[j] = 1;
	}
	u32 count = 0, s = 0;
	for (u32 i = 2; i < limit; i++)
		if (!composite[i]) { count++; s += i; }
	*sum = s;
	return count;
}

struct result { u32 checksum, count, sum, limit; };

static void workload(void *out)
{
	struct result *res = out;
	u32 checksum = 0, count = 0, sum = 0, limit = 0;
	for (u32 r = 0; r < ROUNDS; r++) {
		limit = SIEVE_N - r * 1237;
		count = sieve(limit, &sum);
		checksum = (checksum << 7 | checksum >> 25) ^ count ^ sum;
	}
	*res = (struct result){ checksum, count, sum, limit };
}

void test_main(void)
{
	struct result res, scratch;
	u32 repeat, differ = wl_run(workload, &res, &scratch, sizeof(res), &repeat);
	u32 checksum = res.checksum, count = res.count, sum = res.sum, limit = res.limit;
	rt_printf("%u rounds, last: %u primes below %u, sum %u\n", ROUNDS, count, limit, sum);
	rt_printf("checksum 0x%08x\n", checksum);
	CHECK(count, EXPECT_LAST_COUNT, "primes below %u", limit);
	CHECK(sum, EXPECT_LAST_SUM, "sum of primes below %u", limit);
	CHECK(checksum, EXPECT_CHECKSUM, "checksum over %u rounds", ROUNDS);
	WL_CHECK_REPEAT(differ, repeat);
	rt_finish("wl-sieve");
}
