/*
 * gr.h — goroutines on mrt: a small M:N scheduler built only on mrt's public
 * API, shaped like Go's (runtime/proc.go): Ps with local run queues and work
 * stealing, a global run queue, gs with their own stacks, and Ms that park
 * when there is nothing to do and are woken when there is.
 *
 * Everything here runs on mrt Ms, so in the clone model it uses no libc:
 * only mrt's API, memory and compiler builtins. The one exception is
 * gr_init and gr_main, which run on the program's main thread.
 */
#ifndef GR_H
#define GR_H

#include <stddef.h>
#include <stdint.h>

typedef struct G G;

struct gr_config {
	int32_t nprocs;    /* Ps (GOMAXPROCS); default 4 */
	int32_t maxg;      /* gs that may be live at once (started, not returned);
	                      gr_go waits for one to die beyond that; default 4096 */
	size_t stacksize;  /* of each g; default 16 KiB (mrt's minimum) */
};

/* Sets the scheduler up; mrt_init must have run, with gr_handoff as its
 * hand-off function if gs are to make blocking calls (gr_syscall). Main
 * thread, once. Returns 0 or a negative errno. */
int gr_init(const struct gr_config *cfg);

/* The scheduler's hand-off (Go's handoffp), for mrt_config.handoff: mrt's
 * monitor M gives it the P of an M blocked in gr_syscall, and it starts an
 * M for the P when there is work for it, or puts it on the idle list. */
int gr_handoff(void *p, int err);

/* Runs fn(arg) as the first g and waits until it returns (the other gs
 * need not have finished: as in Go, the program is done when main is).
 * Main thread; it sleeps in sigwait for SIGUSR1, which the last step of
 * fn's g sends it with mrt_signalm. Returns 0 or a negative errno. */
int gr_main(void (*fn)(void *), void *arg);

/* From a g: */
void gr_go(void (*fn)(void *), void *arg); /* start a new g (Go's `go`) */
void gr_yield(void);                       /* let others run (Gosched) */
/* Park the calling g (gopark): unlockf(arg), if not NULL, runs once the g
 * is fully suspended, so it can release the lock that protects the queue
 * the g put itself on. Returns when someone calls gr_ready on it. */
void gr_park(void (*unlockf)(void *), void *arg);
void gr_ready(G *gp);                      /* make a parked g runnable (goready) */
/* Run fn(arg), a call that may block in the kernel (read(2) of a pipe, a
 * wait), in a blocking section (Go's syscall.Syscall: entersyscall and
 * exitsyscall): while it blocks, mrt's monitor hands this g's P to another
 * M, so the other gs go on running; when it returns, the g goes on with
 * its P if nobody took it, else with an idle P, else it waits in the
 * global queue for one and its M parks. Returns fn's result. */
long gr_syscall(long (*fn)(void *), void *arg);
G *gr_self(void);                          /* the calling g (NULL on g0) */
int64_t gr_id(const G *gp);

/* A spin lock for the scheduler's own short critical sections. */
typedef struct { uint32_t v; } gr_spin;
void gr_lock(gr_spin *l);
void gr_unlock(gr_spin *l);
void gr_unlock_fn(void *l); /* gr_unlock, as a gr_park unlockf */

/* A mutex that parks the gs that wait for it; FIFO hand-off. Zero is unlocked. */
typedef struct {
	gr_spin lk;
	uint32_t locked;
	G *head, *tail;
} gr_mutex;
void gr_mutex_lock(gr_mutex *m);
void gr_mutex_unlock(gr_mutex *m);

/* sync.WaitGroup: one or more gs wait until the count drops to zero. */
typedef struct {
	gr_spin lk;
	int64_t n;
	G *waiters;
} gr_waitgroup;
void gr_wg_add(gr_waitgroup *wg, int64_t delta);
void gr_wg_done(gr_waitgroup *wg);
void gr_wg_wait(gr_waitgroup *wg);

/* What happened, summed over all Ps (read after gr_main returns). */
struct gr_stats {
	uint64_t spawned;   /* gr_go calls */
	uint64_t reused;    /* ... that reused a dead g */
	uint64_t yields, parks, steals, globalq; /* gs taken from the global queue */
	uint64_t startm;    /* Ms woken or created by wakep (mrt_startm) */
	uint64_t stopm;     /* Ms parked for lack of work (mrt_stopm) */
	uint64_t gwaits;    /* gr_go waits for a live g to die (maxg reached) */
	uint64_t syscalls;  /* gr_syscall calls */
	uint64_t lost;      /* ... whose P was taken meanwhile (handed off) */
	uint64_t requeued;  /* ... that found no idle P and waited in the global queue */
	uint64_t handoffs;  /* Ps given to gr_handoff; of which started an M: */
	uint64_t handoffms;
	int32_t gs;         /* gs ever made (stacks allocated) */
};
void gr_getstats(struct gr_stats *st);

#endif
