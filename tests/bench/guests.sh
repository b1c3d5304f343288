#!/bin/bash
# Real guests at the machine's limit (BENCHMARKS.md, issue "Scale"). Runs the
# opt-in end-to-end scenario s_guests: N healthy TCG guests (40) of 128 MiB at
# time=60 rate=60, one ping a second each, and three windows over the same
# guests: the daemon running (SECONDS, 300), no daemon (as long: libvirtd's
# baseline), and no daemon but its bulk counter read (virsh domstats with the
# daemon's groups and flags, every 2 s, one connection; 120 s).
# Prints the guests' memory and CPU, the daemon's CPU and RSS, libvirtd's CPU
# caused by the daemon (window 1 minus window 2; its counter read's share from
# window 3), libvirtd's and the daemon's busiest threads, the ping round trip
# and lateness from the daemon's statistics (virt-heartbeat stats, where it
# has them), missed ticks, and a cost model. Root; a build tree as for
# run-e2e.sh (TOP_BUILDDIR):
#   tests/bench/guests.sh [N] [SECONDS]
# It takes /tmp/hb-e2e.lock for the whole run (unless its caller holds it,
# as with "flock /tmp/hb-e2e.lock tests/bench/guests.sh").
set -uo pipefail
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
export HB_E2E_GUESTS=${1:-${HB_E2E_GUESTS:-40}}
export HB_E2E_WINDOW=${2:-${HB_E2E_WINDOW:-300}}
export HB_E2E_STATS_WINDOW=${HB_E2E_STATS_WINDOW:-120}
lock=/tmp/hb-e2e.lock
out=$(mktemp /tmp/hb-bench-guests.XXXXXX)
trap 'rm -f "$out"' EXIT

hz=$(getconf CLK_TCK)

