/*
 * test_extram.c — threads mrt did not make, made Ms (#14 item 1: mrt_needm
 * and mrt_dropm, Go's needm and dropm with Go 1.21's binding until the
 * thread ends).
 *
 * Every case runs its foreign threads as plain pthreads of the test, in
 * both thread models: a foreign thread is libc's in either. What must
 * hold: an attached thread is an M for the whole API (its id, g0 = its own
 * stack with exact bounds, gsignal installed, on allm as MRT_M_ATTACHED,
 * mrt_signalm reaches it on gsignal, it runs user gs, makes Ms); it is
 * outside the thread limit; mrt_stopm and mrt_mexit refuse it and a join
 * waits for its drop; mrt_dropm — or the thread's end, with no mrt_dropm —
 * gives the thread back exactly the signal stack and mask it had, and
 * leaves nothing behind: 10,000 threads attach, run a g, take a signal and
 * end, and the m pool, the stacks, /proc/self/maps and the counts are
 * where they were. A failed attach leaves nothing either (fault sweep),
 * and a fork child accounts for the attached Ms it lost.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "fixalloc.h"
#include "san.h" /* MRT_TSAN, MRT_ASAN */

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * ThreadSanitizer runs an asynchronous signal's handler at the thread's
 * next intercepted libc call, on whatever stack runs then (see
 * test_signal.c): where a handler runs is its choice there, not mrt's.
 */
/* Linux's mode bit of the alternate signal stack (uapi/linux/signal.h),
 * which glibc's headers do not name. */
#if defined(__linux__) && !defined(SS_AUTODISARM)
#define SS_AUTODISARM (1U << 31)
#endif

#if MRT_TSAN
static const bool where_checked = false;
#else
static const bool where_checked = true;
#endif

/* Whether the process's mapping count is mrt's to keep. The foreign
 * threads the tests make are libc's, and a tool's runtime keeps memory of
 * its own for each: TSan its per-thread state (325 -> 518 mappings over
 * 10,000 threads), ASan its fake stacks and allocator caches (30 more),
 * Valgrind its own. There the count is not mrt's; mrt's own stack
 * mappings are still compared exactly (assert_same_state). */
#if defined(__linux__)
static bool maps_are_mrts(void)
{
	return !MRT_TSAN && !MRT_ASAN && !under_valgrind();
}
#endif

/* Failed checks on foreign threads, reported on stderr and counted. */
static uint32_t bad;
#define F_CHECK(cond)                                                             \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "%s:%d: thread %d: check failed: %s\n",   \
			        __FILE__, __LINE__, (int)mrt_gettid(), #cond);    \
			ev_add(&bad, 1);                                          \
		}                                                                 \
	} while (0)

/* Runs fn(arg) on a new pthread and waits for it to end. */
static void on_foreign_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(ev_get(&bad), 0);
}

/* The calling pthread's stack as its thread library reports it. */
static void thread_stack(uintptr_t *lo, uintptr_t *hi)
{
#if defined(__APPLE__)
	pthread_t self = pthread_self();
	*hi = (uintptr_t)pthread_get_stackaddr_np(self);
	*lo = *hi - pthread_get_stacksize_np(self);
#else
	pthread_attr_t a;
	void *addr = NULL;
	size_t size = 0;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstack(&a, &addr, &size);
		pthread_attr_destroy(&a);
	}
	*lo = (uintptr_t)addr;
	*hi = (uintptr_t)addr + size;
#endif
}

static int findm(const struct mrt_minfo *info, void *arg)
{
	struct mrt_minfo *want = arg;
	if (info->id != want->id)
		return 0;
	*want = *info;
	return 1;
}

/* M id's entry on allm (status 0 if it is not there). */
static struct mrt_minfo minfo(int64_t id)
{
	struct mrt_minfo mi;
	memset(&mi, 0, sizeof mi);
	mi.id = id;
	if (mrt_forallm(findm, &mi) != 1)
		mi.status = 0;
	return mi;
}

static bool same_stack(const stack_t *a, const stack_t *b)
{
	return a->ss_sp == b->ss_sp && a->ss_size == b->ss_size && a->ss_flags == b->ss_flags;
}

static bool same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig < 65; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return false;
	return true;
}

/* ------------------------------------------------------------------------
 * The SIGUSR1 handler of the foreign threads: which M, which stack.
 * ------------------------------------------------------------------------ */

struct slot {
	int64_t id;           /* the M the thread became */
	uint32_t ready, got;  /* events: attached and waiting; handler ran */
	int64_t sigmid;       /* mrt_mid() in the handler */
	bool ongsignal;       /* the handler ran on the M's gsignal */
	int64_t granon;       /* the M the user g ran on */
};
static uint32_t stray; /* handlers that ran on a thread that was no slot's M */

static void usr1(int sig)
{
	(void)sig;
	m *mp = getm();
	uintptr_t *slotp = mrt_mlocal(0);
	struct slot *s = slotp != NULL ? (struct slot *)*slotp : NULL;
	if (mp == NULL || s == NULL) {
		ev_add(&stray, 1);
		return;
	}
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	s->ongsignal = sp >= mp->gsignal->stack.lo && sp < mp->gsignal->stack.hi;
	s->sigmid = mrt_mid();
	ev_add(&s->got, 1);
}

