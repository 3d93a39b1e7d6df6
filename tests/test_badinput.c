/*
 * test_badinput.c — every public function called with what a careless or
 * hostile caller passes: NULL, zero, negative, misaligned and huge values,
 * objects in the wrong state, calls from the wrong thread. Each gets -EINVAL
 * (or the result its documentation gives), never a crash, and leaves mrt's
 * state as it was. (Calls before mrt_init, and odd configurations, are
 * test_child's: they need a process that has not run mrt_init.)
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static void noop(void *arg)
{
	(void)arg;
}

static void noopg(mrt_g *gp, void *arg)
{
	(void)gp, (void)arg;
}

static void count_run(void *arg)
{
	__atomic_fetch_add((uint32_t *)arg, 1, __ATOMIC_RELAXED);
}

static int noopwalk(const struct mrt_minfo *mi, void *arg)
{
	(void)mi, (void)arg;
	return 0;
}

/* Storage for misaligned pointers: one byte into an aligned buffer. */
static union {
	char c[512];
	uint64_t align;
} junk;
#define MISALIGNED(T) ((T)(void *)(junk.c + 1))

static void test_init_and_limits(void **state)
{
	(void)state;
	struct mrtstate a, b;
	snapshot(&a);
	/* Refused before the "already initialised" check: bad is bad. */
	struct mrt_config bad[] = {
		CFG(.g0_stack = 1),
		CFG(.g0_stack = SIZE_MAX),
		CFG(.gsignal_stack = (size_t)1 << 31),
		CFG(.gsignal_stack = SIZE_MAX),
		CFG(.max_threads = -1),
		CFG(.max_threads = INT32_MIN),
		CFG(.idle_ns = -1),
		CFG(.idle_ns = INT64_MIN),
		CFG(.flags = ~0u),
		CFG(.flags = 0x80000000u),
		CFG(.thread_name = "a prefix far too long for a thread name"),
	};
	for (size_t i = 0; i < countof(bad); i++)
		assert_int_equal(mrt_init(&bad[i]), -EINVAL);
	assert_int_equal(mrt_init(MISALIGNED(const struct mrt_config *)), -EINVAL);
	assert_int_equal(mrt_init(NULL), -EBUSY);

	assert_int_equal(mrt_setmaxthreads(0), -EINVAL);
	assert_int_equal(mrt_setmaxthreads(-1), -EINVAL);
	assert_int_equal(mrt_setmaxthreads(INT32_MIN), -EINVAL);
	assert_int_equal(mrt_setmaxthreads(INT32_MAX), 10000); /* huge is a valid limit */
	assert_int_equal(mrt_setmaxthreads(10000), INT32_MAX);
	snapshot(&b);
	assert_same_state(&a, &b);
}

static void test_m_calls(void **state)
{
	(void)state;
	struct mrtstate a, b;
	snapshot(&a);
	assert_int_equal(mrt_newm(NULL, NULL, NULL), -EINVAL);
	assert_int_equal(mrt_startm(NULL, (void *)-1, (void *)-1), -EINVAL);
	/* On m0: no exit point to park at or return to. */
	assert_int_equal(mrt_stopm(), -EPERM);
	assert_int_equal(mrt_mexit(), -EPERM);
	assert_int_equal(mrt_join(-1), -EINVAL);
	assert_int_equal(mrt_join(INT64_MIN), -EINVAL);
	assert_int_equal(mrt_join(0), -EINVAL); /* m0 */
	assert_int_equal(mrt_join(INT64_MAX), -ESRCH);
	assert_int_equal(mrt_join(a.st.created), -ESRCH); /* the next id: not yet */
	assert_int_equal(mrt_reap(), 0);
	assert_int_equal(mrt_forallm(NULL, NULL), -EINVAL);
	assert_int_equal(mrt_forallm(noopwalk, (void *)-1), 0);
	assert_int_equal(mrt_mstats(NULL), -EINVAL);
	assert_int_equal(mrt_mstats(MISALIGNED(struct mrt_mstats *)), -EINVAL);
	assert_null(mrt_mlocal(-1));
	assert_null(mrt_mlocal(INT_MIN));
	assert_null(mrt_mlocal(INT_MAX));
	assert_null(mrt_mlocal(MRT_MLOCAL_SLOTS));
	assert_non_null(mrt_mlocal(0));
	assert_int_equal(mrt_setp((void *)-1), 0);
	assert_ptr_equal(mrt_getp(), (void *)-1);
	assert_int_equal(mrt_setp(NULL), 0);
	assert_int_equal(mrt_signalm(-1, SIGUSR1), -EINVAL);
	assert_int_equal(mrt_signalm(INT64_MIN, SIGUSR1), -EINVAL);
	assert_int_equal(mrt_signalm(INT64_MAX, SIGUSR1), -ESRCH);
	assert_int_equal(mrt_signalm(0, 0), -EINVAL);
	assert_int_equal(mrt_signalm(0, -1), -EINVAL);
	assert_int_equal(mrt_signalm(0, 65), -EINVAL);
	assert_int_equal(mrt_signalm(0, INT_MAX), -EINVAL);
	assert_int_equal(mrt_signalm(0, INT_MIN), -EINVAL);
	assert_int_equal(mrt_execunlock(), -EPERM);
	snapshot(&b);
	assert_same_state(&a, &b);
}