run_suite() { # sets work and status
    local held=0 fd
    for fd in /proc/$$/fd/*; do
        [ "$(readlink "$fd")" = "$lock" ] && held=1
    done
    if [ "$held" = 0 ]; then
        exec 9>"$lock"
        if ! flock -n 9; then
            echo "guests: waiting for $lock (another end-to-end run)"
            flock 9
        fi
    fi
    echo "guests: $HB_E2E_GUESTS TCG guests of 128 MiB at time=60 rate=60, windows of" \
         "$HB_E2E_WINDOW s (counter read alone: $HB_E2E_STATS_WINDOW s); $(date -u '+%F %H:%M UTC')"
    echo "machine: $(nproc) cores ($(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
         "$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)," \
         "libvirt $(virsh -v 2>/dev/null), $(qemu-system-x86_64 --version 2>/dev/null | head -n1)"
    # What outlives the suite (libvirtd, dbus-daemon) must not hold the lock.
    HB_E2E_KEEP=1 HB_E2E_ONLY=s_guests bash "$srcdir/tests/e2e/run-e2e.sh" > "$out" 2>&1 9>&-
    status=$?
    grep -E '^(ok|not ok) |^# ' "$out" | grep -v -e "# SKIP not in HB_E2E_ONLY" -e '^# ----' -e '^# logs kept'
    grep '^#   FAILED' "$out"
    work=$(sed -n 's/^# logs kept in //p' "$out" | tail -n1)
}

# HB_GUESTS_WORK=DIR: only the figures again, of a run whose logs were kept.
if [ -n "${HB_GUESTS_WORK:-}" ]; then
    work=$HB_GUESTS_WORK
    status=0
else
    run_suite
fi
f=$work/figures
if [ -z "$work" ] || [ ! -s "$f/guests-s1.txt" ]; then
    echo "guests: no figures (the scenario did not get that far); exit $status"
    exit 1
fi

v() { # TAG KEY: the value of KEY at the window end TAG (0 if none)
    awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }' "$f/guests-$1.txt"
}
setup() { awk -v k="$1" '$1 == k { print $2 }' "$f/guests-setup.txt"; }
calc() { awk "BEGIN { printf $1 }"; } # 'FORMAT", EXPR...': awk's printf

n=$(setup guests)
# Window 1q, the daemon without -v, is in runs since it was added.
have_q=0
[ -s "$f/guests-q1.txt" ] && have_q=1
for w in d q b s; do
    [ "$w" = q ] && [ "$have_q" = 0 ] && continue
    eval "t_$w=$(calc '"%.3f", '"$(v ${w}1 time) - $(v ${w}0 time)")"
    for p in libvirtd qemu dbus daemon listener; do
        # CPU seconds over the window
        eval "${p}_$w=$(calc '"%.3f", '"($(v ${w}1 $p) - $(v ${w}0 $p)) / $hz")"
    done
done

# Pings in window 1: the daemon's own counters, else the domains' ones.
pings_from=domains
grown() { # JQ-EXPR: its growth over window 1, summed over the domains
    jq -s "(.[0] | map({key: .name, value: ($1)}) | from_entries) as \$a
           | [.[1][] | ($1) - \$a[.name]] | add" "$f/guests-d0-list.json" "$f/guests-d1-list.json"
}
pings=$(grown '.pings_ticked + .pings_missed + .pings_no_verdict')
missed=$(grown .pings_missed)
no_verdict=$(grown .pings_no_verdict)
ok_at() { jq '[.[] | select(.state == "ok" and .heartbeat_percentage == 100)] | length' "$f/guests-$1-list.json"; }
log_missed=$(sed -n "$(($(v d0 log_lines) + 1)),$(v d1 log_lines)p" "$work/daemon.log" | grep -c "missed tick")
log_nv=$(sed -n "$(($(v d0 log_lines) + 1)),$(v d1 log_lines)p" "$work/daemon.log" | grep -c "ping without verdict")

# The daemon's statistics (Prometheus text) at both ends of window 1.
have_stats=0
[ -s "$f/guests-d0-stats.txt" ] && [ -s "$f/guests-d1-stats.txt" ] && have_stats=1
counter() { # METRIC-WITH-LABELS [TAG0 TAG1]: its growth over window 1 (or TAG0..TAG1)
    awk -v m="$1" 'index($0, m " ") == 1 { if (FNR == NR) a = $NF; else b = $NF }
                   END { print b - a }' "$f/guests-${2:-d0}-stats.txt" "$f/guests-${3:-d1}-stats.txt"
}
pings_between() { # TAG0 TAG1: pings answered, every result
    awk 'index($0, "virt_heartbeat_pings_total{") == 1 { if (FNR == NR) a += $NF; else b += $NF }
         END { print b - a }' "$f/guests-$1-stats.txt" "$f/guests-$2-stats.txt"
}
# METRIC: "p50 p99 n" of a histogram over window 1 (bucket differences, each
# quantile interpolated linearly within its bucket, as Prometheus does), ms.
quantiles() {
    awk -v m="$1_bucket{" '
        index($0, m) != 1 { next }
        { match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
          if (FNR == NR) a[le] += $NF; else b[le] += $NF; les[le] = 1 }
        function bound(le) { return le == "+Inf" ? 1e300 : le + 0 }
        function q(p,    r, i, lo, hi, below) {
            r = p * total
            for (i = 1; i <= k; i++) if (cum[i] >= r && cum[i] > 0) break
            if (i > k) return "-"
            lo = i > 1 ? key[i - 1] : 0
            below = i > 1 ? cum[i - 1] : 0
            if (key[i] == "+Inf") return sprintf(">%.1f", lo * 1000)
            hi = key[i]
            return sprintf("%.1f", 1000 * (lo + (hi - lo) * (r - below) / (cum[i] - below)))
        }
        END {
            for (le in les) key[++k] = le
            for (i = 2; i <= k; i++)        # by bound, +Inf last
                for (j = i; j > 1 && bound(key[j - 1]) > bound(key[j]); j--) {
                    t = key[j]; key[j] = key[j - 1]; key[j - 1] = t }
            for (i = 1; i <= k; i++) cum[i] = b[key[i]] - a[key[i]]
            total = cum[k]
            if (!total) { print "- - 0"; exit }
            print q(0.5), q(0.99), total
        }' "$f/guests-d0-stats.txt" "$f/guests-d1-stats.txt"
}
if [ "$have_stats" = 1 ]; then
    # "RESULT GROWTH" of each result label of the ping counter
    by_result=$(awk 'index($0, "virt_heartbeat_pings_total{") == 1 {
                         match($0, /result="[^"]*"/); r = substr($0, RSTART + 8, RLENGTH - 9)
                         if (FNR == NR) a[r] = $NF; else b[r] = $NF }
                     END { for (r in b) print r, b[r] - a[r] }' \
                "$f/guests-d0-stats.txt" "$f/guests-d1-stats.txt" | sort)
    pings=$(awk '{ s += $2 } END { print s + 0 }' <<<"$by_result")
    pings_from="the daemon's statistics"
    read -r rtt50 rtt99 rttn < <(quantiles virt_heartbeat_ping_rtt_seconds)
    read -r late50 late99 laten < <(quantiles virt_heartbeat_ping_lateness_seconds)
    rtt_mean=$(calc '"%.2f", '"1000 * ($(counter virt_heartbeat_ping_rtt_seconds_sum)) / $rttn")
fi

# Threads: "NAME CPU-S" of the busiest ones over a window (TIDs in both ends).
threads() { # TAG0 TAG1 PROC
    awk 'FNR == NR { a[$1] = $3; next } ($1 in a) { n = $2; sub(/^vm-.*/, "vm-*", n)
                                 d[n] += $3 - a[$1]; c[n]++ }
         END { for (t in d) printf "%s%s %.2f\n", t, (c[t] > 1 ? "(x" c[t] ")" : ""), d[t] / hz }' \
        hz="$hz" "$f/guests-$1-$3-threads.txt" "$f/guests-$2-$3-threads.txt" | sort -k2 -gr
}
# PROC TAG0 TAG1: CPU s of its main thread over TAG0..TAG1. The main thread
# bears the process' name (the others have their own: rpc-libvirtd, gdbus,
# pool-*); TIDs do not tell, as they wrap around.
main_of() {
    awk 'FNR == NR { if ($2 ~ /^(libvirtd|virtqemud|virt-heartbeatd)$/) { t = $1; a = $3 }; next }
         $1 == t { printf "%.3f\n", ($3 - a) / hz }' \
        hz="$hz" "$f/guests-$2-$1-threads.txt" "$f/guests-$3-$1-threads.txt"
}
main_ticks() { main_of libvirtd "$@"; } # TAG0 TAG1
main_d=$(main_ticks d0 d1)
main_b=$(main_ticks b0 b1)
main_s=$(main_ticks s0 s1)

