/*
 * posix.h — what platform/posix/thread_posix.c (the pthread model, written
 * once) asks of the OS it runs on: the few steps POSIX leaves to each
 * system. Linux implements them in platform/linux/pthread_linux.c, Darwin
 * in platform/darwin/thread_darwin.c.
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

/* The OS's own per-thread state of an M that ends, after unminitSignals
 * has blocked its signals (Linux: an rseq registration of mrt's is taken
 * back, as the m may serve another thread next). */
void osthreadend(m *mp);

#endif
