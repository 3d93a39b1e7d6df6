/*
 * probes.h — the USDT probes at the M events: which probe each MTRACE
 * point is, and what it passes. Included by runtime.h, whose MTRACE puts
 * the probe of its event at every trace point, so the probes are exactly
 * the M events mtrace prints and tracefile.c records.
 *
 * A probe is spelt by the platform (os.h's OS_PROBE3: SystemTap's SDT notes
 * on Linux where <sys/sdt.h> exists, nothing elsewhere), so core names no
 * OS and no header of one. Until a tool attaches, a probe is one nop and an
 * ELF note: no call, no branch, no libc, and its arguments are read only
 * by the tool, from where the note says they are. perf, bpftrace and gdb
 * list them (README: "Probes"):
 *
 *   gdb:      info probes stap mrt      break -probe-stap mrt:started
 *   bpftrace: usdt:PROGRAM:mrt:started { printf("M%d\n", arg0); }
 *
 * Every probe is mrt:NAME(id, tid, arg): the M's id (-1 for a creation that
 * failed before it took one), its kernel thread id (0 before the thread
 * exists), and a word that depends on the event:
 *
 *   created      0        on the creating thread, before the M's thread exists
 *   started      0        on the new M, before its function (m0: in mrt_init)
 *   parked       spin     on the M, on the idle list, about to sleep; 1 when
 *                         it spins for work first (core/spin.c)
 *   woken        0        on the M, woken with new work
 *   exiting      why      on the M at its end: 0 when its function ended it,
 *                         1 when it retires after its idle time
 *                         (mrt_config.idle_ns), 2 when its thread ended
 *                         outside mrt (MT_WHY_* in runtime.h)
 *   reaped       0        on the thread that reaps it (its stacks freed)
 *   failed       -errno   a creation that failed: on the creator, or on the
 *                         new M when its own setup (minit) failed
 *   attached     0        on a thread mrt did not make, now an M (mrt_needm)
 *   dropped      why      on that thread, its M ending (mrt_dropm: 0; 2 when
 *                         the thread ended with its M attached)
 *
 * and the blocking sections' (#13: mrt_entersyscall and its monitor M),
 * which their code places with MTRACE(MT_ENTERSYSCALL, mp, 0) and so on:
 *
 *   entersyscall 0        on the M, entering a blocking section
 *   exitsyscall  lost     on the M, leaving it; 1 when its P was retaken
 *   retaken      0        on the monitor: the M's P taken from its section
 *   handedoff    -errno   that P handed to the hand-off function; 0, or the
 *                         error it was told (no M for the P)
 */
#ifndef MRT_PROBES_H
#define MRT_PROBES_H

/* The probe of event ev (an MT_ name, as written: token pasting picks the
 * probe, whose name must be a literal in the note). */
#define MPROBE(ev, mp, arg) MPROBE_##ev(mp, arg)

/* mp is an m, or a literal nil (a creation that failed before it had an
 * M): _Generic tells them apart at compile time, so an M's probe reads
 * mp->id and mp->procid straight from the m (memory operands, no code) and
 * nil's passes constants. procid is written by the kernel as the thread is
 * born; the probe reads whatever is there when it fires. */
#define MPROBE_ID_(mp) _Generic((mp), void *: (int64_t)-1, default: ((const m *)(mp))->id)
#define MPROBE_TID_(mp) _Generic((mp), void *: (int32_t)0, default: ((const m *)(mp))->procid)
#define MPROBE_M_(name, mp, arg) OS_PROBE3(name, MPROBE_ID_(mp), MPROBE_TID_(mp), (int64_t)(arg))

#define MPROBE_MT_CREATED(mp, arg) MPROBE_M_(created, mp, arg)
#define MPROBE_MT_STARTED(mp, arg) MPROBE_M_(started, mp, arg)
#define MPROBE_MT_PARKED(mp, arg) MPROBE_M_(parked, mp, arg)
#define MPROBE_MT_WOKEN(mp, arg) MPROBE_M_(woken, mp, arg)
#define MPROBE_MT_EXITING(mp, arg) MPROBE_M_(exiting, mp, arg)
#define MPROBE_MT_REAPED(mp, arg) MPROBE_M_(reaped, mp, arg)
#define MPROBE_MT_FAILED(mp, arg) MPROBE_M_(failed, mp, arg)
#define MPROBE_MT_ATTACHED(mp, arg) MPROBE_M_(attached, mp, arg)
#define MPROBE_MT_DROPPED(mp, arg) MPROBE_M_(dropped, mp, arg)
#define MPROBE_MT_ENTERSYSCALL(mp, arg) MPROBE_M_(entersyscall, mp, arg)
#define MPROBE_MT_EXITSYSCALL(mp, arg) MPROBE_M_(exitsyscall, mp, arg)
#define MPROBE_MT_RETAKEN(mp, arg) MPROBE_M_(retaken, mp, arg)
#define MPROBE_MT_HANDEDOFF(mp, arg) MPROBE_M_(handedoff, mp, arg)

#endif
