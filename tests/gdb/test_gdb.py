#!/usr/bin/env python3
"""test_gdb.py GDB LIFE_OF_M MRT_GDB_PY [GOROUTINES] — tools/mrt-gdb.py on a
live process and on a core file.

gdb runs examples/life-of-m in batch mode and stops it at
life_of_m_checkpoint(), where M2 runs a user g, M3 is parked and M4 is a
pthread of the program's attached by mrt_needm. There it
runs `info mrt`, `mrt bt` on each M and on an M that does not exist, and
writes a core file with gcore; a second gdb then loads that core and runs
the same commands. Both must agree with the table the example printed with
mrt_dump just before the checkpoint: same Ms, tids, states, stacks and
current gs. The parked M's backtrace must go through mrt's park
(notesleep < mpark < mstart), the running M's through its user g's
function.

The live half runs twice: with the guard pages mrt makes by default, and
with MRTDEBUG=mprotectguards=1, in which run the core is written. gdb 13's
gcore stops copying a mapping at the first page it cannot read, and a guard
region (Linux 6.13's MADV_GUARD_INSTALL, which mrt uses where the kernel has
it) cannot be read even by a debugger: a core gcore writes then lacks every
slab of stacks and m structs. (The kernel's own core dumps write guard
regions as zeros.)

With GOROUTINES (examples/goroutines), a third session stops it where the
monitor M hands a blocked section's P off (gr_handoff, #13 item 3): `info
mrt` must name exactly one M "monitor", the M running sysmon, and that M
must be the thread that hit the breakpoint; `mrt bt` of it must show the
hand-off called from the monitor (gr_handoff < handoffp < sysmon).

Exit 77 (skipped) only when the machine forbids ptrace. With MRT_GDB_NO_CORE
set (sanitizer builds: gcore cannot write a usable core of a process with a
sanitizer's terabytes of shadow mappings), the core-file half is skipped and
the reason printed.
"""
import os
import re
import subprocess
import sys
import tempfile

ROW = re.compile(r"^\s+M(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+\[(0x[0-9a-f]+), (0x[0-9a-f]+)\)\s+"
                 r"\[(0x[0-9a-f]+), (0x[0-9a-f]+)\)\s+(\S+)\s+(\S+)(?:\s+(monitor))?\s*$")
DUMP = re.compile(r"^\s+M(\d+)\s+tid (\d+)\s+(\S+)\s+g0 \[(0x[0-9a-f]+), (0x[0-9a-f]+)\) "
                  r"gsignal \[(0x[0-9a-f]+), (0x[0-9a-f]+)\) curg (\S+)\s*$")

failures = []


def check(cond, what, out=None):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)
        if out is not None:
            print("----- output -----\n" + out + "\n------------------")


def verdict(ok):
    """The exit status: 1 after any failed check (counted), else 0 with ok said."""
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print(ok)
    return 0


def gdb(args, cwd):
    r = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=300)
    return r.stdout


def rows_of(out):
    """info mrt's rows: id -> (tid, thread, state, g0 lo, hi, gsignal lo, hi, curg, fn,
    "monitor" or None)."""
    rows = {}
    for line in out.splitlines():
        m = ROW.match(line)
        if m:
            rows[int(m.group(1))] = m.groups()[1:]
    return rows


def bt_of(out, mid):
    """The lines `mrt bt <mid>` printed: from its header to the next header."""
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if re.match(r"^M%d tid \d+ \(gdb thread \d+\)" % mid, l):
            j = i + 1
            while j < len(lines) and lines[j].startswith("#"):
                j += 1
            return "\n".join(lines[i:j])
    return ""


COMMANDS = ["info mrt", "mrt bt 3", "mrt bt 2", "mrt bt 0", "mrt bt 4", "mrt bt 99"]

# A sanitizer's runtime may be the innermost frames (an instrumented atomic
# load, say) wherever the program happens to stop; C and C++ (__tsan::) names.
SANITIZER_FRAME = ("__tsan", "__asan", "__ubsan", "__sanitizer", "__interceptor")


def frames_of(bt):
    return [f for f in re.findall(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+)", bt, re.M)
            if not f.startswith(SANITIZER_FRAME)]


