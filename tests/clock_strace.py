#!/usr/bin/env python3
"""clock_strace.py STRACE CLOCKPROBE — mrt_nanotime makes no system call.

#15 item 1: mrt_nanotime reads the clock through the vDSO. Under strace,
tests/clockprobe.c with 1 and with 1 + N calls on each of m0, a new M's
g0 and a user g of that M must make the same number of clock_gettime
system calls: the loop makes none. The same probe with the system call
forced (a test hook) must make at least 3N more, or strace would not have
seen them either and the first half would prove nothing. Skips (77) where
mrt_init found no vDSO.
"""
import os
import subprocess
import sys
import tempfile

N = 1000


def calls(strace, probe, n, *extra):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "trace")
        r = subprocess.run([strace, "-f", "-qq", "-e", "trace=clock_gettime", "-o", out,
                            probe, str(n)] + list(extra), capture_output=True, text=True)
        if r.returncode != 0:
            print("clockprobe failed (%d): %s %s" % (r.returncode, r.stdout, r.stderr))
            sys.exit(1)
        with open(out) as f:
            lines = [l for l in f if "clock_gettime(" in l]
        return len(lines), r.stdout.strip()


def main():
    strace, probe = sys.argv[1], sys.argv[2]
    base, found = calls(strace, probe, 1)
    if found != "vdso":
        print("SKIP: mrt_init found no vDSO here; mrt_nanotime makes the system call")
        return 77
    full, _ = calls(strace, probe, 1 + N)
    sbase, _ = calls(strace, probe, 1, "--syscall")
    sfull, _ = calls(strace, probe, 1 + N, "--syscall")
    print("clock_gettime system calls: %d with 1 call per place, %d with %d (vDSO); "
          "%d and %d with the system call forced" % (base, full, 1 + N, sbase, sfull))
    if sfull - sbase < 3 * N:
        print("FAIL: with the system call forced strace saw %d calls for %d more "
              "mrt_nanotime calls" % (sfull - sbase, 3 * N))
        return 1
    if full != base:
        print("FAIL: %d more mrt_nanotime calls made %d clock_gettime system calls"
              % (3 * N, full - base))
        return 1
    print("ok: %d mrt_nanotime calls, no clock_gettime system call" % (3 * N))
    return 0


if __name__ == "__main__":
    sys.exit(main())
