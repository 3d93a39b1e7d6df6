// spawn.go — spawn cost in Go, the peer of gr-spawn.c: start n goroutines
// that only call wg.Done, wait for them; the time per goroutine, the best
// of r runs.
//
//	go run spawn.go [-n goroutines] [-p GOMAXPROCS] [-r runs]
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"
)

func main() {
	n := flag.Int64("n", 1000000, "goroutines")
	p := flag.Int("p", 1, "GOMAXPROCS")
	runs := flag.Int("r", 3, "runs (the best is printed)")
	flag.Parse()
	runtime.GOMAXPROCS(*p)
	best := 0.0
	for r := 0; r < *runs; r++ {
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(int(*n))
		for i := int64(0); i < *n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		ns := float64(time.Since(t0).Nanoseconds()) / float64(*n)
		if r == 0 || ns < best {
			best = ns
		}
	}
	fmt.Printf("goroutines spawn impl=go procs=%d n=%d ns/op=%.1f\n", *p, *n, best)
}
