/*
 * test_lock_sema.c — core/lock_sema.c, the runtime mutex and notes of
 * platforms without a futex (Darwin), over the platform's own semaphores:
 * the library's objects as they are, platform/darwin/os_darwin.c's
 * semasleep/semawakeup included. A suite of the Darwin builds: on a Mac,
 * and on Linux through tests/darwin-shim (-Ddarwin_shim), where
 * os_darwin.c's relative timed wait runs on glibc's pthread_cond_clockwait.
 * The threads here are not Ms: they sleep on the semaphore os_darwin.c
 * keeps for each such thread (semaself).
 *
 * It checks what Go's lock_sema.go promises: mutual exclusion under heavy
 * contention (threads queue and sleep), one wakeup per sleep for notes, and
 * that a notetsleep that times out while a notewakeup races with it leaves
 * its thread's semaphore count at zero — a drift there would make some later
 * sleep return at once.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sched.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>

#include "runtime.h"

/* The wakeups a semaphore holds that no sleep has taken yet. */
static uint32_t semacount(semawaiter *w)
{
	pthread_mutex_lock(&w->sema.mu);
	uint32_t c = w->sema.count;
	pthread_mutex_unlock(&w->sema.mu);
	return c;
}

enum { nthreads = 8 };
static mutex mu;
static long counter;
static int inside, overlaps;

static void *contend(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++) {
		lock(&mu);
		if (__atomic_fetch_add(&inside, 1, __ATOMIC_RELAXED) != 0)
			__atomic_fetch_add(&overlaps, 1, __ATOMIC_RELAXED);
		counter++;
		if (i % 64 == 0)
			sched_yield(); /* hold it a while: others queue and sleep */
		__atomic_fetch_sub(&inside, 1, __ATOMIC_RELAXED);
		unlock(&mu);
	}
	return NULL;
}

/* N threads, each taking the lock many times, on one CPU's worth of
 * spinning (ncpu = 1: straight to the queue): every increment lands, no two
 * are ever inside at once, and the lock ends unlocked with no waiter. */
static void test_mutex_excludes_under_contention(void **state)
{
	(void)state;
	for (int spinning = 0; spinning < 2; spinning++) {
		ncpu = spinning ? 4 : 1;
		counter = 0;
		overlaps = 0;
		long per = 20000;
		pthread_t t[nthreads];
		for (int i = 0; i < nthreads; i++)
			pthread_create(&t[i], NULL, contend, (void *)per);
		for (int i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
		assert_int_equal(counter, nthreads * per);
		assert_int_equal(overlaps, 0);
		assert_int_equal(mu.key, 0);
	}
}

/* ------------------------------------------------------------------------ */

static note ping, pong;
static long rounds_seen;

static void *ponger(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++) {
		notesleep(&ping);
		noteclear(&ping);
		rounds_seen++;
		notewakeup(&pong);
	}
	return NULL;
}

/* Two threads hand a turn back and forth through two notes: each wakeup
 * reaches exactly one sleep, and a wakeup that comes before the sleep is
 * not lost. */
static void test_notes_ping_pong(void **state)
{
	(void)state;
	long n = 20000;
	rounds_seen = 0;
	noteclear(&ping);
	noteclear(&pong);
	pthread_t t;
	pthread_create(&t, NULL, ponger, (void *)n);
	for (long i = 0; i < n; i++) {
		notewakeup(&ping);
		notesleep(&pong);
		noteclear(&pong);
		assert_int_equal(rounds_seen, i + 1);
	}
	pthread_join(t, NULL);
	assert_int_equal(semacount(semaself()), 0);
}

/* ------------------------------------------------------------------------ */

static note raced;
static uint32_t go, fired;

