#!/bin/bash
# The end-to-end suite: virt-heartbeatd against a real libvirtd, real QEMU
# guests (Debian's cloud kernel plus an initramfs running the real qemu-ga)
# and a private D-Bus bus. Run as root: make check-e2e.
#
# Each scenario checks the daemon through the CLI (--json) and its D-Bus
# signals (virt-heartbeat --json events), and libvirt's own view (virsh
# domstate --reason, virsh event) independently. Guests run under TCG unless
# HB_E2E_KVM=1. Output is TAP. On failure every log is kept and shown.
# HB_E2E_ONLY="s_exec s_info" runs only the scenarios named; it also runs
# the opt-in scenarios, which are not in the suite (s_crash_loop).
# HB_E2E_KEEP=1 keeps the work directory (logs, figures/) and prints its path.
# HB_E2E_MASS=N: hung guests in s_mass_hang (16); HB_E2E_CRASHES=N: crashes
# in s_crash_loop (20). HB_E2E_GUESTS=N, HB_E2E_WINDOW=S, HB_E2E_STATS_WINDOW=S:
# guests and window lengths of s_guests (40, 300 s, 120 s). HB_E2E_ALT_FAULT=KIND
# and HB_E2E_ALT_N=N: the fault and the guests of each watcher in
# s_alternatives (agent, 3).
# HB_E2E_DAEMON_WRAPPER="valgrind ...": a command the daemon runs under (make
# check-valgrind); s_sigterm then checks the wrapper's exit status.
# HB_E2E_SLOW=N multiplies the limits the suite waits for the daemon (1).
# GLib criticals are fatal in the daemon: G_DEBUG=fatal-criticals.
set -uo pipefail

# One suite at a time on a host: each suite's daemon watches every domain
# with heartbeat metadata, another suite's too, and one scenario restarts
# libvirtd. A second run waits here for the first. What outlives a
# command (libvirtd, virtlogd, dbus-daemon) is started without the lock's
# descriptor (8>&-), or it would hold the lock after the suite ends.
mkdir -p /run/lock
exec 8>/run/lock/virt-heartbeat-e2e.lock
if ! flock -n 8; then
    echo "# another end-to-end run holds /run/lock/virt-heartbeat-e2e.lock; waiting" >&2
    flock 8
fi

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${TOP_BUILDDIR:-$srcdir}
cli="$builddir/src/virt-heartbeat"
daemon="$builddir/src/virt-heartbeatd"
V="virsh -q -c qemu:///system"
prefix="hbe2e-$$-"
work=$(mktemp -d /tmp/hbe2e.XXXXXX)
guest="$builddir/tests/e2e/guest"
domtype=qemu
[ "${HB_E2E_KVM:-0}" = 1 ] && domtype=kvm
slow=${HB_E2E_SLOW:-1}
read -r -a daemon_wrapper <<<"${HB_E2E_DAEMON_WRAPPER:-}"
daemon_args=(-v) # s_guests measures a window without -v too

# time=6 s blocks, a ping every 2 s; boot under TCG takes about 4 s.
FAST="time='6' rate='3' boot_grace='30' failure_interval='15' failure_attempts='3'"

passed=0
failed=0
n=0
started_pids=()
bg_pids=()
dbus_pid=
events_pid=
cluster_pids=() # s_cluster's corosync and pacemakerd, while they run

log() { echo "# $*"; }

fail() {
    echo "#   FAILED: $*"
    return 1
}

finish_scenario() {
    local status=$1 desc=$2
    n=$((n + 1))
    if [ "$status" = 0 ]; then
        echo "ok $n - $desc"
        passed=$((passed + 1))
    else
        echo "not ok $n - $desc"
        failed=$((failed + 1))
    fi
}

# ---- helpers -------------------------------------------------------------

wait_until() { # SECONDS COMMAND...: poll until COMMAND succeeds
    local limit=$(($1 * slow)); shift
    local end=$((SECONDS + limit))
    while [ $SECONDS -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    "$@" >/dev/null 2>&1
}

status_field() { # DOMAIN FIELD
    "$cli" status "$1" --json 2>/dev/null | jq -r ".$2"
}

state_is() { [ "$(status_field "$1" state)" = "$2" ]; }

field_is() { [ "$(status_field "$1" "$2")" = "$3" ]; } # DOMAIN FIELD VALUE

info_is() { [ "$("$cli" info "$1" --json 2>/dev/null | jq -r ".$2")" = "$3" ]; } # DOMAIN FIELD VALUE

events_of() { # DOMAIN EVENT: the daemon's events of that kind, one JSON per line
    jq -c --arg d "$1" --arg e "$2" 'select(.domain == $d and .event == $e)' \
        "$work/events.jsonl" 2>/dev/null
}

count_events() { events_of "$1" "$2" | wc -l; }

has_events() { [ "$(count_events "$1" "$2")" -ge "$3" ]; }

domstate() { $V domstate --reason "$1" 2>/dev/null; }

domstate_is() { [ "$(domstate "$1")" = "$2" ]; }

libvirt_events() { # DOMAIN TEXT: count of libvirt's own lifecycle events
    grep -c "for domain '$1': $2" "$work/libvirt-events.log"
}

libvirt_reboots() { grep -c "event 'reboot' for domain '$1'" "$work/libvirt-events.log"; }

# One reset shows as two to four 'reboot' events within some 200 ms (libvirt
# 9.0, QEMU 7.2): events less than 2 s apart count as one reset.
libvirt_resets() { # DOMAIN
    grep "event 'reboot' for domain '$1'\$" "$work/libvirt-events.log" |
        awk '{ split($2, t, /[:+]/); s = t[1] * 3600 + t[2] * 60 + t[3]
               if ($1 != day || s - last > 2) n++
               day = $1; last = s }
             END { print n + 0 }'
}

has_libvirt_events() { [ "$(libvirt_events "$1" "$2")" -ge "$3" ]; }

# Boots of the guest as it saw them: guest-init greets each on the console.
guest_boots() { grep -c "guest-init: up" "$work/$1-console.log" 2>/dev/null; }

has_boots() { [ "$(guest_boots "$1")" -ge "$2" ]; }

# DOMAIN...: those not in state ok at 100 %, one "NAME STATE PERCENT" each
# (one call for all of them: the CLI lists every monitored domain).
not_ok_100() {
    local all line d
    all=$("$cli" list --json 2>/dev/null | jq -r '.[] | "\(.name) \(.state) \(.heartbeat_percentage)"')
    for d; do
        line=$(grep "^$d " <<<"$all")
        case "$line" in
            "$d ok 100") ;;
            "") echo "$d unknown -" ;;
            *) echo "$line" ;;
        esac
    done
}

# The daemon log's time stamps are GLib's: local time of day, to the ms.
log_epoch() { # HH:MM:SS.mmm -> seconds since the epoch, today's (or yesterday's)
    local t
    t=$(date -d "$(date +%F) $1" +%s.%N) || return 1
    awk -v t="$t" -v now="$(date +%s)" 'BEGIN { if (t > now + 43200) t -= 86400; printf "%.3f\n", t }'
}

# The next line of the daemon log: where a scenario's own lines begin.
log_mark() { echo $(($(wc -l < "$work/daemon.log") + 1)); }

log_has_since() { # LINE TEXT: the daemon logged TEXT at line LINE or after
    tail -n "+$1" "$work/daemon.log" | grep -q -- "$2"
}

daemon_log_time() { # DOMAIN TEXT: when the daemon first logged "Domain 'DOMAIN': TEXT"
    local ts
    ts=$(grep -m1 -F "Domain '$1': $2" "$work/daemon.log" |
         grep -o '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]*' | head -n1)
    [ -n "$ts" ] && log_epoch "$ts"
}

# PREFIX: one "NAME ATTEMPT MS KIND" per finished restart attempt of the
# domains named PREFIX*. KIND call: the daemon's "(called X ms after the
# decision)"; KIND done: a daemon that does not say, from the time stamps of
# its decision and result lines (so including the call itself).
restart_delays() {
    local log=$work/daemon.log
    if grep -q "ms after the decision)" "$log"; then
        grep -F "Domain '$1" "$log" |
            sed -n "s/.*Domain '\([^']*\)': restart attempt \([0-9]*\)[ :].*(called \([0-9.]*\) ms after the decision).*/\1 \2 \3 call/p"
    else
        grep -F "Domain '$1" "$log" |
            sed -n "s/^.* \([0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]*\): Domain '\([^']*\)': restart attempt \([0-9]*\)\( of\|:\| failed:\) .*/\2 \3 \1 \4/p" |
            awk '{ split($3, t, ":"); s = t[1] * 3600 + t[2] * 60 + t[3]; k = $1 " " $2
                   if ($4 == "of") { dec[k] = s; next }
                   if (k in dec) { d = s - dec[k]; if (d < 0) d += 86400
                                   printf "%s %s %.1f done\n", $1, $2, d * 1000; delete dec[k] } }'
    fi
}

stats() { # numbers on stdin -> "n=N p50=X p99=X max=X" (nearest rank)
    sort -g | awk '{ v[NR] = $1 }
        END { if (!NR) { print "n=0"; exit }
              a = int(NR * 0.5); if (a < NR * 0.5) a++
              b = int(NR * 0.99); if (b < NR * 0.99) b++
              printf "n=%d p50=%.1f p99=%.1f max=%.1f\n", NR, v[a], v[b], v[NR] }'
}

# A command that kills or stops the agent itself starts with "sleep 1": else
# it may do so before qemu-ga has sent its guest-exec reply, and the call
# fails ("Guest agent disappeared while executing command"; seen in CI).
agent_exec() { # DOMAIN SHELL-COMMAND: run in the guest through its own agent
    local cmd
    cmd=$(jq -cn --arg c "$2" '{execute: "guest-exec", arguments: {path: "/bin/sh", arg: ["-c", $c]}}')
    $V qemu-agent-command "$1" "$cmd" >/dev/null
}

agent_pings() { $V qemu-agent-command "$1" '{"execute":"guest-ping"}' --timeout 2 >/dev/null 2>&1; }

# mkdomain NAME [AGENT=yes|no|controller] [CMDLINE] [HB-ATTRS] [ON_CRASH] [PANIC=yes]
# MK_DISK=yes: a 64 MiB raw disk, /dev/vda in the guest, for writes.
# AGENT=controller: no agent channel, but a virtio-serial controller to add one to.
# MK_ON_REBOOT=destroy, MK_INITRD=FILE and MK_MEMORY=MiB in its environment
# change those; MK_DEVICES=XML adds devices.
mkdomain() {
    local name=$1 agent=${2:-yes} cmdline=${3:-} attrs=${4-$FAST} on_crash=${5:-destroy} panic=${6:-yes}
    local on_reboot=${MK_ON_REBOOT:-restart} initrd=${MK_INITRD:-$guest/initrd.img}
    local memory=${MK_MEMORY:-128} devices=${MK_DEVICES:-}
    local channel="" metadata="" panicdev="" disk=""
    [ "$agent" = yes ] && channel="<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    [ "$agent" = controller ] && channel="<controller type='virtio-serial'/>"
    [ -n "$attrs" ] && metadata="<metadata><hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' $attrs/></metadata>"
    [ "$panic" = yes ] && panicdev="<panic model='isa'/>"
    if [ "${MK_DISK:-no}" = yes ]; then
        truncate -s 64M "$work/$name.img"
        disk="<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$work/$name.img'/><target dev='vda' bus='virtio'/></disk>"
    fi
    cat > "$work/$name.xml" <<EOF
<domain type='$domtype'>
  <name>$name</name>
  <memory unit='MiB'>$memory</memory>
  <vcpu>1</vcpu>
  $metadata
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest/vmlinuz</kernel>
    <initrd>$initrd</initrd>
    <cmdline>console=ttyS0 quiet panic=0 $cmdline</cmdline>
  </os>
  <features><acpi/></features>
  <on_reboot>$on_reboot</on_reboot>
  <on_crash>$on_crash</on_crash>
  <devices>
    <serial type='file'><source path='$work/$name-console.log' append='on'/><target port='0'/></serial>
    $disk
    $channel
    $panicdev
    $devices
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    $V define "$work/$name.xml" >/dev/null && $V start "$name" >/dev/null
}

rmdomain() {
    $V destroy "$1" >/dev/null 2>&1
    $V undefine "$1" >/dev/null 2>&1
}

gone() { ! kill -0 "$1" 2>/dev/null; } # PID: that process has ended

qemu_pid() { cat "/var/run/libvirt/qemu/$1.pid"; }

start_daemon() {
    G_DEBUG=${G_DEBUG:+$G_DEBUG,}fatal-criticals "${daemon_wrapper[@]}" \
        "$daemon" -f "$work/virt-heartbeatd.conf" "${daemon_args[@]}" >> "$work/daemon.log" 2>&1 &
    daemon_pid=$!
    wait_until 20 "$cli" list
}

start_event_log() {
    $V event --all --loop --timestamp >> "$work/libvirt-events.log" 2>&1 &
    bg_pids+=($!)
}

# The daemon's D-Bus signals; the listener ends when the daemon goes away.
start_events() {
    "$cli" --json events >> "$work/events.jsonl" 2>>"$work/daemon.log" &
    events_pid=$!
    bg_pids+=($!)
}

# The suite's daemon configuration, with KEY=VALUE lines added to [daemon].
write_daemon_conf() {
    {
        echo "[daemon]"
        echo "uri=qemu:///system"
        echo "state_dir=$work/state"
        printf '%s\n' "$@"
    } > "$work/virt-heartbeatd.conf"
}

# KEY=VALUE...: the daemon again, with these [daemon] keys (none: the suite's
# own), and a new events listener (the old one ends with the old daemon).
restart_daemon() {
    if [ -n "${daemon_pid:-}" ]; then
        kill -TERM "$daemon_pid" 2>/dev/null
        wait_until 15 gone "$daemon_pid" || kill -KILL "$daemon_pid" 2>/dev/null
        wait "$daemon_pid" 2>/dev/null
    fi
    # A second listener would print every event twice.
    wait_until 10 gone "$events_pid" || kill "$events_pid" 2>/dev/null
    write_daemon_conf "$@"
    start_daemon || return 1
    start_events
}

# ---- setup and teardown --------------------------------------------------

