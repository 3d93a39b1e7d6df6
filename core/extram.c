/*
 * extram.c — threads mrt did not make, made Ms: attached Ms (Go's extra Ms,
 * needm and dropm in proc.go, with Go 1.21's binding until the thread
 * exits, cgoBindM).
 *
 * A thread that calls into the user's runtime from outside — the program's
 * own pthread, a thread of another library calling back — has no M. Go
 * gives such a thread one of its extra Ms for the callback (needm) and
 * takes it back after (dropm). Until Go 1.21 it did that on every callback,
 * and paid each time for installing and removing the signal stack and for
 * the mask around it: eight signal system calls per call from a C thread
 * (golang/go#51676). Since 1.21 the M stays bound to the thread, and a
 * pthread key's destructor drops it when the thread exits; and since
 * golang/go#68587 (refreshing the thread's stack bounds on every callback
 * made one workload 2.75 times slower) the bounds are read once. mrt does
 * the same from the start:
 *
 *  - needm, the first mrt_needm on a thread: an M of its own (a new id, as
 *    every M has; ids are never reused), outside the thread limit (Go's
 *    checkmcount leaves extra Ms out); g0 is the thread's stack, with the
 *    exact bounds the thread library reports, read once (osneedm); gsignal
 *    is installed as a new M's is, remembering the thread's own stack, and
 *    the mask is left to the thread (core/signal.c); the platform binds
 *    the M to the thread with a key whose destructor drops it when the
 *    thread ends. Three system calls on Linux: sigaltstack, gettid and
 *    the one inside glibc's pthread_getattr_np (sched_getaffinity).
 *  - Every later mrt_needm on the thread: a load of mrt_tls.m, no system
 *    call, the bounds not read again.
 *  - dropm, by mrt_dropm or at the thread's end (extramthreadend, from the
 *    key's destructor): the end of an M as in the pthread model — off
 *    allm and onto freem, counted as freed, the sends in flight waited
 *    for — except that the thread goes on, as the thread it was: its own
 *    signal stack back exactly, its mask untouched, its TLS no M's.
 *
 * Go keeps its extra Ms in a list of their own (extraM, with one spare
 * always ready), because its needm runs without an m and cannot allocate.
 * mrt's needm can: an attached M takes its m from the m pool and its
 * gsignal from the stack cache, which is where a dropped M's go back once
 * reaped, so a steady stream of threads that attach and end reuses the
 * same few, with no system call for memory. Reaping, not a direct return
 * to a list, because a lock-free walker (mrt_forallm, mrt_signalm,
 * mrt_dump) may stand on the m when it leaves allm.
 *
 * Order at the end (dropm). The thread stops being an M for the walkers
 * first (mputfreem: off allm), then waits for the sends that found it
 * (mwaitsends: a signal sent to the M reaches the thread while it is the
 * M), then stops being an M for itself (TLS cleared: a handler from here
 * sees no M), then gets its own signal stack back (no handler starts on
 * gsignal from here), and only then may gsignal be freed (osdropm stores
 * freeMRef). So no signal needs to be blocked, where Go's dropm blocks
 * them and restores the mask: the thread's own mask is never touched.
 */
#include "runtime.h"
#include "san.h"

static int64_t needm(void);
static void dropm(m *mp, bool threadend);

MRT_API int64_t mrt_needm(void)
{
	m *mp = getm();
	if (likely(mp != nil))
		return mp->id; /* bound already, or an M of mrt's own */
	return needm();
}

/*
 * needm attaches the calling thread, which is no M (Go's needm and
 * oneNewExtraM in one). Order: the M on allm with its id, gsignal, the
 * thread's bounds and binding (osneedm), then the signal stack, and only
 * then the TLS that makes the thread an M: a handler that runs before it
 * finds no M (on gsignal or on the thread's own stack), one after finds
 * the M with gsignal installed. A failure undoes everything (mfailed: the
 * id counted as failed, the stacks back where they came from).
 */
