/*
 * mindex.c — Ms by id in O(1): what mrt_join, mrt_signalm and every other
 * lookup by id use, instead of a walk of allm (#15 item 4: a join walked
 * all of allm, and then freem, 64 µs a join with 10,000 live Ms).
 *
 * An index is a table of buckets, id & mask, each a chain of the Ms whose
 * ids fall there, linked through fields of the m (m->idxlink). Ids are
 * handed out in order, so live ids spread over the buckets and a chain is
 * about as long as the load factor: the table grows fourfold when its Ms
 * outnumber twice its buckets.
 *
 * There are two. MIDX_ALLM holds exactly the Ms on allm: an M enters it in
 * the critical section that pushes it on allm and leaves it in the one that
 * unlinks it, so a lock-free reader of it may rely on what a lock-free
 * walker of allm relies on (walkbegin/walkend, runtime.h):
 *  - an M leaves a chain by one store into its predecessor (or the bucket);
 *    its own link stays, so a reader standing on it goes on into the rest
 *    of the chain;
 *  - while any reader runs no m goes back to the pool (reapfreem), and m
 *    structs are never unmapped (fixalloc): a reader never touches unmapped
 *    memory or a recycled m, and it checks the id of each m it meets;
 *  - an M is pushed at its chain's head, its link set before the release
 *    store that publishes it: a reader that finds it finds the rest of the
 *    chain. One pushed after the reader passed the head was born during the
 *    lookup and may be missed; an M in the index for the whole lookup is
 *    found.
 * MIDX_FREEM holds the Ms on sched.freem (exited, not yet reaped), for
 * mrt_join, and is used under sched.lock only.
 *
 * Growing under lock-free readers. A table that grows is replaced, not
 * rehashed in place: the new one is built with its chains through the other
 * link of each m (idxlink[x][gen & 1]: the generation alternates), then
 * published with a release store. A reader that loaded the old table keeps
 * following the old links, which no writer touches any more, and finds every
 * M that was there when it started. The old table and its links are given
 * back only once no reader can be on them: when a look at the walker count,
 * made after the publication, has seen no walker (the pairing of
 * walkbegin's fence with walkersactive's: either the look sees the reader,
 * or the reader loads the new table). Until then the index does not grow
 * again, since that would rewrite the old links: it only gets fuller for a
 * while. MIDX_FREEM has no such readers; its old table goes at once.
 *
 * The first tables are static, 64 buckets each: a program with few Ms maps
 * nothing for them. Tables never shrink (128 KiB for 16,384 buckets). One
 * that cannot be mapped is not grown: lookups get longer, nothing fails.
 * A growth maps (and may unmap) under sched.lock, which mcommoninit
 * otherwise avoids; it happens a handful of times in a process's life.
 */
#include "runtime.h"

typedef struct midxtab {
	uintptr_t mask; /* buckets - 1 */
	uint32_t gen;   /* its chains run through m->idxlink[x][gen & 1] */
	size_t mapped;  /* bytes sysalloc gave it; 0 for the static first one */
	m **b;          /* the buckets */
} midxtab;

enum { midx0 = 64 };
static m *b0[NMIDX][midx0];
static midxtab tab0[NMIDX] = {
	{ midx0 - 1, 0, 0, b0[MIDX_ALLM] },
	{ midx0 - 1, 0, 0, b0[MIDX_FREEM] },
};

static struct {
	midxtab *tab; /* the current table: readers load it with acquire */
	midxtab *old; /* the one it replaced, while readers may be on it */
	uint32_t n;   /* Ms in the index */
} idx[NMIDX] = {
	{ &tab0[MIDX_ALLM], nil, 0 },
	{ &tab0[MIDX_FREEM], nil, 0 },
};

m *mindexfind(int x, int64_t id)
{
	midxtab *t = load_acquire(&idx[x].tab);
	TESTPOINT(TP_MINDEX, t);
	unsigned l = t->gen & 1;
	for (m *mp = load_acquire(&t->b[(uintptr_t)id & t->mask]); mp != nil;
	     mp = load_acquire(&mp->idxlink[x][l]))
		if (load_relaxed(&mp->id) == id)
			return mp;
	return nil;
}

/* Gives back x's old table: no reader is on it. sched.lock held. */
static void retire(int x)
{
	midxtab *t = idx[x].old;
	idx[x].old = nil;
	if (t->mapped != 0)
		sysfree(t, t->mapped);
}

void mindexquiet(void)
{
	if (idx[MIDX_ALLM].old != nil)
		retire(MIDX_ALLM);
}

/* A table four times as large, the same Ms in it, replaces x's. sched.lock
 * held. */
static void grow(int x)
{
	if (idx[x].old != nil) {
		if (x == MIDX_ALLM && walkersactive())
			return; /* readers may be on the old links: later */
		retire(x);
	}
	midxtab *t = idx[x].tab;
	uintptr_t nb = (t->mask + 1) * 4;
	size_t bytes = sizeof(midxtab) + nb * sizeof(m *);
	midxtab *n = sysalloc(bytes); /* zeroed: every bucket empty */
	if (n == nil)
		return;
	n->mask = nb - 1;
	n->gen = t->gen + 1;
	n->mapped = bytes;
	n->b = (m **)(n + 1);
	unsigned ol = t->gen & 1, nl = n->gen & 1;
	for (uintptr_t i = 0; i <= t->mask; i++) {
		for (m *mp = t->b[i]; mp != nil; mp = mp->idxlink[x][ol]) {
			m **b = &n->b[(uintptr_t)mp->id & n->mask];
			mp->idxlink[x][nl] = *b;
			*b = mp;
		}
	}
	/* Built whole before a reader can see it. */
	store_release(&idx[x].tab, n);
	idx[x].old = t;
	if (x != MIDX_ALLM || !walkersactive())
		retire(x);
}

void mindexadd(int x, m *mp)
{
	midxtab *t = idx[x].tab;
	m **b = &t->b[(uintptr_t)mp->id & t->mask];
	mp->idxlink[x][t->gen & 1] = *b;
	store_release(b, mp); /* its link first: see "an M is pushed" above */
	if (++idx[x].n > 2 * (t->mask + 1))
		grow(x);
}

void mindexdel(int x, m *mp)
{
	midxtab *t = idx[x].tab;
	unsigned l = t->gen & 1;
	m **pp = &t->b[(uintptr_t)mp->id & t->mask];
	while (*pp != mp) {
		if (*pp == nil)
			fatal("mindex: M%lld is not in index %d", (long long)mp->id, x);
		pp = &(*pp)->idxlink[x][l];
	}
	/* mp's own link stays: a reader standing on mp goes on from it. */
	store_release(pp, mp->idxlink[x][l]);
	idx[x].n--;
}

#ifdef MRT_TESTHOOKS
void mrt_test_mindex(int x, struct mindexstats *st)
{
	lock(&sched.lock);
	st->n = idx[x].n;
	st->buckets = (uint32_t)(idx[x].tab->mask + 1);
	st->gen = idx[x].tab->gen;
	st->oldpending = idx[x].old != nil;
	unlock(&sched.lock);
}
#endif
