/**
 * Byte ranges as every backend serves them: a range that runs past the end returns the bytes
 * that exist, and a range that starts at or past the end returns no bytes (where S3 answers
 * 416 Range Not Satisfiable, the store answers an empty array).
 */
import assert from 'node:assert/strict';
import type { ByteRange } from './object-store.js';

export interface ResolvedRange {
  startBytes: number;
  /** Exclusive. */
  endBytes: number;
}

/** A negative or fractional range is a bug in the caller, not an operating error. */
export function assertValidRange(range: ByteRange): void {
  assert(Number.isSafeInteger(range.offsetBytes) && range.offsetBytes >= 0, `range offset ${range.offsetBytes} is not a byte offset`);
  assert(Number.isSafeInteger(range.lengthBytes) && range.lengthBytes >= 0, `range length ${range.lengthBytes} is not a byte count`);
  assert(Number.isSafeInteger(range.offsetBytes + range.lengthBytes), 'range end overflows');
}

/** The part of an object of `sizeBytes` that `range` (or the whole object) covers. */
export function resolveRange(range: ByteRange | undefined, sizeBytes: number): ResolvedRange {
  if (range === undefined) return { startBytes: 0, endBytes: sizeBytes };
  const startBytes = Math.min(range.offsetBytes, sizeBytes);
  const endBytes = Math.min(range.offsetBytes + range.lengthBytes, sizeBytes);
  return { startBytes, endBytes };
}

/**
 * A copy of `bytes` that owns its whole ArrayBuffer (byteOffset 0), so callers may use
 * `.buffer` freely and never alias a pooled or internal buffer.
 */
export function ownedCopy(bytes: Uint8Array): Uint8Array {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/** `bytes` itself when it already owns its whole ArrayBuffer, else an owned copy. */
export function owned(bytes: Uint8Array): Uint8Array {
  const ownsBuffer = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength && !(bytes.buffer instanceof SharedArrayBuffer);
  return ownsBuffer && bytes.constructor === Uint8Array ? bytes : ownedCopy(bytes);
}
