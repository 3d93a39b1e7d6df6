/*
 * slab.c — stacks carved out of large shared mappings (slabs).
 *
 * A slab is one anonymous mapping cut into slots of one size (a class):
 * each slot is a guard page and, above it, the bytes its owner uses — a
 * stack (stack.c), or an M's g0 stack with its TLS block and its m struct
 * (the clone model's m pool, below). Where the kernel has guard regions
 * (sysguard: Linux 6.13's MADV_GUARD_INSTALL), a guard is a mark on page
 * entries that leaves the mapping whole, so up to 64 stacks cost one line
 * of /proc/self/maps, and slabs mapped next to each other (the kernel maps
 * top-down, each below the last) merge into one: an M or a g stack costs a
 * small fraction of a mapping, and vm.max_map_count (65,530 by default)
 * no longer bounds how many there can be. Where a guard is mprotect's, it
 * splits the slab around it: a carved slot costs two lines, as a mapping of
 * its own with a guard did.
 *
 * Slots are carved in order, the first time each is handed out: its guard
 * is made then, not when the slab is mapped, so a slab costs only the
 * guards of the slots it has used (which matters where guards are
 * mappings). A slot given back keeps its guard, gives its pages back to the
 * kernel (sysunused: MADV_DONTNEED on Linux, as the stack cache releases
 * cold stacks; the guard marks survive it), and is handed out again before
 * a new one is carved: no system call. A slab whose slots are all back is
 * unmapped, unless its class is pinned: a pinned slab stays mapped for
 * good, so that what lives in its slots is type-stable memory, as
 * fixalloc's chunks are. (Up to 64 slots a slab, and about 8 MiB: the
 * address space a class holds beyond its stacks is bounded by one slab's
 * unused slots, and a large stack is a slab of its own.)
 *
 * The bookkeeping is out of band, in descriptors from a plain type-stable
 * pool: a slot given back holds no page at all, and a lock-free reader (the
 * stack-overflow check, in a signal handler) may walk a pinned class.
 *
 * Locking is the owner's: every function here runs under the lock of the
 * class's owner (stack.c's cache lock, the m pool's), across the system
 * calls too, so that a fork child, which inherits a snapshot taken between
 * critical sections (fork.c takes those locks across fork), finds every
 * slab and every slot where its records say.
 */
#include "runtime.h"
#include "slab.h"
#include "san.h"

/*
 * The index of x's lowest set bit (x != 0): Go's sys.TrailingZeros64, by
 * de Bruijn multiplication. Not __builtin_ctzll: where the CPU has no
 * count-trailing-zeros instruction (riscv64 without Zbb) the compiler calls
 * libgcc's __ctzdi2 for it, and the M path links nothing but its own code
 * (tests/freestanding.py).
 */
static const uint8_t debruijn64tab[64] = {
	0,  1,  56, 2,  57, 49, 28, 3,  61, 58, 42, 50, 38, 29, 17, 4,
	62, 47, 59, 36, 45, 43, 51, 22, 53, 39, 33, 30, 24, 18, 12, 5,
	63, 55, 48, 27, 60, 41, 37, 16, 46, 35, 44, 21, 52, 32, 23, 11,
	54, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6,
};

static uint32_t trailingzeros64(uint64_t x)
{
	return debruijn64tab[((x & -x) * 0x03f79d71b4ca8b09ull) >> 58];
}

/* Descriptors: slabs and classes, from plain pools (never unmapped). */
static fixalloc slabdescs = FIXALLOC_INIT(slab);
static fixalloc classdescs = FIXALLOC_INIT(slabclass);

enum { slabbytes = 8 << 20, maxslots = 64 };

uint32_t slabslots(size_t stride)
{
	size_t n = slabbytes / stride;
	return n < 1 ? 1 : n > maxslots ? maxslots : (uint32_t)n;
}

slabclass *slabclassget(slabclass **list, size_t stride, uint32_t nslots)
{
	for (slabclass *c = *list; c != nil; c = c->next)
		if (c->stride == stride && c->nslots == nslots)
			return c;
	slabclass *c = fixalloc_alloc(&classdescs);
	if (c == nil)
		return nil;
	__builtin_memset(c, 0, sizeof *c);
	c->stride = stride;
	c->nslots = nslots;
	c->mapfault = FAULT_STACK_MMAP;
	c->next = *list;
	*list = c;
	return c;
}

