/*
 * runtime.h — the one internal header: struct m, g, sched, and the arch and
 * platform interfaces that core is built on.
 *
 * Layers (see DESIGN.md): core/ is portable C and never names a CPU or an OS;
 * arch/<cpu>/ supplies arch.h (inline primitives, context-frame layout) and
 * assembly; platform/<os>/ supplies os.h and the functions declared under
 * "platform interface" below. The build puts the right arch/ and platform/
 * folders on the include path; core includes "arch.h" and "os.h" by name.
 *
 * Names follow Go's runtime (proc.go, runtime2.go, signal_unix.go,
 * lock_futex.go, stack.go) so that a reader of Go's source — or of the
 * Go 1.12/1.13 walk-throughs this project grew from — finds each step of an
 * M's life under the same name (docs/internals.md maps them).
 */
#ifndef MRT_RUNTIME_H
#define MRT_RUNTIME_H

#define MRT_BUILDING 1
#include "mrt.h"

#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>

#include "arch.h"
#include "os.h"
#include "debugvars.h"

/* ---------------------------------------------------------------------------
 * Basics
 * ------------------------------------------------------------------------- */

#define nil ((void *)0)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define NORETURN __attribute__((noreturn))
#define HIDDEN __attribute__((visibility("hidden")))
#define round_up(x, a) (((x) + (a) - 1) & ~((uintptr_t)(a) - 1))
#define round_down(x, a) ((x) & ~((uintptr_t)(a) - 1))
#define countof(a) (sizeof(a) / sizeof((a)[0]))
/* A pointer the API was given that cannot point to a T: NULL, or not
 * aligned as a T is (what mrt hands out always is). Such arguments get
 * -EINVAL; mrt cannot tell a well-aligned wrong pointer from a right one. */
#define badptr(p, T) ((p) == nil || ((uintptr_t)(p) & (_Alignof(T) - 1)) != 0)

/* Error numbers: <errno.h> is used for its constants only. The errno
 * variable itself is libc per-thread state and is never touched. */
#include <errno.h>

/* Atomics: C11 builtins, spelled once. */
#define load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define xadd(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define cas(p, old, new)                                                         \
	__atomic_compare_exchange_n((p), (old), (new), false, __ATOMIC_ACQ_REL,  \
	                            __ATOMIC_ACQUIRE)

/* ---------------------------------------------------------------------------
 * Locks and notes: Go's runtime mutex and one-shot event. lock_futex.c on
 * platforms with a futex (the key is the 32-bit futex word); lock_sema.c on
 * platforms without one (OS_LOCK_SEMA: the key holds a waiter pointer).
 * ------------------------------------------------------------------------- */

#if OS_LOCK_SEMA
typedef uintptr_t lockword;
/*
 * lock_sema.c sleeps on semaphores (Go's semacreate/semasleep/semawakeup).
 * Every thread that may sleep in lock() or on a note has one: an M its own
 * (m->waitsema, as Go's m.waitsema), any other thread — m0 before mrt_init,
 * a foreign thread calling mrt_newm — one the platform keeps per thread.
 * Waiters queue on a lock through nextwait, and a waiter's address must
 * leave bit 0 free (lock_sema's "locked" bit).
 */
typedef struct semawaiter {
	struct semawaiter *nextwait;
	os_sema sema;
} semawaiter;
#else
typedef uint32_t lockword;
#endif

typedef struct mutex {
	lockword key; /* futex: 0 unlocked, 1 locked, 2 locked with sleepers;
	                 sema: locked bit | list of waiters */
} mutex;

typedef struct note {
	lockword key; /* futex: 0 clear, 1 woken; sema: 0, the waiter, or woken */
} note;

void lock(mutex *l);
void unlock(mutex *l);
void noteclear(note *n);
void notewakeup(note *n);
void notesleep(note *n);
/* Sleeps until woken or ns nanoseconds pass (ns < 0: forever). Returns true
 * if woken. */
bool notetsleep(note *n, int64_t ns);

/* The deadline of a sleep of ns >= 0 nanoseconds from now (>= 0, a
 * nanotime), saturated: an idle time near INT64_MAX must not wrap into the
 * past, where the first early wakeup (a signal's EINTR) would end it. */