static void ong(void *arg)
{
	struct slot *s = arg;
	s->granon = mrt_mid();
}

/* On an attached thread: a user g of its own, run to its end; the caller
 * frees it. */
static mrt_g *run_a_g(struct slot *s)
{
	mrt_g *gp = NULL;
	F_CHECK(mrt_malg(&gp, 64 << 10) == 0);
	F_CHECK(mrt_gostart(gp, ong, s) == 0);
	F_CHECK(mrt_gogo(gp) == 0);
	F_CHECK(s->granon == s->id);
	F_CHECK(mrt_gstatus(gp) == MRT_G_DEAD);
	F_CHECK(mrt_getg() == mrt_getg0());
	return gp;
}

/* On an attached thread: wait for the SIGUSR1 another thread sends with
 * mrt_signalm. The signal is blocked before the thread says it is ready
 * and let in by sigsuspend, so it is taken here whenever it was sent (and
 * ThreadSanitizer, which defers handlers to intercepted calls, runs it
 * here too). */
static void take_usr1(struct slot *s)
{
	sigset_t usr1set, old;
	sigemptyset(&usr1set);
	sigaddset(&usr1set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1set, &old);
	sigdelset(&old, SIGUSR1);
	ev_add(&s->ready, 1);
	while (ev_get(&s->got) == 0)
		sigsuspend(&old);
	pthread_sigmask(SIG_UNBLOCK, &usr1set, NULL);
	F_CHECK(s->sigmid == s->id);
	F_CHECK(!where_checked || s->ongsignal);
}

/* ------------------------------------------------------------------------
 * An attached thread is an M
 * ------------------------------------------------------------------------ */

static uint32_t t1_attached, t1_go;
static struct mrt_mstats t1_st;

static void *attach_and_look(void *arg)
{
	int64_t *out = arg;
	F_CHECK(mrt_mid() == -1 && mrt_getm() == NULL && mrt_getg() == NULL);
	stack_t before, during, after;
	sigaltstack(NULL, &before);
	int64_t id = mrt_needm();
	*out = id;
	F_CHECK(id > 0);
	F_CHECK(mrt_mid() == id && mrt_needm() == id && mrt_needm() == id);
	F_CHECK(mrt_getm() != NULL && getm()->attached);
	F_CHECK(mrt_getg0() != NULL && mrt_getg() == mrt_getg0());
	/* g0 is the thread's own stack, to the byte. */
	uintptr_t lo, hi, tlo, thi, sp = (uintptr_t)__builtin_frame_address(0);
	F_CHECK(mrt_gstack(mrt_getg0(), &lo, &hi) == 0);
	thread_stack(&tlo, &thi);
	F_CHECK(lo == tlo && hi == thi && sp >= lo && sp < hi);
	/* gsignal is the alternate signal stack now, and walkers see it. */
	struct mrt_minfo mi = minfo(id);
	F_CHECK(mi.status == MRT_M_ATTACHED && mi.tid == mrt_gettid());
	F_CHECK(mi.g0_lo == lo && mi.g0_hi == hi && mi.curg == mrt_getg0());
	sigaltstack(NULL, &during);
	F_CHECK((uintptr_t)during.ss_sp == mi.gsignal_lo &&
	        during.ss_size == mi.gsignal_hi - mi.gsignal_lo && during.ss_flags == 0);
	/* M-local slots and p are the M's. */
	*mrt_mlocal(3) = 42;
	F_CHECK(mrt_setp(&t1_go) == 0 && mrt_getp() == &t1_go && *mrt_mlocal(3) == 42);
	/* mrt_dump names it attached. */
	int p[2];
	char buf[4096], want[32];
	F_CHECK(pipe(p) == 0);
	F_CHECK(mrt_dump(p[1]) > 0);
	close(p[1]);
	ssize_t n = read(p[0], buf, sizeof buf - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	snprintf(want, sizeof want, "  M%-5lld tid %-7d attached ", (long long)id,
	         (int)mrt_gettid());
	F_CHECK(strstr(buf, want) != NULL);

	ev_add(&t1_attached, 1);
	ev_block(&t1_go, 1); /* m0 looks at the counts meanwhile */

	F_CHECK(mrt_dropm() == 0);
	F_CHECK(mrt_mid() == -1 && mrt_getm() == NULL && mrt_getg() == NULL);
	F_CHECK(mrt_dropm() == -EPERM);
	sigaltstack(NULL, &after);
	F_CHECK(same_stack(&before, &after));
	return NULL;
}

static void test_needm_makes_a_foreign_thread_an_m(void **state)
{
	(void)state;
	struct mrt_mstats a, b;
	mrt_reap();
	mrt_mstats(&a);
	t1_attached = t1_go = 0;
	int64_t id = 0;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, attach_and_look, &id), 0);
	ev_wait(&t1_attached, 1);
	mrt_mstats(&t1_st);
	/* Live, counted as created, on allm as attached. */
	assert_int_equal(t1_st.live, a.live + 1);
	assert_int_equal(t1_st.created, a.created + 1);
	assert_int_equal(minfo(id).status, MRT_M_ATTACHED);
	ev_add(&t1_go, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(ev_get(&bad), 0);
	/* Dropped: off allm, counted as freed, nothing exiting once reaped. */
	assert_int_equal(minfo(id).status, 0);
	assert_int_equal(mrt_join(id), 0);
	mrt_reap();
	mrt_mstats(&b);
	assert_int_equal(b.live, a.live);
	assert_int_equal(b.freed, a.freed + 1);
	assert_int_equal(b.failed, a.failed);
	assert_int_equal(b.exiting, 0);
}

