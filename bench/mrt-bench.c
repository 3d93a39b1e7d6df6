/*
 * mrt-bench — mrt side by side with its peers and the physical floors.
 *
 * Every row measures mrt and its anchors in this one run, interleaved run by
 * run (so that drift of the machine hits all of them alike), and reports the
 * median with min and max of at least five runs after a warm-up, with the
 * ratio that the row's target is about.
 *
 *   mrt-bench            the full run (minutes)
 *   mrt-bench --quick    a smoke run with small counts (CI, QEMU)
 *   mrt-bench --json     machine-readable output
 *   mrt-bench --row NAME one row (cold, syscalls, handoff, switch,
 *                        switchinsns, getg, memory, scale, extram,
 *                        extram-syscalls, section, retake, enterblock,
 *                        monitoridle, spin, join, nanotime, cpu,
 *                        allthreads, maps, maxms)
 *   mrt-bench --go PATH  the Go peer of the blocking-section rows
 *                        (bench/syscall/syscall.go, built by ci/bench);
 *                        also from $MRT_BENCH_GO. Without it those rows
 *                        say "not built".
 *
 * The floors use mrt's raw clone trampoline (arch_clone) and raw futexes,
 * with none of mrt's bookkeeping: what a thread costs the kernel, nothing
 * more. mrt-bench links mrt's objects directly for that; mrt's own rows use
 * only the public API.
 */
#define _GNU_SOURCE
#include "linux.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <sched.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef HAVE_BOOST_CONTEXT
/* Boost.Context's C ABI (boost/context/detail/fcontext.hpp), declared here
 * because that header is C++. */
typedef void *fcontext_t;
typedef struct {
	fcontext_t fctx;
	void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));
#endif

static bool quick, json;
static const char *only;
static const char *goprog; /* bench/syscall/syscall.go, built */
enum { MAXRUNS = 15, MAXVAR = 4 };
static int nruns = 7;

static int64_t now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, long err)
{
	fprintf(stderr, "mrt-bench: %s: %s %s\n", what, mrt_strerror((int)err), mrt_errmsg());
	exit(1);
}

/* ------------------------------------------------------------------------
 * Measurement: variants of one row, run interleaved.
 * ------------------------------------------------------------------------ */

/* Returns the cost of one operation in ns (or another unit), for iters ops. */
typedef double (*measure_fn)(long iters);

struct variant {
	const char *name;
	measure_fn fn;
	long iters;
	double v[MAXRUNS];
	double med, min, max;
	bool skipped;
	const char *why; /* when skipped */
};

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void summarize(struct variant *v, int n)
{
	double s[MAXRUNS];
	memcpy(s, v->v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof s[0], cmpd);
	v->min = s[0];
	v->max = s[n - 1];
	v->med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void run_interleaved(struct variant *vs, int nv)
{
	for (int i = 0; i < nv; i++) /* warm-up: caches, stack cache, pools */
		if (!vs[i].skipped)
			vs[i].fn(vs[i].iters / 10 + 1);
	for (int r = 0; r < nruns; r++)
		for (int i = 0; i < nv; i++)
			if (!vs[i].skipped)
				vs[i].v[r] = vs[i].fn(vs[i].iters);
	for (int i = 0; i < nv; i++)
		if (!vs[i].skipped)
			summarize(&vs[i], nruns);
}

/* ------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------ */

struct row {
	const char *key, *title, *unit;
	struct variant *v;
	int nv;
	const char *target; /* in words */
	double ratio;       /* the ratio the target is about, < 0 if none */
	const char *ratio_desc;
	bool holds;
	char note[256];
};

static bool first_json_row = true;

static void print_row(struct row *r)
{
	if (json) {
		printf("%s\n    {\"row\": \"%s\", \"title\": \"%s\", \"unit\": \"%s\", \"results\": [",
		       first_json_row ? "" : ",", r->key, r->title, r->unit);
		first_json_row = false;
		for (int i = 0; i < r->nv; i++) {
			struct variant *v = &r->v[i];
			if (v->skipped)
				printf("%s{\"name\": \"%s\", \"skipped\": \"%s\"}", i ? ", " : "", v->name,
				       v->why);
			else
				printf("%s{\"name\": \"%s\", \"median\": %.4f, \"min\": %.4f, "
				       "\"max\": %.4f, \"runs\": %d}",
				       i ? ", " : "", v->name, v->med, v->min, v->max, nruns);
		}
		printf("], \"ratio\": %.4f, \"ratio_of\": \"%s\", \"target\": \"%s\", "
		       "\"holds\": %s, \"note\": \"%s\"}",
		       r->ratio, r->ratio_desc, r->target, r->holds ? "true" : "false", r->note);
		return;
	}
	printf("\n%s (%s; median [min, max] of %d runs)\n", r->title, r->unit, nruns);
	for (int i = 0; i < r->nv; i++) {
		struct variant *v = &r->v[i];
		if (v->skipped)
			printf("  %-34s not built: %s\n", v->name, v->why);
		else
			printf("  %-34s %10.3f  [%.3f, %.3f]\n", v->name, v->med, v->min, v->max);
	}
	if (r->ratio >= 0)
		printf("  ratio %s = %.3f   target %s: %s\n", r->ratio_desc, r->ratio, r->target,
		       r->holds ? "HOLDS" : "does not hold");
	if (r->note[0])
		printf("  note: %s\n", r->note);
	fflush(stdout);
}

static bool want(const char *key)
{
	return only == NULL || strcmp(only, key) == 0;
}

/* ------------------------------------------------------------------------
 * 1. Cold M lifecycle
 * ------------------------------------------------------------------------ */

static const size_t stacksize = 64 << 10; /* mrt's default g0 */

static void nop(void *arg)
{
	(void)arg;
}

static double cold_mrt(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		int64_t id = mrt_newm(nop, NULL, NULL);
		if (id < 0)
			die("mrt_newm", id);
		int err = mrt_join(id);
		if (err < 0)
			die("mrt_join", err);
	}
	return (double)(now() - t0) / (double)iters;
}

static void *pnop(void *arg)
{
	return arg;
}

static double cold_pthread(long iters)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, stacksize);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		pthread_t t;
		if (pthread_create(&t, &a, pnop, NULL) != 0)
			die("pthread_create", -EAGAIN);
		pthread_join(t, NULL);
	}
	pthread_attr_destroy(&a);
	return (double)(now() - t0) / (double)iters;
}

/* The floor: clone a thread that only exits, on one reused stack, and wait
 * for the kernel's CLONE_CHILD_CLEARTID wake. Three system calls. */
static NORETURN void floor_child(void *arg)
{
	(void)arg;
	arch_exit_thread();
}

static uint8_t *floor_stack;

static void floor_once(void)
{
	static const unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
	                                   CLONE_SYSVSEM | CLONE_THREAD | CLONE_CHILD_CLEARTID;
	uint32_t ctid = 1;
	long r = arch_clone(flags, floor_stack + stacksize, NULL, &ctid, NULL, floor_child, NULL);
	if (r < 0)
		die("clone", r);
	while (__atomic_load_n(&ctid, __ATOMIC_ACQUIRE) != 0)
		syscall(SYS_futex, &ctid, FUTEX_WAIT, 1, NULL, NULL, 0);
}

