/*
 * gr.c — an M:N goroutine scheduler on mrt's public API (see gr.h).
 *
 * The shape is Go's runtime/proc.go, function for function where it can be:
 *
 *   Go                         here                 mrt call underneath
 *   newproc, malg              gr_go, gfget         mrt_malg, mrt_gostart
 *   gogo (execute)             execute              mrt_gogo
 *   mcall(gosched_m/park_m)    gr_yield, gr_park    mrt_mcall
 *   goexit0, gfput             execute, gfput       (g returns: mrt marks it dead)
 *   acquirep / releasep        mrt_setp(p / NULL)   mrt_setp, mrt_getp
 *   wakep → startm(p, spin)    wakep                mrt_startm(mfn, spinning, p)
 *   stopm                      stopm                mrt_stopm
 *   m.spinning, m.curg         mrt_mlocal slots     mrt_mlocal
 *   fastrand (steal order)     stealwork            mrt_fastrand
 *   entersyscall/exitsyscall   gr_syscall           mrt_entersyscall, mrt_exitsyscall
 *   exitsyscallNoP             exitsyscall0         mrt_mcall, mrt_stopm
 *   sysmon, retake             (mrt's monitor M)    mrt_config.handoff, retake_ns
 *   handoffp                   gr_handoff           mrt_startm(mfn, spinning, p)
 *
 * An M's whole life here is mfn → schedule → (findrunnable → execute)*, and
 * when findrunnable finds nothing it gives up its P and calls mrt_stopm,
 * which abandons the M's frames and parks it. wakep's mrt_startm later
 * hands a parked M (or a new one) a P and mfn again, and it starts afresh —
 * Go's stopm/startm pair, with the M's function restarted instead of
 * returning from stopm.
 *
 * Blocking calls (gr_syscall) are Go's syscall.Syscall: the g's M enters a
 * blocking section with its P; if the call blocks for longer than mrt's
 * retake threshold, mrt's monitor M takes the P and calls gr_handoff with
 * it (Go's sysmon → retake → handoffp), which starts another M to run the
 * P's gs; when the call returns, mrt_exitsyscall says whether the P is
 * still there, and if not the g takes an idle P or waits in the global
 * queue while its M parks (Go's exitsyscall slow path).
 *
 * Differences from Go, for brevity: gr_yield puts the g at the tail of its
 * P's local queue (Go uses the global queue); no preemption, no timers, no
 * netpoller (a blocking call holds an M), no GC; a fixed table of G structures
 * (clone-model Ms cannot malloc) and a limit on live gs, at which gr_go
 * waits for a g to die; the scheduler's lock is a spin lock (an M has no
 * futex in mrt's API; its critical sections are a few dozen instructions).
 */
#define _GNU_SOURCE
#include "gr.h"

#include <errno.h>
#include <mrt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

enum {
	RUNQ = 256,      /* local run queue length, as Go's */
	STEALTRIES = 4,  /* rounds over all Ps before an M gives up */
	GFREEMAX = 32,   /* dead gs a P keeps before moving half to the global list */
	WAKESIG = SIGUSR1,
};

/* M-local slots (mrt_mlocal): what Go keeps in struct m. */
enum { SLOT_SPINNING, SLOT_GEXIT };

enum { G_IDLE, G_RUNNABLE, G_RUNNING, G_WAITING, G_DEAD };

struct G {
	mrt_g *g;          /* mrt's g: the stack and saved context */
	void (*fn)(void *);
	void *arg;
	G *schedlink;      /* global run queue, free lists, wait queues */
	uint32_t status;
};

typedef struct P P;
struct P {
	int32_t id;
	P *link;              /* idle list */
	uint32_t schedtick;   /* gs run: every 61st looks at the global queue */
	/*
	 * Go's lock-free run queue. The owner puts at tail, anyone takes at
	 * head: the owner with runqget, thieves with runqgrab. head only moves
	 * by CAS; tail is written only by the owner. Slots are read by thieves
	 * while the owner may rewrite them, so they are atomics; a thief that
	 * read a stale slot fails its CAS of head and retries.
	 */
	uint32_t runqhead, runqtail;
	G *runq[RUNQ];
	G *runnext; /* the g readied last runs next (stealable in the last round) */
	G *gfree;   /* dead gs for reuse: owner only */
	int32_t ngfree;
	uint64_t nspawn, nreuse, nyield, npark, nsteal, nglobal;
} __attribute__((aligned(64)));

