/*
 * test_cpu.c — mrt_cpu (#15 item 2): the CPU a thread runs on, read from
 * its struct rseq (platform/linux/rseq_linux.c). On m0, on Ms (their g0,
 * a user g, a handler on gsignal) and on a thread that is not an M, pinned
 * to each CPU in turn (sched_setaffinity: libc's on the test's threads, the
 * raw system call on an M), mrt_cpu must say the CPU the pin names and
 * getcpu(2) says; an M moved to another CPU must read the new one. Which
 * struct each thread reads is checked too: glibc's on the threads glibc
 * made, the M's own in its TLS block on a clone-model M, the m's own where
 * glibc registered none (this suite runs a second time, as cpu-glibc-norseq,
 * with GLIBC_TUNABLES=glibc.pthread.rseq=0). Under QEMU user mode, which
 * implements no rseq, and Valgrind, the getcpu fallback is what runs, and
 * the suite says so; natively it is run too, forced by a test hook.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include "sys_linux.h"

#if MRT_TSAN
static const bool handlers_checked = false; /* see test_signal.c */
#else
static const bool handlers_checked = true;
#endif

/* Whether rseq(2) works here: not under QEMU user mode or Valgrind. */
static bool kernel_rseq(void)
{
	return !emulated && !under_valgrind();
}

static bool glibc_rseq(void)
{
	return __rseq_size > 0;
}

/* M-safe: the system call's answer, and a pin of the calling thread. */
static int raw_getcpu(void)
{
	unsigned cpu = 0;
	long r = arch_syscall6(SYS_getcpu, (long)&cpu, 0, 0, 0, 0, 0);
	return r < 0 ? (int)r : (int)cpu;
}

static int raw_pin(int cpu)
{
	uint64_t mask[16] = { 0 };
	mask[cpu / 64] = 1ull << (cpu % 64);
	return (int)arch_syscall6(SYS_sched_setaffinity, 0, sizeof mask, (long)mask, 0, 0, 0);
}

static cpu_set_t allowed;
static int cpus[CPU_SETSIZE], ncpus;

/* Which struct rseq the calling thread's mrt_cpu reads. M-safe. */
enum word { W_NONE, W_GLIBC, W_TLSBLOCK, W_M, W_OTHER };
static const char *const wordname[] = { "none (the getcpu system call)", "glibc's",
	                                "its own in the M's TLS block", "its own in the m",
	                                "unknown" };

static enum word which_word(void)
{
	const volatile int32_t *w = mrt_tlsp_()->cpuid;
	m *mp = getm();
	if (w == NULL || *w < 0)
		return W_NONE;
	if (glibc_rseq() && (uintptr_t)w == (uintptr_t)arch_gettp() + __rseq_offset + 4)
		return W_GLIBC;
	if (mp != NULL && mp->ostls != NULL && (uintptr_t)w == (uintptr_t)mp->ostls + 4)
		return W_TLSBLOCK;
	if (mp != NULL && (uintptr_t)w > (uintptr_t)mp->os.rseqbuf &&
	    (uintptr_t)w < (uintptr_t)mp->os.rseqbuf + sizeof mp->os.rseqbuf)
		return W_M;
	return W_OTHER;
}

/* What a thread of this kind must read. */
static enum word expected_word(bool is_m, bool is_m0)
{
	if (!kernel_rseq())
		return W_NONE;
	bool libcs = !is_m || is_m0 || pthread_model();
	if (libcs && glibc_rseq())
		return W_GLIBC;
	if (!is_m)
		return W_NONE; /* not mrt's to register */
	return is_m0 || pthread_model() ? W_M : W_TLSBLOCK;
}

/* ------------------------------------------------------------------------
 * An M walks every CPU: pinned to each, on g0, on a user g and in a
 * handler on gsignal, mrt_cpu and getcpu both say the pinned CPU.
 * ------------------------------------------------------------------------ */

struct walk {
	int bad_cpu, bad_got, bad_sys; /* the first disagreement, -1 if none */
	enum word word;
	uint32_t handled, done;
	int handler_cpu;
};
static struct walk wk;
static mrt_g *wg;

