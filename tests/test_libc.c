/*
 * test_libc.c — in the pthread model, code on an M may use libc: malloc and
 * free, printf to a pipe, errno, pthread_self and __thread, on many Ms at
 * once, and g0 is exactly the pthread's own stack.
 *
 * None of this is allowed in the clone model, and there the suite reports
 * itself skipped and says why: an M made by a raw clone has no libc thread
 * control block, and errno, malloc's per-thread arena, stdio's lock owner,
 * pthread_self and every other library's __thread variables live in it.
 * (On amd64 such an M's thread pointer is mrt's own small TLS block, so the
 * first of these calls reads or writes whatever lies there.)
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static const char why_not_clone[] =
	"clone model: code on an M may not call libc (an M made by a raw clone has "
	"no libc thread control block: errno, malloc's arena, stdio's lock owner and "
	"pthread_self live there); build with -Dthreads=pthread to run this test\n";

#define NEED_PTHREAD_MODEL()                                                      \
	do {                                                                      \
		if (!pthread_model()) {                                           \
			print_message("%s", why_not_clone);                       \
			skip();                                                   \
		}                                                                 \
	} while (0)

enum { maxms = 32 };
static int nms(void)
{
	return quick ? 8 : maxms;
}

/* All the Ms of a test run their libc calls at the same time: each waits at
 * a barrier until all have arrived (barrier k of a test, used once). */
static uint32_t arrived[3];
static uint32_t done, bad;

static void barrier(int k)
{
	ev_add(&arrived[k], 1);
	ev_block(&arrived[k], (uint32_t)nms());
}

static void start_ms(mrt_fn fn, int64_t *ids)
{
	done = bad = 0;
	memset(arrived, 0, sizeof arrived);
	for (long i = 0; i < nms(); i++)
		ids[i] = must_newm(fn, (void *)i);
}

static void join_ms(const int64_t *ids)
{
	for (int i = 0; i < nms(); i++)
		assert_int_equal(mrt_join(ids[i]), 0);
	assert_int_equal(ev_get(&done), (uint32_t)nms());
	assert_int_equal(ev_get(&bad), 0);
}

