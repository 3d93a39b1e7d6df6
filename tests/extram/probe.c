/*
 * probe.c — a foreign thread's attach, warm re-entries and drop, between
 * markers, for tests/extram/syscalls.py to count under strace (#14 item 1).
 *
 * The markers are getppid calls, which mrt never makes: on the foreign
 * thread, the calls between the first two are the attach (mrt_needm on a
 * thread that is no M), between the second and third 1,000 mrt_needm on
 * the bound thread, between the third and fourth mrt_dropm.
 */
#define _GNU_SOURCE
#include <mrt.h>

#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static int bad;

static void marker(void)
{
	syscall(SYS_getppid);
}

static void *foreign(void *arg)
{
	(void)arg;
	marker();
	int64_t id = mrt_needm();
	marker();
	for (int i = 0; i < 1000; i++)
		if (mrt_needm() != id)
			bad = 1;
	marker();
	if (mrt_dropm() != 0)
		bad = 1;
	marker();
	if (id <= 0)
		bad = 1;
	return NULL;
}

int main(void)
{
	if (mrt_init(NULL) != 0)
		return 1;
	pthread_t t;
	if (pthread_create(&t, NULL, foreign, NULL) != 0 || pthread_join(t, NULL) != 0)
		return 1;
	if (bad)
		fprintf(stderr, "probe: mrt_needm or mrt_dropm failed\n");
	return bad;
}