static void test_g_calls(void **state)
{
	(void)state;
	struct mrtstate a, b;
	snapshot(&a);
	mrt_g *gp = (mrt_g *)0x1;
	assert_int_equal(mrt_malg(NULL, 64 << 10), -EINVAL);
	assert_int_equal(mrt_malg(MISALIGNED(mrt_g **), 64 << 10), -EINVAL);
	assert_int_equal(mrt_malg(&gp, 0), -EINVAL);
	assert_int_equal(mrt_malg(&gp, SIZE_MAX), -EINVAL);
	assert_int_equal(mrt_malg(&gp, ((size_t)1 << 30) + 1), -EINVAL);
	assert_int_equal(mrt_malg(&gp, (size_t)-4096), -EINVAL);
	assert_ptr_equal(gp, (mrt_g *)0x1); /* untouched on failure */

	const mrt_g *mis = MISALIGNED(const mrt_g *);
	uintptr_t lo = 1, hi = 1;
	assert_int_equal(mrt_gostart(NULL, noop, NULL), -EINVAL);
	assert_int_equal(mrt_gostart((mrt_g *)mis, noop, NULL), -EINVAL);
	assert_int_equal(mrt_gogo(NULL), -EINVAL);
	assert_int_equal(mrt_gogo((mrt_g *)mis), -EINVAL);
	assert_int_equal(mrt_gfree(NULL), -EINVAL);
	assert_int_equal(mrt_gfree((mrt_g *)mis), -EINVAL);
	assert_int_equal(mrt_gstack(NULL, &lo, &hi), -EINVAL);
	assert_int_equal(mrt_gstack(mis, &lo, &hi), -EINVAL);
	assert_int_equal(mrt_gid(NULL), -EINVAL);
	assert_int_equal(mrt_gid(mis), -EINVAL);
	assert_int_equal(mrt_gstatus(NULL), -EINVAL);
	assert_int_equal(mrt_gstatus(mis), -EINVAL);
	assert_null(mrt_guser(NULL));
	assert_null(mrt_guser(mis));
	mrt_gsetuser(NULL, (void *)1);
	mrt_gsetuser((mrt_g *)mis, (void *)1);
	assert_true(lo == 1 && hi == 1);
	assert_int_equal(mrt_mcall(noopg, NULL), -EPERM); /* on g0 */
	assert_int_equal(mrt_mcall(NULL, NULL), -EPERM);
	assert_int_equal(mrt_systemstack(NULL, NULL), -EINVAL);

	/* A g0 and a gsignal are not user gs. */
	mrt_g *g0 = mrt_getg0();
	assert_int_equal(mrt_gostart(g0, noop, NULL), -EINVAL);
	assert_int_equal(mrt_gfree(g0), -EINVAL);
	/* #11 item 9: the running g is -EBUSY, as the header has it, and
	 * g0 from g0 is the running g. */
	assert_int_equal(mrt_gogo(g0), -EBUSY);

	/* States: idle, runnable, dead, freed. */
	snapshot(&b);
	assert_int_equal(mrt_malg(&gp, 1), 0); /* tiny: rounded up to the minimum */
	assert_int_equal(mrt_gstack(gp, &lo, &hi), 0);
	assert_int_equal(hi - lo, round_up(16 << 10, kernel_pagesize()));
	assert_int_equal(mrt_gstack(gp, MISALIGNED(uintptr_t *), &hi), -EINVAL);
	assert_int_equal(mrt_gstack(gp, &lo, NULL), -EINVAL);
	assert_int_equal(mrt_gogo(gp), -EINVAL); /* idle: nothing to run */
	assert_int_equal(mrt_gostart(gp, NULL, NULL), -EINVAL);
	assert_int_equal(mrt_gostart(gp, noop, NULL), 0);
	assert_int_equal(mrt_gostart(gp, noop, NULL), -EINVAL); /* runnable already */
	assert_int_equal(mrt_gogo(gp), 0);                      /* runs, dies */
	assert_int_equal(mrt_gstatus(gp), MRT_G_DEAD);
	assert_int_equal(mrt_gogo(gp), -EINVAL); /* dead */
	assert_int_equal(mrt_gfree(gp), 0);
	assert_int_equal(mrt_gfree(gp), -EINVAL); /* twice */
	assert_int_equal(mrt_gstatus(gp), 0);
	assert_int_equal(mrt_gostart(gp, noop, NULL), -EINVAL); /* freed */
	assert_int_equal(mrt_gogo(gp), -EINVAL);

	/* An odd size is rounded up to pages (64 KiB of them on some arm64
	 * kernels: 16 KiB + 1 is then one page). */
	assert_int_equal(mrt_malg(&gp, (16 << 10) + 1), 0);
	assert_int_equal(mrt_gstack(gp, &lo, &hi), 0);
	assert_int_equal(hi - lo, round_up((16 << 10) + 1, kernel_pagesize()));
	assert_int_equal(mrt_gfree(gp), 0);
	(void)a;
}

