/*
 * mrt.h — the M runtime: OS threads ("Ms") for language runtimes and schedulers.
 *
 * This header is the whole public contract. mrt re-builds the layer of the Go
 * runtime that owns OS threads: it creates Ms (newm), gives each a runtime-owned
 * system stack (g0) and signal stack (gsignal), keeps a registry of every M
 * (allm) under a thread limit, parks idle Ms and hands them work (stopm /
 * startm), reclaims the stacks of dead Ms lazily (freem), and offers the
 * stack-switching primitives (gogo, mcall, systemstack) that goroutine-style
 * user threads ("gs") are built from.
 *
 * Conventions
 *  - Functions that can fail return 0 (or a non-negative value) on success and
 *    a negative errno value on failure; mrt_strerror() names it. Bad arguments
 *    give -EINVAL, never a crash: NULL, zero, negative, out-of-range and huge
 *    values, and pointers that are NULL or not aligned for what they point to
 *    (getters that cannot fail return NULL or nothing). A well-aligned
 *    pointer that mrt did not hand out (or that was freed and reused) cannot
 *    be told from a good one: passing it is undefined, as with free(). Only a
 *    broken internal invariant is fatal: mrt prints "mrt: fatal: <why>
 *    (M<id>)" to fd 2 and aborts. tests/test_badinput.c holds this.
 *  - Thread models. In the *clone* model (Linux default) Ms are raw clone(2)
 *    threads and the code that runs on them is freestanding: it may call mrt,
 *    compiler builtins and memcpy/memset, but no libc function that touches
 *    libc's per-thread state (errno, malloc, stdio, pthread_*, __thread
 *    variables of other libraries or of the program). In the *pthread*
 *    model (Darwin, or Linux built with -Dthreads=pthread) Ms are pthreads
 *    and may call anything, pthread_exit included, and may be cancelled
 *    (deferred cancellation, acted on at a cancellation point of the M's
 *    code): the M then ends with its thread as if its function had
 *    returned (see mrt_mexit). Asynchronous cancellation is not supported
 *    (mrt is not async-cancel-safe), nor is ending m0's thread (the
 *    program's own: m0 would stay on allm), nor pthread_exit from a signal
 *    handler (POSIX leaves that undefined).
 *    mrt_threadmodel() says which one a build uses.
 *  - Each function's comment ends with a bracketed line saying who may call it
 *    (any thread; an M, i.e. a thread mrt_newm made; the thread that will be
 *    m0), in which thread models (both, unless one is named), and whether a
 *    signal handler may: "async-signal-safe" means the function may be called
 *    from a handler running on any thread, interrupting anything, mrt
 *    included.
 *  - Debugging: MRTDEBUG=mtrace=1 prints every M event on fd 2,
 *    MRTDEBUG=schedtrace=<ms> a summary line every <ms>,
 *    MRTDEBUG=trace=<file> records every M event and g switch into a
 *    Chrome/Perfetto trace file (see mrt_init and mrt_traceflush; its
 *    picture: tools/mrt-trace); mrt_dump prints a table of all Ms; with
 *    MRT_F_THREAD_NAMES (off by default) each M names its thread
 *    "mrt/M<id>"; tools/mrt-gdb.py adds "info mrt" and "mrt bt <id>" to
 *    gdb; every M event is a USDT probe mrt:<event> (Linux, where built
 *    with sys/sdt.h) for perf, bpftrace and gdb.
 */
#ifndef MRT_H
#define MRT_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(MRT_BUILDING)
#define MRT_API __attribute__((visibility("default")))
#else
#define MRT_API
#endif

#define MRT_VERSION_MAJOR 0
#define MRT_VERSION_MINOR 1

typedef struct mrt_m mrt_m; /* an M: one OS thread owned by mrt (opaque) */
typedef struct mrt_g mrt_g; /* a g: a stack plus a saved context (opaque) */

/* The function an M or a g runs. */
typedef void (*mrt_fn)(void *arg);

/* ------------------------------------------------------------------------
 * Initialisation
 * ------------------------------------------------------------------------ */

/*
 * The hand-off (Go's handoffp): what the user's scheduler does with a P
 * that mrt took away from an M blocked in a section (mrt_entersyscall), or
 * that mrt_entersyscallblock gives up. mrt never looks inside a P, so the
 * decision is the scheduler's: typically mrt_startm an M to run it, or put
 * it where the scheduler's Ms look for idle Ps.
 *
 * mrt calls it with err 0 and a P that is the function's from then on. It
 * returns 0 when the P has a home, or the negative errno of the mrt_startm
 * that could not get an M (the thread limit, RLIMIT_NPROC; Go aborts
 * there: "thread exhaustion"). Then mrt calls it again at once with the
 * same P and err set to that error: this second call must keep the P
 * without a new M (on the scheduler's idle list, say), and what it returns
 * is ignored. So no P is ever lost, as long as the function keeps this
 * contract.
 *
 * It runs on the monitor M (a retaken P) or on the M that called
 * mrt_entersyscallblock, on that M's g0, with no P of its own; in the
 * clone model it is freestanding code. It may call mrt_startm and mrt_newm;
 * it must not park, exit or switch gs, nor block for long (the monitor
 * retakes nothing else meanwhile).
 */
typedef int (*mrt_handoff_fn)(void *p, int err);

/*
 * Configuration for mrt_init. Zero fields take the default; `size` is the
 * one that must be set: to sizeof(struct mrt_config) as the caller's copy
 * of this header has it, which MRT_CONFIG_INIT does:
 *
 *     struct mrt_config c = MRT_CONFIG_INIT;
 *     c.max_threads = 64;
 *     mrt_init(&c);
 *
 * The struct may grow at its end in later versions (fields whose zero
 * means "as before"). A program built against an older header passes the
 * smaller size, and mrt_init takes the fields it did not know as zero; a
 * program built against a newer header runs on an older library as long
 * as the fields that library does not know are zero (-E2BIG otherwise).
 */
struct mrt_config {
	size_t size;          /* sizeof(struct mrt_config): see above */
	size_t g0_stack;      /* g0 (system) stack of each new M; default 64 KiB.
	                         In the pthread model g0 is the pthread's own
	                         stack, created this size (whole pages, at least
	                         PTHREAD_STACK_MIN); the thread library takes
	                         its thread control block and TLS from it.
	                         In the clone model g0, the M's TLS block and
	                         mrt's structure for the M are one slot of a
	                         large shared mapping (see Memory below); the
	                         TLS block spans from the thread pointer to
	                         mrt's own TLS with the program's static TLS
	                         in between: mrt writes only the two ends, so
	                         that costs each M address space, not memory. */
	size_t gsignal_stack; /* signal stack of each M; default 32 KiB, as Go */
	int32_t max_threads;  /* thread limit (mrt_setmaxthreads); default 10000 */
	int64_t idle_ns;      /* an M parked in mrt_stopm longer than this retires
	                         (exits); 0 = never (Go's behaviour, the default) */
	uint32_t stack_cache; /* freed stacks kept for reuse; default 256.
	                         It sets the cache's other bounds too: at most
	                         as many bytes as stack_cache / 2 Ms' g0 and
	                         gsignal stacks (12.5 MiB with the defaults),
	                         of which a quarter stays resident; the other
	                         cached stacks give their pages back to the OS
	                         (MADV_DONTNEED on Linux), all but the first
	                         page of each. A freed stack that does not fit
	                         goes back to its slab (see Memory below), its
	                         pages given back: raise stack_cache to cache
	                         larger g stacks; mrt_trim empties the cache.
	                         In the clone model, up to stack_cache / 8
	                         exited Ms keep their g0 stacks' pages for
	                         the next M. Any number of stack sizes is
	                         cached, so a steady churn within these bounds
	                         makes no system call for stacks. (One setting
	                         rather than new fields: it scales the whole
	                         cache.) */
	uint32_t flags;       /* MRT_F_* */
	const char *thread_name; /* when set, each new M names its thread this
	                         prefix followed by its id, so that it shows in
	                         /proc/<pid>/task/<tid>/comm, top -H and gdb.
	                         At most 15 bytes; Linux cuts the whole name to
	                         15. Copied. See MRT_F_THREAD_NAMES. */
	/* Blocking sections, the monitor M, spinning Ms (added at the end,
	   zero meaning as before): */
	mrt_handoff_fn handoff; /* where a P taken from an M blocked in a
	                         section goes (see mrt_handoff_fn). Setting it
	                         makes mrt_init start the monitor M; NULL (the
	                         default): no monitor, no P is ever taken, and
	                         mrt_entersyscallblock is -EINVAL. */
	int64_t retake_ns;    /* the monitor takes the P of an M that has been
	                         in one blocking section this long; default
	                         20 us (Go's sysmon tick); at most 1 hour */
	int64_t spin_ns;      /* mrt_stopm polls for work this long before the
	                         M sleeps, so that an mrt_startm meanwhile hands
	                         it over with a store instead of a wakeup;
	                         0 (the default) = no spinning; at most 1 s */
	int32_t max_spinning; /* at most this many Ms spin at once; default
	                         half the CPUs, at least 1 */
	int32_t allthreads_signal; /* the signal mrt_allthreadssyscall sends
	                         to each M (Linux); default 62 (SIGRTMAX-2 of
	                         glibc: see mrt_allthreadssyscall). 1..64,
	                         not glibc's 32 or 33. */
};

