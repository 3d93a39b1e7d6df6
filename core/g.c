/*
 * g.c — gs and the switches between them (Go's malg, gogo, mcall,
 * systemstack, goexit), on top of the arch's context switch.
 *
 * Who may resume a g: whoever takes its saved context. A suspended g's ctx
 * is non-nil; the switching M takes it (leaving nil), and the arch's
 * ctx_switch publishes ctx (with release order) only after the saved frame
 * is complete. The bookkeeping of a switch — the TLS g,
 * m->curg, statuses — is done by the switching side before the jump, as Go's
 * gogo sets g before it jumps: a resumed g finds it all in place, on
 * whichever M resumed it.
 */
#include "runtime.h"
#include "fixalloc.h"
#include "san.h"

fixalloc gpool = FIXALLOC_INIT(g);
static int64_t goidgen;

/* malg allocates a g with its own stack (Go's malg). */
int malg(g **gpp, size_t stacksize, int kind)
{
	g *gp = fixalloc_alloc(&gpool);
	if (gp == nil)
		return -ENOMEM;
	__builtin_memset(gp, 0, sizeof *gp);
	int r = stackalloc(&gp->stackmem, stacksize);
	if (r < 0) {
		fixalloc_free(&gpool, gp);
		return r;
	}
	gp->stackmem.vgid = san_stackregister(gp->stackmem.lo, gp->stackmem.hi);
	gp->stack = gp->stackmem;
	gp->ownstack = true;
	gp->kind = (uint8_t)kind;
	gp->status = _Gidle;
	gp->goid = __atomic_add_fetch(&goidgen, 1, __ATOMIC_RELAXED);
	*gpp = gp;
	return 0;
}

void gfree(g *gp)
{
	/* A g freed while runnable (started, never run, or suspended) keeps
	 * its saved context: cleared first, so that mrt_gogo's fast path,
	 * which takes any g with a context, refuses a freed one. */
	store_relaxed(&gp->ctx, nil);
	san_freefiber(gp);
	stackfree(&gp->stackmem);
	gp->stack.lo = gp->stack.hi = 0;
	__atomic_store_n(&gp->status, 0, __ATOMIC_RELEASE);
	fixalloc_free(&gpool, gp);
}

/*
 * gexit0 runs on g0 for a g whose function returned (Go's goexit0, which
 * goexit1 reaches through mcall): only here, with the M off the g's stack
 * for good, is the g marked dead. From that store on any thread may free
 * the g (its stack unmapped or handed to another g) or start it afresh
 * (ctx_make writes at the top of its stack), so nothing may run on that
 * stack after it — not the return address a call to ctx_jump pushes, nor
 * the sanitizer hooks of the switch. When it returns, g0 resumes where it
 * switched to the g. ASan sees it as mcall0 (see there).
 */
static void gexit0(void *arg)
{
	g *gp = arg;
	g *g0 = getg();
	san_enter(g0);
	__atomic_store_n(&gp->status, _Gdead, __ATOMIC_RELEASE);
	san_leave(g0, false, g0);
}

/*
 * gentry is the first frame of every user g. When the g's function returns,
 * the M goes back to its g0 (Go's goexit → goexit1 → mcall(goexit0)), which
 * resumes where it last switched away; gexit0 marks the g dead on the way.
 * The g may have moved to another M while it ran, so the M is read again
 * here, not remembered.
 */
static void gentry(void *arg)
{
	g *gp = arg;
	san_enter(gp);
	mrt_fn fn = gp->fn;
	void *fnarg = gp->arg;
	gp->fn = nil;
	fn(fnarg);

	m *mp = getm();
	g *g0 = mp->g0;
	/* g0's context is only ever taken by its own M: no atomic needed. */
	void *c = g0->ctx;
	g0->ctx = nil;
	if (c == nil)
		fatal("goexit: g%lld ended but g0 is not suspended", (long long)gp->goid);
	__atomic_store_n(&mp->curg, g0, __ATOMIC_RELAXED);
	setg(g0);
	TESTPOINT(TP_GEXIT, gp);
	san_leave(gp, true, g0);
	/* The g's last context goes to a slot no one resumes, never to
	 * gp->ctx: a saved context there would make the g runnable. */
	ctx_switch_call(&mp->gexitctx, c, gexit0, gp);
	/* Not reached: nothing resumes gexitctx. */
}

void ctx_entry_returned(void)
{
	throw("a context's entry function returned");
}