def check_session(out, dump, what):
    rows = rows_of(out)
    check(sorted(rows) == [0, 2, 3, 4], "%s: info mrt lists M0, M2, M3, M4" % what, out)
    # M1 returned before the checkpoint; whether it is reaped by then is the
    # scheduler's business (the next allocm reaps it once its thread is
    # gone). Until then info mrt shows it too, as exited, and counts it.
    unreaped = re.search(r"^mrt: .* unreaped=(\d+) ", out, re.M)
    k = int(unreaped.group(1)) if unreaped else -1
    check(k in (0, 1), "%s: info mrt: at most M1 unreaped" % what, out)
    if k == 1:
        check(re.search(r"^  M1 .* exited ", out, re.M) is not None,
              "%s: info mrt: M1, unreaped, shown exited" % what, out)
    check(re.search(r"^%d Ms$" % (4 + k), out, re.M) is not None,
          "%s: info mrt counts 4 Ms and the unreaped" % what, out)
    for mid, want in dump.items():
        got = rows.get(mid)
        if got is None:
            continue
        tid, thread, state, g0lo, g0hi, gslo, gshi, curg, fn, mon = got
        dtid, dstate, dg0lo, dg0hi, dgslo, dgshi, dcurg = want
        check(tid == dtid, "%s: M%d tid %s, mrt_dump says %s" % (what, mid, tid, dtid))
        check(state == dstate, "%s: M%d state %s, mrt_dump says %s" % (what, mid, state, dstate))
        check((g0lo, g0hi, gslo, gshi) == (dg0lo, dg0hi, dgslo, dgshi),
              "%s: M%d stacks agree with mrt_dump" % (what, mid), out)
        check(curg == dcurg, "%s: M%d curg %s, mrt_dump says %s" % (what, mid, curg, dcurg))
        check(thread != "-", "%s: M%d matched to a gdb thread" % (what, mid), out)
    if 3 in rows:
        check(rows[3][2] == "idle" and rows[3][8] == "parker", "%s: M3 idle in parker" % what, out)
    if 2 in rows:
        check(rows[2][2] == "running" and re.match(r"g[1-9]\d*$", rows[2][7]) is not None
              and rows[2][8] == "withg", "%s: M2 running a user g, started in withg" % what, out)
    if 4 in rows:
        check(rows[4][2] == "attached" and rows[4][7] == "g0" and rows[4][8] == "-",
              "%s: M4 attached, on g0, started by no mrt_newm" % what, out)

    bt3 = bt_of(out, 3)
    frames3 = frames_of(bt3)
    check("mpark" in frames3 and "mstart" in frames3 and "notesleep" in frames3,
          "%s: mrt bt 3 shows the park (notesleep < mpark < mstart): %s" % (what, frames3), out)
    check(frames3.index("notesleep") < frames3.index("mpark") < frames3.index("mstart")
          if {"notesleep", "mpark", "mstart"} <= set(frames3) else False,
          "%s: mrt bt 3 in calling order" % what)
    bt2 = bt_of(out, 2)
    frames2 = frames_of(bt2)
    check(len(frames2) > 0 and frames2[0] == "ontheg" and "gentry" in frames2,
          "%s: mrt bt 2 shows the user g's frames (ontheg < gentry): %s" % (what, frames2), out)
    frames0 = frames_of(bt_of(out, 0))
    check(frames0[:2] == ["life_of_m_checkpoint", "main"],
          "%s: mrt bt 0 is the main thread at the checkpoint: %s" % (what, frames0), out)
    frames4 = frames_of(bt_of(out, 4))
    check("foreign" in frames4,
          "%s: mrt bt 4 is the attached pthread, in its own function: %s" % (what, frames4), out)
    check("mrt bt: no M99 on allm or freem" in out, "%s: mrt bt of an unknown M says so" % what,
          out)
    check(all(r[9] is None for r in rows.values()), "%s: no M is named monitor" % what, out)


