/**
 * What a crash round or a fault run can find wrong. The code says which promise was broken
 * (a file lost, fsck unhappy, a hung workload); the message names the files and the seed.
 */

export type ReliabilityErrorCode =
  /** An fsync-acknowledged file is missing, or its bytes differ from what was written. */
  | 'ERR_RELIABILITY_FILE_LOST'
  /** `fsck.ext4 -fn` found something to fix after the journal was replayed. */
  | 'ERR_RELIABILITY_FSCK_DIRTY'
  /** The workload did not stop after the daemon was killed (a filesystem call hung). */
  | 'ERR_RELIABILITY_WORKLOAD_HUNG'
  /** The workload failed before the daemon was killed. */
  | 'ERR_RELIABILITY_WORKLOAD_FAILED'
  /** The kernel side of a dead attachment (mount, loop device, nbdfuse) would not go away. */
  | 'ERR_RELIABILITY_CLEANUP_FAILED'
  /** `lsvd run` did not reach "lsvd is ready", or stopped with a status other than 0. */
  | 'ERR_RELIABILITY_DAEMON_FAILED';

export class ReliabilityError extends Error {
  readonly code: ReliabilityErrorCode;

  constructor(code: ReliabilityErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReliabilityError';
    this.code = code;
  }
}
