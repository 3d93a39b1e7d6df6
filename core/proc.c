/*
 * proc.c — the life of an M (Go's proc.go): mrt_init adopts m0; newm →
 * allocm → newm1 → newosproc gives birth; mstart → minit → mstart1 runs the
 * M's function; stopm/startm park and wake; mexit ends it.
 *
 * The exit point. mstart saves its own context before it switches to the M's
 * function, which runs on g0 just below mstart's frame. Ending that function
 * from anywhere — a return, mrt_mexit from deep in g0 or from a user g,
 * mrt_stopm — is one ctx_jump back to the saved context (Go's
 * gogo(&m.g0.sched) into mstart1). Back at the top of g0, mstart either parks
 * the M and, once woken with new work, starts the new function afresh, or
 * finishes the M. Abandoning the function's frames this way is safe because
 * nothing above them is left to return into them.
 */
#include "runtime.h"
#include "san.h"

static uint32_t initing;

enum {
	defaultg0stack = 64 << 10,
	defaultgsignalstack = 32 << 10, /* Go's gsignal size */
	defaultstackcache = 256,
	/* sizeof(struct mrt_config) when `size` came in (version 0.1): the
	 * smallest a caller may pass. */
	mrt_config_v1size = 56,
	defaultretake = 20 * 1000,             /* ns: Go's sysmon tick */
	maxspin = 1000 * 1000 * 1000,          /* ns */
	newosproc_tries = 20, /* Go retries EAGAIN 20 times, sleeping (n+1) ms */
	/* Room mstart leaves for its own calls below its frame (ctx_make's and
	 * ctx_switch's frames) before the M's function starts. */
	exitframe = 256,
};

/* retake_ns's bound (mrt.h): an hour; beyond, a P is never retaken in
 * practice and the value is a mistake. */
static const int64_t maxretake = 3600 * (int64_t)1000000000;

/* A field added to struct mrt_config goes at its end: the first version's
 * size stays what older callers pass, and the fields added since (the
 * hand-off, retake_ns, spin_ns, max_spinning) are zero, as before, when a
 * caller's header did not know them. */
_Static_assert(sizeof(struct mrt_config) >= mrt_config_v1size &&
               offsetof(struct mrt_config, thread_name) + sizeof(char *) == mrt_config_v1size,
               "struct mrt_config grows at its end only");

