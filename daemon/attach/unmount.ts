/**
 * Unmounting that survives a moment of EBUSY: a process that just closed a file, the kernel
 * finishing a loop detach. Retries a few times, then reports who said "busy".
 */
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './command.js';
import { AttachError } from './errors.js';
import { COMMAND_TIMEOUT_MS, UNMOUNT_ATTEMPTS_MAX, UNMOUNT_RETRY_DELAY_MS } from './limits.js';
import { isMountPoint } from './system.js';

function saysBusy(error: unknown): error is AttachError {
  return error instanceof AttachError && error.code === 'ERR_ATTACH_COMMAND_FAILED'
    && error.stderrTail.some((line) => /busy/i.test(line));
}

/**
 * Runs `command args` until `mountPoint` is no longer mounted. Nothing mounted is success, so
 * a second call is harmless.
 */
export async function unmountWithRetry(options: {
  command: 'umount' | 'fusermount3';
  args: readonly string[];
  mountPoint: string;
  logger: Logger;
}): Promise<void> {
  let lastBusy: AttachError | undefined;
  for (let attempt = 1; attempt <= UNMOUNT_ATTEMPTS_MAX; attempt += 1) {
    if (!(await isMountPoint(options.mountPoint))) return;
    try {
      await runCommand({ command: options.command, args: options.args, timeoutMs: COMMAND_TIMEOUT_MS });
      return;
    } catch (error) {
      if (!(await isMountPoint(options.mountPoint))) return;
      if (!saysBusy(error)) throw error;
      lastBusy = error;
      options.logger.warn({ mountPoint: options.mountPoint, attempt, attemptsMax: UNMOUNT_ATTEMPTS_MAX },
        `${options.mountPoint} is busy: retrying in ${UNMOUNT_RETRY_DELAY_MS} ms`);
      await sleep(UNMOUNT_RETRY_DELAY_MS);
    }
  }
  throw new AttachError('ERR_ATTACH_UNMOUNT_BUSY',
    `Cannot unmount ${options.mountPoint}: still busy after ${UNMOUNT_ATTEMPTS_MAX} attempts `
    + `(find the holders with "fuser -vm ${options.mountPoint}")`,
    { command: lastBusy?.command ?? options.command, exitCode: lastBusy?.exitCode ?? null, stderrTail: lastBusy?.stderrTail ?? [] });
}
