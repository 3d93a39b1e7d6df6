/*
 * extram_posix.c — the platform's half of core/extram.c: a thread mrt did
 * not make becomes an M (osneedm) and stays one until it ends, for every
 * thread model (Darwin; Linux's clone and pthread models alike).
 *
 * Such a thread is one the C library made, whatever the model: a pthread
 * of the program or of another library. So what it needs goes through
 * libc here, in the clone model too — these functions run only on the
 * attaching thread itself (mrt_needm's caller), or in its thread library's
 * exit, never on a thread mrt made with a raw clone (tests/freestanding.py
 * allows exactly these calls in the clone model, saying so):
 *  - g0's exact bounds, from the thread library, once (posix.h's
 *    osthreadstack: pthread_getattr_np on Linux, whose one system call is
 *    sched_getaffinity; pthread_get_stackaddr_np on Darwin, none);
 *  - the binding: a thread-specific key whose value is the M, set at the
 *    attach, so that its destructor drops the M when the thread ends —
 *    returns from its start routine, calls pthread_exit, is cancelled —
 *    as Go 1.21's x_cgo_bindm does with its pthread key (before that Go
 *    dropped the M after every callback). The thread library runs key
 *    destructors before it tears the thread down, on the thread, with
 *    its stack in place; the key's value is cleared before the call.
 * What the thread model signals the M through (its handle, or its tid) is
 * the model's own (osthreadbind, in thread_posix.c and thread_clone.c).
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "posix.h"

/* Made once, by the first attach; the destructor is the binding's end. */
static pthread_key_t extrakey;
static pthread_once_t extrakeyonce = PTHREAD_ONCE_INIT;
static int extrakeyerr;

static void extrakeyend(void *arg)
{
	extramthreadend(arg);
}

static void extrakeyinit(void)
{
	extrakeyerr = pthread_key_create(&extrakey, extrakeyend);
}

/*
 * osthreadrecord, on the thread itself: a lock-free walker may read the
 * bounds as soon as they are stored, a word at a time, lo first
 * (runtime.h: stackbounds); TP_G0HALF holds a thread between the two.
 */
int osthreadrecord(m *mp)
{
	uintptr_t lo, hi;
	int err = osthreadstack(&lo, &hi);
	if (err != 0)
		return err;
	__atomic_store_n(&mp->g0->stack.lo, lo, __ATOMIC_RELAXED);
	TESTPOINT(TP_G0HALF, mp);
	__atomic_store_n(&mp->g0->stack.hi, hi, __ATOMIC_RELAXED);
	__atomic_store_n(&mp->procid, osgettid(), __ATOMIC_RELAXED);
	return 0;
}

/*
 * osneedm, on the attaching thread: g0's bounds (a lock-free walker may
 * read them from here: lo, then hi, as the pthread model's minit stores
 * them), the tid, the model's handle, then the binding.
 */
int osneedm(m *mp)
{
	pthread_once(&extrakeyonce, extrakeyinit);
	if (extrakeyerr != 0)
		return -extrakeyerr; /* EAGAIN: the process has used up its keys */
	int err = osthreadrecord(mp);
	if (err != 0)
		return err;
	osthreadbind(mp);
	return -pthread_setspecific(extrakey, mp);
}

/* The binding's end before the thread's (mrt_dropm, a failed attach). In
 * the destructor the thread library has cleared the value already. */
void osunbindm(m *mp)
{
	(void)mp;
	pthread_setspecific(extrakey, nil);
}
