/*
 * test_fork.c — fork and exec while Ms churn.
 *
 * fork: m0 forks (run_child) while two threads create and join Ms, Ms sit
 * parked, one runs, a thread waits in mrt_join and another stands inside an
 * mrt_forallm callback. In every child — whose only thread is the forking
 * one — mrt's state says so (one live M, m0, with the child's tid; nothing
 * idle; every dead M reaped on the first try), and all of mrt works: Ms are
 * created, parked, woken, joined; gs run; signals reach an M's gsignal; the
 * exec lock is free; the child can fork again. Also from a thread that is
 * not an M: the child then has no M at all, and still creates them.
 *
 * exec: a process that has given up root execs a set-user-ID-root probe
 * while two threads create Ms; with mrt_execlock before execve the probe
 * always runs as root, in a new image with one thread. (Without the lock, a
 * clone in flight makes Linux ignore the set-user-ID bit: Go issue 19546.)
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "fixalloc.h"
#include "san.h" /* MRT_ASAN, MRT_TSAN */

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SKIP = 77 };

static const char *probe_path;

/* ------------------------------------------------------------------------
 * The churn around the fork
 * ------------------------------------------------------------------------ */

static uint32_t churnstop, churned;

static void short_m(void *arg)
{
	(void)arg;
	arch_procyield(500);
}

static void *churn(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&churnstop, __ATOMIC_ACQUIRE)) {
		int64_t id = mrt_newm(short_m, NULL, NULL);
		if (id > 0) {
			mrt_join(id);
			ev_add(&churned, 1);
		}
		sched_yield();
	}
	return NULL;
}

/* An M that is running (not parked) at every fork; it naps between looks so
 * as not to take the CPU from the children. */
static uint32_t busystop;
static void busy_m(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&busystop, __ATOMIC_ACQUIRE))
		futexsleep(&busystop, 0, 1000000);
}

/* A walker that stays inside its callback until released. */
static uint32_t inwalk, walkrelease;
static int slow_walk(const struct mrt_minfo *mi, void *arg)
{
	(void)mi, (void)arg;
	ev_add(&inwalk, 1);
	/* Bounded, so that a failed test can still tear down. */
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (!__atomic_load_n(&walkrelease, __ATOMIC_ACQUIRE) && mrt_nanotime() < deadline)
		futexsleep(&walkrelease, 0, 10 * 1000000LL);
	return 1;
}

static void *walker(void *arg)
{
	(void)arg;
	mrt_forallm(slow_walk, NULL);
	return NULL;
}

static int64_t parked[3], busy;

static void *joiner(void *arg)
{
	(void)arg;
	mrt_join(parked[0]); /* waits: parked[0] is parked */
	return NULL;
}

/* ------------------------------------------------------------------------
 * What a child checks
 * ------------------------------------------------------------------------ */

static uint32_t usr1_ok, usr1_bad;
static void on_usr1(int sig)
{
	(void)sig;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	m *mp = getm();
	if (mp != NULL && mp != &m0 && sp >= mp->gsignal->stack.lo && sp < mp->gsignal->stack.hi)
		ev_add(&usr1_ok, 1);
	else
		ev_add(&usr1_bad, 1);
}

static void child_wait(uint32_t *ev, uint32_t n)
{
	for (uint32_t v; (v = ev_get(ev)) < n;)
		futexsleep(ev, v, 100 * 1000000LL);
}

static void child_wait_idle(int64_t n)
{
	struct mrt_mstats st;
	for (mrt_mstats(&st); st.idle != n; mrt_mstats(&st))
		sched_yield();
}

static int only_m0(const struct mrt_minfo *mi, void *arg)
{
	int *n = arg;
	if (mi->id != 0 || mi->tid != mrt_gettid())
		return -1;
	(*n)++;
	return 0;
}

static uint32_t gran;
static void g_fn(void *arg)
{
	(void)arg;
	ev_add(&gran, 1);
}

static void m_with_g(void *arg)
{
	mrt_g *gp = arg;
	CHILD_CHECK(mrt_gostart(gp, g_fn, NULL) == 0);
	CHILD_CHECK(mrt_gogo(gp) == 0);
}

/*
 * #11 item 5: every m and stack of mrt's is accounted for in the child. Once
 * reaped, the m pool has nothing handed out (m0 is static, and the child
 * has no other M) and every stack mapping mrt made is in the stack cache,
 * or is m0's gsignal where m0 lives on (forked from m0).
 */
