#!/bin/bash
# Many hung guest agents at once (BENCHMARKS.md). Runs the end-to-end
# scenario s_mass_hang: HUNG guests (16) whose agent is SIGSTOPped (its port
# stays open) beside two healthy ones, time=30 rate=2 failure_attempts=1.
# Prints: each hung guest's detection delay against the bound
# (time + time/rate + 1 s), the restarts' decision -> call delays from the
# daemon log, virsh list latency during the hang, and whether the healthy
# guests kept 100 %. Root; a build tree as for run-e2e.sh (TOP_BUILDDIR):
#   tests/bench/mass-hang.sh [HUNG]
set -uo pipefail
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
export HB_E2E_MASS=${1:-${HB_E2E_MASS:-16}}
out=$(mktemp /tmp/hb-bench-mass-hang.XXXXXX)
trap 'rm -f "$out"' EXIT

stats() { # numbers on stdin -> n, p50, p99, max (nearest rank)
    sort -g | awk '{ v[NR] = $1 }
        END { if (!NR) { print "n=0"; exit }
              a = int(NR * 0.5); if (a < NR * 0.5) a++
              b = int(NR * 0.99); if (b < NR * 0.99) b++
              printf "n=%d p50=%.1f p99=%.1f max=%.1f\n", NR, v[a], v[b], v[NR] }'
}

echo "mass-hang: $HB_E2E_MASS hung + 2 healthy TCG guests, $(nproc) cores, libvirt $(virsh -v 2>/dev/null)," \
     "$(qemu-system-x86_64 --version 2>/dev/null | head -n1)"
HB_E2E_KEEP=1 HB_E2E_ONLY=s_mass_hang bash "$srcdir/tests/e2e/run-e2e.sh" > "$out" 2>&1
status=$?
grep -E '^(ok|not ok) |^# ' "$out" | grep -v -e "# SKIP not in HB_E2E_ONLY" -e '^# ----' -e '^# logs kept'
grep '^#   FAILED' "$out"
work=$(sed -n 's/^# logs kept in //p' "$out" | tail -n1)
f=$work/figures
if [ -z "$work" ] || [ ! -s "$f/mass-hang-summary.txt" ]; then
    echo "mass-hang: no figures (the scenario did not get that far); exit $status"
    exit 1
fi
eval "$(head -n1 "$f/mass-hang-summary.txt")"  # hung healthy time rate bound limit lower
eval "$(sed -n 2p "$f/mass-hang-summary.txt")" # samples not_ok
echo
echo "== figures (raw data in $f)"
echo "detection delay, s (hang -> heartbeat stopped; bound $bound s = time + time/rate + 1; asserted $lower..$limit s)"
echo "  from the daemon log (ms):     $(awk '$4 != "-" { print $4 }' "$f/mass-hang-detect.txt" | stats)"
echo "  from the event time (1 s):    $(awk '{ print $3 }' "$f/mass-hang-detect.txt" | stats)"
echo "  over the bound: $(awk -v b="$bound" '{ d = ($4 == "-") ? $3 : $4; if (d > b) n++ } END { print n + 0 }' "$f/mass-hang-detect.txt") of $(wc -l < "$f/mass-hang-detect.txt")"
kind=$(awk '{ print $4 }' "$f/mass-hang-restart.txt" | sort -u | tr '\n' ' ')
echo "restart decision -> ${kind:-call}(ms): $(awk '{ print $3 }' "$f/mass-hang-restart.txt" | stats)"
echo "virsh list during the hang (ms): $(stats < "$f/mass-hang-virsh-list.txt")"
echo "healthy guests: $not_ok of $samples samples not ok at 100 %"
echo "logs: $work (remove when done)"
exit $status
