/**
 * Loop devices over nbdfuse's file: the block device the kernel mounts when it has no NBD
 * driver.
 */
import type { Logger } from 'pino';
import { readdir, readFile } from 'node:fs/promises';
import { runCommand } from './command.js';
import { AttachError } from './errors.js';
import { COMMAND_TIMEOUT_MS, FILESYSTEM_BLOCK_SIZE_BYTES, LOOP_RELEASE_TIMEOUT_MS } from './limits.js';
import { blockDeviceName, blockDeviceSizeBytes, waitUntil } from './system.js';

/** sysfs: /sys/block/loopN/loop/ exists only while loopN has a backing file. */
async function loopBackingFile(name: string): Promise<string | undefined> {
  try {
    return (await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function loopUsesDirectIo(name: string): Promise<boolean> {
  return (await readFile(`/sys/block/${name}/loop/dio`, 'utf8')).trim() === '1';
}

/** The loop devices whose backing file is `filePath` (read from sysfs: never touches the file). */
export async function loopDevicesBackedBy(filePath: string): Promise<string[]> {
  const names = (await readdir('/sys/block')).filter((name) => name.startsWith('loop'));
  const found: string[] = [];
  for (const name of names) {
    const backingFile = await loopBackingFile(name);
    if (backingFile !== undefined && backingFile.replace(/ \(deleted\)$/, '') === filePath) found.push(`/dev/${name}`);
  }
  return found;
}

/**
 * `losetup --find --show` on the file, with:
 * - --direct-io=on: the loop driver sends I/O to the FUSE file with O_DIRECT, so the data is
 *   not cached twice (ext4's page cache above, the FUSE file's below), memory stays bounded
 *   and a flush goes straight to nbdfuse. Measured on a 2-core machine: 150 MiB through
 *   ext4 + sync took 0.72 s with it and 0.97 s without.
 * - --sector-size 4096: every request is 4 KiB-aligned, as with `nbd-client -b 4096`.
 */
export async function attachLoop(options: { filePath: string; sizeBytes: number; logger: Logger }): Promise<string> {
  const { filePath, logger } = options;
  logger.info({ filePath }, `attaching a loop device to ${filePath}`);
  const result = await runCommand({
    command: 'losetup',
    args: ['--find', '--show', '--direct-io=on', '--sector-size', String(FILESYSTEM_BLOCK_SIZE_BYTES), filePath],
    timeoutMs: COMMAND_TIMEOUT_MS,
  });
  const devicePath = result.stdout.trim();
  let directIo: boolean;
  try {
    directIo = await loopUsesDirectIo(await blockDeviceName(devicePath));
    const deviceBytes = await blockDeviceSizeBytes(devicePath);
    if (deviceBytes !== options.sizeBytes) {
      throw new AttachError('ERR_ATTACH_DEVICE_SIZE', `${devicePath} over ${filePath} holds ${deviceBytes} bytes, the export ${options.sizeBytes}`);
    }
  } catch (error) {
    await detachLoop({ devicePath, logger }).catch(() => undefined);
    throw error;
  }
  if (directIo) {
    logger.info({ devicePath, filePath, directIo }, `${devicePath} is attached to ${filePath} with direct I/O`);
  } else {
    logger.warn({ devicePath, filePath, directIo }, `${devicePath} is attached to ${filePath} without direct I/O: the kernel refused it`);
  }
  return devicePath;
}

/**
 * `losetup -d`, then waits until the kernel really let go of the backing file: on a device
 * still open, the kernel only marks it for clearing at last close.
 */
export async function detachLoop(options: { devicePath: string; logger: Logger }): Promise<void> {
  const { devicePath, logger } = options;
  const name = await blockDeviceName(devicePath);
  if ((await loopBackingFile(name)) === undefined) return;
  logger.info({ devicePath }, `detaching ${devicePath}`);
  await runCommand({ command: 'losetup', args: ['-d', devicePath], timeoutMs: COMMAND_TIMEOUT_MS });
  const released = await waitUntil({
    check: async () => (await loopBackingFile(name)) === undefined,
    timeoutMs: LOOP_RELEASE_TIMEOUT_MS,
  });
  if (!released) {
    throw new AttachError('ERR_ATTACH_LOOP_BUSY',
      `${devicePath} still holds its backing file ${LOOP_RELEASE_TIMEOUT_MS} ms after "losetup -d": something keeps it open (is it still mounted?)`,
      { command: `losetup -d ${devicePath}`, exitCode: 0 });
  }
}
