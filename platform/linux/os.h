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

/* mrt_allthreadssyscall's signal unless mrt_config names one: glibc's
 * SIGRTMAX-2 (platform/linux/allthreads_linux.c says why this one). */
#define OS_ALLTHREADSSIG 62

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

/*
 * OS_PROBE3(name, a, b, c): a USDT probe mrt:name with three integer
 * arguments (core/probes.h places them). On Linux a SystemTap SDT note:
 * one nop where the probe is, and an ELF note naming it, its address and
 * where its arguments are, which perf, bpftrace and gdb read; nothing runs
 * and nothing is called until a tool replaces the nop with a breakpoint.
 * The arguments are asm operands, so the compiler only has to be able to
 * name them (a register, a memory operand): no code computes them. Built
 * where the toolchain has <sys/sdt.h> (meson.build, MRT_HAVE_SDT).
 */
#if MRT_HAVE_SDT
#include <sys/sdt.h>
#define OS_PROBE3(name, a, b, c) STAP_PROBE3(mrt, name, a, b, c)
#else
#define OS_PROBE3(name, a, b, c) ((void)0)
#endif

#endif
