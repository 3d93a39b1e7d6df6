#!/bin/sh
# test_quickexit.sh GOROUTINES — the goroutine example with one g on one
# P, twenty times: its main g ends at once, so the main thread's wake-up
# signal (WAKESIG, gr.c) comes while gr_main is still on its way to wait
# for it. gr_main must take that signal however early it comes; one it
# left pending killed the program when gr_main unblocked it (#16: the
# benchmark's run.sh died of "User defined signal 1"). The early signal
# is this case's usual order, not a rare interleaving: before the fix the
# program died in most runs.
set -u
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    "$1" -n 1 -p 1 >/dev/null
    rc=$?
    if [ $rc -ne 0 ]; then
        if [ $rc -gt 128 ]; then
            echo "test_quickexit: run $i: killed by signal $((rc - 128)) ($(kill -l $((rc - 128))))"
        else
            echo "test_quickexit: run $i: exit status $rc"
        fi
        exit 1
    fi
done
echo "test_quickexit: 20 runs of one g ended cleanly"
