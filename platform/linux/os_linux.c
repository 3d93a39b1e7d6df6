/*
 * os_linux.c — the Linux platform primitives, as raw system calls: futex,
 * memory, time, signals, output. Nothing here calls libc, so all of it may
 * run on clone-model Ms (Go's os_linux.go and sys_linux_*.s, in C).
 */
#include "linux.h"

extern char **environ;
/* glibc's: the auxiliary vector the kernel gave the process at exec. */
extern unsigned long getauxval(unsigned long type);

long l_open(const char *path)
{
	return sys4(__NR_openat, L_AT_FDCWD, path, L_O_RDONLY | L_O_CLOEXEC, 0);
}

long l_read(int fd, void *buf, unsigned long n)
{
	long r;
	do
		r = sys3(__NR_read, fd, buf, n);
	while (r == -EINTR);
	return r;
}

void l_close(int fd)
{
	sys1(__NR_close, fd);
}

/* ------------------------------------------------------------------------
 * futex
 * ------------------------------------------------------------------------ */

/*
 * futexsleep sleeps while *addr == val, for at most ns nanoseconds (ns < 0:
 * no limit). It may wake spuriously; callers re-check their condition.
 * Private futexes: the words are never shared with another process.
 */
void futexsleep(uint32_t *addr, uint32_t val, int64_t ns)
{
	if (ns < 0) {
		sys4(__NR_futex, addr, FUTEX_WAIT_PRIVATE, val, 0);
		return;
	}
	struct l_timespec ts = { ns / 1000000000, ns % 1000000000 };
	sys4(__NR_futex, addr, FUTEX_WAIT_PRIVATE, val, &ts);
}

void futexwakeup(uint32_t *addr, uint32_t cnt)
{
	long r = sys3(__NR_futex, addr, FUTEX_WAKE_PRIVATE, cnt);
	if (r < 0)
		fatal("futexwakeup addr=%p returned %ld", (void *)addr, r);
}

/* ------------------------------------------------------------------------
 * memory
 * ------------------------------------------------------------------------ */

void *sysalloc(size_t n)
{
	long r = sys6(__NR_mmap, 0, n, PROT_READ | PROT_WRITE,
	              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r < 0 && r > -4096)
		return nil;
	return (void *)r;
}

int sysfree(void *p, size_t n)
{
	return (int)sys2(__NR_munmap, p, n);
}

/*
 * Guard pages. Where the kernel has guard regions (MADV_GUARD_INSTALL,
 * Linux 6.13), a guard is a mark on the pages' entries: the mapping stays
 * whole, so the stacks carved out of one slab (core/slab.c) cost one line
 * of /proc/self/maps between them, not two each, and vm.max_map_count no
 * longer bounds the number of Ms. The marks survive MADV_DONTNEED (the
 * stack cache's release) and fork. Elsewhere a guard is mprotect's
 * PROT_NONE, which splits the mapping around it (and fails with ENOMEM at
 * vm.max_map_count). guardprobe decides which, once, at osinit.
 */
static bool guardadvice;

int sysguard(void *p, size_t n)
{
	if (guardadvice)
		return (int)sys3(__NR_madvise, p, n, MADV_GUARD_INSTALL);
	return (int)sys3(__NR_mprotect, p, n, PROT_NONE);
}

/* Undoes sysguard: the pages read and write again (as zeros, if they were
 * never written), and with mprotect the kernel merges the mapping back. */
int sysunguard(void *p, size_t n)
{
	if (guardadvice)
		return (int)sys3(__NR_madvise, p, n, MADV_GUARD_REMOVE);
	return (int)sys3(__NR_mprotect, p, n, PROT_READ | PROT_WRITE);
}

bool sysguardsplits(void)
{
	return !guardadvice;
}

/* MRTDEBUG=mprotectguards=1, and the tests' way to run as on a kernel
 * without guard regions. */
void sysguardmprotect(void)
{
	guardadvice = false;
}

/*
 * guardprobe: do guard regions work here? A kernel before 6.13 refuses the
 * advice (EINVAL). QEMU user mode (7.2) answers 0 to advice it does not
 * know and does nothing, so success is not enough: the guard must be seen
 * to hold. The kernel's own write into the page (clock_gettime's result,
 * copied out to user memory) fails with EFAULT on a guard, where a missing
 * guard lets it through; a system call, so the probe cannot crash. Four
 * system calls and a page, at mrt_init.
 */