void slabclassdrop(slabclass **list, slabclass *c)
{
	if (c->nslabs != 0 || c->pinned)
		return;
	for (slabclass **pp = list; *pp != nil; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			fixalloc_free(&classdescs, c);
			return;
		}
	}
}

/* First on the class's avail list: the slab used last is used next. */
static void availpush(slab *s)
{
	if (s->onavail)
		return;
	slabclass *c = s->cls;
	s->prev = nil;
	s->next = c->avail;
	if (c->avail != nil)
		c->avail->prev = s;
	c->avail = s;
	s->onavail = true;
}

static void availdrop(slab *s)
{
	if (!s->onavail)
		return;
	if (s->prev != nil)
		s->prev->next = s->next;
	else
		s->cls->avail = s->next;
	if (s->next != nil)
		s->next->prev = s->prev;
	s->onavail = false;
}

/* TSan: an munmap and a later mmap of the same addresses are ordered by
 * the kernel, in system calls TSan does not see (see stack.c's unmap). */
static char unmapsync;

static int slabmap(slabclass *c, slab **sp)
{
	size_t n = c->stride * c->nslots;
	int err = FAULT(c->mapfault);
	void *p = err ? nil : sysalloc(n);
	slab *s = p == nil ? nil : fixalloc_alloc(&slabdescs);
	if (s == nil) {
		if (p != nil)
			sysfree(p, n);
		seterrmsg("mrt: cannot map a %zu-byte slab of %zu-byte stacks (errno=%d)", n,
		          c->stride - pagesize, ENOMEM);
		return -ENOMEM;
	}
	san_acquire(&unmapsync);
	__builtin_memset(s, 0, sizeof *s);
	s->cls = c;
	s->base = (uintptr_t)p;
	c->nslabs++;
	availpush(s);
	if (c->pinned) {
		/* Linked, then published: a reader that finds it finds it whole. */
		s->alllink = c->all;
		store_release(&c->all, s);
	}
	*sp = s;
	return 0;
}

static void slabunmap(slab *s)
{
	slabclass *c = s->cls;
	availdrop(s);
	c->nslabs--;
	san_release(&unmapsync);
	sysfree((void *)s->base, c->stride * c->nslots);
	fixalloc_free(&slabdescs, s);
}

int slotalloc(slabclass *c, slab **sp, uintptr_t *slot, bool *carved)
{
	slab *s = c->avail;
	bool mapped = false;
	if (s == nil) {
		int err = slabmap(c, &s);
		if (err != 0)
			return err;
		mapped = true;
	}
	uint32_t i;
	if (s->freed != 0) {
		i = trailingzeros64(s->freed);
		s->freed &= s->freed - 1;
		*carved = false;
	} else {
		i = s->carved;
		int err = FAULT(FAULT_STACK_GUARD);
		if (err == 0)
			err = sysguard((void *)(s->base + i * c->stride), pagesize);
		if (err < 0) {
			/* With mprotect: ENOMEM at vm.max_map_count, as the guard
			 * splits the slab. A slab mapped for this slot goes. */
			if (mapped && !c->pinned)
				slabunmap(s);
			seterrmsg("mrt: cannot make a stack's guard page (errno=%d)", -err);
			return -ENOMEM;
		}
		s->carved++;
		*carved = true;
	}
	s->nused++;
	if (s->freed == 0 && s->carved == c->nslots)
		availdrop(s);
	*sp = s;
	*slot = s->base + i * c->stride;
	return 0;
}

/* Gives slot i's pages back, its guard kept, and marks it free. */
static void slotrelease(slab *s, uint32_t i)
{
	size_t stride = s->cls->stride;
	sysunused((void *)(s->base + i * stride + pagesize), stride - pagesize);
	s->freed |= 1ull << i;
}

bool slotfree(slab *s, uintptr_t slot, bool undo)
{
	slabclass *c = s->cls;
	uint32_t i = (uint32_t)((slot - s->base) / c->stride);
	bool uncarved = false;
	s->nused--;
	if (s->nused == 0 && !c->pinned) {
		slabunmap(s); /* nothing is left in it */
		return undo;
	}
	if (undo && i + 1 == s->carved) {
		/* Back to uncarved: with mprotect, the kernel merges the
		 * mapping around it again. (Its pages stay as the undone
		 * creation left them: a carve hands them out again next.) */
		sysunguard((void *)slot, pagesize);
		s->carved--;
		uncarved = true;
	} else {
		slotrelease(s, i);
	}
	availpush(s);
	return uncarved;
}

