/*
 * stack.c — stacks for gsignal, user gs and (pthread model aside) nothing
 * else: the clone model's g0 stacks are the m pool's slots (slab.c). And
 * the cache of freed stacks.
 *
 * Each stack is a slot of a slab (slab.c): a guard page, then the usable
 * bytes. C code does not check its stack the way Go's prologues do, so the
 * guard page is what turns an overflow into a clean SIGSEGV instead of
 * silent corruption of whatever lies below. A stack that leaves the cache
 * for good goes back to its slab, its pages released; a slab with no stack
 * left in it is unmapped. The slabs of each size are a class; with the
 * cache bypassed (the tests' testnocache), every stack is a slab of its own
 * and is unmapped when it is freed, so that a stack freed too early faults.
 *
 * The cache. Freed stacks are kept for reuse, so that a steady churn of Ms
 * and gs makes no system call at all for stacks (a slot given back to its
 * slab costs an madvise, one taken again nothing). It needs no memory
 * of its own: a cached stack's lowest words (struct cachedstack) link it to
 * the next stack of its size, and the first stack of each size (a class)
 * to the first of the next. Any number of sizes can be cached; finding one
 * walks the sizes cached, not the stacks.
 *
 * Bounds (mrt.h, at mrt_config.stack_cache). At most cfg.stackcache stacks,
 * and at most maxbytes(): as many bytes as stackcache / 2 Ms' g0 and
 * gsignal stacks. For Ms the count is what binds, as it always was; the
 * bytes bound what large g stacks can pin. A freed stack that does not fit
 * goes back to its slab. The bounds are derived from existing settings rather than
 * set by a field of their own: mrt_config would grow (an ABI change), and
 * one setting scales the cache as a whole; mrt_trim empties it on demand.
 *
 * Warm and cold. Of the cached bytes, at most warmmax() — a quarter of the
 * bound — keep their pages (warm). The pages of the others are given back
 * to the kernel (sysunused: MADV_DONTNEED on Linux, as Go's scavenger
 * returns the spans of free stacks), all but the lowest page, which holds
 * the links: a released page reads back as zeros and the list would be
 * lost. Each class keeps its warm stacks first and its cold ones after, so
 * a stack is handed out warm whenever one of its size is. When a stack
 * comes in and the warm set is full, warm stacks of other sizes are demoted
 * (released, and moved behind the cold ones of their class) to make room:
 * the warm set follows what churns now, so a steady churn releases
 * nothing, whatever its sizes. A stack larger than the whole warm set goes
 * in cold.
 */
#include "runtime.h"
#include "san.h"
#include "slab.h"

/* At lo of every cached stack. */
struct cachedstack {
	struct cachedstack *next;      /* the next stack of this size: warm first */
	/* Meaningful in the first stack of a class only: */
	struct cachedstack *nextclass; /* the first stack of the next class */
	struct cachedstack *last;      /* the class's last stack: cold ones go there */
	size_t size;                   /* usable bytes */
	bool warm;                     /* its pages are resident */
	slab *slab;                    /* the slab its slot is in */
};

static struct {
	mutex lock;
	struct cachedstack *classes; /* the first stack of each size cached */
	uint32_t count;              /* stacks in the cache */
	size_t bytes;                /* their usable bytes */
	size_t warmbytes;            /* of which warm */
	uint64_t released;           /* stacks whose pages were given back, ever */
} cache;

/* Stacks carved from slabs and not given back (in use or cached): what a
 * leak of a stack shows up in. Changed only where a stack leaves or joins
 * its slab, never in steady state. */
static int64_t nmapped;

/* The slab classes of stacks, one per slot size (cache.lock). */
static slabclass *stackclasses;

/* The byte bound: stackcache / 2 Ms' g0 (with its TLS block) and gsignal
 * stacks; saturated rather than wrapped for a huge stackcache. */
static size_t maxbytes(void)
{
	size_t perm = round_up(cfg.g0stack + cfg.tls_size, pagesize) + cfg.gsignalstack, b;
	if (__builtin_mul_overflow((size_t)cfg.stackcache, perm, &b))
		return SIZE_MAX;
	return b / 2;
}

static size_t warmmax(void)
{
	return maxbytes() / 4;
}

/* The link to the first stack of n-byte class, or to the nil that ends the
 * class list if there is none. cache.lock held. */
static struct cachedstack **findclass(size_t n)
{
	struct cachedstack **pp = &cache.classes;
	while (*pp != nil && (*pp)->size != n)
		pp = &(*pp)->nextclass;
	return pp;
}

/* Takes the first stack of the class *pp; the next one, if any, becomes
 * the class's first and inherits its links. cache.lock held. */
static struct cachedstack *pophead(struct cachedstack **pp)
{
	struct cachedstack *c = *pp, *nc = c->next;
	if (nc != nil) {
		nc->nextclass = c->nextclass;
		nc->last = c->last;
		*pp = nc;
	} else {
		*pp = c->nextclass;
	}
	return c;
}

