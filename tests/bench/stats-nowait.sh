#!/bin/bash
# The bulk stats call of the verdicts (BENCHMARKS.md "Verdicts"): the
# latency of virConnectGetAllDomainStats for the daemon's groups (vcpu,
# block, interface) over three TCG guests, with and without
# VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT, while all run and while one
# guest's QEMU is SIGSTOPped. Runs the opt-in e2e scenario s_stats_nowait,
# which also records the samples kept in tests/data/verdict. Root; a build
# tree as for run-e2e.sh (TOP_BUILDDIR):
#   tests/bench/stats-nowait.sh
set -uo pipefail
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp /tmp/hb-bench-stats-nowait.XXXXXX)
trap 'rm -f "$out"' EXIT

stats() { # numbers on stdin -> n, p50, max (nearest rank); "timeout" counted apart
    sort -g | awk '/timeout/ { t++; next } { v[++n] = $1 }
        END { if (!n) { printf "n=0 timeouts=%d\n", t; exit }
              a = int(n * 0.5); if (a < n * 0.5) a++
              printf "n=%d p50=%d max=%d timeouts(60 s)=%d\n", n, v[a], v[n], t }'
}

echo "stats-nowait: 3 TCG guests, $(nproc) cores, libvirt $(virsh -v 2>/dev/null)," \
     "$(qemu-system-x86_64 --version 2>/dev/null | head -n1)"
HB_E2E_KEEP=1 HB_E2E_ONLY=s_stats_nowait bash "$srcdir/tests/e2e/run-e2e.sh" > "$out" 2>&1
status=$?
grep -E '^(ok|not ok) ' "$out" | grep -v "# SKIP not in HB_E2E_ONLY"
grep '^#   FAILED' "$out"
work=$(sed -n 's/^# logs kept in //p' "$out" | tail -n1)
f=$work/figures/nowait.txt
if [ -z "$work" ] || [ ! -s "$f" ]; then
    echo "stats-nowait: no figures (the scenario did not get that far); exit $status"
    exit 1
fi
echo
echo "== bulk call latency, ms (raw data in $f)"
for k in "running plain" "running nowait" "stopped first-vcpu+interface-nowait" \
         "stopped first-nowait" "stopped plain" "stopped nowait" "stopped vcpu+interface-nowait"; do
    printf '%-40s %s\n' "$k:" "$(grep "^$k " "$f" | awk '{ print $3 }' | stats)"
done
echo
echo "== what NOWAIT returned for the stopped guest"
grep -E "^(Domain|  (vcpu\.0\.time|block\.count|block\.0\.(rd|wr)\.bytes|net\.count))" \
    "$work/figures/stopped-nowait-output.txt"
echo "recorded samples: $work/figures/verdict-*.txt; logs: $work (remove when done)"
exit $status
