/*
 * syscall.c — blocking sections (Go's entersyscall, exitsyscall,
 * exitsyscallfast and entersyscallblock): an M about to block in the
 * kernel puts its P where the monitor M (core/sysmon.c) can take it, and
 * takes it back afterwards, if it is still there, with one atomic
 * operation.
 *
 * The slot. Go marks the P (_Psyscall) and remembers it in m.oldp; retake
 * CASes the P's status to _Pidle, exitsyscallfast CASes it back to
 * _Prunning, and whoever wins owns the P. mrt's P is opaque, so the state
 * lives in the M (runtime.h, msys): one 64-bit word holding the state and
 * a tick that counts the M's sections (Go's syscalltick), and oldp beside
 * it. Every change of the word is one atomic operation, and only one
 * change belongs to another thread: the monitor's SYS_IN → SYS_TAKEN. So
 * entering is a CAS NONE → IN (after oldp is written: the CAS publishes
 * it), leaving is a CAS IN → NONE, and a failed leave means the monitor's
 * CAS came first and the P is the hand-off function's. The tick makes each
 * section's word unique, so that the monitor's CAS, which expects the word
 * it read when it decided, cannot take the P of a later section of the
 * same M (see retake in sysmon.c for why the oldp it read is then the
 * right one).
 *
 * Cost. The fast path reads no clock — the monitor times sections by
 * when it first sees them, as Go's sysmontick does — and makes no system
 * call: two atomic operations on the M's own slot, and one load of
 * sysmonwait, which the monitor writes only when it goes to sleep for
 * lack of sections and when it wakes. The entry's CAS and that load are
 * the two halves of a Dekker pair with the monitor's store of sysmonwait
 * and its look at the slots (sequentially consistent on both sides): either
 * the entering M sees the monitor asleep and wakes it, or the monitor sees
 * the section and does not sleep.
 *
 * Signals. A handler on the M may run a whole section of its own between
 * two of the interrupted code's steps: the entry's CAS expects the word it
 * read, so an entry interrupted by a handler's section retries, and one
 * interrupted inside the section itself is refused (-EALREADY: no
 * nesting).
 */
#include "runtime.h"

/*
 * entersyscallslow: the entry's cases off the fast path. The M's first
 * section registers it with the monitor (lock-free, so that a signal
 * handler may be the first), then enters like the fast path. Inside a
 * section already: -EALREADY. Returns the entry's result.
 */
static __attribute__((noinline)) int entersyscallslow(m *mp, uint64_t w)
{
	if ((w & SYS_STATE) != SYS_NONE)
		return -EALREADY;
	if (mp->p == nil)
		return -EINVAL;
	sysmregister(mp);
	return 1; /* retry the fast path */
}

/*
 * monitorwanted: the monitor sleeps for lack of sections, and this one can
 * be retaken: wake it (sysmonkick, once per sleep). Or there is no monitor
 * yet, though a hand-off is configured: mrt_init could not start it, or
 * this is a fork child, which has none of its parent's Ms; one entry
 * starts it, the others go on without waiting.
 */
static __attribute__((noinline)) void monitorwanted(m *mp, uint32_t mon, uint64_t state)
{
	if ((mon & SYSMON_NEEDED) && sysmonclaim())
		sysmonstart();
	if ((mon & SYSMON_DEEP) && state == SYS_IN)
		sysmonkick(mp, load_relaxed(&mp->sys.word));
}

/* The word a section's entry stores: the next tick, the state it begins in. */
static inline uint64_t nextsection(uint64_t w, uint64_t state)
{
	return (w & ~(uint64_t)SYS_STATE) + SYS_TICK + state;
}

/*
 * Enters a section in state (SYS_IN, or SYS_TAKEN for entersyscallblock,
 * whose P the caller hands off itself). Returns 0 and, for SYS_TAKEN, the
 * P in *pp; or the error.
 */
static inline int entersection(m *mp, uint64_t state, void **pp)
{
	uint64_t w = load_relaxed(&mp->sys.word);
	for (;;) {
		if (unlikely((w & (SYS_STATE | SYS_REG)) != SYS_REG)) {
			int r = entersyscallslow(mp, w);
			if (r <= 0)
				return r;
			w = load_relaxed(&mp->sys.word);
			continue;
		}
		void *p = mp->p;
		if (unlikely(p == nil))
			return -EINVAL;
		/* oldp first: the CAS publishes it to the monitor. */
		__atomic_store_n(&mp->sys.oldp, state == SYS_IN ? p : nil, __ATOMIC_RELAXED);
		/* Sequentially consistent: one half of the Dekker pair with the
		 * monitor's sleep (the load of sysmonwait below). A failure is a
		 * handler's section in between: w is the word it left. */
		if (__atomic_compare_exchange_n(&mp->sys.word, &w, nextsection(w, state), false,
		                                __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
			mp->p = nil;
			*pp = p;
			break;
		}
	}
	uint32_t mon = __atomic_load_n(&sysmonwait, __ATOMIC_SEQ_CST);
	if (unlikely(mon != 0))
		monitorwanted(mp, mon, state);
	return 0;
}

MRT_API int mrt_entersyscall(void)
{
	m *mp = getm();
	if (unlikely(mp == nil))
		return -EPERM;
	void *p = nil;
	return entersection(mp, SYS_IN, &p);
}

/*
 * mrt_exitsyscall is Go's exitsyscall with exitsyscallfast's one CAS: the
 * P is back if the word still says this section is SYS_IN. Otherwise the
 * monitor's CAS (or entersyscallblock) made it SYS_TAKEN, the P is gone,
 * and only this M writes the word from there on: a plain store ends the
 * section.
 */
MRT_API int mrt_exitsyscall(void)
{
	m *mp = getm();
	if (unlikely(mp == nil))
		return -EPERM;
	uint64_t w = load_relaxed(&mp->sys.word);
	for (;;) {
		switch (w & SYS_STATE) {
		case SYS_IN:
			/* Acquire on failure: the monitor's CAS released what it
			 * read (oldp), and this M writes oldp again in its next
			 * section (see retake in sysmon.c). */
			if (__atomic_compare_exchange_n(&mp->sys.word, &w, w - SYS_IN, false,
			                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				mp->p = __atomic_load_n(&mp->sys.oldp, __ATOMIC_RELAXED);
				return 0;
			}
			continue; /* w is the word now: taken, or a handler's doing */
		case SYS_TAKEN:
			__atomic_store_n(&mp->sys.oldp, nil, __ATOMIC_RELAXED);
			__atomic_store_n(&mp->sys.word, w - SYS_TAKEN, __ATOMIC_RELEASE);
			return 1;
		default:
			return -EINVAL;
		}
	}
}

/* Runs the hand-off of entersyscallblock on g0 (Go: systemstack). */
static void handoffblock(void *p)
{
	handoffp(p);
}

/*
 * mrt_entersyscallblock is Go's entersyscallblock: the section begins
 * SYS_TAKEN, so nothing can take the P from it, and this M hands the P off
 * itself, at once. The hand-off runs on g0, as Go's handoffp does on the
 * system stack: a user g's stack may be small, and the function may make
 * an M.
 */
MRT_API int mrt_entersyscallblock(void)
{
	m *mp = getm();
	if (unlikely(mp == nil))
		return -EPERM;
	if (cfg.handoff == nil)
		return -EINVAL;
	void *p = nil;
	int r = entersection(mp, SYS_TAKEN, &p);
	if (r != 0)
		return r;
	g *gp = getg();
	if (gp->kind == G_USER && !mp->onsystemstack)
		mrt_systemstack(handoffblock, p);
	else
		handoffp(p);
	return 0;
}