static double cold_floor(long iters)
{
	if (floor_stack == NULL)
		floor_stack = mmap(NULL, stacksize, PROT_READ | PROT_WRITE,
		                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		floor_once();
	return (double)(now() - t0) / (double)iters;
}

static void row_cold(void)
{
	long n = quick ? 200 : 4000;
	struct variant v[] = {
		{ .name = "mrt_newm + mrt_join", .fn = cold_mrt, .iters = n },
		{ .name = "pthread_create + join (64 KiB)", .fn = cold_pthread, .iters = n },
		{ .name = "floor: clone+exit+CLEARTID wait", .fn = cold_floor, .iters = n },
	};
	run_interleaved(v, 3);
	struct row r = { .key = "cold", .title = "1. cold M lifecycle: create, run nothing, exit, join",
		         .unit = "us", .v = v, .nv = 3, .target = "<= 1.10",
		         .ratio = v[0].med / v[2].med, .ratio_desc = "mrt / floor" };
	for (int i = 0; i < 3; i++) {
		v[i].med /= 1000, v[i].min /= 1000, v[i].max /= 1000;
	}
	r.holds = r.ratio <= 1.10;
	snprintf(r.note, sizeof r.note, "pthread / floor = %.3f", v[1].med / v[2].med);
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 2. System calls per cold lifecycle (strace -f -c of a child loop)
 * ------------------------------------------------------------------------ */

static char self_exe[4096];

static void syscall_loop(const char *which, long n)
{
	mrt_init(NULL);
	if (strcmp(which, "mrt") == 0)
		cold_mrt(n > 0 ? n : 1), (void)0;
	else if (strcmp(which, "pthread") == 0)
		cold_pthread(n > 0 ? n : 1);
	else
		cold_floor(n > 0 ? n : 1);
}

/*
 * System calls made by `mrt-bench --syscall-loop which n`, or -1. strace's
 * -c summary leaves out calls that never return (exit), so this counts the
 * lines of a full trace instead: one per call, an interrupted call and its
 * "resumed" line counted once.
 */
static long count_calls(const char *which, long n)
{
	const char *dir = getenv("TMPDIR");
	char out[4096];
	snprintf(out, sizeof out, "%s/mrt-bench-strace-XXXXXX", dir != NULL && *dir ? dir : "/tmp");
	int fd = mkstemp(out);
	if (fd < 0)
		return -1;
	close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		char ns[32];
		snprintf(ns, sizeof ns, "%ld", n);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("strace", "strace", "-f", "-qq", "-o", out, self_exe, "--syscall-loop", which,
		       ns, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	long total = -1;
	FILE *f = fopen(out, "r");
	if (f != NULL && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		char line[4096];
		total = 0;
		while (fgets(line, sizeof line, f) != NULL) {
			char *p = line;
			while (*p >= '0' && *p <= '9') /* -f: the pid */
				p++;
			while (*p == ' ')
				p++;
			if ((*p >= 'a' && *p <= 'z') || *p == '_')
				total++; /* "name(" — not "<... resumed>", "+++" or "---" */
		}
	}
	if (f != NULL)
		fclose(f);
	unlink(out);
	return total;
}

static void row_syscalls(void)
{
	long n = quick ? 100 : 1000;
	const char *names[] = { "mrt", "pthread", "floor" };
	const char *labels[] = { "mrt_newm + mrt_join", "pthread_create + join",
		                 "floor: clone+exit+CLEARTID wait" };
	struct variant v[3];
	memset(v, 0, sizeof v);
	bool ok = true;
	for (int i = 0; i < 3; i++) {
		v[i].name = labels[i];
		long base = count_calls(names[i], 1), full = count_calls(names[i], n + 1);
		if (base < 0 || full < 0) {
			ok = false;
			v[i].skipped = true;
			v[i].why = "strace not available here";
			continue;
		}
		/* Exact counts: the same in every run, so one run is all runs. */
		double per = (double)(full - base) / (double)n;
		for (int r = 0; r < nruns; r++)
			v[i].v[r] = per;
		summarize(&v[i], nruns);
	}
	struct row r = { .key = "syscalls",
		         .title = "2. system calls per cold lifecycle, join included",
		         .unit = "calls, counted in an strace -f trace", .v = v, .nv = 3,
		         .target = "<= 5", .ratio = ok ? v[0].med : -1, .ratio_desc = "mrt calls" };
	r.holds = ok && v[0].med <= 5.0;
	if (ok)
		snprintf(r.note, sizeof r.note, "(calls for n+1 lifecycles - calls for 1) / n, n = %ld",
		         n);
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 3. Warm handoff round trip
 * ------------------------------------------------------------------------ */

static uint32_t back; /* the caller's wake-up word */

static void fwait(uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void fwake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* On the M: wake the caller, park again. */
static void handoff_fn(void *arg)
{
	(void)arg;
	__atomic_store_n(&back, 1, __ATOMIC_RELEASE);
	futexwakeup(&back, 1);
	mrt_stopm();
}

static void wait_idle_n(long n)
{
	struct mrt_mstats st;
	for (;;) {
		mrt_mstats(&st);
		if (st.idle >= n)
			return;
		sched_yield();
	}
}

static double handoff_mrt(long iters)
{
	wait_idle_n(1);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		back = 0;
		int64_t id = mrt_startm(handoff_fn, NULL, NULL);
		if (id < 0)
			die("mrt_startm", id);
		while (__atomic_load_n(&back, __ATOMIC_ACQUIRE) == 0)
			fwait(&back, 0);
		wait_idle_n(1); /* it parks again before the next handoff */
	}
	return (double)(now() - t0) / (double)iters;
}

/* The floor: two threads ping-ponging futex words, both sleeping. */
static uint32_t ping, pong, pp_stop;

static void *ponger(void *arg)
{
	(void)arg;
	for (;;) {
		while (__atomic_load_n(&ping, __ATOMIC_ACQUIRE) == 0)
			fwait(&ping, 0);
		ping = 0;
		if (__atomic_load_n(&pp_stop, __ATOMIC_ACQUIRE))
			return NULL;
		__atomic_store_n(&pong, 1, __ATOMIC_RELEASE);
		fwake(&pong);
	}
}

static double handoff_futex(long iters)
{
	pthread_t t;
	ping = pong = pp_stop = 0;
	pthread_create(&t, NULL, ponger, NULL);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		__atomic_store_n(&ping, 1, __ATOMIC_RELEASE);
		fwake(&ping);
		while (__atomic_load_n(&pong, __ATOMIC_ACQUIRE) == 0)
			fwait(&pong, 0);
		pong = 0;
	}
	double ns = (double)(now() - t0) / (double)iters;
	__atomic_store_n(&pp_stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&ping, 1, __ATOMIC_RELEASE);
	fwake(&ping);
	pthread_join(t, NULL);
	return ns;
}

static pthread_mutex_t cv_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv_ping = PTHREAD_COND_INITIALIZER, cv_pong = PTHREAD_COND_INITIALIZER;
static int cv_turn, cv_stop; /* 0: caller's, 1: partner's */

static void *cv_partner(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cv_mu);
	for (;;) {
		while (cv_turn != 1)
			pthread_cond_wait(&cv_ping, &cv_mu);
		if (cv_stop)
			break;
		cv_turn = 0;
		pthread_cond_signal(&cv_pong);
	}
	pthread_mutex_unlock(&cv_mu);
	return NULL;
}

static double handoff_condvar(long iters)
{
	pthread_t t;
	cv_turn = cv_stop = 0;
	pthread_create(&t, NULL, cv_partner, NULL);
	int64_t t0 = now();
	pthread_mutex_lock(&cv_mu);
	for (long i = 0; i < iters; i++) {
		cv_turn = 1;
		pthread_cond_signal(&cv_ping);
		while (cv_turn != 0)
			pthread_cond_wait(&cv_pong, &cv_mu);
	}
	cv_stop = 1;
	cv_turn = 1;
	pthread_cond_signal(&cv_ping);
	pthread_mutex_unlock(&cv_mu);
	double ns = (double)(now() - t0) / (double)iters;
	pthread_join(t, NULL);
	return ns;
}

static void row_handoff(void)
{
	long n = quick ? 500 : 20000;
	int64_t id = mrt_newm(handoff_fn, NULL, NULL); /* wakes `back` once, then parks */
	if (id < 0)
		die("mrt_newm", id);
	struct variant v[] = {
		{ .name = "mrt_startm to a parked M", .fn = handoff_mrt, .iters = n },
		{ .name = "floor: futex ping-pong", .fn = handoff_futex, .iters = n },
		{ .name = "pthread mutex+cond ping-pong", .fn = handoff_condvar, .iters = n },
	};
	run_interleaved(v, 3);
	for (int i = 0; i < 3; i++)
		v[i].med /= 1000, v[i].min /= 1000, v[i].max /= 1000;
	struct row r = { .key = "handoff", .title = "3. warm handoff round trip to a sleeping M",
		         .unit = "us", .v = v, .nv = 3, .target = "<= 1.15",
		         .ratio = v[0].med / v[1].med, .ratio_desc = "mrt / futex floor" };
	r.holds = r.ratio <= 1.15;
	snprintf(r.note, sizeof r.note, "condvar / futex floor = %.3f", v[2].med / v[1].med);
	print_row(&r);
	mrt_startm(nop, NULL, NULL); /* let the M go */
	mrt_join(id);
}

/* ------------------------------------------------------------------------
 * 4. g switch
 * ------------------------------------------------------------------------ */

static mrt_g *ga, *gb;
static long sw_iters;

static void ga_fn(void *arg)
{
	(void)arg;
	for (long i = 0; i < sw_iters; i++)
		mrt_gogo(gb);
}

static void gb_fn(void *arg)
{
	(void)arg;
	for (;;)
		mrt_gogo(ga);
}

static double switch_mrt(long iters)
{
	if (ga == NULL) {
		mrt_malg(&ga, 64 << 10);
		mrt_malg(&gb, 64 << 10);
		mrt_gostart(gb, gb_fn, NULL);
	}
	sw_iters = iters;
	mrt_gostart(ga, ga_fn, NULL);
	int64_t t0 = now();
	mrt_gogo(ga); /* returns when ga_fn returns */
	return (double)(now() - t0) / (double)iters;
}

static ucontext_t uc_main, uc_a, uc_b;
static char uc_stack_b[64 << 10];
static long uc_iters;

static void uc_b_fn(void)
{
	for (;;)
		swapcontext(&uc_b, &uc_a);
}

static double switch_ucontext(long iters)
{
	getcontext(&uc_b);
	uc_b.uc_stack.ss_sp = uc_stack_b;
	uc_b.uc_stack.ss_size = sizeof uc_stack_b;
	uc_b.uc_link = &uc_main;
	makecontext(&uc_b, uc_b_fn, 0);
	uc_iters = iters;
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		swapcontext(&uc_a, &uc_b);
	return (double)(now() - t0) / (double)iters;
}

#ifdef HAVE_BOOST_CONTEXT
static char fc_stack[64 << 10] __attribute__((aligned(16)));

static void fc_b(transfer_t t)
{
	for (;;)
		t = jump_fcontext(t.fctx, NULL);
}

static double switch_fcontext(long iters)
{
	fcontext_t b = make_fcontext(fc_stack + sizeof fc_stack, sizeof fc_stack, fc_b);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		b = jump_fcontext(b, NULL).fctx;
	return (double)(now() - t0) / (double)iters;
}
#endif

/* The bare switch, driven from C like the fcontext row: what mrt_gogo's
 * checks and bookkeeping are added to. */
static void *cs_a, *cs_b;
static char cs_stack[64 << 10] __attribute__((aligned(16)));

static void cs_b_fn(void *arg)
{
	(void)arg;
	for (;;)
		ctx_switch(&cs_b, cs_a);
}

static double switch_ctx(long iters)
{
	cs_b = ctx_make(cs_stack + sizeof cs_stack, cs_b_fn, NULL);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		ctx_switch(&cs_a, cs_b);
	return (double)(now() - t0) / (double)iters;
}

static void row_switch(void)
{
	long n = quick ? 100000 : 5000000;
	struct variant v[] = {
		{ .name = "mrt_gogo A->B->A", .fn = switch_mrt, .iters = n },
#ifdef HAVE_BOOST_CONTEXT
		{ .name = "Boost.Context jump_fcontext", .fn = switch_fcontext, .iters = n },
#else
		{ .name = "Boost.Context jump_fcontext", .skipped = true,
		  .why = "libboost-context-dev not installed" },
#endif
		{ .name = "glibc swapcontext", .fn = switch_ucontext, .iters = n / 20 },
		{ .name = "mrt's bare ctx_switch", .fn = switch_ctx, .iters = n },
	};
	run_interleaved(v, 4);
	struct row r = { .key = "switch", .title = "4. g switch: to another g and back",
		         .unit = "ns per round trip", .v = v, .nv = 4,
		         .target = "<= 1.0 x fcontext and >= 100 x faster than swapcontext",
		         .ratio = v[1].skipped ? -1 : v[0].med / v[1].med,
		         .ratio_desc = "mrt / fcontext" };
	double vs_uc = v[2].med / v[0].med;
	r.holds = !v[1].skipped && r.ratio <= 1.0 && vs_uc >= 100;
	snprintf(r.note, sizeof r.note, "swapcontext / mrt = %.1f; bare ctx_switch / fcontext = %.3f",
	         vs_uc, v[1].skipped ? -1.0 : v[3].med / v[1].med);
	print_row(&r);
}

/*
 * 4b. The same round trips in instructions, which do not vary with the
 * machine's load: `valgrind --tool=callgrind` counts every instruction of
 * `mrt-bench --switch-loop WHICH n`, for two n, and the difference over
 * the difference of n is one round trip's (the set-up cancels out).
 */
static void switch_loop(const char *which, long n)
{
	mrt_init(NULL);
	if (strcmp(which, "mrt") == 0)
		switch_mrt(n);
	else if (strcmp(which, "ctx") == 0)
		switch_ctx(n);
#ifdef HAVE_BOOST_CONTEXT
	else if (strcmp(which, "fcontext") == 0)
		switch_fcontext(n);
#endif
}

/* Instructions callgrind counts in `mrt-bench --switch-loop which n`, or -1. */
static double count_insns(const char *which, long n)
{
	const char *dir = getenv("TMPDIR");
	char out[4096], arg[4200], ns[32];
	snprintf(out, sizeof out, "%s/mrt-bench-callgrind-XXXXXX", dir != NULL && *dir ? dir : "/tmp");
	int fd = mkstemp(out);
	if (fd < 0)
		return -1;
	close(fd);
	snprintf(arg, sizeof arg, "--callgrind-out-file=%s", out);
	snprintf(ns, sizeof ns, "%ld", n);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("valgrind", "valgrind", "--tool=callgrind", arg, self_exe, "--switch-loop",
		       which, ns, (char *)NULL);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	double total = -1;
	FILE *f = fopen(out, "r");
	if (f != NULL && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		char line[4096];
		while (fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, "summary:", 8) == 0)
				total = atof(line + 8);
	}
	if (f != NULL)
		fclose(f);
	unlink(out);
	return total;
}

static void row_switchinsns(void)
{
	long n1 = 1000, n2 = quick ? 11000 : 101000;
	const char *names[] = { "mrt", "fcontext", "ctx" };
	const char *labels[] = { "mrt_gogo A->B->A", "Boost.Context jump_fcontext",
		                 "mrt's bare ctx_switch" };
	struct variant v[3];
	memset(v, 0, sizeof v);
	for (int i = 0; i < 3; i++) {
		v[i].name = labels[i];
#ifndef HAVE_BOOST_CONTEXT
		if (i == 1) {
			v[i].skipped = true;
			v[i].why = "libboost-context-dev not installed";
			continue;
		}
#endif
		double a = count_insns(names[i], n1), b = count_insns(names[i], n2);
		if (a < 0 || b < 0) {
			v[i].skipped = true;
			v[i].why = "valgrind not available here";
			continue;
		}
		double per = (b - a) / (double)(n2 - n1);
		for (int r = 0; r < nruns; r++) /* exact: one run is all runs */
			v[i].v[r] = per;
		summarize(&v[i], nruns);
	}
	struct row r = { .key = "switchinsns", .title = "4b. g switch: to another g and back",
		         .unit = "instructions per round trip, counted by callgrind", .v = v,
		         .nv = 3, .target = "(none: for the record)",
		         .ratio = v[0].skipped || v[1].skipped ? -1 : v[0].med / v[1].med,
		         .ratio_desc = "mrt / fcontext" };
	r.holds = true;
	snprintf(r.note, sizeof r.note, "(instructions for n = %ld - for n = %ld) / %ld", n2, n1,
	         n2 - n1);
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 5. getg
 * ------------------------------------------------------------------------ */

static __thread void *tls_word;
static pthread_key_t key;

/* The empty asm with a memory clobber forces a fresh read each iteration
 * without adding instructions. */
static double getg_mrt(long iters)
{
	uintptr_t sum = 0;
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		sum += (uintptr_t)mrt_getg();
		__asm__ volatile("" ::: "memory");
	}
	int64_t t = now() - t0;
	__asm__ volatile("" ::"r"(sum));
	return (double)t / (double)iters;
}

static double getg_tls(long iters)
{
	uintptr_t sum = 0;
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		sum += (uintptr_t)tls_word;
		__asm__ volatile("" ::: "memory");
	}
	int64_t t = now() - t0;
	__asm__ volatile("" ::"r"(sum));
	return (double)t / (double)iters;
}

