/**
 * The attach mode for kernels with the NBD driver: Debian's nbd-client hands the kernel a
 * connection to lsvd's Unix socket and /dev/nbdN becomes the volume.
 */
import type { Logger } from 'pino';
import type { AttachedDevice } from './device.js';
import { runCommand } from './command.js';
import { onceUntilSuccess } from './device.js';
import { AttachError } from './errors.js';
import { COMMAND_TIMEOUT_MS, FILESYSTEM_BLOCK_SIZE_BYTES, NBD_DEVICE_APPEAR_TIMEOUT_MS } from './limits.js';
import { blockDeviceSizeBytes, pathExists, waitUntil } from './system.js';

/** True when the nbd driver is loaded, or `modprobe nbd` loads it and /dev/nbd0 appears. Never throws. */
export async function kernelNbdAvailable(): Promise<boolean> {
  if (await pathExists('/sys/module/nbd')) return true;
  try {
    await runCommand({ command: 'modprobe', args: ['nbd'], timeoutMs: COMMAND_TIMEOUT_MS });
  } catch {
    return false;
  }
  return waitUntil({ check: () => pathExists('/dev/nbd0'), timeoutMs: NBD_DEVICE_APPEAR_TIMEOUT_MS });
}

export interface KernelAttachOptions {
  socketPath: string;
  devicePath: string;
  exportName: string;
  /** The kernel fails a request (EIO) after this long without a reply; see ATTACH.md. */
  timeoutSeconds: number;
}

/**
 * nbd-client(8) 3.24: `-unix` takes no argument, the host positional is the socket path;
 * -b 4096 makes every request a whole lsvd sector; -N names the export (NBD_OPT_GO).
 */
export function kernelAttachArguments(options: KernelAttachOptions): string[] {
  return [
    '-unix', options.socketPath, options.devicePath,
    '-b', String(FILESYSTEM_BLOCK_SIZE_BYTES),
    '-N', options.exportName,
    '-t', String(options.timeoutSeconds),
  ];
}

export async function attachKernel(options: KernelAttachOptions & { logger: Logger }): Promise<AttachedDevice> {
  const { devicePath, logger } = options;
  logger.info({ devicePath, socketPath: options.socketPath, exportName: options.exportName },
    `connecting the kernel to ${devicePath}`);
  await runCommand({ command: 'nbd-client', args: kernelAttachArguments(options), timeoutMs: COMMAND_TIMEOUT_MS });
  const disconnect = async (): Promise<void> => {
    logger.info({ devicePath }, `disconnecting the kernel from ${devicePath}`);
    await runCommand({ command: 'nbd-client', args: ['-d', devicePath], timeoutMs: COMMAND_TIMEOUT_MS });
  };
  const deviceBytes = await blockDeviceSizeBytes(devicePath).catch(() => 0);
  if (deviceBytes === 0) {
    await disconnect().catch(() => undefined);
    throw new AttachError('ERR_ATTACH_DEVICE_SIZE', `nbd-client succeeded but ${devicePath} shows no size`,
      { command: `nbd-client ${kernelAttachArguments(options).join(' ')}`, exitCode: 0 });
  }
  logger.info({ devicePath, deviceBytes }, `${devicePath} is connected (${deviceBytes} bytes)`);
  return { devicePath, detach: onceUntilSuccess(disconnect) };
}
