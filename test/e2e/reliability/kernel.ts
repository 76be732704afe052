/**
 * The kernel side of ext4 on lsvd through nbdfuse (docs/ATTACH.md): clearing what a killed
 * daemon leaves behind, and checking the filesystem the way a machine does after a crash.
 *
 * After `kill -9` of `lsvd run --attach fuse`, nbdfuse lives on (it runs in its own process
 * group) but its NBD connection is gone, so the FUSE file, the loop device over it and the ext4
 * mount over that answer EIO. Nothing there can reach the store any more: whatever was not
 * uploaded is lost, which is what a crash means. The same run directory can only be used again
 * once the three layers are gone, top first: `umount -l`, `losetup -d`, `fusermount3 -u -z`.
 */

import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fusePaths } from '../../../daemon/attach/fuse.js';
import { loopDevicesBackedBy } from '../../../daemon/attach/loop.js';
import { isMountPoint } from '../../../daemon/attach/system.js';
import { run } from '../helpers/tools.js';
import { ReliabilityError } from './errors.js';

/** How long the kernel may take to let go of a loop device or a FUSE server after its unmount. */
const RELEASE_TIMEOUT_MS = 15_000;
/** nbdfuse gets this long after SIGTERM before SIGKILL. */
const NBDFUSE_KILL_GRACE_MS = 2_000;
const POLL_MS = 100;

export interface DeadAttachmentReport {
  /** The ext4 mount point that was lazily unmounted, if it was still mounted. */
  unmounted: string | undefined;
  /** Loop devices detached from the dead FUSE file. */
  loopDevices: string[];
  fuseUnmounted: boolean;
  /** nbdfuse had to be signalled after its FUSE mount was gone. */
  nbdfuseKilled: boolean;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  for (let waitedMs = 0; waitedMs < timeoutMs; waitedMs += POLL_MS) {
    if (await check()) return true;
    await sleep(POLL_MS);
  }
  return check();
}

async function nbdfusePid(pidPath: string): Promise<number | undefined> {
  const pid = Number.parseInt(await readFile(pidPath, 'utf8').catch(() => ''), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const command = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return command.trim() === 'nbdfuse' ? pid : undefined;
}

/** nbdfuse(1) asks to be stopped by unmounting; only one that outlives its mount is signalled, by pid. */
async function stopOrphanedNbdfuse(pidPath: string): Promise<boolean> {
  if (await waitFor(async () => (await nbdfusePid(pidPath)) === undefined, RELEASE_TIMEOUT_MS)) return false;
  const pid = await nbdfusePid(pidPath);
  if (pid === undefined) return false;
  process.kill(pid, 'SIGTERM');
  if (!(await waitFor(async () => (await nbdfusePid(pidPath)) === undefined, NBDFUSE_KILL_GRACE_MS))) process.kill(pid, 'SIGKILL');
  return true;
}

/**
 * Removes the ext4 mount, the loop device and nbdfuse's FUSE mount a dead `lsvd run --attach
 * fuse` left for `runDirectory`. Idempotent: what is already gone is skipped. Only devices
 * backed by this run directory's FUSE file are touched, never another one's.
 */
export async function clearDeadAttachment(options: { mountPoint: string; runDirectory: string }): Promise<DeadAttachmentReport> {
  const paths = fusePaths(options.runDirectory);
  const report: DeadAttachmentReport = { unmounted: undefined, loopDevices: [], fuseUnmounted: false, nbdfuseKilled: false };
  if (await isMountPoint(options.mountPoint)) {
    // Lazy: the filesystem cannot write back through a dead device, so a plain umount could fail.
    await run('umount', ['-l', options.mountPoint]);
    report.unmounted = options.mountPoint;
  }
  report.loopDevices = await loopDevicesBackedBy(paths.filePath);
  for (const devicePath of report.loopDevices) await run('losetup', ['-d', devicePath]);
  if (await isMountPoint(paths.mountDirectory)) {
    await run('fusermount3', ['-u', '-z', paths.mountDirectory]);
    report.fuseUnmounted = true;
  }
  report.nbdfuseKilled = await stopOrphanedNbdfuse(paths.pidPath);
  // The kernel clears a loop device at its last close: the lazily unmounted ext4 must let go first.
  if (!(await waitFor(async () => (await loopDevicesBackedBy(paths.filePath)).length === 0, RELEASE_TIMEOUT_MS))) {
    const left = await loopDevicesBackedBy(paths.filePath);
    throw new ReliabilityError('ERR_RELIABILITY_CLEANUP_FAILED',
      `${left.join(', ')} still use ${paths.filePath} ${RELEASE_TIMEOUT_MS} ms after "losetup -d" (a process still has files open on the old mount?)`);
  }
  return report;
}

/** Unmounts `mountPoint` if it is mounted; a busy mount is detached lazily rather than left behind. */
export async function unmountQuietly(mountPoint: string): Promise<void> {
  if (!(await isMountPoint(mountPoint))) return;
  await run('umount', [mountPoint]).catch(() => run('umount', ['-l', mountPoint]));
}

export async function mountExt4(options: { devicePath: string; mountPoint: string; readOnly: boolean }): Promise<void> {
  await run('mount', ['-t', 'ext4', ...(options.readOnly ? ['-o', 'ro'] : []), options.devicePath, options.mountPoint]);
}

export interface FilesystemCheck {
  /** The superblock said `needs_recovery`: the crash left journal transactions to replay. */
  journalNeededReplay: boolean;
  /** The whole output of `fsck.ext4 -fn` after the replay. */
  fsckOutput: string;
}

/**
 * What a machine does after a crash, then a strict check:
 * 1. `mount` + `umount`: the kernel replays the ext4 journal, exactly as at the next boot.
 *    (`fsck.ext4 -fn` on an unreplayed journal skips it: "skipping journal recovery because
 *    doing a read-only filesystem check", and then reports the blocks and counts the journal
 *    would have fixed.)
 * 2. `fsck.ext4 -fn`: a forced full check that changes nothing; it must exit 0 and answer no
 *    question at all (e2fsck -n prints every problem it would fix as "...? no").
 */
export async function replayJournalAndCheck(options: { devicePath: string; mountPoint: string }): Promise<FilesystemCheck> {
  const superblock = await run('dumpe2fs', ['-h', options.devicePath]);
  const journalNeededReplay = /^Filesystem features:.*\bneeds_recovery\b/m.test(superblock);
  await mountExt4({ devicePath: options.devicePath, mountPoint: options.mountPoint, readOnly: false });
  await run('umount', [options.mountPoint]);
  let fsckOutput: string;
  try {
    fsckOutput = await run('fsck.ext4', ['-fn', options.devicePath]);
  } catch (error) {
    const { stdout, stderr, code } = error as { stdout?: string; stderr?: string; code?: unknown };
    throw new ReliabilityError('ERR_RELIABILITY_FSCK_DIRTY',
      `fsck.ext4 -fn ${options.devicePath} exited with ${String(code)}:\n${stdout ?? ''}${stderr ?? ''}`, { cause: error });
  }
  const questions = fsckOutput.split('\n').filter((line) => /\? no$/.test(line.trim()));
  if (questions.length > 0) {
    throw new ReliabilityError('ERR_RELIABILITY_FSCK_DIRTY',
      `fsck.ext4 -fn ${options.devicePath} exited 0 but would fix ${questions.length} things:\n${fsckOutput}`);
  }
  return { journalNeededReplay, fsckOutput };
}