rate=$(calc '"%.2f", '"$pings / $t_d")
pct() { calc '"%.2f", '"100 * $1 / $2"; } # CPU-S WINDOW-S: % of one core
echo
echo "== figures (raw data in $f)"
echo "guests: $n, all ok at 100 % $(setup all_ok_s) s after the first start" \
     "($(setup start_s) s to define and start them)"
echo "  memory: QEMU RSS per guest $(awk '{ s += $2; if ($2 > m) m = $2 } END { printf "mean %.0f MiB, max %.0f MiB", s / NR / 1024, m / 1024 }' "$f/guests-qemu-rss.txt");" \
     "host MemAvailable fell $(calc '"%.0f MiB per guest", '"($(setup mem_available_before_kb) - $(v d0 mem_available_kb)) / 1024 / $n")" \
     "($(calc '"%.1f GiB", '"$(v d0 mem_available_kb) / 1048576") left)"
echo "  CPU of the guests (all QEMUs): no daemon $(pct "$qemu_b" "$t_b") % of one core" \
     "($(calc '"%.2f", '"100 * $qemu_b / $t_b / $n") % each); with the daemon's pings $(pct "$qemu_d" "$t_d") %" \
     "($(calc '"%.2f", '"100 * $qemu_d / $t_d / $n") % each)"
echo "pings in window 1 ($t_d s): $pings ($rate/s), counted from $pings_from"
echo "missed ticks on these healthy guests in window 1: $missed (domains' counters), $log_missed" \
     "(\"missed tick\" in the daemon's -v log); without verdict: $no_verdict ($log_nv in the log)"
echo "  ok at 100 %: $(ok_at d0) of $n at the start, $(ok_at d1) of $n at the end"
if [ "$have_stats" = 1 ]; then
    echo "  the daemon's ping counters: $(echo $by_result)"
    echo "ping round trip (worker's guest-ping call), ms: p50 $rtt50, p99 $rtt99, mean $rtt_mean (n=$rttn)"
    echo "ping lateness (start vs slot), ms: p50 $late50, p99 $late99 (n=$laten)"