/* A configuration of defaults, its size set: start from this. */
#define MRT_CONFIG_INIT { .size = sizeof(struct mrt_config) }

/*
 * Memory. Every stack mrt makes (g0 in the clone model, gsignal, the gs of
 * mrt_malg) has a guard page below it, and is a slot of a large shared
 * mapping: a slab of up to 64 stacks of one size (about 8 MiB of address
 * space; a larger stack is a slab of its own). Linux: where the kernel has
 * guard regions (MADV_GUARD_INSTALL, Linux 6.13 and later; mrt_init checks
 * that they work, which they do not under QEMU user mode), a guard leaves
 * its mapping whole, so a parked M or a g stack costs a small fraction of
 * a line of /proc/self/maps and vm.max_map_count (65,530 by default) does
 * not bound how many there can be; elsewhere, and on Darwin, a guard is
 * mprotect's, and each stack costs two lines (a clone-model M four). A
 * stack freed past the cache goes back to its slab, which keeps its guard
 * and gives its pages back; a slab with no stack left in it is unmapped.
 * A clone-model M's g0, its TLS block and mrt's structure for it share one
 * slot: a parked M's memory is one page. Those slabs stay mapped for the
 * life of the process (mrt's structures for Ms are never unmapped), the
 * pages of exited Ms' slots given back beyond stack_cache / 8 of them. All
 * of it is address space reserved without a swap reservation
 * (MAP_NORESERVE): memory only where touched.
 */

/* Flags for mrt_config.flags. */
#define MRT_F_NONE 0u
/*
 * MRT_F_STACKOVERFLOW: install a SIGSEGV handler (run on the faulting M's
 * gsignal stack) that recognises a fault in the guard page below any g0,
 * gsignal or user g stack mrt allocated, or below m0's stack, and dies with
 *     mrt: fatal: stack overflow on M<id> (g<id>, stack [lo, hi))
 * (g0 and gsignal are named so) and SIGABRT, instead of a bare SIGSEGV.
 * Every other fault goes to the SIGSEGV action that was in place when
 * mrt_init ran, as the kernel would have used it: a handler is called the
 * way it was installed (SA_SIGINFO or not, its mask, SA_NODEFER,
 * SA_RESETHAND); SIG_DFL kills the process with SIGSEGV; SIG_IGN ignores a
 * sent SIGSEGV, while a real fault still kills (the kernel never lets a
 * fault be ignored). One difference with SIG_IGN cannot be helped: the
 * signal now has a handler (mrt's), and a handled signal interrupts the
 * system calls that SA_RESTART does not restart (poll, nanosleep, a timed
 * futex wait, ...: they fail with EINTR), where an ignored one would not
 * have touched them. So install your own SIGSEGV handler before mrt_init;
 * one installed after replaces mrt's (it may chain to the action
 * sigaction() returned, which is mrt's). An overflow of a gsignal stack
 * itself is reported too: the stack pointer has then left the signal stack
 * for its guard page, and Linux delivers the fault at the signal stack's
 * top again (an emulator may not: QEMU's riscv64 user mode kills the
 * process with a plain SIGSEGV). Limits: a frame larger than a page can jump over the
 * guard page (build with -fstack-clash-protection); a thread that is not an
 * M and has no signal stack has nowhere to run the handler when its own
 * stack overflows, so that stays a plain SIGSEGV. Linux only.
 */
#define MRT_F_STACKOVERFLOW 0x1u
/* Name each M's thread "mrt/M<id>" (or thread_name's prefix, which turns
 * naming on by itself; so does MRTDEBUG=threadnames=1, without rebuilding).
 * Off by default, as in Go and glibc: naming costs each new M one system
 * call (prctl on Linux), and the whole life of a clone-model M — clone,
 * sigaltstack, rt_sigprocmask, exit, the joiner's futex wait — is five
 * without it. */
#define MRT_F_THREAD_NAMES 0x2u

/*
 * mrt_init adopts the calling thread as m0 and sets mrt up. The signal mask of
 * the calling thread becomes the "init mask" that every new M starts with.
 * cfg may be NULL for the defaults. m0 keeps its own stack (as g0) and its
 * thread name; its signal stack, if it has one, becomes its gsignal.
 *
 * It reads the environment once, for MRTDEBUG: comma-separated settings
 *   mtrace=1           print every M event to fd 2 (created, started,
 *                      parked, woken, exiting, reaped, failed), one line
 *                      each with the M's id, tid, time and stacks;
 *   schedtrace=<ms>    start an M that prints a summary of the M counts
 *                      every <ms> milliseconds (1..3600000). It is an M
 *                      like any other: it counts in mrt_mstats and the
 *                      thread limit, and it never exits (it is not the
 *                      monitor M of blocking sections, below);
 *   threadnames=1      name every M's thread, as MRT_F_THREAD_NAMES does;
 *   trace=<file>       record every M event and every g switch an M makes
 *                      (see mrt_traceflush) into <file>, created or
 *                      emptied by mrt_init (relative to the current
 *                      directory; up to the next comma, at most 1024
 *                      bytes): Chrome/Perfetto trace-event JSON, one lane
 *                      per M. A file that cannot be created is reported
 *                      on fd 2 and nothing is recorded.
 *   mprotectguards=1   make guard pages with mprotect even where the kernel
 *                      has guard regions (see Memory): gdb 13's gcore stops
 *                      copying a mapping at the first page it cannot read,
 *                      and no one can read a guard region, so a core gcore
 *                      writes would lack the stacks and mrt's structures
 *                      (the kernel's own core dumps write them as zeros).
 * Unknown or malformed settings are reported in one line on fd 2 and
 * ignored; they never make mrt_init fail.
 *
 * With a hand-off function (cfg->handoff), mrt_init also starts the
 * monitor M (Go's sysmon; see mrt_entersyscall). It is an M like any
 * other: it counts in mrt_mstats and the thread limit, it never exits, and
 * mtrace, mrt_dump and gdb's "info mrt" name it "monitor". Should it fail
 * to start (the kernel's EAGAIN, no memory), mrt_init still succeeds and
 * the next blocking section tries again.
 *
 * Returns 0; -EINVAL for out-of-range config values (stacks below 16 KiB or
 * above 1 GiB, a negative limit or idle time, unknown flags, a thread_name
 * longer than 15 bytes, a negative or too large retake_ns, spin_ns or
 * max_spinning, a hand-off with a thread limit of 1, which leaves no room
 * for the monitor, an allthreads_signal outside 0..64 or one the C library
 * keeps) and for a size smaller than this version 0.1's
 * struct; -E2BIG for a larger size whose fields beyond this version's are
 * not all zero (the program asks for something this mrt cannot do);
 * -EBUSY if mrt is already initialised (the first configuration stays in
 * force). cfg is checked first: a bad one gets -EINVAL or -E2BIG even
 * when mrt is initialised already. -ENOMEM; in the clone model, -ERANGE if
 * no M's TLS block can put mrt's thread-local variable where compiled code
 * looks for it: more than 1 GiB from the thread pointer (the program's
 * static TLS, which lies between, is that large), or inside the thread
 * control block; mrt_errmsg() says which, and mrt_init may be called again.
 * Call it once, before any other mrt call but mrt_threadmodel.
 * [the thread that will be m0; not async-signal-safe]
 */
MRT_API int mrt_init(const struct mrt_config *cfg);

