#!/bin/sh
# pkgconfig.sh MODEL [MESON] — install mrt from this source tree, built for
# thread model MODEL (clone or pthread); build consumer.c against it through
# pkg-config, once with the shared library and once with the static one,
# and run both. $CC is the compiler (cc).
#
# Native: installed into a temporary prefix, found through
# PKG_CONFIG_PATH (README: "Using mrt from your project").
# Cross ($MRT_CROSS_FILE set, tests/meson.build): README's "Cross-compiling
# for an ARM board", step by step — set up with the cross file and
# --prefix=/usr/local, installed into a staging root with DESTDIR, the
# consumer cross-compiled against the staged mrt.pc (PKG_CONFIG_SYSROOT_DIR
# and PKG_CONFIG_LIBDIR, as cross builds use them), and both programs run
# under $MRT_EXE_WRAPPER (the cross file's emulator).
set -eu
model=$1
meson=${2:-meson}
cc=${CC:-cc}
name=pkgconfig
. "$(dirname "$0")/lib.sh"

if [ -z "${MRT_CROSS_FILE:-}" ]; then
    step "installing mrt ($model model) into $tmp/prefix"
    quiet "$tmp/setup.log" "$meson" setup "$tmp/build" "$src" --prefix "$tmp/prefix" --libdir lib \
        -Dthreads="$model" -Dtests=disabled -Dexamples=false -Dbench=disabled
    quiet "$tmp/install.log" "$meson" install -C "$tmp/build"
    PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig
    export PKG_CONFIG_PATH
    inc=$tmp/prefix/include
    libdir=$tmp/prefix/lib
    run=
else
    stage=$tmp/stage
    step "meson setup --cross-file $(basename "$MRT_CROSS_FILE") --prefix=/usr/local -Dtests=disabled ($model model)"
    quiet "$tmp/setup.log" "$meson" setup "$tmp/build" "$src" --cross-file "$MRT_CROSS_FILE" \
        --prefix=/usr/local -Dtests=disabled -Dthreads="$model"
    quiet "$tmp/build.log" ninja -C "$tmp/build" -j2
    step "DESTDIR=$stage meson install"
    quiet "$tmp/install.log" env DESTDIR="$stage" "$meson" install -C "$tmp/build"
    # The .pc file names the --prefix; the sysroot puts the stage before it.
    pc=$(find "$stage/usr/local" -name mrt.pc)
    [ -n "$pc" ] || { echo "no mrt.pc staged"; exit 1; }
    PKG_CONFIG_SYSROOT_DIR=$stage
    PKG_CONFIG_LIBDIR=$(dirname "$pc")
    export PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
    step "PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$PKG_CONFIG_LIBDIR"
    inc=$stage/usr/local/include
    libdir=$(dirname "$PKG_CONFIG_LIBDIR")
    run=$MRT_EXE_WRAPPER
fi

step "pkg-config: mrt $(pkg-config --modversion mrt), threads=$(pkg-config --variable=threads mrt), $(pkg-config --cflags --libs mrt)"
[ "$(pkg-config --variable=threads mrt)" = "$model" ] || { echo "mrt.pc says threads=$(pkg-config --variable=threads mrt), not $model"; exit 1; }
[ -f "$inc/mrt.h" ] || { echo "mrt.h not installed in $inc"; exit 1; }
pkg-config --cflags mrt | grep -q -- "-I$inc" || { echo "pkg-config's -I is not $inc"; exit 1; }

step "shared: $cc consumer.c \$(pkg-config --cflags --libs mrt)"
# shellcheck disable=SC2046
$cc -o "$tmp/consumer-shared" "$here/consumer.c" $(pkg-config --cflags --libs mrt) \
    -Wl,-rpath,"$libdir"
# shellcheck disable=SC2086
$run "$tmp/consumer-shared" "$model"
readelf -d "$tmp/consumer-shared" | grep -q 'NEEDED.*libmrt\.so' \
    || { echo "consumer-shared does not use libmrt.so"; exit 1; }

step "static: $cc consumer.c \$(pkg-config --cflags --static --libs mrt), -lmrt as -l:libmrt.a"
# shellcheck disable=SC2046
$cc -o "$tmp/consumer-static" "$here/consumer.c" \
    $(pkg-config --cflags --static --libs mrt | sed 's/-lmrt/-l:libmrt.a/')
# shellcheck disable=SC2086
$run "$tmp/consumer-static" "$model"
if readelf -d "$tmp/consumer-static" | grep -q 'NEEDED.*libmrt'; then
    echo "consumer-static still needs libmrt.so"; exit 1
fi
if [ -n "$run" ]; then
    want=$MRT_HOST_CPU
    [ "$want" = aarch64 ] && want=AArch64
    [ "$want" = riscv64 ] && want=RISC-V
    readelf -h "$tmp/consumer-static" | grep -q "Machine:.*$want" \
        || { echo "consumer-static is not a $MRT_HOST_CPU program"; readelf -h "$tmp/consumer-static"; exit 1; }
fi
step "ok"
