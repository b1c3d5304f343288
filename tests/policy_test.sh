#!/bin/bash
# The D-Bus policy (src/org.virt_heartbeat.Heartbeat1.conf) on a real
# dbus-daemon: a system bus configured from Debian's own system.conf (default
# deny), with only its listen address, pid file, user and includedirs
# changed so that it includes the policy file of this source tree. The real
# virt-heartbeatd serves it against libvirt's test driver, and gdbus calls it
# as root, as a member of group libvirt and as an unprivileged user.
#
# Needs root: it runs the callers under other identities, and creates the
# group libvirt (as libvirt-daemon-system does) and a system user
# virt-hb-policytest in it if they are missing. Exit 77 (skipped) otherwise.
set -uo pipefail

top_srcdir=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${TOP_BUILDDIR:-$top_srcdir}
system_conf=/usr/share/dbus-1/system.conf
policy=$top_srcdir/src/org.virt_heartbeat.Heartbeat1.conf
daemon=$top_builddir/src/virt-heartbeatd
name=org.virt_heartbeat.Heartbeat1
root_path=/org/virt_heartbeat/Heartbeat1
uuid=0b5e4c2a-4f41-4c48-9d3e-7d1a8e2c1b01
dom_path=$root_path/domain/${uuid//-/_}
member=virt-hb-policytest

skip() {
    echo "SKIP: policy_test: $*" >&2
    echo "SKIP: the D-Bus policy was NOT tested on a real bus" >&2
    exit 77
}

[ "$(id -u)" = 0 ] || skip "needs root (it runs callers as other users)"
for tool in dbus-daemon gdbus setpriv useradd groupadd gpasswd flock; do
    command -v "$tool" >/dev/null || skip "$tool is missing (tests/install-deps.sh)"
done
[ -r "$system_conf" ] || skip "$system_conf is missing (package dbus-system-bus-common)"
[ -x "$daemon" ] || { echo "no $daemon: build first" >&2; exit 99; }

# The group and the test user, once per machine; flock against parallel runs.
(
    flock 9
    if ! getent group libvirt >/dev/null; then
        echo "# creating system group libvirt, as libvirt-daemon-system does" >&2
        groupadd --system libvirt || exit 1
    fi
    if ! getent passwd "$member" >/dev/null; then
        echo "# creating system user $member for this test" >&2
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin --comment "virt-heartbeat policy test" "$member" || exit 1
    fi
    id -nG "$member" | tr ' ' '\n' | grep -qx libvirt || gpasswd -a "$member" libvirt >/dev/null
) 9>/tmp/virt-heartbeat-policy-test.lock || { echo "cannot set up group and user" >&2; exit 99; }

dir=$(mktemp -d /tmp/hb-policy-test.XXXXXX)
chmod 755 "$dir"   # others reach the bus socket in it
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT

# Debian's system.conf with exactly these changes; each must apply once.
adapt() {
    local from=$1 to=$2
    [ "$(grep -cF -- "$from" "$dir/system.conf")" = 1 ] ||
        { echo "'$from' is not in $system_conf once: update this test" >&2; exit 99; }
    FROM=$from TO=$to perl -0pi -e 's/\Q$ENV{FROM}\E/$ENV{TO}/' "$dir/system.conf"
}
cp "$system_conf" "$dir/system.conf"
adapt "<listen>unix:path=/run/dbus/system_bus_socket</listen>" "<listen>unix:path=$dir/bus</listen>"
adapt "<pidfile>/run/dbus/pid</pidfile>" "<pidfile>$dir/bus.pid</pidfile>"
adapt "<user>messagebus</user>" ""
adapt "<includedir>system.d</includedir>" "<include>$policy</include>"
adapt "<includedir>/etc/dbus-1/system.d</includedir>" ""
for rule in '<deny own="*"/>' '<deny send_type="method_call"/>'; do
    grep -qF "$rule" "$dir/system.conf" || { echo "no default deny: $rule" >&2; exit 99; }
done

dbus-daemon --config-file="$dir/system.conf" --nofork 2>"$dir/bus.log" &
pids+=($!)
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus
for _ in $(seq 100); do
    [ -S "$dir/bus" ] && break
    sleep 0.1
done
[ -S "$dir/bus" ] || { cat "$dir/bus.log" >&2; echo "dbus-daemon did not start" >&2; exit 99; }

# The signals an unprivileged user receives, from before the daemon starts.
setpriv --reuid=nobody --regid=nogroup --clear-groups \
    gdbus monitor --system --dest "$name" >"$dir/signals.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    grep -q "does not have an owner" "$dir/signals.log" && break
    sleep 0.1
done

printf '[daemon]\nstate_dir=%s/state\n' "$dir" >"$dir/virt-heartbeatd.conf"
"$daemon" -f "$dir/virt-heartbeatd.conf" -c "test://$top_srcdir/tests/data/cli-driver.xml" \
    2>"$dir/daemon.log" &
pids+=($!)

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() {
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"
    shift; printf '#   %s\n' "$@"
}

# as WHO CMD...: run CMD as root, as a member of libvirt, or as nobody.
as() {
    local who=$1
    shift
    case $who in
    root) "$@" ;;
    member) setpriv --reuid="$member" --regid="$member" --init-groups "$@" ;;
    nobody) setpriv --reuid=nobody --regid=nogroup --clear-groups "$@" ;;
    # The groups dbus-daemon sees, against the user database's.
    nobody+libvirt) setpriv --reuid=nobody --regid=nogroup --groups=libvirt "$@" ;;
    member-libvirt) setpriv --reuid="$member" --regid="$member" --groups="$member" "$@" ;;
    member-nogroups) setpriv --reuid="$member" --regid="$member" --clear-groups "$@" ;;
    esac
}

