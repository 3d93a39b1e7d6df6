/*
 * test_allthreads.c — mrt_allthreadssyscall (#14 item 4): one system call
 * on every M, all or nothing, with no M born while it runs.
 *
 * Two per-thread states show whether a thread took part. Its name
 * (prctl(PR_SET_NAME), /proc/self/task/<tid>/comm), which any process may
 * set, and which a new thread inherits from the one that cloned it (mrt
 * names no thread unless asked: MRT_F_THREAD_NAMES); and, as root, its
 * credentials (setresuid to nobody, /proc/self/task/<tid>/status), the
 * security fact of the issue: a setuid on m0 alone leaves every M root.
 *
 * Every case runs in a child process that calls mrt_init itself (the
 * template thread the first call starts never exits; a child may drop
 * root). Under QEMU user mode /proc/self/task also lists the emulator's own
 * threads, and under TSan its runtime's, which no call of the program
 * reaches: the check is of every M's thread, and of the rest but that many
 * (testlib's hostthreads, 0 in a plain native build).
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <dirent.h>
#include <sys/syscall.h>
#include "sys_linux.h"
#endif

#if OS_ALLTHREADSSIG != 0 /* Linux */

enum { PR_SET_NAME_ = 15, PR_GET_NAME_ = 16 };

static long rawsys(long n, long a, long b, long c)
{
	return arch_syscall6(n, a, b, c, 0, 0, 0);
}

/* Main thread: the name of thread tid, "" if it is gone. */
static void comm_of(int32_t tid, char *buf, size_t n)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
	buf[0] = '\0';
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	if (fgets(buf, (int)n, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/* Main thread: the real, effective, saved and fs uids of thread tid. */
static bool uids_of(int32_t tid, long u[4])
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	bool ok = false;
	while (f != NULL && !ok && fgets(line, sizeof line, f) != NULL)
		ok = sscanf(line, "Uid: %ld %ld %ld %ld", &u[0], &u[1], &u[2], &u[3]) == 4;
	if (f != NULL)
		fclose(f);
	return ok;
}

/* The tids of every M on allm. */
struct tids {
	int32_t t[64];
	int n;
};

static int collect_tid(const struct mrt_minfo *info, void *arg)
{
	struct tids *s = arg;
	if (s->n < 64)
		s->t[s->n++] = info->tid;
	return 0;
}

static void m_tids(struct tids *s)
{
	s->n = 0;
	CHILD_CHECK(mrt_forallm(collect_tid, s) == 0);
}

/* Every M's thread has the name; so has every other task of the process,
 * but `others` of ours that are not Ms and the host's (QEMU's, TSan's). */
static void check_names(const char *want, int others)
{
	struct tids s;
	m_tids(&s);
	char got[32];
	for (int i = 0; i < s.n; i++) {
		comm_of(s.t[i], got, sizeof got);
		if (strcmp(got, want) != 0)
			mrt_dprintf(2, "tid %d is named \"%s\", not \"%s\"\n", s.t[i], got, want);
		CHILD_CHECK(strcmp(got, want) == 0);
	}
	DIR *d = opendir("/proc/self/task");
	CHILD_CHECK(d != NULL);
	int differ = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		comm_of(atoi(e->d_name), got, sizeof got);
		differ += strcmp(got, want) != 0;
	}
	closedir(d);
	CHILD_CHECK(differ <= others + hostthreads);
}

static uint32_t probe_done;
static char probe_comm[16];
static long probe_uid[4];

/* An M that reads its own name (and uids, raw) and ends. */
static void probe_fn(void *arg)
{
	(void)arg;
	CHILD_CHECK(rawsys(SYS_prctl, PR_GET_NAME_, (long)probe_comm, 0) == 0);
	long r = rawsys(SYS_getresuid, (long)&probe_uid[0], (long)&probe_uid[1],
	                (long)&probe_uid[2]);
	CHILD_CHECK(r == 0);
	ev_add(&probe_done, 1);
}

/* ------------------------------------------------------------------------
 * Ms in every state, and Ms created after
 * ------------------------------------------------------------------------ */

