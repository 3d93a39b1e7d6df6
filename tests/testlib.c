/* testlib.c — see testlib.h. */
#define _GNU_SOURCE
#include "testlib.h"
#include "fixalloc.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include "sys_linux.h"
#endif
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

bool quick;
int hostthreads;
bool emulated;

static void *record_tid(void *arg)
{
	*(int32_t *)arg = (int32_t)mrt_gettid();
	return NULL;
}

void testlib_init(int argc, char **argv)
{
	/* A sanitizer runtime starts a helper thread of its own at the
	 * process's first pthread_create: make that happen now, so that
	 * hostthreads counts it (with QEMU's threads, under QEMU). */
	pthread_t t;
	int32_t tid = 0;
	if (pthread_create(&t, NULL, record_tid, &tid) == 0)
		pthread_join(t, NULL);
	/* Under QEMU a joined thread's host thread leaves a moment after the
	 * join returns: counted before, it would be taken for the host's. */
	int64_t deadline = mrt_nanotime() + 10 * 1000000000LL;
	while (tid > 0 && thread_exists(tid) && mrt_nanotime() < deadline)
		sched_yield();
	hostthreads = count_threads() - 1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
	if (getenv("MRT_TEST_QUICK") != NULL)
		quick = true;
	emulated = getenv("MRT_TEST_EMULATED") != NULL;
}

void child_exit(int code)
{
	/* Skips libc's atexit handlers, which belong to the parent's cmocka
	 * run: raw exit_group on Linux (M-safe), _exit elsewhere. */
#if defined(__linux__)
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
#else
	_exit(code);
#endif
}

int fork_child(void (*fn)(void), int timeout_s, struct child *c)
{
	int p[2];
	if (pipe(p) != 0)
		return -errno;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		int err = -errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		close(p[0]);
		dup2(p[1], 2);
		dup2(p[1], 1);
		close(p[1]);
		alarm((unsigned)timeout_s); /* a hung child dies of SIGALRM */
		/* cmocka catches these in the parent to fail the running test;
		 * a child must die of them instead of jumping back into the
		 * parent's copy of the test runner. */
		static const int crash[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS };
		for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++)
			signal(crash[i], SIG_DFL);
		fn();
		child_exit(0);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t r;
	while ((r = read(p[0], c->out + n, sizeof c->out - 1 - n)) > 0)
		n += (size_t)r;
	c->out[n] = '\0';
	close(p[0]);
	return waitpid(pid, &c->status, 0) == pid ? 0 : -errno;
}

void run_child(void (*fn)(void), int timeout_s, struct child *c)
{
	assert_int_equal(fork_child(fn, timeout_s, c), 0);
}

void assert_child_signal(const struct child *c, int sig, const char *msg)
{
	if (!WIFSIGNALED(c->status) || WTERMSIG(c->status) != sig) {
		print_error("child: expected signal %d, got status 0x%x; output:\n%s\n", sig,
		            c->status, c->out);
		fail();
	}
	if (msg != NULL && strstr(c->out, msg) == NULL) {
		print_error("child output lacks \"%s\":\n%s\n", msg, c->out);
		fail();
	}
}

void assert_child_ok(const struct child *c)
{
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0 || c->out[0] != '\0') {
		print_error("child: status 0x%x; output:\n%s\n", c->status, c->out);
		fail();
	}
}

/* Sleeping on an event: the platform's futex, or, where there is none
 * (OS_LOCK_SEMA: Darwin, where every M is a pthread), one condition
 * variable for all events. */
#if OS_LOCK_SEMA
static pthread_mutex_t evmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t evcond = PTHREAD_COND_INITIALIZER;

static void ev_wake(uint32_t *ev)
{
	(void)ev;
	pthread_mutex_lock(&evmu);
	pthread_cond_broadcast(&evcond);
	pthread_mutex_unlock(&evmu);
}

