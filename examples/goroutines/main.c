/*
 * goroutines — 100,000 gs on 4 Ps, on mrt.
 *
 * The main g starts N gs (gr_go). Each yields a few times (gr_yield), adds
 * its number to a total under a mutex that parks the gs waiting for it
 * (gr_park / gr_ready), yielding inside the lock now and then so that others
 * do wait, and signs off on a WaitGroup the main g waits on. gs that finish
 * are reused by later gr_go calls; idle Ps' Ms park in mrt_stopm and are
 * woken by mrt_startm. At the end the total must be 0 + 1 + ... + N-1 and
 * every g must have run once.
 *
 * With -s K, K more gs first block in read(2) on pipes that nobody writes
 * to yet (gr_syscall: a blocking section), holding their Ms; mrt's monitor
 * hands their Ps to other Ms (gr_handoff), so the N gs still run to
 * completion, on as few as 2 Ps. Only then does the main g write the
 * pipes, and the blocked gs read their bytes and finish too.
 *
 *   goroutines [-n gs] [-p procs] [-g max live gs] [-s blocked gs]
 */
#include "gr.h"

#include <mrt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

static gr_mutex mu;
static uint64_t total, count; /* under mu, deliberately not atomic */
static gr_waitgroup wg;
static int64_t ngs = 100000;
static uint8_t *ran; /* ran[i]: g i ran (each exactly once) */

/* The blocked gs: their pipes, what they read, when they finished. */
enum { MAXBLOCK = 64 };
static int nblock;
static int pipes[MAXBLOCK][2];
static char got[MAXBLOCK];
static uint32_t ndone; /* atomic: workers done when the pipes were written */
static uint32_t doneat[MAXBLOCK];
static gr_waitgroup blockwg;

/*
 * read(2) and write(2) as the raw system calls: in the clone model an M
 * is not a libc thread, and glibc's wrappers touch its per-thread state
 * (errno, the cancellation flags). One instruction on each CPU. Linux
 * only: on Darwin every M is a pthread and calls libc's.
 */
#if defined(__linux__)
static long rawsys3(long nr, long a, long b, long c)
{
#if defined(__x86_64__)
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c)
	                 : "rcx", "r11", "memory");
	return r;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
	                  x2 __asm__("x2") = c;
	__asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
	return x0;
#elif defined(__riscv)
	register long a7 __asm__("a7") = nr, a0 __asm__("a0") = a, a1 __asm__("a1") = b,
	                  a2 __asm__("a2") = c;
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
	return a0;
#else
	(void)nr, (void)a, (void)b, (void)c;
	return -1;
#endif
}
#endif

struct io {
	int fd;
	char *buf;
};

static long doread(void *arg)
{
	struct io *io = arg;
#if defined(__linux__)
	return rawsys3(SYS_read, io->fd, (long)io->buf, 1);
#else
	return read(io->fd, io->buf, 1); /* Darwin: Ms are pthreads */
#endif
}

static long dowrite(void *arg)
{
	struct io *io = arg;
#if defined(__linux__)
	return rawsys3(SYS_write, io->fd, (long)io->buf, 1);
#else
	return write(io->fd, io->buf, 1);
#endif
}

/* Blocks in read(2) until the main g writes its pipe. */
static void blocked(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	struct io io = { pipes[i][0], &got[i] };
	if (gr_syscall(doread, &io) != 1)
		got[i] = '?';
	doneat[i] = __atomic_load_n(&ndone, __ATOMIC_ACQUIRE);
	gr_wg_done(&blockwg);
}

static void worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	for (int k = 0; k < 3; k++)
		gr_yield();
	gr_mutex_lock(&mu);
	uint64_t t = total;
	if (i % 16 == 0)
		gr_yield(); /* holding mu: others queue up on it and park */
	total = t + i;
	count++;
	ran[i]++;
	gr_mutex_unlock(&mu);
	__atomic_fetch_add(&ndone, 1, __ATOMIC_RELEASE);
	gr_wg_done(&wg);
}

static void maing(void *arg)
{
	(void)arg;
	gr_wg_add(&blockwg, nblock);
	for (int i = 0; i < nblock; i++)
		gr_go(blocked, (void *)(uintptr_t)i);
	gr_yield(); /* let them block first */
	gr_wg_add(&wg, ngs);
	for (int64_t i = 0; i < ngs; i++)
		gr_go(worker, (void *)(uintptr_t)i);
	gr_wg_wait(&wg);
	/* Every worker has finished while the blocked gs held their Ms: now
	 * their bytes. */
	for (int i = 0; i < nblock; i++) {
		char c = (char)('a' + i % 26);
		struct io io = { pipes[i][1], &c };
		if (gr_syscall(dowrite, &io) != 1)
			got[i] = '!';
	}
	gr_wg_wait(&blockwg);
}

