/*
 * san.h — telling AddressSanitizer, ThreadSanitizer and Valgrind what mrt
 * does behind their backs: switching stacks, and synchronising through raw
 * futexes and hand-written context switches they cannot see.
 *
 * Everything here compiles to nothing in a normal build. The sanitizers are
 * detected from the compiler (-fsanitize=address / thread); Valgrind's
 * client requests are compiled in only when the build asks for them
 * (-Dvalgrind, which defines MRT_VALGRIND) and valgrind/valgrind.h exists.
 *
 * The switch protocol (the same for every stack switch in g.c and proc.c):
 *
 *   on the side that leaves:   san_leave(from, dying, to)   just before the
 *                              ctx_* call; dying when the context being left
 *                              is abandoned for good (a g that ended or was
 *                              killed, the M's function at mexit/stopm)
 *   on the side that resumes:  san_enter(g)                 the first thing
 *                              after the ctx_* call returns or the entry
 *                              function starts
 *
 * ASan: __sanitizer_start_switch_fiber tells it the bounds of the stack
 * about to run (else it takes the new stack pointer for a wild one, and
 * __asan_handle_no_return, which the compiler inserts before every noreturn
 * call such as ctx_jump, "ignores" its request and warns of false positives
 * to follow) and saves the leaving context's fake stack (use-after-return
 * frames) in from->sanfake, or destroys it when the context dies;
 * __sanitizer_finish_switch_fiber restores the resumed context's.
 *
 * TSan: each context has a fiber, its own call stack and vector clock.
 * __tsan_switch_to_fiber must run on the leaving side, before the switch. A
 * user g's fiber is made by mrt_gostart and freed by mrt_gfree; g0's
 * function context (mstart1 and below) gets a fresh fiber each time mstart
 * starts a function, because the frames of a function ended by mexit or
 * stopm are abandoned, never returned from; the exit point (mstart itself)
 * runs on the thread's own fiber, which the thread ends on.
 *
 * Valgrind: every g stack mrt switches to — a user g's (malg), a clone-model
 * g0 (allocm) — is registered, and deregistered when it is freed
 * (stackfree), so Valgrind knows a jump between two of them is a stack
 * switch, not a huge frame. gsignal stacks are not: a handler reaches one
 * through signal delivery, which Valgrind follows itself, and registered it
 * would take the handler's first frame for a switch to another stack and
 * leave it unaddressable.
 */
#ifndef MRT_SAN_H
#define MRT_SAN_H

#include "runtime.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MRT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define MRT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(MRT_ASAN)
#define MRT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(MRT_TSAN)
#define MRT_TSAN 1
#endif
#ifndef MRT_ASAN
#define MRT_ASAN 0
#endif
#ifndef MRT_TSAN
#define MRT_TSAN 0
#endif

#if MRT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if MRT_TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if defined(MRT_VALGRIND) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>) && __has_include(<valgrind/memcheck.h>)
#include <valgrind/valgrind.h>
#include <valgrind/memcheck.h>
#define MRT_VG 1
#endif
#endif

/* A signal handler mrt installs with the raw rt_sigaction runs behind
 * TSan's back: TSan does not defer it to a safe point, as it defers the
 * handlers installed through its sigaction, so it may interrupt TSan's
 * runtime on its thread (an interceptor, the allocator) and must not call
 * into it. Such a handler's code is not instrumented (the asynchronous
 * one: mrt_allthreadssyscall's, allthreads.c). */
#if MRT_TSAN
#define SAN_RAWHANDLER __attribute__((no_sanitize("thread")))
#else
#define SAN_RAWHANDLER
#endif

/* Always inlined: under TSan a helper that switches fibers must not be a
 * function of its own, or its entry would be recorded on the old fiber's
 * shadow call stack and its exit on the new one's. */
#define SAN_INLINE inline __attribute__((always_inline))

/* The leaving side of a switch from `from` to `to` (see above). */
static SAN_INLINE void san_leave(g *from, bool dying, g *to)
{
#if MRT_ASAN
	__sanitizer_start_switch_fiber(dying ? nil : &from->sanfake, (const void *)to->stack.lo,
	                               to->stack.hi - to->stack.lo);
#endif
#if MRT_TSAN
	if (to->sanfiber != nil && to->sanfiber != __tsan_get_current_fiber())
		__tsan_switch_to_fiber(to->sanfiber, 0);
#endif
	(void)from, (void)dying, (void)to;
}

/* The resuming side: gp's context runs again (or for the first time). */
static SAN_INLINE void san_enter(g *gp)
{
#if MRT_ASAN
	__sanitizer_finish_switch_fiber(gp->sanfake, nil, nil);
	gp->sanfake = nil;
#endif
	(void)gp;
}

/* TSan: a fresh fiber for a g's new function (mrt_gostart, mstart); the old
 * one, whose frames were abandoned or all returned, goes. Never the fiber
 * running now. */
static SAN_INLINE void san_newfiber(g *gp)
{
#if MRT_TSAN
	if (gp->sanfiber != nil)
		__tsan_destroy_fiber(gp->sanfiber);
	gp->sanfiber = __tsan_create_fiber(0);
#endif
	(void)gp;
}

static SAN_INLINE void san_freefiber(g *gp)
{
#if MRT_TSAN
	if (gp->sanfiber != nil)
		__tsan_destroy_fiber(gp->sanfiber);
	gp->sanfiber = nil;
#endif
	(void)gp;
}

