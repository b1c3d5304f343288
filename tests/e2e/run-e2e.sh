#!/bin/bash
# The end-to-end suite: virt-heartbeatd against a real libvirtd, real QEMU
# guests (Debian's cloud kernel plus an initramfs running the real qemu-ga)
# and a private D-Bus bus. Run as root: make check-e2e.
#
# Each scenario checks the daemon through the CLI (--json) and its D-Bus
# signals (virt-heartbeat --json events), and libvirt's own view (virsh
# domstate --reason, virsh event) independently. Guests run under TCG unless
# HB_E2E_KVM=1. Output is TAP. On failure every log is kept and shown.
# HB_E2E_ONLY="s_exec s_info" runs only the scenarios named.
set -uo pipefail

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

# time=6 s blocks, a ping every 2 s; boot under TCG takes about 4 s.
FAST="time='6' rate='3' boot_grace='30' failure_interval='15' failure_attempts='3'"

passed=0
failed=0
n=0
started_pids=()
bg_pids=()
dbus_pid=

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
    local limit=$1; shift
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

agent_exec() { # DOMAIN SHELL-COMMAND: run in the guest through its own agent
    local cmd
    cmd=$(jq -cn --arg c "$2" '{execute: "guest-exec", arguments: {path: "/bin/sh", arg: ["-c", $c]}}')
    $V qemu-agent-command "$1" "$cmd" >/dev/null
}

agent_pings() { $V qemu-agent-command "$1" '{"execute":"guest-ping"}' --timeout 2 >/dev/null 2>&1; }