/* On a thread that is an M already, mrt_needm is its id; mrt_dropm is not
 * for it. */
static int64_t onm_needm, onm_mid;
static int onm_dropm;

static void onm(void *arg)
{
	(void)arg;
	onm_needm = mrt_needm();
	onm_mid = mrt_mid();
	onm_dropm = mrt_dropm();
}

static void *not_an_m(void *arg)
{
	(void)arg;
	F_CHECK(mrt_dropm() == -EPERM); /* not an M at all */
	return NULL;
}

static void test_needm_on_an_m_is_its_id(void **state)
{
	(void)state;
	assert_int_equal(mrt_needm(), 0);
	assert_int_equal(mrt_dropm(), -EPERM);
	assert_int_equal(mrt_mid(), 0);
	int64_t id = must_newm(onm, NULL);
	assert_int_equal(mrt_join(id), 0);
	assert_int_equal(onm_needm, id);
	assert_int_equal(onm_mid, id);
	assert_int_equal(onm_dropm, -EPERM);
	on_foreign_thread(not_an_m, NULL);
}

/* ------------------------------------------------------------------------
 * The thread's own signal stack and mask, bit for bit
 * ------------------------------------------------------------------------ */

static bool t3_ownstack;
static int t3_flags;
static const int t3_blocked[] = { SIGUSR2, SIGWINCH, SIGPIPE,
#if defined(__linux__)
	                          40, 63,
#endif
};

static void *signal_state_survives(void *arg)
{
	(void)arg;
	void *mem = NULL;
	size_t size = 64 << 10;
	if (t3_ownstack) {
		mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
		F_CHECK(mem != MAP_FAILED);
		stack_t ss = { .ss_sp = mem, .ss_size = size, .ss_flags = t3_flags };
		F_CHECK(sigaltstack(&ss, NULL) == 0);
	} else if (t3_flags != 0) {
		/* None, but a mode bit with it, which reads back so. */
		stack_t ss = { .ss_flags = SS_DISABLE | t3_flags };
		F_CHECK(sigaltstack(&ss, NULL) == 0);
	}
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof t3_blocked / sizeof t3_blocked[0]; i++)
		sigaddset(&set, t3_blocked[i]);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	stack_t before, after;
	sigset_t mbefore, mafter;
	sigaltstack(NULL, &before);
	pthread_sigmask(SIG_BLOCK, NULL, &mbefore);
#if defined(__linux__)
	uint64_t kbefore = thread_sigblk(mrt_gettid());
#endif

	struct slot s;
	memset(&s, 0, sizeof s);
	s.id = mrt_needm();
	F_CHECK(s.id > 0);
	*mrt_mlocal(0) = (uintptr_t)&s;
	/* The mask is the thread's: mrt did not touch it. */
	sigset_t mduring;
	pthread_sigmask(SIG_BLOCK, NULL, &mduring);
	F_CHECK(same_mask(&mbefore, &mduring));
	F_CHECK(mrt_gfree(run_a_g(&s)) == 0);
	/* A signal through mrt_signalm, to itself: on gsignal. */
	F_CHECK(mrt_signalm(s.id, SIGUSR1) == 0);
	pthread_sigmask(SIG_BLOCK, NULL, &mduring); /* TSan runs it by here */
	F_CHECK(ev_get(&s.got) == 1 && s.sigmid == s.id);
	F_CHECK(!where_checked || s.ongsignal);
	*mrt_mlocal(0) = 0;
	F_CHECK(mrt_dropm() == 0);

	sigaltstack(NULL, &after);
	pthread_sigmask(SIG_BLOCK, NULL, &mafter);
	F_CHECK(same_stack(&before, &after));
	F_CHECK(same_mask(&mbefore, &mafter));
#if defined(__linux__)
	F_CHECK(thread_sigblk(mrt_gettid()) == kbefore);
#endif
	if (t3_ownstack) {
		/* Still the thread's own, and usable: a handler runs on it. */
		F_CHECK(after.ss_sp == mem && after.ss_size == size);
		stack_t off = { .ss_flags = SS_DISABLE };
		sigaltstack(&off, NULL);
		munmap(mem, size);
	}
	return NULL;
}

static void test_dropm_gives_back_the_signal_stack_and_mask_bit_for_bit(void **state)
{
	(void)state;
	struct sigaction old;
	catch_signal(SIGUSR1, usr1, &old);
	t3_ownstack = false;
	t3_flags = 0;
	on_foreign_thread(signal_state_survives, NULL); /* none of its own */
	t3_ownstack = true;
	t3_flags = 0;
	on_foreign_thread(signal_state_survives, NULL);
#if defined(SS_AUTODISARM)
	/* A mode bit, which must come back too: where the system takes it
	 * (QEMU 7.2 user mode refuses it). */
	stack_t probe = { .ss_sp = malloc(64 << 10), .ss_size = 64 << 10,
		          .ss_flags = (int)SS_AUTODISARM };
	stack_t was;
	if (sigaltstack(&probe, &was) == 0) {
		sigaltstack(&was, NULL);
		t3_flags = (int)SS_AUTODISARM;
		on_foreign_thread(signal_state_survives, NULL);
		t3_ownstack = false; /* disabled, with the bit: it comes back too */
		on_foreign_thread(signal_state_survives, NULL);
	} else {
		print_message("SS_AUTODISARM refused here: the flag's round trip not tested\n");
	}
	free(probe.ss_sp);
#endif
	sigaction(SIGUSR1, &old, NULL);
	assert_int_equal(ev_get(&stray), 0);
}

