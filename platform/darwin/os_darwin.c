/*
 * os_darwin.c — the Darwin platform primitives (Go's os_darwin.go): memory,
 * time, identity, output, and the per-thread semaphores that locks and notes
 * sleep on.
 *
 * No raw system calls: on Darwin the system call interface is private and
 * changes between releases; libSystem is the stable ABI (Go moved to it in
 * 1.12 for the same reason). Every M is a pthread, so all of libSystem is
 * fair game on the M path.
 */
#include "darwin.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

/*
 * mrt's sleeps are no cancellation points. Darwin's condition waits and
 * nanosleep are, and a cancellation of an M's thread (which code on an M
 * may ask for: platform/posix, "Death outside mrt") acted on there would
 * end the thread inside a lock or a note, the semaphore's mutex held and
 * mrt's own state half changed. Cancellation is held off around each sleep
 * (a pending one stays pending, and acts at the code's next cancellation
 * point once mrt has returned); Linux's futex sleeps are raw system calls,
 * which no cancellation acts on.
 */
static int nocancel(void)
{
	int old = PTHREAD_CANCEL_ENABLE;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

static void restorecancel(int old)
{
	int was;
	pthread_setcancelstate(old, &was);
}

/* ------------------------------------------------------------------------
 * Semaphores (core/lock_sema.c): a count under a mutex, and a condition
 * variable to sleep on while it is zero (Go's semasleep on Darwin).
 * ------------------------------------------------------------------------ */

void semainit(os_sema *s)
{
	pthread_mutex_init(&s->mu, nil);
	pthread_cond_init(&s->cond, nil);
	s->count = 0;
	s->ready = true;
}

/* Threads that are not Ms (or not yet: m0 before mrt_init) sleep on one of
 * their own, made at first use. It needs no destruction: an unused Darwin
 * mutex and condition variable hold nothing but their own bytes, and no
 * thread can be queued on it once its owner has gone. */
static __thread semawaiter threadwaiter;

semawaiter *semaself(void)
{
	m *mp = getm();
	if (mp != nil && mp->waitsema.sema.ready)
		return &mp->waitsema;
	if (!threadwaiter.sema.ready)
		semainit(&threadwaiter.sema);
	return &threadwaiter;
}

bool semasleep(semawaiter *w, int64_t ns)
{
	os_sema *s = &w->sema;
	bool ok = true;
	int cancel = nocancel();
	pthread_mutex_lock(&s->mu);
	if (ns < 0) {
		while (s->count == 0)
			pthread_cond_wait(&s->cond, &s->mu);
	} else {
		int64_t deadline = deadlineafter(nanotime(), ns);
		while (s->count == 0) {
			/* Relative: a wall-clock change cannot stretch it. */
			struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
			pthread_cond_timedwait_relative_np(&s->cond, &s->mu, &ts);
			if (s->count != 0)
				break;
			ns = deadline - nanotime();
			if (ns <= 0) {
				ok = false;
				break;
			}
		}
	}
	if (ok)
		s->count--;
	pthread_mutex_unlock(&s->mu);
	restorecancel(cancel);
	return ok;
}

void semawakeup(semawaiter *w)
{
	os_sema *s = &w->sema;
	pthread_mutex_lock(&s->mu);
	s->count++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------------
 * futexsleep/futexwakeup (core's rare waits on a word: the exec lock),
 * emulated: a fixed table of mutex+condition buckets, hashed by address. A
 * sleeper checks the word under its bucket's lock and waits on the bucket;
 * a waker (which has changed the word first) broadcasts under the same lock,
 * so no wakeup falls between the check and the wait. Sleepers of other
 * words in the bucket wake spuriously, which the contract allows.
 * ------------------------------------------------------------------------ */

enum { nfutexbuckets = 64 };

static struct futexbucket {
	pthread_mutex_t mu;
	pthread_cond_t cond;
} futexbuckets[nfutexbuckets] = {
	[0 ... nfutexbuckets - 1] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER },
};

static struct futexbucket *futexbucket(uint32_t *addr)
{
	uintptr_t a = (uintptr_t)addr;
	return &futexbuckets[((a >> 2) ^ (a >> 9)) % nfutexbuckets];
}

void futexsleep(uint32_t *addr, uint32_t val, int64_t ns)
{
	struct futexbucket *b = futexbucket(addr);
	int cancel = nocancel();
	pthread_mutex_lock(&b->mu);
	if (__atomic_load_n(addr, __ATOMIC_ACQUIRE) == val) {
		if (ns < 0) {
			pthread_cond_wait(&b->cond, &b->mu);
		} else {
			struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
			pthread_cond_timedwait_relative_np(&b->cond, &b->mu, &ts);
		}
	}
	pthread_mutex_unlock(&b->mu);
	restorecancel(cancel);
}

void futexwakeup(uint32_t *addr, uint32_t cnt)
{
	(void)cnt; /* all of the bucket's sleepers re-check their words */
	struct futexbucket *b = futexbucket(addr);
	pthread_mutex_lock(&b->mu);
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->mu);
}

/* ------------------------------------------------------------------------
 * fork handlers (core/fork.c)
 * ------------------------------------------------------------------------ */

int osatfork(void (*prepare)(void), void (*parent)(void), void (*child)(void))
{
	return -pthread_atfork(prepare, parent, child);
}

/* ------------------------------------------------------------------------
 * memory
 * ------------------------------------------------------------------------ */

void *sysalloc(size_t n)
{
	void *p = mmap(nil, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANON, -1, 0);
	return p == MAP_FAILED ? nil : p;
}

int sysfree(void *p, size_t n)
{
	return munmap(p, n) == 0 ? 0 : -errno;
}

/* Darwin has no guard regions without a mapping of their own: a guard is
 * PROT_NONE, and splits its mapping (which no limit there counts). */
int sysguard(void *p, size_t n)
{
	return mprotect(p, n, PROT_NONE) == 0 ? 0 : -errno;
}

int sysunguard(void *p, size_t n)
{
	return mprotect(p, n, PROT_READ | PROT_WRITE) == 0 ? 0 : -errno;
}

bool sysguardsplits(void)
{
	return true;
}

void sysguardmprotect(void)
{
}

/* As Go's sysUnusedOS/sysUsedOS on Darwin: MADV_FREE_REUSABLE is MADV_FREE
 * that also takes the pages out of the task's footprint accounting, and
 * MADV_FREE_REUSE puts them back in before reuse. */
void sysunused(void *p, size_t n)
{
	madvise(p, n, MADV_FREE_REUSABLE);
}

void sysused(void *p, size_t n)
{
	madvise(p, n, MADV_FREE_REUSE);
}

/* ------------------------------------------------------------------------
 * time, scheduling, identity, output
 * ------------------------------------------------------------------------ */

/* CLOCK_UPTIME_RAW is mach_absolute_time in nanoseconds: monotonic, and
 * stopped while the machine sleeps, as Go's nanotime here. */
int64_t nanotime(void)
{
	return (int64_t)clock_gettime_nsec_np(CLOCK_UPTIME_RAW);
}

void osyield(void)
{
	sched_yield();
}

/* Darwin's timers have no slack a thread can set (timer coalescing is the
 * kernel's, and QoS-driven): nothing to do. */
void ostimerslack(void)
{
}

void osusleep(int64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	int cancel = nocancel();
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
	restorecancel(cancel);
}

/* The low 31 bits of the thread's 64-bit system-wide id: ids count up from
 * boot, so they are distinct among the live threads of any real process. */
int32_t osgettid(void)
{
	uint64_t tid = 0;
	pthread_threadid_np(nil, &tid);
	return (int32_t)(tid & 0x7fffffff);
}

/* Darwin has no way to ask which CPU a thread runs on that its
 * documentation promises anything of (no getcpu, no rseq): mrt_cpu says
 * so. */
int oscpu(void)
{
	return -ENOSYS;
}

/* sigaltstack in core's terms (runtime.h: ossigaltstack); SS_ONSTACK is
 * a state, not a mode, and is not handed back; other bits are, for a
 * disabled stack too (as on Linux). */
int ossigaltstack(const sigstk *ss, sigstk *old)
{
	stack_t n, o;
	if (ss != nil) {
		n.ss_sp = (void *)ss->lo;
		n.ss_size = ss->hi - ss->lo;
		n.ss_flags = ss->hi == 0 ? SS_DISABLE | ss->flags : ss->flags;
	}
	if (sigaltstack(ss != nil ? &n : nil, old != nil ? &o : nil) != 0)
		return -errno;
	if (old != nil) {
		bool off = (o.ss_flags & SS_DISABLE) != 0;
		old->lo = off ? 0 : (uintptr_t)o.ss_sp;
		old->hi = off ? 0 : (uintptr_t)o.ss_sp + o.ss_size;
		old->flags = o.ss_flags & ~(SS_ONSTACK | SS_DISABLE);
	}
	return 0;
}

int oswrite(int fd, const void *p, size_t n)
{
	ssize_t r = write(fd, p, n);
	return r < 0 ? -errno : (int)r;
}

int oscreate(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

int ospwrite(int fd, const void *p, size_t n, int64_t off)
{
	ssize_t r;
	do
		r = pwrite(fd, p, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : (int)r;
}

int osatexit(void (*fn)(void))
{
	return atexit(fn) == 0 ? 0 : -ENOMEM;
}

void osabort(void)
{
	/* SIGABRT with its default action, unblocked: the process dies with
	 * the signal a debugger and a parent expect. */
	sigset_t set;
	signal(SIGABRT, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGABRT);
	pthread_sigmask(SIG_UNBLOCK, &set, nil);
	abort();
}

const char *osgetenv(const char *name)
{
	return getenv(name);
}

/* ------------------------------------------------------------------------
 * osinit and m0's stack
 * ------------------------------------------------------------------------ */

int osinit(void)
{
	long ps = sysconf(_SC_PAGESIZE); /* 16 KiB on Apple silicon */
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (ps > 0)
		pagesize = (uintptr_t)ps;
	ncpu = n > 0 ? (int32_t)n : 1;
	/* The init mask: what every new M will run with, read through the
	 * thread model's ossigmask, which converts libc's sigset_t to
	 * os_sigset signal by signal. (A cast would hold only where sigset_t
	 * is a plain word, as Darwin's happens to be; POSIX leaves it
	 * opaque.) */
	return ossigmask(nil, &cfg.initsigmask);
}

/* pthread_get_stackaddr_np gives the stack's top (its highest address). */
void m0stack(stack *s)
{
	pthread_t self = pthread_self();
	s->hi = (uintptr_t)pthread_get_stackaddr_np(self);
	s->lo = s->hi - pthread_get_stacksize_np(self);
}
