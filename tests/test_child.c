/*
 * test_child.c — cases that need a process of their own: the ones expected
 * to die (asserting the signal and mrt's message), the ones with their own
 * configuration, and calls made before mrt_init. This binary never calls
 * mrt_init itself; each case runs in a fresh fork.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* The id counter's overflow is a broken invariant: fatal, naming the M. */
static void child_id_overflow(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	lock(&sched.lock);
	sched.mnext = INT64_MAX;
	unlock(&sched.lock);
	mrt_newm(fn_exit, NULL, NULL);
	mrt_dprintf(2, "survived id overflow\n");
}

static void test_id_overflow_is_fatal(void **state)
{
	(void)state;
	struct child c;
	run_child(child_id_overflow, 30, &c);
	assert_child_signal(&c, SIGABRT, "mrt: fatal: runtime: thread ID overflow (M0, tid ");
}

/* ------------------------------------------------------------------------ */

/*
 * Overflowing a stack dies with SIGSEGV on its guard page. The child's
 * SIGSEGV handler (on the M's gsignal stack) checks that the fault address
 * lies in the page just below the stack, says so, and lets the default
 * action kill the process.
 */
static uintptr_t guard_lo, guard_hi;
static size_t guard_size; /* the kernel's page: read on the main thread */

static void segv_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	uintptr_t a = (uintptr_t)si->si_addr;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	m *mp = getm();
	bool onsig = mp != nil && sp >= mp->gsignal->stack.lo && sp < mp->gsignal->stack.hi;
	if (a >= guard_lo && a < guard_hi && onsig)
		mrt_dprintf(2, "guard page hit at %p on M%lld's gsignal\n", (void *)a,
		            (long long)mp->id);
	else
		mrt_dprintf(2, "fault at %p outside guard [%p, %p) onsig=%d\n", (void *)a,
		            (void *)guard_lo, (void *)guard_hi, (int)onsig);
	sig_default(sig); /* the retried access then kills the process */
}

static void install_segv(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = segv_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigaction(SIGSEGV, &sa, NULL);
}

/* Deliberately unbounded: it ends on the guard page. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(int n)
{
	volatile char buf[256];
	buf[0] = (char)n;
	return recurse(n + 1) + buf[0];
}
#pragma GCC diagnostic pop

static void overflow_g0(void *arg)
{
	(void)arg;
	m *mp = getm();
	guard_hi = mp->g0->stack.lo;
	guard_lo = guard_hi - guard_size;
	recurse(0);
}

static void child_g0_overflow(void)
{
	guard_size = kernel_pagesize();
	CHILD_CHECK(mrt_init(NULL) == 0);
	install_segv();
	int64_t id = mrt_newm(overflow_g0, NULL, NULL);
	CHILD_CHECK(id > 0);
	mrt_join(id);
	mrt_dprintf(2, "survived g0 overflow\n");
}

static void test_g0_overflow_hits_guard_page(void **state)
{
	(void)state;
	struct child c;
	run_child(child_g0_overflow, 30, &c);
	assert_child_signal(&c, SIGSEGV, "guard page hit at");
}

static mrt_g *ovg;

static void overflow_g(void *arg)
{
	(void)arg;
	recurse(0);
}

static void child_g_overflow(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	install_segv();
	CHILD_CHECK(mrt_malg(&ovg, 64 << 10) == 0);
	guard_hi = ovg->stack.lo;
	guard_lo = guard_hi - kernel_pagesize();
	CHILD_CHECK(mrt_gostart(ovg, overflow_g, NULL) == 0);
	mrt_gogo(ovg);
	mrt_dprintf(2, "survived g overflow\n");
}

static void test_user_g_overflow_hits_guard_page(void **state)
{
	(void)state;
	struct child c;
	run_child(child_g_overflow, 30, &c);
	assert_child_signal(&c, SIGSEGV, "guard page hit at");
}

/* ------------------------------------------------------------------------ */

/* A made context whose entry returns is a fatal error with a message, not a
 * jump into garbage. */
static void *entry_ctx, *back_ctx;
static void returning_entry(void *arg)
{
	(void)arg;
}

static void child_entry_returns(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	static char stk[64 << 10] __attribute__((aligned(16)));
	entry_ctx = ctx_make(stk + sizeof stk, returning_entry, NULL);
	ctx_switch(&back_ctx, entry_ctx);
	mrt_dprintf(2, "survived a returning entry\n");
}

