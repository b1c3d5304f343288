#!/bin/bash
# The heartbeat events read back from a real journald (hb-log.h). A private
# systemd-journald runs in a mount namespace of its own, with tmpfs on /run
# and /var/log/journal, so the host's journal is never touched. log_test
# (every event of a domain named "wéb-☃", from the monitor on the test
# driver) and the real virt-heartbeatd run under systemd-cat: their stderr
# is the journal, so GLib's default writer sends each record over the
# native protocol, as under systemd. journalctl --directory then finds the
# records by MESSAGE_ID and VIRT_HEARTBEAT_* fields, as an operator would.
# The daemon's stderr outside the journal keeps the name intact too.
#
# Needs root (the mount namespace) and systemd-journald, systemd-cat,
# journalctl, unshare, dbus-daemon and jq. Exit 77 (skipped) otherwise.
set -uo pipefail

top_srcdir=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${TOP_BUILDDIR:-$top_srcdir}
journald=/lib/systemd/systemd-journald
log_test=$top_builddir/tests/log_test
daemon=$top_builddir/src/virt-heartbeatd
name='wéb-☃'
bad='bad-☃'
bad_uuid=7a1d0c3e-5b2f-4e8a-9c61-2f4b8d0e1a02

skip() {
    echo "SKIP: journal_test: $*" >&2
    echo "SKIP: the journal fields were NOT read back from a real journald" >&2
    exit 77
}

