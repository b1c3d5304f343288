#!/bin/bash
# What systemd sees of virt-heartbeatd, without systemd: the real daemon,
# on a private bus against libvirt's test driver, with a NOTIFY_SOCKET and
# a WATCHDOG_USEC of this test's own. It reads back READY=1 (only after
# the bus name is owned and the first resync is done), STATUS=, WATCHDOG=1,
# RELOADING=1 and READY=1 around a reload (SIGHUP) that changes a live key
# (seen through D-Bus) while a domain keeps its counters, a broken file
# refused whole, and STOPPING=1 on SIGTERM.
# Exit 77 (skipped) without dbus-daemon, gdbus or python3.
set -uo pipefail

top_srcdir=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${TOP_BUILDDIR:-$top_srcdir}
daemon=$top_builddir/src/virt-heartbeatd
name=org.virt_heartbeat.Heartbeat1
dom_path=/org/virt_heartbeat/Heartbeat1/domain/0b5e4c2a_4f41_4c48_9d3e_7d1a8e2c1b01

for tool in dbus-daemon gdbus python3; do
    command -v "$tool" >/dev/null || { echo "SKIP: $tool is missing" >&2; exit 77; }
done
[ -x "$daemon" ] || { echo "no $daemon: build first" >&2; exit 99; }

dir=$(mktemp -d /tmp/hb-systemd-test.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# A bus of our own where anyone may own any name.
cat >"$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
CONF
dbus-daemon --config-file="$dir/bus.conf" --nofork 2>"$dir/bus.log" &
pids+=($!)
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus

# systemd's end of NOTIFY_SOCKET: each datagram a line, newlines as "|".
python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    print(s.recv(4096).decode().replace("\n", "|"))
' "$dir/notify" >"$dir/notify.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [ -S "$dir/bus" ] && [ -S "$dir/notify" ] && break
    sleep 0.1
done
[ -S "$dir/bus" ] || { cat "$dir/bus.log" >&2; echo "dbus-daemon did not start" >&2; exit 99; }
[ -S "$dir/notify" ] || { cat "$dir/notify.log" >&2; echo "no notify socket" >&2; exit 99; }

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() {
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
    shift; printf '#   %s\n' "$@"
}
# check DESCRIPTION CMD...: ok if CMD succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what" "daemon log:" "$(tail -5 "$dir/daemon.log")"; fi
}
# wait_for CMD...: until CMD succeeds; a bound for a loaded host, not a timing.
wait_for() {
    for _ in $(seq 300); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
notified() { grep -q -- "$1" "$dir/notify.log"; }
count() { grep -c -- "$1" "$dir/notify.log"; }
logged() { grep -q -- "$1" "$dir/daemon.log"; }
# The number of a property of type t or u.
number() { prop "$1" | sed -n 's/.*<uint[0-9]* \([0-9]*\)>.*/\1/p'; }
prop() {
    gdbus call --system --dest "$name" --object-path "$dom_path" \
        --method org.freedesktop.DBus.Properties.Get org.virt_heartbeat.Domain1 "$1" 2>&1
}

conf=$dir/virt-heartbeatd.conf
printf '[daemon]\nstate_dir=%s/state\nhooks_dir=\n[defaults]\nrate=10\n' "$dir" >"$conf"
mkdir -m 700 "$dir/state"
NOTIFY_SOCKET=$dir/notify WATCHDOG_USEC=400000 \
    "$daemon" -f "$conf" -c "test://$top_srcdir/tests/data/cli-driver.xml" \
    >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
pids+=($daemon_pid)

# READY=1: by then the name is owned and the resync is logged.
if wait_for notified "READY=1"; then
    owned=$(gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner "$name" 2>&1)
    check "READY=1 sent" true
    check "READY=1 after the bus name is owned ($owned)" [ "$owned" = "(true,)" ]
    check "READY=1 after the first resync" logged "Resynced: "
else
    not_ok "READY=1 sent" "$(cat "$dir/notify.log")" "$(tail -5 "$dir/daemon.log")"
fi
check "READY=1 sent once" [ "$(count "READY=1")" = 1 ]
check "STATUS= counts the domains" wait_for notified "STATUS=[0-9]* domains monitored"
check "WATCHDOG=1, again and again" wait_for eval '[ "$(count "WATCHDOG=1")" -ge 3 ]'
check "WATCHDOG=1 said in the log" logged "Watchdog: telling systemd every 200 ms"
check "the domain has rate 10 from [defaults]" wait_for eval 'prop Config | grep -q "rate.: <uint32 10>"'

# A reload that changes a live key and one that needs a restart.
# Pings on the test driver end without a verdict: they are counted all the same.
wait_for eval '[ "$(number PingsNoVerdict)" -ge 2 ]'
pings=$(number PingsNoVerdict)
printf '[daemon]\nstate_dir=%s/state\nhooks_dir=\nping_workers=9\n[defaults]\nrate=15\n' \
    "$dir" >"$conf"
kill -HUP $daemon_pid
check "RELOADING=1 on SIGHUP" wait_for notified "RELOADING=1|MONOTONIC_USEC="
check "READY=1 after the reload" wait_for eval '[ "$(count "^READY=1")" = 2 ]'
check "RELOADING=1 before the second READY=1" \
    eval 'grep -n -e RELOADING -e ^READY "$dir/notify.log" | tail -2 | head -1 | grep -q RELOADING'
check "the live key logged" logged "Configuration reloaded: \[defaults\]"
check "the live key applied: rate 15 on D-Bus" wait_for eval 'prop Config | grep -q "rate.: <uint32 15>"'
check "ping_workers needs a restart, said" logged "ping_workers changed, which needs a restart"
after=$(number PingsNoVerdict)
check "the domain's counters kept ($pings, then $after)" [ "${after:-0}" -ge "${pings:-1}" ]

# A broken file: refused whole, the running configuration kept.
printf '[daemon]\ndry_run=maybe\n[defaults]\nrate=7\n' >"$conf"
kill -HUP $daemon_pid
check "a broken file refused" wait_for logged "Configuration not reloaded: 1 error in the file"
check "its error named with file and line" logged "virt-heartbeatd.conf:2: dry_run"
check "READY=1 after the refused reload too" wait_for eval '[ "$(count "^READY=1")" = 3 ]'
check "the running rate kept" eval 'prop Config | grep -q "rate.: <uint32 15>"'
check "the daemon still serves" eval 'prop Name | grep -q cli-running'

kill -TERM $daemon_pid
check "STOPPING=1 on SIGTERM" wait_for notified "STOPPING=1"
wait $daemon_pid
check "the daemon exits 0" [ $? = 0 ]

echo "1..$n"
[ $failed = 0 ]
