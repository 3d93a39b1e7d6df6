/*
 * test_m.c — the life of an M: ids, allm, counts, the thread limit, freem and
 * the freeWait protocol, failure undo, idle Ms.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */

static int64_t seen_id[256];
static int32_t seen_tid[256];
static uint32_t ran, gate;

static void record_self(void *arg)
{
	long i = (long)arg;
	seen_id[i] = mrt_mid();
	seen_tid[i] = mrt_gettid();
	ev_add(&ran, 1);
	ev_block(&gate, 1); /* alive until every M has recorded itself */
}

/* Ids are unique and increase in creation order; the M itself sees the id
 * newm returned; each M is its own kernel thread, distinct from m0 and
 * from every other M (all are alive at once when the tids are compared,
 * so the kernel cannot have reused one). */
static void test_ids_unique_and_increasing(void **state)
{
	(void)state;
	int n = quick ? 32 : 200;
	if (n > 256)
		n = 256;
	int64_t ids[256];
	ran = 0;
	gate = 0;
	for (long i = 0; i < n; i++) {
		ids[i] = must_newm(record_self, (void *)i);
		if (i > 0)
			assert_true(ids[i] > ids[i - 1]);
	}
	ev_wait(&ran, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(seen_id[i], ids[i]);
		assert_int_not_equal(seen_tid[i], mrt_gettid());
		for (int j = 0; j < i; j++)
			assert_int_not_equal(seen_tid[i], seen_tid[j]);
	}
	ev_add(&gate, 1);
	for (int i = 0; i < n; i++)
		assert_int_equal(mrt_join(ids[i]), 0);
	assert_int_equal(mrt_mid(), 0); /* the test's thread is m0 */
}

/* ------------------------------------------------------------------------ */

static int64_t base_live;

/* mcount() counts an M from allocm until it exits, and the count returns to
 * the baseline once they have all exited and been reaped, with nothing left
 * on freem. */
static void test_mcount_back_to_baseline(void **state)
{
	(void)state;
	struct mrt_mstats st0, st;
	mrt_reap();
	mrt_mstats(&st0);
	int n = quick ? 20 : 100;
	int64_t ids[100];
	for (int i = 0; i < n; i++)
		ids[i] = must_newm(fn_park, NULL);
	wait_idle(n);
	mrt_mstats(&st);
	assert_int_equal(st.live, st0.live + n);
	assert_int_equal(st.created, st0.created + n);
	for (int i = 0; i < n; i++)
		mrt_startm(fn_exit, NULL, NULL);
	for (int i = 0; i < n; i++)
		assert_int_equal(mrt_join(ids[i]), 0);
	mrt_mstats(&st);
	assert_int_equal(st.live, st0.live);
	assert_int_equal(st.freed, st0.freed + n);
	assert_int_equal(st.exiting, 0);
	assert_int_equal(st.idle, 0);
	for (int i = 0; i < n; i++) /* joined means reaped: no trace left */
		assert_int_equal(mrt_join(ids[i]), 0);
	assert_int_equal(mrt_join(st.created), -ESRCH); /* never created */
}

/* ------------------------------------------------------------------------ */

/* Steady churn maps nothing new: stacks come from the cache, m structs from
 * the pool. In the pthread model g0 stacks are libc's, which keeps its own
 * cache of them (glibc: up to 40 MiB) and grows it whenever a new thread
 * starts before an old one has finished libc's exit — which mrt_join does
 * not wait for — so the mapping count is not mrt's to keep there; mrt's own
 * stack cache (gsignal stacks) and m pool still are. */
static void test_no_new_mappings_after_warmup(void **state)
{
	(void)state;
	int warm = 64, churn = quick ? 200 : 2000;
	for (int i = 0; i < warm; i++)
		assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	int before = count_maps();
	struct mrtstate s0, s1;
	snapshot(&s0);
	for (int i = 0; i < churn; i++)
		assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	snapshot(&s1);
	if (pthread_model())
		print_message("pthread model: process mapping count not checked (g0 stacks "
		              "are libc's and its stack cache grows with thread overlap); "
		              "mrt's stack cache and m pool are\n");
	else
		assert_int_equal(count_maps(), before);
	assert_int_equal(s1.cache_count, s0.cache_count);
	assert_int_equal(s1.mpool_inuse, s0.mpool_inuse);
}

