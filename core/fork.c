/*
 * fork.c — mrt across fork(2) and execve(2).
 *
 * fork. The child of a multi-threaded process has one thread: the one that
 * called fork. Every other M is gone without having run its exit path, and
 * any of them may have held one of mrt's locks at the instant of the fork.
 * mrt registers fork handlers at mrt_init (pthread_atfork, the platform's
 * osatfork), in the manner of Go's syscall.forkExec around its runtime locks:
 *  - before the fork (forkprepare, on the forking thread): take every lock
 *    of mrt — sched.lock, the m and g pools, the stack cache — so the
 *    snapshot the child gets is between critical sections, never in one;
 *  - in the parent afterwards: release them;
 *  - in the child afterwards (forkchild): reset them (their holder is the
 *    forking thread, now the only one, so releasing would also do, but a
 *    reset cannot wake sleepers that no longer exist), and make the state
 *    say what is true: every M but the forking thread's is dead. Those Ms
 *    leave allm and the idle list for freem, counted as freed, with freeWait
 *    set as their threads' exit would have (freeMStack; freeMRef in the
 *    pthread model, whose g0 stacks libc reclaims in the child), so the next
 *    reap returns their stacks to the cache. Joiners and lock-free walkers
 *    were other threads: their marks are cleared. m0's tid is the child's.
 *    The ms other threads held on no list — being made (between mnew and
 *    the push on allm), undone after a failure, or on a reaper's local list
 *    — are found by a scan of the m pool (m->where says who holds an m),
 *    and they and the stacks recorded in them go back to the pool and the
 *    stack cache; so does a dead m0's gsignal. What stays lost is a stack
 *    whose mmap or munmap system call was under way (stack.c orders its
 *    records so that it is never freed twice).
 * The forking thread is m0, an attached M (core/extram.c: a thread libc
 * made, which stays that M in the child, bound to it as before) or a thread
 * that is not an M (a clone-model M cannot call fork: it is libc); in the
 * last two cases m0's thread is gone too, and in the last the child's only
 * thread is not an M. Attached Ms of other threads die like every other M:
 * off allm, counted as freed, and no longer left out of the thread limit's
 * count (sched.nmextra), which would otherwise let the child exceed it. Either way the child may use all
 * of mrt: create, park, wake and join Ms, run gs, signal Ms, fork again.
 * What is lost is what ran on the other threads: gs that were running on
 * other Ms at the fork stay "running" forever (a suspended g is intact and
 * may be resumed). Do not fork from inside an mrt_forallm callback or from a
 * signal handler that may have interrupted mrt (the handlers take mrt's
 * locks); glibc's _Fork skips the handlers and leaves mrt unusable in the
 * child, like any library with locks.
 *
 * exec. execve from a multi-threaded process replaces it only after the
 * kernel has killed the other threads, so no thread of mrt's survives into
 * the new image. But a thread that is inside clone(2) at that moment shares
 * the process's fs_struct without being in the thread group yet, and Linux
 * then treats the exec as unsafe (LSM_UNSAFE_SHARE): a set-user-ID,
 * set-group-ID or file-capability program starts without its privileges
 * (Go issue 19546). Go serialises exec and clone with execLock; mrt offers
 * the same: newm1 holds the exec lock shared around newosproc, and
 * mrt_execlock takes it exclusively, waiting for clones in flight and
 * holding off new ones. A program calls mrt_execlock() right before
 * execve() and mrt_execunlock() if execve fails. Holding it shared costs an
 * atomic add and subtract per creation, no system call.
 */
#include "runtime.h"
#include "fixalloc.h"

/* ------------------------------------------------------------------------
 * The exec lock: readers are M creations, the writer is an exec.
 * ------------------------------------------------------------------------ */

enum { execwriter = 1u << 31 };

static struct {
	uint32_t word;  /* execwriter | readers */
	mutex wmu;      /* one writer at a time */
	int32_t writer; /* its tid while it holds or waits */
} execlk;

/* Shared, around newosproc. -EDEADLK if the calling thread holds the lock
 * exclusively (it would wait for itself). */
int execrlock(void)
{
	for (;;) {
		uint32_t v = load_relaxed(&execlk.word);
		if (likely(!(v & execwriter))) {
			if (cas(&execlk.word, &v, v + 1))
				return 0;
			continue;
		}
		if (load_relaxed(&execlk.writer) == osgettid())
			return -EDEADLK;
		futexsleep(&execlk.word, v, -1);
	}
}

void execrunlock(void)
{
	uint32_t v = xadd(&execlk.word, (uint32_t)-1) - 1;
	if (v == execwriter) /* the last reader out, a writer waits */
		futexwakeup(&execlk.word, 1);
}

MRT_API int mrt_execlock(void)
{
	int32_t self = osgettid();
	if (load_relaxed(&execlk.writer) == self)
		return -EDEADLK;
	lock(&execlk.wmu);
	store_relaxed(&execlk.writer, self);
	uint32_t v = __atomic_or_fetch(&execlk.word, execwriter, __ATOMIC_ACQ_REL);
	while (v != execwriter) {
		futexsleep(&execlk.word, v, -1);
		v = load_acquire(&execlk.word);
	}
	return 0;
}