static void check_accounted(void)
{
	uint32_t inuse, nfree, cached;
	size_t bytes;
	mrt_reap();
	fixalloc_stats(&mpool, &inuse, &nfree);
	stackcache_stats(&cached, &bytes);
	g *gs = m0.gsignal;
	int64_t own = mrt_mid() == 0 && gs->ownstack && gs->stackmem.lo != 0;
	CHILD_CHECK(inuse == 0);
	CHILD_CHECK(stacks_mapped() == (int64_t)cached + own);
}

/* Everything a program may do with mrt, in the child. live0 is what the
 * child must start with: 1 (m0 forked) or 0 (a thread that is not an M). */
static void use_mrt(int64_t live0)
{
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == live0 && st.idle == 0);
	/* Every dead M is reapable at once: no walker or joiner holds it. */
	mrt_reap();
	mrt_mstats(&st);
	CHILD_CHECK(st.exiting == 0);
	CHILD_CHECK(mrt_join(parked[1]) == 0); /* dead in the child, reaped */

	/* Create, park, wake, join. */
	int64_t ids[8];
	for (int i = 0; i < 8; i++) {
		ids[i] = mrt_newm(fn_park, NULL, NULL);
		CHILD_CHECK(ids[i] > 0);
	}
	child_wait_idle(8);
	CHILD_CHECK(settle_threads(9 + hostthreads));

	/* A signal to one of them lands on its gsignal. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	CHILD_CHECK(mrt_signalm(ids[3], SIGUSR1) == 0);
	child_wait(&usr1_ok, 1);
	CHILD_CHECK(usr1_bad == 0);

	for (int i = 0; i < 8; i++)
		CHILD_CHECK(mrt_startm(fn_exit, NULL, NULL) > 0);
	for (int i = 0; i < 8; i++)
		CHILD_CHECK(mrt_join(ids[i]) == 0);

	/* gs on an M. */
	mrt_g *gp;
	CHILD_CHECK(mrt_malg(&gp, 64 << 10) == 0);
	int64_t id = mrt_newm(m_with_g, gp, NULL);
	CHILD_CHECK(id > 0 && mrt_join(id) == 0);
	CHILD_CHECK(gran == 1 && mrt_gfree(gp) == 0);

	/* The exec lock is free. */
	CHILD_CHECK(mrt_execlock() == 0 && mrt_execunlock() == 0);

	mrt_reap();
	mrt_mstats(&st);
	CHILD_CHECK(st.live == live0 && st.exiting == 0 && st.idle == 0);
	CHILD_CHECK(settle_threads(1 + hostthreads));
	check_accounted();
}