/*
 * mrt_traceflush writes out what MRTDEBUG=trace=<file> has recorded so far.
 *
 * The trace is kept in a buffer per M, in mrt's own memory, and written to
 * the file when a buffer fills (by the M whose buffer it is, which waits
 * for the write), here, and when the process exits through exit(3) or a
 * return from main (an atexit handler that mrt_init registers): that last
 * write also ends the states still open — each M's state at that moment —
 * and recording stops. After each write the file is a complete JSON array
 * of trace events that Perfetto's UI (ui.perfetto.dev), chrome://tracing
 * and tools/mrt-trace open: one lane per M (the events' "tid" is the M's
 * id), its states as slices (starting, g0, a user g "g<id>", parked, and a
 * blocking section "syscall" inside the g that made it), its events as
 * instants (created, started, parked, woken, exiting, reaped, failed).
 * A process that ends otherwise (_exit, a fatal signal, execve) keeps only
 * what was written before: call mrt_traceflush first where that matters.
 * A fork child records nothing.
 *
 * While recording, each event and g switch costs a clock read and a store
 * into the M's buffer; when not, nothing but the test of one flag. A
 * blocking section entered in a signal handler is recorded unless the
 * handler interrupted the M's own recording (of a g switch or an event):
 * then its slice is dropped and counted in the file's mrt_lost_records
 * (the USDT probes fire either way).
 * Returns the number of events written, 0 when nothing is being recorded
 * (no MRTDEBUG=trace, or after the exit's write), the -errno of the first
 * write that failed, or -EBUSY from a handler that interrupted the M's
 * recording. [any thread, both thread models; not async-signal-safe: it
 * takes the trace's lock]
 */
MRT_API int mrt_traceflush(void);

/* "clone" or "pthread": the thread model this build of mrt uses. Never NULL;
 * valid before mrt_init. [any thread; async-signal-safe] */
MRT_API const char *mrt_threadmodel(void);

/* ------------------------------------------------------------------------
 * Ms: birth, work, parking, death
 * ------------------------------------------------------------------------ */

/*
 * mrt_newm creates a new M that runs fn(arg) on its g0 stack, with p as its
 * scheduler context (mrt_getp() on the new M; mrt never looks inside p).
 * Returning from fn is the same as calling mrt_mexit().
 *
 * Returns the new M's id (ids are unique and increasing, m0 is 0), or:
 *  -EINVAL  fn is NULL, or mrt_init has not run;
 *  -EAGAIN  the thread limit is reached (mrt_errmsg() names it), or the
 *           kernel refused the thread after retries (RLIMIT_NPROC);
 *  -ENOMEM  no memory for the stacks;
 *  -EDEADLK the calling thread holds mrt_execlock (mrt_errmsg() says so).
 * On failure nothing is left behind: allm, stacks, pools and the live,
 * idle, freed and exiting counts are as they were. Only the id stays spent:
 * a failure after the M took its id (every one but the thread limit's
 * -EAGAIN and the m pool's -ENOMEM) counts once in mrt_mstats' failed, and
 * created, which counts ids, grows with it; ids are never reused. A new
 * thread that cannot set itself up (install its signal stack: it cannot
 * happen with the stack sizes mrt_init accepts, but it is checked) exits
 * without running fn; newm has already returned its id, so that failure is
 * reported by mrt_join(id), and it too is counted as a failed creation,
 * with nothing left once reaped. A join of the id of any failed creation
 * returns its error (see mrt_join).
 * In the clone model fn runs freestanding (see Conventions); in the pthread
 * model it may call anything.
 * A new thread is a clone of the calling one (its CPU affinity, scheduling
 * policy, credentials, namespaces, an unshared cwd). Called on an M with a
 * locked g (mrt_lockosthread), a tainted M (mrt_mtaint) or an attached
 * thread, or, once an mrt_allthreadssyscall has run, on a thread that is
 * not an M, the M is created by the template thread instead (see "A
 * thread's own state"), with the same results and errors. If no template
 * thread exists yet, an attached thread's M is cloned from it all the same
 * (see mrt_starttemplatethread), and a locked or tainted M's creation is
 * -EPERM (mrt_errmsg says why).
 * [any thread, an M, a user g or neither; not async-signal-safe]
 */
MRT_API int64_t mrt_newm(mrt_fn fn, void *arg, void *p);

/*
 * mrt_startm hands fn(arg) and p to an idle M (one parked in mrt_stopm) and
 * wakes it; only when no M is idle does it create one with mrt_newm.
 * The hand-over (fn, arg, p) happens before the wakeup, so the woken M sees
 * it. An M still spinning in mrt_stopm (see spin_ns in struct mrt_config)
 * is preferred to one asleep: it gets the work with a store, without a
 * system call (Go's wakep of a spinning M). Returns the id of the M that
 * will run fn, or mrt_newm's errors.
 * [any thread; not async-signal-safe]
 */
MRT_API int64_t mrt_startm(mrt_fn fn, void *arg, void *p);

/*
 * mrt_stopm ends the calling M's current function and parks the M on the idle
 * list, like Go's stopm. Whatever the M was running — its function's frames
 * on g0, or a user g — is abandoned, as with mrt_mexit, but the thread stays:
 * the next mrt_startm that picks this M runs its fn(arg) from the top of g0.
 * If the configuration sets idle_ns, an M idle that long exits instead.
 * An M that must not be handed other work never parks: a tainted M
 * (mrt_mtaint) and one with a locked g (mrt_lockosthread) end here, as
 * with mrt_mexit, and the locked g with them (see "A thread's own state").
 * With spin_ns set, the M first polls for work that long (at most
 * max_spinning Ms at once, with the CPU's pause hint between polls, and
 * less when it finds it has lost its CPU to other threads, a sign that
 * the machine is loaded), then sleeps; an mrt_startm meanwhile hands it
 * the work with a store. With one CPU it never spins.
 *
 * Does not return on success. Returns -EPERM if the caller is not an M
 * created by mrt (m0 and attached Ms, mrt_needm's, cannot park: they have
 * no exit point), -EINVAL on a systemstack call, -EBUSY inside a blocking
 * section (mrt_exitsyscall first: the P in the section would be lost).
 * [an M other than m0; not async-signal-safe]
 */
MRT_API int mrt_stopm(void);

/*
 * mrt_mexit ends the calling M: it leaves allm, its count is released at once
 * (mrt_mstats' live), and its stacks are reclaimed by a later allocation,
 * mrt_reap or mrt_join once the thread is gone. Callable from g0 or from a
 * user g, which is then dead (its owner may mrt_gfree it): it reads
 * MRT_G_DEAD once the M has left its stack, as after a return (mrt_gostart).
 * Does not return on success. Returns -EPERM on m0, on attached Ms (see
 * mrt_needm: mrt_dropm ends them) and on threads that are not Ms, -EBUSY
 * inside a blocking section (as mrt_stopm), -EINVAL on a systemstack call
 * (as mrt_stopm: return from it first). An M whose function returns inside
 * a section ends it on the way out; its P, unless the monitor took it, is
 * dropped, as an M's P is when it ends.
 * [an M other than m0; not async-signal-safe]
 *
 * Pthread model: an M whose thread ends outside mrt — pthread_exit, or a
 * cancellation, from its function, a user g or a systemstack call — ends
 * the same way, from the thread library's exit (a thread-specific key's
 * destructor): its joiner gets 0, the user g it ran is dead. Where the
 * thread library finishes the thread on the user g's own stack (Darwin;
 * glibc leaves it for the pthread's stack first), that g stays running
 * for good instead, and mrt_gfree refuses it: its stack is in use until
 * the thread is gone. Thread-exit code that runs before mrt's destructor
 * (C++ thread_local objects, other keys' destructors) must not call
 * mrt_mexit or mrt_stopm nor switch gs: the M's exit point is gone.
 */
MRT_API int mrt_mexit(void);

