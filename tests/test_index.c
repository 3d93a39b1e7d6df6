/*
 * test_index.c — Ms found by id (#15 item 4): mrt_join and mrt_signalm look
 * an M up in an index by id (core/mindex.c), not by a walk of allm. What
 * must hold: every live M is found and every other id is not, while the
 * index grows; a lock-free reader (mrt_signalm, as from a signal handler)
 * standing in the index while it grows never touches unmapped memory and
 * still finds what was there; and a lookup never acts on an m that has been
 * recycled for another M.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>

static struct mindexstats idxstats(int x)
{
	struct mindexstats st;
	mrt_test_mindex(x, &st);
	return st;
}

/* A real-time signal, so that two sent are two delivered (standard signals
 * merge), counted per M by the handler (M-safe: reads TLS). */
#ifdef SIGRTMIN
#define SIGIDX (SIGRTMIN + 1)
#else
#define SIGIDX SIGUSR2 /* Darwin has no real-time signals */
#endif
enum { maxms = 1024 };
static uint32_t hits[4096];

static void on_sigidx(int sig)
{
	(void)sig;
	int64_t id = mrt_mid();
	if (id >= 0 && id < (int64_t)countof(hits))
		__atomic_fetch_add(&hits[id], 1, __ATOMIC_RELAXED);
}

static void catch_sigidx(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigidx;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigaction(SIGIDX, &sa, NULL);
}

/* Under ThreadSanitizer a parked M runs no handler until it wakes (see
 * test_signal.c): there only the lookups' results are checked. */
#if MRT_TSAN
static const bool delivery_checked = false;
#else
static const bool delivery_checked = true;
#endif

/*
 * Hundreds of Ms, so that both indexes grow (64 buckets, then 256, then
 * 1024): mrt_signalm finds each live M, and only it (its handler counts one
 * signal, on that M); ids never created, and ids joined, are -ESRCH. Then
 * every M exits without a join (all on freem, whose index grows too) and
 * each is joined, in an order unlike its creation's: 0 every time, then
 * -ESRCH-free "reaped" (0) for a second join, -ESRCH above mnext.
 */
static void test_every_m_found_by_id_while_the_index_grows(void **state)
{
	(void)state;
	int n = quick ? 300 : 600;
	catch_sigidx();
	memset(hits, 0, sizeof hits);
	struct mindexstats a0 = idxstats(MIDX_ALLM);
	int64_t ids[maxms];
	for (int i = 0; i < n; i++)
		ids[i] = must_newm(fn_park, NULL);
	wait_idle(n);
	struct mindexstats a = idxstats(MIDX_ALLM);
	assert_int_equal(a.n, a0.n + (uint32_t)n);
	assert_true(a.buckets >= a0.buckets * 4); /* grew, at least once */
	assert_true(a.n <= 2 * a.buckets);

	for (int i = 0; i < n; i++)
		assert_int_equal(mrt_signalm(ids[i], SIGIDX), 0);
	struct mrt_mstats st;
	mrt_mstats(&st);
	assert_int_equal(mrt_signalm(st.created, SIGIDX), -ESRCH);
	assert_int_equal(mrt_signalm(st.created + 12345, SIGIDX), -ESRCH);
	if (delivery_checked) {
		for (int i = 0; i < n; i++) {
			assert_true(ids[i] < (int64_t)countof(hits));
			ev_wait(&hits[ids[i]], 1);
		}
		for (int i = 0; i < n; i++)
			assert_int_equal(hits[ids[i]], 1);
	}

	/* All exit, none joined: freem holds them, and its index grows. */
	struct mindexstats f0 = idxstats(MIDX_FREEM);
	for (int i = 0; i < n; i++)
		assert_true(mrt_startm(fn_exit, NULL, NULL) > 0);
	for (int i = 0; i < n; i++)
		wait_exited_unreaped(ids[i]);
	struct mindexstats f = idxstats(MIDX_FREEM);
	assert_int_equal(f.n, f0.n + (uint32_t)n);
	assert_true(f.buckets > f0.buckets);
	assert_int_equal(idxstats(MIDX_ALLM).n, a0.n);
	for (int i = 0; i < n; i++)
		assert_int_equal(mrt_signalm(ids[i], SIGIDX), -ESRCH); /* exited */
	/* Joined from the middle outwards. */
	for (int k = 0; k < n; k++) {
		int i = k % 2 ? n / 2 + k / 2 + 1 : n / 2 - k / 2;
		if (i >= n)
			i = n - 1 - k / 2;
		assert_int_equal(mrt_join(ids[i]), 0);
	}
	for (int i = 0; i < n; i++)
		assert_int_equal(mrt_join(ids[i]), 0); /* reaped: counts as joined */
	assert_int_equal(idxstats(MIDX_FREEM).n, f0.n);
	mrt_mstats(&st);
	assert_int_equal(mrt_join(st.created), -ESRCH);
}

/*
 * A lock-free lookup (mrt_signalm on a thread of the test's) is held by the
 * stop point inside mindexfind, its table loaded and not yet walked, while
 * enough Ms are made to grow the index under it. The table it stands on
 * must stay mapped — reaps meanwhile give nothing back, and the index does
 * not grow again over its links — and the held lookup, released, still
 * finds its M there. Once it is gone, the next reap gives the old table
 * back and the index grows again. Twice: over the static first table, with
 * the growth after it held back; and (not --quick: 2,049 Ms) over a mapped
 * one, which, given back at once, would be unmapped under the held lookup:
 * the child dies of SIGSEGV. In a child.
 */
static int32_t ir_readertid; /* the reader to hold; Ms pass the point too */
static uint32_t ir_held, ir_release;
static int64_t ir_target;
static int ir_ret;
static int ir_made;