static double getg_specific(long iters)
{
	uintptr_t sum = 0;
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		sum += (uintptr_t)pthread_getspecific(key);
		__asm__ volatile("" ::: "memory");
	}
	int64_t t = now() - t0;
	__asm__ volatile("" ::"r"(sum));
	return (double)t / (double)iters;
}

static void row_getg(void)
{
	long n = quick ? 1000000 : 200000000;
	tls_word = &n;
	pthread_key_create(&key, NULL);
	pthread_setspecific(key, &n);
	struct variant v[] = {
		{ .name = "mrt_getg()", .fn = getg_mrt, .iters = n },
		{ .name = "__thread read", .fn = getg_tls, .iters = n },
		{ .name = "pthread_getspecific", .fn = getg_specific, .iters = n },
	};
	run_interleaved(v, 3);
	struct row r = { .key = "getg", .title = "5. getg", .unit = "ns per read (loop included)",
		         .v = v, .nv = 3, .target = "<= 1.0", .ratio = v[0].med / v[1].med,
		         .ratio_desc = "mrt / __thread" };
	/* Same instruction, so any difference is noise: allow 2%. */
	r.holds = r.ratio <= 1.02;
	snprintf(r.note, sizeof r.note,
	         "mrt_getg is an inline initial-exec TLS load, the same instruction as a "
	         "__thread read; ratios within 2%% are noise");
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 6. Memory of parked Ms; 7. scale. Each in a child process of its own.
 * ------------------------------------------------------------------------ */

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size, res;
	if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	if (f != NULL)
		fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

/* Runs fn(n) in a child; returns the double it writes to the pipe. */
static double in_child(double (*fn)(long), long n)
{
	int p[2];
	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		double v = fn(n);
		if (write(p[1], &v, sizeof v) != sizeof v)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	double v = -1;
	if (read(p[0], &v, sizeof v) != sizeof v)
		v = -1;
	close(p[0]);
	waitpid(pid, NULL, 0);
	return v;
}

static void park_fn(void *arg)
{
	(void)arg;
	mrt_stopm();
}

/* mrt was initialised by the parent before fork; the child of a quiescent
 * process (no M running, all joined) may go on using it. */
static double mem_mrt(long n)
{
	mrt_setmaxthreads((int32_t)n + 100);
	long before = rss_bytes();
	for (long i = 0; i < n; i++) {
		int64_t id = mrt_newm(park_fn, NULL, NULL);
		if (id < 0)
			die("mrt_newm", id);
	}
	wait_idle_n(n);
	return (double)(rss_bytes() - before) / (double)n;
}

static uint32_t parked_go, parked_n;

static void *parked_thread(void *arg)
{
	(void)arg;
	__atomic_fetch_add(&parked_n, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&parked_go, __ATOMIC_ACQUIRE) == 0)
		fwait(&parked_go, 0);
	return NULL;
}

/* Starts up to n pthreads of 64 KiB that block (on parked_go), as many as
 * the system lets it if upto, or dies if it cannot make n; returns when
 * they all run, with how many. */
static long park_pthreads(long n, bool upto)
{
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	long made = 0;
	for (; made < n; made++) {
		pthread_t t;
		if (pthread_create(&t, &a, parked_thread, NULL) == 0)
			continue;
		if (!upto)
			die("pthread_create", -EAGAIN);
		break;
	}
	while (__atomic_load_n(&parked_n, __ATOMIC_ACQUIRE) < made)
		sched_yield();
	pthread_attr_destroy(&a);
	return made;
}

static double mem_pthread(long n)
{
	long before = rss_bytes();
	park_pthreads(n, false);
	return (double)(rss_bytes() - before) / (double)n;
}

static void row_memory(void)
{
	long counts[2] = { quick ? 100 : 1000, quick ? 300 : 10000 };
	for (int k = 0; k < 2; k++) {
		long n = counts[k];
		struct variant v[2] = {
			{ .name = "mrt parked M (64 KiB g0)" },
			{ .name = "pthread blocked (64 KiB stack)" },
		};
		for (int r = 0; r < nruns; r++) {
			v[0].v[r] = in_child(mem_mrt, n) / 1024;
			v[1].v[r] = in_child(mem_pthread, n) / 1024;
		}
		summarize(&v[0], nruns);
		summarize(&v[1], nruns);
		char title[128];
		snprintf(title, sizeof title, "6. resident memory per parked M, %ld of them", n);
		struct row r = { .key = "memory", .title = title, .unit = "KiB per thread", .v = v,
			         .nv = 2, .target = "<= 0.5", .ratio = v[0].med / v[1].med,
			         .ratio_desc = "mrt / pthread" };
		r.holds = r.ratio <= 0.5;
		print_row(&r);
	}
}

static long scale_live;

static double scale_child(long iters)
{
	mrt_setmaxthreads((int32_t)scale_live + 100);
	for (long i = 0; i < scale_live; i++)
		if (mrt_newm(park_fn, NULL, NULL) < 0)
			die("mrt_newm", -EAGAIN);
	cold_mrt(iters / 10 + 1);
	return cold_mrt(iters);
}

/*
 * Rows 7 and 8: child(n) in a fresh process with 100 live Ms and with many
 * (*live tells it which), alternating, nruns times each; v[0] and v[1] in
 * us. name2 holds the second variant's name.
 */
static void run_live(struct variant v[2], char name2[64], long *live, double (*child)(long), long n)
{
	long lives[2] = { 100, quick ? 1000 : 10000 };
	memset(v, 0, 2 * sizeof *v);
	v[0].name = "with 100 live Ms";
	snprintf(name2, 64, "with %ld live Ms", lives[1]);
	v[1].name = name2;
	for (int r = 0; r < nruns; r++)
		for (int k = 0; k < 2; k++) {
			*live = lives[k];
			v[k].v[r] = in_child(child, n) / 1000;
		}
	summarize(&v[0], nruns);
	summarize(&v[1], nruns);
}

