// pingpong.go — yield ping-pong in Go, the peer of gr-pingpong.c: two
// goroutines call runtime.Gosched n times each; the time per yield, the
// best of r runs.
//
//	go run pingpong.go [-n yields per goroutine] [-p GOMAXPROCS] [-r runs]
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"
)

func main() {
	n := flag.Int64("n", 1000000, "yields per goroutine")
	p := flag.Int("p", 1, "GOMAXPROCS")
	runs := flag.Int("r", 3, "runs (the best is printed)")
	flag.Parse()
	runtime.GOMAXPROCS(*p)
	best := 0.0
	for r := 0; r < *runs; r++ {
		var wg sync.WaitGroup
		t0 := time.Now()
		wg.Add(2)
		for k := 0; k < 2; k++ {
			go func() {
				for i := int64(0); i < *n; i++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		ns := float64(time.Since(t0).Nanoseconds()) / float64(2**n)
		if r == 0 || ns < best {
			best = ns
		}
	}
	fmt.Printf("goroutines yield-pingpong impl=go procs=%d n=%d ns/op=%.1f\n", *p, *n, best)
}