# mkdomain NAME [AGENT=yes|no|controller] [CMDLINE] [HB-ATTRS] [ON_CRASH] [PANIC=yes]
# AGENT=controller: no agent channel, but a virtio-serial controller to add one to.
mkdomain() {
    local name=$1 agent=${2:-yes} cmdline=${3:-} attrs=${4-$FAST} on_crash=${5:-destroy} panic=${6:-yes}
    local channel="" metadata="" panicdev=""
    [ "$agent" = yes ] && channel="<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    [ "$agent" = controller ] && channel="<controller type='virtio-serial'/>"
    [ -n "$attrs" ] && metadata="<metadata><hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' $attrs/></metadata>"
    [ "$panic" = yes ] && panicdev="<panic model='isa'/>"
    cat > "$work/$name.xml" <<EOF
<domain type='$domtype'>
  <name>$name</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  $metadata
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest/vmlinuz</kernel>
    <initrd>$guest/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=0 $cmdline</cmdline>
  </os>
  <features><acpi/></features>
  <on_crash>$on_crash</on_crash>
  <devices>
    <serial type='file'><source path='$work/$name-console.log' append='on'/><target port='0'/></serial>
    $channel
    $panicdev
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

qemu_pid() { cat "/var/run/libvirt/qemu/$1.pid"; }

start_daemon() {
    "$daemon" -f "$work/virt-heartbeatd.conf" -v >> "$work/daemon.log" 2>&1 &
    daemon_pid=$!
    wait_until 20 "$cli" list
}

start_event_log() {
    $V event --all --loop --timestamp >> "$work/libvirt-events.log" 2>&1 &
    bg_pids+=($!)
}

# ---- setup and teardown --------------------------------------------------

cleanup() {
    local status=$?
    for d in $($V list --all --name 2>/dev/null | grep "^$prefix"); do
        rmdomain "$d"
    done
    [ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; done
    [ -n "$dbus_pid" ] && kill "$dbus_pid" 2>/dev/null
    # libvirtd and virtlogd, if this suite started them
    for p in "${started_pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "$failed" -gt 0 ] || [ "$status" != 0 ]; then
        echo "# logs kept in $work"
        for f in "$work"/daemon.log "$work"/events.jsonl "$work"/libvirt-events.log \
                 "$work"/*-console.log /var/log/libvirt/libvirtd.log; do
            [ -f "$f" ] || continue
            echo "# ---- $f (last 60 lines)"
            tail -n 60 "$f" | sed 's/^/#   /'
        done
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
mapfile -t started_pids < <(bash "$srcdir/tests/e2e/libvirtd-up.sh") || exit 1

dbus-daemon --session --fork --print-address=3 --print-pid=4 3>"$work/bus.addr" 4>"$work/bus.pid"
dbus_pid=$(cat "$work/bus.pid")
DBUS_SYSTEM_BUS_ADDRESS=$(cat "$work/bus.addr")
export DBUS_SYSTEM_BUS_ADDRESS

cat > "$work/virt-heartbeatd.conf" <<EOF
[daemon]
uri=qemu:///system
workers=8
state_dir=$work/state
EOF
start_daemon || { echo "Bail out! virt-heartbeatd did not come up"; exit 1; }
"$cli" --json events > "$work/events.jsonl" 2>>"$work/daemon.log" &
bg_pids+=($!)
start_event_log

echo "1..18"

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
    agent_exec "$d" 'kill -9 $(cat /run/agent.pid)' || fail "cannot kill the agent" || return 1
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
    agent_exec "$d" 'kill -STOP $(cat /run/agent.pid)' || fail "cannot stop the agent" || return 1
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
    wait_until 10 test "$(status_field "$d" config.time)" = 12 || fail "time did not change" || return 1
    t_kill=$(date +%s)
    agent_exec "$d" 'kill -9 $(cat /run/agent.pid)' || return 1
    wait_until 40 has_events "$d" heartbeat-stopped 1 || fail "no heartbeat-stopped" || return 1
    t_stop=$(events_of "$d" heartbeat-stopped | jq -r '.time | fromdateiso8601')
    [ $((t_stop - t_kill)) -ge 10 ] || fail "stopped after $((t_stop - t_kill)) s: the old 6 s block applied" || return 1
    # through the CLI: enabled=no stops monitoring
    "$cli" config "$d" --enabled no --live >/dev/null || fail "config --enabled no failed" || return 1
    wait_until 10 state_is "$d" disabled || fail "state $(status_field "$d" state), not disabled" || return 1
    [ "$(count_events "$d" restart-attempt)" = 0 ] || fail "action=none restarted" || return 1
    rmdomain "$d"
}

s_libvirtd_restart() {
    local d=${prefix}outage n=${prefix}steady lpid
    lpid=$(pgrep -x libvirtd)
    if ! printf '%s\n' "${started_pids[@]}" | grep -qx "$lpid"; then
        echo "# SKIP libvirtd was not started by this suite; it is not ours to kill"
        return 0
    fi
    mkdomain "$d" || return 1
    mkdomain "$n" || return 1
    wait_until 60 state_is "$d" ok || fail "never ok" || return 1
    wait_until 60 state_is "$n" ok || fail "never ok" || return 1
    local qpid
    qpid=$(qemu_pid "$d")
    kill "$lpid"
    while kill -0 "$lpid" 2>/dev/null; do sleep 0.2; done
    kill -9 "$qpid"
    sleep 8 # longer than a block while libvirtd is away
    LIBVIRT_LOG_OUTPUTS="3:file:/var/log/libvirt/libvirtd.log" libvirtd -d
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
    wait_until 20 test "$("$cli" info "$d" --json | jq -r .additions_version)" = "$version" ||
        fail "AdditionsVersion $("$cli" info "$d" --json | jq -r .additions_version), the agent says $version" || return 1
    [ "$("$cli" info "$d" --json | jq -r .os_name)" = "$os" ] ||
        fail "OSName $("$cli" info "$d" --json | jq -r .os_name), the agent says $os" || return 1
    [ "$("$cli" info "$d" --json | jq -r .can_shutdown)" = true ] || fail "CanShutdown is false" || return 1
    "$cli" info "$d" | grep -q "^Additions version: *$version\$" || fail "info does not show the version" || return 1
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
    wait_until 10 test "$("$cli" info "$d" --json | jq -r .is_host_time_sync_enabled)" = false ||
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
    wait_until 10 test "$(status_field "$d" config.time)" = 8 || fail "time $(status_field "$d" config.time)" || return 1
    $V metadata "$d" --uri urn:virt-heartbeat:1 --live | grep -q 'time="8"' || fail "libvirt has no time=8" || return 1
    [ "$("$cli" set-parameter "$d" time 1 2>/dev/null; echo $?)" = 2 ] || fail "time=1 was not refused with 2" || return 1
    [ "$(status_field "$d" config.time)" = 8 ] || fail "a refused value changed the config" || return 1
    rmdomain "$d"
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
    "$@"
    finish_scenario $? "$desc"
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
run "libvirtd restarted: reconnect, resync, crashed domain started" s_libvirtd_restart
run "storm cap: at most max_episodes episodes" s_storm_cap
run "guest info: AdditionsVersion, OSName, CanShutdown from the agent" s_info
run "ExecuteCommand: output, exit status, timeout" s_exec
run "Shutdown through the agent: stops, no restart" s_guest_shutdown
run "host time sync: corrects a wrong guest clock, also after resume" s_time_sync
run "InstallAdditions: channel hot-plugged or at next boot, heartbeat appears" s_install_agent
run "SetParameter: validated, applied live" s_set_parameter

echo "# e2e: $passed passed, $failed failed"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
