/*
 * test_overflow.c — stack overflow detection (MRT_F_STACKOVERFLOW) and the
 * chaining of every other fault to the SIGSEGV action installed before
 * mrt_init. Each case runs in a child process of its own (mrt_init once per
 * process, and most of them die).
 *
 * An overflow case prints, before it overflows, the line mrt must print
 * ("expect: stack overflow on M<id> (g<id>, stack [lo, hi))", from the
 * bounds mrt reports), and the parent checks that the child died of SIGABRT
 * with exactly that after "mrt: fatal: ".
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "fixalloc.h"
#include "sys_linux.h"
#include "linux.h" /* mainstacklo */
#include "san.h" /* MRT_TSAN */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct mrt_config withflag = CFG(.flags = MRT_F_STACKOVERFLOW);

static void assert_overflow_reported(const struct child *c)
{
	assert_child_signal(c, SIGABRT, "mrt: fatal: stack overflow on ");
	const char *e = strstr(c->out, "expect: ");
	assert_non_null(e);
	char want[256];
	size_t n = strcspn(e + 8, "\n");
	assert_true(n < sizeof want - 20);
	snprintf(want, sizeof want, "mrt: fatal: %.*s\n", (int)n, e + 8);
	if (strstr(c->out, want) == NULL) {
		print_error("wanted \"%s\" in:\n%s\n", want, c->out);
		fail();
	}
	assert_null(strstr(c->out, "survived"));
	assert_null(strstr(c->out, "previous handler"));
}

/* Deliberately unbounded: it ends in a guard page. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int recurse(int n)
{
	volatile char buf[256];
	buf[0] = (char)n;
	return recurse(n + 1) + buf[0];
}
#pragma GCC diagnostic pop

static void expect(const char *on, const char *gname, const mrt_g *gp)
{
	uintptr_t lo, hi;
	mrt_gstack(gp, &lo, &hi);
	mrt_dprintf(2, "expect: stack overflow on %s (%s, stack [%p, %p))\n", on, gname,
	            (void *)lo, (void *)hi);
}

/* A SIGSEGV handler that must not be called for an overflow. */
static void prev_should_not_run(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	mrt_dprintf(2, "previous handler called\n");
}

static void install_prev(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = prev_should_not_run;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
}

/* ------------------------------------------------------------------------
 * Overflows
 * ------------------------------------------------------------------------ */

static void overflow_g0(void *arg)
{
	(void)arg;
	char on[32];
	mrt_snprintf(on, sizeof on, "M%lld", (long long)mrt_mid());
	expect(on, "g0", mrt_getg0());
	recurse(0);
}

static void child_g0(void)
{
	install_prev();
	CHILD_CHECK(mrt_init(&withflag) == 0);
	int64_t id = mrt_newm(overflow_g0, NULL, NULL);
	CHILD_CHECK(id > 0);
	mrt_join(id);
	mrt_dprintf(2, "survived\n");
}

static void test_g0_overflow_is_reported(void **state)
{
	(void)state;
	struct child c;
	run_child(child_g0, 30, &c);
	assert_overflow_reported(&c);
}

static mrt_g *ovg;

static void overflow_user(void *arg)
{
	(void)arg;
	char on[32], gname[32];
	mrt_snprintf(on, sizeof on, "M%lld", (long long)mrt_mid());
	mrt_snprintf(gname, sizeof gname, "g%lld", (long long)mrt_gid(ovg));
	expect(on, gname, ovg);
	recurse(0);
}

static void run_overflowing_g(void *arg)
{
	(void)arg;
	CHILD_CHECK(mrt_malg(&ovg, 64 << 10) == 0);
	CHILD_CHECK(mrt_gostart(ovg, overflow_user, NULL) == 0);
	mrt_gogo(ovg);
}

static void child_user_g_on_m(void)
{
	install_prev();
	CHILD_CHECK(mrt_init(&withflag) == 0);
	int64_t id = mrt_newm(run_overflowing_g, NULL, NULL);
	CHILD_CHECK(id > 0);
	mrt_join(id);
	mrt_dprintf(2, "survived\n");
}