static inline int64_t deadlineafter(int64_t now, int64_t ns)
{
	return ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

/* ---------------------------------------------------------------------------
 * Stacks and gs
 * ------------------------------------------------------------------------- */

/* A stack [lo, hi): lo is the lowest usable byte, hi one past the highest.
 * Its slot in a slab (slab.c) starts one guard page below lo. */
typedef struct stack {
	uintptr_t lo, hi;
	struct slab *slab; /* the slab its slot is in */
	uint32_t vgid; /* Valgrind's id for it (san.h), 0 if none */
	uint8_t from;  /* enum stackfrom: where stackalloc found it */
} stack;

/* Where stackalloc found a stack, which is where stackundo puts it back:
 * a slot carved now (its guard made, perhaps its slab mapped), the cache,
 * or a slot its slab had back. */
enum stackfrom { STACK_MAPPED, STACK_CACHED, STACK_SLAB };

/*
 * A stack's bounds as a lock-free allm walker takes them (mrt_forallm,
 * mrt_dump). They are stored one word at a time while the M is on allm — a
 * new M's gsignal by gsignalalloc, its g0 by allocm (clone model) or by the
 * thread's own minit (pthread model), a failed creation's cleared
 * (mstacksfree) — so a walker
 * can meet one half set: such a pair reads as [0, 0), "not known yet".
 * Bounds only ever go from zero to whole and back, so a pair with both
 * halves set is a true one.
 */
static inline void stackbounds(const stack *s, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t l = __atomic_load_n(&s->lo, __ATOMIC_RELAXED);
	uintptr_t h = __atomic_load_n(&s->hi, __ATOMIC_RELAXED);
	if (l == 0 || h <= l)
		l = h = 0;
	*lo = l;
	*hi = h;
}

/* An alternate signal stack as the OS reports it (core/signal.c): [lo, hi),
 * hi == 0 for none (disabled), and the OS's own mode bits, handed back
 * unchanged when the stack is put back, so that it reads as it was. */
typedef struct sigstk {
	uintptr_t lo, hi;
	int flags;
} sigstk;

enum {
	_Gidle = MRT_G_IDLE,
	_Grunnable = MRT_G_RUNNABLE,
	_Grunning = MRT_G_RUNNING,
	_Gdead = MRT_G_DEAD,
};

/* The bounds of every stack size the API accepts (mrt_init's g0 and
 * gsignal sizes, mrt_malg's): below 16 KiB C code has no room for a
 * handler frame and a few calls; above 1 GiB it is a mistake. */
enum { minstack = 16 << 10, maxstack = 1 << 30 };

/* What a g is for. */
enum { G_USER, G_G0, G_SIGNAL };

struct mrt_g {
	stack stack;      /* exact usable bounds */
	stack stackmem;   /* the allocation stack came from (stackalloc); g0's
	                     usable top is lowered by the TLS block above it */
	/*
	 * ctx is the saved context while the g is suspended: the stack pointer
	 * at which the arch's ctx_switch pushed the callee-saved registers. It
	 * is nil while the g runs. Whoever resumes a g first exchanges ctx with
	 * nil, so two Ms can never resume the same g; ctx_switch publishes it
	 * with a release store only after the frame is complete.
	 */
	void *ctx;
	/* g0 and gsignal: their M. A user g: the M it is locked to
	 * (mrt_lockosthread: Go's g.lockedm), nil if none, morphan once that
	 * M has ended (the g can never run again); the M a user g runs on is
	 * getm(). One field for both, so that mrt_gogo's fast path refuses
	 * another M's g0 and a g locked to another M with one load and test
	 * (g.c). */
	struct mrt_m *m;
	int64_t goid;
	/* _Gidle, _Gdead, or _Grunnable for a g that is started and not dead:
	 * whether it is running right now is ctx == nil (see gstatus), so a
	 * switch writes no status at all. g0 and gsignal are always running. */
	uint32_t status;
	uint8_t kind;     /* G_USER, G_G0, G_SIGNAL */
	bool ownstack;    /* stack allocated by mrt (false: the OS's pthread stack) */
	mrt_fn fn;        /* start function, consumed at first switch */
	void *arg;
	void *user;       /* mrt_guser */
	struct mrt_g *freelink; /* g pool */
	/* Sanitizer state of the g's context (san.h); unused otherwise. */
	void *sanfake;    /* ASan: its fake stack while it is switched out */
	void *sanfiber;   /* TSan: its fiber */
};
typedef struct mrt_g g;

/* A user g's m once the M it was locked to has ended (see g.m). */
#define morphan ((struct mrt_m *)1)

/* ---------------------------------------------------------------------------
 * Ms
 * ------------------------------------------------------------------------- */

/*
 * freeWait (Go ≥ 1.20's three states): may an exited M's resources be freed?
 *  freeMStack (0): the thread is gone; g0, gsignal and the m may be freed.
 *                  Clone model: written by the kernel (CLONE_CHILD_CLEARTID)
 *                  once the thread can no longer run any user instruction.
 *  freeMRef   (1): the OS owns g0's stack (pthread model); only the m and
 *                  gsignal may be freed.
 *  freeMWait  (2): the thread may still be using its stacks; keep everything.
 */
enum { freeMStack = 0, freeMRef = 1, freeMWait = 2 };

/*
 * birth: is the M's creation decided? From allocm until the new thread
 * starts (mstart) or the creation fails (mfailed) it is pending, and a joiner
 * that found the M on allm meanwhile waits on it (birthWaited) before it
 * waits for the thread's end: a thread that never existed would never end.
 */
enum { birthDone = 0, birthPending = 1, birthWaited = 2 };

/*
 * where: who holds an m of the pool — the pool (mInPool), a list (mOnList:
 * allm or freem), or one thread, with the m on no list (mInFlight: being
 * made, undone after a failure, or reaped). Changed under sched.lock where
 * the m joins or leaves a list, and by mnew and mfree around the pool, so
 * that a fork child (fork.c), whose other threads are gone, can give back
 * what they held: it is cut between two critical sections, and the stores
 * outside them are ordered for it (signal fences: a fork cuts a thread as a
 * signal would).
 */
enum { mInPool = 0, mInFlight, mOnList };

/*
 * An M's blocking-section slot (core/syscall.c, core/sysmon.c).
 *
 * word is the section's state, one 64-bit word so that every change is a
 * single atomic operation: a tick counting the sections the M has entered
 * (Go's syscalltick), a bit saying the M is on the monitor's list, and
 * the state: SYS_NONE (not in a section: the P, if any, is m->p), SYS_IN
 * (in one, the P in oldp, the monitor may take it) or SYS_TAKEN (in one,
 * the P gone: taken by the monitor or handed off by entersyscallblock).
 * Only SYS_IN → SYS_TAKEN is another thread's change (the monitor's CAS);
 * every other is the M's own. The tick makes a section unique: a CAS that
 * expects one section's word fails once that section has ended, even if
 * the M has entered another since (no ABA).
 *
 * seentick and seenwhen are the monitor's alone (Go's sysmontick): the
 * section it saw last on this M, and when it first saw it, so that entering
 * reads no clock.
 */
enum {
	SYS_NONE = 0,
	SYS_IN = 1,
	SYS_TAKEN = 2,
	SYS_STATE = 3,
	SYS_REG = 4,  /* on the monitor's list (sysmregister) */
	SYS_TICK = 8, /* one section */
};
typedef struct msys {
	uint64_t word;
	void *oldp;                /* the P while SYS_IN (atomic: the monitor reads it) */
	struct mrt_m *link;        /* the monitor's list (sysmon.c) */
	uint64_t seentick;         /* monitor only */
	int64_t seenwhen;          /* monitor only */
} msys;

/* Why control came back to an M's exit point (mstart). */
enum { MEXIT_NONE, MEXIT_EXIT, MEXIT_PARK };

struct mrt_m {
	g *g0;          /* system stack: mrt's own code and the M's function */
	g *gsignal;     /* signal stack */
	g g0_, gsignal_; /* where g0 and gsignal live: pooled with the m */
	g *curg;        /* g running on this M right now (g0 when none) */
	/*
	 * What sends mrt_gogo on this M to its slow path, next to curg (both
	 * are touched by every switch) and read by the fast path as one word
	 * (nogogo), so that the lock rule costs the switch no load of its own
	 * (#14 item 2): in mrt_systemstack (no switching at all; the fast
	 * path tells it from getg() != curg, #15 item 5), or a g locked to
	 * the M (only it and g0 may run here; g.c's gogoslow).
	 */
	union {
		struct {
			uint32_t onsystemstack;
			uint32_t lockedgogo; /* lockedg != nil */
		};
		uint64_t nogogo;
	};
	int64_t id;
	int32_t procid; /* kernel tid; CLONE_PARENT_SETTID writes it */
	/* mrt_signalm calls that may send to this M's thread right now, and
	 * (pthread model) the creator until it has stored the thread's handle
	 * (atomic): the thread does not end while any is in flight (mexit),
	 * so a tid or handle read while the M was live names this thread,
	 * never one the system made since. */
	uint32_t sending;
	/*
	 * freeWait is the clone child-tid word: its address is given to the
	 * kernel as CLONE_CHILD_CLEARTID, so it must stay a 32-bit word at a
	 * fixed address for the life of the thread: m structs are never moved
	 * or unmapped (mpool).
	 */
	uint32_t freeWait;
	uint32_t status;      /* enum mrt_mstatus, or 0 while in the pool */
	uint32_t where;       /* mInPool, mInFlight or mOnList */
	struct mrt_m *alllink;  /* on allm; read by lock-free walkers */
	struct mrt_m *allprev;  /* on allm, the M before (sched.lock only: an
	                           O(1) unlink; walkers never read it) */
	struct mrt_m *freelink; /* on sched.freem; a different field from
	                           alllink because walkers may still follow
	                           alllink of an M that just left allm */
	struct mrt_m *freeprev; /* on sched.freem, the M before (sched.lock) */
	/* The chains of the indexes by id (mindex.c): [which index][the
	 * generation of its table & 1]. Fields of their own, as alllink is:
	 * a lock-free reader may still follow a chain an M has left. */
	struct mrt_m *idxlink[2][2];
	struct mrt_m *schedlink; /* on sched.midle, or the m pool */
	note park;            /* stopm sleeps here; startm wakes */

	mrt_fn mstartfn; /* what the M runs next (newm, startm) */
	void *mstartarg;
	void *nextp; /* p handed over by newm/startm, taken at (re)start */
	void *p;

	/* The exit point: mstart's context, saved when it first switched to the
	 * M's function. mexit and stopm return to it (mexitreason says why). */
	void *exitctx;
	void *exitsanfake;  /* sanitizer state of the exit point's context */
	void *exitsanfiber;
	uint32_t mexitreason;
	uintptr_t g0top; /* where the M's function starts, below mstart's frame */
	/* A user g that ends: it is marked dead only once the M has left its
	 * stack (g.c's gexit0; mstart at the exit point for exitg), and the
	 * switch away from it saves its last context in gexitctx, a slot
	 * that is written and never resumed. */
	g *exitg;
	void *gexitctx;

	void (*mcallfn)(g *, void *); /* mrt_mcall's request, for mcall0 on g0 */
	void *mcallarg;
	g *mcallg;

	uint32_t joining; /* a thread waits in mrt_join (sched.lock) */
	uint32_t birth;   /* birthDone, Pending or Waited (a futex word) */
	int32_t starterr; /* minit failed, or (on freem) its creation did: the
	                     M never ran its function */

	/*
	 * The thread's own state (#14 items 2 and 3). lockedg is the user g
	 * wired to this M by mrt_lockosthread, lockedext its nesting (Go's
	 * m.lockedg, m.lockedExt); only this M's thread writes them. tainted:
	 * the thread changed state no other work may inherit (mrt_mtaint;
	 * set for good). Such an M, and one that is attached (below), never
	 * parks and never clones a new M: the template thread does
	 * (template.c).
	 */
	g *lockedg;
	uint32_t lockedext;
	bool tainted;
	uint8_t mexitwhy;  /* MT_WHY_* of an exit the M did not ask for */
	/* mrt_allthreadssyscall's request to this M (allthreads.c):
	 * ATS_NONE, ATS_ASKED (signal sent or on its way), ATS_RUNNING (the
	 * handler is making the call). */
	uint32_t allthreads;

	uint32_t fastrand[2];
	os_sigset sigmask; /* signal mask the M starts with: the init mask */
	/* core/signal.c: minit installed gsignal (Go's m.newSigstack), and the
	 * alternate signal stack the thread had before, which unminit puts
	 * back. */
	bool newsigstack;
	sigstk oldsigstack;
	/* A thread mrt did not make, made an M by mrt_needm (core/extram.c,
	 * Go's extra M): its g0 is the thread's own stack, it has no exit
	 * point (it cannot park or exit), it is not counted against the
	 * thread limit, and its thread's code is the thread owner's. Set by
	 * needm, cleared by dropm. */
	bool attached;
	void *tp;          /* thread pointer for the new thread (clone model) */
	void *ostls;       /* the OS area of its TLS block (tls.c; clone model),
	                      nil where it has none */
	uintptr_t mlocal[MRT_MLOCAL_SLOTS];
	/* tracefile.c (MRTDEBUG=trace): the buffer this M records into, and
	 * the state the trace shows it in (a g, parked, starting), since when,
	 * and since when it is in a blocking section. Written by the M itself,
	 * and by its creator before its thread exists; read by the last flush.
	 * tracebusy: the M is inside tracefile.c, so a signal handler on it
	 * that records too (a blocking section in a handler) is a re-entry,
	 * whose record is dropped (counted lost) rather than interleaved. */
	void *tracebuf;
	int64_t tracestate, tracearg, tracesince, tracesys;
	uint32_t tracebusy;
	/* Blocking sections (core/syscall.c) and the monitor's view of them
	 * (core/sysmon.c): Go keeps these in the P (p.status _Psyscall,
	 * p.syscalltick, p.sysmontick) and m.oldp; mrt's P is opaque, so the
	 * M keeps them. See msys. */
	msys sys;
	/* Spinning in mrt_stopm (core/spin.c): on sched.mspin while spinning
	 * (sched.lock); startm hands it work with a store to spinwake. */
	uint32_t spinning;
	uint32_t spinwake;
#if OS_LOCK_SEMA
	semawaiter waitsema; /* this M's sleeps in lock() and on notes */
#endif
	os_mstate os;      /* the platform's per-M fields */
};
typedef struct mrt_m m;

/* Through mrt_tlsp_() (mrt.h): a g may resume on another M in the middle
 * of a function, so the thread's block is found afresh at each access. */
static inline g *getg(void) { return mrt_tlsp_()->g; }
static inline m *getm(void) { return mrt_tlsp_()->m; }
static inline void setg(g *gp) { mrt_tlsp_()->g = gp; }

/* ---------------------------------------------------------------------------
 * The global state (runtime2.c, as Go declares it in runtime2.go): the
 * scheduler's (Go's schedt, reduced to Ms), allm, m0, the settings.
 * ------------------------------------------------------------------------- */

struct schedt {
	mutex lock;      /* protects everything below unless noted */
	int64_t mnext;   /* number of Ms created (also the next id) */
	int64_t nmfreed; /* Ms that exited */
	int64_t nmfailed; /* Ms whose creation failed after taking an id */
	int32_t maxmcount;
	m *midle;        /* parked Ms, via schedlink */
	int32_t nmidle;
	m *freem;        /* exited Ms awaiting reaping, via freelink */
	int32_t nfreem;
	/* Lock-free allm walkers in progress (atomic; walkbegin/walkend).
	 * While any walker runs, reaped m structs stay on freem instead of
	 * returning to the pool, so a walker never reads a recycled m. Joins
	 * that must wait for the walks to end sleep on nwalkers, counted in
	 * nwalkwait (atomic; see walkwait in m.c). */
	uint32_t nwalkers;
	uint32_t nwalkwait;
	/* Attached Ms on allm (core/extram.c; Go's extraMInUse): in mcount,
	 * as Go counts its extra Ms, and left out of checkmcount's, as Go's
	 * checkmcount leaves them out. */
	int32_t nmextra;
	/* Ms spinning in mrt_stopm (core/spin.c), via schedlink; they count
	 * in nmidle too (they are parked, only not asleep yet). */
	m *mspin;
	int32_t nmspinning;
	uint64_t nspinhandoffs; /* startm handed work to a spinner (atomic) */
};
extern struct schedt sched;
extern m *allm;   /* every M not yet exited, newest first (release-published) */
extern m m0;      /* the thread that called mrt_init; g0 is its own stack */
extern int32_t ncpu; /* CPUs the process may run on (osinit) */

/* mcount: Ms created and not yet exited, m0 and attached Ms included
 * (Go's mcount). sched.lock held. */
static inline int64_t mcount(void)
{
	return sched.mnext - sched.nmfreed - sched.nmfailed;
}

/* Settings fixed by mrt_init. */
struct mrtconfig {
	bool inited;
	size_t g0stack, gsignalstack;
	int64_t idle_ns;
	uint32_t stackcache;
	uint32_t flags;
	bool threadnames; /* name each M's thread cfg.threadname<id> */
	int allthreadssig; /* mrt_allthreadssyscall's signal (allthreads.c) */
	os_sigset initsigmask;
	/* Clone-model thread-local block (see tls.c). */
	intptr_t tls_off;        /* &mrt_tls - thread pointer */
	intptr_t tls_lo, tls_hi; /* extent relative to the thread pointer */
	uintptr_t tls_size;      /* bytes reserved at the top of each g0 */
	void *tp0;               /* m0's thread pointer */
	int64_t t0;              /* nanotime at mrt_init: traces count from here */
	char threadname[16];     /* prefix of each M's thread name */
	/* Blocking sections, the monitor, spinning (mrt_config's fields). */
	int (*handoff)(void *p, int err);
	int64_t retakens;
	int64_t spinns;
	int32_t maxspinning;
};
extern struct mrtconfig cfg;

/* proc.c / m.c: the life of an M */
void mclear(m *mp);
int mcommoninit(m *mp);
int allocm(m **mpp, mrt_fn fn, void *arg, void *p);
int64_t newm(mrt_fn fn, void *arg, void *p);
void mstart(void *mp); /* platform's thread entry calls this on g0 */
/* The platform's report that mp's thread is ending without mrt (pthread
 * model: pthread_exit, cancellation), on that thread: ends the M. */
void mexitthread(m *mp);
void mputfreem(m *mp);
/* Sends sig to mp, which a walker of allm found, if it is live (0, -ESRCH):
 * mrt_signalm's protocol against its thread's end. */
int msignal(m *mp, int sig);
/* On the M that leaves allm (mexit, dropm), after mputfreem: waits for the
 * mrt_signalm calls that saw it live (mp->sending). */
void mwaitsends(m *mp);
/* The thread library ended mp's thread without returning through mrt and
 * abandoned the frames the M ran (pthread_exit, cancellation): the g it
 * ran is dead unless the thread still runs on its stack, and the M is on
 * g0 again. Returns whether the thread runs on g0. */
bool mabandon(m *mp);
bool allmunlink(m *mp); /* sched.lock held: off allm and its index, if there */
void freempush(m *mp);  /* sched.lock held: on freem and its index */
int64_t startm(mrt_fn fn, void *arg, void *p);
int reapfreem(void);
m *mnew(void);        /* a cleared m from the pool, held by the caller; nil: no memory */
void mfree(m *mp);    /* back to the m pool */
void mpoolinit(void); /* the m pool's layout, at mrt_init (m.c) */
void mfailed(m *mp, bool registered, int err); /* undo allocm for a thread never born */
int sysmonstart(void); /* proc.c: the monitor M, once (0 or -errno) */

/* syscall.c / sysmon.c: blocking sections and the monitor M (Go's sysmon) */
void sysmon(void *arg);          /* the monitor M's function */
/* The monitor's word, loaded by every section's entry: non-zero when the
 * monitor sleeps deeply (SYSMON_DEEP) or is yet to be started
 * (SYSMON_NEEDED); sysmonkick does what it says. */
enum { SYSMON_DEEP = 1, SYSMON_NEEDED = 2, SYSMON_STARTING = 4 };
extern uint32_t sysmonwait;
void sysmonkick(m *mp, uint64_t word);
bool sysmonclaim(void);          /* true: the caller starts the monitor */
void sysmonstarted(int64_t id);  /* its outcome: the M's id or -errno */
void sysmregister(m *mp);        /* mp on the monitor's list (lock-free) */
void sysmexit(m *mp);            /* an ending M: its section, its place on the list */
void handoffp(void *p);          /* a P to cfg.handoff, told any error */
/* runtime2.c: the monitor's function (trace.c tells its events by it:
 * set by sysmonstart before the M exists) and its id once made (-1). */
extern mrt_fn sysmonfn;
extern int64_t sysmonid;
/* Is mp the monitor? For mrt_dump, which reads other Ms' words without a
 * lock: the id, not the function (startm writes that of other Ms). */
static inline bool ismonitor(m *mp)
{
	int64_t id = __atomic_load_n(&sysmonid, __ATOMIC_ACQUIRE);
	return id >= 0 && __atomic_load_n(&mp->id, __ATOMIC_RELAXED) == id;
}
void sysmonforklock(void);
void sysmonforkunlock(void);
void sysmonforkchild(m *me);
/* Is mp in a blocking section? (mrt_stopm, mrt_mexit, mrt_setp refuse.) */
static inline bool insyscall(m *mp)
{
	return (__atomic_load_n(&mp->sys.word, __ATOMIC_RELAXED) & SYS_STATE) != SYS_NONE;
}

/* spin.c: Ms that spin in mrt_stopm before they sleep */
bool mspin(m *mp);         /* mpark, first: true if work came while it spun */
m *mspinget(void);         /* startm: a spinning M taken off sched.mspin, or nil (sched.lock held) */
void mspinwake(m *mp);     /* startm: the hand-over to it, a store */

/* stack.c: stacks with guard pages and a bounded cache */
extern uintptr_t pagesize; /* set by osinit (runtime2.c) */
/* 0 (s->from says cache or OS) or -ENOMEM. */
int stackalloc(stack *s, size_t n);
void stackfree(stack *s);
void stackundo(stack *s);
void stackcache_stats(uint32_t *count, size_t *bytes);
struct stackcachestats {
	uint32_t count;           /* stacks cached */
	int classes;              /* sizes cached */
	size_t bytes, warmbytes;  /* their usable bytes; of which resident */
	size_t maxbytes, warmmax; /* the bounds of both */
	uint64_t released;        /* stacks whose pages were given back, ever */
};
void stackcache_read(struct stackcachestats *st);
int64_t stackcache_trim(void); /* the cache back to the slabs: the bytes it held */
int64_t stacks_mapped(void); /* stacks carved from slabs, in use or cached */
void stackcache_forklock(void);
void stackcache_forkunlock(void);
void stackcache_forkreset(void);

/* fork.c: the exec lock (shared around newosproc), the births lock (shared
 * around a whole newm, exclusive in mrt_allthreadssyscall: #14 item 4) and
 * the fork handlers. The r-lock calls return 0 or -EDEADLK (the calling
 * thread holds the lock exclusively). */
int execrlock(void);
void execrunlock(void);
int birthrlock(void);
void birthrunlock(void);
int birthlock(void);
void birthunlock(void);
int forkinit(void);

/* g.c */
int malg(g **gpp, size_t stacksize, int kind);
void gfree(g *gp);

/*
 * oscallstack says where the calling thread should run a call into code
 * that is not mrt's and whose stack use mrt does not bound — the vDSO's
 * clock_gettime — : nil for right here, or a stack top for ctx_call_on, on
 * g0 below its saved context. Go runs its vDSO calls on g0 for the same
 * reason: a user g's stack is its owner's budget, and may be nearly spent
 * when the call comes (tests/test_clock.c measures what the vDSO takes).
 * Only a user g running on its own stack moves. On g0, on gsignal, on a
 * thread that is not an M, the call stays: each is a system stack. So does
 * one from a signal handler, which runs on gsignal (or on the stack it
 * interrupted) while the TLS still names the interrupted g: the stack
 * pointer, not the TLS g alone, decides, and that makes it
 * async-signal-safe: a handler that interrupts a call already moved to g0
 * runs on gsignal or on g0 below it, never on the user g's stack, so it
 * never moves onto the space the call it interrupted is using. Nor while
 * g0's context is being taken (ctx nil: gentry, mrt_mcall, mtoexitpoint
 * are about to run on g0's stack).
 */
static inline void *oscallstack(void)
{
	g *gp = getg();
	if (likely(gp == nil || gp->kind != G_USER))
		return nil;
	uintptr_t sp = arch_getsp();
	if (sp < gp->stack.lo || sp >= gp->stack.hi)
		return nil;
	void *c = load_relaxed(&getm()->g0->ctx);
	return c != nil ? (void *)round_down((uintptr_t)c, 16) : nil;
}

/* signal.c: an M's signal stack and mask, the rule once (see there) */
/* The M's gsignal stack (cfg.gsignalstack), allocated by mcommoninit on
 * the creating thread (Go's mpreinit: malg(32 KiB)); 0 or -errno. */
int gsignalalloc(m *mp);
/* On the M, from its platform's minit: the signal stack, then the mask. */
int minitSignals(m *mp);
/* On the exiting M, from its platform's unminit: what minit found, back. */
void unminitSignals(m *mp);

/* tls.c: the clone-model thread-local block at the top of each g0 */
int tlsinit(const char **why); /* -ERANGE: *why says why not */
void *tlsmake(m *mp, uintptr_t top);
uintptr_t tlsbase(uintptr_t top);

/* trace.c: MRTDEBUG, the M event trace, schedtrace, mrt_dump, thread names */
extern struct debugvars debug; /* MRTDEBUG, set once by mrt_init */
/*
 * The M events: what mtrace prints, tracefile.c records and the USDT probes
 * mark (probes.h says what each passes). MT_ATTACHED and MT_DROPPED are a
 * thread mrt did not make becoming an M and ceasing to be one (mrt_needm,
 * mrt_dropm: core/extram.c). The last four belong to the blocking
 * sections (#13), whose code places them as it does the others:
 * MTRACE(MT_ENTERSYSCALL, mp, 0) entering a section, MT_EXITSYSCALL leaving
 * it (err: 1 if the P was lost), MT_RETAKEN on the monitor when it takes
 * mp's P, MT_HANDEDOFF when that P goes to the hand-off function (err: the
 * error it was told, or 0).
 */
enum {
	MT_CREATED, MT_STARTED, MT_PARKED, MT_WOKEN, MT_EXITING, MT_REAPED, MT_FAILED,
	MT_ATTACHED, MT_DROPPED,
	MT_ENTERSYSCALL, MT_EXITSYSCALL, MT_RETAKEN, MT_HANDEDOFF, NMTEVENT
};
/* Why an M exits (MT_EXITING's err) or is dropped (MT_DROPPED's): its
 * function ended or mrt_dropm was called (0), it retired after its idle
 * time, its thread ended outside mrt (mexitthread, extramthreadend), its
 * locked g ended (#14 item 2), it would have parked tainted (item 3). */
enum { MT_WHY_IDLE = 1, MT_WHY_THREAD = 2, MT_WHY_LOCKED = 3, MT_WHY_TAINTED = 4 };
void mtrace(int ev, m *mp, int err) __attribute__((cold, noinline));
extern const char *const mtracenames[NMTEVENT]; /* tracefile.c: "created", ... */
/* What mtrace does with an event (tracefile.c): TRACE_PRINT for
 * MRTDEBUG=mtrace=1, TRACE_FILE for trace=<file>. Set by mrt_init on m0;
 * TRACE_FILE is cleared by the trace's last flush (at exit) and in a fork
 * child. */
extern uint32_t tracing HIDDEN; /* HIDDEN: one PC-relative load, no GOT */
enum { TRACE_PRINT = 1, TRACE_FILE = 2 };
#include "probes.h"
/*
 * An M event: its USDT probe (probes.h: one nop until a tool attaches),
 * then mtrace if MRTDEBUG asked for it. Off, the M path pays the nop, one
 * load and one predictable branch: the call is out of line and marked
 * cold. ev is an MT_ name as written: it names the probe.
 */
#define MTRACE(ev, mp, err)                                                              \
	do {                                                                             \
		MPROBE(ev, mp, err);                                                     \
		if (unlikely(load_relaxed(&tracing) != 0))                               \
			mtrace((ev), (mp), (err));                                       \
	} while (0)
/* tracefile.c: MRTDEBUG=trace=<file>, every M event and g switch in
 * per-M buffers, written as Chrome/Perfetto trace-event JSON. */
void traceinit(const char *path, size_t n); /* debuginit, on m0 */
void traceevent(int ev, m *mp, int err);    /* mtrace, with TRACE_FILE */
void traceforkchild(void);                  /* fork.c: the child records nothing */
void tracegswitch(m *mp, g *to) __attribute__((cold, noinline));
/* mp switches from its current g to `to` (g.c: gogo, mcall, a g's end).
 * Off, one load and a predictable branch, as MTRACE. */
#define TRACEGSWITCH(mp, to)                                                             \
	do {                                                                             \
		if (unlikely(load_relaxed(&tracing) & TRACE_FILE))                       \
			tracegswitch((mp), (to));                                        \
	} while (0)
void debuginit(void);  /* parse MRTDEBUG (mrt_init, on m0) */
void schedtracem(void *arg); /* the schedtrace monitor M's function */
int mthreadname(m *mp, char *buf, size_t n); /* proc.c */

/* overflow.c: returns unless addr is in the guard page of an mrt stack;
 * then reports the overflow and aborts. Async-signal-safe, lock-free. */
void checkoverflow(uintptr_t addr);

/* print.c */
int vsnprint(char *buf, size_t n, const char *fmt, va_list ap);
/* The calling thread's mrt_errmsg(), formatted. */
void seterrmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int printfd(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
NORETURN void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fatal error naming the current M, for broken internal invariants. */
#define throw(msg) fatal("%s", msg)

/* ---------------------------------------------------------------------------
 * The arch interface (arch/<cpu>/): see DESIGN.md. Assembly unless noted.
 * ------------------------------------------------------------------------- */

/* Context switches, Boost.Context style: a context is the stack pointer of
 * a frame of callee-saved registers pushed on the suspended stack. */
/* Save the current context to *save (release store), resume to. Returns 0
 * when the saved context is resumed. Callers end with `return
 * ctx_switch(...)`: as a tail call no ret runs between two gs, which keeps
 * the CPU's return-stack predictor in step (see arch/amd64/ctx.S). */
int ctx_switch(void **save, void *to);
/* Resume to without saving anything. */
NORETURN void ctx_jump(void *to);
/* Save to *save, switch to to's stack and run fn(arg) there, then resume to. */
void ctx_switch_call(void **save, void *to, void (*fn)(void *), void *arg);
/* Run fn(arg) on the stack below stack_top and come back. */
void ctx_call_on(void *stack_top, void (*fn)(void *), void *arg);
/* Build a context on the stack below stack_top whose first resume calls
 * entry(arg) in a frame that ends the unwinder's walk; if entry returns,
 * ctx_entry_returned() is called (fatal). */
void *ctx_make(void *stack_top, void (*entry)(void *), void *arg);
NORETURN void ctx_entry_returned(void); /* in core: fatal */

/* In arch.h (inline): arch_gettp(), arch_getsp(), arch_cputicks(),
 * arch_procyield(n), arch_tcb_init(tp, tp0), ARCH_TCB_LO/HI, ARCH_TP_ALIGN,
 * ARCH_REDZONE. The OS's system-call code per CPU (Linux: sys_linux.h,
 * clone_linux.S) is the platform's, declared in its own header. */

/* ---------------------------------------------------------------------------
 * The platform interface (platform/<os>/)
 * ------------------------------------------------------------------------- */

int osinit(void);             /* at mrt_init, on m0: pagesize, ncpu, the init mask */
int newosproc(m *mp);         /* start mp's thread: 0 or -errno */
void mpreinit(m *mp);         /* on the creating thread, after gsignalalloc */
int minit(m *mp);             /* on the new M: g0 bounds, tid, minitSignals */
void unminit(m *mp);          /* on the exiting M, before it leaves allm */
void osexit(m *mp);           /* the M's last step, after mexit; the thread ends when mstart returns */
void osjoin(m *mp);           /* wait until mp->freeWait != freeMWait */
void m0stack(stack *s);       /* bounds of m0's (the initial thread's) stack */
/*
 * Threads mrt did not make (core/extram.c). osneedm, on the thread that
 * becomes mp: g0's exact bounds (read once, here), the tid, what signalm
 * needs, and the binding whose end drops mp when the thread ends (the
 * platform calls extramthreadend then); 0 or -errno. osunbindm undoes the
 * binding. osdropm is dropm's last use of mp: freeWait becomes freeMRef
 * (only the m and gsignal are mrt's to free) and osjoin's waiter wakes.
 */
int osneedm(m *mp);
void osunbindm(m *mp);
void osdropm(m *mp);
void extramthreadend(m *mp);  /* core: the attached thread is ending */

#if OS_LOCK_SEMA
semawaiter *semaself(void);                 /* the calling thread's (see semawaiter) */
bool semasleep(semawaiter *w, int64_t ns);  /* false: timed out (ns < 0: forever) */
void semawakeup(semawaiter *w);
#endif
/* Sleep while *addr == val (at most ns; ns < 0: no limit), and wake
 * sleepers of addr. Spurious wakeups allowed: callers re-check. A futex on
 * Linux (async-signal-safe: a system call); where there is none
 * (OS_LOCK_SEMA), emulated by the platform on a mutex (not
 * async-signal-safe), and used only off the hot paths (the exec lock, joins
 * waiting for walkers). */
void futexsleep(uint32_t *addr, uint32_t val, int64_t ns);
void futexwakeup(uint32_t *addr, uint32_t cnt);

void *sysalloc(size_t n);           /* anonymous RW memory, nil on failure */
int sysfree(void *p, size_t n);
/* Guard pages: sysguard makes n bytes at p inaccessible, sysunguard
 * accessible again (0 or -errno). sysguardsplits: whether a guard costs a
 * mapping of its own (mprotect), or is a mark that leaves the mapping whole
 * (Linux 6.13's guard regions, where osinit found them working). */
int sysguard(void *p, size_t n);
int sysunguard(void *p, size_t n);
bool sysguardsplits(void);
/* From now on guards by mprotect, whatever osinit found (MRTDEBUG=
 * mprotectguards=1). At mrt_init, before the first guard is made. */
void sysguardmprotect(void);
/* The pages of [p, p+n) are not needed for now: the kernel may take them
 * back (Linux: at once, and they read as zeros next time; Darwin: when it
 * wants). Before the range is used again, sysused (Go's sysUnused and
 * sysUsed). Advice: nothing is lost if either does nothing. */
void sysunused(void *p, size_t n);
void sysused(void *p, size_t n);

void osyield(void);
/* The calling thread's timed sleeps end as close to their deadline as the
 * OS lets them (Linux: no timer slack, whose default of 50 us is longer
 * than the monitor's sleeps; elsewhere nothing). For the monitor M. */
void ostimerslack(void);
void osusleep(int64_t us);
int64_t nanotime(void);
/* mrt_cpu's slow path: the current CPU, from the word the OS keeps current
 * for this thread (Linux: rseq's cpu_id), which it makes mrt_tls.cpuid
 * where it can, or from a system call; -errno where the OS cannot say
 * (Darwin: -ENOSYS). Any thread; async-signal-safe. */
int oscpu(void);
int32_t osgettid(void);
/* Sends sig to mp's thread (tgkill, pthread_kill): 0 or -errno, -ESRCH while
 * the thread is not there yet. The caller (mrt_signalm) holds mp->sending. */
int signalm(m *mp, int sig);
int oswrite(int fd, const void *p, size_t n); /* bytes or -errno */
/* MRTDEBUG=trace's file (tracefile.c): oscreate opens path for writing,
 * created (0644 before the umask) or emptied, close-on-exec: the fd or
 * -errno (at mrt_init, on m0). ospwrite writes at offset off, leaving the
 * file offset alone: bytes or -errno (any thread). osatexit has fn run when
 * the process exits through exit(3) (libc's atexit, at mrt_init on m0):
 * 0 or -errno. */
int oscreate(const char *path);
int ospwrite(int fd, const void *p, size_t n, int64_t off);
int osatexit(void (*fn)(void));
/* The calling thread's alternate signal stack: *old (unless nil) gets the
 * one it has, then ss (unless nil) is installed (ss->hi == 0: none). 0 or
 * -errno. */
int ossigaltstack(const sigstk *ss, sigstk *old);
/* The calling thread's signal mask: *old (unless nil) gets it, then *set
 * (unless nil) becomes it, as far as the thread library lets a thread
 * block signals (a pthread keeps libc's internal ones). 0 or -errno. A
 * primitive of the thread model: raw on a clone-model M, through libc on a
 * thread libc made. */
int ossigmask(const os_sigset *set, os_sigset *old);
void osabort(void) NORETURN;
/* MRT_F_STACKOVERFLOW: install the fault handler that calls checkoverflow
 * and chains to the previous action (0 or -errno), and put the previous
 * action back. At mrt_init, on m0. */
int sigsegvinit(void);
void sigsegvundo(void);
/* mrt_allthreadssyscall's signal (#14 item 4): installs, once, the handler
 * that calls allthreadsrun on the thread the signal reaches (0 or -errno;
 * -EBUSY if the program has a handler there; -ENOSYS where there is no
 * per-thread call to make: Darwin). Then one system call, raw, on the
 * calling thread: a[0] the number, a[1..6] the arguments; the kernel's
 * result (-errno for an error). */
int osallthreadsinit(int sig);
long osallthreadscall(const long a[7]);
/* Registers fork handlers (libc's pthread_atfork: at mrt_init, on m0). */
int osatfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));
const char *osgetenv(const char *name);