MRT_API int mrt_malg(mrt_g **gpp, size_t stacksize)
{
	if (!load_acquire(&cfg.inited) || badptr(gpp, g *) || stacksize == 0 || stacksize > maxstack)
		return -EINVAL;
	if (stacksize < minstack)
		stacksize = minstack;
	return malg(gpp, stacksize, G_USER);
}

MRT_API int mrt_gostart(mrt_g *gp, mrt_fn fn, void *arg)
{
	if (badptr(gp, g) || fn == nil || gp->kind != G_USER)
		return -EINVAL;
	uint32_t st = __atomic_load_n(&gp->status, __ATOMIC_ACQUIRE);
	if (st != _Gidle && st != _Gdead)
		return -EINVAL;
	gp->fn = fn;
	gp->arg = arg;
	san_newfiber(gp);
	void *c = ctx_make((void *)gp->stack.hi, gentry, gp);
	__atomic_store_n(&gp->status, _Grunnable, __ATOMIC_RELAXED);
	store_release(&gp->ctx, c);
	return 0;
}

/* The status a g reports: a started g is running exactly while no saved
 * context of it exists. */
static int gstatus(const g *gp)
{
	uint32_t st = __atomic_load_n(&gp->status, __ATOMIC_ACQUIRE);
	if (st == _Grunnable && gp->kind == G_USER && load_acquire(&gp->ctx) == nil)
		return _Grunning;
	if (gp->kind != G_USER)
		return _Grunning;
	return (int)st;
}

/* Why mrt_gogo cannot switch to `to`: the slow path of the checks. */
static __attribute__((noinline)) int gogoerr(m *mp, g *to)
{
	if (mp == nil || mp->onsystemstack)
		return -EPERM;
	if (badptr(to, g) || to->kind == G_SIGNAL || (to->kind == G_G0 && to->m != mp))
		return -EINVAL;
	int st = gstatus(to);
	if (st == _Gidle || st == _Gdead || st == 0)
		return -EINVAL;
	return -EBUSY; /* running, on this M (the caller itself) or another */
}

MRT_API int mrt_gogo(mrt_g *to)
{
	m *mp = getm();
	/* The fast path tests only what a saved context does not rule out: a
	 * g that is idle, dead, running (the caller itself included) or a
	 * gsignal has no saved context, so ctx == nil sends every such case
	 * to gogoerr. Inside mrt_systemstack getg() is g0 while curg stays
	 * the g that called it, and everywhere else on an M they are the
	 * same g (every switch stores both): so getg() != curg stands for
	 * mp->onsystemstack here, a compare of a line the switch writes
	 * anyway instead of a load, a test and a branch (#15 item 5: 100
	 * instructions per round trip instead of 102). The context is loaded
	 * before mp is tested: it heads the switch's critical path. */
	void *c = likely(!badptr(to, g)) ? load_acquire(&to->ctx) : nil;
	g *self = getg();
	if (unlikely(c == nil || mp == nil || self != mp->curg || (to->kind == G_G0 && to->m != mp)))
		return gogoerr(mp, to);
	/* Take the saved context: from here the g is ours and running. This is
	 * a load and a store, not an atomic exchange (which would cost a third
	 * of the switch): like Go's gogo, it relies on the caller owning the g
	 * it resumes, as a scheduler owns what it took off a run queue. A g
	 * that is running is refused; two Ms racing to resume the same
	 * suspended g are the caller's bug, not arbitrated here. */
	store_relaxed(&to->ctx, nil);
	san_acquire(&to->ctx); /* published by the assembly of its last switch */
	/* Release: a lock-free walker (mrt_forallm, mrt_dump) that loads curg
	 * with acquire and finds to reads to's goid, written by malg with a
	 * plain store, after that store (a relaxed curg let a walker on
	 * another CPU read the g before its goid: TSan's data race, found by
	 * test_extram's churn, #14 item 1). A plain mov on amd64. */
	__atomic_store_n(&mp->curg, to, __ATOMIC_RELEASE);
	setg(to);
	san_release(&self->ctx);
	san_leave(self, false, to);
	/* Resumed, perhaps on another M, by a switch that did our
	 * bookkeeping. A tail call: nothing of ours runs after it — except
	 * under ASan, which must hear of the resume (san.h). */
#if MRT_ASAN
	int r = ctx_switch(&self->ctx, c);
	san_enter(self);
	return r;
#else
	return ctx_switch(&self->ctx, c);
#endif
}

/* mcall0 runs on g0 on top of its suspended context. The request travels in
 * the M, not on the g's stack: once fn makes the g runnable, another M may
 * resume it and its stack changes under us. */