cleanup() {
    local status=$?
    for d in $($V list --all --name 2>/dev/null | grep "^$prefix"); do
        rmdomain "$d"
    done
    [ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null
    # s_deb's package, its daemon and bus, if it was cut short.
    declare -F deb_teardown >/dev/null && deb_teardown
    # s_cluster's cluster, if it was cut short.
    declare -F cluster_teardown >/dev/null && cluster_teardown
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null
    # libvirtd and virtlogd, if this suite started them. They are no
    # children of ours: wait until they are gone (up to 30 s), or the next
    # suite, once it has the lock, finds a libvirtd that no longer answers.
    for p in "${started_pids[@]}"; do kill "$p" 2>/dev/null; done
    for _ in $(seq 1 150); do
        local alive=0
        for p in "${started_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    wait 2>/dev/null
    if [ "$failed" -gt 0 ] || [ "$status" != 0 ]; then
        echo "# logs kept in $work"
        for f in "$work"/daemon.log "$work"/events.jsonl "$work"/libvirt-events.log \
                 "$work"/*-console.log /var/log/libvirt/libvirtd.log; do
            [ -f "$f" ] || continue
            echo "# ---- $f (last 60 lines)"
            tail -n 60 "$f" | sed 's/^/#   /'
        done
    elif [ "${HB_E2E_KEEP:-0}" = 1 ]; then
        echo "# logs kept in $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

if [ "$(id -u)" != 0 ]; then
    echo "1..0 # SKIP the end-to-end suite needs root (libvirtd, QEMU)"
    exit 0
fi

log "building the guest image"
bash "$srcdir/tests/e2e/build-guest.sh" "$guest" | sed 's/^/# /' || exit 1
log "making sure libvirtd answers"
mapfile -t started_pids < <(bash "$srcdir/tests/e2e/libvirtd-up.sh" 8>&-) || exit 1

dbus-daemon --session --fork --print-address=3 --print-pid=4 3>"$work/bus.addr" 4>"$work/bus.pid" 8>&-
dbus_pid=$(cat "$work/bus.pid")
DBUS_SYSTEM_BUS_ADDRESS=$(cat "$work/bus.addr")
export DBUS_SYSTEM_BUS_ADDRESS

# The worker counts (ping_workers, suspect_workers, request_workers) are
# left at their defaults: the load scenarios check exactly those.
mkdir -p "$work/figures"
write_daemon_conf
start_daemon || { echo "Bail out! virt-heartbeatd did not come up"; exit 1; }
start_events
start_event_log

# Opt-in scenarios run only when HB_E2E_ONLY names them.
optin=0
for s in s_crash_loop s_stats_nowait s_guests s_alternatives s_hook_veto s_diagnostics_bound; do
    [[ " ${HB_E2E_ONLY:-} " == *" $s "* ]] && optin=$((optin + 1))
done
# The plan: every scenario of the suite, counted from this file's run lines.
echo "1..$(($(grep -c '^run "' "${BASH_SOURCE[0]}") + optin))"

# ---- scenarios -------------------------------------------------------------

s_healthy() {
    local d=${prefix}healthy
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "state $(status_field "$d" state), not ok" || return 1
    sleep 7 # one more whole block
    [ "$(status_field "$d" state)" = ok ] || fail "state after a block: $(status_field "$d" state)" || return 1
    [ "$(status_field "$d" heartbeat_percentage)" = 100 ] || fail "percentage $(status_field "$d" heartbeat_percentage)" || return 1
    [ "$(status_field "$d" is_heartbeating)" = true ] || fail "not heartbeating" || return 1
    [ "$("$cli" is-heartbeating "$d")" = yes ] || fail "is-heartbeating did not say yes" || return 1
    agent_pings "$d" || fail "libvirt cannot ping the agent itself" || return 1
    domstate_is "$d" "running (booted)" || fail "libvirt says $(domstate "$d")" || return 1
    rmdomain "$d"
}

s_agent_killed() {
    local d=${prefix}killed
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    agent_exec "$d" 'sleep 1; kill -9 $(cat /run/agent.pid)' || fail "cannot kill the agent" || return 1
    wait_until 30 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    wait_until 30 has_events "$d" restart-attempt 1 || fail "no restart attempt" || return 1
    events_of "$d" restart-attempt | head -1 | jq -e '.action == "reset" and .result == "ok"' >/dev/null ||
        fail "attempt: $(events_of "$d" restart-attempt | head -1)" || return 1
    wait_until 60 has_events "$d" heartbeat-resumed 1 || fail "no heartbeat-resumed" || return 1
    [ "$(libvirt_reboots "$d")" -ge 1 ] || fail "libvirt saw no reboot" || return 1
    sleep 7
    [ "$(count_events "$d" heartbeat-stopped)" = 1 ] || fail "$(count_events "$d" heartbeat-stopped) episodes" || return 1
    [ "$(count_events "$d" restart-attempt)" = 1 ] || fail "$(count_events "$d" restart-attempt) attempts" || return 1
    agent_pings "$d" || fail "the agent does not answer libvirt" || return 1
    rmdomain "$d"
}

s_agent_hung() {
    local d=${prefix}hung n=${prefix}neighbour bad=0 st pct
    mkdomain "$d" || return 1
    mkdomain "$n" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    wait_until 60 state_is "$n" ok || fail "neighbour never ok" || return 1
    # After a second: qemu-ga must send its guest-exec reply before it stops.
    agent_exec "$d" 'sleep 1; kill -STOP $(cat /run/agent.pid)' || fail "cannot stop the agent" || return 1
    # While the hung agent's pings time out, the neighbour keeps every tick.
    local end=$((SECONDS + 90))
    while [ $SECONDS -lt $end ] && ! has_events "$d" heartbeat-resumed 1; do
        st=$(status_field "$n" state)
        pct=$(status_field "$n" heartbeat_percentage)
        if [ "$st" != ok ] || [ "$pct" != 100 ]; then
            bad=1
            log "neighbour: $st $pct%"
        fi
        sleep 1
    done
    has_events "$d" heartbeat-resumed 1 || fail "hung guest never resumed" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 1 ] || fail "$(count_events "$d" heartbeat-stopped) episodes" || return 1
    [ "$bad" = 0 ] || fail "the neighbour lost ticks while the other agent hung" || return 1
    [ "$(count_events "$n" heartbeat-stopped)" = 0 ] || fail "the neighbour stopped" || return 1
    [ "$(libvirt_reboots "$d")" -ge 1 ] || fail "libvirt saw no reboot" || return 1
    rmdomain "$d"
    rmdomain "$n"
}

s_never_answers() {
    local d=${prefix}silent t1 t2
    mkdomain "$d" yes "hb.agent=no" \
        "time='6' rate='3' boot_grace='10' failure_interval='10' failure_attempts='3'" || return 1
    wait_until 90 has_events "$d" restarts-exhausted 1 || fail "never exhausted" || return 1
    [ "$(count_events "$d" restart-attempt)" = 3 ] || fail "$(count_events "$d" restart-attempt) attempts, not 3" || return 1
    # spaced by failure_interval (a lower bound: slowness cannot fail this)
    mapfile -t times < <(events_of "$d" restart-attempt | jq -r '.time | fromdateiso8601')
    for i in 1 2; do
        [ $((times[i] - times[i - 1])) -ge 9 ] ||
            fail "attempts $i and $((i + 1)) only $((times[i] - times[i - 1])) s apart" || return 1
    done
    state_is "$d" failed || fail "state $(status_field "$d" state), not failed" || return 1
    [ "$(libvirt_reboots "$d")" -ge 3 ] || fail "libvirt saw $(libvirt_reboots "$d") reboots" || return 1
    sleep 22 # two more intervals: notify only, no more resets
    [ "$(count_events "$d" restart-attempt)" = 3 ] || fail "attempts went on after exhaustion" || return 1
    "$cli" rearm "$d" >/dev/null || fail "rearm failed" || return 1
    wait_until 30 has_events "$d" heartbeat-stopped 2 || fail "no new episode after rearm" || return 1
    wait_until 30 has_events "$d" restart-attempt 4 || fail "no attempt after rearm" || return 1
    rmdomain "$d"
}

s_panic() {
    local p=${prefix}panic-preserve k=${prefix}panic-destroy
    mkdomain "$p" yes "" "$FAST" preserve || return 1
    mkdomain "$k" yes "" "$FAST" destroy || return 1
    wait_until 60 state_is "$p" ok || fail "never ok" || return 1
    wait_until 60 state_is "$k" ok || fail "never ok" || return 1
    agent_exec "$p" 'sleep 1; echo c > /proc/sysrq-trigger' || return 1
    agent_exec "$k" 'sleep 1; echo c > /proc/sysrq-trigger' || return 1
    # on_crash=preserve: CRASHED_PANICKED, reset and resume
    wait_until 30 has_events "$p" restart-attempt 1 || fail "preserve: no attempt" || return 1
    [ "$(libvirt_events "$p" "Crashed Panicked")" -ge 1 ] || fail "libvirt saw no panic" || return 1
    events_of "$p" restart-attempt | head -1 | jq -e '.action == "reset+resume" and .result == "ok"' >/dev/null ||
        fail "preserve attempt: $(events_of "$p" restart-attempt | head -1)" || return 1
    wait_until 60 has_events "$p" heartbeat-resumed 1 || fail "preserve: never resumed" || return 1
    domstate_is "$p" "running (unpaused)" || fail "preserve: libvirt says $(domstate "$p")" || return 1
    # on_crash=destroy: STOPPED_CRASHED, started again
    wait_until 30 has_events "$k" restart-attempt 1 || fail "destroy: no attempt" || return 1
    [ "$(libvirt_events "$k" "Stopped Crashed")" -ge 1 ] || fail "libvirt saw no crash stop" || return 1
    events_of "$k" restart-attempt | head -1 | jq -e '.action == "start" and .result == "ok"' >/dev/null ||
        fail "destroy attempt: $(events_of "$k" restart-attempt | head -1)" || return 1
    wait_until 60 has_events "$k" heartbeat-resumed 1 || fail "destroy: never resumed" || return 1
    domstate_is "$k" "running (booted)" || fail "destroy: libvirt says $(domstate "$k")" || return 1
    rmdomain "$p"
    rmdomain "$k"
}

s_qemu_killed() {
    local d=${prefix}sigkill
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    kill -9 "$(qemu_pid "$d")" || return 1
    wait_until 30 has_events "$d" restart-attempt 1 || fail "no attempt" || return 1
    [ "$(libvirt_events "$d" "Stopped Failed")" -ge 1 ] || fail "libvirt saw no failed stop" || return 1
    events_of "$d" restart-attempt | head -1 | jq -e '.action == "start" and .result == "ok"' >/dev/null ||
        fail "attempt: $(events_of "$d" restart-attempt | head -1)" || return 1
    wait_until 60 has_events "$d" heartbeat-resumed 1 || fail "never resumed" || return 1
    domstate_is "$d" "running (booted)" || fail "libvirt says $(domstate "$d")" || return 1
    rmdomain "$d"
}

s_suspend() {
    local d=${prefix}suspend
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    $V suspend "$d" >/dev/null || return 1
    wait_until 10 state_is "$d" paused || fail "state $(status_field "$d" state), not paused" || return 1
    sleep 14 # more than two blocks
    domstate_is "$d" "paused (user)" || fail "libvirt says $(domstate "$d")" || return 1
    $V resume "$d" >/dev/null || return 1
    wait_until 20 state_is "$d" ok || fail "state $(status_field "$d" state) after resume" || return 1
    [ "$(status_field "$d" heartbeat_percentage)" = 100 ] || fail "missed ticks counted while paused" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped while paused" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart while paused" || return 1
    rmdomain "$d"
}

s_user_stop() {
    local d=${prefix}userstop
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    $V destroy "$d" >/dev/null || return 1
    wait_until 10 state_is "$d" not-running || fail "state $(status_field "$d" state)" || return 1
    sleep 14
    domstate_is "$d" "shut off (destroyed)" || fail "libvirt says $(domstate "$d")" || return 1
    [ "$("$cli" is-heartbeating "$d" 2>/dev/null; echo $?)" = 4 ] || fail "is-heartbeating did not exit 4" || return 1
    $V start "$d" >/dev/null || return 1
    wait_until 60 state_is "$d" ok || fail "never ok after start" || return 1
    $V shutdown --mode agent "$d" >/dev/null || fail "shutdown through the agent failed" || return 1
    wait_until 30 domstate_is "$d" "shut off (shutdown)" || fail "libvirt says $(domstate "$d")" || return 1
    sleep 14
    domstate_is "$d" "shut off (shutdown)" || fail "started again: $(domstate "$d")" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart attempt" || return 1
    rmdomain "$d"
}

s_no_agent() {
    local d=${prefix}nochannel
    mkdomain "$d" no || return 1
    wait_until 30 state_is "$d" no-agent || fail "state $(status_field "$d" state)" || return 1
    sleep 14
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "reset without an agent channel" || return 1
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw a reboot" || return 1
    [ "$("$cli" is-heartbeating "$d" 2>/dev/null; echo $?)" = 5 ] || fail "is-heartbeating did not exit 5" || return 1
    domstate_is "$d" "running (booted)" || fail "libvirt says $(domstate "$d")" || return 1
    rmdomain "$d"
}

s_live_metadata() {
    local d=${prefix}metadata t_kill t_stop
    mkdomain "$d" yes "" "$FAST action='none'" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    # through virsh, as a user would
    $V metadata "$d" --uri urn:virt-heartbeat:1 --key hb --live \
        --set "<heartbeat time='12' rate='3' boot_grace='30' action='none'/>" >/dev/null || return 1
    wait_until 10 field_is "$d" config.time 12 || fail "time did not change" || return 1
    t_kill=$(date +%s)
    agent_exec "$d" 'sleep 1; kill -9 $(cat /run/agent.pid)' || return 1
    wait_until 40 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    t_stop=$(events_of "$d" heartbeat-stopped | jq -r '.time | fromdateiso8601')
    [ $((t_stop - t_kill)) -ge 10 ] || fail "stopped after $((t_stop - t_kill)) s: the old 6 s block applied" || return 1
    # through the CLI: enabled=no stops monitoring
    "$cli" config "$d" --enabled no --live >/dev/null || fail "config --enabled no failed" || return 1
    wait_until 10 state_is "$d" disabled || fail "state $(status_field "$d" state), not disabled" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "action=none restarted" || return 1
    rmdomain "$d"
}

# While libvirtd is away, a guest in an open episode keeps its attempts: the
# outage spends none, and they go on, numbered on, once it is back.
s_libvirtd_restart() {
    local d=${prefix}outage n=${prefix}steady h=${prefix}outage-hung lpid nums
    lpid=$(pgrep -x libvirtd)
    if ! printf '%s\n' "${started_pids[@]}" | grep -qx "$lpid"; then
        echo "# SKIP libvirtd was not started by this suite; it is not ours to kill"
        return 0
    fi
    mkdomain "$d" || return 1
    mkdomain "$n" || return 1
    mkdomain "$h" yes "hb.agent=no" \
        "time='6' rate='3' boot_grace='10' failure_interval='5' failure_attempts='12'" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    wait_until 60 state_is "$n" ok || fail "never ok" || return 1
    wait_until 90 has_events "$h" restart-attempt 1 || fail "no episode for the hung guest" || return 1
    # A ping of the new boot misses (no agent) within 2 s; its next attempt
    # would be due at boot_grace (10 s) from the reset: in the outage.
    sleep 4
    local qpid
    qpid=$(qemu_pid "$d")
    kill "$lpid"
    while kill -0 "$lpid" 2>/dev/null; do sleep 0.2; done
    kill -9 "$qpid"
    # Longer than a block, and than the wait between two attempts (10 s at
    # most: boot_grace), while libvirtd is away.
    sleep 22
    LIBVIRT_LOG_OUTPUTS="3:file:/var/log/libvirt/libvirtd.log" libvirtd -d 8>&-
    wait_until 20 $V version || fail "libvirtd did not come back" || return 1
    started_pids+=("$(pgrep -x libvirtd)")
    start_event_log # the old one ended with its connection
    wait_until 60 has_events "$d" restart-attempt 1 || fail "the crashed domain was not started" || return 1
    events_of "$d" restart-attempt | head -1 | jq -e '.action == "start" and .result == "ok"' >/dev/null ||
        fail "attempt: $(events_of "$d" restart-attempt | head -1)" || return 1
    wait_until 60 state_is "$d" ok || fail "state $(status_field "$d" state) after restart" || return 1
    domstate_is "$d" "running (booted)" || fail "libvirt says $(domstate "$d")" || return 1
    # The outage itself is no missed heartbeat.
    [ "$(count_events "$n" heartbeat-stopped)" = 0 ] || fail "the steady guest had an episode" || return 1
    state_is "$n" ok || fail "steady guest: $(status_field "$n" state)" || return 1
    # The hung guest: no attempt failed for want of libvirtd, and the count
    # goes on 1, 2, 3... once libvirtd is back.
    log "hung guest: $(grep -c "Domain '$h': restart attempt [0-9]* not made" "$work/daemon.log") attempts not made"
    wait_until 60 has_events "$h" restart-attempt 4 || fail "the hung guest's attempts stopped" || return 1
    nums=$(events_of "$h" restart-attempt | jq -r .attempt | tr '\n' ' ')
    [ "$nums" = "$(seq -s ' ' 1 "$(count_events "$h" restart-attempt)") " ] ||
        fail "the hung guest's attempts: $nums" || return 1
    [ "$(count_events "$h" heartbeat-stopped)" = 1 ] || fail "the hung guest had $(count_events "$h" heartbeat-stopped) episodes" || return 1
    events_of "$h" restart-attempt | jq -e -s 'all(.result == "ok")' >/dev/null ||
        fail "the hung guest's attempts: $(events_of "$h" restart-attempt | jq -c '{attempt, result}' | tr '\n' ' ')" || return 1
    rmdomain "$d"
    rmdomain "$n"
    rmdomain "$h"
}

s_libvirtd_frozen() {
    local d=${prefix}frozen n=${prefix}frozen2 lpid nv_before nv_after
    lpid=$(pgrep -x libvirtd)
    if ! printf '%s\n' "${started_pids[@]}" | grep -qx "$lpid"; then
        echo "# SKIP libvirtd was not started by this suite; it is not ours to stop"
        return 0
    fi
    mkdomain "$d" || return 1
    mkdomain "$n" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    wait_until 60 state_is "$n" ok || fail "never ok" || return 1
    # The ping under way when libvirtd stops is the one without a verdict;
    # the daemon holds the others (no verdict either, never sent): which of
    # the two domains had it is chance, so the two are counted together.
    nv_before=$(( $(status_field "$d" pings_no_verdict) + $(status_field "$n" pings_no_verdict) ))
    # libvirtd hangs past its keepalive (calls under way fail), then for
    # less than it (they return late, the agent's timeout expired inside a
    # frozen libvirtd), each longer than a block: the host's fault, not
    # the guests'.
    local freeze
    for freeze in 25 9; do
        kill -STOP "$lpid"
        sleep "$freeze"
        kill -CONT "$lpid"
        wait_until 30 $V version || fail "libvirtd does not answer after SIGCONT" || return 1
        sleep 14 # two more blocks after it is back
    done
    for g in "$d" "$n"; do
        [ "$(count_events "$g" heartbeat-stopped)" = 0 ] || fail "$g had an episode" || return 1
        [ "$(count_events "$g" restart-attempt)" = 0 ] || fail "$g was acted on" || return 1
        state_is "$g" ok || fail "$g: $(status_field "$g" state)" || return 1
        domstate_is "$g" "running (booted)" || fail "$g: libvirt says $(domstate "$g")" || return 1
    done
    nv_after=$(( $(status_field "$d" pings_no_verdict) + $(status_field "$n" pings_no_verdict) ))
    [ "$nv_after" -gt "$nv_before" ] || fail "no ping without verdict counted ($nv_before -> $nv_after)" || return 1
    echo "# pings without verdict during the freeze: $((nv_after - nv_before)); missed: $(status_field "$d" pings_missed) and $(status_field "$n" pings_missed)"
    rmdomain "$d"
    rmdomain "$n"
}

s_storm_cap() {
    local d=${prefix}storm
    # The agent dies 8 s after every boot: one episode per boot.
    mkdomain "$d" yes "hb.kill=8" \
        "time='6' rate='3' boot_grace='30' failure_interval='15' failure_attempts='3' max_episodes='2' episode_window='3600'" || return 1
    wait_until 150 has_events "$d" heartbeat-stopped 3 || fail "$(count_events "$d" heartbeat-stopped) episodes" || return 1
    wait_until 10 state_is "$d" failed || fail "state $(status_field "$d" state), not failed" || return 1
    [ "$(count_events "$d" restart-attempt)" = 2 ] || fail "$(count_events "$d" restart-attempt) attempts, not 2" || return 1
    sleep 17
    [ "$(count_events "$d" restart-attempt)" = 2 ] || fail "attempts past the storm cap" || return 1
    grep -q "'$d': storm cap reached" "$work/daemon.log" || fail "no storm cap line in the log" || return 1
    rmdomain "$d"
}

# ---- the rest of the guest OS interface -----------------------------------

guest_time() { "$cli" exec "$1" -- /bin/date +%s; }

clock_close() { # DOMAIN: the guest clock is within 10 s of the host's
    local t
    t=$(guest_time "$1") || return 1
    [ $((t - $(date +%s))) -le 10 ] && [ $(($(date +%s) - t)) -le 10 ]
}

s_info() {
    local d=${prefix}info version os
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    version=$($V qemu-agent-command "$d" '{"execute":"guest-info"}' | jq -r .return.version)
    os=$($V qemu-agent-command "$d" '{"execute":"guest-get-osinfo"}' | jq -r '.return["pretty-name"]')
    wait_until 20 info_is "$d" additions_version "$version" ||
        fail "AdditionsVersion $("$cli" info "$d" --json | jq -r .additions_version), the agent says $version" || return 1
    [ "$("$cli" info "$d" --json | jq -r .os_name)" = "$os" ] ||
        fail "OSName $("$cli" info "$d" --json | jq -r .os_name), the agent says $os" || return 1
    [ "$("$cli" info "$d" --json | jq -r .can_shutdown)" = true ] || fail "CanShutdown is false" || return 1
    "$cli" info "$d" | grep -q "^Additions version: *$version\$" || fail "info does not show the version" || return 1
    rmdomain "$d"
}

# The hostile scenarios test what the guest says, not the heartbeat: a
# boot_grace long enough for a loaded CI host.
HOSTILE="time='6' rate='3' boot_grace='150' failure_interval='15' failure_attempts='3'"

# Control characters, the 8-bit CSI or a bidi override, raw, on stdin.
has_raw_controls() {
    LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]\|\xc2[\x80-\x9f]\|\xe2\x80\xae'
}

daemon_logged_bad_text() {
    grep -q 'CRITICAL\|Invalid UTF-8' "$work/daemon.log"
}

# qemu-ga passes on what os-release says, escapes and all (see hb.hostile_os
# in guest-init): the daemon keeps it valid and bounded, the CLI escapes it.
s_hostile_os() {
    local d=${prefix}hostile head text
    mkdomain "$d" yes "hb.hostile_os=1" "$HOSTILE" || return 1
    wait_until 180 state_is "$d" ok || fail "never ok: $(status_field "$d" state)" || return 1
    head=$(printf 'evil\033[31mRED\033]0;pwned\007\302\2332J\342\200\256AAAA')
    wait_until 20 eval '"$cli" info "$d" --json | jq -j .os_name | grep -q "^evil"' ||
        fail "OSName never came: $("$cli" info "$d" --json | jq -c .os_name)" || return 1
    [ "$("$cli" info "$d" --json | jq -j .os_name | head -c "$(printf %s "$head" | wc -c)")" = "$head" ] ||
        fail "OSName $("$cli" info "$d" --json | jq -c .os_name) does not start with the guest's" || return 1
    [ "$("$cli" info "$d" --json | jq -j .os_name | wc -c)" = 256 ] ||
        fail "OSName is $("$cli" info "$d" --json | jq -j .os_name | wc -c) bytes, not cut at 256" || return 1
    "$cli" info "$d" --json | jq -j .os_name | grep -q 'A\.\.\.$' || fail "OSName not marked as cut" || return 1
    text=$("$cli" info "$d") || fail "info failed" || return 1
    # shellcheck disable=SC1003
    grep -qF 'OS name:              evil\x1b[31mRED\x1b]0;pwned\x07\u009b2J\u202eAAAA' <<<"$text" ||
        fail "info does not show the escaped OS name: $text" || return 1
    has_raw_controls <<<"$text" && fail "raw control characters in info: $(od -c <<<"$text" | head)" && return 1
    kill -0 "$daemon_pid" || fail "virt-heartbeatd died" || return 1
    daemon_logged_bad_text && fail "the daemon logged: $(grep 'CRITICAL\|Invalid UTF-8' "$work/daemon.log" | head -3)" && return 1
    rmdomain "$d"
}

# A fake agent (hb.agent=hostile in guest-init) whose strings hold lone
# surrogates, which libvirt decodes into bytes that are not UTF-8, a NUL and
# terminal escapes; its errors too.
s_hostile_agent() {
    local d=${prefix}hagent version text err
    mkdomain "$d" yes "hb.agent=hostile" "$HOSTILE" || return 1
    wait_until 180 state_is "$d" ok || fail "never ok: $(status_field "$d" state)" || return 1
    wait_until 20 eval '"$cli" info "$d" --json | jq -j .additions_version | grep -q "^hostile"' ||
        fail "AdditionsVersion never came: $("$cli" info "$d" --json | jq -c .additions_version)" || return 1
    version=$("$cli" info "$d" --json | jq -j .additions_version)
    log "AdditionsVersion as D-Bus carries it: $(jq -cn --arg v "$version" '$v')"
    iconv -f UTF-8 -t UTF-8 <<<"$version" >/dev/null || fail "AdditionsVersion is not UTF-8" || return 1
    [ "$("$cli" info "$d" --json | jq -j .os_name)" = "$version" ] || fail "OSName differs" || return 1
    text=$("$cli" info "$d") || fail "info failed" || return 1
    has_raw_controls <<<"$text" && fail "raw control characters in info: $(od -c <<<"$text" | head)" && return 1
    grep -qF '\x1b[31mred' <<<"$text" || fail "info does not show the escape escaped: $text" || return 1
    "$cli" exec "$d" -- /bin/true 2>"$work/hagent.err" && fail "exec through the fake agent succeeded" && return 1
    err=$(cat "$work/hagent.err")
    log "exec's error: $err"
    grep -q hostile <<<"$err" || fail "exec's error does not quote the agent: $err" || return 1
    has_raw_controls <<<"$err" && fail "raw control characters in exec's error: $(od -c <<<"$err" | head)" && return 1
    state_is "$d" ok || fail "state $(status_field "$d" state) after all that" || return 1
    kill -0 "$daemon_pid" || fail "virt-heartbeatd died" || return 1
    daemon_logged_bad_text && fail "the daemon logged: $(grep 'CRITICAL\|Invalid UTF-8' "$work/daemon.log" | head -3)" && return 1
    rmdomain "$d"
}

s_exec() {
    local d=${prefix}exec out err status
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    out=$("$cli" exec "$d" -- /bin/sh -c 'echo hello "$0"; echo oops >&2; exit 7' world 2>"$work/exec.err")
    status=$?
    err=$(cat "$work/exec.err")
    [ "$status" = 7 ] || fail "exit status $status, not 7" || return 1
    [ "$out" = "hello world" ] || fail "stdout '$out'" || return 1
    [ "$err" = oops ] || fail "stderr '$err'" || return 1
    "$cli" exec "$d" -- /bin/true || fail "/bin/true failed" || return 1
    "$cli" exec "$d" --timeout 2 -- /bin/sleep 10 2>/dev/null && fail "a 10 s command did not time out in 2 s" && return 1
    "$cli" exec "$d" -- /no/such/command 2>/dev/null && fail "a missing command succeeded" && return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "exec disturbed the heartbeat" || return 1
    rmdomain "$d"
}

s_guest_shutdown() {
    local d=${prefix}gshutdown
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    "$cli" shutdown "$d" >/dev/null || fail "shutdown failed" || return 1
    wait_until 30 domstate_is "$d" "shut off (shutdown)" || fail "libvirt says $(domstate "$d")" || return 1
    wait_until 10 state_is "$d" not-running || fail "state $(status_field "$d" state)" || return 1
    sleep 14
    domstate_is "$d" "shut off (shutdown)" || fail "started again: $(domstate "$d")" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart after a shutdown" || return 1
    [ "$("$cli" shutdown "$d" 2>/dev/null; echo $?)" = 4 ] || fail "shutdown of a stopped domain did not exit 4" || return 1
    rmdomain "$d"
}

s_time_sync() {
    local d=${prefix}timesync
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    "$cli" exec "$d" -- /bin/date -s @1000000000 >/dev/null || return 1
    clock_close "$d" && fail "could not set the guest clock wrong" && return 1
    "$cli" time-sync "$d" on >/dev/null || fail "time-sync on failed" || return 1
    wait_until 20 clock_close "$d" || fail "guest clock $(guest_time "$d"), host $(date +%s)" || return 1
    [ "$("$cli" info "$d" --json | jq -r .is_host_time_sync_enabled)" = true ] || fail "IsHostTimeSyncEnabled false" || return 1
    $V metadata "$d" --uri urn:virt-heartbeat:1 --config | grep -q 'time_sync="yes"' ||
        fail "time_sync not saved in the definition" || return 1
    # after a resume
    "$cli" exec "$d" -- /bin/date -s @1000000000 >/dev/null || return 1
    $V suspend "$d" >/dev/null && $V resume "$d" >/dev/null || return 1
    wait_until 20 clock_close "$d" || fail "not synced after resume: $(guest_time "$d")" || return 1
    "$cli" time-sync "$d" off >/dev/null || return 1
    wait_until 10 info_is "$d" is_host_time_sync_enabled false ||
        fail "still on" || return 1
    rmdomain "$d"
}

s_install_agent() {
    local d=${prefix}install n=${prefix}install-nextboot
    mkdomain "$d" controller || return 1
    mkdomain "$n" no || return 1
    wait_until 30 state_is "$d" no-agent || fail "state $(status_field "$d" state)" || return 1
    "$cli" install-agent "$d" | grep -q "channel added" || fail "install-agent said otherwise" || return 1
    $V dumpxml "$d" | grep -q "org.qemu.guest_agent.0" || fail "not in the live XML" || return 1
    $V dumpxml --inactive "$d" | grep -q "org.qemu.guest_agent.0" || fail "not in the definition" || return 1
    wait_until 60 state_is "$d" ok || fail "no heartbeat after install: $(status_field "$d" state)" || return 1
    "$cli" install-agent "$d" | grep -q "already has" || fail "a second install did not say already" || return 1
    # The channel unplugged and plugged again by hand: noticed at once.
    $V dumpxml "$d" | xmllint --xpath "//devices/channel[target/@name='org.qemu.guest_agent.0']" - \
        > "$work/$d-channel.xml" || fail "no channel in the live XML" || return 1
    $V detach-device "$d" "$work/$d-channel.xml" --live >/dev/null || fail "cannot unplug the channel" || return 1
    wait_until 20 state_is "$d" no-agent || fail "after unplug: $(status_field "$d" state)" || return 1
    echo "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>" > "$work/$d-channel-new.xml"
    $V attach-device "$d" "$work/$d-channel-new.xml" --live >/dev/null || fail "cannot plug the channel" || return 1
    wait_until 20 eval '! state_is "$d" no-agent' || fail "after plug: still no-agent" || return 1
    # no virtio-serial controller to hot-plug into: at the next boot
    wait_until 30 state_is "$n" no-agent || return 1
    "$cli" install-agent "$n" | grep -q "next starts" || fail "no next-boot notice" || return 1
    $V destroy "$n" >/dev/null && $V start "$n" >/dev/null || return 1
    wait_until 60 state_is "$n" ok || fail "no heartbeat after the restart: $(status_field "$n" state)" || return 1
    rmdomain "$d"
    rmdomain "$n"
}

s_set_parameter() {
    local d=${prefix}setparam
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    "$cli" set-parameter "$d" time 8 --live >/dev/null || fail "set-parameter failed" || return 1
    wait_until 10 field_is "$d" config.time 8 || fail "time $(status_field "$d" config.time)" || return 1
    $V metadata "$d" --uri urn:virt-heartbeat:1 --live | grep -q 'time="8"' || fail "libvirt has no time=8" || return 1
    [ "$("$cli" set-parameter "$d" time 1 2>/dev/null; echo $?)" = 2 ] || fail "time=1 was not refused with 2" || return 1
    [ "$(status_field "$d" config.time)" = 8 ] || fail "a refused value changed the config" || return 1
    rmdomain "$d"
}

# A maintenance window (virt-heartbeat pause): a hung agent in it gets no
# reset; resume watches afresh, with boot grace, and then the reset comes.
s_maintenance() {
    local d=${prefix}maint start waited
    mkdomain "$d" yes "" \
        "time='6' rate='3' boot_grace='6' failure_interval='15' failure_attempts='3'" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    "$cli" pause "$d" --for 10m >/dev/null || fail "pause failed" || return 1
    state_is "$d" maintenance || fail "state $(status_field "$d" state), not maintenance" || return 1
    $V metadata "$d" --uri urn:virt-heartbeat:1 --live | grep -q 'maintenance_until="' ||
        fail "libvirt has no maintenance_until" || return 1
    agent_exec "$d" 'sleep 1; kill -STOP $(cat /run/agent.pid)' || fail "cannot stop the agent" || return 1
    # Two blocks and more of silence: pinged, never acted on.
    sleep 13
    state_is "$d" maintenance || fail "state $(status_field "$d" state) in the window" || return 1
    [ "$(status_field "$d" pings_missed)" -ge 3 ] ||
        fail "$(status_field "$d" pings_missed) pings missed: not pinged in the window" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped in the window" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart attempt in the window" || return 1
    [ "$(libvirt_resets "$d")" = 0 ] || fail "libvirt saw a reset in the window" || return 1
    start=$SECONDS
    "$cli" resume "$d" >/dev/null || fail "resume failed" || return 1
    state_is "$d" waiting || fail "state $(status_field "$d" state) after resume, not waiting" || return 1
    wait_until 60 has_events "$d" restart-attempt 1 || fail "no restart attempt after resume" || return 1
    waited=$((SECONDS - start))
    log "reset decided $waited s after resume (boot grace 6 s + a block of 6 s)"
    [ "$waited" -ge 12 ] || fail "attempt after $waited s: no boot grace" || return 1
    events_of "$d" restart-attempt | head -1 | jq -e '.action == "reset" and .result == "ok"' >/dev/null ||
        fail "attempt: $(events_of "$d" restart-attempt | head -1)" || return 1
    wait_until 60 has_events "$d" heartbeat-resumed 1 || fail "no heartbeat-resumed" || return 1
    $V metadata "$d" --uri urn:virt-heartbeat:1 --live | grep -q 'maintenance_until' &&
        fail "maintenance_until left after resume" && return 1
    rmdomain "$d"
}

# ---- never reset a healthy guest ------------------------------------------

rmdomains() { local d; for d in "$@"; do rmdomain "$d"; done; }

exec_bg() { # DOMAIN TAG SECONDS: a long exec in the background, timed; see exec-load.txt
    local d=$1 tag=$2 secs=$3
    (
        s=$(date +%s%N)
        "$cli" exec "$d" --timeout 120 -- /bin/sleep "$secs" >/dev/null 2>"$work/exec-$tag.err"
        st=$?
        e=$(date +%s%N)
        echo "$d $tag $st $(((e - s) / 1000000))" >> "$work/figures/exec-load.txt"
    ) &
    exec_pids+=($!)
}

any_alive() { local p; for p; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

# Healthy guests under more concurrent long requests than there are request
# workers (and than the old shared workers): no tick lost, nothing reset.
s_exec_load() {
    local doms=("${prefix}load1" "${prefix}load2" "${prefix}load3")
    _s_exec_load
    local rc=$?
    rmdomains "${doms[@]}"
    return $rc
}

_s_exec_load() {
    local d i t0 bad=0 samples=0 rc=0 notok busy lines exec_pids=()
    local -A missed
    : > "$work/figures/exec-load.txt"
    for d in "${doms[@]}"; do mkdomain "$d" || return 1; done
    for d in "${doms[@]}"; do
        wait_until 90 state_is "$d" ok || fail "$d never ok: $(status_field "$d" state)" || return 1
    done
    sleep 7 # a whole block at 100 %
    for d in "${doms[@]}"; do missed[$d]=$(status_field "$d" pings_missed); done
    # 3 x 3 execs of 15 s, and a 4th on the first guest: 10 in all
    t0=$SECONDS
    for d in "${doms[@]}"; do
        for i in 1 2 3; do exec_bg "$d" "${d#"$prefix"}-$i" 15; done
    done
    exec_bg "${doms[0]}" "${doms[0]#"$prefix"}-4" 15
    # a 5th on the first guest while its 4 are outstanding: Busy (7)
    (sleep 3; "$cli" exec "${doms[0]}" --timeout 10 -- /bin/true 2>"$work/exec-busy.err") &
    local busy_pid=$!
    while any_alive "${exec_pids[@]}" && [ $((SECONDS - t0)) -lt 200 ]; do
        notok=$(not_ok_100 "${doms[@]}")
        samples=$((samples + 1))
        if [ -n "$notok" ]; then
            bad=$((bad + 1))
            [ $bad -le 10 ] && log "+$((SECONDS - t0)) s: $(echo $notok)"
        fi
        sleep 1
    done
    wait "$busy_pid"
    busy=$?
    for i in "${exec_pids[@]}"; do kill "$i" 2>/dev/null; done
    wait "${exec_pids[@]}" 2>/dev/null
    log "execs done after $((SECONDS - t0)) s; durations (ms): $(cut -d' ' -f4 "$work/figures/exec-load.txt" | stats)"
    sleep 7 # the block that saw the load is the one judged now
    notok=$(not_ok_100 "${doms[@]}")
    samples=$((samples + 1))
    [ -z "$notok" ] || { bad=$((bad + 1)); log "after the load: $(echo $notok)"; }
    echo "samples=$samples not_ok=$bad busy_exit=$busy" > "$work/figures/exec-load-summary.txt"
    for d in "${doms[@]}"; do
        echo "$d pings_missed ${missed[$d]} -> $(status_field "$d" pings_missed)"
    done >> "$work/figures/exec-load-summary.txt"

    [ "$bad" = 0 ] || fail "$bad samples with a guest not ok at 100 %" || rc=1
    lines=$(wc -l < "$work/figures/exec-load.txt")
    [ "$lines" = 10 ] || fail "$lines of 10 execs finished" || rc=1
    awk '$3 != 0 { bad = 1; print "#   exec " $2 " exited " $3 " after " $4 " ms" } END { exit bad }' \
        "$work/figures/exec-load.txt" || fail "an exec did not exit 0" || rc=1
    [ "$busy" = 7 ] || fail "a 5th request on one guest exited $busy, not 7 (Busy): $(cat "$work/exec-busy.err")" || rc=1
    for d in "${doms[@]}"; do
        [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "$d: heartbeat-stopped" || rc=1
        [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "$d: $(count_events "$d" restart-attempt) restart attempts" || rc=1
        [ "$(libvirt_resets "$d")" = 0 ] || fail "$d: libvirt saw $(libvirt_resets "$d") resets" || rc=1
        [ "$(guest_boots "$d")" = 1 ] || fail "$d: booted $(guest_boots "$d") times" || rc=1
        local m
        m=$(status_field "$d" pings_missed)
        [[ "$m" =~ ^[0-9]+$ ]] || fail "$d: pings_missed is '$m', not a number" || rc=1
        [ "$m" = "${missed[$d]}" ] || fail "$d: pings_missed went from ${missed[$d]} to $m" || rc=1
    done
    return $rc
}

# Many hung agents at once (port open, no answer), two healthy guests beside
# them: every hung one is detected and restarted once, within a generous
# multiple of the bound; the healthy ones never lose a tick.
s_mass_hang() {
    local healthy=("${prefix}calm1" "${prefix}calm2") hung=() i
    for i in $(seq -w 1 "${HB_E2E_MASS:-16}"); do hung+=("${prefix}mass$i"); done
    # Most guests hang at once here: the host-wide breaker would hold their
    # resets (s_host_stall tests that). This measures the restart path.
    restart_daemon host_share=100 || fail "virt-heartbeatd did not come back" || return 1
    _s_mass_hang
    local rc=$?
    rmdomains "${healthy[@]}" "${hung[@]}"
    restart_daemon || { log "virt-heartbeatd did not come back"; rc=1; }
    return $rc
}

_s_mass_hang() {
    local time=30 rate=2 attrs d t0 t_hang notok bad=0 rc=0 s e hang ev lg done_n
    local bound lower limit figs=$work/figures
    local -A before
    attrs="time='$time' rate='$rate' boot_grace='120' failure_interval='30' failure_attempts='1'"
    bound=$((time + time / rate + 1))
    lower=$((time - time / rate - 1)) # a tick up to one interval before the hang
    limit=$((3 * bound))
    : > "$figs/mass-hang-hang.txt"
    : > "$figs/mass-hang-virsh-list.txt"
    : > "$figs/mass-hang-detect.txt"
    t0=$SECONDS
    for d in "${healthy[@]}" "${hung[@]}"; do
        mkdomain "$d" yes "" "$attrs" || fail "cannot start $d" || return 1
    done
    log "$(( ${#healthy[@]} + ${#hung[@]} )) guests started in $((SECONDS - t0)) s"
    until [ -z "$(not_ok_100 "${healthy[@]}" "${hung[@]}")" ] || [ $((SECONDS - t0)) -gt 480 ]; do
        sleep 2
    done
    notok=$(not_ok_100 "${healthy[@]}" "${hung[@]}")
    [ -z "$notok" ] || fail "not all ok after $((SECONDS - t0)) s: $(echo $notok)" || return 1
    log "all ok $((SECONDS - t0)) s after the first start"
    for d in "${healthy[@]}"; do before[$d]=$(jq -c --arg d "$d" 'select(.domain == $d)' "$work/events.jsonl" | wc -l); done

    # The agent stops 1 s after it answered: stopped at once, it may not
    # have sent its answer yet (seen under this load).
    t_hang=$SECONDS
    for d in "${hung[@]}"; do
        agent_exec "$d" 'sleep 1; kill -STOP $(cat /run/agent.pid)' || fail "cannot stop the agent of $d" || return 1
        echo "$d $(date +%s.%N)" | awk '{ printf "%s %.3f\n", $1, $2 + 1 }' >> "$figs/mass-hang-hang.txt"
    done
    log "${#hung[@]} agents stopped in $((SECONDS - t_hang)) s"
    # Until every hung guest had its attempt, and 20 s more (the resets' boots).
    local until_t=$((SECONDS + limit + 60)) all_done= samples=0
    while [ $SECONDS -lt "$until_t" ]; do
        notok=$(not_ok_100 "${healthy[@]}")
        samples=$((samples + 1))
        if [ -n "$notok" ]; then
            bad=$((bad + 1))
            [ $bad -le 10 ] && log "+$((SECONDS - t_hang)) s: $(echo $notok)"
        fi
        s=$(date +%s%N)
        $V list >/dev/null 2>&1
        e=$(date +%s%N)
        echo "$(((e - s) / 1000000))" >> "$figs/mass-hang-virsh-list.txt"
        done_n=$(jq -r --arg p "${prefix}mass" 'select(.event == "restart-attempt" and (.domain | startswith($p))) | .domain' \
                 "$work/events.jsonl" | sort -u | wc -l)
        if [ -z "$all_done" ] && [ "$done_n" -ge "${#hung[@]}" ]; then
            all_done=$SECONDS
            log "every hung guest had its restart attempt $((SECONDS - t_hang)) s after the first hang"
            until_t=$((SECONDS + 20))
        fi
        sleep 1
    done

    # figures (BENCHMARKS.md): detection delay, decision -> call, virsh list
    for d in "${hung[@]}"; do
        hang=$(awk -v d="$d" '$1 == d { print $2 }' "$figs/mass-hang-hang.txt")
        ev=$(events_of "$d" heartbeat-stopped | head -n1 | jq -r '.time | fromdateiso8601')
        lg=$(daemon_log_time "$d" "heartbeat stopped")
        [ -n "$ev" ] || continue
        awk -v d="$d" -v h="$hang" -v ev="$ev" -v lg="${lg:-}" 'BEGIN {
            printf "%s %.1f %.1f %s\n", d, h, ev - h, lg == "" ? "-" : sprintf("%.3f", lg - h) }' \
            >> "$figs/mass-hang-detect.txt"
    done
    restart_delays "${prefix}mass" > "$figs/mass-hang-restart.txt"
    log "detection delay, event time (1 s steps), s: $(cut -d' ' -f3 "$figs/mass-hang-detect.txt" | stats) (bound $bound s)"
    log "detection delay, daemon log (ms), s: $(cut -d' ' -f4 "$figs/mass-hang-detect.txt" | grep -v '^-$' | stats) (bound $bound s)"
    log "decision -> $(cut -d' ' -f4 "$figs/mass-hang-restart.txt" | sort -u | tr '\n' ' ')(ms): $(cut -d' ' -f3 "$figs/mass-hang-restart.txt" | stats)"
    log "virsh list during the hang (ms): $(stats < "$figs/mass-hang-virsh-list.txt")"
    grep -c "restart attempt [0-9]* dropped" "$work/daemon.log" | sed 's/^/# restart attempts dropped: /'
    log "$(jq -r --arg p "${prefix}mass" 'select(.event == "heartbeat-resumed" and (.domain | startswith($p))) | .domain' \
           "$work/events.jsonl" | sort -u | wc -l) of ${#hung[@]} hung guests resumed before the end (their reboots under this load take a minute)"
    cat > "$figs/mass-hang-summary.txt" <<EOF
hung=${#hung[@]} healthy=${#healthy[@]} time=$time rate=$rate bound=$bound limit=$limit lower=$lower
samples=$samples not_ok=$bad
EOF

    [ "$bad" = 0 ] || fail "$bad samples with a healthy guest not ok at 100 %" || rc=1
    for d in "${healthy[@]}"; do
        local now_n
        now_n=$(jq -c --arg d "$d" 'select(.domain == $d)' "$work/events.jsonl" | wc -l)
        [ "$now_n" = "${before[$d]}" ] ||
            fail "$d: events during the hang: $(jq -c --arg d "$d" 'select(.domain == $d) | {event, state}' "$work/events.jsonl" | tail -n +$((before[$d] + 1)) | tr '\n' ' ')" || rc=1
        [ "$(libvirt_resets "$d")" = 0 ] || fail "$d: libvirt saw a reset" || rc=1
    done
    for d in "${hung[@]}"; do
        [ "$(count_events "$d" heartbeat-stopped)" = 1 ] || fail "$d: $(count_events "$d" heartbeat-stopped) heartbeat-stopped" || rc=1
        [ "$(count_events "$d" restart-attempt)" = 1 ] || fail "$d: $(count_events "$d" restart-attempt) restart attempts" || rc=1
        events_of "$d" restart-attempt | head -n1 | jq -e '.action == "reset" and .result == "ok"' >/dev/null ||
            fail "$d: attempt $(events_of "$d" restart-attempt | head -n1)" || rc=1
    done
    awk -v hi="$limit" -v lo="$lower" '{ d = ($4 == "-") ? $3 : $4
            if (d > hi || d < lo) { bad = 1; printf "#   %s stopped %.1f s after its hang\n", $1, d } }
        END { exit bad }' "$figs/mass-hang-detect.txt" ||
        fail "detection outside $lower..$limit s (3 x the bound $bound s)" || rc=1
    return $rc
}

host_events() { # EVENT: the daemon's host events of that kind (they name no domain)
    jq -c --arg e "$1" 'select(.event == $e and (has("domain") | not))' \
        "$work/events.jsonl" 2>/dev/null
}

count_host_events() { host_events "$1" | wc -l; }

has_host_events() { [ "$(count_host_events "$1")" -ge "$2" ]; }

# DOMAIN: restart attempts the breaker held, and those decided and made.
held_count() { grep -c "Domain '$1': restart attempt [0-9]* held" "$work/daemon.log"; }

made_count() { grep -c "Domain '$1': restart attempt [0-9]* of " "$work/daemon.log"; }

held_at_least() { [ "$(held_count "$1")" -ge "$2" ]; }

made_at_least() { [ "$(made_count "$1")" -ge "$2" ]; }

# A host-wide stall: the QEMU processes of 4 of 5 guests stopped at once
# (SIGSTOP) trip the circuit breaker before their episodes begin; while it
# holds no restart attempt is made, and SIGCONT clears it with no reset.
# Then a stall longer than host_hold: the normal rules resume, and the
# attempts are made (each reset completes once its QEMU runs again).
s_host_stall() {
    local doms=() stalled=() stopped_pids=() i
    for i in 1 2 3 4 5; do doms+=("${prefix}host$i"); done
    stalled=("${doms[@]:0:4}")
    _s_host_stall
    local rc=$?
    # Never leave a stopped QEMU behind, whatever failed.
    unstall
    rmdomains "${doms[@]}"
    restart_daemon || { log "virt-heartbeatd did not come back"; rc=1; }
    return $rc
}

stall() { # the QEMU of every stalled guest stopped, all at once
    local d pid pids=()
    for d in "${stalled[@]}"; do
        pid=$(qemu_pid "$d")
        [[ "$pid" =~ ^[0-9]+$ ]] || { log "no QEMU pid for $d"; return 1; }
        pids+=("$pid")
    done
    stopped_pids=("${pids[@]}")
    kill -STOP "${pids[@]}"
}

unstall() {
    [ ${#stopped_pids[@]} -gt 0 ] && kill -CONT "${stopped_pids[@]}" 2>/dev/null
    stopped_pids=()
}

_s_host_stall() {
    # A ping every 2 s, so every stalled guest misses one long before its
    # episode (a block, 20 s) begins.
    local attrs="time='20' rate='10' boot_grace='30' failure_interval='5' failure_attempts='3'"
    local calm=${doms[4]} s0 c0 d line t rc=0
    restart_daemon host_hold=45 || fail "virt-heartbeatd did not come back" || return 1
    for d in "${doms[@]}"; do MK_MEMORY=96 mkdomain "$d" yes "" "$attrs" || return 1; done
    for d in "${doms[@]}"; do
        wait_until 120 state_is "$d" ok || fail "$d never ok: $(status_field "$d" state)" || return 1
    done
    s0=$(count_host_events host-suspected)
    c0=$(count_host_events host-cleared)

    log "phase 1: a stall, then SIGCONT before host_hold"
    t=$SECONDS
    stall || fail "cannot stop the QEMUs" || return 1
    wait_until 30 has_host_events host-suspected $((s0 + 1)) || fail "no host-suspected" || return 1
    line=$(host_events host-suspected | tail -n1)
    log "+$((SECONDS - t)) s: $line"
    jq -e '.stopped == 4 and .watched == 5' <<<"$line" >/dev/null || fail "counts: $line" || return 1
    line=$(grep "Host suspected:" "$work/daemon.log" | tail -n1)
    for d in "${stalled[@]}"; do
        grep -qF "'$d'" <<<"$line" || fail "the log line does not name $d: $line" || return 1
    done
    field_is "$calm" host_state holding || fail "host_state $(status_field "$calm" host_state)" || return 1
    for d in "${stalled[@]}"; do
        wait_until 40 has_events "$d" heartbeat-stopped 1 || fail "$d: no heartbeat-stopped" || return 1
    done
    # Held, and decided again after failure_interval: never made, never spent.
    for d in "${stalled[@]}"; do
        wait_until 30 held_at_least "$d" 2 || fail "$d: $(held_count "$d") attempts held" || return 1
    done
    log "+$((SECONDS - t)) s: held $(for d in "${stalled[@]}"; do printf '%s ' "$(held_count "$d")"; done)times"
    field_is "$calm" host_state holding || fail "host_state $(status_field "$calm" host_state)" || return 1
    unstall
    wait_until 60 has_host_events host-cleared $((c0 + 1)) || fail "no host-cleared after SIGCONT" || return 1
    line=$(host_events host-cleared | tail -n1)
    log "+$((SECONDS - t)) s: $line"
    jq -e '.reason | startswith("guests back")' <<<"$line" >/dev/null || fail "reason: $line" || return 1
    for d in "${stalled[@]}"; do
        wait_until 60 has_events "$d" heartbeat-resumed 1 || fail "$d never resumed" || return 1
    done
    field_is "$calm" host_state closed || fail "host_state $(status_field "$calm" host_state)" || rc=1
    for d in "${doms[@]}"; do
        [ "$(made_count "$d")" = 0 ] || fail "$d: $(made_count "$d") attempts made while held" || rc=1
        [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "$d: restart-attempt events" || rc=1
        [ "$(libvirt_resets "$d")" = 0 ] || fail "$d: libvirt saw $(libvirt_resets "$d") resets" || rc=1
        [ "$(guest_boots "$d")" = 1 ] || fail "$d: booted $(guest_boots "$d") times" || rc=1
    done
    [ "$(count_events "$calm" heartbeat-stopped)" = 0 ] || fail "the running guest stopped" || rc=1
    [ "$rc" = 0 ] || return 1

    log "phase 2: a stall longer than host_hold (45 s)"
    for d in "${doms[@]}"; do
        wait_until 60 state_is "$d" ok || fail "$d not ok again: $(status_field "$d" state)" || return 1
    done
    t=$SECONDS
    stall || fail "cannot stop the QEMUs" || return 1
    wait_until 30 has_host_events host-suspected $((s0 + 2)) || fail "no second host-suspected" || return 1
    wait_until 75 has_host_events host-cleared $((c0 + 2)) || fail "the hold never ended" || return 1
    line=$(host_events host-cleared | tail -n1)
    log "+$((SECONDS - t)) s: $line"
    jq -e '.reason | startswith("host_hold passed")' <<<"$line" >/dev/null || fail "reason: $line" || return 1
    field_is "$calm" host_state expired || fail "host_state $(status_field "$calm" host_state)" || return 1
    # The normal rules: each stalled guest's attempt is made (its reset
    # waits for its QEMU).
    for d in "${stalled[@]}"; do
        wait_until 40 made_at_least "$d" 1 || fail "$d: no attempt after host_hold" || return 1
    done
    log "+$((SECONDS - t)) s: every stalled guest had its attempt; SIGCONT"
    unstall
    # Their boots after the reset, four TCG guests at once, may take longer
    # than boot_grace here: whether they come back is not this scenario's.
    for d in "${stalled[@]}"; do
        wait_until 60 has_events "$d" restart-attempt 1 || fail "$d: the attempt never ended" || return 1
        events_of "$d" restart-attempt | head -n1 | jq -e '.action == "reset" and .result == "ok"' \
            >/dev/null || fail "$d: attempt $(events_of "$d" restart-attempt | head -n1)" || rc=1
    done
    log "+$((SECONDS - t)) s: every attempt reset its guest"
    [ "$(count_events "$calm" restart-attempt)" = 0 ] || fail "the running guest had an attempt" || rc=1
    [ "$(libvirt_resets "$calm")" = 0 ] || fail "the running guest was reset" || rc=1
    return $rc
}

# pvpanic with <on_crash>restart</on_crash>: libvirt restarts the guest, the
# daemon must not restart it too.
s_on_crash_restart() {
    local d=${prefix}crash-restart
    _s_on_crash_restart
    local rc=$?
    rmdomain "$d"
    return $rc
}

_s_on_crash_restart() {
    local t_crash rest rc=0
    mkdomain "$d" yes "" "$FAST" restart || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    t_crash=$SECONDS
    agent_exec "$d" 'sleep 1; echo c > /proc/sysrq-trigger' || fail "cannot panic the guest" || return 1
    wait_until 30 has_libvirt_events "$d" "Crashed Panicked" 1 || fail "libvirt saw no panic" || return 1
    wait_until 60 has_boots "$d" 2 || fail "the guest did not boot again" || return 1
    wait_until 60 state_is "$d" ok || fail "no heartbeat after the crash: $(status_field "$d" state)" || return 1
    # the daemon gives libvirt 30 s to carry out <on_crash>; then a block more
    rest=$((t_crash + 40 - SECONDS))
    [ $rest -gt 0 ] && sleep $rest
    log "libvirt: $(grep "for domain '$d'" "$work/libvirt-events.log" | sed -n '/Crashed/,$p' |
                    sed "s/^[0-9-]* \([0-9:.]*\)+0000: event '\([^']*\)' for domain '[^']*'/\1 \2/" | tr '\n' ';')"
    [ "$(count_events "$d" restart-attempt)" = 0 ] ||
        fail "$(count_events "$d" restart-attempt) restart attempts: $(events_of "$d" restart-attempt | jq -c '{attempt, action, result}' | tr '\n' ' ')" || rc=1
    [ "$(grep -c "Domain '$d': restart attempt" "$work/daemon.log")" = 0 ] ||
        fail "the daemon log: $(grep "Domain '$d': restart attempt" "$work/daemon.log" | sed 's/.*: restart/restart/' | tr '\n' ';')" || rc=1
    [ "$(guest_boots "$d")" = 2 ] || fail "the guest booted $(guest_boots "$d") times, not 2" || rc=1
    [ "$(libvirt_resets "$d")" -le 1 ] || fail "libvirt saw $(libvirt_resets "$d") resets" || rc=1
    state_is "$d" ok || fail "state $(status_field "$d" state)" || rc=1
    [[ "$(domstate "$d")" == running* ]] || fail "libvirt says $(domstate "$d")" || rc=1
    return $rc
}

# An open episode outlives a daemon SIGKILL: the attempts go on from where
# they were, and there are never more than failure_attempts of them.
s_daemon_sigkill() {
    local d=${prefix}dkill
    _s_daemon_sigkill
    local rc=$?
    rmdomain "$d"
    return $rc
}

_s_daemon_sigkill() {
    local old_events=$events_pid nums lognums rc=0 i
    mkdomain "$d" yes "hb.agent=no" \
        "time='6' rate='3' boot_grace='10' failure_interval='10' failure_attempts='4'" || return 1
    wait_until 120 has_events "$d" restart-attempt 2 || fail "$(count_events "$d" restart-attempt) attempts, not 2" || return 1
    kill -9 "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null
    for i in $(seq 1 10); do kill -0 "$old_events" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$old_events" 2>/dev/null; then
        log "the events listener outlived the daemon"
    else
        wait "$old_events"
        log "the events listener ended with the daemon (exit $?)"
    fi
    start_daemon || fail "virt-heartbeatd did not come back" || return 1
    kill -0 "$old_events" 2>/dev/null || start_events
    wait_until 150 has_events "$d" restarts-exhausted 1 ||
        fail "not exhausted; attempts $(events_of "$d" restart-attempt | jq -r .attempt | tr '\n' ' ')" || return 1
    sleep 22 # two more intervals: nothing more
    nums=$(events_of "$d" restart-attempt | jq -r .attempt | tr '\n' ' ')
    lognums=$(grep -o "Domain '$d': restart attempt [0-9]* of [0-9]*" "$work/daemon.log" | awk '{ printf "%s ", $5 }')
    [ "$nums" = "1 2 3 4 " ] || fail "attempts (events): $nums, not 1 2 3 4" || rc=1
    [ "$lognums" = "1 2 3 4 " ] || fail "attempts (daemon log): $lognums, not 1 2 3 4" || rc=1
    [ "$(count_events "$d" restarts-exhausted)" = 1 ] || fail "$(count_events "$d" restarts-exhausted) restarts-exhausted" || rc=1
    [ "$(libvirt_resets "$d")" = 4 ] || fail "libvirt saw $(libvirt_resets "$d") resets, not 4" || rc=1
    state_is "$d" failed || fail "state $(status_field "$d" state), not failed" || rc=1
    return $rc
}

# A guest whose agent comes 15 s after each boot: after one reset, no second
# one lands while it boots (failure_interval 5 s is shorter than its boot).
s_slow_boot() {
    local d=${prefix}slowboot
    _s_slow_boot
    local rc=$?
    rmdomain "$d"
    return $rc
}

_s_slow_boot() {
    local seq rc=0 end
    mkdomain "$d" yes "hb.agent_delay=15" \
        "time='6' rate='3' boot_grace='60' failure_interval='5' failure_attempts='5'" || return 1
    wait_until 120 state_is "$d" ok || fail "never ok: $(status_field "$d" state)" || return 1
    agent_exec "$d" 'sleep 1; kill -9 $(cat /run/agent.pid)' || fail "cannot kill the agent" || return 1
    wait_until 60 has_events "$d" restart-attempt 1 || fail "no restart attempt" || return 1
    end=$((SECONDS + 120))
    until has_events "$d" heartbeat-resumed 1 || has_events "$d" restart-attempt 2 ||
          has_events "$d" restarts-exhausted 1 || [ $SECONDS -ge $end ]; do
        sleep 0.5
    done
    sleep 7 # a block more: whatever follows
    seq=$(jq -r --arg d "$d" 'select(.domain == $d and (.event == "heartbeat-stopped" or
            .event == "restart-attempt" or .event == "heartbeat-resumed" or .event == "restarts-exhausted"))
            | .event' "$work/events.jsonl" | tr '\n' ' ')
    log "events: $seq"
    if [ "$seq" != "heartbeat-stopped restart-attempt heartbeat-resumed " ]; then
        # when the guest booted and its agent came, against the attempts
        log "timeline: $( { grep "for domain '$d'" "$work/libvirt-events.log" |
                grep -e "Started Booted" -e "'connected'" |
                sed -e "s/^[0-9-]* \([0-9:.]*\)+0000: event 'lifecycle' for domain '[^']*': /\1 /" \
                    -e "s/^[0-9-]* \([0-9:.]*\)+0000: event 'agent-lifecycle' .*/\1 agent connected/"
              grep -F "Domain '$d': restart attempt" "$work/daemon.log" |
                sed "s/^.* \([0-9:.]*\): Domain '[^']*': \(restart attempt [0-9]*[^(]*\).*/\1 \2/"
            } | sort | tr '\n' ';')"
        fail "not one attempt and then resumed" || rc=1
    fi
    [ "$(libvirt_resets "$d")" = 1 ] || fail "libvirt saw $(libvirt_resets "$d") resets, not 1" || rc=1
    state_is "$d" ok || fail "state $(status_field "$d" state)" || rc=1
    return $rc
}

