#!/bin/bash
# CI's short fuzz run: a --enable-fuzzing build with clang in a build
# directory of its own (build-fuzz/, never the normal in-tree build), then
# each harness for FUZZ_SECONDS (60). Any crash, leak, UBSan report or GLib
# critical fails. FUZZING.md tells the rest.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${HB_FUZZ_BUILDDIR:-$top/build-fuzz}

mkdir -p "$build"
if [ -f "$top/config.status" ]; then
    # automake refuses a second build of a source tree configured in place:
    # build from a copy of the distribution, which also checks it is complete.
    # distdir relative to the top: automake's recursion into tests/ prefixes
    # "../" to it, which breaks an absolute path.
    make -C "$top" distdir distdir="$(realpath -m --relative-to="$top" "$build/src")" >/dev/null
    src=$build/src
else
    [ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
    src=$top
fi
mkdir -p "$build/obj"
cd "$build/obj"
[ -f Makefile ] || "$src/configure" CC=clang --enable-fuzzing --enable-werror >/dev/null
make -j"$(nproc)" >/dev/null
make fuzz-short