MRT_API int mrt_init(const struct mrt_config *c)
{
	struct mrt_config d = { 0 };
	if (c != nil) {
		/* The struct grows at its end (mrt.h): take what the caller's
		 * header knew, zero what it did not, and refuse what this
		 * version does not know unless it is zero. */
		if (badptr(c, struct mrt_config) || c->size < mrt_config_v1size)
			return -EINVAL;
		size_t n = c->size < sizeof d ? c->size : sizeof d;
		for (size_t i = sizeof d; i < c->size; i++)
			if (((const unsigned char *)c)[i] != 0)
				return -E2BIG;
		__builtin_memcpy(&d, c, n);
	}
	if (d.g0_stack == 0)
		d.g0_stack = defaultg0stack;
	if (d.gsignal_stack == 0)
		d.gsignal_stack = defaultgsignalstack;
	if (d.max_threads == 0)
		d.max_threads = 10000;
	if (d.stack_cache == 0)
		d.stack_cache = defaultstackcache;
	if (d.retake_ns == 0)
		d.retake_ns = defaultretake;
	bool names = d.thread_name != nil || (d.flags & MRT_F_THREAD_NAMES) != 0;
	if (d.thread_name == nil)
		d.thread_name = "mrt/M";
	size_t namelen = 0;
	while (namelen < sizeof cfg.threadname && d.thread_name[namelen] != '\0')
		namelen++;
	if (d.g0_stack < minstack || d.g0_stack > maxstack || d.gsignal_stack < minstack ||
	    d.gsignal_stack > maxstack || d.max_threads < 0 || d.idle_ns < 0 ||
	    (d.flags & ~(MRT_F_THREAD_NAMES | MRT_F_STACKOVERFLOW)) != 0 ||
	    namelen >= sizeof cfg.threadname || d.allthreads_signal < 0 ||
	    d.allthreads_signal > 64 || OS_SIGRESERVED(d.allthreads_signal))
		return -EINVAL;
	/* The monitor is an M: a limit of 1 (m0 alone) leaves it no room. */
	if (d.retake_ns < 0 || d.retake_ns > maxretake || d.spin_ns < 0 ||
	    d.spin_ns > maxspin || d.max_spinning < 0 ||
	    (d.handoff != nil && d.max_threads == 1))
		return -EINVAL;
	if (xchg(&initing, 1) != 0)
		return -EBUSY;

	int err = osinit();
	/* The clone-model TLS block exists only where mrt makes g0. */
	if (err == 0 && !OS_G0_FROM_OS) {
		const char *why = "";
		err = tlsinit(&why);
		if (err != 0)
			seterrmsg("mrt: mrt_tls is at offset %lld from the thread pointer: %s",
			          (long long)cfg.tls_off, why);
	}
	/* The fault handler first: it needs nothing of m0 to run, and it is
	 * the one step undone (sigsegvundo) if a later one fails. */
	if (err == 0)
		err = forkinit();
	if (err == 0 && (d.flags & MRT_F_STACKOVERFLOW))
		err = sigsegvinit();
	if (err != 0) {
		store_release(&initing, 0);
		return err;
	}
	cfg.t0 = nanotime();
	debuginit();
	if (debug.mprotectguards)
		sysguardmprotect(); /* before the first guard: m0's gsignal */
	__builtin_memcpy(cfg.threadname, d.thread_name, namelen);
	cfg.threadname[namelen] = '\0';
	cfg.threadnames = names || debug.threadnames != 0;
	cfg.g0stack = round_up(d.g0_stack, pagesize);
	cfg.gsignalstack = round_up(d.gsignal_stack, pagesize);
	cfg.idle_ns = d.idle_ns;
	cfg.stackcache = d.stack_cache;
	cfg.flags = d.flags;
	cfg.allthreadssig = d.allthreads_signal != 0 ? d.allthreads_signal : OS_ALLTHREADSSIG;
	sched.maxmcount = d.max_threads;
	cfg.handoff = d.handoff;
	cfg.retakens = d.retake_ns;
	cfg.spinns = d.spin_ns;
	cfg.maxspinning = d.max_spinning != 0 ? d.max_spinning : ncpu / 2 > 1 ? ncpu / 2 : 1;
	mpoolinit(); /* from the stack sizes and the TLS block's */

	/* m0: the calling thread, with the stack it already has as g0. It
	 * takes id 0 and its place on allm as every M does (Go's schedinit
	 * calls mcommoninit for m0 too), and its signal stack by the rule of
	 * core/signal.c. */
	m *mp = &m0;
	mclear(mp);
	m0stack(&mp->g0->stack);
	mp->g0->sanfiber = san_curfiber();
	mp->procid = osgettid();
	mp->sigmask = cfg.initsigmask;
	err = mcommoninit(mp);
	if (err == 0) {
		err = gsignalalloc(mp);
		if (err == 0)
			mpreinit(mp);
	}
	if (err == 0) {
		mrt_tls.m = mp;
		setg(mp->g0);
		err = minit(mp);
		if (err != 0) {
			stackfree(&mp->gsignal->stackmem);
			mrt_tls.m = nil;
			setg(nil);
		}
	}
	if (err != 0) {
		/* Nothing of m0 stays: mrt_init may be called again. */
		lock(&sched.lock);
		allmunlink(mp);
		__atomic_store_n(&sched.mnext, 0, __ATOMIC_RELEASE);
		sched.nmfailed = 0;
		unlock(&sched.lock);
		sigsegvundo();
		store_release(&initing, 0);
		return err;
	}
	__atomic_store_n(&mp->status, MRT_M_RUNNING, __ATOMIC_RELEASE);
	store_release(&cfg.inited, true);
	MTRACE(MT_STARTED, mp, 0);
	/* The monitor M, as Go's main starts sysmon (core/sysmon.c): only
	 * with a hand-off to give the Ps it takes to. Should it fail, the
	 * next blocking section tries again (SYSMON_NEEDED). */
	if (cfg.handoff != nil) {
		store_release(&sysmonwait, SYSMON_NEEDED);
		if (sysmonclaim())
			sysmonstart();
	}
	/* MRTDEBUG=schedtrace: a monitor M that prints, as Go's sysmon does. */
	if (debug.schedtrace > 0) {
		int64_t id = newm(schedtracem, nil, nil);
		if (id < 0)
			printfd(2, "mrt: MRTDEBUG: schedtrace: no monitor M: %s\n",
			        mrt_strerror((int)id));
	}
	return 0;
}

