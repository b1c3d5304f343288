#!/bin/bash
# Stop the test cluster that tests/e2e/cluster-up.sh started.
# Usage: cluster-down.sh PID... (the PIDs cluster-up.sh printed).
# Stops them last first (pacemakerd before corosync), each with TERM and a
# bounded wait, then KILL; pacemakerd's children are killed too if it had
# to be killed. Then, if cluster-up.sh found Pacemaker's state directories
# empty (its marker), empties them again, so the next run starts clean.
#
# Pacemaker stops its resources when it gets TERM: guests run by
# VirtualDomain are shut down then, within their stop timeouts. After a
# KILL they keep running; removing them is the caller's job.
#
# No configuration outside HB_CLUSTER_DIR is changed by cluster-up.sh (it
# gives corosync its own file), so there is nothing to restore.
#
# Environment: HB_CLUSTER_DIR as for cluster-up.sh; HB_CLUSTER_STOP_WAIT
# (seconds to wait for each process after TERM; default 120).
set -euo pipefail

dir=${HB_CLUSTER_DIR:-/var/lib/virt-heartbeat-e2e-cluster}
stop_wait=${HB_CLUSTER_STOP_WAIT:-120}
cib_dirs=(/var/lib/pacemaker/cib /var/lib/pacemaker/pengine)
status=0

# PID exists and is not a zombie (where PID 1 is not an init that reaps
# promptly, an ended daemon stays a zombie for a while).
alive() { # PID
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ "$state" != Z ]
}

stop() { # PID
    local pid=$1 children end
    alive "$pid" || return 0
    # Its children (pacemakerd's subdaemons), to kill if it must be killed.
    children=$(pgrep -P "$pid" || true)
    kill -TERM "$pid" 2>/dev/null || true
    end=$((SECONDS + stop_wait))
    while alive "$pid" && [ $SECONDS -lt $end ]; do
        sleep 0.2
    done
    if alive "$pid"; then
        echo "cluster-down: $pid did not end within $stop_wait s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        status=1
    fi
    for c in $children; do
        if alive "$c"; then
            echo "cluster-down: killing $pid's child $c" >&2
            kill -KILL "$c" 2>/dev/null || true
            status=1
        fi
    done
}

pids=("$@")
for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    stop "${pids[i]}"
done

# libqb's shared-memory IPC directories, /dev/shm/qb-SERVER-CLIENT-N-RANDOM,
# and corosync's flight recorder, /dev/shm/qb-corosync-PID-blackbox-*
# (8 MiB), outlive a daemon that was killed. Those whose processes are all
# gone are garbage whoever made them.
for f in /dev/shm/qb-*; do
    [ -e "$f" ] || continue
    IFS=- read -r _ server client _ <<< "${f#/dev/shm/}"
    case $f in
        /dev/shm/qb-corosync-*-blackbox-*)
            alive "$client" || rm -f "$f" ;;
        *)
            case "$server$client" in *[!0-9]*) continue ;; esac
            alive "$server" || alive "$client" || rm -rf "$f" ;;
    esac
done

if [ -f "$dir/state-created" ]; then
    still=""
    for pid in $(pgrep -x pacemaker-based) $(pgrep -x pacemakerd); do
        alive "$pid" && still="$still $pid"
    done
    if [ -n "$still" ]; then
        echo "cluster-down: Pacemaker still runs (PID$still); its state is left in place" >&2
        exit 1
    fi
    for d in "${cib_dirs[@]}"; do
        [ -d "$d" ] && find "$d" -mindepth 1 -delete
    done
    rm -rf "$dir/corosync-state"
    rm -f "$dir/state-created"
fi
exit "$status"
