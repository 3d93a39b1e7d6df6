/*
 * test_signal.c — signals and Ms: a signal aimed at one M runs on that M's
 * gsignal stack; a new M starts with the init mask whatever its creator's
 * mask is; and signals that hit an M while it is being born or is dying find
 * a valid g and a stack that is still its own.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* What the SIGUSR1 handler saw. M-safe: reads TLS and its own frame. */
static struct seen {
	int64_t mid;
	int32_t tid;
	uintptr_t sp;
	uint32_t n;
} seen;

static void usr1(int sig)
{
	(void)sig;
	seen.sp = (uintptr_t)__builtin_frame_address(0);
	seen.mid = mrt_mid();
	seen.tid = mrt_gettid();
	ev_add(&seen.n, 1);
}

struct bounds {
	int64_t id;
	uintptr_t g0lo, g0hi, gslo, gshi;
	int32_t tid;
};

static int getbounds(const struct mrt_minfo *info, void *arg)
{
	struct bounds *b = arg;
	if (info->id == b->id) {
		b->g0lo = info->g0_lo, b->g0hi = info->g0_hi;
		b->gslo = info->gsignal_lo, b->gshi = info->gsignal_hi;
		b->tid = info->tid;
	}
	return 0;
}

static void test_signalm_runs_on_that_ms_gsignal(void **state)
{
	(void)state;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, &old);

	enum { N = 4 };
	int64_t ids[N];
	for (int i = 0; i < N; i++)
		ids[i] = must_newm(fn_park, NULL);
	wait_idle(N);
	memset(&seen, 0, sizeof seen);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			struct bounds b = { .id = ids[i] };
			mrt_forallm(getbounds, &b);
			uint32_t before = ev_get(&seen.n);
			assert_int_equal(mrt_signalm(ids[i], SIGUSR1), 0);
			ev_wait(&seen.n, before + 1);
			assert_int_equal(seen.mid, ids[i]);
			assert_int_equal(seen.tid, b.tid);
			if (!(seen.sp >= b.gslo && seen.sp < b.gshi)) {
				print_error("handler sp %#lx outside M%lld's gsignal [%#lx, %#lx)\n",
				            (unsigned long)seen.sp, (long long)ids[i],
				            (unsigned long)b.gslo, (unsigned long)b.gshi);
				fail();
			}
		}
	}
	assert_int_equal(mrt_signalm(1 << 30, SIGUSR1), -ESRCH);
	assert_int_equal(mrt_signalm(ids[0], 0), -EINVAL);
	assert_int_equal(mrt_signalm(ids[0], 65), -EINVAL);
	assert_int_equal(mrt_signalm(-1, SIGUSR1), -EINVAL);
	stop_idle_ms();
	sigaction(SIGUSR1, &old, NULL);
}

/* ------------------------------------------------------------------------ */

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

/* setup blocked SIGWINCH before mrt_init: the init mask has it. The creating
 * thread then changes its own mask; the new M still gets the init mask. */
static void test_new_m_has_init_mask(void **state)
{
	(void)state;
	sigset_t s, saved;
	sigemptyset(&s);
	sigaddset(&s, SIGWINCH);
	pthread_sigmask(SIG_UNBLOCK, &s, &saved);
	sigemptyset(&s);
	sigaddset(&s, SIGURG);
	pthread_sigmask(SIG_BLOCK, &s, NULL);

	int64_t id = must_newm(fn_park, NULL);
	wait_idle(1);
	uint64_t mask = thread_sigblk(tid_of(id));
	assert_int_equal(mask, (uint64_t)cfg.initsigmask);
	assert_true(mask & bit(SIGWINCH));
	assert_false(mask & bit(SIGURG));
	assert_int_not_equal(thread_sigblk(mrt_gettid()), mask); /* the creator's differs */

	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	stop_idle_ms();
}

/* ------------------------------------------------------------------------ */

/*
 * Signals at birth and death. Each M, as soon as clone returns its tid, is
 * sent SIGUSR2 several times, and so is every M as it exits (the M itself
 * triggers it from its last line of code), while a reaper frees stacks as
 * fast as freeWait allows. The handler checks that the thread it interrupts
 * is an M with a valid g, and that it runs on that M's g0 or gsignal — which
 * a stack freed too early, or a thread pointer set too late, would break.
 */
static uint32_t handled, bad, stop;

static void usr2(int sig)
{
	(void)sig;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	m *mp = getm();
	g *gp = getg();
	if (mp == NULL || gp == NULL || mp == &m0) {
		__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
		return;
	}
	bool ong0 = sp >= mp->g0->stack.lo && sp < mp->g0->stack.hi;
	bool ongs = sp >= mp->gsignal->stack.lo && sp < mp->gsignal->stack.hi;
	if (!ong0 && !ongs)
		__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);
}

static void kick_self_at_exit(void *arg)
{
	(void)arg;
	/* The last thing the M does before it leaves: queue signals at itself
	 * from the outside world's view (tgkill), then exit while they land. */
	long pid = arch_syscall0(SYS_getpid);
	for (int i = 0; i < 3; i++)
		arch_syscall3(SYS_tgkill, pid, mrt_gettid(), SIGUSR2);
}

static void *reap_loop(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		mrt_reap();
	return NULL;
}

static void test_signals_at_birth_and_death(void **state)
{
	(void)state;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = usr2;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, &old);
	handled = bad = stop = 0;
	pthread_t r;
	pthread_create(&r, NULL, reap_loop, NULL);

	int n = quick ? 200 : 1000;
	pid_t pid = getpid();
	for (int i = 0; i < n; i++) {
		int64_t id = must_newm(kick_self_at_exit, NULL);
		int32_t tid = tid_of(id); /* 0 if it already exited */
		for (int k = 0; tid > 0 && k < 3; k++)
			syscall(SYS_tgkill, pid, tid, SIGUSR2);
	}
	wait_only_m0();
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(r, NULL);
	sigaction(SIGUSR2, &old, NULL);
	assert_true(handled > 0);
	assert_int_equal(bad, 0);
}

static int setup(void **state)
{
	(void)state;
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGWINCH);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	return mrt_init(NULL);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		MRT_TEST(test_signalm_runs_on_that_ms_gsignal),
		MRT_TEST(test_new_m_has_init_mask),
		MRT_TEST(test_signals_at_birth_and_death),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
