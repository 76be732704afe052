/**
 * The rules every backend applies to keys, and the one order keys are listed in.
 *
 * Keys are relative to the store root (the S3 prefix, the file store's directory). They must
 * mean the same thing as an S3 key and as a relative file path, so that a bucket and a
 * directory can be synced either way (DESIGN.md §2, store/).
 */
import { StoreError } from './errors.js';

/** S3's limit on a whole key is 1,024 bytes of UTF-8; a relative key must leave room for the prefix too. */
export const KEY_MAX_BYTES = 1024;

/** In a `u`-mode regular expression a surrogate pair is one code point, so this matches only lone halves. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Throws ERR_STORE_INVALID_KEY unless `key` is non-empty, at most KEY_MAX_BYTES of UTF-8,
 * `/`-separated with no leading `/`, no empty, `.` or `..` segment, no segment starting with
 * `.` (hidden names are reserved for the file store's temporary files), no NUL (not
 * representable as a file name) and no lone surrogate (not representable as UTF-8).
 */
export function validateKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) {
    throw new StoreError('ERR_STORE_INVALID_KEY', `Invalid object key ${JSON.stringify(key)}: ${problem}`, { key });
  }
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  if (LONE_SURROGATE.test(key)) return 'it holds a lone UTF-16 surrogate, which has no UTF-8 form';
  const sizeBytes = Buffer.byteLength(key, 'utf8');
  if (sizeBytes > KEY_MAX_BYTES) return `it is ${sizeBytes} bytes of UTF-8, the limit is ${KEY_MAX_BYTES}`;
  if (key.includes('\0')) return 'it holds a NUL character';
  if (key.startsWith('/')) return 'it starts with "/"';
  for (const segment of key.split('/')) {
    if (segment.length === 0) return 'it has an empty segment';
    if (segment.startsWith('.')) return `segment ${JSON.stringify(segment)} starts with "." (hidden names are reserved)`;
  }
  return undefined;
}

/**
 * Maps a UTF-16 code unit so that comparing mapped units orders strings by code point, which
 * is the order of their UTF-8 bytes, which is the order S3 lists keys in. Surrogates (which
 * encode code points above U+FFFF) move above U+E000..U+FFFF.
 */
function codePointOrderUnit(codeUnit: number): number {
  if (codeUnit >= 0xd800 && codeUnit <= 0xdfff) return codeUnit + 0x2000;
  if (codeUnit >= 0xe000) return codeUnit - 0x800;
  return codeUnit;
}

/** Compares two keys in ascending order of their UTF-8 bytes (S3's ListObjectsV2 order). */
export function compareKeys(left: string, right: string): number {
  const sharedLength = Math.min(left.length, right.length);
  for (let index = 0; index < sharedLength; index++) {
    const leftUnit = left.charCodeAt(index);
    const rightUnit = right.charCodeAt(index);
    if (leftUnit !== rightUnit) return codePointOrderUnit(leftUnit) - codePointOrderUnit(rightUnit);
  }
  return left.length - right.length;
}
