#!/bin/sh
# cmake.sh MODEL [MESON] — install mrt from this source tree, built for
# thread model MODEL (clone or pthread), and build a CMake project against
# it: tests/consumer/cmake/CMakeLists.txt, find_package(mrt 0.1 REQUIRED)
# and target_link_libraries(... mrt::mrt) (and mrt::mrt_static); run both
# programs through ctest. $CC is the compiler.
#
# Native: installed into a temporary prefix, found through
# CMAKE_PREFIX_PATH. Cross ($MRT_CROSS_FILE, tests/meson.build): installed
# into a staging root with DESTDIR (README: "Cross-compiling for an ARM
# board"), the project cross-compiled with a toolchain file that names the
# same compiler and finds packages only under the stage
# (CMAKE_FIND_ROOT_PATH), its programs run under the cross file's emulator
# (CMAKE_CROSSCOMPILING_EMULATOR).
set -eu
model=$1
meson=${2:-meson}
name=cmake
. "$(dirname "$0")/lib.sh"
command -v cmake >/dev/null || { echo "cmake not found (./ci/setup base installs it)"; exit 1; }

proj=$tmp/project
mkdir -p "$proj"
cp "$here/cmake/CMakeLists.txt" "$here/consumer.c" "$proj/"
# The compiler: its first word; the rest are flags.
# shellcheck disable=SC2086
set -- ${CC:-cc}
compiler=$1
shift
flags=$*

if [ -z "${MRT_CROSS_FILE:-}" ]; then
    step "installing mrt ($model model) into $tmp/prefix"
    quiet "$tmp/setup.log" "$meson" setup "$tmp/build" "$src" --prefix "$tmp/prefix" \
        -Dthreads="$model" -Dtests=disabled -Dexamples=false -Dbench=disabled
    quiet "$tmp/install.log" "$meson" install -C "$tmp/build"
    cmakeargs="-DCMAKE_PREFIX_PATH=$tmp/prefix"
else
    stage=$tmp/stage
    step "installing mrt ($model model, cross) into DESTDIR=$stage, prefix /usr/local"
    quiet "$tmp/setup.log" "$meson" setup "$tmp/build" "$src" --cross-file "$MRT_CROSS_FILE" \
        --prefix=/usr/local -Dthreads="$model" -Dtests=disabled -Dexamples=false -Dbench=disabled
    quiet "$tmp/install.log" env DESTDIR="$stage" "$meson" install -C "$tmp/build"
    emulator=$(echo "$MRT_EXE_WRAPPER" | tr ' ' ';')
    cat >"$tmp/toolchain.cmake" <<TC
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR $MRT_HOST_CPU)
set(CMAKE_C_COMPILER $compiler)
set(CMAKE_C_FLAGS_INIT "$flags")
set(CMAKE_FIND_ROOT_PATH $stage)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR "$emulator")
TC
    cmakeargs="-DCMAKE_TOOLCHAIN_FILE=$tmp/toolchain.cmake -DCMAKE_PREFIX_PATH=/usr/local"
    compiler= flags=
fi

step "cmake: find_package(mrt 0.1 REQUIRED), target_link_libraries(... mrt::mrt)"
# shellcheck disable=SC2086
quiet "$tmp/cmake.log" env ${compiler:+CC=$compiler} ${flags:+CFLAGS=$flags} \
    cmake -S "$proj" -B "$proj/build" -G Ninja -DMRT_MODEL="$model" $cmakeargs
grep "mrt 0.1" "$tmp/cmake.log"
quiet "$tmp/build.log" cmake --build "$proj/build"
readelf -d "$proj/build/consumer-shared" | grep -q 'NEEDED.*libmrt\.so\.0' \
    || { echo "consumer-shared does not use libmrt.so.0"; exit 1; }
if readelf -d "$proj/build/consumer-static" | grep -q 'NEEDED.*libmrt'; then
    echo "consumer-static still needs libmrt.so"; exit 1
fi
(cd "$proj/build" && ctest --output-on-failure) >"$tmp/ctest.log" 2>&1 || { cat "$tmp/ctest.log"; exit 1; }
grep -q "100% tests passed, 0 tests failed out of 2" "$tmp/ctest.log" || { cat "$tmp/ctest.log"; exit 1; }
step "ok: consumer-shared and consumer-static ran ($(grep -c 'Passed' "$tmp/ctest.log") passed)"
