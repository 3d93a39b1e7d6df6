/*
 * test_clock.c — mrt_nanotime through the vDSO (#15 item 1): its values
 * agree with the clock_gettime system call's and never go back, on every
 * kind of thread and stack an M has; the vDSO's code runs on a system stack
 * (g0, gsignal, a libc thread's own), never on a user g's, whose owner may
 * have left it little room; how much stack the vDSO takes is measured.
 * Where the kernel maps no vDSO (QEMU user mode) the fallback, the system
 * call, is what runs, and the suite says so; natively the fallback is run
 * too, forced by a test hook. That the vDSO path makes no system call is
 * shown by tests/clock_strace.py, under strace.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include "sys_linux.h"

struct kts {
	int64_t sec, nsec;
};

/* clock_gettime(2), raw: M-safe. */
static int64_t sysnow(void)
{
	struct kts t;
	arch_syscall6(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&t, 0, 0, 0, 0);
	return t.sec * 1000000000 + t.nsec;
}

/* n rounds of system call, mrt_nanotime, system call: the middle one lies
 * between the other two, and mrt_nanotime never goes back. 0, or the
 * first round that broke it. M-safe. */
static int agree(int n)
{
	int64_t last = 0;
	for (int i = 1; i <= n; i++) {
		int64_t a = sysnow();
		int64_t t = mrt_nanotime();
		int64_t b = sysnow();
		if (t < a || t > b || t < last)
			return i;
		last = t;
	}
	return 0;
}

enum { rounds = 2000 };

/* ThreadSanitizer runs an asynchronous signal's handler late, at the
 * thread's next libc call and on whatever stack runs then (test_signal.c):
 * the checks inside a handler are skipped there. */
#if MRT_TSAN
static const bool handlers_checked = false;
#else
static const bool handlers_checked = true;
#endif

/* Where each check ran, and what it found. */
struct where {
	int gres, m0gres;       /* agree() on a user g on an M, on m0 */
	int mres, sigres;       /* on an M's g0, in a handler on its gsignal */
	uint32_t done, handled;
};
static struct where w;
static mrt_g *wg;

static void g_agree(void *arg)
{
	*(int *)arg = agree(rounds);
}

static void on_usr2(int sig)
{
	(void)sig;
	w.sigres = agree(rounds / 10);
	ev_add(&w.handled, 1);
}

/* On an M: on g0, on a user g, and in a handler on gsignal that
 * interrupted the user g. */
static void m_agree(void *arg)
{
	(void)arg;
	w.mres = agree(rounds);
	mrt_gostart(wg, g_agree, &w.gres);
	mrt_gogo(wg);
	if (handlers_checked) {
		signal_tid(mrt_gettid(), SIGUSR2);
		ev_block(&w.handled, 1);
	} else {
		w.sigres = 0;
	}
	ev_add(&w.done, 1);
}

static void *pthread_agree(void *arg)
{
	*(int *)arg = agree(rounds);
	return NULL;
}

static void check_everywhere(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	memset(&w, 0, sizeof w);
	w.gres = w.m0gres = w.mres = w.sigres = -1;
	assert_int_equal(agree(rounds), 0); /* m0, on its own stack */
	assert_int_equal(mrt_malg(&wg, 16 << 10), 0);
	assert_int_equal(mrt_gostart(wg, g_agree, &w.m0gres), 0);
	assert_int_equal(mrt_gogo(wg), 0); /* a user g on m0 */
	assert_int_equal(w.m0gres, 0);
	int64_t id = must_newm(m_agree, NULL);
	ev_wait(&w.done, 1);
	assert_int_equal(mrt_join(id), 0);
	assert_int_equal(w.mres, 0);
	assert_int_equal(w.gres, 0);
	assert_int_equal(w.sigres, 0);
	int pres = -1;
	pthread_t t;
	pthread_create(&t, NULL, pthread_agree, &pres);
	pthread_join(t, NULL);
	assert_int_equal(pres, 0); /* a thread that is not an M */
	mrt_gfree(wg);
	signal(SIGUSR2, SIG_DFL);
}

static void test_nanotime_agrees_with_the_system_call(void **state)
{
	(void)state;
	if (mrt_test_vdsoclock() == NULL)
		print_message("no vDSO here (%s): mrt_nanotime makes the clock_gettime system "
		              "call, and that fallback is what these checks hold\n",
		              emulated ? "QEMU user mode maps none" : "AT_SYSINFO_EHDR is 0");
	else
		print_message("the vDSO's %s@%s is at %p\n", ARCH_VDSO_CLOCK_GETTIME,
		              ARCH_VDSO_VERSION, mrt_test_vdsoclock());
	check_everywhere();
}

static void test_the_fallback_agrees_too(void **state)
{
	(void)state;
	mrt_test_novdso();
	check_everywhere();
	mrt_test_setvdsoclock(NULL);
}

/*
 * How much stack the vDSO's clock_gettime takes: run on a stack filled with
 * a pattern, for each clock it serves, the lowest byte changed is the
 * deepest use (the calling frame included). mrt runs it only on system
 * stacks (oscallstack in core/runtime.h): g0 or gsignal, at least 16 KiB
 * each, or a libc thread's own. It must take no more than a page, the most
 * Go has seen a kernel's take (Go issue 20427: stack probes in a hardened
 * build): a quarter of the smallest stack it may run on.
 */
struct measure {
	int (*fn)(long, struct kts *);
	int res;
};

