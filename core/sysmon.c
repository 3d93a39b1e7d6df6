/*
 * sysmon.c — the monitor M (Go's sysmon and retake), and the hand-off of
 * the Ps it takes (Go's handoffp).
 *
 * The monitor is an M without a P, started by mrt_init when a hand-off
 * function is configured (proc.c: sysmonstart, as Go's main does
 * newm(sysmon, nil)). It looks at the Ms in blocking sections
 * (core/syscall.c) and takes the P of one that has stayed in the same
 * section for longer than the retake threshold (cfg.retakens), then gives
 * the P to the hand-off function, which decides where it goes.
 *
 * Which Ms it looks at. Go's retake walks allp, bounded by GOMAXPROCS;
 * mrt has no Ps to walk, and allm may hold thousands of parked Ms. So an M
 * joins the monitor's list the first time it enters a section
 * (sysmregister: a lock-free push, so that a signal handler may be that
 * first time) and leaves it when it ends (sysmexit, from mexit). The
 * monitor walks the list holding mon.lock, which keeps an M from leaving
 * it (and its m from being reused) under the walk; pushes need no lock.
 *
 * Time. An entry reads no clock. Like Go's sysmontick, the monitor notes
 * when it first sees a section (seentick, seenwhen in the M's slot) and
 * takes the P once retake_ns have passed since; the entry that wakes a
 * sleeping monitor does read the clock (it makes a system call anyway), so
 * that section is timed from its entry. A P is therefore never taken from
 * a section younger than the threshold, and Go's hard-coded 20 us tick
 * (golang/go#18236) is the threshold here: the monitor sleeps exactly
 * until the next section is due, and polls for new sections every
 * retake_ns / 2 (at least 1 us), doubling that after 50 rounds that took
 * nothing, up to 10 ms (Go's adaptive sleep). Its timed sleeps ask the OS
 * for no slack (ostimerslack): Linux's default 50 us would be longer than
 * the threshold.
 *
 * No wake-ups when idle. With no M in a section that holds a P, there is
 * nothing to take: the monitor sleeps on a note with no timeout (Go's
 * sysmon sleeps like this only when every P is idle; it polls while any P
 * runs). The next section's entry wakes it: the entry's CAS and its load
 * of sysmonwait, and the monitor's store of sysmonwait and its last look at
 * the slots, are sequentially consistent, so one of the two sees the
 * other; the first entry to see the monitor asleep clears sysmonwait (a
 * CAS) and wakes it, the others find it clear: one wake per sleep.
 */
#include "runtime.h"

uint32_t sysmonwait;

/* Ps one pass may take before it hands them off; more wait for the next
 * pass, which then comes at once. */
enum { NTAKE = 32 };
enum { mindelay = 1000, maxdelay = 10 * 1000 * 1000 }; /* ns */
enum { idlerounds = 50 }; /* Go's: "start doubling the sleep after 1ms" */

static struct {
	mutex lock;    /* the list's unlinks, and the monitor's walks */
	m *list;       /* Ms that have entered a section, via sys.link */
	note note;     /* the sleep without timeout */
	uint32_t tsleep; /* the timed sleeps' futex word: never changes */
	/* The entry that woke the monitor (sysmonkick): the M, its section's
	 * word, when. Written by that entry before notewakeup, read by the
	 * monitor after its notesleep. */
	m *wakem;
	uint64_t wakeword;
	int64_t wakets;
	int64_t nextstart; /* no start attempt before (after a failed one) */
	/* mrt_sysmonstats (atomics) */
	int64_t id;
	uint32_t sleeping;
	uint64_t nwakeups, ndeep, nentrywakes, nretakes, nhandofferrs;
} mon = { .id = -1 };

/* ------------------------------------------------------------------------
 * The list of Ms that use sections
 * ------------------------------------------------------------------------ */

/*
 * sysmregister puts mp on the monitor's list: its first section. The REG
 * bit first (a CAS: a handler on this M may be registering it too), then
 * a lock-free push, so that a handler may be the one to do it; until the
 * push the monitor does not see the M, which only delays a retake. The
 * push's release publishes the slot's initial state (zeroed by mclear).
 */
void sysmregister(m *mp)
{
	uint64_t w = load_relaxed(&mp->sys.word);
	do {
		if (w & SYS_REG)
			return;
	} while (!cas(&mp->sys.word, &w, w | SYS_REG));
	m *head = load_relaxed(&mon.list);
	do
		mp->sys.link = head;
	while (!__atomic_compare_exchange_n(&mon.list, &head, mp, false, __ATOMIC_RELEASE,
	                                    __ATOMIC_RELAXED));
}

