/*
 * signal.c — an M's signal stack and signal mask: the rule, written once
 * (Go's minitSignals, minitSignalStack, minitSignalMask and unminitSignals
 * in signal_unix.go). The platforms supply only the primitives: read and set
 * the thread's alternate signal stack (ossigaltstack) and its mask
 * (ossigmask).
 *
 * The rule.
 *  - Every M has a gsignal, a stack mrt allocates for it on the creating
 *    thread (gsignalalloc; Go's mpreinit: malg(32 KiB)), so that a handler
 *    never runs on a stack that has no room left: an overflowing g0 or user
 *    g is the very case MRT_F_STACKOVERFLOW reports from gsignal.
 *  - m0 is the user's thread. If it has an alternate signal stack already,
 *    m0 adopts it: gsignal becomes that stack, and mrt's own goes back.
 *    Otherwise gsignal is installed, as for a new M. m0's mask is the init
 *    mask by definition: it is left alone.
 *  - A new M installs gsignal and remembers what the thread had (a thread
 *    library gives a new thread none, but a sanitizer runtime gives every
 *    thread one of its own before the start routine runs), then sets the
 *    init mask. In that order: once the mask lets a signal through, its
 *    SA_ONSTACK handler must find gsignal installed.
 *  - An attached M (core/extram.c: a thread mrt did not make, made an M by
 *    mrt_needm) installs gsignal and remembers what the thread had, as a
 *    new M does; its mask stays the thread's own, which mrt does not
 *    change: the thread is its owner's, and no signal of mrt's needs to
 *    get through. Its end (dropm) puts the thread's stack back exactly,
 *    flags included, without blocking anything: dropm has made the
 *    thread stop being an M first (no handler sees the M from there),
 *    and gsignal is not given back before the thread's own stack is in
 *    place again (no handler starts on gsignal from there). The thread
 *    goes on with the stack and the mask it had, bit for bit (unless its
 *    own code changed the mask meanwhile: that change is its own).
 *  - The end of an M puts back exactly what it found: every signal blocked
 *    (from here to the thread's end no handler may run on a stack that is
 *    about to be freed, nor see an M that is leaving), then the stack the
 *    thread had before minit, or none. Only what minit installed is taken
 *    down: after a failed minit the thread's own stack is still in place,
 *    and disabling it would leak it (a sanitizer unmaps whatever is
 *    installed when the thread ends).
 *
 * Signals at the end of a thread that dies with its M. Where the thread
 * exists only to be the M (OS_THREAD_DIES_WITH_M: a clone-model M), there
 * is nothing to put back: after mexit only mrt's last instructions run on
 * it, and its stacks are freed only once the kernel has said the thread is
 * gone (CLONE_CHILD_CLEARTID), after it has stopped running user code for
 * good, signal handlers included. Until then a handler may run on gsignal
 * or g0, both still allocated. So such an M neither blocks signals nor
 * removes its signal stack (Go does both: two system calls saved per M).
 * Where code runs on the thread after the M (a pthread: libc's thread exit),
 * the rule above applies in full.
 */
#include "runtime.h"

/* Every signal the thread library lets a thread block. */
static const os_sigset sigsetall = (os_sigset)-1;

int gsignalalloc(m *mp)
{
	g *gs = mp->gsignal;
	int r = FAULT(FAULT_GSIGNAL);
	if (r == 0)
		r = stackalloc(&gs->stackmem, cfg.gsignalstack);
	if (r < 0)
		return r;
	gs->ownstack = true;
	/* The M is on allm already (mcommoninit), where lock-free walkers read
	 * these: a word at a time, lo first (runtime.h: stackbounds). */
	__atomic_store_n(&gs->stack.lo, gs->stackmem.lo, __ATOMIC_RELAXED);
	__atomic_store_n(&gs->stack.hi, gs->stackmem.hi, __ATOMIC_RELAXED);
	return 0;
}

/* minitSignalStack: m0 adopts the stack it has, or installs gsignal; any
 * other M installs gsignal and remembers the thread's own. */
static int minitSignalStack(m *mp)
{
	g *gs = mp->gsignal;
	sigstk old;
	if (mp == &m0) {
		if (ossigaltstack(nil, &old) == 0 && old.hi != 0) {
			stackfree(&gs->stackmem);
			gs->ownstack = false;
			__atomic_store_n(&gs->stack.lo, old.lo, __ATOMIC_RELAXED);
			__atomic_store_n(&gs->stack.hi, old.hi, __ATOMIC_RELAXED);
			return 0;
		}
	} else {
		int err = FAULT(FAULT_SIGALTSTACK);
		if (err != 0)
			return err;
	}
	sigstk ss = { .lo = gs->stack.lo, .hi = gs->stack.hi, .flags = 0 };
	int err = ossigaltstack(&ss, &old);
	if (err != 0)
		return err;
	mp->newsigstack = true;
	mp->oldsigstack = old;
	return 0;
}

/* minitSignalMask: a new M runs with the init mask (m0's, by definition);
 * an attached M with the mask its thread has. */
static int minitSignalMask(m *mp)
{
	if (mp == &m0 || mp->attached)
		return 0;
	return ossigmask(&mp->sigmask, nil);
}

int minitSignals(m *mp)
{
	int err = minitSignalStack(mp); /* the stack before the mask: see above */
	if (err == 0)
		err = minitSignalMask(mp);
	return err;
}

void unminitSignals(m *mp)
{
	/* An attached thread goes on after its M, in either model; it needs
	 * no mask change (see the rule above). */
	if (OS_THREAD_DIES_WITH_M && !mp->attached)
		return; /* see "Signals at the end" */
	if (!mp->attached)
		ossigmask(&sigsetall, nil);
	if (!mp->newsigstack)
		return;
	ossigaltstack(&mp->oldsigstack, nil); /* hi == 0: none, disabled */
	mp->newsigstack = false;
}
