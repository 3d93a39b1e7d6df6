/*
 * life-of-m — the life of an M, narrated.
 *
 * Three Ms are born (Go's newm → allocm → mcommoninit → newm1 → newosproc
 * → clone → mstart): one exits at once, one switches to a user g, one parks
 * (stopm) and is woken with new work (startm); a thread mrt did not make (a
 * plain pthread) becomes an M too (mrt_needm, Go's needm: an attached M)
 * and is dropped when it ends; another M is refused by the thread limit;
 * all of them exit (mexit) and are reaped (freem). Every line names the M,
 * its kernel thread id and its stacks.
 *
 * Everything that runs on an M here uses mrt's own output (mrt_printf), not
 * stdio: in the clone model an M has no libc thread state.
 *
 * For debuggers: life_of_m_checkpoint() is called when one M is running a
 * user g, another is parked and a third is attached (tools/mrt-gdb.py's
 * test stops there), and
 * MRTDEBUG=mtrace=1 prints every M event as it happens.
 */
#include <mrt.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t step; /* which M has finished its say: keeps the story in order */

static void waitstep(uint32_t n)
{
	while (__atomic_load_n(&step, __ATOMIC_ACQUIRE) < n)
		sched_yield();
}

struct facts {
	int64_t id;
	int32_t tid;
	uintptr_t g0lo, g0hi, gslo, gshi;
};

static int find(const struct mrt_minfo *i, void *arg)
{
	struct facts *f = arg;
	if (i->id == f->id) {
		f->tid = i->tid;
		f->g0lo = i->g0_lo, f->g0hi = i->g0_hi;
		f->gslo = i->gsignal_lo, f->gshi = i->gsignal_hi;
	}
	return 0;
}

/* Runs on the M, on its g0 stack. */
static void say(const char *what)
{
	struct facts f = { .id = mrt_mid() };
	mrt_forallm(find, &f);
	uintptr_t lo, hi;
	mrt_gstack(mrt_getg(), &lo, &hi);
	uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
	char gname[24] = "g0";
	if (mrt_getg() != mrt_getg0())
		mrt_snprintf(gname, sizeof gname, "user g%lld", (long long)mrt_gid(mrt_getg()));
	mrt_printf("  M%lld  tid %-6d %s\n"
	           "        %s [%p, %p) (%llu KiB), sp %p inside: %s\n"
	           "        gsignal [%p, %p)\n",
	           (long long)f.id, f.tid, what, gname, (void *)lo, (void *)hi,
	           (unsigned long long)(hi - lo) >> 10, (void *)sp,
	           sp >= lo && sp < hi ? "yes" : "NO", (void *)f.gslo, (void *)f.gshi);
}

static void worker(void *arg)
{
	say("born: mstart ran minit (signal stack, init mask) and called us");
	__atomic_fetch_add(&step, 1, __ATOMIC_RELEASE);
	(void)arg;
	/* Returning is mrt_mexit: off allm, onto freem, thread ends. */
}

static void woken(void *arg)
{
	say(arg);
	__atomic_fetch_add(&step, 1, __ATOMIC_RELEASE);
}

/* M2 runs this on a user g of its own, until main lets it finish. */
static uint32_t gofree;

static void ontheg(void *arg)
{
	(void)arg;
	say("switched to a user g (mrt_gogo): its own stack, same M");
	__atomic_fetch_add(&step, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&gofree, __ATOMIC_ACQUIRE) == 0) {
		/* Busy: an M cannot call libc's sched_yield in the clone model. */
	}
	/* Returning ends the g: the M is back on g0, after its mrt_gogo. */
}

static mrt_g *userg;

static void withg(void *arg)
{
	(void)arg;
	say("born; it will run a user g");
	mrt_gogo(userg);
	say("back on g0: the user g returned, it is dead; returning exits the M");
}

static void parker(void *arg)
{
	(void)arg;
	say("born; now parking: stopm puts it on the idle list and sleeps");
	__atomic_fetch_add(&step, 1, __ATOMIC_RELEASE);
	mrt_stopm(); /* does not return: the M waits for startm */
}

/* A thread of the program's own, not mrt's: it asks to be an M, and stays
 * one until it ends (main lets it go in step 5). It is a libc thread, so it
 * may use stdio too; mrt_printf keeps the story's lines in one voice. */
static uint32_t foreigngo;

