/*
 * tls.c — the thread-local block of a clone-model M.
 *
 * mrt keeps its per-thread state in one initial-exec TLS variable, mrt_tls,
 * so that getg() is a single load at a fixed offset from the thread pointer,
 * the same instruction on every thread. On m0, pthread-model Ms and foreign
 * threads libc made that variable. A clone-model M has no libc thread state,
 * so mrt builds the part of a TLS area that the load reaches: it measures on
 * m0 where mrt_tls sits relative to the thread pointer (a link-time constant,
 * the same for every thread), and at the top of each g0 it lays out a block
 * that puts the M's own mrt_tls at that offset from the M's thread pointer,
 * plus the CPU's thread-control-block words that compiled code may read
 * (arch_tcb_init). clone's CLONE_SETTLS then makes it live from the child's
 * first instruction, so getg() is valid even in a signal handler that runs
 * before mstart.
 *
 *        g0 mapping:  [guard][ usable g0 stack ... hi )[OS area][ TLS block ]
 *        TLS block:   tp + tls_lo ... tp ... tp + tls_hi   (tls_lo <= 0 or
 *                     tls_hi > 0 as the CPU's TLS variant has it)
 *
 * The OS area, just below the block, is the platform's per-thread memory
 * that must live exactly as long as the thread: OS_MTLS_SIZE bytes aligned
 * to OS_MTLS_ALIGN (os.h; 0 where the platform needs none). Linux keeps
 * the M's struct rseq there, which the kernel writes the current CPU into
 * for as long as the thread runs once it is registered (mrt_cpu): the g0
 * mapping is given back only after freeWait says the thread is gone, so
 * the kernel never writes into memory that is no longer this thread's.
 * tlsmake zeroes it (the kernel reads rseq_cs from it, and the mapping may
 * come from the stack cache) and hands its address to the platform in
 * m->ostls.
 *
 * Between the TCB and mrt_tls lies the static TLS of every module loaded
 * before mrt — all of the program's own when mrt is libmrt.so — which can be
 * any size. TLS variant II has it below tp, above mrt_tls; variant I above
 * the TCB, below mrt_tls (arch.h says which variant the CPU has):
 *
 *   variant II:  [ stack ... )[mrt_tls][ other modules' TLS ... ][TCB at tp]
 *   variant I:   [ stack ... )[TCB at tp][ other modules' TLS ... ][mrt_tls]
 *
 * mrt writes only the two pieces at the ends. Nothing on a clone-model M may
 * touch another module's __thread variables (mrt.h's thread model), so the
 * bytes between are never written or read: address space in the g0 mapping
 * (whose pages the kernel backs only when touched, and which is mapped
 * without a swap reservation), not memory, and an M costs the same whatever
 * the program's static TLS; the span only has to fit in one mapping, which
 * tlsinit bounds. (With transparent huge pages set to "always" the kernel
 * may back a touched, aligned 2 MiB of it whole, as it may of any large
 * anonymous mapping: the process's policy, not a write of mrt's.)
 */
#include "runtime.h"

/* The one thread-local variable (see above and mrt.h). */
MRT_API __thread struct mrt_tls mrt_tls __attribute__((tls_model("initial-exec")));

enum {
	/* The most a TLS block may span: an M reserves it (address space
	 * only) in every g0 mapping. As large as a stack may be. */
	tlsmaxspan = maxstack,
};
_Static_assert(tlsmaxspan == 1 << 30, "tlsinit's reason and mrt.h say 1 GiB");

/*
 * tlsinit measures mrt_tls's offset on m0 (into cfg.tls_off, also when it
 * fails). -ERANGE where no M's block can put mrt_tls there — further than
 * tlsmaxspan from the thread pointer, or overlapping the TCB words mrt
 * writes — with *why saying which. mrt_init writes the message: print.c
 * uses mrt_tls, defined here, so a seterrmsg here would be the import
 * cycle tests/layers.py refuses.
 */
int tlsinit(const char **why)
{
	uintptr_t tp = (uintptr_t)arch_gettp();
	intptr_t off = (intptr_t)((uintptr_t)&mrt_tls - tp);
#ifdef MRT_TESTHOOKS
	if (testtlsoffon)
		off = testtlsoff;
#endif
	cfg.tls_off = off;
	/* The distance first, so that the sums below cannot overflow. */
	uintptr_t dist = off < 0 ? -(uintptr_t)off : (uintptr_t)off;
	if (dist > tlsmaxspan - sizeof mrt_tls - (ARCH_TCB_HI - ARCH_TCB_LO)) {
		*why = "beyond the 1 GiB an M's TLS block may span (the program's static "
		       "TLS lies between)";
		return -ERANGE;
	}
	intptr_t end = off + (intptr_t)sizeof mrt_tls;
	if (off < ARCH_TCB_HI && end > ARCH_TCB_LO) {
		*why = "inside the thread control block (a TLS layout mrt does not know)";
		return -ERANGE;
	}
	intptr_t lo = off < ARCH_TCB_LO ? off : ARCH_TCB_LO;
	intptr_t hi = end > ARCH_TCB_HI ? end : ARCH_TCB_HI;

	cfg.tp0 = (void *)tp;
	cfg.tls_lo = lo;
	cfg.tls_hi = hi;
	/* The block, the slack of aligning tp, and the OS area with the slack
	 * of aligning it below the block (tlsarea). */
	cfg.tls_size = round_up((uintptr_t)(hi - lo), 16) + ARCH_TP_ALIGN + OS_MTLS_SIZE +
	               OS_MTLS_ALIGN;
	return 0;
}

/* The thread pointer of the block tlsmake builds below top. */
static uintptr_t tlstp(uintptr_t top)
{
	return round_down(top - (uintptr_t)cfg.tls_hi, ARCH_TP_ALIGN);
}

/* The OS area of that block: just below its lowest byte, aligned. */
static uintptr_t tlsarea(uintptr_t top)
{
	return round_down(tlstp(top) + cfg.tls_lo - OS_MTLS_SIZE, OS_MTLS_ALIGN);
}

/*
 * tlsmake lays out mp's TLS block in the bytes just below top and returns the
 * thread pointer for the new thread. [top - cfg.tls_size, top) is the block's.
 * It writes the TCB words, mp's mrt_tls and the OS area, nothing else (see
 * above): the mapping may come from the stack cache, so all are cleared
 * first.
 */
void *tlsmake(m *mp, uintptr_t top)
{
	uintptr_t tp = tlstp(top);
	if (OS_MTLS_SIZE > 0) {
		uintptr_t a = tlsarea(top);
		__builtin_memset((void *)a, 0, OS_MTLS_SIZE);
		mp->ostls = (void *)a;
	}
	__builtin_memset((void *)(tp + ARCH_TCB_LO), 0, ARCH_TCB_HI - ARCH_TCB_LO);
	arch_tcb_init((void *)tp, cfg.tp0);
	struct mrt_tls *t = (struct mrt_tls *)(tp + cfg.tls_off);
	__builtin_memset(t, 0, sizeof *t);
	t->g = mp->g0;
	t->m = mp;
	return (void *)tp;
}

/* The lowest byte of the block tlsmake builds below top, its OS area
 * included: g0's usable hi. */
uintptr_t tlsbase(uintptr_t top)
{
	return round_down(tlsarea(top), 16);
}