/* newm1 starts mp's thread, retrying the kernel's EAGAIN as Go does. */
static int newm1(m *mp)
{
	int err;
	for (int tries = 0;; tries++) {
		TESTPOINT(TP_NEWOSPROC, mp);
		err = FAULT(FAULT_NEWOSPROC);
		if (err == 0)
			err = execrlock(); /* no exec while a thread is being born */
		if (err == 0) {
			err = newosproc(mp);
			execrunlock();
		}
		if (err != -EAGAIN || tries + 1 >= newosproc_tries)
			break;
		osusleep((tries + 1) * 1000);
	}
	if (err == -EDEADLK) {
		/* execrlock: this thread holds the exec lock (mrt_execlock), and
		 * no thread was asked for. */
		seterrmsg("mrt: the calling thread holds mrt_execlock: no M can be created "
		          "until mrt_execunlock");
	} else if (err != 0) {
		lock(&sched.lock);
		int64_t have = mcount() - 1; /* not counting mp itself */
		unlock(&sched.lock);
		seterrmsg("mrt: failed to create new OS thread (have %lld already; errno=%d)%s",
		          (long long)have, -err,
		          err == -EAGAIN ? "; may need to increase max user processes (ulimit -u)"
		                         : "");
	}
	return err;
}

/*
 * A creation the calling thread must not make itself (mnoclone): the
 * template thread makes it (template.c), or, if no clean thread has started
 * one yet, it is refused.
 */
static int64_t newmhandoff(mrt_fn fn, void *arg, void *p)
{
	int64_t (*handoff)(mrt_fn, void *, void *) = load_acquire(&newmHandoff.handoff);
	if (handoff != nil)
		return handoff(fn, arg, p);
	seterrmsg("mrt: this thread's state must not be cloned (a locked g, mrt_mtaint) and "
	          "no template thread exists to create the M");
	MTRACE(MT_FAILED, nil, -EPERM);
	return -EPERM;
}

/*
 * Whether a thread that should not be cloned (mnoclone) is cloned after
 * all: an attached thread, neither locked nor tainted, while there is no
 * template thread. It cannot start one (it would be the clone's source),
 * and nothing says it changed anything; a program that cares starts the
 * template thread early (mrt_starttemplatethread), as Go's main does
 * under cgo for the threads C brings in.
 */
static bool nohandoff(const m *self)
{
	return self != nil && self->attached && self->lockedg == nil && !self->tainted &&
	       load_acquire(&newmHandoff.handoff) == nil;
}

/*
 * newm creates an M that will run fn(arg) with p (Go's newm): allocm, then
 * newm1. A failure after allocm undoes all of it (mfailed).
 *
 * The whole creation holds the births lock shared (#14 item 4): while an
 * mrt_allthreadssyscall holds it, no M joins allm, and each one on allm has
 * its thread. A thread that must not be cloned hands the creation off, and
 * decides so holding the lock: a thread that is not an M must hand off once
 * a call has run, and one may complete while it waits here. It does not keep
 * the lock while the template thread, which takes it too, works for it.
 */