static void mcall0(void *arg)
{
	m *mp = arg;
	/* ASan: g0 runs from here, and when fn returns it "switches" to its
	 * own suspended context (same stack), whose resume point finishes. */
	san_enter(mp->g0);
	void (*fn)(mrt_g *, void *) = mp->mcallfn;
	void *fnarg = mp->mcallarg;
	g *gp = mp->mcallg;
	mp->mcallfn = nil;
	mp->mcallg = nil;
	fn(gp, fnarg);
	san_leave(mp->g0, false, mp->g0);
}

MRT_API int mrt_mcall(void (*fn)(mrt_g *g, void *arg), void *arg)
{
	m *mp = getm();
	if (mp == nil || mp->onsystemstack)
		return -EPERM;
	g *gp = getg();
	if (gp->kind != G_USER)
		return -EPERM; /* Go: "mcall called on m->g0 stack" */
	if (fn == nil)
		return -EINVAL;
	g *g0 = mp->g0;
	void *c = g0->ctx; /* only this M takes g0's context */
	g0->ctx = nil;
	if (c == nil)
		fatal("mcall: g0 is not suspended");
	mp->mcallfn = fn;
	mp->mcallarg = arg;
	mp->mcallg = gp;
	__atomic_store_n(&mp->curg, g0, __ATOMIC_RELAXED);
	setg(g0);
	san_release(&gp->ctx);
	san_leave(gp, false, g0);
	ctx_switch_call(&gp->ctx, c, mcall0, mp);
	san_enter(gp);
	return 0;
}

#if MRT_ASAN
/* ASan only: systemstack's fn runs on g0's stack, so ASan is told about
 * the stack going there and back, as for any switch. (TSan needs nothing:
 * to it systemstack is a call that returns.) */
struct sysreq {
	mrt_fn fn;
	void *arg;
	g *g0, *gp;
};

static void systemstack0(void *arg)
{
	struct sysreq *r = arg;
	san_enter(r->g0);
	r->fn(r->arg);
	san_leave(r->g0, false, r->gp);
}
#endif

/*
 * systemstack runs fn on g0 just below g0's suspended context: the frames
 * above it (the scheduler loop that switched to this g, say) are live and
 * are not touched. fn must not switch gs: that would save g0's context over
 * the one it is running beneath.
 */
MRT_API int mrt_systemstack(mrt_fn fn, void *arg)
{
	m *mp = getm();
	if (mp == nil)
		return -EPERM;
	if (fn == nil)
		return -EINVAL;
	g *gp = getg();
	if (gp == mp->g0 || gp == mp->gsignal || mp->onsystemstack) {
		fn(arg);
		return 0;
	}
	void *c = load_acquire(&mp->g0->ctx);
	if (c == nil)
		fatal("systemstack: g0 is not suspended");
	mp->onsystemstack = 1;
	setg(mp->g0);
#if MRT_ASAN
	struct sysreq r = { fn, arg, mp->g0, gp };
	san_leave(gp, false, mp->g0);
	ctx_call_on((void *)round_down((uintptr_t)c, 16), systemstack0, &r);
	san_enter(gp);
#else
	ctx_call_on((void *)round_down((uintptr_t)c, 16), fn, arg);
#endif
	setg(gp);
	mp->onsystemstack = 0;
	return 0;
}

MRT_API int mrt_gfree(mrt_g *gp)
{
	if (badptr(gp, g) || gp->kind != G_USER)
		return -EINVAL;
	int st = gstatus(gp);
	if (st == 0)
		return -EINVAL; /* already freed */
	if (st == _Grunning)
		return -EBUSY;
	gfree(gp);
	return 0;
}

MRT_API mrt_g *mrt_getg0(void)
{
	m *mp = getm();
	return mp != nil ? mp->g0 : nil;
}

MRT_API int mrt_gstack(const mrt_g *gp, uintptr_t *lo, uintptr_t *hi)
{
	if (badptr(gp, g) || badptr(lo, uintptr_t) || badptr(hi, uintptr_t))
		return -EINVAL;
	*lo = gp->stack.lo;
	*hi = gp->stack.hi;
	return 0;
}

MRT_API int64_t mrt_gid(const mrt_g *gp)
{
	return !badptr(gp, g) ? gp->goid : -EINVAL;
}

MRT_API int mrt_gstatus(const mrt_g *gp)
{
	return !badptr(gp, g) ? gstatus(gp) : -EINVAL;
}

MRT_API void *mrt_guser(const mrt_g *gp)
{
	return !badptr(gp, g) ? gp->user : nil;
}

MRT_API void mrt_gsetuser(mrt_g *gp, void *v)
{
	if (!badptr(gp, g))
		gp->user = v;
}
