/*
 * test_signal.c — signals and Ms: a signal aimed at one M runs on that M's
 * gsignal stack; a new M starts with the init mask whatever its creator's
 * mask is; and signals that hit an M while it is being born or is dying find
 * a valid g and a stack that is still its own.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What the SIGUSR1 handler saw. M-safe: reads TLS and its own frame. */
static struct seen {
	int64_t mid;
	int32_t tid;
	uintptr_t sp;
	uint32_t n;
} seen;

/*
 * ThreadSanitizer runs an asynchronous signal's handler late: its own
 * handler (on gsignal) only records the signal, and the user's runs at the
 * thread's next libc call that TSan intercepts, on whatever stack is running
 * then. So under TSan where a handler runs is TSan's choice, not mrt's, and
 * a parked M — asleep in a raw futex, making no libc call — never runs it
 * until it wakes.
 */
#if MRT_TSAN
static const bool where_checked = false;
#else
static const bool where_checked = true;
#endif

static void usr1(int sig)
{
	(void)sig;
	seen.sp = (uintptr_t)__builtin_frame_address(0);
	seen.mid = mrt_mid();
	seen.tid = mrt_gettid();
	ev_add(&seen.n, 1);
}

/* usr1 for SIGUSR1, on the signal stack; *old gets the action it replaces. */
static void catch_usr1(struct sigaction *old)
{
	catch_signal(SIGUSR1, usr1, old);
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
	if (!where_checked) {
		print_message("ThreadSanitizer: a parked M runs no handler until it wakes, "
		              "and then not on gsignal (TSan defers asynchronous signals to "
		              "the thread's next intercepted libc call)\n");
		skip();
	}
	struct sigaction old;
	catch_usr1(&old);

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

/* m0 is an M like any other for mrt_signalm ("m0 included", mrt.h). Sent
 * from another M, the signal runs on m0's thread. Darwin's signalm goes
 * through the pthread_t that minit records, and minit recorded none for
 * m0: the call returned -ESRCH and m0 was never signalled (found by the
 * Darwin shim, where examples/goroutines, whose M wakes the main thread
 * this way, hung). */
static int sent_to_m0;
static void signal_m0(void *arg)
{
	(void)arg;
	sent_to_m0 = mrt_signalm(0, SIGUSR1);
}

static void test_signalm_reaches_m0(void **state)
{
	(void)state;
	if (!where_checked) {
		print_message("ThreadSanitizer: a handler runs at the thread's next intercepted "
		              "libc call, which m0 waiting on a raw futex may never make\n");
		skip();
	}
	struct sigaction old;
	catch_usr1(&old);
	memset(&seen, 0, sizeof seen);
	sent_to_m0 = 1;
	assert_int_equal(mrt_join(must_newm(signal_m0, NULL)), 0);
	assert_int_equal(sent_to_m0, 0);
	ev_wait(&seen.n, 1);
	assert_int_equal(seen.mid, 0);
	assert_int_equal(seen.tid, mrt_gettid());
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
static uint32_t handled, bad, stop, indeath;

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
	uintptr_t g0lo = mp->g0->stack.lo, g0hi = mp->g0->stack.hi;
	uintptr_t gslo = mp->gsignal->stack.lo, gshi = mp->gsignal->stack.hi;
	bool ong0 = sp >= g0lo && sp < g0hi;
	bool ongs = sp >= gslo && sp < gshi;
	if (where_checked && !ong0 && !ongs)
		__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&mp->status, __ATOMIC_ACQUIRE) == MRT_M_EXITING)
		__atomic_fetch_add(&indeath, 1, __ATOMIC_RELAXED);
	/* Dawdle on the stack, then look again: a reaper that freed this M's
	 * stacks meanwhile would have cleared their bounds (and, with the
	 * cache bypassed, unmapped them under us). The m must not have gone
	 * back to the pool either. */
	volatile char buf[512];
	for (int i = 0; i < (int)sizeof buf; i += 64)
		buf[i] = (char)i;
	arch_procyield(100);
	if (mp->g0->stack.lo != g0lo || mp->g0->stack.hi != g0hi || mp->gsignal->stack.lo != gslo ||
	    mp->gsignal->stack.hi != gshi || __atomic_load_n(&mp->status, __ATOMIC_ACQUIRE) == 0)
		__atomic_fetch_add(&bad, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);
}