int64_t newm(mrt_fn fn, void *arg, void *p)
{
	m *mp;
	int err = birthrlock();
	if (err != 0) {
		seterrmsg("mrt: the calling thread is in mrt_allthreadssyscall: no M can be created");
		MTRACE(MT_FAILED, nil, err);
		return err;
	}
	m *self = getm();
	if (unlikely(mnoclone(self)) && !nohandoff(self)) {
		birthrunlock();
		return newmhandoff(fn, arg, p);
	}
	err = allocm(&mp, fn, arg, p);
	if (err != 0) {
		birthrunlock();
		MTRACE(MT_FAILED, nil, err);
		return err;
	}
	mp->sigmask = cfg.initsigmask;
	/* Read the id now: once the thread runs, it may exit and be reaped
	 * (and mp reused) before newm1 even returns. For the same reason the
	 * trace says "created" before the thread exists, not after. */
	int64_t id = mp->id;
	MTRACE(MT_CREATED, mp, 0);
	err = newm1(mp);
	if (err != 0) {
		MTRACE(MT_FAILED, mp, err);
		mfailed(mp, true, err);
	}
	birthrunlock();
	return err != 0 ? err : id;
}

static void mstart1(void *arg);
static NORETURN void mtoexitpoint(uint32_t reason);
static void mexit(m *mp);
static bool mpark(m *mp);

/*
 * mstart is where a new M's thread begins, on g0, with its thread pointer
 * already set (getg() == mp->g0 from the first instruction). Start order:
 * stack bounds (recorded by allocm, or by the platform before it calls us)
 * → minit: signal stack, then the signal mask → the exit point → mstart1.
 * When it returns, the platform ends the thread.
 */
void mstart(void *arg)
{
	m *mp = arg;
	if (getm() != mp || getg() != mp->g0)
		fatal("mstart: thread pointer does not reach M%lld's TLS block", (long long)mp->id);
	/* The thread exists: a joiner that found the M on allm before newm1
	 * knew it goes on to wait for the thread's end. mp cannot be reaped
	 * before this thread ends, so the wake reaches this M. */
	if (xchg(&mp->birth, birthDone) == birthWaited)
		futexwakeup(&mp->birth, INT32_MAX);
	TESTPOINT(TP_MSTART, mp);

	int err = minit(mp);
	bool retired = false;
	if (err != 0) {
		/*
		 * A start failure is reported through mrt_join, not by newm.
		 * newm has already returned this M's id: to learn of minit's
		 * outcome it would have to sleep until the child reports it,
		 * a futex wait and wake plus two context switches on every
		 * creation, to catch an error that does not happen outside
		 * fault injection. minit's only failing step is sigaltstack
		 * on mrt's own mapping, whose size mrt_init has checked
		 * (>= 16 KiB, above every kernel's minimum); its EPERM needs
		 * the thread to be on the alternate stack, which a thread
		 * that has run no handler cannot be. Go treats the same
		 * failure as fatal; a library must not, so the M exits
		 * without running its function, counts as a failed creation
		 * (mputfreem), and mrt_join returns the error. The fault
		 * sweep (tests/test_fault.c) holds this contract.
		 */
		mp->starterr = err;
		MTRACE(MT_FAILED, mp, err);
	} else {
		MTRACE(MT_STARTED, mp, 0);
		/* The M's function runs below mstart's frame; see "The exit
		 * point" above. The arch's red zone is left alone too. */
		mp->g0top = round_down(arch_getsp() - exitframe - ARCH_REDZONE, 16);
		mp->exitsanfiber = san_curfiber();
		for (;;) {
			mp->mexitreason = MEXIT_NONE;
			san_exitpoint_leave(mp, exitframe);
			ctx_switch(&mp->exitctx, ctx_make((void *)mp->g0top, mstart1, mp));
			/* Back at the exit point, on g0 at the top. */
			san_exitpoint_enter(mp);
			/* The g locked to the M is unwired first, and a locked or
			 * tainted M does not park (#14 items 2, 3: runtime.h). */
			bool noreuse = mlockedexit(mp);
			/* A user g that ended the function is dead from here, as
			 * the M no longer runs on its stack (see gexit0 in g.c). */
			if (mp->exitg != nil) {
				__atomic_store_n(&mp->exitg->status, _Gdead, __ATOMIC_RELEASE);
				mp->exitg = nil;
			}
			if (mp->mexitreason != MEXIT_PARK || noreuse)
				break;
			if (!mpark(mp)) {
				retired = true;
				break;
			}
			MTRACE(MT_WOKEN, mp, 0); /* with new work */
		}
	}
	MTRACE(MT_EXITING, mp, retired ? MT_WHY_IDLE : mp->mexitwhy);
	mexit(mp);
	osexit(mp);
}