static void ir_hook(int tp, void *arg)
{
	(void)arg;
	if (tp != TP_MINDEX || mrt_gettid() != __atomic_load_n(&ir_readertid, __ATOMIC_ACQUIRE))
		return;
	__atomic_store_n(&ir_readertid, 0, __ATOMIC_RELEASE); /* once */
	ev_add(&ir_held, 1);
	ev_block(&ir_release, 1);
}

static void *ir_reader(void *arg)
{
	(void)arg;
	__atomic_store_n(&ir_readertid, mrt_gettid(), __ATOMIC_RELEASE);
	ir_ret = mrt_signalm(ir_target, SIGIDX);
	return NULL;
}

/* Parked Ms until the index has more than n or reaches generation gen. */
static void ir_grow_to(uint32_t n, uint32_t gen)
{
	for (;;) {
		struct mindexstats s = idxstats(MIDX_ALLM);
		if (s.n > n || s.gen >= gen)
			return;
		CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) > 0);
		ir_made++;
	}
}

/* Holds a lookup of a new M and grows the index under it; returns the
 * index as it was when the lookup was released. */
static struct mindexstats ir_hold_and_grow(bool overgrow)
{
	ir_target = mrt_newm(fn_park, NULL, NULL);
	CHILD_CHECK(ir_target > 0 && ir_target < (int64_t)countof(hits));
	ir_made++;
	ir_held = ir_release = 0;
	pthread_t r;
	CHILD_CHECK(pthread_create(&r, NULL, ir_reader, NULL) == 0);
	ev_block(&ir_held, 1);

	struct mindexstats s0 = idxstats(MIDX_ALLM);
	ir_grow_to(UINT32_MAX, s0.gen + 1);
	struct mindexstats s = idxstats(MIDX_ALLM);
	CHILD_CHECK(s.gen == s0.gen + 1 && s.oldpending); /* the reader may be on it */
	mrt_reap();
	CHILD_CHECK(idxstats(MIDX_ALLM).oldpending);
	if (overgrow) {
		/* Past the next growth's threshold: it waits for the reader. */
		ir_grow_to(2 * s.buckets, UINT32_MAX);
		s = idxstats(MIDX_ALLM);
		CHILD_CHECK(s.gen == s0.gen + 1 && s.oldpending && s.n > 2 * s.buckets);
	}

	ev_add(&ir_release, 1);
	pthread_join(r, NULL);
	CHILD_CHECK(ir_ret == 0); /* found in the old table */
	mrt_reap();
	CHILD_CHECK(!idxstats(MIDX_ALLM).oldpending);
	return s;
}

static void child_lookup_held_while_the_index_grows(void)
{
	catch_sigidx();
	memset(hits, 0, sizeof hits);
	CHILD_CHECK(idxstats(MIDX_ALLM).gen == 0);
	mrt_test_pointhook(ir_hook);

	int64_t t1 = 0, t2 = 0;
	struct mindexstats s = ir_hold_and_grow(true);
	t1 = ir_target;
	/* The growth it held back happens at the next M. */
	CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) > 0);
	ir_made++;
	CHILD_CHECK(idxstats(MIDX_ALLM).gen == s.gen + 1);
	if (!quick) {
		ir_hold_and_grow(false); /* over a mapped table */
		t2 = ir_target;
	}
	mrt_test_pointhook(NULL);

	wait_idle(ir_made);
	if (delivery_checked) {
		/* ev_poll, not ev_block: the handler counts a hit and wakes
		 * nobody (a wake is no call for a signal handler on every
		 * platform), so a block that begins before the hit never ends. */
		CHILD_CHECK(ev_poll(&hits[t1], 1));
		CHILD_CHECK(hits[t1] == 1);
		if (t2 != 0) {
			CHILD_CHECK(ev_poll(&hits[t2], 1));
			CHILD_CHECK(hits[t2] == 1);
		}
	}
	stop_idle_ms();
}

static void test_lookup_held_while_the_index_grows(void **state)
{
	(void)state;
	struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_lookup_held_while_the_index_grows, 120, &c);
	assert_child_ok(&c);
}

/*
 * The id of an M that exited, was reaped, and whose m a new M took: the
 * lookup must not act on the new M. mrt_signalm of the old id is -ESRCH and
 * the new M gets no signal (only the one sent to its own id); mrt_join of
 * the old id is 0 (reaped) and leaves the new M alone.
 */
static void test_a_recycled_m_is_not_the_old_id(void **state)
{
	(void)state;
	catch_sigidx();
	memset(hits, 0, sizeof hits);
	int64_t a = must_newm(fn_park, NULL);
	wait_idle(1);
	assert_true(mrt_startm(fn_exit, NULL, NULL) == a);
	assert_int_equal(mrt_join(a), 0);
	int64_t b = must_newm(fn_park, NULL); /* the m a left in the pool */
	wait_idle(1);
	assert_int_equal(mrt_signalm(a, SIGIDX), -ESRCH);
	assert_int_equal(mrt_join(a), 0);
	assert_int_equal(mrt_signalm(b, SIGIDX), 0);
	if (delivery_checked) {
		assert_true(b < (int64_t)countof(hits));
		ev_wait(&hits[b], 1);
		assert_int_equal(hits[b], 1);
		assert_int_equal(hits[a], 0);
	}
	struct mrt_mstats st;
	mrt_mstats(&st);
	assert_int_equal(st.idle, 1); /* b is still there, untouched */
	stop_idle_ms();
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
		/* First: it needs the index at its first size to grow it
		 * cheaply. */
		MRT_TEST(test_lookup_held_while_the_index_grows),
		MRT_TEST(test_every_m_found_by_id_while_the_index_grows),
		MRT_TEST(test_a_recycled_m_is_not_the_old_id),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
