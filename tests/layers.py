#!/usr/bin/env python3
"""layers.py SRCDIR NM LIBMRT_OBJS.a — the rules of the house, checked.

DESIGN.md's layers, held to by the build rather than by care:

  1. core/ never names a CPU or an OS: no preprocessor test of a CPU or OS
     macro, no OS header (<linux/...>, <sys/...>, <pthread.h>, ...).
  2. arch/ never names an OS beyond symbol spelling (__APPLE__ / __ELF__ in
     the asm.h files and mrt.h's accessors); an OS's system-call code for a
     CPU lives in a file that says so (arch/<cpu>/*_linux.*), and only there
     may <asm/...> or __NR_ appear.
  3. platform/ holds no assembly: no .S or .s file, no asm statement.
  4. No import cycle inside core: the graph "file A uses a symbol file B
     defines", read from the objects of the library with nm, has no cycle.
     Data that every file needs (cfg, sched, allm, m0) lives in runtime2.c,
     which uses nothing, so that a dependency means a call.

Exits 1 with one line per broken rule, 0 with a summary.
"""
import os
import re
import subprocess
import sys

CPU_OS_MACROS = re.compile(
    r"__(linux|gnu_linux|APPLE|MACH|x86_64|amd64|aarch64|arm64|riscv|i386|arm)__?\b|"
    r"\b__riscv\b|\b__ELF__\b|\bTARGET_OS_")
OS_HEADERS = re.compile(r'#\s*include\s*<(linux/|asm/|sys/|mach/|pthread\.h|signal\.h|unistd\.h)')
ASM_STMT = re.compile(r"\b(__asm__|asm)\s*(volatile|__volatile__)?\s*\(")


def sources(top, folder, exts):
    for root, _, files in os.walk(os.path.join(top, folder)):
        for f in sorted(files):
            if f.endswith(exts):
                yield os.path.join(root, f)


def lines(path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            yield n, line


def check_core(top, bad):
    for p in sources(top, "core", (".c", ".h")):
        for n, line in lines(p):
            if line.lstrip().startswith("#") and CPU_OS_MACROS.search(line):
                bad.append("%s:%d: core names a CPU or an OS: %s" % (p, n, line.strip()))
            if OS_HEADERS.search(line):
                bad.append("%s:%d: core includes an OS header: %s" % (p, n, line.strip()))


def check_arch(top, bad):
    for p in sources(top, "arch", (".c", ".h", ".S", ".s")):
        oscode = re.search(r"_linux\.[chSs]$", p) is not None
        spelling = os.path.basename(p) == "asm.h"
        for n, line in lines(p):
            s = line.strip()
            if oscode:
                continue
            if "<asm/" in s or "<linux/" in s or "__NR_" in s:
                bad.append("%s:%d: OS system-call code outside a *_linux file: %s" % (p, n, s))
            if s.startswith("#") and CPU_OS_MACROS.search(s):
                names = set(m.group(0) for m in CPU_OS_MACROS.finditer(s))
                if not (spelling and names <= {"__APPLE__", "__ELF__"}):
                    bad.append("%s:%d: arch names an OS: %s" % (p, n, s))


def check_platform(top, bad):
    for p in sources(top, "platform", (".S", ".s")):
        bad.append("%s: assembly in platform/" % p)
    for p in sources(top, "platform", (".c", ".h")):
        for n, line in lines(p):
            if ASM_STMT.search(line):
                bad.append("%s:%d: an asm statement in platform/: %s" % (p, n, line.strip()))


def core_graph(nm, lib):
    """{object: {object it uses: [symbols]}} for the core objects of lib."""
    out = subprocess.run([nm, lib], check=True, capture_output=True, text=True).stdout
    defs, uses, obj = {}, {}, None
    for line in out.splitlines():
        if line.endswith(":"):
            obj = os.path.basename(line[:-1])
            uses.setdefault(obj, set())
            continue
        f = line.split()
        if obj is None or not f:
            continue
        if len(f) == 3 and f[1] in "TDBRCVGS":
            defs[f[2]] = obj
        elif len(f) == 2 and f[0] == "U":
            uses[obj].add(f[1])
    graph = {}
    for o, syms in uses.items():
        if not o.startswith("core_"):
            continue
        edges = graph.setdefault(o, {})
        for s in syms:
            d = defs.get(s)
            if d and d != o and d.startswith("core_"):
                edges.setdefault(d, []).append(s)
    return graph


def find_cycle(graph):
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, {})):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                c = visit(d)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def main():
    top, nm, lib = sys.argv[1], sys.argv[2], sys.argv[3]
    bad = []
    check_core(top, bad)
    check_arch(top, bad)
    check_platform(top, bad)
    graph = core_graph(nm, lib)
    cycle = find_cycle(graph)
    if cycle:
        hops = []
        for a, b in zip(cycle, cycle[1:]):
            hops.append("%s -(%s)-> %s" % (a, ", ".join(sorted(graph[a][b])[:3]), b))
        bad.append("import cycle inside core: " + "  ".join(hops))
    for b in bad:
        print(b)
    if bad:
        return 1
    print("layers: core names no CPU or OS, arch no OS beyond symbol spelling, platform "
          "holds no assembly; core's %d objects use each other without a cycle" % len(graph))
    return 0


if __name__ == "__main__":
    sys.exit(main())
