/*
 * test_tlsblock.c — what a clone-model M's TLS block costs does not depend on
 * the program's own static TLS (#11 item 8).
 *
 * An M's thread pointer must be such that tp + (a link-time offset) is the
 * M's mrt_tls, and the executable's and other libraries' TLS may lie in
 * between: mrt lays out only the thread-control-block words at tp and mrt_tls
 * itself (core/tls.c), and nothing between them may become resident. Before
 * item 8 was fixed, mrt zeroed the whole span for every M: with 512 KiB of
 * program TLS each M cost 512 KiB more memory, and with 2 MiB mrt_init
 * refused with -ENOSYS.
 *
 * Built four times by tests/meson.build: linked against libmrt.so and against
 * libmrt.a, each with PROGTLS bytes of __thread data in this executable
 * (512 KiB and 2 MiB). Against libmrt.so the executable's TLS lies between
 * the thread pointer and mrt_tls on every CPU (variant II, amd64: below tp
 * and nearest to it; variant I, arm64 and riscv64: first above the TCB).
 * Against libmrt.a, mrt_tls is part of the executable's own TLS segment,
 * after this file's data in link order: between tp and mrt_tls on arm64 and
 * riscv64, below mrt_tls (outside the block) on amd64.
 *
 * Only the public API: libmrt.so exports nothing else. No testlib either (it
 * reaches mrt's internals); code on the Ms uses mrt's API and memory only.
 */
#define _GNU_SOURCE
#include <mrt.h>

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#ifdef __linux__
#include <sys/mman.h>
#include <sys/prctl.h>
#endif

#ifndef PROGTLS
#error "tests/meson.build sets PROGTLS, the bytes of this program's own TLS"
#endif

/* The program's own TLS: never touched on an M (the clone model forbids
 * other modules' __thread variables there); m0 writes it, so it is kept. */
__thread char progtls[PROGTLS];

static int initerr;
static char initmsg[sizeof mrt_tls.errmsg];

enum { nms = 4 };

/* What each M saw of itself, written on the M, read by m0 once it is idle. */
static struct seen {
	uintptr_t tp;      /* the M's thread pointer */
	uintptr_t tls;     /* its mrt_tls */
	uintptr_t prog;    /* where progtls is on this M (its address only) */
	uintptr_t g0lo, g0hi;
	int64_t id;
	int ok;            /* getg, getm and the M's id were its own */
} seen[nms];

static uintptr_t thread_pointer(void)
{
	uintptr_t tp = 0;
#if defined(__x86_64__)
	__asm__ volatile("movq %%fs:0, %0" : "=r"(tp)); /* the TCB's self word */
#elif defined(__aarch64__)
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
#elif defined(__riscv)
	__asm__ volatile("mv %0, tp" : "=r"(tp));
#endif
	return tp;
}

/* On the M: record the block, then park (the test reads seen[] once every
 * M is idle; the release of mrt's lock orders the stores before that). */
static void fn_record(void *arg)
{
	struct seen *s = arg;
	s->tp = thread_pointer();
	s->tls = (uintptr_t)mrt_tlsp_();
	s->prog = (uintptr_t)&progtls[0]; /* computed from tp, not a load */
	s->id = mrt_mid();
	s->ok = mrt_getm() != NULL && mrt_getg() == mrt_getg0() && s->id > 0 &&
	        mrt_gstack(mrt_getg0(), &s->g0lo, &s->g0hi) == 0;
	mrt_stopm();
}

static void fn_exit(void *arg)
{
	(void)arg;
}

/* Waits until n Ms are idle; fails the test after 60 s rather than hang. */
static void wait_idle(int64_t n)
{
	struct mrt_mstats st;
	struct timespec ts = { 0, 1000000 };
	for (int i = 0; i < 60000; i++) {
		assert_int_equal(mrt_mstats(&st), 0);
		if (st.idle >= n)
			return;
		nanosleep(&ts, NULL);
	}
	fail_msg("only %lld of %lld Ms parked after 60 s", (long long)st.idle, (long long)n);
}

static void test_init_succeeds(void **state)
{
	(void)state;
	if (initerr != 0)
		print_error("mrt_init: %s: %s\n", mrt_strerror(initerr), initmsg);
	assert_int_equal(initerr, 0);
}

/* Ms start, run with their own block, and exit, many times over (their
 * stacks come back from the cache with the previous M's block in them). */
static void test_ms_run_and_exit(void **state)
{
	(void)state;
	assert_int_equal(initerr, 0);
	for (int i = 0; i < 64; i++) {
		int64_t id = mrt_newm(fn_exit, NULL, NULL);
		assert_true(id > 0);
		assert_int_equal(mrt_join(id), 0);
	}
}

