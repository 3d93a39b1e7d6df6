/*
 * test_slab.c — what an M and a g stack cost in mappings (#15 item 3), and
 * what a parked M costs in memory (#15 item 6).
 *
 * Every stack has a guard page below it. Made with mprotect, a guard splits
 * the mapping it is in: two lines of /proc/self/maps per stack, four per M
 * (g0 and gsignal), so vm.max_map_count (65,530 by default) stopped
 * creation at 16,376 Ms. Where the kernel has guard regions
 * (MADV_GUARD_INSTALL, Linux 6.13), a guard is a mark that leaves the
 * mapping whole, and stacks carved out of large shared slabs cost a
 * fraction of a mapping each. The counts are the kernel's (/proc/self/maps),
 * measured around many Ms or gs made at once; each case runs in a child
 * process with an mrt_init of its own.
 *
 * Whether the kernel has guard regions is decided here on its own, the way
 * the kernel answers, not by asking mrt: the advice must be accepted and a
 * write by the kernel into the guarded page must fail (QEMU user mode
 * accepts the advice and does nothing, so there mrt falls back to
 * mprotect, and so do the expectations here). Each case runs with
 * mprotect guards too (MRTDEBUG=mprotectguards=1), as a kernel without
 * guard regions has them.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN, MRT_ASAN */

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SKIP = 77 };

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* the kernel's uapi mman-common.h */
#endif

/* Does the kernel under this process make guard regions? */
static bool kernel_guards(void)
{
	size_t ps = kernel_pagesize();
	void *p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	bool yes = false;
	if (madvise(p, ps, MADV_GUARD_INSTALL) == 0)
		yes = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, p) != 0 && errno == EFAULT;
	munmap(p, ps);
	return yes;
}

/* Whether the process's mapping count is mrt's, around new threads or
 * not: under TSan and Valgrind the tool maps memory of its own for every
 * thread and every mapping, under ASan for every thread (its fake stack
 * for use after return, its allocator cache). */
static bool maps_are_ours(bool threads)
{
	return !MRT_TSAN && !under_valgrind() && !(threads && MRT_ASAN);
}

static int nitems(void)
{
	return quick ? 64 : 256;
}

/* Prints the child's line that holds what. */
static void report(const struct child *c, const char *what)
{
	const char *l = strstr(c->out, what);
	if (l != NULL) {
		while (l > c->out && l[-1] != '\n')
			l--;
		print_message("%.*s\n", (int)strcspn(l, "\n"), l);
	}
}

/* The child exited 0 (what it printed is its report). */
static void assert_child_exit0(const struct child *c)
{
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0) {
		print_error("child: status 0x%x; output:\n%s\n", c->status, c->out);
		fail();
	}
}

/* ------------------------------------------------------------------------
 * Which guards mrt makes.
 * ------------------------------------------------------------------------ */

/* mrt_init finds what this test finds: guard regions where the kernel
 * makes them, mprotect elsewhere (QEMU user mode, which accepts the advice
 * and does nothing; a kernel before 6.13, which refuses it), and mprotect
 * when MRTDEBUG=mprotectguards=1 asks for it. A g stack's guard is a guard either way;
 * only mprotect's shows in /proc/self/maps. */
static void check_guard(bool splits)
{
	mrt_g *gp;
	CHILD_CHECK(mrt_malg(&gp, 64 << 10) == 0);
	uintptr_t lo, hi, mlo, mhi;
	mrt_gstack(gp, &lo, &hi);
	CHILD_CHECK(guarded(lo - 1) && guarded(lo - kernel_pagesize()) && !guarded(lo));
	char perms[5];
	CHILD_CHECK(maps_find(lo - 1, perms, &mlo, &mhi));
	if (splits)
		CHILD_CHECK(memcmp(perms, "---", 3) == 0 && mhi == lo);
	else
		CHILD_CHECK(memcmp(perms, "rw", 2) == 0 && mhi >= hi); /* one mapping */
	CHILD_CHECK(mrt_gfree(gp) == 0);
}

static void child_guard_mode(void)
{
	bool guards = kernel_guards();
	CHILD_CHECK(mrt_init(NULL) == 0);
	fprintf(stderr, "guards: %s\n",
	        sysguardsplits() ? emulated ? "mprotect (QEMU user mode answers 0 to "
	                                      "MADV_GUARD_INSTALL and makes no guard)"
	                                    : "mprotect (the kernel has no guard regions)"
	                         : "the kernel's guard regions (MADV_GUARD_INSTALL)");
	CHILD_CHECK(sysguardsplits() == !guards);
	check_guard(sysguardsplits());
}