static void guardprobe(void)
{
	guardadvice = false;
	void *p = sysalloc(pagesize);
	if (p == nil)
		return;
	if (sys3(__NR_madvise, p, pagesize, MADV_GUARD_INSTALL) == 0)
		guardadvice = sys2(__NR_clock_gettime, L_CLOCK_MONOTONIC, p) == -EFAULT;
	sysfree(p, pagesize);
}

/* MADV_DONTNEED, not MADV_FREE: the pages leave the RSS at once (MADV_FREE
 * keeps them counted until the kernel needs memory), and Go's scavenger
 * made the same choice (1.16). The range reads as zeros afterwards. */
void sysunused(void *p, size_t n)
{
	sys3(__NR_madvise, p, n, MADV_DONTNEED);
}

/* Nothing to tell Linux: a released page comes back on first touch. */
void sysused(void *p, size_t n)
{
	(void)p, (void)n;
}

/* ------------------------------------------------------------------------
 * Ms
 * ------------------------------------------------------------------------ */

/* Nothing more per M on Linux, in either model: core's gsignalalloc made
 * the signal stack, and locks sleep on futexes, which need no setup. */
void mpreinit(m *mp)
{
	(void)mp;
}

/* ------------------------------------------------------------------------
 * time, scheduling, identity
 * ------------------------------------------------------------------------ */

/*
 * nanotime reads CLOCK_MONOTONIC through the vDSO's clock_gettime, found by
 * osinit (vdso_linux.c), with no system call: about 25 ns here, against
 * 170 for clock_gettime(2). Where there is no vDSO (QEMU user mode maps
 * none for its guests) it makes the system call. The vDSO function is the
 * kernel's code, with the kernel's idea of stack use (a hardened build
 * with stack probes can take a page, Go issue 20427): called from a user g
 * it runs on g0 (core's oscallstack says where; ctx_call_on goes there
 * and back), as Go's nanotime1 does. Async-signal-safe: see oscallstack.
 */
static int (*vdsoclock)(long clock, struct l_timespec *ts); /* set at osinit */

struct vdsocall {
	int (*fn)(long clock, struct l_timespec *ts);
	struct l_timespec *ts;
};

static void vdsocallon(void *arg)
{
	struct vdsocall *c = arg;
	c->fn(L_CLOCK_MONOTONIC, c->ts);
}

int64_t nanotime(void)
{
	struct l_timespec ts;
	int (*fn)(long, struct l_timespec *) = vdsoclock;
	if (likely(fn != nil)) {
		void *st = oscallstack();
		if (likely(st == nil)) {
			fn(L_CLOCK_MONOTONIC, &ts);
		} else {
			struct vdsocall c = { fn, &ts };
			ctx_call_on(st, vdsocallon, &c);
		}
	} else {
		sys2(__NR_clock_gettime, L_CLOCK_MONOTONIC, &ts);
	}
	return ts.sec * 1000000000 + ts.nsec;
}

#ifdef MRT_TESTHOOKS
static int (*vdsoclockfound)(long clock, struct l_timespec *ts);

void *mrt_test_vdsoclock(void)
{
	return (void *)vdsoclockfound;
}

void mrt_test_setvdsoclock(void *fn)
{
	vdsoclock = fn != nil ? (int (*)(long, struct l_timespec *))fn : vdsoclockfound;
}

void mrt_test_novdso(void)
{
	vdsoclock = nil;
}
#endif

void osyield(void)
{
	sys0(__NR_sched_yield);
}

/* The kernel's timer slack lets a timed sleep overrun by 50 us by default,
 * to batch wakeups; the monitor's sleeps are shorter than that (core/
 * sysmon.c). 1 ns is the least the kernel takes (0 means "the default"). */
void ostimerslack(void)
{
	sys2(__NR_prctl, L_PR_SET_TIMERSLACK, 1);
}

void osusleep(int64_t us)
{
	struct l_timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (sys4(__NR_clock_nanosleep, L_CLOCK_MONOTONIC, 0, &ts, &ts) == -EINTR) {
	}
}

int32_t osgettid(void)
{
	return (int32_t)sys0(__NR_gettid);
}

/* sigaltstack(2) in core's terms (runtime.h: ossigaltstack). The kernel
 * reports SS_ONSTACK while the thread runs on the stack; it is a state,
 * not a mode, and is not handed back. The mode bits (SS_AUTODISARM) are,
 * for a disabled stack too, which keeps them: a thread's stack put back
 * (core/signal.c) reads exactly as it did. */
