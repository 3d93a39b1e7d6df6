/*
 * gr-pingpong — yield ping-pong on mrt's goroutine example: two gs on one P
 * call gr_yield n times each, so every yield switches from one g to the
 * other (g → g0 → g, Go's Gosched → schedule → execute). Prints the time
 * per yield, the best of r runs. bench/goroutines/pingpong.go is the same
 * program in Go.
 *
 *   gr-pingpong [-n yields per g] [-p procs] [-r runs]
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

static void yielder(void *arg)
{
	(void)arg;
	for (int64_t i = 0; i < n; i++)
		gr_yield();
	gr_wg_done(&wg);
}

static void maing(void *arg)
{
	(void)arg;
	for (int64_t r = 0; r < runs; r++) {
		int64_t t0 = mrt_nanotime();
		gr_wg_add(&wg, 2);
		gr_go(yielder, NULL);
		gr_go(yielder, NULL);
		gr_wg_wait(&wg);
		double ns = (double)(mrt_nanotime() - t0) / (double)(2 * n);
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
		fprintf(stderr, "usage: gr-pingpong [-n yields per g] [-p procs] [-r runs]\n");
		return 2;
	}
	struct gr_config c = { .nprocs = procs };
	int err = mrt_init(NULL);
	if (err == 0)
		err = gr_init(&c);
	if (err == 0)
		err = gr_main(maing, NULL);
	if (err != 0) {
		fprintf(stderr, "gr-pingpong: %s\n", mrt_strerror(err));
		return 1;
	}
	printf("goroutines yield-pingpong impl=mrt procs=%d n=%lld ns/op=%.1f\n", procs,
	       (long long)n, best);
	return 0;
}