/* ------------------------------------------------------------------------ */

/* With limit L, exactly L - live more Ms are created (m0 counts, as in Go);
 * the next gets -EAGAIN and a message naming the limit, and leaves nothing
 * behind; raising the limit lets creation succeed again. */
static void test_thread_limit(void **state)
{
	(void)state;
	struct mrt_mstats st;
	mrt_reap();
	mrt_mstats(&st);
	base_live = st.live;
	const int32_t limit = 10;
	int32_t old = mrt_setmaxthreads(limit);
	assert_int_equal(old, 10000);
	assert_int_equal(mrt_setmaxthreads(limit), limit); /* returns the previous */

	int64_t ids[16];
	int made = 0;
	for (int i = 0; i < 16; i++) {
		int64_t id = mrt_newm(fn_park, NULL, NULL);
		if (id < 0) {
			assert_int_equal(id, -EAGAIN);
			assert_non_null(strstr(mrt_errmsg(), "exceeds 10-thread limit"));
			break;
		}
		ids[made++] = id;
	}
	assert_int_equal(made, limit - base_live);
	wait_idle(made);

	struct mrtstate s0, s1;
	snapshot(&s0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(mrt_newm(fn_park, NULL, NULL), -EAGAIN);
	snapshot(&s1);
	assert_same_state(&s0, &s1);
	assert_int_equal(s1.st.created, s0.st.created); /* no id was taken */

	/* Lowering the limit below the live count harms no one. */
	assert_int_equal(mrt_setmaxthreads(2), limit);
	mrt_mstats(&st);
	assert_int_equal(st.live, limit);
	assert_int_equal(st.idle, made);

	assert_int_equal(mrt_setmaxthreads(limit + 1), 2);
	ids[made++] = must_newm(fn_park, NULL);
	assert_int_equal(mrt_newm(fn_park, NULL, NULL), -EAGAIN);
	wait_idle(made);

	assert_int_equal(mrt_setmaxthreads(0), -EINVAL);
	assert_int_equal(mrt_setmaxthreads(-1), -EINVAL);
	assert_int_equal(mrt_setmaxthreads(10000), limit + 1);
	stop_idle_ms();
	for (int i = 0; i < made; i++)
		assert_int_equal(mrt_join(ids[i]), 0); /* gone already */
	mrt_mstats(&st);
	assert_int_equal(st.live, base_live);
}

/* ------------------------------------------------------------------------ */

/* A clone failure (forced through the test hook) leaves mcount, allm, the
 * stack cache and the m pool exactly as before, and the error reaches the
 * caller with Go's message. */
static void test_clone_failure_undoes_everything(void **state)
{
	(void)state;
	/* Warm up so the stacks come from the cache and the m from the pool:
	 * undoing must put them back there. */
	assert_int_equal(mrt_join(must_newm(fn_exit, NULL)), 0);
	int64_t parked = must_newm(fn_park, NULL); /* allm is not just m0 */
	wait_idle(1);
	/* Settled first: in the pthread model a joined M's thread may still
	 * be running libc's exit, which unmaps what it will. */
	int threads = expected_threads(0);
	assert_true(settle_threads(threads));
	int maps = count_maps();

	struct mrtstate s0, s1;
	snapshot(&s0);
	mrt_test_fault(FAULT_NEWOSPROC, 1, -ENOMEM);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -ENOMEM);
	assert_non_null(strstr(mrt_errmsg(), "failed to create new OS thread"));
	assert_non_null(strstr(mrt_errmsg(), "errno=12"));
	snapshot(&s1);
	assert_same_state(&s0, &s1);
	assert_int_equal(s1.st.failed, s0.st.failed + 1);
	assert_int_equal(count_maps(), maps);
	assert_true(settle_threads(threads));

	/* EAGAIN from the kernel is retried, as Go does: one failure, then
	 * success. */
	mrt_test_fault(FAULT_NEWOSPROC, 1, -EAGAIN);
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	assert_true(id > 0);
	assert_int_equal(mrt_join(id), 0);

	/* A fresh mapping undone goes back to the OS, not into the cache. */
	mrt_reap();
	snapshot(&s0);
	assert_true(settle_threads(expected_threads(0))); /* see above */
	maps = count_maps();
	mrt_test_fault(FAULT_NEWOSPROC, 1, -ENOMEM);
	mrt_test_nocache(true);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -ENOMEM);
	mrt_test_nocache(false);
	snapshot(&s1);
	assert_same_state(&s0, &s1);
	assert_int_equal(count_maps(), maps);

	mrt_startm(fn_exit, NULL, NULL);
	assert_int_equal(mrt_join(parked), 0);
}

