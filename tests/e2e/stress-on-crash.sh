#!/bin/bash
# Stress the pvpanic on_crash=destroy case (not part of make check-e2e): one
# guest with a pvpanic device panics CRASHES times in a row (20). After each
# crash libvirt destroys it, and the daemon must start it exactly once: one
# restart-attempt event "start"/"ok", one start and one crash stop seen by
# libvirt, and the heartbeat back. Root; a build tree as for run-e2e.sh:
#   TOP_BUILDDIR=/path/to/build tests/e2e/stress-on-crash.sh [CRASHES]
# It runs the opt-in scenario s_crash_loop of run-e2e.sh. Exit 0 only if every
# crash got exactly one start.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export HB_E2E_CRASHES=${1:-${HB_E2E_CRASHES:-20}}
out=$(mktemp /tmp/hb-stress-on-crash.XXXXXX)
trap 'rm -f "$out"' EXIT

HB_E2E_ONLY=s_crash_loop bash "$here/run-e2e.sh" 2>&1 |
    grep --line-buffered -v "# SKIP not in HB_E2E_ONLY" | tee "$out"
status=${PIPESTATUS[0]}
good=$(grep -c "^# crash [0-9]*: ok" "$out")
echo "stress-on-crash: $good of $HB_E2E_CRASHES crashes with exactly one start"
[ "$status" = 0 ] && [ "$good" = "$HB_E2E_CRASHES" ]