/* The fiber the calling thread runs on now: m0's g0, an M's exit point. */
static SAN_INLINE void *san_curfiber(void)
{
#if MRT_TSAN
	return __tsan_get_current_fiber();
#else
	return nil;
#endif
}

/* Valgrind: a stack's id plus one (Valgrind's ids start at 0), 0 when not
 * registered. */
static SAN_INLINE uint32_t san_stackregister(uintptr_t lo, uintptr_t hi)
{
#if MRT_VG
	return (uint32_t)VALGRIND_STACK_REGISTER(lo, hi) + 1;
#else
	(void)lo, (void)hi;
	return 0;
#endif
}

static SAN_INLINE void san_stackderegister(uint32_t id)
{
#if MRT_VG
	if (id != 0)
		VALGRIND_STACK_DEREGISTER(id - 1);
#endif
	(void)id;
}

/* ASan: stack memory whose frames were abandoned (a jump to an exit point)
 * or that changes hands (the stack cache) keeps the poisoned redzones of
 * frames that no longer exist; clear them. */
static SAN_INLINE void san_unpoison(uintptr_t lo, uintptr_t hi)
{
#if MRT_ASAN
	if (hi > lo)
		__asan_unpoison_memory_region((void *)lo, hi - lo);
#endif
	(void)lo, (void)hi;
}

/*
 * The exit point (proc.c) is a context of its own on g0: mstart's frame at
 * the top, with the M's function below it in a context that mexit and
 * stopm abandon. Its sanitizer state lives in the m (exitsanfake,
 * exitsanfiber: the thread's own fiber).
 */

/*
 * mstart leaves the exit point for a new run of the M's function, whose
 * first frame ctx_make builds just below mstart's own, on the same stack.
 *
 * Valgrind: Memcheck takes memory below the stack pointer for unused, so
 * that frame's bytes are made addressable first; and when the switch then
 * moves the stack pointer down onto it, Memcheck sees a stack that grew and
 * marks the new part — the frame just written — undefined, so that the
 * registers the switch loads from it look uninitialised. (User g stacks do
 * not have this: they are mappings of their own, which Memcheck takes a
 * switch to for a stack switch.) Its reports are silenced for that one
 * switch, and the one value that matters, mstart1's argument, is declared
 * defined again on the other side (san_exitpoint_arrived).
 */
static SAN_INLINE void san_exitpoint_leave(m *mp, size_t framebytes)
{
	g *g0 = mp->g0;
#if MRT_VG
	VALGRIND_MAKE_MEM_UNDEFINED(mp->g0top - framebytes, framebytes);
	VALGRIND_DISABLE_ERROR_REPORTING;
#endif
	(void)framebytes;
	san_newfiber(g0);
	g0->sanfake = nil;
#if MRT_ASAN
	__sanitizer_start_switch_fiber(&mp->exitsanfake, (const void *)g0->stack.lo,
	                               g0->stack.hi - g0->stack.lo);
#endif
#if MRT_TSAN
	__tsan_switch_to_fiber(g0->sanfiber, 0);
#endif
}

/* The first thing mstart1 does with its argument, the M (see
 * san_exitpoint_leave): the argument, and what lies above mstart1's frame up
 * to g0top — ctx_start's frame and the words that end a backtrace there —
 * are defined again. */
static SAN_INLINE void *san_exitpoint_arrived(void *arg)
{
#if MRT_VG
	VALGRIND_MAKE_MEM_DEFINED(&arg, sizeof arg);
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t top = ((m *)arg)->g0top;
	if (fp < top)
		VALGRIND_MAKE_MEM_DEFINED(fp, top - fp);
	VALGRIND_ENABLE_ERROR_REPORTING;
#endif
	return arg;
}

/* mexit/stopm: the context running now (a user g, or the M's function on
 * g0) is abandoned for the exit point: its fake stack goes with it. */
static SAN_INLINE void san_exitpoint_return(m *mp)
{
#if MRT_ASAN
	__sanitizer_start_switch_fiber(nil, (const void *)mp->g0->stack.lo,
	                               mp->g0->stack.hi - mp->g0->stack.lo);
#endif
#if MRT_TSAN
	__tsan_switch_to_fiber(mp->exitsanfiber, 0);
#endif
	(void)mp;
}

/* Back at the exit point: the frames below it are gone, and so is the
 * function context's fiber. */
static SAN_INLINE void san_exitpoint_enter(m *mp)
{
#if MRT_ASAN
	__sanitizer_finish_switch_fiber(mp->exitsanfake, nil, nil);
	mp->exitsanfake = nil;
	san_unpoison(mp->g0->stack.lo, mp->g0top);
#endif
	san_freefiber(mp->g0);
}

/* TSan: synchronisation it cannot see, on an address that names it. mrt's
 * locks and notes sleep in raw futexes, and a g's saved context is
 * published by assembly: release before handing over, acquire after
 * taking over, so TSan orders what mrt orders and reports only real races. */
static SAN_INLINE void san_release(const void *addr)
{
#if MRT_TSAN
	__tsan_release((void *)addr);
#endif
	(void)addr;
}

static SAN_INLINE void san_acquire(const void *addr)
{
#if MRT_TSAN
	__tsan_acquire((void *)addr);
#endif
	(void)addr;
}

#endif /* MRT_SAN_H */