/* #11 item 9: a g freed while runnable (started, never run) keeps no
 * context to resume: switching to it ran it on a freed stack. */
static void test_gogo_of_a_freed_g(void **state)
{
	(void)state;
	static uint32_t ran;
	mrt_g *gp;
	ran = 0;
	assert_int_equal(mrt_malg(&gp, 16 << 10), 0);
	assert_int_equal(mrt_gostart(gp, count_run, &ran), 0);
	assert_int_equal(mrt_gfree(gp), 0);
	assert_int_equal(mrt_gogo(gp), -EINVAL);
	assert_int_equal(ran, 0);
	assert_int_equal(mrt_gstatus(gp), 0);
}

/* Non-literal formats on purpose: NULL and malformed ones. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-security"
static void test_output_calls(void **state)
{
	(void)state;
	char buf[16];
	const char *volatile nofmt = NULL; /* hidden from -Wformat */
	assert_int_equal(mrt_printf(nofmt), -EINVAL);
	assert_int_equal(mrt_dprintf(2, nofmt), -EINVAL);
	assert_int_equal(mrt_dprintf(-1, "x"), -EBADF);
	assert_int_equal(mrt_dprintf(INT_MIN, "x"), -EBADF);
	assert_int_equal(mrt_dprintf(INT_MAX, "x"), -EBADF); /* the kernel's answer */
	assert_int_equal(mrt_snprintf(buf, sizeof buf, nofmt), -EINVAL);
	assert_int_equal(mrt_snprintf(NULL, 1, "x"), -EINVAL);
	assert_int_equal(mrt_snprintf(NULL, 0, "%d", 123), 3);
	buf[0] = 'z';
	assert_int_equal(mrt_snprintf(buf, 0, "abc"), 3);
	assert_int_equal(buf[0], 'z'); /* nothing written */
	/* Unknown and truncated verbs are printed as written. */
	const char *volatile oddfmt = "%q%"; /* hidden from -Wformat */
	assert_int_equal(mrt_snprintf(buf, sizeof buf, oddfmt), 2);
	assert_string_equal(buf, "%q");
	/* A huge width neither overflows nor pads for seconds: it saturates. */
	const char *volatile wide = "%99999999999999d", *volatile wider = "%-2147483648s|";
	assert_int_equal(mrt_snprintf(NULL, 0, wide, 1), 4096);
	assert_int_equal(mrt_snprintf(buf, sizeof buf, wider, "x"), 4097);
	assert_non_null(mrt_strerror(INT_MIN));
	assert_non_null(mrt_strerror(INT_MAX));
	assert_string_equal(mrt_strerror(INT_MIN), "unknown error");
	assert_non_null(mrt_errmsg());
	assert_non_null(mrt_threadmodel());
}
#pragma GCC diagnostic pop