/* ------------------------------------------------------------------------
 * #14: 10,000 foreign threads attach, run a g, take a signal through
 * mrt_signalm, and end without mrt_dropm: nothing is left behind.
 * ------------------------------------------------------------------------ */

enum { batch = 16 };

static void *churn_thread(void *arg)
{
	struct slot *s = arg;
	s->id = mrt_needm();
	F_CHECK(s->id > 0);
	F_CHECK(mrt_needm() == s->id);
	*mrt_mlocal(0) = (uintptr_t)s;
	mrt_g *gp = run_a_g(s);
	take_usr1(s);
	/* Freed only now, so that each batch holds as many g stacks as
	 * gsignals at its peak: see churn. */
	F_CHECK(mrt_gfree(gp) == 0);
	return NULL; /* no mrt_dropm: the thread's end drops the M */
}

/*
 * n foreign threads, batch at a time: each attaches, runs a g, is sent
 * SIGUSR1 from here with mrt_signalm, and ends. Every batch holds the same
 * at its peak — batch attached Ms, with their gsignals, m structs and g
 * stacks, all at once (each thread keeps its g until its signal, and the
 * signals go out once all are attached), on pthreads of one small stack
 * size, which glibc's cache of thread stacks keeps all of — so that after a
 * first batch, mrt's pools and caches and the process's mappings come back
 * exactly to the same state after every batch: what is left over then is a
 * leak. Its walks (minfo) while the threads switch to and from their gs
 * also guard the publication of a g as an M's curg (#14 item 1): under
 * TSan, with curg stored relaxed, the walker's read of the g's goid raced
 * with malg's write of it.
 */
static void churn(int n)
{
	static struct slot slots[batch];
	pthread_t t[batch];
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (int done = 0; done < n; done += batch) {
		int k = n - done < batch ? n - done : batch;
		memset(slots, 0, sizeof slots);
		for (int i = 0; i < k; i++)
			assert_int_equal(pthread_create(&t[i], &attr, churn_thread, &slots[i]), 0);
		for (int i = 0; i < k; i++) {
			ev_wait(&slots[i].ready, 1);
			assert_int_equal(minfo(slots[i].id).status, MRT_M_ATTACHED);
		}
		for (int i = 0; i < k; i++)
			assert_int_equal(mrt_signalm(slots[i].id, SIGUSR1), 0);
		for (int i = 0; i < k; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		/* The batch's Ms are reaped before the next batch attaches:
		 * no more than a batch of them at a time, whatever the walks
		 * above held up (a walk defers reaping), so that the warm-up
		 * round reaches the peak and the counts below are exact. */
		mrt_reap();
		for (int i = 0; i < k; i++) {
			/* Dropped at its thread's end: gone from allm, and a
			 * signal to it finds no M. */
			assert_int_equal(minfo(slots[i].id).status, 0);
			assert_int_equal(mrt_signalm(slots[i].id, SIGUSR1), -ESRCH);
		}
		assert_int_equal(ev_get(&bad), 0);
	}
	pthread_attr_destroy(&attr);
}

static void test_foreign_threads_attach_and_end_leaving_nothing(void **state)
{
	(void)state;
	int n = quick || under_valgrind() ? 300 : 10000;
	struct sigaction old;
	catch_signal(SIGUSR1, usr1, &old);
	/* A warm-up batch fills what steady churn reuses — the stack cache,
	 * the m and g pools, glibc's cache of thread stacks and its malloc
	 * arenas — so that the run after it must leave them exactly so. */
	churn(batch);
	mrt_reap();
	struct mrtstate a, b;
	snapshot(&a);
#if defined(__linux__)
	int maps = count_maps();
#endif
	churn(n);
	mrt_reap();
	snapshot(&b);
	sigaction(SIGUSR1, &old, NULL);
	assert_int_equal(ev_get(&stray), 0);
	/* Every attach took an id and every thread's end counted it freed. */
	assert_int_equal(b.st.created, a.st.created + n);
	assert_int_equal(b.st.freed, a.st.freed + n);
	assert_int_equal(b.st.failed, a.st.failed);
	b.st.freed = a.st.freed;
	/* Nothing else moved: live, idle, exiting, the stack cache, the m and
	 * g pools, mrt's stack mappings, allm. */
	assert_same_state(&a, &b);
#if defined(__linux__)
	if (maps_are_mrts())
		assert_int_equal(count_maps(), maps);
	assert_true(settle_threads(expected_threads(0)));
#endif
	print_message("%d foreign threads attached, ran a g, took a signal on gsignal and "
	              "ended; nothing left behind\n", n);
}

/* ------------------------------------------------------------------------
 * The thread limit, parking, exiting, joining
 * ------------------------------------------------------------------------ */

enum { nlimit = 3 };
static uint32_t lim_up, lim_go;

static void *attach_and_wait(void *arg)
{
	int64_t *id = arg;
	*id = mrt_needm();
	F_CHECK(*id > 0);
	ev_add(&lim_up, 1);
	ev_block(&lim_go, 1);
	return NULL;
}

static void test_thread_limit_leaves_attached_ms_out(void **state)
{
	(void)state;
	struct mrt_mstats st;
	mrt_mstats(&st);
	/* No room for another M mrt would make... */
	mrt_setmaxthreads((int32_t)st.live);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -EAGAIN);
	/* ...and still room for every thread that attaches. */
	lim_up = lim_go = 0;
	pthread_t t[nlimit];
	int64_t ids[nlimit];
	for (int i = 0; i < nlimit; i++)
		assert_int_equal(pthread_create(&t[i], NULL, attach_and_wait, &ids[i]), 0);
	ev_wait(&lim_up, nlimit);
	struct mrt_mstats at;
	mrt_mstats(&at);
	assert_int_equal(at.live, st.live + nlimit); /* live: beyond the limit */
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -EAGAIN);
	/* One more place: one M, however many are attached. */
	mrt_setmaxthreads((int32_t)st.live + 1);
	int64_t id = mrt_newm(fn_park, NULL, NULL);
	assert_true(id > 0);
	assert_int_equal(mrt_newm(fn_exit, NULL, NULL), -EAGAIN);
	ev_add(&lim_go, 1);
	for (int i = 0; i < nlimit; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(ev_get(&bad), 0);
	wait_idle(1);
	assert_int_equal(mrt_startm(fn_exit, NULL, NULL), id);
	assert_int_equal(mrt_join(id), 0);
}