static int pipefd[2];
static long readres;
static char readbuf[4];
static uint32_t reader_in, reader_out, spin_in, spin_stop;

/* An M blocked in a system call (raw read of a pipe). */
static void reader_m(void *arg)
{
	(void)arg;
	ev_add(&reader_in, 1);
	do
		readres = rawsys(SYS_read, pipefd[0], (long)readbuf, 1);
	while (readres == -EINTR); /* SA_RESTART: never, but not the point */
	ev_add(&reader_out, 1);
}

/* An M running (on g0, or on a user g), never sleeping. */
static void spin_fn(void *arg)
{
	(void)arg;
	ev_add(&spin_in, 1);
	while (ev_get(&spin_stop) == 0)
		arch_procyield(10);
}

static mrt_g *spin_g;

static void spin_on_g(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_gogo(spin_g) == 0);
}

/* The first M created, parked, then woken to create an M itself. */
static void create_probe(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_newm(probe_fn, NULL, NULL) > 0);
	mrt_stopm();
}

/* A thread that is not an M, alive during the call (so not reached by
 * it), that creates an M afterwards when told to, then ends. */
static uint32_t other_in, other_go, other_made;
static int32_t other_tid;
static pthread_t other;

static void *other_thread(void *arg)
{
	(void)arg;
	other_tid = mrt_gettid();
	ev_add(&other_in, 1);
	ev_block(&other_go, 1);
	int64_t id = mrt_newm(probe_fn, NULL, NULL);
	ev_add(&other_made, id > 0 ? 1 : 1000);
	return NULL;
}

static void start_other(void)
{
	CHILD_CHECK(pthread_create(&other, NULL, other_thread, NULL) == 0);
	ev_wait(&other_in, 1);
}

static void start_every_kind(void)
{
	CHILD_CHECK(pipe(pipefd) == 0);
	CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) > 0); /* M1: parked */
	wait_idle(1);
	CHILD_CHECK(mrt_newm(reader_m, NULL, NULL) > 0);
	ev_wait(&reader_in, 1);
	CHILD_CHECK(mrt_newm(spin_fn, NULL, NULL) > 0);
	CHILD_CHECK(mrt_malg(&spin_g, 64 << 10) == 0);
	CHILD_CHECK(mrt_gostart(spin_g, spin_fn, NULL) == 0);
	CHILD_CHECK(mrt_newm(spin_on_g, NULL, NULL) > 0);
	ev_wait(&spin_in, 2);
}

/* After the call: the reader's read goes on, the spinners stop, and Ms made
 * afterwards — by M1, made before the call, by m0, and by a thread that is
 * not an M (its creation goes to the template thread) — are like the rest.
 * want: the name every M must have; uid: the uid too, or -1. */
static void after_the_call(const char *want, long uid)
{
	CHILD_CHECK(ev_get(&reader_out) == 0); /* the call did not end the read */
	CHILD_CHECK(write(pipefd[1], "x", 1) == 1);
	ev_wait(&reader_out, 1);
	CHILD_CHECK(readres == 1 && readbuf[0] == 'x');
	ev_add(&spin_stop, 1);

	for (int k = 0; k < 3; k++) {
		uint32_t n = ev_get(&probe_done);
		if (k == 0) {
			CHILD_CHECK(mrt_startm(create_probe, NULL, NULL) == 1); /* M1 */
		} else if (k == 1) {
			CHILD_CHECK(mrt_newm(probe_fn, NULL, NULL) > 0);
		} else {
			ev_add(&other_go, 1);
			CHILD_CHECK(pthread_join(other, NULL) == 0);
			CHILD_CHECK(ev_get(&other_made) == 1);
		}
		ev_wait(&probe_done, n + 1);
		if (strcmp(probe_comm, want) != 0)
			mrt_dprintf(2, "probe %d: named \"%s\", not \"%s\"\n", k, probe_comm, want);
		CHILD_CHECK(strcmp(probe_comm, want) == 0);
		if (uid >= 0)
			CHILD_CHECK(probe_uid[0] == uid && probe_uid[1] == uid && probe_uid[2] == uid);
	}
}