static struct {
	gr_spin lock; /* the global queue, idle Ps, the global free list */
	G *runqhead, *runqtail;
	int32_t runqsize;
	P *pidle;
	uint32_t npidle;     /* atomic: read without the lock */
	uint32_t nmspinning; /* atomic */
	G *gfree;            /* dead gs, global */
	G *gwait;            /* gs waiting in gr_go for a live g to die */
	uint32_t ngwait;     /* atomic */
	int32_t nlive;       /* atomic: gs started and not dead (<= maxg) */
	int32_t maxg;
	/* Room for maxg live gs plus the dead ones the Ps may hold on their
	 * own free lists (fewer than GFREEMAX each), so that gfget always
	 * finds a G: nothing can strand the last free one on an idle P. */
	G *gtable;
	uint32_t gnext;      /* atomic: next unused G in gtable */
	uint32_t ntable;
	size_t stacksize;
	P *allp;
	int32_t nprocs;
	uint32_t done;
	uint64_t nstartm, nstopm, ngwaits; /* atomics */
	uint64_t nsyscall, nlost, nrequeued, nhandoff, nhandoffm; /* atomics */
} sched;

#define load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define incr(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define cas(p, oldp, new)                                                                \
	__atomic_compare_exchange_n((p), (oldp), (new), false, __ATOMIC_ACQ_REL,        \
	                            __ATOMIC_ACQUIRE)

/* A broken invariant of the scheduler: say so (no stdio on an M) and trap. */
static __attribute__((noreturn)) void grthrow(const char *why)
{
	mrt_dprintf(2, "gr: fatal: %s (M%lld)\n", why, (long long)mrt_mid());
	__builtin_trap();
}

/* ------------------------------------------------------------------------
 * Spin lock
 * ------------------------------------------------------------------------ */

static inline void cpurelax(void)
{
#if defined(__x86_64__)
	__asm__ volatile("pause" ::: "memory");
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#elif defined(__riscv)
	__asm__ volatile(".4byte 0x0100000f" ::: "memory"); /* pause (Zihintpause); a no-op fence elsewhere */
#else
	__asm__ volatile("" ::: "memory");
#endif
}

void gr_lock(gr_spin *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE) != 0)
		while (__atomic_load_n(&l->v, __ATOMIC_RELAXED) != 0)
			cpurelax();
}

void gr_unlock(gr_spin *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
}

void gr_unlock_fn(void *l)
{
	gr_unlock(l);
}

/* ------------------------------------------------------------------------
 * Run queues (Go's runqput, runqget, runqgrab, runqsteal, globrunq*)
 * ------------------------------------------------------------------------ */

/* Puts the batch head..tail (n gs, linked by schedlink) on the global queue.
 * sched.lock held. */
static void globrunqputbatch(G *head, G *tail, int32_t n)
{
	tail->schedlink = NULL;
	if (sched.runqtail != NULL)
		sched.runqtail->schedlink = head;
	else
		sched.runqhead = head;
	sched.runqtail = tail;
	store(&sched.runqsize, sched.runqsize + n);
}

/* Moves half of p's full local queue, and gp, to the global queue. False if
 * thieves took from it meanwhile (the caller retries the local queue). */
static bool runqputslow(P *p, G *gp, uint32_t h, uint32_t t)
{
	G *batch[RUNQ / 2 + 1];
	uint32_t n = (t - h) / 2;
	if (n != RUNQ / 2)
		grthrow("runqputslow: queue is not full");
	for (uint32_t i = 0; i < n; i++)
		batch[i] = __atomic_load_n(&p->runq[(h + i) % RUNQ], __ATOMIC_RELAXED);
	if (!cas(&p->runqhead, &h, h + n))
		return false;
	batch[n] = gp;
	for (uint32_t i = 0; i < n; i++)
		batch[i]->schedlink = batch[i + 1];
	gr_lock(&sched.lock);
	globrunqputbatch(batch[0], batch[n], (int32_t)n + 1);
	gr_unlock(&sched.lock);
	return true;
}

/* Puts gp on p's local queue; with next, in runnext (what was there moves
 * to the tail). Owner only. */
