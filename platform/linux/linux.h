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

#define sys0(n) arch_syscall0(n)
#define sys1(n, a) arch_syscall1(n, (long)(a))
#define sys2(n, a, b) arch_syscall2(n, (long)(a), (long)(b))
#define sys3(n, a, b, c) arch_syscall3(n, (long)(a), (long)(b), (long)(c))
#define sys4(n, a, b, c, d) arch_syscall4(n, (long)(a), (long)(b), (long)(c), (long)(d))
#define sys5(n, a, b, c, d, e)                                                           \
	arch_syscall5(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))
#define sys6(n, a, b, c, d, e, f)                                                        \
	arch_syscall6(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* Numbers that are the same on every Linux CPU. */
enum {
	L_SIGABRT = 6,
	L_SIG_BLOCK = 0,
	L_SIG_UNBLOCK = 1,
	L_SIG_SETMASK = 2,
	L_SS_DISABLE = 2,
	L_AT_FDCWD = -100,
	L_O_RDONLY = 0,
	L_O_CLOEXEC = 02000000,
	L_AT_PAGESZ = 6,
	L_CLOCK_MONOTONIC = 1,
	L_CLOCK_REALTIME = 0,
	L_RLIMIT_STACK = 3,
	L_PR_SET_NAME = 15,
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
/* Names the calling thread after mp (one prctl; see os_linux.c). Called by
 * each thread model's minit. */
void setthreadname(m *mp);

#endif