static void test_user_g_overflow_on_an_m_is_reported(void **state)
{
	(void)state;
	struct child c;
	run_child(child_user_g_on_m, 30, &c);
	assert_overflow_reported(&c);
}

static void child_user_g_on_m0(void)
{
	CHILD_CHECK(mrt_init(&withflag) == 0);
	run_overflowing_g(NULL);
	mrt_dprintf(2, "survived\n");
}

static void test_user_g_overflow_on_m0_is_reported(void **state)
{
	(void)state;
	struct child c;
	run_child(child_user_g_on_m0, 30, &c);
	assert_overflow_reported(&c);
}

/* m0's own stack: the kernel stops growing it at RLIMIT_STACK. */
static void child_m0(void)
{
	struct rlimit rl = { 1 << 20, 1 << 20 }; /* a short recursion */
	setrlimit(RLIMIT_STACK, &rl);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	expect("M0", "g0", mrt_getg0());
	recurse(0);
	mrt_dprintf(2, "survived\n");
}

static void test_m0_stack_overflow_is_reported(void **state)
{
	(void)state;
	/* mrt finds m0's stack in /proc/self/maps. QEMU 7.2 user mode lists a
	 * host mapping there only if all its guest pages share one protection;
	 * with QEMU_PAGESIZE above the host's 4 KiB the guest stack's 4 KiB
	 * PROT_NONE guard shares a host page with the stack, so the stack is not
	 * listed at all and its bounds cannot be known (mrt falls back to 64 KiB
	 * around the frame, where there is no guard). A kernel always lists it:
	 * natively this never skips. (The child is a fork of this thread: the
	 * same stack.) */
	char perms[5];
	uintptr_t mlo, mhi;
	if (emulated && !maps_find((uintptr_t)__builtin_frame_address(0), perms, &mlo, &mhi)) {
		print_message("skipped: QEMU user mode leaves the main thread's stack out of "
		              "/proc/self/maps with pages above 4 KiB (QEMU_PAGESIZE)\n");
		skip();
	}
	struct child c;
	run_child(child_m0, 30, &c);
	assert_overflow_reported(&c);
}

/*
 * How low m0's stack can grow, for every page size Linux runs with (#11 item
 * 11): the kernel stops a growing stack its guard gap — 256 pages of the
 * real page size (stack_guard_gap), 16 MiB with 64 KiB pages — above the
 * mapping below it. Bounds computed with 4 KiB pages would put m0's lo 1
 * MiB above that mapping: the fault at the kernel's limit would land far
 * below the guard mrt watches, and the overflow would not be reported. In a
 * child: it sets mrt's page size to each size in turn.
 */
static void check_lo(uintptr_t ps, const char *what, uintptr_t got, uintptr_t want)
{
	if (got != want) {
		mrt_dprintf(2, "pages of %zu, %s: lo %p, want %p\n", (size_t)ps, what,
		            (void *)got, (void *)want);
		child_exit(1);
	}
}

static void child_guard_gap(void)
{
	static const uintptr_t sizes[] = { 4 << 10, 16 << 10, 64 << 10 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uintptr_t ps = sizes[i];
		pagesize = ps;
		uintptr_t prevend = (uintptr_t)1 << 32;
		uintptr_t hi = prevend + (64u << 20), lo = hi - (128u << 10);
		check_lo(ps, "far from the mapping below (RLIMIT_STACK is the limit)",
		         mainstacklo(lo, hi, prevend, 32u << 20), hi - (32u << 20));
		check_lo(ps, "near the mapping below (the guard gap is the limit)",
		         mainstacklo(lo, hi, prevend, 64u << 20), prevend + 256 * ps);
		check_lo(ps, "a limit below what is mapped (the mapping is the stack)",
		         mainstacklo(lo, hi, prevend, 64u << 10), lo);
	}
}

static void test_m0_guard_gap_is_256_pages(void **state)
{
	(void)state;
	struct child c;
	run_child(child_guard_gap, 30, &c);
	assert_child_ok(&c);
}

/*
 * mrt's page size is the kernel's (AT_PAGESZ, which sysconf reads too), and
 * under QEMU the one QEMU_PAGESIZE asks for: so the matrix's arm64-16k and
 * arm64-64k configurations run with the pages they are named for (the
 * variable must reach the emulator through meson test and the exe_wrapper).
 */
