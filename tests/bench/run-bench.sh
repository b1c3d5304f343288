#!/bin/bash
# Measure how a hung guest agent delays pings to a healthy guest, over a
# shared libvirt connection and over separate ones (BENCHMARKS.md). Needs
# root and a build tree; boots two tiny TCG guests and removes them after.
#   tests/bench/run-bench.sh [SECONDS-PER-MODE]
set -euo pipefail
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${TOP_BUILDDIR:-$srcdir}
seconds=${1:-20}
V="virsh -q -c qemu:///system"
guest="$builddir/tests/e2e/guest"
prefix="hbbench-$$-"

bash "$srcdir/tests/e2e/build-guest.sh" "$guest"
mapfile -t started < <(bash "$srcdir/tests/e2e/libvirtd-up.sh")
cleanup() {
    for d in healthy hung; do $V destroy "$prefix$d" >/dev/null 2>&1 || true; done
    for p in "${started[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

for d in healthy hung; do
    cat > "/tmp/$prefix$d.xml" <<XML
<domain type='qemu'>
  <name>$prefix$d</name>
  <memory unit='MiB'>128</memory>
  <os><type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest/vmlinuz</kernel><initrd>$guest/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet</cmdline></os>
  <features><acpi/></features>
  <devices>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='none'/>
  </devices>
</domain>
XML
    $V create "/tmp/$prefix$d.xml" >/dev/null
    rm -f "/tmp/$prefix$d.xml"
done
for d in healthy hung; do
    for _ in $(seq 1 60); do
        $V qemu-agent-command "$prefix$d" '{"execute":"guest-ping"}' >/dev/null 2>&1 && break
        sleep 1
    done
done
# Hang the agent with its port still open.
$V qemu-agent-command "${prefix}hung" \
    '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","kill -STOP $(cat /run/agent.pid)"]}}' >/dev/null

echo "ping-bench: $seconds s per mode, $(nproc) cores, TCG guests, libvirt $(virsh -v)"
for mode in alone shared separate; do
    "$builddir/tests/bench/ping-bench" qemu:///system "${prefix}healthy" "${prefix}hung" "$seconds" "$mode"
done
