/* wl-recursion: a call/return-heavy workload for timing the execution engine: naive Fibonacci (gcc keeps
 * fib(n-1) a call and loops over fib(n-2): one CALL/RET per invocation), Takeuchi's tak (three calls and
 * a tail jump) and Ackermann's function (one call and tail jumps), each counting its invocations. noipa
 * keeps gcc from specialising or inlining them. The deepest recursion, ack(2, 69), is 140 frames of
 * 32 bytes deep (gcc's tail jumps reuse the frame), well inside the runtime's 16 KiB stack.
 * The results are confirmed natively (build.sh --native), under QEMU and in Python (README.md). */
#include "rt.h"
#include "wl-repeat.h"

#define FIB_N 24
#define FIB_ROUNDS 2
#define TAK_X 18
#define TAK_Y 12
#define TAK_Z 6
#define ACK_M 2
#define ACK_N 60
#define ACK_ROUNDS 10

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_FIB 46368u
#define EXPECT_FIB_CALLS 150049u
#define EXPECT_TAK 7u
#define EXPECT_TAK_CALLS 63609u
#define EXPECT_ACK 141u
#define EXPECT_ACK_CALLS 10010u
#define EXPECT_CHECKSUM 0x8b5b450bu

static u32 calls;

__attribute__((noipa)) static u32 fib(u32 n)
{
	calls++;
	if (n < 2) return n;
	return fib(n - 1) + fib(n - 2);
}

__attribute__((noipa)) static s32 tak(s32 x, s32 y, s32 z)
{
	calls++;
	if (y >= x) return z;
	return tak(tak(x - 1, y, z), tak(y - 1, z, x), tak(z - 1, x, y));
}

__attribute__((noipa)) static u32 ack(u32 m, u32 n)
{
	calls++;
	if (m == 0) return n + 1;
	if (n == 0) return ack(m - 1, 1);
	return ack(m - 1, ack(m, n - 1));
}

struct result { u32 f, fib_calls, t, tak_calls, a, ack_calls, sum; };

static void workload(void *out)
{
	struct result *res = out;
	u32 sum = 0, fib_calls = 0, tak_calls = 0, ack_calls = 0, f = 0, t = 0, a = 0;
	for (u32 r = 0; r < FIB_ROUNDS; r++) {
		calls = 0;
		f = fib(FIB_N);
		fib_calls = calls;
		sum = (sum << 5 | sum >> 27) ^ f ^ fib_calls;
	}
	calls = 0;
	t = (u32)tak(TAK_X, TAK_Y, TAK_Z);
	tak_calls = calls;
	sum = (sum << 5 | sum >> 27) ^ t ^ tak_calls;
	for (u32 r = 0; r < ACK_ROUNDS; r++) {
		calls = 0;
		a = ack(ACK_M, ACK_N + r);
		ack_calls = calls;
		sum = (sum << 5 | sum >> 27) ^ a ^ ack_calls;
	}
	*res = (struct result){ f, fib_calls, t, tak_calls, a, ack_calls, sum };
}

void test_main(void)
{
	struct result res, scratch;
	u32 repeat, differ = wl_run(workload, &res, &scratch, sizeof(res), &repeat);
	u32 f = res.f, fib_calls = res.fib_calls, t = res.t, tak_calls = res.tak_calls, a = res.a, ack_calls = res.ack_calls,
	    sum = res.sum;
	rt_printf("fib(%u)=%u calls=%u x%u\n", FIB_N, f, fib_calls, FIB_ROUNDS);
	rt_printf("tak(%u,%u,%u)=%u calls=%u\n", TAK_X, TAK_Y, TAK_Z, t, tak_calls);
	rt_printf("ack(%u,%u..%u): last=%u calls=%u\n", ACK_M, ACK_N, ACK_N + ACK_ROUNDS - 1, a, ack_calls);
	rt_printf("checksum 0x%08x\n", sum);
	CHECK(f, EXPECT_FIB, "fib(%u)", FIB_N);
	CHECK(fib_calls, EXPECT_FIB_CALLS, "fib(%u) calls", FIB_N);
	CHECK(t, EXPECT_TAK, "tak(%u,%u,%u)", TAK_X, TAK_Y, TAK_Z);
	CHECK(tak_calls, EXPECT_TAK_CALLS, "tak calls");
	CHECK(a, EXPECT_ACK, "ack(%u,%u)", ACK_M, ACK_N + ACK_ROUNDS - 1);
	CHECK(ack_calls, EXPECT_ACK_CALLS, "ack(%u,%u) calls", ACK_M, ACK_N + ACK_ROUNDS - 1);
	CHECK(sum, EXPECT_CHECKSUM, "checksum");
	WL_CHECK_REPEAT(differ, repeat);
	rt_finish("wl-recursion");
}
