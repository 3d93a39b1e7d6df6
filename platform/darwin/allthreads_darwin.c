/*
 * allthreads_darwin.c — mrt_allthreadssyscall has nothing to do on Darwin
 * (#14 item 4): its credentials are the process's, not a thread's, and
 * libSystem is the only way to the kernel (no raw system call to spread).
 * The call is -ENOSYS there, before anything is done.
 */
#include "darwin.h"

int osallthreadsinit(int sig)
{
	(void)sig;
	return -ENOSYS;
}

long osallthreadscall(const long a[7])
{
	(void)a;
	return -ENOSYS;
}
