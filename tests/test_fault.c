/*
 * test_fault.c — the fault sweep. For each fault point on the creation path
 * of one M (a slab's mmap, a guard, gsignal, sigaltstack, clone, m pool
 * growth) and each N up to the number of calls of that point one creation
 * makes, the Nth call fails: the caller gets the right negative errno, and
 * afterwards mcount, allm, the idle list, the stack cache, the m and g pools,
 * the stacks carved, the process's mapping count and its thread count are
 * exactly what they were. The sweep runs with the stacks coming from every
 * source — the cache, a slot back in its slab, a slot carved now, a slab
 * mapped now — because undoing must return each stack to where it came
 * from. In the clone model an M's g0 is the m's own slot of the m pool
 * (core/slab.c): the pool's guard for it is made when a slot is carved,
 * before the M takes an id.
 *
 * A sigaltstack failure happens on the new thread after mrt_newm has returned
 * its id (see mstart in core/proc.c for why that is the contract): the sweep
 * checks that mrt_join returns the error and that, once joined, nothing is
 * left either.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */
#include "fixalloc.h"
#include "slab.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

static const char *const fpname[NFAULT] = {
	[FAULT_STACK_MMAP] = "stack slab mmap",
	[FAULT_STACK_GUARD] = "guard",
	[FAULT_GSIGNAL] = "gsignal",
	[FAULT_SIGALTSTACK] = "sigaltstack",
	[FAULT_NEWOSPROC] = "clone",
	[FAULT_MPOOL] = "pool growth",
};

/* What the failure must look like to the caller. */
static int expected_err(int fp, int injected)
{
	switch (fp) {
	case FAULT_STACK_MMAP:
	case FAULT_STACK_GUARD:
	case FAULT_MPOOL:
		return -ENOMEM; /* the allocator's own answer, whatever failed below */
	default:
		return injected;
	}
}

static uint32_t injected_total, survived_total, injected_walking;

/* Whether g0 stacks are mrt's (clone model) or the pthreads' (asked at run
 * time: the tests are built without the library's model flag). */
static bool clonemodel(void)
{
	return strcmp(mrt_threadmodel(), "clone") == 0;
}

/* ------------------------------------------------------------------------
 * Where the stacks come from: the modes of the sweep.
 * ------------------------------------------------------------------------ */

enum mode { COLD, WARM, GSLAB, MCARVE, POOLEMPTY, NMODES };
static const char *const modename[NMODES] = { "cold", "warm", "gsignal from its slab",
                                              "m slot carved", "pool empty" };

static stack held[64];
static int nheld;
static void *heldobj[16384];
static int nheldobj;

/* Takes every cached stack of n bytes out of the cache, so the next
 * allocation of that size comes from a slab. */
static void steal_cached(size_t n)
{
	for (;;) {
		assert_true(nheld < (int)countof(held));
		stack s;
		assert_int_equal(stackalloc(&s, n), 0);
		if (s.from != STACK_CACHED) { /* the cache is empty */
			stackundo(&s);
			return;
		}
		held[nheld++] = s;
	}
}

static void hold(fixalloc *f)
{
	assert_true(nheldobj < (int)countof(heldobj));
	void *p = fixalloc_alloc(f);
	assert_non_null(p);
	heldobj[nheldobj++] = p;
}

/* Takes every free m from the pool and the rest of its current chunk (or
 * slab), so the next allocation must grow the pool. */
static void drain_pool(fixalloc *f)
{
	while (!fixalloc_full(f))
		hold(f);
}

/* Takes free ms until the next allocation carves a slot of the m pool
 * (clone model): its guard, in a slab that has room. */
static void drain_to_carve(fixalloc *f)
{
	while (!slotpoolcarves(f) && !fixalloc_full(f))
		hold(f);
	if (fixalloc_full(f))
		hold(f); /* a slab mapped, its first slot carved: the next carves */
	assert_true(slotpoolcarves(f));
}

static void warm_cache(void)
{
	/* One full lifecycle leaves one stack of each size in the cache. */
	assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	mrt_reap();
}

static void prepare(enum mode md, fixalloc *pool)
{
	nheld = nheldobj = 0;
	/* Warm in every mode: the m comes from the pool's list unless the
	 * mode says otherwise (cold is about stacks). */
	warm_cache();
	if (md == COLD) {
		mrt_test_nocache(true);
		return;
	}
	if (md == GSLAB)
		steal_cached(cfg.gsignalstack);
	if (md == MCARVE)
		drain_to_carve(pool);
	if (md == POOLEMPTY)
		drain_pool(pool);
}

