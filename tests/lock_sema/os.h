/*
 * os.h for test_lock_sema: a platform without a futex (OS_LOCK_SEMA), so that
 * core/lock_sema.c — Darwin's locks and notes — builds and runs on Linux.
 * test_lock_sema.c supplies the semaphores, as platform/darwin does.
 */
#ifndef MRT_OS_H
#define MRT_OS_H

#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

typedef uint64_t os_sigset;
#define OS_THREAD_MODEL "pthread"
#define OS_G0_FROM_OS 1
#define OS_LOCK_SEMA 1

typedef struct os_sema {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	uint32_t count;
	bool ready;
} os_sema;

typedef struct os_mstate {
	char unused;
} os_mstate;

#endif
