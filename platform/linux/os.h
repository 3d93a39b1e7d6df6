/*
 * os.h (Linux) — the types core sees from the platform.
 */
#ifndef MRT_OS_H
#define MRT_OS_H

#include <stdbool.h>
#include <stdint.h>

/* The kernel's signal set: 64 signals on every Linux CPU mrt supports. */
typedef uint64_t os_sigset;

/* Signals the C library keeps for itself, which mrt_signalm refuses: the
 * kernel's first real-time signals, glibc's SIGCANCEL (32) and SIGSETXID
 * (33); glibc's SIGRTMIN is 34. */
#define OS_SIGRESERVED(sig) ((sig) == 32 || (sig) == 33)

/* Locks and notes sleep on futexes (core/lock_futex.c). */
#define OS_LOCK_SEMA 0

/* The OS area of a clone-model M's TLS block (core/tls.c): the kernel's
 * struct rseq, 32 bytes aligned to 32 (rseq_linux.c). */
#define OS_MTLS_SIZE 32
#define OS_MTLS_ALIGN 32

#if defined(MRT_THREADS_PTHREAD)
/* platform/posix: Ms are pthreads. pthread_create makes g0's stack, minit
 * records its bounds; libc's thread exit runs after the M's end. */
#define OS_THREAD_MODEL "pthread"
#define OS_G0_FROM_OS 1
#define OS_THREAD_DIES_WITH_M 0
typedef struct os_mstate {
	unsigned long thread; /* pthread_t: signalm's, stored by newosproc */
	/* A struct rseq of mrt's (rseq_linux.c), where libc registered none
	 * for the thread; 32-aligned inside. */
	char rseqbuf[64];
	bool rseqown;         /* registered: unregistered when the M ends */
} os_mstate;
#else
/* thread_clone.c: mrt allocates g0's stack and the TLS block at its top;
 * the thread ends with the M's last instruction (core/signal.c). */
#define OS_THREAD_MODEL "clone"
#define OS_G0_FROM_OS 0
#define OS_THREAD_DIES_WITH_M 1
typedef struct os_mstate {
	/* m0's own struct rseq where libc registered none (rseq_linux.c; an
	 * M's is in its TLS block); 32-aligned inside. */
	char rseqbuf[64];
	bool rseqown;
} os_mstate;
#endif

#endif
