/*
 * m.c — allocating, registering and reclaiming Ms (Go's allocm, mcommoninit,
 * checkmcount, the freem list and allm).
 *
 * An M's structure comes from a type-stable pool; its id is reserved under
 * sched.lock; it joins allm before its thread exists; when it exits it moves
 * from allm to freem, and its stacks are freed by the next allocm (or
 * mrt_reap / mrt_join) once freeWait says the thread no longer uses them.
 */
#include "runtime.h"
#include "fixalloc.h"
#include "san.h"
#include "slab.h"

fixalloc mpool = FIXALLOC_INIT(m);

/*
 * mpoolinit lays out the m pool (mrt_init, once the stack sizes are known).
 * In the clone model an m lives at the top of its own g0 stack, above the
 * TLS block, in one slot of a slab (slab.c): a parked M's live memory — the
 * m, the TLS block, mstart's and mpark's frames — is then one page, where
 * an m of a pool of its own cost a share of another (#15 item 6), and the
 * g0 stack comes and goes with the m. The pool stays type-stable: its
 * slabs are never unmapped. Up to stack_cache / 8 free ms keep their g0
 * pages, as the stack cache's warm set keeps a quarter of its bound; the
 * other free slots hold no page at all. In the pthread model g0 is libc's
 * and the pool is a plain one.
 */
void mpoolinit(void)
{
	if (!OS_G0_FROM_OS)
		/* g0's bytes, the TLS block's, and the 16 tlsbase may round
		 * g0's top down by. */
		slotpoolinit(&mpool, cfg.g0stack + cfg.tls_size + 16, cfg.stackcache / 8);
}

/*
 * The creations that failed last, with their errors (sched.lock). An id on
 * neither allm nor freem reads as an M that ran and was reaped; mrt_join
 * looks here first, so that the id of a failed creation gets its error.
 * Bounded, as mrt keeps nothing else per failure: an older failure's id
 * reads as reaped (mrt.h says so).
 */
enum { nfailedm = 64 };
static struct {
	int64_t id;
	int32_t err;
} failedm[nfailedm];
static uint32_t failedmnext;

/* Counts M id's creation as failed with err. sched.lock held. */
static void countfailed(int64_t id, int err)
{
	sched.nmfailed++;
	failedm[failedmnext % nfailedm].id = id;
	failedm[failedmnext % nfailedm].err = err;
	failedmnext++;
}

/* The error of M id's failed creation, or 0. sched.lock held. */
static int failederr(int64_t id)
{
	for (int i = 0; i < nfailedm; i++)
		if (failedm[i].id == id && failedm[i].err != 0)
			return failedm[i].err;
	return 0;
}

/*
 * checkmcount refuses a new M past the thread limit. Go throws here; a
 * library returns the error to the caller and leaves a message naming the
 * limit. sched.lock held.
 */
static int checkmcount(void)
{
	/* Attached Ms are not the program's threads to limit (Go's
	 * checkmcount subtracts its extra Ms the same way). */
	int64_t count = mcount() - sched.nmextra;
	if (count >= sched.maxmcount) {
		seterrmsg("mrt: program exceeds %d-thread limit (have %lld)", sched.maxmcount,
		          (long long)count);
		return -EAGAIN;
	}
	return 0;
}

/*
 * allm and freem, each with its index by id (mindex.c), which an M enters
 * and leaves in the same critical section as the list. Both lists are
 * doubly linked for their writers (allprev, freeprev: an O(1) unlink under
 * sched.lock); lock-free walkers of allm follow alllink only.
 */

/* Pushes mp on allm. Link first, then publish with a release store: a
 * lock-free walker that sees mp in allm also sees a complete mp, its link
 * included. sched.lock held. */
static void allmpush(m *mp)
{
	mp->allprev = nil;
	mp->alllink = allm;
	if (allm != nil)
		allm->allprev = mp;
	store_release(&allm, mp);
	mindexadd(MIDX_ALLM, mp);
	mp->where = mOnList;
}