/* ------------------------------------------------------------------------ */

/*
 * freeWait: a stack is never reused while its thread may still touch it.
 * Each M fills its g0 stack below its frame with a pattern made of its id
 * and checks it; on its way out, after it has left allm for freem (the test
 * hook runs there), it writes and re-checks a marker near the top of g0,
 * where it is still running. Meanwhile other threads create Ms and reap
 * as fast as they can. A reaper that freed a stack before the kernel's
 * CLONE_CHILD_CLEARTID store would hand it to a new M while the old one
 * still runs on it, and one of them would find the other's pattern.
 */
static uint32_t corrupt, cycles_done;

static void fill_and_check(void *arg)
{
	(void)arg;
	m *mp = getm();
	uint64_t pat = 0x5a5a000000000000ull ^ (uint64_t)mp->id;
	/* Up to 8 KiB below the stack pointer, not closer: under TSan every
	 * access below is a call into its runtime, whose slow paths (a new
	 * trace part) run deeper than a few hundred bytes and overwrote the
	 * pattern there (1 in 4 runs under load). */
	uintptr_t lo = mp->g0->stack.lo, sp = arch_getsp();
	uint64_t *p = (uint64_t *)lo, *end = (uint64_t *)(sp - 8192);
	valgrind_mem_in_use(lo, (uintptr_t)end); /* below the stack pointer, on purpose */
	for (volatile uint64_t *q = p; q < end; q += 64)
		*q = pat;
	for (volatile uint64_t *q = p; q < end; q += 64)
		if (*q != pat)
			ev_add(&corrupt, 1);
}

static void exit_marker(m *mp)
{
	/* On the exiting M, already on freem. The lowest word of g0 is where
	 * the stack cache links a freed stack and where a new M's
	 * fill_and_check writes first. */
	volatile uint64_t *mark = (volatile uint64_t *)mp->g0->stack.lo;
	uint64_t pat = 0xa5a5000000000000ull ^ (uint64_t)mp->id;
	for (int i = 0; i < 200; i++) {
		*mark = pat;
		arch_procyield(10);
		if (*mark != pat)
			ev_add(&corrupt, 1);
	}
}

static uint32_t stop_churn;

static void *churner(void *arg)
{
	int n = (int)(long)arg;
	for (int i = 0; i < n; i++) {
		int64_t id = mrt_newm(fill_and_check, NULL, NULL);
		if (id < 0) {
			ev_add(&corrupt, 1000);
			break;
		}
		__atomic_fetch_add(&cycles_done, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *reaper(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_churn, __ATOMIC_ACQUIRE))
		mrt_reap();
	return NULL;
}

static void test_freewait_never_reuses_a_stack_in_use(void **state)
{
	(void)state;
	int total = quick ? 2000 : 10000;
	corrupt = cycles_done = stop_churn = 0;
	mrt_test_mexithook(exit_marker);
	pthread_t c1, c2, r;
	pthread_create(&r, NULL, reaper, NULL);
	pthread_create(&c1, NULL, churner, (void *)(long)(total / 2));
	pthread_create(&c2, NULL, churner, (void *)(long)(total / 2));
	pthread_join(c1, NULL);
	pthread_join(c2, NULL);
	/* Let every M finish before the reaper stops. */
	wait_only_m0();
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELEASE);
	pthread_join(r, NULL);
	mrt_test_mexithook(NULL);
	assert_int_equal(cycles_done, (uint32_t)total);
	assert_int_equal(corrupt, 0);
}

/* ------------------------------------------------------------------------ */

/*
 * A lock-free walker of allm sees every M that is live for the whole walk
 * and never an m that went back to the pool (status 0), while other threads
 * churn Ms. The walker dawdles on each M to widen the window in which a
 * recycled m would show.
 */
static int64_t keep_ids[8];
static uint32_t walk_bad, walks;

struct walkstate {
	int found;
};