static void child_pagesize(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(pagesize == getauxval(AT_PAGESZ));
	CHILD_CHECK(pagesize == kernel_pagesize());
	const char *want = getenv("QEMU_PAGESIZE");
	if (emulated && want != NULL)
		CHILD_CHECK(pagesize == strtoul(want, NULL, 0));
}

static void test_pagesize_is_the_kernels(void **state)
{
	(void)state;
	struct child c;
	run_child(child_pagesize, 30, &c);
	assert_child_ok(&c);
	print_message("page size %zu\n", kernel_pagesize());
}

/*
 * The lookup takes no lock: with the scheduler lock and both pool locks held
 * by the faulting thread itself, it still reports (a handler that took one of
 * them would hang, and the child's alarm would end it) — on the fast path (a
 * user g overflowing on m0) and on the scan of the pools (a fault in the
 * guard page of a g that never ran, on no M).
 */
static void child_locks_held(int scan)
{
	CHILD_CHECK(mrt_init(&withflag) == 0);
	CHILD_CHECK(mrt_malg(&ovg, 64 << 10) == 0);
	CHILD_CHECK(mrt_gostart(ovg, overflow_user, NULL) == 0);
	lock(&sched.lock);
	lock(&mpool.lock);
	lock(&gpool.lock);
	if (scan) {
		char gname[32];
		mrt_snprintf(gname, sizeof gname, "g%lld", (long long)mrt_gid(ovg));
		expect("no M", gname, ovg);
		*(volatile char *)(ovg->stack.lo - 100) = 1;
	} else {
		mrt_gogo(ovg);
	}
	mrt_dprintf(2, "survived\n");
}

static void child_locks_held_fast(void)
{
	child_locks_held(0);
}

static void child_locks_held_scan(void)
{
	child_locks_held(1);
}

static void test_overflow_reported_with_mrt_locks_held(void **state)
{
	(void)state;
	struct child c;
	run_child(child_locks_held_fast, 30, &c);
	assert_overflow_reported(&c);
	run_child(child_locks_held_scan, 30, &c);
	assert_overflow_reported(&c);
}

/*
 * A fault in the guard page of a stack that is not the faulting thread's:
 * found by the scan of the pools, not the current M. m0 writes into the guard
 * page of a parked M's g0, and of a user g that ran on that M and is now
 * suspended (on no M).
 */
static uint32_t parked_up;
static mrt_g *sleeper, *sleeper_back;

static void sleeper_fn(void *arg)
{
	(void)arg;
	ev_add(&parked_up, 1);
	mrt_gogo(sleeper_back); /* suspend: back to the M's g0 */
}

static void park_after_g(void *arg)
{
	(void)arg;
	sleeper_back = mrt_getg0();
	mrt_gostart(sleeper, sleeper_fn, NULL);
	mrt_gogo(sleeper);
	mrt_stopm();
}

static void child_scan(int which)
{
	CHILD_CHECK(mrt_init(&withflag) == 0);
	CHILD_CHECK(mrt_malg(&sleeper, 64 << 10) == 0);
	int64_t id = mrt_newm(park_after_g, NULL, NULL);
	CHILD_CHECK(id > 0);
	while (ev_get(&parked_up) == 0)
		futexsleep(&parked_up, 0, -1);
	struct mrt_mstats st;
	do
		mrt_mstats(&st);
	while (st.idle != 1);
	char on[32];
	mrt_snprintf(on, sizeof on, "M%lld", (long long)id);
	uintptr_t lo;
	if (which == 0) {
		expect(on, "g0", sleeper_back); /* that M's g0 */
		lo = sleeper_back->stack.lo;
	} else {
		/* A suspended g runs on no M. */
		char gname[32];
		mrt_snprintf(gname, sizeof gname, "g%lld", (long long)mrt_gid(sleeper));
		expect("no M", gname, sleeper);
		lo = sleeper->stack.lo;
	}
	*(volatile char *)(lo - 1) = 1;
	mrt_dprintf(2, "survived\n");
}

static void child_scan_g0(void)
{
	child_scan(0);
}