static void row_scale(void)
{
	struct variant v[2];
	char name2[64];
	run_live(v, name2, &scale_live, scale_child, quick ? 200 : 2000);
	struct row r = { .key = "scale", .title = "7. cost per M lifecycle with live Ms around",
		         .unit = "us", .v = v, .nv = 2, .target = "<= 1.25",
		         .ratio = v[1].med / v[0].med, .ratio_desc = "many / 100" };
	r.holds = r.ratio <= 1.25;
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 8. A call in from a thread mrt did not make (mrt_needm); 9. its system
 * calls. The peer: Go's cgo callback from a C thread, when ./ci/bench has
 * built bench/extram/callback.go with the installed Go
 * (MRT_BENCH_GO_CALLBACK names the program).
 * ------------------------------------------------------------------------ */

struct onthread {
	double (*fn)(long);
	long iters;
	double ns;
};

static void *onthread_run(void *arg)
{
	struct onthread *o = arg;
	o->ns = o->fn(o->iters);
	return NULL;
}

/* fn(iters) on a fresh pthread: a thread mrt did not make. */
static double on_foreign_thread(double (*fn)(long), long iters)
{
	struct onthread o = { fn, iters, -1 };
	pthread_t t;
	if (pthread_create(&t, NULL, onthread_run, &o) != 0)
		die("pthread_create", -EAGAIN);
	pthread_join(t, NULL);
	return o.ns;
}

/* On the foreign thread: attached once, then iters calls in. */
static double needm_warm_loop(long iters)
{
	int64_t id = mrt_needm();
	if (id < 0)
		die("mrt_needm", id);
	int64_t sum = 0;
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		sum += mrt_needm();
	int64_t t = now() - t0;
	__asm__ volatile("" ::"r"(sum));
	mrt_dropm();
	return (double)t / (double)iters;
}

/* On the foreign thread: an attach and a drop per call in, as every
 * callback from a C thread cost in Go before 1.21. */
static double needm_cold_loop(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		int64_t id = mrt_needm();
		if (id < 0)
			die("mrt_needm", id);
		mrt_dropm();
	}
	return (double)(now() - t0) / (double)iters;
}

static double needm_warm(long iters)
{
	return on_foreign_thread(needm_warm_loop, iters);
}

static double needm_cold(long iters)
{
	return on_foreign_thread(needm_cold_loop, iters);
}

static const char *gocallback(void)
{
	const char *p = getenv("MRT_BENCH_GO_CALLBACK");
	return p != NULL && *p != '\0' && access(p, X_OK) == 0 ? p : NULL;
}

static char goversion[32] = "Go";

/* Go's callback: the program runs iters of them on a C thread and says
 * how long each took. */
static double go_callback(long iters)
{
	char cmd[4352];
	snprintf(cmd, sizeof cmd, "%s -n %ld -r 1", gocallback(), iters);
	FILE *f = popen(cmd, "r");
	double ns = -1;
	char line[256], ver[32];
	if (f == NULL)
		die("popen", -errno);
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "callback %31s ns/op=%lf", ver, &ns) == 2)
			snprintf(goversion, sizeof goversion, "%s", ver);
	if (pclose(f) != 0 || ns < 0)
		die("the Go callback program", -EIO);
	return ns;
}

static const char *why_no_go =
	"no Go callback program: ./ci/bench builds bench/extram/callback.go when Go is "
	"installed (./ci/setup extra) and names it in MRT_BENCH_GO_CALLBACK";

static void row_extram(void)
{
	long n = quick ? 20000 : 2000000, ncold = quick ? 500 : 20000, ngo = quick ? 2000 : 200000;
	bool go = gocallback() != NULL;
	struct variant v[] = {
		{ .name = "mrt_needm, thread bound already", .fn = needm_warm, .iters = n },
		{ .name = "mrt_needm + mrt_dropm every call", .fn = needm_cold, .iters = ncold },
		{ .name = "Go cgo callback, C thread", .fn = go_callback, .iters = ngo,
		  .skipped = !go, .why = why_no_go },
	};
	run_interleaved(v, 3);
	char goname[64];
	if (go) {
		snprintf(goname, sizeof goname, "%s cgo callback, C thread", goversion);
		v[2].name = goname;
	}
	struct row r = { .key = "extram",
		         .title = "8. a call in from a thread mrt did not make (mrt_needm)",
		         .unit = "ns per call", .v = v, .nv = 3, .target = "<= 10 ns, bound",
		         .ratio = v[0].med, .ratio_desc = "mrt bound, ns" };
	r.holds = v[0].med <= 10.0;
	if (go)
		snprintf(r.note, sizeof r.note, "unbound / bound = %.0f; %s / mrt bound = %.0f",
		         v[1].med / v[0].med, goversion, v[2].med / v[0].med);
	else
		snprintf(r.note, sizeof r.note, "unbound / bound = %.0f", v[1].med / v[0].med);
	print_row(&r);
}

/* --extram-loop n, under strace: a warm-up thread, then n foreign
 * threads, each: marker, mrt_needm (the attach), marker, 1,000 mrt_needm
 * (bound), marker, mrt_dropm, marker. The markers are getppid, which mrt
 * never calls. */
static void *extram_marked(void *arg)
{
	bool marked = arg != NULL;
	if (marked)
		syscall(SYS_getppid);
	int64_t id = mrt_needm();
	if (marked)
		syscall(SYS_getppid);
	for (int i = 0; i < 1000; i++)
		if (mrt_needm() != id)
			die("mrt_needm", -EINVAL);
	if (marked)
		syscall(SYS_getppid);
	mrt_dropm();
	if (marked)
		syscall(SYS_getppid);
	return NULL;
}

static void extram_loop(long n)
{
	mrt_init(NULL);
	for (long i = 0; i <= n; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, extram_marked, i == 0 ? NULL : (void *)1) != 0)
			die("pthread_create", -EAGAIN);
		pthread_join(t, NULL);
	}
}

/*
 * Runs argv under strace -f; for every thread whose trace has exactly
 * nmarks getppid markers, adds the calls between consecutive ones into
 * seg[0 .. nmarks-2]. Returns the number of such threads, or -1.
 */
static long strace_segments(char *const argv[], int nmarks, double *seg)
{
	const char *dir = getenv("TMPDIR");
	char out[4096];
	snprintf(out, sizeof out, "%s/mrt-bench-strace-XXXXXX", dir != NULL && *dir ? dir : "/tmp");
	int fd = mkstemp(out);
	if (fd < 0)
		return -1;
	close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		char *args[16] = { "strace", "-f", "-qq", "-o", out };
		int k = 5;
		for (int i = 0; argv[i] != NULL && k < 15; i++)
			args[k++] = argv[i];
		args[k] = NULL;
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execvp("strace", args);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	FILE *f = fopen(out, "r");
	long threads = -1;
	if (f != NULL && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		/* Per thread: its markers so far and the calls since the last. */
		enum { maxthreads = 4096 };
		static long tids[maxthreads], since[maxthreads], marks[maxthreads];
		static double part[maxthreads][4];
		int nt = 0;
		char line[4096];
		while (fgets(line, sizeof line, f) != NULL) {
			char *p = line;
			long tid = strtol(p, &p, 10);
			while (*p == ' ')
				p++;
			if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
				continue; /* "<... resumed>", "+++", "---" */
			int i = 0;
			while (i < nt && tids[i] != tid)
				i++;
			if (i == nt) {
				if (nt == maxthreads)
					continue;
				tids[nt] = tid, since[nt] = marks[nt] = 0;
				memset(part[nt], 0, sizeof part[nt]);
				nt++;
			}
			if (strncmp(p, "getppid(", 8) == 0) {
				if (marks[i] > 0 && marks[i] < nmarks)
					part[i][marks[i] - 1] = (double)since[i];
				marks[i]++;
				since[i] = 0;
			} else {
				since[i]++;
			}
		}
		threads = 0;
		for (int i = 0; i < nt; i++) {
			if (marks[i] != nmarks)
				continue;
			threads++;
			for (int s = 0; s < nmarks - 1; s++)
				seg[s] += part[i][s];
		}
	}
	if (f != NULL)
		fclose(f);
	unlink(out);
	return threads;
}

static void row_extram_syscalls(void)
{
	long n = quick ? 20 : 200;
	struct variant v[4];
	memset(v, 0, sizeof v);
	v[0].name = "mrt_needm, thread bound already";
	v[1].name = "mrt_needm, the attach";
	v[2].name = "mrt_dropm";
	v[3].name = "Go cgo callback, C thread";
	char ns[32];
	snprintf(ns, sizeof ns, "%ld", n);
	char *argv[] = { self_exe, "--extram-loop", ns, NULL };
	double seg[3] = { 0, 0, 0 };
	long threads = strace_segments(argv, 4, seg);
	bool ok = threads == n;
	double per[3] = { seg[1] / (1000.0 * n), seg[0] / n, seg[2] / n };
	for (int i = 0; i < 3; i++) {
		if (!ok) {
			v[i].skipped = true;
			v[i].why = "strace not available here";
			continue;
		}
		for (int r = 0; r < nruns; r++)
			v[i].v[r] = per[i];
		summarize(&v[i], nruns);
	}
	char goname[64];
	if (gocallback() != NULL) {
		go_callback(1); /* for its version */
		char *gargv[] = { (char *)gocallback(), "-marked", "1000", NULL };
		double gseg[1] = { 0 };
		if (strace_segments(gargv, 2, gseg) == 1) {
			for (int r = 0; r < nruns; r++)
				v[3].v[r] = gseg[0] / 1000.0;
			summarize(&v[3], nruns);
			if (strcmp(goversion, "Go") != 0) {
				snprintf(goname, sizeof goname, "%s cgo callback, C thread",
				         goversion);
				v[3].name = goname;
			}
		} else {
			v[3].skipped = true;
			v[3].why = "strace of the Go program failed";
		}
	} else {
		v[3].skipped = true;
		v[3].why = why_no_go;
	}
	struct row r = { .key = "extram-syscalls",
		         .title = "9. system calls of a call in from a thread mrt did not make",
		         .unit = "calls, counted in an strace -f trace", .v = v, .nv = 4,
		         .target = "0 bound, <= 3 for the attach",
		         .ratio = ok ? v[1].med : -1, .ratio_desc = "mrt attach calls" };
	r.holds = ok && v[0].med == 0 && v[1].med <= 3.0;
	if (ok)
		snprintf(r.note, sizeof r.note,
		         "between getppid markers on %ld foreign threads (pools and malloc's arena "
		         "warm; 1,000 bound calls each)", n);
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 15. Join by id with many live Ms (mrt_join finds the M in an index)
 * ------------------------------------------------------------------------ */

static long join_live;
static uint32_t join_gate;

/* An M that waits for the gate, then ends. */
static void join_wait_fn(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&join_gate, __ATOMIC_ACQUIRE) == 0)
		futexsleep(&join_gate, 0, -1);
}

static long threads_now(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long n = -1;
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return n;
}

/*
 * In a child: join_live parked Ms, then iters Ms that end together and
 * whose threads are all gone before the clock starts; the time is their
 * joins alone (each finds its M, sees it gone, reaps it), per join.
 */
