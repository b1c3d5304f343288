#!/bin/bash
# Diagnostics before a reset (BENCHMARKS.md "Diagnostics"): the time from
# the restart decision to the reset call for diagnostics=none, screenshot,
# console and dump, from the daemon's "(called X ms after the decision)".
# Runs the opt-in e2e scenario s_diagnostics (four panicked TCG guests at
# once, one per kind) RUNS times (3). Root; a build tree as for run-e2e.sh
# (TOP_BUILDDIR):
#   tests/bench/diag-latency.sh [RUNS]
set -uo pipefail
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
runs=${1:-3}
out=$(mktemp /tmp/hb-bench-diag.XXXXXX)
all=$(mktemp /tmp/hb-bench-diag-all.XXXXXX)
trap 'rm -f "$out" "$all"' EXIT

stats() { # numbers on stdin -> n, p50, max (nearest rank)
    sort -g | awk '{ v[++n] = $1 }
        END { if (!n) { print "n=0"; exit }
              a = int(n * 0.5); if (a < n * 0.5) a++
              printf "n=%d p50=%.1f max=%.1f\n", n, v[a], v[n] }'
}

echo "diag-latency: 4 TCG guests of 96 MiB, $(nproc) cores, libvirt $(virsh -v 2>/dev/null)," \
     "$(qemu-system-x86_64 --version 2>/dev/null | head -n1)"
status=0
for i in $(seq 1 "$runs"); do
    HB_E2E_KEEP=1 HB_E2E_ONLY=s_diagnostics bash "$srcdir/tests/e2e/run-e2e.sh" > "$out" 2>&1 ||
        status=1
    grep -E '^(ok|not ok) ' "$out" | grep -v "# SKIP not in HB_E2E_ONLY"
    grep -E '^#   FAILED|^# dump: [0-9]+ bytes' "$out"
    work=$(sed -n 's/^# logs kept in //p' "$out" | tail -n1)
    [ -n "$work" ] && [ -s "$work/figures/diag-latency" ] && cat "$work/figures/diag-latency" >> "$all"
    # A failed run's logs stay (run-e2e.sh prints them); a passed one's go.
    [ -n "$work" ] && grep -q '^ok 41 ' "$out" && rm -rf "$work"
done
echo
echo "== decision -> reset call, ms"
for k in none screenshot console dump; do
    printf '%-12s %s\n' "$k:" "$(awk -v k="$k" '$1 == k { print $2 }' "$all" | stats)"
done
exit $status