static void child_guard_forced(void)
{
	setenv("MRTDEBUG", "mprotectguards=1", 1);
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(sysguardsplits());
	check_guard(true);
}

static void test_guards_are_the_kernels_or_mprotect(void **state)
{
	(void)state;
	struct child c;
	run_child(child_guard_mode, 60, &c);
	report(&c, "guards: ");
	assert_child_exit0(&c);
	run_child(child_guard_forced, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * Mappings per parked M, per live g stack, and a pthread's for comparison.
 * ------------------------------------------------------------------------ */

/* The bound n parked Ms must keep, each, for the guards this kernel
 * makes. With guard regions: a twentieth of a mapping for mrt's own
 * stacks. With mprotect: two lines per guarded stack, which no layout with
 * a guard below each of an M's two stacks can go below (each guard is a
 * line, and so is each stack between two guards). In the pthread model,
 * libc's too: a pthread's guard and stack, and glibc's malloc arenas — a
 * thread makes one at its first malloc (pthread_getattr_np's, in minit),
 * two lines each, until there are 8 per CPU — a cost of the process, not
 * of each M, spread here over the n. And mrt's own tables of the
 * process: the index of Ms by id (core/mindex.c) grows into a mapping of
 * its own as Ms are added, a line or two, also spread over the n. */
static double m_bound(bool guards, int n)
{
	double libc = 0;
	if (pthread_model())
		libc = 2 + 2.0 * 8 * (double)sysconf(_SC_NPROCESSORS_ONLN) / n;
	double mine = (guards ? 0.05 : pthread_model() ? 2 : 4) + 2.0 / n;
	return libc + mine;
}

/* Each case twice: with the guards mrt_init finds here, and with mprotect
 * (MRTDEBUG=mprotectguards=1), as on a kernel without guard regions. */
static bool forcemprotect;

static bool init_for_case(void)
{
	if (forcemprotect)
		setenv("MRTDEBUG", "mprotectguards=1", 1);
	CHILD_CHECK(mrt_init(NULL) == 0);
	return !sysguardsplits();
}

static void child_parked_ms(void)
{
	int n = nitems();
	bool guards = init_for_case();
	CHILD_CHECK(mrt_setmaxthreads(n + 16) > 0);
	/* Warm: the first M's stacks may take mappings any later one shares. */
	int64_t first = mrt_newm(fn_park, NULL, NULL);
	CHILD_CHECK(first > 0);
	wait_idle(1);
	int before = count_maps();
	for (int i = 0; i < n; i++)
		CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) > 0);
	wait_idle(n + 1);
	int after = count_maps();
	double per = (double)(after - before) / n;
	fprintf(stderr, "%d parked Ms: %d -> %d lines of /proc/self/maps, %.3f per M (a "
	        "blocked pthread costs 2: mrt-bench's maps row); guards %s; bound %.2f\n",
	        n, before, after, per, guards ? "by the kernel's guard regions" : "by mprotect",
	        m_bound(guards, n));
	if (maps_are_ours(true))
		CHILD_CHECK(per <= m_bound(guards, n));
}

static void child_live_gs(void)
{
	int n = nitems();
	bool guards = init_for_case();
	mrt_g **gs = calloc((size_t)n + 1, sizeof *gs);
	CHILD_CHECK(mrt_malg(&gs[n], 64 << 10) == 0); /* warm, as above */
	int before = count_maps();
	for (int i = 0; i < n; i++)
		CHILD_CHECK(mrt_malg(&gs[i], 64 << 10) == 0);
	int after = count_maps();
	double per = (double)(after - before) / n;
	double bound = guards ? 0.05 : 2;
	fprintf(stderr, "%d live 64 KiB g stacks: %d -> %d lines of /proc/self/maps, %.3f per "
	        "g; guards %s; bound %.2f\n",
	        n, before, after, per, guards ? "by the kernel's guard regions" : "by mprotect",
	        bound);
	if (maps_are_ours(false))
		CHILD_CHECK(per <= bound);
	for (int i = 0; i <= n; i++)
		CHILD_CHECK(mrt_gfree(gs[i]) == 0);
	free(gs);
}

