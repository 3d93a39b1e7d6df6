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
 * Signals at the end: see core/signal.c (a clone-model M's thread dies with
 * it, OS_THREAD_DIES_WITH_M, so nothing is put back).
 */
#include "linux.h"
#include "posix.h"

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
	/* After mexit the M is on freem, but nothing is freed until the
	 * kernel clears freeWait, after this last instruction. */
	arch_exit_thread();
}

/* newosproc starts mp's thread on its g0 stack (Go's newosproc). */
int newosproc(m *mp)
{
	long r = arch_clone(cloneflags, (void *)mp->g0->stack.hi, &mp->procid, &mp->freeWait,
	                    mp->tp, mstart_clone, mp);
	return r < 0 ? (int)r : 0;
}

/* signalm: tgkill to the tid CLONE_PARENT_SETTID wrote, which a walker may
 * read as 0 before clone has returned. */
int signalm(m *mp, int sig)
{
	int32_t tid = __atomic_load_n(&mp->procid, __ATOMIC_RELAXED);
	if (tid <= 0)
		return -ESRCH;
	return (int)sys3(__NR_tgkill, sys0(__NR_getpid), tid, sig);
}

/* The signal mask of a clone-model M, raw: libc has no say on a thread it
 * did not make. */
int ossigmask(const os_sigset *set, os_sigset *old)
{
	return (int)sys4(__NR_rt_sigprocmask, L_SIG_SETMASK, set, old, sizeof(os_sigset));
}

/*
 * minit runs on the new M (Go's minit): the signal stack and mask by
 * core's rule (minitSignals), then the thread's name — cosmetic, so last
 * (one prctl; see setthreadname for its cost). The tid is known already
 * (CLONE_PARENT_SETTID), and m0 keeps the name it has.
 */
int minit(m *mp)
{
	int err = minitSignals(mp);
	if (err == 0 && mp != &m0)
		setthreadname(mp);
	return err;
}

void unminit(m *mp)
{
	unminitSignals(mp);
}

/* The thread ends in mstart_clone, once mstart returns. */
void osexit(m *mp)
{
	(void)mp;
}

/* An attached M (core/extram.c) is a thread libc made, signalled by its
 * tid as every M here (signalm); osneedm has recorded it. */
void osthreadbind(m *mp)
{
	(void)mp;
}

/*
 * dropm's last use of an attached M: its thread goes on, so no kernel
 * store ends it; the store is made here, as the pthread model's osexit
 * makes it, freeMRef (g0 is the thread's own stack). The wake is a shared
 * one: osjoin's wait is shared, to meet the kernel's CLONE_CHILD_CLEARTID
 * wake, and a private wake would never reach it.
 */
void osdropm(m *mp)
{
	store_release(&mp->freeWait, freeMRef);
	sys3(__NR_futex, &mp->freeWait, FUTEX_WAKE, INT32_MAX);
}

/*
 * osjoin waits for the kernel's CLONE_CHILD_CLEARTID store (or osdropm's). The kernel wakes
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
