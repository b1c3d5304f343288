#!/bin/bash
# The whole test suite on a fresh Debian 12 machine, as root: dependencies,
# a build with warnings as errors, the unit and in-process tests (also under
# ASan and UBSan), make distcheck, and the end-to-end suite on real guests
# under a real libvirtd (started here if none answers). README gives this
# command; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh

autoreconf -fi
# make check again under ASan and UBSan, out of tree. A configured source tree
# refuses out-of-tree builds, so this comes first (a previous run's in-tree
# build is cleaned away; it is made again just below).
[ ! -f config.status ] || make distclean
mkdir -p build-asan
(cd build-asan && ../configure --enable-werror --enable-sanitizers && make -j"$(nproc)" &&
    make -j"$(nproc)" check) || { cat build-asan/tests/*.log; exit 1; }
./configure --enable-werror
make -j"$(nproc)"
# make check runs here, in distcheck's build of the tarball (out of tree,
# --enable-werror): not again in this tree, which the e2e suite uses.
make -j"$(nproc)" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror ||
    { cat virt-heartbeat-*/_build/sub/tests/*.log 2>/dev/null; exit 1; }
# A smoke test of every harness; the campaigns are FUZZING.md's.
FUZZ_SECONDS=30 bash tests/fuzz/run-short.sh
make check-e2e
