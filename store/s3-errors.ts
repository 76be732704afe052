/**
 * Maps what the AWS SDK throws (service errors with an HTTP status, or raw socket errors) to
 * StoreError. The message names the operation, bucket and key, the S3 error name, status and
 * request id, and the server's message with every credential string redacted: an S3 clone
 * may echo anything back, and messages end up in logs.
 */
import { StoreError, type StoreErrorCode } from './errors.js';

/** Error names S3 and its clones use for "slow down" (AWS S3 error responses; SDK retry classification). */
const THROTTLING_NAMES: ReadonlySet<string> = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
]);

/** Socket-level failures: the service could not be reached or the connection broke. */
const NETWORK_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);

export interface S3ErrorContext {
  /** e.g. `PutObject`. */
  operation: string;
  bucket: string;
  /** The full key in the bucket (prefix included), when the operation had one. */
  bucketKey: string | undefined;
  /** The store-relative key, carried on the StoreError. */
  key: string | undefined;
  /** Strings that must never appear in a message (secret key, session token, access key id). */
  secrets: readonly string[];
}

interface SdkErrorShape {
  name: string;
  message: string;
  errno: string | undefined;
  httpStatus: number | undefined;
  requestId: string | undefined;
}

export function s3StoreError(error: unknown, context: S3ErrorContext): StoreError {
  const shape = sdkErrorShape(error);
  const code = storeCodeFor(shape);
  const subject = context.bucketKey === undefined ? `s3://${context.bucket}` : `s3://${context.bucket}/${context.bucketKey}`;
  const parts = [shape.name];
  if (shape.httpStatus !== undefined) parts.push(`HTTP ${shape.httpStatus}`);
  if (shape.errno !== undefined && shape.errno !== shape.name) parts.push(shape.errno);
  if (shape.requestId !== undefined) parts.push(`request id ${shape.requestId}`);
  const message = redact(`S3 ${context.operation} of ${subject} failed (${parts.join(', ')}): ${shape.message}`, context.secrets);
  return new StoreError(code, message, context.key === undefined ? {} : { key: context.key });
}

/** The HTTP status of an SDK service error, if it has one (416 handling in get needs it). */
export function httpStatusOf(error: unknown): number | undefined {
  return sdkErrorShape(error).httpStatus;
}

function storeCodeFor(shape: SdkErrorShape): StoreErrorCode {
  const { name, httpStatus } = shape;
  if (httpStatus === 412 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict') return 'ERR_STORE_PRECONDITION_FAILED';
  if (name === 'NoSuchBucket') return 'ERR_STORE_BUCKET_NOT_FOUND';
  if (httpStatus === 404 || name === 'NoSuchKey' || name === 'NotFound') return 'ERR_STORE_NOT_FOUND';
  if (httpStatus === 429 || THROTTLING_NAMES.has(name)) return 'ERR_STORE_THROTTLED';
  if (httpStatus === 401 || httpStatus === 403) return 'ERR_STORE_ACCESS_DENIED';
  // S3 answers 400 RequestTimeout when the request body arrives too slowly.
  if (name === 'RequestTimeout' || name === 'TimeoutError' || name === 'AbortError') return 'ERR_STORE_UNAVAILABLE';
  if (httpStatus !== undefined && httpStatus >= 500) return 'ERR_STORE_UNAVAILABLE';
  if (httpStatus === undefined && shape.errno !== undefined && NETWORK_ERRNOS.has(shape.errno)) return 'ERR_STORE_UNAVAILABLE';
  return 'ERR_STORE_FAILED';
}

function sdkErrorShape(error: unknown): SdkErrorShape {
  if (typeof error !== 'object' || error === null) {
    return { name: 'Error', message: String(error), errno: undefined, httpStatus: undefined, requestId: undefined };
  }
  const record = error as Record<string, unknown>;
  const metadata = typeof record['$metadata'] === 'object' && record['$metadata'] !== null ? (record['$metadata'] as Record<string, unknown>) : {};
  const httpStatus = metadata['httpStatusCode'];
  const requestId = metadata['requestId'];
  const errno = record['code'];
  return {
    name: typeof record['name'] === 'string' ? record['name'] : 'Error',
    message: typeof record['message'] === 'string' ? record['message'] : String(error),
    errno: typeof errno === 'string' ? errno : undefined,
    httpStatus: typeof httpStatus === 'number' ? httpStatus : undefined,
    requestId: typeof requestId === 'string' ? requestId : undefined,
  };
}

/** Replaces every occurrence of each secret with a marker. */
export function redact(text: string, secrets: readonly string[]): string {
  let redacted = text;
  for (const secret of secrets) {
    if (secret.length > 0) redacted = redacted.split(secret).join('[REDACTED]');
  }
  return redacted;
}