/*
 * mexitthread ends mp from the end of its thread, when that thread ended
 * outside mrt: in the pthread model code on an M may call pthread_exit or
 * be cancelled, and the platform catches the thread's end (thread_posix.c).
 * The thread library has abandoned the frames of the M's function — and of
 * the user g running it, or of a systemstack call — without returning
 * through them, and mstart's exit point with them: glibc unwinds them and
 * jumps back to its own start frame on the pthread's stack, g0; Darwin's
 * pthread_exit runs on where it was called. Here is done what mtoexitpoint
 * and mstart would have done: the g the M ran is dead, the M is on g0,
 * then mexit and osexit, as for an M whose function returned.
 *
 * A stack the thread still runs on is not given back: where the thread
 * library ends the thread on a user g's stack (Darwin), that g stays
 * running for good — mrt_gfree refuses it — rather than be freed and
 * reused under the dying thread. On g0, where glibc ends it, the g is dead
 * and its owner may free it.
 */
void mexitthread(m *mp)
{
	if (mabandon(mp)) {
		/* The sanitizers were last told of the abandoned context: back
		 * to the exit point's, as a jump there would have said. */
		san_exitpoint_return(mp);
		san_exitpoint_enter(mp);
	}
	MTRACE(MT_EXITING, mp, MT_WHY_THREAD);
	mexit(mp);
	osexit(mp);
}

/* What mtoexitpoint would have done, for mexitthread and for an attached
 * M whose thread ends (core/extram.c): see mexitthread. */
bool mabandon(m *mp)
{
	uintptr_t sp = arch_getsp();
	g *gp = __atomic_load_n(&mp->curg, __ATOMIC_RELAXED);
	bool ong0 = sp >= mp->g0->stack.lo && sp < mp->g0->stack.hi;
	bool dead = gp->kind == G_USER && !(sp >= gp->stack.lo && sp < gp->stack.hi);
	mp->exitg = dead ? gp : nil; /* a locked g unwired as at the exit point */
	mp->mexitreason = MEXIT_EXIT;
	(void)mlockedexit(mp);
	mp->exitg = nil;
	if (dead) {
		gp->ctx = nil;
		__atomic_store_n(&gp->status, _Gdead, __ATOMIC_RELEASE);
	}
	mp->onsystemstack = 0;
	mp->mcallfn = nil; /* an mcall's fn that never returned */
	mp->mcallg = nil;
	mp->exitctx = nil;
	mp->g0->ctx = nil;
	__atomic_store_n(&mp->curg, mp->g0, __ATOMIC_RELAXED);
	setg(mp->g0);
	return ong0;
}

/* mstart1 runs the M's function; returning from it is mrt_mexit. */
static void mstart1(void *arg)
{
	m *mp = san_exitpoint_arrived(arg);
	san_enter(mp->g0);
	mp->p = mp->nextp;
	mp->nextp = nil;
	__atomic_store_n(&mp->status, MRT_M_RUNNING, __ATOMIC_RELEASE);
	mp->mstartfn(mp->mstartarg);
	mtoexitpoint(MEXIT_EXIT);
}

/*
 * mtoexitpoint abandons whatever the M runs — g0's frames below the exit
 * point, or a user g — and jumps back to mstart. A user g becomes dead (its
 * owner may then free or restart it) only there, after the jump: the jump
 * itself and the sanitizer hooks before it still run on the g's stack.
 * Runs on the M it ends.
 */
static NORETURN void mtoexitpoint(uint32_t reason)
{
	m *mp = getm();
	g *gp = getg();
	mp->exitg = gp->kind == G_USER ? gp : nil;
	mp->onsystemstack = 0;
	mp->g0->ctx = nil;
	__atomic_store_n(&mp->curg, mp->g0, __ATOMIC_RELAXED);
	setg(mp->g0);
	mp->mexitreason = reason;
	void *c = mp->exitctx;
	mp->exitctx = nil;
	if (mp->exitg != nil)
		TESTPOINT(TP_GEXIT, gp);
	san_exitpoint_return(mp);
	ctx_jump(c);
}