else
    echo "ping round trip: not measured (this daemon has no \"virt-heartbeat stats\")"
fi
echo "daemon: CPU $daemon_d s = $(pct "$daemon_d" "$t_d") % of one core;" \
     "RSS $(calc '"%.1f MiB", '"$(v d1 daemon_VmRSS) / 1024") (peak $(calc '"%.1f MiB", '"$(v d1 daemon_VmHWM) / 1024"))"
echo "  its threads (CPU s): $(threads d0 d1 daemon | head -n 6 | tr '\n' ' ')"
if [ "$have_q" = 1 ]; then
    pings_q=$(pings_between q0 q1)
    echo "daemon without -v (window 1q, $t_q s, $pings_q pings, $(counter \
          'virt_heartbeat_pings_total{result="miss"}' q0 q1) missed):" \
         "CPU $daemon_q s = $(pct "$daemon_q" "$t_q") % of one core;" \
         "$(calc '"%.1f", '"1e6 * $daemon_q / $pings_q") us per ping" \
         "(with -v $(calc '"%.1f", '"1e6 * $daemon_d / $pings") us); RSS" \
         "$(calc '"%.1f MiB", '"$(v q1 daemon_VmRSS) / 1024"); ok at 100 %: $(ok_at q1) of $n at the end"
    echo "  its threads (CPU s): $(threads q0 q1 daemon | head -n 6 | tr '\n' ' ')"
    echo "  libvirtd meanwhile: $(pct "$libvirtd_q" "$t_q") % of one core"
fi
echo "libvirtd: window 1 (daemon) $(pct "$libvirtd_d" "$t_d") %, window 2 (none) $(pct "$libvirtd_b" "$t_b") %," \
     "window 3 (counter read alone) $(pct "$libvirtd_s" "$t_s") % of one core"
l_daemon=$(calc '"%.5f", '"$libvirtd_d / $t_d - $libvirtd_b / $t_b") # cores
l_read=$(calc '"%.5f", '"$libvirtd_s / $t_s - $libvirtd_b / $t_b")
l_pings=$(calc '"%.5f", '"$l_daemon - $l_read")
echo "  caused by the daemon: $(calc '"%.2f", '"100 * $l_daemon") % of one core;" \
     "of which the counter read $(calc '"%.2f", '"100 * $l_read") %, the pings $(calc '"%.2f", '"100 * $l_pings") %"
echo "  main thread: $(pct "$main_d" "$t_d") % (daemon), $(pct "$main_b" "$t_b") % (none), $(pct "$main_s" "$t_s") % (read alone)"
echo "  busiest threads, window 1 (CPU s): $(threads d0 d1 libvirtd | head -n 6 | tr '\n' ' ')"
echo "  busiest threads, window 2 (CPU s): $(threads b0 b1 libvirtd | head -n 6 | tr '\n' ' ')"
echo "dbus-daemon (the daemon's private bus, one events listener): $(pct "$dbus_d" "$t_d") %;" \
     "the listener (virt-heartbeat events) $(pct "$listener_d" "$t_d") % of one core"

# The cost model. libvirtd: a per ping (its part of the guest-ping call) and
# b per domain and second (the daemon's counter read, every 2 s whatever the
# rate); the daemon: c per ping, its counter read included. Each bound is
# the domain count N at which one resource reaches half of what it has
# (the 2x margin), for r pings per domain and second (rate / time):
#   libvirtd, all threads, half of the host's cores: N (a r + b) = cores / 2
#   libvirtd's main thread (every client's I/O), half a core: N r m = 0.5
#   the daemon, all threads, half of the cores: N r c = cores / 2
#   the daemon's main thread, half a core: N r dm = 0.5
#   the ping threads (ping_workers, each one call at a time): N r rtt = workers / 2
echo
echo "== cost model (CPU time per ping = per guest-ping call, window 1)"
per_ping() { calc '"%.1f", '"1e6 * $1 / $pings"; } # CPU-S: us per ping
# The daemon's cost as it runs in production: without -v, where measured.
if [ "$have_q" = 1 ]; then
    c_pp=$(calc '"%.1f", '"1e6 * $daemon_q / $pings_q")
    dm_pp=$(calc '"%.1f", '"1e6 * $(main_of daemon q0 q1) / $pings_q")
    c_what="without -v (window 1q)"
