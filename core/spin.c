/*
 * spin.c — Ms that spin in mrt_stopm before they sleep (Go's spinning Ms
 * and wakep, at the level mrt owns: the M's park).
 *
 * A parked M sleeps on its note, and mrt_startm's notewakeup costs a futex
 * wake and the sleeper's trip back through the kernel's scheduler: the
 * warm hand-off is a futex ping-pong's cost (bench/RESULTS.md). Go keeps
 * that cost off its hot paths with spinning Ms: an M out of work looks for
 * more for a while before it parks, and wakep prefers one that is still
 * looking. Here an M that mrt_stopm parks first polls for a hand-off for up
 * to cfg.spinns (spin_ns in mrt_config), on sched.mspin, counted in nmidle
 * like any parked M; startm takes a spinner before a sleeper (mspinget)
 * and hands it the work with a store (mspinwake): no system call on
 * either side.
 *
 * Bounds. At most cfg.maxspinning Ms spin at once (Go allows half the
 * busy Ps; the default is half the CPUs), none with one CPU, and none by
 * default (spin_ns 0): spinning burns a CPU that other threads may want.
 * Between polls the CPU's pause hint (arch_procyield) lets a sibling
 * hyperthread run; every few dozen polls the spinner reads the clock, and
 * gives up at its deadline or when the clock jumped by far more than the
 * polls take — the kernel ran something else on this CPU meanwhile, so the
 * machine is loaded and the CPU is better given back (Go's spinning Ms
 * give up in the same spirit: they look once, then park).
 */
#include "runtime.h"

enum {
	spinpolls = 64,         /* polls between looks at the clock */
	spinlost = 100 * 1000,  /* ns: a gap this long between looks is load */
};

/*
 * spinwait polls mp->spinwake until startm stores it (true), spinns pass
 * or the CPU is found taken away (false).
 */
static bool spinwait(m *mp, int64_t spinns)
{
	int64_t last = nanotime(), deadline = last + spinns;
	for (uint32_t i = 1;; i++) {
		if (load_acquire(&mp->spinwake) != 0)
			return true;
		arch_procyield(1);
		if (i % spinpolls != 0)
			continue;
		int64_t now = nanotime();
#ifdef MRT_TESTHOOKS
		if (load_relaxed(&testspinloaded))
			return false;
		if (load_relaxed(&testspinforever))
			continue;
#endif
		if (now >= deadline || now - last > spinlost)
			return false;
		last = now;
	}
}

/*
 * mspin is mpark's first step: spin on sched.mspin if spinning is on and
 * fewer than cfg.maxspinning Ms spin. Returns true when startm handed mp
 * work meanwhile (the work is in mp, as a woken M finds it), false when
 * mp should sleep as it would have without spinning. On g0 at the exit
 * point. Giving up takes mp off sched.mspin under sched.lock, unless a
 * startm took it off first: then that startm's store is on its way, and
 * mp waits for it (a few instructions of startm, outside any lock).
 */
bool mspin(m *mp)
{
	/* Read once, and atomically: a test or the benchmark turns spinning
	 * on and off between runs while Ms park, and this spin keeps the
	 * deadline it started with. Acquire pairs with that release store, so
	 * the maxspinning it set before is seen with it. */
	int64_t spinns = load_acquire(&cfg.spinns);
	if (spinns <= 0 || ncpu < 2)
		return false;
	lock(&sched.lock);
	if (sched.nmspinning >= cfg.maxspinning) {
		unlock(&sched.lock);
		return false;
	}
	store_relaxed(&mp->spinwake, 0);
	__atomic_store_n(&mp->status, MRT_M_IDLE, __ATOMIC_RELEASE);
	mp->p = nil;
	mp->spinning = 1;
	mp->schedlink = sched.mspin;
	sched.mspin = mp;
	sched.nmspinning++;
	sched.nmidle++;
	unlock(&sched.lock);
	MTRACE(MT_PARKED, mp, 1);

	if (spinwait(mp, spinns))
		return true;
	lock(&sched.lock);
	if (mp->spinning) {
		for (m **pp = &sched.mspin;; pp = &(*pp)->schedlink) {
			if (*pp == nil)
				fatal("mspin: M%lld spinning but not on mspin", (long long)mp->id);
			if (*pp == mp) {
				*pp = mp->schedlink;
				break;
			}
		}
		mp->spinning = 0;
		sched.nmspinning--;
		sched.nmidle--;
		unlock(&sched.lock);
		return false;
	}
	unlock(&sched.lock);
	while (load_acquire(&mp->spinwake) == 0)
		arch_procyield(1);
	return true;
}

/* A spinning M for startm, taken off sched.mspin, or nil. sched.lock held. */
m *mspinget(void)
{
	m *mp = sched.mspin;
	if (mp == nil)
		return nil;
	sched.mspin = mp->schedlink;
	mp->spinning = 0;
	sched.nmspinning--;
	sched.nmidle--;
	return mp;
}

/* startm's hand-over to a spinner: the release store publishes the work
 * (mstartfn, mstartarg, nextp) as notewakeup's exchange does. */
void mspinwake(m *mp)
{
	__atomic_fetch_add(&sched.nspinhandoffs, 1, __ATOMIC_RELAXED);
	store_release(&mp->spinwake, 1);
}