/*
 * mexit is the end of an M (Go's mexit), on g0 at the exit point. Order:
 * unminit (the platform's signal teardown), then — in one critical section —
 * off allm, onto freem, counted as freed. The stacks stay until freeWait
 * says the thread is gone: the platform's last step (osexit) makes that
 * happen only after the thread's last use of them. Between the two, the
 * thread waits for every mrt_signalm that saw it live (mp->sending): the
 * status is stored (mputfreem) before the count is read, the mirror of
 * mrt_signalm, so no send can still be on its way to this thread's tid or
 * handle once the thread has ended.
 */
static void mexit(m *mp)
{
	sysmexit(mp); /* a section it left on ends; off the monitor's list */
	unminit(mp);
	TESTPOINT(TP_MEXIT, mp);
	mputfreem(mp);
	allthreadsleave(mp); /* #14 item 4: a request not begun is given back */
	mwaitsends(mp);
#ifdef MRT_TESTHOOKS
	void (*hook)(m *) = load_relaxed(&testmexithook);
	if (hook != nil)
		hook(mp);
#endif
}

/* mexit's wait for the sends in flight (see there); dropm's too
 * (core/extram.c), whose thread goes on without the M. */
void mwaitsends(m *mp)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with mrt_signalm's */
	if (__atomic_load_n(&mp->sending, __ATOMIC_ACQUIRE) != 0) {
		TESTPOINT(TP_SENDWAIT, mp);
		while (__atomic_load_n(&mp->sending, __ATOMIC_ACQUIRE) != 0)
			osyield(); /* a send in flight: a system call from done */
	}
}

/*
 * mpark puts mp on the idle list and sleeps until startm hands it work
 * (true), or, with an idle timeout configured, until it should retire
 * (false). On g0 at the exit point.
 */
static bool mpark(m *mp)
{
	/* Spinning first, when configured (core/spin.c): a startm meanwhile
	 * hands over with a store. */
	if (mspin(mp))
		return true;
	/* The event before the M is seen idle: whoever sees it idle (a
	 * flush of the trace file, a tool at the probe) finds it recorded. */
	MTRACE(MT_PARKED, mp, 0);
	lock(&sched.lock);
	noteclear(&mp->park); /* before startm can see us */
	__atomic_store_n(&mp->status, MRT_M_IDLE, __ATOMIC_RELEASE);
	mp->p = nil;
	mp->schedlink = sched.midle;
	sched.midle = mp;
	sched.nmidle++;
	unlock(&sched.lock);
	TESTPOINT(TP_MPARKED, mp);

	if (cfg.idle_ns <= 0) {
		notesleep(&mp->park);
		return true;
	}
	if (notetsleep(&mp->park, cfg.idle_ns))
		return true;
	/* Timed out. Retire, unless a startm took us off midle meanwhile:
	 * then its notewakeup is on its way and the work is ours. */
	lock(&sched.lock);
	if (__atomic_load_n(&mp->status, __ATOMIC_RELAXED) == MRT_M_IDLE) {
		for (m **pp = &sched.midle; *pp != nil; pp = &(*pp)->schedlink) {
			if (*pp == mp) {
				*pp = mp->schedlink;
				break;
			}
		}
		sched.nmidle--;
		unlock(&sched.lock);
		return false;
	}
	unlock(&sched.lock);
	notesleep(&mp->park);
	return true;
}

/*
 * startm hands fn(arg) and p to an idle M and wakes it; only when none is
 * idle does it create one (Go's startm). An M still spinning in mpark is
 * preferred (Go's wakep of a spinning M): it needs no wakeup.
 */