static void child_after_fork(void)
{
	CHILD_CHECK(count_threads() == 1 + hostthreads);
	CHILD_CHECK(mrt_mid() == 0);
	int n = 0;
	CHILD_CHECK(mrt_forallm(only_m0, &n) == 0 && n == 1);
	use_mrt(1);
	/* And again, one generation down. */
	pid_t pid = fork();
	if (pid == 0) {
		if (count_threads() != 1 + hostthreads || mrt_mid() != 0)
			child_exit(2);
		int64_t id = mrt_newm(fn_exit, NULL, NULL);
		child_exit(id > 0 && mrt_join(id) == 0 ? 0 : 3);
	}
	int status;
	CHILD_CHECK(waitpid(pid, &status, 0) == pid);
	CHILD_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * QEMU user mode (7.2, Debian 12) cannot run these: a guest that forks while
 * other threads of it run gets a child in which QEMU's own assertions fail
 * ("cpu == current_cpu") as soon as the child creates a thread, or hangs.
 * Nor can the sanitizers of Debian 12's clang 14: ASan's allocator is not
 * locked across fork, so a child whose parent had a thread inside it
 * deadlocks at its first allocation (pthread_create's, making an M), and
 * TSan refuses threads in the child of a multi-threaded fork. Native,
 * unsanitized runs of every CPU's code are the ones that hold mrt to this.
 */
static void skip_if_emulated(void)
{
	if (emulated) {
		print_message("skipped: QEMU user mode fails in the child of a "
		              "multi-threaded fork (its assertion cpu == current_cpu)\n");
		skip();
	}
}

/* The parent has threads inside mrt and libc when it forks. */
static void skip_if_fork_unsupported(void)
{
	skip_if_emulated();
	if (MRT_ASAN || MRT_TSAN) {
		print_message("skipped: this sanitizer cannot make threads in the child of a "
		              "multi-threaded fork (ASan: its allocator's locks are not held "
		              "across fork; TSan: refused)\n");
		skip();
	}
}

static void start_world(pthread_t *c, pthread_t *w, pthread_t *j)
{
	skip_if_fork_unsupported();
	churnstop = busystop = walkrelease = inwalk = churned = 0;
	for (int i = 0; i < 3; i++)
		parked[i] = must_newm(fn_park, NULL);
	wait_idle(3);
	busy = must_newm(busy_m, NULL);
	pthread_create(j, NULL, joiner, NULL);
	for (int i = 0; i < 2; i++)
		pthread_create(&c[i], NULL, churn, NULL);
	ev_wait(&churned, 100);
	/* Last, the walker: while it stands in its callback no exited M can
	 * be reaped, so the churners end up waiting in mrt_join (as they
	 * would for any long walk) — one more state for the fork to cut. */
	pthread_create(w, NULL, walker, NULL);
	ev_wait(&inwalk, 1);
}

static void stop_world(pthread_t *c, pthread_t *w, pthread_t *j)
{
	/* The walker first: the churners wait for it in mrt_join. */
	__atomic_store_n(&walkrelease, 1, __ATOMIC_RELEASE);
	futexwakeup(&walkrelease, 1);
	pthread_join(*w, NULL);
	__atomic_store_n(&churnstop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(c[i], NULL);
	__atomic_store_n(&busystop, 1, __ATOMIC_RELEASE);
	assert_int_equal(mrt_join(busy), 0);
	stop_idle_ms(); /* parked[0] among them: the joiner returns */
	pthread_join(*j, NULL);
}

static void test_fork_in_m0_while_ms_churn(void **state)
{
	(void)state;
	pthread_t c[2], w, j;
	start_world(c, &w, &j);
	int n = quick ? 10 : 40;
	for (int i = 0; i < n; i++) {
		struct child ch;
		run_child(child_after_fork, 60, &ch);
		assert_child_ok(&ch);
	}
	stop_world(c, &w, &j);
}

/* fork from a thread that is not an M: the child has no M, not even m0. */
static void child_after_foreign_fork(void)
{
	CHILD_CHECK(mrt_mid() == -1 && count_threads() == 1 + hostthreads);
	int n = 0;
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 0);
	CHILD_CHECK(mrt_forallm(only_m0, &n) == 0 && n == 0);
	use_mrt(0);
}

static struct child foreign_child;
static int foreign_fork_err;
static void *foreign_forker(void *arg)
{
	(void)arg;
	foreign_fork_err = fork_child(child_after_foreign_fork, 60, &foreign_child);
	return NULL;
}

static void test_fork_in_a_thread_that_is_not_an_m(void **state)
{
	(void)state;
	pthread_t c[2], w, j;
	start_world(c, &w, &j);
	for (int i = 0; i < (quick ? 3 : 10); i++) {
		pthread_t f;
		memset(&foreign_child, 0, sizeof foreign_child);
		pthread_create(&f, NULL, foreign_forker, NULL);
		pthread_join(f, NULL);
		assert_int_equal(foreign_fork_err, 0);
		assert_child_ok(&foreign_child);
	}
	stop_world(c, &w, &j);
}

/*
 * #11 item 5: Ms in flight at the fork. Other threads are held (test hook)
 * where they own an m that is on no list: a reaper with two exited Ms it
 * took off freem and has not freed, a creation with an m fresh from the pool
 * (allocm), one with its id and gsignal that is not on allm yet
 * (mcommoninit), and one whose clone failed, being undone (mfailed). Then
 * m0 forks: in every child the m pool and the stack cache account for all
 * of them (check_accounted), and mrt works. (They leaked: the child's pool
 * had those 5 ms handed out for good, and their stacks mapped.)
 */
static uint32_t fl_armed[NTESTPOINT], fl_at[NTESTPOINT], fl_release;

/* Holds the first thread that reaches an armed point. */
static void fl_hook(int tp, void *arg)
{
	(void)arg;
	uint32_t one = 1;
	if (tp < 0 || tp >= NTESTPOINT ||
	    !__atomic_compare_exchange_n(&fl_armed[tp], &one, 0, false, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE))
		return;
	ev_add(&fl_at[tp], 1);
	ev_block(&fl_release, 1);
}

static uint32_t fl_go;
static void fl_wait_then_exit(void *arg)
{
	(void)arg;
	ev_block(&fl_go, 1);
}

static void *fl_reap(void *arg)
{
	*(int *)arg = mrt_reap();
	return NULL;
}

static void *fl_create(void *arg)
{
	*(int64_t *)arg = mrt_newm(fn_exit, NULL, NULL);
	return NULL;
}

/* Starts fn(arg) on a thread and waits until it is held at point tp. */
static void fl_hold(pthread_t *t, int tp, void *(*fn)(void *), void *arg)
{
	__atomic_store_n(&fl_armed[tp], 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(t, NULL, fn, arg), 0);
	ev_wait(&fl_at[tp], 1);
}

static void child_with_ms_in_flight(void)
{
	CHILD_CHECK(count_threads() == 1 + hostthreads);
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 1 && st.idle == 0);
	check_accounted();
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0 && mrt_join(id) == 0);
	check_accounted();
}

