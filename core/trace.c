/*
 * trace.c — what mrt tells a person debugging it: MRTDEBUG's M event trace
 * (mtrace) and periodic summary (schedtrace, Go's GODEBUG=schedtrace), and
 * the table of all Ms (mrt_dump). It reads mrt's state and never changes
 * it: the monitor M that prints schedtrace is started by mrt_init.
 *
 * All of it runs on clone-model Ms and uses no libc: output is mrt's own
 * formatter over raw write(2), one write per line so that lines from
 * different Ms never interleave. When MRTDEBUG is unset, the M path pays one
 * load and one never-taken branch per event (the MTRACE macro); the printing
 * lives here, out of line.
 */
#include "runtime.h"

struct debugvars debug;

static const char *const mtracenames[] = {
	[MT_CREATED] = "created", [MT_STARTED] = "started", [MT_PARKED] = "parked",
	[MT_WOKEN] = "woken",     [MT_EXITING] = "exiting", [MT_REAPED] = "reaped",
	[MT_FAILED] = "failed",   [MT_ATTACHED] = "attached", [MT_DROPPED] = "dropped",
};

/* The first word of mrt_strerror's name ("EAGAIN"), into buf. */
static const char *errname(int err, char *buf, size_t n)
{
	const char *s = mrt_strerror(err);
	size_t i = 0;
	while (s[i] != '\0' && s[i] != ' ' && i + 1 < n) {
		buf[i] = s[i];
		i++;
	}
	buf[i] = '\0';
	if (i == 0 || s[0] == 'u') /* "unknown error" */
		mrt_snprintf(buf, n, "%d", err < 0 ? -err : err);
	return buf;
}

/* "t=<seconds since mrt_init>.<microseconds>" */
static void fmttime(char *buf, size_t n)
{
	int64_t t = nanotime() - cfg.t0;
	if (t < 0)
		t = 0;
	mrt_snprintf(buf, n, "t=%lld.%06lld", (long long)(t / 1000000000),
	             (long long)(t % 1000000000 / 1000));
}

/*
 * mtrace prints one M event (MRTDEBUG=mtrace=1). mp is nil when a creation
 * failed before the M had an id. err is the error of MT_FAILED, and for
 * MT_EXITING why the M ends when its function did not end it (MT_WHY_*).
 */
void mtrace(int ev, m *mp, int err)
{
	char t[32], tid[16], extra[256], en[24];
	fmttime(t, sizeof t);
	extra[0] = '\0';
	m *self = getm();
	switch (ev) {
	case MT_CREATED:
	case MT_REAPED:
		if (self != nil)
			mrt_snprintf(extra, sizeof extra, " by=M%lld", (long long)self->id);
		else
			mrt_snprintf(extra, sizeof extra, " by=tid%d", (int)osgettid());
		break;
	case MT_FAILED:
		/* On the creator, mrt_errmsg() says why (the limit, clone's errno);
		 * on the M itself (minit failed) there is nothing more to say. */
		mrt_snprintf(extra, sizeof extra, " err=%s%s%s%s", errname(err, en, sizeof en),
		             self != mp && mrt_tls.errmsg[0] != '\0' ? " why=\"" : "",
		             self != mp ? mrt_tls.errmsg : "",
		             self != mp && mrt_tls.errmsg[0] != '\0' ? "\"" : "");
		break;
	case MT_EXITING:
	case MT_DROPPED:
		if (err != 0)
			mrt_snprintf(extra, sizeof extra, " why=%s",
			             err == MT_WHY_THREAD ? "thread-ended" : "idle");
		break;
	case MT_PARKED:
		if (err != 0) /* core/spin.c: polling for work before it sleeps */
			mrt_snprintf(extra, sizeof extra, " spinning");
		break;
	}
	/* The monitor M (core/sysmon.c) says so in each of its events. Its
	 * function says which M it is, read where nothing else writes it:
	 * not at MT_PARKED, whose M is on the idle list already, where a
	 * startm may be handing it new work (the monitor never parks). */
	if (mp != nil && ev != MT_PARKED && mp->mstartfn == sysmon) {
		size_t k = 0;
		while (extra[k] != '\0')
			k++;
		mrt_snprintf(extra + k, sizeof extra - k, " monitor");
	}
	if (mp == nil) {
		printfd(2, "mrt mtrace %s M- %s%s\n", t, mtracenames[ev], extra);
		return;
	}
	int32_t id = load_relaxed(&mp->procid);
	if (id > 0)
		mrt_snprintf(tid, sizeof tid, "%d", (int)id);
	else
		mrt_snprintf(tid, sizeof tid, "-");
	printfd(2, "mrt mtrace %s M%lld %s tid=%s g0=[%p,%p) gsignal=[%p,%p)%s\n", t,
	        (long long)mp->id, mtracenames[ev], tid, (void *)mp->g0->stack.lo,
	        (void *)mp->g0->stack.hi, (void *)mp->gsignal->stack.lo,
	        (void *)mp->gsignal->stack.hi, extra);
}

/* ------------------------------------------------------------------------
 * schedtrace: the monitor M
 * ------------------------------------------------------------------------ */