static __attribute__((noinline, cold)) int64_t needm(void)
{
	if (!load_acquire(&cfg.inited))
		return -EINVAL;
	mrt_tls.errmsg[0] = '\0';
	/* As allocm: a dropped M's gsignal may be the very stack needed. */
	if (load_relaxed(&sched.freem) != nil)
		reapfreem();
	m *mp = mnew();
	if (mp == nil) {
		seterrmsg("mrt: cannot attach this thread: no memory for an M");
		return -ENOMEM;
	}
	mp->attached = true;    /* before mcommoninit: outside the limit */
	mp->freeWait = freeMWait; /* until dropm's osdropm */
	mp->birth = birthDone;  /* the thread exists already */
	mp->g0->ownstack = false; /* the thread's own: osneedm records it */
	int err = mcommoninit(mp);
	if (err != 0) {
		mfailed(mp, false, err);
		return err;
	}
	const char *what = "its signal stack";
	err = gsignalalloc(mp);
	if (err == 0) {
		mpreinit(mp);
		what = "its stack bounds";
		err = osneedm(mp);
	}
	if (err == 0) {
		what = "sigaltstack";
		err = minitSignals(mp); /* gsignal installed; the mask is the thread's */
		if (err != 0)
			osunbindm(mp);
	}
	if (err != 0) {
		seterrmsg("mrt: cannot attach this thread: %s: %s", what, mrt_strerror(err));
		MTRACE(MT_FAILED, mp, err);
		mfailed(mp, true, err);
		return err;
	}
	mp->g0->sanfiber = san_curfiber();
	int64_t id = mp->id;
	mrt_tls.m = mp;
	setg(mp->g0);
	__atomic_store_n(&mp->status, MRT_M_ATTACHED, __ATOMIC_RELEASE);
	MTRACE(MT_ATTACHED, mp, 0);
	return id;
}

MRT_API int mrt_dropm(void)
{
	m *mp = getm();
	if (mp == nil || !mp->attached)
		return -EPERM;
	/* Only from the thread's own frames: a user g's or systemstack's
	 * would be left without a g0 to return to, and a handler on gsignal
	 * cannot have its stack taken away (sigaltstack refuses). */
	uintptr_t sp = arch_getsp();
	if (getg() != mp->g0 || mp->onsystemstack ||
	    (sp >= mp->gsignal->stack.lo && sp < mp->gsignal->stack.hi))
		return -EBUSY;
	/* Inside a blocking section the P in it would be lost, as for
	 * mrt_mexit and mrt_stopm. */
	if (insyscall(mp))
		return -EBUSY;
	dropm(mp, false);
	return 0;
}

/*
 * dropm ends attached M mp on its thread, which goes on without it (Go's
 * dropm). See "Order at the end" above. On return mp may already be
 * another M's: it is not touched after osdropm.
 */
static void dropm(m *mp, bool threadend)
{
	MTRACE(MT_DROPPED, mp, threadend ? MT_WHY_THREAD : 0);
	/* Off the monitor's list before allm (as mexit): once mp is on freem
	 * it may be reaped and reused, and a reused m still on the list would
	 * be linked into it twice. A thread that ends inside a section (its
	 * thread library's exit) ends the section here, its P dropped. */
	sysmexit(mp);
	mputfreem(mp);
	mwaitsends(mp);
	osunbindm(mp);
	mrt_tls.m = nil;
	setg(nil);
	/* The TLS stores before the sigaltstack call, as a handler on this
	 * thread would see them. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	unminitSignals(mp); /* the thread's own stack back, bit for bit */
	mp->attached = false;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	osdropm(mp);
}

/*
 * extramthreadend drops mp as its thread ends: the platform's key
 * destructor (platform/posix/extram_posix.c) calls it on that thread,
 * whose TLS the thread library may already have cleared (Go's destructor
 * restores g from the key for the same reason), so mp comes from the key.
 * The thread may end on a user g or inside mrt_systemstack (pthread_exit,
 * cancellation): the frames it abandoned are mabandon's to account for,
 * as for an M mrt made (mexitthread). Code that runs after this, in the
 * thread's later exit steps, may attach it again: the thread library then
 * runs the destructor once more (POSIX's PTHREAD_DESTRUCTOR_ITERATIONS
 * rounds, 4 in glibc), and a binding made in the last round outlives the
 * thread.
 */
void extramthreadend(m *mp)
{
	m *self = getm();
	if (self != nil && self != mp)
		fatal("extramthreadend: the thread of M%lld is M%lld", (long long)mp->id,
		      (long long)self->id);
	mrt_tls.m = mp;
	g *was = __atomic_load_n(&mp->curg, __ATOMIC_RELAXED);
	if (mabandon(mp) && was != mp->g0) {
		/* The sanitizers were last told of the abandoned g: on g0
		 * again, for good. */
		san_leave(was, true, mp->g0);
		san_enter(mp->g0);
	}
	dropm(mp, true);
}