int64_t startm(mrt_fn fn, void *arg, void *p)
{
	lock(&sched.lock);
	m *mp = mspinget();
	bool spinner = mp != nil;
	if (mp == nil && (mp = sched.midle) != nil) {
		sched.midle = mp->schedlink;
		sched.nmidle--;
	}
	if (mp != nil)
		__atomic_store_n(&mp->status, MRT_M_STARTING, __ATOMIC_RELEASE);
	unlock(&sched.lock);
	if (mp == nil)
		return newm(fn, arg, p);

	/* Hand the work over before the wakeup: notewakeup's exchange (or, to
	 * a spinner, mspinwake's release store) publishes these stores to the
	 * woken M. */
	mp->mstartfn = fn;
	mp->mstartarg = arg;
	mp->nextp = p;
	int64_t id = mp->id;
	if (spinner)
		mspinwake(mp);
	else
		notewakeup(&mp->park);
	return id;
}

/* The monitor M (core/sysmon.c), made here as Go's main makes sysmon: at
 * mrt_init, or by the first blocking section after a failed start. The
 * caller has claimed the start (sysmonclaim). */
int sysmonstart(void)
{
	/* Before the M exists: its first event (created) names it. */
	store_relaxed(&sysmonfn, sysmon);
	int64_t id = newm(sysmon, nil, nil);
	sysmonstarted(id);
	return id < 0 ? (int)id : 0;
}

/* ------------------------------------------------------------------------
 * Public API over the above
 * ------------------------------------------------------------------------ */

static bool inited(void)
{
	return load_acquire(&cfg.inited);
}

MRT_API int64_t mrt_newm(mrt_fn fn, void *arg, void *p)
{
	if (!inited() || fn == nil)
		return -EINVAL;
	mrt_tls.errmsg[0] = '\0';
	return newm(fn, arg, p);
}

MRT_API int64_t mrt_startm(mrt_fn fn, void *arg, void *p)
{
	if (!inited() || fn == nil)
		return -EINVAL;
	mrt_tls.errmsg[0] = '\0';
	return startm(fn, arg, p);
}

MRT_API int mrt_stopm(void)
{
	m *mp = getm();
	/* m0 and an attached M (core/extram.c) have no exit point: their
	 * threads are not mrt's (Go: an extra M cannot park either). */
	if (mp == nil || mp == &m0 || mp->attached)
		return -EPERM;
	if (mp->onsystemstack)
		return -EINVAL;
	if (insyscall(mp))
		return -EBUSY; /* its P would be lost */
	mtoexitpoint(MEXIT_PARK);
}

MRT_API int mrt_mexit(void)
{
	m *mp = getm();
	if (mp == nil || mp == &m0 || mp->attached) /* no exit point: see mrt_stopm */
		return -EPERM;
	if (insyscall(mp))
		return -EBUSY; /* its P would be lost */
	/* As mrt_stopm: the g running above the systemstack call would be
	 * left running for good (mtoexitpoint sees g0). */
	if (mp->onsystemstack)
		return -EINVAL;
	mtoexitpoint(MEXIT_EXIT);
}

/*
 * mthreadname writes the name mp's thread should carry — the configured
 * prefix and the M's id, "mrt/M12" by default — into buf (n bytes, cut to
 * fit) and returns its length, or 0 when naming is off (the default; see
 * MRT_F_THREAD_NAMES). The platform's minit sets it.
 */
int mthreadname(m *mp, char *buf, size_t n)
{
	if (!cfg.threadnames || n == 0)
		return 0;
	int k = mrt_snprintf(buf, n, "%s%lld", cfg.threadname, (long long)mp->id);
	return k < (int)n ? k : (int)n - 1;
}

MRT_API const char *mrt_threadmodel(void)
{
	return OS_THREAD_MODEL;
}

MRT_API int64_t mrt_mid(void)
{
	m *mp = getm();
	return mp != nil ? mp->id : -1;
}

MRT_API void *mrt_getp(void)
{
	m *mp = getm();
	return mp != nil ? mp->p : nil;
}

MRT_API int mrt_setp(void *p)
{
	m *mp = getm();
	if (mp == nil)
		return -EPERM;
	if (insyscall(mp))
		return -EBUSY; /* the section holds the M's P */
	mp->p = p;
	return 0;
}