#define M_CHECK(cond)                                                             \
	do {                                                                      \
		if (!(cond)) {                                                    \
			fprintf(stderr, "M%lld: check failed: %s\n",              \
			        (long long)mrt_mid(), #cond);                     \
			ev_add(&bad, 1);                                          \
		}                                                                 \
	} while (0)

/* ------------------------------------------------------------------------ */

/* malloc, realloc and free from many Ms at once, each block filled with its
 * M's pattern and checked before it is freed. */
static void mallocs(void *arg)
{
	long self = (long)arg;
	enum { live = 16 };
	unsigned char *blk[live] = { 0 };
	size_t len[live] = { 0 };
	barrier(0);
	int iters = quick ? 500 : 3000;
	for (int i = 0; i < iters; i++) {
		int k = (int)(mrt_fastrand() % live);
		if (blk[k] != NULL) {
			for (size_t j = 0; j < len[k]; j += 61)
				M_CHECK(blk[k][j] == (unsigned char)(self + j));
			if (i % 3 == 0) {
				free(blk[k]);
				blk[k] = NULL;
				continue;
			}
		}
		size_t n = 1 + mrt_fastrand() % (i % 7 == 0 ? 200000 : 2000);
		unsigned char *p = realloc(blk[k], n);
		M_CHECK(p != NULL);
		if (p == NULL)
			break;
		for (size_t j = 0; j < n; j += 61)
			p[j] = (unsigned char)(self + j);
		blk[k] = p;
		len[k] = n;
	}
	for (int k = 0; k < live; k++)
		free(blk[k]);
	ev_add(&done, 1);
}

static void test_malloc_free_on_many_ms(void **state)
{
	(void)state;
	NEED_PTHREAD_MODEL();
	int64_t ids[maxms];
	start_ms(mallocs, ids);
	join_ms(ids);
}

/* ------------------------------------------------------------------------ */

/* errno is per thread: each M's failing calls set its own, and a value one
 * M leaves there survives the others' failures. */
static void errnos(void *arg)
{
	long self = (long)arg;
	errno = 0;
	M_CHECK(close(-1) == -1 && errno == EBADF);
	M_CHECK(strtol("99999999999999999999999", NULL, 10) == LONG_MAX && errno == ERANGE);
	errno = 1000 + (int)self;
	barrier(0); /* everyone has set theirs */
	M_CHECK(errno == 1000 + (int)self);
	M_CHECK(write(-1, "", 0) == -1 && errno == EBADF);
	barrier(1); /* everyone has failed again */
	M_CHECK(errno == EBADF);
	ev_add(&done, 1);
}

static void test_errno_is_per_m(void **state)
{
	(void)state;
	NEED_PTHREAD_MODEL();
	int64_t ids[maxms];
	start_ms(errnos, ids);
	join_ms(ids);
}

/* ------------------------------------------------------------------------ */

/* pthread_self names each M's own thread, __thread variables are per M, and
 * g0 is exactly the pthread's stack as libc describes it. */
static pthread_t selves[maxms];
static __thread long tlv = -1;

static void selfs(void *arg)
{
	long self = (long)arg;
	pthread_t me = pthread_self();
	selves[self] = me;
	M_CHECK(pthread_equal(me, pthread_self()));
	M_CHECK(tlv == -1); /* a fresh thread's initial value */
	tlv = self;

	void *addr = NULL;
	size_t size = 0;
#if defined(__APPLE__)
	size = pthread_get_stacksize_np(me);
	addr = (char *)pthread_get_stackaddr_np(me) - size; /* that is the top */
#else
	pthread_attr_t a;
	M_CHECK(pthread_getattr_np(me, &a) == 0);
	M_CHECK(pthread_attr_getstack(&a, &addr, &size) == 0);
	pthread_attr_destroy(&a);
#endif
	uintptr_t lo, hi, sp = (uintptr_t)__builtin_frame_address(0);
	mrt_gstack(mrt_getg0(), &lo, &hi);
	M_CHECK(lo == (uintptr_t)addr && hi == (uintptr_t)addr + size);
	M_CHECK(sp >= lo && sp < hi);
	M_CHECK(size >= cfg.g0stack - kernel_pagesize()); /* libc carves its TLS from it */

	barrier(0); /* all alive: their selves are distinct */
	M_CHECK(tlv == self);
	for (int i = 0; i < nms(); i++)
		M_CHECK(i == self || !pthread_equal(selves[i], me));
	ev_add(&done, 1);
}

static void test_pthread_self_and_thread_locals_per_m(void **state)
{
	(void)state;
	NEED_PTHREAD_MODEL();
	int64_t ids[maxms];
	memset(selves, 0, sizeof selves);
	start_ms(selfs, ids);
	join_ms(ids);
	for (int i = 0; i < nms(); i++)
		assert_false(pthread_equal(selves[i], pthread_self()));
	assert_int_equal(tlv, -1); /* m0's own copy untouched */
}

/* ------------------------------------------------------------------------ */

/* printf from many Ms at once into a pipe (a child's stdout, which run_child
 * captures): every line arrives exactly once and whole. */
enum { printlines = 15 }; /* 32 Ms' lines fit run_child's buffer */

static void prints(void *arg)
{
	long self = (long)arg;
	barrier(0);
	for (int i = 0; i < printlines; i++)
		printf("m%02ld l%02d %s\n", self, i, "libc");
	fflush(stdout);
	ev_add(&done, 1);
}

static void child_printf(void)
{
	CHILD_CHECK(mrt_mid() == 0); /* forked from m0, with mrt set up */
	int64_t ids[maxms];
	done = bad = 0;
	memset(arrived, 0, sizeof arrived);
	for (long i = 0; i < nms(); i++)
		CHILD_CHECK((ids[i] = mrt_newm(prints, (void *)i, NULL)) > 0);
	for (int i = 0; i < nms(); i++)
		CHILD_CHECK(mrt_join(ids[i]) == 0);
	CHILD_CHECK(ev_get(&done) == (uint32_t)nms());
	fflush(stdout);
}

static void test_printf_to_a_pipe_on_many_ms(void **state)
{
	(void)state;
	NEED_PTHREAD_MODEL();
	static struct child c;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_printf, 60, &c);
	if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0) {
		print_error("child status 0x%x:\n%s\n", c.status, c.out);
		fail();
	}
	int lines = 0;
	for (char *p = c.out, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		int mi, li;
		char word[8];
		if (sscanf(p, "m%2d l%2d %4s", &mi, &li, word) != 3 || nl - p != 12 ||
		    strcmp(word, "libc") != 0) {
			print_error("mangled line: %.*s\n", (int)(nl - p), p);
			fail();
		}
		lines++;
	}
	assert_int_equal(lines, nms() * printlines);
	char want[32];
	for (int m = 0; m < nms(); m++) {
		for (int l = 0; l < printlines; l++) {
			snprintf(want, sizeof want, "m%02d l%02d libc\n", m, l);
			char *at = strstr(c.out, want);
			assert_non_null(at);
			assert_null(strstr(at + 1, want)); /* exactly once */
		}
	}
}

