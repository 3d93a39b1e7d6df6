/*
 * print_stubs.c — what core/print.c names from the rest of mrt, for the
 * formatter's fuzz target: the thread-local block (mrt_errmsg's buffer) and
 * three platform calls the target never reaches (it only formats into
 * buffers).
 */
#include "runtime.h"

__thread struct mrt_tls mrt_tls __attribute__((tls_model("initial-exec")));

int oswrite(int fd, const void *p, size_t n)
{
	(void)fd, (void)p;
	return (int)n;
}

int32_t osgettid(void)
{
	return 1;
}

void osabort(void)
{
	__builtin_trap();
}
