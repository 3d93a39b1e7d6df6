/*
 * pthread_linux.c — what the pthread model (platform/posix/thread_posix.c)
 * asks of Linux: g0's bounds from glibc's pthread_getattr_np, and the
 * thread's name through the same prctl the clone model uses. Built in the
 * clone model too, where only the attach of a thread libc made
 * (platform/posix/extram_posix.c) reads a pthread's bounds.
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "linux.h"
#include "posix.h"

int osthreadstack(uintptr_t *lo, uintptr_t *hi)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	int err = pthread_getattr_np(pthread_self(), &a);
	if (err != 0)
		return -err;
	err = pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	if (err != 0)
		return -err;
	*lo = (uintptr_t)addr;
	*hi = (uintptr_t)addr + size;
	return 0;
}

void osthreadname(m *mp)
{
	setthreadname(mp);
}

void osthreadend(m *mp)
{
	rseqend(mp);
}
