// callback.go — Go's cgo callback from a thread Go did not make: the peer
// of mrt_needm on a bound thread in bench/mrt-bench.c's extram rows.
//
// A C pthread calls an exported Go function n times in a loop, after one
// call to warm up; it prints the nanoseconds per call. Go before 1.21 gives
// the C thread an extra M on every callback (needm) and takes it back
// after (dropm); since 1.21 the M stays bound to the thread until it ends
// (golang/go#51676). Built by ci/bench with the installed Go
// (GO111MODULE=off: the standard library and cgo only).
//
//	callback -n N [-r RUNS]    prints "callback ns/op=X" per run
//	callback -marked N         one run between getppid markers (for strace)
package main

/*
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

extern void goCallback(void);

static long cb_n;
static int cb_marked;
static double cb_ns;

static void *cb_thread(void *arg)
{
	struct timespec a, b;
	(void)arg;
	goCallback(); // the first call from this thread, outside the measure
	if (cb_marked)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < cb_n; i++)
		goCallback();
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (cb_marked)
		syscall(SYS_getppid);
	cb_ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)cb_n;
	return NULL;
}

static double cb_measure(long n, int marked)
{
	pthread_t t;
	cb_n = n;
	cb_marked = marked;
	pthread_create(&t, NULL, cb_thread, NULL);
	pthread_join(t, NULL);
	return cb_ns;
}
*/
import "C"

import (
	"flag"
	"fmt"
	"runtime"
)

//export goCallback
func goCallback() {}

func main() {
	n := flag.Int64("n", 1000000, "callbacks per run")
	runs := flag.Int("r", 1, "runs")
	marked := flag.Int64("marked", 0, "one run of this many callbacks between getppid markers")
	flag.Parse()
	if *marked > 0 {
		C.cb_measure(C.long(*marked), 1)
		return
	}
	for r := 0; r < *runs; r++ {
		ns := C.cb_measure(C.long(*n), 0)
		fmt.Printf("callback %s ns/op=%.3f\n", runtime.Version(), float64(ns))
	}
}
