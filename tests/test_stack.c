/*
 * test_stack.c — the stack cache (core/stack.c): what it keeps, what it
 * gives back, and that a steady churn of any number of stack sizes maps
 * nothing new.
 *
 * The bounds checked here are the contract written at mrt_config.stack_cache
 * in include/mrt.h, computed here from the configuration on their own, not
 * read back from the cache: at most stack_cache stacks, at most as many bytes
 * as stack_cache / 2 Ms' g0 and gsignal stacks take, and of those at most a
 * quarter resident (the warm set). Residency is the kernel's (mincore), and
 * the process's RSS is reported beside it.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The bounds of mrt.h, from the configuration mrt_init kept. */
static size_t cache_bound(void)
{
	return (size_t)cfg.stackcache * (cfg.g0stack + cfg.tls_size + cfg.gsignalstack) / 2;
}

static size_t warm_bound(void)
{
	return cache_bound() / 4;
}

static size_t page(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Bytes of [lo, hi) resident, by mincore; an unmapped range has none. */
static size_t resident(uintptr_t lo, uintptr_t hi)
{
	size_t pg = page(), n = (hi - lo) / pg;
	unsigned char *vec = calloc(n, 1);
	assert_non_null(vec);
	size_t r = 0;
	if (mincore((void *)lo, hi - lo, vec) == 0) {
		for (size_t i = 0; i < n; i++)
			r += (vec[i] & 1) * pg;
	} else {
		assert_int_equal(errno, ENOMEM); /* unmapped: given back whole */
	}
	free(vec);
	return r;
}

static long rss_kib(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &res), 2);
	fclose(f);
	return res * (long)(page() / 1024);
}

/* Writes one byte in every page of g's stack, as a g that used all of it
 * would have. */
static void touch(mrt_g *g, uintptr_t *lo, uintptr_t *hi)
{
	assert_int_equal(mrt_gstack(g, lo, hi), 0);
	for (uintptr_t p = *lo; p < *hi; p += page())
		*(volatile char *)p = 1;
}

/* ------------------------------------------------------------------------ */

/*
 * #11 item 7: freed stacks give their memory back. 64 gs of 1 MiB, every
 * page touched, then freed: the cache may keep some of them, but only its
 * warm set resident; the rest are unmapped (beyond the byte bound) or kept
 * with only the page that links them. Before the fix every one of them
 * stayed in the cache with all its pages: 64 MiB resident.
 */
enum { nbig = 64, bigsize = 1 << 20 };
static mrt_g *big[nbig];
static uintptr_t biglo[nbig], bighi[nbig];

static void test_freed_stacks_give_back_their_pages(void **state)
{
	(void)state;
	struct mrtstate s0;
	snapshot(&s0);
	int64_t inuse0 = s0.stacks_mapped - s0.cache_count;
	size_t before = 0;
	for (int i = 0; i < nbig; i++) {
		assert_int_equal(mrt_malg(&big[i], bigsize), 0);
		touch(big[i], &biglo[i], &bighi[i]);
		before += resident(biglo[i], bighi[i]);
	}
	/* The kernel sees what was touched: the check below can fail. */
	assert_true(before >= (size_t)nbig * bigsize * 3 / 4);
	long rss0 = rss_kib();
	for (int i = 0; i < nbig; i++)
		assert_int_equal(mrt_gfree(big[i]), 0);
	long rss1 = rss_kib();
	size_t after = 0;
	for (int i = 0; i < nbig; i++)
		after += resident(biglo[i], bighi[i]);

	uint32_t count;
	size_t bytes;
	stackcache_stats(&count, &bytes);
	print_message("%d freed 1 MiB stacks: resident %zu KiB before, %zu KiB after; "
	              "RSS %ld KiB -> %ld KiB; cache %u stacks, %zu KiB (bound %zu KiB, "
	              "warm %zu KiB)\n",
	              nbig, before >> 10, after >> 10, rss0, rss1, count, bytes >> 10,
	              cache_bound() >> 10, warm_bound() >> 10);
	assert_true(count <= cfg.stackcache);
	assert_true(bytes <= cache_bound());
	/* Resident: at most the warm set, and one page of each cached one. */
	assert_true(after <= warm_bound() + (size_t)nbig * page());
	/* The process gave the memory back too, not only these ranges. */
	assert_true(rss0 - rss1 >= (long)((before - warm_bound() - (size_t)nbig * page()) >> 10) / 2);

	/* The stacks kept come back whole: every one usable again, every
	 * mapping accounted for (one whose link the release lost would be
	 * mapped and in no list). */
	for (int i = 0; i < nbig; i++) {
		uintptr_t lo, hi;
		assert_int_equal(mrt_malg(&big[i], bigsize), 0);
		touch(big[i], &lo, &hi);
		assert_int_equal(hi - lo, bigsize);
	}
	struct mrtstate s1;
	snapshot(&s1);
	assert_int_equal(s1.stacks_mapped - s1.cache_count, inuse0 + nbig);
	for (int i = 0; i < nbig; i++)
		assert_int_equal(mrt_gfree(big[i]), 0);
	snapshot(&s1);
	assert_int_equal(s1.stacks_mapped - s1.cache_count, inuse0);
}

/* ------------------------------------------------------------------------ */

/*
 * #11 item 7: the cache holds any number of sizes. 12 g sizes live at once
 * while an M is created and joined (its g0 and gsignal are two sizes more),
 * round after round: once warm, no round maps a stack. Before the fix the
 * cache had 8 size classes, and some size was mapped afresh every round.
 */
enum { nsizes = 12 };

static void size_round(mrt_g **gs)
{
	for (int i = 0; i < nsizes; i++)
		assert_int_equal(mrt_malg(&gs[i], (size_t)(16 + 20 * i) << 10), 0);
	assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	for (int i = 0; i < nsizes; i++)
		assert_int_equal(mrt_gfree(gs[i]), 0);
}

static void test_many_sizes_steady_state_maps_nothing(void **state)
{
	(void)state;
	mrt_g *gs[nsizes];
	int rounds = quick ? 20 : 200;
	for (int i = 0; i < 3; i++)
		size_round(gs);
	uint32_t maps0 = mrt_test_faultcalls(FAULT_STACK_MMAP);
	int64_t mapped0 = stacks_mapped();
	int vmas0 = count_maps();
	for (int r = 0; r < rounds; r++)
		size_round(gs);
	uint32_t maps1 = mrt_test_faultcalls(FAULT_STACK_MMAP);
	print_message("%d rounds of %d g sizes and an M: %u stacks mapped afresh\n", rounds,
	              nsizes, maps1 - maps0);
	assert_int_equal(maps1 - maps0, 0);
	assert_int_equal(stacks_mapped(), mapped0);
	if (!pthread_model()) /* libc's own g0 stacks come and go there */
		assert_int_equal(count_maps(), vmas0);
}

static int setup(void **state)
{
	(void)state;
	return mrt_init(NULL);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		MRT_TEST(test_freed_stacks_give_back_their_pages),
		MRT_TEST(test_many_sizes_steady_state_maps_nothing),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