static void test_fork_accounts_for_ms_in_flight(void **state)
{
	(void)state;
	skip_if_fork_unsupported();
	memset(fl_armed, 0, sizeof fl_armed);
	memset(fl_at, 0, sizeof fl_at);
	fl_release = fl_go = 0;
	mrt_test_pointhook(fl_hook);
	/* Both alive until both are made: the second creation would reap
	 * the first if it had ended. */
	int64_t dead[2] = { must_newm(fl_wait_then_exit, NULL), must_newm(fl_wait_then_exit, NULL) };
	ev_add(&fl_go, 1);
	wait_exited_unreaped(dead[0]);
	wait_exited_unreaped(dead[1]);
	pthread_t t[4];
	int reaped = -1;
	int64_t made[3] = { 0, 0, 0 };
	fl_hold(&t[0], TP_REAPED, fl_reap, &reaped);
	fl_hold(&t[1], TP_MNEW, fl_create, &made[0]);
	fl_hold(&t[2], TP_MPREINIT, fl_create, &made[1]);
	mrt_test_fault(FAULT_NEWOSPROC, 1, -ENOMEM);
	fl_hold(&t[3], TP_MFAILED, fl_create, &made[2]);
	/* The held threads are let go before any assertion can fail. */
	struct child ch[10];
	int nch = quick ? 3 : 10;
	for (int i = 0; i < nch; i++)
		run_child(child_with_ms_in_flight, 60, &ch[i]);
	ev_add(&fl_release, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	mrt_test_pointhook(NULL);
	for (int i = 0; i < nch; i++)
		assert_child_ok(&ch[i]);
	assert_int_equal(reaped, 2);
	assert_true(made[0] > 0 && made[1] > 0);
	assert_int_equal(made[2], -ENOMEM);
	assert_int_equal(mrt_join(made[0]), 0);
	assert_int_equal(mrt_join(made[1]), 0);
}

/* ------------------------------------------------------------------------
 * The exec lock
 * ------------------------------------------------------------------------ */

static uint32_t blocked_done;
static int64_t blocked_id;
static void *create_while_locked(void *arg)
{
	(void)arg;
	blocked_id = mrt_newm(fn_exit, NULL, NULL);
	ev_add(&blocked_done, 1);
	return NULL;
}

static void *unlock_elsewhere(void *arg)
{
	*(int *)arg = mrt_execunlock();
	return NULL;
}

/* Held, it refuses its own thread (which would wait for itself), holds off
 * creations on other threads until released, and only its holder may
 * release it. */
static void test_exec_lock_contract(void **state)
{
	(void)state;
	assert_int_equal(mrt_execunlock(), -EPERM);
	assert_int_equal(mrt_execlock(), 0);
	assert_int_equal(mrt_execlock(), -EDEADLK);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -EDEADLK);
	/* #11 item 10: the message says why, not that a thread could not be
	 * created. */
	if (strstr(mrt_errmsg(), "mrt_execlock") == NULL ||
	    strstr(mrt_errmsg(), "failed to create") != NULL) {
		print_error("errmsg after -EDEADLK: \"%s\"\n", mrt_errmsg());
		fail();
	}
	int r = 0;
	pthread_t t;
	pthread_create(&t, NULL, unlock_elsewhere, &r);
	pthread_join(t, NULL);
	assert_int_equal(r, -EPERM);

	blocked_done = 0;
	/* The creator reaches the lock and waits there: its M's id is taken
	 * (mnext moves) but no thread is cloned while the lock is held. The
	 * count before is taken before the creator may run. */
	struct mrt_mstats st0, st;
	mrt_mstats(&st0);
	pthread_create(&t, NULL, create_while_locked, NULL);
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	do {
		mrt_mstats(&st);
		assert_true(mrt_nanotime() < deadline);
		sched_yield();
	} while (st.created == st0.created);
	int threads = count_threads();
	assert_int_equal(ev_get(&blocked_done), 0);
	assert_int_equal(count_threads(), threads);
	assert_int_equal(mrt_execunlock(), 0);
	ev_wait(&blocked_done, 1);
	pthread_join(t, NULL);
	assert_true(blocked_id > 0);
	assert_int_equal(mrt_join(blocked_id), 0);
}

