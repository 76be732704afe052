#!/usr/bin/env bash
# Installs the Debian packages that the tests and benchmarks drive: real NBD clients and servers,
# filesystem tools, the kernel-in-qemu harness and the peers used for comparison.
# Idempotent: packages already installed are skipped, so a second run costs no network.
set -euo pipefail

packages=(
  nbdkit libnbd-bin qemu-utils fio fuse3 e2fsprogs util-linux
  qemu-system-x86 busybox-static socat nbd-client
  postgresql s3backer
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-debian-packages: missing ${missing[*]}; run this script as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
