/*
 * signal_linux.c — mrt's one signal handler: SIGSEGV, for stack overflow
 * detection (MRT_F_STACKOVERFLOW), and passing every other fault on to the
 * handler that was installed before mrt_init.
 *
 * Installed by mrt_init on m0 with raw rt_sigaction (the kernel's structure,
 * not libc's), SA_ONSTACK so that it runs on the faulting M's gsignal: an
 * overflowing stack has no room left for a handler frame. It runs on any
 * thread, clone-model Ms included, so it uses raw system calls only.
 *
 * Chaining follows what the kernel would have done with the previous action:
 *  - a handler: called as it was installed (sa_sigaction with siginfo and
 *    the ucontext for SA_SIGINFO, sa_handler(sig) otherwise), with its
 *    sa_mask blocked, SA_NODEFER and SA_RESETHAND honoured;
 *  - SIG_DFL: the action goes back to SIG_DFL and the process dies of the
 *    signal: a fault re-executes the faulting instruction, a SIGSEGV that
 *    was sent (kill, tgkill, sigqueue) is sent again, pending until this
 *    handler returns;
 *  - SIG_IGN: a sent SIGSEGV is ignored; a real fault cannot be (the kernel
 *    kills a process that ignores or blocks the signal of a synchronous
 *    fault), so it is treated as SIG_DFL. What cannot be reproduced is the
 *    kernel discarding an ignored signal unseen: with this handler in
 *    place, a sent SIGSEGV interrupts a system call that SA_RESTART does
 *    not restart (EINTR from poll, nanosleep, ...). Restarting it from
 *    here would take rewriting the interrupted context per CPU, and the
 *    kernel's sigreturn cancels the restart of the calls that have one
 *    (restart_syscall). mrt.h documents it.
 */
#include "linux.h"
#include "san.h"

#include <asm/signal.h> /* SA_RESTORER: whether the kernel's sigaction has sa_restorer */

enum {
	L_SIGSEGV = 11,
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

/* The part of siginfo read here: the same on every 64-bit Linux CPU. */
struct l_siginfo {
	int signo, errno_, code, pad;
	void *addr;
};

static struct l_sigaction prevsegv; /* the action mrt_init replaced */
static bool installed;

static void sigaction_raw(int sig, const struct l_sigaction *act, struct l_sigaction *old)
{
	sys4(__NR_rt_sigaction, sig, act, old, sizeof(os_sigset));
}

/* Dies of sig as if no handler had been installed (see the file comment). */
static void diewith(int sig, const struct l_siginfo *si)
{
	struct l_sigaction dfl = { 0 };
	sigaction_raw(sig, &dfl, nil);
	if (si->code <= 0) /* sent, not a fault: send it again */
		sys3(__NR_tgkill, sys0(__NR_getpid), sys0(__NR_gettid), sig);
	/* Return: the fault re-executes, or the pending signal is delivered
	 * as soon as the handler's mask is lifted, now with the default. */
}

static void chain(int sig, struct l_siginfo *si, void *uc)
{
	struct l_sigaction p = prevsegv;
	bool fault = si->code > 0;
	if (p.handler == L_SIG_IGN && !fault)
		return;
	if (p.handler == L_SIG_DFL || p.handler == L_SIG_IGN) {
		diewith(sig, si);
		return;
	}
	if (p.flags & L_SA_RESETHAND) {
		/* The kernel resets the action before the handler runs. */
		prevsegv.handler = L_SIG_DFL;
		prevsegv.flags &= ~(unsigned long)L_SA_SIGINFO;
	}
	/* The mask the previous handler was installed with. The original mask
	 * comes back when this handler returns (the kernel's sigreturn). */
	os_sigset block = p.mask;
	if (block != 0)
		sys4(__NR_rt_sigprocmask, L_SIG_BLOCK, &block, 0, sizeof block);
	if (p.flags & L_SA_NODEFER) {
		os_sigset self = 1ull << (sig - 1);
		sys4(__NR_rt_sigprocmask, L_SIG_UNBLOCK, &self, 0, sizeof self);
	}
	if (p.flags & L_SA_SIGINFO)
		((void (*)(int, void *, void *))p.handler)(sig, si, uc);
	else
		((void (*)(int))p.handler)(sig);
}

static void sigsegv(int sig, struct l_siginfo *si, void *uc)
{
	/* ASan: after an overflow of gsignal itself the kernel delivers this
	 * fault at gsignal's top again, where the overflowing handler's frames
	 * left their poisoned redzones; what runs below this frame (the
	 * report, a chained handler) would trip over them. Nothing below sp
	 * is live. */
	m *mp = getm();
	uintptr_t sp = arch_getsp();
	if (mp != nil && sp > mp->gsignal->stack.lo && sp <= mp->gsignal->stack.hi)
		san_unpoison(mp->gsignal->stack.lo, sp);
	/* A positive si_code is the kernel reporting a fault at si_addr; a
	 * SIGSEGV someone sent has no fault address to look at. */
	if (si->code > 0)
		checkoverflow((uintptr_t)si->addr); /* does not return on an overflow */
	chain(sig, si, uc);
}

/* Installs the handler, keeping the action it replaces for chaining. At
 * mrt_init, on m0. */
int sigsegvinit(void)
{
	struct l_sigaction act = { 0 }, old;
	act.handler = (void *)sigsegv;
	act.flags = L_SA_SIGINFO | L_SA_ONSTACK | L_SA_RESTART;
#if defined(SA_RESTORER) && defined(ARCH_SIGRETURN)
	act.flags |= L_SA_RESTORER;
	act.restorer = arch_sigreturn;
#endif
	/* Read the old action before installing the new one, so that a fault
	 * in between finds it; then keep what the install itself returned. */
	long r = sys4(__NR_rt_sigaction, L_SIGSEGV, 0, &prevsegv, sizeof(os_sigset));
	if (r == 0)
		r = sys4(__NR_rt_sigaction, L_SIGSEGV, &act, &old, sizeof(os_sigset));
	if (r < 0)
		return (int)r;
	prevsegv = old;
	installed = true;
	return 0;
}

/* Puts the previous action back (mrt_init failed after sigsegvinit). */
void sigsegvundo(void)
{
	if (installed)
		sigaction_raw(L_SIGSEGV, &prevsegv, nil);
	installed = false;
}
