/*
 * test_limits.c — real limits, not injected faults, each in a child process
 * of its own: the kernel's process limit (RLIMIT_NPROC) makes clone fail with
 * EAGAIN; the address-space limit (RLIMIT_AS) makes the stack mapping fail;
 * mrt's own thread limit lowered below the live count refuses new Ms. In
 * every case the caller gets the error and a message, nothing is left behind,
 * and the Ms that already exist are unharmed: they still run, park, wake and
 * exit.
 *
 * RLIMIT_NPROC does not bind root (the kernel exempts the init user and
 * CAP_SYS_RESOURCE/CAP_SYS_ADMIN), and CI runs as root. The child therefore
 * gives up root the way a daemon does: it switches its real, effective and
 * saved uid to nobody (65534) with the raw setresuid system call, which
 * changes only the calling thread — m0, the one that will call clone — and
 * drops every capability with it. Ms created earlier keep their uid, which
 * the test does not need. When the test is not run as root, the limit binds
 * anyway and no switch is needed. Only if neither works (a container that
 * forbids setresuid) is the case skipped, and it says so.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SKIP = 77 };

/* Child-side checks of the state (no cmocka asserts in a child). */
static void child_same_state(const struct mrtstate *a, const struct mrtstate *b)
{
	CHILD_CHECK(a->st.live == b->st.live);
	CHILD_CHECK(a->st.idle == b->st.idle);
	CHILD_CHECK(a->st.freed == b->st.freed);
	CHILD_CHECK(a->st.exiting == b->st.exiting);
	CHILD_CHECK(a->cache_count == b->cache_count);
	CHILD_CHECK(a->mpool_inuse == b->mpool_inuse && a->mpool_free == b->mpool_free);
	CHILD_CHECK(a->stacks_mapped == b->stacks_mapped);
	CHILD_CHECK(a->nids == b->nids);
	for (int i = 0; i < a->nids; i++)
		CHILD_CHECK(a->ids[i] == b->ids[i]);
}

/* Waits for an event without cmocka (the child's alarm bounds it). */
static void child_wait(uint32_t *ev, uint32_t n)
{
	for (uint32_t v; (v = ev_get(ev)) < n;)
		futexsleep(ev, v, 100 * 1000000LL);
}

static void child_wait_idle(int64_t n)
{
	struct mrt_mstats st;
	for (;;) {
		mrt_mstats(&st);
		if (st.idle == n)
			return;
		sched_yield();
	}
}

/*
 * The Ms that must survive: each reports in, parks, and when woken with
 * `work` does it (reports again) and parks again.
 */
static uint32_t checkins, worked;

static void survivor(void *arg)
{
	(void)arg;
	ev_add(&checkins, 1);
	mrt_stopm();
}

static void work(void *arg)
{
	(void)arg;
	ev_add(&worked, 1);
	mrt_stopm();
}

/* Wakes n idle Ms with work, waits for all of them to do it and park again,
 * then ends them: they were unharmed by the refused creation. */
static void survivors_unharmed(int n)
{
	uint32_t w0 = ev_get(&worked);
	for (int i = 0; i < n; i++)
		CHILD_CHECK(mrt_startm(work, NULL, NULL) > 0);
	child_wait(&worked, w0 + (uint32_t)n);
	child_wait_idle(n);
	int64_t ids[16];
	for (int i = 0; i < n; i++)
		ids[i] = mrt_startm(fn_exit, NULL, NULL);
	for (int i = 0; i < n; i++)
		CHILD_CHECK(mrt_join(ids[i]) == 0);
}

static void start_survivors(int n)
{
	checkins = worked = 0;
	for (int i = 0; i < n; i++)
		CHILD_CHECK(mrt_newm(survivor, NULL, NULL) > 0);
	child_wait(&checkins, (uint32_t)n);
	child_wait_idle(n);
}

/* ------------------------------------------------------------------------ */

