#!/usr/bin/env python3
"""test_probes.py GDB LIFE_OF_M [GOROUTINES] — mrt's USDT probes, seen by gdb (#16 item 3).

examples/life-of-m is linked with libmrt.a, so its probes are in the
executable. gdb must list one probe mrt:<event> for every M event
(core/probes.h), each of them a single nop until a tool attaches; then,
with a breakpoint on every probe (`break -probe-stap mrt:NAME`) that prints
the probe's arguments (id, tid, arg) and continues, a run of the example
must hit each probe exactly once per M, for the Ms that have that event:

  started   m0 and M1, M2, M3, each with its kernel tid
  created   M1, M2, M3 (before their threads exist: tid 0)
  parked    M3, woken M3
  exiting   M1, M2, M3 (none retired), reaped M1, M2, M3, M4
  attached  M4 (a pthread mrt did not make), dropped M4 (its thread ended: 2)
  failed    once, id -1, -EAGAIN: the creation the thread limit refused

With GOROUTINES (examples/goroutines, -s 2: two gs block in read(2) until
the others are done), the blocking sections' probes: mrt:entersyscall and
mrt:exitsyscall on the Ms of the blocked gs, at least one exit reporting
its P lost (arg 1), mrt:retaken on the monitor for an M that had entered a
section, and mrt:handedoff for retaken Ps (arg 0: the hand-off got an M).

Exit 77 (skipped) only when the machine forbids ptrace.
"""
import collections
import os
import re
import sys
import tempfile

# The gdb test's helpers (this folder is on the path: it is the script's).
from test_gdb import check
import test_gdb

EVENTS = ["created", "started", "parked", "woken", "exiting", "reaped", "failed",
          "attached", "dropped"]
EAGAIN = 11

WANT = {
    "started": [0, 1, 2, 3],
    "created": [1, 2, 3],
    "parked": [3],
    "woken": [3],
    "exiting": [1, 2, 3],
    "reaped": [1, 2, 3, 4],
    "attached": [4],
    "dropped": [4],
    "failed": [-1],
}

SECTION_EVENTS = ["entersyscall", "exitsyscall", "retaken", "handedoff"]


def gdb(gdbexe, exe, script):
    """gdb's output for a run of the command file `script` on exe."""
    with tempfile.NamedTemporaryFile("w", suffix=".gdb") as f:
        f.write(script)
        f.flush()
        return test_gdb.gdb([gdbexe, "-nx", "-batch", "-x", f.name, exe], None)


HEAD = "set pagination off\nset confirm off\nset debuginfod enabled off\n"


def probe_script(events):
    """Breakpoints on the probes of events, each printing its arguments."""
    script = HEAD
    for ev in events:
        script += ("break -probe-stap mrt:%s\ncommands\nsilent\n"
                   "printf \"PROBE %s id=%%lld tid=%%d arg=%%lld\\n\", "
                   "$_probe_arg0, $_probe_arg1, $_probe_arg2\ncontinue\nend\n") % (ev, ev)
    return script + "run\n"


def probe_hits(out):
    hits = collections.defaultdict(list)
    for ev, mid, tid, arg in re.findall(r"^PROBE (\w+) id=(-?\d+) tid=(-?\d+) arg=(-?\d+)$",
                                        out, re.M):
        hits[ev].append((int(mid), int(tid), int(arg)))
    return hits


def check_sections(gdbexe, goroutines):
    """The blocking sections' probes in a run of examples/goroutines."""
    out = gdb(gdbexe, goroutines, HEAD + "info probes stap mrt\n")
    names = set(re.findall(r"^stap\s+mrt\s+(\w+)\s", out, re.M))
    for ev in SECTION_EVENTS:
        check(ev in names, "info probes lists mrt:%s" % ev, out)
    script = probe_script(SECTION_EVENTS).replace("run\n", "run -n 100 -p 2 -s 2\n")
    out = gdb(gdbexe, goroutines, script)
    # The program's own verdict, not gdb's: the monitor may reach a probe
    # while the process tears itself down (its last hand-off, which the
    # program no longer waits for), where gdb can no longer read the
    # probe's arguments and gives up the script before it sees the exit.
    check("ok: total 4950 (want 4950)" in out, "goroutines -s 2 ran to its end under gdb", out)
    hits = probe_hits(out)
    entered = {h[0] for h in hits["entersyscall"]}
    check(len(hits["entersyscall"]) >= 2 and
          len(hits["exitsyscall"]) == len(hits["entersyscall"]),
          "mrt:entersyscall and mrt:exitsyscall once per section, 2 sections at least: %d, %d"
          % (len(hits["entersyscall"]), len(hits["exitsyscall"])), out)
    check(any(arg == 1 for _, _, arg in hits["exitsyscall"]),
          "mrt:exitsyscall reports a P lost (arg 1): %s" % hits["exitsyscall"], out)
    check(hits["retaken"] and all(mid in entered for mid, _, _ in hits["retaken"]),
          "mrt:retaken names Ms that entered a section (%s): %s" % (sorted(entered),
                                                                   hits["retaken"]), out)
    # A hand-off follows its retake after the monitor's walk; the last may
    # not come before the program, which it no longer holds up, has ended.
    check(1 <= len(hits["handedoff"]) <= len(hits["retaken"]) and
          all(arg == 0 for _, _, arg in hits["handedoff"]),
          "mrt:handedoff for retaken Ps, with no error: %s" % hits["handedoff"], out)
    print("sections: %d entered, %d retaken, %d handed off" %
          (len(hits["entersyscall"]), len(hits["retaken"]), len(hits["handedoff"])))


