/*
 * thread_posix.c — Ms as pthreads: the pthread model, once, for Darwin (the
 * only model there) and Linux built with -Dthreads=pthread (Go's newosproc,
 * minit, unminit when cgo makes the threads, and on Darwin).
 *
 * An M is a detached pthread. Its g0 is the pthread's own stack, of the
 * configured g0 size, and its code may call anything in libc: libc made the
 * thread, so errno, malloc, stdio and __thread all work there. mrt's own
 * primitives (locks, memory, time) stay the platform's; only the birth and
 * death of the thread, and its signal mask, go through libc. What POSIX
 * leaves to each system — g0's exact bounds, the thread's name — are the
 * hooks of posix.h.
 *
 * Birth. newosproc blocks every signal around pthread_create, as Go does:
 * the new thread runs libc's start-up code and the first lines of
 * mstart_pthread with no g and no signal stack, and a handler that ran
 * there would find neither. It inherits the all-blocked mask; minit records
 * g0's exact bounds and the tid, then installs gsignal and only then sets
 * the init mask (core/signal.c).
 *
 * Death. The thread does not end at mrt's last line: after mstart returns,
 * libc runs its own thread exit (TLS destructors, stack release) on the
 * same thread. So unminit blocks signals and puts back the signal stack the
 * thread had (core/signal.c), and osexit stores freeMRef — only the m and
 * gsignal may be freed; g0 is libc's — as the thread's very last use of
 * the m, then wakes a joiner. mrt_join therefore returns once the M is done
 * with mrt; the pthread may still be finishing libc's exit.
 *
 * Death outside mrt. Code on an M may call anything, pthread_exit
 * included, and the M's thread may be cancelled (deferred, at a
 * cancellation point of its code). The thread then ends without coming
 * back through mstart: glibc unwinds the M's frames (from a user g's stack
 * too: the walk ends at the frame ctx_make built, and glibc jumps back to
 * its start frame on the pthread's stack); Darwin ends the thread where
 * pthread_exit was called. Either way the thread library runs the thread's
 * TSD destructors on the thread before it ends, its TLS still in place.
 * mrt's key (mkey) holds the M from minit until osexit takes it back, so
 * its destructor, mthreadend, runs only for a thread that ends outside
 * mrt, and ends the M there (core's mexitthread): off allm, counted as
 * freed, joiner woken — never an M left on allm without a thread. Go binds
 * its extra Ms to C threads with the same kind of key. Asynchronous
 * cancellation, which may strike in the middle of mrt's own code, is not
 * supported (mrt is not async-cancel-safe, as POSIX requires of what runs
 * with it enabled).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <limits.h>

#include "posix.h"

/* The key whose destructor catches a thread that ends outside mrt (see
 * "Death outside mrt"), made once, by the first newosproc. */
static pthread_key_t mkey;
static pthread_once_t mkeyonce = PTHREAD_ONCE_INIT;
static int mkeyerr;

static void mthreadend(void *arg)
{
	m *mp = arg;
	if (getm() != mp)
		fatal("mthreadend: the thread of M%lld is not that M", (long long)mp->id);
	mexitthread(mp);
}

static void mkeyinit(void)
{
	mkeyerr = pthread_key_create(&mkey, mthreadend);
}

/* The M's first C frame on its new pthread. */
static void *mstart_pthread(void *arg)
{
	m *mp = arg;
	mrt_tls.m = mp;
	setg(mp->g0);
	mstart(mp);
	/* osexit has run: mp may already belong to another M. */
	return nil;
}

/* g0's size: the configured one in whole pages (16 KiB on Apple silicon),
 * at least PTHREAD_STACK_MIN; Darwin refuses anything else. */
static size_t g0size(void)
{
	size_t n = round_up(cfg.g0stack, pagesize);
	size_t min = round_up((size_t)PTHREAD_STACK_MIN, pagesize);
	return n >= min ? n : min;
}

/* newosproc starts mp's thread (Go's newosproc for cgo, _cgo_thread_start).
 * Below g0 the thread library puts a guard page, as mrt does below its own
 * stacks. */
int newosproc(m *mp)
{
	pthread_once(&mkeyonce, mkeyinit);
	if (mkeyerr != 0)
		return -mkeyerr; /* EAGAIN: the process has used up its keys */
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);
	if (err != 0)
		return -err;
	err = pthread_attr_setstacksize(&attr, g0size());
	if (err == 0)
		err = pthread_attr_setguardsize(&attr, pagesize);
	if (err == 0)
		err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (err == 0) {
		/* See "Birth" above. libc leaves its own internal signals
		 * unblocked whatever we ask. */
		sigset_t all, old;
		pthread_t t;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		/* The handle is signalm's, and must be in place when newm
		 * returns the id: a live M is signallable. POSIX stores it only
		 * by the time pthread_create returns (Darwin after the thread
		 * runs), when the thread may already be ending; the creator's
		 * hold on mp->sending keeps it from ending, and so mp from
		 * being recycled, until the handle is stored (mexit waits). */
		__atomic_fetch_add(&mp->sending, 1, __ATOMIC_ACQ_REL);
		err = pthread_create(&t, &attr, mstart_pthread, mp);
		if (err == 0) {
			TESTPOINT(TP_OSHANDLE, mp);
			__atomic_store_n(&mp->os.thread, t, __ATOMIC_RELEASE);
		}
		__atomic_fetch_sub(&mp->sending, 1, __ATOMIC_RELEASE);
		/* From here mp is the new thread's: it may even have exited. */
		pthread_sigmask(SIG_SETMASK, &old, nil);
	}
	pthread_attr_destroy(&attr);
	return -err;
}

