/*
 * bti.c — the BTI proof: a freestanding arm64 program (its own _start, raw
 * system calls, no libc) built only from objects compiled with
 * -mbranch-protection=standard, so the linker marks it BTI without
 * -z force-bti, and the kernel (or `qemu-aarch64 -cpu max`) maps its text
 * as guarded pages. A libc-linked test could not show this: Debian's arm64
 * C runtime objects carry no BTI note, which turns BTI off for the binary.
 *
 * It reaches every entry of arch/arm64's assembly through a function
 * pointer (blr, which BTI checks): ctx_make, ctx_switch, ctx_switch_call,
 * ctx_call_on, ctx_jump, arch_clone and arch_exit_thread, and the assembly's
 * own blr into C (ctx_start → entry, ctx_switch_call → fn, ctx_call_on →
 * fn, the clone child → fn). Then the control: a forked child calls
 * nopad, which lacks a landing pad, and must die with SIGILL; if it returns
 * instead, BTI is not being enforced and the pass above proves nothing.
 *
 * Exit: 0 all good; 1 something failed (printed); 2 the program works but
 * BTI was not enforced (the CPU or emulator lacks it).
 */
#include <stdint.h>

#include "linux.h"

int nopad(void); /* bti_start.S */

/* Through volatile pointers: the compiler must branch with blr. */
static void *(*volatile p_make)(void *, void (*)(void *), void *) = ctx_make;
static int (*volatile p_switch)(void **, void *) = ctx_switch;
static void (*volatile p_switch_call)(void **, void *, void (*)(void *), void *) = ctx_switch_call;
static void (*volatile p_call_on)(void *, void (*)(void *), void *) = ctx_call_on;
static void (*volatile p_jump)(void *) = ctx_jump;
static long (*volatile p_clone)(unsigned long, void *, int32_t *, uint32_t *, void *,
                                void (*)(void *), void *) = arch_clone;
static void (*volatile p_exit_thread)(void) = arch_exit_thread;
static int (*volatile p_nopad)(void) = nopad;

static uint8_t gstack[64 << 10] __attribute__((aligned(16)));
static uint8_t sysstack[16 << 10] __attribute__((aligned(16)));
static uint8_t tstack[16 << 10] __attribute__((aligned(16)));

static void *mainctx, *gctx;
static uintptr_t steps; /* one bit per step reached */
static uint32_t ctid = 1;
static int32_t ptid;

static void put(const char *s)
{
	size_t n = 0;
	while (s[n] != '\0')
		n++;
	sys3(__NR_write, 1, s, n);
}

void ctx_entry_returned(void)
{
	put("bti: a context's entry returned\n");
	sys1(__NR_exit_group, 1);
	__builtin_unreachable();
}

/* Is sp on the stack [lo, lo + n)? A leaf's sp may be the top itself. */
static bool sp_in(const uint8_t *lo, size_t n)
{
	uintptr_t sp = arch_getsp();
	return sp > (uintptr_t)lo && sp <= (uintptr_t)lo + n;
}

static void on_sys(void *arg)
{
	(void)arg;
	if (sp_in(sysstack, sizeof sysstack))
		steps |= 1 << 3;
}

/* The made context: first entered from ctx_start. */
static void g_entry(void *arg)
{
	if (arg == &steps && sp_in(gstack, sizeof gstack))
		steps |= 1 << 0;
	p_switch(&gctx, mainctx);
	/* Resumed after on_top ran on this stack. */
	p_call_on(sysstack + sizeof sysstack, on_sys, 0);
	steps |= 1 << 4;
	p_jump(mainctx);
}

static void on_top(void *arg)
{
	(void)arg;
	if (sp_in(gstack, sizeof gstack))
		steps |= 1 << 2;
}

static void thread_fn(void *arg)
{
	*(uintptr_t *)arg |= 1 << 5;
	p_exit_thread();
}

int bti_main(uintptr_t sp)
{
	(void)sp;
	/* make, switch; then switch_call (on_top on g's stack) and the g's
	 * call_on and jump back. */
	void *c = p_make(gstack + sizeof gstack, g_entry, &steps);
	p_switch(&mainctx, c);
	steps |= 1 << 1;
	void *g = gctx;
	p_switch_call(&mainctx, g, on_top, 0);

	/* A thread through arch_clone, ended by arch_exit_thread; its exit
	 * clears ctid (CLONE_CHILD_CLEARTID). */
	unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
	                      CLONE_SYSVSEM | CLONE_THREAD | CLONE_PARENT_SETTID |
	                      CLONE_CHILD_CLEARTID;
	long tid = p_clone(flags, tstack + sizeof tstack, &ptid, &ctid, 0, thread_fn, &steps);
	if (tid <= 0) {
		put("bti: clone failed\n");
		return 1;
	}
	uint32_t v;
	while ((v = __atomic_load_n(&ctid, __ATOMIC_ACQUIRE)) != 0)
		sys4(__NR_futex, &ctid, FUTEX_WAIT, v, 0);

	if (steps != 0x3f) {
		char msg[] = "bti: steps reached: 0x..\n";
		msg[22] = "0123456789abcdef"[(steps >> 4) & 15];
		msg[23] = "0123456789abcdef"[steps & 15];
		put(msg);
		return 1;
	}
	put("bti: ctx_make, ctx_switch, ctx_switch_call, ctx_call_on, ctx_jump, arch_clone, "
	    "arch_exit_thread: ok\n");

	/* The control: a landing pad missing must be fatal. */
	long pid = sys5(__NR_clone, 17 /* SIGCHLD */, 0, 0, 0, 0);
	if (pid == 0) {
		uint64_t nocore[2] = { 0, 0 }; /* RLIMIT_CORE 0: no core file */
		sys4(__NR_prlimit64, 0, 4, nocore, 0);
		sys1(__NR_exit_group, p_nopad() == 42 ? 0 : 3);
	}
	int status = 0;
	if (pid < 0 || sys4(__NR_wait4, pid, &status, 0, 0) != pid) {
		put("bti: fork/wait failed\n");
		return 1;
	}
	if ((status & 0x7f) == 4 /* SIGILL */) {
		put("bti: blr to a function without a landing pad: SIGILL (BTI enforced)\n");
		return 0;
	}
	if (status == 0) {
		put("bti: blr to a function without a landing pad returned: BTI not enforced\n");
		return 2;
	}
	put("bti: the control child died in an unexpected way\n");
	return 1;
}
