/*
 * fork_linux.c — registering mrt's fork handlers (core/fork.c).
 *
 * The one libc call of the Linux platform: pthread_atfork, made once by
 * mrt_init on m0, which is libc's thread. The handlers it registers run only
 * on the thread that calls fork(), which is libc land too (a clone-model M
 * cannot call fork). tests/freestanding.py allows this symbol and no other.
 */
#include "linux.h"

extern int pthread_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

int osatfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	int r = pthread_atfork(prepare, parent, child);
	return r == 0 ? 0 : -r; /* pthread functions return the error number */
}
