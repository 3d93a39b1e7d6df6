/*
 * lock_sema.c — the runtime mutex and notes on per-thread semaphores, for
 * platforms without a futex (Go's lock_sema.go; Darwin). Same API and
 * contract as lock_futex.c, which the build picks where there is a futex.
 *
 * mutex.key: bit 0 (locked) says the lock is held; the rest is the head of
 *            the list of threads waiting for it, each a semawaiter linked
 *            through nextwait. unlock pops one waiter and wakes it, leaving
 *            the lock unlocked: the woken thread competes for it afresh.
 * note.key:  0 clear, the semawaiter of the one thread asleep on it, or
 *            `locked` once woken; exactly one notewakeup per noteclear.
 *
 * A thread's semaphore counts wakeups, so a wakeup that comes before its
 * sleep is not lost: each sleeper is woken exactly once per time it queued
 * itself, and a semaphore's count never drifts. ThreadSanitizer is told the
 * acquires and releases, as in lock_futex.c.
 */
#include "runtime.h"
#include "san.h"

enum {
	locked = 1,

	active_spin = 4,      /* rounds of busy-waiting before yielding */
	active_spin_cnt = 30, /* pause instructions per round */
	passive_spin = 1,     /* rounds of osyield before sleeping */
};


void lock(mutex *l)
{
	/* Speculative grab for the uncontended case. */
	uintptr_t v = 0;
	if (cas(&l->key, &v, locked))
		goto acquired;

	semawaiter *w = semaself();
	int spin = ncpu > 1 ? active_spin : 0;
	for (int i = 0;; i++) {
		v = load_relaxed(&l->key);
		if ((v & locked) == 0) {
			/* Unlocked: take it, keeping the waiters queued. */
			if (cas(&l->key, &v, v | locked))
				goto acquired;
			i = 0;
		}
		if (i < spin) {
			arch_procyield(active_spin_cnt);
		} else if (i < spin + passive_spin) {
			osyield();
		} else {
			/* Queue this thread on the lock, unless it came free
			 * meanwhile (then try to take it again). */
			bool queued = false;
			while (v & locked) {
				w->nextwait = (semawaiter *)(v & ~(uintptr_t)locked);
				if (cas(&l->key, &v, (uintptr_t)w | locked)) {
					queued = true;
					break;
				}
			}
			if (queued) {
				semasleep(w, -1); /* unlock dequeued and woke us */
				i = 0;
			}
		}
	}
acquired:
	san_acquire(l);
}

void unlock(mutex *l)
{
	san_release(l);
	/* Acquire: the waiter at the head wrote its nextwait before the
	 * exchange that queued it, and we are about to read it. */
	uintptr_t v = load_acquire(&l->key);
	for (;;) {
		if ((v & locked) == 0)
			throw("unlock of unlocked lock");
		if (v == locked) {
			if (cas(&l->key, &v, 0))
				return;
			continue;
		}
		/* Threads are waiting: dequeue one and wake it. Only the lock's
		 * holder pops, so the head cannot change under us except by a
		 * push, which the exchange notices. */
		semawaiter *w = (semawaiter *)(v & ~(uintptr_t)locked);
		if (cas(&l->key, &v, (uintptr_t)w->nextwait)) {
			semawakeup(w);
			return;
		}
	}
}

void noteclear(note *n)
{
	store_relaxed(&n->key, 0);
}

void notewakeup(note *n)
{
	/* The exchange is a release: whatever the waker wrote before (the
	 * work handed to a parked M) is visible to the sleeper after it
	 * sees the key change. */
	san_release(n);
	uintptr_t v = xchg(&n->key, locked);
	if (v == locked)
		throw("notewakeup - double wakeup");
	if (v != 0)
		semawakeup((semawaiter *)v); /* the one thread asleep on it */
}

/* Registers the calling thread as n's sleeper; false if n is already woken. */
static bool noteregister(note *n, semawaiter *w)
{
	uintptr_t v = 0;
	if (cas(&n->key, &v, (uintptr_t)w))
		return true;
	if (v != locked)
		throw("notesleep - waitm out of sync");
	return false;
}

void notesleep(note *n)
{
	semawaiter *w = semaself();
	if (noteregister(n, w))
		semasleep(w, -1);
	san_acquire(n);
}

bool notetsleep(note *n, int64_t ns)
{
	if (ns < 0) {
		notesleep(n);
		return true;
	}
	semawaiter *w = semaself();
	if (!noteregister(n, w)) {
		san_acquire(n);
		return true;
	}
	int64_t deadline = deadlineafter(nanotime(), ns);
	for (;;) {
		if (semasleep(w, ns)) {
			san_acquire(n); /* notewakeup unregistered us */
			return true;
		}
		ns = deadline - nanotime();
		if (ns <= 0)
			break;
	}
	/*
	 * Timed out, still registered. Unregister before returning, so that a
	 * notewakeup racing with us does not grant our semaphore a wakeup we
	 * no longer wait for; if it already has, take that wakeup now, or the
	 * semaphore's count would be off by one for good.
	 */
	for (;;) {
		uintptr_t v = load_acquire(&n->key);
		if (v == (uintptr_t)w) {
			if (cas(&n->key, &v, 0))
				return false;
		} else if (v == locked) {
			semasleep(w, -1);
			san_acquire(n);
			return true;
		} else {
			throw("notetsleep - waitm out of sync");
		}
	}
}