def main():
    gdbexe, exe = sys.argv[1:3]
    goroutines = sys.argv[3] if len(sys.argv) > 3 else None
    # life-of-m runs to its end under gdb, where an ASan build's
    # LeakSanitizer cannot work ("does not work under ptrace") and fails
    # the exit. Leaks are the other suites' to find; gdb's inferior
    # inherits this environment. A build without ASan ignores it.
    os.environ["ASAN_OPTIONS"] = ":".join(
        o for o in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0") if o)

    # The probes, and the instruction at each (read from the file: gdb
    # disassembles an executable before it runs).
    out = gdb(gdbexe, exe, HEAD + "info probes stap mrt\n")
    probes = re.findall(r"^stap\s+mrt\s+(\w+)\s+(0x[0-9a-f]+)", out, re.M)
    names = {n for n, _ in probes}
    for ev in EVENTS:
        check(ev in names, "info probes lists mrt:%s" % ev, out)
    print("probes: %s" % ", ".join("%s@%s" % p for p in probes))
    if probes:
        out = gdb(gdbexe, exe, HEAD + "".join("x/i %s\n" % a for _, a in probes))
        insns = re.findall(r"^\s*0x[0-9a-f]+(?: <[^>]*>)?:\s+(\S+)", out, re.M)
        check(len(insns) == len(probes) and all(i == "nop" for i in insns),
              "every probe is one nop until attached: %s" % insns, out)

    # A run with every probe printing its arguments.
    out = gdb(gdbexe, exe, probe_script(EVENTS))
    if "ptrace: Operation not permitted" in out or "Could not trace the inferior" in out:
        print("gdb cannot ptrace here: skipped\n" + out)
        return 77
    check("exited normally" in out, "life-of-m ran to its end under gdb", out)
    hits = probe_hits(out)
    for ev in EVENTS:
        ids = sorted(h[0] for h in hits[ev])
        check(ids == WANT[ev], "mrt:%s hit once for each of M%s, got %s" % (ev, WANT[ev], ids),
              out)
    check(all(tid > 0 for _, tid, _ in hits["started"]),
          "mrt:started passes the M's kernel tid: %s" % hits["started"])
    check(all(tid == 0 for _, tid, _ in hits["created"]),
          "mrt:created comes before the thread exists (tid 0): %s" % hits["created"])
    check(all(arg == 0 for _, _, arg in hits["exiting"]),
          "mrt:exiting: no M retired: %s" % hits["exiting"])
    check([arg for _, _, arg in hits["dropped"]] == [2],
          "mrt:dropped: M4's thread ended with it attached (why 2): %s" % hits["dropped"])
    check(all(tid > 0 for _, tid, _ in hits["attached"]),
          "mrt:attached passes the thread's kernel tid: %s" % hits["attached"])
    check(hits["failed"] == [(-1, 0, -EAGAIN)],
          "mrt:failed: the refused creation, -EAGAIN: %s" % hits["failed"])
    # A started M's tid is the thread gdb saw.
    lwps = {int(x) for x in re.findall(r"\(LWP (\d+)\)", out)}
    mine = [h for h in hits["started"] + hits["attached"] if h[0] != 0]
    check(all(tid in lwps for _, tid, _ in mine),
          "mrt:started's and mrt:attached's tid is the thread's LWP: %s, gdb saw %s" %
          (mine, sorted(lwps)))
    if goroutines:
        check_sections(gdbexe, goroutines)
    return test_gdb.verdict("probes: every M event is a probe, a nop, hit once per M; "
                            "the blocking sections' fire where they happen")


if __name__ == "__main__":
    sys.exit(main())