/* ------------------------------------------------------------------------
 * Slot pools: the clone model's m pool.
 *
 * An M's g0 stack, its TLS block and its m struct are one slot:
 *
 *     [guard][ g0 stack ... )[ TLS block ][ m ][ slab link ][ pad ]
 *
 * so that a parked M's live memory — the m, the TLS block and the frames
 * of mstart and mpark at g0's top — is one page, where an m from a pool of
 * its own cost a share of another page as well (#15 item 6: 600 bytes of a
 * parked M's 4.6 KiB). The m pool must stay type-stable (lock-free readers
 * of allm, the overflow scan, the kernel's CLONE_CHILD_CLEARTID store), so
 * its class is pinned: slots are never unmapped. At most warmmax free ms
 * keep their slots' pages, on the pool's list, linked through the m's
 * first word; any other free slot is back in its slab with no page at all,
 * and its m reads as zeros: status 0, in the pool, to a lock-free reader.
 * The slab link above the object finds the slot's slab again; the two end
 * a page, which the TLS block and the frames at g0's top share. The pad
 * above, a page that nothing writes (address space, no memory), is for
 * debuggers: glibc's libthread_db reads a struct pthread (2 KiB and more)
 * from every thread's thread pointer up, and gdb loses track of a thread
 * whose read fails, as it would where the next slot's guard began right
 * above the m; read through the pad it finds zeros, as it did beyond the
 * end of a g0 mapping of its own.
 * ------------------------------------------------------------------------ */

static struct slotpool {
	slabclass cls;
	size_t objoff;   /* the object's offset in its slot */
	uint32_t warm;   /* free objects on the pool's list */
	uint32_t warmmax;
} slotpool;

enum {
	slotlink = 16,    /* the slab pointer above the object, 16-aligned */
	slotpad = 4096,   /* at least this much above it (see above) */
};

static slab **linkof(fixalloc *f, void *p)
{
	return (slab **)((uintptr_t)p + f->size);
}

/* Onto the pool's list: a free object that keeps its slot's pages, if
 * there is room for one more; false if not. f->lock held. */
static bool warmpush(fixalloc *f, struct slotpool *sp, void *p)
{
	if (sp->warm >= sp->warmmax)
		return false;
	*(void **)p = f->list;
	f->list = p;
	sp->warm++;
	f->nfree++;
	return true;
}

static void *slotpool_alloc(fixalloc *f)
{
	struct slotpool *sp = f->slotstate;
	void *p;
	lock(&f->lock);
	if (f->list != nil) {
		p = f->list;
		f->list = *(void **)p;
		sp->warm--;
		f->nfree--;
	} else {
		slab *s;
		uintptr_t slot;
		bool carved;
		if (slotalloc(&sp->cls, &s, &slot, &carved) != 0) {
			unlock(&f->lock);
			return nil;
		}
		p = (void *)(slot + sp->objoff);
		*linkof(f, p) = s;
		f->lastbump = carved ? p : nil; /* an undo uncarves it again */
		if (!carved)
			f->nfree--;
	}
	f->inuse++;
	unlock(&f->lock);
	return p;
}

static void slotpool_free(fixalloc *f, void *p, bool undo)
{
	struct slotpool *sp = f->slotstate;
	lock(&f->lock);
	slab *s = *linkof(f, p);
	bool last = p == f->lastbump;
	if (last)
		f->lastbump = nil;
	if (undo && last) {
		/* Carved for the allocation being undone: uncarved again, so
		 * that with mprotect guards the mappings are as they were. */
		if (!slotfree(s, (uintptr_t)p - sp->objoff, true))
			f->nfree++;
	} else if (!warmpush(f, sp, p)) {
		slotfree(s, (uintptr_t)p - sp->objoff, false);
		f->nfree++;
	}
	f->inuse--;
	unlock(&f->lock);
}

/* Lock-free: slabs are only ever added (release-published), never
 * unmapped; a slot's object is mapped memory whatever its state. */
static void *slotpool_scan(fixalloc *f, void *(*fn)(void *obj, void *arg), void *arg)
{
	struct slotpool *sp = f->slotstate;
	for (slab *s = load_acquire(&sp->cls.all); s != nil; s = s->alllink) {
		uint32_t n = load_relaxed(&s->carved);
		for (uint32_t i = 0; i < n; i++) {
			void *r = fn((void *)(s->base + i * sp->cls.stride + sp->objoff), arg);
			if (r != nil)
				return r;
		}
	}
	return nil;
}

