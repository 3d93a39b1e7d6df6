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
#include "fixalloc.h"
#include "slab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>

/* A g0 stack: the configured size and the clone model's TLS block above
 * it, in whole pages. */
static size_t g0bytes(void)
{
	return round_up(cfg.g0stack + cfg.tls_size, pagesize);
}

/* The bounds of mrt.h, from the configuration mrt_init kept. */
static size_t cache_bound(void)
{
	return (size_t)cfg.stackcache * (g0bytes() + cfg.gsignalstack) / 2;
}

static size_t warm_bound(void)
{
	return cache_bound() / 4;
}

/*
 * Bytes of [lo, hi) resident, by mincore; an unmapped range has none.
 * The vector has room for 4 KiB pages, the smallest any CPU here uses, and
 * the entries the kernel wrote give the unit: QEMU user mode with a guest
 * page larger than the host's (QEMU_PAGESIZE=16384) answers one entry per
 * host page, not per page the guest was told of.
 */
static size_t resident(uintptr_t lo, uintptr_t hi)
{
	size_t len = hi - lo, max = len / 4096 + 1;
	unsigned char *vec = malloc(max);
	assert_non_null(vec);
	memset(vec, 0xfe, max); /* mincore writes 0 or 1 */
	size_t r = 0;
	if (mincore((void *)lo, len, vec) == 0) {
		size_t w = 0;
		while (w < max && vec[w] != 0xfe)
			w++;
		assert_true(w > 0 && len % w == 0);
		for (size_t i = 0; i < w; i++)
			r += (vec[i] & 1) * (len / w);
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
	return res * (long)(kernel_pagesize() / 1024);
}

/* Writes one byte in every 4 KiB of g's stack, as a g that used all of it
 * would have: every page, whatever the page size (and under QEMU with
 * large guest pages, every host page too). */
static void touch(mrt_g *g, uintptr_t *lo, uintptr_t *hi)
{
	assert_int_equal(mrt_gstack(g, lo, hi), 0);
	for (uintptr_t p = *lo; p < *hi; p += 4096)
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
	/* An empty cache, so that what it holds below is ours: mrt_init may
	 * have put m0's gsignal there (when m0 has a signal stack of its own,
	 * as under a sanitizer). */
	assert_true(mrt_trim() >= 0);
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
	size_t kept = warm_bound() + (size_t)nbig * kernel_pagesize();
	assert_true(after <= kept);
	/* The process gave the memory back too, not only these ranges. */
	assert_true(rss0 - rss1 >= (long)((before - kept) >> 10) / 2);

	/* The stacks kept come back whole: every one the cache kept is found
	 * again (the others come from their slabs, or are carved afresh: at
	 * most one slab mapped for each), usable, and every stack is
	 * accounted for. */
	uint32_t maps0 = mrt_test_faultcalls(FAULT_STACK_MMAP);
	for (int i = 0; i < nbig; i++) {
		uintptr_t lo, hi;
		assert_int_equal(mrt_malg(&big[i], bigsize), 0);
		touch(big[i], &lo, &hi);
		assert_int_equal(hi - lo, bigsize);
	}
	assert_true(mrt_test_faultcalls(FAULT_STACK_MMAP) - maps0 <= nbig - count);
	uint32_t count1;
	size_t bytes1;
	stackcache_stats(&count1, &bytes1);
	assert_int_equal(count1, 0);
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
	/* 16, 36, 56 ... KiB: distinct in whole pages of any size. */
	size_t step = kernel_pagesize() > (20 << 10) ? kernel_pagesize() : 20 << 10;
	for (int i = 0; i < nsizes; i++)
		assert_int_equal(mrt_malg(&gs[i], (16 << 10) + i * step), 0);
	assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	for (int i = 0; i < nsizes; i++)
		assert_int_equal(mrt_gfree(gs[i]), 0);
}

static void test_many_sizes_steady_state_maps_nothing(void **state)
{
	(void)state;
	mrt_g *gs[nsizes];
	int rounds = quick ? 20 : 200;
	/* The claim holds within the bounds: start from an empty cache, which
	 * another case may have filled with stacks of its own. */
	assert_true(mrt_trim() >= 0);
	for (int i = 0; i < 3; i++)
		size_round(gs);
	struct stackcachestats c0, c1;
	stackcache_read(&c0);
	uint32_t maps0 = mrt_test_faultcalls(FAULT_STACK_MMAP);
	uint32_t guards0 = mrt_test_faultcalls(FAULT_STACK_GUARD);
	int64_t mapped0 = stacks_mapped();
	int vmas0 = count_maps();
	for (int r = 0; r < rounds; r++)
		size_round(gs);
	uint32_t maps1 = mrt_test_faultcalls(FAULT_STACK_MMAP);
	/* Nor is a guard made (or a slot of the m pool carved) again: the M's
	 * g0 slot comes back from the pool as it went. */
	assert_int_equal(mrt_test_faultcalls(FAULT_STACK_GUARD), guards0);
	stackcache_read(&c1);
	print_message("%d rounds of %d g sizes and an M: %u stacks mapped afresh, %llu "
	              "released; %d sizes cached\n",
	              rounds, nsizes, maps1 - maps0,
	              (unsigned long long)(c1.released - c0.released), c1.classes);
	assert_int_equal(maps1 - maps0, 0);
	assert_int_equal(stacks_mapped(), mapped0);
	if (!pthread_model()) /* libc's own g0 stacks come and go there */
		assert_int_equal(count_maps(), vmas0);
	/* Nor does it give pages back and fault them in again: the sizes
	 * churned are all resident. */
	assert_int_equal(c1.released, c0.released);
	assert_true(c1.classes >= nsizes);
}

/* ------------------------------------------------------------------------ */

/*
 * The warm set follows the churn. It is filled with stacks of one size that
 * are then left alone, while stacks of another size churn: the idle ones
 * are demoted (released) to make room, once, and after that the churn
 * releases nothing, its stacks staying resident from round to round.
 */
enum { nchurn = 8, churnsize = 128 << 10 };

static void test_warm_set_follows_the_churn(void **state)
{
	(void)state;
	assert_true(mrt_trim() >= 0);
	size_t idlesize = 256 << 10;
	int nidle = (int)(warm_bound() / idlesize);
	assert_true(nidle >= 2 && nidle <= nbig);
	for (int i = 0; i < nidle; i++) {
		assert_int_equal(mrt_malg(&big[i], idlesize), 0);
		touch(big[i], &biglo[i], &bighi[i]);
	}
	for (int i = 0; i < nidle; i++)
		assert_int_equal(mrt_gfree(big[i]), 0);
	struct stackcachestats c0, c1, c2;
	stackcache_read(&c0);
	assert_int_equal(c0.warmbytes, (size_t)nidle * idlesize); /* all resident */

	mrt_g *gs[nchurn];
	uintptr_t lo[nchurn], hi[nchurn];
	for (int r = 0; r < 4; r++) {
		for (int i = 0; i < nchurn; i++) {
			assert_int_equal(mrt_malg(&gs[i], churnsize), 0);
			touch(gs[i], &lo[i], &hi[i]);
		}
		for (int i = 0; i < nchurn; i++)
			assert_int_equal(mrt_gfree(gs[i]), 0);
		if (r == 0)
			stackcache_read(&c1);
	}
	stackcache_read(&c2);
	size_t idleres = 0, churnres = 0;
	for (int i = 0; i < nidle; i++)
		idleres += resident(biglo[i], bighi[i]);
	for (int i = 0; i < nchurn; i++)
		churnres += resident(lo[i], hi[i]);
	print_message("warm set %zu KiB: %d idle 256 KiB stacks, then %d of 128 KiB churned: "
	              "%llu released in the first round, %llu after; resident: idle %zu KiB, "
	              "churned %zu KiB\n",
	              warm_bound() >> 10, nidle, nchurn,
	              (unsigned long long)(c1.released - c0.released),
	              (unsigned long long)(c2.released - c1.released), idleres >> 10,
	              churnres >> 10);
	assert_true(c1.released > c0.released); /* room was made, by demotion */
	assert_int_equal(c2.released, c1.released); /* and then kept */
	assert_int_equal(churnres, (size_t)nchurn * churnsize);
	size_t kept = warm_bound() + (size_t)(nidle + nchurn) * kernel_pagesize();
	assert_true(idleres + churnres <= kept);
	assert_true(c2.warmbytes <= c2.warmmax);
}

/* ------------------------------------------------------------------------ */

static int32_t exit_tid;
static uint32_t exit_ev;

static void fn_tid_exit(void *arg)
{
	(void)arg;
	__atomic_store_n(&exit_tid, mrt_gettid(), __ATOMIC_RELEASE);
	ev_add(&exit_ev, 1);
}

/* mrt_trim gives the whole cache back, exited Ms' stacks included: their
 * pages, and the slabs left with no stack in them, which are unmapped. In
 * the clone model it also gives back the pages of exited Ms' g0 stacks,
 * which the m pool keeps mapped (their slots hold the m structs). The
 * cache fills again afterwards. */
static void test_trim_unmaps_the_cache(void **state)
{
	(void)state;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(mrt_malg(&big[i], (size_t)(64 + 64 * i) << 10), 0);
		touch(big[i], &biglo[i], &bighi[i]);
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(mrt_gfree(big[i]), 0);
	/* An M that has exited, its thread gone, and is not yet reaped: its
	 * stacks are trimmed too. */
	exit_tid = 0;
	exit_ev = 0;
	must_newm(fn_tid_exit, NULL);
	ev_wait(&exit_ev, 1);
	wait_thread_gone(__atomic_load_n(&exit_tid, __ATOMIC_ACQUIRE));
	struct mrt_mstats st;
	assert_int_equal(mrt_mstats(&st), 0);
	assert_int_equal(st.exiting, 1);
	uint32_t count;
	size_t bytes;
	stackcache_stats(&count, &bytes);
	assert_true(count >= 8);
	int64_t mapped0 = stacks_mapped();
	int vmas0 = count_maps();
	int64_t r = mrt_trim();
	uint32_t count1;
	size_t bytes1;
	stackcache_stats(&count1, &bytes1);
	int64_t mapped1 = stacks_mapped();
	int vmas1 = count_maps();
	print_message("trim: %u cached stacks (%zu KiB) and an exited M's: %lld KiB given back, "
	              "stacks %lld -> %lld, /proc/self/maps %d -> %d lines\n",
	              count, bytes >> 10, (long long)(r >> 10), (long long)mapped0,
	              (long long)mapped1, vmas0, vmas1);
	assert_int_equal(count1, 0);
	assert_int_equal(bytes1, 0);
	/* The exited M's gsignal went through the cache; its g0 (clone
	 * model) is one of the free ms' g0 stacks the pool gave back. */
	int64_t rest = r - (int64_t)(bytes + cfg.gsignalstack);
	if (pthread_model()) {
		assert_int_equal(rest, 0);
	} else {
		int64_t g0slot = (int64_t)(slotpoolstride(&mpool) - pagesize);
		assert_true(rest >= g0slot && rest % g0slot == 0);
	}
	assert_int_equal(mapped1, mapped0 - (int64_t)count - 1);
	/* The slabs of the 8 g stacks held nothing else: unmapped. */
	char perms[5];
	uintptr_t mlo, mhi;
	for (int i = 0; i < 8; i++) {
		assert_int_equal(resident(biglo[i], bighi[i]), 0);
		/* With 64 KiB pages gsignal's 32 KiB are a page, the size of
		 * big[0]: that slab holds the live Ms' gsignal stacks too. */
		if (bighi[i] - biglo[i] != cfg.gsignalstack)
			assert_false(maps_find(biglo[i], perms, &mlo, &mhi));
	}
	assert_int_equal(mrt_trim(), 0); /* nothing left */
	/* The cache works on. */
	assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	stackcache_stats(&count1, &bytes1);
	assert_true(count1 >= 1);
}

/* ------------------------------------------------------------------------ */

/*
 * Threads freeing and allocating stacks of sizes that straddle the warm
 * set and the byte bound, with a trimmer among them: every stack mapping is
 * accounted for at the end (in use, cached, or unmapped), the bounds held,
 * and no stack was handed out twice (each g writes its id over its stack
 * and finds it intact).
 */
enum { nworkers = 3, nheld = 6 };
static uint32_t work_bad;

static void *worker(void *arg)
{
	uintptr_t seed = (uintptr_t)arg * 2654435761u + 1;
	mrt_g *held[nheld] = { 0 };
	uint64_t tag[nheld];
	int rounds = quick ? 300 : 3000;
	for (int r = 0; r < rounds; r++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		int i = (int)((seed >> 33) % nheld);
		if (held[i] != NULL) {
			uintptr_t lo, hi;
			mrt_gstack(held[i], &lo, &hi);
			for (uintptr_t p = lo; p < hi; p += kernel_pagesize())
				if (*(volatile uint64_t *)p != tag[i])
					__atomic_fetch_add(&work_bad, 1, __ATOMIC_RELAXED);
			mrt_gfree(held[i]);
			held[i] = NULL;
			if ((seed >> 20) % 64 == 0)
				mrt_trim();
			continue;
		}
		/* 16 KiB .. 4 MiB: warm, cold, and (with the bound ~12 MiB)
		 * some that do not fit. */
		size_t size = (size_t)16 << (10 + (seed >> 40) % 9);
		if (mrt_malg(&held[i], size) != 0) {
			__atomic_fetch_add(&work_bad, 1, __ATOMIC_RELAXED);
			held[i] = NULL;
			continue;
		}
		uintptr_t lo, hi;
		mrt_gstack(held[i], &lo, &hi);
		tag[i] = (uint64_t)(uintptr_t)held[i] ^ (uint64_t)r;
		for (uintptr_t p = lo; p < hi; p += kernel_pagesize())
			*(volatile uint64_t *)p = tag[i];
	}
	for (int i = 0; i < nheld; i++)
		if (held[i] != NULL)
			mrt_gfree(held[i]);
	return NULL;
}

static void test_concurrent_churn_accounts_for_every_stack(void **state)
{
	(void)state;
	struct mrtstate s0, s1;
	snapshot(&s0);
	int64_t inuse0 = s0.stacks_mapped - s0.cache_count;
	pthread_t t[nworkers];
	for (int i = 0; i < nworkers; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)), 0);
	for (int i = 0; i < nworkers; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	snapshot(&s1);
	struct stackcachestats c;
	stackcache_read(&c);
	print_message("%d threads churned stacks of 16 KiB..4 MiB: %u cached (%zu KiB, %zu KiB "
	              "warm), %llu released in all\n",
	              nworkers, c.count, c.bytes >> 10, c.warmbytes >> 10,
	              (unsigned long long)c.released);
	assert_int_equal(work_bad, 0);
	assert_int_equal(s1.stacks_mapped - s1.cache_count, inuse0);
	assert_int_equal(s1.gpool_inuse, s0.gpool_inuse);
	assert_true(c.bytes <= cache_bound());
	assert_true(c.warmbytes <= warm_bound());
	assert_true(c.count <= cfg.stackcache);
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
		MRT_TEST(test_warm_set_follows_the_churn),
		MRT_TEST(test_trim_unmaps_the_cache),
		MRT_TEST(test_concurrent_churn_accounts_for_every_stack),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