# An attempt that destroys the domain and then cannot start it (its initrd
# gone): the next attempt starts it, for action=restart and for a reset
# that <on_reboot>destroy turns into destroy+start.
s_start_fails() {
    local r=${prefix}startfail-restart o=${prefix}startfail-onreboot
    local img=$work/startfail-initrd.img
    _s_start_fails
    local rc=$?
    rmdomain "$r"
    rmdomain "$o"
    rm -f "$img" "$img.away"
    return $rc
}

_s_start_fails() {
    local d rc=0
    cp "$guest/initrd.img" "$img" || return 1
    MK_INITRD=$img mkdomain "$r" yes "" "$FAST action='restart'" || return 1
    MK_INITRD=$img MK_ON_REBOOT=destroy mkdomain "$o" || return 1
    for d in "$r" "$o"; do
        wait_until 60 state_is "$d" ok || fail "$d never ok" || return 1
    done
    mv "$img" "$img.away"
    for d in "$r" "$o"; do
        agent_exec "$d" 'sleep 1; kill -9 $(cat /run/agent.pid)' || fail "cannot kill the agent of $d" || return 1
    done
    for d in "$r" "$o"; do
        wait_until 60 has_events "$d" restart-attempt 1 || fail "$d: no attempt" || return 1
        events_of "$d" restart-attempt | head -1 | jq -e '.result | startswith("destroy+start: ")' >/dev/null ||
            fail "$d: first attempt $(events_of "$d" restart-attempt | head -1)" || return 1
        # libvirt 9.0 marks a start that failed: shut off (failed).
        [[ "$(domstate "$d")" == "shut off "* ]] || fail "$d: libvirt says $(domstate "$d")" || return 1
    done
    # failure_interval is 15 s: the next attempts come after this.
    mv "$img.away" "$img"
    for d in "$r" "$o"; do
        wait_until 60 has_events "$d" restart-attempt 2 || fail "$d: no second attempt" || rc=1
        events_of "$d" restart-attempt | sed -n 2p | jq -e '.action == "start" and .result == "ok"' >/dev/null ||
            fail "$d: second attempt $(events_of "$d" restart-attempt | sed -n 2p)" || rc=1
        wait_until 60 has_events "$d" heartbeat-resumed 1 || fail "$d: never resumed" || rc=1
        domstate_is "$d" "running (booted)" || fail "$d: libvirt says $(domstate "$d")" || rc=1
    done
    return $rc
}

