/* fixalloc.h — type-stable fixed-size object pools (see fixalloc.c). */
#ifndef MRT_FIXALLOC_H
#define MRT_FIXALLOC_H

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
	uint32_t nfree;   /* objects on list */
} fixalloc;

#define FIXALLOC_INIT(type) { .size = (sizeof(type) + 15) & ~(size_t)15 }

/* nil when the chunk cannot be mapped. */
void *fixalloc_alloc(fixalloc *f);
void fixalloc_free(fixalloc *f, void *p);
void fixalloc_stats(fixalloc *f, uint32_t *inuse, uint32_t *nfree);
/* In a fork child: the free list made afresh of what keep does not claim. */
void fixalloc_forkreset(fixalloc *f, bool (*keep)(void *obj));
/* Every slot, lock-free and async-signal-safe (see fixalloc.c). */
void *fixalloc_scan(fixalloc *f, void *(*fn)(void *obj, void *arg), void *arg);

extern fixalloc mpool, gpool;

#endif