/* The same from an M (freestanding code: mrt's API only). */
static int mres[24];
static void bad_on_m(void *arg)
{
	(void)arg;
	int k = 0;
	mrt_g *gp;
	mres[k++] = mrt_join(mrt_mid()) == -EDEADLK;
	mres[k++] = mrt_newm(NULL, NULL, NULL) == -EINVAL;
	mres[k++] = mrt_malg(NULL, 1) == -EINVAL;
	mres[k++] = mrt_malg(&gp, 0) == -EINVAL;
	mres[k++] = mrt_gogo(NULL) == -EINVAL;
	mres[k++] = mrt_gogo(MISALIGNED(mrt_g *)) == -EINVAL;
	mres[k++] = mrt_mcall(noopg, NULL) == -EPERM;
	mres[k++] = mrt_systemstack(NULL, NULL) == -EINVAL;
	mres[k++] = mrt_mlocal(-5) == NULL;
	mres[k++] = mrt_signalm(mrt_mid(), 0) == -EINVAL;
	mres[k++] = mrt_mstats(NULL) == -EINVAL;
	mres[k++] = mrt_forallm(NULL, NULL) == -EINVAL;
	mres[k++] = mrt_execunlock() == -EPERM;
	mres[k++] = mrt_gfree(mrt_getg0()) == -EINVAL;
	/* Another M's g0 cannot be switched to. */
	mres[k++] = mrt_gogo(&m0.g0_) == -EINVAL;
	mres[k++] = mrt_dprintf(-3, "x") == -EBADF;
	mres[k++] = 1; /* reached the end */
}

static void test_calls_on_an_m(void **state)
{
	(void)state;
	memset(mres, 0, sizeof mres);
	assert_int_equal(mrt_join(must_newm(bad_on_m, NULL)), 0);
	for (int i = 0; i < 17; i++) {
		if (!mres[i]) {
			print_error("check %d on the M failed\n", i);
			fail();
		}
	}
}

/*
 * #11 item 9: on a user g of an M, switching to the g itself is -EBUSY (it
 * is running), and mrt_mexit inside mrt_systemstack is -EINVAL, as
 * mrt_stopm there is: the M would end with the g it runs above that
 * systemstack call left running for good, never to be freed.
 */
static struct {
	int gogoself, mexit, stopm, end;
	mrt_g *g;
} ong;

static void mexit_in_systemstack(void *arg)
{
	(void)arg;
	ong.mexit = mrt_mexit();
	ong.stopm = mrt_stopm();
}

static void on_user_g(void *arg)
{
	(void)arg;
	ong.gogoself = mrt_gogo(mrt_getg());
	mrt_systemstack(mexit_in_systemstack, NULL);
	ong.end = 1;
}

static void run_user_g(void *arg)
{
	(void)arg;
	if (mrt_malg(&ong.g, 64 << 10) == 0 && mrt_gostart(ong.g, on_user_g, NULL) == 0)
		mrt_gogo(ong.g);
}

static void test_wrong_state_on_a_user_g(void **state)
{
	(void)state;
	memset(&ong, 0, sizeof ong);
	ong.mexit = ong.stopm = ong.gogoself = 1;
	assert_int_equal(mrt_join(must_newm(run_user_g, NULL)), 0);
	assert_non_null(ong.g);
	assert_int_equal(ong.gogoself, -EBUSY);
	assert_int_equal(ong.stopm, -EINVAL);
	assert_int_equal(ong.mexit, -EINVAL);
	assert_int_equal(ong.end, 1); /* the g ran on after the refusals */
	assert_int_equal(mrt_gstatus(ong.g), MRT_G_DEAD);
	assert_int_equal(mrt_gfree(ong.g), 0);
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
		MRT_TEST(test_init_and_limits),
		MRT_TEST(test_m_calls),
		MRT_TEST(test_g_calls),
		MRT_TEST(test_gogo_of_a_freed_g),
		MRT_TEST(test_output_calls),
		MRT_TEST(test_calls_on_an_m),
		MRT_TEST(test_wrong_state_on_a_user_g),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