/* ---------------------------------------------------------------------------
 * A thread's own state (#14 items 2-4): locked gs and tainted Ms
 * (lockosthread.c), the template thread (template.c), one system call on
 * every M (allthreads.c). What other files need of them is here, as data
 * and inlines, so that core has no import cycle: template.c and
 * lockosthread.c call newm, which must know of them.
 * ------------------------------------------------------------------------- */

/* The template thread's state (Go's newmHandoff): in runtime2.c, so that a
 * fork child, which has no template thread, can reset it (fork.c). */
struct handoffreq;
struct newmhandofft {
	mutex lock;              /* newm, waiting */
	mutex startlock;         /* one templatestart at a time */
	struct handoffreq *newm; /* creations to make, newest first */
	bool waiting;            /* the template thread sleeps on wake */
	note wake;
	/* The template thread's side of a handoff once there is one, nil
	 * before. newm calls through it, not by name: template.c calls newm. */
	int64_t (*handoff)(mrt_fn fn, void *arg, void *p);
	/* The template thread's function, its M's mstartfn for good: how
	 * mtrace and mrt_dump tell that M (set before it is created). */
	mrt_fn fn;
};
extern struct newmhandofft newmHandoff;

/* Whether mp is the template thread. */
static inline bool mistemplate(const m *mp)
{
	mrt_fn fn = load_relaxed(&newmHandoff.fn);
	return fn != nil && load_relaxed(&mp->mstartfn) == fn;
}