static uint32_t j_attached, j_drop;
static int64_t j_id;

static void *attach_refuse_drop(void *arg)
{
	(void)arg;
	j_id = mrt_needm();
	F_CHECK(j_id > 0);
	/* No exit point: an attached M cannot park or end through mrt. */
	F_CHECK(mrt_stopm() == -EPERM);
	F_CHECK(mrt_mexit() == -EPERM);
	F_CHECK(mrt_join(j_id) == -EDEADLK);
	F_CHECK(mrt_mid() == j_id && minfo(j_id).status == MRT_M_ATTACHED);
	ev_add(&j_attached, 1);
	ev_block(&j_drop, 1);
	F_CHECK(mrt_dropm() == 0);
	return NULL;
}


/* Lets the attached thread drop once m0 is asleep in mrt_join (Linux: the
 * kernel's view of m0's thread; elsewhere at once, which tests less). */
static void *release_when_m0_sleeps(void *arg)
{
	(void)arg;
#if defined(__linux__)
	while (thread_state(getpid()) != 'S')
		sched_yield();
#endif
	ev_add(&j_drop, 1);
	return NULL;
}

static void test_stopm_mexit_refused_and_join_waits_for_the_drop(void **state)
{
	(void)state;
	j_attached = j_drop = 0;
	pthread_t t, r;
	assert_int_equal(pthread_create(&t, NULL, attach_refuse_drop, NULL), 0);
	ev_wait(&j_attached, 1);
	assert_int_equal(pthread_create(&r, NULL, release_when_m0_sleeps, NULL), 0);
	assert_int_equal(mrt_join(j_id), 0); /* returns once the thread has dropped */
	assert_int_equal(ev_get(&j_drop), 1);
	assert_int_equal(minfo(j_id).status, 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pthread_join(r, NULL), 0);
	assert_int_equal(ev_get(&bad), 0);
	assert_int_equal(mrt_join(j_id), 0); /* reaped: joined */
}

/* ------------------------------------------------------------------------
 * What mrt_dropm refuses, what an attached M may do
 * ------------------------------------------------------------------------ */

static int busy_g, busy_sys, busy_sig;
static int64_t busy_signeedm;

static void dropm_on_g(void *arg)
{
	(void)arg;
	busy_g = mrt_dropm();
}

static void dropm_in_systemstack(void *arg)
{
	(void)arg;
	busy_sys = mrt_dropm();
}

static void dropm_on_g_sys(void *arg)
{
	(void)arg;
	mrt_systemstack(dropm_in_systemstack, NULL);
}

static void usr2_dropm(int sig)
{
	(void)sig;
	busy_signeedm = mrt_needm(); /* an M already: async-signal-safe */
	busy_sig = mrt_dropm();
}

static void *attach_try_drops(void *arg)
{
	(void)arg;
	int64_t id = mrt_needm();
	F_CHECK(id > 0);
	mrt_g *gp;
	F_CHECK(mrt_malg(&gp, 64 << 10) == 0);
	F_CHECK(mrt_gostart(gp, dropm_on_g, NULL) == 0 && mrt_gogo(gp) == 0);
	F_CHECK(mrt_gostart(gp, dropm_on_g_sys, NULL) == 0 && mrt_gogo(gp) == 0);
	F_CHECK(mrt_gfree(gp) == 0);
	busy_sig = 1;
	F_CHECK(mrt_signalm(id, SIGUSR2) == 0);
	sigset_t cur;
	pthread_sigmask(SIG_BLOCK, NULL, &cur); /* TSan runs the handler by here */
	F_CHECK(busy_sig != 1);
	/* Still attached after every refusal. */
	F_CHECK(mrt_mid() == id && minfo(id).status == MRT_M_ATTACHED);
	F_CHECK(mrt_dropm() == 0);
	return NULL;
}

