# mrt-gdb.py — gdb commands for programs built on mrt (Go's runtime-gdb.py,
# for Ms).
#
#   (gdb) source tools/mrt-gdb.py
#   (gdb) info mrt            every M on allm (and those exited, not reaped)
#   (gdb) mrt bt 3 [full]     backtrace of M3's thread, parked or running
#
# It reads mrt's own bookkeeping — allm, sched, struct mrt_m — from the
# program's debug info, so it works the same on a live process and on a core
# file, in both thread models. Those are internal symbols: local in the
# prelinked libmrt.a (tools/build/prelink.sh keeps them, and their debug info, while
# making them invisible to the linker) and hidden in libmrt.so, so the
# program needs mrt's debug info (any build type but plain release).
#
# Matching an M to gdb's thread goes through the kernel tid: m->procid is
# the LWP that gdb shows, live or in a core. A parked M's backtrace ends in
# futexsleep < notesleep < mpark < mstart; a running M shows whatever it
# runs, on g0 or on a user g's own stack. The monitor M (core/sysmon.c, the
# M that takes Ps from blocking sections) is named "monitor" at the end of
# its row, as mrt_dump names it.

import gdb

STATES = {0: "pooled", 1: "starting", 2: "running", 3: "idle", 4: "exiting", 5: "attached"}
KIND_G0, KIND_SIGNAL = 1, 2


def _tag(t):
    """The struct tag of t, or of what t points to: "mrt_m" for m *."""
    t = t.strip_typedefs()
    if t.code == gdb.TYPE_CODE_PTR:
        t = t.target().strip_typedefs()
    return t.tag


def _symbol_value(name, tag, pointer):
    """The variable `name` of type struct tag (or a pointer to one). mrt's
    internal symbols are file-local in a static build, and the program may
    have a symbol of the same name, so the type decides."""
    cands = []
    sym = gdb.lookup_global_symbol(name)
    if sym is not None:
        cands.append(sym)
    try:
        cands += list(gdb.lookup_static_symbols(name))
    except AttributeError:  # gdb < 10
        sym = gdb.lookup_static_symbol(name)
        if sym is not None:
            cands.append(sym)
    for sym in cands:
        try:
            v = sym.value()
        except gdb.error:
            continue
        isptr = v.type.strip_typedefs().code == gdb.TYPE_CODE_PTR
        if _tag(v.type) == tag and isptr == pointer:
            return v
    raise gdb.GdbError(
        "mrt: no %s (struct %s%s) found: is this program built on mrt, with debug info?"
        % (name, tag, " *" if pointer else ""))


def _allm():
    return _symbol_value("allm", "mrt_m", True)


def _sched():
    return _symbol_value("sched", "schedt", False)


def _walk(head, field):
    seen = set()
    mp = head
    while int(mp) != 0:
        addr = int(mp)
        if addr in seen:  # a core taken mid-update could loop
            break
        seen.add(addr)
        yield mp
        mp = mp[field]


def _threads_by_lwp():
    out = {}
    inf = gdb.selected_inferior()
    for t in inf.threads():
        pid, lwp, tid = t.ptid
        out[lwp if lwp != 0 else pid] = t
    return out


def _gname(mp):
    gp = mp["curg"]
    if int(gp) == 0 or int(gp) == int(mp["g0"]):
        return "g0"
    if int(gp) == int(mp["gsignal"]):
        return "gsignal"
    return "g%d" % int(gp["goid"])


def _stack(gp):
    st = gp["stack"]
    return "[0x%x, 0x%x)" % (int(st["lo"]), int(st["hi"]))


def _fnname(addr):
    if addr == 0:
        return "-"
    try:
        blk = gdb.block_for_pc(addr)
        if blk is not None and blk.function is not None:
            return blk.function.name
    except RuntimeError:
        pass
    return "0x%x" % addr


def _ms():
    """Every M mrt knows: those on allm, then those on freem (exited, not yet
    reaped), as (m, where)."""
    for mp in _walk(_allm(), "alllink"):
        yield mp, "allm"
    for mp in _walk(_sched()["freem"], "freelink"):
        yield mp, "freem"


def _find(mid):
    for mp, where in _ms():
        if int(mp["id"]) == mid:
            return mp
    return None


class InfoMrt(gdb.Command):
    """List every M: id, kernel tid, gdb thread, state, g0 and gsignal stacks,
current g and the function it was started with.
Usage: info mrt"""

    def __init__(self):
        super().__init__("info mrt", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        s = _sched()
        threads = _threads_by_lwp()
        gdb.write("mrt: mnext=%d exited=%d failed=%d idle=%d unreaped=%d limit=%d\n" % (
            int(s["mnext"]), int(s["nmfreed"]), int(s["nmfailed"]), int(s["nmidle"]),
            int(s["nfreem"]), int(s["maxmcount"])))
        gdb.write("  %-7s %-8s %-6s %-9s %-34s %-34s %-8s %s\n" % (
            "M", "tid", "thread", "state", "g0 stack", "gsignal stack", "curg", "fn"))
        n = 0
        for mp, where in _ms():
            tid = int(mp["procid"])
            th = threads.get(tid)
            state = STATES.get(int(mp["status"]), "?%d" % int(mp["status"]))
            if where == "freem":
                state = "exited"
            fn = _fnname(int(mp["mstartfn"]))
            gdb.write("  %-7s %-8s %-6s %-9s %-34s %-34s %-8s %s%s\n" % (
                "M%d" % int(mp["id"]), str(tid) if tid > 0 else "-",
                str(th.num) if th is not None else "-", state,
                _stack(mp["g0"]), _stack(mp["gsignal"]), _gname(mp), fn,
                " monitor" if fn == "sysmon" else ""))
            n += 1
        gdb.write("%d Ms\n" % n)


class Mrt(gdb.Command):
    """Commands for mrt's Ms: mrt bt <id>."""

    def __init__(self):
        super().__init__("mrt", gdb.COMMAND_DATA, prefix=True)


class MrtBt(gdb.Command):
    """Backtrace of M <id>'s thread, parked or running.
Usage: mrt bt <id> [bt options, e.g. full]"""

    def __init__(self):
        super().__init__("mrt bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: mrt bt <M id> [full]")
        try:
            mid = int(argv[0].lstrip("Mm"))
        except ValueError:
            raise gdb.GdbError("mrt bt: not an M id: %s" % argv[0])
        mp = _find(mid)
        if mp is None:
            raise gdb.GdbError("mrt bt: no M%d on allm or freem" % mid)
        tid = int(mp["procid"])
        th = _threads_by_lwp().get(tid)
        state = STATES.get(int(mp["status"]), "?")
        if th is None:
            raise gdb.GdbError("mrt bt: M%d (%s) has no thread%s" % (
                mid, state, " with tid %d" % tid if tid > 0 else " yet"))
        gdb.write("M%d tid %d (gdb thread %d) %s, curg %s\n" % (
            mid, tid, th.num, state, _gname(mp)))
        prev = gdb.selected_thread()
        try:
            th.switch()
            gdb.execute("bt " + " ".join(argv[1:]), from_tty)
        finally:
            if prev is not None and prev.is_valid():
                prev.switch()


InfoMrt()
Mrt()
MrtBt()
