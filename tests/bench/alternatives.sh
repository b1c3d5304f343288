#!/bin/bash
# Side by side with the alternatives (BENCHMARKS.md): for each fault kind,
# the end-to-end scenario s_alternatives starts N guests (3) of each watcher
# from the same image, makes the fault in all of them at once and tells
# which watcher caught it and how fast. Watchers: wd, libvirt's <watchdog
# model='ib700' action='reset'/> petted from the guest (the cloud kernel has
# no i6300esb or ib700 driver); sd, softdog with busybox's watchdog daemon in
# the guest; def and short, virt-heartbeatd at its defaults and at time=30
# rate=10. Both watchdogs at 30 s, petted every 10 s. With
# python3-masakari-monitors installed (HB_E2E_ALT_MASAKARI=1, the default),
# masakari's introspective instance monitor watches the wd and sd guests at
# its defaults (tests/bench/masakari-iim.py). Faults: agent freeze
# userspace panic storm hoststall (see s_alternatives in
# tests/e2e/run-e2e.sh; the daemon's host-wide breaker is off but for
# hoststall, where a watcher that acts is wrong); one
# suite run each, so another suite may run between them. Root; a build tree
# as for run-e2e.sh (TOP_BUILDDIR):
#   tests/bench/alternatives.sh [FAULT...]
set -uo pipefail
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
faults=("$@")
[ ${#faults[@]} -gt 0 ] || faults=(agent freeze userspace panic storm hoststall)
export HB_E2E_ALT_N=${HB_E2E_ALT_N:-3}
export HB_E2E_ALT_MASAKARI=${HB_E2E_ALT_MASAKARI:-1}
out=$(mktemp /tmp/hb-bench-alternatives.XXXXXX)
trap 'rm -f "$out"' EXIT
status=0

stats() { # numbers on stdin -> n, p50, max (nearest rank)
    sort -g | awk '{ v[NR] = $1 }
        END { if (!NR) { print "-"; exit }
              a = int(NR * 0.5); if (a < NR * 0.5) a++
              printf "min=%.1f p50=%.1f max=%.1f", v[1], v[a], v[NR] }'
}

echo "alternatives: $HB_E2E_ALT_N guests per watcher, $(nproc) cores, libvirt $(virsh -v 2>/dev/null)," \
     "$(qemu-system-x86_64 --version 2>/dev/null | head -n1), $(date -u '+%F %H:%M UTC')"
for fault in "${faults[@]}"; do
    HB_E2E_ALT_FAULT=$fault HB_E2E_KEEP=1 HB_E2E_ONLY=s_alternatives \
        bash "$srcdir/tests/e2e/run-e2e.sh" > "$out" 2>&1 || status=1
    grep -E '^(ok|not ok) ' "$out" | grep -v "# SKIP not in HB_E2E_ONLY"
    grep '^#   FAILED' "$out"
    work=$(sed -n 's/^# logs kept in //p' "$out" | tail -n1)
    f=$work/figures/alternatives-$fault.txt
    if [ -z "$work" ] || [ ! -s "$f" ]; then
        echo "alternatives: $fault: no figures (the scenario did not get that far)"
        status=1
        continue
    fi
    echo "== $fault (raw data: $f)"
    if [ "$fault" = storm ]; then
        sed 's/^/  /' "$f"
        continue
    fi
    # NAME KIND FAULT SECONDS|- SIGN boots=N resets=N attempts=N masakari=SECONDS|-|n/a
    for kind in wd sd def short; do
        awk -v k="$kind" '$2 == k' "$f" | grep -q . || continue
        n=$(awk -v k="$kind" '$2 == k' "$f" | wc -l)
        caught=$(awk -v k="$kind" '$2 == k && $4 != "-"' "$f" | wc -l)
        booted=$(awk -v k="$kind" '$2 == k { split($6, b, "="); if (b[2] >= 2) n++ } END { print n + 0 }' "$f")
        reset=$(awk -v k="$kind" '$2 == k { split($7, b, "="); if (b[2] >= 1) n++ } END { print n + 0 }' "$f")
        printf '  %-6s caught %d of %d; fault -> caught, s: %s; reset: %d, booted again: %d of %d\n' \
            "$kind" "$caught" "$n" "$(awk -v k="$kind" '$2 == k && $4 != "-" { print $4 }' "$f" | stats)" \
            "$reset" "$booted" "$n"
    done
    if grep -q 'masakari=[0-9-]' "$f"; then
        m=$(sed -n 's/.* masakari=\([0-9.-]*\)$/\1/p' "$f")
        printf '  %-6s caught %d of %d (the wd and sd guests); fault -> notification, s: %s\n' masakari \
            "$(grep -c '^[0-9]' <<<"$m")" "$(grep -c . <<<"$m")" "$(grep '^[0-9]' <<<"$m" | stats)"
    fi
done
exit $status
