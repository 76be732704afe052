/**
 * Mounting the volume's ext4 filesystem, and unmounting it robustly.
 */
import type { Logger } from 'pino';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { runCommand } from './command.js';
import { MOUNT_TIMEOUT_MS } from './limits.js';
import { unmountWithRetry } from './unmount.js';

export interface MountedFilesystem {
  mountPoint: string;
  /** Retries while the mount is busy, then fails with ERR_ATTACH_UNMOUNT_BUSY; idempotent. */
  unmount(): Promise<void>;
}

export async function mountFilesystem(options: { devicePath: string; mountPoint: string; logger: Logger }): Promise<MountedFilesystem> {
  const mountPoint = resolve(options.mountPoint);
  const logger = options.logger;
  await mkdir(mountPoint, { recursive: true });
  logger.info({ devicePath: options.devicePath, mountPoint }, `mounting ${options.devicePath} on ${mountPoint}`);
  // -t ext4: never let mount guess a type from a signature lsvd did not write.
  await runCommand({ command: 'mount', args: ['-t', 'ext4', options.devicePath, mountPoint], timeoutMs: MOUNT_TIMEOUT_MS });
  let unmounting: Promise<void> | undefined;
  const unmount = async (): Promise<void> => {
    logger.info({ devicePath: options.devicePath, mountPoint }, `unmounting ${mountPoint}`);
    await unmountWithRetry({ command: 'umount', args: [mountPoint], mountPoint, logger });
  };
  return {
    mountPoint,
    unmount: () => {
      // A failed attempt may be tried again; a successful one is not repeated.
      unmounting ??= unmount().catch((error: unknown) => {
        unmounting = undefined;
        throw error;
      });
      return unmounting;
    },
  };
}
