/*
 * signal_darwin.c — mrt's fault handler for stack overflow detection
 * (MRT_F_STACKOVERFLOW), passing every other fault on to the action that was
 * installed before mrt_init; the Darwin side of platform/linux/signal_linux.c,
 * whose comment gives the rules of the chaining.
 *
 * Darwin reports a touch of a PROT_NONE guard page as SIGBUS as often as
 * SIGSEGV (Go handles both there), so both are caught. The handler runs on
 * the faulting M's gsignal (SA_ONSTACK): an overflowing stack has no room
 * left for a handler frame.
 */
#include "darwin.h"

#include <signal.h>
#include <string.h>

static const int faultsigs[2] = { SIGSEGV, SIGBUS };
static struct sigaction prev[2]; /* the actions mrt_init replaced */
static bool installed;

static int slot(int sig)
{
	return sig == SIGBUS ? 1 : 0;
}

/* Dies of sig as if no handler had been installed: the default action back,
 * and a fault re-executes, a sent signal is sent again. */
static void diewith(int sig, const siginfo_t *si)
{
	signal(sig, SIG_DFL);
	if (si->si_code <= 0)
		pthread_kill(pthread_self(), sig);
}

static void chain(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *p = &prev[slot(sig)];
	bool fault = si->si_code > 0;
	if (p->sa_handler == SIG_IGN && !fault)
		return;
	if (p->sa_handler == SIG_DFL || p->sa_handler == SIG_IGN) {
		diewith(sig, si);
		return;
	}
	struct sigaction act = *p;
	if (act.sa_flags & SA_RESETHAND) {
		p->sa_handler = SIG_DFL;
		p->sa_flags &= ~SA_SIGINFO;
	}
	pthread_sigmask(SIG_BLOCK, &act.sa_mask, nil);
	if (act.sa_flags & SA_NODEFER) {
		sigset_t self;
		sigemptyset(&self);
		sigaddset(&self, sig);
		pthread_sigmask(SIG_UNBLOCK, &self, nil);
	}
	if (act.sa_flags & SA_SIGINFO)
		act.sa_sigaction(sig, si, uc);
	else
		act.sa_handler(sig);
}

static void onfault(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code > 0)
		checkoverflow((uintptr_t)si->si_addr); /* does not return on an overflow */
	chain(sig, si, uc);
}

/* Installs the handler for both signals, keeping the actions it replaces.
 * At mrt_init, on m0. */
int sigsegvinit(void)
{
	struct sigaction act;
	memset(&act, 0, sizeof act);
	act.sa_sigaction = onfault;
	act.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigemptyset(&act.sa_mask);
	for (int i = 0; i < 2; i++) {
		if (sigaction(faultsigs[i], &act, &prev[i]) != 0) {
			int err = -errno;
			if (i == 1)
				sigaction(faultsigs[0], &prev[0], nil);
			return err;
		}
	}
	installed = true;
	return 0;
}

/* Puts the previous actions back (mrt_init failed after sigsegvinit). */
void sigsegvundo(void)
{
	if (installed)
		for (int i = 0; i < 2; i++)
			sigaction(faultsigs[i], &prev[i], nil);
	installed = false;
}
