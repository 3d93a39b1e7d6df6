/*
 * sigaction_linux.h — the kernel's sigaction, for the handlers mrt installs
 * with the raw rt_sigaction (signal_linux.c, allthreads_linux.c): apart
 * from linux.h because the kernel's <asm/signal.h> cannot share a file
 * with libc's <signal.h>, which the tests and the benchmark include.
 */
#ifndef MRT_SIGACTION_LINUX_H
#define MRT_SIGACTION_LINUX_H

#include "linux.h"

#include <asm/signal.h> /* SA_RESTORER: whether the kernel's sigaction has sa_restorer */

enum {
	L_SA_SIGINFO = 4,
	L_SA_ONSTACK = 0x08000000,
	L_SA_RESTART = 0x10000000,
	L_SA_NODEFER = 0x40000000,
	L_SA_RESETHAND = (int)0x80000000u,
	L_SA_RESTORER = 0x04000000,
};
#define L_SIG_DFL ((void *)0)
#define L_SIG_IGN ((void *)1)

/* The kernel's struct sigaction (not libc's, whose mask is 128 bytes). */
struct l_sigaction {
	void *handler;
	unsigned long flags;
#ifdef SA_RESTORER
	void (*restorer)(void);
#endif
	os_sigset mask;
};

/* act: handler with flags, and the restorer the kernel needs from user
 * space where it has none of its own (ARCH_SIGRETURN). */
static inline void sigaction_handler(struct l_sigaction *act, void *handler, unsigned long flags)
{
	act->handler = handler;
	act->flags = flags;
#if defined(SA_RESTORER) && defined(ARCH_SIGRETURN)
	act->flags |= L_SA_RESTORER;
	act->restorer = arch_sigreturn;
#endif
}

#endif