static void note_bad(int cpu, int got, int sys)
{
	if (wk.bad_cpu < 0) {
		wk.bad_cpu = cpu;
		wk.bad_got = got;
		wk.bad_sys = sys;
	}
}

static void g_check(void *arg)
{
	int cpu = *(int *)arg;
	int got = mrt_cpu(), sys = raw_getcpu();
	if (got != cpu || sys != cpu)
		note_bad(cpu, got, sys);
}

static void on_usr2(int sig)
{
	(void)sig;
	wk.handler_cpu = mrt_cpu();
	ev_add(&wk.handled, 1);
}

static void m_walk(void *arg)
{
	(void)arg;
	for (int i = 0; i < ncpus; i++) {
		int cpu = cpus[i];
		if (raw_pin(cpu) != 0) {
			note_bad(cpu, -1000, -1000);
			break;
		}
		int got = mrt_cpu(), sys = raw_getcpu();
		if (got != cpu || sys != cpu)
			note_bad(cpu, got, sys);
		if (i == 0)
			wk.word = which_word();
		mrt_gostart(wg, g_check, &cpu);
		mrt_gogo(wg);
		if (handlers_checked) {
			uint32_t h = ev_get(&wk.handled);
			signal_tid(mrt_gettid(), SIGUSR2);
			ev_block(&wk.handled, h + 1);
			if (wk.handler_cpu != cpu)
				note_bad(cpu, wk.handler_cpu, -2000);
		}
	}
	ev_add(&wk.done, 1);
}

static void check_an_m_walks_every_cpu(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);
	memset(&wk, 0, sizeof wk);
	wk.bad_cpu = -1;
	assert_int_equal(mrt_malg(&wg, 16 << 10), 0);
	int64_t id = must_newm(m_walk, NULL);
	ev_wait(&wk.done, 1);
	assert_int_equal(mrt_join(id), 0);
	mrt_gfree(wg);
	signal(SIGUSR2, SIG_DFL);
	if (wk.bad_cpu >= 0)
		print_error("pinned to CPU %d: mrt_cpu said %d, getcpu %d\n", wk.bad_cpu, wk.bad_got,
		            wk.bad_sys);
	assert_int_equal(wk.bad_cpu, -1);
	if (!load_relaxed(&testnorseq)) { /* forced: every thread asks getcpu */
		print_message("an M reads %s\n", wordname[wk.word]);
		assert_int_equal(wk.word, expected_word(true, false));
	}
}

/* A fresh M per CPU, started on it (the creating thread is pinned, and a
 * new thread inherits its mask): its very first mrt_cpu registers. */
static int fresh_got, fresh_sys;
static uint32_t fresh_done;

static void m_fresh(void *arg)
{
	(void)arg;
	fresh_got = mrt_cpu();
	fresh_sys = raw_getcpu();
	ev_add(&fresh_done, 1);
}

static void check_fresh_ms_on_every_cpu(void)
{
	for (int i = 0; i < ncpus; i++) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpus[i], &one);
		assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
		fresh_done = 0;
		int64_t id = must_newm(m_fresh, NULL);
		ev_wait(&fresh_done, 1);
		assert_int_equal(mrt_join(id), 0);
		assert_int_equal(fresh_sys, cpus[i]);
		assert_int_equal(fresh_got, cpus[i]);
	}
	assert_int_equal(sched_setaffinity(0, sizeof allowed, &allowed), 0);
}

/* m0 (the test's main thread) and a thread that is not an M. */
static void *nonm_walk(void *arg)
{
	int *bad = arg;
	for (int i = 0; i < ncpus && *bad < 0; i++) {
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(cpus[i], &one);
		if (sched_setaffinity(0, sizeof one, &one) != 0 || mrt_cpu() != cpus[i] ||
		    sched_getcpu() != cpus[i])
			*bad = cpus[i];
	}
	bad[1] = which_word();
	return NULL;
}

