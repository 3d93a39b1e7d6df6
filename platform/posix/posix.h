/*
 * posix.h — what platform/posix/thread_posix.c (the pthread model, written
 * once) asks of the OS it runs on: the few steps POSIX leaves to each
 * system. Linux implements them in platform/linux/pthread_linux.c, Darwin
 * in platform/darwin/thread_darwin.c. extram_posix.c, the attach of a
 * thread mrt did not make, uses them in every thread model: such a thread
 * is libc's in all of them.
 */
#ifndef MRT_POSIX_H
#define MRT_POSIX_H

#include "runtime.h"

/* The calling pthread's own stack, [*lo, *hi): g0's exact bounds, read
 * once by minit. 0 or -errno. */
int osthreadstack(uintptr_t *lo, uintptr_t *hi);

/* Names the calling thread after mp (core's mthreadname), where naming is
 * on; cosmetic, so a failure is ignored. */
void osthreadname(m *mp);

/* The thread model's record of the calling thread as attached M mp's
 * (extram_posix.c's osneedm): what signalm reaches it through. Each model
 * has its own (thread_posix.c, platform/linux/thread_clone.c). */
void osthreadbind(m *mp);

/* Records the calling pthread in mp for lock-free walkers: g0's exact
 * bounds (osthreadstack), then the tid. Shared by the pthread model's
 * minit and osneedm (extram_posix.c, built in every model). 0 or -errno. */
int osthreadrecord(m *mp);
/* The OS's own per-thread state of an M that ends, after unminitSignals
 * has blocked its signals (Linux: an rseq registration of mrt's is taken
 * back, as the m may serve another thread next). */
void osthreadend(m *mp);

#endif