static void run_both(void (*fn)(void))
{
	struct child c;
	for (int k = 0; k < 2; k++) {
		forcemprotect = k == 1;
		run_child(fn, 120, &c);
		report(&c, "lines of /proc/self/maps");
		assert_child_exit0(&c);
	}
	forcemprotect = false;
}

static void test_parked_ms_cost_a_twentieth_of_a_mapping(void **state)
{
	(void)state;
	run_both(child_parked_ms);
}

static void test_live_g_stacks_cost_a_twentieth_of_a_mapping(void **state)
{
	(void)state;
	run_both(child_live_gs);
}

/* ------------------------------------------------------------------------
 * A slot goes back to its slab: pages released, guard kept, handed out
 * again with no system call; a slab with nothing left in it is unmapped.
 * ------------------------------------------------------------------------ */

/* Bytes of [lo, hi) resident (mincore; 4 KiB entries or larger). */
static size_t resident(uintptr_t lo, uintptr_t hi)
{
	size_t len = hi - lo, max = len / 4096 + 1, r = 0, w = 0;
	unsigned char *vec = malloc(max);
	memset(vec, 0xfe, max);
	if (mincore((void *)lo, len, vec) == 0) {
		while (w < max && vec[w] != 0xfe)
			w++;
		for (size_t i = 0; i < w; i++)
			r += (vec[i] & 1) * (len / w);
	}
	free(vec);
	return r;
}

static void child_slot_reuse(void)
{
	/* A cache of one stack, whose byte bound (half an M's g0, TLS block
	 * and gsignal: 96 KiB with 64 KiB pages) a 1 MiB g stack does not
	 * fit in at any page size: every such stack freed goes back to its
	 * slab. (A 64 KiB one fits with 64 KiB pages, and stays cached.) */
	struct mrt_config c = CFG(.stack_cache = 1);
	if (forcemprotect)
		setenv("MRTDEBUG", "mprotectguards=1", 1);
	CHILD_CHECK(mrt_init(&c) == 0);
	mrt_g *x, *y, *z;
	uintptr_t xlo, xhi, ylo, yhi, zlo, zhi;
	size_t size = 1 << 20;
	CHILD_CHECK(mrt_malg(&x, size) == 0 && mrt_malg(&y, size) == 0);
	mrt_gstack(x, &xlo, &xhi);
	mrt_gstack(y, &ylo, &yhi);
	for (uintptr_t p = xlo; p < xhi; p += 4096)
		*(volatile char *)p = 1;
	int maps = count_maps();
	CHILD_CHECK(mrt_gfree(x) == 0);
	CHILD_CHECK(resident(xlo, xhi) == 0); /* its pages went back */
	CHILD_CHECK(count_maps() == maps);    /* its slab stays: y is in it */
	uint32_t mm = mrt_test_faultcalls(FAULT_STACK_MMAP);
	uint32_t gd = mrt_test_faultcalls(FAULT_STACK_GUARD);
	CHILD_CHECK(mrt_malg(&z, size) == 0);
	mrt_gstack(z, &zlo, &zhi);
	CHILD_CHECK(zlo == xlo && zhi == xhi); /* x's slot again */
	CHILD_CHECK(mrt_test_faultcalls(FAULT_STACK_MMAP) == mm);
	CHILD_CHECK(mrt_test_faultcalls(FAULT_STACK_GUARD) == gd); /* the guard stayed */
	CHILD_CHECK(guarded(zlo - 1) && !guarded(zlo));
	CHILD_CHECK(*(volatile char *)zlo == 0); /* released: zeros */
	CHILD_CHECK(count_maps() == maps);
	/* Both back: the slab is unmapped. */
	CHILD_CHECK(mrt_gfree(z) == 0 && mrt_gfree(y) == 0);
	char perms[5];
	uintptr_t mlo, mhi;
	CHILD_CHECK(!maps_find(zlo, perms, &mlo, &mhi) && !maps_find(ylo, perms, &mlo, &mhi));
}

static void test_a_freed_stack_goes_back_to_its_slab(void **state)
{
	(void)state;
	struct child c;
	for (int k = 0; k < 2; k++) {
		forcemprotect = k == 1;
		run_child(child_slot_reuse, 60, &c);
		assert_child_ok(&c);
	}
	forcemprotect = false;
}

/* ------------------------------------------------------------------------
 * A parked M's memory (#15 item 6): one page. Its live memory is the top of
 * its g0 — mstart's and mpark's frames — its TLS block and its m struct;
 * they were two pages' worth (the m came from a pool of its own, 600 bytes
 * a parked M, 4.6 KiB in all); in one slot they share a page.
 * ------------------------------------------------------------------------ */

