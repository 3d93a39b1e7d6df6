/*
 * allthreads_linux.c — the per-thread half of mrt_allthreadssyscall on Linux
 * (#14 item 4; Go's sigPerThreadSyscall and runPerThreadSyscall): the
 * signal whose handler makes the call on the thread it reaches, and the raw
 * system call itself. core/allthreads.c is the rest.
 *
 * Credentials, capabilities, a thread's name, its personality, seccomp and
 * no_new_privs are per thread in Linux. glibc spreads its own set*id calls
 * to every thread it made (its SIGSETXID, signal 33), but not prctl or
 * capset, and it does not know clone-model Ms at all. The only way to run
 * code on another thread is to interrupt it with a signal, so each M is
 * sent one (the caller's tgkill or pthread_kill, proc.c's msignal) and its
 * handler makes the call.
 *
 * The signal (mrt_config.allthreads_signal, OS_ALLTHREADSSIG by default:
 * 62). Not 32 or 33, glibc's, which it keeps for itself on m0 and every
 * pthread; not 63 or 64, which QEMU 7.2's user mode cannot deliver to a
 * guest and Valgrind keeps for itself: 62 is SIGRTMAX-2 of glibc, the
 * highest real-time signal that reaches a thread under both, and the end of
 * the range programs least often take (they count up from SIGRTMIN). Go
 * uses 33 because without cgo nothing else claims it; a C program always
 * has glibc.
 *
 * The handler is installed once, at the first call, and stays: a signal
 * still on its way to an M when a call ends (one that was asked, then gave
 * its request back as it exited) must find it, not SIG_DFL, which would
 * end the process. It is installed with the raw rt_sigaction, as the
 * SIGSEGV handler is (a clone-model caller cannot call libc); an action of
 * the program's own on that signal is not replaced (-EBUSY: configure
 * another). SA_ONSTACK: it runs on gsignal; SA_RESTART: a system call it
 * interrupts (a parked M's futex wait, an M blocked in read) goes on as if
 * nothing had happened. It does nothing on a thread that was not asked
 * (a stray send, or a request given back), which is all it needs to be
 * async-signal-safe: an M may be interrupted anywhere, mrt included, and
 * the handler touches only its request, its M's word and the caller's
 * futex.
 */
#include "sigaction_linux.h"
#include "san.h"

static mutex installmu;
static bool installed;

SAN_RAWHANDLER static void allthreadssig(int sig, void *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	allthreadsrun();
}

int osallthreadsinit(int sig)
{
	if (load_acquire(&installed))
		return 0;
	lock(&installmu);
	long r = 0;
	if (!installed) {
		struct l_sigaction act = { 0 }, old;
		sigaction_handler(&act, (void *)allthreadssig, L_SA_SIGINFO | L_SA_ONSTACK | L_SA_RESTART);
		r = sys4(__NR_rt_sigaction, sig, 0, &old, sizeof(os_sigset));
		if (r == 0 && old.handler != L_SIG_DFL && old.handler != L_SIG_IGN)
			r = -EBUSY; /* the program's own: left alone */
		if (r == 0)
			r = sys4(__NR_rt_sigaction, sig, &act, 0, sizeof(os_sigset));
		if (r == 0)
			store_release(&installed, true);
	}
	unlock(&installmu);
	return (int)r;
}

long osallthreadscall(const long a[7])
{
	return arch_syscall6(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
}
