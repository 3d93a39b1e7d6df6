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
 *        g0 mapping:  [guard][ usable g0 stack ... hi )[ TLS block ]
 *        TLS block:   tp + tls_lo ... tp ... tp + tls_hi   (tls_lo <= 0 or
 *                     tls_hi > 0 as the CPU's TLS variant has it)
 */
#include "runtime.h"

/* The one thread-local variable (see above and mrt.h). */
MRT_API __thread struct mrt_tls mrt_tls __attribute__((tls_model("initial-exec")));

int tlsinit(void)
{
	uintptr_t tp = (uintptr_t)arch_gettp();
	intptr_t off = (intptr_t)((uintptr_t)&mrt_tls - tp);
#ifdef MRT_TESTHOOKS
	if (testtlsoffon)
		off = testtlsoff;
#endif
	intptr_t lo = off < ARCH_TCB_LO ? off : ARCH_TCB_LO;
	intptr_t end = off + (intptr_t)sizeof mrt_tls;
	intptr_t hi = end > ARCH_TCB_HI ? end : ARCH_TCB_HI;

	cfg.tp0 = (void *)tp;
	cfg.tls_off = off;
	cfg.tls_lo = lo;
	cfg.tls_hi = hi;
	cfg.tls_size = round_up((uintptr_t)(hi - lo), 16) + ARCH_TP_ALIGN;
	/* A distance this large means mrt_tls is not in static TLS (the
	 * library was built without initial-exec TLS): refuse, do not guess. */
	if (cfg.tls_size > (1u << 20))
		return -ENOSYS;
	return 0;
}

/*
 * tlsmake lays out mp's TLS block in the bytes just below top and returns the
 * thread pointer for the new thread. [top - cfg.tls_size, top) is the block's.
 */
void *tlsmake(m *mp, uintptr_t top)
{
	uintptr_t tp = round_down(top - (uintptr_t)cfg.tls_hi, ARCH_TP_ALIGN);
	uint8_t *base = (uint8_t *)(tp + cfg.tls_lo);
	__builtin_memset(base, 0, (size_t)(cfg.tls_hi - cfg.tls_lo));
	arch_tcb_init((void *)tp, cfg.tp0);
	struct mrt_tls *t = (struct mrt_tls *)(tp + cfg.tls_off);
	t->g = mp->g0;
	t->m = mp;
	return (void *)tp;
}

/* The lowest byte of the block tlsmake builds below top: g0's usable hi. */
uintptr_t tlsbase(uintptr_t top)
{
	uintptr_t tp = round_down(top - (uintptr_t)cfg.tls_hi, ARCH_TP_ALIGN);
	return round_down(tp + cfg.tls_lo, 16);
}