static void measure_fn(void *arg)
{
	struct measure *m = arg;
	static const long clocks[] = { CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME,
		                       CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC_RAW };
	struct kts t;
	m->res = 0;
	for (size_t i = 0; i < countof(clocks); i++)
		m->res |= m->fn(clocks[i], &t);
}

static void test_vdso_stack_use_is_measured(void **state)
{
	(void)state;
	void *fn = mrt_test_vdsoclock();
	if (fn == NULL) {
		print_message("no vDSO here: nothing to measure (the system call runs on the "
		              "kernel's stack)\n");
		return;
	}
	size_t n = 64 << 10;
	uint8_t *s = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(s != MAP_FAILED);
	memset(s, 0xa5, n);
	struct measure m = { (int (*)(long, struct kts *))fn, -1 };
	valgrind_mem_in_use((uintptr_t)s, (uintptr_t)s + n);
	ctx_call_on(s + n, measure_fn, &m);
	assert_int_equal(m.res, 0);
	size_t low = 0;
	while (low < n && s[low] == 0xa5)
		low++;
	size_t used = n - low;
	print_message("the vDSO's clock_gettime took %zu bytes of stack, its caller's frame "
	              "included\n", used);
	assert_true(used > 0);
	assert_true(used <= 4096);
	munmap(s, n);
}

/*
 * A user g whose stack is nearly spent calls mrt_nanotime, whose vDSO code
 * (a stand-in here, that takes 8 KiB of stack, as a hardened kernel's
 * might) must run on g0: on the g's own stack it would fault on the guard
 * page. There the stand-in sends its thread a signal, whose handler (on
 * gsignal) calls mrt_nanotime again: that call must stay on gsignal, not
 * move onto g0, where the call it interrupted is running (the stand-in
 * checks its frame is intact). The stand-in records where each ran; and a
 * call on g0 runs on g0. In a child: a regression is a SIGSEGV or a check.
 */
static uintptr_t standin_at[2];
static uint32_t standin_depth;
static bool standin_nest, standin_intact;

static int standin(long clock, struct kts *t)
{
	volatile char big[8192];
	for (size_t i = 0; i < sizeof big; i += 256)
		big[i] = (char)(i / 256 + 1);
	uint32_t d = __atomic_add_fetch(&standin_depth, 1, __ATOMIC_RELAXED);
	if (d <= 2)
		standin_at[d - 1] = (uintptr_t)&big[0];
	if (d == 1 && standin_nest) {
		standin_nest = false;
		signal_tid(mrt_gettid(), SIGUSR2); /* delivered before tgkill returns */
		bool ok = true;
		for (size_t i = 0; i < sizeof big; i += 256)
			ok &= big[i] == (char)(i / 256 + 1);
		standin_intact = ok;
	}
	__atomic_sub_fetch(&standin_depth, 1, __ATOMIC_RELAXED);
	return (int)arch_syscall6(SYS_clock_gettime, clock, (long)t, 0, 0, 0, 0);
}

static bool within(uintptr_t p, const stack *s)
{
	return p >= s->lo && p < s->hi;
}

struct spent {
	bool on_g0_from_g, on_g0_from_g0, on_gsignal;
	uint32_t handled;
};
static struct spent sp_;

static void spent_usr2(int sig)
{
	(void)sig;
	mrt_nanotime();
	sp_.on_gsignal = within(standin_at[1], &getm()->gsignal->stack);
	ev_add(&sp_.handled, 1);
}

static void spent_g(void *arg)
{
	(void)arg;
	g *gp = getg();
	/* Leave 2 KiB of the g's stack above its guard page. */
	uintptr_t sp = arch_getsp();
	volatile char *low = __builtin_alloca(sp - gp->stack.lo - 2048);
	low[0] = 1;
	standin_nest = handlers_checked;
	mrt_nanotime();
	sp_.on_g0_from_g = within(standin_at[0], &getm()->g0->stack) &&
	                   !within(standin_at[0], &gp->stack);
}

static void spent_m(void *arg)
{
	mrt_g *gp = arg;
	mrt_nanotime();
	sp_.on_g0_from_g0 = within(standin_at[0], &getm()->g0->stack);
	mrt_gostart(gp, spent_g, NULL);
	mrt_gogo(gp);
}

static void child_a_spent_g_reads_the_clock(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = spent_usr2;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	mrt_test_setvdsoclock((void *)standin);
	mrt_g *gp;
	CHILD_CHECK(mrt_malg(&gp, 16 << 10) == 0);
	int64_t id = mrt_newm(spent_m, gp, NULL);
	CHILD_CHECK(id > 0);
	CHILD_CHECK(mrt_join(id) == 0);
	CHILD_CHECK(sp_.on_g0_from_g0);
	CHILD_CHECK(sp_.on_g0_from_g);
	if (handlers_checked) {
		CHILD_CHECK(sp_.handled == 1);
		CHILD_CHECK(sp_.on_gsignal);
		CHILD_CHECK(standin_intact);
	}
}

static void test_a_spent_user_g_reads_the_clock_on_g0(void **state)
{
	(void)state;
	struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_a_spent_g_reads_the_clock, 60, &c);
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
		MRT_TEST(test_nanotime_agrees_with_the_system_call),
		MRT_TEST(test_the_fallback_agrees_too),
		MRT_TEST(test_vdso_stack_use_is_measured),
		MRT_TEST(test_a_spent_user_g_reads_the_clock_on_g0),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