static void runqput(P *p, G *gp, bool next)
{
	if (next) {
		G *old = __atomic_exchange_n(&p->runnext, gp, __ATOMIC_ACQ_REL);
		if (old == NULL)
			return;
		gp = old;
	}
	for (;;) {
		uint32_t h = load(&p->runqhead); /* pairs with consumers' CAS */
		uint32_t t = p->runqtail;
		if (t - h < RUNQ) {
			__atomic_store_n(&p->runq[t % RUNQ], gp, __ATOMIC_RELAXED);
			store(&p->runqtail, t + 1); /* publishes the slot */
			return;
		}
		if (runqputslow(p, gp, h, t))
			return;
	}
}

/* Takes a g from p's local queue, runnext first. Owner only. */
static G *runqget(P *p)
{
	G *next = load(&p->runnext);
	if (next != NULL && cas(&p->runnext, &next, NULL))
		return next;
	for (;;) {
		uint32_t h = load(&p->runqhead);
		uint32_t t = p->runqtail;
		if (t == h)
			return NULL;
		G *gp = __atomic_load_n(&p->runq[h % RUNQ], __ATOMIC_RELAXED);
		if (cas(&p->runqhead, &h, h + 1))
			return gp;
	}
}

/* Copies half of p's queue into batch (a ring, from batchhead) and takes it
 * from p; with stealnext, p's runnext if the queue is empty. Any thread. */
static uint32_t runqgrab(P *p, G **batch, uint32_t batchhead, bool stealnext)
{
	for (;;) {
		uint32_t h = load(&p->runqhead);
		uint32_t t = load(&p->runqtail);
		uint32_t n = t - h;
		n = n - n / 2;
		if (n == 0) {
			if (stealnext) {
				G *next = load(&p->runnext);
				if (next != NULL && cas(&p->runnext, &next, NULL)) {
					__atomic_store_n(&batch[batchhead % RUNQ], next, __ATOMIC_RELAXED);
					return 1;
				}
			}
			return 0;
		}
		if (n > RUNQ / 2)
			continue; /* h and t read at different times: read again */
		for (uint32_t i = 0; i < n; i++) {
			G *gp = __atomic_load_n(&p->runq[(h + i) % RUNQ], __ATOMIC_RELAXED);
			__atomic_store_n(&batch[(batchhead + i) % RUNQ], gp, __ATOMIC_RELAXED);
		}
		if (cas(&p->runqhead, &h, h + n))
			return n;
	}
}

/* Steals half of p2's queue into p's; returns one of the gs to run now. */
static G *runqsteal(P *p, P *p2, bool stealnext)
{
	uint32_t t = p->runqtail;
	uint32_t n = runqgrab(p2, p->runq, t, stealnext);
	if (n == 0)
		return NULL;
	n--;
	G *gp = __atomic_load_n(&p->runq[(t + n) % RUNQ], __ATOMIC_RELAXED);
	if (n == 0)
		return gp;
	uint32_t h = load(&p->runqhead);
	if (t - h + n >= RUNQ)
		grthrow("runqsteal: runq overflow");
	store(&p->runqtail, t + n);
	return gp;
}

static bool runqempty(P *p)
{
	for (;;) {
		uint32_t h = load(&p->runqhead), t = load(&p->runqtail);
		G *next = load(&p->runnext);
		if (t == load(&p->runqtail))
			return h == t && next == NULL;
	}
}

/* Takes a g from the global queue, and a fair share more for p's local
 * queue (at most max in all when max > 0). sched.lock held. */
static G *globrunqget(P *p, int32_t max)
{
	if (sched.runqsize == 0)
		return NULL;
	int32_t n = sched.runqsize / sched.nprocs + 1;
	if (n > sched.runqsize)
		n = sched.runqsize;
	if (max > 0 && n > max)
		n = max;
	if (n > RUNQ / 2)
		n = RUNQ / 2;
	store(&sched.runqsize, sched.runqsize - n);
	G *gp = sched.runqhead;
	sched.runqhead = gp->schedlink;
	for (n--; n > 0; n--) {
		G *g1 = sched.runqhead;
		sched.runqhead = g1->schedlink;
		runqput(p, g1, false);
	}
	if (sched.runqhead == NULL)
		sched.runqtail = NULL;
	p->nglobal++;
	return gp;
}

/* ------------------------------------------------------------------------
 * Ps and Ms (Go's pidleput/pidleget, wakep, startm, stopm)
 * ------------------------------------------------------------------------ */