static int walk_one(const struct mrt_minfo *info, void *arg)
{
	struct walkstate *w = arg;
	if (info->status < MRT_M_STARTING || info->status > MRT_M_EXITING || info->id < 0)
		__atomic_fetch_add(&walk_bad, 1, __ATOMIC_RELAXED);
	if (info->status == MRT_M_RUNNING || info->status == MRT_M_IDLE) {
		if (info->tid <= 0 || info->g0_lo >= info->g0_hi ||
		    info->gsignal_lo >= info->gsignal_hi)
			__atomic_fetch_add(&walk_bad, 1, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < 8; i++)
		if (info->id == keep_ids[i])
			w->found++;
	arch_procyield(50);
	return 0;
}

static void *walker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_churn, __ATOMIC_ACQUIRE)) {
		struct walkstate w = { 0 };
		mrt_forallm(walk_one, &w);
		if (w.found != 8)
			__atomic_fetch_add(&walk_bad, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&walks, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_allm_walker_sees_live_never_freed(void **state)
{
	(void)state;
	for (int i = 0; i < 8; i++)
		keep_ids[i] = must_newm(fn_park, NULL);
	wait_idle(8);
	walk_bad = walks = stop_churn = corrupt = cycles_done = 0;
	pthread_t w, c1, r;
	pthread_create(&w, NULL, walker, NULL);
	pthread_create(&r, NULL, reaper, NULL);
	pthread_create(&c1, NULL, churner, (void *)(long)(quick ? 500 : 3000));
	pthread_join(c1, NULL);
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
	pthread_join(r, NULL);
	assert_true(walks > 0);
	assert_int_equal(walk_bad, 0);
	assert_int_equal(corrupt, 0);
	stop_idle_ms();
}

/* ------------------------------------------------------------------------ */

/*
 * #11 item 9: a walker never sees half-recorded stack bounds. A new M is on
 * allm (STARTING) while its g0's bounds are being recorded — by allocm in
 * the clone model, by the new thread's minit in the pthread model — and a
 * walker used to read [lo, 0) there. The test hook stops the recording
 * halfway (lo stored, hi not yet) and walks allm and runs mrt_dump from
 * inside: the M's bounds must be unknown ([0, 0)) or whole, never torn.
 */
static struct {
	int64_t id;
	int walked, seen;
	uintptr_t lo, hi;
	char dump[4096];
} half;

static int half_walk(const struct mrt_minfo *info, void *arg)
{
	(void)arg;
	if (info->id == half.id) {
		half.seen++;
		half.lo = info->g0_lo;
		half.hi = info->g0_hi;
	}
	return 0;
}

static void at_g0_half(int point, void *arg)
{
	m *mp = arg;
	if (point != TP_G0HALF || __atomic_load_n(&half.walked, __ATOMIC_ACQUIRE))
		return;
	half.id = mp->id;
	mrt_forallm(half_walk, NULL);
	int p[2];
	if (pipe(p) == 0) {
		mrt_dump(p[1]);
		close(p[1]);
		ssize_t n = read(p[0], half.dump, sizeof half.dump - 1);
		half.dump[n > 0 ? n : 0] = '\0';
		close(p[0]);
	}
	__atomic_store_n(&half.walked, 1, __ATOMIC_RELEASE);
}

static void test_walkers_never_see_half_recorded_bounds(void **state)
{
	(void)state;
	memset(&half, 0, sizeof half);
	mrt_test_pointhook(at_g0_half);
	int64_t id = must_newm(fn_exit, NULL);
	assert_int_equal(mrt_join(id), 0);
	mrt_test_pointhook(NULL);
	assert_int_equal(half.walked, 1);
	assert_int_equal(half.id, id);
	assert_int_equal(half.seen, 1);
	if (!((half.lo == 0 && half.hi == 0) || (half.lo != 0 && half.lo < half.hi))) {
		print_error("walker saw M%lld's g0 as [%#lx, %#lx)\n", (long long)id,
		            (unsigned long)half.lo, (unsigned long)half.hi);
		fail();
	}
	/* mrt_dump's line for the M says the same. */
	char want[32];
	snprintf(want, sizeof want, "  M%-5lld", (long long)id);
	const char *line = strstr(half.dump, want);
	assert_non_null(line);
	unsigned long lo = 1, hi = 1;
	const char *g0 = strstr(line, " g0 [");
	assert_non_null(g0);
	assert_int_equal(sscanf(g0, " g0 [%lx, %lx)", &lo, &hi), 2);
	if (!((lo == 0 && hi == 0) || (lo != 0 && lo < hi))) {
		print_error("mrt_dump showed M%lld's g0 as [%#lx, %#lx): %.100s\n", (long long)id, lo,
		            hi, line);
		fail();
	}
}

/* ------------------------------------------------------------------------ */

/* startm hands work to the idle M — the same M, the same kernel thread —
 * every time, and creates nothing. */
static int32_t handoff_tid[1000];
static int64_t handoff_id[1000];
static void *handoff_p[1000];
static uint32_t handoffs;

static void handoff(void *arg)
{
	long i = (long)arg;
	handoff_tid[i] = mrt_gettid();
	handoff_id[i] = mrt_mid();
	handoff_p[i] = mrt_getp();
	ev_add(&handoffs, 1);
	mrt_stopm();
}

static void test_startm_reuses_idle_m(void **state)
{
	(void)state;
	int n = quick ? 200 : 1000;
	handoffs = 0;
	int64_t id = must_newm(fn_park, NULL);
	wait_idle(1);
	struct mrt_mstats st0, st;
	mrt_mstats(&st0);
	for (long i = 0; i < n; i++) {
		wait_idle(1);
		assert_int_equal(mrt_startm(handoff, (void *)i, (void *)(i + 1)), id);
		ev_wait(&handoffs, (uint32_t)(i + 1));
	}
	mrt_mstats(&st);
	assert_int_equal(st.created, st0.created);
	for (int i = 0; i < n; i++) {
		assert_int_equal(handoff_id[i], id);
		assert_int_equal(handoff_tid[i], handoff_tid[0]);
		assert_ptr_equal(handoff_p[i], (void *)(long)(i + 1));
	}
	wait_idle(1);
	stop_idle_ms();
}

/* A parked M sleeps in the kernel and uses no CPU. */
static void test_parked_m_uses_no_cpu(void **state)
{
	(void)state;
	static int32_t tid;
	tid = 0;
	int64_t id = must_newm(fn_park, NULL);
	wait_idle(1);
	tid = tid_of(id);
	assert_true(tid > 0);
	int64_t t0 = thread_cputime_ns(tid);
	/* A measurement window, not synchronisation: the M must not run in it. */
	struct timespec ts = { 0, 200 * 1000000 };
	nanosleep(&ts, NULL);
	int64_t t1 = thread_cputime_ns(tid);
	assert_int_equal(thread_state(tid), 'S');
	assert_true(t1 - t0 < 2000000); /* well under 1% of the window */
	stop_idle_ms();
	wait_thread_gone(tid); /* joined: the thread is gone (see testlib.h) */
}

/* ------------------------------------------------------------------------ */

/* Returning from the M's function and mrt_mexit both end the M; m0 and
 * non-Ms cannot exit through mrt. */
static uint32_t exited_via;
static void fn_mexit_deep(void *arg)
{
	(void)arg;
	ev_add(&exited_via, 1);
	mrt_mexit();
	ev_add(&exited_via, 100); /* not reached */
}

static void test_mexit_ends_the_m(void **state)
{
	(void)state;
	exited_via = 0;
	int64_t id = must_newm(fn_mexit_deep, NULL);
	assert_int_equal(mrt_join(id), 0);
	assert_int_equal(exited_via, 1);
	assert_int_equal(mrt_mexit(), -EPERM); /* m0 */
	assert_int_equal(mrt_stopm(), -EPERM); /* m0 */
	assert_int_equal(mrt_join(0), -EINVAL);
	assert_int_equal(mrt_join(1 << 30), -ESRCH);
	assert_int_equal(mrt_join(-1), -EINVAL);
	assert_int_equal(mrt_newm(NULL, NULL, NULL), -EINVAL);
	assert_int_equal(mrt_startm(NULL, NULL, NULL), -EINVAL);
	assert_int_equal(mrt_mstats(NULL), -EINVAL);
}

static void *foreign_thread(void *arg)
{
	int *r = arg;
	r[0] = mrt_mexit();
	r[1] = (int)mrt_mid();
	r[2] = mrt_stopm();
	int64_t id = mrt_newm(fn_exit, NULL, NULL); /* any thread may create Ms */
	r[3] = id > 0 ? mrt_join(id) : (int)id;
	return NULL;
}

static void test_foreign_thread(void **state)
{
	(void)state;
	int r[4];
	pthread_t t;
	pthread_create(&t, NULL, foreign_thread, r);
	pthread_join(t, NULL);
	assert_int_equal(r[0], -EPERM);
	assert_int_equal(r[1], -1);
	assert_int_equal(r[2], -EPERM);
	assert_int_equal(r[3], 0);
}

/* ------------------------------------------------------------------------ */

/*
 * #11 item 3: mrt_join from inside an mrt_forallm callback would wait for
 * the walk it is part of (no M is reaped while a walker runs): it returns
 * -EDEADLK at once. (It spun for ever at 100 % CPU.) After the walk the
 * same join works. In a child: a regression hangs.
 */
static int64_t walkjoin_id;
static int walkjoin_ret;

static int join_inside_walk(const struct mrt_minfo *info, void *arg)
{
	(void)info, (void)arg;
	walkjoin_ret = mrt_join(walkjoin_id);
	return 1;
}

static void child_join_inside_walk(void)
{
	walkjoin_id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(walkjoin_id > 0);
	walkjoin_ret = 1;
	CHILD_CHECK(mrt_forallm(join_inside_walk, NULL) == 1);
	CHILD_CHECK(walkjoin_ret == -EDEADLK);
	CHILD_CHECK(mrt_join(walkjoin_id) == 0);
}

static void test_join_inside_a_walk_is_edeadlk(void **state)
{
	(void)state;
	struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_join_inside_walk, 60, &c);
	assert_child_ok(&c);
}

/*
 * #11 item 3: a join held up by a lock-free walker sleeps until the walk is
 * over. A walker stands inside its callback; the M to join has exited and
 * its thread is gone (it waits on freem, where the walker keeps it), so the
 * only thing the joiner can wait for is the walk. It must be seen asleep in
 * the kernel, and return 0 once the walker leaves. (It spun on sched_yield,
 * taking the CPU from the walkers it waited for: always runnable.)
 */
static uint32_t holdwalk_in, holdwalk_release, joiner_ready;
static int32_t joiner_tid;
static int joiner_ret;

static int hold_walk(const struct mrt_minfo *info, void *arg)
{
	(void)info, (void)arg;
	ev_add(&holdwalk_in, 1);
	ev_block(&holdwalk_release, 1);
	return 1;
}

static void *holding_walker(void *arg)
{
	(void)arg;
	mrt_forallm(hold_walk, NULL);
	return NULL;
}

static void *joiner_thread(void *arg)
{
	joiner_tid = mrt_gettid();
	ev_add(&joiner_ready, 1);
	joiner_ret = mrt_join(*(int64_t *)arg);
	return NULL;
}

static void test_join_sleeps_while_a_walker_holds_it_up(void **state)
{
	(void)state;
	holdwalk_in = holdwalk_release = joiner_ready = 0;
	joiner_ret = 1;
	pthread_t w, j;
	pthread_create(&w, NULL, holding_walker, NULL);
	ev_wait(&holdwalk_in, 1);
	int64_t id = must_newm(fn_exit, NULL);
	wait_exited_unreaped(id);
	pthread_create(&j, NULL, joiner_thread, &id);
	ev_wait(&joiner_ready, 1);
	/* A bound for the failure, not a measurement: asleep ('S') is a
	 * state the joiner reaches at once, and a spinning one never. */
	bool asleep = false;
	int64_t deadline = mrt_nanotime() + 30 * 1000000000LL;
	while (!asleep && mrt_nanotime() < deadline) {
		asleep = thread_state(joiner_tid) == 'S';
		if (!asleep)
			sched_yield();
	}
	assert_int_equal(joiner_ret, 1); /* still waiting */
	ev_add(&holdwalk_release, 1);
	pthread_join(w, NULL);
	pthread_join(j, NULL);
	if (!asleep)
		print_error("the joiner never slept while the walker held it up\n");
	assert_true(asleep);
	assert_int_equal(joiner_ret, 0);
}

/* ------------------------------------------------------------------------ */

/*
 * #11 item 2: a join that finds an M whose creation then fails. The test
 * hook holds newm1 before its first try to start the thread, every try
 * armed to fail with EAGAIN (Go's 20). Meanwhile a thread joins the M,
 * found on allm (STARTING). Then the creation goes on and fails after the
 * retries: newm returns -EAGAIN and the joiner must wake with -EAGAIN too.
 * (It slept for ever; or, once the next creation reused the m, the stale
 * joiner was woken by that M's exit and reaped it, and that M's own joiner
 * waited for ever.) So the next creation, which reuses the m, is made and
 * joined before the first joiner is looked at. In a child: a regression
 * hangs.
 */
static uint32_t nf_at, nf_release, nf_created, nf_joined;
static m *nf_m;
static int64_t nf_id, nf_newm;
static int nf_join;

static void nf_hook(int tp, void *arg)
{
	if (tp != TP_NEWOSPROC || __atomic_load_n(&nf_m, __ATOMIC_ACQUIRE) != NULL)
		return; /* the first try of the first creation only */
	nf_id = ((m *)arg)->id;
	__atomic_store_n(&nf_m, arg, __ATOMIC_RELEASE);
	ev_add(&nf_at, 1);
	ev_block(&nf_release, 1);
}

static void *nf_creator(void *arg)
{
	(void)arg;
	nf_newm = mrt_newm(fn_exit, NULL, NULL);
	ev_add(&nf_created, 1);
	return NULL;
}

static void *nf_joiner(void *arg)
{
	(void)arg;
	nf_join = mrt_join(nf_id);
	ev_add(&nf_joined, 1);
	return NULL;
}

static void child_join_a_creation_that_fails(void)
{
	struct mrt_mstats st0, st;
	mrt_mstats(&st0);
	mrt_test_faultn(FAULT_NEWOSPROC, 1, 20, -EAGAIN);
	mrt_test_pointhook(nf_hook);
	pthread_t c, j;
	CHILD_CHECK(pthread_create(&c, NULL, nf_creator, NULL) == 0);
	ev_block(&nf_at, 1);
	nf_join = 1;
	CHILD_CHECK(pthread_create(&j, NULL, nf_joiner, NULL) == 0);
	for (bool found = false; !found; sched_yield()) { /* the joiner has found the M */
		lock(&sched.lock);
		found = nf_m->joining != 0;
		unlock(&sched.lock);
	}
	ev_add(&nf_release, 1);
	ev_block(&nf_created, 1);
	CHILD_CHECK(nf_newm == -EAGAIN);
	/* The m goes back to the pool and the next creation takes it. */
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0);
	CHILD_CHECK(mrt_join(id) == 0);
	ev_block(&nf_joined, 1);
	CHILD_CHECK(nf_join == -EAGAIN);
	pthread_join(c, NULL);
	pthread_join(j, NULL);
	/* Joined again, the id still says how its creation ended. */
	CHILD_CHECK(mrt_join(nf_id) == -EAGAIN);
	mrt_reap();
	mrt_mstats(&st);
	CHILD_CHECK(st.live == st0.live && st.exiting == 0 && st.failed == st0.failed + 1);
}