static double join_child(long iters)
{
	mrt_setmaxthreads((int32_t)(join_live + iters + 100));
	for (long i = 0; i < join_live; i++)
		if (mrt_newm(park_fn, NULL, NULL) < 0)
			die("mrt_newm", -EAGAIN);
	struct mrt_mstats st;
	do {
		mrt_mstats(&st);
		sched_yield();
	} while (st.idle < join_live);
	int64_t *ids = malloc(sizeof *ids * (size_t)iters);
	join_gate = 0;
	for (long i = 0; i < iters; i++)
		if ((ids[i] = mrt_newm(join_wait_fn, NULL, NULL)) < 0)
			die("mrt_newm", ids[i]);
	__atomic_store_n(&join_gate, 1, __ATOMIC_RELEASE);
	futexwakeup(&join_gate, INT32_MAX);
	do {
		mrt_mstats(&st);
		sched_yield();
	} while (st.exiting < iters || threads_now() > join_live + 1);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		if (mrt_join(ids[i]) != 0)
			die("mrt_join", -EINVAL);
	int64_t t = now() - t0;
	free(ids);
	return (double)t / (double)iters;
}

static void row_join(void)
{
	long n = quick ? 100 : 500;
	struct variant v[2];
	char name2[64];
	run_live(v, name2, &join_live, join_child, n);
	struct row r = { .key = "join", .title = "15. mrt_join of an M that has ended, with live Ms around",
		         .unit = "us per join", .v = v, .nv = 2, .target = "<= 1.25",
		         .ratio = v[1].med / v[0].med, .ratio_desc = "many / 100" };
	r.holds = r.ratio <= 1.25;
	snprintf(r.note, sizeof r.note, "%ld Ms end together, their threads gone, then each is joined", n);
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 10-14. Blocking sections, the monitor M, spinning Ms (#13)
 *
 * mrt_init gave mrt a hand-off function (bench_handoff), so the monitor M
 * runs through the whole benchmark, asleep but for these rows. Each row's
 * hand-off is what `onhandoff` says; the Ps are tokens.
 * ------------------------------------------------------------------------ */

static int (*onhandoff)(void *p, int err);
static uint64_t nhandoffs;

static int bench_handoff(void *p, int err)
{
	__atomic_fetch_add(&nhandoffs, 1, __ATOMIC_RELAXED);
	int (*f)(void *, int) = __atomic_load_n(&onhandoff, __ATOMIC_ACQUIRE);
	return f != NULL ? f(p, err) : 0; /* none: the token is dropped */
}

static int ptoken;

/* Returning from an M's function ends the M. */
static void fn_exitm(void *arg)
{
	(void)arg;
}

/* Runs `goprog args`, returns the numbers of its one line of output
 * (up to n of them), or -1 if it could not. */
static int rungo(const char *args, double *v, int n)
{
	if (goprog == NULL)
		return -1;
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "%s %s", goprog, args);
	FILE *f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	char line[512];
	int k = -1;
	if (fgets(line, sizeof line, f) != NULL) {
		k = 0;
		for (char *t = strtok(line, " \n"); t != NULL && k < n; t = strtok(NULL, " \n")) {
			char *end;
			double d = strtod(t, &end);
			if (end != t && *end == '\0')
				v[k++] = d;
		}
	}
	if (pclose(f) != 0)
		k = -1;
	return k;
}

static const char *nogo(void)
{
	return goprog == NULL ? "no Go peer (--go, or ./ci/bench with golang-go installed)"
	                      : "the Go peer failed";
}

/* 10. A short section: enter, getpid, exit, on m0 with a P. */
static double section_bare(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		sys0(__NR_getpid);
	return (double)(now() - t0) / (double)iters;
}

static uint64_t sectionlost;

static double section_mrt(long iters)
{
	mrt_setp(&ptoken);
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		mrt_entersyscall();
		sys0(__NR_getpid);
		if (unlikely(mrt_exitsyscall() != 0)) { /* preempted past 20 us */
			sectionlost++;
			mrt_setp(&ptoken);
		}
	}
	double ns = (double)(now() - t0) / (double)iters;
	mrt_setp(NULL);
	return ns;
}

/* The overhead again, load-proof: the fastest of many short batches of
 * each, interleaved, so that a batch the kernel preempted (or whose P the
 * monitor took) counts for nothing. On a quiet machine it agrees with the
 * medians; on a loaded one it is the figure that still means something. */
static double section_bestover(long batches)
{
	enum { BATCH = 200 };
	double best[2] = { 1e18, 1e18 };
	mrt_setp(&ptoken);
	for (long b = 0; b < batches; b++) {
		for (int v = 0; v < 2; v++) {
			int64_t t0 = now();
			for (int i = 0; i < BATCH; i++) {
				if (v == 0) {
					sys0(__NR_getpid);
					continue;
				}
				mrt_entersyscall();
				sys0(__NR_getpid);
				if (unlikely(mrt_exitsyscall() != 0)) {
					sectionlost++;
					mrt_setp(&ptoken);
				}
			}
			double d = (double)(now() - t0) / BATCH;
			if (d < best[v])
				best[v] = d;
		}
	}
	mrt_setp(NULL);
	return best[1] - best[0];
}

static double section_go(long iters, int which)
{
	char args[64];
	double v[2];
	snprintf(args, sizeof args, "getpid %ld", iters);
	return rungo(args, v, 2) == 2 ? v[which] : -1;
}

static double section_gosys(long iters)
{
	return section_go(iters, 0);
}

static double section_goraw(long iters)
{
	return section_go(iters, 1);
}

static void row_section(void)
{
	long n = quick ? 20000 : 2000000;
	struct variant v[] = {
		{ .name = "bare getpid (raw syscall)", .fn = section_bare, .iters = n },
		{ .name = "mrt_entersyscall+getpid+exit", .fn = section_mrt, .iters = n },
		{ .name = "Go syscall.Getpid", .fn = section_gosys, .iters = n },
		{ .name = "Go RawSyscall(SYS_GETPID)", .fn = section_goraw, .iters = n },
	};
	if (goprog == NULL || section_gosys(10) < 0)
		for (int i = 2; i < 4; i++)
			v[i].skipped = true, v[i].why = nogo();
	run_interleaved(v, 4);
	double over = v[1].med - v[0].med;
	double bestover = section_bestover(quick ? 100 : 5000);
	struct row r = { .key = "section", .title = "10. a short blocking section around getpid",
		         .unit = "ns per call", .v = v, .nv = 4, .target = "<= 20 ns over the bare call",
		         .ratio = over, .ratio_desc = "mrt overhead (ns)" };
	r.holds = over <= 20;
	if (!v[2].skipped)
		snprintf(r.note, sizeof r.note,
		         "fastest 200-call batch: mrt over bare %.1f ns; Go's syscall.Getpid over "
		         "its RawSyscall: %.1f ns; %llu of mrt's sections were preempted long "
		         "enough to lose the P",
		         bestover, v[2].med - v[3].med, (unsigned long long)sectionlost);
	else
		snprintf(r.note, sizeof r.note,
		         "fastest 200-call batch: mrt over bare %.1f ns; %llu of mrt's sections "
		         "lost the P (preempted)",
		         bestover, (unsigned long long)sectionlost);
	print_row(&r);
}

/* 9, 12. How soon a blocked section's P runs on another M. The blocker M
 * blocks in read(2) of a pipe; the hand-off starts `runner` on a parked M
 * with the P, which takes the time and writes the pipe. */
enum { MAXBLOCKS = 20000 };
static int bpipe[2];
static int64_t blockt0;
static double blocklat[MAXBLOCKS];
static long nblocks, blocksdone;
static uint32_t blockerdone;
static bool useblock; /* mrt_entersyscallblock rather than the monitor */

static void wait_idle_atleast(int64_t n)
{
	struct mrt_mstats st;
	for (;;) {
		mrt_mstats(&st);
		if (st.idle >= n)
			return;
		for (int i = 0; i < 64; i++)
			arch_procyield(1);
	}
}

static void runner(void *arg)
{
	(void)arg;
	int64_t t1 = mrt_nanotime();
	long i = __atomic_load_n(&blocksdone, __ATOMIC_RELAXED);
	blocklat[i] = (double)(t1 - __atomic_load_n(&blockt0, __ATOMIC_RELAXED)) / 1000;
	char c = 1;
	sys3(__NR_write, bpipe[1], (long)&c, 1);
	mrt_stopm();
}

static int handoff_startrunner(void *p, int err)
{
	if (err != 0)
		return 0;
	int64_t id = mrt_startm(runner, NULL, p);
	return id < 0 ? (int)id : 0;
}

static void blocker(void *arg)
{
	(void)arg;
	for (long i = 0; i < nblocks; i++) {
		wait_idle_atleast(1); /* the runner of the last block parked again */
		__atomic_store_n(&blocksdone, i, __ATOMIC_RELAXED);
		mrt_setp(&ptoken);
		__atomic_store_n(&blockt0, mrt_nanotime(), __ATOMIC_RELAXED);
		if (useblock)
			mrt_entersyscallblock();
		else
			mrt_entersyscall();
		char c;
		sys3(__NR_read, bpipe[0], (long)&c, 1);
		mrt_exitsyscall();
	}
	/* The last runner parked: its sample is ordered before ours by that
	 * (sched.lock), as each earlier one was by the next block's wait; the
	 * pipe orders nothing a race detector sees. */
	wait_idle_atleast(1);
	__atomic_store_n(&blockerdone, 1, __ATOMIC_RELEASE);
	futexwakeup(&blockerdone, 1);
}

/* One run of n blocks: the median and p99 of their latencies, in us. */
static void blocks_mrt(long n, bool block, double *med, double *p99)
{
	useblock = block;
	nblocks = n;
	blockerdone = 0;
	__atomic_store_n(&onhandoff, handoff_startrunner, __ATOMIC_RELEASE);
	int64_t id = mrt_newm(blocker, NULL, NULL);
	if (id < 0)
		die("mrt_newm", id);
	while (__atomic_load_n(&blockerdone, __ATOMIC_ACQUIRE) == 0)
		fwait(&blockerdone, 0);
	mrt_join(id);
	__atomic_store_n(&onhandoff, NULL, __ATOMIC_RELEASE);
	qsort(blocklat, (size_t)n, sizeof blocklat[0], cmpd);
	*med = blocklat[n / 2];
	*p99 = blocklat[n * 99 / 100];
}