/*
 * mrt_join waits until M `id` has exited and its thread is gone, then reaps
 * it. Ms are not kept for joiners: one that ended and was already reaped
 * (by an allocation, mrt_reap or another join) counts as joined.
 * In the pthread model "gone" means gone from mrt: the M's thread has made
 * its last use of mrt's memory; the (detached) pthread then finishes the
 * thread library's own exit — TLS destructors, its stack — by itself, and
 * the kernel thread may outlive the join by a moment.
 * An M can be found (mrt_forallm shows it STARTING) while its creation is
 * still under way — the kernel's EAGAIN is retried for about 200 ms — and
 * the creation may then fail: the join waits for that outcome, and a failed
 * creation ends it with the creation's error.
 * Returns 0 once the M is gone (also when its thread ended outside mrt:
 * see mrt_mexit; an attached M is gone once it is dropped, by mrt_dropm
 * or at its thread's end); if the M's creation failed — mrt_newm
 * returned the error instead of the id, or the new thread could not set
 * itself up (mrt_newm) — that error (-EAGAIN, -ENOMEM, ...), to a join
 * that was waiting and to a later one, for the last 64 failures (an older
 * failure's id reads as reaped: 0); -ESRCH if no M with that id was ever
 * created (ids at or above mrt_mstats' created); -EBUSY if another thread
 * is joining it; -EDEADLK for the caller's own M, and inside an
 * mrt_forallm callback (no M is reaped while a walk runs: the join would
 * wait for itself); -EINVAL for m0, a negative id or before mrt_init. A
 * join that waits for other threads' walks to end sleeps.
 * [any thread; not async-signal-safe]
 */
MRT_API int mrt_join(int64_t id);

/*
 * mrt_reap frees the stacks and structures of every exited M whose thread is
 * gone (allocations do this too), except Ms a joiner waits for. Returns the
 * number reaped, or -EINVAL before mrt_init. [any thread; not
 * async-signal-safe]
 */
MRT_API int mrt_reap(void);

/*
 * mrt_trim gives the stack cache back to the OS: it reaps as mrt_reap does
 * (so exited Ms' stacks are included), then gives every cached stack —
 * the warm ones too — back to its slab, pages and all, and unmaps the
 * slabs left with no stack in use; in the clone model it also gives back
 * the pages of exited Ms' g0 stacks (their slots stay mapped: see Memory).
 * Stacks in use are not touched; later allocations fill the cache again.
 * For a program that has ended a burst of Ms or gs and wants its memory
 * back now (Go's debug.FreeOSMemory, for stacks); without it the cache
 * stays within its bounds (stack_cache in struct mrt_config). Returns the
 * number of usable stack bytes given back (0 if there were none), or
 * -EINVAL before mrt_init. Stack allocations and frees on other threads
 * (mrt_newm, mrt_malg, mrt_gfree, reaping) wait while it runs. [any
 * thread; not async-signal-safe]
 */
MRT_API int64_t mrt_trim(void);

/*
 * mrt_setmaxthreads sets the thread limit (m0 included), as
 * debug.SetMaxThreads does, and returns the previous one (or -EINVAL for
 * n <= 0 and before mrt_init, whose configuration sets it). Lowering it below the live count harms no M; it only refuses new
 * ones (mrt_newm's -EAGAIN). [any thread; not async-signal-safe]
 */
MRT_API int32_t mrt_setmaxthreads(int32_t n);

/* ------------------------------------------------------------------------
 * Threads mrt did not make: attached Ms (Go's extra Ms, needm and dropm)
 * ------------------------------------------------------------------------ */

/*
 * mrt_needm makes the calling thread an M if it is not one (Go's needm):
 * a thread mrt did not create — a pthread of the program, a thread of
 * another library calling back into your runtime — is *attached*. It gets
 * an M id of its own (a new one, from the sequence every M's id comes
 * from: ids are never reused), a g0 that is the thread's own stack, with
 * the exact bounds the thread library reports (read once, here), and a
 * gsignal that mrt installs as the thread's alternate signal stack,
 * remembering the one the thread had. Its signal mask is left as it is:
 * the thread is its owner's, and mrt needs no signal let through.
 * From then on the thread is an M for all of mrt: mrt_mid, mrt_getg,
 * mrt_getp/mrt_setp, M-local slots, gs (mrt_malg, mrt_gogo, mrt_mcall,
 * mrt_systemstack), mrt_newm and mrt_startm, mrt_signalm to it; it is on
 * allm, and mrt_forallm reports it as MRT_M_ATTACHED, mrt_dump and
 * tools/mrt-gdb.py's "info mrt" as "attached", MRTDEBUG=mtrace=1 prints
 * "attached" (and "dropped" at its end).
 *
 * The binding lasts until the thread ends: the thread library runs a
 * thread-specific key's destructor when the thread returns from its start
 * routine, calls pthread_exit or is cancelled, and that drops the M (as
 * mrt_dropm would). A thread that calls in again and again pays once, as
 * with Go since 1.21 (before, every callback from a C thread paid for
 * needm and dropm: golang/go#51676). On a thread that is an M already —
 * attached earlier, m0, or an M mrt made — mrt_needm returns its id and
 * does nothing else: a thread-local load, no system call, no lock. The
 * first call on a thread (the attach) makes three system calls on Linux:
 * sigaltstack, gettid, and the sched_getaffinity inside glibc's
 * pthread_getattr_np, which also allocates (malloc's first call on a
 * thread may map memory).
 *
 * An attached M is not counted against the thread limit (Go's checkmcount
 * leaves its extra Ms out too); mrt_mstats counts it in live and created
 * while it is attached, and in freed once dropped. It cannot park or end
 * through mrt — it has no exit point: mrt_stopm and mrt_mexit on it are
 * -EPERM (as Go's extra Ms cannot park or exit) — and mrt_join of its id,
 * from another thread, waits until it is dropped. mrt_newm and mrt_startm
 * from it make Ms as from any thread.
 *
 * What code on an attached M may call: anything, libc included, in both
 * thread models: libc made the thread, so errno, malloc, stdio and
 * __thread work there as on any pthread. A user g runs with the libc state
 * of the thread it runs on; in the clone model a g that moves from an
 * attached M to an M mrt made is freestanding there (see Conventions).
 *
 * The thread must be one the C library made (pthread_create, or the main
 * thread when it is not m0), not a raw clone of another runtime's. Call
 * it on the thread's own frames, not from a signal handler: the attach
 * takes mrt's locks (on a thread that is an M already it only reads, and
 * is async-signal-safe). Fork: see "fork and exec".
 *
 * Returns the M's id (>= 0); -EINVAL before mrt_init; -ENOMEM (no memory
 * for the M or its signal stack); -EPERM if the thread runs on its own
 * alternate signal stack (a handler: sigaltstack cannot replace it then);
 * -EAGAIN if the process has used up its thread-specific keys; the error
 * of reading the thread's stack. On failure the thread is as it was (its
 * signal stack, not an M) and nothing is left behind, mrt_errmsg() says
 * what failed; an id taken is spent, as with mrt_newm (created and failed
 * one up). [a thread libc made; async-signal-safe on a thread that is an
 * M already, not otherwise]
 */
MRT_API int64_t mrt_needm(void);

/*
 * mrt_dropm ends the calling thread's attached M now rather than at the
 * thread's end (Go's dropm): the M leaves allm and counts as freed, a join
 * of its id returns, and the thread gets back exactly the alternate signal
 * stack it had before mrt_needm — address, size and flags, as sigaltstack
 * reports them, or none if it had none. Its signal mask, which mrt never
 * changed, is bit for bit what it was (unless the thread's own code
 * changed it meanwhile). gsignal and the M's structure go back to mrt's
 * pools once reaped, as an exited M's do; g0 was the thread's and stays
 * its. A later mrt_needm attaches the thread again, as a new M with a new
 * id. A signal sent with mrt_signalm before the drop is sent while the
 * thread is the M; one that the thread blocks may then be delivered after
 * the drop, to a thread that is no M any more.
 * Returns 0; -EPERM on a thread that is not an attached M (m0, an M mrt
 * made, a thread that is no M); -EBUSY on a user g, inside
 * mrt_systemstack, or in a handler running on gsignal (come back to the
 * thread's own frames on g0 first), and inside a blocking section
 * (mrt_exitsyscall first: the P in it would be lost). A thread that ends
 * inside a section ends the section as it is dropped; its P, unless the
 * monitor took it, is dropped with it, as an ending M's is. [an attached M; not async-signal-safe]
 */
MRT_API int mrt_dropm(void);

/* ------------------------------------------------------------------------
 * fork and exec
 * ------------------------------------------------------------------------ */

