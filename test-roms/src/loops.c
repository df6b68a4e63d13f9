/* loops: a loop-heavy workload (~50 million guest instructions) for checking and timing the execution
 * engine: sieve of Eratosthenes, bitwise and table CRC-32, integer matrix multiply, Collatz lengths.
 * Each part prints its result; the results are compared with values confirmed on the host CPU
 * (build.sh --native), under QEMU, and by an independent Python computation (see README). */
#include "rt.h"

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_CRC_B 0x0ab738c9u
#define EXPECT_CRC_T 0xf34c8ccfu
#define EXPECT_MATMUL 0x7a7019c9u
#define EXPECT_COLLATZ 4472129u

#define SIEVE_N 100000
static u8 composite[SIEVE_N];

static u32 sieve(void)
{
	u32 count = 0;
	memset(composite, 0, sizeof(composite));
	for (u32 i = 2; i < SIEVE_N; i++) {
		if (composite[i]) continue;
		count++;
		for (u32 j = i * 2; j < SIEVE_N; j += i) composite[j] = 1;
	}
	return count;
}

#define BUF_LEN 65536
static u8 buf[BUF_LEN];
static u32 crc_table[256];

static void fill(void)
{
	u32 x = 12345;
	for (u32 i = 0; i < BUF_LEN; i++) {
		x = x * 1103515245u + 12345u;   /* LCG */
		buf[i] = (u8)(x >> 16);
	}
}

static u32 crc32_bitwise(const u8 *p, u32 n)
{
	u32 c = 0xffffffff;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320 & (0u - (c & 1)));
	}
	return ~c;
}

static u32 crc32_table(const u8 *p, u32 n)
{
	u32 c = 0xffffffff;
	while (n--) c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

#define MAT 24
static u32 ma[MAT][MAT], mb[MAT][MAT], mc[MAT][MAT];

static u32 matmul(void)
{
	for (u32 i = 0; i < MAT; i++)
		for (u32 j = 0; j < MAT; j++) {
			ma[i][j] = i * 3 + j * 7 + 1;
			mb[i][j] = (i ^ j) + 5;
		}
	u32 sum = 0;
	for (int rep = 0; rep < 20; rep++) {
		for (u32 i = 0; i < MAT; i++)
			for (u32 j = 0; j < MAT; j++) {
				u32 s = 0;
				for (u32 k = 0; k < MAT; k++) s += ma[i][k] * mb[k][j];
				mc[i][j] = s;
			}
		for (u32 i = 0; i < MAT; i++)
			for (u32 j = 0; j < MAT; j++) {
				sum = (sum << 1 | sum >> 31) ^ mc[i][j];
				ma[i][j] = mc[i][j] & 0xff;
			}
	}
	return sum;
}

static u32 collatz(u32 limit)
{
	u32 total = 0;
	for (u32 n = 1; n < limit; n++) {
		u32 x = n;
		while (x != 1) {
			x = (x & 1) ? 3 * x + 1 : x >> 1;
			total++;
		}
	}
	return total;
}

void test_main(void)
{
	u32 primes = sieve();
	CHECK(primes, 9592, "sieve: primes below %u", SIEVE_N);
	fill();
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;
		for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320 & (0u - (c & 1)));
		crc_table[i] = c;
	}
	u32 crc_b = crc32_bitwise(buf, BUF_LEN);
	u32 crc_t = 0;
	for (int rep = 0; rep < 16; rep++) crc_t ^= crc32_table(buf, BUF_LEN - rep);
	u32 mm = matmul();
	u32 steps = collatz(45000);
	rt_printf("sieve=%u crc_bitwise=0x%08x crc_table=0x%08x matmul=0x%08x collatz=%u\n", primes, crc_b, crc_t, mm, steps);
	CHECK(crc_b, EXPECT_CRC_B, "crc32 bitwise over %u LCG bytes", BUF_LEN);
	CHECK(crc_t, EXPECT_CRC_T, "crc32 table-driven, 16 lengths xored");
	CHECK(mm, EXPECT_MATMUL, "integer matrix multiply checksum");
	CHECK(steps, EXPECT_COLLATZ, "collatz total steps below 45000");
	u32 checksum = primes ^ crc_b ^ crc_t ^ mm ^ steps;
	CHECK(checksum, EXPECT_CRC_B ^ EXPECT_CRC_T ^ EXPECT_MATMUL ^ EXPECT_COLLATZ ^ 9592, "checksum 0x%08x", checksum);
	rt_finish("loops");
}
