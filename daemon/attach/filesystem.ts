/**
 * Finding, creating and growing the ext4 filesystem on the attached device.
 */
import type { Logger } from 'pino';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runCommand } from './command.js';
import { AttachError } from './errors.js';
import { COMMAND_TIMEOUT_MS, FILESYSTEM_BLOCK_SIZE_BYTES, FILESYSTEM_COMMAND_TIMEOUT_MS } from './limits.js';
import { blockDeviceSizeBytes, isMountPoint } from './system.js';

/** blkid(8) "RETURN CODE": 2 = nothing found, 8 = ambivalent low-level probing result. */
const BLKID_EXIT_NOTHING_FOUND = 2;
const BLKID_EXIT_AMBIVALENT = 8;

/**
 * True when blkid's low-level probe (-p: no cache, reads the device itself) finds any
 * filesystem or partition-table signature. A partition table counts: lsvd never formats over
 * something it did not recognise.
 */
export async function hasFilesystem(devicePath: string): Promise<boolean> {
  const result = await runCommand({
    command: 'blkid',
    args: ['-p', '-o', 'export', devicePath],
    timeoutMs: COMMAND_TIMEOUT_MS,
    okExitCodes: [0, BLKID_EXIT_NOTHING_FOUND, BLKID_EXIT_AMBIVALENT],
  });
  if (result.exitCode === BLKID_EXIT_AMBIVALENT) {
    throw new AttachError('ERR_ATTACH_AMBIVALENT_SIGNATURE',
      `${devicePath} carries several conflicting signatures; lsvd will neither format nor mount it (inspect it with "wipefs ${devicePath}")`,
      { command: `blkid -p ${devicePath}`, exitCode: result.exitCode });
  }
  return result.exitCode === 0;
}

/**
 * The mkfs.ext4 extended options (mke2fs(8) "-E"), decided once:
 * - nodiscard: mke2fs's discard cannot spare any zeroing (BLKDISCARDZEROES answers 0 on every
 *   kernel since 4.12), and on a fresh volume it only adds a TRIM per chunk of the whole device
 *   to the log. Space freed later is returned with fstrim.
 * - a volume lsvd knows was never written reads as zeros everywhere, so
 *   assume_storage_prezeroed=1 skips zeroing the journal and the inode tables and marks them
 *   zeroed: mkfs writes only metadata and the kernel starts no background zeroing.
 * - otherwise lazy_itable_init=1 keeps mkfs short and lets the kernel zero the inode tables in
 *   the background after mount (with WRITE_ZEROES where the device offers it), while the
 *   journal is still zeroed by mke2fs: stale blocks in a journal could be replayed after a crash.
 */
export function mkfsExtendedOptions(devicePrezeroed: boolean): string {
  return devicePrezeroed ? 'nodiscard,assume_storage_prezeroed=1' : 'nodiscard,lazy_itable_init=1';
}

export async function makeFilesystem(options: {
  devicePath: string;
  logger: Logger;
  /** The caller knows the device reads as zeros everywhere (a volume never written). */
  devicePrezeroed?: boolean;
}): Promise<void> {
  const extendedOptions = mkfsExtendedOptions(options.devicePrezeroed ?? false);
  options.logger.info({ devicePath: options.devicePath, extendedOptions },
    `no filesystem found on ${options.devicePath}: creating ext4`);
  // -b: filesystem blocks are lsvd's 4 KiB sectors, whatever the device size (mke2fs.conf would
  // pick 1 KiB blocks below 512 MiB). No -F: if a signature appeared since the probe, mke2fs
  // asks for confirmation, reads end-of-file on stdin and refuses.
  await runCommand({
    command: 'mkfs.ext4',
    args: ['-q', '-b', String(FILESYSTEM_BLOCK_SIZE_BYTES), '-E', extendedOptions, options.devicePath],
    timeoutMs: FILESYSTEM_COMMAND_TIMEOUT_MS,
  });
}

export interface FilesystemGeometry {
  blockCount: number;
  blockSizeBytes: number;
}

