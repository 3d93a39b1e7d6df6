/*
 * gr-spawn — spawn cost on mrt's goroutine example: the main g starts n gs
 * that each only sign off on a WaitGroup, and waits for them. Prints the
 * time per g (start, run, exit, reuse), the best of r runs.
 * bench/goroutines/spawn.go is the same program in Go. Unlike Go, the
 * example keeps at most 4096 gs live: past that, gr_go waits for one to
 * die, so a run measures the steady state of spawning and reusing gs.
 *
 *   gr-spawn [-n gs] [-p procs] [-r runs]
 */
#include "gr.h"

#include <mrt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t n = 1000000, runs = 3;
static int procs = 1;
static double best;
static gr_waitgroup wg;

static void done(void *arg)
{
	(void)arg;
	gr_wg_done(&wg);
}

static void maing(void *arg)
{
	(void)arg;
	for (int64_t r = 0; r < runs; r++) {
		int64_t t0 = mrt_nanotime();
		gr_wg_add(&wg, n);
		for (int64_t i = 0; i < n; i++)
			gr_go(done, NULL);
		gr_wg_wait(&wg);
		double ns = (double)(mrt_nanotime() - t0) / (double)n;
		if (r == 0 || ns < best)
			best = ns;
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-n") == 0)
			n = atoll(argv[i + 1]);
		else if (strcmp(argv[i], "-p") == 0)
			procs = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "-r") == 0)
			runs = atoll(argv[i + 1]);
	}
	if (n < 1 || runs < 1 || procs < 1) {
		fprintf(stderr, "usage: gr-spawn [-n gs] [-p procs] [-r runs]\n");
		return 2;
	}
	struct gr_config c = { .nprocs = procs };
	int err = mrt_init(NULL);
	if (err == 0)
		err = gr_init(&c);
	if (err == 0)
		err = gr_main(maing, NULL);
	if (err != 0) {
		fprintf(stderr, "gr-spawn: %s\n", mrt_strerror(err));
		return 1;
	}
	printf("goroutines spawn impl=mrt procs=%d n=%lld ns/op=%.1f\n", procs, (long long)n,
	       best);
	return 0;
}
