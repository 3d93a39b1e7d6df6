/*
 * os.h (Darwin) — the types core sees from the platform.
 */
#ifndef MRT_OS_H
#define MRT_OS_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

/* Darwin's sigset_t: 32 signals. */
typedef uint32_t os_sigset;
/* libSystem keeps no signal of its own (pthread_kill refuses signals past
 * 31 by itself). */
#define OS_SIGRESERVED(sig) 0

/* Ms are pthreads (platform/posix, the only model here): g0 is the
 * pthread's own stack, and libc's thread exit runs after the M's end. */
#define OS_THREAD_MODEL "pthread"
#define OS_G0_FROM_OS 1
#define OS_THREAD_DIES_WITH_M 0

/* No futex (__ulock_wait is private API): locks and notes sleep on a
 * semaphore per thread, a mutex and a condition variable, as Go does here
 * (core/lock_sema.c). */
#define OS_LOCK_SEMA 1
/* No OS area in a TLS block (core/tls.c): Darwin has no clone model. */
#define OS_MTLS_SIZE 0
#define OS_MTLS_ALIGN 1
typedef struct os_sema {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint32_t count; /* wakeups not yet taken by a sleep */
	bool ready;     /* mu and cond are initialised */
} os_sema;

typedef struct os_mstate {
	pthread_t thread; /* signalm's, stored by newosproc */
} os_mstate;

#endif
