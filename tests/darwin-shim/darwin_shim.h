/*
 * darwin_shim.h — the libSystem calls that Darwin's platform code makes and
 * glibc does not have, so that platform/darwin, platform/posix and
 * core/lock_sema.c — Darwin's whole M layer — build and run on Linux
 * (meson setup -Ddarwin_shim=true: a test-only build, never a product).
 * The build force-includes this header (-include) into every source of mrt
 * and links darwin_shim.c into the library; platform/ names nothing of it.
 *
 * What it proves: Darwin's thread code, semaphores and the core above them
 * (newosproc and minit through thread_posix.c over thread_darwin.c's hooks,
 * locks and notes sleeping on os_darwin.c's mutex+cond semaphores, the
 * futex emulation, the fork handlers through pthread_atfork) do what the
 * suites of a Darwin build check, on a real kernel and a real libpthread.
 * What it cannot: that of a real Darwin kernel or libSystem. Where glibc
 * differs, the shim either bridges it or the difference stands, and says so:
 *
 *  - Signals. Darwin has 31 signals and a 32-bit sigset_t, which is what
 *    platform/darwin/os.h's os_sigset holds; glibc's sigset_t is 1024 bits
 *    and Linux has 64 signals. An M's mask (os_sigset, bit sig-1) covers
 *    signals 1..32 only, so under the shim the real-time signals 34..64 are
 *    always unblocked on an M (glibc keeps its own 32 and 33 deliverable on
 *    Darwin and here alike). Code that casts a sigset_t to os_sigset does
 *    not compile here: it would be right only where sigset_t is a word.
 *  - Faults. A touch of a PROT_NONE guard page is SIGSEGV (SEGV_ACCERR) on
 *    Linux; Darwin reports SIGBUS about as often. signal_darwin.c catches
 *    both, so only its SIGSEGV path runs here.
 *  - pthread_kill. Darwin's looks the thread up among libpthread's live
 *    threads and answers ESRCH for one that has gone. glibc's answers ESRCH
 *    while the exited thread's descriptor is intact (kept in glibc's stack
 *    cache); once the descriptor is reused for a new thread, a stale
 *    pthread_t names that thread instead. mrt_signalm looks the M up on
 *    allm first, so only an M exiting meanwhile can meet either.
 *  - Thread ids. pthread_threadid_np is Linux's tid here: unique among live
 *    threads, as mrt needs, but reused after a thread ends (Darwin's 64-bit
 *    ids count up from boot). Only the calling thread (NULL or
 *    pthread_self()) is answered, which is all os_darwin.c asks.
 *  - Stacks. pthread_get_stackaddr_np/stacksize_np come from glibc's
 *    pthread_getattr_np, which for a thread glibc made counts the thread
 *    descriptor and static TLS at the top of the mapping as stack (as
 *    platform/linux/pthread_linux.c's bounds do), and for the initial
 *    thread reads /proc/self/maps (malloc and stdio: no async-signal
 *    safety, which minit and mrt_init do not need). Darwin's are exact.
 *  - Names. Darwin names the calling thread up to 63 bytes; Linux keeps 15:
 *    a longer name is cut (Linux would refuse it).
 *  - Time. CLOCK_UPTIME_RAW (mach_absolute_time: monotonic, stopped in
 *    sleep, not slewed) is CLOCK_MONOTONIC_RAW; the relative timed wait
 *    runs on CLOCK_MONOTONIC (all pthread_cond_clockwait takes), so a
 *    wall-clock change cannot stretch it, as on Darwin.
 */
#ifndef MRT_DARWIN_SHIM_H
#define MRT_DARWIN_SHIM_H

/* Force-included into the assembly too, where there is nothing to add. */
#ifndef __ASSEMBLER__

/* Before any libc header: the feature set of every mrt source is fixed
 * here (the same spelling as the sources' own #define, which is then a
 * harmless identical redefinition). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdint.h>
#include <stddef.h>
#include <pthread.h>
#include <time.h>
#include <sys/mman.h>

/* <sys/mman.h> of Darwin and of glibc (with _DEFAULT_SOURCE) both have
 * MAP_ANON; kept here so that a build that loses it fails in one place. */
#ifndef MAP_ANON
#error "darwin shim: glibc's <sys/mman.h> did not define MAP_ANON"
#endif

/* The stack cache's page release (os_darwin.c's sysunused/sysused):
 * Darwin's MADV_FREE_REUSABLE frees the pages and takes them out of the
 * task's footprint; Linux's nearest is MADV_DONTNEED (freed at once, zeros
 * on the next touch, where Darwin may keep the old bytes: the cache relies
 * on neither). MADV_FREE_REUSE, which puts them back in the footprint, has
 * no Linux counterpart: MADV_NORMAL, which changes nothing. */
#define MADV_FREE_REUSABLE MADV_DONTNEED
#define MADV_FREE_REUSE MADV_NORMAL

/* Darwin's pthread_setname_np names the calling thread (one argument);
 * glibc's, declared above, takes the thread: a function-like macro, so
 * that glibc's own prototype (already seen) stays as it is. */
int darwinshim_setname_np(const char *name);
#define pthread_setname_np(name) darwinshim_setname_np(name)

void *darwinshim_get_stackaddr_np(pthread_t t);
size_t darwinshim_get_stacksize_np(pthread_t t);
/* Darwin's pthread_t is a pointer and os_darwin.c passes nil for the
 * calling thread; glibc's is an integer: both convert to uintptr_t. */
int darwinshim_threadid_np(uintptr_t t, uint64_t *id);
int darwinshim_cond_timedwait_relative_np(pthread_cond_t *c, pthread_mutex_t *mu,
                                          const struct timespec *rel);
uint64_t darwinshim_clock_gettime_nsec_np(clockid_t clock);

#define pthread_get_stackaddr_np darwinshim_get_stackaddr_np
#define pthread_get_stacksize_np darwinshim_get_stacksize_np
#define pthread_threadid_np(t, id) darwinshim_threadid_np((uintptr_t)(t), (id))
#define pthread_cond_timedwait_relative_np darwinshim_cond_timedwait_relative_np
#define clock_gettime_nsec_np darwinshim_clock_gettime_nsec_np
#define CLOCK_UPTIME_RAW CLOCK_MONOTONIC_RAW

#endif /* __ASSEMBLER__ */
#endif
