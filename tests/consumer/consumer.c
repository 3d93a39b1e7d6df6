/*
 * consumer.c — a program that uses mrt the way its users do: from an
 * installed copy through pkg-config, or as a Meson subproject. It makes an
 * M, waits for it, and checks the thread model it was built against.
 *
 *   consumer [expected thread model]
 */
#include <mrt.h>

#include <stdio.h>
#include <string.h>

static void hello(void *arg)
{
	/* On an M: mrt's own output, no stdio (clone model). */
	mrt_printf("consumer: hello from M%lld, tid %d\n", (long long)mrt_mid(), mrt_gettid());
	*(int *)arg = 42;
}

int main(int argc, char **argv)
{
	int seen = 0;
	int err = mrt_init(NULL);
	if (err != 0) {
		fprintf(stderr, "consumer: mrt_init: %s\n", mrt_strerror(err));
		return 1;
	}
	int64_t id = mrt_newm(hello, &seen, NULL);
	if (id < 0 || (err = mrt_join(id)) != 0) {
		fprintf(stderr, "consumer: %s\n", mrt_strerror(id < 0 ? (int)id : err));
		return 1;
	}
	if (seen != 42) {
		fprintf(stderr, "consumer: the M did not run\n");
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], mrt_threadmodel()) != 0) {
		fprintf(stderr, "consumer: built against the %s model, wanted %s\n",
		        mrt_threadmodel(), argv[1]);
		return 1;
	}
	printf("consumer: ok (mrt %d.%d, %s model)\n", MRT_VERSION_MAJOR, MRT_VERSION_MINOR,
	       mrt_threadmodel());
	return 0;
}