static void test_dropm_only_from_the_threads_own_frames(void **state)
{
	(void)state;
	struct sigaction old;
	catch_signal(SIGUSR2, usr2_dropm, &old);
	busy_g = busy_sys = busy_sig = 0;
	on_foreign_thread(attach_try_drops, NULL);
	sigaction(SIGUSR2, &old, NULL);
	assert_int_equal(busy_g, -EBUSY);
	assert_int_equal(busy_sys, -EBUSY);
	assert_true(busy_signeedm > 0);
	/* In a handler on gsignal, refused; under TSan the handler may run
	 * off gsignal, on g0, where the drop would be allowed: not there. */
	if (where_checked)
		assert_int_equal(busy_sig, -EBUSY);
}

/* mrt_newm and mrt_startm from an attached M make Ms as from anywhere. */
static uint32_t made_ran;

static void made_fn(void *arg)
{
	(void)arg;
	ev_add(&made_ran, 1);
}

static void *attach_and_make(void *arg)
{
	(void)arg;
	F_CHECK(mrt_needm() > 0);
	int64_t id = mrt_newm(made_fn, NULL, NULL);
	F_CHECK(id > 0);
	F_CHECK(mrt_join(id) == 0);
	int64_t id2 = mrt_startm(made_fn, NULL, NULL);
	F_CHECK(id2 > 0);
	F_CHECK(mrt_join(id2) == 0);
	F_CHECK(ev_get(&made_ran) == 2);
	/* libc, on an attached M in either model: the thread is libc's. */
	char *p = malloc(100);
	F_CHECK(p != NULL);
	snprintf(p, 100, "M%lld", (long long)mrt_mid());
	free(p);
	return NULL; /* dropped at the thread's end */
}

static void test_an_attached_m_makes_ms(void **state)
{
	(void)state;
	made_ran = 0;
	on_foreign_thread(attach_and_make, NULL);
}

/* Dropped and attached again: a new M with a new id, the same bounds. */
static void *attach_twice(void *arg)
{
	(void)arg;
	int64_t a = mrt_needm();
	uintptr_t lo1, hi1, lo2, hi2;
	mrt_gstack(mrt_getg0(), &lo1, &hi1);
	F_CHECK(mrt_dropm() == 0);
	int64_t b = mrt_needm();
	mrt_gstack(mrt_getg0(), &lo2, &hi2);
	F_CHECK(a > 0 && b > a);
	F_CHECK(lo1 == lo2 && hi1 == hi2);
	F_CHECK(minfo(a).status == 0 && minfo(b).status == MRT_M_ATTACHED);
	F_CHECK(mrt_dropm() == 0);
	return NULL;
}

static void test_a_dropped_thread_attaches_again_as_a_new_m(void **state)
{
	(void)state;
	on_foreign_thread(attach_twice, NULL);
}

/* ------------------------------------------------------------------------
 * The thread's end on a user g (pthread_exit): the key's destructor drops
 * the M there too. In a child: a regression may hang.
 * ------------------------------------------------------------------------ */

static mrt_g *exit_g;
static int64_t exit_id;

static void exit_on_g(void *arg)
{
	(void)arg;
	pthread_exit(NULL);
}

static void *attach_exit_on_g(void *arg)
{
	(void)arg;
	exit_id = mrt_needm();
	if (mrt_malg(&exit_g, 64 << 10) != 0 || mrt_gostart(exit_g, exit_on_g, NULL) != 0)
		fprintf(stderr, "no g\n");
	mrt_gogo(exit_g);
	fprintf(stderr, "pthread_exit returned\n");
	return NULL;
}

static void child_exit_on_g(void)
{
	struct mrt_mstats a, b;
	mrt_mstats(&a);
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, attach_exit_on_g, NULL) == 0);
	CHILD_CHECK(pthread_join(t, NULL) == 0);
	CHILD_CHECK(exit_id > 0);
	CHILD_CHECK(mrt_join(exit_id) == 0);
	mrt_mstats(&b);
	CHILD_CHECK(b.live == a.live && b.freed == a.freed + 1 && b.exiting == 0);
	CHILD_CHECK(minfo(exit_id).status == 0);
	CHILD_CHECK(mrt_signalm(exit_id, SIGUSR1) == -ESRCH);
	CHILD_CHECK(mrt_gstatus(exit_g) == MRT_G_DEAD);
	CHILD_CHECK(mrt_gfree(exit_g) == 0);
}

