/*
 * os.h (Linux) — the types core sees from the platform.
 */
#ifndef MRT_OS_H
#define MRT_OS_H

#include <asm/unistd.h>

/* The system call that returns from a signal handler: the arch's
 * signal-return trampoline (arch_sigreturn) makes it. Assembly reads this
 * header too, so only macros come before the C part. */
#define OS_NR_SIGRETURN __NR_rt_sigreturn

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

/* The kernel's signal set: 64 signals on every Linux CPU mrt supports. */
typedef uint64_t os_sigset;

/* Locks and notes sleep on futexes (core/lock_futex.c). */
#define OS_LOCK_SEMA 0

#if defined(MRT_THREADS_PTHREAD)
#define OS_THREAD_MODEL "pthread"
/* pthread_create makes g0's stack; minit records its bounds. */
#define OS_G0_FROM_OS 1
typedef struct os_mstate {
	unsigned long thread; /* pthread_t, for the record (debuggers) */
	/* The signal stack the thread had before minit installed gsignal (a
	 * sanitizer runtime's), put back by unminit; oldsigsize 0: none. */
	void *oldsigstack;
	unsigned long oldsigsize;
	/* minit installed gsignal: only then has unminit a stack to take
	 * down (after a failed minit the thread's own one is still there). */
	bool sigstackset;
} os_mstate;
#else
#define OS_THREAD_MODEL "clone"
/* mrt allocates g0's stack and the TLS block at its top. */
#define OS_G0_FROM_OS 0
typedef struct os_mstate {
	char unused;
} os_mstate;
#endif

#endif /* __ASSEMBLER__ */
#endif
