/*
 * testlib.h — what the suites share: running a case in a child process,
 * waiting for an event without sleeping, and reading the kernel's view of
 * threads and mappings.
 *
 * Code that runs on clone-model Ms may use only the "M-safe" helpers here
 * (marked), mrt's API and memory; everything else is for the test's main
 * thread, which is an ordinary libc thread.
 */
#ifndef MRT_TESTLIB_H
#define MRT_TESTLIB_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <signal.h>
#include <cmocka.h>

#include "runtime.h"

/* A case run in a child process (fork, no exec: QEMU user mode cannot
 * re-exec a foreign binary). The child's stderr is captured. */
struct child {
	int status;      /* from waitpid */
	char out[8192];  /* the child's stderr (and stdout), NUL-terminated */
};
/* Runs fn in a fresh child and waits for it (at most timeout_s seconds,
 * then the child dies of SIGALRM); fails the test if the fork fails. */
void run_child(void (*fn)(void), int timeout_s, struct child *c);
/* The same from any thread, without cmocka: 0, or -errno if the child
 * could not be made or waited for. */
int fork_child(void (*fn)(void), int timeout_s, struct child *c);
/* Asserts the child died of signal sig and printed msg (if not NULL). */
void assert_child_signal(const struct child *c, int sig, const char *msg);
/* Asserts the child exited with code 0 and printed nothing. */
void assert_child_ok(const struct child *c);
/* In a child: report a failed check on stderr and exit 1. */
#define CHILD_CHECK(cond)                                                                 \
	do {                                                                              \
		if (!(cond)) {                                                            \
			mrt_dprintf(2, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			child_exit(1);                                                    \
		}                                                                         \
	} while (0)
NORETURN void child_exit(int code);

/* Events. M-safe: ev_add, ev_get, ev_block (waits for ever). Main thread:
 * ev_wait (fails the test after 60 s rather than hang). ev_poll: false
 * after 60 s, for a child (CHILD_CHECK). ev_wait and ev_poll also see an
 * event that is counted without a wake, as by a signal handler; ev_block
 * needs ev_add's wake. */
void ev_add(uint32_t *ev, uint32_t n);
uint32_t ev_get(uint32_t *ev);
void ev_block(uint32_t *ev, uint32_t atleast);
void ev_wait(uint32_t *ev, uint32_t atleast);
bool ev_poll(uint32_t *ev, uint32_t atleast);

/* Running under Valgrind (RUNNING_ON_VALGRIND; false where valgrind.h is
 * missing): a few checks that test the machine rather than mrt — MXCSR's
 * rounding bits, RLIMIT_AS — cannot hold there, and say so. */
bool under_valgrind(void);
/* Tells Memcheck that [lo, hi), below the stack pointer, is about to be
 * used on purpose (a no-op outside Valgrind). */
void valgrind_mem_in_use(uintptr_t lo, uintptr_t hi);

/* M-safe: send sig to thread tid of this process (tgkill on Linux). */
int signal_tid(int32_t tid, int sig);
/* Queue sig with value to thread tid of this process (rt_tgsigqueueinfo on
 * Linux; -ENOSYS elsewhere). */
int queue_tid(int32_t tid, int sig, int value);

/* Spins (yielding) until mrt reports `n` idle Ms; fails after 60 s. */
void wait_idle(int64_t n);

/* Main thread: fn handles sig, on the signal stack (SA_ONSTACK); *old (unless
 * NULL) gets the action it replaces. */
void catch_signal(int sig, void (*fn)(int), struct sigaction *old);
/* M-safe: restore sig's default action (raw rt_sigaction on Linux). */
void sig_default(int sig);

/* The kernel's view. */
int count_maps(void);                /* lines of /proc/self/maps */
/* The figure in kB of a "Name: N kB" line of a /proc file (VmRSS in
 * /proc/self/status, MemAvailable in /proc/meminfo); -1 if it has none. */
long proc_kib(const char *path, const char *name);
/* The mapping of /proc/self/maps that holds addr: its bounds and its
 * permissions ("rw-p"); false if none does. */
bool maps_find(uintptr_t addr, char perms[5], uintptr_t *lo, uintptr_t *hi);
/* Whether the byte at addr is in a guard page: the kernel's read of it
 * fails (EFAULT), be the guard PROT_NONE or a guard region (MADV_GUARD_
 * INSTALL, which /proc/self/maps does not show). Reads one byte through a
 * pipe, changes nothing; main thread or child. */
bool guarded(uintptr_t addr);
/* The kernel's page size (sysconf), not mrt's copy of it: what a case
 * that must hold for every page size (4, 16, 64 KiB) rounds with. */
size_t kernel_pagesize(void);
/* The directory for a test's scratch files: $TMPDIR, else the C library's
 * own (P_tmpdir), found at run time rather than named. */
const char *test_tmpdir(void);
int count_threads(void);             /* entries of /proc/self/task */
/* Threads that neither the test nor mrt made: QEMU user mode's own, or a
 * sanitizer runtime's (0 otherwise). Measured by testlib_init, before any
 * test runs. */
extern int hostthreads;
/* The suite runs under an emulator (QEMU user mode: the exe_wrapper of a
 * cross build, which sets MRT_TEST_EMULATED; see tests/meson.build). */
extern bool emulated;
/* What count_threads() must settle at: every live M (m0 included), the
 * host's threads, and `others` threads of the test's that are not Ms. */
int expected_threads(int others);
/* Waits (at most 60 s) until the process has exactly n threads and says
 * whether it got there: a thread that has exited stays in /proc for a
 * moment after the CLONE_CHILD_CLEARTID store that mrt_join waits for, and
 * under QEMU for longer. Main thread or child only (not M-safe). */
bool settle_threads(int n);
bool thread_exists(int32_t tid);
/*
 * The thread model. mrt_join returns once an M is done with mrt, and the
 * kernel thread may outlive that by a moment: in the pthread model the
 * detached pthread still runs libc's thread exit, and under QEMU user mode
 * even a clone-model thread leaves /proc after the CLONE_CHILD_CLEARTID
 * store that ended the join. So "the thread is gone" is waited for (at most
 * 60 s, then the test fails).
 */
bool pthread_model(void);
/* Waits until tid has left the process; fails after 60 s. */
void wait_thread_gone(int32_t tid);
uint64_t thread_sigblk(int32_t tid); /* SigBlk of /proc/self/task/tid/status */
char thread_state(int32_t tid);      /* R, S, D, ... */
int64_t thread_cputime_ns(int32_t tid);

/* Snapshot of every mrt count that must come back after a failure. */
struct mrtstate {
	struct mrt_mstats st;
	uint32_t cache_count;
	size_t cache_bytes;
	uint32_t mpool_inuse, mpool_free;
	uint32_t gpool_inuse, gpool_free;
	int64_t stacks_mapped;
	int64_t ids[64];
	int nids;
};
void snapshot(struct mrtstate *s);
void assert_same_state(const struct mrtstate *a, const struct mrtstate *b);

/* The kernel tid of live M id (0 if none). */
int32_t tid_of(int64_t id);

/* Whether M id has exited, its thread no longer uses its stacks (freeWait
 * says so) and it waits on freem, not reaped yet. */
bool exited_unreaped(int64_t id);
/* Waits (at most 60 s, then fails) until exited_unreaped(id). Main thread. */
void wait_exited_unreaped(int64_t id);

/* Creates an M running fn(arg) and fails the test if that fails. */
int64_t must_newm(mrt_fn fn, void *arg);

/* An M function that parks at once (wake it with mrt_startm). */
void fn_park(void *arg);
/* An M function that exits at once. */
void fn_exit(void *arg);
/* Ends every idle M and joins them. */
void stop_idle_ms(void);
/* Reaps until only m0 is left and nothing is exiting; fails after 60 s. */
void wait_only_m0(void);
/* cmocka teardown for in-process suites: disarms test hooks, restores the
 * thread limit, ends idle Ms and waits for every M to be gone, so that a
 * failed test does not leave Ms behind for the next one. */
int teardown_ms(void **state);
/* cmocka setup: a watchdog (SIGALRM after 120 s) so that a test that hangs
 * fails instead of stalling the suite; teardown_ms disarms it. */
int watchdog_on(void **state);
#define MRT_TEST(t) cmocka_unit_test_setup_teardown(t, watchdog_on, teardown_ms)

/* A struct mrt_config initialiser with its size set (mrt.h) and the given
 * fields: struct mrt_config c = CFG(.max_threads = 3); */
#define CFG(...) { .size = sizeof(struct mrt_config), __VA_ARGS__ }

/* Every test binary: parse --quick (fewer iterations, used under QEMU). */
extern bool quick;
void testlib_init(int argc, char **argv);

#endif