static void *waker(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++) {
		while (__atomic_load_n(&go, __ATOMIC_ACQUIRE) != i + 1)
			sched_yield();
		/* Wake at about the moment the sleeper's timeout expires (a
		 * timed wait here lasts its time plus about 100 us). */
		int64_t until = nanotime() + (i % 9) * 40000;
		while (nanotime() < until)
			;
		notewakeup(&raced);
		__atomic_store_n(&fired, (uint32_t)(i + 1), __ATOMIC_RELEASE);
	}
	return NULL;
}

/* notetsleep with timeouts of the order of the waker's delay: some rounds
 * wake, some time out while the wakeup is on its way. Either way, once the
 * round's wakeup has happened the sleeper's semaphore holds nothing — a
 * timed-out sleep unregistered itself or took the wakeup it could not stop —
 * and a timed-out sleep did wait its time. */
static void test_notetsleep_timeout_races_wakeup(void **state)
{
	(void)state;
	long n = 2000;
	int woken = 0, timedout = 0;
	go = fired = 0;
	pthread_t t;
	pthread_create(&t, NULL, waker, (void *)n);
	semawaiter *me = semaself();
	for (long i = 0; i < n; i++) {
		noteclear(&raced);
		__atomic_store_n(&go, (uint32_t)(i + 1), __ATOMIC_RELEASE);
		int64_t ns = (i % 7) * 30000, t0 = nanotime();
		if (notetsleep(&raced, ns)) {
			woken++;
		} else {
			timedout++;
			assert_true(nanotime() - t0 >= ns);
		}
		while (__atomic_load_n(&fired, __ATOMIC_ACQUIRE) != i + 1)
			sched_yield();
		assert_int_equal(semacount(me), 0);
		assert_int_equal(raced.key, 1); /* woken, nobody registered */
	}
	pthread_join(t, NULL);
	print_message("notetsleep: %d woken, %d timed out\n", woken, timedout);
	assert_true(woken > 0);
	assert_true(timedout > 0);
}

/* A timeout with nobody to wake: false, after the time, nothing left over. */
static void test_notetsleep_times_out(void **state)
{
	(void)state;
	note n;
	noteclear(&n);
	int64_t t0 = nanotime();
	assert_false(notetsleep(&n, 20 * 1000000));
	assert_true(nanotime() - t0 >= 20 * 1000000);
	assert_int_equal(n.key, 0);
	assert_int_equal(semacount(semaself()), 0);
	notewakeup(&n); /* woken before the sleep: returns at once */
	assert_true(notetsleep(&n, 1000000000));
}

/*
 * #11 item 9: notetsleep for all but forever (INT64_MAX, what an idle time
 * near INT64_MAX gives) computed its deadline as nanotime() + ns, here and
 * in Darwin's semasleep: a signed overflow, undefined (UBSan stops there),
 * that only a second overflow, deadline - nanotime(), brought back to a
 * positive wait. The deadline saturates now. (The overflow's visible harm,
 * a parked M retired by its first signal, is lock_futex's: test_child.)
 */
static note forever;
static bool forever_woken;

static void *sleep_forever(void *arg)
{
	(void)arg;
	forever_woken = notetsleep(&forever, INT64_MAX);
	return NULL;
}

static void test_notetsleep_forever_is_woken(void **state)
{
	(void)state;
	noteclear(&forever);
	forever_woken = false;
	pthread_t t;
	pthread_create(&t, NULL, sleep_forever, NULL);
	while (__atomic_load_n(&forever.key, __ATOMIC_ACQUIRE) == 0) /* registered */
		sched_yield();
	notewakeup(&forever);
	pthread_join(t, NULL);
	assert_true(forever_woken);
	assert_int_equal(semacount(semaself()), 0);
}

int main(void)
{
	alarm(120); /* a lost wakeup is a deadlock: fail, do not hang */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutex_excludes_under_contention),
		cmocka_unit_test(test_notes_ping_pong),
		cmocka_unit_test(test_notetsleep_timeout_races_wakeup),
		cmocka_unit_test(test_notetsleep_times_out),
		cmocka_unit_test(test_notetsleep_forever_is_woken),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