static void child_nproc(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	start_survivors(2);

	struct rlimit old;
	CHILD_CHECK(getrlimit(RLIMIT_NPROC, &old) == 0);
	/* Soft limit 0: every new task of this user is over it, whatever else
	 * the user runs. The hard limit stays, so it can be raised back. */
	struct rlimit zero = { 0, old.rlim_max };
	CHILD_CHECK(setrlimit(RLIMIT_NPROC, &zero) == 0);
	if (geteuid() == 0 && syscall(SYS_setresuid, 65534, 65534, 65534) != 0) {
		mrt_dprintf(2, "cannot drop root to make RLIMIT_NPROC bind\n");
		child_exit(SKIP);
	}

	struct mrtstate a, b;
	snapshot(&a);
	int64_t t0 = mrt_nanotime();
	int64_t r = mrt_newm(fn_exit, NULL, NULL);
	int64_t took = mrt_nanotime() - t0;
	if (r == 0 || r > 0) {
		mrt_dprintf(2, "kernel did not enforce RLIMIT_NPROC\n");
		child_exit(SKIP);
	}
	CHILD_CHECK(r == -EAGAIN);
	const char *msg = mrt_errmsg();
	if (strstr(msg, "failed to create new OS thread (have 3 already; errno=11)") == NULL ||
	    strstr(msg, "ulimit -u") == NULL) {
		mrt_dprintf(2, "errmsg: %s\n", msg);
		child_exit(1);
	}
	/* Go's retries happened: 20 tries, sleeping 1, 2, ..., 19 ms between. */
	CHILD_CHECK(took >= 190 * 1000000LL);
	snapshot(&b);
	child_same_state(&a, &b);
	CHILD_CHECK(b.st.failed == a.st.failed + 1);
	CHILD_CHECK(settle_threads(3 + hostthreads));
	/* Still over the limit, an idle M takes work: no thread is made. */
	int64_t reused = mrt_startm(fn_exit, NULL, NULL);
	CHILD_CHECK(reused > 0 && mrt_join(reused) == 0);
	/* The limit raised again, creation works. */
	CHILD_CHECK(setrlimit(RLIMIT_NPROC, &old) == 0);
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0 && mrt_join(id) == 0);
	/* One survivor took the fn_exit above; the other is unharmed. */
	survivors_unharmed(1);
	mrt_reap();
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 1 && st.exiting == 0);
}

static void test_nproc_limit_gives_eagain_after_retries(void **state)
{
	(void)state;
	struct child c;
	run_child(child_nproc, 60, &c);
	if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == SKIP)
		skip(); /* c.out says why */
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------ */

static long vmsize(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	long kb = -1;
	while (f != NULL && fgets(buf, sizeof buf, f) != NULL)
		if (strncmp(buf, "VmSize:", 7) == 0)
			kb = strtol(buf + 7, NULL, 10);
	if (f != NULL)
		fclose(f);
	return kb * 1024;
}