# call WHO WANT PATH IFACE.METHOD ARGS...: WANT is ok, denied (the bus says
# AccessDenied), or the name of the error the daemon must answer with.
call() {
    local who=$1 want=$2 path=$3 method=$4 out status got
    shift 4
    out=$(as "$who" timeout 20 gdbus call --system --dest "$name" --object-path "$path" \
        --method "$method" "$@" 2>&1)
    status=$?
    if [ $status = 0 ]; then
        got=ok
    elif [[ $out =~ GDBus\.Error:([A-Za-z0-9_.]+) ]]; then
        got=${BASH_REMATCH[1]}
        [ "$got" = org.freedesktop.DBus.Error.AccessDenied ] && got=denied
    else
        got="exit $status"
    fi
    if [ "$got" = "$want" ]; then
        ok "$who: $method on $path: $want"
    else
        not_ok "$who: $method on $path: want $want, got $got" "$out"
    fi
}

# The daemon owns the name and has its domains. The waits here are bounds for
# a loaded host (CI beside other builds, ASan), not timings: each ends at once
# when what it waits for has come.
for _ in $(seq 600); do
    gdbus call --system --dest "$name" --object-path "$dom_path" \
        --method org.freedesktop.DBus.Properties.Get org.virt_heartbeat.Domain1 UUID \
        >/dev/null 2>&1 && break
    sleep 0.1
done

props=org.freedesktop.DBus.Properties
dom1=org.virt_heartbeat.Domain1
man1=org.virt_heartbeat.Manager1
err=org.virt_heartbeat.Error

for who in root member nobody; do
    # Allowed to anyone.
    call $who ok $root_path org.freedesktop.DBus.Introspectable.Introspect
    call $who ok $dom_path org.freedesktop.DBus.Introspectable.Introspect
    call $who ok $root_path org.freedesktop.DBus.Peer.Ping
    call $who ok $root_path org.freedesktop.DBus.ObjectManager.GetManagedObjects
    call $who ok $root_path $props.Get $man1 Connected
    call $who ok $root_path $props.GetAll $man1
    call $who ok $dom_path $props.Get $dom1 State
    call $who ok $dom_path $props.GetAll $dom1
    call $who ok $root_path $man1.ListDomains
    call $who ok $root_path $man1.LookupByName cli-running
    call $who ok $root_path $man1.LookupByUUID $uuid
    call $who ok $root_path $man1.GetStatistics
    call $who ok $root_path $man1.ListDomainSummaries

    # Every method for root and libvirt; the guest ones fail on the test
    # driver, but in the daemon. Nothing of it for anyone else.
    if [ $who = nobody ]; then
        ro=denied; rearm=denied; guest=denied; exec=denied; setp=denied; unknown=denied
        novm=denied; badarg=denied
    else
        ro=org.freedesktop.DBus.Error.InvalidArgs; rearm=ok; guest=$err.InvalidArgument
        exec=$err.Failed; setp=ok; unknown=org.freedesktop.DBus.Error.UnknownMethod
        novm=$err.VMUnknown; badarg=$err.InvalidArgument
    fi
    call $who $ro $root_path $props.Set $man1 URI "<'qemu:///system'>"
    call $who $ro $dom_path $props.Set $dom1 Name "<'x'>"
    call $who $rearm $dom_path $dom1.Rearm
    call $who $setp $dom_path $dom1.SetHostTimeSync false
    call $who $guest $dom_path $dom1.Shutdown
    call $who $exec $dom_path $dom1.ExecuteCommand /bin/true "@as []" 5
    call $who $setp $dom_path $dom1.InstallAdditions
    call $who $setp $dom_path $dom1.SetParameter time 31 0
    # EditMetadata: also a domain the daemon does not watch (cli-off).
    call $who $setp $root_path $man1.EditMetadata cli-off "@a{ss} {}" "@as []" 0
    call $who $setp $root_path $man1.EditMetadata cli-running "{'time': '32'}" "@as []" 1
    call $who $novm $root_path $man1.EditMetadata no-such "@a{ss} {}" "@as []" 0
    call $who $badarg $root_path $man1.EditMetadata cli-off "{'speed': '1'}" "@as []" 0
    # Maintenance windows: an hour from now (the end checked in the daemon).
    until=$(( $(date +%s) + 3600 ))
    call $who $setp $dom_path $dom1.Pause $until
    call $who $setp $dom_path $dom1.Resume
    call $who $badarg $dom_path $dom1.Pause 0
    call $who $setp $root_path $man1.PauseAll $until
    call $who $setp $root_path $man1.ResumeAll
    call $who $badarg $root_path $man1.PauseAll 1
    call $who $unknown $root_path $man1.Frobnicate
    call $who $unknown $dom_path org.virt_heartbeat.Nope1.Rearm

    # Only root may own the name (root gets "exists": the daemon has it).
    [ $who = root ] && own=ok || own=denied
    out=$(as $who gdbus call --system --dest org.freedesktop.DBus \
        --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.RequestName \
        $name 4 2>&1)
    if { [ $own = ok ] && [ "$out" = "(uint32 3,)" ]; } ||
       { [ $own = denied ] && [[ $out == *org.freedesktop.DBus.Error.AccessDenied* ]]; }; then
        ok "$who: RequestName $name: $own"
    else
        not_ok "$who: RequestName $name: want $own" "$out"
    fi
