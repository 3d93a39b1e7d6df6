/*
 * fixalloc.c — type-stable pools of fixed-size objects (Go's mfixalloc.go).
 *
 * Objects come from 64 KiB chunks that are never returned to the OS, so a
 * pointer to a pooled object always points at mapped memory of the same type:
 * a lock-free walker of allm may read an m that just left the list and never
 * faults. Freed objects go on a free list, linked through their first word.
 */
#include "runtime.h"
#include "fixalloc.h"

enum { fixchunk = 64 << 10 };

void *fixalloc_alloc(fixalloc *f)
{
	void *p;
	lock(&f->lock);
	if (f->list != nil) {
		p = f->list;
		f->list = *(void **)p;
		f->nfree--;
	} else {
		if (f->nchunk < f->size) {
			int err = FAULT(FAULT_MPOOL);
			void *c = err ? nil : sysalloc(fixchunk);
			if (c == nil) {
				unlock(&f->lock);
				return nil;
			}
			f->chunk = (uintptr_t)c;
			f->nchunk = fixchunk;
			f->nchunks++;
		}
		p = (void *)f->chunk;
		f->chunk += f->size;
		f->nchunk -= f->size;
	}
	f->inuse++;
	unlock(&f->lock);
	/* Objects are not cleared here, fresh or recycled: the caller clears
	 * them, knowing which fields a lock-free reader may still look at. */
	return p;
}

/*
 * The object handed out last from the current chunk goes back to the chunk,
 * not to the free list: an allocation undone at once (a creation refused by
 * the thread limit, say) leaves the pool exactly as it found it.
 */
void fixalloc_free(fixalloc *f, void *p)
{
	lock(&f->lock);
	if ((uintptr_t)p + f->size == f->chunk) {
		f->chunk -= f->size;
		f->nchunk += f->size;
	} else {
		*(void **)p = f->list;
		f->list = p;
		f->nfree++;
	}
	f->inuse--;
	unlock(&f->lock);
}

void fixalloc_stats(fixalloc *f, uint32_t *inuse, uint32_t *nfree)
{
	lock(&f->lock);
	*inuse = f->inuse;
	*nfree = f->nfree;
	unlock(&f->lock);
}