/* Resident anonymous memory: statm's resident less its shared (file)
 * pages, which a child faults in as it first calls into libc. */
static long anon_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0, shared = 0;
	if (f == NULL || fscanf(f, "%ld %ld %ld", &size, &res, &shared) != 3)
		res = shared = 0;
	if (f != NULL)
		fclose(f);
	return (res - shared) * (long)kernel_pagesize();
}

static int onepage_bad;

static int check_onepage(const struct mrt_minfo *mi, void *arg)
{
	(void)arg;
	if (mi->id == 0 || mi->status != MRT_M_IDLE)
		return 0;
	/* g0, then the page its top, the TLS block and the m share. */
	size_t r = resident(mi->g0_lo, mi->g0_hi + kernel_pagesize());
	if (r == 0 || r > kernel_pagesize()) {
		fprintf(stderr, "M%lld: %zu bytes of g0 and its top page resident\n",
		        (long long)mi->id, r);
		onepage_bad++;
	}
	return 0;
}

static void child_parked_m_memory(void)
{
	int n = nitems();
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_setmaxthreads(n + 16) > 0);
	CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) > 0); /* the pools' first slabs */
	wait_idle(1);
	long before = anon_bytes();
	for (int i = 0; i < n; i++)
		CHILD_CHECK(mrt_newm(fn_park, NULL, NULL) > 0);
	wait_idle(n + 1);
	long per = (anon_bytes() - before) / n;
	fprintf(stderr, "%d parked Ms: %ld bytes resident each (a page is %zu)\n", n, per,
	        kernel_pagesize());
	/* A page, and what the slab and descriptor pages add, shared. */
	CHILD_CHECK(per <= (long)(kernel_pagesize() + kernel_pagesize() / 16));
	mrt_forallm(check_onepage, NULL);
	CHILD_CHECK(onepage_bad == 0);
}

static void test_a_parked_m_is_one_page(void **state)
{
	(void)state;
	const char *why = NULL;
	if (pthread_model())
		why = "pthread model: g0 is libc's thread stack, with libc's thread "
		      "descriptor and TLS; the m is in a pool of its own";
	else if (emulated)
		why = "under QEMU user mode the resident size is the emulator's";
	else if (MRT_ASAN || MRT_TSAN || under_valgrind())
		why = "under a sanitizer or Valgrind";
	if (why != NULL) {
		print_message("skipped: %s\n", why);
		skip();
	}
	struct child c;
	run_child(child_parked_m_memory, 120, &c);
	report(&c, "resident each");
	assert_child_exit0(&c);
}

/* ------------------------------------------------------------------------
 * Many live parked Ms (#15 item 3), with the default vm.max_map_count: the
 * issue's 100,000 with --parked=100000 (ci/reliability --full; mrt-bench's
 * maxms row asks for as many). The default run makes 2,000 (500 with
 * --quick): a hundred thousand threads take the whole of a shared machine
 * while they are made, and the mapping count per M is the same at any size.
 * ------------------------------------------------------------------------ */

static long manyN;

static long readlong(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f != NULL) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool writelong(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return false;
	bool ok = fprintf(f, "%ld\n", v) > 0;
	ok = fclose(f) == 0 && ok;
	return ok && readlong(path) == v;
}