/* ------------------------------------------------------------------------
 * exec racing creation
 * ------------------------------------------------------------------------ */

static char suid_dir[64], suid_probe[96];

static bool make_suid_probe(void)
{
	struct statvfs vfs;
	if (probe_path == NULL || geteuid() != 0)
		return false;
	const char *tmp = getenv("TMPDIR");
	int len = snprintf(suid_dir, sizeof suid_dir, "%s/mrt-exec-XXXXXX",
	                   tmp != NULL && *tmp ? tmp : "/tmp");
	if (len < 0 || (size_t)len >= sizeof suid_dir || mkdtemp(suid_dir) == NULL ||
	    statvfs(suid_dir, &vfs) != 0 || (vfs.f_flag & ST_NOSUID))
		return false;
	snprintf(suid_probe, sizeof suid_probe, "%s/execprobe", suid_dir);
	int in = open(probe_path, O_RDONLY), out = open(suid_probe, O_WRONLY | O_CREAT, 0700);
	assert_true(in >= 0 && out >= 0);
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	assert_int_equal(chown(suid_probe, 0, 0), 0);
	assert_int_equal(chmod(suid_probe, 04755), 0);
	assert_int_equal(chmod(suid_dir, 0755), 0);
	return true;
}

static void remove_suid_probe(void)
{
	unlink(suid_probe);
	rmdir(suid_dir);
}

static bool use_execlock = true;

static void child_exec_during_churn(void)
{
	/* Give up root for good (one thread yet: libc's setresuid is exact). */
	CHILD_CHECK(setresgid(65534, 65534, 65534) == 0);
	CHILD_CHECK(setresuid(65534, 65534, 65534) == 0);
	churnstop = churned = 0;
	pthread_t c[2];
	for (int i = 0; i < 2; i++)
		CHILD_CHECK(pthread_create(&c[i], NULL, churn, NULL) == 0);
	child_wait(&churned, 50);
	if (use_execlock)
		CHILD_CHECK(mrt_execlock() == 0);
	char *argv[] = { suid_probe, NULL };
	char *envp[] = { NULL };
	execve(suid_probe, argv, envp);
	mrt_dprintf(2, "execve failed\n");
	child_exit(SKIP);
}

/* Returns how many of n execs ran the probe without its set-user-ID. */
static int exec_race(int n)
{
	int lost = 0;
	for (int i = 0; i < n; i++) {
		struct child ch;
		/* The parent must fork alone: a pthread of an earlier M may
		 * still be in libc's thread exit after its join (see testlib.h),
		 * and TSan refuses threads in the child of a multi-threaded
		 * fork (seen once in the tsan configuration under load). */
		assert_true(settle_threads(expected_threads(0)));
		run_child(child_exec_during_churn, 60, &ch);
		if (WIFEXITED(ch.status) && WEXITSTATUS(ch.status) == SKIP)
			skip();
		if (!WIFEXITED(ch.status) || WEXITSTATUS(ch.status) != 0 ||
		    strstr(ch.out, "probe: ") == NULL) {
			print_error("exec child: status 0x%x, output:\n%s\n", ch.status, ch.out);
			fail();
		}
		assert_non_null(strstr(ch.out, "threads=1\n")); /* nothing came along */
		if (strstr(ch.out, "euid=0 ") == NULL)
			lost++;
	}
	return lost;
}

static void test_exec_during_creation_keeps_setuid(void **state)
{
	(void)state;
	skip_if_emulated(); /* the parent forks alone: sanitizers cope */
	if (!make_suid_probe())
		skip(); /* needs root, the probe and a filesystem without nosuid */
	int n = quick ? 30 : 200;
	int lost = exec_race(n);
	remove_suid_probe();
	print_message("exec: %d execs during creation, %d without set-user-ID\n", n, lost);
	assert_int_equal(lost, 0);
}

static int setup(void **state)
{
	(void)state;
	return mrt_init(NULL);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--probe=", 8) == 0)
			probe_path = argv[i] + 8;
	if (getenv("MRT_TEST_EXEC_NOLOCK") != NULL)
		use_execlock = false; /* to see the race the lock prevents */
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		MRT_TEST(test_fork_in_m0_while_ms_churn),
		MRT_TEST(test_fork_in_a_thread_that_is_not_an_m),
		MRT_TEST(test_fork_accounts_for_ms_in_flight),
		MRT_TEST(test_exec_lock_contract),
		MRT_TEST(test_exec_during_creation_keeps_setuid),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