MRT_API uintptr_t *mrt_mlocal(int i)
{
	m *mp = getm();
	if (mp == nil || i < 0 || i >= MRT_MLOCAL_SLOTS)
		return nil;
	return &mp->mlocal[i];
}

/* Go's fastrand: xorshift64+ on per-M state. Threads that are not Ms share a
 * splitmix64 sequence. */
MRT_API uint32_t mrt_fastrand(void)
{
	m *mp = getm();
	if (mp != nil) {
		uint32_t s1 = mp->fastrand[0], s0 = mp->fastrand[1];
		s1 ^= s1 << 17;
		s1 = s1 ^ s0 ^ s1 >> 7 ^ s0 >> 16;
		mp->fastrand[0] = s0;
		mp->fastrand[1] = s1;
		return s0 + s1;
	}
	static uint64_t shared = 0x9e3779b97f4a7c15u;
	uint64_t z = __atomic_add_fetch(&shared, 0x9e3779b97f4a7c15u, __ATOMIC_RELAXED);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return (uint32_t)(z ^ (z >> 31));
}

MRT_API int64_t mrt_nanotime(void)
{
	return nanotime();
}

MRT_API int32_t mrt_gettid(void)
{
	return osgettid();
}

/*
 * mrt_cpu's fast path: two loads, the thread's CPU word (found once by the
 * platform's oscpu) and the CPU in it, which the OS rewrites whenever the
 * thread moves (Linux's rseq: cpu_id, valid when >= 0). Anything else — no
 * word yet, none to be had, the word not valid — goes to oscpu.
 */
MRT_API int mrt_cpu(void)
{
#ifdef MRT_TESTHOOKS
	if (unlikely(load_relaxed(&testnorseq)))
		return oscpu();
#endif
	const volatile int32_t *w = load_relaxed(&mrt_tlsp_()->cpuid);
	if (likely(w != nil)) {
		int32_t c = *w;
		if (likely(c >= 0))
			return c;
	}
	return oscpu();
}

/*
 * mrt_signalm looks the M up without sched.lock (a lock in a signal handler
 * could deadlock against the thread it interrupted), in allm's index by id
 * (mindex.c: O(1)), a lock-free read like mrt_forallm's walk: as a walker
 * it keeps the m from being recycled under it. What the walk cannot keep
 * is the thread: an M that exits meanwhile ends its thread, and the system
 * may give its tid (or a pthread's handle, sooner still) to a thread that
 * is not this M. So the send is announced in mp->sending before the status
 * is read, and the exiting M stores its status before it reads the count
 * (mexit): either this call sees the M leave and sends nothing, or the M's
 * thread waits for the send to finish before it ends.
 * The C library's own signals are refused (OS_SIGRESERVED: glibc's
 * cancellation and setxid signals, 32 and 33, which would kill the
 * process or run libc's handler on a thread that takes no part in it).
 */
MRT_API int mrt_signalm(int64_t id, int sig)
{
	if (!inited() || id < 0 || sig <= 0 || sig > 64 || OS_SIGRESERVED(sig))
		return -EINVAL;
	int r = -ESRCH;
	walkbegin();
	m *mp = mindexfind(MIDX_ALLM, id);
	if (mp != nil)
		r = msignal(mp, sig);
	walkend();
	return r;
}

/* Sends sig to mp's thread if the M is live (see mrt_signalm): 0, or
 * -ESRCH. The caller is walking allm (walkbegin), found mp on it. */
int msignal(m *mp, int sig)
{
	int r = -ESRCH;
	__atomic_fetch_add(&mp->sending, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* pairs with mexit's */
	uint32_t st = __atomic_load_n(&mp->status, __ATOMIC_ACQUIRE);
	if (st == MRT_M_STARTING || st == MRT_M_RUNNING || st == MRT_M_IDLE ||
	    st == MRT_M_ATTACHED) {
		TESTPOINT(TP_SIGNALM, mp);
		r = signalm(mp, sig);
	}
	__atomic_fetch_sub(&mp->sending, 1, __ATOMIC_RELEASE);
	return r;
}
