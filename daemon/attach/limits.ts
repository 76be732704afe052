/**
 * The limits of attaching a volume to the machine, each named once with its unit.
 * Every child process runs under one of these timeouts: a hung tool must never hang `lsvd run`.
 */

/** One quick tool run: blkid, losetup, nbdinfo, nbd-client, dumpe2fs, fusermount3. */
export const COMMAND_TIMEOUT_MS = 30_000;

/** mkfs.ext4, e2fsck and resize2fs touch metadata across the whole device. */
export const FILESYSTEM_COMMAND_TIMEOUT_MS = 600_000;

/** mount may replay the ext4 journal first. */
export const MOUNT_TIMEOUT_MS = 120_000;

/** From starting nbdfuse until its file exists with the export's size. */
export const FUSE_READY_TIMEOUT_MS = 30_000;

/** How long nbdfuse may take to exit after its FUSE mount is gone, before it is killed. */
export const FUSE_EXIT_TIMEOUT_MS = 10_000;

/** After losetup -d, how long the kernel may take to let go of the backing file. */
export const LOOP_RELEASE_TIMEOUT_MS = 10_000;

/** modprobe nbd creates /dev/nbd0 asynchronously (udev or devtmpfs); wait this long for it. */
export const NBD_DEVICE_APPEAR_TIMEOUT_MS = 2_000;

/** The step between two looks at something that becomes true asynchronously. */
export const POLL_INTERVAL_MS = 50;

/** umount and fusermount3 -u answer EBUSY while a process still holds the mount. */
export const UNMOUNT_ATTEMPTS_MAX = 5;
export const UNMOUNT_RETRY_DELAY_MS = 1_000;

/** Between SIGTERM and SIGKILL for a child that outlived its timeout. */
export const KILL_GRACE_MS = 2_000;

/** A failure reports this many of the command's last stderr lines. */
export const STDERR_TAIL_LINES_MAX = 10;

/** Output kept per stream of a child; the tools used here print far less. */
export const OUTPUT_CAPTURE_MAX_BYTES = 1024 * 1024;

/** Filesystem blocks match lsvd's 4 KiB sectors (logformat/limits.ts SECTOR_SIZE_BYTES). */
export const FILESYSTEM_BLOCK_SIZE_BYTES = 4096;
