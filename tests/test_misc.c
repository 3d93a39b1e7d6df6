/*
 * test_misc.c — the utilities an M may use without libc: the formatter,
 * error names, time, and the per-M words (p, M-local slots, fastrand).
 */
#define _GNU_SOURCE
#include "testlib.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void test_snprintf_formats(void **state)
{
	(void)state;
	char b[128];
	struct {
		const char *want;
		int n;
	} cases[] = {
		{ "42 -7 0", mrt_snprintf(b, sizeof b, "%d %i %u", 42, -7, 0u) },
	};
	assert_string_equal(b, cases[0].want);
	assert_int_equal(cases[0].n, 7);
	mrt_snprintf(b, sizeof b, "%lld %llu", (long long)INT64_MIN, (unsigned long long)UINT64_MAX);
	assert_string_equal(b, "-9223372036854775808 18446744073709551615");
	mrt_snprintf(b, sizeof b, "%x %X %lx", 0xbeefu, 0xbeefu, 0x123456789abcdefUL);
	assert_string_equal(b, "beef BEEF 123456789abcdef");
	mrt_snprintf(b, sizeof b, "%p %s %c%%", (void *)0x1000, "str", 'Z');
	assert_string_equal(b, "0x1000 str Z%");
	mrt_snprintf(b, sizeof b, "[%5d|%-5d|%05d|%-3s|%3s]", 42, 42, -42, "a", "abcd");
	assert_string_equal(b, "[   42|42   |-0042|a  |abcd]");
	const char *volatile nullstr = NULL; /* hidden from -Wformat-overflow */
	mrt_snprintf(b, sizeof b, "%zu %zd %s", (size_t)7, (ssize_t)-7, nullstr);
	assert_string_equal(b, "7 -7 (null)");
	/* Truncation reports the full length and always terminates. */
	assert_int_equal(mrt_snprintf(b, 4, "%s", "abcdefgh"), 8);
	assert_string_equal(b, "abc");
	assert_int_equal(mrt_snprintf(NULL, 0, "%d", 12345), 5);
	assert_int_equal(mrt_snprintf(NULL, 5, "x"), -EINVAL);
	assert_int_equal(mrt_dprintf(-1, "x"), -EBADF);
}

/* #11 item 9: mrt_dprintf and mrt_printf return the bytes they wrote:
 * output longer than one write's 511 bytes is cut, and the return value
 * said 600 for the 511 that reached the file. */
static void test_dprintf_returns_bytes_written(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	char big[601];
	memset(big, 'x', 600);
	big[600] = '\0';
	assert_int_equal(mrt_dprintf(p[1], "%s", big), 511);
	assert_int_equal(mrt_dprintf(p[1], "%d\n", 42), 3);
	close(p[1]);
	char got[1024];
	ssize_t n = 0, r;
	while ((r = read(p[0], got + n, sizeof got - (size_t)n)) > 0)
		n += r;
	close(p[0]);
	assert_int_equal(n, 511 + 3);
	assert_memory_equal(got + 511, "42\n", 3);
	/* mrt_printf: the same, on fd 1 redirected to a pipe. */
	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	int saved = dup(1);
	dup2(p[1], 1);
	int w = mrt_printf("%s", big);
	dup2(saved, 1);
	close(saved);
	close(p[1]);
	n = 0;
	while ((r = read(p[0], got + n, sizeof got - (size_t)n)) > 0)
		n += r;
	close(p[0]);
	assert_int_equal(w, 511);
	assert_int_equal(n, 511);
}

static void test_strerror_names(void **state)
{
	(void)state;
	assert_non_null(strstr(mrt_strerror(-EAGAIN), "EAGAIN"));
	assert_non_null(strstr(mrt_strerror(EINVAL), "EINVAL"));
	assert_non_null(strstr(mrt_strerror(-ENOMEM), "ENOMEM"));
	assert_string_equal(mrt_strerror(0), "success");
	assert_string_equal(mrt_strerror(-99999), "unknown error");
}

static void test_nanotime_is_monotonic(void **state)
{
	(void)state;
	int64_t t0 = mrt_nanotime();
	for (int i = 0; i < 1000; i++) {
		int64_t t = mrt_nanotime();
		assert_true(t >= t0);
		t0 = t;
	}
	assert_true(t0 > 0);
}