/* sched.lock held. */
static void pidleput(P *p)
{
	p->link = sched.pidle;
	sched.pidle = p;
	incr(&sched.npidle, 1);
}

static P *pidleget(void)
{
	P *p = sched.pidle;
	if (p != NULL) {
		sched.pidle = p->link;
		incr(&sched.npidle, -1);
	}
	return p;
}

static void mfn(void *spinning);

/*
 * wakep starts one more M, spinning, when a P is idle and no M is already
 * looking for work (Go's wakep → startm(p, true)). mrt_startm wakes a
 * parked M, or creates one when none is parked, and hands it the P.
 */
static void wakep(void)
{
	/* Pairs with the fence in findrunnable: either we see its M still
	 * spinning, or it sees the g we just queued. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (load(&sched.npidle) == 0 || load(&sched.nmspinning) != 0)
		return;
	uint32_t zero = 0;
	if (!cas(&sched.nmspinning, &zero, 1))
		return;
	gr_lock(&sched.lock);
	P *p = pidleget();
	gr_unlock(&sched.lock);
	if (p == NULL) {
		incr(&sched.nmspinning, -1);
		return;
	}
	int64_t id = mrt_startm(mfn, (void *)1, p);
	if (id < 0) {
		/* No M to be had (the thread limit): the work still gets done by
		 * the Ms that run, just with less parallelism. */
		gr_lock(&sched.lock);
		pidleput(p);
		gr_unlock(&sched.lock);
		incr(&sched.nmspinning, -1);
		return;
	}
	incr(&sched.nstartm, 1);
}

/* The M stops spinning: it found work. If it was the last spinning M and a
 * P is idle, another M should look for the rest (Go's resetspinning). */
static void resetspinning(void)
{
	*mrt_mlocal(SLOT_SPINNING) = 0;
	if (incr(&sched.nmspinning, -1) == 1 && load(&sched.npidle) > 0)
		wakep();
}

/*
 * gr_handoff is Go's handoffp: mrt's monitor took p from an M blocked in
 * gr_syscall. If p has work (its own queue, or the global one), start an M
 * for it; if not, start one spinning only when no M is looking for work
 * and no P is idle (somebody must notice new work); otherwise the P goes
 * on the idle list. When mrt_startm cannot get an M, its error goes back to
 * mrt, which calls again with it: then the P goes idle, and the gs on it
 * wait for the blocked M's return (which takes an idle P) or for a wakep.
 */
int gr_handoff(void *pv, int err)
{
	P *p = pv;
	if (err == 0) {
		incr(&sched.nhandoff, 1);
		bool work = !runqempty(p) || load(&sched.runqsize) > 0;
		bool spin = false;
		uint32_t zero = 0;
		if (!work && load(&sched.nmspinning) + load(&sched.npidle) == 0 &&
		    cas(&sched.nmspinning, &zero, 1))
			spin = true;
		if (work || spin) {
			int64_t id = mrt_startm(mfn, (void *)(uintptr_t)spin, p);
			if (id >= 0) {
				incr(&sched.nhandoffm, 1);
				return 0;
			}
			if (spin)
				incr(&sched.nmspinning, -1);
			return (int)id;
		}
	}
	gr_lock(&sched.lock);
	pidleput(p);
	gr_unlock(&sched.lock);
	return 0;
}

/* Parks this M (Go's stopm). Its P is already idle. Does not return: the
 * next mrt_startm runs mfn on it afresh, with a P. */
static __attribute__((noreturn)) void stopm(void)
{
	incr(&sched.nstopm, 1);
	mrt_stopm();
	grthrow("mrt_stopm returned");
}

static G *stealwork(P *p)
{
	for (int i = 0; i < STEALTRIES; i++) {
		bool stealnext = i == STEALTRIES - 1;
		uint32_t start = mrt_fastrand() % (uint32_t)sched.nprocs;
		for (int32_t k = 0; k < sched.nprocs; k++) {
			P *p2 = &sched.allp[(start + (uint32_t)k) % (uint32_t)sched.nprocs];
			if (p2 == p)
				continue;
			G *gp = runqsteal(p, p2, stealnext);
			if (gp != NULL) {
				p->nsteal++;
				return gp;
			}
		}
	}
	return NULL;
}