/*
 * fork. mrt_init registers fork handlers (pthread_atfork): mrt's locks are
 * held across fork(), and in the child, whose only thread is the one that
 * called fork, every other M is recorded as exited (counted as freed, its
 * stacks reaped by the next allocation or mrt_reap), the idle list is empty,
 * and waits of other threads (mrt_join, mrt_forallm) are forgotten. The
 * child may then use all of mrt: create, park, wake and join Ms, run gs,
 * signal Ms, fork again. Call fork from m0 (the child's thread is then m0,
 * with its new tid), from an attached M (the child's thread stays that M,
 * with its new tid; m0 is gone, like every other M, attached ones included)
 * or from a thread that is not an M (the child then has no
 * M, mrt_mid() is -1, and may create Ms); a clone-model M cannot call fork
 * (it is libc). gs that were running on other Ms at the fork never resume;
 * a suspended g may be resumed in the child. Do not fork from inside an
 * mrt_forallm callback, nor from a signal handler that may have interrupted
 * mrt (the handlers take mrt's locks).
 *
 * exec. A thread being created while another thread calls execve makes
 * Linux treat the exec as unsafe: a set-user-ID, set-group-ID or
 * file-capability program would start without its privileges (Go issue
 * 19546). mrt_execlock waits until no M is being created and holds off new
 * ones (mrt_newm and mrt_startm on other threads wait; on the holding
 * thread they return -EDEADLK) until mrt_execunlock. Call it right before
 * execve:
 *
 *     mrt_execlock();
 *     execve(path, argv, envp);
 *     mrt_execunlock();    // only reached if execve failed
 *
 * mrt_execlock returns 0, or -EDEADLK if the calling thread holds it
 * already. mrt_execunlock returns 0, or -EPERM if the calling thread does
 * not hold it. Any thread (a clone-model M too); usable before mrt_init.
 * Not async-signal-safe. Holding the lock shared costs each creation an
 * atomic add and subtract, no system call.
 */
MRT_API int mrt_execlock(void);
MRT_API int mrt_execunlock(void);

/* ------------------------------------------------------------------------
 * A thread's own state: locked gs, tainted Ms, the template thread, one
 * system call on every M
 * ------------------------------------------------------------------------ */

/*
 * Some state belongs to the OS thread, not to the code on it: CPU affinity,
 * scheduling policy and priority, credentials and capabilities,
 * namespaces (setns, unshare), an unshared fs (cwd, root, umask), a C
 * library's thread-local data. mrt keeps such a thread from passing its
 * state on (Go's LockOSThread and template thread), and changes a state on
 * every M at once (Go's AllThreadsSyscall).
 *
 * mrt_lockosthread wires the calling user g to its M (Go's LockOSThread):
 * until as many mrt_unlockosthread calls as lock calls (nested, counted as
 * Go's lockedExt), the g runs on this M only — mrt_gogo of it on another M
 * is -EPERM — and the M runs that g and its own g0 only — mrt_gogo of any
 * other g there is -EPERM — and is never handed work by mrt_startm (it does
 * not park: mrt_stopm ends it). A g that ends while locked (its function
 * returns, mrt_mexit or mrt_stopm from it) takes its M with it, as in Go
 * 1.10: the M exits instead of going back to its function or to the idle
 * list, and its thread is gone (mrt_join returns once it is), since the g
 * may have changed state that no other work should inherit. Where the M
 * cannot end — m0, the program's own thread, or an attached one — it is
 * tainted instead (mrt_mtaint) and runs on. A locked g left suspended when
 * its M ends can never run again (mrt_gogo: -EPERM; mrt_gfree it). New Ms
 * asked for on a locked M are made by the template thread (mrt_newm).
 * Lock before changing the thread: the first lock starts the template
 * thread (once per process), which is cloned from the calling thread.
 * Returns 0; -EPERM on g0 (a thread's own state without a user g is
 * mrt_mtaint's), inside mrt_systemstack, and on threads that are not Ms;
 * -EOVERFLOW past 2^32 - 1 nested locks; the template thread's creation
 * errors (mrt_newm's; nothing is locked then).
 * mrt_unlockosthread undoes one lock: 0, also for a g that is not locked
 * (nothing to undo, as Go); -EPERM as for the lock.
 * [an M, on a user g; both models; not async-signal-safe]
 */
MRT_API int mrt_lockosthread(void);
MRT_API int mrt_unlockosthread(void);

/*
 * mrt_mtaint marks the calling M as having changed its thread's state (its
 * affinity, scheduling policy, unshare, setns, credentials by a system call
 * of its own), for good. A tainted M never goes back to the idle list:
 * mrt_stopm ends it instead, as mrt_mexit (mtrace says why=tainted), so an
 * M's idle loop need not know; and Ms created on it are made by the
 * template thread, not cloned from it. Call it before changing the thread:
 * the first call starts the template thread (once per process), cloned
 * from the calling thread. On m0, which cannot end, only the second rule
 * applies. Returns 0; -EPERM on threads that are not Ms; the template
 * thread's creation errors (the M is tainted all the same).
 * [an M; both models; not async-signal-safe]
 */
MRT_API int mrt_mtaint(void);

/*
 * The template thread (Go's templateThread) is an M in a known-clean state
 * whose only work is to create the Ms that must not be cloned from their
 * caller: those asked for on an M with a locked g, a tainted M, an attached
 * thread, and, once an mrt_allthreadssyscall has run, a thread that is not
 * an M (it took no part in the call). The caller waits for it, and gets
 * mrt_newm's result and mrt_errmsg as if it had made the M itself. It is
 * started by the first mrt_lockosthread, mrt_mtaint or
 * mrt_allthreadssyscall, from the calling thread if that thread may be
 * cloned (otherwise the next one that may starts it; meanwhile such
 * creations are -EPERM, but an attached thread's, which are cloned from
 * it). It is an M like any other — counted in
 * mrt_mstats and the thread limit, on allm, named "template" by
 * MRTDEBUG=mtrace, mrt_dump and gdb's info mrt — and never exits.
 *
 * mrt_starttemplatethread starts it now, cloned from the calling thread
 * (Go's startTemplateThread, which Go's main calls at start-up when cgo
 * may bring threads in from C). Call it early, from a thread that is still
 * as the process started (m0 before it changes anything), when Ms may be
 * asked for on attached threads (mrt_needm): such a thread cannot start
 * the template thread itself (it would be cloned from it), so until one
 * exists its mrt_newm clones it, passing on whatever state it has. Returns 0, also when the template thread exists
 * already; -EPERM on a thread that must not be cloned (a locked g, tainted,
 * attached) and on one that is not an M; -EINVAL before mrt_init;
 * mrt_newm's errors.
 * [an M; both models; not async-signal-safe]
 */
MRT_API int mrt_starttemplatethread(void);

/*
 * mrt_allthreadssyscall makes the system call nr(a1, ..., a6) on every M
 * — m0, the Ms mrt created, attached Ms, the template thread — as Go's
 * syscall.AllThreadsSyscall does. For per-thread state that a program
 * thinks of as the process's: credentials above all. In the clone model a
 * setuid(), setgid(), setgroups() or capset() on m0 changes m0 alone
 * (glibc spreads its own set*id calls to the threads it made, which Ms are
 * not): the Ms, and Ms they create later, keep the old credentials. Those
 * calls must go through here, as the raw system calls (SYS_setresuid, ...).
 * In the pthread model glibc covers its own set*id calls, but not prctl,
 * capset and the rest.
 *
 * An attached thread (mrt_needm) makes the call while it is an M, with
 * the mask it has: one that blocks the signal holds the call until it lets
 * it through or drops its M (mrt_dropm; then it is not reached).
 *
 * All or nothing: the call is made first on the calling thread (an M or
 * not); if it fails there, nothing else is done and its -errno is
 * returned. Then every other M makes it, and the results are compared: if
 * an M's differs, -ENOTRECOVERABLE, and mrt_errmsg names the first such M
 * and its result (the Ms now differ: Go throws). No M is born while the
 * call runs (creations elsewhere wait), so none escapes it: a later M is
 * cloned from an M that made it, or made by the template thread. For calls
 * whose result is the same on every thread (0 for set*id, capset, most of
 * prctl); threads that are not Ms are the program's and are not reached.
 *
 * How: each M is sent a signal (allthreads_signal in struct mrt_config, 62
 * by default: not glibc's 32 and 33, nor 63 and 64, which QEMU's user mode
 * cannot deliver and Valgrind keeps) whose handler makes the call on that
 * M. It reaches an M wherever it is — parked, running, in a blocking
 * system call, which SA_RESTART resumes afterwards — but not while the M
 * blocks the signal: the call then waits until it is let through (as Go
 * requires; do not block it on an M). The handler is installed at the
 * first call, with the raw rt_sigaction, and stays: from then on the
 * signal is mrt's (a send of it that mrt did not ask for is ignored).
 * Under ThreadSanitizer, which runs an asynchronous signal's handler only
 * at the thread's next intercepted libc call, an M parked or blocked in
 * mrt (raw futexes) never runs it, and the call may wait for ever: do not
 * use it in a TSan build (the tests do not run it there).
 *
 * Returns what the call returned on the calling thread; its -errno if it
 * failed there; -ENOTRECOVERABLE (see above); -EINVAL before mrt_init, or
 * if the init mask blocks the signal (every M would); -EBUSY if the
 * program has a handler of its own on the signal (choose another); the
 * template thread's creation errors at the first call; -ENOSYS on Darwin,
 * whose credentials are the process's (nothing is done). Calls are made
 * one at a time. Linux only. [any thread; both models; not async-signal-safe]
 */
