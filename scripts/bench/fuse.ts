/**
 * FUSE mounts of the benchmark: nbdfuse exposes an NBD server as a file (the same FUSE path that
 * s3backer's file takes), and both are unmounted with fusermount.
 */

import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { CleanupStack } from './cleanup.js';
import { BenchError } from './errors.js';
import type { StartedProcess } from './processes.js';
import { runCommand, startProcess, stopProcess, waitUntil } from './processes.js';

const MOUNT_TIMEOUT_MS = 30_000;
const UNMOUNT_COMMAND_TIMEOUT_MS = 30_000;

export async function isMountPoint(directory: string): Promise<boolean> {
  const mountInfo = await readFile('/proc/self/mountinfo', 'utf8');
  // proc(5) mountinfo: field 5 is the mount point, with spaces escaped as \040.
  return mountInfo.split('\n').some((line) => line.split(' ')[4]?.replace(/\\040/g, ' ') === directory);
}

export async function fileExists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Unmounts (libfuse 2 and 3 both answer to `fusermount -u`), then waits for the daemon to exit. */
export async function unmountFuse(options: { mountDirectory: string; process: StartedProcess; exitTimeoutMs: number }): Promise<void> {
  if (await isMountPoint(options.mountDirectory)) {
    const result = await runCommand({ command: 'fusermount', args: ['-u', options.mountDirectory], timeoutMs: UNMOUNT_COMMAND_TIMEOUT_MS });
    if (result.exitCode !== 0 && (await isMountPoint(options.mountDirectory))) {
      await runCommand({ command: 'umount', args: ['-l', options.mountDirectory], timeoutMs: UNMOUNT_COMMAND_TIMEOUT_MS });
    }
  }
  await stopProcess(options.process, { signal: 'SIGTERM', timeoutMs: options.exitTimeoutMs }).catch(async (error: unknown) => {
    throw new BenchError('ERR_BENCH_TIMEOUT', `FUSE daemon pid ${options.process.pid}: ${error instanceof Error ? error.message : String(error)}`);
  });
}

export interface FuseFile {
  /** The file to give fio. */
  path: string;
  mountDirectory: string;
  process: StartedProcess;
  unmount(): Promise<void>;
}

/** `nbdfuse MOUNT/nbd --unix SOCKET`: the NBD export as one file. */
export async function mountNbdfuse(options: { socketPath: string; workDirectory: string; name: string; cleanup: CleanupStack }): Promise<FuseFile> {
  const mountDirectory = join(options.workDirectory, `${options.name}-mount`);
  await mkdir(mountDirectory, { recursive: true });
  const path = join(mountDirectory, 'nbd');
  const started = startProcess({
    command: 'nbdfuse',
    args: [path, '--unix', options.socketPath],
    logPath: join(options.workDirectory, `${options.name}-nbdfuse.log`),
  });
  const unmount = (): Promise<void> => unmountFuse({ mountDirectory, process: started, exitTimeoutMs: UNMOUNT_COMMAND_TIMEOUT_MS });
  options.cleanup.defer(`unmount ${mountDirectory}`, unmount);
  try {
    await waitUntil({ what: 'nbdfuse', condition: () => fileExists(path), timeoutMs: MOUNT_TIMEOUT_MS, process: started });
  } catch (error) {
    await stopProcess(started, { signal: 'SIGKILL', timeoutMs: MOUNT_TIMEOUT_MS }).catch(() => undefined);
    throw error;
  }
  return { path, mountDirectory, process: started, unmount };
}
