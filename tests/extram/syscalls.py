#!/usr/bin/env python3
"""syscalls.py STRACE PROBE — the system calls of an attach, of warm
re-entries and of a drop, counted in an strace -f trace of tests/extram/
probe.c (#14 item 1).

What must hold: 1,000 mrt_needm calls on a thread that is bound already
make no system call at all (the binding lasts until the thread ends, and
the stack bounds are not read again). The attach and the drop are printed,
not asserted (their counts are bench/mrt-bench.c's row, not a test's).
Exit 77 (skipped) when ptrace is not allowed here.
"""
import os
import re
import subprocess
import sys
import tempfile

CALL = re.compile(r"^(\d+)\s+(?:<\.\.\. )?([a-z_0-9]+)(\(| resumed>)")


def main():
    strace, probe = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="mrt-extram-") as tmp:
        out = os.path.join(tmp, "trace")
        r = subprocess.run([strace, "-f", "-qq", "-o", out, probe],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            if "ptrace" in r.stdout:
                print("strace cannot ptrace here: skipped\n" + r.stdout)
                return 77
            print("probe failed (%d):\n%s" % (r.returncode, r.stdout))
            return 1
        calls = {}  # pid -> names in order
        with open(out) as f:
            for line in f:
                m = CALL.match(line)
                if m and m.group(3) == "(":
                    calls.setdefault(m.group(1), []).append(m.group(2))
    for pid, names in calls.items():
        marks = [i for i, n in enumerate(names) if n == "getppid"]
        if len(marks) != 4:
            continue
        cold = names[marks[0] + 1:marks[1]]
        warm = names[marks[1] + 1:marks[2]]
        drop = names[marks[2] + 1:marks[3]]
        print("attach (first mrt_needm on the thread): %d calls: %s" % (len(cold), " ".join(cold)))
        print("1,000 mrt_needm on the bound thread: %d calls%s" % (
            len(warm), ": " + " ".join(warm) if warm else ""))
        print("mrt_dropm: %d calls: %s" % (len(drop), " ".join(drop)))
        if warm:
            print("FAIL: re-entry on a bound thread made system calls")
            return 1
        if not cold:
            print("FAIL: the attach made no system call: were the markers seen?")
            return 1
        return 0
    print("FAIL: no thread with the probe's four markers in the trace")
    return 1


if __name__ == "__main__":
    sys.exit(main())