static void unprepare(fixalloc *pool)
{
	mrt_test_nocache(false);
	for (int i = 0; i < nheld; i++)
		stackfree(&held[i]);
	for (int i = 0; i < nheldobj; i++)
		fixalloc_free(pool, heldobj[i]);
	nheld = nheldobj = 0;
}

/* ------------------------------------------------------------------------ */

struct kstate {
	struct mrtstate s;
	int maps, threads;
};

/* The thread count is read once it has settled at what the live Ms make: a
 * thread that never went away (a leak) keeps it from settling. */
static void kstate(struct kstate *k)
{
	snapshot(&k->s);
	/* Settled before the mappings are counted: in the pthread model a
	 * joined M's thread may still be in libc's exit, unmapping. */
	if (!settle_threads(expected_threads(0))) {
		print_error("%d threads, expected %d\n", count_threads(), expected_threads(0));
		fail();
	}
	k->maps = count_maps();
	k->threads = count_threads();
}

static uint32_t ran;
static void fn_count(void *arg)
{
	(void)arg;
	ev_add(&ran, 1);
}

/* Calls of each point one creation makes in this mode. */
static void measure(enum mode md, uint32_t ncalls[NFAULT])
{
	uint32_t c0[NFAULT];
	prepare(md, &mpool);
	for (int fp = 0; fp < NFAULT; fp++)
		c0[fp] = mrt_test_faultcalls(fp);
	/* Counted once the M is gone: minit runs on the new thread, perhaps
	 * after newm has returned. */
	assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	for (int fp = 0; fp < NFAULT; fp++)
		ncalls[fp] = mrt_test_faultcalls(fp) - c0[fp];
	unprepare(&mpool);
	mrt_reap();
}

/*
 * One failure: arm the nth call of fp, create, check the error and that the
 * state is what it was. Returns after restoring the mode's preparations.
 */
static void fail_once(enum mode md, int fp, int n, int count, int err)
{
	struct kstate a, b;
	prepare(md, &mpool);
	kstate(&a);
	uint32_t ran0 = ev_get(&ran);
	mrt_test_faultn(fp, n, count, err);
	int64_t r = mrt_newm(fn_count, NULL, NULL);
	injected_total++;
	if (fp == FAULT_SIGALTSTACK) {
		/* The thread was born and could not set itself up: newm has
		 * returned its id, join returns the error. */
		if (r <= 0) {
			print_error("%s #%d (%s): newm returned %lld, expected an id\n", fpname[fp], n,
			            modename[md], (long long)r);
			fail();
		}
		assert_int_equal(mrt_join(r), err);
	} else if (r != expected_err(fp, err)) {
		print_error("%s #%d (%s): newm returned %lld (%s), expected %d\n", fpname[fp], n,
		            modename[md], (long long)r, mrt_strerror((int)r), expected_err(fp, err));
		fail();
	}
	/* The armed failure happened: the creation reached the nth call. */
	assert_false(mrt_test_faultpending(fp));
	mrt_test_fault(fp, 0, 0);
	assert_int_equal(ev_get(&ran), ran0); /* fn never ran */

	kstate(&b);
	assert_same_state(&a.s, &b.s);
	/* Every failure after the id was taken counts as failed; a pool
	 * failure comes before it and takes no id, and so does the guard of
	 * a carved m slot (clone model), the first guard of that mode. */
	bool preid = fp == FAULT_MPOOL || (md == MCARVE && fp == FAULT_STACK_GUARD && n == 1);
	int64_t took = preid ? 0 : 1;
	assert_int_equal(b.s.st.created, a.s.st.created + took);
	assert_int_equal(b.s.st.failed, a.s.st.failed + took);
	/* Under TSan a thread that ran leaves mappings of the runtime's coming
	 * and going (its per-thread state, reused lazily), and under Valgrind
	 * the tool's own memory is in the process's maps: the count is not
	 * mrt's there; mrt's own mappings are compared above. */
	bool mapsmine = !MRT_TSAN && !under_valgrind();
	if ((b.maps != a.maps && mapsmine) || b.threads != a.threads) {
		print_error("%s #%d (%s): mappings %d -> %d, threads %d -> %d\n", fpname[fp], n,
		            modename[md], a.maps, b.maps, a.threads, b.threads);
		fail();
	}
	unprepare(&mpool);
	survived_total++;
}