# The last scenario, as it stops the daemon: on SIGTERM it exits 0 within
# 10 s (times HB_E2E_SLOW), and the events listener ends with it. Under
# HB_E2E_DAEMON_WRAPPER the exit status is the wrapper's verdict (valgrind
# reports at exit).
s_sigterm() {
    local pid=$daemon_pid st from
    # Each restart_daemon before logged one too.
    from=$(log_mark)
    kill -TERM "$pid" || fail "no daemon to stop" || return 1
    if ! wait_until 10 gone "$pid"; then
        kill -KILL "$pid"
        fail "still running $((10 * slow)) s after SIGTERM"
        return 1
    fi
    wait "$pid"
    st=$?
    daemon_pid=
    [ "$st" = 0 ] || fail "exit status $st${daemon_wrapper[0]:+ under ${daemon_wrapper[0]}}" || return 1
    log_has_since "$from" "Shutting down" || fail "no 'Shutting down' in the log" || return 1
    wait_until 10 gone "$events_pid" || fail "the events listener outlived the daemon" || return 1
}

# Opt-in (tests/e2e/stress-on-crash.sh): pvpanic with on_crash=destroy,
# HB_E2E_CRASHES times on one guest: exactly one start per crash.
s_crash_loop() {
    local d=${prefix}crashloop
    _s_crash_loop
    local rc=$?
    rmdomain "$d"
    return $rc
}

_s_crash_loop() {
    local i crashes=${HB_E2E_CRASHES:-20} a0 a1 s0 s1 bad=0 starts stops acts
    mkdomain "$d" yes "" "$FAST max_episodes='0'" destroy || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    for i in $(seq 1 "$crashes"); do
        a0=$(count_events "$d" restart-attempt)
        s0=$(libvirt_events "$d" "Started Booted")
        local c0 b0
        c0=$(libvirt_events "$d" "Stopped Crashed")
        b0=$(count_events "$d" heartbeat-resumed)
        agent_exec "$d" 'sleep 1; echo c > /proc/sysrq-trigger' || { log "crash $i: cannot panic"; bad=$((bad + 1)); break; }
        wait_until 30 has_libvirt_events "$d" "Stopped Crashed" $((c0 + 1)) || log "crash $i: libvirt saw no crash stop"
        wait_until 60 has_events "$d" heartbeat-resumed $((b0 + 1)) || log "crash $i: never resumed"
        wait_until 30 state_is "$d" ok || log "crash $i: state $(status_field "$d" state)"
        sleep 5 # anything late
        a1=$(count_events "$d" restart-attempt)
        s1=$(libvirt_events "$d" "Started Booted")
        acts=$(events_of "$d" restart-attempt | tail -n +$((a0 + 1)) | jq -r '"\(.action)/\(.result)"' | tr '\n' ' ')
        starts=$((s1 - s0))
        stops=$(( $(libvirt_events "$d" "Stopped Crashed") - c0 ))
        if [ "$acts" = "start/ok " ] && [ "$starts" = 1 ] && [ "$stops" = 1 ] && state_is "$d" ok; then
            log "crash $i: ok (attempt start/ok, libvirt: 1 crash stop, 1 start)"
        else
            bad=$((bad + 1))
            log "crash $i: FAILED attempts '$acts', libvirt: $stops crash stops, $starts starts, state $(status_field "$d" state)"
            # a guest left down would fail every later crash too
            state_is "$d" ok || wait_until 60 state_is "$d" ok || { $V start "$d" >/dev/null 2>&1; wait_until 60 state_is "$d" ok; }
        fi
    done
    [ "$bad" = 0 ] || fail "$bad of $crashes crashes without exactly one start"
}

# FILE KIB: read FILE (a FIFO) KIB KiB a second until its writer closes it.
slow_read() {
    local n
    exec 3<"$1"
    while n=$(dd bs=1K count="$2" iflag=fullblock <&3 2>/dev/null | wc -c) && [ "$n" -gt 0 ]; do
        sleep 1
    done
    exec 3<&-
}

# DOMAIN OPERATION: libvirt shows that job (a backup's Operation line may be
# missing from some answers: then any job).
job_is() {
    local out
    out=$($V domjobinfo "$1" 2>/dev/null) || return 1
    grep -q "^Operation: *$2" <<<"$out" ||
        { ! grep -q "^Operation:" <<<"$out" && grep -q "^Job type: *Unbounded" <<<"$out"; }
}

# A pull-mode backup runs until it is ended, and the guest runs meanwhile.
# Its agent is stopped for 20 s: its pings fail, but under the backup job
# they are no verdict, and the status says so. Without the suppression the
# guest is reset one block (6 s) after its agent stops.
s_backup_job() {
    _s_backup_job
    local status=$?
    $V domjobabort "${prefix}backup" >/dev/null 2>&1
    return $status
}

_s_backup_job() {
    local d=${prefix}backup seen="" took end
    truncate -s 16M "$work/backup-disk.img" || return 1
    MK_DEVICES="<disk type='file' device='disk'><driver name='qemu' type='raw'/>
        <source file='$work/backup-disk.img'/><target dev='vda' bus='virtio'/></disk>" \
        mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    cat > "$work/backup.xml" <<EOF
<domainbackup mode='pull'>
  <server transport='unix' socket='$work/backup-nbd.sock'/>
  <disks><disk name='vda' backup='yes' type='file'><scratch file='$work/backup-scratch.qcow2'/></disk></disks>
</domainbackup>
EOF
    $V backup-begin "$d" "$work/backup.xml" >/dev/null || fail "backup-begin failed" || return 1
    wait_until 10 job_is "$d" Backup || fail "libvirt shows no backup job: $($V domjobinfo "$d")" || return 1
    took=$( { /usr/bin/time -f %e $V domjobinfo "$d" >/dev/null; } 2>&1 )
    log "domjobinfo during the backup took $took s"
    agent_exec "$d" 'sleep 1; kill -STOP $(cat /run/agent.pid); sleep 20; kill -CONT $(cat /run/agent.pid)' ||
        fail "cannot stop the agent" || return 1
    end=$((SECONDS + 22))
    while [ $SECONDS -lt $end ]; do
        [ "$(status_field "$d" suppressed)" = "domain job: backup" ] && seen=1
        sleep 1
    done
    [ -n "$seen" ] || fail "the status never showed the backup's suppression" || return 1
    wait_until 30 state_is "$d" ok || fail "state $(status_field "$d" state) after the agent's stop" || return 1
    wait_until 10 job_is "$d" Backup || fail "the backup ended early: $($V domjobinfo "$d" 2>&1)" || return 1
    log "$(status_field "$d" pings_suppressed) pings suppressed, $(status_field "$d" pings_missed) missed"
    [ "$(status_field "$d" pings_suppressed)" -ge 1 ] || fail "no ping suppressed" || return 1
    [ "$(status_field "$d" suppressed)" = null ] || fail "still suppressed after a tick" || return 1
    daemon_log_time "$d" "failed pings are no verdict while this lasts: domain job: backup" >/dev/null ||
        fail "no log line for the suppression" || return 1
    $V domjobabort "$d" >/dev/null || fail "cannot end the backup" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped during the backup" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart during the backup" || return 1
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw the guest reset" || return 1
    rmdomain "$d"
}

# A memory-only dump into a FIFO read at 2 MiB/s, of the 128 MiB guest
# (some 60 s): QEMU stops the guest while it dumps (even with --live), so
# its pings have no verdict (paused), and nothing is done.
s_dump_job() {
    dump_pids=()
    _s_dump_job
    local status=$? p
    $V domjobabort "${prefix}dump" >/dev/null 2>&1
    for p in "${dump_pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -f "$work/dump.fifo"
    return $status
}

_s_dump_job() {
    local d=${prefix}dump fifo=$work/dump.fifo paused="" t0 dump_pid took
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    mkfifo "$fifo" || return 1
    slow_read "$fifo" 2048 &
    dump_pids+=($!)
    t0=$SECONDS
    $V dump --memory-only "$d" "$fifo" >"$work/dump.out" 2>&1 &
    dump_pid=$!
    dump_pids+=($dump_pid)
    wait_until 20 job_is "$d" Dump || fail "libvirt shows no dump job" || return 1
    log "libvirt during the dump: $(domstate "$d")"
    while ! gone "$dump_pid"; do
        [ "$(status_field "$d" state)" = paused ] && paused=1
        sleep 1
    done
    wait "$dump_pid" || fail "virsh dump failed: $(cat "$work/dump.out")" || return 1
    took=$((SECONDS - t0))
    log "the dump took $took s"
    [ "$took" -ge 12 ] || fail "the dump took only $took s: not two blocks" || return 1
    [ -n "$paused" ] || fail "the status never showed the guest paused" || return 1
    wait_until 30 state_is "$d" ok || fail "state $(status_field "$d" state) after the dump" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped during the dump" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart during the dump" || return 1
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw the guest reset" || return 1
    rmdomain "$d"
}

