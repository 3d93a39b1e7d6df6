/*
 * test_forkchild.c — what a fork child may do with the Ms of its parent, on
 * every OS: the fork cases that need no /proc (test_fork.c has the rest,
 * on Linux), so that Darwin's thread code runs them too — on a Mac, and on
 * Linux through tests/darwin-shim.
 *
 * In the child only the forking thread exists; forkchild (core/fork.c,
 * registered with pthread_atfork on both systems) has put every other M on
 * freem as dead, with freeWait saying its thread is gone. Each case runs in
 * a child under run_child's alarm, so a join that waits for a thread that
 * no longer exists fails the test instead of hanging it.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_ASAN, MRT_TSAN */

#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* An M that is running (not parked) at the fork: it waits on an event. */
static uint32_t busyrelease;
static void busy_m(void *arg)
{
	(void)arg;
	ev_block(&busyrelease, 1);
}

static int64_t parked, busy;

/*
 * #11 item 6: in the child, mrt_join of an M that was alive at the fork —
 * parked, or running — returns 0 at once. forkchild stores the freeWait
 * that the thread's exit would have, and osjoin must look at it before it
 * sleeps: the thread that would wake a sleeper is not in this process.
 * Darwin's old osjoin (platform/darwin/thread_darwin.c before the pthread
 * model moved to platform/posix) slept on a note first, for ever. Then
 * the child makes and joins an M of its own (not under the sanitizers,
 * whose runtimes cannot make threads in the child of a multi-threaded
 * fork: see test_fork.c).
 */
static void child_joins(void)
{
	CHILD_CHECK(mrt_join(parked) == 0);
	CHILD_CHECK(mrt_join(busy) == 0);
	struct mrt_mstats st;
	mrt_mstats(&st);
	CHILD_CHECK(st.live == 1 && st.idle == 0 && st.exiting == 0);
	if (!MRT_ASAN && !MRT_TSAN) {
		int64_t id = mrt_newm(fn_exit, NULL, NULL);
		CHILD_CHECK(id > 0 && mrt_join(id) == 0);
	}
}

static void test_join_in_child_of_m_alive_at_fork(void **state)
{
	(void)state;
	if (emulated) {
		print_message("skipped: QEMU user mode fails in the child of a "
		              "multi-threaded fork (its assertion cpu == current_cpu)\n");
		skip();
	}
	busyrelease = 0;
	parked = must_newm(fn_park, NULL);
	wait_idle(1);
	busy = must_newm(busy_m, NULL);
	struct child c;
	run_child(child_joins, 30, &c);

	/* The parent's Ms end first, so that a failed child leaves nothing
	 * behind for the teardown. */
	ev_add(&busyrelease, 1);
	assert_int_equal(mrt_join(busy), 0);
	int64_t id = mrt_startm(fn_exit, NULL, NULL); /* the parked M, woken */
	assert_int_equal(id, parked);
	assert_int_equal(mrt_join(parked), 0);
	assert_child_ok(&c);
}

static int setup(void **state)
{
	(void)state;
	return mrt_init(NULL); /* idle Ms never retire: parked stays parked */
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		MRT_TEST(test_join_in_child_of_m_alive_at_fork),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
