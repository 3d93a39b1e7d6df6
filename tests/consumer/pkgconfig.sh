#!/bin/sh
# pkgconfig.sh MODEL [MESON] — install mrt from this source tree, built for
# thread model MODEL (clone or pthread), into a temporary prefix; build
# consumer.c against it through pkg-config, once with the shared library
# and once with the static one, and run both. $CC is the compiler (cc).
set -eu
model=$1
meson=${2:-meson}
cc=${CC:-cc}
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/tests/consumer
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mrt-consumer-pc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step() { echo "consumer-pkgconfig: $*"; }

step "installing mrt ($model model) into $tmp/prefix"
"$meson" setup "$tmp/build" "$src" --prefix "$tmp/prefix" --libdir lib \
    -Dthreads="$model" -Dtests=disabled -Dexamples=false -Dbench=disabled \
    >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
"$meson" install -C "$tmp/build" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }

PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
export PKG_CONFIG_PATH
step "pkg-config: mrt $(pkg-config --modversion mrt), threads=$(pkg-config --variable=threads mrt)"
[ "$(pkg-config --variable=threads mrt)" = "$model" ] || { echo "mrt.pc says threads=$(pkg-config --variable=threads mrt), not $model"; exit 1; }
[ -f "$tmp/prefix/include/mrt.h" ] || { echo "mrt.h not installed"; exit 1; }

step "shared: $cc consumer.c \$(pkg-config --cflags --libs mrt)"
# shellcheck disable=SC2046
$cc -o "$tmp/consumer-shared" "$here/consumer.c" $(pkg-config --cflags --libs mrt) \
    -Wl,-rpath,"$tmp/prefix/lib"
"$tmp/consumer-shared" "$model"
readelf -d "$tmp/consumer-shared" | grep -q 'NEEDED.*libmrt\.so' \
    || { echo "consumer-shared does not use libmrt.so"; exit 1; }

step "static: $cc consumer.c \$(pkg-config --cflags --static --libs mrt), -lmrt as -l:libmrt.a"
# shellcheck disable=SC2046
$cc -o "$tmp/consumer-static" "$here/consumer.c" \
    $(pkg-config --cflags --static --libs mrt | sed 's/-lmrt/-l:libmrt.a/')
"$tmp/consumer-static" "$model"
if readelf -d "$tmp/consumer-static" | grep -q 'NEEDED.*libmrt'; then
    echo "consumer-static still needs libmrt.so"; exit 1
fi
step "ok"
