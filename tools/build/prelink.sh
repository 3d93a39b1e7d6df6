#!/bin/sh
# prelink.sh OBJCOPY AR IN.a OUT.a TMPDIR CC [CC ARGS...]
# Links every object of IN.a into one relocatable object, makes every symbol
# but the mrt_ API local, and archives it as OUT.a: a static libmrt whose
# internal names (lock, newm, allocm, ...) cannot clash with a program's.
set -eu
objcopy=$1 ar=$2 in=$3 out=$4 tmp=$5
shift 5
mkdir -p "$tmp"
"$@" -r -nostdlib -o "$tmp/mrt.o" -Wl,--whole-archive "$in" -Wl,--no-whole-archive
# Internal symbols are hidden (-fvisibility=hidden, .hidden in assembly);
# the API is default visibility and stays global. Localized symbols and the
# debug info stay in the object (no --strip-*, no --discard-*): gdb and
# tools/mrt-gdb.py find allm and sched through them (tests/gdb checks).
"$objcopy" --localize-hidden "$tmp/mrt.o"
rm -f "$out"
"$ar" rcs "$out" "$tmp/mrt.o"
