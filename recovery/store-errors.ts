/**
 * How recovery and the engine classify errors thrown by an ObjectStore. Stores throw StoreError with a
 * stable `code` and a `retryable` flag; anything else (a socket reset surfacing raw) is
 * treated as transient.
 */

export function storeErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

export function isPreconditionFailed(error: unknown): boolean {
  return storeErrorCode(error) === 'ERR_STORE_PRECONDITION_FAILED';
}

export function isNotFound(error: unknown): boolean {
  return storeErrorCode(error) === 'ERR_STORE_NOT_FOUND';
}

/** Whether trying the same request again may succeed. */
export function isRetryable(error: unknown): boolean {
  if (typeof error === 'object' && error !== null && 'retryable' in error && typeof error.retryable === 'boolean') {
    return error.retryable;
  }
  return true;
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = storeErrorCode(error);
    return code === undefined ? error.message : `${code}: ${error.message}`;
  }
  return String(error);
}
