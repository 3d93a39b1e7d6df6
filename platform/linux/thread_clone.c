/*
 * thread_clone.c — Ms as raw clone(2) threads (the clone model; Go's
 * newosproc, mpreinit, minit, unminit on Linux without cgo).
 *
 * One clone call does what pthread_create needs several system calls for:
 * CLONE_SETTLS gives the child its thread pointer (so getg() works from its
 * first instruction), CLONE_PARENT_SETTID writes its tid into m->procid
 * before clone returns (no gettid), and CLONE_CHILD_CLEARTID makes the kernel
 * zero m->freeWait — freeMStack — and futex-wake it once the thread is gone.
 *
 * Signals across the clone. Go blocks every signal around clone because its
 * child runs for a while without g set up; a signal handled in that window
 * would crash. Here the child's thread pointer is set by the kernel, so a
 * signal handled at any instruction of the child finds getg() == g0 and
 * runs on g0, a real stack with a guard page below it (the kernel gives a
 * CLONE_VM child no alternate signal stack). So the parent blocks nothing —
 * two rt_sigprocmask calls saved per M — and the child, in minit, installs
 * its signal stack first and only then sets its mask to the init mask.
 * tests/test_signal.c sends signals at Ms as they are born and checks that
 * every handler ran on the M's g0 or gsignal with getg() valid.
 *
 * Signals at the end. An exiting M neither blocks signals nor removes its
 * signal stack (Go does both: two more system calls). Its stacks are freed
 * only after the kernel's CLONE_CHILD_CLEARTID store, which happens after
 * the thread has stopped running user code for good, signal handlers
 * included; until then a handler may run on gsignal or g0, both still
 * allocated.
 */
#include "linux.h"

/* Go's clone flags, plus the three that save system calls (see above).
 * QEMU user mode requires exactly this VM|FS|FILES|SIGHAND|SYSVSEM|THREAD
 * set whenever CLONE_VM is given. */
static const unsigned long cloneflags =
	CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_SYSVSEM | CLONE_THREAD |
	CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;

/* The child's first C frame. */
static NORETURN void mstart_clone(void *arg)
{
	mstart(arg);
	/* After mexit0 the M is on freem, but nothing is freed until the
	 * kernel clears freeWait, after this last instruction. */
	arch_exit_thread(__NR_exit);
}

/* newosproc starts mp's thread on its g0 stack (Go's newosproc). */
int newosproc(m *mp)
{
	long r = arch_clone(__NR_clone, cloneflags, (void *)mp->g0->stack.hi, &mp->procid,
	                    &mp->freeWait, mp->tp, mstart_clone, mp);
	return r < 0 ? (int)r : 0;
}

/* mpreinit gives mp its gsignal stack (Go's mpreinit / malg(32 KiB)). */
int mpreinit(m *mp)
{
	return gsignalalloc(mp);
}

static int setsigaltstack(g *gs)
{
	struct l_stack ss = { (void *)gs->stack.lo, 0, gs->stack.hi - gs->stack.lo };
	return (int)sys2(__NR_sigaltstack, &ss, 0);
}

/*
 * minit runs on the new M (Go's minit): its signal stack, then its signal
 * mask, then its thread name. The order matters: once the mask lets a signal
 * through, its SA_ONSTACK handler must find gsignal installed. The name is
 * cosmetic and comes last (one prctl; see setthreadname for its cost).
 * m0 is the user's thread: it keeps a signal stack it already has (gsignal
 * then records that one) and its mask, which is the init mask by definition.
 */
int minit(m *mp)
{
	g *gs = mp->gsignal;
	if (mp == &m0) {
		struct l_stack old;
		long r = sys2(__NR_sigaltstack, 0, &old);
		if (r == 0 && !(old.flags & L_SS_DISABLE)) {
			stackfree(&gs->stackmem);
			gs->ownstack = false;
			gs->stack.lo = (uintptr_t)old.sp;
			gs->stack.hi = (uintptr_t)old.sp + old.size;
			return 0;
		}
		return setsigaltstack(gs);
	}
	int err = FAULT(FAULT_SIGALTSTACK);
	if (err == 0)
		err = setsigaltstack(gs);
	if (err != 0)
		return err;
	err = (int)sys4(__NR_rt_sigprocmask, L_SIG_SETMASK, &mp->sigmask, 0, sizeof mp->sigmask);
	if (err != 0)
		return err;
	setthreadname(mp);
	return 0;
}

/* Nothing to undo before the thread goes: see "Signals at the end". */
void unminit(m *mp)
{
	(void)mp;
}

/* The thread ends in mstart_clone, once mstart returns. */
void osexit(m *mp)
{
	(void)mp;
}

/*
 * osjoin waits for the kernel's CLONE_CHILD_CLEARTID store. The kernel wakes
 * that word with a shared (not private) futex wake, so the wait must be a
 * shared one too, or it would be keyed differently and never woken.
 */
void osjoin(m *mp)
{
	for (;;) {
		uint32_t v = load_acquire(&mp->freeWait);
		if (v != freeMWait)
			return;
		sys4(__NR_futex, &mp->freeWait, FUTEX_WAIT, v, 0);
	}
}
