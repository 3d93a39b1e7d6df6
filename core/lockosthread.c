/*
 * lockosthread.c — locked gs and tainted Ms (#14 items 2 and 3; Go's
 * LockOSThread, UnlockOSThread, and what Go 1.10 made of a locked
 * goroutine's end).
 *
 * Some thread state belongs to the OS thread, not to the code running on
 * it: CPU affinity, scheduling policy, credentials, namespaces (setns,
 * unshare), an unshared fs, thread-local data of a C library. A g that
 * changes it must keep running on that thread, and no other g may run there
 * and inherit it. mrt_lockosthread wires the calling user g to its M (Go's
 * g.lockedm and m.lockedg: here the g's m field and mp->lockedg), counted
 * (m.lockedExt): mrt_gogo then refuses to resume the g on any other M and
 * refuses the M any g but it and its g0 (g.c; the fast path pays no load
 * for it), and the M never parks, so mrt_startm never hands it work.
 *
 * The end of a locked g. It may have left the thread in a state no other g
 * should inherit, so the M ends with it (Go 1.10) instead of going back to
 * its function or the idle list: gexit0 (g.c) unwires the g, marks it dead
 * and calls lockedgexit, which ends the M; mrt_mexit and mrt_stopm from a
 * locked g end it at the exit point (mlockedexit, runtime.h). m0 cannot end
 * (it is the program's thread), nor can an attached foreign thread: such an
 * M is tainted instead and runs on.
 *
 * Tainted Ms. mrt_mtaint says the same of the thread itself, for code that
 * changes it on g0 or without wiring a g: the mark is for good, and a
 * tainted M never goes back to the idle list — mrt_stopm ends it instead
 * (an M's idle loop need not know). Neither kind clones a new M: newm hands
 * the creation to the template thread (template.c), which the first
 * mrt_lockosthread and the first mrt_mtaint start while the thread is still
 * clean: both are called before the thread changes, as Go's LockOSThread is.
 */
#include "runtime.h"

MRT_API int mrt_lockosthread(void)
{
	m *mp = getm();
	if (mp == nil || mp->onsystemstack)
		return -EPERM;
	g *gp = getg();
	if (gp->kind != G_USER)
		return -EPERM; /* g0 belongs to its M already: mrt_mtaint */
	if (mp->lockedext == UINT32_MAX)
		return -EOVERFLOW; /* Go: "LockOSThread nesting overflow" */
	if (mp->lockedext == 0) {
		/* The thread is as it was: start the template thread now, if it
		 * is the first time, from a thread it may be cloned from. */
		int err = templatestart();
		if (err != 0)
			return err;
	}
	mp->lockedext++;
	store_relaxed(&gp->m, mp);
	store_relaxed(&mp->lockedg, gp); /* walkers read it (mrt_dump) */
	mp->lockedgogo = 1;
	return 0;
}

MRT_API int mrt_unlockosthread(void)
{
	m *mp = getm();
	if (mp == nil || mp->onsystemstack)
		return -EPERM;
	g *gp = getg();
	if (gp->kind != G_USER)
		return -EPERM;
	if (mp->lockedg != gp)
		return 0; /* not locked: nothing to undo, as Go's UnlockOSThread */
	if (--mp->lockedext == 0) {
		mp->lockedgogo = 0;
		store_relaxed(&mp->lockedg, nil);
		store_relaxed(&gp->m, nil);
	}
	return 0;
}

MRT_API int mrt_mtaint(void)
{
	m *mp = getm();
	if (mp == nil)
		return -EPERM;
	int err = mp->tainted ? 0 : templatestart();
	store_relaxed(&mp->tainted, true); /* walkers read it (mrt_dump) */
	return err;
}

void lockedgexit(m *mp, g *gp)
{
	if (mp != &m0 && !mp->attached) {
		mp->mexitwhy = MT_WHY_LOCKED;
		mrt_mexit();
		fatal("lockedgexit: M%lld did not end after its locked g%lld", (long long)mp->id,
		      (long long)gp->goid);
	}
	store_relaxed(&mp->tainted, true);
}