int ossigaltstack(const sigstk *ss, sigstk *old)
{
	struct l_stack n, o;
	if (ss != nil) {
		n.sp = (void *)ss->lo;
		n.size = ss->hi - ss->lo;
		n.flags = ss->hi == 0 ? L_SS_DISABLE | ss->flags : ss->flags;
	}
	long r = sys2(__NR_sigaltstack, ss != nil ? &n : nil, old != nil ? &o : nil);
	if (r < 0)
		return (int)r;
	if (old != nil) {
		bool off = (o.flags & L_SS_DISABLE) != 0;
		old->lo = off ? 0 : (uintptr_t)o.sp;
		old->hi = off ? 0 : (uintptr_t)o.sp + o.size;
		old->flags = o.flags & ~(L_SS_ONSTACK | L_SS_DISABLE);
	}
	return 0;
}

int oswrite(int fd, const void *p, size_t n)
{
	return (int)sys3(__NR_write, fd, p, n);
}

int oscreate(const char *path)
{
	return (int)sys4(__NR_openat, L_AT_FDCWD, path,
	                 L_O_WRONLY | L_O_CREAT | L_O_TRUNC | L_O_CLOEXEC, 0644);
}

/* A 64-bit offset is one argument on every 64-bit CPU. */
int ospwrite(int fd, const void *p, size_t n, int64_t off)
{
	long r;
	do
		r = sys4(__NR_pwrite64, fd, p, n, off);
	while (r == -EINTR);
	return (int)r;
}

void osabort(void)
{
	/* SIGABRT with its default action, unblocked, to this thread: the
	 * process dies with the signal a debugger and a parent expect. */
	long zero[4] = { 0, 0, 0, 0 }; /* struct sigaction, SIG_DFL */
	sys4(__NR_rt_sigaction, L_SIGABRT, zero, 0, sizeof(os_sigset));
	os_sigset set = 1ull << (L_SIGABRT - 1);
	sys4(__NR_rt_sigprocmask, L_SIG_UNBLOCK, &set, 0, sizeof set);
	sys3(__NR_tgkill, sys0(__NR_getpid), sys0(__NR_gettid), L_SIGABRT);
	sys1(__NR_exit_group, 127);
	__builtin_unreachable();
}

/*
 * setthreadname names the calling thread after its M (core's mthreadname:
 * "mrt/M12" by default), so that it shows in /proc/<pid>/task/<tid>/comm,
 * top -H, ps -L, gdb's "info threads" and perf. A failure changes nothing
 * that matters and is ignored.
 *
 * The cost is one system call per M, on the M: prctl(PR_SET_NAME). A cold
 * clone-model M's whole life is otherwise five (clone, sigaltstack,
 * rt_sigprocmask, exit, and the joiner's futex wait), so names make it six:
 * that is why naming is opt-in (MRT_F_THREAD_NAMES).
 */
void setthreadname(m *mp)
{
	char name[16]; /* the kernel's TASK_COMM_LEN, NUL included */
	if (mthreadname(mp, name, sizeof name) > 0)
		sys2(__NR_prctl, L_PR_SET_NAME, name);
}

/*
 * atexit is libc's (glibc's libc_nonshared, over __cxa_atexit with this
 * object's __dso_handle: the handler runs at exit(3), or when a libmrt.so
 * that was dlopened is closed). Called once, by mrt_init on m0, libc's
 * thread, when MRTDEBUG=trace asks for a trace file (core/tracefile.c);
 * the handler runs on whichever thread calls exit, which is libc land too.
 * tests/freestanding.py allows it.
 */
extern int atexit(void (*fn)(void));

int osatexit(void (*fn)(void))
{
	return atexit(fn) == 0 ? 0 : -ENOMEM;
}

/* environ is libc's variable, read only at mrt_init on m0. */
const char *osgetenv(const char *name)
{
	if (environ == nil)
		return nil;
	for (char **e = environ; *e != nil; e++) {
		const char *s = *e, *n = name;
		while (*n != '\0' && *s == *n)
			s++, n++;
		if (*n == '\0' && *s == '=')
			return s + 1;
	}
	return nil;
}

/* ------------------------------------------------------------------------
 * osinit and m0's stack
 * ------------------------------------------------------------------------ */

static int32_t getncpu(void)
{
	uint64_t mask[16];
	long r = sys3(__NR_sched_getaffinity, 0, sizeof mask, mask);
	if (r <= 0)
		return 1;
	int32_t n = 0;
	for (long i = 0; i < r / 8; i++)
		for (uint64_t w = mask[i]; w != 0; w &= w - 1)
			n++;
	return n > 0 ? n : 1;
}

