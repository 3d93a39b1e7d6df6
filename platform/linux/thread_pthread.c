/*
 * thread_pthread.c — Ms as pthreads (the pthread model on Linux, chosen with
 * -Dthreads=pthread; Go's model when cgo is in use).
 *
 * An M is a detached pthread. Its g0 is the pthread's own stack, of the
 * configured g0 size, and its code may call anything in libc: libc made the
 * thread, so errno, malloc, stdio and __thread all work there. mrt's own
 * primitives (futexes, memory, time) stay the raw system calls of
 * os_linux.c; only the birth and death of the thread go through libc.
 *
 * Birth. newosproc blocks every signal around pthread_create, as Go does:
 * the new thread runs libc's start-up code and the first lines of
 * mstart_pthread with no g and no signal stack, and a handler that ran
 * there would find neither. It inherits the all-blocked mask; minit records
 * g0's exact bounds (pthread_getattr_np) and the tid, installs gsignal and
 * only then sets the init mask.
 *
 * Death. The thread does not end at mrt's last line: after mstart returns,
 * libc runs its own thread exit (TLS destructors, stack release) on the
 * same thread. So unminit blocks signals and takes gsignal down (no handler
 * can run on a stack that is about to be freed), and osexit stores freeMRef —
 * only the m and gsignal may be freed; g0 is libc's — as the thread's very
 * last use of the m, then wakes a joiner. mrt_join therefore returns once
 * the M is done with mrt; the pthread may still be finishing libc's exit.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <limits.h>
#include <unistd.h>

#include "linux.h"

/* libc's sigset_t from the kernel's 64-bit set. */
static void tosigset(sigset_t *s, os_sigset k)
{
	sigemptyset(s);
	for (int sig = 1; sig <= 64; sig++)
		if (k & (1ull << (sig - 1)))
			sigaddset(s, sig);
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

/* The pthread stack size for g0: the configured size in whole pages, at
 * least what the thread library accepts. */
static size_t g0size(void)
{
	size_t n = round_up(cfg.g0stack, pagesize);
	size_t min = (size_t)PTHREAD_STACK_MIN;
	return n >= min ? n : round_up(min, pagesize);
}

/* newosproc starts mp's thread (Go's newosproc for cgo, _cgo_thread_start). */
int newosproc(m *mp)
{
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
		err = pthread_create(&t, &attr, mstart_pthread, mp);
		pthread_sigmask(SIG_SETMASK, &old, nil);
		/* From here mp is the new thread's: it may even have exited. */
	}
	pthread_attr_destroy(&attr);
	return -err;
}

/* mpreinit gives mp its gsignal stack (Go's mpreinit / malg(32 KiB)). */
int mpreinit(m *mp)
{
	return gsignalalloc(mp);
}

/*
 * The signal stack. m0 is the user's thread: if it has a signal stack
 * already, gsignal records that one and mrt's goes back. A new M installs
 * gsignal, remembering the stack the thread had: libc gives a new thread
 * none, but a sanitizer runtime gives every thread its own before the start
 * routine runs, and unmaps whatever is installed when the thread ends — so
 * unminit puts the old one back rather than leave gsignal (about to be
 * freed) for it to unmap.
 */
static int setsignalstack(m *mp)
{
	g *gs = mp->gsignal;
	struct l_stack old;
	if (mp == &m0) {
		if (sys2(__NR_sigaltstack, 0, &old) == 0 && !(old.flags & L_SS_DISABLE)) {
			stackfree(&gs->stackmem);
			gs->ownstack = false;
			gs->stack.lo = (uintptr_t)old.sp;
			gs->stack.hi = (uintptr_t)old.sp + old.size;
			return 0;
		}
	} else {
		int err = FAULT(FAULT_SIGALTSTACK);
		if (err != 0)
			return err;
	}
	struct l_stack ss = { (void *)gs->stack.lo, 0, gs->stack.hi - gs->stack.lo };
	long r = sys2(__NR_sigaltstack, &ss, &old);
	if (r < 0)
		return (int)r;
	mp->os.sigstackset = true;
	if (!(old.flags & L_SS_DISABLE)) {
		mp->os.oldsigstack = old.sp;
		mp->os.oldsigsize = old.size;
	}
	return 0;
}

/*
 * minit runs on the new M (Go's minit): g0's bounds and the tid first (a
 * lock-free allm walker may read them as soon as they are there), then the
 * signal stack, then the signal mask — in that order, because once the mask
 * lets a signal through its SA_ONSTACK handler must find gsignal installed —
 * and last the thread's name (cosmetic; see setthreadname).
 * m0 keeps its stack, which mrt_init measured, and its mask, which is the
 * init mask by definition.
 */
int minit(m *mp)
{
	if (mp == &m0)
		return setsignalstack(mp);

	pthread_t self = pthread_self();
	pthread_attr_t a;
	void *addr;
	size_t size;
	int err = pthread_getattr_np(self, &a);
	if (err != 0)
		return -err;
	err = pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	if (err != 0)
		return -err;
	g *g0 = mp->g0;
	__atomic_store_n(&g0->stack.lo, (uintptr_t)addr, __ATOMIC_RELAXED);
	__atomic_store_n(&g0->stack.hi, (uintptr_t)addr + size, __ATOMIC_RELAXED);
	mp->os.thread = (unsigned long)self;
	__atomic_store_n(&mp->procid, osgettid(), __ATOMIC_RELAXED);

	err = setsignalstack(mp);
	if (err != 0)
		return err;
	sigset_t set;
	tosigset(&set, mp->sigmask);
	err = pthread_sigmask(SIG_SETMASK, &set, nil);
	if (err != 0)
		return -err;
	setthreadname(mp);
	return 0;
}

/*
 * unminit (Go's unminit): block every signal, then take gsignal down (the
 * thread's old signal stack back, or none) — the thread goes on to run
 * libc's exit after mstart returns, and gsignal may be freed as soon as
 * osexit has run. m0 never gets here. If minit failed before gsignal was
 * installed, the thread's stack is still its own (a sanitizer's, which its
 * runtime unmaps at thread exit): disabled here, it would leak.
 */
void unminit(m *mp)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, nil);
	if (!mp->os.sigstackset)
		return;
	struct l_stack ss = { mp->os.oldsigstack, 0, mp->os.oldsigsize };
	if (ss.size == 0)
		ss.flags = L_SS_DISABLE;
	sys2(__NR_sigaltstack, &ss, 0);
}

/*
 * osexit is the M's last step. The thread stops being an M (its TLS no
 * longer names mp), then freeMRef is stored: from that instant a reaper may
 * free gsignal and recycle mp. The wake that follows names the word's
 * address only — the kernel reads nothing there — and m structs are never
 * unmapped (fixalloc), so a wake that reaches a recycled m is at worst a
 * spurious one, which every futex waiter tolerates.
 */
void osexit(m *mp)
{
	mrt_tls.m = nil;
	setg(nil);
	store_release(&mp->freeWait, freeMRef);
	sys3(__NR_futex, &mp->freeWait, FUTEX_WAKE_PRIVATE, INT32_MAX);
}

/* osjoin waits for osexit's store. */
void osjoin(m *mp)
{
	for (;;) {
		uint32_t v = load_acquire(&mp->freeWait);
		if (v != freeMWait)
			return;
		sys4(__NR_futex, &mp->freeWait, FUTEX_WAIT_PRIVATE, v, 0);
	}
}
