/* wl-sort: sorting a pseudo-random u32 array, repeated with a new seed each round: quicksort
 * (median of three, insertion sort below 16 elements, recursion on the smaller side) on even rounds,
 * heapsort on odd rounds. Every round checks sortedness and that sum and xor of the elements are
 * unchanged; a position-weighted checksum of the sorted arrays is checked at the end.
 * The results are confirmed natively (build.sh --native), under QEMU and in Python (README.md). */
#include "rt.h"
#include "wl-repeat.h"

#define N 4096
#define ROUNDS 6

/* Confirmed natively, under QEMU and in Python (README.md) */
#define EXPECT_CHECKSUM 0x28eded35u

static u32 a[N];

static void insertion_sort(u32 *p, s32 n)
{
	for (s32 i = 1; i < n; i++) {
		u32 v = p[i];
		s32 j = i - 1;
		while (j >= 0 && p[j] > v) { p[j + 1] = p[j]; j--; }
		p[j + 1] = v;
	}
}

static void swap(u32 *p, u32 *q) { u32 t = *p; *p = *q; *q = t; }

static void quicksort(u32 *p, s32 n)
{
	while (n > 16) {
		s32 mid = n / 2;
		if (p[mid] < p[0]) swap(&p[mid], &p[0]);
		if (p[n - 1] < p[0]) swap(&p[n - 1], &p[0]);
		if (p[n - 1] < p[mid]) swap(&p[n - 1], &p[mid]);
		u32 pivot = p[mid];
		s32 i = 0, j = n - 1;
		for (;;) {   /* Hoare partition */
			while (p[i] < pivot) i++;
			while (p[j] > pivot) j--;
			if (i >= j) break;
			swap(&p[i], &p[j]);
			i++;
			j--;
		}
		s32 left = j + 1;   /* p[0..j] <= pivot <= p[j+1..n-1] */
		if (left < n - left) { quicksort(p, left); p += left; n -= left; }
		else { quicksort(p + left, n - left); n = left; }
	}
	insertion_sort(p, n);
}

static void sift_down(u32 *p, u32 root, u32 n)
{
	u32 v = p[root];
	for (;;) {
		u32 child = 2 * root + 1;
		if (child >= n) break;
		if (child + 1 < n && p[child + 1] > p[child]) child++;
		if (p[child] <= v) break;
		p[root] = p[child];
		root = child;
	}
	p[root] = v;
}

static void heapsort(u32 *p, u32 n)
{
	for (u32 i = n / 2; i-- > 0;) sift_down(p, i, n);
	for (u32 end = n - 1; end > 0; end--) {
		swap(&p[0], &p[end]);
		sift_down(p, 0, end);
	}
}

struct result { u32 checksum, unsorted, changed, min, max; };

static void workload(void *out)
{
	struct result *res = out;
	u32 checksum = 0, unsorted = 0, changed = 0;
	for (u32 r = 0; r < ROUNDS; r++) {
		u32 x = 12345 + r * 7919, sum = 0, xr = 0;
		for (u32 i = 0; i < N; i++) {
			x = x * 1103515245u + 12345u;   /* LCG; keep the high bits, with duplicates from the mask */
			a[i] = (x >> 8) & (r & 2 ? 0x0000ffffu : 0x00ffffffu);
			sum += a[i];
			xr ^= a[i];
		}
		if (r & 1) heapsort(a, N);
		else quicksort(a, N);
		u32 sum2 = 0, xr2 = 0;
		for (u32 i = 0; i < N; i++) {
			if (i && a[i - 1] > a[i]) unsorted++;
			sum2 += a[i];
			xr2 ^= a[i];
			checksum = (checksum << 1 | checksum >> 31) ^ (a[i] * (i + 1));
		}
		changed += (sum != sum2) + (xr != xr2);
	}
	*res = (struct result){ checksum, unsorted, changed, a[0], a[N - 1] };
}

void test_main(void)
{
	struct result res, scratch;
	u32 repeat, differ = wl_run(workload, &res, &scratch, sizeof(res), &repeat);
	u32 checksum = res.checksum, unsorted = res.unsorted, changed = res.changed;
	rt_printf("%u rounds of %u elements (quicksort, heapsort alternating): min %u max %u\n", ROUNDS, N, res.min, res.max);
	rt_printf("checksum 0x%08x\n", checksum);
	CHECK(unsorted, 0, "sorted: no descending neighbours in %u rounds", ROUNDS);
	CHECK(changed, 0, "sorted: element sum and xor preserved in %u rounds", ROUNDS);
	CHECK(checksum, EXPECT_CHECKSUM, "checksum of the sorted arrays");
	WL_CHECK_REPEAT(differ, repeat);
	rt_finish("wl-sort");
}