done

# Which groups does dbus-daemon go by? On Linux, dbus 1.14 takes the groups
# of the calling process as they were when it connected (SO_PEERGROUPS, and
# its primary group), not the user database; without SO_PEERGROUPS it would
# ask the user database. Tell which, and require one consistent answer.
probe() {
    as "$1" gdbus call --system --dest "$name" --object-path "$dom_path" \
        --method $dom1.Rearm >/dev/null 2>&1 && echo allowed || echo denied
}
p1=$(probe nobody+libvirt)   # in libvirt by its process only
p2=$(probe member-libvirt)   # in libvirt by the user database only
p3=$(probe member-nogroups)  # in libvirt by the database, no process groups
echo "# process in libvirt, user not: $p1; user in libvirt, process in other groups: $p2;" \
     "user in libvirt, process in no group: $p3"
if [ "$p1 $p2 $p3" = "allowed denied denied" ]; then
    ok "groups: dbus-daemon uses the caller's process groups (SO_PEERGROUPS)," \
       "not the user database"
elif [ "$p1 $p2 $p3" = "denied allowed allowed" ]; then
    ok "groups: dbus-daemon uses the user database (no SO_PEERGROUPS here)"
else
    not_ok "groups: no consistent rule: $p1 $p2 $p3"
fi

# nobody received the daemon's signals. The listener subscribes to the
# daemon's signals only once it has seen the owner ("is owned by"), and its
# subscription reaches the bus a moment later: a signal sent meanwhile is
# lost to it. So root has the daemon change a state (enabled no, then yes
# again) until the listener shows one, and only then has a domain newly
# watched (cli-off gets metadata), which happens once. With test:///FILE
# each of the daemon's connections holds a copy of its own, so an edit
# shows only when the next read happens to use the connection that made
# it: on a loaded machine (more connections) that takes more tries.
toggle() {
    gdbus call --system --dest "$name" --object-path $root_path --method $man1.EditMetadata \
        cli-running "{'enabled': 'no'}" "@as []" 1 >/dev/null
    gdbus call --system --dest "$name" --object-path $root_path --method $man1.EditMetadata \
        cli-running "@a{ss} {}" "['enabled']" 1 >/dev/null
}
for _ in $(seq 180); do
    grep -q "is owned by" "$dir/signals.log" && toggle
    for _ in $(seq 10); do
        grep -q "StateChanged" "$dir/signals.log" && break 2
        sleep 0.1
    done
done
gdbus call --system --dest "$name" --object-path $root_path --method $man1.EditMetadata \
    cli-off "{'time': '60'}" "@as []" 0 >/dev/null
for _ in $(seq 600); do
    grep -q "InterfacesAdded" "$dir/signals.log" && grep -q "PropertiesChanged" "$dir/signals.log" &&
        break
    sleep 0.1
done
for signal in org.freedesktop.DBus.ObjectManager.InterfacesAdded $man1.StateChanged \
              org.freedesktop.DBus.Properties.PropertiesChanged; do
    if grep -q "$signal" "$dir/signals.log"; then
        ok "nobody: received $signal"
    else
        not_ok "nobody: received no $signal" "$(cat "$dir/signals.log")"
    fi
done

# And the daemon is still there.
if gdbus call --system --dest "$name" --object-path $root_path --method $man1.ListDomains \
    >/dev/null 2>&1; then
    ok "the daemon still answers"
else
    not_ok "the daemon still answers" "$(cat "$dir/daemon.log")"
fi

echo "1..$n"
if [ $failed -gt 0 ]; then
    echo "# $failed of $n failed; the bus said:" >&2
    cat "$dir/bus.log" >&2
    exit 1
fi
echo "# $n passed, 0 failed"
exit 0
