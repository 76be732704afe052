#!/bin/busybox sh
# /init of the kernel-NBD virtual machine. Runs one phase named on the kernel command line
# against the NBD server the host forwards to 10.0.2.100:10809, prints "@@ RESULT: PASS" or
# "@@ RESULT: FAIL <why>" on the serial console, and powers off.
#
# Kernel command line:
#   lsvd.phase=write|verify|shell   what to do
#   lsvd.export=NAME                export name for nbd-client -N (default export if absent)
#   lsvd.files=N                    write: how many small files (default 48)
#   lsvd.big_mib=M                  write: size of the one large file in MiB (default 24)
#
# write:  attach, mkfs.ext4, mount, write the tree, record SHA-256 sums in /mnt/SHA256SUMS,
#         sync, umount, detach. Prints every sum as "@@ SUM <sha256>  <path>".
# verify: attach, e2fsck -fn must be clean, mount read-only, recompute every sum and compare it
#         with SHA256SUMS, umount, detach. Prints the recomputed sums the same way.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null

uptime_seconds() { cut -d' ' -f1 /proc/uptime; }
since() { awk "BEGIN { print $(uptime_seconds) - $1 }"; }
log() { echo "@@ [$(uptime_seconds)s] $*"; }
finish() {
  log "RESULT: $*"
  sync
  poweroff -f
}
fail() {
  dmesg | tail -15 | sed 's/^/@@ dmesg: /'
  umount /mnt 2>/dev/null
  nbd-client -d /dev/nbd0 >/dev/null 2>&1
  finish "FAIL $*"
}

PHASE=''
EXPORT=''
FILES=48
BIG_MIB=24
for argument in $(cat /proc/cmdline); do
  case "$argument" in
    lsvd.phase=*) PHASE=${argument#*=} ;;
    lsvd.export=*) EXPORT=${argument#*=} ;;
    lsvd.files=*) FILES=${argument#*=} ;;
    lsvd.big_mib=*) BIG_MIB=${argument#*=} ;;
  esac
done
log "kernel $(uname -r), phase '$PHASE', export '$EXPORT'"

for module in $(cat /modules.order); do
  insmod "/lib/modules/$(uname -r)/$module" || fail "insmod $module"
done
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2 || fail "network setup"

attach() {
  # The same flags lsvd's kernel attach uses: 4 KiB blocks, a request timeout, the export name.
  if [ -n "$EXPORT" ]; then
    nbd-client 10.0.2.100 10809 /dev/nbd0 -b 4096 -t 30 -N "$EXPORT" || fail "nbd-client rc=$?"
  else
    nbd-client 10.0.2.100 10809 /dev/nbd0 -b 4096 -t 30 || fail "nbd-client rc=$?"
  fi
  log "attached /dev/nbd0: $(cat /sys/block/nbd0/size) sectors of 512 bytes"
}

detach() {
  nbd-client -d /dev/nbd0 || fail "nbd-client -d rc=$?"
  log "detached /dev/nbd0"
}

# Sizes from 0 bytes to about 1 MiB, with page-aligned, unaligned and tiny ones; the content is
# random (every block differs), and the host keeps the sums the write phase prints.
file_size() {
  i=$1
  case $((i % 4)) in
    0) echo $(( (i * 7919) % 5000 )) ;;
    1) echo $(( ((i * 31) % 64) * 4096 )) ;;
    2) echo $(( (i * 104729) % 1048576 )) ;;
    3) echo $(( ((i * 13) % 8) * 4096 + 1 )) ;;
  esac
}

sums() {
  (cd /mnt && find tree big.bin -type f | sort | xargs sha256sum)
}

phase_write() {
  attach
  start=$(uptime_seconds)
  # Inode tables are zeroed lazily by the kernel: correct on any export, fresh or not.
  mkfs.ext4 -q -b 4096 -E nodiscard,lazy_itable_init=1 /dev/nbd0 || fail "mkfs.ext4 rc=$?"
  mount -t ext4 /dev/nbd0 /mnt || fail "mount rc=$?"
  log "mkfs.ext4 and mount took $(since "$start")s"
  start=$(uptime_seconds)
  i=0
  while [ "$i" -lt "$FILES" ]; do
    directory=/mnt/tree/d$((i % 8))/e$((i % 3))
    mkdir -p "$directory"
    head -c "$(file_size "$i")" /dev/urandom > "$directory/f$i.bin" || fail "writing f$i.bin"
    i=$((i + 1))
  done
  log "wrote $FILES files in $(since "$start")s"
  start=$(uptime_seconds)
  dd if=/dev/urandom of=/mnt/big.bin bs=1048576 count="$BIG_MIB" conv=fsync 2>/dev/null || fail "writing big.bin"
  log "wrote big.bin (${BIG_MIB} MiB, fsync) in $(since "$start")s"
  start=$(uptime_seconds)
  sums > /mnt/SHA256SUMS || fail "sha256sum"
  sync
  log "summed and synced in $(since "$start")s"
  sed 's/^/@@ SUM /' /mnt/SHA256SUMS
  umount /mnt || fail "umount rc=$?"
  detach
  finish PASS
}

phase_verify() {
  attach
  start=$(uptime_seconds)
  e2fsck -fn /dev/nbd0 > /tmp/e2fsck.log 2>&1
  rc=$?
  sed 's/^/@@ e2fsck: /' /tmp/e2fsck.log
  log "e2fsck -fn took $(since "$start")s"
  [ "$rc" -eq 0 ] || fail "e2fsck -fn rc=$rc"
  mount -t ext4 -o ro /dev/nbd0 /mnt || fail "mount -o ro rc=$?"
  [ -s /mnt/SHA256SUMS ] || fail "no SHA256SUMS on the filesystem"
  start=$(uptime_seconds)
  sums > /tmp/recomputed || fail "sha256sum"
  sed 's/^/@@ SUM /' /tmp/recomputed
  cmp -s /tmp/recomputed /mnt/SHA256SUMS || fail "checksums differ from SHA256SUMS: $(diff /mnt/SHA256SUMS /tmp/recomputed | grep '^[-+][0-9a-f]' | head -3 | tr '\n' ' ')"
  log "$(wc -l < /tmp/recomputed) files match SHA256SUMS (summed in $(since "$start")s)"
  umount /mnt || fail "umount rc=$?"
  detach
  finish PASS
}

case "$PHASE" in
  write) phase_write ;;
  verify) phase_verify ;;
  shell) exec sh ;;
  *) fail "unknown phase '$PHASE'" ;;
esac