static void ev_sleep(uint32_t *ev, uint32_t v, int64_t ns)
{
	/* A condition variable's wait is a cancellation point: a thread
	 * cancelled in it would die holding evmu, and every other event's
	 * user would hang on it. An event sleep is no cancellation point,
	 * as the futex it stands for is not. */
	int cancel;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	pthread_mutex_lock(&evmu);
	if (__atomic_load_n(ev, __ATOMIC_ACQUIRE) == v) {
		if (ns < 0) {
			pthread_cond_wait(&evcond, &evmu);
		} else {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += ns / 1000000000;
			ts.tv_nsec += ns % 1000000000;
			if (ts.tv_nsec >= 1000000000)
				ts.tv_sec++, ts.tv_nsec -= 1000000000;
			pthread_cond_timedwait(&evcond, &evmu, &ts);
		}
	}
	pthread_mutex_unlock(&evmu);
	pthread_setcancelstate(cancel, NULL);
}
#else
static void ev_wake(uint32_t *ev)
{
	futexwakeup(ev, INT32_MAX);
}

static void ev_sleep(uint32_t *ev, uint32_t v, int64_t ns)
{
	futexsleep(ev, v, ns);
}
#endif

void ev_add(uint32_t *ev, uint32_t n)
{
	__atomic_fetch_add(ev, n, __ATOMIC_RELEASE);
	ev_wake(ev);
}

void ev_block(uint32_t *ev, uint32_t atleast)
{
	for (;;) {
		uint32_t v = ev_get(ev);
		if (v >= atleast)
			return;
		ev_sleep(ev, v, -1);
	}
}

uint32_t ev_get(uint32_t *ev)
{
	return __atomic_load_n(ev, __ATOMIC_ACQUIRE);
}

/* Sleeps are bounded (100 ms) so that a count with no wake is seen. */
bool ev_poll(uint32_t *ev, uint32_t atleast)
{
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	for (;;) {
		uint32_t v = ev_get(ev);
		if (v >= atleast)
			return true;
		if (mrt_nanotime() > deadline)
			return false;
		ev_sleep(ev, v, 100 * 1000000LL);
	}
}

void ev_wait(uint32_t *ev, uint32_t atleast)
{
	if (!ev_poll(ev, atleast)) {
		print_error("ev_wait: event at %u, waited for %u\n", ev_get(ev), atleast);
		fail();
	}
}

void wait_idle(int64_t n)
{
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	struct mrt_mstats st;
	for (;;) {
		mrt_mstats(&st);
		if (st.idle == n)
			return;
		if (mrt_nanotime() > deadline) {
			print_error("wait_idle: %lld idle, waited for %lld\n", (long long)st.idle,
			            (long long)n);
			fail();
		}
		sched_yield();
	}
}

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
#define HAVE_VALGRIND_H 1
#endif
#endif

bool under_valgrind(void)
{
#if HAVE_VALGRIND_H
	return RUNNING_ON_VALGRIND != 0;
#else
	return false;
#endif
}

void valgrind_mem_in_use(uintptr_t lo, uintptr_t hi)
{
#if HAVE_VALGRIND_H
	VALGRIND_MAKE_MEM_UNDEFINED(lo, hi - lo);
#endif
	(void)lo, (void)hi;
}

int signal_tid(int32_t tid, int sig)
{
#if defined(__linux__)
	long pid = arch_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
	return (int)arch_syscall6(SYS_tgkill, pid, tid, sig, 0, 0, 0);
#else
	/* Darwin threads are signalled through their pthread_t (mrt_signalm);
	 * the suites that need this run on Linux only. */
	(void)tid, (void)sig;
	return -ENOSYS;
#endif
}

int queue_tid(int32_t tid, int sig, int value)
{
#if defined(__linux__)
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	return syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si) == 0 ? 0 : -errno;
#else
	(void)tid, (void)sig, (void)value;
	return -ENOSYS;
#endif
}

void catch_signal(int sig, void (*fn)(int), struct sigaction *old)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sa.sa_flags = SA_ONSTACK;
	sigaction(sig, &sa, old);
}

void sig_default(int sig)
{
#if defined(__linux__)
	long act[4] = { 0, 0, 0, 0 }; /* SIG_DFL, no flags, empty mask */
	arch_syscall6(SYS_rt_sigaction, sig, (long)act, 0, 8, 0, 0);
#else
	signal(sig, SIG_DFL);
#endif
}

