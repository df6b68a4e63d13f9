/* smc-adjacent: code rewritten one byte away from data that the same loop writes on every iteration
 * (smc-adjacent-asm.S): a datum right before a function whose first byte is patched, a datum right
 * after a JMP whose displacement is retargeted, a datum in the same 64-byte chunk as a patched
 * immediate, word and dword stores that straddle data and code, REP STOSB up to the code and REP MOVSB
 * into it. Every patch must take effect at once; the data stores must leave the code alone. */
#include "rt.h"

#define ROUNDS 3

u32 sa_loop_a(u32 n);
u32 sa_loop_b(u32 n);
u32 sa_loop_c(u32 n);
u32 sa_loop_d(u32 n);
u32 sa_loop_e(u32 n);
u32 sa_call_a(u32 x);
void sa_stosb(void *dst, u32 byte, u32 n);
void sa_movsb(void *dst, const void *src, u32 n);
extern u8 sa_data_a[64], sa_data_b[4], sa_data_c[4], sa_fn_b[];

/* What the loops return: the patch comes after the call with i = n/2 (a, b, c); d and e patch by parity. */
static u32 model(char loop, u32 n)
{
	u32 sum = 0, half = n / 2;
	for (u32 i = n; i > 0; i--) {
		int before = i >= half, even = (i & 1) == 0;
		switch (loop) {
		case 'a': sum += before ? i + 1 : i - 1; break;
		case 'b': sum += before ? 1 : 2; break;
		case 'c': sum += before ? 0x100 : 0x200; break;
		case 'd': sum += even ? i + 1 : i - 1; break;
		case 'e': sum += even ? 1 : 2; break;
		}
	}
	return sum;
}

static u32 load32(const u8 *p) { return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24; }

void test_main(void)
{
	static u8 buf[65];
	for (u32 r = 0; r < ROUNDS; r++) {
		u32 n = 1000 + r, m = 250 + r;      /* m for the loops that rewrite code on every iteration */
		CHECK(sa_loop_a(n), model('a', n), "round %u: INC -> DEC in the byte after a hot datum, %u iterations", r, n);
		CHECK(load32(sa_data_a + 60), 1, "round %u: the datum before the code holds the last value", r);
		CHECK(sa_loop_b(n), model('b', n), "round %u: JMP retargeted in the byte before a hot datum, %u iterations", r, n);
		CHECK(load32(sa_data_b), 1, "round %u: the datum after the code holds the last value", r);
		CHECK(sa_loop_c(n), model('c', n), "round %u: immediate patched in a hot datum's 64-byte chunk, %u iterations", r, n);
		CHECK(load32(sa_data_c), 1, "round %u: the datum in the code's chunk holds the last value", r);
		CHECK(sa_loop_d(m), model('d', m), "round %u: word stores across datum and code (INC/DEC by parity), %u iterations", r, m);
		CHECK(sa_data_a[63], 1, "round %u: the word stores' data byte", r);
		CHECK(sa_loop_e(m), model('e', m), "round %u: dword stores across code and datum (JMP target by parity), %u iterations", r, m);
		CHECK(sa_data_b[0], 1, "round %u: the dword stores' data byte", r);
		CHECK(sa_fn_b[0], 0xeb, "round %u: the JMP opcode intact", r);

		/* sa_loop_d ended with i = 1: DEC */
		sa_stosb(sa_data_a, 0x5a + r, 64);
		u32 filled = 0;
		for (u32 i = 0; i < 64; i++) filled += sa_data_a[i] == 0x5a + r;
		CHECK(filled, 64, "round %u: REP STOSB fills the 64 bytes before the code", r);
		CHECK(sa_call_a(10), 9, "round %u: the code after them unchanged (DEC)", r);
		memset(buf, 0x33, 64);
		buf[64] = 0x40;
		sa_movsb(sa_data_a, buf, 65);
		CHECK(sa_call_a(10), 11, "round %u: REP MOVSB over the data and the code's first byte (INC)", r);
	}
	rt_finish("smc-adjacent");
}
