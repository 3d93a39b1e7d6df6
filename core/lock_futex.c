/*
 * lock_futex.c — the runtime mutex and notes on a futex-like sleep/wake
 * (Go's lock_futex.go). Platforms without a futex provide futexsleep and
 * futexwakeup on top of what they have.
 *
 * mutex.key: 0 unlocked, 1 locked, 2 locked and a thread may be sleeping.
 * note.key:  0 clear, 1 woken; exactly one notewakeup per noteclear.
 *
 * ThreadSanitizer sees the atomics but not what they mean: each acquisition
 * and wakeup is annotated as the acquire or release it is (san.h).
 */
#include "runtime.h"
#include "san.h"

enum {
	mutex_unlocked = 0,
	mutex_locked = 1,
	mutex_sleeping = 2,

	active_spin = 4,      /* rounds of busy-waiting before yielding */
	active_spin_cnt = 30, /* pause instructions per round */
	passive_spin = 1,     /* rounds of osyield before sleeping */
};


void lock(mutex *l)
{
	/* Speculative grab for the uncontended case. */
	uint32_t v = xchg(&l->key, mutex_locked);
	if (v == mutex_unlocked)
		goto locked;

	/*
	 * wait is the state to leave the lock in once we own it: if we ever
	 * saw "sleeping", some thread may still be asleep on it, so we must
	 * keep it "sleeping" and have our unlock wake one.
	 */
	uint32_t wait = v;
	int spin = ncpu > 1 ? active_spin : 0;
	for (;;) {
		for (int i = 0; i < spin; i++) {
			while (load_relaxed(&l->key) == mutex_unlocked) {
				uint32_t old = mutex_unlocked;
				if (cas(&l->key, &old, wait))
					goto locked;
			}
			arch_procyield(active_spin_cnt);
		}
		for (int i = 0; i < passive_spin; i++) {
			while (load_relaxed(&l->key) == mutex_unlocked) {
				uint32_t old = mutex_unlocked;
				if (cas(&l->key, &old, wait))
					goto locked;
			}
			osyield();
		}
		/* Sleep: announce it with "sleeping" first, so unlock wakes us. */
		v = xchg(&l->key, mutex_sleeping);
		if (v == mutex_unlocked)
			goto locked;
		wait = mutex_sleeping;
		futexsleep(&l->key, mutex_sleeping, -1);
	}
locked:
	san_acquire(l);
}

void unlock(mutex *l)
{
	san_release(l);
	uint32_t v = xchg(&l->key, mutex_unlocked);
	if (v == mutex_unlocked)
		throw("unlock of unlocked lock");
	if (v == mutex_sleeping)
		futexwakeup(&l->key, 1);
}

void noteclear(note *n)
{
	store_relaxed(&n->key, 0);
}

void notewakeup(note *n)
{
	/* The exchange is a release: whatever the waker wrote before (the
	 * work handed to a parked M) is visible to the sleeper after it
	 * sees key != 0. */
	san_release(n);
	uint32_t old = xchg(&n->key, 1);
	if (old != 0)
		fatal("notewakeup - double wakeup (%u)", old);
	futexwakeup(&n->key, 1);
}

void notesleep(note *n)
{
	while (load_acquire(&n->key) == 0)
		futexsleep(&n->key, 0, -1);
	san_acquire(n);
}

bool notetsleep(note *n, int64_t ns)
{
	if (ns < 0) {
		notesleep(n);
		return true;
	}
	int64_t deadline = deadlineafter(nanotime(), ns);
	for (;;) {
		if (load_acquire(&n->key) != 0)
			break;
		futexsleep(&n->key, 0, ns);
		if (load_acquire(&n->key) != 0)
			break;
		int64_t now = nanotime();
		if (now >= deadline)
			return false;
		ns = deadline - now;
	}
	san_acquire(n);
	return true;
}