/* Removes mp from allm if it is there. sched.lock held. */
bool allmunlink(m *mp)
{
	if (mindexfind(MIDX_ALLM, mp->id) != mp)
		return false;
	mindexdel(MIDX_ALLM, mp);
	/* mp->alllink stays as it is: a lock-free walker standing on mp still
	 * reaches the rest of the list. */
	store_release(mp->allprev != nil ? &mp->allprev->alllink : &allm, mp->alllink);
	if (mp->alllink != nil)
		mp->alllink->allprev = mp->allprev;
	if (mp->attached)
		sched.nmextra--; /* counted while on allm (mcommoninit) */
	return true;
}

/* Pushes mp, off allm, on freem. sched.lock held. */
void freempush(m *mp)
{
	mp->freeprev = nil;
	mp->freelink = sched.freem;
	if (sched.freem != nil)
		sched.freem->freeprev = mp;
	store_relaxed(&sched.freem, mp); /* allocm peeks at it unlocked */
	sched.nfreem++;
	mindexadd(MIDX_FREEM, mp);
}

/* Takes mp off freem: the caller holds it until mfree. sched.lock held. */
static void freemtake(m *mp)
{
	store_relaxed(mp->freeprev != nil ? &mp->freeprev->freelink : &sched.freem, mp->freelink);
	if (mp->freelink != nil)
		mp->freelink->freeprev = mp->freeprev;
	sched.nfreem--;
	mindexdel(MIDX_FREEM, mp);
	mp->where = mInFlight;
}

/*
 * mcommoninit gives mp its id and its place on allm (Go's mcommoninit), in
 * one critical section of sched.lock: id overflow is fatal, checkmcount,
 * per-M random state, the push on allm. Go's mcommoninit also calls
 * mpreinit (gsignal); mrt's caller does that next, outside the lock (see
 * allocm). On failure (the limit) nothing of this happened: -errno.
 */
int mcommoninit(m *mp)
{
	lock(&sched.lock);
	if (sched.mnext == INT64_MAX)
		throw("runtime: thread ID overflow");
	/* An attached M (core/extram.c) is outside the limit: its thread
	 * exists already, and is not the program's to refuse. */
	int err = mp->attached ? 0 : checkmcount();
	if (err != 0) {
		unlock(&sched.lock);
		return err;
	}
	mp->id = sched.mnext;
	mp->fastrand[0] = 1597334677u * (uint32_t)mp->id;
	mp->fastrand[1] = (uint32_t)arch_cputicks();
	if ((mp->fastrand[0] | mp->fastrand[1]) == 0)
		mp->fastrand[1] = 1;
	/* The id and the place on allm in one critical section: an id that
	 * has been handed out names an M that mrt_join and the walkers can
	 * find, from its first instant to its reaping (a join of an id taken
	 * and not yet on allm used to return 0 at once, #11 item 9). Link
	 * first, then publish with a release store: a lock-free walker that
	 * sees mp in allm sees a complete mp, its link included, and mnext
	 * already past mp's id (it bounds the ids it meets by mnext, atomic
	 * for it). Its stacks come after, outside the lock (allocm): walkers
	 * report them as unknown until they are recorded. */
	__atomic_store_n(&sched.mnext, mp->id + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&mp->status, MRT_M_STARTING, __ATOMIC_RELAXED);
	allmpush(mp);
	if (mp->attached)
		sched.nmextra++;
	unlock(&sched.lock);
	return 0;
}

/*
 * mputfreem moves an exiting M from allm to freem and counts it as freed, in
 * one critical section: no reaper can see it off both lists, and mcount
 * drops as it leaves. freeWait is still WAIT, so nothing is freed yet.
 * An M whose start failed (minit, see mstart) never ran its function: it is
 * counted as a failed creation, like one whose clone failed, so that every
 * creation failure leaves mcount, freed and failed in the same state.
 */
void mputfreem(m *mp)
{
	lock(&sched.lock);
	if (!allmunlink(mp))
		fatal("mexit: M%lld not on allm", (long long)mp->id);
	__atomic_store_n(&mp->status, MRT_M_EXITING, __ATOMIC_RELEASE);
	freempush(mp);
	if (mp->starterr != 0)
		countfailed(mp->id, mp->starterr);
	else
		sched.nmfreed++;
	unlock(&sched.lock);
}

static void mstacksfree(m *mp, bool undo, bool g0too);
static void mfreex(m *mp, bool undo);

