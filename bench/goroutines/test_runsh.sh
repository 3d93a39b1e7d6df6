#!/bin/sh
# test_runsh.sh BUILD_DIR — bench/goroutines/run.sh with the build folder
# given as a relative path, the README's form (`bench/goroutines/run.sh
# build`), must hand Go absolute paths (#16, the last item: "GOPATH entry is relative").
#
# Go itself need not be installed: a stand-in `go` first on PATH refuses a
# relative GOPATH or GOCACHE with Go's own message (Go 1.19 does exactly
# that) and otherwise "builds" each program as a script that prints the line
# the real one would. Small N: this tests the script, not the figures.
set -eu
build=$(cd "$1" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mrt-runsh.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir "$tmp/bin"
cat >"$tmp/bin/go" <<'STUB'
#!/bin/sh
case "$GOPATH" in /*) ;; *) echo "go: GOPATH entry is relative; must be absolute path: \"$GOPATH\"." >&2; exit 1 ;; esac
case "$GOCACHE" in /*) ;; *) echo "go: GOCACHE is not an absolute path" >&2; exit 1 ;; esac
[ "$1" = build ] && [ "$2" = -o ] || { echo "go stand-in: unexpected: $*" >&2; exit 2; }
printf '#!/bin/sh\necho "goroutines %s impl=go (stand-in)"\n' "$(basename "$3")" >"$3"
chmod +x "$3"
STUB
chmod +x "$tmp/bin/go"

# The build folder relative to the current directory, as a user types it.
cd "$(dirname "$build")"
rel=$(basename "$build")
echo "test_runsh: (cd $(pwd) && bench/goroutines/run.sh $rel)"
out=$(PATH="$tmp/bin:$PATH" N_YIELD=1000 N_SPAWN=1000 RUNS=1 GOPATH= GOCACHE= \
      "$top/bench/goroutines/run.sh" "$rel" 2>&1) || { echo "$out"; echo "run.sh failed"; exit 1; }
echo "$out"
for want in "yield-pingpong impl=mrt" "spawn impl=mrt" "pingpong impl=go" "spawn impl=go"; do
    echo "$out" | grep -q "$want" || { echo "test_runsh: no \"$want\" line"; exit 1; }
done
echo "test_runsh: ok"
