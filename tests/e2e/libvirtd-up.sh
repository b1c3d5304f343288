#!/bin/bash
# Make sure a libvirtd with the QEMU driver answers on qemu:///system.
# A libvirtd that already answers is used as it is; otherwise this sets up
# what a bare Debian 12 container lacks and starts virtlogd and libvirtd.
# Prints the PIDs it started, if any, for the caller to stop.
set -euo pipefail

answers() {
    timeout 10 virsh -q -c qemu:///system version >/dev/null 2>&1
}

start_virtlogd() {
    # QEMU domains do not start without it.
    if ! pgrep -x virtlogd >/dev/null; then
        virtlogd -d
        pgrep -x virtlogd
    fi
}

if answers; then
    start_virtlogd
    exit 0
fi
# One that is starting or stopping answers or ends within a few seconds.
for _ in $(seq 1 10); do
    pgrep -x libvirtd >/dev/null || pgrep -x virtqemud >/dev/null || break
    if answers; then
        start_virtlogd
        exit 0
    fi
    sleep 1
done
if pgrep -x libvirtd >/dev/null || pgrep -x virtqemud >/dev/null; then
    echo "libvirtd-up: a libvirt daemon runs but does not answer on qemu:///system" >&2
    exit 1
fi

mkdir -p /var/log/libvirt/qemu /var/run/libvirt /var/lib/libvirt/qemu /var/cache/libvirt/qemu
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null ||
    useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
if [ ! -f /etc/libvirt/qemu.conf ]; then
    mkdir -p /etc/libvirt
    cat > /etc/libvirt/qemu.conf <<'CONF'
# Written by virt-heartbeat's tests/e2e/libvirtd-up.sh for a bare container.
user = "root"
group = "root"
security_driver = "none"
CONF
fi

start_virtlogd
LIBVIRT_LOG_OUTPUTS="3:file:/var/log/libvirt/libvirtd.log" libvirtd -d
for _ in $(seq 1 50); do
    answers && { pgrep -x libvirtd; exit 0; }
    sleep 0.2
done
echo "libvirtd-up: libvirtd did not come up" >&2
exit 1