/* Starts the template thread if there is none and the calling thread may be
 * cloned (mnoclone): 0, or newm's -errno. */
int templatestart(void);

/* mrt_allthreadssyscall's state that others touch (allthreads.c): Ms asked
 * and not yet done (a futex word the caller sleeps on), and whether a call
 * has changed the Ms (then threads that are not Ms hand creations off). */
enum { ATS_NONE, ATS_ASKED, ATS_RUNNING };
extern uint32_t allthreadspending;
extern uint32_t allthreadsran;
/* The signal handler's part, on the thread the signal reached. */
void allthreadsrun(void);

/* lockosthread.c: the locked g gp ended (gexit0, on g0): the M ends with it,
 * or, where it cannot end (m0, an attached thread), is tainted. */
void lockedgexit(m *mp, g *gp);

/*
 * mnoclone: must a new M not be cloned from mp's thread (the calling
 * thread's M, nil if it is not one)? clone(2) copies the thread's CPU
 * affinity, scheduling policy, credentials, namespaces, and its fs (cwd,
 * root, umask) once unshared. An M with a g locked to it, a tainted M and
 * an attached thread may have changed them; a thread that is not an M has
 * taken no part in an mrt_allthreadssyscall, once one has run. Their
 * creations are made by the template thread (template.c).
 */
