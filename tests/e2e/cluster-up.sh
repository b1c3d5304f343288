#!/bin/bash
# Start a single-node Pacemaker cluster for the end-to-end tests: corosync
# (knet on 127.0.0.1, cluster "hbtest", node "hbnode1", nodeid 1) and
# pacemakerd, then wait until the node is online, the cluster quorate and a
# DC elected, and set the properties a one-node test cluster needs.
# Prints the PIDs it started, one a line (corosync, then pacemakerd), for
# tests/e2e/cluster-down.sh to stop; also when it fails after starting
# them. Ready in about 5 s (dc-deadtime is set to 2 s in the initial CIB).
#
# Resource agents, and VirtualDomain's monitor scripts, inherit pacemakerd's
# environment, that is this script's.
#
# Needs root and the packages pacemaker, pacemaker-cli-utils (pacemaker only
# recommends it), corosync and resource-agents. Works without systemd.
#
# corosync takes a private configuration (-c) and state directory
# (system.state_dir), so /etc/corosync is not touched. Pacemaker's daemons
# have their state directories compiled in (/var/lib/pacemaker/cib,
# /var/lib/pacemaker/pengine): this script only starts on empty ones, and
# leaves a marker so that cluster-down.sh empties them again. State left by
# a run of ours that was not taken down is removed here (the marker says it
# is ours); state it did not create makes it refuse.
#
# Environment: HB_CLUSTER_DIR (configuration, logs, marker; default
# /var/lib/virt-heartbeat-e2e-cluster), HB_CLUSTER_WAIT (seconds to wait for
# the cluster; default 90).
set -euo pipefail

dir=${HB_CLUSTER_DIR:-/var/lib/virt-heartbeat-e2e-cluster}
wait_s=${HB_CLUSTER_WAIT:-90}
node=hbnode1
cib_dirs=(/var/lib/pacemaker/cib /var/lib/pacemaker/pengine)

die() {
    echo "cluster-up: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root"
for tool in corosync corosync-quorumtool pacemakerd crm_mon crm_attribute; do
    command -v "$tool" >/dev/null ||
        die "$tool is missing; apt-get install pacemaker pacemaker-cli-utils corosync" \
            "resource-agents"
done
# PIDs of live processes called NAME. Zombies do not count: where PID 1 is
# not an init that reaps promptly, killed daemons linger as zombies.
live_pids() { # NAME
    local pid state
    for pid in $(pgrep -x "$1"); do
        state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || continue
        [ "$state" != Z ] && echo "$pid"
    done
    return 0
}
# Corosync's and Pacemaker's IPC servers have fixed names (abstract sockets),
# so there can be only one cluster stack per network namespace.
for daemon in corosync pacemakerd pacemaker-based; do
    running=$(live_pids "$daemon")
    [ -z "$running" ] || die "a $daemon already runs (PID ${running//$'\n'/ }); stop it first"
done

mkdir -p "$dir/corosync-state"
chmod 755 "$dir"

# Pacemaker's state: ours to remove later only if we found it empty.
if [ -f "$dir/state-created" ]; then
    # A run of ours that was not taken down: its CIB would bring back its
    # resources, so start from scratch.
    for d in "${cib_dirs[@]}"; do
        find "$d" -mindepth 1 -delete
    done
else
    for d in "${cib_dirs[@]}"; do
        if [ -n "$(find "$d" -mindepth 1 -print -quit 2>/dev/null)" ]; then
            die "$d is not empty and was not created by this script; move its contents away first"
        fi
    done
    date -u +%FT%TZ > "$dir/state-created"
fi

cat > "$dir/corosync.conf" <<EOF
# Written by virt-heartbeat's tests/e2e/cluster-up.sh: a one-node test cluster.
totem {
    version: 2
    cluster_name: hbtest
    transport: knet
    crypto_cipher: none
    crypto_hash: none
}
nodelist {
    node {
        ring0_addr: 127.0.0.1
        name: $node
        nodeid: 1
    }
}
quorum {
    provider: corosync_votequorum
}
logging {
    to_logfile: yes
    logfile: $dir/corosync.log
    to_syslog: no
    to_stderr: no
    timestamp: on
}
system {
    state_dir: $dir/corosync-state
}
EOF
corosync -t -c "$dir/corosync.conf" >/dev/null 2>&1 ||
    die "corosync rejects $dir/corosync.conf: $(corosync -t -c "$dir/corosync.conf" 2>&1 | tail -1)"

# An initial CIB with the properties a one-node test cluster needs. Above
# all dc-deadtime: by default the controller waits 20 s for another DC
# before it elects itself. No fencing device in a test cluster; one node is
# its own quorum anyway; a short recheck interval makes failure-timeout
# expire promptly. (Pacemaker accepts a cib.xml without its .sig file.)
opt() { echo "<nvpair id=\"cib-bootstrap-options-$1\" name=\"$1\" value=\"$2\"/>"; }
cat > /var/lib/pacemaker/cib/cib.xml <<EOF
<cib validate-with="pacemaker-3.9" epoch="1" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        $(opt dc-deadtime 2s)
        $(opt stonith-enabled false)
        $(opt no-quorum-policy ignore)
        $(opt cluster-recheck-interval 30s)
      </cluster_property_set>
    </crm_config>
    <nodes/>
    <resources/>
    <constraints/>
  </configuration>
  <status/>
</cib>
EOF
chown hacluster:haclient /var/lib/pacemaker/cib/cib.xml
chmod 600 /var/lib/pacemaker/cib/cib.xml

# Pacemaker's daemons run as hacluster and open the log file themselves.
: >> "$dir/pacemaker.log"
chown hacluster:haclient "$dir/pacemaker.log"
chmod 660 "$dir/pacemaker.log"

# Without the lock's descriptor (8>&-), and with no descriptor on the
# caller's stdout, or $(cluster-up.sh) would wait for the daemons to end.
corosync -f -c "$dir/corosync.conf" < /dev/null >> "$dir/corosync.out" 2>&1 8>&- &
corosync_pid=$!
echo "$corosync_pid"

started=$SECONDS
until corosync-quorumtool -s >/dev/null 2>&1; do
    kill -0 "$corosync_pid" 2>/dev/null ||
        die "corosync ended; see $dir/corosync.log and $dir/corosync.out"
    [ $((SECONDS - started)) -lt "$wait_s" ] ||
        die "corosync not quorate after $wait_s s; see $dir/corosync.log"
    sleep 0.2
done

PCMK_logfile=$dir/pacemaker.log PCMK_debug=no \
    pacemakerd < /dev/null >> "$dir/pacemakerd.out" 2>&1 8>&- &
pacemakerd_pid=$!
echo "$pacemakerd_pid"

# Online, quorate and with a DC, as crm_mon's XML says:
#   <current_dc present="true" ... with_quorum="true"/>
#   <node name="hbnode1" ... online="true" ...>
ready() {
    local xml
    xml=$(crm_mon -1 --output-as=xml 2>/dev/null) || return 1
    grep -q '<current_dc present="true".*with_quorum="true"' <<< "$xml" &&
        grep -q "<node name=\"$node\" .*online=\"true\"" <<< "$xml"
}
until ready; do
    kill -0 "$pacemakerd_pid" 2>/dev/null ||
        die "pacemakerd ended; see $dir/pacemaker.log and $dir/pacemakerd.out"
    [ $((SECONDS - started)) -lt "$wait_s" ] ||
        die "no DC with $node online after $wait_s s; see $dir/pacemaker.log"
    sleep 0.5
done

echo "cluster-up: $node online with a DC after $((SECONDS - started)) s" >&2