static void child_scan_g(void)
{
	child_scan(1);
}

static void test_guard_of_another_ms_g0_is_found(void **state)
{
	(void)state;
	struct child c;
	run_child(child_scan_g0, 30, &c);
	assert_overflow_reported(&c);
}

static void test_guard_of_a_suspended_g_is_found(void **state)
{
	(void)state;
	struct child c;
	run_child(child_scan_g, 30, &c);
	assert_overflow_reported(&c);
}

/*
 * Guards of both kinds (#15 item 3): a guard region (the kernel's
 * MADV_GUARD_INSTALL, where it has it), and mprotect's (MRTDEBUG=
 * mprotectguards=1, as on a kernel without it, or under QEMU). Either way
 * an overflow of a g0 (an m pool slot) and of a user g stack (a slot of a
 * stack slab) is caught and named; and so is one in a slot that went back
 * to its slab and was handed out again, whose guard is the one made when
 * it was first carved.
 */
static void child_g0_mprotect(void)
{
	setenv("MRTDEBUG", "mprotectguards=1", 1);
	child_g0();
}

static void child_user_g_mprotect(void)
{
	setenv("MRTDEBUG", "mprotectguards=1", 1);
	child_user_g_on_m();
}

static void test_overflow_is_reported_with_mprotect_guards(void **state)
{
	(void)state;
	struct child c;
	run_child(child_g0_mprotect, 30, &c);
	assert_overflow_reported(&c);
	run_child(child_user_g_mprotect, 30, &c);
	assert_overflow_reported(&c);
}

static void child_reused_slot(int mprotect)
{
	if (mprotect)
		setenv("MRTDEBUG", "mprotectguards=1", 1);
	/* A cache of one stack, too small for a 64 KiB g stack: freed, the
	 * stack goes back to its slab (kept mapped by a second one), and the
	 * next one takes its slot. */
	struct mrt_config c = CFG(.flags = MRT_F_STACKOVERFLOW, .stack_cache = 1);
	CHILD_CHECK(mrt_init(&c) == 0);
	mrt_g *first, *second;
	uintptr_t lo, hi, lo2, hi2;
	CHILD_CHECK(mrt_malg(&first, 64 << 10) == 0 && mrt_malg(&second, 64 << 10) == 0);
	mrt_gstack(first, &lo, &hi);
	CHILD_CHECK(mrt_gfree(first) == 0);
	CHILD_CHECK(mrt_malg(&ovg, 64 << 10) == 0);
	mrt_gstack(ovg, &lo2, &hi2);
	CHILD_CHECK(lo2 == lo && hi2 == hi); /* the same slot */
	CHILD_CHECK(mrt_gostart(ovg, overflow_user, NULL) == 0);
	mrt_gogo(ovg);
	mrt_dprintf(2, "survived\n");
}

static void child_reused_slot_default(void)
{
	child_reused_slot(0);
}

static void child_reused_slot_mprotect(void)
{
	child_reused_slot(1);
}

static void test_guard_of_a_slot_handed_out_again_is_found(void **state)
{
	(void)state;
	struct child c;
	run_child(child_reused_slot_default, 30, &c);
	assert_overflow_reported(&c);
	run_child(child_reused_slot_mprotect, 30, &c);
	assert_overflow_reported(&c);
}

/* Without the flag mrt installs nothing: an overflow is a plain SIGSEGV. */
static void child_noflag(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	int64_t id = mrt_newm(overflow_g0, NULL, NULL);
	CHILD_CHECK(id > 0);
	mrt_join(id);
	mrt_dprintf(2, "survived\n");
}

static void test_without_flag_overflow_is_plain_sigsegv(void **state)
{
	(void)state;
	struct child c;
	run_child(child_noflag, 30, &c);
	assert_child_signal(&c, SIGSEGV, NULL);
	assert_null(strstr(c.out, "mrt: fatal"));
}

/* ------------------------------------------------------------------------
 * Chaining: faults that are not overflows
 * ------------------------------------------------------------------------ */

/* Written by the handlers: volatile, or the compiler, which sees that no
 * store through badpage can reach them, may read them before the fault. */
