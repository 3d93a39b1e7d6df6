/* slab.h — large mappings carved into guarded slots (see slab.c). */
#ifndef MRT_SLAB_H
#define MRT_SLAB_H

#include "runtime.h"
#include "fixalloc.h"

typedef struct slab slab;
typedef struct slabclass slabclass;

/* Slots of one size, and the slabs that hold them. */
struct slabclass {
	size_t stride;     /* bytes per slot, its guard page included: whole pages */
	uint32_t nslots;   /* slots per slab, 1 .. 64 */
	bool pinned;       /* slabs stay mapped for good: what lives in their
	                      slots is type-stable (the clone model's m pool) */
	uint8_t mapfault;  /* the fault point of a slab's mapping (testhooks) */
	slab *avail;       /* slabs with a slot to hand out, doubly linked */
	slab *all;         /* pinned: every slab, newest first (release-published,
	                      for lock-free readers); unpinned: unused */
	uint32_t nslabs;   /* slabs mapped now */
	slabclass *next;   /* the owner's list of classes */
};

struct slab {
	slabclass *cls;
	uintptr_t base;    /* nslots * stride bytes, slot i at base + i * stride */
	slab *next, *prev; /* on cls->avail */
	slab *alllink;     /* on cls->all (pinned) */
	uint32_t carved;   /* slots [0, carved) were handed out once: guarded */
	uint32_t nused;    /* slots handed out now */
	uint64_t freed;    /* carved slots given back: guard kept, pages released */
	bool onavail;
};

/* Slots per slab for slots of stride bytes (slab.c). */
uint32_t slabslots(size_t stride);
/* The class of (stride, nslots) on *list, made if there is none (nil: no
 * memory for it); drop gives a class with no slab back. The owner's lock
 * held. */
slabclass *slabclassget(slabclass **list, size_t stride, uint32_t nslots);
void slabclassdrop(slabclass **list, slabclass *c);
/*
 * slotalloc hands out a slot of c: *slot is its base (the guard page), *sp
 * its slab, *carved whether it was carved now (guard made, perhaps the slab
 * mapped) rather than given back before. 0 or -ENOMEM, with a message.
 * slotfree gives it back; with undo, a slot carved by the allocation being
 * undone is uncarved (guard removed) when it is its slab's last, so that a
 * failed creation leaves the mappings as they were: returns whether it
 * was. The owner's lock held, across the system calls.
 */
int slotalloc(slabclass *c, slab **sp, uintptr_t *slot, bool *carved);
bool slotfree(slab *s, uintptr_t slot, bool undo);

/*
 * The m pool of the clone model: f's objects at the top of the slots of a
 * pinned class (see slab.c). Each slot is [guard][at least `below` bytes
 * of the owner's][object][slab link][pad page]; slotpoolbase gives an
 * object's slot.
 * At most warmmax free objects keep their slots' pages. Before the pool's
 * first allocation.
 */
void slotpoolinit(fixalloc *f, size_t below, uint32_t warmmax);
uintptr_t slotpoolbase(fixalloc *f, void *obj);
size_t slotpoolobjoff(fixalloc *f);
size_t slotpoolstride(fixalloc *f);
/* Whether the pool's next allocation carves a slot (the tests' sweep): no
 * free object on its list, no slot back in the slab it takes from. */
bool slotpoolcarves(fixalloc *f);

/* Around fork (fork.c, through stack.c): the descriptor pools' locks. */
void slabforklock(void);
void slabforkunlock(void);
void slabforkreset(void);

#endif
