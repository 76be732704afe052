/**
 * Operating errors of attaching, formatting and mounting. The `code` statically and
 * permanently identifies the failure; the message may change.
 */

export type AttachErrorCode =
  /** The tool is not installed (spawn ENOENT). */
  | 'ERR_ATTACH_COMMAND_NOT_FOUND'
  /** The tool exited with a status it should not have, or died of a signal. */
  | 'ERR_ATTACH_COMMAND_FAILED'
  /** The tool outlived its timeout and was killed. */
  | 'ERR_ATTACH_COMMAND_TIMEOUT'
  /** nbdfuse exited before its file appeared. */
  | 'ERR_ATTACH_FUSE_EXITED'
  /** nbdfuse's file did not appear with the export's size in time. */
  | 'ERR_ATTACH_FUSE_TIMEOUT'
  /** A dead FUSE mount from an earlier run still backs a loop device. */
  | 'ERR_ATTACH_STALE_DEVICE'
  /** A live nbdfuse already serves the run directory. */
  | 'ERR_ATTACH_FUSE_IN_USE'
  /** The device did not come up with the expected size. */
  | 'ERR_ATTACH_DEVICE_SIZE'
  /** blkid found several signatures and cannot say which one is real. */
  | 'ERR_ATTACH_AMBIVALENT_SIGNATURE'
  /** Online resize needs CAP_SYS_RESOURCE, which the process lacks. */
  | 'ERR_ATTACH_RESIZE_NOT_PERMITTED'
  /** umount kept answering "target is busy". */
  | 'ERR_ATTACH_UNMOUNT_BUSY'
  /** A loop device kept its backing file after losetup -d. */
  | 'ERR_ATTACH_LOOP_BUSY';

export interface AttachErrorDetails {
  /** The command line that failed, as run. */
  command?: string;
  /** Its exit status; null when it died of a signal or never ran. */
  exitCode?: number | null;
  /** Its last stderr lines, oldest first. */
  stderrTail?: readonly string[];
}

export class AttachError extends Error {
  readonly code: AttachErrorCode;
  readonly command: string | undefined;
  readonly exitCode: number | null | undefined;
  readonly stderrTail: readonly string[];

  constructor(code: AttachErrorCode, message: string, details: AttachErrorDetails = {}) {
    super(message);
    this.name = 'AttachError';
    this.code = code;
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderrTail = details.stderrTail ?? [];
  }
}