/*
 * findrunnable finds a g to run (Go's findRunnable): local queue, global
 * queue, then stealing from other Ps as a spinning M. Finding nothing, the
 * M gives its P back and parks; it never returns then.
 */
static G *findrunnable(void)
{
	uintptr_t *spinning = mrt_mlocal(SLOT_SPINNING);
top:;
	P *p = mrt_getp();
	G *gp;
	/* Fairness: now and then the global queue goes first. */
	if (p->schedtick % 61 == 0 && load(&sched.runqsize) > 0) {
		gr_lock(&sched.lock);
		gp = globrunqget(p, 1);
		gr_unlock(&sched.lock);
		if (gp != NULL)
			return gp;
	}
	if ((gp = runqget(p)) != NULL)
		return gp;
	if (load(&sched.runqsize) > 0) {
		gr_lock(&sched.lock);
		gp = globrunqget(p, 0);
		gr_unlock(&sched.lock);
		if (gp != NULL)
			return gp;
	}
	/* Steal, as a spinning M; limit spinning Ms to half the busy Ps, so
	 * that a few gs do not keep every idle M burning CPU. */
	int32_t busy = sched.nprocs - (int32_t)load(&sched.npidle);
	if (*spinning || 2 * (int32_t)load(&sched.nmspinning) < busy) {
		if (!*spinning) {
			*spinning = 1;
			incr(&sched.nmspinning, 1);
		}
		if ((gp = stealwork(p)) != NULL)
			return gp;
	}

	/* Nothing. Give the P back (releasep + pidleput). */
	gr_lock(&sched.lock);
	if ((gp = globrunqget(p, 0)) != NULL) {
		gr_unlock(&sched.lock);
		return gp;
	}
	mrt_setp(NULL);
	pidleput(p);
	gr_unlock(&sched.lock);

	/*
	 * A spinning M that stops spinning must look at every queue once more:
	 * a g queued while we were still counted as spinning made its wakep
	 * do nothing, counting on us. The fence pairs with wakep's.
	 */
	if (*spinning) {
		*spinning = 0;
		incr(&sched.nmspinning, -1);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		for (int32_t i = 0; i < sched.nprocs; i++) {
			if (runqempty(&sched.allp[i]))
				continue;
			gr_lock(&sched.lock);
			P *p2 = pidleget();
			gr_unlock(&sched.lock);
			if (p2 != NULL) {
				mrt_setp(p2);
				*spinning = 1;
				incr(&sched.nmspinning, 1);
				goto top;
			}
			break;
		}
	}
	stopm();
}

/* gfget gives a dead g to reuse, or a new one (Go's gfget + malg). The
 * caller has reserved a live slot (gr_go), so one is always there. */
static G *gfget(P *p)
{
	if (p->gfree == NULL && load(&sched.gfree) != NULL) {
		gr_lock(&sched.lock);
		while (p->ngfree < GFREEMAX / 2 && sched.gfree != NULL) {
			G *gp = sched.gfree;
			store(&sched.gfree, gp->schedlink); /* peeked at unlocked above */
			gp->schedlink = p->gfree;
			p->gfree = gp;
			p->ngfree++;
		}
		gr_unlock(&sched.lock);
	}
	G *gp = p->gfree;
	if (gp != NULL) {
		p->gfree = gp->schedlink;
		p->ngfree--;
		p->nreuse++;
		return gp;
	}
	uint32_t i = incr(&sched.gnext, 1);
	if (i >= sched.ntable)
		grthrow("gfget: no free G although a live slot was reserved");
	gp = &sched.gtable[i];
	if (mrt_malg(&gp->g, sched.stacksize) != 0)
		grthrow("gfget: no memory for a g's stack");
	mrt_gsetuser(gp->g, gp);
	return gp;
}

/* gfput keeps a dead g for reuse (Go's gfput), on p's list while it is
 * short, moving half of it to the global list when it is long. */
static void gfput(P *p, G *gp)
{
	gp->status = G_DEAD;
	gp->schedlink = p->gfree;
	p->gfree = gp;
	if (++p->ngfree < GFREEMAX)
		return;
	gr_lock(&sched.lock);
	while (p->ngfree > GFREEMAX / 2) {
		G *g1 = p->gfree;
		p->gfree = g1->schedlink;
		p->ngfree--;
		g1->schedlink = sched.gfree;
		store(&sched.gfree, g1); /* gfget peeks at it unlocked */
	}
	gr_unlock(&sched.lock);
}