int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	assert_non_null(f);
	int n = 0, ch;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

long proc_kib(const char *path, const char *name)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t n = strlen(name);
	long kb = -1;
	while (f != NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, name, n) == 0 && line[n] == ':') {
			kb = strtol(line + n + 1, NULL, 10);
			break;
		}
	if (f != NULL)
		fclose(f);
	return kb;
}

bool guarded(uintptr_t addr)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	ssize_t r = write(p[1], (const void *)addr, 1);
	int err = errno;
	close(p[0]);
	close(p[1]);
	assert_true(r == 1 || (r < 0 && err == EFAULT));
	return r < 0;
}

bool maps_find(uintptr_t addr, char perms[5], uintptr_t *lo, uintptr_t *hi)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	bool found = false;
	while (f != NULL && !found && fgets(line, sizeof line, f) != NULL) {
		unsigned long a, b;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &a, &b, p) == 3 && addr >= a && addr < b) {
			memcpy(perms, p, 5);
			*lo = a, *hi = b;
			found = true;
		}
	}
	if (f != NULL)
		fclose(f);
	return found;
}

const char *test_tmpdir(void)
{
	const char *d = getenv("TMPDIR");
	return d != NULL && *d != '\0' ? d : P_tmpdir;
}

size_t kernel_pagesize(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	assert_true(ps > 0);
	return (size_t)ps;
}

int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int expected_threads(int others)
{
	struct mrt_mstats st;
	mrt_mstats(&st);
	return (int)st.live + hostthreads + others;
}

bool settle_threads(int n)
{
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (count_threads() != n) {
		if (mrt_nanotime() > deadline)
			return false;
		sched_yield();
	}
	return true;
}

bool thread_exists(int32_t tid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d", tid);
	return access(path, F_OK) == 0;
}

bool pthread_model(void)
{
	return strcmp(mrt_threadmodel(), "pthread") == 0;
}

void wait_thread_gone(int32_t tid)
{
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (thread_exists(tid)) {
		if (mrt_nanotime() > deadline) {
			print_error("thread %d still exists after its M was joined\n", tid);
			fail();
		}
		sched_yield();
	}
}

static bool read_file(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return false;
	buf[r] = '\0';
	return true;
}

uint64_t thread_sigblk(int32_t tid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
	assert_true(read_file(path, buf, sizeof buf));
	char *p = strstr(buf, "SigBlk:");
	assert_non_null(p);
	return strtoull(p + 7, NULL, 16);
}

char thread_state(int32_t tid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	assert_true(read_file(path, buf, sizeof buf));
	char *p = strrchr(buf, ')');
	assert_non_null(p);
	return p[2];
}

