/**
 * Ranged GETs over HTTP (RFC 9110 §14). A server may ignore Range and answer 200 with the
 * whole object (RFC 9110 §14.2), or answer 206 with a different span than asked; the store
 * always returns exactly the requested bytes that exist, located by Content-Range.
 */
import type { ByteRange } from './object-store.js';
import { owned, ownedCopy } from './ranges.js';

/** `bytes=first-last`, both inclusive (RFC 9110 §14.1.2). The caller handles zero-length ranges. */
export function rangeHeader(range: ByteRange): string {
  return `bytes=${range.offsetBytes}-${range.offsetBytes + range.lengthBytes - 1}`;
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/;

export interface RangedBody {
  body: Uint8Array;
  range: ByteRange;
  httpStatus: number | undefined;
  contentRange: string | undefined;
}

export function sliceRangedBody(response: RangedBody): Uint8Array {
  const { body, range } = response;
  const bodyStartBytes = bodyOffsetBytes(response);
  const startBytes = Math.max(0, range.offsetBytes - bodyStartBytes);
  const endBytes = Math.min(body.byteLength, range.offsetBytes + range.lengthBytes - bodyStartBytes);
  if (startBytes === 0 && endBytes === body.byteLength) return owned(body);
  return ownedCopy(body.subarray(startBytes, Math.max(startBytes, endBytes)));
}

/** Where in the object the body starts: 0 for a 200, Content-Range's first byte for a 206. */
function bodyOffsetBytes(response: RangedBody): number {
  if (response.httpStatus === 200) return 0;
  const match = response.contentRange === undefined ? null : CONTENT_RANGE.exec(response.contentRange);
  return match === null ? response.range.offsetBytes : Number(match[1]);
}
