/*
 * test_locked.c — a thread's own state (#14 items 2 and 3): locked gs
 * (mrt_lockosthread), tainted Ms (mrt_mtaint) and the template thread that
 * creates Ms for them, so that what such a thread changed — its CPU
 * affinity, an unshared cwd, its name — never reaches another M.
 *
 * Every case runs in a child process that calls mrt_init itself: the
 * template thread, once started, never exits, and a regression that hangs
 * (a join of an M that parked when it should have ended) dies of the
 * child's alarm instead of stalling the suite.
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include "sys_linux.h"
#endif

/* ------------------------------------------------------------------------
 * Helpers. M-safe: the runner, copymsg.
 * ------------------------------------------------------------------------ */

/* Copies the calling thread's mrt_errmsg into buf (M-safe: no libc). */
static void copymsg(char *buf, size_t n)
{
	const char *s = mrt_errmsg();
	size_t i = 0;
	for (; s[i] != '\0' && i + 1 < n; i++)
		buf[i] = s[i];
	buf[i] = '\0';
}

/* An M that resumes the gs it is told to, one at a time, and says what
 * mrt_gogo returned (with mrt_errmsg). A NULL g ends it. */
struct runner {
	uint32_t cmd, done;
	mrt_g *g;
	int res;
	char msg[160];
	int64_t id;
};

static void runner_fn(void *arg)
{
	struct runner *r = arg;
	for (uint32_t k = 1;; k++) {
		ev_block(&r->cmd, k);
		mrt_g *g = r->g;
		if (g == NULL)
			return;
		r->res = mrt_gogo(g);
		copymsg(r->msg, sizeof r->msg);
		ev_add(&r->done, 1);
	}
}

static void runner_start(struct runner *r)
{
	memset(r, 0, sizeof *r);
	r->id = mrt_newm(runner_fn, r, NULL);
	CHILD_CHECK(r->id > 0);
}

/* Has r resume g; returns mrt_gogo's result there, once g switched back to
 * r's g0 (or ended), or at once for a refusal. */
static int run_on(struct runner *r, mrt_g *g)
{
	uint32_t n = ev_get(&r->done);
	r->g = g;
	ev_add(&r->cmd, 1);
	ev_block(&r->done, n + 1);
	return r->res;
}

static void runner_stop(struct runner *r)
{
	r->g = NULL;
	ev_add(&r->cmd, 1);
	CHILD_CHECK(mrt_join(r->id) == 0);
}

static mrt_g *newg(mrt_fn fn, void *arg)
{
	mrt_g *g;
	CHILD_CHECK(mrt_malg(&g, 64 << 10) == 0);
	CHILD_CHECK(mrt_gostart(g, fn, arg) == 0);
	return g;
}

static void g_return(void *arg)
{
	(void)arg;
}

/* The mrt_dump line of M id, without its newline, into buf. */
static bool dumpline(int64_t id, char *buf, size_t n)
{
	char out[8192];
	FILE *f = tmpfile();
	CHILD_CHECK(f != NULL);
	CHILD_CHECK(mrt_dump(fileno(f)) > 0);
	rewind(f);
	size_t k = fread(out, 1, sizeof out - 1, f);
	out[k] = '\0';
	fclose(f);
	char key[32];
	snprintf(key, sizeof key, "  M%-5lld ", (long long)id);
	char *l = strstr(out, key);
	if (l == NULL)
		return false;
	size_t len = strcspn(l, "\n");
	snprintf(buf, n, "%.*s", (int)len, l);
	return true;
}

#if defined(__linux__)
/* In a child: waits until tid has left /proc/self/task (testlib's
 * wait_thread_gone, whose cmocka fail() belongs to the parent). The kernel
 * thread may outlive the join by a moment; a thread that stays 60 s, parked
 * somewhere instead of ended, fails. */
static void child_thread_gone(int32_t tid)
{
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (thread_exists(tid) && mrt_nanotime() < deadline)
		sched_yield();
	CHILD_CHECK(!thread_exists(tid));
}
#endif

