/*
 * rseq_linux.c — which CPU a thread runs on, from its struct rseq: the
 * slow path of mrt_cpu (core/proc.c has the fast one).
 *
 * A thread that registers a struct rseq with the kernel (rseq(2), Linux
 * 4.18) gets its current CPU written into the struct's cpu_id by the
 * kernel before each return to user space after the thread was moved or
 * preempted: reading the CPU is then a load, about 3 ns, against about 105
 * for the getcpu system call. It is what glibc's sched_getcpu reads, and
 * what per-CPU caches are built on (tcmalloc, librseq). mrt finds the
 * thread's struct once, and points mrt_tls.cpuid at its cpu_id, which
 * mrt_cpu then reads:
 *
 *  - On threads libc made — m0, pthread-model Ms, threads that are not
 *    Ms — glibc (2.35 and later) has registered one for every thread, at
 *    __rseq_offset from the thread pointer, unless it was told not to
 *    (GLIBC_TUNABLES=glibc.pthread.rseq=0), the kernel refused, or it
 *    registers none on this CPU (glibc 2.36 on riscv64): then __rseq_size
 *    is 0. Registrations cannot be shared and a thread has one at most, so
 *    mrt uses glibc's where it is there.
 *  - Where glibc registered none, m0 and a pthread-model M register a
 *    struct of mrt's own, in the m (os_mstate's rseqbuf). A pthread-model
 *    M's thread outlives the M, and the m may serve another thread next,
 *    so the M takes its registration back as it ends (rseqend, with its
 *    signals blocked), before the m can be reaped. m0's stays.
 *  - A clone-model M is no thread of libc's, and the kernel gives a
 *    CLONE_VM child no registration: it registers its own struct, kept in
 *    the OS area of its TLS block (core/tls.c: m->ostls). It stays
 *    registered until the thread is gone: the kernel stops writing it when
 *    the thread exits, and the g0 mapping it lies in is given back only
 *    after freeWait says the thread is gone.
 *
 * mrt registers lazily, at a thread's first mrt_cpu, not in minit: most Ms
 * never ask, and a cold M's whole life is five system calls (README); one
 * more for each would cost every M for the sake of some. A signal handler
 * may call mrt_cpu in the middle of the interrupted thread's registration:
 * both register the same struct with the same length and signature, and
 * the kernel answers the second EBUSY ("registered already"), which counts
 * as success. The signature is the CPU's conventional one (ARCH_RSEQ_SIG,
 * sys_linux.h), the one glibc uses, so that rseq critical sections written
 * for glibc's threads work on clone-model Ms too.
 *
 * Where no struct can be had — a kernel without rseq, QEMU user mode
 * (which implements no rseq: ENOSYS), a registration of the program's own
 * in the way (EINVAL) — the thread's word is a constant that says so, and
 * mrt_cpu makes the getcpu system call.
 */
#include "linux.h"

#include <stddef.h>

/* The kernel's struct rseq (uapi/linux/rseq.h), its original 32 bytes. */
struct l_rseq {
	uint32_t cpu_id_start;
	int32_t cpu_id; /* the current CPU, or < 0 until registered */
	uint64_t rseq_cs;
	uint32_t flags;
	uint32_t pad[3];
} __attribute__((aligned(32)));
_Static_assert(sizeof(struct l_rseq) == 32 && OS_MTLS_SIZE == 32 && OS_MTLS_ALIGN == 32,
               "struct rseq fills the TLS block's OS area");
_Static_assert(offsetof(struct l_rseq, cpu_id) == 4, "uapi struct rseq");

enum { L_RSEQ_FLAG_UNREGISTER = 1 };

/* glibc's (2.35 and later): where each thread's struct rseq lies from its
 * thread pointer, and how much of it the kernel keeps (0: none
 * registered). Weak: an older glibc has neither, and nothing links them in. */
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));

static ptrdiff_t glibcoff;
static bool glibcrseq; /* glibc registers a struct for each of its threads */
static bool nokernel;  /* rseq(2) said ENOSYS once: it will on every thread */
/* The word of a thread that has no struct: never a CPU. */
static const int32_t nocpu = -2; /* RSEQ_CPU_ID_REGISTRATION_FAILED */

/* At osinit, on m0, like getauxval and environ. */
void rseqinit(void)
{
	glibcrseq = &__rseq_size != nil && &__rseq_offset != nil && __rseq_size > 0;
	glibcoff = glibcrseq ? __rseq_offset : 0;
}

static int getcpu(void)
{
	uint32_t cpu;
	long r = sys3(__NR_getcpu, &cpu, 0, 0);
	return r < 0 ? (int)r : (int)cpu;
}

/* mp's own struct: in its TLS block (clone model), else in the m. */
static struct l_rseq *ownrseq(m *mp)
{
	if (mp->ostls != nil)
		return mp->ostls;
	return (struct l_rseq *)round_up((uintptr_t)mp->os.rseqbuf, 32);
}

int oscpu(void)
{
	struct mrt_tls *t = mrt_tlsp_();
	const volatile int32_t *w = load_relaxed(&t->cpuid);
#ifdef MRT_TESTHOOKS
	if (load_relaxed(&testnorseq))
		return getcpu();
#endif
	if (w == &nocpu)
		return getcpu();
	m *mp = t->m;
	/* A thread libc made: m0, a pthread-model M, or no M at all. */
	bool libcs = mp == nil || OS_G0_FROM_OS || mp == &m0;
	if (libcs && glibcrseq) {
		struct l_rseq *r = (struct l_rseq *)((uintptr_t)arch_gettp() + glibcoff);
		int32_t c = ((volatile struct l_rseq *)r)->cpu_id;
		if (c >= 0) {
			store_relaxed(&t->cpuid, &r->cpu_id);
			return c;
		}
	}
	if (mp != nil && !load_relaxed(&nokernel)) {
		struct l_rseq *r = ownrseq(mp);
		long e = sys4(__NR_rseq, r, sizeof *r, 0, ARCH_RSEQ_SIG);
		if (e == 0 || e == -EBUSY) {
			/* Registered (EBUSY: by the frame this handler interrupted,
			 * with the same struct). The kernel has written cpu_id
			 * before the call returned to us. */
			mp->os.rseqown = true;
			store_relaxed(&t->cpuid, &r->cpu_id);
			int32_t c = ((volatile struct l_rseq *)r)->cpu_id;
			if (c >= 0)
				return c;
		} else if (e == -ENOSYS) {
			store_relaxed(&nokernel, true);
		}
	}
	/* Nothing to read on this thread: the system call from now on. */
	store_relaxed(&t->cpuid, &nocpu);
	return getcpu();
}

/*
 * rseqend takes back mp's own registration as its pthread ends being an M
 * (thread_posix.c's unminit, signals blocked): the thread lives on in libc,
 * and the m may be reaped and serve another thread, whose registration
 * would then be written by two threads. The thread's word goes first, so
 * that nothing reads the struct once it is no longer kept current.
 */
void rseqend(m *mp)
{
	struct mrt_tls *t = mrt_tlsp_();
	if (!mp->os.rseqown)
		return;
	store_relaxed(&t->cpuid, nil);
	struct l_rseq *r = ownrseq(mp);
	sys4(__NR_rseq, r, sizeof *r, L_RSEQ_FLAG_UNREGISTER, ARCH_RSEQ_SIG);
	mp->os.rseqown = false;
}
