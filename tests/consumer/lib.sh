# lib.sh — what the consumer scripts share (sourced, with $name set):
# $src (this source tree), $here (tests/consumer), $tmp (a scratch folder,
# removed at exit); step prints a line under the test's name, quiet runs a
# command into a log and shows the log only when it fails.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/consumer
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mrt-consumer-$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step() { echo "consumer-$name: $*"; }
quiet() { log=$1; shift; "$@" >"$log" 2>&1 || { cat "$log"; exit 1; }; }