static void child_names(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	start_every_kind();
	start_other();
	char before[32], now[32];
	comm_of(other_tid, before, sizeof before);
	CHILD_CHECK(mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)"ats-name", 0, 0, 0, 0) == 0);
	/* m0, the parked M, the blocked reader, both spinners, the template
	 * thread: every thread but the one that is not an M, which is the
	 * program's and is not reached. */
	check_names("ats-name", 1);
	comm_of(other_tid, now, sizeof now);
	CHILD_CHECK(strcmp(now, before) == 0);
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.live == 6);
	after_the_call("ats-name", -1);
}

/*
 * ThreadSanitizer runs an asynchronous signal's handler only at the
 * thread's next intercepted libc call (see test_signal.c), and an M parked
 * or blocked in mrt's raw futex makes none: there a call that signals the
 * Ms may wait for ever (8 of 9 runs of this suite hung under TSan). The
 * cases that need the Ms' handlers to run are not run under TSan.
 */
static void need_signals_delivered(void)
{
#if MRT_TSAN
	print_message("skipped: ThreadSanitizer delivers an M's signal only at its next "
	              "intercepted libc call, which a parked M never makes\n");
	skip();
#endif
}

/*
 * One call renames every M — m0 (the caller), an M parked in mrt_stopm, one
 * blocked in read(2), one spinning on g0, one spinning on a user g, the
 * template thread — every thread of the process but one that is not an M,
 * which is the program's; the read goes on and returns its byte afterwards
 * (SA_RESTART); and the Ms created afterwards, by an M created before, by
 * m0, and by that thread that took no part (the template thread makes
 * it), are named alike. #14 item 4.
 */
static void test_call_reaches_every_m(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_names, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * Credentials, as root
 * ------------------------------------------------------------------------ */

static void child_setresuid(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	char name[16];
	CHILD_CHECK(rawsys(SYS_prctl, PR_GET_NAME_, (long)name, 0) == 0);
	start_every_kind();
	start_other();
	long nobody = 65534;
	CHILD_CHECK(mrt_allthreadssyscall(SYS_setresuid, nobody, nobody, nobody, 0, 0, 0) == 0);
	/* Every task: every M's thread, and no other but the host's. */
	struct tids s;
	m_tids(&s);
	long u[4];
	for (int i = 0; i < s.n; i++) {
		CHILD_CHECK(uids_of(s.t[i], u));
		CHILD_CHECK(u[0] == nobody && u[1] == nobody && u[2] == nobody && u[3] == nobody);
	}
	/* The thread that is not an M is the program's: not reached. */
	CHILD_CHECK(uids_of(other_tid, u) && u[0] == 0 && u[1] == 0);
	DIR *d = opendir("/proc/self/task");
	CHILD_CHECK(d != NULL);
	int root = 0, all = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == other_tid)
			continue;
		all++;
		CHILD_CHECK(uids_of(atoi(e->d_name), u));
		root += u[0] != nobody || u[1] != nobody || u[2] != nobody || u[3] != nobody;
	}
	closedir(d);
	CHILD_CHECK(all >= s.n && root <= hostthreads);
	after_the_call(name, nobody);
}

/*
 * As root (in a child process): after mrt_allthreadssyscall(SYS_setresuid,
 * 65534, 65534, 65534) every task in /proc/self/task runs as 65534 —
 * m0, Ms parked, blocked, running, the template thread — but the one
 * thread that is not an M (still root: the program's), and so do Ms
 * created afterwards, by an M created before, by m0, and by that root
 * thread (#14 item 4: the security fact; a setuid() on m0 reaches no M in
 * the clone model). Skipped when not root.
 */
static void test_setresuid_reaches_every_task(void **state)
{
	(void)state;
	need_signals_delivered();
	if (geteuid() != 0) {
		print_message("skipped: not root (setresuid to another user needs CAP_SETUID)\n");
		skip();
	}
	struct child c;
	run_child(child_setresuid, 60, &c);
	assert_child_ok(&c);
}