/* ------------------------------------------------------------------------
 * Locked gs: where they may run, and what they may share an M with
 * ------------------------------------------------------------------------ */

static int64_t lg_m, lg_m2;

/* Locked twice, unlocked twice (and once more, a no-op), coming back to
 * whichever runner resumed it in between. */
static void lg_body(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_lockosthread() == 0);
	CHILD_CHECK(mrt_lockosthread() == 0);
	lg_m = mrt_mid();
	CHILD_CHECK(mrt_gogo(mrt_getg0()) == 0); /* its own g0: allowed */
	CHILD_CHECK(mrt_mid() == lg_m);
	CHILD_CHECK(mrt_unlockosthread() == 0); /* still locked once */
	CHILD_CHECK(mrt_gogo(mrt_getg0()) == 0);
	CHILD_CHECK(mrt_mid() == lg_m);
	CHILD_CHECK(mrt_unlockosthread() == 0); /* unwired */
	CHILD_CHECK(mrt_unlockosthread() == 0); /* not locked: nothing to undo */
	CHILD_CHECK(mrt_gogo(mrt_getg0()) == 0);
	lg_m2 = mrt_mid();
}

static void child_locked_g_stays(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	struct runner r1, r2;
	runner_start(&r1);
	runner_start(&r2);
	mrt_g *lg = newg(lg_body, NULL);
	mrt_g *og = newg(g_return, NULL);
	char key[64];

	CHILD_CHECK(run_on(&r1, lg) == 0); /* locked to M1, suspended */
	CHILD_CHECK(lg_m == r1.id);
	/* Not on another M, nor on m0. */
	CHILD_CHECK(run_on(&r2, lg) == -EPERM);
	snprintf(key, sizeof key, "is locked to M%lld", (long long)r1.id);
	CHILD_CHECK(strstr(r2.msg, key) != NULL);
	CHILD_CHECK(mrt_gogo(lg) == -EPERM);
	/* M1 runs nothing else. */
	CHILD_CHECK(run_on(&r1, og) == -EPERM);
	CHILD_CHECK(strstr(r1.msg, "runs only its locked g") != NULL);
	CHILD_CHECK(mrt_gstatus(og) == MRT_G_RUNNABLE);
	char line[256];
	CHILD_CHECK(dumpline(r1.id, line, sizeof line));
	snprintf(key, sizeof key, " locked g%lld", (long long)mrt_gid(lg));
	CHILD_CHECK(strstr(line, key) != NULL);

	/* Nested: one unlock leaves it locked. */
	CHILD_CHECK(run_on(&r1, lg) == 0);
	CHILD_CHECK(run_on(&r2, lg) == -EPERM);
	CHILD_CHECK(run_on(&r1, og) == -EPERM);
	/* The second unwires it: M1 runs other gs, and the g runs anywhere. */
	CHILD_CHECK(run_on(&r1, lg) == 0);
	CHILD_CHECK(run_on(&r1, og) == 0);
	CHILD_CHECK(mrt_gstatus(og) == MRT_G_DEAD);
	CHILD_CHECK(dumpline(r1.id, line, sizeof line) && strstr(line, " locked") == NULL);
	CHILD_CHECK(run_on(&r2, lg) == 0);
	CHILD_CHECK(lg_m2 == r2.id);
	CHILD_CHECK(mrt_gstatus(lg) == MRT_G_DEAD);

	/* Neither M was locked at its end: both end as usual. */
	runner_stop(&r1);
	runner_stop(&r2);
	CHILD_CHECK(mrt_gfree(lg) == 0 && mrt_gfree(og) == 0);
}

/* A locked g runs on its M only, and that M runs it and its g0 only
 * (#14 item 2); the lock nests, and undone it leaves both free. */