static void test_join_wakes_when_the_creation_fails(void **state)
{
	(void)state;
	struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_join_a_creation_that_fails, 60, &c);
	assert_child_ok(&c);
}

/*
 * #11 item 2: mrt_join on the id of a creation that failed returns the
 * creation's error (mrt.h), not 0 as if the M had run and been reaped:
 * clone failed (the M was on allm), gsignal failed (the id was taken, the
 * M never on allm), and the new thread's own setup failed (the M ran, and
 * was reaped by mrt_reap before the join). The failed id is the one
 * mrt_mstats' created named before the creation.
 */
static void test_join_of_a_failed_creation(void **state)
{
	(void)state;
	struct mrt_mstats st;
	mrt_mstats(&st);
	mrt_test_fault(FAULT_NEWOSPROC, 1, -ENOMEM);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -ENOMEM);
	assert_int_equal(mrt_join(st.created), -ENOMEM);

	mrt_mstats(&st);
	mrt_test_fault(FAULT_GSIGNAL, 1, -ENOMEM);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -ENOMEM);
	assert_int_equal(mrt_join(st.created), -ENOMEM);

	mrt_test_fault(FAULT_SIGALTSTACK, 1, -EPERM);
	int64_t id = must_newm(fn_exit, NULL);
	wait_exited_unreaped(id);
	mrt_reap();
	assert_false(exited_unreaped(id));
	assert_int_equal(mrt_join(id), -EPERM);
	assert_int_equal(mrt_join(id), -EPERM); /* and again */

	/* An M that ran and was reaped still counts as joined. */
	id = must_newm(fn_exit, NULL);
	wait_exited_unreaped(id);
	mrt_reap();
	assert_int_equal(mrt_join(id), 0);
}

