/**
 * The nbdfuse child: turns an NBD export into one FUSE file. Started detached (its own process
 * group), so a Ctrl-C meant for lsvd does not pull the disk out from under a mounted
 * filesystem; lsvd stops it in order: filesystem, loop device, then FUSE.
 */
import type { Logger } from 'pino';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { describeCommand, failureMessage, lastLines, runCommand } from './command.js';
import { AttachError } from './errors.js';
import { COMMAND_TIMEOUT_MS, FUSE_EXIT_TIMEOUT_MS, FUSE_READY_TIMEOUT_MS, KILL_GRACE_MS, OUTPUT_CAPTURE_MAX_BYTES } from './limits.js';
import { isMountPoint, pathExists, settlesWithin, waitUntil } from './system.js';
import { unmountWithRetry } from './unmount.js';

/** uri.md (NetworkBlockDevice/nbd doc): nbd+unix:///<export>?socket=<path>, both percent-encoded. */
export function nbdUnixUri(options: { socketPath: string; exportName: string }): string {
  return `nbd+unix:///${encodeURIComponent(options.exportName)}?socket=${encodeURIComponent(options.socketPath)}`;
}

export interface NbdfuseProcess {
  readonly commandLine: string;
  /** Set once the process has exited. */
  exit: { exitCode: number | null; signal: NodeJS.Signals | null } | undefined;
  readonly exited: Promise<void>;
  stderrTail(): string[];
  kill(signal: NodeJS.Signals): void;
}

export function startNbdfuse(options: { filePath: string; uri: string; pidPath: string; logger: Logger }): NbdfuseProcess {
  const args = ['-P', options.pidPath, options.filePath, options.uri];
  const child: ChildProcess = spawn('nbdfuse', args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  let stderrText = '';
  // nbdfuse reports a lost connection or a failed request only on stderr: pass it on.
  child.stderr?.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    stderrText = (stderrText + text).slice(-OUTPUT_CAPTURE_MAX_BYTES);
    for (const line of lastLines(text, Number.POSITIVE_INFINITY)) options.logger.warn({ filePath: options.filePath }, `nbdfuse: ${line}`);
  });
  const handle: NbdfuseProcess = {
    commandLine: describeCommand('nbdfuse', args),
    exit: undefined,
    exited: new Promise<void>((resolve) => {
      child.on('error', (error: Error) => {
        stderrText += `\n${error.message}`;
        handle.exit ??= { exitCode: null, signal: null };
        resolve();
      });
      child.on('close', (exitCode: number | null, signal: NodeJS.Signals | null) => {
        handle.exit ??= { exitCode, signal };
        resolve();
      });
    }),
    stderrTail: () => lastLines(stderrText),
    kill: (signal) => {
      if (handle.exit === undefined) child.kill(signal);
    },
  };
  return handle;
}

async function fileHasSize(filePath: string, sizeBytes: number): Promise<boolean> {
  try {
    return (await stat(filePath)).size === sizeBytes;
  } catch {
    return false;
  }
}

/** Ready = nbdfuse wrote its pid file (nbdfuse(1) -P) and the file shows the export's size. */
export async function waitForNbdfuse(options: { nbdfuse: NbdfuseProcess; filePath: string; pidPath: string; sizeBytes: number }): Promise<void> {
  const { nbdfuse } = options;
  const ready = await waitUntil({
    check: async () => nbdfuse.exit !== undefined
      || ((await pathExists(options.pidPath)) && (await fileHasSize(options.filePath, options.sizeBytes))),
    timeoutMs: FUSE_READY_TIMEOUT_MS,
  });
  if (nbdfuse.exit !== undefined) {
    const stderrTail = nbdfuse.stderrTail();
    const ending = nbdfuse.exit.exitCode === null ? 'could not start or died' : `exited with status ${nbdfuse.exit.exitCode}`;
    throw new AttachError('ERR_ATTACH_FUSE_EXITED', failureMessage(nbdfuse.commandLine, ending, stderrTail),
      { command: nbdfuse.commandLine, exitCode: nbdfuse.exit.exitCode, stderrTail });
  }
  if (!ready) {
    const stderrTail = nbdfuse.stderrTail();
    throw new AttachError('ERR_ATTACH_FUSE_TIMEOUT',
      failureMessage(nbdfuse.commandLine, `did not show ${options.filePath} with ${options.sizeBytes} bytes within ${FUSE_READY_TIMEOUT_MS} ms`, stderrTail),
      { command: nbdfuse.commandLine, exitCode: null, stderrTail });
  }
}

/**
 * nbdfuse(1): "you mustn't try to kill nbdfuse. Use fusermount3 -u". Unmount, wait for the exit;
 * only a process that outlives its unmounted FUSE file is signalled.
 */
export async function stopNbdfuse(options: { nbdfuse: NbdfuseProcess; mountDirectory: string; logger: Logger }): Promise<void> {
  const { nbdfuse, mountDirectory, logger } = options;
  logger.info({ mountDirectory }, `unmounting the FUSE file system on ${mountDirectory}`);
  try {
    await unmountWithRetry({ command: 'fusermount3', args: ['-u', mountDirectory], mountPoint: mountDirectory, logger });
  } catch (error) {
    logger.error({ mountDirectory, err: error }, `cannot unmount ${mountDirectory}: leaving nbdfuse running`);
    throw error;
  }
  if (!(await settlesWithin(nbdfuse.exited, FUSE_EXIT_TIMEOUT_MS))) {
    logger.warn({ mountDirectory }, `nbdfuse did not exit within ${FUSE_EXIT_TIMEOUT_MS} ms of the unmount: terminating it`);
    nbdfuse.kill('SIGTERM');
    if (!(await settlesWithin(nbdfuse.exited, KILL_GRACE_MS))) nbdfuse.kill('SIGKILL');
    await nbdfuse.exited;
  }
  // An nbdfuse stopped while still starting may have mounted after the unmount above.
  if (await isMountPoint(mountDirectory)) {
    logger.warn({ mountDirectory }, `nbdfuse is gone but ${mountDirectory} is still mounted: unmounting it lazily`);
    await runCommand({ command: 'fusermount3', args: ['-u', '-z', mountDirectory], timeoutMs: COMMAND_TIMEOUT_MS });
  }
}