static void row_blocks(bool block)
{
	long n = quick ? 100 : 2000;
	if (pipe(bpipe) != 0)
		die("pipe", -errno);
	mrt_newm(park_fn, NULL, NULL); /* the first runner */
	wait_idle_atleast(1);
	struct variant v[4] = {
		{ .name = block ? "mrt_entersyscallblock: median" : "mrt, monitor retakes: median" },
		{ .name = block ? "mrt_entersyscallblock: p99" : "mrt, monitor retakes: p99" },
		{ .name = "Go, sysmon retakes: median" },
		{ .name = "Go, sysmon retakes: p99" },
	};
	int nv = block ? 2 : 4;
	char args[64];
	snprintf(args, sizeof args, "retake %ld", n);
	double gv[2];
	bool havego = !block && rungo("retake 10", gv, 2) == 2;
	if (!block && !havego)
		for (int i = 2; i < 4; i++)
			v[i].skipped = true, v[i].why = nogo();
	double m, p;
	blocks_mrt(n / 10 + 1, block, &m, &p); /* warm-up */
	for (int r = 0; r < nruns; r++) {
		blocks_mrt(n, block, &v[0].v[r], &v[1].v[r]);
		if (havego && rungo(args, gv, 2) == 2)
			v[2].v[r] = gv[0], v[3].v[r] = gv[1];
	}
	for (int i = 0; i < nv; i++)
		if (!v[i].skipped)
			summarize(&v[i], nruns);
	char title[128];
	snprintf(title, sizeof title,
	         block ? "12. mrt_entersyscallblock: until the P runs on another M (%ld blocks a run)"
	               : "11. hand-off of a blocked section's P: until it runs on another M (%ld "
	                 "blocks a run)",
	         n);
	struct row r = { .key = block ? "enterblock" : "retake", .title = title,
		         .unit = "us, from entry", .v = v, .nv = nv };
	if (block) {
		r.target = "median <= 10 us";
		r.ratio = v[0].med;
		r.ratio_desc = "median (us)";
		r.holds = v[0].med <= 10;
		snprintf(r.note, sizeof r.note,
		         "the hand-off runs on the blocking M itself and wakes a parked M (a futex)");
	} else {
		r.target = "p99 <= 50 us with the default threshold (20 us)";
		r.ratio = v[1].med;
		r.ratio_desc = "p99 (us)";
		r.holds = v[1].med <= 50;
		snprintf(r.note, sizeof r.note, "%s",
		         havego ? "Go: GOMAXPROCS=1, a goroutine blocked in syscall.Read while "
		                  "another is runnable"
		                : "");
	}
	print_row(&r);
	mrt_startm(fn_exitm, NULL, NULL); /* the runner goes */
	close(bpipe[0]);
	close(bpipe[1]);
}

static void row_retake(void)
{
	row_blocks(false);
}

static void row_enterblock(void)
{
	row_blocks(true);
}

/* 13. The monitor's wake-ups while no M is in a section, over a window in
 * which Ms are handed work and park (no section). Go: its sysmon while one
 * goroutine computes (it polls while a P runs). */
static double idle_mrt(long ms)
{
	struct mrt_sysmonstats a, b;
	int64_t deadline = now() + 10 * 1000000000LL;
	do /* asleep since the last section */
		mrt_sysmonstats(&a);
	while (!a.sleeping && now() < deadline);
	int64_t t0 = now(), t1;
	do {
		back = 0;
		if (mrt_startm(handoff_fn, NULL, NULL) < 0)
			die("mrt_startm", -EAGAIN);
		while (__atomic_load_n(&back, __ATOMIC_ACQUIRE) == 0)
			fwait(&back, 0);
		wait_idle_n(1);
	} while ((t1 = now()) - t0 < ms * 1000000);
	mrt_sysmonstats(&b);
	return (double)(b.wakeups - a.wakeups) / ((double)(t1 - t0) / 1e9);
}

static double idle_go(long ms)
{
	char args[64];
	double v;
	snprintf(args, sizeof args, "idle %.3f", (double)ms / 1000);
	return rungo(args, &v, 1) == 1 ? v : -1;
}

static void row_monitoridle(void)
{
	long ms = quick ? 100 : 1000;
	int64_t id = mrt_newm(handoff_fn, NULL, NULL);
	if (id < 0)
		die("mrt_newm", id);
	wait_idle_n(1);
	struct variant v[] = {
		{ .name = "mrt monitor, Ms busy, no section", .fn = idle_mrt, .iters = ms },
		{ .name = "Go sysmon, a goroutine computing", .fn = idle_go, .iters = ms },
	};
	if (goprog == NULL || idle_go(10) < 0)
		v[1].skipped = true, v[1].why = nogo();
	/* No warm-up of a whole window: it would only double the row's time. */
	for (int r = 0; r < nruns; r++)
		for (int i = 0; i < 2; i++)
			if (!v[i].skipped)
				v[i].v[r] = v[i].fn(v[i].iters);
	for (int i = 0; i < 2; i++)
		if (!v[i].skipped)
			summarize(&v[i], nruns);
	struct row r = { .key = "monitoridle",
		         .title = "13. monitor wake-ups while no M is in a blocking section",
		         .unit = "wake-ups per second, counted", .v = v, .nv = 2, .target = "0",
		         .ratio = v[0].max, .ratio_desc = "mrt, the most of any run" };
	r.holds = v[0].max == 0;
	print_row(&r);
	mrt_startm(nop, NULL, NULL);
	mrt_join(id);
}

/* 14. One way, mrt_startm until the function runs: to a spinning M, to a
 * parked one, and a futex wake to a sleeping thread (the floor mrt_startm
 * to a parked M rests on). The clock is libc's clock_gettime, the vDSO:
 * on an M (clone model too) it touches no thread state but on an error,
 * and it costs tens of ns where a raw system call costs hundreds. Before
 * each parked hand-off the same pause as the floor's, so that the M is
 * asleep in the kernel, not on its way there. */
static int64_t oneway_t0;
static double oneway_lat[MAXBLOCKS]; /* one run's samples: the row reports their median */
static long oneway_i;
static uint32_t oneway_ack;

static double oneway_median(long n)
{
	qsort(oneway_lat, (size_t)n, sizeof oneway_lat[0], cmpd);
	return oneway_lat[n / 2];
}

static void oneway_fn(void *arg)
{
	(void)arg;
	int64_t t1 = now();
	oneway_lat[oneway_i] = (double)(t1 - oneway_t0);
	__atomic_store_n(&oneway_ack, 1, __ATOMIC_RELEASE);
	mrt_stopm();
}

static double oneway_mrt(long iters)
{
	bool spin = cfg.spinns != 0;
	if (iters > MAXBLOCKS)
		iters = MAXBLOCKS;
	for (long i = 0; i < iters; i++) {
		oneway_i = i;
		wait_idle_n(1);
		if (!spin)
			for (int k = 0; k < 2000; k++)
				arch_procyield(1);
		oneway_ack = 0;
		oneway_t0 = now();
		if (mrt_startm(oneway_fn, NULL, NULL) < 0)
			die("mrt_startm", -EAGAIN);
		while (__atomic_load_n(&oneway_ack, __ATOMIC_ACQUIRE) == 0)
			arch_procyield(1);
	}
	return oneway_median(iters);
}

static uint32_t fw_word, fw_ack, fw_stop;
static int64_t fw_t0;

static void *fw_sleeper(void *arg)
{
	(void)arg;
	for (;;) {
		while (__atomic_load_n(&fw_word, __ATOMIC_ACQUIRE) == 0)
			fwait(&fw_word, 0);
		if (__atomic_load_n(&fw_stop, __ATOMIC_ACQUIRE))
			return NULL;
		oneway_lat[oneway_i] = (double)(now() - fw_t0);
		__atomic_store_n(&fw_word, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&fw_ack, 1, __ATOMIC_RELEASE);
	}
}

static double oneway_futex(long iters)
{
	pthread_t t;
	fw_word = fw_ack = fw_stop = 0;
	if (iters > MAXBLOCKS)
		iters = MAXBLOCKS;
	pthread_create(&t, NULL, fw_sleeper, NULL);
	for (long i = 0; i < iters; i++) {
		oneway_i = i;
		fw_ack = 0;
		/* Let the sleeper get into its futex wait. */
		for (int k = 0; k < 2000; k++)
			arch_procyield(1);
		fw_t0 = now();
		__atomic_store_n(&fw_word, 1, __ATOMIC_RELEASE);
		fwake(&fw_word);
		while (__atomic_load_n(&fw_ack, __ATOMIC_ACQUIRE) == 0)
			arch_procyield(1);
	}
	__atomic_store_n(&fw_stop, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&fw_word, 1, __ATOMIC_RELEASE);
	fwake(&fw_word);
	pthread_join(t, NULL);
	return oneway_median(iters);
}

static double oneway_spin(long iters)
{
	/* Spinning on for this variant only: cfg is mrt_init's, and the other
	 * rows measure a parked M. mrt_init would take spin_ns; the benchmark
	 * sets the fields mrt_init fills, between runs, with the M asleep or
	 * spinning: mspin reads spin_ns once as it parks (acquire, pairing
	 * with the release here that publishes maxspinning too). */
	cfg.maxspinning = 1;
	store_release(&cfg.spinns, 1000 * 1000 * 1000);
	double ns = oneway_mrt(iters);
	/* Once it spins again: it read the setting before it said so, under
	 * sched.lock, which wait_idle_n takes after it. */
	wait_idle_n(1);
	store_release(&cfg.spinns, 0);
	/* It spins still, with its deadline: one more hand-off, and it reads
	 * 0 as it parks and sleeps. */
	oneway_ack = 0;
	mrt_startm(oneway_fn, NULL, NULL);
	while (__atomic_load_n(&oneway_ack, __ATOMIC_ACQUIRE) == 0)
		arch_procyield(1);
	return ns;
}

static void row_spin(void)
{
	long n = quick ? 500 : 20000;
	int64_t id = mrt_newm(handoff_fn, NULL, NULL);
	if (id < 0)
		die("mrt_newm", id);
	wait_idle_n(1);
	uint64_t s0 = sched.nspinhandoffs;
	struct variant v[] = {
		{ .name = "mrt_startm to a spinning M", .fn = oneway_spin, .iters = n },
		{ .name = "mrt_startm to a parked M", .fn = oneway_mrt, .iters = n },
		{ .name = "floor: futex wake, one way", .fn = oneway_futex, .iters = n },
	};
	run_interleaved(v, 3);
	for (int i = 0; i < 3; i++)
		v[i].med /= 1000, v[i].min /= 1000, v[i].max /= 1000;
	struct row r = { .key = "spin", .title = "14. one-way hand-off: mrt_startm until fn runs",
		         .unit = "us, median of a run's hand-offs", .v = v, .nv = 3, .target = "spinning median <= 1 us",
		         .ratio = v[0].med, .ratio_desc = "spinning (us)" };
	r.holds = v[0].med <= 1.0;
	snprintf(r.note, sizeof r.note,
	         "spinning / futex floor = %.3f, parked / futex floor = %.3f; %llu hand-offs by store",
	         v[0].med / v[2].med, v[1].med / v[2].med,
	         (unsigned long long)(sched.nspinhandoffs - s0));
	print_row(&r);
	mrt_startm(nop, NULL, NULL);
	mrt_join(id);
}

