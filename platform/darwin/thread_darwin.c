/*
 * thread_darwin.c — Ms as pthreads on Darwin (Go's newosproc, mpreinit,
 * minit, unminit there). The same life as Linux's pthread model
 * (platform/linux/thread_pthread.c, whose comments say why each step is
 * where it is), with Darwin's ways of asking: pthread_get_stackaddr_np and
 * pthread_get_stacksize_np for g0's exact bounds, pthread_threadid_np for
 * the id, and no futex for the joiner (see osexit).
 */
#include "darwin.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>

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

int newosproc(m *mp)
{
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);
	if (err != 0)
		return -err;
	err = pthread_attr_setstacksize(&attr, g0size());
	if (err == 0)
		err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (err == 0) {
		/* The new thread starts with every signal blocked and unblocks
		 * them in minit, once it has a g and a signal stack. */
		sigset_t all, old;
		pthread_t t;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		err = pthread_create(&t, &attr, mstart_pthread, mp);
		pthread_sigmask(SIG_SETMASK, &old, nil);
		/* From here mp is the new thread's: it may even have exited. */
	}
	pthread_attr_destroy(&attr);
	return -err;
}

/*
 * mpreinit (on the creating thread): the M's semaphore and its gsignal
 * stack. On arm64 the top page of the signal stack is wired: the kernel
 * may fail to deliver a signal onto a signal stack page that is not
 * resident and kill the thread with SIGILL instead (Go issue 42774; Go
 * mlocks it too).
 */
int mpreinit(m *mp)
{
	semainit(&mp->waitsema.sema);
	int r = gsignalalloc(mp);
	if (r < 0)
		return r;
#if defined(__aarch64__)
	mlock((void *)(mp->gsignal->stack.hi - pagesize), pagesize);
#endif
	return 0;
}

/* Installs gsignal, remembering the thread's old signal stack for unminit
 * (m0 keeps one it has), as platform/linux/thread_pthread.c does. */
static int setsignalstack(m *mp)
{
	g *gs = mp->gsignal;
	stack_t old;
	if (mp == &m0) {
		if (sigaltstack(nil, &old) == 0 && !(old.ss_flags & SS_DISABLE)) {
			stackfree(&gs->stackmem);
			gs->ownstack = false;
			gs->stack.lo = (uintptr_t)old.ss_sp;
			gs->stack.hi = (uintptr_t)old.ss_sp + old.ss_size;
			return 0;
		}
	} else {
		int err = FAULT(FAULT_SIGALTSTACK);
		if (err != 0)
			return err;
	}
	stack_t ss = { .ss_sp = (void *)gs->stack.lo, .ss_size = gs->stack.hi - gs->stack.lo,
		       .ss_flags = 0 };
	if (sigaltstack(&ss, &old) != 0)
		return -errno;
	mp->os.sigstackset = true;
	if (!(old.ss_flags & SS_DISABLE)) {
		mp->os.oldsigstack = old.ss_sp;
		mp->os.oldsigsize = old.ss_size;
	}
	return 0;
}

/* minit (on the new M): g0's bounds, the id, the signal stack, then the
 * init mask — in that order (see platform/linux/thread_pthread.c) — and the
 * thread's name, for Instruments, lldb and crash reports (Darwin names only
 * the calling thread, up to 63 bytes). */
int minit(m *mp)
{
	if (mp == &m0)
		return setsignalstack(mp);

	pthread_t self = pthread_self();
	uintptr_t hi = (uintptr_t)pthread_get_stackaddr_np(self); /* the top */
	uintptr_t lo = hi - pthread_get_stacksize_np(self);
	__atomic_store_n(&mp->g0->stack.lo, lo, __ATOMIC_RELAXED);
	__atomic_store_n(&mp->g0->stack.hi, hi, __ATOMIC_RELAXED);
	__atomic_store_n(&mp->os.thread, self, __ATOMIC_RELEASE);
	__atomic_store_n(&mp->procid, osgettid(), __ATOMIC_RELAXED);

	int err = setsignalstack(mp);
	if (err != 0)
		return err;
	sigset_t set = (sigset_t)mp->sigmask;
	err = pthread_sigmask(SIG_SETMASK, &set, nil);
	if (err != 0)
		return -err;
	char name[64];
	if (mthreadname(mp, name, sizeof name) > 0)
		pthread_setname_np(name);
	return 0;
}

/* unminit: block every signal, then take gsignal down (the thread's old
 * signal stack back, or none) if minit installed it. */
void unminit(m *mp)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, nil);
	if (!mp->os.sigstackset)
		return;
	stack_t ss = { .ss_sp = mp->os.oldsigstack, .ss_size = mp->os.oldsigsize, .ss_flags = 0 };
	if (ss.ss_size == 0)
		ss.ss_flags = SS_DISABLE;
	sigaltstack(&ss, nil);
}

/* The value of os.joiner once osexit has passed it. */
#define JOINER_LATE ((void *)1)

/*
 * osexit is the M's last step. freeMRef must be its last use of the m (a
 * reaper may recycle it from that instant), but a joiner must still be
 * woken, and without a futex the wakeup needs memory: the joiner's note,
 * which lives on the joiner's stack and which mrt_join registers in
 * os.joiner. So the M first takes the note out of os.joiner (leaving
 * JOINER_LATE, so a joiner that comes later knows not to sleep), then
 * stores freeMRef, then wakes the note. An M with a joiner cannot be
 * reaped by anyone but that joiner (mrt_join sets m->joining), and the
 * joiner does not return before this wakeup.
 */
void osexit(m *mp)
{
	mrt_tls.m = nil;
	setg(nil);
	note *n = xchg(&mp->os.joiner, JOINER_LATE);
	store_release(&mp->freeWait, freeMRef);
	if (n != nil)
		notewakeup(n);
}

/* osjoin waits for osexit's store of freeMRef. */
void osjoin(m *mp)
{
	note n;
	noteclear(&n);
	void *none = nil;
	if (cas(&mp->os.joiner, &none, (void *)&n)) {
		notesleep(&n); /* osexit stores freeMRef before it wakes us */
		return;
	}
	/* osexit took the slot already: its store is a few instructions away. */
	while (load_acquire(&mp->freeWait) == freeMWait)
		osyield();
}