static void test_context_entry_return_is_fatal(void **state)
{
	(void)state;
	struct child c;
	run_child(child_entry_returns, 30, &c);
	assert_child_signal(&c, SIGABRT, "mrt: fatal: a context's entry function returned");
}

/* ------------------------------------------------------------------------ */

/* Idle Ms retire after idle_ns when the configuration asks for it. */
static void child_idle_retire(void)
{
	struct mrt_config cfgv = CFG(.idle_ns = 20 * 1000000);
	CHILD_CHECK(mrt_init(&cfgv) == 0);
	int64_t id = mrt_newm(fn_park, NULL, NULL);
	CHILD_CHECK(id > 0);
	CHILD_CHECK(mrt_join(id) == 0); /* returns once it has retired */
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 1 && st.idle == 0 && st.freed == 1);
}

static void test_idle_m_retires(void **state)
{
	(void)state;
	struct child c;
	run_child(child_idle_retire, 30, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------ */

/* Before mrt_init every call is refused or harmless, never a crash; bad
 * configurations are refused; a second init is -EBUSY and keeps the first. */
static void noop(void *arg)
{
	(void)arg;
}
static void noopg(mrt_g *gp, void *arg)
{
	(void)gp, (void)arg;
}

static void child_before_init(void)
{
	mrt_g *gp = NULL;
	struct mrt_mstats st;
	CHILD_CHECK(mrt_newm(noop, NULL, NULL) == -EINVAL);
	CHILD_CHECK(mrt_startm(noop, NULL, NULL) == -EINVAL);
	CHILD_CHECK(mrt_stopm() == -EPERM);
	CHILD_CHECK(mrt_mexit() == -EPERM);
	CHILD_CHECK(mrt_join(1) == -EINVAL);
	CHILD_CHECK(mrt_reap() == -EINVAL);
	CHILD_CHECK(mrt_trim() == -EINVAL);
	CHILD_CHECK(mrt_malg(&gp, 65536) == -EINVAL && gp == NULL);
	CHILD_CHECK(mrt_gogo(NULL) == -EPERM);
	CHILD_CHECK(mrt_mcall(noopg, NULL) == -EPERM);
	CHILD_CHECK(mrt_systemstack(noop, NULL) == -EPERM);
	CHILD_CHECK(mrt_mid() == -1);
	CHILD_CHECK(mrt_getp() == NULL && mrt_setp(NULL) == -EPERM);
	CHILD_CHECK(mrt_mlocal(0) == NULL);
	CHILD_CHECK(mrt_getg() == NULL && mrt_getm() == NULL && mrt_getg0() == NULL);
	CHILD_CHECK(mrt_signalm(1, SIGUSR1) == -EINVAL);
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.live == 0);
	CHILD_CHECK(mrt_forallm(NULL, NULL) == -EINVAL);

	struct mrt_config bad[] = {
		CFG(.g0_stack = 4096),
		CFG(.g0_stack = (size_t)2 << 30),
		CFG(.gsignal_stack = 1024),
		CFG(.max_threads = -1),
		CFG(.idle_ns = -5),
		CFG(.flags = 0x80000000u),
		{ .max_threads = 77 }, /* no size */
		/* Smaller than the first version's struct (which ends with
		 * thread_name): no caller's header was ever that small. */
		{ .size = offsetof(struct mrt_config, thread_name), .max_threads = 77 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHILD_CHECK(mrt_init(&bad[i]) == -EINVAL);

	/* Built against a newer header: fields this mrt does not know must be
	 * zero, or it cannot do what is asked. */
	struct {
		struct mrt_config c;
		uint64_t newer;
	} good = { .c = CFG(.max_threads = 77), .newer = 1 };
	good.c.size = sizeof good;
	CHILD_CHECK(mrt_init(&good.c) == -E2BIG);
	good.newer = 0;
	CHILD_CHECK(mrt_init(&good.c) == 0);
	CHILD_CHECK(mrt_init(NULL) == -EBUSY);
	CHILD_CHECK(mrt_setmaxthreads(5) == 77); /* the first config is in force */
	CHILD_CHECK(mrt_mid() == 0);
	CHILD_CHECK(mrt_getg() == mrt_getg0() && mrt_getg() != NULL);
}

static void test_calls_before_init_and_double_init(void **state)
{
	(void)state;
	struct child c;
	run_child(child_before_init, 30, &c);
	assert_child_ok(&c);
}

/* #11 item 9: every call that needs mrt refuses before mrt_init, the
 * limit's setter too: it used to succeed and its value was lost. */
static void child_setmaxthreads_before_init(void)
{
	CHILD_CHECK(mrt_setmaxthreads(5) == -EINVAL);
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_setmaxthreads(5) == 10000);
}

static void test_setmaxthreads_before_init_is_refused(void **state)
{
	(void)state;
	struct child c;
	run_child(child_setmaxthreads_before_init, 30, &c);
	assert_child_ok(&c);
}

/* #11 item 10: mrt_forallm before mrt_init is -EINVAL, as the other calls
 * are (there is no allm to walk), and calls nothing. */
static int count_walk(const struct mrt_minfo *mi, void *arg)
{
	(void)mi;
	(*(int *)arg)++;
	return 0;
}

static void child_forallm_before_init(void)
{
	int n = 0;
	CHILD_CHECK(mrt_forallm(count_walk, &n) == -EINVAL && n == 0);
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_forallm(count_walk, &n) == 0 && n == 1);
}

static void test_forallm_before_init_is_refused(void **state)
{
	(void)state;
	struct child c;
	run_child(child_forallm_before_init, 30, &c);
	assert_child_ok(&c);
}

/* #11 item 10 (the words fixed, mrt.h): a second mrt_init checks its
 * configuration first, as the first does — a bad one is -EINVAL (a newer
 * header's unknown fields -E2BIG) — and only a good one gets -EBUSY; the
 * first configuration stays in force either way. */
static void child_second_init_bad_config(void)
{
	struct mrt_config first = CFG(.max_threads = 77);
	CHILD_CHECK(mrt_init(&first) == 0);
	struct mrt_config bad[] = {
		CFG(.g0_stack = 4096),
		CFG(.max_threads = -1),
		CFG(.flags = 0x80000000u),
		{ .max_threads = 77 }, /* no size */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHILD_CHECK(mrt_init(&bad[i]) == -EINVAL);
	struct {
		struct mrt_config c;
		uint64_t newer;
	} newer = { .c = CFG(.max_threads = 5), .newer = 1 };
	newer.c.size = sizeof newer;
	CHILD_CHECK(mrt_init(&newer.c) == -E2BIG);
	CHILD_CHECK(mrt_init(&first) == -EBUSY);
	CHILD_CHECK(mrt_init(NULL) == -EBUSY);
	CHILD_CHECK(mrt_setmaxthreads(5) == 77);
}

static void test_second_init_checks_its_config_first(void **state)
{
	(void)state;
	struct child c;
	run_child(child_second_init_bad_config, 30, &c);
	assert_child_ok(&c);
}

/*
 * #11 item 9: an idle time near INT64_MAX must not overflow the parked M's
 * deadline (which then lies in the past: the first wakeup of its sleep — a
 * signal's EINTR — retired the M at once). The M is signalled while it is
 * asleep in its park; once the handler has run, the M either sleeps again
 * (right) or retires (wrong), and which it did is seen in the thread's
 * state: asleep again, still idle, and still the M mrt_startm hands work to.
 */
static uint32_t idle_handled;
static void idle_usr1(int sig)
{
	(void)sig;
	ev_add(&idle_handled, 1);
}

static void idle_work(void *arg)
{
	__atomic_store_n((int64_t *)arg, mrt_mid(), __ATOMIC_RELEASE);
	mrt_stopm(); /* and park again */
}

static void child_idle_max(void)
{
	struct mrt_config c = CFG(.idle_ns = INT64_MAX);
	CHILD_CHECK(mrt_init(&c) == 0);
	catch_signal(SIGUSR1, idle_usr1, NULL);
	int64_t id = mrt_newm(fn_park, NULL, NULL);
	CHILD_CHECK(id > 0);
	struct mrt_mstats st;
	do
		CHILD_CHECK(mrt_mstats(&st) == 0);
	while (st.idle != 1);
	int32_t tid = tid_of(id);
	CHILD_CHECK(tid > 0);
	while (thread_state(tid) != 'S') /* in its timed park */
		sched_yield();
	CHILD_CHECK(mrt_signalm(id, SIGUSR1) == 0);
	while (ev_get(&idle_handled) == 0)
		sched_yield();
	/* The handler has returned or is returning: the M now sleeps again or
	 * ends. No lock of mrt's is taken here meanwhile, so a sleeping M is
	 * asleep in its park. */
	while (thread_exists(tid) && thread_state(tid) != 'S')
		sched_yield();
	CHILD_CHECK(mrt_mstats(&st) == 0);
	CHILD_CHECK(st.idle == 1 && st.live == 2);
	int64_t ran = -1;
	CHILD_CHECK(mrt_startm(idle_work, &ran, NULL) == id);
	do
		CHILD_CHECK(mrt_mstats(&st) == 0);
	while (st.idle != 1);
	CHILD_CHECK(__atomic_load_n(&ran, __ATOMIC_ACQUIRE) == id);
}

static void test_huge_idle_time_does_not_overflow(void **state)
{
	(void)state;
	if (MRT_TSAN) {
		print_message("ThreadSanitizer runs the handler only at the M's next "
		              "intercepted libc call: a parked M makes none\n");
		skip();
	}
	struct child c;
	run_child(child_idle_max, 60, &c);
	assert_child_ok(&c);
}

/* mrt_init with odd but valid sizes rounds them up to the kernel's pages
 * (with 64 KiB pages, 32 KiB + 3 is one page). */
static void child_odd_config(void)
{
	struct mrt_config c = CFG(.g0_stack = (64 << 10) + 1, .gsignal_stack = (32 << 10) + 3,
	                          .max_threads = 3, .stack_cache = UINT32_MAX);
	size_t ps = kernel_pagesize();
	CHILD_CHECK(mrt_init(&c) == 0);
	CHILD_CHECK(cfg.g0stack == round_up((64 << 10) + 1, ps));
	CHILD_CHECK(cfg.gsignalstack == round_up((32 << 10) + 3, ps));
	int64_t a = mrt_newm(fn_park, NULL, NULL), b = mrt_newm(fn_park, NULL, NULL);
	CHILD_CHECK(a > 0 && b > 0);
	CHILD_CHECK(mrt_newm(fn_exit, NULL, NULL) == -EAGAIN); /* 3 with m0 */
}

static void test_odd_config_is_rounded(void **state)
{
	(void)state;
	struct child c;
	run_child(child_odd_config, 30, &c);
	assert_child_ok(&c);
}

/*
 * #11 item 8: where no M's TLS block can reach mrt_tls, mrt_init refuses
 * with -ERANGE and mrt_errmsg says why — 2 GiB from the thread pointer (a
 * program with that much static TLS), or inside the thread control block —
 * and leaves nothing behind: mrt_init with the offset as measured then
 * succeeds. Offsets no real program here has, so the test hook supplies them.
 */
static void child_tls_out_of_reach(void)
{
	mrt_test_tlsoff(true, -((intptr_t)2 << 30));
	CHILD_CHECK(mrt_init(NULL) == -ERANGE);
	CHILD_CHECK(strstr(mrt_errmsg(), "mrt_tls is at offset -2147483648 from the thread "
	                                 "pointer: beyond the 1 GiB") != NULL);
	mrt_test_tlsoff(true, (intptr_t)2 << 30);
	CHILD_CHECK(mrt_init(NULL) == -ERANGE);
	CHILD_CHECK(strstr(mrt_errmsg(), "at offset 2147483648 from the thread pointer: "
	                                 "beyond") != NULL);
	mrt_test_tlsoff(true, -8);
	CHILD_CHECK(mrt_init(NULL) == -ERANGE);
	CHILD_CHECK(strstr(mrt_errmsg(), "at offset -8 from the thread pointer: inside the "
	                                 "thread control block") != NULL);
	CHILD_CHECK(strcmp(mrt_strerror(-ERANGE), "ERANGE (out of range)") == 0);
	mrt_test_tlsoff(false, 0);
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_join(mrt_newm(fn_exit, NULL, NULL)) == 0);
}

static void test_tls_out_of_reach_is_erange(void **state)
{
	(void)state;
	if (pthread_model()) {
		print_message("pthread model: libc makes every M's TLS; mrt builds none\n");
		skip();
	}
	struct child c;
	run_child(child_tls_out_of_reach, 30, &c);
	assert_child_ok(&c);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_overflow_is_fatal),
		cmocka_unit_test(test_g0_overflow_hits_guard_page),
		cmocka_unit_test(test_user_g_overflow_hits_guard_page),
		cmocka_unit_test(test_context_entry_return_is_fatal),
		cmocka_unit_test(test_idle_m_retires),
		cmocka_unit_test(test_calls_before_init_and_double_init),
		cmocka_unit_test(test_odd_config_is_rounded),
		cmocka_unit_test(test_tls_out_of_reach_is_erange),
		cmocka_unit_test(test_setmaxthreads_before_init_is_refused),
		cmocka_unit_test(test_forallm_before_init_is_refused),
		cmocka_unit_test(test_second_init_checks_its_config_first),
		cmocka_unit_test(test_huge_idle_time_does_not_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