int osinit(void)
{
	/*
	 * The page size: 4 KiB on amd64 and riscv64, but 16 KiB (Raspberry Pi
	 * 5, Asahi) or 64 KiB (many servers) on arm64 kernels. The kernel
	 * hands it to every process in the auxiliary vector (AT_PAGESZ), which
	 * glibc keeps: getauxval is a read of that, needing no /proc. Called
	 * once, here, on m0 (like environ); never on an M. Every kernel gives
	 * AT_PAGESZ, and nothing in mrt can work from a guessed size.
	 */
	uintptr_t ps = (uintptr_t)getauxval(L_AT_PAGESZ);
	if (ps == 0 || (ps & (ps - 1)) != 0)
		fatal("the kernel gave no page size (AT_PAGESZ=%zu)", (size_t)ps);
	pagesize = ps;
	ncpu = getncpu();
	guardprobe();
	/* Before any M exists: Ms read vdsoclock without a barrier, and
	 * every M is created after this (its creation orders it). */
	vdsoclock = (int (*)(long, struct l_timespec *))vdsosym(ARCH_VDSO_CLOCK_GETTIME,
	                                                        ARCH_VDSO_VERSION);
	rseqinit();
#ifdef MRT_TESTHOOKS
	vdsoclockfound = vdsoclock;
#endif
	/* The init mask: what every new M will run with. */
	long r = sys4(__NR_rt_sigprocmask, L_SIG_SETMASK, 0, &cfg.initsigmask,
	              sizeof cfg.initsigmask);
	return r < 0 ? (int)r : 0;
}

static uintptr_t parsehex(const char **sp)
{
	uintptr_t v = 0;
	const char *s = *sp;
	for (;; s++) {
		char c = *s;
		if (c >= '0' && c <= '9')
			v = v << 4 | (uintptr_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uintptr_t)(c - 'a' + 10);
		else
			break;
	}
	*sp = s;
	return v;
}

/*
 * mainstacklo is the lowest address the main thread's stack [lo, hi) — a
 * mapping that grows down on demand — can reach: RLIMIT_STACK (lim) below
 * hi, but no closer than the kernel's guard gap to the end of the mapping
 * below it (prevend). It is never above lo: what is mapped is the stack.
 */
uintptr_t mainstacklo(uintptr_t lo, uintptr_t hi, uintptr_t prevend, uint64_t lim)
{
	uintptr_t low = lim < (uint64_t)hi ? hi - (uintptr_t)lim : 0;
	/* The kernel keeps a guard gap above the mapping below: its
	 * stack_guard_gap, 256 pages of the real page size (4 MiB with 16 KiB
	 * pages, 16 MiB with 64 KiB). */
	uintptr_t gap = 256 * pagesize;
	if (low < prevend + gap)
		low = prevend + gap;
	return low < lo ? low : lo;
}

/*
 * m0stack finds the mapping that holds the caller's stack in
 * /proc/self/maps. For the main thread's "[stack]", which grows on demand,
 * lo is where it may grow to: RLIMIT_STACK below hi, but not into the
 * mapping below it. For any other thread it is the mapping itself.
 */
void m0stack(stack *s)
{
	uintptr_t sp = arch_getsp();
	char buf[4096];
	char line[512];
	size_t ll = 0;
	uintptr_t prevend = 0;
	s->lo = s->hi = 0;

	long fd = l_open("/proc/self/maps");
	if (fd < 0)
		goto guess;
	long n;
	while (s->hi == 0 && (n = l_read((int)fd, buf, sizeof buf)) > 0) {
		for (long i = 0; i < n && s->hi == 0; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof line - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = '\0';
			ll = 0;
			const char *p = line;
			uintptr_t lo = parsehex(&p);
			p++; /* '-' */
			uintptr_t hi = parsehex(&p);
			if (sp >= lo && sp < hi) {
				bool mainstack = false;
				for (const char *q = p; *q; q++)
					if (q[0] == '[' && q[1] == 's' && q[2] == 't')
						mainstack = true;
				s->hi = hi;
				s->lo = lo;
				if (mainstack) {
					struct l_rlimit rl;
					uint64_t lim = 8u << 20; /* unknown or unlimited */
					if (sys4(__NR_prlimit64, 0, L_RLIMIT_STACK, 0, &rl) == 0 &&
					    rl.cur < (uint64_t)hi)
						lim = rl.cur;
					s->lo = mainstacklo(lo, hi, prevend, lim);
				}
			}
			prevend = hi;
		}
	}
	l_close((int)fd);
	if (s->hi != 0)
		return;
guess:
	/* No /proc: an estimate around the current frame, as Go's osStack. */
	s->hi = round_up(sp, pagesize);
	s->lo = s->hi - (64u << 10);
}
