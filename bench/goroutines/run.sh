#!/bin/sh
# bench/goroutines/run.sh [BUILD_DIR] — the goroutine row of the benchmark:
# the yield ping-pong and the spawn cost of mrt's goroutine example
# (examples/goroutines) and of the same two programs in Go.
#
# Builds the C programs in BUILD_DIR (default: build), builds the Go ones
# into BUILD_DIR/bench/goroutines/go when `go` is installed (Debian's
# golang-go; ./ci/setup extra installs it) and skips them, saying so on
# stderr, when it is not. Prints one line per program and implementation:
#
#   goroutines yield-pingpong impl=mrt procs=1 n=1000000 ns/op=41.7
#   goroutines yield-pingpong impl=go procs=1 n=1000000 ns/op=95.3
#   goroutines spawn impl=mrt procs=1 n=1000000 ns/op=80.2
#   goroutines spawn impl=go procs=1 n=1000000 ns/op=210.4
#
# Each figure is the best of RUNS runs. Environment: PROCS (Ps, GOMAXPROCS;
# default 1), N_YIELD (yields per g; 1000000), N_SPAWN (gs; 1000000),
# RUNS (3). Under QEMU, use smaller N_*.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
# Absolute: Go refuses a relative GOPATH or GOCACHE, and the folder is
# given relative to wherever the user stands (`run.sh build`).
build=$(cd "${1:-$top/build}" && pwd)
procs=${PROCS:-1}
nyield=${N_YIELD:-1000000}
nspawn=${N_SPAWN:-1000000}
runs=${RUNS:-3}

ninja -C "$build" bench/goroutines/gr-pingpong bench/goroutines/gr-spawn >/dev/null
bin=$build/bench/goroutines

"$bin/gr-pingpong" -n "$nyield" -p "$procs" -r "$runs"
if command -v go >/dev/null 2>&1; then
    gobin=$bin/go
    mkdir -p "$gobin"
    # Go's build cache and module mode want a writable home; keep them in
    # the build directory so that the script works for any user.
    export GOCACHE="${GOCACHE:-$gobin/cache}" GOPATH="${GOPATH:-$gobin/gopath}"
    export GO111MODULE=off GOFLAGS=
    go build -o "$gobin/pingpong" "$top/bench/goroutines/pingpong.go"
    go build -o "$gobin/spawn" "$top/bench/goroutines/spawn.go"
    "$gobin/pingpong" -n "$nyield" -p "$procs" -r "$runs"
else
    echo "goroutines: go not found (./ci/setup extra installs golang-go): no Go figures" >&2
fi
"$bin/gr-spawn" -n "$nspawn" -p "$procs" -r "$runs"
if command -v go >/dev/null 2>&1; then
    "$gobin/spawn" -n "$nspawn" -p "$procs" -r "$runs"
fi
