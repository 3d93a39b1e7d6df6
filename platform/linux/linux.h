/*
 * linux.h — kernel ABI used by platform/linux: syscall numbers and flags
 * from the kernel's UAPI headers (constants only, no libc), and the few
 * kernel structures mrt passes, spelled out for 64-bit Linux.
 */
#ifndef MRT_LINUX_H
#define MRT_LINUX_H

#include <asm/unistd.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <linux/mman.h>

#include "runtime.h"
#include "sys_linux.h"

/*
 * Guard regions (Linux 6.13, mm/madvise.c): MADV_GUARD_INSTALL marks the
 * pages of a range so that any access faults, as PROT_NONE would, without
 * splitting the mapping they are in; MADV_GUARD_REMOVE takes the marks off.
 * The values are the kernel's (include/uapi/asm-generic/mman-common.h, the
 * same on every CPU); Debian 12's headers (Linux 6.1) do not have them yet.
 */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

/* Every system call goes through the CPU's one primitive (sys_linux.h);
 * the unused arguments are passed as 0, which the kernel ignores. */
#define sys6(n, a, b, c, d, e, f)                                                        \
	arch_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, a, 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, a, b, 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, a, b, c, 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, a, b, c, d, 0, 0)
#define sys5(n, a, b, c, d, e) sys6(n, a, b, c, d, e, 0)

/*
 * The Linux system-call code of each CPU (arch/<cpu>/clone_linux.S and,
 * where the kernel needs one, sigreturn_linux.S).
 *
 * arch_clone: raw clone(2) with the CPU's argument order. The child runs
 * fn(arg) on stack_top with the thread pointer set to tls, frame pointer
 * and return address zeroed (the unwinder stops there). fn must not return
 * (it ends with arch_exit_thread); the trampoline traps if it does. The
 * parent gets the child's tid or -errno, exactly as the kernel returned it.
 * Clone model only.
 */
long arch_clone(unsigned long flags, void *stack_top, int32_t *ptid, uint32_t *ctid, void *tls,
                void (*fn)(void *), void *arg);
/* Ends the calling thread (exit(2), never exit_group), registers only. */
NORETURN void arch_exit_thread(void);
/* The signal-return trampoline a handler returns into (sa_restorer), where
 * the kernel needs one from user space: sys_linux.h defines ARCH_SIGRETURN
 * then. */
void arch_sigreturn(void);

/* Numbers that are the same on every Linux CPU. */
enum {
	L_SIGABRT = 6,
	L_SIG_BLOCK = 0,
	L_SIG_UNBLOCK = 1,
	L_SIG_SETMASK = 2,
	L_SS_ONSTACK = 1,
	L_SS_DISABLE = 2,
	L_AT_FDCWD = -100,
	L_O_RDONLY = 0,
	L_O_WRONLY = 01,
	L_O_CREAT = 0100,
	L_O_TRUNC = 01000,
	L_O_CLOEXEC = 02000000,
	L_AT_PAGESZ = 6,
	L_CLOCK_MONOTONIC = 1,
	L_CLOCK_REALTIME = 0,
	L_RLIMIT_STACK = 3,
	L_PR_SET_NAME = 15,
	L_PR_SET_TIMERSLACK = 29,
};

struct l_timespec {
	int64_t sec, nsec;
};

struct l_stack { /* stack_t */
	void *sp;
	int flags;
	unsigned long size;
};

struct l_rlimit {
	uint64_t cur, max;
};

long l_open(const char *path);
long l_read(int fd, void *buf, unsigned long n);
void l_close(int fd);
/* The lowest address m0's growing stack [lo, hi) can reach (os_linux.c). */
uintptr_t mainstacklo(uintptr_t lo, uintptr_t hi, uintptr_t prevend, uint64_t lim);
/* The address of function name of that version in the vDSO, or nil
 * (vdso_linux.c). On m0, at osinit. */
void *vdsosym(const char *name, const char *version);
/* rseq_linux.c: glibc's rseq registration, read once (osinit); an rseq
 * registration of mrt's own on a pthread-model M, taken back as it ends. */
void rseqinit(void);
void rseqend(m *mp);
/* Names the calling thread after mp (one prctl; see os_linux.c). Called by
 * each thread model's minit. */
void setthreadname(m *mp);

#endif