static void child_all_or_nothing(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) == 1);
	wait_idle(1);
	/* m0 alone drops root, raw (glibc spreads nothing). */
	CHILD_CHECK(rawsys(SYS_setresuid, 65534, 65534, 65534) == 0);
	/* As nobody it cannot become 1000; M1, root, could. */
	CHILD_CHECK(mrt_allthreadssyscall(SYS_setresuid, 1000, 1000, 1000, 0, 0, 0) == -EPERM);
	long u[4];
	CHILD_CHECK(uids_of(tid_of(1), u));
	CHILD_CHECK(u[0] == 0 && u[1] == 0 && u[2] == 0);
	CHILD_CHECK(uids_of(mrt_gettid(), u) && u[0] == 65534);
}

/* A call that fails on the calling thread is not made anywhere else: its
 * error is returned, and the Ms are as they were (#14 item 4). As root. */
static void test_failed_on_caller_is_not_spread(void **state)
{
	(void)state;
	need_signals_delivered();
	if (geteuid() != 0) {
		print_message("skipped: not root (a call that fails on the caller only needs "
		              "two users)\n");
		skip();
	}
	struct child c;
	run_child(child_all_or_nothing, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * Results compared
 * ------------------------------------------------------------------------ */

static void child_mismatch(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) == 1);
	wait_idle(1);
	int fd = open("/dev/null", O_RDONLY);
	CHILD_CHECK(fd >= 0);
	/* The fd table is shared: the caller's close succeeds, every other
	 * M's fails with EBADF. */
	CHILD_CHECK(mrt_allthreadssyscall(SYS_close, fd, 0, 0, 0, 0, 0) == -ENOTRECOVERABLE);
	const char *msg = mrt_errmsg();
	CHILD_CHECK(strstr(msg, "returned -9 where the calling thread had 0") != NULL);
	/* The first M that differed: M1, or the template thread (M2). */
	CHILD_CHECK(strstr(msg, ": M1 returned") != NULL || strstr(msg, ": M2 returned") != NULL);
	/* The Ms are not harmed: the parked one takes work. */
	CHILD_CHECK(mrt_startm(fn_exit, NULL, NULL) == 1);
	CHILD_CHECK(mrt_join(1) == 0);
}

/* An M whose result differs from the caller's: -ENOTRECOVERABLE, and
 * mrt_errmsg names the M and both results (#14 item 4). */
static void test_mismatch_names_the_m(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_mismatch, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * No M is born while the call runs
 * ------------------------------------------------------------------------ */

static uint32_t held, release, m1go, m1about, m1returned;
static int32_t m1tid;
static long callres;

static void hold_hook(int tp, void *arg)
{
	(void)arg;
	if (tp != TP_ALLTHREADS)
		return;
	ev_add(&held, 1);
	ev_block(&release, 1);
}

static void *caller_thread(void *arg)
{
	/* Atomic: the main thread watches it before the join. */
	__atomic_store_n(&callres, mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)arg, 0, 0, 0, 0),
	                 __ATOMIC_RELEASE);
	return NULL;
}

/* Made before the call; asked during it to create an M. */
static void m1_creates(void *arg)
{
	(void)arg;
	m1tid = mrt_gettid();
	ev_block(&m1go, 1);
	ev_add(&m1about, 1);
	CHILD_CHECK(mrt_newm(probe_fn, NULL, NULL) > 0);
	ev_add(&m1returned, 1);
	mrt_stopm();
}

