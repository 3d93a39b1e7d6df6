// syscall.go — the Go side of mrt-bench's blocking-section rows (#13):
// what Go's runtime pays for the same things, measured the same way.
// mrt-bench runs it once per run and reads the one line it prints.
//
//	syscall getpid N   ns per syscall.Getpid (entersyscall/exitsyscall
//	                   around the call) and per syscall.RawSyscall(getpid)
//	                   (none): "getpid <ns> raw <ns>"
//	syscall retake N   GOMAXPROCS=1: a goroutine blocks in a raw read(2)
//	                   of a pipe while another is runnable; the time until
//	                   that one runs (sysmon's retake → handoffp → startm),
//	                   over N blocks: "retake median <us> p99 <us>"
//	syscall idle S     GOMAXPROCS=1, one goroutine computing for S seconds
//	                   with no system call: how often sysmon wakes up, read
//	                   as the most voluntary context switches of any thread
//	                   but the one that computed (/proc): "idle <wakeups
//	                   per second>"
//
// Built by ci/bench when `go` is installed (Debian's golang-go).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func getpid(n int) {
	t0 := time.Now()
	for i := 0; i < n; i++ {
		syscall.Getpid()
	}
	a := float64(time.Since(t0).Nanoseconds()) / float64(n)
	t0 = time.Now()
	for i := 0; i < n; i++ {
		syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0)
	}
	b := float64(time.Since(t0).Nanoseconds()) / float64(n)
	fmt.Printf("getpid %.2f raw %.2f\n", a, b)
}

func retake(n int) {
	runtime.GOMAXPROCS(1)
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		panic(err)
	}
	lat := make([]float64, n)
	buf := make([]byte, 1)
	one := []byte{1}
	done := make(chan bool)
	for i := 0; i < n; i++ {
		var t0 time.Time
		i := i
		// Runnable, on the one P, while main blocks: it runs only once
		// sysmon has taken the P from main's system call.
		go func() {
			lat[i] = float64(time.Since(t0).Nanoseconds()) / 1000
			syscall.Write(p[1], one)
			done <- true
		}()
		t0 = time.Now()
		syscall.Read(p[0], buf) // syscall.Syscall: entersyscall, read(2), exitsyscall
		<-done
	}
	sort.Float64s(lat)
	fmt.Printf("retake median %.2f p99 %.2f\n", lat[n/2], lat[n*99/100])
}

type tstat struct{ switches, cpu int64 }

// threads returns each thread's voluntary context switches and CPU time.
func threads() map[string]tstat {
	out := map[string]tstat{}
	ents, _ := os.ReadDir("/proc/self/task")
	for _, e := range ents {
		var t tstat
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "voluntary_ctxt_switches:") {
				t.switches, _ = strconv.ParseInt(strings.TrimSpace(l[len("voluntary_ctxt_switches:"):]), 10, 64)
			}
		}
		if b, err = os.ReadFile("/proc/self/task/" + e.Name() + "/stat"); err == nil {
			f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				t.cpu = u + s
			}
		}
		out[e.Name()] = t
	}
	return out
}

var sink uint64

func idle(secs float64) {
	runtime.GOMAXPROCS(1)
	time.Sleep(50 * time.Millisecond) // let the runtime's start-up settle
	a := threads()
	t0 := time.Now()
	end := t0.Add(time.Duration(secs * 1e9))
	x := uint64(1)
	for time.Now().Before(end) { // time.Now is the vDSO: no system call
		for k := 0; k < 1000; k++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = x
	el := time.Since(t0).Seconds()
	b := threads()
	busy, most := "", int64(-1)
	for t, v := range b {
		if v.cpu-a[t].cpu > most {
			busy, most = t, v.cpu-a[t].cpu
		}
	}
	best := int64(0)
	for t, v := range b {
		if t != busy && v.switches-a[t].switches > best {
			best = v.switches - a[t].switches
		}
	}
	fmt.Printf("idle %.1f\n", float64(best)/el)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: syscall getpid|retake|idle N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "getpid":
		n, _ := strconv.Atoi(os.Args[2])
		getpid(n)
	case "retake":
		n, _ := strconv.Atoi(os.Args[2])
		retake(n)
	case "idle":
		s, _ := strconv.ParseFloat(os.Args[2], 64)
		idle(s)
	default:
		os.Exit(2)
	}
}