static void test_pthread_exit_on_a_user_g_drops_the_m(void **state)
{
	(void)state;
	if (MRT_TSAN) {
		print_message("ThreadSanitizer: pthread_exit refuses to run on a fiber, and a "
		              "user g is one: not run under TSan\n");
		skip();
	}
	static struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_exit_on_g, 30, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * mtrace and mrt_dump say "attached"
 * ------------------------------------------------------------------------ */

static void *attach_for_trace(void *arg)
{
	long i = (long)arg;
	int64_t id = mrt_needm();
	printf("attach %ld: M%lld tid %d\n", i, (long long)id, (int)mrt_gettid());
	fflush(stdout);
	if (i == 0)
		mrt_dropm();
	return NULL; /* the second: dropped at the thread's end */
}

static void child_trace(void)
{
	debug.mtrace = 1; /* what MRTDEBUG=mtrace=1 sets at mrt_init */
	for (long i = 0; i < 2; i++) {
		pthread_t t;
		CHILD_CHECK(pthread_create(&t, NULL, attach_for_trace, (void *)i) == 0);
		CHILD_CHECK(pthread_join(t, NULL) == 0);
	}
	mrt_reap();
	debug.mtrace = 0;
}

/* The line of out that holds s, as a string of its own (static). */
static const char *line_with(const char *out, const char *s)
{
	static char line[512];
	const char *p = strstr(out, s);
	if (p == NULL)
		return NULL;
	const char *b = p, *e = strchr(p, '\n');
	while (b > out && b[-1] != '\n')
		b--;
	size_t n = (size_t)((e != NULL ? e : p + strlen(p)) - b);
	if (n >= sizeof line)
		n = sizeof line - 1;
	memcpy(line, b, n);
	line[n] = '\0';
	return line;
}

static void test_mtrace_shows_attached_and_dropped(void **state)
{
	(void)state;
	static struct child c;
	assert_true(settle_threads(expected_threads(0)));
	run_child(child_trace, 30, &c);
	if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
		print_error("child status 0x%x:\n%s\n", c.status, c.out);
		fail();
	}
	for (int i = 0; i < 2; i++) {
		char key[32], want[96];
		long long id;
		int tid;
		snprintf(key, sizeof key, "attach %d: M", i);
		const char *l = line_with(c.out, key);
		assert_non_null(l);
		assert_int_equal(sscanf(l + strlen(key) - 1, "M%lld tid %d", &id, &tid), 2);
		snprintf(want, sizeof want, " M%lld attached tid=%d g0=[0x", id, tid);
		assert_non_null(line_with(c.out, want));
		snprintf(want, sizeof want, " M%lld dropped tid=%d g0=[0x", id, tid);
		l = line_with(c.out, want);
		if (l == NULL) {
			print_error("no \"%s\" in:\n%s\n", want, c.out);
			fail();
		}
		/* mrt_dropm says nothing more; the thread's end says so. */
		if (i == 0)
			assert_null(strstr(l, "why="));
		else
			assert_non_null(strstr(l, " why=thread-ended"));
		snprintf(want, sizeof want, " M%lld reaped ", id);
		assert_non_null(line_with(c.out, want));
	}
}

/* ------------------------------------------------------------------------
 * fork: the child accounts for the attached Ms it lost, and one that
 * forks keeps its own.
 * ------------------------------------------------------------------------ */

static void skip_if_emulated(void)
{
	if (emulated) {
		print_message("skipped: QEMU user mode fails in the child of a "
		              "multi-threaded fork (its assertion cpu == current_cpu)\n");
		skip();
	}
}

enum { nforked = 3 };
static struct mrt_mstats fk_parent;
static int64_t fk_ids[nforked];

static void child_of_m0(void)
{
	/* Only m0 is left: the attached Ms' threads are gone, and counted. */
	CHILD_CHECK(mrt_mid() == 0);
	mrt_reap();
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 1 && st.exiting == 0 && st.idle == 0);
	CHILD_CHECK(st.freed == fk_parent.freed + nforked);
	for (int i = 0; i < nforked; i++)
		CHILD_CHECK(minfo(fk_ids[i]).status == 0);
	/* And no longer outside the limit's count: a limit of the one live
	 * M refuses another (it would not if the lost ones were still taken
	 * off the count). */
	mrt_setmaxthreads(1);
	CHILD_CHECK(mrt_newm(fn_exit, NULL, NULL) == -EAGAIN);
	mrt_setmaxthreads(10000);
	if (!MRT_ASAN && !MRT_TSAN) { /* they make no thread in such a child */
		int64_t id = mrt_newm(fn_exit, NULL, NULL);
		CHILD_CHECK(id > 0 && mrt_join(id) == 0);
	}
}

static void test_fork_child_accounts_for_attached_ms(void **state)
{
	(void)state;
	skip_if_emulated();
	lim_up = lim_go = 0;
	pthread_t t[nforked];
	for (int i = 0; i < nforked; i++)
		assert_int_equal(pthread_create(&t[i], NULL, attach_and_wait, &fk_ids[i]), 0);
	ev_wait(&lim_up, nforked);
	mrt_reap();
	mrt_mstats(&fk_parent);
	static struct child c;
	run_child(child_of_m0, 30, &c);
	ev_add(&lim_go, 1);
	for (int i = 0; i < nforked; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(ev_get(&bad), 0);
	assert_child_ok(&c);
}

static int64_t fk_self;
static stack_t fk_stack;

static void child_of_an_attached_m(void)
{
	/* The forking thread is still its M, and the only one. */
	CHILD_CHECK(mrt_mid() == fk_self && getm() != NULL && getm()->attached);
	CHILD_CHECK(minfo(fk_self).status == MRT_M_ATTACHED);
	CHILD_CHECK(minfo(fk_self).tid == mrt_gettid());
	CHILD_CHECK(minfo(0).status == 0); /* m0 was another thread */
	mrt_reap();
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 1 && st.exiting == 0);
	/* Its drop gives the thread back its own signal stack, here too. */
	CHILD_CHECK(mrt_dropm() == 0);
	stack_t now;
	sigaltstack(NULL, &now);
	CHILD_CHECK(same_stack(&now, &fk_stack));
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 0 && mrt_mid() == -1);
	CHILD_CHECK(mrt_needm() > fk_self);
}