static void kick_self_at_exit(void *arg)
{
	(void)arg;
	/* The last thing the M does before it leaves: queue signals at itself
	 * from the outside world's view (tgkill), then exit while they land. */
	for (int i = 0; i < 3; i++)
		signal_tid(mrt_gettid(), SIGUSR2);
}

/* After the M has left allm for freem (mexit0's test hook): the last
 * moments of the thread, while a reaper is trying to free its stacks. */
static void kick_self_dying(m *mp)
{
	for (int i = 0; i < 3; i++)
		signal_tid(mp->procid, SIGUSR2);
}

static void *reap_loop(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		mrt_reap();
	return NULL;
}

/*
 * With the cache bypassed, a freed stack is unmapped at once: a handler still
 * running on it would fault. The exit hook makes the signals land after the
 * M has left allm, in the window where only freeWait keeps its stacks.
 */
static void signals_at_birth_and_death(bool nocache)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = usr2;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR2, &sa, &old);
	handled = bad = stop = indeath = 0;
	mrt_test_nocache(nocache);
	mrt_test_mexithook(kick_self_dying);
	pthread_t r;
	pthread_create(&r, NULL, reap_loop, NULL);

	int n = quick ? 200 : 1000;
	for (int i = 0; i < n; i++) {
		int64_t id = must_newm(kick_self_at_exit, NULL);
		int32_t tid = tid_of(id); /* 0 if it already exited */
		for (int k = 0; tid > 0 && k < 3; k++)
			signal_tid(tid, SIGUSR2);
	}
	wait_only_m0();
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(r, NULL);
	mrt_test_mexithook(NULL);
	mrt_test_nocache(false);
	sigaction(SIGUSR2, &old, NULL);
	/* Each M signalled itself as it died: the kernel delivers a signal a
	 * thread sends itself before the thread goes on. (The pthread model
	 * blocks signals in unminit, before the M leaves allm: there they stay
	 * pending and die with the thread.) */
	if (strcmp(mrt_threadmodel(), "clone") == 0)
		assert_true(indeath >= (uint32_t)n);
	if (!where_checked)
		print_message("ThreadSanitizer: handlers run deferred, on the stack running "
		              "when TSan delivers them: their stack is not checked\n");
	assert_true(handled > 0);
	assert_int_equal(bad, 0);
}

static void test_signals_at_birth_and_death(void **state)
{
	(void)state;
	signals_at_birth_and_death(false);
}

static void test_signals_at_death_never_on_unmapped_stack(void **state)
{
	(void)state;
	signals_at_birth_and_death(true);
}

/* ------------------------------------------------------------------------ */

/*
 * A SIGUSR1 storm during churn. Two threads create and join short-lived Ms;
 * a storm thread signals the newest of them with mrt_signalm and, now and
 * then, the whole process; meanwhile m0 aims signals at two long-running
 * busy Ms, each tagged with the id of the M it is meant for
 * (rt_tgsigqueueinfo to the tid mrt reports for that id), and waits for
 * each to be handled. Every handler checks that it runs on its own M's
 * gsignal (or g0, for an M that has not reached minit) with a valid g; a
 * tagged one checks that the M it landed on is the one it was aimed at and
 * that it runs on that M's gsignal. mrt_signalm is aimed at the busy Ms too,
 * and must reach exactly them.
 */
static struct {
	uint32_t handled, bad, other, stormsent;
	uint32_t tagged[2], direct[2];
} st;
static int64_t busy_id[2];
static uint32_t churnstop, busystop, busyup;
static int64_t newest[16];

#ifndef SI_TKILL /* Linux's si_code for tgkill; the storm runs on Linux only */
#define SI_TKILL (-6)
#endif