/* Reserves one of the maxg live slots for a new g, waiting for a g to die
 * when all are taken. */
static void reserveg(void)
{
	for (;;) {
		int32_t n = load(&sched.nlive);
		if (n < sched.maxg) {
			if (cas(&sched.nlive, &n, n + 1))
				return;
			continue;
		}
		/* Announce the wait, then look again: a g that dies after our
		 * look sees ngwait and wakes us (the fences pair up in gdead). */
		G *self = gr_self();
		gr_lock(&sched.lock);
		incr(&sched.ngwait, 1);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (load(&sched.nlive) < sched.maxg) {
			incr(&sched.ngwait, -1);
			gr_unlock(&sched.lock);
			continue;
		}
		self->schedlink = sched.gwait;
		sched.gwait = self;
		incr(&sched.ngwaits, 1);
		gr_park(gr_unlock_fn, &sched.lock);
	}
}

/* A g died on p (Go's goexit0): reuse it, give its slot to a waiter. */
static void gdead(P *p, G *gp)
{
	gfput(p, gp);
	incr(&sched.nlive, -1);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (load(&sched.ngwait) == 0)
		return;
	gr_lock(&sched.lock);
	G *w = sched.gwait;
	if (w != NULL) {
		sched.gwait = w->schedlink;
		incr(&sched.ngwait, -1);
	}
	gr_unlock(&sched.lock);
	if (w != NULL)
		gr_ready(w);
}

/* ------------------------------------------------------------------------
 * The scheduler loop
 * ------------------------------------------------------------------------ */

/* The first frame of every g. When fn returns, mrt marks the g dead and
 * switches this M back to g0, into execute's mrt_gogo; the flag tells
 * execute that the g is dead and ours to reuse, not handed off elsewhere. */
static void gentry(void *arg)
{
	G *gp = arg;
	gp->fn(gp->arg);
	*mrt_mlocal(SLOT_GEXIT) = 1;
}

/* Runs gp on this M until it yields, parks or returns (Go's execute + gogo). */
static void execute(G *gp)
{
	P *p = mrt_getp();
	p->schedtick++;
	gp->status = G_RUNNING;
	if (mrt_gogo(gp->g) != 0)
		grthrow("execute: mrt_gogo refused a runnable g");
	/* Back on g0. A g that yielded or parked was handed on by its mcall
	 * function and may run on another M already: only a dead g is ours. */
	uintptr_t *gexit = mrt_mlocal(SLOT_GEXIT);
	if (*gexit) {
		*gexit = 0;
		gdead(mrt_getp(), gp);
	}
}

static __attribute__((noreturn)) void schedule(void)
{
	for (;;) {
		G *gp = findrunnable();
		if (*mrt_mlocal(SLOT_SPINNING))
			resetspinning();
		execute(gp);
	}
}

/* What every M runs, from mrt_startm: with a P (mrt_getp), perhaps spinning. */
static void mfn(void *spinning)
{
	*mrt_mlocal(SLOT_SPINNING) = (uintptr_t)spinning;
	*mrt_mlocal(SLOT_GEXIT) = 0;
	schedule();
}

/* ------------------------------------------------------------------------
 * gs
 * ------------------------------------------------------------------------ */

G *gr_self(void)
{
	mrt_g *g = mrt_getg();
	return g != NULL && g != mrt_getg0() ? mrt_guser(g) : NULL;
}

int64_t gr_id(const G *gp)
{
	return mrt_gid(gp->g);
}

void gr_go(void (*fn)(void *), void *arg)
{
	reserveg(); /* may wait, and resume on another P */
	P *p = mrt_getp();
	G *gp = gfget(p);
	p->nspawn++;
	gp->fn = fn;
	gp->arg = arg;
	if (mrt_gostart(gp->g, gentry, gp) != 0)
		grthrow("gr_go: mrt_gostart refused a dead g");
	gp->status = G_RUNNABLE;
	runqput(p, gp, true);
	wakep();
}

/* On g0, the yielding g suspended: queue it behind the others. */
static void gosched_m(mrt_g *g, void *arg)
{
	(void)arg;
	G *gp = mrt_guser(g);
	gp->status = G_RUNNABLE;
	P *p = mrt_getp();
	p->nyield++;
	runqput(p, gp, false);
}