if [ -z "${HB_JOURNAL_TEST_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || skip "needs root (a mount namespace for a private journald)"
    [ -x "$journald" ] || skip "no $journald (package systemd)"
    for tool in systemd-cat journalctl unshare dbus-daemon jq; do
        command -v "$tool" >/dev/null || skip "$tool is missing (tests/install-deps.sh)"
    done
    [ -x "$log_test" ] && [ -x "$daemon" ] || { echo "build first" >&2; exit 99; }
    unshare --mount --propagation private true 2>/dev/null ||
        skip "cannot make a mount namespace here"
    HB_JOURNAL_TEST_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

# From here on, in our own mount namespace.
dir=$(mktemp -d /tmp/hb-journal-test.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

mount -t tmpfs tmpfs /run || exit 99
if [ -d /var/log/journal ]; then
    mount -t tmpfs tmpfs /var/log/journal || exit 99
fi
"$journald" 2>"$dir/journald.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -S /run/systemd/journal/socket ] && [ -S /run/systemd/journal/stdout ] && break
    sleep 0.1
done
[ -S /run/systemd/journal/stdout ] ||
    { cat "$dir/journald.log" >&2; echo "systemd-journald did not start" >&2; exit 99; }

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() {
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
    shift; printf '#   %s\n' "$@"
}

# entries MATCH...: the journal's entries that match, one JSON object a line.
entries() {
    journalctl --directory /run/log/journal --no-pager -o json "$@" 2>/dev/null
}

# check DESCRIPTION JQ-FILTER MATCH...: FILTER (jq -e, on the array of the
# entries that match) holds.
check() {
    local what=$1 filter=$2
    shift 2
    if entries "$@" | jq -se "$filter" >/dev/null; then
        ok "$what"
    else
        not_ok "$what" "journalctl $*:" "$(entries "$@")"
    fi
}

declare -A id
while read -r kind value; do
    id[$kind]=$value
done < <("$log_test" --ids)
[ "${#id[@]}" = 7 ] || { echo "log_test --ids: ${#id[@]} kinds" >&2; exit 99; }

# log_test's TAP output to a file; its stderr (GLib's log) to the journal.
if systemd-cat -t hb-log-test bash -c 'exec "$0" >"$1"' "$log_test" "$dir/log_test.out"; then
    ok "log_test under systemd-cat"
else
    not_ok "log_test under systemd-cat" "$(cat "$dir/log_test.out")"
fi
# journald has written what it received once it answers a sync.
journalctl --directory /run/log/journal --sync 2>/dev/null || sleep 1

dom=(VIRT_HEARTBEAT_DOMAIN="$name")
for kind in heartbeat-stopped heartbeat-resumed restarts-exhausted storm-cap config-error; do
    check "$kind: a native journal entry for $name" \
        'length >= 1 and all(._TRANSPORT == "journal" and (.VIRT_HEARTBEAT_UUID | length) == 36
                             and (.MESSAGE | contains("Domain '"'$name'"'")))' \
        MESSAGE_ID="${id[$kind]}" "${dom[@]}"
done
check "every entry of $name has the same UUID" 'map(.VIRT_HEARTBEAT_UUID) | unique | length == 1' \
    "${dom[@]}"
check "heartbeat-stopped: PRIORITY 4, no attempt fields" \
    'all(.PRIORITY == "4" and .VIRT_HEARTBEAT_ATTEMPT == null and .VIRT_HEARTBEAT_RESULT == null)' \
    MESSAGE_ID="${id[heartbeat-stopped]}" "${dom[@]}"
check "heartbeat-resumed: PRIORITY 5" 'length == 1 and .[0].PRIORITY == "5"' \
    MESSAGE_ID="${id[heartbeat-resumed]}" "${dom[@]}"
# The issue's query: every reset of a domain.
check "journalctl MESSAGE_ID=<attempt> VIRT_HEARTBEAT_DOMAIN=$name finds each reset" \
    'length == 2 and (map(.VIRT_HEARTBEAT_ATTEMPT) == ["1", "2"])' \
    MESSAGE_ID="${id[restart-attempt]}" "${dom[@]}" VIRT_HEARTBEAT_ACTION=reset \
    VIRT_HEARTBEAT_RESULT=ok
check "restart-attempt: each decided before its result" \
    'map(.VIRT_HEARTBEAT_ATTEMPT + " " + .VIRT_HEARTBEAT_RESULT)
     == ["1 decided", "1 ok", "2 decided", "2 ok"]' \
    MESSAGE_ID="${id[restart-attempt]}" "${dom[@]}"
check "restarts-exhausted: VIRT_HEARTBEAT_ATTEMPT=2" \
    'length == 1 and .[0].VIRT_HEARTBEAT_ATTEMPT == "2"' \
    MESSAGE_ID="${id[restarts-exhausted]}" "${dom[@]}"
check "the escaped name in its own field" 'length >= 1' \
    MESSAGE_ID="${id[heartbeat-stopped]}" 'VIRT_HEARTBEAT_DOMAIN=evil\x0a** Message: x\\'

# The real daemon on a private bus and test driver, under systemd-cat.
cat >"$dir/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=$dir/bus</listen>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
cat >"$dir/driver.xml" <<EOF
<node>
  <domain type='test'>
    <name>$bad</name>
    <uuid>$bad_uuid</uuid>
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <metadata>
      <hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' time='1'/>
    </metadata>
  </domain>
</node>
EOF
printf '[daemon]\nstate_dir=%s/state\n' "$dir" >"$dir/virt-heartbeatd.conf"
dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile 2>"$dir/bus.log" &
pids+=($!)
for _ in $(seq 100); do
    [ -S "$dir/bus" ] && break
    sleep 0.1
done
[ -S "$dir/bus" ] || { cat "$dir/bus.log" >&2; echo "dbus-daemon did not start" >&2; exit 99; }
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus

# run_daemon OUT: the daemon until it logged the invalid metadata; OUT its stderr
# ("journal": the journal). Its locale is none at all, as in a bare service.
run_daemon() {
    local out=$1 pid
    if [ "$out" = journal ]; then
        env -u LANG -u LC_ALL -u LC_CTYPE systemd-cat -t virt-heartbeatd "$daemon" \
            -f "$dir/virt-heartbeatd.conf" -c "test://$dir/driver.xml" &
    else
        env -u LANG -u LC_ALL -u LC_CTYPE "$daemon" -f "$dir/virt-heartbeatd.conf" \
            -c "test://$dir/driver.xml" 2>"$out" &
    fi
    pid=$!
    pids+=($pid)
    for _ in $(seq 300); do
        if [ "$out" = journal ]; then
            entries MESSAGE_ID="${id[config-error]}" _PID=$pid | grep -q . && break
        else
            grep -q "invalid heartbeat metadata" "$out" && break
        fi
        sleep 0.1
    done
    kill "$pid"
    wait "$pid"
}

run_daemon journal
check "virt-heartbeatd under systemd: config-error for $bad, native, with its UUID" \
    'length == 1 and .[0]._TRANSPORT == "journal" and .[0].PRIORITY == "4"
     and .[0].VIRT_HEARTBEAT_UUID == "'$bad_uuid'"
     and (.[0].MESSAGE | startswith("Domain '"'$bad'"': invalid heartbeat metadata"))' \
    MESSAGE_ID="${id[config-error]}" VIRT_HEARTBEAT_DOMAIN="$bad" _COMM=virt-heartbeatd
check "virt-heartbeatd under systemd: its other lines native too, the name intact" \
    'length >= 1 and all(._TRANSPORT == "journal")' \
    _COMM=virt-heartbeatd MESSAGE="Domain '$bad': monitored (metadata)"

run_daemon "$dir/daemon.err"
if grep -qF "Domain '$bad': invalid heartbeat metadata" "$dir/daemon.err"; then
    ok "virt-heartbeatd on stderr, no locale: the name intact"
else
    not_ok "virt-heartbeatd on stderr, no locale: the name intact" "$(cat "$dir/daemon.err")"
fi

echo "1..$n"
[ $failed = 0 ] || { echo "# $failed of $n failed" >&2; exit 1; }
exit 0