# guest-fsfreeze-freeze of an ext2 disk held for two blocks, then thawed: no
# action. qemu-ga answers guest-ping while frozen, so the heartbeat goes on.
s_fsfreeze() {
    local d=${prefix}freeze missed out
    truncate -s 16M "$work/freeze-disk.img" && mkfs.ext2 -q -F "$work/freeze-disk.img" || return 1
    MK_DEVICES="<disk type='file' device='disk'><driver name='qemu' type='raw'/>
        <source file='$work/freeze-disk.img'/><target dev='vda' bus='virtio'/></disk>" \
        mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    agent_exec "$d" 'mkdir -p /mnt && mount -t ext2 /dev/vda /mnt && echo x > /mnt/x' ||
        fail "cannot mount the disk" || return 1
    sleep 2
    missed=$(status_field "$d" pings_missed)
    out=$($V qemu-agent-command "$d" '{"execute":"guest-fsfreeze-freeze"}' 2>&1) ||
        fail "guest-fsfreeze-freeze: $out" || return 1
    log "guest-fsfreeze-freeze: $out"
    [ "$(jq -r .return <<<"$out")" -ge 1 ] || fail "no filesystem frozen: $out" || return 1
    $V qemu-agent-command "$d" '{"execute":"guest-fsfreeze-status"}' | grep -q frozen ||
        fail "the agent does not say frozen" || return 1
    sleep 14 # more than two blocks
    $V qemu-agent-command "$d" '{"execute":"guest-fsfreeze-status"}' | grep -q frozen ||
        fail "thawed before the end" || return 1
    state_is "$d" ok || fail "state $(status_field "$d" state) while frozen" || return 1
    [ "$(status_field "$d" pings_missed)" = "$missed" ] || fail "pings missed while frozen" || return 1
    out=$($V qemu-agent-command "$d" '{"execute":"guest-fsfreeze-thaw"}' 2>&1) ||
        fail "guest-fsfreeze-thaw: $out" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped while frozen" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart while frozen" || return 1
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw the guest reset" || return 1
    rmdomain "$d"
}

# ---- verdicts -------------------------------------------------------------

# In the guest: write 1 MiB to its disk every second for SECONDS (0: for
# ever), in the background, then kill its agent. The writer is the guest's
# own process: it goes on without the agent.
writer_then_kill_agent() { # DOMAIN SECONDS
    agent_exec "$1" "(end=\$((\$(date +%s) + $2)); while [ $2 = 0 ] || [ \$(date +%s) -lt \$end ]; do
        dd if=/dev/zero of=/dev/vda bs=64k count=16 conv=fsync 2>/dev/null; sleep 1; done) \
        </dev/null >/dev/null 2>&1 & sleep 1; kill -9 \$(cat /run/agent.pid)"
}

has_reboots() { [ "$(libvirt_reboots "$1")" -ge 1 ]; }

stopped_verdict() { # DOMAIN: the verdict of its first heartbeat-stopped
    events_of "$1" heartbeat-stopped | head -n1 | jq -r .verdict
}

# confirm=activity: the agent dies while the guest writes to its disk. The
# verdict is "agent dead, guest working", every attempt is withheld and no
# reset reaches libvirt while the writer runs; once it stops (the guest idles,
# no I/O) the next judgement is "guest hung" and the reset comes.
s_verdict_activity() {
    local d=${prefix}vact writing=45 t0 first
    MK_DISK=yes mkdomain "$d" yes "" "$FAST confirm='activity'" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    sleep 4 # readings while it ticks: the one before the silence
    writer_then_kill_agent "$d" "$writing" || fail "cannot start the writer" || return 1
    t0=$SECONDS
    wait_until 30 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    first=$(events_of "$d" heartbeat-stopped | head -n1)
    log "stopped: $first"
    [ "$(stopped_verdict "$d")" = agent-dead-guest-working ] || fail "verdict: $first" || return 1
    echo "$first" | jq -e '.evidence | test("^no tick for [0-9]+ s; vCPU time \\+[0-9.]+ s; disk \\+[0-9]+ B; net .* -> agent dead, guest working$")' \
        >/dev/null || fail "evidence: $first" || return 1
    wait_until 30 has_events "$d" restart-attempt 1 || fail "no restart-attempt" || return 1
    # While the writer runs: attempts reported, none made.
    while [ $((SECONDS - t0)) -lt $((writing - 5)) ]; do
        [ "$(libvirt_reboots "$d")" = 0 ] || fail "reset while the guest worked" || return 1
        sleep 1
    done
    events_of "$d" restart-attempt | jq -e -s 'length >= 2 and all(.result ==
        "not made: agent dead, guest working (confirm=activity)")' >/dev/null ||
        fail "attempts while writing: $(events_of "$d" restart-attempt | tr '\n' ' ')" || return 1
    field_is "$d" verdict agent-dead-guest-working || fail "status verdict $(status_field "$d" verdict)" || return 1
    grep -q "Domain '$d': heartbeat stopped (stopped), episode 1, verdict agent-dead-guest-working: no tick for" \
        "$work/daemon.log" || fail "no log line with the verdict" || return 1
    # The writer ends: the guest idles without its agent, and is reset.
    wait_until 60 has_reboots "$d" || fail "never reset once idle" || return 1
    events_of "$d" restart-attempt | jq -e -s 'any(.result == "ok")' >/dev/null ||
        fail "no attempt made: $(events_of "$d" restart-attempt | tr '\n' ' ')" || return 1
    field_is "$d" verdict guest-hung || fail "verdict once idle: $(status_field "$d" evidence)" || return 1
    rmdomain "$d"
}

# confirm=none (the default): the same fault is reset at once, and the
# verdict still says what it was.
s_verdict_none() {
    local d=${prefix}vnone first
    MK_DISK=yes mkdomain "$d" yes "" "$FAST" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    sleep 4
    writer_then_kill_agent "$d" 0 || fail "cannot start the writer" || return 1
    wait_until 30 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    first=$(events_of "$d" heartbeat-stopped | head -n1)
    log "stopped: $first"
    [ "$(stopped_verdict "$d")" = agent-dead-guest-working ] || fail "verdict: $first" || return 1
    wait_until 30 has_events "$d" restart-attempt 1 || fail "no restart-attempt" || return 1
    events_of "$d" restart-attempt | head -n1 | jq -e '.action == "reset" and .result == "ok"' >/dev/null ||
        fail "attempt: $(events_of "$d" restart-attempt | head -n1)" || return 1
    wait_until 30 has_reboots "$d" || fail "libvirt saw no reset" || return 1
    rmdomain "$d"
}

# A kdump under way. A panicking kernel with a crash kernel loaded tells
# pvpanic so (CRASH_LOADED, not PANICKED) and boots the crash kernel, which
# has no agent. The test guest has no crash kernel: it writes CRASH_LOADED
# to the pvpanic port itself, as the kernel would, and its agent dies; QEMU
# and libvirt report CRASHED_CRASHLOADED as for a real one. Longer than two
# blocks: every failed ping suppressed ("kdump"), no episode, no action.
# The dump ends with a reboot (here a virsh reset): the heartbeat returns.
s_kdump() {
    local d=${prefix}kdump seen="" end
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    agent_exec "$d" 'outb 0x505 2; kill -9 $(cat /run/agent.pid)' ||
        fail "cannot write CRASH_LOADED" || return 1
    wait_until 10 grep -q "for domain '$d': Crashed Crashloaded" "$work/libvirt-events.log" ||
        fail "libvirt reported no CRASHLOADED" || return 1
    end=$((SECONDS + 16))
    while [ $SECONDS -lt $end ]; do
        [ "$(status_field "$d" suppressed)" = kdump ] && seen=1
        sleep 1
    done
    [ -n "$seen" ] || fail "the status never showed the kdump's suppression" || return 1
    [ "$(status_field "$d" suppressed)" = kdump ] || fail "suppression ended: $(status_field "$d" suppressed)" || return 1
    [ "$(status_field "$d" pings_suppressed)" -ge 3 ] ||
        fail "$(status_field "$d" pings_suppressed) pings suppressed" || return 1
    daemon_log_time "$d" "failed pings are no verdict while this lasts: kdump" >/dev/null ||
        fail "no log line for the suppression" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped during the kdump" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "restart during the kdump" || return 1
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw the guest reset" || return 1
    # The dump is written: the guest reboots.
    $V reset "$d" >/dev/null || fail "cannot reset" || return 1
    wait_until 60 state_is "$d" ok || fail "state $(status_field "$d" state) after the reboot" || return 1
    [ "$(status_field "$d" suppressed)" = null ] || fail "still suppressed after the reboot" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "heartbeat-stopped after the reboot" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "a restart attempt" || return 1
    rmdomain "$d"
}

# The guest's own watchdog (ib700, action none: QEMU does nothing) is a
# verdict input. Fired while the agent answers, it causes nothing. Fired
# after the agent died, while the guest still writes, it makes the verdict
# "guest hung" where the counters alone say "agent dead, guest working": so
# even with confirm=activity the reset comes.
s_watchdog() {
    local d=${prefix}wdog first
    # ib700: a write to port 0x443 arms it, for 30 - 2 * VALUE s. Nothing pets it.
    MK_DISK=yes MK_DEVICES="<watchdog model='ib700' action='none'/>" \
        mkdomain "$d" yes "" "$FAST confirm='activity'" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    agent_exec "$d" "outb 0x443 13" || fail "cannot arm the watchdog" || return 1
    wait_until 20 grep -q "Domain '$d': the guest's watchdog fired (action none)" "$work/daemon.log" ||
        fail "no watchdog event in the daemon log" || return 1
    sleep 8 # more than a block: the ticks go on, so nothing happens
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] || fail "an episode while it ticked" || return 1
    state_is "$d" ok || fail "state $(status_field "$d" state)" || return 1
    # The agent dies while a writer runs; the watchdog fires at once after it.
    agent_exec "$d" "(while :; do dd if=/dev/zero of=/dev/vda bs=64k count=16 conv=fsync 2>/dev/null;
        sleep 1; done) </dev/null >/dev/null 2>&1 & sleep 1; kill -9 \$(cat /run/agent.pid);
        outb 0x443 15" ||
        fail "cannot start the writer" || return 1
    wait_until 30 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    first=$(events_of "$d" heartbeat-stopped | head -n1)
    log "stopped: $first"
    [ "$(stopped_verdict "$d")" = guest-hung ] || fail "verdict: $first" || return 1
    echo "$first" | jq -e '.evidence | test("; its watchdog fired \\(action none\\) -> guest hung$")' \
        >/dev/null || fail "evidence: $first" || return 1
    wait_until 30 has_reboots "$d" || fail "no reset" || return 1
    events_of "$d" restart-attempt | head -n1 | jq -e '.action == "reset" and .result == "ok"' >/dev/null ||
        fail "attempt: $(events_of "$d" restart-attempt | head -n1)" || return 1
    rmdomain "$d"
}

# One QEMU stops answering its monitor (SIGSTOP; that guest is not watched):
# the daemon's read that reaches it waits until it answers, and the reads
# that go beside it keep the verdict of a watched neighbour correct, here
# "agent dead, guest working" with confirm=activity, so no reset.
s_verdict_stuck_neighbour() {
    local d=${prefix}vwork s=${prefix}vstuck p from
    MK_DISK=yes mkdomain "$s" yes "" "" || return 1
    MK_DISK=yes mkdomain "$d" yes "" "$FAST confirm='activity'" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    wait_until 60 agent_pings "$s" || fail "the unwatched guest has no agent" || return 1
    sleep 4
    p=$(qemu_pid "$s")
    # Lines of earlier scenarios (the host stall's) say nothing of this one.
    from=$(log_mark)
    kill -STOP "$p"
    if ! wait_until 20 log_has_since "$from" "one more goes beside"; then
        kill -CONT "$p"
        fail "no read went beside the stuck one"
        return 1
    fi
    sleep 3 # a reading or two beside it: the one before the silence
    writer_then_kill_agent "$d" 0 || { kill -CONT "$p"; fail "cannot start the writer"; return 1; }
    wait_until 30 has_events "$d" heartbeat-stopped 1 || { kill -CONT "$p"; fail "no heartbeat-stopped"; return 1; }
    log "stopped: $(events_of "$d" heartbeat-stopped | head -n1)"
    wait_until 30 has_events "$d" restart-attempt 1 || { kill -CONT "$p"; fail "no restart-attempt"; return 1; }
    sleep 5
    kill -CONT "$p"
    [ "$(stopped_verdict "$d")" = agent-dead-guest-working ] ||
        fail "verdict beside the stuck QEMU: $(events_of "$d" heartbeat-stopped | head -n1)" || return 1
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "reset while the guest worked" || return 1
    wait_until 30 log_has_since "$from" "Domain stats: a read took" ||
        fail "the stuck read never ended" || return 1
    rmdomain "$d"
    rmdomain "$s"
}

# Opt-in, for tests/bench/stats-nowait.sh: the bulk stats call's latency
# with and without NOWAIT while one guest's QEMU is SIGSTOPped, and samples
# of real guests (idle; agent killed, writing) for tests/verdict_test.c.
s_stats_nowait() {
    local figs=$work/figures i d p t s
    for i in 1 2 3; do MK_DISK=yes mkdomain "${prefix}st$i" yes "" "" || return 1; done
    for i in 1 2 3; do wait_until 60 agent_pings "${prefix}st$i" || fail "st$i no agent" || return 1; done
    sleep 5
    bulk() { # FLAGS...: ms for one bulk call of the daemon's groups, or "timeout"
        local t0 rc
        t0=$(date +%s%N)
        timeout 60 virsh -q -c qemu:///system domstats --vcpu --block --interface "$@" >/dev/null 2>&1
        rc=$?
        [ $rc = 124 ] && { echo timeout; return; }
        echo $(( ($(date +%s%N) - t0) / 1000000 ))
    }
    sample() { # DOMAIN FILE [FLAGS]: one reading with its time, as tests/data/verdict keeps it
        { echo "# time_us $(( $(date +%s%N) / 1000 ))"
          timeout 60 virsh -q -c qemu:///system domstats --vcpu --block --interface ${3:-} "$1"
        } >> "$2"
    }
    # Recorded samples: idle, then writing with the agent killed, 20 s apart.
    sample "${prefix}st1" "$figs/verdict-idle.txt"
    sample "${prefix}st2" "$figs/verdict-writing.txt"
    writer_then_kill_agent "${prefix}st2" 0
    sleep 20
    sample "${prefix}st1" "$figs/verdict-idle.txt"
    sample "${prefix}st2" "$figs/verdict-writing.txt"
    for i in $(seq 5); do echo "running plain $(bulk)"; echo "running nowait $(bulk --nowait)"; done \
        > "$figs/nowait.txt"
    p=$(qemu_pid "${prefix}st3")
    kill -STOP "$p"
    # Nobody holds the stopped domain's job yet. Groups without the disks
    # first: do they need its monitor? Then the daemon's groups: the first
    # call takes the job and waits on the monitor, NOWAIT or not (virsh is
    # killed at 60 s; the call in libvirtd goes on holding the job).
    t=$(date +%s%N)
    timeout 60 virsh -q -c qemu:///system domstats --vcpu --interface --nowait >/dev/null 2>&1
    echo "stopped first-vcpu+interface-nowait $(( ($(date +%s%N) - t) / 1000000 ))" >> "$figs/nowait.txt"
    echo "stopped first-nowait $(bulk --nowait)" >> "$figs/nowait.txt"
    for i in 1 2 3; do
        echo "stopped plain $(bulk)" >> "$figs/nowait.txt"
        echo "stopped nowait $(bulk --nowait)" >> "$figs/nowait.txt"
    done
    t=$(date +%s%N)
    timeout 60 virsh -q -c qemu:///system domstats --vcpu --interface --nowait >/dev/null 2>&1
    echo "stopped vcpu+interface-nowait $(( ($(date +%s%N) - t) / 1000000 ))" >> "$figs/nowait.txt"
    timeout 60 virsh -q -c qemu:///system domstats --vcpu --block --interface --nowait \
        > "$figs/stopped-nowait-output.txt" 2>&1
    sample "${prefix}st3" "$figs/verdict-stopped.txt" --nowait
    sleep 20
    sample "${prefix}st3" "$figs/verdict-stopped.txt" --nowait
    kill -CONT "$p"
    cat "$figs/nowait.txt" | sed 's/^/# nowait: /'
    for i in 1 2 3; do rmdomain "${prefix}st$i"; done
}

# Opt-in, for tests/bench/guests.sh (BENCHMARKS.md "Real guests at the
# machine's limit"): HB_E2E_GUESTS healthy guests (40) at time=60 rate=60,
# one ping a second each, and four windows of the same guests: the daemon
# running (HB_E2E_WINDOW s, 300), the daemon without -v (HB_E2E_STATS_WINDOW
# s, 120: what its debug log costs), none (HB_E2E_WINDOW s: libvirtd's
# baseline), and none but the daemon's bulk counter read every 2 s made by
# virsh (HB_E2E_STATS_WINDOW s): what part of libvirtd's cost is that read.
# At each window's ends it records the CPU ticks of the processes (and of
# libvirtd's and the daemon's threads), the daemon's list and its
# statistics; tests/bench/guests.sh makes the figures from them.
s_guests() {
    local n=${HB_E2E_GUESTS:-40} win=${HB_E2E_WINDOW:-300} swin=${HB_E2E_STATS_WINDOW:-120}
    local doms=() i rc=0
    for i in $(seq -w 1 "$n"); do doms+=("${prefix}g$i"); done
    _s_guests "$n" "$win" "$swin" || rc=1
    [ -n "${stats_loop_pid:-}" ] && kill "$stats_loop_pid" 2>/dev/null
    rmdomains "${doms[@]}"
    daemon_args=(-v)
    restart_daemon || { log "virt-heartbeatd did not come back"; rc=1; }
    return $rc
}

proc_ticks() { # PID: utime + stime of the whole process (its ended threads too), clock ticks
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

thread_ticks() { # PID: "TID NAME TICKS" for each of its threads (spaces in NAME as _)
    cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{
        s = $0; o = index(s, "(")
        for (c = length(s); c > 0 && substr(s, c, 1) != ")"; c--) ;
        name = substr(s, o + 1, c - o - 1); gsub(/ /, "_", name)
        split(substr(s, c + 2), f, " "); print $1, name, f[12] + f[13] }'
}

# TAG DAEMON-PID: the window's end TAG in $figs/guests-TAG.txt (KEY VALUE
# lines), with the threads, the daemon's list and its statistics beside.
guests_snapshot() {
    local tag=$1 dpid=$2 f=$work/figures/guests-$1 lv q=0 p d
    lv=$(pgrep -xo libvirtd || pgrep -xo virtqemud)
    for d in "${doms[@]}"; do
        p=$(qemu_pid "$d" 2>/dev/null) && q=$((q + $(proc_ticks "$p")))
    done
    {
        echo "time $(date +%s.%N)"
        echo "libvirtd $(proc_ticks "$lv")"
        echo "qemu $q"
        echo "dbus $(proc_ticks "$dbus_pid")"
        if [ -n "$dpid" ]; then
            echo "daemon $(proc_ticks "$dpid")"
            echo "listener $(proc_ticks "$events_pid")"
            awk '/^Vm(RSS|HWM):/ { print "daemon_" $1 " " $2 }' "/proc/$dpid/status" | tr -d :
            echo "log_lines $(wc -l < "$work/daemon.log")"
        fi
        awk '/^MemAvailable:/ { print "mem_available_kb " $2 }' /proc/meminfo
    } > "$f.txt"
    thread_ticks "$lv" > "$f-libvirtd-threads.txt"
    if [ -n "$dpid" ]; then
        thread_ticks "$dpid" > "$f-daemon-threads.txt"
        "$cli" list --json > "$f-list.json" 2>/dev/null
        # The daemon's statistics (Prometheus text), where it has them.
        "$cli" stats > "$f-stats.txt" 2>/dev/null || rm -f "$f-stats.txt"
    fi
}

_s_guests() {
    local n=$1 win=$2 swin=$3 figs=$work/figures d t0 notok p
    local attrs="time='60' rate='60' boot_grace='900'"
    rm -f "$figs"/guests-*
    echo "guests $n window $win stats_window $swin" > "$figs/guests-setup.txt"
    awk '/^MemAvailable:/ { print "mem_available_before_kb " $2 }' /proc/meminfo >> "$figs/guests-setup.txt"
    t0=$SECONDS
    for d in "${doms[@]}"; do
        mkdomain "$d" yes "" "$attrs" || fail "cannot start $d" || return 1
    done
    log "$n guests started in $((SECONDS - t0)) s"
    echo "start_s $((SECONDS - t0))" >> "$figs/guests-setup.txt"
    until [ -z "$(not_ok_100 "${doms[@]}")" ] || [ $((SECONDS - t0)) -gt 1200 ]; do
        sleep 5
    done
    notok=$(not_ok_100 "${doms[@]}")
    [ -z "$notok" ] || fail "not all ok at 100 % after $((SECONDS - t0)) s: $(echo $notok)" || return 1
    log "all ok at 100 % $((SECONDS - t0)) s after the first start"
    echo "all_ok_s $((SECONDS - t0))" >> "$figs/guests-setup.txt"
    # Past the boots' own load, and a whole block (60 s) of one ping a second.
    sleep 60

    log "window 1: the daemon, $win s"
    guests_snapshot d0 "$daemon_pid"
    sleep "$win"
    guests_snapshot d1 "$daemon_pid"
    notok=$(not_ok_100 "${doms[@]}")
    [ -z "$notok" ] || fail "not ok at 100 % after the window: $(echo $notok)" || return 1

    # The same without -v: the debug log writes some ten lines a ping.
    log "window 1q: the daemon without -v, $swin s"
    daemon_args=()
    restart_daemon || fail "virt-heartbeatd did not come back without -v" || return 1
    wait_until 120 eval '[ -z "$(not_ok_100 "${doms[@]}")" ]'
    sleep 10
    guests_snapshot q0 "$daemon_pid"
    sleep "$swin"
    guests_snapshot q1 "$daemon_pid"
    notok=$(not_ok_100 "${doms[@]}")
    [ -z "$notok" ] || fail "without -v, not ok at 100 % after the window: $(echo $notok)" || return 1

    log "window 2: no daemon (libvirtd's baseline), $win s"
    kill -TERM "$daemon_pid"
    wait_until 15 gone "$daemon_pid" || fail "the daemon did not stop" || return 1
    wait "$daemon_pid" 2>/dev/null
    wait_until 10 gone "$events_pid"
    sleep 10
    guests_snapshot b0 ""
    sleep "$win"
    guests_snapshot b1 ""

    # The daemon's counter read alone: its flags, one connection, every 2 s.
    log "window 3: no daemon, virsh domstats every 2 s, $swin s"
    virsh -q -c qemu:///system > /dev/null 2>&1 < <(
        while sleep 2; do echo "domstats --vcpu --block --interface --list-active --nowait"; done) &
    stats_loop_pid=$!
    bg_pids+=("$stats_loop_pid")
    sleep 5
    guests_snapshot s0 ""
    sleep "$swin"
    guests_snapshot s1 ""
    kill "$stats_loop_pid"
    wait "$stats_loop_pid" 2>/dev/null
    stats_loop_pid=
    for d in "${doms[@]}"; do
        p=$(qemu_pid "$d") && awk -v d="$d" '/^VmRSS:/ { print d, $2 }' "/proc/$p/status"
    done > "$figs/guests-qemu-rss.txt"
    return 0
}