static void child_births_held(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	/* The template thread first, so that the counts below are the call's
	 * own. */
	CHILD_CHECK(mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)"first", 0, 0, 0, 0) == 0);
	CHILD_CHECK(mrt_newm(m1_creates, NULL, NULL) > 0);
	mrt_test_pointhook(hold_hook);
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, caller_thread, (void *)"held-name") == 0);
	ev_wait(&held, 1); /* made on the caller, births held, no M asked */
	mrt_test_pointhook(NULL);
	struct mrt_mstats st0, st;
	CHILD_CHECK(mrt_mstats(&st0) == 0);

	/* M1 asks for an M: it must wait for the call, asleep. */
	ev_add(&m1go, 1);
	ev_wait(&m1about, 1);
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (thread_state(m1tid) != 'S' && mrt_nanotime() < deadline)
		sched_yield();
	CHILD_CHECK(thread_state(m1tid) == 'S');
	CHILD_CHECK(ev_get(&m1returned) == 0);
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.created == st0.created);
	CHILD_CHECK(ev_get(&probe_done) == 0);

	/* The call goes on, M1 takes part in it, and only then is its M
	 * born: cloned from M1, it has the new name. */
	ev_add(&release, 1);
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	CHILD_CHECK(callres == 0);
	ev_wait(&probe_done, 1);
	ev_wait(&m1returned, 1);
	CHILD_CHECK(strcmp(probe_comm, "held-name") == 0);
}

/*
 * While a call runs no M is born (#14 item 4): a test hook holds the call
 * after the calling thread made it, and an M created before asks for a new
 * M — it sleeps in mrt_newm, and no id is taken. Released, the call
 * reaches that M (asleep in the births lock), and the M it then creates is
 * a clone of one that made the call.
 */
static void test_no_m_is_born_during_the_call(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_births_held, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * An M asked while it ends
 * ------------------------------------------------------------------------ */

static uint32_t exiting_held, exiting_release;
static void *exiting_m;

static void exit_hook(int tp, void *arg)
{
	if (tp != TP_MEXIT || exiting_m != NULL)
		return;
	exiting_m = arg;
	ev_add(&exiting_held, 1);
	ev_block(&exiting_release, 1);
}

static void child_exiting(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	/* The template thread first: the hook is for M2's end only. */
	CHILD_CHECK(mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)"first", 0, 0, 0, 0) == 0);
	mrt_test_pointhook(exit_hook);
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id == 2);
	ev_wait(&exiting_held, 1); /* in mexit, signals down, on allm */
	__atomic_store_n(&callres, 1, __ATOMIC_RELAXED);
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, caller_thread, (void *)"while-exiting") == 0);
	/* The call asks M2 too. In the pthread model M2 blocks every signal
	 * by now and its handler cannot run: the call waits with M2 asked.
	 * In the clone model nothing is blocked, and M2 may answer. */
	m *m2 = exiting_m;
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (__atomic_load_n(&m2->allthreads, __ATOMIC_ACQUIRE) != ATS_ASKED &&
	       __atomic_load_n(&callres, __ATOMIC_ACQUIRE) == 1 && mrt_nanotime() < deadline)
		sched_yield();
	if (pthread_model())
		CHILD_CHECK(__atomic_load_n(&m2->allthreads, __ATOMIC_ACQUIRE) == ATS_ASKED &&
		            __atomic_load_n(&callres, __ATOMIC_ACQUIRE) == 1);
	ev_add(&exiting_release, 1);
	/* Leaving allm, M2 gives its part back: the call ends. */
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	CHILD_CHECK(callres == 0);
	mrt_test_pointhook(NULL);
	CHILD_CHECK(mrt_join(id) == 0);
	/* M2's pthread may still be finishing libc's exit, named as it was. */
	check_names("while-exiting", 1);
}

/* An M asked while it ends (held by a test hook in mexit, its signals
 * taken down, still on allm) gives its part of the call back as it leaves
 * allm: the call ends, instead of waiting for a handler that cannot run
 * there (the pthread model blocks every signal at an M's end). */