static void child_as(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	/* Two Ms hold the stacks that a finished M would leave in the cache:
	 * the next creation must map new ones. */
	start_survivors(2);
	struct mrtstate a, b;
	snapshot(&a);
	CHILD_CHECK(a.cache_count == 0);

	if (under_valgrind()) {
		/* The limit would be Valgrind's own address space. */
		mrt_dprintf(2, "RLIMIT_AS under Valgrind limits Valgrind itself: not tested\n");
		child_exit(SKIP);
	}
	if (MRT_TSAN) {
		/* TSan maps a shadow stack for every new thread, before mrt
		 * could report anything: the limit stops the runtime first. */
		mrt_dprintf(2, "RLIMIT_AS under TSan limits TSan's own mappings: not tested\n");
		child_exit(SKIP);
	}
	struct rlimit old;
	CHILD_CHECK(getrlimit(RLIMIT_AS, &old) == 0);
	/* Room for less than one stack. */
	struct rlimit lim = { (rlim_t)vmsize() + 16 * 1024, old.rlim_max };
	CHILD_CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
	/* QEMU user mode keeps the limit to itself (it cannot let the guest
	 * limit the emulator's own address space): then there is nothing to
	 * test, and the case says so. */
	void *probe = mmap(NULL, 1 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe != MAP_FAILED) {
		munmap(probe, 1 << 20);
		mrt_dprintf(2, "RLIMIT_AS is not enforced here (QEMU user mode?)\n");
		child_exit(SKIP);
	}
	int threads = 3 + hostthreads;
	CHILD_CHECK(settle_threads(threads)); /* before the mappings: see test_fault */
	/* A stack carved from a slab with room needs no new memory (an m
	 * slot of the clone model's pool neither): with the cache bypassed,
	 * every stack is a slab of its own, which the limit refuses. */
	mrt_test_nocache(true);
	int maps = count_maps();
	for (int i = 0; i < 3; i++) {
		int64_t r = mrt_newm(fn_exit, NULL, NULL);
		if (r != -ENOMEM) {
			mrt_dprintf(2, "newm under RLIMIT_AS returned %lld\n", (long long)r);
			child_exit(1);
		}
		CHILD_CHECK(strstr(mrt_errmsg(), "cannot map a") != NULL);
	}
	mrt_g *gp = NULL;
	CHILD_CHECK(mrt_malg(&gp, 64 << 10) == -ENOMEM && gp == NULL);
	mrt_test_nocache(false);
	snapshot(&b);
	child_same_state(&a, &b);
	CHILD_CHECK(count_maps() == maps && settle_threads(threads));

	/* The Ms that exist need no new memory to work, park and exit. */
	survivors_unharmed(2);
	CHILD_CHECK(setrlimit(RLIMIT_AS, &old) == 0);
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0 && mrt_join(id) == 0);
}

static void test_as_limit_gives_enomem(void **state)
{
	(void)state;
	struct child c;
	run_child(child_as, 60, &c);
	if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == SKIP)
		skip(); /* c.out says why */
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------ */

static uint32_t go, spins_done;

/* Busy Ms: they run (not parked) across the limit change. */
static void busy(void *arg)
{
	(void)arg;
	ev_add(&checkins, 1);
	while (ev_get(&go) == 0)
		futexsleep(&go, 0, -1);
	ev_add(&spins_done, 1);
	mrt_stopm();
}

static void child_thread_limit(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	checkins = 0;
	for (int i = 0; i < 4; i++)
		CHILD_CHECK(mrt_newm(busy, NULL, NULL) > 0);
	child_wait(&checkins, 4);

	struct mrtstate a, b;
	snapshot(&a);
	CHILD_CHECK(mrt_setmaxthreads(2) == 10000); /* 5 live: below the count */
	int64_t r = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(r == -EAGAIN);
	CHILD_CHECK(strstr(mrt_errmsg(), "exceeds 2-thread limit (have 5)") != NULL);
	CHILD_CHECK(mrt_startm(fn_exit, NULL, NULL) == -EAGAIN); /* none idle: newm */
	snapshot(&b);
	child_same_state(&a, &b);
	CHILD_CHECK(b.st.created == a.st.created); /* no id taken */

	/* The four run on: released, each does its work and parks. */
	ev_add(&go, 1);
	futexwakeup(&go, INT32_MAX);
	child_wait(&spins_done, 4);
	child_wait_idle(4);
	/* Idle Ms take work above the limit: that creates nothing. */
	worked = 0;
	survivors_unharmed(4);
	/* Below the limit again (m0 alone), creation works. */
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0 && mrt_join(id) == 0);
}

static void test_thread_limit_below_live_count(void **state)
{
	(void)state;
	struct child c;
	run_child(child_thread_limit, 60, &c);
	assert_child_ok(&c);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nproc_limit_gives_eagain_after_retries),
		cmocka_unit_test(test_as_limit_gives_enomem),
		cmocka_unit_test(test_thread_limit_below_live_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
