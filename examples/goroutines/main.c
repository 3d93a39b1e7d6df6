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
 *   goroutines [-n gs] [-p procs] [-g max live gs]
 */
#include "gr.h"

#include <mrt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gr_mutex mu;
static uint64_t total, count; /* under mu, deliberately not atomic */
static gr_waitgroup wg;
static int64_t ngs = 100000;
static uint8_t *ran; /* ran[i]: g i ran (each exactly once) */

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
	gr_wg_done(&wg);
}

static void maing(void *arg)
{
	(void)arg;
	gr_wg_add(&wg, ngs);
	for (int64_t i = 0; i < ngs; i++)
		gr_go(worker, (void *)(uintptr_t)i);
	gr_wg_wait(&wg);
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
	}
	if (ngs < 1) {
		fprintf(stderr, "usage: goroutines [-n gs] [-p procs] [-g max live gs]\n");
		return 2;
	}
	ran = calloc((size_t)ngs, 1);
	int err = mrt_init(NULL);
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
	bool ok = total == want && count == (uint64_t)ngs && once == ngs &&
	          st.spawned == (uint64_t)ngs;
	printf("%s: total %llu (want %llu), %llu gs counted, %lld ran exactly once\n",
	       ok ? "ok" : "FAILED", (unsigned long long)total, (unsigned long long)want,
	       (unsigned long long)count, (long long)once);
	return ok ? 0 : 1;
}
