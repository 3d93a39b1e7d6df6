/*
 * fixalloc.c — type-stable pools of fixed-size objects (Go's mfixalloc.go).
 *
 * Objects come from 64 KiB chunks that are never returned to the OS, so a
 * pointer to a pooled object always points at mapped memory of the same type:
 * a lock-free walker of allm may read an m that just left the list and never
 * faults. Freed objects go on a free list, linked through their first word.
 *
 * A pool may instead keep its objects in slots of slabs that are never
 * unmapped either (struct fixslots, slab.c): the clone model's m pool, each
 * m at the top of its own g0 stack. Every function here then hands over to
 * the pool's own, so that this file needs nothing of slab.c.
 */
#include "runtime.h"
#include "fixalloc.h"

enum {
	fixchunk = 64 << 10,
	/* Each chunk starts with a link to the chunk mapped before it, so that
	 * a lock-free reader (the stack overflow check, in a signal handler)
	 * can visit every object ever handed out. 16 bytes keep objects
	 * 16-byte aligned. */
	chunkhdr = 16,
};

void *fixalloc_alloc(fixalloc *f)
{
	if (f->slots != nil)
		return f->slots->alloc(f);
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
			*(void **)c = f->chunks;
			/* Publish the chunk after its link: a reader that sees it
			 * also sees the rest of the list. */
			store_release(&f->chunks, c);
			f->chunk = (uintptr_t)c + chunkhdr;
			f->nchunk = fixchunk - chunkhdr;
			f->nchunks++;
		}
		p = (void *)f->chunk;
		f->chunk += f->size;
		f->nchunk -= f->size;
		f->lastbump = p;
	}
	f->inuse++;
	unlock(&f->lock);
	/* Objects are not cleared here, fresh or recycled: the caller clears
	 * them, knowing which fields a lock-free reader may still look at. */
	return p;
}

/*
 * The object carved last from the current chunk goes back to the chunk, not
 * to the free list: an allocation undone at once (a creation refused by the
 * thread limit, say) leaves the pool exactly as it found it. (Only that one:
 * an object from the free list that happens to lie just below the unused
 * part must go back to the list it came from.)
 */
void fixalloc_free(fixalloc *f, void *p)
{
	if (f->slots != nil) {
		f->slots->free(f, p, false);
		return;
	}
	lock(&f->lock);
	if (p == f->lastbump && (uintptr_t)p + f->size == f->chunk) {
		f->chunk -= f->size;
		f->nchunk += f->size;
		f->lastbump = nil;
	} else {
		*(void **)p = f->list;
		f->list = p;
		f->nfree++;
	}
	f->inuse--;
	unlock(&f->lock);
}

/* A plain pool undoes by fixalloc_free's own rule; a slot pool gives a slot
 * it carved for p back uncarved (slab.c), where a free keeps it carved for
 * the next allocation. */
void fixalloc_undo(fixalloc *f, void *p)
{
	if (f->slots != nil)
		f->slots->free(f, p, true);
	else
		fixalloc_free(f, p);
}

void fixalloc_stats(fixalloc *f, uint32_t *inuse, uint32_t *nfree)
{
	lock(&f->lock);
	*inuse = f->inuse;
	*nfree = f->nfree;
	unlock(&f->lock);
}

/*
 * fixalloc_forkreset makes f say what is true in a fork child, whose only
 * thread is the forking one: every object handed out that keep(obj) does
 * not claim goes back on the free list, since the threads that held them are
 * gone (keep may first give back what such an object held). The free list
 * is built afresh rather than patched: an object handed out an instant
 * before the fork, and not yet marked by its taker, is free too. Only in the
 * child, with f->lock reset.
 */
void fixalloc_forkreset(fixalloc *f, bool (*keep)(void *obj))
{
	f->lock.key = 0;
	if (f->slots != nil) {
		f->slots->forkreset(f, keep);
		return;
	}
	f->list = nil;
	f->lastbump = nil;
	f->inuse = f->nfree = 0;
	for (void *c = f->chunks; c != nil; c = *(void **)c) {
		uintptr_t p = (uintptr_t)c + chunkhdr, end = (uintptr_t)c + fixchunk;
		/* The newest chunk is carved up to f->chunk: nothing above it
		 * was ever handed out, or it went back to the chunk. */
		if (c == f->chunks)
			end = f->chunk;
		for (; p + f->size <= end; p += f->size) {
			if (keep((void *)p)) {
				f->inuse++;
				continue;
			}
			*(void **)p = f->list;
			f->list = (void *)p;
			f->nfree++;
		}
	}
}

/*
 * fixalloc_scan calls fn(obj, arg) for every object slot of every chunk of f,
 * handed out or not, until fn returns non-nil, and returns that. Takes no
 * lock and makes no call but fn: safe in a signal handler that interrupted
 * any code, f->lock holders included. Chunks are never unmapped and the list
 * only grows, so every slot read is mapped memory of f's type; fn must
 * expect slots that are free, half-initialised or being freed.
 */
void *fixalloc_scan(fixalloc *f, void *(*fn)(void *obj, void *arg), void *arg)
{
	if (f->slots != nil)
		return f->slots->scan(f, fn, arg);
	for (void *c = load_acquire(&f->chunks); c != nil; c = *(void *const *)c) {
		uintptr_t p = (uintptr_t)c + chunkhdr, end = (uintptr_t)c + fixchunk;
		for (; p + f->size <= end; p += f->size) {
			void *r = fn((void *)p, arg);
			if (r != nil)
				return r;
		}
	}
	return nil;
}

bool fixalloc_full(fixalloc *f)
{
	if (f->slots != nil)
		return f->slots->full(f);
	lock(&f->lock);
	bool full = f->list == nil && f->nchunk < f->size;
	unlock(&f->lock);
	return full;
}

/* A plain pool keeps its chunks for good (see above): nothing to give. */
int64_t fixalloc_trim(fixalloc *f)
{
	return f->slots != nil ? f->slots->trim(f) : 0;
}