static void test_locked_g_cannot_run_elsewhere(void **state)
{
	(void)state;
	struct child c;
	run_child(child_locked_g_stays, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * The end of a locked g ends its M
 * ------------------------------------------------------------------------ */

enum { END_RETURN, END_MEXIT, END_STOPM };
static int endhow;
static uint32_t after_g; /* the M's function went on after its locked g: it must not */
static int32_t endtid;

static void lockend_g(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_lockosthread() == 0);
	if (endhow == END_MEXIT)
		mrt_mexit();
	if (endhow == END_STOPM)
		mrt_stopm();
}

static mrt_g *endg;

static void lockend_m(void *arg)
{
	(void)arg;
	endtid = mrt_gettid();
	mrt_gogo(endg);
	/* Only if the M was not ended with its g. */
	ev_add(&after_g, 1);
	mrt_stopm();
}

static void child_locked_end(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	for (endhow = END_RETURN; endhow <= END_STOPM; endhow++) {
		endg = newg(lockend_g, NULL);
		struct mrt_mstats st0, st;
		CHILD_CHECK(mrt_mstats(&st0) == 0);
		int64_t id = mrt_newm(lockend_m, NULL, NULL);
		CHILD_CHECK(id > 0);
		/* A parked M would never be joined: the alarm would end us. */
		CHILD_CHECK(mrt_join(id) == 0);
		CHILD_CHECK(ev_get(&after_g) == 0);
		CHILD_CHECK(mrt_mstats(&st) == 0);
		CHILD_CHECK(st.idle == 0 && st.freed == st0.freed + 1);
		CHILD_CHECK(mrt_gstatus(endg) == MRT_G_DEAD);
		/* Dead and unlocked: it starts afresh and runs anywhere. */
		CHILD_CHECK(mrt_gostart(endg, g_return, NULL) == 0);
		CHILD_CHECK(mrt_gogo(endg) == 0);
		CHILD_CHECK(mrt_gfree(endg) == 0);
#if defined(__linux__)
		/* The thread itself is gone, not parked somewhere. */
		child_thread_gone(endtid);
#endif
	}
}

/* A g that ends while locked takes its M with it (Go 1.10): it returns,
 * calls mrt_mexit or mrt_stopm; each time the M ends — its thread leaves
 * /proc/self/task — instead of going back to its function or parking
 * (#14 item 2). */
static void test_locked_g_end_ends_its_m(void **state)
{
	(void)state;
	struct child c;
	run_child(child_locked_end, 60, &c);
	assert_child_ok(&c);
}

/* A g locked to an M that parks from g0, with the g suspended: the M ends
 * rather than park (no mrt_startm may hand it work), and the g, whose
 * thread is gone, can never run again. */
static mrt_g *orphan;

static void orphan_g(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_lockosthread() == 0);
	mrt_gogo(mrt_getg0());
	CHILD_CHECK(0); /* never resumed */
}

static void orphan_m(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_gogo(orphan) == 0);
	mrt_stopm(); /* from g0, the locked g suspended */
	ev_add(&after_g, 1);
}

static void child_orphan(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	orphan = newg(orphan_g, NULL);
	int64_t id = mrt_newm(orphan_m, NULL, NULL);
	CHILD_CHECK(id > 0);
	CHILD_CHECK(mrt_join(id) == 0);
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.idle == 0);
	CHILD_CHECK(mrt_gstatus(orphan) == MRT_G_RUNNABLE);
	CHILD_CHECK(mrt_gogo(orphan) == -EPERM);
	CHILD_CHECK(strstr(mrt_errmsg(), "locked to an M that has ended") != NULL);
	CHILD_CHECK(mrt_gostart(orphan, g_return, NULL) == -EINVAL); /* runnable */
	CHILD_CHECK(mrt_gfree(orphan) == 0);
	/* startm finds no idle M: it creates one. */
	int64_t id2 = mrt_startm(fn_exit, NULL, NULL);
	CHILD_CHECK(id2 > id);
	CHILD_CHECK(mrt_join(id2) == 0);
	CHILD_CHECK(ev_get(&after_g) == 0);
}