MRT_API long mrt_allthreadssyscall(long nr, long a1, long a2, long a3, long a4, long a5,
                                   long a6);

/* ------------------------------------------------------------------------
 * The current M
 * ------------------------------------------------------------------------ */

/* The calling thread's M id (m0 is 0), or -1 if the thread is not an M.
 * [any thread; async-signal-safe] */
MRT_API int64_t mrt_mid(void);

/* The calling M's scheduler context p (NULL on non-Ms, and inside a
 * blocking section, whose P is the section's), and its setter (0, -EPERM
 * on non-Ms, -EBUSY inside a blocking section). mrt_newm and mrt_startm
 * set it before the M's function runs; mrt_stopm clears it.
 * [any thread; async-signal-safe] */
MRT_API void *mrt_getp(void);
MRT_API int mrt_setp(void *p);

/* Number of M-local slots: per-M words for user data, since clone-model code
 * cannot use __thread. */
#define MRT_MLOCAL_SLOTS 8
/* A pointer to slot i of the calling M, or NULL (not an M, i out of range).
 * Slots start at zero for a new M and keep their values across
 * mrt_stopm/mrt_startm. [any thread; async-signal-safe] */
MRT_API uintptr_t *mrt_mlocal(int i);

/* A fast per-M pseudo-random number (Go's fastrand); on non-Ms, a shared
 * generator. Not for cryptography. [any thread; async-signal-safe] */
MRT_API uint32_t mrt_fastrand(void);

/* ------------------------------------------------------------------------
 * Blocking sections and the monitor M (Go's entersyscall, exitsyscall,
 * entersyscallblock, sysmon, retake, handoffp)
 * ------------------------------------------------------------------------ */

/*
 * A blocking section brackets a call that may block in the kernel (a
 * read(2) of a pipe, a wait) on an M that holds a P (mrt_setp), so that
 * the scheduler's other work need not wait for it:
 *
 *     mrt_entersyscall();
 *     n = read(fd, buf, len);          // may block for ever
 *     if (mrt_exitsyscall() > 0)
 *         ...                          // the P was taken: find another or park
 *
 * mrt_entersyscall moves the M's P into the section (mrt_getp() is NULL
 * until the section ends). If the section lasts longer than the retake
 * threshold (retake_ns in struct mrt_config, 20 us by default), the
 * monitor M takes the P and gives it to the configured hand-off function
 * (mrt_handoff_fn), which typically starts another M to run it.
 * mrt_exitsyscall takes the P back with one compare-and-swap when nobody
 * took it (Go's exitsyscallfast); otherwise it says the P is gone, and the
 * caller's scheduler finds another P or parks (mrt_stopm). Each P taken is
 * handed off exactly once, and never also given back.
 *
 * mrt_entersyscall returns 0 when the section began; -EPERM on a thread
 * that is not an M; -EINVAL if the M holds no P; -EALREADY inside a
 * section already (sections do not nest: a signal handler that interrupts
 * one cannot begin its own). Its fast path is two atomic operations on the
 * M's own slot and one load of a word the monitor writes only when it
 * falls asleep; no clock is read and no system call made, except that the
 * first section after the monitor went to sleep for lack of sections wakes
 * it (a futex wake), and the M's first section ever registers it with the
 * monitor (lock-free).
 *
 * mrt_exitsyscall returns 0 when the M has its P back (mrt_getp() is it
 * again); 1 when the P was taken (handed off by the monitor, or by
 * mrt_entersyscallblock): mrt_getp() is then NULL; -EPERM on a thread that
 * is not an M; -EINVAL outside a section.
 *
 * mrt_entersyscallblock is mrt_entersyscall for a call known to block: the
 * P is handed off at once, on the calling M, without waiting for the
 * monitor (the hand-off function runs on the M's g0 before it returns).
 * Its mrt_exitsyscall always returns 1. Errors as mrt_entersyscall's, and
 * -EINVAL without a hand-off function.
 *
 * Usable on any M that holds a P: on g0, on a user g, in a signal handler
 * (which may run a whole section of its own when it interrupts code outside
 * one). A section is the M's, not the g's: the g that enters one exits it
 * on the same M, before it switches away. Without a hand-off function no P
 * is ever taken and mrt_exitsyscall always returns 0. Misuse is refused,
 * never a corrupt state: mrt_stopm, mrt_mexit and mrt_setp return -EBUSY
 * inside a section, and an M whose function returns inside one ends it on
 * its way out. Both thread models.
 * [an M; mrt_entersyscall and mrt_exitsyscall are async-signal-safe where
 * mrt's notes sleep on a futex (Linux); on Darwin, whose notes are a mutex
 * and a condition variable, the entry that wakes a sleeping monitor is not.
 * mrt_entersyscallblock is not (it runs the hand-off function). The first
 * section after the monitor failed to start starts it (mrt_init), which
 * is not either.]
 */
MRT_API int mrt_entersyscall(void);
MRT_API int mrt_exitsyscall(void);
MRT_API int mrt_entersyscallblock(void);

/*
 * What the monitor M has done, for programs and tests that want to see it
 * (mrt_sysmonstats: 0 and *out, -EINVAL for a NULL out). The monitor wakes
 * up only while some M is in a blocking section with its P: when the
 * oldest such section comes due (retake_ns after the monitor first saw
 * it), and every retake_ns / 2 (at least 1 us) to look for new ones; after
 * 50 looks that took nothing, it looks half as often each time, down to
 * once per 10 ms (Go's sysmon: 20 us, doubling after 50 idle rounds, up to
 * 10 ms). With no M in a section holding a P it sleeps with no timeout
 * until the next section begins: no wake-ups at all meanwhile, where Go's
 * sysmon polls while any P runs. Before mrt_init, or without a hand-off
 * function, id is -1 and the counts are 0.
 * [any thread; async-signal-safe]
 */
struct mrt_sysmonstats {
	int64_t id;          /* the monitor M's id, -1 when none runs */
	uint64_t wakeups;    /* times it woke up: from a timed sleep, or from a
	                        sleep without timeout */
	uint64_t deepsleeps; /* times it slept without timeout (no M was in a
	                        section with its P) */
	uint64_t entrywakes; /* ... and was woken by a section's entry */
	uint64_t retakes;    /* Ps taken from Ms in sections and handed off */
	uint64_t handofferrs;/* hand-offs that returned an error (then told it) */
	uint32_t sleeping;   /* 1 while it sleeps without timeout */
};
MRT_API int mrt_sysmonstats(struct mrt_sysmonstats *out);

/* ------------------------------------------------------------------------
 * All Ms
 * ------------------------------------------------------------------------ */

enum mrt_mstatus {
	MRT_M_STARTING = 1, /* on allm, thread being born */
	MRT_M_RUNNING,      /* running its function */
	MRT_M_IDLE,         /* parked in mrt_stopm */
	MRT_M_EXITING,      /* left allm, thread ending or gone, not reaped */
	MRT_M_ATTACHED,     /* a thread mrt did not make, attached by
	                       mrt_needm: runs its own code */
};

/* A snapshot of one M. */
struct mrt_minfo {
	int64_t id;
	int32_t tid;    /* kernel thread id (Linux; Darwin: the low 31 bits of
	                   pthread_threadid_np), 0 before the thread exists
	                   (pthread model: before the new M has started) */
	uint32_t status; /* enum mrt_mstatus */
	uintptr_t g0_lo, g0_hi;           /* g0 stack bounds [lo, hi) */
	uintptr_t gsignal_lo, gsignal_hi; /* gsignal stack bounds [lo, hi) */
	/* Either pair is [0, 0) while it is not known, never half of it: an M
	 * being born (STARTING) whose g0 is still being made, or, in the
	 * pthread model, whose thread has not yet recorded it. */
	const mrt_g *curg;                /* the g it runs (g0 when none) */
	int64_t curg_id;
};