void gr_yield(void)
{
	mrt_mcall(gosched_m, NULL);
}

struct parkreq {
	void (*unlockf)(void *);
	void *arg;
};

/* On g0, the parking g suspended: only now may its lock be released — a
 * gr_ready after the release finds a g whose context is saved. */
static void park_m(mrt_g *g, void *arg)
{
	struct parkreq *r = arg; /* on the parked g's stack: read it before unlocking */
	void (*unlockf)(void *) = r->unlockf;
	void *uarg = r->arg;
	G *gp = mrt_guser(g);
	gp->status = G_WAITING;
	((P *)mrt_getp())->npark++;
	if (unlockf != NULL)
		unlockf(uarg);
}

void gr_park(void (*unlockf)(void *), void *arg)
{
	struct parkreq r = { unlockf, arg };
	mrt_mcall(park_m, &r);
}

void gr_ready(G *gp)
{
	gp->status = G_RUNNABLE;
	runqput(mrt_getp(), gp, true);
	wakep();
}

/* ------------------------------------------------------------------------
 * Blocking calls (Go's entersyscall / exitsyscall)
 * ------------------------------------------------------------------------ */

/*
 * On g0, the g suspended, its M without a P (Go's exitsyscallNoP): take an
 * idle P if one has come free meanwhile and run the g next on it; else put
 * the g on the global queue, where the Ms with Ps find it, and park.
 */
static void exitsyscall0(mrt_g *g, void *arg)
{
	(void)arg;
	G *gp = mrt_guser(g);
	gp->status = G_RUNNABLE;
	gr_lock(&sched.lock);
	P *p = pidleget();
	if (p == NULL) {
		gp->schedlink = NULL;
		globrunqputbatch(gp, gp, 1);
		gr_unlock(&sched.lock);
		incr(&sched.nrequeued, 1);
		stopm();
	}
	gr_unlock(&sched.lock);
	mrt_setp(p);
	runqput(p, gp, true); /* back on g0, the scheduler runs it next */
}

long gr_syscall(long (*fn)(void *), void *arg)
{
	incr(&sched.nsyscall, 1);
	if (mrt_entersyscall() != 0)
		grthrow("gr_syscall: mrt_entersyscall refused (no P?)");
	long r = fn(arg);
	if (mrt_exitsyscall() == 0)
		return r; /* exitsyscallfast: the P was still ours */
	/* Taken while we blocked: an idle P, if there is one, right here
	 * (Go's exitsyscallTryGetP); otherwise wait for one. */
	incr(&sched.nlost, 1);
	gr_lock(&sched.lock);
	P *p = pidleget();
	gr_unlock(&sched.lock);
	if (p != NULL) {
		mrt_setp(p);
		return r;
	}
	mrt_mcall(exitsyscall0, NULL);
	return r; /* resumed, with a P, on this M or another */
}

/* ------------------------------------------------------------------------
 * Mutex and WaitGroup on gr_park / gr_ready
 * ------------------------------------------------------------------------ */

void gr_mutex_lock(gr_mutex *m)
{
	gr_lock(&m->lk);
	if (!m->locked) {
		m->locked = 1;
		gr_unlock(&m->lk);
		return;
	}
	G *self = gr_self();
	self->schedlink = NULL;
	if (m->tail != NULL)
		m->tail->schedlink = self;
	else
		m->head = self;
	m->tail = self;
	gr_park(gr_unlock_fn, &m->lk);
	/* gr_mutex_unlock handed the mutex to us: it is still locked. */
}

void gr_mutex_unlock(gr_mutex *m)
{
	gr_lock(&m->lk);
	G *w = m->head;
	if (w != NULL) {
		m->head = w->schedlink;
		if (m->head == NULL)
			m->tail = NULL;
	} else {
		m->locked = 0;
	}
	gr_unlock(&m->lk);
	if (w != NULL)
		gr_ready(w);
}

void gr_wg_add(gr_waitgroup *wg, int64_t delta)
{
	gr_lock(&wg->lk);
	wg->n += delta;
	if (wg->n < 0)
		grthrow("gr_wg_add: negative WaitGroup counter");
	G *w = wg->n == 0 ? wg->waiters : NULL;
	if (w != NULL)
		wg->waiters = NULL;
	gr_unlock(&wg->lk);
	while (w != NULL) {
		G *next = w->schedlink;
		gr_ready(w);
		w = next;
	}
}