else
    c_pp=$(per_ping "$daemon_d")
    dm_pp=$(per_ping "$(main_of daemon d0 d1)")
    c_what="with -v (window 1)"
fi
l_pp=$(calc '"%.1f", '"1e6 * $l_daemon * $t_d / $pings")
a_pp=$(calc '"%.1f", '"1e6 * $l_pings * $t_d / $pings")
b_pd=$(calc '"%.1f", '"1e6 * $l_read / $n") # us of libvirtd per second per domain
m_pp=$(calc '"%.1f", '"1e6 * (($main_d / $t_d) - ($main_b / $t_b)) * $t_d / $pings")
workers=$(sed -n 's/^ping_workers=//p' "$work/virt-heartbeatd.conf")
workers=${workers:-4}
rtt_s=$(calc '"%.6f", '"${rtt_mean:-0} / 1000")
echo "daemon: c = $c_pp us per ping, all it did $c_what (its main thread: $dm_pp us)"
echo "libvirtd: $l_pp us per ping in all at one ping a second per domain; of which" \
     "a = $a_pp us per ping (the call) and b = $b_pd us per domain and second (the counter" \
     "read every 2 s, whatever the rate); its main thread m = $m_pp us per ping"
echo "dbus-daemon: $(per_ping "$dbus_d") us per ping; QEMU (the guest answering, TCG):" \
     "$(calc '"%.1f", '"1e6 * ($qemu_d / $t_d - $qemu_b / $t_b) * $t_d / $pings") us per ping"
echo "domains one libvirtd and one daemon serve with a 2x margin (each resource at half" \
     "of what it has; $(nproc) cores; mean round trip ${rtt_mean:-unknown} ms, $workers ping threads):"
awk -v a="$a_pp" -v b="$b_pd" -v m="$m_pp" -v c="$c_pp" -v dm="$dm_pp" -v cores="$(nproc)" \
    -v rtt="$rtt_s" -v w="$workers" '
    function bounds(k, r,    i) {
        nb = 0
        v[++nb] = cores / 2 / ((a * r + b) / 1e6); l[nb] = "libvirtd, all threads, half of the cores"
        v[++nb] = m > 0 ? 0.5 / (r * m / 1e6) : 0; l[nb] = "libvirtd main thread, half a core"
        v[++nb] = cores / 2 / (r * c / 1e6); l[nb] = "daemon, all threads, half of the cores"
        v[++nb] = dm > 0 ? 0.5 / (r * dm / 1e6) : 0; l[nb] = "daemon main thread, half a core"
        v[++nb] = rtt > 0 ? w / 2 / (r * rtt) : 0; l[nb] = "daemon ping threads, half busy"
        for (i = 1; i <= nb; i++) {
            out[i, k] = v[i]
            g = i <= 2 ? k : k + 2 # 1, 2: libvirtd; 3, 4: the daemon
            if (v[i] > 0 && (!best[g] || v[i] < best[g])) { best[g] = v[i]; who[g] = l[i] }
        }
    }
    function limited(x, y) {
        printf "    limited by: %s\n", x == y ? x : x " (60/60 s), " y " (10/60 s)"
    }
    function cell(x) { return x > 0 ? sprintf("%.0f", x) : "-" }
    BEGIN {
        bounds(1, 1); bounds(2, 1 / 6)
        printf "  %-44s %10s %10s\n", "bound (domains) at rate/time", "60/60 s", "10/60 s"
        for (i = 1; i <= nb; i++)
            printf "  %-44s %10s %10s\n", l[i], cell(out[i, 1]), cell(out[i, 2])
        printf "  one libvirtd: %.0f domains at rate=60/time=60, %.0f at rate=10/time=60 (the default)\n",
               best[1], best[2]
        limited(who[1], who[2])
        printf "  this daemon as configured: %.0f domains at 60/60 s, %.0f at 10/60 s\n", best[3], best[4]
        limited(who[3], who[4])
    }'
echo "logs: $work (remove when done)"
exit $status