static void test_locked_m_never_parks(void **state)
{
	(void)state;
	struct child c;
	run_child(child_orphan, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * Tainted Ms
 * ------------------------------------------------------------------------ */

static void taint_park(void *arg)
{
	(void)arg;
	endtid = mrt_gettid();
	CHILD_CHECK(mrt_mtaint() == 0);
	CHILD_CHECK(mrt_mtaint() == 0); /* for good: again is the same */
	mrt_stopm();
	ev_add(&after_g, 1);
}

static void child_taint(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	struct mrt_mstats st0, st;
	CHILD_CHECK(mrt_mstats(&st0) == 0);
	int64_t id = mrt_newm(taint_park, NULL, NULL);
	CHILD_CHECK(id > 0);
	CHILD_CHECK(mrt_join(id) == 0); /* it ended instead of parking */
	CHILD_CHECK(ev_get(&after_g) == 0);
	CHILD_CHECK(mrt_mstats(&st) == 0);
	/* It and the template thread its mrt_mtaint started were created;
	 * it ended, and it was never idle. */
	CHILD_CHECK(st.created == st0.created + 2 && st.freed == st0.freed + 1);
	CHILD_CHECK(st.idle == 0 && st.live == st0.live + 1);
#if defined(__linux__)
	child_thread_gone(endtid);
#endif
	/* mrt_mtaint is for Ms only. */
	CHILD_CHECK(mrt_mtaint() == 0); /* m0: cannot end, but is tainted */
	char line[256];
	CHILD_CHECK(dumpline(0, line, sizeof line) && strstr(line, " tainted") != NULL);
}

/* A tainted M never goes back to the idle list: mrt_stopm ends it, and its
 * thread goes (#14 item 3). */
static void test_tainted_m_never_parks(void **state)
{
	(void)state;
	struct child c;
	run_child(child_taint, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * State does not propagate: Go's TestLockOSThreadAvoidsStatePropagation
 * ------------------------------------------------------------------------ */

#if defined(__linux__)
static long rawsys(long n, long a, long b, long c)
{
	return arch_syscall6(n, a, b, c, 0, 0, 0);
}

enum { NMASK = 16 };
struct threadstate {
	uint64_t mask[NMASK];
	char cwd[256];
	char comm[16];
	bool ok;
};

/* M-safe: the calling thread's affinity, cwd and name, by raw calls. */
static void readstate(struct threadstate *s)
{
	memset(s, 0, sizeof *s);
	long r1 = rawsys(SYS_sched_getaffinity, 0, sizeof s->mask, (long)s->mask);
	long r2 = rawsys(SYS_getcwd, (long)s->cwd, sizeof s->cwd, 0);
	long r3 = rawsys(SYS_prctl, 16 /* PR_GET_NAME */, (long)s->comm, 0);
	s->ok = r1 > 0 && r2 > 0 && r3 == 0;
}

static struct threadstate m0state, changed, probed;
static uint64_t onecpu[NMASK];
static char newdir[4096]; /* realpath writes up to PATH_MAX */
static bool setaff;
static uint32_t probe_done;

static void probe_fn(void *arg)
{
	(void)arg;
	readstate(&probed);
	ev_add(&probe_done, 1);
}

/* On the calling M: another CPU affinity (when there is a CPU to drop), an
 * fs of its own with another cwd, another name; then an M from here. */
static void change_and_create(void)
{
	if (setaff)
		CHILD_CHECK(rawsys(SYS_sched_setaffinity, 0, sizeof onecpu, (long)onecpu) == 0);
	CHILD_CHECK(rawsys(SYS_unshare, 0x200 /* CLONE_FS */, 0, 0) == 0);
	CHILD_CHECK(rawsys(SYS_chdir, (long)newdir, 0, 0) == 0);
	CHILD_CHECK(rawsys(SYS_prctl, 15 /* PR_SET_NAME */, (long)"changed", 0) == 0);
	readstate(&changed);
	uint32_t n = ev_get(&probe_done);
	CHILD_CHECK(mrt_newm(probe_fn, NULL, NULL) > 0);
	ev_block(&probe_done, n + 1);
}

enum { HOW_LOCK, HOW_TAINT, HOW_ATTACHED, HOW_NONE };
static int how;

static void lockchange_g(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_lockosthread() == 0);
	change_and_create();
	/* Returning ends this M with its state (the test above). */
}

static void change_m(void *arg)
{
	(void)arg;
	if (how == HOW_LOCK) {
		mrt_gogo(newg(lockchange_g, NULL));
		return;
	}
	if (how == HOW_TAINT)
		CHILD_CHECK(mrt_mtaint() == 0);
	change_and_create();
	/* A changed M must not go back to the idle list: end it (the
	 * tainted one would anyway). */
	mrt_mexit();
}

/* A thread mrt did not make: attached, it changes and asks for an M. */
static void *attached_change(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_needm() > 0);
	change_and_create();
	CHILD_CHECK(mrt_dropm() == 0);
	return NULL;
}

static bool samestate(const struct threadstate *a, const struct threadstate *b)
{
	return memcmp(a->mask, b->mask, sizeof a->mask) == 0 && strcmp(a->cwd, b->cwd) == 0 &&
	       strcmp(a->comm, b->comm) == 0;
}

static void child_propagation(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	readstate(&m0state);
	CHILD_CHECK(m0state.ok);
	/* One CPU of m0's, if it has two to choose from. */
	int ncpus = 0, first = -1;
	for (int i = 0; i < NMASK * 64; i++)
		if (m0state.mask[i / 64] >> (i % 64) & 1) {
			ncpus++;
			if (first < 0)
				first = i;
		}
	setaff = ncpus >= 2;
	memset(onecpu, 0, sizeof onecpu);
	onecpu[first / 64] = 1ull << (first % 64);
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/mrt-locked-XXXXXX", test_tmpdir());
	CHILD_CHECK(mkdtemp(tmpl) != NULL);
	CHILD_CHECK(realpath(tmpl, newdir) != NULL);

	for (how = HOW_LOCK; how <= HOW_NONE; how++) {
		if (how == HOW_ATTACHED) {
			/* A thread of the program's, attached (#14 item 1). */
			pthread_t t;
			CHILD_CHECK(pthread_create(&t, NULL, attached_change, NULL) == 0);
			CHILD_CHECK(pthread_join(t, NULL) == 0);
		} else {
			int64_t id = mrt_newm(change_m, NULL, NULL);
			CHILD_CHECK(id > 0);
			CHILD_CHECK(mrt_join(id) == 0);
		}
		/* The change took on the changed M... */
		CHILD_CHECK(changed.ok && probed.ok);
		CHILD_CHECK(strcmp(changed.cwd, newdir) == 0 && strcmp(changed.comm, "changed") == 0);
		CHILD_CHECK(!setaff || memcmp(changed.mask, onecpu, sizeof onecpu) == 0);
		if (how == HOW_NONE) {
			/* ...and an M cloned from it has it too: what the
			 * template thread is for. */
			CHILD_CHECK(samestate(&probed, &changed));
		} else {
			/* ...but the M it asked for is m0's kind. */
			if (!samestate(&probed, &m0state))
				mrt_dprintf(2, "how %d: probe cwd %s comm %s, m0 cwd %s comm %s\n", how,
				            probed.cwd, probed.comm, m0state.cwd, m0state.comm);
			CHILD_CHECK(samestate(&probed, &m0state));
		}
	}
	rmdir(newdir);
}

/*
 * An M that changed its CPU affinity, its cwd (unshare(CLONE_FS) + chdir)
 * and its name with raw system calls, then asked for a new M: when a g is
 * locked to it, when it is tainted, when it is attached, the new M has m0's
 * affinity, cwd and name (the template thread made it; #14 item 3); an M
 * marked none of these passes all three on, which shows the probe sees
 * what a clone inherits. Go's TestLockOSThreadAvoidsStatePropagation.
 */
static void test_changed_m_does_not_propagate(void **state)
{
	(void)state;
	struct child c;
	run_child(child_propagation, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * m0: a locked g's end taints it
 * ------------------------------------------------------------------------ */

static void lock_and_return(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_lockosthread() == 0);
}

static void child_m0_locked_end(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	char line[256];
	mrt_g *g = newg(lock_and_return, NULL);
	CHILD_CHECK(mrt_gogo(g) == 0); /* m0 cannot end: it goes on */
	CHILD_CHECK(mrt_gstatus(g) == MRT_G_DEAD);
	CHILD_CHECK(dumpline(0, line, sizeof line) && strstr(line, " tainted") != NULL);
	CHILD_CHECK(strstr(line, " locked") == NULL);
	/* The g is unwired: m0 runs other gs. */
	CHILD_CHECK(mrt_gostart(g, g_return, NULL) == 0 && mrt_gogo(g) == 0);
	/* m0 changes its name; the M it asks for is made by the template
	 * thread, cloned when m0 still had its old one. */
	readstate(&m0state);
	CHILD_CHECK(rawsys(SYS_prctl, 15, (long)"m0-changed", 0) == 0);
	uint32_t n = ev_get(&probe_done);
	int64_t id = mrt_newm(probe_fn, NULL, NULL);
	CHILD_CHECK(id > 0);
	ev_wait(&probe_done, n + 1);
	CHILD_CHECK(strcmp(probed.comm, m0state.comm) == 0);
	CHILD_CHECK(mrt_join(id) == 0);
	/* The template is on allm, and says so. */
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.live == 2);
	CHILD_CHECK(dumpline(1, line, sizeof line) && strstr(line, " template") != NULL);
	CHILD_CHECK(mrt_gfree(g) == 0);
}

/* m0 cannot end with its locked g: the g's end unwires it and taints m0,
 * whose Ms the template thread makes from then on (#14 item 2). */
static void test_locked_g_end_on_m0_taints_it(void **state)
{
	(void)state;
	struct child c;
	run_child(child_m0_locked_end, 60, &c);
	assert_child_ok(&c);
}
#endif /* __linux__ */

/* ------------------------------------------------------------------------
 * The template thread's errors reach the caller
 * ------------------------------------------------------------------------ */

static void *attached_early(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_needm() > 0);
	CHILD_CHECK(mrt_starttemplatethread() == -EPERM);
	CHILD_CHECK(strstr(mrt_errmsg(), "cannot start the template thread") != NULL);
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0);
	CHILD_CHECK(mrt_join(id) == 0);
	CHILD_CHECK(mrt_dropm() == 0);
	return NULL;
}