/*
 * #11 item 9: mrt_join of an id handed out but whose M is not on allm yet
 * (mcommoninit has taken the id and is allocating gsignal) returned 0 at
 * once, as if the M had run and been reaped. The hook holds the creation
 * there; a joiner must wait for the M, which then runs, and return only
 * after it has. In a child: a regression may hang.
 */
static uint32_t nq_at, nq_release, nq_joined, nq_ran;
static m *nq_m;
static int64_t nq_id;
static int nq_join, nq_ran_at_join;

static void nq_hook(int tp, void *arg)
{
	if (tp != TP_MPREINIT || __atomic_load_n(&nq_m, __ATOMIC_ACQUIRE) != NULL)
		return;
	nq_id = ((m *)arg)->id;
	__atomic_store_n(&nq_m, arg, __ATOMIC_RELEASE);
	ev_add(&nq_at, 1);
	ev_block(&nq_release, 1);
}

static void nq_fn(void *arg)
{
	(void)arg;
	ev_add(&nq_ran, 1);
}

static void *nq_creator(void *arg)
{
	(void)arg;
	int64_t id = mrt_newm(nq_fn, NULL, NULL);
	return (void *)(intptr_t)(id > 0);
}

static void *nq_joiner(void *arg)
{
	(void)arg;
	nq_join = mrt_join(nq_id);
	nq_ran_at_join = (int)ev_get(&nq_ran);
	ev_add(&nq_joined, 1);
	return NULL;
}