static void child_many(void)
{
	int n = (int)manyN;
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_setmaxthreads(n + 16) > 0);
	int maps0 = count_maps();
	int64_t t0 = mrt_nanotime();
	for (int i = 0; i < n; i++) {
		int64_t id = mrt_newm(fn_park, NULL, NULL);
		if (id < 0) {
			mrt_dprintf(2, "M %d of %d: %s: %s (%d lines of /proc/self/maps)\n", i + 1,
			            n, mrt_strerror((int)id), mrt_errmsg(), count_maps());
			child_exit(1);
		}
	}
	struct mrt_mstats st;
	do {
		mrt_mstats(&st);
		sched_yield();
	} while (st.idle < n);
	int64_t t1 = mrt_nanotime();
	int maps = count_maps();
	long rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f != NULL) {
		long size;
		if (fscanf(f, "%ld %ld", &size, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	fprintf(stderr, "%d live parked Ms in %.1f s: %d lines of /proc/self/maps (%d before, "
	            "%.4f per M), RSS %ld MiB, threads %d\n",
	            n, (double)(t1 - t0) / 1e9, maps, maps0, (double)(maps - maps0) / n,
	            rss * (long)kernel_pagesize() >> 20, count_threads());
	CHILD_CHECK(st.live == n + 1);
	CHILD_CHECK(maps < 65530); /* the default vm.max_map_count, had it been */
	CHILD_CHECK((double)(maps - maps0) / n <= 0.05);
	/* The process's end takes the threads down. */
}

static const char *const pidmax = "/proc/sys/kernel/pid_max";
static const char *const threadsmax = "/proc/sys/kernel/threads-max";

/* A kernel limit the test raises when it is below what it needs, and puts
 * back afterwards. */
struct sysctl {
	const char *path, *name;
	long old;
	bool raised;
};

/* NULL if s is at least want, or was raised to it; else why not. */
static const char *sysctl_atleast(struct sysctl *s, long want)
{
	static char why[160];
	s->old = readlong(s->path);
	if (s->old >= want)
		return NULL;
	if (writelong(s->path, want)) {
		s->raised = true;
		return NULL;
	}
	snprintf(why, sizeof why, "%s is below 20,000 more than the Ms and cannot be raised "
	         "here (needs root and a writable /proc/sys)", s->name);
	return why;
}

static void sysctl_putback(const struct sysctl *s)
{
	if (s->raised)
		writelong(s->path, s->old);
}

static void test_many_live_parked_ms(void **state)
{
	(void)state;
	const char *why = NULL;
	if (manyN == 0)
		manyN = quick ? 500 : 2000;
	if (pthread_model())
		why = "pthread model: libc's thread stacks cost two mappings each, so "
		      "vm.max_map_count (65,530) stops pthreads near 32,000";
	else if (emulated)
		why = "under QEMU user mode: its threads are the host's business, and QEMU "
		      "has no guard regions";
	else if (MRT_TSAN || MRT_ASAN || under_valgrind())
		why = "under a sanitizer or Valgrind";
	else if (!kernel_guards())
		why = "the kernel has no guard regions (MADV_GUARD_INSTALL, Linux 6.13): with "
		      "mprotect guards an M costs four mappings";
	else if (proc_kib("/proc/meminfo", "MemAvailable") < manyN * 60 + (256 << 10))
		why = "less than 60 KiB of memory available per M (100,000 threads take about 3 "
		      "GiB)";
	long want = manyN + 20000;
	struct sysctl pid = { .path = pidmax, .name = "kernel.pid_max" };
	struct sysctl thr = { .path = threadsmax, .name = "kernel.threads-max" };
	if (why == NULL)
		why = sysctl_atleast(&pid, want);
	if (why == NULL)
		why = sysctl_atleast(&thr, want);
	struct rlimit nproc;
	if (why == NULL && getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY &&
	    nproc.rlim_cur < (rlim_t)want && geteuid() != 0) {
		nproc.rlim_cur = nproc.rlim_max;
		if (nproc.rlim_cur < (rlim_t)want || setrlimit(RLIMIT_NPROC, &nproc) != 0)
			why = "RLIMIT_NPROC is below 20,000 more than the Ms (ulimit -u)";
	}
	struct child c;
	if (why == NULL) {
		print_message("%ld Ms; kernel.pid_max %ld%s, kernel.threads-max %ld%s, "
		              "vm.max_map_count %ld\n",
		              manyN, pid.old, pid.raised ? " (raised for the test)" : "", thr.old,
		              thr.raised ? " (raised for the test)" : "",
		              readlong("/proc/sys/vm/max_map_count"));
		run_child(child_many, 500, &c);
	}
	/* Put back what was raised, whatever the child did. */
	sysctl_putback(&pid);
	sysctl_putback(&thr);
	if (why != NULL) {
		print_message("skipped: %s\n", why);
		skip();
	}
	report(&c, "live parked Ms");
	assert_child_exit0(&c);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--parked=", 9) == 0)
			manyN = atol(argv[i] + 9);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guards_are_the_kernels_or_mprotect),
		cmocka_unit_test(test_parked_ms_cost_a_twentieth_of_a_mapping),
		cmocka_unit_test(test_live_g_stacks_cost_a_twentieth_of_a_mapping),
		cmocka_unit_test(test_a_freed_stack_goes_back_to_its_slab),
		cmocka_unit_test(test_a_parked_m_is_one_page),
		cmocka_unit_test(test_many_live_parked_ms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
