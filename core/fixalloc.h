/* fixalloc.h — type-stable fixed-size object pools (see fixalloc.c). */
#ifndef MRT_FIXALLOC_H
#define MRT_FIXALLOC_H

struct fixalloc;

/*
 * A pool whose objects live in memory it does not carve itself: slab.c's
 * slot pools (the clone model's m pool, each m at the top of its M's g0
 * slot). fixalloc.c calls these instead of its own code when a pool has
 * them, so that it needs nothing of slab.c (which takes its descriptors
 * from plain pools); set once, before the pool's first use.
 */
struct fixslots {
	void *(*alloc)(struct fixalloc *f);
	void (*free)(struct fixalloc *f, void *p, bool undo);
	void *(*scan)(struct fixalloc *f, void *(*fn)(void *obj, void *arg), void *arg);
	void (*forkreset)(struct fixalloc *f, bool (*keep)(void *obj));
	bool (*full)(struct fixalloc *f);
	int64_t (*trim)(struct fixalloc *f);
};

typedef struct fixalloc {
	mutex lock;
	size_t size;      /* object size, a multiple of 16 */
	void *list;       /* free objects */
	void *chunks;     /* every chunk, newest first, linked through its
	                     first word (release-published) */
	uintptr_t chunk;  /* unused part of the current chunk */
	void *lastbump;   /* the object carved last from it, while in use */
	size_t nchunk;
	uint32_t nchunks; /* chunks mapped, ever */
	uint32_t inuse;   /* objects handed out and not freed */
	uint32_t nfree;   /* objects on list (slot pools: all free objects) */
	const struct fixslots *slots; /* nil: a plain pool of chunks */
	void *slotstate;              /* the slot pool's own (slab.c) */
} fixalloc;

#define FIXALLOC_INIT(type) { .size = (sizeof(type) + 15) & ~(size_t)15 }

/* nil when the chunk cannot be mapped. */
void *fixalloc_alloc(fixalloc *f);
void fixalloc_free(fixalloc *f, void *p);
/* Frees p as the undoing of the allocation that returned it: the pool as
 * that allocation found it, where it can be (see fixalloc.c). */
void fixalloc_undo(fixalloc *f, void *p);
void fixalloc_stats(fixalloc *f, uint32_t *inuse, uint32_t *nfree);
/* In a fork child: the free list made afresh of what keep does not claim. */
void fixalloc_forkreset(fixalloc *f, bool (*keep)(void *obj));
/* Every slot, lock-free and async-signal-safe (see fixalloc.c). */
void *fixalloc_scan(fixalloc *f, void *(*fn)(void *obj, void *arg), void *arg);
/* Whether the next allocation must grow the pool (the tests drain it). */
bool fixalloc_full(fixalloc *f);
/* Gives back the memory of free objects where the pool can (slot pools:
 * the pages of their slots); the bytes given back. */
int64_t fixalloc_trim(fixalloc *f);

extern fixalloc mpool, gpool;

#endif
