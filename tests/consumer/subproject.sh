#!/bin/sh
# subproject.sh MODEL [MESON] — a Meson project that uses mrt as a
# subproject: tests/consumer/subproject/meson.build, with this source tree
# as subprojects/mrt, dependency('mrt', fallback: ['mrt', 'mrt_dep']) and
# the fallback forced (an installed mrt must not be picked instead). Builds
# it with mrt's thread model MODEL and runs its test. $CC is the compiler.
# In a cross build ($MRT_CROSS_FILE, tests/meson.build) the project is set
# up with that cross file, as a cross-compiling user's own project would
# be, and its test and program run under the file's emulator.
set -eu
model=$1
meson=${2:-meson}
name=subproject
. "$(dirname "$0")/lib.sh"

proj=$tmp/project
mkdir -p "$proj/subprojects"
cp "$here/subproject/meson.build" "$here/subproject/meson_options.txt" "$here/consumer.c" "$proj/"
ln -s "$src" "$proj/subprojects/mrt"

cross=
[ -n "${MRT_CROSS_FILE:-}" ] && cross="--cross-file=$MRT_CROSS_FILE"
echo "consumer-subproject: meson setup ${cross:+$cross }with subprojects/mrt ($model model)"
# shellcheck disable=SC2086
"$meson" setup "$proj/build" "$proj" $cross --force-fallback-for=mrt -Dmodel="$model" \
    -Dmrt:threads="$model" -Dmrt:tests=disabled -Dmrt:examples=false -Dmrt:bench=disabled \
    >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
grep -q "Subproject mrt finished" "$tmp/setup.log" \
    || { cat "$tmp/setup.log"; echo "mrt was not built as a subproject"; exit 1; }
"$meson" compile -C "$proj/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
"$meson" test -C "$proj/build" --print-errorlogs >"$tmp/test.log" 2>&1 || { cat "$tmp/test.log"; exit 1; }
grep -q "^Ok: *1" "$tmp/test.log" || { cat "$tmp/test.log"; echo "the project's test did not run"; exit 1; }
# shellcheck disable=SC2086
${MRT_CROSS_FILE:+$MRT_EXE_WRAPPER} "$proj/build/consumer" "$model"
echo "consumer-subproject: ok"
