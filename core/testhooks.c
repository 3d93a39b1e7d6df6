/*
 * testhooks.c — fault injection and observation points, compiled into the
 * test build only (MRT_TESTHOOKS). The library users get has none of this.
 */
#include "runtime.h"

#ifdef MRT_TESTHOOKS

static struct {
	int32_t countdown; /* fail when it reaches 0 from 1 */
	int32_t err;
	uint32_t calls;
} faults[NFAULT];

bool testnocache;
void (*testmexithook)(m *mp);

int faultcheck(enum faultpoint fp)
{
	__atomic_fetch_add(&faults[fp].calls, 1, __ATOMIC_RELAXED);
	int32_t c = __atomic_load_n(&faults[fp].countdown, __ATOMIC_ACQUIRE);
	while (c > 0) {
		if (__atomic_compare_exchange_n(&faults[fp].countdown, &c, c - 1, false,
		                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return c == 1 ? faults[fp].err : 0;
	}
	return 0;
}

void mrt_test_fault(int fp, int nth, int err)
{
	if (fp < 0 || fp >= NFAULT)
		return;
	faults[fp].err = err;
	__atomic_store_n(&faults[fp].countdown, nth, __ATOMIC_RELEASE);
}

uint32_t mrt_test_faultcalls(int fp)
{
	return fp >= 0 && fp < NFAULT ? __atomic_load_n(&faults[fp].calls, __ATOMIC_RELAXED) : 0;
}

void mrt_test_nocache(bool on)
{
	testnocache = on;
}

void mrt_test_mexithook(void (*fn)(m *mp))
{
	testmexithook = fn;
}

#else
/* ISO C wants a translation unit to declare something. */
typedef int mrt_no_testhooks;
#endif