int64_t thread_cputime_ns(int32_t tid)
{
	/* The kernel's per-thread CPU clock of any thread in this process:
	 * MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED). */
	clockid_t id = (clockid_t)((~(unsigned)tid << 3) | 6);
	struct timespec ts;
	assert_int_equal(clock_gettime(id, &ts), 0);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int collect_id(const struct mrt_minfo *info, void *arg)
{
	struct mrtstate *s = arg;
	if (s->nids < (int)(sizeof s->ids / sizeof s->ids[0]))
		s->ids[s->nids++] = info->id;
	return 0;
}

void snapshot(struct mrtstate *s)
{
	memset(s, 0, sizeof *s);
	mrt_mstats(&s->st);
	stackcache_stats(&s->cache_count, &s->cache_bytes);
	fixalloc_stats(&mpool, &s->mpool_inuse, &s->mpool_free);
	fixalloc_stats(&gpool, &s->gpool_inuse, &s->gpool_free);
	s->stacks_mapped = stacks_mapped();
	mrt_forallm(collect_id, s);
}

void assert_same_state(const struct mrtstate *a, const struct mrtstate *b)
{
	assert_int_equal(a->st.live, b->st.live);
	assert_int_equal(a->st.idle, b->st.idle);
	assert_int_equal(a->st.exiting, b->st.exiting);
	assert_int_equal(a->st.freed, b->st.freed);
	assert_int_equal(a->cache_count, b->cache_count);
	assert_int_equal(a->cache_bytes, b->cache_bytes);
	assert_int_equal(a->mpool_inuse, b->mpool_inuse);
	assert_int_equal(a->mpool_free, b->mpool_free);
	assert_int_equal(a->gpool_inuse, b->gpool_inuse);
	assert_int_equal(a->gpool_free, b->gpool_free);
	assert_int_equal(a->stacks_mapped, b->stacks_mapped);
	assert_int_equal(a->nids, b->nids);
	for (int i = 0; i < a->nids; i++)
		assert_int_equal(a->ids[i], b->ids[i]);
}

struct findtid {
	int64_t id;
	int32_t tid;
};

static int findtid(const struct mrt_minfo *info, void *arg)
{
	struct findtid *f = arg;
	if (info->id == f->id)
		f->tid = info->tid;
	return 0;
}

int32_t tid_of(int64_t id)
{
	struct findtid f = { id, 0 };
	mrt_forallm(findtid, &f);
	return f.tid;
}

bool exited_unreaped(int64_t id)
{
	bool r = false;
	lock(&sched.lock);
	for (m *mp = sched.freem; mp != nil; mp = mp->freelink)
		if (mp->id == id)
			r = load_acquire(&mp->freeWait) != freeMWait;
	unlock(&sched.lock);
	return r;
}

void wait_exited_unreaped(int64_t id)
{
	int64_t deadline = mrt_nanotime() + 60 * 1000000000LL;
	while (!exited_unreaped(id)) {
		if (mrt_nanotime() > deadline) {
			print_error("M%lld has not exited (or was reaped)\n", (long long)id);
			fail();
		}
		sched_yield();
	}
}

int64_t must_newm(mrt_fn fn, void *arg)
{
	int64_t id = mrt_newm(fn, arg, NULL);
	if (id < 0) {
		print_error("mrt_newm: %s (%s)\n", mrt_strerror((int)id), mrt_errmsg());
		fail();
	}
	return id;
}

void fn_park(void *arg)
{
	(void)arg;
	mrt_stopm();
}

void fn_exit(void *arg)
{
	(void)arg;
}

void stop_idle_ms(void)
{
	struct mrt_mstats st;
	int64_t ids[4096];
	int n = 0;
	mrt_mstats(&st);
	for (int64_t i = 0; i < st.idle && n < 4096; i++)
		ids[n++] = mrt_startm(fn_exit, NULL, NULL);
	for (int i = 0; i < n; i++)
		if (ids[i] > 0)
			mrt_join(ids[i]);
	mrt_reap();
}

static bool only_m0(int64_t deadline_ns)
{
	struct mrt_mstats st;
	int64_t deadline = mrt_nanotime() + deadline_ns;
	for (;;) {
		mrt_reap();
		mrt_mstats(&st);
		if (st.live == 1 && st.exiting == 0)
			return true;
		if (mrt_nanotime() > deadline) {
			print_error("still %lld live Ms (%lld idle), %lld exiting\n",
			            (long long)st.live, (long long)st.idle, (long long)st.exiting);
			return false;
		}
		if (st.idle > 0)
			stop_idle_ms();
		sched_yield();
	}
}

void wait_only_m0(void)
{
	if (!only_m0(60 * 1000000000LL))
		fail();
}

int watchdog_on(void **state)
{
	(void)state;
	alarm(120);
	return 0;
}

int teardown_ms(void **state)
{
	(void)state;
	/* The teardown itself may wait on a broken state (a join that can
	 * never finish): its own watchdog ends the run rather than hang. */
	alarm(90);
	for (int fp = 0; fp < NFAULT; fp++)
		mrt_test_fault(fp, 0, 0);
	mrt_test_nocache(false);
	mrt_test_mexithook(NULL);
	mrt_test_pointhook(NULL);
	mrt_setmaxthreads(10000);
	bool ok = only_m0(30 * 1000000000LL);
	alarm(0);
	return ok ? 0 : -1;
}