/* ------------------------------------------------------------------------
 * #11 item 4: an M whose thread ends outside mrt. Code on an M may call
 * pthread_exit and may be cancelled; the thread then ends without returning
 * through mrt. It used to stay on allm for good: counted against the
 * thread limit, its joiner asleep for ever, its tid signalled long after
 * the kernel had given it to another thread. Now the M's exit runs from
 * the thread library's exit path: off allm, counted as freed, its joiner
 * woken, the user g it ran dead and freeable, and mrt_signalm answers
 * -ESRCH for it. Each case runs in a child (forked from m0, mrt set up),
 * whose alarm ends a join that never returns.
 * ------------------------------------------------------------------------ */

enum endhow {
	END_EXIT,          /* pthread_exit in the M's function, on g0 */
	END_EXIT_G,        /* pthread_exit on a user g */
	END_EXIT_SYSSTACK, /* pthread_exit in mrt_systemstack, from a user g */
	END_EXIT_JOINED,   /* pthread_exit while m0 waits in mrt_join */
	END_EXIT_STARTM,   /* pthread_exit in work an idle M was handed */
	END_CANCEL,        /* pthread_cancel, acted on at pthread_testcancel */
	END_CANCEL_READ,   /* pthread_cancel while blocked in read */
};
static enum endhow endhow;
static uint32_t end_up, end_go, end_joining;
static pthread_t end_thread;
static int32_t end_tid;
static mrt_g *end_g;
static int end_pipe[2];

static void end_now(void)
{
	switch (endhow) {
	case END_CANCEL:
		ev_block(&end_go, 1); /* pthread_cancel has been called */
		pthread_testcancel();
		break;
	case END_CANCEL_READ: {
		char c;
		ssize_t r = read(end_pipe[0], &c, 1);
		(void)r;
		break;
	}
	case END_EXIT_JOINED:
		/* m0 is about to join, then asleep in mrt_join. */
		ev_block(&end_joining, 1);
		while (thread_state(getpid()) != 'S')
			sched_yield();
		pthread_exit(NULL);
	default:
		pthread_exit(NULL);
	}
	fprintf(stderr, "M%lld: the thread did not end\n", (long long)mrt_mid());
}

static void end_in_systemstack(void *arg)
{
	(void)arg;
	end_now();
}

static void end_on_g(void *arg)
{
	(void)arg;
	if (endhow == END_EXIT_SYSSTACK)
		mrt_systemstack(end_in_systemstack, NULL);
	else
		end_now();
}

static void end_m(void *arg)
{
	(void)arg;
	end_thread = pthread_self();
	__atomic_store_n(&end_tid, mrt_gettid(), __ATOMIC_RELEASE);
	ev_add(&end_up, 1);
	if (endhow == END_EXIT_G || endhow == END_EXIT_SYSSTACK) {
		if (mrt_malg(&end_g, 64 << 10) != 0 || mrt_gostart(end_g, end_on_g, NULL) != 0)
			fprintf(stderr, "no g\n");
		mrt_gogo(end_g);
	} else {
		end_now();
	}
	fprintf(stderr, "M%lld: end_m returned\n", (long long)mrt_mid());
}

static int find_id(const struct mrt_minfo *info, void *arg)
{
	return info->id == *(int64_t *)arg;
}

