/**
 * The one error type of the bucket format. The `code` statically and permanently identifies
 * the failure (callers and tests match on it); the message may change and always names the
 * object key, so an operator can find the object in the bucket.
 */

export type LogFormatErrorCode =
  | 'ERR_LOG_HEADER_TRUNCATED'
  | 'ERR_LOG_DATA_LENGTH'
  | 'ERR_LOG_ENTRY_UNALIGNED'
  | 'ERR_LOG_ENTRY_PAST_VOLUME_END'
  | 'ERR_LOG_ENTRY_AFTER_TERMINATOR'
  | 'ERR_LOG_ENTRY_OVERFLOW'
  | 'ERR_KEY_INVALID'
  | 'ERR_DESCRIPTOR_INVALID'
  | 'ERR_ZERO_RANGES_INVALID'
  | 'ERR_LEASE_INVALID';

export interface LogFormatErrorOptions {
  /** The key (relative to the volume prefix) of the object that failed to decode. */
  objectKey?: string | undefined;
  cause?: unknown;
}

export class LogFormatError extends Error {
  readonly code: LogFormatErrorCode;
  readonly objectKey: string | undefined;

  constructor(code: LogFormatErrorCode, message: string, options: LogFormatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LogFormatError';
    this.code = code;
    this.objectKey = options.objectKey;
  }
}

export function isLogFormatError(error: unknown): error is LogFormatError {
  return error instanceof LogFormatError;
}