/* m0 tainted with no room for the template thread: its Ms are refused. */
static void child_no_template(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_setmaxthreads(1) > 0);
	CHILD_CHECK(mrt_mtaint() == -EAGAIN); /* tainted all the same */
	CHILD_CHECK(mrt_setmaxthreads(100) == 1);
	CHILD_CHECK(mrt_newm(fn_exit, NULL, NULL) == -EPERM);
	CHILD_CHECK(strstr(mrt_errmsg(), "no template thread") != NULL);
	CHILD_CHECK(mrt_starttemplatethread() == -EPERM);
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.live == 1);
}

static void child_handoff_errors(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	/* An attached thread before any template thread: it cannot start
	 * one, and its Ms are cloned from it. */
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, attached_early, NULL) == 0);
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.live == 1 && st.created == 3);

	/* Started early from a clean m0, once. */
	CHILD_CHECK(mrt_starttemplatethread() == 0);
	CHILD_CHECK(mrt_starttemplatethread() == 0);
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.live == 2 && st.created == 4);
	char line[256];
	CHILD_CHECK(dumpline(3, line, sizeof line) && strstr(line, " template") != NULL);
	/* m0 tainted: the template thread makes its Ms from now on. */
	CHILD_CHECK(mrt_mtaint() == 0);
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.live == 2);
	/* The thread limit, as the template met it. */
	CHILD_CHECK(mrt_setmaxthreads(2) > 0);
	CHILD_CHECK(mrt_newm(fn_exit, NULL, NULL) == -EAGAIN);
	CHILD_CHECK(strstr(mrt_errmsg(), "exceeds 2-thread limit") != NULL);
	CHILD_CHECK(mrt_setmaxthreads(100) == 2);
	/* A clone that fails there. */
	mrt_test_fault(FAULT_NEWOSPROC, 1, -ENOMEM);
	CHILD_CHECK(mrt_newm(fn_exit, NULL, NULL) == -ENOMEM);
	CHILD_CHECK(strstr(mrt_errmsg(), "failed to create new OS thread") != NULL);
	/* And a success: an id like any other, joined as usual. */
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0 && mrt_errmsg()[0] == '\0');
	CHILD_CHECK(mrt_join(id) == 0);
}