/* Makes c a class of its own at *pp, the end of the class list. */
static void newclass(struct cachedstack **pp, struct cachedstack *c)
{
	c->next = nil;
	c->nextclass = nil;
	c->last = c;
	*pp = c;
}

/* Puts c first in its class (pp from findclass): warm ones go first. */
static void pushwarm(struct cachedstack **pp, struct cachedstack *c)
{
	struct cachedstack *h = *pp;
	c->warm = true;
	cache.warmbytes += c->size;
	if (h == nil) {
		newclass(pp, c);
		return;
	}
	c->next = h;
	c->nextclass = h->nextclass;
	c->last = h->last;
	*pp = c;
}

/* Puts c last in its class (pp from findclass): cold ones go last. */
static void appendcold(struct cachedstack **pp, struct cachedstack *c)
{
	struct cachedstack *h = *pp;
	c->warm = false;
	if (h == nil) {
		newclass(pp, c);
		return;
	}
	c->next = nil;
	h->last->next = c;
	h->last = c;
}

/* Gives c's pages but its first back to the kernel. c is in no list, and
 * cache.lock is held: the release is done under the lock so that every
 * stack the cache counts is on a list at every moment the lock is free —
 * the moment a fork child (fork.c holds the lock across fork) inherits. */
static void release(struct cachedstack *c)
{
	if (c->size > pagesize)
		sysunused((uint8_t *)c + pagesize, c->size - pagesize);
	cache.released++;
}

/* Makes room in the warm set by demoting the first warm stack of a class
 * of another size than n. False if there is none. cache.lock held. */
static bool demote(size_t n)
{
	for (struct cachedstack **pp = &cache.classes; *pp != nil; pp = &(*pp)->nextclass) {
		if ((*pp)->warm && (*pp)->size != n) {
			struct cachedstack *v = pophead(pp);
			cache.warmbytes -= v->size;
			release(v);
			appendcold(findclass(v->size), v);
			return true;
		}
	}
	return false;
}

/* Takes a cached stack of exactly n usable bytes. */
static bool cacheget(stack *s, size_t n)
{
#ifdef MRT_TESTHOOKS
	if (load_relaxed(&testnocache))
		return false;
#endif
	lock(&cache.lock);
	struct cachedstack **pp = findclass(n);
	if (*pp == nil) {
		unlock(&cache.lock);
		return false;
	}
	struct cachedstack *c = pophead(pp);
	bool warm = c->warm;
	cache.count--;
	cache.bytes -= n;
	if (warm)
		cache.warmbytes -= n;
	/* Recorded in the same critical section, lo last (see stackalloc): a
	 * fork child finds the stack in the cache or in s, never in neither. */
	s->from = STACK_CACHED;
	s->slab = c->slab;
	s->hi = (uintptr_t)c + n;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->lo = (uintptr_t)c;
	unlock(&cache.lock);
	/* The stack is the caller's now: no lock needed to tell the kernel it
	 * is in use again (Darwin's accounting; nothing on Linux). */
	if (!warm && n > pagesize)
		sysused((uint8_t *)c + pagesize, n - pagesize);
	return true;
}

/* Puts a stack in the cache; false if it does not fit. On success *s is
 * cleared in the same critical section: a fork child (fork.c gives back the
 * stacks of ms that other threads held) finds the stack in the cache or in
 * its g, never in both. cache.lock held. */
static bool cacheput(stack *s)
{
	size_t n = s->hi - s->lo;
#ifdef MRT_TESTHOOKS
	if (load_relaxed(&testnocache))
		return false;
#endif
	if (cache.count >= cfg.stackcache || n > maxbytes() - cache.bytes)
		return false;
	struct cachedstack *c = (struct cachedstack *)s->lo;
	c->size = n;
	c->slab = s->slab;
	size_t wmax = warmmax();
	if (n <= wmax)
		while (cache.warmbytes + n > wmax && demote(n)) {
		}
	/* After demote: it may have moved class heads. */
	struct cachedstack **pp = findclass(n);
	if (cache.warmbytes + n <= wmax) {
		pushwarm(pp, c);
	} else {
		release(c);
		appendcold(pp, c);
	}
	cache.count++;
	cache.bytes += n;
	s->lo = s->hi = 0;
	return true;
}

/* The class of n-byte stacks: slabs of many, or (testnocache) of one.
 * cache.lock held. */
static slabclass *stackclass(size_t n)
{
	size_t stride = n + pagesize;
	uint32_t nslots = slabslots(stride);
#ifdef MRT_TESTHOOKS
	if (load_relaxed(&testnocache))
		nslots = 1;
#endif
	return slabclassget(&stackclasses, stride, nslots);
}

/*
 * stackalloc gives s a stack of at least n bytes (rounded up to pages), from
 * the cache if it can, else from a slab, and records in s->from where it
 * came from: the cache, a slot its slab had back (no system call), or one
 * carved now (its guard made, perhaps its slab mapped). Returns 0 or
 * -ENOMEM. Callers that must undo an allocation exactly (a failed M
 * creation) hand the stack back with stackundo.
 */