def check_monitor(gdbexe, script, goroutines, tmp):
    """#13 item 3: info mrt names the monitor M, the one handing off a P."""
    # 2 Ps, 2 gs blocked in read(2) on pipes: only the monitor's hand-offs
    # of their Ps let the other gs run, so gr_handoff is reached for sure.
    args = [gdbexe, "-nx", "-batch", "-ex", "set pagination off",
            "-ex", "set debuginfod enabled off", "-ex", "source " + script,
            "-ex", "break gr_handoff", "-ex", "run", "-ex", "info mrt",
            "-ex", "mrt bt 1", "-ex", "kill",
            "--args", goroutines, "-n", "100", "-p", "2", "-s", "2"]
    out = gdb(args, tmp)
    hit = re.search(r"^Thread (\d+) .*hit Breakpoint 1, gr_handoff", out, re.M)
    check(hit is not None, "monitor: gdb stopped in gr_handoff", out)
    rows = rows_of(out)
    named = [mid for mid, r in rows.items() if r[9] == "monitor"]
    check(len(named) == 1, "monitor: exactly one M named monitor: %s" % named, out)
    if len(named) != 1:
        return
    mid = named[0]
    r = rows[mid]
    check(r[8] == "sysmon", "monitor: M%d, named monitor, runs sysmon (fn %s)" % (mid, r[8]), out)
    check(all(rr[8] != "sysmon" for m2, rr in rows.items() if m2 != mid),
          "monitor: no other M runs sysmon", out)
    check(hit is not None and r[1] == hit.group(1),
          "monitor: M%d is gdb thread %s, the one in gr_handoff (thread %s)"
          % (mid, r[1], hit.group(1) if hit else "?"), out)
    # The monitor is the first M mrt_init starts (the example's Ms come
    # after): M1, whose backtrace the session printed.
    check(mid == 1, "monitor: it is M1, mrt_init's first M (M%d)" % mid, out)
    frames = frames_of(bt_of(out, 1))
    want = ["gr_handoff", "handoffp", "sysmon"]
    check(set(want) <= set(frames) and
          frames.index("gr_handoff") < frames.index("handoffp") < frames.index("sysmon"),
          "monitor: mrt bt 1 shows gr_handoff < handoffp < sysmon: %s" % frames, out)


def main():
    gdbexe, exe, script = sys.argv[1:4]
    goroutines = os.path.abspath(sys.argv[4]) if len(sys.argv) > 4 else None
    exe = os.path.abspath(exe)
    script = os.path.abspath(script)
    with tempfile.TemporaryDirectory(prefix="mrt-gdb-") as tmp:
        core = os.path.join(tmp, "life-of-m.core")
        base = [gdbexe, "-nx", "-batch", "-ex", "set pagination off",
                "-ex", "set debuginfod enabled off", "-ex", "source " + script]
        nocore = os.environ.get("MRT_GDB_NO_CORE")
        for guards in ("default", "mprotect"):
            # Thread names are opt-in; MRTDEBUG turns them on without a
            # rebuild, and mprotect guards for gcore (see above).
            env = "threadnames=1" + (",mprotectguards=1" if guards == "mprotect" else "")
            live = base + ["-ex", "set environment MRTDEBUG " + env,
                           "-ex", "break life_of_m_checkpoint", "-ex", "run",
                           "-ex", "info threads"]
            for c in COMMANDS:
                live += ["-ex", c]
            if not nocore and guards == "mprotect":
                live += ["-ex", "gcore " + core]
            live += ["-ex", "kill", exe]
            out = gdb(live, tmp)
            if "ptrace: Operation not permitted" in out or "Could not trace the inferior" in out:
                print("gdb cannot ptrace here: skipped\n" + out)
                return 77
            what = "live (%s guards)" % guards
            check("hit Breakpoint 1, life_of_m_checkpoint" in out,
                  what + ": gdb stopped at the checkpoint", out)

            dump = {}
            for line in out.splitlines():
                m = DUMP.match(line)
                if m:
                    dump[int(m.group(1))] = m.groups()[1:]
            check(sorted(dump) == [0, 2, 3, 4],
                  what + ": the example's mrt_dump lists M0, M2, M3, M4",
                  out)
            check_session(out, dump, what)
            model = re.search(r"mrt_dump: every M on allm, newest first \((\w+) model\)", out)
            if model and model.group(1) in ("clone", "pthread"):
                # Thread names, as gdb shows them (both models name Ms).
                check('"mrt/M2"' in out and '"mrt/M3"' in out,
                      what + ": info threads shows mrt/M2 and mrt/M3", out)

        if nocore:
            print("core file half skipped: " + nocore)
        check(nocore or os.path.exists(core), "gcore wrote a core file", out)
        if os.path.exists(core) and not nocore:
            post = base[:]
            for c in COMMANDS:
                post += ["-ex", c]
            post += [exe, core]
            cout = gdb(post, tmp)
            check_session(cout, dump, "core")
        if goroutines:
            check_monitor(gdbexe, script, goroutines, tmp)

    return verdict("mrt-gdb.py: info mrt and mrt bt agree with mrt_dump, live and on a core file")


if __name__ == "__main__":
    sys.exit(main())
