#!/bin/bash
# Guest requests against heartbeats (BENCHMARKS.md). Runs the end-to-end
# scenario s_exec_load: three healthy guests (time=6 rate=3), ten concurrent
# "exec -- /bin/sleep 15" (3 per guest, a 4th on the first; more than the
# request workers), and a 5th request on the first guest that must get Busy.
# Prints every exec's duration and exit status, the Busy exit status, and
# whether the guests kept 100 % (and pings_missed) meanwhile. Root; a build
# tree as for run-e2e.sh (TOP_BUILDDIR):
#   tests/bench/exec-load.sh
set -uo pipefail
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp /tmp/hb-bench-exec-load.XXXXXX)
trap 'rm -f "$out"' EXIT

stats() { # numbers on stdin -> n, p50, p99, max (nearest rank)
    sort -g | awk '{ v[NR] = $1 }
        END { if (!NR) { print "n=0"; exit }
              a = int(NR * 0.5); if (a < NR * 0.5) a++
              b = int(NR * 0.99); if (b < NR * 0.99) b++
              printf "n=%d p50=%.1f p99=%.1f max=%.1f\n", NR, v[a], v[b], v[NR] }'
}

echo "exec-load: 3 healthy TCG guests, 10 concurrent 15 s execs, $(nproc) cores, libvirt $(virsh -v 2>/dev/null)"
HB_E2E_KEEP=1 HB_E2E_ONLY=s_exec_load bash "$srcdir/tests/e2e/run-e2e.sh" > "$out" 2>&1
status=$?
grep -E '^(ok|not ok) |^# ' "$out" | grep -v -e "# SKIP not in HB_E2E_ONLY" -e '^# ----' -e '^# logs kept'
grep -e '^#   FAILED' -e '^#   exec ' "$out"
work=$(sed -n 's/^# logs kept in //p' "$out" | tail -n1)
f=$work/figures
if [ -z "$work" ] || [ ! -s "$f/exec-load-summary.txt" ]; then
    echo "exec-load: no figures (the scenario did not get that far); exit $status"
    exit 1
fi
echo
echo "== figures (raw data in $f)"
echo "execs (domain, tag, exit status, ms):"
sort -k4,4n "$f/exec-load.txt" | sed 's/^/  /'
echo "exec durations (ms): $(awk '{ print $4 }' "$f/exec-load.txt" | stats)"
echo "exit statuses: $(awk '{ print $3 }' "$f/exec-load.txt" | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')"
sed 's/^/  /' "$f/exec-load-summary.txt"
echo "logs: $work (remove when done)"
exit $status