/* One summary line: the counts of mrt_mstats and the Ms by state. */
static void schedtraceline(void)
{
	char t[32];
	int32_t nst[MRT_M_ATTACHED + 1] = { 0 };
	fmttime(t, sizeof t);
	lock(&sched.lock);
	for (m *mp = allm; mp != nil; mp = mp->alllink) {
		uint32_t st = load_relaxed(&mp->status);
		if (st < countof(nst))
			nst[st]++;
	}
	int64_t live = mcount(), created = sched.mnext, freed = sched.nmfreed;
	int64_t failed = sched.nmfailed;
	int32_t idle = sched.nmidle, unreaped = sched.nfreem, limit = sched.maxmcount;
	unlock(&sched.lock);
	uint32_t ncache;
	size_t cachebytes;
	stackcache_stats(&ncache, &cachebytes);
	printfd(2,
	        "mrt schedtrace %s live=%lld running=%d starting=%d idle=%d unreaped=%d "
	        "created=%lld exited=%lld failed=%lld limit=%d stackcache=%u attached=%d\n",
	        t, (long long)live, nst[MRT_M_RUNNING], nst[MRT_M_STARTING], idle, unreaped,
	        (long long)created, (long long)freed, (long long)failed, limit, ncache,
	        nst[MRT_M_ATTACHED]);
}

/* The monitor M's function (Go prints schedtrace from sysmon; mrt_init
 * starts it when MRTDEBUG asks): a line every period, until the process
 * ends. Its own M is counted like any other. */
void schedtracem(void *arg)
{
	(void)arg;
	int64_t period = (int64_t)debug.schedtrace * 1000000;
	int64_t next = nanotime() + period;
	for (;;) {
		int64_t now = nanotime();
		if (now < next) {
			osusleep((next - now + 999) / 1000);
			continue;
		}
		schedtraceline();
		next += period;
		if (next <= now) /* fell behind (a stopped process): no burst */
			next = now + period;
	}
}

/*
 * debuginit reads MRTDEBUG (on m0, at mrt_init, the one place mrt reads the
 * environment) and reports what it ignored, once.
 */
void debuginit(void)
{
	char bad[320];
	const char *s = osgetenv("MRTDEBUG");
	if (s == nil)
		return;
	/* All of it: the parser reads in place and needs no buffer, and the
	 * kernel already bounds an environment string (128 KiB on Linux). A
	 * fixed cap here cut settings past it without a word. */
	size_t n = 0;
	while (s[n] != '\0')
		n++;
	if (parsedebugvars(s, n, &debug, bad, sizeof bad) > 0)
		printfd(2, "mrt: MRTDEBUG: ignoring %s\n", bad);
}

/* ------------------------------------------------------------------------
 * mrt_dump
 * ------------------------------------------------------------------------ */

static const char *mstatusname(uint32_t st)
{
	switch (st) {
	case MRT_M_STARTING: return "starting";
	case MRT_M_RUNNING: return "running";
	case MRT_M_IDLE: return "idle";
	case MRT_M_EXITING: return "exiting";
	case MRT_M_ATTACHED: return "attached";
	default: return "pooled";
	}
}

/*
 * mrt_dump walks allm without sched.lock, like mrt_forallm (see there for
 * why the walk is safe against Ms dying under it), so it may run in a signal
 * handler or while the process is wedged on that lock.
 */
MRT_API int mrt_dump(int fd)
{
	if (fd < 0)
		return -EBADF;
	if (!load_acquire(&cfg.inited))
		return -EINVAL;
	int r = printfd(fd, "mrt_dump: every M on allm, newest first (%s model)\n", OS_THREAD_MODEL);
	if (r < 0)
		return r;
	int n = 0;
	walkbegin();
	for (m *mp = load_acquire(&allm); mp != nil; mp = load_acquire(&mp->alllink)) {
		char cg[24];
		g *gp = load_acquire(&mp->curg); /* mrt_gogo's release: goid read */
		if (gp == nil || gp == mp->g0)
			mrt_snprintf(cg, sizeof cg, "g0");
		else if (gp == mp->gsignal)
			mrt_snprintf(cg, sizeof cg, "gsignal");
		else
			mrt_snprintf(cg, sizeof cg, "g%lld", (long long)load_relaxed(&gp->goid));
		uintptr_t g0lo, g0hi, gslo, gshi; /* [0, 0) while not known */
		stackbounds(&mp->g0->stack, &g0lo, &g0hi);
		stackbounds(&mp->gsignal->stack, &gslo, &gshi);
		/* The monitor (core/sysmon.c) is named: its function is mrt's. */
		r = printfd(fd, "  M%-5lld tid %-7d %-8s g0 [%p, %p) gsignal [%p, %p) curg %s%s\n",
		            (long long)load_relaxed(&mp->id), (int)load_relaxed(&mp->procid),
		            mstatusname(load_acquire(&mp->status)), (void *)g0lo, (void *)g0hi,
		            (void *)gslo, (void *)gshi, cg, ismonitor(mp) ? " monitor" : "");
		if (r < 0)
			break;
		n++;
	}
	walkend();
	return r < 0 ? r : n;
}