static void check_m0_and_a_thread(void)
{
	int bad[2] = { -1, 0 };
	nonm_walk(bad); /* m0 */
	assert_int_equal(sched_setaffinity(0, sizeof allowed, &allowed), 0);
	assert_int_equal(bad[0], -1);
	bool words = !load_relaxed(&testnorseq); /* forced: every thread asks getcpu */
	if (words) {
		print_message("m0 reads %s\n", wordname[bad[1]]);
		assert_int_equal(bad[1], expected_word(true, true));
	}
	bad[0] = -1;
	pthread_t t;
	pthread_create(&t, NULL, nonm_walk, bad);
	pthread_join(t, NULL);
	assert_int_equal(bad[0], -1);
	if (words) {
		print_message("a thread that is not an M reads %s\n", wordname[bad[1]]);
		assert_int_equal(bad[1], expected_word(false, false));
	}
}

static void say_where(void)
{
	if (!kernel_rseq())
		print_message("%s: no rseq(2), so mrt_cpu makes the getcpu system call, and that "
		              "fallback is what these checks hold\n",
		              emulated ? "QEMU user mode" : "Valgrind");
	else if (!glibc_rseq())
		print_message("glibc registered no struct rseq (__rseq_size 0): mrt registers "
		              "its own on m0 and on Ms\n");
}

static void test_cpu_agrees_with_getcpu_on_every_cpu(void **state)
{
	(void)state;
	say_where();
	check_m0_and_a_thread();
	check_an_m_walks_every_cpu();
	check_fresh_ms_on_every_cpu();
}

static void test_the_fallback_agrees_too(void **state)
{
	(void)state;
	mrt_test_norseq(true);
	check_m0_and_a_thread();
	check_an_m_walks_every_cpu();
	check_fresh_ms_on_every_cpu();
	mrt_test_norseq(false);
}

/*
 * The pthread model where glibc registered nothing (cpu-glibc-norseq): an
 * M registers a struct in its m, and its thread outlives the M in libc's
 * exit, while the m may be reaped and serve the next M. So the M must take
 * its registration back as it ends: in a TLS destructor, which libc runs
 * after the M is gone, the thread registers the same struct again, which
 * the kernel refuses (EBUSY) while it is still registered.
 */
static pthread_key_t rg_key;
static long rg_again;
static uint32_t rg_ran;

static void rg_destructor(void *p)
{
	rg_again = syscall(SYS_rseq, p, 32, 0, ARCH_RSEQ_SIG) == 0 ? 0 : -errno;
	if (rg_again == 0)
		syscall(SYS_rseq, p, 32, RSEQ_FLAG_UNREGISTER, ARCH_RSEQ_SIG);
	ev_add(&rg_ran, 1);
}

static void rg_m(void *arg)
{
	(void)arg;
	mrt_cpu();
	const volatile int32_t *w = mrt_tlsp_()->cpuid;
	pthread_setspecific(rg_key, (void *)((uintptr_t)w - 4));
}

static void test_a_pthread_m_gives_its_registration_back(void **state)
{
	(void)state;
	if (!pthread_model() || glibc_rseq() || !kernel_rseq()) {
		print_message("only in the pthread model where glibc registered no struct rseq "
		              "and the kernel has rseq (cpu-glibc-norseq, natively): elsewhere an "
		              "M registers nothing that outlives it\n");
		return;
	}
	assert_int_equal(pthread_key_create(&rg_key, rg_destructor), 0);
	rg_again = 1;
	rg_ran = 0;
	int64_t id = must_newm(rg_m, NULL);
	assert_int_equal(mrt_join(id), 0);
	ev_wait(&rg_ran, 1);
	assert_int_equal(rg_again, 0); /* not -EBUSY: given back */
	pthread_key_delete(rg_key);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(sched_getaffinity(0, sizeof allowed, &allowed), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpus++] = c;
	return mrt_init(NULL);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		MRT_TEST(test_cpu_agrees_with_getcpu_on_every_cpu),
		MRT_TEST(test_the_fallback_agrees_too),
		MRT_TEST(test_a_pthread_m_gives_its_registration_back),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