static void *foreign(void *arg)
{
	(void)arg;
	int64_t id = mrt_needm();
	if (id < 0) {
		fprintf(stderr, "life-of-m: mrt_needm: %s %s\n", mrt_strerror((int)id),
		        mrt_errmsg());
		exit(1);
	}
	say("a pthread mrt did not make, attached: mrt_needm gave it an M; g0 is its "
	    "own stack, exactly");
	__atomic_fetch_add(&step, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&foreigngo, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	if (mrt_needm() == id) /* a callback from this thread again, say */
		say("mrt_needm again: bound already, the same M, no system call");
	return NULL; /* the thread's end drops the M: no mrt_dropm needed */
}

static void stats(const char *when)
{
	struct mrt_mstats st;
	mrt_mstats(&st);
	printf("  [%s] live %lld (m0 included), idle %lld, created %lld, exited %lld, "
	       "awaiting reap %lld\n",
	       when, (long long)st.live, (long long)st.idle, (long long)st.created,
	       (long long)st.freed, (long long)st.exiting);
	fflush(stdout);
}

static void check(int64_t r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "life-of-m: %s: %s %s\n", what, mrt_strerror((int)r), mrt_errmsg());
		exit(1);
	}
}

/* A place for a debugger to stop: M2 runs a user g, M3 is parked, M4 is
 * attached. */
__attribute__((noinline)) void life_of_m_checkpoint(void);
__attribute__((noinline)) void life_of_m_checkpoint(void)
{
	__asm__ volatile("" ::: "memory");
}

int main(void)
{
	check(mrt_init(NULL), "mrt_init");
	printf("mrt: the life of an M (%s model)\n\n", mrt_threadmodel());
	printf("1. m0 is the thread that called mrt_init:\n");
	fflush(stdout);
	say("adopted as m0; its g0 is the stack it already had");
	stats("after init");

	printf("\n2. newm: three Ms are born\n");
	fflush(stdout);
	int64_t a = mrt_newm(worker, NULL, NULL);
	check(a, "newm");
	waitstep(1);
	check(mrt_malg(&userg, 64 << 10), "malg");
	check(mrt_gostart(userg, ontheg, NULL), "gostart");
	int64_t b = mrt_newm(withg, NULL, NULL);
	check(b, "newm");
	waitstep(2);
	int64_t c = mrt_newm(parker, NULL, NULL);
	check(c, "newm");
	waitstep(3);

	printf("\n2b. a thread mrt did not make becomes an M (needm)\n");
	fflush(stdout);
	pthread_t ft;
	if (pthread_create(&ft, NULL, foreign, NULL) != 0) {
		fprintf(stderr, "life-of-m: pthread_create failed\n");
		return 1;
	}
	waitstep(4);

	/* Wait until the third M is on the idle list. */
	struct mrt_mstats st;
	do
		mrt_mstats(&st);
	while (st.idle != 1);
	printf("\n3. M%lld runs a user g, M%lld is parked, the pthread is attached; "
	       "mrt_dump shows every M:\n",
	       (long long)b, (long long)c);
	stats("one parked");
	fflush(stdout);
	mrt_dump(1);
	life_of_m_checkpoint();

	printf("\n4. startm hands the idle M new work and wakes it (no new thread)\n");
	fflush(stdout);
	int64_t w = mrt_startm(woken, "woken by startm: same M, same thread, new function", NULL);
	check(w, "startm");
	printf("  startm chose M%lld\n", (long long)w);
	fflush(stdout);
	waitstep(5);

	printf("\n5. M%lld's user g returns; the M is back on g0 and returns too\n",
	       (long long)b);
	fflush(stdout);
	__atomic_store_n(&gofree, 1, __ATOMIC_RELEASE);
	check(mrt_join(b), "join");
	check(mrt_gfree(userg), "gfree");

	printf("\n5b. the attached pthread ends: its M is dropped with it (a key's "
	       "destructor, as Go's since 1.21)\n");
	fflush(stdout);
	__atomic_store_n(&foreigngo, 1, __ATOMIC_RELEASE);
	pthread_join(ft, NULL);
	stats("dropped");

	printf("\n6. the thread limit: with it set to the live count, newm is refused\n");
	mrt_mstats(&st);
	int32_t old = mrt_setmaxthreads((int32_t)st.live);
	int64_t r = mrt_newm(worker, NULL, NULL);
	printf("  newm: %s\n  %s\n  and nothing was left behind\n", mrt_strerror((int)r),
	       mrt_errmsg());
	mrt_setmaxthreads(old);

	printf("\n7. every M has exited (or is exiting); join waits for each\n"
	       "   thread to be gone (the kernel clears freeWait) and reaps it:\n");
	int64_t ids[3] = { a, b, c };
	for (int i = 0; i < 3; i++) {
		check(mrt_join(ids[i]), "join");
		printf("  M%lld gone; its g0 and gsignal stacks are back in the cache\n",
		       (long long)ids[i]);
	}
	stats("all reaped");
	return 0;
}