/*
 * The signal mask goes through libc, which keeps its own internal signals
 * (glibc's SIGCANCEL and SIGSETXID) deliverable: a thread that blocked
 * them raw would hang every setuid() of the process. os_sigset is the
 * OS's set as a word, bit sig-1 for signal sig.
 */
int ossigmask(const os_sigset *set, os_sigset *old)
{
	enum { nsig = 8 * sizeof(os_sigset) };
	sigset_t s, o;
	if (set != nil) {
		sigemptyset(&s);
		for (int sig = 1; sig <= nsig; sig++)
			if (*set & (os_sigset)1 << (sig - 1))
				sigaddset(&s, sig);
	}
	int err = pthread_sigmask(SIG_SETMASK, set != nil ? &s : nil, &o);
	if (err != 0)
		return -err;
	if (old != nil) {
		*old = 0;
		for (int sig = 1; sig <= nsig; sig++)
			if (sigismember(&o, sig) == 1)
				*old |= (os_sigset)1 << (sig - 1);
	}
	return 0;
}

/*
 * minit runs on the new M (Go's minit): g0's bounds and the tid first (a
 * lock-free allm walker may read them as soon as they are there), then the
 * signal stack and mask by core's rule, and last the thread's name
 * (cosmetic). The handle is stored by both newosproc and minit, whichever
 * comes first. m0 keeps its stack, which mrt_init measured, and records
 * its own handle.
 */
int minit(m *mp)
{
	if (mp == &m0) {
		__atomic_store_n(&mp->os.thread, pthread_self(), __ATOMIC_RELEASE);
		return minitSignals(mp);
	}

	/* The handle, as the creator stores it: the creator may not have
	 * resumed from pthread_create yet, and this M may signal itself
	 * first thing (the same value, so the two stores never disagree). */
	__atomic_store_n(&mp->os.thread, pthread_self(), __ATOMIC_RELEASE);

	/* From here on, a thread that ends outside mrt ends the M too. */
	int err = pthread_setspecific(mkey, mp);
	if (err != 0)
		return -err;
	err = osthreadrecord(mp); /* g0's bounds and the tid */
	if (err != 0)
		return err;

	err = minitSignals(mp);
	if (err != 0)
		return err;
	osthreadname(mp);
	return 0;
}

void unminit(m *mp)
{
	unminitSignals(mp);
	osthreadend(mp); /* signals blocked: no handler can come between */
}

/*
 * signalm sends through the thread's handle (pthread_kill), which names
 * the thread from the moment newm returns, before the new thread has run
 * a line, and which libc refuses for its own signals. mrt_signalm holds
 * mp->sending, so the thread has not ended. A handle of 0: pthread_create
 * has not returned yet (a walker found the M being born).
 */
int signalm(m *mp, int sig)
{
	__typeof__(mp->os.thread) t = __atomic_load_n(&mp->os.thread, __ATOMIC_ACQUIRE);
	if (t == 0)
		return -ESRCH;
	return -pthread_kill((pthread_t)t, sig);
}

/*
 * osexit is the M's last step. The thread stops being an M — mkey no
 * longer holds it (the thread library has cleared it already when its
 * destructor is how we got here), its TLS no longer names mp — then
 * freeMRef is stored: from that instant a reaper may free gsignal and
 * recycle mp. The wake that follows names the word's address only —
 * nothing reads the word for it — and m structs are never unmapped
 * (fixalloc), so a wake that reaches a recycled m is at worst a spurious
 * one, which every futexsleep caller tolerates.
 */
void osexit(m *mp)
{
	pthread_setspecific(mkey, nil);
	mrt_tls.m = nil;
	setg(nil);
	store_release(&mp->freeWait, freeMRef);
	futexwakeup(&mp->freeWait, INT32_MAX);
}

/* An attached M (core/extram.c) is signalled through its thread's
 * handle, like every M of this model. */
void osthreadbind(m *mp)
{
	__atomic_store_n(&mp->os.thread, pthread_self(), __ATOMIC_RELEASE);
}

/* dropm's last use of an attached M, as osexit's is of an M that ends:
 * from the store on, a reaper may free gsignal and recycle mp (g0 is the
 * thread's, which goes on). */
void osdropm(m *mp)
{
	store_release(&mp->freeWait, freeMRef);
	futexwakeup(&mp->freeWait, INT32_MAX);
}

/* osjoin waits for osexit's (or osdropm's) store. */
void osjoin(m *mp)
{
	for (;;) {
		uint32_t v = load_acquire(&mp->freeWait);
		if (v != freeMWait)
			return;
		futexsleep(&mp->freeWait, v, -1);
	}
}