int main(int argc, char **argv)
{
	struct gr_config c = { .nprocs = 4 };
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-n") == 0)
			ngs = atoll(argv[i + 1]);
		else if (strcmp(argv[i], "-p") == 0)
			c.nprocs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-g") == 0)
			c.maxg = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-s") == 0)
			nblock = atoi(argv[i + 1]);
	}
	if (ngs < 1 || nblock < 0 || nblock > MAXBLOCK) {
		fprintf(stderr, "usage: goroutines [-n gs] [-p procs] [-g max live gs] "
		                "[-s blocked gs, at most %d]\n", MAXBLOCK);
		return 2;
	}
	ran = calloc((size_t)ngs, 1);
	for (int i = 0; i < nblock; i++) {
		if (pipe(pipes[i]) != 0) {
			perror("goroutines: pipe");
			return 1;
		}
	}
	/* mrt's monitor M takes the P of a g blocked in gr_syscall and hands
	 * it to the scheduler (gr_handoff). */
	struct mrt_config mc = MRT_CONFIG_INIT;
	mc.handoff = gr_handoff;
	int err = mrt_init(&mc);
	if (err == 0)
		err = gr_init(&c);
	if (err != 0) {
		fprintf(stderr, "goroutines: init: %s\n", mrt_strerror(err));
		return 1;
	}
	int64_t t0 = mrt_nanotime();
	err = gr_main(maing, NULL);
	int64_t t1 = mrt_nanotime();
	if (err != 0) {
		fprintf(stderr, "goroutines: gr_main: %s %s\n", mrt_strerror(err), mrt_errmsg());
		return 1;
	}

	struct gr_stats st;
	struct mrt_mstats ms;
	gr_getstats(&st);
	mrt_mstats(&ms);
	uint64_t want = (uint64_t)ngs * (uint64_t)(ngs - 1) / 2;
	int64_t once = 0;
	for (int64_t i = 0; i < ngs; i++)
		once += ran[i] == 1;
	printf("goroutines on mrt (%s model): %lld gs on %d Ps in %.3f s\n", mrt_threadmodel(),
	       (long long)ngs, c.nprocs, (double)(t1 - t0) / 1e9);
	printf("  gs: %llu started, %llu of them reusing a dead g; %d stacks made; "
	       "gr_go waited %llu times at the live-g limit\n",
	       (unsigned long long)st.spawned, (unsigned long long)st.reused, st.gs,
	       (unsigned long long)st.gwaits);
	printf("  scheduling: %llu yields, %llu parks, %llu steals, %llu from the global queue\n",
	       (unsigned long long)st.yields, (unsigned long long)st.parks,
	       (unsigned long long)st.steals, (unsigned long long)st.globalq);
	printf("  Ms: %lld made (m0 not counted), %llu woken or made by wakep (mrt_startm), "
	       "%llu parks (mrt_stopm)\n",
	       (long long)ms.created - 1, (unsigned long long)st.startm,
	       (unsigned long long)st.stopm);
	struct mrt_sysmonstats sm;
	mrt_sysmonstats(&sm);
	printf("  blocking calls: %llu (gr_syscall), %llu lost their P, %llu waited for one; "
	       "the monitor (M%lld) took %llu Ps, gr_handoff started %llu Ms for them\n",
	       (unsigned long long)st.syscalls, (unsigned long long)st.lost,
	       (unsigned long long)st.requeued, (long long)sm.id, (unsigned long long)sm.retakes,
	       (unsigned long long)st.handoffms);
	/* The blocked gs read their own byte, after every worker finished. */
	int blockok = 0;
	for (int i = 0; i < nblock; i++)
		blockok += got[i] == (char)('a' + i % 26) && doneat[i] == (uint32_t)ngs;
	bool ok = total == want && count == (uint64_t)ngs && once == ngs &&
	          st.spawned == (uint64_t)ngs + (uint64_t)nblock && blockok == nblock;
	if (nblock > 0)
		printf("%s: %d gs blocked in read(2) while the %lld others ran, and then read "
		       "their bytes\n",
		       blockok == nblock ? "ok" : "FAILED", blockok, (long long)ngs);
	printf("%s: total %llu (want %llu), %llu gs counted, %lld ran exactly once\n",
	       ok ? "ok" : "FAILED", (unsigned long long)total, (unsigned long long)want,
	       (unsigned long long)count, (long long)once);
	return ok ? 0 : 1;
}
