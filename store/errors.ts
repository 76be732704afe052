/**
 * The one error type every ObjectStore backend throws for operating errors (STYLE.md habit 1).
 *
 * `code` statically and permanently identifies the failure; the message may change and names
 * the bucket/directory and key, never credentials. `retryable` says whether the same request
 * may succeed later (throttling, an outage); the engine retries those with backoff.
 */

export type StoreErrorCode =
  | 'ERR_STORE_NOT_FOUND'
  | 'ERR_STORE_PRECONDITION_FAILED'
  | 'ERR_STORE_THROTTLED'
  | 'ERR_STORE_UNAVAILABLE'
  | 'ERR_STORE_ACCESS_DENIED'
  | 'ERR_STORE_BUCKET_NOT_FOUND'
  | 'ERR_STORE_INVALID_KEY'
  | 'ERR_STORE_FAILED';

const RETRYABLE_CODES: ReadonlySet<StoreErrorCode> = new Set<StoreErrorCode>(['ERR_STORE_THROTTLED', 'ERR_STORE_UNAVAILABLE']);

export interface StoreErrorOptions {
  /** The store-relative key the operation was about, when there was one. */
  key?: string;
}

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly key: string | undefined;
  readonly retryable: boolean;

  constructor(code: StoreErrorCode, message: string, options: StoreErrorOptions = {}) {
    super(message);
    this.name = 'StoreError';
    this.code = code;
    this.key = options.key;
    this.retryable = RETRYABLE_CODES.has(code);
  }
}

/** Whether `error` is a StoreError, optionally with the given code. */
export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}