/* mrt_cpu names a CPU; Darwin has no supported way to ask and says
 * -ENOSYS (OS_LOCK_SEMA: Darwin's platform, on a Mac or behind the shim).
 * test_cpu.c checks the answer against getcpu, on Linux. */
static void test_cpu_is_a_cpu(void **state)
{
	(void)state;
	int c = mrt_cpu();
#if OS_LOCK_SEMA
	assert_int_equal(c, -ENOSYS);
#else
	assert_true(c >= 0 && c < 1 << 16);
#endif
}

/* p, M-local slots and fastrand belong to the M: two Ms see their own. */
struct mwords {
	void *p;
	uintptr_t slot_before, slot_after;
	uintptr_t *slot0, *bad1, *bad2;
	uint32_t r[4];
	int setp;
};
static struct mwords mw[2];
static uint32_t mw_arrived;

static void words(void *arg)
{
	struct mwords *w = arg;
	w->p = mrt_getp();
	w->slot0 = mrt_mlocal(0);
	w->slot_before = *w->slot0;
	*mrt_mlocal(MRT_MLOCAL_SLOTS - 1) = (uintptr_t)w;
	w->slot_after = *mrt_mlocal(MRT_MLOCAL_SLOTS - 1);
	w->bad1 = mrt_mlocal(-1);
	w->bad2 = mrt_mlocal(MRT_MLOCAL_SLOTS);
	for (int i = 0; i < 4; i++)
		w->r[i] = mrt_fastrand();
	w->setp = mrt_setp(&mw[1]);
	w->p = w->setp == 0 && mrt_getp() == &mw[1] ? w->p : NULL;
	/* Both Ms alive at once: one that ended first could be reaped and
	 * its m reused for the other, slots and all. */
	ev_add(&mw_arrived, 1);
	ev_block(&mw_arrived, 2);
}

/* What a thread that is not an M gets from the same calls. */
struct nonm {
	uintptr_t *slot;
	void *p;
	int setp;
	int64_t mid;
	uint32_t r[2];
};

static void *nonm_words(void *arg)
{
	struct nonm *w = arg;
	w->slot = mrt_mlocal(0);
	w->p = mrt_getp();
	w->setp = mrt_setp((void *)0x3333);
	w->mid = mrt_mid();
	w->r[0] = mrt_fastrand();
	w->r[1] = mrt_fastrand();
	return NULL;
}

static void test_per_m_words(void **state)
{
	(void)state;
	memset(mw, 0, sizeof mw);
	mw_arrived = 0;
	int64_t a = mrt_newm(words, &mw[0], (void *)0x1111);
	int64_t b = mrt_newm(words, &mw[1], (void *)0x2222);
	assert_int_equal(mrt_join(a), 0);
	assert_int_equal(mrt_join(b), 0);
	assert_ptr_equal(mw[0].p, (void *)0x1111);
	assert_ptr_equal(mw[1].p, (void *)0x2222);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(mw[i].slot_before, 0); /* a fresh M's slots are clear */
		assert_int_equal(mw[i].slot_after, (uintptr_t)&mw[i]);
		assert_null(mw[i].bad1);
		assert_null(mw[i].bad2);
		assert_int_equal(mw[i].setp, 0);
	}
	assert_ptr_not_equal(mw[0].slot0, mw[1].slot0);
	/* Different Ms, different sequences; no sequence repeats at once. */
	assert_memory_not_equal(mw[0].r, mw[1].r, sizeof mw[0].r);
	assert_int_not_equal(mw[0].r[0], mw[0].r[1]);
	/* m0 has them too; threads that are not Ms do not, and their
	 * fastrand is the shared generator, which still moves. */
	assert_non_null(mrt_mlocal(0));
	assert_true(mrt_fastrand() != mrt_fastrand());
	struct nonm nw;
	memset(&nw, 0xa5, sizeof nw);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, nonm_words, &nw), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_null(nw.slot);
	assert_null(nw.p);
	assert_int_equal(nw.setp, -EPERM);
	assert_int_equal(nw.mid, -1);
	assert_int_not_equal(nw.r[0], nw.r[1]);
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
		MRT_TEST(test_snprintf_formats),
		MRT_TEST(test_dprintf_returns_bytes_written),
		MRT_TEST(test_strerror_names),
		MRT_TEST(test_nanotime_is_monotonic),
		MRT_TEST(test_cpu_is_a_cpu),
		MRT_TEST(test_per_m_words),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