/*
 * mrt_forallm calls fn(info, arg) for every M on allm, newest first, without
 * taking mrt's scheduler lock: Ms may be born and die during the walk. Every
 * M live for the whole walk is seen; an M is never seen after its structure is
 * recycled. Stops early and returns fn's value when fn returns non-zero;
 * returns 0 after the last M; -EINVAL if fn is NULL or before mrt_init
 * (there are no Ms yet: fn is not called). While the walk runs, exited Ms
 * are not reaped (their structures wait for the next reap), and mrt_join
 * from fn returns -EDEADLK.
 * [any thread; the walk itself is async-signal-safe, so the call is when fn
 * is]
 */
MRT_API int mrt_forallm(int (*fn)(const struct mrt_minfo *info, void *arg), void *arg);

/* Counts, read together under the scheduler lock: 0 and *out, or -EINVAL for
 * a NULL out. Before mrt_init the counts are 0. [any thread; not
 * async-signal-safe] */
struct mrt_mstats {
	int64_t live;    /* mcount(): created - freed - failed (includes m0
	                    and attached Ms) */
	int64_t idle;    /* parked in mrt_stopm */
	int64_t created; /* ids handed out (mnext), m0 included; each attach
	                    (mrt_needm) takes one */
	int64_t freed;   /* Ms that exited, and attached Ms dropped
	                    (mrt_dropm, or their thread's end) */
	int64_t failed;  /* creations that failed after taking an id (clone, a
	                    stack, or the new thread's own setup) */
	int64_t exiting; /* exited, not yet reaped */
	int32_t limit;   /* thread limit: it counts live Ms but the attached
	                    ones (Go's checkmcount leaves its extra Ms out), so
	                    live may exceed it by as many Ms as are attached;
	                    walk allm (MRT_M_ATTACHED) to count those */
};
MRT_API int mrt_mstats(struct mrt_mstats *out);

/*
 * mrt_dump writes a table of every M on allm to fd, newest first, one line
 * per M:
 *
 *   mrt_dump: every M on allm, newest first (clone model)
 *     M3     tid 4242    idle     g0 [0x7f.., 0x7f..) gsignal [0x7f.., 0x7f..) curg g0
 *     M0     tid 4240    running  g0 [...) gsignal [...) curg g17
 *
 * (state: starting, running, idle, exiting, attached; curg: g0, gsignal or g<id> of a
 * user g; bounds not yet known, as in struct mrt_minfo, are [0x0, 0x0)),
 * and at the end of the line, for the few Ms that have them, "template"
 * (the template thread), "tainted" (mrt_mtaint) and "locked g<id>"
 * (mrt_lockosthread). Like mrt_forallm it walks allm without mrt's scheduler lock, so
 * it works while the process is wedged on that lock, and each line is one
 * write(2). Returns the number of Ms written; -EBADF for fd < 0, -EINVAL
 * before mrt_init, or write's -errno.
 * Any thread, both thread models. Async-signal-safe: a SIGQUIT handler may
 * call it, as Go's runtime dumps its goroutines.
 */
MRT_API int mrt_dump(int fd);

/* ------------------------------------------------------------------------
 * gs: stacks and context switches
 * ------------------------------------------------------------------------ */

enum mrt_gstatus {
	MRT_G_IDLE = 1, /* allocated, no function yet */
	MRT_G_RUNNABLE, /* has a function or a saved context; may be switched to */
	MRT_G_RUNNING,  /* running on some M */
	MRT_G_DEAD,     /* its function returned */
};

/*
 * mrt_malg allocates a g with a stack of `stacksize` bytes (rounded up to the
 * page size, 16 KiB minimum) and a guard page below it; it is MRT_G_IDLE
 * until mrt_gostart. Stacks come from mrt's cache when one of that size is
 * there, else from a slab (see Memory). Returns 0 and *gp, or -EINVAL (NULL gp, size 0 or above 1 GiB,
 * before mrt_init), -ENOMEM. [any thread; not async-signal-safe]
 */
MRT_API int mrt_malg(mrt_g **gp, size_t stacksize);

/*
 * mrt_gostart prepares g, which must be idle or dead, to run fn(arg) when it
 * is next switched to. When fn returns, the M switches to its g0 (like Go's
 * goexit), resuming it where it last switched away, and g becomes
 * MRT_G_DEAD: only once the M has left g's stack for good, so a thread that
 * sees g dead may free it or start it again at once. Until then g reads
 * MRT_G_RUNNING (mrt_gfree: -EBUSY). Returns 0, or -EINVAL (NULL g or fn, a
 * g0 or gsignal, g running or runnable). [any thread, as long as nothing else touches g; not
 * async-signal-safe]
 */
MRT_API int mrt_gostart(mrt_g *g, mrt_fn fn, void *arg);

/*
 * mrt_gogo switches the calling M from its current g to g, saving the current
 * one's context so that it can be switched to later (from this M or another).
 * The caller must own g — no other M may be resuming it at the same moment —
 * as a scheduler owns a g it took off a run queue; mrt refuses a g that is
 * running, but does not arbitrate a race between two Ms resuming the same
 * suspended g (Go's gogo does not either).
 * Returns 0 when something switches back to the caller; -EINVAL if g is NULL,
 * dead, idle or freed (a runnable g that was freed keeps no context), or
 * another M's g0; -EBUSY if g is running, the calling g itself included
 * (g0 on g0); -EPERM on non-Ms and inside mrt_systemstack, and by the lock
 * rule (mrt_lockosthread): for a g locked to another M or to one that has
 * ended, and on an M with a locked g for any g but that one and the M's
 * own g0 (mrt_errmsg names the g and the M).
 * [an M; not async-signal-safe]
 */
MRT_API int mrt_gogo(mrt_g *g);

/*
 * mrt_mcall switches from the current user g to the M's g0 and runs
 * fn(g, arg) there; when fn returns, g0 resumes where it switched away (for
 * example, in the scheduler loop's mrt_gogo). The suspended g is runnable as
 * soon as fn runs, so fn may hand it to other Ms. Go's mcall: the way a g
 * parks itself. Returns 0 when something switches back to g; -EPERM on g0 or
 * non-Ms; -EINVAL if fn is NULL. [an M, on a user g; not async-signal-safe]
 */
MRT_API int mrt_mcall(void (*fn)(mrt_g *g, void *arg), void *arg);

/*
 * mrt_systemstack runs fn(arg) on the M's g0 stack and returns to the caller's
 * stack; a direct call when already on g0. fn must not switch gs, park or exit
 * the M. Returns 0; -EPERM on non-Ms; -EINVAL if fn is NULL.
 * [an M; not async-signal-safe]
 */
MRT_API int mrt_systemstack(mrt_fn fn, void *arg);

/* Frees g and its stack (to mrt's cache). g must not be running; a g0 or
 * gsignal cannot be freed. Returns 0; -EINVAL for NULL, a g0 or gsignal, or
 * a g already freed; -EBUSY if g is running. The g must not be used again.
 * [any thread; not async-signal-safe] */
MRT_API int mrt_gfree(mrt_g *g);

/* The calling M's g0, or NULL on non-Ms. [any thread; async-signal-safe] */
MRT_API mrt_g *mrt_getg0(void);

/* Facts about a g: its stack bounds [lo, hi) (0, or -EINVAL for a NULL
 * argument); its id (-EINVAL for NULL; g0 and gsignal are 0); its status
 * (enum mrt_gstatus, or -EINVAL for NULL). [any thread; async-signal-safe] */
MRT_API int mrt_gstack(const mrt_g *g, uintptr_t *lo, uintptr_t *hi);
MRT_API int64_t mrt_gid(const mrt_g *g);
MRT_API int mrt_gstatus(const mrt_g *g);
/* One user word per g (NULL-safe: NULL / no-op). A scheduler keeps its own g
 * structure here. [any thread; async-signal-safe] */
MRT_API void *mrt_guser(const mrt_g *g);
MRT_API void mrt_gsetuser(mrt_g *g, void *v);

/* ------------------------------------------------------------------------
 * getg: one load from the thread-local block
 * ------------------------------------------------------------------------ */

/* The current g (NULL on non-Ms) and M: one load each from the calling
 * thread's block, valid after a switch that moved the g to another M (see
 * mrt_tlsp_ at the end of this header). Defined inline there.
 * [any thread; async-signal-safe] */
