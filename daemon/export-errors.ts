/**
 * Operating errors of `lsvd export` (daemon/export.ts, daemon/export-sinks.ts). The `code` is
 * permanent; the message names the object key or the output path involved.
 */

export type ExportErrorCode =
  /** The output file exists and is not empty, and overwriting it was not asked for. */
  | 'ERR_EXPORT_OUTPUT_EXISTS'
  /** The output is not something an image can be written to (a directory, a device). */
  | 'ERR_EXPORT_OUTPUT_INVALID'
  /** Opening, writing, syncing or closing the output failed (disk full, closed pipe, ...). */
  | 'ERR_EXPORT_OUTPUT_FAILED'
  /** A log object's data is not what its header and the listing promised. */
  | 'ERR_EXPORT_READ_FAILED';

export class ExportError extends Error {
  readonly code: ExportErrorCode;
  /** The log object the error is about, when there is one. */
  readonly objectKey: string | undefined;

  constructor(code: ExportErrorCode, message: string, options?: { objectKey?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ExportError';
    this.code = code;
    this.objectKey = options?.objectKey;
  }
}