static void test_m_ending_during_the_call_gives_it_back(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_exiting, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * An M that blocks the signal
 * ------------------------------------------------------------------------ */

static uint32_t blocked_in, unblock_now;
static int32_t blocktid;
static m *blockm;

static void blocking_m(void *arg)
{
	(void)arg;
	uint64_t set = 1ull << (cfg.allthreadssig - 1);
	blocktid = mrt_gettid();
	blockm = getm();
	CHILD_CHECK(arch_syscall6(SYS_rt_sigprocmask, 0 /* SIG_BLOCK */, (long)&set, 0, 8, 0,
	                          0) == 0);
	ev_add(&blocked_in, 1);
	ev_block(&unblock_now, 1);
	CHILD_CHECK(arch_syscall6(SYS_rt_sigprocmask, 1 /* SIG_UNBLOCK */, (long)&set, 0, 8, 0,
	                          0) == 0);
	mrt_stopm();
}

/* The signals pending on thread tid alone (SigPnd of its status). */
static uint64_t sigpnd(int32_t tid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
	FILE *f = fopen(path, "r");
	uint64_t v = 0;
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "SigPnd:", 7) == 0)
			v = strtoull(line + 7, NULL, 16);
	if (f != NULL)
		fclose(f);
	return v;
}

static void dump_asked(const char *why);

/* Waits (at most 30 s) for the call of caller_thread to end; if it does
 * not, names every M still asked, with its state and its thread's pending
 * and blocked signals, before the check fails: a hang says where. */
static void call_ends_or_says_why(void)
{
	int64_t deadline = mrt_nanotime() + 30 * 1000000000LL;
	while (__atomic_load_n(&callres, __ATOMIC_ACQUIRE) == 1 && mrt_nanotime() < deadline)
		sched_yield();
	if (__atomic_load_n(&callres, __ATOMIC_ACQUIRE) != 1)
		return;
	dump_asked("the call has not ended");
	CHILD_CHECK(__atomic_load_n(&callres, __ATOMIC_ACQUIRE) != 1);
}

/* Every M, with its request and its thread's pending and blocked signals. */
static void dump_asked(const char *why)
{
	mrt_dprintf(2, "%s: %u Ms pending\n", why,
	            __atomic_load_n(&allthreadspending, __ATOMIC_ACQUIRE));
	for (m *mp = load_acquire(&allm); mp != NULL; mp = load_acquire(&mp->alllink))
		mrt_dprintf(2, "  M%lld tid %d status %u allthreads %u SigPnd %llx SigBlk %llx\n",
		            (long long)mp->id, mp->procid, mp->status, mp->allthreads,
		            (unsigned long long)sigpnd(mp->procid),
		            (unsigned long long)thread_sigblk(mp->procid));
}

static void child_blocked(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_newm(blocking_m, NULL, NULL) == 1);
	ev_wait(&blocked_in, 1);
	__atomic_store_n(&callres, 1, __ATOMIC_RELAXED);
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, caller_thread, (void *)"late") == 0);
	/* The signal reaches M1 and waits there, and so does the call. Under
	 * QEMU user mode the emulator takes the host's signal and keeps it
	 * for the guest itself: nothing is pending in /proc, and only M1's
	 * request, stored before the send, says the call has reached it. */
	uint64_t bit = 1ull << (cfg.allthreadssig - 1);
	int64_t deadline = mrt_nanotime() + 20 * 1000000000LL;
	while ((emulated ? __atomic_load_n(&blockm->allthreads, __ATOMIC_ACQUIRE) != ATS_ASKED
	                 : (sigpnd(blocktid) & bit) == 0) &&
	       mrt_nanotime() < deadline)
		sched_yield();
	if (mrt_nanotime() >= deadline)
		dump_asked("M1 was not asked");
	CHILD_CHECK(emulated ? __atomic_load_n(&blockm->allthreads, __ATOMIC_ACQUIRE) == ATS_ASKED
	                     : (sigpnd(blocktid) & bit) != 0);
	CHILD_CHECK(__atomic_load_n(&callres, __ATOMIC_ACQUIRE) == 1);
	/* Let through, it runs on M1, and the call is done. */
	ev_add(&unblock_now, 1);
	call_ends_or_says_why();
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	CHILD_CHECK(callres == 0);
	char got[32];
	comm_of(blocktid, got, sizeof got);
	CHILD_CHECK(strcmp(got, "late") == 0);
}

/* An M that blocks the signal holds the call until it lets it through (as
 * Go requires; mrt.h says so): the call is not lost, nor made without it. */
