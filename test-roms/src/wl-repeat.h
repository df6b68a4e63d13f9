/* Bench scaling for the workload ROMs (wl-*.c). The Multiboot command line may carry `repeat=N`
 * (QEMU: -append "repeat=N"; x86jit: the loader's cmdline, `x86jit run --cmdline`), and so may the HOST
 * build's arguments (`wl-sieve.elf repeat=N`, under x86jit exec or qemu-i386), which runs the whole
 * workload N times so that QEMU's compute time stands out from its start-up. Every repetition must give
 * the same results as the first; with N > 1 one more check line says whether they did. Without it (the
 * tests, the recorded expected output) N = 1 and the output does not mention it. */
#ifndef WL_REPEAT_H
#define WL_REPEAT_H
#include "rt.h"

#define WL_REPEAT_MAX 10000

/* N from the first `repeat=N` word of s: `none` if there is none, 1 if N is out of range. Always inlined,
 * so that the ROMs compile to the code they had before the HOST build took arguments too. */
static inline __attribute__((always_inline)) u32 wl_repeat_parse(const char *s, u32 none)
{
	for (const char *p = s; *p; p++) {
		if ((p != s && p[-1] != ' ') || memcmp(p, "repeat=", 7)) continue;
		u32 n = 0;
		for (p += 7; *p >= '0' && *p <= '9' && n <= WL_REPEAT_MAX; p++) n = n * 10 + (u32)(*p - '0');
		return n >= 1 && n <= WL_REPEAT_MAX ? n : 1;
	}
	return none;
}

/* N from the command line (ROM) or the arguments (HOST); 1 if absent or out of range. */
static u32 wl_repeat_count(void)
{
#ifdef HOST
	for (char **arg = rt_host_argv + 1; *arg; arg++) {
		u32 n = wl_repeat_parse(*arg, 0);
		if (n) return n;
	}
	return 1;
#else
	if (!(rt_mb_info->flags & 4) || !rt_mb_info->cmdline) return 1;   /* flags bit 2: cmdline valid */
	return wl_repeat_parse((const char *)rt_mb_info->cmdline, 1);
#endif
}

/* Runs work(result) N times (N from the command line) into `result` and `scratch` (both `size` bytes);
 * *repeat = N; returns how many repetitions disagreed with the first, whose result stays in `result`. */
static u32 wl_run(void (*work)(void *), void *result, void *scratch, unsigned size, u32 *repeat)
{
	u32 n = wl_repeat_count(), differ = 0;
	work(result);
	for (u32 k = 1; k < n; k++) {
		work(scratch);
		differ += memcmp(result, scratch, size) != 0;
	}
	*repeat = n;
	return differ;
}

/* The check line for N > 1 (none for N = 1, so the recorded output stays the same). */
#define WL_CHECK_REPEAT(differ, n) \
	do { if ((n) > 1) CHECK(differ, 0, "%u repetitions give the same results", n); } while (0)
#endif
