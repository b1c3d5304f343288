#!/bin/bash
# The whole test suite on a fresh Debian 12 machine, as root: dependencies,
# a build with warnings as errors, the unit and in-process tests under ASan
# and UBSan in make distcheck, and the end-to-end suite on real guests
# under a real libvirtd (started here if none answers). README gives this
# command; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh

autoreconf -fi
[ ! -f config.status ] || make distclean
./configure --enable-werror
make -j"$(nproc)"
# make check runs once, under ASan and UBSan, in distcheck's build of the
# tarball (out of tree, --enable-werror): so it also checks that the tarball
# is complete. Not again in this tree, which the e2e suite uses.
make -j"$(nproc)" distcheck DISTCHECK_CONFIGURE_FLAGS="--enable-werror --enable-sanitizers" ||
    { cat virt-heartbeat-*/_build/sub/tests/*.log 2>/dev/null; exit 1; }
# A smoke test of every harness; the campaigns are FUZZING.md's.
FUZZ_SECONDS=10 bash tests/fuzz/run-short.sh
make check-e2e