static void test_blocked_signal_holds_the_call(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_blocked, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * Attached Ms: threads mrt did not make (mrt_needm)
 * ------------------------------------------------------------------------ */

static uint32_t att_in, att_go, att_dropped;
static int32_t att_tid;
static char att_comm[16];
static bool att_block; /* the thread blocks the signal, as its own mask */
static m *att_m;

/* A thread of the program's: attached, waits, reads its name, drops its M,
 * waits again, then lets the signal through (if it blocked it). */
static void *attached_thread(void *arg)
{
	(void)arg;
	att_tid = mrt_gettid();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, cfg.allthreadssig);
	if (att_block)
		CHILD_CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);
	CHILD_CHECK(mrt_needm() > 0);
	att_m = getm();
	ev_add(&att_in, 1);
	ev_block(&att_go, 1);
	CHILD_CHECK(rawsys(SYS_prctl, PR_GET_NAME_, (long)att_comm, 0) == 0);
	CHILD_CHECK(mrt_dropm() == 0);
	ev_add(&att_dropped, 1);
	ev_block(&att_go, 2);
	/* No M now: a signal still pending runs a handler that finds none. */
	if (att_block)
		CHILD_CHECK(pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0);
	return NULL;
}

static void child_attached(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, attached_thread, NULL) == 0);
	ev_wait(&att_in, 1);
	CHILD_CHECK(mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)"ats-att", 0, 0, 0, 0) == 0);
	char got[32];
	comm_of(att_tid, got, sizeof got);
	CHILD_CHECK(strcmp(got, "ats-att") == 0);
	ev_add(&att_go, 1);
	ev_wait(&att_dropped, 1);
	CHILD_CHECK(strcmp(att_comm, "ats-att") == 0); /* as the thread sees it */
	ev_add(&att_go, 1);
	CHILD_CHECK(pthread_join(t, NULL) == 0);
}

/* The call reaches an attached M: a thread of the program's that called
 * mrt_needm makes it too (#14 items 1 and 4). */
static void test_call_reaches_an_attached_m(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_attached, 60, &c);
	assert_child_ok(&c);
}

static void child_attached_drops(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	att_block = true;
	pthread_t t, caller;
	CHILD_CHECK(pthread_create(&t, NULL, attached_thread, NULL) == 0);
	ev_wait(&att_in, 1);
	char before[32];
	comm_of(att_tid, before, sizeof before);
	__atomic_store_n(&callres, 1, __ATOMIC_RELAXED);
	CHILD_CHECK(pthread_create(&caller, NULL, caller_thread, (void *)"drop-name") == 0);
	/* The call has asked the attached M, whose mask holds the signal. */
	int64_t deadline = mrt_nanotime() + 50 * 1000000000LL;
	while (__atomic_load_n(&att_m->allthreads, __ATOMIC_ACQUIRE) != ATS_ASKED &&
	       mrt_nanotime() < deadline)
		sched_yield();
	CHILD_CHECK(__atomic_load_n(&att_m->allthreads, __ATOMIC_ACQUIRE) == ATS_ASKED);
	CHILD_CHECK(__atomic_load_n(&callres, __ATOMIC_ACQUIRE) == 1);
	/* It drops its M: the request goes back with it, and the call ends. */
	ev_add(&att_go, 1);
	CHILD_CHECK(pthread_join(caller, NULL) == 0);
	CHILD_CHECK(callres == 0);
	/* The thread was never reached, and is not once it lets the signal
	 * through without an M. */
	ev_add(&att_go, 1);
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	char after[32];
	CHILD_CHECK(strcmp(att_comm, before) == 0);
	comm_of(mrt_gettid(), after, sizeof after);
	CHILD_CHECK(strcmp(after, "drop-name") == 0);
}

/* An attached M asked while its thread blocks the signal, which then drops
 * the M (mrt_dropm): it gives its part of the call back as it leaves allm,
 * as an ending M does, and the call ends instead of waiting for a thread
 * that is no M any more (#14 items 1 and 4). */