/* In a fork child (fixalloc_forkreset): every carved slot that keep does
 * not claim is free; the warm ones first, as many as may be, the others
 * back in their slabs. The lists are made afresh, as fixalloc does. */
static void slotpool_forkreset(fixalloc *f, bool (*keep)(void *obj))
{
	struct slotpool *sp = f->slotstate;
	f->list = nil;
	f->lastbump = nil;
	f->inuse = f->nfree = 0;
	sp->warm = 0;
	sp->cls.avail = nil;
	for (slab *s = sp->cls.all; s != nil; s = s->alllink) {
		s->onavail = false;
		s->nused = 0;
		for (uint32_t i = 0; i < s->carved; i++) {
			void *p = (void *)(s->base + i * sp->cls.stride + sp->objoff);
			if (s->freed & (1ull << i)) {
				f->nfree++;
				continue;
			}
			if (keep(p)) {
				f->inuse++;
			} else if (!warmpush(f, sp, p)) {
				slotrelease(s, i);
				f->nfree++;
				continue;
			}
			s->nused++;
		}
		if (s->freed != 0 || s->carved < sp->cls.nslots)
			availpush(s);
	}
}

static bool slotpool_full(fixalloc *f)
{
	struct slotpool *sp = f->slotstate;
	lock(&f->lock);
	bool full = f->list == nil && sp->cls.avail == nil;
	unlock(&f->lock);
	return full;
}

/* mrt_trim: the warm free slots' pages back (they stay mapped). */
static int64_t slotpool_trim(fixalloc *f)
{
	struct slotpool *sp = f->slotstate;
	int64_t n = 0;
	lock(&f->lock);
	while (f->list != nil) {
		void *p = f->list;
		f->list = *(void **)p;
		sp->warm--;
		slotfree(*linkof(f, p), (uintptr_t)p - sp->objoff, false);
		n += (int64_t)(sp->cls.stride - pagesize);
	}
	unlock(&f->lock);
	return n;
}

static const struct fixslots slotops = {
	.alloc = slotpool_alloc,
	.free = slotpool_free,
	.scan = slotpool_scan,
	.forkreset = slotpool_forkreset,
	.full = slotpool_full,
	.trim = slotpool_trim,
};

void slotpoolinit(fixalloc *f, size_t below, uint32_t warmmax)
{
	struct slotpool *sp = &slotpool;
	if (sp->cls.all != nil)
		return; /* no layout change once slots exist */
	/* The object and its link end a page, so that the owner's top (the
	 * TLS block and the frames below it) shares that page with it; the
	 * pad is the page above. */
	size_t top = round_up(pagesize + below + f->size + slotlink, pagesize);
	size_t stride = top + round_up(slotpad, pagesize);
	sp->cls.stride = stride;
	sp->cls.nslots = slabslots(stride);
	sp->cls.pinned = true;
	sp->cls.mapfault = FAULT_MPOOL; /* the pool's growth */
	sp->objoff = top - slotlink - f->size;
	sp->warmmax = warmmax;
	f->slotstate = sp;
	f->slots = &slotops;
}

uintptr_t slotpoolbase(fixalloc *f, void *obj)
{
	return (uintptr_t)obj - ((struct slotpool *)f->slotstate)->objoff;
}

size_t slotpoolobjoff(fixalloc *f)
{
	return ((struct slotpool *)f->slotstate)->objoff;
}

size_t slotpoolstride(fixalloc *f)
{
	return ((struct slotpool *)f->slotstate)->cls.stride;
}

bool slotpoolcarves(fixalloc *f)
{
	struct slotpool *sp = f->slotstate;
	lock(&f->lock);
	slab *s = sp->cls.avail;
	bool carves = f->list == nil && s != nil && s->freed == 0;
	unlock(&f->lock);
	return carves;
}

/* The descriptor pools' locks are taken inside the owners' (a slab is
 * mapped under the cache's or the m pool's lock): last around fork. */
void slabforklock(void)
{
	lock(&slabdescs.lock);
	lock(&classdescs.lock);
}

void slabforkunlock(void)
{
	unlock(&classdescs.lock);
	unlock(&slabdescs.lock);
}

void slabforkreset(void)
{
	slabdescs.lock.key = 0;
	classdescs.lock.key = 0;
}
