/*
 * allthreads.c — one system call on every M (#14 item 4; Go's
 * syscall.AllThreadsSyscall, whose runtime half is doAllThreadsSyscall and
 * runPerThreadSyscall).
 *
 * Some state that programs think of as the process's is the thread's in
 * Linux: credentials above all (setresuid, setresgid, setgroups, capset),
 * and prctl's per-thread settings. A setuid() on m0 changes m0 alone; in
 * the clone model glibc, which spreads its own set*id calls to the threads
 * it made, knows nothing of the Ms, so they go on running as root — and so
 * does every M that one of them creates later. mrt_allthreadssyscall makes
 * the call on every M instead: m0, the Ms mrt created, attached ones, the
 * template thread.
 *
 * All or nothing, as Go. The call is made first on the calling thread; if
 * it fails there it goes nowhere else, and its error is returned. Then
 * every other M on allm is asked: its request word set, a signal sent
 * (platform: allthreads_linux.c), whose handler makes the same call on that
 * thread and compares the result with the caller's. The caller sleeps
 * until every M asked is done, then reports the first M whose result
 * differed (-ENOTRECOVERABLE, mrt_errmsg naming it): the Ms then differ,
 * and there is no undoing it (Go throws).
 *
 * No M may be born while it runs, or the new thread could be cloned from
 * one that had not made the call yet and escape it. Every creation holds
 * the births lock shared (proc.c's newm), from before its M is on allm
 * until its thread exists or its failure is undone; the call holds it
 * exclusively, so every M on allm has its thread (Go waits for procid),
 * and each is asked exactly once. An M created afterwards is cloned from
 * an M that made the call, or by the template thread: a thread that is not
 * an M took no part, so from the first call on its creations go to the
 * template thread (mnoclone, runtime.h), which this call starts.
 *
 * An M asked while it ends gives its request back (mexit: allthreadsleave)
 * rather than leave the caller waiting for a handler that may never run
 * (the pthread model blocks every signal at an M's end). What the call
 * cannot reach: threads that are not Ms (they are the program's), and an M
 * that keeps the signal blocked, which the call waits for until it lets it
 * through (Go requires the same; mrt's own code blocks it only in an M's
 * end, covered above).
 */
#include "runtime.h"
#include "san.h"

/* The call being spread: written before any M is asked, read by the
 * handlers (their cas of the request word orders it), and what it returned
 * on the caller. */
static long atsreq[7];
static long atswant;
/* The first M whose result differed, and that result (-1: none). */
static int64_t atsbadid = -1;
static long atsbadr;

/* On the thread the signal reached, in its handler: not instrumented
 * (san.h: SAN_RAWHANDLER). */
SAN_RAWHANDLER void allthreadsrun(void)
{
	m *mp = getm();
	if (mp == nil)
		return; /* not an M: not asked */
	uint32_t asked = ATS_ASKED;
	if (!__atomic_compare_exchange_n(&mp->allthreads, &asked, ATS_RUNNING, false,
	                                 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return; /* not asked, or the request is given back */
	long r = osallthreadscall(atsreq);
	if (r != atswant) {
		int64_t none = -1;
		if (__atomic_compare_exchange_n(&atsbadid, &none, mp->id, false, __ATOMIC_RELAXED,
		                                __ATOMIC_RELAXED))
			atsbadr = r;
	}
	store_release(&mp->allthreads, ATS_NONE);
	allthreadsdone1(); /* orders the above for the caller */
}

/* The error of a system call: what the kernel returns for one. */
static bool syserr(long r)
{
	return r < 0 && r > -4096;
}

MRT_API long mrt_allthreadssyscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (!load_acquire(&cfg.inited))
		return -EINVAL;
	mrt_tlsp_()->errmsg[0] = '\0';
	int sig = cfg.allthreadssig;
	int err = osallthreadsinit(sig);
	if (err == -EBUSY)
		seterrmsg("mrt: signal %d has a handler of the program's: mrt_allthreadssyscall needs "
		          "it (mrt_config.allthreads_signal names another)", sig);
	if (err == 0 && ((cfg.initsigmask >> (sig - 1)) & 1) != 0) {
		seterrmsg("mrt: the init mask blocks signal %d, which mrt_allthreadssyscall sends to "
		          "every M", sig);
		err = -EINVAL;
	}
	/* The template thread takes part in the call, and from now on makes
	 * the Ms of threads that are not Ms (see above). */
	if (err == 0)
		err = templatestart();
	if (err == 0)
		err = birthlock();
	if (err != 0)
		return err;

	long a[7] = { nr, a1, a2, a3, a4, a5, a6 };
	long r = osallthreadscall(a);
	if (syserr(r)) {
		birthunlock();
		return r; /* not spread: all or nothing */
	}
	TESTPOINT(TP_ALLTHREADS, nil);
	__builtin_memcpy(atsreq, a, sizeof a);
	atswant = r;
	atsbadid = -1;
	/* The caller's own share: no handler can bring the count to 0, and
	 * wake us, while Ms are still being asked. */
	store_release(&allthreadspending, 1);
	m *self = getm();
	walkbegin();
	for (m *mp = load_acquire(&allm); mp != nil; mp = load_acquire(&mp->alllink)) {
		if (mp == self)
			continue;
		__atomic_fetch_add(&allthreadspending, 1, __ATOMIC_RELAXED);
		/* Stored before msignal reads the status: see allthreadsleave. */
		__atomic_store_n(&mp->allthreads, ATS_ASKED, __ATOMIC_SEQ_CST);
		if (msignal(mp, sig) != 0) {
			/* Gone, or going (then it may have given it back itself). */
			uint32_t asked = ATS_ASKED;
			if (__atomic_compare_exchange_n(&mp->allthreads, &asked, ATS_NONE, false,
			                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				allthreadsdone1();
		}
	}
	if (__atomic_sub_fetch(&allthreadspending, 1, __ATOMIC_ACQ_REL) != 0) {
		for (uint32_t v; (v = load_acquire(&allthreadspending)) != 0;)
			futexsleep(&allthreadspending, v, -1);
	}
	walkend();
	int64_t bad = atsbadid;
	long badr = atsbadr;
	/* Before the births lock goes: a thread that is not an M and waited
	 * in newm sees it and hands off. */
	store_release(&allthreadsran, 1);
	birthunlock();
	if (bad >= 0) {
		seterrmsg("mrt: mrt_allthreadssyscall(%ld): M%lld returned %ld where the calling "
		          "thread had %ld: the Ms now differ",
		          nr, (long long)bad, badr, r);
		return -ENOTRECOVERABLE;
	}
	return r;
}