static void test_attached_m_dropped_during_the_call_gives_it_back(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_attached_drops, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * The signal: the program's handler, another number, the init mask
 * ------------------------------------------------------------------------ */

static void theirs(int sig)
{
	(void)sig;
}

static void child_signal_busy(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	char before[32], now[32];
	CHILD_CHECK(rawsys(SYS_prctl, PR_GET_NAME_, (long)before, 0) == 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = theirs;
	CHILD_CHECK(sigaction(62, &sa, NULL) == 0);
	CHILD_CHECK(mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)"no", 0, 0, 0, 0) == -EBUSY);
	CHILD_CHECK(strstr(mrt_errmsg(), "signal 62 has a handler") != NULL);
	CHILD_CHECK(rawsys(SYS_prctl, PR_GET_NAME_, (long)now, 0) == 0 && strcmp(now, before) == 0);
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.created == 1); /* not even the template */
}

static void child_signal_other(void)
{
	struct mrt_config c = CFG(.allthreads_signal = 50);
	CHILD_CHECK(mrt_init(&c) == 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = theirs;
	CHILD_CHECK(sigaction(62, &sa, NULL) == 0); /* theirs; 50 is mrt's */
	CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) == 1);
	wait_idle(1);
	CHILD_CHECK(mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)"fifty", 0, 0, 0, 0) == 0);
	check_names("fifty", 0);
}

static void child_signal_masked(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, 62);
	CHILD_CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
	CHILD_CHECK(mrt_init(NULL) == 0); /* the init mask blocks 62 */
	CHILD_CHECK(mrt_allthreadssyscall(SYS_prctl, PR_SET_NAME_, (long)"no", 0, 0, 0, 0) == -EINVAL);
	CHILD_CHECK(strstr(mrt_errmsg(), "init mask blocks signal 62") != NULL);
}

/* The signal is the program's choice (allthreads_signal); one the program
 * handles itself is not taken (-EBUSY), nor used when every M would block
 * it (-EINVAL); either way nothing is done. */
static void test_signal_is_configurable_and_never_stolen(void **state)
{
	(void)state;
	need_signals_delivered();
	struct child c;
	run_child(child_signal_busy, 60, &c);
	assert_child_ok(&c);
	run_child(child_signal_other, 60, &c);
	assert_child_ok(&c);
	run_child(child_signal_masked, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------ */

static void child_not_inited(void)
{
	CHILD_CHECK(mrt_allthreadssyscall(SYS_getpid, 0, 0, 0, 0, 0, 0) == -EINVAL);
}

static void test_call_before_init_is_refused(void **state)
{
	(void)state;
	struct child c;
	run_child(child_not_inited, 30, &c);
	assert_child_ok(&c);
}

#else /* Darwin */

static void child_enosys(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_allthreadssyscall(0, 0, 0, 0, 0, 0, 0) == -ENOSYS);
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.created == 1); /* nothing done */
}

/* Darwin's credentials are the process's: the call is -ENOSYS, and does
 * nothing (not even start the template thread). */
static void test_darwin_has_no_per_thread_call(void **state)
{
	(void)state;
	struct child c;
	run_child(child_enosys, 30, &c);
	assert_child_ok(&c);
}
#endif

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
#if OS_ALLTHREADSSIG != 0
		cmocka_unit_test(test_call_reaches_every_m),
		cmocka_unit_test(test_setresuid_reaches_every_task),
		cmocka_unit_test(test_failed_on_caller_is_not_spread),
		cmocka_unit_test(test_mismatch_names_the_m),
		cmocka_unit_test(test_no_m_is_born_during_the_call),
		cmocka_unit_test(test_m_ending_during_the_call_gives_it_back),
		cmocka_unit_test(test_blocked_signal_holds_the_call),
		cmocka_unit_test(test_call_reaches_an_attached_m),
		cmocka_unit_test(test_attached_m_dropped_during_the_call_gives_it_back),
		cmocka_unit_test(test_signal_is_configurable_and_never_stolen),
		cmocka_unit_test(test_call_before_init_is_refused),
#else
		cmocka_unit_test(test_darwin_has_no_per_thread_call),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
