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

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	};
	int failed = cmocka_run_group_tests(tests, setup, NULL);
	/* 77: Meson's "skipped", so the clone model's summary says SKIP. */
	if (failed == 0 && !pthread_model())
		return 77;
	return failed;
}
