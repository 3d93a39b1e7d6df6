#!/usr/bin/env python3
"""cfi.py CPU [READELF OBJDUMP ARCHLIB [PROGRAM]] — control-flow protection.

The arch assembly, built for hardening, must be usable in a binary that
keeps the CPU's branch protection on:

  amd64   ARCHLIB is arch/amd64's objects built with -fcf-protection=branch:
          each carries the IBT property (and not SHSTK, which a ret-based
          stack switch does not support), and every global function opens
          with endbr64. (No IBT hardware or emulator here: checked
          statically.)
  arm64   ARCHLIB is arch/arm64's objects built with
          -mbranch-protection=standard: each carries the BTI property and
          every global function opens with `bti c`. PROGRAM (tests/cfi/
          bti.c) is linked from BTI objects only: its notes say BTI without
          -z force-bti, and it runs under QEMU with QEMU_CPU=max (BTI
          enforced), exercising every entry through blr and checking that a
          missing landing pad dies with SIGILL.
  other   nothing to check: skipped, saying why.

Exit 0 pass, 1 fail, 77 skip (Meson's convention).
"""
import os
import re
import shlex
import subprocess
import sys

SKIP = 77

# Functions entered only by a return, never by an indirect call or jump:
# the signal-return trampoline (a handler returns into it). Branch tracking
# does not apply to returns, and glibc's __restore_rt has no endbr64 either.
RETURN_TARGETS = {"arch_sigreturn"}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def global_funcs(readelf, lib):
    """Global function symbols defined in each member of lib."""
    out = run([readelf, "-sW", lib]).stdout
    funcs = set()
    for line in out.splitlines():
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(f) >= 8 and f[3] == "FUNC" and f[4] == "GLOBAL" and f[6] != "UND":
            funcs.add(f[7])
    return funcs


def first_insns(objdump, lib):
    """The first instruction of every function objdump shows."""
    out = run([objdump, "-d", "--no-show-raw-insn", lib]).stdout
    first, cur = {}, None
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            cur = m.group(1)
            continue
        m = re.match(r"^\s+[0-9a-f]+:\s+(.*)$", line)
        if m and cur is not None:
            first[cur] = " ".join(m.group(1).split())
            cur = None
    return first


def check_objects(readelf, objdump, lib, feature, pad, forbidden):
    ok = True
    notes = run([readelf, "-nW", lib]).stdout
    members = re.split(r"^File: ", notes, flags=re.M)[1:] or [notes]
    for mtext in members:
        name = mtext.splitlines()[0] if mtext else lib
        props = [l.split("Properties:")[-1].strip() for l in mtext.splitlines()
                 if "feature:" in l]
        print("%s: %s" % (name, "; ".join(props) or "no feature property"))
        if not any(feature in p for p in props):
            print("  MISSING the %s property" % feature)
            ok = False
        if forbidden and any(forbidden in p for p in props):
            print("  claims %s, which the context switch does not support" % forbidden)
            ok = False
    funcs = global_funcs(readelf, lib)
    first = first_insns(objdump, lib)
    if not funcs:
        print("no global functions found in %s" % lib)
        return False
    for fn in sorted(funcs):
        insn = first.get(fn, "?")
        if fn in RETURN_TARGETS:
            # Entered by a return, which IBT does not track; its first
            # bytes must be the sigreturn pattern unwinders look for.
            print("  %-18s %s   (entered by return: no landing pad)" % (fn, insn))
            continue
        good = insn.startswith(pad)
        print("  %-18s %s%s" % (fn, insn, "" if good else "   <- not a landing pad"))
        ok = ok and good
    return ok


def main():
    cpu = sys.argv[1]
    if cpu == "amd64":
        readelf, objdump, lib = sys.argv[2:5]
        return 0 if check_objects(readelf, objdump, lib, "IBT", "endbr64", "SHSTK") else 1
    if cpu == "arm64":
        readelf, objdump, lib, prog = sys.argv[2:6]
        ok = check_objects(readelf, objdump, lib, "BTI", "bti c", None)
        notes = run([readelf, "-nW", prog]).stdout
        props = [l.split("Properties:")[-1].strip() for l in notes.splitlines()
                 if "feature:" in l]
        print("%s: %s" % (os.path.basename(prog), "; ".join(props) or "no feature property"))
        if not any("BTI" in p for p in props):
            print("  the program is not marked BTI: an object in it lacks the note")
            ok = False
        # Under QEMU (Meson's exe wrapper for cross builds), -cpu max
        # enforces BTI on guarded pages; QEMU_CPU is how its user mode
        # takes that option from the environment.
        wrapper = shlex.split(os.environ.get("MESON_EXE_WRAPPER", ""))
        env = dict(os.environ, QEMU_CPU="max")
        r = run(wrapper + [prog], env=env, timeout=60)
        sys.stdout.write(r.stdout + r.stderr)
        if r.returncode == 2:
            if wrapper:
                print("QEMU did not enforce BTI (QEMU_CPU=max)")
                return 1
            print("this CPU does not enforce BTI: the objects are checked, the run is not")
            return SKIP if ok else 1
        if r.returncode != 0:
            print("the BTI program failed (status %d)" % r.returncode)
            ok = False
        return 0 if ok else 1
    print("%s: no branch-protection landing pads in this toolchain "
          "(riscv64's Zicfilp is not in Debian 12's gcc and binutils)" % cpu
          if cpu == "riscv64" else "%s: no control-flow protection check" % cpu)
    return SKIP


if __name__ == "__main__":
    sys.exit(main())