/* ------------------------------------------------------------------------
 * 16. mrt_nanotime; 17. mrt_cpu. Loops of calls; on m0 unless named.
 * ------------------------------------------------------------------------ */

/* Keeps a call's result alive without adding work to the loop. */
#define KEEP(x) __asm__ volatile("" ::"r"(x))

static double nt_mrt(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		KEEP(mrt_nanotime());
	return (double)(now() - t0) / (double)iters;
}

static double nt_glibc(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		KEEP(ts.tv_nsec);
	}
	return (double)(now() - t0) / (double)iters;
}

static double nt_syscall(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		struct l_timespec ts;
		sys2(__NR_clock_gettime, L_CLOCK_MONOTONIC, &ts);
		KEEP(ts.nsec);
	}
	return (double)(now() - t0) / (double)iters;
}

/* On a user g (of m0): the vDSO's code runs on g0 (oscallstack). */
static long ntg_iters;
static double ntg_result;

static void ntg_fn(void *arg)
{
	(void)arg;
	int64_t t0 = mrt_nanotime();
	for (long i = 0; i < ntg_iters; i++)
		KEEP(mrt_nanotime());
	ntg_result = (double)(mrt_nanotime() - t0) / (double)ntg_iters;
}

static double nt_mrt_g(long iters)
{
	static mrt_g *g;
	if (g == NULL)
		mrt_malg(&g, 64 << 10);
	ntg_iters = iters;
	mrt_gostart(g, ntg_fn, NULL);
	mrt_gogo(g);
	return ntg_result;
}

static void row_nanotime(void)
{
	long n = quick ? 100000 : 5000000;
	struct variant v[] = {
		{ .name = "mrt_nanotime", .fn = nt_mrt, .iters = n },
		{ .name = "glibc clock_gettime (vDSO)", .fn = nt_glibc, .iters = n },
		{ .name = "clock_gettime system call", .fn = nt_syscall, .iters = n / 10 },
		{ .name = "mrt_nanotime on a user g", .fn = nt_mrt_g, .iters = n },
	};
	run_interleaved(v, 4);
	struct row r = { .key = "nanotime", .title = "16. mrt_nanotime: CLOCK_MONOTONIC",
		         .unit = "ns per call (loop included)", .v = v, .nv = 4, .target = "<= 1.2",
		         .ratio = v[0].med / v[1].med, .ratio_desc = "mrt / glibc" };
	r.holds = r.ratio <= 1.2;
	snprintf(r.note, sizeof r.note,
	         "system call / mrt = %.1f; on a user g the vDSO runs on g0: %.3f x glibc",
	         v[2].med / v[0].med, v[3].med / v[1].med);
	print_row(&r);
}

static double cpu_mrt(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		KEEP(mrt_cpu());
	return (double)(now() - t0) / (double)iters;
}

static double cpu_glibc(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++)
		KEEP(sched_getcpu());
	return (double)(now() - t0) / (double)iters;
}

static double cpu_syscall(long iters)
{
	int64_t t0 = now();
	for (long i = 0; i < iters; i++) {
		uint32_t c;
		sys3(__NR_getcpu, &c, 0, 0);
		KEEP(c);
	}
	return (double)(now() - t0) / (double)iters;
}

/* On an M of mrt's own (clone model: its own struct rseq in its TLS
 * block), timed with mrt_nanotime: no libc on an M. */
static long cpum_iters;
static double cpum_result;
static uint32_t cpum_done;

static void cpum_fn(void *arg)
{
	(void)arg;
	mrt_cpu(); /* the first call registers */
	int64_t t0 = mrt_nanotime();
	for (long i = 0; i < cpum_iters; i++)
		KEEP(mrt_cpu());
	cpum_result = (double)(mrt_nanotime() - t0) / (double)cpum_iters;
	__atomic_store_n(&cpum_done, 1, __ATOMIC_RELEASE);
}

static double cpu_mrt_m(long iters)
{
	cpum_iters = iters;
	cpum_done = 0;
	int64_t id = mrt_newm(cpum_fn, NULL, NULL);
	if (id < 0)
		die("mrt_newm", id);
	mrt_join(id);
	return cpum_result;
}

static void row_cpu(void)
{
	long n = quick ? 100000 : 10000000;
	struct variant v[] = {
		{ .name = "mrt_cpu", .fn = cpu_mrt, .iters = n },
		{ .name = "glibc sched_getcpu (rseq)", .fn = cpu_glibc, .iters = n },
		{ .name = "getcpu system call", .fn = cpu_syscall, .iters = n / 20 },
		{ .name = "mrt_cpu on a new M", .fn = cpu_mrt_m, .iters = n },
	};
	run_interleaved(v, 4);
	struct row r = { .key = "cpu", .title = "17. mrt_cpu: the current CPU",
		         .unit = "ns per call (loop included)", .v = v, .nv = 4, .target = "<= 1.2",
		         .ratio = v[0].med / v[1].med, .ratio_desc = "mrt / glibc" };
	r.holds = r.ratio <= 1.2;
	snprintf(r.note, sizeof r.note,
	         "system call / mrt = %.1f; on an M (%s model): %.3f x glibc", v[2].med / v[0].med,
	         mrt_threadmodel(), v[3].med / v[1].med);
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 18. One system call on every M: mrt_allthreadssyscall(SYS_setresuid) with
 * 1,000 live Ms, beside glibc's own setresuid() over as many pthreads (its
 * SIGSETXID broadcast, the same mechanism). Each in a child of its own.
 * As root each call really changes the credentials: the effective uid goes
 * to nobody and back, the saved uid keeping root; otherwise setresuid(-1,
 * -1, -1), which changes nothing but still reaches every thread.
 * ------------------------------------------------------------------------ */

static long ats_live;
enum { ats_calls = 20 };
/* Each run's ms per call, filled in the child (ats_runs). */
static double ats_v[MAXRUNS];

/* The i-th call's arguments. */
static void ats_args(int i, long a[3])
{
	bool root = getuid() == 0; /* the real uid stays: root may go back */
	a[0] = -1;
	a[1] = root ? (i % 2 == 0 ? 65534 : 0) : -1;
	a[2] = root ? 0 : -1;
}

static double ats_mrt(long calls)
{
	mrt_setmaxthreads((int32_t)ats_live + 100);
	for (long i = 0; i < ats_live; i++)
		if (mrt_newm(park_fn, NULL, NULL) < 0)
			die("mrt_newm", -EAGAIN);
	struct mrt_mstats st;
	do {
		mrt_mstats(&st);
		sched_yield();
	} while (st.idle < ats_live);
	long a[3];
	for (int i = 0; i < 4; i++) { /* warm: the handler, the template thread */
		ats_args(i, a);
		long r = mrt_allthreadssyscall(SYS_setresuid, a[0], a[1], a[2], 0, 0, 0);
		if (r != 0)
			die("mrt_allthreadssyscall", r);
	}
	for (int r = 0; r < nruns; r++) {
		int64_t t0 = now();
		for (long i = 0; i < calls; i++) {
			ats_args((int)i, a);
			mrt_allthreadssyscall(SYS_setresuid, a[0], a[1], a[2], 0, 0, 0);
		}
		ats_v[r] = (double)(now() - t0) / (double)calls / 1e6;
	}
	return 0;
}

static double ats_glibc(long calls)
{
	pthread_attr_t pa;
	pthread_attr_init(&pa);
	pthread_attr_setstacksize(&pa, 64 << 10);
	for (long i = 0; i < ats_live; i++) {
		pthread_t t;
		if (pthread_create(&t, &pa, parked_thread, NULL) != 0)
			die("pthread_create", -EAGAIN);
	}
	while (__atomic_load_n(&parked_n, __ATOMIC_ACQUIRE) < ats_live)
		sched_yield();
	long a[3];
	for (int i = 0; i < 4; i++) {
		ats_args(i, a);
		if (setresuid((uid_t)a[0], (uid_t)a[1], (uid_t)a[2]) != 0)
			die("setresuid", -errno);
	}
	for (int r = 0; r < nruns; r++) {
		int64_t t0 = now();
		for (long i = 0; i < calls; i++) {
			ats_args((int)i, a);
			setresuid((uid_t)a[0], (uid_t)a[1], (uid_t)a[2]);
		}
		ats_v[r] = (double)(now() - t0) / (double)calls / 1e6;
	}
	return 0;
}

/* fn in a child of its own, which sets up its threads once and times
 * nruns runs of calls on them (making 1,000 threads per run would cost the
 * row more than the calls): each run's figure into v. */
static void ats_runs(double (*fn)(long), long calls, double *v)
{
	int p[2];
	for (int r = 0; r < nruns; r++)
		v[r] = -1;
	if (pipe(p) != 0)
		return;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		fn(calls);
		size_t k = (size_t)nruns * sizeof(double);
		_exit(write(p[1], ats_v, k) == (ssize_t)k ? 0 : 1);
	}
	close(p[1]);
	double got[MAXRUNS];
	size_t k = (size_t)nruns * sizeof(double);
	if (read(p[0], got, k) == (ssize_t)k)
		memcpy(v, got, k);
	close(p[0]);
	waitpid(pid, NULL, 0);
}

static void row_allthreads(void)
{
	ats_live = quick ? 100 : 1000;
	struct variant v[2] = { { .name = "mrt_allthreadssyscall" },
		                { .name = "glibc setresuid, as many pthreads" } };
	char name0[64], name1[64];
	snprintf(name0, sizeof name0, "mrt_allthreadssyscall, %ld Ms", ats_live);
	snprintf(name1, sizeof name1, "glibc setresuid(), %ld pthreads", ats_live);
	v[0].name = name0;
	v[1].name = name1;
	ats_runs(ats_mrt, ats_calls, v[0].v);
	ats_runs(ats_glibc, ats_calls, v[1].v);
	summarize(&v[0], nruns);
	summarize(&v[1], nruns);
	bool root = getuid() == 0;
	struct row r = { .key = "allthreads",
		         .title = "18. one system call on every thread: setresuid",
		         .unit = "ms per call", .v = v, .nv = 2, .target = "<= 5 ms (1,000 Ms)",
		         .ratio = v[0].med / v[1].med, .ratio_desc = "mrt / glibc" };
	/* The target is at 1,000 Ms: a quick run's 100 say nothing of it. */
	r.holds = ats_live == 1000 && v[0].med <= 5.0;
	snprintf(r.note, sizeof r.note, "%s; median of %d calls per run%s",
	         root ? "as root: each call moves the effective uid to 65534 and back"
	              : "not root: setresuid(-1, -1, -1), no change made",
	         ats_calls, quick ? "; quick: 100 Ms, the target not judged" : "");
	print_row(&r);
}