# action=observe: the agent is killed; every attempt is decided and reported
# as "would reset", and libvirt sees no reset: no reboot event, one boot.
s_observe() {
    local d=${prefix}observe
    _s_observe
    local rc=$?
    rmdomain "$d"
    return $rc
}

_s_observe() {
    local first
    mkdomain "$d" yes "" \
        "time='6' rate='3' boot_grace='30' failure_interval='8' failure_attempts='2' action='observe'" ||
        return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    agent_exec "$d" 'sleep 1; kill -9 $(cat /run/agent.pid)' || fail "cannot kill the agent" || return 1
    wait_until 30 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    wait_until 60 has_events "$d" restarts-exhausted 1 || fail "never exhausted" || return 1
    first=$(events_of "$d" restart-attempt | head -1)
    log "first attempt: $first"
    jq -e '.attempt == 1 and .action == "would reset" and .result == "observed"' <<<"$first" >/dev/null ||
        fail "attempt: $first" || return 1
    [ "$(count_events "$d" restart-attempt)" = 2 ] || fail "$(count_events "$d" restart-attempt) attempts, not 2" || return 1
    grep -q "Domain '$d': restart attempt 1: would reset; observed only, nothing done" "$work/daemon.log" ||
        fail "no 'would reset' in the daemon log" || return 1
    state_is "$d" failed || fail "state $(status_field "$d" state), not failed" || return 1
    field_is "$d" restart_attempts 2 || fail "status: $(status_field "$d" restart_attempts) attempts" || return 1
    field_is "$d" last_attempt "2 would reset: observed" ||
        fail "status: last attempt $(status_field "$d" last_attempt)" || return 1
    # libvirt's own view: no reset, the guest still in its first boot.
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw $(libvirt_reboots "$d") reboot events" || return 1
    [ "$(guest_boots "$d")" = 1 ] || fail "the guest booted $(guest_boots "$d") times" || return 1
    domstate_is "$d" "running (booted)" || fail "libvirt says $(domstate "$d")" || return 1
}

# [daemon] dry_run=yes with action=restart: the agent is killed, every attempt
# is reported as "would destroy+start", and libvirt sees no destroy.
s_dry_run() {
    local d=${prefix}dryrun
    _s_dry_run
    local rc=$?
    rmdomain "$d"
    restart_daemon || { fail "virt-heartbeatd did not come back"; rc=1; }
    return $rc
}

_s_dry_run() {
    local pid first
    restart_daemon dry_run=yes || fail "virt-heartbeatd did not come back" || return 1
    grep -q "dry run (\[daemon\] dry_run)" "$work/daemon.log" ||
        fail "the daemon did not say it runs dry" || return 1
    mkdomain "$d" yes "" \
        "time='6' rate='3' boot_grace='30' failure_interval='6' failure_attempts='2' action='restart'" ||
        return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    pid=$(qemu_pid "$d")
    agent_exec "$d" 'sleep 1; kill -9 $(cat /run/agent.pid)' || fail "cannot kill the agent" || return 1
    wait_until 60 has_events "$d" restarts-exhausted 1 || fail "never exhausted" || return 1
    first=$(events_of "$d" restart-attempt | head -n1)
    jq -e '.attempt == 1 and .action == "would destroy+start" and .result == "observed"' <<<"$first" >/dev/null ||
        fail "attempt: $first" || return 1
    [ "$(count_events "$d" restart-attempt)" = 2 ] || fail "$(count_events "$d" restart-attempt) attempts, not 2" || return 1
    grep -q "Domain '$d': restart attempt 1 of 2 (restart, observed only: dry_run)" "$work/daemon.log" ||
        fail "no dry_run attempt in the daemon log" || return 1
    # libvirt's own view: no destroy, no reset, the same QEMU, one boot.
    [ "$(libvirt_events "$d" "Stopped")" = 0 ] || fail "libvirt saw $(libvirt_events "$d" "Stopped") stops" || return 1
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw $(libvirt_reboots "$d") reboot events" || return 1
    [ "$(qemu_pid "$d")" = "$pid" ] || fail "QEMU was replaced" || return 1
    [ "$(guest_boots "$d")" = 1 ] || fail "the guest booted $(guest_boots "$d") times" || return 1
}

# SIGHUP mid-episode: dry_run turned on by a reload applies to the next
# attempt of the same episode, which is only observed; the daemon is the
# same process, and the episode, its attempts and its counters go on.
s_reload() {
    local d=${prefix}reload
    _s_reload
    local rc=$?
    rmdomain "$d"
    restart_daemon || { fail "virt-heartbeatd did not come back"; rc=1; }
    return $rc
}

_s_reload() {
    local pid second episode missed
    restart_daemon || fail "virt-heartbeatd did not come back" || return 1
    pid=$daemon_pid
    mkdomain "$d" yes "hb.agent=no" \
        "time='6' rate='3' boot_grace='10' failure_interval='10' failure_attempts='3'" || return 1
    wait_until 90 has_events "$d" restart-attempt 1 || fail "no first attempt" || return 1
    episode=$(status_field "$d" episode)
    missed=$(status_field "$d" pings_missed)
    write_daemon_conf dry_run=yes
    kill -HUP "$daemon_pid"
    wait_until 20 grep -q "Configuration reloaded: dry_run" "$work/daemon.log" ||
        fail "no reload in the daemon log" || return 1
    wait_until 40 has_events "$d" restart-attempt 2 || fail "no second attempt" || return 1
    second=$(events_of "$d" restart-attempt | sed -n 2p)
    jq -e '.attempt == 2 and .action == "would reset" and .result == "observed"' <<<"$second" \
        >/dev/null || fail "second attempt: $second" || return 1
    [ "$daemon_pid" = "$pid" ] && kill -0 "$pid" || fail "the daemon was replaced" || return 1
    [ "$(status_field "$d" episode)" = "$episode" ] ||
        fail "episode $(status_field "$d" episode), not $episode" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 1 ] || fail "a second episode" || return 1
    [ "$(status_field "$d" pings_missed)" -ge "$missed" ] || fail "counters went back" || return 1
    [ "$(libvirt_resets "$d")" = 1 ] || fail "libvirt saw $(libvirt_resets "$d") resets, not 1" ||
        return 1
}

# Debian's Prometheus server scrapes the daemon's /metrics every second (a
# daemon with [metrics] listen for this scenario only); a guest's agent is
# stopped, and Prometheus' query API must show that guest's heartbeating
# gauge at 0 and its restart counter risen: the data went through a real
# scrape into a real TSDB, not only out of the endpoint.
s_prometheus() {
    local d=${prefix}prom prom_pid=
    _s_prometheus
    local rc=$?
    if [ -n "$prom_pid" ]; then
        kill "$prom_pid" 2>/dev/null
        wait "$prom_pid" 2>/dev/null
    fi
    rmdomain "$d"
    restart_daemon || { log "virt-heartbeatd did not come back"; rc=1; }
    return $rc
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

prom_query() { # PORT PROMQL: the value of its first sample; nothing if there is none
    curl -sf --max-time 5 --get "http://127.0.0.1:$1/api/v1/query" --data-urlencode "query=$2" |
        jq -r '.data.result[0].value[1] // empty'
}

prom_is() { [ "$(prom_query "$1" "$2")" = "$3" ]; } # PORT PROMQL VALUE

_s_prometheus() {
    local mport pport sel v
    command -v prometheus >/dev/null || fail "no prometheus (tests/install-deps.sh)" || return 1
    mport=$(free_port) && pport=$(free_port) || fail "no free port" || return 1
    restart_daemon "[metrics]" "listen=127.0.0.1:$mport" ||
        fail "virt-heartbeatd did not come back with [metrics]" || return 1
    mkdir -p "$work/prometheus"
    printf '%s\n' "global:" "  scrape_interval: 1s" "  evaluation_interval: 1s" \
        "scrape_configs:" "  - job_name: virt-heartbeat" "    static_configs:" \
        "      - targets: ['127.0.0.1:$mport']" > "$work/prometheus/prometheus.yml"
    prometheus --config.file="$work/prometheus/prometheus.yml" \
        --storage.tsdb.path="$work/prometheus/data" \
        --web.listen-address="127.0.0.1:$pport" > "$work/prometheus.log" 2>&1 8>&- &
    prom_pid=$!
    bg_pids+=("$prom_pid")
    mkdomain "$d" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    sel="{job=\"virt-heartbeat\",domain=\"$d\"}"
    # Prometheus scrapes the daemon, and sees the guest heartbeating.
    wait_until 30 prom_is "$pport" 'up{job="virt-heartbeat"}' 1 ||
        fail "Prometheus does not scrape the daemon: $(tail -n 3 "$work/prometheus.log")" ||
        return 1
    wait_until 20 prom_is "$pport" "virt_heartbeat_domain_heartbeating$sel" 1 ||
        fail "Prometheus never saw $d heartbeating" || return 1
    agent_exec "$d" 'sleep 1; kill -STOP $(cat /run/agent.pid)' || fail "cannot stop the agent" || return 1
    # Over a range: the reset brings the heartbeat back within seconds.
    wait_until 40 prom_is "$pport" "min_over_time(virt_heartbeat_domain_heartbeating$sel[5m])" 0 ||
        fail "Prometheus never saw the heartbeating gauge of $d at 0" || return 1
    sel="{job=\"virt-heartbeat\",domain=\"$d\",action=\"reset\",result=\"ok\"}"
    wait_until 40 prom_is "$pport" \
        "max_over_time(virt_heartbeat_domain_restart_attempts_total$sel[5m]) >= bool 1" 1 ||
        fail "Prometheus never saw a restart of $d counted" || return 1
    v=$(prom_query "$pport" "virt_heartbeat_domain_episodes_total{domain=\"$d\"}")
    log "Prometheus: episodes_total $v, restart attempts (reset, ok)" \
        "$(prom_query "$pport" "virt_heartbeat_domain_restart_attempts_total$sel")"
    [ "$v" = 1 ] || fail "Prometheus: episodes_total $v, not 1" || return 1
    has_events "$d" restart-attempt 1 || fail "no restart-attempt signal beside the counter" || return 1
}


# action=ladder on a frozen guest: its vCPU thread is held stopped (ptrace,
# the rest of QEMU runs on), so only the heartbeat sees it. The NMI does not
# help; the reset hangs in QEMU (it waits for the stopped vCPU, and libvirt
# for QEMU's reply, with no end), so attempt 2 is given up as hung after
# 60 s, and the destroy+start of attempt 3 brings the guest back (its kill
# of QEMU also ends the hung reset).
s_ladder() {
    local d=${prefix}ladder freeze_pid=
    _s_ladder
    local rc=$?
    # The thread runs again (if QEMU still lives), then the domain goes.
    [ -n "$freeze_pid" ] && kill "$freeze_pid" 2>/dev/null
    rmdomain "$d"
    return $rc
}

# DOMAIN: hold its (only) vCPU thread stopped; sets freeze_pid. A thread
# stopped while it held QEMU's big lock would stop the monitor too: then
# it is let go and caught again.
freeze_vcpu() {
    local tid try
    tid=$($V qemu-monitor-command --hmp "$1" 'info cpus' | sed -n 's/.*thread_id=\([0-9]*\).*/\1/p' | head -n1)
    [ -n "$tid" ] || fail "no vCPU thread in 'info cpus'" || return 1
    for try in 1 2 3; do
        python3 "$srcdir/tests/e2e/freeze-thread.py" "$tid" > "$work/$1-freeze.out" 2>&1 8>&- &
        freeze_pid=$!
        bg_pids+=("$freeze_pid")
        wait_until 10 grep -q "^frozen" "$work/$1-freeze.out" ||
            fail "cannot stop thread $tid: $(cat "$work/$1-freeze.out")" || return 1
        timeout 5 $V qemu-monitor-command --hmp "$1" 'info status' >/dev/null && return 0
        log "try $try: QEMU's monitor does not answer with thread $tid stopped; again"
        kill "$freeze_pid"
        wait "$freeze_pid" 2>/dev/null
        sleep 1
    done
    fail "QEMU's monitor hangs whenever its vCPU thread is stopped"
}

_s_ladder() {
    local pid steps agent_error
    mkdomain "$d" yes "" \
        "time='6' rate='3' boot_grace='20' failure_interval='6' failure_attempts='4' action='ladder'" ||
        return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    pid=$(qemu_pid "$d")
    freeze_vcpu "$d" || return 1
    log "vCPU of $d held stopped"
    wait_until 30 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    wait_until 150 has_events "$d" restart-attempt 2 || fail "no second attempt" || return 1
    # The NMI and the reset are made in the same QEMU, which they leave hung.
    [ "$(qemu_pid "$d")" = "$pid" ] || fail "QEMU replaced before attempt 3" || return 1
    wait_until 60 has_events "$d" restart-attempt 3 || fail "no third attempt" || return 1
    wait_until 90 has_events "$d" heartbeat-resumed 1 || fail "never resumed" || return 1
    # In order: the NMI, the reset given up as hung; then destroy+start and
    # the hung reset's own end (a failure: the destroy killed QEMU under it),
    # in either order.
    wait_until 30 has_events "$d" restart-attempt 4 || fail "the hung reset never ended" || return 1
    steps=$(events_of "$d" restart-attempt | jq -r '"\(.attempt) \(.action) \(.result | split(":")[0])"' | tr '\n' ';')
    log "attempts: $steps"
    # libvirt 9.0 may start the new QEMU with the agent of the one killed
    # under the hung reset still in error ("not available due to an
    # error", and no agent 'disconnected' on the start): its pings fail
    # until the channel opens anew, and only a fourth attempt, a destroy and
    # start again, brings it back (seen once in CI).
    # (The same error may also show, briefly, on a boot that needs none.)
    agent_error=0
    if [[ "$steps" == *"4 destroy+start ok;"* ]] &&
        grep -q "Domain '$d': .*QEMU guest agent is not available due to an error" \
            "$work/daemon.log"; then
        agent_error=1
        log "the new QEMU's agent was in error: a fourth attempt was due"
    fi
    [ "$steps" = "1 nmi ok;2 ladder hung;2 ladder reset;3 destroy+start ok;" ] ||
        [ "$steps" = "1 nmi ok;2 ladder hung;3 destroy+start ok;2 ladder reset;" ] ||
        { [ "$agent_error" = 1 ] && [[ "$steps" == "1 nmi ok;2 ladder hung;"*"3 destroy+start ok;"*"4 destroy+start ok;" ]]; } ||
        fail "attempts: $steps" || return 1
    grep -q "Domain '$d': restart attempt 1: nmi " "$work/daemon.log" || fail "no nmi in the daemon log" || return 1
    grep -q "Domain '$d': restart attempt 2, given up as hung, ended: reset" "$work/daemon.log" ||
        fail "the hung attempt was no reset" || return 1
    # libvirt's own view: destroyed and started once, a new QEMU, a new boot.
    [ "$(libvirt_events "$d" "Stopped Destroyed")" = $((1 + agent_error)) ] ||
        fail "libvirt saw $(libvirt_events "$d" "Stopped Destroyed") destroys" || return 1
    [ "$(qemu_pid "$d")" != "$pid" ] || fail "the same QEMU runs" || return 1
    has_boots "$d" 2 || fail "the guest booted $(guest_boots "$d") times" || return 1
    domstate_is "$d" "running (booted)" || fail "libvirt says $(domstate "$d")" || return 1
    # Its thread gone with the old QEMU, the freeze ended by itself.
    wait_until 10 gone "$freeze_pid" || fail "freeze-thread.py still holds a thread" || return 1
}

# ---- side by side with the alternatives (tests/bench/alternatives.sh) -----

# One fault (HB_E2E_ALT_FAULT) on HB_E2E_ALT_N guests of each watcher, all
# from the same image and at once: "wd", the emulated ib700 with libvirt's
# <watchdog action='reset'/>, petted by a loop in the guest (hb.ib700);
# "sd", softdog in the guest kernel with busybox's watchdog daemon
# (hb.softdog); "def" and "short", this daemon at its defaults and at
# time=30 rate=10. Neither kind of watchdog has a device here (no pvpanic
# either): each sees only its own. A figure, not a test: it fails only when
# the guests do not come up or the fault cannot be made.
# Fault kinds: agent (qemu-ga SIGSTOPped), freeze (the vCPU thread held
# stopped: a hung kernel), panic (panic=0, no pvpanic: the kernel spins),
# userspace (every process but init SIGSTOPped, the kernel alive), storm
# (a panic 20 s after every boot; one guest of each, 300 s), hoststall
# (every guest's QEMU SIGSTOPped for 40 s: the host's fault, not the
# guests'; whatever acts on it is a false positive).
s_alternatives() {
    local fault=${HB_E2E_ALT_FAULT:-agent} reps=${HB_E2E_ALT_N:-3} doms=() freeze_pids=() p
    local stopped_pids=()
    # Every guest gets its fault at once: the host-wide breaker would take
    # that for a host stall and hold the resets (s_host_stall tests that).
    # Off, as in s_mass_hang, but for the host stall, which is its job.
    if [ "$fault" != hoststall ]; then
        restart_daemon host_share=100 || fail "virt-heartbeatd did not come back" || return 1
    fi
    _s_alternatives
    local rc=$?
    [ ${#stopped_pids[@]} -gt 0 ] && kill -CONT "${stopped_pids[@]}" 2>/dev/null
    for p in "${freeze_pids[@]}"; do kill "$p" 2>/dev/null; done
    rmdomains "${doms[@]}"
    if [ "$fault" != hoststall ]; then
        restart_daemon || { log "virt-heartbeatd did not come back"; rc=1; }
    fi
    return $rc
}

alt_kind() { local k=${1#"${prefix}alt-"}; echo "${k%%[0-9]*}"; } # DOMAIN -> wd|sd|def|short

# DOMAIN T0: seconds from T0 to the first sign that its watcher caught the
# fault, and what it was; "-" when none came.
alt_detected() {
    local d=$1 t0=$2 kind line ts
    kind=$(alt_kind "$d")
    case "$kind" in
        wd|sd)
            # virsh event --timestamp: "2026-11-30 11:50:01.123+0000: event ..."
            if [ "$kind" = wd ]; then
                line=$(grep -F "event 'watchdog' for domain '$d'" "$work/libvirt-events.log")
            else
                line=$(grep -F "event 'reboot' for domain '$d'" "$work/libvirt-events.log")
            fi
            while read -r day tod _; do
                [ -n "$day" ] || continue
                ts=$(date -d "$day ${tod%:}" +%s.%N) || continue
                awk -v t="$ts" -v t0="$t0" 'BEGIN { exit !(t >= t0) }' || continue
                awk -v t="$ts" -v t0="$t0" -v k="$kind" 'BEGIN {
                    printf "%.1f %s\n", t - t0, k == "wd" ? "watchdog-event" : "guest-reboot" }'
                return 0
            done <<<"$line"
            echo "- -" ;;
        *)
            ts=$(daemon_log_time "$d" "heartbeat stopped")
            if [ -z "$ts" ]; then
                ts=$(events_of "$d" heartbeat-stopped | head -n1 | jq -r '.time | fromdateiso8601')
            fi
            if [ -n "$ts" ] && [ "$ts" != null ]; then
                awk -v t="$ts" -v t0="$t0" 'BEGIN { printf "%.1f heartbeat-stopped\n", t - t0 }'
            else
                echo "- -"
            fi ;;
    esac
}

# DOMAIN T0: seconds from T0 to masakari's first notification for it, "-"
# for none, "n/a" when it did not watch that guest.
alt_masakari() {
    local uuid
    uuid=$(awk -v d="$1" '$1 == d { print $2 }' "$work/masakari/uuids" 2>/dev/null)
    case "$(alt_kind "$1")" in wd|sd) ;; *) uuid= ;; esac
    [ -n "$uuid" ] || { echo n/a; return; }
    grep -F "$uuid" "$work/masakari/requests.log" 2>/dev/null | grep ' POST ' |
        awk -v t0="$2" '$1 >= t0 { printf "%.1f\n", $1 - t0; found = 1; exit }
                        END { if (!found) print "-" }'
}