/** Reads "Block count:" and "Block size:" from `dumpe2fs -h` output. */
export function parseDumpe2fsHeader(text: string): FilesystemGeometry {
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s*$`, 'm').exec(text);
    assert(match?.[1] !== undefined, `dumpe2fs printed no "${name}"`);
    return Number.parseInt(match[1], 10);
  };
  return { blockCount: field('Block count'), blockSizeBytes: field('Block size') };
}

async function readGeometry(devicePath: string): Promise<FilesystemGeometry> {
  const result = await runCommand({ command: 'dumpe2fs', args: ['-h', devicePath], timeoutMs: COMMAND_TIMEOUT_MS });
  return parseDumpe2fsHeader(result.stdout);
}

/** e2fsck(8) "EXIT CODE": 0 no errors, 1 errors corrected; anything else is not a safe start. */
const E2FSCK_EXIT_CORRECTED = 1;

/** capabilities(7): ext4's online resize ioctl demands CAP_SYS_RESOURCE (bit 24). */
const CAP_SYS_RESOURCE_BIT = 24n;

async function hasCapSysResource(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8');
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return match?.[1] !== undefined && ((BigInt(`0x${match[1]}`) >> CAP_SYS_RESOURCE_BIT) & 1n) === 1n;
}

/** Online: resize2fs on the mounted filesystem; the kernel does the work. */
async function growOnline(devicePath: string): Promise<void> {
  if (!(await hasCapSysResource())) {
    throw new AttachError('ERR_ATTACH_RESIZE_NOT_PERMITTED',
      `Cannot grow the mounted filesystem on ${devicePath}: online resize needs CAP_SYS_RESOURCE, which this process lacks; `
      + 'grow it before mounting instead', { command: `resize2fs ${devicePath}` });
  }
  await runCommand({ command: 'resize2fs', args: [devicePath], timeoutMs: FILESYSTEM_COMMAND_TIMEOUT_MS });
}

/** Offline: resize2fs insists on a fresh full check first; -p repairs only what is safe. */
async function growOffline(devicePath: string): Promise<void> {
  await runCommand({ command: 'e2fsck', args: ['-f', '-p', devicePath], timeoutMs: FILESYSTEM_COMMAND_TIMEOUT_MS, okExitCodes: [0, E2FSCK_EXIT_CORRECTED] });
  await runCommand({ command: 'resize2fs', args: [devicePath], timeoutMs: FILESYSTEM_COMMAND_TIMEOUT_MS });
}

/**
 * Grows the ext4 filesystem to fill its device when the device became larger (the volume's
 * size was raised). Mounted at `mountPoint`: online, which needs CAP_SYS_RESOURCE. Not mounted:
 * offline, after `e2fsck -f -p`; this works without that capability, so `lsvd run` grows before
 * it mounts. resize2fs may leave off a last block group too small to hold its own metadata, so
 * `grown` reports what really changed.
 */
export async function growFilesystemIfNeeded(options: { devicePath: string; mountPoint: string; logger: Logger }): Promise<{ grown: boolean }> {
  const { devicePath, logger } = options;
  const mounted = await isMountPoint(options.mountPoint);
  const deviceBytes = await blockDeviceSizeBytes(devicePath);
  const before = await readGeometry(devicePath);
  const filesystemBytes = before.blockCount * before.blockSizeBytes;
  if (deviceBytes - filesystemBytes < before.blockSizeBytes) {
    logger.info({ devicePath, deviceBytes, filesystemBytes }, `the filesystem on ${devicePath} fills the device: nothing to grow`);
    return { grown: false };
  }
  logger.info({ devicePath, deviceBytes, filesystemBytes, online: mounted },
    `growing the filesystem on ${devicePath} from ${filesystemBytes} to ${deviceBytes} bytes (${mounted ? 'online' : 'offline'})`);
  await (mounted ? growOnline(devicePath) : growOffline(devicePath));
  const after = await readGeometry(devicePath);
  const grown = after.blockCount > before.blockCount;
  logger.info({ devicePath, filesystemBytes: after.blockCount * after.blockSizeBytes },
    grown ? `the filesystem on ${devicePath} now holds ${after.blockCount} blocks` : `resize2fs left ${devicePath} as it was`);
  return { grown };
}