/* ------------------------------------------------------------------------
 * 19. Mappings per parked M and per live g stack; 20. the most live parked
 * Ms.
 * Each in a child of its own, which may switch to mprotect guards first
 * (sysguardmprotect, what MRTDEBUG=mprotectguards=1 does at mrt_init). The
 * counts are exact: one run is all runs.
 * ------------------------------------------------------------------------ */

static int nmaps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;
	while (f != NULL && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f != NULL)
		fclose(f);
	return n;
}

/* What a child of row_maps makes, and a word it shares with the parent
 * (row_maxms: the mapping count at the peak). */
static char mapswhat;
static bool mapsmprotect;
static double *sharedword;

/* Lines of /proc/self/maps per parked M ('m'), live 64 KiB g stack ('g')
 * or blocked 64 KiB pthread ('p'), around n of them. */
static double maps_child(long n)
{
	if (mapsmprotect)
		sysguardmprotect();
	mrt_setmaxthreads((int32_t)n + 100);
	int before = 0;
	if (mapswhat == 'm') {
		if (mrt_newm(park_fn, NULL, NULL) < 0) /* the first slots' slabs */
			die("mrt_newm", -EAGAIN);
		wait_idle_n(1);
		before = nmaps();
		for (long i = 0; i < n; i++)
			if (mrt_newm(park_fn, NULL, NULL) < 0)
				die("mrt_newm", -EAGAIN);
		wait_idle_n(n + 1);
	} else if (mapswhat == 'g') {
		mrt_g *gp;
		if (mrt_malg(&gp, 64 << 10) < 0)
			die("mrt_malg", -ENOMEM);
		before = nmaps();
		for (long i = 0; i < n; i++)
			if (mrt_malg(&gp, 64 << 10) < 0)
				die("mrt_malg", -ENOMEM);
	} else {
		before = nmaps();
		park_pthreads(n, false);
	}
	return (double)(nmaps() - before) / (double)n;
}

static void row_maps(void)
{
	long n = quick ? 100 : 1000;
	static const struct {
		const char *name;
		char what;
		bool mprotect;
	} kinds[] = {
		{ "mrt parked M", 'm', false },
		{ "mrt live g stack (64 KiB)", 'g', false },
		{ "pthread blocked (64 KiB stack)", 'p', false },
		{ "mrt parked M, mprotect guards", 'm', true },
		{ "mrt live g stack, mprotect guards", 'g', true },
	};
	enum { nk = sizeof kinds / sizeof kinds[0] };
	struct variant v[nk];
	memset(v, 0, sizeof v);
	for (int i = 0; i < nk; i++) {
		v[i].name = kinds[i].name;
		mapswhat = kinds[i].what;
		mapsmprotect = kinds[i].mprotect;
		double per = in_child(maps_child, n);
		for (int r = 0; r < nruns; r++)
			v[i].v[r] = per;
		summarize(&v[i], nruns);
	}
	double worst = v[0].med > v[1].med ? v[0].med : v[1].med;
	struct row r = { .key = "maps", .title = "19. lines of /proc/self/maps per parked M and per "
		                                 "live g stack",
		         .unit = "mappings per thing, counted around n of them", .v = v, .nv = nk,
		         .target = "<= 0.05 each where the kernel has guard regions", .ratio = worst,
		         .ratio_desc = "the larger of mrt's two" };
	r.holds = worst >= 0 && worst <= 0.05;
	snprintf(r.note, sizeof r.note,
	         "n = %ld; guards here: %s; with mprotect guards a guarded stack is two lines "
	         "(its guard, itself), the floor for a guard below each of an M's two stacks",
	         n, sysguardsplits() ? "mprotect (no guard regions)" : "the kernel's guard regions");
	print_row(&r);
}

/* How many parked Ms ('m') or blocked 64 KiB pthreads ('p') a child makes,
 * up to n; the mapping count then goes to the shared word. */
static double max_child(long n)
{
	long made = 0;
	if (mapswhat == 'm') {
		mrt_setmaxthreads((int32_t)n + 100);
		for (; made < n; made++)
			if (mrt_newm(park_fn, NULL, NULL) < 0)
				break;
		wait_idle_n(made);
	} else {
		made = park_pthreads(n, true);
	}
	*sharedword = nmaps();
	return (double)made;
}

/* A number from /proc/sys, or -1. */
static long sysctl_read(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");
	if (f != NULL && fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f != NULL)
		fclose(f);
	return v;
}

static void row_maxms(void)
{
	long n = quick ? 2000 : 100000;
	/* kernel.pid_max and kernel.threads-max must let 100,000 threads be:
	 * ci/bench raises them for the run where it may (root, a writable
	 * /proc/sys); vm.max_map_count is left as it is. */
	struct variant v[2] = { { .name = "mrt parked Ms" },
		                { .name = "pthreads blocked (64 KiB stack)" } };
	const char what[2] = { 'm', 'p' };
	double got[2][2];
	if (sharedword == NULL) {
		sharedword = mmap(NULL, sizeof *sharedword, PROT_READ | PROT_WRITE,
		                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sharedword == MAP_FAILED)
			die("mmap", -errno);
	}
	bool ok = true;
	for (int i = 0; i < 2; i++) {
		mapswhat = what[i];
		*sharedword = -1;
		got[i][0] = in_child(max_child, n);
		got[i][1] = *sharedword;
		ok = ok && got[i][0] >= 0;
		for (int r = 0; r < nruns; r++)
			v[i].v[r] = got[i][0];
		summarize(&v[i], nruns);
	}
	char title[96];
	snprintf(title, sizeof title, "20. the most live parked threads, asked for %ld", n);
	struct row r = { .key = "maxms", .title = title, .unit = "threads reached", .v = v,
		         .nv = 2, .target = ">= 100000 Ms with the default vm.max_map_count",
		         .ratio = ok ? got[0][0] : -1, .ratio_desc = "mrt Ms" };
	r.holds = ok && got[0][0] >= 100000;
	snprintf(r.note, sizeof r.note,
	         "mappings then: mrt %.0f, pthreads %.0f; vm.max_map_count %ld, kernel.pid_max "
	         "%ld, kernel.threads-max %ld",
	         ok ? got[0][1] : -1, ok ? got[1][1] : -1, sysctl_read("/proc/sys/vm/max_map_count"),
	         sysctl_read("/proc/sys/kernel/pid_max"), sysctl_read("/proc/sys/kernel/threads-max"));
	print_row(&r);
}

/* ------------------------------------------------------------------------ */

static void machine(void)
{
	char model[256] = "unknown";
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (f != NULL) {
		char line[512];
		while (fgets(line, sizeof line, f) != NULL) {
			char *c = strchr(line, ':');
			if (c != NULL && (strncmp(line, "model name", 10) == 0 ||
			                  strncmp(line, "uarch", 5) == 0 ||
			                  strncmp(line, "isa", 3) == 0)) {
				snprintf(model, sizeof model, "%s", c + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		}
		fclose(f);
	}
	struct utsname u;
	uname(&u);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (json)
		printf("{\n  \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, \"kernel\": \"%s %s\", "
		       "\"arch\": \"%s\", \"compiler\": \"%s\", \"threads\": \"%s\", \"quick\": %s, "
		       "\"runs\": %d},\n  \"rows\": [",
		       model, cores, u.sysname, u.release, u.machine, __VERSION__, mrt_threadmodel(),
		       quick ? "true" : "false", nruns);
	else
		printf("mrt-bench%s: cpu %s, %ld cores, %s %s %s, compiler %s, %s model\n",
		       quick ? " --quick" : "", model, cores, u.sysname, u.release, u.machine,
		       __VERSION__, mrt_threadmodel());
}

int main(int argc, char **argv)
{
	if (readlink("/proc/self/exe", self_exe, sizeof self_exe - 1) < 0)
		snprintf(self_exe, sizeof self_exe, "%s", argv[0]);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--row") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--go") == 0 && i + 1 < argc)
			goprog = argv[++i];
		else if (strcmp(argv[i], "--syscall-loop") == 0 && i + 2 < argc) {
			syscall_loop(argv[i + 1], atol(argv[i + 2]));
			return 0;
		} else if (strcmp(argv[i], "--extram-loop") == 0 && i + 1 < argc) {
			extram_loop(atol(argv[i + 1]));
			return 0;
		} else if (strcmp(argv[i], "--switch-loop") == 0 && i + 2 < argc) {
			switch_loop(argv[i + 1], atol(argv[i + 2]));
			return 0;
		} else {
			fprintf(stderr, "usage: mrt-bench [--quick] [--json] [--row NAME] [--go PATH]\n");
			return 2;
		}
	}
	if (quick)
		nruns = 5;
	if (goprog == NULL && getenv("MRT_BENCH_GO") != NULL && *getenv("MRT_BENCH_GO"))
		goprog = getenv("MRT_BENCH_GO");
	/* A hand-off, so that the monitor M runs (asleep outside rows 10-14). */
	struct mrt_config mc = MRT_CONFIG_INIT;
	mc.handoff = bench_handoff;
	int err = mrt_init(&mc);
	if (err < 0)
		die("mrt_init", err);
	machine();
	if (want("cold"))
		row_cold();
	if (want("syscalls"))
		row_syscalls();
	if (want("handoff"))
		row_handoff();
	if (want("switch"))
		row_switch();
	if (want("switchinsns"))
		row_switchinsns();
	if (want("getg"))
		row_getg();
	if (want("memory"))
		row_memory();
	if (want("scale"))
		row_scale();
	if (want("extram"))
		row_extram();
	if (want("extram-syscalls"))
		row_extram_syscalls();
	if (want("section"))
		row_section();
	if (want("retake"))
		row_retake();
	if (want("enterblock"))
		row_enterblock();
	if (want("monitoridle"))
		row_monitoridle();
	if (want("spin"))
		row_spin();
	if (want("join"))
		row_join();
	if (want("nanotime"))
		row_nanotime();
	if (want("cpu"))
		row_cpu();
	if (want("allthreads"))
		row_allthreads();
	if (want("maps"))
		row_maps();
	if (want("maxms"))
		row_maxms();
	if (json)
		printf("\n  ]\n}\n");
	return 0;
}
