#!/bin/bash
# Quickstart on a fresh Debian 12 machine, as root: install the dependencies,
# build, make sure libvirtd runs, create a demo guest with a guest agent,
# start virt-heartbeatd on the system bus and show the guest's heartbeat.
# Running it again keeps what is there and shows the status again.
set -euo pipefail
cd "$(dirname "$0")"
top=$PWD

demo=hb-demo
demodir=/var/lib/virt-heartbeat/demo
pidfile=/run/virt-heartbeatd-demo.pid
logfile=/var/log/virt-heartbeatd-demo.log
V="virsh -q -c qemu:///system"

say() { echo "quickstart: $*"; }

[ "$(id -u)" = 0 ] || { echo "quickstart: run me as root" >&2; exit 1; }

say "installing dependencies"
bash tests/install-deps.sh

say "building"
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure --enable-werror
make -j"$(nproc)" >/dev/null

say "making sure libvirtd runs"
bash tests/e2e/libvirtd-up.sh >/dev/null

say "building the demo guest (Debian's cloud kernel + an initramfs with qemu-ga)"
bash tests/e2e/build-guest.sh "$demodir"

if ! $V dominfo "$demo" >/dev/null 2>&1; then
    say "defining the demo guest $demo"
    cat > "$demodir/$demo.xml" <<EOF
<domain type='qemu'>
  <name>$demo</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <metadata>
    <hb:heartbeat xmlns:hb='urn:virt-heartbeat:1' time='10' rate='5' boot_grace='60' failure_interval='30'/>
  </metadata>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$demodir/vmlinuz</kernel>
    <initrd>$demodir/initrd.img</initrd>
    <cmdline>console=ttyS0 quiet panic=0</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <serial type='file'><source path='/var/log/libvirt/qemu/$demo-console.log' append='on'/><target port='0'/></serial>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <panic model='isa'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
    $V define "$demodir/$demo.xml" >/dev/null
fi
$V domstate "$demo" | grep -q running || $V start "$demo" >/dev/null

# The system bus, with virt-heartbeatd's policy.
install -m 644 src/org.virt_heartbeat.Heartbeat1.conf /etc/dbus-1/system.d/
if [ -S /run/dbus/system_bus_socket ] &&
   dbus-send --system --print-reply --dest=org.freedesktop.DBus / \
       org.freedesktop.DBus.ReloadConfig >/dev/null 2>&1; then
    :
else
    say "starting the system bus"
    mkdir -p /run/dbus
    rm -f /run/dbus/pid
    dbus-daemon --system --fork
fi

if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "virt-heartbeatd already runs (PID $(cat "$pidfile"))"
else
    say "starting virt-heartbeatd, log in $logfile"
    nohup "$top/src/virt-heartbeatd" -c qemu:///system >> "$logfile" 2>&1 &
    echo $! > "$pidfile"
fi

say "waiting for $demo's heartbeat"
for _ in $(seq 1 120); do
    state=$(src/virt-heartbeat status "$demo" --json 2>/dev/null | jq -r .state || true)
    [ "$state" = ok ] && break
    sleep 1
done
src/virt-heartbeat status "$demo"

cat <<EOF

Watch its events in one terminal:
  $top/src/virt-heartbeat events $demo
and kill the guest's agent in another; within one block (10 s) the heartbeat
stops and virt-heartbeatd resets the guest:
  virsh qemu-agent-command $demo '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","kill -9 \$(cat /run/agent.pid)"]}}'
EOF
