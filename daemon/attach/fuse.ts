/**
 * The attach mode for kernels without NBD: nbdfuse shows the export as one FUSE file, a loop
 * device turns that file into a block device.
 */
import type { Logger } from 'pino';
import type { AttachedDevice } from './device.js';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runCommand } from './command.js';
import { onceUntilSuccess } from './device.js';
import { AttachError } from './errors.js';
import { COMMAND_TIMEOUT_MS } from './limits.js';
import { attachLoop, detachLoop, loopDevicesBackedBy } from './loop.js';
import type { NbdfuseProcess } from './nbdfuse.js';
import { nbdUnixUri, startNbdfuse, stopNbdfuse, waitForNbdfuse } from './nbdfuse.js';
import { isMountPoint } from './system.js';

interface FusePaths {
  /** nbdfuse's mount point, a directory of its own. */
  mountDirectory: string;
  /** The one file nbdfuse shows in it. */
  filePath: string;
  pidPath: string;
}

export function fusePaths(runDirectory: string): FusePaths {
  const mountDirectory = join(resolve(runDirectory), 'nbd');
  return { mountDirectory, filePath: join(mountDirectory, 'disk'), pidPath: join(resolve(runDirectory), 'nbdfuse.pid') };
}

/** `nbdinfo --size` fails fast, with the server's own words, when the export is not there. */
async function exportSizeBytes(uri: string): Promise<number> {
  const result = await runCommand({ command: 'nbdinfo', args: ['--size', uri], timeoutMs: COMMAND_TIMEOUT_MS });
  const sizeBytes = Number.parseInt(result.stdout.trim(), 10);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes <= 0) {
    throw new AttachError('ERR_ATTACH_DEVICE_SIZE', `nbdinfo reports an unusable size "${result.stdout.trim()}" for ${uri}`);
  }
  return sizeBytes;
}

/**
 * Whether the nbdfuse named by the pid file still runs. (A stat of the FUSE file is no test:
 * the kernel answers it from its attribute cache for a while after the server died.)
 */
async function nbdfuseAlive(pidPath: string): Promise<boolean> {
  const pid = Number.parseInt(await readFile(pidPath, 'utf8').catch(() => ''), 10);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const command = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  return command.trim() === 'nbdfuse';
}

/**
 * A FUSE mount left by a crashed run answers ENOTCONN: unmount it lazily, unless a loop device
 * (maybe under a mounted filesystem) still uses it, which only the operator may resolve.
 */
async function clearStaleFuseMount(options: { paths: FusePaths; logger: Logger }): Promise<void> {
  const { paths, logger } = options;
  if (!(await isMountPoint(paths.mountDirectory))) return;
  const loops = await loopDevicesBackedBy(paths.filePath);
  if (await nbdfuseAlive(paths.pidPath)) {
    throw new AttachError('ERR_ATTACH_FUSE_IN_USE',
      `A running nbdfuse already serves ${paths.mountDirectory}${loops.length > 0 ? ` (used by ${loops.join(', ')})` : ''}`);
  }
  if (loops.length > 0) {
    throw new AttachError('ERR_ATTACH_STALE_DEVICE',
      `${loops.join(', ')} still use the dead FUSE file ${paths.filePath} of an earlier run: unmount what is on them, "losetup -d" them, then start again`);
  }
  logger.warn({ mountDirectory: paths.mountDirectory }, `unmounting the dead FUSE mount an earlier run left on ${paths.mountDirectory}`);
  await runCommand({ command: 'fusermount3', args: ['-u', '-z', paths.mountDirectory], timeoutMs: COMMAND_TIMEOUT_MS });
}

export async function attachFuse(options: { socketPath: string; exportName: string; runDirectory: string; logger: Logger }): Promise<AttachedDevice> {
  const { logger } = options;
  const paths = fusePaths(options.runDirectory);
  const uri = nbdUnixUri(options);
  logger.info({ uri }, `asking ${options.socketPath} for the size of export "${options.exportName}"`);
  const sizeBytes = await exportSizeBytes(uri);
  await clearStaleFuseMount({ paths, logger });
  await mkdir(paths.mountDirectory, { recursive: true });
  await rm(paths.pidPath, { force: true });
  logger.info({ uri, filePath: paths.filePath, sizeBytes }, `serving export "${options.exportName}" (${sizeBytes} bytes) as the FUSE file ${paths.filePath}`);
  const nbdfuse = startNbdfuse({ filePath: paths.filePath, uri, pidPath: paths.pidPath, logger });
  const stopFuse = async (): Promise<void> => {
    await stopNbdfuse({ nbdfuse, mountDirectory: paths.mountDirectory, logger });
    await rm(paths.pidPath, { force: true });
  };
  const devicePath = await withCleanup(() => startDevice({ nbdfuse, paths, sizeBytes, logger }), stopFuse);
  return {
    devicePath,
    detach: onceUntilSuccess(async () => {
      await detachLoop({ devicePath, logger });
      await stopFuse();
      logger.info({ devicePath }, `detached ${devicePath} and stopped nbdfuse`);
    }),
  };
}

async function startDevice(options: { nbdfuse: NbdfuseProcess; paths: FusePaths; sizeBytes: number; logger: Logger }): Promise<string> {
  await waitForNbdfuse({ nbdfuse: options.nbdfuse, filePath: options.paths.filePath, pidPath: options.paths.pidPath, sizeBytes: options.sizeBytes });
  return attachLoop({ filePath: options.paths.filePath, sizeBytes: options.sizeBytes, logger: options.logger });
}

/** Runs `step`; if it fails, runs `cleanup` and rethrows the step's error (cleanup's is logged by it). */
async function withCleanup<T>(step: () => Promise<T>, cleanup: () => Promise<void>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    await cleanup().catch(() => undefined);
    throw error;
  }
}
