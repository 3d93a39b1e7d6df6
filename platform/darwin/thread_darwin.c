/*
 * thread_darwin.c — what the pthread model (platform/posix/thread_posix.c,
 * Darwin's only one) asks of Darwin: g0's bounds from
 * pthread_get_stackaddr_np (the top) and pthread_get_stacksize_np, the
 * thread's name for Instruments, lldb and crash reports, and mpreinit's
 * per-M semaphore and wired signal-stack page.
 */
#include "darwin.h"
#include "posix.h"

#include <sys/mman.h>

int osthreadstack(uintptr_t *lo, uintptr_t *hi)
{
	pthread_t self = pthread_self();
	*hi = (uintptr_t)pthread_get_stackaddr_np(self);
	*lo = *hi - pthread_get_stacksize_np(self);
	return 0;
}

/* Darwin names only the calling thread, up to 63 bytes. */
void osthreadname(m *mp)
{
	char name[64];
	if (mthreadname(mp, name, sizeof name) > 0)
		pthread_setname_np(name);
}

/* Nothing of Darwin's own to undo when an M's thread stops being one. */
void osthreadend(m *mp)
{
	(void)mp;
}

/*
 * mpreinit (on the creating thread, after core's gsignalalloc): the M's
 * semaphore, which its sleeps in lock() and on notes use (core/lock_sema.c).
 * On arm64 the top page of the signal stack is wired: the kernel may fail
 * to deliver a signal onto a signal stack page that is not resident and
 * kill the thread with SIGILL instead (Go issue 42774; Go mlocks it too).
 */
void mpreinit(m *mp)
{
	semainit(&mp->waitsema.sema);
#if defined(__aarch64__)
	mlock((void *)(mp->gsignal->stack.hi - pagesize), pagesize);
#endif
}