/* What a creation handed to the template thread returns is what the caller
 * would have got, with mrt_errmsg's message. With no template thread, a
 * tainted m0's creations are -EPERM saying so; an attached thread's are
 * cloned from it (it cannot start one either); a clean m0 starts one, once
 * (mrt_starttemplatethread; #14 items 1 and 3). */
static void test_handed_off_creation_reports_its_errors(void **state)
{
	(void)state;
	struct child c;
	run_child(child_handoff_errors, 60, &c);
	assert_child_ok(&c);
	run_child(child_no_template, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * Where the calls may be made
 * ------------------------------------------------------------------------ */

static void *notm_lock(void *arg)
{
	int *r = arg;
	r[0] = mrt_lockosthread();
	r[1] = mrt_unlockosthread();
	r[2] = mrt_mtaint();
	r[3] = mrt_starttemplatethread();
	return NULL;
}

static void lock_in_systemstack(void *arg)
{
	int *r = arg;
	r[0] = mrt_lockosthread();
	r[1] = mrt_unlockosthread();
}

static void g_systemstack(void *arg)
{
	CHILD_CHECK(mrt_systemstack(lock_in_systemstack, arg) == 0);
}

static void child_where(void)
{
	CHILD_CHECK(mrt_lockosthread() == -EPERM); /* before mrt_init: not an M */
	CHILD_CHECK(mrt_mtaint() == -EPERM);
	CHILD_CHECK(mrt_starttemplatethread() == -EINVAL);
	CHILD_CHECK(mrt_init(NULL) == 0);
	/* g0 is not a user g. */
	CHILD_CHECK(mrt_lockosthread() == -EPERM);
	CHILD_CHECK(mrt_unlockosthread() == -EPERM);
	/* A thread that is not an M. */
	int r[4] = { 1, 1, 1, 1 };
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, notm_lock, r) == 0);
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	CHILD_CHECK(r[0] == -EPERM && r[1] == -EPERM && r[2] == -EPERM && r[3] == -EPERM);
	/* Inside mrt_systemstack (on g0). */
	int s[2] = { 1, 1 };
	mrt_g *g = newg(g_systemstack, s);
	CHILD_CHECK(mrt_gogo(g) == 0);
	CHILD_CHECK(s[0] == -EPERM && s[1] == -EPERM);
	CHILD_CHECK(mrt_gfree(g) == 0);
	/* None of it started a template thread. */
	struct mrt_mstats st;
	CHILD_CHECK(mrt_mstats(&st) == 0 && st.created == 1);
}

/* mrt_lockosthread and mrt_unlockosthread need a user g on an M: on g0
 * (also inside mrt_systemstack), on a thread that is not an M and before
 * mrt_init they are -EPERM, as are mrt_mtaint and mrt_starttemplatethread
 * off an M (the latter -EINVAL before mrt_init). */
static void test_lock_calls_need_a_user_g(void **state)
{
	(void)state;
	struct child c;
	run_child(child_where, 60, &c);
	assert_child_ok(&c);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locked_g_cannot_run_elsewhere),
		cmocka_unit_test(test_locked_g_end_ends_its_m),
		cmocka_unit_test(test_locked_m_never_parks),
		cmocka_unit_test(test_tainted_m_never_parks),
#if defined(__linux__)
		cmocka_unit_test(test_changed_m_does_not_propagate),
		cmocka_unit_test(test_locked_g_end_on_m0_taints_it),
#endif
		cmocka_unit_test(test_handed_off_creation_reports_its_errors),
		cmocka_unit_test(test_lock_calls_need_a_user_g),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