/*
 * Frees what an exited M holds, as freeWait allows. An M whose start failed
 * is a failed creation: like mfailed, it returns each stack where it came
 * from (cache or OS), so that the failure leaves the cache as it was.
 */
static void mfreeres(m *mp, uint32_t freewait)
{
	mstacksfree(mp, mp->starterr != 0, freewait == freeMStack);
	mfreex(mp, mp->starterr != 0);
}

/* Gives back gsignal's stack — where it came from (stackundo: a failed
 * creation leaves the cache as it was), or to the cache (stackfree) — and,
 * with g0too, lets go of g0's if mrt made it: that is the m's own slot
 * (mpoolinit), which goes back to the pool with the m. */
static void mstacksfree(m *mp, bool undo, bool g0too)
{
	g *gs = mp->gsignal, *g0 = mp->g0;
	if (undo)
		stackundo(&gs->stackmem);
	else
		stackfree(&gs->stackmem);
	__atomic_store_n(&gs->stack.lo, 0, __ATOMIC_RELAXED); /* walkers: stackbounds */
	__atomic_store_n(&gs->stack.hi, 0, __ATOMIC_RELAXED);
	if (g0too && g0->ownstack) {
		san_stackderegister(g0->stackmem.vgid);
		g0->stackmem.vgid = 0;
		__atomic_store_n(&g0->stack.lo, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&g0->stack.hi, 0, __ATOMIC_RELAXED);
	}
}

/* Returns mp, whose stacks are given back, to the pool. Its status goes to
 * 0 first, which is how a lock-free reader recognises a pooled m; where
 * goes to mInPool after the stacks and before the pool has it (see where). */
void mfree(m *mp)
{
	mfreex(mp, false);
}

/* mfree, or with undo (a failed creation) the pool as the creation found
 * it: a slot carved for it is uncarved (slab.c). */
