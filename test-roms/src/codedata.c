/* codedata: code and data on one page. A sieve over a byte array and an LCG tally into dword, word and
 * byte counters, all living in the same 4 KiB page as the loops that write them (codedata-asm.S), the
 * counters right next to the code on both sides. Results are checked against C models over ordinary
 * memory and against constants computed in Python; the code next to the data must stay intact.
 * (Under x86jit these stores must not leave compiled code: tests/jit.test.ts counts the exits.) */
#include "rt.h"

#define CD_SIEVE_MAX 3328                /* 0x1000 - 0x300: cd_composite runs to the end of the page */
#define ROUNDS 100                       /* limits CD_SIEVE_MAX - 13 * r */
#define TALLY_N 50000

/* Computed in Python (an independent sieve and LCG) */
#define EXPECT_LAST_COUNT 309u           /* primes below 2041 */
#define EXPECT_CHECKSUM 0xeb7313ceu
#define EXPECT_TALLY_HASH 0x7cb5415cu

u32 cd_sieve(u32 limit);
void cd_tally(u32 n, u32 seed);
extern u8 cd_tally_code[], cd_tally_ret[]; /* cd_tally's first and last bytes */
extern u32 cd_count32[16];
extern u16 cd_count16[16];
extern u8 cd_count8[32];

static u8 model_composite[CD_SIEVE_MAX];

static u32 model_sieve(u32 limit)
{
	memset(model_composite, 0, limit);
	for (u32 i = 2; i * i < limit; i++) {
		if (model_composite[i]) continue;
		for (u32 j = i * i; j < limit; j += i) model_composite[j] = 1;
	}
	u32 count = 0;
	for (u32 i = 2; i < limit; i++) count += !model_composite[i];
	return count;
}

void test_main(void)
{
	u32 checksum = 0, bad = 0, count = 0, limit = 0;
	for (u32 r = 0; r < ROUNDS; r++) {
		limit = CD_SIEVE_MAX - 13 * r;
		count = cd_sieve(limit);
		if (count != model_sieve(limit)) bad++;
		checksum = (checksum << 5 | checksum >> 27) ^ count;
	}
	rt_printf("sieve in the code page: %u rounds, last %u primes below %u, checksum 0x%08x\n", ROUNDS, count, limit, checksum);
	CHECK(bad, 0, "sieve over a byte array in the code's page agrees with the C model (%u rounds)", ROUNDS);
	CHECK(count, EXPECT_LAST_COUNT, "primes below %u", limit);
	CHECK(checksum, EXPECT_CHECKSUM, "checksum over %u rounds", ROUNDS);

	static u32 m32[16];
	static u16 m16[16];
	static u8 m8[32];
	memset(cd_count32, 0, sizeof m32);
	memset(cd_count16, 0, sizeof m16);
	memset(cd_count8, 0, sizeof m8);
	cd_tally(TALLY_N, 1);
	for (u32 i = 0, x = 1; i < TALLY_N; i++) {
		x = x * 1103515245u + 12345u;
		m32[x >> 28]++;
		m16[(x >> 24) & 15]++;
		m8[(x >> 16) & 31]++;
	}
	u32 differ = 0, hash = 0;
	for (u32 i = 0; i < 16; i++) { differ += cd_count32[i] != m32[i]; hash = hash * 31 + cd_count32[i]; }
	for (u32 i = 0; i < 16; i++) { differ += cd_count16[i] != m16[i]; hash = hash * 31 + cd_count16[i]; }
	for (u32 i = 0; i < 32; i++) { differ += cd_count8[i] != m8[i]; hash = hash * 31 + cd_count8[i]; }
	rt_printf("tally next to the code: %u steps, hash 0x%08x\n", TALLY_N, hash);
	CHECK(differ, 0, "dword, word and byte counters next to the code agree with the C model");
	CHECK(hash, EXPECT_TALLY_HASH, "hash of the counters");
	CHECK(cd_tally_code[0], 0x8b, "first code byte after the dword counters intact");
	CHECK(cd_tally_ret[0], 0xc3, "last code byte before the word counters intact (RET)");
	rt_finish("codedata");
}
