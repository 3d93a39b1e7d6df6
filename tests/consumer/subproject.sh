#!/bin/sh
# subproject.sh MODEL [MESON] — a Meson project that uses mrt as a
# subproject: tests/consumer/subproject/meson.build, with this source tree
# as subprojects/mrt, dependency('mrt', fallback: ['mrt', 'mrt_dep']) and
# the fallback forced (an installed mrt must not be picked instead). Builds
# it with mrt's thread model MODEL and runs its test. $CC is the compiler.
set -eu
model=$1
meson=${2:-meson}
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/consumer
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mrt-consumer-sp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

proj=$tmp/project
mkdir -p "$proj/subprojects"
cp "$here/subproject/meson.build" "$here/subproject/meson_options.txt" "$here/consumer.c" "$proj/"
ln -s "$src" "$proj/subprojects/mrt"

echo "consumer-subproject: meson setup with subprojects/mrt ($model model)"
"$meson" setup "$proj/build" "$proj" --force-fallback-for=mrt -Dmodel="$model" \
    -Dmrt:threads="$model" -Dmrt:tests=disabled -Dmrt:examples=false -Dmrt:bench=disabled \
    >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
grep -q "Subproject mrt finished" "$tmp/setup.log" \
    || { cat "$tmp/setup.log"; echo "mrt was not built as a subproject"; exit 1; }
"$meson" compile -C "$proj/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
"$meson" test -C "$proj/build" --print-errorlogs >"$tmp/test.log" 2>&1 || { cat "$tmp/test.log"; exit 1; }
"$proj/build/consumer" "$model"
echo "consumer-subproject: ok"