static void child_end(void)
{
	struct mrt_mstats a, b;
	CHILD_CHECK(mrt_mid() == 0);
	CHILD_CHECK(pipe(end_pipe) == 0);
	int64_t id;
	/* a: the counts before the M that ends, which b must come back to. */
	if (endhow == END_EXIT_STARTM) {
		id = mrt_newm(fn_park, NULL, NULL);
		CHILD_CHECK(id > 0);
		do
			mrt_mstats(&a);
		while (a.idle != 1);
		CHILD_CHECK(mrt_startm(end_m, NULL, NULL) == id);
		a.live--; /* the parked M is the one that ends */
		a.idle--;
	} else {
		mrt_mstats(&a);
		/* The limit holds m0 and this M: an M left behind would refuse
		 * the next one. */
		mrt_setmaxthreads((int32_t)a.live + 1);
		id = mrt_newm(end_m, NULL, NULL);
		CHILD_CHECK(id > 0);
		a.created++;
	}
	while (ev_get(&end_up) == 0)
		sched_yield();
	int32_t tid = __atomic_load_n(&end_tid, __ATOMIC_ACQUIRE);
	if (endhow == END_CANCEL) {
		/* The cancel reaches the M asleep in ev_block, which is no
		 * cancellation point: it acts at pthread_testcancel, after the
		 * wakeup. (Sent any earlier, it raced the M into that sleep, and
		 * where the sleep was a condition variable's, a cancellation
		 * point, the M died in it holding the events' mutex: a hang, one
		 * run in five under load, darwin-shim.) */
		while (thread_state(tid) != 'S')
			sched_yield();
		CHILD_CHECK(pthread_cancel(end_thread) == 0);
		ev_add(&end_go, 1);
	} else if (endhow == END_CANCEL_READ) {
		while (thread_state(tid) != 'S') /* asleep in read */
			sched_yield();
		CHILD_CHECK(pthread_cancel(end_thread) == 0);
	} else if (endhow == END_EXIT_JOINED) {
		ev_add(&end_joining, 1);
	}
	CHILD_CHECK(mrt_join(id) == 0);
	mrt_mstats(&b);
	CHILD_CHECK(b.live == a.live && b.idle == a.idle && b.created == a.created);
	CHILD_CHECK(b.freed == a.freed + 1 && b.failed == a.failed && b.exiting == 0);
	CHILD_CHECK(mrt_forallm(find_id, &id) == 0); /* off allm */
	CHILD_CHECK(mrt_signalm(id, SIGURG) == -ESRCH);
	if (end_g != NULL) {
		CHILD_CHECK(mrt_gstatus(end_g) == MRT_G_DEAD);
		CHILD_CHECK(mrt_gfree(end_g) == 0);
	}
	/* The thread itself goes, and the limit lets the next M in. */
	while (thread_exists(tid))
		sched_yield();
	int64_t next = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(next > 0 && mrt_join(next) == 0);
}

static void end_case(enum endhow how)
{
	NEED_PTHREAD_MODEL();
	if (MRT_TSAN && how != END_CANCEL && how != END_CANCEL_READ) {
		/* Its interceptor checks that the thread runs on its own
		 * ThreadSanitizer state, not a fiber's, and every M's function
		 * runs on a fiber of its own (core/san.h). */
		print_message("ThreadSanitizer: pthread_exit refuses to run on a fiber, "
		              "and an M's code always does: not run under TSan\n");
		skip();
	}
	static struct child c;
	endhow = how;
	assert_true(settle_threads(expected_threads(0))); /* fork with no M but m0 */
	run_child(child_end, 30, &c);
	assert_child_ok(&c);
}

static void test_pthread_exit_on_g0_ends_the_m(void **state)
{
	(void)state;
	end_case(END_EXIT);
}

static void test_pthread_exit_on_a_user_g_ends_the_m(void **state)
{
	(void)state;
	end_case(END_EXIT_G);
}

static void test_pthread_exit_in_systemstack_ends_the_m(void **state)
{
	(void)state;
	end_case(END_EXIT_SYSSTACK);
}

static void test_pthread_exit_wakes_the_joiner(void **state)
{
	(void)state;
	end_case(END_EXIT_JOINED);
}

static void test_pthread_exit_in_handed_work_ends_the_m(void **state)
{
	(void)state;
	end_case(END_EXIT_STARTM);
}

static void test_cancellation_ends_the_m(void **state)
{
	(void)state;
	end_case(END_CANCEL);
}

static void test_cancellation_in_read_ends_the_m(void **state)
{
	(void)state;
	end_case(END_CANCEL_READ);
}

static int setup(void **state)
{
	(void)state;
	return mrt_init(NULL);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		MRT_TEST(test_malloc_free_on_many_ms),
		MRT_TEST(test_errno_is_per_m),
		MRT_TEST(test_pthread_self_and_thread_locals_per_m),
		MRT_TEST(test_printf_to_a_pipe_on_many_ms),
		MRT_TEST(test_pthread_exit_on_g0_ends_the_m),
		MRT_TEST(test_pthread_exit_on_a_user_g_ends_the_m),
		MRT_TEST(test_pthread_exit_in_systemstack_ends_the_m),
		MRT_TEST(test_pthread_exit_wakes_the_joiner),
		MRT_TEST(test_pthread_exit_in_handed_work_ends_the_m),
		MRT_TEST(test_cancellation_ends_the_m),
		MRT_TEST(test_cancellation_in_read_ends_the_m),
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	/* 77: Meson's "skipped", so the clone model's summary says SKIP. */
	if (failed == 0 && !pthread_model())
		return 77;
	return failed;
}
