/* wl-bytecode: a stack-machine bytecode interpreter (the classic `switch` dispatch loop, which gcc
 * compiles to a bounds check and an indirect jump through a table: one indirect branch per opcode)
 * running a fixed program that counts the primes below a limit by trial division and sums and hashes
 * them. The interpreter also counts the opcodes it executed.
 * The results are confirmed natively (build.sh --native), under QEMU and in Python (an independent
 * interpreter of the same program, and a direct computation of the primes; README.md). */
#include "rt.h"
#include "wl-repeat.h"

#define LIMIT 4600

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_COUNT 622u
#define EXPECT_SUM 1322229u
#define EXPECT_HASH 0xe4ce0409u
#define EXPECT_STEPS 532039u

enum { PUSH, LOAD, STORE, ADD, MUL, MOD, XOR, LT, LE, DUP, INC, JMP, JZ, HALT };
enum { V_N, V_COUNT, V_SUM, V_D, V_HASH, V_LIMIT, NVARS };

static const s32 program[] = {
	PUSH, LIMIT, STORE, V_LIMIT,
	PUSH, 2, STORE, V_N,
/* 8 outer: */
	LOAD, V_N, LOAD, V_LIMIT, LT, JZ, 62,
	PUSH, 2, STORE, V_D,
/* 19 inner: while d*d <= n, else n is prime */
	LOAD, V_D, DUP, MUL, LOAD, V_N, LE, JZ, 39,
	LOAD, V_N, LOAD, V_D, MOD, JZ, 58,     /* divisible: next n */
	INC, V_D, JMP, 19,
/* 39 prime: */
	INC, V_COUNT,
	LOAD, V_SUM, LOAD, V_N, ADD, STORE, V_SUM,
	LOAD, V_HASH, PUSH, 31, MUL, LOAD, V_N, XOR, STORE, V_HASH,
/* 58 next: */
	INC, V_N, JMP, 8,
/* 62 done: */
	HALT,
};

static u32 vars[NVARS];
static u32 steps;

/* Runs the program; returns 0, or the pc of an invalid opcode plus 1. */
static u32 run(const s32 *code)
{
	u32 stack[32], sp = 0, pc = 0, n = 0;
	for (;;) {
		n++;
		u32 a, b;
		switch (code[pc++]) {
		case PUSH: stack[sp++] = (u32)code[pc++]; break;
		case LOAD: stack[sp++] = vars[code[pc++]]; break;
		case STORE: vars[code[pc++]] = stack[--sp]; break;
		case ADD: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a + b; break;
		case MUL: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a * b; break;
		case MOD: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a % b; break;
		case XOR: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a ^ b; break;
		case LT: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a < b; break;
		case LE: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a <= b; break;
		case DUP: a = stack[sp - 1]; stack[sp++] = a; break;
		case INC: vars[code[pc++]]++; break;
		case JMP: pc = (u32)code[pc]; break;
		case JZ: a = stack[--sp]; pc = a ? pc + 1 : (u32)code[pc]; break;
		case HALT: steps = n; return 0;
		default: steps = n; return pc;
		}
	}
}

struct result { u32 bad, count, sum, hash, steps; };

static void workload(void *out)
{
	struct result *res = out;
	memset(vars, 0, sizeof(vars));
	u32 bad = run(program);
	*res = (struct result){ bad, vars[V_COUNT], vars[V_SUM], vars[V_HASH], steps };
}

void test_main(void)
{
	struct result res, scratch;
	u32 repeat, differ = wl_run(workload, &res, &scratch, sizeof(res), &repeat);
	rt_printf("primes below %u: count %u sum %u hash 0x%08x, %u bytecode steps\n", LIMIT, res.count, res.sum,
		  res.hash, res.steps);
	CHECK(res.bad, 0, "no invalid opcode");
	CHECK(res.count, EXPECT_COUNT, "primes below %u", LIMIT);
	CHECK(res.sum, EXPECT_SUM, "sum of the primes");
	CHECK(res.hash, EXPECT_HASH, "hash of the primes");
	CHECK(res.steps, EXPECT_STEPS, "bytecode steps");
	WL_CHECK_REPEAT(differ, repeat);
	rt_finish("wl-bytecode");
}
