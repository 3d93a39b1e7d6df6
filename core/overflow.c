/*
 * overflow.c — recognising a stack overflow from a fault address
 * (MRT_F_STACKOVERFLOW).
 *
 * Every stack mrt allocates has a guard page just below its lowest usable
 * byte — the first page of its slot in a slab (slab.c), a guard region or
 * PROT_NONE — so running off the bottom of a g0, gsignal or user g stack
 * faults there. The platform's fault handler (on the M's gsignal stack)
 * hands the fault address to checkoverflow, which finds the stack whose guard
 * page holds it and dies naming the M, the g and the bounds; any other fault
 * is the platform's to pass on to whoever handled it before.
 *
 * The lookup runs in a signal handler that may have interrupted anything,
 * mrt's own locks held: it takes no lock and calls nothing but the output.
 * It reads the current M first (the usual case: a thread overflowing its own
 * stack), then m0, then every m and g ever allocated: m structs (with their
 * g0 and gsignal inside) and user gs come from type-stable pools whose chunks
 * are never unmapped (fixalloc_scan), so a slot that is free or being
 * recycled is still readable memory of the right type; such a slot has
 * status 0 or zeroed bounds and does not match. A g being freed at the very
 * moment of the fault could match with bounds that are a few instructions
 * stale: the fault was then in what was its guard page, which is still the
 * truth worth reporting.
 *
 * m0's g0 is the thread's own stack; its lowest byte is where the kernel
 * stops growing it (m0stack), and the fault of a runaway recursion lands just
 * below, so the same test applies.
 */
#include "runtime.h"
#include "fixalloc.h"

/* Whether addr lies in the page below gp's stack. */
static bool inguard(const g *gp, uintptr_t addr)
{
	uintptr_t lo = __atomic_load_n(&gp->stack.lo, __ATOMIC_RELAXED);
	return lo > pagesize && addr < lo && addr >= lo - pagesize;
}

static void *scanm(void *obj, void *arg)
{
	m *mp = obj;
	uintptr_t addr = *(uintptr_t *)arg;
	if (__atomic_load_n(&mp->status, __ATOMIC_ACQUIRE) == 0)
		return nil; /* in the pool */
	if (inguard(&mp->g0_, addr))
		return &mp->g0_;
	if (inguard(&mp->gsignal_, addr))
		return &mp->gsignal_;
	return nil;
}

static void *scang(void *obj, void *arg)
{
	g *gp = obj;
	uintptr_t addr = *(uintptr_t *)arg;
	if (__atomic_load_n(&gp->status, __ATOMIC_ACQUIRE) == 0 || gp->kind != G_USER)
		return nil; /* in the pool */
	return inguard(gp, addr) ? gp : nil;
}

/* The g whose guard page holds addr, or nil. Lock-free. */
static g *guardowner(uintptr_t addr)
{
	m *mp = getm();
	if (mp != nil) {
		g *cur = __atomic_load_n(&mp->curg, __ATOMIC_RELAXED);
		if (cur != nil && inguard(cur, addr))
			return cur;
		if (inguard(mp->g0, addr))
			return mp->g0;
		if (inguard(mp->gsignal, addr))
			return mp->gsignal;
	}
	if (inguard(m0.g0, addr))
		return m0.g0;
	if (inguard(m0.gsignal, addr))
		return m0.gsignal;
	g *gp = fixalloc_scan(&mpool, scanm, &addr);
	if (gp == nil)
		gp = fixalloc_scan(&gpool, scang, &addr);
	return gp;
}

/*
 * checkoverflow returns if addr is not in the guard page of an mrt stack;
 * otherwise it reports the overflow and aborts the process. Called by the
 * platform's fault handler, on the faulting thread's signal stack.
 */
void checkoverflow(uintptr_t addr)
{
	g *gp = guardowner(addr);
	if (gp == nil)
		return;
	/* The M the stack belongs to: g0's and gsignal's owner; for a user g,
	 * the M running it (the faulting thread's, normally), or none if it
	 * is suspended (a g records no M: any M may resume it). */
	m *mp = gp->kind == G_USER ? nil : gp->m;
	if (gp->kind == G_USER && getm() != nil &&
	    __atomic_load_n(&getm()->curg, __ATOMIC_RELAXED) == gp)
		mp = getm();
	char on[32], gname[32];
	if (mp != nil)
		mrt_snprintf(on, sizeof on, "M%lld", (long long)mp->id);
	else
		mrt_snprintf(on, sizeof on, "no M"); /* a suspended user g */
	if (gp->kind == G_USER)
		mrt_snprintf(gname, sizeof gname, "g%lld", (long long)gp->goid);
	else
		mrt_snprintf(gname, sizeof gname, "%s", gp->kind == G_G0 ? "g0" : "gsignal");
	printfd(2, "mrt: fatal: stack overflow on %s (%s, stack [%p, %p))\n", on, gname,
	        (void *)gp->stack.lo, (void *)gp->stack.hi);
	printfd(2, "mrt: fault at %p in the guard page, tid %d\n", (void *)addr, (int)osgettid());
	osabort();
}