static void mfreex(m *mp, bool undo)
{
	__atomic_store_n(&mp->status, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	store_relaxed(&mp->where, mInPool);
	if (undo)
		fixalloc_undo(&mpool, mp);
	else
		fixalloc_free(&mpool, mp);
}

/*
 * walkwait sleeps until no lock-free walker runs: a join whose M a walk
 * keeps on freem (reapfreem leaves it there while walkers run). Spinning
 * here took the CPU from the very walkers it waited for. The waiter's
 * increment and load, and walkend's decrement and load, all sequentially
 * consistent, make a Dekker pair: either the last walker out sees the
 * waiter and wakes it, or the waiter sees the count at 0; futexsleep does
 * not sleep if the count changed since it was read. Without a wake from
 * walkend (OS_LOCK_SEMA) the sleep is at most 1 ms, then a look again.
 */
static void walkwait(void)
{
	__atomic_fetch_add(&sched.nwalkwait, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		uint32_t n = __atomic_load_n(&sched.nwalkers, __ATOMIC_SEQ_CST);
		if (n == 0)
			break;
		futexsleep(&sched.nwalkers, n, OS_LOCK_SEMA ? 1000000 : -1);
	}
	__atomic_fetch_sub(&sched.nwalkwait, 1, __ATOMIC_RELAXED);
}

/*
 * mfailed undoes allocm and mcommoninit for an M whose thread never started
 * (err is why): off allm, its id counted as failed (so mcount is what it
 * was), stacks back where they came from (cache or OS), the m back to the
 * pool. If a lock-free walker may be standing on the m (it was on allm), or
 * a joiner found it there, the m cannot go back to the pool yet: it goes to
 * freem instead, as if its thread had started and failed (freeWait STACK,
 * starterr set), and the next reap (the joiner's) undoes it in the same
 * way. The creation is decided either way: a joiner waiting for that
 * (birthWaited) is woken, and finds the m on freem with the error.
 */
void mfailed(m *mp, bool registered, int err)
{
	if (registered) {
		lock(&sched.lock);
		if (!allmunlink(mp))
			fatal("mfailed: M%lld not on allm", (long long)mp->id);
		countfailed(mp->id, err);
		if (mp->joining || walkersactive()) {
			/* where stays mOnList: off allm, onto freem */
			mp->starterr = err;
			__atomic_store_n(&mp->status, MRT_M_EXITING, __ATOMIC_RELEASE);
			mp->freeWait = freeMStack; /* no thread ever used the stacks */
			freempush(mp);
			/* Decided, once all of the above is in place for the joiner
			 * (it reads freeWait next, without the lock): the exchange
			 * releases it. */
			uint32_t birth = xchg(&mp->birth, birthDone);
			unlock(&sched.lock);
			/* Its joiner alone may reap it, so mp is still ours here
			 * (if the joiner saw birthDone without sleeping and has
			 * reaped it already, this wake is a spurious one). */
			if (birth == birthWaited)
				futexwakeup(&mp->birth, INT32_MAX);
			return;
		}
		/* No joiner has it (joining is set under this lock before a
		 * joiner waits on birth), and from here none can find it. */
		mindexquiet();
		mp->where = mInFlight;
		unlock(&sched.lock);
		TESTPOINT(TP_MFAILED, mp);
	}
	mstacksfree(mp, true, true);
	mfreex(mp, true);
}

/* mclear zeroes mp and wires its embedded g0 and gsignal to it: an m that
 * runs on g0 and has no stacks yet. */
void mclear(m *mp)
{
	__builtin_memset(mp, 0, sizeof *mp);
	mp->g0 = &mp->g0_;
	mp->gsignal = &mp->gsignal_;
	mp->g0->m = mp;
	mp->g0->kind = G_G0;
	mp->g0->status = _Grunning;
	mp->gsignal->m = mp;
	mp->gsignal->kind = G_SIGNAL;
	mp->gsignal->status = _Grunning;
	mp->curg = mp->g0;
}

/* A fresh m from the pool (allocm's, and needm's in core/extram.c). */
m *mnew(void)
{
	m *mp = fixalloc_alloc(&mpool);
	if (mp == nil)
		return nil;
	mclear(mp);
	/* Held by this thread from here (see where), once it is all set. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	store_relaxed(&mp->where, mInFlight);
	return mp;
}

/*
 * allocm allocates a new M unassociated with any thread (Go's allocm): it
 * reaps freem first, since that may free up the very stacks this M needs,
 * takes an m from the pool, registers it (mcommoninit), and gives g0 its
 * stack unless the OS provides one (pthread model).
 * On failure returns -errno and leaves nothing behind.
 */
int allocm(m **mpp, mrt_fn fn, void *arg, void *p)
{
	if (load_relaxed(&sched.freem) != nil)
		reapfreem();

	m *mp = mnew();
	if (mp == nil) {
		seterrmsg("mrt: cannot allocate an M (errno=%d)", ENOMEM);
		return -ENOMEM;
	}
	TESTPOINT(TP_MNEW, mp);
	mp->mstartfn = fn;
	mp->mstartarg = arg;
	mp->nextp = p;
	/* freeWait is WAIT for the whole life of the thread: the kernel (clone
	 * model) or the exiting thread (pthread model) changes it at the very
	 * end. Whether there will be a thread is open until newm1 is done. */
	mp->freeWait = freeMWait;
	mp->birth = birthPending;

	int err = mcommoninit(mp);
	if (err != 0) {
		mfailed(mp, false, err);
		return err;
	}
	/* Go's mpreinit: gsignal, then what the OS needs more. Outside
	 * sched.lock, so that no thread waits on it while another is in mmap;
	 * the M is on allm already, and a failure is undone as a registered
	 * M's. */
	err = gsignalalloc(mp);
	if (err != 0) {
		mfailed(mp, true, err);
		return err;
	}
	mpreinit(mp);
	TESTPOINT(TP_MPREINIT, mp);

	g *g0 = mp->g0;
	if (OS_G0_FROM_OS) {
		/* The thread library makes the stack; minit records its bounds. */
		g0->ownstack = false;
	} else {
		/* The m's own slot (mpoolinit): [guard][g0][TLS block][m]. No
		 * stack of stack.c's (stackmem stays empty): it goes with the m. */
		g0->ownstack = true;
		uintptr_t top = (uintptr_t)mp;
		g0->stackmem.vgid = san_stackregister(slotpoolbase(&mpool, mp) + pagesize, top);
		/* The M is on allm already: a word at a time, lo first
		 * (runtime.h: stackbounds). */
		__atomic_store_n(&g0->stack.lo, slotpoolbase(&mpool, mp) + pagesize, __ATOMIC_RELAXED);
		TESTPOINT(TP_G0HALF, mp);
		__atomic_store_n(&g0->stack.hi, tlsbase(top), __ATOMIC_RELAXED);
		mp->tp = tlsmake(mp, top);
	}
	*mpp = mp;
	return 0;
}

/* Frees an M taken off freem: its stacks, as freeWait allows, and the m. */
static void reapone(m *mp)
{
	MTRACE(MT_REAPED, mp, 0);
	mfreeres(mp, load_acquire(&mp->freeWait));
}

/*
 * reapfreem frees every M on freem whose thread is done with its stacks
 * (freeWait != WAIT), except Ms a joiner is waiting for (the joiner reaps
 * them: reapjoined), and except while a lock-free allm walker runs (the m
 * structs would go back to the pool under its feet; they stay on freem until
 * a later reap). Returns the number reaped.
 */
int reapfreem(void)
{
	m *done = nil;
	int n = 0;

	lock(&sched.lock);
	bool walkers = walkersactive();
	if (!walkers)
		mindexquiet();
	for (m *mp = sched.freem, *next; mp != nil; mp = next) {
		next = mp->freelink;
		if (load_acquire(&mp->freeWait) == freeMWait || walkers || mp->joining)
			continue;
		freemtake(mp);
		mp->freelink = done;
		done = mp;
		n++;
	}
	unlock(&sched.lock);
	if (done != nil)
		TESTPOINT(TP_REAPED, done);

	while (done != nil) {
		m *mp = done;
		done = mp->freelink;
		reapone(mp);
	}
	return n;
}

/*
 * reapjoined reaps M id, which mrt_join found at mp and marked joined, once
 * its thread is done: it is on freem then (it put itself there, or mfailed
 * did), and other reapers leave a joined M alone, so mp is still that M.
 * The id is checked all the same, under the lock that decides who reaps: a
 * joiner must never act on an m that has since been reused. Returns false
 * while a lock-free walker runs (nothing is reaped then); *err is the M's
 * start error (0, or why its creation or start failed).
 */
static bool reapjoined(m *mp, int64_t id, int *err)
{
	lock(&sched.lock);
	if (walkersactive()) {
		unlock(&sched.lock);
		return false;
	}
	mindexquiet();
	if (mindexfind(MIDX_FREEM, id) != mp || !mp->joining ||
	    load_acquire(&mp->freeWait) == freeMWait)
		fatal("mrt_join: M%lld is not on freem as its joiner left it", (long long)id);
	freemtake(mp);
	*err = mp->starterr;
	unlock(&sched.lock);
	reapone(mp);
	return true;
}

MRT_API int mrt_reap(void)
{
	if (!load_acquire(&cfg.inited))
		return -EINVAL;
	return reapfreem();
}

/* mrt_trim: exited Ms' stacks into the cache first, then the cache out,
 * and the pages of free ms' g0 stacks (clone model). */
MRT_API int64_t mrt_trim(void)
{
	if (!load_acquire(&cfg.inited))
		return -EINVAL;
	reapfreem();
	return stackcache_trim() + fixalloc_trim(&mpool);
}

/* Finds M id on allm or freem, in O(1) (mindex.c). sched.lock held. */
static m *findm(int64_t id)
{
	m *mp = mindexfind(MIDX_ALLM, id);
	return mp != nil ? mp : mindexfind(MIDX_FREEM, id);
}

MRT_API int mrt_join(int64_t id)
{
	if (!load_acquire(&cfg.inited) || id < 0)
		return -EINVAL;
	if (id == 0)
		return -EINVAL; /* m0 never exits through mrt */
	m *self = getm();
	if (self != nil && self->id == id)
		return -EDEADLK;
	/* Inside a walk: the reap at the end would wait for this very walk. */
	if (mrt_tlsp_()->walking != 0)
		return -EDEADLK;

	lock(&sched.lock);
	m *mp = findm(id);
	if (mp == nil) {
		/* At or above mnext: never created. Below and on neither list:
		 * it ended and was reaped already (Ms are not kept for a
		 * joiner, as in Go), or its creation failed. */
		int r = id >= sched.mnext ? -ESRCH : failederr(id);
		unlock(&sched.lock);
		return r;
	}
	if (mp->joining) {
		unlock(&sched.lock);
		return -EBUSY;
	}
	/* joining keeps other reapers away, and mfailed too (it leaves a
	 * joined m on freem), so mp cannot be recycled (and its words reused
	 * by a new M) while we wait on it. */
	mp->joining = 1;
	unlock(&sched.lock);

	/* First whether there is a thread at all: newm1 may still be trying
	 * to start it (for up to Go's ~200 ms of EAGAIN retries). */
	for (uint32_t b; (b = load_acquire(&mp->birth)) != birthDone;) {
		if (b == birthPending && !cas(&mp->birth, &b, birthWaited))
			continue;
		futexsleep(&mp->birth, birthWaited, -1);
	}
	/* Then its end. A creation that failed is on freem already, with
	 * freeWait STACK: no thread to wait for. */
	if (load_acquire(&mp->freeWait) == freeMWait)
		osjoin(mp);

	int err;
	while (!reapjoined(mp, id, &err))
		walkwait(); /* only a lock-free allm walker holds this up */
	return err;
}

MRT_API int32_t mrt_setmaxthreads(int32_t n)
{
	/* Before mrt_init the limit has nowhere to go: mrt_init sets it from
	 * the configuration. */
	if (n <= 0 || !load_acquire(&cfg.inited))
		return -EINVAL;
	lock(&sched.lock);
	int32_t old = sched.maxmcount;
	sched.maxmcount = n;
	unlock(&sched.lock);
	return old;
}

MRT_API int mrt_mstats(struct mrt_mstats *out)
{
	if (badptr(out, struct mrt_mstats))
		return -EINVAL;
	lock(&sched.lock);
	out->live = mcount();
	out->idle = sched.nmidle;
	out->created = sched.mnext;
	out->freed = sched.nmfreed;
	out->failed = sched.nmfailed;
	out->exiting = sched.nfreem;
	out->limit = sched.maxmcount;
	unlock(&sched.lock);
	return 0;
}

/*
 * mrt_forallm walks allm without sched.lock. Ms may join (pushed at the
 * head: a walker that already passed the head does not see them, which is
 * fine, they were born during the walk) and leave (unlinked: mp->alllink is
 * left intact, so a walker standing on mp continues into the list). What must
 * not happen is an m going back to the pool and being reused while a walker
 * stands on it: walkbegin keeps reapfreem from recycling anything meanwhile.
 */
MRT_API int mrt_forallm(int (*fn)(const struct mrt_minfo *info, void *arg), void *arg)
{
	if (fn == nil || !load_acquire(&cfg.inited))
		return -EINVAL;
	walkbegin();
	int r = 0;
	for (m *mp = load_acquire(&allm); mp != nil; mp = load_acquire(&mp->alllink)) {
		struct mrt_minfo info;
		/* The status first: an M that says it runs (or idles) has
		 * published its tid and stacks before it said so (in the
		 * pthread model the new M records them itself, in minit). */
		info.status = __atomic_load_n(&mp->status, __ATOMIC_ACQUIRE);
		info.id = __atomic_load_n(&mp->id, __ATOMIC_RELAXED);
		info.tid = __atomic_load_n(&mp->procid, __ATOMIC_RELAXED);
		/* Recorded while walkers may look, a word at a time: a half
		 * recorded pair reads as unknown (stackbounds). */
		stackbounds(&mp->g0->stack, &info.g0_lo, &info.g0_hi);
		stackbounds(&mp->gsignal->stack, &info.gsignal_lo, &info.gsignal_hi);
		/* Acquire, against mrt_gogo's release: cg's goid is read. */
		g *cg = __atomic_load_n(&mp->curg, __ATOMIC_ACQUIRE);
		info.curg = cg;
		info.curg_id = cg != nil ? __atomic_load_n(&cg->goid, __ATOMIC_RELAXED) : -1;
		r = fn(&info, arg);
		if (r != 0)
			break;
	}
	walkend();
	return r;
}