/*
 * sysmexit is the end of an M, for its section and its place on the list
 * (mexit, on the M at its exit point). A function that returned inside a
 * section leaves it on: it ends here, and its P, unless the monitor took
 * it first, is dropped as an ending M's P always is. Then off the list,
 * under mon.lock, so that the monitor is never inside a walk that stands
 * on this m when it is reaped and reused. The head is unlinked by CAS
 * (pushes change it without the lock); the links behind it change only
 * under the lock.
 */
void sysmexit(m *mp)
{
	uint64_t w = load_relaxed(&mp->sys.word);
	while ((w & SYS_STATE) == SYS_IN && !cas(&mp->sys.word, &w, w - SYS_IN)) {
	}
	if ((w & SYS_STATE) == SYS_TAKEN)
		__atomic_store_n(&mp->sys.word, w - SYS_TAKEN, __ATOMIC_RELEASE);
	mp->p = nil;
	if (!(w & SYS_REG))
		return;
	lock(&mon.lock);
	for (;;) {
		m *head = load_acquire(&mon.list);
		if (head == mp) {
			if (__atomic_compare_exchange_n(&mon.list, &head, mp->sys.link, false,
			                                __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				break;
			continue; /* an M pushed itself before mp meanwhile */
		}
		m **pp = &head->sys.link;
		while (*pp != mp) {
			if (*pp == nil)
				fatal("sysmexit: M%lld not on the monitor's list", (long long)mp->id);
			pp = &(*pp)->sys.link;
		}
		store_release(pp, mp->sys.link);
		break;
	}
	unlock(&mon.lock);
}

/* ------------------------------------------------------------------------
 * Starting and waking the monitor
 * ------------------------------------------------------------------------ */

/*
 * sysmonclaim: is the caller the one to start the monitor (SYSMON_NEEDED
 * set, and no attempt failed in the last 10 ms)? Claiming sets
 * SYSMON_STARTING in place of SYSMON_NEEDED; sysmonstarted clears it.
 */
bool sysmonclaim(void)
{
	uint32_t v = load_relaxed(&sysmonwait);
	if (!(v & SYSMON_NEEDED) || nanotime() < load_relaxed(&mon.nextstart))
		return false;
	while (v & SYSMON_NEEDED)
		if (cas(&sysmonwait, &v, (v & ~(uint32_t)SYSMON_NEEDED) | SYSMON_STARTING))
			return true;
	return false;
}

/* The claimed start's outcome: the monitor M's id, or -errno (then the
 * next entry after 10 ms tries again). */
void sysmonstarted(int64_t id)
{
	if (id >= 0) {
		__atomic_store_n(&mon.id, id, __ATOMIC_RELEASE);
		__atomic_fetch_and(&sysmonwait, ~(uint32_t)SYSMON_STARTING, __ATOMIC_SEQ_CST);
		return;
	}
	store_relaxed(&mon.nextstart, nanotime() + 10 * 1000 * 1000);
	uint32_t v = load_relaxed(&sysmonwait);
	while (!cas(&sysmonwait, &v, (v & ~(uint32_t)SYSMON_STARTING) | SYSMON_NEEDED)) {
	}
}

/*
 * sysmonkick wakes the monitor from its sleep without timeout: mp has
 * just entered the section whose word is w. Exactly one entry per sleep
 * gets to clear SYSMON_DEEP; it leaves the time and the section for the
 * monitor (so that this section is timed from now), then wakes the note.
 */
void sysmonkick(m *mp, uint64_t w)
{
	uint32_t v = SYSMON_DEEP;
	if (!__atomic_compare_exchange_n(&sysmonwait, &v, 0, false, __ATOMIC_SEQ_CST,
	                                 __ATOMIC_RELAXED))
		return;
	mon.wakem = mp;
	mon.wakeword = w;
	mon.wakets = nanotime();
	notewakeup(&mon.note);
}

/* ------------------------------------------------------------------------
 * The monitor
 * ------------------------------------------------------------------------ */

/* What one pass over the list found. */
struct pass {
	void *ps[NTAKE]; /* Ps taken, to hand off */
	int n;
	int nin;         /* sections still holding a P after the pass */
	bool more;       /* Ps due that did not fit in ps */
	int64_t next;    /* when the next of them is due */
};

/*
 * retake takes the Ps of the sections that are due (Go's retake). For each
 * M of the list in SYS_IN: the first sight of a section starts its clock;
 * once retake_ns have passed, the P is read from oldp and the word CASed
 * from the one read to SYS_TAKEN. Why the P read is that section's: the
 * word was read with acquire from the entry's CAS, which oldp's store
 * precedes, so oldp is that store's or later; a later one is written only
 * after the M's exit CAS (sequenced before it, acquire), and that CAS must
 * then have failed on ours, had ours succeeded (it expects this section's
 * word, which changes at the exit and never comes back): a failed CAS
 * reads our release, so our read of oldp happened before the later store
 * and cannot have seen it. A failed CAS of ours: the section ended; the P
 * is the M's.
 */
static void retake(int64_t now, struct pass *r)
{
	r->n = 0;
	r->nin = 0;
	r->more = false;
	r->next = INT64_MAX;
	lock(&mon.lock);
	for (m *mp = load_acquire(&mon.list); mp != nil; mp = load_acquire(&mp->sys.link)) {
		/* Sequentially consistent: the other half of the Dekker pair
		 * with the entries (see deepsleep). */
		uint64_t w = __atomic_load_n(&mp->sys.word, __ATOMIC_SEQ_CST);
		if ((w & SYS_STATE) != SYS_IN)
			continue;
		uint64_t tick = w / SYS_TICK;
		if (mp->sys.seentick != tick) {
			mp->sys.seentick = tick;
			mp->sys.seenwhen = mp == mon.wakem && w == mon.wakeword ? mon.wakets : now;
		}
		int64_t due = mp->sys.seenwhen + cfg.retakens;
		if (due > now) {
			r->nin++;
			if (due < r->next)
				r->next = due;
			continue;
		}
		if (r->n == NTAKE) {
			r->more = true;
			r->nin++;
			continue;
		}
		void *p = __atomic_load_n(&mp->sys.oldp, __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&mp->sys.word, &w, w - SYS_IN + SYS_TAKEN, false,
		                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			r->ps[r->n++] = p;
	}
	unlock(&mon.lock);
}

/* Does any M hold a P in a section? (Under mon.lock, seq_cst: see deepsleep.) */
static bool anysection(void)
{
	bool any = false;
	lock(&mon.lock);
	for (m *mp = load_acquire(&mon.list); mp != nil && !any; mp = load_acquire(&mp->sys.link))
		any = (__atomic_load_n(&mp->sys.word, __ATOMIC_SEQ_CST) & SYS_STATE) == SYS_IN;
	unlock(&mon.lock);
	return any;
}

/*
 * deepsleep: no section holds a P, so the monitor sleeps with no timeout
 * until an entry wakes it. The store of SYSMON_DEEP, then one more look at
 * the slots: an entry whose CAS came before the store is seen here (and
 * the monitor does not sleep), one after it sees SYSMON_DEEP and wakes the
 * monitor. Calling off the sleep takes SYSMON_DEEP back by exchange: if an
 * entry took it first, its notewakeup is coming, and the note must see it
 * (a wakeup after the next noteclear would end a later sleep early).
 */
static void deepsleep(void)
{
	TESTPOINT(TP_SYSMONSLEEP, nil);
	noteclear(&mon.note);
	__atomic_store_n(&sysmonwait, SYSMON_DEEP, __ATOMIC_SEQ_CST);
	if (anysection()) {
		if (__atomic_exchange_n(&sysmonwait, 0, __ATOMIC_SEQ_CST) == 0)
			notesleep(&mon.note);
		return;
	}
	__atomic_fetch_add(&mon.ndeep, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&mon.sleeping, 1, __ATOMIC_RELEASE);
	notesleep(&mon.note);
	__atomic_store_n(&mon.sleeping, 0, __ATOMIC_RELEASE);
	__atomic_fetch_add(&mon.nwakeups, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&mon.nentrywakes, 1, __ATOMIC_RELAXED);
}

/*
 * sysmon is the monitor M's function (Go's sysmon, reduced to retaking):
 * a pass, the hand-offs of what it took (no lock held: the function may
 * make an M), then a sleep until the next section is due or the next poll
 * for new ones, whichever is first — or, with no section left, the sleep
 * without timeout. It never returns.
 */
void sysmon(void *arg)
{
	(void)arg;
	ostimerslack();
	int64_t delay0 = cfg.retakens / 2;
	if (delay0 < mindelay)
		delay0 = mindelay;
	if (delay0 > maxdelay)
		delay0 = maxdelay;
	int64_t delay = delay0;
	int idle = 0;
	struct pass r;
	for (;;) {
		retake(nanotime(), &r);
		for (int i = 0; i < r.n; i++) {
			__atomic_fetch_add(&mon.nretakes, 1, __ATOMIC_RELAXED);
			handoffp(r.ps[i]);
		}
		if (r.n > 0 || r.more) {
			idle = 0;
			delay = delay0;
			if (r.more)
				continue;
		} else if (++idle > idlerounds && delay < maxdelay) {
			delay = delay * 2 < maxdelay ? delay * 2 : maxdelay;
		}
		if (r.nin == 0) {
			deepsleep();
			idle = 0;
			delay = delay0;
			continue;
		}
		int64_t ns = delay, now = nanotime();
		if (r.next - now < ns)
			ns = r.next - now;
		if (ns <= 0)
			continue;
#ifdef MRT_TESTHOOKS
		if (load_relaxed(&testsysmonbusy)) {
			osyield();
			__atomic_fetch_add(&mon.nwakeups, 1, __ATOMIC_RELAXED);
			continue;
		}
#endif
		futexsleep(&mon.tsleep, 0, ns);
		__atomic_fetch_add(&mon.nwakeups, 1, __ATOMIC_RELAXED);
	}
}

/*
 * handoffp gives a P to the user's hand-off function (Go's handoffp, whose
 * decision — start an M, or put the P on the idle list — is the
 * function's). If it could not get an M, it is told the error and keeps
 * the P without one (mrt.h: mrt_handoff_fn): where Go throws, no P is lost.
 */
void handoffp(void *p)
{
	int err = cfg.handoff(p, 0);
	if (err < 0) {
		__atomic_fetch_add(&mon.nhandofferrs, 1, __ATOMIC_RELAXED);
		cfg.handoff(p, err);
	}
}

/* Is mp the monitor? For mrt_dump, which reads other Ms' words without a
 * lock: the id, not the function (startm writes that of other Ms). */
bool ismonitor(m *mp)
{
	int64_t id = __atomic_load_n(&mon.id, __ATOMIC_ACQUIRE);
	return id >= 0 && __atomic_load_n(&mp->id, __ATOMIC_RELAXED) == id;
}

MRT_API int mrt_sysmonstats(struct mrt_sysmonstats *out)
{
	if (badptr(out, struct mrt_sysmonstats))
		return -EINVAL;
	out->id = __atomic_load_n(&mon.id, __ATOMIC_ACQUIRE);
	out->wakeups = __atomic_load_n(&mon.nwakeups, __ATOMIC_RELAXED);
	out->deepsleeps = __atomic_load_n(&mon.ndeep, __ATOMIC_RELAXED);
	out->entrywakes = __atomic_load_n(&mon.nentrywakes, __ATOMIC_RELAXED);
	out->retakes = __atomic_load_n(&mon.nretakes, __ATOMIC_RELAXED);
	out->handofferrs = __atomic_load_n(&mon.nhandofferrs, __ATOMIC_RELAXED);
	out->sleeping = __atomic_load_n(&mon.sleeping, __ATOMIC_ACQUIRE);
	return 0;
}

/* ------------------------------------------------------------------------
 * fork (core/fork.c)
 * ------------------------------------------------------------------------ */

void sysmonforklock(void)
{
	lock(&mon.lock);
}

void sysmonforkunlock(void)
{
	unlock(&mon.lock);
}

/*
 * In the child, whose only thread is the forking one (me, or nil when it
 * is not an M): the monitor is gone with its thread, and of the Ms on the
 * list only me is alive. The list keeps me if it was there; the next
 * section starts a new monitor (SYSMON_NEEDED).
 */
void sysmonforkchild(m *me)
{
	mon.lock.key = 0;
	bool mine = false;
	for (m *mp = mon.list; mp != nil; mp = mp->sys.link)
		mine |= mp == me;
	mon.list = mine ? me : nil;
	if (mine)
		me->sys.link = nil;
	noteclear(&mon.note);
	mon.wakem = nil;
	mon.sleeping = 0;
	mon.id = -1;
	mon.nextstart = 0;
	sysmonwait = cfg.handoff != nil ? SYSMON_NEEDED : 0;
}
