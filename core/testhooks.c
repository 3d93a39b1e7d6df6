/*
 * testhooks.c — fault injection and observation points, compiled into the
 * test build only (MRT_TESTHOOKS). The library users get has none of this.
 */
#include "runtime.h"

#ifdef MRT_TESTHOOKS

/*
 * Per fault point: let `skip` more calls pass, then fail the next `count`
 * calls with err. Both halves live in one 64-bit word so that concurrent
 * callers (a sweep runs alone, but the soak arms faults while Ms churn)
 * consume it atomically.
 */
static struct {
	uint64_t arm; /* skip << 32 | count */
	int32_t err;
	uint32_t calls;
} faults[NFAULT];
bool testnocache;
void (*testmexithook)(m *mp);
bool testtlsoffon;
intptr_t testtlsoff;
bool testnorseq;
void (*testpointhook)(int tp, void *arg);
bool testsysmonbusy;
bool testspinloaded;
bool testspinforever;

int faultcheck(enum faultpoint fp)
{
	__atomic_fetch_add(&faults[fp].calls, 1, __ATOMIC_RELAXED);
	uint64_t a = __atomic_load_n(&faults[fp].arm, __ATOMIC_ACQUIRE);
	for (;;) {
		uint32_t skip = (uint32_t)(a >> 32), count = (uint32_t)a;
		if (count == 0)
			return 0;
		uint64_t next = skip > 0 ? a - (1ull << 32) : a - 1;
		if (__atomic_compare_exchange_n(&faults[fp].arm, &a, next, false, __ATOMIC_ACQ_REL,
		                                __ATOMIC_ACQUIRE))
			return skip > 0 ? 0 : faults[fp].err;
	}
}

void mrt_test_faultn(int fp, int nth, int count, int err)
{
	if (fp < 0 || fp >= NFAULT)
		return;
	faults[fp].err = err;
	uint64_t a = nth > 0 && count > 0 ? (uint64_t)(nth - 1) << 32 | (uint32_t)count : 0;
	__atomic_store_n(&faults[fp].arm, a, __ATOMIC_RELEASE);
}

void mrt_test_fault(int fp, int nth, int err)
{
	mrt_test_faultn(fp, nth, 1, err);
}

bool mrt_test_faultpending(int fp)
{
	return fp >= 0 && fp < NFAULT && (uint32_t)__atomic_load_n(&faults[fp].arm, __ATOMIC_ACQUIRE) != 0;
}

uint32_t mrt_test_faultcalls(int fp)
{
	return fp >= 0 && fp < NFAULT ? __atomic_load_n(&faults[fp].calls, __ATOMIC_RELAXED) : 0;
}

void mrt_test_nocache(bool on)
{
	store_relaxed(&testnocache, on); /* Ms may be reading it */
}

void mrt_test_mexithook(void (*fn)(m *mp))
{
	store_relaxed(&testmexithook, fn); /* exiting Ms may be reading it */
}

void mrt_test_tlsoff(bool on, intptr_t off)
{
	testtlsoff = off; /* mrt_init reads it, on the same thread */
	testtlsoffon = on;
}

void mrt_test_norseq(bool on)
{
	store_relaxed(&testnorseq, on); /* threads in mrt_cpu may be reading it */
}

void mrt_test_pointhook(void (*fn)(int tp, void *arg))
{
	store_relaxed(&testpointhook, fn); /* threads at the points may be reading it */
}

void mrt_test_sysmonbusy(bool on)
{
	store_relaxed(&testsysmonbusy, on); /* the monitor reads it */
}

void mrt_test_spinloaded(bool on)
{
	store_relaxed(&testspinloaded, on); /* spinning Ms read it */
}

void mrt_test_spinforever(bool on)
{
	store_relaxed(&testspinforever, on); /* spinning Ms read it */
}

#else
/* ISO C wants a translation unit to declare something. */
typedef int mrt_no_testhooks;
#endif