MRT_API int mrt_execunlock(void)
{
	if (load_relaxed(&execlk.writer) != osgettid())
		return -EPERM;
	store_relaxed(&execlk.writer, 0);
	__atomic_and_fetch(&execlk.word, ~(uint32_t)execwriter, __ATOMIC_RELEASE);
	futexwakeup(&execlk.word, INT32_MAX);
	unlock(&execlk.wmu);
	return 0;
}

/* ------------------------------------------------------------------------
 * fork
 * ------------------------------------------------------------------------ */

static void forkprepare(void)
{
	if (!load_acquire(&cfg.inited))
		return;
	/* No path of mrt holds one of these while it takes another, so any
	 * order is free of deadlock; this one is fixed. */
	lock(&sched.lock);
	lock(&mpool.lock);
	lock(&gpool.lock);
	stackcache_forklock();
	sysmonforklock();
}

static void forkparent(void)
{
	if (!load_acquire(&cfg.inited))
		return;
	sysmonforkunlock();
	stackcache_forkunlock();
	unlock(&gpool.lock);
	unlock(&mpool.lock);
	unlock(&sched.lock);
}

/* A dead M to freem, counted as freed. sched.lock held (reset). An
 * attached M's g0 was its thread's stack, in either model: only the m and
 * gsignal are mrt's (freeMRef). */
static void forkdead(m *mp)
{
	__atomic_store_n(&mp->status, MRT_M_EXITING, __ATOMIC_RELAXED);
	mp->freeWait = OS_G0_FROM_OS || mp->attached ? freeMRef : freeMStack;
	mp->joining = 0;
	mp->birth = birthDone; /* the creator (another thread) is gone */
	if (mp == &m0) {
		/* Static: never on freem or in the pool. Its gsignal stack, if
		 * mrt's, is no thread's signal stack here: it goes back now. */
		g *gs = mp->gsignal;
		if (gs->ownstack)
			stackfree(&gs->stackmem);
		gs->stack.lo = gs->stack.hi = 0;
		return;
	}
	freempush(mp);
}

/*
 * A slot of the m pool, in the child (fixalloc_forkreset): an m on allm or
 * freem stays; one that another thread held on no list at the fork — being
 * made, undone after a failure, or reaped (mInFlight) — gives back the
 * stacks recorded in it (stack.c records a stack in one place at a time,
 * for this) and goes to the pool with the free ones.
 */
static bool forkmslot(void *obj)
{
	m *mp = obj;
	if (mp->where == mOnList)
		return true;
	if (mp->where == mInFlight) {
		stackfree(&mp->gsignal_.stackmem);
		stackfree(&mp->g0_.stackmem);
		mp->status = 0;
		mp->where = mInPool;
	}
	return false;
}

static void forkchild(void)
{
	if (!load_acquire(&cfg.inited))
		return;
	/* Only this thread exists: the locks it took in forkprepare are its
	 * own; every other holder, sleeper, walker and joiner is gone. */
	sched.lock.key = 0;
	mpool.lock.key = 0;
	gpool.lock.key = 0;
	stackcache_forkreset();
	sched.nwalkers = 0;
	sched.nwalkwait = 0;
	int32_t self = osgettid();
	if (execlk.writer != self) {
		/* The exec lock's writer was another thread. */
		execlk.writer = 0;
		execlk.wmu.key = 0;
		execlk.word = 0;
	} else {
		execlk.word = execwriter; /* ours still; readers were others */
	}

	m *me = getm();
	if (me != nil)
		me->procid = self;
	/* No walker is left: a table the index replaced goes back. */
	mindexquiet();
	/* Every M on allm but ours is dead, parked ones included. */
	for (m *mp = allm, *next; mp != nil; mp = next) {
		next = mp->alllink;
		if (mp == me)
			continue;
		/* (An attached M's thread is gone too: allmunlink takes it out
		 * of the count the limit leaves out, sched.nmextra.) */
		allmunlink(mp);
		sched.nmfreed++;
		forkdead(mp);
	}
	sched.midle = nil;
	sched.nmidle = 0;
	sched.mspin = nil; /* spinning Ms were other threads */
	sched.nmspinning = 0;
	/* The monitor was one of them: the next blocking section starts a
	 * new one, and only our M stays on its list (core/sysmon.c). */
	sysmonforkchild(me);
	/* Every id taken is an M on allm (mcommoninit), so a creation the fork
	 * cut off is one of these dead Ms: mcount is exact. */
	/* Ms that had exited but whose threads were still on their way out. */
	for (m *mp = sched.freem; mp != nil; mp = mp->freelink) {
		if (mp->freeWait == freeMWait)
			mp->freeWait = OS_G0_FROM_OS ? freeMRef : freeMStack;
		mp->joining = 0;
		mp->birth = birthDone;
	}
	/* Ms other threads held on no list, and the pool's own count. */
	fixalloc_forkreset(&mpool, forkmslot);
}

/* At mrt_init, on m0: once per process (handlers cannot be removed). */
int forkinit(void)
{
	static uint32_t done;
	if (load_acquire(&done))
		return 0;
	int err = osatfork(forkprepare, forkparent, forkchild);
	if (err == 0)
		store_release(&done, 1);
	return err;
}
