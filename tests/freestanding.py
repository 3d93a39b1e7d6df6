#!/usr/bin/env python3
"""freestanding.py NM LIBMRT.a [MODEL] — the M path calls no libc.

mrt's static library is one prelinked object (tools/build/prelink.sh), so its
undefined symbols are exactly what it needs from outside. In the clone
model code on an M must not touch libc's thread state, so the only outside
symbols allowed are the ones below. A malloc, printf or errno use anywhere
in core/, arch/ or platform/linux's clone backend shows up here and fails
the build's test run.

In the pthread model (MODEL "pthread") libc makes the threads, and
platform/posix/thread_posix.c (with platform/linux/pthread_linux.c) may
call the few functions that birth, death and the signal mask take; everything else — core, arch, the primitives — must still be
libc-free, and this check holds it to that. In both models the attach of
a thread mrt did not make (mrt_needm: platform/posix/extram_posix.c) may
call the few pthread functions that read that thread's stack and bind the M
to it: it runs only on threads libc made. Sanitizer builds add the
runtime's own hooks (__asan_*, __tsan_*, __ubsan_*, __sanitizer_*).
"""
import re
import subprocess
import sys

ALLOWED = {
    # What compilers emit for struct copies and initialisers.
    "memcpy", "memset", "memmove", "memcmp",
    # Linker-provided.
    "_GLOBAL_OFFSET_TABLE_",
    # Read by mrt_init on m0 (MRTDEBUG), never on an M.
    "environ",
    # Read once by mrt_init on m0, like environ (the page size, AT_PAGESZ,
    # platform/linux/os_linux.c osinit), never on an M: a read of the
    # auxiliary vector glibc keeps, touching no per-thread state.
    "getauxval",
    # glibc's (2.35 and later) rseq registration: where each thread's
    # struct rseq lies and whether there is one, read once by mrt_init on
    # m0 (platform/linux/rseq_linux.c rseqinit), never on an M. Constants
    # glibc sets at startup, no per-thread state; weak references, absent
    # from an older glibc.
    "__rseq_offset", "__rseq_size",
    # Called once by mrt_init on m0 to register the fork handlers, which
    # run only on the thread that calls fork (platform/linux/fork_linux.c).
    "pthread_atfork",
}
# The compiler's own runtime (libgcc, compiler-rt), not libc: arm64 outline
# atomics (gcc's default there), which pick LSE or LL/SC instructions by a
# flag the runtime sets at startup and touch no per-thread state.
ALLOWED_PATTERN = re.compile(
    r"__aarch64_(cas|swp|ldadd|ldclr|ldeor|ldset)(1|2|4|8|16)_(relax|acq|rel|acq_rel|sync)")

# platform/posix/thread_posix.c and platform/linux/pthread_linux.c:
# pthread_create and what goes with it, and the mask through libc.
PTHREAD = {
    "pthread_attr_init", "pthread_attr_destroy", "pthread_attr_setstacksize",
    "pthread_attr_setguardsize", "pthread_attr_setdetachstate",
    "pthread_attr_getstack", "pthread_getattr_np", "pthread_create",
    "pthread_self", "pthread_sigmask", "sigemptyset", "sigfillset", "sigaddset",
    "sigismember",
    # signalm: a signal to an M through its handle.
    "pthread_kill",
    # The key whose destructor catches an M's thread ending outside mrt.
    "pthread_once", "pthread_key_create", "pthread_setspecific",
    # PTHREAD_STACK_MIN is a sysconf call in glibc >= 2.34 with _GNU_SOURCE.
    "__sysconf", "sysconf",
}

# platform/posix/extram_posix.c and platform/linux/pthread_linux.c, in the
# clone model too: the attach of a thread mrt did not make (mrt_needm) reads
# its stack bounds and binds the M to it with a thread-specific key. These
# run only on threads libc made (mrt_needm's caller, and its thread
# library's exit: the key's destructor), never on an M mrt made with a raw
# clone, so they never meet a thread without libc's thread state.
EXTRAM = {
    "pthread_once", "pthread_key_create", "pthread_setspecific", "pthread_self",
    "pthread_getattr_np", "pthread_attr_getstack", "pthread_attr_destroy",
}

SANITIZER_PREFIXES = ("__asan_", "__tsan_", "__ubsan_", "__sanitizer_", "__lsan_")

def main():
    nm, lib = sys.argv[1], sys.argv[2]
    model = sys.argv[3] if len(sys.argv) > 3 else "clone"
    allowed = ALLOWED | EXTRAM | (PTHREAD if model == "pthread" else set())
    out = subprocess.run([nm, "-u", lib], check=True, capture_output=True, text=True).stdout
    undefined = sorted({line.split()[-1] for line in out.splitlines()
                        if line.strip() and not line.endswith(":")})
    bad = [s for s in undefined
           if s not in allowed and not s.startswith(SANITIZER_PREFIXES)
           and not ALLOWED_PATTERN.fullmatch(s)]
    print("undefined symbols of %s: %s" % (lib, ", ".join(undefined) or "none"))
    if bad:
        print("NOT FREESTANDING (%s model): the M path references %s" % (model, ", ".join(bad)))
        return 1
    print("freestanding (%s model): only %s" % (model, ", ".join(sorted(allowed & set(undefined)))))
    return 0

if __name__ == "__main__":
    sys.exit(main())
