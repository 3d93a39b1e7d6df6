/*
 * clockprobe.c — what tests/clock_strace.py runs under strace: n calls of
 * mrt_nanotime on m0, n on a new M's g0 and n on a user g of that M.
 * "clockprobe n" uses what mrt_init found; "clockprobe n --syscall" forces
 * the system call (a test hook), to show that strace would see the calls
 * if they were made. Prints "vdso" or "novdso": whether mrt_init found the
 * vDSO's clock_gettime.
 */
#include "runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long n;
static volatile int64_t sink;

static void loop(void *arg)
{
	(void)arg;
	for (long i = 0; i < n; i++)
		sink += mrt_nanotime();
}

static void m_fn(void *arg)
{
	mrt_g *gp = arg;
	loop(NULL);
	mrt_gostart(gp, loop, NULL);
	mrt_gogo(gp);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	n = atol(argv[1]);
	if (mrt_init(NULL) != 0)
		return 1;
	bool vdso = mrt_test_vdsoclock() != NULL;
	if (argc > 2 && strcmp(argv[2], "--syscall") == 0)
		mrt_test_novdso();
	mrt_g *gp;
	if (mrt_malg(&gp, 16 << 10) != 0)
		return 1;
	loop(NULL);
	int64_t id = mrt_newm(m_fn, gp, NULL);
	if (id < 0 || mrt_join(id) != 0)
		return 1;
	printf("%s\n", vdso ? "vdso" : "novdso");
	return 0;
}