int stackalloc(stack *s, size_t n)
{
	n = round_up(n, pagesize);
	s->vgid = 0; /* registered by the g it is for, if at all (san.h) */
	if (cacheget(s, n))
		return 0;
	lock(&cache.lock);
	slabclass *c = stackclass(n);
	slab *sl;
	uintptr_t slot;
	bool carved;
	int err = c != nil ? slotalloc(c, &sl, &slot, &carved) : -ENOMEM;
	if (err != 0) {
		if (c != nil)
			slabclassdrop(&stackclasses, c);
		else
			seterrmsg("mrt: cannot map a %zu-byte stack (errno=%d)", n, ENOMEM);
		unlock(&cache.lock);
		return -ENOMEM;
	}
	/* Counted, then recorded, lo last (a stack is recorded once lo is
	 * set), in the critical section a fork cannot cut: a fork child finds
	 * the stack in its slab or in s, whole. */
	__atomic_fetch_add(&nmapped, 1, __ATOMIC_RELAXED);
	s->from = carved ? STACK_MAPPED : STACK_SLAB;
	s->slab = sl;
	s->hi = slot + pagesize + n;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->lo = slot + pagesize;
	unlock(&cache.lock);
	return 0;
}

/* Gives a stack back to its slab — with undo, as stackalloc carved it —
 * and clears *s first: a fork child that found the record of a stack
 * already given back would hand it out again. cache.lock held. */
static void slotback(stack *s, bool undo)
{
	uintptr_t lo = s->lo;
	slab *sl = s->slab;
	slabclass *c = sl->cls;
	s->lo = s->hi = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	slotfree(sl, lo - pagesize, undo); /* may unmap sl */
	slabclassdrop(&stackclasses, c);
	__atomic_fetch_sub(&nmapped, 1, __ATOMIC_RELAXED);
}

void stackfree(stack *s)
{
	if (s->lo == 0)
		return;
	san_stackderegister(s->vgid);
	s->vgid = 0;
	/* Frames abandoned on it (a g freed while suspended) leave ASan's
	 * redzones poisoned; the cache's link writes into its lowest words and
	 * its next owner must not trip over them. */
	san_unpoison(s->lo, s->hi);
	lock(&cache.lock);
	if (!cacheput(s))
		slotback(s, false);
	unlock(&cache.lock);
}

/* Returns a stack where stackalloc found it (s->from): the cache, its slab,
 * or uncarved. */
void stackundo(stack *s)
{
	if (s->lo == 0)
		return;
	if (s->from == STACK_CACHED) {
		stackfree(s);
		return;
	}
	san_stackderegister(s->vgid);
	s->vgid = 0;
	san_unpoison(s->lo, s->hi);
	lock(&cache.lock);
	slotback(s, s->from == STACK_MAPPED);
	unlock(&cache.lock);
}

/*
 * stackcache_trim (mrt_trim, m.c) gives every cached stack back to its slab
 * (its pages released; a slab left empty is unmapped) and returns their
 * usable bytes. It runs under cache.lock, for the reason release does (a
 * fork child must find the cache's counts true); trimming is rare, and
 * stack allocations on other threads wait for it meanwhile.
 */
int64_t stackcache_trim(void)
{
	lock(&cache.lock);
	int64_t freed = (int64_t)cache.bytes;
	struct cachedstack *cl = cache.classes;
	while (cl != nil) {
		struct cachedstack *c = cl;
		cl = cl->nextclass; /* read before c's memory goes */
		while (c != nil) {
			/* Read before c's page goes back. */
			stack st = { .lo = (uintptr_t)c, .hi = (uintptr_t)c + c->size,
				     .slab = c->slab };
			c = c->next;
			slotback(&st, false);
		}
	}
	cache.classes = nil;
	cache.count = 0;
	cache.bytes = 0;
	cache.warmbytes = 0;
	unlock(&cache.lock);
	return freed;
}

void stackcache_stats(uint32_t *count, size_t *bytes)
{
	lock(&cache.lock);
	*count = cache.count;
	*bytes = cache.bytes;
	unlock(&cache.lock);
}

void stackcache_read(struct stackcachestats *st)
{
	lock(&cache.lock);
	st->count = cache.count;
	st->bytes = cache.bytes;
	st->warmbytes = cache.warmbytes;
	st->released = cache.released;
	st->maxbytes = maxbytes();
	st->warmmax = warmmax();
	int n = 0;
	for (struct cachedstack *c = cache.classes; c != nil; c = c->nextclass)
		n++;
	st->classes = n;
	unlock(&cache.lock);
}

int64_t stacks_mapped(void)
{
	return __atomic_load_n(&nmapped, __ATOMIC_RELAXED);
}

/* Around fork (fork.c): the cache lock is held across it, then released in
 * the parent and reset in the child, whose only thread held it. */
void stackcache_forklock(void)
{
	lock(&cache.lock);
	slabforklock();
}

void stackcache_forkunlock(void)
{
	slabforkunlock();
	unlock(&cache.lock);
}

void stackcache_forkreset(void)
{
	cache.lock.key = 0;
	slabforkreset();
}