static inline bool mnoclone(const m *mp)
{
	if (mp == nil)
		return load_relaxed(&allthreadsran) != 0;
	return mp->lockedg != nil || mp->tainted || mp->attached;
}

/* One M asked by mrt_allthreadssyscall is done: the last wakes the caller.
 * Always inlined: the signal handler's copy is not instrumented (san.h). */
static inline __attribute__((always_inline)) void allthreadsdone1(void)
{
	if (__atomic_sub_fetch(&allthreadspending, 1, __ATOMIC_ACQ_REL) == 0)
		futexwakeup(&allthreadspending, 1);
}

/*
 * An M that ends (mexit, after it is EXITING) gives back a request it has
 * not begun: it may never run the handler (the pthread model blocks every
 * signal first). The caller stored the request before it read the status,
 * the M its status before this: one of the two sees the other (fences),
 * and the cas decides who gives it back.
 */
static inline void allthreadsleave(m *mp)
{
	uint32_t asked = ATS_ASKED;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_compare_exchange_n(&mp->allthreads, &asked, ATS_NONE, false,
	                                __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		allthreadsdone1();
}

/*
 * mlockedexit runs at the exit point (proc.c: mstart, mexitthread) before a
 * user g that ended the M's function reads dead. The g locked to the M is
 * unwired: it ended with the function (mp->exitg: unlocked, so that whoever
 * sees it dead may start it afresh), or it is left suspended, and with its
 * thread gone no M may ever run it (morphan). Returns whether the M must
 * end rather than park: a g was locked to it, or its thread is tainted —
 * the state it changed must not reach other work (Go 1.10).
 */
static inline bool mlockedexit(m *mp)
{
	bool park = mp->mexitreason == MEXIT_PARK;
	g *lg = mp->lockedg;
	if (lg != nil) {
		store_release(&lg->m, lg == mp->exitg ? nil : morphan);
		store_relaxed(&mp->lockedg, nil);
		mp->lockedext = 0;
		mp->lockedgogo = 0;
		if (park)
			mp->mexitwhy = MT_WHY_LOCKED;
		return true;
	}
	if (mp->tainted) {
		if (park)
			mp->mexitwhy = MT_WHY_TAINTED;
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------------------
 * Lock-free walks of allm
 * ------------------------------------------------------------------------- */

/*
 * walkbegin and walkend bracket every lock-free walk of allm (mrt_forallm,
 * mrt_signalm, mrt_dump): while any walk runs, reapfreem returns no m to
 * the pool, so a walker never reads a recycled m. Inline here, not in m.c:
 * mrt_dump is trace.c's, which m.c uses to trace, and core has no import
 * cycles (tests/layers.py). sched.nwalkers counts the walks in progress;
 * the thread's own count (mrt_tls.walking) lets mrt_join refuse a join from
 * inside a walk, which would wait for itself. Async-signal-safe: a handler
 * may walk, inside a walk of its own thread's (the thread's count nests).
 * The fence pairs with walkersactive's (m.c): either the reaper sees this
 * walker, or the walker starts after the reaper's unlinks and cannot reach
 * what it frees.
 */
static inline void walkbegin(void)
{
	mrt_tlsp_()->walking++;
	__atomic_fetch_add(&sched.nwalkers, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/*
 * The decrement releases (what the walk read may be freed from here on)
 * and, with the load of nwalkwait after it, is one side of walkwait's
 * Dekker pair (m.c): the last walker out wakes the joiners waiting. Not where
 * futexwakeup is an emulation on a mutex (OS_LOCK_SEMA): a walker may be a
 * signal handler; walkwait polls there instead.
 */
static inline void walkend(void)
{
	uint32_t n = __atomic_sub_fetch(&sched.nwalkers, 1, __ATOMIC_SEQ_CST);
	if (!OS_LOCK_SEMA && n == 0 && __atomic_load_n(&sched.nwalkwait, __ATOMIC_SEQ_CST) != 0)
		futexwakeup(&sched.nwalkers, INT32_MAX);
	mrt_tlsp_()->walking--;
}

/*
 * walkersactive says whether a lock-free allm walker may be running.
 * sched.lock held. The fence pairs with the one in walkbegin: either the
 * walker's count is visible here, or the walker starts after every unlink
 * made before this call and cannot reach those Ms. Acquire: a walker that
 * has finished (its release decrement) has finished reading too, before
 * the caller frees what it read.
 */
static inline bool walkersactive(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&sched.nwalkers, __ATOMIC_ACQUIRE) != 0;
}

/* ---------------------------------------------------------------------------
 * mindex.c: Ms by id in O(1). MIDX_ALLM holds exactly the Ms on allm (in
 * and out with them, in the same critical sections) and may be read
 * lock-free, inside walkbegin/walkend; MIDX_FREEM the Ms on sched.freem,
 * read and written under sched.lock only.
 * ------------------------------------------------------------------------- */

enum { MIDX_ALLM, MIDX_FREEM, NMIDX };
void mindexadd(int which, m *mp); /* sched.lock held */
void mindexdel(int which, m *mp); /* sched.lock held; mp must be in it */
/* M id in the index, or nil: sched.lock held, or (MIDX_ALLM) inside
 * walkbegin/walkend. Async-signal-safe, lock-free. */
m *mindexfind(int which, int64_t id);
/* sched.lock held, and walkersactive() has just said false: a table the
 * index replaced has no reader left and is given back. */
void mindexquiet(void);

/* ---------------------------------------------------------------------------
 * Test hooks: compiled only into the test build (MRT_TESTHOOKS). A fault
 * point makes the Nth call of a creation-path primitive fail.
 * ------------------------------------------------------------------------- */

enum faultpoint {
	FAULT_STACK_MMAP,    /* stack mapping */
	FAULT_STACK_GUARD,   /* guard page protection */
	FAULT_GSIGNAL,       /* gsignal allocation */
	FAULT_SIGALTSTACK,   /* installing the signal stack */
	FAULT_NEWOSPROC,     /* clone / pthread_create */
	FAULT_MPOOL,         /* m struct pool growth */
	NFAULT
};
/*
 * Stop points: where a test may hold a thread to open a race window. The
 * hook (one for all points) is called there with the point and its object,
 * and may block; none is inside a critical section of mrt's locks.
 */
enum testpoint {
	TP_GEXIT,     /* a user g's end (gentry; mtoexitpoint for mexit and
	                 stopm), on the g's stack just before the M leaves it
	                 for good: the g */
	TP_NEWOSPROC, /* newm1, before each try to start the thread: the m,
	                 already on allm */
	TP_MNEW,      /* allocm: an m fresh from the pool, on no list yet */
	TP_MPREINIT,  /* allocm: id taken, on allm, gsignal allocated, g0's
	                 stack not yet: the m */
	TP_MFAILED,   /* mfailed: a registered m off allm, its stacks not
	                 given back yet */
	TP_REAPED,    /* reapfreem: Ms taken off freem, not freed yet (the
	                 first of them) */
	TP_G0HALF,    /* g0's bounds half recorded, lo set and hi not yet
	                 (allocm; the pthread model's minit): the m, on allm */
	TP_MSTART,    /* a new M's thread at mstart, before minit: the m */
	TP_SIGNALM,   /* mrt_signalm has found the M live, not sent yet: the m */
	TP_SENDWAIT,  /* an exiting M waits for a send in flight (mexit): the m */
	TP_ALLTHREADS, /* mrt_allthreadssyscall: the call made on the calling
	                  thread, births held off, no M asked yet: nil */
	TP_MEXIT,     /* mexit: the M's signals taken down (unminit), still
	                 on allm: the m */
	TP_MPARKED,   /* mpark: the M is on the idle list, not yet asleep (the m) */
	TP_OSHANDLE,  /* pthread model: pthread_create has returned, the handle
	                 is not stored yet (newosproc, on the creator): the m */
	TP_SYSMONSLEEP, /* deepsleep: the monitor found no section, and has not
	                 announced its sleep yet (nil) */
	TP_MINDEX,    /* mindexfind, its table loaded, its chain not walked
	                 yet: the table. Also reached under sched.lock (joins,
	                 unlinks): a hook may hold only a lock-free reader
	                 (mrt_signalm) here */
	NTESTPOINT
};
#ifdef MRT_TESTHOOKS
int faultcheck(enum faultpoint fp); /* 0, or the -errno to fail with */
#define FAULT(fp) faultcheck(fp)
extern bool testnocache;               /* stack cache bypassed */
extern void (*testmexithook)(m *mp);   /* on the exiting M, after mputfreem */
extern bool testtlsoffon;              /* tlsinit takes testtlsoff as measured */
extern bool testnorseq;                /* mrt_cpu: the system call, always */
extern intptr_t testtlsoff;
/* For the tests: make the nth call from now of fp fail with err (nth 0
 * disarms), or calls nth .. nth+count-1; whether an armed failure has not
 * happened yet; calls of fp so far; bypass the stack cache; the exit hook. */
void mrt_test_fault(int fp, int nth, int err);
void mrt_test_faultn(int fp, int nth, int count, int err);
bool mrt_test_faultpending(int fp);
uint32_t mrt_test_faultcalls(int fp);
void mrt_test_nocache(bool on);
void mrt_test_mexithook(void (*fn)(m *mp));
/* tlsinit takes off as mrt_tls's offset from the thread pointer instead of
 * measuring it (on false, measures again): a layout no program here has. */
void mrt_test_tlsoff(bool on, intptr_t off);
/* mrt_cpu asks the system call (getcpu) every time, as where the OS keeps
 * no CPU word for the thread (QEMU user mode, old kernels); off: as found. */
void mrt_test_norseq(bool on);
extern void (*testpointhook)(int tp, void *arg);
/* The monitor polls without sleeping (osyield) while sections hold Ps, so
 * that a test's retakes come as fast as the threshold allows; spinning Ms
 * find themselves "loaded" at their first look at the clock, or spin until
 * work comes, whatever their deadline (spin.c). */
extern bool testsysmonbusy;
extern bool testspinloaded;
extern bool testspinforever;
void mrt_test_sysmonbusy(bool on);
void mrt_test_spinloaded(bool on);
void mrt_test_spinforever(bool on);
/* For the tests: index x of mindex.c (MIDX_ALLM, MIDX_FREEM) — its Ms, its
 * buckets, its table's generation, and whether a table it replaced still
 * waits for its readers. */
struct mindexstats {
	uint32_t n, buckets, gen;
	bool oldpending;
};
void mrt_test_mindex(int x, struct mindexstats *st);
/* The platform's, on Linux (os_linux.c): the vDSO's clock_gettime that
 * osinit found (nil: none, as under QEMU user mode); a stand-in for it
 * that nanotime calls instead (nil: the one found again); nanotime making
 * the system call, as where there is no vDSO. */
void *mrt_test_vdsoclock(void);
void mrt_test_setvdsoclock(void *fn);
void mrt_test_novdso(void);
#define TESTPOINT(tp, arg)                                                               \
	do {                                                                             \
		void (*hook_)(int, void *) = load_relaxed(&testpointhook);               \
		if (hook_ != nil)                                                        \
			hook_((tp), (arg));                                              \
	} while (0)
/* For the tests: the hook of every stop point (nil: none). */
void mrt_test_pointhook(void (*fn)(int tp, void *arg));
#else
#define FAULT(fp) 0
#define TESTPOINT(tp, arg) ((void)0)
#endif

#endif /* MRT_RUNTIME_H */