static char *badpage;
static size_t badsize; /* one page of the kernel's */
static volatile uint32_t prev_calls;
static volatile int prev_sig;
static void *volatile prev_addr, *volatile prev_uc;
static volatile uint64_t prev_blocked;

static void fixpage(void)
{
	/* M-safe: the handler may run on a clone-model M. */
	arch_syscall6(SYS_mprotect, (long)badpage, (long)badsize, PROT_READ | PROT_WRITE, 0, 0, 0);
}

static uint64_t blocked_now(void)
{
	uint64_t set = 0;
	arch_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&set, 8, 0, 0);
	return set;
}

static void prev_siginfo(int sig, siginfo_t *si, void *uc)
{
	prev_sig = sig;
	prev_addr = si->si_addr;
	prev_uc = uc;
	prev_blocked = blocked_now();
	prev_calls = prev_calls + 1;
	fixpage();
}

static void prev_plain(int sig)
{
	prev_sig = sig;
	prev_blocked = blocked_now();
	prev_calls = prev_calls + 1;
	fixpage();
}

static void map_badpage(void)
{
	badsize = kernel_pagesize();
	badpage = mmap(NULL, badsize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(badpage != MAP_FAILED);
}

static void touch_badpage(void *arg)
{
	(void)arg;
	*(volatile char *)&badpage[10] = 42;
}

static void setprev(void *handler, int flags, int maskedsig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	if (flags & SA_SIGINFO)
		sa.sa_sigaction = handler;
	else
		sa.sa_handler = handler;
	sa.sa_flags = flags;
	if (maskedsig)
		sigaddset(&sa.sa_mask, maskedsig);
	sigaction(SIGSEGV, &sa, NULL);
}

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

/* A previous SA_SIGINFO handler gets the signal, the fault address and the
 * context, with its own mask; it fixes the page and the access completes —
 * on m0 and on an M. */
static void child_chain_siginfo(void)
{
	setprev(prev_siginfo, SA_SIGINFO | SA_ONSTACK, SIGUSR1);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	map_badpage();
	touch_badpage(NULL);
	CHILD_CHECK(prev_calls == 1 && prev_sig == SIGSEGV && prev_addr == badpage + 10);
	CHILD_CHECK(prev_uc != NULL && badpage[10] == 42);
	CHILD_CHECK((prev_blocked & bit(SIGUSR1)) && (prev_blocked & bit(SIGSEGV)));
	/* Again on an M: the handler runs on its gsignal, same contract. */
	CHILD_CHECK(mprotect(badpage, badsize, PROT_NONE) == 0);
	int64_t id = mrt_newm(touch_badpage, NULL, NULL);
	CHILD_CHECK(id > 0 && mrt_join(id) == 0);
	CHILD_CHECK(prev_calls == 2 && prev_addr == badpage + 10 && badpage[10] == 42);
}

static void test_chain_to_siginfo_handler(void **state)
{
	(void)state;
	struct child c;
	run_child(child_chain_siginfo, 30, &c);
	assert_child_ok(&c);
}

/* A previous plain handler (no SA_SIGINFO) gets just the signal number;
 * with SA_NODEFER, SIGSEGV is not blocked while it runs. */
static void child_chain_plain(void)
{
	setprev(prev_plain, SA_NODEFER, 0);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	map_badpage();
	touch_badpage(NULL);
	CHILD_CHECK(prev_calls == 1 && prev_sig == SIGSEGV && badpage[10] == 42);
	CHILD_CHECK(!(prev_blocked & bit(SIGSEGV)));
}

static void test_chain_to_plain_handler(void **state)
{
	(void)state;
	struct child c;
	run_child(child_chain_plain, 30, &c);
	assert_child_ok(&c);
}

/* SA_RESETHAND: the first fault goes to the handler, the second finds the
 * default action and kills. */
static void child_chain_resethand(void)
{
	setprev(prev_siginfo, SA_SIGINFO | SA_RESETHAND, 0);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	map_badpage();
	touch_badpage(NULL);
	CHILD_CHECK(prev_calls == 1);
	mrt_dprintf(2, "first handled\n");
	CHILD_CHECK(mprotect(badpage, badsize, PROT_NONE) == 0);
	touch_badpage(NULL);
	mrt_dprintf(2, "survived\n");
}

static void test_chain_resethand_once(void **state)
{
	(void)state;
	struct child c;
	run_child(child_chain_resethand, 30, &c);
	assert_child_signal(&c, SIGSEGV, "first handled");
	assert_null(strstr(c.out, "survived"));
}

/* SIG_DFL before mrt_init: a fault that is not an overflow kills with
 * SIGSEGV, on m0 or on an M, and so does a SIGSEGV sent with kill. */
static void child_dfl_fault(void)
{
	CHILD_CHECK(mrt_init(&withflag) == 0);
	map_badpage();
	int64_t id = mrt_newm(touch_badpage, NULL, NULL);
	CHILD_CHECK(id > 0);
	mrt_join(id);
	mrt_dprintf(2, "survived\n");
}

static void child_dfl_kill(void)
{
	CHILD_CHECK(mrt_init(&withflag) == 0);
	kill(getpid(), SIGSEGV);
	mrt_dprintf(2, "survived\n");
}

static void test_chain_default_kills(void **state)
{
	(void)state;
	struct child c;
	run_child(child_dfl_fault, 30, &c);
	assert_child_signal(&c, SIGSEGV, NULL);
	assert_null(strstr(c.out, "mrt: fatal"));
	assert_null(strstr(c.out, "survived"));
	run_child(child_dfl_kill, 30, &c);
	assert_child_signal(&c, SIGSEGV, NULL);
	assert_null(strstr(c.out, "survived"));
}

/* SIG_IGN before mrt_init: a sent SIGSEGV is ignored; a real fault is not
 * (the kernel kills a process that ignores a synchronous fault). */
static void child_ign_kill(void)
{
	signal(SIGSEGV, SIG_IGN);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	kill(getpid(), SIGSEGV);
	int64_t id = mrt_newm(fn_exit, NULL, NULL);
	CHILD_CHECK(id > 0 && mrt_join(id) == 0);
}

static void child_ign_fault(void)
{
	signal(SIGSEGV, SIG_IGN);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	map_badpage();
	touch_badpage(NULL);
	mrt_dprintf(2, "survived\n");
}

static void test_chain_ignore(void **state)
{
	(void)state;
	struct child c;
	run_child(child_ign_kill, 30, &c);
	assert_child_ok(&c);
	run_child(child_ign_fault, 30, &c);
	assert_child_signal(&c, SIGSEGV, NULL);
	assert_null(strstr(c.out, "survived"));
}

/*
 * #11 item 9 (documented): with SIG_IGN before mrt_init, a sent SIGSEGV is
 * ignored, but mrt's handler is installed in its place, and a signal that
 * has a handler interrupts the system calls SA_RESTART does not restart:
 * poll here returns EINTR where an ignored signal would have left it
 * asleep. mrt.h says so; this holds it. The sleeper is a thread of the
 * child's own (libc's poll), the sender the child's main thread.
 */
static int ign_pipe[2];
static int32_t ign_tid;
static int ign_ret, ign_errno;
static uint32_t ign_up;

static void *ign_sleeper(void *arg)
{
	(void)arg;
	__atomic_store_n(&ign_tid, mrt_gettid(), __ATOMIC_RELEASE);
	ev_add(&ign_up, 1);
	struct pollfd p = { .fd = ign_pipe[0], .events = POLLIN };
	ign_ret = poll(&p, 1, -1);
	ign_errno = errno;
	return NULL;
}

static void child_ign_interrupts(void)
{
	signal(SIGSEGV, SIG_IGN);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	CHILD_CHECK(pipe(ign_pipe) == 0);
	pthread_t t;
	CHILD_CHECK(pthread_create(&t, NULL, ign_sleeper, NULL) == 0);
	while (ev_get(&ign_up) == 0)
		sched_yield();
	int32_t tid = __atomic_load_n(&ign_tid, __ATOMIC_ACQUIRE);
	while (thread_state(tid) != 'S') /* asleep in poll */
		sched_yield();
	CHILD_CHECK(signal_tid(tid, SIGSEGV) == 0);
	pthread_join(t, NULL);
	CHILD_CHECK(ign_ret == -1 && ign_errno == EINTR);
}

static void test_ignored_sigsegv_interrupts_a_sleep(void **state)
{
	(void)state;
	struct child c;
	run_child(child_ign_interrupts, 30, &c);
	assert_child_ok(&c);
}

/*
 * #11 item 10: an overflow of a signal stack itself is reported (mrt.h said
 * it could not be): the stack pointer has left gsignal for its guard page,
 * so the kernel finds the thread off its signal stack and delivers the
 * fault at gsignal's top again, where mrt's handler finds the guard page.
 */
static void overflow_in_handler(int sig)
{
	(void)sig;
	recurse(0);
}

static void overflow_gsignal(void *arg)
{
	(void)arg;
	char on[32];
	mrt_snprintf(on, sizeof on, "M%lld", (long long)mrt_mid());
	expect(on, "gsignal", getm()->gsignal);
	mrt_signalm(mrt_mid(), SIGUSR1);
	for (;;) /* the handler runs at the latest when the signal is unblocked */
		arch_procyield(1);
}

static void child_gsignal(void)
{
	install_prev();
	CHILD_CHECK(mrt_init(&withflag) == 0);
	catch_signal(SIGUSR1, overflow_in_handler, NULL);
	int64_t id = mrt_newm(overflow_gsignal, NULL, NULL);
	CHILD_CHECK(id > 0);
	mrt_join(id);
	mrt_dprintf(2, "survived\n");
}

static void test_gsignal_overflow_is_reported(void **state)
{
	(void)state;
	if (MRT_TSAN) {
		print_message("ThreadSanitizer runs the handler later, on the stack running "
		              "then, not on gsignal\n");
		skip();
	}
#if defined(__riscv)
	if (emulated) {
		print_message("QEMU's riscv64 user mode ends the process with a plain SIGSEGV "
		              "instead of delivering the fault at the signal stack's top, as "
		              "Linux (and QEMU's arm64) do\n");
		skip();
	}
#endif
	struct child c;
	run_child(child_gsignal, 30, &c);
	assert_overflow_reported(&c);
}

/* The flag is refused in no configuration, and its handler is mrt's. */
static void child_installed(void)
{
	struct sigaction before, after;
	sigaction(SIGSEGV, NULL, &before);
	CHILD_CHECK(mrt_init(&withflag) == 0);
	sigaction(SIGSEGV, NULL, &after);
	CHILD_CHECK(after.sa_sigaction != before.sa_sigaction);
	CHILD_CHECK((after.sa_flags & (SA_SIGINFO | SA_ONSTACK)) == (SA_SIGINFO | SA_ONSTACK));
}

static void test_flag_installs_handler(void **state)
{
	(void)state;
	struct child c;
	run_child(child_installed, 30, &c);
	assert_child_ok(&c);
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flag_installs_handler),
		cmocka_unit_test(test_g0_overflow_is_reported),
		cmocka_unit_test(test_user_g_overflow_on_an_m_is_reported),
		cmocka_unit_test(test_user_g_overflow_on_m0_is_reported),
		cmocka_unit_test(test_m0_stack_overflow_is_reported),
		cmocka_unit_test(test_m0_guard_gap_is_256_pages),
		cmocka_unit_test(test_pagesize_is_the_kernels),
		cmocka_unit_test(test_overflow_reported_with_mrt_locks_held),
		cmocka_unit_test(test_guard_of_another_ms_g0_is_found),
		cmocka_unit_test(test_guard_of_a_suspended_g_is_found),
		cmocka_unit_test(test_overflow_is_reported_with_mprotect_guards),
		cmocka_unit_test(test_guard_of_a_slot_handed_out_again_is_found),
		cmocka_unit_test(test_without_flag_overflow_is_plain_sigsegv),
		cmocka_unit_test(test_chain_to_siginfo_handler),
		cmocka_unit_test(test_chain_to_plain_handler),
		cmocka_unit_test(test_chain_resethand_once),
		cmocka_unit_test(test_chain_default_kills),
		cmocka_unit_test(test_chain_ignore),
		cmocka_unit_test(test_ignored_sigsegv_interrupts_a_sleep),
		cmocka_unit_test(test_gsignal_overflow_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