void gr_wg_done(gr_waitgroup *wg)
{
	gr_wg_add(wg, -1);
}

void gr_wg_wait(gr_waitgroup *wg)
{
	gr_lock(&wg->lk);
	if (wg->n == 0) {
		gr_unlock(&wg->lk);
		return;
	}
	G *self = gr_self();
	self->schedlink = wg->waiters;
	wg->waiters = self;
	gr_park(gr_unlock_fn, &wg->lk);
}

/* ------------------------------------------------------------------------
 * Setting up, the main g, statistics (main thread)
 * ------------------------------------------------------------------------ */

int gr_init(const struct gr_config *c)
{
	struct gr_config d = { 0 };
	if (c != NULL)
		d = *c;
	if (d.nprocs == 0)
		d.nprocs = 4;
	if (d.maxg == 0)
		d.maxg = 4096;
	if (d.stacksize == 0)
		d.stacksize = 16 << 10;
	if (d.nprocs < 1 || d.nprocs > 1024 || d.maxg < 2)
		return -EINVAL;
	if (mrt_getm() == NULL)
		return -EPERM; /* mrt_init first, on this thread */
	sched.nprocs = d.nprocs;
	sched.maxg = d.maxg;
	sched.stacksize = d.stacksize;
	/* The one allocation, on the main thread: Ms cannot malloc. */
	sched.ntable = (uint32_t)d.maxg + (uint32_t)d.nprocs * GFREEMAX;
	sched.allp = aligned_alloc(64, sizeof(P) * (size_t)d.nprocs);
	sched.gtable = calloc(sched.ntable, sizeof(G));
	if (sched.allp == NULL || sched.gtable == NULL)
		return -ENOMEM;
	__builtin_memset(sched.allp, 0, sizeof(P) * (size_t)d.nprocs);
	for (int32_t i = d.nprocs - 1; i >= 0; i--) {
		sched.allp[i].id = i;
		pidleput(&sched.allp[i]);
	}
	return 0;
}

static void (*mainfn)(void *);
static void *mainarg;

/* The main g: the user's function, then wake the main thread (Go's main
 * returning is exit(0); here the main thread returns from gr_main). */
static void maing(void *arg)
{
	(void)arg;
	mainfn(mainarg);
	store(&sched.done, 1);
	mrt_signalm(0, WAKESIG);
}

int gr_main(void (*fn)(void *), void *arg)
{
	if (sched.allp == NULL || fn == NULL)
		return -EINVAL;
	mainfn = fn;
	mainarg = arg;
	/* Block the wake-up signal first: it may come before we wait. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, WAKESIG);
	pthread_sigmask(SIG_BLOCK, &set, &old);

	sched.nlive = 1;
	G *gp = &sched.gtable[sched.gnext++];
	int err = mrt_malg(&gp->g, sched.stacksize);
	if (err == 0)
		err = mrt_gostart(gp->g, gentry, gp);
	if (err != 0)
		return err;
	mrt_gsetuser(gp->g, gp);
	gp->fn = maing;
	gp->status = G_RUNNABLE;
	P *p = pidleget();
	runqput(p, gp, false);
	int64_t id = mrt_startm(mfn, NULL, p);
	if (id < 0)
		return (int)id;
	int sig;
	while (load(&sched.done) == 0)
		sigwait(&set, &sig);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

void gr_getstats(struct gr_stats *st)
{
	__builtin_memset(st, 0, sizeof *st);
	for (int32_t i = 0; i < sched.nprocs; i++) {
		P *p = &sched.allp[i];
		st->spawned += p->nspawn;
		st->reused += p->nreuse;
		st->yields += p->nyield;
		st->parks += p->npark;
		st->steals += p->nsteal;
		st->globalq += p->nglobal;
	}
	st->startm = load(&sched.nstartm);
	st->stopm = load(&sched.nstopm);
	st->gwaits = load(&sched.ngwaits);
	st->syscalls = load(&sched.nsyscall);
	st->lost = load(&sched.nlost);
	st->requeued = load(&sched.nrequeued);
	st->handoffs = load(&sched.nhandoff);
	st->handoffms = load(&sched.nhandoffm);
	st->gs = (int32_t)load(&sched.gnext);
}