/*
 * The pages between an M's g0 stack and the far end of its TLS block (the
 * TCB words at tp, mrt_tls at its offset, and whatever program TLS lies
 * between) are resident only where mrt wrote: at most 3 pages' worth (the
 * TCB's, and mrt_tls's, which may straddle a page boundary and share its
 * first page with the top of the stack), whatever PROGTLS is.
 */
static void test_tls_block_resident_pages_bounded(void **state)
{
	(void)state;
	assert_int_equal(initerr, 0);
#ifdef __linux__
	if (strcmp(mrt_threadmodel(), "clone") != 0) {
		print_message("pthread model: an M is a libc thread, whose static TLS libc "
		              "allocates and initialises whole; mrt's block is the clone "
		              "model's\n");
		skip();
	}
	struct mrt_mstats st;
	assert_int_equal(mrt_mstats(&st), 0);
	int64_t idle0 = st.idle;
	for (int i = 0; i < nms; i++)
		assert_true(mrt_newm(fn_record, &seen[i], NULL) > 0);
	wait_idle(idle0 + nms);

	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	for (int i = 0; i < nms; i++) {
		struct seen *s = &seen[i];
		assert_true(s->ok);
		uintptr_t tlsend = s->tls + sizeof(struct mrt_tls);
		uintptr_t lo = s->g0hi & ~(page - 1);
		uintptr_t hi = ((s->tp + 1 > tlsend ? s->tp + 1 : tlsend) + page - 1) & ~(page - 1);
		assert_true(lo < hi);
#ifdef TLS_SHARED
		/* Linked against libmrt.so, the program's TLS is between tp and
		 * mrt_tls on every CPU: the range measured must hold all of it,
		 * or this test would measure nothing. */
		assert_true(s->prog >= lo && s->prog + PROGTLS <= hi);
#endif
		/*
		 * mincore writes one byte per page of the kernel it runs on:
		 * under QEMU with QEMU_PAGESIZE (ci/matrix arm64-16k, -64k)
		 * that is the host's 4 KiB page, not the guest's. So the
		 * vector has room for 4 KiB pages, starts all 0xff, and the
		 * bytes mincore wrote say how large its pages are.
		 */
		static unsigned char vec[(PROGTLS + (4u << 20)) / 4096];
		size_t len = hi - lo;
		assert_true(len / 4096 <= sizeof vec);
		memset(vec, 0xff, sizeof vec);
		assert_int_equal(mincore((void *)lo, len, vec), 0);
		size_t n = 0, resident = 0;
		while (n < sizeof vec && vec[n] != 0xff)
			resident += vec[n++] & 1;
		assert_true(n > 0 && len % n == 0);
		size_t kib = resident * (len / n) / 1024;
		print_message("M%lld: tp=%#lx mrt_tls=tp%+ld progtls=tp%+ld; "
		              "[g0 hi, block end) %zu KiB, %zu KiB resident\n",
		              (long long)s->id, (unsigned long)s->tp, (long)(s->tls - s->tp),
		              (long)(s->prog - s->tp), len / 1024, kib);
		assert_true(kib <= 3 * page / 1024);
	}
	for (int i = 0; i < nms; i++)
		assert_true(mrt_join(mrt_startm(fn_exit, NULL, NULL)) == 0);
#else
	skip();
#endif
}

int main(void)
{
#ifdef __linux__
	/* With transparent huge pages "always", the kernel may back any 2 MiB
	 * of a large anonymous mapping that is touched at all with a huge
	 * page: a policy for the whole process, not a page mrt wrote. Off
	 * for this process, so the count is of what mrt touched (ignored where
	 * the kernel or an emulator refuses: there is nothing to turn off). */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
#endif
	progtls[0] = 1;
	progtls[PROGTLS - 1] = 1;
	/* In the pthread model libc takes each thread's static TLS out of its
	 * stack (mrt.h, g0_stack), so g0 must be larger than the program's TLS
	 * there; a clone-model M keeps the default 64 KiB whatever PROGTLS is. */
	struct mrt_config c = MRT_CONFIG_INIT;
	if (strcmp(mrt_threadmodel(), "pthread") == 0)
		c.g0_stack = PROGTLS + (256 << 10);
	initerr = mrt_init(&c);
	if (initerr != 0)
		snprintf(initmsg, sizeof initmsg, "%s", mrt_errmsg());
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_succeeds),
		cmocka_unit_test(test_ms_run_and_exit),
		cmocka_unit_test(test_tls_block_resident_pages_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