static inline mrt_g *mrt_getg(void);
static inline mrt_m *mrt_getm(void);

/* ------------------------------------------------------------------------
 * Utilities usable on any M (no libc)
 * ------------------------------------------------------------------------ */

/* Formatted output over raw write(2): %d %i %u %x %X %p %s %c %%, with the
 * length modifiers l, ll, z, j and t, a width (at most 4096: larger ones
 * count as 4096) and the 0 and - flags; an unknown verb is printed as
 * written, a NULL %s as "(null)".
 * Return the bytes written — for printf and dprintf at most 511, as below;
 * for the snprintf pair the length of the whole output, as if n had been
 * large enough — or a negative errno: -EINVAL for a NULL fmt (and, for the
 * snprintf pair, a NULL buf with n > 0), -EBADF for fd < 0, write(2)'s
 * error. Each printf or dprintf is one write(2) of at most 511 bytes
 * (longer output is cut), so lines from different Ms never mix.
 * [any thread; async-signal-safe] */
MRT_API int mrt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
MRT_API int mrt_dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
MRT_API int mrt_snprintf(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
MRT_API int mrt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

/* The name of a (negative or positive) errno value, e.g. "EAGAIN (resource
 * temporarily unavailable)". Never NULL. [any thread; async-signal-safe] */
MRT_API const char *mrt_strerror(int err);

/* A message describing the calling thread's last mrt failure (for example the
 * thread limit that refused an M), or "" if none. Valid until the thread's
 * next mrt call. [any thread; async-signal-safe] */
MRT_API const char *mrt_errmsg(void);

/*
 * Monotonic time in nanoseconds: CLOCK_MONOTONIC on Linux, read through the
 * vDSO with no system call (about 25 ns, where the system call costs about
 * 170); where the kernel maps no vDSO, as under QEMU user mode, the
 * clock_gettime system call. The vDSO's code is the kernel's, and so is its
 * stack use: called from a user g, it runs on the M's g0 (below the context
 * g0 saved when it switched away), never on the user g's stack, which may
 * be small or nearly spent; on g0, on gsignal and on threads that are not
 * Ms it runs where it is called. Darwin: clock_gettime_nsec_np's
 * CLOCK_UPTIME_RAW. [any thread; async-signal-safe: a handler that
 * interrupts a call of it, on whatever stack, may call it too]
 */
MRT_API int64_t mrt_nanotime(void);

/*
 * The CPU the calling thread runs on, a number from 0, as getcpu(2) or
 * sched_getcpu(3) say it; like theirs, the answer may be out of date as soon
 * as it is returned, unless the thread is pinned to one CPU. On Linux it is
 * read from the thread's struct rseq, which the kernel keeps current: about
 * as cheap as a load (glibc's sched_getcpu reads the same field). On
 * threads glibc made (m0, pthread-model Ms, threads that are not Ms) that
 * is glibc's registration (glibc 2.35 and later); where glibc registered
 * none (GLIBC_TUNABLES=glibc.pthread.rseq=0, or a CPU it does not register
 * on), m0 and pthread-model Ms register one of mrt's own, and a
 * pthread-model M takes it back as it ends. A clone-model M registers its
 * own, kept in its TLS block. mrt registers at a thread's first mrt_cpu,
 * one rseq system call, so that Ms that never ask pay nothing for it. The
 * registration uses the CPU's conventional signature (glibc's), so rseq
 * critical sections written for glibc's threads work on clone-model Ms
 * too; a thread that registered an rseq of its own before its first
 * mrt_cpu keeps it, and mrt_cpu then asks the system call. Where the
 * kernel has no rseq (before Linux 4.18; QEMU user mode) each call is the
 * getcpu system call, about 105 ns here.
 * Returns the CPU; getcpu's -errno if even that fails; -ENOSYS on Darwin,
 * which has no supported way to ask. [any thread; async-signal-safe]
 */
MRT_API int mrt_cpu(void);

/* The calling thread's kernel thread id (Darwin: the low 31 bits of its
 * pthread_threadid_np). [any thread; async-signal-safe] */
MRT_API int32_t mrt_gettid(void);

/*
 * Sends signal sig to M `id` only (clone model: tgkill to its tid; pthread
 * model: pthread_kill to its thread), m0 included. An M can be signalled
 * from the moment mrt_newm (or mrt_startm) has returned its id until it
 * leaves allm; a signal that reaches a new M before its thread has set up
 * its signal stack and mask waits, pending, until it has (pthread model;
 * in the clone model it runs on g0). Never to another thread: an M that
 * exits while the signal is on its way ends its thread only after the send
 * (its tid is not reused under the call).
 * Returns 0; -ESRCH if no such live M (also for an M that a walker found
 * while its creation had not yet returned); -EINVAL for sig outside 1..64
 * or one the C library keeps for itself (Linux: glibc's 32, cancellation,
 * and 33, setxid; Darwin has signals 1..31 only), id < 0, before
 * mrt_init. Looks the M up without locks. [any thread; async-signal-safe]
 */
MRT_API int mrt_signalm(int64_t id, int sig);

/* ========================================================================
 * Internal. Nothing below this line is part of the API: it is here only
 * because mrt_getg() and mrt_getm() are inline, and it may change in any
 * release. Do not name struct mrt_tls, mrt_tls or mrt_tlsp_ in a program.
 * ======================================================================== */

/*
 * The calling thread's mrt state. On clone-model Ms the thread pointer points
 * at an M-private block laid out so that this variable resolves into it; on
 * all other threads it is ordinary initial-exec TLS. Read it through
 * mrt_getg() / mrt_getm(); never write it.
 */
struct mrt_tls {
	mrt_g *g; /* current g: g0, gsignal or a user g; NULL off M */
	mrt_m *m; /* current M; NULL on threads that are not Ms */
	const volatile int32_t *cpuid; /* mrt_cpu: the word the OS keeps the
	                                  thread's CPU in, once found */
	uint32_t walking; /* lock-free walks of allm this thread is inside */
	char errmsg[160]; /* mrt_errmsg() text of this thread's last failure */
};
#if defined(__APPLE__)
MRT_API extern __thread struct mrt_tls mrt_tls;
#else
MRT_API extern __thread struct mrt_tls mrt_tls __attribute__((tls_model("initial-exec")));
#endif

/*
 * mrt_tlsp_() is the address of the calling thread's mrt_tls, worked out
 * afresh from the thread pointer at each call (internal: use mrt_getg()).
 *
 * Why not simply &mrt_tls: a g can call mrt_gogo or mrt_mcall on one M and
 * be resumed on another, in the middle of one C function. Compilers assume a
 * function runs on one thread, so they may compute a TLS address once and
 * keep it across calls: gcc 12 and clang 14 at -O2 keep the thread pointer
 * (arm64: mrs tpidr_el0) or the address (riscv64: tp + offset) in a
 * callee-saved register, and a read after the switch would then see the old
 * M's block. So on these CPUs the thread pointer is read by a volatile asm
 * every time; only the offset, a link-time constant (the initial-exec GOT
 * slot), may be shared. A getg is then two instructions there (mrs + ldr;
 * add + ld). On amd64 every access is %fs-relative, so the segment base is
 * read by the load itself: getg stays a single load.
 */
#if defined(__aarch64__) && defined(__ELF__)
static inline struct mrt_tls *mrt_tlsp_(void)
{
	unsigned long off, tp;
	__asm__("adrp %0, :gottprel:mrt_tls\n\t"
	        "ldr %0, [%0, #:gottprel_lo12:mrt_tls]"
	        : "=r"(off));
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
	return (struct mrt_tls *)(tp + off);
}
#elif defined(__riscv) && __riscv_xlen == 64
static inline struct mrt_tls *mrt_tlsp_(void)
{
	unsigned long off;
	struct mrt_tls *p;
	__asm__("la.tls.ie %0, mrt_tls" : "=r"(off));
	__asm__ volatile("add %0, %1, tp" : "=r"(p) : "r"(off));
	return p;
}
#else
static inline struct mrt_tls *mrt_tlsp_(void) { return &mrt_tls; }
#endif

static inline mrt_g *mrt_getg(void) { return mrt_tlsp_()->g; }
static inline mrt_m *mrt_getm(void) { return mrt_tlsp_()->m; }

#ifdef __cplusplus
}
#endif
#endif /* MRT_H */