static void child_join_of_an_id_in_creation(void)
{
	mrt_test_pointhook(nq_hook);
	pthread_t c, j;
	CHILD_CHECK(pthread_create(&c, NULL, nq_creator, NULL) == 0);
	ev_block(&nq_at, 1);
	CHILD_CHECK(pthread_create(&j, NULL, nq_joiner, NULL) == 0);
	/* Until the joiner waits for the M, or has (wrongly) returned. */
	for (bool waiting = false; !waiting && ev_get(&nq_joined) == 0; sched_yield()) {
		lock(&sched.lock);
		waiting = nq_m->joining != 0;
		unlock(&sched.lock);
	}
	ev_add(&nq_release, 1);
	void *made;
	pthread_join(c, &made);
	CHILD_CHECK(made != NULL);
	ev_block(&nq_joined, 1);
	pthread_join(j, NULL);
	mrt_test_pointhook(NULL);
	CHILD_CHECK(nq_join == 0);
	CHILD_CHECK(nq_ran_at_join == 1); /* the join returned after the M ran */
}

static void test_join_of_an_id_in_creation(void **state)
{
	(void)state;
	struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_join_of_an_id_in_creation, 60, &c);
	assert_child_ok(&c);
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
		MRT_TEST(test_ids_unique_and_increasing),
		MRT_TEST(test_mcount_back_to_baseline),
		MRT_TEST(test_no_new_mappings_after_warmup),
		MRT_TEST(test_thread_limit),
		MRT_TEST(test_clone_failure_undoes_everything),
		MRT_TEST(test_freewait_never_reuses_a_stack_in_use),
		MRT_TEST(test_allm_walker_sees_live_never_freed),
		MRT_TEST(test_startm_reuses_idle_m),
		MRT_TEST(test_parked_m_uses_no_cpu),
		MRT_TEST(test_mexit_ends_the_m),
		MRT_TEST(test_foreign_thread),
		MRT_TEST(test_join_inside_a_walk_is_edeadlk),
		MRT_TEST(test_join_sleeps_while_a_walker_holds_it_up),
		MRT_TEST(test_join_wakes_when_the_creation_fails),
		MRT_TEST(test_join_of_a_failed_creation),
		MRT_TEST(test_join_of_an_id_in_creation),
		MRT_TEST(test_walkers_never_see_half_recorded_bounds),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
