#!/bin/bash
# Install everything virt-heartbeat needs to build, test and run, from
# Debian 12's packages. Run as root; running it again is harmless.
set -euo pipefail

packages=(
    # build
    autoconf automake make gcc pkg-config
    libglib2.0-dev libglib2.0-dev-bin libvirt-dev libvirt-glib-1.0-dev
    libxml2-dev libjson-glib-dev libcmocka-dev libsoup-3.0-dev libsystemd-dev
    # the libFuzzer harnesses (tests/fuzz)
    clang libclang-rt-14-dev
    # tests and runtime
    libxml2-utils dbus valgrind libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu
    # tests/policy_test.sh: a real bus, gdbus, setpriv, useradd
    dbus-daemon dbus-system-bus-common libglib2.0-bin util-linux passwd
    qemu-system-x86 qemu-guest-agent
    # tests/unit_test.sh: systemd-analyze verify and security on the unit
    systemd
    # the end-to-end guest image
    busybox-static cpio kmod jq procps curl
    # tests/e2e/freeze-thread.py: ptrace through ctypes
    python3
    # make deb (debian/, README) and the e2e suite's s_deb
    debhelper lintian
    # promtool in make check (metrics, alerting rules); the e2e suite's own
    # Prometheus server (s_prometheus)
    prometheus
    # the e2e suite's one-node cluster (s_cluster, tests/e2e/cluster-up.sh):
    # pacemaker only recommends its command-line tools
    pacemaker pacemaker-cli-utils corosync resource-agents
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The prometheus package starts a server of its own on :9090 where an init
# system runs it. The suite starts its own, on a port it picks: none is left
# running here.
# systemctl disables offline too, but stops only under a running systemd.
if command -v systemctl >/dev/null && systemctl is-enabled --quiet prometheus 2>/dev/null; then
    systemctl disable prometheus
    [ ! -d /run/systemd/system ] || systemctl stop prometheus
elif [ -x /etc/init.d/prometheus ] && /etc/init.d/prometheus status >/dev/null 2>&1; then
    /etc/init.d/prometheus stop
    update-rc.d prometheus disable >/dev/null 2>&1 || true
fi
# Likewise a corosync or pacemaker that the packages' scripts started: the
# suite's cluster (tests/e2e/cluster-up.sh) runs alone on the host.
for svc in pacemaker corosync; do
    if command -v systemctl >/dev/null && systemctl is-enabled --quiet "$svc" 2>/dev/null; then
        systemctl disable "$svc"
        [ ! -d /run/systemd/system ] || systemctl stop "$svc"
    elif [ -x "/etc/init.d/$svc" ] && "/etc/init.d/$svc" status >/dev/null 2>&1; then
        "/etc/init.d/$svc" stop
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
done
