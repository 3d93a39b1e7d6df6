/*
 * stack.c — stacks for g0, gsignal and user gs.
 *
 * Each stack is one mapping: a PROT_NONE guard page, then the usable bytes.
 * C code does not check its stack the way Go's prologues do, so the guard
 * page is what turns an overflow into a clean SIGSEGV instead of silent
 * corruption of whatever lies below.
 *
 * Freed stacks go to a bounded cache, grouped by size, so that a steady churn
 * of Ms and gs makes no mmap, mprotect or munmap calls at all. The cache links
 * stacks through their own lowest word; it needs no memory of its own.
 */
#include "runtime.h"
#include "san.h"

enum { nbuckets = 8 };

static struct {
	mutex lock;
	struct bucket {
		size_t size;   /* usable bytes; 0 = bucket unused */
		uintptr_t head; /* lo of the first cached stack; its first word links on */
		uint32_t n;
	} b[nbuckets];
	uint32_t count; /* stacks in the cache */
	size_t bytes;
} cache;

uintptr_t pagesize = 4096; /* set by osinit */

/* Stack mappings that exist (in use or cached): what a leak of a stack shows
 * up in. Changed only next to an mmap or munmap, never in steady state. */
static int64_t nmapped;

/* Takes a cached stack of exactly n usable bytes. */
static bool cacheget(stack *s, size_t n)
{
	bool ok = false;
#ifdef MRT_TESTHOOKS
	if (load_relaxed(&testnocache))
		return false;
#endif
	lock(&cache.lock);
	for (int i = 0; i < nbuckets; i++) {
		struct bucket *b = &cache.b[i];
		if (b->size == n && b->head != 0) {
			s->lo = b->head;
			s->hi = b->head + n;
			b->head = *(uintptr_t *)b->head;
			b->n--;
			cache.count--;
			cache.bytes -= n;
			ok = true;
			break;
		}
	}
	unlock(&cache.lock);
	return ok;
}

/* Puts a stack in the cache; false if the cache is full. On success *s is
 * cleared in the same critical section: a fork child (fork.c gives back the
 * stacks of ms that other threads held) finds the stack in the cache or in
 * its g, never in both. */
static bool cacheput(stack *s)
{
	size_t n = s->hi - s->lo;
	bool ok = false;
#ifdef MRT_TESTHOOKS
	if (load_relaxed(&testnocache))
		return false;
#endif
	lock(&cache.lock);
	if (cache.count < cfg.stackcache) {
		struct bucket *b = nil, *empty = nil;
		for (int i = 0; i < nbuckets; i++) {
			if (cache.b[i].size == n) {
				b = &cache.b[i];
				break;
			}
			if (empty == nil && cache.b[i].n == 0)
				empty = &cache.b[i];
		}
		if (b == nil && empty != nil) {
			b = empty;
			b->size = n;
		}
		if (b != nil) {
			*(uintptr_t *)s->lo = b->head;
			b->head = s->lo;
			b->n++;
			cache.count++;
			cache.bytes += n;
			s->lo = s->hi = 0;
			ok = true;
		}
	}
	unlock(&cache.lock);
	return ok;
}

/*
 * stackalloc gives s a stack of at least n bytes (rounded up to pages), from
 * the cache if it can, and records in s->from where it came from. Returns 0
 * or -ENOMEM. Callers that must undo an allocation exactly (a failed M
 * creation) hand the stack back with stackundo.
 */
int stackalloc(stack *s, size_t n)
{
	n = round_up(n, pagesize);
	s->vgid = 0; /* registered by the g it is for, if at all (san.h) */
	if (cacheget(s, n)) {
		s->from = STACK_CACHED;
		return 0;
	}
	int err = FAULT(FAULT_STACK_MMAP);
	uint8_t *base = err ? nil : sysalloc(n + pagesize);
	if (base == nil) {
		seterrmsg("mrt: cannot map a %zu-byte stack (errno=%d)", n + pagesize, ENOMEM);
		return -ENOMEM;
	}
	err = FAULT(FAULT_STACK_GUARD);
	if (err == 0)
		err = sysguard(base, pagesize);
	if (err < 0) {
		/* mprotect splits the mapping in two: ENOMEM at the process's
		 * mapping limit (vm.max_map_count). */
		sysfree(base, n + pagesize);
		seterrmsg("mrt: cannot protect a stack's guard page (errno=%d)", -err);
		return -ENOMEM;
	}
	/* Counted, then recorded, lo last (a stack is recorded once lo is
	 * set): a fork child must never find a stack it cannot free whole. */
	__atomic_fetch_add(&nmapped, 1, __ATOMIC_RELAXED);
	s->from = STACK_MAPPED;
	s->hi = (uintptr_t)base + pagesize + n;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s->lo = (uintptr_t)base + pagesize;
	return 0;
}

/* Unmaps a stack and its guard page, and clears *s first: a fork child that
 * found the record of a stack already unmapped would hand it out again. */
static void stackrelease(stack *s)
{
	uintptr_t lo = s->lo, hi = s->hi;
	s->lo = s->hi = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	sysfree((void *)(lo - pagesize), hi - lo + pagesize);
	__atomic_fetch_sub(&nmapped, 1, __ATOMIC_RELAXED);
}

void stackfree(stack *s)
{
	if (s->lo == 0)
		return;
	san_stackderegister(s->vgid);
	s->vgid = 0;
	/* Frames abandoned on it (a g freed while suspended) leave ASan's
	 * redzones poisoned; the cache's link write into its lowest word and
	 * its next owner must not trip over them. */
	san_unpoison(s->lo, s->hi);
	if (!cacheput(s))
		stackrelease(s);
}

/* Returns a stack where stackalloc found it (s->from): the cache, or the
 * OS. */
void stackundo(stack *s)
{
	if (s->lo == 0)
		return;
	if (s->from == STACK_CACHED) {
		stackfree(s);
	} else {
		san_stackderegister(s->vgid);
		s->vgid = 0;
		stackrelease(s);
	}
}

void stackcache_stats(uint32_t *count, size_t *bytes)
{
	lock(&cache.lock);
	*count = cache.count;
	*bytes = cache.bytes;
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
}

void stackcache_forkunlock(void)
{
	unlock(&cache.lock);
}

void stackcache_forkreset(void)
{
	cache.lock.key = 0;
}
