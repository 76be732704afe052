#!/usr/bin/env bash
# Prepares, once, what the kernel-NBD virtual machine boots: Debian's cloud kernel (downloaded
# with apt-get download and unpacked with dpkg-deb -x; never installed on this host) and an
# initramfs holding busybox, nbd.ko with virtio networking, nbd-client, mke2fs/e2fsck and
# guest-init.sh as /init. Everything lives under the cache directory; a second run downloads
# nothing and rebuilds the initramfs only when one of its inputs changed.
#
# Usage: prepare.sh [CACHE_DIR]      (default: <repo>/.cache/kernel-vm)
# Env:   LSVD_KERNEL_PACKAGE         a linux-image-*-cloud-amd64 package to use instead of the
#                                    one linux-image-cloud-amd64 depends on
# Prints on stdout, last: "kernel=<path>" and "initramfs=<path>". Progress goes to stderr.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:-$repo/.cache/kernel-vm}
# The lock is held until this script exits: concurrent test files prepare one at a time.
lock_timeout_seconds=900
# The modules the guest loads, each after its dependencies (modules.dep order).
guest_modules=(virtio_pci virtio_net nbd)
# Host binaries copied into the guest with their shared libraries, as guest path=host path.
guest_binaries=(
  /usr/sbin/nbd-client=/usr/sbin/nbd-client
  /sbin/mke2fs=/sbin/mke2fs
  /sbin/e2fsck=/sbin/e2fsck
)

say() { echo "kernel-vm: $*" >&2; }
die() { say "$*"; exit 1; }

for tool in apt-get apt-cache dpkg-deb ldd gzip flock sha256sum /bin/busybox /usr/sbin/nbd-client /sbin/mke2fs /sbin/e2fsck; do
  command -v "$tool" >/dev/null || die "missing $tool (run scripts/install-debian-packages.sh as root)"
done
ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked: install busybox-static"

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w "$lock_timeout_seconds" 9 || die "another prepare.sh held $cache/.lock for ${lock_timeout_seconds}s"

# 1. The kernel package: chosen once, then kept, so a later apt-get update changes nothing.
if [ -n "${LSVD_KERNEL_PACKAGE:-}" ]; then
  package=$LSVD_KERNEL_PACKAGE
elif [ -s "$cache/kernel-package" ]; then
  package=$(cat "$cache/kernel-package")
else
  package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
    | sed -n 's/.*Depends: \(linux-image-[0-9][^ ]*\)/\1/p' | head -1)
  [ -n "$package" ] || die "apt knows no linux-image-cloud-amd64: run apt-get update"
fi
echo "$package" > "$cache/kernel-package"

kernel_root=$cache/kernel/$package
if [ ! -d "$kernel_root/boot" ]; then
  mkdir -p "$cache/debs"
  if ! ls "$cache/debs/${package}_"*.deb >/dev/null 2>&1; then
    say "downloading $package"
    (cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$package" >&2) || die "apt-get download $package failed"
  fi
  rm -rf "$kernel_root.partial"
  mkdir -p "$kernel_root.partial"
  dpkg-deb -x "$cache/debs/${package}_"*.deb "$kernel_root.partial"
  mv "$kernel_root.partial" "$kernel_root"
fi
kernel_version=$(ls "$kernel_root/lib/modules")
kernel=$(ls "$kernel_root"/boot/vmlinuz-*)
modules_dep=$kernel_root/lib/modules/$kernel_version/modules.dep
[ -f "$modules_dep" ] || /bin/busybox depmod -b "$kernel_root" "$kernel_version"

# 2. The initramfs, rebuilt when any input changes (this script, /init, the host binaries).
initramfs=$cache/initramfs-$kernel_version.cpio.gz
stamp=$( (cat "$0" "$here/guest-init.sh" /bin/busybox /etc/mke2fs.conf; for b in "${guest_binaries[@]}"; do cat "${b#*=}"; done; echo "$kernel_version") | sha256sum | cut -d' ' -f1)
if [ -f "$initramfs" ] && [ "$(cat "$initramfs.stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "kernel=$kernel"
  echo "initramfs=$initramfs"
  exit 0
fi

say "building the initramfs for $kernel_version"
root=$cache/initramfs-root
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/sbin,etc,proc,sys,dev,mnt,tmp,lib/modules/"$kernel_version"}
cp /bin/busybox "$root/bin/busybox"

# modules.dep: "path: dependency dependency ..." where each dependency comes after what needs it.
: > "$root/modules.order"
for module in "${guest_modules[@]}"; do
  line=$(grep -E "/$module\.ko(\.xz|\.zst)?:" "$modules_dep") || die "$kernel_version has no $module module"
  for path in $(echo "${line#*:}" | tr ' ' '\n' | tac) "${line%%:*}"; do
    grep -qx "$path" "$root/modules.order" || echo "$path" >> "$root/modules.order"
  done
done
while read -r path; do
  mkdir -p "$root/lib/modules/$kernel_version/$(dirname "$path")"
  cp "$kernel_root/lib/modules/$kernel_version/$path" "$root/lib/modules/$kernel_version/$path"
done < "$root/modules.order"

copy_binary() {
  local guest_path=$1 host_path=$2 library
  mkdir -p "$root$(dirname "$guest_path")"
  cp -L "$host_path" "$root$guest_path"
  for library in $(ldd "$host_path" | grep -oE '/[^ ]+\.so[^ ]*'); do
    mkdir -p "$root$(dirname "$library")"
    cp -L "$library" "$root$library"
  done
}
for binary in "${guest_binaries[@]}"; do copy_binary "${binary%%=*}" "${binary#*=}"; done
ln -s mke2fs "$root/sbin/mkfs.ext4"
cp /etc/mke2fs.conf "$root/etc/mke2fs.conf"
cp "$here/guest-init.sh" "$root/init"
chmod +x "$root/init"

(cd "$root" && find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1) > "$initramfs.partial"
mv "$initramfs.partial" "$initramfs"
echo "$stamp" > "$initramfs.stamp"
rm -rf "$root"
say "initramfs ready: $initramfs ($(du -h "$initramfs" | cut -f1))"
echo "kernel=$kernel"
echo "initramfs=$initramfs"
