/**
 * `lsvd run --attach fuse` against s3rver, started through the shared e2e helper
 * (test/e2e/helpers/daemon.ts) and ready once it logs "lsvd is ready".
 */

import { join } from 'node:path';
import type { S3rverInstance } from '../../helpers/s3rver.js';
import { logRecords, startDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { ReliabilityError } from './errors.js';

/** The volume's key prefix in the s3rver bucket. */
export const VOLUME_PREFIX = 'crash/';

export interface FuseVolumePaths {
  socketPath: string;
  runDirectory: string;
  mountPoint: string;
}

export function fuseVolumePaths(directory: string): FuseVolumePaths {
  return { socketPath: join(directory, 'nbd.sock'), runDirectory: join(directory, 'run'), mountPoint: join(directory, 'mnt') };
}

/** "lsvd is ready", or an error/fatal line (pino levels 50 and 60) that means it never will be. */
const READY_OR_FAILED = /lsvd is ready|"level":(50|60)/;

export async function startFuseDaemon(options: {
  s3: S3rverInstance;
  paths: FuseVolumePaths;
  volumeSizeBytes: number;
  /** Mount ext4 (creating it on first use) at paths.mountPoint, or attach only. */
  mount: boolean;
}): Promise<DaemonProcess> {
  const { s3, paths } = options;
  const args = ['run', '--store', `s3://${s3.bucket}/${VOLUME_PREFIX}`, '--endpoint', s3.endpoint, '--size', String(options.volumeSizeBytes),
    '--attach', 'fuse', '--socket', paths.socketPath, '--run-dir', paths.runDirectory,
    ...(options.mount ? ['--mount', paths.mountPoint] : ['--no-mount'])];
  const daemon = await startDaemon({ args, socketPath: paths.socketPath, waitForLog: READY_OR_FAILED });
  if (!/lsvd is ready/.test(daemon.log())) {
    const status = await daemon.stop('SIGTERM');
    throw new ReliabilityError('ERR_RELIABILITY_DAEMON_FAILED', `lsvd ${args.join(' ')} did not become ready (exit status ${String(status)}):\n${daemon.log()}`);
  }
  return daemon;
}

/** The block device the daemon attached, from its "Device operational" line. */
export function devicePathOf(daemon: DaemonProcess): string {
  const record = logRecords(daemon.log()).find((entry) => String(entry['msg']).startsWith('Device operational'));
  const devicePath = record?.['devicePath'];
  if (typeof devicePath !== 'string') throw new ReliabilityError('ERR_RELIABILITY_DAEMON_FAILED', `no "Device operational" line in:\n${daemon.log()}`);
  return devicePath;
}

/** N from "Recovery complete (processed N objects)." */
export function recoveredObjectCount(daemon: DaemonProcess): number | undefined {
  const match = /Recovery complete \(processed (\d+) objects\)/.exec(daemon.log());
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** SIGTERM, and insists on the clean exit (0: every acknowledged write is in the store). */
export async function stopCleanly(daemon: DaemonProcess): Promise<void> {
  const status = await daemon.stop('SIGTERM');
  if (status !== 0) throw new ReliabilityError('ERR_RELIABILITY_DAEMON_FAILED', `lsvd exited with ${String(status)} on SIGTERM:\n${daemon.log().slice(-4000)}`);
}
