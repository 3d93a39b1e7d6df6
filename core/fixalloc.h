/* fixalloc.h — type-stable fixed-size object pools (see fixalloc.c). */
#ifndef MRT_FIXALLOC_H
#define MRT_FIXALLOC_H

typedef struct fixalloc {
	mutex lock;
	size_t size;      /* object size, a multiple of 16 */
	void *list;       /* free objects */
	uintptr_t chunk;  /* unused part of the current chunk */
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

extern fixalloc mpool, gpool;

#endif