_s_alternatives() {
    local figs=$work/figures d i kind window cmd attrs dev cl end all_up t mk=$work/masakari
    local -A t_fault
    local kinds=(wd sd def short)
    [ "$fault" = storm ] && { reps=1; kinds=(wd def short); }
    : > "$figs/alternatives-$fault.txt"
    for kind in "${kinds[@]}"; do
        for i in $(seq 1 "$reps"); do
            d=${prefix}alt-$kind$i
            doms+=("$d")
            dev="" attrs="" cl="hb.ib700=30"
            case "$kind" in
                wd) dev="<watchdog model='ib700' action='reset'/>" ;;
                sd) cl="hb.softdog=30" ;;
                def) attrs="enabled='yes'" ;;
                short) attrs="time='30' rate='10'" ;;
            esac
            [ "$fault" = storm ] && cl="$cl hb.panic=20"
            MK_DEVICES=$dev mkdomain "$d" yes "$cl" "$attrs" destroy no ||
                fail "cannot start $d" || return 1
        done
    done
    # Masakari's monitor (HB_E2E_ALT_MASAKARI=1) watches the wd and sd guests,
    # which this daemon does not; its pings would share libvirt's agent job
    # with ours. It notifies a stub on 127.0.0.1 (tests/bench/masakari-iim.py).
    if [ "${HB_E2E_ALT_MASAKARI:-0}" = 1 ]; then
        if [ -x /usr/bin/masakari-introspectiveinstancemonitor ]; then
            mkdir -p "$mk"
            /usr/bin/python3 "$srcdir/tests/bench/masakari-iim.py" stub "$mk" 8>&- &
            bg_pids+=($!)
            wait_until 10 test -s "$mk/port" || fail "the masakari stub did not start" || return 1
            /usr/bin/python3 "$srcdir/tests/bench/masakari-iim.py" monitor "$mk" \
                ".*-alt-(wd|sd)[0-9]+/org\\.qemu\\.guest_agent\\.0" > "$mk/monitor.out" 2>&1 8>&- &
            bg_pids+=($!)
            for d in "${doms[@]}"; do echo "$d $($V domuuid "$d")"; done > "$mk/uuids"
        else
            log "masakari-monitors is not installed: no masakari column"
        fi
    fi
    # Up: the agent answers (wd, sd: not watched), or the daemon says ok. A
    # storm's guests panic 20 s after each boot: counted from their start.
    if [ "$fault" = storm ]; then
        t0=$(date +%s.%N)
        sleep 300
        for d in "${doms[@]}"; do
            echo "$d $(alt_kind "$d") storm resets=$(libvirt_resets "$d")" \
                 "boots=$(guest_boots "$d") attempts=$(count_events "$d" restart-attempt)" \
                 "episodes=$(count_events "$d" heartbeat-stopped) state=$(status_field "$d" state)"
        done | tee -a "$figs/alternatives-$fault.txt" | sed 's/^/# /'
        return 0
    fi
    end=$((SECONDS + 300))
    while [ $SECONDS -lt $end ]; do
        all_up=1
        for d in "${doms[@]}"; do
            case "$(alt_kind "$d")" in
                wd|sd) agent_pings "$d" || all_up= ;;
                *) state_is "$d" ok || all_up= ;;
            esac
            [ -n "$all_up" ] || break
        done
        [ -n "$all_up" ] && break
        sleep 2
    done
    [ -n "$all_up" ] || fail "not all ${#doms[@]} guests up after 300 s" || return 1
    sleep 5 # the watchdog daemons have petted at least once
    log "${#doms[@]} guests up; fault: $fault"

    case "$fault" in
        agent) cmd='sleep 1; kill -STOP $(cat /run/agent.pid)' ;;
        panic) cmd='sleep 1; echo c > /proc/sysrq-trigger' ;;
        userspace) cmd='sleep 1; kill -STOP -1' ;;
        freeze|hoststall) cmd= ;;
        *) fail "unknown fault $fault" || return 1 ;;
    esac
    if [ "$fault" = hoststall ]; then
        for d in "${doms[@]}"; do stopped_pids+=("$(qemu_pid "$d")"); done
        t=$(date +%s.%N)
        kill -STOP "${stopped_pids[@]}" || fail "cannot stop the QEMUs" || return 1
        for d in "${doms[@]}"; do t_fault[$d]=$t; done
        sleep 40
        kill -CONT "${stopped_pids[@]}"
        stopped_pids=()
    fi
    for d in "${doms[@]}"; do
        if [ "$fault" = hoststall ]; then
            break
        elif [ "$fault" = freeze ]; then
            freeze_pid=
            freeze_vcpu "$d" || return 1
            freeze_pids+=("$freeze_pid")
            t_fault[$d]=$(date +%s.%N)
        else
            agent_exec "$d" "$cmd" || fail "cannot make the fault in $d" || return 1
            t_fault[$d]=$(date +%s.%N | awk '{ printf "%.3f\n", $1 + 1 }')
        fi
    done
    # The default setting's bound is 67 s (60 + 6 + 1): twice that.
    window=135
    t=$(date +%s)
    while [ $(($(date +%s) - t)) -lt $window ]; do
        all_up=1
        for d in "${doms[@]}"; do
            [ "$(alt_detected "$d" "${t_fault[$d]}" | cut -d' ' -f1)" != - ] || { all_up=; break; }
        done
        [ -n "$all_up" ] && break
        sleep 3
    done
    sleep 20 # the resets of what caught it: does the guest boot again?
    for d in "${doms[@]}"; do
        echo "$d $(alt_kind "$d") $fault $(alt_detected "$d" "${t_fault[$d]}")" \
             "boots=$(guest_boots "$d") resets=$(libvirt_resets "$d")" \
             "attempts=$(count_events "$d" restart-attempt)" \
             "masakari=$(alt_masakari "$d" "${t_fault[$d]}")"
    done | tee -a "$figs/alternatives-$fault.txt" | sed 's/^/# /'
}

# hooks_dir with a before-restart hook that refuses: the hung guest's resets
# are vetoed, reported, counted (restarts-exhausted), and libvirt sees none.
# The notification hooks see the episode. Opt-in: CI time is full.
s_hook_veto() {
    local d=${prefix}hookveto
    _s_hook_veto
    local rc=$?
    rmdomain "$d"
    rm -rf "$work/hooks.d"
    restart_daemon || { fail "the suite's daemon did not come back"; return 1; }
    return $rc
}

_s_hook_veto() {
    local first
    mkdir -m 0755 "$work/hooks.d" || return 1
    cat > "$work/hooks.d/10-veto" <<EOF
#!/bin/sh
echo "\$1 \$2 \$VIRT_HEARTBEAT_ATTEMPT" >> "$work/hook-calls"
if [ "\$1" = before-restart ] && [ "\$2" = "$d" ]; then
    echo "vetoing \$2"
    exit 1
fi
exit 0
EOF
    chmod 0755 "$work/hooks.d/10-veto"
    restart_daemon "hooks_dir=$work/hooks.d" "hook_timeout=5" || fail "daemon with hooks" || return 1
    mkdomain "$d" yes "" \
        "time='6' rate='3' boot_grace='30' failure_interval='8' failure_attempts='2'" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    agent_exec "$d" 'sleep 1; kill -STOP $(cat /run/agent.pid)' || fail "cannot stop the agent" || return 1
    wait_until 30 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    wait_until 60 has_events "$d" restarts-exhausted 1 || fail "never exhausted" || return 1
    first=$(events_of "$d" restart-attempt | head -1)
    log "first attempt: $first"
    jq -e '.attempt == 1 and .action == "reset" and .result == "vetoed by hook 10-veto (exit 1)"' \
        <<<"$first" >/dev/null || fail "attempt: $first" || return 1
    [ "$(count_events "$d" restart-attempt)" = 2 ] ||
        fail "$(count_events "$d" restart-attempt) attempts, not 2" || return 1
    grep -q "Hook 10-veto (before-restart, domain '$d'): vetoing $d" "$work/daemon.log" ||
        fail "the hook's output is not in the daemon log" || return 1
    for call in "heartbeat-stopped $d" "before-restart $d 1" "restart-attempt $d 1" \
                "before-restart $d 2" "restarts-exhausted $d"; do
        grep -qx "$call *" "$work/hook-calls" || fail "no hook call '$call'" || return 1
    done
    [ "$(libvirt_reboots "$d")" = 0 ] || fail "libvirt saw $(libvirt_reboots "$d") reboots" || return 1
    [ "$(guest_boots "$d")" = 1 ] || fail "the guest booted $(guest_boots "$d") times" || return 1
}

# Opt-in: it installs a package on the host (and refuses to where one is
# already), and takes about 80 s, up to 2 min under load, most of it make
# deb (48 to 95 s measured). The package make deb builds is installed with
# apt-get. Its files are in place, the service is enabled, and
# --check-config passes from the package. The
# daemon starts with the installed unit's own ExecStartPre and ExecStart
# lines (PID 1 may not be systemd), on a system bus made from Debian's
# system.conf that reads the installed D-Bus policy: without that policy the
# daemon could not own its name. It watches a guest to ok, and the package
# is purged at the end (deb_teardown, also on failure), so what runs after
# uses the built tree again.
deb_pkg=virt-heartbeat
deb_unit=/lib/systemd/system/virt-heartbeatd.service
deb_statedir=/var/lib/virt-heartbeat
deb_installed=
deb_statedir_ours=
deb_bus_pid=
deb_daemon_pid=

deb_cli() { DBUS_SYSTEM_BUS_ADDRESS=$(cat "$work/deb-bus.addr") /usr/bin/virt-heartbeat "$@"; }

deb_state_is() { [ "$(deb_cli status "$1" --json 2>/dev/null | jq -r .state)" = "$2" ]; }

# SECTION KEY: the values of the unit's KEY= lines in [SECTION], one a line.
deb_unit_values() {
    awk -v section="[$1]" -v key="$2" '/^\[/ { in_section = ($0 == section) }
        in_section && index($0, key "=") == 1 { print substr($0, length(key) + 2) }' "$deb_unit"
}

# COMMAND-LINE: its words in deb_words, without systemd's prefixes (- @ : +
# !). Quotes, $ and % specifiers are systemd's, not bash's: refused, rather
# than run something other than what the unit runs.
deb_words=()
deb_split() {
    local line=$1
    case $line in
        *[\"\'\$%\\]*) fail "cannot take apart '$line': update s_deb"; return 1 ;;
    esac
    line=${line##[-@:+!]}
    line=${line##[-@:+!]}
    read -r -a deb_words <<<"$line"
    [ ${#deb_words[@]} -gt 0 ] || fail "an empty command line in the unit"
}

deb_teardown() {
    local st=0 f
    [ -n "$deb_daemon_pid" ] && kill -TERM "$deb_daemon_pid" 2>/dev/null &&
        { wait_until 15 gone "$deb_daemon_pid" || kill -KILL "$deb_daemon_pid"; }
    [ -n "$deb_daemon_pid" ] && wait "$deb_daemon_pid" 2>/dev/null
    deb_daemon_pid=
    [ -n "$deb_bus_pid" ] && kill "$deb_bus_pid" 2>/dev/null
    deb_bus_pid=
    if [ -n "$deb_installed" ]; then
        dpkg --purge "$deb_pkg" >> "$work/deb-install.log" 2>&1 || fail "dpkg --purge failed" || st=1
        while read -r f; do
            [ -d "$f" ] || [ ! -e "$f" ] || fail "$f is left after the purge" || st=1
        done < "$work/deb-files"
        [ ! -e /etc/systemd/system/multi-user.target.wants/virt-heartbeatd.service ] ||
            fail "the service is still enabled after the purge" || st=1
        deb_installed=
    fi
    # The daemon made it (systemd's StateDirectory= would have): it goes too.
    [ -z "$deb_statedir_ours" ] || rm -rf "$deb_statedir"
    deb_statedir_ours=
    return $st
}

s_deb() {
    s_deb_run
    local st=$?
    deb_teardown || st=1
    return $st
}

s_deb_run() {
    local d=${prefix}deb deb t f pre wanted
    # This host's own installation is not ours to replace or remove.
    ! dpkg-query -W -f='${Status}' "$deb_pkg" 2>/dev/null | grep -q "ok installed" ||
        fail "$deb_pkg is installed on this host already: not replacing it" || return 1
    for f in /usr/sbin/virt-heartbeatd /etc/virt-heartbeat "$deb_unit"; do
        [ ! -e "$f" ] || fail "$f exists already: not overwriting it" || return 1
    done
    [ -e "$deb_statedir" ] || deb_statedir_ours=1

    t=$SECONDS
    make -C "$builddir" deb > "$work/deb-build.log" 2>&1 ||
        { tail -n 30 "$work/deb-build.log" | sed 's/^/#   /'; fail "make deb"; return 1; }
    log "make deb (dpkg-buildpackage, lintian clean): $((SECONDS - t)) s"
    deb=$(ls "$builddir"/build-deb/${deb_pkg}_*.deb) || fail "no .deb in build-deb/" || return 1
    t=$SECONDS
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 "$deb" \
        > "$work/deb-install.log" 2>&1 || fail "apt-get install $deb" || return 1
    deb_installed=1
    log "apt-get install: $((SECONDS - t)) s"
    dpkg -L "$deb_pkg" > "$work/deb-files"

    # Each file in place, and the package's (dpkg -L).
    for f in /usr/sbin/virt-heartbeatd /usr/bin/virt-heartbeat "$deb_unit" \
             /usr/share/dbus-1/system.d/org.virt_heartbeat.Heartbeat1.conf \
             /usr/share/dbus-1/interfaces/org.virt_heartbeat.Heartbeat1.xml \
             /etc/virt-heartbeat/virt-heartbeatd.conf \
             /usr/share/man/man8/virt-heartbeatd.8.gz /usr/share/man/man1/virt-heartbeat.1.gz \
             /usr/share/man/man5/virt-heartbeatd.conf.5.gz \
             /usr/share/man/man5/virt-heartbeat-metadata.5.gz \
             /usr/share/virt-heartbeat/virt-heartbeat.rng \
             /usr/share/virt-heartbeat/examples/defaults.xml \
             /usr/share/doc/virt-heartbeat/copyright; do
        [ -s "$f" ] || fail "no $f" || return 1
        grep -qx "$f" "$work/deb-files" || fail "$f is not the package's" || return 1
    done
    for f in /usr/share/man/man*/virt-heartbeat*.gz; do
        # Whole, then read: grep -q on a pipe ends zcat with SIGPIPE (pipefail)
        # once a page is larger than the pipe's buffer.
        zcat "$f" > "$work/deb-page" || fail "cannot read $f" || return 1
        grep -q '^\.TH ' "$work/deb-page" || fail "$f is no man page" || return 1
    done
    xmllint --noout --relaxng /usr/share/virt-heartbeat/virt-heartbeat.rng \
        /usr/share/virt-heartbeat/examples/*.xml 2>/dev/null ||
        fail "the installed examples do not validate against the installed schema" || return 1
    grep -qx /etc/virt-heartbeat/virt-heartbeatd.conf /var/lib/dpkg/info/$deb_pkg.conffiles ||
        fail "the daemon configuration is no conffile" || return 1
    # Enabled as systemd would be, by the package's postinst (no systemd needed).
    wanted=$(deb_unit_values Install WantedBy)
    [ -n "$wanted" ] || fail "the unit has no WantedBy=" || return 1
    for t in $wanted; do
        [ "$(readlink "/etc/systemd/system/$t.wants/virt-heartbeatd.service")" = "$deb_unit" ] ||
            fail "not enabled: no /etc/systemd/system/$t.wants/virt-heartbeatd.service" || return 1
    done

    [ "$(/usr/sbin/virt-heartbeatd --check-config 2>&1)" = "configuration OK" ] ||
        fail "virt-heartbeatd --check-config: $(/usr/sbin/virt-heartbeatd --check-config 2>&1)" ||
        return 1

    # A system bus as Debian's, at a path of ours: the same includedirs (the
    # relative one made absolute, as the copy is elsewhere), so it reads the
    # policy the package installed. It runs as root here.
    cp /usr/share/dbus-1/system.conf "$work/deb-system.conf"
    sed -i -e "s|<listen>unix:path=/run/dbus/system_bus_socket</listen>|<listen>unix:path=$work/deb-bus</listen>|" \
        -e "s|<pidfile>/run/dbus/pid</pidfile>|<pidfile>$work/deb-bus.pidfile</pidfile>|" \
        -e "s|<user>messagebus</user>||" \
        -e "s|<includedir>system.d</includedir>|<includedir>/usr/share/dbus-1/system.d</includedir>|" \
        "$work/deb-system.conf"
    grep -q "unix:path=$work/deb-bus<" "$work/deb-system.conf" &&
        grep -q "<includedir>/usr/share/dbus-1/system.d<" "$work/deb-system.conf" ||
        fail "cannot adapt $work/deb-system.conf" || return 1
    grep -qF '<deny own="*"/>' "$work/deb-system.conf" ||
        fail "Debian's system.conf no longer denies owning names by default" || return 1
    dbus-daemon --config-file="$work/deb-system.conf" --fork --print-address=3 --print-pid=4 \
        3>"$work/deb-bus.addr" 4>"$work/deb-bus.pid" 8>&- || fail "no system bus" || return 1
    deb_bus_pid=$(cat "$work/deb-bus.pid")

    # The unit's environment, its ExecStartPre and ExecStart lines, as
    # systemd runs them: a failing ExecStartPre stops the start, unless "-".
    local env=(DBUS_SYSTEM_BUS_ADDRESS="$(cat "$work/deb-bus.addr")")
    [ -z "$(deb_unit_values Service EnvironmentFile)" ] ||
        fail "the unit has an EnvironmentFile=: update s_deb" || return 1
    for f in $(deb_unit_values Service Environment); do
        env+=("$f")
    done
    while read -r pre; do
        deb_split "$pre" || return 1
        log "ExecStartPre: ${deb_words[*]}"
        env "${env[@]}" "${deb_words[@]}" >> "$work/deb-daemon.log" 2>&1 ||
            [ "${pre:0:1}" = - ] || fail "ExecStartPre=$pre failed" || return 1
    done < <(deb_unit_values Service ExecStartPre)
    [ "$(deb_unit_values Service ExecStart | wc -l)" = 1 ] ||
        fail "not one ExecStart= in the unit" || return 1
    deb_split "$(deb_unit_values Service ExecStart)" || return 1
    [ "${deb_words[0]}" = /usr/sbin/virt-heartbeatd ] ||
        fail "the unit starts ${deb_words[0]}, not the package's /usr/sbin/virt-heartbeatd" ||
        return 1
    log "ExecStart: ${deb_words[*]}"
    env "${env[@]}" G_DEBUG=fatal-criticals "${deb_words[@]}" >> "$work/deb-daemon.log" 2>&1 &
    deb_daemon_pid=$!
    wait_until 20 deb_cli list || fail "the packaged daemon does not answer on its bus" || return 1
    [ "$(readlink "/proc/$deb_daemon_pid/exe")" = /usr/sbin/virt-heartbeatd ] ||
        fail "the daemon that answers is not the package's" || return 1

    mkdomain "$d" || return 1
    wait_until 60 deb_state_is "$d" ok ||
        fail "state $(deb_cli status "$d" --json 2>/dev/null | jq -r .state), not ok" || return 1
    log "the packaged daemon: $d ok $(deb_cli percentage "$d") %"
    rmdomain "$d"
}

# diagnostics= before the reset of a hung guest: four guests with a VGA
# device and no pvpanic, each panicked from inside (panic=0: the kernel
# spins, the domain runs on), one per kind, none the baseline. Each gets its file, named in
# RestartAttempt and the log, checked by its format (PNG or PPM; the
# kdump-compressed header "KDUMP   " in makedumpfile's flattened format;
# the console's panic), then the reset.
# The decision->reset latency of each kind goes to figures/diag-latency
# (make bench-diag, BENCHMARKS.md).
s_diagnostics() {
    local kinds=(none screenshot console dump)
    _s_diagnostics
    local rc=$? k
    for k in "${kinds[@]}"; do rmdomain "${prefix}diag-$k"; done
    restart_daemon || { fail "the suite's daemon did not come back"; return 1; }
    return $rc
}

# FILE MAGIC: FILE starts with MAGIC (bytes, as printf takes them).
file_starts() {
    [ "$(head -c "$(printf "$2" | wc -c)" "$1" | od -An -c)" = "$(printf "$2" | od -An -c)" ]
}

_s_diagnostics() {
    local k d ev result path ms d_uuid d_timed_out
    local attrs="time='6' rate='3' boot_grace='30' failure_interval='15' failure_attempts='3'"
    # Four guests stopped at once would trip the host-wide breaker (host_min=4).
    restart_daemon "host_min=100" || fail "daemon with host_min=100" || return 1
    for k in "${kinds[@]}"; do
        MK_MEMORY=96 MK_DEVICES="<video><model type='vga'/></video>" \
            mkdomain "${prefix}diag-$k" yes "" "$attrs diagnostics='$k'" destroy no || return 1
    done
    for k in "${kinds[@]}"; do
        wait_until 60 state_is "${prefix}diag-$k" ok || fail "$k: never ok" || return 1
    done
    for k in "${kinds[@]}"; do
        agent_exec "${prefix}diag-$k" 'sleep 1; echo c > /proc/sysrq-trigger' ||
            fail "$k: cannot panic the guest" || return 1
    done
    for k in "${kinds[@]}"; do
        d=${prefix}diag-$k
        d_timed_out=
        wait_until 120 has_events "$d" restart-attempt 1 || fail "$k: no restart attempt" || return 1
        ev=$(events_of "$d" restart-attempt | head -1)
        d_uuid=$(jq -r .uuid <<<"$ev")
        log "$k: $ev"
        result=$(jq -r .result <<<"$ev")
        jq -e '.attempt == 1 and .action == "reset"' <<<"$ev" >/dev/null || fail "$k: $ev" || return 1
        ms=$(restart_delays "$d" | awk '$2 == 1 { print $3; exit }')
        log "$k: decision -> reset $ms ms"
        echo "$k $ms" >> "$work/figures/diag-latency"
        # The baseline: no diagnostic, no directory, the result as ever.
        if [ "$k" = none ]; then
            [ "$result" = ok ] || fail "none: result $result" || return 1
            [ ! -e "$work/state/diagnostics/$d_uuid" ] ||
                fail "none: a diagnostics directory" || return 1
            continue
        fi
        path=${result#ok; $k: }
        # On a loaded host a dump may pass its 20 s bound: the reset is
        # made all the same, and the log names the file once it ends.
        if [ "$k" = dump ] && [ "$result" = "ok; dump failed: timed out after 20 s" ]; then
            log "dump: past its bound; the reset was made"
            wait_until 60 grep -q "Domain $d_uuid: the dump given up at its bound ended: " \
                "$work/daemon.log" || fail "dump: its end never logged" || return 1
            path=$(sed -n "s/.*Domain $d_uuid: the dump given up at its bound ended: //p" \
                   "$work/daemon.log" | head -n1)
            d_timed_out=1
        fi
        [ "$path" != "$result" ] || fail "$k: the result names no file: $result" || return 1
        case "$path" in
            "$work/state/diagnostics/"*/*) ;;
            *) fail "$k: not under state_dir/diagnostics: $path" || return 1 ;;
        esac
        [ -f "$path" ] || fail "$k: no file $path" || return 1
        [ "$(stat -c %a "$path")" = 600 ] || fail "$k: mode $(stat -c %a "$path")" || return 1
        log "$k: $(stat -c %s "$path") bytes in $path"
        case $k in
            screenshot)
                file_starts "$path" '\211PNG' || file_starts "$path" 'P6' ||
                    fail "screenshot: neither PNG nor PPM: $(head -c 8 "$path" | od -An -c)" || return 1 ;;
            console)
                grep -q "sysrq" "$path" || fail "console: no sysrq panic in $path" || return 1 ;;
            dump)
                # QEMU writes makedumpfile's flattened format: its 4 KiB
                # header, then blocks of (offset, size, data); the first, at
                # offset 0, is the kdump-compressed header itself.
                file_starts "$path" 'makedumpfile\0' ||
                    fail "dump: not flattened: $(head -c 16 "$path" | od -An -c)" || return 1
                [ "$(tail -c +4097 "$path" | head -c 8 | od -An -tx1 | tr -d ' \n')" = 0000000000000000 ] ||
                    fail "dump: the first block is not at offset 0" || return 1
                [ "$(tail -c +4113 "$path" | head -c 8)" = 'KDUMP   ' ] ||
                    fail "dump: no kdump header: $(tail -c +4113 "$path" | head -c 8 | od -An -c)" || return 1 ;;
        esac
        grep -qF "Domain '$d': restart attempt 1: reset (called" "$work/daemon.log" ||
            fail "$k: no reset in the daemon log" || return 1
        [ -n "$d_timed_out" ] ||
            grep -F "Domain '$d': restart attempt 1: reset (called" "$work/daemon.log" |
            grep -qF "; $k: $path" || fail "$k: the log names no file" || return 1
    done
    for k in "${kinds[@]}"; do
        d=${prefix}diag-$k
        wait_until 90 has_events "$d" heartbeat-resumed 1 || fail "$k: never resumed" || return 1
        [ "$(libvirt_resets "$d")" -ge 1 ] || fail "$k: libvirt saw no reset" || return 1
        has_boots "$d" 2 || fail "$k: the guest booted $(guest_boots "$d") times" || return 1
    done
}

