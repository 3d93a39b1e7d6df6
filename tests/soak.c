/*
 * soak.c — the churn soak. Four threads create and end Ms as fast as they
 * can (each keeps a few in flight and joins the oldest), while
 *  - a process-wide ITIMER_PROF sends SIGPROF at 1 kHz of CPU time, which
 *    lands on whichever thread is running: Ms (on their gsignal, or on g0
 *    while minit has not installed it yet), the creators, the walker, m0;
 *  - a storm thread sends SIGUSR1 to the newest Ms with mrt_signalm;
 *  - a walker thread walks allm lock-free without pause, checking that every
 *    M it meets is live and well formed.
 * The Ms vary how they live: return, mrt_mexit from g0, run a user g, exit
 * from inside a user g.
 *
 * Pass: no crash, no hang (a watchdog), every lifecycle accounted for, every
 * signal handler found itself on a valid stack with a valid g, the walker
 * never met a recycled or malformed M, resident memory and the mapping count
 * flat after warm-up, and at the end mcount, the pools, the stack cache and
 * the stack mappings exactly accounted for. The figures go to stdout (they
 * are what tests/RELIABILITY.md records).
 *
 *   soak [--lifecycles=N] [--seconds-max=S]    (MRT_SOAK_LIFECYCLES=N wins)
 *
 * CI runs a scaled-down soak (meson test soak); the full run is
 * `build/tests/soak --lifecycles=100000` (see tests/RELIABILITY.md).
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "fixalloc.h"
#include "san.h" /* MRT_ASAN, MRT_TSAN */

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

enum {
	NCREATORS = 4,
	WINDOW = 4, /* Ms in flight per creator */
	NSAMPLES = 20,
};

static long lifecycles = 100000;
static int seconds_max = 600;

/* ------------------------------------------------------------------------
 * Signal handlers: M-safe (atomics, TLS, their own frame).
 * ------------------------------------------------------------------------ */

static struct {
	uint64_t prof_m, prof_m0, prof_other, usr1;
	uint64_t on_g0; /* handled on g0: the M had not installed gsignal yet */
	uint64_t bad;
	uint64_t usr1_sent;
} sigs;

static void count(uint64_t *p)
{
	__atomic_fetch_add(p, 1, __ATOMIC_RELAXED);
}

/* The handler's stack must be the M's gsignal or, before minit has run,
 * its g0; and the g the M is on must be one of its own. */
static void check_stack(void)
{
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	m *mp = getm();
	g *gp = getg();
	if (mp == nil)
		return;
	/* g0 and gsignal belong to their M; a user g records no M (any M
	 * may resume it). */
	if (gp == nil || (gp->kind != G_USER && gp->m != mp)) {
		count(&sigs.bad);
		return;
	}
	bool ongs = sp >= mp->gsignal->stack.lo && sp < mp->gsignal->stack.hi;
	bool ong0 = sp >= mp->g0->stack.lo && sp < mp->g0->stack.hi;
	if (ong0 && mp != &m0)
		count(&sigs.on_g0);
	/* Under TSan the handler runs deferred, on whatever stack is running
	 * when TSan delivers it (tests/test_signal.c): not checked there. */
	if (!ongs && !ong0 && !MRT_TSAN)
		count(&sigs.bad);
	/* The M must be one that exists: not back in the pool. */
	if (__atomic_load_n(&mp->status, __ATOMIC_ACQUIRE) == 0)
		count(&sigs.bad);
}

static void on_prof(int sig)
{
	(void)sig;
	m *mp = getm();
	if (mp == nil)
		count(&sigs.prof_other);
	else if (mp == &m0)
		count(&sigs.prof_m0);
	else
		count(&sigs.prof_m);
	check_stack();
}

static void on_usr1(int sig)
{
	(void)sig;
	count(&sigs.usr1);
	check_stack();
}

/* ------------------------------------------------------------------------
 * The Ms
 * ------------------------------------------------------------------------ */

struct slot {
	int64_t id;
	int kind;
	mrt_g *g;
};

static uint64_t ran, bad_m;

static void user_g_return(void *arg)
{
	volatile char buf[2048];
	buf[0] = (char)(uintptr_t)arg;
	(void)buf[0];
}

