/*
 * darwin_shim.c — Darwin's libSystem calls that glibc lacks, on glibc, for
 * the -Ddarwin_shim test build (darwin_shim.h says what this proves and
 * where glibc differs). Linked into that build's library: the calls are
 * made from platform/darwin on Ms and on m0 alike.
 */
#include "darwin_shim.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

/* [lo, hi) of thread t's stack from glibc's attributes. */
static int stackbounds(pthread_t t, uintptr_t *lo, uintptr_t *hi)
{
	pthread_attr_t a;
	void *addr;
	size_t size;
	int err = pthread_getattr_np(t, &a);
	if (err != 0)
		return err;
	err = pthread_attr_getstack(&a, &addr, &size);
	pthread_attr_destroy(&a);
	if (err != 0)
		return err;
	*lo = (uintptr_t)addr;
	*hi = (uintptr_t)addr + size;
	return 0;
}

/* Darwin: the stack's top, its highest address. NULL if glibc cannot say
 * (Darwin always can): minit then records bounds that fail its checks
 * rather than ones that look right. */
void *darwinshim_get_stackaddr_np(pthread_t t)
{
	uintptr_t lo, hi;
	return stackbounds(t, &lo, &hi) == 0 ? (void *)hi : NULL;
}

size_t darwinshim_get_stacksize_np(pthread_t t)
{
	uintptr_t lo, hi;
	return stackbounds(t, &lo, &hi) == 0 ? hi - lo : 0;
}

/* Darwin: the thread's system-wide 64-bit id; NULL for the caller. Here
 * the caller's tid only (darwin_shim.h). */
int darwinshim_threadid_np(uintptr_t t, uint64_t *id)
{
	if (id == NULL)
		return EINVAL;
	if (t != 0 && !pthread_equal((pthread_t)t, pthread_self()))
		return ESRCH;
	*id = (uint64_t)syscall(SYS_gettid);
	return 0;
}

/* Darwin names the calling thread, up to 63 bytes; Linux keeps 15. */
int darwinshim_setname_np(const char *name)
{
	char cut[16];
	size_t n = strnlen(name, sizeof cut - 1);
	memcpy(cut, name, n);
	cut[n] = '\0';
	return (pthread_setname_np)(pthread_self(), cut); /* glibc's, not the macro */
}

/* Darwin's relative timed wait: rel from now, whatever the wall clock
 * does; ETIMEDOUT when it has passed. A rel too long to add to now waits
 * until the end of time rather than overflow. */
int darwinshim_cond_timedwait_relative_np(pthread_cond_t *c, pthread_mutex_t *mu,
                                          const struct timespec *rel)
{
	const time_t forever = (time_t)(~(uint64_t)0 >> 1);
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	if (rel->tv_sec >= forever - abs.tv_sec - 1) {
		abs.tv_sec = forever;
		abs.tv_nsec = 0;
	} else {
		abs.tv_sec += rel->tv_sec;
		abs.tv_nsec += rel->tv_nsec;
		if (abs.tv_nsec >= 1000000000) {
			abs.tv_sec++;
			abs.tv_nsec -= 1000000000;
		}
	}
	return pthread_cond_clockwait(c, mu, CLOCK_MONOTONIC, &abs);
}

/* Darwin: the clock in nanoseconds, 0 on error (errno set). */
uint64_t darwinshim_clock_gettime_nsec_np(clockid_t clock)
{
	struct timespec ts;
	if (clock_gettime(clock, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
