#!/bin/bash
# Build the end-to-end test guest into DIR: vmlinuz (Debian's cloud kernel,
# unpacked, not installed) and initrd.img (busybox, the host's qemu-ga and
# its libraries, the virtio (console, block), pvpanic and ext4 modules,
# tests/e2e/guest-init, outb for the ib700 watchdog, and softdog, loaded
# only on hb.softdog=).
# The result is reused while its inputs are unchanged.
set -euo pipefail

dir=${1:?usage: build-guest.sh DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
       awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [ -z "$kpkg" ]; then
    apt-get update -q >/dev/null
    kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
fi
stamp="$kpkg $(dpkg-query -W -f='${Version}' qemu-guest-agent busybox-static) $(cat "$0" "$here/guest-init" "$here/guest-outb.c" | md5sum)"
if [ -f "$dir/stamp" ] && [ "$(cat "$dir/stamp")" = "$stamp" ] &&
   [ -f "$dir/vmlinuz" ] && [ -f "$dir/initrd.img" ]; then
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -o APT::Sandbox::User=root "$kpkg" >/dev/null)
dpkg-deb -x "$work"/*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
mods="$work/kernel/lib/modules/$kver"

root="$work/root"
mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,run,tmp,usr/sbin,lib/modules}
cp /bin/busybox "$root/bin/busybox"
# outb: arms the emulated ib700 watchdog (s_watchdog).
${CC:-cc} -static -O2 -o "$root/bin/outb" "$here/guest-outb.c"
cp "$here/guest-init" "$root/init"
chmod 755 "$root/init"
# qemu-ga's guest-shutdown runs /sbin/shutdown -P|-H|-r +0 MESSAGE.
printf '#!/bin/sh\ncase "$1" in -r) exec reboot -f;; *) exec poweroff -f;; esac\n' > "$root/sbin/shutdown"
chmod 755 "$root/sbin/shutdown"
# qemu-ga's guest-set-time runs /sbin/hwclock; guest-get-osinfo reads os-release.
ln -s /bin/busybox "$root/sbin/hwclock"
printf 'NAME="virt-heartbeat test guest"\nID=hbtest\nPRETTY_NAME="virt-heartbeat test guest (busybox)"\nVERSION_ID="1"\n' > "$root/etc/os-release"

# qemu-ga with every library it loads, at the same paths.
cp /usr/sbin/qemu-ga "$root/usr/sbin/"
for lib in $(ldd /usr/sbin/qemu-ga | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# Modules with their dependencies, each after what it needs.
order=()
add_module() {
    local name=$1 file dep
    for m in "${order[@]}"; do [ "$m" = "$name" ] && return; done
    file=$(find "$mods" -name "$name.ko*" | head -n1)
    if [ -z "$file" ]; then
        grep -q "/$name.ko" "$mods/modules.builtin" && return
        echo "build-guest: module $name not found" >&2
        exit 1
    fi
    for dep in $(/sbin/modinfo -F depends "$file" | tr ',' ' '); do
        add_module "$dep"
    done
    order+=("$name")
    cp "$file" "$root/lib/modules/"
    echo "$(basename "$file")" >> "$root/etc/modules.order"
}
# virtio_blk, and ext4 (which mounts ext2): a disk with a filesystem to freeze.
for m in virtio_pci virtio_console virtio_blk pvpanic-mmio pvpanic-pci ext4; do
    add_module "$m"
done

# The cloud kernel has no driver for an emulated watchdog (i6300esb, ib700:
# CONFIG_I6300ESB_WDT and CONFIG_IB700_WDT are not set), only softdog, for
# busybox's watchdog applet (hb.softdog=, tests/bench/alternatives.sh). Not
# in modules.order: loaded only by that switch.
mkdir -p "$root/lib/modules/opt"
for m in watchdog softdog; do
    cp "$(find "$mods" -name "$m.ko*" | head -n1)" "$root/lib/modules/opt/$m.ko"
done

(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd.img.tmp"
cp "$work/kernel/boot/vmlinuz-$kver" "$dir/vmlinuz.tmp"
mv "$dir/initrd.img.tmp" "$dir/initrd.img"
mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
echo "$stamp" > "$dir/stamp"
echo "build-guest: $kver, $(du -h "$dir/initrd.img" | cut -f1) initrd in $dir"