static void user_g_exit(void *arg)
{
	(void)arg;
	mrt_mexit();
	count(&bad_m); /* not reached */
}

static void lifecycle(void *arg)
{
	struct slot *s = arg;
	uintptr_t sp = arch_getsp();
	m *mp = getm();
	if (mp == nil || getg() != mp->g0 || sp < mp->g0->stack.lo || sp >= mp->g0->stack.hi)
		count(&bad_m);
	count(&ran);
	switch (s->kind) {
	case 0:
		return;
	case 1:
		mrt_mexit();
		count(&bad_m);
		return;
	case 2:
		if (mrt_gostart(s->g, user_g_return, s) != 0 || mrt_gogo(s->g) != 0 ||
		    mrt_gstatus(s->g) != MRT_G_DEAD)
			count(&bad_m);
		return;
	case 3:
		if (mrt_gostart(s->g, user_g_exit, s) != 0)
			count(&bad_m);
		mrt_gogo(s->g);
		count(&bad_m);
		return;
	}
}

/* ------------------------------------------------------------------------
 * The threads around them
 * ------------------------------------------------------------------------ */

static uint32_t progress; /* lifecycles joined, for m0's sampling */
static uint32_t stop;
static int64_t recent[64]; /* the newest ids, for the storm */
static uint64_t create_errors;

static void *creator(void *arg)
{
	long n = (long)arg;
	struct slot slots[WINDOW];
	memset(slots, 0, sizeof slots);
	for (int i = 0; i < WINDOW; i++)
		if (mrt_malg(&slots[i].g, 64 << 10) != 0)
			count(&create_errors);
	for (long i = 0; i < n + WINDOW; i++) {
		struct slot *s = &slots[i % WINDOW];
		if (i >= WINDOW) {
			/* The oldest in flight: join it. */
			if (mrt_join(s->id) != 0)
				count(&create_errors);
			ev_add(&progress, 1);
		}
		if (i >= n)
			continue;
		s->kind = (int)(i % 4);
		int64_t id = mrt_newm(lifecycle, s, NULL);
		if (id <= 0) {
			fprintf(stderr, "newm: %s (%s)\n", mrt_strerror((int)id), mrt_errmsg());
			count(&create_errors);
			s->id = 0;
			continue;
		}
		s->id = id;
		__atomic_store_n(&recent[id % 64], id, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < WINDOW; i++)
		mrt_gfree(slots[i].g);
	return NULL;
}

static void *storm(void *arg)
{
	(void)arg;
	uint32_t k = 0;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int64_t id = __atomic_load_n(&recent[k++ % 64], __ATOMIC_RELAXED);
		if (id > 0 && mrt_signalm(id, SIGUSR1) == 0)
			count(&sigs.usr1_sent);
		if (k % 64 == 0)
			sched_yield();
	}
	return NULL;
}

static struct {
	uint64_t walks, seen, bad;
} walk;

static int walk_check(const struct mrt_minfo *mi, void *arg)
{
	(void)arg;
	/* mnext only grows: read after the M was met, it bounds its id. */
	int64_t mnext = __atomic_load_n(&sched.mnext, __ATOMIC_ACQUIRE);
	bool ok = mi->status >= MRT_M_STARTING && mi->status <= MRT_M_EXITING && mi->id >= 0 &&
	          mi->id < mnext;
	if (mi->status == MRT_M_RUNNING || mi->status == MRT_M_IDLE) {
		ok = ok && mi->tid > 0 && mi->curg != NULL;
		ok = ok && mi->g0_lo < mi->g0_hi && mi->gsignal_lo < mi->gsignal_hi;
		ok = ok && (mi->id == 0 || mi->gsignal_hi - mi->gsignal_lo == cfg.gsignalstack);
	}
	if (!ok) {
		if (walk.bad < 5)
			fprintf(stderr, "walker: M%lld status %u tid %d g0 [%#lx, %#lx) gsignal "
			        "[%#lx, %#lx) curg %p (mnext %lld)\n", (long long)mi->id, mi->status,
			        mi->tid, (unsigned long)mi->g0_lo, (unsigned long)mi->g0_hi,
			        (unsigned long)mi->gsignal_lo, (unsigned long)mi->gsignal_hi,
			        (const void *)mi->curg, (long long)mnext);
		walk.bad++;
	}
	walk.seen++;
	return 0;
}