# A dump past its 20 s bound: a guest of 1536 MiB with 800 MiB of random
# data in a tmpfs (untouched memory dumps fast; random data must be
# compressed and written), panicked. libvirt cannot abort the dump: the
# attempt reports the timeout and the reset waits for the dump's job (the
# guest paused by our dump counts as running), up to libvirt's 30 s; past
# that it is not made, and the next try resets with no second dump. The
# log names the file once the dump ends.
s_diagnostics_bound() {
    local d=${prefix}diag-bound
    _s_diagnostics_bound
    local rc=$?
    rmdomain "$d"
    return $rc
}

_s_diagnostics_bound() {
    local ev path uuid
    MK_MEMORY=1536 mkdomain "$d" yes "" \
        "time='6' rate='3' boot_grace='60' failure_interval='15' failure_attempts='3' diagnostics='dump'" \
        destroy no || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    agent_exec "$d" 'mkdir -p /mnt/fill && mount -t tmpfs -o size=1000m tmpfs /mnt/fill &&
        dd if=/dev/urandom of=/mnt/fill/x bs=1M count=800 2>/dev/null && echo filled > /dev/ttyS0 &&
        sleep 1 && echo c > /proc/sysrq-trigger' || fail "cannot fill and panic the guest" || return 1
    wait_until 240 has_events "$d" restart-attempt 1 || fail "no restart attempt" || return 1
    ev=$(events_of "$d" restart-attempt | head -1)
    log "attempt: $ev"
    uuid=$(jq -r .uuid <<<"$ev")
    jq -e '.attempt == 1 and .action == "reset"' <<<"$ev" >/dev/null || fail "attempt: $ev" || return 1
    case $(jq -r .result <<<"$ev") in
        "ok; dump failed: timed out after 20 s") log "reset after the dump's job ended" ;;
        ok) grep -q "Domain '$d': restart attempt 1 not made, it does not count: .*; dump failed: timed out after 20 s" \
                "$work/daemon.log" || fail "ok, without a try not made before it" || return 1
            log "the reset waited longer than libvirt's job wait: not made, then made with no dump" ;;
        *) fail "attempt: $ev" || return 1 ;;
    esac
    grep -q "Domain $uuid: cannot abort the dump: .*memory-only" "$work/daemon.log" ||
        log "libvirt aborted the dump, or said so otherwise"
    wait_until 60 grep -q "Domain $uuid: the dump given up at its bound ended: " "$work/daemon.log" ||
        fail "the dump's end never logged" || return 1
    path=$(sed -n "s/.*Domain $uuid: the dump given up at its bound ended: //p" "$work/daemon.log" | head -n1)
    log "dump: $path, $(stat -c %s "$path" 2>/dev/null) bytes"
    [ "$(tail -c +4113 "$path" | head -c 8)" = 'KDUMP   ' ] || fail "no kdump header in $path" || return 1
    log "decision -> reset $(restart_delays "$d" | awk '$2 == 1 { print $3; exit }') ms"
    wait_until 90 has_events "$d" heartbeat-resumed 1 || fail "never resumed" || return 1
    [ "$(ls "$work/state/diagnostics/$uuid" | wc -l)" = 1 ] ||
        fail "files: $(ls "$work/state/diagnostics/$uuid")" || return 1
}

# ---- s_cluster: a one-node Pacemaker cluster -----------------------------
# The guest is a VirtualDomain resource (transient: the agent creates it
# from its config file). Its fault lives on a <transient/> disk: the
# guest-init of each boot stops qemu-ga at once when the disk says "hang"
# (hb.fault_disk=1). A reset keeps the disk, so the daemon's attempt in
# place cannot help; the cluster's stop and start (a new QEMU, a fresh
# overlay) does.

cluster_rsc=hbe2e-vm

cluster_teardown() {
    [ ${#cluster_pids[@]} -gt 0 ] || return 0
    cibadmin --delete -o resources --xml-text "<primitive id=\"$cluster_rsc\"/>" >/dev/null 2>&1
    bash "$srcdir/tests/e2e/cluster-down.sh" "${cluster_pids[@]}" 8>&- 2>&1 | sed 's/^/#   /'
    cluster_pids=()
}

rsc_role_is() { # ROLE: what crm_mon says of the resource
    crm_mon -1 --output-as=xml 2>/dev/null |
        grep -q "<resource id=\"$cluster_rsc\" [^>]*role=\"$1\""
}

libvirt_mark() { echo $(($(wc -l < "$work/libvirt-events.log") + 1)); }

libvirt_since() { # LINE DOMAIN TEXT: libvirt's lifecycle events of that kind since LINE
    tail -n "+$1" "$work/libvirt-events.log" | grep -c "for domain '$2': $3"
}

has_libvirt_since() { [ "$(libvirt_since "$1" "$2" "$3")" -ge "$4" ]; } # LINE DOMAIN TEXT N

crm_failure_shown() {
    crm_mon -1 --output-as=xml 2>/dev/null | grep -q "<failure op_key=\"${cluster_rsc}_"
}

s_cluster() {
    s_cluster_run
    local st=$?
    cluster_teardown
    # The suite's own daemon again, without the cluster.
    restart_daemon || st=1
    return $st
}

s_cluster_run() {
    local d=${prefix}cl uuid cfg mon=$work/cluster-monitor.sh mark lmark ev
    cfg=$work/$d-config.xml
    command -v crm_resource >/dev/null ||
        fail "crm_resource missing: apt-get install pacemaker-cli-utils" || return 1
    mapfile -t cluster_pids < <(bash "$srcdir/tests/e2e/cluster-up.sh" 8>&-)
    crm_mon -1 >/dev/null 2>&1 || fail "the cluster did not come up" || return 1
    # The daemon with the host's Pacemaker tools.
    restart_daemon "cluster_tools=/usr/sbin" || return 1

    uuid=$(cat /proc/sys/kernel/random/uuid)
    truncate -s 1M "$work/$d-fault.img"
    cat > "$cfg" <<EOF
<domain type='$domtype'>
  <name>$d</name>
  <uuid>$uuid</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <metadata><hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' time='6' rate='3' boot_grace='20' failure_interval='10' failure_attempts='1' escalate='cluster'/></metadata>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest/vmlinuz</kernel>
    <initrd>$guest/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=0 hb.fault_disk=1</cmdline>
  </os>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='$work/$d-console.log' append='on'/><target port='0'/></serial>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$work/$d-fault.img'/><target dev='vda' bus='virtio'/><transient/></disk>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    # The monitor script, as contrib/pacemaker/virt-heartbeat-monitor with
    # this build's CLI and the suite's bus.
    printf '#!/bin/sh\nDBUS_SYSTEM_BUS_ADDRESS=%q exec %q is-heartbeating --cluster\n' \
        "$DBUS_SYSTEM_BUS_ADDRESS" "$cli" > "$mon"
    chmod 755 "$mon"
    cibadmin --create -o resources --xml-text "
<primitive id=\"$cluster_rsc\" class=\"ocf\" provider=\"heartbeat\" type=\"VirtualDomain\">
  <instance_attributes id=\"$cluster_rsc-ia\">
    <nvpair id=\"$cluster_rsc-config\" name=\"config\" value=\"$cfg\"/>
    <nvpair id=\"$cluster_rsc-hv\" name=\"hypervisor\" value=\"qemu:///system\"/>
    <nvpair id=\"$cluster_rsc-fs\" name=\"force_stop\" value=\"true\"/>
    <nvpair id=\"$cluster_rsc-ms\" name=\"monitor_scripts\" value=\"$mon\"/>
  </instance_attributes>
  <operations>
    <op id=\"$cluster_rsc-monitor\" name=\"monitor\" interval=\"5s\" timeout=\"30s\"/>
    <op id=\"$cluster_rsc-start\" name=\"start\" interval=\"0s\" timeout=\"60s\"/>
    <op id=\"$cluster_rsc-stop\" name=\"stop\" interval=\"0s\" timeout=\"60s\"/>
  </operations>
</primitive>" >/dev/null || fail "cannot create the resource" || return 1
    wait_until 60 rsc_role_is Started || fail "the resource never started" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok: $(status_field "$d" state)" || return 1
    log "resource $cluster_rsc started, the daemon sees $d heartbeating"

    # The cluster stops and starts it, by a stop and by a move with
    # nowhere to go: the daemon takes no action.
    mark=$(log_mark)
    lmark=$(libvirt_mark)
    crm_resource --resource "$cluster_rsc" --meta --set-parameter target-role \
        --parameter-value Stopped >/dev/null || fail "cannot stop the resource" || return 1
    wait_until 60 rsc_role_is Stopped || fail "the resource never stopped" || return 1
    wait_until 30 has_libvirt_since "$lmark" "$d" Stopped 1 || fail "libvirt saw no stop" ||
        return 1
    crm_resource --resource "$cluster_rsc" --meta --delete-parameter target-role >/dev/null ||
        fail "cannot start the resource" || return 1
    wait_until 60 state_is "$d" ok || fail "not ok after the cluster's start" || return 1
    crm_resource --move --resource "$cluster_rsc" >/dev/null 2>&1 ||
        fail "crm_resource --move failed" || return 1
    wait_until 60 rsc_role_is Stopped || fail "the move stopped nothing" || return 1
    wait_until 30 has_libvirt_since "$lmark" "$d" Stopped 2 || fail "libvirt saw no second stop" ||
        return 1
    crm_resource --clear --resource "$cluster_rsc" >/dev/null 2>&1 ||
        fail "crm_resource --clear failed" || return 1
    wait_until 60 state_is "$d" ok || fail "not ok after --clear" || return 1
    [ "$(libvirt_since "$lmark" "$d" Started)" = 2 ] ||
        fail "$(libvirt_since "$lmark" "$d" Started) starts, not the cluster's 2" || return 1
    ! log_has_since "$mark" "Domain '$d': restart attempt" ||
        fail "the daemon acted on the cluster's stop or start" || return 1
    [ "$(count_events "$d" heartbeat-stopped)" = 0 ] ||
        fail "a heartbeat-stopped on the cluster's stop" || return 1
    log "stop, start, move and clear by the cluster: no daemon action"

    # The agent hangs, and a reset does not help: one attempt in place, then
    # the failure goes to the cluster, which stops and starts the guest.
    mark=$(log_mark)
    lmark=$(libvirt_mark)
    agent_exec "$d" 'echo hang > /dev/vda; sync; sleep 1; kill -STOP $(cat /run/agent.pid)' ||
        fail "cannot hang the agent" || return 1
    wait_until 60 has_events "$d" restart-attempt 1 || fail "no attempt in place" || return 1
    events_of "$d" restart-attempt | head -1 | jq -e '.action == "reset" and .result == "ok"' \
        >/dev/null || fail "attempt: $(events_of "$d" restart-attempt | head -1)" || return 1
    wait_until 90 has_events "$d" escalated 1 || fail "never escalated" || return 1
    ev=$(events_of "$d" escalated | head -1)
    log "escalated: $ev"
    jq -e --arg r "$cluster_rsc" '.resource == $r and .result == "ok"' <<<"$ev" >/dev/null ||
        fail "escalation: $ev" || return 1
    # crm_mon shows the failure the daemon reported...
    wait_until 30 crm_failure_shown || fail "crm_mon shows no failure" || return 1
    # ...and the cluster recovers the guest: a new QEMU, a fresh disk, a heartbeat.
    wait_until 30 has_libvirt_since "$lmark" "$d" Started 1 || fail "the cluster started nothing" ||
        return 1
    wait_until 90 state_is "$d" ok || fail "not recovered: $(status_field "$d" state)" ||
        return 1
    log "recovered by the cluster: $(crm_mon -1 | grep -E "$cluster_rsc|Failed" | tr -s ' ' | tr '\n' ';')"
    sleep 6
    # One start, the cluster's: the daemon neither started it nor acted again.
    [ "$(libvirt_since "$lmark" "$d" Started)" = 1 ] ||
        fail "$(libvirt_since "$lmark" "$d" Started) starts after the hang, not 1" || return 1
    [ "$(count_events "$d" restart-attempt)" = 1 ] ||
        fail "$(count_events "$d" restart-attempt) attempts, not 1" || return 1
    [ "$(count_events "$d" escalated)" = 1 ] ||
        fail "$(count_events "$d" escalated) escalations, not 1" || return 1
    "$cli" is-heartbeating --cluster "$d" >/dev/null ||
        fail "the monitor script fails after the recovery" || return 1
}

# HB_E2E_ONLY="s_exec s_info": run only these scenarios (while working on them).
run() {
    local desc=$1; shift
    if [ -n "${HB_E2E_ONLY:-}" ] && [[ " $HB_E2E_ONLY " != *" $1 "* ]]; then
        n=$((n + 1))
        echo "ok $n - $desc # SKIP not in HB_E2E_ONLY"
        return
    fi
    log "$desc"
    local start=$SECONDS
    "$@"
    local status=$?
    log "took $((SECONDS - start)) s"
    # A scenario that failed half-way leaves its guests running, and the
    # daemon acting on them: they would load the host and the logs of every
    # scenario after it. Its domains go, whatever happened.
    local d
    for d in $($V list --all --name 2>/dev/null | grep "^$prefix"); do
        log "removing $d, left by this scenario"
        rmdomain "$d"
    done
    finish_scenario $status "$desc"
}

run_optin() { # only when HB_E2E_ONLY names it; not in the suite's plan otherwise
    [[ " ${HB_E2E_ONLY:-} " == *" $2 "* ]] && run "$@"
    return 0
}

run "healthy guest: ok, 100 %, heartbeating" s_healthy
run "agent killed: one episode, reset, resumed" s_agent_killed
run "agent hung: reset and resumed, the neighbour keeps every tick" s_agent_hung
run "agent never answers: failure_attempts resets, exhausted, rearm" s_never_answers
run "kernel panic with pvpanic: per on_crash, heartbeat back" s_panic
run "QEMU killed: the domain is started again" s_qemu_killed
run "suspend longer than a block: no action, no missed ticks" s_suspend
run "destroy and shutdown: no action" s_user_stop
run "no agent channel: no-agent, never reset" s_no_agent
run "live metadata: new time applies, enabled=no stops" s_live_metadata
run "libvirtd restarted: reconnect, resync, crashed domain started, attempts kept" s_libvirtd_restart
run "libvirtd frozen 25 s: no verdict, no episode, no action" s_libvirtd_frozen
run "storm cap: at most max_episodes episodes" s_storm_cap
run "guest info: AdditionsVersion, OSName, CanShutdown from the agent" s_info
run "ExecuteCommand: output, exit status, timeout" s_exec
run "hostile OS name: valid, cut at 256 bytes, escaped by the CLI" s_hostile_os
run "hostile agent: lone surrogates, NUL, escapes: valid on D-Bus, escaped by the CLI" s_hostile_agent
run "Shutdown through the agent: stops, no restart" s_guest_shutdown
run "host time sync: corrects a wrong guest clock, also after resume" s_time_sync
run "InstallAdditions: channel hot-plugged or at next boot, heartbeat appears; unplug and plug noticed" s_install_agent
run "SetParameter: validated, applied live" s_set_parameter
run "maintenance window: hung agent not reset; resume, boot grace, then the reset" s_maintenance
run "exec load: more long requests than request workers, no tick lost, Busy past 4" s_exec_load
run "on_crash=restart: libvirt restarts the panicked guest, the daemon does not" s_on_crash_restart
run "slow boot: after a reset, no second one while the guest boots" s_slow_boot
run "start fails after our destroy: the next attempt starts it (restart, on_reboot=destroy)" s_start_fails
run "action=observe: would reset, reported; libvirt sees no reset" s_observe
run "[daemon] dry_run: would destroy+start, reported; libvirt sees no destroy" s_dry_run
run "action=ladder, vCPU frozen: nmi, reset, destroy+start, back" s_ladder
run "daemon SIGKILL mid-episode: attempts go on 3, 4, never more than failure_attempts" s_daemon_sigkill
run "mass hang: every hung agent restarted once, the healthy keep every tick" s_mass_hang
run "host stall: 4 of 5 QEMUs stopped trip the breaker, no reset while held; host_hold ends it" s_host_stall
run_optin "crash loop: on_crash=destroy, exactly one start per crash" s_crash_loop
run "backup job with the agent stopped: suppressed, shown, no action" s_backup_job
run "memory dump longer than two blocks: paused, no action" s_dump_job
run "fsfreeze of a disk held two blocks: no action, ticks go on" s_fsfreeze
run "agent dead, guest writing, confirm=activity: notified, no reset until it idles" s_verdict_activity
run "agent dead, guest writing, confirm=none: reset, verdict agent dead" s_verdict_none
run "a QEMU stopped beside: the neighbour's verdict still from fresh readings, no reset" s_verdict_stuck_neighbour
run "kdump under way (CRASHLOADED from the guest's pvpanic): suppressed two blocks, no action" s_kdump
run "watchdog fired: nothing while it ticks; agent dead, guest writing: guest hung, reset" s_watchdog
run_optin "bulk stats with one QEMU stopped: NOWAIT against plain (bench)" s_stats_nowait
run_optin "guests at the machine's limit: the daemon's and libvirtd's cost (bench)" s_guests
run_optin "side by side with the alternatives: one fault, each watcher (bench)" s_alternatives
run "a real Prometheus scrapes /metrics: agent stopped, heartbeating 0, restart counted" s_prometheus
run_optin "before-restart hook vetoes a hung guest's resets: reported, counted, no reset" s_hook_veto
run "SIGHUP mid-episode: dry_run applies to the next attempt, episode and counters kept" s_reload
run "the Debian package: built, installed, its unit's daemon watches a guest, purged" s_deb
run "diagnostics before a hung guest's reset: screenshot, console tail, kdump core, then the reset" s_diagnostics
run "Pacemaker: no action on the cluster's stop, start or move; a hung guest escalated, recovered by the cluster" s_cluster
run_optin "a dump past its bound: timeout reported, the reset made after it, no second dump" s_diagnostics_bound
run "daemon SIGTERM: exits 0 at once, the events listener ends" s_sigterm

echo "# e2e: $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