static void sweep(enum mode md, const int *points, int npoints)
{
	uint32_t ncalls[NFAULT];
	measure(md, ncalls);
	for (int i = 0; i < npoints; i++) {
		int fp = points[i];
		for (uint32_t n = 1; n <= ncalls[fp]; n++) {
			fail_once(md, fp, (int)n, 1, -ENOMEM);
			if (fp == FAULT_NEWOSPROC || fp == FAULT_SIGALTSTACK)
				fail_once(md, fp, (int)n, 1, -EPERM);
		}
		/* One past the last call is never reached: the count is exact
		 * and the creation succeeds with the fault still armed. */
		prepare(md, &mpool);
		mrt_test_fault(fp, (int)ncalls[fp] + 1, -ENOMEM);
		int64_t id = must_newm(fn_exit, NULL);
		assert_int_equal(mrt_join(id), 0);
		assert_true(mrt_test_faultpending(fp));
		mrt_test_fault(fp, 0, 0);
		unprepare(&mpool);
		mrt_reap();
	}
}

static int64_t parked;

static void with_parked_m(void)
{
	/* allm holds more than m0, and the idle list is not empty: both must
	 * come out of a failure untouched. */
	parked = must_newm(fn_park, NULL);
	wait_idle(1);
}

static void end_parked_m(void)
{
	assert_int_equal(mrt_startm(fn_exit, NULL, NULL), parked);
	assert_int_equal(mrt_join(parked), 0);
}

/* Every point, every N, stacks mapped afresh: undo must unmap. */
static void test_sweep_cold(void **state)
{
	(void)state;
	with_parked_m();
	uint32_t ncalls[NFAULT];
	measure(COLD, ncalls);
	/* The shape of one cold creation: one stack, gsignal, a slab of its
	 * own with the cache bypassed, so one mapping and one guard (g0 is the
	 * m's slot from the pool's list in the clone model, libc's in the
	 * pthread model); one gsignal, one sigaltstack, one clone or
	 * pthread_create. */
	assert_int_equal(ncalls[FAULT_STACK_MMAP], 1);
	assert_int_equal(ncalls[FAULT_STACK_GUARD], 1);
	assert_int_equal(ncalls[FAULT_GSIGNAL], 1);
	assert_int_equal(ncalls[FAULT_SIGALTSTACK], 1);
	assert_int_equal(ncalls[FAULT_NEWOSPROC], 1);
	const int pts[] = { FAULT_STACK_MMAP, FAULT_STACK_GUARD, FAULT_GSIGNAL,
		            FAULT_SIGALTSTACK, FAULT_NEWOSPROC };
	sweep(COLD, pts, countof(pts));
	end_parked_m();
}

/* Stacks from the cache: undo must put them back there, not unmap them. */
static void test_sweep_warm(void **state)
{
	(void)state;
	with_parked_m();
	uint32_t ncalls[NFAULT];
	measure(WARM, ncalls);
	assert_int_equal(ncalls[FAULT_STACK_MMAP], 0); /* steady state maps nothing */
	const int pts[] = { FAULT_GSIGNAL, FAULT_SIGALTSTACK, FAULT_NEWOSPROC };
	sweep(WARM, pts, countof(pts));
	end_parked_m();
}

/* gsignal from its slab (a slot back there, or one carved: no slab mapped
 * while its slab has room), and (clone model) the m's slot carved: its
 * guard is the pool's, before the id. */
static void test_sweep_mixed(void **state)
{
	(void)state;
	with_parked_m();
	const int pts[] = { FAULT_STACK_MMAP, FAULT_STACK_GUARD, FAULT_GSIGNAL,
		            FAULT_SIGALTSTACK, FAULT_NEWOSPROC };
	uint32_t ncalls[NFAULT];
	measure(GSLAB, ncalls);
	assert_true(ncalls[FAULT_STACK_MMAP] <= 1);
	assert_true(ncalls[FAULT_STACK_GUARD] <= 1);
	sweep(GSLAB, pts, countof(pts));
	if (clonemodel()) {
		measure(MCARVE, ncalls);
		assert_int_equal(ncalls[FAULT_STACK_MMAP], 0);
		assert_int_equal(ncalls[FAULT_STACK_GUARD], 1);
		assert_int_equal(ncalls[FAULT_MPOOL], 0);
		sweep(MCARVE, pts, countof(pts));
	}
	end_parked_m();
}