static void *walker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		mrt_forallm(walk_check, NULL);
		walk.walks++;
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */

/* VmRSS, which the kernel gives in KiB: statm counts pages, and under
 * QEMU_PAGESIZE its pages are the host's, not the guest's. */
static long rss_kb(void)
{
	long kb = proc_kib("/proc/self/status", "VmRSS");
	return kb < 0 ? 0 : kb;
}

static void on_watchdog(int sig)
{
	(void)sig;
	static const char msg[] = "soak: watchdog: no progress, the soak hangs\n";
	if (write(2, msg, sizeof msg - 1) < 0) {
	}
	_exit(3);
}

static void test_soak(void **state)
{
	(void)state;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sa.sa_handler = on_prof;
	sigaction(SIGPROF, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_watchdog;
	sa.sa_flags = 0;
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)seconds_max);

	struct mrtstate s0;
	snapshot(&s0);
	int threads0 = expected_threads(0);
	int64_t t0 = mrt_nanotime();

	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	setitimer(ITIMER_PROF, &it, NULL);

	pthread_t cr[NCREATORS], w, st;
	pthread_create(&w, NULL, walker, NULL);
	pthread_create(&st, NULL, storm, NULL);
	for (int i = 0; i < NCREATORS; i++)
		pthread_create(&cr[i], NULL, creator, (void *)(lifecycles / NCREATORS));
	long total = lifecycles / NCREATORS * NCREATORS;

	/* m0 samples memory: once after warm-up (a tenth of the run), then at
	 * every twentieth. */
	long rss[NSAMPLES + 1], maps[NSAMPLES + 1];
	int ns = 0;
	for (int k = 2; k <= NSAMPLES; k++) {
		ev_wait(&progress, (uint32_t)(total * k / NSAMPLES));
		rss[ns] = rss_kb();
		maps[ns] = count_maps();
		ns++;
	}
	for (int i = 0; i < NCREATORS; i++)
		pthread_join(cr[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(w, NULL);
	pthread_join(st, NULL);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_PROF, &off, NULL);
	alarm(0);
	int64_t t1 = mrt_nanotime();

	mrt_reap();
	struct mrtstate s1;
	snapshot(&s1);
	uint32_t cached;
	size_t cbytes;
	stackcache_stats(&cached, &cbytes);

	long rssmax = 0, mapsmax = 0;
	for (int i = 1; i < ns; i++) {
		rssmax = rss[i] > rssmax ? rss[i] : rssmax;
		mapsmax = maps[i] > mapsmax ? maps[i] : mapsmax;
	}
	printf("soak: %ld lifecycles in %.1f s (%.0f/s), %d creators x %d in flight\n", total,
	       (t1 - t0) / 1e9, total / ((t1 - t0) / 1e9), NCREATORS, WINDOW);
	printf("soak: Ms ran %llu; created %lld, freed %lld, failed %lld; errors %llu\n",
	       (unsigned long long)ran, (long long)(s1.st.created - s0.st.created),
	       (long long)(s1.st.freed - s0.st.freed), (long long)(s1.st.failed - s0.st.failed),
	       (unsigned long long)create_errors);
	printf("soak: SIGPROF delivered %llu (on Ms %llu, m0 %llu, other threads %llu); "
	       "SIGUSR1 sent %llu, delivered %llu; on g0 before minit %llu; bad %llu\n",
	       (unsigned long long)(sigs.prof_m + sigs.prof_m0 + sigs.prof_other),
	       (unsigned long long)sigs.prof_m, (unsigned long long)sigs.prof_m0,
	       (unsigned long long)sigs.prof_other, (unsigned long long)sigs.usr1_sent,
	       (unsigned long long)sigs.usr1, (unsigned long long)sigs.on_g0,
	       (unsigned long long)sigs.bad);
	printf("soak: walker %llu walks, %llu Ms checked, %llu bad\n",
	       (unsigned long long)walk.walks, (unsigned long long)walk.seen,
	       (unsigned long long)walk.bad);
	printf("soak: after warm-up RSS %ld KiB, mappings %ld; later max RSS %ld KiB, "
	       "mappings %ld; end: %lld stack mappings, %u cached, m pool %u in use\n",
	       rss[0], maps[0], rssmax, mapsmax, (long long)s1.stacks_mapped, cached,
	       s1.mpool_inuse);
	fflush(stdout);

	assert_int_equal(create_errors, 0);
	assert_int_equal(bad_m, 0);
	assert_int_equal(sigs.bad, 0);
	assert_int_equal(walk.bad, 0);
	assert_true(walk.walks > 0);
	assert_true(sigs.prof_m + sigs.prof_m0 + sigs.prof_other > 0);
	/* Counts exact: every M created ran and was counted as freed. */
	assert_int_equal(ran, (uint64_t)total);
	assert_int_equal(s1.st.created - s0.st.created, total);
	assert_int_equal(s1.st.freed - s0.st.freed, total);
	assert_int_equal(s1.st.failed, s0.st.failed);
	assert_int_equal(s1.st.live, 1);
	assert_int_equal(s1.st.exiting, 0);
	assert_int_equal(s1.st.idle, 0);
	assert_int_equal(s1.mpool_inuse, 0);
	assert_int_equal(s1.gpool_inuse, s0.gpool_inuse);
	/* Every stack mapping the churn added is in the cache: none leaked. */
	assert_int_equal(s1.stacks_mapped - s0.stacks_mapped, (int64_t)cached - s0.cache_count);
	assert_true(settle_threads(threads0));
	/* Flat after warm-up: what a steady churn needs it has after a tenth
	 * of the run. A leak of one stack per thousand lifecycles would add
	 * total/1000 mappings and total/1000 * 100 KiB; the bounds are a small
	 * fraction of that, fixed, for the full run. */
	/* Under QEMU user mode the resident size is the emulator's, whose
	 * translation cache grows with the code it has run: only the mappings
	 * are mrt's to answer for there. */
	if (emulated)
		rssmax = rss[0];
	/* A sanitizer's runtime keeps freed memory in quarantine (ASan: up
	 * to 256 MiB) and shadow for what the threads touched: the resident
	 * size is the runtime's there too. */
	if (MRT_ASAN || MRT_TSAN) {
		print_message("sanitizer build: RSS not bounded (the sanitizer's quarantine "
		              "and shadow); mrt's stack mappings are checked\n");
		rssmax = rss[0];
	}
	/* So is Memcheck's: freed blocks wait in its queue (20 MB by
	 * default) and every page a thread touches gets shadow, and its
	 * translations grow with the code run (a clean CI run saw +2,236 KiB
	 * over 2,000 lifecycles, past the bound). */
	if (under_valgrind()) {
		print_message("under Valgrind: RSS not bounded (Memcheck's freed-block queue, "
		              "shadow and translations); mrt's stack mappings are checked\n");
		rssmax = rss[0];
	}
	/* In the pthread model g0 stacks are libc's, and glibc keeps a cache
	 * of them (up to 40 MiB) that grows whenever threads overlap more than
	 * before: the process's mapping count is not mrt's to answer for
	 * there; mrt's own stack mappings are, exactly, above. */
	if (pthread_model()) {
		print_message("pthread model: process mapping count not bounded (libc's "
		              "thread-stack cache); mrt's stack mappings are checked\n");
		mapsmax = maps[0];
	}
	if (rssmax > rss[0] + 2048 || mapsmax > maps[0] + 16) {
		print_error("not flat: RSS %ld -> %ld KiB, mappings %ld -> %ld\n", rss[0], rssmax,
		            maps[0], mapsmax);
		fail();
	}
}

static int setup(void **state)
{
	(void)state;
	return mrt_init(NULL);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--lifecycles=", 13) == 0)
			lifecycles = atol(argv[i] + 13);
		else if (strncmp(argv[i], "--seconds-max=", 14) == 0)
			seconds_max = atoi(argv[i] + 14);
	}
	/* The environment wins over the test's arguments: Meson's valgrind
	 * setup scales the soak down this way. */
	if (getenv("MRT_SOAK_LIFECYCLES") != NULL)
		lifecycles = atol(getenv("MRT_SOAK_LIFECYCLES"));
	if (lifecycles < NCREATORS * NSAMPLES)
		lifecycles = NCREATORS * NSAMPLES;
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soak),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