static void *attach_and_fork(void *arg)
{
	struct child *c = arg;
	sigaltstack(NULL, &fk_stack);
	fk_self = mrt_needm();
	F_CHECK(fk_self > 0);
	F_CHECK(fork_child(child_of_an_attached_m, 30, c) == 0);
	F_CHECK(mrt_dropm() == 0);
	return NULL;
}

static void test_fork_from_an_attached_m(void **state)
{
	(void)state;
	skip_if_emulated();
	static struct child c;
	on_foreign_thread(attach_and_fork, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * A failed attach leaves nothing behind: every failure point of the path,
 * with the thread's own signal stack in place.
 * ------------------------------------------------------------------------ */

static int fs_fp, fs_err;
static int64_t fs_got;
static stack_t fs_before, fs_after;

static void *attach_under_fault(void *arg)
{
	(void)arg;
	char *mem = malloc(64 << 10);
	stack_t ss = { .ss_sp = mem, .ss_size = 64 << 10 };
	F_CHECK(sigaltstack(&ss, NULL) == 0);
	sigaltstack(NULL, &fs_before);
	fs_got = mrt_needm();
	sigaltstack(NULL, &fs_after);
	F_CHECK(mrt_mid() == (fs_got < 0 ? -1 : fs_got));
	if (fs_got < 0)
		F_CHECK(mrt_errmsg()[0] != '\0');
	else
		F_CHECK(mrt_dropm() == 0);
	stack_t off = { .ss_flags = SS_DISABLE };
	sigaltstack(&off, NULL);
	free(mem);
	return NULL;
}

static void test_a_failed_attach_leaves_nothing(void **state)
{
	(void)state;
	static const struct {
		int fp;
		bool nocache; /* the stack is mapped, not taken from the cache */
		bool passed;  /* the error is passed on as it came (stackalloc's
		                 are -ENOMEM, whatever the system said) */
	} points[] = {
		{ FAULT_GSIGNAL, false, true },
		{ FAULT_STACK_MMAP, true, false },
		{ FAULT_STACK_GUARD, true, false },
		{ FAULT_SIGALTSTACK, false, true },
	};
	int errs[] = { -ENOMEM, -EAGAIN };
	for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
		for (size_t e = 0; e < 2; e++) {
			fs_fp = points[i].fp;
			fs_err = errs[e];
			mrt_test_nocache(points[i].nocache);
			mrt_reap();
			struct mrtstate a, b;
			snapshot(&a);
#if defined(__linux__)
			int maps = count_maps();
#endif
			mrt_test_fault(fs_fp, 1, fs_err);
			on_foreign_thread(attach_under_fault, NULL);
			/* Reached, and failed with the error it was given. */
			assert_false(mrt_test_faultpending(fs_fp));
			assert_int_equal(fs_got, points[i].passed ? fs_err : -ENOMEM);
			assert_true(same_stack(&fs_before, &fs_after));
			mrt_reap();
			snapshot(&b);
			/* The id was spent: created and failed one up, as for
			 * mrt_newm; everything else as it was. */
			assert_int_equal(b.st.created, a.st.created + 1);
			assert_int_equal(b.st.failed, a.st.failed + 1);
			assert_same_state(&a, &b);
#if defined(__linux__)
			if (maps_are_mrts())
				assert_int_equal(count_maps(), maps);
#endif
			mrt_test_nocache(false);
		}
	}
	/* No other failure point lies on the path: clone is never asked for. */
	mrt_test_fault(FAULT_NEWOSPROC, 1, -EAGAIN);
	fs_got = 0;
	on_foreign_thread(attach_under_fault, NULL);
	assert_true(fs_got > 0);
	assert_true(mrt_test_faultpending(FAULT_NEWOSPROC));
	mrt_test_fault(FAULT_NEWOSPROC, 0, 0);
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
		MRT_TEST(test_needm_makes_a_foreign_thread_an_m),
		MRT_TEST(test_needm_on_an_m_is_its_id),
		MRT_TEST(test_dropm_gives_back_the_signal_stack_and_mask_bit_for_bit),
		MRT_TEST(test_foreign_threads_attach_and_end_leaving_nothing),
		MRT_TEST(test_thread_limit_leaves_attached_ms_out),
		MRT_TEST(test_stopm_mexit_refused_and_join_waits_for_the_drop),
		MRT_TEST(test_dropm_only_from_the_threads_own_frames),
		MRT_TEST(test_an_attached_m_makes_ms),
		MRT_TEST(test_a_dropped_thread_attaches_again_as_a_new_m),
		MRT_TEST(test_pthread_exit_on_a_user_g_drops_the_m),
		MRT_TEST(test_mtrace_shows_attached_and_dropped),
		MRT_TEST(test_fork_child_accounts_for_attached_ms),
		MRT_TEST(test_fork_from_an_attached_m),
		MRT_TEST(test_a_failed_attach_leaves_nothing),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