/*
 * The m pool must grow: its failure comes before an id is taken. (Only the
 * growth itself is swept in this mode: a chunk the pool did get is kept for
 * good — pools are type-stable and never shrink — so a later failure returns
 * its m to the free list, not to an unmapped chunk.)
 */
static void test_sweep_pool_growth(void **state)
{
	(void)state;
	uint32_t ncalls[NFAULT];
	measure(POOLEMPTY, ncalls);
	assert_int_equal(ncalls[FAULT_MPOOL], 1);
	const int pts[] = { FAULT_MPOOL };
	sweep(POOLEMPTY, pts, countof(pts));
}

/*
 * The kernel's EAGAIN from clone is retried as Go retries it (20 tries): 19
 * failures are absorbed; 20 give -EAGAIN with Go's message and its ulimit
 * hint, and leave nothing behind.
 */
static void test_clone_eagain_retries(void **state)
{
	(void)state;
	with_parked_m();
	uint32_t c0 = mrt_test_faultcalls(FAULT_NEWOSPROC);
	mrt_test_faultn(FAULT_NEWOSPROC, 1, 19, -EAGAIN);
	int64_t id = must_newm(fn_exit, NULL);
	assert_int_equal(mrt_test_faultcalls(FAULT_NEWOSPROC) - c0, 20);
	assert_int_equal(mrt_join(id), 0);

	fail_once(WARM, FAULT_NEWOSPROC, 1, 20, -EAGAIN);
	/* live is m0 and the parked M; the one that failed is not counted. */
	const char *msg = mrt_errmsg();
	if (strstr(msg, "failed to create new OS thread (have 2 already; errno=11)") == NULL ||
	    strstr(msg, "ulimit -u") == NULL) {
		print_error("errmsg: \"%s\"\n", msg);
		fail();
	}
	fail_once(WARM, FAULT_NEWOSPROC, 1, 1, -ENOMEM);
	assert_null(strstr(mrt_errmsg(), "ulimit")); /* the hint is for EAGAIN only */
	end_parked_m();
}

/*
 * #11 item 10: what a failed mrt_newm leaves in the counts, as mrt.h says:
 * a failure after the M took its id (a stack, gsignal, the thread) counts
 * in `failed`, and the id is spent (`created` grows with it); a refusal
 * before it (the thread limit) counts nowhere. `live`, `freed`,
 * `exiting` and `idle` are as they were either way.
 */
static void assert_failed_counts(int fp, int err, int64_t spent)
{
	struct mrt_mstats a, b;
	assert_int_equal(mrt_mstats(&a), 0);
	if (fp >= 0)
		mrt_test_fault(fp, 1, err);
	else
		mrt_setmaxthreads((int32_t)a.live);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), err);
	mrt_setmaxthreads(10000);
	assert_int_equal(mrt_mstats(&b), 0);
	assert_int_equal(b.created, a.created + spent);
	assert_int_equal(b.failed, a.failed + spent);
	assert_int_equal(b.live, a.live);
	assert_int_equal(b.freed, a.freed);
	assert_int_equal(b.idle, a.idle);
	mrt_reap();
	assert_int_equal(mrt_mstats(&b), 0);
	assert_int_equal(b.exiting, a.exiting);
}

static void test_failed_newm_counts(void **state)
{
	(void)state;
	assert_failed_counts(FAULT_NEWOSPROC, -ENOMEM, 1);
	assert_failed_counts(FAULT_GSIGNAL, -ENOMEM, 1);
	assert_failed_counts(-1, -EAGAIN, 0); /* the limit */
}