static void storm_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	m *mp = getm();
	if (mp == NULL) { /* a creator thread: not an M, nothing to check */
		__atomic_fetch_add(&st.other, 1, __ATOMIC_RELAXED);
		return;
	}
	g *gp = getg();
	bool ongs = sp >= mp->gsignal->stack.lo && sp < mp->gsignal->stack.hi;
	bool ong0 = sp >= mp->g0->stack.lo && sp < mp->g0->stack.hi;
	if (gp == NULL || (gp->kind != G_USER && gp->m != mp) || (where_checked && !ongs && !ong0))
		__atomic_fetch_add(&st.bad, 1, __ATOMIC_RELAXED);
	/* The handler may run on any M, at any moment of the test's setup. */
	int64_t busy[2] = { __atomic_load_n(&busy_id[0], __ATOMIC_RELAXED),
		            __atomic_load_n(&busy_id[1], __ATOMIC_RELAXED) };
	for (int i = 0; i < 2; i++) {
		if (mp->id != busy[i])
			continue;
		if (si->si_code == SI_QUEUE) {
			if (si->si_value.sival_int != (int)mp->id || (where_checked && !ongs))
				__atomic_fetch_add(&st.bad, 1, __ATOMIC_RELAXED);
			ev_add(&st.tagged[i], 1);
		} else if (si->si_code == SI_TKILL) {
			if (where_checked && !ongs)
				__atomic_fetch_add(&st.bad, 1, __ATOMIC_RELAXED);
			ev_add(&st.direct[i], 1);
		}
	}
	if (si->si_code == SI_QUEUE && mp->id != busy[0] && mp->id != busy[1])
		__atomic_fetch_add(&st.bad, 1, __ATOMIC_RELAXED); /* landed elsewhere */
	__atomic_fetch_add(&st.handled, 1, __ATOMIC_RELAXED);
}

static void busy_m(void *arg)
{
	(void)arg;
	ev_add(&busyup, 1);
	while (!__atomic_load_n(&busystop, __ATOMIC_ACQUIRE))
		arch_procyield(50);
}

static void short_m(void *arg)
{
	(void)arg;
	arch_procyield(2000);
}

static void *churn(void *arg)
{
	(void)arg;
	int64_t prev = 0;
	for (uint32_t k = 0; !__atomic_load_n(&churnstop, __ATOMIC_ACQUIRE); k++) {
		int64_t id = mrt_newm(short_m, NULL, NULL);
		if (id <= 0) {
			__atomic_fetch_add(&st.bad, 1000, __ATOMIC_RELAXED);
			break;
		}
		__atomic_store_n(&newest[k % 16], id, __ATOMIC_RELAXED);
		if (prev > 0)
			mrt_join(prev);
		prev = id;
	}
	if (prev > 0)
		mrt_join(prev);
	return NULL;
}

static void *storm(void *arg)
{
	(void)arg;
	for (uint32_t k = 0; !__atomic_load_n(&churnstop, __ATOMIC_ACQUIRE); k++) {
		int64_t id = __atomic_load_n(&newest[k % 16], __ATOMIC_RELAXED);
		if (id > 0 && mrt_signalm(id, SIGUSR1) == 0)
			__atomic_fetch_add(&st.stormsent, 1, __ATOMIC_RELAXED);
		if (k % 256 == 0)
			kill(getpid(), SIGUSR1); /* any thread of the process */
		if (k % 16 == 0)
			sched_yield();
	}
	return NULL;
}

