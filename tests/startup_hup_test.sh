#!/bin/bash
# A SIGHUP while virt-heartbeatd starts (a `systemctl reload`, or a
# logrotate postrotate, before READY=1) must not kill it: SIGHUP's default
# action is to end the process, until the reload handler is in. The daemon
# is held in its first step, connecting to the system bus, by a socket
# that accepts and never answers; a SIGHUP then leaves it running, and it
# exits 1 (no bus) once the socket is closed, not killed by the signal.
# Exit 77 (skipped) without python3.
set -uo pipefail

top_srcdir=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${TOP_BUILDDIR:-$top_srcdir}
daemon=$top_builddir/src/virt-heartbeatd

command -v python3 >/dev/null || { echo "SKIP: python3 is missing" >&2; exit 77; }
[ -x "$daemon" ] || { echo "no $daemon: build first" >&2; exit 99; }

dir=$(mktemp -d /tmp/hb-hup-test.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# A "bus" that accepts one connection, says so, and holds it until told.
python3 -u -c '
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(1)
c, _ = s.accept()
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
c.close()
' "$dir/bus" "$dir/accepted" "$dir/release" >"$dir/bus.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    [ -S "$dir/bus" ] && break
    sleep 0.1
done
[ -S "$dir/bus" ] || { cat "$dir/bus.log" >&2; echo "no socket" >&2; exit 99; }

conf=$dir/virt-heartbeatd.conf
printf '[daemon]\nstate_dir=%s/state\nhooks_dir=\n' "$dir" >"$conf"
mkdir -m 700 "$dir/state"
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus \
    "$daemon" -f "$conf" -c test:///default >"$dir/daemon.log" 2>&1 &
daemon_pid=$!

# A bound for a loaded host, not a timing.
for _ in $(seq 300); do
    [ -e "$dir/accepted" ] && break
    sleep 0.1
done
[ -e "$dir/accepted" ] || { echo "the daemon never connected" >&2; kill "$daemon_pid"; exit 99; }

status=0
kill -HUP "$daemon_pid"
sleep 0.5
if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "ok 1 - a SIGHUP while starting leaves the daemon running"
else
    echo "not ok 1 - a SIGHUP while starting killed the daemon"
    status=1
fi
touch "$dir/release"
wait "$daemon_pid"
rc=$?
if [ "$rc" = 1 ]; then
    echo "ok 2 - it went on, and exited 1 for want of a bus"
else
    echo "not ok 2 - exit status $rc, not 1 (129: killed by SIGHUP)"
    sed 's/^/#   /' "$dir/daemon.log"
    status=1
fi
exit $status