/* mrt_malg's path: stack mapping, guard and g pool growth. */
static void malg_fail(int fp, bool nocache, bool drain)
{
	struct kstate a, b;
	nheldobj = 0;
	if (drain)
		drain_pool(&gpool);
	mrt_test_nocache(nocache);
	kstate(&a);
	mrt_test_fault(fp, 1, -ENOMEM);
	mrt_g *gp = (mrt_g *)0x1; /* must stay untouched on failure */
	assert_int_equal(mrt_malg(&gp, 64 << 10), -ENOMEM);
	injected_total++;
	assert_ptr_equal(gp, (mrt_g *)0x1);
	assert_false(mrt_test_faultpending(fp));
	kstate(&b);
	assert_same_state(&a.s, &b.s);
	/* Valgrind's own memory (its translations, made as new code runs) is
	 * in the process's maps, as in fail_once: mrt's stack mappings are
	 * compared above (stacks_mapped). */
	if (!under_valgrind())
		assert_int_equal(a.maps, b.maps);
	mrt_test_nocache(false);
	for (int i = 0; i < nheldobj; i++)
		fixalloc_free(&gpool, heldobj[i]);
	nheldobj = 0;
	survived_total++;
}

static void test_sweep_malg(void **state)
{
	(void)state;
	mrt_g *gp;
	assert_int_equal(mrt_malg(&gp, 64 << 10), 0); /* the g pool has a chunk */
	assert_int_equal(mrt_gfree(gp), 0);
	malg_fail(FAULT_STACK_MMAP, true, false);
	malg_fail(FAULT_STACK_GUARD, true, false);
	malg_fail(FAULT_MPOOL, false, true);
}

/*
 * Failures while allm is walked lock-free: an M that failed after joining
 * allm must not go back to the pool under a walker standing on it (the
 * walker would read a recycled m, or lose the rest of the list). A walker
 * dawdles on every M while creations fail over and over; it must always see
 * the parked Ms and never an m with status 0.
 */
static int64_t keep[4];
static uint32_t walkstop, walkbad, nwalks, nfailedseen;

static int walkone(const struct mrt_minfo *mi, void *arg)
{
	int *found = arg;
	if (mi->status < MRT_M_STARTING || mi->status > MRT_M_EXITING)
		__atomic_fetch_add(&walkbad, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 4; i++)
		*found += mi->id == keep[i];
	if (mi->id > keep[3])
		__atomic_fetch_add(&nfailedseen, 1, __ATOMIC_RELAXED);
	arch_procyield(200);
	return 0;
}

static void *walkloop(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&walkstop, __ATOMIC_ACQUIRE)) {
		int found = 0;
		mrt_forallm(walkone, &found);
		if (found != 4)
			__atomic_fetch_add(&walkbad, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&nwalks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_failures_during_walks(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++)
		keep[i] = must_newm(fn_park, NULL);
	wait_idle(4);
	walkstop = walkbad = nwalks = 0;
	pthread_t w;
	pthread_create(&w, NULL, walkloop, NULL);
	/* Fail for as long as it takes the walker to make enough walks. */
	uint32_t walks = quick ? 300 : 3000;
	for (int i = 0; ev_get(&nwalks) < walks; i++) {
		int fp = i % 2 ? FAULT_NEWOSPROC : FAULT_STACK_GUARD;
		mrt_test_nocache(fp == FAULT_STACK_GUARD);
		mrt_test_fault(fp, 1, -ENOMEM);
		assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -ENOMEM);
		injected_total++;
		injected_walking++;
		survived_total++;
	}
	mrt_test_nocache(false);
	__atomic_store_n(&walkstop, 1, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
	print_message("walks %u, failed Ms met %u\n", nwalks, nfailedseen);
	assert_true(nwalks > 0);
	assert_int_equal(walkbad, 0);
	/* Failed Ms a walker held up are reaped once it is done. */
	mrt_reap();
	struct mrt_mstats st;
	mrt_mstats(&st);
	assert_int_equal(st.exiting, 0);
	assert_int_equal(st.live, 5);
	stop_idle_ms();
}

static void test_report(void **state)
{
	(void)state;
	print_message("fault sweep: %u faults injected (%u in the sweep, %u during walks), "
	              "%u survived with nothing lost\n", injected_total,
	              injected_total - injected_walking, injected_walking, survived_total);
	assert_int_equal(injected_total, survived_total);
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
		MRT_TEST(test_sweep_cold),
		MRT_TEST(test_sweep_warm),
		MRT_TEST(test_sweep_mixed),
		MRT_TEST(test_sweep_pool_growth),
		MRT_TEST(test_clone_eagain_retries),
		MRT_TEST(test_sweep_malg),
		MRT_TEST(test_failures_during_walks),
		MRT_TEST(test_failed_newm_counts),
		MRT_TEST(test_report),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