static void test_sigusr1_storm_during_churn(void **state)
{
	(void)state;
#if !defined(__linux__)
	print_message("no thread-directed sigqueue on this OS: the tagged storm runs on Linux\n");
	skip();
#endif
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = storm_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigaction(SIGUSR1, &sa, &old);
	memset(&st, 0, sizeof st);
	memset(newest, 0, sizeof newest);
	churnstop = busystop = busyup = 0;
	for (int i = 0; i < 2; i++)
		__atomic_store_n(&busy_id[i], must_newm(busy_m, NULL), __ATOMIC_RELAXED);
	ev_wait(&busyup, 2);

	pthread_t c[2], s;
	for (int i = 0; i < 2; i++)
		pthread_create(&c[i], NULL, churn, NULL);
	pthread_create(&s, NULL, storm, NULL);

	int rounds = quick ? 200 : 1000;
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < 2; i++) {
			int32_t tid = tid_of(busy_id[i]);
			assert_true(tid > 0);
			uint32_t t0 = ev_get(&st.tagged[i]), d0 = ev_get(&st.direct[i]);
			assert_int_equal(queue_tid(tid, SIGUSR1, (int)busy_id[i]), 0);
			ev_wait(&st.tagged[i], t0 + 1);
			assert_int_equal(mrt_signalm(busy_id[i], SIGUSR1), 0);
			ev_wait(&st.direct[i], d0 + 1);
		}
	}
	__atomic_store_n(&churnstop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(c[i], NULL);
	pthread_join(s, NULL);
	__atomic_store_n(&busystop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		assert_int_equal(mrt_join(busy_id[i]), 0);
	sigaction(SIGUSR1, &old, NULL);
	print_message("storm: %u handled (%u on threads that are not Ms), %u sent by the storm, "
	              "%d tagged and %d direct to busy Ms\n", st.handled, st.other, st.stormsent,
	              2 * rounds, 2 * rounds);
	assert_int_equal(st.bad, 0);
	/* Standard signals coalesce, but each was handled before the next. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(st.tagged[i], (uint32_t)rounds);
		assert_int_equal(st.direct[i], (uint32_t)rounds);
	}
}

/* ------------------------------------------------------------------------ */

/*
 * #11 item 9: an M is signallable from the moment mrt_newm has returned its
 * id. In the pthread model mrt_signalm used to answer -ESRCH until the new
 * thread had run minit (20 times in 30 right after mrt_newm); the test hook
 * holds the new M at mstart, before minit, until the signal has been sent.
 * The signal is then delivered once the M's mask lets it through.
 */
static uint32_t newm_release, newm_handled, newm_sent;
static int64_t newm_handler_mid;

static void newm_usr1(int sig)
{
	(void)sig;
	newm_handler_mid = mrt_mid();
	ev_add(&newm_handled, 1);
}

static void hold_at_mstart(int point, void *arg)
{
	(void)arg;
	if (point == TP_MSTART)
		ev_block(&newm_release, 1);
}

static void wait_for_newm_signal(void *arg)
{
	(void)arg;
	/* Under TSan the handler runs at the next intercepted libc call,
	 * which this M never makes: not waited for there. */
	if (where_checked && ev_get(&newm_sent) != 0)
		ev_block(&newm_handled, 1);
}

static void test_signalm_reaches_an_m_as_soon_as_newm_returns(void **state)
{
	(void)state;
	struct sigaction old;
	catch_signal(SIGUSR1, newm_usr1, &old);
	int rounds = quick ? 5 : 30;
	for (int i = 0; i < rounds; i++) {
		newm_release = newm_handled = newm_sent = 0;
		newm_handler_mid = -1;
		mrt_test_pointhook(hold_at_mstart);
		int64_t id = must_newm(wait_for_newm_signal, NULL);
		int r = mrt_signalm(id, SIGUSR1);
		mrt_test_pointhook(NULL);
		if (r == 0)
			ev_add(&newm_sent, 1);
		ev_add(&newm_release, 1);
		assert_int_equal(mrt_join(id), 0);
		if (r != 0)
			print_error("round %d: mrt_signalm(M%lld) right after mrt_newm: %s\n", i,
			            (long long)id, mrt_strerror(r));
		assert_int_equal(r, 0);
		if (where_checked) {
			assert_int_equal(ev_get(&newm_handled), 1);
			assert_int_equal(newm_handler_mid, id);
		}
	}
	sigaction(SIGUSR1, &old, NULL);
}

/*
 * The same from the M itself: a new M signals itself first thing, while its
 * creator has not yet stored the handle pthread_create gave it (a test hook
 * holds the creator there; the window is open in every run of the pthread
 * model, where test_syscall's M that signals itself at once was seen to get
 * -ESRCH). The M is live and running its own function: 0, and delivered.
 */
static uint32_t self_sent;
static int self_result;

static void hold_before_handle(int point, void *arg)
{
	(void)arg;
	if (point == TP_OSHANDLE)
		ev_block(&self_sent, 1);
}

static void signal_myself(void *arg)
{
	(void)arg;
	__atomic_store_n(&self_result, mrt_signalm(mrt_mid(), SIGUSR1), __ATOMIC_RELEASE);
	ev_add(&self_sent, 1);
	if (where_checked && self_result == 0)
		ev_block(&newm_handled, 1);
}

static void test_a_new_m_signals_itself_before_its_creator_resumes(void **state)
{
	(void)state;
	struct sigaction old;
	catch_signal(SIGUSR1, newm_usr1, &old);
	newm_handled = self_sent = 0;
	newm_handler_mid = -1;
	mrt_test_pointhook(hold_before_handle);
	int64_t id = must_newm(signal_myself, NULL);
	mrt_test_pointhook(NULL);
	assert_int_equal(mrt_join(id), 0);
	sigaction(SIGUSR1, &old, NULL);
	assert_int_equal(ev_get(&self_sent), 1);
	assert_int_equal(self_result, 0);
	if (where_checked)
		assert_int_equal(newm_handler_mid, id);
}

/*
 * #11 item 9 (the race with the thread's end): a send that found the M
 * live reaches that M's thread, never one the kernel made since. The test
 * hook stalls mrt_signalm between its look at the M and the send, and the
 * M exits meanwhile: its thread must wait for the send (TP_SENDWAIT
 * says it does) instead of ending and freeing its tid (its pthread handle,
 * in the pthread model) for the next thread.
 */
static int64_t sw_id;
static uint32_t sw_stalled, sw_release, sw_waited, sw_exit;
static int sw_result;

static void sw_hook(int point, void *arg)
{
	m *mp = arg;
	if (mp->id != __atomic_load_n(&sw_id, __ATOMIC_ACQUIRE))
		return;
	if (point == TP_SIGNALM) {
		ev_add(&sw_stalled, 1);
		ev_block(&sw_release, 1);
	} else if (point == TP_SENDWAIT) {
		ev_add(&sw_waited, 1);
	}
}

static void sw_m(void *arg)
{
	(void)arg;
	ev_block(&sw_exit, 1);
}

static void *sw_signaller(void *arg)
{
	(void)arg;
	sw_result = mrt_signalm(sw_id, SIGURG); /* ignored by default */
	return NULL;
}

static void test_exiting_m_waits_for_a_send_in_flight(void **state)
{
	(void)state;
	sw_stalled = sw_release = sw_waited = sw_exit = 0;
	sw_result = 1;
	int64_t id = must_newm(sw_m, NULL);
	int32_t tid;
	while ((tid = tid_of(id)) <= 0) /* pthread model: once minit ran */
		sched_yield();
	__atomic_store_n(&sw_id, id, __ATOMIC_RELEASE);
	mrt_test_pointhook(sw_hook);
	pthread_t t;
	pthread_create(&t, NULL, sw_signaller, NULL);
	ev_wait(&sw_stalled, 1);
	ev_add(&sw_exit, 1); /* the M ends while the send is stalled */
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (ev_get(&sw_waited) == 0 && thread_exists(tid) && mrt_nanotime() < deadline)
		sched_yield();
	bool waited = ev_get(&sw_waited) == 1, alive = thread_exists(tid);
	ev_add(&sw_release, 1);
	pthread_join(t, NULL);
	mrt_test_pointhook(NULL);
	assert_int_equal(mrt_join(id), 0);
	if (!waited || !alive)
		print_error("M%lld's thread %s while a send to it was in flight\n", (long long)id,
		            alive ? "did not wait" : "ended");
	assert_true(waited && alive);
	assert_int_equal(sw_result, 0);
}

/*
 * #11 item 9: the C library's own signals — glibc's 32 (cancellation) and
 * 33 (setxid) — are refused: sent to an M, the first killed the process
 * (its action stays the default until the thread library needs it) and
 * the second would run libc's setxid handler on a thread that is not
 * taking part in a setxid. In a child: sent, they would kill this suite.
 */
static void child_reserved_signals(void)
{
	int64_t id = mrt_newm(fn_park, NULL, NULL);
	CHILD_CHECK(id > 0);
	for (int sig = 32; sig <= 33; sig++) {
		CHILD_CHECK(mrt_signalm(0, sig) == -EINVAL);
		CHILD_CHECK(mrt_signalm(id, sig) == -EINVAL);
	}
	CHILD_CHECK(mrt_signalm(id, SIGURG) == 0); /* ignored by default */
	mrt_dprintf(2, "survived\n");
}

static void test_reserved_signals_are_refused(void **state)
{
	(void)state;
	struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_reserved_signals, 30, &c);
	if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0 ||
	    strcmp(c.out, "survived\n") != 0) {
		print_error("child: status 0x%x; output:\n%s\n", c.status, c.out);
		fail();
	}
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
		MRT_TEST(test_signalm_reaches_m0),
		MRT_TEST(test_new_m_has_init_mask),
		MRT_TEST(test_signals_at_birth_and_death),
		MRT_TEST(test_signals_at_death_never_on_unmapped_stack),
		MRT_TEST(test_sigusr1_storm_during_churn),
		MRT_TEST(test_signalm_reaches_an_m_as_soon_as_newm_returns),
		MRT_TEST(test_a_new_m_signals_itself_before_its_creator_resumes),
		MRT_TEST(test_exiting_m_waits_for_a_send_in_flight),
		MRT_TEST(test_reserved_signals_are_refused),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
